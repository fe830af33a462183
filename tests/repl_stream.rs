//! The replication-link decoder against real links.
//!
//! - Every capture in `fixtures/repl/` (recorded between real Redis 7.0.15 servers by
//!   `fixtures/gen/capture.py`) decodes without an error, and what it says agrees with what
//!   the servers said at the end: the FULLRESYNC offset plus the bytes of the commands is the
//!   master's final `master_repl_offset`, ACKs land on command boundaries, GETACKs are
//!   answered with the offset before them, `+CONTINUE` resumes where PSYNC asked.
//! - The events are the same whatever the chunking: every split point of every capture, and
//!   one byte at a time.
//! - Garbage, lies and truncation give errors naming the direction, offset and phase; never a
//!   panic, a hang or a big allocation; a big transfer is decoded in bounded memory.

use bytes::Bytes;
use proptest::prelude::*;
use rtool::rdb;
use rtool::repl::stream::capture::Capture;
use rtool::repl::stream::{
    CommandKind, Dir, Event, EventKind, Framing, FullResyncReason, LinkDecoder, LinkError,
    LinkErrorKind, LinkKind, Phase, RequestKind,
};
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const CAPTURES: &[&str] = &[
    "auth",
    "backlog-overflow",
    "chain-sub",
    "chain-top",
    "client",
    "disk-sync",
    "diskless-delay",
    "diskless-sync",
    "keepalives",
    "partial-resync",
    "sync-command",
];

fn load(name: &str) -> Capture {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/repl/{name}.capture"));
    Capture::parse(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// What decoding one connection gave: the events of each direction and every error.
#[derive(Debug, PartialEq)]
struct Outcome {
    r2m: Vec<Event>,
    m2r: Vec<Event>,
    errors: Vec<LinkError>,
    master_offset: Option<u64>,
    kind: LinkKind,
}

impl Outcome {
    fn all(&self) -> impl Iterator<Item = &Event> {
        self.r2m.iter().chain(self.m2r.iter())
    }
}

/// How to cut the recorded chunks into `feed` calls.
#[derive(Clone, Copy)]
enum Cut {
    /// As recorded.
    Recorded,
    /// Also split at this position of this direction's stream.
    At(Dir, u64),
    /// One byte per call.
    Bytes,
}

fn replay(cap: &Capture, conn: u64, cut: Cut) -> Outcome {
    let mut dec = LinkDecoder::new();
    let mut r2m = Vec::new();
    let mut m2r = Vec::new();
    let mut errors = Vec::new();
    let mut pos = [0u64; 2];
    for rec in cap.records.iter().filter(|r| r.conn == conn) {
        let out = match rec.dir {
            Dir::ReplicaToMaster => &mut r2m,
            Dir::MasterToReplica => &mut m2r,
        };
        let i = rec.dir as usize;
        let Some(data) = &rec.data else {
            if let Err(e) = dec.finish(rec.dir) {
                errors.push(e);
            }
            continue;
        };
        let pieces: Vec<&[u8]> = match cut {
            Cut::Recorded => vec![data],
            Cut::Bytes => data.chunks(1).collect(),
            Cut::At(d, k) if d == rec.dir && k > pos[i] && k < pos[i] + data.len() as u64 => {
                let at = (k - pos[i]) as usize;
                vec![&data[..at], &data[at..]]
            }
            Cut::At(..) => vec![data],
        };
        pos[i] += data.len() as u64;
        for p in pieces {
            if let Err(e) = dec.feed(rec.dir, p, out) {
                errors.push(e);
            }
        }
    }
    Outcome {
        r2m,
        m2r,
        errors,
        master_offset: dec.master_offset(),
        kind: dec.kind(),
    }
}

fn args_of(e: &Event) -> Option<Vec<String>> {
    let a = match &e.kind {
        EventKind::Request(r) => &r.args,
        EventKind::Command(c) => &c.args,
        _ => return None,
    };
    Some(
        a.iter()
            .map(|x| String::from_utf8_lossy(x).into_owned())
            .collect(),
    )
}

fn commands(o: &Outcome) -> Vec<(&Event, &rtool::repl::stream::Command)> {
    o.m2r
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Command(c) => Some((e, c)),
            _ => None,
        })
        .collect()
}

