//! The tap's human timeline, and the [`Session`] that drives any link printer.
//!
//! A [`Session`] owns one [`LinkDecoder`] per proxied connection and takes capture
//! [`Record`]s, whether they come from a file (`rtool tap replay`) or from the live proxy
//! (`rtool tap`): both paths go through the same function, which is why a replayed recording
//! prints exactly what the live run printed. The printers ([`Timeline`] here, and
//! [`TapJson`](super::tap_json::TapJson)) implement [`LinkSink`]; they never decode, they
//! only show what the decoder reported.
//!
//! The timeline cuts each connection into the sections a reader of Redis's replication.c
//! would name: handshake, PSYNC, RDB transfer, command stream (or client, for an ordinary
//! connection). Every line starts with the connection, the direction and the event's offset
//! in that direction's stream; commands also show the master replication offset and length.

use super::{Paint, Role, quoted};
use crate::rdb::Event as RdbEvent;
use crate::repl::stream::capture::{CutReason, Record};
use crate::repl::stream::{
    CommandKind, Dir, Event, EventKind, Framing, LinkDecoder, LinkError, LinkKind, Phase,
    RequestKind,
};
use crate::resp::frame::{Frame, Resp3Frame, Resp3Value};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

/// A printer of link events. Errors returned are output errors (a closed pipe), never
/// decoding errors: those arrive through [`LinkSink::error`].
pub trait LinkSink {
    /// An event of connection `conn`; `dec` is that connection's decoder just after it.
    fn event(&mut self, conn: u64, ev: &Event, dec: &LinkDecoder) -> io::Result<()>;
    /// A direction could not be decoded further (it is still forwarded).
    fn error(&mut self, conn: u64, e: &LinkError) -> io::Result<()>;
    /// `dir` of `conn` was closed by its sender (or, after [`LinkSink::cut`], by the tap).
    fn closed(&mut self, conn: u64, dir: Dir, dec: &LinkDecoder) -> io::Result<()>;
    /// The tap cut `conn` on purpose (`--cut-after`, `--cut-every`). The `closed` of both
    /// directions follow.
    fn cut(&mut self, conn: u64, cut: &CutEvent, dec: &LinkDecoder) -> io::Result<()>;
    /// An RDB transfer passed another `--progress-every` bytes (see [`RdbProgress`]).
    fn progress(&mut self, _conn: u64, _p: &RdbProgress) -> io::Result<()> {
        Ok(())
    }
    /// With `--hex`: the first bytes of the event just given to [`LinkSink::event`] (`bytes`,
    /// at most [`HEX_MAX`]; `None` when they are no longer held), and its full length.
    fn raw(&mut self, _ev: &Event, _bytes: Option<&[u8]>) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A cut made by the tap, with where each direction stood when it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct CutEvent {
    pub reason: CutReason,
    /// Bytes forwarded master->replica before the cut: the cut's position in that stream.
    pub m2r_bytes: u64,
    /// Bytes forwarded replica->master before the cut.
    pub r2m_bytes: u64,
    /// The master replication offset after the last *complete* command that went through:
    /// what the replica has applied, so its next `PSYNC` asks for this plus one. `None`
    /// when the cut came before the command stream (in the handshake or the RDB transfer,
    /// which the replica throws away).
    pub master_offset: Option<u64>,
    /// The master->replica phase the cut interrupted.
    pub phase: Phase,
}

impl CutEvent {
    /// The rule that cut, in the words of the command line.
    pub fn rule(&self) -> String {
        match self.reason {
            CutReason::After { bytes } => format!("--cut-after {bytes}"),
            CutReason::Every { secs } => format!("--cut-every {secs}"),
        }
    }

