//! Hash values: `listpack` while small (insertion order kept), `hashtable` once
//! `hash-max-listpack-entries` or `hash-max-listpack-value` is exceeded.
//!
//! The order matters because Redis replies a listpack hash in its listpack order: HGETALL,
//! HKEYS, HSCAN and HRANDFIELD of a small hash are byte-for-byte predictable, so rtool keeps
//! the pairs in a vector in the same order (new fields appended, updated fields in place,
//! deleted fields closing the gap). A hashtable's order is Redis's hash order, which nobody
//! may rely on, so any order will do there.
//!
//! The conversion is one-way and happens at Redis's moments: before a write whose field or
//! value is longer than `hash-max-listpack-value` (Redis checks every argument of an HSET
//! first, `hashTypeTryConversion`), and after an insert that makes the hash longer than
//! `hash-max-listpack-entries`.

use super::{Dict, Thresholds};
use bytes::Bytes;

#[derive(Clone, Debug)]
pub enum HashValue {
    /// OBJ_ENCODING_LISTPACK: field/value pairs in insertion order.
    Listpack(Vec<(Bytes, Bytes)>),
    /// OBJ_ENCODING_HT. Boxed, as `SetValue::Table` is, to keep every `Value` small.
    Table(Box<Dict<Bytes>>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Listpack(Vec::new())
    }
}

impl HashValue {
    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Listpack(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            HashValue::Listpack(v) => v.len(),
            HashValue::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&Bytes> {
        match self {
            HashValue::Listpack(v) => v
                .iter()
                .find(|(f, _)| f.as_ref() == field)
                .map(|(_, val)| val),
            HashValue::Table(t) => t.get(field),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Every field and value, in the order Redis iterates them (listpack order while small):
    /// for HGETALL, DEBUG DIGEST and the RDB writer.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&Bytes, &Bytes)> + '_> {
        match self {
            HashValue::Listpack(v) => Box::new(v.iter().map(|(f, val)| (f, val))),
            HashValue::Table(t) => Box::new(t.iter()),
        }
    }

    /// Redis's `hashTypeTryConversion`: a listpack hash about to receive any of these strings
    /// becomes a hashtable first if one of them is longer than `hash-max-listpack-value`.
    pub fn prepare_for(&mut self, args: &[&[u8]], t: &Thresholds) {
        if matches!(self, HashValue::Listpack(_))
            && args.iter().any(|a| a.len() > t.hash_max_listpack_value)
        {
            self.convert();
        }
    }

    /// Set a field (Redis's `hashTypeSet`); true when the field is new, false when an
    /// existing field's value was replaced.
    pub fn set(&mut self, field: &[u8], value: Bytes, t: &Thresholds) -> bool {
        // HINCRBY's result can grow past the value limit without a prior check.
        self.prepare_for(&[field, &value], t);
        match self {
            HashValue::Listpack(v) => {
                if let Some(slot) = v.iter_mut().find(|(f, _)| f.as_ref() == field) {
                    slot.1 = value;
                    return false;
                }
                v.push((Bytes::copy_from_slice(field), value));
                if v.len() > t.hash_max_listpack_entries {
                    self.convert();
                }
                true
            }
            HashValue::Table(d) => d.insert(Bytes::copy_from_slice(field), value).is_none(),
        }
    }

    /// Delete a field; true when it was there.
    pub fn delete(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Listpack(v) => match v.iter().position(|(f, _)| f.as_ref() == field) {
                Some(p) => {
                    v.remove(p);
                    true
                }
                None => false,
            },
            HashValue::Table(d) => d.remove(field).is_some(),
        }
    }

    /// A field and its value chosen uniformly from a non-empty hash, given a random number.
    pub fn random(&self, r: u64) -> Option<(&Bytes, &Bytes)> {
        match self {
            HashValue::Listpack(v) if !v.is_empty() => {
                let (f, val) = &v[(r % v.len() as u64) as usize];
                Some((f, val))
            }
            HashValue::Listpack(_) => None,
            HashValue::Table(d) => d.random(r),
        }
    }

    /// listpack -> hashtable (never the other way, as in Redis).
    pub fn convert(&mut self) {
        if let HashValue::Listpack(v) = self {
            let mut d = Dict::new();
            for (f, val) in std::mem::take(v) {
                d.insert(f, val);
            }
            *self = HashValue::Table(Box::new(d));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Thresholds {
        Thresholds {
            hash_max_listpack_entries: 2,
            hash_max_listpack_value: 4,
            ..Thresholds::default()
        }
    }

    #[test]
    fn keeps_listpack_order_and_converts_at_the_limits() {
        let t = small();
        let mut h = HashValue::default();
        assert!(h.set(b"b", Bytes::from("1"), &t));
        assert!(h.set(b"a", Bytes::from("2"), &t));
        assert!(!h.set(b"b", Bytes::from("3"), &t));
        let pairs: Vec<_> = h.iter().map(|(f, v)| (f.clone(), v.clone())).collect();
        assert_eq!(
            pairs,
            vec![
                (Bytes::from("b"), Bytes::from("3")),
                (Bytes::from("a"), Bytes::from("2"))
            ]
        );
        assert_eq!(h.encoding(), "listpack");
        h.set(b"c", Bytes::from("4"), &t);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 3);

        let mut h = HashValue::default();
        h.set(b"f", Bytes::from("12345"), &t);
        assert_eq!(h.encoding(), "hashtable");
    }
}
