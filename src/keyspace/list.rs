//! List values. Redis 7.0 stores every list as a `quicklist` (a linked list of listpacks), so
//! that is the only encoding `OBJECT ENCODING` reports for a list in 7.0.
//!
//! rtool keeps a list the way a quicklist does, for the same reason: memory. A list is a
//! `VecDeque` of *nodes*; a packed node is one byte buffer of up to [`NODE_BYTES`] holding its
//! elements back to back, so a 3-byte element costs 5 bytes instead of a 32-byte `Bytes`
//! handle plus an allocation of its own (an 8-million-element list of short strings went
//! from ~600 MB to ~40 MB). An element longer than [`PLAIN_ABOVE`] gets a *plain* node of its
//! own, kept as the `Bytes` it arrived in: copying it into a shared buffer would save nothing
//! and would make every edit of its neighbours move it.
//!
//! An entry is `len data len`: the length before the data lets a reader walk a node forwards,
//! the same length after it (its bytes in the opposite order) lets it walk backwards, so the
//! last element of a node is found without scanning the node. A length below 128 takes one
//! byte, a longer one two (packed elements are at most 4 KB).
//!
//! Both ends stay O(1) amortized because a node has room at both ends of its buffer: the live
//! entries are `buf[start..]`, the bytes before `start` are room for pushes at the head, and
//! the `Vec`'s spare capacity is room for pushes at the tail. A pop at the head just moves
//! `start` on, a pop at the tail truncates. When one side runs out of room, the node grows
//! (doubling, up to `NODE_BYTES`) with all the new room on that side — so a node filled by
//! RPUSH or by LPUSH alone ends up with no slack — or, when the other side has at least as
//! much room as there are live bytes (pops made it), the entries move over and the room is
//! shared, which costs no more than the pops that made that room. Otherwise the node is full
//! and a new node starts. A node that stops being an end node gives back any large slack.
//!
//! Index access (LINDEX, LSET, LRANGE's start) walks the nodes by their element counts from
//! the nearer end, then the entries inside one node — O(nodes), as in Redis. Edits in the
//! middle (LINSERT, LSET, LREM) rebuild the one node they touch (splitting it if it
//! overflows) and merge neighbours that fit together again.
//!
//! How Redis would cut the list into listpack nodes depends on the order of pushes and edits,
//! and is a property of the RDB file, not of the data: the RDB writer decides it from
//! [`ListValue::iter`] and `list-max-listpack-size` when it writes, so these nodes need not
//! (and do not) match Redis's.

use bytes::Bytes;
use std::collections::VecDeque;
use std::fmt;
use std::iter::FusedIterator;

/// The most bytes of entries a packed node holds: the size Redis's default
/// `list-max-listpack-size -2` gives a listpack.
pub const NODE_BYTES: usize = 8192;

/// Elements longer than this live alone in a plain node.
pub const PLAIN_ABOVE: usize = 4096;

/// The smallest buffer a node grows to (a first node starts exactly as big as its element,
/// which is all a one-element list needs).
const MIN_GROW: usize = 32;

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

// ---------------------------------------------------------------------------------------
// Entries: `len data len`

/// Bytes taken by each of the two length fields of an element of `n` bytes.
fn hdr(n: usize) -> usize {
    if n < 0x80 { 1 } else { 2 }
}

/// Bytes an element of `n` bytes takes in a packed node.
fn entry_size(n: usize) -> usize {
    n + 2 * hdr(n)
}

/// Append one entry. The leading length is little-endian base 128 with a continuation bit
/// on its first byte; the trailing one is the same two bytes mirrored, so that reading
/// backwards meets the byte with the continuation bit first.
fn append_entry(buf: &mut Vec<u8>, e: &[u8]) {
    let n = e.len();
    debug_assert!(n <= PLAIN_ABOVE);
    if n < 0x80 {
        buf.push(n as u8);
        buf.extend_from_slice(e);
        buf.push(n as u8);
    } else {
        let (lo, hi) = (0x80 | (n & 0x7f) as u8, (n >> 7) as u8);
        buf.extend_from_slice(&[lo, hi]);
        buf.extend_from_slice(e);
        buf.extend_from_slice(&[hi, lo]);
    }
}

/// Write one entry into `dst`, which is exactly `entry_size(e.len())` long.
fn write_entry(dst: &mut [u8], e: &[u8]) {
    let n = e.len();
    let h = hdr(n);
    let (lo, hi) = (0x80 | (n & 0x7f) as u8, (n >> 7) as u8);
    if h == 1 {
        dst[0] = n as u8;
        dst[n + 1] = n as u8;
    } else {
        dst[..2].copy_from_slice(&[lo, hi]);
        dst[n + 2..].copy_from_slice(&[hi, lo]);
    }
    dst[h..h + n].copy_from_slice(e);
}