fn acks(o: &Outcome) -> Vec<(i64, Option<u64>)> {
    o.r2m
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Request(r) => match r.kind {
                RequestKind::Ack { offset, getack, .. } => Some((offset.unwrap(), getack)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn meta_u64(cap: &Capture, key: &str) -> u64 {
    cap.meta(key).unwrap().parse().unwrap()
}

/// Checks what every replication stream must satisfy, and returns the stream's commands.
fn check_stream(o: &Outcome) {
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    for e in o.all() {
        assert!(
            !matches!(
                e.kind,
                EventKind::RdbError(_) | EventKind::RdbTrailing { .. }
            ),
            "{e:?}"
        );
    }
    // Each direction's events tile its stream: no gaps, no overlaps (RDB events nest inside
    // the transfer, so only top-level link events are checked).
    for evs in [&o.r2m, &o.m2r] {
        let mut next = 0;
        for e in evs.iter().filter(|e| !matches!(e.kind, EventKind::Rdb(_))) {
            assert_eq!(e.offset, next, "gap or overlap before {e:?}");
            next = e.offset + e.len;
            if let EventKind::TransferStart(Framing::Length(n)) = e.kind {
                next += n;
            }
            if let EventKind::TransferStart(Framing::EofMark(_)) = e.kind {
                // The mark event (TransferEnd) sits right after the RDB; find it below.
                let end = evs
                    .iter()
                    .find_map(|x| match x.kind {
                        EventKind::TransferEnd { rdb_len } => Some(rdb_len),
                        _ => None,
                    })
                    .unwrap();
                next += end;
            }
        }
    }
    // Commands are contiguous in the master's offsets, and ACKs land on their boundaries.
    let cmds = commands(o);
    let mut boundaries = Vec::new();
    for w in cmds.windows(2) {
        let (a, ca) = w[0];
        let (_, cb) = w[1];
        assert_eq!(ca.repl_offset.unwrap() + a.len, cb.repl_offset.unwrap());
    }
    for (e, c) in &cmds {
        boundaries.push(c.repl_offset.unwrap());
        boundaries.push(c.repl_offset.unwrap() + e.len);
    }
    for (ack, getack) in acks(o) {
        if !cmds.is_empty() {
            assert!(
                boundaries.contains(&(ack as u64)) || ack as u64 <= boundaries[0],
                "ACK {ack} is not on a command boundary"
            );
        }
        if let Some(g) = getack {
            assert_eq!(g, ack as u64);
            assert!(
                cmds.iter()
                    .any(|(_, c)| c.kind == CommandKind::Getack && c.repl_offset == Some(g))
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Chunking
// ---------------------------------------------------------------------------------------------

#[test]
fn same_events_at_every_split_point() {
    for name in CAPTURES {
        let cap = load(name);
        for conn in cap.conns() {
            let whole = replay(&cap, conn, Cut::Recorded);
            for dir in [Dir::ReplicaToMaster, Dir::MasterToReplica] {
                let len = cap.stream(conn, dir).len() as u64;
                for k in 1..len {
                    let split = replay(&cap, conn, Cut::At(dir, k));
                    assert!(
                        split == whole,
                        "{name} conn {conn}: split of {} at {k} differs",
                        dir.short()
                    );
                }
            }
            assert!(
                replay(&cap, conn, Cut::Bytes) == whole,
                "{name}: one byte at a time"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The captures, one by one
// ---------------------------------------------------------------------------------------------

#[test]
fn disk_sync() {
    let cap = load("disk-sync");
    let o = replay(&cap, 1, Cut::Recorded);
    check_stream(&o);
    assert_eq!(o.kind, LinkKind::Replication);
    let replid = cap.meta("master_replid").unwrap();
    let final_offset = meta_u64(&cap, "master_repl_offset");

    // The handshake, each reply paired with its request.
    let reqs: Vec<&RequestKind> = o
        .r2m
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Request(r) => Some(&r.kind),
            _ => None,
        })
        .collect();
    assert_eq!(reqs[0], &RequestKind::Ping);
    let RequestKind::Replconf(opts) = reqs[1] else {
        panic!()
    };
    assert_eq!(opts[0].0, "listening-port");
    let RequestKind::Replconf(opts) = reqs[2] else {
        panic!()
    };
    assert_eq!(
        opts,
        &vec![
            (Bytes::from("capa"), Bytes::from("eof")),
            (Bytes::from("capa"), Bytes::from("psync2"))
        ]
    );
    // A replica started with --replicaof has no history: PSYNC ? -1.
    assert_eq!(
        reqs[3],
        &RequestKind::Psync {
            replid: Bytes::from("?"),
            offset: Some(-1)
        }
    );
    let replies: Vec<&Event> = o
        .m2r
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Reply(_)))
        .collect();
    assert_eq!(replies.len(), 3);
    for (i, r) in replies.iter().enumerate() {
        let EventKind::Reply(rep) = &r.kind else {
            unreachable!()
        };
        assert_eq!(rep.request, Some(o.r2m[i].offset));
        assert_eq!(r.phase, Phase::Handshake);
    }

    // +FULLRESYNC, then $<len> and the RDB, decoded with link offsets.
    let (fr_replid, fr_off) = o
        .m2r
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::FullResync {
                replid,
                offset,
                reason,
            } => {
                assert_eq!(*reason, FullResyncReason::Requested);
                Some((replid.clone(), offset.unwrap()))
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(fr_replid, replid);
    assert_eq!(fr_off, 0);
    let start = o
        .m2r
        .iter()
        .find(|e| matches!(e.kind, EventKind::TransferStart(Framing::Length(_))))
        .unwrap();
    let EventKind::TransferStart(Framing::Length(rdb_len)) = start.kind else {
        unreachable!()
    };
    let first_rdb = o
        .m2r
        .iter()
        .find(|e| matches!(e.kind, EventKind::Rdb(_)))
        .unwrap();
    assert_eq!(first_rdb.offset, start.offset + start.len);
    let aux = |n: &str| {
        o.m2r.iter().find_map(|e| match &e.kind {
            EventKind::Rdb(rdb::Event::Aux { name, value, .. }) if name == n => Some(value.clone()),
            _ => None,
        })
    };
    assert_eq!(aux("repl-id").unwrap(), replid);
    assert_eq!(aux("repl-offset").unwrap(), "0");
    let eof = o
        .m2r
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Rdb(rdb::Event::Eof {
                stored, computed, ..
            }) => Some((*stored, *computed, e.offset + e.len)),
            _ => None,
        })
        .unwrap();
    assert_eq!(eof.0, Some(eof.1), "checksum");
    assert_eq!(
        eof.2,
        start.offset + start.len + rdb_len,
        "RDB ends where $<len> says"
    );
    let keys: Vec<(u64, String)> = o
        .m2r
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Rdb(rdb::Event::KeyStart(k)) => {
                Some((k.db, String::from_utf8_lossy(&k.key).into_owned()))
            }
            _ => None,
        })
        .collect();
    assert!(keys.contains(&(3, "db3key".to_string())));
    assert!(keys.contains(&(0, "stream".to_string())));

    // The command stream: FULLRESYNC offset + bytes = the master's final offset.
    let cmds = commands(&o);
    assert_eq!(cmds[0].1.repl_offset, Some(0));
    assert_eq!(
        cmds[0].0.offset, eof.2,
        "the stream starts right after the RDB, no CRLF"
    );
    let total: u64 = cmds.iter().map(|(e, _)| e.len).sum();
    assert_eq!(fr_off as u64 + total, final_offset);
    assert_eq!(o.master_offset, Some(final_offset));
    assert_eq!(acks(&o).last().unwrap().0 as u64, final_offset);

    // SELECT tracking, MULTI/EXEC grouping, rewrites labelled, pings.
    let find = |a: &[&str]| {
        cmds.iter()
            .find(|(e, _)| args_of(e).unwrap().iter().take(a.len()).eq(a.iter()))
            .map(|(_, c)| *c)
            .unwrap_or_else(|| panic!("no {a:?}"))
    };
    assert_eq!(
        find(&["SELECT", "0"]).kind,
        CommandKind::Select { db: Some(0) }
    );
    assert_eq!(find(&["SET", "db3b"]).db, Some(3));
    assert_eq!(find(&["SET", "big"]).db, Some(0));
    assert!(
        find(&["SET", "s1", "v", "PXAT"])
            .note
            .unwrap()
            .contains("SET EX")
    );
    assert!(find(&["SET", "s2", "v", "PXAT"]).note.is_some()); // SETEX
    assert!(find(&["PEXPIREAT", "str"]).note.unwrap().contains("EXPIRE"));
    assert!(
        find(&["SET", "fl", "1.5", "KEEPTTL"])
            .note
            .unwrap()
            .contains("INCRBYFLOAT")
    );
    assert!(find(&["SREM", "pool"]).note.unwrap().contains("SPOP"));
    assert!(
        find(&["XCLAIM", "stream"])
            .note
            .unwrap()
            .contains("XREADGROUP")
    );
    assert!(find(&["PERSIST", "s2"]).note.unwrap().contains("GETEX"));
    assert!(find(&["DEL", "short"]).note.unwrap().contains("expired"));
    let tx: Vec<(String, Option<u64>)> = cmds
        .iter()
        .map(|(e, c)| (args_of(e).unwrap().join(" "), c.tx))
        .collect();
    let multi = tx.iter().position(|(a, _)| a == "MULTI").unwrap();
    let id = tx[multi].1.unwrap();
    assert_eq!(id, cmds[multi].0.offset);
    assert_eq!(tx[multi + 1], ("SREM pool d".into(), Some(id)));
    assert_eq!(tx[multi + 3], ("EXEC".into(), Some(id)));
    assert_eq!(tx[multi + 4].1, None);
    let scripted = tx.iter().position(|(a, _)| a == "set scripted a").unwrap();
    assert!(tx[scripted].1.is_some(), "EVAL's effects are in MULTI/EXEC");
    let pings: Vec<_> = cmds
        .iter()
        .filter(|(_, c)| c.kind == CommandKind::Ping)
        .collect();
    assert!(pings.len() >= 2);
    assert_eq!(pings[0].0.len, 14);
    assert_eq!(args_of(pings[0].0).unwrap(), ["ping"]);

    // WAIT: GETACK (37 bytes) answered by an ACK of the offset before it.
    let getack = cmds
        .iter()
        .find(|(_, c)| c.kind == CommandKind::Getack)
        .unwrap();
    assert_eq!(getack.0.len, 37);
    let answered: Vec<_> = acks(&o).into_iter().filter(|a| a.1.is_some()).collect();
    assert_eq!(
        answered,
        vec![(getack.1.repl_offset.unwrap() as i64, getack.1.repl_offset)]
    );
    for e in &o.r2m[4..] {
        assert_eq!(e.phase, Phase::Stream);
    }
}

#[test]
fn diskless_sync() {
    let cap = load("diskless-sync");
    let o = replay(&cap, 1, Cut::Recorded);
    check_stream(&o);
    let stream = cap.stream(1, Dir::MasterToReplica);
    let start = o
        .m2r
        .iter()
        .find(|e| matches!(e.kind, EventKind::TransferStart(_)))
        .unwrap();
    let EventKind::TransferStart(Framing::EofMark(mark)) = start.kind else {
        panic!("{start:?}")
    };
    assert_eq!(&stream[start.offset as usize + 5..][..40], &mark);
    let end = o
        .m2r
        .iter()
        .find(|e| matches!(e.kind, EventKind::TransferEnd { .. }))
        .unwrap();
    assert_eq!(end.len, 40);
    assert_eq!(&stream[end.offset as usize..][..40], &mark, "the end mark");
    let eof = o
        .m2r
        .iter()
        .find(|e| matches!(e.kind, EventKind::Rdb(rdb::Event::Eof { .. })))
        .unwrap();
    assert_eq!(
        eof.offset + eof.len,
        end.offset,
        "the mark follows the checksum"
    );
    // After an EOF-marked transfer the replica ACKs first (offset 0, the FULLRESYNC offset).
    assert_eq!(acks(&o)[0], (0, None));
    let total: u64 = commands(&o).iter().map(|(e, _)| e.len).sum();
    assert_eq!(total, meta_u64(&cap, "master_repl_offset"));
    assert_eq!(o.master_offset, Some(total));
}

#[test]
fn keepalives_before_the_psync_reply() {
    // With repl-diskless-sync-delay the master answers PSYNC only when the transfer starts,
    // and sends newlines meanwhile: still the handshake.
    let cap = load("diskless-delay");
    let o = replay(&cap, 1, Cut::Recorded);
    check_stream(&o);
    let full = o
        .m2r
        .iter()
        .position(|e| matches!(e.kind, EventKind::FullResync { .. }))
        .unwrap();
    let before: Vec<&Event> = o.m2r[..full]
        .iter()
        .filter(|e| e.kind == EventKind::Keepalive)
        .collect();
    assert!(before.len() >= 2);
    assert!(before.iter().all(|e| e.phase == Phase::Handshake));
    assert_eq!(o.master_offset, Some(meta_u64(&cap, "master_repl_offset")));
}

#[test]
fn auth_wrong_then_right() {
    let cap = load("auth");
    assert_eq!(cap.conns(), vec![1, 2]);
    let o = replay(&cap, 1, Cut::Recorded);
    assert!(o.errors.is_empty());
    let texts: Vec<String> = o
        .m2r
        .iter()
        .map(|e| match &e.kind {
            EventKind::Reply(r) => format!("{:?}", r.frame),
            other => format!("{other:?}"),
        })
        .collect();
    assert!(texts[0].contains("NOAUTH"), "{texts:?}");
    assert!(texts[1].contains("WRONGPASS"));
    assert!(matches!(
        &o.r2m[1].kind,
        EventKind::Request(r) if r.kind == RequestKind::Auth { user: None }
    ));
    // The REPLCONFs were pipelined after AUTH; both got -NOAUTH, each paired.
    let EventKind::Reply(last) = &o.m2r[3].kind else {
        panic!()
    };
    assert_eq!(last.request, Some(o.r2m[3].offset));

    let o = replay(&cap, 2, Cut::Recorded);
    check_stream(&o);
    assert!(matches!(
        &o.r2m[1].kind,
        EventKind::Request(r) if r.kind == RequestKind::Auth { user: Some(Bytes::from("default")) }
    ));
    assert_eq!(o.master_offset, Some(meta_u64(&cap, "master_repl_offset")));
}

#[test]
fn partial_resync() {
    let cap = load("partial-resync");
    let first = replay(&cap, 1, Cut::Recorded);
    check_stream(&first);
    let second = replay(&cap, 2, Cut::Recorded);
    check_stream(&second);
    let replid = cap.meta("master_replid").unwrap();
    let last_ack = acks(&first).last().unwrap().0;
    assert_eq!(Some(last_ack as u64), first.master_offset);
    let psync = second
        .r2m
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Request(r) => match &r.kind {
                RequestKind::Psync { replid, offset } => Some((replid.clone(), offset.unwrap())),
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    assert_eq!(psync, (Bytes::from(replid.to_string()), last_ack + 1));
    let cont = second
        .m2r
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Continue {
                replid,
                repl_offset,
            } => Some((replid.clone(), *repl_offset)),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        cont,
        (Some(Bytes::from(replid.to_string())), Some(last_ack as u64))
    );
    let cmds = commands(&second);
    assert_eq!(cmds[0].1.repl_offset, Some(last_ack as u64));
    assert_eq!(args_of(cmds[0].0).unwrap(), ["SET", "during", "cut"]);
    assert_eq!(
        cmds[0].1.db, None,
        "no SELECT since the resume: the db is unknown"
    );
    assert!(
        !second
            .m2r
            .iter()
            .any(|e| matches!(e.kind, EventKind::Rdb(_)))
    );
    assert_eq!(
        second.master_offset,
        Some(meta_u64(&cap, "master_repl_offset"))
    );
    assert_eq!(
        acks(&second).last().unwrap().0 as u64,
        meta_u64(&cap, "master_repl_offset")
    );
}

#[test]
fn backlog_overflow() {
    // Same PSYNC as a partial resync, but the gap is no longer in the 16 KB backlog.
    let cap = load("backlog-overflow");
    let first = replay(&cap, 1, Cut::Recorded);
    check_stream(&first);
    let o = replay(&cap, 2, Cut::Recorded);
    check_stream(&o);
    let (replid, offset, reason) = o
        .m2r
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::FullResync {
                replid,
                offset,
                reason,
            } => Some((replid.clone(), offset.unwrap(), *reason)),
            _ => None,
        })
        .unwrap();
    assert_eq!(replid, cap.meta("master_replid").unwrap());
    assert_eq!(reason, FullResyncReason::OffsetOutOfRange);
    assert!(reason.describe().contains("backlog"));
    assert!(offset as u64 > first.master_offset.unwrap() + 16384);
    assert_eq!(o.master_offset, Some(meta_u64(&cap, "master_repl_offset")));
}

#[test]
fn keepalives_both_ways() {
    let cap = load("keepalives");
    let o = replay(&cap, 1, Cut::Recorded);
    check_stream(&o);
    let m: Vec<&Event> = o
        .m2r
        .iter()
        .filter(|e| e.kind == EventKind::Keepalive)
        .collect();
    assert!(m.len() >= 2);
    assert!(m.iter().all(|e| e.phase == Phase::Transfer && e.len == 1));
    let r: Vec<&Event> = o
        .r2m
        .iter()
        .filter(|e| e.kind == EventKind::Keepalive)
        .collect();
    assert!(!r.is_empty());
    assert!(r.iter().all(|e| e.phase == Phase::Stream && e.len == 1));
    assert_eq!(o.master_offset, Some(meta_u64(&cap, "master_repl_offset")));
}

#[test]
fn bare_sync() {
    let cap = load("sync-command");
    let o = replay(&cap, 1, Cut::Recorded);
    check_stream(&o);
    let EventKind::Request(r) = &o.r2m[0].kind else {
        panic!()
    };
    assert_eq!(r.kind, RequestKind::Sync);
    assert!(r.inline);
    assert!(
        !o.m2r
            .iter()
            .any(|e| matches!(e.kind, EventKind::FullResync { .. }))
    );
    // No FULLRESYNC: the offsets come from the RDB's repl-offset aux field.
    assert_eq!(commands(&o)[0].1.repl_offset, Some(0));
    assert_eq!(o.master_offset, Some(meta_u64(&cap, "master_repl_offset")));
}

#[test]
fn chain() {
    let top = load("chain-top");
    let sub = load("chain-sub");
    let t = replay(&top, 1, Cut::Recorded);
    check_stream(&t);
    // A master turned into a replica at run time asks with its own history.
    let psync = t
        .r2m
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Request(r) => match &r.kind {
                RequestKind::Psync { replid, offset } => Some((replid.clone(), *offset)),
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    assert_ne!(psync.0, "?");
    assert_eq!(psync.1, Some(1));
    assert!(t.m2r.iter().any(|e| matches!(
        e.kind,
        EventKind::FullResync {
            reason: FullResyncReason::IdMismatch,
            ..
        }
    )));
    // The sub-replica's first try: -NOMASTERLINK, try later.
    let first = replay(&sub, 1, Cut::Recorded);
    assert!(first.errors.is_empty());
    assert!(first.m2r.iter().any(|e| matches!(
        &e.kind,
        EventKind::PsyncRefused { text, retry_later: true, .. } if text.starts_with(b"NOMASTERLINK")
    )));
    // Then a full sync with the top master's replid, and the same stream at the same offsets.
    let s = replay(&sub, 2, Cut::Recorded);
    check_stream(&s);
    assert!(s.m2r.iter().any(|e| matches!(
        &e.kind,
        EventKind::FullResync { replid, .. } if replid == top.meta("master_replid").unwrap()
    )));
    let view = |o: &Outcome| -> Vec<(Option<u64>, Vec<String>)> {
        commands(o)
            .iter()
            .map(|(e, c)| (c.repl_offset, args_of(e).unwrap()))
            .collect()
    };
    assert_eq!(view(&t), view(&s));
    assert_eq!(s.master_offset, Some(meta_u64(&top, "master_repl_offset")));
}

#[test]
fn client_connection() {
    let cap = load("client");
    let o = replay(&cap, 1, Cut::Recorded);
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!(o.kind, LinkKind::Client);
    let EventKind::Request(ping) = &o.r2m[0].kind else {
        panic!()
    };
    assert!(ping.inline);
    assert_eq!(
        o.r2m[0].phase,
        Phase::Handshake,
        "a PING alone says nothing yet"
    );
    assert_eq!(o.r2m[1].phase, Phase::Client);
    assert!(
        o.r2m
            .iter()
            .any(|e| e.kind == EventKind::Keepalive && e.len == 2)
    );
    // Every reply but the push answers a request, in order.
    let mut reqs = o
        .r2m
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Request(_)))
        .map(|e| e.offset);
    let mut pushes = 0;
    for e in &o.m2r {
        let EventKind::Reply(r) = &e.kind else {
            panic!("{e:?}")
        };
        if r.push {
            pushes += 1;
            assert_eq!(r.request, None);
        } else {
            assert_eq!(r.request, reqs.next());
        }
    }
    assert_eq!(pushes, 1);
    assert_eq!(reqs.next(), None);
    let debug: Vec<String> = o.m2r.iter().map(|e| format!("{:?}", e.kind)).collect();
    assert!(debug.iter().any(|d| d.contains("Map")), "RESP3 map");
    assert!(debug.iter().any(|d| d.contains("Double")), "RESP3 double");
}

// ---------------------------------------------------------------------------------------------
// Paths no capture has
// ---------------------------------------------------------------------------------------------

#[test]
fn psync_refused_then_sync_on_the_same_connection() {
    // A master that does not know PSYNC: "-ERR unknown command", the replica sends SYNC and
    // the answer is the transfer itself.
    let mut dec = LinkDecoder::new();
    let mut r2m = Vec::new();
    let mut m2r = Vec::new();
    dec.feed(Dir::ReplicaToMaster, PSYNC, &mut r2m).unwrap();
    dec.feed(
        Dir::MasterToReplica,
        b"-ERR unknown command 'PSYNC'\r\n",
        &mut m2r,
    )
    .unwrap();
    assert!(matches!(
        &m2r[0].kind,
        EventKind::PsyncRefused { retry_later: false, text, line }
            if text.starts_with(b"ERR") && &line[..] == b"-ERR unknown command 'PSYNC'"
    ));
    // SYNC inline, as Redis's replica writes it.
    dec.feed(Dir::ReplicaToMaster, b"SYNC\r\n", &mut r2m)
        .unwrap();
    let mut t = format!("\n${}\r\n", EMPTY_RDB.len()).into_bytes();
    t.extend_from_slice(EMPTY_RDB);
    t.extend_from_slice(b"*2\r\n$6\r\nSELECT\r\n$1\r\n5\r\n");
    dec.feed(Dir::MasterToReplica, &t, &mut m2r).unwrap();
    let kinds: Vec<&EventKind> = m2r[1..].iter().map(|e| &e.kind).collect();
    assert_eq!(kinds[0], &EventKind::Keepalive);
    assert!(matches!(
        kinds[1],
        EventKind::TransferStart(Framing::Length(18))
    ));
    let EventKind::Command(sel) = kinds.last().unwrap() else {
        panic!()
    };
    // No FULLRESYNC and no repl-offset aux field: the offsets are unknown.
    assert_eq!(sel.repl_offset, None);
    assert_eq!(sel.db, Some(5));
    assert_eq!(dec.db(), Some(5));
}

#[test]
fn continue_without_the_psync_and_acks_with_fack() {
    // A decoder that joined late (one direction only): +CONTINUE is still recognised.
    let mut dec = LinkDecoder::new();
    let mut out = Vec::new();
    dec.feed(
        Dir::MasterToReplica,
        b"+CONTINUE\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out[0].kind,
        EventKind::Continue {
            replid: None,
            repl_offset: None
        }
    );
    assert_eq!(dec.kind(), LinkKind::Replication);
    assert_eq!(out[1].phase, Phase::Stream);
    dec.feed(
        Dir::ReplicaToMaster,
        b"*5\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2\r\n10\r\n$4\r\nFACK\r\n$1\r\n7\r\n",
        &mut out,
    )
    .unwrap();
    let EventKind::Request(r) = &out[2].kind else {
        panic!()
    };
    assert_eq!(
        r.kind,
        RequestKind::Ack {
            offset: Some(10),
            fack: Some(7),
            getack: None
        }
    );
}

#[test]
fn resp2_pubsub_messages_are_not_replies() {
    let mut dec = LinkDecoder::new();
    let mut out = Vec::new();
    dec.feed(
        Dir::ReplicaToMaster,
        b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n",
        &mut out,
    )
    .unwrap();
    dec.feed(
        Dir::MasterToReplica,
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        &mut out,
    )
    .unwrap();
    dec.feed(Dir::ReplicaToMaster, b"PING\r\n", &mut out)
        .unwrap();
    dec.feed(
        Dir::MasterToReplica,
        b"*2\r\n$4\r\npong\r\n$0\r\n\r\n",
        &mut out,
    )
    .unwrap();
    let replies: Vec<(bool, Option<u64>)> = out
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Reply(r) => Some((r.push, r.request)),
            _ => None,
        })
        .collect();
    assert_eq!(
        replies,
        vec![(false, Some(0)), (true, None), (false, Some(27))]
    );
    assert_eq!(dec.kind(), LinkKind::Client);
}

