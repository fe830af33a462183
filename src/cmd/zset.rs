//! The sorted set commands (Redis's `t_zset.c`).
//!
//! Every range command reduces to "find the first element in range, then walk while the
//! elements stay in range", with the walk done the way Redis does it for the encoding at hand:
//! a listpack is scanned linearly (which matters for lexicographic ranges over members with
//! different scores, where the answer depends on the scan), a skiplist is searched by rank.
//!
//! Propagation follows Redis 7.0: ZMPOP and the blocking pops travel as `ZPOPMIN|ZPOPMAX key
//! [count]`, everything else as typed when it changed something.

pub mod num;

use super::{Ctx, Handler, eq_ic, errors};
use crate::keyspace::{SetValue, Value, ZSetValue};
use crate::resp::Reply;
use bytes::Bytes;
use std::cmp::Ordering;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("zadd", zadd),
    ("zincrby", zincrby),
    ("zrem", zrem),
    ("zcard", zcard),
    ("zscore", zscore),
    ("zmscore", zmscore),
    ("zrank", zrank),
    ("zrevrank", zrevrank),
    ("zcount", zcount),
    ("zlexcount", zlexcount),
    ("zrange", zrange),
    ("zrangestore", zrangestore),
    ("zrevrange", zrevrange),
    ("zrangebyscore", zrangebyscore),
    ("zrevrangebyscore", zrevrangebyscore),
    ("zrangebylex", zrangebylex),
    ("zrevrangebylex", zrevrangebylex),
    ("zremrangebyrank", zremrangebyrank),
    ("zremrangebyscore", zremrangebyscore),
    ("zremrangebylex", zremrangebylex),
    ("zpopmin", zpopmin),
    ("zpopmax", zpopmax),
    ("zmpop", zmpop),
    ("bzpopmin", bzpopmin),
    ("bzpopmax", bzpopmax),
    ("bzmpop", bzmpop),
    ("zrandmember", zrandmember),
    ("zunion", zunion),
    ("zinter", zinter),
    ("zdiff", zdiff),
    ("zunionstore", zunionstore),
    ("zinterstore", zinterstore),
    ("zdiffstore", zdiffstore),
    ("zintercard", zintercard),
    ("zscan", zscan),
];

// ---------------------------------------------------------------------------------------------
// Access helpers: the value and the reply buffer at once (they are separate parts of Ctx).

/// The sorted set at `key` for reading (after lazy expiry), with the reply buffer. `Err` when
/// the key holds another type (WRONGTYPE already replied).
fn zread<'c>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
) -> Result<(Option<&'c ZSetValue>, &'c mut Reply), ()> {
    ctx.expire_if_needed(key);
    let db = ctx.client.db;
    let out = &mut *ctx.out;
    match ctx.engine.keyspace.dbs[db].dict.get(key) {
        None => Ok((None, out)),
        Some(Value::ZSet(z)) => Ok((Some(z), out)),
        Some(_) => {
            out.err(errors::WRONGTYPE);
            Err(())
        }
    }
}

/// The sorted set at `key` for writing.
fn zwrite<'c>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
) -> Result<(Option<&'c mut ZSetValue>, &'c mut Reply), ()> {
    ctx.expire_if_needed(key);
    let db = ctx.client.db;
    let out = &mut *ctx.out;
    match ctx.engine.keyspace.dbs[db].dict.get_mut(key) {
        None => Ok((None, out)),
        Some(Value::ZSet(z)) => Ok((Some(z), out)),
        Some(_) => {
            out.err(errors::WRONGTYPE);
            Err(())
        }
    }
}

/// A sorted set became empty: Redis never keeps an empty collection.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let empty = matches!(ctx.db().dict.get(key), Some(Value::ZSet(z)) if z.is_empty());
    if empty {
        ctx.delete(key);
    }
}

/// Reply a member and (when asked) its score, the way ZRANGE does: RESP3 pairs them in a
/// two-element array, RESP2 flattens them.
fn emit(out: &mut Reply, member: &[u8], score: f64, withscores: bool) {
    if withscores && out.resp3 {
        out.array(2);
    }
    out.bulk(member);
    if withscores {
        out.double(score);
    }
}

/// Array header for `n` results, doubled for RESP2 WITHSCORES.
fn result_header(out: &mut Reply, n: usize, withscores: bool) {
    out.array(if withscores && !out.resp3 { n * 2 } else { n });
}

fn parse_long(out: &mut Reply, a: &[u8]) -> Option<i64> {
    super::arg_i64(out, a)
}

// ---------------------------------------------------------------------------------------------
// Ranges.

/// `zrangespec`: a score interval, each end open or closed.
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

impl ScoreRange {
    /// `zslParseRange`: `(` makes an end exclusive; numbers are read with plain `strtod`.
    fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let one = |a: &[u8]| -> Option<(f64, bool)> {
            if a.first() == Some(&b'(') {
                Some((num::strtod_whole(&a[1..])?, true))
            } else {
                Some((num::strtod_whole(a)?, false))
            }
        };
        let (min, minex) = one(min)?;
        let (max, maxex) = one(max)?;
        Some(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }

    /// `zslIsInRange` / `zzlIsInRange`: can the set have anything in range at all?
    fn may_intersect(&self, z: &ZSetValue) -> bool {
        if self.min > self.max || (self.min == self.max && (self.minex || self.maxex)) {
            return false;
        }
        match (z.at(z.len().wrapping_sub(1)), z.at(0)) {
            (Some((_, last)), Some((_, first))) => self.gte_min(last) && self.lte_max(first),
            _ => false,
        }
    }

    /// Rank of the first element in range (`zslFirstInRange`).
    fn first(&self, z: &ZSetValue) -> Option<usize> {
        if !self.may_intersect(z) {
            return None;
        }
        let i = z.count_while(|s, _| !self.gte_min(s));
        let (_, s) = z.at(i)?;
        self.lte_max(s).then_some(i)
    }

    /// Rank of the last element in range (`zslLastInRange`).
    fn last(&self, z: &ZSetValue) -> Option<usize> {
        if !self.may_intersect(z) {
            return None;
        }
        let i = z.count_while(|s, _| self.lte_max(s)).checked_sub(1)?;
        let (_, s) = z.at(i)?;
        self.gte_min(s).then_some(i)
    }
}

/// One end of a lexicographic range (`-`, `+`, `[x`, `(x`).
#[derive(Clone, Copy, Debug)]
enum LexBound<'a> {
    MinusInf,
    PlusInf,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

