//! What the sorted set and stream commands put in the replication stream, checked against the
//! forms a real Redis 7.0.15 emits (observed with `redis-cli --replica`). Delivery times in
//! XCLAIM depend on the clock, so they are shown as `T`.

use crate::cmd::client::ClientMsg;
use crate::cmd::{Client, Engine, execute};
use crate::config::Config;
use crate::resp::Reply;
use crate::resp::split::split_args;

struct Harness {
    engine: Engine,
    clients: Vec<(Client, tokio::sync::mpsc::UnboundedReceiver<ClientMsg>)>,
}

impl Harness {
    fn new() -> Harness {
        let mut engine = Engine::new(Config::default());
        engine.repl.active = true;
        let mut h = Harness {
            engine,
            clients: Vec::new(),
        };
        h.client();
        h.engine.repl.take_pending();
        h
    }

    fn client(&mut self) -> usize {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let id = self
            .engine
            .add_client("127.0.0.1:1".into(), "127.0.0.1:2".into(), tx);
        self.clients.push((Client::new(id, true), rx));
        self.clients.len() - 1
    }

    /// Run one command on client `c`; its reply as text.
    fn on(&mut self, c: usize, line: &str) -> String {
        let args = split_args(line.as_bytes()).expect("quotes");
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let mut out = Reply::new(false);
        self.engine.now_ms = crate::cmd::engine::now_ms();
        execute(&mut self.engine, &mut self.clients[c].0, &argv, &mut out);
        String::from_utf8_lossy(&out.buf).into_owned()
    }

    fn run(&mut self, line: &str) -> String {
        self.on(0, line)
    }

    /// A reply that reached a client once it was unblocked.
    fn unblocked(&mut self, c: usize) -> String {
        match self.clients[c].1.try_recv() {
            Ok(ClientMsg::Unblocked(b)) => {
                self.clients[c].0.blocked = None;
                String::from_utf8_lossy(&b).into_owned()
            }
            _ => String::new(),
        }
    }

    /// The commands propagated since the last call, one per line, arguments joined by
    /// spaces, the value after TIME replaced by `T`.
    fn propagated(&mut self) -> Vec<String> {
        let bytes = self.engine.repl.take_pending();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut parts = text.split("\r\n");
        let mut cmds = Vec::new();
        // The stream is arrays of bulk strings: `*n`, then `$len` and the bytes, n times.
        while let Some(head) = parts.next() {
            let Some(n) = head.strip_prefix('*').and_then(|n| n.parse::<usize>().ok()) else {
                break;
            };
            let mut words = Vec::new();
            for _ in 0..n {
                parts.next();
                words.push(parts.next().unwrap_or_default().to_string());
            }
            let mut line = Vec::new();
            let mut after_time = false;
            for w in words {
                line.push(if after_time {
                    "T".to_string()
                } else {
                    w.clone()
                });
                after_time = w == "TIME";
            }
            let line = line.join(" ");
            if !line.starts_with("SELECT") {
                cmds.push(line);
            }
        }
        cmds
    }
}

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn xadd_generated_ids_and_approximate_trims() {
    let mut h = Harness::new();
    let id = h.run("XADD s * a 1");
    let id = id.lines().nth(1).unwrap().to_string();
    assert_eq!(h.propagated(), vec![format!("XADD s {id} a 1")]);
    h.run("XADD s 5-* a 2");
    assert_eq!(h.propagated(), Vec::<String>::new());
    h.run("DEL s");
    h.propagated();
    h.run("XADD s 5-* a 2");
    h.run("XADD s 6 a 3");
    assert_eq!(h.propagated(), lines(&["XADD s 5-0 a 2", "XADD s 6 a 3"]));
    h.run("XADD s MAXLEN ~ 1 7-0 a 4");
    h.run("XADD s MAXLEN 2 8-0 a 5");
    h.run("XADD s MINID ~ 0 9-0 a 6");
    h.run("XADD s MINID ~ 99 LIMIT 5 10-0 a 7");
    assert_eq!(
        h.propagated(),
        lines(&[
            "XADD s MAXLEN = 3 7-0 a 4",
            "XADD s MAXLEN 2 8-0 a 5",
            "XADD s MINID = 5-0 9-0 a 6",
            "XADD s MINID = 18446744073709551615-18446744073709551615 LIMIT 5 10-0 a 7",
        ])
    );
    h.run("XADD s 11-0 a 1");
    h.run("XADD s 12-0 a 1");
    h.run("XTRIM s MAXLEN ~ 0");
    h.run("XTRIM s MAXLEN 1");
    h.run("XTRIM s MAXLEN 100");
    assert_eq!(
        h.propagated(),
        lines(&["XADD s 11-0 a 1", "XADD s 12-0 a 1", "XTRIM s MAXLEN = 0"])
    );
}

