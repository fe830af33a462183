//! Keyspace commands: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RENAME, RENAMENX, RANDOMKEY,
//! MOVE, COPY, TOUCH, OBJECT, and the expiry family (EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with
//! NX/XX/GT/LT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST).
//!
//! Every expiry reaches replicas as an absolute `PEXPIREAT` (Redis 7.0 rewrites EXPIRE,
//! PEXPIRE and EXPIREAT so), and an expiry already in the past deletes the key at once and
//! propagates `DEL`.

use super::{Ctx, Handler, arg_i64, eq_ic, errors};
use crate::keyspace::Value;
use bytes::Bytes;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("del", del),
    ("unlink", del),
    ("exists", exists),
    ("type", type_cmd),
    ("keys", keys),
    ("scan", scan),
    ("rename", rename),
    ("renamenx", renamenx),
    ("randomkey", randomkey),
    ("move", move_cmd),
    ("copy", copy),
    ("touch", touch),
    ("object", object),
    ("expire", expire),
    ("pexpire", pexpire),
    ("expireat", expireat),
    ("pexpireat", pexpireat),
    ("ttl", ttl),
    ("pttl", pttl),
    ("expiretime", expiretime),
    ("pexpiretime", pexpiretime),
    ("persist", persist),
];

fn del(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut n = 0;
    for k in &argv[1..] {
        ctx.expire_if_needed(k);
        if ctx.delete(k) {
            n += 1;
        }
    }
    ctx.dirty(n);
    ctx.out.int(n as i64);
}

fn exists(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut n = 0;
    for k in &argv[1..] {
        if ctx.lookup(k).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
}

fn touch(ctx: &mut Ctx, argv: &[&[u8]]) {
    exists(ctx, argv)
}

fn type_cmd(ctx: &mut Ctx, argv: &[&[u8]]) {
    let t = ctx.lookup(argv[1]).map(|v| v.type_name()).unwrap_or("none");
    ctx.out.simple(t);
}

fn keys(ctx: &mut Ctx, argv: &[&[u8]]) {
    let pat = argv[1];
    let now = ctx.now_ms();
    let db = ctx.db();
    let all = pat == b"*";
    // Expired keys are skipped, not deleted (Redis's KEYS only checks `keyIsExpired`).
    let found: Vec<Bytes> = db
        .dict
        .keys()
        .filter(|k| all || crate::glob::matches(pat, k, false))
        .filter(|k| !db.is_expired(k, now))
        .cloned()
        .collect();
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(&k);
    }
}

/// Parse a SCAN cursor: an unsigned 64-bit decimal.
pub fn parse_cursor(ctx: &mut Ctx, a: &[u8]) -> Option<u64> {
    match std::str::from_utf8(a)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(c) if !a.starts_with(b"+") => Some(c),
        _ => {
            ctx.out.err("invalid cursor");
            None
        }
    }
}

