//! The push parser: bytes in, events out, never an I/O call.
//!
//! ## How it streams
//! The reader keeps the bytes it has been fed but not yet used in one buffer. It decodes the
//! file in *units*: an opcode with its operands, a key's type and name, one list element, one
//! hash field and its value, one consumer group header, one packed container. A unit is parsed
//! from the buffer in one go; if the buffer ends first, nothing is consumed and the reader
//! answers "need more" — when more bytes arrive the unit is parsed again from its start. Units
//! are small (a string's length prefix is all that is re-read while a big string arrives), so
//! retrying costs nothing, and the state between units is a handful of counters: that is what
//! keeps memory flat however big the file or a collection is.
//!
//! A unit that holds a string needs that whole string in the buffer (a 100 MB value is
//! buffered up to its 100 MB, and only once those bytes have arrived: a length field never
//! sizes an allocation by itself). Packed containers (listpacks, ziplists...) are one RDB
//! string, so they arrive whole too; their elements then come out one event at a time.
//!
//! ## Offsets
//! `base` is the stream position of the buffer's first byte. A reader created with
//! [`Reader::with_offset`] counts from there, so a tap that starts decoding an RDB in the middle
//! of a socket reports positions in the socket's byte stream.
//!
//! ## The checksum
//! Every byte consumed goes through CRC-64/Jones (Redis's `crc64`), so the trailer is checked
//! without a second pass.

use super::cursor::{Cur, Res, Stop, Str, bad};
use super::error::{ErrorKind, Phase, RdbError};
use super::event::{
    Container, ContainerKind, Event, Item, KeyEnd, KeyStart, Magic, PackedPos, Span, StreamId,
};
use super::intset::Intset;
use super::listpack::Listpack;
use super::packed::{Iter, MAX_FIELD_EXPIRE, Packed, Shape, StreamNode};
use super::types::*;
use super::ziplist::Ziplist;
use super::zipmap::Zipmap;
use bytes::{Bytes, BytesMut};
use crc::{CRC_64_REDIS, Crc, Digest, Table};
use std::collections::VecDeque;

static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// A buffer bigger than this that is mostly empty is given back (see `commit`).
const SHRINK_ABOVE: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Reader state
// ---------------------------------------------------------------------------------------------

/// Where the reader is in the file.
#[derive(Clone)]
enum State {
    /// Waiting for the 9-byte signature.
    Magic,
    /// Between things: the next byte is an opcode or a key's type.
    Top,
    /// Inside a key's value.
    Value(Value),
    /// Skipping a module's serialized data, opcode by opcode.
    Module {
        aux_when: Option<u64>,
        module: ModuleType,
        start: u64,
    },
    /// After `EOF`: the 8-byte checksum.
    Trailer { eof_at: u64 },
    /// Finished; bytes fed from now on belong to whatever follows the RDB.
    Done,
}

/// Value states. Each variant is "what the next unit of this value is".
#[derive(Clone)]
enum Value {
    /// `count` more elements, each one unit (linked lists, hashtable sets/zsets/hashes).
    Counted { kind: Counted, remaining: u64 },
    /// The value is one packed container string, not read yet.
    Blob { shape: Shape, kind: ContainerKind },
    /// Handing out the elements of a decoded container.
    Packed { packed: Box<Packed>, then: Then },
    /// `remaining` quicklist nodes (v2: each with its container kind).
    Quicklist { v2: bool, remaining: u64 },
    /// `remaining` stream nodes: master ID + listpack.
    StreamNodes { version: u8, remaining: u64 },
    /// The stream's metadata and consumer-group count.
    StreamMeta { version: u8 },
    /// `groups` groups left, the next unit is a group header.
    StreamGroup { version: u8, groups: u64 },
    /// Entries of the current group's PEL.
    StreamGroupPel { version: u8, groups: u64, pel: u64 },
    /// The current group's consumer count.
    StreamConsumers { version: u8, groups: u64 },
    StreamConsumer {
        version: u8,
        groups: u64,
        consumers: u64,
    },
    StreamConsumerPel {
        version: u8,
        groups: u64,
        consumers: u64,
        pel: u64,
    },
}

/// Elements stored one by one.
#[derive(Clone, Copy)]
enum Counted {
    List,
    Set,
    /// Zset with text scores (type 3) or binary scores (type 5).
    ZSet {
        binary: bool,
    },
    Hash,
    /// Hash with a TTL before each field; `min` is the base relative TTLs are counted from
    /// (type 24), `None` for absolute TTLs (type 22).
    HashTtl {
        min: Option<u64>,
    },
}

/// What follows the last element of a container.
#[derive(Clone)]
enum Then {
    EndKey,
    Quicklist { v2: bool, remaining: u64 },
    StreamNodes { version: u8, remaining: u64 },
}

/// Opcodes seen before a key that belong to it.
#[derive(Clone, Default)]
struct PendingMeta {
    start: Option<u64>,
    expire_ms: Option<i64>,
    lru_idle: Option<u64>,
    lfu_freq: Option<u8>,
}

/// The key being read, and what is needed to name its encoding at the end.
#[derive(Clone)]
struct KeyCtx {
    key: Bytes,
    rdb_type: u8,
    start: u64,
    items: u64,
    max_len: usize,
    all_int: bool,
    string_encoding: &'static str,
}

impl KeyCtx {
    fn account(&mut self, item: &Item) {
        match item {
            Item::String(s) => {
                self.items = 1;
                self.string_encoding = string_encoding(s);
            }
            Item::ListElement(_) => self.items += 1,
            Item::SetMember(m) => {
                self.items += 1;
                self.max_len = self.max_len.max(m.len());
                if self.all_int && parse_strict_i64(m).is_none() {
                    self.all_int = false;
                }
            }
            Item::ZSetMember { member, .. } => {
                self.items += 1;
                self.max_len = self.max_len.max(member.len());
            }
            Item::HashField { field, value, .. } => {
                self.items += 1;
                self.max_len = self.max_len.max(field.len()).max(value.len());
            }
            Item::StreamEntry { deleted: false, .. } => self.items += 1,
            _ => {}
        }
    }

