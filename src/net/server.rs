//! The listener, the cron, and shutdown.
//!
//! Shutdown follows Redis 7.0's `prepareForShutdown` / `finishShutdown`: SHUTDOWN (or
//! SIGTERM) is announced, then — unless NOW, `shutdown-timeout 0`, or every replica has
//! acknowledged the whole stream — the master sends `REPLCONF GETACK *` and waits up to
//! `shutdown-timeout` seconds for its replicas; then it reports the lagging ones, kills a
//! saving child, fsyncs the AOF, saves if asked to, and exits. A failure on the way (a save
//! that fails without FORCE) cancels the shutdown: the server keeps running and the SHUTDOWN
//! clients get an error. SHUTDOWN ABORT cancels the wait the same way.
//!
//! While it waits for replicas, writes are paused as in Redis (`pauseClients(
//! PAUSE_DURING_SHUTDOWN, ..., PAUSE_ACTION_CLIENT_WRITE)`): write commands and PUBLISH wait
//! until the shutdown is aborted or fails, reads are served (`cmd::engine::Flow::Postponed`).
//!
//! SIGTERM and SIGINT are taken on a thread of their own ([`super::signals`]), which logs as
//! Redis's handler does and records the request; `next_shutdown` picks it up when no
//! shutdown is under way, with the flags of `shutdown-on-sigterm` or `shutdown-on-sigint`.
//! Every signal asks again, so an aborted or failed shutdown can be asked for anew; a SIGINT
//! while a signal's request stands exits at once ("You insist... exiting now.").
//!
//! A signal during loading is acted on mid-load, where Redis looks for one: every
//! `loading-process-events-interval-bytes` of an RDB (the AOF's RDB base included) and every
//! 1024 commands of an AOF. Not matched: two signals that arrive before the signal thread
//! wakes count as one (tokio coalesces them; Redis's handler runs once per delivery).

use crate::cmd::Engine;
use crate::cmd::engine::Request;
use crate::cmd::server::ShutdownFlags;
use crate::config::Config;
use crate::log;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What every connection task shares.
pub struct Shared {
    pub engine: Mutex<Engine>,
    /// Woken by the signal thread (`signals`) when a signal asks for a shutdown.
    pub shutdown: Notify,
    /// Woken when the replication stream grew or a replica's state changed: replica links
    /// wait on it.
    pub repl_notify: Notify,
    /// Diskless transfers in flight: each replica link takes its channel of snapshot chunks
    /// from here (see `replica_link::start_diskless_relay`).
    pub diskless: Mutex<std::collections::HashMap<u64, tokio::sync::mpsc::Receiver<bytes::Bytes>>>,
    /// Told of every batch of commands, so the event loop polls before it sleeps
    /// ([`super::spin`]).
    pub spin: Arc<super::spin::Spin>,
}

impl Shared {
    /// Lock the engine. A panic in another task must not take the whole server down with a
    /// poisoned lock, so poisoning is ignored (the engine's state is still consistent:
    /// handlers do not leave half-applied writes behind on the paths that can panic).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A server ready to run: its listeners are already bound (tests bind port 0 and read the
/// port back, so they never race for ports).
pub struct Server {
    pub shared: Arc<Shared>,
    pub listeners: Vec<TcpListener>,
}

/// Parse Redis's `bind` list: addresses, where a leading `-` means "skip it if unavailable".
pub fn bind_addrs(bind: &str, port: u16) -> Vec<(SocketAddr, bool)> {
    let mut out = Vec::new();
    for a in bind.split_whitespace() {
        let (optional, a) = match a.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, a),
        };
        let ip = match a {
            "*" => "0.0.0.0",
            "::*" => "::",
            x => x,
        };
        if let Ok(ip) = ip.parse::<std::net::IpAddr>() {
            out.push((SocketAddr::new(ip, port), optional));
        }
    }
    out
}

impl Server {
    /// Bind the configured addresses (Redis's `listenToPort`).
    pub async fn bind(config: Config) -> std::io::Result<Server> {
        let port = config.get_i64("port") as u16;
        let bind = config.get_str("bind").to_string();
        let mut listeners = Vec::new();
        for (addr, optional) in bind_addrs(&bind, port) {
            let sock = if addr.is_ipv4() {
                tokio::net::TcpSocket::new_v4()
            } else {
                tokio::net::TcpSocket::new_v6()
            };
            let res = sock.and_then(|s| {
                s.set_reuseaddr(true)?;
                s.bind(addr)?;
                s.listen(config.get_i64("tcp-backlog").clamp(1, 65535) as u32)
            });
            match res {
                Ok(l) => listeners.push(l),
                Err(e) if optional => log::verbose(&format!("Skipping optional bind {addr}: {e}")),
                Err(e) => {
                    log::warning(&format!(
                        "Warning: Could not create server TCP listening socket {addr}: {e}"
                    ));
                    return Err(e);
                }
            }
        }
        if listeners.is_empty() {
            return Err(std::io::Error::other("Failed listening on any address"));
        }
        Ok(Server::with_listeners(config, listeners))
    }

