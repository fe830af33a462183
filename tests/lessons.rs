//! Every lesson runs green, and its transcript is what the book shows.
//!
//! Each test runs one lesson through the real binary (`rtool lesson run NAME --color never`),
//! requires exit status 0 (every checkpoint held), and compares the transcript with
//! `book/src/generated/lessons/NAME.txt`, which the book's chapters include.
//! `UPDATE_BOOK=1 cargo test --test lessons` rewrites those files (as for tests/book.rs).
//! A lesson that needs real Redis is skipped where `redis-server` is missing (and fails on CI,
//! like every other test that needs it).

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

fn generated() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/generated/lessons")
}

/// The transcript files the tests below write: (file, lesson, extra arguments).
const RUNS: &[(&str, &str, &[&str])] = &[
    ("first-setup.txt", "first-setup", &[]),
    (
        "first-setup.redis.txt",
        "first-setup",
        &["--server", "redis"],
    ),
    ("typo-port.txt", "typo-port", &[]),
    ("chain.txt", "chain", &[]),
    ("readonly.txt", "readonly", &[]),
    ("auth.txt", "auth", &[]),
    ("protected-mode.txt", "protected-mode", &[]),
    ("failover.txt", "failover", &[]),
];

/// Runs a lesson as a reader would and returns (exit status, the text the book shows: the
/// command line, then stdout; stderr only when the run failed).
fn run(lesson: &str, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["lesson", "run", lesson, "--color", "never"])
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let mut text = format!("$ rtool lesson run {lesson}");
    for a in extra {
        text.push(' ');
        text.push_str(a);
    }
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    (
        out.status.code().unwrap_or(-1),
        text,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check(file: &str) {
    let &(_, lesson, extra) = RUNS.iter().find(|r| r.0 == file).unwrap();
    let needs_redis = {
        let l = rtool::lesson::find(lesson).unwrap().unwrap();
        l.needs_redis || extra.contains(&"redis")
    };
    if needs_redis && !util::have_redis() {
        return;
    }
    let (status, text, stderr) = run(lesson, extra);
    assert_eq!(status, 0, "{file}: the lesson failed\n{text}\n{stderr}");
    assert!(text.contains("checkpoints passed."), "{text}");
    let path = generated().join(file);
    if std::env::var_os("UPDATE_BOOK").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(generated()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != text {
        let first = on_disk
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(on_disk.lines().count().min(text.lines().count()));
        panic!(
            "{} differs from today's run (first at line {}):\n  book: {:?}\n  now:  {:?}\n\
             rerun with UPDATE_BOOK=1 cargo test --test lessons, and re-read the chapter\n\n{text}",
            path.display(),
            first + 1,
            on_disk.lines().nth(first).unwrap_or(""),
            text.lines().nth(first).unwrap_or(""),
        );
    }
}

#[test]
fn first_setup() {
    check("first-setup.txt");
}

#[test]
fn first_setup_on_real_redis() {
    check("first-setup.redis.txt");
}

#[test]
fn typo_port() {
    check("typo-port.txt");
}

#[test]
fn chain() {
    check("chain.txt");
}

#[test]
fn readonly() {
    check("readonly.txt");
}

#[test]
fn auth() {
    check("auth.txt");
}

#[test]
fn protected_mode() {
    check("protected-mode.txt");
}

#[test]
fn failover() {
    check("failover.txt");
}

/// Every embedded lesson has a transcript here, and every file here belongs to a run.
#[test]
fn every_lesson_has_a_transcript_and_no_file_is_stale() {
    for l in rtool::lesson::all() {
        let l = l.unwrap();
        assert!(
            RUNS.iter().any(|r| r.1 == l.name),
            "lesson {} is not run by tests/lessons.rs",
            l.name
        );
    }
    if let Ok(dir) = std::fs::read_dir(generated()) {
        for e in dir {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(
                RUNS.iter().any(|r| r.0 == name),
                "book/src/generated/lessons/{name} is made by no lesson run"
            );
        }
    }
}

/// `rtool lesson list` names every lesson, and an unknown name is an error that says where
/// to look.
#[test]
fn list_and_unknown_names() {
    let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["lesson", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for (name, _) in rtool::lesson::LESSONS {
        assert!(text.contains(name), "{text}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["lesson", "run", "no-such-lesson"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rtool lesson list"));
}

/// A failing checkpoint makes the run exit 1 and says which one failed.
#[test]
fn a_failed_checkpoint_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.lesson");
    std::fs::write(
        &file,
        "title Broken on purpose\nstart 6379 rtool\ncheck 6379's role is slave\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["lesson", "run", file.to_str().unwrap(), "--color", "never"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("✗ checkpoint failed: 6379's role is slave (it is \"master\")"),
        "{text}"
    );
}

/// The lines of a transcript that do not depend on which server ran it: the command line
/// and the lines that start a server (`$ rtool serve ...` / `$ redis-server ...`) dropped.
fn server_neutral(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            !l.starts_with("$ rtool serve ")
                && !l.starts_with("$ redis-server ")
                && !l.starts_with("$ rtool lesson run ")
        })
        .collect()
}