// ---------------------------------------------------------------------------------------------
// Lies, garbage and truncation
// ---------------------------------------------------------------------------------------------

fn feed_all(dec: &mut LinkDecoder, dir: Dir, data: &[u8]) -> (Vec<Event>, Option<LinkError>) {
    let mut out = Vec::new();
    let err = dec.feed(dir, data, &mut out).err();
    (out, err)
}

const PSYNC: &[u8] = b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n";
const FULL: &[u8] = b"+FULLRESYNC 0123456789012345678901234567890123456789 100\r\n";
const EMPTY_RDB: &[u8] = b"REDIS0010\xff\0\0\0\0\0\0\0\0";

fn after_fullresync() -> LinkDecoder {
    let mut dec = LinkDecoder::new();
    feed_all(&mut dec, Dir::ReplicaToMaster, PSYNC);
    let (_, e) = feed_all(&mut dec, Dir::MasterToReplica, FULL);
    assert!(e.is_none());
    dec
}

#[test]
fn bad_first_byte_of_transfer_uses_redis_words() {
    let mut dec = after_fullresync();
    let (_, e) = feed_all(&mut dec, Dir::MasterToReplica, b"\nhello\r\n");
    let e = e.unwrap();
    assert_eq!(e.dir, Dir::MasterToReplica);
    assert_eq!(e.offset, FULL.len() as u64 + 1);
    assert_eq!(e.phase, Phase::Transfer);
    assert!(
        e.to_string()
            .contains("Bad protocol from MASTER, the first byte is not '$' (we received 'hello')")
    );
    // Reported once; the direction is then only counted, the other goes on.
    assert!(
        feed_all(&mut dec, Dir::MasterToReplica, b"more")
            .1
            .is_none()
    );
    assert_eq!(dec.offset(Dir::MasterToReplica), FULL.len() as u64 + 12);
    let (ev, e) = feed_all(&mut dec, Dir::ReplicaToMaster, b"\n");
    assert!(e.is_none());
    assert_eq!(ev[0].kind, EventKind::Keepalive);
}

