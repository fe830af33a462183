//! Running a lesson: each [`Step`] in order, a transcript to any `Write`.
//!
//! The runner owns every process it starts (see [`node`]) and drops them all
//! when it ends, whichever way it ends. Checkpoints that fail are shown and counted, and the
//! lesson goes on (the learner sees the rest); a `wait` that times out, or a node that will
//! not start, stops the lesson, since every later step assumes it.

use super::client::{Client, cli_text, info_field};
use super::mask::Masker;
use super::node::{self, Node, Tap};
use super::script::{Compare, Condition, Kind, Lesson, Operand, Step};
use crate::present::{Paint, Role};
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How a lesson is run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub paint: Paint,
    /// Run every node with this server instead of the one the lesson names.
    pub server: Option<Kind>,
    /// Keep the scratch directory (data and logs of every node) and say where it is.
    pub keep: bool,
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every checkpoint held.
    Passed { checks: usize },
    /// Some checkpoints failed (the lesson ran to its end, or stopped at a failed wait).
    Failed { failed: usize, checks: usize },
    /// The lesson needs `redis-server`, which is not installed.
    Skipped,
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Passed { .. } | Outcome::Skipped => 0,
            Outcome::Failed { .. } => 1,
        }
    }
}

struct Runner<'a, W: Write> {
    out: W,
    opt: &'a Options,
    mask: Masker,
    nodes: HashMap<String, Node>,
    taps: HashMap<String, Tap>,
    /// One session per node, like a redis-cli window kept open.
    sessions: HashMap<String, Client>,
    /// Each node's options as the transcript shows them (`{6379}` as `6379`).
    shown_options: HashMap<String, Vec<String>>,
    scratch: PathBuf,
    last_reply: String,
    checks: usize,
    failed: usize,
}

