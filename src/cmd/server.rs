//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, LASTSAVE, SHUTDOWN, DEBUG,
//! FUNCTION, COMMAND.
//!
//! SHUTDOWN is the one command here that the engine cannot finish by itself: waiting for
//! replicas, saving and exiting belong to the runtime (`net::server`). So, as in Redis 7.0,
//! the client that sends it *blocks*: the handler records the request in
//! [`ShutdownState`] and the runtime carries it out. If the server exits, the connection just
//! closes (no reply, as with Redis); if the shutdown fails (a save error without FORCE) or
//! SHUTDOWN ABORT cancels it, every client blocked in SHUTDOWN gets
//! `-ERR Errors trying to SHUTDOWN. Check logs.` and the server goes on.

use super::engine::Engine;
use super::table::CommandSpec;
use super::{Ctx, Handler, eq_ic, errors};
use crate::resp::Reply;

/// The Redis version rtool answers as (HELLO, INFO): the one its behaviour is checked against.
pub const REDIS_VERSION: &str = "7.0.15";

pub const HANDLERS: &[(&str, Handler)] = &[
    ("dbsize", dbsize),
    ("flushdb", flushdb),
    ("flushall", flushall),
    ("swapdb", swapdb),
    ("time", time),
    ("lastsave", lastsave),
    ("shutdown", shutdown),
    ("debug", debug),
    ("function", function),
    ("command", command),
];

/// Reply to `<CMD> HELP` with a list of lines.
pub fn help_reply(ctx: &mut Ctx, cmd: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

fn dbsize(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
}

/// FLUSHDB/FLUSHALL accept ASYNC or SYNC; anything else is a syntax error.
fn flush_mode_ok(ctx: &mut Ctx, argv: &[&[u8]]) -> bool {
    if argv.len() > 2 || (argv.len() == 2 && !eq_ic(argv[1], "async") && !eq_ic(argv[1], "sync")) {
        ctx.out.err(errors::SYNTAX);
        return false;
    }
    true
}

fn flushdb(ctx: &mut Ctx, argv: &[&[u8]]) {
    if !flush_mode_ok(ctx, argv) {
        return;
    }
    let n = ctx.db().len() as u64;
    ctx.db().clear();
    let db = ctx.client.db;
    ctx.engine.touch_db(Some(db));
    // Redis counts a flush as one change per key removed, and always propagates it.
    ctx.dirty(n.max(1));
    ctx.out.ok();
}

fn flushall(ctx: &mut Ctx, argv: &[&[u8]]) {
    if !flush_mode_ok(ctx, argv) {
        return;
    }
    let mut n = 0;
    for db in ctx.engine.keyspace.dbs.iter_mut() {
        n += db.len() as u64;
        db.clear();
    }
    ctx.engine.touch_db(None);
    ctx.dirty(n.max(1));
    ctx.out.ok();
}

fn swapdb(ctx: &mut Ctx, argv: &[&[u8]]) {
    let n = ctx.engine.keyspace.dbs.len() as i64;
    let parse = |a: &[u8]| crate::resp::request::parse_i64(a).filter(|v| i32::try_from(*v).is_ok());
    let (Some(a), Some(b)) = (parse(argv[1]), parse(argv[2])) else {
        ctx.out.err("invalid first DB index");
        return;
    };
    if a < 0 || a >= n || b < 0 || b >= n {
        ctx.out.err(errors::DB_INDEX);
        return;
    }
    if a != b {
        ctx.engine.keyspace.dbs.swap(a as usize, b as usize);
        ctx.engine.touch_db(Some(a as usize));
        ctx.engine.touch_db(Some(b as usize));
    }
    ctx.dirty(1);
    ctx.out.ok();
}

fn time(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk(now.as_secs().to_string().as_bytes());
    ctx.out.bulk(now.subsec_micros().to_string().as_bytes());
}

fn lastsave(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.out.int(ctx.engine.lastsave);
}

/// SHUTDOWN's options (Redis's `SHUTDOWN_*` flags).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownFlags {
    /// SAVE (`Some(true)`) or NOSAVE (`Some(false)`); `None`: save if save points are set.
    pub save: Option<bool>,
    /// NOW: do not wait for lagging replicas (no GETACK, no `shutdown-timeout`).
    pub now: bool,
    /// FORCE: errors that would stop the exit (a failed save, an initial AOF still being
    /// written) are logged and ignored.
    pub force: bool,
}

