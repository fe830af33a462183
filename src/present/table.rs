//! The default view of `rdb dump`: the file's header line, then a table with one row per key
//! (db, key, type, encoding, expiry, size, a value preview), then the checksum verdict.
//!
//! A table needs all its rows to size its columns, and a file can hold millions of keys, so
//! rows are printed in tables of at most [`ROWS_PER_TABLE`]: memory stays bounded and output
//! starts early. A preview keeps only the first few elements of a value, however big it is.

use super::{Paint, Role, Sink, quoted, utc};
use crate::rdb::{Event, Item, ReadError, ValueType};
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};
use std::io::{self, Write};

/// Rows per printed table.
pub const ROWS_PER_TABLE: usize = 1000;
/// Characters of preview at most (elements are cut to fit, then `…`).
const PREVIEW_CHARS: usize = 60;

/// The table printer.
pub struct KeyTable<W: Write> {
    out: W,
    paint: Paint,
    /// Terminal width to wrap the table to, if any (none: never wrap, e.g. into a pipe).
    width: Option<u16>,
    rows: Vec<Row>,
    /// The key being read.
    cur: Option<Row>,
    /// `ctime` aux field (unix seconds): expiries are also shown relative to it.
    ctime: Option<i64>,
    header: Vec<String>,
    header_done: bool,
}

/// One key's row, built while its events arrive.
struct Row {
    db: u64,
    key: String,
    vt: ValueType,
    module: Option<String>,
    encoding: &'static str,
    expire_ms: Option<i64>,
    size: u64,
    preview: String,
    /// The preview was cut.
    more: bool,
}

