//! The list commands, including the blocking pops.
//!
//! Each handler checks its arguments in the order Redis does (`t_list.c`), because the order
//! decides which error a bad call gets: LRANGE parses its indexes before it looks at the key,
//! LINDEX looks at the key first; LPOP parses its count first.
//!
//! **What is propagated** (Redis 7.0's choices, which rtool follows so a replica or an AOF
//! ends up with the same list):
//! - the plain commands go as typed (LPUSH, LPOP k 2, LTRIM...), and only when they changed
//!   something: an LTRIM that removes nothing, an LREM that finds nothing, a pop of a missing
//!   key propagate nothing;
//! - BLPOP / BRPOP that get an element propagate `LPOP key` / `RPOP key` (upper-case name,
//!   one element), whether they got it at once or after blocking;
//! - LMPOP and BLMPOP propagate `LPOP key n` / `RPOP key n` with `n` the number actually
//!   popped (Redis rewrites them so a replica pops exactly as much);
//! - BRPOPLPUSH propagates `RPOPLPUSH src dst`; BLMOVE propagates `LMOVE src dst <from> <to>`
//!   — with the directions as the client typed them when it was served at once, and as the
//!   lower-case words `left` / `right` when it was served after blocking (Redis builds that
//!   command from its shared strings);
//! - a blocking command that times out changed nothing and propagates nothing.

use super::collection::{self as c, WrongType};
use super::{Ctx, Handler, errors};
use crate::keyspace::list::End;
use crate::keyspace::{ListValue, Value};
use bytes::Bytes;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("lpush", lpush),
    ("rpush", rpush),
    ("lpushx", lpushx),
    ("rpushx", rpushx),
    ("lpop", lpop),
    ("rpop", rpop),
    ("llen", llen),
    ("lrange", lrange),
    ("lindex", lindex),
    ("lset", lset),
    ("linsert", linsert),
    ("lrem", lrem),
    ("ltrim", ltrim),
    ("lpos", lpos),
    ("lmove", lmove),
    ("rpoplpush", rpoplpush),
    ("lmpop", lmpop),
    ("blpop", blpop),
    ("brpop", brpop),
    ("blmove", blmove),
    ("brpoplpush", brpoplpush),
    ("blmpop", blmpop),
];

fn b(a: &[u8]) -> Bytes {
    Bytes::copy_from_slice(a)
}

/// The name of the non-blocking pop Redis propagates for a pop from this end.
fn pop_name(end: End) -> Bytes {
    Bytes::from_static(match end {
        End::Head => b"LPOP",
        End::Tail => b"RPOP",
    })
}

/// `LEFT` / `RIGHT`, in any case; a syntax error otherwise.
fn parse_end(ctx: &mut Ctx, a: &[u8]) -> Option<End> {
    if super::eq_ic(a, "left") {
        Some(End::Head)
    } else if super::eq_ic(a, "right") {
        Some(End::Tail)
    } else {
        ctx.out.err(errors::SYNTAX);
        None
    }
}

/// Bookkeeping after elements left a list: delete the key once it is empty (Redis never
/// keeps an empty list), tell WATCH, count the change.
fn removed(ctx: &mut Ctx, key: &[u8], n: usize) {
    // Not `Ctx::elements_removed`: LTRIM signals the key as modified even when it removed
    // nothing (a WATCH on it fails), so the touch must happen whatever `n` is.
    let empty = matches!(ctx.db().dict.get(key), Some(Value::List(l)) if l.is_empty());
    if empty {
        ctx.delete(key);
    } else {
        ctx.touch(key);
    }
    ctx.dirty(n as u64);
}

// ---------------------------------------------------------------------------------------
// Pushes

fn lpush(ctx: &mut Ctx, argv: &[&[u8]]) {
    push(ctx, argv, End::Head, false)
}

fn rpush(ctx: &mut Ctx, argv: &[&[u8]]) {
    push(ctx, argv, End::Tail, false)
}

