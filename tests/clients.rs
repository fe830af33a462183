//! Real Redis clients against `rtool serve`: `redis-cli` (one-shot commands, `--pipe` mass
//! insertion) and `redis-benchmark`. These are the tools people will point at rtool first.

mod util;

use std::io::Write;
use std::process::{Command, Stdio};
use util::{Server, have_redis};

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli");
    assert!(
        out.status.success(),
        "redis-cli {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redis_cli_one_shot_commands() {
    if !have_redis() {
        return;
    }
    let s = Server::rtool(&[]);
    assert_eq!(cli(s.port, &["ping"]), "PONG\n");
    assert_eq!(cli(s.port, &["set", "greeting", "hello world"]), "OK\n");
    assert_eq!(cli(s.port, &["get", "greeting"]), "hello world\n");
    assert_eq!(cli(s.port, &["incr", "n"]), "1\n");
    assert_eq!(cli(s.port, &["--no-raw", "get", "nosuch"]), "(nil)\n");
    assert!(cli(s.port, &["info", "server"]).contains("redis_version:7.0.15"));
    // RESP3 through redis-cli -3.
    assert_eq!(cli(s.port, &["-3", "get", "greeting"]), "hello world\n");
}

#[test]
fn redis_cli_pipe_mass_insertion() {
    if !have_redis() {
        return;
    }
    let s = Server::rtool(&[]);
    let n = 20_000;
    let mut payload = Vec::new();
    for i in 0..n {
        let (k, v) = (format!("key:{i}"), format!("value:{i}"));
        payload.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .as_bytes(),
        );
    }
    let mut child = Command::new("redis-cli")
        .args(["-p", &s.port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&payload).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("errors: 0, replies: {n}")), "{text}");
    assert_eq!(cli(s.port, &["dbsize"]), format!("{n}\n"));
    assert_eq!(cli(s.port, &["get", "key:12345"]), "value:12345\n");
}

#[test]
fn redis_benchmark_runs_without_errors() {
    if !have_redis() {
        return;
    }
    let s = Server::rtool(&[]);
    let tests = "set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange,mset";
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &s.port.to_string(),
            "-c",
            "10",
            "-n",
            "2000",
            "-r",
            "1000",
            "-t",
            tests,
            "--csv",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // redis-benchmark reports a server error reply on stderr ("Error from server: ...").
    assert!(!stderr.contains("Error from server"), "{stderr}");
    for t in [
        "SET",
        "GET",
        "INCR",
        "LPUSH",
        "RPUSH",
        "LPOP",
        "RPOP",
        "SADD",
        "HSET",
        "SPOP",
        "ZADD",
        "ZPOPMIN",
        "LRANGE_100",
        "MSET",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("\"{t}"))),
            "{t} missing from:\n{stdout}"
        );
    }
    // The server is still healthy and holds what the benchmark wrote.
    assert_eq!(cli(s.port, &["ping"]), "PONG\n");
    assert_eq!(cli(s.port, &["type", "mylist"]), "list\n");
}

/// `redis-cli` fed a session on stdin (how people script it): rtool's output is the same as
/// real Redis's, line for line.
#[test]
fn redis_cli_reads_commands_from_stdin_like_a_session() {
    if !have_redis() {
        return;
    }
    let session: &[u8] = b"SET greeting \"hello world\"\nGET greeting\nRPUSH l a b c\nLRANGE l 0 -1\nHSET h f v\nHGETALL h\nZADD z 1.5 a\nZRANGE z 0 -1 WITHSCORES\nSELECT 2\nDBSIZE\nINCR greeting\nNOSUCH arg\nGET\n";
    let run = |port: u16| {
        let mut child = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(session).unwrap();
        String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).into_owned()
    };
    let rtool = Server::rtool(&[]);
    let redis = Server::redis(&[]);
    let (a, b) = (run(rtool.port), run(redis.port));
    assert!(a.starts_with("OK\nhello world\n3\na\nb\nc\n"), "{a}");
    assert_eq!(a, b);
}

