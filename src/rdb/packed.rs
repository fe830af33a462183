//! Handing out the elements of packed containers one at a time.
//!
//! A listpack or ziplist is a flat run of entries; what an *element* is depends on the type
//! that holds it: one entry for lists and sets, a (member, score) pair for sorted sets, a
//! (field, value) pair for hashes, a triple with the TTL for 7.4 hashes with field TTLs, and a
//! whole entry for stream nodes ([`StreamNode`]). Intsets and zipmaps have their own layouts.

use super::cursor::parse_double;
use super::event::{Item, PackedPos, Span, StreamId};
use super::intset::Intset;
use super::listpack::{Elem, Entry, Listpack};
use super::types::parse_strict_i64;
use super::ziplist::Ziplist;
use super::zipmap::Zipmap;
use bytes::Bytes;

/// Field TTLs above this are invalid (`EB_EXPIRE_TIME_MAX` in Redis's `ebuckets.h`).
pub(super) const MAX_FIELD_EXPIRE: u64 = (1 << 48) - 1;

/// How the entries of a packed container group into elements.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    List,
    Set,
    /// member, score
    ZSet,
    /// field, value
    Hash,
    /// field, value, TTL (0 = none)
    HashTtl,
}

/// The container iterators.
#[derive(Clone)]
pub(super) enum Iter {
    Lp(Listpack),
    Zl(Ziplist),
    Is(Intset),
    Zm(Zipmap),
    Stream(StreamNode),
}

/// A decoded container and where it sits in the stream.
#[derive(Clone)]
pub(super) struct Packed {
    pub(super) iter: Iter,
    pub(super) data: Bytes,
    pub(super) shape: Shape,
    /// The RDB string holding it.
    pub(super) span: Span,
    /// Stream offset of its first byte, if stored uncompressed (exact element spans).
    pub(super) data_offset: Option<u64>,
}