    /// What the replica does next, for people.
    pub fn consequence(&self) -> String {
        match (self.phase, self.master_offset) {
            (Phase::Stream, Some(m)) => format!(
                "the replica keeps what it applied up to master offset {m} and will reconnect \
                 asking PSYNC <replid> {}",
                m + 1
            ),
            (Phase::Transfer, _) => "the RDB transfer is lost: the replica will reconnect and \
                                     need a full resynchronization"
                .to_string(),
            (Phase::Client, _) => "the client's connection is closed".to_string(),
            _ => "the replica will reconnect and start the handshake again".to_string(),
        }
    }
}

/// Where an RDB transfer stands, reported every `--progress-every` bytes of RDB.
///
/// Progress is measured in bytes of the stream, not in time: a line appears when a decoded
/// RDB event ends past the next multiple of the step (counted from the RDB's first byte).
/// That keeps `rtool tap replay` printing exactly what the live tap printed, whatever the
/// speed of the link or the size of the reads.
#[derive(Debug, Clone, PartialEq)]
pub struct RdbProgress {
    /// Link offset (master->replica) where the event that crossed the step ended.
    pub offset: u64,
    /// RDB bytes decoded so far.
    pub rdb_bytes: u64,
    /// The RDB's announced size (`$<len>` transfers; diskless ones do not announce it).
    pub rdb_len: Option<u64>,
    /// Keys started so far.
    pub keys: u64,
    /// The key being read (the last one started) and its database.
    pub key: Option<Bytes>,
    pub db: Option<u64>,
}

/// Default `--progress-every`: 4 MiB (a 166 MB transfer gives about 40 lines).
pub const PROGRESS_EVERY: u64 = 4 << 20;

/// Bytes shown per event with `--hex`.
pub const HEX_MAX: usize = 256;

/// How many recent bytes per direction are kept for `--hex` (an event that started earlier
/// than that, like a big command, is shown without its bytes; memory stays bounded).
const WINDOW: usize = 256 * 1024;

/// The last bytes of one direction, and the stream offset of the first one held.
#[derive(Default)]
struct Window {
    base: u64,
    buf: Vec<u8>,
}

impl Window {
    fn push(&mut self, d: &[u8]) {
        self.buf.extend_from_slice(d);
        if self.buf.len() > 2 * WINDOW {
            let cut = self.buf.len() - WINDOW;
            self.buf.drain(..cut);
            self.base += cut as u64;
        }
    }