/// The entry starting at `at`: where its data starts, and its length.
fn read_fwd(buf: &[u8], at: usize) -> (usize, usize) {
    let b0 = buf[at];
    if b0 < 0x80 {
        (at + 1, b0 as usize)
    } else {
        (at + 2, (b0 & 0x7f) as usize | (buf[at + 1] as usize) << 7)
    }
}

/// The entry ending at `end`: where its data starts, and its length.
fn read_back(buf: &[u8], end: usize) -> (usize, usize) {
    let b = buf[end - 1];
    if b < 0x80 {
        let n = b as usize;
        (end - 1 - n, n)
    } else {
        let n = (b & 0x7f) as usize | (buf[end - 2] as usize) << 7;
        (end - 2 - n, n)
    }
}

// ---------------------------------------------------------------------------------------
// Nodes

/// A node's elements back to back in `buf[start..]`; see the module comment for the room
/// kept at both ends. `u32` fields: a node never holds more than `NODE_BYTES`.
#[derive(Clone)]
struct Packed {
    buf: Vec<u8>,
    start: u32,
    count: u32,
}

impl Packed {
    /// A node holding one element, with room for `cap` bytes on the side the next pushes
    /// will come from (the head for `front`).
    fn with_entry(e: &[u8], cap: usize, front: bool) -> Packed {
        let need = entry_size(e.len());
        let cap = cap.max(need);
        let mut buf = Vec::with_capacity(cap);
        let start = if front { cap - need } else { 0 };
        buf.resize(start, 0);
        append_entry(&mut buf, e);
        Packed {
            buf,
            start: start as u32,
            count: 1,
        }
    }

    /// Exactly the given elements, with no room to spare (a rebuilt or merged node).
    fn exact<'a>(elems: impl Iterator<Item = &'a [u8]>, bytes: usize) -> Packed {
        let mut buf = Vec::with_capacity(bytes);
        let mut count = 0;
        for e in elems {
            append_entry(&mut buf, e);
            count += 1;
        }
        Packed {
            buf,
            start: 0,
            count,
        }
    }

    fn start(&self) -> usize {
        self.start as usize
    }

    fn live(&self) -> usize {
        self.buf.len() - self.start()
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start()..]
    }

    /// Push at one end; false when the node is full (the caller starts a new node).
    fn push(&mut self, front: bool, e: &[u8]) -> bool {
        let need = entry_size(e.len());
        if !self.make_room(front, need) {
            return false;
        }
        if front {
            let at = self.start() - need;
            write_entry(&mut self.buf[at..at + need], e);
            self.start = at as u32;
        } else {
            append_entry(&mut self.buf, e);
        }
        self.count += 1;
        true
    }

    /// Make `need` bytes of room on one side, if the node may take them: see the module
    /// comment for the policy and why it keeps both ends amortized O(1).
    fn make_room(&mut self, front: bool, need: usize) -> bool {
        let (start, len, cap) = (self.start(), self.buf.len(), self.buf.capacity());
        let live = len - start;
        let (side, other) = if front {
            (start, cap - len)
        } else {
            (cap - len, start)
        };
        if side >= need {
            return true;
        }
        if live + need > NODE_BYTES {
            return false;
        }
        let free = cap - live;
        if free >= need && other >= live {
            // Moving `live` bytes is paid for by the pops or the growth that made `other`
            // bytes of room; sharing the room keeps alternating ends from moving every time.
            let this_side = need + (free - need) / 2;
            let new_start = if front { this_side } else { free - this_side };
            let new_end = new_start + live;
            if new_end > len {
                self.buf.resize(new_end, 0);
            }
            self.buf.copy_within(start..len, new_start);
            self.buf.truncate(new_end);
            self.start = new_start as u32;
            return true;
        }
        if cap >= NODE_BYTES {
            return false;
        }
        let new_cap = (2 * cap).max(live + need).clamp(MIN_GROW, NODE_BYTES);
        let mut buf = Vec::with_capacity(new_cap);
        let new_start = if front { new_cap - live } else { 0 };
        buf.resize(new_start, 0);
        buf.extend_from_slice(&self.buf[start..len]);
        self.buf = buf;
        self.start = new_start as u32;
        true
    }

    /// Pop from one end of a node that keeps at least one element.
    fn pop(&mut self, front: bool) -> Bytes {
        debug_assert!(self.count > 1);
        let v;
        if front {
            let (ds, n) = read_fwd(&self.buf, self.start());
            v = Bytes::copy_from_slice(&self.buf[ds..ds + n]);
            self.start = (ds + n + hdr(n)) as u32;
        } else {
            let (ds, n) = read_back(&self.buf, self.buf.len());
            v = Bytes::copy_from_slice(&self.buf[ds..ds + n]);
            self.buf.truncate(ds - hdr(n));
        }
        self.count -= 1;
        v
    }

    /// Drop `k` elements (fewer than the node holds) from one end.
    fn skip(&mut self, front: bool, k: usize) {
        debug_assert!(k < self.count as usize);
        if front {
            self.start = self.offset(k) as u32;
        } else {
            let at = self.offset(self.count as usize - k);
            self.buf.truncate(at);
        }
        self.count -= k as u32;
    }

    /// The byte offset where element `k` starts (`k == count`: the end of the data), found
    /// from the nearer end.
    fn offset(&self, k: usize) -> usize {
        let count = self.count as usize;
        if k <= count / 2 {
            let mut at = self.start();
            for _ in 0..k {
                let (ds, n) = read_fwd(&self.buf, at);
                at = ds + n + hdr(n);
            }
            at
        } else {
            let mut at = self.buf.len();
            for _ in k..count {
                let (ds, n) = read_back(&self.buf, at);
                at = ds - hdr(n);
            }
            at
        }
    }

    fn entries(&self) -> impl Iterator<Item = &[u8]> {
        let mut at = self.start();
        std::iter::from_fn(move || {
            (at < self.buf.len()).then(|| {
                let (ds, n) = read_fwd(&self.buf, at);
                at = ds + n + hdr(n);
                &self.buf[ds..ds + n]
            })
        })
    }

    /// Give back the room of a node that stopped being an end node, when it is more than an
    /// eighth of the buffer (a node filled from one end has less than one element's worth).
    fn shrink(&mut self) {
        let cap = self.buf.capacity();
        if cap - self.live() > cap / 8 {
            self.buf = self.data().to_vec();
            self.start = 0;
        }
    }
}

