//! Shared test harness: start real `redis-server` and `rtool serve` on free loopback ports,
//! talk RESP to them, and stop them when the test ends.
//!
//! Every server a test starts is a child process owned by a [`Server`] value; dropping it
//! kills the process, so a failing assertion cannot leave servers behind.

#![allow(dead_code)]

pub mod repl;
pub mod snap;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released; the caller binds it next).
///
/// Chosen below Linux's ephemeral range (32768–60999), so the outgoing connections of the
/// tests running in parallel (which take their local ports from that range) cannot be
/// holding it when the server binds. [`Server::start`] still retries on a lost race.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(2_654_435_761)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    for _ in 0..200 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 12000 + (seed.wrapping_add(n.wrapping_mul(7919)) % 20000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// Is real Redis available? On CI (`CI=true`) its absence is a failure, elsewhere a skip.
pub fn have_redis() -> bool {
    let ok = Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok && std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!("redis-server is required on CI (apt-get install -y redis-server redis-tools)");
    }
    if !ok {
        eprintln!("SKIP: redis-server not installed");
    }
    ok
}

/// Poll `cond` until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// The level mark and the text of one Redis-format log line
/// (`pid:R 23 Nov 2026 10:00:00.000 * text` gives `("*", "text")`); a line the signal
/// handler wrote (`pid:signal-handler (1795434812) text`) gives `("signal-handler", "text")`;
/// None for other lines.
#[allow(dead_code)]
pub fn log_level_text(line: &str) -> Option<(&str, &str)> {
    if let Some((_pid, rest)) = line.split_once(":signal-handler (") {
        let (_secs, text) = rest.split_once(") ")?;
        return Some(("signal-handler", text));
    }
    let f: Vec<&str> = line.splitn(7, ' ').collect();
    (f.len() == 7).then(|| (f[5], f[6]))
}

/// One field of `INFO <section>`, e.g. `info_field(&mut c, "replication", "role")`.
pub fn info_field(c: &mut Conn, section: &str, field: &str) -> Option<String> {
    let text = c.call_str(&["INFO", section]);
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Redis,
    Rtool,
}

/// A server process on 127.0.0.1.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
    pub log: PathBuf,
}

impl Server {
    /// Start a real redis-server with persistence off plus `extra` options (`--name value`).
    pub fn redis(extra: &[&str]) -> Server {
        Self::start(Kind::Redis, extra)
    }

    /// Start `rtool serve` with the same conventions.
    pub fn rtool(extra: &[&str]) -> Server {
        Self::start(Kind::Rtool, extra)
    }

    pub fn start(kind: Kind, extra: &[&str]) -> Server {
        for _attempt in 0..5 {
            if let Some(s) = Self::try_start(kind, free_port(), extra) {
                return s;
            }
        }
        panic!("could not start {kind:?} on a free port");
    }

    /// Start on a given port (a server restarted where its replicas expect it). Panics if
    /// the port is taken.
    pub fn start_on(kind: Kind, port: u16, extra: &[&str]) -> Server {
        Self::try_start(kind, port, extra)
            .unwrap_or_else(|| panic!("could not start {kind:?} on port {port}"))
    }

    fn try_start(kind: Kind, port: u16, extra: &[&str]) -> Option<Server> {
        {
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("server.log");
            let mut cmd = match kind {
                Kind::Redis => Command::new("redis-server"),
                Kind::Rtool => {
                    let mut c = Command::new(env!("CARGO_BIN_EXE_rtool"));
                    c.arg("serve");
                    c
                }
            };
            cmd.args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]);
            cmd.args([
                "--dir",
                dir.path().to_str().unwrap(),
                "--logfile",
                log.to_str().unwrap(),
            ]);
            cmd.args(extra);
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            let child = cmd.spawn().expect("spawn server");
            let mut s = Server {
                kind,
                port,
                dir,
                child,
                log,
            };
            // Up means *this* process listens: a connect alone can reach another test's
            // server that took the same port between our probe and the bind (ours then exits
            // with "Address already in use"). So the process must be alive and its own log
            // must say it is ready, unless the caller moved the log elsewhere.
            let own_log = !extra.contains(&"--logfile");
            let up = wait_for(Duration::from_secs(10), || {
                if s.exited() {
                    return true;
                }
                let ready = !own_log || s.log_text().contains("Ready to accept connections");
                ready && TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            if up && !s.exited() {
                return Some(s);
            }
            // Someone else took the port between our probe and the server's bind.
            let _ = s.child.kill();
            let _ = s.child.wait();
            None
        }
    }

    pub fn conn(&self) -> Conn {
        Conn::connect(self.port)
    }

    /// The server's log so far (for assertions about log lines).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Has the process exited?
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send the server a signal (`libc::SIGTERM`, `libc::SIGINT`, ...).
    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
    }

    /// Wait up to `timeout` for the process to exit; its exit code (None: still running, or
    /// ended by a signal).
    pub fn exit_code(&mut self, timeout: Duration) -> Option<i32> {
        wait_for(timeout, || self.exited());
        match self.child.try_wait() {
            Ok(Some(status)) => status.code(),
            _ => None,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed when the test lets go of it, even when an assertion fails first
/// (an orphaned server would keep the test's output pipe open and hang the run).
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A RESP connection that returns each reply as the exact bytes the server sent.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Encode and send a command.
    pub fn send(&mut self, args: &[&[u8]]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out).unwrap();
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Read one whole reply (any RESP2/RESP3 type), as raw bytes. None if the connection
    /// closed or nothing complete came within the read timeout.
    pub fn read_reply(&mut self) -> Option<Vec<u8>> {
        loop {
            if !self.buf.is_empty() {
                match rtool::resp::frame::decode(&self.buf) {
                    Ok(Some((_, used))) => {
                        let r = self.buf[..used].to_vec();
                        self.buf.drain(..used);
                        return Some(r);
                    }
                    Ok(None) => {}
                    Err(e) => panic!(
                        "undecodable reply {e}: {:?}",
                        String::from_utf8_lossy(&self.buf)
                    ),
                }
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Everything the server sends until it closes the connection (or the timeout).
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        let _ = self.stream.read_to_end(&mut out);
        out
    }

    /// Send a command and read its reply.
    pub fn call(&mut self, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&a);
        self.read_reply().expect("reply")
    }

    /// Send a command and read its reply as lossy text.
    pub fn call_str(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.call(args)).into_owned()
    }
}
