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
    for name in ["disk-sync", "partial-resync", "tap-cut"] {
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
            // Progress every 64 bytes of RDB: its lines must not depend on chunking either.
            let mut s = Session::new().progress_every(64);
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

// ---------------------------------------------------------------------------------------------
// Fault injection, several replicas, robustness, progress
// ---------------------------------------------------------------------------------------------

/// A running `rtool tap` child (killed on drop) and what it printed so far.
struct Tap {
    port: u16,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    child: Killed,
}

impl Tap {
    /// `rtool tap --upstream 127.0.0.1:<upstream> --listen 127.0.0.1:0 --json <extra>`.
    fn start(upstream: u16, extra: &[&str]) -> Tap {
        let up = format!("127.0.0.1:{upstream}");
        let mut args = vec![
            "tap",
            "--upstream",
            &up,
            "--listen",
            "127.0.0.1:0",
            "--json",
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_rtool"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rtool tap");
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        let child = Killed(child);
        assert!(
            wait_for(Duration::from_secs(10), || err
                .lock()
                .unwrap()
                .contains("listening on")),
            "tap did not start: {}",
            err.lock().unwrap()
        );
        let port = {
            let e = err.lock().unwrap();
            let addr = e.split("listening on ").nth(1).unwrap();
            let addr = addr.split([',', '\n']).next().unwrap();
            addr.rsplit(':').next().unwrap().parse().unwrap()
        };
        Tap {
            port,
            out,
            err,
            child,
        }
    }

    /// The NDJSON events so far (each line checked against the envelope).
    fn events(&self) -> Vec<Json> {
        check_ndjson(&self.out.lock().unwrap())
    }

    /// Waits until some event satisfies `f`.
    fn wait_event(&self, what: &str, secs: u64, f: impl Fn(&Json) -> bool) -> Json {
        let mut found = None;
        let ok = wait_for(Duration::from_secs(secs), || {
            found = self.events().into_iter().find(|e| f(e));
            found.is_some()
        });
        assert!(
            ok,
            "no {what} from the tap; it printed:\n{}\nstderr: {}",
            self.out.lock().unwrap(),
            self.err.lock().unwrap()
        );
        found.unwrap()
    }

    /// The tap is still running (it never panics or exits on bad input).
    fn assert_alive(&mut self) {
        assert!(
            matches!(self.child.0.try_wait(), Ok(None)),
            "the tap exited: {}",
            self.err.lock().unwrap()
        );
    }
}

fn info_u64(s: &Server, section: &str, field: &str) -> u64 {
    info_field(s, section, field)
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .parse()
        .unwrap()
}

fn replica_of(port: u16) -> Server {
    Server::redis(&[
        "--enable-debug-command",
        "yes",
        "--replicaof",
        "127.0.0.1",
        &port.to_string(),
    ])
}

fn link_up(r: &Server) -> bool {
    info_field(r, "replication", "master_link_status").as_deref() == Some("up")
        && info_field(r, "replication", "master_sync_in_progress").as_deref() == Some("0")
}

fn same_data(m: &Server, r: &Server) -> bool {
    m.conn().call_str(&["DEBUG", "DIGEST"]) == r.conn().call_str(&["DEBUG", "DIGEST"])
}

/// A master for the live tests: no pings (they would move the offsets between two reads),
/// diskless sync without the 5 s wait for more replicas.
fn master(extra: &[&str]) -> Server {
    let mut args = vec![
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--repl-ping-replica-period",
        "3600",
    ];
    args.extend_from_slice(extra);
    Server::redis(&args)
}

/// The lesson: a cut in the command stream, the replica comes back with PSYNC and gets
/// +CONTINUE; nothing is lost, the cut is in the output and in the capture.
#[test]
fn cut_after_then_partial_resync() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("cut.capture");
    let master = master(&[]);
    let mut tap = Tap::start(
        master.port,
        &["--cut-after", "4000", "--record", record.to_str().unwrap()],
    );
    let mut m = master.conn();
    m.call_str(&["SET", "before", "1"]);
    let replica = replica_of(tap.port);
    assert!(wait_for(Duration::from_secs(20), || link_up(&replica)));
    // About 10 KB of stream: the cut falls in the middle of it.
    let value = "v".repeat(64);
    for i in 0..100 {
        m.call_str(&["SET", &format!("k{i}"), &value]);
    }
    let cut = tap.wait_event("cut", 20, |e| e["event"] == "cut");
    assert_eq!(cut["conn"], 1, "{cut}");
    assert_eq!(cut["reason"], "cut-after", "{cut}");
    assert_eq!(cut["limit"], 4000, "{cut}");
    assert_eq!(cut["offset"], 4000, "{cut}");
    assert_eq!(cut["m2r_bytes"], 4000, "{cut}");
    assert_eq!(cut["phase"], "stream", "{cut}");
    assert!(cut["master_offset"].is_u64(), "{cut}");
    // The replica comes back through the tap, asks for the next byte it lacks, and gets it.
    let cont = tap.wait_event("+CONTINUE", 20, |e| e["event"] == "continue");
    assert_eq!(cont["conn"], 2, "{cont}");
    assert_eq!(cont["repl_offset"], cut["master_offset"], "{cont} vs {cut}");
    for i in 0..20 {
        m.call_str(&["INCR", &format!("after{i}")]);
    }
    assert!(
        wait_for(Duration::from_secs(20), || same_data(&master, &replica)),
        "the replica's dataset differs from the master's"
    );
    assert_eq!(info_u64(&master, "stats", "sync_partial_ok"), 1);
    assert_eq!(info_u64(&master, "stats", "sync_full"), 1);
    let events = tap.events();
    // Conn 1 ends at the cut in both directions (the tap closed them), and is cut only once;
    // conn 2 (the reconnection) is never cut.
    let closed: Vec<&Json> = events
        .iter()
        .filter(|e| e["event"] == "closed" && e["conn"] == 1)
        .collect();
    assert_eq!(closed.len(), 2, "{closed:?}");
    // `closed` counts the bytes decoded: a command the cut split is reported as an error at
    // its start, and not counted.
    let m2r = closed
        .iter()
        .find(|e| e["dir"] == "master->replica")
        .unwrap();
    let decoded = m2r["offset"].as_u64().unwrap();
    assert!(decoded <= 4000, "{m2r}");
    assert_eq!(m2r["master_offset"], cut["master_offset"], "{m2r}");
    if decoded < 4000 {
        assert!(
            events.iter().any(|e| e["conn"] == 1
                && e["event"] == "error"
                && e["offset"] == decoded
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("in the middle of a command"))),
            "no error for the split command"
        );
    }
    assert_eq!(events.iter().filter(|e| e["event"] == "cut").count(), 1);
    tap.assert_alive();
    // The capture holds the cut: a replay prints the live output exactly, and the timeline
    // says it.
    drop(replica);
    assert!(wait_for(Duration::from_secs(10), || {
        tap.out
            .lock()
            .unwrap()
            .matches("\"event\":\"closed\"")
            .count()
            >= 4
    }));
    let live = tap.out.lock().unwrap().clone();
    drop(tap);
    let rec = record.to_str().unwrap();
    let replay = rtool(&["tap", "replay", rec, "--json"]);
    assert_eq!(String::from_utf8(replay.stdout).unwrap(), live);
    let human = rtool(&["tap", "replay", rec, "--color", "never"]);
    let human = String::from_utf8(human.stdout).unwrap();
    assert!(
        human.contains("CUT by the tap (--cut-after 4000)"),
        "{human}"
    );
    assert!(human.contains("+CONTINUE"), "{human}");
}

