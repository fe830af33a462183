//! Set values: `intset` (sorted integers) while every member is an integer and there are at
//! most `set-max-intset-entries`, else `hashtable`. (Redis 7.0 has no listpack sets; 7.2 does.)
//!
//! An intset is a sorted array of integers, so SMEMBERS, SSCAN, SUNION... of a small integer
//! set reply in numeric order in Redis, and rtool keeps the same sorted vector. A member is
//! "an integer" when Redis's `string2ll` accepts it: canonical decimal, no `+`, no leading
//! zero, fits in 64 bits (`"007"` and `"1.0"` are strings). The conversion to hashtable is
//! one-way, as in Redis.

use super::{Dict, Thresholds};
use crate::resp::request::parse_i64;
use bytes::Bytes;

#[derive(Clone, Debug)]
pub enum SetValue {
    /// OBJ_ENCODING_INTSET: sorted, unique.
    Intset(IntSet),
    /// OBJ_ENCODING_HT. Boxed: a table is large and rare, and every value in the keyspace is
    /// as big as its largest variant (see the size test in `keyspace`).
    Table(Box<Dict<()>>),
}

/// One member as a set stores it: an intset hands out integers, a hashtable strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Str(&'a Bytes),
}

impl Member<'_> {
    /// The member as the bytes a client sees.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Member::Int(n) => Bytes::from(n.to_string()),
            Member::Str(s) => (*s).clone(),
        }
    }
}

/// Redis's intsets hold at most 2^30 entries whatever `set-max-intset-entries` says.
const INTSET_HARD_LIMIT: usize = 1 << 30;

/// The members of an intset, sorted, and the width Redis stores each one in.
///
/// An intset stores every member in the same width — 2, 4 or 8 bytes
/// (`INTSET_ENC_INT16/32/64`) — chosen by the widest member it *ever* held: adding 100000
/// makes a set of small numbers 4 bytes wide, and removing it again does not narrow it.
/// Nothing a client sees depends on the width, but the intset blob an RDB file holds does,
/// so the RDB writer reads [`IntSet::width`] to write the same bytes Redis would.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntSet {
    values: Vec<i64>,
    width: u8,
}

/// The width (in bytes) an intset needs for one value.
fn width_of(n: i64) -> u8 {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    pub fn new() -> Self {
        IntSet {
            values: Vec::new(),
            width: 2,
        }
    }

    /// An intset as an RDB file holds it: the values (sorted, unique) and the stored width.
    /// The width is raised if a value does not fit it.
    pub fn from_parts(mut values: Vec<i64>, width: u8) -> Self {
        values.sort_unstable();
        values.dedup();
        let width = values
            .iter()
            .map(|&n| width_of(n))
            .fold(width.clamp(2, 8), u8::max);
        IntSet { values, width }
    }

    /// 2, 4 or 8: the bytes per member in Redis's intset blob.
    pub fn width(&self) -> u8 {
        self.width
    }

    /// Insert keeping the order; false if already there.
    pub fn insert(&mut self, n: i64) -> bool {
        match self.values.binary_search(&n) {
            Ok(_) => false,
            Err(p) => {
                self.values.insert(p, n);
                self.width = self.width.max(width_of(n));
                true
            }
        }
    }

    pub fn remove(&mut self, n: i64) -> bool {
        match self.values.binary_search(&n) {
            Ok(p) => {
                self.values.remove(p);
                true
            }
            Err(_) => false,
        }
    }

    pub fn contains(&self, n: i64) -> bool {
        self.values.binary_search(&n).is_ok()
    }
}

impl std::ops::Deref for IntSet {
    type Target = [i64];
    fn deref(&self) -> &[i64] {
        &self.values
    }
}

impl<'a> IntoIterator for &'a IntSet {
    type Item = &'a i64;
    type IntoIter = std::slice::Iter<'a, i64>;
    fn into_iter(self) -> Self::IntoIter {
        self.values.iter()
    }
}

impl SetValue {
    /// Redis's `setTypeCreate`: the encoding a new set gets is decided by its first member.
    pub fn new_for(first: &[u8]) -> SetValue {
        if parse_i64(first).is_some() {
            SetValue::Intset(IntSet::new())
        } else {
            SetValue::Table(Box::new(Dict::new()))
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Intset(_) => "intset",
            SetValue::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SetValue::Intset(v) => v.len(),
            SetValue::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetValue::Intset(v) => parse_i64(m).is_some_and(|n| v.contains(n)),
            SetValue::Table(t) => t.contains_key(m),
        }
    }