    fn get(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let start = usize::try_from(offset.checked_sub(self.base)?).ok()?;
        let n = usize::try_from(len).ok()?.min(HEX_MAX);
        self.buf.get(start..start.checked_add(n)?)
    }
}

/// An RDB transfer being watched for progress.
#[derive(Default)]
struct Watch {
    /// Link offset of the RDB's first byte.
    start: u64,
    rdb_len: Option<u64>,
    keys: u64,
    key: Option<Bytes>,
    db: Option<u64>,
    /// RDB bytes at which the next progress report is due.
    next: u64,
}

/// What the session knows of one connection besides its decoder.
#[derive(Default)]
struct ConnTrack {
    dec: LinkDecoder,
    /// Bytes fed per direction (`[r2m, m2r]`), incomplete items included: where a cut fell.
    fed: [u64; 2],
    /// Directions already reported closed.
    closed: [bool; 2],
    watch: Option<Watch>,
}

fn di(d: Dir) -> usize {
    match d {
        Dir::ReplicaToMaster => 0,
        Dir::MasterToReplica => 1,
    }
}

/// Decoders per connection, fed from capture records, events to a sink.
pub struct Session {
    conns: HashMap<u64, ConnTrack>,
    events: Vec<Event>,
    /// `--hex`: recent bytes per connection and direction.
    windows: Option<HashMap<(u64, Dir), Window>>,
    /// `--progress-every` (0: no progress reports).
    progress_every: u64,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            conns: HashMap::new(),
            events: Vec::new(),
            windows: None,
            progress_every: PROGRESS_EVERY,
        }
    }
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// A session that also hands each event's raw bytes to [`LinkSink::raw`].
    pub fn with_hex() -> Session {
        Session {
            windows: Some(HashMap::new()),
            ..Session::default()
        }
    }

    /// Report RDB progress every `bytes` bytes of RDB (0: never).
    pub fn progress_every(mut self, bytes: u64) -> Session {
        self.progress_every = bytes;
        self
    }

    /// What connection `conn` turned out to be (`None` once it is closed and forgotten, or
    /// before its first byte). The tap's fault injection asks this to cut replication links
    /// only.
    pub fn kind(&self, conn: u64) -> Option<LinkKind> {
        self.conns.get(&conn).map(|c| c.dec.kind())
    }

    /// Feeds one record (bytes, the end of one direction, or a cut) and prints what it
    /// completes.
    pub fn record(&mut self, rec: &Record, sink: &mut dyn LinkSink) -> io::Result<()> {
        let track = self.conns.entry(rec.conn).or_default();
        if let Some(reason) = rec.cut {
            let cut = CutEvent {
                reason,
                m2r_bytes: track.fed[1],
                r2m_bytes: track.fed[0],
                master_offset: track.dec.master_offset(),
                phase: track.dec.phase(Dir::MasterToReplica),
            };
            sink.cut(rec.conn, &cut, &track.dec)?;
            // The tap closed both sockets: each direction that was still open ends here.
            for dir in [Dir::MasterToReplica, Dir::ReplicaToMaster] {
                self.close(rec.conn, dir, sink)?;
            }
            return Ok(());
        }
        let Some(d) = &rec.data else {
            return self.close(rec.conn, rec.dir, sink);
        };
        self.events.clear();
        track.fed[di(rec.dir)] += d.len() as u64;
        let res = track.dec.feed(rec.dir, d, &mut self.events);
        if let Some(w) = self.windows.as_mut() {
            w.entry((rec.conn, rec.dir)).or_default().push(d);
        }
        for ev in &self.events {
            sink.event(rec.conn, ev, &track.dec)?;
            if let Some(w) = &self.windows {
                let bytes = w
                    .get(&(rec.conn, ev.dir))
                    .and_then(|w| w.get(ev.offset, ev.len));
                sink.raw(ev, bytes)?;
            }
            if self.progress_every > 0
                && let Some(p) = watch(track, ev, self.progress_every)
            {
                sink.progress(rec.conn, &p)?;
            }
        }
        if let Err(e) = res {
            sink.error(rec.conn, &e)?;
        }
        Ok(())
    }

    /// The end of one direction: an error if it stopped in the middle of something, then
    /// `closed`. Once both directions are closed the connection's state is dropped (a tap
    /// that runs for days sees many connections).
    fn close(&mut self, conn: u64, dir: Dir, sink: &mut dyn LinkSink) -> io::Result<()> {
        let Some(track) = self.conns.get_mut(&conn) else {
            return Ok(());
        };
        if std::mem::replace(&mut track.closed[di(dir)], true) {
            return Ok(());
        }
        if let Err(e) = track.dec.finish(dir) {
            sink.error(conn, &e)?;
        }
        sink.closed(conn, dir, &track.dec)?;
        if track.closed == [true, true] {
            self.conns.remove(&conn);
            if let Some(w) = self.windows.as_mut() {
                w.remove(&(conn, Dir::ReplicaToMaster));
                w.remove(&(conn, Dir::MasterToReplica));
            }
        }
        Ok(())
    }
}

