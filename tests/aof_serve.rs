//! The AOF `rtool serve` writes, held against real Redis 7.0: the same commands give the
//! same bytes in the incr file, `redis-check-aof` accepts every directory rtool writes, and a
//! real `redis-server` started on that directory has the same dataset (`DEBUG DIGEST`) —
//! after plain appends, after BGREWRITEAOF under writes, and after turning AOF on at runtime.

mod util;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use util::{Conn, Server, have_redis, info_field, wait_for};

/// Writes of every family, deterministic (no random pops), with the propagation rewrites the
/// AOF must carry (EXPIRE → PEXPIREAT, INCRBYFLOAT → SET KEEPTTL, BLPOP → LPOP, MULTI/EXEC),
/// two databases, and a PUBLISH that must stay out of the file.
const SCRIPT: &[&[&str]] = &[
    &["SET", "num", "123"],
    &["SET", "num", "666"],
    &["EXPIRE", "num", "1000"],
    &["SET", "f", "1.5"],
    &["INCRBYFLOAT", "f", "2"],
    &["RPUSH", "l", "a", "b", "c"],
    &["BLPOP", "l", "0"],
    &["HSET", "h", "a", "1", "b", "2"],
    &["SADD", "s", "x", "y"],
    &["ZADD", "z", "1", "a", "2.5", "b"],
    &["XADD", "x", "1-1", "k", "v"],
    &["PUBLISH", "news", "hello"],
    &["MULTI"],
    &["INCR", "counter"],
    &["DEL", "s"],
    &["EXEC"],
    &["SELECT", "3"],
    &["SET", "in3", "v"],
    &["SELECT", "0"],
    &["DEL", "nothing"],
    &["SET", "last", "1"],
];

fn run_script(c: &mut Conn) {
    for cmd in SCRIPT {
        c.call(cmd);
    }
}

fn dir_of(s: &Server) -> &Path {
    s.dir.path()
}

fn aof_dir(s: &Server) -> std::path::PathBuf {
    dir_of(s).join("appendonlydir")
}

