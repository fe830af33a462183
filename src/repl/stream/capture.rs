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
//! `rtool tap` adds one more kind of record when it injects a fault: the tap itself closed
//! both sockets of the connection (`--cut-after BYTES`, `--cut-every SECS`). Both directions
//! end there; no `eof` records follow for that connection:
//! ```text
//! {"t": 1.5, "conn": 1, "dir": "m2r", "cut": "after", "bytes": 4000}
//! {"t": 9.0, "conn": 2, "dir": "m2r", "cut": "every", "secs": 5}
//! ```
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
    /// The bytes; `None` when this side closed (or, with `cut`, when the tap cut the link).
    pub data: Option<Vec<u8>>,
    /// The tap closed both directions on purpose (fault injection); `data` is `None`.
    pub cut: Option<CutReason>,
}

/// Why `rtool tap` cut a connection. Kept in the capture so a replay shows the cut where it
/// happened, with the rule that caused it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CutReason {
    /// `--cut-after BYTES`: that many bytes had been forwarded master->replica.
    After { bytes: u64 },
    /// `--cut-every SECS`: the periodic cut of every replication link.
    Every { secs: f64 },
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
    let num = |k: &str| v.get(k).and_then(Value::as_f64);
    let cut = match v.get("cut").and_then(Value::as_str) {
        None => None,
        Some("after") => Some(CutReason::After {
            bytes: v
                .get("bytes")
                .and_then(Value::as_u64)
                .ok_or("missing \"bytes\"")?,
        }),
        Some("every") => Some(CutReason::Every {
            secs: num("secs").ok_or("missing \"secs\"")?,
        }),
        Some(_) => return Err("\"cut\" must be \"after\" or \"every\"".into()),
    };
    let data = match (v.get("hex"), v.get("eof")) {
        (Some(Value::String(h)), _) if cut.is_none() => Some(from_hex(h).ok_or("bad hex")?),
        (None, Some(Value::Bool(true))) => None,
        (None, None) if cut.is_some() => None,
        _ => return Err("a record has \"hex\", \"eof\": true or \"cut\"".into()),
    };
    Ok(Record {
        t,
        conn,
        dir,
        data,
        cut,
    })
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
    let conn = rec.conn;
    match rec.cut {
        Some(CutReason::After { bytes }) => {
            return writeln!(
                w,
                r#"{{"t": {t}, "conn": {conn}, "dir": "{dir}", "cut": "after", "bytes": {bytes}}}"#
            );
        }
        Some(CutReason::Every { secs }) => {
            return writeln!(
                w,
                r#"{{"t": {t}, "conn": {conn}, "dir": "{dir}", "cut": "every", "secs": {secs}}}"#
            );
        }
        None => {}
    }
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
                cut: None,
            },
            Record {
                t: 1.25,
                conn: 1,
                dir: Dir::MasterToReplica,
                data: None,
                cut: None,
            },
            Record {
                t: 2.0,
                conn: 1,
                dir: Dir::MasterToReplica,
                data: None,
                cut: Some(CutReason::After { bytes: 7 }),
            },
            Record {
                t: 3.0,
                conn: 2,
                dir: Dir::MasterToReplica,
                data: None,
                cut: Some(CutReason::Every { secs: 0.5 }),
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
