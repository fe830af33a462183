//! `Dict`: the hash table behind every database and every big hash, set and sorted set.
//!
//! Redis's `dict.c` gives three things a plain `HashMap` does not, and rtool needs all three:
//! a **SCAN cursor** that survives inserts, deletes and resizes (every element present for the
//! whole scan is returned at least once), **random sampling** (RANDOMKEY, SPOP, the active
//! expire cycle), and **incremental rehashing** (a table of millions of keys grows without a
//! pause).
//!
//! PLACEHOLDER implementation on `IndexMap`: the API is final, the guarantees are not (a
//! delete during a SCAN can make the scan miss an element). Being replaced by a Redis-style
//! chained table with reverse-binary cursors.

use bytes::Bytes;
use indexmap::IndexMap;

/// A map from binary-safe keys to `V` with Redis's SCAN, sampling and rehash properties.
#[derive(Clone, Debug)]
pub struct Dict<V> {
    map: IndexMap<Bytes, V>,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Dict {
            map: IndexMap::new(),
        }
    }
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.map.get(key)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    pub fn get_key_value(&self, key: &[u8]) -> Option<(&Bytes, &V)> {
        self.map.get_key_value(key)
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }

    /// Insert or replace; returns the old value.
    pub fn insert(&mut self, key: Bytes, value: V) -> Option<V> {
        self.map.insert(key, value)
    }

    /// Remove; returns the key and value that were there.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Bytes, V)> {
        self.map.swap_remove_entry(key)
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &V)> {
        self.map.iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &Bytes> {
        self.map.keys()
    }

    /// Visit the elements of the next step of a SCAN starting at `cursor`, calling `f` for
    /// each, and return the next cursor (0 when the scan is complete). Like Redis, one step
    /// visits about `count` elements but may visit more.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&Bytes, &V)) -> u64 {
        let start = cursor as usize;
        let end = (start + count.max(1)).min(self.map.len());
        for i in start..end {
            let (k, v) = self.map.get_index(i).unwrap();
            f(k, v);
        }
        if end >= self.map.len() { 0 } else { end as u64 }
    }

    /// A uniformly random element, given a random number.
    pub fn random(&self, r: u64) -> Option<(&Bytes, &V)> {
        if self.map.is_empty() {
            return None;
        }
        self.map.get_index((r % self.map.len() as u64) as usize)
    }

    /// Do a little incremental rehashing work (a no-op when none is in progress). Called from
    /// the server's cron like Redis's `databasesCron`.
    pub fn rehash_step(&mut self) {}
}
