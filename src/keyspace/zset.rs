//! Sorted set values: `listpack` (pairs sorted by score then member) while small, `skiplist`
//! once `zset-max-listpack-entries` or `zset-max-listpack-value` is exceeded.
//!
//! Both encodings keep the same order Redis keeps: by score, and members with equal scores by
//! their bytes (`memcmp`, shorter first on a common prefix). So a range reply is the same
//! whatever the encoding, and only the commands that expose the hash table (ZSCAN, ZRANDMEMBER
//! on a big set) can differ from Redis in order.
//!
//! Redis's `skiplist` encoding is a skip list plus a dict. rtool keeps the dict (a [`Dict`], so
//! ZSCAN has a real cursor and ZRANDMEMBER a fair sample) and replaces the skip list by a
//! [`RankTree`]: a treap whose nodes count their subtree, which gives the same costs a skip
//! list with spans gives — O(log n) insert, delete, rank of an element and element at a rank —
//! with simpler code in safe Rust (an arena of nodes linked by index).

use super::Dict;
use bytes::Bytes;
use std::cmp::Ordering;

/// One sorted set.
#[derive(Clone, Debug)]
pub enum ZSetValue {
    /// OBJ_ENCODING_LISTPACK: (member, score) sorted by (score, member).
    Listpack(Vec<(Bytes, f64)>),
    /// OBJ_ENCODING_SKIPLIST: a member -> score dict and an ordered index.
    Skiplist(Box<SkipList>),
}

/// The big encoding: what Redis calls `zset` (a dict and a skip list sharing the members).
#[derive(Clone, Debug, Default)]
pub struct SkipList {
    /// member -> score, for O(1) ZSCORE, ZSCAN and ZRANDMEMBER.
    pub dict: Dict<f64>,
    /// (score, member) in order, with ranks.
    pub tree: RankTree,
}

/// Redis's ordering of sorted set elements: score first, then the member's bytes. Scores are
/// never NaN (every command refuses to store one), so `partial_cmp` is total here; -0 and 0
/// compare equal, as they do in C.
pub fn cmp_elem(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(o) => o,
    }
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::Listpack(Vec::new())
    }
}

