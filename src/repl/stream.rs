//! THE decoder of a replication link (and of any client connection): both directions of one
//! TCP connection in, typed events with byte offsets out.
//!
//! `rtool tap` drives it with what it forwards, `rtool serve` as a replica with what its
//! master sends, `rtool tap replay` and the tests with [captures](capture). It is *sans-IO*:
//! [`LinkDecoder::feed`] takes the bytes one direction carried, in any chunking, and appends
//! the events they complete; it never reads a socket or a clock.
//!
//! ## What a Redis 7.0 replication link carries
//! ```text
//! replica -> master                          master -> replica
//! PING                                       +PONG   (or -NOAUTH ...: still a valid answer)
//! AUTH [<user>] <pass>                       +OK     (or -WRONGPASS ...: the replica retries)
//! REPLCONF listening-port <port>             +OK
//! REPLCONF capa eof capa psync2              +OK
//! PSYNC <replid> <offset+1>  (or ? -1)       \n ...  keepalives while it prepares
//!                                            +FULLRESYNC <replid> <offset>
//!                                            \n ...  keepalives while the RDB is written
//!                                            $<len>\r\n<len bytes of RDB>        (disk)
//!                                         or $EOF:<40 chars>\r\n<RDB><same 40>  (diskless)
//! \n ...  keepalives while it loads
//! REPLCONF ACK <offset>  (every second)      *2 SELECT 0, writes, `ping`, REPLCONF GETACK *
//!                                         or +CONTINUE [<replid>] then the backlog
//! ```
//! The `$<len>` transfer has **no CRLF after the payload**: the command stream starts on the
//! next byte, so no generic RESP parser may frame it (it would eat two bytes of the first
//! command). Redis's replies to the handshake commands may be pipelined: with `masterauth`
//! the replica writes AUTH and both REPLCONFs back to back.
//!
//! ## How it is decoded
//! - **replica -> master** is a sequence of requests parsed by
//!   [`parse_request`](crate::resp::request::parse_request), the parser `serve` uses for its
//!   clients: handshake commands, `PSYNC`/`SYNC`, `REPLCONF ACK`, empty lines (`\n`) as
//!   keepalives, anything else as a plain request.
//! - **master -> replica** is reply frames (the handshake; found with a resumable scanner, then
//!   [`resp::frame::decode`](crate::resp::frame::decode)) until the reply to PSYNC; then the
//!   line protocol of the transfer; then the RDB, streamed through [`rdb::Reader`] as it
//!   arrives (bounded memory: for `$EOF:` only the last 39 bytes are held back, as they could
//!   be the start of the end mark); then the command stream, again with `parse_request`.
//! - The directions meet in three places, all causal on a real link (an answer never
//!   precedes its question): the *n*-th reply answers the *n*-th request that expects one, so
//!   the decoder knows which reply is PSYNC's (and which bytes are the RDB of a bare `SYNC`);
//!   `+CONTINUE` resumes at the offset the replica asked for in PSYNC; a `REPLCONF ACK` whose
//!   offset is where a `REPLCONF GETACK` started is marked as answering it.
//! - Whether the connection is a replication link at all is decided by what the connecting
//!   side sends: `REPLCONF`, `PSYNC` or `SYNC` make it one, any other command (after the
//!   optional `PING`/`AUTH`) makes it a client connection, decoded as requests and replies
//!   (RESP2 and RESP3, pushes included).
//!
//! ## Offsets
//! Every [`Event`] has `offset` and `len`: its position in its own direction's byte stream,
//! counted from the connection's first byte. A master's command also has `repl_offset`: the
//! master replication offset *before* it (so `repl_offset + len` is what the replica acknowledges
//! once it applied it). The stream after `+FULLRESYNC <id> <off>` starts at `off`; after
//! `+CONTINUE` at the PSYNC offset minus one (PSYNC asks for "the next byte", a 1-based
//! position); after a bare `SYNC`, at the `repl-offset` aux field of the RDB.
//!
//! ## Guarantees
//! - Feeding the same bytes in any chunking gives the same events, in the same order, with
//!   the same offsets (tested at every split point of the real captures in `fixtures/repl/`).
//! - Any bytes give events or a [`LinkError`] naming the direction, the offset and the phase;
//!   never a panic, a hang, or an allocation sized by a length field: a frame is decoded only
//!   once all of its bytes have arrived. After an error that direction is not decoded further
//!   (its bytes are counted and ignored); the other direction goes on.
//! - An RDB the reader cannot decode does not stop the link: the framing (`$<len>` or the
//!   mark) says where the RDB ends, so an [`EventKind::RdbError`] is reported and the command
//!   stream after it is still decoded.
//!
//! ```
//! use rtool::repl::stream::{Dir, EventKind, LinkDecoder};
//! let mut dec = LinkDecoder::new();
//! let mut events = Vec::new();
//! dec.feed(Dir::ReplicaToMaster, b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n", &mut events).unwrap();
//! dec.feed(Dir::MasterToReplica, b"+FULLRESYNC 0123456789012345678901234567890123456789 100\r\n", &mut events).unwrap();
//! dec.feed(Dir::MasterToReplica, b"$18\r\nREDIS0010\xff\0\0\0\0\0\0\0\0", &mut events).unwrap();
//! dec.feed(Dir::MasterToReplica, b"*1\r\n$4\r\nping\r\n", &mut events).unwrap();
//! let EventKind::Command(ping) = &events.last().unwrap().kind else { panic!() };
//! assert_eq!(ping.repl_offset, Some(100));
//! assert_eq!(dec.master_offset(), Some(114));
//! ```

pub mod capture;
pub mod notes;
mod scan;

use crate::rdb;
use crate::rdb::error::Escaped;
use crate::resp::frame::{self, Frame};
use crate::resp::request::{self, Limits, Parsed, ProtocolError};
use bytes::Bytes;
use scan::FrameScan;
use std::collections::VecDeque;
use std::fmt;

/// Length of the `$EOF:` mark (`CONFIG_RUN_ID_SIZE` in Redis).
pub const EOF_MARK_LEN: usize = 40;

/// Longest line accepted where Redis reads a line of the transfer protocol (the answer to
/// PSYNC is a frame; this is for what comes before the RDB).
const MAX_TRANSFER_LINE: usize = 64 * 1024;

