//! Loading an AOF at start-up (Redis's `loadAppendOnlyFiles` and `loadSingleAppendOnlyFile`):
//! read the manifest, then replay the base file and every incr file, in manifest order, into
//! the keyspace.
//!
//! Every file goes through the shared [`reader`](super::reader): an RDB base (or preamble)
//! becomes keys through the RDB loader, commands run through `cmd::execute` on a client of
//! their own — the same code that serves clients, so a replayed command has exactly the
//! effect it had when it was appended. Nothing is propagated while loading (the AOF is not
//! on yet and no replica is attached).
//!
//! A file that ends inside a command is *truncated* (a crash during a write): with
//! `aof-load-truncated yes`, and only for the last file, it is cut back to its last complete
//! command and loading goes on, as Redis does; anything else is fatal, with Redis's messages.
//! An AOF from Redis 6 or older (`appendfilename` in `dir`, no directory) is migrated into
//! the directory first, as its base.
//!
//! The log says what Redis 7.0's says, line for line (checked against a real start-up on the
//! fixtures, see `tests/aof_serve.rs`): an RDB part announces itself ("Reading RDB base file
//! on AOF loading...", or "...preamble from AOF file..." for an old-style file), its aux
//! fields and key count follow ([`crate::rdb::load_log`]), then one "DB loaded from ..." line
//! per file and one for the whole.

use super::manifest::{Manifest, manifest_name};
use super::reader::{AofErrorKind, Event, Reader};
use crate::cmd::Engine;
use crate::log;
use std::io::Read;
use std::path::Path;

use crate::persist::LoadPacing;

/// How one file ended.
enum FileResult {
    Ok,
    /// Cut back to its last complete command (aof-load-truncated).
    Truncated,
    /// A shutdown signal stopped the replay (see [`LoadPacing`]).
    Stopped,
}

