//! The book cannot drift from the code.
//!
//! Every block of tool output in `book/src/` is `{{#include generated/NAME.txt}}`, and each of
//! those files is written here by running the real `rtool` binary on a fixture. The test fails
//! when a file on disk differs from what the binary prints today; `UPDATE_BOOK=1 cargo test
//! --test book` rewrites them. The test also holds the book's structure (every include target
//! and every SUMMARY entry exists) and the outcomes its "Try this" sections promise, so none of
//! it needs `mdbook` installed (tests/run-all.sh builds the book as well).
//!
//! Two kinds of generated file:
//! - snippets (`SNIPPETS`): `rtool` on a fixture (an RDB file or a replication capture), its
//!   output optionally piped through `head`, `sed -n '/A/,/B/p'` or `grep` — done here in Rust
//!   and shown in the prompt line, so the reader can type exactly what the book shows;
//! - live logs (`LIVE_LOGS`): a full sync and a failover by hand between two real Redis
//!   servers and between two rtool servers, the logs normalised (IDs, ports, pids replaced);
//!   compared as sets of lines, since a parent's and its forked child's lines interleave
//!   differently from run to run.
//!
//! The live "Try this" checks run on `rtool serve` and, when it is installed (always on CI),
//! on real `redis-server`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

mod util;
use util::{Kind, Server};

/// The repository root: fixtures and the book are found from here, whatever the cwd.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Chapter 6's fixture: a 181-byte RDB written by Redis 7.0 (fixtures/gen/book_rdb.py).
fn small_rdb() -> Vec<u8> {
    std::fs::read(root().join("fixtures/book/book-small.rdb")).unwrap()
}

/// The files the chapter tells the reader to make, made the same way as the reader (and
/// fixtures/gen/book_rdb.py, for Redis's side) makes them. They live in one scratch directory
/// and every command runs there, so the tool prints bare file names, as on the reader's
/// screen, instead of a path into target/.
fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("book");
    std::fs::create_dir_all(&dir).unwrap();
    let data = small_rdb();
    let mut flipped = data.clone();
    let h = data.windows(5).position(|w| w == b"hello").unwrap();
    flipped[h] ^= 0x20; // "hello" -> "Hello": the data still parses, the CRC-64 no longer fits
    let mut bad_crc = data.clone();
    *bad_crc.last_mut().unwrap() ^= 0x01; // the data is intact, the stored checksum is not
    let files: [(&str, &[u8]); 5] = [
        ("book-small.rdb", &data),
        ("truncated.rdb", &data[..150]),
        ("flipped.rdb", &flipped),
        ("bad-crc.rdb", &bad_crc),
        ("no-crc.rdb", &data[..data.len() - 8]),
    ];
    for (name, body) in files {
        std::fs::write(dir.join(name), body).unwrap();
    }
    // Chapter 12's AOFs: real Redis directories from fixtures/aof (without the fixture's own
    // notes, CHECK-AOF.txt and DIGEST, so that a directory looks as a server left it), a
    // fresh copy of the truncated one for `aof check --fix` to repair, and the directory
    // `rtool serve --appendonly yes` writes for seed 001's two SETs.
    for (from, to) in [
        ("before-rewrite", "before-rewrite"),
        ("preamble", "preamble"),
        ("truncated", "truncated"),
        ("truncated", "crashed"),
    ] {
        copy_aof_dir(&root().join("fixtures/aof").join(from), &dir.join(to));
    }
    let live = live_aof_dir();
    copy_aof_dir(&live, &dir.join("appendonlydir"));
    // `aof rewrite --out` refuses a directory that already holds a manifest.
    let _ = std::fs::remove_dir_all(dir.join("rewritten"));
    // The replication captures (real Redis 7.0 links), under their own names: the chapters say
    // "from fixtures/repl" (or fixtures/book).
    // fixtures/book/ has the captures only the book uses (fixtures/gen/book_captures.py).
    for from in ["fixtures/repl", "fixtures/book"] {
        for e in std::fs::read_dir(root().join(from)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "capture") {
                std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    dir
}

/// Copies an AOF directory's files (not the fixtures' notes) into a fresh `to`.
fn copy_aof_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap();
        if name.starts_with("appendonly.aof") {
            std::fs::copy(&p, to.join(name)).unwrap();
        }
    }
}

/// The bytes seed 001's `set num 123`, `set num 666` add to a fresh AOF's incr file:
/// `SELECT 0` (23) and two SETs of 31 bytes each.
const SEED_001_INCR: u64 = 23 + 31 + 31;

/// Starts `rtool serve --appendonly yes`, sends seed 001's two writes as redis-cli does
/// (lowercase), and waits until the incr file holds both. Returns the appendonlydir (inside
/// a directory that lives as long as the test process: the server is gone by then).
fn live_aof_dir() -> PathBuf {
    let s = Server::start(Kind::Rtool, &["--appendonly", "yes"]);
    let mut c = s.conn();
    assert_eq!(c.call_str(&["set", "num", "123"]), "+OK\r\n");
    assert_eq!(c.call_str(&["set", "num", "666"]), "+OK\r\n");
    let aof = s.dir.path().join("appendonlydir");
    let incr = aof.join("appendonly.aof.1.incr.aof");
    let written = util::wait_for(Duration::from_secs(10), || {
        std::fs::metadata(&incr).is_ok_and(|m| m.len() == SEED_001_INCR)
    });
    assert!(written, "no {SEED_001_INCR}-byte incr file in {aof:?}");
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("book-live-aof");
    copy_aof_dir(&aof, &keep);
    keep
}

/// What the book's command line pipes rtool's output through. Each one is done here in Rust,
/// the way the shell tool would do it, and shown in the prompt line, so the reader can type
/// exactly what the book shows.
#[derive(Clone, Copy)]
enum Pipe {
    /// Output as it is.
    None,
    /// `| cat -v` (for RESP, whose `\r` would be invisible in a page).
    CatV,
    /// `| head -n N`.
    Head(usize),
    /// `| sed -n '/FROM/,/TO/p'` (`TO` = `$`: to the end). Plain text patterns only.
    Sed(&'static str, &'static str),
    /// `| grep -A N -e P1 -e P2 ...` (N = 0: no `-A`). Plain text patterns only.
    Grep(usize, &'static [&'static str]),
}

/// One generated snippet: the command line the book shows and the arguments it runs.
struct Snippet {
    /// File name under book/src/generated/.
    name: &'static str,
    /// The arguments after `rtool`.
    args: &'static [&'static str],
    /// What the output goes through before the book shows it.
    pipe: Pipe,
    /// The exit status the book's prose promises.
    status: i32,
    /// Start the file with the `$ rtool ...` prompt line. Off for output that the book puts
    /// in a block of another language (the Mermaid diagram), where the chapter shows the
    /// command in its own block.
    prompt: bool,
}

