//! `rtool tap --upstream HOST:PORT` (a proxy that shows a live replication link) and
//! `rtool tap replay FILE` (the same output from a recorded capture).
//!
//! Both feed capture records into one [`Session`], so a replay prints exactly what the live
//! run printed. Colour is decided here once (`--color`, `NO_COLOR`, is stdout a terminal).

use super::rdb::ColorChoice;
use crate::net::tap::Faults;
use crate::present::Paint;
use crate::present::mermaid::Mermaid;
use crate::present::tap_json::TapJson;
use crate::present::timeline::{LinkSink, PROGRESS_EVERY, Session, Timeline, TimelineOptions};
use crate::repl::stream::Dir;
use crate::repl::stream::capture::Capture;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// `rtool tap ...`
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TapArgs {
    #[command(subcommand)]
    pub command: Option<TapCommand>,
    /// The server to proxy to (a Redis master), e.g. 127.0.0.1:6379.
    #[arg(long, value_name = "HOST:PORT")]
    pub upstream: Option<String>,
    /// Where to accept connections (port 0 picks a free one; the address is printed on
    /// stderr as `listening on ADDR`).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:6380")]
    pub listen: String,
    /// Also write every byte forwarded to a capture file (`rtool tap replay` reads it).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Fault injection: once a connection has forwarded BYTES bytes master->replica, close
    /// both of its sockets (exactly at that byte). Applies to the connections open at the
    /// first cut; the replicas' reconnections are left alone, so each replica is cut once.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub cut_after: Option<u64>,
    /// Fault injection: every SECS seconds, close every open replication link (client
    /// connections are left alone). Fractions allowed (0.5).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub cut_every: Option<Duration>,
    /// Fault injection: forward one direction MS milliseconds late (byte order kept; at most
    /// a day).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=86_400_000))]
    pub delay: Option<u64>,
    /// The direction --delay applies to.
    #[arg(long, value_enum, value_name = "DIR", default_value_t = DelayDir::MasterToReplica)]
    pub delay_dir: DelayDir,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `--delay-dir`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DelayDir {
    #[value(name = "master->replica", alias = "m2r")]
    MasterToReplica,
    #[value(name = "replica->master", alias = "r2m")]
    ReplicaToMaster,
}

/// `--cut-every SECS`: a positive number of seconds, at most a year (a bound that keeps
/// the timer arithmetic far from overflowing).
fn parse_secs(s: &str) -> std::result::Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(0.001..=31_536_000.0).contains(&v) {
        return Err("SECS must be between 0.001 and 31536000 (a year)".into());
    }
    Duration::try_from_secs_f64(v).map_err(|e| e.to_string())
}

#[derive(Subcommand, Debug)]
pub enum TapCommand {
    /// Decode a capture file (from `--record` or fixtures/repl/) offline.
    ///
    /// Example: rtool tap replay fixtures/repl/disk-sync.capture --quiet-pings
    Replay(ReplayArgs),
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The capture file.
    pub file: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// How events are shown.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// NDJSON, one object per event (schema: the book's "tap JSON" appendix).
    #[arg(long, conflicts_with = "mermaid")]
    pub json: bool,
    /// Under each line of the timeline, the event's raw bytes (the first 256) as a hex dump.
    #[arg(long, conflicts_with_all = ["json", "mermaid"])]
    pub hex: bool,
    /// A Mermaid sequence diagram of the session (for the book), instead of the timeline.
    #[arg(long)]
    pub mermaid: bool,
    /// Show each keepalive newline (by default they are counted in the close summary).
    #[arg(long)]
    pub show_keepalives: bool,
    /// Hide the master's `ping`s in the command stream.
    #[arg(long)]
    pub quiet_pings: bool,
    /// During an RDB transfer, a progress line (bytes, keys, current key) every BYTES bytes
    /// of RDB; 0 turns it off. Counted in bytes, not time, so a replay prints the same lines.
    #[arg(long, value_name = "BYTES", default_value_t = PROGRESS_EVERY)]
    pub progress_every: u64,
    /// Colour: auto (stdout is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Runs `rtool tap ...`; returns the exit status.
pub fn run(args: TapArgs) -> Result<i32> {
    match args.command {
        Some(TapCommand::Replay(a)) => replay(a),
        None => {
            let upstream = args
                .upstream
                .clone()
                .context("--upstream HOST:PORT is required (or use `rtool tap replay FILE`)")?;
            // Line-buffered: live output must appear as events happen.
            let sink = sink(&args.output, io::LineWriter::new(io::stdout()));
            crate::net::tap::run(crate::net::tap::TapConfig {
                upstream,
                listen: args.listen.clone(),
                record: args.record.clone(),
                hex: args.output.hex,
                progress_every: args.output.progress_every,
                faults: Faults {
                    cut_after: args.cut_after,
                    cut_every: args.cut_every,
                    delay: args.delay.map(|ms| {
                        let dir = match args.delay_dir {
                            DelayDir::MasterToReplica => Dir::MasterToReplica,
                            DelayDir::ReplicaToMaster => Dir::ReplicaToMaster,
                        };
                        (Duration::from_millis(ms), dir)
                    }),
                },
                sink,
            })?;
            Ok(0)
        }
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

/// The printer the options ask for, writing to `out`.
fn sink<W: Write + Send + 'static>(o: &OutputArgs, out: W) -> Box<dyn LinkSink + Send> {
    if o.json {
        Box::new(TapJson::new(out))
    } else if o.mermaid {
        Box::new(Mermaid::new(out, o.quiet_pings))
    } else {
        Box::new(Timeline::new(
            out,
            TimelineOptions {
                paint: paint(o.color),
                show_keepalives: o.show_keepalives,
                quiet_pings: o.quiet_pings,
            },
        ))
    }
}

fn replay(a: ReplayArgs) -> Result<i32> {
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?;
    let cap = Capture::parse(&text).with_context(|| format!("{}", a.file.display()))?;
    let mut sink = sink(&a.output, io::BufWriter::new(io::stdout()));
    let mut s = if a.output.hex {
        Session::with_hex()
    } else {
        Session::new()
    }
    .progress_every(a.output.progress_every);
    for r in &cap.records {
        s.record(r, sink.as_mut())?;
    }
    sink.finish()?;
    io::stdout().flush()?;
    Ok(0)
}
