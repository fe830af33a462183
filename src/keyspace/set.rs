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
    Intset(Vec<i64>),
    /// OBJ_ENCODING_HT
    Table(Dict<()>),
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

impl SetValue {
    /// Redis's `setTypeCreate`: the encoding a new set gets is decided by its first member.
    pub fn new_for(first: &[u8]) -> SetValue {
        if parse_i64(first).is_some() {
            SetValue::Intset(Vec::new())
        } else {
            SetValue::Table(Dict::new())
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
            SetValue::Intset(v) => parse_i64(m).is_some_and(|n| v.binary_search(&n).is_ok()),
            SetValue::Table(t) => t.contains_key(m),
        }
    }

    /// Is this member (from another set) in this one?
    pub fn contains_member(&self, m: Member) -> bool {
        match (self, m) {
            (SetValue::Intset(v), Member::Int(n)) => v.binary_search(&n).is_ok(),
            (_, Member::Int(n)) => self.contains(n.to_string().as_bytes()),
            (_, Member::Str(s)) => self.contains(s),
        }
    }

    /// Redis's `setTypeAdd`: true when the member is new. A non-integer member, or one more
    /// than `set-max-intset-entries`, turns an intset into a hashtable.
    pub fn add(&mut self, m: &[u8], t: &Thresholds) -> bool {
        match self {
            SetValue::Intset(v) => match parse_i64(m) {
                Some(n) => match v.binary_search(&n) {
                    Ok(_) => false,
                    Err(p) => {
                        v.insert(p, n);
                        if v.len() > t.set_max_intset_entries.min(INTSET_HARD_LIMIT) {
                            self.convert();
                        }
                        true
                    }
                },
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
            SetValue::Intset(v) => match parse_i64(m).map(|n| v.binary_search(&n)) {
                Some(Ok(p)) => {
                    v.remove(p);
                    true
                }
                _ => false,
            },
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
            *self = SetValue::Table(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