/// Follows an RDB transfer through its events; returns a progress report when `ev` ends
/// past the next step.
fn watch(track: &mut ConnTrack, ev: &Event, every: u64) -> Option<RdbProgress> {
    match &ev.kind {
        EventKind::TransferStart(f) => {
            track.watch = Some(Watch {
                start: ev.offset + ev.len,
                rdb_len: match f {
                    Framing::Length(n) => Some(*n),
                    Framing::EofMark(_) => None,
                },
                next: every,
                ..Watch::default()
            });
            None
        }
        EventKind::TransferEnd { .. } | EventKind::TransferAborted { .. } => {
            track.watch = None;
            None
        }
        EventKind::Rdb(r) => {
            let w = track.watch.as_mut()?;
            if let RdbEvent::KeyStart(k) = r {
                w.keys += 1;
                w.key = Some(k.key.clone());
                w.db = Some(k.db);
            }
            let end = ev.offset + ev.len;
            let rdb_bytes = end.checked_sub(w.start)?;
            if rdb_bytes < w.next {
                return None;
            }
            w.next = (rdb_bytes / every + 1) * every;
            Some(RdbProgress {
                offset: end,
                rdb_bytes,
                rdb_len: w.rdb_len,
                keys: w.keys,
                key: w.key.clone(),
                db: w.db,
            })
        }
        _ => None,
    }
}

/// What an RDB transfer held: aux fields, keys per database and type, the checksum.
#[derive(Debug, Default, Clone)]
pub struct RdbSummary {
    pub version: Option<u32>,
    pub aux: Vec<(bytes::Bytes, bytes::Bytes)>,
    pub keys: BTreeMap<u64, BTreeMap<&'static str, u64>>,
    /// Stored and computed CRC-64.
    pub checksum: Option<(Option<u64>, u64)>,
}

impl RdbSummary {
    /// Whether [`RdbSummary::add`] uses `ev`: the values' items (most of an RDB's events)
    /// are not, and the printers skip them before any lookup.
    pub fn wants(ev: &RdbEvent) -> bool {
        matches!(
            ev,
            RdbEvent::Header { .. }
                | RdbEvent::Aux { .. }
                | RdbEvent::KeyStart(_)
                | RdbEvent::Eof { .. }
        )
    }

    pub fn add(&mut self, ev: &RdbEvent) {
        match ev {
            RdbEvent::Header { version, .. } => self.version = Some(*version),
            RdbEvent::Aux { name, value, .. } => self.aux.push((name.clone(), value.clone())),
            RdbEvent::KeyStart(k) => {
                *self
                    .keys
                    .entry(k.db)
                    .or_default()
                    .entry(k.value_type.as_str())
                    .or_default() += 1
            }
            RdbEvent::Eof {
                stored, computed, ..
            } => self.checksum = Some((*stored, *computed)),
            _ => {}
        }
    }

    pub fn total(&self) -> u64 {
        self.keys.values().flat_map(|t| t.values()).sum()
    }
}

/// Options of the human timeline.
#[derive(Clone, Copy, Debug, Default)]
pub struct TimelineOptions {
    pub paint: Paint,
    /// Show each keepalive (`\n`) instead of only counting them.
    pub show_keepalives: bool,
    /// Hide the master's `ping`s in the command stream (counted in the summary).
    pub quiet_pings: bool,
}

/// The sections of a connection's life, in the order they come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Handshake,
    Psync,
    Transfer,
    Stream,
    Client,
}

impl Section {
    fn title(self) -> &'static str {
        match self {
            Section::Handshake => "handshake",
            Section::Psync => "PSYNC",
            Section::Transfer => "RDB transfer",
            Section::Stream => "command stream",
            Section::Client => "client connection",
        }
    }
}

#[derive(Default)]
struct ConnState {
    section: Option<Section>,
    rdb: RdbSummary,
    pings_hidden: u64,
    /// Propagation notes already explained on this connection: each is spelled out once.
    notes: Vec<&'static str>,
}

/// Longest argument shown, and how many arguments, before cutting.
const ARG_MAX: usize = 48;
const ARGS_MAX: usize = 8;

/// The human timeline printer.
pub struct Timeline<W: Write> {
    out: W,
    opt: TimelineOptions,
    conns: HashMap<u64, ConnState>,
    /// The last event got a line (so `--hex` has something to hang its bytes under).
    printed: bool,
}

