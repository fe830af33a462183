//! RESP, the Redis serialization protocol — the one codec every part of rtool uses.
//!
//! Three jobs, three files:
//! - [`request`]: turning a client's bytes into commands exactly as Redis's `networking.c` does
//!   (multibulk `*<n>\r\n$<len>\r\n...` and *inline* `PING\r\n` typed into a terminal), with
//!   Redis's protocol error texts and limits. `serve` reads clients and its master's command
//!   stream with it; the AOF reader parses files with it.
//! - [`reply`]: writing replies in RESP2 or RESP3, chosen per connection by `HELLO`.
//! - [`frame`]: decoding arbitrary RESP2/RESP3 frames (replies, pushes) on the
//!   `redis-protocol` crate, for the places that read what a *server* sent: a replica's
//!   handshake, the tap, tests.
//!
//! Why requests are not parsed with `redis-protocol`: Redis's request parser is not a generic
//! RESP parser. It accepts inline commands, does not check the CRLF after a bulk payload, has
//! its own limits (`proto-max-bulk-len`, 64 KiB inline lines, the unauthenticated limits) and
//! its own error texts. Matching Redis byte for byte needs that parser, not a generic one.

pub mod frame;
pub mod reply;
pub mod request;
pub mod split;

pub use reply::Reply;
pub use request::{Limits, ProtocolError, parse_request};
