//! # rtool — Redis replication, made visible
//!
//! rtool is a Redis-compatible server (`rtool serve`) and a set of inspectors for the bytes that
//! Redis servers exchange and write to disk. The crate is built as **sans-IO decoders in the
//! middle, thin shells at the edges**: every format is decoded by one piece of code that takes
//! bytes and gives typed values with byte offsets, and every subcommand drives that same code.
//! See `book/` for the protocol itself and `../shared/DESIGN.md` for the design rules.
//!
//! ## Map of the crate (a module imports only from its own layer or below)
//!
//! | layer | module | its one job |
//! | --- | --- | --- |
//! | 1 formats | [`resp`] | RESP2/RESP3: parse client requests (multibulk and inline) with Redis's exact protocol errors, write replies, decode reply frames |
//! | 1 formats | [`error`] | the library's error types, carrying the offset and phase where decoding stopped |
//! | 1 formats | [`log`] | Redis's log line format (`pid:M 23 Nov 2026 10:00:00.000 * ...`) |
//! | 1 formats | [`glob`] | Redis's `stringmatchlen` glob matcher (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET) |
//! | 1 formats | [`rdb`] | RDB snapshots: a streaming sans-IO reader (versions 1-12) giving events with byte offsets |
//! | 1 formats | [`aof`] | the append-only file: the manifest of Redis 7's multi-part layout and the AOF reader (commands with offsets, `#TS:`, an RDB preamble) |
//! | 1 formats | [`ld80`] | x87 80-bit long double arithmetic, for INCRBYFLOAT's exact output |
//! | 2 models | [`config`] | Redis's directives and defaults, `redis.conf` parsing, CONFIG GET/SET values |
//! | 2 models | [`keyspace`] | the 16 databases: values, their Redis 7 encodings, expiry (lazy and the active cycle) |
//! | 2 models | [`repl`] | the replication byte log: every propagated write, its offsets (`master_repl_offset`) |
//! | 3 behaviour | [`cmd`] | one file per command family: parse arguments, apply to the keyspace, reply, say what to propagate |
//! | 3 behaviour | [`aof`] (writer, load, rewrite) | appending what is propagated, fsync policies, BGREWRITEAOF, replaying a manifest at start-up |
//! | 3 behaviour | [`persist`] | snapshots: SAVE, BGSAVE by fork (copy-on-write, as Redis), save points, load at start-up |
//! | 4 runtime | [`net`] | tokio: the listener, one task per connection, polling before sleep, configuration, logging, timers |
//! | 5 shell | [`present`] | printers of decoded events: tables, JSON Lines, RESP commands, byte layout, hex, check reports |
//! | 5 shell | [`lesson`] | the seed notes' experiments as runnable lessons: servers on free ports, steps, checkpoints, a transcript |
//! | 5 shell | [`cli`] | clap: one small file per subcommand |
//!
//! The write path keeps DESIGN.md's first invariant: a write is applied and its propagated form
//! appended to the replication log in one critical section (the engine lock, see [`cmd::Engine`]).

pub mod aof;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod error;
pub mod glob;
pub mod keyspace;
pub mod ld80;
pub mod lesson;
pub mod log;
pub mod net;
pub mod persist;
pub mod present;
pub mod rdb;
pub mod repl;
pub mod resp;
