//! The engine: the state every command can touch, and the path every command takes
//! (Redis's `processCommand` and `call`).

use super::client::{Client, ClientInfo, ClientMsg};
use super::table::{Table, flags};
use super::{Ctx, blocking::Blocking, pubsub::PubSub};
use crate::config::Config;
use crate::keyspace::{Keyspace, Thresholds};
use crate::repl::ReplLog;
use crate::resp::{Limits, Reply};
use bytes::Bytes;
use std::collections::HashMap;

/// What the connection should do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The command blocked; the client waits for [`ClientMsg::Unblocked`] or the deadline.
    Blocked,
    /// Write what is pending, then close (QUIT, CLIENT KILL of oneself).
    Close,
    /// Not run: writes are paused while a shutdown waits for its replicas. The command stays
    /// in the client's input and runs when the pause ends (Redis's `blockPostponeClient`).
    Postponed,
}

/// Counters behind `INFO stats` and `INFO commandstats`.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub total_error_replies: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// Per command, indexed by [`CommandSpec::id`](super::CommandSpec): calls, time,
    /// rejected, failed. A vector, not a map by name: it is touched by every command.
    pub commands: Vec<CmdStat>,
    /// per error code (first word of the error): count
    pub errors: HashMap<String, u64>,
    /// ops/sec samples, like Redis's `trackInstantaneousMetric`
    pub ops_samples: Vec<f64>,
    pub last_sample_ms: i64,
    pub last_sample_cmds: u64,
}

impl Stats {
    /// The counters of the command with this table id.
    pub fn command(&mut self, id: usize) -> &mut CmdStat {
        if id >= self.commands.len() {
            self.commands.resize(id + 1, CmdStat::default());
        }
        &mut self.commands[id]
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct CmdStat {
    pub calls: u64,
    /// Time spent in the command, in [`clock`](super::clock) ticks (microseconds only when
    /// shown: converting on every call would cost more than the measuring).
    pub ticks: u64,
    pub rejected: u64,
    pub failed: u64,
}

/// Requests the engine makes to the runtime that hosts it (the `net` layer), which it cannot
/// carry out itself because they involve I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// REPLICAOF host port: start a link to this master (generation of `Engine::master`).
    ConnectMaster { generation: u64 },
}

/// Everything commands can touch; lives behind one lock.
pub struct Engine {
    pub keyspace: Keyspace,
    pub config: Config,
    pub thresholds: Thresholds,
    pub limits: Limits,
    /// `timeout` and `client-query-buffer-limit`, parsed once per CONFIG change because every
    /// connection reads them on every batch.
    pub timeout_s: i64,
    pub query_buffer_limit: i64,
    /// `min-replicas-to-write`, read on every write (0: the check is off).
    pub min_replicas_to_write: i64,
    pub table: &'static Table,
    pub clients: HashMap<u64, ClientInfo>,
    pub next_client_id: u64,
    pub pubsub: PubSub,
    pub blocking: Blocking,
    /// (db, key) -> clients watching it
    pub watched: HashMap<(usize, Bytes), Vec<u64>>,
    pub stats: Stats,
    pub repl: ReplLog,
    /// Changes since the last save (Redis's `server.dirty`).
    pub dirty: u64,
    /// Cached time of the command being run, Unix ms.
    pub now_ms: i64,
    /// Writes to propagate when the outermost command returns: (db, argv).
    pending_prop: Vec<(usize, Vec<Bytes>)>,
    call_depth: u32,
    /// 40 hex characters identifying this run of the server (INFO `run_id`).
    pub run_id: String,
    pub start_ms: i64,
    pub requests: Vec<Request>,
    /// Set while the server is a replica: writes from clients are refused, keys are not
    /// expired locally. (Filled in by replication.)
    pub is_replica: bool,
    /// Replicas attached to this server, in the order they attached (INFO `slave0`...).
    pub replicas: indexmap::IndexMap<u64, crate::repl::master::ReplicaInfo>,
    /// Snapshot state: the forked child, counters for INFO persistence.
    pub persist: crate::persist::PersistState,
    /// Set when replica links must look at their state again (a snapshot finished).
    pub repl_wakeup: bool,
    /// The master, when this server is a replica (REPLICAOF).
    pub master: Option<crate::repl::replica::MasterLink>,
    /// Set while the master's stream is applied: the commands' own propagation is off, the
    /// master's bytes are relayed as they came instead (DESIGN.md invariant 2).
    pub proxying: bool,
    /// Clients blocked in WAIT: (client id, the offset its writes reached, replicas wanted).
    pub waiting_acks: Vec<(u64, u64, usize)>,
    /// A WAIT blocked: ask replicas for an ACK (`REPLCONF GETACK *`) after this batch.
    pub get_ack: bool,
    pub rng: u64,
    /// True while EXEC runs the queued commands: blocking commands must not block then.
    pub in_exec: bool,
    /// While blocked clients are served: the key that became ready. Redis serves a client
    /// blocked on several keys from that key, not from the first of its keys.
    pub serving_key: Option<Bytes>,
    /// `DEBUG SET-ACTIVE-EXPIRE 0` turns the active expire cycle off (tests use it to make
    /// expiry deterministic: only lazy expiry then).
    pub active_expire: bool,
    /// Unix seconds of the last successful save (LASTSAVE, INFO `rdb_last_save_time`).
    pub lastsave: i64,
    /// The append-only file: fed from the same propagation as the replication log.
    pub aof: crate::aof::writer::Aof,
    /// `spin-before-sleep-us`, shared with the event loop's spinner (`net::spin`), which reads
    /// it without taking this lock.
    pub spin_before_sleep_us: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// 40 random hex characters (run IDs, replication IDs).
pub fn random_hex40() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from_digit(rng.random_range(0..16u32), 16).unwrap())
        .collect()
}

