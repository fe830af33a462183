//! The stream commands (Redis's `t_stream.c`).
//!
//! Streams are where Redis 7.0's propagation differs most from "the command as typed", and
//! rtool reproduces it exactly because replicas and AOF files depend on it:
//!
//! - `XADD key * ...` travels with the ID it generated, and `MAXLEN ~ n` / `MINID ~ id`
//!   become `= <the length or first ID after trimming>` (approximate trimming depends on the
//!   listpack layout, which a replica need not share).
//! - XREADGROUP, XCLAIM and XAUTOCLAIM are never propagated as typed: each entry delivered
//!   or claimed becomes `XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID
//!   LASTID last`, a group cursor moved without a claim becomes `XGROUP SETID ... ENTRIESREAD`,
//!   and a consumer created by a NOACK read becomes `XGROUP CREATECONSUMER`. Several of them
//!   from one command go out wrapped in MULTI/EXEC (the engine does that).

use super::{Ctx, Handler, eq_ic, errors};
use crate::keyspace::Value;
use crate::keyspace::stream::{
    AddError, AddId, Entry, Group, INVALID_ENTRIES_READ, Nack, StreamId, StreamValue, Trim,
};
use crate::resp::Reply;
use bytes::Bytes;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("xadd", xadd),
    ("xrange", xrange),
    ("xrevrange", xrevrange),
    ("xlen", xlen),
    ("xdel", xdel),
    ("xtrim", xtrim),
    ("xread", xread),
    ("xreadgroup", xreadgroup),
    ("xgroup", xgroup),
    ("xsetid", xsetid),
    ("xack", xack),
    ("xpending", xpending),
    ("xclaim", xclaim),
    ("xautoclaim", xautoclaim),
    ("xinfo", xinfo),
];

#[cfg(test)]
mod prop_tests;

const INVALID_ID: &str = "Invalid stream ID specified as stream command argument";

// ---------------------------------------------------------------------------------------------
// Access helpers

/// The stream at `key` for reading (after lazy expiry) and the reply buffer; `Err` after
/// replying WRONGTYPE.
fn sread<'c>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
) -> Result<(Option<&'c StreamValue>, &'c mut Reply), ()> {
    ctx.expire_if_needed(key);
    let db = ctx.client.db;
    let out = &mut *ctx.out;
    match ctx.engine.keyspace.dbs[db].dict.get(key) {
        None => Ok((None, out)),
        Some(Value::Stream(s)) => Ok((Some(s), out)),
        Some(_) => {
            out.err(errors::WRONGTYPE);
            Err(())
        }
    }
}

/// The stream at `key` for writing.
fn swrite<'c>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
) -> Result<(Option<&'c mut StreamValue>, &'c mut Reply), ()> {
    ctx.expire_if_needed(key);
    let db = ctx.client.db;
    let out = &mut *ctx.out;
    match ctx.engine.keyspace.dbs[db].dict.get_mut(key) {
        None => Ok((None, out)),
        Some(Value::Stream(s)) => Ok((Some(s), out)),
        Some(_) => {
            out.err(errors::WRONGTYPE);
            Err(())
        }
    }
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn id_bytes(id: StreamId) -> Bytes {
    Bytes::from(id.to_string())
}

fn lossy(a: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(a)
}

// ---------------------------------------------------------------------------------------------
// IDs

/// Redis's `string2ull`: `string2ll` when it accepts (refusing negatives), else `strtoull`
/// (which takes leading spaces, `+`, leading zeros, and wraps a `-`).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::resp::request::parse_i64(s) {
        return if v < 0 { None } else { Some(v as u64) };
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = i < s.len() && s[i] == b'-';
    if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
        i += 1;
    }
    if i >= s.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// `streamGenericParseIDOrReply` without the reply: `<ms>[-<seq>]`, `-` and `+` (unless
