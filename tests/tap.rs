//! `rtool tap`: the replication-link viewer.
//!
//! - Replay: every real capture in `fixtures/repl/` is printed as a timeline and as NDJSON,
//!   and compared with `tests/snapshots/tap/` (`UPDATE_SNAPSHOTS=1` rewrites them; read the
//!   diff). Every NDJSON line parses and carries the envelope the book promises.
//! - Live: real redis-server master <- `rtool tap` <- real redis-server replica. The replica
//!   syncs through the tap and ends with the master's dataset (DEBUG DIGEST), the tap's output
//!   shows the handshake, the transfer and the commands with their offsets, and replaying the
//!   capture the tap recorded prints exactly what it printed live.

mod util;

use serde_json::Value as Json;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use util::{Killed, Server, have_redis, wait_for};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compares `actual` with `tests/snapshots/tap/<name>` (see `util::snap`).
fn snapshot(name: &str, actual: &[u8]) {
    util::snap::snapshot(&format!("tap/{name}"), actual)
}

fn rtool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(args)
        .current_dir(root())
        .env_remove("NO_COLOR")
        .output()
        .expect("run rtool")
}

fn captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures/repl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "capture"))
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

/// Every line is an object with the envelope fields.
fn check_ndjson(text: &str) -> Vec<Json> {
    text.lines()
        .map(|l| {
            let v: Json = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert!(v["conn"].is_u64(), "{l}");
            assert!(
                v["dir"] == "replica->master" || v["dir"] == "master->replica",
                "{l}"
            );
            assert!(v["phase"].is_string() && v["event"].is_string(), "{l}");
            assert!(v["offset"].is_u64(), "{l}");
            if v["event"] == "command" {
                assert!(v["args"].is_array(), "{l}");
                assert!(v.get("repl_offset").is_some(), "{l}");
            }
            v
        })
        .collect()
}

#[test]
fn replay_snapshots() {
    for cap in captures() {
        let name = cap.file_stem().unwrap().to_str().unwrap().to_string();
        let rel = format!("fixtures/repl/{name}.capture");
        let o = rtool(&["tap", "replay", &rel, "--color", "never"]);
        assert!(o.status.success(), "{name}: {o:?}");
        snapshot(&format!("{name}.txt"), &o.stdout);
        let o = rtool(&["tap", "replay", &rel, "--json"]);
        assert!(o.status.success(), "{name}: {o:?}");
        check_ndjson(std::str::from_utf8(&o.stdout).unwrap());
        snapshot(&format!("{name}.ndjson"), &o.stdout);
    }
    let o = rtool(&[
        "tap",
        "replay",
        "fixtures/repl/keepalives.capture",
        "--color",
        "never",
        "--show-keepalives",
        "--quiet-pings",
    ]);
    assert!(o.status.success());
    snapshot("keepalives-shown.txt", &o.stdout);
    let o = rtool(&[
        "tap",
        "replay",
        "fixtures/repl/disk-sync.capture",
        "--color",
        "never",
        "--hex",
    ]);
    assert!(o.status.success());
    snapshot("disk-sync-hex.txt", &o.stdout);
    for name in ["disk-sync", "partial-resync"] {
        let rel = format!("fixtures/repl/{name}.capture");
        let o = rtool(&["tap", "replay", &rel, "--mermaid", "--quiet-pings"]);
        assert!(o.status.success(), "{name}: {o:?}");
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.starts_with("sequenceDiagram\n"));
        snapshot(&format!("{name}.mmd"), text.as_bytes());
    }
}

#[test]
fn replay_colour_only_when_asked() {
    let f = "fixtures/repl/disk-sync.capture";
    let piped = rtool(&["tap", "replay", f]);
    assert!(!piped.stdout.contains(&0x1b), "colour into a pipe");
    let forced = rtool(&["tap", "replay", f, "--color", "always"]);
    assert!(forced.stdout.contains(&0x1b));
}

#[test]
fn replay_json_covers_the_transfer_and_the_stream() {
    let o = rtool(&["tap", "replay", "fixtures/repl/disk-sync.capture", "--json"]);
    let ev = check_ndjson(std::str::from_utf8(&o.stdout).unwrap());
    let summary = ev.iter().find(|e| e["event"] == "rdb_summary").unwrap();
    assert_eq!(summary["total_keys"], 11);
    assert_eq!(summary["keys"]["3"]["string"], 1);
    let cmds: Vec<&Json> = ev.iter().filter(|e| e["event"] == "command").collect();
    // Commands follow each other: each starts where the previous one ended.
    for w in cmds.windows(2) {
        assert_eq!(
            w[0]["repl_offset"].as_u64().unwrap() + w[0]["len"].as_u64().unwrap(),
            w[1]["repl_offset"].as_u64().unwrap()
        );
    }
}

/// Lines a child writes to a pipe, collected by a thread.
fn collect<R: Read + Send + 'static>(r: R) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let b = buf.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            let mut g = b.lock().unwrap();
            g.push_str(&line);
            g.push('\n');
        }
    });
    buf
}