/// Runs `lesson`, writing its transcript to `out`.
pub fn run<W: Write>(lesson: &Lesson, opt: &Options, out: W) -> Result<Outcome> {
    let needs_redis = match opt.server {
        Some(k) => k == Kind::Redis,
        None => lesson.needs_redis,
    };
    let mut r = Runner {
        out,
        opt,
        mask: Masker::new(),
        nodes: HashMap::new(),
        taps: HashMap::new(),
        sessions: HashMap::new(),
        shown_options: HashMap::new(),
        scratch: PathBuf::new(),
        last_reply: String::new(),
        checks: 0,
        failed: 0,
    };
    r.header(lesson)?;
    if needs_redis && !node::have_redis() {
        writeln!(
            r.out,
            "Skipped: this lesson starts real Redis (redis-server), which is not installed here."
        )?;
        return Ok(Outcome::Skipped);
    }
    r.scratch = std::env::temp_dir().join(format!(
        "rtool-lesson-{}-{}",
        lesson.name,
        std::process::id()
    ));
    std::fs::create_dir_all(&r.scratch)
        .with_context(|| format!("creating {}", r.scratch.display()))?;
    node::on_interrupt_kill_children(&r.scratch);
    let res = r.steps(lesson);
    // Stop everything before saying how it went, so nothing outlives the verdict.
    r.sessions.clear();
    r.taps.clear();
    let logs: Vec<(String, String)> = r
        .nodes
        .iter()
        .map(|(n, node)| (n.clone(), node.log_all()))
        .collect();
    r.nodes.clear();
    if opt.keep {
        writeln!(
            r.out,
            "\n(kept the data and logs of every node in {})",
            r.scratch.display()
        )?;
    } else {
        let _ = std::fs::remove_dir_all(&r.scratch);
    }
    node::forget_scratch();
    if let Err(e) = res {
        r.failed += 1;
        let t = r.opt.paint.paint(Role::Bad, format!("✗ {e:#}"));
        writeln!(r.out, "{t}")?;
        // The logs explain most failures; they go to stderr, unmasked, for whoever debugs.
        for (n, log) in logs {
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            eprintln!("--- last lines of {n}'s log ---");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
    let checks = r.checks;
    let outcome = if r.failed == 0 {
        writeln!(r.out, "\nAll {checks} checkpoints passed.")?;
        Outcome::Passed { checks }
    } else {
        let t = format!("\n{} of {checks} checkpoints failed.\n", r.failed);
        writeln!(r.out, "{}", r.opt.paint.paint(Role::Bad, t))?;
        Outcome::Failed {
            failed: r.failed,
            checks,
        }
    };
    r.out.flush()?;
    Ok(outcome)
}

impl<W: Write> Runner<'_, W> {
    fn header(&mut self, l: &Lesson) -> Result<()> {
        let seeds = if l.seeds.is_empty() {
            String::new()
        } else {
            format!(" (seed {})", l.seeds.join(", "))
        };
        let h = format!("Lesson {}: {}{seeds}", l.name, l.title);
        writeln!(self.out, "{}", self.opt.paint.paint(Role::Heading, h))?;
        let common: Vec<String> = node::COMMON_OPTIONS
            .chunks(2)
            .map(|c| format!("{} {}", c[0], if c[1].is_empty() { "''" } else { c[1] }))
            .collect();
        writeln!(
            self.out,
            "(Every server listens on 127.0.0.1 on a free port, shown by the name the notes \
             used.\n Each also gets {}.)",
            common.join(" ")
        )?;
        Ok(())
    }

    /// Writes output of a node or a tap, masked.
    fn show(&mut self, text: &str) -> Result<()> {
        let t = self.mask.mask(text);
        writeln!(self.out, "{t}")?;
        Ok(())
    }

    fn steps(&mut self, l: &Lesson) -> Result<()> {
        for s in &l.steps {
            self.step(s)?;
        }
        Ok(())
    }

    /// The port a `{NAME}` stands for.
    fn port_of(&self, name: &str) -> Option<u16> {
        self.nodes
            .get(name)
            .map(|n| n.port)
            .or_else(|| self.taps.get(name).map(|t| t.port))
    }

    /// `{NAME}` -> port (for the process) and -> NAME (for the transcript).
    fn resolve(&self, args: &[String]) -> Result<(Vec<String>, Vec<String>)> {
        let mut real = Vec::new();
        let mut shown = Vec::new();
        for a in args {
            let mut r = String::new();
            let mut s = String::new();
            let mut rest = a.as_str();
            while let Some(open) = rest.find('{') {
                let Some(close) = rest[open..].find('}') else {
                    break;
                };
                let name = &rest[open + 1..open + close];
                let port = self
                    .port_of(name)
                    .with_context(|| format!("{{{name}}} names no node or tap"))?;
                r.push_str(&rest[..open]);
                s.push_str(&rest[..open]);
                r.push_str(&port.to_string());
                s.push_str(name);
                rest = &rest[open + close + 1..];
            }
            r.push_str(rest);
            s.push_str(rest);
            real.push(r);
            shown.push(s);
        }
        Ok((real, shown))
    }

    fn node(&mut self, name: &str) -> Result<&mut Node> {
        self.nodes
            .get_mut(name)
            .with_context(|| format!("no node {name}"))
    }

    fn prompt(&self, node: &str) -> String {
        self.opt
            .paint
            .paint(Role::Heading, format!("127.0.0.1:{node}>"))
    }

    fn shell_line(&mut self, kind: Kind, port_name: &str, shown: &[String]) -> Result<()> {
        let mut line = format!("$ {} --port {port_name}", kind.program());
        for a in shown {
            line.push(' ');
            if a.is_empty() || a.contains(' ') {
                line.push_str(&format!("'{a}'"));
            } else {
                line.push_str(a);
            }
        }
        let t = self.opt.paint.paint(Role::Heading, line);
        writeln!(self.out, "{t}")?;
        Ok(())
    }

    fn checkpoint(&mut self, ok: bool, what: &str, got: Option<&str>) -> Result<()> {
        self.checks += 1;
        if ok {
            let t = self.opt.paint.paint(Role::Good, format!("✓ {what}"));
            writeln!(self.out, "{t}")?;
        } else {
            self.failed += 1;
            let got = got.map(|g| format!(" (it is {g:?})")).unwrap_or_default();
            let t = self
                .opt
                .paint
                .paint(Role::Bad, format!("✗ checkpoint failed: {what}{got}"));
            writeln!(self.out, "{t}")?;
        }
        Ok(())
    }

    fn step(&mut self, s: &Step) -> Result<()> {
        match s {
            Step::Say(t) => {
                writeln!(self.out, "{t}")?;
            }
            Step::Start {
                name,
                kind,
                options,
            } => {
                let kind = self.opt.server.unwrap_or(*kind);
                let (real, shown) = self.resolve(options)?;
                self.shell_line(kind, name, &shown)?;
                self.shown_options.insert(name.clone(), shown);
                let node = Node::start(name, kind, real, &self.scratch)?;
                self.mask.name_port(node.port, name);
                self.nodes.insert(name.clone(), node);
            }
            Step::Restart { name, extra } => {
                let (real, shown) = self.resolve(extra)?;
                let kind = self.node(name)?.kind;
                // The node's options the way the lesson wrote them, then the new ones.
                let mut all_shown = self.shown_options.get(name).cloned().unwrap_or_default();
                all_shown.extend(shown);
                self.shell_line(kind, name, &all_shown)?;
                self.sessions.remove(name);
                self.node(name)?.spawn(&real)?;
            }
            Step::Stop { name, args } => {
                let mut cmd = vec!["SHUTDOWN".to_string()];
                cmd.extend(args.iter().cloned());
                writeln!(self.out, "{} {}", self.prompt(name), cmd.join(" "))?;
                self.sessions.remove(name);
                let node = self.node(name)?;
                let mut c = node.client()?;
                let refs: Vec<&str> = cmd.iter().map(|s| s.as_str()).collect();
                // A successful SHUTDOWN has no reply: the connection just closes.
                if let Some(f) = c.call(&refs)? {
                    bail!("SHUTDOWN was refused: {}", cli_text(&f));
                }
                node.wait_exit(Duration::from_secs(20))?;
                writeln!(self.out, "(the server at {name} has exited)")?;
            }
            Step::Kill { name } => {
                writeln!(self.out, "$ kill -9 <pid of {name}>")?;
                self.sessions.remove(name);
                self.node(name)?.kill();
                writeln!(self.out, "(the server at {name} is gone)")?;
            }
            Step::Command { node, from, args } => self.command(node, from.as_deref(), args)?,
            Step::Expect(text) => {
                let ok = self.last_reply.contains(text.as_str());
                let last = self.last_reply.clone();
                self.checkpoint(
                    ok,
                    &format!("the reply contains {text:?}"),
                    (!ok).then_some(last.as_str()),
                )?;
            }
            Step::Info {
                node,
                section,
                fields,
            } => {
                let text = self.node(node)?.client()?.text(&["INFO", section])?;
                let mut shown = format!("{} INFO {section}", self.prompt(node));
                if !fields.is_empty() {
                    shown.push_str("\n# (only the fields this step looks at)");
                }
                if fields.is_empty() {
                    shown.push('\n');
                    shown.push_str(text.replace('\r', "").trim_end());
                } else {
                    for f in fields {
                        let v = info_field(&text, f).unwrap_or_else(|| "(no such field)".into());
                        shown.push_str(&format!("\n{f}:{v}"));
                    }
                }
                self.show(&shown)?;
            }
            Step::Check(c) => {
                let (ok, got) = self.holds(c)?;
                self.checkpoint(ok, &c.to_string(), (!ok).then_some(got.as_str()))?;
            }
            Step::Wait { cond, secs } => {
                let start = Instant::now();
                loop {
                    let (ok, got) = self.holds(cond).unwrap_or((false, "unreachable".into()));
                    if ok {
                        self.checkpoint(true, &format!("{cond} (waited for it)"), None)?;
                        break;
                    }
                    if start.elapsed() > Duration::from_secs(*secs) {
                        let got = self.mask.mask(&got);
                        self.checkpoint(false, &format!("{cond} within {secs}s"), Some(&got))?;
                        bail!("stopping here: the steps after this wait depend on it");
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Step::Log { node, times, text } => self.log(node, *times, text)?,
            Step::Tap { name, upstream } => {
                let port = self
                    .port_of(upstream)
                    .with_context(|| format!("no node {upstream}"))?;
                let t = format!(
                    "$ rtool tap --upstream 127.0.0.1:{upstream} --listen 127.0.0.1:{name}"
                );
                writeln!(self.out, "{}", self.opt.paint.paint(Role::Heading, t))?;
                let tap = Tap::start(name, port)?;
                self.mask.name_port(tap.port, name);
                self.taps.insert(name.clone(), tap);
            }
            Step::ShowTap { name } => self.show_tap(name)?,
        }
        Ok(())
    }

    fn command(&mut self, node: &str, from: Option<&str>, args: &[String]) -> Result<()> {
        let (real, shown) = self.resolve(args)?;
        let mut line = String::new();
        if let Some(f) = from {
            line.push_str(&format!("(connected from {f}) "));
        }
        line.push_str(&format!("{} {}", self.prompt(node), shown.join(" ")));
        writeln!(self.out, "{line}")?;
        let refs: Vec<&str> = real.iter().map(|s| s.as_str()).collect();
        let reply = match from {
            Some(addr) => {
                let ip = addr
                    .parse()
                    .with_context(|| format!("bad address {addr}"))?;
                let port = self.node(node)?.port;
                let mut c = Client::connect(port, Some(ip))?;
                c.call(&refs)?
            }
            None => {
                if !self.sessions.contains_key(node) {
                    let port = self.node(node)?.port;
                    let c = Client::connect(port, None)
                        .with_context(|| format!("connecting to {node}"))?;
                    self.sessions.insert(node.to_string(), c);
                }
                let c = self.sessions.get_mut(node).expect("just made");
                c.call(&refs)?
            }
        };
        let text = match reply {
            Some(f) => cli_text(&f),
            None => {
                self.sessions.remove(node);
                "(the server closed the connection)".to_string()
            }
        };
        let text = self.mask.mask(&text);
        writeln!(self.out, "{text}")?;
        self.last_reply = text;
        Ok(())
    }

    /// Reads the INFO field a condition names.
    fn field(&mut self, node: &str, field: &str) -> Result<String> {
        let n = self.node(node)?;
        if !n.running() {
            bail!("{node} is not running");
        }
        let text = n.client()?.text(&["INFO", "everything"])?;
        Ok(info_field(&text, field).unwrap_or_default())
    }

    /// Does the condition hold now? Also returns the value seen.
    fn holds(&mut self, c: &Condition) -> Result<(bool, String)> {
        let got = self.field(&c.node, &c.field)?;
        let want = match &c.value {
            Operand::Text(t) => t.clone(),
            Operand::Field { node, field } => self.field(node, field)?,
        };
        let ok = match c.compare {
            Compare::Is => got == want,
            Compare::IsNot => got != want,
            Compare::Contains => got.contains(&want),
        };
        Ok((ok, got))
    }

    /// Waits until the node's log has `times` lines containing `text`, then shows them
    /// without their pid and time (`S * message`).
    fn log(&mut self, node: &str, times: usize, text: &str) -> Result<()> {
        let start = Instant::now();
        let found = loop {
            let log = self.node(node)?.log_all();
            let log = self.mask.ports_only(&log);
            let hits: Vec<String> = log
                .lines()
                .filter(|l| l.contains(text))
                .take(times)
                .map(strip_log_prefix)
                .collect();
            if hits.len() >= times {
                break Some(hits);
            }
            if start.elapsed() > Duration::from_secs(20) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let what = if times == 1 {
            format!("{node}'s log says {text:?}")
        } else {
            format!("{node}'s log says {text:?} {times} times")
        };
        match found {
            Some(lines) => {
                let mut shown = String::new();
                for l in &lines {
                    shown.push_str(&format!("[{node} log] {l}\n"));
                }
                self.show(shown.trim_end())?;
                self.checkpoint(true, &what, None)
            }
            None => {
                self.checkpoint(false, &what, None)?;
                bail!("stopping here: the log line never came")
            }
        }
    }

    /// Prints the tap's new lines once it has been quiet for a moment. The replica's
    /// `REPLCONF ACK`s (one a second, so their number depends on timing) are left out.
    fn show_tap(&mut self, name: &str) -> Result<()> {
        let wanted = |l: &String| !l.contains("\"ACK\"") && !l.contains("REPLCONF ACK");
        let start = Instant::now();
        let mut seen = 0;
        let mut quiet_since = Instant::now();
        loop {
            let tap = self
                .taps
                .get(name)
                .with_context(|| format!("no tap {name}"))?;
            let n = tap.lines().iter().filter(|l| wanted(l)).count();
            if n != seen {
                seen = n;
                quiet_since = Instant::now();
            }
            if quiet_since.elapsed() > Duration::from_millis(700)
                || start.elapsed() > Duration::from_secs(10)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let tap = self.taps.get_mut(name).expect("checked");
        let lines = tap.lines();
        let new: Vec<String> = lines[tap.shown..]
            .iter()
            .filter(|l| wanted(l))
            .cloned()
            .collect();
        tap.shown = lines.len();
        let new = pair_handshake(new)
            .into_iter()
            .map(|l| without_ack_bytes(&l))
            .collect::<Vec<_>>();
        let t = self
            .opt
            .paint
            .paint(Role::Heading, format!("(what tap {name} decoded)"));
        writeln!(self.out, "{t}")?;
        self.show(&new.join("\n"))
    }
}

/// A replica sends its handshake pipelined (Redis 7.0 writes AUTH, REPLCONF listening-port
/// and REPLCONF capa at once), so whether the master's first `+OK` is read before or after
/// the replica's last REPLCONF is a matter of scheduling, and a live tap prints them in the
/// order they happened to arrive. For a transcript that is the same on every run, each
/// handshake section is shown as request, reply, request, reply: the order in which the
/// replies answer the requests, which the offsets on each line still tell exactly.
fn pair_handshake(lines: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        out.push(lines[i].clone());
        if !lines[i].contains("· handshake ──") {
            i += 1;
            continue;
        }
        i += 1;
        let end = lines[i..]
            .iter()
            .position(|l| l.starts_with("──"))
            .map_or(lines.len(), |p| i + p);
        let (mut asks, mut answers): (Vec<&String>, Vec<&String>) =
            lines[i..end].iter().partition(|l| l.contains(" R→M "));
        asks.reverse();
        answers.reverse();
        while let Some(a) = asks.pop() {
            out.push(a.clone());
            if let Some(b) = answers.pop() {
                out.push(b.clone());
            }
        }
        out.extend(answers.into_iter().rev().cloned());
        i = end;
    }
    out
}

/// The replica's direction of a link carries the ACKs `show tap` leaves out, so its byte
/// count at close depends on timing too: `replica->master closed after 1234 bytes` -> `<n> bytes`.
/// The number of keepalives (`\n`s a master sends while it prepares a snapshot) depends on
/// how long the snapshot took: `<k> keepalives`.
fn without_ack_bytes(line: &str) -> String {
    let line = match line.split_once(" replica->master closed after ") {
        Some((head, rest)) => match rest.split_once(" bytes") {
            Some((_, tail)) => format!("{head} replica->master closed after <n> bytes{tail}"),
            None => line.to_string(),
        },
        None => line.to_string(),
    };
    match line.split_once(" closed after ") {
        Some((head, rest)) => match rest.split_once(" keepalives") {
            Some((before, tail)) => match before.rsplit_once(", ") {
                Some((bytes, _)) => {
                    format!("{head} closed after {bytes}, <k> keepalives{tail}")
                }
                None => line.clone(),
            },
            None => line.clone(),
        },
        None => line,
    }
}

/// `12345:S 23 Nov 2026 10:00:00.000 * text` -> `S * text`.
fn strip_log_prefix(line: &str) -> String {
    let mut parts = line.splitn(6, ' ');
    let (Some(pid_role), Some(_d), Some(_m), Some(_y), Some(_t), Some(rest)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return line.to_string();
    };
    match pid_role.split_once(':') {
        Some((pid, role)) if pid.bytes().all(|b| b.is_ascii_digit()) => format!("{role} {rest}"),
        _ => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_is_paired_and_ack_bytes_hidden() {
        let lines: Vec<String> = [
            "── conn 1 · handshake ──",
            "#1 R→M        0+14    \"PING\"",
            "#1 R→M       14+50    \"REPLCONF\" \"listening-port\" \"6381\"",
            "#1 M→R        0+7     +PONG",
            "#1 M→R        7+5     +OK",
            "── conn 1 · PSYNC ──",
            "#1 replica->master closed after 300 bytes, 0 keepalives",
        ]
        .map(String::from)
        .to_vec();
        let out: Vec<String> = pair_handshake(lines)
            .iter()
            .map(|l| without_ack_bytes(l))
            .collect();
        assert!(
            out[2].contains("+PONG") && out[4].contains("+OK"),
            "{out:?}"
        );
        assert_eq!(
            out[6],
            "#1 replica->master closed after <n> bytes, <k> keepalives"
        );
    }

    #[test]
    fn log_prefix_is_stripped() {
        assert_eq!(
            strip_log_prefix(
                "69219:S 29 May 2026 11:12:07.132 # Error condition on socket for SYNC: Connection refused"
            ),
            "S # Error condition on socket for SYNC: Connection refused"
        );
        assert_eq!(strip_log_prefix("no prefix here"), "no prefix here");
    }
}
