//! Captures: the bytes of proxied connections, both directions, with timestamps.
//!
//! `fixtures/gen/capture.py` records them between real Redis servers; `rtool tap --record`
//! writes the same format and `rtool tap replay` feeds it back through [`LinkDecoder`]
//! (which is how tests get deterministic output from live traffic).
//!
//! ## Format
//! UTF-8 JSON Lines. The first line is a header object:
//! ```text
//! {"rtool_capture": 1, "scenario": "disk-sync", "description": "...",
//!  "redis_version": "7.0.15", "meta": {"master_repl_offset": "4400", ...}}
//! ```
//! Only `rtool_capture` (the format version, 1) is required; `meta` holds whatever the
//! recorder knew (the fixtures store INFO fields read at the end of the recording). Every
//! other line is a record:
//! ```text
//! {"t": 0.012345, "conn": 1, "dir": "r2m", "hex": "2a310d0a24340d0a50494e470d0a"}
//! {"t": 0.523456, "conn": 1, "dir": "m2r", "eof": true}
//! ```
//! - `t`: seconds since the recording started (a float);
//! - `conn`: the proxied connection, numbered from 1 in accept order;
//! - `dir`: `"r2m"` for what the connecting side (a replica, or any client) sent to the
//!   server, `"m2r"` for what the server sent back;
//! - `hex`: the bytes, lower-case hex, as one read returned them; or `"eof": true` when that
//!   side closed its half of the connection.
//!
//! Records are in the order the proxy forwarded them, so within a connection each direction
//! is in order, and a reply never comes before the request that caused it (the proxy records
//! before it forwards). Hex rather than base64 keeps the format readable with `jq` and `xxd -r
//! -p` and needs no dependency; fixtures stay small anyway.
//!
//! [`LinkDecoder`]: super::LinkDecoder

use super::Dir;
use serde_json::{Value, json};
use std::io::Write;

/// One line after the header.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Seconds since the recording started.
    pub t: f64,
    pub conn: u64,
    pub dir: Dir,
    /// The bytes; `None` when this side closed.
    pub data: Option<Vec<u8>>,
}

/// A whole capture file.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The header line, as written.
    pub header: Value,
    pub records: Vec<Record>,
}

/// What is wrong with a capture file, and on which line (1-based).
#[derive(Debug, thiserror::Error)]
#[error("capture line {line}: {msg}")]
pub struct CaptureError {
    pub line: usize,
    pub msg: String,
}

impl Capture {
    /// Parses a whole capture.
    pub fn parse(text: &str) -> Result<Capture, CaptureError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let err = |line: usize, msg: String| CaptureError {
            line: line + 1,
            msg,
        };
        let (n, first) = lines.next().ok_or_else(|| err(0, "empty file".into()))?;
        let header: Value =
            serde_json::from_str(first).map_err(|e| err(n, format!("header: {e}")))?;
        if header.get("rtool_capture").and_then(Value::as_u64) != Some(1) {
            return Err(err(n, "not an rtool capture (version 1)".into()));
        }
        let mut records = Vec::new();
        for (n, line) in lines {
            records.push(parse_record(line).map_err(|m| err(n, m))?);
        }
        Ok(Capture { header, records })
    }

    /// A field of the header's `meta` object, as a string (INFO values are strings).
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.header.get("meta")?.get(key)?.as_str()
    }

    /// The connection numbers, in order of first appearance.
    pub fn conns(&self) -> Vec<u64> {
        let mut v: Vec<u64> = Vec::new();
        for r in &self.records {
            if !v.contains(&r.conn) {
                v.push(r.conn);
            }
        }
        v
    }

    /// All bytes one direction of one connection carried, concatenated.
    pub fn stream(&self, conn: u64, dir: Dir) -> Vec<u8> {
        self.records
            .iter()
            .filter(|r| r.conn == conn && r.dir == dir)
            .filter_map(|r| r.data.as_deref())
            .flatten()
            .copied()
            .collect()
    }
}

fn parse_record(line: &str) -> Result<Record, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let t = v.get("t").and_then(Value::as_f64).ok_or("missing \"t\"")?;
    let conn = v
        .get("conn")
        .and_then(Value::as_u64)
        .ok_or("missing \"conn\"")?;
    let dir = match v.get("dir").and_then(Value::as_str) {
        Some("r2m") => Dir::ReplicaToMaster,
        Some("m2r") => Dir::MasterToReplica,
        _ => return Err("\"dir\" must be \"r2m\" or \"m2r\"".into()),
    };
    let data = match (v.get("hex"), v.get("eof")) {
        (Some(Value::String(h)), _) => Some(from_hex(h).ok_or("bad hex")?),
        (None, Some(Value::Bool(true))) => None,
        _ => return Err("a record has \"hex\" or \"eof\": true".into()),
    };
    Ok(Record { t, conn, dir, data })
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    b.chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// Writes the header line (`rtool_capture: 1` is added).
pub fn write_header<W: Write>(mut w: W, scenario: &str, meta: Value) -> std::io::Result<()> {
    let h = json!({"rtool_capture": 1, "scenario": scenario, "meta": meta});
    writeln!(w, "{h}")
}

/// Writes one record line.
pub fn write_record<W: Write>(mut w: W, rec: &Record) -> std::io::Result<()> {
    let dir = rec.dir.short();
    let t = (rec.t * 1e6).round() / 1e6;
    match &rec.data {
        Some(d) => {
            let mut hex = String::with_capacity(d.len() * 2);
            for b in d {
                hex.push_str(&format!("{b:02x}"));
            }
            writeln!(
                w,
                r#"{{"t": {t}, "conn": {}, "dir": "{dir}", "hex": "{hex}"}}"#,
                rec.conn
            )
        }
        None => writeln!(
            w,
            r#"{{"t": {t}, "conn": {}, "dir": "{dir}", "eof": true}}"#,
            rec.conn
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut out = Vec::new();
        write_header(&mut out, "t", json!({"k": "v"})).unwrap();
        let recs = vec![
            Record {
                t: 0.5,
                conn: 1,
                dir: Dir::ReplicaToMaster,
                data: Some(b"PING\r\n".to_vec()),
            },
            Record {
                t: 1.25,
                conn: 1,
                dir: Dir::MasterToReplica,
                data: None,
            },
        ];
        for r in &recs {
            write_record(&mut out, r).unwrap();
        }
        let cap = Capture::parse(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!(cap.records, recs);
        assert_eq!(cap.meta("k"), Some("v"));
        assert_eq!(cap.stream(1, Dir::ReplicaToMaster), b"PING\r\n");
        assert!(Capture::parse("{\"x\":1}").is_err());
        assert!(
            Capture::parse(
                "{\"rtool_capture\":1}\n{\"t\":0,\"conn\":1,\"dir\":\"r2m\",\"hex\":\"0\"}"
            )
            .is_err()
        );
    }
}
