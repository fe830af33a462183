//! x87 80-bit `long double` arithmetic, in software, for INCRBYFLOAT's exact output.
//!
//! Redis computes INCRBYFLOAT and HINCRBYFLOAT in C `long double`, which on x86-64 is the x87
//! extended format: a 64-bit significand with an explicit integer bit and a 15-bit exponent.
//! The reply is that sum printed with `%.17Lf`, so the low bits of the 80-bit result decide
//! the digits a client sees (`0.1 + 12345.678` is `12345.77799999999999958`, not the double
//! answer). `f64` cannot reproduce this, so this module emulates the three steps exactly:
//!
//! * [`parse`]: Redis's `string2ld`, i.e. glibc `strtold` (decimal and hex forms, `inf` and
//!   `infinity`, correctly rounded to nearest-even) plus Redis's own rejections: empty input,
//!   5120 bytes or more, a leading space, anything `strtold` did not consume (including a NUL
//!   byte), NaN, and a result that overflowed or underflowed to zero (`ERANGE`).
//! * [`add`] (also `+`): one x87 `fadd` in round-to-nearest-even at full 64-bit precision,
//!   with gradual underflow and overflow to infinity.
//! * [`LongDouble::to_human_string`]: Redis's `ld2string(..., LD_STR_HUMAN)`: glibc's exact
//!   `%.17Lf` (round-half-even on the exact binary value), trailing zeros and dot removed,
//!   `-0` shown as `0`.
//!
//! Redis's order of checks differs between the two commands, so each has a helper with its
//! error texts: [`incrbyfloat`] (after WRONGTYPE: stored value, then increment, then the sum)
//! and [`hincrbyfloat_increment`] + [`hincrbyfloat`] (the increment is judged before the key
//! is even looked up, so its errors win over WRONGTYPE).
//!
//! Big integers (`num-bigint`) are used only where the exact value needs them: decimal
//! parsing and printing numbers whose integer part exceeds 128 bits.

use num_bigint::BigUint;

/// Significand width of the x87 extended format, integer bit included.
const PREC: u32 = 64;
/// Weight (as a power of two) of the lowest significand bit of the smallest normal numbers
/// and of every denormal: 2^(1 - 16383 - 63).
const MIN_EXP: i64 = -16445;
/// Weight of the lowest significand bit of the largest finite numbers: 2^(32766 - 16383 - 63).
const MAX_EXP: i64 = 16320;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: `string2ld` refuses inputs of this length or longer.
const MAX_CHARS: usize = 5 * 1024;

/// Which kind of value a [`LongDouble`] holds; only `Finite` uses the significand fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Zero,
    Finite,
    Inf,
    Nan,
}

/// An x87 extended-precision value: `(-1)^negative × mantissa × 2^exponent` when finite.
///
/// A finite value is kept in the hardware's canonical shape: the mantissa has its top bit set
/// (a normal number) unless the exponent is the minimum, where smaller mantissas are the
/// denormals. Zero, infinity and NaN keep their sign as the hardware does. Equality is
/// equality of representation (so `-0 != +0`, and NaN equals a NaN of the same sign).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongDouble {
    negative: bool,
    class: Class,
    mantissa: u64,
    exponent: i32,
}

/// Result of rounding an exact magnitude to a binary format.
enum Rounded {
    Zero,
    Finite(u64, i64),
    Overflow,
}

/// Are any of the lowest `n` bits of `q` set?
fn bits_below(q: u128, n: i64) -> bool {
    if n <= 0 {
        false
    } else if n >= 128 {
        q != 0
    } else {
        q & ((1u128 << n) - 1) != 0
    }
}

/// Rounds the magnitude `q × 2^e` to `prec` significant bits, nearest-even, with the lowest
/// representable bit weight `min_e` (gradual underflow) and the largest `max_e` (overflow).
///
/// `sticky` says the exact value lies strictly above `q × 2^e` but below `(q + 1) × 2^e`;
/// callers only set it when `q` carries at least two bits below the rounding position, which
/// is what makes guard-bit-plus-sticky rounding exact.
fn round_mag(q: u128, e: i64, sticky: bool, prec: u32, min_e: i64, max_e: i64) -> Rounded {
    if q == 0 {
        return Rounded::Zero;
    }
    let len = 128 - i64::from(q.leading_zeros());
    let mut t = (e + len - i64::from(prec)).max(min_e);
    // Kept in u128 so that rounding up from 2^64 - 1 cannot overflow.
    let mut m: u128 = if t <= e {
        // The whole value fits: widen it (only possible when nothing was lost below).
        debug_assert!(!sticky);
        q << (e - t)
    } else {
        let s = t - e;
        let kept = if s >= 128 { 0 } else { q >> s };
        let guard = s <= 128 && (q >> (s - 1)) & 1 == 1;
        let below = sticky || bits_below(q, s - 1);
        kept + u128::from(guard && (below || kept & 1 == 1))
    };
    if m == 1u128 << prec {
        // Rounding carried out of the top bit: one bit fewer, one power of two up.
        m >>= 1;
        t += 1;
    }
    if m == 0 {
        Rounded::Zero
    } else if t > max_e {
        Rounded::Overflow
    } else {
        Rounded::Finite(m as u64, t)
    }
}