impl<W: Write> Timeline<W> {
    pub fn new(out: W, opt: TimelineOptions) -> Timeline<W> {
        Timeline {
            out,
            opt,
            conns: HashMap::new(),
            printed: false,
        }
    }

    fn section(&mut self, conn: u64, s: Section) -> io::Result<()> {
        let st = self.conns.entry(conn).or_default();
        if st.section == Some(s) {
            return Ok(());
        }
        st.section = Some(s);
        let h = format!("── conn {conn} · {} ──", s.title());
        writeln!(self.out, "{}", self.opt.paint.paint(Role::Heading, h))
    }

    /// One event line: `#conn  dir  offset+len  text`.
    fn line(&mut self, conn: u64, ev: &Event, text: &str) -> io::Result<()> {
        let arrow = match ev.dir {
            Dir::ReplicaToMaster => "R→M",
            Dir::MasterToReplica => "M→R",
        };
        let at = self
            .opt
            .paint
            .paint(Role::Offset, format!("{:>8}+{:<5}", ev.offset, ev.len));
        self.printed = true;
        writeln!(self.out, "#{conn} {arrow} {at} {text}")
    }

    fn args(&self, a: &[bytes::Bytes]) -> String {
        let mut s = String::new();
        for (i, x) in a.iter().take(ARGS_MAX).enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let q = quoted(x, ARG_MAX).to_string();
            s.push_str(&if i == 0 {
                self.opt.paint.paint(Role::Opcode, q)
            } else {
                self.opt.paint.paint(Role::Value, q)
            });
        }
        if a.len() > ARGS_MAX {
            s.push_str(&format!(" …(+{} args)", a.len() - ARGS_MAX));
        }
        s
    }
}

/// A byte count for people (progress lines): bytes, then KiB, then MiB.
fn size(n: u64) -> String {
    match n {
        0..10_240 => format!("{n} bytes"),
        10_240..10_485_760 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0)),
    }
}

/// A reply frame on one line, redis-cli-like but binary-safe.
pub fn frame_text(f: &Frame) -> String {
    use redis_protocol::resp2::types::OwnedFrame as F2;
    fn r2(f: &F2) -> String {
        match f {
            F2::SimpleString(s) => format!("+{}", String::from_utf8_lossy(s)),
            F2::Error(e) => format!("-{e}"),
            F2::Integer(i) => format!(":{i}"),
            F2::BulkString(b) => quoted(b, ARG_MAX).to_string(),
            F2::Array(a) => {
                let items: Vec<String> = a.iter().take(ARGS_MAX).map(r2).collect();
                let more = if a.len() > ARGS_MAX { " …" } else { "" };
                format!("[{}{more}]", items.join(", "))
            }
            F2::Null => "(nil)".into(),
        }
    }
    match f {
        Frame::Resp2(f) => r2(f),
        Frame::Resp3(f) => r3(f),
    }
}

