//! What a write sends to replicas. The same commands go to a real Redis 7.0 — whose stream we
//! read by attaching to it as a replica (`PSYNC ? -1`) — and to rtool's engine, whose
//! replication log we read directly; the two streams must be the same bytes, once absolute
//! times (which differ by the milliseconds between the two runs) are masked.
//!
//! This pins Redis 7.0's rewrites: `SET .. EX` → `SET .. PXAT`, `EXPIRE` → `PEXPIREAT`,
//! `GETDEL` → `DEL`, `INCRBYFLOAT` → `SET .. KEEPTTL`, a lazily expired key → a
//! `DEL` inside the effects of the command that found it, and several effects of one command
//! (or a transaction with more than one write) wrapped in MULTI/EXEC.

mod util;

use rtool::cmd::{Client, Engine, execute};
use rtool::config::Config;
use rtool::resp::Reply;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use util::{Conn, Server, have_redis};

const END: &str = "__end_of_script__";

/// Attach to a real Redis as a replica and return the socket positioned after the RDB.
fn attach_replica(port: u16) -> (TcpStream, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"*3\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n")
        .unwrap();
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, |b| b.starts_with(b"+OK\r\n"));
    buf.drain(..5);
    s.write_all(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
        .unwrap();
    // +FULLRESYNC <id> <offset>\r\n, then `\n` keepalives, then $<len>\r\n<rdb> (no CRLF).
    // (A stand-in until `repl::stream`, the replication-link decoder, exists.)
    {
        read_until(&mut s, &mut buf, |b| {
            b.contains(&b'$')
                && b[b.iter().position(|&c| c == b'$').unwrap()..]
                    .windows(2)
                    .any(|w| w == b"\r\n")
        });
        let dollar = buf.iter().position(|&c| c == b'$').unwrap();
        let crlf = dollar + buf[dollar..].windows(2).position(|w| w == b"\r\n").unwrap();
        let len: usize = std::str::from_utf8(&buf[dollar + 1..crlf])
            .unwrap()
            .parse()
            .unwrap();
        let end = crlf + 2 + len;
        read_until(&mut s, &mut buf, |b| b.len() >= end);
        let rest = buf.split_off(end);
        (s, rest)
    }
}

fn read_until(s: &mut TcpStream, buf: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) {
    let start = Instant::now();
    while !done(buf) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out reading replication stream"
        );
        let mut chunk = [0u8; 65536];
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "master closed the link");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Mask 13-digit Unix-millisecond arguments, which legitimately differ between two runs.
fn mask_times(stream: &[u8]) -> String {
    let text = String::from_utf8_lossy(stream).into_owned();
    let mut out = String::new();
    for line in text.split("\r\n") {
        let is_ms = line.len() == 13 && line.bytes().all(|c| c.is_ascii_digit());
        out.push_str(if is_ms { "<ms>" } else { line });
        out.push(' ');
    }
    out
}

fn split(cmd: &str) -> Vec<Vec<u8>> {
    rtool::resp::split::split_args(cmd.as_bytes()).unwrap()
}

fn real_redis_stream(script: &[&str]) -> String {
    let server = Server::redis(&["--enable-debug-command", "yes"]);
    let (mut link, mut stream) = attach_replica(server.port);
    let mut c = Conn::connect(server.port);
    // Only lazy expiry, so what expires when is decided by the script alone.
    c.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for cmd in script {
        if let Some(ms) = cmd.strip_prefix("!wait-ms ") {
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
            continue;
        }
        let args = split(cmd);
        let a: Vec<&[u8]> = args.iter().map(|x| x.as_slice()).collect();
        c.send(&a);
        c.read_reply().unwrap();
    }
    c.call(&["SET", END, "1"]);
    read_until(&mut link, &mut stream, |b| {
        b.windows(END.len()).any(|w| w == END.as_bytes())
    });
    // The master's periodic `ping` (lower case, as Redis sends it) is not part of the script.
    mask_times(&stream).replace("*1 $4 ping ", "")
}

fn rtool_stream(script: &[&str]) -> String {
    let mut e = Engine::new(Config::default());
    e.repl.active = true;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let id = e.add_client("127.0.0.1:1".into(), "127.0.0.1:2".into(), tx);
    let mut client = Client::new(id, true);
    let mut out = Reply::new(false);
    let mut all: Vec<&str> = script.to_vec();
    let end = format!("SET {END} 1");
    all.push(&end);
    for cmd in all {
        if let Some(ms) = cmd.strip_prefix("!wait-ms ") {
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
            continue;
        }
        e.now_ms = rtool::cmd::engine::now_ms();
        let args = split(cmd);
        let a: Vec<&[u8]> = args.iter().map(|x| x.as_slice()).collect();
        execute(&mut e, &mut client, &a, &mut out);
    }
    mask_times(&e.repl.take_pending())
}

fn check(script: &[&str]) {
    if !have_redis() {
        return;
    }
    let redis = real_redis_stream(script);
    let rtool = rtool_stream(script);
    assert_eq!(rtool, redis, "\nscript: {script:?}");
}

#[test]
fn relative_expiries_become_absolute() {
    check(&[
        "SET a 1 EX 100",
        "SET b 1 PX 100000 GET",
        "SETEX c 100 v",
        "PSETEX c2 100000 v",
        "SET d 1 PXAT 99999999999999",
        "EXPIRE a 50",
        "EXPIRE a 60 GT",
        "PEXPIRE a 70000 XX",
        "EXPIREAT a 99999999999",
        "PEXPIREAT a 99999999999999",
        "GETEX a EX 100",
        "GETEX a PERSIST",
        "GETEX a",
        "EXPIRE a -1",
        "EXPIRE nosuch 10",
    ]);
}

#[test]
fn rewrites_of_string_commands() {
    check(&[
        "SET k v",
        "GETDEL k",
        "GETDEL k",
        "INCRBYFLOAT f 1.5",
        "INCRBYFLOAT f 2",
        "SETNX n 1",
        "SETNX n 2",
        "DEL nosuch",
        "DEL n f",
        "MSET a 1 b 2",
        "APPEND a x",
        "SETRANGE a 0 y",
        "SETRANGE a 0 \"\"",
        "INCR i",
        "set lower case",
    ]);
}

#[test]
fn lazily_expired_keys_propagate_del_with_the_command() {
    check(&[
        "SET x 1 PX 20",
        "SET y 1 PX 20",
        "!wait-ms 80",
        "GET x",
        "SET y 2",
        "EXISTS x y",
    ]);
}

#[test]
fn transactions_are_wrapped_only_with_several_writes() {
    check(&[
        "MULTI", "SET m 1", "EXEC", "MULTI", "SET m 1", "GET m", "SET m 2", "EXEC", "MULTI",
        "GET m", "EXEC",
    ]);
}

#[test]
fn databases_and_flushes() {
    check(&[
        "SET a 1",
        "SELECT 3",
        "SET a 1",
        "FLUSHDB",
        "SELECT 0",
        "FLUSHALL",
        "SWAPDB 0 1",
        "PUBLISH ch msg",
    ]);
}
