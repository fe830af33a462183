//! `rtool aof dump PATH` and `rtool aof check PATH`: the files of an AOF (a single file, an
//! AOF directory, or its manifest; [`crate::aof::layout`]) pushed through the one AOF reader
//! ([`crate::aof::reader`]) into a printer of [`crate::present::aof`], or into
//! `redis-check-aof`'s verdict ([`crate::aof::check`]).
//!
//! `check` prints `redis-check-aof`'s own lines (so the two can be held side by side and
//! compared by a test), plus rtool's explanation of what is wrong and what a fix cut. Its
//! exit status is `redis-check-aof`'s: 0 when the AOF is valid or was repaired, 1 otherwise.

use super::rdb::ColorChoice;
use crate::aof::check::{CheckOptions, FileCheck, Problem, check_file};
use crate::aof::layout::{self, Layout, LayoutError};
use crate::aof::manifest::FileType;
use crate::aof::reader::AofErrorKind;
use crate::cmd::table::Table;
use crate::present::Paint;
use crate::present::aof::{AofFilter, AofHex, AofJson, AofResp, AofSink, AofStats, AofText};
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// `rtool aof ...`
#[derive(Args, Debug)]
pub struct AofArgs {
    #[command(subcommand)]
    pub command: AofCommand,
}

#[derive(Subcommand, Debug)]
pub enum AofCommand {
    /// Show every command of an AOF with its file, byte offset, database and `#TS:` time; an
    /// RDB preamble as `rdb dump` shows it; the manifest explained.
    ///
    /// PATH is an AOF directory (appendonlydir), its manifest, or a single AOF file.
    ///
    /// Examples:
    ///   rtool aof dump appendonlydir
    ///   rtool aof dump appendonlydir --format json --key 'user:*' | jq .args
    ///   rtool aof dump appendonly.aof --cmd del --db 0
    ///   rtool aof dump appendonlydir --stats
    #[command(verbatim_doc_comment)]
    Dump(DumpArgs),
    /// Check an AOF like redis-check-aof: the first bad offset (file, offset, line, what was
    /// expected). `--fix` cuts a torn or bad tail of the last file after keeping a backup;
    /// `--truncate-to-timestamp TS` cuts the last file at the first `#TS:` later than TS.
    /// Exit status 0 if the AOF is valid (or was repaired), 1 if not.
    Check(CheckArgs),
    /// Rewrite an AOF offline, like BGREWRITEAOF without a server: replay it into memory and
    /// write the shortest AOF for the result (a Redis 7 directory or one file), explaining
    /// per key how many commands collapsed into how many.
    ///
    /// Examples:
    ///   rtool aof rewrite appendonlydir --out /data/new/appendonlydir
    ///   rtool aof rewrite appendonly.aof --single-file small.aof --preamble no
    ///   rtool aof rewrite appendonlydir --out new --format json | jq .top
    #[command(verbatim_doc_comment)]
    Rewrite(super::aof_rewrite::RewriteArgs),
}

/// Output formats of `aof dump`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per command: offset, length, database, the command.
    Text,
    /// JSON Lines: one object per command, annotation, manifest entry and preamble record.
    Json,
    /// The commands as RESP (for `redis-cli --pipe`).
    Resp,
}

#[derive(Args, Debug)]
pub struct DumpArgs {
    /// An AOF directory, a manifest, or a single AOF file.
    pub path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// A hex dump (hexyl) of each shown command's bytes instead.
    #[arg(long, conflicts_with_all = ["format", "stats"])]
    pub hex: bool,
    /// Counts per command name, key prefix and database, and bytes per file, instead.
    #[arg(long)]
    pub stats: bool,
    /// Only commands applied to this database (after the file's SELECTs).
    #[arg(long, value_name = "N")]
    pub db: Option<u64>,
    /// Only commands naming a key that matches this glob (KEYS syntax: `*`, `?`, `[abc]`, `\x`).
    #[arg(long, value_name = "GLOB")]
    pub key: Option<String>,
    /// Only these commands (case-insensitive; repeat or separate with commas).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub cmd: Vec<String>,
    /// Colour: auto (stdout is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// An AOF directory, a manifest, or a single AOF file.
    pub path: PathBuf,
    /// Cut the bad tail of the last file off (a copy of the file is kept first).
    #[arg(long, conflicts_with = "truncate_to_timestamp")]
    pub fix: bool,
    /// Cut the last file at its first `#TS:` annotation later than this unix time (seconds).
    #[arg(long, value_name = "TS", allow_hyphen_values = true)]
    pub truncate_to_timestamp: Option<String>,
}

