//! Snapshots: SAVE, BGSAVE, save points, the final save on shutdown, loading at start-up.
//!
//! rtool makes a background snapshot the way Redis does: it **forks**. The child process gets
//! a copy-on-write image of the whole keyspace as it was at the instant of `fork()`, writes it
//! to `temp-<pid>.rdb` with the same RDB writer everything else uses, fsyncs, renames it over
//! `dbfilename`, and exits; the parent goes on serving clients and only notices, from the cron,
//! that the child ended. The parent's pause is the `fork()` itself (copying page tables, a few
//! milliseconds per GB: INFO `latest_fork_usec`), which is the number to watch — see the book's
//! persistence chapter for the measurement against Redis.
//!
//! Why fork and not a persistent (structurally shared) map: forking keeps the hot path exactly
//! as fast as it is without snapshots (no reference counting or path copying on every write),
//! and it is the mechanism the seed notes teach (copy-on-write). Its cost is the pause of the
//! `fork()` itself, which grows with the process's memory: `benches/bgsave-stall.py` measures it
//! next to Redis (DESIGN.md has the numbers). It is Unix-only, and the child must touch nothing
//! a lock could be holding in another thread — rtool's default runtime has one thread
//! (`io-threads 1`).

use crate::cmd::Engine;
use crate::log;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a forked child is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildKind {
    /// BGSAVE or a save point.
    Rdb,
    /// An AOF rewrite (BGREWRITEAOF, automatic, or AOF turned on at runtime).
    Aof,
    /// A snapshot streamed to replicas through a pipe (`repl-diskless-sync yes`).
    RdbSocket,
}

/// A diskless transfer the runtime must relay: the child writes `$EOF:<mark>\r\n`, the RDB
/// and the mark into `pipe`; the relay copies every chunk to each replica's link and closes
/// `exit_pipe` when the pipe ends, which lets the child exit (Redis's `rdb_child_exit_pipe`:
/// the child's exit then means every byte was handed to the replicas).
#[derive(Debug)]
pub struct DisklessJob {
    pub pid: i32,
    pub pipe: std::fs::File,
    pub exit_pipe: std::fs::File,
    /// The replicas (client ids) this snapshot is for.
    pub replicas: Vec<u64>,
}

/// A running child process.
#[derive(Debug, Clone)]
pub struct Child {
    pub pid: i32,
    pub kind: ChildKind,
    pub start_ms: i64,
    /// `dirty` when the snapshot was taken: what a successful save subtracts.
    pub dirty_at_start: u64,
}

/// Persistence counters and state (INFO persistence).
#[derive(Debug, Default, Clone)]
pub struct PersistState {
    pub child: Option<Child>,
    pub last_bgsave_ok: bool,
    pub last_bgsave_time_sec: i64,
    pub saves: u64,
    pub latest_fork_usec: u64,
    pub total_forks: u64,
    /// When the last background save was tried (a failed one is retried after 5 s, like
    /// Redis's CONFIG_BGSAVE_RETRY_DELAY).
    pub last_bgsave_try_ms: i64,
    /// A BGSAVE SCHEDULE waiting for the current child to end.
    pub scheduled: bool,
    pub loaded_keys: u64,
    pub loaded_expired: u64,
    /// The snapshot loaded at start-up carried a replication history (repl-id/repl-offset).
    pub loaded_repl_history: bool,
    /// A diskless transfer that the runtime has not picked up yet.
    pub diskless_job: Option<std::sync::Arc<std::sync::Mutex<Option<DisklessJob>>>>,
    /// SHUTDOWN asked for or under way (the final save is persistence's business too).
    pub shutdown: crate::cmd::server::ShutdownState,
}

/// `dir`/`dbfilename`.
pub fn rdb_path(engine: &Engine) -> PathBuf {
    Path::new(engine.config.get_str("dir")).join(engine.config.get_str("dbfilename"))
}

