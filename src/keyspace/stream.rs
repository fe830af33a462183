//! Stream values: entries by ID, consumer groups, pending entries.
//!
//! Redis stores a stream as a radix tree of listpacks ("macro nodes"): each listpack holds up
//! to `stream-node-max-entries` entries (or `stream-node-max-bytes` bytes), delta-encoded
//! against a *master entry* (the first entry's ID and field names). Deleting an entry only
//! flags it inside its listpack; a listpack goes away when its last live entry does.
//!
//! That layout is visible from outside: `XTRIM MAXLEN ~ n` removes only whole listpacks, and
//! `XINFO STREAM` reports `radix-tree-keys` (listpacks) and `radix-tree-nodes` (rax nodes). So
//! rtool keeps the same node structure — which entries share a listpack, which are flagged
//! deleted, how many bytes each listpack would take — and a model of the rax's node count
//! (`rax::RaxModel`), while the entries themselves are plain vectors of field/value bytes.
//!
//! Consumer groups follow Redis's `streamCG`: the last delivered ID, the logical read counter
//! (`entries_read`, used for the lag), the pending entries list (PEL: ID -> owner, delivery
//! time, delivery count) and the consumers, each with its own view of the PEL.

mod rax;

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A stream entry ID: milliseconds and a sequence number, ordered as a 128-bit number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID (`streamIncrID`); `None` past the maximum.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID (`streamDecrID`); `None` below 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The 128-bit big-endian form Redis uses as a rax key.
    pub fn encode(&self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One entry inside a listpack.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: StreamId,
    /// field, value, field, value...
    pub fields: Vec<Bytes>,
    /// STREAM_ITEM_FLAG_SAMEFIELDS: its field names are the master entry's (so the listpack
    /// stores only the values).
    pub same_fields: bool,
    /// STREAM_ITEM_FLAG_DELETED: a tombstone, skipped by every read.
    pub deleted: bool,
}

/// One listpack of the stream (a rax key).
#[derive(Clone, Debug)]
pub struct Node {
    /// The field names of the master entry (those of the first entry added to the node).
    pub master_fields: Vec<Bytes>,
    /// Entries in ID order, tombstones included.
    pub entries: Vec<Entry>,
    /// Live entries (the listpack's first integer).
    pub live: u64,
    /// Tombstones (the second integer).
    pub deleted: u64,
    /// Size of the listpack in bytes, except the two counters above (they change size as they
    /// change value, see [`Node::lp_bytes`]).
    body_bytes: usize,
}

/// Bytes a listpack integer element takes: encoding plus back-length.
fn lp_int_len(v: i64) -> usize {
    let enc = match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8388608..=8388607 => 4,
        -2147483648..=2147483647 => 5,
        _ => 9,
    };
    enc + lp_backlen_len(enc)
}

