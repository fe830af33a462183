//! The listener, the cron, and shutdown.

use crate::cmd::Engine;
use crate::cmd::engine::Request;
use crate::config::Config;
use crate::log;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What every connection task shares.
pub struct Shared {
    pub engine: Mutex<Engine>,
    /// Woken when SHUTDOWN is accepted.
    pub shutdown: Notify,
    /// Woken when the replication stream grew or a replica's state changed: replica links
    /// wait on it.
    pub repl_notify: Notify,
    /// Diskless transfers in flight: each replica link takes its channel of snapshot chunks
    /// from here (see `replica_link::start_diskless_relay`).
    pub diskless: Mutex<std::collections::HashMap<u64, tokio::sync::mpsc::Receiver<bytes::Bytes>>>,
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
        Server {
            shared: Arc::new(Shared {
                engine: Mutex::new(engine),
                shutdown: Notify::new(),
                repl_notify: Notify::new(),
                diskless: Mutex::new(Default::default()),
            }),
            listeners,
        }
    }

    /// The first listener's address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listeners.first().and_then(|l| l.local_addr().ok())
    }

    /// Accept connections until SHUTDOWN or `stop` resolves; then close everything.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let shared = self.shared.clone();
        let mut tasks = Vec::new();
        for l in self.listeners {
            let shared = shared.clone();
            tasks.push(tokio::spawn(accept_loop(l, shared)));
        }
        tasks.push(tokio::spawn(cron(shared.clone())));
        // `replicaof` in the configuration: a replica from the start, with no history to offer.
        {
            let mut e = shared.lock();
            let target = e.config.get_str("replicaof").to_string();
            let mut parts = target.split_whitespace();
            if let (Some(host), Some(port)) = (
                parts.next(),
                parts.next().and_then(|p| p.parse::<u16>().ok()),
            ) {
                let from_scratch = !e.persist.loaded_repl_history;
                crate::cmd::replication::become_replica(
                    &mut e,
                    host.to_string(),
                    port,
                    from_scratch,
                );
            }
        }
        spawn_requested_links(&shared);
        log::notice("Ready to accept connections");
        tokio::select! {
            _ = stop => {}
            _ = shared.shutdown.notified() => {}
        }
        announce_shutdown(&shared);
        wait_for_replicas(&shared).await;
        prepare_shutdown(&shared);
        for t in tasks {
            t.abort();
        }
    }
}

/// Start the master links REPLICAOF asked for (the engine cannot spawn tasks itself).
pub fn spawn_requested_links(shared: &Arc<Shared>) {
    let gens: Vec<u64> = {
        let mut e = shared.lock();
        let mut gens = Vec::new();
        e.requests.retain(|r| match r {
            Request::ConnectMaster { generation } => {
                gens.push(*generation);
                false
            }
            _ => true,
        });
        gens
    };
    for g in gens {
        tokio::spawn(super::master_link::run(shared.clone(), g));
    }
}

/// The first lines of Redis's shutdown (`prepareForShutdown`).
fn announce_shutdown(shared: &Shared) {
    let e = shared.lock();
    let by_command = e
        .requests
        .iter()
        .any(|r| matches!(r, Request::Shutdown { .. }));
    if !by_command {
        log::warning("Received SIGTERM scheduling shutdown...");
    }
    log::warning("User requested shutdown...");
}

/// Redis 7.0 lets its replicas catch up before it exits: it asks them where they are
/// (`REPLCONF GETACK *`, which counts in the stream like any command) and waits until every
/// one has acknowledged the whole stream, at most `shutdown-timeout` seconds; then it says
/// which ones lag (`finishShutdown`).
async fn wait_for_replicas(shared: &Arc<Shared>) {
    let in_sync = |e: &Engine| e.replicas.values().all(|r| r.ack_offset == e.repl.offset());
    let timeout_ms = {
        let mut e = shared.lock();
        let t = e.config.get_i64("shutdown-timeout");
        let quiet = t == 0 || e.is_replica || e.replicas.is_empty();
        if quiet || in_sync(&e) {
            0
        } else {
            e.repl.feed_nodb(&[b"REPLCONF", b"GETACK", b"*"]);
            e.repl.seal();
            log::notice("Waiting for replicas before shutting down.");
            t * 1000
        }
    };
    if timeout_ms > 0 {
        shared.repl_notify.notify_waiters();
        let start = std::time::Instant::now();
        while start.elapsed().as_millis() < timeout_ms as u128 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            if in_sync(&shared.lock()) {
                break;
            }
        }
    }
    let e = shared.lock();
    if e.replicas.is_empty() {
        return;
    }
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

/// What Redis does on the way out (`finishShutdown`): kill a child, save, tell clients.
fn prepare_shutdown(shared: &Shared) {
    let mut e = shared.lock();
    let save = e.requests.iter().find_map(|r| match r {
        Request::Shutdown { save } => Some(*save),
        _ => None,
    });
    // Redis saves on the way out when save points are configured (or SHUTDOWN SAVE), and
    // never with SHUTDOWN NOSAVE. A BGSAVE child still running is killed first.
    if let Some(child) = e.persist.child.clone()
        && matches!(
            child.kind,
            crate::persist::ChildKind::Rdb | crate::persist::ChildKind::RdbSocket
        )
    {
        e.persist.child = None;
        log::warning("There is a child saving an .rdb. Killing it!");
        unsafe { libc::kill(child.pid, libc::SIGUSR1) };
    }
    // The AOF: kill a rewrite in progress, write what is buffered, fsync.
    crate::aof::writer::shutdown(&mut e);
    let want_save = match save.flatten() {
        Some(s) => s,
        None => crate::persist::save_points_configured(&e),
    };
    if want_save {
        log::notice("Saving the final RDB snapshot before exiting.");
        if crate::persist::save(&mut e).is_err() {
            log::warning("Error trying to save the DB, can't exit.");
        }
    }
    for c in e.clients.values() {
        let _ = c.tx.send(crate::cmd::client::ClientMsg::Kill);
    }
    e.clients.clear();
    log::warning("Redis is now ready to exit, bye bye...");
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
