//! Parsing client requests the way Redis's `processInputBuffer` does.
//!
//! A request is either **multibulk** (`*<argc>\r\n` then `argc` times `$<len>\r\n<bytes>\r\n`),
//! which is what every client library sends, or **inline** (a line of text split like a shell
//! would), which is what a person typing into `nc` or `telnet` sends. Redis tells them apart by
//! the first byte: `*` means multibulk, anything else inline.
//!
//! The parser is *sans-IO*: it looks at a buffer and says "here is one command and it used N
//! bytes", "I need more bytes", or "this is a protocol error" (after which Redis replies the
//! error and closes the connection). It never allocates by a length read from the wire: a
//! `$1000000000` header just means "need more" until the bytes are really there, and the
//! connection's query-buffer limit decides when enough is enough.
//!
//! Two quirks of Redis kept on purpose, because the reference is Redis and not the RESP spec:
//! the two bytes after a bulk payload are skipped without being checked, and a multibulk
//! count `<= 0` is an empty request that is silently skipped.

use smallvec::SmallVec;

/// Longest inline line, and longest `*<n>` / `$<n>` header line, Redis accepts
/// (`PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;

/// Limits that depend on configuration and on the connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `proto-max-bulk-len` (default 512 MB).
    pub max_bulk_len: i64,
    /// Whether the connection still has to authenticate: Redis then refuses more than 10
    /// arguments and bulks over 16 KiB, so an unauthenticated peer cannot make it buffer much.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// A protocol error, with the text Redis replies (`-ERR Protocol error: ...`) before it closes
/// the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCount,
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    #[error("Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

/// One parsed multibulk request: its arguments borrow from the input buffer, so parsing
/// copies nothing (up to 8 arguments live on the stack).
#[derive(Debug, Default)]
pub struct Request<'a> {
    pub args: SmallVec<[&'a [u8]; 8]>,
}

/// What [`parse_request`] found at the start of the buffer.
#[derive(Debug)]
pub enum Parsed<'a> {
    /// A command (possibly empty: an empty inline line or `*0`), and the bytes it used.
    Command(Request<'a>, usize),
    /// An inline command: its arguments had to be unescaped, so they are owned.
    Inline(Vec<Vec<u8>>, usize),
    /// Not enough bytes yet.
    Incomplete,
}

/// Parse one request from the start of `buf`.
pub fn parse_request<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ProtocolError> {
    match buf.first() {
        None => Ok(Parsed::Incomplete),
        Some(b'*') => parse_multibulk(buf, limits),
        Some(_) => parse_inline(buf),
    }
}

fn parse_inline(buf: &[u8]) -> Result<Parsed<'_>, ProtocolError> {
    // Redis looks for the newline with `strchr`, which stops at a NUL byte: a NUL before the
    // newline makes the line look unfinished until the 64 KiB limit. Same here.
    let nl = match memchr::memchr2(b'\n', 0, buf) {
        Some(i) if buf[i] == b'\n' => Some(i),
        _ => None,
    };
    let Some(nl) = nl else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(Parsed::Incomplete);
    };
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let args = super::split::split_args(line).map_err(|_| ProtocolError::UnbalancedQuotes)?;
    Ok(Parsed::Inline(args, nl + 1))
}

/// Find the `\r` that ends a header line starting at `pos`, Redis style: the line must be
/// followed by `\n` too, and a header longer than 64 KiB is an error of the given kind.
fn header_end(
    buf: &[u8],
    pos: usize,
    too_big: ProtocolError,
) -> Result<Option<usize>, ProtocolError> {
    match memchr::memchr(b'\r', &buf[pos..]) {
        None => {
            if buf.len() - pos > INLINE_MAX_SIZE {
                Err(too_big)
            } else {
                Ok(None)
            }
        }
        Some(off) => {
            let cr = pos + off;
            if cr + 1 >= buf.len() {
                // The `\n` has not arrived yet.
                Ok(None)
            } else {
                Ok(Some(cr))
            }
        }
    }
}

