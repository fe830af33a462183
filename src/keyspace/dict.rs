//! `Dict`: the hash table behind every database and every big hash, set and sorted set.
//!
//! Redis's `dict.c` gives three things a plain `HashMap` does not, and rtool needs all three:
//! a **SCAN cursor** that survives inserts, deletes and resizes (every element present for the
//! whole scan is returned at least once), **random sampling** (RANDOMKEY, SPOP, the active
//! expire cycle), and **incremental rehashing** (a table of millions of keys grows without a
//! pause).
//!
//! The shape follows Redis's ideas, in rtool's own code:
//!
//! * Two power-of-two bucket arrays (`ht[0]`, `ht[1]`) with chaining. A resize allocates
//!   `ht[1]` and then moves one bucket of `ht[0]` at a time: a little on every insert, delete
//!   and `get_mut`, and about a millisecond per call of [`Dict::rehash_step`] from the cron.
//!   While both tables exist a lookup searches both and new entries go to `ht[1]`.
//! * SCAN walks bucket indexes in **reverse-binary** order. Because a table of `2^n` buckets
//!   splits bucket `b` into `b` and `b + 2^n` when it doubles (and merges them when it
//!   halves), incrementing the *reversed* cursor visits every "family" of buckets exactly
//!   once whatever the size becomes between two calls, so an element that stays put is never
//!   skipped (it may be returned twice after a shrink, as in Redis).
//!
//! Where rtool differs: entries do not each get a heap allocation. They live in a dense
//! *slab* (a vector of fixed-size chunks) and the chains link slab indexes (`u32`, 0 = end).
//! A delete moves the slab's last entry into the hole, so the slab always holds exactly
//! `len` entries: iteration is a linear walk, memory is given back as the dict shrinks, and
//! [`Dict::random`] is a *perfectly* uniform pick (Redis's random bucket + random chain
//! element is biased towards short chains). Chunks (4096 entries) rather than one big vector
//! keep growth incremental too: no reallocation ever copies the whole table.

use super::siphash::SipKey;
use bytes::Bytes;
use std::sync::OnceLock;

/// Slab entries per chunk (a power of two so an index splits with a shift and a mask).
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// The size of a table when the first element arrives (Redis's `DICT_HT_INITIAL_SIZE`).
const INITIAL_SIZE: usize = 4;

/// A table is shrunk when fewer than this percent of its buckets would be used (Redis's
/// `HASHTABLE_MIN_FILL`, checked by `htNeedsResize`).
const MIN_FILL_PERCENT: usize = 10;

/// The hash function: SipHash-1-2 (see [`super::siphash`]) with one random key per process.
///
/// Chaining degrades to a linear list when many keys share a bucket, and every key here is
/// chosen by clients, so the hash must be keyed and collision-resistant against an attacker
/// who does not know the key (HashDoS); that is also why Redis uses SipHash. Faster
/// non-cryptographic hashes (foldhash, ahash) make no such promise. The measured cost of
/// SipHash on a short key is a few percent of a whole GET (see the benchmark test below).
/// One key per process, as Redis seeds its `dict_hash_function_seed` once at startup; each
/// dict copies it so hashing never touches the `OnceLock` on the hot path.
fn process_hasher() -> SipKey {
    static SEED: OnceLock<SipKey> = OnceLock::new();
    *SEED.get_or_init(SipKey::random)
}

/// One entry: its key, value, the low 32 bits of its hash (the bucket index in any table up
/// to 2^32 buckets, and a cheap filter before comparing keys) and the link to the next entry
/// of its chain (slab index + 1; 0 ends the chain).
#[derive(Clone)]
struct Slot<V> {
    hash: u32,
    next: u32,
    key: Bytes,
    value: V,
}

/// The entries, densely packed in chunks of [`CHUNK`]: every chunk but the last is full and
/// the last is never empty.
#[derive(Clone)]
struct Slab<V> {
    chunks: Vec<Vec<Slot<V>>>,
    len: usize,
}