/// PEXPIREAT's absolute time differs between two runs: mask 13-digit Unix milliseconds.
fn mask_times(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    text.split("\r\n")
        .map(|l| {
            if l.len() == 13 && l.bytes().all(|b| b.is_ascii_digit()) {
                "<ms>"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn check_aof(dir: &Path) -> String {
    let out = Command::new("redis-check-aof")
        .arg(dir.join("appendonly.aof.manifest"))
        .output()
        .expect("redis-check-aof");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.contains("All AOF files and manifest are valid"),
        "redis-check-aof refused {}:\n{text}",
        dir.display()
    );
    text
}

/// Real Redis started on a copy of `dir`'s AOF directory, with AOF on, has `digest`.
fn redis_loads(dir: &Path, digest: &str) {
    let copy = tempfile::tempdir().unwrap();
    let src = dir.join("appendonlydir");
    let dst = copy.path().join("appendonlydir");
    std::fs::create_dir(&dst).unwrap();
    for f in std::fs::read_dir(&src).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dst.join(f.file_name())).unwrap();
    }
    let real = Server::redis(&[
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
        "--dir",
        copy.path().to_str().unwrap(),
    ]);
    let mut r = real.conn();
    assert_eq!(
        r.call_str(&["DEBUG", "DIGEST"]),
        digest,
        "real Redis loaded a different dataset from {}:\n{}",
        dir.display(),
        real.log_text()
    );
}

#[test]
fn the_incr_file_has_redis_bytes_and_redis_loads_it() {
    if !have_redis() {
        return;
    }
    let opts = ["--appendonly", "yes", "--enable-debug-command", "yes"];
    let t = Server::rtool(&opts);
    let r = Server::redis(&opts);
    let (mut tc, mut rc) = (t.conn(), r.conn());
    run_script(&mut tc);
    run_script(&mut rc);
    let incr = "appendonly.aof.1.incr.aof";
    // Both wrote their buffers before replying; read the files as they are now.
    let mine = std::fs::read(aof_dir(&t).join(incr)).unwrap();
    let theirs = std::fs::read(aof_dir(&r).join(incr)).unwrap();
    assert_eq!(mask_times(&mine), mask_times(&theirs));
    assert!(!String::from_utf8_lossy(&mine).contains("PUBLISH"));
    assert_eq!(
        std::fs::read_to_string(aof_dir(&t).join("appendonly.aof.manifest")).unwrap(),
        std::fs::read_to_string(aof_dir(&r).join("appendonly.aof.manifest")).unwrap()
    );
    check_aof(&aof_dir(&t));
    let digest = tc.call_str(&["DEBUG", "DIGEST"]);
    assert_eq!(digest, rc.call_str(&["DEBUG", "DIGEST"]));
    assert_eq!(
        info_field(&mut tc, "persistence", "aof_current_size"),
        Some(mine.len().to_string())
    );
    redis_loads(dir_of(&t), &digest);
}

#[test]
fn bgrewriteaof_under_writes_keeps_every_write() {
    rewrite_under_writes("yes");
}

#[test]
fn bgrewriteaof_without_preamble_writes_commands() {
    rewrite_under_writes("no");
}

fn rewrite_under_writes(preamble: &str) {
    if !have_redis() {
        return;
    }
    let t = Server::rtool(&[
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
        "--aof-use-rdb-preamble",
        preamble,
    ]);
    let mut c = t.conn();
    for i in 0..2000 {
        c.call(&["SET", &format!("k{}", i % 500), &i.to_string()]);
        c.call(&["RPUSH", "list", &i.to_string()]);
    }
    // A writer keeps going while the child writes the new base.
    let port = t.port;
    let writer = std::thread::spawn(move || {
        let mut w = Conn::connect(port);
        for i in 0..3000 {
            w.call(&["HSET", "during", &format!("f{i}"), "v"]);
        }
    });
    assert_eq!(
        c.call_str(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    assert!(wait_for(Duration::from_secs(20), || {
        info_field(&mut c, "persistence", "aof_rewrite_in_progress").as_deref() == Some("0")
            && t.log_text()
                .contains("Background AOF rewrite finished successfully")
    }));
    writer.join().unwrap();
    c.call(&["SET", "after", "rewrite"]);
    let dir = aof_dir(&t);
    let ext = if preamble == "yes" { "rdb" } else { "aof" };
    assert_eq!(
        std::fs::read_to_string(dir.join("appendonly.aof.manifest")).unwrap(),
        format!(
            "file appendonly.aof.2.base.{ext} seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        )
    );
    // The history files are gone.
    assert!(!dir.join("appendonly.aof.1.incr.aof").exists());
    assert!(!dir.join(format!("appendonly.aof.1.base.{ext}")).exists());
    assert_eq!(
        info_field(&mut c, "persistence", "aof_rewrites").as_deref(),
        Some("1")
    );
    let text = check_aof(&dir);
    let format = if preamble == "yes" { "RDB" } else { "RESP" };
    assert!(
        text.contains(&format!("Start to check BASE AOF ({format} format)")),
        "{text}"
    );
    redis_loads(dir_of(&t), &c.call_str(&["DEBUG", "DIGEST"]));
}

#[test]
fn turning_aof_on_at_runtime_writes_a_base_first() {
    if !have_redis() {
        return;
    }
    let t = Server::rtool(&["--enable-debug-command", "yes"]);
    let mut c = t.conn();
    run_script(&mut c);
    assert!(!aof_dir(&t).exists());
    assert_eq!(
        info_field(&mut c, "persistence", "aof_enabled").as_deref(),
        Some("0")
    );
    assert_eq!(
        c.call_str(&["CONFIG", "SET", "appendonly", "yes"]),
        "+OK\r\n"
    );
    c.call(&["SET", "while", "turning on"]);
    assert!(wait_for(Duration::from_secs(20), || {
        t.log_text()
            .contains("Background AOF rewrite finished successfully")
    }));
    c.call(&["SET", "after", "on"]);
    let log = t.log_text();
    assert!(
        log.contains("Creating AOF incr file temp-appendonly.aof.incr on background rewrite"),
        "{log}"
    );
    assert!(log.contains(
        "Successfully renamed the temporary AOF incr file temp-appendonly.aof.incr into appendonly.aof.1.incr.aof"
    ));
    assert_eq!(
        info_field(&mut c, "persistence", "aof_enabled").as_deref(),
        Some("1")
    );
    check_aof(&aof_dir(&t));
    redis_loads(dir_of(&t), &c.call_str(&["DEBUG", "DIGEST"]));
    // And off again: the file stops growing.
    assert_eq!(
        c.call_str(&["CONFIG", "SET", "appendonly", "no"]),
        "+OK\r\n"
    );
    let incr = aof_dir(&t).join("appendonly.aof.1.incr.aof");
    let before = std::fs::metadata(&incr).unwrap().len();
    c.call(&["SET", "not", "logged"]);
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), before);
}

#[test]
fn bgrewriteaof_refusals_and_info_match_redis() {
    if !have_redis() {
        return;
    }
    // With AOF off, BGREWRITEAOF still writes a base and a manifest, like Redis.
    for s in [Server::rtool(&[]), Server::redis(&[])] {
        let mut c = s.conn();
        c.call(&["SET", "a", "1"]);
        assert_eq!(
            c.call_str(&["BGREWRITEAOF"]),
            "+Background append only file rewriting started\r\n",
            "{:?}",
            s.kind
        );
        assert!(wait_for(Duration::from_secs(20), || {
            info_field(&mut c, "persistence", "aof_rewrite_in_progress").as_deref() == Some("0")
        }));
        assert_eq!(
            std::fs::read_to_string(aof_dir(&s).join("appendonly.aof.manifest")).unwrap(),
            "file appendonly.aof.1.base.rdb seq 1 type b\n",
            "{:?}",
            s.kind
        );
    }
}

#[test]
fn a_replica_logs_what_it_applies_and_restarts_its_aof_after_a_full_sync() {
    if !have_redis() {
        return;
    }
    let master = Server::redis(&["--enable-debug-command", "yes"]);
    let mut m = master.conn();
    m.call(&["SET", "before", "sync"]);
    m.call(&["RPUSH", "l", "1", "2", "3"]);
    let target = format!("127.0.0.1 {}", master.port);
    let t = Server::rtool(&[
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
        "--replicaof",
        &target,
    ]);
    let mut c = t.conn();
    assert!(wait_for(Duration::from_secs(20), || {
        info_field(&mut c, "replication", "master_link_status").as_deref() == Some("up")
    }));
    // The full sync replaced the dataset: the AOF starts over from a base of it.
    assert!(wait_for(Duration::from_secs(20), || {
        t.log_text()
            .contains("Background AOF rewrite finished successfully")
    }));
    run_script(&mut m);
    let want = m.call_str(&["DEBUG", "DIGEST"]);
    assert!(wait_for(Duration::from_secs(20), || {
        c.call_str(&["DEBUG", "DIGEST"]) == want
    }));
    check_aof(&aof_dir(&t));
    redis_loads(dir_of(&t), &want);
}

/// Copy a fixture AOF (a directory of parts, or one old-style file) into a fresh `dir` the
/// way Redis would find it.
fn stage_fixture(name: &str) -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/aof")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    let multi = src.join("appendonly.aof.manifest").exists();
    let dst = if multi {
        let d = dir.path().join("appendonlydir");
        std::fs::create_dir(&d).unwrap();
        d
    } else {
        dir.path().to_path_buf()
    };
    for f in std::fs::read_dir(&src).unwrap() {
        let f = f.unwrap();
        let n = f.file_name();
        let n = n.to_str().unwrap();
        if n.starts_with("appendonly.aof") {
            std::fs::copy(f.path(), dst.join(n)).unwrap();
        }
    }
    dir
}

#[test]
fn rtool_loads_every_aof_real_redis_wrote_or_refuses_it_like_redis() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/aof");
    let mut names: Vec<String> = std::fs::read_dir(&fixtures)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("DIGEST").exists())
        .map(|e| e.file_name().to_str().unwrap().to_string())
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let want = std::fs::read_to_string(fixtures.join(&name).join("DIGEST")).unwrap();
        let want = want.trim();
        let dir = stage_fixture(&name);
        let d = dir.path().to_str().unwrap();
        if let Some(msg) = want.strip_prefix("refused: ") {
            // Redis refused to start on it: so must rtool, with the same reason.
            let log = dir.path().join("refused.log");
            let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
                .args(["serve", "--port", "0", "--appendonly", "yes", "--dir", d])
                .args(["--logfile", log.to_str().unwrap()])
                .output()
                .unwrap();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            assert_eq!(out.status.code(), Some(1), "{name}: {text}");
            assert!(text.contains(msg), "{name}: expected {msg:?} in\n{text}");
            continue;
        }
        let s = Server::rtool(&[
            "--appendonly",
            "yes",
            "--enable-debug-command",
            "yes",
            "--dir",
            d,
        ]);
        let got = s.conn().call_str(&["DEBUG", "DIGEST"]);
        assert_eq!(got, format!("+{want}\r\n"), "{name}:\n{}", s.log_text());
        assert!(
            s.log_text().contains("DB loaded from append only file"),
            "{name}"
        );
    }
}

