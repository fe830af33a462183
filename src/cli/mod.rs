//! The command line: one small file per subcommand, each a thin shell over the library.
//! Colour, width and tty are decided here once and passed down as plain values.

pub mod aof;
pub mod aof_rewrite;
pub mod lesson;
pub mod rdb;
pub mod serve;
pub mod tap;

use clap::{Parser, Subcommand};

/// rtool — see every byte of Redis replication.
#[derive(Parser, Debug)]
#[command(name = "rtool", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a Redis-compatible server (like redis-server: `rtool serve [redis.conf] [--port 6380 ...]`).
    Serve(serve::ServeArgs),
    /// Look inside RDB files: `rtool rdb dump FILE`, `rtool rdb check FILE`.
    Rdb(rdb::RdbArgs),
    /// Look inside AOFs: `rtool aof dump PATH`, `rtool aof check PATH [--fix]`.
    Aof(aof::AofArgs),
    /// Show a replication link live (`rtool tap --upstream 127.0.0.1:6379`) or from a
    /// capture (`rtool tap replay FILE`).
    Tap(tap::TapArgs),
    /// Redo the seed notes' experiments: `rtool lesson list`, `rtool lesson run chain`.
    Lesson(lesson::LessonArgs),
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let res = match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Rdb(a) => rdb::run(a),
        Command::Tap(a) => tap::run(a),
        Command::Aof(a) => aof::run(a),
        Command::Lesson(a) => lesson::run(a),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`rtool ... | head`) is not an error.
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return 0;
            }
            eprintln!("rtool: {e:#}");
            1
        }
    }
}
