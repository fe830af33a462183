//! `rdb dump --layout`: the byte-level walk through a file, one line per opcode, field or
//! element, with its offset, its length, its first bytes and what it means:
//!
//! ```text
//! offset        len  bytes                     field             meaning
//! 0x00000009      1  fa                        AUX               "redis-ver" = "7.0.15"
//! 0x0000000a     10  09 72 65 64 69 73 2d 76…    name            raw string, 9 bytes: "redis-ver"
//! ```
//!
//! It is built from the reader's event spans: each event says where it sits, and the printer
//! splits a span into its parts (an opcode byte, a length prefix, a string header) with the
//! reader's own primitives ([`crate::rdb::string_form`], [`crate::rdb::length_prefix`]), so
//! nothing is decoded a second way. Bytes between two spans (a count the reader consumed
//! without an event of its own, a container's header and end marker) get a line of their
//! own, so every byte of the file is on exactly one line (nested lines — the entries inside an
//! uncompressed container — sit inside their container's line, indented). Elements of an
//! LZF-compressed container have no place in the file: their offset column shows `+pos`, the
//! position inside the decompressed container.
//!
//! The printer reads the bytes it shows from a [`ByteSource`] (the file itself, read at the
//! offsets the events give), a few dozen at a time: memory does not grow with the file.

use super::{Paint, Role, Sink, quoted, score_text, utc};
use crate::rdb::types::{self, rdb_type_name};
use crate::rdb::{
    Container, ContainerKind, Event, Item, KeyStart, ReadError, Span, StringForm, ValueType,
    length_prefix, string_form,
};
use std::io::{self, Write};

/// Positional reads of the file the events came from.
pub trait ByteSource {
    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of the data.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

impl ByteSource for [u8] {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
}

impl ByteSource for Vec<u8> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.as_slice().read_at(offset, buf)
    }
}

