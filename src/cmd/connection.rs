//! Connection commands: PING, ECHO, SELECT, QUIT, RESET, AUTH, HELLO and CLIENT.

use super::client::ClientMsg;
use super::{Ctx, Handler, arg_i64, eq_ic, errors};
use bytes::Bytes;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("ping", ping),
    ("echo", echo),
    ("select", select),
    ("quit", quit),
    ("reset", reset),
    ("auth", auth),
    ("hello", hello),
    ("client", client),
];

fn ping(ctx: &mut Ctx, argv: &[&[u8]]) {
    if argv.len() > 2 {
        ctx.out.err("wrong number of arguments for 'ping' command");
        return;
    }
    // In the RESP2 pub/sub context PING answers with a "pong" message instead.
    if !ctx.client.resp3 && ctx.client.subscriptions() > 0 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(argv.get(1).copied().unwrap_or(b""));
        return;
    }
    match argv.get(1) {
        Some(m) => ctx.out.bulk(m),
        None => ctx.out.simple("PONG"),
    }
}

fn echo(ctx: &mut Ctx, argv: &[&[u8]]) {
    ctx.out.bulk(argv[1]);
}

fn select(ctx: &mut Ctx, argv: &[&[u8]]) {
    let Some(id) = crate::resp::request::parse_i64(argv[1]).filter(|v| i32::try_from(*v).is_ok())
    else {
        ctx.out.err(errors::NOT_INTEGER);
        return;
    };
    if id < 0 || id as usize >= ctx.engine.keyspace.dbs.len() {
        ctx.out.err(errors::DB_INDEX);
        return;
    }
    ctx.client.db = id as usize;
    ctx.out.ok();
}

fn quit(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
}

fn reset(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.client.multi = None;
    ctx.client.multi_error = false;
    ctx.engine.unwatch_all(ctx.client);
    ctx.engine.pubsub.unsubscribe_all(ctx.client);
    ctx.client.db = 0;
    ctx.client.resp3 = false;
    ctx.out.resp3 = false;
    ctx.client.reply_off = false;
    ctx.client.authenticated = !ctx.engine.auth_required();
    if let Some(info) = ctx.engine.clients.get_mut(&ctx.client.id) {
        info.name = None;
        info.sub = 0;
        info.psub = 0;
        info.resp = 2;
    }
    ctx.out.simple("RESET");
}

/// Check a password for the default user (the only user rtool has). Replies the error itself.
fn check_password(ctx: &mut Ctx, user: Option<&[u8]>, pass: &[u8]) -> bool {
    let required = ctx.engine.config.get_str("requirepass").to_string();
    if user.is_none() && required.is_empty() {
        ctx.out.err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
        return false;
    }
    let user_ok = user.is_none_or(|u| u == b"default");
    let pass_ok = required.is_empty() || pass == required.as_bytes();
    if user_ok && pass_ok {
        ctx.client.authenticated = true;
        true
    } else {
        ctx.out
            .err("-WRONGPASS invalid username-password pair or user is disabled.");
        false
    }
}

fn auth(ctx: &mut Ctx, argv: &[&[u8]]) {
    if argv.len() > 3 {
        ctx.out.err(errors::SYNTAX);
        return;
    }
    let (user, pass) = if argv.len() == 3 {
        (Some(argv[1]), argv[2])
    } else {
        (None, argv[1])
    };
    if check_password(ctx, user, pass) {
        ctx.out.ok();
    }
}

