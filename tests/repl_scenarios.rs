//! The seed notes' experiments as tests, all nodes `rtool serve` (real Redis takes the other
//! roles in tests/repl_matrix.rs and tests/replica_side.rs):
//! - seeds 001/002: one master, two replicas, every INFO replication field on both sides;
//! - seed 000: the chain 6379 <- 6378 <- 6377; 6378 restarts from its snapshot, resumes with
//!   +CONTINUE from 6379, and 6377 resumes with +CONTINUE from 6378;
//! - seed 000 §0x005: a writable replica's own write vanishes at the next full sync;
//! - seed 004: a manual failover — REPLICAOF NO ONE on one replica, the sibling follows it
//!   and continues (+CONTINUE with the new ID, the old one kept as replid2).

mod util;

use std::time::Duration;
use util::{Conn, Kind, Server, info_field, wait_for};

fn rtool(extra: &[&str]) -> Server {
    let mut a = vec![
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ];
    a.extend_from_slice(extra);
    Server::rtool(&a)
}

fn replica_of(master: &Server, extra: &[&str]) -> Server {
    let target = format!("127.0.0.1 {}", master.port);
    let mut a = vec!["--replicaof", target.as_str()];
    a.extend_from_slice(extra);
    let r = rtool(&a);
    assert!(
        wait_for(Duration::from_secs(20), || up(&r)),
        "{}",
        r.log_text()
    );
    r
}

fn up(r: &Server) -> bool {
    info_field(&mut r.conn(), "replication", "master_link_status").as_deref() == Some("up")
}

fn field(s: &Server, section: &str, name: &str) -> String {
    info_field(&mut s.conn(), section, name).unwrap_or_else(|| panic!("no {name}"))
}

fn same_offset(a: &Server, b: &Server) -> bool {
    info_field(&mut a.conn(), "replication", "master_repl_offset")
        == info_field(&mut b.conn(), "replication", "master_repl_offset")
}

fn digest(c: &mut Conn) -> String {
    c.call_str(&["DEBUG", "DIGEST"])
}

#[test]
fn one_master_two_replicas_info_replication() {
    let m = rtool(&[]);
    let mut mc = m.conn();
    mc.call(&["SET", "k", "v"]);
    let a = replica_of(&m, &[]);
    let b = replica_of(&m, &[]);
    mc.call(&["SET", "k2", "v2"]);
    assert!(wait_for(Duration::from_secs(10), || same_offset(&m, &a)
        && same_offset(&m, &b)));
    // The master's side.
    assert_eq!(field(&m, "replication", "role"), "master");
    assert_eq!(field(&m, "replication", "connected_slaves"), "2");
    let off = field(&m, "replication", "master_repl_offset");
    for (i, r) in [&a, &b].iter().enumerate() {
        let line = field(&m, "replication", &format!("slave{i}"));
        // ip=127.0.0.1,port=<listening-port>,state=online,offset=<acked>,lag=<s>
        let want = format!("ip=127.0.0.1,port={},state=online,", r.port);
        assert!(line.starts_with(&want), "{line}");
        assert!(line.contains(",lag="), "{line}");
    }
    assert!(wait_for(Duration::from_secs(5), || {
        let l0 = field(&m, "replication", "slave0");
        let l1 = field(&m, "replication", "slave1");
        l0.contains(&format!("offset={off},")) && l1.contains(&format!("offset={off},"))
    }));
    assert_eq!(
        field(&m, "replication", "master_failover_state"),
        "no-failover"
    );
    assert_eq!(field(&m, "replication", "repl_backlog_active"), "1");
    assert_eq!(field(&m, "replication", "second_repl_offset"), "-1");
    assert_eq!(field(&m, "stats", "sync_full"), "2");
    // Each replica's side: its master's address, the link, the same ID and offset.
    let id = field(&m, "replication", "master_replid");
    for r in [&a, &b] {
        assert_eq!(field(r, "replication", "role"), "slave");
        assert_eq!(field(r, "replication", "master_host"), "127.0.0.1");
        assert_eq!(field(r, "replication", "master_port"), m.port.to_string());
        assert_eq!(field(r, "replication", "master_link_status"), "up");
        assert_eq!(field(r, "replication", "master_sync_in_progress"), "0");
        assert_eq!(field(r, "replication", "slave_read_only"), "1");
        assert_eq!(field(r, "replication", "slave_repl_offset"), off);
        assert_eq!(field(r, "replication", "master_replid"), id);
        assert_eq!(field(r, "replication", "connected_slaves"), "0");
        assert_eq!(
            r.conn().call_str(&["SET", "x", "y"]),
            "-READONLY You can't write against a read only replica.\r\n"
        );
        assert_eq!(digest(&mut r.conn()), digest(&mut mc));
    }
}