fn lp_backlen_len(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// A string that reads as a canonical 64-bit integer is stored as an integer (`lpStringToInt64`).
fn lp_string_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty()
        || !(b'1'..=b'9').contains(&digits[0])
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Bytes a listpack element holding `s` takes.
fn lp_str_len(s: &[u8]) -> usize {
    if let Some(v) = lp_string_int(s) {
        return lp_int_len(v);
    }
    let enc = match s.len() {
        0..=63 => 1 + s.len(),
        64..=4095 => 2 + s.len(),
        _ => 5 + s.len(),
    };
    enc + lp_backlen_len(enc)
}

/// The listpack header (total bytes, element count) plus the end byte.
const LP_EMPTY: usize = 6 + 1;

impl Node {
    /// A listpack as read back from an RDB file: its master fields and its entries (tombstones
    /// included, in ID order). The counters and the byte size are derived from them.
    pub fn from_parts(master: StreamId, master_fields: Vec<Bytes>, entries: Vec<Entry>) -> Node {
        let mut n = Node::new(master_fields);
        for e in &entries {
            n.body_bytes += n.entry_bytes(master, e);
            if e.deleted {
                n.deleted += 1;
            } else {
                n.live += 1;
            }
        }
        n.entries = entries;
        n
    }

    fn new(master_fields: Vec<Bytes>) -> Node {
        let mut body = LP_EMPTY + lp_int_len(master_fields.len() as i64) + lp_int_len(0);
        for f in &master_fields {
            body += lp_str_len(f);
        }
        Node {
            master_fields,
            entries: Vec::new(),
            live: 0,
            deleted: 0,
            body_bytes: body,
        }
    }

    /// `lpBytes` of this listpack.
    pub fn lp_bytes(&self) -> usize {
        self.body_bytes + lp_int_len(self.live as i64) + lp_int_len(self.deleted as i64)
    }

    /// The master ID: the rax key, i.e. the ID of the first entry ever put in the node.
    fn entry_bytes(&self, master: StreamId, e: &Entry) -> usize {
        let n = (e.fields.len() / 2) as i64;
        let mut b = lp_int_len(if e.same_fields { 2 } else { 0 });
        b += lp_int_len(e.id.ms.wrapping_sub(master.ms) as i64);
        b += lp_int_len(e.id.seq.wrapping_sub(master.seq) as i64);
        let lp_count = if e.same_fields { n + 3 } else { 2 * n + 4 };
        if !e.same_fields {
            b += lp_int_len(n);
        }
        for (i, x) in e.fields.iter().enumerate() {
            if i % 2 == 1 || !e.same_fields {
                b += lp_str_len(x);
            }
        }
        b + lp_int_len(lp_count)
    }

    fn find(&self, id: StreamId) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.id.cmp(&id))
    }
}

/// A pending entry: delivered to a consumer, not acknowledged yet (`streamNACK`).
#[derive(Clone, Debug)]
pub struct Nack {
    pub consumer: Bytes,
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
}

/// `streamConsumer`.
#[derive(Clone, Debug, Default)]
pub struct Consumer {
    /// Unix ms the consumer was last active.
    pub seen_time: i64,
    /// IDs of the group PEL entries this consumer owns.
    pub pel: BTreeSet<StreamId>,
}

/// `SCG_INVALID_ENTRIES_READ`: the group's read counter is unknown.
pub const INVALID_ENTRIES_READ: i64 = -1;

/// `streamCG`.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical count of entries read (ENTRIESREAD), or [`INVALID_ENTRIES_READ`].
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    /// By name, in byte order (Redis keeps them in a rax, which iterates in that order).
    pub consumers: BTreeMap<Bytes, Consumer>,
}

/// How XADD was told to pick the ID.
#[derive(Clone, Copy, Debug)]
pub enum AddId {
    /// `*`
    Auto,
    /// `<ms>-*`
    Ms(u64),
    /// `<ms>-<seq>`
    Exact(StreamId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// "The ID specified in XADD is equal or smaller than the target stream top item"
    NotGreater,
    /// "Elements are too large to be stored"
    TooLarge,
}

/// How to trim (XADD's and XTRIM's MAXLEN / MINID).
#[derive(Clone, Copy, Debug)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// Largest listpack Redis lets a stream build (`STREAM_LISTPACK_MAX_SIZE`).
const LISTPACK_MAX_SIZE: usize = 1 << 30;

/// A stream.
#[derive(Clone, Debug, Default)]
pub struct StreamValue {
    /// Listpacks by master ID.
    nodes: BTreeMap<StreamId, Node>,
    rax: rax::RaxModel,
    /// Live entries.
    pub length: u64,
    pub last_id: StreamId,
    /// First live entry's ID as last recorded (Redis updates it lazily; XINFO shows it).
    pub first_id: StreamId,
    pub max_deleted_entry_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    pub groups: BTreeMap<Bytes, Group>,
}

impl StreamValue {
    pub fn new() -> StreamValue {
        StreamValue::default()
    }

    /// `raxSize(s->rax)`: the number of listpacks.
    pub fn radix_tree_keys(&self) -> usize {
        self.nodes.len()
    }

    /// `s->rax->numnodes`.
    pub fn radix_tree_nodes(&self) -> u64 {
        self.rax.numnodes
    }