#[derive(Clone)]
enum Node {
    Packed(Packed),
    /// One element longer than `PLAIN_ABOVE`.
    Plain(Bytes),
}

/// An element while a node is being rebuilt: borrowed from the old node, or new.
enum Elem<'a> {
    Ref(&'a [u8]),
    Own(Bytes),
}

impl Elem<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Elem::Ref(s) => s,
            Elem::Own(b) => b,
        }
    }
}

impl Node {
    fn count(&self) -> usize {
        match self {
            Node::Packed(p) => p.count as usize,
            Node::Plain(_) => 1,
        }
    }

    /// Iterator positions: a byte offset in a packed node; 0 (before) or 1 (after) in a
    /// plain one.
    fn begin(&self) -> usize {
        match self {
            Node::Packed(p) => p.start(),
            Node::Plain(_) => 0,
        }
    }

    fn end(&self) -> usize {
        match self {
            Node::Packed(p) => p.buf.len(),
            Node::Plain(_) => 1,
        }
    }

    /// The position of element `k` (`k == count`: the end).
    fn offset(&self, k: usize) -> usize {
        match self {
            Node::Packed(p) => p.offset(k),
            Node::Plain(_) => k,
        }
    }

    /// The element at position `at`, and the position after it.
    fn entry_at(&self, at: usize) -> (&[u8], usize) {
        match self {
            Node::Packed(p) => {
                let (ds, n) = read_fwd(&p.buf, at);
                (&p.buf[ds..ds + n], ds + n + hdr(n))
            }
            Node::Plain(b) => (b, 1),
        }
    }

    /// The element ending at position `end`, and the position before it.
    fn entry_before(&self, end: usize) -> (&[u8], usize) {
        match self {
            Node::Packed(p) => {
                let (ds, n) = read_back(&p.buf, end);
                (&p.buf[ds..ds + n], ds - hdr(n))
            }
            Node::Plain(b) => (b, 0),
        }
    }

    fn get(&self, k: usize) -> &[u8] {
        self.entry_at(self.offset(k)).0
    }

    fn elems(&self) -> Vec<Elem<'_>> {
        match self {
            Node::Packed(p) => p.entries().map(Elem::Ref).collect(),
            Node::Plain(b) => vec![Elem::Own(b.clone())],
        }
    }

    fn position_of(&self, v: &[u8]) -> Option<usize> {
        match self {
            Node::Packed(p) => p.entries().position(|e| e == v),
            Node::Plain(b) => (b.as_ref() == v).then_some(0),
        }
    }

    fn matches(&self, v: &[u8]) -> usize {
        match self {
            Node::Packed(p) => p.entries().filter(|e| *e == v).count(),
            Node::Plain(b) => usize::from(b.as_ref() == v),
        }
    }
}