/// How many requests are remembered for pairing replies with them (a pipelining client can
/// be far ahead of the server's replies; beyond this a reply is just not paired).
const PAIRING_WINDOW: usize = 1024;

/// How many unanswered `REPLCONF GETACK`s are remembered.
const GETACK_WINDOW: usize = 64;

/// A direction of the connection. For a client connection, `ReplicaToMaster` is what the
/// client sent and `MasterToReplica` what the server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    ReplicaToMaster,
    MasterToReplica,
}

impl Dir {
    /// `replica->master` / `master->replica`, the names the tap's JSON uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::ReplicaToMaster => "replica->master",
            Dir::MasterToReplica => "master->replica",
        }
    }

    /// `r2m` / `m2r`, the names captures use.
    pub fn short(self) -> &'static str {
        match self {
            Dir::ReplicaToMaster => "r2m",
            Dir::MasterToReplica => "m2r",
        }
    }
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in the life of the link an event happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the replica's PSYNC/SYNC was answered (also: the first PING/AUTH of any
    /// connection, before it is known to be a client).
    Handshake,
    /// master->replica, from `+FULLRESYNC` (or a bare SYNC's answer) to the end of the RDB.
    Transfer,
    /// The command stream (master->replica) and the ACKs and keepalives (replica->master)
    /// after PSYNC/SYNC.
    Stream,
    /// An ordinary client connection.
    Client,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Handshake => "handshake",
            Phase::Transfer => "transfer",
            Phase::Stream => "stream",
            Phase::Client => "client",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the connection turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Nothing but PING/AUTH seen yet.
    Unknown,
    /// The connecting side sent REPLCONF, PSYNC or SYNC.
    Replication,
    /// The connecting side sent another command first.
    Client,
}

/// One decoded thing.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub dir: Dir,
    /// Position of the first byte in `dir`'s stream (counted from the connection's start).
    pub offset: u64,
    /// Bytes it spans (0 for a marker such as the end of a `$<len>` transfer).
    pub len: u64,
    pub phase: Phase,
    pub kind: EventKind,
}

/// What an event is.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A newline sent to keep the link alive (master: while preparing the RDB; replica: while
    /// loading it), or any empty request (`\r\n`, `*0`), which Redis skips.
    Keepalive,
    /// A request: the replica's handshake and ACKs, or a client's command.
    Request(Request),
    /// A reply frame of the handshake or of a client connection (RESP2 or RESP3).
    Reply(Reply),
    /// `+FULLRESYNC <replid> <offset>`: a full resynchronization follows.
    FullResync {
        replid: Bytes,
        /// `None` if the line is malformed (Redis then logs "Master replied with wrong
        /// +FULLRESYNC syntax" and goes on).
        offset: Option<i64>,
        /// Why the master did not continue the replica's history, as far as the two sides
        /// of the exchange tell.
        reason: FullResyncReason,
    },
    /// `+CONTINUE [<replid>]`: a partial resynchronization; the backlog follows.
    Continue {
        /// The master's replication ID when it changed (the replica asked with the previous
        /// one, e.g. after a failover).
        replid: Option<Bytes>,
        /// Where the command stream resumes: the PSYNC offset minus one, when the PSYNC was
        /// seen.
        repl_offset: Option<u64>,
    },
    /// Any other answer to PSYNC. `-NOMASTERLINK` and `-LOADING` mean "try later" (the
    /// replica closes and retries); anything else means "PSYNC not supported" (the replica
    /// sends SYNC next on the same connection). `line` is the reply's first line without its
    /// CRLF, type byte included, as a replica reads it (Redis's `connSyncReadLine`) and logs it.
    PsyncRefused {
        text: Bytes,
        retry_later: bool,
        line: Bytes,
    },
    /// An error line where the transfer was expected ("MASTER aborted replication with an
    /// error"); the replica drops the connection.
    TransferAborted { text: Bytes },
    /// The line that starts the RDB transfer.
    TransferStart(Framing),
    /// Something in the RDB, with its offset in the link stream.
    Rdb(rdb::Event),
    /// The RDB reader gave up; the transfer's framing still says where it ends, so decoding
    /// resumes after it. A truncated RDB (transfer shorter than the RDB) is reported so too.
    RdbError(rdb::RdbError),
    /// Bytes after the RDB's end (its checksum) but inside the transfer.
    RdbTrailing { bytes: u64 },
    /// The end of the transfer: the end mark (40 bytes) for `$EOF:`, an empty marker for
    /// `$<len>`.
    TransferEnd { rdb_len: u64 },
    /// A command of the master's replication stream.
    Command(Command),
}

/// Why a PSYNC got `+FULLRESYNC` instead of `+CONTINUE`, worked out from what the replica
/// asked and what the master answered. The master's *previous* replication ID (`master_replid2`)
/// never crosses the link, so "the previous ID, but past the point where it was replaced" reads
/// as an ID mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullResyncReason {
    /// `PSYNC ? -1`: the replica has no history (a fresh start with `replicaof`).
    Requested,
    /// The replica's replication ID is not the one the master answers with.
    IdMismatch,
    /// Same ID, but the requested offset is not in the master's backlog (too old, or the
    /// backlog was never created because the master had no replica yet).
    OffsetOutOfRange,
    /// The PSYNC was not seen.
    Unknown,
}

impl FullResyncReason {
    /// A sentence for people, in the vocabulary of Redis's log ("Partial resynchronization
    /// not accepted: ...").
    pub fn describe(self) -> &'static str {
        match self {
            FullResyncReason::Requested => {
                "Full resync requested by replica: PSYNC ? -1, it has no history to continue"
            }
            FullResyncReason::IdMismatch => {
                "Partial resynchronization not accepted: Replication ID mismatch (the replica's \
                 history is neither the master's current ID nor its previous one up to the \
                 switch)"
            }
            FullResyncReason::OffsetOutOfRange => {
                "Partial resynchronization not accepted: the requested offset is outside the \
                 master's backlog"
            }
            FullResyncReason::Unknown => "the replica's PSYNC was not seen",
        }
    }
}

