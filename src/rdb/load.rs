//! From reader events to keyspace values: the one place an RDB becomes data.
//!
//! A server loads `dump.rdb` at start-up, a replica loads its master's snapshot, RESTORE loads
//! a DUMP payload: all three push the reader's [`Event`]s through a [`Loader`], which builds
//! each key's [`Value`] as its elements arrive and hands out the finished key at its
//! `KeyEnd`. Only the key being built is held, so loading streams like reading does.
//!
//! Entry points: [`load_into`] fills a keyspace from anything `Read` (a file at start-up);
//! [`Loader`] is the same thing driven by hand, for a caller that feeds a [`Reader`] itself
//! (a replica reading its master's socket); [`restore_value`] decodes one DUMP payload.
//!
//! The loader chooses encodings the way Redis 7.0's `rdbLoadObject` does, which is not always
//! the encoding the file was written in:
//! - a set written as a plain set (type 2) with at most `set-max-intset-entries` integer
//!   members comes back as an `intset`; an intset with more members becomes a `hashtable`;
//! - a hash written as a plain hash (type 4) is a `listpack` unless it has more than
//!   `hash-max-listpack-entries` fields or a field/value longer than `hash-max-listpack-value`;
//!   a listpack hash only converts on the entry count (Redis skips the O(n) length scan);
//! - a skiplist sorted set (types 3, 5) becomes a `listpack` when it fits both limits; a
//!   listpack one converts only on the entry count;
//! - old packed types (ziplist, zipmap) load as their listpack equivalents.
//!
//! What Redis refuses, the loader refuses: duplicate members, NaN scores, a consumer PEL
//! entry missing from its group's PEL. It is stricter in two places where Redis without
//! `sanitize-dump-payload yes` would accept a corrupt value and misbehave later: duplicate
//! fields inside a listpack and group PEL entries no consumer owns.

use super::event::{Event, Item, StreamId as RdbStreamId};
use super::types::*;
use super::{RdbError, ReadError, Reader};
use crate::keyspace::list;
use crate::keyspace::set::IntSet;
use crate::keyspace::stream::{Consumer, Entry, Group, Nack, Node, StreamId};
use crate::keyspace::{
    HashValue, Keyspace, ListValue, SetValue, StrValue, StreamValue, Thresholds, Value, ZSetValue,
};
use bytes::Bytes;
use std::collections::{BTreeMap, HashSet};

/// `LISTPACK_MAX_SAFETY_SIZE`: Redis will not build a listpack bigger than this.
const LISTPACK_MAX_SAFETY_SIZE: usize = 1 << 30;

/// A key read whole.
#[derive(Clone, Debug)]
pub struct LoadedKey {
    pub db: u64,
    pub key: Bytes,
    pub value: Value,
    /// Absolute expiry, unix ms.
    pub expire_ms: Option<i64>,
    /// `IDLE` and `FREQ` hints, when the file has them.
    pub lru_idle: Option<u64>,
    pub lfu_freq: Option<u8>,
}

/// What a `KeyEnd` produces.
#[derive(Clone, Debug)]
pub enum Loaded {
    Key(LoadedKey),
    /// A collection with no elements. Redis silently skips these when loading a file (old
    /// versions could write them, see redis#8453) and refuses them in RESTORE.
    Empty {
        db: u64,
        key: Bytes,
    },
}

/// Why loading stopped.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not a valid RDB (or could not be read).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The value is well-formed but not something Redis would accept.
    #[error("{reason} in key '{}'", super::error::Escaped(key))]
    Corrupt { key: Bytes, reason: &'static str },
    /// A value rtool cannot hold.
    #[error("{what} in key '{}' cannot be loaded", super::error::Escaped(key))]
    Unsupported { key: Bytes, what: String },
    /// Something outside any key that Redis 7.0 refuses to load (module aux data without
    /// its module), with Redis's words.
    #[error("{0}")]
    Refused(String),
    /// `SELECTDB` beyond the configured `databases`.
    #[error(
        "FATAL: Data file was created with a Redis server configured to handle more than {0} databases. Exiting"
    )]
    DbOutOfRange(usize),
    /// The same key twice in one database (Redis panics: "Duplicated key found in RDB file").
    #[error("RDB has duplicated key '{}' in DB {db}", super::error::Escaped(key))]
    DuplicateKey { db: u64, key: Bytes },
}