/// Cut elements into nodes: packed nodes filled greedily up to `NODE_BYTES`, exactly sized,
/// and a plain node for each long element.
fn pack(elems: &[Elem]) -> Vec<Node> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < elems.len() {
        if elems[i].bytes().len() > PLAIN_ABOVE {
            out.push(Node::Plain(match &elems[i] {
                Elem::Ref(s) => Bytes::copy_from_slice(s),
                Elem::Own(b) => b.clone(),
            }));
            i += 1;
            continue;
        }
        let mut j = i;
        let mut bytes = 0;
        while let Some(e) = elems.get(j) {
            let n = e.bytes().len();
            if n > PLAIN_ABOVE || bytes + entry_size(n) > NODE_BYTES {
                break;
            }
            bytes += entry_size(n);
            j += 1;
        }
        let group = elems[i..j].iter().map(Elem::bytes);
        out.push(Node::Packed(Packed::exact(group, bytes)));
        i = j;
    }
    out
}

// ---------------------------------------------------------------------------------------
// The list

#[derive(Clone, Default)]
pub struct ListValue {
    nodes: VecDeque<Node>,
    /// The number of elements (the sum of the nodes' counts).
    len: usize,
}

impl fmt::Debug for ListValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Bytes::copy_from_slice))
            .finish()
    }
}

