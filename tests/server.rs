//! `rtool serve` as a process: configuration files and overrides, logs in Redis's format,
//! clean shutdown, client management (`timeout`, `maxclients`, CLIENT LIST/KILL).

mod util;

use std::process::{Command, Stdio};
use std::time::Duration;
use util::{Conn, Server, free_port, wait_for};

#[test]
fn config_file_include_and_command_line_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.conf");
    std::fs::write(&base, "# shared settings\ndatabases 4\nhash-max-ziplist-entries 64\nrequirepass \"s3cret pass\"\n").unwrap();
    let conf = dir.path().join("redis.conf");
    std::fs::write(
        &conf,
        format!("include {}\nport 1\nloglevel verbose\n", base.display()),
    )
    .unwrap();
    let log = dir.path().join("rtool.log");
    // Up means *this* process listens (as in `util::Server::start`): the port is probed
    // free, but another test's server can take it before ours binds; ours then exits and
    // the test tries another port.
    let (mut child, port) = (0..5)
        .find_map(|_| {
            let port = free_port();
            let _ = std::fs::remove_file(&log);
            let mut child = util::Killed(
                Command::new(env!("CARGO_BIN_EXE_rtool"))
                    .args([
                        "serve",
                        conf.to_str().unwrap(),
                        "--port",
                        &port.to_string(),
                        "--logfile",
                        log.to_str().unwrap(),
                    ])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            let ready = || {
                std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .contains("Ready to accept connections")
            };
            let exited = |c: &mut util::Killed| c.0.try_wait().ok().flatten().is_some();
            assert!(wait_for(Duration::from_secs(10), || exited(&mut child) || ready()));
            (!exited(&mut child)).then_some((child, port))
        })
        .expect("rtool never listened on a free port");
    let mut c = Conn::connect(port);
    assert_eq!(c.call(&["PING"]), b"-NOAUTH Authentication required.\r\n");
    assert_eq!(c.call(&["AUTH", "s3cret pass"]), b"+OK\r\n");
    assert_eq!(c.call(&["SELECT", "3"]), b"+OK\r\n");
    assert_eq!(
        c.call(&["SELECT", "4"]),
        b"-ERR DB index is out of range\r\n"
    );
    // The alias in the file set the canonical directive.
    assert_eq!(
        c.call_str(&["CONFIG", "GET", "hash-max-listpack-entries"]),
        "*2\r\n$25\r\nhash-max-listpack-entries\r\n$2\r\n64\r\n"
    );
    // SHUTDOWN: the connection closes without a reply, the process exits 0, and the log
    // says goodbye in Redis's words.
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(c.read_to_close().is_empty());
    let status = child.0.wait().unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("Ready to accept connections"))
        .expect("ready line");
    // "pid:M 23 Nov 2026 10:00:00.000 * Ready to accept connections"
    let parts: Vec<&str> = line.splitn(7, ' ').collect();
    assert!(
        parts[0].ends_with(":M") && parts[0].trim_end_matches(":M").parse::<u32>().is_ok(),
        "{line}"
    );
    assert_eq!(parts[2].len(), 3, "{line}");
    assert!(
        parts[4].len() == 12 && parts[4].as_bytes()[2] == b':',
        "{line}"
    );
    assert_eq!(parts[5], "*", "{line}");
    assert!(text.contains("User requested shutdown..."));
    assert!(text.contains("Redis is now ready to exit, bye bye..."));
    let mut out = String::new();
    use std::io::Read;
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.contains(&format!(" PID: {}", child.0.id())), "{out}");
}

