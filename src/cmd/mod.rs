//! Commands: the behaviour layer.
//!
//! Every command family has one file (`string.rs`, `list.rs`, ...) and every command the same
//! shape, as in mini-redis: **parse** its arguments, **apply** to the keyspace, **reply**, and
//! **say what to propagate**. The flow around a command is Redis's `processCommand` + `call`:
//!
//! 1. look the name up in the table (no uppercase copy: the lookup folds case itself),
//! 2. check arity, authentication, MULTI queueing, the pub/sub context,
//! 3. run the handler with a [`Ctx`] (the engine, the calling client, the reply buffer),
//! 4. if the command is a write and changed something (`dirty` grew), propagate it — as
//!    typed, or in the rewritten form the handler asked for (`SET k v EX 10` becomes
//!    `SET k v PXAT <ms>`) — into the replication log, in the same critical section
//!    (DESIGN.md invariant 1: apply order = offset order).
//!
//! The [`Engine`] is everything a command can touch. It sits behind one lock; a connection
//! takes the lock once per batch of pipelined commands.

pub mod blocking;
pub mod client;
pub mod clock;
pub mod collection;
pub mod config;
pub mod connection;
pub mod dump;
pub mod engine;
pub mod hash;
pub mod info;
pub mod keys;
pub mod list;
pub mod pubsub;
pub mod replication;
pub mod server;
pub mod set;
pub mod snapshot;
pub mod stream;
pub mod string;
pub mod table;
pub mod tx;
pub mod zset;

pub use client::Client;

/// Every handler rtool has, by command name (`config|get` for a subcommand).
pub fn all_handlers() -> Vec<(&'static str, Handler)> {
    let families: &[&[(&str, Handler)]] = &[
        connection::HANDLERS,
        server::HANDLERS,
        config::HANDLERS,
        info::HANDLERS,
        keys::HANDLERS,
        dump::HANDLERS,
        string::HANDLERS,
        list::HANDLERS,
        hash::HANDLERS,
        set::HANDLERS,
        zset::HANDLERS,
        stream::HANDLERS,
        tx::HANDLERS,
        pubsub::HANDLERS,
        replication::HANDLERS,
        snapshot::HANDLERS,
    ];
    families.iter().flat_map(|f| f.iter().copied()).collect()
}
pub use engine::{Engine, Flow, execute};
pub use table::{CommandSpec, Handler};

use crate::keyspace::{Db, Value};
use crate::resp::Reply;
use bytes::Bytes;

/// Standard error texts (Redis's `shared.*err` objects), so every command says them the same.
pub mod errors {
    pub const WRONGTYPE: &str =
        "-WRONGTYPE Operation against a key holding the wrong kind of value";
    pub const SYNTAX: &str = "syntax error";
    pub const NOT_INTEGER: &str = "value is not an integer or out of range";
    pub const NOT_FLOAT: &str = "value is not a valid float";
    pub const OVERFLOW: &str = "increment or decrement would overflow";
    pub const NO_SUCH_KEY: &str = "no such key";
    pub const OUT_OF_RANGE: &str = "index out of range";
    pub const DB_INDEX: &str = "DB index is out of range";
}

/// What a handler has while it runs.
pub struct Ctx<'a> {
    pub engine: &'a mut Engine,
    pub client: &'a mut Client,
    pub out: &'a mut Reply,
    /// Set by a handler that wants to propagate something other than its own argv
    /// (`Some(vec![])` means "propagate nothing even though I changed data").
    pub rewrite: Option<Vec<Vec<Bytes>>>,
    /// Set by a blocking command that found nothing to pop: the keys to wait on and the
    /// absolute deadline in ms (None = forever).
    pub block: Option<(Vec<Bytes>, Option<i64>)>,
    /// With `block`: the command to re-run when a key is ready, if not the one typed (XREAD
    /// turns `$` into the stream's last ID at the time it blocked).
    pub block_argv: Option<Vec<Bytes>>,
    /// True when the command is re-run for a client that was blocked on a key that became
    /// ready; a blocking command must not block "again" with a new timeout then.
    pub unblocking: bool,
}

impl<'a> Ctx<'a> {
    /// The database the client has selected.
    pub fn db(&mut self) -> &mut Db {
        &mut self.engine.keyspace.dbs[self.client.db]
    }

    /// The cached "now" in milliseconds (Redis caches the time once per command so a
    /// command sees one consistent clock).
    pub fn now_ms(&self) -> i64 {
        self.engine.now_ms
    }