impl Engine {
    pub fn new(config: Config) -> Engine {
        let databases = config.get_i64("databases").clamp(1, 1 << 20) as usize;
        super::clock::start();
        let mut e = Engine {
            keyspace: Keyspace::new(databases),
            thresholds: Thresholds::default(),
            limits: Limits::default(),
            timeout_s: 0,
            query_buffer_limit: 1 << 30,
            min_replicas_to_write: 0,
            config,
            table: super::table::global(),
            clients: HashMap::new(),
            next_client_id: 1,
            pubsub: PubSub::default(),
            blocking: Blocking::default(),
            watched: HashMap::new(),
            stats: Stats::default(),
            repl: ReplLog::new(),
            dirty: 0,
            now_ms: now_ms(),
            pending_prop: Vec::new(),
            call_depth: 0,
            run_id: random_hex40(),
            start_ms: now_ms(),
            requests: Vec::new(),
            is_replica: false,
            replicas: indexmap::IndexMap::new(),
            persist: crate::persist::PersistState {
                last_bgsave_ok: true,
                ..Default::default()
            },
            repl_wakeup: false,
            waiting_acks: Vec::new(),
            master: None,
            proxying: false,
            get_ack: false,
            rng: now_ms() as u64 | 1,
            in_exec: false,
            serving_key: None,
            active_expire: true,
            lastsave: now_ms() / 1000,
            aof: crate::aof::writer::Aof::default(),
            spin_before_sleep_us: Default::default(),
        };
        e.reload_cached_config();
        e
    }

