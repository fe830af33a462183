//! What the reader reports: one event per thing in the file, in file order, each with its place
//! in the byte stream.
//!
//! A key comes out as `KeyStart`, then its value as `Item`s (one per element: a huge list is
//! never held whole), then `KeyEnd`. Packed values (listpacks, ziplists, intsets, zipmaps) are
//! announced by a `Container` event before their elements, so a layout view can show the
//! container and then what is inside it.

use super::types::{ModuleType, ValueType};
use bytes::Bytes;
use std::fmt;

/// A byte range of the input stream: `offset` counts from the reader's start offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub offset: u64,
    pub len: u64,
}

impl Span {
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// Which signature the file starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Magic {
    /// `REDIS` + 4 digits (Redis, and Valkey up to 8).
    Redis,
    /// `VALKEY` + 3 digits (Valkey 9 and later).
    Valkey,
}

/// A stream entry ID, `<ms>-<seq>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// Decodes the 16-byte big-endian form Redis uses for radix-tree keys and PEL entries.
    pub fn from_be_bytes(b: &[u8; 16]) -> StreamId {
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&b[..8]);
        seq.copy_from_slice(&b[8..]);
        StreamId {
            ms: u64::from_be_bytes(ms),
            seq: u64::from_be_bytes(seq),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Everything known about a key before its value: the opcodes that precede it (expiry, LRU,
/// LFU), its type byte and its name.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyStart {
    /// The database (`SELECTDB`; 0 if the file never selects one).
    pub db: u64,
    pub key: Bytes,
    /// The RDB type byte (`RDB_TYPE_*`).
    pub rdb_type: u8,
    /// `redis-check-rdb`'s name for it: `hash-listpack`, `quicklist-v2`, ...
    pub rdb_type_name: &'static str,
    /// What `TYPE` says.
    pub value_type: ValueType,
    /// The encoding the saving server had, as `OBJECT ENCODING` names it (exact for strings,
    /// which are read whole before this event; see [`KeyEnd::encoding`] for the encoding Redis
    /// 7.0 gives the value once loaded).
    pub encoding: &'static str,
    /// Absolute expiry, unix milliseconds (`EXPIRETIME` seconds are converted).
    pub expire_ms: Option<i64>,
    /// `IDLE`: seconds since last access (maxmemory-policy *-lru).
    pub lru_idle: Option<u64>,
    /// `FREQ`: the LFU counter (maxmemory-policy *-lfu).
    pub lfu_freq: Option<u8>,
    /// For module values: the module type decoded from its id.
    pub module: Option<ModuleType>,
    /// From the first opcode that belongs to the key (an expiry, `IDLE`, `FREQ`) or its type
    /// byte, to the end of its name (for strings: of the value).
    pub span: Span,
}

/// The end of a key.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyEnd {
    pub db: u64,
    pub key: Bytes,
    /// The whole key: from [`KeyStart::span`]'s offset to the end of the value.
    pub span: Span,
    /// Elements reported (list elements, members, fields, live stream entries; 1 for a string).
    pub items: u64,
    /// What `OBJECT ENCODING` says after Redis 7.0 loads this value with its default
    /// thresholds (a small old `hashtable` hash becomes `listpack`, a ziplist becomes a
    /// listpack...). For types 7.0 cannot load (RDB 11/12), the version that introduced them.
    pub encoding: &'static str,
}

/// What kind of packed container a value (or part of it) is stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerKind {
    Listpack,
    Ziplist,
    Intset,
    Zipmap,
    /// A quicklist "plain" node: one big element stored as a bare string.
    Plain,
}

impl ContainerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerKind::Listpack => "listpack",
            ContainerKind::Ziplist => "ziplist",
            ContainerKind::Intset => "intset",
            ContainerKind::Zipmap => "zipmap",
            ContainerKind::Plain => "plain",
        }
    }
}

/// A packed container found in the value of the current key.
#[derive(Clone, Debug, PartialEq)]
pub struct Container {
    pub kind: ContainerKind,
    /// The RDB string holding it, length prefix included.
    pub span: Span,
    /// Its decoded size in bytes.
    pub size: u64,
    /// Whether the RDB string was LZF-compressed (positions inside are then positions in the
    /// decompressed bytes).
    pub compressed: bool,
    /// Stream offset of the container's first byte when stored uncompressed.
    pub data_offset: Option<u64>,
    /// For stream nodes, the master ID the node's entry IDs are relative to.
    pub stream_master_id: Option<StreamId>,
}

/// Where an element of a packed container sits inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackedPos {
    /// Offset of the entry in the container's (decompressed) bytes.
    pub pos: u32,
    /// Size of the entry (for pairs and stream entries, of all their entries).
    pub len: u32,
}

