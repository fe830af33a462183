//! Listpack: the packed list Redis 7 uses for small hashes, sets, sorted sets, quicklist nodes
//! and stream nodes.
//!
//! ```text
//! <total-bytes u32 LE> <num-elements u16 LE, 65535 = unknown> <entry>... <0xFF>
//! entry = <encoding+data> <backlen>
//! ```
//!
//! The first byte of an entry says what it is:
//!
//! | first byte | meaning |
//! | --- | --- |
//! | `0xxxxxxx` | integer 0..127 |
//! | `10LLLLLL` | string of up to 63 bytes |
//! | `110xxxxx` + 1 byte | 13-bit signed integer |
//! | `1110LLLL` + 1 byte | string of up to 4095 bytes |
//! | `0xF0` + u32 LE | longer string |
//! | `0xF1` / `F2` / `F3` / `F4` | signed 16 / 24 / 32 / 64-bit integer, LE |
//! | `0xFF` | end |
//!
//! `backlen` is the size of encoding+data written so that it can be read backwards (1 to 5
//! bytes, 7 bits each). Going forwards we only need its size, but we check its value too, as
//! Redis's `lpValidateNext` does: a wrong backlen is how corruption usually shows.

use bytes::Bytes;
use std::ops::Range;

/// One element of a packed container: either an integer the container stored as such, or a
/// string (a byte range of the container).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Elem {
    Int(i64),
    Str(Range<usize>),
}

/// An element and where it sits in its container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Offset of the entry's first byte in the container.
    pub pos: usize,
    /// Size of the whole entry (header, data and trailer).
    pub len: usize,
    pub elem: Elem,
}

/// Walks a listpack one entry at a time. Every read is bounds-checked: a corrupt listpack ends
/// in an error naming the position, never a panic.
#[derive(Clone)]
pub struct Listpack {
    data: Bytes,
    pos: usize,
    declared: u16,
    seen: u32,
    done: bool,
}

const HEADER: usize = 6;

impl Listpack {
    /// Checks the header: the total size must be the blob's size and the last byte the end
    /// marker (`lpValidateIntegrity` with `deep = 0`).
    pub fn new(data: Bytes) -> Result<Listpack, (&'static str, usize)> {
        if data.len() < HEADER + 1 {
            return Err(("listpack is shorter than its header", 0));
        }
        let total = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if total != data.len() {
            return Err(("listpack size header does not match its length", 0));
        }
        if data[data.len() - 1] != 0xFF {
            return Err(("listpack does not end with 0xFF", data.len() - 1));
        }
        let declared = u16::from_le_bytes([data[4], data[5]]);
        Ok(Listpack {
            data,
            pos: HEADER,
            declared,
            seen: 0,
            done: false,
        })
    }

    /// The element count in the header, if it is known (65535 means "count them").
    pub fn declared_len(&self) -> Option<u16> {
        (self.declared != u16::MAX).then_some(self.declared)
    }

    /// The next entry, `Ok(None)` at the end marker.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, (&'static str, usize)> {
        if self.done {
            return Ok(None);
        }
        let p = self.pos;
        let d: &[u8] = &self.data;
        let at = |i: usize| d.get(i).copied().ok_or(("bad listpack entry", p));
        let b = at(p)?;
        if b == 0xFF {
            if p != d.len() - 1 {
                return Err(("listpack end marker before its last byte", p));
            }
            if self.declared != u16::MAX && u32::from(self.declared) != self.seen {
                return Err(("listpack element count does not match its header", 4));
            }
            self.done = true;
            return Ok(None);
        }
        // (header size, data size, element)
        let (hdr, dlen, elem): (usize, usize, Option<i64>) = if b & 0x80 == 0 {
            (1, 0, Some(i64::from(b & 0x7f)))
        } else if b & 0xC0 == 0x80 {
            (1, usize::from(b & 0x3f), None)
        } else if b & 0xE0 == 0xC0 {
            let raw = (u16::from(b & 0x1f) << 8) | u16::from(at(p + 1)?);
            // Sign-extend 13 bits.
            let v = if raw >= 1 << 12 {
                i64::from(raw) - (1 << 13)
            } else {
                i64::from(raw)
            };
            (2, 0, Some(v))
        } else if b & 0xF0 == 0xE0 {
            (
                2,
                (usize::from(b & 0x0f) << 8) | usize::from(at(p + 1)?),
                None,
            )
        } else {
            match b {
                0xF0 => {
                    let n = u32::from_le_bytes(self.fixed::<4>(p + 1)?);
                    (5, n as usize, None)
                }
                0xF1 => (
                    3,
                    0,
                    Some(i64::from(i16::from_le_bytes(self.fixed(p + 1)?))),
                ),
                0xF2 => {
                    let [x, y, z] = self.fixed::<3>(p + 1)?;
                    // Put the 24 bits at the top of an i32 and shift back to sign-extend.
                    let v = i32::from_le_bytes([0, x, y, z]) >> 8;
                    (4, 0, Some(i64::from(v)))
                }
                0xF3 => (
                    5,
                    0,
                    Some(i64::from(i32::from_le_bytes(self.fixed(p + 1)?))),
                ),
                0xF4 => (9, 0, Some(i64::from_le_bytes(self.fixed(p + 1)?))),
                _ => return Err(("bad listpack entry encoding", p)),
            }
        };
        let body = hdr.checked_add(dlen).ok_or(("bad listpack entry", p))?;
        let mut back = [0u8; 5];
        let blen = encode_backlen(body as u64, &mut back);
        let end = p
            .checked_add(body)
            .and_then(|e| e.checked_add(blen))
            .ok_or(("bad listpack entry", p))?;
        // The entry and its backlen must end before the end marker.
        if end > d.len() - 1 {
            return Err(("listpack entry runs past the end", p));
        }
        if d[p + body..end] != back[..blen] {
            return Err(("bad listpack entry length trailer", p + body));
        }
        self.pos = end;
        self.seen = self.seen.saturating_add(1);
        let elem = match elem {
            Some(v) => Elem::Int(v),
            None => Elem::Str(p + hdr..p + body),
        };
        Ok(Some(Entry {
            pos: p,
            len: end - p,
            elem,
        }))
    }

    fn fixed<const N: usize>(&self, at: usize) -> Result<[u8; N], (&'static str, usize)> {
        self.data
            .get(at..at + N)
            .and_then(|s| s.try_into().ok())
            .ok_or(("bad listpack entry", at.saturating_sub(1)))
    }
}

