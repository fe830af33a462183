//! LZF decompression, written for untrusted input.
//!
//! Redis compresses strings longer than 20 bytes with LZF when `rdbcompression yes` and the
//! result is smaller. The stored form is `11000011 <clen> <len> <clen bytes>`. LZF is a
//! stream of two instructions:
//!
//! - `000LLLLL` + `L+1` literal bytes: copy them;
//! - `LLLOOOOO [LLLLLLLL] OOOOOOOO`: copy `L+2` bytes starting `O+1` bytes back in the output
//!   (`L == 7` means the length continues in an extra byte). The copy may overlap itself,
//!   which is how LZF encodes runs.
//!
//! The output length is a field of the file, so it is checked against what the compressed
//! bytes could possibly produce before anything is allocated: the longest back reference is 3
//! bytes producing 264, so no LZF stream expands more than 88 times.

/// The most output one input byte can produce (a 3-byte reference copying 7+255+2 bytes).
pub const MAX_EXPANSION: u64 = 88;

/// Why a blob is not valid LZF for the announced length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LzfError {
    /// The announced length is more than the input could produce.
    Impossible,
    /// An instruction needs bytes after the end of the input.
    TruncatedInput,
    /// The output would exceed the announced length.
    OutputOverflow,
    /// A back reference points before the start of the output.
    BadReference,
    /// The input ended before producing the announced length.
    ShortOutput,
}

impl LzfError {
    pub fn as_str(self) -> &'static str {
        match self {
            LzfError::Impossible => "LZF length is more than the compressed bytes can hold",
            LzfError::TruncatedInput => "LZF data ends inside an instruction",
            LzfError::OutputOverflow => "LZF data expands past its announced length",
            LzfError::BadReference => "LZF back reference points before the start",
            LzfError::ShortOutput => "LZF data is shorter than its announced length",
        }
    }
}

/// Decompresses `input`, which must expand to exactly `len` bytes (Redis rejects any other
/// result with "Invalid LZF compressed string").
pub fn decompress(input: &[u8], len: u64) -> Result<Vec<u8>, LzfError> {
    if len > (input.len() as u64).saturating_mul(MAX_EXPANSION) {
        return Err(LzfError::Impossible);
    }
    let len = usize::try_from(len).map_err(|_| LzfError::Impossible)?;
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run).ok_or(LzfError::TruncatedInput)?;
            if out.len() + run > len {
                return Err(LzfError::OutputOverflow);
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut run = ctrl >> 5;
            if run == 7 {
                run += usize::from(*input.get(ip).ok_or(LzfError::TruncatedInput)?);
                ip += 1;
            }
            let low = usize::from(*input.get(ip).ok_or(LzfError::TruncatedInput)?);
            ip += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            run += 2;
            if back > out.len() {
                return Err(LzfError::BadReference);
            }
            if out.len() + run > len {
                return Err(LzfError::OutputOverflow);
            }
            let from = out.len() - back;
            if back >= run {
                // No overlap: one bulk copy.
                out.extend_from_within(from..from + run);
            } else {
                // The reference overlaps what it produces: the output repeats the `back` bytes
                // at `from`. Copying what is already repeated doubles the pattern each time,
                // so a run of zeros costs a few copies instead of one push per byte.
                let mut left = run;
                while left > 0 {
                    let n = left.min(out.len() - from);
                    out.extend_from_within(from..from + n);
                    left -= n;
                }
            }
        }
    }
    if out.len() != len {
        return Err(LzfError::ShortOutput);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_overlapping_references() {
        // "abc" literal, then copy 6 bytes from 3 back: "abcabcabc".
        let data = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&data, 9).unwrap(), b"abcabcabc");
        // A run of one byte: "a" then copy 8 from 1 back.
        let data = [0, b'a', (6 << 5), 0];
        assert_eq!(decompress(&data, 9).unwrap(), b"aaaaaaaaa");
        // Long form: L=7 plus extra byte 10 -> copy 19.
        let data = [0, b'x', (7 << 5), 10, 0];
        assert_eq!(decompress(&data, 20).unwrap(), vec![b'x'; 20]);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(decompress(&[5, b'a'], 6), Err(LzfError::TruncatedInput));
        assert_eq!(decompress(&[(1 << 5), 0], 3), Err(LzfError::BadReference));
        assert_eq!(decompress(&[0, b'a'], 2), Err(LzfError::ShortOutput));
        assert_eq!(
            decompress(&[1, b'a', b'b'], 1),
            Err(LzfError::OutputOverflow)
        );
        assert_eq!(decompress(&[0, b'a'], 1 << 40), Err(LzfError::Impossible));
    }

    #[test]
    fn agrees_with_the_lzf_crate() {
        let text: Vec<u8> = b"hello hello hello world, this is a test of the lzf decompressor "
            .iter()
            .cycle()
            .take(5000)
            .copied()
            .collect();
        let packed = lzf::compress(&text).unwrap();
        assert_eq!(decompress(&packed, text.len() as u64).unwrap(), text);
    }
}
