//! Replication. This first part is the **replication byte log**: every write the server
//! propagates, encoded as RESP, appended in apply order. `master_repl_offset` is its length
//! and is computed here and nowhere else (DESIGN.md invariant 1). Replica links, the backlog
//! and the AOF all read from this one log.

pub mod backlog;
pub mod log;
pub mod master;

pub use log::ReplLog;
