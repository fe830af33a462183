//! SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT], and SIGTERM / SIGINT, held against real
//! Redis 7.0: every scenario runs on both servers and compares the replies byte for byte, the
//! shutdown's log lines (level and text, numbers masked) and the exit code.

mod util;

use std::time::{Duration, Instant};
use util::repl::{ReplicaLink, attach_replica};
use util::{Kind, Server, have_redis, info_field, wait_for};

/// The log from the first line `start` accepts on, as `<level> <text>` with every run of
/// digits masked (pids, offsets, ports). Lines written by the signal handler have the level
/// `signal-handler`.
fn lines_from(log: &str, start: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for line in log.lines() {
        let Some((level, text)) = util::log_level_text(line) else {
            continue;
        };
        if out.is_empty() && !start(level, text) {
            continue;
        }
        let mut masked = String::new();
        let mut in_digits = false;
        for ch in text.chars() {
            if ch.is_ascii_digit() {
                if !in_digits {
                    masked.push('N');
                }
                in_digits = true;
            } else {
                masked.push(ch);
                in_digits = false;
            }
        }
        out.push(format!("{level} {masked}"));
    }
    out
}

/// The log from the first "User requested shutdown..." on (the master's other chatter left
/// out).
fn shutdown_lines(log: &str) -> Vec<String> {
    lines_from(log, |_, text| text == "User requested shutdown...")
}

/// The log from the signal handler's first line on.
fn signal_lines(log: &str) -> Vec<String> {
    lines_from(log, |level, _| level == "signal-handler")
}

/// Every server's lines are the ones wanted.
fn assert_all<W: AsRef<str>>(logs: &[Vec<String>], want: &[W]) {
    let want: Vec<&str> = want.iter().map(AsRef::as_ref).collect();
    for l in logs {
        assert_eq!(l, &want, "{logs:#?}");
    }
}

/// How many lines of the log contain `text`.
fn count(s: &Server, text: &str) -> usize {
    s.log_text().lines().filter(|l| l.contains(text)).count()
}

/// Wait until the log has `n` lines containing `text`.
fn wait_count(s: &Server, text: &str, n: usize) {
    assert!(
        wait_for(Duration::from_secs(20), || count(s, text) >= n),
        "{:?}: waiting for {n} x {text:?} in\n{}",
        s.kind,
        s.log_text()
    );
}

/// A master (`shutdown-timeout 60`) with one replica that never sends `REPLCONF ACK`, so it
/// is always behind: the replica has received `SET k v`. Returns the master, the replica's
/// link and the client that wrote.
fn lagging_replica(kind: Kind) -> (Server, ReplicaLink, util::Conn) {
    let s = Server::start(
        kind,
        &[
            "--shutdown-timeout",
            "60",
            "--repl-diskless-sync-delay",
            "0",
        ],
    );
    let mut link = attach_replica(s.port);
    let mut c = s.conn();
    c.call(&["SET", "k", "v"]);
    link.read_until("k");
    (s, link, c)
}

fn kinds() -> Vec<Kind> {
    if have_redis() {
        vec![Kind::Redis, Kind::Rtool]
    } else {
        vec![Kind::Rtool]
    }
}

/// ABORT stands alone, SAVE and NOSAVE exclude each other, unknown words are syntax errors,
/// and with nothing to abort ABORT says so.
#[test]
fn option_errors_match_redis() {
    let mut replies = Vec::new();
    for kind in kinds() {
        let s = Server::start(kind, &[]);
        let mut c = s.conn();
        let got: Vec<String> = [
            &["SHUTDOWN", "ABORT"][..],
            &["SHUTDOWN", "abort", "abort"],
            &["SHUTDOWN", "ABORT", "NOW"],
            &["SHUTDOWN", "ABORT", "NOSAVE"],
            &["SHUTDOWN", "FORCE", "ABORT"],
            &["SHUTDOWN", "SAVE", "NOSAVE"],
            &["SHUTDOWN", "NOW", "BOGUS"],
        ]
        .iter()
        .map(|cmd| c.call_str(cmd))
        .collect();
        assert_eq!(got[0], "-ERR No shutdown in progress.\r\n", "{kind:?}");
        assert_eq!(got[2], "-ERR syntax error\r\n", "{kind:?}");
        assert_eq!(c.call_str(&["PING"]), "+PONG\r\n");
        replies.push(got);
    }
    assert!(replies.windows(2).all(|w| w[0] == w[1]), "{replies:#?}");
}

