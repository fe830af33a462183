//! The writing half of the format's primitives: length prefixes, strings (integer-encoded, LZF
//! or verbatim), listpacks, intsets and LZF compression, each producing the bytes Redis 7.0
//! produces for the same input.
//!
//! The reader's modules ([`super::listpack`], [`super::intset`], [`super::lzf`]) describe the
//! layouts; this file only builds them. Everything writes into a [`Sink`], so the same code fills
//! an in-memory buffer (a DUMP payload, one listpack) or streams straight into a file or socket
//! ([`super::writer`]).
//!
//! Byte-for-byte agreement with Redis matters for two reasons: a DUMP payload is compared with
//! Redis's in the differential tests, and a learner holding rtool's RDB next to Redis's in a hex
//! view should see the same choices (which strings became integers, which got compressed).

use std::cell::RefCell;

/// Where encoded bytes go. Writing cannot fail here: a sink that wraps I/O remembers its first
/// error and reports it when its owner next asks (see `writer::Out`), which keeps every
/// encoder below free of error plumbing.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Lengths and strings
// ---------------------------------------------------------------------------------------------

/// `RDB_ENCVAL << 6`: the top bits of a length byte announcing a specially encoded string.
const ENCVAL: u8 = 0xC0;
/// `RDB_ENC_INT8` / `INT16` / `INT32` / `LZF`, the low bits after [`ENCVAL`].
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Redis never tries to compress a string this short: LZF cannot gain the 4 bytes it asks for.
pub const LZF_MIN_LEN: usize = 21;

/// Writes a length in the smallest of the four forms (`rdbSaveLen`): 6 bits, 14 bits big
/// endian, `0x80` + u32 big endian, `0x81` + u64 big endian.
pub fn write_len<S: Sink + ?Sized>(out: &mut S, len: u64) {
    if len < 1 << 6 {
        out.put(&[len as u8]);
    } else if len < 1 << 14 {
        out.put(&[0x40 | (len >> 8) as u8, len as u8]);
    } else if len <= u64::from(u32::MAX) {
        let mut b = [0x80, 0, 0, 0, 0];
        b[1..].copy_from_slice(&(len as u32).to_be_bytes());
        out.put(&b);
    } else {
        let mut b = [0x81, 0, 0, 0, 0, 0, 0, 0, 0];
        b[1..].copy_from_slice(&len.to_be_bytes());
        out.put(&b);
    }
}

/// The integer form of a string (`rdbEncodeInteger`): 2, 3 or 5 bytes for values that fit 8,
/// 16 or 32 signed bits; `None` for anything wider (written as text instead).
pub fn encode_int(v: i64, buf: &mut [u8; 5]) -> Option<usize> {
    if i8::try_from(v).is_ok() {
        buf[0] = ENCVAL | ENC_INT8;
        buf[1] = v as u8;
        Some(2)
    } else if let Ok(x) = i16::try_from(v) {
        buf[0] = ENCVAL | ENC_INT16;
        buf[1..3].copy_from_slice(&x.to_le_bytes());
        Some(3)
    } else if let Ok(x) = i32::try_from(v) {
        buf[0] = ENCVAL | ENC_INT32;
        buf[1..5].copy_from_slice(&x.to_le_bytes());
        Some(5)
    } else {
        None
    }
}

