//! A replica losing its master, held against a real Redis 7.0 replica: the same master (a real
//! redis-server) drops the link, and the replica's log lines (level and text, numbers masked)
//! must be Redis's, in Redis's order — once for an established link, once in the middle of
//! the snapshot's transfer. And a master naming a replica that never said its port.

mod util;

use std::time::Duration;
use util::{Kind, Server, have_redis, info_field, wait_for};

/// The lines from the first one containing `from` to the first one after it containing
/// `until` (included), as `<level> <text>` with digit runs masked.
fn lines_between(log: &str, from: &str, until: &str) -> Vec<String> {
    let ids = regex::Regex::new("[0-9a-f]{40}").unwrap();
    let digits = regex::Regex::new("[0-9]+").unwrap();
    let mut out = Vec::new();
    for line in log.lines() {
        let Some((level, text)) = util::log_level_text(line) else {
            continue;
        };
        if out.is_empty() && !text.contains(from) {
            continue;
        }
        let masked = ids.replace_all(text, "<id>");
        let masked = digits.replace_all(&masked, "N");
        out.push(format!("{level} {masked}"));
        if out.len() > 1 && text.contains(until) {
            break;
        }
    }
    out
}

fn link_up(r: &Server) -> bool {
    let mut c = r.conn();
    info_field(&mut c, "replication", "master_link_status").as_deref() == Some("up")
}

/// CLIENT KILL TYPE replica on the master: "Connection with master lost." (a warning),
/// "Caching the disconnected master state.", "Reconnecting to MASTER ..." at once, and a
/// partial resync.
fn established_link_lost(kind: Kind) -> Vec<String> {
    let m = Server::redis(&["--repl-diskless-sync-delay", "0"]);
    let port = m.port.to_string();
    let r = Server::start(kind, &["--replicaof", "127.0.0.1", &port]);
    assert!(
        wait_for(Duration::from_secs(15), || link_up(&r)),
        "{kind:?}"
    );
    let mut mc = m.conn();
    mc.call(&["SET", "k", "v"]);
    assert_eq!(
        mc.call_str(&["CLIENT", "KILL", "TYPE", "replica"]),
        ":1\r\n"
    );
    let done = "Master accepted a Partial Resynchronization.";
    assert!(
        wait_for(Duration::from_secs(10), || r
            .log_text()
            .matches(done)
            .count()
            >= 1
            && r.log_text().contains("Connection with master lost.")),
        "{kind:?}: {}",
        r.log_text()
    );
    assert!(wait_for(Duration::from_secs(10), || link_up(&r)));
    lines_between(&r.log_text(), "Connection with master lost.", done)
}