/// Write the snapshot to `path` through a temp file, fsync, rename (so a crash never leaves a
/// half-written `dump.rdb`). Used by SAVE in the server and by the BGSAVE child. A failure is
/// logged with Redis's `rdbSave` texts, which say which step failed.
pub fn write_rdb_file(engine: &Engine, path: &Path) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp_name = format!("temp-{}.rdb", std::process::id());
    let tmp = dir.join(&tmp_name);
    // strerror's text, and the working directory as getcwd gives it ("unknown" if gone).
    let c_err = |e: &std::io::Error| {
        let t = e.to_string();
        t.find(" (os error ")
            .map_or(t.clone(), |i| t[..i].to_string())
    };
    let cwd = || std::env::current_dir().map_or("unknown".to_string(), |d| d.display().to_string());
    let f = std::fs::File::create(&tmp).inspect_err(|e| {
        log::warning(&format!(
            "Failed opening the temp RDB file {tmp_name} (in server root dir {}) for saving: {}",
            cwd(),
            c_err(e)
        ))
    })?;
    let written = (|| {
        let mut f = write_snapshot(engine, f).map_err(|e| ("rdbSaveRio", e))?;
        f.flush().map_err(|e| ("fflush", e))?;
        f.sync_all().map_err(|e| ("fsync", e))
    })();
    if let Err((op, e)) = written {
        log::warning(&format!(
            "Write error saving DB on disk({op}): {}",
            c_err(&e)
        ));
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).inspect_err(|e| {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        log::warning(&format!(
            "Error moving temp DB file {tmp_name} on the final destination {name} (in server root dir {}): {}",
            cwd(),
            c_err(e)
        ));
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The RDB of the whole keyspace, with the aux fields Redis 7.0 writes. A server that takes
/// part in replication (it has a backlog) records its replication ID and offset, so that after
/// a restart it can still offer a partial resync (Redis's `rdbPopulateSaveInfo`).
pub fn write_snapshot<W: Write>(engine: &Engine, w: W) -> std::io::Result<W> {
    write_snapshot_of(engine, &engine.keyspace, w)
}

/// The same, with another keyspace's keys (none, for a filtered snapshot).
fn write_snapshot_of<W: Write>(
    engine: &Engine,
    keyspace: &crate::keyspace::Keyspace,
    w: W,
) -> std::io::Result<W> {
    use crate::rdb::writer::{Aux, ReplAux, WriteOptions, write_keyspace};
    let opts = WriteOptions::from_config(&engine.config);
    let mut aux = Aux::now(crate::cmd::info::process_memory().0);
    if engine.repl.backlog_active || engine.master.is_some() {
        aux.repl = Some(ReplAux {
            stream_db: engine.repl.stream_db().unwrap_or(0) as i64,
            id: engine.repl.replid.clone(),
            offset: engine.repl.offset() as i64,
        });
    }
    write_keyspace(keyspace, w, &opts, &aux)
}

/// SAVE: a synchronous save in the server process (clients wait, as with Redis).
pub fn save(engine: &mut Engine) -> std::io::Result<()> {
    let path = rdb_path(engine);
    match write_rdb_file(engine, &path) {
        Ok(()) => {
            log::notice("DB saved on disk");
            engine.dirty = 0;
            engine.lastsave = crate::cmd::engine::now_ms() / 1000;
            engine.persist.last_bgsave_ok = true;
            engine.persist.saves += 1;
            Ok(())
        }
        // write_rdb_file said what failed.
        Err(e) => Err(e),
    }
}

/// BGSAVE: fork a child that writes the snapshot. Returns the child's pid.
pub fn bgsave(engine: &mut Engine) -> std::io::Result<i32> {
    let path = rdb_path(engine);
    let started = std::time::Instant::now();
    // SAFETY: the child only reads the engine (its private copy-on-write image), writes a
    // file, and leaves with `_exit` without running destructors or touching the runtime.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        log::warning(&format!("Can't save in background: fork: {e}"));
        engine.persist.last_bgsave_ok = false;
        return Err(e);
    }
    if pid == 0 {
        log::set_role('C');
        let code = match write_rdb_file(engine, &path) {
            Ok(()) => {
                log::notice("DB saved on disk");
                0
            }
            // write_rdb_file said what failed.
            Err(_) => 1,
        };
        unsafe { libc::_exit(code) };
    }
    record_fork(engine, pid, ChildKind::Rdb, started);
    engine.persist.last_bgsave_try_ms = crate::cmd::engine::now_ms();
    log::notice(&format!("Background saving started by pid {pid}"));
    Ok(pid)
}

/// A child was forked: remember it (one at a time, as in Redis) and what the fork cost
/// (INFO `latest_fork_usec`, `total_forks`).
pub fn record_fork(engine: &mut Engine, pid: i32, kind: ChildKind, started: std::time::Instant) {
    let p = &mut engine.persist;
    p.latest_fork_usec = started.elapsed().as_micros() as u64;
    p.total_forks += 1;
    p.child = Some(Child {
        pid,
        kind,
        start_ms: crate::cmd::engine::now_ms(),
        dirty_at_start: engine.dirty,
    });
}

/// From the cron: has the child ended? (Redis's `checkChildrenDone`.)
pub fn check_child(engine: &mut Engine) {
    let Some(child) = engine.persist.child.clone() else {
        return;
    };
    let mut status = 0;
    let r = unsafe { libc::waitpid(child.pid, &mut status, libc::WNOHANG) };
    if r == 0 {
        return;
    }
    engine.persist.child = None;
    let ok = r == child.pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if child.kind == ChildKind::RdbSocket {
        diskless_done(engine, ok);
        sync_replicas_waiting(engine);
        return;
    }
    if child.kind == ChildKind::Aof {
        crate::aof::writer::rewrite_done(engine, child.pid, ok);
        // A BGSAVE for replicas may have been waiting for this child.
        sync_replicas_waiting(engine);
        if std::mem::take(&mut engine.persist.scheduled) {
            let _ = bgsave(engine);
        }
        return;
    }
    let now = crate::cmd::engine::now_ms();
    engine.persist.last_bgsave_time_sec = (now - child.start_ms) / 1000;
    use crate::repl::master::ReplicaState;
    let syncing: Vec<u64> = engine
        .replicas
        .values()
        .filter(|r| r.state == ReplicaState::WaitBgsaveEnd)
        .map(|r| r.client_id)
        .collect();
    if ok {
        log::notice("Background saving terminated with success");
        engine.dirty = engine.dirty.saturating_sub(child.dirty_at_start);
        engine.lastsave = now / 1000;
        engine.persist.last_bgsave_ok = true;
        engine.persist.saves += 1;
        // Replicas waiting for this snapshot can now be sent the file.
        for id in syncing {
            if let Some(r) = engine.replicas.get_mut(&id) {
                r.state = ReplicaState::SendBulk;
            }
        }
        engine.repl_wakeup = true;
    } else {
        log::warning("Background saving error");
        engine.persist.last_bgsave_ok = false;
        for id in syncing {
            log::warning("SYNC failed. BGSAVE child returned an error");
            close_replica(engine, id);
        }
    }
    sync_replicas_waiting(engine);
    if std::mem::take(&mut engine.persist.scheduled) {
        let _ = bgsave(engine);
    }
}

/// From the cron: start a BGSAVE when a `save <seconds> <changes>` point is reached.
pub fn check_save_points(engine: &mut Engine) {
    if engine.persist.child.is_some() || engine.dirty == 0 {
        return;
    }
    let now = crate::cmd::engine::now_ms();
    // After a failure, wait 5 seconds before trying again.
    if !engine.persist.last_bgsave_ok && now - engine.persist.last_bgsave_try_ms < 5000 {
        return;
    }
    let points: Vec<i64> = engine
        .config
        .get_str("save")
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    for p in points.chunks(2) {
        if let [secs, changes] = p
            && engine.dirty >= *changes as u64
            && now / 1000 - engine.lastsave > *secs
        {
            log::notice(&format!("{changes} changes in {secs} seconds. Saving..."));
            let _ = bgsave(engine);
            return;
        }
    }
}

/// Are save points configured (`save ""` turns them off)?
pub fn save_points_configured(engine: &Engine) -> bool {
    !engine.config.get_str("save").trim().is_empty()
}

/// Load the data at start-up (Redis's `loadDataFromDisk`): with `appendonly yes` the AOF
/// wins and the RDB is not read (even when the AOF does not exist yet); otherwise
/// `dir/dbfilename` if it exists. Returns the number of keys loaded, or `None` when a
/// shutdown signal stopped the load (of the RDB or of the AOF).
pub fn load_at_startup(engine: &mut Engine) -> Result<Option<u64>, String> {
    if engine.config.get_bool("appendonly") {
        // Loading replays commands: nothing may be appended while it does.
        let keys = crate::aof::load::load_at_startup(engine)?;
        if keys.is_some() {
            engine.aof.state = crate::aof::writer::State::On;
        }
        return Ok(keys);
    }
    load_rdb_at_startup(engine)
}

/// What Redis does between the items it loads at start-up, so a shutdown signal is acted on
/// mid-load (its `processEventsWhileBlocked`): in an RDB (a dump.rdb or an AOF's base) it waits
/// `key-load-delay` after each key and looks for a signal every
/// `loading-process-events-interval-bytes`; in an AOF it looks every 1024 commands
/// (`loadSingleAppendOnlyFile`). One pacing for both loaders.
pub struct LoadPacing {
    delay: i64,
    every: u64,
    next_mark: u64,
    commands: u64,
    signal: std::sync::Arc<crate::cmd::server::SignalState>,
}

impl LoadPacing {
    pub fn new(engine: &Engine) -> LoadPacing {
        let every = engine
            .config
            .get_i64("loading-process-events-interval-bytes")
            .max(1) as u64;
        LoadPacing {
            delay: engine.config.get_i64("key-load-delay"),
            every,
            next_mark: every,
            commands: 0,
            signal: engine.persist.shutdown.signal.clone(),
        }
    }

    /// After a key of an RDB, `offset` bytes into it: stop the load?
    pub fn after_key(&mut self, offset: u64) -> bool {
        if self.delay != 0 {
            crate::rdb::writer::debug_delay(self.delay);
        }
        if offset >= self.next_mark {
            self.next_mark = (offset / self.every + 1) * self.every;
            return self.signal.asap();
        }
        false
    }

    /// After a command of an AOF: stop the load?
    pub fn after_command(&mut self) -> bool {
        self.commands += 1;
        self.commands.is_multiple_of(1024) && self.signal.asap()
    }
}

/// `dir/dbfilename`, if it exists.
/// `Ok(None)`: a shutdown signal stopped the load (Redis looks for one each time
/// `loading-process-events-interval-bytes` more bytes are read; here, at the first key past
/// each such mark).
fn load_rdb_at_startup(engine: &mut Engine) -> Result<Option<u64>, String> {
    let path = rdb_path(engine);
    let f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(0)),
        Err(e) => return Err(format!("Fatal error loading the DB: {e}. Exiting.")),
    };
    let started = std::time::Instant::now();
    let opts = crate::rdb::load::LoadOptions {
        thresholds: engine.thresholds,
        now_ms: crate::cmd::engine::now_ms(),
        skip_expired: !engine.is_replica,
    };
    let input = std::io::BufReader::with_capacity(64 * 1024, f);
    let mut pacing = LoadPacing::new(engine);
    let after_key = |offset: u64| {
        if pacing.after_key(offset) {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    };
    let summary = crate::rdb::load::load_into_with(input, &mut engine.keyspace, &opts, after_key)
        .map_err(|e| {
        format!("Short read or OOM loading DB. Unrecoverable error, aborting now. ({e})")
    })?;
    if summary.stopped {
        return Ok(None);
    }
    // What Redis's rdbLoad says about the file (after the fact here: the loader has read
    // it whole, but in the file's order).
    let rdb_log = crate::rdb::load_log::LoadLog {
        keys_loaded: summary.keys_loaded,
        keys_expired: summary.keys_expired,
        empty_keys_skipped: summary.empty_keys_skipped,
    };
    for (name, value) in &summary.aux {
        rdb_log.aux(name, value);
    }
    rdb_log.done();
    log::notice(&format!(
        "DB loaded from disk: {:.3} seconds",
        started.elapsed().as_secs_f64()
    ));
    engine.persist.loaded_keys = summary.keys_loaded;
    engine.persist.loaded_expired = summary.keys_expired;
    // A replica restarting from its own snapshot resumes its master's history: the file's
    // repl-id and repl-offset are what it will offer in PSYNC (Redis restores them the same
    // way, so a restarted replica can get +CONTINUE).
    let is_replica = !engine.config.get_str("replicaof").trim().is_empty();
    let id = summary
        .aux("repl-id")
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let off = summary
        .aux("repl-offset")
        .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok());
    if let (true, Some(id), Some(off)) = (is_replica, id, off)
        && id.len() == 40
    {
        let db = summary
            .aux("repl-stream-db")
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<usize>().ok());
        engine.repl.adopt_master(&id, off, db);
        engine.persist.loaded_repl_history = true;
        log::notice(&format!(
            "Restored the replication ID and offset from the RDB file: {id}:{off}"
        ));
    }
    Ok(Some(summary.keys_loaded))
}

