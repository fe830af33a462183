//! `rdb stats`: what an RDB file is made of, the summary rdbtools' memory report and
//! HDT3213/rdb's "biggest keys" give, from the same single pass as every other view.
//!
//! Per database and type: keys, bytes, encodings, and how far away the keys' expiries are;
//! then totals, then the N biggest keys. "Bytes" are bytes *of the file*: a key's whole span
//! as the reader reports it (expiry and LRU/LFU opcodes, type byte, name, value), so the
//! numbers add up to the file's size minus its header, aux fields and checksum. That is not
//! Redis's memory use, but it is exact, and it is what makes a snapshot (or a full resync)
//! big.
//!
//! Memory stays bounded whatever the file holds: one counter set per (db, type) seen and a
//! min-heap of the N biggest keys so far; nothing per key survives the key's end.

use super::json::bin;
use super::{Paint, Role, Sink, human_bytes, quoted};
use crate::rdb::{Event, KeyStart, ReadError};
use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table, presets};
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{self, Write};

/// How many of the biggest keys are listed unless `--top` says otherwise.
pub const DEFAULT_TOP: usize = 10;

/// The expiry buckets, in the order they are printed. The reference time is the file's
/// `ctime` aux field (when it was saved): a snapshot read a week later should still say which
/// keys were about to expire when it was taken, not that every key has expired since.
pub const EXPIRY_BUCKETS: [&str; 6] = ["no_ttl", "expired", "lt_1h", "lt_1d", "lt_1w", "later"];

const HOUR_MS: i64 = 3_600_000;

/// Which bucket an expiry falls in, seen from `now_ms`.
fn bucket(expire_ms: Option<i64>, now_ms: i64) -> usize {
    match expire_ms {
        None => 0,
        Some(t) if t <= now_ms => 1,
        Some(t) if t - now_ms < HOUR_MS => 2,
        Some(t) if t - now_ms < 24 * HOUR_MS => 3,
        Some(t) if t - now_ms < 7 * 24 * HOUR_MS => 4,
        Some(_) => 5,
    }
}

/// The counters kept for one (db, type), for one db, and for the whole file.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub keys: u64,
    pub bytes: u64,
    /// Encoding name -> keys. Names are the reader's `&'static str`s, so this stays small.
    pub encodings: BTreeMap<&'static str, u64>,
    /// Keys per [`EXPIRY_BUCKETS`] entry.
    pub expiry: [u64; 6],
}

impl Totals {
    fn add(&mut self, bytes: u64, encoding: &'static str, bucket: usize) {
        self.keys += 1;
        self.bytes += bytes;
        *self.encodings.entry(encoding).or_default() += 1;
        self.expiry[bucket] += 1;
    }

    fn merge(&mut self, o: &Totals) {
        self.keys += o.keys;
        self.bytes += o.bytes;
        for (e, n) in &o.encodings {
            *self.encodings.entry(e).or_default() += n;
        }
        for (a, b) in self.expiry.iter_mut().zip(o.expiry) {
            *a += b;
        }
    }
}

/// One of the biggest keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BigKey {
    pub bytes: u64,
    /// Where the key starts: ties in size go to the key met first, so the list is the same
    /// on every run.
    pub offset: u64,
    pub db: u64,
    pub key: bytes::Bytes,
    pub value_type: &'static str,
    pub encoding: &'static str,
    /// Elements (1 for a string, live entries for a stream).
    pub items: u64,
    pub expire_ms: Option<i64>,
}

impl Ord for BigKey {
    /// Bigger is "greater"; of two the same size, the earlier one.
    fn cmp(&self, o: &Self) -> Ordering {
        self.bytes
            .cmp(&o.bytes)
            .then_with(|| o.offset.cmp(&self.offset))
    }
}

impl PartialOrd for BigKey {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// How the report is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsFormat {
    Table,
    /// JSON Lines with the `{"type": ..., "data": ...}` envelope of `rdb dump --format json`.
    Json,
}

