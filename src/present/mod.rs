//! Presentation: turning decoded events into something a person or a program reads.
//!
//! This is ripgrep's seam between finding and showing. The decoders ([`crate::rdb`]) report
//! events with byte offsets and never format anything; the printers here consume those events
//! and never decide what was decoded: a printer may leave things out (a filter, a preview cut
//! short), but what it shows is what the reader reported. Every printer is a plain library
//! type that writes to any [`Write`](std::io::Write), so tests render into a `Vec<u8>`; colour, width and
//! whether a terminal is attached are decided once in [`crate::cli`] and arrive here as plain
//! values ([`Paint`], a width).
//!
//! | printer | module | what it writes |
//! | --- | --- | --- |
//! | table | [`table`] | one row per key (db, key, type, encoding, expiry, size, value preview) |
//! | JSON Lines | [`json`] | one `{"type": ..., "data": ...}` object per key and per file record (the book's appendix specifies it) |
//! | RESP | [`resp`] | the commands that recreate the data, for `redis-cli --pipe` |
//! | layout | [`layout`] | every opcode and field with its offset, length and meaning |
//! | hex | [`hex`] | hexyl dumps of each key's bytes, or of the whole file |
//! | stats | [`stats`] | keys, bytes, encodings and expiries per db and type; the biggest keys |
//! | check | [`check`] | `redis-check-rdb`'s report: aux fields, counts, checksum, or the error |
//! | AOF dump | [`aof`] | `aof dump`: commands with file, offset, db and `#TS:` time (text, JSON Lines, RESP, hex, stats) |
//! | tap timeline | [`timeline`] | a replication link per connection and phase, one line per event (`rtool tap`) |
//! | tap NDJSON | [`tap_json`] | one object per link event (the book's tap appendix specifies it) |
//! | tap diagram | [`mermaid`] | a Mermaid sequence diagram of a tapped session |
//!
//! [`drive`] connects an event source to a printer and applies the [`Filter`]; the printers
//! only ever see the keys the user asked for.

pub mod aof;
pub mod check;
pub mod hex;
pub mod json;
pub mod layout;
pub mod mermaid;
pub mod resp;
pub mod stats;
pub mod table;
pub mod tap_json;
pub mod timeline;

use crate::rdb::{Event, KeyStart, ReadError, ValueType};
use std::fmt::{self, Display};
use std::io;

// ---------------------------------------------------------------------------------------------
// Colour
// ---------------------------------------------------------------------------------------------

/// Whether to colour, decided once by the caller (`--color`, `NO_COLOR`, is stdout a terminal).
/// Printers ask it to paint a piece of text; with colour off it gives the text back unchanged,
/// so the same code path renders the snapshot tests and the terminal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Paint {
    pub on: bool,
}

/// The handful of roles text plays in rtool's output; each has one colour everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Byte offsets and lengths: the coordinates, kept quiet.
    Offset,
    /// Opcodes and record kinds (`AUX`, `SELECTDB`, a key's type).
    Opcode,
    /// Key names.
    Key,
    /// Data values and previews.
    Value,
    /// Verdicts that are good news.
    Good,
    /// Errors and mismatches.
    Bad,
    /// Headings.
    Heading,
}

impl Paint {
    pub const OFF: Paint = Paint { on: false };

    /// `text` in the colour of `role` (or unchanged with colour off).
    pub fn paint<T: Display>(&self, role: Role, text: T) -> String {
        if !self.on {
            return text.to_string();
        }
        use owo_colors::{OwoColorize, Style};
        let style = match role {
            Role::Offset => Style::new().dimmed(),
            Role::Opcode => Style::new().yellow(),
            Role::Key => Style::new().cyan(),
            Role::Value => Style::new().green(),
            Role::Good => Style::new().green().bold(),
            Role::Bad => Style::new().red().bold(),
            Role::Heading => Style::new().bold(),
        };
        text.style(style).to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

/// Which keys to show (`--db`, `--key`, `--type`). Records that are not keys (aux fields,
/// functions, the checksum) are always shown: they describe the file, not a key.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub db: Option<u64>,
    /// Matched against the key's raw bytes, so binary keys can be selected too.
    pub key: Option<regex::bytes::Regex>,
    pub value_type: Option<ValueType>,
}

impl Filter {
    pub fn matches(&self, k: &KeyStart) -> bool {
        self.db.is_none_or(|db| db == k.db)
            && self.value_type.is_none_or(|t| t == k.value_type)
            && self.key.as_ref().is_none_or(|re| re.is_match(&k.key))
    }

