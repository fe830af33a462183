//! The replication log: the one place where propagated writes become bytes and offsets.
//!
//! Redis feeds the same bytes to its replicas, its backlog and (almost the same) to its AOF
//! (`feedReplicationBuffer`, `feedAppendOnlyFile`). A `SELECT` is emitted whenever the
//! database of the next write differs from the last one written to the stream, exactly as
//! Redis's `replicationFeedSlaves` does, and it counts in the offset like any command.

use bytes::{BufMut, BytesMut};

/// The stream of propagated writes.
#[derive(Debug, Default)]
pub struct ReplLog {
    /// `master_repl_offset`: how many bytes have ever been appended.
    offset: u64,
    /// The database the stream currently "is in", or None before the first SELECT.
    last_db: Option<usize>,
    /// Bytes appended since the last [`ReplLog::take_pending`]: the sinks (replica links,
    /// backlog, AOF) pick them up from here.
    pending: BytesMut,
    /// Whether anything consumes the stream. With no replica, no backlog and no AOF, Redis
    /// does not build the stream at all (and its offset does not move); rtool does the same.
    pub active: bool,
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

    /// Forget the current database so the next write starts with a SELECT (after a new
    /// replica attaches, Redis resets `slaveseldb` for the same reason).
    pub fn reset_db(&mut self) {
        self.last_db = None;
    }

    /// The bytes appended since the last call.
    pub fn take_pending(&mut self) -> bytes::Bytes {
        self.pending.split().freeze()
    }
}

/// Encode a command as a RESP array of bulk strings, the form commands take in the
/// replication stream and the AOF.
pub fn encode_command(out: &mut BytesMut, args: &[&[u8]]) {
    out.put_u8(b'*');
    out.put_slice(args.len().to_string().as_bytes());
    out.put_slice(b"\r\n");
    for a in args {
        out.put_u8(b'$');
        out.put_slice(a.len().to_string().as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
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
    }
}
