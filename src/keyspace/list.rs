//! List values. Redis 7.0 stores every list as a `quicklist` (a linked list of listpacks), so
//! that is the only encoding `OBJECT ENCODING` reports for a list in 7.0.
//!
//! rtool keeps the elements in one `VecDeque`: both ends are O(1) like a quicklist's, and the
//! middle operations (LINSERT, LREM, LSET) are O(n) in Redis too. How Redis would cut the
//! list into listpack nodes is a property of the RDB file, not of the data, so the RDB writer
//! decides it from [`ListValue::iter`] and `list-max-listpack-size` when it writes.

use bytes::Bytes;
use std::collections::VecDeque;

/// Which end of a list (Redis's `LIST_HEAD` / `LIST_TAIL`, the `LEFT` / `RIGHT` of LMOVE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// LIST_HEAD, "left"
    Head,
    /// LIST_TAIL, "right"
    Tail,
}

impl End {
    /// The word Redis uses for this end when it writes a command itself (`shared.left` /
    /// `shared.right`, lower case) — e.g. in the LMOVE it propagates for a served BLMOVE.
    pub fn word(self) -> &'static str {
        match self {
            End::Head => "left",
            End::Tail => "right",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ListValue {
    pub items: VecDeque<Bytes>,
}

impl ListValue {
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The elements from head to tail: what LRANGE 0 -1, DEBUG DIGEST and the RDB writer see.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Bytes> + ExactSizeIterator {
        self.items.iter()
    }

    pub fn push(&mut self, end: End, v: Bytes) {
        match end {
            End::Head => self.items.push_front(v),
            End::Tail => self.items.push_back(v),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Bytes> {
        match end {
            End::Head => self.items.pop_front(),
            End::Tail => self.items.pop_back(),
        }
    }

    /// Turn a Redis index (negative counts from the tail) into a position, if it is inside.
    pub fn position(&self, index: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let i = if index < 0 {
            len.checked_add(index)?
        } else {
            index
        };
        (0..len).contains(&i).then_some(i as usize)
    }

    pub fn get(&self, index: i64) -> Option<&Bytes> {
        self.position(index).map(|p| &self.items[p])
    }

    /// LSET: replace the element at an index; false when the index is out of range.
    pub fn set(&mut self, index: i64, v: Bytes) -> bool {
        match self.position(index) {
            Some(p) => {
                self.items[p] = v;
                true
            }
            None => false,
        }
    }

    /// LRANGE's (and LTRIM's) clamping of `start..=stop`: negative indexes count from the
    /// tail, a start before the head is the head, a stop past the tail is the tail; `None`
    /// when the range is empty.
    pub fn clamp_range(&self, start: i64, stop: i64) -> Option<(usize, usize)> {
        let len = self.items.len() as i64;
        let mut start = if start < 0 {
            start.saturating_add(len)
        } else {
            start
        };
        let mut stop = if stop < 0 {
            stop.saturating_add(len)
        } else {
            stop
        };
        if start < 0 {
            start = 0;
        }
        if start > stop || start >= len {
            return None;
        }
        if stop >= len {
            stop = len - 1;
        }
        Some((start as usize, stop as usize))
    }

    /// LTRIM: keep `start..=stop`; returns how many elements were removed.
    pub fn trim(&mut self, start: i64, stop: i64) -> usize {
        let len = self.items.len();
        match self.clamp_range(start, stop) {
            None => {
                self.items.clear();
                len
            }
            Some((s, e)) => {
                self.items.truncate(e + 1);
                self.items.drain(..s);
                len - self.items.len()
            }
        }
    }

    /// LINSERT: put `v` before or after the first element equal to `pivot`, searching from
    /// the head. False when there is no such element.
    pub fn insert(&mut self, pivot: &[u8], after: bool, v: Bytes) -> bool {
        match self.items.iter().position(|e| e.as_ref() == pivot) {
            Some(p) => {
                self.items.insert(if after { p + 1 } else { p }, v);
                true
            }
            None => false,
        }
    }

    /// LREM: remove up to `count` elements equal to `v` (all when 0), from the head when
    /// `count > 0` and from the tail when `count < 0`. Returns how many were removed.
    pub fn remove(&mut self, count: i64, v: &[u8]) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let mut removed = 0;
        if count >= 0 {
            let mut i = 0;
            while i < self.items.len() && removed < limit {
                if self.items[i].as_ref() == v {
                    self.items.remove(i);
                    removed += 1;
                } else {
                    i += 1;
                }
            }
        } else {
            let mut i = self.items.len();
            while i > 0 && removed < limit {
                i -= 1;
                if self.items[i].as_ref() == v {
                    self.items.remove(i);
                    removed += 1;
                }
            }
        }
        removed
    }

    /// Pop up to `count` elements from one end, in the order they leave the list (what
    /// LPOP/RPOP with a count and LMPOP reply).
    pub fn pop_many(&mut self, end: End, count: usize) -> Vec<Bytes> {
        let n = count.min(self.items.len());
        match end {
            End::Head => self.items.drain(..n).collect(),
            End::Tail => {
                let at = self.items.len() - n;
                self.items.drain(at..).rev().collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> ListValue {
        ListValue {
            items: items
                .iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect(),
        }
    }

    fn strs(l: &ListValue) -> Vec<String> {
        l.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    #[test]
    fn ranges_clamp_like_lrange() {
        let l = list(&["a", "b", "c"]);
        assert_eq!(l.clamp_range(0, -1), Some((0, 2)));
        assert_eq!(l.clamp_range(-100, 100), Some((0, 2)));
        assert_eq!(l.clamp_range(2, 1), None);
        assert_eq!(l.clamp_range(3, 5), None);
        assert_eq!(l.clamp_range(i64::MIN, i64::MAX), Some((0, 2)));
        assert_eq!(l.clamp_range(-1, -1), Some((2, 2)));
    }

    #[test]
    fn trim_and_remove() {
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove(-2, b"a"), 2);
        assert_eq!(strs(&l), ["a", "b", "c"]);
        assert_eq!(l.trim(1, -1), 1);
        assert_eq!(strs(&l), ["b", "c"]);
        assert_eq!(l.trim(5, 10), 2);
        assert!(l.is_empty());
    }

    #[test]
    fn pop_many_from_the_tail_comes_out_reversed() {
        let mut l = list(&["a", "b", "c"]);
        assert_eq!(
            l.pop_many(End::Tail, 2),
            vec![Bytes::from("c"), Bytes::from("b")]
        );
        assert_eq!(strs(&l), ["a"]);
    }
}
