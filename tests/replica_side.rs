//! rtool as the replica of a real Redis 7.0 master: handshake, full resync (the RDB is
//! decoded as it streams in), the command stream applied through the same path as clients'
//! writes, READONLY for clients, ACKs, a partial resync after the link drops, and promotion
//! with REPLICAOF NO ONE.

mod util;

use std::time::Duration;
use util::{Server, have_redis, info_field, wait_for};

#[test]
fn rtool_replicates_a_real_redis_master() {
    if !have_redis() {
        return;
    }
    let master = Server::redis(&[
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync",
        "no",
    ]);
    let mut m = master.conn();
    m.call(&["SET", "s", "hello"]);
    m.call(&["RPUSH", "l", "a", "b"]);
    m.call(&["HSET", "h", "f", "v"]);
    m.call(&["ZADD", "z", "1", "a"]);
    m.call(&["SADD", "st", "x", "1"]);
    m.call(&["XADD", "x", "1-1", "f", "v"]);
    m.call(&["SET", "ttl", "v", "EX", "1000"]);
    let replica = Server::rtool(&[
        "--enable-debug-command",
        "yes",
        "--replicaof",
        "127.0.0.1",
        &master.port.to_string(),
    ]);
    let mut r = replica.conn();
    assert!(
        wait_for(Duration::from_secs(20), || info_field(
            &mut r,
            "replication",
            "master_link_status"
        )
        .as_deref()
            == Some("up")),
        "rtool never synced; its log:\n{}",
        replica.log_text()
    );
    m.call(&["SET", "after", "1"]);
    m.call(&["INCRBYFLOAT", "f", "2.5"]);
    m.call(&["SELECT", "2"]);
    m.call(&["LPUSH", "in2", "v"]);
    m.call(&["SELECT", "0"]);
    let synced = |master: &Server, replica: &Server| {
        info_field(&mut master.conn(), "replication", "master_repl_offset")
            == info_field(&mut replica.conn(), "replication", "slave_repl_offset")
    };
    assert!(
        wait_for(Duration::from_secs(10), || synced(&master, &replica)),
        "offsets never met:\n{}",
        replica.log_text()
    );
    assert_eq!(
        r.call_str(&["DEBUG", "DIGEST"]),
        m.call_str(&["DEBUG", "DIGEST"])
    );
    assert_eq!(
        r.call(&["SET", "k", "v"]),
        b"-READONLY You can't write against a read only replica.\r\n"
    );
    assert_eq!(
        info_field(&mut r, "replication", "role").as_deref(),
        Some("slave")
    );
    let log = replica.log_text();
    for line in [
        "Master replied to PING, replication can continue...",
        "Full resync from master: ",
        "MASTER <-> REPLICA sync: Finished with success",
    ] {
        assert!(log.contains(line), "missing {line:?} in:\n{log}");
    }
    // The master sees rtool's ACKs.
    assert!(wait_for(Duration::from_secs(5), || {
        let s = info_field(&mut master.conn(), "replication", "slave0").unwrap_or_default();
        s.contains("state=online")
            && s.contains(&format!(
                "offset={},",
                info_field(&mut master.conn(), "replication", "master_repl_offset").unwrap()
            ))
    }));
    // WAIT on the real master counts rtool (it answers GETACK).
    m.call(&["SET", "w", "1"]);
    assert_eq!(m.call(&["WAIT", "1", "5000"]), b":1\r\n");

    // Drop the link from the master's side: rtool comes back with PSYNC and continues. The
    // last write before the cut selected db 5, and the master does not repeat that SELECT
    // after +CONTINUE: the replica must still apply the next writes to db 5.
    m.call(&["SELECT", "5"]);
    m.call(&["SET", "in5", "x"]);
    assert!(wait_for(Duration::from_secs(10), || synced(
        &master, &replica
    )));
    assert_eq!(m.call(&["CLIENT", "KILL", "TYPE", "replica"]), b":1\r\n");
    m.call(&["SET", "while-away", "1"]);
    assert!(
        wait_for(Duration::from_secs(20), || info_field(
            &mut master.conn(),
            "stats",
            "sync_partial_ok"
        )
        .as_deref()
            == Some("1")),
        "{}",
        replica.log_text()
    );
    assert!(wait_for(Duration::from_secs(10), || synced(
        &master, &replica
    )));
    assert_eq!(
        r.call_str(&["DEBUG", "DIGEST"]),
        m.call_str(&["DEBUG", "DIGEST"])
    );
    assert!(
        replica
            .log_text()
            .contains("Successful partial resynchronization with master.")
    );

    // Promotion: writable, and a new replication ID with the old one as secondary.
    let old_id = info_field(&mut r, "replication", "master_replid").unwrap();
    assert_eq!(r.call(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    assert_eq!(
        info_field(&mut r, "replication", "role").as_deref(),
        Some("master")
    );
    assert_eq!(
        info_field(&mut r, "replication", "master_replid2").as_deref(),
        Some(old_id.as_str())
    );
    assert_eq!(r.call(&["SET", "k", "v"]), b"+OK\r\n");
}

/// Seed 000's chain, 6379 <- 6378 <- 6377, with rtool in the middle: real Redis master, rtool
/// replica, real Redis sub-replica. The sub-replica gets the top master's replication ID and
/// the same offsets, and every write reaches both.
#[test]
fn chain_with_rtool_in_the_middle() {
    if !have_redis() {
        return;
    }
    let top = Server::redis(&[
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut t = top.conn();
    t.call(&["SET", "k1", "v1"]);
    let mid = Server::rtool(&[
        "--enable-debug-command",
        "yes",
        "--replicaof",
        "127.0.0.1",
        &top.port.to_string(),
    ]);
    assert!(wait_for(Duration::from_secs(20), || info_field(
        &mut mid.conn(),
        "replication",
        "master_link_status"
    )
    .as_deref()
        == Some("up")));
    let leaf = Server::redis(&[
        "--enable-debug-command",
        "yes",
        "--replicaof",
        "127.0.0.1",
        &mid.port.to_string(),
        "--repl-diskless-load",
        "disabled",
    ]);
    assert!(
        wait_for(Duration::from_secs(20), || info_field(
            &mut leaf.conn(),
            "replication",
            "master_link_status"
        )
        .as_deref()
            == Some("up")),
        "leaf never synced from rtool:\n{}\n{}",
        mid.log_text(),
        leaf.log_text()
    );
    t.call(&["SET", "k2", "v2"]);
    t.call(&["HSET", "h", "f", "v"]);
    let off = || info_field(&mut top.conn(), "replication", "master_repl_offset");
    assert!(
        wait_for(Duration::from_secs(10), || info_field(
            &mut leaf.conn(),
            "replication",
            "master_repl_offset"
        ) == off()),
        "{}",
        mid.log_text()
    );
    let d = t.call_str(&["DEBUG", "DIGEST"]);
    assert_eq!(mid.conn().call_str(&["DEBUG", "DIGEST"]), d);
    assert_eq!(leaf.conn().call_str(&["DEBUG", "DIGEST"]), d);
    // Same history all the way down.
    let id = info_field(&mut top.conn(), "replication", "master_replid");
    assert_eq!(
        info_field(&mut mid.conn(), "replication", "master_replid"),
        id
    );
    assert_eq!(
        info_field(&mut leaf.conn(), "replication", "master_replid"),
        id
    );
}

/// Seed 000's reconnect loop and seed 002's typo'd port: a replica pointed at nothing says
/// `master_link_status:down`, retries every second with Redis's log line, and with
/// `replica-serve-stale-data no` refuses data commands with -MASTERDOWN.
#[test]
fn replica_of_a_dead_port_retries_and_can_refuse_stale_reads() {
    let dead = util::free_port();
    let r = Server::rtool(&[
        "--replicaof",
        "127.0.0.1",
        &dead.to_string(),
        "--replica-serve-stale-data",
        "no",
    ]);
    let mut c = r.conn();
    assert_eq!(
        info_field(&mut c, "replication", "master_link_status").as_deref(),
        Some("down")
    );
    assert!(wait_for(Duration::from_secs(10), || r
        .log_text()
        .matches("Error condition on socket for SYNC: Connection refused")
        .count()
        >= 2));
    assert_eq!(
        c.call(&["GET", "k"]),
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    // PING is not flagged `stale` in Redis 7.0 either: it is refused too. INFO is served.
    assert!(c.call_str(&["PING"]).starts_with("-MASTERDOWN"));
    assert!(info_field(&mut c, "replication", "master_link_down_since_seconds").is_some());
    assert_eq!(c.call(&["REPLICAOF", "NO", "ONE"]), b"+OK\r\n");
    assert_eq!(c.call(&["GET", "k"]), b"$-1\r\n");
}

/// A replica restarted from its own snapshot offers its master's history (repl-id and
/// repl-offset from the RDB's aux fields) and gets +CONTINUE instead of a full resync.
#[test]
fn restarted_replica_resumes_from_its_snapshot() {
    if !have_redis() {
        return;
    }
    let master = Server::redis(&[
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut m = master.conn();
    m.call(&["SET", "a", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let port = master.port.to_string();
    let up = |r: &Server| {
        wait_for(Duration::from_secs(20), || {
            info_field(&mut r.conn(), "replication", "master_link_status").as_deref() == Some("up")
        })
    };
    {
        let r = Server::rtool(&[
            "--replicaof",
            "127.0.0.1",
            &port,
            "--dir",
            &d,
            "--save",
            "3600 1",
        ]);
        assert!(up(&r), "{}", r.log_text());
        m.call(&["SET", "b", "2"]);
        assert!(wait_for(Duration::from_secs(10), || info_field(
            &mut r.conn(),
            "replication",
            "slave_repl_offset"
        ) == info_field(
            &mut master.conn(),
            "replication",
            "master_repl_offset"
        )));
        let mut c = r.conn();
        c.send(&[b"SHUTDOWN"]);
        let _ = c.read_to_close();
        assert!(wait_for(Duration::from_secs(10), || r
            .log_text()
            .contains("ready to exit")));
    }
    m.call(&["SET", "c", "3"]);
    let r = Server::rtool(&[
        "--enable-debug-command",
        "yes",
        "--replicaof",
        "127.0.0.1",
        &port,
        "--dir",
        &d,
    ]);
    assert!(up(&r), "{}", r.log_text());
    assert!(
        r.log_text()
            .contains("Restored the replication ID and offset from the RDB file"),
        "{}",
        r.log_text()
    );
    assert!(
        wait_for(Duration::from_secs(10), || info_field(
            &mut master.conn(),
            "stats",
            "sync_partial_ok"
        )
        .as_deref()
            == Some("1")),
        "{}",
        r.log_text()
    );
    assert!(wait_for(Duration::from_secs(10), || r
        .conn()
        .call_str(&["DEBUG", "DIGEST"])
        == m.call_str(&["DEBUG", "DIGEST"])));
}