/// Cut, then more writes than the backlog holds before the replica is back (its requests are
/// delayed by the tap): the resume is refused and the tap says why.
#[test]
fn cut_with_backlog_overflow_gives_full_resync() {
    if !have_redis() {
        return;
    }
    let master = master(&["--repl-backlog-size", "16kb"]);
    let tap = Tap::start(
        master.port,
        &[
            "--cut-after",
            "2000",
            "--delay",
            "300",
            "--delay-dir",
            "replica->master",
        ],
    );
    let mut m = master.conn();
    m.call_str(&["SET", "before", "1"]);
    let replica = replica_of(tap.port);
    assert!(wait_for(Duration::from_secs(30), || link_up(&replica)));
    let value = "w".repeat(100);
    for i in 0..30 {
        m.call_str(&["SET", &format!("k{i}"), &value]);
    }
    tap.wait_event("cut", 20, |e| e["event"] == "cut");
    // 640 KB while the replica's PING, REPLCONFs and PSYNC each wait 300 ms in the tap.
    let big = "x".repeat(16 * 1024);
    for i in 0..40 {
        m.call_str(&["SET", &format!("big{i}"), &big]);
    }
    let full = tap.wait_event("second +FULLRESYNC", 30, |e| {
        e["event"] == "fullresync" && e["conn"] == 2
    });
    assert_eq!(full["reason"], "OffsetOutOfRange", "{full}");
    assert!(
        full["why"]
            .as_str()
            .unwrap()
            .contains("outside the master's backlog"),
        "{full}"
    );
    let psync = tap
        .events()
        .into_iter()
        .find(|e| e["event"] == "request" && e["kind"] == "psync" && e["conn"] == 2)
        .expect("the replica's PSYNC");
    assert_ne!(psync["args"][1]["text"], "?", "{psync}");
    assert!(wait_for(Duration::from_secs(30), || link_up(&replica)
        && same_data(&master, &replica)));
    assert_eq!(info_u64(&master, "stats", "sync_partial_ok"), 0);
    assert!(info_u64(&master, "stats", "sync_partial_err") >= 1);
    assert_eq!(info_u64(&master, "stats", "sync_full"), 2);
}