/// A save that fails stops the shutdown: the SHUTDOWN client gets an error, the server goes
/// on. FORCE exits anyway. Same replies, same log lines as Redis.
#[test]
fn a_failed_save_cancels_the_shutdown_unless_force() {
    let mut logs = Vec::new();
    for kind in kinds() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let mut s = Server::start(kind, &["--dir", data.to_str().unwrap()]);
        let mut c = s.conn();
        c.call(&["SET", "k", "v"]);
        // The server's directory disappears: the temp RDB file cannot be created.
        std::fs::remove_dir_all(&data).unwrap();
        assert_eq!(
            c.call_str(&["SHUTDOWN", "SAVE"]),
            "-ERR Errors trying to SHUTDOWN. Check logs.\r\n",
            "{kind:?}"
        );
        assert_eq!(c.call_str(&["GET", "k"]), "$1\r\nv\r\n", "{kind:?}");
        c.send(&[b"SHUTDOWN", b"SAVE", b"FORCE"]);
        assert!(c.read_to_close().is_empty(), "{kind:?}");
        assert!(wait_for(Duration::from_secs(10), || s.exited()), "{kind:?}");
        logs.push(shutdown_lines(&s.log_text()));
    }
    let want = [
        "# User requested shutdown...",
        "* Saving the final RDB snapshot before exiting.",
        "# Failed opening the temp RDB file temp-N.rdb (in server root dir unknown) for saving: No such file or directory",
        "# Error trying to save the DB, can't exit.",
        "# Errors trying to shut down the server. Check the logs for more information.",
        "# User requested shutdown...",
        "* Saving the final RDB snapshot before exiting.",
        "# Failed opening the temp RDB file temp-N.rdb (in server root dir unknown) for saving: No such file or directory",
        "# Error trying to save the DB. Exit anyway.",
        "# Redis is now ready to exit, bye bye...",
    ];
    assert_all(&logs, &want);
}

