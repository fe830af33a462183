//! The replication matrix: every pairing of rtool and real Redis 7.0 as master and replica,
//! disk and diskless, with a dataset of every type and writes arriving *while* the snapshot
//! is made and sent (`rdb-key-save-delay` slows the snapshot down so they do). Each case
//! ends with equal `DEBUG DIGEST`s and equal offsets on every node.
//!
//! Also: replicas arriving together share one snapshot — one diskless transfer for all of
//! them (`repl-diskless-sync-delay`), or a second replica joining a disk BGSAVE already
//! running for the first ("Waiting for end of BGSAVE for SYNC").

mod util;

use std::time::Duration;
use util::{Conn, Kind, Server, have_redis, info_field, wait_for};

fn start(kind: Kind, extra: &[&str]) -> Server {
    let mut args = vec!["--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    Server::start(kind, &args)
}

/// Keys of every type, small and large encodings, TTLs, two databases.
fn fill(c: &mut Conn) {
    c.call(&["SET", "s", "hello"]);
    c.call(&["SET", "ttl", "v", "EX", "10000"]);
    c.call(&["RPUSH", "l", "a", "b", "1"]);
    c.call(&["HSET", "h", "f1", "v1"]);
    c.call(&["SADD", "si", "1", "2"]);
    c.call(&["ZADD", "z", "1.5", "a"]);
    c.call(&["XADD", "x", "1-1", "f", "v"]);
    c.call(&["XGROUP", "CREATE", "x", "g", "0"]);
    for i in 0..300 {
        c.call(&["HSET", "bigh", &format!("f{i}"), "v"]);
        c.call(&["SET", &format!("k{i}"), &i.to_string()]);
    }
    c.call(&["SELECT", "2"]);
    c.call(&["SET", "in2", "v"]);
    c.call(&["SELECT", "0"]);
}

/// Writes while the replicas sync: a thread that keeps writing until told to stop.
struct Writer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
}

