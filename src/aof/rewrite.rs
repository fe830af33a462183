//! A keyspace as the shortest list of commands: the base file of an AOF rewrite without an
//! RDB preamble (`aof-use-rdb-preamble no`), and `rtool aof rewrite`.
//!
//! An append-only file grows with every write, including writes that undo each other:
//! `SET num 123` then `SET num 666` leaves one key but two commands. A rewrite forgets the
//! history and writes, per key, the fewest commands that rebuild its *current* value. The
//! shape is exactly what Redis 7.0's `rewriteAppendOnlyFileRio` emits, so a base file written
//! here is byte-comparable with Redis's for the same data (keys and the members of
//! hash-table-encoded collections come out in each side's own hash order):
//!
//! ```text
//! SELECT <db>                                   before the first key of each non-empty db
//! SET k v                                       strings
//! RPUSH k e1 .. e64   (then RPUSH k e65 ..)     lists, at most 64 items per command
//! SADD k m1 .. m64                              sets
//! ZADD k s1 m1 .. s64 m64                       sorted sets, scores as %.17g
//! HMSET k f1 v1 .. f64 v64                      hashes
//! XADD k <id> f v ..      (one per entry)       streams; an empty one: XADD k MAXLEN 0 0-1 x y
//! XSETID k <last-id> ENTRIESADDED n MAXDELETEDID <id>
//! XGROUP CREATE k g <last-id> ENTRIESREAD n     per group, then per consumer (name order):
//! XCLAIM k g c 0 <id> TIME t RETRYCOUNT n JUSTID FORCE   each pending entry, or
//! XGROUP CREATECONSUMER k g c                   a consumer with nothing pending
//! PEXPIREAT k <ms>                              after the value, for a key with a TTL
//! ```
//!
//! Redis also writes `FUNCTION LOAD` for every function library first; rtool has no
//! functions, so there is nothing to write. Unlike Redis 7.0 (which writes a key whose TTL
//! has passed but that nobody has deleted yet, with its past `PEXPIREAT`), [`write_commands`]
//! leaves such keys out: once loaded, both files hold the same live data.
//!
//! The writer walks the keyspace with the same accessors as the RDB writer and `DEBUG
//! DIGEST` (`rdb::writer`, `keyspace::digest`) and never copies a value: bytes go out through
//! one 64 KiB buffer.

use crate::keyspace::stream::StreamId;
use crate::keyspace::{HashValue, Keyspace, SetValue, StreamValue, Value};
use std::io::{self, Write};

/// `AOF_REWRITE_ITEMS_PER_CMD`: the most elements (or pairs) one RPUSH/SADD/ZADD/HMSET
/// carries, so loading never needs one giant command.
pub const ITEMS_PER_CMD: usize = 64;

/// Bytes gathered before one `write_all` to the output.
const FLUSH_AT: usize = 64 * 1024;

