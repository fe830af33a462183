//! The set commands.
//!
//! Replies that list members follow the set's iteration order: numeric for an intset (so
//! they are exact and comparable), hash order for a hashtable. Results of SINTER, SUNION
//! and SDIFF are built the way Redis builds them — into a fresh set that starts as an
//! intset and converts on the first non-integer or on growing past
//! `set-max-intset-entries` — because that decides both the order of the reply and the
//! encoding a `*STORE` leaves behind.
//!
//! What is propagated: SPOP is rewritten, as in Redis 7.0 — one `SREM key member` per popped
//! member (several are wrapped in MULTI/EXEC by the engine), or `DEL key` when a counted SPOP
//! takes the whole set. Everything else goes as typed when it changed something.

use super::collection::{self as c, WrongType};
use super::{Ctx, Handler, errors};
use crate::keyspace::set::{IntSet, Member};
use crate::keyspace::{SetValue, Thresholds, Value};
use crate::resp::Reply;
use bytes::Bytes;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("sadd", sadd),
    ("srem", srem),
    ("smembers", smembers),
    ("sismember", sismember),
    ("smismember", smismember),
    ("scard", scard),
    ("spop", spop),
    ("srandmember", srandmember),
    ("smove", smove),
    ("sinter", sinter),
    ("sintercard", sintercard),
    ("sinterstore", sinterstore),
    ("sunion", sunion),
    ("sunionstore", sunionstore),
    ("sdiff", sdiff),
    ("sdiffstore", sdiffstore),
    ("sscan", sscan),
];

fn b(a: &[u8]) -> Bytes {
    Bytes::copy_from_slice(a)
}

fn reply_member(out: &mut Reply, m: Member) {
    match m {
        Member::Int(n) => out.bulk(n.to_string().as_bytes()),
        Member::Str(s) => out.bulk(s),
    }
}

/// SADD key member [member ...]: how many members were new. A new set's encoding is
/// decided by its first member (Redis's `setTypeCreate`).
fn sadd(ctx: &mut Ctx, argv: &[&[u8]]) {
    let key = argv[1];
    let t = ctx.engine.thresholds;
    ctx.expire_if_needed(key);
    let (db, out) = c::db_out(ctx);
    let added = match c::set_mut(db, key) {
        Err(WrongType) => return out.err(errors::WRONGTYPE),
        Ok(Some(s)) => argv[2..].iter().filter(|m| s.add(m, &t)).count(),
        Ok(None) => {
            let mut s = SetValue::new_for(argv[2]);
            let n = argv[2..].iter().filter(|m| s.add(m, &t)).count();
            db.set(b(key), Value::Set(s));
            n
        }
    };
    out.int(added as i64);
    if added > 0 {
        ctx.touch(key);
        ctx.dirty(added as u64);
    }
}

