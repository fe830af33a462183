//! Number parsing with C's rules, where Redis uses the C library directly and the rules show
//! through in replies: `strtod` (score ranges accept leading spaces, hex floats and even the
//! empty string), Redis's `string2d` (stricter: no spaces, no overflow), `strtoul` for SCAN
//! cursors, and the blocking timeouts.

use crate::resp::Reply;

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C's `strtod`: the value, how many bytes it consumed (0 when there is no number at all), and
/// whether it set `ERANGE` (overflow to infinity or underflow to zero).
pub fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let num_start = i;
    let neg = i < s.len() && s[i] == b'-';
    if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
        i += 1;
    }
    let rest = &s[i..];
    let lower: Vec<u8> = rest
        .iter()
        .take(8)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let sign = if neg { -1.0 } else { 1.0 };
    if lower.starts_with(b"infinity") {
        return (sign * f64::INFINITY, i + 8, false);
    }
    if lower.starts_with(b"inf") {
        return (sign * f64::INFINITY, i + 3, false);
    }
    if lower.starts_with(b"nan") {
        let mut end = i + 3;
        if end < s.len() && s[end] == b'(' {
            let mut j = end + 1;
            while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'_') {
                j += 1;
            }
            if j < s.len() && s[j] == b')' {
                end = j + 1;
            }
        }
        return (f64::NAN, end, false);
    }
    // Hexadecimal floating point: 0x1.8p3
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        let mut j = 2;
        let mut mant = 0f64;
        let mut exp: i64 = 0;
        let mut digits = 0;
        while j < rest.len() && rest[j].is_ascii_hexdigit() {
            mant = mant * 16.0 + (rest[j] as char).to_digit(16).unwrap_or(0) as f64;
            digits += 1;
            j += 1;
        }
        if j < rest.len() && rest[j] == b'.' {
            j += 1;
            while j < rest.len() && rest[j].is_ascii_hexdigit() {
                mant = mant * 16.0 + (rest[j] as char).to_digit(16).unwrap_or(0) as f64;
                exp -= 4;
                digits += 1;
                j += 1;
            }
        }
        if digits > 0 {
            if j < rest.len() && (rest[j] | 0x20) == b'p' {
                let mut k = j + 1;
                let eneg = k < rest.len() && rest[k] == b'-';
                if k < rest.len() && (rest[k] == b'-' || rest[k] == b'+') {
                    k += 1;
                }
                let ds = k;
                let mut e: i64 = 0;
                while k < rest.len() && rest[k].is_ascii_digit() {
                    e = (e * 10 + (rest[k] - b'0') as i64).min(1 << 20);
                    k += 1;
                }
                if k > ds {
                    exp += if eneg { -e } else { e };
                    j = k;
                }
            }
            let v = sign * mant * 2f64.powi(exp.clamp(-2000, 2000) as i32);
            let erange = v.is_infinite() || (v == 0.0 && mant != 0.0);
            return (v, i + j, erange);
        }
        // "0x" with no hex digit: strtod reads the "0" alone.
        return (sign * 0.0, i + 1, false);
    }
    let mut j = 0;
    let mut digits = 0;
    let mut nonzero = false;
    while j < rest.len() && rest[j].is_ascii_digit() {
        nonzero |= rest[j] != b'0';
        digits += 1;
        j += 1;
    }
    if j < rest.len() && rest[j] == b'.' {
        j += 1;
        while j < rest.len() && rest[j].is_ascii_digit() {
            nonzero |= rest[j] != b'0';
            digits += 1;
            j += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0, false);
    }
    if j < rest.len() && (rest[j] | 0x20) == b'e' {
        let mut k = j + 1;
        if k < rest.len() && (rest[k] == b'-' || rest[k] == b'+') {
            k += 1;
        }
        let ds = k;
        while k < rest.len() && rest[k].is_ascii_digit() {
            k += 1;
        }
        if k > ds {
            j = k;
        }
    }
    let text = std::str::from_utf8(&s[num_start..i + j]).unwrap_or("0");
    let v: f64 = text.parse().unwrap_or(0.0);
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    (v, i + j, erange)
}