/// The seed lessons' checkpoints hold on real Redis too (every node `redis-server`), and the
/// transcript is the book's, line for line, but for the lines that start a server: the
/// "Try this" of chapters 2, 10, 11 and 13 promises exactly that.
#[test]
fn checkpoints_hold_on_real_redis() {
    if !util::have_redis() {
        return;
    }
    let mut failed = Vec::new();
    for lesson in ["chain", "readonly", "failover", "protected-mode"] {
        let (status, text, _) = run(lesson, &["--server", "redis"]);
        if status != 0 {
            failed.push(text);
            continue;
        }
        if ["chain", "readonly", "failover"].contains(&lesson) {
            let book = std::fs::read_to_string(generated().join(format!("{lesson}.txt"))).unwrap();
            if server_neutral(&book) != server_neutral(&text) {
                failed.push(format!(
                    "{lesson}: Redis's transcript differs from the book's:\n{text}"
                ));
            }
        }
    }
    let rtool = std::fs::read_to_string(generated().join("first-setup.txt")).unwrap();
    let redis = std::fs::read_to_string(generated().join("first-setup.redis.txt")).unwrap();
    if server_neutral(&rtool) != server_neutral(&redis) {
        failed.push("first-setup: the rtool and Redis transcripts differ".to_string());
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// The pids whose parent is `pid` (from /proc).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces, so split after the last ')'.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let ppid: u32 = after.split(' ').nth(1).unwrap().parse().unwrap();
        if ppid == pid {
            out.push(p);
        }
    }
    out
}

/// Ctrl-C in the middle of a lesson stops every server the lesson started.
#[test]
fn ctrl_c_stops_every_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.lesson");
    std::fs::write(
        &file,
        "title Waits\nstart 6379 rtool\nstart 6380 rtool\nlog 6379 a line that never comes\n",
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["lesson", "run", file.to_str().unwrap(), "--color", "never"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = util::Killed(child);
    let pid = child.0.id();
    assert!(
        util::wait_for(std::time::Duration::from_secs(20), || children(pid).len()
            >= 2),
        "the lesson never started its two servers"
    );
    let servers = children(pid);
    // SAFETY: signalling the child this test spawned.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGINT);
    }
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let gone = |p: &u32| {
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .map(|s| s[s.rfind(')').unwrap() + 2..].starts_with('Z'))
            .unwrap_or(true)
    };
    assert!(
        util::wait_for(std::time::Duration::from_secs(10), || servers
            .iter()
            .all(gone)),
        "servers {servers:?} outlived the interrupted lesson"
    );
}

