//! `rdb check`: the report `redis-check-rdb` prints, so the two can be read side by side.
//!
//! Like Redis's checker it writes one line per record as it goes (`[offset N] AUX FIELD ...`,
//! with N the position *after* the record, as Redis's `rioTell` reports it), then either
//! `\o/ RDB looks OK! \o/` or `--- RDB ERROR DETECTED ---` with what the reader was doing
//! (the same phase names: `read-object-value`, `check-sum`...), the key and its type. rtool
//! adds what Redis's checker leaves out: keys per database and type, and a hex window around
//! the error offset. For a good file every line `redis-check-rdb` prints appears in rtool's
//! report, byte for byte and in the same order (a test holds it to that); rtool's own lines
//! come in between.

use super::layout::ByteSource;
use super::{Paint, Role, Sink, quoted};
use crate::rdb::{Event, ReadError, ValueType};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// The checker's report printer. [`Check::ok`] is the verdict once the run has finished.
pub struct Check<W: Write> {
    out: W,
    paint: Paint,
    src: Option<Box<dyn ByteSource>>,
    version: Option<u32>,
    /// db -> type name -> keys.
    per_db: BTreeMap<u64, BTreeMap<&'static str, u64>>,
    expires: BTreeMap<u64, u64>,
    keys: u64,
    expires_total: u64,
    /// Keys whose expiry is before `now_ms` (Redis's "already expired").
    expired: u64,
    now_ms: i64,
    /// The key being read: its db, type and expiry, for the counts at its end.
    cur: Option<(u64, ValueType, Option<i64>)>,
    ok: bool,
    failed: bool,
}

impl<W: Write> Check<W> {
    /// `src` (the file) is read for the hex window around an error; `now_ms` is the clock
    /// the caller read once, for counting keys that have already expired.
    pub fn new(out: W, paint: Paint, src: Option<Box<dyn ByteSource>>, now_ms: i64) -> Check<W> {
        Check {
            out,
            paint,
            src,
            version: None,
            per_db: BTreeMap::new(),
            expires: BTreeMap::new(),
            keys: 0,
            expires_total: 0,
            expired: 0,
            now_ms,
            cur: None,
            ok: false,
            failed: false,
        }
    }

    /// The first line, naming the file.
    pub fn start(&mut self, name: &str, size: Option<u64>) -> io::Result<()> {
        writeln!(self.out, "[offset 0] Checking RDB file {name}")?;
        if let Some(n) = size {
            writeln!(self.out, "[info] {n} bytes")?;
        }
        Ok(())
    }

