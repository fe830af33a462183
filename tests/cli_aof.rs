//! `rtool aof dump` and `rtool aof check`, run as the binary on the fixtures that a real
//! redis-server 7.0 wrote (`fixtures/aof/`, made by `fixtures/gen/aof_fixtures.py`).
//!
//! - Snapshots: whole outputs (colour off) of every fixture in every format, compared with
//!   `tests/snapshots/aof/` (`UPDATE_SNAPSHOTS=1` rewrites them; then read the diff).
//! - check vs `redis-check-aof`: on every fixture, the lines both print (`AOF analyzed: ...`,
//!   the verdicts) are equal to what the real tool printed (saved in `CHECK-AOF.txt`), and so
//!   is the exit status.
//! - Truncation points: for (a sample of) every prefix of three real files, rtool's verdict
//!   and `ok_up_to` equal `redis-check-aof`'s; for a sample, `--fix` leaves the same bytes as
//!   `redis-check-aof --fix` does.
//! - RESP: `aof dump --format resp` piped into a real server rebuilds the dataset whose
//!   `DEBUG DIGEST` the fixture records.
//! - Damaged inputs: random byte changes never make `dump` or `check` panic.

mod util;

use rtool::aof::check::{CheckOptions, check_file};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use util::have_redis;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    root().join("fixtures/aof")
}

/// Runs `rtool` in `dir` (relative paths in the output stay machine-independent).
fn rtool_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("FORCE_COLOR")
        .output()
        .expect("run rtool")
}

/// stdout, then stderr and the exit status when they say something.
fn render(o: &Output) -> Vec<u8> {
    let mut s = o.stdout.clone();
    let code = o.status.code().unwrap_or(-1);
    if !o.stderr.is_empty() || code != 0 {
        s.extend_from_slice(b"--- stderr ---\n");
        s.extend_from_slice(&o.stderr);
        s.extend_from_slice(format!("--- exit {code} ---\n").as_bytes());
    }
    s
}

/// The fixture directories, and the path `check`/`dump` is given for each (a manifest, or
/// the single file).
fn fixture_paths() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        let dir = fixtures().join(&n);
        let path = if dir.join("appendonly.aof.manifest").exists() {
            format!("{n}/appendonly.aof.manifest")
        } else {
            format!("{n}/appendonly.aof")
        };
        out.push((n, path));
    }
    assert!(
        out.len() >= 10,
        "fixtures missing: run fixtures/gen/aof_fixtures.py"
    );
    out
}

// ---------------------------------------------------------------------------------------------
// dump
// ---------------------------------------------------------------------------------------------

#[test]
fn dump_snapshots() {
    for (name, path) in fixture_paths() {
        // The directory form for multi-part fixtures (rtool finds the manifest).
        let arg = if path.ends_with(".manifest") {
            name.clone()
        } else {
            path.clone()
        };
        let text = rtool_in(&fixtures(), &["aof", "dump", &arg, "--color", "never"]);
        util::snap::snapshot(&format!("aof/{name}.dump.txt"), &render(&text));
        let json = rtool_in(&fixtures(), &["aof", "dump", &arg, "--format", "json"]);
        for line in String::from_utf8_lossy(&json.stdout).lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("{name}: bad JSON line {line:?}: {e}"));
        }
        util::snap::snapshot(&format!("aof/{name}.dump.json"), &render(&json));
        let stats = rtool_in(&fixtures(), &["aof", "dump", &arg, "--stats"]);
        util::snap::snapshot(&format!("aof/{name}.stats.txt"), &render(&stats));
    }
}

#[test]
fn dump_formats_and_filters() {
    let f = fixtures();
    let cases: &[(&str, &[&str])] = &[
        (
            "timestamps.resp",
            &["aof", "dump", "timestamps", "--format", "resp"],
        ),
        (
            "preamble.resp",
            &["aof", "dump", "preamble", "--format", "resp"],
        ),
        (
            "timestamps.hex",
            &[
                "aof",
                "dump",
                "timestamps",
                "--hex",
                "--color",
                "never",
                "--cmd",
                "select,exec",
            ],
        ),
        (
            "preamble.filter-db1",
            &["aof", "dump", "preamble", "--db", "1", "--color", "never"],
        ),
        (
            "no-preamble.filter-key",
            &[
                "aof",
                "dump",
                "no-preamble",
                "--key",
                "list:*",
                "--color",
                "never",
            ],
        ),
        (
            "single.filter-cmd",
            &[
                "aof",
                "dump",
                "single/appendonly.aof",
                "--cmd",
                "SET,incr",
                "--color",
                "never",
            ],
        ),
        (
            "runtime.stats-json",
            &["aof", "dump", "runtime", "--stats", "--format", "json"],
        ),
    ];
    for (name, args) in cases {
        let o = rtool_in(&f, args);
        util::snap::snapshot(&format!("aof/{name}.txt"), &render(&o));
    }
    // --cmd select shows where each incr file selects its database.
    let o = rtool_in(
        &f,
        &[
            "aof",
            "dump",
            "no-preamble",
            "--cmd",
            "select",
            "--format",
            "json",
        ],
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["type"] == "command")
        .collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|v| v["cmd"]["text"] == "select"));
}