impl<'a> LexBound<'a> {
    fn parse(a: &'a [u8]) -> Option<LexBound<'a>> {
        match a.first()? {
            b'+' if a.len() == 1 => Some(LexBound::PlusInf),
            b'-' if a.len() == 1 => Some(LexBound::MinusInf),
            b'(' => Some(LexBound::Excl(&a[1..])),
            b'[' => Some(LexBound::Incl(&a[1..])),
            _ => None,
        }
    }

    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Incl(_))
    }

    fn text(&self) -> Option<&'a [u8]> {
        match self {
            LexBound::Incl(t) | LexBound::Excl(t) => Some(t),
            _ => None,
        }
    }
}

/// `sdscmplex` between two bounds: `-` below everything, `+` above.
fn cmp_bounds(a: LexBound, b: LexBound) -> Ordering {
    match (a, b) {
        (LexBound::MinusInf, LexBound::MinusInf) | (LexBound::PlusInf, LexBound::PlusInf) => {
            Ordering::Equal
        }
        (LexBound::MinusInf, _) | (_, LexBound::PlusInf) => Ordering::Less,
        (LexBound::PlusInf, _) | (_, LexBound::MinusInf) => Ordering::Greater,
        _ => a
            .text()
            .unwrap_or_default()
            .cmp(b.text().unwrap_or_default()),
    }
}

#[derive(Clone, Copy, Debug)]
struct LexRange<'a> {
    min: LexBound<'a>,
    max: LexBound<'a>,
}

impl<'a> LexRange<'a> {
    fn parse(min: &'a [u8], max: &'a [u8]) -> Option<LexRange<'a>> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        let c = cmp_bounds(LexBound::Incl(m), self.min);
        if self.min.exclusive() {
            c == Ordering::Greater
        } else {
            c != Ordering::Less
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        let c = cmp_bounds(LexBound::Incl(m), self.max);
        if self.max.exclusive() {
            c == Ordering::Less
        } else {
            c != Ordering::Greater
        }
    }

    fn may_intersect(&self, z: &ZSetValue) -> bool {
        let c = cmp_bounds(self.min, self.max);
        if c == Ordering::Greater
            || (c == Ordering::Equal && (self.min.exclusive() || self.max.exclusive()))
        {
            return false;
        }
        match (z.at(z.len().wrapping_sub(1)), z.at(0)) {
            (Some((last, _)), Some((first, _))) => self.gte_min(last) && self.lte_max(first),
            _ => false,
        }
    }

    /// `zzlFirstInLexRange` scans a listpack from the head; `zslFirstInLexRange` descends.
    fn first(&self, z: &ZSetValue) -> Option<usize> {
        if !self.may_intersect(z) {
            return None;
        }
        let i = match z {
            ZSetValue::Listpack(v) => v.iter().position(|(m, _)| self.gte_min(m))?,
            ZSetValue::Skiplist(_) => z.count_while(|_, m| !self.gte_min(m)),
        };
        let (m, _) = z.at(i)?;
        self.lte_max(m).then_some(i)
    }

    fn last(&self, z: &ZSetValue) -> Option<usize> {
        if !self.may_intersect(z) {
            return None;
        }
        let i = match z {
            ZSetValue::Listpack(v) => v.iter().rposition(|(m, _)| self.lte_max(m))?,
            ZSetValue::Skiplist(_) => z.count_while(|_, m| self.lte_max(m)).checked_sub(1)?,
        };
        let (m, _) = z.at(i)?;
        self.gte_min(m).then_some(i)
    }
}

/// A parsed range of any kind, for the code shared by ZRANGE and friends.
#[derive(Clone, Copy, Debug)]
enum Range<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange<'a>),
}

impl<'a> Range<'a> {
    fn first(&self, z: &ZSetValue, rev: bool) -> Option<usize> {
        match (self, rev) {
            (Range::Score(r), false) => r.first(z),
            (Range::Score(r), true) => r.last(z),
            (Range::Lex(r), false) => r.first(z),
            (Range::Lex(r), true) => r.last(z),
            (Range::Rank(..), _) => None,
        }
    }

    /// Is an element still in range while walking away from the first one?
    fn still_in(&self, member: &[u8], score: f64, rev: bool) -> bool {
        match (self, rev) {
            (Range::Score(r), false) => r.lte_max(score),
            (Range::Score(r), true) => r.gte_min(score),
            (Range::Lex(r), false) => r.lte_max(member),
            (Range::Lex(r), true) => r.gte_min(member),
            (Range::Rank(..), _) => true,
        }
    }
}

/// Clamp ZRANGE-style indexes (negative from the end) to `0..len`; `None` when empty.
fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

/// The elements a ZRANGE-family query selects, in reply order.
fn select(z: &ZSetValue, range: &Range, rev: bool, offset: i64, limit: i64) -> Vec<(Bytes, f64)> {
    let len = z.len();
    match range {
        Range::Rank(s, e) => {
            let Some((start, end)) = clamp_ranks(*s, *e, len) else {
                return Vec::new();
            };
            let n = end - start + 1;
            let from = if rev { len - 1 - start } else { start };
            z.iter_from(from, rev)
                .take(n)
                .map(|(m, s)| (m.clone(), s))
                .collect()
        }
        _ => {
            // An offset past the end answers at once, before any search.
            if offset > 0 && offset as usize >= len {
                return Vec::new();
            }
            if offset < 0 {
                // Redis walks `offset--` down from a negative number until it runs off the end.
                return Vec::new();
            }
            // Find the first element in range, skip `offset` elements without checking them (Redis
            // does not), then take up to `limit` while they stay in range.
            let Some(first) = range.first(z, rev) else {
                return Vec::new();
            };
            let take = if limit < 0 {
                usize::MAX
            } else {
                limit as usize
            };
            z.iter_from(first, rev)
                .skip(offset as usize)
                .take(take)
                .take_while(|(m, s)| range.still_in(m, *s, rev))
                .map(|(m, s)| (m.clone(), s))
                .collect()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ZADD / ZINCRBY

const NANERR: &str = "resulting score is not a number (NaN)";

#[derive(Clone, Copy, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    incr: bool,
}

/// What `zsetAdd` did with one element.
enum AddOutcome {
    Added(f64),
    Updated(f64),
    /// Nothing changed; the element's score is reported for INCR.
    Same(f64),
    Nop,
    Nan,
}

/// `zsetAdd`: one score/member pair under the NX/XX/GT/LT/INCR rules.
fn zset_add(
    z: &mut ZSetValue,
    member: &[u8],
    mut score: f64,
    f: AddFlags,
    max_entries: usize,
    max_value: usize,
) -> AddOutcome {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return AddOutcome::Nop;
            }
            if f.incr {
                score += cur;
                if score.is_nan() {
                    return AddOutcome::Nan;
                }
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return AddOutcome::Nop;
            }
            if score != cur {
                z.update_score(member, score);
                AddOutcome::Updated(score)
            } else {
                AddOutcome::Same(score)
            }
        }
        None => {
            if f.xx {
                return AddOutcome::Nop;
            }
            z.prepare_insert(member.len(), max_entries, max_value);
            z.insert(Bytes::copy_from_slice(member), score);
            AddOutcome::Added(score)
        }
    }
}