    /// True if the whole file was read and its checksum (if any) matched.
    pub fn ok(&self) -> bool {
        self.ok && !self.failed
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn info(&mut self) -> io::Result<()> {
        writeln!(self.out, "[info] {} keys read", self.keys)?;
        writeln!(self.out, "[info] {} expires", self.expires_total)?;
        writeln!(self.out, "[info] {} already expired", self.expired)?;
        for (db, types) in &self.per_db {
            let total: u64 = types.values().sum();
            let list = types
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let exp = self.expires.get(db).copied().unwrap_or(0);
            writeln!(
                self.out,
                "[info] db {db}: {total} keys ({list}), {exp} expires"
            )?;
        }
        Ok(())
    }
}

impl<W: Write> Sink for Check<W> {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        let end = ev.span().end();
        match ev {
            Event::Header { version, .. } => {
                self.version = Some(*version);
                writeln!(self.out, "[offset {end}] RDB version {version}")?;
                if *version > 10 {
                    writeln!(
                        self.out,
                        "[note] Redis 7.0 refuses RDB versions above 10 (\"Can't handle RDB format version {version}\"); rtool reads it"
                    )?;
                }
            }
            // Redis's wording and quoting, so the lines compare equal.
            Event::Aux { name, value, .. } => writeln!(
                self.out,
                "[offset {end}] AUX FIELD {} = '{}'",
                AsRedis(name),
                AsRedis(value)
            )?,
            Event::SelectDb { db, .. } => {
                writeln!(self.out, "[offset {end}] Selecting DB ID {db}")?
            }
            Event::ResizeDb {
                db_size,
                expires_size,
                ..
            } => writeln!(
                self.out,
                "[offset {end}] Resize DB hint: {db_size} keys, {expires_size} expires"
            )?,
            Event::Function { code, .. } => {
                let first = code.split(|&b| b == b'\n').next().unwrap_or(&[]);
                writeln!(
                    self.out,
                    "[offset {end}] Function library {}",
                    quoted(first, 64)
                )?
            }
            Event::FunctionPreGa { name, .. } => writeln!(
                self.out,
                "[offset {end}] Pre-release function {} (Redis 7.0 GA refuses it)",
                quoted(name, 64)
            )?,
            Event::ModuleAux { module, .. } => writeln!(
                self.out,
                "[offset {end}] Module aux data of {}",
                module.name
            )?,
            Event::SlotInfo { slot, .. } => writeln!(self.out, "[offset {end}] Slot info {slot}")?,
            Event::KeyStart(k) => self.cur = Some((k.db, k.value_type, k.expire_ms)),
            Event::KeyEnd(_) => {
                if let Some((db, vt, exp)) = self.cur.take() {
                    self.keys += 1;
                    *self
                        .per_db
                        .entry(db)
                        .or_default()
                        .entry(vt.as_str())
                        .or_default() += 1;
                    if let Some(ms) = exp {
                        self.expires_total += 1;
                        *self.expires.entry(db).or_default() += 1;
                        if ms < self.now_ms {
                            self.expired += 1;
                        }
                    }
                }
            }
            Event::Eof {
                stored, computed, ..
            } => {
                let p = self.paint;
                match stored {
                    None => writeln!(self.out, "[offset {end}] No checksum (RDB version < 5)")?,
                    Some(0) => writeln!(
                        self.out,
                        "[offset {end}] RDB file was saved with checksum disabled: no check performed."
                    )?,
                    Some(s) if s == computed => {
                        writeln!(
                            self.out,
                            "[offset {end}] Checksum {}",
                            p.paint(Role::Good, "OK")
                        )?;
                        writeln!(self.out, "[info] CRC-64 {s:016x}")?
                    }
                    Some(s) => {
                        // Only reachable with checksum verification off.
                        self.failed = true;
                        writeln!(
                            self.out,
                            "[offset {end}] Checksum {} (stored {s:016x}, computed {computed:016x})",
                            p.paint(Role::Bad, "MISMATCH")
                        )?
                    }
                }
                if !self.failed {
                    self.ok = true;
                    let v = p.paint(Role::Good, "\\o/ RDB looks OK! \\o/");
                    writeln!(self.out, "[offset {end}] {v}")?;
                }
            }
            Event::Item { .. } | Event::Container(_) => {}
        }
        Ok(())
    }

    fn error(&mut self, err: &ReadError) -> io::Result<()> {
        self.failed = true;
        let p = self.paint;
        writeln!(
            self.out,
            "{}",
            p.paint(Role::Bad, "--- RDB ERROR DETECTED ---")
        )?;
        match err {
            ReadError::Io(e) => writeln!(self.out, "[error] reading the file: {e}")?,
            ReadError::Rdb(e) => {
                writeln!(self.out, "[offset {}] {}", e.offset, e.kind)?;
                writeln!(self.out, "[additional info] While doing: {}", e.phase)?;
                if let Some(k) = &e.key {
                    writeln!(self.out, "[additional info] Reading key '{}'", AsRedis(k))?;
                }
                if let Some(t) = e.rdb_type {
                    let name = crate::rdb::types::rdb_type_name(t).unwrap_or("unknown");
                    writeln!(self.out, "[additional info] Reading type {t} ({name})")?;
                }
                if let Some(src) = &self.src {
                    // 32 bytes either side of the offset, aligned to 16 so the error's column
                    // is easy to find.
                    let from = e.offset.saturating_sub(32) & !15;
                    let mut buf = vec![0u8; (e.offset + 32 - from) as usize];
                    let n = src.read_at(from, &mut buf)?;
                    buf.truncate(n);
                    writeln!(
                        self.out,
                        "[additional info] Bytes around offset {}:",
                        e.offset
                    )?;
                    let mut printer = hexyl::PrinterBuilder::new(&mut self.out)
                        .show_color(p.on)
                        .enable_squeezing(false)
                        .build();
                    printer.display_offset(from);
                    printer.print_all(&buf[..])?;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if !self.ok && !self.failed {
            // The events ended without an EOF record: the caller's source stopped early.
            self.failed = true;
        }
        self.info()?;
        self.out.flush()
    }
}

/// Bytes the way `redis-check-rdb` prints them (as they are), except that bytes outside
/// printable ASCII become `\xHH` so a binary value cannot garble the terminal.
struct AsRedis<'a>(&'a [u8]);

impl std::fmt::Display for AsRedis<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for &b in self.0 {
            match b {
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        Ok(())
    }
}