/// The top bits of a big integer as `(q, e, sticky)` with `x ≈ q × 2^e`, keeping at most 128
/// bits so that [`round_mag`] has plenty of guard bits.
fn top_bits(x: &BigUint) -> (u128, i64, bool) {
    let len = x.bits();
    let shift = len.saturating_sub(128);
    let q = x >> shift;
    let mut digits = q.iter_u64_digits();
    let lo = u128::from(digits.next().unwrap_or(0));
    let hi = u128::from(digits.next().unwrap_or(0));
    let sticky = shift > 0 && x.trailing_zeros().is_some_and(|tz| tz < shift);
    (hi << 64 | lo, shift as i64, sticky)
}

impl LongDouble {
    /// Positive zero: the value of a missing key in INCRBYFLOAT.
    pub const ZERO: LongDouble = LongDouble {
        negative: false,
        class: Class::Zero,
        mantissa: 0,
        exponent: 0,
    };

    fn special(negative: bool, class: Class) -> LongDouble {
        LongDouble {
            negative,
            class,
            mantissa: 0,
            exponent: 0,
        }
    }

    fn from_rounded(negative: bool, r: Rounded) -> LongDouble {
        match r {
            Rounded::Zero => LongDouble::special(negative, Class::Zero),
            Rounded::Overflow => LongDouble::special(negative, Class::Inf),
            Rounded::Finite(m, t) => LongDouble {
                negative,
                class: Class::Finite,
                mantissa: m,
                exponent: t as i32,
            },
        }
    }

    /// An integer, exactly (every `i64` fits the 64-bit significand). Redis takes this path for
    /// integer-encoded strings and for integer hash fields.
    pub fn from_i64(v: i64) -> LongDouble {
        if v == 0 {
            return LongDouble::ZERO;
        }
        let m = v.unsigned_abs();
        let z = m.leading_zeros();
        LongDouble {
            negative: v < 0,
            class: Class::Finite,
            mantissa: m << z,
            exponent: -(z as i32),
        }
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }
    pub fn is_zero(&self) -> bool {
        self.class == Class::Zero
    }
    /// Neither infinite nor NaN: the condition for INCRBYFLOAT to store its result.
    pub fn is_finite(&self) -> bool {
        matches!(self.class, Class::Zero | Class::Finite)
    }
    pub fn is_infinite(&self) -> bool {
        self.class == Class::Inf
    }
    pub fn is_nan(&self) -> bool {
        self.class == Class::Nan
    }
    /// The significand of a finite nonzero value (0 otherwise); value = mantissa × 2^exponent.
    pub fn mantissa(&self) -> u64 {
        self.mantissa
    }
    /// The power of two of the significand's lowest bit (0 for non-finite values and zero).
    pub fn exponent(&self) -> i32 {
        self.exponent
    }

    /// glibc's `printf("%.17Lf")` of this value, before Redis trims it.
    pub fn to_fixed17(&self) -> String {
        let sign = if self.negative { "-" } else { "" };
        match self.class {
            Class::Inf => format!("{sign}inf"),
            Class::Nan => format!("{sign}nan"),
            Class::Zero => format!("{sign}0.00000000000000000"),
            Class::Finite => {
                let e = i64::from(self.exponent);
                if e >= 0 {
                    let int = BigUint::from(self.mantissa) << e as u64;
                    return format!("{sign}{int}.00000000000000000");
                }
                // Scale by 10^17 (still < 2^121) and divide by 2^-e, rounding the exact
                // quotient half-to-even as glibc does in the default rounding mode.
                let num = u128::from(self.mantissa) * 100_000_000_000_000_000u128;
                let sh = -e;
                let q = if sh >= 128 {
                    0
                } else {
                    let q = num >> sh;
                    let rem = num & ((1u128 << sh) - 1);
                    let half = 1u128 << (sh - 1);
                    q + u128::from(rem > half || (rem == half && q & 1 == 1))
                };
                let digits = format!("{q:018}");
                let (int, frac) = digits.split_at(digits.len() - 17);
                format!("{sign}{int}.{frac}")
            }
        }
    }

