//! The replication log: the one place where propagated writes become bytes and offsets.
//!
//! Redis feeds the same bytes to its replicas, its backlog and (almost the same) to its AOF
//! (`feedReplicationBuffer`, `feedAppendOnlyFile`). A `SELECT` is emitted whenever the
//! database of the next write differs from the last one written to the stream, exactly as
//! Redis's `replicationFeedSlaves` does, and it counts in the offset like any command.
//!
//! Like Redis, the stream only exists while something consumes it: until the first replica
//! attaches there is no backlog and `master_repl_offset` stays where it is.

use super::backlog::Backlog;
use bytes::{BufMut, Bytes, BytesMut};

/// The stream of propagated writes, the replication IDs and the backlog.
#[derive(Debug)]
pub struct ReplLog {
    /// `master_repl_offset`: how many bytes have ever been appended.
    offset: u64,
    /// The database the stream currently "is in", or None before the first SELECT.
    last_db: Option<usize>,
    /// Bytes appended since the last [`ReplLog::seal`]; sealed into the backlog as one block
    /// per batch of commands, so readers see whole commands.
    pending: BytesMut,
    /// Whether anything consumes the stream (replicas attached, or a test reading it).
    pub active: bool,
    /// The sealed stream in memory. Until a replica attaches it is only read by tests and
    /// tools; [`ReplLog::create_backlog`] gives it its `repl-backlog-size` window.
    pub backlog: Backlog,
    /// `repl_backlog_active`
    pub backlog_active: bool,
    /// `master_replid`: the history this stream belongs to.
    pub replid: String,
    /// `master_replid2` and `second_repl_offset`: the previous history and where it ended
    /// (after a replica is promoted), so its old siblings can still PSYNC.
    pub replid2: String,
    pub second_repl_offset: i64,
    /// Where [`ReplLog::take_pending`] resumes (tests and tools reading the log directly).
    taken: u64,
    /// Unix ms since when no replica is attached (0: some are, or never checked); after
    /// `repl-backlog-ttl` seconds of that a master frees its backlog.
    pub no_replicas_since_ms: i64,
}

impl Default for ReplLog {
    fn default() -> Self {
        ReplLog {
            offset: 0,
            last_db: None,
            pending: BytesMut::new(),
            active: false,
            backlog: Backlog::new(0, usize::MAX),
            backlog_active: false,
            replid: crate::cmd::engine::random_hex40(),
            replid2: "0".repeat(40),
            second_repl_offset: -1,
            taken: 0,
            no_replicas_since_ms: 0,
        }
    }
}

