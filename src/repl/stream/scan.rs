//! Finding where a reply frame ends before decoding it.
//!
//! `resp::frame::decode` parses from the start of its buffer on every call, and the
//! `redis-protocol` crate underneath may reserve room for an aggregate's announced element
//! count. Both are fine for a frame that is already complete, and neither is fine for bytes a
//! peer is still sending: re-parsing a growing 20 MB `KEYS *` reply on every 64 KiB read is
//! quadratic, and `*2147483647\r\n` must never turn into a big allocation. So the link
//! decoder first walks the frame's *skeleton* with this small resumable scanner — type bytes,
//! header lines, bulk lengths, element counts, nothing stored — and only hands the slice to
//! the real decoder once every byte of it is there. An announced length is then bounded by
//! bytes that really arrived.
//!
//! The scanner is stricter than `redis-protocol` in one place that matters on a replication
//! link: a bulk payload must be followed by CRLF (the crate does not check, which is how the
//! `$<len>` RDB transfer, sent without a CRLF, could swallow two bytes of the next command).

/// Longest header or simple line (`+...`, `-...`, `:...`) accepted. Redis's own replies are
/// short; a peer sending an endless line is stopped here instead of being buffered forever.
pub const MAX_LINE: usize = 1024 * 1024;

/// Deepest nesting of aggregates accepted. Redis 7.0's deepest replies (`COMMAND DOCS`,
/// `XINFO STREAM FULL`) nest well under 10; the limit keeps a hostile `*1\r\n*1\r\n...`
/// from driving the recursive frame decoder into a stack overflow.
pub const MAX_DEPTH: usize = 64;

/// Where the scan of the current frame stands: the position of the next unscanned element
/// (relative to the frame's first byte) and how many elements each open aggregate still
/// expects. Kept between calls, so bytes already walked are never walked again.
#[derive(Debug, Default, Clone)]
pub struct FrameScan {
    pos: usize,
    open: Vec<u64>,
}

impl FrameScan {
    /// Forget the current frame (after it was consumed).
    pub fn reset(&mut self) {
        self.pos = 0;
        self.open.clear();
    }

    /// Continue scanning the frame that starts at `buf[0]`: `Ok(Some(len))` when it is
    /// complete, `Ok(None)` when more bytes are needed, or a description of what is wrong.
    pub fn advance(&mut self, buf: &[u8]) -> Result<Option<usize>, String> {
        loop {
            let Some(nl) = find_line_end(buf, self.pos)? else {
                return Ok(None);
            };
            let kind = buf[self.pos];
            let line = &buf[self.pos + 1..nl - 1];
            let after = nl + 1;
            match kind {
                // One-line types: simple string, error, integer, null, double, boolean, big
                // number (the last four are RESP3).
                b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {
                    self.pos = after;
                }
                // Length-prefixed: bulk string, blob error, verbatim string.
                b'$' | b'!' | b'=' => {
                    let n = parse_len(line).ok_or_else(|| bad_header(kind, line))?;
                    if n < 0 {
                        if kind != b'$' || n != -1 {
                            return Err(bad_header(kind, line));
                        }
                        self.pos = after;
                    } else {
                        let end = (after as u64)
                            .checked_add(n as u64)
                            .and_then(|e| e.checked_add(2))
                            .ok_or_else(|| bad_header(kind, line))?;
                        if (buf.len() as u64) < end {
                            return Ok(None);
                        }
                        let end = end as usize;
                        if &buf[end - 2..end] != b"\r\n" {
                            return Err(format!("bulk payload of {n} bytes not followed by CRLF"));
                        }
                        self.pos = end;
                    }
                }
                // Aggregates: array, set, push (n elements); map (n pairs).
                b'*' | b'~' | b'>' | b'%' => {
                    let n = parse_len(line).ok_or_else(|| bad_header(kind, line))?;
                    self.pos = after;
                    if n < 0 {
                        if kind != b'*' || n != -1 {
                            return Err(bad_header(kind, line));
                        }
                    } else {
                        let elems = if kind == b'%' {
                            (n as u64)
                                .checked_mul(2)
                                .ok_or_else(|| bad_header(kind, line))?
                        } else {
                            n as u64
                        };
                        if elems > 0 {
                            if self.open.len() >= MAX_DEPTH {
                                return Err(format!(
                                    "aggregates nested deeper than {MAX_DEPTH} levels"
                                ));
                            }
                            self.open.push(elems);
                            continue;
                        }
                    }
                }
                b'|' => return Err("RESP3 attributes are not supported".into()),
                other => {
                    return Err(format!(
                        "unknown reply type byte {}",
                        crate::rdb::error::Escaped(&[other])
                    ));
                }
            }
            // An element ended: close every aggregate it completes.
            loop {
                match self.open.last_mut() {
                    None => return Ok(Some(self.pos)),
                    Some(left) => {
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        self.open.pop();
                    }
                }
            }
        }
    }
}