/// How the RDB transfer is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `$<len>\r\n`: exactly that many bytes follow, with no CRLF after them (disk-based).
    Length(u64),
    /// `$EOF:<mark>\r\n`: the RDB is followed by the same 40 bytes (diskless).
    EofMark([u8; EOF_MARK_LEN]),
}

/// A request (replica->master, or a client's command).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub args: Vec<Bytes>,
    /// Sent as an inline command (a line of text) rather than a multibulk.
    pub inline: bool,
    pub kind: RequestKind,
}

/// What a request means on a replication link.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestKind {
    Ping,
    /// `AUTH [<user>] <pass>` (`masteruser` makes it the two-argument form).
    Auth {
        user: Option<Bytes>,
    },
    /// `REPLCONF <option> <value> ...` other than ACK/GETACK: `listening-port`,
    /// `ip-address`, `capa` (`eof`: diskless transfers; `psync2`: +CONTINUE with a new ID),
    /// `rdb-only`, ...
    Replconf(Vec<(Bytes, Bytes)>),
    /// `REPLCONF ACK <offset> [FACK <aof offset>]`: how much of the stream the replica has
    /// processed (sent every second, and at once after a GETACK).
    Ack {
        offset: Option<i64>,
        fack: Option<i64>,
        /// The master offset of the `REPLCONF GETACK` this ACK answers, when its offset is
        /// exactly where one started (the replica answers with its offset before the GETACK).
        getack: Option<u64>,
    },
    /// `REPLCONF GETACK` (only a master sends it; seen here it is just reported).
    Getack,
    /// `PSYNC <replid> <offset>`: `? -1` asks for a full sync; otherwise the ID and the
    /// *next* offset (processed + 1) of the history the replica has.
    Psync {
        replid: Bytes,
        offset: Option<i64>,
    },
    /// `SYNC`: the pre-2.8 protocol (redis-cli --rdb/--replica use it too).
    Sync,
    /// Anything else.
    Other,
}

/// A reply frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub frame: Frame,
    /// Out of band, not the answer to any request: a RESP3 push (`>`), or a RESP2 pub/sub
    /// message (an array starting with `message`, `pmessage` or `smessage` on a connection
    /// that subscribed).
    pub push: bool,
    /// Offset (replica->master) of the request it answers, when known.
    pub request: Option<u64>,
}

/// A command of the master's replication stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub args: Vec<Bytes>,
    pub inline: bool,
    /// Master replication offset before this command, when the stream's start is known.
    pub repl_offset: Option<u64>,
    /// The database it applies to (`None` until the stream's database is known).
    pub db: Option<u64>,
    /// Within MULTI/EXEC: the link offset of the MULTI (the MULTI and the EXEC included).
    pub tx: Option<u64>,
    pub kind: CommandKind,
    /// How Redis 7.0 comes to propagate this form (see [`notes`]).
    pub note: Option<&'static str>,
}

/// The commands of the stream that are about the stream itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// `SELECT <db>` (the db is `None` if the argument is not a number).
    Select {
        db: Option<u64>,
    },
    /// The master's keepalive, `ping` in lower case, every `repl-ping-replica-period` seconds.
    Ping,
    /// `REPLCONF GETACK *`: answer with an ACK now.
    Getack,
    Multi,
    Exec,
    /// A write (or PUBLISH) to apply.
    Write,
}

/// Why a direction could not be decoded further.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{dir}: {kind} at offset {offset} ({phase})")]
pub struct LinkError {
    pub dir: Dir,
    /// Where the offending item starts in `dir`'s stream.
    pub offset: u64,
    pub phase: Phase,
    pub kind: LinkErrorKind,
}

/// The reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkErrorKind {
    /// A request or stream command Redis itself would refuse (its error text).
    #[error("{0}")]
    Protocol(ProtocolError),
    /// A reply that is not valid RESP.
    #[error("bad reply: {0}")]
    BadReply(String),
    /// What came where the RDB transfer should start.
    #[error("{0}")]
    BadTransfer(String),
    /// The direction ended in the middle of something.
    #[error("connection closed in the middle of {0}")]
    Truncated(String),
}

/// One direction's bytes: what is buffered and where it stands.
#[derive(Debug, Default, Clone)]
struct Side {
    /// Bytes received but not consumed (at most one incomplete item).
    buf: Vec<u8>,
    /// Stream offset of the first byte not consumed yet.
    offset: u64,
    keepalives: u64,
    error: Option<LinkError>,
}

/// The replica's last PSYNC: which reply answers it and what it asked for.
#[derive(Debug, Clone)]
struct PsyncReq {
    seq: u64,
    replid: Bytes,
    offset: Option<i64>,
}

/// What master->replica bytes are expected next.
#[derive(Debug, Clone)]
enum MState {
    /// Reply frames (handshake or client), keepalives.
    Replies,
    /// Lines: keepalives, then `$EOF:<mark>` or `$<len>` (or an error).
    TransferWait,
    Transfer(Box<Transfer>),
    /// The command stream.
    Stream,
}

#[derive(Clone)]
enum RdbState {
    Reading(Box<rdb::Reader>),
    /// The reader reached the checksum; `end` is the link offset after it.
    Done {
        end: u64,
    },
    Failed,
}

impl fmt::Debug for RdbState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RdbState::Reading(r) => write!(f, "Reading(at {})", r.offset()),
            RdbState::Done { end } => write!(f, "Done(end {end})"),
            RdbState::Failed => f.write_str("Failed"),
        }
    }
}

/// An RDB transfer in progress.
#[derive(Debug, Clone)]
struct Transfer {
    framing: Framing,
    /// Link offset of the first payload byte.
    start: u64,
    /// Payload bytes handed to the reader (or skipped) so far.
    fed: u64,
    /// `$EOF:` only: the last bytes seen, not yet known not to be the mark (< 40).
    hold: Vec<u8>,
    rdb: RdbState,
    /// Payload bytes after the RDB's end.
    extra: u64,
    aux_repl_offset: Option<i64>,
    aux_stream_db: Option<u64>,
}

/// Where the command stream stands.
#[derive(Debug, Clone, Default)]
struct StreamPos {
    /// Link offset of the stream's first byte.
    start: u64,
    /// Master replication offset at `start`.
    base: Option<u64>,
    db: Option<u64>,
    tx: Option<u64>,
}