impl From<RdbError> for LoadError {
    fn from(e: RdbError) -> Self {
        LoadError::Read(ReadError::Rdb(e))
    }
}

/// Builds keyspace values from reader events. Feed every event with [`push`](Loader::push);
/// it returns a finished key at each `KeyEnd`.
pub struct Loader {
    t: Thresholds,
    cur: Option<Building>,
    /// The file's aux fields, in order (`repl-id`, `repl-offset`, ...).
    pub aux: Vec<(Bytes, Bytes)>,
    /// Function libraries the file carries (`FUNCTION2`), for the caller to deal with.
    pub functions: Vec<Bytes>,
}

/// The key being built.
struct Building {
    db: u64,
    key: Bytes,
    expire_ms: Option<i64>,
    lru_idle: Option<u64>,
    lfu_freq: Option<u8>,
    value: Partial,
}

/// A value under construction, by the shape its RDB type implies.
enum Partial {
    Str(Option<Bytes>),
    List(ListValue),
    /// Plain and listpack sets: members added one by one, converting like `setTypeAdd`.
    Set(SetValue),
    /// An intset blob: its members and the blob size (which gives the element width).
    Intset {
        values: Vec<i64>,
        blob: u64,
    },
    /// Skiplist sorted sets: longest member and total member bytes decide the conversion.
    ZSetSkip {
        z: ZSetValue,
        maxlen: usize,
        total: usize,
    },
    /// Packed sorted sets (listpack, ziplist): file order is the set's order.
    ZSetPacked {
        v: Vec<(Bytes, f64)>,
        seen: HashSet<Bytes>,
    },
    /// Plain hashes: pairs added one by one, converting like `hashTypeSet`.
    Hash(HashValue),
    /// Packed hashes (listpack, ziplist, zipmap).
    HashPacked {
        v: Vec<(Bytes, Bytes)>,
        seen: HashSet<Bytes>,
        maxlen: usize,
        zipmap: bool,
    },
    Stream(Box<StreamBuild>),
}

/// A stream under construction: nodes first, then the metadata, then the groups.
#[derive(Default)]
struct StreamBuild {
    s: StreamValue,
    /// Version 1 files (type 15) lack the first ID, max deleted ID and counters.
    v1: bool,
    node: Option<(StreamId, Vec<Entry>)>,
    group: Option<GroupBuild>,
}

struct GroupBuild {
    name: Bytes,
    g: Group,
    consumer: Option<(Bytes, Consumer)>,
    /// PEL entries a consumer has claimed so far.
    owned: HashSet<StreamId>,
}

/// A string for the keyspace, in an allocation of its own. The reader hands out slices of
/// its input buffers (no copy while decoding); a long-lived value must not keep a whole
/// buffer alive through such a slice, so anything still shared is copied here.
fn own(b: Bytes) -> Bytes {
    if b.is_unique() {
        b
    } else {
        Bytes::copy_from_slice(&b)
    }
}

fn sid(id: RdbStreamId) -> StreamId {
    StreamId::new(id.ms, id.seq)
}

fn corrupt<T>(key: &Bytes, reason: &'static str) -> Result<T, LoadError> {
    Err(LoadError::Corrupt {
        key: key.clone(),
        reason,
    })
}

impl Loader {
    pub fn new(thresholds: Thresholds) -> Loader {
        Loader {
            t: thresholds,
            cur: None,
            aux: Vec::new(),
            functions: Vec::new(),
        }
    }

