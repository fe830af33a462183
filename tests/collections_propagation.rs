//! What the list, hash and set commands write into the replication stream.
//!
//! The expected streams were captured from a real Redis 7.0.15 acting as master (a client
//! sent `SYNC` and recorded what followed the RDB) while the same commands ran: a served
//! BLPOP becomes `LPOP`, a served BLMOVE an `LMOVE ... left right` in lower case, SPOP
//! becomes `SREM` (several wrapped in MULTI/EXEC) or `DEL`, HINCRBYFLOAT becomes `HSET`, and
//! commands that changed nothing (an LTRIM keeping everything, a pop of a missing key) leave
//! no trace. The engine is driven directly, without sockets.

use rtool::cmd::client::ClientMsg;
use rtool::cmd::{Client, Engine, execute};
use rtool::config::Config;
use rtool::resp::Reply;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

struct Peer {
    client: Client,
    rx: UnboundedReceiver<ClientMsg>,
}

fn peer(e: &mut Engine) -> Peer {
    let (tx, rx) = unbounded_channel();
    let id = e.add_client("127.0.0.1:1".into(), "127.0.0.1:2".into(), tx);
    Peer {
        client: Client::new(id, true),
        rx,
    }
}

fn run(e: &mut Engine, p: &mut Peer, line: &str) -> Vec<u8> {
    let argv: Vec<&[u8]> = line.split(' ').map(|s| s.as_bytes()).collect();
    let mut out = Reply::new(false);
    execute(e, &mut p.client, &argv, &mut out);
    out.buf.to_vec()
}

/// The stream written since the last call, as text with CRLF shown as spaces.
fn stream(e: &mut Engine) -> String {
    String::from_utf8_lossy(&e.repl.take_pending()).replace("\r\n", " ")
}

fn engine() -> Engine {
    let mut e = Engine::new(Config::default());
    e.repl.active = true;
    e
}

#[test]
fn list_commands_propagate_like_redis() {
    let mut e = engine();
    let mut a = peer(&mut e);
    for l in [
        "RPUSH l a b c",
        "LPOP l 2",
        "LPOP nokey",
        "LTRIM l 0 -1",
        "LTRIM l 1 0",
    ] {
        run(&mut e, &mut a, l);
    }
    assert_eq!(
        stream(&mut e),
        "*2 $6 SELECT $1 0 *5 $5 RPUSH $1 l $1 a $1 b $1 c *3 $4 LPOP $1 l $1 2 \
         *4 $5 LTRIM $1 l $1 1 $1 0 "
    );
    run(&mut e, &mut a, "RPUSH l x");
    assert_eq!(
        run(&mut e, &mut a, "BLPOP l 0"),
        b"*2\r\n$1\r\nl\r\n$1\r\nx\r\n"
    );
    run(&mut e, &mut a, "RPUSH q5 a b c");
    run(&mut e, &mut a, "LMPOP 1 q5 LEFT COUNT 10");
    run(&mut e, &mut a, "RPUSH q6 a");
    run(&mut e, &mut a, "BLMOVE q6 d6 LEFT Right 0");
    assert_eq!(
        stream(&mut e),
        "*3 $5 RPUSH $1 l $1 x *2 $4 LPOP $1 l *5 $5 RPUSH $2 q5 $1 a $1 b $1 c \
         *3 $4 LPOP $2 q5 $1 3 *3 $5 RPUSH $2 q6 $1 a *5 $5 LMOVE $2 q6 $2 d6 $4 LEFT $5 Right "
    );
}

#[test]
fn served_blocking_pops_propagate_their_effect() {
    let mut e = engine();
    let mut a = peer(&mut e);
    let mut b = peer(&mut e);
    let cases = [
        (
            "BLPOP q 0",
            "RPUSH q v",
            "*3 $5 RPUSH $1 q $1 v *2 $4 LPOP $1 q ",
            "*2\r\n$1\r\nq\r\n$1\r\nv\r\n",
        ),
        (
            "BLMOVE q2 dst LEFT RIGHT 0",
            "RPUSH q2 w",
            "*3 $5 RPUSH $2 q2 $1 w *5 $5 LMOVE $2 q2 $3 dst $4 left $5 right ",
            "$1\r\nw\r\n",
        ),
        (
            "BRPOPLPUSH q3 dst 0",
            "LPUSH q3 z",
            "*3 $5 LPUSH $2 q3 $1 z *3 $9 RPOPLPUSH $2 q3 $3 dst ",
            "$1\r\nz\r\n",
        ),
        (
            "BLMPOP 0 1 q4 RIGHT COUNT 5",
            "RPUSH q4 1 2",
            "*4 $5 RPUSH $2 q4 $1 1 $1 2 *3 $4 RPOP $2 q4 $1 2 ",
            "*2\r\n$2\r\nq4\r\n*2\r\n$1\r\n2\r\n$1\r\n1\r\n",
        ),
    ];
    run(&mut e, &mut a, "PING");
    for (block, push, want, reply) in cases {
        assert_eq!(run(&mut e, &mut b, block), b"");
        run(&mut e, &mut a, push);
        let got = stream(&mut e).replace("*2 $6 SELECT $1 0 ", "");
        assert_eq!(got, want, "after {block} / {push}");
        match b.rx.try_recv() {
            Ok(ClientMsg::Unblocked(bytes)) => assert_eq!(String::from_utf8_lossy(&bytes), reply),
            other => panic!("{block}: not served: {other:?}"),
        }
        b.client.blocked = None;
    }
}