/// A RESP3 frame on one line, aggregates in wire order (the frame decoder keeps it, see
/// `resp::frame`): a map reads as Redis sent it, repeated keys included. Attributes are not
/// shown (Redis 7.0 sends them only for `DEBUG PROTOCOL attrib`).
fn r3(f: &Resp3Frame) -> String {
    use redis_protocol::resp3::types::OwnedFrame as F3;
    let list = |open: &str, items: Vec<String>, close: &str| {
        let n = items.len();
        let mut v: Vec<String> = items.into_iter().take(ARGS_MAX).collect();
        if n > ARGS_MAX {
            v.push("…".into());
        }
        format!("{open}{}{close}", v.join(", "))
    };
    let leaf = match &f.value {
        Resp3Value::Leaf(l) => l,
        Resp3Value::Array(a) => return list("[", a.iter().map(r3).collect(), "]"),
        Resp3Value::Push(a) => return list(">[", a.iter().map(r3).collect(), "]"),
        Resp3Value::Set(a) => return list("~{", a.iter().map(r3).collect(), "}"),
        Resp3Value::Map(m) => {
            let v = m
                .iter()
                .map(|(k, v)| format!("{}: {}", r3(k), r3(v)))
                .collect();
            return list("%{", v, "}");
        }
    };
    match leaf {
        F3::BlobString { data, .. } => quoted(data, ARG_MAX).to_string(),
        F3::SimpleString { data, .. } => format!("+{}", String::from_utf8_lossy(data)),
        F3::SimpleError { data, .. } => format!("-{data}"),
        F3::BlobError { data, .. } => format!("!{}", quoted(data, 200)),
        F3::Number { data, .. } => format!(":{data}"),
        F3::Double { data, .. } => format!(",{}", super::score_text(*data)),
        F3::Boolean { data, .. } => format!("#{}", if *data { 't' } else { 'f' }),
        F3::BigNumber { data, .. } => format!("({}", String::from_utf8_lossy(data)),
        F3::Null => "(null)".into(),
        F3::VerbatimString { data, .. } => format!("={}", quoted(data, ARG_MAX)),
        other => format!("{other:?}").chars().take(120).collect(),
    }
}