/// Chapter 2's "Try this" 2: a key written before the first replica attaches travels in the
/// RDB, and does not count in the replication offset.
#[test]
fn chapter_2_try_this_early_key() {
    let (_, text) = rtool::lesson::LESSONS
        .iter()
        .find(|(n, _)| *n == "first-setup")
        .unwrap();
    let early = text.replacen(
        "start 6381 rtool\n",
        "start 6381 rtool\n6379> SET k0 early\n",
        1,
    );
    assert_ne!(&early, text);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("my.lesson");
    std::fs::write(&file, early).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["lesson", "run", file.to_str().unwrap(), "--color", "never"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("db0: string=1"), "{text}");
    assert!(text.contains("master_repl_offset:54\n"), "{text}");
}

/// Runs an embedded lesson with some of its lines replaced (a chapter's "Try this").
fn variant(lesson: &str, edits: &[(&str, &str)]) -> (i32, String) {
    variant_on(lesson, edits, &[])
}

/// [`variant`] with extra arguments for `rtool lesson run` (`--server redis`).
fn variant_on(lesson: &str, edits: &[(&str, &str)], extra: &[&str]) -> (i32, String) {
    let (_, text) = rtool::lesson::LESSONS
        .iter()
        .find(|(n, _)| *n == lesson)
        .unwrap();
    let mut text = text.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "{lesson} has no {from:?}");
        text = text.replacen(from, to, 1);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{lesson}.lesson"));
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["lesson", "run", file.to_str().unwrap(), "--color", "never"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Chapter 11's "Try this" 1: a partial resync keeps the writable replica's own write.
#[test]
fn chapter_11_try_this_partial_resync_keeps_the_local_write() {
    let (_, text) = variant(
        "readonly",
        &[
            ("kill 6378\n", "6379> CLIENT KILL TYPE replica\n"),
            ("restart 6378\n", "wait until 6379's sync_partial_ok is 1\n"),
        ],
    );
    assert!(
        text.contains("✓ 6379's sync_partial_ok is 1 (waited for it)\n✓ 6378's master_link_status is up (waited for it)\n127.0.0.1:6378> GET name\n\"redis-cli\"\n"),
        "{text}"
    );
}

/// Chapter 13's "Try this" 1 and 2: a crashed old master has no snapshot to resume from
/// (its replicas' syncs were diskless) and gets a full copy; an old master that wrote after
/// the failover cannot continue either.
#[test]
fn chapter_13_try_this() {
    let (status, text) = variant(
        "failover",
        &[
            ("stop 6379 SAVE\n", "kill 6379\n"),
            (
                "log 6379 Trying a partial resynchronization\n",
                "log 6379 Partial resynchronization not possible (no cached master)\n",
            ),
            (
                "log 6380 Partial resynchronization request from 127.0.0.1:6379 accepted\n",
                "wait until 6380's sync_full is 1 within 10s\n",
            ),
            (
                "check 6380's sync_partial_ok is 2\n",
                "check 6380's sync_partial_ok is 1\n",
            ),
        ],
    );
    assert_eq!(status, 0, "{text}");
    assert!(
        text.contains("Partial resynchronization not possible (no cached master)"),
        "{text}"
    );
    let split_brain: &[(&str, &str)] = &[
        ("stop 6379 SAVE\n", ""),
        (
            "log 6380 Error condition on socket for SYNC: Connection refused\n",
            "",
        ),
        (
            "say The new master takes writes",
            "6379> SET page 555\nstop 6379 SAVE\nsay The new master takes writes",
        ),
        (
            "log 6380 Partial resynchronization request from 127.0.0.1:6379 accepted\n",
            "wait until 6380's sync_full is 1 within 10s\n",
        ),
    ];
    // Real Redis asks for 88 = 55 + 32 + 1, the number the chapter adds up (rtool's
    // SHUTDOWN also counts a GETACK it had no replica to send to: 125).
    if util::have_redis() {
        let (status, text) = variant_on("failover", split_brain, &["--server", "redis"]);
        assert_eq!(status, 1, "{text}");
        assert!(
            text.contains("Trying a partial resynchronization (request <replid-A>:88).")
                && text.contains("second_repl_offset:56\n")
                && text.contains("✓ 6380's sync_full is 1"),
            "{text}"
        );
    }
    let (status, text) = variant("failover", split_brain);
    assert_eq!(status, 1, "{text}");
    assert!(
        text.contains("Trying a partial resynchronization (request <replid-A>:")
            && text.contains("✓ 6380's sync_full is 1")
            && text.contains("✗ checkpoint failed: 6380's sync_partial_ok is 2"),
        "{text}"
    );
}

/// Chapter 10's "Try this" 1, 2 and 3: without a save point the middle node still continues,
/// from the RDB its first full sync left behind; a write made after the restart reaches
/// 6377 by a partial resync too; with no file at all (loaded from the socket), a full copy
/// at both levels.
#[test]
fn chapter_10_try_this() {
    let (status, text) = variant(
        "chain",
        &[
            (" --save '3600 1'", ""),
            (
                "restart 6378\n",
                "restart 6378\nlog 6378 Trying a partial resynchronization\n",
            ),
        ],
    );
    assert_eq!(status, 0, "{text}");
    assert!(
        text.contains("Trying a partial resynchronization (request <replid-A>:1)."),
        "{text}"
    );
    let (status, text) = variant(
        "chain",
        &[
            (
                "6379> SET while-away 1\n6377> GET while-away\nexpect (nil)\n",
                "",
            ),
            ("restart 6378\n", "restart 6378\n6379> SET while-away 1\n"),
        ],
    );
    assert_eq!(status, 0, "{text}");
    let (status, text) = variant(
        "chain",
        &[
            (" --save '3600 1'", " --repl-diskless-load on-empty-db"),
            (
                "log 6378 Successful partial resynchronization with master.\n",
                "log 6378 Partial resynchronization not possible (no cached master)\n",
            ),
            (
                "check 6379's sync_partial_ok is 1\n",
                "check 6379's sync_full is 2\n",
            ),
            (
                "log 6378 Partial resynchronization request from 127.0.0.1:6377 accepted\n",
                "log 6378 Unable to partial resync with replica 127.0.0.1:6377 for lack of backlog\n",
            ),
            (
                "check 6378's sync_partial_ok is 1\n",
                "check 6378's sync_full is 1\n",
            ),
            ("check 6378's sync_full is 0\n", ""),
        ],
    );
    assert_eq!(status, 0, "{text}");
    assert!(
        text.contains("for lack of backlog (Replica request was: 58).")
            && text.contains("127.0.0.1:6377> GET while-away\n\"1\""),
        "{text}"
    );
}

/// Without `redis-server` on the PATH, a lesson that needs it says so and exits 0; one that
/// does not still runs (`rtool serve` is the current executable, found without the PATH).
#[test]
fn lessons_without_redis_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("needs-redis.lesson");
    std::fs::write(
        &file,
        "title Needs Redis\nneeds redis\nstart 6379 redis\n6379> PING\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["lesson", "run", file.to_str().unwrap(), "--color", "never"])
        .env("PATH", "/nonexistent")
        .current_dir("/")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Skipped: this lesson starts real Redis"),
        "{text}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["lesson", "run", "typo-port", "--color", "never"])
        .env("PATH", "/nonexistent")
        .current_dir("/")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
}

/// Every `.lesson` file in lessons/ is compiled in (src/lesson/mod.rs lists them).
#[test]
fn every_lesson_file_is_embedded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = name.strip_suffix(".lesson") {
            assert!(
                rtool::lesson::LESSONS.iter().any(|(n, _)| *n == stem),
                "lessons/{name} is not in rtool::lesson::LESSONS"
            );
        }
    }
}
