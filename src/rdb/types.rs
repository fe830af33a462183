//! The numbers of the format: opcodes, value types and what each type means.
//!
//! Every constant is checked against Redis's `src/rdb.h` (the `RDB_OPCODE_*` and `RDB_TYPE_*`
//! defines); the type names are the ones `redis-check-rdb` prints (`rdb_type_string[]`), so a
//! learner can hold rtool's output next to Redis's.

/// `RDB_OPCODE_SLOT_INFO`: slot id, keys in the slot, expires in the slot (Redis 7.4+ cluster).
pub const OP_SLOT_INFO: u8 = 244;
/// `RDB_OPCODE_FUNCTION2`: one Lua library as its source text (Redis 7.0 GA and later).
pub const OP_FUNCTION2: u8 = 245;
/// `RDB_OPCODE_FUNCTION_PRE_GA`: the 7.0 release-candidate function format (Redis 7.0 GA
/// refuses it; the reader decodes it into its own event).
pub const OP_FUNCTION_PRE_GA: u8 = 246;
/// `RDB_OPCODE_MODULE_AUX`: module data not tied to a key.
pub const OP_MODULE_AUX: u8 = 247;
/// `RDB_OPCODE_IDLE`: LRU idle seconds of the next key.
pub const OP_IDLE: u8 = 248;
/// `RDB_OPCODE_FREQ`: LFU counter of the next key (one byte).
pub const OP_FREQ: u8 = 249;
/// `RDB_OPCODE_AUX`: a name/value string pair about the file (`redis-ver`, `repl-id`...).
pub const OP_AUX: u8 = 250;
/// `RDB_OPCODE_RESIZEDB`: sizes of the next database's key and expire tables.
pub const OP_RESIZEDB: u8 = 251;
/// `RDB_OPCODE_EXPIRETIME_MS`: absolute expiry of the next key, unix ms, 8 bytes LE.
pub const OP_EXPIRETIME_MS: u8 = 252;
/// `RDB_OPCODE_EXPIRETIME`: absolute expiry in seconds, 4 bytes (RDB < 3).
pub const OP_EXPIRETIME: u8 = 253;
/// `RDB_OPCODE_SELECTDB`: the database of the keys that follow.
pub const OP_SELECTDB: u8 = 254;
/// `RDB_OPCODE_EOF`: end of the data; the CRC-64 follows from RDB 5 on.
pub const OP_EOF: u8 = 255;

pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE_PRE_GA: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;
/// 7.4 release candidates: hash with field TTLs, absolute TTLs, no minimum up front.
pub const TYPE_HASH_METADATA_PRE_GA: u8 = 22;
pub const TYPE_HASH_LISTPACK_EX_PRE_GA: u8 = 23;
/// 7.4 GA: hash with field TTLs stored relative to a minimum written first.
pub const TYPE_HASH_METADATA: u8 = 24;
pub const TYPE_HASH_LISTPACK_EX: u8 = 25;

/// The newest `REDIS` version this reader knows (Redis 7.4 writes 12).
pub const MAX_REDIS_VERSION: u32 = 12;
/// The version Valkey 9 writes after its own `VALKEY` signature.
pub const VALKEY_VERSION: u32 = 80;

/// The data type a key has, as `TYPE key` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    String,
    List,
    Set,
    ZSet,
    Hash,
    Stream,
    /// A module's own type; `TYPE` would print the module type's name.
    Module,
}

impl ValueType {
    /// The name `TYPE` replies (modules: "module", the type name is in [`ModuleType`]).
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::List => "list",
            ValueType::Set => "set",
            ValueType::ZSet => "zset",
            ValueType::Hash => "hash",
            ValueType::Stream => "stream",
            ValueType::Module => "module",
        }
    }
}

/// The name `redis-check-rdb` gives an RDB type byte, or `None` for a byte that is no type.
pub fn rdb_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        TYPE_STRING => "string",
        TYPE_LIST => "list-linked",
        TYPE_SET => "set-hashtable",
        TYPE_ZSET => "zset-v1",
        TYPE_HASH => "hash-hashtable",
        TYPE_ZSET_2 => "zset-v2",
        TYPE_MODULE_PRE_GA => "module-pre-release",
        TYPE_MODULE_2 => "module-value",
        TYPE_HASH_ZIPMAP => "hash-zipmap",
        TYPE_LIST_ZIPLIST => "list-ziplist",
        TYPE_SET_INTSET => "set-intset",
        TYPE_ZSET_ZIPLIST => "zset-ziplist",
        TYPE_HASH_ZIPLIST => "hash-ziplist",
        TYPE_LIST_QUICKLIST => "quicklist",
        TYPE_STREAM_LISTPACKS => "stream",
        TYPE_HASH_LISTPACK => "hash-listpack",
        TYPE_ZSET_LISTPACK => "zset-listpack",
        TYPE_LIST_QUICKLIST_2 => "quicklist-v2",
        TYPE_STREAM_LISTPACKS_2 => "stream-v2",
        TYPE_SET_LISTPACK => "set-listpack",
        TYPE_STREAM_LISTPACKS_3 => "stream-v3",
        TYPE_HASH_METADATA_PRE_GA => "hash-hashtable-md-pre-release",
        TYPE_HASH_LISTPACK_EX_PRE_GA => "hash-listpack-md-pre-release",
        TYPE_HASH_METADATA => "hash-hashtable-md",
        TYPE_HASH_LISTPACK_EX => "hash-listpack-md",
        _ => return None,
    })
}