fn parse_multibulk<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ProtocolError> {
    let Some(cr) = header_end(buf, 0, ProtocolError::TooBigMbulkCount)? else {
        return Ok(Parsed::Incomplete);
    };
    let count = match parse_i64(&buf[1..cr]) {
        Some(n) if n <= i32::MAX as i64 => n,
        _ => return Err(ProtocolError::InvalidMultibulkLength),
    };
    if count > 10 && limits.unauthenticated {
        return Err(ProtocolError::UnauthenticatedMultibulkLength);
    }
    let mut pos = cr + 2;
    let mut req = Request::default();
    if count <= 0 {
        return Ok(Parsed::Command(req, pos));
    }
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(Parsed::Incomplete);
        }
        let Some(cr) = header_end(buf, pos, ProtocolError::TooBigBulkCount)? else {
            return Ok(Parsed::Incomplete);
        };
        if buf[pos] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[pos]));
        }
        let len = match parse_i64(&buf[pos + 1..cr]) {
            Some(n) if n >= 0 && n <= limits.max_bulk_len => n as usize,
            _ => return Err(ProtocolError::InvalidBulkLength),
        };
        if limits.unauthenticated && len > 16384 {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        let start = cr + 2;
        // Redis needs the payload and two more bytes (the CRLF, which it does not check).
        if buf.len() < start + len + 2 {
            return Ok(Parsed::Incomplete);
        }
        req.args.push(&buf[start..start + len]);
        pos = start + len + 2;
    }
    Ok(Parsed::Command(req, pos))
}

/// Redis's `string2ll`: an optional `-`, digits, no spaces, no `+`, no leading zeros
/// (except "0" itself), no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &[u8]) -> Result<(Vec<Vec<u8>>, usize), ProtocolError> {
        match parse_request(input, &Limits::default())? {
            Parsed::Command(r, n) => Ok((r.args.iter().map(|a| a.to_vec()).collect(), n)),
            Parsed::Inline(a, n) => Ok((a, n)),
            Parsed::Incomplete => Ok((vec![], 0)),
        }
    }

    #[test]
    fn multibulk_and_inline() {
        let (a, n) = one(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nrest").unwrap();
        assert_eq!(a, vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(n, 20);
        let (a, n) = one(b"set k \"a b\"\r\n").unwrap();
        assert_eq!(a, vec![b"set".to_vec(), b"k".to_vec(), b"a b".to_vec()]);
        assert_eq!(n, 13);
        assert_eq!(one(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r").unwrap().1, 0);
    }

    #[test]
    fn errors_have_redis_texts() {
        assert_eq!(
            one(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n")
                .unwrap_err()
                .to_string(),
            "Protocol error: expected '$', got 'f'"
        );
        assert_eq!(
            one(b"*abc\r\n").unwrap_err(),
            ProtocolError::InvalidMultibulkLength
        );
        assert_eq!(
            one(b"*1\r\n$-5\r\n").unwrap_err(),
            ProtocolError::InvalidBulkLength
        );
        assert_eq!(
            one(b"*1\r\n$536870913\r\n").unwrap_err(),
            ProtocolError::InvalidBulkLength
        );
        assert_eq!(
            one(b"SET \"a b\r\n").unwrap_err(),
            ProtocolError::UnbalancedQuotes
        );
        assert_eq!(
            one(&vec![b'a'; INLINE_MAX_SIZE + 1]).unwrap_err(),
            ProtocolError::TooBigInline
        );
    }

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b" 1"), None);
    }

    proptest::proptest! {
        /// Total: any bytes give a command, "need more" or an error, never a panic; and a
        /// command never claims more bytes than were given.
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if let Ok(Parsed::Command(_, n)) | Ok(Parsed::Inline(_, n)) = parse_request(&data, &Limits::default()) {
                proptest::prop_assert!(n <= data.len());
            }
        }

        /// Splitting a valid request at any point gives "need more" before the end and the
        /// same command at the end.
        #[test]
        fn split_anywhere(args in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..20), 1..5), cut in 0usize..100) {
            let mut wire = format!("*{}\r\n", args.len()).into_bytes();
            for a in &args {
                wire.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                wire.extend_from_slice(a);
                wire.extend_from_slice(b"\r\n");
            }
            let cut = cut % wire.len();
            proptest::prop_assert!(matches!(parse_request(&wire[..cut], &Limits::default()), Ok(Parsed::Incomplete)));
            match parse_request(&wire, &Limits::default()) {
                Ok(Parsed::Command(r, n)) => {
                    proptest::prop_assert_eq!(n, wire.len());
                    let got: Vec<Vec<u8>> = r.args.iter().map(|a| a.to_vec()).collect();
                    proptest::prop_assert_eq!(got, args);
                }
                other => proptest::prop_assert!(false, "{:?}", other),
            }
        }
    }
}