/// ZADD and ZINCRBY (`zaddGenericCommand`).
///
/// The order of checks is Redis's and shows in replies: options, pair count, incompatible
/// options, then *every* score is parsed before the key is even looked up — so a bad score
/// on a string key says "not a valid float", not WRONGTYPE — and only then the type check.
/// A new key is created in the encoding its *first* member calls for (a member longer than
/// `zset-max-listpack-value` makes a skiplist from the start). `dirty` counts added plus
/// updated elements, so a ZADD that changed nothing is not propagated.
fn zadd_generic(ctx: &mut Ctx, argv: &[&[u8]], mut f: AddFlags) {
    let key = argv[1];
    let mut idx = 2;
    let mut ch = false;
    while idx < argv.len() {
        let o = argv[idx];
        if eq_ic(o, "nx") {
            f.nx = true;
        } else if eq_ic(o, "xx") {
            f.xx = true;
        } else if eq_ic(o, "ch") {
            ch = true;
        } else if eq_ic(o, "incr") {
            f.incr = true;
        } else if eq_ic(o, "gt") {
            f.gt = true;
        } else if eq_ic(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = argv.len() - idx;
    if elements % 2 == 1 || elements == 0 {
        return ctx.out.err(errors::SYNTAX);
    }
    if f.nx && f.xx {
        return ctx
            .out
            .err("XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return ctx
            .out
            .err("GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && elements > 2 {
        return ctx
            .out
            .err("INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(elements / 2);
    for pair in argv[idx..].chunks(2) {
        match num::string2d(pair[0]) {
            Some(s) => scores.push(s),
            None => return ctx.out.err(errors::NOT_FLOAT),
        }
    }
    let th = ctx.engine.thresholds;
    let (max_entries, max_value) = (th.zset_max_listpack_entries, th.zset_max_listpack_value);
    // Only now is the key looked up: every score was valid.
    let exists = match zread(ctx, key) {
        Err(()) => return,
        Ok((z, _)) => z.is_some(),
    };
    let mut created = false;
    if !exists {
        if f.xx {
            if f.incr {
                ctx.out.null()
            } else {
                ctx.out.int(0)
            }
            return;
        }
        let z = if max_entries == 0 || max_value < argv[idx + 1].len() {
            ZSetValue::new_skiplist()
        } else {
            ZSetValue::default()
        };
        ctx.set_value(key, Value::ZSet(z));
        created = true;
    }
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last_score = 0.0;
    let mut nan = false;
    {
        let Ok((Some(z), _)) = zwrite(ctx, key) else {
            return;
        };
        for (pair, &score) in argv[idx..].chunks(2).zip(scores.iter()) {
            match zset_add(z, pair[1], score, f, max_entries, max_value) {
                AddOutcome::Added(s) => {
                    added += 1;
                    processed += 1;
                    last_score = s;
                }
                AddOutcome::Updated(s) => {
                    updated += 1;
                    processed += 1;
                    last_score = s;
                }
                AddOutcome::Same(s) => {
                    processed += 1;
                    last_score = s;
                }
                AddOutcome::Nop => {}
                // `inf + -inf` under INCR: Redis stops here with an error, and since it skips
                // its `dirty` update the command is not propagated.
                AddOutcome::Nan => {
                    nan = true;
                    break;
                }
            }
        }
    }
    if nan {
        ctx.out.err(NANERR);
    } else {
        ctx.dirty((added + updated) as u64);
        if f.incr {
            if processed > 0 {
                ctx.out.double(last_score)
            } else {
                ctx.out.null()
            }
        } else {
            ctx.out.int(if ch { added + updated } else { added });
        }
    }
    if added > 0 || updated > 0 {
        ctx.touch(key);
    }
    if created || added > 0 {
        ctx.key_ready(key);
    }
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`
fn zadd(ctx: &mut Ctx, argv: &[&[u8]]) {
    zadd_generic(ctx, argv, AddFlags::default())
}

/// `ZINCRBY key increment member`: ZADD INCR with a single pair, so it shares its errors.
fn zincrby(ctx: &mut Ctx, argv: &[&[u8]]) {
    zadd_generic(
        ctx,
        argv,
        AddFlags {
            incr: true,
            ..AddFlags::default()
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Simple reads and ZREM

/// `ZREM key member...`: stops early once the set is empty, and deletes the key then
/// (Redis never keeps an empty collection).
fn zrem(ctx: &mut Ctx, argv: &[&[u8]]) {
    let key = argv[1];
    let deleted = {
        let Ok((z, out)) = zwrite(ctx, key) else {
            return;
        };
        let Some(z) = z else { return out.int(0) };
        let mut deleted = 0;
        for m in &argv[2..] {
            if z.remove(m).is_some() {
                deleted += 1;
            }
            if z.is_empty() {
                break;
            }
        }
        deleted
    };
    if deleted > 0 {
        delete_if_empty(ctx, key);
        ctx.touch(key);
        ctx.dirty(deleted);
    }
    ctx.out.int(deleted as i64);
}

/// `ZCARD key`: 0 for a missing key.
fn zcard(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Ok((z, out)) = zread(ctx, argv[1]) else {
        return;
    };
    out.int(z.map(|z| z.len() as i64).unwrap_or(0));
}

/// `ZSCORE key member`: a RESP3 double, a `%.17g` bulk string in RESP2 (`0.1` comes back as
/// `0.10000000000000001`, as in Redis 7.0).
fn zscore(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Ok((z, out)) = zread(ctx, argv[1]) else {
        return;
    };
    match z.and_then(|z| z.score(argv[2])) {
        Some(s) => out.double(s),
        None => out.null(),
    }
}

/// `ZMSCORE key member...`: a missing key behaves as an empty set, one null per member.
fn zmscore(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Ok((z, out)) = zread(ctx, argv[1]) else {
        return;
    };
    out.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => out.double(s),
            None => out.null(),
        }
    }
}

/// ZRANK / ZREVRANK (7.0 has no WITHSCORE option yet).
fn zrank_generic(ctx: &mut Ctx, argv: &[&[u8]], rev: bool) {
    let Ok((z, out)) = zread(ctx, argv[1]) else {
        return;
    };
    let Some(z) = z else { return out.null() };
    match z.rank(argv[2]) {
        Some(r) => out.int(if rev {
            (z.len() - 1 - r) as i64
        } else {
            r as i64
        }),
        None => out.null(),
    }
}

fn zrank(ctx: &mut Ctx, argv: &[&[u8]]) {
    zrank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut Ctx, argv: &[&[u8]]) {
    zrank_generic(ctx, argv, true)
}

/// Elements between two ranks found by a range, counted the way each encoding does it:
/// a listpack walks from the first element, a skiplist subtracts ranks.
fn count_range(
    z: &ZSetValue,
    first: Option<usize>,
    last: Option<usize>,
    in_range: impl Fn(&[u8], f64) -> bool,
) -> usize {
    let Some(first) = first else { return 0 };
    match z {
        ZSetValue::Listpack(_) => z
            .iter_from(first, false)
            .take_while(|(m, s)| in_range(m, *s))
            .count(),
        ZSetValue::Skiplist(_) => last.map(|l| l + 1 - first).unwrap_or(0),
    }
}

/// `ZCOUNT key min max`: the range is parsed before the key is looked up, so a bad range on
/// a missing key is still an error.
fn zcount(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(r) = ScoreRange::parse(argv[2], argv[3]) else {
        return ctx.out.err("min or max is not a float");
    };
    let Ok((z, out)) = zread(ctx, argv[1]) else {
        return;
    };
    let Some(z) = z else { return out.int(0) };
    out.int(count_range(z, r.first(z), r.last(z), |_, s| r.lte_max(s)) as i64);
}

/// `ZLEXCOUNT key min max`, with `[`/`(`/`-`/`+` bounds.
fn zlexcount(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(r) = LexRange::parse(argv[2], argv[3]) else {
        return ctx.out.err("min or max not valid string range item");
    };
    let Ok((z, out)) = zread(ctx, argv[1]) else {
        return;
    };
    let Some(z) = z else { return out.int(0) };
    out.int(count_range(z, r.first(z), r.last(z), |m, _| r.lte_max(m)) as i64);
}

// ---------------------------------------------------------------------------------------------
// ZRANGE and its older spellings

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// `zrangeGenericCommand`. `src` is the index of the source key; `store` is the destination
/// for ZRANGESTORE. `kind`/`rev` are fixed by the old commands, `Auto` for ZRANGE.
fn zrange_generic(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    src: usize,
    store: Option<&[u8]>,
    mut kind: Kind,
    rev_fixed: Option<bool>,
) {
    let mut withscores = false;
    let mut offset: i64 = 0;
    let mut limit: i64 = -1;
    let mut rev = rev_fixed;
    let mut j = src + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = argv[j];
        if store.is_none() && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            let Some(o) = parse_long(ctx.out, argv[j + 1]) else {
                return;
            };
            let Some(l) = parse_long(ctx.out, argv[j + 2]) else {
                return;
            };
            offset = o;
            limit = l;
            j += 2;
        } else if rev.is_none() && eq_ic(a, "rev") {
            rev = Some(true);
        } else if kind == Kind::Auto && eq_ic(a, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && eq_ic(a, "byscore") {
            kind = Kind::Score;
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        return ctx.out.err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && kind == Kind::Lex {
        return ctx
            .out
            .err("syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (mut min, mut max) = (argv[src + 1], argv[src + 2]);
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let range = match kind {
        Kind::Score => match ScoreRange::parse(min, max) {
            Some(r) => Range::Score(r),
            None => return ctx.out.err("min or max is not a float"),
        },
        Kind::Lex => match LexRange::parse(min, max) {
            Some(r) => Range::Lex(r),
            None => return ctx.out.err("min or max not valid string range item"),
        },
        _ => {
            let Some(s) = parse_long(ctx.out, min) else {
                return;
            };
            let Some(e) = parse_long(ctx.out, max) else {
                return;
            };
            Range::Rank(s, e)
        }
    };
    let key = argv[src];
    let result = {
        let Ok((z, out)) = zread(ctx, key) else {
            return;
        };
        match z {
            Some(z) => select(z, &range, rev, offset, limit),
            None => {
                if store.is_none() {
                    out.array(0);
                    return;
                }
                Vec::new()
            }
        }
    };
    match store {
        None => {
            result_header(ctx.out, result.len(), withscores);
            for (m, s) in &result {
                emit(ctx.out, m, *s, withscores);
            }
        }
        Some(dst) => store_result(ctx, dst, result, matches!(range, Range::Rank(..))),
    }
}

/// ZRANGESTORE's destination: built like `zrangeResultBeginStore` — a skiplist from the start
/// when a rank range is known to be too long, otherwise a listpack that converts as it grows.
fn store_result(ctx: &mut Ctx, dst: &[u8], result: Vec<(Bytes, f64)>, known_len: bool) {
    let th = ctx.engine.thresholds;
    if result.is_empty() {
        ctx.out.int(0);
        if ctx.delete(dst) {
            ctx.dirty(1);
        }
        return;
    }
    let mut z = if known_len && result.len() > th.zset_max_listpack_entries {
        ZSetValue::new_skiplist()
    } else {
        ZSetValue::default()
    };
    let n = result.len();
    for (m, s) in result {
        z.prepare_insert(
            m.len(),
            th.zset_max_listpack_entries,
            th.zset_max_listpack_value,
        );
        z.insert(m, s);
    }
    ctx.set_value(dst, Value::ZSet(z));
    ctx.key_ready(dst);
    ctx.out.int(n as i64);
    ctx.dirty(1);
}

/// `ZRANGE key min max [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
fn zrange(ctx: &mut Ctx, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 1, None, Kind::Auto, None)
}

/// `ZRANGESTORE dst src min max ...`: like ZRANGE without WITHSCORES, into `dst`.
fn zrangestore(ctx: &mut Ctx, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 2, Some(argv[1]), Kind::Auto, None)
}

/// `ZREVRANGE key start stop [WITHSCORES]`: the old spelling of ZRANGE ... REV.
fn zrevrange(ctx: &mut Ctx, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 1, None, Kind::Rank, Some(true))
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
fn zrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 1, None, Kind::Score, Some(false))
}

/// `ZREVRANGEBYSCORE key max min ...`: note the bounds come max first.
fn zrevrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 1, None, Kind::Score, Some(true))
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]` (WITHSCORES is a syntax error here).
fn zrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 1, None, Kind::Lex, Some(false))
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`
fn zrevrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) {
    zrange_generic(ctx, argv, 1, None, Kind::Lex, Some(true))
}

// ---------------------------------------------------------------------------------------------
// ZREMRANGEBY*

/// ZREMRANGEBYRANK / BYSCORE / BYLEX (`zremrangeGenericCommand`): the range is found the
/// same way the matching ZRANGE finds it, then removed in one go; `dirty` counts the
/// elements removed.
fn zremrange_generic(ctx: &mut Ctx, argv: &[&[u8]], kind: Kind) {
    let key = argv[1];
    let range = match kind {
        Kind::Score => match ScoreRange::parse(argv[2], argv[3]) {
            Some(r) => Range::Score(r),
            None => return ctx.out.err("min or max is not a float"),
        },
        Kind::Lex => match LexRange::parse(argv[2], argv[3]) {
            Some(r) => Range::Lex(r),
            None => return ctx.out.err("min or max not valid string range item"),
        },
        _ => {
            let Some(s) = parse_long(ctx.out, argv[2]) else {
                return;
            };
            let Some(e) = parse_long(ctx.out, argv[3]) else {
                return;
            };
            Range::Rank(s, e)
        }
    };
    let deleted = {
        let Ok((z, out)) = zwrite(ctx, key) else {
            return;
        };
        let Some(z) = z else { return out.int(0) };
        let bounds = match range {
            Range::Rank(s, e) => clamp_ranks(s, e, z.len()),
            _ => range.first(z, false).map(|first| {
                let n = z
                    .iter_from(first, false)
                    .take_while(|(m, s)| range.still_in(m, *s, false))
                    .count();
                (first, first + n - 1)
            }),
        };
        match bounds {
            Some((s, e)) => z.remove_rank_range(s, e),
            None => 0,
        }
    };
    if deleted > 0 {
        delete_if_empty(ctx, key);
        ctx.touch(key);
        ctx.dirty(deleted as u64);
    }
    ctx.out.int(deleted as i64);
}

/// `ZREMRANGEBYRANK key start stop`
fn zremrangebyrank(ctx: &mut Ctx, argv: &[&[u8]]) {
    zremrange_generic(ctx, argv, Kind::Rank)
}

/// `ZREMRANGEBYSCORE key min max`
fn zremrangebyscore(ctx: &mut Ctx, argv: &[&[u8]]) {
    zremrange_generic(ctx, argv, Kind::Score)
}

/// `ZREMRANGEBYLEX key min max`
fn zremrangebylex(ctx: &mut Ctx, argv: &[&[u8]]) {
    zremrange_generic(ctx, argv, Kind::Lex)
}

// ---------------------------------------------------------------------------------------------
// Pops

/// How a pop replies (the flags of Redis's `genericZpopCommand`).
#[derive(Clone, Copy)]
struct PopStyle {
    /// Put the key name in the reply (BZPOP*, ZMPOP).
    emit_key: bool,
    /// Pairs as two-element arrays (RESP3 ZPOP with COUNT, ZMPOP).
    nested: bool,
}

/// Pop up to `count` elements from the sorted set at `key` (which exists and is a zset),
/// replying in `style`. Returns how many were popped.
fn pop_from(ctx: &mut Ctx, key: &[u8], max: bool, count: usize, style: PopStyle) -> usize {
    let popped: Vec<(Bytes, f64)> = {
        let Ok((Some(z), _)) = zwrite(ctx, key) else {
            return 0;
        };
        let n = count.min(z.len());
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let rank = if max { z.len() - 1 } else { 0 };
            let Some((m, s)) = z.at(rank).map(|(m, s)| (m.clone(), s)) else {
                break;
            };
            z.remove(&m);
            v.push((m, s));
        }
        v
    };
    let out = &mut *ctx.out;
    match (style.emit_key, style.nested) {
        (false, false) => out.array(popped.len() * 2),
        (false, true) => out.array(popped.len()),
        (true, false) => {
            out.array(popped.len() * 2 + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array(2);
            out.bulk(key);
            out.array(popped.len());
        }
    }
    for (m, s) in &popped {
        if style.nested {
            out.array(2);
        }
        out.bulk(m);
        out.double(*s);
    }
    if !popped.is_empty() {
        ctx.dirty(popped.len() as u64);
        ctx.touch(key);
        delete_if_empty(ctx, key);
    }
    popped.len()
}

/// ZPOPMIN / ZPOPMAX `key [count]`. The count error is Redis's `getPositiveLong` message
/// even for a non-number. Without a count the reply is one flat pair in both protocols; with
/// one, RESP3 nests each pair. These two are propagated as typed.
fn zpop_generic(ctx: &mut Ctx, argv: &[&[u8]], max: bool) {
    if argv.len() > 3 {
        return ctx.out.err(errors::SYNTAX);
    }
    let mut count: Option<usize> = None;
    if argv.len() == 3 {
        match crate::resp::request::parse_i64(argv[2]) {
            Some(c) if c >= 0 => count = Some(c as usize),
            _ => return ctx.out.err("value is out of range, must be positive"),
        }
    }
    let key = argv[1];
    let nested = ctx.out.resp3 && count.is_some();
    {
        let Ok((z, out)) = zread(ctx, key) else {
            return;
        };
        if z.is_none() || count == Some(0) {
            return out.array(0);
        }
    }
    pop_from(
        ctx,
        key,
        max,
        count.unwrap_or(1),
        PopStyle {
            emit_key: false,
            nested,
        },
    );
}

/// `ZPOPMIN key [count]`
fn zpopmin(ctx: &mut Ctx, argv: &[&[u8]]) {
    zpop_generic(ctx, argv, false)
}

/// `ZPOPMAX key [count]`
fn zpopmax(ctx: &mut Ctx, argv: &[&[u8]]) {
    zpop_generic(ctx, argv, true)
}

/// The propagated form of every pop that is not typed as ZPOPMIN/ZPOPMAX.
fn propagate_pop(ctx: &mut Ctx, key: &[u8], max: bool, count: Option<usize>) {
    let name: &'static [u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    let mut cmd = vec![Bytes::from_static(name), Bytes::copy_from_slice(key)];
    if let Some(c) = count {
        cmd.push(Bytes::from(c.to_string()));
    }
    ctx.propagate_as(vec![cmd]);
}

/// ZMPOP/BZMPOP arguments: keys, MIN|MAX, COUNT.
struct MpopArgs<'a> {
    keys: Vec<&'a [u8]>,
    max: bool,
    count: usize,
}

fn parse_mpop<'a>(ctx: &mut Ctx, argv: &[&'a [u8]], numkeys_idx: usize) -> Option<MpopArgs<'a>> {
    let numkeys = match crate::resp::request::parse_i64(argv[numkeys_idx]) {
        Some(n) if n >= 1 => n as usize,
        _ => {
            ctx.out.err("numkeys should be greater than 0");
            return None;
        }
    };
    let where_idx = numkeys_idx.saturating_add(numkeys).saturating_add(1);
    if where_idx >= argv.len() {
        ctx.out.err(errors::SYNTAX);
        return None;
    }
    let max = if eq_ic(argv[where_idx], "min") {
        false
    } else if eq_ic(argv[where_idx], "max") {
        true
    } else {
        ctx.out.err(errors::SYNTAX);
        return None;
    };
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count.is_none() && eq_ic(argv[j], "count") && j + 1 < argv.len() {
            match crate::resp::request::parse_i64(argv[j + 1]) {
                Some(c) if c >= 1 => count = Some(c as usize),
                _ => {
                    ctx.out.err("count should be greater than 0");
                    return None;
                }
            }
            j += 2;
        } else {
            ctx.out.err(errors::SYNTAX);
            return None;
        }
    }
    Some(MpopArgs {
        keys: argv[numkeys_idx + 1..where_idx].to_vec(),
        max,
        count: count.unwrap_or(1),
    })
}