#[test]
fn group_reads_and_claims() {
    let mut h = Harness::new();
    h.run("XGROUP CREATE s g $ MKSTREAM");
    h.run("XGROUP CREATE s g2 0 ENTRIESREAD 3");
    h.run("XADD s 100-1 x 1");
    h.run("XADD s 100-2 x 2");
    h.propagated();
    h.run("XREADGROUP GROUP g alice COUNT 1 STREAMS s >");
    assert_eq!(
        h.propagated(),
        lines(&["XCLAIM s g alice 0 100-1 TIME T RETRYCOUNT 1 FORCE JUSTID LASTID 100-1"])
    );
    h.run("XREADGROUP GROUP g alice STREAMS s 0");
    assert_eq!(h.propagated(), Vec::<String>::new());
    h.run("XREADGROUP GROUP g bob NOACK STREAMS s >");
    assert_eq!(
        h.propagated(),
        lines(&[
            "MULTI",
            "XGROUP CREATECONSUMER s g bob",
            "XGROUP SETID s g 100-2 ENTRIESREAD 2",
            "EXEC"
        ])
    );
    h.run("XREADGROUP GROUP g2 carol NOACK STREAMS s >");
    assert_eq!(
        h.propagated(),
        lines(&[
            "MULTI",
            "XGROUP CREATECONSUMER s g2 carol",
            "XGROUP SETID s g2 100-2 ENTRIESREAD 5",
            "EXEC"
        ])
    );
    h.run("XCLAIM s g bob 0 100-1 JUSTID");
    assert_eq!(
        h.propagated(),
        lines(&["XCLAIM s g bob 0 100-1 TIME T RETRYCOUNT 2 FORCE JUSTID LASTID 100-2"])
    );
    h.run("XCLAIM s g bob 0 100-1 LASTID 200-0 JUSTID");
    assert_eq!(
        h.propagated(),
        lines(&["XCLAIM s g bob 0 100-1 TIME T RETRYCOUNT 2 FORCE JUSTID LASTID 200-0"])
    );
    h.run("XCLAIM s g bob 0 1 LASTID 300-0");
    assert_eq!(
        h.propagated(),
        lines(&["XGROUP SETID s g 300-0 ENTRIESREAD 2"])
    );
    h.run("XACK s g 100-1");
    h.run("XACK s g 100-1");
    assert_eq!(h.propagated(), lines(&["XACK s g 100-1"]));
    // A pending entry whose message was deleted is dropped, and that is propagated too.
    h.run("XREADGROUP GROUP g2 dan STREAMS s 0");
    h.run("XGROUP SETID s g2 0");
    h.run("XREADGROUP GROUP g2 dan STREAMS s >");
    h.run("XDEL s 100-2");
    h.propagated();
    let r = h.run("XAUTOCLAIM s g2 erin 0 0");
    assert_eq!(
        r,
        "*3\r\n$3\r\n0-0\r\n*1\r\n*2\r\n$5\r\n100-1\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n*1\r\n$5\r\n100-2\r\n"
    );
    assert_eq!(
        h.propagated(),
        lines(&[
            "MULTI",
            "XCLAIM s g2 erin 0 100-1 TIME T RETRYCOUNT 2 FORCE JUSTID LASTID 100-2",
            "XCLAIM s g2 dan 0 100-2 TIME T RETRYCOUNT 1 FORCE JUSTID LASTID 100-2",
            "EXEC",
        ])
    );
    h.run("XGROUP SETID s g $ ENTRIESREAD 7");
    h.run("XGROUP CREATECONSUMER s g erin");
    h.run("XGROUP DELCONSUMER s g erin");
    h.run("XGROUP DESTROY s g2");
    h.run("XSETID s 999-0 ENTRIESADDED 100 MAXDELETEDID 5-0");
    assert_eq!(
        h.propagated(),
        lines(&[
            "XGROUP SETID s g $ ENTRIESREAD 7",
            "XGROUP CREATECONSUMER s g erin",
            "XGROUP DELCONSUMER s g erin",
            "XGROUP DESTROY s g2",
            "XSETID s 999-0 ENTRIESADDED 100 MAXDELETEDID 5-0",
        ])
    );
}

