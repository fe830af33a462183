//! JSON Lines: one object per line, each `{"type": <record kind>, "data": {...}}`, the envelope
//! ripgrep's JSON printer uses. The format is a protocol other programs parse, so it is
//! specified in the book (`book/src/appendix-rdb-json.md`) and this file follows that text;
//! change both together.
//!
//! Record kinds, in file order: `header`, `aux`, `function`, `select_db`, `resize_db`,
//! `slot_info`, `module_aux`, `key` (one per key), `eof` (the checksum), and `error` if
//! decoding stops. Bytes from the file are never converted lossily: a key, member or value is
//! `{"text": "..."}` when it is valid UTF-8 and `{"bytes": "<base64>"}` otherwise (RFC 4648
//! standard alphabet, with padding).
//!
//! A key's line is built while its elements arrive, so a huge collection streams through in
//! bounded memory: the line is held back until the key ends (so an error inside a key drops
//! the partial line and leaves only the `error` record) unless it outgrows [`HOLD_LIMIT`], in
//! which case it is written as it grows and an error leaves it unterminated, followed by a
//! newline and the `error` record.

use super::Sink;
use crate::rdb::{Event, Item, KeyStart, Magic, ReadError, StreamId, ValueType};
use base64::Engine as _;
use std::io::{self, Write};

/// How much of a key's line is held back before it is written out as it grows.
pub const HOLD_LIMIT: usize = 1 << 20;

/// The JSON Lines printer.
pub struct JsonLines<W: Write> {
    out: W,
    /// The current key's line so far.
    line: Vec<u8>,
    /// Part of the current line was already written to `out`.
    spilled: bool,
    key: Option<KeyJson>,
}

/// Where the current key's value is in its nesting, so the right brackets get closed.
struct KeyJson {
    vt: ValueType,
    /// No element written yet in the innermost open array.
    first: bool,
    stream: StreamPart,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StreamPart {
    /// In `"entries": [`.
    Entries,
    /// After the metadata, in `"groups": [` with no group open.
    Groups,
    /// In a group's `"pel": [`.
    GroupPel,
    /// In a consumer's `"pel": [` (inside `"consumers": [`).
    ConsumerPel,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W) -> JsonLines<W> {
        JsonLines {
            out,
            line: Vec::with_capacity(4096),
            spilled: false,
            key: None,
        }
    }

    /// Gives the writer back (tests read the output from it).
    pub fn into_inner(self) -> W {
        self.out
    }

    /// A complete record outside keys.
    fn record(&mut self, kind: &str, data: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        let mut l = Vec::with_capacity(128);
        l.extend_from_slice(b"{\"type\":\"");
        l.extend_from_slice(kind.as_bytes());
        l.extend_from_slice(b"\",\"data\":{");
        data(&mut l);
        l.extend_from_slice(b"}}\n");
        self.out.write_all(&l)
    }

    /// Moves the held-back line out once it is too big to hold.
    fn maybe_spill(&mut self) -> io::Result<()> {
        if self.line.len() > HOLD_LIMIT {
            self.out.write_all(&self.line)?;
            self.line.clear();
            self.spilled = true;
        }
        Ok(())
    }

    fn key_start(&mut self, k: &KeyStart) {
        let l = &mut self.line;
        l.clear();
        self.spilled = false;
        l.extend_from_slice(b"{\"type\":\"key\",\"data\":{\"db\":");
        num(l, k.db);
        l.extend_from_slice(b",\"key\":");
        bin(l, &k.key);
        l.extend_from_slice(b",\"type\":\"");
        l.extend_from_slice(k.value_type.as_str().as_bytes());
        l.extend_from_slice(b"\",\"rdb_type\":\"");
        l.extend_from_slice(k.rdb_type_name.as_bytes());
        l.extend_from_slice(b"\",\"encoding\":\"");
        l.extend_from_slice(k.encoding.as_bytes());
        l.extend_from_slice(b"\",\"expiry_ms\":");
        match k.expire_ms {
            Some(ms) => num(l, ms),
            None => l.extend_from_slice(b"null"),
        }
        if let Some(idle) = k.lru_idle {
            l.extend_from_slice(b",\"lru_idle_s\":");
            num(l, idle);
        }
        if let Some(freq) = k.lfu_freq {
            l.extend_from_slice(b",\"lfu_freq\":");
            num(l, freq);
        }
        if let Some(m) = &k.module {
            l.extend_from_slice(b",\"module\":");
            string(l, &m.name);
        }
        l.extend_from_slice(b",\"offset\":");
        num(l, k.span.offset);
        l.extend_from_slice(b",\"value\":");
        match k.value_type {
            ValueType::String => {}
            ValueType::Module => l.extend_from_slice(b"null"),
            ValueType::Stream => l.extend_from_slice(b"{\"entries\":["),
            _ => l.push(b'['),
        }
        self.key = Some(KeyJson {
            vt: k.value_type,
            first: true,
            stream: StreamPart::Entries,
        });
    }

