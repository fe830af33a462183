//! `rtool lesson list`, `rtool lesson show NAME`, `rtool lesson run NAME`: the seed notes'
//! experiments as runnable lessons. Everything but the flags lives in [`crate::lesson`].

use super::rdb::ColorChoice;
use crate::lesson::{self, Kind, Lesson, Options};
use crate::present::Paint;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use std::io::{self, IsTerminal, Write};

/// `rtool lesson ...`
#[derive(Args, Debug)]
pub struct LessonArgs {
    #[command(subcommand)]
    pub command: LessonCommand,
}

#[derive(Subcommand, Debug)]
pub enum LessonCommand {
    /// List the lessons, with the seed notes each one redoes.
    List,
    /// Print a lesson's source (the steps it will run).
    Show {
        /// A lesson name from `rtool lesson list`.
        name: String,
    },
    /// Run a lesson: start its servers on free 127.0.0.1 ports, run its steps, check its
    /// checkpoints, stop everything. Exits 1 when a checkpoint fails.
    ///
    /// Example: rtool lesson run chain
    Run(RunArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A lesson name from `rtool lesson list`, or the path of a `.lesson` file.
    pub name: String,
    /// Run every server as this one instead of what the lesson says (to compare rtool with
    /// real Redis on the same steps).
    #[arg(long, value_enum)]
    pub server: Option<ServerChoice>,
    /// Keep the data directory and log of every server, and print where they are.
    #[arg(long)]
    pub keep: bool,
    /// Colour: auto (stdout is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ServerChoice {
    /// `rtool serve`
    Rtool,
    /// A real `redis-server` from the PATH.
    Redis,
}

pub fn run(a: LessonArgs) -> Result<i32> {
    match a.command {
        LessonCommand::List => list(),
        LessonCommand::Show { name } => {
            let (_, text) = lesson::LESSONS
                .iter()
                .find(|(n, _)| *n == name)
                .with_context(|| format!("no lesson {name:?} (see `rtool lesson list`)"))?;
            io::stdout().write_all(text.as_bytes())?;
            Ok(0)
        }
        LessonCommand::Run(r) => run_one(r),
    }
}

fn list() -> Result<i32> {
    let mut out = io::stdout().lock();
    for l in lesson::all() {
        let l = l?;
        let seeds = if l.seeds.is_empty() {
            String::new()
        } else {
            format!("  (seed {})", l.seeds.join(", "))
        };
        let redis = if l.needs_redis {
            "  [needs redis-server]"
        } else {
            ""
        };
        writeln!(out, "{:<16} {}{seeds}{redis}", l.name, l.title)?;
    }
    Ok(0)
}

fn load(name: &str) -> Result<Lesson> {
    if let Some(l) = lesson::find(name) {
        return Ok(l?);
    }
    if name.ends_with(".lesson") || name.contains('/') {
        let text = std::fs::read_to_string(name).with_context(|| format!("cannot read {name}"))?;
        let stem = std::path::Path::new(name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(lesson::script::parse(&stem, &text)?);
    }
    bail!("no lesson {name:?} (see `rtool lesson list`)")
}

fn run_one(a: RunArgs) -> Result<i32> {
    let l = load(&a.name)?;
    let on = match a.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let opt = Options {
        paint: Paint { on },
        server: a.server.map(|s| match s {
            ServerChoice::Rtool => Kind::Rtool,
            ServerChoice::Redis => Kind::Redis,
        }),
        keep: a.keep,
    };
    // Line-buffered: a learner watches the lesson happen.
    let out = io::LineWriter::new(io::stdout());
    let outcome = lesson::run::run(&l, &opt, out)?;
    Ok(outcome.exit_code())
}
