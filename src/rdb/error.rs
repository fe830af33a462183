//! Why and where decoding stopped.
//!
//! Every failure names three things a reader of a corrupt file needs: the byte offset in the
//! original stream, the phase (named like `redis-check-rdb`'s "doing" states so both tools'
//! reports can be read side by side), and the key being read, if any. The message reads
//! `RDB: bad listpack entry in key 'k1' (hash-listpack) at offset 0x1a3 (read-object-value)`.

use bytes::Bytes;
use std::fmt;

/// What the reader was doing, with `redis-check-rdb`'s names (its `rdb_check_doing_string`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The 9-byte signature `REDIS0010` (`start`).
    Start,
    /// An opcode or a value type byte (`read-type`).
    ReadType,
    /// `EXPIRETIME`, `EXPIRETIME_MS`, `IDLE` or `FREQ` before a key (`read-expire`).
    ReadExpire,
    /// The key name (`read-key`).
    ReadKey,
    /// The value of a key (`read-object-value`).
    ReadValue,
    /// The 8-byte CRC-64 trailer (`check-sum`).
    Checksum,
    /// `SELECTDB`, `RESIZEDB` or `SLOT_INFO` operands (`read-len`).
    ReadLen,
    /// An `AUX` name/value pair (`read-aux`).
    ReadAux,
    /// `MODULE_AUX` data (`read-module-aux`).
    ReadModuleAux,
    /// A `FUNCTION2` library (`read-functions`).
    ReadFunctions,
}

impl Phase {
    /// The name `redis-check-rdb` prints for this phase.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Start => "start",
            Phase::ReadType => "read-type",
            Phase::ReadExpire => "read-expire",
            Phase::ReadKey => "read-key",
            Phase::ReadValue => "read-object-value",
            Phase::Checksum => "check-sum",
            Phase::ReadLen => "read-len",
            Phase::ReadAux => "read-aux",
            Phase::ReadModuleAux => "read-module-aux",
            Phase::ReadFunctions => "read-functions",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reason decoding stopped.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// `finish()` was called in the middle of something.
    #[error("unexpected end of input")]
    Truncated,
    /// The first bytes are neither `REDIS` nor `VALKEY` followed by a version number.
    #[error("wrong signature (not an RDB file)")]
    BadMagic,
    /// A version this reader does not know (Redis's words: "Can't handle RDB format version").
    #[error("can't handle RDB format version {0}")]
    UnsupportedVersion(u32),
    /// A byte that is neither an opcode nor a value type this reader knows.
    #[error("unknown value type or opcode {0}")]
    UnknownType(u8),
    /// Something Redis itself refuses to load (pre-release formats).
    #[error("{0} not supported")]
    Unsupported(&'static str),
    /// A length prefix whose first byte is not one of the four length forms.
    #[error("bad length encoding 0x{0:02x}")]
    BadLength(u8),
    /// A string whose "special encoding" is not INT8/16/32 or LZF.
    #[error("unknown string encoding {0}")]
    BadStringEncoding(u8),
    /// A length that cannot be a real object on this machine.
    #[error("length {0} is too large")]
    TooLarge(u64),
    /// The stored CRC-64 differs from the one computed over the bytes read.
    #[error("wrong RDB checksum: stored {stored:016x}, computed {computed:016x}")]
    ChecksumMismatch { stored: u64, computed: u64 },
    /// Any other structural problem, described by a short fixed phrase
    /// ("bad listpack entry", "stream ID is not 16 bytes", ...).
    #[error("{0}")]
    Corrupt(&'static str),
}

/// A decoding error: what went wrong, where, and in which key.
#[derive(Clone, Debug, PartialEq)]
pub struct RdbError {
    /// The reason.
    pub kind: ErrorKind,
    /// Position in the original byte stream (the reader's start offset included).
    pub offset: u64,
    /// What the reader was doing.
    pub phase: Phase,
    /// The key being read, when the error happened inside one.
    pub key: Option<Bytes>,
    /// That key's RDB type byte.
    pub rdb_type: Option<u8>,
}

impl std::error::Error for RdbError {}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RDB: {}", self.kind)?;
        if let Some(key) = &self.key {
            write!(f, " in key '{}'", Escaped(key))?;
            if let Some(name) = self.rdb_type.and_then(super::types::rdb_type_name) {
                write!(f, " ({name})")?;
            }
        }
        write!(f, " at offset {:#x} ({})", self.offset, self.phase)
    }
}

/// Shows bytes as text where printable and `\xHH` elsewhere, so a binary key never garbles a
/// terminal and never loses information.
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Long keys are cut: an error message is for people, the offset finds the rest.
        const MAX: usize = 128;
        for &b in self.0.iter().take(MAX) {
            match b {
                b'\\' => f.write_str("\\\\")?,
                b'\'' => f.write_str("\\'")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        if self.0.len() > MAX {
            write!(f, "...({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

/// What a file-reading wrapper can fail with: the bytes could not be read, or they are not a
/// valid RDB.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading the RDB input: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Rdb(#[from] RdbError),
}