/// The stats printer: gathers while the events pass, prints everything at the end.
pub struct Stats<W: Write> {
    out: W,
    paint: Paint,
    format: StatsFormat,
    width: Option<u16>,
    top: usize,
    /// The reference time for expiries: `ctime` once its aux field is read, else the
    /// caller's fallback (the file's modification time).
    now_ms: i64,
    version: Option<u32>,
    /// (db, type) -> counters.
    groups: BTreeMap<(u64, &'static str), Totals>,
    /// A min-heap: its top is the smallest of the biggest keys so far, the one to evict.
    heap: BinaryHeap<Reverse<BigKey>>,
    /// The key being read.
    cur: Option<Box<KeyStart>>,
    error: Option<String>,
}

impl<W: Write> Stats<W> {
    /// `fallback_now_ms` is used for expiries when the file has no `ctime` aux field.
    pub fn new(
        out: W,
        paint: Paint,
        format: StatsFormat,
        width: Option<u16>,
        top: usize,
        fallback_now_ms: i64,
    ) -> Stats<W> {
        Stats {
            out,
            paint,
            format,
            width,
            top,
            now_ms: fallback_now_ms,
            version: None,
            groups: BTreeMap::new(),
            heap: BinaryHeap::with_capacity(top.min(1 << 16) + 1),
            cur: None,
            error: None,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// Per-db totals and the file's, computed from the (db, type) groups.
    fn totals(&self) -> (BTreeMap<u64, Totals>, Totals) {
        let mut per_db: BTreeMap<u64, Totals> = BTreeMap::new();
        let mut all = Totals::default();
        for ((db, _), t) in &self.groups {
            per_db.entry(*db).or_default().merge(t);
            all.merge(t);
        }
        (per_db, all)
    }

    /// The biggest keys, biggest first.
    fn biggest(&self) -> Vec<BigKey> {
        let mut v: Vec<BigKey> = self.heap.iter().map(|r| r.0.clone()).collect();
        v.sort_by(|a, b| b.cmp(a));
        v
    }

    fn table(&mut self, t: &mut Table, head: &[&str]) {
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
        t.set_header(
            head.iter()
                .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
        );
    }

    fn print_table(&mut self) -> io::Result<()> {
        let (per_db, all) = self.totals();
        let mut line = String::new();
        if let Some(v) = self.version {
            line.push_str(&format!("RDB version {v}, "));
        }
        line.push_str(&format!(
            "{} keys, {} in keys; expiries relative to {}",
            all.keys,
            human_bytes(all.bytes),
            super::utc(self.now_ms)
        ));
        writeln!(self.out, "{}", self.paint.paint(Role::Heading, line))?;

        let mut t = Table::new();
        self.table(
            &mut t,
            &[
                "db",
                "type",
                "keys",
                "bytes",
                "encodings",
                "no ttl",
                "expired",
                "<1h",
                "<1d",
                "<1w",
                "later",
            ],
        );
        let row = |db: String, ty: String, x: &Totals, bold: bool| {
            let encodings = x
                .encodings
                .iter()
                .map(|(e, n)| format!("{e} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut cells = vec![
                Cell::new(db),
                Cell::new(ty).fg(Color::Yellow),
                Cell::new(x.keys).set_alignment(CellAlignment::Right),
                Cell::new(x.bytes).set_alignment(CellAlignment::Right),
                Cell::new(encodings),
            ];
            cells.extend(
                x.expiry
                    .iter()
                    .map(|n| Cell::new(n).set_alignment(CellAlignment::Right)),
            );
            if bold {
                cells = cells
                    .into_iter()
                    .map(|c| c.add_attribute(Attribute::Bold))
                    .collect();
            }
            cells
        };
        for (db, tot) in &per_db {
            for ((_, ty), x) in self.groups.range((*db, "")..=(*db, "\u{10ffff}")) {
                t.add_row(row(db.to_string(), ty.to_string(), x, false));
            }
            t.add_row(row(db.to_string(), "all".into(), tot, true));
        }
        if per_db.len() != 1 {
            t.add_row(row("all".into(), "all".into(), &all, true));
        }
        writeln!(self.out, "{t}")?;

        let big = self.biggest();
        if self.top > 0 {
            writeln!(
                self.out,
                "{}",
                self.paint
                    .paint(Role::Heading, format!("Biggest keys (top {})", self.top))
            )?;
            let mut t = Table::new();
            self.table(
                &mut t,
                &["#", "db", "key", "type", "encoding", "items", "bytes"],
            );
            for (i, k) in big.iter().enumerate() {
                t.add_row(vec![
                    Cell::new(i + 1).set_alignment(CellAlignment::Right),
                    Cell::new(k.db),
                    Cell::new(quoted(&k.key, 60)).fg(Color::Cyan),
                    Cell::new(k.value_type).fg(Color::Yellow),
                    Cell::new(k.encoding),
                    Cell::new(k.items).set_alignment(CellAlignment::Right),
                    Cell::new(k.bytes).set_alignment(CellAlignment::Right),
                ]);
            }
            writeln!(self.out, "{t}")?;
        }
        if let Some(e) = &self.error {
            writeln!(
                self.out,
                "{}",
                self.paint.paint(
                    Role::Bad,
                    format!("incomplete: decoding stopped: {e} (counts cover the keys before it)")
                )
            )?;
        }
        Ok(())
    }

    fn record(&mut self, kind: &str, data: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        let mut l = Vec::with_capacity(256);
        l.extend_from_slice(b"{\"type\":\"");
        l.extend_from_slice(kind.as_bytes());
        l.extend_from_slice(b"\",\"data\":{");
        data(&mut l);
        l.extend_from_slice(b"}}\n");
        self.out.write_all(&l)
    }

    fn print_json(&mut self) -> io::Result<()> {
        let (per_db, all) = self.totals();
        let now = self.now_ms;
        let groups = std::mem::take(&mut self.groups);
        for ((db, ty), x) in &groups {
            self.record("db_type", |l| {
                l.extend_from_slice(format!("\"db\":{db},\"value_type\":\"{ty}\",").as_bytes());
                totals_json(l, x);
            })?;
        }
        for (db, x) in &per_db {
            self.record("db_total", |l| {
                l.extend_from_slice(format!("\"db\":{db},").as_bytes());
                totals_json(l, x);
            })?;
        }
        self.record("total", |l| {
            l.extend_from_slice(format!("\"expiry_reference_ms\":{now},").as_bytes());
            totals_json(l, &all);
        })?;
        for (i, k) in self.biggest().into_iter().enumerate() {
            self.record("big_key", |l| {
                l.extend_from_slice(format!("\"rank\":{},\"db\":{},\"key\":", i + 1, k.db).as_bytes());
                bin(l, &k.key);
                l.extend_from_slice(
                    format!(
                        ",\"value_type\":\"{}\",\"encoding\":\"{}\",\"items\":{},\"bytes\":{},\"offset\":{},\"expiry_ms\":{}",
                        k.value_type,
                        k.encoding,
                        k.items,
                        k.bytes,
                        k.offset,
                        k.expire_ms.map_or("null".to_string(), |e| e.to_string())
                    )
                    .as_bytes(),
                );
            })?;
        }
        self.groups = groups;
        if let Some(e) = self.error.clone() {
            self.record("error", |l| {
                l.extend_from_slice(b"\"message\":");
                let _ = serde_json::to_writer(&mut *l, &e);
            })?;
        }
        Ok(())
    }
}

/// The counters of one [`Totals`] as JSON members (no braces).
fn totals_json(l: &mut Vec<u8>, x: &Totals) {
    l.extend_from_slice(
        format!("\"keys\":{},\"bytes\":{},\"encodings\":{{", x.keys, x.bytes).as_bytes(),
    );
    for (i, (e, n)) in x.encodings.iter().enumerate() {
        if i > 0 {
            l.push(b',');
        }
        l.extend_from_slice(format!("\"{e}\":{n}").as_bytes());
    }
    l.extend_from_slice(b"},\"expiry\":{");
    for (i, (name, n)) in EXPIRY_BUCKETS.iter().zip(x.expiry).enumerate() {
        if i > 0 {
            l.push(b',');
        }
        l.extend_from_slice(format!("\"{name}\":{n}").as_bytes());
    }
    l.push(b'}');
}

impl<W: Write> Sink for Stats<W> {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        match ev {
            Event::Header { version, .. } => self.version = Some(*version),
            Event::Aux { name, value, .. } if &name[..] == b"ctime" => {
                if let Some(s) = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    self.now_ms = s.saturating_mul(1000);
                }
            }
            Event::KeyStart(k) => self.cur = Some(k.clone()),
            Event::KeyEnd(end) => {
                let Some(k) = self.cur.take() else {
                    return Ok(());
                };
                let ty = k.value_type.as_str();
                let b = bucket(k.expire_ms, self.now_ms);
                self.groups
                    .entry((k.db, ty))
                    .or_default()
                    .add(end.span.len, k.encoding, b);
                if self.top > 0 {
                    let big = BigKey {
                        bytes: end.span.len,
                        offset: end.span.offset,
                        db: k.db,
                        key: k.key.clone(),
                        value_type: ty,
                        encoding: k.encoding,
                        items: end.items,
                        expire_ms: k.expire_ms,
                    };
                    // Only keys that beat the current smallest are cloned into the heap.
                    if self.heap.len() < self.top {
                        self.heap.push(Reverse(big));
                    } else if self.heap.peek().is_some_and(|m| big > m.0) {
                        self.heap.pop();
                        self.heap.push(Reverse(big));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn error(&mut self, err: &ReadError) -> io::Result<()> {
        self.cur = None;
        self.error = Some(err.to_string());
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        match self.format {
            StatsFormat::Table => self.print_table()?,
            StatsFormat::Json => self.print_json()?,
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_by_distance() {
        let now = 1_000_000_000;
        assert_eq!(bucket(None, now), 0);
        assert_eq!(bucket(Some(now), now), 1);
        assert_eq!(bucket(Some(now + 1), now), 2);
        assert_eq!(bucket(Some(now + HOUR_MS), now), 3);
        assert_eq!(bucket(Some(now + 24 * HOUR_MS), now), 4);
        assert_eq!(bucket(Some(now + 7 * 24 * HOUR_MS), now), 5);
    }

    #[test]
    fn heap_keeps_the_biggest_first_met() {
        let file: &[u8] = include_bytes!("../../fixtures/rdb/redis-7.0-all-types.rdb");
        let mut s = Stats::new(Vec::new(), Paint::OFF, StatsFormat::Json, None, 3, 0);
        super::super::drive(crate::rdb::events(file), &Default::default(), &mut s).unwrap();
        let big = s.biggest();
        assert_eq!(big.len(), 3);
        assert!(big.windows(2).all(|w| w[0].bytes >= w[1].bytes));
        // Nothing left out is bigger than the smallest listed.
        let mut all = Stats::new(Vec::new(), Paint::OFF, StatsFormat::Json, None, 100_000, 0);
        super::super::drive(crate::rdb::events(file), &Default::default(), &mut all).unwrap();
        assert_eq!(all.biggest()[..3], big[..]);
    }
}