/// Runs `rtool aof ...`; returns the exit status.
pub fn run(args: AofArgs) -> Result<i32> {
    match args.command {
        AofCommand::Dump(a) => dump(a),
        AofCommand::Check(a) => check(a),
        AofCommand::Rewrite(a) => super::aof_rewrite::run(a),
    }
}

fn paint(choice: ColorChoice) -> Paint {
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    Paint { on }
}

fn dump(a: DumpArgs) -> Result<i32> {
    let layout = Layout::open(&a.path)?;
    let filter = AofFilter {
        db: a.db,
        key: a.key.as_ref().map(|k| k.as_bytes().to_vec()),
        cmd: a
            .cmd
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| c.to_ascii_lowercase().into_bytes())
            .collect(),
    };
    let paint = paint(a.color);
    let out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut sink: Box<dyn AofSink> = if a.stats {
        Box::new(AofStats::new(out, a.format == Format::Json))
    } else if a.hex {
        Box::new(AofHex::new(out, paint))
    } else {
        match a.format {
            Format::Text => Box::new(AofText::new(out, paint, None)),
            Format::Json => Box::new(AofJson::new(out)),
            Format::Resp => Box::new(AofResp::new(out)),
        }
    };
    let table = Table::new(&[]);
    sink.layout(&layout)?;
    let mut failed = false;
    for part in layout.load_order() {
        let f = match File::open(&part.path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("rtool: cannot open {}: {e}", part.path.display());
                failed = true;
                continue;
            }
        };
        sink.file_start(part, Box::new(f.try_clone()?))?;
        // Loading reads any file that starts with "REDIS" as an RDB, base or not.
        let o = crate::present::aof::dump_file(part, f, true, &filter, &table, &mut *sink)?;
        if let Some(e) = o.error {
            eprintln!("rtool: {}: {e}", part.name);
            failed = true;
        }
    }
    sink.finish()?;
    Ok(i32::from(failed))
}

// ---------------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------------

/// C's `strtol(s, &end, 10)` with `*end == '\0'` required, as `redis-check-aof` parses its
/// timestamp argument.
fn parse_timestamp(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        // No digits: strtol converts nothing and stops at the start, which is "\0" only for
        // the empty string (Redis then cuts at any timestamp > 0).
        return s.is_empty().then_some(0);
    }
    let v: i64 = digits.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// What the whole run decided, in `redis-check-aof`'s terms.
enum Outcome {
    /// Keep going with the next file.
    Next,
    /// Stop with this exit status.
    Exit(i32),
}

struct Checker<'a> {
    out: &'a mut dyn Write,
    fix: bool,
    to_timestamp: Option<i64>,
    /// `redis-check-aof`'s line counter, global over the files it reads.
    line: u64,
}