#[test]
fn rtool_reloads_its_own_aof_and_a_torn_tail_is_cut_like_redis() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let opts = [
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
        "--dir",
        d,
    ];
    let digest = {
        let s = Server::rtool(&opts);
        let mut c = s.conn();
        run_script(&mut c);
        c.call_str(&["DEBUG", "DIGEST"])
    };
    let s = Server::rtool(&opts);
    assert_eq!(s.conn().call_str(&["DEBUG", "DIGEST"]), digest);
    assert!(
        s.log_text()
            .contains("Opening AOF incr file appendonly.aof.1.incr.aof on server start")
    );
    drop(s);
    // Tear the last command in half: aof-load-truncated (the default) cuts it off.
    let incr = dir.path().join("appendonlydir/appendonly.aof.1.incr.aof");
    let full = std::fs::read(&incr).unwrap();
    let last_cmd = full.windows(4).rposition(|w| w == b"*3\r\n").unwrap();
    std::fs::write(&incr, &full[..last_cmd + 10]).unwrap();
    let refused_log = dir.path().join("refused.log");
    let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["serve", "--port", "0", "--dir", d, "--appendonly", "yes"])
        .args(["--aof-load-truncated", "no", "--logfile"])
        .arg(&refused_log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&refused_log).unwrap();
    assert!(
        text.contains(
            "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"
        ),
        "{text}"
    );
    let s = Server::rtool(&opts);
    let log = s.log_text();
    assert!(
        log.contains(&format!(
            "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {last_cmd} !!!"
        )),
        "{log}"
    );
    assert!(log.contains(
        "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled"
    ));
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), last_cmd as u64);
    // The dataset lacks exactly the last command (SET last 1).
    let mut c = s.conn();
    assert_eq!(c.call_str(&["EXISTS", "last"]), ":0\r\n");
    assert_eq!(c.call_str(&["GET", "in3"]), "$-1\r\n");
    c.call(&["SELECT", "3"]);
    assert_eq!(c.call_str(&["GET", "in3"]), "$1\r\nv\r\n");
}