/// The data type an RDB type byte holds.
pub fn value_type(t: u8) -> Option<ValueType> {
    Some(match t {
        TYPE_STRING => ValueType::String,
        TYPE_LIST | TYPE_LIST_ZIPLIST | TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            ValueType::List
        }
        TYPE_SET | TYPE_SET_INTSET | TYPE_SET_LISTPACK => ValueType::Set,
        TYPE_ZSET | TYPE_ZSET_2 | TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => ValueType::ZSet,
        TYPE_HASH
        | TYPE_HASH_ZIPMAP
        | TYPE_HASH_ZIPLIST
        | TYPE_HASH_LISTPACK
        | TYPE_HASH_METADATA_PRE_GA
        | TYPE_HASH_LISTPACK_EX_PRE_GA
        | TYPE_HASH_METADATA
        | TYPE_HASH_LISTPACK_EX => ValueType::Hash,
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
            ValueType::Stream
        }
        TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => ValueType::Module,
        _ => return None,
    })
}

/// The in-memory encoding the saving server had, as `OBJECT ENCODING` names it. Since Redis 7
/// writes one RDB type per encoding this is exact for files it wrote; for older types that
/// several encodings shared, it is the encoding of the big form (the small one became its own
/// type later). Strings are refined from their bytes by the reader.
pub fn saved_encoding(t: u8) -> &'static str {
    match t {
        TYPE_STRING => "raw",
        TYPE_LIST | TYPE_LIST_ZIPLIST | TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => "quicklist",
        TYPE_SET => "hashtable",
        TYPE_SET_INTSET => "intset",
        TYPE_SET_LISTPACK => "listpack",
        TYPE_ZSET | TYPE_ZSET_2 => "skiplist",
        TYPE_ZSET_ZIPLIST => "ziplist",
        TYPE_ZSET_LISTPACK => "listpack",
        TYPE_HASH | TYPE_HASH_METADATA_PRE_GA | TYPE_HASH_METADATA => "hashtable",
        TYPE_HASH_ZIPMAP => "zipmap",
        TYPE_HASH_ZIPLIST => "ziplist",
        TYPE_HASH_LISTPACK => "listpack",
        TYPE_HASH_LISTPACK_EX_PRE_GA | TYPE_HASH_LISTPACK_EX => "listpackex",
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => "stream",
        // Module values live in a robj with OBJ_ENCODING_RAW.
        _ => "raw",
    }
}

/// `OBJECT ENCODING` of a string value: Redis's `tryObjectEncoding` keeps a string that
/// `string2l` accepts (at most 20 chars) as an integer, embeds strings up to 44 bytes in the
/// object header, and keeps longer ones as a separate SDS.
pub fn string_encoding(s: &[u8]) -> &'static str {
    if s.len() <= 20 && parse_strict_i64(s).is_some() {
        "int"
    } else if s.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

/// Redis's `string2ll`: an optional `-`, no leading zeros (but "0" itself), no spaces, no `+`,
/// within `i64`. This is the test Redis uses to store a string as an integer.
pub fn parse_strict_i64(s: &[u8]) -> Option<i64> {
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        // -(2^63) is the one value whose magnitude does not fit in i64.
        if v == 1u64 << 63 {
            Some(i64::MIN)
        } else {
            i64::try_from(v).ok().map(|x| -x)
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// A module type id decoded: modules name their types with 9 characters from a 64-symbol set,
/// packed 6 bits each above a 10-bit encoding version (`moduleTypeNameByID` in `module.c`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleType {
    /// The raw 64-bit id as stored.
    pub id: u64,
    /// The 9-character type name, e.g. `ReJSON-RL`.
    pub name: String,
    /// The module's own encoding version (low 10 bits).
    pub encver: u32,
}

impl ModuleType {
    pub fn from_id(id: u64) -> ModuleType {
        const CHARSET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut name = [0u8; 9];
        let mut rest = id >> 10;
        for slot in name.iter_mut().rev() {
            *slot = CHARSET[(rest & 63) as usize];
            rest >>= 6;
        }
        ModuleType {
            id,
            // Every byte comes from CHARSET, which is ASCII.
            name: name.iter().map(|&b| b as char).collect(),
            encver: (id & 1023) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers_follow_string2ll() {
        assert_eq!(parse_strict_i64(b"0"), Some(0));
        assert_eq!(parse_strict_i64(b"-1"), Some(-1));
        assert_eq!(parse_strict_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_strict_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"-",
        ] {
            assert_eq!(parse_strict_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn string_encodings() {
        assert_eq!(string_encoding(b"12345"), "int");
        assert_eq!(string_encoding(b"012"), "embstr");
        assert_eq!(string_encoding(&[b'a'; 44]), "embstr");
        assert_eq!(string_encoding(&[b'a'; 45]), "raw");
    }

    #[test]
    fn module_names_round_trip_redis_encoding() {
        // "ReJSON-RL" with encver 3, packed like moduleTypeEncodeId does.
        let set = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut id = 0u64;
        for c in b"ReJSON-RL" {
            id = (id << 6) | set.iter().position(|x| x == c).unwrap() as u64;
        }
        id = (id << 10) | 3;
        let m = ModuleType::from_id(id);
        assert_eq!(m.name, "ReJSON-RL");
        assert_eq!(m.encver, 3);
    }
}