fn lpushx(ctx: &mut Ctx, argv: &[&[u8]]) {
    push(ctx, argv, End::Head, true)
}

fn rpushx(ctx: &mut Ctx, argv: &[&[u8]]) {
    push(ctx, argv, End::Tail, true)
}

/// LPUSH/RPUSH (create the list) and LPUSHX/RPUSHX (`only_existing`: reply 0 instead).
fn push(ctx: &mut Ctx, argv: &[&[u8]], end: End, only_existing: bool) {
    let key = argv[1];
    ctx.expire_if_needed(key);
    let (db, out) = c::db_out(ctx);
    let len = match c::list_mut(db, key) {
        Err(WrongType) => return out.err(errors::WRONGTYPE),
        Ok(None) if only_existing => return out.int(0),
        Ok(None) => {
            let mut l = ListValue::default();
            argv[2..].iter().for_each(|v| l.push_slice(end, v));
            let n = l.len();
            db.set(b(key), Value::List(l));
            n
        }
        Ok(Some(l)) => {
            argv[2..].iter().for_each(|v| l.push_slice(end, v));
            l.len()
        }
    };
    out.int(len as i64);
    ctx.touch(key);
    ctx.key_ready(key);
    ctx.dirty((argv.len() - 2) as u64);
}

// ---------------------------------------------------------------------------------------
// Pops

fn lpop(ctx: &mut Ctx, argv: &[&[u8]]) {
    pop(ctx, argv, End::Head)
}

fn rpop(ctx: &mut Ctx, argv: &[&[u8]]) {
    pop(ctx, argv, End::Tail)
}

/// LPOP/RPOP `key [count]`: without a count one bulk (or null), with a count an array (or
/// the null *array* for a missing key, and an empty array for a count of 0).
fn pop(ctx: &mut Ctx, argv: &[&[u8]], end: End) {
    if argv.len() > 3 {
        return c::arity_error(ctx.out, argv[0]);
    }
    let count = match argv.get(2) {
        Some(a) => match c::positive_long_or_reply(ctx.out, a, None) {
            Some(n) => Some(n as usize),
            None => return,
        },
        None => None,
    };
    let key = argv[1];
    ctx.expire_if_needed(key);
    let (db, out) = c::db_out(ctx);
    let l = match c::list_mut(db, key) {
        Err(WrongType) => return out.err(errors::WRONGTYPE),
        Ok(None) if count.is_some() => return out.null_array(),
        Ok(None) => return out.null(),
        Ok(Some(l)) => l,
    };
    let n = match count {
        Some(0) => return out.array(0),
        None => {
            let v = l.pop(end).unwrap_or_default();
            out.bulk(&v);
            1
        }
        Some(n) => {
            let popped = l.pop_many(end, n);
            out.array(popped.len());
            popped.iter().for_each(|v| out.bulk(v));
            popped.len()
        }
    };
    removed(ctx, key, n);
}

/// Which of these keys holds a list (lists in the keyspace are never empty)? Redis checks
/// them in order and a key of another type stops the search with WRONGTYPE — except when a
/// blocked client is being served: Redis then serves it from the key that became ready
/// (`Engine::serving_key`) and never looks at the others, so rtool tries that key first and
/// skips keys of other types instead of failing.
fn first_list(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    skip_wrongtype: bool,
) -> Result<Option<usize>, WrongType> {
    // Served after blocking: the key that became ready comes first.
    if skip_wrongtype
        && let Some(ready) = ctx.engine.serving_key.clone()
        && let Some(i) = keys.iter().position(|k| *k == ready.as_ref())
        && matches!(c::list(ctx.db(), &ready), Ok(Some(_)))
    {
        return Ok(Some(i));
    }
    for (i, k) in keys.iter().enumerate() {
        ctx.expire_if_needed(k);
        match c::list(ctx.db(), k) {
            Ok(Some(_)) => return Ok(Some(i)),
            Ok(None) => {}
            Err(WrongType) if skip_wrongtype => {}
            Err(WrongType) => return Err(WrongType),
        }
    }
    Ok(None)
}