/// A replica that has not acknowledged the stream makes SHUTDOWN send `REPLCONF GETACK *` and
/// wait (`shutdown-timeout`); reads are served meanwhile; a second SHUTDOWN joins the first;
/// SHUTDOWN ABORT cancels it and both waiting clients get the error; SHUTDOWN NOW then exits
/// without waiting, naming the lagging replica.
#[test]
fn shutdown_waits_for_a_lagging_replica_until_aborted_and_now_does_not_wait() {
    let mut logs = Vec::new();
    for kind in kinds() {
        let (mut s, mut link, mut c) = lagging_replica(kind);

        let mut first = s.conn();
        first.send(&[b"SHUTDOWN"]);
        assert!(
            wait_for(Duration::from_secs(10), || s
                .log_text()
                .contains("Waiting for replicas before shutting down.")),
            "{kind:?}: {}",
            s.log_text()
        );
        link.read_until("GETACK");
        let left: i64 = info_field(&mut c, "server", "shutdown_in_milliseconds")
            .expect("shutdown_in_milliseconds while waiting")
            .parse()
            .unwrap();
        assert!(left > 0 && left <= 60_000, "{kind:?}: {left}");
        assert_eq!(c.call_str(&["GET", "k"]), "$1\r\nv\r\n", "{kind:?}");

        let mut second = s.conn();
        second.send(&[b"SHUTDOWN", b"NOW"]);
        // Both SHUTDOWN clients are blocked (the second one joined the first)...
        assert!(
            wait_for(Duration::from_secs(10), || info_field(
                &mut c,
                "clients",
                "blocked_clients"
            )
            .as_deref()
                == Some("2")),
            "{kind:?}"
        );
        // ...and still waiting: NOW on a second SHUTDOWN does not hurry the first one.
        assert_eq!(c.call_str(&["PING"]), "+PONG\r\n");
        // Writes are paused meanwhile: a SET (and a MULTI that queues one) waits, blocked,
        // while reads go on.
        let mut writer = s.conn();
        writer.send(&[b"SET", b"k2", b"v2"]);
        let mut tx = s.conn();
        assert_eq!(tx.call_str(&["MULTI"]), "+OK\r\n");
        tx.send(&[b"INCR", b"n"]);
        assert!(
            wait_for(Duration::from_secs(10), || info_field(
                &mut c,
                "clients",
                "blocked_clients"
            )
            .as_deref()
                == Some("4")),
            "{kind:?}: {}",
            c.call_str(&["CLIENT", "LIST"])
        );
        assert_eq!(c.call_str(&["EXISTS", "k2"]), ":0\r\n", "{kind:?}");
        assert!(!s.exited(), "{kind:?}");
        assert_eq!(c.call_str(&["SHUTDOWN", "ABORT"]), "+OK\r\n", "{kind:?}");
        let failed = b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n".to_vec();
        assert_eq!(first.read_reply(), Some(failed.clone()), "{kind:?}");
        assert_eq!(second.read_reply(), Some(failed), "{kind:?}");
        // The pause is over: the postponed commands run, in order.
        assert_eq!(writer.read_reply(), Some(b"+OK\r\n".to_vec()), "{kind:?}");
        assert_eq!(tx.read_reply(), Some(b"+QUEUED\r\n".to_vec()), "{kind:?}");
        assert_eq!(tx.call_str(&["EXEC"]), "*1\r\n:1\r\n", "{kind:?}");
        assert_eq!(c.call_str(&["GET", "k2"]), "$2\r\nv2\r\n", "{kind:?}");
        assert_eq!(
            c.call_str(&["SHUTDOWN", "ABORT"]),
            "-ERR No shutdown in progress.\r\n"
        );
        assert_eq!(
            info_field(&mut c, "server", "shutdown_in_milliseconds"),
            None
        );

        let started = Instant::now();
        c.send(&[b"SHUTDOWN", b"NOW", b"NOSAVE"]);
        assert!(c.read_to_close().is_empty(), "{kind:?}");
        assert!(wait_for(Duration::from_secs(10), || s.exited()), "{kind:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{kind:?}");
        let mut lines = shutdown_lines(&s.log_text());
        // The replica's name, offset, lag and state in Redis's words; the state of a replica
        // that never acknowledged differs between the two (a detail of the transfer).
        for l in lines.iter_mut() {
            if l.starts_with("# Lagging replica ") {
                *l = "# Lagging replica ...".into();
            }
        }
        logs.push(lines);
    }
    let want = [
        "# User requested shutdown...",
        "* Waiting for replicas before shutting down.",
        "* Shutdown manually aborted.",
        "# User requested shutdown...",
        "# Lagging replica ...",
        "* N of N replicas are in sync when shutting down.",
        "# Redis is now ready to exit, bye bye...",
    ];
    assert_all(&logs, &want);
}

