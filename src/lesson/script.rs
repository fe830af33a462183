//! The lesson language: one step per line, parsed into [`Step`]s before anything runs, so a
//! typo in a lesson is reported with its line number instead of half-way through a run with
//! servers already started.
//!
//! The format is described for authors in `lessons/README.md`; this file is its grammar.
//! Words in a step are split on spaces, with `'...'` or `"..."` grouping (`--save ''` is one
//! empty argument, as in a shell). `{NAME}` anywhere in a command or an option stands for the
//! port of node (or tap) `NAME`.

use std::fmt;

/// A parsed lesson.
#[derive(Debug, Clone, Default)]
pub struct Lesson {
    /// The name `rtool lesson run` takes (the file name without `.lesson`).
    pub name: String,
    pub title: String,
    /// The seed notes this lesson redoes (`000`, `001`...).
    pub seeds: Vec<String>,
    /// The lesson starts real `redis-server` nodes: without one installed it is skipped.
    pub needs_redis: bool,
    pub steps: Vec<Step>,
}

/// Which server a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `rtool serve`, run as the current executable.
    Rtool,
    /// A real `redis-server` from the PATH.
    Redis,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "rtool" => Some(Kind::Rtool),
            "redis" => Some(Kind::Redis),
            _ => None,
        }
    }

    /// The program as the learner would type it.
    pub fn program(self) -> &'static str {
        match self {
            Kind::Rtool => "rtool serve",
            Kind::Redis => "redis-server",
        }
    }
}

/// What a condition compares a field with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// Literal text.
    Text(String),
    /// Another node's INFO field, read at the same moment.
    Field { node: String, field: String },
}

/// How a field is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Is,
    IsNot,
    Contains,
}

/// `6377's sync_partial_ok is 1`: a node's INFO field against a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub node: String,
    pub field: String,
    pub compare: Compare,
    pub value: Operand,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.compare {
            Compare::Is => "is",
            Compare::IsNot => "is not",
            Compare::Contains => "contains",
        };
        write!(f, "{}'s {} {op} ", self.node, self.field)?;
        match &self.value {
            Operand::Text(t) => write!(f, "{t}"),
            Operand::Field { node, field } => write!(f, "{node}'s {field}"),
        }
    }
}

/// One step of a lesson.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Prose for the learner (an empty `say` is a blank line).
    Say(String),
    /// Start a server named `name` (the port the learner's notes used).
    Start {
        name: String,
        kind: Kind,
        options: Vec<String>,
    },
    /// Start a server again on the same port and directory (after `stop` or `kill`), with
    /// its first options plus `extra`.
    Restart { name: String, extra: Vec<String> },
    /// `SHUTDOWN [args]` the way a learner stops a server; waits until the process is gone.
    Stop { name: String, args: Vec<String> },
    /// SIGKILL: a crash, nothing saved.
    Kill { name: String },
    /// A command on a node's session (one connection per node, like a `redis-cli` window),
    /// or from a one-off connection whose source address is `from` (a loopback address).
    Command {
        node: String,
        from: Option<String>,
        args: Vec<String>,
    },
    /// The last reply, as shown, must contain this text.
    Expect(String),
    /// Print INFO `section`, or only the listed fields of it.
    Info {
        node: String,
        section: String,
        fields: Vec<String>,
    },
    /// A checkpoint that must hold now.
    Check(Condition),
    /// Poll until the condition holds, or fail after `secs`.
    Wait { cond: Condition, secs: u64 },
    /// Wait until the node's log has `times` lines containing `text`, and show them.
    Log {
        node: String,
        times: usize,
        text: String,
    },
    /// Start `rtool tap` in front of a node: replicas pointed at `{name}` go through it.
    Tap { name: String, upstream: String },
    /// Print what the tap decoded since the last `show tap`.
    ShowTap { name: String },
}

/// A lesson that does not parse: the line and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{lesson}:{line}: {msg}")]
pub struct ParseError {
    pub lesson: String,
    pub line: usize,
    pub msg: String,
}

/// Splits a step into words: spaces separate, quotes group, `''` is an empty word.
pub fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(x) => cur.push(x),
                        None => return Err(format!("unclosed {c}")),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// `6377's` -> `6377`.
fn possessive(w: &str) -> Option<&str> {
    w.strip_suffix("'s").filter(|n| !n.is_empty())
}

