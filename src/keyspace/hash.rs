//! Hash values: `listpack` while small (insertion order kept), `hashtable` once
//! `hash-max-listpack-entries` or `hash-max-listpack-value` is exceeded.

use super::Dict;
use bytes::Bytes;

#[derive(Clone, Debug)]
pub enum HashValue {
    /// OBJ_ENCODING_LISTPACK: field/value pairs in insertion order.
    Listpack(Vec<(Bytes, Bytes)>),
    /// OBJ_ENCODING_HT
    Table(Dict<Bytes>),
}

impl HashValue {
    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Listpack(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }
}
