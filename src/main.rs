//! The `rtool` binary: parse the command line, hand it to the library, map errors to exit codes.
//! Everything interesting lives in the library (`src/lib.rs` has the map).

use clap::Parser;

fn main() {
    let cli = rtool::cli::Cli::parse();
    std::process::exit(rtool::cli::run(cli));
}
