//! Fuzzes the replication-link decoder (`rtool::repl::stream::LinkDecoder`, shared by the tap
//! and the replica): any bytes in either direction must give events or a `LinkError` (never a
//! panic, a hang or a huge allocation), and feeding each record in pieces must give exactly
//! the events, errors and positions that feeding it whole gives.
//!
//! Input: a control byte (+ 1 = the piece size), then records, each a tag byte (bit 0: 0 =
//! replica->master, 1 = master->replica), a little-endian `u16` length and that many bytes (or
//! what is left). The records are fed in order, whole or in pieces, then both directions are
//! finished. `python3 fuzz/seed.py` turns the captures of `fixtures/repl/` into such inputs,
//! one per connection, one record per recorded read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtool::repl::stream::{Dir, LinkDecoder};
use std::fmt::Write;

/// The input's records: direction and bytes.
fn records(mut data: &[u8]) -> Vec<(Dir, &[u8])> {
    let mut recs = Vec::new();
    while let Some((&tag, rest)) = data.split_first() {
        let dir = if tag & 1 == 0 {
            Dir::ReplicaToMaster
        } else {
            Dir::MasterToReplica
        };
        let (len, rest) = match rest {
            [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
            _ => (rest.len(), &[][..]),
        };
        let (bytes, rest) = rest.split_at(len.min(rest.len()));
        recs.push((dir, bytes));
        data = rest;
    }
    recs
}

/// Feeds the records in pieces of `chunk` bytes; everything observable, rendered with `Debug`.
fn run(recs: &[(Dir, &[u8])], chunk: Option<usize>) -> String {
    let mut dec = LinkDecoder::new();
    let mut out = String::new();
    let mut events = Vec::new();
    for &(dir, bytes) in recs {
        let size = chunk.unwrap_or(bytes.len()).max(1);
        for piece in bytes.chunks(size) {
            let r = dec.feed(dir, piece, &mut events);
            for e in events.drain(..) {
                writeln!(out, "{e:?}").unwrap();
            }
            if let Err(e) = r {
                writeln!(out, "error: {e:?}").unwrap();
            }
        }
    }
    for dir in [Dir::ReplicaToMaster, Dir::MasterToReplica] {
        if let Err(e) = dec.finish(dir) {
            writeln!(out, "finish: {e:?}").unwrap();
        }
        writeln!(
            out,
            "{dir}: offset {} keepalives {} phase {}",
            dec.offset(dir),
            dec.keepalives(dir),
            dec.phase(dir)
        )
        .unwrap();
    }
    writeln!(
        out,
        "kind {:?} master_offset {:?} db {:?}",
        dec.kind(),
        dec.master_offset(),
        dec.db()
    )
    .unwrap();
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&c, data)) = input.split_first() else {
        return;
    };
    let recs = records(data);
    let whole = run(&recs, None);
    let parts = run(&recs, Some(usize::from(c) + 1));
    assert_eq!(whole, parts);
});