impl<V> Slab<V> {
    const fn new() -> Self {
        Slab {
            chunks: Vec::new(),
            len: 0,
        }
    }

    #[inline]
    fn get(&self, i: u32) -> &Slot<V> {
        let i = i as usize;
        &self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }

    #[inline]
    fn get_mut(&mut self, i: u32) -> &mut Slot<V> {
        let i = i as usize;
        &mut self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }

    /// Append; returns the new entry's index.
    fn push(&mut self, s: Slot<V>) -> u32 {
        // Links are index + 1 in a u32, so u32::MAX - 1 entries at most (hundreds of GB).
        assert!(self.len < u32::MAX as usize - 1, "Dict: too many entries");
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(s),
            _ => {
                // Small dicts (most big hashes and sets) start small and grow by doubling
                // inside their first chunk; later chunks are allocated whole.
                let mut c = Vec::with_capacity(if self.chunks.is_empty() { 4 } else { CHUNK });
                c.push(s);
                self.chunks.push(c);
            }
        }
        self.len += 1;
        (self.len - 1) as u32
    }

    /// Remove entry `i`, moving the last entry into its place.
    fn swap_remove(&mut self, i: u32) -> Slot<V> {
        let last_chunk = self
            .chunks
            .last_mut()
            .expect("swap_remove on an empty slab");
        let last = last_chunk.pop().expect("the last chunk is never empty");
        if last_chunk.is_empty() {
            self.chunks.pop();
        }
        self.len -= 1;
        if i as usize == self.len {
            last
        } else {
            std::mem::replace(self.get_mut(i), last)
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Slot<V>> {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Slot<V>> {
        self.chunks.iter_mut().flat_map(|c| c.iter_mut())
    }
}

/// One bucket array. `buckets.len()` is 0 or a power of two; a bucket holds the link (slab
/// index plus one) of the first entry of its chain. `vec![0; n]` is a zeroed allocation, which the OS
/// hands out lazily, so allocating a big table is not itself a pause.
#[derive(Clone, Default)]
struct Table {
    buckets: Vec<u32>,
    used: usize,
}

impl Table {
    fn with_size(n: usize) -> Table {
        Table {
            buckets: vec![0; n],
            used: 0,
        }
    }

    #[inline]
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }
}

/// A map from binary-safe keys to `V` with Redis's SCAN, sampling and rehash properties.
#[derive(Clone)]
pub struct Dict<V> {
    slab: Slab<V>,
    ht: [Table; 2],
    /// The next bucket of `ht[0]` to move while a rehash is in progress (Redis's `rehashidx`).
    rehash_idx: Option<usize>,
    hasher: SipKey,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Dict {
            slab: Slab::new(),
            ht: [Table::default(), Table::default()],
            rehash_idx: None,
            hasher: process_hasher(),
        }
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for Dict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Where a chain link lives: a bucket head, or the `next` field of an entry.
#[derive(Clone, Copy)]
enum LinkAt {
    Bucket(usize, usize),
    Next(u32),
}

/// Reverse the bits of a cursor (SCAN increments cursors from the top bit down).
#[inline]
fn rev(v: u64) -> u64 {
    v.reverse_bits()
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.slab.len
    }

    pub fn is_empty(&self) -> bool {
        self.slab.len == 0
    }

    /// Size an empty dict for `n` elements at once (Redis's `dictExpand` on an RDB's
    /// `RESIZEDB`): loading a million keys then never rehashes. A dict that already holds
    /// elements is left to grow as usual.
    pub fn reserve(&mut self, n: usize) {
        if self.slab.len != 0 || self.rehash_idx.is_some() || n <= INITIAL_SIZE {
            return;
        }
        let size = n
            .checked_next_power_of_two()
            .unwrap_or(1 << 32)
            .min(1 << 32);
        self.ht[0] = Table::with_size(size);
    }

    /// Is an incremental rehash in progress (both tables in use)?
    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    /// The sizes (in buckets) of the two tables, for tests and `DEBUG HTSTATS`-like output.
    pub fn table_sizes(&self) -> (usize, usize) {
        (self.ht[0].buckets.len(), self.ht[1].buckets.len())
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u32 {
        self.hasher.hash(key) as u32
    }

    /// The entry holding `key`, searching both tables during a rehash.
    #[inline]
    fn find(&self, key: &[u8], h: u32) -> Option<u32> {
        if self.slab.len == 0 {
            return None;
        }
        for t in 0..2 {
            let tab = &self.ht[t];
            let mut link = tab.buckets[h as usize & tab.mask()];
            while link != 0 {
                let s = self.slab.get(link - 1);
                if s.hash == h && s.key.as_ref() == key {
                    return Some(link - 1);
                }
                link = s.next;
            }
            if self.rehash_idx.is_none() {
                break;
            }
        }
        None
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        let h = self.hash(key);
        self.find(key, h).map(|i| &self.slab.get(i).value)
    }

    /// Like `get`, and (having `&mut self`) also does one step of a pending rehash, as Redis's
    /// `dictFind` does. (`get` cannot: it only borrows the dict.)
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.rehash_on_access();
        let h = self.hash(key);
        self.find(key, h).map(|i| &mut self.slab.get_mut(i).value)
    }

    pub fn get_key_value(&self, key: &[u8]) -> Option<(&Bytes, &V)> {
        let h = self.hash(key);
        self.find(key, h).map(|i| {
            let s = self.slab.get(i);
            (&s.key, &s.value)
        })
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Insert or replace; returns the old value. On a replace the stored key is kept.
    pub fn insert(&mut self, key: Bytes, value: V) -> Option<V> {
        self.rehash_on_access();
        let h = self.hash(&key);
        if let Some(i) = self.find(&key, h) {
            return Some(std::mem::replace(&mut self.slab.get_mut(i).value, value));
        }
        self.expand_if_needed();
        // During a rehash new entries go to the new table, so the old one only empties.
        let t = if self.rehash_idx.is_some() { 1 } else { 0 };
        let b = h as usize & self.ht[t].mask();
        let next = self.ht[t].buckets[b];
        let i = self.slab.push(Slot {
            hash: h,
            next,
            key,
            value,
        });
        self.ht[t].buckets[b] = i + 1;
        self.ht[t].used += 1;
        None
    }

    /// Remove; returns the key and value that were there.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Bytes, V)> {
        if self.slab.len == 0 {
            return None;
        }
        self.rehash_on_access();
        let h = self.hash(key);
        let i = self.unlink(key, h)?;
        // Keep the slab dense: the last entry moves into the hole, so whatever links to it
        // must now link to `i`.
        let last = (self.slab.len - 1) as u32;
        if i != last {
            let lh = self.slab.get(last).hash;
            self.redirect(lh, last + 1, i + 1);
        }
        let s = self.slab.swap_remove(i);
        if self.slab.len == 0 {
            // Give the tables back; the next insert starts again from INITIAL_SIZE.
            self.ht = [Table::default(), Table::default()];
            self.rehash_idx = None;
        } else {
            self.shrink_if_needed();
        }
        Some((s.key, s.value))
    }

    pub fn clear(&mut self) {
        self.slab = Slab::new();
        self.ht = [Table::default(), Table::default()];
        self.rehash_idx = None;
    }

    /// Every element, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &V)> {
        self.slab.iter().map(|s| (&s.key, &s.value))
    }

    /// Every element with its value mutable (keys cannot change: they decide the bucket).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Bytes, &mut V)> {
        self.slab.iter_mut().map(|s| (&s.key, &mut s.value))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Bytes> {
        self.slab.iter().map(|s| &s.key)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.slab.iter().map(|s| &s.value)
    }

    /// Find `key` and take it out of its chain; returns its slab index.
    fn unlink(&mut self, key: &[u8], h: u32) -> Option<u32> {
        for t in 0..2 {
            let b = h as usize & self.ht[t].mask();
            let mut at = LinkAt::Bucket(t, b);
            let mut link = self.ht[t].buckets[b];
            while link != 0 {
                let s = self.slab.get(link - 1);
                let next = s.next;
                if s.hash == h && s.key.as_ref() == key {
                    self.set_link(at, next);
                    self.ht[t].used -= 1;
                    return Some(link - 1);
                }
                at = LinkAt::Next(link - 1);
                link = next;
            }
            if self.rehash_idx.is_none() {
                break;
            }
        }
        None
    }

    #[inline]
    fn set_link(&mut self, at: LinkAt, to: u32) {
        match at {
            LinkAt::Bucket(t, b) => self.ht[t].buckets[b] = to,
            LinkAt::Next(i) => self.slab.get_mut(i).next = to,
        }
    }

    /// Replace the link `from` by `to` in the chain of hash `h` (whichever table holds it).
    fn redirect(&mut self, h: u32, from: u32, to: u32) {
        for t in 0..2 {
            if self.ht[t].buckets.is_empty() {
                continue;
            }
            let b = h as usize & self.ht[t].mask();
            let mut at = LinkAt::Bucket(t, b);
            let mut link = self.ht[t].buckets[b];
            while link != 0 {
                if link == from {
                    self.set_link(at, to);
                    return;
                }
                at = LinkAt::Next(link - 1);
                link = self.slab.get(link - 1).next;
            }
        }
        debug_assert!(false, "Dict: entry {from} is linked from nowhere");
    }

    /// Grow when the load factor reaches 1 (Redis's `_dictExpandIfNeeded`, minus the
    /// "no resize while a fork is running" rule: rtool does not fork).
    fn expand_if_needed(&mut self) {
        if self.rehash_idx.is_some() {
            return;
        }
        if self.ht[0].buckets.is_empty() {
            self.ht[0] = Table::with_size(INITIAL_SIZE);
        } else if self.ht[0].used >= self.ht[0].buckets.len() {
            self.resize(self.ht[0].used + 1);
        }
    }

    /// Shrink when fewer than 10% of the buckets would be used (Redis's `htNeedsResize` +
    /// `dictResize`): the new size is the smallest power of two holding every element.
    fn shrink_if_needed(&mut self) {
        if self.rehash_idx.is_some() {
            return;
        }
        let size = self.ht[0].buckets.len();
        if size > INITIAL_SIZE && self.ht[0].used * 100 / size < MIN_FILL_PERCENT {
            self.resize(self.ht[0].used);
        }
    }

    /// Start an incremental rehash into a table of the smallest power of two >= `want`.
    fn resize(&mut self, want: usize) {
        let size = want
            .max(INITIAL_SIZE)
            .checked_next_power_of_two()
            .unwrap_or(1 << 32)
            .min(1 << 32);
        if size == self.ht[0].buckets.len() {
            return;
        }
        self.ht[1] = Table::with_size(size);
        self.rehash_idx = Some(0);
    }

    /// The small step an insert, delete or `get_mut` does during a rehash (Redis's
    /// `_dictRehashStep`).
    #[inline]
    fn rehash_on_access(&mut self) {
        if self.rehash_idx.is_some() {
            self.rehash(1);
        }
    }

    /// Move up to `n` non-empty buckets from `ht[0]` to `ht[1]`, looking at no more than
    /// `10 * n` empty ones (a sparse table must not make one step long). Returns whether the
    /// rehash is still in progress.
    fn rehash(&mut self, n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let mut n = n;
        let mut empty_visits = n * 10;
        let mask1 = self.ht[1].mask();
        while n > 0 && self.ht[0].used > 0 {
            n -= 1;
            // used > 0 means a non-empty bucket remains at or after idx.
            while self.ht[0].buckets[idx] == 0 {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            let mut link = std::mem::take(&mut self.ht[0].buckets[idx]);
            while link != 0 {
                let s = self.slab.get_mut(link - 1);
                let next = s.next;
                let b = s.hash as usize & mask1;
                s.next = self.ht[1].buckets[b];
                self.ht[1].buckets[b] = link;
                self.ht[0].used -= 1;
                self.ht[1].used += 1;
                link = next;
            }
            idx += 1;
        }
        if self.ht[0].used == 0 {
            self.ht[0] = std::mem::take(&mut self.ht[1]);
            self.rehash_idx = None;
            return false;
        }
        self.rehash_idx = Some(idx);
        true
    }

    /// Do about a millisecond of incremental rehashing (a no-op when none is in progress).
    /// Called from the server's cron like Redis's `dictRehashMilliseconds(d, 1)`.
    ///
    /// When no rehash is running it first checks whether the table is under 10% full, as
    /// Redis's cron does (`tryResizeHashTables`), so a dict that only ever loses elements
    /// through paths that skip the check still shrinks.
    pub fn rehash_step(&mut self) {
        if self.rehash_idx.is_none() {
            self.shrink_if_needed();
            if self.rehash_idx.is_none() {
                return;
            }
        }
        let start = std::time::Instant::now();
        while self.rehash(100) {
            if start.elapsed() >= std::time::Duration::from_millis(1) {
                break;
            }
        }
    }

    /// Call `f` for every element of bucket `b` of table `t`.
    fn visit_bucket(&self, t: usize, b: usize, f: &mut impl FnMut(&Bytes, &V)) -> usize {
        let mut n = 0;
        let mut link = self.ht[t].buckets[b];
        while link != 0 {
            let s = self.slab.get(link - 1);
            f(&s.key, &s.value);
            n += 1;
            link = s.next;
        }
        n
    }

    /// One step of Redis's `dictScan`: the elements of the bucket family at cursor `v`, and
    /// the next cursor. During a rehash the family is one bucket of the smaller table plus
    /// every bucket of the larger table that it expands to.
    fn scan_one(&self, mut v: u64, f: &mut impl FnMut(&Bytes, &V)) -> (u64, usize) {
        let mut n = 0;
        if self.rehash_idx.is_none() {
            let m0 = self.ht[0].mask() as u64;
            n += self.visit_bucket(0, (v & m0) as usize, f);
            v |= !m0;
            v = rev(rev(v).wrapping_add(1));
        } else {
            let (small, big) = if self.ht[0].buckets.len() <= self.ht[1].buckets.len() {
                (0, 1)
            } else {
                (1, 0)
            };
            let m0 = self.ht[small].mask() as u64;
            let m1 = self.ht[big].mask() as u64;
            n += self.visit_bucket(small, (v & m0) as usize, f);
            loop {
                n += self.visit_bucket(big, (v & m1) as usize, f);
                v |= !m1;
                v = rev(rev(v).wrapping_add(1));
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        (v, n)
    }

    /// Visit the elements of the next step of a SCAN starting at `cursor`, calling `f` for
    /// each, and return the next cursor (0 when the scan is complete). Like Redis, one step
    /// visits about `count` elements but may visit more (a whole bucket family at a time),
    /// and gives up after `10 * count` bucket families so a sparse table answers quickly.
    ///
    /// Guarantee (Redis's): an element present from the call with cursor 0 to the call that
    /// returns 0 is visited at least once, whatever inserts, deletes, growth or shrinking
    /// happen between calls; an element may be visited more than once.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&Bytes, &V)) -> u64 {
        if self.slab.len == 0 {
            return 0;
        }
        let count = count.max(1);
        let mut budget = count.saturating_mul(10);
        let mut seen = 0;
        let mut v = cursor;
        loop {
            let (next, n) = self.scan_one(v, &mut f);
            v = next;
            seen += n;
            budget -= 1;
            if v == 0 || seen >= count || budget == 0 {
                return v;
            }
        }
    }

    /// A uniformly random element, given a random number. (The slab is dense, so this is an
    /// exact uniform pick in O(1), not Redis's bucket-then-chain approximation.)
    pub fn random(&self, r: u64) -> Option<(&Bytes, &V)> {
        if self.slab.len == 0 {
            return None;
        }
        let s = self.slab.get((r % self.slab.len as u64) as u32);
        Some((&s.key, &s.value))
    }
}

impl<V> FromIterator<(Bytes, V)> for Dict<V> {
    fn from_iter<I: IntoIterator<Item = (Bytes, V)>>(iter: I) -> Self {
        let mut d = Dict::new();
        for (k, v) in iter {
            d.insert(k, v);
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    fn key(i: u64) -> Bytes {
        Bytes::from(format!("key:{i}"))
    }

    /// Check every internal invariant: chains reach each slab entry exactly once, per-table
    /// counts agree, entries sit in the bucket their hash selects, and nothing in `ht[0]`
    /// lies before the rehash index.
    fn check<V>(d: &Dict<V>) {
        let mut seen = vec![false; d.slab.len];
        for t in 0..2 {
            let tab = &d.ht[t];
            let mut used = 0;
            for (b, &head) in tab.buckets.iter().enumerate() {
                if t == 0
                    && let Some(r) = d.rehash_idx
                {
                    assert!(
                        b >= r || head == 0,
                        "bucket {b} before rehash_idx {r} not empty"
                    );
                }
                let mut link = head;
                while link != 0 {
                    let s = d.slab.get(link - 1);
                    assert_eq!(s.hash as usize & tab.mask(), b);
                    assert!(!seen[(link - 1) as usize], "entry linked twice");
                    seen[(link - 1) as usize] = true;
                    used += 1;
                    link = s.next;
                }
            }
            assert_eq!(used, tab.used);
        }
        assert!(seen.iter().all(|&s| s), "an entry is not linked");
        if d.rehash_idx.is_none() {
            assert!(d.ht[1].buckets.is_empty());
        }
        for (i, c) in d.slab.chunks.iter().enumerate() {
            assert!(!c.is_empty());
            if i + 1 < d.slab.chunks.len() {
                assert_eq!(c.len(), CHUNK);
            }
        }
    }

    #[test]
    fn basic_operations() {
        let mut d = Dict::new();
        assert!(d.is_empty());
        assert_eq!(d.scan(0, 10, |_, _| panic!()), 0);
        assert!(d.random(7).is_none());
        for i in 0..10_000 {
            assert_eq!(d.insert(key(i), i), None);
        }
        check(&d);
        assert_eq!(d.len(), 10_000);
        assert_eq!(d.insert(key(5), 50), Some(5));
        assert_eq!(d.get(b"key:5"), Some(&50));
        *d.get_mut(b"key:6").unwrap() += 1;
        assert_eq!(d.get_key_value(b"key:6"), Some((&key(6), &7)));
        assert!(d.contains_key(b"key:9999") && !d.contains_key(b"nope"));
        for i in (0..10_000).step_by(2) {
            assert_eq!(d.remove(&key(i)).map(|(k, _)| k), Some(key(i)));
        }
        check(&d);
        assert_eq!(d.len(), 5_000);
        assert_eq!(d.remove(b"key:0"), None);
        let keys: HashSet<Bytes> = d.keys().cloned().collect();
        assert_eq!(keys.len(), 5_000);
        let c = d.clone();
        check(&c);
        assert_eq!(c.len(), 5000);
        d.clear();
        assert!(d.is_empty() && d.get(b"key:1").is_none());
        assert_eq!(format!("{:?}", Dict::<i32>::new()), "{}");
    }

    #[test]
    fn grows_incrementally_and_shrinks() {
        let mut d = Dict::new();
        for i in 0..1025 {
            d.insert(key(i), ());
        }
        // 1024 elements filled 1024 buckets; the 1025th started a rehash to 2048 which a
        // single insert did not finish.
        assert!(d.is_rehashing());
        assert_eq!(d.table_sizes(), (1024, 2048));
        check(&d);
        d.rehash_step();
        assert!(!d.is_rehashing());
        assert_eq!(d.table_sizes(), (2048, 0));
        for i in 0..1000 {
            d.remove(&key(i));
        }
        check(&d);
        // 25 left of 2048 buckets: under 10% full, so it shrinks (maybe in two stages: a
        // shrink started at 204 elements may still be running); the cron finishes the job.
        for _ in 0..10 {
            d.rehash_step();
        }
        assert_eq!(d.table_sizes(), (32, 0));
        for i in 1000..1025 {
            d.remove(&key(i));
        }
        assert_eq!(d.table_sizes(), (0, 0));
        assert!(d.slab.chunks.is_empty());
    }

    #[test]
    fn random_is_uniform() {
        let d: Dict<u64> = (0..10).map(|i| (key(i), i)).collect();
        let mut counts = [0u32; 10];
        let mut x = 0x9e3779b97f4a7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            counts[*d.random(x).unwrap().1 as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    /// A full scan with no mutations returns every element (a bucket family never repeats
    /// when the table does not change size).
    #[test]
    fn scan_visits_everything_once_when_stable() {
        for n in [1u64, 3, 4, 5, 100, 1000, 4097] {
            let d: Dict<()> = (0..n).map(|i| (key(i), ())).collect();
            for count in [1, 10, 1000] {
                let mut got = Vec::new();
                let mut c = 0;
                loop {
                    c = d.scan(c, count, |k, _| got.push(k.clone()));
                    if c == 0 {
                        break;
                    }
                }
                let set: HashSet<_> = got.iter().cloned().collect();
                assert_eq!(set.len() as u64, n);
                if !d.is_rehashing() {
                    assert_eq!(got.len() as u64, n, "duplicates with n={n}");
                }
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Remove(u16),
        Get(u16),
        GetMut(u16),
        Step,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => any::<u16>().prop_map(|k| Op::Insert(k % 2048)),
            3 => any::<u16>().prop_map(|k| Op::Remove(k % 2048)),
            2 => any::<u16>().prop_map(|k| Op::Get(k % 2048)),
            1 => any::<u16>().prop_map(|k| Op::GetMut(k % 2048)),
            1 => Just(Op::Step),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]

        /// The dict behaves like a HashMap under any sequence of operations.
        #[test]
        fn matches_hashmap_model(ops in proptest::collection::vec(op(), 1..3000)) {
            let mut d = Dict::new();
            let mut m: HashMap<Bytes, u32> = HashMap::new();
            for (n, op) in ops.iter().enumerate() {
                match *op {
                    Op::Insert(k) => prop_assert_eq!(d.insert(key(k as u64), n as u32), m.insert(key(k as u64), n as u32)),
                    Op::Remove(k) => prop_assert_eq!(d.remove(&key(k as u64)), m.remove_entry(&key(k as u64))),
                    Op::Get(k) => prop_assert_eq!(d.get(&key(k as u64)), m.get(&key(k as u64))),
                    Op::GetMut(k) => {
                        if let Some(v) = d.get_mut(&key(k as u64)) { *v += 1; }
                        if let Some(v) = m.get_mut(&key(k as u64)) { *v += 1; }
                    }
                    Op::Step => d.rehash_step(),
                }
                prop_assert_eq!(d.len(), m.len());
            }
            check(&d);
            let got: HashMap<Bytes, u32> = d.iter().map(|(k, v)| (k.clone(), *v)).collect();
            prop_assert_eq!(got, m);
        }

        /// SCAN's guarantee under interleaved mutations: every key present for the whole
        /// scan is returned. Between scan calls the test moves the number of other keys to a
        /// new target (inserting or deleting), which makes the table grow, shrink and sit
        /// mid-rehash at the moments the scan resumes.
        #[test]
        fn scan_survives_mutations(
            stable in 0u64..300,
            targets in proptest::collection::vec((0usize..1200, any::<bool>()), 1..40),
            count in 1usize..40,
        ) {
            let mut d: Dict<u64> = Dict::new();
            for i in 0..stable {
                d.insert(key(i), i);
            }
            // Volatile keys live in another key range so they never disturb the stable ones.
            let vol = |i: u64| key(1_000_000 + i);
            let mut next_vol = 0u64;
            let mut live_vol: std::collections::VecDeque<u64> = Default::default();
            let mut seen = HashSet::new();
            let mut cursor = 0;
            let mut steps = 0;
            let mut targets = targets.into_iter().cycle();
            loop {
                cursor = d.scan(cursor, count, |k, _| { seen.insert(k.clone()); });
                if cursor == 0 {
                    break;
                }
                steps += 1;
                prop_assert!(steps < 100_000, "scan does not terminate");
                let (target, step) = targets.next().unwrap();
                while live_vol.len() < target {
                    d.insert(vol(next_vol), 0);
                    live_vol.push_back(next_vol);
                    next_vol += 1;
                }
                while live_vol.len() > target {
                    let v = live_vol.pop_front().unwrap();
                    d.remove(&vol(v));
                }
                if step {
                    d.rehash_step();
                }
            }
            check(&d);
            for i in 0..stable {
                prop_assert!(seen.contains(&key(i)), "key {} missed", i);
            }
        }
    }

    /// Scan with a table forced through grow, mid-rehash and shrink at every step.
    #[test]
    fn scan_across_forced_resizes() {
        let mut d: Dict<()> = Dict::new();
        let stable = 300u64;
        for i in 0..stable {
            d.insert(key(i), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0u64;
        loop {
            cursor = d.scan(cursor, 3, |k, _| {
                seen.insert(k.clone());
            });
            if cursor == 0 {
                break;
            }
            round += 1;
            // Alternate: a big burst of inserts (growth), then delete it all (shrink).
            if round % 2 == 1 {
                for j in 0..3000 {
                    d.insert(key(10_000_000 + j), ());
                }
            } else {
                for j in 0..3000 {
                    d.remove(&key(10_000_000 + j));
                }
            }
        }
        for i in 0..stable {
            assert!(seen.contains(&key(i)));
        }
    }

    /// Insert/get of 1M keys against std's HashMap (SipHash-1-3; the Dict uses 1-2). Run with
    /// `cargo test --release --lib dict_bench -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn dict_bench() {
        use std::time::Instant;
        let n = 1_000_000u64;
        let keys: Vec<Bytes> = (0..n)
            .map(|i| Bytes::from(format!("key:{i:012}")))
            .collect();
        for round in 0..3 {
            let t = Instant::now();
            let mut d = Dict::new();
            for (i, k) in keys.iter().enumerate() {
                d.insert(k.clone(), i as u64);
            }
            let di = t.elapsed();
            let t = Instant::now();
            let mut s = 0;
            for k in &keys {
                s += *d.get(k).unwrap();
            }
            let dg = t.elapsed();
            let t = Instant::now();
            for k in &keys {
                d.remove(k);
            }
            let dr = t.elapsed();

            let t = Instant::now();
            let mut m = HashMap::new();
            for (i, k) in keys.iter().enumerate() {
                m.insert(k.clone(), i as u64);
            }
            let mi = t.elapsed();
            let t = Instant::now();
            for k in &keys {
                s += *m.get(k).unwrap();
            }
            let mg = t.elapsed();
            let t = Instant::now();
            for k in &keys {
                m.remove(k);
            }
            let mr = t.elapsed();
            // The longest single insert: growth must never pause for the whole table.
            let mut d = Dict::new();
            let mut worst = std::time::Duration::ZERO;
            let mut slow = 0;
            for (i, k) in keys.iter().enumerate() {
                let t = Instant::now();
                d.insert(k.clone(), i as u64);
                let e = t.elapsed();
                worst = worst.max(e);
                slow += (e.as_micros() > 1000) as u32;
            }
            let mut m = HashMap::new();
            let mut mworst = std::time::Duration::ZERO;
            let mut mslow = 0;
            for (i, k) in keys.iter().enumerate() {
                let t = Instant::now();
                m.insert(k.clone(), i as u64);
                let e = t.elapsed();
                mworst = mworst.max(e);
                mslow += (e.as_micros() > 1000) as u32;
            }
            println!(
                "round {round} (n={n}, checksum {s}): Dict insert {:?} get {:?} remove {:?} worst insert {:?} ({} over 1ms) | HashMap insert {:?} get {:?} remove {:?} worst insert {:?} ({} over 1ms)",
                di, dg, dr, worst, slow, mi, mg, mr, mworst, mslow
            );
        }
    }
}
