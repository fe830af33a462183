//! `rtool aof dump`: the events of [`crate::aof::reader`] for every file of an AOF, shown as a
//! readable listing, JSON Lines, RESP, hex dumps or statistics.
//!
//! [`dump_file`] drives one file through the reader, keeps what the events imply but do not
//! say (the database a `SELECT` chose, the time of the last `#TS:` line), applies the
//! [`AofFilter`] and hands the survivors to an [`AofSink`]. An RDB preamble is shown by the
//! `rdb dump` printers themselves ([`super::table`], [`super::json`], [`super::resp`],
//! [`super::hex`]), so a base file reads exactly like the same RDB under `rtool rdb dump`.
//!
//! JSON records (one object a line; bytes are `{"text": ...}` when UTF-8, else
//! `{"bytes": <base64>}`, as in `rdb dump`):
//! - `{"type":"manifest_file","file","kind","seq","size","loaded"}` — one per manifest entry;
//! - `{"type":"command","file","offset","len","db","ts","cmd","args":[...]}` — `ts` is the last
//!   `#TS:` seen in that file (unix seconds) or null, `cmd` the lowercased name and `args` the
//!   other arguments, all as bytes objects;
//! - `{"type":"annotation","file","offset","len","ts","text"}`;
//! - `{"file":..., "type":<rdb record>, "data":{...}}` — the preamble, `rdb dump`'s records
//!   with the file added;
//! - `{"type":"error","file","offset","message"}` when a file cannot be read to its end.
//!
//! `--stats --format json` writes `file` records (size, preamble, command and annotation
//! bytes), then `command` (count and bytes per name), `key_prefix` and `db` records.

use super::hex::{HexDump, HexMode};
use super::json::{JsonLines, bin};
use super::layout::ByteSource;
use super::resp::{RespCommands, write_cmd};
use super::table::KeyTable;
use super::{Paint, Role, Sink, human_bytes, quoted, utc};
use crate::aof::layout::{Layout, Part};
use crate::aof::reader::{AofError, AofErrorKind, Event, Reader};
use crate::cmd::table::Table;
use crate::rdb;
use bytes::Bytes;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::rc::Rc;

/// Which records to show (`--db`, `--key`, `--cmd`). Annotations and the preamble's non-key
/// records (header, aux fields, checksum) describe the file and are always shown.
#[derive(Clone, Debug, Default)]
pub struct AofFilter {
    pub db: Option<u64>,
    /// A glob (Redis's `KEYS` syntax) matched against every key a command names.
    pub key: Option<Vec<u8>>,
    /// Lowercased command names; when set, the preamble's keys are not shown (they are no
    /// command).
    pub cmd: Vec<Vec<u8>>,
}

impl AofFilter {
    fn command(&self, db: u64, args: &[Bytes], keys: &[&[u8]]) -> bool {
        let name = args.first().map(|a| &a[..]).unwrap_or_default();
        self.db.is_none_or(|d| d == db)
            && (self.cmd.is_empty() || self.cmd.iter().any(|c| name.eq_ignore_ascii_case(c)))
            && self
                .key
                .as_ref()
                .is_none_or(|g| keys.iter().any(|k| crate::glob::matches(g, k, false)))
    }

    fn rdb_key(&self, k: &rdb::KeyStart) -> bool {
        self.cmd.is_empty()
            && self.db.is_none_or(|d| d == k.db)
            && self
                .key
                .as_ref()
                .is_none_or(|g| crate::glob::matches(g, &k.key, false))
    }
}

/// A command as the printers see it: where it is, the database it applies to, the time of
/// the `#TS:` line before it.
pub struct Command<'a> {
    pub file: &'a str,
    pub offset: u64,
    pub len: u64,
    pub db: u64,
    pub ts: Option<i64>,
    pub args: &'a [Bytes],
    /// The arguments that are keys (from the command table's key positions).
    pub keys: &'a [&'a [u8]],
}

