//! Reading the RDB's primitives out of the reader's buffer: lengths, strings, doubles.
//!
//! A length prefix takes 1, 2, 5 or 9 bytes: `00LLLLLL` (6 bits), `01LLLLLL LLLLLLLL` (14 bits,
//! big endian), `0x80` + u32 big endian, `0x81` + u64 big endian. `11EEEEEE` instead announces
//! a specially encoded string: `EEEEEE` = 0, 1, 2 for an integer in 1, 2 or 4 bytes (little
//! endian; Redis stores strings like "1234" that way), 3 for LZF (`<clen> <len> <clen bytes>`).
//!
//! Every read either succeeds, reports that the buffer ends first ([`Stop::More`]: the reader
//! then retries the whole unit when more bytes arrive), or reports a format error with its
//! offset. Nothing here allocates: strings are located as ranges and only copied out (or
//! decompressed) by [`Str::bytes`] once the whole unit is known to be there.

use super::error::ErrorKind;
use super::event::StreamId;
use super::lzf;
use bytes::Bytes;
use std::ops::Range;

/// Why a unit could not be parsed: the buffer ends inside it, or the bytes are wrong.
pub(super) enum Stop {
    More,
    Bad(ErrorKind, u64),
}

pub(super) type Res<T> = Result<T, Stop>;

pub(super) fn bad<T>(what: &'static str, at: u64) -> Res<T> {
    Err(Stop::Bad(ErrorKind::Corrupt(what), at))
}

/// An RDB string located in the buffer but not yet copied out: materialising (and, for LZF,
/// decompressing) waits until the whole unit is known to be there.
#[derive(Clone)]
pub(super) enum Str {
    Raw(Range<usize>),
    Int(i64),
    Lzf {
        data: Range<usize>,
        len: u64,
        at: u64,
    },
}

impl Str {
    /// The string's bytes, given the buffer chunk the unit was parsed from.
    pub(super) fn bytes(&self, chunk: &Bytes) -> Res<Bytes> {
        match self {
            Str::Raw(r) => Ok(chunk.slice(r.clone())),
            Str::Int(v) => Ok(Bytes::from(v.to_string())),
            Str::Lzf { data, len, at } => match lzf::decompress(&chunk[data.clone()], *len) {
                Ok(v) => Ok(Bytes::from(v)),
                Err(e) => bad(e.as_str(), *at),
            },
        }
    }

    pub(super) fn is_lzf(&self) -> bool {
        matches!(self, Str::Lzf { .. })
    }
}

/// A read position in the buffer for one unit.
pub(super) struct Cur<'a> {
    pub(super) d: &'a [u8],
    pub(super) p: usize,
    pub(super) base: u64,
}