/// Replicas that acknowledged everything: no GETACK (the replica's offset does not move), no
/// wait.
#[test]
fn in_sync_replicas_get_no_getack() {
    for kind in kinds() {
        let m = Server::start(kind, &["--repl-diskless-sync-delay", "0"]);
        let port = m.port.to_string();
        let r = Server::start(kind, &["--replicaof", "127.0.0.1", &port]);
        let mut mc = m.conn();
        let mut rc = r.conn();
        assert!(wait_for(Duration::from_secs(15), || info_field(
            &mut rc,
            "replication",
            "master_link_status"
        )
        .as_deref()
            == Some("up")));
        mc.call(&["SET", "k", "v"]);
        let end = info_field(&mut mc, "replication", "master_repl_offset").unwrap();
        // Wait for the replica's ACK of the whole stream to reach the master.
        assert!(
            wait_for(Duration::from_secs(10), || {
                info_field(&mut mc, "replication", "slave0")
                    .is_some_and(|s| s.contains(&format!("offset={end},")))
            }),
            "{kind:?}"
        );
        mc.send(&[b"SHUTDOWN", b"NOSAVE"]);
        assert!(mc.read_to_close().is_empty());
        assert!(wait_for(Duration::from_secs(10), || m
            .log_text()
            .contains("ready to exit")));
        let log = m.log_text();
        assert!(!log.contains("Waiting for replicas"), "{kind:?}: {log}");
        assert!(
            log.contains("1 of 1 replicas are in sync when shutting down."),
            "{kind:?}: {log}"
        );
        assert_eq!(
            info_field(&mut rc, "replication", "master_repl_offset").as_deref(),
            Some(end.as_str()),
            "{kind:?}: the replica received something after the last write"
        );
    }
}

/// AOF just turned on and its first rewrite still running: the AOF has no base yet, so
/// SHUTDOWN refuses to exit ("Writing initial AOF, can't exit.") unless FORCE, which kills
/// the rewrite. Same replies and log lines as Redis.
#[test]
fn an_initial_aof_rewrite_blocks_shutdown_unless_force() {
    let mut logs = Vec::new();
    for kind in kinds() {
        let mut s = Server::start(kind, &["--enable-debug-command", "yes"]);
        let mut c = s.conn();
        c.call(&["DEBUG", "POPULATE", "2000"]);
        // 2000 keys at 2 ms each: the rewrite takes seconds.
        c.call(&["CONFIG", "SET", "rdb-key-save-delay", "2000"]);
        assert_eq!(
            c.call_str(&["CONFIG", "SET", "appendonly", "yes"]),
            "+OK\r\n"
        );
        assert_eq!(
            c.call_str(&["SHUTDOWN", "NOSAVE"]),
            "-ERR Errors trying to SHUTDOWN. Check logs.\r\n",
            "{kind:?}"
        );
        c.send(&[b"SHUTDOWN", b"NOSAVE", b"FORCE"]);
        assert!(c.read_to_close().is_empty(), "{kind:?}");
        assert!(wait_for(Duration::from_secs(10), || s.exited()), "{kind:?}");
        // Redis's child says it got the signal, in a line of its own format.
        let log: String = s
            .log_text()
            .lines()
            .filter(|l| !l.contains("signal-handler"))
            .map(|l| format!("{l}\n"))
            .collect();
        logs.push(shutdown_lines(&log));
    }
    let want = [
        "# User requested shutdown...",
        "# Writing initial AOF, can't exit.",
        "# Errors trying to shut down the server. Check the logs for more information.",
        "# User requested shutdown...",
        "# Writing initial AOF. Exit anyway.",
        "# There is a child rewriting the AOF. Killing it!",
        "* Killing running AOF rewrite child: N",
        "* Calling fsync() on the AOF file.",
        "# Redis is now ready to exit, bye bye...",
    ];
    assert_all(&logs, &want);
}

