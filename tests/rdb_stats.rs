//! `rtool rdb stats`, run as the binary on the fixtures.
//!
//! - Snapshots of the table and JSON Lines views (colour off) in `tests/snapshots/stats/`;
//!   `UPDATE_SNAPSHOTS=1` rewrites them after a deliberate change (then read the diff).
//! - The counts agree with `rdb dump --format json` for every fixture: same keys per db and
//!   type, same bytes per key summed, and the biggest keys are really the biggest.

mod util;

use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compares `actual` with `tests/snapshots/stats/<name>` (see `util::snap`).
fn snapshot(name: &str, actual: &[u8]) {
    util::snap::snapshot(&format!("stats/{name}"), actual)
}

fn rtool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(args)
        .current_dir(root())
        .env_remove("NO_COLOR")
        .output()
        .expect("run rtool")
}

/// Fixtures whose expiry buckets do not depend on the checkout's file times: they all carry
/// a `ctime` aux field, which is the reference time for expiries.
const SNAPSHOT_FIXTURES: &[&str] = &[
    "fixtures/rdb/redis-7.0-all-types.rdb",
    "fixtures/rdb/redis-7.0-empty.rdb",
    "fixtures/rdb/redis-7.0-lfu.rdb",
    "fixtures/rdb/valkey-8.0-rdb11.rdb",
    "fixtures/rdb/foreign/rdb-rs-redis_7_4_all_types.rdb",
];

fn stem(p: &str) -> &str {
    Path::new(p).file_stem().unwrap().to_str().unwrap()
}

#[test]
fn table_snapshots() {
    for f in SNAPSHOT_FIXTURES {
        let o = rtool(&["rdb", "stats", f, "--color", "never"]);
        assert!(
            o.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        snapshot(&format!("{}.table.txt", stem(f)), &o.stdout);
    }
}

#[test]
fn json_snapshots() {
    for f in SNAPSHOT_FIXTURES {
        let o = rtool(&["rdb", "stats", f, "--format", "json", "--top", "5"]);
        assert!(
            o.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        snapshot(&format!("{}.json", stem(f)), &o.stdout);
    }
}

fn json_lines(o: &Output) -> Vec<Json> {
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}

fn fixtures() -> Vec<String> {
    let r = root().join("fixtures/rdb");
    let mut v: Vec<String> = [r.clone(), r.join("foreign")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rdb"))
        .map(|p| {
            p.strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn counts_agree_with_dump_json() {
    for f in fixtures() {
        let dump = rtool(&["rdb", "dump", &f, "--format", "json"]);
        let stats = rtool(&["rdb", "stats", &f, "--format", "json", "--top", "1000000"]);
        // Both either read the whole file or stop at the same error.
        assert_eq!(dump.status.code(), stats.status.code(), "{f}");
        // (db, type) -> (keys, bytes), and every key's bytes, from the dump.
        let mut want: BTreeMap<(u64, String), (u64, u64)> = BTreeMap::new();
        let mut sizes: Vec<u64> = Vec::new();
        for r in json_lines(&dump).iter().filter(|r| r["type"] == "key") {
            let d = &r["data"];
            let e = want
                .entry((
                    d["db"].as_u64().unwrap(),
                    d["type"].as_str().unwrap().to_string(),
                ))
                .or_default();
            e.0 += 1;
            e.1 += d["bytes"].as_u64().unwrap();
            sizes.push(d["bytes"].as_u64().unwrap());
        }
        let recs = json_lines(&stats);
        let mut got: BTreeMap<(u64, String), (u64, u64)> = BTreeMap::new();
        for r in recs.iter().filter(|r| r["type"] == "db_type") {
            let d = &r["data"];
            got.insert(
                (
                    d["db"].as_u64().unwrap(),
                    d["value_type"].as_str().unwrap().to_string(),
                ),
                (d["keys"].as_u64().unwrap(), d["bytes"].as_u64().unwrap()),
            );
        }
        assert_eq!(got, want, "{f}: per-type counts");
        let total = recs.iter().find(|r| r["type"] == "total").expect("total");
        assert_eq!(
            total["data"]["keys"].as_u64().unwrap(),
            sizes.len() as u64,
            "{f}"
        );
        // With room for every key, the big-key list is every key, biggest first.
        let big: Vec<u64> = recs
            .iter()
            .filter(|r| r["type"] == "big_key")
            .map(|r| r["data"]["bytes"].as_u64().unwrap())
            .collect();
        sizes.sort_by(|a, b| b.cmp(a));
        assert_eq!(big, sizes, "{f}: biggest keys");
    }
}

#[test]
fn top_limits_the_list() {
    let f = "fixtures/rdb/redis-7.0-all-types.rdb";
    let all = json_lines(&rtool(&[
        "rdb", "stats", f, "--format", "json", "--top", "100",
    ]));
    let two = json_lines(&rtool(&[
        "rdb", "stats", f, "--format", "json", "--top", "2",
    ]));
    let big = |v: &[Json]| -> Vec<Json> {
        v.iter()
            .filter(|r| r["type"] == "big_key")
            .cloned()
            .collect()
    };
    assert_eq!(big(&two), big(&all)[..2]);
    let none = json_lines(&rtool(&[
        "rdb", "stats", f, "--format", "json", "--top", "0",
    ]));
    assert!(big(&none).is_empty());
}
