//! The processes a lesson starts: servers (`rtool serve` as the current executable, or a real
//! `redis-server`) and taps (`rtool tap`), each on a free loopback port picked at run time.
//!
//! Every child is owned by a value whose `Drop` kills it, so an error or a panic in the
//! runner cannot leave a server behind. Ctrl-C needs more than `Drop` (the process is asked to
//! die, nothing unwinds): every child's pid is also kept in one registry, and
//! [`on_interrupt_kill_children`] starts a thread that, on SIGINT/SIGTERM/SIGHUP, kills them,
//! removes the lesson's scratch directory, and exits with 130 the way a shell reports it.

use super::client::Client;
use super::script::Kind;
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server may take to say "Ready to accept connections".
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Options every node gets before the lesson's own (which can override them). They keep the
/// lesson's files in its scratch directory and its transcript the same on every run; see
/// `lessons/README.md` for why each is there.
pub const COMMON_OPTIONS: &[&str] = &[
    "--save",
    "",
    "--appendonly",
    "no",
    "--repl-diskless-sync-delay",
    "0",
    "--repl-ping-replica-period",
    "3600",
];

/// Pids of the children alive now, and the scratch directory, for the interrupt handler.
static REGISTRY: Mutex<(Vec<u32>, Option<PathBuf>)> = Mutex::new((Vec::new(), None));

fn register(pid: u32) {
    REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .0
        .push(pid);
}

fn unregister(pid: u32) {
    REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .0
        .retain(|p| *p != pid);
}

/// Installs the Ctrl-C handler (once per process) and remembers `scratch` for it.
pub fn on_interrupt_kill_children(scratch: &Path) {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner()).1 = Some(scratch.to_path_buf());
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(_) => return,
        };
        // The handlers must exist before this function returns (a Ctrl-C right after
        // must not take the default action and orphan the children), so they are created
        // here and only awaited on the thread.
        let handlers = rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
                signal(SignalKind::hangup())?,
            ))
        });
        let Ok((mut int, mut term, mut hup)) = handlers else {
            return;
        };
        std::thread::spawn(move || {
            rt.block_on(async {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
            });
            let (pids, dir) = {
                let r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
                (r.0.clone(), r.1.clone())
            };
            for pid in pids {
                // SAFETY: kill(2) with a pid this process spawned and has not reaped
                // (reaping happens only in Drop/stop, which unregister first).
                unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGKILL);
                }
            }
            if let Some(d) = dir {
                let _ = std::fs::remove_dir_all(d);
            }
            eprintln!("rtool lesson: interrupted; every server it started was stopped");
            std::process::exit(130);
        });
    });
}

/// Forgets the scratch directory (the run removed it, or keeps it on purpose).
pub fn forget_scratch() {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner()).1 = None;
}

