//! The AOF decoder: one sans-IO reader for every AOF file, shared by the server's loading,
//! `rtool aof dump` and `rtool aof check`.
//!
//! An AOF file is, in order:
//! - optionally an **RDB preamble**: when the file starts with `REDIS` it is a whole RDB
//!   (an `aof-use-rdb-preamble yes` base, or a Redis 4-6 single file), decoded by the shared
//!   [`rdb::Reader`] and ending after its checksum;
//! - then **records**, each either an annotation line (`#TS:1700000000\r\n`, written with
//!   `aof-timestamp-enabled yes`; loading skips them) or a command in RESP's multi-bulk form:
//!
//! ```text
//! *3\r\n $3\r\n set\r\n $1\r\n k\r\n $1\r\n v\r\n      (no spaces in the file)
//! ```
//!
//! The rules are those of Redis 7.0's `loadSingleAppendOnlyFile` and `redis-check-aof`:
//! a record starts with `#` or `*` (anything else is a format error); a command has at least
//! one argument; every argument is a `$<len>` line, `len` bytes and `\r\n`. Where the two
//! disagree, the reader takes the stricter rule so that a file it accepts is accepted by both:
//! the number lines follow `redis-check-aof` (C `strtol` then exactly `\r\n`, at most 127
//! bytes, a negative length refused), the payload must end with `\r\n` (the loader does not
//! look), and `*0` is refused (the loader's `argc < 1` check; `redis-check-aof` lets it pass).
//!
//! **Truncation versus corruption.** Input that ends inside a record is a truncation (what a
//! crash during a write leaves; `aof-load-truncated yes` and `redis-check-aof --fix` cut it
//! off); a byte that cannot start or continue a record is a format error (Redis refuses to
//! start). [`AofErrorKind::Truncated`] carries `valid_up_to`: the end of the last complete
//! record, or the start of a `MULTI` whose `EXEC` never came — a transaction is cut whole, as
//! both Redis tools do. An unterminated annotation at the very end is not a truncation (both
//! tools read it as a line and go on).
//!
//! The reader holds at most one command (its arguments) and one unfinished line; any chunking
//! of the input gives the same events with the same offsets.

use crate::rdb;
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::fmt;

/// `redis-check-aof` reads `*`/`$` lines with `fgets(buf, 128)`: a longer one is malformed.
const NUMBER_LINE_MAX: usize = 127;
/// `AOF_ANNOTATION_LINE_MAX_LEN - 1`: both tools read a `#` line with a 1024-byte `fgets`, so
/// a longer annotation ends there and its remainder is read as the next record.
const ANNOTATION_MAX: usize = 1023;
/// An RDB preamble starts with these bytes (`loadSingleAppendOnlyFile` compares 5 bytes).
const RDB_MAGIC: &[u8] = b"REDIS";

/// What the reader found.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A command: byte offset where its `*` starts, its length, its arguments.
    Command {
        offset: u64,
        len: u64,
        args: Vec<Bytes>,
    },
    /// An annotation line (`#TS:1700000000\r\n` → `Some(1700000000)`; other `#...` lines →
    /// `None`). `text` is the line without its line ending, `#` included.
    Annotation {
        offset: u64,
        len: u64,
        timestamp: Option<i64>,
        text: Bytes,
    },
    /// An event of the RDB preamble (the file starts with `REDIS`), with file offsets.
    Rdb(rdb::Event),
    /// The preamble ended at this offset (after its checksum); records may follow.
    RdbEnd { offset: u64 },
}

/// Why decoding stopped, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct AofError {
    /// For a truncation, where the input ended; for a format error, the start of the bad line
    /// (or where a payload's `\r\n` should have been); for an RDB error, the RDB's offset.
    pub offset: u64,
    pub kind: AofErrorKind,
}

