//! What sorted set and stream commands send to replicas, compared byte for byte with a real
//! Redis 7.0 (attached to as a replica, `PSYNC ? -1`) — the same method as
//! `tests/propagation.rs`, for the families whose propagated form is not the command typed:
//! ZMPOP and the blocking pops become ZPOPMIN/ZPOPMAX, XADD carries the ID it generated and
//! the exact length an approximate trim left, and consumer-group reads and claims become
//! XCLAIM / XGROUP SETID / XGROUP CREATECONSUMER, wrapped in MULTI/EXEC when there are several.
//!
//! Lines starting with `!other ` are sent by a second client without waiting for a reply (a
//! client that blocks); Unix-millisecond arguments (XCLAIM's TIME) are masked.

mod util;

use rtool::cmd::{Client, Engine, execute};
use rtool::config::Config;
use rtool::resp::Reply;
use std::time::Duration;
use util::repl::{attach_replica, normalize, split};
use util::{Conn, Server, have_redis};

const END: &str = "__end_of_script__";

fn real_redis_stream(script: &[&str]) -> String {
    let server = Server::redis(&[]);
    let mut link = attach_replica(server.port);
    let mut c = Conn::connect(server.port);
    let mut other = Conn::connect(server.port);
    for cmd in script {
        let args = match cmd.strip_prefix("!other ") {
            Some(rest) => {
                let args = split(rest);
                let a: Vec<&[u8]> = args.iter().map(|x| x.as_slice()).collect();
                other.send(&a);
                // Let the server take the blocking command before the next one arrives.
                c.call(&["PING"]);
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            None => split(cmd),
        };
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
    let (tx2, _rx2) = tokio::sync::mpsc::unbounded_channel();
    let id2 = e.add_client("127.0.0.1:3".into(), "127.0.0.1:2".into(), tx2);
    let mut other = Client::new(id2, true);
    let mut out = Reply::new(false);
    let end = format!("SET {END} 1");
    for cmd in script.iter().copied().chain(std::iter::once(end.as_str())) {
        e.now_ms = rtool::cmd::engine::now_ms();
        let (who, text) = match cmd.strip_prefix("!other ") {
            Some(rest) => (&mut other, rest),
            None => (&mut client, cmd),
        };
        let args = split(text);
        let a: Vec<&[u8]> = args.iter().map(|x| x.as_slice()).collect();
        execute(&mut e, who, &a, &mut out);
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
fn sorted_set_writes_and_pops() {
    check(&[
        "ZADD z 1 a 2 b 3 c 4 d",
        "ZADD z 1 a",
        "ZADD z XX CH 5 a 9 nosuch",
        "ZADD z NX INCR 1 a",
        "ZINCRBY z 1 a",
        "ZREM z nosuch",
        "ZREM z d",
        "ZMPOP 1 z MIN COUNT 10",
        "ZADD z 1 a 2 b 3 c",
        "BZPOPMIN z 0",
        "BZMPOP 0 1 z MAX COUNT 5",
        "ZPOPMIN nokey",
        "ZADD z2 1 a",
        "ZPOPMAX z2 5",
        "ZADD e 1 a 2 b 3 c",
        "ZREMRANGEBYSCORE e 2 2",
        "ZREMRANGEBYRANK e 5 6",
        "ZREMRANGEBYLEX e - +",
        "ZUNIONSTORE e 1 nokey",
        "ZADD u 1 a",
        "ZUNIONSTORE e 1 u",
        "ZRANGESTORE e nokey 0 1",
        "ZRANGESTORE e2 u 0 -1",
        "ZDIFFSTORE e2 2 u u",
    ]);
}

#[test]
fn served_blocked_pops() {
    check(&[
        "!other BZPOPMIN w 0",
        "ZADD w 5 x 6 y",
        "!other BZMPOP 0 1 w2 MAX COUNT 3",
        "ZADD w2 5 x 6 y",
        "!other BZPOPMAX w3 0",
        "MULTI",
        "ZADD w3 1 a",
        "ZADD w3 2 b",
        "EXEC",
    ]);
}

#[test]
fn xadd_and_trims() {
    check(&[
        "XADD s 5-* a 2",
        "XADD s 5-* a 2",
        "XADD s 6 a 3",
        "XADD s MAXLEN ~ 1 7-0 a 4",
        "XADD s MAXLEN 2 8-0 a 5",
        "XADD s MINID ~ 0 9-0 a 6",
        "XADD s MINID ~ 99 LIMIT 5 10-0 a 7",
        "XADD s 11-0 a 1",
        "XADD s 12-0 a 1",
        "XTRIM s MAXLEN ~ 0",
        "XTRIM s MAXLEN 1",
        "XTRIM s MAXLEN 100",
        "XADD s NOMKSTREAM 13-0 a 1",
        "XADD nokey NOMKSTREAM 13-0 a 1",
        "XDEL s 13-0 99-0",
        "XDEL s 99-0",
        "XSETID s 999-0",
    ]);
}

#[test]
fn consumer_groups() {
    check(&[
        "XGROUP CREATE s g $ MKSTREAM",
        "XGROUP CREATE s g2 0 ENTRIESREAD 3",
        "XGROUP CREATE s g2 0",
        "XADD s 100-1 x 1",
        "XADD s 100-2 x 2",
        "XREADGROUP GROUP g alice COUNT 1 STREAMS s >",
        "XREADGROUP GROUP g alice STREAMS s 0",
        "XREADGROUP GROUP g bob NOACK STREAMS s >",
        "XREADGROUP GROUP g2 carol NOACK STREAMS s >",
        "XREADGROUP GROUP g2 carol STREAMS s >",
        "XCLAIM s g bob 0 100-1 JUSTID",
        "XCLAIM s g bob 0 100-1 LASTID 200-0 JUSTID",
        "XCLAIM s g bob 0 1 LASTID 300-0",
        "XCLAIM s g bob 0 100-2 FORCE RETRYCOUNT 5",
        "XACK s g 100-1",
        "XACK s g 100-1",
        "XGROUP SETID s g2 0",
        "XREADGROUP GROUP g2 dan STREAMS s >",
        "XDEL s 100-2",
        "XAUTOCLAIM s g2 erin 0 0",
        "XCLAIM s g2 erin 0 100-1 100-2",
        "XGROUP SETID s g 0",
        "XGROUP SETID s g $ ENTRIESREAD 7",
        "XGROUP CREATECONSUMER s g erin",
        "XGROUP CREATECONSUMER s g erin",
        "XGROUP DELCONSUMER s g erin",
        "XGROUP DESTROY s g2",
        "XGROUP DESTROY s g2",
        "XSETID s 999-0 ENTRIESADDED 100 MAXDELETEDID 5-0",
    ]);
}

#[test]
fn served_blocked_stream_readers() {
    check(&[
        "XGROUP CREATE s g $ MKSTREAM",
        "!other XREADGROUP GROUP g frank BLOCK 0 STREAMS s >",
        "XADD s 1000-0 z 1",
        "!other XREADGROUP GROUP g gina NOACK BLOCK 0 STREAMS s >",
        "XADD s 2000-0 z 2",
        "!other XREAD BLOCK 0 STREAMS s $",
        "XADD s 3000-0 z 3",
        // Two entries delivered to a served client: two XCLAIMs, wrapped together.
        "!other XREADGROUP GROUP g hal BLOCK 0 STREAMS s >",
        "MULTI",
        "XADD s 4000-0 z 4",
        "XADD s 5000-0 z 5",
        "EXEC",
        "!other XREADGROUP GROUP g ivy NOACK BLOCK 0 STREAMS s >",
        "XADD s 6000-0 z 6",
    ]);
}

/// A deterministic pseudo-random mix of group commands (reads with and without NOACK,
/// history reads, acks, claims, autoclaims of deleted entries, SETID, consumer churn): the
/// propagated streams must still be the same bytes.
#[test]
fn random_group_traffic() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let groups = ["g1", "g2", "g3"];
    let consumers = ["c1", "c2", "c3"];
    let mut script: Vec<String> = vec!["XGROUP CREATE s g1 $ MKSTREAM".into()];
    let mut last = 0;
    for _ in 0..300 {
        let g = groups[next(3) as usize];
        let c = consumers[next(3) as usize];
        let id = format!("{}-0", next(last + 3));
        let cmd = match next(12) {
            0..=2 => {
                last += 1;
                format!("XADD s {last}-0 f {last}")
            }
            3 => format!("XGROUP CREATE s {g} {}", ["0", "$", &id][next(3) as usize]),
            4 => format!("XREADGROUP GROUP {g} {c} COUNT {} STREAMS s >", 1 + next(3)),
            5 => format!("XREADGROUP GROUP {g} {c} NOACK STREAMS s >"),
            6 => format!("XREADGROUP GROUP {g} {c} STREAMS s 0"),
            7 => format!("XACK s {g} {id}"),
            8 => format!(
                "XCLAIM s {g} {c} 0 {id} {}",
                ["JUSTID", "FORCE", "LASTID 9-0", ""][next(4) as usize]
            ),
            9 => format!("XAUTOCLAIM s {g} {c} 0 0 COUNT 2"),
            10 => format!("XDEL s {id}"),
            _ => format!(
                "XGROUP {} s {g} {c}",
                ["CREATECONSUMER", "DELCONSUMER"][next(2) as usize]
            ),
        };
        script.push(cmd);
    }
    let refs: Vec<&str> = script.iter().map(|s| s.as_str()).collect();
    check(&refs);
}
