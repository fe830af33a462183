//! Intset: a sorted array of integers, the encoding of small all-integer sets (RDB type 11).
//!
//! ```text
//! <encoding u32 LE: 2, 4 or 8 = bytes per element> <length u32 LE> <elements, LE, ascending>
//! ```
//!
//! Like Redis's `intsetValidateIntegrity` (deep), the size must match the header exactly and
//! the elements must be strictly ascending: a set that is not sorted would break every lookup.

use bytes::Bytes;
/// Walks an intset, bounds-checked.
#[derive(Clone)]
pub struct Intset {
    data: Bytes,
    width: usize,
    index: usize,
    count: usize,
    last: Option<i64>,
}

impl Intset {
    pub fn new(data: Bytes) -> Result<Intset, (&'static str, usize)> {
        if data.len() < 8 {
            return Err(("intset is shorter than its header", 0));
        }
        let width = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if !matches!(width, 2 | 4 | 8) {
            return Err(("intset has a bad integer width", 0));
        }
        let count = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
        if count.checked_mul(width).and_then(|n| n.checked_add(8)) != Some(data.len()) {
            return Err(("intset size does not match its header", 4));
        }
        Ok(Intset {
            data,
            width,
            index: 0,
            count,
            last: None,
        })
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The next element with its byte position, `Ok(None)` after the last.
    pub fn next_entry(&mut self) -> Result<Option<(usize, i64)>, (&'static str, usize)> {
        if self.index >= self.count {
            return Ok(None);
        }
        let pos = 8 + self.index * self.width;
        let b = &self.data[pos..pos + self.width];
        let v = match self.width {
            2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        };
        if self.last.is_some_and(|l| l >= v) {
            return Err(("intset is not sorted or has duplicates", pos));
        }
        self.last = Some(v);
        self.index += 1;
        Ok(Some((pos, v)))
    }

    /// Bytes per element.
    pub fn width(&self) -> usize {
        self.width
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_validates() {
        let mut d = vec![4, 0, 0, 0, 3, 0, 0, 0];
        for v in [-5i32, 7, 70000] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        let mut s = Intset::new(Bytes::from(d.clone())).unwrap();
        let mut out = vec![];
        while let Some((_, v)) = s.next_entry().unwrap() {
            out.push(v);
        }
        assert_eq!(out, vec![-5, 7, 70000]);
        let mut unsorted = d.clone();
        unsorted[12..16].copy_from_slice(&(-10i32).to_le_bytes());
        let mut s = Intset::new(Bytes::from(unsorted)).unwrap();
        assert!(s.next_entry().is_ok());
        assert!(s.next_entry().is_err());
        assert!(Intset::new(Bytes::copy_from_slice(&d[..15])).is_err());
    }
}
