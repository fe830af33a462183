//! The hash commands.
//!
//! A small hash is a listpack and replies in insertion order (see `keyspace::hash`), so most
//! replies here are byte-for-byte predictable; only a `hashtable` hash answers in hash order.
//!
//! What is propagated: every command as typed when it changed something, except
//! HINCRBYFLOAT, which Redis propagates as `HSET key field <new value>` so a replica stores
//! the same digits whatever its floating point does. Note that HSET/HMSET count every pair
//! as a change even when the value was already there, so they are always propagated.

use super::collection::{self as c, WrongType};
use super::{Ctx, Handler, errors};
use crate::keyspace::{HashValue, Value};
use crate::resp::Reply;
use bytes::Bytes;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("hset", hset),
    ("hmset", hset),
    ("hsetnx", hsetnx),
    ("hget", hget),
    ("hmget", hmget),
    ("hgetall", hgetall),
    ("hkeys", hkeys),
    ("hvals", hvals),
    ("hdel", hdel),
    ("hlen", hlen),
    ("hexists", hexists),
    ("hstrlen", hstrlen),
    ("hincrby", hincrby),
    ("hincrbyfloat", hincrbyfloat),
    ("hrandfield", hrandfield),
    ("hscan", hscan),
];

fn b(a: &[u8]) -> Bytes {
    Bytes::copy_from_slice(a)
}

/// Set fields of the hash at `key`, creating it if needed (Redis's
/// `hashTypeLookupWriteOrCreate` + `hashTypeSet`). Returns how many fields were new, or
/// `Err` if the key holds another type. The caller checked the type already when it
/// needs a specific error order.
fn set_fields(ctx: &mut Ctx, key: &[u8], pairs: &[&[u8]]) -> Result<usize, WrongType> {
    let t = ctx.engine.thresholds;
    let db = ctx.db();
    let mut created = 0;
    let h = match c::hash_mut(db, key)? {
        Some(h) => h,
        None => {
            db.set(b(key), Value::Hash(HashValue::default()));
            match c::hash_mut(db, key)? {
                Some(h) => h,
                None => return Ok(0),
            }
        }
    };
    h.prepare_for(pairs, &t);
    for p in pairs.chunks(2) {
        if h.set(p[0], b(p[1]), &t) {
            created += 1;
        }
    }
    Ok(created)
}

/// HSET key field value [field value ...] (replies how many fields were new) and its old
/// form HMSET (replies OK).
fn hset(ctx: &mut Ctx, argv: &[&[u8]]) {
    if argv.len() % 2 == 1 {
        return c::arity_error(ctx.out, argv[0]);
    }
    let key = argv[1];
    ctx.expire_if_needed(key);
    let Ok(created) = set_fields(ctx, key, &argv[2..]) else {
        return ctx.wrongtype();
    };
    if argv[0].eq_ignore_ascii_case(b"hset") {
        ctx.out.int(created as i64);
    } else {
        ctx.out.ok();
    }
    ctx.touch(key);
    ctx.dirty(((argv.len() - 2) / 2) as u64);
}

/// HSETNX key field value: 1 if the field was set, 0 if it existed.
fn hsetnx(ctx: &mut Ctx, argv: &[&[u8]]) {
    let key = argv[1];
    ctx.expire_if_needed(key);
    match c::hash(ctx.db(), key) {
        Err(WrongType) => return ctx.wrongtype(),
        Ok(Some(h)) if h.contains(argv[2]) => return ctx.out.int(0),
        Ok(_) => {}
    }
    if set_fields(ctx, key, &argv[2..4]).is_err() {
        return ctx.wrongtype();
    }
    ctx.out.int(1);
    ctx.touch(key);
    ctx.dirty(1);
}

/// Look up a hash for reading and run `f` on it with the reply buffer; `missing` replies
/// for a key that does not exist.
fn read(
    ctx: &mut Ctx,
    key: &[u8],
    missing: fn(&mut Reply),
    f: impl FnOnce(&HashValue, &mut Reply),
) {
    let live = c::read_key(ctx, key);
    let (db, out) = c::db_out(ctx);
    match c::visible(c::hash(db, key), live) {
        Err(WrongType) => out.err(errors::WRONGTYPE),
        Ok(None) => missing(out),
        Ok(Some(h)) => f(h, out),
    }
}

fn hget(ctx: &mut Ctx, argv: &[&[u8]]) {
    read(ctx, argv[1], Reply::null, |h, out| match h.get(argv[2]) {
        Some(v) => out.bulk(v),
        None => out.null(),
    })
}

/// HMGET key field [field ...]: a missing key is an empty hash (all nulls).
fn hmget(ctx: &mut Ctx, argv: &[&[u8]]) {
    let fields = &argv[2..];
    let all_null = |out: &mut Reply, n: usize| {
        out.array(n);
        (0..n).for_each(|_| out.null());
    };
    let live = c::read_key(ctx, argv[1]);
    let (db, out) = c::db_out(ctx);
    match c::visible(c::hash(db, argv[1]), live) {
        Err(WrongType) => out.err(errors::WRONGTYPE),
        Ok(None) => all_null(out, fields.len()),
        Ok(Some(h)) => {
            out.array(fields.len());
            for f in fields {
                match h.get(f) {
                    Some(v) => out.bulk(v),
                    None => out.null(),
                }
            }
        }
    }
}