impl<W: Write> LinkSink for Timeline<W> {
    fn event(&mut self, conn: u64, ev: &Event, dec: &LinkDecoder) -> io::Result<()> {
        self.printed = false;
        let p = self.opt.paint;
        match &ev.kind {
            EventKind::Keepalive => {
                if self.opt.show_keepalives {
                    self.line(conn, ev, &p.paint(Role::Offset, "keepalive \\n"))?;
                }
                Ok(())
            }
            EventKind::Request(r) => {
                let s = match (&r.kind, ev.phase) {
                    (_, crate::repl::stream::Phase::Client) => Section::Client,
                    (RequestKind::Psync { .. } | RequestKind::Sync, _) => Section::Psync,
                    (RequestKind::Ack { .. }, _) => self
                        .conns
                        .entry(conn)
                        .or_default()
                        .section
                        .unwrap_or(Section::Stream),
                    _ => match self.conns.get(&conn).and_then(|c| c.section) {
                        None => Section::Handshake,
                        Some(s) => s,
                    },
                };
                self.section(conn, s)?;
                let mut t = self.args(&r.args);
                if let RequestKind::Ack {
                    offset: Some(a),
                    getack,
                    ..
                } = &r.kind
                {
                    if let Some(m) = dec.master_offset() {
                        t.push_str(&format!("  (lag {} bytes)", m as i64 - a));
                    }
                    if let Some(g) = getack {
                        t.push_str(&format!("  answers GETACK at {g}"));
                    }
                }
                self.line(conn, ev, &t)
            }
            EventKind::Reply(r) => {
                // A push shows as `>[...]`: the frame says it is one.
                let t = frame_text(&r.frame);
                self.line(conn, ev, &t)
            }
            EventKind::FullResync {
                replid,
                offset,
                reason,
            } => {
                self.section(conn, Section::Psync)?;
                let off = offset.map_or("?".into(), |o| o.to_string());
                // Why the master did not continue: the decoder compares the PSYNC it saw
                // with the answer.
                let t = format!(
                    "{} {} {off}  full resynchronization from offset {off} ({})",
                    p.paint(Role::Good, "+FULLRESYNC"),
                    String::from_utf8_lossy(replid),
                    reason.describe()
                );
                self.line(conn, ev, &t)
            }
            EventKind::Continue {
                replid,
                repl_offset,
            } => {
                self.section(conn, Section::Psync)?;
                let id = replid
                    .as_ref()
                    .map(|r| format!(" {}", String::from_utf8_lossy(r)))
                    .unwrap_or_default();
                let at = repl_offset.map_or("?".into(), |o| o.to_string());
                let t = format!(
                    "{}{id}  partial resynchronization, backlog from offset {at}",
                    p.paint(Role::Good, "+CONTINUE")
                );
                self.line(conn, ev, &t)
            }
            EventKind::PsyncRefused {
                text, retry_later, ..
            } => {
                let why = if *retry_later {
                    "the replica retries later"
                } else {
                    "PSYNC not supported: the replica falls back to SYNC"
                };
                let t = format!("{}  {why}", p.paint(Role::Bad, quoted(text, 200)));
                self.line(conn, ev, &t)
            }
            EventKind::TransferAborted { text } => {
                let t = format!(
                    "{}  master aborted the transfer",
                    p.paint(Role::Bad, quoted(text, 200))
                );
                self.line(conn, ev, &t)
            }
            EventKind::TransferStart(f) => {
                self.section(conn, Section::Transfer)?;
                self.conns.entry(conn).or_default().rdb = RdbSummary::default();
                let t = match f {
                    Framing::Length(n) => format!("${n}  disk-based transfer of {n} bytes"),
                    Framing::EofMark(m) => format!(
                        "$EOF:{}  diskless transfer, ends with the same 40-byte mark",
                        String::from_utf8_lossy(m)
                    ),
                };
                self.line(conn, ev, &t)
            }
            EventKind::Rdb(r) => {
                if !RdbSummary::wants(r) {
                    return Ok(());
                }
                self.conns.entry(conn).or_default().rdb.add(r);
                if let RdbEvent::Header { version, .. } = r {
                    self.line(conn, ev, &format!("RDB version {version}"))?;
                }
                Ok(())
            }
            EventKind::RdbError(e) => {
                self.line(conn, ev, &p.paint(Role::Bad, format!("RDB error: {e}")))
            }
            EventKind::RdbTrailing { bytes } => {
                self.line(conn, ev, &format!("{bytes} bytes after the RDB's checksum"))
            }
            EventKind::TransferEnd { rdb_len } => {
                let s = std::mem::take(&mut self.conns.entry(conn).or_default().rdb);
                for (k, v) in &s.aux {
                    writeln!(
                        self.out,
                        "    aux {} = {}",
                        p.paint(Role::Key, quoted(k, 64)),
                        p.paint(Role::Value, quoted(v, 64))
                    )?;
                }
                for (db, types) in &s.keys {
                    let t: Vec<String> = types.iter().map(|(t, n)| format!("{t}={n}")).collect();
                    writeln!(self.out, "    db{db}: {}", t.join(" "))?;
                }
                match s.checksum {
                    Some((Some(st), c)) if st != 0 && st != c => writeln!(
                        self.out,
                        "    checksum {}",
                        p.paint(Role::Bad, format!("{st:016x} MISMATCH (computed {c:016x})"))
                    )?,
                    Some((Some(0), _)) => writeln!(self.out, "    checksum disabled")?,
                    Some((Some(st), _)) => writeln!(
                        self.out,
                        "    checksum {} {}",
                        format_args!("{st:016x}"),
                        p.paint(Role::Good, "OK")
                    )?,
                    _ => writeln!(self.out, "    checksum none")?,
                }
                let t = format!(
                    "end of transfer: {rdb_len} bytes of RDB, {} keys",
                    s.total()
                );
                self.line(conn, ev, &t)
            }
            EventKind::Command(c) => {
                self.section(conn, Section::Stream)?;
                if self.opt.quiet_pings && c.kind == CommandKind::Ping {
                    self.conns.entry(conn).or_default().pings_hidden += 1;
                    return Ok(());
                }
                let repl = c
                    .repl_offset
                    .map_or("repl ?".into(), |r| format!("repl {r}+{}", ev.len));
                let mut t = format!("{}  {}", p.paint(Role::Offset, repl), self.args(&c.args));
                if let Some(n) = c.note {
                    let st = self.conns.entry(conn).or_default();
                    if !st.notes.contains(&n) {
                        st.notes.push(n);
                        t.push_str(&format!("  ({n})"));
                    }
                }
                if c.tx.is_some() && !matches!(c.kind, CommandKind::Multi | CommandKind::Exec) {
                    t = format!("  {t}");
                }
                self.line(conn, ev, &t)
            }
        }
    }

