//! The book cannot drift from the code.
//!
//! Every block of tool output in `book/src/` is `{{#include generated/NAME.txt}}`, and each of
//! those files is written here by running the real `rtool` binary on a fixture. The test fails
//! when a file on disk differs from what the binary prints today; `UPDATE_BOOK=1 cargo test
//! --test book` rewrites them. The test also holds the book's structure (every include target
//! and every SUMMARY entry exists) and the outcomes its "Try this" sections promise, so none of
//! it needs `mdbook` installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

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
    dir
}

/// One generated snippet: the command line the book shows and the arguments it runs.
struct Snippet {
    /// File name under book/src/generated/.
    name: &'static str,
    /// The arguments after `rtool`.
    args: &'static [&'static str],
    /// Pipe stdout through `cat -v` (for RESP, whose `\r` would be invisible in a page).
    cat_v: bool,
    /// The exit status the book's prose promises.
    status: i32,
}

const fn snip(name: &'static str, args: &'static [&'static str], status: i32) -> Snippet {
    Snippet {
        name,
        args,
        cat_v: false,
        status,
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
    Snippet {
        name: "ch06-resp.txt",
        args: &["rdb", "dump", "--format", "resp", "book-small.rdb"],
        cat_v: true,
        status: 0,
    },
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
    if s.cat_v {
        line.push_str(" | cat -v");
    }
    line
}

/// `cat -v` for the bytes rtool's RESP output holds: CR becomes `^M`.
fn cat_v(out: &[u8]) -> String {
    String::from_utf8_lossy(out).replace('\r', "^M")
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
    let mut text = shown(s);
    text.push('\n');
    text.push_str(&if s.cat_v {
        cat_v(&out.stdout)
    } else {
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
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
        if !SNIPPETS.iter().any(|s| s.name == name) {
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