/// The decoder of one connection, both directions. Cloning it is a checkpoint.
#[derive(Debug, Clone)]
pub struct LinkDecoder {
    kind: LinkKind,
    r2m: Side,
    m2r: Side,
    /// The replica has sent PSYNC or SYNC.
    synced: bool,
    /// Requests that expect a reply, counted; and the latest ones' offsets, for pairing.
    req_seq: u64,
    recent: VecDeque<(u64, u64)>,
    psync: Option<PsyncReq>,
    /// Reply number of a bare SYNC's answer (the transfer itself).
    sync_seq: Option<u64>,
    m: MState,
    /// Replies decoded so far (pushes excluded).
    rep_seq: u64,
    scan: FrameScan,
    /// The offset of this link's +FULLRESYNC.
    fullresync: Option<i64>,
    stream: StreamPos,
    /// Master offsets where recent GETACKs started.
    getacks: VecDeque<u64>,
    /// A client connection sent a SUBSCRIBE: RESP2 arrays starting with "message" are
    /// messages, not replies.
    subscribed: bool,
}

impl Default for LinkDecoder {
    fn default() -> Self {
        LinkDecoder::new()
    }
}

/// What one decoding step did with the bytes it was given.
type Step = Result<Option<usize>, LinkError>;

impl LinkDecoder {
    pub fn new() -> LinkDecoder {
        LinkDecoder {
            kind: LinkKind::Unknown,
            r2m: Side::default(),
            m2r: Side::default(),
            synced: false,
            req_seq: 0,
            recent: VecDeque::new(),
            psync: None,
            sync_seq: None,
            m: MState::Replies,
            rep_seq: 0,
            scan: FrameScan::default(),
            fullresync: None,
            stream: StreamPos::default(),
            getacks: VecDeque::new(),
            subscribed: false,
        }
    }