/// A printer of AOF dumps. Errors returned are output errors, never decoding errors.
pub trait AofSink {
    /// The layout, before any file (the manifest explained).
    fn layout(&mut self, _layout: &Layout) -> io::Result<()> {
        Ok(())
    }
    fn file_start(&mut self, _part: &Part, _src: Box<dyn ByteSource>) -> io::Result<()> {
        Ok(())
    }
    /// An event of the file's RDB preamble (keys already filtered).
    fn rdb(&mut self, _part: &Part, _ev: &rdb::Event) -> io::Result<()> {
        Ok(())
    }
    fn rdb_end(&mut self, _part: &Part, _offset: u64) -> io::Result<()> {
        Ok(())
    }
    fn annotation(
        &mut self,
        _part: &Part,
        _offset: u64,
        _len: u64,
        _ts: Option<i64>,
        _text: &[u8],
    ) -> io::Result<()> {
        Ok(())
    }
    fn command(&mut self, c: &Command) -> io::Result<()>;
    /// The file was read to `end`; `error` says why it stopped early, if it did.
    fn file_end(&mut self, _part: &Part, _end: u64, _error: Option<&AofError>) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What reading one file found.
#[derive(Debug, Default)]
pub struct FileOutcome {
    pub commands: u64,
    pub shown: u64,
    pub error: Option<AofError>,
}

/// The keys a command names, from Redis's key positions (first, last, step; a negative last
/// counts from the end). Commands whose keys depend on other arguments (`EVAL`'s numkeys,
/// `ZUNIONSTORE`'s sources) give the keys at their fixed positions only.
pub fn command_keys<'a>(table: &Table, args: &'a [Bytes]) -> Vec<&'a [u8]> {
    let Some(name) = args.first() else {
        return Vec::new();
    };
    let Some(mut i) = table.lookup(name) else {
        return Vec::new();
    };
    if !table.specs[i].subcommands.is_empty()
        && let Some(sub) = args.get(1).and_then(|s| table.lookup_sub(i, s))
    {
        i = sub;
    }
    let s = &table.specs[i];
    let argc = args.len() as i64;
    let (first, step) = (s.first_key as i64, s.step.max(1) as i64);
    if first <= 0 {
        return Vec::new();
    }
    let last = if s.last_key < 0 {
        argc + s.last_key as i64
    } else {
        s.last_key as i64
    };
    let mut keys = Vec::new();
    let mut k = first;
    while k <= last && k < argc {
        keys.push(&args[k as usize][..]);
        k += step;
    }
    keys
}

/// Reads one file through the AOF reader into `sink`, tracking `SELECT` and `#TS:`.
pub fn dump_file(
    part: &Part,
    mut input: impl Read,
    allow_preamble: bool,
    filter: &AofFilter,
    table: &Table,
    sink: &mut dyn AofSink,
) -> io::Result<FileOutcome> {
    let mut reader = Reader::new().allow_preamble(allow_preamble);
    let mut st = DumpState {
        db: 0,
        ts: None,
        skipping: false,
        out: FileOutcome::default(),
    };
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match input.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        reader.feed(&chunk[..n]);
        if !st.drain(&mut reader, part, filter, table, sink)? {
            sink.file_end(part, reader.offset(), st.out.error.as_ref())?;
            return Ok(st.out);
        }
    }
    if let Err(e) = reader.finish() {
        st.out.error = Some(e);
    }
    // finish() may have queued the last records (an unterminated annotation).
    st.drain(&mut reader, part, filter, table, sink)?;
    sink.file_end(part, reader.offset(), st.out.error.as_ref())?;
    Ok(st.out)
}

struct DumpState {
    db: u64,
    ts: Option<i64>,
    /// Inside a preamble key the filter rejected.
    skipping: bool,
    out: FileOutcome,
}

