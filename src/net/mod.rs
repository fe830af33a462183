//! The runtime: sockets, tasks and timers around the engine.
//!
//! One tokio task per connection ([`conn`]); the [`crate::cmd::Engine`] behind one
//! `std::sync::Mutex`, taken once per batch of pipelined commands. A std mutex, not tokio's:
//! the critical section never awaits, and an uncontended std mutex costs a few nanoseconds.
//! By default the runtime has one thread, like Redis's event loop (`io-threads 1`);
//! `io-threads N` gives tokio N worker threads. Between batches the loop polls a little
//! before it sleeps ([`spin`]), so a busy server is not woken for every request.

pub mod conn;
pub mod master_link;
pub mod replica_link;
pub mod server;
pub mod signals;
pub mod spin;
pub mod tap;

pub use server::{Server, Shared};