impl Checker<'_> {
    /// `checkSingleAof` and the lines its callers print about one file.
    fn file(
        &mut self,
        label: &str,
        name: &str,
        path: &Path,
        last: bool,
        preamble: bool,
    ) -> Result<Outcome> {
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                writeln!(
                    self.out,
                    "Cannot open file {}: {}, aborting...",
                    path.display(),
                    strerror(&e)
                )?;
                return Ok(Outcome::Exit(1));
            }
        };
        let size = f.metadata()?.len();
        if size == 0 {
            writeln!(self.out, "{label}{name} is empty")?;
            return Ok(Outcome::Next);
        }
        let c = check_file(
            io::BufReader::with_capacity(1 << 16, f),
            CheckOptions {
                preamble,
                to_timestamp: self.to_timestamp,
            },
        )
        .with_context(|| format!("reading {}", path.display()))?;
        self.line += c.lines;
        if let Some((end, keys)) = c.preamble {
            writeln!(
                self.out,
                "RDB preamble: {keys} key(s), checksum OK, ends at offset {end}"
            )?;
            writeln!(self.out, "RDB preamble is OK, proceeding with AOF tail...")?;
        } else if preamble
            && let Some(Problem::Aof(e)) = &c.problem
            && let AofErrorKind::Rdb(r) = &e.kind
        {
            writeln!(self.out, "{r}")?;
            writeln!(self.out, "RDB preamble of AOF file is not sane, aborting.")?;
            return Ok(Outcome::Exit(1));
        }
        if let Some(p) = &c.problem {
            if let Problem::InvalidTimestamp { .. } = p {
                writeln!(self.out, "Invalid timestamp annotation")?;
                return Ok(Outcome::Exit(1));
            }
            writeln!(self.out, "{}", describe(p, name))?;
        }
        if let Some(at) = c.timestamp_cut {
            return self.cut_at_timestamp(label, name, path, last, at, &c);
        }
        let diff = c.size - c.ok_up_to;
        if diff == 0 && self.to_timestamp.is_some() {
            writeln!(
                self.out,
                "Truncate nothing in AOF {name} to timestamp {}",
                self.to_timestamp.unwrap_or(0)
            )?;
            writeln!(self.out, "{label}{name} is valid")?;
            return Ok(Outcome::Next);
        }
        writeln!(
            self.out,
            "AOF analyzed: filename={name}, size={}, ok_up_to={}, ok_up_to_line={}, diff={diff}",
            c.size, c.ok_up_to, self.line
        )?;
        if diff == 0 {
            writeln!(self.out, "{label}{name} is valid")?;
            return Ok(Outcome::Next);
        }
        if !self.fix {
            writeln!(
                self.out,
                "AOF {name} is not valid. Use the --fix option to try fixing it."
            )?;
            return Ok(Outcome::Exit(1));
        }
        if !last {
            writeln!(
                self.out,
                "Failed to truncate AOF {name} because it is not the last file"
            )?;
            return Ok(Outcome::Exit(1));
        }
        if c.problem.as_ref().is_some_and(|p| !p.fixable()) {
            writeln!(self.out, "AOF {name} cannot be fixed by cutting its tail")?;
            return Ok(Outcome::Exit(1));
        }
        writeln!(
            self.out,
            "This will shrink the AOF {name} from {} bytes, with {diff} bytes, to {} bytes",
            c.size, c.ok_up_to
        )?;
        let backup = truncate_with_backup(path, c.ok_up_to)?;
        writeln!(self.out, "Backup of the original: {}", backup.display())?;
        writeln!(self.out, "{}", what_was_cut(&c))?;
        writeln!(self.out, "Successfully truncated AOF {name}")?;
        Ok(Outcome::Next)
    }

    fn cut_at_timestamp(
        &mut self,
        _label: &str,
        name: &str,
        path: &Path,
        last: bool,
        at: u64,
        c: &FileCheck,
    ) -> Result<Outcome> {
        let ts = self.to_timestamp.unwrap_or(0);
        let shown = path.display();
        if at == 0 {
            writeln!(
                self.out,
                "AOF {shown} has nothing before timestamp {ts}, aborting..."
            )?;
            return Ok(Outcome::Exit(1));
        }
        if !last {
            writeln!(
                self.out,
                "Failed to truncate AOF {shown} to timestamp {ts} to offset {at} because it is not the last file."
            )?;
            writeln!(
                self.out,
                "If you insist, please delete all files after this file according to the manifest file and delete the corresponding records in manifest file manually. Then re-run redis-check-aof."
            )?;
            return Ok(Outcome::Exit(1));
        }
        let size = std::fs::metadata(path)?.len();
        let backup = truncate_with_backup(path, at)?;
        writeln!(self.out, "Backup of the original: {}", backup.display())?;
        writeln!(
            self.out,
            "Cut {} bytes from offset {at} (the #TS: line later than {ts} and everything after; {} complete command(s) were read before it)",
            size - at,
            c.commands
        )?;
        writeln!(
            self.out,
            "Successfully truncated AOF {name} to timestamp {ts}"
        )?;
        Ok(Outcome::Next)
    }
}