const fn snip(name: &'static str, args: &'static [&'static str], status: i32) -> Snippet {
    Snippet {
        name,
        args,
        pipe: Pipe::None,
        status,
        prompt: true,
    }
}

/// A snippet whose output goes through a pipe (always exit status 0).
const fn piped(name: &'static str, args: &'static [&'static str], pipe: Pipe) -> Snippet {
    Snippet {
        name,
        args,
        pipe,
        status: 0,
        prompt: true,
    }
}

/// Every snippet the book includes. A snippet on disk that is not in this list fails the
/// test too, so a renamed block does not leave a stale file behind.
const SNIPPETS: &[Snippet] = &[
    snip("ch06-table.txt", &["rdb", "dump", "book-small.rdb"], 0),
    snip(
        "ch06-hex.txt",
        &["rdb", "dump", "--hex=file", "book-small.rdb"],
        0,
    ),
    snip(
        "ch06-layout.txt",
        &["rdb", "dump", "--layout", "book-small.rdb"],
        0,
    ),
    snip(
        "ch06-json.txt",
        &["rdb", "dump", "--format", "json", "book-small.rdb"],
        0,
    ),
    piped(
        "ch06-resp.txt",
        &["rdb", "dump", "--format", "resp", "book-small.rdb"],
        Pipe::CatV,
    ),
    snip("ch06-check.txt", &["rdb", "check", "book-small.rdb"], 0),
    snip(
        "ch06-check-truncated.txt",
        &["rdb", "check", "truncated.rdb"],
        1,
    ),
    snip(
        "ch06-check-flipped.txt",
        &["rdb", "check", "flipped.rdb"],
        1,
    ),
    snip(
        "ch06-dump-truncated.txt",
        &["rdb", "dump", "truncated.rdb"],
        1,
    ),
    snip(
        "ch06-try-key.txt",
        &[
            "rdb",
            "dump",
            "--layout",
            "--key",
            "^greeting$",
            "book-small.rdb",
        ],
        0,
    ),
    snip("ch06-try-bad-crc.txt", &["rdb", "check", "bad-crc.rdb"], 1),
    snip("ch06-try-no-crc.txt", &["rdb", "check", "no-crc.rdb"], 1),
    // (the log files of the live run are listed in LIVE_LOGS)
    // Chapter 3: the handshake.
    piped(
        "ch03-handshake.txt",
        &["tap", "replay", "disk-sync.capture"],
        Pipe::Head(7),
    ),
    piped(
        "ch03-hex.txt",
        &["tap", "replay", "--hex", "disk-sync.capture"],
        Pipe::Sed("handshake", "PSYNC"),
    ),
    piped(
        "ch03-auth.txt",
        &["tap", "replay", "auth.capture"],
        Pipe::Sed("conn 1", "conn 2 · PSYNC"),
    ),
    piped(
        "ch03-auth-hex.txt",
        &["tap", "replay", "--hex", "auth.capture"],
        Pipe::Grep(3, &["\"AUTH\""]),
    ),
    // Chapter 4: PSYNC and replication IDs.
    piped(
        "ch04-fresh.txt",
        &["tap", "replay", "disk-sync.capture"],
        Pipe::Sed("PSYNC", "FULLRESYNC"),
    ),
    piped(
        "ch04-partial.txt",
        &["tap", "replay", "partial-resync.capture"],
        Pipe::Sed("command stream", "$"),
    ),
    piped(
        "ch04-continue-hex.txt",
        &["tap", "replay", "--hex", "partial-resync.capture"],
        Pipe::Grep(5, &["CONTINUE"]),
    ),
    piped(
        "ch04-overflow.txt",
        &["tap", "replay", "backlog-overflow.capture"],
        Pipe::Grep(
            0,
            &["PSYNC", "FULLRESYNC", "closed", "repl-offset", "SELECT"],
        ),
    ),
    piped(
        "ch04-own-id.txt",
        &["tap", "replay", "chain-top.capture"],
        Pipe::Sed("PSYNC", "FULLRESYNC"),
    ),
    // Chapter 5: full resync.
    piped(
        "ch05-disk.txt",
        &["tap", "replay", "disk-sync.capture"],
        Pipe::Sed("PSYNC", "SELECT"),
    ),
    piped(
        "ch05-disk-hex.txt",
        &["tap", "replay", "--hex", "disk-sync.capture"],
        Pipe::Grep(3, &["disk-based", "end of transfer"]),
    ),
    piped(
        "ch05-diskless.txt",
        &["tap", "replay", "diskless-sync.capture"],
        Pipe::Sed("RDB transfer", "SELECT"),
    ),
    piped(
        "ch05-diskless-hex.txt",
        &["tap", "replay", "--hex", "diskless-sync.capture"],
        Pipe::Grep(4, &["diskless transfer", "end of transfer"]),
    ),
    piped(
        "ch05-keepalives.txt",
        &["tap", "replay", "--show-keepalives", "keepalives.capture"],
        Pipe::Sed("PSYNC", "SELECT"),
    ),
    piped(
        "ch05-delay.txt",
        &[
            "tap",
            "replay",
            "--show-keepalives",
            "diskless-delay.capture",
        ],
        Pipe::Sed("PSYNC", "diskless transfer"),
    ),
    piped(
        "ch05-buffered.txt",
        &[
            "tap",
            "replay",
            "--show-keepalives",
            "buffered-writes.capture",
        ],
        Pipe::Sed("PSYNC", "INCR"),
    ),
    Snippet {
        name: "ch05-mermaid.txt",
        args: &["tap", "replay", "--mermaid", "diskless-sync.capture"],
        pipe: Pipe::None,
        status: 0,
        prompt: false,
    },
    // Chapter 9: partial resync and the backlog.
    piped(
        "ch09-cut.txt",
        &["tap", "replay", "tap-cut.capture"],
        Pipe::Sed("command stream", "$"),
    ),
    piped(
        "ch09-cut-json.txt",
        &["tap", "replay", "--json", "tap-cut.capture"],
        Pipe::Grep(0, &["\"cut\""]),
    ),
    piped(
        "ch09-partial.txt",
        &["tap", "replay", "partial-resync.capture"],
        Pipe::Grep(0, &["ACK", "PSYNC", "CONTINUE", "closed"]),
    ),
    piped(
        "ch09-overflow.txt",
        &["tap", "replay", "backlog-overflow.capture"],
        Pipe::Sed("conn 2 · PSYNC", "SELECT"),
    ),
    // Chapter 12: the AOF.
    snip(
        "ch12-aof-incr.txt",
        &["aof", "dump", "appendonlydir/appendonly.aof.1.incr.aof"],
        0,
    ),
    snip("ch12-aof-dump.txt", &["aof", "dump", "before-rewrite"], 0),
    snip(
        "ch12-aof-rewrite.txt",
        &[
            "aof",
            "rewrite",
            "appendonlydir",
            "--out",
            "rewritten",
            "--preamble",
            "no",
        ],
        0,
    ),
    snip("ch12-aof-rewritten.txt", &["aof", "dump", "rewritten"], 0),
    piped(
        "ch12-aof-history.txt",
        &["aof", "dump", "preamble"],
        Pipe::Head(6),
    ),
    snip("ch12-aof-check.txt", &["aof", "check", "truncated"], 1),
    snip("ch12-aof-fix.txt", &["aof", "check", "--fix", "crashed"], 0),
    piped(
        "ch12-aof-fixed.txt",
        &["aof", "dump", "crashed"],
        Pipe::Sed("incr, seq 2", "$"),
    ),
    // Appendix: a RESP reference.
    snip(
        "appendix-resp-session.txt",
        &["tap", "replay", "--hex", "client.capture"],
        0,
    ),
    // Chapter 7: propagation and offsets.
    piped(
        "ch07-stream.txt",
        &["tap", "replay", "disk-sync.capture"],
        Pipe::Sed("command stream", "GETACK"),
    ),
    piped(
        "ch07-getack.txt",
        &[
            "tap",
            "replay",
            "--quiet-pings",
            "--hex",
            "disk-sync.capture",
        ],
        Pipe::Grep(3, &["GETACK", "lag 37"]),
    ),
    // Chapter 8: ACKs, lag and WAIT.
    piped(
        "ch08-acks.txt",
        &["tap", "replay", "disk-sync.capture"],
        Pipe::Grep(0, &["ACK", "ping"]),
    ),
    piped(
        "ch08-diskless-ack.txt",
        &["tap", "replay", "diskless-sync.capture"],
        Pipe::Sed("end of transfer", "SELECT"),
    ),
];

/// How the command looks at a shell prompt: arguments with shell metacharacters quoted.
fn shown(s: &Snippet) -> String {
    let mut line = String::from("$ rtool");
    for a in s.args {
        line.push(' ');
        if a.chars().any(|c| "^$*?[]'\" |&;<>()".contains(c)) {
            line.push_str(&format!("'{a}'"));
        } else {
            line.push_str(a);
        }
    }
    match s.pipe {
        Pipe::None => {}
        Pipe::CatV => line.push_str(" | cat -v"),
        Pipe::Head(n) => line.push_str(&format!(" | head -n {n}")),
        Pipe::Sed(from, to) => {
            let to = if to == "$" {
                "$".to_string()
            } else {
                format!("/{to}/")
            };
            line.push_str(&format!(" | sed -n '/{from}/,{to}p'"));
        }
        Pipe::Grep(after, pats) => {
            line.push_str(" | grep");
            if after > 0 {
                line.push_str(&format!(" -A {after}"));
            }
            for p in pats {
                line.push_str(&format!(" -e '{p}'"));
            }
        }
    }
    line
}

/// The patterns the book hands to sed and grep are plain text, so that matching a substring
/// here is what the real tools do with them.
fn plain(pattern: &str) -> &str {
    assert!(
        !pattern.chars().any(|c| r".[]*^$\/+?(){}|'".contains(c)),
        "pattern {pattern:?} would mean something else to sed/grep"
    );
    pattern
}

/// The pipe, done the way the shell tool does it.
fn apply(pipe: Pipe, text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let keep: Vec<String> = match pipe {
        Pipe::None => return text.to_string(),
        Pipe::CatV => return text.replace('\r', "^M"),
        Pipe::Head(n) => lines.iter().take(n).map(|l| l.to_string()).collect(),
        Pipe::Sed(from, to) => {
            // sed's range: from a line matching FROM through the next later line matching TO,
            // then look for FROM again.
            let (from, to_end) = (plain(from), to == "$");
            let mut out = Vec::new();
            let mut inside = false;
            for l in &lines {
                if inside {
                    out.push(l.to_string());
                    if !to_end && l.contains(plain(to)) {
                        inside = false;
                    }
                } else if l.contains(from) {
                    out.push(l.to_string());
                    inside = true;
                }
            }
            out
        }
        Pipe::Grep(after, pats) => {
            // grep -A: each match and the N lines after it; `--` between groups that do not
            // touch.
            let mut out = Vec::new();
            let mut last: Option<usize> = None;
            let mut until = 0;
            for (i, l) in lines.iter().enumerate() {
                if pats.iter().any(|p| l.contains(plain(p))) {
                    if after > 0 && last.is_some_and(|e| i > e + 1) {
                        out.push("--".to_string());
                    }
                    until = i + after;
                    out.push(l.to_string());
                    last = Some(i);
                } else if last.is_some() && i <= until {
                    out.push(l.to_string());
                    last = Some(i);
                }
            }
            out
        }
    };
    let mut s = keep.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

/// Runs one snippet the way a reader would (no terminal, so no colour; NO_COLOR to be sure)
/// and returns the text the book shows: the prompt line, stdout, then stderr.
fn run(dir: &Path, s: &Snippet) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(s.args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    let mut text = String::new();
    if s.prompt {
        text.push_str(&shown(s));
        text.push('\n');
    }
    text.push_str(&apply(s.pipe, &String::from_utf8_lossy(&out.stdout)));
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (text, out.status.code().unwrap_or(-1))
}

fn generated_dir() -> PathBuf {
    root().join("book/src/generated")
}

/// Runs every snippet once per test process; the tests below share the outputs. Once, also
/// because the tests run in parallel: two of them rewriting the scratch files while a third
/// one's rtool reads them would make a flaky test.
fn outputs() -> &'static [(&'static Snippet, String)] {
    static OUTPUTS: OnceLock<Vec<(&'static Snippet, String)>> = OnceLock::new();
    OUTPUTS.get_or_init(|| {
        let dir = scratch();
        SNIPPETS
            .iter()
            .map(|s| {
                let (text, status) = run(&dir, s);
                assert_eq!(status, s.status, "{}: exit status\n{text}", s.name);
                (s, text)
            })
            .collect()
    })
}

fn output(name: &str) -> &'static str {
    &outputs().iter().find(|(s, _)| s.name == name).unwrap().1
}

#[test]
fn generated_outputs_are_current() {
    let gen_dir = generated_dir();
    let update = std::env::var_os("UPDATE_BOOK").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (s, text) in outputs() {
        let path = gen_dir.join(s.name);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if update {
            std::fs::create_dir_all(&gen_dir).unwrap();
            std::fs::write(&path, text).unwrap();
        } else {
            stale.push(s.name);
        }
    }
    // Files nobody generates any more would be included by nothing, or worse, by a chapter
    // that now shows output no test holds.
    for entry in std::fs::read_dir(&gen_dir).unwrap() {
        let entry = entry.unwrap();
        // Subdirectories have their own owners (lessons/: tests/lessons.rs).
        if entry.path().is_dir() {
            continue;
        }
        let name = entry.file_name().into_string().unwrap();
        if !SNIPPETS.iter().any(|s| s.name == name) && !LIVE_LOGS.contains(&name.as_str()) {
            if update {
                std::fs::remove_file(gen_dir.join(&name)).unwrap();
            } else {
                stale.push(Box::leak(name.into_boxed_str()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale files in book/src/generated/: {stale:?}\n\
         rerun with UPDATE_BOOK=1 cargo test --test book, and re-read the chapters that include them"
    );
}

/// Every `.md` file under book/src, with its text.
fn chapters() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("book/src")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                let text = std::fs::read_to_string(&p).unwrap();
                out.push((p, text));
            }
        }
    }
    out
}

#[test]
fn every_include_target_exists() {
    let mut count = 0;
    for (path, text) in chapters() {
        for piece in text.split("{{#include ").skip(1) {
            let target = piece.split("}}").next().unwrap().trim();
            // `file:anchor` or `file:1:10` select part of a file; the file is what must exist.
            let file = target.split(':').next().unwrap();
            let full = path.parent().unwrap().join(file);
            assert!(
                full.is_file(),
                "{}: includes {file}, which does not exist",
                path.display()
            );
            count += 1;
        }
    }
    assert!(count >= SNIPPETS.len(), "only {count} includes found");
}

#[test]
fn summary_entries_exist() {
    let src = root().join("book/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    let mut linked = 0;
    for line in summary.lines() {
        let Some(open) = line.find("](") else {
            continue;
        };
        let target = &line[open + 2..line.rfind(')').unwrap()];
        // `[Title]()` is a draft chapter: listed, not yet written.
        if target.is_empty() {
            continue;
        }
        assert!(
            src.join(target).is_file(),
            "SUMMARY.md links {target}, which does not exist"
        );
        linked += 1;
    }
    assert!(linked >= 3, "only {linked} written pages in SUMMARY.md");
    let toml = std::fs::read_to_string(root().join("book/book.toml")).unwrap();
    assert!(toml.contains("rtool: Redis replication, byte by byte"));
}

/// What chapter 6 says about its fixture and its damaged copies, checked against the output.
#[test]
fn chapter_6_claims() {
    let layout = output("ch06-layout.txt");
    for opcode in [
        "AUX",
        "SELECTDB",
        "RESIZEDB",
        "EXPIRETIME_MS",
        "set-intset (RDB type 11)",
        "hash-listpack (RDB type 16)",
        "EOF",
        "CRC-64",
    ] {
        assert!(layout.contains(opcode), "layout lacks {opcode}");
    }
    // "Where it breaks": rtool names the offset where the input ended and the key it was in.
    let trunc = output("ch06-check-truncated.txt");
    assert!(trunc.contains("[offset 150] unexpected end of input"));
    assert!(trunc.contains("Reading key 'user:1'"));
    let flipped = output("ch06-check-flipped.txt");
    assert!(flipped.contains("wrong RDB checksum"));
    assert!(flipped.contains("[info] 3 keys read"));
}

/// The outcomes chapter 6's "Try this" promises.
#[test]
fn chapter_6_try_this() {
    // 1. --key keeps one key: its expiry opcode comes along, the other keys do not.
    let key = output("ch06-try-key.txt");
    assert!(key.contains("EXPIRETIME_MS"));
    assert!(key.contains("\"greeting\""));
    assert!(!key.contains("primes") && !key.contains("user:1"));
    // 2. A damaged checksum with intact data: every key is read, the file is still refused.
    let crc = output("ch06-try-bad-crc.txt");
    assert!(crc.contains("wrong RDB checksum"));
    assert!(crc.contains("[info] 3 keys read"));
    // 3. The EOF opcode without the 8 checksum bytes after it: an RDB 10 file must have them.
    let no_crc = output("ch06-try-no-crc.txt");
    assert!(no_crc.contains("[offset 173] unexpected end of input"));
    assert!(no_crc.contains("While doing: check-sum"));
}

/// The chapter puts Redis's redis-check-rdb output (made by fixtures/gen/book_rdb.py) next
/// to rtool's; both must be about the same file, so every line Redis prints for the intact
/// file appears in rtool's report too.
#[test]
fn redis_words_match_the_fixture() {
    let ours = output("ch06-check.txt");
    let redis =
        std::fs::read_to_string(root().join("fixtures/book/redis-check-rdb.book-small.txt"))
            .unwrap();
    for line in redis.lines() {
        assert!(
            ours.contains(line),
            "rtool's check lacks Redis's line {line:?}"
        );
    }
}

/// Redis's words on the damaged copies (made by fixtures/gen/book_rdb.py) must be about the
/// same bytes as rtool's: the records before the damage read the same in both.
#[test]
fn redis_words_on_damaged_copies_match() {
    for (ours, theirs) in [
        ("ch06-check-truncated.txt", "truncated"),
        ("ch06-check-flipped.txt", "flipped"),
    ] {
        let ours = output(ours);
        let path = root().join(format!("fixtures/book/redis-check-rdb.{theirs}.txt"));
        let redis = std::fs::read_to_string(path).unwrap();
        for line in redis.lines() {
            if line.contains("AUX FIELD") || line.contains("Checking RDB file") {
                assert!(ours.contains(line), "{theirs}: rtool lacks {line:?}");
            }
        }
        assert!(redis.contains("--- RDB ERROR DETECTED ---"));
    }
}

// ---------------------------------------------------------------------------------------------
// The log lines appendix: one live run of each server
// ---------------------------------------------------------------------------------------------

/// The logs the appendix (and chapters 3-5) show: a master and a replica, a full sync, a
/// write and WAIT, then a failover by hand (the replica is promoted, the old master follows
/// it with a partial resync through the new master's secondary ID). Real Redis and rtool run
/// the same script; each log is cut to the lines after "Ready to accept connections" and the
/// parts that vary per run are replaced (see [`normalise_log`]).
const LIVE_LOGS: &[&str] = &[
    "logs-redis-master.txt",
    "logs-redis-replica.txt",
    "logs-rtool-master.txt",
    "logs-rtool-replica.txt",
];

/// `pid:R dd Mon yyyy hh:mm:ss.mmm L message` becomes `R L message`, and the values that
/// change on every run become names: replication IDs `<id1>`, `<id2>`... in the order they
/// first appear, the two ports `<port A>` (the first master) and `<port B>` (the first
/// replica), pids, client descriptions, durations and memory sizes.
fn normalise_log(text: &str, ports: (u16, u16), ids: &mut Vec<String>) -> String {
    let line_re = regex::Regex::new(r"^\d+:([CMSX]) \d+ \w+ \d+ [\d:.]+ (.) (.*)$").unwrap();
    let id_re = regex::Regex::new(r"\b[0-9a-f]{40}\b").unwrap();
    let subs: [(&str, &str); 7] = [
        (r"'id=[^']*'", "'<client>'"),
        (r"pid \d+", "pid <pid>"),
        (r"\d+ MB", "<n> MB"),
        (r"\d+\.\d+ seconds", "<t> seconds"),
        (r"\d+ microseconds", "<t> microseconds"),
        (r"\d+\.\d+ Mb", "<n> Mb"),
        (r"RDB age \d+ seconds", "RDB age <t> seconds"),
    ];
    let mut out = String::new();
    // The start-up banner ends with "Server initialized"; a replica may log "Connecting to
    // MASTER" before or after "Ready to accept connections", so that one line is dropped
    // alone.
    let mut started = false;
    for line in text.lines() {
        let Some(c) = line_re.captures(line) else {
            continue;
        };
        let msg = &c[3];
        if !started {
            started = msg == "Server initialized";
            continue;
        }
        if msg.starts_with("Ready to accept connections") || msg.starts_with("WARNING ") {
            continue;
        }
        let mut msg = id_re
            .replace_all(msg, |m: &regex::Captures| {
                let id = m[0].to_string();
                if id.bytes().all(|b| b == b'0') {
                    return id;
                }
                let n = match ids.iter().position(|x| *x == id) {
                    Some(i) => i + 1,
                    None => {
                        ids.push(id);
                        ids.len()
                    }
                };
                format!("<id{n}>")
            })
            .into_owned();
        msg = msg
            .replace(&format!(":{}", ports.0), ":<port A>")
            .replace(&format!(":{}", ports.1), ":<port B>")
            .replace(&format!("port={}", ports.1), "port=<port B>");
        for (re, to) in subs {
            msg = regex::Regex::new(re)
                .unwrap()
                .replace_all(&msg, to)
                .into_owned();
        }
        out.push_str(&format!("{} {} {msg}\n", &c[1], &c[2]));
    }
    out
}

/// Polls INFO replication until `field:value` shows up.
fn wait_info(s: &Server, field: &str, value: &str) {
    let want = format!("{field}:{value}\r\n");
    let ok = util::wait_for(Duration::from_secs(30), || {
        s.conn().call_str(&["INFO", "replication"]).contains(&want)
    });
    assert!(ok, "{:?} on port {}: no {want:?}", s.kind, s.port);
}

/// The script: full sync, a write and WAIT, promote the replica, the old master follows it.
/// Returns the two logs, normalised.
fn failover_logs(kind: Kind) -> (String, String) {
    let common = [
        "--repl-diskless-sync",
        "no",
        "--repl-ping-replica-period",
        "3600",
    ];
    let a = Server::start(kind, &common);
    let port_a = a.port.to_string();
    let mut extra = common.to_vec();
    extra.extend(["--replicaof", "127.0.0.1", &port_a]);
    let b = Server::start(kind, &extra);
    wait_info(&b, "master_link_status", "up");
    let mut ca = a.conn();
    assert_eq!(ca.call_str(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(ca.call_str(&["WAIT", "1", "5000"]), ":1\r\n");
    // The failover by hand: B stops following A and becomes a master with a new ID (the old
    // one kept as its secondary ID); A then follows B and continues from B's backlog.
    let mut cb = b.conn();
    assert_eq!(cb.call_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    wait_info(&b, "role", "master");
    let port_b = b.port.to_string();
    assert_eq!(ca.call_str(&["REPLICAOF", "127.0.0.1", &port_b]), "+OK\r\n");
    wait_info(&a, "master_link_status", "up");
    assert_eq!(cb.call_str(&["SET", "k2", "v2"]), "+OK\r\n");
    assert_eq!(cb.call_str(&["WAIT", "1", "5000"]), ":1\r\n");
    // The logs are complete once A says its sync is over, partial or full (Redis writes
    // that line after the link is up). A was a master before, so neither line can be an
    // old one.
    let done = util::wait_for(Duration::from_secs(10), || {
        let t = a.log_text();
        t.contains("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
            || t.contains("MASTER <-> REPLICA sync: Finished with success")
    });
    assert!(
        done,
        "{kind:?}: the old master's log never said its sync ended:\n{}\n---\n{}",
        a.log_text(),
        b.log_text()
    );
    let mut ids = Vec::new();
    let la = normalise_log(&a.log_text(), (a.port, b.port), &mut ids);
    let lb = normalise_log(&b.log_text(), (a.port, b.port), &mut ids);
    (la, lb)
}

/// The lines two runs of a server share, as a sorted list: a log's order between a parent
/// and its forked child (or between cron and replies) is not fixed from run to run, so the
/// drift check compares the lines, not their order.
fn sorted_lines(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = text.lines().collect();
    v.sort_unstable();
    v
}

/// Writes (UPDATE_BOOK=1) or checks one server kind's two log files.
fn check_logs(kind: Kind, prefix: &str) -> (String, String) {
    let (master, replica) = failover_logs(kind);
    let update = std::env::var_os("UPDATE_BOOK").is_some_and(|v| v == "1");
    for (suffix, text) in [("master", &master), ("replica", &replica)] {
        let name = format!("logs-{prefix}-{suffix}.txt");
        assert!(LIVE_LOGS.contains(&name.as_str()));
        let path = generated_dir().join(&name);
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        if update {
            if sorted_lines(&old) != sorted_lines(text) {
                std::fs::write(&path, text).unwrap();
            }
        } else {
            assert_eq!(
                sorted_lines(&old),
                sorted_lines(text),
                "{name} is stale: rerun with UPDATE_BOOK=1 cargo test --test book"
            );
        }
    }
    (master, replica)
}

/// The lines the book quotes from Redis's log, which rtool's log must have too.
const SHARED_LOG_LINES: &[&str] = &[
    "Connecting to MASTER 127.0.0.1:<port A>",
    "MASTER <-> REPLICA sync started",
    "Master replied to PING, replication can continue...",
    "Partial resynchronization not possible (no cached master)",
    "Full resync from master: <id1>:0",
    "MASTER <-> REPLICA sync: Flushing old data",
    "MASTER <-> REPLICA sync: Loading DB in memory",
    "MASTER <-> REPLICA sync: Finished with success",
    "Trying a partial resynchronization (request <id1>:",
    "Setting secondary replication ID to <id1>, valid up to offset: ",
    "Full resync requested by replica 127.0.0.1:<port B>",
    "Starting BGSAVE for SYNC with target: disk",
    "Background saving terminated with success",
    "Synchronization with replica 127.0.0.1:<port B> succeeded",
];

/// The failover's partial resync through the secondary ID (chapter 4): both servers' promoted
/// replica keeps a backlog and answers +CONTINUE (chapter 4 and the appendix say so).
const FAILOVER_LINES: &[&str] = &[
    "Successful partial resynchronization with master.",
    "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.",
    "accepted. Sending 0 bytes of backlog starting from offset",
];

#[test]
fn redis_logs_are_current() {
    if !util::have_redis() {
        return;
    }
    let (m, r) = check_logs(Kind::Redis, "redis");
    let both = format!("{m}{r}");
    for line in SHARED_LOG_LINES.iter().chain(FAILOVER_LINES) {
        assert!(both.contains(line), "Redis's log lacks {line:?}");
    }
}

#[test]
fn rtool_logs_are_current() {
    let (m, r) = check_logs(Kind::Rtool, "rtool");
    let both = format!("{m}{r}");
    for line in SHARED_LOG_LINES.iter().chain(FAILOVER_LINES) {
        assert!(both.contains(line), "rtool's log lacks {line:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// "Try this" of chapters 1, 3, 4, 5, 7, 8 and 12
// ---------------------------------------------------------------------------------------------

/// The server kinds a live "Try this" runs on: rtool always, real Redis when installed (it is
/// on CI, where its absence fails the run).
fn kinds() -> Vec<Kind> {
    let mut v = vec![Kind::Rtool];
    if util::have_redis() {
        v.push(Kind::Redis);
    }
    v
}

/// A master and a replica of the same kind, with the replica's link up.
fn pair(kind: Kind, master_extra: &[&str]) -> (Server, Server) {
    let m = Server::start(kind, master_extra);
    let port = m.port.to_string();
    let r = Server::start(kind, &["--replicaof", "127.0.0.1", &port]);
    wait_info(&r, "master_link_status", "up");
    (m, r)
}

/// Chapter 1: a replica refuses its clients' writes.
#[test]
fn chapter_1_try_this() {
    for kind in kinds() {
        let (_m, r) = pair(kind, &[]);
        assert_eq!(
            r.conn().call_str(&["SET", "k", "v"]),
            "-READONLY You can't write against a read only replica.\r\n",
            "{kind:?}"
        );
        assert!(
            r.conn()
                .call_str(&["INFO", "replication"])
                .contains("role:slave\r\n")
        );
    }
}

/// Chapter 3: the byte counts of the handshake; a wrong masterauth, then the right one.
#[test]
fn chapter_3_try_this() {
    let hex = output("ch03-hex.txt");
    assert!(hex.contains("64+59    \"REPLCONF\" \"capa\" \"eof\" \"capa\" \"psync2\""));
    assert!(output("ch04-fresh.txt").contains("123+30    \"PSYNC\" \"?\" \"-1\""));
    for kind in kinds() {
        let m = Server::start(kind, &["--requirepass", "s3cret"]);
        let port = m.port.to_string();
        let r = Server::start(
            kind,
            &["--replicaof", "127.0.0.1", &port, "--masterauth", "wrong"],
        );
        let line = "Unable to AUTH to MASTER: -WRONGPASS invalid username-password pair or user \
                    is disabled.";
        let logged = util::wait_for(Duration::from_secs(10), || r.log_text().contains(line));
        assert!(logged, "{kind:?}: no {line:?} in\n{}", r.log_text());
        wait_info(&r, "master_link_status", "down");
        assert_eq!(
            r.conn()
                .call_str(&["CONFIG", "SET", "masterauth", "s3cret"]),
            "+OK\r\n"
        );
        wait_info(&r, "master_link_status", "up");
    }
}

/// The 40-hex ID of a `+FULLRESYNC <id> <offset>` or `+CONTINUE <id>` line.
fn reply_id(line: &str) -> &str {
    let at = line.find('+').unwrap();
    line[at..].split_whitespace().nth(1).unwrap()
}

/// Chapter 4: the offsets of a cut and of a backlog overflow.
#[test]
fn chapter_4_try_this() {
    let partial = output("ch04-partial.txt");
    assert!(partial.contains("\"REPLCONF\" \"ACK\" \"78\""));
    assert!(partial.contains("\"PSYNC\" \"cabcdea8615dbb69f6d699c9e5053066d3f6f46a\" \"79\""));
    let after = partial.split("+CONTINUE").nth(1).unwrap();
    let first = after.lines().find(|l| l.contains(" repl ")).unwrap();
    assert!(
        first.contains("repl 78+34  \"SET\" \"during\" \"cut\""),
        "{first}"
    );
    assert!(!after.contains("\"SELECT\""), "no SELECT after +CONTINUE");

    let overflow = output("ch04-overflow.txt");
    let full: Vec<&str> = overflow
        .lines()
        .filter(|l| l.contains("+FULLRESYNC"))
        .collect();
    assert_eq!(full.len(), 2);
    assert_eq!(reply_id(full[0]), reply_id(full[1]), "the same history");
    assert!(full[1].contains(" 64329  "));
    assert!(overflow.contains("aux \"repl-offset\" = \"64329\""));
    assert!(overflow.contains("repl 64329+23  \"SELECT\" \"0\""));
    // The failover by hand (3) is the script of `redis_logs_are_current`.
    let b = std::fs::read_to_string(generated_dir().join("logs-redis-master.txt")).unwrap();
    assert!(b.contains("Trying a partial resynchronization (request <id1>:"));
    assert!(b.contains("Successful partial resynchronization with master."));
}

/// Chapter 5: the transfer's byte counts, the first ACK, keepalives outside the offset.
#[test]
fn chapter_5_try_this() {
    let disk = output("ch05-disk.txt");
    assert!(disk.contains("17+56    +FULLRESYNC"));
    assert!(disk.contains("73+6     $441"));
    assert!(disk.contains("520+23    repl 0+23  \"SELECT\" \"0\""));
    assert_eq!(17 + 56 + 6 + 441, 520);
    let hex = output("ch05-disk-hex.txt");
    assert!(hex.contains("00000208  2a 32 0d 0a 24 36 0d 0a 53 45 4c 45 43 54"));

    let diskless = output("ch05-diskless.txt");
    let ack = diskless.find("\"REPLCONF\" \"ACK\" \"0\"").unwrap();
    let select = diskless.find("\"SELECT\"").unwrap();
    assert!(ack < select, "the first ACK comes before the first command");

    let keep = output("ch05-keepalives.txt");
    assert_eq!(keep.matches("keepalive \\n").count(), 4);
    assert!(keep.contains("repl 0+23  \"SELECT\" \"0\""));
    // 4. The writes made during the BGSAVE: not among the snapshot's keys, first in the stream.
    let buffered = output("ch05-buffered.txt");
    assert!(buffered.contains("+FULLRESYNC") && buffered.contains(" 0  full resynchronization"));
    assert!(buffered.contains("db0: hash=1 list=1 set=2 stream=1 string=4 zset=1"));
    assert!(buffered.contains("11 keys"));
    assert!(buffered.contains("repl 23+37  \"SET\" \"during\" \"bgsave\""));
    assert!(buffered.contains("repl 60+27  \"INCR\" \"counter\""));
    let delay = output("ch05-delay.txt");
    let nl = delay.find("keepalive \\n").unwrap();
    assert!(
        nl < delay.find("+FULLRESYNC").unwrap(),
        "newlines before +FULLRESYNC"
    );
}

/// Chapter 5, "Try this" 5: the two ways to send a snapshot, as each master and replica log
/// them. The diskless one keeps the default delay (5 s), as the chapter says.
#[test]
fn chapter_5_try_this_live() {
    for kind in kinds() {
        for (extra, master_says, replica_says) in [
            (
                &[][..],
                &[
                    "Delay next BGSAVE for diskless SYNC",
                    "Starting BGSAVE for SYNC with target: replicas sockets",
                ][..],
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk",
            ),
            (
                &["--repl-diskless-sync", "no"][..],
                &["Starting BGSAVE for SYNC with target: disk"][..],
                "MASTER <-> REPLICA sync: receiving 172 bytes from master to disk",
            ),
        ] {
            let (m, r) = pair(kind, extra);
            let log = m.log_text();
            for line in master_says {
                assert!(
                    log.contains(line),
                    "{kind:?} {extra:?}: no {line:?} in\n{log}"
                );
            }
            let log = r.log_text();
            assert!(
                log.contains(replica_says),
                "{kind:?} {extra:?}: no {replica_says:?} in\n{log}"
            );
        }
    }
}

/// Chapter 7: the offsets add up; the GETACK is 37 bytes and answered with the offset before
/// it; a relative TTL travels as PXAT, on both servers.
#[test]
fn chapter_7_try_this() {
    let re = regex::Regex::new(r" repl (\d+)\+(\d+) ").unwrap();
    let stream = output("ch07-stream.txt");
    let mut next = 0;
    let mut last = "";
    for line in stream.lines() {
        if let Some(c) = re.captures(line) {
            let (start, len): (u64, u64) = (c[1].parse().unwrap(), c[2].parse().unwrap());
            assert_eq!(start, next, "{line}");
            next = start + len;
            last = line;
        }
    }
    assert!(
        last.contains("repl 4335+37  \"REPLCONF\" \"GETACK\" \"*\""),
        "{last}"
    );
    assert_eq!(
        b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n".len(),
        37
    );
    let getack = output("ch07-getack.txt");
    assert!(getack.contains("\"REPLCONF\" \"ACK\" \"4335\"  (lag 37 bytes)"));
    assert!(output("ch08-acks.txt").contains("\"REPLCONF\" \"ACK\" \"4386\"  (lag 0 bytes)"));

    for kind in kinds() {
        let m = Server::start(kind, &[]);
        let mut link = util::repl::attach_replica(m.port);
        let mut c = m.conn();
        assert_eq!(c.call_str(&["SET", "k", "v", "EX", "100"]), "+OK\r\n");
        c.call_str(&["SET", "marker", "1"]);
        let text = util::repl::normalize(link.read_until("marker"));
        assert!(
            text.contains("SET $1 k $1 v $4 PXAT $13 <ms>"),
            "{kind:?}: {text}"
        );
    }
}

/// Chapter 8: WAIT and min-replicas-to-write, alone and with a replica.
#[test]
fn chapter_8_try_this() {
    for kind in kinds() {
        let m = Server::start(kind, &[]);
        let mut c = m.conn();
        let t = std::time::Instant::now();
        assert_eq!(c.call_str(&["WAIT", "1", "100"]), ":0\r\n", "{kind:?}");
        assert!(
            t.elapsed() >= Duration::from_millis(90),
            "{kind:?}: WAIT timed out early"
        );
        assert_eq!(c.call_str(&["WAIT", "0", "0"]), ":0\r\n");
        c.call_str(&["CONFIG", "SET", "min-replicas-to-write", "1"]);
        assert_eq!(
            c.call_str(&["SET", "k", "v"]),
            "-NOREPLICAS Not enough good replicas to write.\r\n",
            "{kind:?}"
        );
        assert_eq!(c.call_str(&["GET", "k"]), "$-1\r\n");

        let port = m.port.to_string();
        let r = Server::start(kind, &["--replicaof", "127.0.0.1", &port]);
        wait_info(&r, "master_link_status", "up");
        // "Good" needs an ACK the master has seen; the replica sends one every second.
        let ok = util::wait_for(Duration::from_secs(10), || {
            c.call_str(&["SET", "k", "v"]) == "+OK\r\n"
        });
        assert!(ok, "{kind:?}: SET still refused with a replica online");
        assert_eq!(c.call_str(&["WAIT", "1", "1000"]), ":1\r\n", "{kind:?}");
        let info = c.call_str(&["INFO", "replication"]);
        let slave0 = info
            .lines()
            .find(|l| l.starts_with("slave0:"))
            .unwrap_or_else(|| panic!("{kind:?}: {info}"));
        assert!(slave0.contains("state=online"), "{slave0}");
        assert!(
            slave0.ends_with("lag=0") || slave0.ends_with("lag=1"),
            "{slave0}"
        );
    }
}

/// Chapter 12: a save point fires, BGSAVE by hand, and the file reads back.
#[test]
fn chapter_12_try_this() {
    for kind in kinds() {
        let s = Server::start(kind, &["--save", "1 1"]);
        let mut c = s.conn();
        assert_eq!(c.call_str(&["SET", "saved", "yes"]), "+OK\r\n");
        let dump = s.dir.path().join("dump.rdb");
        let saved = util::wait_for(Duration::from_secs(10), || {
            let log = s.log_text();
            dump.is_file()
                && log.contains("1 changes in 1 seconds. Saving...")
                && log.contains("Background saving terminated with success")
        });
        assert!(saved, "{kind:?}: no save point in\n{}", s.log_text());

        assert_eq!(c.call_str(&["SET", "more", "1"]), "+OK\r\n");
        assert_eq!(c.call_str(&["BGSAVE"]), "+Background saving started\r\n");
        let done = util::wait_for(Duration::from_secs(10), || {
            let info = c.call_str(&["INFO", "persistence"]);
            info.contains("rdb_bgsave_in_progress:0\r\n")
                && info.contains("rdb_changes_since_last_save:0\r\n")
        });
        assert!(done, "{kind:?}: BGSAVE did not finish");

        let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
            .args(["rdb", "check", dump.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{kind:?}: {out:?}");
        let dumped = Command::new(env!("CARGO_BIN_EXE_rtool"))
            .args(["rdb", "dump", dump.to_str().unwrap()])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&dumped.stdout);
        assert!(text.contains("saved") && text.contains("more"), "{text}");
    }
}

/// The files in a directory, sorted.
fn file_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// Chapter 12's AOF "Try this": seed 001's AOF, a rewrite (RDB and command bases), the
/// offline `aof rewrite` loaded by both servers, a torn tail loaded at start-up; `aof check`
/// before and after `--fix` (the generated outputs).
#[test]
fn chapter_12_aof_try_this() {
    for kind in kinds() {
        // 4. The layout and the manifest of a fresh AOF.
        let s = Server::start(kind, &["--appendonly", "yes"]);
        let mut c = s.conn();
        assert_eq!(c.call_str(&["set", "num", "123"]), "+OK\r\n");
        assert_eq!(c.call_str(&["set", "num", "666"]), "+OK\r\n");
        let aof = s.dir.path().join("appendonlydir");
        let incr = aof.join("appendonly.aof.1.incr.aof");
        let written = util::wait_for(Duration::from_secs(10), || {
            std::fs::metadata(&incr).is_ok_and(|m| m.len() == SEED_001_INCR)
        });
        assert!(written, "{kind:?}: no {SEED_001_INCR}-byte incr file");
        assert_eq!(
            file_names(&aof),
            [
                "appendonly.aof.1.base.rdb",
                "appendonly.aof.1.incr.aof",
                "appendonly.aof.manifest"
            ],
            "{kind:?}"
        );
        let manifest = aof.join("appendonly.aof.manifest");
        assert_eq!(
            std::fs::read_to_string(&manifest).unwrap(),
            "file appendonly.aof.1.base.rdb seq 1 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type i\n",
            "{kind:?}"
        );
        // 5. BGREWRITEAOF: a new base and incr file, the history removed.
        assert_eq!(
            c.call_str(&["BGREWRITEAOF"]),
            "+Background append only file rewriting started\r\n"
        );
        let done = util::wait_for(Duration::from_secs(10), || {
            s.log_text()
                .contains("Background AOF rewrite finished successfully")
        });
        assert!(done, "{kind:?}: no rewrite in\n{}", s.log_text());
        assert_eq!(
            std::fs::read_to_string(&manifest).unwrap(),
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n",
            "{kind:?}"
        );
        let gone = util::wait_for(Duration::from_secs(10), || {
            file_names(&aof)
                == [
                    "appendonly.aof.2.base.rdb",
                    "appendonly.aof.2.incr.aof",
                    "appendonly.aof.manifest",
                ]
        });
        assert!(gone, "{kind:?}: {:?}", file_names(&aof));
        let log = s.log_text();
        for line in [
            "Creating AOF incr file appendonly.aof.2.incr.aof on background rewrite",
            "Successfully renamed the temporary AOF base file",
            "Removing the history file appendonly.aof.1.incr.aof in the background",
        ] {
            assert!(log.contains(line), "{kind:?}: no {line:?} in\n{log}");
        }
        assert_eq!(
            std::fs::metadata(aof.join("appendonly.aof.2.incr.aof"))
                .unwrap()
                .len(),
            0
        );
        let base = Command::new(env!("CARGO_BIN_EXE_rtool"))
            .args(["rdb", "dump", "--format", "json"])
            .arg(aof.join("appendonly.aof.2.base.rdb"))
            .output()
            .unwrap();
        let base = String::from_utf8_lossy(&base.stdout);
        let keys: Vec<&str> = base.lines().filter(|l| l.contains("\"key\"")).collect();
        assert_eq!(keys.len(), 1, "{kind:?}: {base}");
        assert!(
            keys[0].contains("num") && keys[0].contains("666"),
            "{}",
            keys[0]
        );
        drop(c);
        drop(s);

        // 5, with a base of commands.
        let s = Server::start(
            kind,
            &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
        );
        let mut c = s.conn();
        c.call_str(&["set", "num", "123"]);
        c.call_str(&["set", "num", "666"]);
        c.call_str(&["BGREWRITEAOF"]);
        let base = s.dir.path().join("appendonlydir/appendonly.aof.2.base.aof");
        let want = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$3\r\nnum\r\n$3\r\n666\r\n";
        let ok = util::wait_for(Duration::from_secs(10), || {
            std::fs::read_to_string(&base).is_ok_and(|b| b == want)
        });
        assert!(ok, "{kind:?}: {:?}", std::fs::read_to_string(&base));
        drop(c);
        drop(s);

        // 7. A torn tail, loaded anyway.
        let dir = tempfile::tempdir().unwrap();
        copy_aof_dir(
            &root().join("fixtures/aof/truncated"),
            &dir.path().join("appendonlydir"),
        );
        let d = dir.path().to_str().unwrap();
        let s = Server::start(kind, &["--appendonly", "yes", "--dir", d]);
        assert_eq!(s.conn().call_str(&["DBSIZE"]), ":22\r\n", "{kind:?}");
        let log = s.log_text();
        assert!(
            log.contains("!!! Truncating the AOF appendonly.aof.2.incr.aof at offset 867 !!!"),
            "{kind:?}: {log}"
        );
        let incr = dir.path().join("appendonlydir/appendonly.aof.2.incr.aof");
        assert_eq!(std::fs::metadata(incr).unwrap().len(), 867, "{kind:?}");
    }
    // 6. The offline rewrite of seed 001's directory, and servers loading its result.
    let rw = output("ch12-aof-rewrite.txt");
    assert!(rw.contains("before             3 commands"), "{rw}");
    assert!(rw.contains("after              2 commands"), "{rw}");
    assert!(
        rw.contains("0   \"num\"  string         2         1"),
        "{rw}"
    );
    let dumped = output("ch12-aof-rewritten.txt");
    assert!(dumped.contains("23      31    0  SET num 666"), "{dumped}");
    for kind in kinds() {
        let dir = tempfile::tempdir().unwrap();
        let from = Path::new(env!("CARGO_TARGET_TMPDIR")).join("book/rewritten");
        copy_aof_dir(&from, &dir.path().join("rewritten"));
        let d = dir.path().to_str().unwrap();
        let s = Server::start(
            kind,
            &[
                "--appendonly",
                "yes",
                "--dir",
                d,
                "--appenddirname",
                "rewritten",
            ],
        );
        assert_eq!(
            s.conn().call_str(&["GET", "num"]),
            "$3\r\n666\r\n",
            "{kind:?}: {}",
            s.log_text()
        );
    }
    // 7, by hand: the generated outputs of `aof check` before and after `--fix`.
    assert!(output("ch12-aof-check.txt").contains("ok_up_to=867, ok_up_to_line=179, diff=30"));
    let fix = output("ch12-aof-fix.txt");
    assert!(fix.contains("Backup of the original: crashed/appendonly.aof.2.incr.aof.bak"));
    assert!(fix.ends_with("All AOF files and manifest are valid\n"));
    assert!(output("ch12-aof-fixed.txt").contains("(incr, seq 2), 867 bytes"));
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("book/crashed");
    assert_eq!(
        std::fs::metadata(scratch.join("appendonly.aof.2.incr.aof.bak"))
            .unwrap()
            .len(),
        897
    );
}

/// `rtool tap --upstream 127.0.0.1:<master> --listen 127.0.0.1:0 <extra>`, its timeline
/// written to a file. Returns the process (killed on drop), the port it listens on, and the
/// file.
fn start_tap(master: u16, extra: &[&str], dir: &Path) -> (util::Killed, u16, PathBuf) {
    use std::io::BufRead;
    let out = dir.join("tap.txt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["tap", "--upstream", &format!("127.0.0.1:{master}")])
        .args(["--listen", "127.0.0.1:0", "--color", "never"])
        .args(extra)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "rtool tap: listening on 127.0.0.1:PORT, upstream ..."
    let port = line
        .split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("tap said {line:?}"));
    (util::Killed(child), port, out)
}

/// Chapter 9's lab, on both servers: a master, a tap that cuts the link after N bytes, a
/// replica behind the tap; writes (`set key:<i> value-<i>`, or redis-benchmark); then the
/// master's INFO and the tap's timeline.
struct CutLab {
    master: Server,
    replica: Server,
    tap: PathBuf,
    _tap: util::Killed,
    _dir: tempfile::TempDir,
}

fn cut_lab(kind: Kind, master_extra: &[&str], cut_after: &str) -> CutLab {
    let dir = tempfile::tempdir().unwrap();
    let mut extra = vec!["--repl-diskless-sync-delay", "0"];
    extra.extend(master_extra);
    let master = Server::start(kind, &extra);
    let (tap_proc, tap_port, tap) = start_tap(master.port, &["--cut-after", cut_after], dir.path());
    let tp = tap_port.to_string();
    let replica = Server::start(kind, &["--replicaof", "127.0.0.1", &tp]);
    // The lab's first sync is over before its writes, so they go through the stream (and
    // the cut), not into the snapshot.
    wait_info(&replica, "master_link_status", "up");
    CutLab {
        master,
        replica,
        tap,
        _tap: tap_proc,
        _dir: dir,
    }
}

impl CutLab {
    /// Waits until the replica has everything the master wrote, then returns the master's
    /// `INFO` (replication and stats) and the tap's timeline.
    fn settle(&self) -> (String, String) {
        let mut m = self.master.conn();
        let mut r = self.replica.conn();
        let caught_up = util::wait_for(Duration::from_secs(30), || {
            let mo = util::info_field(&mut m, "replication", "master_repl_offset");
            let ro = util::info_field(&mut r, "replication", "slave_repl_offset");
            let up = util::info_field(&mut r, "replication", "master_link_status");
            mo.is_some() && mo == ro && up.as_deref() == Some("up")
        });
        let info = format!(
            "{}{}",
            m.call_str(&["INFO", "replication"]),
            m.call_str(&["INFO", "stats"])
        );
        assert!(
            caught_up,
            "{:?}: the replica never caught up\n{info}\n{}\n--- replica log:\n{}",
            self.master.kind,
            std::fs::read_to_string(&self.tap).unwrap(),
            self.replica.log_text()
        );
        (info, std::fs::read_to_string(&self.tap).unwrap())
    }
}

/// An INFO field as a number.
fn field(info: &str, name: &str) -> i64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .trim()
        .parse()
        .unwrap()
}

/// The backlog's window, as INFO shows it, holds together: its last byte is the master's
/// offset.
fn backlog_adds_up(info: &str) {
    let (first, len, off) = (
        field(info, "repl_backlog_first_byte_offset"),
        field(info, "repl_backlog_histlen"),
        field(info, "master_repl_offset"),
    );
    assert_eq!(first + len - 1, off, "{info}");
}

/// Chapter 9's lab: a cut in the command stream, +CONTINUE, the missed bytes sent again.
#[test]
fn chapter_9_lab() {
    let partial = output("ch09-cut.txt");
    assert!(partial.contains("\"PSYNC\" \"02189383aa997b4620ef0b6460c88adca217e4f0\" \"945\""));
    assert!(partial.contains("repl 944+49  \"SET\" \"k19\""));
    assert_eq!(895 + 49, 944);
    for kind in kinds() {
        let lab = cut_lab(kind, &[], "1000");
        let mut c = lab.master.conn();
        for i in 1..=30 {
            let (k, v) = (format!("key:{i}"), format!("value-{i}"));
            assert_eq!(c.call_str(&["set", &k, &v]), "+OK\r\n");
        }
        let (info, tap) = lab.settle();
        assert_eq!(field(&info, "sync_full"), 1, "{kind:?}\n{info}");
        assert_eq!(field(&info, "sync_partial_ok"), 1, "{kind:?}\n{info}");
        assert_eq!(field(&info, "repl_backlog_first_byte_offset"), 1);
        backlog_adds_up(&info);
        assert!(tap.contains("CUT by the tap (--cut-after 1000)"), "{tap}");
        assert!(tap.contains("+CONTINUE"), "{tap}");
        assert_eq!(lab.replica.conn().call_str(&["DBSIZE"]), ":30\r\n");
        let log = lab.master.log_text();
        assert!(
            log.contains("Partial resynchronization request from 127.0.0.1:"),
            "{kind:?}: {log}"
        );
    }
}

/// Chapter 9's "What to try": a cut inside the RDB transfer; a backlog too small for a
/// burst of writes, then one big enough.
#[test]
fn chapter_9_try_this() {
    let benchmark = ["-t", "set", "-n", "10000", "-d", "100", "-P", "16", "-q"];
    let have_benchmark = Command::new("redis-benchmark")
        .arg("--version")
        .output()
        .is_ok();
    for kind in kinds() {
        // 1. Cut inside the transfer: no history yet, so a second full resync.
        let lab = cut_lab(kind, &[], "200");
        let (info, tap) = lab.settle();
        assert_eq!(field(&info, "sync_full"), 2, "{kind:?}\n{info}");
        assert_eq!(field(&info, "sync_partial_ok"), 0, "{kind:?}\n{info}");
        assert_eq!(tap.matches("\"PSYNC\" \"?\" \"-1\"").count(), 2, "{tap}");
        assert!(tap.contains("the RDB transfer is lost"), "{tap}");
        drop(lab);

        if !have_benchmark {
            continue;
        }
        // 2 and 3: 10000 SETs of 100 bytes (1.44 MB of stream) after the cut.
        for (size, continues) in [("16kb", false), ("10mb", true)] {
            let lab = cut_lab(kind, &["--repl-backlog-size", size], "1000");
            let port = lab.master.port.to_string();
            let ok = Command::new("redis-benchmark")
                .args(["-p", &port])
                .args(benchmark)
                .output()
                .unwrap();
            assert!(ok.status.success(), "{ok:?}");
            let (info, tap) = lab.settle();
            assert!(tap.contains("CUT by the tap (--cut-after 1000)"), "{tap}");
            let log = lab.master.log_text();
            if continues {
                assert_eq!(
                    field(&info, "sync_partial_ok"),
                    1,
                    "{kind:?} {size}\n{info}"
                );
                assert!(tap.contains("+CONTINUE"), "{tap}");
            } else {
                assert_eq!(
                    field(&info, "sync_partial_err"),
                    1,
                    "{kind:?} {size}\n{info}"
                );
                assert_eq!(field(&info, "sync_full"), 2, "{kind:?} {size}\n{info}");
                assert!(
                    log.contains("for lack of backlog (Replica request was: "),
                    "{kind:?}: {log}"
                );
                let full: Vec<&str> = tap.lines().filter(|l| l.contains("+FULLRESYNC")).collect();
                assert_eq!(full.len(), 2, "{tap}");
                assert_eq!(reply_id(full[0]), reply_id(full[1]), "the same history");
                assert!(field(&info, "repl_backlog_histlen") >= 16384, "{info}");
            }
            backlog_adds_up(&info);
        }
    }
}