/// What a rewrite wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RewriteStats {
    /// Keys written (expired ones are not).
    pub keys: u64,
    /// Commands written, SELECTs included.
    pub commands: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes commands in RESP (`*<n>` arrays of `$<len>` bulks, what Redis's `rio` helpers
/// produce) into any `Write`, counting commands and bytes.
pub struct CommandWriter<W: Write> {
    w: W,
    buf: Vec<u8>,
    stats: RewriteStats,
}

impl<W: Write> CommandWriter<W> {
    pub fn new(w: W) -> CommandWriter<W> {
        CommandWriter {
            w,
            buf: Vec::with_capacity(FLUSH_AT),
            stats: RewriteStats::default(),
        }
    }

    /// What has been written so far (buffered bytes included).
    pub fn stats(&self) -> RewriteStats {
        self.stats
    }

    /// `SELECT <db>`, which Redis writes before each non-empty database.
    pub fn select(&mut self, db: usize) -> io::Result<()> {
        self.array(2);
        self.bulk(b"SELECT");
        self.bulk_int(db as i64);
        self.maybe_flush()
    }

    /// One key's commands (value, then `PEXPIREAT` when `expire_ms` is set); returns how many
    /// commands that took. The caller has selected the key's database.
    pub fn key(&mut self, key: &[u8], value: &Value, expire_ms: Option<i64>) -> io::Result<u64> {
        let before = self.stats.commands;
        match value {
            Value::Str(s) => {
                self.array(3);
                self.bulk(b"SET");
                self.bulk(key);
                self.bulk(&s.bytes);
            }
            Value::List(l) => {
                self.batched(b"RPUSH", key, 1, l.len(), l.iter(), |w, e| w.bulk(e))?;
            }
            Value::Set(SetValue::Intset(is)) => {
                self.batched(b"SADD", key, 1, is.len(), is.into_iter(), |w, n| {
                    w.bulk_int(*n)
                })?;
            }
            Value::Set(SetValue::Table(t)) => {
                self.batched(b"SADD", key, 1, t.len(), t.keys(), |w, m| w.bulk(m))?;
            }
            Value::ZSet(z) => {
                self.batched(b"ZADD", key, 2, z.len(), z.iter(), |w, (m, score)| {
                    w.bulk(crate::resp::reply::fmt_double(score).as_bytes());
                    w.bulk(m);
                })?;
            }
            Value::Hash(h) => {
                let n = h.len();
                match h {
                    HashValue::Listpack(v) => {
                        self.batched(b"HMSET", key, 2, n, v.iter(), |w, (f, val)| {
                            w.bulk(f);
                            w.bulk(val);
                        })?
                    }
                    HashValue::Table(t) => {
                        self.batched(b"HMSET", key, 2, n, t.iter(), |w, (f, val)| {
                            w.bulk(f);
                            w.bulk(val);
                        })?
                    }
                }
            }
            Value::Stream(s) => self.stream(key, s)?,
        }
        if let Some(ms) = expire_ms {
            self.array(3);
            self.bulk(b"PEXPIREAT");
            self.bulk(key);
            self.bulk_int(ms);
        }
        self.stats.keys += 1;
        self.maybe_flush()?;
        Ok(self.stats.commands - before)
    }

    /// Flush the buffer and hand back the output and the totals.
    pub fn finish(mut self) -> io::Result<(W, RewriteStats)> {
        self.flush_buf()?;
        self.w.flush()?;
        Ok((self.w, self.stats))
    }

    /// A collection as `CMD key <items>` commands of at most [`ITEMS_PER_CMD`] items each,
    /// every item being `width` arguments (1 for list/set elements, 2 for score+member or
    /// field+value). The last command carries the remainder, so its header says so up front
    /// (`rewriteListObject`'s `cmd_items`).
    fn batched<T>(
        &mut self,
        name: &[u8],
        key: &[u8],
        width: usize,
        len: usize,
        items: impl Iterator<Item = T>,
        mut each: impl FnMut(&mut Self, T),
    ) -> io::Result<()> {
        let mut left = len;
        let mut in_cmd = 0;
        for item in items {
            if in_cmd == 0 {
                self.array(2 + left.min(ITEMS_PER_CMD) * width);
                self.bulk(name);
                self.bulk(key);
            }
            each(self, item);
            left = left.saturating_sub(1);
            in_cmd += 1;
            if in_cmd == ITEMS_PER_CMD {
                in_cmd = 0;
                // A big collection would otherwise sit whole in the buffer.
                self.maybe_flush()?;
            }
        }
        Ok(())
    }

    /// `rewriteStreamObject`: the entries, the counters, then the groups with their
    /// consumers and pending entries.
    fn stream(&mut self, key: &[u8], s: &StreamValue) -> io::Result<()> {
        if s.length > 0 {
            for e in s.iter() {
                self.array(3 + e.fields.len());
                self.bulk(b"XADD");
                self.bulk(key);
                self.bulk_id(&e.id);
                for f in &e.fields {
                    self.bulk(f);
                }
                self.maybe_flush()?;
            }
        } else {
            // An empty stream still exists (after XDEL or XTRIM); Redis recreates it with an
            // entry that MAXLEN 0 trims away at once.
            self.array(7);
            for a in [&b"XADD"[..], key, b"MAXLEN", b"0", b"0-1", b"x", b"y"] {
                self.bulk(a);
            }
        }
        // The last ID and the counters cannot be derived from the entries (XDEL of the
        // newest entry, trimmed history), so they are set explicitly.
        self.array(7);
        self.bulk(b"XSETID");
        self.bulk(key);
        self.bulk_id(&s.last_id);
        self.bulk(b"ENTRIESADDED");
        self.bulk_int(s.entries_added as i64);
        self.bulk(b"MAXDELETEDID");
        self.bulk_id(&s.max_deleted_entry_id);
        for (gname, g) in &s.groups {
            self.array(7);
            self.bulk(b"XGROUP");
            self.bulk(b"CREATE");
            self.bulk(key);
            self.bulk(gname);
            self.bulk_id(&g.last_id);
            self.bulk(b"ENTRIESREAD");
            self.bulk_int(g.entries_read);
            for (cname, c) in &g.consumers {
                if c.pel.is_empty() {
                    self.array(5);
                    self.bulk(b"XGROUP");
                    self.bulk(b"CREATECONSUMER");
                    self.bulk(key);
                    self.bulk(gname);
                    self.bulk(cname);
                    continue;
                }
                // Each pending entry goes back to its consumer with its delivery time and
                // count; FORCE creates the PEL entry, JUSTID keeps the count as given.
                for id in &c.pel {
                    let Some(nack) = g.pel.get(id) else { continue };
                    self.array(12);
                    self.bulk(b"XCLAIM");
                    self.bulk(key);
                    self.bulk(gname);
                    self.bulk(cname);
                    self.bulk(b"0");
                    self.bulk_id(id);
                    self.bulk(b"TIME");
                    self.bulk_int(nack.delivery_time);
                    self.bulk(b"RETRYCOUNT");
                    self.bulk_int(nack.delivery_count as i64);
                    self.bulk(b"JUSTID");
                    self.bulk(b"FORCE");
                    self.maybe_flush()?;
                }
            }
        }
        Ok(())
    }

    // --- RESP pieces ------------------------------------------------------------------------

    /// `*<n>\r\n`: starts a command.
    fn array(&mut self, n: usize) {
        self.stats.commands += 1;
        self.head(b'*', n as u64);
    }

    fn head(&mut self, prefix: u8, n: u64) {
        let mut digits = [0u8; 20];
        let s = fmt_u64(n, &mut digits);
        self.put(&[prefix]);
        self.put(s);
        self.put(b"\r\n");
    }

    /// `$<len>\r\n<bytes>\r\n` (`rioWriteBulkString`).
    fn bulk(&mut self, b: &[u8]) {
        self.head(b'$', b.len() as u64);
        self.put(b);
        self.put(b"\r\n");
    }

    /// An integer as a bulk string (`rioWriteBulkLongLong`).
    fn bulk_int(&mut self, n: i64) {
        let mut digits = [0u8; 21];
        let len = if n < 0 {
            let s = fmt_u64(n.unsigned_abs(), &mut digits[1..]).len();
            digits[20 - s] = b'-';
            s + 1
        } else {
            fmt_u64(n as u64, &mut digits[1..]).len()
        };
        let start = 21 - len;
        let text = digits;
        self.bulk(&text[start..]);
    }

    /// A stream ID as `<ms>-<seq>` (`rioWriteBulkStreamID`).
    fn bulk_id(&mut self, id: &StreamId) {
        self.bulk(id.to_string().as_bytes());
    }

    fn put(&mut self, b: &[u8]) {
        self.stats.bytes += b.len() as u64;
        self.buf.extend_from_slice(b);
    }

    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// Decimal digits of `n`, right-aligned at the end of `buf` (at least 20 bytes).
fn fmt_u64(mut n: u64, buf: &mut [u8]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// The whole keyspace as commands (Redis's `rewriteAppendOnlyFileRio`): per non-empty
/// database a `SELECT`, then every key that is not expired at `now_ms`.
pub fn write_commands<W: Write>(ks: &Keyspace, now_ms: i64, w: &mut W) -> io::Result<RewriteStats> {
    let mut out = CommandWriter::new(w);
    for (i, db) in ks.dbs.iter().enumerate() {
        let mut selected = false;
        for (k, v) in db.dict.iter() {
            let expire = db.expire_of(k);
            if matches!(expire, Some(t) if t <= now_ms) {
                continue;
            }
            if !selected {
                out.select(i)?;
                selected = true;
            }
            out.key(k, v, expire)?;
        }
    }
    let (_, stats) = out.finish()?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{ListValue, StrValue};

    fn text(ks: &Keyspace) -> String {
        let mut v = Vec::new();
        write_commands(ks, 0, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn a_string_with_ttl_in_db_3() {
        let mut ks = Keyspace::new(16);
        ks.dbs[3].set("num".into(), Value::Str(StrValue::new("666".into())));
        ks.dbs[3].set_expire(b"num", 1_700_000_000_000);
        assert_eq!(
            text(&ks),
            "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*3\r\n$3\r\nSET\r\n$3\r\nnum\r\n$3\r\n666\r\n\
             *3\r\n$9\r\nPEXPIREAT\r\n$3\r\nnum\r\n$13\r\n1700000000000\r\n"
        );
    }

    #[test]
    fn lists_go_64_items_per_rpush() {
        let mut ks = Keyspace::new(1);
        let mut l = ListValue::default();
        for i in 0..130 {
            l.push_slice(crate::keyspace::list::End::Tail, i.to_string().as_bytes());
        }
        ks.dbs[0].set("l".into(), Value::List(l));
        let t = text(&ks);
        assert_eq!(t.matches("RPUSH").count(), 3);
        assert_eq!(t.matches("*66\r\n$5\r\nRPUSH").count(), 2);
        assert!(t.contains("*4\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$3\r\n128\r\n$3\r\n129\r\n"));
    }

    #[test]
    fn expired_keys_are_left_out() {
        let mut ks = Keyspace::new(1);
        ks.dbs[0].set("k".into(), Value::Str(StrValue::new("v".into())));
        ks.dbs[0].set_expire(b"k", 5);
        let mut v = Vec::new();
        let st = write_commands(&ks, 10, &mut v).unwrap();
        assert!(v.is_empty());
        assert_eq!(st, RewriteStats::default());
    }

    #[test]
    fn integers_format_like_ll2string() {
        for n in [0i64, 7, -7, 10, i64::MAX, i64::MIN, -1] {
            let mut w = CommandWriter::new(Vec::new());
            w.bulk_int(n);
            let (v, _) = w.finish().unwrap();
            let s = n.to_string();
            assert_eq!(v, format!("${}\r\n{}\r\n", s.len(), s).into_bytes());
        }
    }
}
