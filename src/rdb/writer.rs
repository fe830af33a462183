//! The RDB writer: a keyspace out as the file Redis 7.0 would write for it (RDB version 10).
//!
//! ```text
//! REDIS0010                                   signature
//! FA redis-ver 7.0.15  FA redis-bits 64  FA ctime <s>  FA used-mem <n>
//! [FA repl-stream-db <db>  FA repl-id <40 hex>  FA repl-offset <n>]   only with replication info
//! FA aof-base 0|1
//! FE <db> FB <keys> <expires>                 per non-empty database
//! [FC <ms:8>] <type> <key> <value>            per key
//! FF <crc64:8>                                EOF, then the checksum (zeros: rdbchecksum no)
//! ```
//!
//! Each value goes out in the RDB type of its in-memory encoding, as `rdbSaveObjectType` picks
//! it: strings (0), lists as quicklist 2 (18) of listpack nodes, sets as intset (11) or plain
//! (2), hashes as listpack (16) or plain (4), sorted sets as listpack (17) or `ZSET_2` (5, binary
//! scores, highest first), streams as `STREAM_LISTPACKS_2` (19) with their groups.
//!
//! ## Streaming
//! [`Writer`] writes key by key into any `std::io::Write`: a background save hands it a file,
//! a full resync a socket. Bytes go out through a 64 KiB buffer and the CRC-64 is computed as
//! they pass, so the writer holds at most one buffer plus the packed blob being built (one
//! listpack node, one intset) — never a copy of the dataset or of a whole big value.
//!
//! ```
//! use rtool::keyspace::{Keyspace, Value, StrValue};
//! use rtool::rdb::writer::{self, Aux, WriteOptions};
//! let mut ks = Keyspace::new(16);
//! ks.dbs[0].set("k".into(), Value::Str(StrValue::new("v".into())));
//! let file = writer::write_keyspace(&ks, Vec::new(), &WriteOptions::default(), &Aux::now(0)).unwrap();
//! assert_eq!(&file[..9], b"REDIS0010");
//! let events = rtool::rdb::read_all(&file[..]).unwrap();
//! assert!(events.iter().any(|e| matches!(e, rtool::rdb::Event::KeyEnd(k) if k.key == "k")));
//! ```
//!
//! [`dump_payload`] is the same value serialization wrapped the way DUMP wraps it.

use super::encode::{self, ListpackBuilder, Sink, write_len, write_string};
use super::types::*;
use crate::keyspace::stream::{Node, StreamId};
use crate::keyspace::{
    Db, HashValue, Keyspace, ListValue, SetValue, StreamValue, Value, ZSetValue,
};
use crc::{CRC_64_REDIS, Crc, Digest, Table};
use std::io::{self, Write};

/// The RDB version Redis 7.0 writes and the only one it loads up to (`RDB_VERSION`).
pub const RDB_VERSION: u16 = 10;
/// The `redis-ver` aux field: the Redis release rtool behaves as.
pub const REDIS_VERSION: &str = "7.0.15";

/// CRC-64/Jones, Redis's `crc64` (the 16-table variant runs at about 2 GB/s).
static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// `QUICKLIST_NODE_CONTAINER_PLAIN` / `_PACKED`: how a quicklist 2 node is stored.
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;
/// An element this big gets a node of its own, stored bare (`packed_threshold`, 1 GB).
const PACKED_THRESHOLD: usize = 1 << 30;
/// quicklist's byte limits for `list-max-listpack-size` -1 ... -5 (`optimization_level`).
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// A node never grows past this under a count limit either (`SIZE_SAFETY_LIMIT`).
const SIZE_SAFETY_LIMIT: usize = 8192;
/// quicklist's allowance for an element's encoding overhead (`SIZE_ESTIMATE_OVERHEAD`).
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// quicklist clamps `fill` to this range (`FILL_MAX` and the last optimization level).
const FILL_MAX: i64 = 1 << 15;
/// quicklist does not compress a node smaller than this (`MIN_COMPRESS_BYTES`)...
const MIN_COMPRESS_BYTES: usize = 48;
/// ...nor keep a compressed form that saves less than this (`MIN_COMPRESS_IMPROVE`).
const MIN_COMPRESS_IMPROVE: usize = 8;
/// `rdbSaveLzfBlob`'s marker: `RDB_ENCVAL << 6 | RDB_ENC_LZF`.
const LZF_BLOB: u8 = 0xC3;

