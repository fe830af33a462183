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

use rtool::cli::aof_rewrite::{ExplainFormat, RewriteArgs, YesNo, rewrite};
use rtool::cmd::{Client, Engine, execute};
use rtool::config::Config;
use rtool::resp::Reply;
use std::collections::BTreeMap;
use std::path::Path;
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
    let re = regex::Regex::new(r":1[6-9]\d{11}\r\n").unwrap();
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
            re.replace_all(&t, ":<ms>\r\n").into_owned()
        };
        assert_eq!(mask(c.call(args)), mask(r.call(args)), "{args:?}");
    }
}

/// More history on top of the dataset: overwrites, deletes, expiries, transactions, and
/// commands whose propagated form differs (SPOP, INCRBYFLOAT, SET EX).
fn history_script() -> Vec<String> {
    let mut s: Vec<String> = Vec::new();
    for i in 0..50 {
        s.push(format!("SET counter {i}"));
        s.push(format!("HSET h f1 v{i}"));
        s.push(format!("LPUSH churn {i}"));
        s.push("RPOP churn".into());
    }
    for c in [
        "DEL raw",
        "SET gone v PX 50",
        "SET later v EX 100000",
        "SET keepttl v EX 100000",
        "SET keepttl w KEEPTTL",
        "MULTI",
        "INCR counter",
        "SADD tx a b",
        "EXEC",
        "SPOP iset200 5",
        "INCRBYFLOAT flt 0.25",
        "RENAME emb emb2",
        "SELECT 15",
        "FLUSHDB",
        "SET after-flush 1",
        "SELECT 0",
        "UNLINK l64",
        "XADD st 9-9 late 1",
        "XTRIM st MAXLEN 2",
    ] {
        s.push(c.into());
    }
    s
}

fn args(path: &Path, out: Option<&Path>, single: Option<&Path>, preamble: bool) -> RewriteArgs {
    RewriteArgs {
        path: path.to_path_buf(),
        out: out.map(Path::to_path_buf),
        single_file: single.map(Path::to_path_buf),
        preamble: if preamble { YesNo::Yes } else { YesNo::No },
        appendfilename: "appendonly.aof".into(),
        format: ExplainFormat::Text,
        top: 10,
    }
}

/// A source AOF made by a real Redis from the scripts (`preamble`: its mid-way rewrite gives
/// an RDB base and an incr file of commands; otherwise commands only, with `#TS:` lines).
/// Returns the source's digest and a copy of its AOF directory.
fn source_aof(preamble: bool, into: &Path) -> String {
    let redis = Server::redis(&[
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        if preamble { "yes" } else { "no" },
        "--aof-timestamp-enabled",
        if preamble { "no" } else { "yes" },
        "--enable-debug-command",
        "yes",
    ]);
    run_in_redis(&redis, &dataset_script());
    if preamble {
        redis.conn().call(&["BGREWRITEAOF"]);
        wait_rewrite(&redis);
    }
    run_in_redis(&redis, &history_script());
    // The short-lived key is gone (its DEL is in the AOF) before the digest is taken.
    assert!(wait_for(Duration::from_secs(10), || {
        redis.conn().call_str(&["EXISTS", "gone"]).trim() == ":0"
    }));
    let d = digest(&redis);
    // With `appendfsync everysec` Redis replies before writing when its background fsync is
    // still busy (it postpones the write up to two seconds): on a loaded machine the files
    // can lag behind the replies. Copy them only once the buffer is empty.
    assert!(wait_for(Duration::from_secs(10), || {
        info_field(&redis, "persistence", "aof_buffer_length").as_deref() == Some("0")
    }));
    let src = redis.dir.path().join("appendonlydir");
    std::fs::create_dir_all(into).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), into.join(e.file_name())).unwrap();
    }
    d
}