impl ZSetValue {
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetValue::Listpack(_) => "listpack",
            ZSetValue::Skiplist(_) => "skiplist",
        }
    }

    /// An empty set in the big encoding (what Redis's `createZsetObject` makes).
    pub fn new_skiplist() -> Self {
        ZSetValue::Skiplist(Box::default())
    }

    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Listpack(v) => v.len(),
            ZSetValue::Skiplist(s) => s.dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The member's score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Listpack(v) => v
                .iter()
                .find(|(m, _)| m.as_ref() == member)
                .map(|(_, s)| *s),
            ZSetValue::Skiplist(s) => s.dict.get(member).copied(),
        }
    }

    /// The member's 0-based position in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSetValue::Listpack(v) => v.iter().position(|(m, _)| m.as_ref() == member),
            ZSetValue::Skiplist(s) => {
                let score = *s.dict.get(member)?;
                Some(s.tree.count_less(score, member))
            }
        }
    }

    /// The element at a 0-based ascending rank.
    pub fn at(&self, rank: usize) -> Option<(&Bytes, f64)> {
        match self {
            ZSetValue::Listpack(v) => v.get(rank).map(|(m, s)| (m, *s)),
            ZSetValue::Skiplist(s) => s.tree.at(rank),
        }
    }

    /// How many elements, from the lowest, satisfy `pred` — which must hold for a prefix of
    /// the order (e.g. "score < min"). This is the one search every range command needs: the
    /// first element in a range is at `count_while(below_min)`, the end of the range at
    /// `count_while(not_above_max)`.
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSetValue::Listpack(v) => v.partition_point(|(m, s)| pred(*s, m)),
            ZSetValue::Skiplist(s) => s.tree.count_while(pred),
        }
    }

    /// Elements in ascending order.
    pub fn iter(&self) -> ZIter<'_> {
        self.iter_from(0, false)
    }

    /// Elements starting at a 0-based ascending rank, going up (`rev == false`) or down.
    pub fn iter_from(&self, rank: usize, rev: bool) -> ZIter<'_> {
        match self {
            ZSetValue::Listpack(v) => ZIter::Listpack {
                v,
                next: rank as isize,
                rev,
            },
            ZSetValue::Skiplist(s) => ZIter::Tree(s.tree.iter_from(rank, rev)),
        }
    }

    /// Make room for a new member the way `zsetAdd` does *before* inserting: a listpack that
    /// would get more than `max_entries` elements, or a member longer than `max_value`,
    /// becomes a skiplist first (and never goes back).
    pub fn prepare_insert(&mut self, member_len: usize, max_entries: usize, max_value: usize) {
        if let ZSetValue::Listpack(v) = self
            && (v.len() + 1 > max_entries || member_len > max_value)
        {
            self.convert_to_skiplist();
        }
    }

    /// Insert a member that is not in the set. (Call [`ZSetValue::prepare_insert`] first.)
    pub fn insert(&mut self, member: Bytes, score: f64) {
        match self {
            ZSetValue::Listpack(v) => {
                let score = listpack_score(score);
                let pos =
                    v.partition_point(|(m, s)| cmp_elem(*s, m, score, &member) == Ordering::Less);
                v.insert(pos, (member, score));
            }
            ZSetValue::Skiplist(s) => {
                s.tree.insert(score, member.clone());
                s.dict.insert(member, score);
            }
        }
    }

    /// Remove a member; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Listpack(v) => {
                let pos = v.iter().position(|(m, _)| m.as_ref() == member)?;
                Some(v.remove(pos).1)
            }
            ZSetValue::Skiplist(s) => {
                let (_, score) = s.dict.remove(member)?;
                s.tree.remove(score, member);
                Some(score)
            }
        }
    }

    /// Change an existing member's score (Redis deletes and re-inserts it).
    pub fn update_score(&mut self, member: &[u8], new_score: f64) {
        match self {
            ZSetValue::Listpack(v) => {
                let new_score = listpack_score(new_score);
                if let Some(pos) = v.iter().position(|(m, _)| m.as_ref() == member) {
                    let (m, _) = v.remove(pos);
                    let at = v
                        .partition_point(|(x, s)| cmp_elem(*s, x, new_score, &m) == Ordering::Less);
                    v.insert(at, (m, new_score));
                }
            }
            ZSetValue::Skiplist(s) => {
                if let Some(old) = s.dict.get(member).copied() {
                    let m = s
                        .tree
                        .remove(old, member)
                        .unwrap_or_else(|| Bytes::copy_from_slice(member));
                    s.tree.insert(new_score, m);
                    if let Some(slot) = s.dict.get_mut(member) {
                        *slot = new_score;
                    }
                }
            }
        }
    }

    /// Remove the elements with ascending ranks `start..=end` (already clamped to the set).
    /// Returns how many went.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        if start > end || start >= self.len() {
            return 0;
        }
        let end = end.min(self.len() - 1);
        match self {
            ZSetValue::Listpack(v) => {
                v.drain(start..=end);
            }
            ZSetValue::Skiplist(s) => {
                let doomed: Vec<(Bytes, f64)> = s
                    .tree
                    .iter_from(start, false)
                    .take(end - start + 1)
                    .map(|(m, sc)| (m.clone(), sc))
                    .collect();
                for (m, sc) in doomed {
                    s.tree.remove(sc, &m);
                    s.dict.remove(&m);
                }
            }
        }
        end - start + 1
    }

    /// `zsetConvert(..., OBJ_ENCODING_SKIPLIST)`.
    pub fn convert_to_skiplist(&mut self) {
        if let ZSetValue::Listpack(v) = self {
            let mut s = SkipList::default();
            for (m, sc) in v.drain(..) {
                s.tree.insert(sc, m.clone());
                s.dict.insert(m, sc);
            }
            *self = ZSetValue::Skiplist(Box::new(s));
        }
    }

    /// `zsetConvertToListpackIfNeeded`: the store commands build their result as a skiplist
    /// and shrink it to a listpack when it fits (the only way a sorted set goes back).
    pub fn shrink_if_fits(&mut self, max_entries: usize, max_value: usize) {
        if let ZSetValue::Skiplist(s) = self {
            let longest = s.dict.keys().map(|k| k.len()).max().unwrap_or(0);
            if s.dict.len() <= max_entries && longest <= max_value {
                let v: Vec<(Bytes, f64)> = s
                    .tree
                    .iter_from(0, false)
                    .map(|(m, sc)| (m.clone(), listpack_score(sc)))
                    .collect();
                *self = ZSetValue::Listpack(v);
            }
        }
    }
}