/// The first key (in order) holding a sorted set. `Err` after a WRONGTYPE reply — unless
/// `skip_wrong`: a client being served after blocking only considers keys of its type, as
/// Redis serves a BZPOPMIN client only from sorted sets.
fn first_nonempty(ctx: &mut Ctx, keys: &[&[u8]], skip_wrong: bool) -> Result<Option<usize>, ()> {
    for (i, k) in keys.iter().enumerate() {
        ctx.expire_if_needed(k);
        match ctx.db().dict.get(k) {
            None => continue,
            Some(Value::ZSet(z)) if !z.is_empty() => return Ok(Some(i)),
            Some(Value::ZSet(_)) => continue,
            Some(_) if skip_wrong => continue,
            Some(_) => {
                ctx.wrongtype();
                return Err(());
            }
        }
    }
    Ok(None)
}

/// `ZMPOP numkeys key... MIN|MAX [COUNT n]`: pops from the first key that exists, replies
/// `[key, [[member, score]...]]` or a null array, and is propagated as `ZPOPMIN|ZPOPMAX key
/// n` with `n` clipped to what the set held (a replica must pop exactly the same).
fn zmpop(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(a) = parse_mpop(ctx, argv, 1) else {
        return;
    };
    let Ok(found) = first_nonempty(ctx, &a.keys, false) else {
        return;
    };
    let Some(i) = found else {
        return ctx.out.null_array();
    };
    let key = a.keys[i];
    let len = match ctx.db().dict.get(key) {
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    };
    pop_from(
        ctx,
        key,
        a.max,
        a.count,
        PopStyle {
            emit_key: true,
            nested: true,
        },
    );
    propagate_pop(ctx, key, a.max, Some(a.count.min(len)));
}