impl ReplLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// `master_repl_offset`.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Append one command executed in database `db`, preceded by a SELECT if needed.
    pub fn feed(&mut self, db: usize, args: &[&[u8]]) {
        if !self.active {
            return;
        }
        if self.last_db != Some(db) {
            let d = db.to_string();
            self.append(&[b"SELECT", d.as_bytes()]);
            self.last_db = Some(db);
        }
        self.append(args);
    }

    /// Append a command that belongs to no database (the master's `ping`, `REPLCONF GETACK`).
    pub fn feed_nodb(&mut self, args: &[&[u8]]) {
        if self.active {
            self.append(args);
        }
    }

    fn append(&mut self, args: &[&[u8]]) {
        let before = self.pending.len();
        encode_command(&mut self.pending, args);
        self.offset += (self.pending.len() - before) as u64;
    }

    /// Append bytes exactly as a master sent them (a replica relays its master's stream to its
    /// own replicas byte for byte, so both links have the same offsets), and remember the
    /// database they left the stream in.
    pub fn append_raw(&mut self, raw: &[u8], db: Option<usize>) {
        if self.active {
            self.pending.extend_from_slice(raw);
        }
        self.offset += raw.len() as u64;
        if db.is_some() {
            self.last_db = db;
        }
    }

    /// Adopt the master's history after a full resync: its replication ID, its offset, an
    /// empty backlog from there (Redis's `replicationCreateMasterClient` after loading).
    pub fn adopt_master(&mut self, replid: &str, offset: u64, stream_db: Option<usize>) {
        self.pending.clear();
        self.replid = replid.to_string();
        self.replid2 = "0".repeat(40);
        self.second_repl_offset = -1;
        self.offset = offset;
        self.taken = offset;
        self.last_db = stream_db;
        let size = self.backlog.size;
        self.backlog = Backlog::new(offset, size);
    }

    /// The master continued with a new replication ID (`+CONTINUE <newid>`, after a failover):
    /// the old one becomes the secondary ID, valid up to here (Redis's `shiftReplicationId`).
    pub fn shift_replid(&mut self, new_id: &str) {
        self.replid2 = std::mem::replace(&mut self.replid, new_id.to_string());
        self.second_repl_offset = self.offset as i64 + 1;
    }

    /// The database the stream last selected (`repl-stream-db` in a snapshot).
    pub fn stream_db(&self) -> Option<usize> {
        self.last_db
    }

    /// Forget the current database so the next write starts with a SELECT (after a new
    /// replica attaches for a full sync, Redis resets `slaveseldb` for the same reason).
    pub fn reset_db(&mut self) {
        self.last_db = None;
    }

    /// Start keeping a backlog (the first replica attached), from the current offset.
    pub fn create_backlog(&mut self, size: usize) {
        if !self.backlog_active {
            self.seal();
            self.active = true;
            self.backlog_active = true;
            self.backlog = Backlog::new(self.offset, size);
            self.taken = self.offset;
        }
    }

    /// Free the backlog of a master that has had no replica for `repl-backlog-ttl` seconds.
    /// The history starts over under a new ID (and no secondary one): without a backlog the
    /// offset stops counting writes, so keeping the old ID could let a former replica
    /// "continue" past writes it never saw (the reasoning in Redis's replicationCron).
    pub fn free_backlog(&mut self) {
        self.seal();
        self.replid = crate::cmd::engine::random_hex40();
        self.replid2 = "0".repeat(40);
        self.second_repl_offset = -1;
        self.backlog = Backlog::new(self.offset, usize::MAX);
        self.backlog_active = false;
        self.active = false;
        self.last_db = None;
    }

    /// Move the pending bytes into the backlog as one block. Returns whether there were any.
    pub fn seal(&mut self) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        let block = self.pending.split().freeze();
        self.backlog.push(block);
        true
    }

    /// The bytes appended since the last call (for tests and offline tools that read the log
    /// directly instead of through a replica link).
    pub fn take_pending(&mut self) -> Bytes {
        self.seal();
        let from = self.taken;
        self.taken = self.offset;
        match self.backlog.read_from(from) {
            Some(parts) => Bytes::from(parts.concat()),
            None => Bytes::new(),
        }
    }
}

/// Encode a command as a RESP array of bulk strings, the form commands take in the
/// replication stream and the AOF.
///
/// Any buffer will do (the backlog's `BytesMut`, the AOF's `Vec<u8>`); numbers are written
/// without allocating, since this runs once per propagated write.
pub fn encode_command<B: BufMut>(out: &mut B, args: &[&[u8]]) {
    out.put_u8(b'*');
    put_decimal(out, args.len());
    out.put_slice(b"\r\n");
    for a in args {
        out.put_u8(b'$');
        put_decimal(out, a.len());
        out.put_slice(b"\r\n");
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
}

fn put_decimal<B: BufMut>(out: &mut B, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_is_emitted_and_counted() {
        let mut l = ReplLog {
            active: true,
            ..Default::default()
        };
        l.feed(0, &[b"set", b"k", b"v"]);
        // "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n" = 4+4+8+4+3 = 23 bytes,
        // "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n" = 4+4+5+4+3+4+3 = 27 bytes
        assert_eq!(l.offset(), 23 + 27);
        l.feed(0, &[b"del", b"k"]);
        assert_eq!(l.offset(), 23 + 27 + 20);
        let b = l.take_pending();
        assert!(b.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset"));
        assert_eq!(b.len(), 70);
        l.feed(1, &[b"ping"]);
        assert!(
            l.take_pending()
                .starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n1")
        );
    }
}
