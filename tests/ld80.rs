//! rtool's software `long double` against the real thing: a real redis-server computes
//! INCRBYFLOAT/HINCRBYFLOAT with x87 arithmetic and glibc's strtold/printf, and every reply
//! must equal, byte for byte, what `rtool::ld80` predicts.
//!
//! The inputs are deterministic pseudo-random numbers of many shapes (short and long decimals,
//! exponents near both ends of the range, hex floats, exact binary ties for the parser and for
//! the printer, invalid spellings) used alone, in pairs and in chains on one key.

mod util;

use num_bigint::BigUint;
use rtool::ld80;
use util::{Conn, Server};

/// splitmix64: a tiny deterministic generator, so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
    fn sign(&mut self) -> &'static str {
        match self.below(4) {
            0 => "-",
            1 if self.below(4) == 0 => "+",
            _ => "",
        }
    }
}

/// `m × 2^-n` written as its exact decimal expansion.
fn exact_dyadic(m: &BigUint, n: u32) -> String {
    let scaled = (m * BigUint::from(5u32).pow(n)).to_string();
    let n = n as usize;
    if n == 0 {
        return scaled;
    }
    let padded = format!(
        "{}{scaled}",
        "0".repeat((n + 1).saturating_sub(scaled.len()))
    );
    let (int, frac) = padded.split_at(padded.len() - n);
    format!("{int}.{frac}")
}

/// One number in one of many shapes; some are deliberately invalid or out of range.
fn number(rng: &mut Rng) -> String {
    let sign = rng.sign();
    match rng.below(12) {
        // Everyday decimals.
        0 => {
            let int = rng.below(7) as usize;
            let frac = rng.below(11) as usize;
            let mut s = format!("{sign}{}", rng.digits(int.max(1)));
            if frac > 0 {
                s = format!("{s}.{}", rng.digits(frac));
            }
            s
        }
        // Long mantissas (beyond 64 bits of information) with the point anywhere.
        1 => {
            let n = rng.range(15, 45) as usize;
            let d = rng.digits(n);
            let p = rng.below(n as u64 + 1) as usize;
            format!("{sign}{}.{}", &d[..p], &d[p..])
        }
        // Scientific notation across ordinary magnitudes.
        2 => {
            let n = rng.range(1, 20) as usize;
            let d = rng.digits(n);
            let e = rng.range(-40, 40);
            let mark = if rng.below(2) == 0 { "e" } else { "E" };
            format!("{sign}{}.{}{mark}{e}", &d[..1], &d[1..])
        }
        // Near the ends of the range: huge results print thousands of digits, tiny ones are
        // denormal or underflow; some overflow or underflow to zero and must be refused.
        3 => {
            let e = if rng.below(2) == 0 {
                rng.range(4890, 4935)
            } else {
                rng.range(-4955, -4920)
            };
            let lead = rng.below(9) + 1;
            let n = rng.below(20) as usize;
            format!("{sign}{lead}.{}e{e}", rng.digits(n))
        }
        // Integers, including around 2^63 and 2^64 where the 64-bit significand runs out.
        4 => match rng.below(3) {
            0 => (rng.next() as i64).to_string(),
            1 => format!(
                "{sign}{}",
                (1u128 << rng.range(60, 70)) as i128 + rng.range(-3, 3) as i128
            ),
            _ => format!("{sign}{}", rng.below(1_000_000)),
        },
        // Hex floats, exact or needing rounding.
        5 => {
            let h: String = (0..rng.range(1, 20))
                .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
                .collect();
            format!("{sign}0x{}.{}p{}", &h[..1], &h[1..], rng.range(-80, 80))
        }
        // Exact binary values whose 18th decimal is a lone 5 (an odd multiple of 2^-18,
        // plus an integer part): the printer's tie rule. Sometimes finer, for near-ties.
        6 => {
            let n = if rng.below(3) == 0 {
                rng.range(19, 30) as u32
            } else {
                18
            };
            let bits = rng.below(40);
            let int = BigUint::from(rng.below(1 << bits)) << n;
            let k = BigUint::from(rng.below(1 << 18) | 1);
            format!("{sign}{}", exact_dyadic(&(int + k), n))
        }
        // Halfway between two long doubles (a 65-bit odd significand), exactly or nudged
        // above: the parser's tie rule, at magnitudes where the last bit shows when printed.
        7 => {
            let m = (BigUint::from(rng.next() | 1 << 63) << 1u32) | BigUint::from(1u32);
            let n = rng.range(0, 60) as u32;
            let s = exact_dyadic(&m, n);
            let nudge = if rng.below(3) == 0 && s.contains('.') {
                "0000001"
            } else {
                ""
            };
            format!("{sign}{s}{nudge}")
        }
        // Values whose printed forms end in many nines or zeros.
        8 => {
            let base = rng.range(0, 100_000);
            match rng.below(3) {
                0 => format!("{sign}{base}.{}", "9".repeat(rng.range(10, 25) as usize)),
                1 => format!("{sign}{base}.{}1", "0".repeat(rng.range(10, 25) as usize)),
                _ => format!("{sign}{base}.5"),
            }
        }
        // Spellings strtold accepts that Redis refuses, or that end in infinity.
        9 => {
            let odd = [
                "inf",
                "-inf",
                "+INF",
                "infinity",
                "nan",
                "-nan",
                "1e",
                "1e+",
                " 1",
                "1 ",
                "",
                "abc",
                "1.5.5",
                "0x",
                "1e5000",
                "-1e5000",
                "1e-5000",
                "0x1p-16500",
                ".",
                "+.5",
                "1.",
                "-0",
                "0e999999",
                "0x.8",
                "1,5",
                "\t2",
                "5\n",
            ];
            odd[rng.below(odd.len() as u64) as usize].to_string()
        }
        // Small powers of ten and simple fractions, the values people type.
        10 => {
            let opts = [
                "0.1", "0.2", "0.3", "0.01", "0.001", "1.1", "2.5", "3.14159", "1e10", "1e-10",
                "100", "0.5",
            ];
            format!("{sign}{}", opts[rng.below(opts.len() as u64) as usize])
        }
        // Plain random i64 text (an integer-encoded string in Redis).
        _ => format!("{}", rng.next() as i64 >> rng.below(60)),
    }
}