fn info_field(s: &Server, section: &str, field: &str) -> Option<String> {
    let text = s.conn().call_str(&["INFO", section]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

#[test]
fn live_tap_between_real_redis_servers() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("live.capture");
    let master = Server::redis(&["--enable-debug-command", "yes"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args([
            "tap",
            "--upstream",
            &format!("127.0.0.1:{}", master.port),
            "--listen",
            "127.0.0.1:0",
            "--record",
            record.to_str().unwrap(),
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rtool tap");
    let out = collect(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    let tap = Killed(child);
    let deadline = Duration::from_secs(10);
    assert!(
        wait_for(deadline, || err.lock().unwrap().contains("listening on")),
        "tap did not start: {}",
        err.lock().unwrap()
    );
    let port: u16 = {
        let e = err.lock().unwrap();
        let addr = e
            .split("listening on ")
            .nth(1)
            .unwrap()
            .split([',', '\n'])
            .next()
            .unwrap()
            .to_string();
        addr.rsplit(':').next().unwrap().parse().unwrap()
    };

    // Some data before the sync (it travels in the RDB), some after (the command stream).
    let mut m = master.conn();
    m.call_str(&["SET", "before", "1"]);
    m.call_str(&["RPUSH", "list", "a", "b"]);
    let replica = Server::redis(&[
        "--enable-debug-command",
        "yes",
        "--replicaof",
        "127.0.0.1",
        &port.to_string(),
    ]);
    assert!(
        wait_for(Duration::from_secs(20), || {
            info_field(&replica, "replication", "master_link_status").as_deref() == Some("up")
        }),
        "replica never came up; tap said: {}",
        err.lock().unwrap()
    );
    m.call_str(&["SET", "after", "2"]);
    m.call_str(&["HSET", "h", "f", "v"]);
    m.call_str(&["EXPIRE", "after", "100"]);
    assert!(
        wait_for(Duration::from_secs(10), || {
            m.call_str(&["DEBUG", "DIGEST"]) == replica.conn().call_str(&["DEBUG", "DIGEST"])
        }),
        "the replica's dataset differs from the master's"
    );
    let master_offset: u64 = info_field(&master, "replication", "master_repl_offset")
        .unwrap()
        .parse()
        .unwrap();

    // Stop the replica: both directions of its link end, and the tap reports it.
    drop(replica);
    assert!(
        wait_for(Duration::from_secs(10), || {
            out.lock().unwrap().matches("\"event\":\"closed\"").count() >= 2
        }),
        "the tap did not see the link close: {}",
        out.lock().unwrap()
    );
    drop(tap);
    let live = out.lock().unwrap().clone();
    let events = check_ndjson(&live);

    let has = |f: &dyn Fn(&Json) -> bool| events.iter().any(f);
    assert!(has(&|e| e["event"] == "request" && e["kind"] == "psync"));
    assert!(has(&|e| e["event"] == "fullresync"));
    assert!(has(&|e| e["event"] == "transfer_start"));
    let summary = events
        .iter()
        .find(|e| e["event"] == "rdb_summary")
        .expect("RDB summary");
    assert_eq!(summary["total_keys"], 2, "{summary}");
    let cmd = events
        .iter()
        .find(|e| e["event"] == "command" && e["args"][0]["text"] == "HSET")
        .expect("HSET in the stream");
    assert!(cmd["repl_offset"].is_u64(), "{cmd}");
    // EXPIRE travels as PEXPIREAT, and the stream ends at the master's offset.
    assert!(has(
        &|e| e["event"] == "command" && e["args"][0]["text"] == "PEXPIREAT"
    ));
    let last = events
        .iter()
        .filter(|e| e["event"] == "command")
        .map(|e| e["repl_offset"].as_u64().unwrap() + e["len"].as_u64().unwrap())
        .max()
        .unwrap();
    // Everything the master had propagated when the digests matched went through the tap
    // (a later `ping` may add more).
    assert!(last >= master_offset, "{last} < {master_offset}");

    // The recording replays to the same event stream, and the timeline names the phases.
    let rec = record.to_str().unwrap();
    let replay = rtool(&["tap", "replay", rec, "--json"]);
    assert!(replay.status.success());
    assert_eq!(String::from_utf8(replay.stdout).unwrap(), live);
    let human = rtool(&["tap", "replay", rec, "--color", "never"]);
    let human = String::from_utf8(human.stdout).unwrap();
    for needle in [
        "· handshake",
        "\"PSYNC\"",
        "+FULLRESYNC",
        "· RDB transfer",
        "· command stream",
        "\"HSET\" \"h\" \"f\" \"v\"",
        "repl ",
    ] {
        assert!(human.contains(needle), "{needle} missing from:\n{human}");
    }
}

/// The same capture fed whole and one byte per record prints the same NDJSON: what the tap
/// shows does not depend on how the kernel happened to split the reads.
#[test]
fn output_does_not_depend_on_chunking() {
    use rtool::present::tap_json::TapJson;
    use rtool::present::timeline::{LinkSink, Session};
    use rtool::repl::stream::capture::{Capture, Record};
    for cap in captures() {
        let c = Capture::parse(&std::fs::read_to_string(&cap).unwrap()).unwrap();
        let render = |records: &[Record]| {
            let mut sink = TapJson::new(Vec::new());
            let mut s = Session::new();
            for r in records {
                s.record(r, &mut sink).unwrap();
            }
            sink.finish().unwrap();
            sink.into_inner()
        };
        let whole = render(&c.records);
        let bytewise: Vec<Record> = c
            .records
            .iter()
            .flat_map(|r| match &r.data {
                Some(d) => d
                    .iter()
                    .map(|b| Record {
                        data: Some(vec![*b]),
                        ..r.clone()
                    })
                    .collect(),
                None => vec![r.clone()],
            })
            .collect();
        assert_eq!(
            String::from_utf8(render(&bytewise)).unwrap(),
            String::from_utf8(whole).unwrap(),
            "{}",
            cap.display()
        );
    }
}