    /// Is this member (from another set) in this one?
    pub fn contains_member(&self, m: Member) -> bool {
        match (self, m) {
            (SetValue::Intset(v), Member::Int(n)) => v.contains(n),
            (_, Member::Int(n)) => self.contains(n.to_string().as_bytes()),
            (_, Member::Str(s)) => self.contains(s),
        }
    }

    /// Redis's `setTypeAdd`: true when the member is new. A non-integer member, or one more
    /// than `set-max-intset-entries`, turns an intset into a hashtable.
    pub fn add(&mut self, m: &[u8], t: &Thresholds) -> bool {
        match self {
            SetValue::Intset(v) => match parse_i64(m) {
                Some(n) => {
                    if !v.insert(n) {
                        return false;
                    }
                    if v.len() > t.set_max_intset_entries.min(INTSET_HARD_LIMIT) {
                        self.convert();
                    }
                    true
                }
                None => {
                    self.convert();
                    self.add(m, t)
                }
            },
            SetValue::Table(d) => {
                if d.contains_key(m) {
                    false
                } else {
                    d.insert(Bytes::copy_from_slice(m), ());
                    true
                }
            }
        }
    }

    /// Add a member taken from another set.
    pub fn add_member(&mut self, m: Member, t: &Thresholds) -> bool {
        match m {
            Member::Int(n) => self.add(n.to_string().as_bytes(), t),
            Member::Str(s) => self.add(s, t),
        }
    }

    /// Remove a member; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetValue::Intset(v) => parse_i64(m).is_some_and(|n| v.remove(n)),
            SetValue::Table(d) => d.remove(m).is_some(),
        }
    }

    /// The members in Redis's iteration order (numeric order for an intset): for SMEMBERS,
    /// DEBUG DIGEST and the RDB writer.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Member<'_>> + '_> {
        match self {
            SetValue::Intset(v) => Box::new(v.iter().map(|&n| Member::Int(n))),
            SetValue::Table(t) => Box::new(t.keys().map(Member::Str)),
        }
    }

    /// A member chosen uniformly from a non-empty set, given a random number.
    pub fn random(&self, r: u64) -> Option<Member<'_>> {
        match self {
            SetValue::Intset(v) if !v.is_empty() => {
                Some(Member::Int(v[(r % v.len() as u64) as usize]))
            }
            SetValue::Intset(_) => None,
            SetValue::Table(t) => t.random(r).map(|(k, _)| Member::Str(k)),
        }
    }

    /// intset -> hashtable (never the other way, as in Redis).
    pub fn convert(&mut self) {
        if let SetValue::Intset(v) = self {
            let mut d = Dict::new();
            for n in v.iter() {
                d.insert(Bytes::from(n.to_string()), ());
            }
            *self = SetValue::Table(Box::new(d));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_width_only_grows() {
        let mut s = IntSet::new();
        s.insert(5);
        assert_eq!(s.width(), 2);
        s.insert(100_000);
        assert_eq!(s.width(), 4);
        s.remove(100_000);
        assert_eq!(s.width(), 4);
        s.insert(-(1 << 40));
        assert_eq!(s.width(), 8);
        assert_eq!(IntSet::from_parts(vec![3, 1, 3], 2).to_vec(), vec![1, 3]);
        assert_eq!(IntSet::from_parts(vec![70_000], 2).width(), 4);
    }

    #[test]
    fn intset_stays_sorted_and_converts() {
        let t = Thresholds {
            set_max_intset_entries: 3,
            ..Thresholds::default()
        };
        let mut s = SetValue::new_for(b"5");
        for m in ["5", "-2", "10", "5"] {
            s.add(m.as_bytes(), &t);
        }
        let got: Vec<Bytes> = s.iter().map(|m| m.to_bytes()).collect();
        assert_eq!(
            got,
            vec![Bytes::from("-2"), Bytes::from("5"), Bytes::from("10")]
        );
        assert!(s.contains(b"10") && !s.contains(b"010"));
        s.add(b"11", &t);
        assert_eq!(s.encoding(), "hashtable");

        let mut s = SetValue::new_for(b"1");
        s.add(b"1", &t);
        s.add(b"01", &t);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 2);
    }
}
