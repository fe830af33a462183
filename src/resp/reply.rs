//! Writing replies, in the RESP version the connection chose with `HELLO` (2 by default).
//!
//! A [`Reply`] is an output buffer. Commands append to it; the connection writes the whole
//! buffer with one syscall after a batch of pipelined commands. RESP3 adds types (maps, sets,
//! doubles, null, booleans, pushes); on a RESP2 connection each one degrades the way Redis's
//! `addReply*` functions degrade it (a map becomes a flat array, a double a bulk string, null
//! `$-1` or `*-1`).

use bytes::{BufMut, BytesMut};

/// An output buffer that knows the connection's protocol version.
#[derive(Debug, Default)]
pub struct Reply {
    pub buf: BytesMut,
    pub resp3: bool,
}

impl Reply {
    pub fn new(resp3: bool) -> Self {
        Reply {
            buf: BytesMut::with_capacity(16 * 1024),
            resp3,
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// A status reply: `+<s>`.
    pub fn simple(&mut self, s: &str) {
        self.buf.put_u8(b'+');
        self.buf.put_slice(s.as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// An error reply. Like Redis's `addReplyError`, a message not starting with an error
    /// code gets `ERR ` in front: `err("syntax error")` sends `-ERR syntax error`, while
    /// `err("-WRONGTYPE ...")` sends the code as given.
    pub fn err(&mut self, msg: &str) {
        if let Some(rest) = msg.strip_prefix('-') {
            self.buf.put_u8(b'-');
            self.buf.put_slice(rest.as_bytes());
        } else {
            self.buf.put_slice(b"-ERR ");
            self.buf.put_slice(msg.as_bytes());
        }
        self.buf.put_slice(b"\r\n");
    }

    /// An integer reply `:<n>`.
    pub fn int(&mut self, n: i64) {
        self.buf.put_u8(b':');
        self.put_decimal(n);
        self.buf.put_slice(b"\r\n");
    }

    fn put_decimal(&mut self, n: i64) {
        let mut tmp = itoa_buf();
        let s = fmt_i64(n, &mut tmp);
        self.buf.put_slice(s);
    }

    fn header(&mut self, prefix: u8, n: usize) {
        self.buf.put_u8(prefix);
        self.put_decimal(n as i64);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string `$<len>\r\n<bytes>\r\n`.
    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len());
        self.buf.put_slice(b);
        self.buf.put_slice(b"\r\n");
    }

    /// An integer sent as a bulk string (what `GET` of an int-encoded string returns).
    pub fn bulk_int(&mut self, n: i64) {
        let mut tmp = itoa_buf();
        let s = fmt_i64(n, &mut tmp);
        let s: &[u8] = s;
        let s = s.to_vec();
        self.bulk(&s);
    }

    /// The null bulk string: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"$-1\r\n");
        }
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3 (BLPOP's timeout, EXEC after a failed WATCH).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// A map of `n` pairs: `%n` in RESP3, an array of `2n` in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n);
        } else {
            self.header(b'*', 2 * n);
        }
    }

    /// A set: `~n` in RESP3, an array in RESP2.
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n);
    }

    /// A push message (pub/sub): `>n` in RESP3, an array in RESP2.
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n);
    }

    /// A double: `,<d>` in RESP3, a bulk string in RESP2, formatted like Redis 7.0's
    /// `addReplyDouble` (`%.17g`, `inf`, `-inf`).
    pub fn double(&mut self, d: f64) {
        let s = fmt_double(d);
        if self.resp3 {
            self.buf.put_u8(b',');
            self.buf.put_slice(s.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// Verbatim text (`INFO`, `CLIENT LIST`): `=<len>\r\ntxt:...` in RESP3, a bulk in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() + 4);
            self.buf.put_slice(b"txt:");
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Bytes that are already RESP.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.put_slice(b);
    }

    /// Start an aggregate whose length is not known yet (Redis's `addReplyDeferredLen`).
    /// Returns a mark for [`Reply::set_deferred`].
    pub fn deferred(&mut self) -> usize {
        self.buf.len()
    }

    /// Write the header of an aggregate started with [`Reply::deferred`]: `prefix` is `*`, `%`
    /// (`n` pairs) or `~`, degraded for RESP2 like the direct forms.
    pub fn set_deferred(&mut self, mark: usize, prefix: u8, n: usize) {
        let (p, n) = match (prefix, self.resp3) {
            (b'%', false) => (b'*', 2 * n),
            (b'~', false) => (b'*', n),
            _ => (prefix, n),
        };
        let mut h = vec![p];
        h.extend_from_slice(n.to_string().as_bytes());
        h.extend_from_slice(b"\r\n");
        let tail = self.buf.split_off(mark);
        self.buf.put_slice(&h);
        self.buf.unsplit(tail);
    }
}

type ItoaBuf = [u8; 20];

fn itoa_buf() -> ItoaBuf {
    [0u8; 20]
}

/// Format an i64 into a stack buffer without allocating.
pub fn fmt_i64(n: i64, buf: &mut ItoaBuf) -> &[u8] {
    let mut i = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// C's `printf("%.17g", d)`, which Redis 7.0 uses for doubles in replies (ZSCORE, ZINCRBY...):
/// 17 significant digits, trailing zeros removed, exponent form below 1e-4 or from 1e17.
pub fn fmt_double(d: f64) -> String {
    fmt_g(d, 17)
}

/// C's `%.<prec>g`.
pub fn fmt_g(d: f64, prec: usize) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let p = prec.max(1);
    // Scientific form with p significant digits tells us the decimal exponent after rounding.
    let sci = format!("{:.*e}", p - 1, d);
    let (mant, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    if exp < -4 || exp >= p as i32 {
        let mant = strip_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", mant, sign, exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_like_printf() {
        assert_eq!(fmt_double(1.5), "1.5");
        assert_eq!(fmt_double(0.1), "0.10000000000000001");
        assert_eq!(fmt_double(3.0), "3");
        assert_eq!(fmt_double(1e20), "1e+20");
        assert_eq!(fmt_double(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(fmt_double(-2.25), "-2.25");
        assert_eq!(fmt_double(f64::INFINITY), "inf");
        assert_eq!(fmt_g(10.5, 17), "10.5");
        assert_eq!(fmt_g(123456.0, 6), "123456");
        assert_eq!(fmt_g(1234567.0, 6), "1.23457e+06");
    }

    #[test]
    fn resp2_degrades_resp3_types() {
        let mut r = Reply::new(false);
        r.map(2);
        r.null();
        r.boolean(true);
        assert_eq!(&r.buf[..], b"*4\r\n$-1\r\n:1\r\n");
        let mut r = Reply::new(true);
        r.map(2);
        r.null();
        r.boolean(true);
        assert_eq!(&r.buf[..], b"%2\r\n_\r\n#t\r\n");
    }

    #[test]
    fn deferred_length() {
        let mut r = Reply::new(false);
        r.int(1);
        let m = r.deferred();
        r.bulk(b"a");
        r.set_deferred(m, b'*', 1);
        assert_eq!(&r.buf[..], b":1\r\n*1\r\n$1\r\na\r\n");
    }
}