    /// Takes one event; returns the key it completes, if any.
    pub fn push(&mut self, ev: Event) -> Result<Option<Loaded>, LoadError> {
        match ev {
            Event::Aux { name, value, .. } => self.aux.push((name, value)),
            Event::Function { code, .. } => self.functions.push(code),
            // 7.0-rc libraries: Redis 7.0 still loads them (rewriting the header); the code
            // is what matters to a caller that has no function engine.
            Event::FunctionPreGa { code, .. } => self.functions.push(code),
            Event::ModuleAux { module, .. } => {
                return Err(LoadError::Refused(format!(
                    "The RDB file contains AUX module data I can't load: no matching module '{}'",
                    module.name
                )));
            }
            Event::KeyStart(k) => {
                let value = match k.rdb_type {
                    TYPE_STRING => Partial::Str(None),
                    TYPE_LIST | TYPE_LIST_ZIPLIST | TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                        Partial::List(ListValue::default())
                    }
                    TYPE_SET | TYPE_SET_LISTPACK => Partial::Set(SetValue::Intset(IntSet::new())),
                    TYPE_SET_INTSET => Partial::Intset {
                        values: Vec::new(),
                        blob: 0,
                    },
                    TYPE_ZSET | TYPE_ZSET_2 => Partial::ZSetSkip {
                        z: ZSetValue::new_skiplist(),
                        maxlen: 0,
                        total: 0,
                    },
                    TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => Partial::ZSetPacked {
                        v: Vec::new(),
                        seen: HashSet::new(),
                    },
                    TYPE_HASH => Partial::Hash(HashValue::default()),
                    TYPE_HASH_ZIPMAP | TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
                        Partial::HashPacked {
                            v: Vec::new(),
                            seen: HashSet::new(),
                            maxlen: 0,
                            zipmap: k.rdb_type == TYPE_HASH_ZIPMAP,
                        }
                    }
                    TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
                        Partial::Stream(Box::new(StreamBuild {
                            v1: k.rdb_type == TYPE_STREAM_LISTPACKS,
                            ..StreamBuild::default()
                        }))
                    }
                    t => {
                        let what = match &k.module {
                            Some(m) => {
                                format!("module data of type '{}' (no module is loaded)", m.name)
                            }
                            None => format!(
                                "a value of RDB type {} ({})",
                                t,
                                rdb_type_name(t).unwrap_or("unknown")
                            ),
                        };
                        return Err(LoadError::Unsupported { key: k.key, what });
                    }
                };
                self.cur = Some(Building {
                    db: k.db,
                    key: own(k.key),
                    expire_ms: k.expire_ms,
                    lru_idle: k.lru_idle,
                    lfu_freq: k.lfu_freq,
                    value,
                });
            }
            Event::Container(c) => {
                if let Some(b) = self.cur.as_mut() {
                    match &mut b.value {
                        Partial::Intset { blob, .. } => *blob = c.size,
                        Partial::Stream(sb) => {
                            if let Some(m) = c.stream_master_id {
                                sb.end_node();
                                sb.node = Some((sid(m), Vec::new()));
                            }
                        }
                        _ => {}
                    }
                }
            }
            Event::Item { item, .. } => {
                let t = self.t;
                if let Some(b) = self.cur.as_mut() {
                    b.value.add(item, &b.key, &t)?;
                }
            }
            Event::KeyEnd(_) => {
                if let Some(b) = self.cur.take() {
                    return self.finish(b).map(Some);
                }
            }
            _ => {}
        }
        Ok(None)
    }

    fn finish(&self, b: Building) -> Result<Loaded, LoadError> {
        let t = &self.t;
        let key = b.key;
        let value = match b.value {
            Partial::Str(s) => Value::Str(StrValue::new(s.unwrap_or_default())),
            Partial::List(l) if l.is_empty() => return Ok(Loaded::Empty { db: b.db, key }),
            Partial::List(l) => Value::List(l),
            Partial::Set(s) if s.is_empty() => return Ok(Loaded::Empty { db: b.db, key }),
            Partial::Set(s) => Value::Set(s),
            Partial::Intset { values, blob } => {
                if values.is_empty() {
                    return corrupt(&key, "Intset integrity check failed.");
                }
                let width = ((blob.saturating_sub(8)) / values.len() as u64).clamp(2, 8) as u8;
                let n = values.len();
                let mut s = SetValue::Intset(IntSet::from_parts(values, width));
                if n > t.set_max_intset_entries {
                    s.convert();
                }
                Value::Set(s)
            }
            Partial::ZSetSkip {
                mut z,
                maxlen,
                total,
            } => {
                if z.is_empty() {
                    return Ok(Loaded::Empty { db: b.db, key });
                }
                // Converted after loading, since a skiplist is not stored in order.
                if maxlen <= t.zset_max_listpack_value && total <= LISTPACK_MAX_SAFETY_SIZE {
                    z.shrink_if_fits(t.zset_max_listpack_entries, t.zset_max_listpack_value);
                }
                Value::ZSet(z)
            }
            Partial::ZSetPacked { v, .. } => {
                if v.is_empty() {
                    return Ok(Loaded::Empty { db: b.db, key });
                }
                let n = v.len();
                let mut z = ZSetValue::Listpack(v);
                if n > t.zset_max_listpack_entries {
                    z.convert_to_skiplist();
                }
                Value::ZSet(z)
            }
            Partial::Hash(h) if h.is_empty() => return Ok(Loaded::Empty { db: b.db, key }),
            Partial::Hash(h) => Value::Hash(h),
            Partial::HashPacked {
                v, maxlen, zipmap, ..
            } => {
                if v.is_empty() {
                    return Ok(Loaded::Empty { db: b.db, key });
                }
                let convert = v.len() > t.hash_max_listpack_entries
                    || (zipmap && maxlen > t.hash_max_listpack_value);
                let mut h = HashValue::Listpack(v);
                if convert {
                    h.convert();
                }
                Value::Hash(h)
            }
            Partial::Stream(mut sb) => {
                sb.end_node();
                sb.end_group(&key)?;
                let s = sb.s;
                if s.length > 0 && s.radix_tree_keys() == 0 {
                    return corrupt(&key, "Stream length inconsistent with rax entries");
                }
                Value::Stream(Box::new(s))
            }
        };
        Ok(Loaded::Key(LoadedKey {
            db: b.db,
            key,
            value,
            expire_ms: b.expire_ms,
            lru_idle: b.lru_idle,
            lfu_freq: b.lfu_freq,
        }))
    }
}