/// Iterator over a sorted set's elements from some rank, in either direction.
pub enum ZIter<'a> {
    Listpack {
        v: &'a [(Bytes, f64)],
        next: isize,
        rev: bool,
    },
    Tree(TreeIter<'a>),
}

impl<'a> Iterator for ZIter<'a> {
    type Item = (&'a Bytes, f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            ZIter::Listpack { v, next, rev } => {
                if *next < 0 || *next as usize >= v.len() {
                    return None;
                }
                let (m, s) = &v[*next as usize];
                *next += if *rev { -1 } else { 1 };
                Some((m, *s))
            }
            ZIter::Tree(t) => t.next(),
        }
    }
}

/// The score a listpack gives back after storing `v`: Redis stores an integral score as an
/// integer (`double2ll`), so -0 comes back as 0; every other score survives (`%.17g` round-trips).
pub fn listpack_score(v: f64) -> f64 {
    if v == 0.0 { 0.0 } else { v }
}

/// How Redis writes a score *into a listpack* (`d2string`): an integral value that fits a
/// `long long` safely as plain digits, anything else with `%.17g`. ZSCAN of a listpack set
/// returns these stored strings, so `1e17` comes back as `100000000000000000` there while the
/// skiplist encoding (and every other reply) says `1e+17`.
pub fn d2string(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let limit = (i64::MAX / 2) as f64;
    if v >= -limit && v <= limit && v.fract() == 0.0 {
        return (v as i64).to_string();
    }
    crate::resp::reply::fmt_double(v)
}

// ---------------------------------------------------------------------------------------------
// The ordered index.

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct TNode {
    member: Bytes,
    score: f64,
    /// Heap priority: random, so the tree is balanced in expectation whatever the input order.
    prio: u32,
    left: u32,
    right: u32,
    /// Nodes in this subtree: what makes rank queries O(log n).
    size: u32,
}

/// An order-statistics treap of (score, member), in an arena: insert, remove, rank and
/// select are O(log n) expected.
#[derive(Clone, Debug)]
pub struct RankTree {
    nodes: Vec<TNode>,
    free: Vec<u32>,
    root: u32,
    seed: u64,
}

impl Default for RankTree {
    fn default() -> Self {
        RankTree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

impl RankTree {
    pub fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    fn size(&self, n: u32) -> u32 {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].size
        }
    }

    fn fix(&mut self, n: u32) {
        let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
        self.nodes[n as usize].size = 1 + self.size(l) + self.size(r);
    }