/// Pop up to `count` elements from the first non-empty list among `keys` and reply
/// `[key, [elements]]` (LMPOP, BLMPOP). Returns false when every list was empty (nothing
/// replied yet), true when it replied (elements or an error).
fn mpop(ctx: &mut Ctx, keys: &[&[u8]], end: End, count: usize) -> bool {
    let skip = ctx.unblocking;
    let i = match first_list(ctx, keys, skip) {
        Err(WrongType) => {
            ctx.wrongtype();
            return true;
        }
        Ok(None) => return false,
        Ok(Some(i)) => i,
    };
    let key = keys[i];
    let (db, out) = c::db_out(ctx);
    let Ok(Some(l)) = c::list_mut(db, key) else {
        return false;
    };
    let popped = l.pop_many(end, count);
    out.array(2);
    out.bulk(key);
    out.array(popped.len());
    popped.iter().for_each(|v| out.bulk(v));
    removed(ctx, key, popped.len());
    ctx.propagate_as(vec![vec![
        pop_name(end),
        b(key),
        Bytes::from(popped.len().to_string()),
    ]]);
    true
}

/// The arguments of LMPOP / BLMPOP from `numkeys` on: `numkeys key... LEFT|RIGHT [COUNT n]`.
/// Returns the keys, the end and the count (1 when not given).
fn parse_mpop<'a>(ctx: &mut Ctx, args: &[&'a [u8]]) -> Option<(Vec<&'a [u8]>, End, usize)> {
    let numkeys = c::range_long_or_reply(
        ctx.out,
        args[0],
        1,
        i64::MAX,
        Some("numkeys should be greater than 0"),
    )?;
    let where_idx = match usize::try_from(numkeys).ok().and_then(|n| n.checked_add(1)) {
        Some(w) if w < args.len() => w,
        _ => {
            ctx.out.err(errors::SYNTAX);
            return None;
        }
    };
    let end = parse_end(ctx, args[where_idx])?;
    let mut count: Option<i64> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = j + 1 < args.len();
        if count.is_none() && super::eq_ic(args[j], "count") && more {
            j += 1;
            count = Some(c::range_long_or_reply(
                ctx.out,
                args[j],
                1,
                i64::MAX,
                Some("count should be greater than 0"),
            )?);
        } else {
            ctx.out.err(errors::SYNTAX);
            return None;
        }
        j += 1;
    }
    let count = count.unwrap_or(1) as usize;
    Some((args[1..where_idx].to_vec(), end, count))
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn lmpop(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some((keys, end, count)) = parse_mpop(ctx, &argv[1..]) else {
        return;
    };
    if !mpop(ctx, &keys, end, count) {
        ctx.out.null_array();
    }
}

/// Block on `keys` until `deadline`, or — where blocking is not allowed — reply what a
/// timeout would (`null`).
fn block_or(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    deadline: Option<i64>,
    null: fn(&mut crate::resp::Reply),
) {
    if c::may_block(ctx) {
        ctx.block = Some((keys.iter().map(|k| b(k)).collect(), deadline));
    } else {
        null(ctx.out);
    }
}

fn blpop(ctx: &mut Ctx, argv: &[&[u8]]) {
    bpop(ctx, argv, End::Head)
}

fn brpop(ctx: &mut Ctx, argv: &[&[u8]]) {
    bpop(ctx, argv, End::Tail)
}