impl Partial {
    fn add(&mut self, item: Item, key: &Bytes, t: &Thresholds) -> Result<(), LoadError> {
        match (self, item) {
            (Partial::Str(s), Item::String(v)) => *s = Some(own(v)),
            // A short element is copied into its node straight from the reader's buffer; a
            // long one keeps its own allocation.
            (Partial::List(l), Item::ListElement(e)) => {
                if e.len() > list::PLAIN_ABOVE {
                    l.push(list::End::Tail, own(e))
                } else {
                    l.push_slice(list::End::Tail, &e)
                }
            }
            (Partial::Set(s), Item::SetMember(m)) => {
                if !s.add(&m, t) {
                    return corrupt(key, "Duplicate set members detected");
                }
            }
            (Partial::Intset { values, .. }, Item::SetMember(m)) => {
                match super::types::parse_strict_i64(&m) {
                    Some(n) => values.push(n),
                    None => return corrupt(key, "Intset integrity check failed."),
                }
            }
            (Partial::ZSetSkip { z, maxlen, total }, Item::ZSetMember { member, score }) => {
                if score.is_nan() {
                    return corrupt(key, "Zset with NAN score detected");
                }
                if z.score(&member).is_some() {
                    return corrupt(key, "Duplicate zset fields detected");
                }
                *maxlen = (*maxlen).max(member.len());
                *total = total.saturating_add(member.len());
                z.insert(own(member), score);
            }
            (Partial::ZSetPacked { v, seen }, Item::ZSetMember { member, score }) => {
                if score.is_nan() {
                    return corrupt(key, "Zset with NAN score detected");
                }
                let member = own(member);
                if !seen.insert(member.clone()) {
                    return corrupt(key, "Zset listpack integrity check failed.");
                }
                v.push((member, score));
            }
            (Partial::Hash(h), Item::HashField { field, value, .. }) => {
                if h.contains(&field) {
                    return corrupt(key, "Duplicate hash fields detected");
                }
                h.set(&field, own(value), t);
            }
            (
                Partial::HashPacked {
                    v, seen, maxlen, ..
                },
                Item::HashField { field, value, .. },
            ) => {
                let field = own(field);
                if !seen.insert(field.clone()) {
                    return corrupt(key, "Hash listpack integrity check failed.");
                }
                *maxlen = (*maxlen).max(field.len()).max(value.len());
                v.push((field, own(value)));
            }
            (Partial::Stream(sb), item) => sb.add(item, key)?,
            // The reader only emits items that fit the key's type.
            _ => return corrupt(key, "unexpected element for the key's type"),
        }
        Ok(())
    }
}

