//! The manifest of Redis 7's multi-part AOF: which files make up the log, in which order.
//!
//! Since 7.0 an append-only "file" is a directory (`appenddirname`, default `appendonlydir`)
//! holding one **base** file (a snapshot: an RDB when `aof-use-rdb-preamble yes`, else
//! commands), any number of **incr** files (the commands appended since), and **history**
//! files (replaced by a rewrite, deleted soon after). The manifest
//! `<appendfilename>.manifest` lists them, one line each:
//!
//! ```text
//! file appendonly.aof.1.base.rdb seq 1 type b
//! file appendonly.aof.1.incr.aof seq 1 type i
//! ```
//!
//! Loading replays the base, then the incr files in manifest order; history files are never
//! read. Parsing follows Redis's `aofLoadManifestFromFile` rule for rule (lines split like
//! `redis.conf`, `#` comments, at most 1024 bytes a line, key/value pairs in any order,
//! unknown keys tolerated for forward compatibility, strictly increasing incr sequence
//! numbers) and fails with Redis's own message and the line number. See the book's
//! persistence chapter.

use crate::resp::split::split_args;
use std::fmt;

/// Redis's `MANIFEST_MAX_LINE`.
const MAX_LINE: usize = 1024;

/// What a file in the manifest is (`type b|h|i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Base,
    History,
    Incr,
}

impl FileType {
    /// The letter the manifest uses.
    pub fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::History => 'h',
            FileType::Incr => 'i',
        }
    }

    /// A word for people (`rtool aof dump` explains the manifest).
    pub fn name(self) -> &'static str {
        match self {
            FileType::Base => "base",
            FileType::History => "history",
            FileType::Incr => "incr",
        }
    }
}

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// A bare file name inside the AOF directory (never a path).
    pub name: String,
    pub seq: i64,
    pub kind: FileType,
}

/// A parsed manifest. Redis keeps the base first, then history, then incr files, and writes
/// them back in that order whatever order it read them in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<Entry>,
    pub history: Vec<Entry>,
    pub incr: Vec<Entry>,
    /// Sequence numbers of the last base and incr files (the next ones are +1).
    pub base_seq: i64,
    pub incr_seq: i64,
}

