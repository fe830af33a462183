//! RDB, Redis's snapshot format: one streaming reader shared by everything that meets an RDB.
//!
//! `rtool rdb dump` pushes a file through [`Reader`]; the replication tap pushes the payload of a
//! full resync through the same reader as it crosses the socket; a replica loads its master's
//! snapshot from the same events. The reader is *sans-IO*: it is fed bytes and hands out
//! [`Event`]s, each with its byte [`Span`] in the original stream, and never touches a file or
//! a socket. [`events`] and [`read_all`] wrap it for anything that implements `Read`.
//!
//! ## The file in one picture
//! ```text
//! REDIS0010                       signature and version (9 bytes)
//! FA <name> <value>               AUX fields: redis-ver, redis-bits, ctime, used-mem, ...
//! F5 <library code>               FUNCTION2 (one per function library)
//! FE <db>  FB <keys> <expires>    SELECTDB, RESIZEDB
//! [FC <ms:8>] [F8 <idle>] [F9 <freq:1>] <type:1> <key> <value>    one key
//! ...
//! FF <crc64:8>                    EOF and the CRC-64 of everything before it
//! ```
//! Lengths use a 1/2/5/9-byte prefix ([`reader`] explains it), strings may be stored as small
//! integers or LZF-compressed ([`lzf`]), and small collections are stored as one packed blob
//! ([`listpack`], [`ziplist`], [`intset`], [`zipmap`]).
//!
//! ## Using it
//! ```
//! use rtool::rdb::{self, Event, Item};
//! let file: &[u8] = include_bytes!("../../fixtures/rdb/redis-7.0-lru.rdb");
//! for event in rdb::events(file) {
//!     match event.unwrap() {
//!         Event::KeyStart(k) => {
//!             let key = rdb::error::Escaped(&k.key);
//!             println!("{key} ({}, {})", k.value_type.as_str(), k.rdb_type_name)
//!         }
//!         Event::Item { item: Item::HashField { field, value, .. }, span, .. } => {
//!             println!("  {:?} = {:?} at {:#x}", field, value, span.offset)
//!         }
//!         _ => {}
//!     }
//! }
//! ```
//! A tap or a replica instead calls [`Reader::feed`] with each chunk as it arrives and drains
//! [`Reader::next_event`] until it returns `Ok(None)`.
//!
//! ## Versions
//! RDB 1 to 12 (Redis 1.x to 7.4) and Valkey 9's `VALKEY080`. Redis 7.0 writes version 10, 7.2
//! writes 11 (listpack sets, stream v3), 7.4 writes 12 (hash field TTLs).
//!
//! ## What the reader guarantees
//! - Any input gives events or an [`RdbError`] naming the offset, the phase and the key; never
//!   a panic, and no allocation sized by a length field before that many bytes have arrived.
//! - Memory stays bounded: a collection's elements come out one event at a time; only a single
//!   string (a value, an element, one packed container) is ever held whole.
//! - Feeding the same bytes in any chunking gives the same events with the same offsets.

mod cursor;
pub mod error;
pub mod event;
pub mod intset;
pub mod listpack;
pub mod lzf;
mod packed;
pub mod reader;
pub mod types;
pub mod ziplist;
pub mod zipmap;
// The writing side: encoders, the writer, and reader events -> keyspace values.
pub mod encode;
pub mod load;
pub mod load_log;
pub mod writer;

pub use cursor::{StringForm, length_prefix, string_form};
pub use error::{ErrorKind, Phase, RdbError, ReadError};
pub use event::{
    Container, ContainerKind, Event, Item, KeyEnd, KeyStart, Magic, PackedPos, Span, StreamId,
};
pub use reader::{Events, Reader};
pub use types::{ModuleType, ValueType};

use std::io::Read;

/// How much a file wrapper reads at a time: big enough that per-call overhead vanishes, small
/// enough to keep memory flat.
const CHUNK: usize = 64 * 1024;

/// Iterates over the events of an RDB read from `input`. Stops after the `EOF` event (bytes
/// after the RDB are not read further than the last chunk) or at the first error.
pub fn events<R: Read>(input: R) -> EventIter<R> {
    EventIter {
        input,
        reader: Reader::new(),
        buf: vec![0; CHUNK],
        ended: false,
        failed: false,
    }
}

/// Reads a whole RDB into a vector of events (for small files and tests).
pub fn read_all<R: Read>(input: R) -> Result<Vec<Event>, ReadError> {
    events(input).collect()
}

/// The iterator returned by [`events`].
pub struct EventIter<R> {
    input: R,
    reader: Reader,
    buf: Vec<u8>,
    ended: bool,
    failed: bool,
}

impl<R> EventIter<R> {
    /// The reader, e.g. to look at [`Reader::remaining`] after the end.
    pub fn reader(&self) -> &Reader {
        &self.reader
    }
}

impl<R: Read> Iterator for EventIter<R> {
    type Item = Result<Event, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            match self.reader.next_event() {
                Ok(Some(ev)) => return Some(Ok(ev)),
                Ok(None) if self.reader.is_done() => return None,
                Ok(None) => {}
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e.into()));
                }
            }
            if self.ended {
                self.failed = true;
                return self.reader.finish().err().map(|e| Err(e.into()));
            }
            match self.input.read(&mut self.buf) {
                Ok(0) => self.ended = true,
                Ok(n) => self.reader.feed(&self.buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e.into()));
                }
            }
        }
    }
}
