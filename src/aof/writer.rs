//! What `rtool serve` appends to its AOF, when it reaches the disk, and the files of a
//! rewrite — Redis 7.0's `feedAppendOnlyFile`, `flushAppendOnlyFile`,
//! `rewriteAppendOnlyFileBackground` and `backgroundRewriteDoneHandler`, one function each.
//!
//! **What is appended** is what is propagated: the engine's `flush_propagation` hands every
//! batch of (db, argv) to the replication log and to [`Aof::feed`] in the same critical
//! section (DESIGN.md invariant 1). The AOF keeps its own "current database" (a new incr file
//! starts with a SELECT whatever the replication stream is in) and leaves PUBLISH out, as
//! Redis does; everything else is byte for byte the replication stream's commands.
//!
//! **When it reaches the disk**: commands gather in a buffer while a batch of commands runs;
//! [`flush`] writes the buffer with one `write(2)` *before* the batch's replies leave (the
//! connection loop calls it under the engine lock), so no client is told "OK" about a write
//! the file has not seen. Then the `appendfsync` policy: `always` calls `fdatasync` right
//! there (a reply waits for the disk), `everysec` hands an fsync to a background thread at
//! most once a second (a crash loses at most about a second), `no` leaves it to the kernel.
//!
//! **A rewrite** (BGREWRITEAOF, the automatic one, or turning AOF on at runtime) first opens
//! a new incr file — writes from now on go there — then forks: the child writes the whole
//! keyspace as a new base file (an RDB with the `aof-base` aux field, or commands), and when
//! it has exited successfully the parent renames it into place and rewrites the manifest so
//! that the new base plus the new incr file describe the data; the old base and incr files
//! become history and are deleted. No command is ever copied between parent and child,
//! which is why Redis 7 needs no rewrite buffer. The book's persistence chapter shows a
//! directory before and after.

use super::manifest::{Manifest, manifest_name};
use crate::cmd::Engine;
use crate::log;
use crate::repl::log::encode_command;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// `server.aof_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Off,
    On,
    /// Turned on at runtime: writes gather in a temporary incr file until the first rewrite
    /// has produced a base, then the AOF is on.
    WaitRewrite,
}

/// `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always,
    Everysec,
    No,
}

impl Fsync {
    pub fn from_config(engine_cfg: &crate::config::Config) -> Fsync {
        match engine_cfg.get_str("appendfsync") {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::Everysec,
        }
    }
}

/// The AOF side of the engine: state, the file being appended to, and INFO's counters.
pub struct Aof {
    pub state: State,
    pub manifest: Manifest,
    /// The incr file being appended to (a temporary one while `WaitRewrite`).
    file: Option<File>,
    /// `aof_buf`: what commands appended since the last [`flush`].
    buf: Vec<u8>,
    /// The database the file is "in" (`aof_selected_db`); None forces a SELECT.
    selected_db: Option<usize>,
    /// The last `#TS:` written (`aof_cur_timestamp`).
    cur_timestamp: i64,
    /// `aof_current_size`: base + incr files.
    pub current_size: u64,
    /// `aof_rewrite_base_size`: the size right after the last rewrite (auto-rewrite grows
    /// from there).
    pub base_size: u64,
    /// Bytes in the current incr file, and how many of them are known to be on disk.
    last_incr_size: u64,
    last_incr_fsync_offset: u64,
    /// Unix seconds of the last fsync (everysec does one when the second changes).
    last_fsync_sec: i64,
    fsyncer: Fsyncer,
    /// A rewrite is waiting for another child to finish (`aof_rewrite_scheduled`).
    pub rewrite_scheduled: bool,
    /// Unix seconds when the running rewrite started, and how long the last one took.
    pub rewrite_time_start: i64,
    pub rewrite_time_last: i64,
    pub rewrites: u64,
    pub rewrites_consecutive_failures: u64,
    pub last_bgrewrite_ok: bool,
    pub last_write_ok: bool,
    /// `aof_delayed_fsync`: everysec found the previous fsync still running.
    pub delayed_fsync: u64,
    /// Bytes written to the AOF so far, over all files (monotonic): the positions
    /// [`Before::Write`] compares with.
    written: u64,
    /// `appendfsync` and `no-appendfsync-on-rewrite`, kept here by the engine's
    /// `reload_cached_config` so the per-batch path reads no configuration.
    pub fsync: Fsync,
    pub no_fsync_on_rewrite: bool,
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            state: State::Off,
            manifest: Manifest::default(),
            file: None,
            buf: Vec::new(),
            selected_db: None,
            cur_timestamp: 0,
            current_size: 0,
            base_size: 0,
            last_incr_size: 0,
            last_incr_fsync_offset: 0,
            last_fsync_sec: 0,
            fsyncer: Fsyncer::default(),
            rewrite_scheduled: false,
            rewrite_time_start: -1,
            rewrite_time_last: -1,
            rewrites: 0,
            rewrites_consecutive_failures: 0,
            last_bgrewrite_ok: true,
            last_write_ok: true,
            delayed_fsync: 0,
            written: 0,
            fsync: Fsync::Everysec,
            no_fsync_on_rewrite: false,
        }
    }
}

