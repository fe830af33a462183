//! Zipmap: the packed string-to-string map of Redis 2.0 to 2.4 (RDB type 9). Redis 2.6 replaced
//! it with ziplists, but Redis still loads it (converting to a listpack).
//!
//! ```text
//! <zmlen: 1 byte, the pair count if < 254> (<len> field <len> <free> value <free bytes>)... <0xFF>
//! len = 1 byte if < 254, or 254 + u32 (host order; every real file is little endian)
//! ```
//!
//! `free` counts unused bytes left after a value by an in-place update; they are skipped.

use bytes::Bytes;
/// Walks a zipmap's pairs, bounds-checked like Redis's `zipmapValidateIntegrity`.
#[derive(Clone)]
pub struct Zipmap {
    data: Bytes,
    pos: usize,
    seen: u32,
    done: bool,
}

/// One pair: the byte ranges of the field and the value, and where the pair starts and ends.
pub struct Pair {
    pub pos: usize,
    pub len: usize,
    pub field: std::ops::Range<usize>,
    pub value: std::ops::Range<usize>,
}

impl Zipmap {
    pub fn new(data: Bytes) -> Result<Zipmap, (&'static str, usize)> {
        if data.len() < 2 {
            return Err(("zipmap is shorter than its header", 0));
        }
        if data[data.len() - 1] != 0xFF {
            return Err(("zipmap does not end with 0xFF", data.len() - 1));
        }
        Ok(Zipmap {
            data,
            pos: 1,
            seen: 0,
            done: false,
        })
    }

    fn len_at(&self, p: usize) -> Result<(usize, usize), (&'static str, usize)> {
        let d: &[u8] = &self.data;
        match d.get(p).copied() {
            Some(b) if b < 254 => Ok((usize::from(b), p + 1)),
            Some(254) => {
                let b = d.get(p + 1..p + 5).ok_or(("bad zipmap entry", p))?;
                Ok((u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, p + 5))
            }
            _ => Err(("bad zipmap entry", p)),
        }
    }

    pub fn next_pair(&mut self) -> Result<Option<Pair>, (&'static str, usize)> {
        if self.done {
            return Ok(None);
        }
        let d: &[u8] = &self.data;
        let p = self.pos;
        let last = d.len() - 1;
        if d.get(p) == Some(&0xFF) {
            if p != last {
                return Err(("zipmap end marker before its last byte", p));
            }
            if d[0] != 254 && u32::from(d[0]) != self.seen {
                return Err(("zipmap pair count does not match its header", 0));
            }
            if self.seen == 0 {
                return Err(("zipmap is empty", 0));
            }
            self.done = true;
            return Ok(None);
        }
        let (flen, q) = self.len_at(p)?;
        let fend = q.checked_add(flen).filter(|&e| e < last);
        let fend = fend.ok_or(("zipmap entry runs past the end", p))?;
        let (vlen, r) = self.len_at(fend)?;
        let free = usize::from(*d.get(r).ok_or(("bad zipmap entry", fend))?);
        let vstart = r + 1;
        let vend = vstart.checked_add(vlen).filter(|&e| e <= last);
        let vend = vend.ok_or(("zipmap entry runs past the end", p))?;
        let end = vend.checked_add(free).filter(|&e| e <= last);
        let end = end.ok_or(("zipmap entry runs past the end", p))?;
        self.pos = end;
        self.seen = self.seen.saturating_add(1);
        Ok(Some(Pair {
            pos: p,
            len: end - p,
            field: q..fend,
            value: vstart..vend,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_example_from_zipmap_c() {
        let zm = b"\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff";
        let mut z = Zipmap::new(Bytes::from_static(zm)).unwrap();
        let a = z.next_pair().unwrap().unwrap();
        assert_eq!(&zm[a.field], b"foo");
        assert_eq!(&zm[a.value], b"bar");
        let b = z.next_pair().unwrap().unwrap();
        assert_eq!(&zm[b.field], b"hello");
        assert_eq!(&zm[b.value], b"world");
        assert!(z.next_pair().unwrap().is_none());
        let bad = b"\x03\x03foo\x03\x00bar\xff";
        let mut z = Zipmap::new(Bytes::from_static(bad)).unwrap();
        assert!(z.next_pair().is_ok());
        assert!(z.next_pair().is_err());
    }
}