/// HGETALL key: a map (RESP3) / flat array (RESP2) of fields and values.
fn hgetall(ctx: &mut Ctx, argv: &[&[u8]]) {
    read(
        ctx,
        argv[1],
        |out| out.map(0),
        |h, out| {
            out.map(h.len());
            for (f, v) in h.iter() {
                out.bulk(f);
                out.bulk(v);
            }
        },
    )
}

fn hkeys(ctx: &mut Ctx, argv: &[&[u8]]) {
    read(
        ctx,
        argv[1],
        |out| out.array(0),
        |h, out| {
            out.array(h.len());
            h.iter().for_each(|(f, _)| out.bulk(f));
        },
    )
}

fn hvals(ctx: &mut Ctx, argv: &[&[u8]]) {
    read(
        ctx,
        argv[1],
        |out| out.array(0),
        |h, out| {
            out.array(h.len());
            h.iter().for_each(|(_, v)| out.bulk(v));
        },
    )
}

fn hlen(ctx: &mut Ctx, argv: &[&[u8]]) {
    read(
        ctx,
        argv[1],
        |out| out.int(0),
        |h, out| out.int(h.len() as i64),
    )
}

fn hexists(ctx: &mut Ctx, argv: &[&[u8]]) {
    read(
        ctx,
        argv[1],
        |out| out.int(0),
        |h, out| out.int(h.contains(argv[2]) as i64),
    )
}

fn hstrlen(ctx: &mut Ctx, argv: &[&[u8]]) {
    read(
        ctx,
        argv[1],
        |out| out.int(0),
        |h, out| out.int(h.get(argv[2]).map_or(0, |v| v.len()) as i64),
    )
}

/// HDEL key field [field ...]: how many fields were removed. The key goes with its last
/// field (and Redis stops looking at the remaining arguments then).
fn hdel(ctx: &mut Ctx, argv: &[&[u8]]) {
    let key = argv[1];
    ctx.expire_if_needed(key);
    let (db, out) = c::db_out(ctx);
    let h = match c::hash_mut(db, key) {
        Err(WrongType) => return out.err(errors::WRONGTYPE),
        Ok(None) => return out.int(0),
        Ok(Some(h)) => h,
    };
    let mut deleted = 0;
    for f in &argv[2..] {
        if h.delete(f) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    let empty = h.is_empty();
    out.int(deleted);
    ctx.elements_removed(key, deleted as u64, empty);
}

/// HINCRBY key field increment: the new value; the field must hold an integer.
fn hincrby(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(incr) = super::arg_i64(ctx.out, argv[3]) else {
        return;
    };
    let key = argv[1];
    ctx.expire_if_needed(key);
    let current = match c::hash(ctx.db(), key) {
        Err(WrongType) => return ctx.wrongtype(),
        Ok(h) => h.and_then(|h| h.get(argv[2])).cloned(),
    };
    let old = match current {
        None => 0,
        Some(v) => match crate::resp::request::parse_i64(&v) {
            Some(n) => n,
            None => return ctx.out.err("hash value is not an integer"),
        },
    };
    let Some(new) = old.checked_add(incr) else {
        return ctx.out.err(errors::OVERFLOW);
    };
    let _ = set_fields(ctx, key, &[argv[2], new.to_string().as_bytes()]);
    ctx.out.int(new);
    ctx.touch(key);
    ctx.dirty(1);
}

/// HINCRBYFLOAT key field increment, computed in x87 `long double` like Redis and
/// propagated as `HSET key field <result>`.
fn hincrbyfloat(ctx: &mut Ctx, argv: &[&[u8]]) {
    let incr = match crate::ld80::hincrbyfloat_increment(argv[3]) {
        Ok(incr) => incr,
        Err(e) => return ctx.out.err(e),
    };
    let key = argv[1];
    ctx.expire_if_needed(key);
    let current = match c::hash(ctx.db(), key) {
        Err(WrongType) => return ctx.wrongtype(),
        Ok(h) => h.and_then(|h| h.get(argv[2])).cloned(),
    };
    let text = match crate::ld80::hincrbyfloat(current.as_deref(), incr) {
        Ok(t) => Bytes::from(t),
        Err(e) => return ctx.out.err(e),
    };
    let _ = set_fields(ctx, key, &[argv[2], &text]);
    ctx.out.bulk(&text);
    ctx.touch(key);
    ctx.dirty(1);
    ctx.propagate_as(vec![vec![
        Bytes::from_static(b"HSET"),
        b(key),
        b(argv[2]),
        text,
    ]]);
}

/// HRANDFIELD key [count [WITHVALUES]]
///
/// Without a count: one random field (null for a missing key). With a count: an array —
/// `count` distinct fields (at most the whole hash, which then comes back in its own
/// order), or, for a negative count, `|count|` fields drawn with replacement. WITHVALUES
/// interleaves values in RESP2 and makes `[field, value]` pairs in RESP3.
fn hrandfield(ctx: &mut Ctx, argv: &[&[u8]]) {
    if argv.len() >= 3 {
        let Some(l) = c::range_long_or_reply(ctx.out, argv[2], -i64::MAX, i64::MAX, None) else {
            return;
        };
        let withvalues = argv.len() == 4;
        if argv.len() > 4 || (withvalues && !super::eq_ic(argv[3], "withvalues")) {
            return ctx.out.err(errors::SYNTAX);
        }
        if withvalues && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
            return ctx.out.err("value is out of range");
        }
        return hrandfield_count(ctx, argv[1], l, withvalues);
    }
    let live = c::read_key(ctx, argv[1]);
    let r = ctx.engine.random();
    let (db, out) = c::db_out(ctx);
    match c::visible(c::hash(db, argv[1]), live) {
        Err(WrongType) => out.err(errors::WRONGTYPE),
        Ok(None) => out.null(),
        Ok(Some(h)) => match h.random(r) {
            Some((f, _)) => out.bulk(f),
            None => out.null(),
        },
    }
}

