//! The replication backlog and buffer: the tail of the replication stream kept in memory.
//!
//! Redis 7 keeps one replication buffer, a list of blocks shared by every replica link and by
//! the backlog (`repl-backlog-size`): a replica is a cursor into it, and a block is freed when
//! no cursor needs it and it is older than the backlog window. rtool does the same with
//! reference-counted `Bytes` blocks, so fanning out to N replicas copies nothing.
//!
//! Offsets are stream offsets: the byte at offset `o` is the `o+1`-th byte ever propagated.
//! Redis reports the window 1-based (`repl_backlog_first_byte_offset` is the offset of the
//! first byte kept, plus one) and a PSYNC asks for "the next byte I need" in the same 1-based
//! terms; [`Backlog::first_byte_offset`] follows Redis.

use bytes::Bytes;
use std::collections::VecDeque;

#[derive(Debug, Default)]
pub struct Backlog {
    /// (stream offset of the block's first byte, bytes)
    blocks: VecDeque<(u64, Bytes)>,
    /// Stream offset just past the last byte (`master_repl_offset`).
    end: u64,
    /// `repl-backlog-size`
    pub size: usize,
}

impl Backlog {
    /// An empty backlog whose next byte will be at `offset`.
    pub fn new(offset: u64, size: usize) -> Self {
        Backlog {
            blocks: VecDeque::new(),
            end: offset,
            size,
        }
    }

    /// Offset of the first byte kept (0-based).
    pub fn start(&self) -> u64 {
        self.blocks.front().map(|(o, _)| *o).unwrap_or(self.end)
    }

    pub fn end(&self) -> u64 {
        self.end
    }

    /// `repl_backlog_histlen`: how many bytes of the backlog window are held (at most
    /// `repl-backlog-size`, even when replicas still pin older blocks).
    pub fn histlen(&self) -> u64 {
        (self.end - self.start()).min(self.size as u64)
    }

    /// `repl_backlog_first_byte_offset` (1-based, as Redis reports it).
    pub fn first_byte_offset(&self) -> u64 {
        self.end - self.histlen() + 1
    }

    /// Can a replica resume from this 1-based offset (`PSYNC <id> <offset>`)? Redis accepts
    /// offsets from the first byte in the backlog up to one past the last.
    pub fn can_resume_from(&self, psync_offset: u64) -> bool {
        psync_offset >= self.first_byte_offset() && psync_offset <= self.end + 1
    }

    pub fn push(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        let start = self.end;
        self.end += bytes.len() as u64;
        self.blocks.push_back((start, bytes));
    }

    /// Drop blocks nobody needs: older than the backlog window and before every cursor in
    /// `pinned` (the offsets replica links have not sent yet).
    pub fn trim(&mut self, oldest_pinned: Option<u64>) {
        let window_start = self.end.saturating_sub(self.size as u64);
        let keep_from = oldest_pinned.map_or(window_start, |p| p.min(window_start));
        while let Some((o, b)) = self.blocks.front() {
            if o + b.len() as u64 <= keep_from {
                self.blocks.pop_front();
            } else {
                break;
            }
        }
    }

    /// The bytes from 0-based stream offset `from` to the end, as slices of the shared
    /// blocks. None if `from` is no longer held.
    pub fn read_from(&self, from: u64) -> Option<Vec<Bytes>> {
        if from < self.start() || from > self.end {
            return None;
        }
        let mut out = Vec::new();
        for (o, b) in &self.blocks {
            let block_end = o + b.len() as u64;
            if block_end <= from {
                continue;
            }
            let skip = from.saturating_sub(*o) as usize;
            out.push(b.slice(skip..));
        }
        Some(out)
    }

    /// Bytes held in memory (INFO `mem_total_replication_buffers`).
    pub fn memory(&self) -> u64 {
        self.blocks.iter().map(|(_, b)| b.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_cursors() {
        let mut b = Backlog::new(100, 10);
        assert_eq!(b.first_byte_offset(), 101);
        assert_eq!(b.histlen(), 0);
        b.push(Bytes::from_static(b"abcdef"));
        b.push(Bytes::from_static(b"ghijkl"));
        assert_eq!(b.end(), 112);
        assert_eq!(b.histlen(), 10);
        assert_eq!(b.first_byte_offset(), 103);
        // A cursor at 100 pins the first block.
        b.trim(Some(100));
        let got: Vec<u8> = b.read_from(100).unwrap().concat();
        assert_eq!(got, b"abcdefghijkl");
        b.trim(None);
        // The first block ends at 106 <= 102? no: window starts at 102, block [100,106) stays.
        assert_eq!(b.read_from(103).unwrap().concat(), b"defghijkl");
        b.push(Bytes::from_static(b"mnopqr"));
        b.trim(None);
        assert!(b.read_from(100).is_none());
        assert!(b.can_resume_from(113));
        assert!(b.can_resume_from(119));
        assert!(!b.can_resume_from(120));
    }
}