    /// `OBJECT ENCODING` once Redis 7.0 has loaded the value with default thresholds
    /// (`rdbLoadObject` in 7.0's rdb.c; the types 7.0 cannot load follow 7.2 / 7.4).
    fn loaded_encoding(&self) -> &'static str {
        const HASH_ENTRIES: u64 = 512; // hash-max-listpack-entries
        const HASH_VALUE: usize = 64; // hash-max-listpack-value
        const ZSET_ENTRIES: u64 = 128; // zset-max-listpack-entries
        const ZSET_VALUE: usize = 64; // zset-max-listpack-value
        const INTSET_ENTRIES: u64 = 512; // set-max-intset-entries
        const SET_LISTPACK_ENTRIES: u64 = 128; // set-max-listpack-entries (7.2)
        let n = self.items;
        match self.rdb_type {
            TYPE_STRING => self.string_encoding,
            TYPE_SET if n <= INTSET_ENTRIES && self.all_int => "intset",
            TYPE_SET => "hashtable",
            TYPE_SET_INTSET if n > INTSET_ENTRIES => "hashtable",
            TYPE_SET_INTSET => "intset",
            TYPE_SET_LISTPACK if n > SET_LISTPACK_ENTRIES => "hashtable",
            TYPE_SET_LISTPACK => "listpack",
            TYPE_ZSET | TYPE_ZSET_2 if n <= ZSET_ENTRIES && self.max_len <= ZSET_VALUE => {
                "listpack"
            }
            TYPE_ZSET | TYPE_ZSET_2 => "skiplist",
            TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK if n > ZSET_ENTRIES => "skiplist",
            TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => "listpack",
            TYPE_HASH if n <= HASH_ENTRIES && self.max_len <= HASH_VALUE => "listpack",
            TYPE_HASH => "hashtable",
            TYPE_HASH_ZIPMAP if n <= HASH_ENTRIES && self.max_len <= HASH_VALUE => "listpack",
            TYPE_HASH_ZIPMAP => "hashtable",
            TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK if n > HASH_ENTRIES => "hashtable",
            TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => "listpack",
            TYPE_HASH_METADATA | TYPE_HASH_METADATA_PRE_GA
                if n <= HASH_ENTRIES && self.max_len <= HASH_VALUE =>
            {
                "listpackex"
            }
            TYPE_HASH_METADATA | TYPE_HASH_METADATA_PRE_GA => "hashtable",
            TYPE_HASH_LISTPACK_EX | TYPE_HASH_LISTPACK_EX_PRE_GA if n > HASH_ENTRIES => "hashtable",
            TYPE_HASH_LISTPACK_EX | TYPE_HASH_LISTPACK_EX_PRE_GA => "listpackex",
            t => saved_encoding(t),
        }
    }
}

/// A streaming RDB decoder. Feed it bytes with [`feed`](Reader::feed), take events with
/// [`next_event`](Reader::next_event) until it returns `Ok(None)` ("need more input"), repeat,
/// and call [`finish`](Reader::finish) when the input ends.
///
/// ```
/// use rtool::rdb::{Event, Reader};
/// let file = b"REDIS0010\xff\0\0\0\0\0\0\0\0";
/// let mut r = Reader::new();
/// let mut events = Vec::new();
/// for chunk in file.chunks(4) {
///     r.feed(chunk);
///     while let Some(ev) = r.next_event().unwrap() {
///         events.push(ev);
///     }
/// }
/// r.finish().unwrap();
/// assert!(matches!(events.last(), Some(Event::Eof { stored: Some(0), .. })));
/// ```
///
/// A clone is a checkpoint: it copies the few bytes still buffered and the small state, and
/// decodes on independently.
#[derive(Clone)]
pub struct Reader {
    buf: BytesMut,
    /// Stream offset of `buf[0]`.
    base: u64,
    crc: Digest<'static, u64, Table<16>>,
    verify_checksum: bool,
    version: u32,
    magic: Magic,
    state: State,
    db: u64,
    meta: PendingMeta,
    key: Option<KeyCtx>,
    /// Events decoded but not handed out yet (at most three: a string key's start, value, end).
    out: VecDeque<Event>,
    /// Once an error is returned, it is returned again: the reader does not guess its way on.
    error: Option<RdbError>,
    /// What the last "need more" was waiting in (for `finish`'s truncation error).
    stall_phase: Phase,
    stall_key: Option<Bytes>,
}

impl Default for Reader {
    fn default() -> Self {
        Reader::new()
    }
}

impl Reader {
    /// A reader for a stream that starts with the RDB's first byte.
    pub fn new() -> Reader {
        Reader::with_offset(0)
    }

    /// A reader whose first byte is at `offset` in some larger stream (a replication link);
    /// every reported offset counts from there.
    pub fn with_offset(offset: u64) -> Reader {
        Reader {
            buf: BytesMut::new(),
            base: offset,
            crc: CRC64.digest(),
            verify_checksum: true,
            version: 0,
            magic: Magic::Redis,
            state: State::Magic,
            db: 0,
            meta: PendingMeta::default(),
            key: None,
            out: VecDeque::new(),
            error: None,
            stall_phase: Phase::Start,
            stall_key: None,
        }
    }

    /// Whether a wrong CRC-64 is an error (the default, like Redis) or only reported in the
    /// [`Event::Eof`] event (for tools that show damaged files).
    pub fn verify_checksum(mut self, on: bool) -> Reader {
        self.verify_checksum = on;
        self
    }