    /// Decodes the next `bytes` of direction `dir`, appending the events they complete to
    /// `out` (events before an error are appended too). The error is returned once; after
    /// it, that direction's bytes are only counted.
    pub fn feed(&mut self, dir: Dir, bytes: &[u8], out: &mut Vec<Event>) -> Result<(), LinkError> {
        if self.side(dir).error.is_some() {
            self.side_mut(dir).offset += bytes.len() as u64;
            return Ok(());
        }
        let received = self.side(dir).offset + (self.side(dir).buf.len() + bytes.len()) as u64;
        let mut buf = std::mem::take(&mut self.side_mut(dir).buf);
        // Decode straight from the caller's slice when nothing is pending, and keep only what
        // is left of an incomplete item.
        let result = if buf.is_empty() {
            self.process(dir, bytes, out)
                .map(|used| buf.extend_from_slice(&bytes[used..]))
        } else {
            buf.extend_from_slice(bytes);
            self.process(dir, &buf, out).map(|used| {
                buf.drain(..used);
            })
        };
        match result {
            Ok(()) => {
                // A big frame that is gone leaves a big allocation: give it back.
                if buf.capacity() > 256 * 1024 && buf.len() < buf.capacity() / 4 {
                    buf.shrink_to(buf.len().max(64 * 1024));
                }
                self.side_mut(dir).buf = buf;
                Ok(())
            }
            Err(e) => {
                let side = self.side_mut(dir);
                side.offset = received;
                side.error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Says `dir` has ended (its sender closed): an error if it stopped in the middle of a
    /// frame, a command or the RDB transfer.
    pub fn finish(&mut self, dir: Dir) -> Result<(), LinkError> {
        if self.side(dir).error.is_some() {
            return Ok(());
        }
        let pending = !self.side(dir).buf.is_empty();
        let what = match dir {
            Dir::ReplicaToMaster => pending.then(|| "a request".to_string()),
            Dir::MasterToReplica => match &self.m {
                MState::Transfer(t) => Some(match t.framing {
                    Framing::Length(n) => {
                        format!("the RDB transfer ({} of {n} bytes received)", t.fed)
                    }
                    Framing::EofMark(_) => format!(
                        "the RDB transfer ({} bytes received, no end mark)",
                        t.fed + t.hold.len() as u64
                    ),
                }),
                MState::Replies => pending.then(|| "a reply".to_string()),
                MState::TransferWait => pending.then(|| "the transfer's first line".to_string()),
                MState::Stream => pending.then(|| "a command".to_string()),
            },
        };
        match what {
            None => Ok(()),
            Some(w) => {
                let phase = self.phase(dir);
                let e = LinkError {
                    dir,
                    offset: self.side(dir).offset,
                    phase,
                    kind: LinkErrorKind::Truncated(w),
                };
                self.side_mut(dir).error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// What the connection is, as far as the decoder can tell yet.
    pub fn kind(&self) -> LinkKind {
        self.kind
    }

    /// Bytes of `dir` consumed so far (an incomplete item at the end is not counted).
    pub fn offset(&self, dir: Dir) -> u64 {
        self.side(dir).offset
    }

    /// Keepalives (`\n` and empty requests) seen in `dir`.
    pub fn keepalives(&self, dir: Dir) -> u64 {
        self.side(dir).keepalives
    }

    /// The error that stopped `dir`, if any.
    pub fn error(&self, dir: Dir) -> Option<&LinkError> {
        self.side(dir).error.as_ref()
    }

    /// The phase `dir` is in now.
    pub fn phase(&self, dir: Dir) -> Phase {
        match dir {
            Dir::ReplicaToMaster => self.r2m_phase(),
            Dir::MasterToReplica => self.m2r_phase(),
        }
    }

    /// The master replication offset after the last complete command of the stream: what a
    /// replica that applied everything so far acknowledges. `None` before the stream starts or
    /// when its start offset is unknown.
    pub fn master_offset(&self) -> Option<u64> {
        match self.m {
            MState::Stream => self
                .stream
                .base
                .map(|b| b + (self.m2r.offset - self.stream.start)),
            _ => None,
        }
    }

    /// Bytes held for incomplete items (both directions' buffers, the RDB reader's buffer,
    /// the bytes held back as a possible end mark), allocated capacity: for memory
    /// accounting and the tests that check it stays bounded.
    pub fn buffered(&self) -> usize {
        let mut n = self.r2m.buf.capacity() + self.m2r.buf.capacity();
        if let MState::Transfer(t) = &self.m {
            n += t.hold.capacity();
            if let RdbState::Reading(r) = &t.rdb {
                n += r.buffer_capacity();
            }
        }
        n
    }

    /// The database the master's stream is in now.
    pub fn db(&self) -> Option<u64> {
        self.stream.db
    }

    fn side(&self, dir: Dir) -> &Side {
        match dir {
            Dir::ReplicaToMaster => &self.r2m,
            Dir::MasterToReplica => &self.m2r,
        }
    }

    fn side_mut(&mut self, dir: Dir) -> &mut Side {
        match dir {
            Dir::ReplicaToMaster => &mut self.r2m,
            Dir::MasterToReplica => &mut self.m2r,
        }
    }

    fn r2m_phase(&self) -> Phase {
        match (self.kind, self.synced) {
            (LinkKind::Client, _) => Phase::Client,
            (_, true) => Phase::Stream,
            (_, false) => Phase::Handshake,
        }
    }

    fn m2r_phase(&self) -> Phase {
        match self.m {
            MState::Replies if self.kind == LinkKind::Client => Phase::Client,
            MState::Replies => Phase::Handshake,
            MState::TransferWait | MState::Transfer(_) => Phase::Transfer,
            MState::Stream => Phase::Stream,
        }
    }

    fn err(&self, dir: Dir, offset: u64, kind: LinkErrorKind) -> LinkError {
        LinkError {
            dir,
            offset,
            phase: self.phase(dir),
            kind,
        }
    }

    fn push(&self, out: &mut Vec<Event>, dir: Dir, offset: u64, len: u64, kind: EventKind) {
        out.push(Event {
            dir,
            offset,
            len,
            phase: self.phase(dir),
            kind,
        });
    }

    /// Decodes as many items as `data` (which starts at the direction's current offset)
    /// completes; returns how many bytes they used.
    fn process(&mut self, dir: Dir, data: &[u8], out: &mut Vec<Event>) -> Result<usize, LinkError> {
        let mut pos = 0;
        loop {
            let step = match dir {
                Dir::ReplicaToMaster => self.step_r2m(&data[pos..], out)?,
                Dir::MasterToReplica => self.step_m2r(&data[pos..], out)?,
            };
            match step {
                Some(n) => {
                    pos += n;
                    self.side_mut(dir).offset += n as u64;
                }
                None => return Ok(pos),
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // replica -> master
    // -----------------------------------------------------------------------------------------

    fn step_r2m(&mut self, data: &[u8], out: &mut Vec<Event>) -> Step {
        let off = self.r2m.offset;
        let (args, inline, n) = match request::parse_request(data, &Limits::default()) {
            Err(e) => {
                return Err(self.err(Dir::ReplicaToMaster, off, LinkErrorKind::Protocol(e)));
            }
            Ok(Parsed::Incomplete) => return Ok(None),
            Ok(Parsed::Command(req, n)) => (share_args(data, n, &req.args), false, n),
            Ok(Parsed::Inline(args, n)) => (
                args.into_iter().map(Bytes::from).collect::<Vec<_>>(),
                true,
                n,
            ),
        };
        if n == 0 {
            // parse_request never reports an empty item, but a zero-length step would loop.
            return Ok(None);
        }
        self.on_request(args, inline, off, n as u64, out);
        Ok(Some(n))
    }

    fn on_request(
        &mut self,
        args: Vec<Bytes>,
        inline: bool,
        off: u64,
        n: u64,
        out: &mut Vec<Event>,
    ) {
        let dir = Dir::ReplicaToMaster;
        if args.is_empty() {
            self.r2m.keepalives += 1;
            self.push(out, dir, off, n, EventKind::Keepalive);
            return;
        }
        let mut kind = classify_request(&args);
        let expects_reply = match &mut kind {
            RequestKind::Ack { offset, getack, .. } => {
                if let Some(o) = offset.and_then(|o| u64::try_from(o).ok()) {
                    if self.getacks.contains(&o) {
                        *getack = Some(o);
                    }
                    self.getacks.retain(|&g| g > o);
                }
                false
            }
            RequestKind::Getack => false,
            _ => true,
        };
        match &kind {
            RequestKind::Psync { replid, offset } => {
                self.psync = Some(PsyncReq {
                    seq: self.req_seq,
                    replid: replid.clone(),
                    offset: *offset,
                });
                self.kind = LinkKind::Replication;
            }
            RequestKind::Sync => {
                self.sync_seq = Some(self.req_seq);
                self.kind = LinkKind::Replication;
            }
            RequestKind::Replconf(_) | RequestKind::Ack { .. }
                if self.kind == LinkKind::Unknown =>
            {
                self.kind = LinkKind::Replication;
            }
            RequestKind::Other => {
                if self.kind == LinkKind::Unknown {
                    self.kind = LinkKind::Client;
                }
                let name = &args[0];
                if eq(name, "subscribe") || eq(name, "psubscribe") || eq(name, "ssubscribe") {
                    self.subscribed = true;
                }
            }
            _ => {}
        }
        // The request that decides the kind of connection is labelled with it; PSYNC and
        // SYNC themselves still belong to the handshake, what follows them to the stream.
        let phase = self.r2m_phase();
        if matches!(kind, RequestKind::Psync { .. } | RequestKind::Sync) {
            self.synced = true;
        }
        if expects_reply {
            if self.recent.len() == PAIRING_WINDOW {
                self.recent.pop_front();
            }
            self.recent.push_back((self.req_seq, off));
            self.req_seq += 1;
        }
        out.push(Event {
            dir,
            offset: off,
            len: n,
            phase,
            kind: EventKind::Request(Request { args, inline, kind }),
        });
    }

    // -----------------------------------------------------------------------------------------
    // master -> replica
    // -----------------------------------------------------------------------------------------

    fn step_m2r(&mut self, data: &[u8], out: &mut Vec<Event>) -> Step {
        match self.m {
            MState::Replies => {
                if self.sync_seq == Some(self.rep_seq) {
                    // A bare SYNC is answered by the transfer itself (after keepalives).
                    self.sync_seq = None;
                    self.rep_seq += 1;
                    self.m = MState::TransferWait;
                    // The transfer line is read from the start of what is buffered: a reply
                    // scan begun on those bytes (a tap that saw them before the SYNC) is void.
                    self.scan.reset();
                    return self.step_m2r(data, out);
                }
                self.step_reply(data, out)
            }
            MState::TransferWait => self.step_transfer_line(data, out),
            MState::Transfer(_) => self.step_transfer(data, out),
            MState::Stream => self.step_command(data, out),
        }
    }

    fn step_reply(&mut self, data: &[u8], out: &mut Vec<Event>) -> Step {
        let dir = Dir::MasterToReplica;
        let off = self.m2r.offset;
        match data {
            [] => return Ok(None),
            [b'\n', ..] | [b'\r', b'\n', ..] => {
                let n = if data[0] == b'\n' { 1 } else { 2 };
                self.m2r.keepalives += 1;
                self.push(out, dir, off, n, EventKind::Keepalive);
                return Ok(Some(n as usize));
            }
            [b'\r'] => return Ok(None),
            _ => {}
        }
        let n = match self.scan.advance(data) {
            Ok(None) => return Ok(None),
            Ok(Some(n)) => n,
            Err(e) => return Err(self.err(dir, off, LinkErrorKind::BadReply(e))),
        };
        self.scan.reset();
        let frame = match frame::decode(&data[..n]) {
            Ok(Some((f, used))) if used == n => f,
            Ok(_) => {
                let msg = "the frame decoder disagrees on the frame's length".to_string();
                return Err(self.err(dir, off, LinkErrorKind::BadReply(msg)));
            }
            Err(e) => return Err(self.err(dir, off, LinkErrorKind::BadReply(e))),
        };
        self.on_reply(frame, &data[..n], off, out);
        Ok(Some(n))
    }

    fn on_reply(&mut self, frame: Frame, raw: &[u8], off: u64, out: &mut Vec<Event>) {
        let dir = Dir::MasterToReplica;
        let n = raw.len() as u64;
        let push = match &frame {
            Frame::Resp3(f) => matches!(f.value, frame::Resp3Value::Push(_)),
            // In RESP2 a subscribed client's messages are plain arrays; only after a
            // SUBSCRIBE are they taken for messages rather than replies.
            Frame::Resp2(redis_protocol::resp2::types::OwnedFrame::Array(a)) if self.subscribed => {
                matches!(
                    a.first(),
                    Some(redis_protocol::resp2::types::OwnedFrame::BulkString(k))
                        if k == b"message" || k == b"pmessage" || k == b"smessage"
                )
            }
            _ => false,
        };
        let seq = (!push).then(|| {
            self.rep_seq += 1;
            self.rep_seq - 1
        });
        let request = seq.and_then(|s| {
            let first = self.recent.front()?.0;
            let i = usize::try_from(s.checked_sub(first)?).ok()?;
            self.recent.get(i).map(|&(_, o)| o)
        });
        // The line after the type byte, for one-line replies.
        let line = match raw.first() {
            Some(b'+' | b'-') => &raw[1..raw.len() - 2],
            _ => &[][..],
        };
        let answers_psync =
            seq.is_some() && self.psync.as_ref().is_some_and(|p| Some(p.seq) == seq);
        // +FULLRESYNC/+CONTINUE can only be answers to PSYNC: recognise them even when the
        // PSYNC was not seen (a tap that missed it, a capture of one direction).
        let is_full = raw[0] == b'+' && line.starts_with(b"FULLRESYNC");
        let is_cont = raw[0] == b'+' && line.starts_with(b"CONTINUE");
        if !(answers_psync || is_full || is_cont) {
            self.push(
                out,
                dir,
                off,
                n,
                EventKind::Reply(Reply {
                    frame,
                    push,
                    request,
                }),
            );
            return;
        }
        let psync = self.psync.take();
        if is_full {
            // Redis splits at spaces: `+FULLRESYNC <replid> <offset>`.
            let mut parts = line.splitn(3, |&b| b == b' ').skip(1);
            let replid = Bytes::copy_from_slice(parts.next().unwrap_or_default());
            let offset = parts.next().and_then(request::parse_i64);
            let reason = match &psync {
                None => FullResyncReason::Unknown,
                Some(p) if p.replid == "?" => FullResyncReason::Requested,
                Some(p) if p.replid != replid => FullResyncReason::IdMismatch,
                Some(_) => FullResyncReason::OffsetOutOfRange,
            };
            self.push(
                out,
                dir,
                off,
                n,
                EventKind::FullResync {
                    replid,
                    offset,
                    reason,
                },
            );
            self.kind = LinkKind::Replication;
            self.fullresync = offset;
            self.m = MState::TransferWait;
        } else if is_cont {
            let rest = line[b"CONTINUE".len()..].trim_ascii();
            let replid = (!rest.is_empty()).then(|| Bytes::copy_from_slice(rest));
            let repl_offset = psync
                .and_then(|p| p.offset)
                .and_then(|o| u64::try_from(o).ok())
                .and_then(|o| o.checked_sub(1));
            self.push(
                out,
                dir,
                off,
                n,
                EventKind::Continue {
                    replid,
                    repl_offset,
                },
            );
            self.kind = LinkKind::Replication;
            self.m = MState::Stream;
            self.stream = StreamPos {
                start: off + n,
                base: repl_offset,
                db: None,
                tx: None,
            };
        } else {
            let text = if line.is_empty() {
                Bytes::copy_from_slice(&raw[..raw.len().saturating_sub(2)])
            } else {
                Bytes::copy_from_slice(line)
            };
            let retry_later = raw[0] == b'-'
                && (line.starts_with(b"NOMASTERLINK") || line.starts_with(b"LOADING"));
            let first = &raw[..memchr::memchr(b'\n', raw).unwrap_or(raw.len())];
            let first = Bytes::copy_from_slice(first.strip_suffix(b"\r").unwrap_or(first));
            self.push(
                out,
                dir,
                off,
                n,
                EventKind::PsyncRefused {
                    text,
                    retry_later,
                    line: first,
                },
            );
        }
    }

    /// Before the RDB: Redis reads lines here (`connSyncReadLine`), newline keepalives
    /// included, until the one starting with `$`.
    fn step_transfer_line(&mut self, data: &[u8], out: &mut Vec<Event>) -> Step {
        let dir = Dir::MasterToReplica;
        let off = self.m2r.offset;
        let Some(nl) = memchr::memchr(b'\n', data) else {
            if data.len() > MAX_TRANSFER_LINE {
                let msg =
                    format!("no newline in the first {MAX_TRANSFER_LINE} bytes of the transfer");
                return Err(self.err(dir, off, LinkErrorKind::BadTransfer(msg)));
            }
            return Ok(None);
        };
        let n = nl + 1;
        let mut line = &data[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        if line.is_empty() {
            self.m2r.keepalives += 1;
            self.push(out, dir, off, n as u64, EventKind::Keepalive);
            return Ok(Some(n));
        }
        if line[0] == b'-' {
            let text = Bytes::copy_from_slice(&line[1..]);
            self.push(out, dir, off, n as u64, EventKind::TransferAborted { text });
            self.m = MState::Replies;
            return Ok(Some(n));
        }
        let framing = if line.starts_with(b"$EOF:") && line.len() >= 5 + EOF_MARK_LEN {
            let mut mark = [0u8; EOF_MARK_LEN];
            mark.copy_from_slice(&line[5..5 + EOF_MARK_LEN]);
            Framing::EofMark(mark)
        } else if line[0] == b'$' {
            match request::parse_i64(&line[1..]).and_then(|l| u64::try_from(l).ok()) {
                Some(len) => Framing::Length(len),
                None => {
                    let msg = format!("bad RDB transfer length in '{}'", Escaped(line));
                    return Err(self.err(dir, off, LinkErrorKind::BadTransfer(msg)));
                }
            }
        } else {
            // Redis's own words (readSyncBulkPayload).
            let msg = format!(
                "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you \
                 sure the host and port are right?",
                Escaped(line)
            );
            return Err(self.err(dir, off, LinkErrorKind::BadTransfer(msg)));
        };
        self.push(out, dir, off, n as u64, EventKind::TransferStart(framing));
        let start = off + n as u64;
        self.m = MState::Transfer(Box::new(Transfer {
            framing,
            start,
            fed: 0,
            hold: Vec::new(),
            rdb: RdbState::Reading(Box::new(rdb::Reader::with_offset(start))),
            extra: 0,
            aux_repl_offset: None,
            aux_stream_db: None,
        }));
        if framing == Framing::Length(0) {
            self.end_transfer(0, out);
        }
        Ok(Some(n))
    }

    fn step_transfer(&mut self, data: &[u8], out: &mut Vec<Event>) -> Step {
        let MState::Transfer(t) = &mut self.m else {
            return Ok(None);
        };
        if data.is_empty() {
            return Ok(None);
        }
        match t.framing {
            Framing::Length(len) => {
                let take = (len - t.fed).min(data.len() as u64) as usize;
                self.payload(&data[..take], out);
                if let MState::Transfer(t) = &self.m
                    && t.fed == len
                {
                    self.end_transfer(0, out);
                }
                Ok(Some(take))
            }
            Framing::EofMark(mark) => {
                let hold = std::mem::take(&mut t.hold);
                let h = hold.len();
                // A mark that starts in the held bytes ends within the first 40 new ones.
                let mut found = None;
                if h > 0 {
                    let mut window = hold.clone();
                    window.extend_from_slice(&data[..data.len().min(EOF_MARK_LEN)]);
                    found = memchr::memmem::find(&window, &mark).filter(|&p| p < h);
                }
                if found.is_none() {
                    found = memchr::memmem::find(data, &mark).map(|j| h + j);
                }
                match found {
                    Some(p) => {
                        // Logical stream: hold ++ data; the RDB is everything before p.
                        self.payload(&hold[..p.min(h)], out);
                        if p > h {
                            self.payload(&data[..p - h], out);
                        }
                        self.end_transfer(EOF_MARK_LEN as u64, out);
                        Ok(Some(p + EOF_MARK_LEN - h))
                    }
                    None => {
                        // Everything but the last 39 bytes is RDB for sure.
                        let keep = EOF_MARK_LEN - 1;
                        let total = h + data.len();
                        let sure = total.saturating_sub(keep);
                        self.payload(&hold[..sure.min(h)], out);
                        if sure > h {
                            self.payload(&data[..sure - h], out);
                        }
                        let mut new_hold = Vec::with_capacity(keep);
                        if sure < h {
                            new_hold.extend_from_slice(&hold[sure..]);
                        }
                        new_hold.extend_from_slice(&data[sure.saturating_sub(h)..]);
                        if let MState::Transfer(t) = &mut self.m {
                            t.hold = new_hold;
                        }
                        Ok(Some(data.len()))
                    }
                }
            }
        }
    }

    /// Hands RDB payload bytes to the reader and reports what it decodes.
    fn payload(&mut self, bytes: &[u8], out: &mut Vec<Event>) {
        if bytes.is_empty() {
            return;
        }
        let phase = self.m2r_phase();
        let MState::Transfer(t) = &mut self.m else {
            return;
        };
        t.fed += bytes.len() as u64;
        let mut failed = false;
        match &mut t.rdb {
            RdbState::Reading(r) => {
                r.feed(bytes);
                loop {
                    match r.next_event() {
                        Ok(Some(ev)) => {
                            if let rdb::Event::Aux { name, value, .. } = &ev {
                                match name.as_ref() {
                                    b"repl-offset" => t.aux_repl_offset = request::parse_i64(value),
                                    b"repl-stream-db" => {
                                        t.aux_stream_db = request::parse_i64(value)
                                            .and_then(|d| u64::try_from(d).ok())
                                    }
                                    _ => {}
                                }
                            }
                            let span = ev.span();
                            out.push(Event {
                                dir: Dir::MasterToReplica,
                                offset: span.offset,
                                len: span.len,
                                phase,
                                kind: EventKind::Rdb(ev),
                            });
                        }
                        Ok(None) => break,
                        Err(e) => {
                            out.push(Event {
                                dir: Dir::MasterToReplica,
                                offset: e.offset,
                                len: 0,
                                phase,
                                kind: EventKind::RdbError(e),
                            });
                            failed = true;
                            break;
                        }
                    }
                }
                if failed {
                    t.rdb = RdbState::Failed;
                } else if r.is_done() {
                    // Bytes past the checksum: counted, not kept.
                    t.extra += r.remaining().len() as u64;
                    t.rdb = RdbState::Done { end: r.offset() };
                }
            }
            RdbState::Done { .. } => t.extra += bytes.len() as u64,
            RdbState::Failed => {}
        }
    }

    /// The transfer's framing ended (after the mark, whose length is given).
    fn end_transfer(&mut self, mark_len: u64, out: &mut Vec<Event>) {
        let phase = self.m2r_phase();
        let MState::Transfer(t) = std::mem::replace(&mut self.m, MState::Stream) else {
            return;
        };
        let mut t = *t;
        let dir = Dir::MasterToReplica;
        let end = t.start + t.fed;
        // The framing ended before the RDB did.
        if let RdbState::Reading(r) = &mut t.rdb
            && let Err(e) = r.finish()
        {
            out.push(Event {
                dir,
                offset: e.offset,
                len: 0,
                phase,
                kind: EventKind::RdbError(e),
            });
        }
        if let (RdbState::Done { end: rdb_end }, true) = (&t.rdb, t.extra > 0) {
            out.push(Event {
                dir,
                offset: *rdb_end,
                len: t.extra,
                phase,
                kind: EventKind::RdbTrailing { bytes: t.extra },
            });
        }
        out.push(Event {
            dir,
            offset: end,
            len: mark_len,
            phase,
            kind: EventKind::TransferEnd { rdb_len: t.fed },
        });
        // The stream starts at +FULLRESYNC's offset; after a bare SYNC the RDB's own record
        // of the master offset (the `repl-offset` aux field) is the only one there is.
        let base = self
            .fullresync
            .or(t.aux_repl_offset)
            .and_then(|o| u64::try_from(o).ok());
        self.stream = StreamPos {
            start: end + mark_len,
            base,
            // The replica selects the RDB's repl-stream-db for its master client.
            db: t.aux_stream_db,
            tx: None,
        };
    }

    fn step_command(&mut self, data: &[u8], out: &mut Vec<Event>) -> Step {
        let dir = Dir::MasterToReplica;
        let off = self.m2r.offset;
        let (args, inline, n) = match request::parse_request(data, &Limits::default()) {
            Err(e) => return Err(self.err(dir, off, LinkErrorKind::Protocol(e))),
            Ok(Parsed::Incomplete) => return Ok(None),
            Ok(Parsed::Command(req, n)) => (share_args(data, n, &req.args), false, n),
            Ok(Parsed::Inline(args, n)) => (
                args.into_iter().map(Bytes::from).collect::<Vec<_>>(),
                true,
                n,
            ),
        };
        if n == 0 {
            return Ok(None);
        }
        let len = n as u64;
        if args.is_empty() {
            self.m2r.keepalives += 1;
            self.push(out, dir, off, len, EventKind::Keepalive);
            return Ok(Some(n));
        }
        let repl_offset = self.stream.base.map(|b| b + (off - self.stream.start));
        let kind = classify_command(&args);
        match kind {
            CommandKind::Select { db } => self.stream.db = db,
            CommandKind::Multi => self.stream.tx = Some(off),
            CommandKind::Getack => {
                if let Some(r) = repl_offset {
                    if self.getacks.len() == GETACK_WINDOW {
                        self.getacks.pop_front();
                    }
                    self.getacks.push_back(r);
                }
            }
            _ => {}
        }
        let tx = self.stream.tx;
        if kind == CommandKind::Exec {
            self.stream.tx = None;
        }
        let note = notes::note(&args);
        let cmd = Command {
            args,
            inline,
            repl_offset,
            db: self.stream.db,
            tx,
            kind,
            note,
        };
        self.push(out, dir, off, len, EventKind::Command(cmd));
        Ok(Some(n))
    }
}

/// The arguments of a multibulk command, as slices of one copy of the command's bytes: one
/// allocation per command instead of one per argument (the stream's hot path).
fn share_args(data: &[u8], n: usize, args: &[&[u8]]) -> Vec<Bytes> {
    let raw = Bytes::copy_from_slice(&data[..n]);
    let base = data.as_ptr() as usize;
    args.iter()
        .map(|a| {
            // parse_request's arguments borrow from `data[..n]`.
            let start = a.as_ptr() as usize - base;
            raw.slice(start..start + a.len())
        })
        .collect()
}

fn eq(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

fn classify_request(args: &[Bytes]) -> RequestKind {
    let name = &args[0];
    if eq(name, "ping") {
        RequestKind::Ping
    } else if eq(name, "auth") {
        RequestKind::Auth {
            user: (args.len() >= 3).then(|| args[1].clone()),
        }
    } else if eq(name, "psync") && args.len() >= 3 {
        RequestKind::Psync {
            replid: args[1].clone(),
            offset: request::parse_i64(&args[2]),
        }
    } else if eq(name, "sync") {
        RequestKind::Sync
    } else if eq(name, "replconf") {
        if args.len() >= 2 && eq(&args[1], "ack") {
            let num = |i: usize| args.get(i).and_then(|a| request::parse_i64(a));
            let fack = (args.len() >= 5 && eq(&args[3], "fack"))
                .then(|| num(4))
                .flatten();
            RequestKind::Ack {
                offset: num(2),
                fack,
                getack: None,
            }
        } else if args.len() >= 2 && eq(&args[1], "getack") {
            RequestKind::Getack
        } else {
            RequestKind::Replconf(
                args[1..]
                    .chunks(2)
                    .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
                    .collect(),
            )
        }
    } else {
        RequestKind::Other
    }
}

fn classify_command(args: &[Bytes]) -> CommandKind {
    let name = &args[0];
    if eq(name, "select") {
        CommandKind::Select {
            db: args
                .get(1)
                .and_then(|a| request::parse_i64(a))
                .and_then(|d| u64::try_from(d).ok()),
        }
    } else if eq(name, "ping") {
        CommandKind::Ping
    } else if eq(name, "replconf") && args.len() >= 2 && eq(&args[1], "getack") {
        CommandKind::Getack
    } else if eq(name, "multi") {
        CommandKind::Multi
    } else if eq(name, "exec") {
        CommandKind::Exec
    } else {
        CommandKind::Write
    }
}