#[test]
fn spop_and_hincrbyfloat_are_rewritten() {
    let mut e = engine();
    let mut a = peer(&mut e);
    run(&mut e, &mut a, "SADD s 3");
    run(&mut e, &mut a, "SPOP s");
    run(&mut e, &mut a, "SADD s 1 2");
    run(&mut e, &mut a, "SPOP s 5");
    run(&mut e, &mut a, "HINCRBYFLOAT h f 1.5");
    assert_eq!(
        stream(&mut e),
        "*2 $6 SELECT $1 0 *3 $4 SADD $1 s $1 3 *3 $4 SREM $1 s $1 3 *4 $4 SADD $1 s $1 1 $1 2 \
         *2 $3 DEL $1 s *4 $4 HSET $1 h $1 f $3 1.5 "
    );
    run(&mut e, &mut a, "SADD s2 1 2 3 4 5 6 7 8 9 10");
    stream(&mut e);
    run(&mut e, &mut a, "SPOP s2 2");
    let s = stream(&mut e);
    assert!(s.starts_with("*1 $5 MULTI *3 $4 SREM $2 s2 "), "{s}");
    assert!(s.ends_with("*1 $4 EXEC "), "{s}");
    assert_eq!(s.matches("SREM").count(), 2);
}

/// Read commands count keyspace hits and misses per key looked up, as Redis's
/// `lookupKeyRead` does (writes count nothing). The totals are Redis 7.0.15's for the same
/// commands.
#[test]
fn reads_count_keyspace_hits_and_misses() {
    let mut e = engine();
    let mut a = peer(&mut e);
    for l in [
        "rpush l a",
        "llen l",
        "llen x",
        "lrange l 0 -1",
        "lindex x 0",
        "lpos l a",
        "hset h a 1",
        "hget h a",
        "hget x a",
        "hmget h a b",
        "hgetall h",
        "hrandfield h",
        "hrandfield h 2",
        "hscan h 0",
        "sadd s 1",
        "srandmember s",
        "srandmember s 2",
        "sinter s x",
        "sunionstore d s x",
        "sdiff s s",
        "sscan s 0",
        "smembers s",
        "scard x",
        "sismember s 1",
        "smismember s 1",
        "hexists h a",
        "hstrlen h a",
        "hlen h",
    ] {
        run(&mut e, &mut a, l);
    }
    assert_eq!((e.stats.keyspace_hits, e.stats.keyspace_misses), (22, 6));
}

/// On a replica an expired key stays stored until the master's DEL arrives, but reads must
/// already miss it, as Redis's `lookupKeyRead` makes them.
#[test]
fn a_replica_reads_expired_collections_as_missing() {
    let mut e = engine();
    let mut a = peer(&mut e);
    run(&mut e, &mut a, "RPUSH l a");
    run(&mut e, &mut a, "HSET h f v");
    run(&mut e, &mut a, "SADD s 1");
    for k in ["l", "h", "s"] {
        e.keyspace.dbs[0].set_expire(k.as_bytes(), 1);
    }
    e.is_replica = true;
    assert_eq!(run(&mut e, &mut a, "LLEN l"), b":0\r\n");
    assert_eq!(run(&mut e, &mut a, "LRANGE l 0 -1"), b"*0\r\n");
    assert_eq!(run(&mut e, &mut a, "HGET h f"), b"$-1\r\n");
    assert_eq!(run(&mut e, &mut a, "HGETALL h"), b"*0\r\n");
    assert_eq!(run(&mut e, &mut a, "SMEMBERS s"), b"*0\r\n");
    assert_eq!(run(&mut e, &mut a, "SUNION s s"), b"*0\r\n");
    assert_eq!(run(&mut e, &mut a, "SSCAN s 0"), b"*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(
        e.keyspace.dbs[0].len(),
        3,
        "the keys wait for the master's DEL"
    );
}