impl ShutdownFlags {
    /// `shutdown-on-sigterm` / `shutdown-on-sigint`: what a signal asks for.
    pub fn from_config(value: &str) -> ShutdownFlags {
        let mut f = ShutdownFlags::default();
        for w in value.split_whitespace() {
            match w.to_ascii_lowercase().as_str() {
                "save" => f.save = Some(true),
                "nosave" => f.save = Some(false),
                "now" => f.now = true,
                "force" => f.force = true,
                _ => {}
            }
        }
        f
    }
}

/// A shutdown between its request and its end: Redis's `shutdown_asap`, `shutdown_mstime`
/// and its clients blocked in SHUTDOWN, kept in the engine so that the command (which asks
/// and aborts) and the runtime (which carries it out) see one state under one lock.
#[derive(Debug, Default, Clone)]
pub struct ShutdownState {
    /// Asked for, not yet picked up by the runtime.
    pub requested: Option<ShutdownFlags>,
    /// The runtime is carrying a shutdown out (waiting for replicas, saving).
    pub in_progress: bool,
    /// While waiting for replicas: when the wait ends, Unix ms (0 otherwise).
    pub deadline_ms: i64,
    /// Bumped by every cancellation, so a runtime wait can tell that its shutdown was
    /// aborted even if another SHUTDOWN came right after.
    pub epoch: u64,
    /// Clients blocked in SHUTDOWN, who get the error if it does not happen.
    pub blocked: Vec<u64>,
    /// Clients whose next command is a write postponed by the pause during the wait
    /// (see `cmd::engine::Flow::Postponed`); they go on when the shutdown is cancelled.
    pub postponed: Vec<u64>,
    /// What the signal thread (`net::signals`) records. Shared, not under the engine lock:
    /// a signal must be seen while the engine is busy (DEBUG SLEEP, a final save, loading).
    pub signal: std::sync::Arc<SignalState>,
}

/// Redis's `shutdown_asap`, `last_sig_received` and `loading`, as its `sigShutdownHandler`
/// reads and writes them: atomics, because the thread that takes the signals never waits
/// for the engine lock (Redis's handler runs whatever the main thread is doing).
#[derive(Debug, Default)]
pub struct SignalState {
    asap: std::sync::atomic::AtomicBool,
    last: std::sync::atomic::AtomicI32,
    loading: std::sync::atomic::AtomicBool,
}

