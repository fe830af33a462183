//! A structural model of Redis's radix tree (`rax.c`), kept only to know how many nodes it has.
//!
//! A Redis stream stores its listpacks in a rax keyed by the 128-bit big-endian master ID of
//! each listpack, and `XINFO STREAM` reports `radix-tree-nodes`: the rax's node count. That
//! count depends on how the rax splits and re-compresses nodes as keys come and go, so rtool
//! mirrors the shape changes of `raxInsert` and `raxRemove` — compressed nodes holding a run of
//! bytes, branching nodes holding sorted edge bytes — without storing any values. Streams only
//! ever insert keys at the end and remove them (trimming, emptied nodes), and the model follows
//! both exactly.

/// One node. A compressed node has `data.len()` bytes and exactly one child; a branching node
/// has one child per edge byte (sorted); a leaf has neither.
#[derive(Clone, Debug)]
struct RNode {
    key: bool,
    compr: bool,
    data: Vec<u8>,
    children: Vec<usize>,
}

impl RNode {
    fn new() -> RNode {
        RNode {
            key: false,
            compr: false,
            data: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Can this node be folded into a compressed chain? (Not a key, exactly one child.)
    fn chainable(&self) -> bool {
        !self.key && (self.compr || self.data.len() == 1)
    }
}

/// Where a node hangs: the head pointer, or a child slot of some node.
#[derive(Clone, Copy, Debug)]
enum Link {
    Head,
    Child(usize, usize),
}

#[derive(Clone, Debug)]
pub struct RaxModel {
    nodes: Vec<RNode>,
    free: Vec<usize>,
    head: usize,
    /// `rax->numnodes`.
    pub numnodes: u64,
}

impl Default for RaxModel {
    fn default() -> Self {
        RaxModel {
            nodes: vec![RNode::new()],
            free: Vec::new(),
            head: 0,
            numnodes: 1,
        }
    }
}

/// What a walk down the tree found (`raxLowWalk`).
struct Walk {
    /// Bytes of the key consumed.
    i: usize,
    /// Node where the walk stopped.
    node: usize,
    /// How `node` is linked.
    link: Link,
    /// Position inside a compressed `node` where the walk stopped.
    split: usize,
    /// Nodes descended through, parent of `node` last.
    stack: Vec<usize>,
}

impl RaxModel {
    fn alloc(&mut self, n: RNode) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i] = n;
                i
            }
            None => {
                self.nodes.push(n);
                self.nodes.len() - 1
            }
        }
    }

    fn release(&mut self, i: usize) {
        self.nodes[i] = RNode::new();
        self.free.push(i);
    }

    fn set_link(&mut self, link: Link, to: usize) {
        match link {
            Link::Head => self.head = to,
            Link::Child(p, slot) => self.nodes[p].children[slot] = to,
        }
    }

    fn walk(&self, s: &[u8]) -> Walk {
        let mut h = self.head;
        let mut link = Link::Head;
        let mut i = 0;
        let mut j = 0;
        let mut stack = Vec::new();
        while !self.nodes[h].data.is_empty() && i < s.len() {
            let n = &self.nodes[h];
            if n.compr {
                j = 0;
                while j < n.data.len() && i < s.len() {
                    if n.data[j] != s[i] {
                        break;
                    }
                    j += 1;
                    i += 1;
                }
                if j != n.data.len() {
                    break;
                }
            } else {
                match n.data.iter().position(|&c| c == s[i]) {
                    Some(p) => j = p,
                    None => {
                        j = n.data.len();
                        break;
                    }
                }
                i += 1;
            }
            stack.push(h);
            let slot = if n.compr { 0 } else { j };
            link = Link::Child(h, slot);
            h = n.children[slot];
            j = 0;
        }
        Walk {
            i,
            node: h,
            link,
            split: j,
            stack,
        }
    }

    /// `raxInsert` of a new key (streams never re-insert an existing one, but it is harmless).
    pub fn insert(&mut self, s: &[u8]) {
        let w = self.walk(s);
        let (mut i, mut h, link, j) = (w.i, w.node, w.link, w.split);
        let len = s.len();
        if i == len && (!self.nodes[h].compr || j == 0) {
            self.nodes[h].key = true;
            return;
        }
        if self.nodes[h].compr && i != len {
            // Split the compressed node at the mismatching byte.
            let old = self.nodes[h].clone();
            let next = old.children[0];
            let postfix_len = old.data.len() - j - 1;
            let split = self.alloc(RNode {
                key: j == 0 && old.key,
                compr: false,
                data: vec![old.data[j]],
                children: vec![0],
            });
            if j == 0 {
                self.set_link(link, split);
            } else {
                let trimmed = self.alloc(RNode {
                    key: old.key,
                    compr: j > 1,
                    data: old.data[..j].to_vec(),
                    children: vec![split],
                });
                self.set_link(link, trimmed);
                self.numnodes += 1;
            }
            let postfix = if postfix_len > 0 {
                self.numnodes += 1;
                self.alloc(RNode {
                    key: false,
                    compr: postfix_len > 1,
                    data: old.data[j + 1..].to_vec(),
                    children: vec![next],
                })
            } else {
                next
            };
            self.nodes[split].children[0] = postfix;
            self.release(h);
            h = split;
        } else if self.nodes[h].compr && i == len {
            // The key ends inside a compressed node: cut it in two, the second half a key.
            let old = self.nodes[h].clone();
            let postfix = self.alloc(RNode {
                key: true,
                compr: old.data.len() - j > 1,
                data: old.data[j..].to_vec(),
                children: vec![old.children[0]],
            });
            self.numnodes += 1;
            let trimmed = self.alloc(RNode {
                key: old.key,
                compr: j > 1,
                data: old.data[..j].to_vec(),
                children: vec![postfix],
            });
            self.set_link(link, trimmed);
            self.release(h);
            return;
        }
        while i < len {
            if self.nodes[h].data.is_empty() && len - i > 1 {
                let child = self.alloc(RNode::new());
                let n = &mut self.nodes[h];
                n.compr = true;
                n.data = s[i..].to_vec();
                n.children = vec![child];
                i = len;
                h = child;
            } else {
                let child = self.alloc(RNode::new());
                let n = &mut self.nodes[h];
                let pos = n.data.partition_point(|&c| c < s[i]);
                n.data.insert(pos, s[i]);
                n.children.insert(pos, child);
                i += 1;
                h = child;
            }
            self.numnodes += 1;
        }
        self.nodes[h].key = true;
    }

    /// `raxRemove`: unmark the key, free nodes that lead nowhere, re-compress chains.
    pub fn remove(&mut self, s: &[u8]) -> bool {
        let w = self.walk(s);
        let mut stack = w.stack;
        let mut h = w.node;
        if w.i != s.len() || (self.nodes[h].compr && w.split != 0) || !self.nodes[h].key {
            return false;
        }
        self.nodes[h].key = false;
        let mut trycompress = false;
        if self.nodes[h].data.is_empty() {
            let mut child = None;
            while h != self.head {
                child = Some(h);
                self.release(h);
                self.numnodes -= 1;
                h = stack.pop().unwrap_or(self.head);
                let n = &self.nodes[h];
                if n.key || (!n.compr && n.data.len() != 1) {
                    break;
                }
            }
            if let Some(c) = child {
                let n = &mut self.nodes[h];
                if n.compr {
                    n.compr = false;
                    n.data.clear();
                    n.children.clear();
                } else if let Some(pos) = n.children.iter().position(|&x| x == c) {
                    n.data.remove(pos);
                    n.children.remove(pos);
                }
                if n.data.len() == 1 && !n.key {
                    trycompress = true;
                }
            }
        } else if self.nodes[h].data.len() == 1 {
            trycompress = true;
        }
        if trycompress {
            let mut parent;
            loop {
                parent = stack.pop();
                match parent {
                    Some(p) if self.nodes[p].chainable() => h = p,
                    _ => break,
                }
            }
            let start = h;
            let mut count = 1;
            let mut cur = h;
            while !self.nodes[cur].data.is_empty() {
                cur = *self.nodes[cur].children.last().unwrap_or(&cur);
                if !self.nodes[cur].chainable() {
                    break;
                }
                count += 1;
            }
            if count > 1 {
                let mut data = Vec::new();
                let mut cur = start;
                while !self.nodes[cur].data.is_empty() {
                    data.extend_from_slice(&self.nodes[cur].data);
                    let next = *self.nodes[cur].children.last().unwrap_or(&cur);
                    self.release(cur);
                    self.numnodes -= 1;
                    cur = next;
                    if !self.nodes[cur].chainable() {
                        break;
                    }
                }
                let new = self.alloc(RNode {
                    key: false,
                    compr: true,
                    data,
                    children: vec![cur],
                });
                self.numnodes += 1;
                match parent {
                    Some(p) => {
                        if let Some(slot) = self.nodes[p].children.iter().position(|&x| x == start)
                        {
                            self.nodes[p].children[slot] = new;
                        }
                    }
                    None => self.head = new,
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ms: u64, seq: u64) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&ms.to_be_bytes());
        k[8..].copy_from_slice(&seq.to_be_bytes());
        k
    }

    #[test]
    fn counts_like_redis_for_appends() {
        // Observed on Redis 7.0.15 with stream-node-max-entries 2, entries 1000-1, 2000-1, ...:
        // listpacks 1,2,3,4,5 give radix-tree-nodes 2,6,8,10,12.
        let mut r = RaxModel::default();
        let mut got = Vec::new();
        for n in 0..5u64 {
            r.insert(&key((2 * n + 1) * 1000, 1));
            got.push(r.numnodes);
        }
        assert_eq!(got, vec![2, 6, 8, 10, 12]);
    }

    #[test]
    fn remove_restores_compression() {
        let mut r = RaxModel::default();
        r.insert(&key(1, 0));
        r.insert(&key(2, 0));
        assert!(r.remove(&key(1, 0)));
        assert_eq!(r.numnodes, 2);
        assert!(r.remove(&key(2, 0)));
        assert_eq!(r.numnodes, 1);
    }
}