/// BZPOPMIN/BZPOPMAX/BZMPOP: pop like the non-blocking command if any key has elements,
/// otherwise block (or, inside MULTI, reply the null array at once).
fn blocking_pop(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    max: bool,
    count: Option<usize>,
    deadline: Option<i64>,
) {
    let unblocking = ctx.unblocking;
    // A served client pops from the key that became ready, not from the first of its keys.
    let ready: Vec<&[u8]>;
    let keys = match ctx.engine.serving_key.clone() {
        Some(k) if unblocking && keys.contains(&k.as_ref()) => {
            ready = vec![keys[keys.iter().position(|x| *x == k.as_ref()).unwrap_or(0)]];
            &ready[..]
        }
        _ => keys,
    };
    let Ok(found) = first_nonempty(ctx, keys, unblocking) else {
        return;
    };
    match found {
        Some(i) => {
            let key = keys[i];
            let len = match ctx.db().dict.get(key) {
                Some(Value::ZSet(z)) => z.len(),
                _ => 0,
            };
            let style = PopStyle {
                emit_key: true,
                nested: count.is_some(),
            };
            pop_from(ctx, key, max, count.unwrap_or(1), style);
            propagate_pop(ctx, key, max, count.map(|c| c.min(len)));
        }
        None if ctx.engine.in_exec => ctx.out.null_array(),
        None => {
            ctx.block = Some((
                keys.iter().map(|k| Bytes::copy_from_slice(k)).collect(),
                deadline,
            ));
        }
    }
}

