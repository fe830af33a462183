//! Snapshots: what rtool writes is read by real Redis (and `redis-check-rdb`), rtool loads it
//! back at start-up, BGSAVE forks, save points fire, SHUTDOWN saves unless told not to.

mod util;

use std::process::Command;
use std::time::Duration;
use util::{Conn, Server, have_redis, info_field, wait_for};

/// A dataset with every type, small and big encodings, expiries and two databases.
fn fill(c: &mut Conn) {
    c.call(&["SET", "s", "hello"]);
    c.call(&["SET", "n", "12345"]);
    c.call(&["SET", "long", &"x".repeat(100)]);
    c.call(&["SET", "ttl", "v", "EX", "10000"]);
    c.call(&["RPUSH", "l", "a", "b", "1", "2"]);
    c.call(&["HSET", "h", "f1", "v1", "f2", "v2"]);
    c.call(&["SADD", "si", "1", "2", "3"]);
    c.call(&["SADD", "ss", "a", "b"]);
    c.call(&["ZADD", "z", "1.5", "a", "-2", "b"]);
    c.call(&["XADD", "x", "1-1", "f", "v"]);
    c.call(&["XGROUP", "CREATE", "x", "g", "0"]);
    c.call(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "COUNT",
        "1",
        "STREAMS",
        "x",
        ">",
    ]);
    for i in 0..600 {
        c.call(&["HSET", "bigh", &format!("f{i}"), "v"]);
        c.call(&["ZADD", "bigz", &i.to_string(), &format!("m{i}")]);
        c.call(&["SADD", "bigs", &format!("m{i}")]);
    }
    c.call(&["SELECT", "5"]);
    c.call(&["SET", "in5", "v"]);
    c.call(&["SELECT", "0"]);
}

#[test]
fn save_is_loaded_by_real_redis_and_by_rtool() {
    if !have_redis() {
        return;
    }
    let a = Server::rtool(&["--enable-debug-command", "yes"]);
    let mut c = a.conn();
    fill(&mut c);
    let digest = c.call_str(&["DEBUG", "DIGEST"]);
    assert_eq!(c.call(&["SAVE"]), b"+OK\r\n");
    let file = a.dir.path().join("dump.rdb");
    assert!(file.exists());
    assert!(a.log_text().contains("DB saved on disk"));

    // redis-check-rdb accepts it.
    let out = Command::new("redis-check-rdb").arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RDB looks OK!"), "{text}");

    // Real Redis loads it and has the same data.
    let real = Server::redis(&[
        "--enable-debug-command",
        "yes",
        "--dir",
        a.dir.path().to_str().unwrap(),
    ]);
    let mut r = real.conn();
    assert_eq!(r.call_str(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(
        r.call_str(&["OBJECT", "ENCODING", "bigh"]),
        "$9\r\nhashtable\r\n"
    );

    // A new rtool started on the same directory loads it at start-up.
    let b = Server::rtool(&[
        "--enable-debug-command",
        "yes",
        "--dir",
        a.dir.path().to_str().unwrap(),
    ]);
    let mut c2 = b.conn();
    assert_eq!(c2.call_str(&["DEBUG", "DIGEST"]), digest);
    assert!(b.log_text().contains("DB loaded from disk"));
    assert_eq!(
        info_field(&mut c2, "persistence", "rdb_last_load_keys_loaded").as_deref(),
        Some("14")
    );
    let ttl: i64 = c2
        .call_str(&["TTL", "ttl"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(ttl > 9000 && ttl <= 10000, "{ttl}");
}

#[test]
fn rtool_loads_what_real_redis_saved() {
    if !have_redis() {
        return;
    }
    let real = Server::redis(&["--enable-debug-command", "yes"]);
    let mut r = real.conn();
    fill(&mut r);
    let digest = r.call_str(&["DEBUG", "DIGEST"]);
    assert_eq!(r.call(&["SAVE"]), b"+OK\r\n");
    let t = Server::rtool(&[
        "--enable-debug-command",
        "yes",
        "--dir",
        real.dir.path().to_str().unwrap(),
    ]);
    assert_eq!(t.conn().call_str(&["DEBUG", "DIGEST"]), digest);
}

#[test]
fn bgsave_forks_and_save_points_fire() {
    let s = Server::rtool(&["--save", "1 1"]);
    let mut c = s.conn();
    assert_eq!(c.call(&["DEBUG", "POPULATE", "1000"]), b"-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n");
    for i in 0..50 {
        c.call(&["SET", &format!("k{i}"), "v"]);
    }
    let before: i64 = c
        .call_str(&["LASTSAVE"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert_eq!(c.call(&["BGSAVE"]), b"+Background saving started\r\n");
    assert!(wait_for(Duration::from_secs(10), || s
        .log_text()
        .contains("Background saving terminated with success")));
    assert!(s.log_text().contains("Background saving started by pid"));
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_changes_since_last_save").as_deref(),
        Some("0")
    );
    assert!(
        info_field(&mut c, "stats", "total_forks")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let after: i64 = c
        .call_str(&["LASTSAVE"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(after >= before);
    // `save 1 1`: one change and a second later a background save starts by itself.
    c.call(&["SET", "trigger", "v"]);
    assert!(wait_for(Duration::from_secs(10), || s
        .log_text()
        .contains("1 changes in 1 seconds. Saving...")));
    assert!(wait_for(Duration::from_secs(10), || info_field(
        &mut s.conn(),
        "persistence",
        "rdb_changes_since_last_save"
    )
    .as_deref()
        == Some("0")));
}

#[test]
fn shutdown_saves_unless_nosave() {
    let s = Server::rtool(&["--save", "3600 1"]);
    let mut c = s.conn();
    c.call(&["SET", "k", "v"]);
    let file = s.dir.path().join("dump.rdb");
    assert!(!file.exists());
    c.send(&[b"SHUTDOWN"]);
    let _ = c.read_to_close();
    assert!(wait_for(Duration::from_secs(10), || file.exists()));
    assert!(
        s.log_text()
            .contains("Saving the final RDB snapshot before exiting.")
    );

    let s2 = Server::rtool(&["--save", "3600 1"]);
    let mut c = s2.conn();
    c.call(&["SET", "k", "v"]);
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    let _ = c.read_to_close();
    assert!(wait_for(Duration::from_secs(10), || s2
        .log_text()
        .contains("ready to exit")));
    assert!(!s2.dir.path().join("dump.rdb").exists());
}