impl Aof {
    /// Does anything consume propagated writes on the AOF's side?
    pub fn active(&self) -> bool {
        self.state != State::Off
    }

    /// Bytes waiting in the buffer (INFO `aof_buffer_length`).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether an fsync is running in the background (INFO `aof_pending_bio_fsync`).
    pub fn fsync_in_progress(&self) -> bool {
        self.fsyncer.busy.load(Ordering::Acquire)
    }

    /// Append one propagated command (`feedAppendOnlyFile`): a `#TS:` line when the second
    /// changed and annotations are on, a SELECT when the database differs from the file's,
    /// then the command as a RESP array.
    pub fn feed(&mut self, db: usize, args: &[&[u8]], timestamps: bool, now_sec: i64) {
        if self.state == State::Off {
            return;
        }
        if timestamps && self.cur_timestamp < now_sec {
            self.cur_timestamp = now_sec;
            self.buf
                .extend_from_slice(format!("#TS:{now_sec}\r\n").as_bytes());
        }
        if self.selected_db != Some(db) {
            let d = db.to_string();
            encode_command(&mut self.buf, &[b"SELECT", d.as_bytes()]);
            self.selected_db = Some(db);
        }
        encode_command(&mut self.buf, args);
    }
}

/// Background fsyncs for `everysec` (Redis's bio thread): one thread, fed duplicated file
/// descriptors, so the event loop never waits for the disk.
struct Fsyncer {
    busy: Arc<AtomicBool>,
    tx: Option<std::sync::mpsc::Sender<File>>,
}

impl Default for Fsyncer {
    fn default() -> Self {
        Fsyncer {
            busy: Arc::new(AtomicBool::new(false)),
            tx: None,
        }
    }
}

impl Fsyncer {
    fn submit(&mut self, f: &File) {
        let Ok(dup) = f.try_clone() else {
            return;
        };
        if self.tx.is_none() {
            let (tx, rx) = std::sync::mpsc::channel::<File>();
            let busy = self.busy.clone();
            let spawned = std::thread::Builder::new()
                .name("aof-fsync".into())
                .spawn(move || {
                    while let Ok(f) = rx.recv() {
                        if let Err(e) = f.sync_data() {
                            log::warning(&format!("Fail to fsync the AOF file: {e}"));
                        }
                        busy.store(false, Ordering::Release);
                    }
                });
            if spawned.is_err() {
                let _ = dup.sync_data();
                return;
            }
            self.tx = Some(tx);
        }
        self.busy.store(true, Ordering::Release);
        if let Some(tx) = &self.tx
            && tx.send(dup).is_err()
        {
            self.busy.store(false, Ordering::Release);
        }
    }
}

fn now_sec() -> i64 {
    crate::cmd::engine::now_ms() / 1000
}

/// `appenddirname`, relative to `dir` (the server runs inside `dir`, like Redis).
pub fn dir_path(engine: &Engine) -> PathBuf {
    PathBuf::from(engine.config.get_str("appenddirname"))
}

fn file_path(engine: &Engine, name: &str) -> PathBuf {
    dir_path(engine).join(name)
}