impl Writer {
    fn start(port: u16) -> Writer {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut c = Conn::connect(port);
            let mut n = 0u64;
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                c.call(&["INCR", "during"]);
                c.call(&["RPUSH", "dl", &n.to_string()]);
                c.call(&["SET", &format!("d{}", n % 50), &n.to_string()]);
                n += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            n
        });
        Writer {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn link_up(s: &Server) -> bool {
    info_field(&mut s.conn(), "replication", "master_link_status").as_deref() == Some("up")
}

/// Every replica has the master's offset and dataset.
fn converge(master: &Server, replicas: &[&Server]) {
    let mut m = master.conn();
    let want_off = info_field(&mut m, "replication", "master_repl_offset");
    let want = m.call_str(&["DEBUG", "DIGEST"]);
    for r in replicas {
        let ok = wait_for(Duration::from_secs(20), || {
            let mut c = r.conn();
            info_field(&mut c, "replication", "master_repl_offset") == want_off
                && c.call_str(&["DEBUG", "DIGEST"]) == want
        });
        assert!(
            ok,
            "{:?} replica never converged to {want_off:?}/{want}\nmaster log:\n{}\nreplica log:\n{}",
            r.kind,
            master.log_text(),
            r.log_text()
        );
    }
}

/// One master, replicas of the given kinds attached while writes flow.
fn case(master: Kind, replicas: &[Kind], diskless: bool) {
    if !have_redis() {
        return;
    }
    let sync = if diskless { "yes" } else { "no" };
    let m = start(
        master,
        &[
            "--repl-diskless-sync",
            sync,
            "--repl-diskless-sync-delay",
            "0",
            "--rdb-key-save-delay",
            "300",
        ],
    );
    fill(&mut m.conn());
    let w = Writer::start(m.port);
    let target = format!("127.0.0.1 {}", m.port);
    let rs: Vec<Server> = replicas
        .iter()
        .map(|k| start(*k, &["--replicaof", &target]))
        .collect();
    for r in &rs {
        assert!(
            wait_for(Duration::from_secs(30), || link_up(r)),
            "{master:?} -> {:?} (diskless {diskless}) never came up\nmaster:\n{}\nreplica:\n{}",
            r.kind,
            m.log_text(),
            r.log_text()
        );
    }
    let n = w.finish();
    assert!(n > 0);
    let refs: Vec<&Server> = rs.iter().collect();
    converge(&m, &refs);
    let log = m.log_text();
    let framing = if diskless {
        "Starting BGSAVE for SYNC with target: replicas sockets"
    } else {
        "Starting BGSAVE for SYNC with target: disk"
    };
    assert!(log.contains(framing), "{master:?} master log:\n{log}");
}

#[test]
fn rtool_master_rtool_replica_disk() {
    case(Kind::Rtool, &[Kind::Rtool], false);
}

#[test]
fn rtool_master_rtool_replica_diskless() {
    case(Kind::Rtool, &[Kind::Rtool], true);
}

#[test]
fn rtool_master_redis_replica_diskless() {
    case(Kind::Rtool, &[Kind::Redis], true);
}

#[test]
fn redis_master_rtool_replica_disk_and_diskless() {
    case(Kind::Redis, &[Kind::Rtool], false);
    case(Kind::Redis, &[Kind::Rtool], true);
}

#[test]
fn replicas_arriving_together_share_one_diskless_transfer() {
    if !have_redis() {
        return;
    }
    let m = start(
        Kind::Rtool,
        &[
            "--repl-diskless-sync-delay",
            "2",
            "--rdb-key-save-delay",
            "200",
        ],
    );
    fill(&mut m.conn());
    let target = format!("127.0.0.1 {}", m.port);
    let w = Writer::start(m.port);
    let a = start(Kind::Redis, &["--replicaof", &target]);
    let b = start(Kind::Rtool, &["--replicaof", &target]);
    let c = start(Kind::Redis, &["--replicaof", &target]);
    for r in [&a, &b, &c] {
        assert!(
            wait_for(Duration::from_secs(30), || link_up(r)),
            "{}",
            m.log_text()
        );
    }
    w.finish();
    converge(&m, &[&a, &b, &c]);
    let log = m.log_text();
    assert_eq!(
        log.matches("Background RDB transfer started").count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("Diskless rdb transfer, done reading from pipe, 3 replicas still up."),
        "{log}"
    );
    assert_eq!(
        log.matches("Delay next BGSAVE for diskless SYNC").count(),
        3
    );
    let mut mc = m.conn();
    assert_eq!(
        info_field(&mut mc, "stats", "sync_full").as_deref(),
        Some("3")
    );
}

#[test]
fn a_second_replica_joins_the_running_disk_bgsave() {
    if !have_redis() {
        return;
    }
    // 600 keys at 2 ms each: the snapshot takes over a second.
    let m = start(
        Kind::Rtool,
        &["--repl-diskless-sync", "no", "--rdb-key-save-delay", "2000"],
    );
    fill(&mut m.conn());
    let target = format!("127.0.0.1 {}", m.port);
    let a = start(Kind::Redis, &["--replicaof", &target]);
    assert!(wait_for(Duration::from_secs(10), || {
        m.log_text().contains("Background saving started")
    }));
    m.conn().call(&["SET", "between", "the two replicas"]);
    let b = start(Kind::Rtool, &["--replicaof", &target]);
    for r in [&a, &b] {
        assert!(
            wait_for(Duration::from_secs(30), || link_up(r)),
            "{}",
            m.log_text()
        );
    }
    m.conn().call(&["SET", "after", "both"]);
    converge(&m, &[&a, &b]);
    let log = m.log_text();
    assert!(log.contains("Waiting for end of BGSAVE for SYNC"), "{log}");
    assert_eq!(log.matches("Background saving started").count(), 1, "{log}");
}

/// `repl-diskless-load` on an rtool replica: each mode logs where the snapshot goes, as
/// Redis's replica does; `disabled` also leaves the received RDB as `dbfilename`.
#[test]
fn each_repl_diskless_load_mode() {
    if !have_redis() {
        return;
    }
    let m = start(Kind::Redis, &["--repl-diskless-sync-delay", "0"]);
    fill(&mut m.conn());
    let target = format!("127.0.0.1 {}", m.port);
    for (mode, lines) in [
        (
            "disabled",
            &[
                "receiving streamed RDB from master with EOF to disk",
                "MASTER <-> REPLICA sync: Flushing old data",
            ][..],
        ),
        (
            "on-empty-db",
            &[
                "receiving streamed RDB from master with EOF to parser",
                "MASTER <-> REPLICA sync: Flushing old data",
            ][..],
        ),
        (
            "swapdb",
            &[
                "receiving streamed RDB from master with EOF to parser",
                "MASTER <-> REPLICA sync: Swapping active DB with loaded DB",
            ][..],
        ),
    ] {
        let r = start(
            Kind::Rtool,
            &["--replicaof", &target, "--repl-diskless-load", mode],
        );
        assert!(
            wait_for(Duration::from_secs(30), || link_up(&r)),
            "{}",
            r.log_text()
        );
        converge(&m, &[&r]);
        let log = r.log_text();
        for l in lines {
            assert!(log.contains(l), "{mode}: {l:?} missing from\n{log}");
        }
        let dump = r.dir.path().join("dump.rdb");
        assert_eq!(dump.exists(), mode == "disabled", "{mode}");
        if mode == "disabled" {
            // The file is the master's snapshot: real Redis's checker accepts it.
            let out = std::process::Command::new("redis-check-rdb")
                .arg(&dump)
                .output()
                .unwrap();
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("RDB looks OK"),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

/// A chain with real Redis in the middle: rtool -> Redis -> rtool. The sub-replica gets the
/// top's history through Redis's relay, byte for byte (same ID, same offsets).
#[test]
fn chain_rtool_redis_rtool() {
    if !have_redis() {
        return;
    }
    let top = start(Kind::Rtool, &["--repl-diskless-sync-delay", "0"]);
    fill(&mut top.conn());
    let w = Writer::start(top.port);
    let t = format!("127.0.0.1 {}", top.port);
    let mid = start(
        Kind::Redis,
        &["--replicaof", &t, "--repl-diskless-sync-delay", "0"],
    );
    assert!(
        wait_for(Duration::from_secs(30), || link_up(&mid)),
        "{}",
        mid.log_text()
    );
    let m = format!("127.0.0.1 {}", mid.port);
    let sub = start(Kind::Rtool, &["--replicaof", &m]);
    assert!(
        wait_for(Duration::from_secs(30), || link_up(&sub)),
        "{}",
        sub.log_text()
    );
    w.finish();
    converge(&top, &[&mid, &sub]);
    let id = |s: &Server| info_field(&mut s.conn(), "replication", "master_replid");
    assert_eq!(id(&sub), id(&top));
}
