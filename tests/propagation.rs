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
use std::time::Duration;
use util::repl::{attach_replica, normalize, split};
use util::{Conn, Server, have_redis};

const END: &str = "__end_of_script__";

fn real_redis_stream(script: &[&str]) -> String {
    let server = Server::redis(&["--enable-debug-command", "yes"]);
    let mut link = attach_replica(server.port);
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
    normalize(link.read_until(END))
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
    normalize(&e.repl.take_pending())
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
