//! What the list, hash and set commands share: typed lookups that say WRONGTYPE, Redis's
//! argument parsers with their exact error texts, the blocking timeout, and the
//! `*SCAN` option parser.
//!
//! Redis's numeric parsers differ only in their error text, and the text is part of the
//! reply a client sees, so each one here is named after the Redis function it mirrors
//! (`getPositiveLongFromObjectOrReply` ...). A quirk worth knowing: when Redis passes a
//! custom message, that message is also what a *non-number* gets — `LPOS k e COUNT abc`
//! answers "COUNT can't be negative", and `LPOP k abc` "value is out of range, must be
//! positive".

use super::{Ctx, errors};
use crate::keyspace::{Db, HashValue, ListValue, SetValue, Value};
use crate::resp::Reply;
use crate::resp::request::parse_i64;

/// The key holds another type: the caller replies WRONGTYPE.
#[derive(Debug)]
pub struct WrongType;

/// The client's database and its reply buffer, borrowed together so a handler can read a
/// value and write the reply without copying the value out first.
pub fn db_out<'a>(ctx: &'a mut Ctx) -> (&'a mut Db, &'a mut Reply) {
    let db = ctx.client.db;
    (&mut ctx.engine.keyspace.dbs[db], &mut *ctx.out)
}

/// Redis's `lookupKeyRead` bookkeeping for a read-only access: expire the key if its time
/// has passed, and count a keyspace hit or miss (INFO `keyspace_hits` / `keyspace_misses`).
/// Returns false when the key must look absent although it may still be stored: on a
/// replica an expired key waits for the master's DEL, but reads already miss it. Pass the
/// result to [`visible`] with the typed lookup.
pub fn read_key(ctx: &mut Ctx, key: &[u8]) -> bool {
    let expired = ctx.expire_if_needed(key);
    let present = !expired && ctx.db().dict.contains_key(key);
    let stats = &mut ctx.engine.stats;
    if present {
        stats.keyspace_hits += 1;
    } else {
        stats.keyspace_misses += 1;
    }
    !expired
}

/// A typed lookup's result for a key [`read_key`] found live or not.
pub fn visible<T>(found: Result<Option<T>, WrongType>, live: bool) -> Result<Option<T>, WrongType> {
    if live { found } else { Ok(None) }
}

macro_rules! typed_lookup {
    ($get:ident, $get_mut:ident, $variant:ident, $ty:ty) => {
        /// The value at `key` if it has this type; `Err` if the key holds another type.
        pub fn $get<'a>(db: &'a Db, key: &[u8]) -> Result<Option<&'a $ty>, WrongType> {
            match db.dict.get(key) {
                None => Ok(None),
                Some(Value::$variant(v)) => Ok(Some(v)),
                Some(_) => Err(WrongType),
            }
        }

        /// Like the read form, for modifying the value in place.
        pub fn $get_mut<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a mut $ty>, WrongType> {
            match db.dict.get_mut(key) {
                None => Ok(None),
                Some(Value::$variant(v)) => Ok(Some(v)),
                Some(_) => Err(WrongType),
            }
        }
    };
}

typed_lookup!(list, list_mut, List, ListValue);
typed_lookup!(hash, hash_mut, Hash, HashValue);
typed_lookup!(set, set_mut, Set, SetValue);

/// `getLongFromObjectOrReply`: an integer, or the error (`msg`, or the standard text).
pub fn long_or_reply(out: &mut Reply, a: &[u8], msg: Option<&str>) -> Option<i64> {
    match parse_i64(a) {
        Some(v) => Some(v),
        None => {
            out.err(msg.unwrap_or(errors::NOT_INTEGER));
            None
        }
    }
}

/// `getRangeLongFromObjectOrReply`: an integer within `min..=max`; a number outside gets
/// `msg` or `"value is out of range, value must between <min> and <max>"` (sic).
pub fn range_long_or_reply(
    out: &mut Reply,
    a: &[u8],
    min: i64,
    max: i64,
    msg: Option<&str>,
) -> Option<i64> {
    let v = long_or_reply(out, a, msg)?;
    if v < min || v > max {
        match msg {
            Some(m) => out.err(m),
            None => out.err(&format!(
                "value is out of range, value must between {min} and {max}"
            )),
        }
        return None;
    }
    Some(v)
}

