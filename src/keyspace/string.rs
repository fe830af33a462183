//! String values and their three Redis encodings.
//!
//! Redis stores a string that looks like a 64-bit integer (at most 20 characters, no leading
//! zero or `+`, what `string2l` accepts) as `int`, a short one (up to 44 bytes, where the
//! object header and the bytes fit one 64-byte allocation) as `embstr`, and anything else as
//! `raw`. APPEND and SETRANGE always leave `raw`; INCR leaves `int`. rtool keeps the bytes and
//! remembers the encoding Redis would report.

use bytes::Bytes;

/// The longest string Redis stores as `embstr` (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
pub const EMBSTR_SIZE_LIMIT: usize = 44;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrEncoding {
    /// OBJ_ENCODING_INT
    Int,
    /// OBJ_ENCODING_EMBSTR
    Embstr,
    /// OBJ_ENCODING_RAW
    Raw,
}

#[derive(Clone, Debug)]
pub struct StrValue {
    pub bytes: Bytes,
    pub enc: StrEncoding,
}

impl StrValue {
    /// A string as SET stores it (Redis's `tryObjectEncoding`).
    pub fn new(bytes: Bytes) -> Self {
        let enc = if bytes.len() <= 20 && crate::resp::request::parse_i64(&bytes).is_some() {
            StrEncoding::Int
        } else if bytes.len() <= EMBSTR_SIZE_LIMIT {
            StrEncoding::Embstr
        } else {
            StrEncoding::Raw
        };
        StrValue { bytes, enc }
    }

    /// A string created from bytes without the integer check (e.g. INCRBYFLOAT's result,
    /// which Redis creates with `createStringObject`).
    pub fn plain(bytes: Bytes) -> Self {
        let enc = if bytes.len() <= EMBSTR_SIZE_LIMIT {
            StrEncoding::Embstr
        } else {
            StrEncoding::Raw
        };
        StrValue { bytes, enc }
    }

    /// A string that a command modified in place (APPEND, SETRANGE, SETBIT): always `raw`.
    pub fn raw(bytes: Bytes) -> Self {
        StrValue {
            bytes,
            enc: StrEncoding::Raw,
        }
    }

    /// An integer (INCR and friends).
    pub fn int(n: i64) -> Self {
        StrValue {
            bytes: Bytes::from(n.to_string()),
            enc: StrEncoding::Int,
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self.enc {
            StrEncoding::Int => "int",
            StrEncoding::Embstr => "embstr",
            StrEncoding::Raw => "raw",
        }
    }

    /// The value as an integer, if it is one (`getLongLongFromObject`).
    pub fn as_i64(&self) -> Option<i64> {
        crate::resp::request::parse_i64(&self.bytes)
    }
}