    /// Appends input. Nothing is decoded until [`next_event`](Reader::next_event).
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next event; `Ok(None)` when the fed bytes are used up (or the file is finished, see
    /// [`is_done`](Reader::is_done)).
    pub fn next_event(&mut self) -> Result<Option<Event>, RdbError> {
        loop {
            if let Some(e) = self.out.pop_front() {
                return Ok(Some(e));
            }
            if let Some(e) = &self.error {
                return Err(e.clone());
            }
            match self.step() {
                // The queue is empty here, so a step's own event is next in order.
                Ok(Step::Event(e)) => return Ok(Some(e)),
                Ok(Step::Progress) => {}
                Ok(Step::Stall) => return Ok(None),
                Err(e) => {
                    self.error = Some(e.clone());
                    return Err(e);
                }
            }
        }
    }

    /// Feeds `data` and returns an iterator over the events it completes.
    pub fn push<'a>(&'a mut self, data: &[u8]) -> Events<'a> {
        self.feed(data);
        Events {
            reader: self,
            failed: false,
        }
    }

    /// Says the input has ended: an error if the file is not complete.
    pub fn finish(&mut self) -> Result<(), RdbError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.is_done() {
            return Ok(());
        }
        let at = self.base + self.buf.len() as u64;
        let phase = match &self.state {
            State::Magic => Phase::Start,
            State::Trailer { .. } => Phase::Checksum,
            State::Module {
                aux_when: Some(_), ..
            } => Phase::ReadModuleAux,
            State::Value(_) | State::Module { .. } => Phase::ReadValue,
            State::Top | State::Done => self.stall_phase,
        };
        let mut e = self.error_at(ErrorKind::Truncated, at, phase);
        if e.key.is_none() {
            e.key = self.stall_key.clone();
        }
        self.error = Some(e.clone());
        Err(e)
    }

    /// True once the `EOF` opcode and checksum have been read and every event handed out.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done) && self.out.is_empty()
    }

    /// Stream offset of the next byte the reader has not consumed (after the end: the first
    /// byte after the RDB).
    pub fn offset(&self) -> u64 {
        self.base
    }

    /// Bytes fed but not consumed. Once [`is_done`](Reader::is_done), these are the bytes that
    /// followed the RDB in the stream (a replication link's command stream, an EOF mark).
    pub fn remaining(&self) -> &[u8] {
        &self.buf
    }

    /// How many bytes the input buffer holds allocated (for memory accounting and tests).
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The RDB version, once the header is read.
    pub fn version(&self) -> Option<u32> {
        (self.version != 0).then_some(self.version)
    }

    // -----------------------------------------------------------------------------------------
    // Plumbing
    // -----------------------------------------------------------------------------------------

    /// Runs `f` over the buffer: `Ok(None)` if the buffer ends inside the unit (nothing
    /// consumed), else the unit's size and value.
    fn parse<T>(
        &self,
        f: impl FnOnce(&mut Cur<'_>) -> Res<T>,
    ) -> Result<Option<(usize, T)>, (ErrorKind, u64)> {
        let mut c = Cur {
            d: &self.buf,
            p: 0,
            base: self.base,
        };
        match f(&mut c) {
            Ok(v) => Ok(Some((c.p, v))),
            Err(Stop::More) => Ok(None),
            Err(Stop::Bad(k, at)) => Err((k, at)),
        }
    }

    /// Consumes the unit's `n` bytes: they go through the CRC and come back as a shared chunk
    /// the unit's strings are sliced from (no copy).
    fn commit(&mut self, n: usize) -> Bytes {
        let chunk = self.buf.split_to(n).freeze();
        self.crc.update(&chunk);
        self.base += n as u64;
        // After a huge unit the buffer's tail still sits in that unit's allocation, and
        // BytesMut would keep reusing it: move the few remaining bytes to a buffer of their
        // own so memory goes back to the size of the input chunks.
        if self.buf.capacity() > SHRINK_ABOVE && self.buf.len() < self.buf.capacity() / 4 {
            self.buf = BytesMut::from(&self.buf[..]);
        }
        chunk
    }

    fn error_at(&self, kind: ErrorKind, offset: u64, phase: Phase) -> RdbError {
        RdbError {
            kind,
            offset,
            phase,
            key: self.key.as_ref().map(|k| k.key.clone()),
            rdb_type: self.key.as_ref().map(|k| k.rdb_type),
        }
    }

    fn value_error(&self, (kind, at): (ErrorKind, u64)) -> RdbError {
        self.error_at(kind, at, Phase::ReadValue)
    }

    fn emit(&mut self, e: Event) {
        self.out.push_back(e);
    }

    /// An element event, counted for the key's encoding.
    fn item(&mut self, item: Item, span: Span, packed: Option<PackedPos>) -> Event {
        if let Some(k) = self.key.as_mut() {
            k.account(&item);
        }
        Event::Item { item, span, packed }
    }

    fn emit_item(&mut self, item: Item, span: Span, packed: Option<PackedPos>) {
        let e = self.item(item, span, packed);
        self.out.push_back(e);
    }

    fn end_key(&mut self) {
        if let Some(k) = self.key.take() {
            let encoding = k.loaded_encoding();
            self.emit(Event::KeyEnd(KeyEnd {
                db: self.db,
                key: k.key,
                span: Span {
                    offset: k.start,
                    len: self.base - k.start,
                },
                items: k.items,
                encoding,
            }));
        }
        self.state = State::Top;
    }

    /// Makes one unit of progress: `Ok(true)` if something was consumed or produced.
    fn step(&mut self) -> Result<Step, RdbError> {
        let progressed = match std::mem::replace(&mut self.state, State::Done) {
            State::Magic => self.step_magic(),
            State::Top => self.step_top(),
            // Element steps hand their event back directly: no queue on the hot path.
            State::Value(Value::Counted { kind, remaining }) => {
                return self.step_counted(kind, remaining);
            }
            State::Value(Value::Packed { packed, then }) => return self.step_packed(packed, then),
            State::Value(v) => self.step_value(v),
            State::Module {
                aux_when,
                module,
                start,
            } => self.step_module(aux_when, module, start),
            State::Trailer { eof_at } => self.step_trailer(eof_at),
            State::Done => Ok(false),
        }?;
        Ok(if progressed {
            Step::Progress
        } else {
            Step::Stall
        })
    }

    // -----------------------------------------------------------------------------------------
    // The file's frame: signature, opcodes, trailer
    // -----------------------------------------------------------------------------------------

    fn step_magic(&mut self) -> Result<bool, RdbError> {
        self.state = State::Magic;
        let have = &self.buf[..self.buf.len().min(9)];
        // Reject a wrong signature as soon as it cannot match, not after 9 bytes: a tap fed the
        // wrong thing says so at once.
        let could_be = |sig: &[u8]| {
            let n = have.len().min(sig.len());
            have[..n] == sig[..n]
        };
        if !could_be(b"REDIS") && !could_be(b"VALKEY") {
            return Err(self.error_at(ErrorKind::BadMagic, self.base, Phase::Start));
        }
        if have.len() < 9 {
            self.stall_phase = Phase::Start;
            return Ok(false);
        }
        let (magic, digits) = if have.starts_with(b"REDIS") {
            (Magic::Redis, &have[5..9])
        } else {
            (Magic::Valkey, &have[6..9])
        };
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(self.error_at(ErrorKind::BadMagic, self.base, Phase::Start));
        }
        let version = digits
            .iter()
            .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        let known = match magic {
            Magic::Redis => (1..=MAX_REDIS_VERSION).contains(&version),
            Magic::Valkey => version == VALKEY_VERSION,
        };
        if !known {
            return Err(self.error_at(
                ErrorKind::UnsupportedVersion(version),
                self.base,
                Phase::Start,
            ));
        }
        let start = self.base;
        self.commit(9);
        self.version = version;
        self.magic = magic;
        self.state = State::Top;
        self.emit(Event::Header {
            magic,
            version,
            span: Span {
                offset: start,
                len: 9,
            },
        });
        Ok(true)
    }

    fn step_top(&mut self) -> Result<bool, RdbError> {
        self.state = State::Top;
        let start = self.base;
        let mut phase = Phase::ReadType;
        let mut key_str: Option<Str> = None;
        let mut value_at = 0u64;
        let parsed = self.parse(|c| {
            let op = c.u8()?;
            Ok(match op {
                OP_EOF => Unit::Eof,
                OP_SELECTDB => {
                    phase = Phase::ReadLen;
                    Unit::SelectDb(c.len()?)
                }
                OP_RESIZEDB => {
                    phase = Phase::ReadLen;
                    Unit::ResizeDb(c.len()?, c.len()?)
                }
                OP_SLOT_INFO => {
                    phase = Phase::ReadLen;
                    Unit::SlotInfo(c.len()?, c.len()?, c.len()?)
                }
                OP_AUX => {
                    phase = Phase::ReadAux;
                    Unit::Aux(c.string()?, c.string()?)
                }
                OP_EXPIRETIME => {
                    phase = Phase::ReadExpire;
                    Unit::Expire(i64::from(i32::from_le_bytes(c.arr()?)) * 1000)
                }
                OP_EXPIRETIME_MS => {
                    phase = Phase::ReadExpire;
                    Unit::Expire(i64::from_le_bytes(c.arr()?))
                }
                OP_FREQ => {
                    phase = Phase::ReadExpire;
                    Unit::Freq(c.u8()?)
                }
                OP_IDLE => {
                    phase = Phase::ReadExpire;
                    Unit::Idle(c.len()?)
                }
                OP_FUNCTION2 => {
                    phase = Phase::ReadFunctions;
                    Unit::Function(c.string()?)
                }
                OP_FUNCTION_PRE_GA => {
                    // 7.0-rc1/rc2: name, engine, [has-description, description], code.
                    phase = Phase::ReadFunctions;
                    let name = c.string()?;
                    let engine = c.string()?;
                    let desc = match c.len()? {
                        0 => None,
                        _ => Some(c.string()?),
                    };
                    Unit::FunctionPreGa(name, engine, desc, c.string()?)
                }
                OP_MODULE_AUX => {
                    phase = Phase::ReadModuleAux;
                    let id = c.len()?;
                    let when_at = c.at();
                    let when_op = c.len()?;
                    let when = c.len()?;
                    // `when` travels as a module UINT, opcode 2 (Redis checks it too).
                    if when_op != 2 {
                        return bad("module aux data has a bad 'when' opcode", when_at);
                    }
                    Unit::ModuleAux(id, when)
                }
                t => {
                    if value_type(t).is_none() {
                        return Err(Stop::Bad(ErrorKind::UnknownType(t), start));
                    }
                    if t == TYPE_MODULE_PRE_GA {
                        return Err(Stop::Bad(
                            ErrorKind::Unsupported("pre-release module value format"),
                            start,
                        ));
                    }
                    phase = Phase::ReadKey;
                    let key = c.string()?;
                    key_str = Some(key.clone());
                    phase = Phase::ReadValue;
                    value_at = c.at();
                    let head = match t {
                        TYPE_STRING => Head::String(c.string()?),
                        TYPE_HASH_METADATA => {
                            let at = c.at();
                            let min = c.u64_le()?;
                            if min > MAX_FIELD_EXPIRE + 1 {
                                return bad("hash field TTL minimum is out of range", at);
                            }
                            Head::Count(c.len()?, Some(min))
                        }
                        TYPE_HASH_LISTPACK_EX => {
                            // The smallest field TTL, kept for a future use; the listpack
                            // holds every TTL in full.
                            c.u64_le()?;
                            Head::Blob
                        }
                        TYPE_LIST
                        | TYPE_SET
                        | TYPE_ZSET
                        | TYPE_ZSET_2
                        | TYPE_HASH
                        | TYPE_HASH_METADATA_PRE_GA
                        | TYPE_LIST_QUICKLIST
                        | TYPE_LIST_QUICKLIST_2
                        | TYPE_STREAM_LISTPACKS
                        | TYPE_STREAM_LISTPACKS_2
                        | TYPE_STREAM_LISTPACKS_3 => Head::Count(c.len()?, None),
                        TYPE_MODULE_2 => Head::Module(c.len()?),
                        _ => Head::Blob,
                    };
                    Unit::Key { t, key, head }
                }
            })
        });
        let (n, unit) = match parsed {
            Ok(Some(x)) => x,
            Ok(None) => {
                self.stall_phase = phase;
                self.stall_key = key_str.and_then(|k| self.peek_key(&k));
                return Ok(false);
            }
            Err((kind, at)) => {
                let mut e = self.error_at(kind, at, phase);
                e.key = key_str.and_then(|k| self.peek_key(&k));
                return Err(e);
            }
        };
        self.stall_key = None;
        let chunk = self.commit(n);
        let span = Span {
            offset: start,
            len: n as u64,
        };
        let frame_err = |r: &Reader, (kind, at): (ErrorKind, u64)| r.error_at(kind, at, phase);
        match unit {
            Unit::Eof => {
                if self.version >= 5 {
                    self.state = State::Trailer { eof_at: start };
                } else {
                    self.state = State::Done;
                    self.emit(Event::Eof {
                        stored: None,
                        computed: self.crc.clone().finalize(),
                        span,
                    });
                }
            }
            Unit::SelectDb(db) => {
                self.db = db;
                self.emit(Event::SelectDb { db, span });
            }
            Unit::ResizeDb(db_size, expires_size) => self.emit(Event::ResizeDb {
                db_size,
                expires_size,
                span,
            }),
            Unit::SlotInfo(slot, slot_size, expires_slot_size) => self.emit(Event::SlotInfo {
                slot,
                slot_size,
                expires_slot_size,
                span,
            }),
            Unit::Aux(name, value) => {
                let name = materialize(&chunk, &name).map_err(|e| frame_err(self, e))?;
                let value = materialize(&chunk, &value).map_err(|e| frame_err(self, e))?;
                self.emit(Event::Aux { name, value, span });
            }
            Unit::Expire(ms) => {
                self.meta.start.get_or_insert(start);
                self.meta.expire_ms = Some(ms);
            }
            Unit::Freq(f) => {
                self.meta.start.get_or_insert(start);
                self.meta.lfu_freq = Some(f);
            }
            Unit::Idle(s) => {
                self.meta.start.get_or_insert(start);
                self.meta.lru_idle = Some(s);
            }
            Unit::Function(code) => {
                let code = materialize(&chunk, &code).map_err(|e| frame_err(self, e))?;
                self.emit(Event::Function { code, span });
            }
            Unit::FunctionPreGa(name, engine, desc, code) => {
                let m = |s: &Str| materialize(&chunk, s).map_err(|e| frame_err(self, e));
                let description = match &desc {
                    Some(d) => Some(m(d)?),
                    None => None,
                };
                let ev = Event::FunctionPreGa {
                    name: m(&name)?,
                    engine: m(&engine)?,
                    description,
                    code: m(&code)?,
                    span,
                };
                self.emit(ev);
            }
            Unit::ModuleAux(id, when) => {
                self.state = State::Module {
                    aux_when: Some(when),
                    module: ModuleType::from_id(id),
                    start,
                };
            }
            Unit::Key { t, key, head } => {
                let key = materialize(&chunk, &key).map_err(|e| {
                    let mut e = frame_err(self, e);
                    e.phase = Phase::ReadKey;
                    e
                })?;
                self.begin_key(t, key, head, &chunk, start, value_at)?;
            }
        }
        Ok(true)
    }

    /// The key of a unit that stopped early, for error messages (never decompresses).
    fn peek_key(&self, s: &Str) -> Option<Bytes> {
        match s {
            Str::Raw(r) => self.buf.get(r.clone()).map(Bytes::copy_from_slice),
            Str::Int(v) => Some(Bytes::from(v.to_string())),
            Str::Lzf { .. } => None,
        }
    }

    /// A key's type and name have been read (and the head of its value): announce it and set
    /// up the state that reads the rest.
    fn begin_key(
        &mut self,
        t: u8,
        key: Bytes,
        head: Head,
        chunk: &Bytes,
        unit_start: u64,
        value_at: u64,
    ) -> Result<(), RdbError> {
        let meta = std::mem::take(&mut self.meta);
        let start = meta.start.unwrap_or(unit_start);
        self.key = Some(KeyCtx {
            key: key.clone(),
            rdb_type: t,
            start,
            items: 0,
            max_len: 0,
            all_int: true,
            string_encoding: "raw",
        });
        let module = match &head {
            Head::Module(id) => Some(ModuleType::from_id(*id)),
            _ => None,
        };
        let mut ks = KeyStart {
            db: self.db,
            key,
            rdb_type: t,
            rdb_type_name: rdb_type_name(t).unwrap_or("unknown"),
            value_type: value_type(t).unwrap_or(ValueType::Module),
            encoding: saved_encoding(t),
            expire_ms: meta.expire_ms,
            lru_idle: meta.lru_idle,
            lfu_freq: meta.lfu_freq,
            module,
            span: Span {
                offset: start,
                len: self.base - start,
            },
        };
        match head {
            Head::String(v) => {
                let v = materialize(chunk, &v).map_err(|e| self.value_error(e))?;
                ks.encoding = string_encoding(&v);
                self.emit(Event::KeyStart(Box::new(ks)));
                let span = Span {
                    offset: value_at,
                    len: self.base - value_at,
                };
                self.emit_item(Item::String(v), span, None);
                self.end_key();
            }
            Head::Count(n, min) => {
                self.emit(Event::KeyStart(Box::new(ks)));
                let kind = match t {
                    TYPE_LIST => Counted::List,
                    TYPE_SET => Counted::Set,
                    TYPE_ZSET => Counted::ZSet { binary: false },
                    TYPE_ZSET_2 => Counted::ZSet { binary: true },
                    TYPE_HASH => Counted::Hash,
                    TYPE_HASH_METADATA_PRE_GA | TYPE_HASH_METADATA => Counted::HashTtl { min },
                    TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                        self.state = State::Value(Value::Quicklist {
                            v2: t == TYPE_LIST_QUICKLIST_2,
                            remaining: n,
                        });
                        return Ok(());
                    }
                    _ => {
                        let version = match t {
                            TYPE_STREAM_LISTPACKS => 1,
                            TYPE_STREAM_LISTPACKS_2 => 2,
                            _ => 3,
                        };
                        self.state = State::Value(Value::StreamNodes {
                            version,
                            remaining: n,
                        });
                        return Ok(());
                    }
                };
                self.state = State::Value(Value::Counted { kind, remaining: n });
            }
            Head::Blob => {
                self.emit(Event::KeyStart(Box::new(ks)));
                let (shape, kind) = match t {
                    TYPE_HASH_ZIPMAP => (Shape::Hash, ContainerKind::Zipmap),
                    TYPE_LIST_ZIPLIST => (Shape::List, ContainerKind::Ziplist),
                    TYPE_SET_INTSET => (Shape::Set, ContainerKind::Intset),
                    TYPE_ZSET_ZIPLIST => (Shape::ZSet, ContainerKind::Ziplist),
                    TYPE_HASH_ZIPLIST => (Shape::Hash, ContainerKind::Ziplist),
                    TYPE_HASH_LISTPACK => (Shape::Hash, ContainerKind::Listpack),
                    TYPE_ZSET_LISTPACK => (Shape::ZSet, ContainerKind::Listpack),
                    TYPE_SET_LISTPACK => (Shape::Set, ContainerKind::Listpack),
                    _ => (Shape::HashTtl, ContainerKind::Listpack),
                };
                self.state = State::Value(Value::Blob { shape, kind });
            }
            Head::Module(_) => {
                self.emit(Event::KeyStart(Box::new(ks)));
                let module = ModuleType::from_id(match &head {
                    Head::Module(id) => *id,
                    _ => 0,
                });
                self.state = State::Module {
                    aux_when: None,
                    module,
                    start: self.base,
                };
            }
        }
        Ok(())
    }

    fn step_trailer(&mut self, eof_at: u64) -> Result<bool, RdbError> {
        self.state = State::Trailer { eof_at };
        let at = self.base;
        let parsed = self
            .parse(|c| c.u64_le())
            .map_err(|(k, at)| self.error_at(k, at, Phase::Checksum))?;
        let Some((n, stored)) = parsed else {
            self.stall_phase = Phase::Checksum;
            return Ok(false);
        };
        let computed = self.crc.clone().finalize();
        self.commit(n);
        if self.verify_checksum && stored != 0 && stored != computed {
            return Err(self.error_at(
                ErrorKind::ChecksumMismatch { stored, computed },
                at,
                Phase::Checksum,
            ));
        }
        self.state = State::Done;
        self.emit(Event::Eof {
            stored: Some(stored),
            computed,
            span: Span {
                offset: eof_at,
                len: self.base - eof_at,
            },
        });
        Ok(true)
    }

    /// Module data is a self-describing sequence (`rdbLoadCheckModuleValue`): an opcode
    /// (a length-encoded number) then its operand, until opcode 0.
    fn step_module(
        &mut self,
        aux_when: Option<u64>,
        module: ModuleType,
        start: u64,
    ) -> Result<bool, RdbError> {
        let phase = if aux_when.is_some() {
            Phase::ReadModuleAux
        } else {
            Phase::ReadValue
        };
        let parsed = self.parse(|c| {
            let at = c.at();
            let op = c.len()?;
            match op {
                0 => return Ok(true),
                1 | 2 => {
                    c.len()?;
                }
                3 => {
                    c.arr::<4>()?;
                }
                4 => {
                    c.arr::<8>()?;
                }
                5 => {
                    c.string()?;
                }
                _ => return bad("unknown module data opcode", at),
            }
            Ok(false)
        });
        let (n, end) = match parsed {
            Ok(Some(x)) => x,
            Ok(None) => {
                self.state = State::Module {
                    aux_when,
                    module,
                    start,
                };
                self.stall_phase = phase;
                return Ok(false);
            }
            Err((k, at)) => return Err(self.error_at(k, at, phase)),
        };
        self.commit(n);
        if !end {
            self.state = State::Module {
                aux_when,
                module,
                start,
            };
            return Ok(true);
        }
        let span = Span {
            offset: start,
            len: self.base - start,
        };
        match aux_when {
            Some(when) => {
                self.state = State::Top;
                self.emit(Event::ModuleAux { module, when, span });
            }
            None => {
                self.emit_item(Item::ModuleValue, span, None);
                self.end_key();
            }
        }
        Ok(true)
    }

    // -----------------------------------------------------------------------------------------
    // Values
    // -----------------------------------------------------------------------------------------

    fn step_value(&mut self, v: Value) -> Result<bool, RdbError> {
        match v {
            Value::Blob { shape, kind } => self.step_blob(shape, kind),
            Value::Quicklist { v2, remaining } => self.step_quicklist(v2, remaining),
            Value::StreamNodes { version, remaining } => self.step_stream_nodes(version, remaining),
            other => self.step_stream_tail(other),
        }
    }

    /// Parks the value state and reports "need more".
    fn wait(&mut self, v: Value) -> Result<bool, RdbError> {
        self.state = State::Value(v);
        self.stall_phase = Phase::ReadValue;
        Ok(false)
    }

    fn step_counted(&mut self, kind: Counted, remaining: u64) -> Result<Step, RdbError> {
        if remaining == 0 {
            self.end_key();
            return Ok(Step::Progress);
        }
        let start = self.base;
        let parsed = self.parse(|c| {
            Ok(match kind {
                Counted::List | Counted::Set => (c.string()?, None, Extra::None),
                Counted::ZSet { binary } => {
                    let a = c.string()?;
                    let at = c.at();
                    let score = if binary {
                        f64::from_le_bytes(c.arr()?)
                    } else {
                        c.text_double()?
                    };
                    // Redis refuses NaN scores ("Zset with NAN score detected").
                    if score.is_nan() {
                        return bad("sorted set score is NaN", at);
                    }
                    (a, None, Extra::Score(score))
                }
                Counted::Hash => (c.string()?, Some(c.string()?), Extra::None),
                Counted::HashTtl { min } => {
                    // The TTL comes first here: [ttl][field][value]. Type 24 stores it
                    // relative to the key's smallest TTL, plus one (0 means "none").
                    let at = c.at();
                    let ttl = c.len()?;
                    let expire = match (ttl, min) {
                        (0, _) => None,
                        (t, None) => Some(t),
                        (t, Some(m)) => Some(t.checked_add(m).map(|x| x - 1).unwrap_or(u64::MAX)),
                    };
                    if expire.is_some_and(|e| e > MAX_FIELD_EXPIRE) {
                        return bad("hash field TTL is out of range", at);
                    }
                    let f = c.string()?;
                    (f, Some(c.string()?), Extra::Ttl(expire))
                }
            })
        });
        let (n, (a, b, extra)) = match parsed.map_err(|e| self.value_error(e))? {
            Some(x) => x,
            None => {
                self.wait(Value::Counted { kind, remaining })?;
                return Ok(Step::Stall);
            }
        };
        let chunk = self.commit(n);
        let a = materialize(&chunk, &a).map_err(|e| self.value_error(e))?;
        let b = match b {
            Some(b) => Some(materialize(&chunk, &b).map_err(|e| self.value_error(e))?),
            None => None,
        };
        let item = match (kind, b, extra) {
            (Counted::List, _, _) => Item::ListElement(a),
            (Counted::Set, _, _) => Item::SetMember(a),
            (_, None, Extra::Score(score)) => Item::ZSetMember { member: a, score },
            (_, Some(value), Extra::Ttl(expire_ms)) => Item::HashField {
                field: a,
                value,
                expire_ms,
            },
            (_, Some(value), _) => Item::HashField {
                field: a,
                value,
                expire_ms: None,
            },
            (_, None, _) => Item::ListElement(a),
        };
        let span = Span {
            offset: start,
            len: n as u64,
        };
        self.state = State::Value(Value::Counted {
            kind,
            remaining: remaining - 1,
        });
        Ok(Step::Event(self.item(item, span, None)))
    }

    /// Decodes a packed container's RDB string once its unit is committed.
    fn load_container(
        &self,
        chunk: &Bytes,
        s: &Str,
        unit_start: u64,
        span: Span,
    ) -> Result<RawContainer, RdbError> {
        let data_offset = match s {
            Str::Raw(r) => Some(unit_start + r.start as u64),
            _ => None,
        };
        let data = materialize(chunk, s).map_err(|e| self.value_error(e))?;
        Ok(RawContainer {
            data,
            span,
            data_offset,
            compressed: s.is_lzf(),
        })
    }

    fn emit_container(&mut self, kind: ContainerKind, c: &RawContainer, master: Option<StreamId>) {
        self.emit(Event::Container(Container {
            kind,
            span: c.span,
            size: c.data.len() as u64,
            compressed: c.compressed,
            data_offset: c.data_offset,
            stream_master_id: master,
        }));
    }

    fn container_error(&self, (what, pos): (&'static str, usize), p: &ContainerAt) -> RdbError {
        let at = match p.data_offset {
            Some(o) => o + pos as u64,
            None => p.span.offset,
        };
        self.error_at(ErrorKind::Corrupt(what), at, Phase::ReadValue)
    }

    fn step_blob(&mut self, shape: Shape, kind: ContainerKind) -> Result<bool, RdbError> {
        let start = self.base;
        let parsed = self
            .parse(|c| c.string())
            .map_err(|e| self.value_error(e))?;
        let Some((n, s)) = parsed else {
            return self.wait(Value::Blob { shape, kind });
        };
        let chunk = self.commit(n);
        let span = Span {
            offset: start,
            len: n as u64,
        };
        let raw = self.load_container(&chunk, &s, start, span)?;
        let at = ContainerAt {
            span,
            data_offset: raw.data_offset,
        };
        let data = raw.data.clone();
        let iter = match kind {
            ContainerKind::Listpack => Listpack::new(data.clone()).map(Iter::Lp),
            ContainerKind::Ziplist => Ziplist::new(data.clone()).map(Iter::Zl),
            ContainerKind::Intset => Intset::new(data.clone()).map(Iter::Is),
            _ => Zipmap::new(data.clone()).map(Iter::Zm),
        }
        .map_err(|e| self.container_error(e, &at))?;
        self.emit_container(kind, &raw, None);
        self.state = State::Value(Value::Packed {
            packed: Box::new(Packed {
                iter,
                data,
                shape,
                span,
                data_offset: raw.data_offset,
            }),
            then: Then::EndKey,
        });
        Ok(true)
    }

    fn step_quicklist(&mut self, v2: bool, remaining: u64) -> Result<bool, RdbError> {
        if remaining == 0 {
            self.end_key();
            return Ok(true);
        }
        let start = self.base;
        // v2 nodes say whether they are a listpack (2, "packed") or one bare element (1,
        // "plain", used for elements bigger than the packed threshold).
        let parsed = self
            .parse(|c| {
                let plain = if v2 {
                    let at = c.at();
                    match c.len()? {
                        1 => true,
                        2 => false,
                        _ => return bad("bad quicklist node container", at),
                    }
                } else {
                    false
                };
                let data_at = c.at();
                let s = c.string()?;
                Ok((plain, s, data_at))
            })
            .map_err(|e| self.value_error(e))?;
        let Some((n, (plain, s, data_at))) = parsed else {
            return self.wait(Value::Quicklist { v2, remaining });
        };
        let chunk = self.commit(n);
        let span = Span {
            offset: data_at,
            len: self.base - data_at,
        };
        let raw = self.load_container(&chunk, &s, start, span)?;
        if raw.data.is_empty() {
            return Err(self.error_at(
                ErrorKind::Corrupt("empty quicklist node"),
                data_at,
                Phase::ReadValue,
            ));
        }
        let kind = if plain {
            ContainerKind::Plain
        } else if v2 {
            ContainerKind::Listpack
        } else {
            ContainerKind::Ziplist
        };
        self.emit_container(kind, &raw, None);
        let next = remaining - 1;
        let (data, data_offset) = (raw.data, raw.data_offset);
        if plain {
            let item_span = match data_offset {
                Some(o) => Span {
                    offset: o,
                    len: data.len() as u64,
                },
                None => span,
            };
            self.emit_item(Item::ListElement(data), item_span, None);
            self.state = State::Value(Value::Quicklist {
                v2,
                remaining: next,
            });
            return Ok(true);
        }
        let at = ContainerAt { span, data_offset };
        let iter = if v2 {
            Listpack::new(data.clone()).map(Iter::Lp)
        } else {
            Ziplist::new(data.clone()).map(Iter::Zl)
        }
        .map_err(|e| self.container_error(e, &at))?;
        self.state = State::Value(Value::Packed {
            packed: Box::new(Packed {
                iter,
                data,
                shape: Shape::List,
                span,
                data_offset,
            }),
            then: Then::Quicklist {
                v2,
                remaining: next,
            },
        });
        Ok(true)
    }

    /// Hands out the next element of a decoded container.
    fn step_packed(&mut self, mut packed: Box<Packed>, then: Then) -> Result<Step, RdbError> {
        let at = ContainerAt {
            span: packed.span,
            data_offset: packed.data_offset,
        };
        match packed.next_item() {
            Ok(Some((item, pos))) => {
                let span = match packed.data_offset {
                    Some(o) => Span {
                        offset: o + u64::from(pos.pos),
                        len: u64::from(pos.len),
                    },
                    None => packed.span,
                };
                self.state = State::Value(Value::Packed { packed, then });
                Ok(Step::Event(self.item(item, span, Some(pos))))
            }
            Ok(None) => {
                match then {
                    Then::EndKey => self.end_key(),
                    Then::Quicklist { v2, remaining } => {
                        self.state = State::Value(Value::Quicklist { v2, remaining })
                    }
                    Then::StreamNodes { version, remaining } => {
                        self.state = State::Value(Value::StreamNodes { version, remaining })
                    }
                }
                Ok(Step::Progress)
            }
            Err(e) => Err(self.container_error(e, &at)),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Streams
    // -----------------------------------------------------------------------------------------

    /// A stream's entries live in a radix tree of listpacks; the RDB stores each node as its
    /// 16-byte master ID (big endian ms, seq) and the listpack.
    fn step_stream_nodes(&mut self, version: u8, remaining: u64) -> Result<bool, RdbError> {
        if remaining == 0 {
            self.state = State::Value(Value::StreamMeta { version });
            return Ok(true);
        }
        let start = self.base;
        let parsed = self
            .parse(|c| {
                let id_at = c.at();
                let id = c.string()?;
                let lp_at = c.at();
                let lp = c.string()?;
                Ok((id, id_at, lp, lp_at))
            })
            .map_err(|e| self.value_error(e))?;
        let Some((n, (id, id_at, lp, lp_at))) = parsed else {
            return self.wait(Value::StreamNodes { version, remaining });
        };
        let chunk = self.commit(n);
        let id = materialize(&chunk, &id).map_err(|e| self.value_error(e))?;
        let Ok(raw) = <[u8; 16]>::try_from(&id[..]) else {
            return Err(self.error_at(
                ErrorKind::Corrupt("stream node key is not the size of a stream ID"),
                id_at,
                Phase::ReadValue,
            ));
        };
        let master = StreamId::from_be_bytes(&raw);
        let span = Span {
            offset: lp_at,
            len: self.base - lp_at,
        };
        let lp = self.load_container(&chunk, &lp, start, span)?;
        let (data, data_offset) = (lp.data.clone(), lp.data_offset);
        let at = ContainerAt { span, data_offset };
        let node =
            StreamNode::new(data.clone(), master).map_err(|e| self.container_error(e, &at))?;
        self.emit_container(ContainerKind::Listpack, &lp, Some(master));
        self.state = State::Value(Value::Packed {
            packed: Box::new(Packed {
                iter: Iter::Stream(node),
                data,
                shape: Shape::List,
                span,
                data_offset,
            }),
            then: Then::StreamNodes {
                version,
                remaining: remaining - 1,
            },
        });
        Ok(true)
    }

    /// Everything after the nodes: metadata, groups, their PELs and consumers.
    fn step_stream_tail(&mut self, v: Value) -> Result<bool, RdbError> {
        let start = self.base;
        let parsed = self.parse(|c| {
            Ok(match &v {
                Value::StreamMeta { version } => {
                    let length = c.len()?;
                    let last_id = c.stream_id()?;
                    let (first_id, max_deleted_id, entries_added) = if *version >= 2 {
                        (Some(c.stream_id()?), Some(c.stream_id()?), Some(c.len()?))
                    } else {
                        (None, None, None)
                    };
                    let groups = c.len()?;
                    Tail::Meta(
                        Item::StreamMeta {
                            length,
                            last_id,
                            first_id,
                            max_deleted_id,
                            entries_added,
                        },
                        groups,
                    )
                }
                Value::StreamGroup { version, .. } => {
                    let name = c.string()?;
                    let last_id = c.stream_id()?;
                    // A long long saved as a length: -1 ("unknown") arrives as 2^64-1.
                    let entries_read = if *version >= 2 {
                        Some(c.len()? as i64)
                    } else {
                        None
                    };
                    let pel = c.len()?;
                    Tail::Group(name, last_id, entries_read, pel)
                }
                Value::StreamGroupPel { .. } => {
                    let id = StreamId::from_be_bytes(&c.arr()?);
                    let delivery_time_ms = c.u64_le()? as i64;
                    let delivery_count = c.len()?;
                    Tail::Item(Item::StreamPending {
                        id,
                        delivery_time_ms,
                        delivery_count,
                    })
                }
                Value::StreamConsumers { .. } => Tail::Count(c.len()?),
                Value::StreamConsumer { version, .. } => {
                    let name = c.string()?;
                    let seen = c.u64_le()? as i64;
                    let active = if *version >= 3 {
                        Some(c.u64_le()? as i64)
                    } else {
                        None
                    };
                    let pel = c.len()?;
                    Tail::Consumer(name, seen, active, pel)
                }
                _ => {
                    let id = StreamId::from_be_bytes(&c.arr()?);
                    Tail::Item(Item::StreamConsumerPending { id })
                }
            })
        });
        let (n, tail) = match parsed.map_err(|e| self.value_error(e))? {
            Some(x) => x,
            None => return self.wait(v),
        };
        let chunk = self.commit(n);
        let span = Span {
            offset: start,
            len: n as u64,
        };
        match (v, tail) {
            (Value::StreamMeta { version }, Tail::Meta(item, groups)) => {
                self.emit_item(item, span, None);
                self.stream_next_group(version, groups);
            }
            (Value::StreamGroup { version, groups }, Tail::Group(name, last_id, er, pel)) => {
                let name = materialize(&chunk, &name).map_err(|e| self.value_error(e))?;
                let item = Item::StreamGroup {
                    name,
                    last_id,
                    entries_read: er,
                };
                self.emit_item(item, span, None);
                self.stream_group_pel(version, groups, pel);
            }
            (
                Value::StreamGroupPel {
                    version,
                    groups,
                    pel,
                },
                Tail::Item(item),
            ) => {
                self.emit_item(item, span, None);
                self.stream_group_pel(version, groups, pel - 1);
            }
            (Value::StreamConsumers { version, groups }, Tail::Count(consumers)) => {
                self.stream_next_consumer(version, groups, consumers);
            }
            (
                Value::StreamConsumer {
                    version,
                    groups,
                    consumers,
                },
                Tail::Consumer(name, seen, active, pel),
            ) => {
                let name = materialize(&chunk, &name).map_err(|e| self.value_error(e))?;
                let item = Item::StreamConsumer {
                    name,
                    seen_time_ms: seen,
                    active_time_ms: active,
                };
                self.emit_item(item, span, None);
                self.stream_consumer_pel(version, groups, consumers, pel);
            }
            (
                Value::StreamConsumerPel {
                    version,
                    groups,
                    consumers,
                    pel,
                },
                Tail::Item(item),
            ) => {
                self.emit_item(item, span, None);
                self.stream_consumer_pel(version, groups, consumers, pel - 1);
            }
            // Each state parses exactly its own unit kind above.
            _ => self.end_key(),
        }
        Ok(true)
    }

    fn stream_next_group(&mut self, version: u8, groups: u64) {
        if groups == 0 {
            self.end_key();
        } else {
            self.state = State::Value(Value::StreamGroup { version, groups });
        }
    }

    fn stream_group_pel(&mut self, version: u8, groups: u64, pel: u64) {
        self.state = State::Value(if pel == 0 {
            Value::StreamConsumers { version, groups }
        } else {
            Value::StreamGroupPel {
                version,
                groups,
                pel,
            }
        });
    }

    fn stream_next_consumer(&mut self, version: u8, groups: u64, consumers: u64) {
        if consumers == 0 {
            self.stream_next_group(version, groups - 1);
        } else {
            self.state = State::Value(Value::StreamConsumer {
                version,
                groups,
                consumers,
            });
        }
    }

    fn stream_consumer_pel(&mut self, version: u8, groups: u64, consumers: u64, pel: u64) {
        if pel == 0 {
            self.stream_next_consumer(version, groups, consumers - 1);
        } else {
            self.state = State::Value(Value::StreamConsumerPel {
                version,
                groups,
                consumers,
                pel,
            });
        }
    }
}

/// Events completed by the bytes given to [`Reader::push`]; ends at "need more", at the end
/// of the file, or after yielding an error once.
pub struct Events<'a> {
    reader: &'a mut Reader,
    failed: bool,
}

impl Iterator for Events<'_> {
    type Item = Result<Event, RdbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let r = self.reader.next_event().transpose();
        self.failed = matches!(r, Some(Err(_)));
        r
    }
}

