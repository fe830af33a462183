//! The commands that recreate an RDB's data, as RESP arrays: what `redis-cli --pipe` sends.
//!
//! `rtool rdb dump dump.rdb --format resp | redis-cli --pipe` loads the dataset into a running
//! server. The choice of commands follows what Redis itself propagates, so each one is a
//! command a learner already met in the replication stream:
//!
//! | value | commands |
//! | --- | --- |
//! | string | `SET key value` |
//! | list | `RPUSH key e1 .. e64`, repeated |
//! | set | `SADD key m1 .. m64`, repeated |
//! | zset | `ZADD key s1 m1 .. s64 m64`, repeated (scores as shortest round-trip text) |
//! | hash | `HSET key f1 v1 .. f64 v64`, repeated; a field TTL (RDB 12) as `HPEXPIREAT` |
//! | stream | `XADD key <id> f v ..` per entry, `XSETID` for the last/max-deleted IDs and the entries-added counter, `XGROUP CREATE .. ENTRIESREAD`, `XGROUP CREATECONSUMER`, and one `XCLAIM .. TIME .. RETRYCOUNT .. FORCE JUSTID` per pending entry (the form Redis propagates for `XREADGROUP`) |
//! | functions | `FUNCTION LOAD REPLACE <code>` |
//!
//! plus `SELECT db` whenever the database changes and `PEXPIREAT key ms` after a key with an
//! expiry. Collections go in batches of at most [`BATCH`] elements so no single command grows
//! with the collection, and memory here stays bounded — except a stream group's pending
//! entries, which are held until the consumers that own them are read (the RDB stores the
//! owner after the entry).
//!
//! What cannot be recreated with commands is left out: module values (their type's own
//! `RESTORE`-only format), a consumer's seen-time (XCLAIM sets it to now), and pending entries
//! whose message was deleted (XCLAIM refuses an ID that is not in the stream, as Redis does).

use super::Sink;
use crate::rdb::{Event, Item, ReadError, StreamId, ValueType};
use std::collections::HashMap;
use std::io::{self, Write};

/// Elements (list elements, members, fields, score/member pairs) per command at most.
pub const BATCH: usize = 64;

/// A temporary group name used to create an empty stream (`XGROUP CREATE .. MKSTREAM`), then
/// destroyed; no other command makes a stream with no entries.
const TMP_GROUP: &[u8] = b"rtool-restore-tmp";

/// The RESP command printer.
pub struct RespCommands<W: Write> {
    out: W,
    /// The database the commands go to (`SELECT` is written when it changes).
    db: Option<u64>,
    key: Option<KeyCmds>,
    /// Keys written and keys that could not be (module values).
    pub written: u64,
    pub skipped: u64,
}

/// The key being turned into commands.
struct KeyCmds {
    key: Vec<u8>,
    vt: ValueType,
    expire_ms: Option<i64>,
    /// Arguments of the batch being filled (after the command name and key).
    batch: Vec<Vec<u8>>,
    batch_items: usize,
    /// Hash field TTLs, written after the fields exist.
    field_ttls: Vec<(Vec<u8>, u64)>,
    /// Stream: live entries written so far (0 means the stream must be created empty).
    entries: u64,
    /// Stream: the current group and its pending entries (id -> delivery time, count).
    group: Option<Vec<u8>>,
    pel: HashMap<StreamId, (i64, u64)>,
    consumer: Option<Vec<u8>>,
}