impl Cur<'_> {
    pub(super) fn at(&self) -> u64 {
        self.base + self.p as u64
    }

    pub(super) fn take(&mut self, n: usize) -> Res<Range<usize>> {
        if self.d.len() - self.p < n {
            return Err(Stop::More);
        }
        let r = self.p..self.p + n;
        self.p += n;
        Ok(r)
    }

    pub(super) fn u8(&mut self) -> Res<u8> {
        let r = self.take(1)?;
        Ok(self.d[r.start])
    }

    pub(super) fn arr<const N: usize>(&mut self) -> Res<[u8; N]> {
        let r = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(&self.d[r]);
        Ok(a)
    }

    /// A length prefix (`rdbLoadLenByRef`): `00LLLLLL`, `01LLLLLL LLLLLLLL`, `0x80` + u32 BE,
    /// `0x81` + u64 BE, or `11EEEEEE`, a special string encoding (the bool).
    pub(super) fn len_or_enc(&mut self) -> Res<(u64, bool)> {
        let at = self.at();
        let b = self.u8()?;
        match b >> 6 {
            0 => Ok((u64::from(b & 0x3f), false)),
            1 => {
                let lo = self.u8()?;
                Ok(((u64::from(b & 0x3f) << 8) | u64::from(lo), false))
            }
            3 => Ok((u64::from(b & 0x3f), true)),
            _ => match b {
                0x80 => Ok((u64::from(u32::from_be_bytes(self.arr()?)), false)),
                0x81 => Ok((u64::from_be_bytes(self.arr()?), false)),
                _ => Err(Stop::Bad(ErrorKind::BadLength(b), at)),
            },
        }
    }

    /// A plain length. (Redis would read a `11xxxxxx` byte here as the length `xxxxxx`; no
    /// writer produces that, so it is reported as corruption.)
    pub(super) fn len(&mut self) -> Res<u64> {
        let at = self.at();
        match self.len_or_enc()? {
            (n, false) => Ok(n),
            (n, true) => Err(Stop::Bad(ErrorKind::BadLength(0xC0 | n as u8), at)),
        }
    }

    /// An RDB string: raw bytes, an integer stored in 1/2/4 bytes, or LZF.
    pub(super) fn string(&mut self) -> Res<Str> {
        let at = self.at();
        let (n, enc) = self.len_or_enc()?;
        if !enc {
            let n = usize::try_from(n).map_err(|_| Stop::Bad(ErrorKind::TooLarge(n), at))?;
            return Ok(Str::Raw(self.take(n)?));
        }
        match n {
            0 => Ok(Str::Int(i64::from(self.u8()? as i8))),
            1 => Ok(Str::Int(i64::from(i16::from_le_bytes(self.arr()?)))),
            2 => Ok(Str::Int(i64::from(i32::from_le_bytes(self.arr()?)))),
            3 => {
                let clen = self.len()?;
                let len = self.len()?;
                // Refuse at once what no compressed data of that size can expand to, before
                // waiting for (or allocating) anything.
                if len > clen.saturating_mul(lzf::MAX_EXPANSION) {
                    return bad(lzf::LzfError::Impossible.as_str(), at);
                }
                let c =
                    usize::try_from(clen).map_err(|_| Stop::Bad(ErrorKind::TooLarge(clen), at))?;
                let data = self.take(c)?;
                Ok(Str::Lzf { data, len, at })
            }
            x => Err(Stop::Bad(ErrorKind::BadStringEncoding(x as u8), at)),
        }
    }

    /// A score of RDB type 3: one length byte and ASCII, with 253/254/255 = nan/+inf/-inf.
    pub(super) fn text_double(&mut self) -> Res<f64> {
        let at = self.at();
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let r = self.take(usize::from(n))?;
                match std::str::from_utf8(&self.d[r]).ok().and_then(parse_double) {
                    Some(v) => Ok(v),
                    None => bad("bad double value", at),
                }
            }
        }
    }

    pub(super) fn u64_le(&mut self) -> Res<u64> {
        Ok(u64::from_le_bytes(self.arr()?))
    }

    pub(super) fn stream_id(&mut self) -> Res<StreamId> {
        Ok(StreamId {
            ms: self.len()?,
            seq: self.len()?,
        })
    }
}

/// Parses a score written as text (`strtod` in Redis: also accepts "inf", "-inf", "nan").
pub(super) fn parse_double(s: &str) -> Option<f64> {
    s.trim_start().parse::<f64>().ok()
}

/// How an RDB string is stored, as read from its first bytes. Layout views use this to split
/// a span the reader reported into its length prefix and payload without decoding the file a
/// second way (the same cursor reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringForm {
    /// A length prefix and that many bytes.
    Raw { len: u64 },
    /// `11000000`/`01`/`10`: an integer in 1, 2 or 4 little-endian bytes.
    Int { width: u8, value: i64 },
    /// `11000011 <clen> <len>`: LZF data of `clen` bytes expanding to `len`.
    Lzf { clen: u64, len: u64 },
}

/// Reads the header of the RDB string starting at `b[0]`: its form and the size of the header
/// (for `Int`, of the whole string). `None` if `b` ends first or the header is invalid.
pub fn string_form(b: &[u8]) -> Option<(StringForm, usize)> {
    let mut c = Cur {
        d: b,
        p: 0,
        base: 0,
    };
    let (n, enc) = c.len_or_enc().ok()?;
    let form = match (n, enc) {
        (len, false) => StringForm::Raw { len },
        (0, true) => StringForm::Int {
            width: 1,
            value: i64::from(c.u8().ok()? as i8),
        },
        (1, true) => StringForm::Int {
            width: 2,
            value: i64::from(i16::from_le_bytes(c.arr().ok()?)),
        },
        (2, true) => StringForm::Int {
            width: 4,
            value: i64::from(i32::from_le_bytes(c.arr().ok()?)),
        },
        (3, true) => {
            let clen = c.len().ok()?;
            let len = c.len().ok()?;
            StringForm::Lzf { clen, len }
        }
        _ => return None,
    };
    Some((form, c.p))
}

/// Reads a length prefix at `b[0]`: its value and its size in bytes (1, 2, 5 or 9).
pub fn length_prefix(b: &[u8]) -> Option<(u64, usize)> {
    let mut c = Cur {
        d: b,
        p: 0,
        base: 0,
    };
    let n = c.len().ok()?;
    Some((n, c.p))
}