/// Write the manifest through a temp file + fsync + rename + fsync of the directory
/// (`persistAofManifest` / `writeAofManifestFile`).
pub fn persist_manifest(engine: &Engine) -> std::io::Result<()> {
    let dir = dir_path(engine);
    let name = manifest_name(engine.config.get_str("appendfilename"));
    let tmp = dir.join(format!("temp-{name}"));
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(engine.aof.manifest.to_text().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(&name))?;
        File::open(&dir)?.sync_all()
    })();
    if let Err(e) = &res {
        log::warning(&format!("Can't persist the AOF manifest file {name}: {e}"));
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// What a connection must do about the AOF before its replies may leave.
pub enum Before {
    /// Nothing: the AOF is off, or everything is written (and synced, if it must be).
    Nothing,
    /// The AOF buffer holds commands up to this position (in the count of bytes written so far) that
    /// are not written yet: let the other ready connections run, then call [`write_for`] —
    /// the first connection back writes (and with `always` syncs) everyone's commands at once.
    Write(u64),
}

/// The end of a connection's batch, under the engine lock. Redis writes the AOF once per
/// event-loop turn (`flushAppendOnlyFile` in `beforeSleep`), after every ready client ran
/// and before any reply is sent; rtool's connections are separate tasks, so each one that
/// ran while the buffer held something waits, and the first to come back after the others
/// had their turn writes the buffer for all (one `write(2)` per turn instead of one per
/// connection). A connection that only read waits too when the buffer is not empty: it may
/// have read what is in there, and must not show a client data the AOF has not seen.
pub fn after_batch(engine: &mut Engine) -> Before {
    if !engine.aof.active() {
        return Before::Nothing;
    }
    if !engine.aof.buf.is_empty() {
        return Before::Write(engine.aof.written + engine.aof.buf.len() as u64);
    }
    // Nothing new, but an fsync may be owed for earlier writes (flush decides).
    flush(engine, false);
    Before::Nothing
}

/// Back from letting the others run: write the buffer unless another connection already
/// did. With `appendfsync always` the write is followed by an `fdatasync` right here, on
/// the event loop, as Redis does in `beforeSleep`: one flush covers every connection of
/// the turn (a group commit), and the replies leave only after it. A background fsync
/// thread was tried instead (the connections waiting for its signal); on a disk whose
/// flush takes ~150 µs the thread hand-offs cost more than they overlapped, and SET with
/// `always` fell to 0.78x Redis at `-P 1` (1.04x inline, `benches/aof-vs-redis.sh`).
pub fn write_for(engine: &mut Engine, end: u64) {
    if engine.aof.written < end {
        flush(engine, false);
    }
}

/// `flushAppendOnlyFile`: write the buffer, then fsync per policy. `force` writes even when
/// an everysec fsync is still running (shutdown, rewrite start).
pub fn flush(engine: &mut Engine, force: bool) {
    let policy = engine.aof.fsync;
    let no_fsync_on_rewrite = engine.aof.no_fsync_on_rewrite && engine.persist.child.is_some();
    let aof = &mut engine.aof;
    let Some(file) = aof.file.as_mut() else {
        aof.buf.clear();
        return;
    };
    if aof.buf.is_empty() {
        // Nothing new, but an everysec/always fsync may still be owed for earlier writes.
        let owed = aof.last_incr_fsync_offset != aof.last_incr_size;
        let due = match policy {
            Fsync::Always => owed,
            Fsync::Everysec => {
                owed && now_sec() > aof.last_fsync_sec && !aof.fsyncer.busy.load(Ordering::Acquire)
            }
            Fsync::No => false,
        };
        if !due {
            return;
        }
    } else {
        if policy == Fsync::Everysec && !force && aof.fsyncer.busy.load(Ordering::Acquire) {
            // Redis postpones the write up to 2 s while the disk is busy; rtool writes anyway
            // (the fsync thread works on its own descriptor) and counts it like Redis does.
            aof.delayed_fsync += 1;
        }
        match file.write_all(&aof.buf) {
            Ok(()) => {
                if !aof.last_write_ok {
                    log::warning("AOF write error looks solved, Redis can write again.");
                    aof.last_write_ok = true;
                }
                let n = aof.buf.len() as u64;
                aof.current_size += n;
                aof.last_incr_size += n;
                aof.written += n;
                aof.buf.clear();
            }
            Err(e) => {
                log::warning(&format!("Error writing to the AOF file: {e}"));
                if policy == Fsync::Always {
                    log::warning(
                        "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...",
                    );
                    std::process::exit(1);
                }
                aof.last_write_ok = false;
                return;
            }
        }
    }
    if no_fsync_on_rewrite {
        return;
    }
    match policy {
        Fsync::Always => {
            if let Err(e) = file.sync_data() {
                log::warning(&format!(
                    "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting..."
                ));
                std::process::exit(1);
            }
            aof.last_incr_fsync_offset = aof.last_incr_size;
            aof.last_fsync_sec = now_sec();
        }
        Fsync::Everysec => {
            let now = now_sec();
            if now > aof.last_fsync_sec {
                if !aof.fsyncer.busy.load(Ordering::Acquire) {
                    aof.fsyncer.submit(file);
                    aof.last_incr_fsync_offset = aof.last_incr_size;
                }
                aof.last_fsync_sec = now;
            }
        }
        Fsync::No => {}
    }
}

/// Open `name` in the AOF directory for appending.
fn open_append(engine: &Engine, name: &str, truncate: bool) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true);
    if truncate {
        o.write(true).truncate(true);
    } else {
        o.append(true);
    }
    o.open(file_path(engine, name))
}