    fn next_prio(&mut self) -> u32 {
        // xorshift64*: any decent spread works; determinism keeps tests reproducible.
        let mut x = self.seed;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.seed = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    fn alloc(&mut self, score: f64, member: Bytes) -> u32 {
        let prio = self.next_prio();
        let node = TNode {
            member,
            score,
            prio,
            left: NIL,
            right: NIL,
            size: 1,
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn cmp_node(&self, n: u32, score: f64, member: &[u8]) -> Ordering {
        let node = &self.nodes[n as usize];
        cmp_elem(node.score, &node.member, score, member)
    }

    /// Split the subtree at `n` into (elements < key, elements >= key).
    fn split(&mut self, n: u32, score: f64, member: &[u8]) -> (u32, u32) {
        if n == NIL {
            return (NIL, NIL);
        }
        if self.cmp_node(n, score, member) == Ordering::Less {
            let r = self.nodes[n as usize].right;
            let (a, b) = self.split(r, score, member);
            self.nodes[n as usize].right = a;
            self.fix(n);
            (n, b)
        } else {
            let l = self.nodes[n as usize].left;
            let (a, b) = self.split(l, score, member);
            self.nodes[n as usize].left = b;
            self.fix(n);
            (a, n)
        }
    }

    /// Join two subtrees where every element of `a` is below every element of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let r = self.nodes[a as usize].right;
            let m = self.merge(r, b);
            self.nodes[a as usize].right = m;
            self.fix(a);
            a
        } else {
            let l = self.nodes[b as usize].left;
            let m = self.merge(a, l);
            self.nodes[b as usize].left = m;
            self.fix(b);
            b
        }
    }

    /// Insert an element (which must not be present).
    pub fn insert(&mut self, score: f64, member: Bytes) {
        let (a, b) = self.split(self.root, score, &member);
        let n = self.alloc(score, member);
        let left = self.merge(a, n);
        self.root = self.merge(left, b);
    }

    /// Remove an element; returns its member bytes if it was there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> Option<Bytes> {
        let (a, b) = self.split(self.root, score, member);
        // `b` starts with the element if present: split off its minimum.
        let (mid, rest) = self.split_first(b);
        let found = mid != NIL && self.cmp_node(mid, score, member) == Ordering::Equal;
        let removed = if found {
            self.free.push(mid);
            Some(std::mem::take(&mut self.nodes[mid as usize].member))
        } else {
            None
        };
        let b = if found { rest } else { self.merge(mid, rest) };
        self.root = self.merge(a, b);
        removed
    }

    /// Detach the lowest element of a subtree: (that node alone, the rest).
    fn split_first(&mut self, n: u32) -> (u32, u32) {
        if n == NIL {
            return (NIL, NIL);
        }
        let l = self.nodes[n as usize].left;
        if l == NIL {
            let r = self.nodes[n as usize].right;
            self.nodes[n as usize].right = NIL;
            self.fix(n);
            return (n, r);
        }
        let (first, rest) = self.split_first(l);
        self.nodes[n as usize].left = rest;
        self.fix(n);
        (first, n)
    }

    /// Elements strictly below (score, member).
    pub fn count_less(&self, score: f64, member: &[u8]) -> usize {
        self.count_while(|s, m| cmp_elem(s, m, score, member) == Ordering::Less)
    }

    /// Length of the prefix of the order on which `pred` holds.
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut n = self.root;
        let mut count = 0usize;
        while n != NIL {
            let node = &self.nodes[n as usize];
            if pred(node.score, &node.member) {
                count += self.size(node.left) as usize + 1;
                n = node.right;
            } else {
                n = node.left;
            }
        }
        count
    }

    /// The element at a 0-based rank.
    pub fn at(&self, rank: usize) -> Option<(&Bytes, f64)> {
        let mut n = self.root;
        let mut k = rank as u32;
        while n != NIL {
            let node = &self.nodes[n as usize];
            let ls = self.size(node.left);
            match k.cmp(&ls) {
                Ordering::Less => n = node.left,
                Ordering::Equal => return Some((&node.member, node.score)),
                Ordering::Greater => {
                    k -= ls + 1;
                    n = node.right;
                }
            }
        }
        None
    }

    /// In-order iteration starting at a rank, ascending or descending. The stack holds the
    /// nodes still to visit whose subtree on the far side is already accounted for, so each
    /// step is amortised O(1).
    pub fn iter_from(&self, rank: usize, rev: bool) -> TreeIter<'_> {
        let mut it = TreeIter {
            tree: self,
            stack: Vec::new(),
            rev,
        };
        if rank >= self.len() {
            return it;
        }
        let mut n = self.root;
        let mut k = rank as u32;
        while n != NIL {
            let node = &self.nodes[n as usize];
            let ls = self.size(node.left);
            match k.cmp(&ls) {
                Ordering::Less => {
                    if !rev {
                        it.stack.push(n);
                    }
                    n = node.left;
                }
                Ordering::Equal => {
                    it.stack.push(n);
                    break;
                }
                Ordering::Greater => {
                    if rev {
                        it.stack.push(n);
                    }
                    k -= ls + 1;
                    n = node.right;
                }
            }
        }
        it
    }
}