/// Writes the backlen of an entry of `l` bytes (Redis's `lpEncodeBacklen`): big-endian 7-bit
/// groups where every byte but the first has its top bit set, so a reader walking backwards
/// knows when to stop. Returns the number of bytes.
pub fn encode_backlen(l: u64, buf: &mut [u8; 5]) -> usize {
    let n = if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    };
    for (i, slot) in buf.iter_mut().take(n).enumerate() {
        let shift = 7 * (n - 1 - i);
        let group = ((l >> shift) & 127) as u8;
        *slot = if i == 0 {
            // The first byte keeps whatever high bits remain (Redis does not mask it).
            (l >> shift) as u8
        } else {
            group | 128
        };
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a listpack from already-encoded entries (without backlen).
    pub(crate) fn build(entries: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        for e in entries {
            body.extend_from_slice(e);
            let mut b = [0u8; 5];
            let n = encode_backlen(e.len() as u64, &mut b);
            body.extend_from_slice(&b[..n]);
        }
        let total = HEADER + body.len() + 1;
        let mut out = Vec::new();
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(0xFF);
        out
    }

    fn all(data: &[u8]) -> Vec<Elem> {
        let mut lp = Listpack::new(Bytes::copy_from_slice(data)).unwrap();
        let mut v = Vec::new();
        while let Some(e) = lp.next_entry().unwrap() {
            v.push(e.elem);
        }
        v
    }

    #[test]
    fn every_encoding() {
        let lp = build(&[
            &[5],
            &[0x83, b'a', b'b', b'c'],
            &[0xDF, 0xFF],             // 13-bit -1
            &[0xC0 | 0x0F, 0xFF],      // 13-bit 4095
            &[0xF1, 0x00, 0x80],       // i16 -32768
            &[0xF2, 0xA0, 0x86, 0x01], // i24 100000
            &[0xF2, 0xFF, 0xFF, 0xFF], // i24 -1
            &[0xF3, 1, 0, 0, 0x80],    // i32
            &[0xF4, 0, 0, 0, 0, 0, 0, 0, 0x80],
        ]);
        let v = all(&lp);
        assert_eq!(v[0], Elem::Int(5));
        assert_eq!(v[1], Elem::Str(9..12));
        assert_eq!(v[2], Elem::Int(-1));
        assert_eq!(v[3], Elem::Int(4095));
        assert_eq!(v[4], Elem::Int(-32768));
        assert_eq!(v[5], Elem::Int(100000));
        assert_eq!(v[6], Elem::Int(-1));
        assert_eq!(v[7], Elem::Int(i64::from(i32::MIN) + 1));
        assert_eq!(v[8], Elem::Int(i64::MIN));
    }

    #[test]
    fn long_strings_have_multi_byte_backlen() {
        let s = vec![b'x'; 300];
        let mut e = vec![0xE0 | 1, 44];
        e.extend_from_slice(&s);
        let lp = build(&[&e]);
        assert_eq!(all(&lp), vec![Elem::Str(8..308)]);
    }

    #[test]
    fn corruption_is_an_error() {
        let good = build(&[&[0x83, b'a', b'b', b'c'], &[7]]);
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                if let Ok(mut lp) = Listpack::new(Bytes::from(bad)) {
                    while let Ok(Some(_)) = lp.next_entry() {}
                }
            }
        }
        let mut bad = good.clone();
        bad[4] = 3; // count says 3, there are 2
        let mut lp = Listpack::new(Bytes::from(bad)).unwrap();
        assert!(lp.next_entry().is_ok());
        assert!(lp.next_entry().is_ok());
        assert!(lp.next_entry().is_err());
    }
}