    /// Refresh the typed copies of hot configuration values after the config changed.
    pub fn reload_cached_config(&mut self) {
        let c = &self.config;
        self.thresholds = Thresholds {
            hash_max_listpack_entries: c.get_i64("hash-max-listpack-entries").max(0) as usize,
            hash_max_listpack_value: c.get_i64("hash-max-listpack-value").max(0) as usize,
            set_max_intset_entries: c.get_i64("set-max-intset-entries").max(0) as usize,
            zset_max_listpack_entries: c.get_i64("zset-max-listpack-entries").max(0) as usize,
            zset_max_listpack_value: c.get_i64("zset-max-listpack-value").max(0) as usize,
            list_max_listpack_size: c.get_i64("list-max-listpack-size"),
            stream_node_max_entries: c.get_i64("stream-node-max-entries").max(0) as usize,
            stream_node_max_bytes: c.get_i64("stream-node-max-bytes").max(0) as usize,
        };
        self.limits.max_bulk_len = c.get_i64("proto-max-bulk-len");
        self.timeout_s = c.get_i64("timeout");
        self.query_buffer_limit = c.get_i64("client-query-buffer-limit");
        self.min_replicas_to_write = c.get_i64("min-replicas-to-write");
        self.aof.fsync = crate::aof::writer::Fsync::from_config(c);
        self.aof.no_fsync_on_rewrite = c.get_bool("no-appendfsync-on-rewrite");
        self.spin_before_sleep_us.store(
            c.get_i64("spin-before-sleep-us").max(0) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// A cheap pseudo-random number (xorshift), for sampling.
    pub fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Is a password required (`requirepass`)?
    pub fn auth_required(&self) -> bool {
        !self.config.get_str("requirepass").is_empty()
    }

    /// Register a new connection; returns its client id.
    pub fn add_client(
        &mut self,
        addr: String,
        laddr: String,
        tx: tokio::sync::mpsc::UnboundedSender<ClientMsg>,
    ) -> u64 {
        let id = self.next_client_id;
        self.next_client_id += 1;
        self.stats.total_connections_received += 1;
        let now = self.now_ms;
        self.clients.insert(
            id,
            ClientInfo {
                id,
                addr,
                laddr,
                name: None,
                db: 0,
                resp: 2,
                created_ms: now,
                last_interaction_ms: now,
                last_cmd: String::new(),
                sub: 0,
                psub: 0,
                multi: -1,
                blocked: false,
                dirty_cas: false,
                flags_extra: String::new(),
                qbuf: 0,
                tx,
            },
        );
        id
    }

    /// Forget a connection that closed: its subscriptions, WATCHed keys and blocked state.
    pub fn remove_client(&mut self, client: &mut Client) {
        self.unwatch_all(client);
        self.pubsub.unsubscribe_all(client);
        self.blocking.remove(client.id);
        self.waiting_acks.retain(|w| w.0 != client.id);
        self.persist
            .shutdown
            .postponed
            .retain(|&id| id != client.id);
        self.clients.remove(&client.id);
    }

    /// Drop all of a client's WATCHes.
    pub fn unwatch_all(&mut self, client: &mut Client) {
        for (db, key) in client.watched.drain(..) {
            if let Some(list) = self.watched.get_mut(&(db, key.clone())) {
                list.retain(|&id| id != client.id);
                if list.is_empty() {
                    self.watched.remove(&(db, key));
                }
            }
        }
        if let Some(info) = self.clients.get_mut(&client.id) {
            info.dirty_cas = false;
        }
    }

    /// A key changed: every client WATCHing it will fail its EXEC (Redis's `touchWatchedKey`).
    pub fn touch_key(&mut self, db: usize, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(ids) = self.watched.get(&(db, Bytes::copy_from_slice(key))) {
            for id in ids.clone() {
                if let Some(c) = self.clients.get_mut(&id) {
                    c.dirty_cas = true;
                }
            }
        }
    }

    /// A whole database changed (FLUSHDB, SWAPDB...): every WATCH on it fails.
    pub fn touch_db(&mut self, db: Option<usize>) {
        let ids: Vec<u64> = self
            .watched
            .iter()
            .filter(|((d, _), _)| db.is_none() || Some(*d) == db)
            .flat_map(|(_, v)| v.clone())
            .collect();
        for id in ids {
            if let Some(c) = self.clients.get_mut(&id) {
                c.dirty_cas = true;
            }
        }
    }

    /// Lazy expiry (Redis's `expireIfNeeded`): on a master, delete an expired key and
    /// propagate a DEL; on a replica, report it as expired but leave it (the master's DEL
    /// will come through the replication stream). Returns whether the key is expired.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        let d = &self.keyspace.dbs[db];
        if d.expires.is_empty() || !d.is_expired(key, self.now_ms) {
            return false;
        }
        if self.is_replica {
            return true;
        }
        self.delete_expired(db, key);
        true
    }

    /// Delete an expired key: count it, tell WATCH, propagate `DEL key`.
    ///
    /// The DEL joins the effects of the command that found the key expired, so a write on a
    /// lazily expired key reaches replicas as `MULTI, DEL k, SET k .., EXEC` while a read
    /// sends a lone `DEL` (observed on Redis 7.0.15). The active cycle's DELs go alone.
    pub fn delete_expired(&mut self, db: usize, key: &[u8]) {
        self.keyspace.dbs[db].remove(key);
        self.stats.expired_keys += 1;
        self.touch_key(db, key);
        self.propagate(
            db,
            vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)],
        );
    }

    /// Queue a write for propagation; it is written to the replication log when the
    /// outermost command returns (so a command's effects stay together).
    pub fn propagate(&mut self, db: usize, args: Vec<Bytes>) {
        // A replica relays its master's bytes to its own replicas instead (DESIGN.md
        // invariant 2), but its AOF records the commands it applied, as Redis's does.
        if self.proxying && !self.aof.active() {
            return;
        }
        self.pending_prop.push((db, args));
        if self.call_depth == 0 {
            self.flush_propagation();
        }
    }

    /// Hand one propagated command to what consumes the stream: the replication log and the
    /// AOF. A replica's stream is its master's, relayed byte for byte, so writes its own
    /// clients make (replica-read-only no) stay out of it, as Redis's replicationFeedSlaves
    /// returns early on a replica; its AOF still records them. PUBLISH alone stays out of
    /// the AOF.
    fn emit(&mut self, db: usize, args: &[&[u8]]) {
        if !self.proxying && !self.is_replica {
            self.repl.feed(db, args);
        }
        if self.aof.active() && !args[0].eq_ignore_ascii_case(b"publish") {
            let ts = self.config.get_bool("aof-timestamp-enabled");
            let now_sec = self.now_ms / 1000;
            self.aof.feed(db, args, ts, now_sec);
        }
    }

    /// Redis 7.0's `propagatePendingCommands`: several writes caused by one command are
    /// wrapped in MULTI/EXEC so a replica applies them atomically; a single one goes alone.
    /// The wrapping is decided on all the ops, so the replication stream and the AOF get the
    /// same sequence.
    fn flush_propagation(&mut self) {
        if self.pending_prop.is_empty() {
            return;
        }
        let ops = std::mem::take(&mut self.pending_prop);
        let wrap = ops.len() > 1;
        let db_last = ops.last().map(|o| o.0).unwrap_or(0);
        if wrap {
            self.emit(ops[0].0, &[b"MULTI"]);
        }
        for (db, args) in &ops {
            let refs: smallvec::SmallVec<[&[u8]; 8]> = args.iter().map(|a| a.as_ref()).collect();
            self.emit(*db, &refs);
        }
        if wrap {
            self.emit(db_last, &[b"EXEC"]);
        }
    }

    /// A key got new elements: remember it so blocked clients are served after the command.
    pub fn signal_ready(&mut self, db: usize, key: &[u8]) {
        self.blocking.signal(db, key);
    }

    /// Serve clients blocked on keys that became ready (Redis's `handleClientsBlockedOnKeys`):
    /// re-run each waiting client's command, in the order they blocked; one that is served
    /// gets its reply through its channel.
    pub fn handle_ready_keys(&mut self) {
        let mut rounds = 0;
        while let Some((db, key)) = self.blocking.next_ready() {
            rounds += 1;
            if rounds > 100_000 {
                break;
            }
            let waiting = self.blocking.waiting_on(db, &key);
            for id in waiting {
                let Some(bc) = self.blocking.get(id).cloned() else {
                    continue;
                };
                let mut client = Client::new(id, true);
                client.db = bc.db;
                client.resp3 = bc.resp3;
                let mut out = Reply::new(bc.resp3);
                let argv: Vec<&[u8]> = bc.argv.iter().map(|a| a.as_ref()).collect();
                self.serving_key = Some(key.clone());
                let blocked_again = self.call_blocked(&mut client, &argv, &mut out);
                self.serving_key = None;
                if blocked_again {
                    continue;
                }
                self.blocking.remove(id);
                if let Some(info) = self.clients.get_mut(&id) {
                    info.blocked = false;
                    let _ = info.tx.send(ClientMsg::Unblocked(out.buf.freeze()));
                }
            }
        }
    }

    /// Run a blocked client's command again; true if it would still block.
    fn call_blocked(&mut self, client: &mut Client, argv: &[&[u8]], out: &mut Reply) -> bool {
        let Some(idx) = self.table.lookup(argv[0]) else {
            return false;
        };
        let table = self.table;
        let spec = &table.specs[idx];
        let db = client.db;
        let dirty_before = self.dirty;
        self.call_depth += 1;
        let (blocked, rewrite) = {
            let mut ctx = Ctx {
                engine: self,
                client,
                out,
                rewrite: None,
                block: None,
                block_argv: None,
                unblocking: true,
            };
            run_handler(&mut ctx, spec, argv);
            (ctx.block.is_some(), ctx.rewrite.take())
        };
        // A served client's writes propagate like any command's (Redis's blocked.c
        // propagates the pop or the XCLAIMs it did for the client).
        match rewrite {
            Some(cmds) => cmds.into_iter().for_each(|c| self.propagate(db, c)),
            None if self.dirty > dirty_before && spec.is(flags::WRITE) => {
                self.propagate(db, argv.iter().map(|a| Bytes::copy_from_slice(a)).collect())
            }
            None => {}
        }
        self.call_depth -= 1;
        self.finish_call();
        blocked
    }

    fn finish_call(&mut self) {
        if self.call_depth == 0 {
            self.flush_propagation();
        }
    }

    /// `min-replicas-to-write` / `min-replicas-max-lag`: are there enough online replicas
    /// whose last ACK is at most `max-lag` seconds old? (Redis's `refreshGoodSlavesCount`.)
    pub fn enough_good_replicas(&self) -> bool {
        let min = self.min_replicas_to_write;
        if min <= 0 {
            return true;
        }
        let max_lag = self.config.get_i64("min-replicas-max-lag");
        if max_lag <= 0 {
            return true;
        }
        let good = self
            .replicas
            .values()
            .filter(|r| {
                r.state == crate::repl::master::ReplicaState::Online
                    && (self.now_ms - r.ack_time_ms) / 1000 <= max_lag
            })
            .count();
        good as i64 >= min
    }

    /// How many online replicas acknowledged at least `offset`.
    pub fn replicas_acked(&self, offset: u64) -> usize {
        self.replicas
            .values()
            .filter(|r| {
                r.state == crate::repl::master::ReplicaState::Online && r.ack_offset >= offset
            })
            .count()
    }

    /// After ACKs arrived: answer the WAITs that are now satisfied (Redis's
    /// `processClientsWaitingReplicas`).
    pub fn process_waiting_acks(&mut self) {
        let mut i = 0;
        while i < self.waiting_acks.len() {
            let (id, off, want) = self.waiting_acks[i];
            let acked = self.replicas_acked(off);
            if acked >= want {
                self.waiting_acks.swap_remove(i);
                self.blocking.remove(id);
                if let Some(info) = self.clients.get_mut(&id) {
                    info.blocked = false;
                    let mut r = Reply::new(info.resp == 3);
                    r.int(acked as i64);
                    let _ = info.tx.send(ClientMsg::Unblocked(r.buf.freeze()));
                }
            } else {
                i += 1;
            }
        }
    }

    /// A blocked client's deadline passed: its reply. WAIT answers how many replicas
    /// acknowledged so far; every other blocking command answers the null array.
    pub fn timeout_reply(&mut self, id: u64, out: &mut Reply) {
        if let Some(pos) = self.waiting_acks.iter().position(|w| w.0 == id) {
            let (_, off, _) = self.waiting_acks.swap_remove(pos);
            out.int(self.replicas_acked(off) as i64);
        } else {
            out.null_array();
        }
    }

    /// Redis's active expire cycle (`activeExpireCycle`, slow variant): in each database with
    /// volatile keys, sample 20 keys with a TTL, delete the expired ones, and repeat while
    /// more than a quarter of the sample was expired, within a time budget.
    pub fn active_expire_cycle(&mut self, budget_us: u64) {
        if self.is_replica || !self.active_expire {
            return;
        }
        let start = std::time::Instant::now();
        self.now_ms = now_ms();
        for db in 0..self.keyspace.dbs.len() {
            loop {
                let d = &self.keyspace.dbs[db];
                if d.expires.is_empty() {
                    break;
                }
                let mut sampled = 0;
                let mut expired = Vec::new();
                let mut cursor = d.expires_cursor;
                let now = self.now_ms;
                let mut ttl_sum = 0i64;
                let mut ttl_n = 0i64;
                while sampled < 20 {
                    cursor = d.expires.scan(cursor, 20 - sampled, |k, &t| {
                        sampled += 1;
                        if t <= now {
                            expired.push(k.clone());
                        } else {
                            ttl_sum += t - now;
                            ttl_n += 1;
                        }
                    });
                    if cursor == 0 {
                        break;
                    }
                }
                self.keyspace.dbs[db].expires_cursor = cursor;
                if ttl_n > 0 {
                    let avg = ttl_sum / ttl_n;
                    let d = &mut self.keyspace.dbs[db];
                    d.avg_ttl = if d.avg_ttl == 0 {
                        avg
                    } else {
                        (d.avg_ttl / 50) * 49 + avg / 50
                    };
                }
                let n = expired.len();
                for k in expired {
                    self.delete_expired(db, &k);
                }
                if sampled == 0
                    || n * 4 <= sampled
                    || start.elapsed().as_micros() as u64 > budget_us
                {
                    break;
                }
            }
        }
    }
}