/// A reply as Redis encodes it: the new value as a bulk string, or the error.
fn reply(r: Result<String, &str>) -> (Vec<u8>, Option<Vec<u8>>) {
    match r {
        Ok(s) => (
            format!("${}\r\n{s}\r\n", s.len()).into_bytes(),
            Some(s.into_bytes()),
        ),
        Err(e) => (format!("-ERR {e}\r\n").into_bytes(), None),
    }
}

/// What Redis 7.0 replies to INCRBYFLOAT given the stored value (None: no key), computed with
/// rtool's emulation, and the value stored afterwards.
fn predict_incrbyfloat(cur: Option<&[u8]>, incr: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
    reply(ld80::incrbyfloat(cur.unwrap_or(b"0"), incr))
}

/// The same for HINCRBYFLOAT, whose checks come in another order.
fn predict_hincrbyfloat(cur: Option<&[u8]>, incr: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
    reply(ld80::hincrbyfloat_increment(incr).and_then(|i| ld80::hincrbyfloat(cur, i)))
}

/// Compares replies and remembers mismatches (reported together at the end).
struct Checker {
    conn: Conn,
    compared: usize,
    errors: usize,
    failures: Vec<String>,
}

impl Checker {
    fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.conn.send(args);
        self.conn.read_reply().expect("reply from redis-server")
    }

    fn check(&mut self, what: String, got: Vec<u8>, want: &[u8]) {
        self.compared += 1;
        self.errors += usize::from(want.starts_with(b"-"));
        if got != want {
            self.failures.push(format!(
                "{what}\n   redis: {:?}\n   ld80:  {:?}",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(want)
            ));
        }
    }

    /// One INCRBYFLOAT on `key` whose current value the caller tracks.
    fn incr(&mut self, key: &str, cur: &mut Option<Vec<u8>>, incr: &str) {
        let (want, new) = predict_incrbyfloat(cur.as_deref(), incr.as_bytes());
        let got = self.call(&[b"INCRBYFLOAT", key.as_bytes(), incr.as_bytes()]);
        self.check(
            format!(
                "{:?} INCRBYFLOAT {incr:?}",
                cur.as_deref().map(String::from_utf8_lossy)
            ),
            got,
            &want,
        );
        if new.is_some() {
            *cur = new;
        }
    }

    fn hincr(&mut self, cur: &mut Option<Vec<u8>>, incr: &str) {
        let (want, new) = predict_hincrbyfloat(cur.as_deref(), incr.as_bytes());
        let got = self.call(&[b"HINCRBYFLOAT", b"h", b"f", incr.as_bytes()]);
        self.check(
            format!(
                "{:?} HINCRBYFLOAT {incr:?}",
                cur.as_deref().map(String::from_utf8_lossy)
            ),
            got,
            &want,
        );
        if new.is_some() {
            *cur = new;
        }
    }
}