    /// True when no filter is set (every key is shown).
    pub fn is_empty(&self) -> bool {
        self.db.is_none() && self.key.is_none() && self.value_type.is_none()
    }
}

/// Parses `--type` values: the names `TYPE` replies.
pub fn parse_value_type(s: &str) -> Option<ValueType> {
    Some(match s {
        "string" => ValueType::String,
        "list" => ValueType::List,
        "set" => ValueType::Set,
        "zset" => ValueType::ZSet,
        "hash" => ValueType::Hash,
        "stream" => ValueType::Stream,
        "module" => ValueType::Module,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Driving a printer
// ---------------------------------------------------------------------------------------------

/// A printer of RDB events. [`drive`] calls `event` for every event of a selected key and for
/// every record outside keys, in file order; `error` once if decoding stops; `finish` at the
/// end either way. Errors returned are output errors (a closed pipe), never decoding errors.
pub trait Sink {
    fn event(&mut self, ev: &Event) -> io::Result<()>;
    /// Decoding stopped here: what came before was reported, nothing after will be.
    fn error(&mut self, _err: &ReadError) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What a run saw, for the caller's exit status and summary.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Keys in the file (read completely before any error).
    pub keys: u64,
    /// Keys that passed the filter.
    pub shown: u64,
    /// Why decoding stopped early, if it did.
    pub error: Option<ReadError>,
}

/// Runs `events` through `filter` into `sink`. Decoding errors end the run and are returned
/// in the [`Outcome`]; the `Err` case is reserved for output errors.
pub fn drive<I>(events: I, filter: &Filter, sink: &mut dyn Sink) -> io::Result<Outcome>
where
    I: IntoIterator<Item = Result<Event, ReadError>>,
{
    let mut out = Outcome::default();
    // Inside a key the filter rejected: its events are dropped up to its KeyEnd.
    let mut skipping = false;
    for ev in events {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                sink.error(&e)?;
                out.error = Some(e);
                break;
            }
        };
        match &ev {
            Event::KeyStart(k) => {
                skipping = !filter.matches(k);
                if skipping {
                    continue;
                }
                out.shown += 1;
            }
            Event::KeyEnd(_) => {
                out.keys += 1;
                if std::mem::take(&mut skipping) {
                    continue;
                }
            }
            _ if skipping => continue,
            _ => {}
        }
        sink.event(&ev)?;
    }
    sink.finish()?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Small shared formatting helpers
// ---------------------------------------------------------------------------------------------

/// Bytes for people: quoted, printable ASCII as is, the rest as `\xHH`, cut after `max`
/// bytes with the full length said. Unlike a lossy UTF-8 conversion it never hides a byte.
pub struct Quoted<'a> {
    pub bytes: &'a [u8],
    pub max: usize,
}

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in self.bytes.iter().take(self.max) {
            match b {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                b'\t' => f.write_str("\\t")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_str("\"")?;
        if self.bytes.len() > self.max {
            write!(f, "…({} bytes)", self.bytes.len())?;
        }
        Ok(())
    }
}

/// Shorthand for [`Quoted`].
pub fn quoted(bytes: &[u8], max: usize) -> Quoted<'_> {
    Quoted { bytes, max }
}

/// A unix time in milliseconds as UTC, `2026-11-23T10:00:00.000Z` (proleptic Gregorian; no
/// time zone database needed, and the same on every machine, which snapshots rely on).
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm, in eras of 400 years).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// A byte count for people: `512 B`, `1.5 KiB`, `2.0 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A score the way Redis prints it in replies (`%.17g`): shortest round-trip digits, `inf`
/// and `-inf`. Used where a score travels as text (RESP commands, previews).
pub fn score_text(s: f64) -> String {
    if s.is_infinite() {
        return if s > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust's `{:?}` gives the shortest digits that read back to the same double; `strtod`
    // accepts every form it produces ("1e100", "0.5", "3.0").
    let t = format!("{s:?}");
    t.strip_suffix(".0").map(str::to_string).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(utc(1_795_405_990_000), "2026-11-23T03:53:10.000Z");
        assert_eq!(utc(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn scores_read_back_exactly() {
        for s in [0.5, 1.0, -2.0, 1e100, 1e-300, 0.1 + 0.2, f64::MAX, -0.0] {
            let t = score_text(s);
            assert_eq!(t.parse::<f64>().unwrap().to_bits(), s.to_bits(), "{t}");
        }
        assert_eq!(score_text(f64::INFINITY), "inf");
        assert_eq!(score_text(3.0), "3");
    }

    #[test]
    fn quoting_keeps_every_byte() {
        assert_eq!(quoted(b"a\"b\x00\xff", 10).to_string(), r#""a\"b\x00\xff""#);
        assert_eq!(quoted(b"abcdef", 3).to_string(), "\"abc\"…(6 bytes)");
    }
}