/// What one step did.
enum Step {
    /// Produced this event (and queued nothing).
    Event(Event),
    /// Consumed input or queued events.
    Progress,
    /// Needs more input (or the file is done).
    Stall,
}

/// One top-level unit.
enum Unit {
    Eof,
    SelectDb(u64),
    ResizeDb(u64, u64),
    SlotInfo(u64, u64, u64),
    Aux(Str, Str),
    Expire(i64),
    Freq(u8),
    Idle(u64),
    Function(Str),
    FunctionPreGa(Str, Str, Option<Str>, Str),
    ModuleAux(u64, u64),
    Key { t: u8, key: Str, head: Head },
}

/// What follows a key's name, read in the same unit.
enum Head {
    /// A string key's whole value.
    String(Str),
    /// An element/node count, and for type 24 the TTL base.
    Count(u64, Option<u64>),
    /// A packed container comes next.
    Blob,
    /// A module value: its type id.
    Module(u64),
}

enum Extra {
    None,
    Score(f64),
    Ttl(Option<u64>),
}

/// Units of a stream's tail.
enum Tail {
    Meta(Item, u64),
    Group(Str, StreamId, Option<i64>, u64),
    Item(Item),
    Count(u64),
    Consumer(Str, i64, Option<i64>, u64),
}

/// A packed container's bytes and where they were in the stream.
struct RawContainer {
    data: Bytes,
    span: Span,
    data_offset: Option<u64>,
    compressed: bool,
}

struct ContainerAt {
    span: Span,
    data_offset: Option<u64>,
}

fn materialize(chunk: &Bytes, s: &Str) -> Result<Bytes, (ErrorKind, u64)> {
    s.bytes(chunk).map_err(|e| match e {
        Stop::Bad(k, at) => (k, at),
        // Materialising never needs more bytes: the unit is complete.
        Stop::More => (ErrorKind::Truncated, 0),
    })
}