    /// Redis's human-friendly form (`ld2string` with `LD_STR_HUMAN`): `%.17Lf` with trailing
    /// zeros and then a trailing dot removed, and `-0` turned into `0`. Infinities print as
    /// `inf`/`-inf` like Redis; NaN never reaches Redis's printer but prints as glibc would.
    pub fn to_human_string(&self) -> String {
        let mut s = self.to_fixed17();
        if !self.is_finite() {
            return s;
        }
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
        if s == "-0" {
            s = "0".to_string();
        }
        s
    }

    /// The nearest `f64` (ties to even, subnormals and overflow to infinity as an x87 `fstp`).
    pub fn to_f64(&self) -> f64 {
        let sign = if self.negative { -1.0 } else { 1.0 };
        match self.class {
            Class::Zero => sign * 0.0,
            Class::Inf => sign * f64::INFINITY,
            Class::Nan => f64::NAN,
            Class::Finite => {
                let bits = match round_mag(
                    u128::from(self.mantissa),
                    i64::from(self.exponent),
                    false,
                    53,
                    -1074,
                    971,
                ) {
                    Rounded::Zero => 0,
                    Rounded::Overflow => f64::INFINITY.to_bits(),
                    // A normal double: biased exponent t + 1075, implicit bit dropped.
                    Rounded::Finite(m, t) if m >> 52 == 1 => {
                        ((t + 1075) as u64) << 52 | (m & ((1 << 52) - 1))
                    }
                    Rounded::Finite(m, _) => m,
                };
                sign * f64::from_bits(bits)
            }
        }
    }
}

/// One x87 addition, rounded to nearest-even. Infinities of opposite signs give the x87
/// "indefinite" NaN (which has its sign bit set); exact cancellation gives +0, and
/// -0 + -0 stays -0.
pub fn add(a: LongDouble, b: LongDouble) -> LongDouble {
    use Class::*;
    match (a.class, b.class) {
        (Nan, _) => a,
        (_, Nan) => b,
        (Inf, Inf) if a.negative != b.negative => LongDouble::special(true, Nan),
        (Inf, _) => a,
        (_, Inf) => b,
        (Zero, Zero) => LongDouble::special(a.negative && b.negative, Zero),
        (Zero, _) => b,
        (_, Zero) => a,
        (Finite, Finite) => add_finite(a, b),
    }
}

/// `a + b` is [`add`].
impl std::ops::Add for LongDouble {
    type Output = LongDouble;
    fn add(self, other: LongDouble) -> LongDouble {
        add(self, other)
    }
}

impl std::fmt::Display for LongDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_human_string())
    }
}

/// Redis's error texts for the float increments.
const NOT_FLOAT: &str = "value is not a valid float";
const WOULD_OVERFLOW: &str = "increment would produce NaN or Infinity";

/// The sum as Redis stores and replies it, or its error when not finite.
fn human_sum(value: LongDouble, incr: LongDouble) -> Result<String, &'static str> {
    let sum = value + incr;
    if sum.is_finite() {
        Ok(sum.to_human_string())
    } else {
        Err(WOULD_OVERFLOW)
    }
}

/// INCRBYFLOAT once the key is known to hold a string (`cur`, or `b"0"` for a missing key):
/// the stored value must parse, then the increment (both `value is not a valid float`), then
/// the sum must be finite (`increment would produce NaN or Infinity`). Ok is the new value,
/// which is both the reply and what is stored and propagated.
pub fn incrbyfloat(cur: &[u8], incr: &[u8]) -> Result<String, &'static str> {
    let value = parse(cur).ok_or(NOT_FLOAT)?;
    let incr = parse(incr).ok_or(NOT_FLOAT)?;
    human_sum(value, incr)
}

/// HINCRBYFLOAT's first step, taken before the key is looked up (so before WRONGTYPE): the
/// increment must parse (`value is not a valid float`) and be finite (`value is NaN or
/// Infinity`).
pub fn hincrbyfloat_increment(incr: &[u8]) -> Result<LongDouble, &'static str> {
    let incr = parse(incr).ok_or(NOT_FLOAT)?;
    if incr.is_finite() {
        Ok(incr)
    } else {
        Err("value is NaN or Infinity")
    }
}

/// HINCRBYFLOAT's second step: the field's current value (None when the field is missing)
/// must parse (`hash value is not a float`), and the sum must be finite.
pub fn hincrbyfloat(cur: Option<&[u8]>, incr: LongDouble) -> Result<String, &'static str> {
    let value = match cur {
        None => LongDouble::ZERO,
        Some(v) => parse(v).ok_or("hash value is not a float")?,
    };
    human_sum(value, incr)
}