/// Each signal asks for a shutdown, in its own name: SIGTERM starts one that waits for a
/// lagging replica; a second SIGTERM meanwhile only says so again; after SHUTDOWN ABORT a
/// SIGINT asks anew ("Received SIGINT", not SIGTERM); a SIGINT while a signal's shutdown is
/// under way exits at once with code 1 ("You insist... exiting now.").
#[test]
fn each_signal_asks_again_and_a_second_sigint_exits_at_once() {
    let mut logs = Vec::new();
    for kind in kinds() {
        let (mut s, _link, mut c) = lagging_replica(kind);

        s.signal(libc::SIGTERM);
        wait_count(&s, "Waiting for replicas before shutting down.", 1);
        s.signal(libc::SIGTERM);
        wait_count(&s, "Received SIGTERM scheduling shutdown...", 2);
        assert_eq!(c.call_str(&["GET", "k"]), "$1\r\nv\r\n", "{kind:?}");
        assert_eq!(c.call_str(&["SHUTDOWN", "ABORT"]), "+OK\r\n", "{kind:?}");
        s.signal(libc::SIGINT);
        wait_count(&s, "Waiting for replicas before shutting down.", 2);
        assert!(!s.exited(), "{kind:?}");
        s.signal(libc::SIGINT);
        assert_eq!(s.exit_code(Duration::from_secs(10)), Some(1), "{kind:?}");
        logs.push(signal_lines(&s.log_text()));
    }
    let want = [
        "signal-handler Received SIGTERM scheduling shutdown...",
        "# User requested shutdown...",
        "* Waiting for replicas before shutting down.",
        "signal-handler Received SIGTERM scheduling shutdown...",
        "* Shutdown manually aborted.",
        "signal-handler Received SIGINT scheduling shutdown...",
        "# User requested shutdown...",
        "* Waiting for replicas before shutting down.",
        "signal-handler You insist... exiting now.",
    ];
    assert_all(&logs, &want);
}

/// A signal's shutdown that fails (the final save cannot be written) is forgotten: the next
/// SIGINT does not "insist", it asks again; once nothing needs saving, SIGTERM exits with 0.
#[test]
fn after_a_failed_save_the_next_signal_tries_again() {
    let mut logs = Vec::new();
    for kind in kinds() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let mut s = Server::start(kind, &["--dir", data.to_str().unwrap(), "--save", "3600 1"]);
        let mut c = s.conn();
        c.call(&["SET", "k", "v"]);
        // The server's directory disappears: the temp RDB file cannot be created.
        std::fs::remove_dir_all(&data).unwrap();
        let failed = "Errors trying to shut down the server.";
        s.signal(libc::SIGTERM);
        wait_count(&s, failed, 1);
        s.signal(libc::SIGINT);
        wait_count(&s, failed, 2);
        assert_eq!(c.call_str(&["GET", "k"]), "$1\r\nv\r\n", "{kind:?}");
        assert_eq!(c.call_str(&["CONFIG", "SET", "save", ""]), "+OK\r\n");
        s.signal(libc::SIGTERM);
        assert_eq!(s.exit_code(Duration::from_secs(10)), Some(0), "{kind:?}");
        logs.push(signal_lines(&s.log_text()));
    }
    let failing = |sig: &str| {
        [
            format!("signal-handler Received {sig} scheduling shutdown..."),
            "# User requested shutdown...".into(),
            "* Saving the final RDB snapshot before exiting.".into(),
            "# Failed opening the temp RDB file temp-N.rdb (in server root dir unknown) for saving: No such file or directory".into(),
            "# Error trying to save the DB, can't exit.".into(),
            "# Errors trying to shut down the server. Check the logs for more information.".into(),
        ]
    };
    let mut want: Vec<String> = failing("SIGTERM").into();
    want.extend(failing("SIGINT"));
    want.extend([
        "signal-handler Received SIGTERM scheduling shutdown...".into(),
        "# User requested shutdown...".into(),
        "# Redis is now ready to exit, bye bye...".into(),
    ]);
    assert_all(&logs, &want);
}

/// Is the process's main thread (Redis's event loop; rtool's runtime, one thread by default)
/// in a sleep system call, i.e. inside DEBUG SLEEP? An idle server waits in epoll instead.
fn main_thread_sleeps(pid: u32) -> bool {
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    // x86-64 nanosleep and clock_nanosleep; aarch64 nanosleep and clock_nanosleep.
    let nr = syscall.split_whitespace().next().unwrap_or("");
    let sleeping: &[&str] = if cfg!(target_arch = "aarch64") {
        &["101", "115"]
    } else {
        &["35", "230"]
    };
    sleeping.contains(&nr)
}