    fn item(&mut self, item: &Item) -> io::Result<()> {
        let Some(k) = self.key.as_mut() else {
            return Ok(());
        };
        let l = &mut self.line;
        // A comma before every element of an array but the first.
        let sep = |k: &mut KeyJson, l: &mut Vec<u8>| {
            if !std::mem::take(&mut k.first) {
                l.push(b',');
            }
        };
        match item {
            Item::String(v) => bin(l, v),
            Item::ListElement(v) | Item::SetMember(v) => {
                sep(k, l);
                bin(l, v);
            }
            Item::ZSetMember { member, score } => {
                sep(k, l);
                l.push(b'[');
                bin(l, member);
                l.push(b',');
                score_json(l, *score);
                l.push(b']');
            }
            Item::HashField {
                field,
                value,
                expire_ms,
            } => {
                sep(k, l);
                l.push(b'[');
                bin(l, field);
                l.push(b',');
                bin(l, value);
                if let Some(ms) = expire_ms {
                    l.push(b',');
                    num(l, *ms);
                }
                l.push(b']');
            }
            // Deleted entries are still in the file (XDEL only flags them) but are not part
            // of the stream; the layout view shows them.
            Item::StreamEntry { deleted: true, .. } => {}
            Item::StreamEntry {
                id,
                deleted: false,
                fields,
            } => {
                sep(k, l);
                l.extend_from_slice(b"{\"id\":");
                sid(l, *id);
                l.extend_from_slice(b",\"fields\":[");
                for (i, (f, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        l.push(b',');
                    }
                    l.push(b'[');
                    bin(l, f);
                    l.push(b',');
                    bin(l, v);
                    l.push(b']');
                }
                l.extend_from_slice(b"]}");
            }
            Item::StreamMeta {
                length,
                last_id,
                first_id,
                max_deleted_id,
                entries_added,
            } => {
                l.extend_from_slice(b"],\"length\":");
                num(l, *length);
                l.extend_from_slice(b",\"last_id\":");
                sid(l, *last_id);
                l.extend_from_slice(b",\"first_id\":");
                opt_sid(l, *first_id);
                l.extend_from_slice(b",\"max_deleted_id\":");
                opt_sid(l, *max_deleted_id);
                l.extend_from_slice(b",\"entries_added\":");
                match entries_added {
                    Some(n) => num(l, *n),
                    None => l.extend_from_slice(b"null"),
                }
                l.extend_from_slice(b",\"groups\":[");
                k.stream = StreamPart::Groups;
                k.first = true;
            }
            Item::StreamGroup {
                name,
                last_id,
                entries_read,
            } => {
                close_group(k, l);
                if k.stream == StreamPart::Groups && !std::mem::take(&mut k.first) {
                    l.push(b',');
                }
                l.extend_from_slice(b"{\"name\":");
                bin(l, name);
                l.extend_from_slice(b",\"last_id\":");
                sid(l, *last_id);
                l.extend_from_slice(b",\"entries_read\":");
                match entries_read {
                    Some(n) => num(l, *n),
                    None => l.extend_from_slice(b"null"),
                }
                l.extend_from_slice(b",\"pel\":[");
                k.stream = StreamPart::GroupPel;
                k.first = true;
            }
            Item::StreamPending {
                id,
                delivery_time_ms,
                delivery_count,
            } => {
                sep(k, l);
                l.extend_from_slice(b"{\"id\":");
                sid(l, *id);
                l.extend_from_slice(b",\"delivery_time_ms\":");
                num(l, *delivery_time_ms);
                l.extend_from_slice(b",\"delivery_count\":");
                num(l, *delivery_count);
                l.push(b'}');
            }
            Item::StreamConsumer {
                name,
                seen_time_ms,
                active_time_ms,
            } => {
                match k.stream {
                    // The first consumer of the group: close its PEL, open its consumers.
                    StreamPart::GroupPel => l.extend_from_slice(b"],\"consumers\":["),
                    // Close the previous consumer's PEL and object.
                    _ => l.extend_from_slice(b"]},"),
                }
                l.extend_from_slice(b"{\"name\":");
                bin(l, name);
                l.extend_from_slice(b",\"seen_time_ms\":");
                num(l, *seen_time_ms);
                l.extend_from_slice(b",\"active_time_ms\":");
                match active_time_ms {
                    Some(n) => num(l, *n),
                    None => l.extend_from_slice(b"null"),
                }
                l.extend_from_slice(b",\"pel\":[");
                k.stream = StreamPart::ConsumerPel;
                k.first = true;
            }
            Item::StreamConsumerPending { id } => {
                sep(k, l);
                sid(l, *id);
            }
            Item::ModuleValue => {}
        }
        self.maybe_spill()
    }

