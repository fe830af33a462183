//! The library's error types. Decoders report *where* they stopped (byte offset) and *what*
//! they were doing, so a message reads "RDB: bad listpack entry in key 'k1' at offset 0x1a3".

pub use crate::resp::ProtocolError;