    /// The listpacks, by master ID (for RDB writing and inspection).
    pub fn listpacks(&self) -> impl Iterator<Item = (&StreamId, &Node)> {
        self.nodes.iter()
    }

    /// Put a listpack back as it was (RDB loading): nodes must come in ID order, and the
    /// caller sets `length`, `last_id`, `first_id`, `max_deleted_entry_id`, `entries_added`
    /// and the groups from the file's metadata.
    pub fn push_node(&mut self, master: StreamId, node: Node) {
        self.rax.insert(&master.encode());
        self.nodes.insert(master, node);
    }

    /// XADD's ID choice (`streamAppendItem`'s first half), without adding anything.
    pub fn next_id(&self, spec: AddId, now_ms: i64) -> Result<StreamId, AddError> {
        let id = match spec {
            AddId::Exact(id) => id,
            AddId::Ms(ms) => {
                if self.last_id.ms == ms {
                    if self.last_id.seq == u64::MAX {
                        return Err(AddError::TooLarge);
                    }
                    StreamId::new(ms, self.last_id.seq + 1)
                } else {
                    StreamId::new(ms, 0)
                }
            }
            AddId::Auto => {
                let now = now_ms.max(0) as u64;
                if now > self.last_id.ms {
                    StreamId::new(now, 0)
                } else {
                    self.last_id.incr().unwrap_or(StreamId::MIN)
                }
            }
        };
        if id <= self.last_id {
            return Err(AddError::NotGreater);
        }
        Ok(id)
    }

    /// Append an entry (`streamAppendItem`): into the tail listpack if it has room, else into
    /// a new one whose master entry takes this entry's field names.
    pub fn add(
        &mut self,
        spec: AddId,
        fields: Vec<Bytes>,
        now_ms: i64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<StreamId, AddError> {
        let id = self.next_id(spec, now_ms)?;
        let total: usize = fields.iter().map(|f| f.len()).sum();
        if total > LISTPACK_MAX_SIZE {
            return Err(AddError::TooLarge);
        }
        let node_max_bytes = if max_bytes == 0 || max_bytes > LISTPACK_MAX_SIZE {
            LISTPACK_MAX_SIZE
        } else {
            max_bytes
        };
        let mut need_new = true;
        if let Some((_, tail)) = self.nodes.iter().next_back() {
            need_new = tail.lp_bytes() + total >= node_max_bytes
                || (max_entries != 0 && (tail.live + tail.deleted) as usize >= max_entries);
        }
        if need_new {
            let master_fields: Vec<Bytes> = fields.iter().step_by(2).cloned().collect();
            self.nodes.insert(id, Node::new(master_fields));
            self.rax.insert(&id.encode());
        }
        let (&master, node) = self
            .nodes
            .iter_mut()
            .next_back()
            .expect("a tail node exists");
        let same_fields = node.master_fields.len() * 2 == fields.len()
            && node
                .master_fields
                .iter()
                .zip(fields.iter().step_by(2))
                .all(|(a, b)| a == b);
        let e = Entry {
            id,
            fields,
            same_fields,
            deleted: false,
        };
        node.body_bytes += node.entry_bytes(master, &e);
        node.entries.push(e);
        node.live += 1;
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    /// Live entries with `start <= id <= end`, ascending or (`rev`) descending.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = &Entry> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        // The first node that can hold `start` is the last one whose master ID is <= start.
        let lo = self
            .nodes
            .range(..=start)
            .next_back()
            .map(|(k, _)| *k)
            .unwrap_or(StreamId::MIN);
        let nodes = self.nodes.range(lo..=end).map(|(_, n)| n);
        if rev {
            Box::new(
                nodes
                    .rev()
                    .flat_map(|n| n.entries.iter().rev())
                    .skip_while(move |e| e.id > end)
                    .take_while(move |e| e.id >= start)
                    .filter(|e| !e.deleted),
            )
        } else {
            Box::new(
                nodes
                    .flat_map(|n| n.entries.iter())
                    .skip_while(move |e| e.id < start)
                    .take_while(move |e| e.id <= end)
                    .filter(|e| !e.deleted),
            )
        }
    }

    /// Every live entry in order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.nodes
            .values()
            .flat_map(|n| n.entries.iter())
            .filter(|e| !e.deleted)
    }