/// The three ways an AOF can be bad.
#[derive(Clone, Debug, PartialEq)]
pub enum AofErrorKind {
    /// Input ended inside a command; `valid_up_to` = end of the last complete command (what
    /// Redis truncates to with aof-load-truncated / redis-check-aof --fix).
    Truncated { valid_up_to: u64 },
    /// Not an AOF (what was expected, e.g. "'*' or '#'", "'$'", "a number"), Redis's fmterr.
    /// `line` counts like `redis-check-aof`'s `ok_up_to_line`: 1 + the command lines and
    /// payloads read before (annotation lines are not counted).
    BadFormat { expected: &'static str, line: u64 },
    /// The RDB preamble is bad (truncated, corrupt, wrong checksum).
    Rdb(rdb::RdbError),
}

impl fmt::Display for AofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            AofErrorKind::Truncated { valid_up_to } => write!(
                f,
                "AOF: unexpected end of file at offset {} (valid up to offset {valid_up_to})",
                self.offset
            ),
            AofErrorKind::BadFormat { expected, line } => write!(
                f,
                "AOF: bad format at offset {} (line {line}): expected {expected}",
                self.offset
            ),
            AofErrorKind::Rdb(e) => write!(f, "AOF preamble: {e}"),
        }
    }
}

impl std::error::Error for AofError {}

/// Where the decoder is.
#[derive(Clone)]
enum State {
    /// Nothing decided: waiting for enough bytes to tell an RDB preamble from records.
    Start,
    /// Inside the RDB preamble; the RDB reader holds the input.
    Rdb(Box<rdb::Reader>),
    /// At a record boundary.
    Top,
    /// Inside a command: its start, announced argument count, arguments read so far, and the
    /// length of the payload being waited for (after its `$` line).
    Command {
        start: u64,
        argc: u64,
        args: Vec<Bytes>,
        payload: Option<u64>,
    },
}

/// What one decoding step achieved.
enum Step {
    Event(Event),
    Progress,
    Stall,
}

/// A streaming AOF decoder: [`feed`](Reader::feed) bytes, drain
/// [`next_event`](Reader::next_event) until `Ok(None)`, repeat, and call
/// [`finish`](Reader::finish) at the end of the input.
///
/// ```
/// use rtool::aof::reader::{Event, Reader};
/// let mut r = Reader::new();
/// r.feed(b"#TS:1700000000\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$4\r\nPI");
/// let mut events = Vec::new();
/// while let Some(e) = r.next_event().unwrap() {
///     events.push(e);
/// }
/// assert!(matches!(events[0], Event::Annotation { timestamp: Some(1700000000), .. }));
/// assert!(matches!(&events[1], Event::Command { offset: 16, len: 23, args } if args.len() == 2));
/// // The last command is torn: Redis would cut the file at its start.
/// let err = r.finish().unwrap_err();
/// assert_eq!(err.kind, rtool::aof::reader::AofErrorKind::Truncated { valid_up_to: 39 });
/// ```
///
/// A clone is a checkpoint (it copies the few buffered bytes and the command in progress).
#[derive(Clone)]
pub struct Reader {
    buf: BytesMut,
    /// File offset of `buf[0]` (in the RDB state, the RDB reader keeps the input instead).
    base: u64,
    state: State,
    /// Whether a file starting with `REDIS` is read as an RDB preamble.
    preamble: bool,
    /// `redis-check-aof`'s line counter (see [`AofErrorKind::BadFormat`]).
    line: u64,
    /// End of the last complete record (command, annotation, or the preamble).
    last_end: u64,
    /// Start of an open `MULTI` (its `EXEC` not read yet).
    multi_start: Option<u64>,
    /// Events decoded by `finish` (or a step) and not handed out yet.
    out: VecDeque<Event>,
    /// Once an error is returned, it is returned again.
    error: Option<AofError>,
}

impl Default for Reader {
    fn default() -> Self {
        Reader::new()
    }
}

impl Reader {
    /// A reader for a file that starts at its first byte.
    pub fn new() -> Reader {
        Reader {
            buf: BytesMut::new(),
            base: 0,
            state: State::Start,
            preamble: true,
            line: 1,
            last_end: 0,
            multi_start: None,
            out: VecDeque::new(),
            error: None,
        }
    }

    /// Whether a file starting with `REDIS` is an RDB preamble (the default). `redis-check-aof`
    /// only treats a file of 8 bytes or more as one; `aof check` turns this off for shorter
    /// files to give the same verdict.
    pub fn allow_preamble(mut self, on: bool) -> Reader {
        self.preamble = on;
        self
    }