/// Sum of two finite nonzero values. The larger magnitude is placed 62 bits up in a u128 so
/// the smaller one can be aligned under it with guard bits to spare; bits shifted out past
/// the bottom only matter as a sticky flag.
fn add_finite(a: LongDouble, b: LongDouble) -> LongDouble {
    // Canonical shapes make (exponent, mantissa) order the same as magnitude order.
    let (big, small) = if (a.exponent, a.mantissa) >= (b.exponent, b.mantissa) {
        (a, b)
    } else {
        (b, a)
    };
    const G: u32 = 62;
    let base = i64::from(big.exponent) - i64::from(G);
    let r = u128::from(big.mantissa) << G;
    let d = i64::from(big.exponent) - i64::from(small.exponent);
    let full = u128::from(small.mantissa) << G;
    let (s, sticky) = if d >= 128 {
        (0, full != 0)
    } else {
        (full >> d, bits_below(full, d))
    };
    let rounded = if big.negative == small.negative {
        round_mag(r + s, base, sticky, PREC, MIN_EXP, MAX_EXP)
    } else {
        if r == s && !sticky {
            return LongDouble::ZERO;
        }
        // r - (s + ε) with 0 < ε < 1 equals (r - s - 1) + (1 - ε): borrow one and keep the
        // sticky flag. Sticky is only set when d > 62, so r dwarfs s and nothing goes negative.
        round_mag(
            r - s - u128::from(sticky),
            base,
            sticky,
            PREC,
            MIN_EXP,
            MAX_EXP,
        )
    };
    LongDouble::from_rounded(big.negative, rounded)
}

/// Parses like Redis's `string2ld`: glibc `strtold` must consume the whole input, which must
/// not start with whitespace, must not be NaN, and must not overflow or underflow to zero.
/// Infinity is accepted (INCRBYFLOAT then rejects the sum). Never panics, for any bytes.
pub fn parse(s: &[u8]) -> Option<LongDouble> {
    if s.is_empty() || s.len() >= MAX_CHARS {
        return None;
    }
    let (negative, rest) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower3 = rest.get(..3).map(|p| p.to_ascii_lowercase());
    let magnitude = if lower3.as_deref() == Some(b"inf") {
        let tail = &rest[3..];
        if !tail.is_empty() && !tail.eq_ignore_ascii_case(b"inity") {
            return None;
        }
        LongDouble::special(false, Class::Inf)
    } else if lower3.as_deref() == Some(b"nan") {
        // strtold reads a NaN (with or without a payload); Redis refuses every NaN.
        return None;
    } else if rest.len() >= 2 && rest[0] == b'0' && rest[1] | 0x20 == b'x' {
        parse_hex(&rest[2..])?
    } else {
        parse_decimal(rest)?
    };
    Some(LongDouble {
        negative,
        ..magnitude
    })
}

/// A nonzero input's rounded magnitude, or None when strtold would report ERANGE (rounded to
/// zero or to infinity), which Redis refuses.
fn accept(r: Rounded) -> Option<LongDouble> {
    match r {
        Rounded::Finite(..) => Some(LongDouble::from_rounded(false, r)),
        Rounded::Zero | Rounded::Overflow => None,
    }
}

/// Reads an optional sign and at least one decimal digit of an exponent, saturating far past
/// any exponent that could matter. None means the exponent marker is not part of the number
/// (strtold would stop before it, leaving garbage, which Redis refuses).
fn parse_exponent(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        v = (v * 10 + i64::from(c - b'0')).min(1 << 40);
    }
    Some(if neg { -v } else { v })
}