/// Run one command from a client: Redis's `processCommand`. Returns what the connection
/// should do next.
pub fn execute(engine: &mut Engine, client: &mut Client, argv: &[&[u8]], out: &mut Reply) -> Flow {
    if argv.is_empty() {
        return Flow::Continue;
    }
    let table = engine.table;
    let Some(mut idx) = table.lookup(argv[0]) else {
        let mut args = String::new();
        for a in argv[1..].iter() {
            args.push('\'');
            args.push_str(&String::from_utf8_lossy(&a[..a.len().min(128)]));
            args.push_str("' ");
        }
        let msg = format!(
            "unknown command '{}', with args beginning with: {}",
            String::from_utf8_lossy(&argv[0][..argv[0].len().min(128)]),
            args
        );
        reject(engine, client, out, &msg, None);
        return Flow::Continue;
    };
    // A container's subcommand: check it exists and has the right arity.
    if !table.specs[idx].subcommands.is_empty() && argv.len() >= 2 {
        match table.lookup_sub(idx, argv[1]) {
            Some(sub) => idx = sub,
            None => {
                let parent = table.specs[idx].name.to_uppercase();
                let msg = format!(
                    "unknown subcommand '{}'. Try {} HELP.",
                    String::from_utf8_lossy(&argv[1][..argv[1].len().min(128)]),
                    parent
                );
                reject(engine, client, out, &msg, None);
                return Flow::Continue;
            }
        }
    }
    let spec = &table.specs[idx];
    if !spec.arity_ok(argv.len()) {
        let msg = format!("wrong number of arguments for '{}' command", spec.name);
        reject(engine, client, out, &msg, Some(spec.id));
        return Flow::Continue;
    }
    if !client.authenticated && !spec.is(flags::NO_AUTH) {
        // AUTH, HELLO and QUIT are the only commands an unauthenticated client may send.
        reject(
            engine,
            client,
            out,
            "-NOAUTH Authentication required.",
            Some(spec.id),
        );
        return Flow::Continue;
    }
    // A RESP2 client that subscribed may only (un)subscribe, ping, quit and reset.
    if !client.resp3
        && client.subscriptions() > 0
        && !matches!(
            spec.name.as_str(),
            "subscribe"
                | "ssubscribe"
                | "unsubscribe"
                | "sunsubscribe"
                | "psubscribe"
                | "punsubscribe"
                | "ping"
                | "quit"
                | "reset"
        )
    {
        let msg = format!(
            "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        );
        reject(engine, client, out, &msg, Some(spec.id));
        return Flow::Continue;
    }
    if engine.is_replica
        && spec.is(flags::WRITE)
        && !client.is_master
        && engine.config.get_bool("replica-read-only")
    {
        reject(
            engine,
            client,
            out,
            "-READONLY You can't write against a read only replica.",
            Some(spec.id),
        );
        return Flow::Continue;
    }
    // replica-serve-stale-data no: while the master link is down, only the commands flagged
    // `stale` (INFO, PING, REPLICAOF, ...) are served.
    if let Some(m) = &engine.master
        && m.state != crate::repl::replica::ReplState::Connected
        && !client.is_master
        && !spec.is(flags::STALE)
        && !engine.config.get_bool("replica-serve-stale-data")
    {
        reject(
            engine,
            client,
            out,
            "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            Some(spec.id),
        );
        return Flow::Continue;
    }
    // min-replicas-to-write: a master without enough good replicas refuses writes.
    if spec.is(flags::WRITE)
        && !engine.is_replica
        && !client.is_master
        && !engine.enough_good_replicas()
    {
        reject(
            engine,
            client,
            out,
            "-NOREPLICAS Not enough good replicas to write.",
            Some(spec.id),
        );
        return Flow::Continue;
    }
    // While a shutdown waits for its replicas, writes wait too (Redis pauses them with
    // `pauseClients(PAUSE_DURING_SHUTDOWN, ..., PAUSE_ACTION_CLIENT_WRITE)`): whatever could
    // change the data or reach the replication stream — even just to be queued in MULTI,
    // or an EXEC with such commands queued — is postponed, reads are served. Replica links
    // are never paused, and neither is the master's link (Redis 7.2 exempts it too).
    if engine.persist.shutdown.deadline_ms != 0
        && !client.is_master
        && !client.is_replica
        && may_replicate(table, spec, client)
    {
        return Flow::Postponed;
    }
    // In MULTI everything but the transaction commands is queued.
    if client.multi.is_some()
        && !matches!(
            spec.name.as_str(),
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
    {
        if spec.is(flags::NO_MULTI) {
            let msg = "Command not allowed inside a transaction".to_string();
            client.multi_error = true;
            reject(engine, client, out, &msg, Some(spec.id));
            return Flow::Continue;
        }
        client
            .multi
            .as_mut()
            .unwrap()
            .push(argv.iter().map(|a| Bytes::copy_from_slice(a)).collect());
        out.simple("QUEUED");
        return Flow::Continue;
    }
    let flow = call(engine, client, spec, argv, out);
    engine.handle_ready_keys();
    flow
}

/// Could running this command write or propagate (Redis's `is_may_replicate_command`)? EXEC
/// counts when its queue holds such a command.
fn may_replicate(table: &Table, spec: &super::CommandSpec, client: &Client) -> bool {
    let writes = |s: &super::CommandSpec| s.is(flags::WRITE) || s.is(flags::MAY_REPLICATE);
    if writes(spec) {
        return true;
    }
    spec.name == "exec"
        && client.multi.iter().flatten().any(|argv| {
            let Some(mut i) = argv.first().and_then(|name| table.lookup(name)) else {
                return false;
            };
            if let Some(sub) = argv.get(1).and_then(|a| table.lookup_sub(i, a)) {
                i = sub;
            }
            writes(&table.specs[i])
        })
}

/// Reply an error for a command that was refused before it ran, counting it like Redis
/// (`rejected_calls`, `total_error_replies`, `errorstat_*`). In MULTI, a refused command
/// makes EXEC abort.
fn reject(
    engine: &mut Engine,
    client: &mut Client,
    out: &mut Reply,
    msg: &str,
    cmd: Option<usize>,
) {
    if client.multi.is_some() {
        client.multi_error = true;
    }
    if let Some(id) = cmd {
        engine.stats.command(id).rejected += 1;
    }
    count_error(engine, msg);
    out.err(msg);
}

fn count_error(engine: &mut Engine, msg: &str) {
    engine.stats.total_error_replies += 1;
    let code = msg.strip_prefix('-').unwrap_or("ERR");
    let code = if msg.starts_with('-') {
        code.split(' ').next().unwrap_or("ERR")
    } else {
        "ERR"
    };
    *engine.stats.errors.entry(code.to_string()).or_default() += 1;
}

/// Redis's `call`: run the handler, count it, propagate what it changed.
pub fn call(
    engine: &mut Engine,
    client: &mut Client,
    spec: &super::CommandSpec,
    argv: &[&[u8]],
    out: &mut Reply,
) -> Flow {
    let started = super::clock::ticks();
    let dirty_before = engine.dirty;
    let out_before = out.len();
    engine.call_depth += 1;
    let db = client.db;
    let (rewrite, block, block_argv) = {
        let mut ctx = Ctx {
            engine,
            client,
            out,
            rewrite: None,
            block: None,
            block_argv: None,
            unblocking: false,
        };
        run_handler(&mut ctx, spec, argv);
        (ctx.rewrite.take(), ctx.block.take(), ctx.block_argv.take())
    };
    let changed = engine.dirty > dirty_before;
    // A handler that said what to propagate is believed (PUBLISH is not flagged `write` but
    // goes to replicas); otherwise a write command that changed data goes as typed.
    match rewrite {
        Some(cmds) => {
            for c in cmds {
                engine.propagate(db, c);
            }
        }
        // Copying the arguments costs allocations on the hot path: only when something
        // consumes the stream (a replica, a backlog, the AOF, a test reading the log).
        None if changed
            && spec.is(flags::WRITE)
            && ((engine.repl.active && !engine.proxying && !engine.is_replica)
                || engine.aof.active()) =>
        {
            // The common case — one write, nothing else queued, not nested — goes straight
            // out with the arguments it came with: the same bytes a one-op flush would write,
            // without copying them first.
            if engine.call_depth == 1 && engine.pending_prop.is_empty() {
                engine.emit(db, argv);
            } else {
                engine.propagate(db, argv.iter().map(|a| Bytes::copy_from_slice(a)).collect());
            }
        }
        None => {}
    }
    // Still "inside" the call while its writes are queued, so that several of them (SPOP's
    // SREMs) leave together, wrapped in MULTI/EXEC.
    engine.call_depth -= 1;
    engine.finish_call();
    // Where this client's writes reached in the stream: what its next WAIT waits for.
    if engine.repl.offset() > client.woff && engine.call_depth == 0 {
        client.woff = engine.repl.offset();
    }
    let failed = out.len() > out_before && out.buf[out_before] == b'-';
    let st = engine.stats.command(spec.id);
    st.calls += 1;
    st.ticks += super::clock::ticks().saturating_sub(started);
    st.failed += failed as u64;
    engine.stats.total_commands_processed += 1;
    // An error reply from the handler counts as a failed call.
    if failed {
        let end = out.buf[out_before..]
            .iter()
            .position(|&c| c == b'\r')
            .map(|p| out_before + p)
            .unwrap_or(out.len());
        let msg = format!(
            "-{}",
            String::from_utf8_lossy(&out.buf[out_before + 1..end])
        );
        count_error(engine, &msg);
    }
    if let Some((keys, deadline)) = block {
        let rerun: Option<Vec<&[u8]>> = block_argv
            .as_ref()
            .map(|v| v.iter().map(|a| a.as_ref()).collect());
        let argv = rerun.as_deref().unwrap_or(argv);
        engine
            .blocking
            .add(client.id, client.db, client.resp3, argv, keys, deadline);
        if let Some(info) = engine.clients.get_mut(&client.id) {
            info.blocked = true;
        }
        client.blocked = Some(deadline);
        return Flow::Blocked;
    }
    if client.close_after_reply {
        return Flow::Close;
    }
    Flow::Continue
}

fn run_handler(ctx: &mut Ctx, spec: &super::CommandSpec, argv: &[&[u8]]) {
    match spec.handler {
        Some(h) => h(ctx, argv),
        None => {
            // A command Redis has and rtool does not implement (yet): say so plainly.
            ctx.out
                .err(&format!("'{}' is not supported by rtool", spec.name));
        }
    }
}