/// Writes a string the way `rdbSaveRawString` does, which is how Redis writes *every* string
/// of an RDB (key names, values, members, aux fields, packed blobs):
///
/// 1. at most 11 bytes that read as a canonical integer fitting 32 bits: the integer form;
/// 2. with `compress` (`rdbcompression yes`) and more than 20 bytes: LZF, if that saves at
///    least 4 bytes;
/// 3. otherwise the length and the bytes.
pub fn write_string<S: Sink + ?Sized>(out: &mut S, s: &[u8], compress: bool) {
    if s.len() <= 11
        && let Some(v) = super::types::parse_strict_i64(s)
    {
        let mut buf = [0u8; 5];
        if let Some(n) = encode_int(v, &mut buf) {
            out.put(&buf[..n]);
            return;
        }
    }
    if compress && s.len() >= LZF_MIN_LEN {
        let done = with_lzf_scratch(|scratch| {
            // Redis gives the compressor `len - 4` bytes of room: it must save at least 4.
            let n = lzf_compress(s, s.len() - 4, scratch)?;
            out.put(&[ENCVAL | ENC_LZF]);
            write_len(out, n as u64);
            write_len(out, s.len() as u64);
            out.put(&scratch[..n]);
            Some(())
        });
        if done.is_some() {
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.put(s);
}

/// The encoded size of a string written verbatim (for callers that budget bytes).
pub fn raw_string_len(len: usize) -> usize {
    let prefix = if len < 1 << 6 {
        1
    } else if len < 1 << 14 {
        2
    } else if len as u64 <= u64::from(u32::MAX) {
        5
    } else {
        9
    };
    prefix + len
}

// ---------------------------------------------------------------------------------------------
// LZF
// ---------------------------------------------------------------------------------------------

/// liblzf's parameters as Redis builds it (`lzfP.h`): a 2^16-slot hash table, `VERY_FAST`.
const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// The compressor's hash table, reused across calls so that compressing a million small
/// strings does not clear (or allocate) half a megabyte each time.
///
/// A slot holds `generation + position + 1`; a value at or below the current generation is
/// from an earlier input and reads as empty. That gives exactly the behaviour of a freshly
/// zeroed table. (Redis's table is uninitialised stack memory, so in principle a stale slot
/// can steer it to a different but equally valid match; with a clean table our output is the
/// one Redis produces whenever no stale slot happens to match — in practice always, which the
/// DUMP differential tests check.)
struct LzfTable {
    slots: Vec<u64>,
    generation: u64,
}

/// Scratch output for compression, kept with the table.
struct LzfState {
    table: LzfTable,
    out: Vec<u8>,
}

thread_local! {
    static LZF: RefCell<Option<LzfState>> = const { RefCell::new(None) };
}

/// Runs `f` with a reusable output buffer; the buffer is shared with [`lzf_compress`]'s table
/// through the thread-local state, so nested use is not allowed (and not needed).
fn with_lzf_scratch<T>(f: impl FnOnce(&mut Vec<u8>) -> Option<T>) -> Option<T> {
    let mut scratch = LZF.with(|st| {
        st.borrow_mut()
            .as_mut()
            .map(|s| std::mem::take(&mut s.out))
            .unwrap_or_default()
    });
    let r = f(&mut scratch);
    // Keep a modest buffer for next time; a huge one would pin memory after one big string.
    if scratch.capacity() <= 1 << 20 {
        LZF.with(|st| {
            if let Some(s) = st.borrow_mut().as_mut() {
                s.out = scratch;
            }
        });
    }
    r
}

/// The hash of the 3 bytes at a position, from the running value `h` (liblzf's `IDX` in its
/// `VERY_FAST` form). `h` is a 32-bit accumulator: older bytes fall off the top.
fn lzf_idx(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Compresses `input` into `out` (cleared first) with liblzf's algorithm, giving up (`None`)
/// when the result would not fit in `max_out` bytes. Returns the compressed length.
///
/// The output is what Redis's bundled liblzf produces for the same input with the same room,
/// including its quirks: position 0 is never used as a match source, a match is extended 16
/// bytes at a time when far from the end (which can run up to two bytes past the nominal
/// limit near the end of the input), and after a match only its last two positions are
/// hashed. Any LZF decoder reads the result; matching Redis's choices makes DUMP payloads
/// comparable byte for byte.
pub fn lzf_compress(input: &[u8], max_out: usize, out: &mut Vec<u8>) -> Option<usize> {
    let in_len = input.len();
    if in_len == 0 || max_out == 0 {
        return None;
    }
    LZF.with(|st| {
        let mut st = st.borrow_mut();
        let state = st.get_or_insert_with(|| LzfState {
            table: LzfTable {
                slots: vec![0; HSIZE],
                generation: 0,
            },
            out: Vec::new(),
        });
        let table = &mut state.table;
        // A fresh generation makes every slot read as empty.
        let gen_base = table.generation;
        table.generation = gen_base + in_len as u64 + 1;
        compress_into(input, max_out, out, &mut table.slots, gen_base)
    })
}

fn compress_into(
    input: &[u8],
    max_out: usize,
    out: &mut Vec<u8>,
    slots: &mut [u64],
    gen_base: u64,
) -> Option<usize> {
    let in_len = input.len();
    out.clear();
    // Room for the output plus the few bytes liblzf may touch past its limit before noticing.
    out.resize(max_out + 8, 0);
    let out_end = max_out;
    let get = |slots: &[u64], i: usize| -> Option<usize> {
        let v = slots[i];
        (v > gen_base).then(|| (v - gen_base - 1) as usize)
    };
    let set = |slots: &mut [u64], i: usize, pos: usize| slots[i] = gen_base + pos as u64 + 1;

    let mut ip = 0usize;
    let mut op = 1usize; // a literal run's length byte goes first
    let mut lit = 0usize;
    if in_len < 2 {
        // liblzf reads two bytes to seed its hash even then; a 1-byte input is all literal.
        return finish_literals(input, 0, out, op, lit, out_end);
    }
    let mut hval: u32 = (u32::from(input[0]) << 8) | u32::from(input[1]);

    while ip + 2 < in_len {
        hval = (hval << 8) | u32::from(input[ip + 2]);
        let slot = lzf_idx(hval);
        let reference = get(slots, slot);
        set(slots, slot, ip);

        let found = match reference {
            Some(r) if r < ip => {
                let off = ip - r - 1;
                off < MAX_OFF
                    && r > 0
                    && input[r + 2] == input[ip + 2]
                    && input[r] == input[ip]
                    && input[r + 1] == input[ip + 1]
            }
            _ => false,
        };
        if found {
            let r = reference.unwrap_or(0);
            let off = ip - r - 1;
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);

            // First a cheap conservative bound, then the exact one.
            if op + 3 + 1 >= out_end && op - usize::from(lit == 0) + 3 + 1 >= out_end {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1);
            op -= usize::from(lit == 0);

            // liblzf compares 16 bytes unrolled when far from the limit, then one by one.
            let mut mismatch = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[r + len] != input[ip + len] {
                        mismatch = true;
                        break;
                    }
                }
            }
            if !mismatch {
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }

            len -= 2; // LZF stores a match length minus two
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start a new literal run

            ip += len + 1;
            if ip + 2 >= in_len {
                break;
            }
            // VERY_FAST: hash only the last two positions of the match.
            ip -= 2;
            hval = (u32::from(input[ip]) << 8) | u32::from(input[ip + 1]);
            hval = (hval << 8) | u32::from(input[ip + 2]);
            set(slots, lzf_idx(hval), ip);
            ip += 1;
            hval = (hval << 8) | u32::from(input[ip + 2]);
            set(slots, lzf_idx(hval), ip);
            ip += 1;
        } else {
            if op >= out_end {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    finish_literals(input, ip, out, op, lit, out_end)
}

/// The tail: the last (at most two) bytes go out as literals, then the open run is closed.
fn finish_literals(
    input: &[u8],
    mut ip: usize,
    out: &mut Vec<u8>,
    mut op: usize,
    mut lit: usize,
    out_end: usize,
) -> Option<usize> {
    if op + 3 > out_end {
        return None;
    }
    while ip < input.len() {
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(op)
}

// ---------------------------------------------------------------------------------------------
// Listpacks
// ---------------------------------------------------------------------------------------------

/// `LP_HDR_NUMELE_UNKNOWN`: the header's element count once there are too many to say.
const LP_NUMELE_UNKNOWN: u16 = u16::MAX;
/// Total bytes + element count.
const LP_HEADER: usize = 6;
const LP_EOF: u8 = 0xFF;

/// Redis's `lpStringToInt64`: the strings a listpack stores as integers. Like `string2ll`
/// (canonical decimal, no `+`, no leading zero, `-0` is a string) and shorter than 21 bytes.
pub fn lp_string_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    super::types::parse_strict_i64(s)
}

/// Redis's `double2ll`: a score that is a whole number within ±2^62 is stored in a listpack
/// as an integer (so `-0` becomes `0`); anything else as `%.17g` text.
pub fn double2ll(d: f64) -> Option<i64> {
    let limit = (i64::MAX / 2) as f64;
    if !(d >= -limit && d <= limit) {
        return None;
    }
    let ll = d as i64;
    (ll as f64 == d).then_some(ll)
}

/// Bytes an integer's encoding takes in a listpack (without the backlen).
fn lp_int_body(v: i64) -> usize {
    match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32_768..=32_767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    }
}

/// Bytes the backlen of an entry of `body` bytes takes.
fn lp_backlen_size(body: usize) -> usize {
    match body {
        0..=127 => 1,
        128..=16_382 => 2,
        16_383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Bytes one string takes once appended to a listpack: encoding, data and backlen (what
/// [`ListpackBuilder::push_str`] adds), without building anything.
pub fn lp_entry_len(s: &[u8]) -> usize {
    let body = match lp_string_int(s) {
        Some(v) => lp_int_body(v),
        None if s.len() < 64 => 1 + s.len(),
        None if s.len() < 4096 => 2 + s.len(),
        None => 5 + s.len(),
    };
    body + lp_backlen_size(body)
}

/// An empty listpack's size: the 6-byte header and the end byte.
pub const LP_EMPTY_BYTES: usize = LP_HEADER + 1;

/// Builds a listpack by appending, the way `lpAppend` / `lpAppendInteger` grow one.
#[derive(Clone, Debug)]
pub struct ListpackBuilder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackBuilder {
    fn default() -> Self {
        ListpackBuilder::new()
    }
}

impl ListpackBuilder {
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; LP_HEADER]);
        ListpackBuilder { buf, count: 0 }
    }

    /// Elements so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// `lpBytes` of the listpack as it would be finished now (header and end byte included).
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends a string; one that reads as an integer is stored as one (`lpAppend`).
    pub fn push_str(&mut self, s: &[u8]) {
        if let Some(v) = lp_string_int(s) {
            self.push_int(v);
            return;
        }
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf.push(0xE0 | (n >> 8) as u8);
            self.buf.push(n as u8);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        self.push_backlen(start);
    }

    /// Appends an integer in the smallest of the six integer encodings.
    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1FFF;
            self.buf.push(0xC0 | (u >> 8) as u8);
            self.buf.push(u as u8);
        } else if let Ok(x) = i16::try_from(v) {
            self.buf.push(0xF1);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            self.buf.push(0xF2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(x) = i32::try_from(v) {
            self.buf.push(0xF3);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else {
            self.buf.push(0xF4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        self.push_backlen(start);
    }

    fn push_backlen(&mut self, start: usize) {
        let mut b = [0u8; 5];
        let n = super::listpack::encode_backlen((self.buf.len() - start) as u64, &mut b);
        self.buf.extend_from_slice(&b[..n]);
        self.count += 1;
    }

    /// The finished listpack: header filled in, end byte appended.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(LP_EOF);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let n = if self.count < usize::from(LP_NUMELE_UNKNOWN) {
            self.count as u16
        } else {
            LP_NUMELE_UNKNOWN
        };
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

// ---------------------------------------------------------------------------------------------
// Intsets
// ---------------------------------------------------------------------------------------------

/// An intset blob: width (2, 4 or 8) and count as u32 little endian, then the sorted values
/// in that width, little endian. `values` must be sorted and fit `width`.
pub fn intset_blob(values: &[i64], width: u8) -> Vec<u8> {
    let w = usize::from(width);
    let mut b = Vec::with_capacity(8 + values.len() * w);
    b.extend_from_slice(&u32::from(width).to_le_bytes());
    b.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for &v in values {
        b.extend_from_slice(&v.to_le_bytes()[..w]);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &[u8], compress: bool) -> Vec<u8> {
        let mut v = Vec::new();
        write_string(&mut v, s, compress);
        v
    }

    #[test]
    fn lengths_in_four_sizes() {
        let enc = |n: u64| {
            let mut v = Vec::new();
            write_len(&mut v, n);
            v
        };
        assert_eq!(enc(63), [63]);
        assert_eq!(enc(64), [0x40, 64]);
        assert_eq!(enc(16383), [0x7F, 0xFF]);
        assert_eq!(enc(16384), [0x80, 0, 0, 0x40, 0]);
        assert_eq!(enc(1 << 32), [0x81, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn strings_like_rdb_save_raw_string() {
        assert_eq!(string(b"64", true), [0xC0, 64]);
        assert_eq!(string(b"-129", true), [0xC1, 0x7F, 0xFF]);
        assert_eq!(string(b"2147483647", true), [0xC2, 0xFF, 0xFF, 0xFF, 0x7F]);
        // Wider than 32 bits, or not canonical: text.
        assert_eq!(string(b"2147483648", true)[0], 10);
        assert_eq!(string(b"007", true), [3, b'0', b'0', b'7']);
        assert_eq!(string(b"-0", true), [2, b'-', b'0']);
        // Compressible and long enough: LZF.
        let a = vec![b'a'; 100];
        let c = string(&a, true);
        assert_eq!(c[0], 0xC3);
        assert!(c.len() < 20);
        assert_eq!(string(&a, false)[..2], [0x40, 100]);
        // Incompressible: verbatim.
        let noise: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(97) ^ 0x5A).collect();
        assert_eq!(string(&noise, true)[0], 40);
    }

    #[test]
    fn lzf_round_trips_through_the_reader() {
        let mut inputs: Vec<Vec<u8>> = vec![
            vec![b'x'; 1000],
            b"abcabcabcabcabcabcabcabcabcabcabcabc".to_vec(),
            (0..5000u32).map(|i| (i % 251) as u8).collect(),
            (0..3000u32).map(|i| (i * 7 % 13) as u8).collect(),
        ];
        let mut x = 12345u32;
        for len in [21, 22, 23, 40, 300, 9000] {
            inputs.push(
                (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(1103515245).wrapping_add(12345);
                        b"abcd"[(x >> 16) as usize % 4]
                    })
                    .collect(),
            );
        }
        let mut compressed = 0;
        for input in inputs {
            let mut out = Vec::new();
            // Short random inputs may not save 4 bytes: then there is nothing to check.
            let Some(n) = lzf_compress(&input, input.len() - 4, &mut out) else {
                continue;
            };
            compressed += 1;
            assert!(n <= input.len() - 4);
            let back = super::super::lzf::decompress(&out, input.len() as u64).unwrap();
            assert_eq!(back, input);
        }
        assert!(compressed >= 6);
    }

    #[test]
    fn lzf_matches_redis_bytes() {
        // DUMP of SET k <"a" x 100> on Redis 7.0.15: C3 09 40 64, then these 9 bytes: two
        // literals (position 0 is never a match source), a 96-byte run, two literals.
        let mut out = Vec::new();
        let n = lzf_compress(&[b'a'; 100], 96, &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[0x01, 0x61, 0x61, 0xE0, 0x57, 0x00, 0x01, 0x61, 0x61]
        );
    }

    #[test]
    fn listpack_encodings() {
        let mut lp = ListpackBuilder::new();
        for s in [
            &b"5"[..],
            b"-1",
            b"4095",
            b"-32768",
            b"100000",
            b"2147483647",
            b"abc",
        ] {
            lp.push_str(s);
        }
        lp.push_int(i64::MIN);
        let bytes = lp.finish();
        let mut r = super::super::listpack::Listpack::new(bytes::Bytes::from(bytes)).unwrap();
        let mut got = Vec::new();
        while let Some(e) = r.next_entry().unwrap() {
            got.push(e.elem);
        }
        use super::super::listpack::Elem;
        assert_eq!(got[0], Elem::Int(5));
        assert_eq!(got[1], Elem::Int(-1));
        assert_eq!(got[2], Elem::Int(4095));
        assert_eq!(got[3], Elem::Int(-32768));
        assert_eq!(got[4], Elem::Int(100000));
        assert_eq!(got[5], Elem::Int(2147483647));
        assert!(matches!(got[6], Elem::Str(_)));
        assert_eq!(got[7], Elem::Int(i64::MIN));
    }

    #[test]
    fn entry_sizes_agree_with_the_builder() {
        let mut samples: Vec<Vec<u8>> = ["0", "127", "128", "-4096", "4096", "-32769", "8388608"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        samples.push(b"2147483648".to_vec());
        for n in [0, 1, 63, 64, 126, 127, 4095, 4096, 20000] {
            samples.push(vec![b'x'; n]);
        }
        for s in samples {
            let mut lp = ListpackBuilder::new();
            let before = lp.bytes();
            lp.push_str(&s);
            assert_eq!(lp.bytes() - before, lp_entry_len(&s), "{}", s.len());
        }
    }

    #[test]
    fn double2ll_like_redis() {
        assert_eq!(double2ll(-0.0), Some(0));
        assert_eq!(double2ll(1e17), Some(100_000_000_000_000_000));
        assert_eq!(double2ll(1.5), None);
        assert_eq!(double2ll(1e19), None);
        assert_eq!(double2ll(f64::INFINITY), None);
        assert_eq!(double2ll(f64::NAN), None);
    }
}