/// `--delay` keeps every byte and their order: a replica behind a delayed tap ends with the
/// master's data and offset.
#[test]
fn delay_keeps_bytes_and_order() {
    if !have_redis() {
        return;
    }
    let master = master(&[]);
    let tap = Tap::start(master.port, &["--delay", "150"]);
    let mut m = master.conn();
    m.call_str(&["RPUSH", "l", "a"]);
    let replica = replica_of(tap.port);
    assert!(wait_for(Duration::from_secs(20), || link_up(&replica)));
    let start = std::time::Instant::now();
    for i in 0..200 {
        m.call_str(&["RPUSH", "l", &i.to_string()]);
    }
    assert!(wait_for(Duration::from_secs(20), || same_data(
        &master, &replica
    )));
    // The last write cannot have arrived before the delay.
    assert!(start.elapsed() >= Duration::from_millis(150));
    let mo = info_u64(&master, "replication", "master_repl_offset");
    assert!(wait_for(Duration::from_secs(10), || info_u64(
        &replica,
        "replication",
        "slave_repl_offset"
    ) == mo));
    assert_eq!(
        m.call_str(&["LRANGE", "l", "0", "-1"]),
        replica.conn().call_str(&["LRANGE", "l", "0", "-1"])
    );
    assert!(!tap.events().iter().any(|e| e["event"] == "error"));
}