    /// A server on listeners the caller bound.
    pub fn with_listeners(config: Config, listeners: Vec<TcpListener>) -> Server {
        let engine = Engine::new(config);
        Self::from_engine(engine, listeners)
    }

    /// A server around an engine that is already loaded.
    pub fn from_engine(engine: Engine, listeners: Vec<TcpListener>) -> Server {
        let spin = Arc::new(super::spin::Spin::new(engine.spin_before_sleep_us.clone()));
        Server {
            shared: Arc::new(Shared {
                engine: Mutex::new(engine),
                shutdown: Notify::new(),
                repl_notify: Notify::new(),
                diskless: Mutex::new(Default::default()),
                spin,
            }),
            listeners,
        }
    }

    /// The first listener's address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listeners.first().and_then(|l| l.local_addr().ok())
    }

    /// Accept connections until a shutdown (SHUTDOWN, or a signal taken by
    /// [`super::signals::listen`]) succeeds; then close everything.
    pub async fn run(self) {
        let shared = self.shared.clone();
        let mut tasks = Vec::new();
        for l in self.listeners {
            let shared = shared.clone();
            tasks.push(tokio::spawn(accept_loop(l, shared)));
        }
        tasks.push(tokio::spawn(cron(shared.clone())));
        tasks.push(tokio::spawn(super::spin::run(shared.spin.clone())));
        // `replicaof` in the configuration: a replica from the start, with no history to offer.
        // Redis is a replica ('S' in its log) from the configuration on, says it is ready,
        // and only then starts the link ("Connecting to MASTER", from its cron).
        {
            let mut e = shared.lock();
            let target = e.config.get_str("replicaof").to_string();
            let mut parts = target.split_whitespace();
            if let (Some(host), Some(port)) = (
                parts.next(),
                parts.next().and_then(|p| p.parse::<u16>().ok()),
            ) {
                log::set_role('S');
                log::notice("Ready to accept connections");
                let from_scratch = !e.persist.loaded_repl_history;
                crate::cmd::replication::become_replica(
                    &mut e,
                    host.to_string(),
                    port,
                    from_scratch,
                );
            } else {
                log::notice("Ready to accept connections");
            }
        }
        spawn_requested_links(&shared);
        loop {
            let flags = next_shutdown(&shared).await;
            if shutdown(&shared, flags).await {
                break;
            }
        }
        for t in tasks {
            t.abort();
        }
    }
}

/// Wait for a shutdown request: a SHUTDOWN command (it wakes `repl_notify`) or a signal
/// (the signal thread wakes `shutdown`). Marks the shutdown as under way.
///
/// Like Redis's `serverCron`, a signal's request is picked up only when no shutdown is
/// under way; one that came during a shutdown stays recorded until that shutdown ends, and a
/// cancellation forgets it (`cancel_shutdown`). Each signal asks anew, so after an aborted
/// or failed shutdown the next SIGTERM starts another.
async fn next_shutdown(shared: &Shared) -> ShutdownFlags {
    loop {
        let woken = shared.repl_notify.notified();
        let mut woken = std::pin::pin!(woken);
        // Registered before looking, so a request made in between still wakes us.
        woken.as_mut().enable();
        {
            let mut e = shared.lock();
            let st = &mut e.persist.shutdown;
            if let Some(flags) = st.requested.take() {
                st.in_progress = true;
                return flags;
            }
            if st.signal.asap() {
                st.in_progress = true;
                let directive = if st.signal.last() == libc::SIGINT {
                    "shutdown-on-sigint"
                } else {
                    "shutdown-on-sigterm"
                };
                return ShutdownFlags::from_config(e.config.get_str(directive));
            }
        }
        tokio::select! {
            _ = woken => {}
            _ = shared.shutdown.notified() => {}
            // A safety net: the request is checked at least every 100 ms.
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
        }
    }
}

/// Start the master links REPLICAOF asked for (the engine cannot spawn tasks itself).
pub fn spawn_requested_links(shared: &Arc<Shared>) {
    let gens: Vec<u64> = shared
        .lock()
        .requests
        .drain(..)
        .map(|r| match r {
            Request::ConnectMaster { generation } => generation,
        })
        .collect();
    for g in gens {
        tokio::spawn(super::master_link::run(shared.clone(), g));
    }
}