    /// The live entry with this ID.
    pub fn get(&self, id: StreamId) -> Option<&Entry> {
        let (_, node) = self.nodes.range(..=id).next_back()?;
        let i = node.find(id).ok()?;
        let e = &node.entries[i];
        if e.deleted { None } else { Some(e) }
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// `streamLastValidID`: the highest live ID (0-0 when empty).
    pub fn last_valid_id(&self) -> StreamId {
        self.range(StreamId::MIN, StreamId::MAX, true)
            .next()
            .map(|e| e.id)
            .unwrap_or(StreamId::MIN)
    }

    /// `streamGetEdgeID(s, 1, skip_tombstones)`: the first ID, or MAX when there is none.
    pub fn first_edge_id(&self, skip_tombstones: bool) -> StreamId {
        let mut all = self.nodes.values().flat_map(|n| n.entries.iter());
        let found = if skip_tombstones {
            all.find(|e| !e.deleted)
        } else {
            all.next()
        };
        found.map(|e| e.id).unwrap_or(StreamId::MAX)
    }

    /// Flag one entry deleted (`streamDeleteItem`); a listpack whose last live entry goes is
    /// removed. Returns whether the entry was there.
    fn delete_entry(&mut self, id: StreamId) -> bool {
        let Some((&key, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let Ok(i) = node.find(id) else { return false };
        if node.entries[i].deleted {
            return false;
        }
        if node.live == 1 {
            self.nodes.remove(&key);
            self.rax.remove(&key.encode());
        } else {
            node.entries[i].deleted = true;
            node.live -= 1;
            node.deleted += 1;
        }
        self.length -= 1;
        true
    }

    /// XDEL: delete these IDs; keeps `first_id` and `max_deleted_entry_id` as Redis does.
    pub fn xdel(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first_entry = false;
        for &id in ids {
            if self.delete_entry(id) {
                if id == self.first_id {
                    first_entry = true;
                }
                if id > self.max_deleted_entry_id {
                    self.max_deleted_entry_id = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.length == 0 {
                self.first_id = StreamId::MIN;
            } else if first_entry {
                self.first_id = self.first_edge_id(true);
            }
        }
        deleted
    }

    /// `streamTrim`: drop entries from the head. `approx` removes whole listpacks only;
    /// `limit` (0 = none) caps the entries removed. Returns how many were removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        // Trimming works from the head: the node to look at is always the first one left.
        while let Some(&key) = self.nodes.keys().next() {
            if let Trim::MaxLen(max) = how
                && self.length <= max
            {
                break;
            }
            let node = &self.nodes[&key];
            let entries = node.live;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => self.length - entries >= max,
                // The node's last ID, tombstone or not.
                Trim::MinId(min) => node.entries.last().map(|e| e.id < min).unwrap_or(true),
            };
            if remove_node {
                self.nodes.remove(&key);
                self.rax.remove(&key.encode());
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            // Flag entries inside this node until the condition holds, then stop for good.
            let mut length = self.length;
            let node = self.nodes.get_mut(&key).expect("node exists");
            let mut from_node = 0;
            for e in node.entries.iter_mut() {
                let stop = match how {
                    Trim::MaxLen(max) => length <= max,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted {
                    e.deleted = true;
                    from_node += 1;
                    length -= 1;
                }
            }
            node.live -= from_node;
            node.deleted += from_node;
            self.length = length;
            deleted += from_node;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.first_edge_id(true);
        }
        deleted
    }

    /// `streamRangeHasTombstones`: may an XDEL'd entry lie in [start, end]?
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_entry_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_entry_id {
            return false;
        }
        let start = start.unwrap_or(StreamId::MIN);
        let end = end.unwrap_or(StreamId::MAX);
        start <= self.max_deleted_entry_id && self.max_deleted_entry_id <= end
    }

    /// `streamEstimateDistanceFromFirstEverEntry`: the logical read counter of `id`, when it
    /// can be known; [`INVALID_ENTRIES_READ`] otherwise.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        if self.max_deleted_entry_id.is_zero() || self.max_deleted_entry_id < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.length) as i64;
            } else if id == self.first_id {
                return (self.entries_added - self.length + 1) as i64;
            }
        }
        INVALID_ENTRIES_READ
    }

    /// A group's lag (XINFO GROUPS `lag`): entries not yet delivered, or `None` when the
    /// stream's fragmentation makes it unknowable (`streamReplyWithCGLag`).
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ
            && !self.range_has_tombstones(Some(g.last_id), None)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let read = self.estimate_distance(g.last_id);
        if read != INVALID_ENTRIES_READ {
            Some(self.entries_added as i64 - read)
        } else {
            None
        }
    }