/// `NODE's FIELD is|is not|contains VALUE` (VALUE: `NODE's FIELD` or the rest of the line).
fn condition(s: &str) -> Result<Condition, String> {
    let usage = "expected NODE's FIELD is|is not|contains VALUE";
    let mut it = s.splitn(3, ' ');
    let node = it.next().and_then(possessive).ok_or(usage)?.to_string();
    let field = it
        .next()
        .filter(|f| !f.is_empty())
        .ok_or(usage)?
        .to_string();
    let rest = it.next().ok_or(usage)?.trim();
    let (compare, value) = if let Some(v) = rest.strip_prefix("is not ") {
        (Compare::IsNot, v)
    } else if let Some(v) = rest.strip_prefix("is ") {
        (Compare::Is, v)
    } else if let Some(v) = rest.strip_prefix("contains ") {
        (Compare::Contains, v)
    } else {
        return Err(usage.into());
    };
    let value = value.trim();
    let mut vw = value.split(' ');
    let value = match (vw.next().and_then(possessive), vw.next(), vw.next()) {
        (Some(n), Some(f), None) => Operand::Field {
            node: n.to_string(),
            field: f.to_string(),
        },
        _ => Operand::Text(value.to_string()),
    };
    Ok(Condition {
        node,
        field,
        compare,
        value,
    })
}

/// Parses a lesson's text. `name` is used in error messages and kept in the result.
pub fn parse(name: &str, text: &str) -> Result<Lesson, ParseError> {
    let mut lesson = Lesson {
        name: name.to_string(),
        ..Lesson::default()
    };
    for (i, raw) in text.lines().enumerate() {
        let err = |msg: String| ParseError {
            lesson: name.to_string(),
            line: i + 1,
            msg,
        };
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // Prose keeps its spacing after `say `.
        if trimmed == "say" {
            lesson.steps.push(Step::Say(String::new()));
            continue;
        }
        if let Some(p) = trimmed.strip_prefix("say ") {
            lesson.steps.push(Step::Say(p.to_string()));
            continue;
        }
        let step = parse_step(&mut lesson, trimmed).map_err(err)?;
        if let Some(s) = step {
            lesson.steps.push(s);
        }
    }
    if lesson.title.is_empty() {
        return Err(ParseError {
            lesson: name.to_string(),
            line: 1,
            msg: "a lesson needs a `title` line".into(),
        });
    }
    check_names(&lesson).map_err(|msg| ParseError {
        lesson: name.to_string(),
        line: 0,
        msg,
    })?;
    Ok(lesson)
}

/// One non-prose line; `None` for header lines (title, seed, needs).
fn parse_step(lesson: &mut Lesson, line: &str) -> Result<Option<Step>, String> {
    let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    // Conditions and log text are taken as written (`6377's` has a quote in it).
    let w = if matches!(head, "check" | "wait" | "log" | "expect" | "title") {
        Vec::new()
    } else {
        words(rest)?
    };
    let one = |what: &str| -> Result<String, String> {
        w.first()
            .cloned()
            .ok_or_else(|| format!("`{head}` needs {what}"))
    };
    Ok(Some(match head {
        "title" => {
            lesson.title = rest.to_string();
            return Ok(None);
        }
        "seed" => {
            lesson.seeds.extend(w);
            return Ok(None);
        }
        "needs" => {
            if rest != "redis" {
                return Err("only `needs redis` is known".into());
            }
            lesson.needs_redis = true;
            return Ok(None);
        }
        "start" => {
            let name = one("a node name")?;
            let kind = w
                .get(1)
                .and_then(|k| Kind::parse(k))
                .ok_or("`start NAME rtool|redis [OPTIONS]`")?;
            if kind == Kind::Redis {
                lesson.needs_redis = true;
            }
            Step::Start {
                name,
                kind,
                options: w[2..].to_vec(),
            }
        }
        "restart" => Step::Restart {
            name: one("a node name")?,
            extra: w.get(1..).unwrap_or_default().to_vec(),
        },
        "stop" => Step::Stop {
            name: one("a node name")?,
            args: w.get(1..).unwrap_or_default().to_vec(),
        },
        "kill" => Step::Kill {
            name: one("a node name")?,
        },
        "expect" => Step::Expect(rest.to_string()),
        "info" => {
            let node = one("a node name")?;
            let section = w.get(1).cloned().unwrap_or_else(|| "replication".into());
            Step::Info {
                node,
                section,
                fields: w.get(2..).unwrap_or_default().to_vec(),
            }
        }
        "check" => Step::Check(condition(rest)?),
        "wait" => {
            let c = rest
                .strip_prefix("until ")
                .ok_or("`wait until NODE's FIELD is VALUE [within N s]`")?;
            let (c, secs) = match c.rsplit_once(" within ") {
                Some((c, t)) => {
                    let n = t
                        .trim_end_matches('s')
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad deadline {t:?}"))?;
                    (c, n)
                }
                None => (c, 20),
            };
            Step::Wait {
                cond: condition(c)?,
                secs,
            }
        }
        "log" => {
            // `log NODE [N times] TEXT`
            let (node, text) = rest.split_once(' ').ok_or("`log NODE [N times] TEXT`")?;
            let text = text.trim();
            let (times, text) = match text.split_once(" times ") {
                Some((n, t)) if n.parse::<usize>().is_ok() => (n.parse().unwrap(), t.trim()),
                _ => (1, text),
            };
            Step::Log {
                node: node.to_string(),
                times,
                text: text.to_string(),
            }
        }
        "tap" => match w.as_slice() {
            [name, to, upstream] if to == "to" => Step::Tap {
                name: name.clone(),
                upstream: upstream.clone(),
            },
            _ => return Err("`tap NAME to NODE`".into()),
        },
        "show" => match w.as_slice() {
            [t, name] if t == "tap" => Step::ShowTap { name: name.clone() },
            _ => return Err("`show tap NAME`".into()),
        },
        "from" => {
            // `from 127.0.0.2 6379> PING`
            let (addr, cmd) = rest.split_once(' ').ok_or("`from ADDR NODE> COMMAND`")?;
            match command(cmd.trim())? {
                Some(Step::Command { node, args, .. }) => Step::Command {
                    node,
                    from: Some(addr.to_string()),
                    args,
                },
                _ => return Err("`from ADDR NODE> COMMAND`".into()),
            }
        }
        _ => match command(line)? {
            Some(s) => s,
            None => return Err(format!("unknown step `{head}`")),
        },
    }))
}

