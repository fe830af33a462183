//! `rtool rdb dump FILE` and `rtool rdb check FILE`: a file pushed through the one RDB reader
//! ([`crate::rdb`]) into one of the printers in [`crate::present`].
//!
//! Everything about the terminal is decided here, once: colour (`--color`, `NO_COLOR`, is
//! stdout a terminal), the table width, whether stderr gets a progress bar. The printers get
//! plain values and write to a buffered stdout; a reader of the output that goes away
//! (`| head`) ends the run quietly.

use crate::present::check::Check;
use crate::present::hex::{HexDump, HexMode};
use crate::present::json::JsonLines;
use crate::present::layout::{ByteSource, Layout};
use crate::present::resp::RespCommands;
use crate::present::stats::{DEFAULT_TOP, Stats, StatsFormat};
use crate::present::table::KeyTable;
use crate::present::{self, Filter, Paint, Sink};
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `rtool rdb ...`
#[derive(Args, Debug)]
pub struct RdbArgs {
    #[command(subcommand)]
    pub command: RdbCommand,
}

#[derive(Subcommand, Debug)]
pub enum RdbCommand {
    /// Show what an RDB file holds: a table per key (default), JSON Lines, the RESP commands
    /// that recreate it, its byte layout, or a hex dump.
    ///
    /// Examples:
    ///   rtool rdb dump dump.rdb
    ///   rtool rdb dump dump.rdb --format json --type hash | jq .data.key
    ///   rtool rdb dump dump.rdb --format resp | redis-cli --pipe
    ///   rtool rdb dump dump.rdb --layout --key '^user:1$'
    Dump(DumpArgs),
    /// Check an RDB file like redis-check-rdb: version, aux fields, keys per database and
    /// type, the checksum, or the error with its offset. Exit status 0 if the file is OK,
    /// 1 if not.
    Check(CheckArgs),
    /// Summarise an RDB file: keys, bytes and encodings per database and type, how far away
    /// the expiries are (from the file's ctime), and the biggest keys.
    ///
    /// Examples:
    ///   rtool rdb stats dump.rdb
    ///   rtool rdb stats dump.rdb --top 50 --format json | jq 'select(.type=="big_key")'
    #[command(verbatim_doc_comment)]
    Stats(StatsArgs),
}

/// When to colour the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal and NO_COLOR is not set.
    Auto,
    Always,
    Never,
}

/// Output formats of `rdb dump`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table per key: db, key, type, encoding, expiry, size, value preview.
    Table,
    /// JSON Lines, one object per key and per file record (see the book's appendix).
    Json,
    /// RESP commands that recreate the data (for `redis-cli --pipe`).
    Resp,
}

/// What `--hex` dumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HexArg {
    /// Each selected key's bytes.
    Keys,
    /// The whole file.
    File,
}

#[derive(Args, Debug)]
pub struct DumpArgs {
    /// The RDB file (e.g. dump.rdb).
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Show every opcode and field with its offset, length and meaning instead.
    #[arg(long, conflicts_with_all = ["hex", "format"])]
    pub layout: bool,
    /// Hex dump (hexyl) of each selected key's bytes, or of the whole file with `--hex=file`.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "keys", require_equals = true, conflicts_with = "format")]
    pub hex: Option<HexArg>,
    /// Only keys of this database.
    #[arg(long, value_name = "N")]
    pub db: Option<u64>,
    /// Only keys whose name matches this regular expression (matched on the raw bytes).
    #[arg(long, value_name = "REGEX")]
    pub key: Option<String>,
    /// Only keys of this type: string, list, set, zset, hash, stream, module.
    #[arg(long = "type", value_name = "TYPE")]
    pub value_type: Option<String>,
    /// Colour: auto (stdout is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The RDB file (e.g. dump.rdb).
    pub file: PathBuf,
    /// Colour: auto (stdout is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// The RDB file (e.g. dump.rdb).
    pub file: PathBuf,
    /// How many of the biggest keys to list.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TOP)]
    pub top: usize,
    /// Output format: table, or json (JSON Lines like `rdb dump --format json`).
    #[arg(long, value_enum, default_value_t = StatsFormatArg::Table)]
    pub format: StatsFormatArg,
    /// Colour: auto (stdout is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Output formats of `rdb stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatsFormatArg {
    /// Tables: per database and type, then the biggest keys.
    Table,
    /// JSON Lines: `db_type`, `db_total`, `total` and `big_key` records.
    Json,
}

/// Runs `rtool rdb ...`; returns the exit status.
pub fn run(args: RdbArgs) -> Result<i32> {
    match args.command {
        RdbCommand::Dump(a) => dump(a),
        RdbCommand::Check(a) => check(a),
        RdbCommand::Stats(a) => stats(a),
    }
}

/// The colour decision, made once.
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

/// The terminal's width when stdout is one (tables wrap to it); `None` into a pipe or file.
fn terminal_width() -> Option<u16> {
    if !io::stdout().is_terminal() {
        return None;
    }
    // SAFETY: TIOCGWINSZ fills a winsize struct we own; a failure leaves it zeroed.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0).then_some(ws.ws_col)
}

fn open(path: &Path) -> Result<(File, u64)> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((f, size))
}

/// The file as a positional byte source (layout, hex, the check's hex window).
fn source(path: &Path) -> Result<Box<dyn ByteSource>> {
    Ok(Box::new(open(path)?.0))
}