    /// Appends input. Nothing is decoded until [`next_event`](Reader::next_event).
    pub fn feed(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Rdb(r) => r.feed(data),
            _ => self.buf.extend_from_slice(data),
        }
    }

    /// The next event. `Ok(None)` = need more bytes. After an Err the reader stays in error.
    pub fn next_event(&mut self) -> Result<Option<Event>, AofError> {
        loop {
            if let Some(e) = self.out.pop_front() {
                return Ok(Some(e));
            }
            if let Some(e) = &self.error {
                return Err(e.clone());
            }
            match self.step() {
                Ok(Step::Event(e)) => return Ok(Some(e)),
                Ok(Step::Progress) => {}
                Ok(Step::Stall) => return Ok(None),
                Err(e) => {
                    self.error = Some(e.clone());
                    return Err(e);
                }
            }
        }
    }

    /// At end of input: Ok if it ended at an event boundary, else Err (kind Truncated).
    ///
    /// Events still undecoded in the buffer (and an unterminated annotation at the very end,
    /// which Redis accepts) are queued: keep calling [`next_event`](Reader::next_event) after
    /// `finish` to get them. A `MULTI` left open at the end is a truncation back to its start
    /// (Redis's loader "reverts" it; `redis-check-aof` says "Reached EOF before reading EXEC").
    pub fn finish(&mut self) -> Result<(), AofError> {
        // Decode what is complete first, so the verdict is about what is left over.
        loop {
            if let Some(e) = &self.error {
                return Err(e.clone());
            }
            match self.step() {
                Ok(Step::Event(e)) => self.out.push_back(e),
                Ok(Step::Progress) => {}
                Ok(Step::Stall) => break,
                Err(e) => {
                    self.error = Some(e.clone());
                    return Err(e);
                }
            }
        }
        let end = self.base + self.buf.len() as u64;
        let err = match &mut self.state {
            // A strict prefix of "REDIS" is no RDB (the loader reads 5 bytes) and no record.
            State::Start if !self.buf.is_empty() => Some(self.bad_format(0, "'*' or '#'")),
            State::Start => None,
            State::Rdb(r) => r.finish().err().map(|e| AofError {
                offset: e.offset,
                kind: AofErrorKind::Rdb(e),
            }),
            State::Top if self.buf.first() == Some(&b'#') => {
                // `step` only stalls on an annotation shorter than the line limit.
                let line = self.buf.split().freeze();
                let len = line.len() as u64;
                self.out.push_back(annotation(self.base, line, len));
                self.base += len;
                self.last_end = self.base;
                None
            }
            State::Top if !self.buf.is_empty() => Some(self.truncated(end)),
            State::Top => None,
            State::Command { .. } => Some(self.truncated(end)),
        };
        let err = err.or_else(|| {
            // At a clean boundary, only an open transaction is left to judge.
            self.multi_start.map(|_| self.truncated(self.base))
        });
        match err {
            Some(e) => {
                self.error = Some(e.clone());
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// Bytes consumed so far (the file offset of the next undecoded byte).
    pub fn offset(&self) -> u64 {
        match &self.state {
            State::Rdb(r) => r.offset(),
            _ => self.base,
        }
    }

    /// Where `redis-check-aof --fix` would cut the file if it ended or broke here: the end of
    /// the last complete record, or the start of an open `MULTI`.
    pub fn valid_up_to(&self) -> u64 {
        self.multi_start.unwrap_or(self.last_end)
    }

    /// `redis-check-aof`'s line counter so far (its `ok_up_to_line` once the file is read).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// True while inside the RDB preamble.
    pub fn in_preamble(&self) -> bool {
        matches!(self.state, State::Rdb(_) | State::Start)
    }

    /// How many bytes the input buffer holds allocated (for memory tests).
    pub fn buffer_capacity(&self) -> usize {
        match &self.state {
            State::Rdb(r) => r.buffer_capacity(),
            _ => self.buf.capacity(),
        }
    }

    // -----------------------------------------------------------------------------------------

    fn truncated(&self, at: u64) -> AofError {
        AofError {
            offset: at,
            kind: AofErrorKind::Truncated {
                valid_up_to: self.valid_up_to(),
            },
        }
    }

    fn bad_format(&self, at: u64, expected: &'static str) -> AofError {
        AofError {
            offset: at,
            kind: AofErrorKind::BadFormat {
                expected,
                line: self.line,
            },
        }
    }

    /// Drops `n` bytes of the buffer (a line already parsed, a payload's `\r\n`).
    fn skip(&mut self, n: usize) {
        self.buf.advance(n);
        self.base += n as u64;
    }

    /// Consumes `n` bytes of the buffer.
    fn take(&mut self, n: usize) -> Bytes {
        self.base += n as u64;
        self.buf.split_to(n).freeze()
    }

    /// One decoding step: an event, some progress inside a record, or a stall for input.
    fn step(&mut self) -> Result<Step, AofError> {
        match &mut self.state {
            State::Start => {
                let n = self.buf.len().min(RDB_MAGIC.len());
                if n == 0 {
                    return Ok(Step::Stall);
                }
                if !self.preamble || self.buf[..n] != RDB_MAGIC[..n] {
                    self.state = State::Top;
                } else if n < RDB_MAGIC.len() {
                    return Ok(Step::Stall);
                } else {
                    let mut r = rdb::Reader::with_offset(self.base);
                    r.feed(&self.buf);
                    self.buf.clear();
                    self.state = State::Rdb(Box::new(r));
                }
                Ok(Step::Progress)
            }
            State::Rdb(r) => match r.next_event() {
                Ok(Some(e)) => Ok(Step::Event(Event::Rdb(e))),
                Ok(None) if r.is_done() => {
                    // The records start right after the checksum.
                    self.base = r.offset();
                    self.buf.extend_from_slice(r.remaining());
                    self.state = State::Top;
                    self.last_end = self.base;
                    Ok(Step::Event(Event::RdbEnd { offset: self.base }))
                }
                Ok(None) => Ok(Step::Stall),
                Err(e) => Err(AofError {
                    offset: e.offset,
                    kind: AofErrorKind::Rdb(e),
                }),
            },
            State::Top => match self.buf.first() {
                None => Ok(Step::Stall),
                Some(b'#') => {
                    let window = &self.buf[..self.buf.len().min(ANNOTATION_MAX)];
                    let n = match memchr::memchr(b'\n', window) {
                        Some(i) => i + 1,
                        None if window.len() == ANNOTATION_MAX => ANNOTATION_MAX,
                        None => return Ok(Step::Stall),
                    };
                    let start = self.base;
                    let line = self.take(n);
                    self.last_end = self.base;
                    Ok(Step::Event(annotation(start, line, n as u64)))
                }
                Some(b'*') => {
                    let Some(n) = self.number_line()? else {
                        return Ok(Step::Stall);
                    };
                    let at = self.base;
                    let argc = match parse_number(&self.buf[1..n]) {
                        Some(n) if n >= 1 => n as u64,
                        Some(_) => return Err(self.bad_format(at, "an argument count >= 1")),
                        None => return Err(self.bad_format(at, "a number and '\\r\\n'")),
                    };
                    self.skip(n);
                    self.line += 1;
                    self.state = State::Command {
                        start: at,
                        argc,
                        // Grown as arguments arrive, never sized by the count itself.
                        args: Vec::with_capacity(argc.min(8) as usize),
                        payload: None,
                    };
                    Ok(Step::Progress)
                }
                Some(_) => Err(self.bad_format(self.base, "'*' or '#'")),
            },
            State::Command { payload: None, .. } => {
                match self.buf.first() {
                    None => return Ok(Step::Stall),
                    Some(b'$') => {}
                    Some(_) => return Err(self.bad_format(self.base, "'$'")),
                }
                let Some(n) = self.number_line()? else {
                    return Ok(Step::Stall);
                };
                let at = self.base;
                let len = match parse_number(&self.buf[1..n]) {
                    // redis-check-aof: "not in the suitable range".
                    Some(n) if (0..=i64::MAX - 2).contains(&n) => n as u64,
                    Some(_) => return Err(self.bad_format(at, "a length >= 0")),
                    None => return Err(self.bad_format(at, "a number and '\\r\\n'")),
                };
                self.skip(n);
                self.line += 1;
                if let State::Command { payload, .. } = &mut self.state {
                    *payload = Some(len);
                }
                Ok(Step::Progress)
            }
            State::Command {
                payload: Some(len), ..
            } => {
                let len = *len;
                if (self.buf.len() as u64) < len.saturating_add(2) {
                    return Ok(Step::Stall);
                }
                // The buffer holds all of it, so the length fits in memory.
                let n = len as usize;
                if &self.buf[n..n + 2] != b"\r\n" {
                    return Err(self.bad_format(self.base + len, "'\\r\\n' after the argument"));
                }
                let arg = self.take(n);
                self.skip(2);
                self.line += 1;
                let State::Command {
                    start,
                    argc,
                    args,
                    payload,
                } = &mut self.state
                else {
                    return Ok(Step::Progress);
                };
                args.push(arg);
                *payload = None;
                if (args.len() as u64) < *argc {
                    return Ok(Step::Progress);
                }
                let (start, args) = (*start, std::mem::take(args));
                self.state = State::Top;
                self.last_end = self.base;
                self.track_multi(start, &args);
                Ok(Step::Event(Event::Command {
                    offset: start,
                    len: self.base - start,
                    args,
                }))
            }
        }
    }

    /// The length of the `*`/`$` line at the head of the buffer, its `\n` included, once
    /// complete; a format error once it is longer than `redis-check-aof` reads.
    fn number_line(&self) -> Result<Option<usize>, AofError> {
        let window = &self.buf[..self.buf.len().min(NUMBER_LINE_MAX)];
        match memchr::memchr(b'\n', window) {
            Some(i) => Ok(Some(i + 1)),
            None if window.len() == NUMBER_LINE_MAX => {
                Err(self.bad_format(self.base, "a line of at most 127 bytes"))
            }
            None => Ok(None),
        }
    }

    /// Follows `MULTI`/`EXEC` so a torn transaction is cut whole (like both Redis tools).
    fn track_multi(&mut self, start: u64, args: &[Bytes]) {
        let name = args.first().map(|a| &a[..]).unwrap_or_default();
        if name.eq_ignore_ascii_case(b"multi") {
            self.multi_start.get_or_insert(start);
        } else if name.eq_ignore_ascii_case(b"exec") {
            self.multi_start = None;
        }
    }
}

/// An annotation event from its raw line (`len` bytes, line ending included).
fn annotation(offset: u64, line: Bytes, len: u64) -> Event {
    let end = if line.ends_with(b"\r\n") {
        line.len() - 2
    } else if line.ends_with(b"\n") {
        line.len() - 1
    } else {
        line.len()
    };
    let text = line.slice(..end);
    let timestamp = text
        .strip_prefix(b"#TS:")
        .and_then(|t| std::str::from_utf8(t).ok())
        .filter(|t| !t.is_empty() && line.get(end) == Some(&b'\r'))
        .and_then(|t| t.parse::<i64>().ok());
    Event::Annotation {
        offset,
        len,
        timestamp,
        text,
    }
}

/// The number of a `*`/`$` line (`rest` = after the prefix, up to and including `\n`), read
/// like `redis-check-aof`: C `strtol` (leading white space, a sign, digits, clamped on
/// overflow; no digits = 0) followed by exactly `\r\n`. `None` when the line is malformed.
fn parse_number(rest: &[u8]) -> Option<i64> {
    let mut p = 0;
    while p < rest.len() && matches!(rest[p], b' ' | b'\t' | b'\r' | 0x0b | 0x0c) {
        p += 1;
    }
    let neg = match rest.get(p) {
        Some(b'-') => {
            p += 1;
            true
        }
        Some(b'+') => {
            p += 1;
            false
        }
        _ => false,
    };
    let digits = rest[p..].iter().take_while(|c| c.is_ascii_digit()).count();
    // Without digits strtol converts nothing and points back at the start.
    let (value, end) = if digits == 0 {
        (0, 0)
    } else {
        let mut v: i64 = 0;
        for &c in &rest[p..p + digits] {
            let d = (c - b'0') as i64;
            v = if neg {
                v.saturating_mul(10).saturating_sub(d)
            } else {
                v.saturating_mul(10).saturating_add(d)
            };
        }
        (v, p + digits)
    };
    (&rest[end..] == b"\r\n").then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// All events and the final verdict, feeding `data` in chunks of the given sizes.
    fn run(data: &[u8], chunks: &[usize]) -> (Vec<Event>, Result<(), AofError>) {
        let mut r = Reader::new();
        let mut events = Vec::new();
        let mut rest = data;
        let mut sizes = chunks.iter().cycle();
        loop {
            let n = sizes
                .next()
                .copied()
                .unwrap_or(rest.len())
                .max(1)
                .min(rest.len());
            r.feed(&rest[..n]);
            rest = &rest[n..];
            loop {
                match r.next_event() {
                    Ok(Some(e)) => events.push(e),
                    Ok(None) => break,
                    Err(e) => return (events, Err(e)),
                }
            }
            if rest.is_empty() {
                break;
            }
        }
        let verdict = r.finish();
        while let Ok(Some(e)) = r.next_event() {
            events.push(e);
        }
        (events, verdict)
    }

    fn all(data: &[u8]) -> (Vec<Event>, Result<(), AofError>) {
        run(data, &[usize::MAX])
    }

    fn cmd(args: &[&str]) -> Vec<u8> {
        let mut v = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            v.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        v
    }

    fn commands(events: &[Event]) -> Vec<(u64, u64, Vec<String>)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Command { offset, len, args } => Some((
                    *offset,
                    *len,
                    args.iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect(),
                )),
                _ => None,
            })
            .collect()
    }

    fn kind(r: Result<(), AofError>) -> AofErrorKind {
        r.unwrap_err().kind
    }

    #[test]
    fn commands_and_annotations_with_offsets() {
        let mut f = cmd(&["SELECT", "0"]);
        f.extend_from_slice(b"#TS:1700000000\r\n");
        f.extend(cmd(&["set", "k", "v"]));
        f.extend_from_slice(b"# a note\n");
        let (ev, v) = all(&f);
        v.unwrap();
        assert_eq!(ev.len(), 4);
        assert_eq!(
            commands(&ev),
            vec![
                (0, 23, vec!["SELECT".into(), "0".into()]),
                (39, 27, vec!["set".into(), "k".into(), "v".into()])
            ]
        );
        assert_eq!(
            ev[1],
            Event::Annotation {
                offset: 23,
                len: 16,
                timestamp: Some(1700000000),
                text: Bytes::from_static(b"#TS:1700000000")
            }
        );
        assert!(matches!(
            &ev[3],
            Event::Annotation { offset: 66, len: 9, timestamp: None, text } if &text[..] == b"# a note"
        ));
    }

    #[test]
    fn empty_input_and_empty_arguments() {
        assert_eq!(all(b""), (vec![], Ok(())));
        let (ev, v) = all(b"*2\r\n$0\r\n\r\n$-0\r\n\r\n");
        v.unwrap();
        assert_eq!(
            commands(&ev),
            vec![(0, 17, vec![String::new(), String::new()])]
        );
        // strtol: no digits is 0, leading blanks and a sign are allowed.
        let (ev, v) = all(b"* 1\r\n$\r\n\r\n");
        v.unwrap();
        assert_eq!(commands(&ev).len(), 1);
    }

    #[test]
    fn truncation_points_name_the_last_complete_record() {
        let mut f = cmd(&["set", "a", "1"]);
        f.extend_from_slice(b"#TS:5\r\n");
        let good = f.len() as u64;
        f.extend(cmd(&["set", "b", "2"]));
        for cut in good + 1..f.len() as u64 {
            let (ev, v) = all(&f[..cut as usize]);
            assert_eq!(ev.len(), 2, "cut {cut}");
            assert_eq!(
                v.unwrap_err(),
                AofError {
                    offset: cut,
                    kind: AofErrorKind::Truncated { valid_up_to: good }
                }
            );
        }
        // An unterminated annotation at the end is read as a line, like Redis does.
        let (ev, v) = all(b"*1\r\n$4\r\nPING\r\n#TS:12");
        v.unwrap();
        assert!(matches!(
            ev[1],
            Event::Annotation {
                offset: 14,
                len: 6,
                timestamp: None,
                ..
            }
        ));
    }

    #[test]
    fn an_open_transaction_is_cut_whole() {
        let mut f = cmd(&["set", "a", "1"]);
        let before = f.len() as u64;
        f.extend(cmd(&["MULTI"]));
        f.extend(cmd(&["incr", "a"]));
        assert_eq!(
            kind(all(&f).1),
            AofErrorKind::Truncated {
                valid_up_to: before
            }
        );
        let mut torn = f.clone();
        torn.extend_from_slice(b"*1\r\n$4\r\nEX");
        assert_eq!(
            kind(all(&torn).1),
            AofErrorKind::Truncated {
                valid_up_to: before
            }
        );
        f.extend(cmd(&["exec"]));
        all(&f).1.unwrap();
    }

    #[test]
    fn format_errors_say_what_was_expected() {
        let bad = |d: &[u8]| all(d).1.unwrap_err();
        let e = bad(b"set k v\r\n");
        assert_eq!(
            (e.offset, e.kind),
            (
                0,
                AofErrorKind::BadFormat {
                    expected: "'*' or '#'",
                    line: 1
                }
            )
        );
        let e = bad(b"*1\r\n$4\r\nPING\r\n*1\r\n:4\r\n");
        assert_eq!(
            (e.offset, e.kind),
            (
                18,
                AofErrorKind::BadFormat {
                    expected: "'$'",
                    line: 5
                }
            )
        );
        let e = bad(b"*1\r\n$4\r\nPINGxx");
        assert_eq!(e.offset, 12);
        assert!(matches!(e.kind, AofErrorKind::BadFormat { line: 3, .. }));
        for d in [
            &b"*0\r\n"[..],
            b"*-1\r\n",
            b"*x\r\n",
            b"*1 \r\n",
            b"*1\n",
            b"*1\r\n$-1\r\n",
            b"*1\r\n$a\r\n",
            b"\r\n",
        ] {
            assert!(
                matches!(bad(d).kind, AofErrorKind::BadFormat { .. }),
                "{:?}",
                String::from_utf8_lossy(d)
            );
        }
        let long = format!("*{}\r\n", "0".repeat(200));
        assert!(matches!(
            bad(long.as_bytes()).kind,
            AofErrorKind::BadFormat { .. }
        ));
        // A strict prefix of "REDIS" is neither an RDB nor a record.
        assert!(matches!(bad(b"RED").kind, AofErrorKind::BadFormat { .. }));
    }

    #[test]
    fn rdb_preamble_then_commands() {
        let rdb = b"REDIS0010\xff\0\0\0\0\0\0\0\0";
        let mut f = rdb.to_vec();
        f.extend(cmd(&["set", "k", "v"]));
        let (ev, v) = all(&f);
        v.unwrap();
        assert!(matches!(
            ev[0],
            Event::Rdb(rdb::Event::Header { version: 10, .. })
        ));
        assert!(ev.contains(&Event::RdbEnd { offset: 18 }));
        assert_eq!(commands(&ev)[0].0, 18);
        // A torn preamble is an RDB error, a torn tail a truncation after the RDB.
        assert!(matches!(kind(all(&rdb[..12]).1), AofErrorKind::Rdb(_)));
        assert_eq!(
            kind(all(&f[..f.len() - 1]).1),
            AofErrorKind::Truncated { valid_up_to: 18 }
        );
        // Without the preamble option, "REDIS" is a format error.
        let mut r = Reader::new().allow_preamble(false);
        r.feed(rdb);
        assert!(matches!(
            r.next_event().unwrap_err().kind,
            AofErrorKind::BadFormat { .. }
        ));
    }

    #[test]
    fn errors_stick() {
        let mut r = Reader::new();
        r.feed(b"x");
        let e = r.next_event().unwrap_err();
        assert_eq!(r.next_event().unwrap_err(), e);
        assert_eq!(r.finish().unwrap_err(), e);
    }

    #[test]
    fn a_huge_length_allocates_nothing_up_front() {
        let mut r = Reader::new();
        r.feed(b"*1\r\n$9000000000000000000\r\nab");
        assert_eq!(r.next_event().unwrap(), None);
        assert!(r.buffer_capacity() < 4096);
        r.feed(format!("*{}\r\n", i64::MAX).as_bytes());
        assert!(r.finish().is_err());
        let mut r = Reader::new();
        r.feed(format!("*{}\r\n$1\r\na\r\n", u64::MAX).as_bytes());
        assert_eq!(r.next_event().unwrap(), None);
    }

    #[test]
    fn memory_stays_bounded_over_a_long_stream() {
        let one = cmd(&["set", "key:123456", &"v".repeat(100)]);
        let chunk: Vec<u8> = one.iter().copied().cycle().take(one.len() * 40).collect();
        let mut r = Reader::new();
        let mut n = 0;
        let mut max_cap = 0;
        for _ in 0..2000 {
            // Chunks that end inside commands, like reads from a file.
            for part in chunk.chunks(4000) {
                r.feed(part);
                while let Some(e) = r.next_event().unwrap() {
                    assert!(matches!(e, Event::Command { .. }));
                    n += 1;
                }
                max_cap = max_cap.max(r.buffer_capacity());
            }
        }
        r.finish().unwrap();
        assert_eq!(n, 80_000);
        assert!(max_cap < 64 * 1024, "buffer grew to {max_cap} bytes");
    }

    fn sample() -> Vec<u8> {
        let mut f = b"REDIS0010\xfa\x09redis-ver\x067.0.15\xff".to_vec();
        // The checksum of the preamble above is not verified in this sample: zero = "none".
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(b"#TS:1\r\n");
        f.extend(cmd(&["SELECT", "0"]));
        f.extend(cmd(&["MULTI"]));
        f.extend(cmd(&["rpush", "l", "a\r\nb", ""]));
        f.extend(cmd(&["EXEC"]));
        f.extend_from_slice(b"#x\n");
        f.extend(cmd(&["del", "l"]));
        f
    }

    #[test]
    fn sample_is_valid() {
        let (ev, v) = all(&sample());
        v.unwrap();
        assert_eq!(commands(&ev).len(), 5);
    }

    /// Real files from Redis 7.0 (an RDB preamble then commands; #TS: lines).
    const REAL: &[&[u8]] = &[
        include_bytes!("../../fixtures/aof/single-preamble/appendonly.aof"),
        include_bytes!("../../fixtures/aof/timestamps/appendonly.aof.2.incr.aof"),
    ];

    #[test]
    fn real_files_decode_whole_and_every_prefix_is_consistent() {
        for f in REAL {
            let (full, v) = all(f);
            v.unwrap();
            // Each prefix gives a prefix of the events, and a verdict that names where the
            // good part ends: the end of the last event it produced (or an open MULTI).
            for cut in (0..f.len()).step_by(7) {
                let (mut ev, v) = all(&f[..cut]);
                // An unterminated #TS: line at the cut is read as a shorter annotation.
                if let Some(Event::Annotation { offset, len, .. }) = ev.last()
                    && offset + len == cut as u64
                    && f[cut - 1] != b'\n'
                {
                    ev.pop();
                }
                let n = ev.len();
                assert_eq!(&full[..n], &ev[..], "cut {cut}");
                if let Err(AofError {
                    kind: AofErrorKind::Truncated { valid_up_to },
                    ..
                }) = v
                {
                    assert!(valid_up_to <= cut as u64);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn real_files_in_any_chunking(
            which in 0usize..2,
            chunks in proptest::collection::vec(1usize..300, 1..8),
        ) {
            let f = REAL[which];
            prop_assert_eq!(run(f, &chunks), all(f));
        }

        #[test]
        fn any_chunking_gives_the_same_events(
            cut in 0usize..200,
            chunks in proptest::collection::vec(1usize..20, 1..8),
        ) {
            let f = sample();
            let f = &f[..cut.min(f.len())];
            prop_assert_eq!(run(f, &chunks), all(f));
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..300),
            chunks in proptest::collection::vec(1usize..40, 1..6),
        ) {
            prop_assert_eq!(run(&data, &chunks), all(&data));
        }

        #[test]
        fn mutated_files_never_panic_and_chunk_alike(
            flips in proptest::collection::vec((0usize..200, any::<u8>()), 1..4),
            chunks in proptest::collection::vec(1usize..20, 1..6),
        ) {
            let mut f = sample();
            for (i, b) in flips {
                let n = f.len();
                f[i % n] = b;
            }
            prop_assert_eq!(run(&f, &chunks), all(&f));
        }
    }
}