#[test]
fn chain_resumes_with_continue_at_both_levels_after_the_middle_restarts() {
    let top = rtool(&[]);
    let mut t = top.conn();
    t.call(&["SET", "a", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    // The middle saves on shutdown (a save point), so it restarts with its history.
    let mid = replica_of(&top, &["--dir", &d, "--save", "3600 1"]);
    let mid_port = mid.port;
    let sub = replica_of(&mid, &[]);
    t.call(&["SET", "b", "2"]);
    assert!(wait_for(Duration::from_secs(10), || same_offset(
        &top, &sub
    )));
    assert_eq!(
        field(&sub, "replication", "master_replid"),
        field(&top, "replication", "master_replid")
    );
    // Stop the middle: the sub-replica's link goes down and it keeps retrying.
    let mut mc = mid.conn();
    mc.send(&[b"SHUTDOWN"]);
    let _ = mc.read_to_close();
    drop(mid);
    assert!(wait_for(Duration::from_secs(10), || {
        field(&sub, "replication", "master_link_status") == "down"
    }));
    t.call(&["SET", "c", "3"]);
    assert!(wait_for(Duration::from_secs(10), || {
        sub.log_text()
            .contains("Error condition on socket for SYNC: Connection refused")
    }));
    // Back on the same port and directory.
    let target = format!("127.0.0.1 {}", top.port);
    let mid = Server::start_on(
        Kind::Rtool,
        mid_port,
        &[
            "--enable-debug-command",
            "yes",
            "--replicaof",
            &target,
            "--dir",
            &d,
        ],
    );
    assert!(wait_for(Duration::from_secs(20), || up(&mid) && up(&sub)));
    t.call(&["SET", "d", "4"]);
    assert!(wait_for(Duration::from_secs(10), || same_offset(
        &top, &sub
    )));
    assert_eq!(digest(&mut sub.conn()), digest(&mut t));
    // Neither level needed a full resync after the restart.
    assert_eq!(field(&top, "stats", "sync_full"), "1");
    assert_eq!(field(&top, "stats", "sync_partial_ok"), "1");
    assert_eq!(field(&mid, "stats", "sync_full"), "0");
    assert_eq!(
        field(&mid, "stats", "sync_partial_ok"),
        "1",
        "{}",
        mid.log_text()
    );
}

#[test]
fn a_writable_replicas_own_write_vanishes_at_the_next_full_sync() {
    let m = rtool(&[]);
    let mut mc = m.conn();
    mc.call(&["SET", "shared", "1"]);
    let r = replica_of(&m, &["--replica-read-only", "no"]);
    let mut rc = r.conn();
    assert_eq!(rc.call_str(&["SET", "local", "only here"]), "+OK\r\n");
    assert_eq!(rc.call_str(&["GET", "local"]), "$9\r\nonly here\r\n");
    // Local writes are not propagated: the master never hears of them...
    assert_eq!(mc.call_str(&["EXISTS", "local"]), ":0\r\n");
    // ...and a full sync (here: the replica is pointed at the master again, as a new
    // master) replaces the whole dataset with the master's.
    assert_eq!(rc.call_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    mc.call(&["SET", "more", "writes"]);
    for _ in 0..50 {
        mc.call(&["SET", "filler", "x"]);
    }
    // The master's history moved on without the replica's own write: re-attaching asks to
    // continue an ID the master does not know any more, so it gets a full resync.
    rc.call(&["SET", "local2", "diverged"]);
    assert_eq!(
        rc.call_str(&["REPLICAOF", "127.0.0.1", &m.port.to_string()]),
        "+OK\r\n"
    );
    assert!(wait_for(Duration::from_secs(20), || up(&r) && same_offset(&m, &r)));
    assert_eq!(rc.call_str(&["EXISTS", "local"]), ":0\r\n");
    assert_eq!(rc.call_str(&["EXISTS", "local2"]), ":0\r\n");
    assert_eq!(digest(&mut rc), digest(&mut mc));
    assert_eq!(field(&m, "stats", "sync_full"), "2");
}

#[test]
fn manual_failover_the_sibling_continues_with_the_new_master() {
    let m = rtool(&[]);
    let mut mc = m.conn();
    mc.call(&["SET", "before", "failover"]);
    let a = replica_of(&m, &[]);
    let b = replica_of(&m, &[]);
    assert!(wait_for(Duration::from_secs(10), || same_offset(&m, &a)
        && same_offset(&m, &b)));
    let old_id = field(&m, "replication", "master_replid");
    drop(mc);
    drop(m); // the master dies
    let mut ac = a.conn();
    assert_eq!(ac.call_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    assert_eq!(field(&a, "replication", "master_replid2"), old_id);
    assert_ne!(field(&a, "replication", "master_replid"), old_id);
    ac.call(&["SET", "after", "failover"]);
    let mut bc = b.conn();
    assert_eq!(
        bc.call_str(&["REPLICAOF", "127.0.0.1", &a.port.to_string()]),
        "+OK\r\n"
    );
    assert!(wait_for(Duration::from_secs(20), || up(&b) && same_offset(&a, &b)));
    assert_eq!(
        field(&a, "stats", "sync_partial_ok"),
        "1",
        "{}",
        a.log_text()
    );
    assert_eq!(field(&a, "stats", "sync_full"), "0");
    assert_eq!(
        field(&b, "replication", "master_replid"),
        field(&a, "replication", "master_replid")
    );
    assert_eq!(bc.call_str(&["GET", "after"]), "$8\r\nfailover\r\n");
    assert_eq!(digest(&mut bc), digest(&mut ac));
}

#[test]
fn shutdown_waits_for_replicas_to_catch_up() {
    let m = rtool(&[]);
    let r = replica_of(&m, &[]);
    let mut mc = m.conn();
    mc.call(&["SET", "last", "write"]);
    // Right after a write the replica has not acknowledged it yet: the master asks
    // (REPLCONF GETACK *) and waits for the answer before it exits.
    mc.send(&[b"SHUTDOWN", b"NOSAVE"]);
    let _ = mc.read_to_close();
    assert!(wait_for(Duration::from_secs(15), || m
        .log_text()
        .contains("ready to exit")));
    let log = m.log_text();
    assert!(
        log.contains("1 of 1 replicas are in sync when shutting down."),
        "{log}"
    );
    let mut rc = r.conn();
    assert_eq!(rc.call_str(&["GET", "last"]), "$5\r\nwrite\r\n");
}

/// A partial resync whose backlog is megabytes long arrives in many chunks, commands split
/// across them (this once crashed the replica's link task).
#[test]
fn continue_with_a_large_backlog() {
    let m = rtool(&["--repl-backlog-size", "10mb"]);
    let r = replica_of(&m, &[]);
    let mut rc = r.conn();
    assert_eq!(rc.call_str(&["CLIENT", "KILL", "TYPE", "master"]), ":1\r\n");
    // While the replica is away (it retries after a second), 1.4 MB of writes.
    let mut mc = m.conn();
    let value = "v".repeat(100);
    for i in 0..10_000 {
        mc.send(&[
            b"SET",
            format!("k{}", i % 1000).as_bytes(),
            value.as_bytes(),
        ]);
    }
    for _ in 0..10_000 {
        mc.read_reply().unwrap();
    }
    assert!(
        wait_for(Duration::from_secs(20), || up(&r) && same_offset(&m, &r)),
        "{}",
        r.log_text()
    );
    assert_eq!(
        field(&m, "stats", "sync_partial_ok"),
        "1",
        "{}",
        m.log_text()
    );
    assert_eq!(digest(&mut r.conn()), digest(&mut mc));
}