/// The file as a stream of events, with a progress bar on a terminal's stderr for big files.
fn input(path: &Path) -> Result<Progress<File>> {
    let (f, size) = open(path)?;
    let show = io::stderr().is_terminal() && size >= PROGRESS_MIN;
    Ok(Progress::new(f, size, show))
}

fn filter(a: &DumpArgs) -> Result<Filter> {
    let key = match &a.key {
        Some(re) => {
            Some(regex::bytes::Regex::new(re).with_context(|| format!("bad --key regex {re:?}"))?)
        }
        None => None,
    };
    let value_type = match &a.value_type {
        Some(t) => Some(present::parse_value_type(t).with_context(|| {
            format!("unknown --type {t:?} (string, list, set, zset, hash, stream, module)")
        })?),
        None => None,
    };
    Ok(Filter {
        db: a.db,
        key,
        value_type,
    })
}

fn dump(a: DumpArgs) -> Result<i32> {
    let filter = filter(&a)?;
    let paint = paint(a.color);
    let events = crate::rdb::events(input(&a.file)?);
    let stdout = io::stdout().lock();
    let out = io::BufWriter::with_capacity(1 << 16, stdout);
    let mut skipped_modules = 0;
    let outcome = if a.layout {
        let mut l = Layout::new(out, source(&a.file)?, paint, !filter.is_empty());
        l.title()?;
        present::drive(events, &filter, &mut l)?
    } else if let Some(h) = a.hex {
        let mode = match h {
            HexArg::Keys => HexMode::Keys,
            HexArg::File => HexMode::File,
        };
        let mut s = HexDump::new(out, source(&a.file)?, paint, mode);
        present::drive(events, &filter, &mut s)?
    } else {
        match a.format {
            Format::Table => {
                let mut s = KeyTable::new(out, paint, terminal_width());
                present::drive(events, &filter, &mut s)?
            }
            Format::Json => {
                let mut s = JsonLines::new(out);
                present::drive(events, &filter, &mut s)?
            }
            Format::Resp => {
                let mut s = RespCommands::new(out);
                let o = present::drive(events, &filter, &mut s)?;
                skipped_modules = s.skipped;
                o
            }
        }
    };
    if skipped_modules > 0 {
        eprintln!("rtool: {skipped_modules} module value(s) left out: no command recreates them");
    }
    match outcome.error {
        Some(e) => {
            eprintln!("rtool: {e}");
            Ok(1)
        }
        None => Ok(0),
    }
}

fn check(a: CheckArgs) -> Result<i32> {
    let paint = paint(a.color);
    let (_, size) = open(&a.file)?;
    let events = crate::rdb::events(input(&a.file)?);
    let stdout = io::stdout().lock();
    // Redis counts keys "already expired" against the clock; read it once here.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut c = Check::new(
        io::BufWriter::new(stdout),
        paint,
        Some(source(&a.file)?),
        now_ms,
    );
    c.start(&a.file.display().to_string(), Some(size))?;
    present::drive(events, &Filter::default(), &mut c as &mut dyn Sink)?;
    Ok(if c.ok() { 0 } else { 1 })
}

fn stats(a: StatsArgs) -> Result<i32> {
    let paint = paint(a.color);
    let (f, _) = open(&a.file)?;
    // Expiries are measured from the file's `ctime` aux field; a file without one (RDB < 8)
    // falls back to when the file was last written, the nearest thing to "when saved".
    let mtime_ms = f
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    let format = match a.format {
        StatsFormatArg::Table => StatsFormat::Table,
        StatsFormatArg::Json => StatsFormat::Json,
    };
    let events = crate::rdb::events(input(&a.file)?);
    let out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut s = Stats::new(out, paint, format, terminal_width(), a.top, mtime_ms);
    let outcome = present::drive(events, &Filter::default(), &mut s)?;
    match outcome.error {
        Some(e) => {
            eprintln!("rtool: {e}");
            Ok(1)
        }
        None => Ok(0),
    }
}

// ---------------------------------------------------------------------------------------------
// Progress on stderr
// ---------------------------------------------------------------------------------------------

/// Files smaller than this are read too fast for a progress bar to mean anything.
const PROGRESS_MIN: u64 = 32 << 20;
/// At most ten redraws a second.
const REDRAW: Duration = Duration::from_millis(100);

/// Counts the bytes read through it and redraws `read / total` on stderr.
struct Progress<R> {
    inner: R,
    total: u64,
    done: u64,
    show: bool,
    last: Option<Instant>,
}

impl<R> Progress<R> {
    fn new(inner: R, total: u64, show: bool) -> Progress<R> {
        Progress {
            inner,
            total,
            done: 0,
            show,
            last: None,
        }
    }

    fn draw(&self) {
        const WIDTH: usize = 30;
        let frac = if self.total == 0 {
            1.0
        } else {
            (self.done as f64 / self.total as f64).min(1.0)
        };
        let filled = (frac * WIDTH as f64) as usize;
        eprint!(
            "\r[{}{}] {} / {} ({:.0}%)\x1b[K",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            present::human_bytes(self.done),
            present::human_bytes(self.total),
            frac * 100.0
        );
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.show {
            let now = Instant::now();
            if self.last.is_none_or(|t| now - t >= REDRAW) {
                self.last = Some(now);
                self.draw();
            }
            if n == 0 {
                // The end: clear the bar so the terminal is left as it was.
                eprint!("\r\x1b[K");
                let _ = io::stderr().flush();
                self.show = false;
            }
        }
        Ok(n)
    }
}