#[test]
fn served_blocked_clients_propagate_their_effect() {
    let mut h = Harness::new();
    let b = h.client();
    h.run("XGROUP CREATE s g $ MKSTREAM");
    h.propagated();
    assert_eq!(h.on(b, "XREADGROUP GROUP g frank BLOCK 0 STREAMS s >"), "");
    h.run("XADD s 1000-0 z 1");
    assert_eq!(
        h.unblocked(b),
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$6\r\n1000-0\r\n*2\r\n$1\r\nz\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        h.propagated(),
        lines(&[
            "XADD s 1000-0 z 1",
            "XCLAIM s g frank 0 1000-0 TIME T RETRYCOUNT 1 FORCE JUSTID LASTID 1000-0"
        ])
    );
    // XREAD pins `$` when it blocks: the entry that wakes it is the one it gets.
    assert_eq!(h.on(b, "XREAD BLOCK 0 STREAMS s $"), "");
    h.run("XADD s 2000-0 y 2");
    assert_eq!(
        h.unblocked(b),
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$6\r\n2000-0\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n"
    );
    h.propagated();
    assert_eq!(h.on(b, "BZPOPMIN z 0"), "");
    h.run("ZADD z 1 a 2 b");
    assert_eq!(h.unblocked(b), "*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(h.on(b, "BZMPOP 0 1 w MAX COUNT 3"), "");
    h.run("ZADD w 1 a 2 b");
    assert_eq!(
        h.unblocked(b),
        "*2\r\n$1\r\nw\r\n*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        h.propagated(),
        lines(&[
            "ZADD z 1 a 2 b",
            "ZPOPMIN z",
            "ZADD w 1 a 2 b",
            "ZPOPMAX w 2"
        ])
    );
    // A stream deleted under a blocked XREADGROUP unblocks it with an error.
    h.run("XGROUP CREATE d g $ MKSTREAM");
    assert_eq!(h.on(b, "XREADGROUP GROUP g c BLOCK 0 STREAMS d >"), "");
    h.run("DEL d");
    assert_eq!(
        h.unblocked(b),
        "-UNBLOCKED the stream key no longer exists\r\n"
    );
}

#[test]
fn zset_pops_travel_as_zpop() {
    let mut h = Harness::new();
    h.run("ZADD z 1 a 2 b 3 c 4 d");
    h.run("ZMPOP 1 z MIN COUNT 10");
    h.run("ZADD z 1 a 2 b 3 c");
    h.run("BZPOPMIN z 0");
    h.run("BZMPOP 0 1 z MAX COUNT 5");
    h.run("ZPOPMIN nokey");
    h.run("ZADD z2 1 a");
    h.run("ZPOPMAX z2 5");
    h.run("ZADD e 1 a");
    h.run("ZUNIONSTORE e 1 nokey");
    h.run("ZRANGESTORE e nokey 0 1");
    h.run("ZADD x 1 a");
    h.run("ZINCRBY x 1 a");
    h.run("ZADD x NX INCR 1 a");
    assert_eq!(
        h.propagated(),
        lines(&[
            "ZADD z 1 a 2 b 3 c 4 d",
            "ZPOPMIN z 4",
            "ZADD z 1 a 2 b 3 c",
            "ZPOPMIN z",
            "ZPOPMAX z 2",
            "ZADD z2 1 a",
            "ZPOPMAX z2 5",
            "ZADD e 1 a",
            "ZUNIONSTORE e 1 nokey",
            "ZADD x 1 a",
            "ZINCRBY x 1 a",
        ])
    );
}