fn hrandfield_count(ctx: &mut Ctx, key: &[u8], l: i64, withvalues: bool) {
    let live = c::read_key(ctx, key);
    let size = match c::visible(c::hash(ctx.db(), key), live) {
        Err(WrongType) => return ctx.wrongtype(),
        Ok(None) => return ctx.out.array(0),
        Ok(Some(h)) => h.len(),
    };
    let count = l.unsigned_abs();
    if count == 0 {
        return ctx.out.array(0);
    }
    let unique = l > 0;
    let resp3 = ctx.out.resp3;
    // Distinct picks are positions in iteration order; draws with replacement are made
    // while replying, so a huge negative count never needs a list of picks.
    let picks: Option<Vec<usize>> = if !unique || count == 1 {
        None
    } else if count >= size as u64 {
        Some((0..size).collect())
    } else {
        Some(sample_in_order(ctx, size, count as usize))
    };
    let n = picks.as_ref().map_or(count, |p| p.len() as u64) as usize;
    let mut rng = ctx.engine.rng;
    let (db, out) = c::db_out(ctx);
    let Ok(Some(h)) = c::hash(db, key) else {
        return;
    };
    out.array(if withvalues && !resp3 { n * 2 } else { n });
    let pairs: Vec<(&Bytes, &Bytes)> = h.iter().collect();
    for i in 0..n {
        let p = match &picks {
            Some(p) => p[i],
            None => (xorshift(&mut rng) % size as u64) as usize,
        };
        let (f, v) = pairs[p];
        if withvalues && resp3 {
            out.array(2);
        }
        out.bulk(f);
        if withvalues {
            out.bulk(v);
        }
    }
    ctx.engine.rng = rng;
}

/// The engine's xorshift step, on a copy of its state (the engine is borrowed while the
/// reply is written).
fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// `k` distinct positions out of `0..n`, uniformly, in increasing order (selection
/// sampling), which is the order Redis replies a unique sample of a listpack hash in.
fn sample_in_order(ctx: &mut Ctx, n: usize, k: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(k);
    for i in 0..n {
        let need = (k - out.len()) as u64;
        if need == 0 {
            break;
        }
        if ctx.engine.random() % ((n - i) as u64) < need {
            out.push(i);
        }
    }
    out
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
///
/// A listpack hash is returned whole with cursor 0 (Redis does not keep state for small
/// encodings); a hashtable is walked with the dictionary's SCAN cursor.
fn hscan(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(cursor) = c::scan_cursor_or_reply(ctx.out, argv[2]) else {
        return;
    };
    let live = c::read_key(ctx, argv[1]);
    let (db, out) = c::db_out(ctx);
    let h = match c::visible(c::hash(db, argv[1]), live) {
        Err(WrongType) => return out.err(errors::WRONGTYPE),
        Ok(None) => return c::scan_reply(out, 0, &[]),
        Ok(Some(h)) => h,
    };
    let Some(opts) = c::scan_opts_or_reply(out, &argv[3..]) else {
        return;
    };
    let mut found = Vec::new();
    let next = match h {
        HashValue::Listpack(v) => {
            for (f, val) in v {
                if opts.keep(f) {
                    found.push(f.clone());
                    found.push(val.clone());
                }
            }
            0
        }
        HashValue::Table(d) => {
            let mut cursor = cursor;
            let mut visited = 0;
            let mut rounds = opts.count.saturating_mul(10);
            loop {
                cursor = d.scan(cursor, opts.count, |f, val| {
                    visited += 1;
                    if opts.keep(f) {
                        found.push(f.clone());
                        found.push(val.clone());
                    }
                });
                rounds = rounds.saturating_sub(1);
                if cursor == 0 || rounds == 0 || visited >= opts.count {
                    break;
                }
            }
            cursor
        }
    };
    c::scan_reply(out, next, &found);
}
