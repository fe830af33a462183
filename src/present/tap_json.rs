//! The tap's NDJSON printer: one JSON object per link event (`rtool tap --json`,
//! `rtool tap replay --json`).
//!
//! The schema is specified in the book (`book/src/appendix-tap-json.md`) and this file follows
//! that text. Every line has `conn`, `dir`, `phase`, `event` and `offset` (the event's first
//! byte in its direction's stream) first, in that order, so `jq` filters and `grep` both work;
//! the fields after them depend on `event`. Bytes from the wire are binary-safe the same way
//! as in the RDB JSON: `{"text": ...}` for UTF-8, `{"bytes": <base64>}` otherwise.

use super::timeline::{CutEvent, LinkSink, RdbProgress, RdbSummary};
use crate::repl::stream::capture::CutReason;
use crate::repl::stream::{
    CommandKind, Dir, Event, EventKind, Framing, LinkDecoder, LinkError, RequestKind,
};
use crate::resp::frame::{Frame, Resp3Frame, Resp3Value};
use serde_json::{Value, json};
use std::io::{self, Write};

/// NDJSON sink for link events.
pub struct TapJson<W: Write> {
    out: W,
    summary: std::collections::HashMap<u64, RdbSummary>,
}

impl<W: Write> TapJson<W> {
    pub fn new(out: W) -> TapJson<W> {
        TapJson {
            out,
            summary: Default::default(),
        }
    }

    /// The writer back (tests render into a `Vec<u8>`).
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Writes one line: the envelope fields in their fixed order, then `rest`.
    fn line(
        &mut self,
        conn: u64,
        dir: Dir,
        phase: &str,
        event: &str,
        offset: u64,
        rest: Vec<(&str, Value)>,
    ) -> io::Result<()> {
        // serde_json's map sorts keys; the envelope order is part of the format, so the
        // object is written field by field.
        let mut l = format!(
            "{{\"conn\":{conn},\"dir\":\"{}\",\"phase\":\"{phase}\",\"event\":\"{event}\",\"offset\":{offset}",
            dir.as_str()
        );
        for (k, v) in rest {
            l.push_str(&format!(",\"{k}\":{v}"));
        }
        l.push_str("}\n");
        self.out.write_all(l.as_bytes())
    }
}

/// Binary-safe bytes as a JSON value (`{"text"}` / `{"bytes"}`).
pub fn bin(b: &[u8]) -> Value {
    let mut v = Vec::new();
    super::json::bin(&mut v, b);
    serde_json::from_slice(&v).unwrap_or(Value::Null)
}

fn args(a: &[bytes::Bytes]) -> Value {
    Value::Array(a.iter().map(|x| bin(x)).collect())
}

/// A reply frame as JSON: simple strings and errors tagged, integers as numbers, bulk strings
/// binary-safe, arrays as arrays, nulls as null. RESP3 frames that have no RESP2 form are
/// given as their debug text under `resp3` (rare on a replication link).
pub fn frame(f: &Frame) -> Value {
    use redis_protocol::resp2::types::OwnedFrame as F2;
    fn r2(f: &F2) -> Value {
        match f {
            F2::SimpleString(s) => json!({"simple": bin(s)}),
            F2::Error(e) => json!({"error": e}),
            F2::Integer(i) => json!(i),
            F2::BulkString(b) => bin(b),
            F2::Array(a) => Value::Array(a.iter().map(r2).collect()),
            F2::Null => Value::Null,
        }
    }
    match f {
        Frame::Resp2(f) => r2(f),
        Frame::Resp3(f) => r3(f),
    }
}

/// RESP3 as JSON; maps and sets in wire order, repeated keys and members included (the frame
/// decoder keeps it, see `resp::frame`). Attributes are not given.
fn r3(f: &Resp3Frame) -> Value {
    use redis_protocol::resp3::types::OwnedFrame as F3;
    let leaf = match &f.value {
        Resp3Value::Leaf(l) => l,
        Resp3Value::Array(a) => return Value::Array(a.iter().map(r3).collect()),
        Resp3Value::Push(a) => return json!({"push": a.iter().map(r3).collect::<Vec<_>>()}),
        Resp3Value::Set(a) => return json!({"set": a.iter().map(r3).collect::<Vec<_>>()}),
        Resp3Value::Map(m) => {
            return json!({"map": m
                .iter()
                .map(|(k, v)| json!([r3(k), r3(v)]))
                .collect::<Vec<_>>()});
        }
    };
    match leaf {
        F3::BlobString { data, .. } => bin(data),
        F3::SimpleString { data, .. } => json!({"simple": bin(data)}),
        F3::SimpleError { data, .. } => json!({"error": data}),
        F3::BlobError { data, .. } => json!({"error": bin(data)}),
        F3::Number { data, .. } => json!(data),
        F3::Double { data, .. } => json!({"double": crate::present::score_text(*data)}),
        F3::Boolean { data, .. } => json!(data),
        F3::BigNumber { data, .. } => json!({"big_number": bin(data)}),
        F3::Null => Value::Null,
        F3::VerbatimString { data, .. } => json!({"verbatim": bin(data)}),
        other => json!({"resp3": format!("{other:?}")}),
    }
}