/// A free TCP port on 127.0.0.1, below Linux's ephemeral range (32768-60999) so that no
/// outgoing connection can be holding it when the server binds it a moment later.
pub fn free_port() -> Result<u16> {
    let seed = std::process::id().wrapping_mul(2_654_435_761)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    for i in 0..500u32 {
        let port = 12000 + (seed.wrapping_add(i.wrapping_mul(7919)) % 20000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port on 127.0.0.1 between 12000 and 32000")
}

/// The program a node of `kind` runs.
fn program(kind: Kind) -> Result<(PathBuf, Vec<String>)> {
    Ok(match kind {
        Kind::Rtool => (
            std::env::current_exe().context("finding the rtool executable")?,
            vec!["serve".into()],
        ),
        Kind::Redis => (PathBuf::from("redis-server"), vec![]),
    })
}

/// Is a real `redis-server` installed?
pub fn have_redis() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A server of the lesson.
pub struct Node {
    pub name: String,
    pub kind: Kind,
    pub port: u16,
    pub dir: PathBuf,
    /// The lesson's options with `{NAME}` already replaced by ports.
    pub options: Vec<String>,
    /// `requirepass` from the options: the runner's own connections (INFO for checks)
    /// authenticate with it.
    pub password: Option<String>,
    child: Option<Child>,
    /// Where this run of the process starts in the (appended) log file.
    log_start: u64,
}

impl Node {
    /// Starts a new node on a free port (retrying if the port is taken in the meantime).
    pub fn start(name: &str, kind: Kind, options: Vec<String>, scratch: &Path) -> Result<Node> {
        let dir = scratch.join(name);
        std::fs::create_dir_all(&dir)?;
        let password = options
            .iter()
            .position(|o| o == "--requirepass")
            .and_then(|i| options.get(i + 1))
            .cloned();
        let mut last = None;
        for _ in 0..5 {
            let mut node = Node {
                name: name.to_string(),
                kind,
                port: free_port()?,
                dir: dir.clone(),
                options: options.clone(),
                password: password.clone(),
                child: None,
                log_start: 0,
            };
            match node.spawn(&[]) {
                Ok(()) => return Ok(node),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap())
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// Is the process running?
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Starts the process (again) on this node's port, with `extra` options after its own,
    /// and waits until it is ready.
    pub fn spawn(&mut self, extra: &[String]) -> Result<()> {
        if self.running() {
            bail!("{} is already running", self.name);
        }
        let (prog, mut args) = program(self.kind)?;
        let log = self.log_path();
        self.log_start = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        args.extend(
            [
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                &self.dir.to_string_lossy(),
                "--logfile",
                &log.to_string_lossy(),
            ]
            .map(String::from),
        );
        args.extend(COMMON_OPTIONS.iter().map(|s| s.to_string()));
        args.extend(self.options.iter().cloned());
        args.extend(extra.iter().cloned());
        let child = Command::new(&prog)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", prog.display()))?;
        register(child.id());
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if !self.running() {
                let tail = self.log_since_start();
                self.reap();
                bail!(
                    "{} ({}) exited at start; its log:\n{}",
                    self.name,
                    self.kind.program(),
                    tail
                );
            }
            if self
                .log_since_start()
                .contains("Ready to accept connections")
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return Ok(());
            }
            if start.elapsed() > START_TIMEOUT {
                self.kill();
                bail!(
                    "{} did not become ready within {START_TIMEOUT:?}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The log written by the current (or last) run of the process.
    pub fn log_since_start(&self) -> String {
        let all = std::fs::read(self.log_path()).unwrap_or_default();
        let from = (self.log_start as usize).min(all.len());
        String::from_utf8_lossy(&all[from..]).into_owned()
    }

    /// The whole log, every run of the process.
    pub fn log_all(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A new connection, authenticated when the node has a password.
    pub fn client(&self) -> Result<Client> {
        let mut c = Client::connect(self.port, None)
            .with_context(|| format!("connecting to {}", self.name))?;
        if let Some(p) = &self.password {
            c.text(&["AUTH", p])?;
        }
        Ok(c)
    }

    /// Waits for the process to exit (after SHUTDOWN), up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        while self.running() {
            if start.elapsed() > timeout {
                self.kill();
                bail!("{} did not exit within {timeout:?}; killed", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.reap();
        Ok(())
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
        }
        self.reap();
    }

    fn reap(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
            unregister(c.id());
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An `rtool tap` child process in front of a node, and the lines it printed so far.
pub struct Tap {
    pub name: String,
    pub port: u16,
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
    /// Lines already shown by `show tap`.
    pub shown: usize,
}

impl Tap {
    /// Starts `rtool tap --upstream 127.0.0.1:UPSTREAM --listen 127.0.0.1:0` (the tap picks
    /// its own port and says which on stderr).
    pub fn start(name: &str, upstream: u16) -> Result<Tap> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args([
                "tap",
                "--upstream",
                &format!("127.0.0.1:{upstream}"),
                "--listen",
                "127.0.0.1:0",
                "--color",
                "never",
                "--quiet-pings",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting rtool tap")?;
        register(child.id());
        let mut err = BufReader::new(child.stderr.take().expect("piped"));
        let mut first = String::new();
        err.read_line(&mut first)?;
        // `rtool tap: listening on 127.0.0.1:PORT, upstream ...`
        let port = first
            .split("listening on 127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|p| p.trim().parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            unregister(child.id());
            bail!("rtool tap did not start: {first}");
        };
        // Later stderr lines (a failed upstream connection) are kept with the output.
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = BufReader::new(child.stdout.take().expect("piped"));
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in out.lines().map_while(|l| l.ok()) {
                l.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in err.lines().map_while(|l| l.ok()) {
                l.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        Ok(Tap {
            name: name.to_string(),
            port,
            child: Some(child),
            lines,
            shown: 0,
        })
    }

    /// Every line the tap printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            unregister(c.id());
        }
    }
}