/// Redis's `string2d` (`getDoubleFromObject`): the whole string must be a number, with no
/// leading space, no overflow or underflow to zero, and not NaN.
pub fn string2d(s: &[u8]) -> Option<f64> {
    if s.is_empty() || is_c_space(s[0]) {
        return None;
    }
    let (v, n, erange) = strtod(s);
    if n != s.len() || v.is_nan() || (erange && (v.is_infinite() || v == 0.0)) {
        return None;
    }
    Some(v)
}

/// `strtod` as `zslParseRange` uses it: the C string (up to a NUL byte) must be consumed
/// entirely — which makes `""` a valid 0 — and NaN is refused.
pub fn strtod_whole(s: &[u8]) -> Option<f64> {
    let s = match memchr::memchr(0, s) {
        Some(p) => &s[..p],
        None => s,
    };
    let (v, n, _) = strtod(s);
    if n != s.len() || v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// `parseScanCursorOrReply`: `strtoul` in base 10, no leading space, no overflow.
pub fn parse_cursor(out: &mut Reply, a: &[u8]) -> Option<u64> {
    let bad = |out: &mut Reply| {
        out.err("invalid cursor");
        None
    };
    if !a.is_empty() && is_c_space(a[0]) {
        return bad(out);
    }
    let (neg, digits) = match a.first() {
        Some(b'-') => (true, &a[1..]),
        Some(b'+') => (false, &a[1..]),
        _ => (false, a),
    };
    if digits.is_empty() {
        // No digits: strtoul converts nothing and the end pointer stays at the start, which
        // is only acceptable for the empty string.
        return if a.is_empty() { Some(0) } else { bad(out) };
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return bad(out);
        }
        match v
            .checked_mul(10)
            .and_then(|x| x.checked_add((c - b'0') as u64))
        {
            Some(x) => v = x,
            None => return bad(out),
        }
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// A blocking command's timeout in seconds (`getTimeoutFromObjectOrReply` with
/// `UNIT_SECONDS`): `Some(None)` blocks forever, `Some(Some(deadline_ms))` until then.
///
/// Redis reads a `long double` and casts `ceil(secs * 1000)` to `long long`; anything beyond
/// that range (`inf`, `1e20`) wraps to a negative number on x86, hence "timeout is negative".
pub fn timeout_secs(out: &mut Reply, a: &[u8], now_ms: i64) -> Option<Option<i64>> {
    let (v, n, erange) = strtod(a);
    if a.is_empty() || is_c_space(a[0]) || n != a.len() || v.is_nan() {
        out.err("timeout is not a float or out of range");
        return None;
    }
    let ms = if erange && v == 0.0 {
        if a.first() == Some(&b'-') { 0.0 } else { 1.0 }
    } else {
        (v * 1000.0).ceil()
    };
    if ms < 0.0 || !ms.is_finite() || ms >= 9.223_372_036_854_776e18 {
        out.err("timeout is negative");
        return None;
    }
    let ms = ms as i64;
    Some(if ms > 0 {
        Some(now_ms.saturating_add(ms))
    } else {
        None
    })
}

/// A blocking timeout in milliseconds (XREAD BLOCK: `UNIT_MILLISECONDS`).
pub fn timeout_ms(out: &mut Reply, a: &[u8], now_ms: i64) -> Option<Option<i64>> {
    let Some(ms) = crate::resp::request::parse_i64(a) else {
        out.err("timeout is not an integer or out of range");
        return None;
    };
    if ms < 0 {
        out.err("timeout is negative");
        return None;
    }
    Some(if ms > 0 {
        Some(now_ms.saturating_add(ms))
    } else {
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_like_c() {
        assert_eq!(strtod(b"1.5"), (1.5, 3, false));
        assert_eq!(strtod(b" 2"), (2.0, 2, false));
        assert_eq!(strtod(b"1e"), (1.0, 1, false));
        assert_eq!(strtod(b"0x10"), (16.0, 4, false));
        assert_eq!(strtod(b"abc").1, 0);
        assert_eq!(strtod(b"-Infinity").0, f64::NEG_INFINITY);
        assert!(strtod(b"1e400").2);
        assert_eq!(string2d(b"1e400"), None);
        assert_eq!(string2d(b" 1"), None);
        assert_eq!(string2d(b".5"), Some(0.5));
        assert_eq!(string2d(b"nan"), None);
        assert_eq!(strtod_whole(b""), Some(0.0));
        assert_eq!(strtod_whole(b" 1"), Some(1.0));
    }
}