/// BZPOPMIN / BZPOPMAX `key... timeout`: the timeout is parsed first (seconds, as a float).
fn bzpop_generic(ctx: &mut Ctx, argv: &[&[u8]], max: bool) {
    let now = ctx.now_ms();
    let Some(deadline) = num::timeout_secs(ctx.out, argv[argv.len() - 1], now) else {
        return;
    };
    blocking_pop(ctx, &argv[1..argv.len() - 1], max, None, deadline);
}

/// `BZPOPMIN key... timeout`: replies `[key, member, score]`; travels as `ZPOPMIN key`.
fn bzpopmin(ctx: &mut Ctx, argv: &[&[u8]]) {
    bzpop_generic(ctx, argv, false)
}

/// `BZPOPMAX key... timeout`: replies `[key, member, score]`; travels as `ZPOPMAX key`.
fn bzpopmax(ctx: &mut Ctx, argv: &[&[u8]]) {
    bzpop_generic(ctx, argv, true)
}

/// `BZMPOP timeout numkeys key... MIN|MAX [COUNT n]`: ZMPOP's arguments are checked before
/// the timeout, the reverse of BZPOPMIN.
fn bzmpop(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(a) = parse_mpop(ctx, argv, 2) else {
        return;
    };
    let now = ctx.now_ms();
    let Some(deadline) = num::timeout_secs(ctx.out, argv[1], now) else {
        return;
    };
    blocking_pop(ctx, &a.keys, a.max, Some(a.count), deadline);
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER

/// `ZRANDMEMBER key [count [WITHSCORES]]` (`zrandmemberWithCountCommand`).
///
/// The deterministic cases follow Redis exactly: a count covering the whole set returns it
/// in the order Redis 7.0's set-operation iterator walks a sorted set (highest first), and
/// the range checks on the count (`-LONG_MAX`, `LONG_MAX/2` with WITHSCORES) give Redis's
/// texts. Which members a random draw picks cannot match a server with another generator.
fn zrandmember(ctx: &mut Ctx, argv: &[&[u8]]) {
    if argv.len() < 3 {
        let r = ctx.engine.random();
        let Ok((z, out)) = zread(ctx, argv[1]) else {
            return;
        };
        let Some(z) = z else { return out.null() };
        let m = random_elem(z, r).0;
        return out.bulk(&m);
    }
    let l = match crate::resp::request::parse_i64(argv[2]) {
        None => return ctx.out.err(errors::NOT_INTEGER),
        Some(i64::MIN) => return ctx.out.err("value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        Some(l) => l,
    };
    if argv.len() > 4 || (argv.len() == 4 && !eq_ic(argv[3], "withscores")) {
        return ctx.out.err(errors::SYNTAX);
    }
    let withscores = argv.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return ctx.out.err("value is out of range");
    }
    // Draw the random numbers first: the engine's generator and the set are both in Ctx.
    let (size, exists) = {
        let Ok((z, out)) = zread(ctx, argv[1]) else {
            return;
        };
        match z {
            None => {
                out.array(0);
                return;
            }
            Some(z) => (z.len(), true),
        }
    };
    debug_assert!(exists);
    let (count, uniq) = if l >= 0 {
        (l as u64, true)
    } else {
        (l.unsigned_abs(), false)
    };
    if count == 0 {
        return ctx.out.array(0);
    }
    if !uniq || count == 1 {
        // With repetitions: `count` independent draws.
        let draws: Vec<u64> = (0..count).map(|_| ctx.engine.random()).collect();
        let Ok((Some(z), out)) = zread(ctx, argv[1]) else {
            return;
        };
        result_header(out, count as usize, withscores);
        for r in draws {
            let (m, s) = random_elem(z, r);
            emit(out, &m, s, withscores);
        }
        return;
    }
    if count as usize >= size {
        // The whole set, in the order Redis 7.0's set-operation iterator walks a sorted set:
        // from the highest element down.
        let Ok((Some(z), out)) = zread(ctx, argv[1]) else {
            return;
        };
        result_header(out, size, withscores);
        for (m, s) in z.iter_from(size - 1, true) {
            emit(out, m, s, withscores);
        }
        return;
    }
    // Distinct members: pick by partial Fisher-Yates over the ranks.
    let count = count as usize;
    let mut ranks: Vec<usize> = (0..size).collect();
    for i in 0..count {
        let j = i + (ctx.engine.random() % (size - i) as u64) as usize;
        ranks.swap(i, j);
    }
    let Ok((Some(z), out)) = zread(ctx, argv[1]) else {
        return;
    };
    result_header(out, count, withscores);
    for &r in &ranks[..count] {
        if let Some((m, s)) = z.at(r) {
            emit(out, m, s, withscores);
        }
    }
}

/// A uniformly random element, given a random number.
fn random_elem(z: &ZSetValue, r: u64) -> (Bytes, f64) {
    match z {
        ZSetValue::Skiplist(s) => s
            .dict
            .random(r)
            .map(|(m, sc)| (m.clone(), *sc))
            .unwrap_or_default(),
        ZSetValue::Listpack(v) => v
            .get((r % v.len().max(1) as u64) as usize)
            .cloned()
            .unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF and their STORE forms, ZINTERCARD

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// `zunionInterAggregate`.
fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val
            }
        }
    }
}