/// Splits `digits[.digits][marker exponent]`, calling `is_digit` for the mantissa alphabet.
/// Returns (integer digits, fraction digits, exponent) or None on any syntax error.
fn split_number(b: &[u8], is_digit: fn(&u8) -> bool, marker: u8) -> Option<(&[u8], &[u8], i64)> {
    let int_end = b.iter().position(|c| !is_digit(c)).unwrap_or(b.len());
    let (int, rest) = b.split_at(int_end);
    let (frac, rest) = match rest.split_first() {
        Some((b'.', after)) => {
            let n = after
                .iter()
                .position(|c| !is_digit(c))
                .unwrap_or(after.len());
            after.split_at(n)
        }
        _ => (&rest[..0], rest),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let exp = match rest.split_first() {
        None => 0,
        Some((c, after)) if c | 0x20 == marker => parse_exponent(after)?,
        Some(_) => return None,
    };
    Some((int, frac, exp))
}

/// Significant digits of `int` and `frac` with leading and trailing zeros removed, and how
/// many positions the trailing-zero trim shifted (to add to the exponent).
fn significant(int: &[u8], frac: &[u8]) -> (Vec<u8>, i64) {
    let mut digits: Vec<u8> = int
        .iter()
        .chain(frac)
        .copied()
        .skip_while(|&c| c == b'0')
        .collect();
    let mut trimmed = 0;
    while digits.last() == Some(&b'0') {
        digits.pop();
        trimmed += 1;
    }
    (digits, trimmed)
}

/// A decimal mantissa with optional `e` exponent, rounded exactly: the value is N × 10^k for
/// an integer N, computed with big integers so that every input digit counts as in glibc.
fn parse_decimal(b: &[u8]) -> Option<LongDouble> {
    let (int, frac, exp) = split_number(b, u8::is_ascii_digit, b'e')?;
    let (digits, trimmed) = significant(int, frac);
    if digits.is_empty() {
        // An exact zero, whatever its exponent: no ERANGE.
        return Some(LongDouble::ZERO);
    }
    let k = exp - frac.len() as i64 + trimmed;
    let nd = digits.len() as i64;
    // value ≥ 10^(nd-1+k) ≥ 1e4933 exceeds the largest long double (≈1.19e4932);
    // value < 10^(nd+k) ≤ 1e-4951 is under half the smallest denormal (≈3.65e-4951).
    if nd - 1 + k >= 4933 {
        return None;
    }
    if nd + k <= -4951 {
        return None;
    }
    let n = BigUint::parse_bytes(&digits, 10)?;
    if k >= 0 {
        let x = n * BigUint::from(10u32).pow(k as u32);
        let (q, e, sticky) = top_bits(&x);
        return accept(round_mag(q, e, sticky, PREC, MIN_EXP, MAX_EXP));
    }
    // N / 10^-k: scale so the integer quotient has 66 or 67 bits, then the remainder tells
    // whether anything is left below (sticky).
    let den = BigUint::from(10u32).pow((-k) as u32);
    let e = n.bits() as i64 - den.bits() as i64 - 66;
    let (num, den) = if e < 0 {
        (n << (-e) as u64, den)
    } else {
        (n, den << e as u64)
    };
    let q = &num / &den;
    let sticky = (&num - &q * &den).bits() != 0;
    let (q, extra, inner_sticky) = top_bits(&q);
    accept(round_mag(
        q,
        e + extra,
        sticky || inner_sticky,
        PREC,
        MIN_EXP,
        MAX_EXP,
    ))
}

/// A hex float after its `0x`: hex mantissa with optional `p` binary exponent (decimal
/// digits). Exact by construction, so only the final rounding matters.
fn parse_hex(b: &[u8]) -> Option<LongDouble> {
    let (int, frac, exp) = split_number(b, u8::is_ascii_hexdigit, b'p')?;
    let (digits, trimmed) = significant(int, frac);
    if digits.is_empty() {
        // An exact zero, whatever its exponent: no ERANGE.
        return Some(LongDouble::ZERO);
    }
    let e2 = exp + 4 * (trimmed - frac.len() as i64);
    let n = BigUint::parse_bytes(&digits, 16)?;
    let top = e2 + n.bits() as i64;
    // 2^(top-1) ≤ value < 2^top: far above the largest value, or under half the smallest.
    if top > MAX_EXP + 66 {
        return None;
    }
    if top < MIN_EXP - 2 {
        return None;
    }
    let (q, e, sticky) = top_bits(&n);
    accept(round_mag(q, e + e2, sticky, PREC, MIN_EXP, MAX_EXP))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human(s: &str) -> String {
        parse(s.as_bytes()).unwrap().to_human_string()
    }

    fn sum(a: &str, b: &str) -> String {
        (parse(a.as_bytes()).unwrap() + parse(b.as_bytes()).unwrap()).to_human_string()
    }

    #[test]
    fn redis_examples() {
        assert_eq!(sum("0.1", "12345.678"), "12345.77799999999999958");
        assert_eq!(sum("0.1", "1e10"), "10000000000.09999999962747097");
        assert_eq!(sum("0.1", "3.0e3"), "3000.10000000000000009");
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("10.50", "0.1"), "10.6");
        assert_eq!(sum("1", "1e17"), "100000000000000001");
        let big = sum("1", "1e300");
        assert_eq!(big.len(), 301);
        // 1e300 itself is not representable: the nearest long double shows from digit 21 on.
        assert!(big.starts_with("1000000000000000000008997324079559193870523944"));
    }

    #[test]
    fn printing_rounds_ties_to_even() {
        // 2^-18 = 0.000003814697265625 exactly: the 18th decimal is a lone 5.
        assert_eq!(human("0.000003814697265625"), "0.00000381469726562");
        assert_eq!(human("0x1p-18"), "0.00000381469726562");
        // 3 × 2^-18 = 0.000011444091796875: odd 17th digit, so it rounds up.
        assert_eq!(human("0.000011444091796875"), "0.00001144409179688");
    }

    #[test]
    fn zeros_and_signs() {
        assert_eq!(human("0"), "0");
        assert_eq!(human("-0"), "0");
        assert!(parse(b"-0").unwrap().is_negative());
        assert_eq!(human("-1e-20"), "0");
        assert_eq!(human("-0.5"), "-0.5");
        assert_eq!(sum("-0", "-0"), "0");
        assert!((parse(b"-0").unwrap() + parse(b"-0").unwrap()).is_negative());
        assert!(!(parse(b"-0").unwrap() + LongDouble::ZERO).is_negative());
        assert!(!(parse(b"1.5").unwrap() + parse(b"-1.5").unwrap()).is_negative());
        assert_eq!(human("0e99999999999999999999"), "0");
        assert_eq!(human("0x0p-99999"), "0");
        assert_eq!(human("000.000"), "0");
    }

    #[test]
    fn syntax_like_string2ld() {
        for bad in [
            "",
            " 1",
            "1 ",
            "\t1",
            "1e",
            "1e+",
            "e5",
            ".",
            "-",
            "+",
            "--1",
            "+-1",
            "0x",
            "0x.",
            "0xg",
            "0x1p",
            "0x1p+",
            "nan",
            "-nan",
            "NaN(123)",
            "infinit",
            "infx",
            "1\x00",
            "\x00",
            "1,5",
            "1_000",
            "１",
            "1e5000",
            "-1e5000",
            "1e-5000",
            "0x1p16384",
            "0x1p-16500",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad:?}");
        }
        for (good, want) in [
            ("1.", "1"),
            (".5", "0.5"),
            ("+.5", "0.5"),
            ("1E3", "1000"),
            ("1e+3", "1000"),
            ("1e-3", "0.001"),
            ("0x1p3", "8"),
            ("0X1.8P1", "3"),
            ("0x.8", "0.5"),
            ("0x1.", "1"),
            ("00012", "12"),
            ("1e0000000000000000000000000000003", "1000"),
            ("1e-4950", "0"),
        ] {
            assert_eq!(human(good), want, "{good:?}");
        }
        for inf in ["inf", "INF", "+Infinity", "-inf", "-INFINITY"] {
            assert!(parse(inf.as_bytes()).unwrap().is_infinite(), "{inf}");
        }
        assert!(parse(b"-inf").unwrap().is_negative());
    }

    #[test]
    fn length_limit() {
        let ok = format!("1.{}", "0".repeat(MAX_CHARS - 3));
        assert_eq!(ok.len(), MAX_CHARS - 1);
        assert_eq!(human(&ok), "1");
        let too_long = format!("1.{}", "0".repeat(MAX_CHARS - 2));
        assert_eq!(parse(too_long.as_bytes()), None);
    }

    #[test]
    fn extremes() {
        // The largest finite value and what lies just past it.
        let max = LongDouble {
            negative: false,
            class: Class::Finite,
            mantissa: u64::MAX,
            exponent: MAX_EXP as i32,
        };
        let s = max.to_human_string();
        assert_eq!(s.len(), 4933);
        assert!(s.starts_with("11897314953572317650"));
        assert_eq!(parse(s.as_bytes()), Some(max));
        assert!((max + max).is_infinite());
        assert!(!(max + parse(b"-1").unwrap()).is_infinite());
        // The smallest denormal, 2^-16445, and halfway to it (ties to even: zero, refused).
        let tiny = parse(b"0x1p-16445").unwrap();
        assert_eq!((tiny.mantissa(), tiny.exponent()), (1, MIN_EXP as i32));
        assert_eq!(parse(b"0x1p-16446"), None);
        assert_eq!(parse(b"0x1.8p-16446").map(|v| v.mantissa()), Some(1));
        assert_eq!(parse(b"0x1.8p-16445").map(|v| v.mantissa()), Some(2));
        assert_eq!(parse(b"0x2.8p-16445").map(|v| v.mantissa()), Some(2));
        assert_eq!(tiny.to_human_string(), "0");
        assert_eq!((tiny + tiny).mantissa(), 2);
        assert_eq!((tiny + parse(b"-0x1p-16445").unwrap()), LongDouble::ZERO);
        // Denormals add exactly and carry into the normal range.
        let top_denormal = LongDouble {
            negative: false,
            class: Class::Finite,
            mantissa: (1 << 63) - 1,
            exponent: MIN_EXP as i32,
        };
        let n = top_denormal + tiny;
        assert_eq!((n.mantissa(), n.exponent()), (1 << 63, MIN_EXP as i32));
    }

    #[test]
    fn addition_rounding() {
        let one = LongDouble::from_i64(1);
        // 1 + 2^-64 is a tie between 1 and 1 + 2^-63: stays at 1 (even).
        assert_eq!(one + parse(b"0x1p-64").unwrap(), one);
        // 0x1.0000000000000001 needs 65 bits: it parses as a tie and rounds to even.
        assert_eq!(parse(b"0x1.0000000000000001p-64"), parse(b"0x1p-64"));
        assert_eq!(
            parse(b"0x1.0000000000000003p-64"),
            parse(b"0x1.0000000000000004p-64")
        );
        // Just above the tie rounds up.
        let up = one + parse(b"0x1.000000000000001p-64").unwrap();
        assert_eq!((up.mantissa(), up.exponent()), ((1 << 63) + 1, -63));
        // 1 - 2^-65 is exactly representable below 1 (finer spacing).
        let below = one + parse(b"-0x1p-64").unwrap();
        assert_eq!((below.mantissa(), below.exponent()), (u64::MAX, -64));
        let below = one + parse(b"-0x1p-65").unwrap();
        assert_eq!(below, one, "1 - 2^-65 ties back to 1");
        // 1 - (2^-65 + 2^-127): just below the tie between 1 - 2^-64 and 1, so it rounds down;
        // only the borrow taken for the sticky bit knows it is below and not above.
        let r = one + parse(b"-0x1.0000000000000002p-65").unwrap();
        assert_eq!((r.mantissa(), r.exponent()), (u64::MAX, -64));
        let r = one + parse(b"0x1.0000000000000002p-64").unwrap();
        assert_eq!((r.mantissa(), r.exponent()), ((1 << 63) + 1, -63));
        // Far-apart magnitudes: the small one only nudges the sticky bit.
        let huge = parse(b"1e4000").unwrap();
        assert_eq!(huge + one, huge);
        assert_eq!(huge + parse(b"-1").unwrap(), huge);
        // Carry out of the top bit.
        let m = LongDouble::from_i64(i64::MAX) + LongDouble::from_i64(1);
        assert_eq!((m.mantissa(), m.exponent()), (1 << 63, 0));
        let all_ones = parse(b"18446744073709551615").unwrap();
        assert_eq!((all_ones + one).to_human_string(), "18446744073709551616");
    }

    #[test]
    fn integers_are_exact() {
        for v in [
            0,
            1,
            -1,
            7,
            1 << 40,
            i64::MAX,
            i64::MIN,
            -123456789012345678,
        ] {
            let a = LongDouble::from_i64(v);
            assert_eq!(a.to_human_string(), v.to_string());
            assert_eq!(parse(v.to_string().as_bytes()), Some(a));
        }
    }

    #[test]
    fn specials() {
        let inf = parse(b"inf").unwrap();
        let ninf = parse(b"-inf").unwrap();
        assert!((inf + ninf).is_nan());
        assert!((inf + inf).is_infinite());
        assert!(!(inf + LongDouble::from_i64(-5)).is_finite());
        assert_eq!(inf.to_human_string(), "inf");
        assert_eq!(ninf.to_human_string(), "-inf");
        assert_eq!((inf + ninf).to_human_string(), "-nan");
    }

    #[test]
    fn to_f64_rounds_correctly() {
        for s in [
            "0.1",
            "1e300",
            "-2.5e-310",
            "123456.789",
            "1e-320",
            "4.9406564584124654e-324",
            "1.7976931348623157e308",
        ] {
            let want: f64 = s.parse().unwrap();
            // Double rounding through 64 bits can differ from direct parsing only on rare
            // near-ties; none of these are such cases.
            assert_eq!(parse(s.as_bytes()).unwrap().to_f64(), want, "{s}");
        }
        assert_eq!(parse(b"1e309").unwrap().to_f64(), f64::INFINITY);
        assert_eq!(parse(b"1e-400").unwrap().to_f64(), 0.0);
        assert_eq!(
            parse(b"-0").unwrap().to_f64().to_bits(),
            (-0.0f64).to_bits()
        );
        assert_eq!(
            LongDouble::from_i64(i64::MAX).to_f64(),
            9223372036854775807.0
        );
    }

    #[test]
    fn command_helpers_keep_redis_order() {
        assert_eq!(incrbyfloat(b"0", b"0.1"), Ok("0.1".to_string()));
        assert_eq!(
            incrbyfloat(b"abc", b"inf"),
            Err("value is not a valid float")
        );
        assert_eq!(incrbyfloat(b"1", b"x"), Err("value is not a valid float"));
        assert_eq!(
            incrbyfloat(b"1", b"-inf"),
            Err("increment would produce NaN or Infinity")
        );
        assert_eq!(
            incrbyfloat(b"1e4932", b"1e4932"),
            Err("increment would produce NaN or Infinity")
        );
        assert_eq!(
            hincrbyfloat_increment(b"x"),
            Err("value is not a valid float")
        );
        assert_eq!(
            hincrbyfloat_increment(b"inf"),
            Err("value is NaN or Infinity")
        );
        let one = hincrbyfloat_increment(b"1").unwrap();
        assert_eq!(
            hincrbyfloat(Some(b"abc"), one),
            Err("hash value is not a float")
        );
        assert_eq!(hincrbyfloat(None, one), Ok("1".to_string()));
        assert_eq!(hincrbyfloat(Some(b"0.1"), one), Ok("1.1".to_string()));
    }

    /// A canonical finite value from raw parts (normal unless at the minimum exponent).
    fn finite(negative: bool, mantissa: u64, exponent: i64) -> LongDouble {
        let exponent = exponent.clamp(MIN_EXP, MAX_EXP);
        let mantissa = if exponent > MIN_EXP {
            mantissa | 1 << 63
        } else {
            mantissa.max(1)
        };
        LongDouble {
            negative,
            class: Class::Finite,
            mantissa,
            exponent: exponent as i32,
        }
    }

    /// Reference sum by a different road: both operands as exact signed big integers in units
    /// of the smallest denormal, added, and the result rounded from its big-integer form.
    fn reference_add(a: LongDouble, b: LongDouble) -> LongDouble {
        use num_bigint::{BigInt, Sign};
        let exact = |v: LongDouble| {
            let mag = BigUint::from(v.mantissa) << (i64::from(v.exponent) - MIN_EXP) as u64;
            BigInt::from_biguint(if v.negative { Sign::Minus } else { Sign::Plus }, mag)
        };
        let sum = exact(a) + exact(b);
        if sum.sign() == Sign::NoSign {
            return LongDouble::ZERO;
        }
        let (q, e, sticky) = top_bits(sum.magnitude());
        let r = round_mag(q, e + MIN_EXP, sticky, PREC, MIN_EXP, MAX_EXP);
        LongDouble::from_rounded(sum.sign() == Sign::Minus, r)
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            if let Some(v) = parse(&bytes) {
                let _ = v.to_human_string();
                let _ = (v + v).to_f64();
            }
        }

        #[test]
        fn numberish_never_panics(s in "[-+]?(0[xX])?[0-9a-fA-F]{0,30}(\\.[0-9a-fA-F]{0,30})?([eEpP][-+]?[0-9]{0,6})?") {
            if let Some(v) = parse(s.as_bytes()) {
                // Redis stores the printed form; it must parse back (not necessarily equal).
                if v.is_finite() {
                    proptest::prop_assert!(parse(v.to_human_string().as_bytes()).is_some());
                }
            }
        }

        #[test]
        fn add_matches_big_integer_reference(
            (sa, ma, ea) in (proptest::bool::ANY, proptest::num::u64::ANY, MIN_EXP - 10..MAX_EXP + 10),
            (sb, mb) in (proptest::bool::ANY, proptest::num::u64::ANY),
            delta in proptest::prop_oneof![-3i64..3, -140i64..140, -40000i64..40000],
            low_bits in 0u32..64,
        ) {
            // Mantissas with runs of trailing zeros or ones make exact ties and near-ties.
            let mb = if low_bits % 2 == 0 { mb >> low_bits << low_bits } else { mb | ((1u64 << low_bits) - 1) };
            let a = finite(sa, ma, ea);
            let b = finite(sb, mb, ea + delta);
            let want = reference_add(a, b);
            proptest::prop_assert_eq!(a + b, want);
            proptest::prop_assert_eq!(b + a, want);
        }

        #[test]
        fn add_is_commutative_and_matches_f64_when_exact(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000, sa in 0u32..20, sb in 0u32..20) {
            // Small dyadic rationals: their sums are exact in both formats.
            let x = LongDouble::from_i64(a);
            let y = LongDouble::from_i64(b);
            let hex = |v: i64, s: u32| format!("{}0x{:x}p-{s}", if v < 0 { "-" } else { "" }, v.unsigned_abs());
            let xs = parse(hex(a, sa).as_bytes()).unwrap();
            let ys = parse(hex(b, sb).as_bytes()).unwrap();
            proptest::prop_assert_eq!(x + y, y + x);
            proptest::prop_assert_eq!((x + y).to_human_string(), (a + b).to_string());
            let want = a as f64 / f64::from(1u32 << sa) + b as f64 / f64::from(1u32 << sb);
            proptest::prop_assert_eq!((xs + ys).to_f64(), want);
        }
    }
}
