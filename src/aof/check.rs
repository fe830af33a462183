//! `redis-check-aof`'s verdict on one file, computed from the [`reader`](super::reader)'s
//! events: how far the file is good (`ok_up_to`, where `--fix` would cut it), what is wrong
//! after that, and what a cut would remove.
//!
//! On top of the reader's format rules, `redis-check-aof` (its `checkSingleAof` and
//! `processRESP`) adds three of its own, kept here:
//! - `MULTI` inside an open `MULTI` is an error ("Unexpected MULTI"), and so is `EXEC` without
//!   one ("Unexpected EXEC"); the reader itself only tracks where an open transaction began;
//! - with `--truncate-to-timestamp TS`, the first `#TS:` annotation later than `TS` is where
//!   the file is cut, and a `#TS:` line that is not a number followed by `\r` is refused;
//! - everything is reported per file; the caller walks the manifest and decides whether a
//!   cut is allowed (only in the last file).
//!
//! The file is read through [`Read`], in bounded memory: the checker never holds more than
//! the reader does.

use super::reader::{AofError, AofErrorKind, Event, Reader};
use std::io::{self, Read};

/// How to check one file.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions {
    /// Read a leading `REDIS` as an RDB preamble (`redis-check-aof`: base files and single
    /// files of at least 8 bytes that start with it).
    pub preamble: bool,
    /// `--truncate-to-timestamp`.
    pub to_timestamp: Option<i64>,
}

/// What is wrong with a file.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// The reader's verdict: a truncation, a format error or a bad preamble.
    Aof(AofError),
    /// `MULTI` while a transaction is open (offset of the second `MULTI`).
    UnexpectedMulti { offset: u64 },
    /// `EXEC` without `MULTI`.
    UnexpectedExec { offset: u64 },
    /// A `#TS:` annotation that is not a timestamp (only checked with a timestamp to cut at).
    InvalidTimestamp { offset: u64 },
}

impl Problem {
    /// Whether `--fix` may cut it off (a bad RDB preamble cannot be repaired by cutting).
    pub fn fixable(&self) -> bool {
        !matches!(
            self,
            Problem::Aof(AofError {
                kind: AofErrorKind::Rdb(_),
                ..
            }) | Problem::InvalidTimestamp { .. }
        )
    }
}

/// The verdict on one file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileCheck {
    /// Bytes read (the file's size when read to the end).
    pub size: u64,
    /// Where the good part ends: the file's end when it is valid, else the start of the
    /// record (or open transaction) where things went wrong. `redis-check-aof`'s `ok_up_to`.
    pub ok_up_to: u64,
    /// Lines counted the way `redis-check-aof` counts them (`ok_up_to_line` adds these up
    /// over the files of a manifest, from 1).
    pub lines: u64,
    /// The RDB preamble: its end offset and number of keys.
    pub preamble: Option<(u64, u64)>,
    /// Complete commands read (up to the problem, the command found wrong not counted).
    pub commands: u64,
    /// Complete commands at or after `ok_up_to` (an unclosed transaction's), which a cut
    /// removes along with the torn tail.
    pub commands_cut: u64,
    pub problem: Option<Problem>,
    /// With `--truncate-to-timestamp`: the offset of the first `#TS:` line later than the
    /// timestamp, where the file is to be cut.
    pub timestamp_cut: Option<u64>,
}

impl FileCheck {
    /// Whether nothing needs cutting.
    pub fn ok(&self) -> bool {
        self.problem.is_none() && self.timestamp_cut.is_none()
    }
}

/// Checks one file read from `input`.
pub fn check_file(mut input: impl Read, opts: CheckOptions) -> io::Result<FileCheck> {
    let mut reader = Reader::new().allow_preamble(opts.preamble);
    let mut st = State {
        fc: FileCheck::default(),
        multi: false,
        opts,
    };
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match input.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        st.fc.size += n as u64;
        reader.feed(&chunk[..n]);
        if st.drain(&mut reader) {
            return Ok(st.done(&reader));
        }
    }
    if let Err(e) = reader.finish() {
        st.fc.problem = Some(Problem::Aof(e));
        return Ok(st.done(&reader));
    }
    st.drain(&mut reader);
    Ok(st.done(&reader))
}

struct State {
    fc: FileCheck,
    /// `redis-check-aof`'s own transaction flag.
    multi: bool,
    opts: CheckOptions,
}

