//! The keyspace: 16 databases of typed values, each with its Redis 7.0 encoding, and expiry.
//!
//! Values keep the *encoding* Redis would use (`OBJECT ENCODING`): a small hash is a
//! `listpack` (here: a vector in insertion order, so HGETALL answers in Redis's order), a big
//! one a `hashtable` (here: a [`Dict`]). The encoding changes at the same thresholds as in
//! Redis (`hash-max-listpack-entries` ...), and like Redis never goes back. This is what lets
//! the RDB writer later write each value in the encoding Redis would, and what makes small
//! collections reply byte for byte like Redis.
//!
//! Expiry times live beside the values (`Db::expires`), as Redis keeps them, in absolute
//! milliseconds: lazy expiry happens at lookup time in the command layer (which must also
//! propagate a `DEL`), active expiry samples `expires` from the server cron.

pub mod dict;
pub mod digest;
pub mod hash;
pub mod list;
pub mod set;
pub mod siphash;
pub mod stream;
pub mod string;
pub mod zset;

use bytes::Bytes;
pub use dict::Dict;
pub use hash::HashValue;
pub use list::ListValue;
pub use set::SetValue;
pub use stream::StreamValue;
pub use string::StrValue;
pub use zset::ZSetValue;

/// How many databases there are unless `databases` says otherwise.
pub const DEFAULT_DATABASES: usize = 16;

/// A value of one of Redis's types.
#[derive(Clone, Debug)]
pub enum Value {
    Str(StrValue),
    List(ListValue),
    Hash(HashValue),
    Set(SetValue),
    ZSet(ZSetValue),
    Stream(Box<StreamValue>),
}

impl Value {
    /// The name `TYPE` replies.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name `OBJECT ENCODING` replies, as Redis 7.0 names it.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }
}

/// Encoding thresholds (the `*-max-*` config directives), passed to the value types when they
/// grow so they convert at the same moment Redis does.
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub list_max_listpack_size: i64,
    pub stream_node_max_entries: usize,
    pub stream_node_max_bytes: usize,
}

impl Default for Thresholds {
    /// Redis 7.0's compiled-in defaults (which the shipped `redis.conf` repeats).
    fn default() -> Self {
        Thresholds {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            stream_node_max_entries: 100,
            stream_node_max_bytes: 4096,
        }
    }
}

/// One database (`SELECT n`).
#[derive(Clone, Debug, Default)]
pub struct Db {
    /// key -> value
    pub dict: Dict<Value>,
    /// key -> absolute expiry time in Unix milliseconds, for keys that have one.
    pub expires: Dict<i64>,
    /// Where the active expire cycle resumes its scan of `expires`.
    pub expires_cursor: u64,
    /// Running average TTL of sampled keys (INFO keyspace `avg_ttl`).
    pub avg_ttl: i64,
}

impl Db {
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// The key's expiry time, if it has one.
    pub fn expire_of(&self, key: &[u8]) -> Option<i64> {
        self.expires.get(key).copied()
    }

    /// Has this key an expiry time in the past? (It may still be in the dict: lazy expiry.)
    pub fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        matches!(self.expires.get(key), Some(&t) if t <= now_ms)
    }

    /// Remove a key and its expiry. Returns the value if it was there.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let v = self.dict.remove(key).map(|(_, v)| v);
        if v.is_some() && !self.expires.is_empty() {
            self.expires.remove(key);
        }
        v
    }

    /// Store a value, dropping any expiry the key had (what SET does without KEEPTTL).
    pub fn set(&mut self, key: Bytes, value: Value) {
        if !self.expires.is_empty() {
            self.expires.remove(&key);
        }
        self.dict.insert(key, value);
    }

    /// Store a value and keep the key's expiry if it had one (overwriting commands that are
    /// not SET: e.g. a list becoming a new value keeps its TTL only through explicit paths).
    pub fn set_keep_ttl(&mut self, key: Bytes, value: Value) {
        self.dict.insert(key, value);
    }

    /// Give an existing key an expiry time.
    pub fn set_expire(&mut self, key: &[u8], when_ms: i64) {
        if let Some((k, _)) = self.dict.get_key_value(key) {
            let k = k.clone();
            self.expires.insert(k, when_ms);
        }
    }

    /// Remove the expiry; returns whether there was one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        self.expires.remove(key).is_some()
    }

    pub fn clear(&mut self) {
        self.dict.clear();
        self.expires.clear();
        self.expires_cursor = 0;
        self.avg_ttl = 0;
    }
}

/// All databases.
#[derive(Clone, Debug)]
pub struct Keyspace {
    pub dbs: Vec<Db>,
}

impl Keyspace {
    pub fn new(n: usize) -> Self {
        Keyspace {
            dbs: (0..n).map(|_| Db::default()).collect(),
        }
    }
}

#[cfg(test)]
mod size_tests {
    /// Every key's slot holds a whole `Value`, so the largest variant sets the cost of every
    /// string key: hash and set tables are boxed to keep it at a string's size (a million
    /// keys at 136 bytes each was 88 MB more than at 48, measured with
    /// `benches/aof-rewrite.sh`).
    #[test]
    fn a_value_is_no_bigger_than_a_string_needs() {
        let string = std::mem::size_of::<super::StrValue>();
        assert!(
            std::mem::size_of::<super::Value>() <= string + 8,
            "Value is {} bytes, StrValue {string}",
            std::mem::size_of::<super::Value>()
        );
    }
}