impl ListValue {
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements from head to tail: what LRANGE 0 -1, DEBUG DIGEST and the RDB writer see.
    pub fn iter(&self) -> Iter<'_> {
        match self.nodes.back() {
            None => Iter::empty(&self.nodes),
            Some(last) => Iter {
                nodes: &self.nodes,
                front: (0, self.nodes[0].begin()),
                back: (self.nodes.len() - 1, last.end()),
                left: self.len,
            },
        }
    }

    /// The elements at positions `start..=stop` (empty unless `start <= stop < len`), found
    /// by walking the nodes once for each end: what LRANGE sends after [`Self::clamp_range`].
    pub fn range(&self, start: usize, stop: usize) -> Iter<'_> {
        if start > stop || stop >= self.len {
            return Iter::empty(&self.nodes);
        }
        let (Some((i, k)), Some((j, m))) = (self.locate(start), self.locate(stop)) else {
            return Iter::empty(&self.nodes);
        };
        Iter {
            nodes: &self.nodes,
            front: (i, self.nodes[i].offset(k)),
            back: (j, self.nodes[j].offset(m + 1)),
            left: stop - start + 1,
        }
    }

    /// Heap bytes the list holds (node buffers with their room, plain elements, the node
    /// table): an estimate for memory reports and tests.
    pub fn heap_bytes(&self) -> usize {
        let nodes: usize = self
            .nodes
            .iter()
            .map(|n| match n {
                Node::Packed(p) => p.buf.capacity(),
                Node::Plain(b) => b.len(),
            })
            .sum();
        nodes + self.nodes.capacity() * std::mem::size_of::<Node>()
    }

    pub fn push(&mut self, end: End, v: Bytes) {
        if v.len() > PLAIN_ABOVE {
            self.push_node(end, Node::Plain(v));
        } else {
            self.push_slice(end, &v);
        }
    }

    /// Push a borrowed element (copied into the list): what the push commands use, so an
    /// argument is copied once, straight into its node.
    pub fn push_slice(&mut self, end: End, e: &[u8]) {
        if e.len() > PLAIN_ABOVE {
            return self.push_node(end, Node::Plain(Bytes::copy_from_slice(e)));
        }
        let front = end == End::Head;
        let edge = match end {
            End::Head => self.nodes.front_mut(),
            End::Tail => self.nodes.back_mut(),
        };
        // A node that fills up means a long list: its successor gets a full node's room at
        // once instead of growing to it.
        let cap = match edge {
            Some(Node::Packed(p)) => {
                if p.push(front, e) {
                    self.len += 1;
                    return;
                }
                NODE_BYTES
            }
            Some(Node::Plain(_)) | None => 0,
        };
        self.push_node(end, Node::Packed(Packed::with_entry(e, cap, front)));
    }

    /// Add a node holding one element at one end.
    fn push_node(&mut self, end: End, node: Node) {
        let edge = match end {
            End::Head => self.nodes.front_mut(),
            End::Tail => self.nodes.back_mut(),
        };
        if let Some(Node::Packed(p)) = edge {
            p.shrink();
        }
        if self.nodes.capacity() == 0 {
            // Most lists are one node: no room for four.
            self.nodes.reserve_exact(1);
        }
        match end {
            End::Head => self.nodes.push_front(node),
            End::Tail => self.nodes.push_back(node),
        }
        self.len += 1;
    }

    pub fn pop(&mut self, end: End) -> Option<Bytes> {
        let i = match end {
            End::Head => 0,
            End::Tail => self.nodes.len().checked_sub(1)?,
        };
        let v = match self.nodes.get_mut(i)? {
            Node::Packed(p) if p.count > 1 => p.pop(end == End::Head),
            _ => match self.nodes.remove(i)? {
                Node::Plain(b) => b,
                Node::Packed(p) => Bytes::copy_from_slice(p.entries().next().unwrap_or(&[])),
            },
        };
        self.len -= 1;
        Some(v)
    }

    /// Turn a Redis index (negative counts from the tail) into a position, if it is inside.
    pub fn position(&self, index: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if index < 0 {
            len.checked_add(index)?
        } else {
            index
        };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// The node holding position `pos`, and the element's index inside it: a walk over the
    /// node counts from the nearer end.
    fn locate(&self, pos: usize) -> Option<(usize, usize)> {
        if pos >= self.len {
            return None;
        }
        if pos < self.len / 2 {
            let mut p = pos;
            for (i, n) in self.nodes.iter().enumerate() {
                let c = n.count();
                if p < c {
                    return Some((i, p));
                }
                p -= c;
            }
        } else {
            let mut p = self.len - 1 - pos;
            for (i, n) in self.nodes.iter().enumerate().rev() {
                let c = n.count();
                if p < c {
                    return Some((i, c - 1 - p));
                }
                p -= c;
            }
        }
        None
    }

    pub fn get(&self, index: i64) -> Option<&[u8]> {
        let (i, k) = self.locate(self.position(index)?)?;
        Some(self.nodes[i].get(k))
    }

    /// LSET: replace the element at an index; false when the index is out of range.
    pub fn set(&mut self, index: i64, v: Bytes) -> bool {
        let Some((i, k)) = self.position(index).and_then(|p| self.locate(p)) else {
            return false;
        };
        // Same length, small: overwrite in place.
        if let Node::Packed(p) = &mut self.nodes[i] {
            let (ds, n) = read_fwd(&p.buf, p.offset(k));
            if n == v.len() {
                p.buf[ds..ds + n].copy_from_slice(&v);
                return true;
            }
        }
        let m = self.rebuild(i, |el| el[k] = Elem::Own(v));
        self.merge(i.saturating_sub(1), i + m);
        true
    }

    /// Replace node `i` by the nodes its elements make after `edit`; returns how many
    /// nodes that is (0 when nothing is left). The caller keeps `len` right.
    fn rebuild(&mut self, i: usize, edit: impl FnOnce(&mut Vec<Elem<'_>>)) -> usize {
        let new = {
            let mut elems = self.nodes[i].elems();
            edit(&mut elems);
            pack(&elems)
        };
        let m = new.len();
        self.nodes.remove(i);
        for (j, n) in new.into_iter().enumerate() {
            self.nodes.insert(i + j, n);
        }
        m
    }

    /// Merge neighbouring packed nodes among `lo..=hi` whose entries fit in one node, so
    /// that edits in the middle do not leave a trail of small nodes.
    fn merge(&mut self, lo: usize, hi: usize) {
        let mut hi = hi.min(self.nodes.len().saturating_sub(1));
        let mut i = lo;
        while i < hi {
            if let (Node::Packed(a), Node::Packed(b)) = (&self.nodes[i], &self.nodes[i + 1])
                && a.live() + b.live() <= NODE_BYTES
            {
                let mut buf = Vec::with_capacity(a.live() + b.live());
                buf.extend_from_slice(a.data());
                buf.extend_from_slice(b.data());
                let count = a.count + b.count;
                self.nodes[i] = Node::Packed(Packed {
                    buf,
                    start: 0,
                    count,
                });
                self.nodes.remove(i + 1);
                hi -= 1;
            } else {
                i += 1;
            }
        }
    }

    /// LRANGE's (and LTRIM's) clamping of `start..=stop`: negative indexes count from the
    /// tail, a start before the head is the head, a stop past the tail is the tail; `None`
    /// when the range is empty.
    pub fn clamp_range(&self, start: i64, stop: i64) -> Option<(usize, usize)> {
        let len = self.len as i64;
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
        let len = self.len;
        match self.clamp_range(start, stop) {
            None => {
                self.nodes.clear();
                self.len = 0;
            }
            Some((s, e)) => {
                self.drop_end(End::Tail, len - 1 - e);
                self.drop_end(End::Head, s);
            }
        }
        len - self.len
    }

    /// Drop `n` elements from one end: whole nodes, then part of one.
    fn drop_end(&mut self, end: End, mut n: usize) {
        while n > 0 {
            let i = match end {
                End::Head => 0,
                End::Tail => self.nodes.len() - 1,
            };
            let c = self.nodes[i].count();
            if c <= n {
                self.nodes.remove(i);
                n -= c;
                self.len -= c;
            } else {
                if let Node::Packed(p) = &mut self.nodes[i] {
                    p.skip(end == End::Head, n);
                }
                self.len -= n;
                n = 0;
            }
        }
    }

    /// LINSERT: put `v` before or after the first element equal to `pivot`, searching from
    /// the head. False when there is no such element.
    pub fn insert(&mut self, pivot: &[u8], after: bool, v: Bytes) -> bool {
        let found = self
            .nodes
            .iter()
            .enumerate()
            .find_map(|(i, n)| n.position_of(pivot).map(|k| (i, k)));
        let Some((i, k)) = found else {
            return false;
        };
        let at = if after { k + 1 } else { k };
        let m = self.rebuild(i, |el| el.insert(at, Elem::Own(v)));
        self.len += 1;
        self.merge(i.saturating_sub(1), i + m);
        true
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
            while i < self.nodes.len() && removed < limit {
                let hits = self.nodes[i].matches(v).min(limit - removed);
                if hits == 0 {
                    i += 1;
                    continue;
                }
                let mut left = hits;
                i += self.rebuild(i, |el| {
                    el.retain(|e| {
                        let drop = left > 0 && e.bytes() == v;
                        left -= usize::from(drop);
                        !drop
                    })
                });
                removed += hits;
            }
        } else {
            let mut i = self.nodes.len();
            while i > 0 && removed < limit {
                i -= 1;
                let all = self.nodes[i].matches(v);
                let hits = all.min(limit - removed);
                if hits == 0 {
                    continue;
                }
                // Keep the first `all - hits` matches, drop the rest (the ones nearest the
                // tail).
                let mut keep = all - hits;
                self.rebuild(i, |el| {
                    el.retain(|e| {
                        if e.bytes() != v {
                            return true;
                        }
                        let kept = keep > 0;
                        keep = keep.saturating_sub(1);
                        kept
                    })
                });
                removed += hits;
            }
        }
        if removed > 0 {
            self.len -= removed;
            self.merge(0, usize::MAX);
        }
        removed
    }

    /// Pop up to `count` elements from one end, in the order they leave the list (what
    /// LPOP/RPOP with a count and LMPOP reply).
    pub fn pop_many(&mut self, end: End, count: usize) -> Vec<Bytes> {
        let n = count.min(self.len);
        (0..n).filter_map(|_| self.pop(end)).collect()
    }

    /// The invariants the operations keep, checked by the tests.
    #[cfg(test)]
    fn check(&self) {
        let mut total = 0;
        for n in &self.nodes {
            match n {
                Node::Packed(p) => {
                    assert!(p.count > 0, "empty node");
                    assert!(
                        p.live() <= NODE_BYTES,
                        "node over {NODE_BYTES}: {}",
                        p.live()
                    );
                    assert_eq!(p.entries().count(), p.count as usize);
                    assert!(p.entries().all(|e| e.len() <= PLAIN_ABOVE));
                }
                Node::Plain(b) => assert!(b.len() > PLAIN_ABOVE),
            }
            total += n.count();
        }
        assert_eq!(total, self.len);
    }
}