impl StreamBuild {
    /// Closes the current node: its master fields are those of its first entry (Redis
    /// creates a node for an entry and takes that entry's fields as the master's), and an
    /// entry has "the same fields" exactly when Redis would have flagged it so.
    fn end_node(&mut self) {
        let Some((master, entries)) = self.node.take() else {
            return;
        };
        let master_fields: Vec<Bytes> = entries
            .first()
            .map(|e| e.fields.iter().step_by(2).cloned().collect())
            .unwrap_or_default();
        let entries = entries
            .into_iter()
            .map(|mut e| {
                e.same_fields = e.fields.len() == master_fields.len() * 2
                    && e.fields.iter().step_by(2).eq(master_fields.iter());
                e
            })
            .collect();
        self.s
            .push_node(master, Node::from_parts(master, master_fields, entries));
    }

    fn end_consumer(&mut self, key: &Bytes) -> Result<(), LoadError> {
        if let Some(gb) = self.group.as_mut()
            && let Some((name, c)) = gb.consumer.take()
            && gb.g.consumers.insert(name, c).is_some()
        {
            return corrupt(key, "Duplicate stream consumer detected.");
        }
        Ok(())
    }

    fn end_group(&mut self, key: &Bytes) -> Result<(), LoadError> {
        self.end_consumer(key)?;
        if let Some(gb) = self.group.take() {
            if gb.owned.len() != gb.g.pel.len() {
                return corrupt(key, "Stream CG PEL entry without consumer");
            }
            if self.s.groups.insert(gb.name, gb.g).is_some() {
                return corrupt(key, "Duplicated consumer group name");
            }
        }
        Ok(())
    }

