//! String commands: GET, SET and its options, MGET/MSET, INCR family, APPEND, ranges, bits.
//!
//! Propagation follows Redis 7.0: a relative expiry becomes absolute before it reaches a
//! replica (`SET k v EX 10` travels as `SET k v PXAT <ms>`, `SETEX`/`PSETEX` too, `GETEX EX`
//! as `PEXPIREAT`), because a replica applies the command later than the master did and must
//! still expire the key at the same moment. `INCRBYFLOAT` travels as `SET k <result> KEEPTTL`
//! so floating-point rounding on the replica cannot make it diverge; `GETDEL` as `DEL`.

use super::{Ctx, Handler, arg_i64, eq_ic, errors};
use crate::keyspace::{StrValue, Value};
use bytes::Bytes;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("get", get),
    ("set", set),
    ("setnx", setnx),
    ("setex", setex),
    ("psetex", psetex),
    ("getset", getset),
    ("getdel", getdel),
    ("getex", getex),
    ("mget", mget),
    ("mset", mset),
    ("msetnx", msetnx),
    ("append", append),
    ("strlen", strlen),
    ("incr", incr),
    ("decr", decr),
    ("incrby", incrby),
    ("decrby", decrby),
    ("incrbyfloat", incrbyfloat),
    ("getrange", getrange),
    ("substr", getrange),
    ("setrange", setrange),
    ("setbit", setbit),
    ("getbit", getbit),
    ("bitcount", bitcount),
];

/// The string stored at `key`: Ok(None) if missing, Err(()) (and WRONGTYPE replied) if the
/// key holds another type.
fn get_str(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Bytes>, ()> {
    match ctx.lookup(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.bytes.clone())),
        Some(_) => {
            ctx.wrongtype();
            Err(())
        }
    }
}

fn get(ctx: &mut Ctx, argv: &[&[u8]]) {
    if let Ok(v) = get_str(ctx, argv[1]) {
        match v {
            Some(b) => ctx.out.bulk(&b),
            None => ctx.out.null(),
        }
    }
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// How a SET-like command wants the key's expiry handled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expiry {
    /// Drop any TTL (plain SET).
    Clear,
    /// KEEPTTL
    Keep,
    /// PERSIST (GETEX only)
    Persist,
    /// Absolute Unix ms, and whether the client gave it absolute in ms (PXAT: propagated
    /// as typed).
    At(i64, bool),
}

/// The options of SET (and the subset GETEX takes).
#[derive(Clone, Copy, Debug)]
struct SetOpts {
    nx: bool,
    xx: bool,
    get: bool,
    expiry: Expiry,
}

const PLAIN: SetOpts = SetOpts {
    nx: false,
    xx: false,
    get: false,
    expiry: Expiry::Clear,
};