/// `appendfsync always`: a write acknowledged is on disk. Kill -9 the server in the middle
/// of a write load, again and again; after each restart every acknowledged write is there.
#[test]
fn kill_9_never_loses_an_acknowledged_write_with_appendfsync_always() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let opts = ["--appendonly", "yes", "--appendfsync", "always", "--dir", d];
    let mut acked: u64 = 0;
    for round in 0..20 {
        let mut s = Server::rtool(&opts);
        let mut c = s.conn();
        // Everything acknowledged in earlier rounds survived.
        let n: u64 = c
            .call_str(&["LLEN", "acked"])
            .trim_start_matches(':')
            .trim()
            .parse()
            .unwrap();
        assert!(
            n >= acked,
            "round {round}: {n} < {acked} acknowledged\n{}",
            s.log_text()
        );
        acked = n;
        // Pipeline writes from a thread; kill the server while they fly.
        let port = s.port;
        let writer = std::thread::spawn(move || {
            let mut w = Conn::connect(port);
            let mut ok = 0u64;
            for i in 0..100_000u64 {
                w.send(&[b"RPUSH", b"acked", i.to_string().as_bytes()]);
                match w.read_reply() {
                    Some(r) if r.starts_with(b":") => ok += 1,
                    _ => break,
                }
            }
            ok
        });
        std::thread::sleep(Duration::from_millis(20 + (round as u64 * 7) % 40));
        unsafe { libc::kill(s.pid() as i32, libc::SIGKILL) };
        assert!(wait_for(Duration::from_secs(10), || s.exited()));
        let ok = writer.join().unwrap();
        acked += ok;
    }
    let s = Server::rtool(&opts);
    let n: u64 = s
        .conn()
        .call_str(&["LLEN", "acked"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(n >= acked, "{n} < {acked}");
}

/// History files named in the manifest (a rewrite finished, the deletion did not) are
/// removed at start-up, with Redis's line, and the manifest forgets them.
#[test]
fn history_files_left_in_the_manifest_are_deleted_at_start() {
    let dir = stage_fixture("preamble");
    let aof = dir.path().join("appendonlydir");
    let manifest = std::fs::read_to_string(aof.join("appendonly.aof.manifest")).unwrap();
    assert!(manifest.contains("type h"), "{manifest}");
    let d = dir.path().to_str().unwrap();
    let s = Server::rtool(&["--appendonly", "yes", "--dir", d]);
    assert!(
        s.log_text()
            .contains("Removing the history file appendonly.aof.1.incr.aof in the background")
    );
    assert!(!aof.join("appendonly.aof.1.incr.aof").exists());
    assert!(!aof.join("appendonly.aof.1.base.rdb").exists());
    let manifest = std::fs::read_to_string(aof.join("appendonly.aof.manifest")).unwrap();
    assert!(!manifest.contains("type h"), "{manifest}");
}

/// The start-up lines between "Server initialized" and "Ready to accept connections" as
/// `<level> <text>`, with what differs between two runs masked: durations, the RDB's age.
/// Redis's advice about memory overcommit (a host check rtool does not make) is left out.
fn startup_lines(log: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut on = false;
    for line in log.lines() {
        let Some((level, text)) = util::log_level_text(line) else {
            continue;
        };
        if text == "Ready to accept connections" {
            break;
        }
        if on && !text.starts_with("WARNING Memory overcommit") {
            let masked: Vec<String> = text
                .split(' ')
                .map(|w| {
                    let num = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                    match w.split_once('.') {
                        Some((a, b)) if num(a) && num(b) => "<x.y>".to_string(),
                        _ => w.to_string(),
                    }
                })
                .collect();
            let mut t = masked.join(" ");
            if let Some(rest) = t.strip_prefix("RDB age ") {
                t = format!("RDB age <n> {}", rest.split_once(' ').map_or("", |x| x.1));
            }
            out.push(format!("{level} {t}"));
        }
        on |= text == "Server initialized";
    }
    out
}

/// The loading part of the log (through "DB loaded from append only file") must be Redis's
/// line for line: the RDB base's aux notices ("Loading RDB produced by version", "RDB age",
/// "RDB memory usage when created", "RDB is base AOF"), "Done loading RDB", the old-style
/// preamble/tail lines, one "DB loaded from" per file. What follows (opening the incr file,
/// deleting history files) must be the same lines; their order is checked once
/// `aof::writer::open_on_start` logs the incr file before deleting the history (Redis's
/// order), see the comment below.
#[test]
fn startup_log_lines_match_redis_for_every_fixture() {
    if !have_redis() {
        return;
    }
    for name in [
        "preamble",
        "no-preamble",
        "before-rewrite",
        "runtime",
        "single",
        "single-preamble",
        "timestamps",
        "truncated",
        "single-truncated",
    ] {
        let run = |kind: util::Kind| {
            let dir = stage_fixture(name);
            let s = Server::start(
                kind,
                &["--appendonly", "yes", "--dir", dir.path().to_str().unwrap()],
            );
            let log = s.log_text();
            drop(s);
            startup_lines(&log)
        };
        let want = run(util::Kind::Redis);
        let got = run(util::Kind::Rtool);
        assert!(
            want.iter()
                .any(|l| l.contains("DB loaded from append only file")),
            "{name}: {want:#?}"
        );
        assert_eq!(got, want, "{name}: rtool vs Redis start-up log");
    }
}

/// The same for a `dump.rdb` at start-up (AOF off): the file's aux notices, "Done loading
/// RDB", "DB loaded from disk", as Redis's rdbLoad logs them.
#[test]
fn startup_log_lines_match_redis_for_a_dump_rdb() {
    if !have_redis() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    {
        let r = Server::redis(&["--dir", src.path().to_str().unwrap()]);
        let mut c = r.conn();
        c.call(&["SET", "a", "1"]);
        c.call(&["HSET", "h", "f", "v"]);
        assert_eq!(c.call_str(&["SAVE"]), "+OK\r\n");
    }
    let run = |kind: util::Kind| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(src.path().join("dump.rdb"), dir.path().join("dump.rdb")).unwrap();
        let s = Server::start(kind, &["--dir", dir.path().to_str().unwrap()]);
        let log = s.log_text();
        drop(s);
        startup_lines(&log)
    };
    let want = run(util::Kind::Redis);
    assert!(
        want.contains(&"* Done loading RDB, keys loaded: 2, keys expired: 0.".to_string()),
        "{want:#?}"
    );
    assert_eq!(run(util::Kind::Rtool), want);
}
