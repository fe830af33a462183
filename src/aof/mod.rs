//! The append-only file: Redis 7's multi-part AOF, read and written.
//!
//! An AOF is the replication stream's twin: every write a master propagates to its replicas
//! is also appended here (DESIGN.md invariant 1 — the same rewritten commands, in the same
//! critical section), except what Redis keeps out of it (PUBLISH). Replaying the file into an
//! empty keyspace rebuilds the dataset. Since Redis 7.0 the "file" is a directory of parts
//! named by a [`manifest`]: a base snapshot and the incr files appended since.
//!
//! - [`manifest`]: the list of parts, parsed and written as Redis does.
//! - [`reader`]: the one AOF decoder (commands with their byte offsets, `#TS:` annotations, an
//!   RDB preamble handed to the RDB reader), used by loading, `rtool aof dump` and `aof check`.
//! - [`layout`]: which files a path names (a directory, a manifest, a single file), as
//!   `redis-check-aof` tells them apart.
//! - [`check`]: `redis-check-aof`'s verdict on a file, from the reader's events.
//! - [`writer`]: what `rtool serve` appends, fsync policies, the files of a rewrite.
//! - [`rewrite`]: a keyspace as the shortest list of commands (base files without preamble,
//!   `rtool aof rewrite`).
//! - [`load`]: replaying a manifest into a keyspace at start-up.
//!
//! The book's persistence chapter walks through a real directory.

pub mod check;
pub mod layout;
pub mod load;
pub mod manifest;
pub mod reader;
pub mod rewrite;
pub mod writer;