    /// Look a key up for reading, expiring it first if its time has passed (lazy expiry).
    /// Counts a keyspace hit or miss (INFO stats), like Redis's `lookupKeyRead`.
    pub fn lookup(&mut self, key: &[u8]) -> Option<&Value> {
        if self.expire_if_needed(key) {
            // On a replica the key is still there but must look absent.
            self.engine.stats.keyspace_misses += 1;
            return None;
        }
        let v = self.engine.keyspace.dbs[self.client.db].dict.get(key);
        if v.is_some() {
            self.engine.stats.keyspace_hits += 1;
        } else {
            self.engine.stats.keyspace_misses += 1;
        }
        v
    }

    /// Look a key up for writing (same expiry rule, no hit/miss counting).
    pub fn lookup_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        if self.expire_if_needed(key) {
            return None;
        }
        self.engine.keyspace.dbs[self.client.db].dict.get_mut(key)
    }

    /// Does the key exist (after lazy expiry)?
    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.lookup(key).is_some()
    }

    /// Redis's `expireIfNeeded`: delete a key whose time has passed and propagate a DEL.
    /// Returns whether the key was (or should be considered) expired.
    pub fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        let db = self.client.db;
        self.engine.expire_if_needed(db, key)
    }

    /// Count a change to the dataset (Redis's `server.dirty++`): what decides whether a write
    /// command is propagated, and what the save points count.
    pub fn dirty(&mut self, n: u64) {
        self.engine.dirty += n;
    }

    /// Propagate these commands instead of the one that ran.
    pub fn propagate_as(&mut self, cmds: Vec<Vec<Bytes>>) {
        self.rewrite = Some(cmds);
    }

    /// A key of this db changed: WATCH must see it (Redis's `signalModifiedKey`).
    pub fn touch(&mut self, key: &[u8]) {
        let db = self.client.db;
        self.engine.touch_key(db, key);
    }

    /// A list, sorted set or stream got new elements: clients blocked on it may be served
    /// (Redis's `signalKeyAsReady`).
    pub fn key_ready(&mut self, key: &[u8]) {
        let db = self.client.db;
        self.engine.signal_ready(db, key);
    }

    /// Reply `-WRONGTYPE`.
    pub fn wrongtype(&mut self) {
        self.out.err(errors::WRONGTYPE);
    }

    /// Store a new value under a key (dropping its TTL), and tell WATCH.
    pub fn set_value(&mut self, key: &[u8], v: Value) {
        self.stream_leaving(key);
        let k = Bytes::copy_from_slice(key);
        self.db().set(k, v);
        self.touch(key);
    }

    /// Store a new value under a key and keep its TTL if it had one.
    pub fn set_value_keep_ttl(&mut self, key: &[u8], v: Value) {
        self.stream_leaving(key);
        let k = Bytes::copy_from_slice(key);
        self.db().set_keep_ttl(k, v);
        self.touch(key);
    }

    /// After `n` elements were removed from the collection at `key`: Redis never keeps an
    /// empty collection, so an emptied key goes; otherwise WATCH is told it changed. Counts the
    /// change (nothing when `n` is 0).
    pub fn elements_removed(&mut self, key: &[u8], n: u64, now_empty: bool) {
        if n == 0 {
            return;
        }
        if now_empty {
            self.delete(key);
        } else {
            self.touch(key);
        }
        self.dirty(n);
    }

    /// Delete a key (and its TTL), telling WATCH. Returns whether it existed.
    pub fn delete(&mut self, key: &[u8]) -> bool {
        self.stream_leaving(key);
        let existed = self.db().remove(key).is_some();
        if existed {
            self.touch(key);
        }
        existed
    }

    /// A stream is about to be deleted or overwritten: clients blocked on it in XREADGROUP
    /// must hear about it (Redis signals the key as ready when a stream leaves it).
    fn stream_leaving(&mut self, key: &[u8]) {
        if !self.engine.blocking.is_empty()
            && matches!(self.db().dict.get(key), Some(Value::Stream(_)))
        {
            self.key_ready(key);
        }
    }
}

/// Parse an integer argument like Redis's `getLongLongFromObjectOrReply`.
pub fn arg_i64(out: &mut Reply, a: &[u8]) -> Option<i64> {
    match crate::resp::request::parse_i64(a) {
        Some(v) => Some(v),
        None => {
            out.err(errors::NOT_INTEGER);
            None
        }
    }
}

/// Parse a float argument like Redis's `getDoubleFromObject` (`strtod`, no NaN, no spaces).
pub fn parse_f64(a: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(a).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let v = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if !s
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                return None;
            }
            s.parse::<f64>().ok()?
        }
    };
    if v.is_nan() { None } else { Some(v) }
}

/// Case-insensitive comparison of an argument with an option name.
pub fn eq_ic(a: &[u8], name: &str) -> bool {
    a.eq_ignore_ascii_case(name.as_bytes())
}