    fn raw(&mut self, ev: &Event, bytes: Option<&[u8]>) -> io::Result<()> {
        if !std::mem::take(&mut self.printed) || ev.len == 0 {
            return Ok(());
        }
        let p = self.opt.paint;
        let Some(b) = bytes else {
            return writeln!(
                self.out,
                "{}",
                p.paint(Role::Offset, "        (bytes no longer held)")
            );
        };
        // 16 bytes a line: offset in the direction's stream, hex, and the printable ASCII.
        for (i, row) in b.chunks(16).enumerate() {
            let at = ev.offset + (i * 16) as u64;
            let hex: Vec<String> = row.iter().map(|x| format!("{x:02x}")).collect();
            let text: String = row
                .iter()
                .map(|&x| {
                    if (0x20..0x7f).contains(&x) {
                        x as char
                    } else {
                        '.'
                    }
                })
                .collect();
            writeln!(
                self.out,
                "        {}  {:<47}  |{text}|",
                p.paint(Role::Offset, format!("{at:08x}")),
                hex.join(" ")
            )?;
        }
        if ev.len > b.len() as u64 {
            writeln!(self.out, "        … {} more bytes", ev.len - b.len() as u64)?;
        }
        Ok(())
    }

    fn cut(&mut self, conn: u64, c: &CutEvent, _dec: &LinkDecoder) -> io::Result<()> {
        let p = self.opt.paint;
        let at = p.paint(Role::Offset, format!("{:>8}+{:<5}", c.m2r_bytes, 0));
        let what = p.paint(Role::Bad, format!("CUT by the tap ({})", c.rule()));
        writeln!(
            self.out,
            "#{conn} M→R {at} {what}: {} bytes forwarded master->replica, {} replica->master; {}",
            c.m2r_bytes,
            c.r2m_bytes,
            c.consequence()
        )
    }

    fn progress(&mut self, conn: u64, g: &RdbProgress) -> io::Result<()> {
        let p = self.opt.paint;
        let at = p.paint(Role::Offset, format!("{:>8}+{:<5}", g.offset, 0));
        let of = match g.rdb_len {
            Some(n) if n > 0 => format!(
                " of {} ({}%)",
                size(n),
                (u128::from(g.rdb_bytes) * 100 / u128::from(n)).min(100)
            ),
            _ => String::new(),
        };
        let key = match (&g.key, g.db) {
            (Some(k), Some(db)) => format!(", at db{db} {}", p.paint(Role::Key, quoted(k, 64))),
            _ => String::new(),
        };
        writeln!(
            self.out,
            "#{conn} M→R {at} RDB {}{of}, {} keys{key}",
            size(g.rdb_bytes),
            g.keys
        )
    }

    fn error(&mut self, conn: u64, e: &LinkError) -> io::Result<()> {
        let t = self.opt.paint.paint(Role::Bad, format!("error: {e}"));
        writeln!(self.out, "#{conn} {t}")
    }

    fn closed(&mut self, conn: u64, dir: Dir, dec: &LinkDecoder) -> io::Result<()> {
        let st = self.conns.entry(conn).or_default();
        let mut t = format!(
            "#{conn} {dir} closed after {} bytes, {} keepalives",
            dec.offset(dir),
            dec.keepalives(dir)
        );
        if dir == Dir::MasterToReplica {
            if let Some(m) = dec.master_offset() {
                t.push_str(&format!(", master offset {m}"));
            }
            if st.pings_hidden > 0 {
                t.push_str(&format!(", {} pings hidden", st.pings_hidden));
            }
        }
        writeln!(self.out, "{}", self.opt.paint.paint(Role::Heading, t))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