/// Start the snapshot replicas are waiting for, if no child is running (Redis's
/// `startBgsaveForReplication`): every replica in `WaitBgsaveStart` moves to
/// `WaitBgsaveEnd`, learns the snapshot's offset through `+FULLRESYNC <replid> <offset>`,
/// and the stream after that offset will start with a SELECT.
pub fn sync_replicas_waiting(engine: &mut Engine) {
    use crate::repl::master::ReplicaState;
    if engine.persist.child.is_some() {
        return;
    }
    // One snapshot serves the replicas that want the same one: the first waiting replica
    // decides whether the keys are in it, the others wait for the next (Redis's
    // `startBgsaveForReplication` with the first replica's `slave_req`).
    let Some(exclude_data) = engine
        .replicas
        .values()
        .find(|r| r.state == ReplicaState::WaitBgsaveStart)
        .map(|r| r.exclude_data)
    else {
        return;
    };
    let waiting: Vec<u64> = engine
        .replicas
        .values()
        .filter(|r| r.state == ReplicaState::WaitBgsaveStart && r.exclude_data == exclude_data)
        .map(|r| r.client_id)
        .collect();
    let diskless = waiting.iter().all(|id| {
        engine
            .replicas
            .get(id)
            .is_some_and(|r| diskless_for(engine, r))
    });
    if diskless {
        // Wait repl-diskless-sync-delay seconds from the oldest waiting replica, so replicas
        // arriving together share one transfer — unless repl-diskless-sync-max-replicas of
        // them are already here.
        let delay_ms = engine.config.get_i64("repl-diskless-sync-delay").max(0) * 1000;
        let max = engine.config.get_i64("repl-diskless-sync-max-replicas");
        let oldest = waiting
            .iter()
            .filter_map(|id| engine.replicas.get(id))
            .map(|r| r.wait_since_ms)
            .min()
            .unwrap_or(0);
        let enough = max > 0 && waiting.len() as i64 >= max;
        if crate::cmd::engine::now_ms() - oldest < delay_ms && !enough {
            return;
        }
    }
    engine.repl.seal();
    let offset = engine.repl.offset();
    engine.repl.reset_db();
    log::notice(&format!(
        "Starting BGSAVE for SYNC with target: {}",
        if diskless { "replicas sockets" } else { "disk" }
    ));
    let started = if diskless {
        bgsave_to_replicas(engine, &waiting, exclude_data)
    } else {
        bgsave(engine)
    };
    match started {
        Ok(_) => {
            let replid = engine.repl.replid.clone();
            for id in waiting {
                let Some(r) = engine.replicas.get_mut(&id) else {
                    continue;
                };
                r.state = ReplicaState::WaitBgsaveEnd;
                r.sync_offset = offset;
                r.cursor = offset;
                r.diskless = diskless;
                if !r.legacy_sync {
                    let line = format!("+FULLRESYNC {replid} {offset}\r\n");
                    if let Some(c) = engine.clients.get(&id) {
                        let _ =
                            c.tx.send(crate::cmd::client::ClientMsg::Push(bytes::Bytes::from(
                                line,
                            )));
                    }
                }
            }
        }
        Err(e) => {
            log::warning(&format!("BGSAVE for replication failed: {e}"));
            for id in waiting {
                close_replica(engine, id);
            }
        }
    }
}