impl<W: Write> KeyTable<W> {
    pub fn new(out: W, paint: Paint, width: Option<u16>) -> KeyTable<W> {
        KeyTable {
            out,
            paint,
            width,
            rows: Vec::new(),
            cur: None,
            ctime: None,
            header: Vec::new(),
            header_done: false,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// The line above the table: version and aux fields, printed once the first key (or the
    /// end) arrives, when they have all been read.
    fn print_header(&mut self) -> io::Result<()> {
        if std::mem::replace(&mut self.header_done, true) {
            return Ok(());
        }
        for line in std::mem::take(&mut self.header) {
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }

    fn flush_rows(&mut self) -> io::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut t = Table::new();
        t.load_style(presets::UTF8_FULL_CONDENSED);
        // The caller decided tty and colour; the table must not probe the terminal itself.
        t.force_no_tty();
        if self.paint.on {
            t.enforce_styling();
        }
        match self.width {
            Some(w) => {
                t.set_width(w);
                t.set_content_arrangement(ContentArrangement::Dynamic);
            }
            None => {
                t.set_content_arrangement(ContentArrangement::Disabled);
            }
        }
        let head = ["db", "key", "type", "encoding", "expiry", "size", "value"];
        t.set_header(
            head.iter()
                .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
        );
        for r in self.rows.drain(..) {
            let ty = match &r.module {
                Some(m) => format!("module {m}"),
                None => r.vt.as_str().to_string(),
            };
            let expiry = match r.expire_ms {
                None => String::new(),
                Some(ms) => match self.ctime {
                    Some(c) => format!("{} ({})", utc(ms), rel(ms - c * 1000)),
                    None => utc(ms),
                },
            };
            let mut preview = r.preview;
            if r.more {
                preview.push('…');
            }
            t.add_row(vec![
                Cell::new(r.db),
                Cell::new(r.key).fg(Color::Cyan),
                Cell::new(ty).fg(Color::Yellow),
                Cell::new(r.encoding),
                Cell::new(expiry),
                Cell::new(r.size),
                Cell::new(preview).fg(Color::Green),
            ]);
        }
        writeln!(self.out, "{t}")
    }

    /// Adds a piece of the value to the preview, if there is room.
    fn preview(&mut self, piece: impl FnOnce() -> String) {
        let Some(r) = self.cur.as_mut() else { return };
        if r.more {
            return;
        }
        let sep = if r.preview.len() > 1 { ", " } else { "" };
        let p = piece();
        if r.preview.chars().count() + sep.len() + p.chars().count() > PREVIEW_CHARS {
            r.more = true;
            return;
        }
        r.preview.push_str(sep);
        r.preview.push_str(&p);
    }
}

/// A duration relative to the file's creation: `+1h0m0s`, `-5s` (already expired then).
fn rel(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "+" };
    let s = ms.unsigned_abs() / 1000;
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let body = if d > 0 {
        format!("{d}d{h}h{m}m{sec}s")
    } else if h > 0 {
        format!("{h}h{m}m{sec}s")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    };
    format!("{sign}{body} after ctime")
}

fn q(b: &[u8]) -> String {
    quoted(b, 24).to_string()
}

impl<W: Write> Sink for KeyTable<W> {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        match ev {
            Event::Header { version, .. } => {
                let p = self.paint;
                self.header
                    .push(p.paint(Role::Heading, format!("RDB version {version}")));
            }
            Event::Aux { name, value, .. } => {
                if &name[..] == b"ctime" {
                    self.ctime = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
                }
                let line = format!("  aux {} = {}", quoted(name, 64), quoted(value, 64));
                self.header.push(line);
            }
            Event::Function { code, .. } => {
                let first = code.split(|&b| b == b'\n').next().unwrap_or(&[]);
                self.header
                    .push(format!("  function library {}", quoted(first, 64)));
            }
            Event::KeyStart(k) => {
                self.print_header()?;
                let open = match k.value_type {
                    ValueType::String | ValueType::Module => "",
                    ValueType::Hash | ValueType::ZSet => "{",
                    _ => "[",
                };
                self.cur = Some(Row {
                    db: k.db,
                    key: quoted(&k.key, 40).to_string(),
                    vt: k.value_type,
                    module: k.module.as_ref().map(|m| m.name.clone()),
                    encoding: k.encoding,
                    expire_ms: k.expire_ms,
                    size: 0,
                    preview: open.to_string(),
                    more: false,
                });
            }
            Event::Item { item, .. } => match item {
                Item::String(v) => {
                    if let Some(r) = self.cur.as_mut() {
                        r.preview = quoted(v, 48).to_string();
                    }
                }
                Item::ListElement(v) | Item::SetMember(v) => self.preview(|| q(v)),
                Item::ZSetMember { member, score } => {
                    self.preview(|| format!("{}: {}", q(member), super::score_text(*score)))
                }
                Item::HashField { field, value, .. } => {
                    self.preview(|| format!("{}: {}", q(field), q(value)))
                }
                Item::StreamEntry {
                    id, deleted: false, ..
                } => self.preview(|| id.to_string()),
                Item::StreamGroup { name, .. } => self.preview(|| format!("group {}", q(name))),
                _ => {}
            },
            Event::KeyEnd(k) => {
                if let Some(mut r) = self.cur.take() {
                    r.size = k.items;
                    // The encoding Redis 7.0 gives the value once loaded, like OBJECT ENCODING.
                    r.encoding = k.encoding;
                    let close = match r.vt {
                        ValueType::String | ValueType::Module => "",
                        ValueType::Hash | ValueType::ZSet => "}",
                        _ => "]",
                    };
                    if !r.more {
                        r.preview.push_str(close);
                    }
                    self.rows.push(r);
                    if self.rows.len() >= ROWS_PER_TABLE {
                        self.flush_rows()?;
                    }
                }
            }
            Event::Eof {
                stored, computed, ..
            } => {
                self.print_header()?;
                self.flush_rows()?;
                let p = self.paint;
                let verdict = match stored {
                    None => "no checksum (RDB version < 5)".to_string(),
                    Some(0) => "checksum disabled (rdbchecksum no)".to_string(),
                    Some(s) if s == computed => {
                        format!("checksum {} ({s:016x})", p.paint(Role::Good, "OK"))
                    }
                    Some(s) => format!(
                        "checksum {} (stored {s:016x}, computed {computed:016x})",
                        p.paint(Role::Bad, "MISMATCH")
                    ),
                };
                writeln!(self.out, "{verdict}")?;
            }
            _ => {}
        }
        Ok(())
    }

    fn error(&mut self, _err: &ReadError) -> io::Result<()> {
        // The keys read before the error are shown; the error itself goes to stderr (the
        // caller reports it with the exit status), so stdout stays a clean table.
        self.print_header()?;
        self.cur = None;
        self.flush_rows()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.print_header()?;
        self.flush_rows()?;
        self.out.flush()
    }
}