/// SREM key member [member ...]: how many were removed; the key goes with its last member
/// (and Redis stops looking at the remaining arguments then).
fn srem(ctx: &mut Ctx, argv: &[&[u8]]) {
    let key = argv[1];
    ctx.expire_if_needed(key);
    let (db, out) = c::db_out(ctx);
    let s = match c::set_mut(db, key) {
        Err(WrongType) => return out.err(errors::WRONGTYPE),
        Ok(None) => return out.int(0),
        Ok(Some(s)) => s,
    };
    let mut deleted = 0;
    for m in &argv[2..] {
        if s.remove(m) {
            deleted += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    let empty = s.is_empty();
    out.int(deleted);
    ctx.elements_removed(key, deleted as u64, empty);
}

/// Look up a set for reading and run `f` on it; `missing` replies for a missing key.
fn read(ctx: &mut Ctx, key: &[u8], missing: fn(&mut Reply), f: impl FnOnce(&SetValue, &mut Reply)) {
    let live = c::read_key(ctx, key);
    let (db, out) = c::db_out(ctx);
    match c::visible(c::set(db, key), live) {
        Err(WrongType) => out.err(errors::WRONGTYPE),
        Ok(None) => missing(out),
        Ok(Some(s)) => f(s, out),
    }
}

fn sismember(ctx: &mut Ctx, argv: &[&[u8]]) {
    read(
        ctx,
        argv[1],
        |out| out.int(0),
        |s, out| out.int(s.contains(argv[2]) as i64),
    )
}

/// SMISMEMBER key member [member ...]: a missing key is an empty set (all zeros).
fn smismember(ctx: &mut Ctx, argv: &[&[u8]]) {
    let members = &argv[2..];
    let live = c::read_key(ctx, argv[1]);
    let (db, out) = c::db_out(ctx);
    let s = match c::visible(c::set(db, argv[1]), live) {
        Err(WrongType) => return out.err(errors::WRONGTYPE),
        Ok(s) => s,
    };
    out.array(members.len());
    for m in members {
        out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
}

fn scard(ctx: &mut Ctx, argv: &[&[u8]]) {
    read(
        ctx,
        argv[1],
        |out| out.int(0),
        |s, out| out.int(s.len() as i64),
    )
}

/// SMEMBERS key (in Redis, SINTER of one key).
fn smembers(ctx: &mut Ctx, argv: &[&[u8]]) {
    inter(ctx, &argv[1..], Inter::Reply)
}

// ---------------------------------------------------------------------------------------
// SPOP, SRANDMEMBER

/// SPOP key [count]
fn spop(ctx: &mut Ctx, argv: &[&[u8]]) {
    if argv.len() > 3 {
        return ctx.out.err(errors::SYNTAX);
    }
    if argv.len() == 3 {
        return spop_count(ctx, argv);
    }
    let key = argv[1];
    ctx.expire_if_needed(key);
    let r = ctx.engine.random();
    let (db, out) = c::db_out(ctx);
    let s = match c::set_mut(db, key) {
        Err(WrongType) => return out.err(errors::WRONGTYPE),
        Ok(None) => return out.null(),
        Ok(Some(s)) => s,
    };
    let Some(m) = s.random(r).map(|m| m.to_bytes()) else {
        return out.null();
    };
    s.remove(&m);
    let empty = s.is_empty();
    out.bulk(&m);
    if empty {
        ctx.delete(key);
    } else {
        ctx.touch(key);
    }
    ctx.dirty(1);
    ctx.propagate_as(vec![vec![Bytes::from_static(b"SREM"), b(key), m]]);
}

/// SPOP key count: a set reply of up to `count` distinct members, removed from the set.
fn spop_count(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(count) = c::positive_long_or_reply(ctx.out, argv[2], None) else {
        return;
    };
    let count = count as u64;
    let key = argv[1];
    ctx.expire_if_needed(key);
    let size = match c::set(ctx.db(), key) {
        Err(WrongType) => return ctx.wrongtype(),
        Ok(None) => return ctx.out.set(0),
        Ok(Some(s)) => s.len() as u64,
    };
    if count == 0 {
        return ctx.out.set(0);
    }
    ctx.dirty(count.min(size));
    if count >= size {
        // The whole set: Redis replies it through SUNION of the one key, deletes the key and
        // propagates a DEL.
        union_diff(ctx, &argv[1..2], None, Op::Union);
        ctx.delete(key);
        ctx.propagate_as(vec![vec![Bytes::from_static(b"DEL"), b(key)]]);
        return;
    }
    let remaining = size - count;
    let t = ctx.engine.thresholds;
    let mut popped: Vec<Bytes> = Vec::with_capacity(count as usize);
    if remaining * 5 > count {
        // Few to pop: draw them one by one.
        for _ in 0..count {
            let r = ctx.engine.random();
            let Ok(Some(s)) = c::set_mut(ctx.db(), key) else {
                break;
            };
            let Some(m) = s.random(r).map(|m| m.to_bytes()) else {
                break;
            };
            s.remove(&m);
            popped.push(m);
        }
    } else {
        // Most of the set goes: draw the members that stay into a new set, reply what is
        // left of the old one in its own order.
        let mut keep: Option<SetValue> = None;
        for _ in 0..remaining {
            let r = ctx.engine.random();
            let Ok(Some(s)) = c::set_mut(ctx.db(), key) else {
                break;
            };
            let Some(m) = s.random(r).map(|m| m.to_bytes()) else {
                break;
            };
            s.remove(&m);
            keep.get_or_insert_with(|| SetValue::new_for(&m))
                .add(&m, &t);
        }
        let Ok(Some(s)) = c::set_mut(ctx.db(), key) else {
            return;
        };
        popped = s.iter().map(|m| m.to_bytes()).collect();
        if let Some(k) = keep {
            *s = k;
        }
    }
    ctx.out.set(popped.len());
    popped.iter().for_each(|m| ctx.out.bulk(m));
    ctx.touch(key);
    let srem = Bytes::from_static(b"SREM");
    ctx.propagate_as(
        popped
            .into_iter()
            .map(|m| vec![srem.clone(), b(key), m])
            .collect(),
    );
}

/// SRANDMEMBER key [count]: like HRANDFIELD — distinct members for a positive count,
/// drawn with replacement for a negative one.
fn srandmember(ctx: &mut Ctx, argv: &[&[u8]]) {
    if argv.len() > 3 {
        return ctx.out.err(errors::SYNTAX);
    }
    if argv.len() == 2 {
        let r = ctx.engine.random();
        return read(ctx, argv[1], Reply::null, |s, out| match s.random(r) {
            Some(m) => reply_member(out, m),
            None => out.null(),
        });
    }
    let Some(l) = c::range_long_or_reply(ctx.out, argv[2], -i64::MAX, i64::MAX, None) else {
        return;
    };
    let live = c::read_key(ctx, argv[1]);
    let size = match c::visible(c::set(ctx.db(), argv[1]), live) {
        Err(WrongType) => return ctx.wrongtype(),
        Ok(None) => return ctx.out.array(0),
        Ok(Some(s)) => s.len(),
    };
    let count = l.unsigned_abs();
    if count == 0 {
        return ctx.out.array(0);
    }
    if l < 0 || count == 1 {
        ctx.out.array(count as usize);
        for _ in 0..count {
            let r = ctx.engine.random();
            let (db, out) = c::db_out(ctx);
            let Ok(Some(s)) = c::set(db, argv[1]) else {
                return;
            };
            if let Some(m) = s.random(r) {
                reply_member(out, m);
            }
        }
        return;
    }
    let picks: Vec<usize> = if count >= size as u64 {
        (0..size).collect()
    } else {
        let mut picks = Vec::with_capacity(count as usize);
        for i in 0..size {
            let need = count - picks.len() as u64;
            if need == 0 {
                break;
            }
            if ctx.engine.random() % ((size - i) as u64) < need {
                picks.push(i);
            }
        }
        picks
    };
    let (db, out) = c::db_out(ctx);
    let Ok(Some(s)) = c::set(db, argv[1]) else {
        return;
    };
    out.array(picks.len());
    let mut next = picks.iter().peekable();
    for (i, m) in s.iter().enumerate() {
        match next.peek() {
            None => break,
            Some(&&p) if p == i => {
                reply_member(out, m);
                next.next();
            }
            Some(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// SMOVE

/// SMOVE source destination member: 1 if moved, 0 if the member (or the source) was not
/// there. A missing source answers 0 before the destination's type is looked at.
fn smove(ctx: &mut Ctx, argv: &[&[u8]]) {
    let (src, dst, m) = (argv[1], argv[2], argv[3]);
    let t = ctx.engine.thresholds;
    ctx.expire_if_needed(src);
    ctx.expire_if_needed(dst);
    let db = ctx.db();
    let src_is = c::set(db, src);
    let dst_is = c::set(db, dst);
    let (Ok(src_set), Ok(dst_set)) = (src_is, dst_is) else {
        if matches!(c::set(ctx.db(), src), Ok(None)) {
            return ctx.out.int(0);
        }
        return ctx.wrongtype();
    };
    let Some(src_set) = src_set else {
        return ctx.out.int(0);
    };
    if src == dst {
        let member = src_set.contains(m);
        return ctx.out.int(member as i64);
    }
    let dst_exists = dst_set.is_some();
    let Ok(Some(s)) = c::set_mut(ctx.db(), src) else {
        return;
    };
    if !s.remove(m) {
        return ctx.out.int(0);
    }
    if s.is_empty() {
        ctx.delete(src);
    }
    if !dst_exists {
        ctx.db().set(b(dst), Value::Set(SetValue::new_for(m)));
    }
    ctx.touch(src);
    ctx.dirty(1);
    if let Ok(Some(d)) = c::set_mut(ctx.db(), dst)
        && d.add(m, &t)
    {
        ctx.dirty(1);
        ctx.touch(dst);
    }
    ctx.out.int(1);
}

// ---------------------------------------------------------------------------------------
// SINTER, SINTERCARD, SINTERSTORE

/// What to do with an intersection.
#[derive(Clone, Copy)]
enum Inter<'a> {
    /// SINTER / SMEMBERS: reply the members (a set reply).
    Reply,
    /// SINTERCARD: reply how many, stopping at the limit (0 = none).
    Card(u64),
    /// SINTERSTORE: store into this key, reply how many.
    Store(&'a [u8]),
}

/// The sets at `keys`, `None` for missing keys; `Err` if one holds another type (Redis
/// checks every key before it computes anything).
fn gather<'d>(
    db: &'d crate::keyspace::Db,
    keys: &[&[u8]],
    live: &[bool],
) -> Result<Vec<Option<&'d SetValue>>, WrongType> {
    keys.iter()
        .zip(live)
        .map(|(k, &l)| c::visible(c::set(db, k), l))
        .collect()
}

/// `lookupKeyRead` of every key, in order: which of them are live.
fn expire_all(ctx: &mut Ctx, keys: &[&[u8]]) -> Vec<bool> {
    keys.iter().map(|k| c::read_key(ctx, k)).collect()
}

/// Redis's `sinterGenericCommand`: walk the smallest set and keep the members every other
/// set has. An empty (missing) input makes the result empty at once.
fn inter(ctx: &mut Ctx, keys: &[&[u8]], what: Inter) {
    let live = expire_all(ctx, keys);
    let t = ctx.engine.thresholds;
    let (db, out) = c::db_out(ctx);
    let Ok(sets) = gather(db, keys, &live) else {
        return out.err(errors::WRONGTYPE);
    };
    let mut sets: Vec<&SetValue> = match sets.into_iter().collect::<Option<Vec<_>>>() {
        Some(s) => s,
        None => {
            return match what {
                Inter::Reply => out.set(0),
                Inter::Card(_) => out.int(0),
                Inter::Store(dst) => {
                    out.int(0);
                    if ctx.delete(dst) {
                        ctx.dirty(1);
                    }
                }
            };
        }
    };
    // Smallest first (a stable sort, as glibc's qsort is for this size of array).
    sets.sort_by_key(|s| s.len());
    let (first, rest) = (sets[0], &sets[1..]);
    let members = first
        .iter()
        .filter(|m| rest.iter().all(|s| s.contains_member(*m)));
    match what {
        Inter::Reply => {
            let mark = out.deferred();
            let mut n = 0;
            for m in members {
                reply_member(out, m);
                n += 1;
            }
            out.set_deferred(mark, b'~', n);
        }
        Inter::Card(limit) => {
            let mut n: u64 = 0;
            for _ in members {
                n += 1;
                if limit != 0 && n >= limit {
                    break;
                }
            }
            out.int(n as i64);
        }
        Inter::Store(dst) => {
            let mut result = SetValue::Intset(IntSet::new());
            for m in members {
                result.add_member(m, &t);
            }
            store(ctx, dst, result);
        }
    }
}

/// Put a computed set at `dst` (replacing whatever was there, TTL included) and reply its
/// size; an empty result deletes `dst` instead.
fn store(ctx: &mut Ctx, dst: &[u8], result: SetValue) {
    let n = result.len();
    if n > 0 {
        ctx.set_value(dst, Value::Set(result));
        ctx.out.int(n as i64);
        ctx.dirty(1);
    } else {
        ctx.out.int(0);
        if ctx.delete(dst) {
            ctx.dirty(1);
        }
    }
}

fn sinter(ctx: &mut Ctx, argv: &[&[u8]]) {
    inter(ctx, &argv[1..], Inter::Reply)
}

fn sinterstore(ctx: &mut Ctx, argv: &[&[u8]]) {
    inter(ctx, &argv[2..], Inter::Store(argv[1]))
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(numkeys) = c::range_long_or_reply(
        ctx.out,
        argv[1],
        1,
        i64::MAX,
        Some("numkeys should be greater than 0"),
    ) else {
        return;
    };
    if numkeys > (argv.len() - 2) as i64 {
        return ctx
            .out
            .err("Number of keys can't be greater than number of args");
    }
    let numkeys = numkeys as usize;
    let mut limit = 0;
    let mut j = 2 + numkeys;
    while j < argv.len() {
        if super::eq_ic(argv[j], "limit") && j + 1 < argv.len() {
            j += 1;
            let Some(l) =
                c::positive_long_or_reply(ctx.out, argv[j], Some("LIMIT can't be negative"))
            else {
                return;
            };
            limit = l as u64;
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
        j += 1;
    }
    inter(ctx, &argv[2..2 + numkeys], Inter::Card(limit))
}

// ---------------------------------------------------------------------------------------
// SUNION, SDIFF and their STORE forms

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

/// Redis's `sunionDiffGenericCommand`. The difference uses one of Redis's two algorithms,
/// chosen by the same estimate of work: they give the same members, but not always the same
/// result *encoding* (the second adds every member of the first set before removing, so a
/// non-integer that is later removed still turns the result into a hashtable).
fn union_diff(ctx: &mut Ctx, keys: &[&[u8]], dst: Option<&[u8]>, op: Op) {
    let live = expire_all(ctx, keys);
    let t = ctx.engine.thresholds;
    let (db, out) = c::db_out(ctx);
    let Ok(mut sets) = gather(db, keys, &live) else {
        return out.err(errors::WRONGTYPE);
    };
    let result = compute_union_diff(&mut sets, keys, op, &t);
    match dst {
        Some(dst) => store(ctx, dst, result),
        None => {
            out.set(result.len());
            result.iter().for_each(|m| reply_member(out, m));
        }
    }
}

fn compute_union_diff(
    sets: &mut [Option<&SetValue>],
    keys: &[&[u8]],
    op: Op,
    t: &Thresholds,
) -> SetValue {
    let mut result = SetValue::Intset(IntSet::new());
    if op == Op::Union {
        for s in sets.iter().flatten() {
            for m in s.iter() {
                result.add_member(m, t);
            }
        }
        return result;
    }
    let Some(first) = sets[0] else { return result };
    // The same key given again as a later argument: the difference is empty.
    if sets
        .iter()
        .enumerate()
        .skip(1)
        .any(|(j, s)| s.is_some() && keys[j] == keys[0])
    {
        return result;
    }
    let present = sets.iter().flatten().count() as u64;
    let algo_one = (first.len() as u64 * present) / 2;
    let algo_two: u64 = sets.iter().flatten().map(|s| s.len() as u64).sum();
    if algo_one <= algo_two {
        // Algorithm 1: each member of the first set that no other set has.
        sets[1..].sort_by_key(|s| std::cmp::Reverse(s.map_or(0, |s| s.len())));
        for m in first.iter() {
            if !sets[1..].iter().flatten().any(|s| s.contains_member(m)) {
                result.add_member(m, t);
            }
        }
    } else {
        // Algorithm 2: add the first set, then remove the members of every other set.
        for s in sets.iter().flatten().take(1) {
            s.iter().for_each(|m| {
                result.add_member(m, t);
            });
        }
        for s in sets[1..].iter().flatten() {
            if result.is_empty() {
                break;
            }
            for m in s.iter() {
                result.remove(&m.to_bytes());
            }
        }
    }
    result
}

fn sunion(ctx: &mut Ctx, argv: &[&[u8]]) {
    union_diff(ctx, &argv[1..], None, Op::Union)
}

fn sunionstore(ctx: &mut Ctx, argv: &[&[u8]]) {
    union_diff(ctx, &argv[2..], Some(argv[1]), Op::Union)
}

fn sdiff(ctx: &mut Ctx, argv: &[&[u8]]) {
    union_diff(ctx, &argv[1..], None, Op::Diff)
}

fn sdiffstore(ctx: &mut Ctx, argv: &[&[u8]]) {
    union_diff(ctx, &argv[2..], Some(argv[1]), Op::Diff)
}

// ---------------------------------------------------------------------------------------
// SSCAN

/// SSCAN key cursor [MATCH pattern] [COUNT count]: an intset is returned whole with cursor
/// 0, a hashtable walked with the dictionary's cursor.
fn sscan(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(cursor) = c::scan_cursor_or_reply(ctx.out, argv[2]) else {
        return;
    };
    let live = c::read_key(ctx, argv[1]);
    let (db, out) = c::db_out(ctx);
    let s = match c::visible(c::set(db, argv[1]), live) {
        Err(WrongType) => return out.err(errors::WRONGTYPE),
        Ok(None) => return c::scan_reply(out, 0, &[]),
        Ok(Some(s)) => s,
    };
    let Some(opts) = c::scan_opts_or_reply(out, &argv[3..]) else {
        return;
    };
    let mut found = Vec::new();
    let next = match s {
        SetValue::Intset(v) => {
            for n in v {
                let m = Bytes::from(n.to_string());
                if opts.keep(&m) {
                    found.push(m);
                }
            }
            0
        }
        SetValue::Table(d) => {
            let mut cursor = cursor;
            let mut visited = 0;
            let mut rounds = opts.count.saturating_mul(10);
            loop {
                cursor = d.scan(cursor, opts.count, |m, _| {
                    visited += 1;
                    if opts.keep(m) {
                        found.push(m.clone());
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