/// Iterator over a list's elements (or a range of them), from both ends.
pub struct Iter<'a> {
    nodes: &'a VecDeque<Node>,
    /// Node index and position of the next element from the front.
    front: (usize, usize),
    /// Node index and position just past the next element from the back.
    back: (usize, usize),
    /// Elements not yet yielded from either end: the two cursors never cross.
    left: usize,
}

impl<'a> Iter<'a> {
    fn empty(nodes: &'a VecDeque<Node>) -> Self {
        Iter {
            nodes,
            front: (0, 0),
            back: (0, 0),
            left: 0,
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let nodes = self.nodes;
        loop {
            let (i, at) = self.front;
            let node = nodes.get(i)?;
            if at < node.end() {
                let (e, next) = node.entry_at(at);
                self.front.1 = next;
                self.left -= 1;
                return Some(e);
            }
            self.front = (i + 1, nodes.get(i + 1)?.begin());
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let nodes = self.nodes;
        loop {
            let (i, end) = self.back;
            let node = nodes.get(i)?;
            if end > node.begin() {
                let (e, prev) = node.entry_before(end);
                self.back.1 = prev;
                self.left -= 1;
                return Some(e);
            }
            let i = i.checked_sub(1)?;
            self.back = (i, nodes[i].end());
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}
impl FusedIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(items: &[&str]) -> ListValue {
        let mut l = ListValue::default();
        items
            .iter()
            .for_each(|s| l.push_slice(End::Tail, s.as_bytes()));
        l
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

    #[test]
    fn entries_round_trip_at_the_length_boundaries() {
        for n in [0, 1, 127, 128, 129, 16383.min(PLAIN_ABOVE), PLAIN_ABOVE] {
            let e = vec![b'x'; n];
            let mut buf = vec![0u8; 3];
            append_entry(&mut buf, &e);
            assert_eq!(buf.len(), 3 + entry_size(n));
            assert_eq!(read_fwd(&buf, 3), (3 + hdr(n), n));
            assert_eq!(read_back(&buf, buf.len()), (3 + hdr(n), n));
            let mut w = vec![0u8; entry_size(n)];
            write_entry(&mut w, &e);
            assert_eq!(w, buf[3..]);
        }
    }

    /// The point of the representation: short elements cost a few bytes each, whichever
    /// end they were pushed at.
    #[test]
    fn short_elements_are_compact() {
        for end in [End::Head, End::Tail] {
            let mut l = ListValue::default();
            for _ in 0..100_000 {
                l.push_slice(end, b"VXK");
            }
            l.check();
            let per = l.heap_bytes() as f64 / 100_000.0;
            assert!(per < 5.5, "{end:?}: {per} bytes per element");
        }
    }

    #[test]
    fn long_elements_get_their_own_node() {
        let mut l = ListValue::default();
        let big = Bytes::from(vec![b'b'; 5000]);
        l.push_slice(End::Tail, b"a");
        l.push(End::Tail, big.clone());
        l.push_slice(End::Tail, b"c");
        l.push(End::Head, big.clone());
        l.check();
        assert_eq!(l.nodes.len(), 4);
        assert_eq!(l.get(1), Some(&b"a"[..]));
        assert_eq!(l.get(2), Some(&big[..]));
        // A plain element leaves as the very `Bytes` it came in as.
        let out = l.pop(End::Head).unwrap();
        assert_eq!(out.as_ptr(), big.as_ptr());
    }

    /// Alternating ends of a one-node list, and a queue through one node, move the entries
    /// rarely: the bytes copied stay proportional to the bytes pushed.
    #[test]
    fn both_ends_stay_cheap() {
        let mut l = ListValue::default();
        for i in 0..20_000u32 {
            let end = if i % 2 == 0 { End::Head } else { End::Tail };
            l.push_slice(end, &i.to_le_bytes());
        }
        l.check();
        for i in 0..20_000u32 {
            l.push_slice(End::Tail, &i.to_le_bytes());
            l.pop(End::Head).unwrap();
            l.push_slice(End::Head, &i.to_le_bytes());
            l.pop(End::Tail).unwrap();
        }
        l.check();
        assert_eq!(l.len(), 20_000);
        assert!(l.heap_bytes() < 20_000 * 12, "{}", l.heap_bytes());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(bool, Vec<u8>),
        PushMany(bool, u16, u8),
        Pop(bool),
        PopMany(bool, u16),
        Set(i64, Vec<u8>),
        Insert(Vec<u8>, bool, Vec<u8>),
        Remove(i64, Vec<u8>),
        Trim(i64, i64),
    }

    /// Values from a small pool, so LREM and LINSERT find matches, with lengths at the
    /// boundaries that matter (one- and two-byte lengths, the plain-node limit).
    fn value() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::sample::select(vec![0usize, 1, 3, 127, 128, 300, 4096, 4097, 5000]),
            0u8..3,
        )
            .prop_map(|(n, c)| vec![b'a' + c; n])
    }

    fn index() -> impl Strategy<Value = i64> {
        prop_oneof![-600i64..600, Just(i64::MIN), Just(i64::MAX)]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<bool>(), value()).prop_map(|(f, v)| Op::Push(f, v)),
            3 => (any::<bool>(), 1u16..700, 0u8..40).prop_map(|(f, n, s)| Op::PushMany(f, n, s)),
            2 => any::<bool>().prop_map(Op::Pop),
            2 => (any::<bool>(), 0u16..400).prop_map(|(f, n)| Op::PopMany(f, n)),
            2 => (index(), value()).prop_map(|(i, v)| Op::Set(i, v)),
            2 => (value(), any::<bool>(), value()).prop_map(|(p, a, v)| Op::Insert(p, a, v)),
            1 => (-3i64..4, value()).prop_map(|(c, v)| Op::Remove(c, v)),
            1 => (index(), index()).prop_map(|(s, e)| Op::Trim(s, e)),
        ]
    }