#[test]
fn incrbyfloat_matches_real_redis_byte_for_byte() {
    if !util::have_redis() {
        return;
    }
    let server = Server::redis(&[]);
    let mut c = Checker {
        conn: server.conn(),
        compared: 0,
        errors: 0,
        failures: Vec::new(),
    };
    // LD80_ROUNDS=n repeats the random part with n different seeds (a longer soak by hand).
    let rounds: u64 = std::env::var("LD80_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);

    // The examples that motivated the module.
    for (a, b) in [
        ("0.1", "12345.678"),
        ("0.1", "1e10"),
        ("0.1", "3.0e3"),
        ("0.1", "0.2"),
        ("10.50", "0.1"),
        ("1", "1e17"),
        ("1", "1e300"),
    ] {
        c.call(&[b"SET", b"k", a.as_bytes()]);
        let mut cur = Some(a.as_bytes().to_vec());
        c.incr("k", &mut cur, b);
    }

    for round in 0..rounds {
        let mut rng = Rng(0x1d80_2026 + round);
        // Single increments of a missing key: the parser and printer alone.
        for _ in 0..300 {
            c.call(&[b"DEL", b"k"]);
            let mut cur = None;
            let x = number(&mut rng);
            c.incr("k", &mut cur, &x);
        }

        // Pairs: a stored string (maybe invalid) plus an increment.
        for _ in 0..400 {
            let a = number(&mut rng);
            let b = number(&mut rng);
            c.call(&[b"SET", b"k", a.as_bytes()]);
            let mut cur = Some(a.into_bytes());
            c.incr("k", &mut cur, &b);
        }

        // Pairs of nearly equal magnitude and opposite sign: cancellation exposes low bits.
        for _ in 0..150 {
            let a = number(&mut rng);
            let b = match a.strip_prefix('-') {
                Some(pos) => pos.to_string(),
                None => format!("-{}", a.trim_start_matches('+')),
            };
            let extra = rng.below(4) as usize + 1;
            let b = if rng.below(2) == 0 {
                b
            } else {
                format!("{b}{}", rng.digits(extra))
            };
            c.call(&[b"SET", b"k", a.as_bytes()]);
            let mut cur = Some(a.into_bytes());
            c.incr("k", &mut cur, &b);
        }

        // Sums that land within a hair of a rounding tie after shifting far past the bottom of
        // the larger operand: only exact sticky-bit handling gets these right, in both directions.
        for _ in 0..60 {
            let k = rng.range(64, 110);
            let sign = if rng.below(2) == 0 { "-" } else { "" };
            // A full 64-bit significand (16 hex digits, the last even), often 1 + j·2^-63, whose
            // low bits fall below the sum's last place and sit exactly on or off the tie.
            let mut hex: String = (0..15)
                .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
                .collect();
            if rng.below(2) == 0 {
                hex = "0".repeat(15);
            }
            hex.push(char::from(b"2468ace"[rng.below(7) as usize]));
            let a = (BigUint::from(1u32) << k as u32).to_string();
            let b = format!("{sign}0x1.{hex}p{}", k - 65 + rng.range(-1, 1));
            c.call(&[b"SET", b"k", a.as_bytes()]);
            let mut cur = Some(a.into_bytes());
            c.incr("k", &mut cur, &b);
        }

        // Very long inputs (up to Redis's 5119-byte limit): every digit must count in rounding.
        for len in [300usize, 1000, 2500, 4000, 5000, 5116, 5117, 5118] {
            let mut digits = rng.digits(len);
            digits.replace_range(..1, "7");
            let e = rng.range(-4955 - len as i64, 4935 - len as i64);
            for x in [
                format!("0.{digits}"),
                format!("{}.{}", &digits[..40], &digits[40..]),
                format!("{digits}e{e}"),
            ] {
                c.call(&[b"DEL", b"k"]);
                let mut cur = None;
                c.incr("k", &mut cur, &x);
            }
        }

        // Chains on one key: each result is stored as text and parsed again by the next step.
        for _ in 0..60 {
            c.call(&[b"DEL", b"k"]);
            let mut cur = None;
            for _ in 0..rng.range(3, 10) {
                let x = number(&mut rng);
                c.incr("k", &mut cur, &x);
            }
        }

        // HINCRBYFLOAT shares the arithmetic but not the order of checks.
        for _ in 0..40 {
            c.call(&[b"DEL", b"h"]);
            let mut cur = None;
            for _ in 0..rng.range(2, 6) {
                let x = number(&mut rng);
                c.hincr(&mut cur, &x);
            }
        }
    }

    eprintln!(
        "ld80: compared {} replies with real redis-server ({} numbers, {} errors), {} mismatches",
        c.compared,
        c.compared - c.errors,
        c.errors,
        c.failures.len()
    );
    assert!(
        c.failures.is_empty(),
        "{} of {} replies differ:\n{}",
        c.failures.len(),
        c.compared,
        c.failures
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