/// The master drops the link while the snapshot streams in (rdb-key-save-delay makes it
/// slow): "I/O error trying to sync with MASTER: connection lost" and an immediate
/// "Reconnecting to MASTER ... after failure".
fn transfer_cut(kind: Kind) -> Vec<String> {
    let m = Server::redis(&[
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
    ]);
    let mut mc = m.conn();
    mc.call(&["DEBUG", "POPULATE", "1000", "key", "10000"]);
    mc.call(&["CONFIG", "SET", "rdb-key-save-delay", "5000"]);
    let port = m.port.to_string();
    let r = Server::start(kind, &["--replicaof", "127.0.0.1", &port]);
    assert!(
        wait_for(Duration::from_secs(15), || r
            .log_text()
            .contains("receiving streamed RDB from master with EOF")),
        "{kind:?}: {}",
        r.log_text()
    );
    assert_eq!(
        mc.call_str(&["CLIENT", "KILL", "TYPE", "replica"]),
        ":1\r\n"
    );
    let again = "Non blocking connect for SYNC fired the event.";
    assert!(
        wait_for(Duration::from_secs(10), || r
            .log_text()
            .matches(again)
            .count()
            >= 2),
        "{kind:?}: {}",
        r.log_text()
    );
    // Let the second transfer finish quickly, so the servers stop without waiting for it.
    mc.call(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    lines_between(&r.log_text(), "I/O error", "Non blocking connect")
}

#[test]
fn an_established_link_lost_logs_like_redis() {
    if !have_redis() {
        return;
    }
    let want = established_link_lost(Kind::Redis);
    assert_eq!(
        want,
        [
            "# Connection with master lost.",
            "* Caching the disconnected master state.",
            "* Reconnecting to MASTER N.N.N.N:N",
            "* MASTER <-> REPLICA sync started",
            "* Non blocking connect for SYNC fired the event.",
            "* Master replied to PING, replication can continue...",
            "* Trying a partial resynchronization (request <id>:N).",
            "* Successful partial resynchronization with master.",
            "* MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.",
        ],
        "the reference changed"
    );
    assert_eq!(established_link_lost(Kind::Rtool), want);
}

#[test]
fn a_transfer_cut_short_logs_like_redis_and_retries_at_once() {
    if !have_redis() {
        return;
    }
    let want = transfer_cut(Kind::Redis);
    assert_eq!(
        want,
        [
            "# I/O error trying to sync with MASTER: connection lost",
            "* Reconnecting to MASTER N.N.N.N:N after failure",
            "* MASTER <-> REPLICA sync started",
            "* Non blocking connect for SYNC fired the event.",
        ],
        "the reference changed"
    );
    assert_eq!(transfer_cut(Kind::Rtool), want);
}

/// A replica that never says its port (`redis-cli --replica` sends no `REPLCONF
/// listening-port`): the master names it `<ip>:<unknown-replica-port>` when it asks for
/// synchronization and when it goes away (Redis's `replicationGetSlaveName`).
fn portless_replica_lines(kind: Kind) -> Vec<String> {
    let m = Server::start(kind, &[]);
    let child = std::process::Command::new("redis-cli")
        .args(["-p", &m.port.to_string(), "--replica"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("redis-cli");
    let mut cli = util::Killed(child);
    let asks = "asks for synchronization";
    assert!(
        wait_for(Duration::from_secs(10), || m.log_text().contains(asks)),
        "{kind:?}: {}",
        m.log_text()
    );
    let _ = cli.0.kill();
    let _ = cli.0.wait();
    let lost = "Connection with replica";
    assert!(
        wait_for(Duration::from_secs(10), || m.log_text().contains(lost)),
        "{kind:?}: {}",
        m.log_text()
    );
    let log = m.log_text();
    [asks, lost]
        .iter()
        .flat_map(|what| lines_between(&log, what, what).into_iter().take(1))
        .collect()
}

#[test]
fn a_replica_without_a_port_is_named_like_redis_names_it() {
    if !have_redis() {
        return;
    }
    let want = portless_replica_lines(Kind::Redis);
    assert_eq!(
        want,
        [
            "* Replica N.N.N.N:<unknown-replica-port> asks for synchronization",
            "# Connection with replica N.N.N.N:<unknown-replica-port> lost.",
        ],
        "the reference changed"
    );
    assert_eq!(portless_replica_lines(Kind::Rtool), want);
}

/// A replica without `masterauth` in front of a master with `requirepass`: every handshake
/// reply is `-NOAUTH`, PSYNC's too, which Redis takes for "PSYNC not supported": it retries
/// with SYNC, the master refuses that as well ("MASTER aborted replication with an error"),
/// and the replica reconnects at once "after failure" — over and over, as fast as the master
/// answers. This is the log an operator sees when a replica is stuck for want of a password.
fn missing_masterauth(kind: Kind) -> Vec<String> {
    let m = Server::redis(&["--requirepass", "s3cret"]);
    let port = m.port.to_string();
    let r = Server::start(kind, &["--replicaof", "127.0.0.1", &port]);
    assert!(
        wait_for(Duration::from_secs(15), || r
            .log_text()
            .matches("Retrying with SYNC...")
            .count()
            >= 2),
        "{kind:?}: {}",
        r.log_text()
    );
    // Still serving its own clients meanwhile.
    assert_eq!(r.conn().call(&["PING"]), b"+PONG\r\n");
    lines_between(
        &r.log_text(),
        "Master replied to PING",
        "Non blocking connect",
    )
}

#[test]
fn a_replica_without_masterauth_retries_with_sync_like_redis() {
    if !have_redis() {
        return;
    }
    let want = missing_masterauth(Kind::Redis);
    assert_eq!(
        want,
        [
            "* Master replied to PING, replication can continue...",
            "* (Non critical) Master does not understand REPLCONF listening-port: -NOAUTH Authentication required.",
            "* (Non critical) Master does not understand REPLCONF capa: -NOAUTH Authentication required.",
            "* Partial resynchronization not possible (no cached master)",
            "# Unexpected reply to PSYNC from master: -NOAUTH Authentication required.",
            "* Retrying with SYNC...",
            "# MASTER aborted replication with an error: NOAUTH Authentication required.",
            "* Reconnecting to MASTER N.N.N.N:N after failure",
            "* MASTER <-> REPLICA sync started",
            "* Non blocking connect for SYNC fired the event.",
        ],
        "the reference changed"
    );
    assert_eq!(missing_masterauth(Kind::Rtool), want);
}

/// What a replica of a master without PSYNC (`rename-command PSYNC ""`, or a master older
/// than 2.8) logs and shows: its log from the refusal to the end of the sync, whether the
/// written keys arrived, its `master_replid` and `master_repl_offset`, and the offset the
/// master has for it a while after the sync (a replica of such a master sends no ACKs).
fn sync_only_master(kind: Kind) -> (Vec<String>, String, u64, String) {
    let m = Server::redis(&[
        "--rename-command",
        "PSYNC",
        "",
        "--repl-diskless-sync",
        "no",
    ]);
    let mut mc = m.conn();
    mc.call(&["SET", "before", "1"]);
    let port = m.port.to_string();
    let r = Server::start(kind, &["--replicaof", "127.0.0.1", &port]);
    assert!(
        wait_for(Duration::from_secs(15), || link_up(&r)),
        "{kind:?}: {}",
        r.log_text()
    );
    mc.call(&["SET", "after", "2"]);
    mc.call(&["INCR", "n"]);
    let mut rc = r.conn();
    assert!(wait_for(Duration::from_secs(10), || rc.call(&["GET", "n"])
        == b"$1\r\n1\r\n"));
    assert_eq!(rc.call(&["GET", "before"]), b"$1\r\n1\r\n");
    assert_eq!(rc.call(&["GET", "after"]), b"$1\r\n2\r\n");
    let replid = info_field(&mut rc, "replication", "master_replid").unwrap_or_default();
    let offset: u64 = info_field(&mut rc, "replication", "master_repl_offset")
        .and_then(|o| o.parse().ok())
        .unwrap();
    // Long enough for a replica that ACKs once a second to have done so twice.
    std::thread::sleep(Duration::from_millis(2500));
    let seen = info_field(&mut mc, "replication", "slave0").unwrap_or_default();
    let seen_offset = seen
        .split(',')
        .find(|f| f.starts_with("offset="))
        .unwrap_or_default()
        .to_string();
    let lines = lines_between(
        &r.log_text(),
        "Partial resynchronization not possible",
        "Finished with success",
    );
    (lines, replid, offset, seen_offset)
}

#[test]
fn a_master_without_psync_is_synced_with_sync_like_redis() {
    if !have_redis() {
        return;
    }
    let (want, replid, offset, seen) = sync_only_master(Kind::Redis);
    assert_eq!(
        want,
        [
            "* Partial resynchronization not possible (no cached master)",
            "* Master does not support PSYNC or is in error state (reply: -ERR unknown command 'PSYNC', with args beginning with: '?' '-N' )",
            "* Retrying with SYNC...",
            "* MASTER <-> REPLICA sync: receiving N bytes from master to disk",
            "* MASTER <-> REPLICA sync: Flushing old data",
            "* MASTER <-> REPLICA sync: Loading DB in memory",
            "* Loading RDB produced by version N.N.N",
            "* RDB age N seconds",
            "* RDB memory usage when created N.N Mb",
            "* Done loading RDB, keys loaded: N, keys expired: N.",
            "* MASTER <-> REPLICA sync: Finished with success",
        ],
        "the reference changed"
    );
    assert_eq!((replid.as_str(), seen.as_str()), ("", "offset=0"));
    let (lines, t_replid, t_offset, t_seen) = sync_only_master(Kind::Rtool);
    assert_eq!(lines, want);
    assert_eq!((t_replid.as_str(), t_seen.as_str()), ("", "offset=0"));
    // Deliberate difference: Redis's replica starts such a master's offset at -1 (its
    // `master_initial_offset` when no +FULLRESYNC came); rtool's offsets are unsigned and
    // start at 0, so every offset it shows is one higher.
    assert_eq!(t_offset, offset + 1);
}