#[test]
fn lying_length_is_reported_and_decoding_goes_on() {
    // The transfer claims 4 more bytes than the RDB has: they are reported as trailing.
    let mut dec = after_fullresync();
    let mut data = format!("${}\r\n", EMPTY_RDB.len() + 4).into_bytes();
    data.extend_from_slice(EMPTY_RDB);
    data.extend_from_slice(b"junk*1\r\n$4\r\nping\r\n");
    let (ev, e) = feed_all(&mut dec, Dir::MasterToReplica, &data);
    assert!(e.is_none(), "{e:?}");
    assert!(
        ev.iter()
            .any(|e| e.kind == EventKind::RdbTrailing { bytes: 4 })
    );
    assert!(matches!(ev.last().unwrap().kind, EventKind::Command(_)));
    assert_eq!(dec.master_offset(), Some(114));

    // Claiming fewer bytes than the RDB has: a truncated RDB, then the rest is commands.
    let mut dec = after_fullresync();
    let mut data = format!("${}\r\n", EMPTY_RDB.len() - 3).into_bytes();
    data.extend_from_slice(EMPTY_RDB);
    let (ev, _) = feed_all(&mut dec, Dir::MasterToReplica, &data);
    let err = ev
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::RdbError(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(err.kind, rdb::ErrorKind::Truncated);

    // A corrupt RDB: reported, and the command stream after it is still decoded.
    let mut dec = after_fullresync();
    let mut data = b"$10\r\nNOTANRDB!!".to_vec();
    data.extend_from_slice(b"*1\r\n$4\r\nping\r\n");
    let (ev, e) = feed_all(&mut dec, Dir::MasterToReplica, &data);
    assert!(e.is_none());
    assert!(ev.iter().any(|e| matches!(e.kind, EventKind::RdbError(_))));
    assert!(matches!(ev.last().unwrap().kind, EventKind::Command(_)));
}

#[test]
fn eof_mark_that_never_comes_and_half_transfers() {
    let mark = "a".repeat(40);
    let mut dec = after_fullresync();
    let mut data = format!("$EOF:{mark}\r\n").into_bytes();
    data.extend_from_slice(EMPTY_RDB);
    data.extend_from_slice(&mark.as_bytes()[..39]);
    let (ev, e) = feed_all(&mut dec, Dir::MasterToReplica, &data);
    assert!(e.is_none());
    // The RDB's own end was seen, but the link is still waiting for the mark.
    assert!(
        ev.iter()
            .any(|e| matches!(e.kind, EventKind::Rdb(rdb::Event::Eof { .. })))
    );
    assert!(
        !ev.iter()
            .any(|e| matches!(e.kind, EventKind::TransferEnd { .. }))
    );
    let e = dec.finish(Dir::MasterToReplica).unwrap_err();
    assert!(matches!(e.kind, LinkErrorKind::Truncated(ref w) if w.contains("no end mark")));
    assert_eq!(e.phase, Phase::Transfer);

    // The last byte of the mark completes it.
    let mut dec = after_fullresync();
    let (_, e) = feed_all(&mut dec, Dir::MasterToReplica, &data);
    assert!(e.is_none());
    let (ev, _) = feed_all(&mut dec, Dir::MasterToReplica, b"a*1\r\n$4\r\nping\r\n");
    assert!(matches!(ev[0].kind, EventKind::TransferEnd { rdb_len: 18 }));
    assert_eq!(ev[0].len, 40);
    assert_eq!(dec.master_offset(), Some(114));

    // Half a $<len> transfer, then the connection closes.
    let mut dec = after_fullresync();
    feed_all(&mut dec, Dir::MasterToReplica, b"$100\r\nREDIS00");
    let e = dec.finish(Dir::MasterToReplica).unwrap_err();
    assert!(e.to_string().contains("7 of 100 bytes"), "{e}");
}

#[test]
fn no_allocation_from_announced_lengths() {
    let mut dec = LinkDecoder::new();
    feed_all(&mut dec, Dir::ReplicaToMaster, b"*1\r\n$3\r\nGET\r\n");
    for evil in [
        &b"*2147483647\r\n:1\r\n"[..],
        b"$999999999999\r\nabc",
        b"%2000000000\r\n",
    ] {
        let mut d = dec.clone();
        let (ev, e) = feed_all(&mut d, Dir::MasterToReplica, evil);
        assert!(ev.is_empty() && e.is_none());
        assert!(d.buffered() < 4096);
    }
    // A request header announcing a huge bulk only means "need more".
    let mut d = LinkDecoder::new();
    let (ev, e) = feed_all(&mut d, Dir::ReplicaToMaster, b"*1\r\n$536870912\r\nab");
    assert!(ev.is_empty() && e.is_none());
    // Nested past the limit is an error, not a stack overflow.
    let (_, e) = feed_all(&mut dec, Dir::MasterToReplica, &b"*1\r\n".repeat(100));
    assert!(matches!(e.unwrap().kind, LinkErrorKind::BadReply(_)));
}

/// An RDB of `n` string keys, built by hand (CRC-64 included).
fn big_rdb(n: usize) -> Vec<u8> {
    let mut v = b"REDIS0010".to_vec();
    v.extend_from_slice(b"\xfa\x0brepl-offset\xc0\x00");
    v.extend_from_slice(b"\xfe\x00");
    for i in 0..n {
        let key = format!("key:{i:08}");
        let val = format!("value-{i:032}");
        v.push(0);
        v.push(key.len() as u8);
        v.extend_from_slice(key.as_bytes());
        v.push(val.len() as u8);
        v.extend_from_slice(val.as_bytes());
    }
    v.push(0xff);
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

#[test]
fn big_transfer_in_bounded_memory() {
    let keys = 100_000;
    let rdb = big_rdb(keys);
    assert!(rdb.len() > 5_000_000);
    let mark = [b'z'; 40];
    for eof in [false, true] {
        let mut dec = after_fullresync();
        let mut head = if eof {
            let mut h = b"$EOF:".to_vec();
            h.extend_from_slice(&mark);
            h.extend_from_slice(b"\r\n");
            h
        } else {
            format!("${}\r\n", rdb.len()).into_bytes()
        };
        head.extend_from_slice(&rdb);
        if eof {
            head.extend_from_slice(&mark);
        }
        head.extend_from_slice(b"*1\r\n$4\r\nping\r\n");
        let mut out = Vec::new();
        let mut seen = 0;
        let mut peak = 0;
        for chunk in head.chunks(64 * 1024 + 7) {
            dec.feed(Dir::MasterToReplica, chunk, &mut out).unwrap();
            peak = peak.max(dec.buffered());
            seen += out
                .iter()
                .filter(|e| matches!(e.kind, EventKind::Rdb(rdb::Event::KeyStart(_))))
                .count();
            out.clear();
        }
        assert_eq!(seen, keys);
        assert!(peak < 1024 * 1024, "peak buffered {peak}");
        assert_eq!(dec.master_offset(), Some(114));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Any bytes in any direction, in any chunking: events or an error, never a panic; and
    /// an error names the direction it happened in.
    #[test]
    fn garbage_never_panics(
        chunks in proptest::collection::vec(
            (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..20)
    ) {
        let mut dec = LinkDecoder::new();
        let mut out = Vec::new();
        for (m2r, data) in &chunks {
            let dir = if *m2r { Dir::MasterToReplica } else { Dir::ReplicaToMaster };
            if let Err(e) = dec.feed(dir, data, &mut out) {
                prop_assert_eq!(e.dir, dir);
            }
        }
        let _ = dec.finish(Dir::MasterToReplica);
        let _ = dec.finish(Dir::ReplicaToMaster);
    }

    /// Random bytes in every state of the master's side (handshake, waiting for the
    /// transfer, inside a `$EOF:` and a `$<len>` transfer, the command stream): events or an
    /// error, never a panic, and the same whatever the chunking.
    #[test]
    fn garbage_in_every_phase(
        state in 0usize..5,
        data in proptest::collection::vec(
            prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'*'), Just(b'$'), Just(b'1'), any::<u8>()],
            0..300),
        chunk in 1usize..40,
    ) {
        let mut prefix = Vec::new();
        if state >= 1 {
            prefix.extend_from_slice(FULL);
        }
        match state {
            2 => prefix.extend_from_slice(format!("$EOF:{}\r\nREDIS0010", "m".repeat(40)).as_bytes()),
            3 => prefix.extend_from_slice(b"$200\r\nREDIS0010"),
            4 => {
                prefix.extend_from_slice(format!("${}\r\n", EMPTY_RDB.len()).as_bytes());
                prefix.extend_from_slice(EMPTY_RDB);
            }
            _ => {}
        }
        let run = |size: usize| {
            let mut dec = LinkDecoder::new();
            let mut out = Vec::new();
            let mut errs = Vec::new();
            let _ = dec.feed(Dir::ReplicaToMaster, PSYNC, &mut out);
            let mut all = prefix.clone();
            all.extend_from_slice(&data);
            for piece in all.chunks(size) {
                if let Err(e) = dec.feed(Dir::MasterToReplica, piece, &mut out) {
                    prop_assert_eq!(e.dir, Dir::MasterToReplica);
                    errs.push(e);
                }
            }
            errs.extend(dec.finish(Dir::MasterToReplica).err());
            Ok((out, errs))
        };
        let whole = run(usize::MAX)?;
        let chunked = run(chunk)?;
        prop_assert!(whole == chunked);
    }

    /// Real captures with a few bytes flipped: still total, and chunking-independent.
    #[test]
    fn mutated_captures_are_total_and_split_independent(
        which in 0..CAPTURES.len(),
        flips in proptest::collection::vec((any::<u32>(), any::<u8>()), 1..4),
        chunk in 1usize..50,
    ) {
        let cap = load(CAPTURES[which]);
        let conn = cap.conns()[0];
        let mut recs: Vec<(Dir, Vec<u8>)> = cap
            .records
            .iter()
            .filter(|r| r.conn == conn)
            .filter_map(|r| Some((r.dir, r.data.clone()?)))
            .collect();
        for (at, b) in flips {
            let i = at as usize % recs.len();
            let data = &mut recs[i].1;
            let j = (at as usize / 7) % data.len();
            data[j] = b;
        }
        let run = |chunked: bool| {
            let mut dec = LinkDecoder::new();
            let mut outs = [Vec::new(), Vec::new()];
            let mut errs = Vec::new();
            for (dir, data) in &recs {
                let size = if chunked { chunk } else { data.len().max(1) };
                for piece in data.chunks(size) {
                    if let Err(e) = dec.feed(*dir, piece, &mut outs[*dir as usize]) {
                        errs.push(e);
                    }
                }
            }
            (outs, errs)
        };
        let a = run(false);
        let b = run(true);
        prop_assert!(a == b);
    }
}