/// One piece of a value.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// The whole value of a string key.
    String(Bytes),
    /// One list element, in list order.
    ListElement(Bytes),
    /// One set member.
    SetMember(Bytes),
    /// One sorted-set member (file order; Redis writes skiplists from the highest score down).
    ZSetMember { member: Bytes, score: f64 },
    /// One hash field; `expire_ms` is the field's absolute TTL (Redis 7.4 HEXPIRE).
    HashField {
        field: Bytes,
        value: Bytes,
        expire_ms: Option<u64>,
    },
    /// One stream entry. Deleted entries (XDEL leaves them in place, flagged) are reported too,
    /// with `deleted: true`; they are not part of the stream's content.
    StreamEntry {
        id: StreamId,
        deleted: bool,
        fields: Vec<(Bytes, Bytes)>,
    },
    /// The stream's own fields, stored after its entries.
    StreamMeta {
        /// Live entries (`XLEN`).
        length: u64,
        last_id: StreamId,
        /// RDB stream v2+ (`stream-v2`, Redis 7.0): the rest are absent before.
        first_id: Option<StreamId>,
        max_deleted_id: Option<StreamId>,
        entries_added: Option<u64>,
    },
    /// A consumer group; its pending entries and consumers follow.
    StreamGroup {
        name: Bytes,
        last_id: StreamId,
        /// `entries-read` (v2+); -1 when Redis cannot tell (XINFO shows nil).
        entries_read: Option<i64>,
    },
    /// An entry of the current group's pending entries list (`XPENDING`).
    StreamPending {
        id: StreamId,
        delivery_time_ms: i64,
        delivery_count: u64,
    },
    /// A consumer of the current group; the IDs it owns follow.
    StreamConsumer {
        name: Bytes,
        seen_time_ms: i64,
        /// v3 (Redis 7.2): when it last read or claimed successfully (-1: never).
        active_time_ms: Option<i64>,
    },
    /// An entry of the current consumer's pending list (its details are in the group's PEL).
    StreamConsumerPending { id: StreamId },
    /// A module value: not decoded, its payload is skipped (the key's `module` names it).
    ModuleValue,
}

/// Everything the reader reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The signature and version.
    Header {
        magic: Magic,
        version: u32,
        span: Span,
    },
    /// `AUX name value` (`redis-ver`, `ctime`, `repl-id`, `aof-base`, ...).
    Aux {
        name: Bytes,
        value: Bytes,
        span: Span,
    },
    /// `SELECTDB`: the keys that follow belong to `db`.
    SelectDb {
        db: u64,
        span: Span,
    },
    /// `RESIZEDB`: how many keys and expires the current database has.
    ResizeDb {
        db_size: u64,
        expires_size: u64,
        span: Span,
    },
    /// `SLOT_INFO` (cluster, Redis 7.4+).
    SlotInfo {
        slot: u64,
        slot_size: u64,
        expires_slot_size: u64,
        span: Span,
    },
    /// `FUNCTION2`: a function library's source (`#!lua name=...`).
    Function {
        code: Bytes,
        span: Span,
    },
    /// `FUNCTION` as Redis 7.0-rc1/rc2 wrote it (opcode 246). Redis 7.0 GA refuses to load it
    /// ("Pre-release function format not supported"); a loader that follows Redis must too.
    FunctionPreGa {
        name: Bytes,
        engine: Bytes,
        description: Option<Bytes>,
        code: Bytes,
        span: Span,
    },
    /// `MODULE_AUX`: module data not tied to a key; skipped, the module named.
    ModuleAux {
        module: ModuleType,
        when: u64,
        span: Span,
    },
    /// A key begins (boxed: it is the biggest event and comes once per key, while the small
    /// `Item`s that follow are the hot path).
    KeyStart(Box<KeyStart>),
    /// A piece of the current key's value.
    Item {
        item: Item,
        /// In the stream. For elements of a packed container: the entry itself when the
        /// container is stored uncompressed, else the whole container string.
        span: Span,
        /// For elements of a packed container: where inside it.
        packed: Option<PackedPos>,
    },
    Container(Container),
    KeyEnd(KeyEnd),
    /// The end: `EOF` opcode and checksum.
    Eof {
        /// The stored CRC-64 (`None` before RDB 5, which had none; `Some(0)` = disabled by
        /// `rdbchecksum no`).
        stored: Option<u64>,
        /// The CRC-64/Jones of every byte before the checksum.
        computed: u64,
        span: Span,
    },
}

impl Event {
    /// The stream range of the event.
    pub fn span(&self) -> Span {
        match self {
            Event::Header { span, .. }
            | Event::Aux { span, .. }
            | Event::SelectDb { span, .. }
            | Event::ResizeDb { span, .. }
            | Event::SlotInfo { span, .. }
            | Event::Function { span, .. }
            | Event::FunctionPreGa { span, .. }
            | Event::ModuleAux { span, .. }
            | Event::Item { span, .. }
            | Event::Eof { span, .. } => *span,
            Event::KeyStart(k) => k.span,
            Event::KeyEnd(k) => k.span,
            Event::Container(c) => c.span,
        }
    }
}
