//! `rtool rdb dump` and `rtool rdb check`, run as the binary on the fixtures.
//!
//! - Snapshots: whole outputs (colour off) compared with `tests/snapshots/`. Run with
//!   `UPDATE_SNAPSHOTS=1` to rewrite them after a deliberate change, then read the diff.
//! - JSON Lines: every line parses, and every key equals what the real server held
//!   (`fixtures/rdb/*.expected.json`), so the printer provably changes nothing.
//! - RESP: the commands piped through `redis-cli --pipe` into a real redis-server rebuild the
//!   dataset: `DEBUG DIGEST` equals that of a redis-server that loaded the file itself, and
//!   streams' groups, PELs and consumers agree in `XINFO STREAM FULL`.
//! - check: rtool and `redis-check-rdb` give the same verdict on every fixture and on copies
//!   truncated or with a flipped byte; the few cases where they differ are explained below.
//! - A closed pipe ends the run with status 0 and nothing on stderr.

mod util;

use serde_json::Value as Json;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use util::{Server, have_redis, wait_for};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compares `actual` with `tests/snapshots/<name>` (see `util::snap`).
fn snapshot(name: &str, actual: &[u8]) {
    util::snap::snapshot(name, actual)
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

fn rtool(args: &[&str]) -> Output {
    rtool_in(&root(), args)
}

/// The snapshot text of a run: stdout, then stderr and the exit status when they say
/// something.
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

fn fixtures() -> Vec<PathBuf> {
    let r = root().join("fixtures/rdb");
    let mut v: Vec<PathBuf> = [r.clone(), r.join("foreign")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rdb"))
        .collect();
    v.sort();
    v
}

/// The fixture's path relative to the repository root, as given on the command line.
fn rel(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The RDB version from a `REDIS000N` header (`None` for other signatures).
fn version(data: &[u8]) -> Option<u32> {
    if data.len() < 9 || &data[..5] != b"REDIS" {
        return None;
    }
    std::str::from_utf8(&data[5..9]).ok()?.parse().ok()
}

/// Files Redis 7.0 loads: RDB 10 or older.
fn loadable_by_redis_70(p: &Path) -> bool {
    version(&std::fs::read(p).unwrap()).is_some_and(|v| v <= 10)
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------

const MAIN: &[&str] = &[
    "fixtures/rdb/redis-7.0-all-types.rdb",
    "fixtures/rdb/redis-7.0-empty.rdb",
    "fixtures/rdb/redis-7.0-functions.rdb",
    "fixtures/rdb/redis-7.0-lfu.rdb",
    "fixtures/rdb/redis-7.0-lru.rdb",
    "fixtures/rdb/redis-7.0-nocompress-nochecksum.rdb",
    "fixtures/rdb/valkey-8.0-rdb11.rdb",
    "fixtures/rdb/foreign/valkey-encodings.rdb",
    "fixtures/rdb/foreign/rdb-rs-redis_7_4_all_types.rdb",
    "fixtures/rdb/foreign/rdb-rs-redis_stack_7_4_modules.rdb",
    "fixtures/rdb/foreign/rdb-rs-parser_filters.rdb",
];

fn name_of(file: &str) -> String {
    stem(Path::new(file))
}

#[test]
fn table_snapshots() {
    for f in MAIN {
        let o = rtool(&["rdb", "dump", f, "--color", "never"]);
        snapshot(&format!("dump-table/{}.txt", name_of(f)), &render(&o));
    }
}

#[test]
fn json_snapshots() {
    for f in MAIN {
        let o = rtool(&["rdb", "dump", f, "--format", "json"]);
        snapshot(&format!("dump-json/{}.jsonl", name_of(f)), &render(&o));
    }
}

#[test]
fn resp_snapshots() {
    for f in [
        "fixtures/rdb/redis-7.0-all-types.rdb",
        "fixtures/rdb/redis-7.0-functions.rdb",
        "fixtures/rdb/redis-7.0-lfu.rdb",
        "fixtures/rdb/foreign/rdb-rs-redis_7_4_all_types.rdb",
        "fixtures/rdb/foreign/rdb-rs-redis_stack_7_4_modules.rdb",
    ] {
        let o = rtool(&["rdb", "dump", f, "--format", "resp"]);
        snapshot(&format!("dump-resp/{}.resp", name_of(f)), &render(&o));
    }
}

#[test]
fn layout_snapshots() {
    for f in [
        "fixtures/rdb/redis-7.0-empty.rdb",
        "fixtures/rdb/redis-7.0-functions.rdb",
        "fixtures/rdb/redis-7.0-lfu.rdb",
        "fixtures/rdb/redis-7.0-lru.rdb",
        "fixtures/rdb/redis-7.0-nocompress-nochecksum.rdb",
        "fixtures/rdb/valkey-8.0-rdb11.rdb",
        "fixtures/rdb/foreign/valkey-encodings.rdb",
        "fixtures/rdb/foreign/rdb-rs-redis_7_4_all_types.rdb",
        "fixtures/rdb/foreign/rdb-rs-redis_stack_7_4_modules.rdb",
        "fixtures/rdb/foreign/rdb-rs-zipmap_that_doesnt_compress.rdb",
        "fixtures/rdb/foreign/rdb-rs-rdb_version_5_with_checksum.rdb",
    ] {
        let o = rtool(&["rdb", "dump", f, "--layout", "--color", "never"]);
        snapshot(&format!("dump-layout/{}.txt", name_of(f)), &render(&o));
    }
    // One key of each kind in the big fixture.
    let o = rtool(&[
        "rdb",
        "dump",
        "fixtures/rdb/redis-7.0-all-types.rdb",
        "--layout",
        "--color",
        "never",
        "--key",
        "^(stream:s1|stream:empty|list:plain|list:small|set:intset|set:strings|zset:small|zset:longmember|hash:small|hash:bigvalue|str:lzf|str:expiring|bin:.*)$",
    ]);
    snapshot("dump-layout/redis-7.0-all-types-selected.txt", &render(&o));
}

#[test]
fn hex_snapshots() {
    let o = rtool(&[
        "rdb",
        "dump",
        "fixtures/rdb/redis-7.0-lru.rdb",
        "--hex",
        "--color",
        "never",
    ]);
    snapshot("dump-hex/redis-7.0-lru-keys.txt", &render(&o));
    let o = rtool(&[
        "rdb",
        "dump",
        "fixtures/rdb/redis-7.0-functions.rdb",
        "--hex=file",
        "--color",
        "never",
    ]);
    snapshot("dump-hex/redis-7.0-functions-file.txt", &render(&o));
    let o = rtool(&[
        "rdb",
        "dump",
        "fixtures/rdb/redis-7.0-all-types.rdb",
        "--hex",
        "--key",
        "^(str:lzf|stream:empty)$",
        "--color",
        "never",
    ]);
    snapshot("dump-hex/redis-7.0-all-types-selected.txt", &render(&o));
}

#[test]
fn filter_snapshots() {
    let f = "fixtures/rdb/redis-7.0-all-types.rdb";
    for (name, args) in [
        ("db2", &["--db", "2"][..]),
        ("type-zset", &["--type", "zset"][..]),
        ("key-str", &["--key", "^str:"][..]),
        ("db15-json", &["--db", "15", "--format", "json"][..]),
        ("bad-type", &["--type", "blob"][..]),
        ("bad-regex", &["--key", "("][..]),
    ] {
        let mut a = vec!["rdb", "dump", f, "--color", "never"];
        a.extend_from_slice(args);
        snapshot(&format!("dump-filter/{name}.txt"), &render(&rtool(&a)));
    }
}

#[test]
fn check_snapshots() {
    for f in fixtures() {
        let o = rtool(&["rdb", "check", &rel(&f), "--color", "never"]);
        snapshot(&format!("check/{}.txt", stem(&f)), &render(&o));
    }
    // Damaged copies, checked from their own directory so the output names them plainly.
    let data = std::fs::read(root().join("fixtures/rdb/redis-7.0-all-types.rdb")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut flipped = data.clone();
    flipped[0x2000] ^= 0x20;
    let mut bad_crc = data.clone();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    for (name, bytes) in [
        ("truncated.rdb", &data[..0x66f7 + 40]),
        ("flipped.rdb", &flipped[..]),
        ("bad-crc.rdb", &bad_crc[..]),
        ("not-an-rdb.rdb", &b"hello world\n"[..]),
    ] {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let o = rtool_in(dir.path(), &["rdb", "check", name, "--color", "never"]);
        snapshot(&format!("check/damaged-{name}.txt"), &render(&o));
        // The same damage as JSON Lines and as a table: what was read, then the error.
        let o = rtool_in(dir.path(), &["rdb", "dump", name, "--format", "json"]);
        snapshot(&format!("dump-json/damaged-{name}.jsonl"), &render(&o));
    }
}

// ---------------------------------------------------------------------------------------------
// JSON Lines against the server's own view of the data
// ---------------------------------------------------------------------------------------------

/// `{"bytes": base64}` -> `{"hex": ...}`, the fixtures' spelling, so values compare as data.
fn to_fixture_bin(v: &Json) -> Json {
    use base64::Engine as _;
    match v {
        Json::Object(m) if m.len() == 1 && m.contains_key("bytes") => {
            let b = base64::engine::general_purpose::STANDARD
                .decode(m["bytes"].as_str().unwrap())
                .unwrap();
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            serde_json::json!({ "hex": hex })
        }
        Json::Array(a) => Json::Array(a.iter().map(to_fixture_bin).collect()),
        Json::Object(m) => Json::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), to_fixture_bin(x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn bin_key(v: &Json) -> String {
    v.to_string()
}

/// A score from the fixture's text or our JSON number/"inf" string.
fn score(v: &Json) -> f64 {
    match v {
        Json::Number(n) => n.as_f64().unwrap(),
        Json::String(s) => s.parse().unwrap(),
        _ => panic!("score {v}"),
    }
}

/// Our value, normalised to the fixture's conventions (sets and hashes sorted, zsets in
/// ZRANGE order, streams reshaped like XINFO STREAM FULL).
fn normalise(ty: &str, v: &Json) -> Json {
    let v = to_fixture_bin(v);
    match ty {
        "set" => {
            let mut a = v.as_array().unwrap().clone();
            a.sort_by_key(sort_bytes);
            Json::Array(a)
        }
        "hash" => {
            let mut a: Vec<Json> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|p| Json::Array(p.as_array().unwrap()[..2].to_vec()))
                .collect();
            a.sort_by_key(|p| sort_bytes(&p[0]));
            Json::Array(a)
        }
        "zset" => {
            let mut a = v.as_array().unwrap().clone();
            a.sort_by(|x, y| {
                score(&x[1])
                    .partial_cmp(&score(&y[1]))
                    .unwrap()
                    .then_with(|| sort_bytes(&x[0]).cmp(&sort_bytes(&y[0])))
            });
            Json::Array(
                a.iter()
                    .map(|p| serde_json::json!([p[0], score(&p[1])]))
                    .collect(),
            )
        }
        "stream" => {
            let entries: Vec<Json> = v["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| serde_json::json!([e["id"], e["fields"]]))
                .collect();
            let groups: Vec<Json> = v["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    // The PEL names each entry's owner, which the RDB stores with the consumer.
                    let mut owner = std::collections::HashMap::new();
                    for c in g["consumers"].as_array().unwrap() {
                        for id in c["pel"].as_array().unwrap() {
                            owner.insert(id.as_str().unwrap().to_string(), c["name"].clone());
                        }
                    }
                    let pending: Vec<Json> = g["pel"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| {
                            serde_json::json!([
                                p["id"],
                                owner
                                    .get(p["id"].as_str().unwrap())
                                    .cloned()
                                    .unwrap_or(Json::Null),
                                p["delivery_time_ms"],
                                p["delivery_count"]
                            ])
                        })
                        .collect();
                    let consumers: Vec<Json> = g["consumers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| {
                            serde_json::json!({
                                "name": c["name"], "pending": c["pel"],
                                "seen_time": c["seen_time_ms"], "active_time": c["active_time_ms"],
                            })
                        })
                        .collect();
                    // XINFO shows nil where the RDB stores -1 ("unknown").
                    let er = match g["entries_read"].as_i64() {
                        Some(-1) | None => Json::Null,
                        Some(n) => n.into(),
                    };
                    serde_json::json!({
                        "name": g["name"], "last_id": g["last_id"], "entries_read": er,
                        "pending": pending, "consumers": consumers,
                    })
                })
                .collect();
            serde_json::json!({
                "entries": entries, "length": v["length"], "last_id": v["last_id"],
                "first_id": v["first_id"], "max_deleted_id": v["max_deleted_id"],
                "entries_added": v["entries_added"], "groups": groups,
            })
        }
        _ => v,
    }
}

/// Bytes of a binary-safe value, for Redis's byte order.
fn sort_bytes(v: &Json) -> Vec<u8> {
    if let Some(t) = v.get("text").and_then(Json::as_str) {
        return t.as_bytes().to_vec();
    }
    let h = v["hex"].as_str().unwrap();
    (0..h.len() / 2)
        .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn json_lines_equal_the_servers_data() {
    let mut compared = 0;
    for f in fixtures() {
        let exp_path = f.with_extension("expected.json");
        let o = rtool(&["rdb", "dump", &rel(&f), "--format", "json"]);
        // Every line is a JSON object with the envelope.
        let mut keys = Vec::new();
        for line in String::from_utf8(o.stdout.clone()).unwrap().lines() {
            let j: Json = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: bad JSON line {e}: {line}", rel(&f)));
            assert!(j["type"].is_string() && j["data"].is_object(), "{line}");
            if j["type"] == "key" {
                keys.push(j["data"].clone());
            }
        }
        let Ok(text) = std::fs::read_to_string(&exp_path) else {
            continue;
        };
        let exp: Json = serde_json::from_str(&text).unwrap();
        let now = exp["now_ms"].as_i64().unwrap();
        let mut ours = std::collections::BTreeMap::new();
        for k in &keys {
            let id = (
                k["db"].as_u64().unwrap(),
                bin_key(&to_fixture_bin(&k["key"])),
            );
            ours.insert(id, k.clone());
        }
        for e in exp["keys"].as_array().unwrap() {
            let id = (e["db"].as_u64().unwrap(), bin_key(&e["key"]));
            let k = ours
                .get(&id)
                .unwrap_or_else(|| panic!("{}: key {id:?} missing", rel(&f)));
            let ty = e["type"].as_str().unwrap();
            assert_eq!(k["type"], e["type"], "{}: {id:?}", rel(&f));
            // `loaded_encoding` is what Redis 7.0 makes of the value; a Valkey 8 server (7.2
            // rules: listpack lists and sets) has its own.
            if exp["server"]
                .as_str()
                .is_some_and(|s| s.starts_with("redis 7.0"))
            {
                assert_eq!(k["loaded_encoding"], e["encoding"], "{}: {id:?}", rel(&f));
            }
            assert_eq!(k["expiry_ms"], e["expire_ms"], "{}: {id:?}", rel(&f));
            let expected = match ty {
                "zset" => Json::Array(
                    e["value"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| serde_json::json!([p[0], score(&p[1])]))
                        .collect(),
                ),
                _ => e["value"].clone(),
            };
            let got = normalise(ty, &k["value"]);
            assert_eq!(got, expected, "{}: value of {id:?}", rel(&f));
            compared += 1;
        }
        // Keys the server did not have can only be ones that had expired when it read them.
        let listed: std::collections::HashSet<_> = exp["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["db"].as_u64().unwrap(), bin_key(&e["key"])))
            .collect();
        for (id, k) in &ours {
            if !listed.contains(id) {
                assert!(
                    k["expiry_ms"].as_i64().is_some_and(|ms| ms <= now),
                    "{}: key {id:?} is not in the server's data",
                    rel(&f)
                );
            }
        }
    }
    assert!(compared > 100, "only {compared} keys compared");
}

// ---------------------------------------------------------------------------------------------
// RESP: rebuild the data in a real server
// ---------------------------------------------------------------------------------------------

fn cli(port: u16, db: u64, args: &[&[u8]]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut c = Command::new("redis-cli");
    c.args(["-p", &port.to_string(), "-n", &db.to_string()]);
    for a in args {
        c.arg(std::ffi::OsStr::from_bytes(a));
    }
    let o = c.output().expect("redis-cli");
    o.stdout
}

/// `XINFO STREAM key FULL` as redis-cli prints it, with what commands cannot restore masked:
/// consumers' seen/active times (XCLAIM sets them to now) and the radix tree's shape (it
/// depends on `stream-node-max-entries` of the server that built it).
fn xinfo_masked(port: u16, db: u64, key: &[u8]) -> String {
    let out =
        String::from_utf8_lossy(&cli(port, db, &[b"XINFO", b"STREAM", key, b"FULL"])).into_owned();
    let mut masked = Vec::new();
    let mut mask_next = false;
    for line in out.lines() {
        if mask_next {
            masked.push("<masked>".to_string());
            mask_next = false;
            continue;
        }
        mask_next = matches!(
            line,
            "seen-time" | "active-time" | "radix-tree-keys" | "radix-tree-nodes"
        );
        masked.push(line.to_string());
    }
    masked.join("\n")
}

#[test]
fn resp_output_rebuilds_the_dataset_in_redis() {
    if !have_redis() {
        return;
    }
    let mut checked = 0;
    for f in fixtures() {
        if !loadable_by_redis_70(&f) {
            continue;
        }
        // The reference: a server that loads the file itself.
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&f, dir.path().join("dump.rdb")).unwrap();
        let loaded = Server::redis(&[
            "--dir",
            dir.path().to_str().unwrap(),
            "--dbfilename",
            "dump.rdb",
            "--enable-debug-command",
            "yes",
        ]);
        let rebuilt = Server::redis(&["--enable-debug-command", "yes"]);
        // rtool's commands, through redis-cli --pipe like a user would.
        let mut dump = Command::new(env!("CARGO_BIN_EXE_rtool"))
            .args(["rdb", "dump", f.to_str().unwrap(), "--format", "resp"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = Command::new("redis-cli")
            .args(["-p", &rebuilt.port.to_string(), "--pipe"])
            .stdin(Stdio::from(dump.stdout.take().unwrap()))
            .output()
            .unwrap();
        assert!(dump.wait().unwrap().success(), "{}", rel(&f));
        let report = String::from_utf8_lossy(&pipe.stdout);
        assert!(
            pipe.status.success() && report.contains("errors: 0,"),
            "{}: redis-cli --pipe said {report}",
            rel(&f)
        );
        let digest = |p: u16| cli(p, 0, &[b"DEBUG", b"DIGEST"]);
        // Loading is synchronous at start-up, but poll anyway rather than trust timing.
        assert!(wait_for(Duration::from_secs(10), || !cli(
            loaded.port,
            0,
            &[b"PING"]
        )
        .starts_with(b"LOADING")));
        assert_eq!(
            String::from_utf8_lossy(&digest(loaded.port)),
            String::from_utf8_lossy(&digest(rebuilt.port)),
            "{}: DEBUG DIGEST differs",
            rel(&f)
        );
        // Digests do not cover consumer groups or functions: compare those directly.
        let o = rtool(&[
            "rdb",
            "dump",
            &rel(&f),
            "--format",
            "json",
            "--type",
            "stream",
        ]);
        for line in String::from_utf8(o.stdout).unwrap().lines() {
            let j: Json = serde_json::from_str(line).unwrap();
            if j["type"] != "key" {
                continue;
            }
            let db = j["data"]["db"].as_u64().unwrap();
            let key = sort_bytes(&to_fixture_bin(&j["data"]["key"]));
            assert_eq!(
                xinfo_masked(loaded.port, db, &key),
                xinfo_masked(rebuilt.port, db, &key),
                "{}: XINFO STREAM {:?} FULL differs",
                rel(&f),
                String::from_utf8_lossy(&key)
            );
        }
        // FUNCTION LIST walks a hash table: compare the libraries as a set.
        let functions = |p: u16| {
            let text = String::from_utf8_lossy(&cli(p, 0, &[b"FUNCTION", b"LIST", b"WITHCODE"]))
                .into_owned();
            let mut libs: Vec<String> = text.split("library_name\n").map(str::to_string).collect();
            libs.sort();
            libs
        };
        assert_eq!(
            functions(loaded.port),
            functions(rebuilt.port),
            "{}",
            rel(&f)
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} fixtures checked");
}

// ---------------------------------------------------------------------------------------------
// check against redis-check-rdb
// ---------------------------------------------------------------------------------------------

/// Runs both checkers on `bytes`; returns (redis ok, rtool ok, rtool's report).
fn both_verdicts(dir: &Path, bytes: &[u8]) -> (bool, bool, String) {
    let p = dir.join("v.rdb");
    std::fs::write(&p, bytes).unwrap();
    let redis = Command::new("redis-check-rdb").arg(&p).output().unwrap();
    let ours = rtool(&["rdb", "check", p.to_str().unwrap(), "--color", "never"]);
    (
        redis.status.success(),
        ours.status.success(),
        String::from_utf8_lossy(&ours.stdout).into_owned(),
    )
}

/// Where rtool's reader is deliberately stricter than Redis's loader. Only possible in files
/// without a checksum (RDB < 5 or `rdbchecksum no`): with one, any damage is a CRC mismatch
/// for both.
/// - `11xxxxxx` where a plain length belongs: Redis takes the low 6 bits as the length.
/// - a text score (RDB type 3) with junk after the number: Redis's `sscanf("%lg")` takes the
///   prefix.
/// - a ziplist zset score that is not a number: Redis loads ziplists without decoding them.
fn known_stricter(report: &str) -> bool {
    report.contains("bad length encoding")
        || report.contains("bad double value")
        || report.contains("bad sorted set score")
}

#[test]
fn check_agrees_with_redis_check_rdb() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut runs, mut explained) = (0, 0);
    for f in fixtures() {
        let data = std::fs::read(&f).unwrap();
        if !loadable_by_redis_70(&f) {
            continue;
        }
        let n = data.len();
        let mut variants: Vec<(String, Vec<u8>)> = vec![("as is".into(), data.clone())];
        for cut in [0, 5, 9, 10, n / 3, n / 2, n.saturating_sub(9), n - 1] {
            if cut < n {
                variants.push((format!("truncated at {cut}"), data[..cut].to_vec()));
            }
        }
        // Flips at fixed fractions of the file, so every run tests the same bytes.
        for k in 1..12 {
            let at = 9 + (n - 9) * k / 12;
            for mask in [0x01u8, 0x80, 0xff] {
                let mut d = data.clone();
                d[at] ^= mask;
                variants.push((format!("byte {at} ^ {mask:#04x}"), d));
            }
        }
        for (what, bytes) in variants {
            let (redis, ours, report) = both_verdicts(dir.path(), &bytes);
            runs += 1;
            if redis == ours {
                continue;
            }
            let no_crc = version(&data).is_some_and(|v| v < 5) || data[n - 8..] == [0; 8];
            assert!(
                redis && !ours && no_crc && known_stricter(&report),
                "{} {what}: redis-check-rdb {} but rtool {}:\n{report}",
                rel(&f),
                if redis { "OK" } else { "not OK" },
                if ours { "OK" } else { "not OK" },
            );
            explained += 1;
        }
    }
    eprintln!("{runs} files checked by both; {explained} explained differences");
    assert!(runs > 500);
}

// ---------------------------------------------------------------------------------------------
// The shell
// ---------------------------------------------------------------------------------------------

#[test]
fn closed_pipe_is_not_an_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args([
            "rdb",
            "dump",
            "fixtures/rdb/redis-7.0-all-types.rdb",
            "--layout",
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    out.read_exact(&mut first).unwrap();
    drop(out);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status:?}, stderr {err}");
    assert_eq!(err, "");
}

#[test]
fn colour_is_off_when_piped_and_on_when_asked() {
    let f = "fixtures/rdb/redis-7.0-lru.rdb";
    let auto = rtool(&["rdb", "dump", f]);
    assert!(!auto.stdout.contains(&0x1b), "auto colour into a pipe");
    let always = rtool(&["rdb", "dump", f, "--layout", "--color", "always"]);
    assert!(always.stdout.contains(&0x1b), "--color always");
    let check = rtool(&["rdb", "check", f, "--color", "always"]);
    assert!(check.stdout.contains(&0x1b));
}

#[test]
fn layout_accounts_for_every_byte() {
    // Lines at depth 0 and 1 (the field column indented by at most two spaces) tile the file:
    // each starts where the previous ended, and the last ends at the file's end.
    for f in fixtures() {
        let data = std::fs::read(&f).unwrap();
        let o = rtool(&["rdb", "dump", &rel(&f), "--layout", "--color", "never"]);
        if !o.status.success() {
            continue;
        }
        let text = String::from_utf8(o.stdout).unwrap();
        let mut at = 0u64;
        for line in text.lines().skip(1) {
            if !line.starts_with("0x") {
                continue; // an entry inside a compressed container
            }
            let cols: Vec<&str> = line.split_whitespace().collect();
            let off = u64::from_str_radix(&cols[0][2..], 16).unwrap();
            let len: u64 = cols[1].parse().unwrap();
            // The field column starts at character 47; its indent is the depth.
            let field: String = line.chars().skip(47).collect();
            let depth = (field.len() - field.trim_start().len()) / 2;
            if depth > 1 {
                continue;
            }
            assert_eq!(off, at, "{}: gap or overlap before line {line}", rel(&f));
            at = off + len;
        }
        assert_eq!(at, data.len() as u64, "{}: layout ends early", rel(&f));
    }
}

#[test]
fn writes_into_a_closed_stdout_do_not_panic() {
    // `rtool ... > /dev/full`: an output error is reported, not a panic.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    let Ok(full) = full else { return };
    let o = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args([
            "rdb",
            "dump",
            "fixtures/rdb/redis-7.0-all-types.rdb",
            "--format",
            "json",
        ])
        .current_dir(root())
        .stdout(Stdio::from(full))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("No space left"), "{err}");
}

#[test]
fn check_report_contains_every_line_of_redis_check_rdb() {
    // For a good file, redis-check-rdb's lines appear in rtool's report in the same order and
    // byte for byte (rtool adds its own lines in between): a learner can hold the two side by
    // side. Error texts differ (rtool names offsets and phases its own way), so only files
    // Redis accepts are compared.
    if !have_redis() {
        return;
    }
    let mut compared = 0;
    for f in fixtures() {
        let path = rel(&f);
        let redis = Command::new("redis-check-rdb")
            .arg(&path)
            .current_dir(root())
            .output()
            .unwrap();
        if !redis.status.success() {
            continue;
        }
        let ours = rtool(&["rdb", "check", &path, "--color", "never"]);
        assert!(ours.status.success(), "{path}");
        let ours = String::from_utf8(ours.stdout).unwrap();
        let mut mine = ours.lines();
        for line in String::from_utf8(redis.stdout).unwrap().lines() {
            assert!(
                mine.any(|l| l == line),
                "{path}: redis-check-rdb's line {line:?} is missing (or out of order) in:\n{ours}"
            );
        }
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} files compared");
}