impl<W: Write> RespCommands<W> {
    pub fn new(out: W) -> RespCommands<W> {
        RespCommands {
            out,
            db: None,
            key: None,
            written: 0,
            skipped: 0,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// One command as a RESP array of bulk strings.
    fn cmd(&mut self, args: &[&[u8]]) -> io::Result<()> {
        write_cmd(&mut self.out, args)
    }

    fn flush_batch(&mut self) -> io::Result<()> {
        let Some(k) = self.key.as_mut() else {
            return Ok(());
        };
        if k.batch.is_empty() {
            return Ok(());
        }
        let name: &[u8] = match k.vt {
            ValueType::List => b"RPUSH",
            ValueType::Set => b"SADD",
            ValueType::ZSet => b"ZADD",
            _ => b"HSET",
        };
        let mut args: Vec<&[u8]> = Vec::with_capacity(k.batch.len() + 2);
        args.push(name);
        args.push(&k.key);
        args.extend(k.batch.iter().map(Vec::as_slice));
        write_cmd(&mut self.out, &args)?;
        k.batch.clear();
        k.batch_items = 0;
        Ok(())
    }

    fn push(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let full = match self.key.as_mut() {
            Some(k) => {
                k.batch.extend(parts.iter().map(|p| p.to_vec()));
                k.batch_items += 1;
                k.batch_items >= BATCH
            }
            None => false,
        };
        if full {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn item(&mut self, item: &Item) -> io::Result<()> {
        let Some(k) = self.key.as_mut() else {
            return Ok(());
        };
        let key = k.key.clone();
        match item {
            Item::String(v) => self.cmd(&[b"SET", &key, v]),
            Item::ListElement(v) | Item::SetMember(v) => self.push(&[v]),
            Item::ZSetMember { member, score } => {
                let s = super::score_text(*score);
                self.push(&[s.as_bytes(), member])
            }
            Item::HashField {
                field,
                value,
                expire_ms,
            } => {
                if let Some(ms) = expire_ms {
                    k.field_ttls.push((field.to_vec(), *ms));
                }
                self.push(&[field, value])
            }
            Item::StreamEntry { deleted: true, .. } => Ok(()),
            Item::StreamEntry { id, fields, .. } => {
                k.entries += 1;
                let id = id.to_string();
                let mut args: Vec<&[u8]> = vec![b"XADD", &key, id.as_bytes()];
                for (f, v) in fields {
                    args.push(f);
                    args.push(v);
                }
                self.cmd(&args)
            }
            Item::StreamMeta {
                last_id,
                max_deleted_id,
                entries_added,
                ..
            } => {
                if k.entries == 0 {
                    // No entry to XADD: make the stream exist, empty.
                    self.cmd(&[b"XGROUP", b"CREATE", &key, TMP_GROUP, b"0", b"MKSTREAM"])?;
                    self.cmd(&[b"XGROUP", b"DESTROY", &key, TMP_GROUP])?;
                }
                let last = last_id.to_string();
                let mut args: Vec<Vec<u8>> = vec![b"XSETID".to_vec(), key.clone(), last.into()];
                if let Some(n) = entries_added {
                    args.push(b"ENTRIESADDED".to_vec());
                    args.push(n.to_string().into());
                }
                if let Some(id) = max_deleted_id {
                    args.push(b"MAXDELETEDID".to_vec());
                    args.push(id.to_string().into());
                }
                let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                self.cmd(&refs)
            }
            Item::StreamGroup {
                name,
                last_id,
                entries_read,
            } => {
                k.group = Some(name.to_vec());
                k.pel.clear();
                k.consumer = None;
                let last = last_id.to_string();
                let mut args: Vec<Vec<u8>> = vec![
                    b"XGROUP".to_vec(),
                    b"CREATE".to_vec(),
                    key.clone(),
                    name.to_vec(),
                    last.into(),
                ];
                if let Some(n) = entries_read {
                    args.push(b"ENTRIESREAD".to_vec());
                    args.push(n.to_string().into());
                }
                let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                self.cmd(&refs)
            }
            Item::StreamPending {
                id,
                delivery_time_ms,
                delivery_count,
            } => {
                k.pel.insert(*id, (*delivery_time_ms, *delivery_count));
                Ok(())
            }
            Item::StreamConsumer { name, .. } => {
                k.consumer = Some(name.to_vec());
                let group = k.group.clone().unwrap_or_default();
                self.cmd(&[b"XGROUP", b"CREATECONSUMER", &key, &group, name])
            }
            Item::StreamConsumerPending { id } => {
                let (time, count) = k.pel.get(id).copied().unwrap_or((0, 1));
                let group = k.group.clone().unwrap_or_default();
                let consumer = k.consumer.clone().unwrap_or_default();
                let (id, time, count) = (id.to_string(), time.to_string(), count.to_string());
                self.cmd(&[
                    b"XCLAIM",
                    &key,
                    &group,
                    &consumer,
                    b"0",
                    id.as_bytes(),
                    b"TIME",
                    time.as_bytes(),
                    b"RETRYCOUNT",
                    count.as_bytes(),
                    b"FORCE",
                    b"JUSTID",
                ])
            }
            Item::ModuleValue => Ok(()),
        }
    }

    fn key_end(&mut self) -> io::Result<()> {
        self.flush_batch()?;
        let Some(k) = self.key.take() else {
            return Ok(());
        };
        for (field, ms) in &k.field_ttls {
            let ms = ms.to_string();
            self.cmd(&[b"HPEXPIREAT", &k.key, ms.as_bytes(), b"FIELDS", b"1", field])?;
        }
        if let Some(ms) = k.expire_ms {
            let ms = ms.to_string();
            self.cmd(&[b"PEXPIREAT", &k.key, ms.as_bytes()])?;
        }
        self.written += 1;
        Ok(())
    }
}

impl<W: Write> Sink for RespCommands<W> {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        match ev {
            Event::Function { code, .. } => {
                self.cmd(&[b"FUNCTION", b"LOAD", b"REPLACE", code])?;
            }
            Event::KeyStart(k) => {
                if k.value_type == ValueType::Module {
                    self.skipped += 1;
                    return Ok(());
                }
                if self.db != Some(k.db) {
                    let db = k.db.to_string();
                    self.cmd(&[b"SELECT", db.as_bytes()])?;
                    self.db = Some(k.db);
                }
                self.key = Some(KeyCmds {
                    key: k.key.to_vec(),
                    vt: k.value_type,
                    expire_ms: k.expire_ms,
                    batch: Vec::new(),
                    batch_items: 0,
                    field_ttls: Vec::new(),
                    entries: 0,
                    group: None,
                    pel: HashMap::new(),
                    consumer: None,
                });
            }
            Event::Item { item, .. } => self.item(item)?,
            Event::KeyEnd(_) => self.key_end()?,
            _ => {}
        }
        Ok(())
    }

    fn error(&mut self, _err: &ReadError) -> io::Result<()> {
        // The key being read is incomplete: its commands so far stay written (they are valid
        // commands), nothing is invented for the rest.
        self.key = None;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Encodes one command as a RESP array of bulk strings.
pub fn write_cmd(out: &mut impl Write, args: &[&[u8]]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    buf.push(b'*');
    buf.extend_from_slice(args.len().to_string().as_bytes());
    buf.extend_from_slice(b"\r\n");
    for a in args {
        buf.push(b'$');
        buf.extend_from_slice(a.len().to_string().as_bytes());
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
    out.write_all(&buf)
}