/// The index of the `\n` ending the line that starts at `pos`, checking the `\r` before it.
fn find_line_end(buf: &[u8], pos: usize) -> Result<Option<usize>, String> {
    match memchr::memchr(b'\n', &buf[pos..]) {
        None if buf.len() - pos > MAX_LINE => Err(format!("line longer than {MAX_LINE} bytes")),
        None => Ok(None),
        Some(i) if i < 2 || buf[pos + i - 1] != b'\r' => {
            Err("reply line not ended by CRLF".to_string())
        }
        Some(i) => Ok(Some(pos + i)),
    }
}

/// A decimal length or count, as RESP writes them (an optional `-`, digits).
fn parse_len(s: &[u8]) -> Option<i64> {
    crate::resp::request::parse_i64(s)
}

fn bad_header(kind: u8, line: &[u8]) -> String {
    format!(
        "bad length in '{}{}'",
        kind as char,
        crate::rdb::error::Escaped(line)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(b: &[u8]) -> Result<Option<usize>, String> {
        FrameScan::default().advance(b)
    }

    #[test]
    fn frames() {
        assert_eq!(scan(b"+OK\r\nrest"), Ok(Some(5)));
        assert_eq!(scan(b"$3\r\nabc\r\n"), Ok(Some(9)));
        assert_eq!(scan(b"$-1\r\n"), Ok(Some(5)));
        assert_eq!(scan(b"*-1\r\n"), Ok(Some(5)));
        assert_eq!(scan(b"*0\r\n"), Ok(Some(4)));
        assert_eq!(scan(b"*2\r\n$1\r\na\r\n:1\r\nx"), Ok(Some(15)));
        assert_eq!(scan(b"%1\r\n+a\r\n*1\r\n_\r\n"), Ok(Some(15)));
        assert_eq!(scan(b">2\r\n$1\r\na\r\n*0\r\n"), Ok(Some(15)));
        assert_eq!(scan(b"*2\r\n$1\r\na\r\n"), Ok(None));
        assert_eq!(scan(b"$3\r\nab"), Ok(None));
        assert_eq!(scan(b"*2147483647\r\n:1\r\n"), Ok(None));
        assert!(scan(b"$3\r\nabcde").is_err());
        assert!(scan(b"+OK\n").is_err());
        assert!(scan(b"$-2\r\n").is_err());
        assert!(scan(b"?x\r\n").is_err());
        assert!(scan(b"$99999999999999999999\r\n").is_err());
        assert!(scan(&b"*1\r\n".repeat(MAX_DEPTH + 1)).is_err());
    }

    #[test]
    fn resumes_where_it_stopped() {
        let frame = b"*3\r\n$3\r\nfoo\r\n%1\r\n+k\r\n:2\r\n~1\r\n,1.5\r\n";
        let mut s = FrameScan::default();
        for end in 0..frame.len() {
            assert_eq!(s.advance(&frame[..end]), Ok(None), "at {end}");
        }
        assert_eq!(s.advance(frame), Ok(Some(frame.len())));
    }
}