#[test]
fn cli_rewrite_loads_in_redis() {
    if !have_redis() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for source_preamble in [false, true] {
        let src = tmp.path().join(format!("src-{source_preamble}"));
        let want = source_aof(source_preamble, &src);
        for preamble in [false, true] {
            let name = format!("out-{source_preamble}-{preamble}");
            let out = tmp.path().join(&name);
            let mut text = Vec::new();
            let ex = rewrite(&args(&src, Some(&out), None, preamble), &mut text).unwrap();
            let text = String::from_utf8(text).unwrap();
            assert_eq!(ex.errors, 0, "{text}");
            // Commands take more room than an RDB: only compare like with like.
            if preamble || !source_preamble {
                assert!(ex.after.bytes < ex.before_bytes, "{text}");
            }
            // The layout Redis itself would leave after a rewrite.
            let base = if preamble {
                "appendonly.aof.1.base.rdb"
            } else {
                "appendonly.aof.1.base.aof"
            };
            assert_eq!(
                std::fs::read_to_string(out.join("appendonly.aof.manifest")).unwrap(),
                format!("file {base} seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n")
            );
            assert_eq!(
                std::fs::metadata(out.join("appendonly.aof.1.incr.aof"))
                    .unwrap()
                    .len(),
                0
            );
            let loaded = redis_on_aof(tmp.path(), &name);
            assert_eq!(digest(&loaded), want, "{name}:\n{text}");
            // The manifest or the directory, named directly, give the same result.
            if !preamble {
                let out2 = tmp.path().join(format!("{name}-m"));
                let m = src.join("appendonly.aof.manifest");
                let ex2 = rewrite(&args(&m, Some(&out2), None, false), &mut Vec::new()).unwrap();
                assert_eq!(ex2.after, ex.after);
            }
        }
        // --single-file: the same base, alone.
        let single = tmp.path().join(format!("single-{source_preamble}.aof"));
        let ex = rewrite(&args(&src, None, Some(&single), false), &mut Vec::new()).unwrap();
        assert_eq!(std::fs::metadata(&single).unwrap().len(), ex.after.bytes);
        // Writing into a directory that already holds an AOF is refused.
        let again = rewrite(&args(&src, Some(&src), None, false), &mut Vec::new());
        assert!(again.is_err());
    }
}

#[test]
fn torn_tail_of_the_last_file_is_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("single.aof");
    let mut data =
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n".to_vec();
    data.extend_from_slice(b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$2\r\nv");
    std::fs::write(&f, &data).unwrap();
    let out = tmp.path().join("out.aof");
    let ex = rewrite(&args(&f, None, Some(&out), false), &mut Vec::new()).unwrap();
    assert_eq!(ex.files[0].truncated, Some(25));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
    );
    // A format error is not a truncation.
    std::fs::write(&f, b"*1\r\n$4\r\nPING\r\nxyz").unwrap();
    assert!(rewrite(&args(&f, None, Some(&out), false), &mut Vec::new()).is_err());
}

/// Seed 001's example: `set num 123` then `set num 666` (the directory a real Redis 7.0.15
/// left, kept under tests/snapshots) becomes one SET.
#[test]
fn seed_001_explanation() {
    let input = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots/aof_rewrite/seed-001/appendonlydir");
    let tmp = tempfile::tempdir().unwrap();
    for (preamble, format, snap) in [
        (false, ExplainFormat::Text, "preamble-no.txt"),
        (true, ExplainFormat::Text, "preamble-yes.txt"),
        (false, ExplainFormat::Json, "preamble-no.json"),
    ] {
        let out = tmp.path().join(snap);
        let mut a = args(&input, Some(&out), None, preamble);
        a.format = format;
        let mut text = Vec::new();
        rewrite(&a, &mut text).unwrap();
        let text = String::from_utf8(text)
            .unwrap()
            .replace(input.to_str().unwrap(), "<seed-001>/appendonlydir");
        // The RDB's size depends on its ctime aux field's digits only through its value:
        // same width for centuries, so the snapshot can keep it.
        util::snap::snapshot(&format!("aof_rewrite/seed-001/{snap}"), text.as_bytes());
        if !preamble {
            assert_eq!(
                std::fs::read(out.join("appendonly.aof.1.base.aof")).unwrap(),
                b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$3\r\nnum\r\n$3\r\n666\r\n"
            );
        }
    }
}

/// The same through the binary (`rtool aof rewrite` is wired into `rtool aof`).
#[test]
fn seed_001_through_the_binary() {
    let input = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots/aof_rewrite/seed-001/appendonlydir");
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["aof", "rewrite", input.to_str().unwrap(), "--out"])
        .arg(tmp.path().join("new"))
        .args(["--preamble", "no", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace(input.to_str().unwrap(), "<seed-001>/appendonlydir");
    util::snap::snapshot("aof_rewrite/seed-001/preamble-no.json", text.as_bytes());
}