/// Two replicas through one tap at once: their own connection numbers, each RDB with all of
/// the master's keys, each stream ending at the master's offset, which both replicas report.
#[test]
fn two_replicas_through_one_tap() {
    if !have_redis() {
        return;
    }
    let master = master(&[]);
    let mut m = master.conn();
    m.call_str(&["DEBUG", "POPULATE", "1000"]);
    let dbsize: u64 = m
        .call_str(&["DBSIZE"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert_eq!(dbsize, 1000);
    let tap = Tap::start(master.port, &["--progress-every", "4096"]);
    let r1 = replica_of(tap.port);
    let r2 = replica_of(tap.port);
    assert!(wait_for(Duration::from_secs(30), || link_up(&r1) && link_up(&r2)));
    for i in 0..50 {
        m.call_str(&["HSET", &format!("h{}", i % 7), &format!("f{i}"), "v"]);
    }
    let mo = info_u64(&master, "replication", "master_repl_offset");
    for r in [&r1, &r2] {
        assert!(
            wait_for(Duration::from_secs(20), || info_u64(
                r,
                "replication",
                "slave_repl_offset"
            ) == mo),
            "a replica did not reach offset {mo}"
        );
        assert!(same_data(&master, r));
    }
    drop(r1);
    drop(r2);
    assert!(wait_for(Duration::from_secs(10), || {
        tap.out
            .lock()
            .unwrap()
            .matches("\"event\":\"closed\"")
            .count()
            >= 4
    }));
    let events = tap.events();
    let mut conns: Vec<u64> = events.iter().map(|e| e["conn"].as_u64().unwrap()).collect();
    conns.sort();
    conns.dedup();
    assert_eq!(conns, vec![1, 2], "one connection per replica");
    for c in [1u64, 2] {
        let of = |name: &str| -> Vec<&Json> {
            events
                .iter()
                .filter(|e| e["conn"] == c && e["event"] == name)
                .collect()
        };
        let summary = of("rdb_summary");
        assert_eq!(summary.len(), 1, "conn {c}");
        assert_eq!(summary[0]["total_keys"], dbsize, "conn {c}: {}", summary[0]);
        let closed = of("closed");
        let m2r = closed
            .iter()
            .find(|e| e["dir"] == "master->replica")
            .unwrap();
        assert_eq!(m2r["master_offset"], mo, "conn {c}: {m2r}");
        // The last command ends at the master's offset too.
        let last = of("command")
            .iter()
            .map(|e| e["repl_offset"].as_u64().unwrap() + e["len"].as_u64().unwrap())
            .max()
            .unwrap();
        assert_eq!(last, mo, "conn {c}");
        // Progress lines during the transfer: growing, keys counted, none past the RDB.
        let progress = of("rdb_progress");
        assert!(!progress.is_empty(), "conn {c}: no progress");
        for w in progress.windows(2) {
            assert!(w[0]["rdb_bytes"].as_u64() < w[1]["rdb_bytes"].as_u64());
            assert!(w[0]["keys"].as_u64() <= w[1]["keys"].as_u64());
        }
        let last = progress.last().unwrap();
        assert!(last["keys"].as_u64().unwrap() <= dbsize, "{last}");
        assert!(last["key"]["text"].is_string(), "{last}");
    }
}

/// A fake "master" that answers each connection with the next of `scripts` (after reading
/// the request), then closes it.
fn fake_master(scripts: Vec<Vec<u8>>) -> u16 {
    use std::io::Write;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for script in scripts {
            let Ok((mut s, _)) = l.accept() else { return };
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            // The client's PSYNC (30 bytes) is the cue.
            while got.len() < 30 {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(&script);
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    });
    port
}

/// Bad bytes from the "master": the tap reports each problem with its offset, forwards every
/// byte regardless, and keeps serving new connections.
#[test]
fn bad_master_bytes_are_reported_and_still_forwarded() {
    let fr = |rest: &[u8]| {
        let mut v = b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n".to_vec();
        v.extend_from_slice(rest);
        v
    };
    let rdb: &[u8] = b"REDIS0010\xff\0\0\0\0\0\0\0\0";
    let mut lying = fr(b"$5\r\n");
    lying.extend_from_slice(rdb);
    lying.extend_from_slice(b"*1\r\n$4\r\nping\r\n");
    let mut half = fr(b"$1000\r\n");
    half.extend_from_slice(&rdb[..9]);
    let scripts: Vec<(&str, Vec<u8>, &str)> = vec![
        // (what, bytes, a word of the expected message)
        (
            "garbage",
            b"\x00\x01garbage\xff\r\nmore".to_vec(),
            "bad reply",
        ),
        ("half an RDB", half, "in the middle of the RDB transfer"),
        (
            "bogus $EOF",
            fr(b"$EOF:tooshort\r\nREDIS0010"),
            "EOF:tooshort",
        ),
        ("lying $<len>", lying, ""),
    ];
    let fake = fake_master(scripts.iter().map(|s| s.1.clone()).collect());
    let mut tap = Tap::start(fake, &[]);
    let psync = b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n";
    for (i, (what, bytes, word)) in scripts.iter().enumerate() {
        let conn = i as u64 + 1;
        let mut c = util::Conn::connect(tap.port);
        c.send_raw(psync);
        let got = c.read_to_close();
        assert_eq!(&got, bytes, "{what}: the tap changed the bytes");
        let ev = tap.wait_event(what, 10, |e| {
            e["conn"] == conn
                && (e["event"] == "error" || e["event"] == "rdb_error")
                && e["message"].as_str().is_some_and(|m| m.contains(word))
        });
        assert_eq!(ev["dir"], "master->replica", "{what}: {ev}");
        assert!(ev["offset"].is_u64(), "{what}: {ev}");
        tap.assert_alive();
    }
    let events = tap.events();
    let at = |conn: u64, word: &str| {
        events
            .iter()
            .find(|e| e["conn"] == conn && e["message"].as_str().is_some_and(|m| m.contains(word)))
            .map(|e| e["offset"].as_u64().unwrap())
    };
    // Offsets name where each problem starts in the master's stream.
    assert_eq!(at(1, "bad reply"), Some(0));
    assert_eq!(at(3, "EOF:tooshort"), Some(56));
    // The lying length: the RDB reader is stopped after 5 bytes, where the transfer ends.
    let lie = events
        .iter()
        .find(|e| e["conn"] == 4 && e["event"] == "rdb_error")
        .expect("rdb_error for the lying length");
    assert!(lie["offset"].as_u64().unwrap() <= 56 + 4 + 5, "{lie}");
}

/// Progress lines come at the same RDB byte counts however the capture is chunked, and
/// replay prints them with `--progress-every`.
#[test]
fn rdb_progress_is_deterministic() {
    let o = rtool(&[
        "tap",
        "replay",
        "fixtures/repl/disk-sync.capture",
        "--json",
        "--progress-every",
        "100",
    ]);
    assert!(o.status.success());
    let ev = check_ndjson(std::str::from_utf8(&o.stdout).unwrap());
    let p: Vec<&Json> = ev.iter().filter(|e| e["event"] == "rdb_progress").collect();
    assert!(p.len() >= 3, "{p:?}");
    for (i, e) in p.iter().enumerate() {
        // Each report is the first event past the next multiple of 100 bytes.
        assert!(
            e["rdb_bytes"].as_u64().unwrap() >= 100 * (i as u64 + 1),
            "{e}"
        );
        assert_eq!(e["rdb_len"], 441, "{e}");
        assert_eq!(e["phase"], "transfer");
    }
    let o = rtool(&[
        "tap",
        "replay",
        "fixtures/repl/disk-sync.capture",
        "--color",
        "never",
        "--progress-every",
        "100",
    ]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains(" bytes of 441 bytes ("), "{text}");
    // Off with 0.
    let o = rtool(&[
        "tap",
        "replay",
        "fixtures/repl/disk-sync.capture",
        "--json",
        "--progress-every",
        "0",
    ]);
    assert!(
        !String::from_utf8(o.stdout)
            .unwrap()
            .contains("rdb_progress")
    );
}

/// `--cut-every`: replication links are cut again and again and resume each time; an
/// ordinary client connection through the same tap is never cut.
#[test]
fn cut_every_cuts_replication_links_only() {
    if !have_redis() {
        return;
    }
    let master = master(&[]);
    let tap = Tap::start(master.port, &["--cut-every", "0.5"]);
    let mut m = master.conn();
    m.call_str(&["SET", "before", "1"]);
    let mut client = util::Conn::connect(tap.port);
    assert_eq!(client.call_str(&["GET", "before"]), "$1\r\n1\r\n");
    let replica = replica_of(tap.port);
    let mut i = 0;
    // Write while the cuts come, until two links were cut and one resumed after a cut.
    assert!(
        wait_for(Duration::from_secs(30), || {
            i += 1;
            m.call_str(&["INCR", "n"]);
            let ev = tap.events();
            let cuts = ev.iter().filter(|e| e["event"] == "cut").count();
            cuts >= 2 && ev.iter().any(|e| e["event"] == "continue")
        }),
        "{}",
        tap.out.lock().unwrap()
    );
    let events = tap.events();
    for c in events.iter().filter(|e| e["event"] == "cut") {
        assert_eq!(c["reason"], "cut-every", "{c}");
        assert_eq!(c["secs"], 0.5, "{c}");
        assert_ne!(c["conn"], 1, "the client connection was cut: {c}");
    }
    // The client's connection still works.
    assert_eq!(client.call_str(&["EXISTS", "before"]), ":1\r\n");
    assert!(wait_for(Duration::from_secs(20), || link_up(&replica)
        && same_data(&master, &replica)));
    assert!(info_u64(&master, "stats", "sync_partial_ok") >= 1);
}

/// The capture the tap recorded with `--cut-after 1500` (fixtures/gen/tap_cut.py): the cut is
/// at byte 1500, the replica's next PSYNC asks for exactly the byte after the last command
/// that went through whole, and the master continues from there.
#[test]
fn recorded_cut_predicts_the_resume() {
    let o = rtool(&["tap", "replay", "fixtures/repl/tap-cut.capture", "--json"]);
    assert!(o.status.success());
    let ev = check_ndjson(std::str::from_utf8(&o.stdout).unwrap());
    let cut = ev.iter().find(|e| e["event"] == "cut").expect("a cut");
    assert_eq!(cut["offset"], 1500);
    assert_eq!(cut["reason"], "cut-after");
    let applied = cut["master_offset"].as_u64().unwrap();
    // The last whole command on conn 1 ends there.
    let last = ev
        .iter()
        .filter(|e| e["conn"] == 1 && e["event"] == "command")
        .map(|e| e["repl_offset"].as_u64().unwrap() + e["len"].as_u64().unwrap())
        .max()
        .unwrap();
    assert_eq!(last, applied);
    let psync = ev
        .iter()
        .find(|e| e["conn"] == 2 && e["kind"] == "psync")
        .unwrap();
    assert_eq!(psync["args"][2]["text"], (applied + 1).to_string());
    let cont = ev.iter().find(|e| e["event"] == "continue").unwrap();
    assert_eq!(cont["repl_offset"], applied);
    // Nothing after the cut on conn 1 but its error and the two closes.
    let after: Vec<&str> = ev
        .iter()
        .skip_while(|e| e["event"] != "cut")
        .filter(|e| e["conn"] == 1)
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(after, ["cut", "error", "closed", "closed"]);
}

/// Fault options are checked before anything starts: no panic on absurd values.
#[test]
fn fault_options_are_validated() {
    for args in [
        &["--cut-after", "0"][..],
        &["--cut-every", "0"],
        &["--cut-every", "1e30"],
        &["--cut-every", "NaN"],
        &["--cut-every", "-1"],
        &["--delay", "99999999999"],
        &["--delay", "5", "--delay-dir", "sideways"],
    ] {
        let mut a = vec![
            "tap",
            "--upstream",
            "127.0.0.1:1",
            "--listen",
            "127.0.0.1:0",
        ];
        a.extend_from_slice(args);
        let o = rtool(&a);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("panicked"),
            "{args:?}"
        );
    }
}

/// A cut after one direction already ended closes only the other one, and the connection's
/// state is dropped once both are closed.
#[test]
fn cut_closes_each_direction_once() {
    use rtool::present::tap_json::TapJson;
    use rtool::present::timeline::{LinkSink, Session};
    use rtool::repl::stream::Dir;
    use rtool::repl::stream::capture::{CutReason, Record};
    let rec = |dir, data: Option<&[u8]>, cut| Record {
        t: 0.0,
        conn: 7,
        dir,
        data: data.map(|d| d.to_vec()),
        cut,
    };
    let mut sink = TapJson::new(Vec::new());
    let mut s = Session::new();
    for r in [
        rec(Dir::ReplicaToMaster, Some(b"PING\r\n"), None),
        rec(Dir::MasterToReplica, Some(b"+PONG\r\n"), None),
        rec(Dir::ReplicaToMaster, None, None),
        rec(
            Dir::MasterToReplica,
            None,
            Some(CutReason::Every { secs: 2.0 }),
        ),
    ] {
        s.record(&r, &mut sink).unwrap();
    }
    assert!(
        s.kind(7).is_none(),
        "state kept after both directions closed"
    );
    sink.finish().unwrap();
    let out = String::from_utf8(sink.into_inner()).unwrap();
    let ev: Vec<(String, String)> = check_ndjson(&out)
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["dir"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names: Vec<String> = ev.iter().map(|(e, d)| format!("{e} {d}")).collect();
    assert_eq!(
        names,
        [
            "request replica->master",
            "reply master->replica",
            "closed replica->master",
            "cut master->replica",
            "closed master->replica",
        ]
    );
    assert!(
        out.contains("\"reason\":\"cut-every\",\"secs\":2.0"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// RESP3 maps and sets in wire order
// ---------------------------------------------------------------------------------------------

/// A reply as this test reads it from the bytes, without rtool's decoder: the RESP3 types the
/// replies below use, and a panic on any other (so nothing is compared half-read).
#[derive(Debug)]
enum Wire {
    Simple(String),
    Int(i64),
    Bulk(String),
    Null,
    Array(Vec<Wire>),
    Set(Vec<Wire>),
    Map(Vec<(Wire, Wire)>),
}

fn read_wire(b: &[u8], i: &mut usize) -> Wire {
    let nl = *i + b[*i..].windows(2).position(|w| w == b"\r\n").expect("CRLF");
    let kind = b[*i];
    let line = std::str::from_utf8(&b[*i + 1..nl]).unwrap();
    *i = nl + 2;
    let count = |line: &str| line.parse::<usize>().unwrap();
    let items = |n: usize, i: &mut usize| (0..n).map(|_| read_wire(b, i)).collect::<Vec<_>>();
    match kind {
        b'+' => Wire::Simple(line.into()),
        b':' => Wire::Int(line.parse().unwrap()),
        b'_' => Wire::Null,
        b'$' => {
            let n = count(line);
            let s = std::str::from_utf8(&b[*i..*i + n]).unwrap().to_string();
            assert_eq!(&b[*i + n..*i + n + 2], b"\r\n");
            *i += n + 2;
            Wire::Bulk(s)
        }
        b'*' => Wire::Array(items(count(line), i)),
        b'~' => Wire::Set(items(count(line), i)),
        b'%' => {
            let mut it = items(2 * count(line), i).into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Wire::Map(pairs)
        }
        k => panic!("type byte {:?} not expected in this test", k as char),
    }
}

/// The whole reply in `bytes`, which must hold exactly one.
fn wire(bytes: &[u8]) -> Wire {
    let mut i = 0;
    let w = read_wire(bytes, &mut i);
    assert_eq!(i, bytes.len(), "{}", String::from_utf8_lossy(bytes));
    w
}

/// The `reply` member the NDJSON appendix specifies for it.
fn wire_json(w: &Wire) -> Json {
    use serde_json::json;
    match w {
        Wire::Simple(s) => json!({"simple": {"text": s}}),
        Wire::Int(n) => json!(n),
        Wire::Bulk(s) => json!({"text": s}),
        Wire::Null => Json::Null,
        Wire::Array(a) => Json::Array(a.iter().map(wire_json).collect()),
        Wire::Set(a) => json!({"set": a.iter().map(wire_json).collect::<Vec<_>>()}),
        Wire::Map(m) => json!({"map": m
            .iter()
            .map(|(k, v)| json!([wire_json(k), wire_json(v)]))
            .collect::<Vec<_>>()}),
    }
}

/// The timeline's text of a RESP3 reply: at most 8 items then `…`, strings quoted and cut
/// after 48 bytes (these replies are printable ASCII).
fn wire_text(w: &Wire) -> String {
    let list = |open: &str, items: Vec<String>, close: &str| {
        let mut v: Vec<String> = items.iter().take(8).cloned().collect();
        if items.len() > 8 {
            v.push("…".into());
        }
        format!("{open}{}{close}", v.join(", "))
    };
    match w {
        Wire::Simple(s) => format!("+{s}"),
        Wire::Int(n) => format!(":{n}"),
        Wire::Bulk(s) => {
            assert!(
                s.bytes()
                    .all(|c| (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\')
            );
            if s.len() > 48 {
                format!("\"{}\"…({} bytes)", &s[..48], s.len())
            } else {
                format!("\"{s}\"")
            }
        }
        Wire::Null => "(null)".into(),
        Wire::Array(a) => list("[", a.iter().map(wire_text).collect(), "]"),
        Wire::Set(a) => list("~{", a.iter().map(wire_text).collect(), "}"),
        Wire::Map(m) => list(
            "%{",
            m.iter()
                .map(|(k, v)| format!("{}: {}", wire_text(k), wire_text(v)))
                .collect(),
            "}",
        ),
    }
}

/// The keys of a map reply in wire order.
fn wire_keys(w: &Wire) -> Vec<String> {
    match w {
        Wire::Map(m) => m.iter().map(|(k, _)| wire_text(k)).collect(),
        _ => panic!("not a map: {w:?}"),
    }
}

/// A client speaking RESP3 through the tap to real Redis: every reply the tap prints, as text
/// and as NDJSON, is what the test reads from the bytes the client got (Redis's bytes, which
/// the tap forwards unchanged), maps and sets in the order Redis sent them.
#[test]
fn resp3_maps_and_sets_in_wire_order() {
    if !have_redis() {
        return;
    }
    let redis = Server::redis(&[]);
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("resp3.capture");
    let tap = Tap::start(redis.port, &["--record", record.to_str().unwrap()]);
    let mut c = util::Conn::connect(tap.port);
    let commands: &[&[&str]] = &[
        &["HELLO", "3"],
        &[
            "CONFIG",
            "GET",
            "maxmemory-policy",
            "appendonly",
            "save",
            "port",
        ],
        &["HSET", "h", "zeta", "1", "alpha", "2", "mid", "3"],
        &["HGETALL", "h"],
        &["SADD", "st", "zeta", "alpha", "mid", "q"],
        &["SMEMBERS", "st"],
        &["XADD", "s", "1-1", "a", "1"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
        // A map in an array in a map (groups, consumers).
        &["XINFO", "STREAM", "s", "FULL"],
        // A map in a map.
        &["COMMAND", "DOCS", "GET"],
    ];
    let replies: Vec<Vec<u8>> = commands.iter().map(|a| c.call(a)).collect();
    let wires: Vec<Wire> = replies.iter().map(|r| wire(r)).collect();
    // The test can tell wire order from sorted order: Redis does not send HELLO sorted.
    let hello = wire_keys(&wires[0]);
    let mut sorted = hello.clone();
    sorted.sort();
    assert_ne!(
        hello, sorted,
        "HELLO came sorted; this test would not see a sort"
    );
    assert!(matches!(&wires[3], Wire::Map(m) if m.len() == 3));
    assert!(matches!(&wires[5], Wire::Set(s) if s.len() == 4));
    assert!(matches!(&wires[10], Wire::Map(m) if matches!(m[0].1, Wire::Map(_))));

    let events = || -> Vec<Json> {
        tap.events()
            .into_iter()
            .filter(|e| e["event"] == "reply")
            .collect()
    };
    assert!(
        wait_for(Duration::from_secs(10), || events().len() == commands.len()),
        "the tap printed {} replies of {}: {}",
        events().len(),
        commands.len(),
        tap.out.lock().unwrap()
    );
    for ((e, w), a) in events().iter().zip(&wires).zip(commands) {
        assert_eq!(e["reply"], wire_json(w), "{a:?}");
    }

    // The recording replays to the same NDJSON, and its timeline shows each map and set as
    // the bytes have it.
    drop(c);
    tap.wait_event("the client's close", 10, |e| e["event"] == "closed");
    let rec = record.to_str().unwrap();
    let json = rtool(&["tap", "replay", rec, "--json"]);
    assert!(json.status.success());
    let replayed: Vec<Json> = check_ndjson(std::str::from_utf8(&json.stdout).unwrap())
        .into_iter()
        .filter(|e| e["event"] == "reply")
        .collect();
    assert_eq!(replayed, events());
    let text = rtool(&["tap", "replay", rec, "--color", "never"]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(" M→R ")).collect();
    assert_eq!(lines.len(), commands.len(), "{text}");
    let mut aggregates = 0;
    for ((line, w), a) in lines.iter().zip(&wires).zip(commands) {
        if matches!(w, Wire::Map(_) | Wire::Set(_)) {
            let want = format!("   {}", wire_text(w));
            assert!(
                line.ends_with(&want),
                "{a:?}:\n{line}\nwanted it to end with\n{want}"
            );
            aggregates += 1;
        }
    }
    assert_eq!(aggregates, 7);
}

/// The `HELLO 3` reply of the client capture truncated and corrupted at random: the tap's
/// printers never panic, and what came before the reply prints as it did.
#[test]
fn corrupted_resp3_map_never_panics_the_tap() {
    use rtool::present::tap_json::TapJson;
    use rtool::present::timeline::{LinkSink, Session, Timeline, TimelineOptions};
    use rtool::repl::stream::Dir;
    use rtool::repl::stream::capture::{Capture, Record};
    let path = root().join("fixtures/repl/client.capture");
    let c = Capture::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let at = c
        .records
        .iter()
        .position(|r| {
            r.dir == Dir::MasterToReplica && r.data.as_ref().is_some_and(|d| d.starts_with(b"%7"))
        })
        .expect("the HELLO reply");
    let render = |records: &[Record]| {
        let mut json = TapJson::new(Vec::new());
        let mut text = Vec::new();
        let mut timeline = Timeline::new(&mut text, TimelineOptions::default());
        let (mut s, mut t) = (Session::new(), Session::new());
        for r in records {
            s.record(r, &mut json).unwrap();
            t.record(r, &mut timeline).unwrap();
        }
        json.finish().unwrap();
        timeline.finish().unwrap();
        drop(timeline);
        (String::from_utf8(json.into_inner()).unwrap(), text)
    };
    let (whole, _) = render(&c.records);
    let before: String = whole
        .lines()
        .take_while(|l| !l.contains("\"dir\":\"master->replica\",\"phase\":\"client\",\"event\":\"reply\",\"offset\":121,"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(before.len() < whole.len(), "no reply at 121 in:\n{whole}");
    let reply = c.records[at].data.clone().unwrap();
    // A small xorshift, seeded: every run tries the same cases.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let mut errors = 0;
    for case in 0..600 {
        let mut bytes = reply.clone();
        for _ in 0..1 + next(3) {
            let i = next(bytes.len());
            match next(3) {
                0 => bytes[i] = next(256) as u8,
                1 => bytes.insert(i, b"\r\n%*~$:_0123456789-?"[next(20)]),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        if case % 2 == 0 {
            bytes.truncate(next(bytes.len() + 1));
        }
        let mut records = c.records.clone();
        records[at].data = Some(bytes.clone());
        let (json, _) = render(&records);
        assert!(
            json.starts_with(&before),
            "{:?} changed what came before it",
            String::from_utf8_lossy(&bytes)
        );
        let first = check_ndjson(&json[before.len()..])
            .into_iter()
            .find(|e| e["dir"] == "master->replica")
            .expect("an event for the reply's bytes");
        assert_eq!(first["offset"], 121);
        if first["event"] == "error" {
            assert!(first["message"].as_str().is_some_and(|m| !m.is_empty()));
            errors += 1;
        }
    }
    // Most cases break the frame; the test would be idle if none did.
    assert!(
        errors > 100,
        "only {errors} of 600 corrupted replies were errors"
    );
}