/// `getPositiveLongFromObjectOrReply`: an integer >= 0.
pub fn positive_long_or_reply(out: &mut Reply, a: &[u8], msg: Option<&str>) -> Option<i64> {
    range_long_or_reply(
        out,
        a,
        0,
        i64::MAX,
        Some(msg.unwrap_or("value is out of range, must be positive")),
    )
}

/// The timeout of a blocking command (`getTimeoutFromObjectOrReply` with seconds): a
/// number of seconds as C's `strtold` reads it (hex floats, `1e-400` and `1e4000` included),
/// times 1000 and rounded *up* to whole milliseconds, all in x87 `long double`. Returns
/// `Some(None)` for 0 (wait forever), `Some(Some(deadline_ms))` otherwise, `None` after
/// replying an error.
pub fn timeout_or_reply(out: &mut Reply, a: &[u8], now_ms: i64) -> Option<Option<i64>> {
    let Some(secs) = crate::ld80::parse(a) else {
        out.err("timeout is not a float or out of range");
        return None;
    };
    let ms = ceil_millis(&secs);
    if ms < 0 {
        out.err("timeout is negative");
        return None;
    }
    // Redis adds the clock in C `long long` arithmetic; a huge timeout wraps like it does.
    Some(if ms == 0 {
        None
    } else {
        Some(ms.wrapping_add(now_ms))
    })
}

/// `(long long) ceill(secs * 1000.0)` on x86-64: the product rounded to the 64-bit
/// significand of a `long double`, rounded up to an integer, and a value outside the 64-bit
/// range (or an infinity) turned into the most negative integer, as the x87 conversion does
/// — which is why `BLPOP k inf` answers "timeout is negative".
fn ceil_millis(secs: &crate::ld80::LongDouble) -> i64 {
    if secs.is_zero() {
        return 0;
    }
    if !secs.is_finite() {
        return i64::MIN;
    }
    let mut p = u128::from(secs.mantissa()) * 1000;
    let mut e = i64::from(secs.exponent());
    let bits = 128 - p.leading_zeros();
    if bits > 64 {
        let sh = bits - 64;
        let rem = p & ((1u128 << sh) - 1);
        let half = 1u128 << (sh - 1);
        p >>= sh;
        if rem > half || (rem == half && p & 1 == 1) {
            p += 1;
        }
        e += i64::from(sh);
    }
    // |value| = p * 2^e; take its floor and whether a fraction was cut off.
    let (int, frac) = if e >= 0 {
        if e > 64 || p.leading_zeros() < e as u32 + 1 {
            return i64::MIN;
        }
        (p << e, false)
    } else if -e >= 128 {
        (0, p != 0)
    } else {
        let sh = (-e) as u32;
        (p >> sh, p & ((1u128 << sh) - 1) != 0)
    };
    if secs.is_negative() {
        // ceil of a negative number is minus the floor of its magnitude
        if int > 1u128 << 63 {
            return i64::MIN;
        }
        (int as i128).wrapping_neg() as i64
    } else {
        let int = int + u128::from(frac);
        i64::try_from(int).unwrap_or(i64::MIN)
    }
}

/// `parseScanCursorOrReply`: C's `strtoul` in base 10 over the whole argument — an optional
/// sign (a negative cursor wraps around, as in C), no leading space, nothing after the
/// digits; the empty string is cursor 0.
pub fn scan_cursor_or_reply(out: &mut Reply, a: &[u8]) -> Option<u64> {
    let bad = |out: &mut Reply| {
        out.err("invalid cursor");
        None
    };
    let (neg, digits) = match a.first() {
        Some(b'-') => (true, &a[1..]),
        Some(b'+') => (false, &a[1..]),
        _ => (false, a),
    };
    if a.is_empty() {
        return Some(0);
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        // strtoul parsed nothing (or stopped early): the rest is not '\0'.
        return bad(out);
    }
    let mut v: u64 = 0;
    for &c in digits {
        match v
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as u64))
        {
            Some(n) => v = n,
            None => return bad(out),
        }
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// The options of HSCAN / SSCAN (and ZSCAN): `COUNT n` (>= 1) and `MATCH pattern`.
pub struct ScanOpts<'a> {
    pub count: usize,
    /// `None` also for the pattern `*`, which Redis treats as no pattern.
    pub pattern: Option<&'a [u8]>,
}