/// Why a manifest was refused, with Redis's wording (`err` in `aofLoadManifestFromFile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// 1-based line number (0 when the problem is the file as a whole).
    pub line: usize,
    /// The offending line, trimmed, when there is one.
    pub text: Option<String>,
    pub message: &'static str,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.text {
            Some(t) => write!(f, "line {}: {} (>>> '{}')", self.line, self.message, t),
            None => f.write_str(self.message),
        }
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    /// Parse a manifest file's bytes.
    pub fn parse(data: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut line_no = 0;
        let mut rest = data;
        if data.is_empty() {
            return Err(ManifestError {
                line: 0,
                text: None,
                message: "Found an empty AOF manifest",
            });
        }
        while !rest.is_empty() {
            // Redis reads with fgets(buf, 1025): a longer line arrives in pieces, and the
            // first piece has no newline.
            let (raw, has_nl, next) = match memchr::memchr(b'\n', rest) {
                Some(i) if i < MAX_LINE => (&rest[..i], true, &rest[i + 1..]),
                Some(_) | None if rest.len() > MAX_LINE => {
                    (&rest[..MAX_LINE], false, &rest[MAX_LINE..])
                }
                _ => (rest, false, &rest[rest.len()..]),
            };
            rest = next;
            line_no += 1;
            if raw.first() == Some(&b'#') {
                continue;
            }
            let fail = |message| {
                Err(ManifestError {
                    line: line_no,
                    text: Some(String::from_utf8_lossy(trim(raw)).into_owned()),
                    message,
                })
            };
            if !has_nl {
                return fail("The AOF manifest file contains too long line");
            }
            let line = trim(raw);
            if line.is_empty() {
                return fail("Invalid AOF manifest file format");
            }
            let args = match split_args(line) {
                Ok(a) if a.len() >= 6 && a.len() % 2 == 0 => a,
                _ => return fail("Invalid AOF manifest file format"),
            };
            let (mut name, mut seq, mut kind) = (None, 0i64, None);
            for pair in args.chunks(2) {
                let key = &pair[0];
                let val = &pair[1];
                if key.eq_ignore_ascii_case(b"file") {
                    if val.contains(&b'/') || val.contains(&b'\\') {
                        return fail("File can't be a path, just a filename");
                    }
                    name = Some(String::from_utf8_lossy(val).into_owned());
                } else if key.eq_ignore_ascii_case(b"seq") {
                    seq = atoll(val);
                } else if key.eq_ignore_ascii_case(b"type") {
                    kind = val.first().copied();
                }
            }
            let (Some(name), Some(kind)) = (name, kind) else {
                return fail("Invalid AOF manifest file format");
            };
            if seq == 0 || kind == 0 {
                return fail("Invalid AOF manifest file format");
            }
            match kind {
                b'b' => {
                    if m.base.is_some() {
                        return fail("Found duplicate base file information");
                    }
                    m.base_seq = seq;
                    m.base = Some(Entry {
                        name,
                        seq,
                        kind: FileType::Base,
                    });
                }
                b'h' => m.history.push(Entry {
                    name,
                    seq,
                    kind: FileType::History,
                }),
                b'i' => {
                    if seq <= m.incr.last().map(|e| e.seq).unwrap_or(0) {
                        return fail("Found a non-monotonic sequence number");
                    }
                    m.incr_seq = seq;
                    m.incr.push(Entry {
                        name,
                        seq,
                        kind: FileType::Incr,
                    });
                }
                _ => return fail("Unknown AOF file type"),
            }
        }
        Ok(m)
    }

    /// The manifest as Redis writes it (`getAofManifestAsString`): base, history, incr.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for e in self.base.iter().chain(&self.history).chain(&self.incr) {
            let name = if needs_repr(&e.name) {
                crate::config::repr(&e.name)
            } else {
                e.name.clone()
            };
            s.push_str(&format!(
                "file {name} seq {} type {}\n",
                e.seq,
                e.kind.letter()
            ));
        }
        s
    }

    /// The files a load replays, in order: the base, then every incr file.
    pub fn load_order(&self) -> impl Iterator<Item = &Entry> {
        self.base.iter().chain(&self.incr)
    }

    /// Every entry in manifest order (base, history, incr).
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.base.iter().chain(&self.history).chain(&self.incr)
    }

    /// A new base file name (`<appendfilename>.<seq>.base.rdb|aof`); the current base, if
    /// any, becomes history (Redis's `getNewBaseFileNameAndMarkPreAsHistory`).
    pub fn new_base(&mut self, appendfilename: &str, rdb: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = FileType::History;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let name = format!(
            "{appendfilename}.{}.base.{}",
            self.base_seq,
            if rdb { "rdb" } else { "aof" }
        );
        self.base = Some(Entry {
            name: name.clone(),
            seq: self.base_seq,
            kind: FileType::Base,
        });
        name
    }

    /// A new incr file name, appended to the list (`getNewIncrAofName`).
    pub fn new_incr(&mut self, appendfilename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{appendfilename}.{}.incr.aof", self.incr_seq);
        self.incr.push(Entry {
            name: name.clone(),
            seq: self.incr_seq,
            kind: FileType::Incr,
        });
        name
    }

    /// After a rewrite: every incr file but the one being written (`keep_last`) is covered by
    /// the new base and becomes history (`markRewrittenIncrAofAsHistory`).
    pub fn incr_to_history(&mut self, keep_last: bool) {
        let keep = usize::from(keep_last && !self.incr.is_empty());
        let n = self.incr.len() - keep;
        for mut e in self.incr.drain(..n).rev() {
            e.kind = FileType::History;
            self.history.insert(0, e);
        }
    }
}

/// `<appendfilename>.manifest`
pub fn manifest_name(appendfilename: &str) -> String {
    format!("{appendfilename}.manifest")
}