fn hello(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut ver = if ctx.client.resp3 { 3 } else { 2 };
    let mut i = 1;
    if argv.len() >= 2 {
        match crate::resp::request::parse_i64(argv[1]) {
            Some(v) if v == 2 || v == 3 => ver = v,
            Some(_) => {
                ctx.out.err("-NOPROTO unsupported protocol version");
                return;
            }
            None => {
                ctx.out
                    .err("Protocol version is not an integer or out of range");
                return;
            }
        }
        i = 2;
    }
    let mut setname = None;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if eq_ic(argv[i], "auth") && more >= 2 {
            if !check_password(ctx, Some(argv[i + 1]), argv[i + 2]) {
                return;
            }
            i += 3;
        } else if eq_ic(argv[i], "setname") && more >= 1 {
            setname = Some(argv[i + 1]);
            i += 2;
        } else {
            ctx.out.err(&format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(argv[i])
            ));
            return;
        }
    }
    if !ctx.client.authenticated {
        ctx.out.err("-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    if let Some(n) = setname {
        if !valid_name(n) {
            ctx.out
                .err("Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        if let Some(info) = ctx.engine.clients.get_mut(&ctx.client.id) {
            info.name = if n.is_empty() {
                None
            } else {
                Some(Bytes::copy_from_slice(n))
            };
        }
    }
    ctx.client.resp3 = ver == 3;
    ctx.out.resp3 = ver == 3;
    if let Some(info) = ctx.engine.clients.get_mut(&ctx.client.id) {
        info.resp = ver as u8;
    }
    let role = if ctx.engine.is_replica {
        "replica"
    } else {
        "master"
    };
    ctx.out.map(7);
    ctx.out.bulk(b"server");
    ctx.out.bulk(b"redis");
    ctx.out.bulk(b"version");
    ctx.out.bulk(super::server::REDIS_VERSION.as_bytes());
    ctx.out.bulk(b"proto");
    ctx.out.int(ver);
    ctx.out.bulk(b"id");
    ctx.out.int(ctx.client.id as i64);
    ctx.out.bulk(b"mode");
    ctx.out.bulk(b"standalone");
    ctx.out.bulk(b"role");
    ctx.out.bulk(role.as_bytes());
    ctx.out.bulk(b"modules");
    ctx.out.array(0);
}

/// Redis allows client names of printable ASCII without spaces.
fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn client(ctx: &mut Ctx, argv: &[&[u8]]) {
    let sub = argv[1].to_ascii_lowercase();
    let now = ctx.engine.now_ms;
    match sub.as_slice() {
        b"id" => ctx.out.int(ctx.client.id as i64),
        b"setname" => {
            if !valid_name(argv[2]) {
                ctx.out
                    .err("Client names cannot contain spaces, newlines or special characters.");
                return;
            }
            if let Some(info) = ctx.engine.clients.get_mut(&ctx.client.id) {
                info.name = if argv[2].is_empty() {
                    None
                } else {
                    Some(Bytes::copy_from_slice(argv[2]))
                };
            }
            ctx.out.ok();
        }
        b"getname" => match ctx
            .engine
            .clients
            .get(&ctx.client.id)
            .and_then(|i| i.name.clone())
        {
            Some(n) => ctx.out.bulk(&n),
            None => ctx.out.null(),
        },
        b"info" => {
            sync_self(ctx);
            let line = ctx
                .engine
                .clients
                .get(&ctx.client.id)
                .map(|i| i.line(now))
                .unwrap_or_default();
            ctx.out.verbatim(format!("{line}\n").as_bytes());
        }
        b"list" => {
            sync_self(ctx);
            let mut ids: Vec<u64> = ctx.engine.clients.keys().copied().collect();
            ids.sort();
            let mut i = 2;
            let mut only: Option<Vec<u64>> = None;
            let mut typ: Option<Vec<u8>> = None;
            while i < argv.len() {
                if eq_ic(argv[i], "type") && i + 1 < argv.len() {
                    let t = argv[i + 1].to_ascii_lowercase();
                    if !matches!(
                        t.as_slice(),
                        b"normal" | b"master" | b"replica" | b"slave" | b"pubsub"
                    ) {
                        ctx.out.err(&format!(
                            "Unknown client type '{}'",
                            String::from_utf8_lossy(argv[i + 1])
                        ));
                        return;
                    }
                    typ = Some(t);
                    i += 2;
                } else if eq_ic(argv[i], "id") && i + 1 < argv.len() {
                    let mut v = Vec::new();
                    for a in &argv[i + 1..] {
                        match crate::resp::request::parse_i64(a) {
                            Some(n) if n > 0 => v.push(n as u64),
                            _ => {
                                ctx.out.err("Invalid client ID");
                                return;
                            }
                        }
                    }
                    only = Some(v);
                    i = argv.len();
                } else {
                    ctx.out.err(errors::SYNTAX);
                    return;
                }
            }
            let mut text = String::new();
            for id in ids {
                if only.as_ref().is_some_and(|o| !o.contains(&id)) {
                    continue;
                }
                let info = &ctx.engine.clients[&id];
                if let Some(t) = &typ {
                    let is_pubsub = info.sub + info.psub > 0;
                    let ok = match t.as_slice() {
                        b"pubsub" => is_pubsub,
                        b"normal" => {
                            !is_pubsub
                                && !info.flags_extra.contains('S')
                                && !info.flags_extra.contains('M')
                        }
                        b"master" => info.flags_extra.contains('M'),
                        _ => info.flags_extra.contains('S'),
                    };
                    if !ok {
                        continue;
                    }
                }
                text.push_str(&info.line(now));
                text.push('\n');
            }
            ctx.out.verbatim(text.as_bytes());
        }
        b"kill" => client_kill(ctx, argv),
        b"reply" => {
            let mode = argv[2].to_ascii_lowercase();
            match mode.as_slice() {
                b"on" => {
                    ctx.client.reply_off = false;
                    ctx.client.reply_skip = false;
                    ctx.out.ok();
                }
                b"off" => ctx.client.reply_off = true,
                b"skip" => ctx.client.reply_skip = true,
                _ => ctx.out.err(errors::SYNTAX),
            }
        }
        b"unblock" => {
            let Some(id) = arg_i64(ctx.out, argv[2]) else {
                return;
            };
            let with_error = match argv.get(3) {
                None => false,
                Some(a) if eq_ic(a, "timeout") => false,
                Some(a) if eq_ic(a, "error") => true,
                Some(_) => {
                    ctx.out
                        .err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                    return;
                }
            };
            let id = id as u64;
            let resp3 = ctx.engine.blocking.get(id).map(|b| b.resp3);
            if let Some(resp3) = resp3 {
                ctx.engine.blocking.remove(id);
                let mut r = crate::resp::Reply::new(resp3);
                if with_error {
                    r.err("-UNBLOCKED client unblocked via CLIENT UNBLOCK");
                } else {
                    r.null_array();
                }
                if let Some(info) = ctx.engine.clients.get_mut(&id) {
                    info.blocked = false;
                    let _ = info.tx.send(ClientMsg::Unblocked(r.buf.freeze()));
                }
                ctx.out.int(1);
            } else {
                ctx.out.int(0);
            }
        }
        b"getredir" => ctx.out.int(-1),
        b"no-evict" | b"no-touch" => {
            if eq_ic(argv[2], "on") || eq_ic(argv[2], "off") {
                ctx.out.ok()
            } else {
                ctx.out.err(errors::SYNTAX)
            }
        }
        b"pause" | b"unpause" => ctx.out.ok(),
        b"tracking" | b"caching" | b"trackinginfo" => {
            ctx.out.err("client tracking is not supported by rtool")
        }
        _ => super::server::help_reply(ctx, "CLIENT", &[]),
    }
}

/// Update this client's own registry entry before it is shown.
fn sync_self(ctx: &mut Ctx) {
    let db = ctx.client.db;
    let multi = ctx
        .client
        .multi
        .as_ref()
        .map(|m| m.len() as i64)
        .unwrap_or(-1);
    if let Some(info) = ctx.engine.clients.get_mut(&ctx.client.id) {
        info.db = db;
        info.multi = multi;
        info.last_cmd = "client|list".into();
    }
}

fn client_kill(ctx: &mut Ctx, argv: &[&[u8]]) {
    // Old form: CLIENT KILL addr:port -> +OK or an error.
    if argv.len() == 3 {
        let addr = String::from_utf8_lossy(argv[2]).into_owned();
        let id = ctx
            .engine
            .clients
            .values()
            .find(|c| c.addr == addr)
            .map(|c| c.id);
        match id {
            Some(id) => {
                kill(ctx, id);
                ctx.out.ok();
            }
            None => ctx.out.err("No such client"),
        }
        return;
    }
    if !argv.len().is_multiple_of(2) {
        ctx.out.err(errors::SYNTAX);
        return;
    }
    let mut skipme = true;
    let mut f_id = None;
    let mut f_addr = None;
    let mut f_laddr = None;
    let mut f_type: Option<Vec<u8>> = None;
    let mut i = 2;
    while i + 1 < argv.len() {
        let (k, v) = (argv[i], argv[i + 1]);
        if eq_ic(k, "id") {
            match crate::resp::request::parse_i64(v) {
                Some(n) if n > 0 => f_id = Some(n as u64),
                _ => {
                    ctx.out.err("client-id should be greater than 0");
                    return;
                }
            }
        } else if eq_ic(k, "addr") {
            f_addr = Some(String::from_utf8_lossy(v).into_owned());
        } else if eq_ic(k, "laddr") {
            f_laddr = Some(String::from_utf8_lossy(v).into_owned());
        } else if eq_ic(k, "type") {
            f_type = Some(v.to_ascii_lowercase());
        } else if eq_ic(k, "user") {
            if v != b"default" {
                ctx.out
                    .err(&format!("No such user '{}'", String::from_utf8_lossy(v)));
                return;
            }
        } else if eq_ic(k, "skipme") {
            if eq_ic(v, "yes") {
                skipme = true
            } else if eq_ic(v, "no") {
                skipme = false
            } else {
                ctx.out.err(errors::SYNTAX);
                return;
            }
        } else {
            ctx.out.err(errors::SYNTAX);
            return;
        }
        i += 2;
    }
    let me = ctx.client.id;
    let victims: Vec<u64> = ctx
        .engine
        .clients
        .values()
        .filter(|c| f_id.is_none_or(|id| c.id == id))
        .filter(|c| f_addr.as_ref().is_none_or(|a| &c.addr == a))
        .filter(|c| f_laddr.as_ref().is_none_or(|a| &c.laddr == a))
        .filter(|c| {
            f_type.as_ref().is_none_or(|t| match t.as_slice() {
                b"pubsub" => c.sub + c.psub > 0,
                b"normal" => c.sub + c.psub == 0 && c.flags_extra.is_empty(),
                b"master" => c.flags_extra.contains('M'),
                _ => c.flags_extra.contains('S'),
            })
        })
        .filter(|c| !(skipme && c.id == me))
        .map(|c| c.id)
        .collect();
    for id in &victims {
        kill(ctx, *id);
    }
    // The master's connection is not in the client table: TYPE master (or its ID filters
    // unset) reaches the replica link itself.
    let mut killed = victims.len() as i64;
    let master_type = f_type.as_deref() == Some(b"master".as_slice());
    if master_type
        && f_id.is_none()
        && f_addr.is_none()
        && f_laddr.is_none()
        && let Some(m) = ctx.engine.master.as_mut()
        && m.state == crate::repl::replica::ReplState::Connected
    {
        m.kill = true;
        killed += 1;
    }
    ctx.out.int(killed);
}

fn kill(ctx: &mut Ctx, id: u64) {
    if id == ctx.client.id {
        ctx.client.close_after_reply = true;
        return;
    }
    if let Some(info) = ctx.engine.clients.get(&id) {
        let _ = info.tx.send(ClientMsg::Kill);
    }
}