/// See [`RankTree::iter_from`].
pub struct TreeIter<'a> {
    tree: &'a RankTree,
    stack: Vec<u32>,
    rev: bool,
}

impl<'a> Iterator for TreeIter<'a> {
    type Item = (&'a Bytes, f64);

    fn next(&mut self) -> Option<Self::Item> {
        let n = self.stack.pop()?;
        let nodes = &self.tree.nodes;
        let node = &nodes[n as usize];
        let mut t = if self.rev { node.left } else { node.right };
        while t != NIL {
            self.stack.push(t);
            t = if self.rev {
                nodes[t as usize].right
            } else {
                nodes[t as usize].left
            };
        }
        Some((&node.member, node.score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn tree_matches_a_sorted_vector() {
        let mut t = RankTree::default();
        let mut v: Vec<(f64, Bytes)> = Vec::new();
        let mut x = 12345u64;
        for i in 0..2000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let score = ((x >> 33) % 50) as f64;
            let m = b(&format!("m{}", (x >> 20) % 700));
            if let Some(p) = v.iter().position(|(_, mm)| *mm == m) {
                let (s, mm) = v.remove(p);
                assert_eq!(t.remove(s, &mm), Some(mm.clone()));
            } else if i % 3 != 0 {
                t.insert(score, m.clone());
                v.push((score, m));
            }
            v.sort_by(|a, b| cmp_elem(a.0, &a.1, b.0, &b.1));
            assert_eq!(t.len(), v.len());
        }
        for (r, (s, m)) in v.iter().enumerate() {
            assert_eq!(t.at(r), Some((m, *s)));
            assert_eq!(t.count_less(*s, m), r);
        }
        for start in [0, 1, v.len() / 2, v.len() - 1] {
            let fwd: Vec<_> = t
                .iter_from(start, false)
                .map(|(m, s)| (s, m.clone()))
                .collect();
            assert_eq!(fwd, v[start..].to_vec());
            let rev: Vec<_> = t
                .iter_from(start, true)
                .map(|(m, s)| (s, m.clone()))
                .collect();
            let mut want = v[..=start].to_vec();
            want.reverse();
            assert_eq!(rev, want);
        }
    }

    #[test]
    fn encodings_agree() {
        let mut lp = ZSetValue::default();
        let mut sk = ZSetValue::new_skiplist();
        for (i, m) in ["b", "a", "c", "aa", "d"].iter().enumerate() {
            let score = (i % 2) as f64;
            lp.insert(b(m), score);
            sk.insert(b(m), score);
        }
        let a: Vec<_> = lp.iter().map(|(m, s)| (m.clone(), s)).collect();
        let c: Vec<_> = sk.iter().map(|(m, s)| (m.clone(), s)).collect();
        assert_eq!(a, c);
        assert_eq!(lp.rank(b"c"), sk.rank(b"c"));
        sk.update_score(b"a", 5.0);
        lp.update_score(b"a", 5.0);
        let a: Vec<_> = lp.iter_from(4, true).map(|(m, s)| (m.clone(), s)).collect();
        let c: Vec<_> = sk.iter_from(4, true).map(|(m, s)| (m.clone(), s)).collect();
        assert_eq!(a, c);
        assert_eq!(lp.remove_rank_range(1, 2), sk.remove_rank_range(1, 2));
        assert_eq!(lp.len(), sk.len());
    }

    #[test]
    fn listpack_score_strings() {
        assert_eq!(d2string(3.0), "3");
        assert_eq!(d2string(1e17), "100000000000000000");
        assert_eq!(d2string(1e20), "1e+20");
        assert_eq!(d2string(-0.0), "-0");
        assert_eq!(d2string(1.5), "1.5");
    }
}