/// rtool's sentence about what is wrong (redis-check-aof's own is terser).
fn describe(p: &Problem, name: &str) -> String {
    match p {
        Problem::Aof(e) => match &e.kind {
            AofErrorKind::Truncated { valid_up_to } => format!(
                "{name}: unexpected end of file at offset {} (0x{:x}) inside a record; the last complete record ends at offset {valid_up_to}",
                e.offset, e.offset
            ),
            AofErrorKind::BadFormat { expected, line } => format!(
                "{name}: bad format at offset {} (0x{:x}), line {line}: expected {expected}",
                e.offset, e.offset
            ),
            AofErrorKind::Rdb(r) => format!("{name}: {r}"),
        },
        Problem::UnexpectedMulti { offset } => {
            format!("{name}: 0x{offset:x}: Unexpected MULTI in AOF {name}")
        }
        Problem::UnexpectedExec { offset } => {
            format!("{name}: 0x{offset:x}: Unexpected EXEC in AOF {name}")
        }
        Problem::InvalidTimestamp { offset } => {
            format!("{name}: 0x{offset:x}: Invalid timestamp annotation")
        }
    }
}

/// "Cut N bytes from offset P: ..." — what a fix removed, in commands and bytes.
fn what_was_cut(c: &FileCheck) -> String {
    let diff = c.size - c.ok_up_to;
    let mut s = format!("Cut {diff} bytes from offset {}: ", c.ok_up_to);
    if c.commands_cut > 0 {
        s.push_str(&format!(
            "{} complete command(s) of a transaction that has no EXEC, then ",
            c.commands_cut
        ));
    }
    match &c.problem {
        Some(Problem::Aof(e)) if matches!(e.kind, AofErrorKind::Truncated { .. }) => {
            s.push_str("a torn record at the end of the file")
        }
        Some(Problem::Aof(e)) => s.push_str(&format!(
            "a record that is not valid (the bad byte is at offset {}) and everything after it, unread",
            e.offset
        )),
        Some(Problem::UnexpectedMulti { offset }) => s.push_str(&format!(
            "a MULTI inside a transaction (offset {offset}) and everything after it, unread"
        )),
        Some(Problem::UnexpectedExec { offset }) => s.push_str(&format!(
            "an EXEC without MULTI (offset {offset}) and everything after it, unread"
        )),
        _ => s.push_str("the tail"),
    }
    s.push_str(&format!(
        "; {} complete command(s) before offset {} are kept",
        c.commands - c.commands_cut,
        c.ok_up_to
    ));
    s
}

/// Copies `path` to a fresh `<path>.bak[.N]`, then truncates `path` to `len` bytes.
fn truncate_with_backup(path: &Path, len: u64) -> Result<PathBuf> {
    let mut backup = PathBuf::from(format!("{}.bak", path.display()));
    let mut n = 1;
    while backup.exists() {
        backup = PathBuf::from(format!("{}.bak.{n}", path.display()));
        n += 1;
    }
    std::fs::copy(path, &backup)
        .with_context(|| format!("cannot back {} up to {}", path.display(), backup.display()))?;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {} for writing", path.display()))?;
    f.set_len(len)
        .with_context(|| format!("Failed to truncate AOF {}", path.display()))?;
    f.sync_all()?;
    Ok(backup)
}