/// An RDB as the list of what is in it: `aux <name>`, and every other event by its kind (with
/// the key's name for a key), in file order.
fn rdb_outline(path: &std::path::Path) -> Vec<String> {
    let data = std::fs::read(path).unwrap();
    let mut r = rtool::rdb::Reader::new();
    r.feed(&data);
    let mut out = Vec::new();
    while let Some(e) = r.next_event().unwrap() {
        out.push(match &e {
            rtool::rdb::Event::Aux { name, .. } => {
                format!("aux {}", String::from_utf8_lossy(name))
            }
            other => {
                let d = format!("{other:?}");
                d.split([' ', '{', '('])
                    .next()
                    .unwrap_or_default()
                    .to_string()
            }
        });
    }
    r.finish().unwrap();
    out
}

/// `redis-cli --rdb` (a backup over the replication protocol: `REPLCONF rdb-only 1`, then
/// SYNC) and `redis-cli --functions-rdb` (`REPLCONF rdb-filter-only functions`: no keys, only
/// functions) give the same files from rtool as from Redis, and the filter's errors are
/// Redis's.
#[test]
fn redis_cli_rdb_and_functions_rdb_match_redis() {
    if !have_redis() {
        return;
    }
    let mut seen = Vec::new();
    for kind in [util::Kind::Redis, util::Kind::Rtool] {
        let s = Server::start(kind, &["--repl-diskless-sync-delay", "0"]);
        cli(s.port, &["set", "a", "1"]);
        let all = s.dir.path().join("all.rdb");
        let functions = s.dir.path().join("functions.rdb");
        cli(s.port, &["--rdb", all.to_str().unwrap()]);
        cli(s.port, &["--functions-rdb", functions.to_str().unwrap()]);
        let mut c = s.conn();
        let errors = [
            c.call_str(&["REPLCONF", "rdb-filter-only", "functions keys"]),
            c.call_str(&["REPLCONF", "rdb-filter-only", "\"unbalanced"]),
            c.call_str(&["REPLCONF", "rdb-filter-only", ""]),
            c.call_str(&["SYNC"]),
        ];
        seen.push((rdb_outline(&all), rdb_outline(&functions), errors));
    }
    let (all, functions, errors) = &seen[0];
    assert!(
        all.iter().any(|e| e == "Key" || e.starts_with("Key")),
        "{all:?}"
    );
    assert!(
        !functions
            .iter()
            .any(|e| e.starts_with("Key") || e == "SelectDb"),
        "{functions:?}"
    );
    assert_eq!(
        errors,
        &[
            "-ERR Unsupported rdb-filter-only option: keys\r\n",
            "-ERR Missing rdb-filter-only values\r\n",
            "+OK\r\n",
            "-ERR Filtered replica requires EOF capability\r\n",
        ],
        "the reference changed"
    );
    assert_eq!(seen[1], seen[0]);
}

/// `--rdb` and `--functions-rdb` at the same time (both wait out `repl-diskless-sync-delay`):
/// one snapshot cannot serve both, so the master makes two, one with the keys and one
/// without, as Redis does.
#[test]
fn a_filtered_and_a_full_backup_at_once_get_their_own_snapshots() {
    if !have_redis() {
        return;
    }
    let mut seen = Vec::new();
    for kind in [util::Kind::Redis, util::Kind::Rtool] {
        let s = Server::start(kind, &["--repl-diskless-sync-delay", "1"]);
        cli(s.port, &["set", "a", "1"]);
        let all = s.dir.path().join("all.rdb");
        let functions = s.dir.path().join("functions.rdb");
        let spawn = |flag: &str, path: &std::path::Path| {
            util::Killed(
                Command::new("redis-cli")
                    .args(["-p", &s.port.to_string(), flag, path.to_str().unwrap()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        };
        let mut clients = [spawn("--rdb", &all), spawn("--functions-rdb", &functions)];
        for c in clients.iter_mut() {
            assert!(
                util::wait_for(std::time::Duration::from_secs(20), || c
                    .0
                    .try_wait()
                    .unwrap()
                    .is_some()),
                "{kind:?}: redis-cli did not finish"
            );
            assert!(c.0.wait().unwrap().success(), "{kind:?}");
        }
        let keys = |p: &std::path::Path| rdb_outline(p).iter().filter(|e| *e == "KeyStart").count();
        let snapshots = s
            .log_text()
            .matches("Starting BGSAVE for SYNC with target: replicas sockets")
            .count();
        seen.push((keys(&all), keys(&functions), snapshots));
    }
    assert_eq!(seen[0], (1, 0, 2), "the reference changed");
    assert_eq!(seen[1], seen[0]);
}