impl SignalState {
    /// A signal asked for a shutdown, and no cancellation has forgotten it since.
    pub fn asap(&self) -> bool {
        self.asap.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The signal that asked last (`libc::SIGINT`, `libc::SIGTERM`), 0 if none.
    pub fn last(&self) -> i32 {
        self.last.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Record a signal's request (the end of Redis's handler).
    pub fn request(&self, sig: i32) {
        self.asap.store(true, std::sync::atomic::Ordering::SeqCst);
        self.last.store(sig, std::sync::atomic::Ordering::SeqCst);
    }

    /// Forget the request. Redis's `cancelShutdown` clears both fields; SHUTDOWN ABORT of a
    /// request not yet picked up clears only `shutdown_asap` (`abortShutdown`).
    pub fn clear(&self, also_last: bool) {
        self.asap.store(false, std::sync::atomic::Ordering::SeqCst);
        if also_last {
            self.last.store(0, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Is the dataset being loaded at start-up (the handler words its line differently)?
    pub fn loading(&self) -> bool {
        self.loading.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn set_loading(&self, on: bool) {
        self.loading.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

impl ShutdownState {
    /// Redis's `isShutdownInitiated() || shutdown_asap`.
    pub fn pending(&self) -> bool {
        self.in_progress || self.requested.is_some()
    }
}

/// Redis's reply to the clients blocked in SHUTDOWN when it fails or is aborted.
pub const SHUTDOWN_FAILED: &[u8] = b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n";

/// Give a shutdown up (Redis's `cancelShutdown`): forget it and answer every client blocked
/// in SHUTDOWN with the error, which unblocks them.
pub fn cancel_shutdown(engine: &mut Engine) {
    let st = &mut engine.persist.shutdown;
    st.requested = None;
    st.in_progress = false;
    st.deadline_ms = 0;
    st.epoch += 1;
    // A signal that came while this shutdown was under way is forgotten with it.
    st.signal.clear(true);
    for id in std::mem::take(&mut st.postponed) {
        if let Some(info) = engine.clients.get_mut(&id) {
            info.blocked = false;
            let _ = info
                .tx
                .send(super::client::ClientMsg::Unblocked(bytes::Bytes::new()));
        }
    }
    let st = &mut engine.persist.shutdown;
    for id in std::mem::take(&mut st.blocked) {
        // A client that left (or was unblocked another way) is no longer waiting.
        if !engine.blocking.remove(id) {
            continue;
        }
        if let Some(info) = engine.clients.get_mut(&id) {
            info.blocked = false;
            let _ = info.tx.send(super::client::ClientMsg::Unblocked(
                bytes::Bytes::from_static(SHUTDOWN_FAILED),
            ));
        }
    }
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. Redis's rules: ABORT goes with no other
/// option, SAVE and NOSAVE exclude each other, anything else is a syntax error; repeating an
/// option is fine.
fn shutdown(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut flags = ShutdownFlags::default();
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for a in &argv[1..] {
        if eq_ic(a, "nosave") {
            nosave = true;
        } else if eq_ic(a, "save") {
            save = true;
        } else if eq_ic(a, "now") {
            flags.now = true;
        } else if eq_ic(a, "force") {
            flags.force = true;
        } else if eq_ic(a, "abort") {
            abort = true;
        } else {
            return ctx.out.err(errors::SYNTAX);
        }
    }
    if (abort && (save || nosave || flags.now || flags.force)) || (save && nosave) {
        return ctx.out.err(errors::SYNTAX);
    }
    if abort {
        let st = &ctx.engine.persist.shutdown;
        if st.pending() {
            cancel_shutdown(ctx.engine);
        } else if st.signal.asap() {
            // A signal's request the runtime has not picked up yet: just forget it.
            st.signal.clear(false);
        } else {
            return ctx.out.err("No shutdown in progress.");
        }
        crate::log::notice("Shutdown manually aborted.");
        return ctx.out.ok();
    }
    flags.save = if save {
        Some(true)
    } else if nosave {
        Some(false)
    } else {
        None
    };
    // Block until the server exits (the connection closes) or the shutdown fails. A second
    // SHUTDOWN while one is under way joins it, with the first one's options (Redis's
    // prepareForShutdown returns at once when a shutdown is initiated).
    let st = &mut ctx.engine.persist.shutdown;
    st.blocked.push(ctx.client.id);
    if !st.pending() {
        st.requested = Some(flags);
        // Wakes the runtime (it listens on the same notification as the replica links).
        ctx.engine.repl_wakeup = true;
    }
    ctx.block = Some((Vec::new(), None));
}

/// `enable-debug-command`: DEBUG is refused unless `yes`, or `local` and the client is on the
/// loopback interface (Redis 7.0's `mustObeyClient`/`allowProtectedAction`).
fn debug_allowed(ctx: &Ctx) -> bool {
    match ctx.engine.config.get_str("enable-debug-command") {
        "yes" => true,
        "local" => ctx
            .engine
            .clients
            .get(&ctx.client.id)
            .and_then(|c| c.addr.parse::<std::net::SocketAddr>().ok())
            .is_some_and(|a| a.ip().is_loopback()),
        _ => false,
    }
}

fn debug(ctx: &mut Ctx, argv: &[&[u8]]) {
    if !debug_allowed(ctx) {
        return ctx.out.err("DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
    }
    let sub = argv[1].to_ascii_lowercase();
    match sub.as_slice() {
        b"sleep" if argv.len() >= 3 => {
            let secs = super::parse_f64(argv[2]).unwrap_or(0.0).max(0.0);
            // Like Redis, this blocks the whole server: the engine lock is held.
            std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
            ctx.out.ok();
        }
        b"digest" => {
            let d = crate::keyspace::digest::dataset(&ctx.engine.keyspace);
            ctx.out.simple(&d);
        }
        b"digest-value" => {
            ctx.out.array(argv.len() - 2);
            for k in &argv[2..] {
                let db = ctx.client.db;
                let d = crate::keyspace::digest::key(&ctx.engine.keyspace.dbs[db], k);
                ctx.out.simple(&d);
            }
        }
        b"populate" if argv.len() >= 3 => {
            // DEBUG POPULATE count [prefix] [size]: keys `<prefix>:<n>` holding `value:<n>`
            // (cut or zero-padded to `size`), skipping keys that exist — as Redis does.
            let Some(count) = crate::resp::request::parse_i64(argv[2]).filter(|c| *c >= 0) else {
                return ctx.out.err("count is out of range");
            };
            let prefix = argv.get(3).copied().unwrap_or(b"key");
            let size = match argv.get(4) {
                Some(a) => match crate::resp::request::parse_i64(a).filter(|s| *s >= 0) {
                    Some(s) => Some(s as usize),
                    None => return ctx.out.err(errors::NOT_INTEGER),
                },
                None => None,
            };
            for j in 0..count {
                let mut key = prefix.to_vec();
                key.extend_from_slice(format!(":{j}").as_bytes());
                if ctx.db().dict.contains_key(&key) {
                    continue;
                }
                let mut val = format!("value:{j}").into_bytes();
                if let Some(sz) = size {
                    val.resize(sz, 0);
                }
                let v = crate::keyspace::Value::Str(crate::keyspace::StrValue::new(
                    bytes::Bytes::from(val),
                ));
                ctx.db().set(bytes::Bytes::from(key), v);
            }
            ctx.out.ok();
        }
        b"set-active-expire" if argv.len() >= 3 => {
            ctx.engine.active_expire = argv[2] != b"0";
            ctx.out.ok();
        }
        b"object" if argv.len() >= 3 => {
            let enc = ctx.lookup(argv[2]).map(|v| v.encoding());
            match enc {
                Some(e) => ctx.out.simple(&format!("Value at:0x0 refcount:1 encoding:{e} serializedlength:0 lru:0 lru_seconds_idle:0")),
                None => ctx.out.err(errors::NO_SUCH_KEY),
            }
        }
        _ => ctx.out.err(&format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(argv[1])
        )),
    }
}

fn function(ctx: &mut Ctx, argv: &[&[u8]]) {
    let sub = argv[1].to_ascii_lowercase();
    match sub.as_slice() {
        // rtool has no scripting: there are never any libraries, so FLUSH has nothing to do
        // and LIST has nothing to show. Enough for clients that call them on connect.
        b"flush" => ctx.out.ok(),
        b"list" => ctx.out.array(0),
        b"stats" => {
            ctx.out.map(2);
            ctx.out.bulk(b"running_script");
            ctx.out.null();
            ctx.out.bulk(b"engines");
            ctx.out.map(0);
        }
        b"help" => help_reply(ctx, "FUNCTION", &[]),
        _ => ctx.out.err("functions are not supported by rtool"),
    }
}

/// COMMAND, COMMAND COUNT, COMMAND INFO, COMMAND DOCS, COMMAND LIST, COMMAND GETKEYS.
fn command(ctx: &mut Ctx, argv: &[&[u8]]) {
    let table = ctx.engine.table;
    if argv.len() == 1 {
        let ids: Vec<usize> = table.top_level().collect();
        ctx.out.array(ids.len());
        for i in ids {
            command_info(ctx.out, table, &table.specs[i]);
        }
        return;
    }
    let sub = argv[1].to_ascii_lowercase();
    match sub.as_slice() {
        b"count" => ctx.out.int(table.count() as i64),
        b"info" => {
            let names: Vec<&[u8]> = argv[2..].to_vec();
            if names.is_empty() {
                let ids: Vec<usize> = table.top_level().collect();
                ctx.out.array(ids.len());
                for i in ids {
                    command_info(ctx.out, table, &table.specs[i]);
                }
                return;
            }
            ctx.out.array(names.len());
            for n in names {
                match find(table, n) {
                    Some(i) => command_info(ctx.out, table, &table.specs[i]),
                    None => ctx.out.null_array(),
                }
            }
        }
        b"docs" => {
            // Enough for redis-cli: a map of name -> (empty) doc map.
            let names: Vec<usize> = if argv.len() > 2 {
                argv[2..].iter().filter_map(|n| find(table, n)).collect()
            } else {
                table.top_level().collect()
            };
            ctx.out.map(names.len());
            for i in names {
                ctx.out.bulk(table.specs[i].name.as_bytes());
                ctx.out.map(0);
            }
        }
        b"list" => {
            let mut names: Vec<&str> = table
                .top_level()
                .map(|i| table.specs[i].name.as_str())
                .collect();
            names.sort();
            ctx.out.array(names.len());
            for n in names {
                ctx.out.bulk(n.as_bytes());
            }
        }
        b"getkeys" => {
            let args: Vec<&[u8]> = argv[2..].to_vec();
            let Some(i) = find(table, args[0]) else {
                ctx.out.err("Invalid command specified");
                return;
            };
            let keys = key_positions(&table.specs[i], args.len());
            if keys.is_empty() {
                ctx.out.err("The command has no key arguments");
                return;
            }
            ctx.out.array(keys.len());
            for k in keys {
                ctx.out.bulk(args[k]);
            }
        }
        b"help" => help_reply(ctx, "COMMAND", &[]),
        _ => ctx.out.err(&format!(
            "unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(argv[1])
        )),
    }
}

fn find(table: &super::table::Table, name: &[u8]) -> Option<usize> {
    let s = String::from_utf8_lossy(name).to_ascii_lowercase();
    match s.split_once('|') {
        Some((p, sub)) => table
            .lookup(p.as_bytes())
            .and_then(|p| table.lookup_sub(p, sub.as_bytes())),
        None => table.lookup(name),
    }
}

/// Key argument positions from (first, last, step), Redis's legacy key spec.
pub fn key_positions(spec: &CommandSpec, argc: usize) -> Vec<usize> {
    if spec.first_key <= 0 {
        return vec![];
    }
    let last = if spec.last_key < 0 {
        argc as i32 + spec.last_key
    } else {
        spec.last_key
    };
    let step = spec.step.max(1);
    let mut v = Vec::new();
    let mut i = spec.first_key;
    while i <= last && (i as usize) < argc {
        v.push(i as usize);
        i += step;
    }
    v
}

fn command_info(out: &mut Reply, table: &super::table::Table, spec: &CommandSpec) {
    out.array(10);
    out.bulk(spec.name.as_bytes());
    out.int(spec.arity as i64);
    out.set(spec.flag_names.len());
    for f in &spec.flag_names {
        out.simple(f);
    }
    out.int(spec.first_key as i64);
    out.int(spec.last_key as i64);
    out.int(spec.step as i64);
    out.set(spec.categories.len());
    for c in &spec.categories {
        out.simple(c);
    }
    out.set(0); // tips
    out.array(0); // key specs
    let mut subs: Vec<usize> = spec.subcommands.values().copied().collect();
    subs.sort_by(|a, b| table.specs[*a].name.cmp(&table.specs[*b].name));
    out.array(subs.len());
    for s in subs {
        command_info(out, table, &table.specs[s]);
    }
}
