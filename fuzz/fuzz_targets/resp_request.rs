//! Fuzzes the client request parser (`rtool::resp::request::parse_request`, multibulk and
//! inline): any input must give requests, "need more" or a protocol error (never a panic, a
//! hang or a zero-length request, which would stall a connection), and a connection that
//! receives the input in pieces must parse exactly what one that receives it whole parses.
//!
//! The first input byte is the control byte: its low 6 bits + 1 are the piece size, bit 6
//! lowers `proto-max-bulk-len` to 16 (so "invalid bulk length" is reachable), bit 7 makes the
//! connection unauthenticated (10 arguments, 16 KiB bulks). The rest is what the client sent.
//! Seed with `python3 fuzz/seed.py` (see `fuzz/README.md`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtool::resp::request::{Limits, Parsed, parse_request};
use std::fmt::Write;

/// Parses `data` as a connection that receives it `chunk` bytes at a time: every complete
/// request in the buffer is taken as soon as it is there, as the server's read loop does.
fn run(data: &[u8], chunk: usize, limits: &Limits) -> String {
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = 0;
    let mut out = String::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            let rest = &buf[pos..];
            match parse_request(rest, limits) {
                Ok(Parsed::Command(req, n)) => {
                    assert!(n > 0 && n <= rest.len(), "used {n} of {}", rest.len());
                    writeln!(out, "command at {pos} ({n} bytes): {:?}", req.args).unwrap();
                    pos += n;
                }
                Ok(Parsed::Inline(args, n)) => {
                    assert!(n > 0 && n <= rest.len(), "used {n} of {}", rest.len());
                    writeln!(out, "inline at {pos} ({n} bytes): {args:?}").unwrap();
                    pos += n;
                }
                Ok(Parsed::Incomplete) => break,
                Err(e) => {
                    writeln!(out, "error at {pos}: {e}").unwrap();
                    return out;
                }
            }
        }
    }
    writeln!(out, "left over: {} bytes", buf.len() - pos).unwrap();
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&c, data)) = input.split_first() else {
        return;
    };
    let limits = Limits {
        max_bulk_len: if c & 0x40 != 0 {
            16
        } else {
            Limits::default().max_bulk_len
        },
        unauthenticated: c & 0x80 != 0,
    };
    let whole = run(data, data.len(), &limits);
    let parts = run(data, usize::from(c & 0x3f) + 1, &limits);
    assert_eq!(whole, parts);
});