/// Drop a replica link (a failed sync, an output buffer overflow).
pub fn close_replica(engine: &mut Engine, id: u64) {
    engine.replicas.shift_remove(&id);
    if let Some(c) = engine.clients.get(&id) {
        let _ = c.tx.send(crate::cmd::client::ClientMsg::Kill);
    }
}

/// Does a replica get its snapshot straight from a socket? (It said `REPLCONF capa eof`, and
/// `repl-diskless-sync yes` or it wants a filtered snapshot, which Redis never writes to the
/// dump file; Redis's `startBgsaveForReplication` decides the same.)
pub fn diskless_for(engine: &Engine, r: &crate::repl::master::ReplicaInfo) -> bool {
    r.capa_eof && (engine.config.get_bool("repl-diskless-sync") || r.exclude_data)
}

/// `rdbSaveToSlavesSockets`: fork a child that writes the snapshot, framed with an EOF mark,
/// into a pipe the runtime relays to `replicas`. Returns the child's pid.
pub fn bgsave_to_replicas(
    engine: &mut Engine,
    replicas: &[u64],
    exclude_data: bool,
) -> std::io::Result<i32> {
    use std::os::fd::FromRawFd;
    let mut data = [0i32; 2];
    let mut exit = [0i32; 2];
    // SAFETY: plain pipe(2) calls; the descriptors are owned by Files right after.
    if unsafe { libc::pipe(data.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if unsafe { libc::pipe(exit.as_mut_ptr()) } != 0 {
        let e = std::io::Error::last_os_error();
        unsafe {
            libc::close(data[0]);
            libc::close(data[1]);
        }
        return Err(e);
    }
    let (data_r, data_w, exit_r, exit_w) = unsafe {
        (
            std::fs::File::from_raw_fd(data[0]),
            std::fs::File::from_raw_fd(data[1]),
            std::fs::File::from_raw_fd(exit[0]),
            std::fs::File::from_raw_fd(exit[1]),
        )
    };
    let started = std::time::Instant::now();
    // SAFETY: as in `bgsave`: the child reads its copy-on-write image, writes to a pipe and
    // leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        log::warning(&format!("Can't save in background: fork: {e}"));
        return Err(e);
    }
    if pid == 0 {
        log::set_role('C');
        drop(data_r);
        drop(exit_w);
        let mark = crate::cmd::engine::random_hex40();
        let res = (|| {
            let mut w = std::io::BufWriter::with_capacity(64 * 1024, &data_w);
            w.write_all(format!("$EOF:{mark}\r\n").as_bytes())?;
            let mut w = if exclude_data {
                // `rdb-filter-only`: the header and aux fields, no database.
                let none = crate::keyspace::Keyspace::new(engine.keyspace.dbs.len());
                write_snapshot_of(engine, &none, w)?
            } else {
                write_snapshot(engine, w)?
            };
            w.write_all(mark.as_bytes())?;
            w.flush()
        })();
        drop(data_w);
        // Wait until the parent relayed everything (it closes its end of the exit pipe).
        let mut b = [0u8; 1];
        let _ = std::io::Read::read(&mut &exit_r, &mut b);
        let code = match res {
            Ok(()) => 0,
            Err(e) => {
                log::warning(&format!("Write error saving DB on disk: {e}"));
                1
            }
        };
        unsafe { libc::_exit(code) };
    }
    drop(data_w);
    drop(exit_r);
    record_fork(engine, pid, ChildKind::RdbSocket, started);
    let p = &mut engine.persist;
    p.last_bgsave_try_ms = crate::cmd::engine::now_ms();
    p.diskless_job = Some(std::sync::Arc::new(std::sync::Mutex::new(Some(
        DisklessJob {
            pid,
            pipe: data_r,
            exit_pipe: exit_w,
            replicas: replicas.to_vec(),
        },
    ))));
    log::notice(&format!("Background RDB transfer started by pid {pid}"));
    Ok(pid)
}

/// The diskless child ended (`updateSlavesWaitingBgsave` with a socket target): its replicas
/// are online, but their command stream starts with their first REPLCONF ACK.
fn diskless_done(engine: &mut Engine, ok: bool) {
    use crate::repl::master::ReplicaState;
    let mine: Vec<u64> = engine
        .replicas
        .values()
        .filter(|r| r.state == ReplicaState::WaitBgsaveEnd && r.diskless)
        .map(|r| r.client_id)
        .collect();
    if ok {
        log::notice("Background RDB transfer terminated with success");
    } else {
        log::warning("Background transfer error");
    }
    for id in mine {
        if !ok {
            log::warning("SYNC failed. BGSAVE child returned an error");
            close_replica(engine, id);
            continue;
        }
        if let Some(r) = engine.replicas.get_mut(&id) {
            log::notice(&format!(
                "Streamed RDB transfer with replica {} succeeded (socket). Waiting for REPLCONF ACK from slave to enable streaming",
                r.name()
            ));
            r.state = ReplicaState::Online;
            r.stream_on_ack = true;
            r.ack_time_ms = crate::cmd::engine::now_ms();
            log::notice(&format!(
                "Synchronization with replica {} succeeded",
                r.name()
            ));
        }
    }
    engine.repl_wakeup = true;
}
