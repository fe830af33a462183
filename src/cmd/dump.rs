//! DUMP and RESTORE: one value in RDB form, carried between servers by a client.
//!
//! DUMP's payload is the value exactly as an RDB file stores it (type byte, then the value),
//! followed by the RDB version and a CRC-64 of everything before it, so RESTORE can refuse a
//! payload from a newer server or one damaged on the way. Both directions reuse the RDB code:
//! [`crate::rdb::writer::dump_payload`] writes it, [`crate::rdb::load::restore_value`] reads it
//! with the same reader and loader that load `dump.rdb`.
//!
//! RESTORE with a relative TTL reaches replicas with the TTL made absolute and `ABSTTL`
//! appended (Redis's rewrite), so a replica applying it later gets the same expiry time.

use super::{Ctx, Handler, arg_i64, eq_ic, errors};
use crate::keyspace::Value;
use crate::rdb::load::restore_value;
use crate::rdb::writer::{WriteOptions, dump_payload};
use bytes::Bytes;

pub const HANDLERS: &[(&str, Handler)] = &[("dump", dump), ("restore", restore)];

/// `shared.busykeyerr`.
const BUSYKEY: &str = "-BUSYKEY Target key name already exists.";

/// DUMP key: the payload, or nil when the key does not exist.
fn dump(ctx: &mut Ctx, argv: &[&[u8]]) {
    // The same options a save would use: `rdbcompression` and the list node size change
    // the bytes.
    let opts = WriteOptions::from_config(&ctx.engine.config);
    let payload = match ctx.lookup(argv[1]) {
        Some(v) => dump_payload(v, &opts),
        None => return ctx.out.null(),
    };
    ctx.out.bulk(&payload);
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
///
/// The checks come in Redis's order: options, then "does the key exist", then the TTL, then
/// the payload's footer, then its contents.
fn restore(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut replace = false;
    let mut absttl = false;
    let mut lru_idle: Option<i64> = None;
    let mut lfu_freq: Option<i64> = None;
    let mut j = 4;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if eq_ic(argv[j], "replace") {
            replace = true;
        } else if eq_ic(argv[j], "absttl") {
            absttl = true;
        } else if eq_ic(argv[j], "idletime") && more && lfu_freq.is_none() {
            // IDLETIME and FREQ exclude each other: the second one is a syntax error.
            let Some(v) = arg_i64(ctx.out, argv[j + 1]) else {
                return;
            };
            if v < 0 {
                return ctx.out.err("Invalid IDLETIME value, must be >= 0");
            }
            lru_idle = Some(v);
            j += 1;
        } else if eq_ic(argv[j], "freq") && more && lru_idle.is_none() {
            let Some(v) = arg_i64(ctx.out, argv[j + 1]) else {
                return;
            };
            if !(0..=255).contains(&v) {
                return ctx.out.err("Invalid FREQ value, must be >= 0 and <= 255");
            }
            lfu_freq = Some(v);
            j += 1;
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
        j += 1;
    }
    // rtool keeps no LRU clock or LFU counter: the hints are validated and dropped.
    let _ = (lru_idle, lfu_freq);

    let key = argv[1];
    if !replace && ctx.lookup_mut(key).is_some() {
        return ctx.out.err(BUSYKEY);
    }
    let Some(mut ttl) = arg_i64(ctx.out, argv[2]) else {
        return;
    };
    if ttl < 0 {
        return ctx.out.err("Invalid TTL value, must be >= 0");
    }
    let value = match restore_value(argv[3], &ctx.engine.thresholds) {
        Ok(v) => v,
        Err(e) => return ctx.out.err(e.message()),
    };

    let deleted = replace && ctx.delete(key);
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(ctx.now_ms());
    }
    // `checkAlreadyExpired`: a replica keeps the key and waits for its master's DEL.
    if ttl != 0 && ttl <= ctx.now_ms() && !ctx.engine.is_replica {
        if deleted {
            ctx.propagate_as(vec![vec![
                Bytes::from_static(b"DEL"),
                Bytes::copy_from_slice(key),
            ]]);
            ctx.dirty(1);
        }
        return ctx.out.ok();
    }

    let wakes = matches!(value, Value::List(_) | Value::ZSet(_) | Value::Stream(_));
    ctx.set_value(key, value);
    if ttl != 0 {
        ctx.db().set_expire(key, ttl);
        if !absttl {
            // Replicas get the absolute time: the argv with the TTL replaced and ABSTTL added.
            let mut cmd: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
            cmd[2] = Bytes::from(ttl.to_string());
            cmd.push(Bytes::from_static(b"ABSTTL"));
            ctx.propagate_as(vec![cmd]);
        }
    }
    if wakes {
        ctx.key_ready(key);
    }
    ctx.dirty(1);
    ctx.out.ok();
}