/// STREAM_ITEM_FLAG_DELETED / SAMEFIELDS: flags of a stream entry inside its listpack.
const STREAM_FLAG_DELETED: i64 = 1;
const STREAM_FLAG_SAMEFIELDS: i64 = 2;

/// The configuration that changes the bytes written.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// `rdbcompression`: LZF-compress strings longer than 20 bytes when it saves 4 bytes.
    pub compression: bool,
    /// `rdbchecksum`: end with the CRC-64, else 8 zero bytes.
    pub checksum: bool,
    /// `list-max-listpack-size`: how big a quicklist node grows before the next one starts.
    pub list_max_listpack_size: i64,
    /// `list-compress-depth`: quicklist nodes this far from both ends are kept LZF-compressed
    /// in memory, and Redis writes them in that form whatever `rdbcompression` says.
    pub list_compress_depth: i64,
    /// `rdb-key-save-delay` (a hidden directive Redis's own tests use): microseconds to sleep
    /// after each key, so a snapshot takes long enough to watch what happens meanwhile
    /// (writes buffered for a syncing replica, a second replica sharing the snapshot).
    pub key_save_delay_us: i64,
}

impl Default for WriteOptions {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        WriteOptions {
            compression: true,
            checksum: true,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            key_save_delay_us: 0,
        }
    }
}

impl WriteOptions {
    /// The options as a server's configuration has them.
    pub fn from_config(config: &crate::config::Config) -> WriteOptions {
        WriteOptions {
            compression: config.get_bool("rdbcompression"),
            checksum: config.get_bool("rdbchecksum"),
            list_max_listpack_size: config.get_i64("list-max-listpack-size"),
            list_compress_depth: config.get_i64("list-compress-depth"),
            key_save_delay_us: config.get_i64("rdb-key-save-delay"),
        }
    }
}

/// Redis's `debugDelay`, after each key saved (`rdb-key-save-delay`) or loaded
/// (`key-load-delay`), for tests that need a slow snapshot: a positive value sleeps that many
/// microseconds, a negative -N sleeps 1 µs once in N keys on average.
pub fn debug_delay(usec: i64) {
    let usec = if usec < 0 {
        u64::from(rand::random_range(0..usec.unsigned_abs()) == 0)
    } else {
        usec as u64
    };
    if usec > 0 {
        std::thread::sleep(std::time::Duration::from_micros(usec));
    }
}

/// Replication state recorded in a snapshot (`rdbSaveInfo`): Redis writes it when the server
/// takes part in replication (a master with a backlog, a replica), so that a restarted server
/// can continue with a partial resync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplAux {
    /// `repl-stream-db`: the db the replication stream last selected.
    pub stream_db: i64,
    /// `repl-id`: the 40-hex-digit replication ID.
    pub id: String,
    /// `repl-offset`: the master offset the snapshot corresponds to.
    pub offset: i64,
}

/// The aux fields at the top of the file, in the order Redis writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aux {
    /// `redis-ver`.
    pub redis_ver: String,
    /// `ctime`: unix seconds of the save.
    pub ctime: i64,
    /// `used-mem`: the server's memory use in bytes (informational).
    pub used_mem: u64,
    /// `repl-stream-db`, `repl-id`, `repl-offset`.
    pub repl: Option<ReplAux>,
    /// `aof-base`: 1 when this RDB is the preamble of an AOF base file.
    pub aof_base: bool,
}

impl Aux {
    /// The fields of a plain save now: this version, the current time, no replication info.
    pub fn now(used_mem: u64) -> Aux {
        let ctime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Aux {
            redis_ver: REDIS_VERSION.to_string(),
            ctime,
            used_mem,
            repl: None,
            aof_base: false,
        }
    }
}

/// What Redis writes before a key besides its value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyMeta {
    /// Absolute expiry in unix ms (`EXPIRETIME_MS`).
    pub expire_ms: Option<i64>,
    /// Seconds since last access (`IDLE`, written under an LRU `maxmemory-policy`).
    pub lru_idle: Option<u64>,
    /// The LFU counter (`FREQ`, under an LFU policy).
    pub lfu_freq: Option<u8>,
}