fn scan(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(cursor) = parse_cursor(ctx, argv[1]) else {
        return;
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut typ: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < argv.len() {
        let more = i + 1 < argv.len();
        if eq_ic(argv[i], "count") && more {
            let Some(c) = arg_i64(ctx.out, argv[i + 1]) else {
                return;
            };
            if c < 1 {
                return ctx.out.err(errors::SYNTAX);
            }
            count = c as usize;
        } else if eq_ic(argv[i], "match") && more {
            pattern = Some(argv[i + 1]);
        } else if eq_ic(argv[i], "type") && more {
            typ = Some(argv[i + 1].to_ascii_lowercase());
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
        i += 2;
    }
    let mut found = Vec::new();
    let next = {
        let db = ctx.db();
        let mut c = cursor;
        // Like Redis, keep stepping while the batch is small, but bound the work per call.
        let mut steps = 0;
        loop {
            c = db.dict.scan(c, count, |k, v| {
                let type_ok = typ
                    .as_ref()
                    .is_none_or(|t| v.type_name().as_bytes() == t.as_slice());
                if type_ok && pattern.is_none_or(|p| crate::glob::matches(p, k, false)) {
                    found.push(k.clone());
                }
            });
            steps += 1;
            if c == 0 || found.len() >= count || steps >= count * 10 {
                break;
            }
        }
        c
    };
    // Keys found expired are deleted now (Redis's scan calls expireIfNeeded on each).
    found.retain(|k| !ctx.expire_if_needed(k));
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(&k);
    }
}

/// RENAME/RENAMENX: move the value and its TTL to a new name.
fn rename_generic(ctx: &mut Ctx, argv: &[&[u8]], nx: bool) {
    let (src, dst) = (argv[1], argv[2]);
    if ctx.lookup_mut(src).is_none() {
        return ctx.out.err(errors::NO_SUCH_KEY);
    }
    if src == dst {
        return if nx { ctx.out.int(0) } else { ctx.out.ok() };
    }
    if nx && ctx.lookup_mut(dst).is_some() {
        return ctx.out.int(0);
    }
    let ttl = ctx.db().expire_of(src);
    let v = ctx.db().remove(src).unwrap();
    ctx.touch(src);
    ctx.set_value(dst, v);
    if let Some(t) = ttl {
        ctx.db().set_expire(dst, t);
    }
    ctx.dirty(1);
    ctx.key_ready(dst);
    if nx { ctx.out.int(1) } else { ctx.out.ok() }
}

fn rename(ctx: &mut Ctx, argv: &[&[u8]]) {
    rename_generic(ctx, argv, false)
}

fn renamenx(ctx: &mut Ctx, argv: &[&[u8]]) {
    rename_generic(ctx, argv, true)
}

fn randomkey(ctx: &mut Ctx, _argv: &[&[u8]]) {
    // Try a bounded number of samples so a db full of expired keys cannot loop forever.
    for _ in 0..100 {
        let r = ctx.engine.random();
        let key = match ctx.db().dict.random(r) {
            Some((k, _)) => k.clone(),
            None => return ctx.out.null(),
        };
        if !ctx.expire_if_needed(&key) {
            return ctx.out.bulk(&key);
        }
    }
    ctx.out.null();
}

fn parse_db(ctx: &mut Ctx, a: &[u8]) -> Option<usize> {
    match crate::resp::request::parse_i64(a).filter(|v| i32::try_from(*v).is_ok()) {
        None => {
            ctx.out.err(errors::NOT_INTEGER);
            None
        }
        Some(n) if n < 0 || n as usize >= ctx.engine.keyspace.dbs.len() => {
            ctx.out.err(errors::DB_INDEX);
            None
        }
        Some(n) => Some(n as usize),
    }
}

fn move_cmd(ctx: &mut Ctx, argv: &[&[u8]]) {
    let key = argv[1];
    let Some(dst) = parse_db(ctx, argv[2]) else {
        return;
    };
    let src = ctx.client.db;
    if dst == src {
        return ctx.out.err("source and destination objects are the same");
    }
    if ctx.lookup_mut(key).is_none() {
        return ctx.out.int(0);
    }
    if ctx.engine.expire_if_needed(dst, key) || ctx.engine.keyspace.dbs[dst].dict.contains_key(key)
    {
        return ctx.out.int(0);
    }
    let ttl = ctx.db().expire_of(key);
    let v = ctx.db().remove(key).unwrap();
    ctx.touch(key);
    let k = Bytes::copy_from_slice(key);
    ctx.engine.keyspace.dbs[dst].set(k, v);
    if let Some(t) = ttl {
        ctx.engine.keyspace.dbs[dst].set_expire(key, t);
    }
    ctx.engine.touch_key(dst, key);
    ctx.engine.signal_ready(dst, key);
    ctx.dirty(1);
    ctx.out.int(1);
}

fn copy(ctx: &mut Ctx, argv: &[&[u8]]) {
    let (src, dst) = (argv[1], argv[2]);
    let mut target_db = ctx.client.db;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if eq_ic(argv[i], "replace") {
            replace = true;
        } else if eq_ic(argv[i], "db") && i + 1 < argv.len() {
            let Some(d) = parse_db(ctx, argv[i + 1]) else {
                return;
            };
            target_db = d;
            i += 1;
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
        i += 1;
    }
    if src == dst && target_db == ctx.client.db {
        return ctx.out.err("source and destination objects are the same");
    }
    let Some(v) = ctx.lookup_mut(src).cloned() else {
        return ctx.out.int(0);
    };
    let ttl = ctx.db().expire_of(src);
    ctx.engine.expire_if_needed(target_db, dst);
    let exists = ctx.engine.keyspace.dbs[target_db].dict.contains_key(dst);
    if exists && !replace {
        return ctx.out.int(0);
    }
    let k = Bytes::copy_from_slice(dst);
    ctx.engine.keyspace.dbs[target_db].set(k, v);
    if let Some(t) = ttl {
        ctx.engine.keyspace.dbs[target_db].set_expire(dst, t);
    }
    ctx.engine.touch_key(target_db, dst);
    ctx.engine.signal_ready(target_db, dst);
    ctx.dirty(1);
    ctx.out.int(1);
}

fn object(ctx: &mut Ctx, argv: &[&[u8]]) {
    let sub = argv[1].to_ascii_lowercase();
    if sub == b"help" {
        return super::server::help_reply(
            ctx,
            "OBJECT",
            &[
                "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>",
                "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.",
                "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified",
                "    <key>.",
            ],
        );
    }
    let key = argv[2];
    let Some(v) = ctx.lookup_mut(key) else {
        return ctx.out.null();
    };
    match sub.as_slice() {
        b"encoding" => {
            let e = v.encoding();
            ctx.out.bulk(e.as_bytes());
        }
        b"refcount" => {
            // Redis shares the integers 0..9999 (OBJ_SHARED_REFCOUNT = INT_MAX).
            let shared = matches!(v, Value::Str(s) if s.enc == crate::keyspace::string::StrEncoding::Int
                && s.as_i64().is_some_and(|n| (0..10000).contains(&n)));
            ctx.out.int(if shared { i32::MAX as i64 } else { 1 });
        }
        b"idletime" => {
            if ctx
                .engine
                .config
                .get_str("maxmemory-policy")
                .contains("lfu")
            {
                return ctx.out.err("An LRU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
            }
            ctx.out.int(0)
        }
        b"freq" => {
            if !ctx
                .engine
                .config
                .get_str("maxmemory-policy")
                .contains("lfu")
            {
                return ctx.out.err("An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
            }
            ctx.out.int(0)
        }
        _ => ctx.out.err(errors::SYNTAX),
    }
}

/// Which expiry condition the client asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cond {
    None,
    Nx,
    Xx,
    Gt,
    Lt,
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (Redis's `expireGenericCommand`): `base` is now for
/// the relative forms and 0 for the absolute ones; `unit_ms` is 1000 for seconds.
fn expire_generic(ctx: &mut Ctx, argv: &[&[u8]], base: i64, unit_ms: i64) {
    let key = argv[1];
    let cmd = String::from_utf8_lossy(argv[0]).to_lowercase();
    let Some(v) = arg_i64(ctx.out, argv[2]) else {
        return;
    };
    let mut cond = Cond::None;
    for a in &argv[3..] {
        let c = if eq_ic(a, "nx") {
            Cond::Nx
        } else if eq_ic(a, "xx") {
            Cond::Xx
        } else if eq_ic(a, "gt") {
            Cond::Gt
        } else if eq_ic(a, "lt") {
            Cond::Lt
        } else {
            return ctx.out.err(&format!(
                "Unsupported option {}",
                String::from_utf8_lossy(a)
            ));
        };
        if cond != Cond::None && cond != c {
            let msg = if matches!((cond, c), (Cond::Gt, Cond::Lt) | (Cond::Lt, Cond::Gt)) {
                "GT and LT options at the same time are not compatible"
            } else {
                "NX and XX, GT or LT options at the same time are not compatible"
            };
            return ctx.out.err(msg);
        }
        cond = c;
    }
    let when = v.checked_mul(unit_ms).and_then(|ms| ms.checked_add(base));
    let Some(when) = when else {
        return ctx
            .out
            .err(&format!("invalid expire time in '{cmd}' command"));
    };
    if ctx.lookup_mut(key).is_none() {
        return ctx.out.int(0);
    }
    let cur = ctx.db().expire_of(key);
    let ok = match cond {
        Cond::None => true,
        Cond::Nx => cur.is_none(),
        Cond::Xx => cur.is_some(),
        // No TTL counts as an infinite one.
        Cond::Gt => cur.is_some_and(|c| when > c),
        Cond::Lt => cur.is_none_or(|c| when < c),
    };
    if !ok {
        return ctx.out.int(0);
    }
    let k = Bytes::copy_from_slice(key);
    if when <= ctx.now_ms() {
        ctx.delete(key);
        ctx.dirty(1);
        ctx.propagate_as(vec![vec![Bytes::from_static(b"DEL"), k]]);
        return ctx.out.int(1);
    }
    ctx.db().set_expire(key, when);
    ctx.touch(key);
    ctx.dirty(1);
    // Propagated as PEXPIREAT with the absolute time, options kept.
    let mut p = vec![
        Bytes::from_static(b"PEXPIREAT"),
        k,
        Bytes::from(when.to_string()),
    ];
    p.extend(argv[3..].iter().map(|a| Bytes::copy_from_slice(a)));
    if eq_ic(argv[0], "pexpireat") {
        p = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    }
    ctx.propagate_as(vec![p]);
    ctx.out.int(1);
}

fn expire(ctx: &mut Ctx, argv: &[&[u8]]) {
    let now = ctx.now_ms();
    expire_generic(ctx, argv, now, 1000)
}

fn pexpire(ctx: &mut Ctx, argv: &[&[u8]]) {
    let now = ctx.now_ms();
    expire_generic(ctx, argv, now, 1)
}

fn expireat(ctx: &mut Ctx, argv: &[&[u8]]) {
    expire_generic(ctx, argv, 0, 1000)
}

fn pexpireat(ctx: &mut Ctx, argv: &[&[u8]]) {
    expire_generic(ctx, argv, 0, 1)
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for a missing key, -1 without a TTL.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], ms: bool, absolute: bool) {
    if ctx.lookup(key).is_none() {
        return ctx.out.int(-2);
    }
    let Some(t) = ctx.db().expire_of(key) else {
        return ctx.out.int(-1);
    };
    let v = if absolute {
        if ms { t } else { t / 1000 }
    } else {
        let left = (t - ctx.now_ms()).max(0);
        if ms { left } else { (left + 500) / 1000 }
    };
    ctx.out.int(v);
}

fn ttl(ctx: &mut Ctx, argv: &[&[u8]]) {
    ttl_generic(ctx, argv[1], false, false)
}

fn pttl(ctx: &mut Ctx, argv: &[&[u8]]) {
    ttl_generic(ctx, argv[1], true, false)
}

fn expiretime(ctx: &mut Ctx, argv: &[&[u8]]) {
    ttl_generic(ctx, argv[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx, argv: &[&[u8]]) {
    ttl_generic(ctx, argv[1], true, true)
}

fn persist(ctx: &mut Ctx, argv: &[&[u8]]) {
    if ctx.lookup_mut(argv[1]).is_none() {
        return ctx.out.int(0);
    }
    if ctx.db().persist(argv[1]) {
        ctx.touch(argv[1]);
        ctx.dirty(1);
        ctx.out.int(1);
    } else {
        ctx.out.int(0);
    }
}
