//! Fuzzes the RDB reader: any input must give events or an error (never a panic, a hang or a
//! huge allocation), and feeding it in pieces must give exactly what feeding it whole gives.
//!
//! Run: `cargo +nightly fuzz run rdb fuzz/corpus/rdb` after seeding the corpus with the
//! fixtures (`mkdir -p fuzz/corpus/rdb && cp fixtures/rdb/*.rdb fixtures/rdb/foreign/*.rdb
//! fuzz/corpus/rdb/`). The first input byte picks the chunk size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtool::rdb::Reader;

/// Decodes `data` in chunks of `chunk` bytes; the outcome rendered with `Debug` (a NaN score
/// would make `PartialEq` fail on equal events).
fn run(data: &[u8], chunk: usize) -> String {
    let mut r = Reader::new();
    let mut out = String::new();
    for piece in data.chunks(chunk.max(1)) {
        r.feed(piece);
        loop {
            match r.next_event() {
                Ok(Some(e)) => out.push_str(&format!("{e:?}\n")),
                Ok(None) => break,
                Err(e) => {
                    out.push_str(&format!("error: {e}\n"));
                    return out;
                }
            }
        }
    }
    if let Err(e) = r.finish() {
        out.push_str(&format!("error: {e}\n"));
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&c, data)) = input.split_first() else {
        return;
    };
    let whole = run(data, data.len());
    let parts = run(data, usize::from(c) + 1);
    assert_eq!(whole, parts);
});