/// The text of an OS error without Rust's " (os error N)" suffix, as C's strerror gives it.
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn check(a: CheckArgs) -> Result<i32> {
    let mut stdout = io::stdout().lock();
    let to_timestamp = match &a.truncate_to_timestamp {
        // Redis keeps the timestamp in a variable where 0 means "not asked for".
        Some(s) => match parse_timestamp(s) {
            Some(0) => None,
            Some(t) => Some(t),
            None => {
                writeln!(stdout, "Invalid timestamp, aborting...")?;
                return Ok(1);
            }
        },
        None => None,
    };
    let mut c = Checker {
        out: &mut stdout,
        fix: a.fix,
        to_timestamp,
        line: 1,
    };
    let path = &a.path;
    let is_dir = path.is_dir();
    let exists = path.exists();
    if !exists {
        writeln!(
            c.out,
            "Cannot open file {}: No such file or directory",
            path.display()
        )?;
        return Ok(1);
    }
    // A directory (rtool's extension) stands for the manifest or old-style file in it.
    let single = if is_dir {
        match Layout::open(path) {
            Ok(Layout::Single(p)) => Some(p.path),
            _ => None,
        }
    } else if layout::is_manifest(path)? {
        None
    } else {
        Some(path.to_path_buf())
    };
    if let Some(path) = single {
        // checkOldStyleAof
        writeln!(c.out, "Start checking Old-Style AOF")?;
        let shown = path.display().to_string();
        let preamble = layout::is_rdb(&path)?;
        return Ok(match c.file("AOF ", &shown, &path, true, preamble)? {
            Outcome::Exit(code) => code,
            Outcome::Next => 0,
        });
    }
    // checkMultiPartAof
    writeln!(c.out, "Start checking Multi Part AOF")?;
    let layout = match Layout::open(path) {
        Ok(l) => l,
        // aofLoadManifestFromFile's report, without its log-line prefixes.
        Err(LayoutError::Manifest(_, e)) => {
            writeln!(c.out, "*** FATAL AOF MANIFEST FILE ERROR ***")?;
            if let Some(text) = &e.text {
                writeln!(c.out, "Reading the manifest file, at line {}", e.line)?;
                writeln!(c.out, ">>> '{text}'")?;
            }
            writeln!(c.out, "{}", e.message)?;
            return Ok(1);
        }
        Err(e) => {
            writeln!(c.out, "{e}")?;
            return Ok(1);
        }
    };
    let files = layout.load_order();
    let total = files.len();
    let mut started_incr = false;
    for (i, part) in files.iter().enumerate() {
        let last = i + 1 == total;
        let outcome = if part.kind == Some(FileType::Base) {
            // fileIsRDB opens the base before anything is said about it.
            let rdb = match layout::is_rdb(&part.path) {
                Ok(r) => r,
                Err(e) => {
                    writeln!(
                        c.out,
                        "Cannot open file {}: {}",
                        part.path.display(),
                        strerror(&e)
                    )?;
                    return Ok(1);
                }
            };
            writeln!(
                c.out,
                "Start to check BASE AOF ({} format).",
                if rdb { "RDB" } else { "RESP" }
            )?;
            c.file("BASE AOF ", &part.name, &part.path, last, rdb)?
        } else {
            if !std::mem::replace(&mut started_incr, true) {
                writeln!(c.out, "Start to check INCR files.")?;
            }
            c.file("INCR AOF ", &part.name, &part.path, last, false)?
        };
        if let Outcome::Exit(code) = outcome {
            return Ok(code);
        }
    }
    writeln!(c.out, "All AOF files and manifest are valid")?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_like_strtol() {
        assert_eq!(parse_timestamp("1700000000"), Some(1700000000));
        assert_eq!(parse_timestamp(" -5"), Some(-5));
        assert_eq!(parse_timestamp("12x"), None);
        assert_eq!(parse_timestamp("x"), None);
    }
}