#[test]
fn unknown_directive_is_fatal_like_redis() {
    let out = Command::new(env!("CARGO_BIN_EXE_rtool"))
        .args(["serve", "--no-such-directive", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FATAL CONFIG FILE ERROR"), "{err}");
    assert!(
        err.contains("Bad directive or wrong number of arguments"),
        "{err}"
    );
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut s = Server::rtool(&[]);
    assert_eq!(s.conn().call(&["PING"]), b"+PONG\r\n");
    unsafe { libc::kill(s.pid() as i32, libc::SIGTERM) };
    assert!(wait_for(Duration::from_secs(10), || s.exited()));
    let log = s.log_text();
    assert!(
        log.contains("Received SIGTERM scheduling shutdown..."),
        "{log}"
    );
    assert!(
        log.contains("Redis is now ready to exit, bye bye..."),
        "{log}"
    );
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let s = Server::rtool(&["--timeout", "1"]);
    let mut idle = s.conn();
    assert_eq!(idle.call(&["PING"]), b"+PONG\r\n");
    idle.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let start = std::time::Instant::now();
    assert!(idle.read_to_close().is_empty());
    assert!(start.elapsed() >= Duration::from_millis(900));
    // A subscribed client is never timed out.
    let mut sub = s.conn();
    sub.call(&["SUBSCRIBE", "ch"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(s.conn().call(&["PUBLISH", "ch", "still here"]), b":1\r\n");
}

#[test]
fn maxclients_refuses_the_extra_client() {
    let s = Server::rtool(&["--maxclients", "2"]);
    let mut a = s.conn();
    let mut b = s.conn();
    assert_eq!(a.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(b.call(&["PING"]), b"+PONG\r\n");
    let mut c = s.conn();
    assert_eq!(c.read_to_close(), b"-ERR max number of clients reached\r\n");
    drop(b);
    assert!(wait_for(Duration::from_secs(5), || {
        let mut d = s.conn();
        d.stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        d.send(&[b"PING"]);
        d.read_reply() == Some(b"+PONG\r\n".to_vec())
    }));
}

#[test]
fn client_list_setname_and_kill() {
    let s = Server::rtool(&[]);
    let mut a = s.conn();
    let mut b = s.conn();
    assert_eq!(a.call(&["CLIENT", "SETNAME", "alice"]), b"+OK\r\n");
    let id_b = String::from_utf8(b.call(&["CLIENT", "ID"])).unwrap();
    let id_b = id_b.trim_start_matches(':').trim().to_string();
    let list = a.call_str(&["CLIENT", "LIST"]);
    let line = list
        .lines()
        .find(|l| l.contains("name=alice"))
        .expect("alice listed");
    for field in [
        "id=",
        "addr=127.0.0.1:",
        "laddr=127.0.0.1:",
        "fd=",
        "age=",
        "idle=",
        "flags=N",
        "db=0",
        "sub=0",
        "psub=0",
        "multi=-1",
        "cmd=client|list",
        "user=default",
        "resp=2",
    ] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
    assert_eq!(a.call(&["CLIENT", "KILL", "ID", &id_b]), b":1\r\n");
    b.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(b.read_to_close().is_empty());
    assert_eq!(a.call(&["CLIENT", "KILL", "ID", &id_b]), b":0\r\n");
    assert_eq!(
        a.call(&["CLIENT", "KILL", "1.2.3.4:5"]),
        b"-ERR No such client\r\n"
    );
}

#[test]
fn protected_mode_denies_only_remote_peers_without_a_password() {
    use rtool::net::conn::protected_mode_denies;
    let remote: std::net::SocketAddr = "192.0.2.1:5000".parse().unwrap();
    let local: std::net::SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let local6: std::net::SocketAddr = "[::1]:5000".parse().unwrap();
    assert!(protected_mode_denies(true, false, &remote));
    assert!(!protected_mode_denies(true, true, &remote));
    assert!(!protected_mode_denies(false, false, &remote));
    assert!(!protected_mode_denies(true, false, &local));
    assert!(!protected_mode_denies(true, false, &local6));
    // Redis compares the address text: another loopback address is not "local".
    let other_loopback: std::net::SocketAddr = "127.0.0.2:5000".parse().unwrap();
    assert!(protected_mode_denies(true, false, &other_loopback));
    assert!(rtool::net::conn::DENIED.starts_with("-DENIED Redis is running in protected mode"));
}

/// Times the process went to sleep (voluntary context switches over all its threads).
fn sleeps(pid: u32) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let status =
            std::fs::read_to_string(task.unwrap().path().join("status")).unwrap_or_default();
        for line in status.lines() {
            if let Some(n) = line.strip_prefix("voluntary_ctxt_switches:") {
                total += n.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    total
}

/// CPU time (user + system) the process has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// `spin-before-sleep-us` (src/net/spin.rs): between round trips the server polls instead of
/// sleeping, `CONFIG SET spin-before-sleep-us 0` turns that off at once, and an idle server
/// sleeps either way.
#[test]
fn the_server_spins_between_batches_and_sleeps_when_idle() {
    let s = Server::rtool(&[]);
    let mut c = s.conn();
    // `n` round trips; how many times did the server sleep?
    let sleeps_per_round_trip = |c: &mut Conn, n: u32| {
        let before = sleeps(s.pid());
        for _ in 0..n {
            assert_eq!(c.call(&["PING"]), b"+PONG\r\n");
        }
        (sleeps(s.pid()) - before) as f64 / n as f64
    };
    // Spinning off, the server sleeps while each reply travels and the next request comes;
    // spinning on (the window adapts within a few round trips), it rarely does. On a loaded
    // machine either server may be preempted instead of sleeping, or this client stalled past
    // the window, so the two are measured in turns, a few times.
    let set = |c: &mut Conn, us: &str| {
        assert_eq!(
            c.call(&["CONFIG", "SET", "spin-before-sleep-us", us]),
            b"+OK\r\n"
        );
    };
    let mut seen = Vec::new();
    for _ in 0..5 {
        set(&mut c, "0");
        let off = sleeps_per_round_trip(&mut c, 2000);
        set(&mut c, "1000");
        let on = sleeps_per_round_trip(&mut c, 2000);
        seen.push((off, on));
        if off > 0.1 && on < off / 4.0 {
            break;
        }
    }
    let &(off, on) = seen.last().unwrap();
    assert!(
        off > 0.1 && on < off / 4.0,
        "sleeps per round trip (off, on): {seen:?}"
    );
    // Idle: the spin ends, and the server uses (almost) no CPU. A server that kept spinning
    // would use about one tick per tick of wall time.
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    let before = cpu_ticks(s.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(s.pid()) - before;
    assert!(
        used < ticks_per_s / 5,
        "an idle server used {used} ticks of CPU in 2 s"
    );
}