    fn key_end(&mut self, items: u64, len: u64, loaded: &str) -> io::Result<()> {
        let Some(mut k) = self.key.take() else {
            return Ok(());
        };
        let l = &mut self.line;
        match k.vt {
            ValueType::String | ValueType::Module => {}
            ValueType::Stream => {
                close_group(&mut k, l);
                // Before the metadata (only if the file ended the stream early) the entries
                // array is still open.
                if k.stream == StreamPart::Entries {
                    l.extend_from_slice(b"],\"groups\":[");
                }
                l.extend_from_slice(b"]}");
            }
            _ => l.push(b']'),
        }
        l.extend_from_slice(b",\"items\":");
        num(l, items);
        l.extend_from_slice(b",\"bytes\":");
        num(l, len);
        l.extend_from_slice(b",\"loaded_encoding\":\"");
        l.extend_from_slice(loaded.as_bytes());
        l.extend_from_slice(b"\"}}\n");
        self.out.write_all(&self.line)?;
        self.line.clear();
        self.spilled = false;
        Ok(())
    }
}

/// Closes an open group (and its open consumer) of a stream value.
fn close_group(k: &mut KeyJson, l: &mut Vec<u8>) {
    match k.stream {
        StreamPart::GroupPel => l.extend_from_slice(b"],\"consumers\":[]}"),
        StreamPart::ConsumerPel => l.extend_from_slice(b"]}]}"),
        _ => return,
    }
    k.stream = StreamPart::Groups;
    k.first = false;
}

impl<W: Write> Sink for JsonLines<W> {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        match ev {
            Event::Header {
                magic,
                version,
                span,
            } => self.record("header", |l| {
                l.extend_from_slice(b"\"magic\":");
                string(
                    l,
                    match magic {
                        Magic::Redis => "REDIS",
                        Magic::Valkey => "VALKEY",
                    },
                );
                l.extend_from_slice(b",\"version\":");
                num(l, *version);
                offset(l, span.offset);
            }),
            Event::Aux { name, value, span } => self.record("aux", |l| {
                l.extend_from_slice(b"\"name\":");
                bin(l, name);
                l.extend_from_slice(b",\"value\":");
                bin(l, value);
                offset(l, span.offset);
            }),
            Event::SelectDb { db, span } => self.record("select_db", |l| {
                l.extend_from_slice(b"\"db\":");
                num(l, *db);
                offset(l, span.offset);
            }),
            Event::ResizeDb {
                db_size,
                expires_size,
                span,
            } => self.record("resize_db", |l| {
                l.extend_from_slice(b"\"db_size\":");
                num(l, *db_size);
                l.extend_from_slice(b",\"expires_size\":");
                num(l, *expires_size);
                offset(l, span.offset);
            }),
            Event::SlotInfo {
                slot,
                slot_size,
                expires_slot_size,
                span,
            } => self.record("slot_info", |l| {
                l.extend_from_slice(b"\"slot\":");
                num(l, *slot);
                l.extend_from_slice(b",\"slot_size\":");
                num(l, *slot_size);
                l.extend_from_slice(b",\"expires_slot_size\":");
                num(l, *expires_slot_size);
                offset(l, span.offset);
            }),
            Event::Function { code, span } => self.record("function", |l| {
                l.extend_from_slice(b"\"code\":");
                bin(l, code);
                offset(l, span.offset);
            }),
            Event::FunctionPreGa {
                name,
                engine,
                description,
                code,
                span,
            } => self.record("function_pre_ga", |l| {
                l.extend_from_slice(b"\"name\":");
                bin(l, name);
                l.extend_from_slice(b",\"engine\":");
                bin(l, engine);
                l.extend_from_slice(b",\"description\":");
                match description {
                    Some(d) => bin(l, d),
                    None => l.extend_from_slice(b"null"),
                }
                l.extend_from_slice(b",\"code\":");
                bin(l, code);
                offset(l, span.offset);
            }),
            Event::ModuleAux { module, when, span } => self.record("module_aux", |l| {
                l.extend_from_slice(b"\"module\":");
                string(l, &module.name);
                l.extend_from_slice(b",\"when\":");
                num(l, *when);
                offset(l, span.offset);
            }),
            Event::KeyStart(k) => {
                self.key_start(k);
                Ok(())
            }
            Event::Item { item, .. } => self.item(item),
            Event::Container(_) => Ok(()),
            Event::KeyEnd(k) => self.key_end(k.items, k.span.len, k.encoding),
            Event::Eof {
                stored,
                computed,
                span,
            } => self.record("eof", |l| {
                l.extend_from_slice(b"\"checksum\":");
                match stored {
                    Some(s) => string(l, &format!("{s:016x}")),
                    None => l.extend_from_slice(b"null"),
                }
                l.extend_from_slice(b",\"computed\":");
                string(l, &format!("{computed:016x}"));
                l.extend_from_slice(b",\"checksum_ok\":");
                l.extend_from_slice(match stored {
                    Some(0) | None => b"null",
                    Some(s) if s == computed => b"true",
                    Some(_) => b"false",
                });
                offset(l, span.offset);
            }),
        }
    }

    fn error(&mut self, err: &ReadError) -> io::Result<()> {
        // A key cut short: drop what was held back; if part of it is already out, end that
        // line so the error record stands on its own line.
        if self.key.take().is_some() && self.spilled {
            self.out.write_all(b"\n")?;
        }
        self.line.clear();
        let msg = err.to_string();
        let rdb = match err {
            ReadError::Rdb(e) => Some(e.clone()),
            ReadError::Io(_) => None,
        };
        self.record("error", |l| {
            l.extend_from_slice(b"\"message\":");
            string(l, &msg);
            if let Some(e) = rdb {
                l.extend_from_slice(b",\"reason\":");
                string(l, &e.kind.to_string());
                l.extend_from_slice(b",\"phase\":");
                string(l, e.phase.as_str());
                l.extend_from_slice(b",\"key\":");
                match &e.key {
                    Some(k) => bin(l, k),
                    None => l.extend_from_slice(b"null"),
                }
                offset(l, e.offset);
            }
        })
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

// ---------------------------------------------------------------------------------------------
// JSON pieces
// ---------------------------------------------------------------------------------------------

fn num(l: &mut Vec<u8>, n: impl itoa_like::Int) {
    n.push_to(l);
}

fn offset(l: &mut Vec<u8>, at: u64) {
    l.extend_from_slice(b",\"offset\":");
    num(l, at);
}

/// A JSON string (serde_json does the escaping).
fn string(l: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *l, s);
}