    fn end(front: bool) -> End {
        if front { End::Head } else { End::Tail }
    }

    /// Redis's index rule on the model.
    fn model_pos(m: &VecDeque<Vec<u8>>, i: i64) -> Option<usize> {
        let len = m.len() as i64;
        let i = if i < 0 { len.checked_add(i)? } else { i };
        (0..len).contains(&i).then_some(i as usize)
    }

    fn apply(l: &mut ListValue, m: &mut VecDeque<Vec<u8>>, op: Op) {
        match op {
            Op::Push(f, v) => {
                l.push(end(f), Bytes::from(v.clone()));
                if f { m.push_front(v) } else { m.push_back(v) }
            }
            Op::PushMany(f, n, s) => {
                for k in 0..n {
                    let v = format!("{k}-{}", "s".repeat(s as usize)).into_bytes();
                    l.push_slice(end(f), &v);
                    if f { m.push_front(v) } else { m.push_back(v) }
                }
            }
            Op::Pop(f) => {
                let want = if f { m.pop_front() } else { m.pop_back() };
                assert_eq!(l.pop(end(f)).map(|b| b.to_vec()), want);
            }
            Op::PopMany(f, n) => {
                let got: Vec<Vec<u8>> = l
                    .pop_many(end(f), n as usize)
                    .iter()
                    .map(|b| b.to_vec())
                    .collect();
                let k = (n as usize).min(m.len());
                let want: Vec<Vec<u8>> = if f {
                    m.drain(..k).collect()
                } else {
                    m.drain(m.len() - k..).rev().collect()
                };
                assert_eq!(got, want);
            }
            Op::Set(i, v) => {
                let p = model_pos(m, i);
                assert_eq!(l.set(i, Bytes::from(v.clone())), p.is_some());
                if let Some(p) = p {
                    m[p] = v;
                }
            }
            Op::Insert(pivot, after, v) => {
                let p = m.iter().position(|e| *e == pivot);
                assert_eq!(l.insert(&pivot, after, Bytes::from(v.clone())), p.is_some());
                if let Some(p) = p {
                    m.insert(if after { p + 1 } else { p }, v);
                }
            }
            Op::Remove(count, v) => {
                let limit = if count == 0 {
                    usize::MAX
                } else {
                    count.unsigned_abs() as usize
                };
                let mut idx: Vec<usize> = (0..m.len()).filter(|&i| m[i] == v).collect();
                if count < 0 {
                    idx.reverse();
                }
                idx.truncate(limit);
                idx.sort_unstable();
                for &i in idx.iter().rev() {
                    m.remove(i);
                }
                assert_eq!(l.remove(count, &v), idx.len());
            }
            Op::Trim(s, e) => {
                let before = m.len();
                match l.clamp_range(s, e) {
                    None => m.clear(),
                    Some((s, e)) => {
                        m.truncate(e + 1);
                        m.drain(..s);
                    }
                }
                assert_eq!(l.trim(s, e), before - m.len());
            }
        }
    }