    /// Advance a group past `id` as a delivery does (the read-counter rules of
    /// `streamReplyWithRange`).
    pub fn advance_group(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read != INVALID_ENTRIES_READ && !self.range_has_tombstones(Some(id), None) {
            g.entries_read += 1;
        } else if self.entries_added != 0 {
            g.entries_read = self.estimate_distance(id);
        }
        g.last_id = id;
    }

    /// Feed the stream's contents to a digest, as Redis's `xorObjectDigest` does: each entry
    /// as `"<ms>.<seq>"` followed by its fields and values, in ID order.
    pub fn digest(&self, mix: &mut dyn FnMut(&[u8])) {
        for e in self.iter() {
            mix(format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
            for f in &e.fields {
                mix(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fv(pairs: &[(&str, &str)]) -> Vec<Bytes> {
        pairs
            .iter()
            .flat_map(|(f, v)| {
                [
                    Bytes::copy_from_slice(f.as_bytes()),
                    Bytes::copy_from_slice(v.as_bytes()),
                ]
            })
            .collect()
    }

    #[test]
    fn listpack_sizes() {
        assert_eq!(lp_str_len(b"12"), 2);
        assert_eq!(lp_str_len(b"012"), 5);
        assert_eq!(lp_str_len(b"-4096"), 3);
        assert_eq!(lp_int_len(128), 3);
        assert_eq!(lp_str_len(&[b'a'; 64]), 67);
    }

    #[test]
    fn nodes_split_at_max_entries_and_trim_approx() {
        let mut s = StreamValue::new();
        for i in 1..=250u64 {
            s.add(
                AddId::Exact(StreamId::new(i, 0)),
                fv(&[("f", "v")]),
                0,
                100,
                4096,
            )
            .unwrap();
        }
        assert_eq!(s.radix_tree_keys(), 3);
        assert_eq!(s.trim(Trim::MaxLen(10), true, 10_000), 200);
        assert_eq!(s.length, 50);
        assert_eq!(s.first_id, StreamId::new(201, 0));
        assert_eq!(s.trim(Trim::MaxLen(10), false, 0), 40);
        assert_eq!(s.first_id, StreamId::new(241, 0));
        assert_eq!(s.range(StreamId::MIN, StreamId::MAX, true).count(), 10);
    }

    #[test]
    fn ids_and_deletes() {
        let mut s = StreamValue::new();
        let a = s
            .add(AddId::Ms(5), fv(&[("a", "1")]), 0, 100, 4096)
            .unwrap();
        let b = s
            .add(AddId::Ms(5), fv(&[("a", "2")]), 0, 100, 4096)
            .unwrap();
        assert_eq!((a, b), (StreamId::new(5, 0), StreamId::new(5, 1)));
        assert_eq!(
            s.add(
                AddId::Exact(StreamId::new(5, 1)),
                fv(&[("a", "3")]),
                0,
                100,
                4096
            ),
            Err(AddError::NotGreater)
        );
        assert_eq!(s.xdel(&[a]), 1);
        assert_eq!(s.first_id, b);
        assert_eq!(s.max_deleted_entry_id, a);
        assert_eq!(s.xdel(&[b]), 1);
        assert_eq!(s.radix_tree_keys(), 0);
        assert_eq!(s.radix_tree_nodes(), 1);
    }
}
