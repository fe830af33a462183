//! Attaching to a real Redis as a replica, to read the replication stream it sends.
//!
//! The link is decoded with `repl::stream` — the decoder `rtool tap` and rtool's own replica
//! side use — only to find where the RDB transfer ends; from there the raw bytes of the
//! command stream are kept, so tests compare exact bytes.

#![allow(dead_code)]

use rtool::repl::stream::{Dir, EventKind, LinkDecoder};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A replica link to a real master, positioned after the snapshot.
pub struct ReplicaLink {
    pub sock: TcpStream,
    /// Bytes of the command stream received so far.
    pub stream: Vec<u8>,
}

/// `REPLCONF capa psync2`, `PSYNC ? -1`, then read until the RDB transfer is over.
pub fn attach_replica(port: u16) -> ReplicaLink {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut dec = LinkDecoder::new();
    let mut events = Vec::new();
    // PSYNC must wait for REPLCONF's +OK: Redis refuses "SYNC and PSYNC are invalid with
    // pending output" while a reply is still queued for the connection.
    let replconf = b"*3\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n";
    dec.feed(Dir::ReplicaToMaster, replconf, &mut events)
        .unwrap();
    sock.write_all(replconf).unwrap();
    let mut ok = [0u8; 5];
    sock.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    dec.feed(Dir::MasterToReplica, &ok, &mut events).unwrap();
    let psync = b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n";
    dec.feed(Dir::ReplicaToMaster, psync, &mut events).unwrap();
    sock.write_all(psync).unwrap();
    // Link offsets count from the connection's start: the +OK is byte 0.
    let mut received = ok.to_vec();
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for the RDB transfer"
        );
        let mut chunk = [0u8; 65536];
        let n = sock.read(&mut chunk).unwrap();
        assert!(n > 0, "master closed the link");
        received.extend_from_slice(&chunk[..n]);
        events.clear();
        dec.feed(Dir::MasterToReplica, &chunk[..n], &mut events)
            .unwrap();
        if let Some(end) = events
            .iter()
            .find(|e| matches!(e.kind, EventKind::TransferEnd { .. }))
        {
            let after = (end.offset + end.len) as usize;
            return ReplicaLink {
                sock,
                stream: received[after..].to_vec(),
            };
        }
    }
}

impl ReplicaLink {
    /// Read until the stream contains `marker` (a key the test writes last).
    pub fn read_until(&mut self, marker: &str) -> &[u8] {
        let start = Instant::now();
        while !self
            .stream
            .windows(marker.len())
            .any(|w| w == marker.as_bytes())
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "timed out reading the replication stream"
            );
            let mut chunk = [0u8; 65536];
            let n = self.sock.read(&mut chunk).unwrap();
            assert!(n > 0, "master closed the link");
            self.stream.extend_from_slice(&chunk[..n]);
        }
        &self.stream
    }
}

/// The stream as text (CRLF shown as spaces), with 13-digit Unix-millisecond arguments
/// masked (they differ between two runs) and the master's `ping` (lower case, sent every
/// `repl-ping-replica-period`) left out.
pub fn normalize(stream: &[u8]) -> String {
    let text = String::from_utf8_lossy(stream).into_owned();
    let mut out = String::new();
    for line in text.split("\r\n") {
        let is_ms = line.len() == 13 && line.bytes().all(|c| c.is_ascii_digit());
        out.push_str(if is_ms { "<ms>" } else { line });
        out.push(' ');
    }
    out.replace("*1 $4 ping ", "")
}

/// Split a script line like redis-cli does.
pub fn split(cmd: &str) -> Vec<Vec<u8>> {
    rtool::resp::split::split_args(cmd.as_bytes()).unwrap()
}