impl KeyMeta {
    pub fn expiring(expire_ms: Option<i64>) -> KeyMeta {
        KeyMeta {
            expire_ms,
            ..KeyMeta::default()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The output: buffer, checksum, error
// ---------------------------------------------------------------------------------------------

/// Bytes are gathered up to this size before one `write_all` (a socket or file wants big
/// writes); anything at least this big is written straight through.
const FLUSH_AT: usize = 64 * 1024;

/// The writer's sink: a buffer in front of the real output, the running CRC, and the first
/// I/O error (encoders cannot fail; the writer checks for an error after every key).
struct Out<W: Write> {
    w: W,
    buf: Vec<u8>,
    crc: Digest<'static, u64, Table<16>>,
    written: u64,
    err: Option<io::Error>,
}

impl<W: Write> Out<W> {
    fn send(&mut self, bytes: &[u8]) {
        if self.err.is_some() || bytes.is_empty() {
            return;
        }
        self.crc.update(bytes);
        match self.w.write_all(bytes) {
            Ok(()) => self.written += bytes.len() as u64,
            Err(e) => self.err = Some(e),
        }
    }

    fn flush_buf(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.send(&buf);
        self.buf = buf;
        self.buf.clear();
    }

    fn check(&mut self) -> io::Result<()> {
        match self.err.take() {
            Some(e) => {
                // Keep failing: a half-written RDB must not be finished as if it were whole.
                self.err = Some(io::Error::new(e.kind(), e.to_string()));
                Err(e)
            }
            None => Ok(()),
        }
    }
}

impl<W: Write> Sink for Out<W> {
    fn put(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > FLUSH_AT {
            self.flush_buf();
            if bytes.len() >= FLUSH_AT {
                self.send(bytes);
                return;
            }
        }
        self.buf.extend_from_slice(bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// The writer
// ---------------------------------------------------------------------------------------------

/// Writes an RDB file piece by piece: [`header`](Writer::header), then for each non-empty
/// database [`select_db`](Writer::select_db) and its keys ([`key`](Writer::key)), then
/// [`finish`](Writer::finish). [`write_keyspace`] does all of it for a whole keyspace.
pub struct Writer<W: Write> {
    out: Out<W>,
    opts: WriteOptions,
}

impl<W: Write> Writer<W> {
    pub fn new(w: W, opts: WriteOptions) -> Writer<W> {
        Writer {
            out: Out {
                w,
                buf: Vec::with_capacity(FLUSH_AT),
                crc: CRC64.digest(),
                written: 0,
                err: None,
            },
            opts,
        }
    }

    /// Bytes produced so far (buffered ones included).
    pub fn bytes_written(&self) -> u64 {
        self.out.written + self.out.buf.len() as u64
    }

    /// The signature and the aux fields (`rdbSaveInfoAuxFields`).
    pub fn header(&mut self, aux: &Aux) -> io::Result<()> {
        self.out.put(format!("REDIS{RDB_VERSION:04}").as_bytes());
        self.aux(b"redis-ver", aux.redis_ver.as_bytes())?;
        self.aux(b"redis-bits", b"64")?;
        self.aux(b"ctime", aux.ctime.to_string().as_bytes())?;
        self.aux(b"used-mem", aux.used_mem.to_string().as_bytes())?;
        if let Some(r) = &aux.repl {
            self.aux(b"repl-stream-db", r.stream_db.to_string().as_bytes())?;
            self.aux(b"repl-id", r.id.as_bytes())?;
            self.aux(b"repl-offset", r.offset.to_string().as_bytes())?;
        }
        self.aux(b"aof-base", if aux.aof_base { b"1" } else { b"0" })
    }

    /// One `AUX` field. Values are strings; numbers are written as their decimal text, which
    /// the string encoder then stores as an integer when it fits 32 bits, as Redis does.
    pub fn aux(&mut self, name: &[u8], value: &[u8]) -> io::Result<()> {
        self.out.put(&[OP_AUX]);
        write_string(&mut self.out, name, self.opts.compression);
        write_string(&mut self.out, value, self.opts.compression);
        self.out.check()
    }

    /// A function library (`FUNCTION2`), written after the aux fields like Redis does.
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.out.put(&[OP_FUNCTION2]);
        write_string(&mut self.out, code, self.opts.compression);
        self.out.check()
    }

    /// `SELECTDB` and `RESIZEDB`: the keys that follow belong to `db`, which holds `db_size`
    /// keys of which `expires_size` have a TTL.
    pub fn select_db(&mut self, db: u64, db_size: u64, expires_size: u64) -> io::Result<()> {
        self.out.put(&[OP_SELECTDB]);
        write_len(&mut self.out, db);
        self.out.put(&[OP_RESIZEDB]);
        write_len(&mut self.out, db_size);
        write_len(&mut self.out, expires_size);
        self.out.check()
    }

    /// One key (`rdbSaveKeyValuePair`): expiry, LRU/LFU hints, type, name, value.
    pub fn key(&mut self, key: &[u8], value: &Value, meta: KeyMeta) -> io::Result<()> {
        if let Some(ms) = meta.expire_ms {
            self.out.put(&[OP_EXPIRETIME_MS]);
            self.out.put(&ms.to_le_bytes());
        }
        if let Some(idle) = meta.lru_idle {
            self.out.put(&[OP_IDLE]);
            write_len(&mut self.out, idle);
        }
        if let Some(freq) = meta.lfu_freq {
            self.out.put(&[OP_FREQ, freq]);
        }
        self.out.put(&[rdb_type(value)]);
        write_string(&mut self.out, key, self.opts.compression);
        write_value(&mut self.out, value, &self.opts);
        if self.opts.key_save_delay_us != 0 {
            debug_delay(self.opts.key_save_delay_us);
        }
        self.out.check()
    }

    /// A whole database: `SELECTDB`/`RESIZEDB` and every key with its expiry. An empty
    /// database writes nothing, as in Redis.
    pub fn db(&mut self, index: usize, db: &Db) -> io::Result<()> {
        if db.is_empty() {
            return Ok(());
        }
        self.select_db(index as u64, db.len() as u64, db.expires.len() as u64)?;
        for (k, v) in db.dict.iter() {
            self.key(k, v, KeyMeta::expiring(db.expire_of(k)))?;
        }
        Ok(())
    }

    /// `EOF` and the checksum; flushes and hands the output back.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.put(&[OP_EOF]);
        self.out.flush_buf();
        self.out.check()?;
        let crc = if self.opts.checksum {
            self.out.crc.clone().finalize()
        } else {
            0
        };
        self.out.send(&crc.to_le_bytes());
        self.out.check()?;
        self.out.w.flush()?;
        Ok(self.out.w)
    }
}

/// Writes a whole keyspace: header, every non-empty database, EOF and checksum.
pub fn write_keyspace<W: Write>(
    ks: &Keyspace,
    w: W,
    opts: &WriteOptions,
    aux: &Aux,
) -> io::Result<W> {
    let mut wr = Writer::new(w, opts.clone());
    wr.header(aux)?;
    for (i, db) in ks.dbs.iter().enumerate() {
        wr.db(i, db)?;
    }
    wr.finish()
}

/// The DUMP payload of a value (`createDumpPayload`): type byte, value, RDB version (2 bytes
/// LE) and the CRC-64 (8 bytes LE) of everything before it. RESTORE takes it back.
pub fn dump_payload(value: &Value, opts: &WriteOptions) -> Vec<u8> {
    let mut p = vec![rdb_type(value)];
    write_value(&mut p, value, opts);
    p.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// The RDB type byte a value is written with (`rdbSaveObjectType`).
pub fn rdb_type(value: &Value) -> u8 {
    match value {
        Value::Str(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST_QUICKLIST_2,
        Value::Set(SetValue::Intset(_)) => TYPE_SET_INTSET,
        Value::Set(SetValue::Table(_)) => TYPE_SET,
        Value::ZSet(ZSetValue::Listpack(_)) => TYPE_ZSET_LISTPACK,
        Value::ZSet(ZSetValue::Skiplist(_)) => TYPE_ZSET_2,
        Value::Hash(HashValue::Listpack(_)) => TYPE_HASH_LISTPACK,
        Value::Hash(HashValue::Table(_)) => TYPE_HASH,
        Value::Stream(_) => TYPE_STREAM_LISTPACKS_2,
    }
}

/// A value's serialization without its type byte (`rdbSaveObject`).
pub fn write_value<S: Sink + ?Sized>(out: &mut S, value: &Value, opts: &WriteOptions) {
    let z = opts.compression;
    match value {
        Value::Str(s) => write_string(out, &s.bytes, z),
        Value::List(l) => write_list(out, l, opts),
        Value::Set(SetValue::Intset(is)) => {
            write_string(out, &encode::intset_blob(is, is.width()), z);
        }
        Value::Set(SetValue::Table(t)) => {
            write_len(out, t.len() as u64);
            for m in t.keys() {
                write_string(out, m, z);
            }
        }
        Value::ZSet(ZSetValue::Listpack(v)) => {
            let mut lp = ListpackBuilder::new();
            for (m, score) in v {
                lp.push_str(m);
                push_score(&mut lp, *score);
            }
            write_string(out, &lp.finish(), z);
        }
        Value::ZSet(zs @ ZSetValue::Skiplist(_)) => {
            let n = zs.len();
            write_len(out, n as u64);
            // From the highest element down, like Redis walking its skiplist from the tail:
            // the loader then always inserts at the head.
            if n > 0 {
                for (m, score) in zs.iter_from(n - 1, true) {
                    write_string(out, m, z);
                    out.put(&score.to_le_bytes());
                }
            }
        }
        Value::Hash(HashValue::Listpack(v)) => {
            let mut lp = ListpackBuilder::new();
            for (f, val) in v {
                lp.push_str(f);
                lp.push_str(val);
            }
            write_string(out, &lp.finish(), z);
        }
        Value::Hash(HashValue::Table(t)) => {
            write_len(out, t.len() as u64);
            for (f, val) in t.iter() {
                write_string(out, f, z);
                write_string(out, val, z);
            }
        }
        Value::Stream(s) => write_stream(out, s, z),
    }
}

/// A sorted-set score inside a listpack (`zzlInsertAt`): whole numbers within ±2^62 as
/// integers, anything else as `%.17g` text (`inf`, `1.5`, `1e+300`).
fn push_score(lp: &mut ListpackBuilder, score: f64) {
    match encode::double2ll(score) {
        Some(v) => lp.push_int(v),
        None => lp.push_str(crate::keyspace::zset::d2string(score).as_bytes()),
    }
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

/// Decides where quicklist nodes end, replaying how `RPUSH` of the elements one by one fills
/// them (`_quicklistNodeAllowInsert`). Redis's real node boundaries depend on the list's
/// history (LPUSH fills from the head, deletions merge nodes); the file only needs valid
/// nodes within the limit, and an RPUSH-built list comes out exactly as Redis cuts it.
struct NodeSplitter {
    fill: i64,
    /// Size of the current node's listpack (0: no current node, or a plain one).
    sz: usize,
    count: usize,
}

/// Where an element goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Into the current packed node.
    Append,
    /// Into a new packed node.
    NewNode,
    /// Into a plain node of its own.
    Plain,
}

impl NodeSplitter {
    fn new(list_max_listpack_size: i64) -> NodeSplitter {
        NodeSplitter {
            fill: list_max_listpack_size.clamp(-(OPTIMIZATION_LEVEL.len() as i64), FILL_MAX),
            sz: 0,
            count: 0,
        }
    }

    fn allow_insert(&self, elem_len: usize) -> bool {
        if self.sz == 0 {
            return false;
        }
        let new_sz = self.sz + elem_len + SIZE_ESTIMATE_OVERHEAD;
        if self.fill < 0 {
            // A size limit: -1 is 4 KB ... -5 is 64 KB.
            new_sz <= OPTIMIZATION_LEVEL[(-self.fill - 1) as usize]
        } else {
            new_sz <= SIZE_SAFETY_LIMIT && (self.count as i64) < self.fill
        }
    }

    fn place(&mut self, elem: &[u8]) -> Place {
        if elem.len() >= PACKED_THRESHOLD {
            self.sz = 0;
            self.count = 0;
            return Place::Plain;
        }
        let add = encode::lp_entry_len(elem);
        if self.allow_insert(elem.len()) {
            self.sz += add;
            self.count += 1;
            Place::Append
        } else {
            self.sz = encode::LP_EMPTY_BYTES + add;
            self.count = 1;
            Place::NewNode
        }
    }
}

/// A list as quicklist 2: the node count, then per node its container kind and blob. The
/// count comes first, so one pass over the sizes finds the boundaries before the nodes are
/// built (the list is walked twice, never copied).
fn write_list<S: Sink + ?Sized>(out: &mut S, l: &ListValue, opts: &WriteOptions) {
    let mut split = NodeSplitter::new(opts.list_max_listpack_size);
    let nodes = l.iter().filter(|e| split.place(e) != Place::Append).count();
    write_len(out, nodes as u64);

    // With `list-compress-depth d`, a list built by pushes has every node from the d-th to
    // the d-th from the end compressed in memory (each is compressed as it moves past the
    // depth), and `rdbSaveObject` writes those in their LZF form.
    let depth = usize::try_from(opts.list_compress_depth).unwrap_or(0);
    let compressed = |i: usize| depth > 0 && i >= depth && i + depth < nodes;

    let mut split = NodeSplitter::new(opts.list_max_listpack_size);
    let mut lp: Option<ListpackBuilder> = None;
    let mut index = 0;
    let flush = |out: &mut S, lp: &mut Option<ListpackBuilder>, index: &mut usize| {
        if let Some(b) = lp.take() {
            write_len(out, CONTAINER_PACKED);
            write_node(out, &b.finish(), compressed(*index), opts.compression);
            *index += 1;
        }
    };
    for e in l.iter() {
        match split.place(e) {
            Place::Append => {
                if let Some(b) = lp.as_mut() {
                    b.push_str(e);
                }
            }
            Place::NewNode => {
                flush(out, &mut lp, &mut index);
                let mut b = ListpackBuilder::new();
                b.push_str(e);
                lp = Some(b);
            }
            Place::Plain => {
                flush(out, &mut lp, &mut index);
                write_len(out, CONTAINER_PLAIN);
                write_node(out, e, compressed(index), opts.compression);
                index += 1;
            }
        }
    }
    flush(out, &mut lp, &mut index);
}

/// One quicklist node's data: in the LZF form quicklist keeps it in (`__quicklistCompressNode`:
/// at least 48 bytes, compressed into no more room than the node, saving more than 8 bytes),
/// else as any other string.
fn write_node<S: Sink + ?Sized>(out: &mut S, data: &[u8], compressed: bool, z: bool) {
    if compressed && data.len() >= MIN_COMPRESS_BYTES {
        let mut lzf = Vec::new();
        if let Some(n) = encode::lzf_compress(data, data.len(), &mut lzf)
            && n + MIN_COMPRESS_IMPROVE < data.len()
        {
            out.put(&[LZF_BLOB]);
            write_len(out, n as u64);
            write_len(out, data.len() as u64);
            out.put(&lzf[..n]);
            return;
        }
    }
    write_string(out, data, z);
}

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

/// A stream node's listpack, as `streamAppendItem` builds it: the master entry (live count,
/// deleted count, the master field names, a 0 terminator), then per entry its flags, ID
/// deltas from the master ID, fields (only values when they are the master's), and the
/// entry's element count so it can be walked backwards.
fn stream_node_listpack(master: &StreamId, node: &Node) -> Vec<u8> {
    let mut lp = ListpackBuilder::new();
    lp.push_int(node.live as i64);
    lp.push_int(node.deleted as i64);
    lp.push_int(node.master_fields.len() as i64);
    for f in &node.master_fields {
        lp.push_str(f);
    }
    lp.push_int(0);
    for e in &node.entries {
        let mut flags = 0;
        if e.deleted {
            flags |= STREAM_FLAG_DELETED;
        }
        if e.same_fields {
            flags |= STREAM_FLAG_SAMEFIELDS;
        }
        lp.push_int(flags);
        // The deltas are unsigned differences stored as signed 64-bit integers.
        lp.push_int(e.id.ms.wrapping_sub(master.ms) as i64);
        lp.push_int(e.id.seq.wrapping_sub(master.seq) as i64);
        let pairs = (e.fields.len() / 2) as i64;
        if e.same_fields {
            for v in e.fields.iter().skip(1).step_by(2) {
                lp.push_str(v);
            }
            lp.push_int(pairs + 3);
        } else {
            lp.push_int(pairs);
            for x in &e.fields {
                lp.push_str(x);
            }
            lp.push_int(2 * pairs + 4);
        }
    }
    lp.finish()
}

fn write_stream_id<S: Sink + ?Sized>(out: &mut S, id: &StreamId) {
    write_len(out, id.ms);
    write_len(out, id.seq);
}

/// `STREAM_LISTPACKS_2`: the nodes (16-byte big-endian master ID, listpack), the stream's
/// counters, then each consumer group with its pending entries and consumers.
fn write_stream<S: Sink + ?Sized>(out: &mut S, s: &StreamValue, z: bool) {
    write_len(out, s.radix_tree_keys() as u64);
    for (master, node) in s.listpacks() {
        write_string(out, &master.encode(), z);
        write_string(out, &stream_node_listpack(master, node), z);
    }
    write_len(out, s.length);
    write_stream_id(out, &s.last_id);
    write_stream_id(out, &s.first_id);
    write_stream_id(out, &s.max_deleted_entry_id);
    write_len(out, s.entries_added);
    write_len(out, s.groups.len() as u64);
    // Groups, PEL entries and consumers all live in radix trees in Redis, so they come out in
    // byte order of their keys: the BTreeMaps here iterate in the same order.
    for (name, g) in &s.groups {
        write_string(out, name, z);
        write_stream_id(out, &g.last_id);
        // A long long written as a length: -1 ("unknown") becomes 2^64-1.
        write_len(out, g.entries_read as u64);
        write_len(out, g.pel.len() as u64);
        for (id, nack) in &g.pel {
            out.put(&id.encode());
            out.put(&nack.delivery_time.to_le_bytes());
            write_len(out, nack.delivery_count);
        }
        write_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            write_string(out, cname, z);
            out.put(&c.seen_time.to_le_bytes());
            write_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.put(&id.encode());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::StrValue;
    use bytes::Bytes;

    fn list_of(items: &[&[u8]]) -> Value {
        let mut l = ListValue::default();
        for i in items {
            l.push_slice(crate::keyspace::list::End::Tail, i);
        }
        Value::List(l)
    }

    #[test]
    fn dump_of_a_small_list_is_redis_bytes() {
        // Redis 7.0.15: RPUSH l a b 1 2 300; DUMP l.
        let v = list_of(&[b"a", b"b", b"1", b"2", b"300"]);
        let p = dump_payload(&v, &WriteOptions::default());
        let redis: &[u8] = b"\x12\x01\x02\x14\x14\x00\x00\x00\x05\x00\x81a\x02\x81b\x02\x01\x01\x02\x01\xc1\x2c\x02\xff\x0a\x00\x84\x21\xc7\x9f\xc0\xb8\x21\xfa";
        assert_eq!(p, redis);
    }

    #[test]
    fn dump_of_a_compressed_string_is_redis_bytes() {
        let v = Value::Str(StrValue::new(Bytes::from(vec![b'a'; 100])));
        let p = dump_payload(&v, &WriteOptions::default());
        let redis: &[u8] =
            b"\x00\xc3\x09\x40\x64\x01aa\xe0\x57\x00\x01aa\x0a\x00\xe8\xa3\xb5\x07\xb0\x6d\xf2\x71";
        assert_eq!(p, redis);
    }

    #[test]
    fn big_lists_split_into_valid_nodes() {
        let items: Vec<Vec<u8>> = (0..5000)
            .map(|i| format!("element-{i}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = items.iter().map(|v| &v[..]).collect();
        let v = list_of(&refs);
        for fill in [-5, -2, -1, 1, 7, 128] {
            let opts = WriteOptions {
                list_max_listpack_size: fill,
                compression: false,
                ..WriteOptions::default()
            };
            let mut ks = Keyspace::new(1);
            ks.dbs[0].set(Bytes::from("l"), v.clone());
            let file = write_keyspace(&ks, Vec::new(), &opts, &Aux::now(0)).unwrap();
            let events = crate::rdb::read_all(&file[..]).unwrap();
            let mut n = 0;
            let mut nodes = 0;
            for e in &events {
                match e {
                    crate::rdb::Event::Container(c) => {
                        nodes += 1;
                        if fill < 0 {
                            assert!(c.size as usize <= OPTIMIZATION_LEVEL[(-fill - 1) as usize]);
                        }
                    }
                    crate::rdb::Event::Item { .. } => n += 1,
                    _ => {}
                }
            }
            assert_eq!(n, 5000);
            if fill > 0 {
                assert_eq!(nodes, 5000usize.div_ceil(fill as usize));
            }
        }
    }
}