/// `aofOpenIfNeededOnServerStart`, after loading: with AOF on, make sure there is a base
/// (an empty dataset gets one written now), open the last incr file for appending (or a new
/// one), and persist the manifest. Any failure stops the server, as in Redis.
pub fn open_on_start(engine: &mut Engine) -> Result<(), String> {
    if engine.aof.state != State::On {
        return Ok(());
    }
    let dir = dir_path(engine);
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    let fname = engine.config.get_str("appendfilename").to_string();
    let had_incr = !engine.aof.manifest.incr.is_empty();
    if engine.aof.manifest.base.is_none() && !had_incr {
        let preamble = engine.config.get_bool("aof-use-rdb-preamble");
        let base = engine.aof.manifest.new_base(&fname, preamble);
        write_base(engine, &file_path(engine, &base))
            .map_err(|e| format!("Write error writing append only file on disk: {e}"))?;
        log::notice(&format!("Creating AOF base file {base} on server start"));
    }
    let incr = match engine.aof.manifest.incr.last() {
        Some(e) => e.name.clone(),
        None => engine.aof.manifest.new_incr(&fname),
    };
    let f = open_append(engine, &incr, false)
        .map_err(|e| format!("Can't open the append-only file {incr}: {e}"))?;
    persist_manifest(engine).map_err(|e| e.to_string())?;
    if had_incr {
        log::notice(&format!("Opening AOF incr file {incr} on server start"));
    } else {
        log::notice(&format!("Creating AOF incr file {incr} on server start"));
    }
    // History files a crash left in the manifest (a rewrite finished, their deletion did
    // not) go now, after the incr file is open, as Redis's start-up does (and logs).
    delete_history(engine);
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let aof = &mut engine.aof;
    aof.file = Some(f);
    aof.last_incr_size = size;
    aof.last_incr_fsync_offset = size;
    aof.selected_db = None;
    Ok(())
}