/// `aof dump --format resp` piped into a real server rebuilds the fixture's dataset.
#[test]
fn resp_rebuilds_the_dataset() {
    if !have_redis() {
        return;
    }
    for name in [
        "preamble",
        "no-preamble",
        "timestamps",
        "runtime",
        "single-preamble",
    ] {
        let digest = std::fs::read_to_string(fixtures().join(name).join("DIGEST")).unwrap();
        let path = if name.starts_with("single") {
            format!("{name}/appendonly.aof")
        } else {
            name.to_string()
        };
        let resp = rtool_in(&fixtures(), &["aof", "dump", &path, "--format", "resp"]);
        assert!(resp.status.success(), "{name}");
        let srv = util::Server::redis(&["--enable-debug-command", "yes"]);
        let mut pipe = Command::new("redis-cli")
            .args(["-p", &srv.port.to_string(), "--pipe"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        pipe.stdin.take().unwrap().write_all(&resp.stdout).unwrap();
        let out = pipe.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(debug_digest(srv.port), digest.trim(), "{name}");
    }
}

fn debug_digest(port: u16) -> String {
    let o = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "DEBUG", "DIGEST"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------------

/// The lines both tools print in the same words (rtool adds its own explanations, and does
/// not repeat redis-check-rdb's walk through the preamble).
fn shared_lines(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| {
            l.starts_with("AOF analyzed:")
                || l.starts_with("Start ")
                || l.starts_with("BASE AOF ")
                || l.starts_with("INCR AOF ")
                || l.starts_with("All AOF files")
                || l.starts_with("RDB preamble is OK")
                || l.starts_with("RDB preamble of AOF file is not sane")
                || (l.starts_with("AOF ") && (l.ends_with(" is valid") || l.contains("not valid")))
                || l.starts_with("exit: ")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn check_says_what_redis_check_aof_says() {
    for (name, path) in fixture_paths() {
        let o = rtool_in(&fixtures(), &["aof", "check", &path]);
        let mut mine = String::from_utf8_lossy(&o.stdout).into_owned();
        mine.push_str(&format!("exit: {}\n", o.status.code().unwrap_or(-1)));
        util::snap::snapshot(&format!("aof/{name}.check.txt"), mine.as_bytes());
        let theirs = std::fs::read_to_string(fixtures().join(&name).join("CHECK-AOF.txt")).unwrap();
        assert_eq!(shared_lines(&mine), shared_lines(&theirs), "{name}");
    }
}

/// redis-check-aof on `file`: (exit status, ok_up_to from its "AOF analyzed" line).
fn redis_check(file: &Path) -> (i32, Option<u64>) {
    let o = Command::new("redis-check-aof")
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-check-aof");
    (o.status.code().unwrap_or(-1), ok_up_to(&o.stdout))
}

fn ok_up_to(out: &[u8]) -> Option<u64> {
    let s = String::from_utf8_lossy(out);
    let l = s.lines().find(|l| l.starts_with("AOF analyzed:"))?;
    let v = l.split("ok_up_to=").nth(1)?.split(',').next()?;
    v.parse().ok()
}

/// rtool's verdict on a single old-style file, through the library (as `aof check` decides
/// it): (valid, ok_up_to, whether the preamble was bad).
fn rtool_check(data: &[u8]) -> (bool, u64, bool) {
    let preamble = data.len() >= 8 && data.starts_with(b"REDIS");
    let c = check_file(
        data,
        CheckOptions {
            preamble,
            to_timestamp: None,
        },
    )
    .unwrap();
    let bad_rdb = matches!(
        &c.problem,
        Some(rtool::aof::check::Problem::Aof(e))
            if matches!(e.kind, rtool::aof::reader::AofErrorKind::Rdb(_))
    );
    (c.ok(), c.ok_up_to, bad_rdb)
}

/// Truncation points of three real files: rtool and redis-check-aof agree on the verdict
/// and on where the good part ends. redis-check-aof takes ~15 ms a run, so rather than every
/// prefix the test takes every prefix within 2 bytes of a record boundary (where the rules
/// change), the first bytes (the signature), and every 17th byte in between.
#[test]
fn every_truncation_point_agrees_with_redis_check_aof() {
    if !have_redis() {
        return;
    }
    let files = [
        "single-preamble/appendonly.aof",
        "timestamps/appendonly.aof.2.incr.aof",
        "single/appendonly.aof",
    ];
    let tmp = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    for f in files {
        let data = std::fs::read(fixtures().join(f)).unwrap();
        let mut cuts = std::collections::BTreeSet::new();
        cuts.extend(0..12.min(data.len()));
        cuts.extend((0..=data.len()).step_by(17));
        cuts.insert(data.len());
        for b in record_boundaries(&data) {
            cuts.extend(b.saturating_sub(2)..=(b + 2).min(data.len()));
        }
        for n in cuts {
            cases.push((f, data[..n].to_vec()));
        }
    }
    let n_cases = cases.len();
    let chunks: Vec<_> = cases.chunks(n_cases.div_ceil(4)).collect();
    std::thread::scope(|s| {
        for (t, chunk) in chunks.into_iter().enumerate() {
            let dir = tmp.path().to_path_buf();
            s.spawn(move || {
                let path = dir.join(format!("prefix-{t}.aof"));
                for (f, data) in chunk {
                    std::fs::write(&path, data).unwrap();
                    let (code, theirs) = redis_check(&path);
                    let (ok, mine, bad_rdb) = rtool_check(data);
                    let what = format!("{f} cut at {}", data.len());
                    assert_eq!(
                        ok,
                        code == 0,
                        "{what}: verdict (redis-check-aof exit {code})"
                    );
                    if bad_rdb {
                        // redis-check-aof stops before its "AOF analyzed" line.
                        assert_eq!(theirs, None, "{what}");
                    } else if !data.is_empty() {
                        assert_eq!(Some(mine), theirs, "{what}: ok_up_to");
                    }
                }
            });
        }
    });
    eprintln!("{n_cases} truncation points agree");
}

/// Where the records of a valid file start and end (the RDB preamble's end included).
fn record_boundaries(data: &[u8]) -> Vec<usize> {
    use rtool::aof::reader::{Event, Reader};
    let mut r = Reader::new();
    r.feed(data);
    let mut out = Vec::new();
    while let Ok(Some(e)) = r.next_event() {
        match e {
            Event::Command { offset, len, .. } | Event::Annotation { offset, len, .. } => {
                out.push(offset as usize);
                out.push((offset + len) as usize);
            }
            Event::RdbEnd { offset } => out.push(offset as usize),
            Event::Rdb(_) => {}
        }
    }
    out
}

/// `--fix` on a sample of torn files leaves exactly what `redis-check-aof --fix` leaves,
/// with the same exit status, and keeps a backup of the original.
#[test]
fn fix_cuts_where_redis_check_aof_cuts() {
    if !have_redis() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for (fi, f) in [
        "single-preamble/appendonly.aof",
        "single/appendonly.aof",
        "timestamps/appendonly.aof.2.incr.aof",
    ]
    .into_iter()
    .enumerate()
    {
        let data = std::fs::read(fixtures().join(f)).unwrap();
        let mut n = 0;
        while n <= data.len() {
            let theirs = tmp.path().join("theirs.aof");
            let mine_dir = tmp.path().join(format!("mine-{fi}-{n}"));
            std::fs::create_dir_all(&mine_dir).unwrap();
            let mine = mine_dir.join("appendonly.aof");
            std::fs::write(&theirs, &data[..n]).unwrap();
            std::fs::write(&mine, &data[..n]).unwrap();
            let mut p = Command::new("redis-check-aof")
                .arg("--fix")
                .arg(&theirs)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            // It only reads the answer when there is something to cut; otherwise it has
            // exited and the pipe is closed.
            let _ = p.stdin.take().unwrap().write_all(b"y\n");
            let their_code = p.wait().unwrap().code();
            let o = rtool_in(&mine_dir, &["aof", "check", "--fix", "appendonly.aof"]);
            let what = format!("{f} cut at {n}");
            assert_eq!(
                o.status.code(),
                their_code,
                "{what}: {}",
                String::from_utf8_lossy(&o.stdout)
            );
            assert_eq!(
                std::fs::read(&mine).unwrap(),
                std::fs::read(&theirs).unwrap(),
                "{what}: fixed bytes"
            );
            let out = String::from_utf8_lossy(&o.stdout);
            if out.contains("Successfully truncated") {
                assert_eq!(
                    std::fs::read(mine_dir.join("appendonly.aof.bak")).unwrap(),
                    &data[..n],
                    "{what}: backup"
                );
                assert!(out.contains("Cut "), "{what}: says what was cut");
            }
            n += 37;
        }
    }
}

/// A torn last file of a manifest is fixed (with a backup), a bad file before the last one
/// cannot be, like redis-check-aof says.
#[test]
fn multi_part_fix_only_touches_the_last_file() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["truncated", "corrupted", "corrupted-incr"] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(fixtures().join(name)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        let o = rtool_in(&dir, &["aof", "check", "--fix", "appendonly.aof.manifest"]);
        let mut out = String::from_utf8_lossy(&o.stdout).into_owned();
        out.push_str(&format!("exit: {}\n", o.status.code().unwrap_or(-1)));
        util::snap::snapshot(&format!("aof/{name}.fix.txt"), out.as_bytes());
        if name == "corrupted" {
            assert_eq!(o.status.code(), Some(1));
            assert!(out.contains("because it is not the last file"));
        } else {
            assert_eq!(o.status.code(), Some(0), "{out}");
            let again = rtool_in(&dir, &["aof", "check", "appendonly.aof.manifest"]);
            assert!(again.status.success(), "{name}: valid after the fix");
        }
        if name == "truncated" && have_redis() {
            // Real Redis loads the fixed directory into the dataset it loaded from the torn
            // one (with aof-load-truncated), whose digest the fixture recorded.
            let digest = std::fs::read_to_string(fixtures().join(name).join("DIGEST")).unwrap();
            let parent = tmp.path().to_str().unwrap();
            let srv = util::Server::redis(&[
                "--dir",
                parent,
                "--appenddirname",
                name,
                "--appendonly",
                "yes",
                "--enable-debug-command",
                "yes",
            ]);
            assert_eq!(debug_digest(srv.port), digest.trim());
        }
    }
}

#[test]
fn truncate_to_timestamp() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("timestamps");
    let dir = tmp.path().join("ts");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    let incr = std::fs::read(dir.join("appendonly.aof.2.incr.aof")).unwrap();
    let first_ts: i64 = std::str::from_utf8(&incr[4..14]).unwrap().parse().unwrap();
    // Nothing later than a far future: nothing to cut.
    let o = rtool_in(
        &dir,
        &[
            "aof",
            "check",
            "--truncate-to-timestamp",
            "99999999999",
            "appendonly.aof.manifest",
        ],
    );
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("Truncate nothing"));
    // Before the incr file's first #TS: the base's own #TS: is later too, and it is not the
    // last file: refused, like redis-check-aof.
    let o = rtool_in(
        &dir,
        &[
            "aof",
            "check",
            "--truncate-to-timestamp",
            &(first_ts - 100).to_string(),
            "appendonly.aof.manifest",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    if have_redis() {
        // The same refusal from the real tool.
        let theirs = Command::new("redis-check-aof")
            .args(["--truncate-to-timestamp", &(first_ts - 100).to_string()])
            .arg(dir.join("appendonly.aof.manifest"))
            .output()
            .unwrap();
        assert_eq!(theirs.status.code(), Some(1));
    }
    // Before the last #TS: of the last file: both tools cut there, the same bytes.
    let last_at = incr.windows(5).rposition(|w| w == b"\n#TS:").unwrap() + 1;
    let text = String::from_utf8_lossy(&incr[last_at..]).into_owned();
    assert!(last_at > 0);
    let last_ts: i64 = text[4..].split('\r').next().unwrap().parse().unwrap();
    let to = (last_ts - 1).to_string();
    if have_redis() {
        let theirs_dir = tmp.path().join("theirs");
        std::fs::create_dir_all(&theirs_dir).unwrap();
        for e in std::fs::read_dir(&src).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), theirs_dir.join(e.file_name())).unwrap();
        }
        let theirs = Command::new("redis-check-aof")
            .args(["--truncate-to-timestamp", &to, "appendonly.aof.manifest"])
            .current_dir(&theirs_dir)
            .output()
            .unwrap();
        let mine = rtool_in(
            &dir,
            &[
                "aof",
                "check",
                "--truncate-to-timestamp",
                &to,
                "appendonly.aof.manifest",
            ],
        );
        assert_eq!(mine.status.code(), theirs.status.code());
        assert_eq!(
            std::fs::read(dir.join("appendonly.aof.2.incr.aof")).unwrap(),
            std::fs::read(theirs_dir.join("appendonly.aof.2.incr.aof")).unwrap()
        );
        assert_eq!(
            shared_lines(&String::from_utf8_lossy(&mine.stdout)),
            shared_lines(&String::from_utf8_lossy(&theirs.stdout))
        );
        let mine = String::from_utf8_lossy(&mine.stdout).into_owned();
        assert!(
            mine.contains(&format!(
                "Successfully truncated AOF appendonly.aof.2.incr.aof to timestamp {to}"
            )),
            "{mine}"
        );
        assert_eq!(
            std::fs::read(dir.join("appendonly.aof.2.incr.aof"))
                .unwrap()
                .len(),
            last_at
        );
    }
    // An invalid timestamp argument.
    let o = rtool_in(
        &dir,
        &[
            "aof",
            "check",
            "--truncate-to-timestamp",
            "12x",
            "appendonly.aof.manifest",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "Invalid timestamp, aborting...\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Damaged inputs
// ---------------------------------------------------------------------------------------------

/// A small deterministic generator (no seed files, the same cases on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn damaged_files_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Lcg(7);
    let sources = [
        "single-preamble/appendonly.aof",
        "single/appendonly.aof",
        "timestamps/appendonly.aof.2.incr.aof",
    ];
    for i in 0..60 {
        let src = sources[i % sources.len()];
        let mut data = std::fs::read(fixtures().join(src)).unwrap();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % data.len();
            data[at] = rng.next() as u8;
        }
        if i % 5 == 0 {
            data.truncate((rng.next() as usize) % data.len());
        }
        let path = tmp.path().join("appendonly.aof");
        std::fs::write(&path, &data).unwrap();
        for args in [
            &["aof", "dump", "appendonly.aof", "--color", "never"][..],
            &["aof", "dump", "appendonly.aof", "--format", "json"],
            &["aof", "check", "appendonly.aof"],
        ] {
            let o = rtool_in(tmp.path(), args);
            let code = o.status.code();
            assert!(
                code == Some(0) || code == Some(1),
                "case {i} {args:?}: exit {code:?}\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

/// Manifest problems: the same report as redis-check-aof (whose lines carry a log prefix,
/// `<pid>:C <date> # `, removed before comparing).
#[test]
fn manifest_problems_like_redis_check_aof() {
    if !have_redis() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[&[u8]] = &[
        b"file a seq 1 type b\nfile b seq 1 type x\n",
        b"file a seq 1 type b\n",
        b"file a seq 1 type b\nfile a seq 1 type b\n",
        b"file x seq 2 type i\nfile y seq 1 type i\n",
        b"# only a comment\nfile h seq 1 type h\n",
        b"file a seq 1 type b\n\n",
    ];
    for (i, manifest) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("m{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("appendonly.aof.manifest"), manifest).unwrap();
        let theirs = Command::new("redis-check-aof")
            .arg("appendonly.aof.manifest")
            .current_dir(&dir)
            .output()
            .unwrap();
        let theirs: String = String::from_utf8_lossy(&theirs.stdout)
            .lines()
            .map(|l| match l.find(" # ") {
                Some(p) if l.contains(":C ") => l[p + 3..].to_string(),
                _ => l.to_string(),
            })
            .filter(|l| !l.trim().is_empty())
            .map(|l| l + "\n")
            .collect::<String>()
            + &format!("exit: {:?}\n", theirs.status.code());
        let mine = rtool_in(&dir, &["aof", "check", "appendonly.aof.manifest"]);
        let mine = String::from_utf8_lossy(&mine.stdout).into_owned()
            + &format!("exit: {:?}\n", mine.status.code());
        assert_eq!(
            mine,
            theirs,
            "manifest {:?}",
            String::from_utf8_lossy(manifest)
        );
    }
}