/// The signal thread does not wait for a busy server: during a DEBUG SLEEP the first SIGINT
/// is logged at once and the second exits at once, as Redis's handler does.
#[test]
fn a_second_sigint_exits_even_while_the_server_is_busy() {
    let mut logs = Vec::new();
    for kind in kinds() {
        let mut s = Server::start(kind, &["--enable-debug-command", "yes"]);
        let mut c = s.conn();
        c.send(&[b"DEBUG", b"SLEEP", b"60"]);
        assert!(
            wait_for(Duration::from_secs(20), || main_thread_sleeps(s.pid())),
            "{kind:?}"
        );
        s.signal(libc::SIGINT);
        wait_count(&s, "Received SIGINT scheduling shutdown...", 1);
        s.signal(libc::SIGINT);
        let started = Instant::now();
        assert_eq!(s.exit_code(Duration::from_secs(10)), Some(1), "{kind:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "{kind:?}");
        logs.push(signal_lines(&s.log_text()));
    }
    let want = [
        "signal-handler Received SIGINT scheduling shutdown...",
        "signal-handler You insist... exiting now.",
    ];
    assert_all(&logs, &want);
}

/// What a stopped server of `kind` leaves in `dir` for a loading test.
#[derive(Clone, Copy)]
enum Dataset {
    /// dump.rdb with 5000 keys.
    Rdb,
    /// `appendonlydir` with a base of 5000 keys (DEBUG POPULATE is not propagated, so
    /// BGREWRITEAOF puts them in the base, as an RDB) and 3000 commands in its incr file.
    Aof,
}

fn write_dataset(kind: Kind, dir: &std::path::Path, what: Dataset) {
    let mut args = vec![
        "--dir",
        dir.to_str().unwrap(),
        "--enable-debug-command",
        "yes",
    ];
    if let Dataset::Aof = what {
        args.extend(["--appendonly", "yes", "--appendfsync", "always"]);
    }
    let s = Server::start(kind, &args);
    let mut c = s.conn();
    assert_eq!(
        c.call_str(&["DEBUG", "POPULATE", "5000", "key", "20"]),
        "+OK\r\n"
    );
    match what {
        Dataset::Rdb => assert_eq!(c.call_str(&["SAVE"]), "+OK\r\n"),
        Dataset::Aof => {
            assert!(c.call_str(&["BGREWRITEAOF"]).starts_with('+'));
            assert!(
                wait_for(Duration::from_secs(20), || {
                    info_field(&mut c, "persistence", "aof_rewrites").as_deref() == Some("1")
                        && info_field(&mut c, "persistence", "aof_rewrite_in_progress").as_deref()
                            == Some("0")
                }),
                "{kind:?}: {}",
                s.log_text()
            );
            for i in 0..3000 {
                c.call(&["SET", &format!("after:{i}"), "v"]);
            }
        }
    }
}

/// Start a server on `dir`'s dump.rdb loading slowly (`key-load-delay`, 2 ms a key), and
/// wait until it is loading: Redis says "Loading RDB produced by..." first; rtool says that
/// after the load, so for it the sign is "Server initialized" (a signal from then on is one
/// during loading).
fn start_loading(
    kind: Kind,
    dir: &std::path::Path,
    logs: &std::path::Path,
    extra: &[&str],
) -> Server {
    let log = logs.join(format!("{kind:?}.log"));
    let mut args = vec![
        "--dir",
        dir.to_str().unwrap(),
        // Its own log file: start() then waits only for the port, which is open (Redis)
        // or bound (rtool) while loading.
        "--logfile",
        log.to_str().unwrap(),
        "--key-load-delay",
        "2000",
        "--save",
        "3600 1",
    ];
    args.extend_from_slice(extra);
    let mut s = Server::start(kind, &args);
    s.log = log;
    let sign = match kind {
        Kind::Redis => "Loading RDB produced by",
        Kind::Rtool => "Server initialized",
    };
    wait_count(&s, sign, 1);
    s
}

/// A signal while the dataset loads: Redis says so ("during loading"), stops loading at its
/// next look (every `loading-process-events-interval-bytes`) and exits without saving (a
/// half-loaded dataset must not overwrite the file), even with save points set.
#[test]
fn a_signal_during_loading_exits_without_saving() {
    let mut logs = Vec::new();
    for kind in kinds() {
        let data = tempfile::tempdir().unwrap();
        let logdir = tempfile::tempdir().unwrap();
        write_dataset(kind, data.path(), Dataset::Rdb);
        let before = std::fs::read(data.path().join("dump.rdb")).unwrap();
        let mut s = start_loading(
            kind,
            data.path(),
            logdir.path(),
            &["--loading-process-events-interval-bytes", "1024"],
        );
        s.signal(libc::SIGTERM);
        assert_eq!(s.exit_code(Duration::from_secs(20)), Some(0), "{kind:?}");
        assert_eq!(
            std::fs::read(data.path().join("dump.rdb")).unwrap(),
            before,
            "{kind:?}"
        );
        logs.push(signal_lines(&s.log_text()));
    }
    let want = [
        "signal-handler Received shutdown signal during loading, scheduling shutdown.",
        "# User requested shutdown...",
        "# Redis is now ready to exit, bye bye...",
    ];
    assert_all(&logs, &want);
}

/// A second SIGINT while loading (the first one not acted on yet: the loader looks only every
/// megabyte here) exits at once.
#[test]
fn a_second_sigint_during_loading_exits_at_once() {
    let mut logs = Vec::new();
    for kind in kinds() {
        let data = tempfile::tempdir().unwrap();
        let logdir = tempfile::tempdir().unwrap();
        write_dataset(kind, data.path(), Dataset::Rdb);
        let mut s = start_loading(
            kind,
            data.path(),
            logdir.path(),
            &["--loading-process-events-interval-bytes", "1048576"],
        );
        s.signal(libc::SIGINT);
        wait_count(&s, "during loading", 1);
        s.signal(libc::SIGINT);
        assert_eq!(s.exit_code(Duration::from_secs(10)), Some(1), "{kind:?}");
        logs.push(signal_lines(&s.log_text()));
    }
    let want = [
        "signal-handler Received shutdown signal during loading, scheduling shutdown.",
        "signal-handler You insist... exiting now.",
    ];
    assert_all(&logs, &want);
}

/// The same, with the AOF: a signal during the RDB base (which loads as any RDB does, slowed
/// by `key-load-delay`, looking for a signal every `loading-process-events-interval-bytes`)
/// stops the load and exits without touching the files.
#[test]
fn a_signal_while_the_aof_loads_exits_without_saving() {
    let mut logs = Vec::new();
    for kind in kinds() {
        let data = tempfile::tempdir().unwrap();
        let logdir = tempfile::tempdir().unwrap();
        write_dataset(kind, data.path(), Dataset::Aof);
        let files = |dir: &std::path::Path| {
            let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("appendonlydir"))
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        let before = files(data.path());
        let mut s = start_loading(
            kind,
            data.path(),
            logdir.path(),
            &[
                "--appendonly",
                "yes",
                "--loading-process-events-interval-bytes",
                "1024",
            ],
        );
        s.signal(libc::SIGTERM);
        assert_eq!(s.exit_code(Duration::from_secs(20)), Some(0), "{kind:?}");
        assert_eq!(files(data.path()), before, "{kind:?}");
        assert!(!data.path().join("dump.rdb").exists(), "{kind:?}");
        logs.push(signal_lines(&s.log_text()));
    }
    let want = [
        "signal-handler Received shutdown signal during loading, scheduling shutdown.",
        "# User requested shutdown...",
        "# Redis is now ready to exit, bye bye...",
    ];
    assert_all(&logs, &want);
}
