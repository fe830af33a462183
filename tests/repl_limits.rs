//! The limits that end a replication link, on both sides, with Redis's log lines:
//! `repl-timeout` (a replica that stops acknowledging; a master that goes silent during the
//! transfer), `client-output-buffer-limit replica` (a replica that stops reading), and
//! `repl-backlog-ttl` (a master alone long enough frees its backlog and starts a new history).
//! Replicas and masters on the far side are raw sockets driven by the test, so each one
//! misbehaves exactly as the case needs; a master that sends garbage must not crash rtool.

mod util;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use util::repl::attach_replica;
use util::{Server, info_field, wait_for};

#[test]
fn a_replica_that_stops_acking_is_dropped_after_repl_timeout() {
    let m = Server::rtool(&["--repl-timeout", "1"]);
    let mut link = attach_replica(m.port);
    assert!(
        wait_for(Duration::from_secs(10), || {
            m.log_text().contains(
                "Disconnecting timedout replica (streaming sync): 127.0.0.1:<unknown-replica-port>",
            )
        }),
        "{}",
        m.log_text()
    );
    // The master closed the link.
    link.sock
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = link.sock.read_to_end(&mut rest);
    assert_eq!(
        info_field(&mut m.conn(), "replication", "connected_slaves").as_deref(),
        Some("0")
    );
}

#[test]
fn a_replica_that_stops_reading_overflows_its_output_buffer() {
    let m = Server::rtool(&["--client-output-buffer-limit", "replica 4mb 1mb 2"]);
    let _link = attach_replica(m.port);
    // The replica never reads again: writes pile up behind it.
    let mut c = m.conn();
    let big = "x".repeat(64 * 1024);
    let start = Instant::now();
    while !m
        .log_text()
        .contains("scheduled to be closed ASAP for overcoming of output buffer limits.")
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never dropped:\n{}",
            m.log_text()
        );
        for i in 0..16 {
            c.call(&["SET", &format!("k{i}"), &big]);
        }
    }
    let log = m.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("overcoming of output buffer limits"))
        .unwrap();
    assert!(line.contains(" # Client id="), "{line}");
    assert!(line.contains("flags=S"), "{line}");
    assert!(wait_for(Duration::from_secs(5), || {
        info_field(&mut m.conn(), "replication", "connected_slaves").as_deref() == Some("0")
    }));
}

#[test]
fn a_master_alone_frees_its_backlog_after_repl_backlog_ttl() {
    let m = Server::rtool(&["--repl-backlog-ttl", "1"]);
    let mut c = m.conn();
    let link = attach_replica(m.port);
    let id_before = info_field(&mut c, "replication", "master_replid").unwrap();
    assert_eq!(
        info_field(&mut c, "replication", "repl_backlog_active").as_deref(),
        Some("1")
    );
    drop(link);
    assert!(
        wait_for(Duration::from_secs(10), || {
            m.log_text()
                .contains("Replication backlog freed after 1 seconds without connected replicas.")
        }),
        "{}",
        m.log_text()
    );
    assert_eq!(
        info_field(&mut c, "replication", "repl_backlog_active").as_deref(),
        Some("0")
    );
    let id_after = info_field(&mut c, "replication", "master_replid").unwrap();
    assert_ne!(id_before, id_after);
    assert_eq!(
        info_field(&mut c, "replication", "master_replid2").as_deref(),
        Some("0000000000000000000000000000000000000000")
    );
}

/// A fake master: accepts the replica, answers the handshake, then does `then` with the
/// socket. Returns the listener so the test can see the replica come back.
fn fake_master(then: fn(&mut std::net::TcpStream)) -> (TcpListener, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let l2 = l.try_clone().unwrap();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l2.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // PING, then REPLCONF x2, then PSYNC: answer each as it comes.
        let mut seen = Vec::new();
        let mut answered = 0;
        let mut buf = [0u8; 4096];
        while answered < 4 {
            let n = s.read(&mut buf).unwrap_or(0);
            if n == 0 {
                return;
            }
            seen.extend_from_slice(&buf[..n]);
            let cmds = seen.iter().filter(|&&b| b == b'*').count();
            while answered < cmds.min(4) {
                let reply: &[u8] = match answered {
                    0 => b"+PONG\r\n",
                    1 | 2 => b"+OK\r\n",
                    _ => b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n",
                };
                s.write_all(reply).unwrap();
                answered += 1;
            }
        }
        then(&mut s);
        // Keep the socket open a while so only the replica's own decision ends it.
        std::thread::sleep(Duration::from_secs(5));
    });
    (l, h)
}

#[test]
fn a_master_silent_during_the_transfer_times_out() {
    let (l, _h) = fake_master(|s| {
        // A transfer that never finishes.
        s.write_all(b"$100\r\nREDIS0010").unwrap();
    });
    let port = l.local_addr().unwrap().port().to_string();
    let r = Server::rtool(&["--replicaof", "127.0.0.1", &port, "--repl-timeout", "1"]);
    assert!(
        wait_for(Duration::from_secs(15), || {
            r.log_text().contains("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.")
        }),
        "{}",
        r.log_text()
    );
    // And it tries again: a second connection arrives.
    l.set_nonblocking(false).unwrap();
    let (_again, _) = l.accept().unwrap();
}

#[test]
fn garbage_from_a_master_is_an_error_and_a_reconnect() {
    let (l, _h) = fake_master(|s| {
        s.write_all(b"$5\r\nnot an rdb at all, and more\r\n")
            .unwrap();
    });
    let port = l.local_addr().unwrap().port().to_string();
    let mut r = Server::rtool(&["--replicaof", "127.0.0.1", &port]);
    assert!(
        wait_for(Duration::from_secs(15), || {
            r.log_text()
                .contains("Failed trying to load the MASTER synchronization DB from socket")
        }),
        "{}",
        r.log_text()
    );
    let (_again, _) = l.accept().unwrap();
    assert!(!r.exited());
    assert_eq!(r.conn().call_str(&["PING"]), "+PONG\r\n");
}
