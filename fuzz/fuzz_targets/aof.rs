//! Fuzzes the AOF reader (`rtool::aof::reader::Reader`: commands with offsets, `#TS:`
//! annotations, an RDB preamble): any input must give events or an `AofError` (never a panic,
//! a hang or a huge allocation), and feeding it in pieces must give exactly what feeding it
//! whole gives, the verdict of `finish` and the reader's positions included.
//!
//! The first input byte is the control byte: bit 0 set turns the RDB preamble off
//! (`allow_preamble(false)`, as `aof check` does for short files), the other 7 bits + 1 are the
//! piece size. The rest is the file. Seed with `python3 fuzz/seed.py`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtool::aof::reader::Reader;
use std::fmt::Write;

/// Drains the events `r` has; false once it returned an error.
fn drain(r: &mut Reader, out: &mut String) -> bool {
    loop {
        match r.next_event() {
            Ok(Some(e)) => writeln!(out, "{e:?}").unwrap(),
            Ok(None) => return true,
            Err(e) => {
                writeln!(out, "error: {e:?}").unwrap();
                return false;
            }
        }
    }
}

fn run(data: &[u8], chunk: usize, preamble: bool) -> String {
    let mut r = Reader::new().allow_preamble(preamble);
    let mut out = String::new();
    for piece in data.chunks(chunk.max(1)) {
        r.feed(piece);
        if !drain(&mut r, &mut out) {
            break;
        }
    }
    if let Err(e) = r.finish() {
        writeln!(out, "finish: {e:?}").unwrap();
    }
    drain(&mut r, &mut out);
    writeln!(
        out,
        "offset {} line {} valid_up_to {} in_preamble {}",
        r.offset(),
        r.line(),
        r.valid_up_to(),
        r.in_preamble()
    )
    .unwrap();
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&c, data)) = input.split_first() else {
        return;
    };
    let preamble = c & 1 == 0;
    let whole = run(data, data.len(), preamble);
    let parts = run(data, usize::from(c >> 1) + 1, preamble);
    assert_eq!(whole, parts);
});