impl ScanOpts<'_> {
    pub fn keep(&self, element: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| crate::glob::matches(p, element, false))
    }
}

/// Parse the options after `<key> <cursor>`, replying the error on failure.
pub fn scan_opts_or_reply<'a>(out: &mut Reply, args: &[&'a [u8]]) -> Option<ScanOpts<'a>> {
    let mut opts = ScanOpts {
        count: 10,
        pattern: None,
    };
    let mut i = 0;
    while i < args.len() {
        let more = args.len() - i >= 2;
        if super::eq_ic(args[i], "count") && more {
            let n = long_or_reply(out, args[i + 1], None)?;
            if n < 1 {
                out.err(errors::SYNTAX);
                return None;
            }
            opts.count = n as usize;
        } else if super::eq_ic(args[i], "match") && more {
            let p = args[i + 1];
            opts.pattern = if p == b"*" { None } else { Some(p) };
        } else {
            out.err(errors::SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(opts)
}

/// The reply to a SCAN step: `[cursor, [elements...]]`.
pub fn scan_reply(out: &mut Reply, cursor: u64, elements: &[bytes::Bytes]) {
    out.array(2);
    out.bulk(cursor.to_string().as_bytes());
    out.array(elements.len());
    for e in elements {
        out.bulk(e);
    }
}

/// May this call block? Not inside MULTI/EXEC (Redis's `CLIENT_DENY_BLOCKING`), and not for
/// the master's link, whose commands must never wait.
pub fn may_block(ctx: &Ctx) -> bool {
    !ctx.engine.in_exec && !ctx.client.is_master
}

/// The arity error a handler gives for argument counts the command table cannot express
/// (`addReplyErrorArity`): named after the command as Redis names it, in lower case.
pub fn arity_error(out: &mut Reply, name: &[u8]) {
    out.err(&format!(
        "wrong number of arguments for '{}' command",
        String::from_utf8_lossy(name).to_ascii_lowercase()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        let mut out = Reply::new(false);
        assert_eq!(scan_cursor_or_reply(&mut out, b"0"), Some(0));
        assert_eq!(scan_cursor_or_reply(&mut out, b""), Some(0));
        assert_eq!(scan_cursor_or_reply(&mut out, b"+7"), Some(7));
        assert_eq!(scan_cursor_or_reply(&mut out, b"-1"), Some(u64::MAX));
        assert_eq!(
            scan_cursor_or_reply(&mut out, b"18446744073709551615"),
            Some(u64::MAX)
        );
        assert!(out.is_empty());
        assert_eq!(
            scan_cursor_or_reply(&mut out, b"18446744073709551616"),
            None
        );
        assert_eq!(scan_cursor_or_reply(&mut out, b" 1"), None);
        assert_eq!(scan_cursor_or_reply(&mut out, b"1x"), None);
        assert_eq!(
            &out.buf[..],
            b"-ERR invalid cursor\r\n".repeat(3).as_slice()
        );
    }

    #[test]
    fn timeouts_round_up_to_milliseconds() {
        let mut out = Reply::new(false);
        assert_eq!(timeout_or_reply(&mut out, b"0", 1000), Some(None));
        assert_eq!(
            timeout_or_reply(&mut out, b"0.0001", 1000),
            Some(Some(1001))
        );
        assert_eq!(timeout_or_reply(&mut out, b"-0.0001", 1000), Some(None));
        assert_eq!(timeout_or_reply(&mut out, b"1.5", 1000), Some(Some(2500)));
        assert_eq!(timeout_or_reply(&mut out, b"0x10", 1000), Some(Some(17000)));
        assert_eq!(
            timeout_or_reply(&mut out, b"1e-400", 1000),
            Some(Some(1001))
        );
        assert_eq!(
            timeout_or_reply(&mut out, b"9223372036854775", 0),
            Some(Some(9223372036854775000))
        );
        assert!(out.is_empty());
        assert_eq!(timeout_or_reply(&mut out, b"-1", 1000), None);
        assert_eq!(timeout_or_reply(&mut out, b"inf", 1000), None);
        assert_eq!(timeout_or_reply(&mut out, b"9223372036854776", 0), None);
        assert_eq!(
            &out.buf[..],
            b"-ERR timeout is negative\r\n".repeat(3).as_slice()
        );
    }
}