/// Read the manifest (if the directory and manifest exist) and replay the files it names.
/// Returns the number of keys in the dataset afterwards, or `None` when a shutdown signal
/// stopped the replay.
pub fn load_at_startup(engine: &mut Engine) -> Result<Option<u64>, String> {
    let dir = super::writer::dir_path(engine);
    let fname = engine.config.get_str("appendfilename").to_string();
    let mpath = dir.join(manifest_name(&fname));
    let manifest = match std::fs::read(&mpath) {
        Ok(data) => Manifest::parse(&data).map_err(|e| {
            let mut msg = String::from("\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
            if let Some(t) = &e.text {
                msg.push_str(&format!(
                    "Reading the manifest file, at line {}\n>>> '{t}'\n",
                    e.line
                ));
            }
            msg.push_str(e.message);
            msg
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
        Err(e) => {
            return Err(format!(
                "Fatal error: can't open the AOF manifest file {}: {e}",
                mpath.display()
            ));
        }
    };
    engine.aof.manifest = manifest;
    // An old single-file AOF next to no (or an empty) manifest: make it the base.
    if Path::new(&fname).is_file()
        && engine.aof.manifest.base.is_none()
        && engine.aof.manifest.incr.is_empty()
    {
        upgrade(engine, &fname)?;
    }
    let files: Vec<(String, bool)> = {
        let m = &engine.aof.manifest;
        let base = m.base.iter().map(|e| (e.name.clone(), true));
        base.chain(m.incr.iter().map(|e| (e.name.clone(), false)))
            .collect()
    };
    if files.is_empty() {
        return Ok(Some(0));
    }
    let mut total = 0u64;
    for (name, _) in &files {
        match std::fs::metadata(dir.join(name)) {
            Ok(m) => total += m.len(),
            Err(_) => {
                return Err(format!(
                    "The append log file {name} doesn't exist: No such file or directory"
                ));
            }
        }
    }
    if total == 0 {
        return Ok(Some(0));
    }
    let started = std::time::Instant::now();
    let count = files.len();
    let mut base_size = 0;
    let mut pacing = LoadPacing::new(engine);
    for (i, (name, is_base)) in files.iter().enumerate() {
        let path = dir.join(name);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if *is_base {
            base_size = size;
        }
        if size == 0 {
            continue;
        }
        let last = i + 1 == count;
        let t = std::time::Instant::now();
        // Redis tells an old-style AOF (one file named `appendfilename`, its RDB part a
        // "preamble" with a "tail" of commands) from a base file by its name alone.
        let old_style = *name == fname;
        let res = load_file(engine, &path, name, old_style, last, &mut pacing)?;
        if matches!(res, FileResult::Stopped) {
            return Ok(None);
        }
        let kind = if *is_base { "base" } else { "incr" };
        if matches!(res, FileResult::Ok) || last {
            log::notice(&format!(
                "DB loaded from {kind} file {name}: {:.3} seconds",
                t.elapsed().as_secs_f64()
            ));
        }
    }
    log::notice(&format!(
        "DB loaded from append only file: {:.3} seconds",
        started.elapsed().as_secs_f64()
    ));
    engine.aof.current_size = files
        .iter()
        .map(|(n, _)| std::fs::metadata(dir.join(n)).map(|m| m.len()).unwrap_or(0))
        .sum();
    engine.aof.base_size = base_size;
    let keys: u64 = engine.keyspace.dbs.iter().map(|d| d.len() as u64).sum();
    engine.persist.loaded_keys = keys;
    Ok(Some(keys))
}

/// `aofUpgradePrepare`: move `appendfilename` into the directory as the base, seq 1.
fn upgrade(engine: &mut Engine, fname: &str) -> Result<(), String> {
    let dir = super::writer::dir_path(engine);
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    engine.aof.manifest = Manifest::default();
    engine.aof.manifest.base = Some(super::manifest::Entry {
        name: fname.to_string(),
        seq: 1,
        kind: super::manifest::FileType::Base,
    });
    engine.aof.manifest.base_seq = 1;
    super::writer::persist_manifest(engine).map_err(|e| e.to_string())?;
    std::fs::rename(fname, dir.join(fname)).map_err(|e| {
        format!(
            "Error trying to move the old AOF file {fname} into dir {}: {e}",
            dir.display()
        )
    })?;
    log::notice(&format!(
        "Successfully migrated an old-style AOF file ({fname}) into the AOF directory ({}).",
        dir.display()
    ));
    Ok(())
}

/// Replay one file. Errors are Redis's fatal messages.
fn load_file(
    engine: &mut Engine,
    path: &Path,
    name: &str,
    old_style: bool,
    last: bool,
    pacing: &mut LoadPacing,
) -> Result<FileResult, String> {
    let mut f = std::fs::File::open(path).map_err(|e| {
        format!("Fatal error: can't open the append log file {name} for reading: {e}")
    })?;
    let fix_hint =
        "make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>";
    let mut reader = Reader::new();
    let mut loader = crate::rdb::load::Loader::new(engine.thresholds);
    let mut client = crate::cmd::client::Client::new(u64::MAX, true);
    client.is_master = true;
    let mut sink = crate::resp::Reply::new(false);
    let mut buf = vec![0u8; 64 * 1024];
    let mut announced_rdb = false;
    let mut rdb_db = 0u64;
    // An RDB base is loaded as an AOF preamble: keys past their TTL are kept (the commands
    // after them may touch them), so "keys expired" stays 0, as in Redis.
    let mut rdb_log = crate::rdb::load_log::LoadLog::default();
    let mut eof = false;
    // Bytes of the file read so far.
    let mut read = 0u64;
    loop {
        let ev = match reader.next_event() {
            Ok(Some(ev)) => ev,
            Ok(None) if !eof => {
                let n = f.read(&mut buf).map_err(|e| {
                    format!("Unrecoverable error reading the append only file {name}: {e}")
                })?;
                if n == 0 {
                    eof = true;
                    if let Err(e) = reader.finish() {
                        return finish_error(engine, path, name, last, e, old_style, fix_hint);
                    }
                } else {
                    read += n as u64;
                    reader.feed(&buf[..n]);
                }
                continue;
            }
            Ok(None) => break,
            Err(e) => return finish_error(engine, path, name, last, e, old_style, fix_hint),
        };
        match ev {
            Event::Rdb(rev) => {
                if !announced_rdb {
                    announced_rdb = true;
                    log::notice(if old_style {
                        "Reading RDB preamble from AOF file..."
                    } else {
                        "Reading RDB base file on AOF loading..."
                    });
                }
                if let crate::rdb::event::Event::Aux { name, value, .. } = &rev {
                    rdb_log.aux(name, value);
                }
                crate::rdb::load::presize(&mut engine.keyspace, &rev, &mut rdb_db);
                let placed = match loader.push(rev) {
                    Ok(Some(crate::rdb::load::Loaded::Key(k))) => {
                        rdb_log.keys_loaded += 1;
                        let placed = crate::rdb::load::place(&mut engine.keyspace, k);
                        if placed.is_ok() && pacing.after_key(read) {
                            return Ok(FileResult::Stopped);
                        }
                        placed
                    }
                    Ok(Some(crate::rdb::load::Loaded::Empty { key, .. })) => {
                        rdb_log.empty_key(&key);
                        Ok(())
                    }
                    other => other.map(|_| ()),
                };
                match placed {
                    Ok(()) => {}
                    Err(e) => {
                        log::warning(&format!("{e}"));
                        return Err(rdb_failed(name, old_style));
                    }
                }
            }
            Event::RdbEnd { .. } => {
                rdb_log.done();
                if old_style {
                    log::notice("Reading the remaining AOF tail...");
                }
            }
            Event::Annotation { .. } => {}
            Event::Command { args, .. } => {
                let argv: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
                if engine.table.lookup(argv[0]).is_none() {
                    return Err(format!(
                        "Unknown command '{}' reading the append only file {name}",
                        String::from_utf8_lossy(argv[0])
                    ));
                }
                engine.now_ms = crate::cmd::engine::now_ms();
                crate::cmd::execute(engine, &mut client, &argv, &mut sink);
                sink.buf.clear();
                if pacing.after_command() {
                    return Ok(FileResult::Stopped);
                }
            }
        }
    }
    Ok(FileResult::Ok)
}

fn rdb_failed(name: &str, old_style: bool) -> String {
    if old_style {
        format!("Error reading the RDB preamble of the AOF file {name}, AOF loading aborted")
    } else {
        format!("Error reading the RDB base file {name}, AOF loading aborted")
    }
}

/// The reader stopped: a truncation may be forgiven (last file, aof-load-truncated yes),
/// anything else ends the start-up.
fn finish_error(
    engine: &mut Engine,
    path: &Path,
    name: &str,
    last: bool,
    e: super::reader::AofError,
    old_style: bool,
    fix_hint: &str,
) -> Result<FileResult, String> {
    match e.kind {
        AofErrorKind::Truncated { valid_up_to } => {
            if !engine.config.get_bool("aof-load-truncated") {
                return Err(format!(
                    "Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
                ));
            }
            log::warning(&format!(
                "!!! Warning: short read while loading the AOF file {name}!!!"
            ));
            log::warning(&format!(
                "!!! Truncating the AOF {name} at offset {valid_up_to} !!!"
            ));
            let cut = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| f.set_len(valid_up_to));
            if let Err(err) = cut {
                return Err(format!("Error truncating the AOF file {name}: {err}"));
            }
            log::warning(&format!(
                "AOF {name} loaded anyway because aof-load-truncated is enabled"
            ));
            if !last {
                return Err("Fatal error: the truncated file is not the last file".into());
            }
            Ok(FileResult::Truncated)
        }
        AofErrorKind::BadFormat { .. } => Err(format!(
            "Bad file format reading the append only file {name}: {fix_hint}"
        )),
        AofErrorKind::Rdb(err) => {
            log::warning(&format!("{err}"));
            Err(rdb_failed(name, old_style))
        }
    }
}