/// One input of a set operation: its elements (a plain set gives score 1 to each), in the
/// order Redis iterates them, and a lookup by member.
struct Source {
    key_index: usize,
    elems: Vec<(Bytes, f64)>,
    weight: f64,
}

fn set_members(s: &SetValue) -> Vec<(Bytes, f64)> {
    match s {
        SetValue::Intset(v) => v
            .iter()
            .map(|n| (Bytes::from(n.to_string()), 1.0))
            .collect(),
        SetValue::Table(t) => t.iter().map(|(k, _)| (k.clone(), 1.0)).collect(),
    }
}

/// ZUNION / ZINTER / ZDIFF / ZINTERCARD and the STORE forms (`zunionInterDiffGenericCommand`).
///
/// Inputs may be sets as well as sorted sets (every member scoring 1). Keys are looked up —
/// and WRONGTYPE reported — before the options are parsed. For union and intersection the
/// inputs are visited smallest first (a stable sort, as glibc's merge-sort `qsort` is), which
/// fixes the order in which SUM adds the weighted scores; NaN from `inf + -inf` becomes 0.
/// A stored result is built as a skiplist and shrunk to a listpack when it fits, the only
/// path by which a sorted set gets the small encoding back.
fn setop_generic(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    dst: Option<&[u8]>,
    numkeys_idx: usize,
    op: SetOp,
    card_only: bool,
) {
    let Some(setnum) = parse_long(ctx.out, argv[numkeys_idx]) else {
        return;
    };
    if setnum < 1 {
        let name = String::from_utf8_lossy(argv[0]).to_lowercase();
        return ctx.out.err(&format!(
            "at least 1 input key is needed for '{name}' command"
        ));
    }
    if setnum as usize > argv.len() - (numkeys_idx + 1) {
        return ctx.out.err(errors::SYNTAX);
    }
    let setnum = setnum as usize;
    let mut srcs: Vec<Source> = Vec::with_capacity(setnum);
    for i in 0..setnum {
        let k = argv[numkeys_idx + 1 + i];
        ctx.expire_if_needed(k);
        let elems = match ctx.db().dict.get(k) {
            None => Vec::new(),
            Some(Value::ZSet(z)) => z.iter().map(|(m, s)| (m.clone(), s)).collect(),
            Some(Value::Set(s)) => set_members(s),
            Some(_) => return ctx.wrongtype(),
        };
        srcs.push(Source {
            key_index: numkeys_idx + 1 + i,
            elems,
            weight: 1.0,
        });
    }
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: u64 = 0;
    let mut j = numkeys_idx + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = argv[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && eq_ic(a, "weights") {
            j += 1;
            for s in srcs.iter_mut() {
                match num::string2d(argv[j]) {
                    Some(w) => s.weight = w,
                    None => return ctx.out.err("weight value is not a float"),
                }
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = argv[j + 1];
            agg = if eq_ic(v, "sum") {
                Aggregate::Sum
            } else if eq_ic(v, "min") {
                Aggregate::Min
            } else if eq_ic(v, "max") {
                Aggregate::Max
            } else {
                return ctx.out.err(errors::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && eq_ic(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && eq_ic(a, "limit") {
            match crate::resp::request::parse_i64(argv[j + 1]) {
                Some(l) if l >= 0 => limit = l as u64,
                _ => return ctx.out.err("LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
    }
    if op != SetOp::Diff {
        // Smallest input first (a stable sort, like glibc's merge-sort qsort).
        srcs.sort_by_key(|s| s.elems.len());
    }
    let lookups: Vec<std::collections::HashMap<Bytes, f64>> = srcs
        .iter()
        .map(|s| s.elems.iter().cloned().collect())
        .collect();
    let mut result: Vec<(Bytes, f64)> = Vec::new();
    let mut cardinality: u64 = 0;
    match op {
        SetOp::Inter => {
            if !srcs[0].elems.is_empty() {
                for (m, s0) in &srcs[0].elems {
                    let mut score = srcs[0].weight * s0;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    let mut all = true;
                    for (k, src) in srcs.iter().enumerate().skip(1) {
                        let same_key = argv[src.key_index] == argv[srcs[0].key_index];
                        let v = if same_key {
                            Some(*s0)
                        } else {
                            lookups[k].get(m).copied()
                        };
                        match v {
                            Some(v) => aggregate(&mut score, v * src.weight, agg),
                            None => {
                                all = false;
                                break;
                            }
                        }
                    }
                    if all {
                        if card_only {
                            cardinality += 1;
                            if limit != 0 && cardinality >= limit {
                                break;
                            }
                        } else {
                            result.push((m.clone(), score));
                        }
                    }
                }
            }
        }
        SetOp::Union => {
            let mut acc: indexmap::IndexMap<Bytes, f64> = indexmap::IndexMap::new();
            for src in &srcs {
                for (m, s) in &src.elems {
                    let mut score = src.weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m.clone(), score);
                        }
                    }
                }
            }
            result = acc.into_iter().collect();
        }
        SetOp::Diff => {
            for (m, s) in &srcs[0].elems {
                if !lookups.iter().skip(1).any(|l| l.contains_key(m)) {
                    result.push((m.clone(), *s));
                }
            }
        }
    }
    if card_only {
        return ctx.out.int(cardinality as i64);
    }
    result.sort_by(|a, b| crate::keyspace::zset::cmp_elem(a.1, &a.0, b.1, &b.0));
    match dst {
        Some(dst) => {
            if result.is_empty() {
                ctx.out.int(0);
                if ctx.delete(dst) {
                    ctx.dirty(1);
                }
                return;
            }
            let th = ctx.engine.thresholds;
            let mut z = ZSetValue::new_skiplist();
            let n = result.len();
            for (m, s) in result {
                z.insert(m, s);
            }
            z.shrink_if_fits(th.zset_max_listpack_entries, th.zset_max_listpack_value);
            ctx.set_value(dst, Value::ZSet(z));
            ctx.key_ready(dst);
            ctx.out.int(n as i64);
            ctx.dirty(1);
        }
        None => {
            result_header(ctx.out, result.len(), withscores);
            for (m, s) in &result {
                emit(ctx.out, m, *s, withscores);
            }
        }
    }
}

/// `ZUNION numkeys key... [WEIGHTS w...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
fn zunion(ctx: &mut Ctx, argv: &[&[u8]]) {
    setop_generic(ctx, argv, None, 1, SetOp::Union, false)
}

/// `ZINTER numkeys key... [WEIGHTS w...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
fn zinter(ctx: &mut Ctx, argv: &[&[u8]]) {
    setop_generic(ctx, argv, None, 1, SetOp::Inter, false)
}

/// `ZDIFF numkeys key... [WITHSCORES]`: scores come from the first set; no WEIGHTS.
fn zdiff(ctx: &mut Ctx, argv: &[&[u8]]) {
    setop_generic(ctx, argv, None, 1, SetOp::Diff, false)
}

/// `ZINTERCARD numkeys key... [LIMIT n]`: counting stops at `n` (0 = no limit).
fn zintercard(ctx: &mut Ctx, argv: &[&[u8]]) {
    setop_generic(ctx, argv, None, 1, SetOp::Inter, true)
}

/// `ZUNIONSTORE dst numkeys key...`: an empty result deletes `dst`.
fn zunionstore(ctx: &mut Ctx, argv: &[&[u8]]) {
    setop_generic(ctx, argv, Some(argv[1]), 2, SetOp::Union, false)
}

/// `ZINTERSTORE dst numkeys key...`
fn zinterstore(ctx: &mut Ctx, argv: &[&[u8]]) {
    setop_generic(ctx, argv, Some(argv[1]), 2, SetOp::Inter, false)
}

/// `ZDIFFSTORE dst numkeys key...`
fn zdiffstore(ctx: &mut Ctx, argv: &[&[u8]]) {
    setop_generic(ctx, argv, Some(argv[1]), 2, SetOp::Diff, false)
}

// ---------------------------------------------------------------------------------------------
// ZSCAN

/// `ZSCAN key cursor [MATCH pattern] [COUNT n]` (`scanGenericCommand` on a sorted set).
///
/// The cursor is validated before the key is looked up, the options after. A listpack is
/// returned whole with cursor 0, its scores as the listpack stores them (`d2string`:
/// integral scores as plain digits); a skiplist is walked through its dict's cursor, which
/// is why rtool's cursors and order there differ from Redis's (the hash tables differ).
fn zscan(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(cursor) = num::parse_cursor(ctx.out, argv[2]) else {
        return;
    };
    {
        let Ok((z, out)) = zread(ctx, argv[1]) else {
            return;
        };
        if z.is_none() {
            out.array(2);
            out.bulk(b"0");
            out.array(0);
            return;
        }
    }
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < argv.len() {
        let left = argv.len() - i;
        if eq_ic(argv[i], "count") && left >= 2 {
            let Some(c) = parse_long(ctx.out, argv[i + 1]) else {
                return;
            };
            if c < 1 {
                return ctx.out.err(errors::SYNTAX);
            }
            count = c;
            i += 2;
        } else if eq_ic(argv[i], "match") && left >= 2 {
            pattern = Some(argv[i + 1]).filter(|p| *p != b"*");
            i += 2;
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
    }
    let Ok((Some(z), out)) = zread(ctx, argv[1]) else {
        return;
    };
    let mut items: Vec<(Bytes, String)> = Vec::new();
    let next = match z {
        ZSetValue::Listpack(v) => {
            items.extend(
                v.iter()
                    .map(|(m, s)| (m.clone(), crate::keyspace::zset::d2string(*s))),
            );
            0
        }
        ZSetValue::Skiplist(s) => {
            let mut cur = cursor;
            let mut iterations = count * 10;
            loop {
                cur = s.dict.scan(cur, count as usize, |m, sc| {
                    items.push((m.clone(), crate::resp::reply::fmt_double(*sc)))
                });
                iterations -= 1;
                if cur == 0 || iterations <= 0 || items.len() >= count as usize {
                    break;
                }
            }
            cur
        }
    };
    if let Some(p) = pattern {
        items.retain(|(m, _)| crate::glob::matches(p, m, false));
    }
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(items.len() * 2);
    for (m, s) in &items {
        out.bulk(m);
        out.bulk(s.as_bytes());
    }
}