/// BLPOP / BRPOP key [key ...] timeout: reply `[key, element]` from the first non-empty
/// list, or block on all the keys.
fn bpop(ctx: &mut Ctx, argv: &[&[u8]], end: End) {
    let Some(deadline) = c::timeout_or_reply(ctx.out, argv[argv.len() - 1], ctx.engine.now_ms)
    else {
        return;
    };
    let keys = &argv[1..argv.len() - 1];
    let skip = ctx.unblocking;
    match first_list(ctx, keys, skip) {
        Err(WrongType) => ctx.wrongtype(),
        Ok(None) => block_or(ctx, keys, deadline, crate::resp::Reply::null_array),
        Ok(Some(i)) => {
            let key = keys[i];
            let (db, out) = c::db_out(ctx);
            let Ok(Some(l)) = c::list_mut(db, key) else {
                return;
            };
            let v = l.pop(end).unwrap_or_default();
            out.array(2);
            out.bulk(key);
            out.bulk(&v);
            removed(ctx, key, 1);
            ctx.propagate_as(vec![vec![pop_name(end), b(key)]]);
        }
    }
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn blmpop(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some((keys, end, count)) = parse_mpop(ctx, &argv[2..]) else {
        return;
    };
    let Some(deadline) = c::timeout_or_reply(ctx.out, argv[1], ctx.engine.now_ms) else {
        return;
    };
    if !mpop(ctx, &keys, end, count) {
        block_or(ctx, &keys, deadline, crate::resp::Reply::null_array);
    }
}

// ---------------------------------------------------------------------------------------
// Moves

/// The common part of LMOVE, RPOPLPUSH, BLMOVE and BRPOPLPUSH (Redis's
/// `lmoveGenericCommand`): pop from `src`, push onto `dst` (created if missing), reply the
/// element. Returns `Ok(false)` when `src` does not exist (nothing replied), `Ok(true)` when
/// the element moved, `Err` after an error reply.
fn move_one(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> Result<bool, ()> {
    ctx.expire_if_needed(src);
    match c::list(ctx.db(), src) {
        Err(WrongType) => {
            ctx.wrongtype();
            return Err(());
        }
        Ok(None) => return Ok(false),
        Ok(Some(_)) => {}
    }
    ctx.expire_if_needed(dst);
    if c::list(ctx.db(), dst).is_err() {
        ctx.wrongtype();
        return Err(());
    }
    let (db, out) = c::db_out(ctx);
    let Ok(Some(l)) = c::list_mut(db, src) else {
        return Err(());
    };
    let v = l.pop(from).unwrap_or_default();
    match c::list_mut(db, dst) {
        Ok(Some(d)) => d.push(to, v.clone()),
        _ => {
            let mut d = ListValue::default();
            d.push(to, v.clone());
            db.set(b(dst), Value::List(d));
        }
    }
    out.bulk(&v);
    ctx.touch(dst);
    ctx.key_ready(dst);
    removed(ctx, src, 1);
    Ok(true)
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
fn lmove(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(from) = parse_end(ctx, argv[3]) else {
        return;
    };
    let Some(to) = parse_end(ctx, argv[4]) else {
        return;
    };
    if let Ok(false) = move_one(ctx, argv[1], argv[2], from, to) {
        ctx.out.null();
    }
}

/// RPOPLPUSH source destination (= LMOVE source destination RIGHT LEFT)
fn rpoplpush(ctx: &mut Ctx, argv: &[&[u8]]) {
    if let Ok(false) = move_one(ctx, argv[1], argv[2], End::Tail, End::Head) {
        ctx.out.null();
    }
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
fn blmove(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(from) = parse_end(ctx, argv[3]) else {
        return;
    };
    let Some(to) = parse_end(ctx, argv[4]) else {
        return;
    };
    let Some(deadline) = c::timeout_or_reply(ctx.out, argv[5], ctx.engine.now_ms) else {
        return;
    };
    match move_one(ctx, argv[1], argv[2], from, to) {
        Ok(true) => {
            let (wf, wt) = if ctx.unblocking {
                (
                    Bytes::from_static(from.word().as_bytes()),
                    Bytes::from_static(to.word().as_bytes()),
                )
            } else {
                (b(argv[3]), b(argv[4]))
            };
            ctx.propagate_as(vec![vec![
                Bytes::from_static(b"LMOVE"),
                b(argv[1]),
                b(argv[2]),
                wf,
                wt,
            ]]);
        }
        Ok(false) => block_or(ctx, &argv[1..2], deadline, crate::resp::Reply::null),
        Err(()) => {}
    }
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(deadline) = c::timeout_or_reply(ctx.out, argv[3], ctx.engine.now_ms) else {
        return;
    };
    match move_one(ctx, argv[1], argv[2], End::Tail, End::Head) {
        Ok(true) => ctx.propagate_as(vec![vec![
            Bytes::from_static(b"RPOPLPUSH"),
            b(argv[1]),
            b(argv[2]),
        ]]),
        Ok(false) => block_or(ctx, &argv[1..2], deadline, crate::resp::Reply::null),
        Err(()) => {}
    }
}

// ---------------------------------------------------------------------------------------
// Reads and in-place edits

fn llen(ctx: &mut Ctx, argv: &[&[u8]]) {
    let live = c::read_key(ctx, argv[1]);
    let (db, out) = c::db_out(ctx);
    match c::visible(c::list(db, argv[1]), live) {
        Err(WrongType) => out.err(errors::WRONGTYPE),
        Ok(l) => out.int(l.map_or(0, |l| l.len()) as i64),
    }
}

/// LRANGE key start stop (indexes parsed before the key is looked at)
fn lrange(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(start) = c::long_or_reply(ctx.out, argv[2], None) else {
        return;
    };
    let Some(stop) = c::long_or_reply(ctx.out, argv[3], None) else {
        return;
    };
    let live = c::read_key(ctx, argv[1]);
    let (db, out) = c::db_out(ctx);
    match c::visible(c::list(db, argv[1]), live) {
        Err(WrongType) => out.err(errors::WRONGTYPE),
        Ok(None) => out.array(0),
        Ok(Some(l)) => match l.clamp_range(start, stop) {
            None => out.array(0),
            Some((s, e)) => {
                out.array(e - s + 1);
                l.range(s, e).for_each(|v| out.bulk(v));
            }
        },
    }
}

/// LINDEX key index (the key is looked at before the index is parsed)
fn lindex(ctx: &mut Ctx, argv: &[&[u8]]) {
    let live = c::read_key(ctx, argv[1]);
    let (db, out) = c::db_out(ctx);
    match c::visible(c::list(db, argv[1]), live) {
        Err(WrongType) => out.err(errors::WRONGTYPE),
        Ok(None) => out.null(),
        Ok(Some(l)) => {
            let Some(i) = c::long_or_reply(out, argv[2], None) else {
                return;
            };
            match l.get(i) {
                Some(v) => out.bulk(v),
                None => out.null(),
            }
        }
    }
}

/// LSET key index element
fn lset(ctx: &mut Ctx, argv: &[&[u8]]) {
    ctx.expire_if_needed(argv[1]);
    let (db, out) = c::db_out(ctx);
    match c::list_mut(db, argv[1]) {
        Err(WrongType) => out.err(errors::WRONGTYPE),
        Ok(None) => out.err(errors::NO_SUCH_KEY),
        Ok(Some(l)) => {
            let Some(i) = c::long_or_reply(out, argv[2], None) else {
                return;
            };
            if !l.set(i, b(argv[3])) {
                return out.err(errors::OUT_OF_RANGE);
            }
            out.ok();
            ctx.touch(argv[1]);
            ctx.dirty(1);
        }
    }
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, 0 for a missing key, -1 when
/// the pivot is not there.
fn linsert(ctx: &mut Ctx, argv: &[&[u8]]) {
    let after = if super::eq_ic(argv[2], "after") {
        true
    } else if super::eq_ic(argv[2], "before") {
        false
    } else {
        return ctx.out.err(errors::SYNTAX);
    };
    ctx.expire_if_needed(argv[1]);
    let (db, out) = c::db_out(ctx);
    match c::list_mut(db, argv[1]) {
        Err(WrongType) => out.err(errors::WRONGTYPE),
        Ok(None) => out.int(0),
        Ok(Some(l)) => {
            if !l.insert(argv[3], after, b(argv[4])) {
                return out.int(-1);
            }
            out.int(l.len() as i64);
            ctx.touch(argv[1]);
            ctx.dirty(1);
        }
    }
}

/// LREM key count element
fn lrem(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(count) = c::long_or_reply(ctx.out, argv[2], None) else {
        return;
    };
    ctx.expire_if_needed(argv[1]);
    let (db, out) = c::db_out(ctx);
    match c::list_mut(db, argv[1]) {
        Err(WrongType) => out.err(errors::WRONGTYPE),
        Ok(None) => out.int(0),
        Ok(Some(l)) => {
            let n = l.remove(count, argv[3]);
            out.int(n as i64);
            if n > 0 {
                removed(ctx, argv[1], n);
            }
        }
    }
}

/// LTRIM key start stop: always OK; propagated only when it removed something.
fn ltrim(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(start) = c::long_or_reply(ctx.out, argv[2], None) else {
        return;
    };
    let Some(stop) = c::long_or_reply(ctx.out, argv[3], None) else {
        return;
    };
    ctx.expire_if_needed(argv[1]);
    let (db, out) = c::db_out(ctx);
    match c::list_mut(db, argv[1]) {
        Err(WrongType) => out.err(errors::WRONGTYPE),
        Ok(None) => out.ok(),
        Ok(Some(l)) => {
            let n = l.trim(start, stop);
            out.ok();
            removed(ctx, argv[1], n);
        }
    }
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
///
/// RANK n skips the first n-1 matches (negative: searching from the tail); COUNT 0 means
/// every match; MAXLEN caps how many elements are compared. Indexes are always counted from
/// the head, as LINDEX counts them.
fn lpos(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut rank: i64 = 1;
    let mut count: i64 = -1; // -1: no COUNT option, reply a single index
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if super::eq_ic(argv[j], "rank") && more {
            j += 1;
            let Some(r) = c::long_or_reply(ctx.out, argv[j], None) else {
                return;
            };
            if r == 0 {
                return ctx.out.err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                );
            }
            rank = r;
        } else if super::eq_ic(argv[j], "count") && more {
            j += 1;
            let Some(n) =
                c::positive_long_or_reply(ctx.out, argv[j], Some("COUNT can't be negative"))
            else {
                return;
            };
            count = n;
        } else if super::eq_ic(argv[j], "maxlen") && more {
            j += 1;
            let Some(n) =
                c::positive_long_or_reply(ctx.out, argv[j], Some("MAXLEN can't be negative"))
            else {
                return;
            };
            maxlen = n;
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
        j += 1;
    }
    // Redis negates a negative rank in C `long` arithmetic: RANK -9223372036854775808 stays
    // negative and so matches from the first hit; the wrapping operations below keep that.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let live = c::read_key(ctx, argv[1]);
    let (db, out) = c::db_out(ctx);
    let l = match c::visible(c::list(db, argv[1]), live) {
        Err(WrongType) => return out.err(errors::WRONGTYPE),
        Ok(None) if count != -1 => return out.array(0),
        Ok(None) => return out.null(),
        Ok(Some(l)) => l,
    };
    let len = l.len();
    let elements: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
        Box::new(l.iter().rev())
    } else {
        Box::new(l.iter())
    };
    let mut matches: i64 = 0;
    let mut found = Vec::new();
    for (index, e) in elements.enumerate() {
        if maxlen != 0 && index as i64 >= maxlen {
            break;
        }
        if e != argv[2] {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if from_tail { len - index - 1 } else { index });
        if count == -1 || (count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count) {
            break;
        }
    }
    if count == -1 {
        match found.first() {
            Some(&i) => out.int(i as i64),
            None => out.null(),
        }
    } else {
        out.array(found.len());
        found.iter().for_each(|&i| out.int(i as i64));
    }
}