/// Every replica has acknowledged the whole stream (Redis's `isReadyToShutdown`).
fn replicas_in_sync(e: &Engine) -> bool {
    e.replicas.values().all(|r| r.ack_offset == e.repl.offset())
}

/// Carry a shutdown out (`prepareForShutdown`, then `finishShutdown` once the replicas are
/// in sync or the time is up). Returns true when the server must exit, false when the
/// shutdown failed or was aborted and the server goes on.
async fn shutdown(shared: &Arc<Shared>, flags: ShutdownFlags) -> bool {
    let (epoch, deadline) = {
        let mut e = shared.lock();
        log::warning("User requested shutdown...");
        let epoch = e.persist.shutdown.epoch;
        let timeout_s = e.config.get_i64("shutdown-timeout");
        let deadline = if !flags.now && timeout_s != 0 && !replicas_in_sync(&e) {
            // Ask the replicas where they are, so an idle one answers now rather than at
            // its next once-a-second ACK. A replica does not feed its own replicas (Redis's
            // replicationFeedSlaves returns early), but waits for them all the same.
            if !e.is_replica && e.repl.backlog_active {
                e.repl.feed_nodb(&[b"REPLCONF", b"GETACK", b"*"]);
                e.repl.seal();
            }
            log::notice("Waiting for replicas before shutting down.");
            let d = crate::cmd::engine::now_ms() + timeout_s * 1000;
            e.persist.shutdown.deadline_ms = d;
            Some(d)
        } else {
            None
        };
        (epoch, deadline)
    };
    if let Some(deadline) = deadline {
        shared.repl_notify.notify_waiters();
        loop {
            {
                let e = shared.lock();
                // SHUTDOWN ABORT: the command already answered everyone and logged it.
                if e.persist.shutdown.epoch != epoch {
                    return false;
                }
                if crate::cmd::engine::now_ms() >= deadline || replicas_in_sync(&e) {
                    break;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    let mut e = shared.lock();
    if finish_shutdown(&mut e, flags) {
        return true;
    }
    // The signal's request is forgotten before the line is out, so a SIGINT sent by someone
    // who has read it asks anew rather than "insisting" (the signal thread takes no lock).
    e.persist.shutdown.signal.clear(true);
    log::warning("Errors trying to shut down the server. Check the logs for more information.");
    crate::cmd::server::cancel_shutdown(&mut e);
    false
}

/// A signal stopped the loading of the dataset at start-up: Redis's `whileBlockedCron` calls
/// `prepareForShutdown(SHUTDOWN_NOSAVE)` (a half-loaded dataset must not overwrite the file).
/// Nothing can be waited for yet (no replica, no child), so this goes straight to the end.
/// Returns whether the server may exit, as `finish_shutdown` does.
pub fn shutdown_while_loading(e: &mut Engine) -> bool {
    log::warning("User requested shutdown...");
    let flags = ShutdownFlags {
        save: Some(false),
        ..ShutdownFlags::default()
    };
    finish_shutdown(e, flags)
}

/// Redis's `finishShutdown`: report lagging replicas, kill a child, fsync the AOF, save if
/// asked to, tell the clients. False if something failed that FORCE would have ignored.
fn finish_shutdown(e: &mut Engine, flags: ShutdownFlags) -> bool {
    if !e.replicas.is_empty() {
        let now = crate::cmd::engine::now_ms();
        let end = e.repl.offset();
        let mut lagging = 0;
        for r in e.replicas.values() {
            if r.ack_offset != end {
                lagging += 1;
                let lag = if r.state == crate::repl::master::ReplicaState::Online {
                    (now - r.ack_time_ms) / 1000
                } else {
                    0
                };
                log::warning(&format!(
                    "Lagging replica {} reported offset {} behind master, lag={lag}, state={}.",
                    r.name(),
                    end as i64 - r.ack_offset as i64,
                    r.state.info_name()
                ));
            }
        }
        log::notice(&format!(
            "{} of {} replicas are in sync when shutting down.",
            e.replicas.len() - lagging,
            e.replicas.len()
        ));
    }
    // A BGSAVE child still running is killed first: its file must not race the final save.
    use crate::persist::ChildKind;
    let child = e.persist.child.clone();
    if let Some(c) = &child
        && matches!(c.kind, ChildKind::Rdb | ChildKind::RdbSocket)
    {
        e.persist.child = None;
        log::warning("There is a child saving an .rdb. Killing it!");
        unsafe { libc::kill(c.pid, libc::SIGUSR1) };
    }
    // An AOF rewrite: the AOF on disk already has everything — unless AOF was just turned
    // on and this rewrite is writing its very first base.
    if let Some(c) = &child
        && c.kind == ChildKind::Aof
    {
        if e.aof.state == crate::aof::writer::State::WaitRewrite {
            if flags.force {
                log::warning("Writing initial AOF. Exit anyway.");
            } else {
                log::warning("Writing initial AOF, can't exit.");
                return false;
            }
        }
        log::warning("There is a child rewriting the AOF. Killing it!");
        if e.aof.state == crate::aof::writer::State::Off {
            // A BGREWRITEAOF with AOF off: aof::writer::shutdown only acts with AOF on.
            e.persist.child = None;
            unsafe {
                libc::kill(c.pid, libc::SIGUSR1);
                libc::waitpid(c.pid, std::ptr::null_mut(), 0);
            }
            let _ = std::fs::remove_file(format!("temp-rewriteaof-bg-{}.aof", c.pid));
        }
    }
    // The AOF: kill a rewrite in progress, write what is buffered, fsync.
    crate::aof::writer::shutdown(e);
    let want_save = match flags.save {
        Some(s) => s,
        None => crate::persist::save_points_configured(e),
    };
    if want_save {
        log::notice("Saving the final RDB snapshot before exiting.");
        if crate::persist::save(e).is_err() {
            if flags.force {
                log::warning("Error trying to save the DB. Exit anyway.");
            } else {
                log::warning("Error trying to save the DB, can't exit.");
                return false;
            }
        }
    }
    for c in e.clients.values() {
        let _ = c.tx.send(crate::cmd::client::ClientMsg::Kill);
    }
    e.clients.clear();
    log::warning("Redis is now ready to exit, bye bye...");
    true
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    super::conn::handle(shared, stream, peer).await;
                });
            }
            Err(e) => {
                log::warning(&format!("Accepting client connection: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// Redis's `serverCron`, `hz` times a second: the active expire cycle and the ops/sec sample.
async fn cron(shared: Arc<Shared>) {
    let mut tick: u64 = 0;
    let mut last_ping_ms = crate::cmd::engine::now_ms();
    loop {
        let hz = shared.lock().config.get_i64("hz").clamp(1, 500) as u64;
        tokio::time::sleep(std::time::Duration::from_millis(1000 / hz)).await;
        let mut e = shared.lock();
        // 25% of a cron period, like ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC.
        e.active_expire_cycle(250_000 / hz);
        crate::persist::check_child(&mut e);
        crate::persist::check_save_points(&mut e);
        crate::aof::writer::cron(&mut e);
        if tick.is_multiple_of(hz) {
            crate::cmd::replication::cron(&mut e);
        }
        // A diskless sync waiting for repl-diskless-sync-delay may be due now.
        crate::persist::sync_replicas_waiting(&mut e);
        // The master pings its replicas every repl-ping-replica-period seconds, through the
        // stream itself (so the ping counts in the offset, as in Redis).
        let period_ms = e.config.get_i64("repl-ping-replica-period").max(1) * 1000;
        let now_ms = crate::cmd::engine::now_ms();
        if !e.replicas.is_empty() && !e.is_replica && now_ms - last_ping_ms >= period_ms {
            e.repl.feed_nodb(&[b"ping"]);
            last_ping_ms = now_ms;
        }
        if e.repl.seal() || std::mem::take(&mut e.repl_wakeup) {
            shared.repl_notify.notify_waiters();
        }
        if e.persist.diskless_job.is_some() {
            drop(e);
            super::replica_link::start_diskless_relay(&shared);
            e = shared.lock();
        }
        let now = crate::cmd::engine::now_ms();
        let st = &mut e.stats;
        if st.last_sample_ms > 0 && now > st.last_sample_ms {
            let ops = (st.total_commands_processed - st.last_sample_cmds) as f64 * 1000.0
                / (now - st.last_sample_ms) as f64;
            st.ops_samples.push(ops);
            if st.ops_samples.len() > 16 {
                st.ops_samples.remove(0);
            }
        }
        st.last_sample_ms = now;
        st.last_sample_cmds = st.total_commands_processed;
        // Like Redis's databasesCron, rehash one database per tick (round robin), so a server
        // with many databases does not spend a millisecond on each of them every tick.
        let n = e.keyspace.dbs.len();
        let i = (tick % n as u64) as usize;
        e.keyspace.dbs[i].dict.rehash_step();
        e.keyspace.dbs[i].expires.rehash_step();
        tick += 1;
    }
}