/// Redis's `sdstrim(line, " \t\r\n")`.
fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// C's `atoll`: optional sign and leading digits, anything else stops it (0 when none).
fn atoll(s: &[u8]) -> i64 {
    let s = trim(s);
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        v = v.wrapping_mul(10).wrapping_add((c - b'0') as i64);
    }
    if neg { v.wrapping_neg() } else { v }
}

/// Redis's `sdsneedsrepr`: file names with spaces, quotes or unprintable bytes are quoted.
fn needs_repr(s: &str) -> bool {
    s.bytes()
        .any(|b| matches!(b, b'\\' | b'"') || !(0x21..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_redis_writes_and_writes_it_back() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\n\
                    file appendonly.aof.1.incr.aof seq 1 type h\n\
                    file appendonly.aof.2.incr.aof seq 2 type i\n\
                    file appendonly.aof.3.incr.aof seq 3 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.2.base.rdb");
        assert_eq!(m.history.len(), 1);
        assert_eq!(m.incr.len(), 2);
        assert_eq!((m.base_seq, m.incr_seq), (2, 3));
        assert_eq!(m.to_text(), text);
        let order: Vec<_> = m.load_order().map(|e| e.name.as_str()).collect();
        assert_eq!(
            order,
            [
                "appendonly.aof.2.base.rdb",
                "appendonly.aof.2.incr.aof",
                "appendonly.aof.3.incr.aof"
            ]
        );
    }

    #[test]
    fn pairs_in_any_order_comments_and_unknown_keys() {
        let text = "# written by hand\ntype i seq 7 file x.aof future yes\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.incr[0].name, "x.aof");
        assert_eq!(m.incr[0].seq, 7);
    }

    #[test]
    fn refusals_use_redis_messages_and_line_numbers() {
        let err = |t: &[u8]| Manifest::parse(t).unwrap_err();
        assert_eq!(err(b"").message, "Found an empty AOF manifest");
        let e = err(b"file a seq 1 type b\n\nfile c seq 1 type i\n");
        assert_eq!((e.line, e.message), (2, "Invalid AOF manifest file format"));
        assert_eq!(
            err(b"file a seq 1 type b\nfile b seq 1 type b\n").message,
            "Found duplicate base file information"
        );
        assert_eq!(
            err(b"file a seq 2 type i\nfile b seq 2 type i\n").message,
            "Found a non-monotonic sequence number"
        );
        assert_eq!(
            err(b"file ../a seq 1 type b\n").message,
            "File can't be a path, just a filename"
        );
        assert_eq!(
            err(b"file a seq 1 type x\n").message,
            "Unknown AOF file type"
        );
        assert_eq!(
            err(b"file a seq 1 type b").message,
            "The AOF manifest file contains too long line"
        );
        let long = format!("file {} seq 1 type b\n", "a".repeat(1100));
        assert_eq!(
            err(long.as_bytes()).message,
            "The AOF manifest file contains too long line"
        );
        assert_eq!(
            err(b"file a seq x type b\n").message,
            "Invalid AOF manifest file format"
        );
    }

    #[test]
    fn a_rewrite_moves_base_and_old_incr_files_to_history() {
        let mut m = Manifest::default();
        m.new_base("appendonly.aof", true);
        m.new_incr("appendonly.aof");
        // BGREWRITEAOF opens the next incr file first, then the child writes the new base;
        // Redis's done handler puts each file it retires at the head of the history list.
        m.new_incr("appendonly.aof");
        m.new_base("appendonly.aof", true);
        m.incr_to_history(true);
        assert_eq!(
            m.to_text(),
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.1.base.rdb seq 1 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        let quoted = Entry {
            name: "my file.aof".into(),
            seq: 1,
            kind: FileType::Incr,
        };
        m.incr = vec![quoted];
        m.base = None;
        m.history.clear();
        assert_eq!(m.to_text(), "file \"my file.aof\" seq 1 type i\n");
        assert_eq!(
            Manifest::parse(m.to_text().as_bytes()).unwrap().incr[0].name,
            "my file.aof"
        );
    }
}