impl State {
    /// Takes every decoded event; true once the verdict is known before the end.
    fn drain(&mut self, reader: &mut Reader) -> bool {
        loop {
            let ev = match reader.next_event() {
                Ok(Some(ev)) => ev,
                Ok(None) => return false,
                Err(e) => {
                    self.fc.problem = Some(Problem::Aof(e));
                    return true;
                }
            };
            match ev {
                Event::Rdb(crate::rdb::Event::KeyEnd(_)) => {
                    let p = self.fc.preamble.get_or_insert((0, 0));
                    p.1 += 1;
                }
                Event::Rdb(_) => {}
                Event::RdbEnd { offset } => self.fc.preamble.get_or_insert((0, 0)).0 = offset,
                Event::Annotation {
                    offset,
                    timestamp,
                    text,
                    ..
                } => {
                    let Some(to) = self.opts.to_timestamp else {
                        continue;
                    };
                    if !text.starts_with(b"#TS:") {
                        continue;
                    }
                    match timestamp {
                        None => {
                            self.fc.problem = Some(Problem::InvalidTimestamp { offset });
                            return true;
                        }
                        Some(ts) if ts > to => {
                            self.fc.timestamp_cut = Some(offset);
                            return true;
                        }
                        Some(_) => {}
                    }
                }
                Event::Command { offset, args, .. } => {
                    let name = args.first().map(|a| &a[..]).unwrap_or_default();
                    if name.eq_ignore_ascii_case(b"multi") {
                        if self.multi {
                            self.fc.problem = Some(Problem::UnexpectedMulti { offset });
                            return true;
                        }
                        self.multi = true;
                    } else if name.eq_ignore_ascii_case(b"exec") {
                        if !self.multi {
                            self.fc.problem = Some(Problem::UnexpectedExec { offset });
                            self.fc.ok_up_to = offset;
                            return true;
                        }
                        self.multi = false;
                    }
                    self.fc.commands += 1;
                    // Commands of a transaction still open would go with a cut.
                    if reader.valid_up_to() <= offset {
                        self.fc.commands_cut += 1;
                    } else {
                        self.fc.commands_cut = 0;
                    }
                }
            }
        }
    }

    fn done(mut self, reader: &Reader) -> FileCheck {
        self.fc.lines = reader.line() - 1;
        self.fc.ok_up_to = match &self.fc.problem {
            None => self.fc.size,
            Some(Problem::UnexpectedExec { offset }) => *offset,
            Some(_) => reader.valid_up_to(),
        };
        if self.fc.problem.is_none() {
            self.fc.commands_cut = 0;
        }
        self.fc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(data: &[u8], to: Option<i64>) -> FileCheck {
        check_file(
            data,
            CheckOptions {
                preamble: true,
                to_timestamp: to,
            },
        )
        .unwrap()
    }

    const SET: &[u8] = b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n";

    #[test]
    fn valid_file() {
        let mut f = SET.to_vec();
        f.extend_from_slice(b"#TS:10\r\n");
        f.extend_from_slice(SET);
        let c = check(&f, None);
        assert!(c.ok());
        assert_eq!((c.size, c.ok_up_to, c.lines, c.commands), (62, 62, 14, 2));
    }

    #[test]
    fn torn_transaction_is_cut_whole() {
        let mut f = SET.to_vec();
        f.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
        f.extend_from_slice(SET);
        f.extend_from_slice(b"*1\r\n$4\r\nEX");
        let c = check(&f, None);
        assert_eq!(c.ok_up_to, 27);
        assert_eq!(c.commands_cut, 2);
        assert!(matches!(c.problem, Some(Problem::Aof(_))));
    }

    #[test]
    fn redis_check_aof_transaction_rules() {
        let mut f = b"*1\r\n$5\r\nMULTI\r\n".to_vec();
        f.extend_from_slice(b"*1\r\n$5\r\nmulti\r\n");
        let c = check(&f, None);
        assert_eq!(c.problem, Some(Problem::UnexpectedMulti { offset: 15 }));
        assert_eq!(c.ok_up_to, 0);
        let mut f = SET.to_vec();
        f.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
        let c = check(&f, None);
        assert_eq!(c.problem, Some(Problem::UnexpectedExec { offset: 27 }));
        assert_eq!(c.ok_up_to, 27);
    }

    #[test]
    fn truncate_to_timestamp() {
        let mut f = b"#TS:5\r\n".to_vec();
        f.extend_from_slice(SET);
        f.extend_from_slice(b"#TS:9\r\n");
        f.extend_from_slice(SET);
        assert_eq!(check(&f, Some(7)).timestamp_cut, Some(34));
        assert_eq!(check(&f, Some(9)).timestamp_cut, None);
        assert!(check(&f, Some(9)).ok());
        let c = check(b"#TS:x\r\n", Some(1));
        assert_eq!(c.problem, Some(Problem::InvalidTimestamp { offset: 0 }));
    }
}