    /// Everything a reader can see, compared with the model.
    fn compare(l: &ListValue, m: &VecDeque<Vec<u8>>, probe: &[(i64, i64)]) {
        l.check();
        assert_eq!(l.len(), m.len());
        assert!(l.iter().eq(m.iter().map(|v| &v[..])));
        assert!(l.iter().rev().eq(m.iter().rev().map(|v| &v[..])));
        for &(s, e) in probe {
            assert_eq!(l.get(s), model_pos(m, s).map(|p| &m[p][..]));
            if let Some((a, b)) = l.clamp_range(s, e) {
                let r = l.range(a, b);
                assert_eq!(r.len(), b - a + 1);
                assert!(r.eq(m.range(a..=b).map(|v| &v[..])));
                // Meeting in the middle from both ends yields each element once.
                let mut r = l.range(a, b);
                let mut got = Vec::new();
                let mut tail = Vec::new();
                while let Some(x) = r.next() {
                    got.push(x);
                    match r.next_back() {
                        Some(x) => tail.push(x),
                        None => break,
                    }
                }
                got.extend(tail.into_iter().rev());
                assert!(got.into_iter().eq(m.range(a..=b).map(|v| &v[..])));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn behaves_like_a_deque(
            ops in prop::collection::vec(op(), 1..60),
            probe in prop::collection::vec((index(), index()), 4),
        ) {
            let mut l = ListValue::default();
            let mut m = VecDeque::new();
            for op in ops {
                apply(&mut l, &mut m, op);
                compare(&l, &m, &probe);
            }
        }
    }
}