/// `6379> SET k v`
fn command(line: &str) -> Result<Option<Step>, String> {
    let Some((node, cmd)) = line.split_once("> ") else {
        return Ok(None);
    };
    if node.contains(' ') || node.is_empty() {
        return Ok(None);
    }
    let args = words(cmd)?;
    if args.is_empty() {
        return Err("a command line needs a command".into());
    }
    Ok(Some(Step::Command {
        node: node.to_string(),
        from: None,
        args,
    }))
}

/// Every node a step names was started (or is a tap) earlier in the lesson.
fn check_names(l: &Lesson) -> Result<(), String> {
    let mut known: Vec<&str> = Vec::new();
    let need = |known: &Vec<&str>, n: &str, what: &str| {
        if known.contains(&n) {
            Ok(())
        } else {
            Err(format!(
                "{what} names `{n}`, which no earlier `start` or `tap` made"
            ))
        }
    };
    for s in &l.steps {
        match s {
            Step::Start { name, .. } => known.push(name),
            Step::Tap { name, upstream } => {
                need(&known, upstream, "tap")?;
                known.push(name);
            }
            Step::Restart { name, .. } | Step::Stop { name, .. } | Step::Kill { name } => {
                need(&known, name, "a step")?
            }
            Step::Command { node, .. } | Step::Info { node, .. } | Step::Log { node, .. } => {
                need(&known, node, "a step")?
            }
            Step::Check(c) | Step::Wait { cond: c, .. } => {
                need(&known, &c.node, "a condition")?;
                if let Operand::Field { node, .. } = &c.value {
                    need(&known, node, "a condition")?;
                }
            }
            Step::ShowTap { name } => need(&known, name, "show tap")?,
            Step::Say(_) | Step::Expect(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(words("a  'b c' '' d").unwrap(), ["a", "b c", "", "d"]);
        assert_eq!(words("--save \"3600 1\"").unwrap(), ["--save", "3600 1"]);
        assert!(words("'open").is_err());
    }

    #[test]
    fn parses_every_step() {
        let text = "title T\nseed 000 002\nsay Hello\nsay\n\
            start 6379 rtool\nstart 6378 redis --replicaof 127.0.0.1 {6379}\n\
            6379> SET name redis\nexpect OK\ninfo 6379 replication role\n\
            check 6378's master_link_status is up\n\
            wait until 6378's slave_repl_offset is 6379's master_repl_offset within 5s\n\
            log 6378 2 times Error condition\nstop 6378 NOSAVE\nrestart 6378\nkill 6379\n\
            tap t to 6379\nshow tap t\nfrom 127.0.0.2 6379> PING\n";
        let l = parse("t", text).unwrap();
        assert!(l.needs_redis);
        assert_eq!(l.seeds, ["000", "002"]);
        assert_eq!(l.steps.len(), 16);
        assert_eq!(
            l.steps[8],
            Step::Wait {
                cond: Condition {
                    node: "6378".into(),
                    field: "slave_repl_offset".into(),
                    compare: Compare::Is,
                    value: Operand::Field {
                        node: "6379".into(),
                        field: "master_repl_offset".into()
                    }
                },
                secs: 5
            }
        );
        assert_eq!(
            l.steps[9],
            Step::Log {
                node: "6378".into(),
                times: 2,
                text: "Error condition".into()
            }
        );
        assert!(matches!(&l.steps[15], Step::Command { from: Some(a), .. } if a == "127.0.0.2"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("x", "title T\nstart 6379 rtool\nfrob 1\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("x", "title T\n6379> PING\n").unwrap_err();
        assert!(e.msg.contains("no earlier `start`"), "{e}");
        assert!(parse("x", "start 1 rtool\n").is_err());
    }
}