impl ByteSource for std::fs::File {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            match FileExt::read_at(self, &mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

/// How many bytes the `bytes` column shows.
const SHOW: usize = 8;

/// The layout printer.
pub struct Layout<W: Write> {
    out: W,
    paint: Paint,
    src: Box<dyn ByteSource>,
    /// Every byte before this has been shown (top level).
    cursor: u64,
    /// Keys were filtered: a top-level gap before a record is keys not shown.
    filtered: bool,
    key: Option<KeyCtx>,
    container: Option<Open>,
}

/// The key being walked.
struct KeyCtx {
    rdb_type: u8,
    vt: ValueType,
}

/// An open container: its lines are nested until an event falls outside it.
struct Open {
    c: Container,
    /// Inside an uncompressed container: every byte before this has been shown.
    inner: u64,
    entries: u64,
}

impl<W: Write> Layout<W> {
    pub fn new(out: W, src: Box<dyn ByteSource>, paint: Paint, filtered: bool) -> Layout<W> {
        Layout {
            out,
            paint,
            src,
            cursor: 0,
            filtered,
            key: None,
            container: None,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// Up to `n` bytes of the file at `at`.
    fn peek(&self, at: u64, n: u64) -> io::Result<Vec<u8>> {
        let mut b = vec![0; n.min(64) as usize];
        let got = self.src.read_at(at, &mut b)?;
        b.truncate(got);
        Ok(b)
    }

    /// Writes the column titles.
    pub fn title(&mut self) -> io::Result<()> {
        let t = format!(
            "{:<12} {:>6}  {:<26}{:<18}{}",
            "offset", "len", "bytes", "field", "meaning"
        );
        let t = self.paint.paint(Role::Heading, t);
        writeln!(self.out, "{t}")
    }

    /// One line. `rel` shows the offset as a position inside a compressed container.
    fn line(
        &mut self,
        at: Pos,
        len: u64,
        depth: usize,
        field: &str,
        meaning: &str,
    ) -> io::Result<()> {
        let (off, shown) = match at {
            Pos::File(o) => (format!("{o:#010x}"), self.peek(o, len.min(SHOW as u64))?),
            Pos::Inside(p) => (format!("  +{p:#06x}"), Vec::new()),
        };
        let mut hex = shown
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        if len > SHOW as u64 && matches!(at, Pos::File(_)) {
            hex.push('…');
        }
        let indent = "  ".repeat(depth);
        let field = format!("{indent}{field}");
        let p = self.paint;
        // Pad before painting: escape codes must not count toward the column widths.
        writeln!(
            self.out,
            "{} {}  {}{}{}",
            p.paint(Role::Offset, format!("{off:<12}")),
            p.paint(Role::Offset, format!("{len:>6}")),
            format_args!("{hex:<26}"),
            p.paint(
                if depth == 0 { Role::Opcode } else { Role::Key },
                format!("{field:<18}")
            ),
            meaning
        )
    }

    /// A gap between what was shown and `to`, at the top level or inside the open
    /// container. `what` names it by context; a gap that is exactly one length prefix says
    /// its value.
    fn gap(&mut self, to: u64, depth: usize, field: &str, what: &str) -> io::Result<()> {
        let from = match &self.container {
            Some(o) if depth > 0 => o.inner,
            _ => self.cursor,
        };
        if to <= from {
            return Ok(());
        }
        let len = to - from;
        let bytes = self.peek(from, len.min(16))?;
        let meaning = match length_prefix(&bytes) {
            Some((n, used)) if used as u64 == len => format!("{what}: {n}"),
            _ if len == 1 => what.to_string(),
            _ => format!("{what} ({len} bytes)"),
        };
        self.line(Pos::File(from), len, depth, field, &meaning)
    }

    /// An RDB string at `at`: its header and payload as one line.
    fn string_line(&mut self, at: u64, depth: usize, field: &str, value: &[u8]) -> io::Result<u64> {
        let head = self.peek(at, 32)?;
        let (desc, len) = match string_form(&head) {
            Some((StringForm::Raw { len }, h)) => (
                format!("raw string, {len} byte{}", if len == 1 { "" } else { "s" }),
                h as u64 + len,
            ),
            Some((StringForm::Int { width, value }, h)) => {
                (format!("int{} string {value}", width * 8), h as u64)
            }
            Some((StringForm::Lzf { clen, len }, h)) => (
                format!("LZF string, {clen} bytes -> {len}"),
                h as u64 + clen,
            ),
            None => ("string".to_string(), 0),
        };
        let meaning = format!("{desc}: {}", quoted(value, 48));
        self.line(Pos::File(at), len, depth, field, &meaning)?;
        Ok(at + len)
    }

    /// A length prefix at `at`, as a line; returns its end.
    fn len_line(&mut self, at: u64, depth: usize, field: &str, what: &str) -> io::Result<u64> {
        let b = self.peek(at, 9)?;
        let (n, used) = length_prefix(&b).unwrap_or((0, 1));
        self.line(
            Pos::File(at),
            used as u64,
            depth,
            field,
            &format!("{what} {n}"),
        )?;
        Ok(at + used as u64)
    }

    /// Closes the open container if `at` is outside it: its end marker gets its line.
    fn close_container(&mut self, at: Option<u64>) -> io::Result<()> {
        let Some(o) = &self.container else {
            return Ok(());
        };
        if at.is_some_and(|a| a < o.c.span.end() && a >= o.c.span.offset) {
            return Ok(());
        }
        let (end, kind, compressed) = (o.c.span.end(), o.c.kind, o.c.compressed);
        if !compressed {
            let what = match kind {
                ContainerKind::Plain => "(rest of the node)",
                _ => "end marker",
            };
            self.gap(end, 2, "end", what)?;
        }
        self.container = None;
        self.cursor = self.cursor.max(end);
        Ok(())
    }

    fn key_start(&mut self, k: &KeyStart) -> io::Result<()> {
        let gap_label = if self.filtered {
            "(keys not shown)"
        } else {
            "(not reported)"
        };
        self.gap(k.span.offset, 0, "…", gap_label)?;
        self.cursor = self.cursor.max(k.span.offset);
        let mut at = k.span.offset;
        // The opcodes that belong to the key, then its type byte.
        loop {
            let b = self.peek(at, 10)?;
            let Some(&op) = b.first() else { break };
            let (len, name, meaning) = match op {
                types::OP_EXPIRETIME_MS => {
                    let ms = k.expire_ms.unwrap_or(0);
                    (9, "EXPIRETIME_MS", format!("expires {ms} ms ({})", utc(ms)))
                }
                types::OP_EXPIRETIME => {
                    let ms = k.expire_ms.unwrap_or(0);
                    (
                        5,
                        "EXPIRETIME",
                        format!("expires {} s ({})", ms / 1000, utc(ms)),
                    )
                }
                types::OP_IDLE => {
                    let used = length_prefix(&b[1..]).map_or(1, |(_, u)| u);
                    let idle = k.lru_idle.unwrap_or(0);
                    (1 + used as u64, "IDLE", format!("LRU idle {idle} s"))
                }
                types::OP_FREQ => {
                    let f = k.lfu_freq.unwrap_or(0);
                    (2, "FREQ", format!("LFU counter {f}"))
                }
                _ => break,
            };
            self.line(Pos::File(at), len, 0, name, &meaning)?;
            at += len;
        }
        let tname = rdb_type_name(k.rdb_type).unwrap_or("unknown");
        let key_db = format!(
            "{tname} (RDB type {}), {} in db {}",
            k.rdb_type,
            self.paint.paint(Role::Key, quoted(&k.key, 40)),
            k.db
        );
        self.line(Pos::File(at), 1, 0, "type", &key_db)?;
        at += 1;
        at = self.string_line(at, 1, "key", &k.key)?;
        // What the reader read with the name: a count, a module id, a TTL base. A string's
        // value comes as its own item.
        let end = k.span.end();
        if k.value_type != ValueType::String && at < end {
            if matches!(
                k.rdb_type,
                types::TYPE_HASH_METADATA | types::TYPE_HASH_LISTPACK_EX
            ) {
                self.line(Pos::File(at), 8, 1, "min TTL", "smallest field TTL (ms)")?;
                at += 8;
            }
            if at < end {
                let what = match (k.rdb_type, &k.module) {
                    (_, Some(m)) => format!("module type {} (encver {}), id", m.name, m.encver),
                    (types::TYPE_LIST_QUICKLIST | types::TYPE_LIST_QUICKLIST_2, _) => {
                        "quicklist nodes:".into()
                    }
                    (
                        types::TYPE_STREAM_LISTPACKS
                        | types::TYPE_STREAM_LISTPACKS_2
                        | types::TYPE_STREAM_LISTPACKS_3,
                        _,
                    ) => "stream listpack nodes:".into(),
                    _ => "elements:".into(),
                };
                at = self.len_line(at, 1, "length", &what)?;
            }
            if at < end {
                self.line(Pos::File(at), end - at, 1, "…", "(rest of the key header)")?;
            }
            self.cursor = end;
        } else {
            self.cursor = at;
        }
        self.key = Some(KeyCtx {
            rdb_type: k.rdb_type,
            vt: k.value_type,
        });
        Ok(())
    }

    fn container(&mut self, c: &Container) -> io::Result<()> {
        self.close_container(Some(c.span.offset))?;
        let what = match &self.key {
            Some(k) if k.vt == ValueType::Stream => "(node master ID)",
            Some(k) if k.rdb_type == types::TYPE_LIST_QUICKLIST_2 => {
                "node container (1 plain, 2 packed)"
            }
            _ => "(not reported)",
        };
        if what == "(node master ID)" {
            // A 16-byte RDB string: big-endian ms and seq of the node's first ID.
            if let Some(id) = c.stream_master_id {
                let len = c.span.offset.saturating_sub(self.cursor);
                let at = self.cursor;
                self.line(
                    Pos::File(at),
                    len,
                    1,
                    "master ID",
                    &format!("node master ID {id}"),
                )?;
            }
        } else {
            self.gap(c.span.offset, 1, "container", what)?;
        }
        self.cursor = c.span.offset;
        let mut meaning = format!("{}, {} bytes", c.kind.as_str(), c.size);
        if c.compressed {
            meaning.push_str(&format!(
                ", LZF-compressed in {} bytes (entries shown at +positions inside)",
                c.span.len
            ));
        }
        self.line(
            Pos::File(c.span.offset),
            c.span.len,
            1,
            c.kind.as_str(),
            &meaning,
        )?;
        let inner = c.data_offset.unwrap_or(c.span.end());
        if let Some(d) = c.data_offset {
            self.len_line(c.span.offset, 2, "length", "string length")?;
            debug_assert!(d >= c.span.offset);
        }
        self.container = Some(Open {
            c: c.clone(),
            inner,
            entries: 0,
        });
        Ok(())
    }

    fn item(
        &mut self,
        item: &Item,
        span: Span,
        packed: Option<crate::rdb::PackedPos>,
    ) -> io::Result<()> {
        let in_container = packed.is_some()
            || self
                .container
                .as_ref()
                .is_some_and(|o| o.c.kind == ContainerKind::Plain && span.offset < o.c.span.end());
        if !in_container {
            self.close_container(Some(span.offset))?;
        }
        let (field, meaning) = describe(item);
        if in_container {
            let Some(o) = self.container.as_mut() else {
                return Ok(());
            };
            o.entries += 1;
            let first = o.entries == 1;
            let compressed = o.c.compressed;
            let kind = o.c.kind;
            if compressed {
                let pos = packed.map_or(0, |p| p.pos);
                let len = packed.map_or(span.len, |p| u64::from(p.len));
                return self.line(Pos::Inside(pos), len, 2, field, &meaning);
            }
            let what = if first {
                match (kind, &self.key) {
                    (ContainerKind::Listpack, Some(k)) if k.vt == ValueType::Stream => {
                        "listpack header + master entry"
                    }
                    (ContainerKind::Listpack, _) => "listpack header: total bytes, entries",
                    (ContainerKind::Ziplist, _) => "ziplist header: bytes, tail, entries",
                    (ContainerKind::Intset, _) => "intset header: width, count",
                    (ContainerKind::Zipmap, _) => "zipmap header: count",
                    (ContainerKind::Plain, _) => "(not reported)",
                }
            } else {
                "(not reported)"
            };
            let gfield = if first { "header" } else { "…" };
            self.gap(span.offset, 2, gfield, what)?;
            self.line(Pos::File(span.offset), span.len, 2, field, &meaning)?;
            if let Some(o) = self.container.as_mut() {
                o.inner = span.end();
            }
            return Ok(());
        }
        let (gfield, what) = match item {
            Item::StreamConsumer { .. } | Item::StreamGroup { .. } => ("consumers", "consumers"),
            _ => ("…", "(not reported)"),
        };
        self.gap(span.offset, 1, gfield, what)?;
        self.cursor = self.cursor.max(span.offset);
        match item {
            Item::String(v) => {
                self.string_line(span.offset, 1, "value", v)?;
            }
            Item::ListElement(v) | Item::SetMember(v) => {
                self.string_line(span.offset, 1, field, v)?;
            }
            _ => self.line(Pos::File(span.offset), span.len, 1, field, &meaning)?,
        }
        self.cursor = span.end();
        Ok(())
    }
}

/// Where a line's bytes are.
#[derive(Clone, Copy)]
enum Pos {
    /// At this offset of the file.
    File(u64),
    /// At this position inside a compressed container.
    Inside(u32),
}

/// The field name and meaning of an element.
fn describe(item: &Item) -> (&'static str, String) {
    match item {
        Item::String(v) => ("value", quoted(v, 48).to_string()),
        Item::ListElement(v) => ("element", quoted(v, 48).to_string()),
        Item::SetMember(v) => ("member", quoted(v, 48).to_string()),
        Item::ZSetMember { member, score } => (
            "member",
            format!("{} score {}", quoted(member, 40), score_text(*score)),
        ),
        Item::HashField {
            field,
            value,
            expire_ms,
        } => {
            let mut m = format!("{} = {}", quoted(field, 32), quoted(value, 32));
            if let Some(ms) = expire_ms {
                m.push_str(&format!(" (field expires {})", utc(*ms as i64)));
            }
            ("field", m)
        }
        Item::StreamEntry {
            id,
            deleted,
            fields,
        } => {
            let mut m = format!("{id}");
            if *deleted {
                m.push_str(" (deleted)");
            }
            for (i, (f, v)) in fields.iter().enumerate().take(3) {
                m.push_str(if i == 0 { " " } else { ", " });
                m.push_str(&format!("{} {}", quoted(f, 16), quoted(v, 16)));
            }
            if fields.len() > 3 {
                m.push_str(", …");
            }
            ("entry", m)
        }
        Item::StreamMeta {
            length,
            last_id,
            first_id,
            max_deleted_id,
            entries_added,
        } => {
            let mut m = format!("length {length}, last ID {last_id}");
            if let Some(f) = first_id {
                m.push_str(&format!(", first ID {f}"));
            }
            if let Some(d) = max_deleted_id {
                m.push_str(&format!(", max deleted {d}"));
            }
            if let Some(n) = entries_added {
                m.push_str(&format!(", entries added {n}"));
            }
            m.push_str(", then the group count");
            ("stream meta", m)
        }
        Item::StreamGroup {
            name,
            last_id,
            entries_read,
        } => {
            let mut m = format!("group {} last ID {last_id}", quoted(name, 32));
            if let Some(n) = entries_read {
                m.push_str(&format!(", entries read {n}"));
            }
            m.push_str(", then its PEL size");
            ("group", m)
        }
        Item::StreamPending {
            id,
            delivery_time_ms,
            delivery_count,
        } => (
            "pending",
            format!(
                "{id} delivered {}, {delivery_count} time(s)",
                utc(*delivery_time_ms)
            ),
        ),
        Item::StreamConsumer {
            name,
            seen_time_ms,
            active_time_ms,
        } => {
            let mut m = format!("consumer {} seen {}", quoted(name, 32), utc(*seen_time_ms));
            if let Some(a) = active_time_ms {
                m.push_str(&format!(", active {a}"));
            }
            m.push_str(", then its PEL size");
            ("consumer", m)
        }
        Item::StreamConsumerPending { id } => ("owns", format!("pending entry {id}")),
        Item::ModuleValue => ("module data", "opaque module data (skipped)".to_string()),
    }
}

impl<W: Write> Sink for Layout<W> {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        let span = ev.span();
        match ev {
            Event::KeyStart(_) | Event::Item { .. } | Event::Container(_) => {}
            _ => {
                self.close_container(None)?;
                if !matches!(ev, Event::KeyEnd(_)) {
                    let label = if self.filtered && self.key.is_none() {
                        "(keys not shown)"
                    } else {
                        "(not reported)"
                    };
                    self.gap(span.offset, 0, "…", label)?;
                    self.cursor = self.cursor.max(span.offset);
                }
            }
        }
        match ev {
            Event::Header { version, .. } => {
                let m = format!("signature and RDB version {version}");
                self.line(Pos::File(span.offset), span.len, 0, "header", &m)?;
            }
            Event::Aux { name, value, .. } => {
                let m = format!("{} = {}", quoted(name, 32), quoted(value, 48));
                self.line(Pos::File(span.offset), 1, 0, "AUX", &m)?;
                let at = self.string_line(span.offset + 1, 1, "name", name)?;
                self.string_line(at, 1, "value", value)?;
            }
            Event::SelectDb { db, .. } => {
                let m = format!("the keys that follow are in db {db}");
                self.line(Pos::File(span.offset), 1, 0, "SELECTDB", &m)?;
                self.len_line(span.offset + 1, 1, "db", "db number")?;
            }
            Event::ResizeDb {
                db_size,
                expires_size,
                ..
            } => {
                let m = format!("{db_size} keys, {expires_size} with an expiry");
                self.line(Pos::File(span.offset), 1, 0, "RESIZEDB", &m)?;
                let at = self.len_line(span.offset + 1, 1, "db size", "keys")?;
                self.len_line(at, 1, "expires size", "keys with an expiry")?;
            }
            Event::SlotInfo { slot, .. } => {
                let m = format!("cluster slot {slot}");
                self.line(Pos::File(span.offset), span.len, 0, "SLOT_INFO", &m)?;
            }
            Event::Function { code, .. } => {
                self.line(
                    Pos::File(span.offset),
                    1,
                    0,
                    "FUNCTION2",
                    "a function library",
                )?;
                self.string_line(span.offset + 1, 1, "code", code)?;
            }
            Event::FunctionPreGa { name, .. } => {
                let m = format!("pre-GA function {}", quoted(name, 32));
                self.line(Pos::File(span.offset), span.len, 0, "FUNCTION", &m)?;
            }
            Event::ModuleAux { module, .. } => {
                let m = format!("module {} aux data (skipped)", module.name);
                self.line(Pos::File(span.offset), span.len, 0, "MODULE_AUX", &m)?;
            }
            Event::KeyStart(k) => self.key_start(k)?,
            Event::Container(c) => self.container(c)?,
            Event::Item { item, span, packed } => self.item(item, *span, *packed)?,
            Event::KeyEnd(k) => {
                let (field, what) = match &self.key {
                    Some(kc) if kc.vt == ValueType::Stream => ("consumers", "consumers"),
                    _ => ("…", "(not reported)"),
                };
                self.gap(k.span.end(), 1, field, what)?;
                self.key = None;
            }
            Event::Eof {
                stored, computed, ..
            } => {
                self.line(Pos::File(span.offset), 1, 0, "EOF", "end of the data")?;
                if span.len > 1 {
                    let p = self.paint;
                    let m = match stored {
                        Some(0) => "CRC-64 disabled (rdbchecksum no)".to_string(),
                        Some(s) if s == computed => {
                            format!("CRC-64 {s:016x} {}", p.paint(Role::Good, "OK"))
                        }
                        Some(s) => format!(
                            "CRC-64 {s:016x} {} (computed {computed:016x})",
                            p.paint(Role::Bad, "MISMATCH")
                        ),
                        None => String::new(),
                    };
                    self.line(Pos::File(span.offset + 1), span.len - 1, 0, "checksum", &m)?;
                }
            }
        }
        if !matches!(
            ev,
            Event::KeyStart(_) | Event::Item { .. } | Event::Container(_)
        ) {
            self.cursor = self.cursor.max(span.end());
        }
        Ok(())
    }

    fn error(&mut self, err: &ReadError) -> io::Result<()> {
        self.close_container(None)?;
        if let ReadError::Rdb(e) = err {
            let p = self.paint;
            let m = p.paint(Role::Bad, format!("{} ({})", e.kind, e.phase));
            self.line(Pos::File(e.offset), 1, 0, "ERROR", &m)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
