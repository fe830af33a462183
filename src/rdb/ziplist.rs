//! Ziplist: the packed list of Redis 2.6 to 6.2 (RDB types 10, 12, 13 and quicklist v1 nodes).
//! Redis 7 converts every ziplist it loads into a listpack, so it only exists in old files.
//!
//! ```text
//! <zlbytes u32 LE> <zltail u32 LE> <zllen u16 LE, 65535 = unknown> <entry>... <0xFF>
//! entry = <prevlen: 1 byte < 254, or 0xFE + u32 LE> <encoding> <data>
//! ```
//!
//! | encoding | meaning |
//! | --- | --- |
//! | `00LLLLLL` | string up to 63 bytes |
//! | `01LLLLLL LLLLLLLL` | string up to 16383 bytes (big endian!) |
//! | `10______` + u32 BE | longer string |
//! | `0xC0` / `0xD0` / `0xE0` | int16 / int32 / int64, LE |
//! | `0xF0` / `0xFE` | int24 / int8 |
//! | `0xF1`..`0xFD` | immediate 0..12 |
//!
//! `prevlen` (the previous entry's size, for walking backwards) is checked like Redis's
//! `ziplistValidateIntegrity` does, as is `zltail`.

use super::listpack::{Elem, Entry};
use bytes::Bytes;

const HEADER: usize = 10;

/// Walks a ziplist one entry at a time, bounds-checked.
#[derive(Clone)]
pub struct Ziplist {
    data: Bytes,
    pos: usize,
    prev_len: usize,
    last_pos: usize,
    declared: u16,
    seen: u32,
    done: bool,
}

impl Ziplist {
    pub fn new(data: Bytes) -> Result<Ziplist, (&'static str, usize)> {
        if data.len() < HEADER + 1 {
            return Err(("ziplist is shorter than its header", 0));
        }
        let total = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if total != data.len() {
            return Err(("ziplist size header does not match its length", 0));
        }
        if data[data.len() - 1] != 0xFF {
            return Err(("ziplist does not end with 0xFF", data.len() - 1));
        }
        let declared = u16::from_le_bytes([data[8], data[9]]);
        Ok(Ziplist {
            data,
            pos: HEADER,
            prev_len: 0,
            last_pos: HEADER,
            declared,
            seen: 0,
            done: false,
        })
    }

    pub fn next_entry(&mut self) -> Result<Option<Entry>, (&'static str, usize)> {
        if self.done {
            return Ok(None);
        }
        let d: &[u8] = &self.data;
        let p = self.pos;
        let at = |i: usize| d.get(i).copied().ok_or(("bad ziplist entry", p));
        if at(p)? == 0xFF {
            if p != d.len() - 1 {
                return Err(("ziplist end marker before its last byte", p));
            }
            let tail = u32::from_le_bytes([d[4], d[5], d[6], d[7]]) as usize;
            if tail != self.last_pos {
                return Err(("ziplist tail offset does not point at its last entry", 4));
            }
            if self.declared != u16::MAX && u32::from(self.declared) != self.seen {
                return Err(("ziplist element count does not match its header", 8));
            }
            self.done = true;
            return Ok(None);
        }
        let (prevlen, mut q) = if at(p)? < 254 {
            (usize::from(at(p)?), p + 1)
        } else if at(p)? == 254 {
            let b = d.get(p + 1..p + 5).ok_or(("bad ziplist entry", p))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, p + 5)
        } else {
            return Err(("bad ziplist entry", p));
        };
        if prevlen != self.prev_len {
            return Err(("ziplist entry's previous-length does not match", p));
        }
        let e = at(q)?;
        let fixed = |from: usize, n: usize| d.get(from..from + n).ok_or(("bad ziplist entry", p));
        let (elem, end) = match e >> 6 {
            0 => {
                let n = usize::from(e & 0x3f);
                q += 1;
                (Elem::Str(q..q + n), q + n)
            }
            1 => {
                let n = (usize::from(e & 0x3f) << 8) | usize::from(at(q + 1)?);
                q += 2;
                (Elem::Str(q..q + n), q + n)
            }
            2 => {
                let b = fixed(q + 1, 4)?;
                let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
                q += 5;
                let end = q.checked_add(n).ok_or(("bad ziplist entry", p))?;
                (Elem::Str(q..end), end)
            }
            _ => {
                let (size, v) = match e {
                    0xC0 => {
                        let b = fixed(q + 1, 2)?;
                        (2, i64::from(i16::from_le_bytes([b[0], b[1]])))
                    }
                    0xD0 => {
                        let b = fixed(q + 1, 4)?;
                        (4, i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    }
                    0xE0 => {
                        let b = fixed(q + 1, 8)?;
                        let mut a = [0u8; 8];
                        a.copy_from_slice(b);
                        (8, i64::from_le_bytes(a))
                    }
                    0xF0 => {
                        let b = fixed(q + 1, 3)?;
                        (3, i64::from(i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8))
                    }
                    0xFE => (1, i64::from(fixed(q + 1, 1)?[0] as i8)),
                    0xF1..=0xFD => (0, i64::from(e & 0x0f) - 1),
                    _ => return Err(("bad ziplist entry encoding", q)),
                };
                (Elem::Int(v), q + 1 + size)
            }
        };
        self.advance(p, end)?;
        Ok(Some(Entry {
            pos: p,
            len: end - p,
            elem,
        }))
    }

    fn advance(&mut self, p: usize, end: usize) -> Result<(), (&'static str, usize)> {
        // The entry must end before the end marker.
        if end > self.data.len() - 1 {
            return Err(("ziplist entry runs past the end", p));
        }
        self.prev_len = end - p;
        self.last_pos = p;
        self.pos = end;
        self.seen = self.seen.saturating_add(1);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a ziplist from encoded entries (encoding+data, without prevlen).
    pub(crate) fn build(entries: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut last = HEADER;
        for e in entries {
            last = HEADER + body.len();
            let start = body.len();
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(254);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            body.extend_from_slice(e);
            prev = body.len() - start;
        }
        let total = HEADER + body.len() + 1;
        let mut out = Vec::new();
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(last as u32).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(0xFF);
        out
    }

    #[test]
    fn every_encoding() {
        let long = {
            let mut v = vec![0x40 | 1, 44];
            v.extend_from_slice(&[b'y'; 300]);
            v
        };
        let zl = build(&[
            &[0x03, b'a', b'b', b'c'],
            &[0xC0, 0x00, 0x80],
            &[0xD0, 1, 0, 0, 0],
            &[0xE0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            &[0xF0, 0xA0, 0x86, 0x01],
            &[0xFE, 0x80],
            &[0xF1],
            &[0xFD],
            &long,
            &[0x01, b'z'],
        ]);
        let mut it = Ziplist::new(Bytes::from(zl.clone())).unwrap();
        let mut v = Vec::new();
        while let Some(e) = it.next_entry().unwrap() {
            v.push(e.elem);
        }
        assert_eq!(v.len(), 10);
        assert_eq!(v[1], Elem::Int(-32768));
        assert_eq!(v[2], Elem::Int(1));
        assert_eq!(v[3], Elem::Int(-1));
        assert_eq!(v[4], Elem::Int(100000));
        assert_eq!(v[5], Elem::Int(-128));
        assert_eq!(v[6], Elem::Int(0));
        assert_eq!(v[7], Elem::Int(12));
        let Elem::Str(r) = &v[8] else { panic!() };
        assert_eq!(r.len(), 300);
        let Elem::Str(r) = &v[9] else { panic!() };
        assert_eq!(&zl[r.clone()], b"z");
    }
}