/// Parse the expiry-related and condition options of SET/GETEX (Redis's
/// `parseExtendedStringArgumentsOrReply`).
fn parse_set_options(
    ctx: &mut Ctx,
    argv: &[&[u8]],
    start: usize,
    cmd: &str,
    getex: bool,
) -> Option<SetOpts> {
    let (mut nx, mut xx, mut get, mut expiry) = (false, false, false, Expiry::Clear);
    let mut have_exp = false;
    let mut i = start;
    while i < argv.len() {
        let a = argv[i];
        let next = argv.get(i + 1).copied();
        if !getex && eq_ic(a, "nx") && !xx {
            nx = true;
        } else if !getex && eq_ic(a, "xx") && !nx {
            xx = true;
        } else if !getex && eq_ic(a, "get") {
            get = true;
        } else if !getex && eq_ic(a, "keepttl") && !have_exp {
            expiry = Expiry::Keep;
            have_exp = true;
        } else if getex && eq_ic(a, "persist") && !have_exp {
            expiry = Expiry::Persist;
            have_exp = true;
        } else if (eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"))
            && !have_exp
            && next.is_some()
        {
            let v = arg_i64(ctx.out, next.unwrap())?;
            let invalid = |ctx: &mut Ctx| {
                ctx.out
                    .err(&format!("invalid expire time in '{cmd}' command"))
            };
            if v <= 0 {
                invalid(ctx);
                return None;
            }
            let seconds = eq_ic(a, "ex") || eq_ic(a, "exat");
            let ms = if seconds {
                match v.checked_mul(1000) {
                    Some(m) => m,
                    None => {
                        invalid(ctx);
                        return None;
                    }
                }
            } else {
                v
            };
            let relative = eq_ic(a, "ex") || eq_ic(a, "px");
            let at = if relative {
                match ms.checked_add(ctx.now_ms()) {
                    Some(t) => t,
                    None => {
                        invalid(ctx);
                        return None;
                    }
                }
            } else {
                ms
            };
            expiry = Expiry::At(at, eq_ic(a, "pxat"));
            have_exp = true;
            i += 1;
        } else {
            ctx.out.err(errors::SYNTAX);
            return None;
        }
        i += 1;
    }
    Some(SetOpts {
        nx,
        xx,
        get,
        expiry,
    })
}

/// SET with all its options; also the engine of SETNX/SETEX/PSETEX. Returns whether the
/// value was stored.
fn set_generic(ctx: &mut Ctx, key: &[u8], val: &[u8], opts: SetOpts, reply_ok: bool) -> bool {
    let SetOpts {
        nx,
        xx,
        get,
        expiry,
    } = opts;
    let old = if get {
        match get_str(ctx, key) {
            Ok(v) => Some(v),
            Err(()) => return false,
        }
    } else {
        None
    };
    let exists = ctx.lookup_mut(key).is_some();
    if (nx && exists) || (xx && !exists) {
        match old {
            Some(Some(v)) => ctx.out.bulk(&v),
            _ => ctx.out.null(),
        }
        return false;
    }
    let value = Value::Str(StrValue::new(Bytes::copy_from_slice(val)));
    match expiry {
        Expiry::Keep => ctx.set_value_keep_ttl(key, value),
        _ => ctx.set_value(key, value),
    }
    if let Expiry::At(at, _) = expiry {
        ctx.db().set_expire(key, at);
    }
    ctx.dirty(1);
    match old {
        Some(Some(v)) => ctx.out.bulk(&v),
        Some(None) => ctx.out.null(),
        None if reply_ok => ctx.out.ok(),
        None => {}
    }
    // A relative or seconds-based expiry is propagated as an absolute PXAT.
    if let Expiry::At(at, false) = expiry {
        ctx.propagate_as(vec![vec![
            b("SET"),
            Bytes::copy_from_slice(key),
            Bytes::copy_from_slice(val),
            b("PXAT"),
            Bytes::from(at.to_string()),
        ]]);
    }
    true
}

fn set(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(opts) = parse_set_options(ctx, argv, 3, "set", false) else {
        return;
    };
    set_generic(ctx, argv[1], argv[2], opts, true);
}

fn setnx(ctx: &mut Ctx, argv: &[&[u8]]) {
    let exists = ctx.lookup_mut(argv[1]).is_some();
    if exists {
        ctx.out.int(0);
        return;
    }
    set_generic(ctx, argv[1], argv[2], PLAIN, false);
    ctx.out.int(1);
}

fn setex_generic(ctx: &mut Ctx, argv: &[&[u8]], unit_ms: i64, cmd: &str) {
    let Some(v) = arg_i64(ctx.out, argv[2]) else {
        return;
    };
    let at = v
        .checked_mul(unit_ms)
        .and_then(|ms| ms.checked_add(ctx.now_ms()));
    match at {
        Some(at) if v > 0 => {
            let opts = SetOpts {
                expiry: Expiry::At(at, false),
                ..PLAIN
            };
            set_generic(ctx, argv[1], argv[3], opts, true);
        }
        _ => ctx
            .out
            .err(&format!("invalid expire time in '{cmd}' command")),
    }
}

fn setex(ctx: &mut Ctx, argv: &[&[u8]]) {
    setex_generic(ctx, argv, 1000, "setex")
}

fn psetex(ctx: &mut Ctx, argv: &[&[u8]]) {
    setex_generic(ctx, argv, 1, "psetex")
}

fn getset(ctx: &mut Ctx, argv: &[&[u8]]) {
    set_generic(ctx, argv[1], argv[2], SetOpts { get: true, ..PLAIN }, false);
}

fn getdel(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Ok(v) = get_str(ctx, argv[1]) else { return };
    match v {
        Some(v) => {
            ctx.out.bulk(&v);
            ctx.delete(argv[1]);
            ctx.dirty(1);
            ctx.propagate_as(vec![vec![b("DEL"), Bytes::copy_from_slice(argv[1])]]);
        }
        None => ctx.out.null(),
    }
}

fn getex(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(SetOpts { expiry, .. }) = parse_set_options(ctx, argv, 2, "getex", true) else {
        return;
    };
    let Ok(v) = get_str(ctx, argv[1]) else { return };
    let Some(v) = v else {
        ctx.out.null();
        return;
    };
    ctx.out.bulk(&v);
    let key = Bytes::copy_from_slice(argv[1]);
    match expiry {
        Expiry::At(at, _) => {
            if at <= ctx.now_ms() {
                // Already in the past: the key goes now, and replicas are told DEL.
                ctx.delete(&key);
                ctx.dirty(1);
                ctx.propagate_as(vec![vec![b("DEL"), key]]);
            } else {
                ctx.db().set_expire(&key, at);
                ctx.touch(&key);
                ctx.dirty(1);
                ctx.propagate_as(vec![vec![b("PEXPIREAT"), key, Bytes::from(at.to_string())]]);
            }
        }
        Expiry::Persist if ctx.db().persist(&key) => {
            ctx.touch(&key);
            ctx.dirty(1);
            ctx.propagate_as(vec![vec![b("PERSIST"), key]]);
        }
        _ => {}
    }
}

fn mget(ctx: &mut Ctx, argv: &[&[u8]]) {
    ctx.out.array(argv.len() - 1);
    for k in &argv[1..] {
        match ctx.lookup(k) {
            Some(Value::Str(s)) => {
                let b = s.bytes.clone();
                ctx.out.bulk(&b);
            }
            _ => ctx.out.null(),
        }
    }
}

fn mset(ctx: &mut Ctx, argv: &[&[u8]]) {
    if argv.len() % 2 != 1 {
        ctx.out.err(&format!(
            "wrong number of arguments for '{}' command",
            String::from_utf8_lossy(argv[0]).to_lowercase()
        ));
        return;
    }
    for pair in argv[1..].chunks(2) {
        ctx.set_value(
            pair[0],
            Value::Str(StrValue::new(Bytes::copy_from_slice(pair[1]))),
        );
    }
    ctx.dirty(((argv.len() - 1) / 2) as u64);
    ctx.out.ok();
}

fn msetnx(ctx: &mut Ctx, argv: &[&[u8]]) {
    if argv.len() % 2 != 1 {
        ctx.out
            .err("wrong number of arguments for 'msetnx' command");
        return;
    }
    for pair in argv[1..].chunks(2) {
        if ctx.lookup_mut(pair[0]).is_some() {
            ctx.out.int(0);
            return;
        }
    }
    for pair in argv[1..].chunks(2) {
        ctx.set_value(
            pair[0],
            Value::Str(StrValue::new(Bytes::copy_from_slice(pair[1]))),
        );
    }
    ctx.dirty(((argv.len() - 1) / 2) as u64);
    ctx.out.int(1);
}

/// The largest string a command may build (`proto-max-bulk-len`, Redis's `checkStringLength`).
fn check_len(ctx: &mut Ctx, total: usize) -> bool {
    if total as i64 > ctx.engine.limits.max_bulk_len {
        ctx.out
            .err("string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }
    true
}

fn append(ctx: &mut Ctx, argv: &[&[u8]]) {
    let (key, add) = (argv[1], argv[2]);
    let len = match ctx.lookup_mut(key) {
        None => {
            // A new key is stored like SET would store it (int/embstr/raw).
            ctx.set_value(key, Value::Str(StrValue::new(Bytes::copy_from_slice(add))));
            add.len()
        }
        Some(Value::Str(s)) => {
            let total = s.bytes.len() + add.len();
            if !check_len(ctx, total) {
                return;
            }
            let Some(Value::Str(s)) = ctx.lookup_mut(key) else {
                return;
            };
            let mut v = Vec::with_capacity(total);
            v.extend_from_slice(&s.bytes);
            v.extend_from_slice(add);
            *s = StrValue::raw(Bytes::from(v));
            ctx.touch(key);
            total
        }
        Some(_) => return ctx.wrongtype(),
    };
    ctx.dirty(1);
    ctx.out.int(len as i64);
}

fn strlen(ctx: &mut Ctx, argv: &[&[u8]]) {
    if let Ok(v) = get_str(ctx, argv[1]) {
        ctx.out.int(v.map(|b| b.len() as i64).unwrap_or(0));
    }
}

/// INCR/DECR/INCRBY/DECRBY: the value must be a 64-bit integer; the result stays `int`
/// encoded and the key keeps its TTL.
fn incr_generic(ctx: &mut Ctx, key: &[u8], by: i64) {
    let cur = match ctx.lookup_mut(key) {
        None => 0,
        Some(Value::Str(s)) => match s.as_i64() {
            Some(n) => n,
            None => return ctx.out.err(errors::NOT_INTEGER),
        },
        Some(_) => return ctx.wrongtype(),
    };
    let Some(new) = cur.checked_add(by) else {
        return ctx.out.err(errors::OVERFLOW);
    };
    ctx.set_value_keep_ttl(key, Value::Str(StrValue::int(new)));
    ctx.dirty(1);
    ctx.out.int(new);
}

fn incr(ctx: &mut Ctx, argv: &[&[u8]]) {
    incr_generic(ctx, argv[1], 1)
}

fn decr(ctx: &mut Ctx, argv: &[&[u8]]) {
    incr_generic(ctx, argv[1], -1)
}

fn incrby(ctx: &mut Ctx, argv: &[&[u8]]) {
    if let Some(n) = arg_i64(ctx.out, argv[2]) {
        incr_generic(ctx, argv[1], n)
    }
}

fn decrby(ctx: &mut Ctx, argv: &[&[u8]]) {
    if let Some(n) = arg_i64(ctx.out, argv[2]) {
        if n == i64::MIN {
            return ctx.out.err("decrement would overflow");
        }
        incr_generic(ctx, argv[1], -n)
    }
}

fn incrbyfloat(ctx: &mut Ctx, argv: &[&[u8]]) {
    let key = argv[1];
    let cur = match ctx.lookup_mut(key) {
        None => Bytes::from_static(b"0"),
        Some(Value::Str(s)) => s.bytes.clone(),
        Some(_) => return ctx.wrongtype(),
    };
    let result = match crate::ld80::incrbyfloat(&cur, argv[2]) {
        Ok(r) => r,
        Err(e) => return ctx.out.err(e),
    };
    let v = Bytes::from(result);
    ctx.set_value_keep_ttl(key, Value::Str(StrValue::plain(v.clone())));
    ctx.dirty(1);
    ctx.out.bulk(&v);
    ctx.propagate_as(vec![vec![
        b("SET"),
        Bytes::copy_from_slice(key),
        v,
        b("KEEPTTL"),
    ]]);
}

fn getrange(ctx: &mut Ctx, argv: &[&[u8]]) {
    let (Some(mut start), Some(mut end)) = (
        crate::resp::request::parse_i64(argv[2]),
        crate::resp::request::parse_i64(argv[3]),
    ) else {
        return ctx.out.err(errors::NOT_INTEGER);
    };
    let Ok(v) = get_str(ctx, argv[1]) else { return };
    let s = v.unwrap_or_default();
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return ctx.out.bulk(b"");
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return ctx.out.bulk(b"");
    }
    ctx.out.bulk(&s[start as usize..=end as usize]);
}

fn setrange(ctx: &mut Ctx, argv: &[&[u8]]) {
    let (key, val) = (argv[1], argv[3]);
    let Some(offset) = arg_i64(ctx.out, argv[2]) else {
        return;
    };
    if offset < 0 {
        return ctx.out.err("offset is out of range");
    }
    let cur = match ctx.lookup_mut(key) {
        None => None,
        Some(Value::Str(s)) => Some(s.bytes.clone()),
        Some(_) => return ctx.wrongtype(),
    };
    let cur_len = cur.as_ref().map(|c| c.len()).unwrap_or(0);
    if val.is_empty() {
        // Nothing to write: the length is reported, nothing is created or changed.
        return ctx.out.int(cur_len as i64);
    }
    let total = (offset as usize).saturating_add(val.len());
    if !check_len(ctx, total) {
        return;
    }
    let mut buf = cur.map(|c| c.to_vec()).unwrap_or_default();
    if buf.len() < total {
        buf.resize(total, 0);
    }
    buf[offset as usize..total].copy_from_slice(val);
    let n = buf.len();
    ctx.set_value_keep_ttl(key, Value::Str(StrValue::raw(Bytes::from(buf))));
    ctx.dirty(1);
    ctx.out.int(n as i64);
}

/// Parse a bit offset (Redis's `getBitOffsetFromArgument`, bits up to 512 MB * 8).
fn bit_offset(ctx: &mut Ctx, a: &[u8]) -> Option<u64> {
    match crate::resp::request::parse_i64(a) {
        Some(n) if n >= 0 && (n as u64) < (ctx.engine.limits.max_bulk_len as u64) * 8 => {
            Some(n as u64)
        }
        _ => {
            ctx.out.err("bit offset is not an integer or out of range");
            None
        }
    }
}

fn setbit(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(off) = bit_offset(ctx, argv[2]) else {
        return;
    };
    let on = match argv[3] {
        b"1" => true,
        b"0" => false,
        _ => return ctx.out.err("bit is not an integer or out of range"),
    };
    let cur = match ctx.lookup_mut(argv[1]) {
        None => Vec::new(),
        Some(Value::Str(s)) => s.bytes.to_vec(),
        Some(_) => return ctx.wrongtype(),
    };
    let byte = (off >> 3) as usize;
    let mut buf = cur;
    if buf.len() <= byte {
        buf.resize(byte + 1, 0);
    }
    let mask = 1u8 << (7 - (off & 7));
    let old = buf[byte] & mask != 0;
    if on {
        buf[byte] |= mask;
    } else {
        buf[byte] &= !mask;
    }
    ctx.set_value_keep_ttl(argv[1], Value::Str(StrValue::raw(Bytes::from(buf))));
    ctx.dirty(1);
    ctx.out.int(old as i64);
}

fn getbit(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(off) = bit_offset(ctx, argv[2]) else {
        return;
    };
    let Ok(v) = get_str(ctx, argv[1]) else { return };
    let s = v.unwrap_or_default();
    let byte = (off >> 3) as usize;
    let bit = s
        .get(byte)
        .map(|b| b & (1 << (7 - (off & 7))) != 0)
        .unwrap_or(false);
    ctx.out.int(bit as i64);
}

fn bitcount(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut range = None;
    let mut bit_unit = false;
    if argv.len() == 4 || argv.len() == 5 {
        let (Some(s), Some(e)) = (
            crate::resp::request::parse_i64(argv[2]),
            crate::resp::request::parse_i64(argv[3]),
        ) else {
            return ctx.out.err(errors::NOT_INTEGER);
        };
        if argv.len() == 5 {
            if eq_ic(argv[4], "bit") {
                bit_unit = true;
            } else if !eq_ic(argv[4], "byte") {
                return ctx.out.err(errors::SYNTAX);
            }
        }
        range = Some((s, e));
    } else if argv.len() != 2 {
        return ctx.out.err(errors::SYNTAX);
    }
    let Ok(v) = get_str(ctx, argv[1]) else { return };
    let s = v.unwrap_or_default();
    let Some((mut start, mut end)) = range else {
        return ctx.out.int(s.iter().map(|b| b.count_ones() as i64).sum());
    };
    let total = if bit_unit {
        s.len() as i64 * 8
    } else {
        s.len() as i64
    };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0).min(total - 1);
    if start > end || total == 0 {
        return ctx.out.int(0);
    }
    let n: i64 = if bit_unit {
        (start..=end)
            .filter(|&i| s[(i >> 3) as usize] & (1 << (7 - (i & 7))) != 0)
            .count() as i64
    } else {
        s[start as usize..=end as usize]
            .iter()
            .map(|b| b.count_ones() as i64)
            .sum()
    };
    ctx.out.int(n);
}