fn request_kind(k: &RequestKind) -> &'static str {
    match k {
        RequestKind::Ping => "ping",
        RequestKind::Auth { .. } => "auth",
        RequestKind::Replconf(_) => "replconf",
        RequestKind::Ack { .. } => "ack",
        RequestKind::Getack => "getack",
        RequestKind::Psync { .. } => "psync",
        RequestKind::Sync => "sync",
        RequestKind::Other => "other",
    }
}

fn command_kind(k: &CommandKind) -> &'static str {
    match k {
        CommandKind::Select { .. } => "select",
        CommandKind::Ping => "ping",
        CommandKind::Getack => "getack",
        CommandKind::Multi => "multi",
        CommandKind::Exec => "exec",
        CommandKind::Write => "write",
    }
}

impl<W: Write> LinkSink for TapJson<W> {
    fn event(&mut self, conn: u64, ev: &Event, dec: &LinkDecoder) -> io::Result<()> {
        use crate::rdb::Event as R;
        let (d, p, o) = (ev.dir, ev.phase.as_str(), ev.offset);
        let len = ("len", json!(ev.len));
        match &ev.kind {
            EventKind::Keepalive => self.line(conn, d, p, "keepalive", o, vec![len]),
            EventKind::Request(r) => {
                let mut rest = vec![
                    len,
                    ("kind", json!(request_kind(&r.kind))),
                    ("args", args(&r.args)),
                ];
                if r.inline {
                    rest.push(("inline", json!(true)));
                }
                if let RequestKind::Ack {
                    offset: Some(a),
                    getack,
                    ..
                } = &r.kind
                {
                    rest.push(("ack_offset", json!(a)));
                    if let Some(m) = dec.master_offset() {
                        rest.push(("lag", json!(m as i64 - a)));
                    }
                    if let Some(g) = getack {
                        rest.push(("answers_getack", json!(g)));
                    }
                }
                self.line(conn, d, p, "request", o, rest)
            }
            EventKind::Reply(r) => {
                let mut rest = vec![len, ("reply", frame(&r.frame))];
                if r.push {
                    rest.push(("push", json!(true)));
                }
                if let Some(q) = r.request {
                    rest.push(("request_offset", json!(q)));
                }
                self.line(conn, d, p, "reply", o, rest)
            }
            EventKind::FullResync {
                replid,
                offset,
                reason,
            } => self.line(
                conn,
                d,
                p,
                "fullresync",
                o,
                vec![
                    len,
                    ("replid", bin(replid)),
                    ("repl_offset", json!(offset)),
                    ("reason", json!(format!("{reason:?}"))),
                    ("why", json!(reason.describe())),
                ],
            ),
            EventKind::Continue {
                replid,
                repl_offset,
            } => self.line(
                conn,
                d,
                p,
                "continue",
                o,
                vec![
                    len,
                    ("replid", replid.as_ref().map_or(Value::Null, |r| bin(r))),
                    ("repl_offset", json!(repl_offset)),
                ],
            ),
            EventKind::PsyncRefused {
                text, retry_later, ..
            } => self.line(
                conn,
                d,
                p,
                "psync_refused",
                o,
                vec![
                    len,
                    ("text", bin(text)),
                    ("retry_later", json!(retry_later)),
                ],
            ),
            EventKind::TransferAborted { text } => self.line(
                conn,
                d,
                p,
                "transfer_aborted",
                o,
                vec![len, ("text", bin(text))],
            ),
            EventKind::TransferStart(f) => {
                self.summary.insert(conn, RdbSummary::default());
                let rest = match f {
                    Framing::Length(n) => {
                        vec![len, ("framing", json!("length")), ("rdb_len", json!(n))]
                    }
                    Framing::EofMark(m) => {
                        vec![len, ("framing", json!("eof")), ("mark", bin(m))]
                    }
                };
                self.line(conn, d, p, "transfer_start", o, rest)
            }
            EventKind::Rdb(r) => {
                if !RdbSummary::wants(r) {
                    return Ok(());
                }
                self.summary.entry(conn).or_default().add(r);
                match r {
                    R::Header { version, .. } => self.line(
                        conn,
                        d,
                        p,
                        "rdb_header",
                        o,
                        vec![len, ("version", json!(version))],
                    ),
                    R::Aux { name, value, .. } => self.line(
                        conn,
                        d,
                        p,
                        "rdb_aux",
                        o,
                        vec![len, ("name", bin(name)), ("value", bin(value))],
                    ),
                    R::KeyStart(k) => self.line(
                        conn,
                        d,
                        p,
                        "rdb_key",
                        o,
                        vec![
                            len,
                            ("db", json!(k.db)),
                            ("key", bin(&k.key)),
                            ("type", json!(k.value_type.as_str())),
                            ("encoding", json!(k.encoding)),
                            ("expire_ms", json!(k.expire_ms)),
                        ],
                    ),
                    R::Eof {
                        stored, computed, ..
                    } => self.line(
                        conn,
                        d,
                        p,
                        "rdb_eof",
                        o,
                        vec![
                            len,
                            ("checksum", json!(stored.map(|c| format!("{c:016x}")))),
                            ("computed", json!(format!("{computed:016x}"))),
                            (
                                "checksum_ok",
                                json!(stored.is_none_or(|s| s == 0 || s == *computed)),
                            ),
                        ],
                    ),
                    // Values, containers and the other records are the RDB printers' business
                    // (`rtool rdb dump`); the tap reports keys and the file's frame.
                    _ => Ok(()),
                }
            }
            EventKind::RdbError(e) => self.line(
                conn,
                d,
                p,
                "rdb_error",
                o,
                vec![len, ("message", json!(e.to_string()))],
            ),
            EventKind::RdbTrailing { bytes } => self.line(
                conn,
                d,
                p,
                "rdb_trailing",
                o,
                vec![len, ("bytes", json!(bytes))],
            ),
            EventKind::TransferEnd { rdb_len } => {
                self.line(
                    conn,
                    d,
                    p,
                    "transfer_end",
                    o,
                    vec![len, ("rdb_len", json!(rdb_len))],
                )?;
                let s = self.summary.remove(&conn).unwrap_or_default();
                let keys: serde_json::Map<String, Value> = s
                    .keys
                    .iter()
                    .map(|(db, types)| {
                        let t: serde_json::Map<String, Value> = types
                            .iter()
                            .map(|(t, n)| (t.to_string(), json!(n)))
                            .collect();
                        (db.to_string(), Value::Object(t))
                    })
                    .collect();
                self.line(
                    conn,
                    d,
                    p,
                    "rdb_summary",
                    o + ev.len,
                    vec![
                        ("keys", Value::Object(keys)),
                        ("total_keys", json!(s.total())),
                    ],
                )
            }
            EventKind::Command(c) => {
                let mut rest = vec![
                    len,
                    ("repl_offset", json!(c.repl_offset)),
                    ("kind", json!(command_kind(&c.kind))),
                    ("db", json!(c.db)),
                    ("args", args(&c.args)),
                ];
                if let Some(t) = c.tx {
                    rest.push(("tx", json!(t)));
                }
                if let Some(n) = c.note {
                    rest.push(("note", json!(n)));
                }
                self.line(conn, d, p, "command", o, rest)
            }
        }
    }