fn size_of(engine: &Engine, name: &str) -> u64 {
    std::fs::metadata(file_path(engine, name))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Write the whole keyspace as a base file at `path` through a temp file, fsync, rename
/// (`rewriteAppendOnlyFile`): an RDB marked `aof-base` with `aof-use-rdb-preamble yes`,
/// otherwise commands.
pub fn write_base(engine: &Engine, path: &std::path::Path) -> std::io::Result<()> {
    let tmp = PathBuf::from(format!("temp-rewriteaof-{}.aof", std::process::id()));
    let res = (|| {
        let f = File::create(&tmp)?;
        let mut f = std::io::BufWriter::with_capacity(64 * 1024, f);
        if engine.config.get_bool("aof-timestamp-enabled") {
            f.write_all(format!("#TS:{}\r\n", now_sec()).as_bytes())?;
        }
        let mut f = if engine.config.get_bool("aof-use-rdb-preamble") {
            use crate::rdb::writer::{Aux, WriteOptions, write_keyspace};
            let opts = WriteOptions::from_config(&engine.config);
            let mut aux = Aux::now(crate::cmd::info::process_memory().0);
            aux.aof_base = true;
            write_keyspace(&engine.keyspace, f, &opts, &aux)?
        } else {
            super::rewrite::write_commands(&engine.keyspace, engine.now_ms, &mut f)?;
            f
        };
        f.flush()?;
        let f = f.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// `openNewIncrAofForAppend`: writes from now on go to a new incr file (recorded in the
/// manifest at once), or to the temporary one while AOF is being turned on.
fn open_new_incr(engine: &mut Engine) -> std::io::Result<()> {
    if engine.aof.state == State::Off {
        return Ok(());
    }
    let fname = engine.config.get_str("appendfilename").to_string();
    let (name, new_manifest) = if engine.aof.state == State::WaitRewrite {
        (temp_incr_name(&fname), None)
    } else {
        let mut m = engine.aof.manifest.clone();
        let n = m.new_incr(&fname);
        (n, Some(m))
    };
    let f = open_append(engine, &name, true).inspect_err(|e| {
        log::warning(&format!("Can't open the append-only file {name}: {e}"));
    })?;
    if let Some(m) = new_manifest {
        let old = std::mem::replace(&mut engine.aof.manifest, m);
        if let Err(e) = persist_manifest(engine) {
            engine.aof.manifest = old;
            let _ = std::fs::remove_file(file_path(engine, &name));
            return Err(e);
        }
    }
    log::notice(&format!(
        "Creating AOF incr file {name} on background rewrite"
    ));
    // The old file's last writes reach the disk in the background (everysec) or already
    // did (always).
    if let Some(old) = engine.aof.file.take() {
        engine.aof.fsyncer.submit(&old);
    }
    let aof = &mut engine.aof;
    aof.file = Some(f);
    aof.last_incr_size = 0;
    aof.last_incr_fsync_offset = 0;
    Ok(())
}

fn temp_incr_name(appendfilename: &str) -> String {
    format!("temp-{appendfilename}.incr")
}

/// `rewriteAppendOnlyFileBackground`: open the next incr file, then fork a child that writes
/// the new base to `temp-rewriteaof-bg-<pid>.aof`. Returns the child's pid.
pub fn bgrewrite(engine: &mut Engine) -> std::io::Result<i32> {
    if engine.persist.child.is_some() {
        return Err(std::io::Error::other("another child process is active"));
    }
    let dir = dir_path(engine);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log::warning(&format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        ));
        engine.aof.last_bgrewrite_ok = false;
        return Err(e);
    }
    engine.aof.selected_db = None;
    flush(engine, true);
    if let Err(e) = open_new_incr(engine) {
        engine.aof.last_bgrewrite_ok = false;
        return Err(e);
    }
    engine.aof.rewrites += 1;
    let started = std::time::Instant::now();
    // SAFETY: as for BGSAVE (crate::persist::bgsave): the child reads its copy-on-write image
    // of the engine, writes one file and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        engine.aof.last_bgrewrite_ok = false;
        log::warning(&format!(
            "Can't rewrite append only file in background: fork: {e}"
        ));
        return Err(e);
    }
    if pid == 0 {
        log::set_role('C');
        let tmp = format!("temp-rewriteaof-bg-{}.aof", std::process::id());
        let code = match write_base(engine, std::path::Path::new(&tmp)) {
            Ok(()) => {
                log::notice(&format!(
                    "Successfully created the temporary AOF base file {tmp}"
                ));
                0
            }
            Err(e) => {
                log::warning(&format!(
                    "Write error writing append only file on disk: {e}"
                ));
                1
            }
        };
        unsafe { libc::_exit(code) };
    }
    let now = crate::cmd::engine::now_ms();
    crate::persist::record_fork(engine, pid, crate::persist::ChildKind::Aof, started);
    log::notice(&format!(
        "Background append only file rewriting started by pid {pid}"
    ));
    engine.aof.rewrite_scheduled = false;
    engine.aof.rewrite_time_start = now / 1000;
    Ok(pid)
}

/// `backgroundRewriteDoneHandler`: the child exited. On success the temp file becomes the
/// new base, the incr files it covers become history (and are deleted), the manifest is
/// rewritten; a runtime `CONFIG SET appendonly yes` is complete from here.
pub fn rewrite_done(engine: &mut Engine, pid: i32, ok: bool) {
    let tmp = PathBuf::from(format!("temp-rewriteaof-bg-{pid}.aof"));
    if ok {
        log::notice("Background AOF rewrite terminated with success");
        if let Err(e) = install_rewrite(engine, &tmp) {
            log::warning(&e);
            engine.aof.last_bgrewrite_ok = false;
            engine.aof.rewrites_consecutive_failures += 1;
        } else {
            engine.aof.last_bgrewrite_ok = true;
            engine.aof.rewrites_consecutive_failures = 0;
            log::notice("Background AOF rewrite finished successfully");
            if engine.aof.state == State::WaitRewrite {
                engine.aof.state = State::On;
            }
        }
    } else {
        engine.aof.last_bgrewrite_ok = false;
        engine.aof.rewrites_consecutive_failures += 1;
        log::warning("Background AOF rewrite terminated with error");
    }
    let _ = std::fs::remove_file(&tmp);
    if engine.aof.state == State::WaitRewrite {
        // The temporary incr file only made sense with this rewrite: start over.
        engine.aof.buf.clear();
        engine.aof.file = None;
        let name = temp_incr_name(engine.config.get_str("appendfilename"));
        log::notice(&format!(
            "Removing the temp incr aof file {name} in the background"
        ));
        let _ = std::fs::remove_file(file_path(engine, &name));
        engine.aof.rewrite_scheduled = true;
    }
    engine.aof.rewrite_time_last = now_sec() - engine.aof.rewrite_time_start;
    engine.aof.rewrite_time_start = -1;
}

fn install_rewrite(engine: &mut Engine, tmp: &std::path::Path) -> Result<(), String> {
    let fname = engine.config.get_str("appendfilename").to_string();
    let preamble = engine.config.get_bool("aof-use-rdb-preamble");
    let mut m = engine.aof.manifest.clone();
    let base = m.new_base(&fname, preamble);
    let base_path = file_path(engine, &base);
    std::fs::rename(tmp, &base_path).map_err(|e| {
        format!(
            "Error trying to rename the temporary AOF base file {} into {base}: {e}",
            tmp.display()
        )
    })?;
    log::notice(&format!(
        "Successfully renamed the temporary AOF base file {} into {base}",
        tmp.display()
    ));
    if engine.aof.state == State::WaitRewrite {
        let temp_incr = temp_incr_name(&fname);
        let incr = m.new_incr(&fname);
        std::fs::rename(file_path(engine, &temp_incr), file_path(engine, &incr)).map_err(|e| {
            let _ = std::fs::remove_file(&base_path);
            format!(
                "Error trying to rename the temporary AOF incr file {temp_incr} into {incr}: {e}"
            )
        })?;
        log::notice(&format!(
            "Successfully renamed the temporary AOF incr file {temp_incr} into {incr}"
        ));
    }
    m.incr_to_history(engine.aof.file.is_some());
    let old = std::mem::replace(&mut engine.aof.manifest, m);
    if let Err(e) = persist_manifest(engine) {
        engine.aof.manifest = old;
        let _ = std::fs::remove_file(&base_path);
        return Err(format!("Can't persist the AOF manifest: {e}"));
    }
    if engine.aof.state != State::Off {
        engine.aof.current_size = size_of(engine, &base) + engine.aof.last_incr_size;
        engine.aof.base_size = engine.aof.current_size;
    }
    delete_history(engine);
    Ok(())
}

/// `aofDelHistoryFiles` (unless `aof-disable-auto-gc yes`).
fn delete_history(engine: &mut Engine) {
    if engine.config.get_bool("aof-disable-auto-gc") || engine.aof.manifest.history.is_empty() {
        return;
    }
    for h in std::mem::take(&mut engine.aof.manifest.history) {
        log::notice(&format!(
            "Removing the history file {} in the background",
            h.name
        ));
        let _ = std::fs::remove_file(file_path(engine, &h.name));
    }
    let _ = persist_manifest(engine);
}

/// `startAppendOnly` (CONFIG SET appendonly yes): writes wait in a temporary incr file until
/// a rewrite has produced the base, so the AOF is never a log without a starting point.
pub fn start(engine: &mut Engine) -> Result<(), String> {
    engine.aof.state = State::WaitRewrite;
    engine.aof.selected_db = None;
    if let Some(child) = &engine.persist.child {
        if child.kind == crate::persist::ChildKind::Aof {
            log::warning(
                "AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.",
            );
            kill_child(engine);
        } else {
            engine.aof.rewrite_scheduled = true;
            log::warning(
                "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.",
            );
            return Ok(());
        }
    }
    if engine.in_exec {
        engine.aof.rewrite_scheduled = true;
        log::warning(
            "AOF was enabled during a transaction. An AOF background was scheduled to start when possible.",
        );
        return Ok(());
    }
    if bgrewrite(engine).is_err() {
        engine.aof.state = State::Off;
        log::warning(
            "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.",
        );
        return Err("-ERR".into());
    }
    engine.aof.last_fsync_sec = now_sec();
    Ok(())
}

/// `stopAppendOnly` (CONFIG SET appendonly no).
pub fn stop(engine: &mut Engine) {
    flush(engine, true);
    if let Some(f) = &engine.aof.file
        && let Err(e) = f.sync_data()
    {
        log::warning(&format!("Fail to fsync the AOF file: {e}"));
    }
    let aof = &mut engine.aof;
    aof.file = None;
    aof.selected_db = None;
    aof.state = State::Off;
    aof.rewrite_scheduled = false;
    aof.last_incr_size = 0;
    aof.last_incr_fsync_offset = 0;
    aof.buf.clear();
    kill_child(engine);
}

/// `killAppendOnlyChild`.
fn kill_child(engine: &mut Engine) {
    let Some(child) = engine.persist.child.clone() else {
        return;
    };
    if child.kind != crate::persist::ChildKind::Aof {
        return;
    }
    log::notice(&format!("Killing running AOF rewrite child: {}", child.pid));
    unsafe {
        libc::kill(child.pid, libc::SIGUSR1);
        let mut status = 0;
        libc::waitpid(child.pid, &mut status, 0);
    }
    let _ = std::fs::remove_file(format!("temp-rewriteaof-bg-{}.aof", child.pid));
    engine.persist.child = None;
    engine.aof.rewrite_time_start = -1;
}

/// From the cron: a scheduled rewrite whose turn came, the automatic rewrite
/// (`auto-aof-rewrite-percentage` growth over the size after the last rewrite, once above
/// `auto-aof-rewrite-min-size`), and the once-a-second fsync of `everysec`.
pub fn cron(engine: &mut Engine) {
    if engine.persist.child.is_none() && engine.aof.rewrite_scheduled {
        let _ = bgrewrite(engine);
    }
    if engine.aof.state == State::On && engine.persist.child.is_none() {
        let perc = engine.config.get_i64("auto-aof-rewrite-percentage");
        let min = engine.config.get_i64("auto-aof-rewrite-min-size").max(0) as u64;
        let cur = engine.aof.current_size;
        if perc > 0 && cur > min {
            let base = engine.aof.base_size.max(1);
            let growth = (cur as i64 * 100 / base as i64) - 100;
            if growth >= perc {
                log::notice(&format!(
                    "Starting automatic rewriting of AOF on {growth}% growth"
                ));
                let _ = bgrewrite(engine);
            }
        }
    }
    if engine.aof.state != State::Off {
        flush(engine, false);
    }
}

/// On the way out (`prepareForShutdown`): write what is buffered and fsync.
pub fn shutdown(engine: &mut Engine) {
    if engine.aof.state == State::Off {
        return;
    }
    kill_child(engine);
    log::notice("Calling fsync() on the AOF file.");
    flush(engine, true);
    if let Some(f) = &engine.aof.file {
        let _ = f.sync_data();
    }
}
