//! Hostile and broken clients: garbage, impossible lengths, half commands. The server answers
//! with Redis's protocol error (then closes that connection) or waits for the rest, keeps
//! serving everyone else, and does not let one client make it buffer without bound.

mod util;

use std::time::Duration;
use util::{Conn, Server, wait_for};

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn protocol_error(s: &Server, bytes: &[u8]) -> String {
    let mut c = s.conn();
    c.send_raw(bytes);
    String::from_utf8_lossy(&c.read_to_close()).into_owned()
}

#[test]
fn garbage_gets_redis_errors_and_the_server_survives() {
    let s = Server::rtool(&[]);
    let cases: &[(&[u8], &str)] = &[
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
            "-ERR Protocol error: expected '$', got 'f'\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*-\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*99999999999999999999\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$99999999999\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n:1\r\n",
            "-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"SET \"unbalanced\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            protocol_error(&s, input),
            *want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
    // A 64 KiB+ line without a newline is refused instead of buffered forever.
    let long = vec![b'a'; 70 * 1024];
    assert_eq!(
        protocol_error(&s, &long),
        "-ERR Protocol error: too big inline request\r\n"
    );
    let mut long_hdr = b"*1\r\n$".to_vec();
    long_hdr.extend(std::iter::repeat_n(b'1', 70 * 1024));
    assert_eq!(
        protocol_error(&s, &long_hdr),
        "-ERR Protocol error: too big bulk count string\r\n"
    );
    // A NUL byte in an inline command: Redis (strchr) never sees the newline, so the
    // connection waits; it once made rtool's splitter loop forever. Others are still served.
    let mut c = s.conn();
    c.send_raw(b"ECHO a\0b\r\nPING\r\n");
    assert_eq!(s.conn().call(&["PING"]), b"+PONG\r\n");
    // Random garbage from a fixed seed: every connection ends with an error or a reply, and
    // the server still answers.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..50 {
        let mut g = Vec::new();
        for _ in 0..200 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            g.push(b"*$\r\n0123456789-abcPING "[(x % 23) as usize]);
        }
        g.extend_from_slice(b"\r\nQUIT\r\n");
        let mut c = s.conn();
        c.stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        c.send_raw(&g);
        let _ = c.read_to_close();
    }
    assert_eq!(s.conn().call(&["PING"]), b"+PONG\r\n");
}

#[test]
fn half_a_command_does_not_block_others() {
    let s = Server::rtool(&[]);
    let mut slow = s.conn();
    slow.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhel");
    // Everyone else is served while the slow client waits.
    let mut other = s.conn();
    assert_eq!(other.call(&["SET", "x", "1"]), b"+OK\r\n");
    assert_eq!(other.call(&["GET", "k"]), b"$-1\r\n");
    // The rest arrives: the command completes.
    slow.send_raw(b"lo\r\n");
    assert_eq!(slow.read_reply().unwrap(), b"+OK\r\n");
    assert_eq!(other.call(&["GET", "k"]), b"$5\r\nhello\r\n");
}

#[test]
fn huge_bulk_header_does_not_allocate_and_the_query_buffer_is_bounded() {
    let mut s = Server::rtool(&["--client-query-buffer-limit", "8mb"]);
    let before = rss_kb(s.pid());
    // Over proto-max-bulk-len (512 MB): refused outright, like Redis.
    assert_eq!(
        protocol_error(&s, b"*2\r\n$4\r\nECHO\r\n$1000000000\r\n"),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    // A 400 MB bulk is announced: nothing may be allocated for it up front.
    let mut c = s.conn();
    c.send_raw(b"*2\r\n$4\r\nECHO\r\n$400000000\r\n");
    c.send_raw(&vec![b'x'; 1024 * 1024]);
    let mut other = s.conn();
    assert_eq!(other.call(&["PING"]), b"+PONG\r\n");
    let during = rss_kb(s.pid());
    assert!(
        during < before + 64 * 1024,
        "RSS grew from {before} kB to {during} kB on a 1 GB header"
    );
    // Sending past client-query-buffer-limit gets the connection closed, not buffered.
    let chunk = vec![b'x'; 1024 * 1024];
    let mut closed = false;
    for _ in 0..20 {
        use std::io::Write;
        if c.stream.write_all(&chunk).is_err() {
            closed = true;
            break;
        }
    }
    if !closed {
        c.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        closed = c.read_to_close().is_empty();
    }
    assert!(
        closed,
        "connection over the query buffer limit was not closed"
    );
    assert!(wait_for(Duration::from_secs(5), || s
        .log_text()
        .contains("max query buffer length")));
    assert_eq!(other.call(&["PING"]), b"+PONG\r\n");
    assert!(!s.exited());
    let after = rss_kb(s.pid());
    assert!(
        after < before + 64 * 1024,
        "RSS grew from {before} kB to {after} kB"
    );
}

#[test]
fn unauthenticated_clients_get_redis_limits() {
    let s = Server::rtool(&["--requirepass", "secret"]);
    let mut c = s.conn();
    assert_eq!(
        c.call(&["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        protocol_error(&s, b"*11\r\n"),
        "-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert_eq!(
        protocol_error(&s, b"*1\r\n$20000\r\n"),
        "-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    assert_eq!(
        c.call(&["AUTH", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.call(&["AUTH", "secret"]), b"+OK\r\n");
    assert_eq!(c.call(&["GET", "k"]), b"$-1\r\n");
    let _ = Conn::connect(s.port);
}