    fn cut(&mut self, conn: u64, c: &CutEvent, _dec: &LinkDecoder) -> io::Result<()> {
        let mut rest = match c.reason {
            CutReason::After { bytes } => {
                vec![("reason", json!("cut-after")), ("limit", json!(bytes))]
            }
            CutReason::Every { secs } => {
                vec![("reason", json!("cut-every")), ("secs", json!(secs))]
            }
        };
        rest.push(("m2r_bytes", json!(c.m2r_bytes)));
        rest.push(("r2m_bytes", json!(c.r2m_bytes)));
        rest.push(("master_offset", json!(c.master_offset)));
        rest.push(("why", json!(c.consequence())));
        self.line(
            conn,
            Dir::MasterToReplica,
            c.phase.as_str(),
            "cut",
            c.m2r_bytes,
            rest,
        )
    }

    fn progress(&mut self, conn: u64, g: &RdbProgress) -> io::Result<()> {
        self.line(
            conn,
            Dir::MasterToReplica,
            "transfer",
            "rdb_progress",
            g.offset,
            vec![
                ("rdb_bytes", json!(g.rdb_bytes)),
                ("rdb_len", json!(g.rdb_len)),
                ("keys", json!(g.keys)),
                ("db", json!(g.db)),
                ("key", g.key.as_ref().map_or(Value::Null, |k| bin(k))),
            ],
        )
    }

    fn error(&mut self, conn: u64, e: &LinkError) -> io::Result<()> {
        self.line(
            conn,
            e.dir,
            e.phase.as_str(),
            "error",
            e.offset,
            vec![("message", json!(e.kind.to_string()))],
        )
    }

    fn closed(&mut self, conn: u64, dir: Dir, dec: &LinkDecoder) -> io::Result<()> {
        let mut rest = vec![
            ("bytes", json!(dec.offset(dir))),
            ("keepalives", json!(dec.keepalives(dir))),
        ];
        if dir == Dir::MasterToReplica {
            rest.push(("master_offset", json!(dec.master_offset())));
        }
        self.line(
            conn,
            dir,
            dec.phase(dir).as_str(),
            "closed",
            dec.offset(dir),
            rest,
        )
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
