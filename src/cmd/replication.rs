//! The master's side of the replication handshake: REPLCONF, PSYNC, SYNC, and ROLE.
//!
//! A replica connects like any client, says who it is with REPLCONF (`listening-port`,
//! `ip-address`, `capa eof`, `capa psync2`), then asks `PSYNC <replid> <offset>`. From that
//! moment the connection is no longer a client: the handler marks it as a replica and the
//! connection task turns into a replica link (`net::replica_link`), which sends the snapshot
//! if a full resync is needed and then the command stream. See the book's handshake and PSYNC
//! chapters for the bytes.

use super::{Ctx, Handler, eq_ic, errors};
use crate::log;
use crate::repl::master::{PsyncDecision, ReplicaInfo, ReplicaState, decide_psync};

pub const HANDLERS: &[(&str, Handler)] = &[
    ("replconf", replconf),
    ("psync", psync),
    ("sync", sync),
    ("role", role),
    ("wait", wait),
    ("replicaof", replicaof),
    ("slaveof", replicaof),
];

/// REPLICAOF host port / REPLICAOF NO ONE (and its old name SLAVEOF).
fn replicaof(ctx: &mut Ctx, argv: &[&[u8]]) {
    let who = ctx
        .engine
        .clients
        .get(&ctx.client.id)
        .map(|c| format!("id={} addr={}", c.id, c.addr))
        .unwrap_or_default();
    if eq_ic(argv[1], "no") && eq_ic(argv[2], "one") {
        if ctx.engine.master.take().is_some() {
            promote(ctx.engine);
            log::notice(&format!("MASTER MODE enabled (user request from '{who}')"));
        }
        return ctx.out.ok();
    }
    let Some(port) = crate::resp::request::parse_i64(argv[2]).filter(|p| (0..=65535).contains(p))
    else {
        return ctx.out.err("Invalid master port");
    };
    let host = String::from_utf8_lossy(argv[1]).into_owned();
    if let Some(m) = &ctx.engine.master
        && m.host.eq_ignore_ascii_case(&host)
        && m.port as i64 == port
    {
        log::notice(
            "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.",
        );
        return ctx.out.simple("OK Already connected to specified master");
    }
    become_replica(ctx.engine, host.clone(), port as u16, false);
    log::notice(&format!(
        "REPLICAOF {host}:{port} enabled (user request from '{who}')"
    ));
    ctx.out.ok();
}

/// Start replicating `host:port` (Redis's `replicationSetMaster`): replicas of ours are
/// disconnected (they must learn of the change), and the link task is asked for.
pub fn become_replica(engine: &mut super::Engine, host: String, port: u16, from_scratch: bool) {
    let generation = engine
        .master
        .as_ref()
        .map(|m| m.generation + 1)
        .unwrap_or(1);
    engine.master = Some(crate::repl::replica::MasterLink {
        host: host.clone(),
        port,
        generation,
        state: crate::repl::replica::ReplState::Connect,
        last_io_ms: engine.now_ms,
        down_since_ms: engine.now_ms,
        sync_read: 0,
        sync_size: -1,
        from_scratch,
        kill: false,
    });
    engine.is_replica = true;
    log::set_role('S');
    let ids: Vec<u64> = engine.replicas.keys().copied().collect();
    for id in ids {
        crate::persist::close_replica(engine, id);
    }
    log::notice(&format!("Connecting to MASTER {host}:{port}"));
    engine
        .requests
        .push(super::engine::Request::ConnectMaster { generation });
}

/// REPLICAOF NO ONE: a new history starts here; the master's ID becomes our secondary ID so
/// our former siblings can still PSYNC (Redis's `replicationUnsetMaster`).
fn promote(engine: &mut super::Engine) {
    engine.is_replica = false;
    log::set_role('M');
    let new_id = super::engine::random_hex40();
    engine.repl.shift_replid(&new_id);
    // The next write starts with a SELECT whatever the old master's stream was in (Redis
    // resets `slaveseldb` when the replica becomes a master).
    engine.repl.reset_db();
    log::warning(&format!(
        "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
        engine.repl.replid2, engine.repl.second_repl_offset, engine.repl.replid
    ));
    let ids: Vec<u64> = engine.replicas.keys().copied().collect();
    for id in ids {
        crate::persist::close_replica(engine, id);
    }
}