/// Bytes from the file, binary-safe: `{"text": ...}` if UTF-8, else `{"bytes": base64}`.
pub fn bin(l: &mut Vec<u8>, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => {
            l.extend_from_slice(b"{\"text\":");
            string(l, s);
        }
        Err(_) => {
            l.extend_from_slice(b"{\"bytes\":\"");
            // Encode straight into the line: grow it by the encoded size, fill the new tail.
            let start = l.len();
            let n = base64::encoded_len(b.len(), true).unwrap_or(0);
            l.resize(start + n, 0);
            let done = base64::engine::general_purpose::STANDARD
                .encode_slice(b, &mut l[start..])
                .unwrap_or(0);
            l.truncate(start + done);
            l.push(b'"');
        }
    }
    l.push(b'}');
}

/// A stream ID as its usual text, `"1700000000000-0"`.
fn sid(l: &mut Vec<u8>, id: StreamId) {
    l.push(b'"');
    num(l, id.ms);
    l.push(b'-');
    num(l, id.seq);
    l.push(b'"');
}

fn opt_sid(l: &mut Vec<u8>, id: Option<StreamId>) {
    match id {
        Some(id) => sid(l, id),
        None => l.extend_from_slice(b"null"),
    }
}

/// A score: a JSON number with the shortest digits that read back to the same double;
/// infinities, which JSON numbers cannot hold, as the strings `"inf"` and `"-inf"`.
fn score_json(l: &mut Vec<u8>, s: f64) {
    if s.is_finite() {
        let _ = serde_json::to_writer(&mut *l, &s);
    } else if s > 0.0 {
        l.extend_from_slice(b"\"inf\"");
    } else {
        l.extend_from_slice(b"\"-inf\"");
    }
}

/// Integers written without a `format!` allocation (keys are the hot path of a 1M-key dump).
mod itoa_like {
    pub trait Int {
        fn push_to(self, l: &mut Vec<u8>);
    }

    macro_rules! unsigned {
        ($($t:ty),*) => {$(
            impl Int for $t {
                fn push_to(self, l: &mut Vec<u8>) {
                    push_u64(l, self as u64);
                }
            }
        )*};
    }
    unsigned!(u8, u32, u64);

    impl Int for i64 {
        fn push_to(self, l: &mut Vec<u8>) {
            if self < 0 {
                l.push(b'-');
            }
            push_u64(l, self.unsigned_abs());
        }
    }

    fn push_u64(l: &mut Vec<u8>, mut v: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        l.extend_from_slice(&buf[i..]);
    }
}