pub(super) type CResult<T> = Result<T, (&'static str, usize)>;

fn elem_bytes(data: &Bytes, e: &Elem) -> Bytes {
    match e {
        Elem::Int(v) => Bytes::from(v.to_string()),
        Elem::Str(r) => data.slice(r.clone()),
    }
}

fn elem_int(data: &Bytes, e: &Entry) -> CResult<i64> {
    match &e.elem {
        Elem::Int(v) => Ok(*v),
        Elem::Str(r) => {
            parse_strict_i64(&data[r.clone()]).ok_or(("expected an integer entry", e.pos))
        }
    }
}

impl Packed {
    fn next_entry(&mut self) -> CResult<Option<Entry>> {
        match &mut self.iter {
            Iter::Lp(lp) => lp.next_entry(),
            Iter::Zl(zl) => zl.next_entry(),
            _ => Ok(None),
        }
    }

    /// The next entry, which must exist (the second or third of a tuple).
    fn more(&mut self, what: &'static str, pos: usize) -> CResult<Entry> {
        self.next_entry()?.ok_or((what, pos))
    }

    /// The next element: one entry for lists and sets, a pair for hashes and sorted sets, a
    /// triple for hashes with TTLs, a whole entry for streams.
    pub(super) fn next_item(&mut self) -> CResult<Option<(Item, PackedPos)>> {
        let pos = |start: usize, end: usize| PackedPos {
            pos: start as u32,
            len: (end - start) as u32,
        };
        match &mut self.iter {
            Iter::Is(is) => {
                let w = is.width();
                return Ok(is
                    .next_entry()?
                    .map(|(p, v)| (Item::SetMember(Bytes::from(v.to_string())), pos(p, p + w))));
            }
            Iter::Zm(zm) => {
                return Ok(zm.next_pair()?.map(|pair| {
                    let item = Item::HashField {
                        field: self.data.slice(pair.field),
                        value: self.data.slice(pair.value),
                        expire_ms: None,
                    };
                    (item, pos(pair.pos, pair.pos + pair.len))
                }));
            }
            Iter::Stream(node) => {
                return node.next_entry(&self.data);
            }
            _ => {}
        }
        let Some(first) = self.next_entry()? else {
            return Ok(None);
        };
        let a = elem_bytes(&self.data, &first.elem);
        let (item, end) = match self.shape {
            Shape::List => (Item::ListElement(a), first.pos + first.len),
            Shape::Set => (Item::SetMember(a), first.pos + first.len),
            Shape::ZSet => {
                let s = self.more("sorted set member without a score", first.pos)?;
                let score = match &s.elem {
                    Elem::Int(v) => *v as f64,
                    Elem::Str(r) => std::str::from_utf8(&self.data[r.clone()])
                        .ok()
                        .and_then(parse_double)
                        .ok_or(("bad sorted set score", s.pos))?,
                };
                (Item::ZSetMember { member: a, score }, s.pos + s.len)
            }
            Shape::Hash => {
                let v = self.more("hash field without a value", first.pos)?;
                let value = elem_bytes(&self.data, &v.elem);
                let item = Item::HashField {
                    field: a,
                    value,
                    expire_ms: None,
                };
                (item, v.pos + v.len)
            }
            Shape::HashTtl => {
                let v = self.more("hash field without a value", first.pos)?;
                let t = self.more("hash field without a TTL", v.pos)?;
                let ttl = elem_int(&self.data, &t)?;
                let expire_ms = match u64::try_from(ttl) {
                    Ok(0) => None,
                    Ok(x) if x <= MAX_FIELD_EXPIRE => Some(x),
                    _ => return Err(("hash field TTL is out of range", t.pos)),
                };
                let item = Item::HashField {
                    field: a,
                    value: elem_bytes(&self.data, &v.elem),
                    expire_ms,
                };
                (item, t.pos + t.len)
            }
        };
        Ok(Some((item, pos(first.pos, end))))
    }
}

/// A stream node being read. Its listpack starts with a *master entry* — live count, deleted
/// count, the master field names, a 0 — and then holds entries:
///
/// ```text
/// flags ms-diff seq-diff [num-fields field value ...| value ...] lp-count
/// ```
///
/// IDs are stored relative to the node's master ID; flag 2 (`SAMEFIELDS`) means the entry has
/// exactly the master fields, so only values are stored; flag 1 marks an entry deleted by XDEL.
/// `lp-count` is the entry's number of listpack elements, which lets Redis walk backwards.
#[derive(Clone)]
pub(super) struct StreamNode {
    lp: Listpack,
    master: StreamId,
    master_fields: Vec<Bytes>,
    /// Entries the master entry announces (live + deleted), and how many were read.
    expected: u64,
    seen: u64,
}

const STREAM_ITEM_FLAG_DELETED: i64 = 1;
const STREAM_ITEM_FLAG_SAMEFIELDS: i64 = 2;

impl StreamNode {
    pub(super) fn new(data: Bytes, master: StreamId) -> CResult<StreamNode> {
        let mut lp = Listpack::new(data.clone())?;
        let mut int = |what: &'static str| -> CResult<i64> {
            let e = lp.next_entry()?.ok_or((what, 0))?;
            elem_int(&data, &e)
        };
        let count = int("empty listpack inside stream")?;
        let deleted = int("stream master entry is incomplete")?;
        let nfields = int("stream master entry is incomplete")?;
        let (Ok(count), Ok(deleted), Ok(nfields)) = (
            u64::try_from(count),
            u64::try_from(deleted),
            u64::try_from(nfields),
        ) else {
            return Err(("stream master entry has a negative count", 6));
        };
        let mut master_fields = Vec::new();
        for _ in 0..nfields {
            let e = lp
                .next_entry()?
                .ok_or(("stream master entry is incomplete", 6))?;
            master_fields.push(elem_bytes(&data, &e.elem));
        }
        let e = lp
            .next_entry()?
            .ok_or(("stream master entry is incomplete", 6))?;
        if elem_int(&data, &e)? != 0 {
            return Err(("stream master entry does not end with 0", e.pos));
        }
        Ok(StreamNode {
            lp,
            master,
            master_fields,
            expected: count.saturating_add(deleted),
            seen: 0,
        })
    }

    fn next_entry(&mut self, data: &Bytes) -> CResult<Option<(Item, PackedPos)>> {
        let Some(first) = self.lp.next_entry()? else {
            if self.seen != self.expected {
                return Err(("stream node entry count does not match its master entry", 6));
            }
            return Ok(None);
        };
        let start = first.pos;
        let incomplete = ("stream entry is incomplete", start);
        let flags = elem_int(data, &first)?;
        let next = |lp: &mut Listpack| lp.next_entry().and_then(|e| e.ok_or(incomplete));
        let ms = elem_int(data, &next(&mut self.lp)?)?;
        let seq = elem_int(data, &next(&mut self.lp)?)?;
        let mut fields = Vec::new();
        let expected_count = if flags & STREAM_ITEM_FLAG_SAMEFIELDS != 0 {
            for f in &self.master_fields {
                let v = next(&mut self.lp)?;
                fields.push((f.clone(), elem_bytes(data, &v.elem)));
            }
            self.master_fields.len() as i64 + 3
        } else {
            let n = elem_int(data, &next(&mut self.lp)?)?;
            if n < 0 {
                return Err(("stream entry has a negative field count", start));
            }
            for _ in 0..n {
                let f = next(&mut self.lp)?;
                let v = next(&mut self.lp)?;
                fields.push((elem_bytes(data, &f.elem), elem_bytes(data, &v.elem)));
            }
            n.saturating_mul(2).saturating_add(4)
        };
        let last = next(&mut self.lp)?;
        if elem_int(data, &last)? != expected_count {
            return Err(("stream entry's lp-count does not match", last.pos));
        }
        self.seen += 1;
        let id = StreamId {
            ms: self.master.ms.wrapping_add(ms as u64),
            seq: self.master.seq.wrapping_add(seq as u64),
        };
        let item = Item::StreamEntry {
            id,
            deleted: flags & STREAM_ITEM_FLAG_DELETED != 0,
            fields,
        };
        let end = last.pos + last.len;
        Ok(Some((
            item,
            PackedPos {
                pos: start as u32,
                len: (end - start) as u32,
            },
        )))
    }
}