/// `strict`), and `<ms>-*` when `seq_star` (then the second value is false: no sequence).
fn parse_id_raw(
    a: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Option<(StreamId, bool)> {
    if a.len() > 127 {
        return None;
    }
    // The C code works on a NUL-terminated copy.
    let a = match memchr::memchr(0, a) {
        Some(p) => &a[..p],
        None => a,
    };
    if a == b"-" || a == b"+" {
        if strict {
            return None;
        }
        return Some((
            if a == b"-" {
                StreamId::MIN
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    let (ms_part, seq_part) = match memchr::memchr(b'-', a) {
        Some(p) => (&a[..p], Some(&a[p + 1..])),
        None => (a, None),
    };
    let ms = string2ull(ms_part)?;
    match seq_part {
        Some(b"*") if seq_star => Some((StreamId::new(ms, 0), false)),
        Some(sp) => Some((StreamId::new(ms, string2ull(sp)?), true)),
        None => Some((StreamId::new(ms, missing_seq), true)),
    }
}

fn parse_id(out: &mut Reply, a: &[u8], missing_seq: u64, strict: bool) -> Option<StreamId> {
    match parse_id_raw(a, missing_seq, strict, false) {
        Some((id, _)) => Some(id),
        None => {
            out.err(INVALID_ID);
            None
        }
    }
}

/// `streamParseIntervalIDOrReply`: a range end, `(` making it exclusive (and strict).
fn parse_interval(out: &mut Reply, a: &[u8], missing_seq: u64) -> Option<(StreamId, bool)> {
    if a.len() > 1 && a[0] == b'(' {
        Some((parse_id(out, &a[1..], missing_seq, true)?, true))
    } else {
        Some((parse_id(out, a, missing_seq, false)?, false))
    }
}

/// The start of a range: exclusive starts move one ID up.
fn parse_range_start(out: &mut Reply, a: &[u8]) -> Option<StreamId> {
    let (id, ex) = parse_interval(out, a, 0)?;
    if !ex {
        return Some(id);
    }
    match id.incr() {
        Some(id) => Some(id),
        None => {
            out.err("invalid start ID for the interval");
            None
        }
    }
}

fn parse_range_end(out: &mut Reply, a: &[u8]) -> Option<StreamId> {
    let (id, ex) = parse_interval(out, a, u64::MAX)?;
    if !ex {
        return Some(id);
    }
    match id.decr() {
        Some(id) => Some(id),
        None => {
            out.err("invalid end ID for the interval");
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Replies

/// One entry: `[id, [field, value, ...]]`.
fn reply_entry(out: &mut Reply, e: &Entry) {
    out.array(2);
    out.bulk(e.id.to_string().as_bytes());
    out.array(e.fields.len());
    for f in &e.fields {
        out.bulk(f);
    }
}

fn reply_id(out: &mut Reply, id: StreamId) {
    out.bulk(id.to_string().as_bytes());
}

// ---------------------------------------------------------------------------------------------
// XADD / XTRIM

/// XADD's and XTRIM's options (`streamAddTrimArgs`).
struct AddTrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    /// Index of the MAXLEN/MINID value (for the propagated rewrite).
    trim_arg: usize,
    no_mkstream: bool,
    /// XADD: where the ID is, and what it says.
    id_pos: usize,
    id: AddId,
    id_given: bool,
    seq_given: bool,
}

/// `streamParseAddOrTrimArgsOrReply`.
fn parse_add_trim(ctx: &mut Ctx, argv: &[&[u8]], xadd: bool) -> Option<AddTrimArgs> {
    let mut a = AddTrimArgs {
        trim: None,
        approx: false,
        limit: 0,
        trim_arg: 0,
        no_mkstream: false,
        id_pos: 0,
        id: AddId::Auto,
        id_given: false,
        seq_given: true,
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv[i];
        if xadd && opt == b"*" {
            break;
        } else if (eq_ic(opt, "maxlen") || eq_ic(opt, "minid")) && more > 0 {
            let maxlen = eq_ic(opt, "maxlen");
            if a.trim.is_some() {
                ctx.out.err(
                    "syntax error, MAXLEN and MINID options at the same time are not compatible",
                );
                return None;
            }
            a.approx = false;
            let next = argv[i + 1];
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let v = argv[i + 1];
            if maxlen {
                let n = super::arg_i64(ctx.out, v)?;
                if n < 0 {
                    ctx.out.err("The MAXLEN argument must be >= 0.");
                    return None;
                }
                a.trim = Some(Trim::MaxLen(n as u64));
            } else {
                a.trim = Some(Trim::MinId(parse_id(ctx.out, v, 0, true)?));
            }
            i += 1;
            a.trim_arg = i;
        } else if eq_ic(opt, "limit") && more > 0 {
            let n = super::arg_i64(ctx.out, argv[i + 1])?;
            if n < 0 {
                ctx.out.err("The LIMIT argument must be >= 0.");
                return None;
            }
            a.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && eq_ic(opt, "nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            match parse_id_raw(opt, 0, true, true) {
                Some((id, seq_given)) => {
                    a.id = if seq_given {
                        AddId::Exact(id)
                    } else {
                        AddId::Ms(id.ms)
                    };
                    a.id_given = true;
                    a.seq_given = seq_given;
                }
                None => {
                    ctx.out.err(INVALID_ID);
                    return None;
                }
            }
            break;
        } else {
            ctx.out.err(errors::SYNTAX);
            return None;
        }
        i += 1;
    }
    a.id_pos = i;
    if a.limit != 0 && a.trim.is_none() {
        ctx.out
            .err("syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return None;
    }
    if !xadd && a.trim.is_none() {
        ctx.out
            .err("syntax error, XTRIM must be called with a trimming strategy");
        return None;
    }
    if ctx.client.is_master {
        // The master already rewrote approximate trims into exact ones.
        a.limit = 0;
    } else if limit_given {
        if !a.approx {
            ctx.out
                .err("syntax error, LIMIT cannot be used without the special ~ option");
            return None;
        }
    } else if a.approx {
        let per_node = ctx.engine.thresholds.stream_node_max_entries as u64;
        a.limit = (100 * per_node).clamp(1, 1_000_000);
        if per_node == 0 {
            a.limit = 10_000;
        }
    } else {
        a.limit = 0;
    }
    Some(a)
}

/// The command to propagate after an approximate trim: `~` becomes `=` and the count the
/// length (or first ID) the stream actually has now (`streamRewriteTrimArgument`).
fn rewrite_trim(argv: &mut [Bytes], a: &AddTrimArgs, s: &StreamValue) {
    if !a.approx {
        return;
    }
    argv[a.trim_arg - 1] = b("=");
    argv[a.trim_arg] = match a.trim {
        Some(Trim::MaxLen(_)) => Bytes::from(s.length.to_string()),
        _ => id_bytes(s.first_edge_id(false)),
    };
}

/// `XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value...`
///
/// The ID is checked against `0-0` before the key is touched, so a rejected XADD never
/// leaves an empty stream behind; the stream is created (unless NOMKSTREAM) before the append
/// can fail for a too-small ID, as in Redis. What is propagated is the command with the ID
/// actually used and, after an approximate trim, the exact result of the trim.
fn xadd(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(a) = parse_add_trim(ctx, argv, true) else {
        return;
    };
    let field_pos = a.id_pos + 1;
    let nfields = argv.len().saturating_sub(field_pos);
    if nfields < 2 || nfields % 2 == 1 {
        return ctx.out.err("wrong number of arguments for 'xadd' command");
    }
    if a.id_given && a.seq_given && matches!(a.id, AddId::Exact(id) if id.is_zero()) {
        return ctx
            .out
            .err("The ID specified in XADD must be greater than 0-0");
    }
    let key = argv[1];
    let exists = match sread(ctx, key) {
        Err(()) => return,
        Ok((s, _)) => s.is_some(),
    };
    if !exists {
        if a.no_mkstream {
            return ctx.out.null();
        }
        ctx.set_value(key, Value::Stream(Box::default()));
        ctx.key_ready(key);
    }
    let th = ctx.engine.thresholds;
    let now = crate::cmd::engine::now_ms();
    let fields: Vec<Bytes> = argv[field_pos..]
        .iter()
        .map(|f| Bytes::copy_from_slice(f))
        .collect();
    let mut prop: Vec<Bytes> = argv.iter().map(|x| Bytes::copy_from_slice(x)).collect();
    {
        let Ok((Some(s), out)) = swrite(ctx, key) else {
            return;
        };
        if s.last_id == StreamId::MAX {
            return out
                .err("The stream has exhausted the last possible ID, unable to add more items");
        }
        let id = match s.add(
            a.id,
            fields,
            now,
            th.stream_node_max_entries,
            th.stream_node_max_bytes,
        ) {
            Ok(id) => id,
            Err(AddError::NotGreater) => {
                return out.err(
                    "The ID specified in XADD is equal or smaller than the target stream top item",
                );
            }
            Err(AddError::TooLarge) => return out.err("Elements are too large to be stored"),
        };
        reply_id(out, id);
        if let Some(t) = a.trim {
            s.trim(t, a.approx, a.limit);
            rewrite_trim(&mut prop, &a, s);
        }
        if !a.id_given || !a.seq_given {
            prop[a.id_pos] = id_bytes(id);
        }
    }
    ctx.touch(key);
    ctx.dirty(1);
    ctx.propagate_as(vec![prop]);
    ctx.key_ready(key);
}

/// `XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]`: propagated only when it removed
/// something, with `~` rewritten like XADD's.
fn xtrim(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(a) = parse_add_trim(ctx, argv, false) else {
        return;
    };
    let key = argv[1];
    let mut prop: Vec<Bytes> = argv.iter().map(|x| Bytes::copy_from_slice(x)).collect();
    let deleted = {
        let Ok((s, out)) = swrite(ctx, key) else {
            return;
        };
        let Some(s) = s else { return out.int(0) };
        let Some(t) = a.trim else { return };
        let deleted = s.trim(t, a.approx, a.limit);
        if deleted > 0 {
            rewrite_trim(&mut prop, &a, s);
        }
        deleted
    };
    if deleted > 0 {
        ctx.touch(key);
        ctx.dirty(deleted);
        ctx.propagate_as(vec![prop]);
    }
    ctx.out.int(deleted as i64);
}

// ---------------------------------------------------------------------------------------------
// XRANGE XREVRANGE XLEN XDEL

/// XRANGE / XREVRANGE (`xrangeGenericCommand`). Both IDs are parsed (an incomplete start
/// gets sequence 0, an incomplete end the maximum; `(` excludes), then COUNT, then the key.
/// `COUNT 0` replies the *null* array, not an empty one.
fn xrange_generic(ctx: &mut Ctx, argv: &[&[u8]], rev: bool) {
    let (start_arg, end_arg) = if rev {
        (argv[3], argv[2])
    } else {
        (argv[2], argv[3])
    };
    let Some(start) = parse_range_start(ctx.out, start_arg) else {
        return;
    };
    let Some(end) = parse_range_end(ctx.out, end_arg) else {
        return;
    };
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if eq_ic(argv[j], "count") && j + 1 < argv.len() {
            let Some(c) = super::arg_i64(ctx.out, argv[j + 1]) else {
                return;
            };
            count = c.max(0);
            j += 2;
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
    }
    let Ok((s, out)) = sread(ctx, argv[1]) else {
        return;
    };
    let Some(s) = s else { return out.array(0) };
    if count == 0 {
        return out.null_array();
    }
    let limit = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    let mark = out.deferred();
    let mut n = 0;
    for e in s.range(start, end, rev).take(limit) {
        reply_entry(out, e);
        n += 1;
    }
    out.set_deferred(mark, b'*', n);
}

/// `XRANGE key start end [COUNT n]`
fn xrange(ctx: &mut Ctx, argv: &[&[u8]]) {
    xrange_generic(ctx, argv, false)
}

/// `XREVRANGE key end start [COUNT n]`
fn xrevrange(ctx: &mut Ctx, argv: &[&[u8]]) {
    xrange_generic(ctx, argv, true)
}

/// `XLEN key`: live entries only.
fn xlen(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Ok((s, out)) = sread(ctx, argv[1]) else {
        return;
    };
    out.int(s.map(|s| s.length as i64).unwrap_or(0));
}

/// `XDEL key id...`: unlike most commands, the key is looked up before the arguments are
/// checked. All IDs are parsed before anything is deleted, so a bad one deletes nothing.
/// An emptied stream stays (streams are the one type Redis keeps when empty).
fn xdel(ctx: &mut Ctx, argv: &[&[u8]]) {
    let key = argv[1];
    {
        let Ok((s, out)) = sread(ctx, key) else {
            return;
        };
        if s.is_none() {
            return out.int(0);
        }
    }
    let mut ids = Vec::with_capacity(argv.len() - 2);
    for a in &argv[2..] {
        let Some(id) = parse_id(ctx.out, a, 0, true) else {
            return;
        };
        ids.push(id);
    }
    let deleted = {
        let Ok((Some(s), _)) = swrite(ctx, key) else {
            return;
        };
        s.xdel(&ids)
    };
    if deleted > 0 {
        ctx.touch(key);
        ctx.dirty(deleted);
    }
    ctx.out.int(deleted as i64);
}

// ---------------------------------------------------------------------------------------------
// Consumer groups: the shared machinery

/// The XCLAIM that recreates a pending entry on a replica (`streamPropagateXCLAIM`): owner,
/// delivery time and count as they are now, FORCE so the replica creates it, JUSTID so it
/// does not build a reply, LASTID to carry the group's cursor along.
fn xclaim_prop(
    key: &[u8],
    group: &[u8],
    id_arg: Bytes,
    nack: &Nack,
    last_id: StreamId,
) -> Vec<Bytes> {
    vec![
        b("XCLAIM"),
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(group),
        nack.consumer.clone(),
        b("0"),
        id_arg,
        b("TIME"),
        Bytes::from(nack.delivery_time.to_string()),
        b("RETRYCOUNT"),
        Bytes::from(nack.delivery_count.to_string()),
        b("FORCE"),
        b("JUSTID"),
        b("LASTID"),
        id_bytes(last_id),
    ]
}

/// `XGROUP SETID key group id ENTRIESREAD n` (`streamPropagateGroupID`).
fn setid_prop(key: &[u8], group: &[u8], g: &Group) -> Vec<Bytes> {
    vec![
        b("XGROUP"),
        b("SETID"),
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(group),
        id_bytes(g.last_id),
        b("ENTRIESREAD"),
        Bytes::from(g.entries_read.to_string()),
    ]
}

/// Find a consumer (refreshing its seen-time) or create it. Returns true if created.
fn touch_consumer(g: &mut Group, name: &[u8], now: i64) -> bool {
    match g.consumers.get_mut(name) {
        Some(c) => {
            c.seen_time = now;
            false
        }
        None => {
            g.consumers.insert(
                Bytes::copy_from_slice(name),
                crate::keyspace::stream::Consumer {
                    seen_time: now,
                    pel: Default::default(),
                },
            );
            true
        }
    }
}

/// Give pending entry `id` to `consumer` (moving it from its previous owner's list).
fn assign_nack(g: &mut Group, id: StreamId, consumer: &[u8]) {
    let Some(nack) = g.pel.get_mut(&id) else {
        return;
    };
    if nack.consumer.as_ref() != consumer {
        let old = std::mem::replace(&mut nack.consumer, Bytes::copy_from_slice(consumer));
        if let Some(c) = g.consumers.get_mut(&old) {
            c.pel.remove(&id);
        }
    }
    if let Some(c) = g.consumers.get_mut(consumer) {
        c.pel.insert(id);
    }
}

/// Drop a pending entry from the group and its owner.
fn drop_nack(g: &mut Group, id: StreamId) -> Option<Nack> {
    let nack = g.pel.remove(&id)?;
    if let Some(c) = g.consumers.get_mut(&nack.consumer) {
        c.pel.remove(&id);
    }
    Some(nack)
}

/// What a read through a group needs to know besides the stream and the group.
struct GroupRead<'a> {
    key: &'a [u8],
    group: &'a [u8],
    consumer: &'a [u8],
    noack: bool,
    now: i64,
}

/// `streamReplyWithRange` with a group: new entries after `start`, moving the group's cursor
/// and read counter, creating pending entries (unless NOACK), and collecting what to
/// propagate. Returns how many entries were sent.
fn deliver_new(
    out: &mut Reply,
    s: &StreamValue,
    g: &mut Group,
    r: &GroupRead,
    start: StreamId,
    count: usize,
    props: &mut Vec<Vec<Bytes>>,
) -> usize {
    let mark = out.deferred();
    let mut n = 0;
    let mut propagate_last_id = false;
    for e in s.range(start, StreamId::MAX, false) {
        if e.id > g.last_id {
            s.advance_group(g, e.id);
            if r.noack {
                // With NOACK no XCLAIM will carry the new cursor (LASTID), so a SETID must.
                propagate_last_id = true;
            }
        }
        reply_entry(out, e);
        // The entry becomes pending for this consumer. It may already be pending for another one
        // (the admin moved the group back with SETID): then it changes hands and starts over at
        // one delivery, as `streamReplyWithRange` does.
        if !r.noack {
            match g.pel.get_mut(&e.id) {
                Some(nack) => {
                    nack.delivery_time = r.now;
                    nack.delivery_count = 1;
                }
                None => {
                    g.pel.insert(
                        e.id,
                        Nack {
                            consumer: Bytes::copy_from_slice(r.consumer),
                            delivery_time: r.now,
                            delivery_count: 1,
                        },
                    );
                }
            }
            assign_nack(g, e.id, r.consumer);
            if let Some(nack) = g.pel.get(&e.id) {
                props.push(xclaim_prop(r.key, r.group, id_bytes(e.id), nack, g.last_id));
            }
        }
        n += 1;
        if count != 0 && n == count {
            break;
        }
    }
    if propagate_last_id {
        props.push(setid_prop(r.key, r.group, g));
    }
    out.set_deferred(mark, b'*', n);
    n
}

/// `streamReplyWithRangeFromConsumerPEL`: a consumer re-reading its own pending entries.
/// Entries deleted since are sent as `[id, nil]`.
fn deliver_history(
    out: &mut Reply,
    s: &StreamValue,
    g: &mut Group,
    consumer: &[u8],
    start: StreamId,
    count: usize,
    now: i64,
) {
    let ids: Vec<StreamId> = match g.consumers.get(consumer) {
        Some(c) => c
            .pel
            .range(start..)
            .take(if count == 0 { usize::MAX } else { count })
            .copied()
            .collect(),
        None => Vec::new(),
    };
    out.array(ids.len());
    for id in ids {
        match s.get(id) {
            Some(e) => {
                reply_entry(out, e);
                if let Some(nack) = g.pel.get_mut(&id) {
                    nack.delivery_time = now;
                    nack.delivery_count += 1;
                }
            }
            None => {
                out.array(2);
                reply_id(out, id);
                out.null_array();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// XREAD / XREADGROUP

/// The count a served blocked client reads when it gave none (`XREAD_BLOCKED_DEFAULT_COUNT`).
const BLOCKED_DEFAULT_COUNT: usize = 1000;

/// `XREAD [COUNT n] [BLOCK ms] STREAMS key... id...`
fn xread(ctx: &mut Ctx, argv: &[&[u8]]) {
    xread_generic(ctx, argv, false)
}

/// `XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...`
fn xreadgroup(ctx: &mut Ctx, argv: &[&[u8]]) {
    xread_generic(ctx, argv, true)
}

/// `xreadCommand`, for both XREAD and XREADGROUP.
///
/// Options are read up to STREAMS; then each key is checked in order (type, group, `$` and
/// `>` legality, ID syntax) and its ID resolved — `$` to the stream's last ID *now*, which
/// is why a blocking XREAD is re-run with that ID written in (`Ctx::block_argv`). A key is
/// served at once when it has something newer than the ID (or, for a group's `>`, newer
/// than the group's last delivered ID); a group read with an explicit ID replays the
/// consumer's own pending entries instead. When nothing is served and BLOCK was given the
/// client blocks on all the keys; re-run once one of them gets data, it behaves like
/// Redis's `serveClientsBlockedOnStreamKey`: a default COUNT of 1000, and the special
/// errors for a group or stream that disappeared meanwhile.
fn xread_generic(ctx: &mut Ctx, argv: &[&[u8]], group_mode: bool) {
    let now_cached = ctx.now_ms();
    let mut block: Option<Option<i64>> = None;
    let mut count: usize = 0;
    let mut streams_arg = 0;
    let mut nstreams = 0;
    let mut noack = false;
    let mut group: Option<(&[u8], &[u8])> = None;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = argv[i];
        if eq_ic(o, "block") && more > 0 {
            i += 1;
            let Some(t) = super::zset::num::timeout_ms(ctx.out, argv[i], now_cached) else {
                return;
            };
            block = Some(t);
        } else if eq_ic(o, "count") && more > 0 {
            i += 1;
            let Some(c) = super::arg_i64(ctx.out, argv[i]) else {
                return;
            };
            count = c.max(0) as usize;
        } else if eq_ic(o, "streams") && more > 0 {
            streams_arg = i + 1;
            let n = argv.len() - streams_arg;
            if !n.is_multiple_of(2) {
                return ctx.out.err("Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
            }
            nstreams = n / 2;
            break;
        } else if eq_ic(o, "group") && more >= 2 {
            if !group_mode {
                return ctx.out.err(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                );
            }
            group = Some((argv[i + 1], argv[i + 2]));
            i += 2;
        } else if eq_ic(o, "noack") {
            if !group_mode {
                return ctx.out.err(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                );
            }
            noack = true;
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
        i += 1;
    }
    if streams_arg == 0 {
        return ctx.out.err(errors::SYNTAX);
    }
    if group_mode && group.is_none() {
        return ctx.out.err("Missing GROUP option for XREADGROUP");
    }
    let unblocking = ctx.unblocking;
    if unblocking && count == 0 {
        count = BLOCKED_DEFAULT_COUNT;
    }
    let keys = &argv[streams_arg..streams_arg + nstreams];
    // A served client is answered from the key that became ready, and only from it, as
    // `serveClientsBlockedOnStreamKey` does.
    let only: Option<usize> = match (&ctx.engine.serving_key, unblocking) {
        (Some(k), true) => keys.iter().position(|x| *x == k.as_ref()),
        _ => None,
    };
    // Resolve every ID, checking types and groups in argument order, as Redis does.
    let mut ids: Vec<StreamId> = Vec::with_capacity(nstreams);
    let mut rerun: Vec<Bytes> = Vec::new();
    let mut dollar = false;
    for (k, key) in keys.iter().enumerate() {
        let idarg = argv[streams_arg + nstreams + k];
        if only.is_some_and(|o| o != k) {
            ids.push(StreamId::MAX);
            continue;
        }
        ctx.expire_if_needed(key);
        let db = ctx.client.db;
        let (exists, last_id, has_group) = match ctx.engine.keyspace.dbs[db].dict.get(key) {
            None => (false, StreamId::MIN, false),
            Some(Value::Stream(s)) => (
                true,
                s.last_id,
                group.is_some_and(|(g, _)| s.groups.contains_key(g)),
            ),
            Some(_) if unblocking && group.is_some() => {
                return ctx.out.err("-UNBLOCKED the stream key no longer exists");
            }
            Some(_) if unblocking => (false, StreamId::MIN, false),
            Some(_) => return ctx.wrongtype(),
        };
        if let Some((g, _)) = group
            && !has_group
        {
            if unblocking {
                if exists {
                    return ctx.out.err(
                        "-NOGROUP the consumer group this client was blocked on no longer exists",
                    );
                }
                return ctx.out.err("-UNBLOCKED the stream key no longer exists");
            }
            return ctx.out.err(&format!(
                "-NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                lossy(key),
                lossy(g)
            ));
        }
        if idarg == b"$" {
            if group_mode {
                return ctx.out.err("The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
            }
            ids.push(last_id);
            dollar = true;
            continue;
        } else if idarg == b">" {
            if !group_mode {
                return ctx.out.err("The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
            }
            ids.push(StreamId::MAX);
            continue;
        }
        let Some(id) = parse_id(ctx.out, idarg, 0, true) else {
            return;
        };
        ids.push(id);
    }
    if dollar {
        rerun = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        for (k, id) in ids.iter().enumerate() {
            if argv[streams_arg + nstreams + k] == b"$" {
                rerun[streams_arg + nstreams + k] = id_bytes(*id);
            }
        }
    }

    // Serve what can be served now.
    let now = crate::cmd::engine::now_ms();
    let resp3 = ctx.out.resp3;
    let mut props: Vec<Vec<Bytes>> = Vec::new();
    let mut served = 0usize;
    let mut mark = 0usize;
    let mut dirty = 0u64;
    for (k, key) in keys.iter().enumerate() {
        if only.is_some_and(|o| o != k) {
            continue;
        }
        let db = ctx.client.db;
        let out = &mut *ctx.out;
        let Some(Value::Stream(s)) = ctx.engine.keyspace.dbs[db].dict.get_mut(key) else {
            continue;
        };
        let gt = ids[k];
        match group {
            None => {
                if s.length == 0 || s.last_valid_id() <= gt {
                    continue;
                }
                served += 1;
                if served == 1 {
                    mark = out.deferred();
                }
                if !resp3 {
                    out.array(2);
                }
                out.bulk(key);
                let start = gt.incr().unwrap_or(StreamId::MAX);
                let limit = if count == 0 { usize::MAX } else { count };
                let entry_mark = out.deferred();
                let mut n = 0;
                for e in s.range(start, StreamId::MAX, false).take(limit) {
                    reply_entry(out, e);
                    n += 1;
                }
                out.set_deferred(entry_mark, b'*', n);
            }
            Some((gname, cname)) => {
                let Some(mut g) = s.groups.remove(gname) else {
                    continue;
                };
                // An explicit ID reads this consumer's own history; `>` reads what the group has not
                // seen yet, and only if there is something newer than its cursor.
                let history = gt != StreamId::MAX;
                let from = if history {
                    Some(gt)
                } else if s.length > 0 && s.last_valid_id() > g.last_id {
                    Some(g.last_id)
                } else {
                    None
                };
                if let Some(from) = from {
                    served += 1;
                    if served == 1 {
                        mark = out.deferred();
                    }
                    if !resp3 {
                        out.array(2);
                    }
                    out.bulk(key);
                    if touch_consumer(&mut g, cname, now) {
                        dirty += 1;
                        if noack {
                            props.push(vec![
                                b("XGROUP"),
                                b("CREATECONSUMER"),
                                Bytes::copy_from_slice(key),
                                Bytes::copy_from_slice(gname),
                                Bytes::copy_from_slice(cname),
                            ]);
                        }
                    }
                    let start = from.incr().unwrap_or(StreamId::MAX);
                    if history {
                        deliver_history(out, s, &mut g, cname, start, count, now);
                    } else {
                        let r = GroupRead {
                            key,
                            group: gname,
                            consumer: cname,
                            noack,
                            now,
                        };
                        deliver_new(out, s, &mut g, &r, start, count, &mut props);
                    }
                    dirty += 1;
                }
                s.groups.insert(Bytes::copy_from_slice(gname), g);
            }
        }
    }
    if group_mode {
        ctx.dirty(dirty);
        ctx.propagate_as(props);
    }
    if served > 0 {
        ctx.out
            .set_deferred(mark, if resp3 { b'%' } else { b'*' }, served);
        return;
    }
    match block {
        Some(_) if ctx.engine.in_exec => ctx.out.null_array(),
        Some(deadline) => {
            ctx.block = Some((
                keys.iter().map(|k| Bytes::copy_from_slice(k)).collect(),
                deadline,
            ));
            if dollar {
                ctx.block_argv = Some(rerun);
            }
        }
        None => ctx.out.null_array(),
    }
}

// ---------------------------------------------------------------------------------------------
// XGROUP

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

/// `addReplySubcommandSyntaxError`: names the subcommand as typed, the command in capitals.
fn subcommand_syntax_error(ctx: &mut Ctx, argv: &[&[u8]]) {
    let sub: String = lossy(argv[1]).chars().take(128).collect();
    ctx.out.err(&format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        sub,
        lossy(argv[0]).to_uppercase()
    ));
}

/// XGROUP CREATE / SETID / DESTROY / CREATECONSUMER / DELCONSUMER / HELP (`xgroupCommand`).
///
/// Redis validates the trailing options of CREATE and SETID first, then the key and the
/// group, then the subcommand's own arguments. None of these touch WATCHed keys except the
/// stream MKSTREAM creates. DESTROY wakes clients blocked in XREADGROUP on the group so they
/// get their error.
fn xgroup(ctx: &mut Ctx, argv: &[&[u8]]) {
    let opt = argv[1];
    let argc = argv.len();
    let mut mkstream = false;
    let mut entries_read: i64 = INVALID_ENTRIES_READ;
    let mut exists = false;
    let mut has_group = false;
    if argc >= 4 {
        let create = eq_ic(opt, "create");
        let setid = eq_ic(opt, "setid");
        let mut i = 5;
        while i < argc {
            if create && eq_ic(argv[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if (create || setid) && eq_ic(argv[i], "entriesread") && i + 1 < argc {
                let Some(n) = super::arg_i64(ctx.out, argv[i + 1]) else {
                    return;
                };
                if n < 0 && n != INVALID_ENTRIES_READ {
                    return ctx.out.err("value for ENTRIESREAD must be positive or -1");
                }
                entries_read = n;
                i += 2;
            } else {
                return subcommand_syntax_error(ctx, argv);
            }
        }
        let Ok((s, _)) = sread(ctx, argv[2]) else {
            return;
        };
        if let Some(s) = s {
            exists = true;
            has_group = s.groups.contains_key(argv[3]);
        }
    }
    if argc >= 4 && !mkstream {
        if !exists {
            return ctx.out.err("The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
        }
        if !has_group
            && (eq_ic(opt, "setid") || eq_ic(opt, "createconsumer") || eq_ic(opt, "delconsumer"))
        {
            return ctx.out.err(&format!(
                "-NOGROUP No such consumer group '{}' for key name '{}'",
                lossy(argv[3]),
                lossy(argv[2])
            ));
        }
    }
    let key = if argc >= 3 { argv[2] } else { b"" };
    let now = crate::cmd::engine::now_ms();
    if argc == 2 && eq_ic(opt, "help") {
        super::server::help_reply(ctx, "XGROUP", XGROUP_HELP);
    } else if eq_ic(opt, "create") && (5..=8).contains(&argc) {
        let id = if argv[4] == b"$" {
            None
        } else {
            let Some(id) = parse_id(ctx.out, argv[4], 0, true) else {
                return;
            };
            Some(id)
        };
        if !exists {
            ctx.set_value(key, Value::Stream(Box::default()));
            ctx.key_ready(key);
        }
        let created = {
            let Ok((Some(s), _)) = swrite(ctx, key) else {
                return;
            };
            let id = id.unwrap_or(s.last_id);
            if s.groups.contains_key(argv[3]) {
                false
            } else {
                s.groups.insert(
                    Bytes::copy_from_slice(argv[3]),
                    Group {
                        last_id: id,
                        entries_read,
                        ..Group::default()
                    },
                );
                true
            }
        };
        if created {
            ctx.out.ok();
            ctx.dirty(1);
        } else {
            ctx.out.err("-BUSYGROUP Consumer Group name already exists");
        }
    } else if eq_ic(opt, "setid") && (argc == 5 || argc == 7) {
        let explicit = if argv[4] == b"$" {
            None
        } else {
            let Some(id) = parse_id(ctx.out, argv[4], 0, false) else {
                return;
            };
            Some(id)
        };
        let Ok((Some(s), out)) = swrite(ctx, key) else {
            return;
        };
        let last = s.last_id;
        if let Some(g) = s.groups.get_mut(argv[3]) {
            g.last_id = explicit.unwrap_or(last);
            g.entries_read = entries_read;
        }
        out.ok();
        ctx.dirty(1);
    } else if eq_ic(opt, "destroy") && argc == 4 {
        let removed = {
            let Ok((Some(s), _)) = swrite(ctx, key) else {
                return;
            };
            s.groups.remove(argv[3]).is_some()
        };
        if removed {
            ctx.out.int(1);
            ctx.dirty(1);
            // Clients blocked in XREADGROUP on this group get -NOGROUP.
            ctx.key_ready(key);
        } else {
            ctx.out.int(0);
        }
    } else if eq_ic(opt, "createconsumer") && argc == 5 {
        let created = {
            let Ok((Some(s), _)) = swrite(ctx, key) else {
                return;
            };
            match s.groups.get_mut(argv[3]) {
                Some(g) if !g.consumers.contains_key(argv[4]) => {
                    g.consumers.insert(
                        Bytes::copy_from_slice(argv[4]),
                        crate::keyspace::stream::Consumer {
                            seen_time: now,
                            pel: Default::default(),
                        },
                    );
                    true
                }
                _ => false,
            }
        };
        if created {
            ctx.dirty(1);
        }
        ctx.out.int(created as i64);
    } else if eq_ic(opt, "delconsumer") && argc == 5 {
        let pending = {
            let Ok((Some(s), _)) = swrite(ctx, key) else {
                return;
            };
            let Some(g) = s.groups.get_mut(argv[3]) else {
                return;
            };
            match g.consumers.remove(argv[4]) {
                Some(c) => {
                    for id in &c.pel {
                        g.pel.remove(id);
                    }
                    Some(c.pel.len())
                }
                None => None,
            }
        };
        if pending.is_some() {
            ctx.dirty(1);
        }
        ctx.out.int(pending.unwrap_or(0) as i64);
    } else {
        subcommand_syntax_error(ctx, argv);
    }
}

// ---------------------------------------------------------------------------------------------
// XSETID XACK XPENDING

/// `XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]`: moves the stream's last ID
/// (never below its top entry) and the counters that lag computations rely on.
fn xsetid(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(id) = parse_id(ctx.out, argv[2], 0, true) else {
        return;
    };
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if eq_ic(argv[i], "entriesadded") && more > 0 {
            let Some(n) = super::arg_i64(ctx.out, argv[i + 1]) else {
                return;
            };
            if n < 0 {
                return ctx.out.err("entries_added must be positive");
            }
            entries_added = n;
            i += 2;
        } else if eq_ic(argv[i], "maxdeletedid") && more > 0 {
            let Some(m) = parse_id(ctx.out, argv[i + 1], 0, true) else {
                return;
            };
            if id < m {
                return ctx.out.err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                );
            }
            max_xdel = m;
            i += 2;
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
    }
    {
        let Ok((s, out)) = swrite(ctx, argv[1]) else {
            return;
        };
        let Some(s) = s else {
            return out.err(errors::NO_SUCH_KEY);
        };
        if s.length > 0 {
            if id < s.last_valid_id() {
                return out
                    .err("The ID specified in XSETID is smaller than the target stream top item");
            }
            if entries_added != -1 && s.length > entries_added as u64 {
                return out.err("The entries_added specified in XSETID is smaller than the target stream length");
            }
        }
        s.last_id = id;
        if entries_added != -1 {
            s.entries_added = entries_added as u64;
        }
        if !max_xdel.is_zero() {
            s.max_deleted_entry_id = max_xdel;
        }
        out.ok();
    }
    ctx.dirty(1);
}

/// `XACK key group id...`: a missing key or group is 0, not an error; IDs are all parsed
/// before any is acknowledged.
fn xack(ctx: &mut Ctx, argv: &[&[u8]]) {
    let key = argv[1];
    {
        let Ok((s, out)) = sread(ctx, key) else {
            return;
        };
        if !s.is_some_and(|s| s.groups.contains_key(argv[2])) {
            return out.int(0);
        }
    }
    let mut ids = Vec::with_capacity(argv.len() - 3);
    for a in &argv[3..] {
        let Some(id) = parse_id(ctx.out, a, 0, true) else {
            return;
        };
        ids.push(id);
    }
    let acked = {
        let Ok((Some(s), _)) = swrite(ctx, key) else {
            return;
        };
        let Some(g) = s.groups.get_mut(argv[2]) else {
            return;
        };
        ids.iter().filter(|&&id| drop_nack(g, id).is_some()).count()
    };
    ctx.dirty(acked as u64);
    ctx.out.int(acked as i64);
}

/// The NOGROUP error XPENDING, XCLAIM and XAUTOCLAIM share.
fn nogroup(ctx: &mut Ctx, key: &[u8], group: &[u8]) {
    ctx.out.err(&format!(
        "-NOGROUP No such key '{}' or consumer group '{}'",
        lossy(key),
        lossy(group)
    ));
}

/// `XPENDING key group [[IDLE ms] start end count [consumer]]`: the summary form (count,
/// smallest and largest pending ID, owners with counts as *bulk strings*) or the extended
/// one (ID, owner, idle ms, deliveries). Arguments after the consumer are ignored, as in
/// Redis.
fn xpending(ctx: &mut Ctx, argv: &[&[u8]]) {
    let argc = argv.len();
    let justinfo = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return ctx.out.err(errors::SYNTAX);
    }
    let mut minidle: i64 = 0;
    let mut count: i64 = 0;
    let mut start = StreamId::MIN;
    let mut end = StreamId::MAX;
    let mut consumer: Option<&[u8]> = None;
    if argc >= 6 {
        let mut startidx = 3;
        if eq_ic(argv[3], "idle") {
            let Some(n) = super::arg_i64(ctx.out, argv[4]) else {
                return;
            };
            minidle = n;
            if argc < 8 {
                return ctx.out.err(errors::SYNTAX);
            }
            startidx += 2;
        }
        let Some(c) = super::arg_i64(ctx.out, argv[startidx + 2]) else {
            return;
        };
        count = c.max(0);
        let Some(s) = parse_range_start(ctx.out, argv[startidx]) else {
            return;
        };
        let Some(e) = parse_range_end(ctx.out, argv[startidx + 1]) else {
            return;
        };
        start = s;
        end = e;
        if startidx + 3 < argc {
            consumer = Some(argv[startidx + 3]);
        }
    }
    let now = crate::cmd::engine::now_ms();
    let Ok((s, out)) = sread(ctx, argv[1]) else {
        return;
    };
    let Some(g) = s.and_then(|s| s.groups.get(argv[2])) else {
        return nogroup(ctx, argv[1], argv[2]);
    };
    if justinfo {
        out.array(4);
        out.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(first), Some(last)) => {
                reply_id(out, *first);
                reply_id(out, *last);
                let owners: Vec<(&Bytes, usize)> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pel.is_empty())
                    .map(|(n, c)| (n, c.pel.len()))
                    .collect();
                out.array(owners.len());
                for (name, n) in owners {
                    out.array(2);
                    out.bulk(name);
                    out.bulk(n.to_string().as_bytes());
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return;
    }
    let ids: Box<dyn Iterator<Item = StreamId> + '_> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => Box::new(c.pel.range(start..).copied()),
            None => return out.array(0),
        },
        None => Box::new(g.pel.range(start..).map(|(id, _)| *id)),
    };
    let mark = out.deferred();
    let mut n = 0;
    for id in ids {
        if count == 0 || id > end {
            break;
        }
        let Some(nack) = g.pel.get(&id) else {
            continue;
        };
        if minidle != 0 && now - nack.delivery_time < minidle {
            continue;
        }
        n += 1;
        count -= 1;
        out.array(4);
        reply_id(out, id);
        out.bulk(&nack.consumer);
        out.int((now - nack.delivery_time).max(0));
        out.int(nack.delivery_count as i64);
    }
    out.set_deferred(mark, b'*', n);
}

// ---------------------------------------------------------------------------------------------
// XCLAIM XAUTOCLAIM

/// `XCLAIM key group consumer min-idle id... [IDLE ms] [TIME ms] [RETRYCOUNT n] [FORCE]
/// [JUSTID] [LASTID id]` (`xclaimCommand`).
///
/// IDs are read until the first argument that is not one; the rest must be options. Each
/// claim — and each pending entry dropped because its message was deleted — is propagated
/// as an idempotent XCLAIM quoting the ID as the client typed it; LASTID alone becomes an
/// XGROUP SETID. The consumer is created only when something is actually claimed.
fn xclaim(ctx: &mut Ctx, argv: &[&[u8]]) {
    let key = argv[1];
    let gname = argv[2];
    let cname = argv[3];
    {
        let Ok((s, _)) = sread(ctx, key) else { return };
        if !s.is_some_and(|s| s.groups.contains_key(gname)) {
            return nogroup(ctx, key, gname);
        }
    }
    let Some(minidle) = crate::resp::request::parse_i64(argv[4]) else {
        return ctx.out.err("Invalid min-idle-time argument for XCLAIM");
    };
    let minidle = minidle.max(0);
    let mut ids: Vec<(StreamId, usize)> = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_id_raw(argv[j], 0, true, false) {
            Some((id, _)) => ids.push((id, j)),
            None => break,
        }
        j += 1;
    }
    let now = crate::cmd::engine::now_ms();
    let mut force = false;
    let mut justid = false;
    let mut retrycount: i64 = -1;
    let mut deliverytime: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let o = argv[j];
        let int_opt = |ctx: &mut Ctx, a: &[u8], what: &str| -> Option<i64> {
            let v = crate::resp::request::parse_i64(a);
            if v.is_none() {
                ctx.out
                    .err(&format!("Invalid {what} option argument for XCLAIM"));
            }
            v
        };
        if eq_ic(o, "force") {
            force = true;
        } else if eq_ic(o, "justid") {
            justid = true;
        } else if eq_ic(o, "idle") && more > 0 {
            j += 1;
            let Some(v) = int_opt(ctx, argv[j], "IDLE") else {
                return;
            };
            deliverytime = now - v;
        } else if eq_ic(o, "time") && more > 0 {
            j += 1;
            let Some(v) = int_opt(ctx, argv[j], "TIME") else {
                return;
            };
            deliverytime = v;
        } else if eq_ic(o, "retrycount") && more > 0 {
            j += 1;
            let Some(v) = int_opt(ctx, argv[j], "RETRYCOUNT") else {
                return;
            };
            retrycount = v;
        } else if eq_ic(o, "lastid") && more > 0 {
            j += 1;
            let Some(id) = parse_id(ctx.out, argv[j], 0, true) else {
                return;
            };
            last_id = id;
        } else {
            return ctx
                .out
                .err(&format!("Unrecognized XCLAIM option '{}'", lossy(o)));
        }
        j += 1;
    }
    if deliverytime != -1 {
        if deliverytime < 0 || deliverytime > now {
            deliverytime = now;
        }
    } else {
        deliverytime = now;
    }
    let mut props: Vec<Vec<Bytes>> = Vec::new();
    let mut dirty = 0u64;
    {
        let db = ctx.client.db;
        let out = &mut *ctx.out;
        let Some(Value::Stream(s)) = ctx.engine.keyspace.dbs[db].dict.get_mut(key) else {
            return;
        };
        let Some(mut g) = s.groups.remove(gname) else {
            return;
        };
        let mut propagate_last_id = false;
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last_id = true;
        }
        let mut consumer_ready = false;
        let mark = out.deferred();
        let mut n = 0;
        for (id, argi) in ids {
            let id_arg = Bytes::copy_from_slice(argv[argi]);
            // The message was deleted: its pending entry is dropped, and the drop is propagated too.
            if !s.contains(id) {
                if let Some(nack) = g.pel.get(&id) {
                    props.push(xclaim_prop(key, gname, id_arg, nack, g.last_id));
                    propagate_last_id = false;
                    dirty += 1;
                    drop_nack(&mut g, id);
                }
                continue;
            }
            let mut fresh = false;
            // FORCE makes a pending entry for a message nobody has pending (that is how a replica
            // recreates the PEL from the propagated XCLAIMs); such a fresh entry skips the idle check.
            if force && !g.pel.contains_key(&id) {
                g.pel.insert(
                    id,
                    Nack {
                        consumer: Bytes::new(),
                        delivery_time: now,
                        delivery_count: 1,
                    },
                );
                fresh = true;
            }
            let Some(nack) = g.pel.get(&id) else { continue };
            if !fresh && minidle != 0 && now - nack.delivery_time < minidle {
                continue;
            }
            // The consumer is looked up (refreshing its seen-time) or created only when there is
            // something to give it.
            if !consumer_ready {
                if touch_consumer(&mut g, cname, now) {
                    dirty += 1;
                }
                consumer_ready = true;
            }
            if fresh {
                // A NACK made by FORCE has no owner yet: hand it over directly.
                if let Some(nack) = g.pel.get_mut(&id) {
                    nack.consumer = Bytes::copy_from_slice(cname);
                }
            }
            assign_nack(&mut g, id, cname);
            if let Some(nack) = g.pel.get_mut(&id) {
                nack.delivery_time = deliverytime;
                if retrycount >= 0 {
                    nack.delivery_count = retrycount as u64;
                } else if !justid {
                    nack.delivery_count += 1;
                }
            }
            if justid {
                reply_id(out, id);
            } else if let Some(e) = s.get(id) {
                reply_entry(out, e);
            }
            n += 1;
            if let Some(nack) = g.pel.get(&id) {
                props.push(xclaim_prop(key, gname, id_arg, nack, g.last_id));
            }
            propagate_last_id = false;
            dirty += 1;
        }
        if propagate_last_id {
            props.push(setid_prop(key, gname, &g));
            dirty += 1;
        }
        out.set_deferred(mark, b'*', n);
        s.groups.insert(Bytes::copy_from_slice(gname), g);
    }
    ctx.dirty(dirty);
    ctx.propagate_as(props);
}

/// `XAUTOCLAIM key group consumer min-idle start [COUNT n] [JUSTID]` (`xautoclaimCommand`).
///
/// Walks the group's PEL from `start`, at most `10 * COUNT` entries, claiming idle ones and
/// dropping those whose message is gone (they count against COUNT and are listed in the
/// third element of the reply). The first element is where the next call should start.
fn xautoclaim(ctx: &mut Ctx, argv: &[&[u8]]) {
    let key = argv[1];
    let gname = argv[2];
    let cname = argv[3];
    let Some(minidle) = crate::resp::request::parse_i64(argv[4]) else {
        return ctx.out.err("Invalid min-idle-time argument for XAUTOCLAIM");
    };
    let minidle = minidle.max(0);
    let Some(start) = parse_range_start(ctx.out, argv[5]) else {
        return;
    };
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if eq_ic(argv[j], "count") && more > 0 {
            match crate::resp::request::parse_i64(argv[j + 1]) {
                Some(c) if (1..=i64::MAX / 16).contains(&c) => count = c,
                _ => return ctx.out.err("COUNT must be > 0"),
            }
            j += 1;
        } else if eq_ic(argv[j], "justid") {
            justid = true;
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
        j += 1;
    }
    {
        let Ok((s, _)) = sread(ctx, key) else { return };
        if !s.is_some_and(|s| s.groups.contains_key(gname)) {
            return nogroup(ctx, key, gname);
        }
    }
    let now = crate::cmd::engine::now_ms();
    let mut props: Vec<Vec<Bytes>> = Vec::new();
    let mut dirty = 0u64;
    {
        let db = ctx.client.db;
        let out = &mut *ctx.out;
        let Some(Value::Stream(s)) = ctx.engine.keyspace.dbs[db].dict.get_mut(key) else {
            return;
        };
        let Some(mut g) = s.groups.remove(gname) else {
            return;
        };
        let mut attempts = count.saturating_mul(10);
        let mut deleted: Vec<StreamId> = Vec::new();
        let mut claimed: Vec<StreamId> = Vec::new();
        let mut consumer_ready = false;
        let mut cursor = start;
        let mut next: Option<StreamId> = None;
        let mut body = Reply::new(out.resp3);
        loop {
            if attempts == 0 || count == 0 {
                next = g.pel.range(cursor..).next().map(|(id, _)| *id);
                break;
            }
            attempts -= 1;
            let Some(id) = g.pel.range(cursor..).next().map(|(id, _)| *id) else {
                break;
            };
            cursor = id.incr().unwrap_or(StreamId::MAX);
            if !s.contains(id) {
                if let Some(nack) = g.pel.get(&id) {
                    props.push(xclaim_prop(key, gname, id_bytes(id), nack, g.last_id));
                }
                dirty += 1;
                drop_nack(&mut g, id);
                deleted.push(id);
                count -= 1;
                if id == StreamId::MAX {
                    break;
                }
                continue;
            }
            let idle = g.pel.get(&id).map(|n| now - n.delivery_time).unwrap_or(0);
            if minidle != 0 && idle < minidle {
                if id == StreamId::MAX {
                    break;
                }
                continue;
            }
            if !consumer_ready {
                if touch_consumer(&mut g, cname, now) {
                    dirty += 1;
                }
                consumer_ready = true;
            }
            assign_nack(&mut g, id, cname);
            if let Some(nack) = g.pel.get_mut(&id) {
                nack.delivery_time = now;
                if !justid {
                    nack.delivery_count += 1;
                }
            }
            if justid {
                reply_id(&mut body, id);
            } else if let Some(e) = s.get(id) {
                reply_entry(&mut body, e);
            }
            claimed.push(id);
            count -= 1;
            if let Some(nack) = g.pel.get(&id) {
                props.push(xclaim_prop(key, gname, id_bytes(id), nack, g.last_id));
            }
            dirty += 1;
            if id == StreamId::MAX {
                break;
            }
        }
        out.array(3);
        reply_id(out, next.unwrap_or(StreamId::MIN));
        out.array(claimed.len());
        out.raw(&body.buf);
        out.array(deleted.len());
        for id in &deleted {
            reply_id(out, *id);
        }
        s.groups.insert(Bytes::copy_from_slice(gname), g);
    }
    ctx.dirty(dirty);
    ctx.propagate_as(props);
}

// ---------------------------------------------------------------------------------------------
// XINFO

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

fn reply_lag(out: &mut Reply, s: &StreamValue, g: &Group) {
    match s.lag(g) {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

fn reply_entries_read(out: &mut Reply, g: &Group) {
    if g.entries_read != INVALID_ENTRIES_READ {
        out.int(g.entries_read);
    } else {
        out.null();
    }
}

/// XINFO STREAM [FULL [COUNT n]] / GROUPS / CONSUMERS / HELP.
///
/// `radix-tree-keys` and `radix-tree-nodes` come from the listpack layout and the rax model
/// kept by [`StreamValue`], so they match Redis's numbers. `lag` is null when deletions make
/// it unknowable (see `StreamValue::lag`).
fn xinfo(ctx: &mut Ctx, argv: &[&[u8]]) {
    let argc = argv.len();
    if eq_ic(argv[1], "help") {
        if argc != 2 {
            return subcommand_syntax_error(ctx, argv);
        }
        return super::server::help_reply(ctx, "XINFO", XINFO_HELP);
    } else if argc < 3 {
        return subcommand_syntax_error(ctx, argv);
    }
    let opt = argv[1];
    // Parse XINFO STREAM's options only after the key lookup, like Redis.
    let now = crate::cmd::engine::now_ms();
    let (s, out) = match sread(ctx, argv[2]) {
        Err(()) => return,
        Ok((None, out)) => return out.err(errors::NO_SUCH_KEY),
        Ok((Some(s), out)) => (s, out),
    };
    if eq_ic(opt, "consumers") && argc == 4 {
        let Some(g) = s.groups.get(argv[3]) else {
            return out.err(&format!(
                "-NOGROUP No such consumer group '{}' for key name '{}'",
                lossy(argv[3]),
                lossy(argv[2])
            ));
        };
        out.array(g.consumers.len());
        for (name, c) in &g.consumers {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"pending");
            out.int(c.pel.len() as i64);
            out.bulk(b"idle");
            out.int((now - c.seen_time).max(0));
        }
    } else if eq_ic(opt, "groups") && argc == 3 {
        out.array(s.groups.len());
        for (name, g) in &s.groups {
            out.map(6);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"consumers");
            out.int(g.consumers.len() as i64);
            out.bulk(b"pending");
            out.int(g.pel.len() as i64);
            out.bulk(b"last-delivered-id");
            reply_id(out, g.last_id);
            out.bulk(b"entries-read");
            reply_entries_read(out, g);
            out.bulk(b"lag");
            reply_lag(out, s, g);
        }
    } else if eq_ic(opt, "stream") {
        let optv = &argv[3..];
        let mut full = false;
        let mut count: i64 = 10;
        if !optv.is_empty() {
            if (optv.len() != 1 && optv.len() != 3)
                || !eq_ic(optv[0], "full")
                || (optv.len() == 3 && !eq_ic(optv[1], "count"))
            {
                let sub: String = lossy(argv[1]).chars().take(128).collect();
                return out.err(&format!(
                    "unknown subcommand or wrong number of arguments for '{sub}'. Try XINFO HELP."
                ));
            }
            full = true;
            if optv.len() == 3 {
                let Some(c) = super::arg_i64(out, optv[2]) else {
                    return;
                };
                count = if c < 0 { 10 } else { c };
            }
        }
        let limit = if count == 0 {
            usize::MAX
        } else {
            count as usize
        };
        out.map(if full { 9 } else { 10 });
        out.bulk(b"length");
        out.int(s.length as i64);
        out.bulk(b"radix-tree-keys");
        out.int(s.radix_tree_keys() as i64);
        out.bulk(b"radix-tree-nodes");
        out.int(s.radix_tree_nodes() as i64);
        out.bulk(b"last-generated-id");
        reply_id(out, s.last_id);
        out.bulk(b"max-deleted-entry-id");
        reply_id(out, s.max_deleted_entry_id);
        out.bulk(b"entries-added");
        out.int(s.entries_added as i64);
        out.bulk(b"recorded-first-entry-id");
        reply_id(out, s.first_id);
        if !full {
            out.bulk(b"groups");
            out.int(s.groups.len() as i64);
            out.bulk(b"first-entry");
            match s.range(StreamId::MIN, StreamId::MAX, false).next() {
                Some(e) => reply_entry(out, e),
                None => out.null(),
            }
            out.bulk(b"last-entry");
            match s.range(StreamId::MIN, StreamId::MAX, true).next() {
                Some(e) => reply_entry(out, e),
                None => out.null(),
            }
            return;
        }
        out.bulk(b"entries");
        let mark = out.deferred();
        let mut n = 0;
        for e in s.iter().take(limit) {
            reply_entry(out, e);
            n += 1;
        }
        out.set_deferred(mark, b'*', n);
        out.bulk(b"groups");
        out.array(s.groups.len());
        for (name, g) in &s.groups {
            out.map(7);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"last-delivered-id");
            reply_id(out, g.last_id);
            out.bulk(b"entries-read");
            reply_entries_read(out, g);
            out.bulk(b"lag");
            reply_lag(out, s, g);
            out.bulk(b"pel-count");
            out.int(g.pel.len() as i64);
            out.bulk(b"pending");
            let shown: Vec<_> = g.pel.iter().take(limit).collect();
            out.array(shown.len());
            for (id, nack) in shown {
                out.array(4);
                reply_id(out, *id);
                out.bulk(&nack.consumer);
                out.int(nack.delivery_time);
                out.int(nack.delivery_count as i64);
            }
            out.bulk(b"consumers");
            out.array(g.consumers.len());
            for (cname, c) in &g.consumers {
                out.map(4);
                out.bulk(b"name");
                out.bulk(cname);
                out.bulk(b"seen-time");
                out.int(c.seen_time);
                out.bulk(b"pel-count");
                out.int(c.pel.len() as i64);
                out.bulk(b"pending");
                let shown: Vec<_> = c.pel.iter().take(limit).collect();
                out.array(shown.len());
                for id in shown {
                    let nack = g.pel.get(id);
                    out.array(3);
                    reply_id(out, *id);
                    out.int(nack.map(|n| n.delivery_time).unwrap_or(0));
                    out.int(nack.map(|n| n.delivery_count as i64).unwrap_or(0));
                }
            }
        }
    } else {
        let sub: String = lossy(argv[1]).chars().take(128).collect();
        out.err(&format!(
            "unknown subcommand or wrong number of arguments for '{sub}'. Try XINFO HELP."
        ));
    }
}
