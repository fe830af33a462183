//! Sorted set values: `listpack` (pairs sorted by score then member) while small, `skiplist`
//! once `zset-max-listpack-entries` or `zset-max-listpack-value` is exceeded.

use bytes::Bytes;

#[derive(Clone, Debug)]
pub enum ZSetValue {
    /// OBJ_ENCODING_LISTPACK: (member, score) sorted by (score, member).
    Listpack(Vec<(Bytes, f64)>),
    /// OBJ_ENCODING_SKIPLIST
    Skiplist(Vec<(Bytes, f64)>),
}

impl ZSetValue {
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetValue::Listpack(_) => "listpack",
            ZSetValue::Skiplist(_) => "skiplist",
        }
    }
}