    fn add(&mut self, item: Item, key: &Bytes) -> Result<(), LoadError> {
        match item {
            Item::StreamEntry {
                id,
                deleted,
                fields,
            } => {
                let Some((_, entries)) = self.node.as_mut() else {
                    return corrupt(key, "stream entry outside a node");
                };
                entries.push(Entry {
                    id: sid(id),
                    fields: fields
                        .into_iter()
                        .flat_map(|(f, v)| [own(f), own(v)])
                        .collect(),
                    same_fields: false,
                    deleted,
                });
            }
            Item::StreamMeta {
                length,
                last_id,
                first_id,
                max_deleted_id,
                entries_added,
            } => {
                self.end_node();
                let s = &mut self.s;
                s.length = length;
                s.last_id = sid(last_id);
                match (first_id, max_deleted_id, entries_added) {
                    (Some(f), Some(m), Some(n)) if !self.v1 => {
                        s.first_id = sid(f);
                        s.max_deleted_entry_id = sid(m);
                        s.entries_added = n;
                    }
                    _ => {
                        // Version 1: what Redis 7.0 derives when it loads an old stream.
                        s.max_deleted_entry_id = StreamId::MIN;
                        s.entries_added = length;
                        s.first_id = s.first_edge_id(true);
                    }
                }
            }
            Item::StreamGroup {
                name,
                last_id,
                entries_read,
            } => {
                self.end_group(key)?;
                let last_id = sid(last_id);
                let entries_read = match entries_read {
                    Some(n) => n,
                    None => self.s.estimate_distance(last_id),
                };
                self.group = Some(GroupBuild {
                    name: own(name),
                    g: Group {
                        last_id,
                        entries_read,
                        pel: BTreeMap::new(),
                        consumers: BTreeMap::new(),
                    },
                    consumer: None,
                    owned: HashSet::new(),
                });
            }
            Item::StreamPending {
                id,
                delivery_time_ms,
                delivery_count,
            } => {
                let Some(gb) = self.group.as_mut() else {
                    return corrupt(key, "stream PEL entry outside a group");
                };
                let nack = Nack {
                    consumer: Bytes::new(),
                    delivery_time: delivery_time_ms,
                    delivery_count,
                };
                if gb.g.pel.insert(sid(id), nack).is_some() {
                    return corrupt(
                        key,
                        "Duplicated global PEL entry loading stream consumer group",
                    );
                }
            }
            Item::StreamConsumer {
                name, seen_time_ms, ..
            } => {
                self.end_consumer(key)?;
                let Some(gb) = self.group.as_mut() else {
                    return corrupt(key, "stream consumer outside a group");
                };
                gb.consumer = Some((
                    own(name),
                    Consumer {
                        seen_time: seen_time_ms,
                        pel: Default::default(),
                    },
                ));
            }
            Item::StreamConsumerPending { id } => {
                let id = sid(id);
                let Some(gb) = self.group.as_mut() else {
                    return corrupt(key, "stream consumer PEL entry outside a group");
                };
                let Some((cname, c)) = gb.consumer.as_mut() else {
                    return corrupt(key, "stream consumer PEL entry outside a consumer");
                };
                let Some(nack) = gb.g.pel.get_mut(&id) else {
                    return corrupt(key, "Consumer entry not found in group global PEL");
                };
                if !gb.owned.insert(id) || !c.pel.insert(id) {
                    return corrupt(
                        key,
                        "Duplicated consumer PEL entry  loading a stream consumer group",
                    );
                }
                nack.consumer = cname.clone();
            }
            _ => return corrupt(key, "unexpected element in a stream"),
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Loading a whole file
// ---------------------------------------------------------------------------------------------

/// How a file is loaded into a keyspace.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub thresholds: Thresholds,
    /// The clock for expiry, unix ms.
    pub now_ms: i64,
    /// Skip keys whose time has passed. Redis does so when it loads as a master; a replica
    /// keeps them and waits for its master's DEL.
    pub skip_expired: bool,
}

/// What a load did.
#[derive(Clone, Debug, Default)]
pub struct LoadSummary {
    pub version: u32,
    pub keys_loaded: u64,
    /// Skipped because already expired (`rdb_last_load_keys_expired`).
    pub keys_expired: u64,
    /// Empty collections skipped ("rdbLoadObject skipping empty key").
    pub empty_keys_skipped: u64,
    pub aux: Vec<(Bytes, Bytes)>,
    /// Function libraries in the file (rtool has no function engine to load them into).
    pub functions: Vec<Bytes>,
    /// The file's size in bytes.
    pub bytes: u64,
    /// The hook of [`load_into_with`] stopped the load before the end of the file.
    pub stopped: bool,
}

impl LoadSummary {
    /// An aux field's value.
    pub fn aux(&self, name: &str) -> Option<&Bytes> {
        self.aux
            .iter()
            .find(|(n, _)| n.as_ref() == name.as_bytes())
            .map(|(_, v)| v)
    }
}

/// Put a loaded key into its database, with its expiry. One lookup per key: the insert itself
/// says whether the key was there, and a file naming a key twice (or a database this server
/// does not have) is refused. Every loader (start-up, a replica's full sync, an AOF preamble)
/// stores keys through here.
pub fn place(ks: &mut Keyspace, k: LoadedKey) -> Result<(), LoadError> {
    let dbs = ks.dbs.len();
    let Some(db) = ks.dbs.get_mut(k.db as usize) else {
        return Err(LoadError::DbOutOfRange(dbs));
    };
    let key = k.key.clone();
    if db.dict.insert(k.key, k.value).is_some() {
        return Err(LoadError::DuplicateKey { db: k.db, key });
    }
    if let Some(t) = k.expire_ms {
        db.set_expire(&key, t);
    }
    Ok(())
}

/// Size the database an RDB is about to fill from its `RESIZEDB` hint, as Redis's loader
/// does (`dictExpand`), so a million keys go in without a single rehash. `db` tracks the
/// current `SELECTDB`. Every loader (start-up, a replica's full sync, an AOF preamble)
/// passes its events through here.
pub fn presize(ks: &mut Keyspace, ev: &Event, db: &mut u64) {
    match ev {
        Event::SelectDb { db: d, .. } => *db = *d,
        Event::ResizeDb {
            db_size,
            expires_size,
            ..
        } => {
            if let Some(d) = ks.dbs.get_mut(*db as usize) {
                // A hint from the file: capped, it only saves rehashing.
                d.dict.reserve((*db_size).min(1 << 30) as usize);
                d.expires.reserve((*expires_size).min(1 << 30) as usize);
            }
        }
        _ => {}
    }
}

/// Loads an RDB from `input` into `ks` (which should be empty), reading in chunks: memory is
/// the keyspace being filled plus the key being read. Keys go into the database the file
/// names; a database beyond `ks.dbs` is an error, as is a key present twice.
pub fn load_into<R: std::io::Read>(
    input: R,
    ks: &mut Keyspace,
    opts: &LoadOptions,
) -> Result<LoadSummary, LoadError> {
    load_into_with(input, ks, opts, |_| std::ops::ControlFlow::Continue(()))
}

/// [`load_into`], calling `after_key` with the file offset reached after each key: the
/// start-up loader's hook for what Redis does between keys (`key-load-delay`) and every few
/// bytes (acting on a shutdown signal). `Break` stops the load where it is;
/// [`LoadSummary::stopped`] says so and the keyspace holds what was loaded until then.
pub fn load_into_with<R: std::io::Read>(
    input: R,
    ks: &mut Keyspace,
    opts: &LoadOptions,
    mut after_key: impl FnMut(u64) -> std::ops::ControlFlow<()>,
) -> Result<LoadSummary, LoadError> {
    let mut loader = Loader::new(opts.thresholds);
    let mut summary = LoadSummary::default();
    let mut events = super::events(input);
    let mut cur_db = 0;
    for ev in events.by_ref() {
        let ev = ev?;
        presize(ks, &ev, &mut cur_db);
        match &ev {
            Event::Header { version, .. } => summary.version = *version,
            Event::SelectDb { db, .. } if *db >= ks.dbs.len() as u64 => {
                return Err(LoadError::DbOutOfRange(ks.dbs.len()));
            }
            Event::Eof { span, .. } => summary.bytes = span.end(),
            _ => {}
        }
        let offset = ev.span().end();
        match loader.push(ev)? {
            Some(Loaded::Key(k)) => {
                if opts.skip_expired && k.expire_ms.is_some_and(|t| t < opts.now_ms) {
                    summary.keys_expired += 1;
                } else {
                    place(ks, k)?;
                    summary.keys_loaded += 1;
                }
            }
            Some(Loaded::Empty { .. }) => summary.empty_keys_skipped += 1,
            None => continue,
        }
        if after_key(offset).is_break() {
            summary.stopped = true;
            break;
        }
    }
    summary.aux = std::mem::take(&mut loader.aux);
    summary.functions = std::mem::take(&mut loader.functions);
    Ok(summary)
}

// ---------------------------------------------------------------------------------------------
// RESTORE
// ---------------------------------------------------------------------------------------------

/// Why RESTORE refuses a payload, with Redis's reply texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// "ERR DUMP payload version or checksum are wrong"
    VersionOrChecksum,
    /// "ERR Bad data format"
    BadFormat,
}

impl RestoreError {
    pub fn message(self) -> &'static str {
        match self {
            RestoreError::VersionOrChecksum => "DUMP payload version or checksum are wrong",
            RestoreError::BadFormat => "Bad data format",
        }
    }
}

