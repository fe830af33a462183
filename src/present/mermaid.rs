//! The tap's session as a Mermaid sequence diagram (`rtool tap --mermaid`), for the book.
//!
//! One lifeline per replica connection and one for the master; an arrow per request, reply
//! and command; the RDB transfer folded into a note (its size, keys and checksum), because a
//! diagram with an arrow per key would teach nothing. Keepalives are left out; the master's
//! `ping`s too with `--quiet-pings`. Text is escaped for Mermaid: `;` and `#` have meanings
//! in a message, so they become Mermaid's entity codes.

use super::quoted;
use super::timeline::{CutEvent, LinkSink, RdbSummary, frame_text};
use crate::repl::stream::{CommandKind, Dir, Event, EventKind, Framing, LinkDecoder, LinkError};
use std::collections::HashMap;
use std::io::{self, Write};

/// Longest argument, and how many arguments, in an arrow's label.
const ARG_MAX: usize = 40;
const ARGS_MAX: usize = 6;

/// The sequence-diagram printer.
pub struct Mermaid<W: Write> {
    out: W,
    quiet_pings: bool,
    started: bool,
    declared: Vec<u64>,
    rdb: HashMap<u64, RdbSummary>,
    /// Connections the tap cut: their closes are the cut's, already in its note.
    cut: Vec<u64>,
}

impl<W: Write> Mermaid<W> {
    pub fn new(out: W, quiet_pings: bool) -> Mermaid<W> {
        Mermaid {
            out,
            quiet_pings,
            started: false,
            declared: Vec::new(),
            rdb: HashMap::new(),
            cut: Vec::new(),
        }
    }

    /// The diagram's head, and a lifeline for `conn` the first time it appears.
    fn declare(&mut self, conn: u64) -> io::Result<()> {
        if !self.started {
            self.started = true;
            writeln!(self.out, "sequenceDiagram")?;
            writeln!(self.out, "    participant M as master")?;
        }
        if !self.declared.contains(&conn) {
            self.declared.push(conn);
            writeln!(self.out, "    participant C{conn} as conn {conn}")?;
        }
        Ok(())
    }

    fn arrow(&mut self, conn: u64, dir: Dir, label: &str) -> io::Result<()> {
        self.declare(conn)?;
        let label = escape(label);
        match dir {
            Dir::ReplicaToMaster => writeln!(self.out, "    C{conn}->>M: {label}"),
            Dir::MasterToReplica => writeln!(self.out, "    M-->>C{conn}: {label}"),
        }
    }

    fn note(&mut self, conn: u64, text: &str) -> io::Result<()> {
        self.declare(conn)?;
        writeln!(self.out, "    Note over M,C{conn}: {}", escape(text))
    }
}

/// Mermaid's entity codes for the characters a message cannot hold as they are.
fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ';' => o.push_str("#59;"),
            '#' => o.push_str("#35;"),
            '"' => o.push_str("#quot;"),
            '\n' | '\r' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

fn args(a: &[bytes::Bytes]) -> String {
    let mut v: Vec<String> = a
        .iter()
        .take(ARGS_MAX)
        .map(|x| {
            let q = quoted(x, ARG_MAX).to_string();
            // The quotes of `quoted` are noise in a diagram; what is inside stays escaped.
            q.strip_prefix('"')
                .and_then(|t| t.rsplit_once('"'))
                .map(|(inner, rest)| format!("{inner}{rest}"))
                .unwrap_or(q)
        })
        .collect();
    if a.len() > ARGS_MAX {
        v.push("…".into());
    }
    v.join(" ")
}

impl<W: Write> LinkSink for Mermaid<W> {
    fn event(&mut self, conn: u64, ev: &Event, _dec: &LinkDecoder) -> io::Result<()> {
        match &ev.kind {
            EventKind::Keepalive | EventKind::RdbTrailing { .. } => Ok(()),
            EventKind::Request(r) => self.arrow(conn, ev.dir, &args(&r.args)),
            EventKind::Reply(r) => self.arrow(conn, ev.dir, &frame_text(&r.frame)),
            EventKind::FullResync { replid, offset, .. } => {
                let off = offset.map_or("?".into(), |o| o.to_string());
                let id = String::from_utf8_lossy(replid);
                self.arrow(conn, ev.dir, &format!("+FULLRESYNC {id} {off}"))
            }
            EventKind::Continue { replid, .. } => {
                let id = replid
                    .as_ref()
                    .map(|r| format!(" {}", String::from_utf8_lossy(r)))
                    .unwrap_or_default();
                self.arrow(conn, ev.dir, &format!("+CONTINUE{id}"))
            }
            EventKind::PsyncRefused { text, .. } | EventKind::TransferAborted { text } => {
                self.arrow(conn, ev.dir, &String::from_utf8_lossy(text))
            }
            EventKind::TransferStart(f) => {
                self.rdb.insert(conn, RdbSummary::default());
                let t = match f {
                    Framing::Length(n) => format!("${n} (RDB, disk-based)"),
                    Framing::EofMark(_) => "$EOF:<mark> (RDB, diskless)".to_string(),
                };
                self.arrow(conn, ev.dir, &t)
            }
            EventKind::Rdb(r) => {
                if RdbSummary::wants(r) {
                    self.rdb.entry(conn).or_default().add(r);
                }
                Ok(())
            }
            EventKind::RdbError(e) => self.note(conn, &format!("RDB error: {e}")),
            EventKind::TransferEnd { rdb_len } => {
                let s = self.rdb.remove(&conn).unwrap_or_default();
                let ok = match s.checksum {
                    Some((Some(st), c)) if st != 0 && st != c => "checksum MISMATCH",
                    Some(_) => "checksum OK",
                    None => "no checksum",
                };
                let t = format!("RDB transfer: {rdb_len} bytes, {} keys, {ok}", s.total());
                self.note(conn, &t)
            }
            EventKind::Command(c) => {
                if self.quiet_pings && c.kind == CommandKind::Ping {
                    return Ok(());
                }
                let at = c
                    .repl_offset
                    .map(|r| format!(" [{r}+{}]", ev.len))
                    .unwrap_or_default();
                self.arrow(conn, ev.dir, &format!("{}{at}", args(&c.args)))
            }
        }
    }

    fn cut(&mut self, conn: u64, c: &CutEvent, _dec: &LinkDecoder) -> io::Result<()> {
        let t = format!(
            "the tap cuts the link ({}) after {} bytes master->replica",
            c.rule(),
            c.m2r_bytes
        );
        self.cut.push(conn);
        self.note(conn, &t)
    }

    fn error(&mut self, conn: u64, e: &LinkError) -> io::Result<()> {
        self.note(conn, &format!("error: {e}"))
    }

    fn closed(&mut self, conn: u64, dir: Dir, _dec: &LinkDecoder) -> io::Result<()> {
        if self.cut.contains(&conn) {
            return Ok(());
        }
        let who = match dir {
            Dir::ReplicaToMaster => format!("conn {conn} closes"),
            Dir::MasterToReplica => "master closes".to_string(),
        };
        self.note(conn, &who)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