impl DumpState {
    /// Hands out every decoded event; false once decoding failed.
    fn drain(
        &mut self,
        reader: &mut Reader,
        part: &Part,
        filter: &AofFilter,
        table: &Table,
        sink: &mut dyn AofSink,
    ) -> io::Result<bool> {
        loop {
            let ev = match reader.next_event() {
                Ok(Some(ev)) => ev,
                Ok(None) => return Ok(true),
                Err(e) => {
                    if self.out.error.is_none() {
                        self.out.error = Some(e);
                    }
                    return Ok(false);
                }
            };
            match ev {
                Event::Rdb(ev) => {
                    match &ev {
                        rdb::Event::KeyStart(k) => {
                            self.skipping = !filter.rdb_key(k);
                            if self.skipping {
                                continue;
                            }
                        }
                        rdb::Event::KeyEnd(_) if std::mem::take(&mut self.skipping) => continue,
                        _ if self.skipping => continue,
                        _ => {}
                    }
                    sink.rdb(part, &ev)?;
                }
                Event::RdbEnd { offset } => sink.rdb_end(part, offset)?,
                Event::Annotation {
                    offset,
                    len,
                    timestamp,
                    text,
                } => {
                    if timestamp.is_some() {
                        self.ts = timestamp;
                    }
                    sink.annotation(part, offset, len, timestamp, &text)?;
                }
                Event::Command { offset, len, args } => {
                    self.out.commands += 1;
                    // The loader's fake client: SELECT changes the database for what follows.
                    if args.len() == 2
                        && args[0].eq_ignore_ascii_case(b"select")
                        && let Some(db) = std::str::from_utf8(&args[1])
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                    {
                        self.db = db;
                    }
                    let keys = command_keys(table, &args);
                    if !filter.command(self.db, &args, &keys) {
                        continue;
                    }
                    self.out.shown += 1;
                    sink.command(&Command {
                        file: &part.name,
                        offset,
                        len,
                        db: self.db,
                        ts: self.ts,
                        args: &args,
                        keys: &keys,
                    })?;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared output: the AOF printer and the RDB printer it delegates to write to one stream.
// ---------------------------------------------------------------------------------------------

/// A clonable handle on one writer.
pub struct Shared<W>(Rc<RefCell<W>>);

impl<W> Clone for Shared<W> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<W: Write> Shared<W> {
    pub fn new(w: W) -> Shared<W> {
        Shared(Rc::new(RefCell::new(w)))
    }
}

impl<W: Write> Write for Shared<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// A name for a manifest entry's role.
fn kind_name(p: &Part) -> &'static str {
    p.kind.map_or("file", |k| k.name())
}

/// Text explaining each manifest entry (for the readable view).
fn explain_layout(out: &mut impl Write, layout: &Layout, paint: Paint) -> io::Result<()> {
    let Layout::Multi {
        manifest_path,
        parts,
        ..
    } = layout
    else {
        return Ok(());
    };
    writeln!(
        out,
        "{}",
        paint.paint(
            Role::Heading,
            format!(
                "{}: multi-part AOF, {} file(s); loading reads the base, then each incr file in order",
                manifest_path.display(),
                parts.len()
            )
        )
    )?;
    let w = parts.iter().map(|p| p.name.len()).max().unwrap_or(4).max(4);
    writeln!(
        out,
        "  {:<w$}  {:<7}  {:>4}  {:>10}  LOADED",
        "FILE", "TYPE", "SEQ", "SIZE"
    )?;
    for p in parts {
        let size = p.size.map_or("missing".to_string(), |s| s.to_string());
        let loaded = match (p.loaded, p.size) {
            (true, Some(_)) => "yes".to_string(),
            (true, None) => paint.paint(Role::Bad, "yes, but the file is missing"),
            (false, _) => "no (history: replaced by a rewrite, deleted soon after)".to_string(),
        };
        writeln!(
            out,
            "  {:<w$}  {:<7}  {:>4}  {:>10}  {loaded}",
            p.name,
            kind_name(p),
            p.seq.unwrap_or(0),
            size
        )?;
    }
    writeln!(out)
}

/// An argument for people: bare when it is plain text, quoted otherwise.
fn arg_text(a: &[u8]) -> String {
    let plain = !a.is_empty()
        && a.len() <= 64
        && a.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b":_-.+*/@$%^&=<>,;![]{}|~".contains(&c));
    if plain {
        String::from_utf8_lossy(a).into_owned()
    } else {
        quoted(a, 64).to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// The readable view
// ---------------------------------------------------------------------------------------------

/// The default view: the manifest explained, then per file a heading, the preamble as
/// `rdb dump`'s table, and one line per record: offset, length, database, command.
pub struct AofText<W: Write> {
    out: Shared<W>,
    paint: Paint,
    width: Option<u16>,
    table: Option<KeyTable<Shared<W>>>,
    header_due: bool,
}

impl<W: Write> AofText<W> {
    pub fn new(out: W, paint: Paint, width: Option<u16>) -> AofText<W> {
        AofText {
            out: Shared::new(out),
            paint,
            width,
            table: None,
            header_due: true,
        }
    }

    fn column_header(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.header_due) {
            let h = format!("{:>10}  {:>6}  {:>3}  COMMAND", "OFFSET", "LEN", "DB");
            writeln!(self.out, "{}", self.paint.paint(Role::Heading, h))?;
        }
        Ok(())
    }

    fn end_table(&mut self) -> io::Result<()> {
        if let Some(mut t) = self.table.take() {
            t.finish()?;
        }
        Ok(())
    }
}

impl<W: Write> AofSink for AofText<W> {
    fn layout(&mut self, layout: &Layout) -> io::Result<()> {
        explain_layout(&mut self.out, layout, self.paint)
    }

    fn file_start(&mut self, part: &Part, _src: Box<dyn ByteSource>) -> io::Result<()> {
        let mut h = format!("== {}", part.name);
        if let (Some(k), Some(seq)) = (part.kind, part.seq) {
            h.push_str(&format!(" ({}, seq {seq})", k.name()));
        }
        if let Some(s) = part.size {
            h.push_str(&format!(", {s} bytes"));
        }
        writeln!(self.out, "{}", self.paint.paint(Role::Heading, h))?;
        self.header_due = true;
        Ok(())
    }

    fn rdb(&mut self, _part: &Part, ev: &rdb::Event) -> io::Result<()> {
        let t = self
            .table
            .get_or_insert_with(|| KeyTable::new(self.out.clone(), self.paint, self.width));
        t.event(ev)
    }

    fn rdb_end(&mut self, _part: &Part, offset: u64) -> io::Result<()> {
        self.end_table()?;
        writeln!(
            self.out,
            "{}",
            self.paint.paint(
                Role::Offset,
                format!("-- RDB preamble ends at offset {offset}")
            )
        )
    }

    fn annotation(
        &mut self,
        _part: &Part,
        offset: u64,
        len: u64,
        ts: Option<i64>,
        text: &[u8],
    ) -> io::Result<()> {
        self.column_header()?;
        let when = ts.map_or(String::new(), |t| {
            format!("  = {}", utc(t.saturating_mul(1000)))
        });
        writeln!(
            self.out,
            "{}  {}{}",
            self.paint
                .paint(Role::Offset, format!("{offset:>10}  {len:>6}")),
            self.paint
                .paint(Role::Opcode, format!("     {}", quoted(text, 200))),
            when
        )
    }

    fn command(&mut self, c: &Command) -> io::Result<()> {
        self.column_header()?;
        let mut line = String::new();
        for (i, a) in c.args.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            let t = arg_text(a);
            let role = if i == 0 {
                Role::Opcode
            } else if c.keys.iter().any(|k| k.as_ptr() == a.as_ptr()) {
                Role::Key
            } else {
                Role::Value
            };
            line.push_str(&self.paint.paint(role, t));
        }
        writeln!(
            self.out,
            "{}  {:>3}  {line}",
            self.paint
                .paint(Role::Offset, format!("{:>10}  {:>6}", c.offset, c.len)),
            c.db
        )
    }

    fn file_end(&mut self, _part: &Part, end: u64, error: Option<&AofError>) -> io::Result<()> {
        self.end_table()?;
        match error {
            Some(e) => {
                writeln!(self.out, "{}", self.paint.paint(Role::Bad, e))?;
                if let AofErrorKind::Truncated { valid_up_to } = e.kind {
                    writeln!(
                        self.out,
                        "-- Redis loads this as the last file with aof-load-truncated yes (the default), cutting it at offset {valid_up_to}"
                    )?;
                }
            }
            None => writeln!(
                self.out,
                "{}",
                self.paint
                    .paint(Role::Offset, format!("-- end of file at offset {end}"))
            )?,
        }
        writeln!(self.out)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

// ---------------------------------------------------------------------------------------------
// JSON Lines
// ---------------------------------------------------------------------------------------------

/// Inserts `"file":<name>,` at the start of every JSON object line `rdb dump`'s printer writes.
struct FileTag<W: Write> {
    out: Shared<W>,
    tag: Vec<u8>,
    at_line_start: bool,
}

impl<W: Write> Write for FileTag<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            if self.at_line_start && rest[0] == b'{' {
                self.out.write_all(b"{")?;
                self.out.write_all(&self.tag)?;
                rest = &rest[1..];
                self.at_line_start = false;
                continue;
            }
            let n = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            self.out.write_all(&rest[..n])?;
            self.at_line_start = rest[n - 1] == b'\n';
            rest = &rest[n..];
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// NDJSON (see the module docs for the records).
pub struct AofJson<W: Write> {
    out: Shared<W>,
    rdb: Option<JsonLines<FileTag<W>>>,
}

impl<W: Write> AofJson<W> {
    pub fn new(out: W) -> AofJson<W> {
        AofJson {
            out: Shared::new(out),
            rdb: None,
        }
    }

    fn line(&mut self, l: &mut Vec<u8>) -> io::Result<()> {
        l.extend_from_slice(b"}\n");
        self.out.write_all(l)
    }
}

/// `"name":` then a JSON string.
fn field_str(l: &mut Vec<u8>, name: &str, v: &str) {
    l.extend_from_slice(format!(",\"{name}\":").as_bytes());
    let _ = serde_json::to_writer(&mut *l, v);
}

fn start(kind: &str, file: &str) -> Vec<u8> {
    let mut l = format!("{{\"type\":\"{kind}\"").into_bytes();
    field_str(&mut l, "file", file);
    l
}

impl<W: Write> AofSink for AofJson<W> {
    fn layout(&mut self, layout: &Layout) -> io::Result<()> {
        if let Layout::Multi { parts, .. } = layout {
            for p in parts {
                let mut l = start("manifest_file", &p.name);
                field_str(&mut l, "kind", kind_name(p));
                l.extend_from_slice(
                    format!(
                        ",\"seq\":{},\"size\":{},\"loaded\":{}",
                        p.seq.unwrap_or(0),
                        p.size.map_or("null".to_string(), |s| s.to_string()),
                        p.loaded
                    )
                    .as_bytes(),
                );
                self.line(&mut l)?;
            }
        }
        Ok(())
    }

    fn rdb(&mut self, part: &Part, ev: &rdb::Event) -> io::Result<()> {
        let out = self.out.clone();
        let j = self.rdb.get_or_insert_with(|| {
            let mut tag = b"\"file\":".to_vec();
            let _ = serde_json::to_writer(&mut tag, &part.name);
            tag.push(b',');
            JsonLines::new(FileTag {
                out,
                tag,
                at_line_start: true,
            })
        });
        j.event(ev)
    }

    fn rdb_end(&mut self, _part: &Part, _offset: u64) -> io::Result<()> {
        if let Some(mut j) = self.rdb.take() {
            j.finish()?;
        }
        Ok(())
    }

    fn annotation(
        &mut self,
        part: &Part,
        offset: u64,
        len: u64,
        ts: Option<i64>,
        text: &[u8],
    ) -> io::Result<()> {
        let mut l = start("annotation", &part.name);
        l.extend_from_slice(
            format!(
                ",\"offset\":{offset},\"len\":{len},\"ts\":{},\"text\":",
                ts.map_or("null".to_string(), |t| t.to_string())
            )
            .as_bytes(),
        );
        bin(&mut l, text);
        self.line(&mut l)
    }

    fn command(&mut self, c: &Command) -> io::Result<()> {
        let mut l = start("command", c.file);
        l.extend_from_slice(
            format!(
                ",\"offset\":{},\"len\":{},\"db\":{},\"ts\":{}",
                c.offset,
                c.len,
                c.db,
                c.ts.map_or("null".to_string(), |t| t.to_string())
            )
            .as_bytes(),
        );
        let name = c
            .args
            .first()
            .map(|a| a.to_ascii_lowercase())
            .unwrap_or_default();
        l.extend_from_slice(b",\"cmd\":");
        bin(&mut l, &name);
        l.extend_from_slice(b",\"args\":[");
        for (i, a) in c.args.iter().skip(1).enumerate() {
            if i > 0 {
                l.push(b',');
            }
            bin(&mut l, a);
        }
        l.push(b']');
        self.line(&mut l)
    }

    fn file_end(&mut self, part: &Part, _end: u64, error: Option<&AofError>) -> io::Result<()> {
        if let Some(mut j) = self.rdb.take() {
            j.finish()?;
        }
        if let Some(e) = error {
            let mut l = start("error", &part.name);
            l.extend_from_slice(format!(",\"offset\":{}", e.offset).as_bytes());
            field_str(&mut l, "message", &e.to_string());
            self.line(&mut l)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

// ---------------------------------------------------------------------------------------------
// RESP
// ---------------------------------------------------------------------------------------------

/// The commands themselves, for `redis-cli --pipe`: the preamble as `rdb dump --format resp`
/// writes it, then each shown command as it is in the file. `SELECT`s are written where the
/// shown commands change database (the file's own are left out, since a filter may have
/// dropped what they applied to).
pub struct AofResp<W: Write> {
    out: Shared<W>,
    rdb: Option<RespCommands<Shared<W>>>,
    db: Option<u64>,
}

impl<W: Write> AofResp<W> {
    pub fn new(out: W) -> AofResp<W> {
        AofResp {
            out: Shared::new(out),
            rdb: None,
            db: None,
        }
    }
}

impl<W: Write> AofSink for AofResp<W> {
    fn rdb(&mut self, _part: &Part, ev: &rdb::Event) -> io::Result<()> {
        let out = self.out.clone();
        // The preamble's printer selects databases itself; after it, say ours again.
        self.db = None;
        self.rdb
            .get_or_insert_with(|| RespCommands::new(out))
            .event(ev)
    }

    fn rdb_end(&mut self, _part: &Part, _offset: u64) -> io::Result<()> {
        if let Some(mut r) = self.rdb.take() {
            r.finish()?;
        }
        Ok(())
    }

    fn command(&mut self, c: &Command) -> io::Result<()> {
        if c.args
            .first()
            .is_some_and(|a| a.eq_ignore_ascii_case(b"select"))
        {
            return Ok(());
        }
        if self.db != Some(c.db) {
            self.db = Some(c.db);
            write_cmd(&mut self.out, &[b"SELECT", c.db.to_string().as_bytes()])?;
        }
        let args: Vec<&[u8]> = c.args.iter().map(|a| &a[..]).collect();
        write_cmd(&mut self.out, &args)
    }

    fn file_end(&mut self, _part: &Part, _end: u64, _error: Option<&AofError>) -> io::Result<()> {
        self.rdb_end(_part, 0)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

// ---------------------------------------------------------------------------------------------
// Hex
// ---------------------------------------------------------------------------------------------

/// hexyl dumps: each shown command's bytes (and each preamble key's, as `rdb dump --hex`).
pub struct AofHex<W: Write> {
    out: Shared<W>,
    paint: Paint,
    src: Option<Rc<dyn ByteSource>>,
    rdb: Option<HexDump<Shared<W>>>,
}

impl<W: Write> AofHex<W> {
    pub fn new(out: W, paint: Paint) -> AofHex<W> {
        AofHex {
            out: Shared::new(out),
            paint,
            src: None,
            rdb: None,
        }
    }
}

/// A shared byte source, so the AOF and RDB hex printers read the same file.
struct RcSource(Rc<dyn ByteSource>);

impl ByteSource for RcSource {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_at(offset, buf)
    }
}

/// Sequential reads of `[pos, end)` of a byte source.
struct Range<'a> {
    src: &'a dyn ByteSource,
    pos: u64,
    end: u64,
}

impl Read for Range<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.end.saturating_sub(self.pos) as usize);
        if n == 0 {
            return Ok(0);
        }
        let got = self.src.read_at(self.pos, &mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl<W: Write> AofHex<W> {
    fn dump(&mut self, offset: u64, len: u64) -> io::Result<()> {
        let Some(src) = self.src.clone() else {
            return Ok(());
        };
        let mut p = hexyl::PrinterBuilder::new(&mut self.out)
            .show_color(self.paint.on)
            .with_border_style(hexyl::BorderStyle::Unicode)
            .build();
        p.display_offset(offset);
        p.print_all(Range {
            src: &*src,
            pos: offset,
            end: offset + len,
        })
    }
}

impl<W: Write> AofSink for AofHex<W> {
    fn file_start(&mut self, part: &Part, src: Box<dyn ByteSource>) -> io::Result<()> {
        let src: Rc<dyn ByteSource> = Rc::from(src);
        self.src = Some(src);
        let h = format!("== {}", part.name);
        writeln!(self.out, "{}", self.paint.paint(Role::Heading, h))
    }

    fn rdb(&mut self, _part: &Part, ev: &rdb::Event) -> io::Result<()> {
        let (out, paint) = (self.out.clone(), self.paint);
        let Some(src) = self.src.clone() else {
            return Ok(());
        };
        self.rdb
            .get_or_insert_with(|| HexDump::new(out, Box::new(RcSource(src)), paint, HexMode::Keys))
            .event(ev)
    }

    fn rdb_end(&mut self, _part: &Part, _offset: u64) -> io::Result<()> {
        self.rdb = None;
        Ok(())
    }

    fn annotation(
        &mut self,
        _part: &Part,
        offset: u64,
        len: u64,
        _ts: Option<i64>,
        text: &[u8],
    ) -> io::Result<()> {
        let h = format!(
            "annotation {}: {len} bytes at {offset:#x}",
            quoted(text, 64)
        );
        writeln!(self.out, "{}", self.paint.paint(Role::Heading, h))?;
        self.dump(offset, len)
    }

    fn command(&mut self, c: &Command) -> io::Result<()> {
        let name = c.args.first().map(|a| quoted(a, 32).to_string());
        let h = format!(
            "db {} {} ({} args): {} bytes at {:#x}",
            c.db,
            name.unwrap_or_default(),
            c.args.len(),
            c.len,
            c.offset
        );
        writeln!(self.out, "{}", self.paint.paint(Role::Heading, h))?;
        self.dump(c.offset, c.len)
    }

    fn file_end(&mut self, _part: &Part, _end: u64, error: Option<&AofError>) -> io::Result<()> {
        self.rdb = None;
        if let Some(e) = error {
            writeln!(self.out, "{}", self.paint.paint(Role::Bad, e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

/// Counts per command name, key prefix (up to and including the first `:`) and database, and
/// bytes per file: what an AOF is made of before deciding to rewrite it.
pub struct AofStats<W: Write> {
    out: W,
    json: bool,
    by_cmd: BTreeMap<String, (u64, u64)>,
    by_prefix: BTreeMap<String, u64>,
    by_db: BTreeMap<u64, u64>,
    files: Vec<FileBytes>,
    preamble_keys: u64,
}

#[derive(Default)]
struct FileBytes {
    name: String,
    size: u64,
    preamble: u64,
    commands: u64,
    command_bytes: u64,
    annotations: u64,
    annotation_bytes: u64,
    error: Option<String>,
}

impl<W: Write> AofStats<W> {
    pub fn new(out: W, json: bool) -> AofStats<W> {
        AofStats {
            out,
            json,
            by_cmd: BTreeMap::new(),
            by_prefix: BTreeMap::new(),
            by_db: BTreeMap::new(),
            files: Vec::new(),
            preamble_keys: 0,
        }
    }

    fn cur(&mut self) -> &mut FileBytes {
        if self.files.is_empty() {
            self.files.push(FileBytes::default());
        }
        let n = self.files.len() - 1;
        &mut self.files[n]
    }
}

/// The prefix a key is counted under.
fn prefix(key: &[u8]) -> String {
    match memchr::memchr(b':', key) {
        Some(i) => format!("{}", quoted(&key[..=i], 40))
            .trim_matches('"')
            .to_string(),
        None => "(no prefix)".to_string(),
    }
}

impl<W: Write> AofSink for AofStats<W> {
    fn file_start(&mut self, part: &Part, _src: Box<dyn ByteSource>) -> io::Result<()> {
        self.files.push(FileBytes {
            name: part.name.clone(),
            size: part.size.unwrap_or(0),
            ..FileBytes::default()
        });
        Ok(())
    }

    fn rdb(&mut self, _part: &Part, ev: &rdb::Event) -> io::Result<()> {
        if let rdb::Event::KeyEnd(_) = ev {
            self.preamble_keys += 1;
        }
        Ok(())
    }

    fn rdb_end(&mut self, _part: &Part, offset: u64) -> io::Result<()> {
        self.cur().preamble = offset;
        Ok(())
    }

    fn annotation(
        &mut self,
        _part: &Part,
        _offset: u64,
        len: u64,
        _ts: Option<i64>,
        _text: &[u8],
    ) -> io::Result<()> {
        let f = self.cur();
        f.annotations += 1;
        f.annotation_bytes += len;
        Ok(())
    }

    fn command(&mut self, c: &Command) -> io::Result<()> {
        let name = c
            .args
            .first()
            .map(|a| String::from_utf8_lossy(&a.to_ascii_lowercase()).into_owned())
            .unwrap_or_default();
        let e = self.by_cmd.entry(name).or_default();
        e.0 += 1;
        e.1 += c.len;
        for k in c.keys {
            *self.by_prefix.entry(prefix(k)).or_default() += 1;
        }
        *self.by_db.entry(c.db).or_default() += 1;
        let f = self.cur();
        f.commands += 1;
        f.command_bytes += c.len;
        Ok(())
    }

    fn file_end(&mut self, _part: &Part, _end: u64, error: Option<&AofError>) -> io::Result<()> {
        self.cur().error = error.map(|e| e.to_string());
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.json {
            for f in &self.files {
                let mut l = start("file", &f.name);
                l.extend_from_slice(
                    format!(
                        ",\"size\":{},\"preamble_bytes\":{},\"commands\":{},\"command_bytes\":{},\"annotations\":{},\"annotation_bytes\":{}",
                        f.size, f.preamble, f.commands, f.command_bytes, f.annotations, f.annotation_bytes
                    )
                    .as_bytes(),
                );
                if let Some(e) = &f.error {
                    field_str(&mut l, "error", e);
                }
                l.extend_from_slice(b"}\n");
                self.out.write_all(&l)?;
            }
            for (name, (n, bytes)) in &self.by_cmd {
                let mut l = b"{\"type\":\"command\"".to_vec();
                field_str(&mut l, "cmd", name);
                l.extend_from_slice(format!(",\"count\":{n},\"bytes\":{bytes}}}\n").as_bytes());
                self.out.write_all(&l)?;
            }
            for (p, n) in &self.by_prefix {
                let mut l = b"{\"type\":\"key_prefix\"".to_vec();
                field_str(&mut l, "prefix", p);
                l.extend_from_slice(format!(",\"commands\":{n}}}\n").as_bytes());
                self.out.write_all(&l)?;
            }
            for (db, n) in &self.by_db {
                writeln!(self.out, "{{\"type\":\"db\",\"db\":{db},\"commands\":{n}}}")?;
            }
            return self.out.flush();
        }
        let o = &mut self.out;
        writeln!(o, "FILES")?;
        writeln!(
            o,
            "  {:<32} {:>10} {:>10} {:>9} {:>10} {:>6}",
            "file", "size", "preamble", "commands", "cmd bytes", "#TS"
        )?;
        for f in &self.files {
            writeln!(
                o,
                "  {:<32} {:>10} {:>10} {:>9} {:>10} {:>6}{}",
                f.name,
                f.size,
                f.preamble,
                f.commands,
                f.command_bytes,
                f.annotations,
                f.error
                    .as_ref()
                    .map_or(String::new(), |e| format!("  ({e})"))
            )?;
        }
        let total: u64 = self.files.iter().map(|f| f.size).sum();
        writeln!(o, "  total {} ({})", total, human_bytes(total))?;
        if self.preamble_keys > 0 {
            writeln!(o, "  RDB preamble keys: {}", self.preamble_keys)?;
        }
        writeln!(o, "\nCOMMANDS")?;
        let mut cmds: Vec<_> = self.by_cmd.iter().collect();
        cmds.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
        for (name, (n, bytes)) in cmds {
            writeln!(o, "  {name:<24} {n:>10} {bytes:>12} bytes")?;
        }
        writeln!(o, "\nKEY PREFIXES (commands naming a key with the prefix)")?;
        let mut ps: Vec<_> = self.by_prefix.iter().collect();
        ps.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (p, n) in ps {
            writeln!(o, "  {p:<24} {n:>10}")?;
        }
        writeln!(o, "\nDATABASES")?;
        for (db, n) in &self.by_db {
            writeln!(o, "  db{db:<22} {n:>10}")?;
        }
        o.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(args: &[&str]) -> Vec<String> {
        let table = Table::new(&[]);
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.to_string())).collect();
        command_keys(&table, &args)
            .into_iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    #[test]
    fn keys_from_redis_key_positions() {
        assert_eq!(keys(&["SET", "k", "v", "PXAT", "1"]), ["k"]);
        assert_eq!(keys(&["mset", "a", "1", "b", "2"]), ["a", "b"]);
        assert_eq!(keys(&["DEL", "a", "b", "c"]), ["a", "b", "c"]);
        assert_eq!(keys(&["SELECT", "1"]), Vec::<String>::new());
        assert_eq!(keys(&["nosuchcommand", "x"]), Vec::<String>::new());
        assert_eq!(keys(&["XSETID", "s", "1-0"]), ["s"]);
    }

    #[test]
    fn file_tag_goes_into_every_object_line() {
        let out = Shared::new(Vec::new());
        let mut t = FileTag {
            out: out.clone(),
            tag: b"\"file\":\"f\",".to_vec(),
            at_line_start: true,
        };
        t.write_all(b"{\"type\":\"a\"}\n{\"ty").unwrap();
        t.write_all(b"pe\":\"b\"}\n").unwrap();
        drop(t);
        let v = Rc::try_unwrap(out.0).ok().unwrap().into_inner();
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "{\"file\":\"f\",\"type\":\"a\"}\n{\"file\":\"f\",\"type\":\"b\"}\n"
        );
    }
}