/// `verifyDumpPayload`: at least the 10-byte footer, an RDB version this server can read
/// (up to 10), and a CRC-64 that matches.
pub fn verify_dump_payload(p: &[u8]) -> bool {
    if p.len() < 10 {
        return false;
    }
    let footer = &p[p.len() - 10..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > super::writer::RDB_VERSION {
        return false;
    }
    let crc = crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS).checksum(&p[..p.len() - 8]);
    crc.to_le_bytes() == footer[2..]
}

/// Decodes a DUMP payload into a value, as RESTORE does: footer checked, then the value read
/// with the same reader and loader as a file.
///
/// The reader has no entry point for a bare value, so this wraps the payload into the
/// smallest RDB stream that holds it — `REDIS0010`, the type byte, an empty key name, the
/// rest of the payload — and stops at the key's end. Like Redis, which reads the value from
/// the whole argument, bytes after the value (the footer at least) are ignored, a value that
/// reads into the footer is taken as it reads, and one that needs more is a bad format.
pub fn restore_value(payload: &[u8], t: &Thresholds) -> Result<Value, RestoreError> {
    if !verify_dump_payload(payload) {
        return Err(RestoreError::VersionOrChecksum);
    }
    // Redis reads the value from the whole argument, footer included: a value that runs into
    // the footer is read through it (and accepted), so the footer stays in what is fed.
    let Some((&ty, value)) = payload.split_first() else {
        return Err(RestoreError::BadFormat);
    };
    // `rdbIsObjectType` in 7.0: 0-7 and 9-19. Module types (6, 7) need a module rtool lacks.
    if !matches!(ty, 0..=5 | 9..=19) {
        return Err(RestoreError::BadFormat);
    }
    let mut reader = Reader::new();
    reader.feed(b"REDIS0010");
    reader.feed(&[ty, 0]);
    reader.feed(value);
    let mut loader = Loader::new(*t);
    loop {
        match reader.next_event() {
            Ok(Some(ev)) => match loader.push(ev) {
                Ok(Some(Loaded::Key(k))) => return Ok(k.value),
                Ok(Some(Loaded::Empty { .. })) | Err(_) => return Err(RestoreError::BadFormat),
                Ok(None) => {}
            },
            // Waiting for bytes that will not come: the value is truncated.
            Ok(None) | Err(_) => return Err(RestoreError::BadFormat),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::digest;
    use crate::rdb::writer::{self, Aux, WriteOptions};

    fn ks_with(entries: Vec<(&str, Value)>) -> Keyspace {
        let mut ks = Keyspace::new(16);
        for (k, v) in entries {
            ks.dbs[0].set(Bytes::copy_from_slice(k.as_bytes()), v);
        }
        ks
    }

    #[test]
    fn restore_checks_footer_then_format() {
        let t = Thresholds::default();
        let v = Value::Str(StrValue::new(Bytes::from("hello")));
        let p = writer::dump_payload(&v, &WriteOptions::default());
        assert!(matches!(restore_value(&p, &t), Ok(Value::Str(s)) if s.bytes == "hello"));
        let mut bad = p.clone();
        bad[1] ^= 1;
        assert_eq!(
            restore_value(&bad, &t).unwrap_err(),
            RestoreError::VersionOrChecksum
        );
        assert_eq!(
            restore_value(b"short", &t).unwrap_err(),
            RestoreError::VersionOrChecksum
        );
        // A valid footer around a value longer than the payload, footer included.
        let mut cut = vec![0u8, 30, b'a', b'b'];
        cut.extend_from_slice(&10u16.to_le_bytes());
        let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&cut);
        cut.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            restore_value(&cut, &t).unwrap_err(),
            RestoreError::BadFormat
        );
    }

    #[test]
    fn plain_sets_of_integers_load_as_intsets() {
        let mut s = SetValue::Intset(IntSet::new());
        let t = Thresholds::default();
        for m in ["1", "2", "3"] {
            s.add(m.as_bytes(), &t);
        }
        s.convert();
        let ks = ks_with(vec![("s", Value::Set(s))]);
        let file = writer::write_keyspace(&ks, Vec::new(), &WriteOptions::default(), &Aux::now(0))
            .unwrap();
        let mut back = Keyspace::new(16);
        let opts = LoadOptions {
            thresholds: t,
            now_ms: 0,
            skip_expired: true,
        };
        load_into(&file[..], &mut back, &opts).unwrap();
        assert_eq!(
            back.dbs[0].dict.get(&b"s"[..]).unwrap().encoding(),
            "intset"
        );
        assert_eq!(digest::dataset(&ks), digest::dataset(&back));
    }
}
