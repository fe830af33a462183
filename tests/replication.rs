//! rtool as a master of a real Redis 7.0 replica: the handshake, a full resync from a forked
//! snapshot, the command stream, ACKs, and a partial resync (+CONTINUE) after the link drops.
//! Equality of the two datasets is checked with DEBUG DIGEST, which rtool computes with
//! Redis's own algorithm.

mod util;

use std::time::Duration;
use util::{Conn, Server, have_redis, info_field, wait_for};

fn digest(c: &mut Conn) -> String {
    c.call_str(&["DEBUG", "DIGEST"])
}

#[test]
fn real_redis_replica_syncs_from_rtool_and_resumes_with_continue() {
    if !have_redis() {
        return;
    }
    // The disk-based sync (tests/repl_matrix.rs has the diskless ones).
    let master = Server::rtool(&[
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync",
        "no",
    ]);
    let mut m = master.conn();
    // Data before the replica attaches travels in the snapshot...
    m.call(&["SET", "before", "1"]);
    m.call(&["RPUSH", "list", "a", "b", "c"]);
    m.call(&["HSET", "h", "f", "v"]);
    m.call(&["ZADD", "z", "1", "one", "2", "two"]);
    m.call(&["SADD", "s", "1", "2", "x"]);
    m.call(&["XADD", "st", "1-1", "f", "v"]);
    m.call(&["SET", "ttl", "v", "EX", "1000"]);
    let replica = Server::redis(&[
        "--enable-debug-command",
        "yes",
        "--replicaof",
        "127.0.0.1",
        &master.port.to_string(),
        "--repl-diskless-load",
        "disabled",
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
        "replica never came up; rtool log:\n{}\nreplica log:\n{}",
        master.log_text(),
        replica.log_text()
    );
    // ...and writes after it in the command stream.
    m.call(&["SET", "after", "2"]);
    m.call(&["INCRBYFLOAT", "f", "1.5"]);
    m.call(&["EXPIRE", "before", "1000"]);
    m.call(&["SELECT", "3"]);
    m.call(&["SET", "in3", "x"]);
    let synced = || {
        let mut m = master.conn();
        let mut r = replica.conn();
        info_field(&mut m, "replication", "master_repl_offset")
            == info_field(&mut r, "replication", "master_repl_offset")
    };
    assert!(
        wait_for(Duration::from_secs(10), synced),
        "offsets never met"
    );
    assert_eq!(digest(&mut m), digest(&mut r));
    assert_eq!(
        info_field(&mut m, "replication", "connected_slaves").as_deref(),
        Some("1")
    );
    let slave0 = info_field(&mut m, "replication", "slave0").unwrap();
    assert!(slave0.starts_with("ip=127.0.0.1,port="), "{slave0}");
    assert!(slave0.contains("state=online"), "{slave0}");
    assert_eq!(
        info_field(&mut m, "stats", "sync_full").as_deref(),
        Some("1")
    );
    // A replica started with `replicaof` in its config has no history: `PSYNC ? -1`.
    assert_eq!(
        info_field(&mut m, "stats", "sync_partial_err").as_deref(),
        Some("0"),
        "{}",
        master.log_text()
    );
    assert!(
        master
            .log_text()
            .contains("Full resync requested by replica 127.0.0.1:")
    );
    // Replica ACKs reach the master.
    assert!(wait_for(Duration::from_secs(5), || {
        let s = info_field(&mut master.conn(), "replication", "slave0").unwrap_or_default();
        let off =
            info_field(&mut master.conn(), "replication", "master_repl_offset").unwrap_or_default();
        s.contains(&format!("offset={off},"))
    }));

    // WAIT: the write reaches the replica, which answers the master's GETACK.
    m.call(&["SET", "acked", "1"]);
    assert_eq!(m.call(&["WAIT", "1", "5000"]), b":1\r\n");
    // Asking for more replicas than exist times out with the count that did acknowledge.
    assert_eq!(m.call(&["WAIT", "2", "200"]), b":1\r\n");
    assert_eq!(
        m.call(&["WAIT", "1", "-1"]),
        b"-ERR timeout is negative\r\n"
    );

    // Cut the link: the replica comes back with PSYNC <replid> <offset+1> and continues.
    assert_eq!(m.call(&["CLIENT", "KILL", "TYPE", "replica"]), b":1\r\n");
    m.call(&["SET", "while-away", "3"]);
    assert!(wait_for(Duration::from_secs(20), || info_field(
        &mut master.conn(),
        "stats",
        "sync_partial_ok"
    )
    .as_deref()
        == Some("1")));
    assert!(wait_for(Duration::from_secs(10), synced));
    assert_eq!(digest(&mut m), digest(&mut r));
    assert_eq!(
        info_field(&mut m, "stats", "sync_full").as_deref(),
        Some("1")
    );
    let log = master.log_text();
    assert!(
        log.contains("Starting BGSAVE for SYNC with target: disk"),
        "{log}"
    );
    assert!(
        log.contains("Partial resynchronization request from 127.0.0.1:"),
        "{log}"
    );
}