/// WAIT numreplicas timeout: block until that many replicas acknowledged this client's last
/// write (or the timeout in ms passes; 0 waits forever), then reply how many did. Blocking
/// makes the master send `REPLCONF GETACK *` to its replicas so they answer at once.
fn wait(ctx: &mut Ctx, argv: &[&[u8]]) {
    if ctx.engine.is_replica {
        return ctx.out.err("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let Some(want) = super::arg_i64(ctx.out, argv[1]) else {
        return;
    };
    let Some(timeout) = crate::resp::request::parse_i64(argv[2]) else {
        return ctx.out.err("timeout is not an integer or out of range");
    };
    if timeout < 0 {
        return ctx.out.err("timeout is negative");
    }
    let off = ctx.client.woff;
    let acked = ctx.engine.replicas_acked(off);
    if acked as i64 >= want || ctx.engine.in_exec {
        return ctx.out.int(acked as i64);
    }
    let deadline = if timeout > 0 {
        Some(ctx.engine.now_ms + timeout)
    } else {
        None
    };
    ctx.engine
        .waiting_acks
        .push((ctx.client.id, off, want.max(0) as usize));
    ctx.engine.get_ack = true;
    ctx.block = Some((Vec::new(), deadline));
}

fn replconf(ctx: &mut Ctx, argv: &[&[u8]]) {
    if argv.len().is_multiple_of(2) {
        return ctx.out.err(errors::SYNTAX);
    }
    let mut i = 1;
    while i + 1 < argv.len() {
        let (opt, val) = (argv[i], argv[i + 1]);
        if eq_ic(opt, "listening-port") {
            match crate::resp::request::parse_i64(val).and_then(|p| u16::try_from(p).ok()) {
                Some(p) => ctx.client.repl_listening_port = p,
                None => return ctx.out.err(errors::NOT_INTEGER),
            }
        } else if eq_ic(opt, "ip-address") {
            ctx.client.repl_ip = Some(String::from_utf8_lossy(val).into_owned());
        } else if eq_ic(opt, "capa") {
            if eq_ic(val, "eof") {
                ctx.client.repl_capa_eof = true;
            } else if eq_ic(val, "psync2") {
                ctx.client.repl_capa_psync2 = true;
            }
        } else if eq_ic(opt, "ack") || eq_ic(opt, "fack") {
            // An ACK on a link is read by the link itself; here (a replica that has not
            // PSYNCed yet) it is ignored, and like Redis never answered.
            if let Some(r) = ctx.engine.replicas.get_mut(&ctx.client.id)
                && let Some(off) = crate::resp::request::parse_i64(val)
            {
                r.ack_offset = r.ack_offset.max(off.max(0) as u64);
                r.ack_time_ms = ctx.engine.now_ms;
            }
            return;
        } else if eq_ic(opt, "getack") {
            // Only meaningful from a master to its replica; a master ignores it.
            return;
        } else if eq_ic(opt, "rdb-only") {
        } else if eq_ic(opt, "rdb-filter-only") {
            // An "include" list: everything is left out but what it names, and the only name
            // Redis 7.0 knows is `functions` ("" asks for an RDB with neither).
            let Ok(filters) = crate::resp::split::split_args(val) else {
                return ctx.out.err("Missing rdb-filter-only values");
            };
            if let Some(f) = filters.iter().find(|f| !eq_ic(f, "functions")) {
                return ctx.out.err(&format!(
                    "Unsupported rdb-filter-only option: {}",
                    String::from_utf8_lossy(f)
                ));
            }
            ctx.client.repl_exclude_data = true;
        } else {
            return ctx.out.err(&format!(
                "Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            ));
        }
        i += 2;
    }
    ctx.out.ok();
}

/// The peer's IP as the master sees it, unless the replica announced another.
fn replica_ip(ctx: &Ctx) -> String {
    if let Some(ip) = &ctx.client.repl_ip {
        return ip.clone();
    }
    ctx.engine
        .clients
        .get(&ctx.client.id)
        .and_then(|c| c.addr.parse::<std::net::SocketAddr>().ok())
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "?".into())
}

fn psync(ctx: &mut Ctx, argv: &[&[u8]]) {
    start_sync(
        ctx,
        Some((String::from_utf8_lossy(argv[1]).into_owned(), argv[2])),
    );
}

/// SYNC: the pre-PSYNC protocol, always a full resync and no `+FULLRESYNC` line.
fn sync(ctx: &mut Ctx, _argv: &[&[u8]]) {
    start_sync(ctx, None);
}

fn start_sync(ctx: &mut Ctx, psync: Option<(String, &[u8])>) {
    if ctx.client.is_replica {
        return;
    }
    // A replica can feed replicas of its own (a chain), but only while its own master link
    // is up: it has nothing consistent to offer otherwise.
    let link_up = ctx
        .engine
        .master
        .as_ref()
        .is_none_or(|m| m.state == crate::repl::replica::ReplState::Connected);
    if !link_up {
        return ctx
            .out
            .err("-NOMASTERLINK Can't SYNC while not connected with my master");
    }
    // A filtered snapshot is only ever streamed over the socket, which needs `$EOF:` framing.
    if ctx.client.repl_exclude_data && !ctx.client.repl_capa_eof {
        return ctx.out.err("Filtered replica requires EOF capability");
    }
    let ip = replica_ip(ctx);
    let mut info = ReplicaInfo {
        client_id: ctx.client.id,
        ip,
        listening_port: ctx.client.repl_listening_port,
        capa_eof: ctx.client.repl_capa_eof,
        capa_psync2: ctx.client.repl_capa_psync2,
        state: ReplicaState::WaitBgsaveStart,
        cursor: 0,
        ack_offset: 0,
        ack_time_ms: ctx.engine.now_ms,
        sync_offset: 0,
        legacy_sync: psync.is_none(),
        wait_since_ms: ctx.engine.now_ms,
        diskless: false,
        stream_on_ack: false,
        obuf_soft_since_ms: 0,
        exclude_data: ctx.client.repl_exclude_data,
    };
    let name = info.name();
    log::notice(&format!("Replica {name} asks for synchronization"));
    let size = ctx
        .engine
        .config
        .get_i64("repl-backlog-size")
        .max(16 * 1024) as usize;
    if let Some((id, off)) = &psync {
        let off = crate::resp::request::parse_i64(off).unwrap_or(-1);
        match decide_psync(&ctx.engine.repl, id, off, &name) {
            PsyncDecision::Continue { from } => {
                let reply = if info.capa_psync2 {
                    format!("+CONTINUE {}\r\n", ctx.engine.repl.replid)
                } else {
                    "+CONTINUE\r\n".into()
                };
                ctx.out.raw(reply.as_bytes());
                info.state = ReplicaState::Online;
                info.cursor = from;
                ctx.engine.stats.sync_partial_ok += 1;
                let end = ctx.engine.repl.offset();
                log::notice(&format!(
                    "Partial resynchronization request from {name} accepted. Sending {} bytes of backlog starting from offset {}.",
                    end - from,
                    from + 1
                ));
                attach(ctx, info);
                return;
            }
            PsyncDecision::Full { why } => {
                for w in why {
                    log::notice(&w);
                }
                if id != "?" {
                    ctx.engine.stats.sync_partial_err += 1;
                }
            }
        }
    }
    ctx.engine.stats.sync_full += 1;
    // The first replica creates the backlog (Redis: "Replication backlog created, my new
    // replication IDs are '...' and '...'").
    if !ctx.engine.repl.backlog_active {
        // No backlog means no valid past history: Redis starts a new one (new ID, no
        // secondary ID) so no former replica can "continue" over writes it never saw.
        let r = &mut ctx.engine.repl;
        r.replid = crate::cmd::engine::random_hex40();
        r.replid2 = "0".repeat(40);
        r.second_repl_offset = -1;
        ctx.engine.repl.create_backlog(size);
        log::notice(&format!(
            "Replication backlog created, my new replication IDs are '{}' and '{}'",
            ctx.engine.repl.replid, ctx.engine.repl.replid2
        ));
    }
    // A snapshot to disk is already being made for another replica: this one can share it
    // (it gets the same offset, and the writes since then are already kept for both).
    let rdb_child = ctx
        .engine
        .persist
        .child
        .as_ref()
        .is_some_and(|c| c.kind == crate::persist::ChildKind::Rdb);
    let sharing = ctx
        .engine
        .replicas
        .values()
        .find(|r| r.state == ReplicaState::WaitBgsaveEnd && !r.diskless)
        .map(|r| r.sync_offset);
    match (rdb_child, sharing) {
        (true, Some(offset)) => {
            info.state = ReplicaState::WaitBgsaveEnd;
            info.sync_offset = offset;
            info.cursor = offset;
            if !info.legacy_sync {
                let line = format!("+FULLRESYNC {} {offset}\r\n", ctx.engine.repl.replid);
                ctx.out.raw(line.as_bytes());
            }
            log::notice("Waiting for end of BGSAVE for SYNC");
            attach(ctx, info);
        }
        (true, None) => {
            log::notice(
                "Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC",
            );
            attach(ctx, info);
        }
        _ => {
            let socket_child = ctx
                .engine
                .persist
                .child
                .as_ref()
                .is_some_and(|c| c.kind == crate::persist::ChildKind::RdbSocket);
            let delayed = crate::persist::diskless_for(ctx.engine, &info)
                && ctx.engine.config.get_i64("repl-diskless-sync-delay") > 0;
            if socket_child {
                log::notice("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC");
            } else if delayed {
                log::notice("Delay next BGSAVE for diskless SYNC");
            } else if ctx.engine.persist.child.is_some() {
                log::notice(
                    "No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed",
                );
            }
            attach(ctx, info);
            crate::persist::sync_replicas_waiting(ctx.engine);
        }
    }
}

/// Turn this connection into a replica link.
fn attach(ctx: &mut Ctx, info: ReplicaInfo) {
    ctx.client.is_replica = true;
    if let Some(c) = ctx.engine.clients.get_mut(&ctx.client.id) {
        c.flags_extra = "S".into();
    }
    ctx.engine.replicas.insert(ctx.client.id, info);
}

fn role(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let e = &*ctx.engine;
    if let Some(m) = &e.master {
        ctx.out.array(5);
        ctx.out.bulk(b"slave");
        ctx.out.bulk(m.host.as_bytes());
        ctx.out.int(m.port as i64);
        ctx.out.bulk(m.state.role_name().as_bytes());
        ctx.out
            .int(if m.state == crate::repl::replica::ReplState::Connected {
                e.repl.offset() as i64
            } else {
                -1
            });
        return;
    }
    let replicas: Vec<(String, u16, u64)> = e
        .replicas
        .values()
        .filter(|r| r.state == ReplicaState::Online)
        .map(|r| (r.ip.clone(), r.listening_port, r.ack_offset))
        .collect();
    let offset = e.repl.offset();
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(offset as i64);
    ctx.out.array(replicas.len());
    for (ip, port, ack) in replicas {
        ctx.out.array(3);
        ctx.out.bulk(ip.as_bytes());
        ctx.out.bulk(port.to_string().as_bytes());
        ctx.out.bulk(ack.to_string().as_bytes());
    }
}

/// The master's half of Redis's `replicationCron`, once a second: drop replicas that stopped
/// acknowledging (`repl-timeout`), drop replicas whose output buffer passed
/// `client-output-buffer-limit replica` (the hard limit at once, the soft one when exceeded
/// for its number of seconds), and free the backlog after `repl-backlog-ttl` seconds without
/// replicas.
pub fn cron(engine: &mut super::Engine) {
    let now = super::engine::now_ms();
    let timeout_ms = engine.config.get_i64("repl-timeout").max(1) * 1000;
    let (hard, soft, soft_secs) = replica_obuf_limits(engine);
    let end = engine.repl.offset();
    let mut drop_ids = Vec::new();
    for r in engine.replicas.values_mut() {
        let name = r.name();
        if r.state == ReplicaState::Online && !r.legacy_sync && now - r.ack_time_ms > timeout_ms {
            log::warning(&format!(
                "Disconnecting timedout replica (streaming sync): {name}"
            ));
            drop_ids.push((r.client_id, false));
            continue;
        }
        if r.state == ReplicaState::WaitBgsaveStart {
            continue;
        }
        let pending = end.saturating_sub(r.cursor);
        let over_soft = soft > 0 && pending >= soft;
        if hard > 0 && pending >= hard {
            drop_ids.push((r.client_id, true));
        } else if over_soft {
            if r.obuf_soft_since_ms == 0 {
                r.obuf_soft_since_ms = now;
            } else if now - r.obuf_soft_since_ms > soft_secs * 1000 {
                drop_ids.push((r.client_id, true));
            }
        } else {
            r.obuf_soft_since_ms = 0;
        }
    }
    for (id, obuf) in drop_ids {
        if obuf {
            let line = engine
                .clients
                .get(&id)
                .map(|c| c.line(now))
                .unwrap_or_default();
            log::warning(&format!(
                "Client {line} scheduled to be closed ASAP for overcoming of output buffer limits."
            ));
        }
        crate::persist::close_replica(engine, id);
    }
    // repl-backlog-ttl: only a master (a replica keeps its backlog for a failover).
    if !engine.replicas.is_empty() || engine.master.is_some() {
        engine.repl.no_replicas_since_ms = 0;
        return;
    }
    if engine.repl.no_replicas_since_ms == 0 {
        engine.repl.no_replicas_since_ms = now;
    }
    let ttl = engine.config.get_i64("repl-backlog-ttl");
    if ttl > 0 && engine.repl.backlog_active && now - engine.repl.no_replicas_since_ms > ttl * 1000
    {
        engine.repl.free_backlog();
        log::notice(&format!(
            "Replication backlog freed after {ttl} seconds without connected replicas."
        ));
    }
}

/// `client-output-buffer-limit`'s replica class: hard bytes, soft bytes, soft seconds.
fn replica_obuf_limits(engine: &super::Engine) -> (u64, u64, i64) {
    let v: Vec<i64> = engine
        .config
        .get_str("client-output-buffer-limit")
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    // "normal h s t slave h s t pubsub h s t": the numbers are at 0..3, 3..6, 6..9.
    match v.get(3..6) {
        Some([h, s, t]) => ((*h).max(0) as u64, (*s).max(0) as u64, *t),
        _ => (256 << 20, 64 << 20, 60),
    }
}
