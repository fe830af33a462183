//! `rtool aof rewrite PATH --out DIR`: an offline BGREWRITEAOF, explained.
//!
//! Redis rewrites an AOF by forking and dumping its memory; a user holding a many-GB AOF
//! next to a small dataset has no server to ask. This command does the same work without
//! one: it reads PATH (a single file, an AOF directory, or its manifest) with the one AOF
//! decoder ([`crate::aof::reader`]), replays every command into an in-memory [`Engine`] —
//! the same keyspace and command code `rtool serve` runs — and writes the result the way
//! Redis 7.0 would after a rewrite: a directory with a base file (an RDB with
//! `aof-base=1`, or commands from [`crate::aof::rewrite`]), an empty incr file and the
//! manifest, so `redis-server --dir <parent> --appendonly yes --appenddirname <DIR>` loads it.
//!
//! Replaying follows Redis's loader (`loadSingleAppendOnlyFile`): each file starts in db 0
//! with a fresh client; nothing expires while loading (an AOF carries the `DEL`s its server
//! propagated when keys expired, so replaying them is what keeps the history straight);
//! errors of individual commands are ignored, but a command the server does not know stops
//! the load; a torn command at the end of the last file is cut off (`aof-load-truncated
//! yes`). Keys whose time has passed by the end are left out of the output.
//!
//! The explanation counts, per key, the commands that named it before and the commands (or
//! RDB records) that rebuild it after, and lists the keys that collapsed most.

use crate::aof::layout::Layout;
use crate::aof::manifest::{self, Manifest};
use crate::aof::reader::{AofError, AofErrorKind, Event, Reader};
use crate::aof::rewrite::{CommandWriter, RewriteStats};
use crate::cmd::{Client, Engine, execute};
use crate::config::Config;
use crate::keyspace::Value;
use crate::rdb::load::{Loaded, Loader};
use crate::rdb::writer::{Aux, WriteOptions, Writer};
use crate::resp::Reply;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};

/// `rtool aof rewrite ...`
#[derive(Args, Debug, Clone)]
pub struct RewriteArgs {
    /// The AOF to rewrite: a file, an AOF directory (with its manifest), or a manifest.
    pub path: PathBuf,
    /// The new AOF directory (created; it must not already hold a manifest). Redis loads it
    /// with `--dir <its parent> --appendonly yes --appenddirname <its name>`.
    #[arg(
        long,
        required_unless_present = "single_file",
        conflicts_with = "single_file"
    )]
    pub out: Option<PathBuf>,
    /// Write one file instead of a directory (what Redis before 7.0 used).
    #[arg(long, value_name = "FILE")]
    pub single_file: Option<PathBuf>,
    /// `aof-use-rdb-preamble`: the base as an RDB (yes, Redis's default) or as commands.
    #[arg(long, value_enum, default_value_t = YesNo::Yes)]
    pub preamble: YesNo,
    /// `appendfilename`: the prefix of the file names in the new directory.
    #[arg(long, default_value = "appendonly.aof")]
    pub appendfilename: String,
    /// How the explanation is printed.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
    /// How many keys to list by reduction (0: count no keys, which saves memory on huge
    /// files).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum YesNo {
    Yes,
    No,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainFormat {
    Text,
    Json,
}

/// Run the subcommand, printing the explanation to stdout.
pub fn run(args: RewriteArgs) -> Result<i32> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let (_, replay) = rewrite_keeping(&args, &mut out)?;
    // The process ends now: freeing millions of values one by one would only cost time.
    std::mem::forget(replay);
    Ok(0)
}

/// The whole rewrite; the explanation goes to `out`.
pub fn rewrite(args: &RewriteArgs, out: &mut dyn Write) -> Result<Explanation> {
    rewrite_keeping(args, out).map(|(ex, _)| ex)
}

/// [`rewrite`], handing back the replayed engine too.
fn rewrite_keeping(args: &RewriteArgs, out: &mut dyn Write) -> Result<(Explanation, Replay)> {
    let input = Input::resolve(&args.path)?;
    let mut replay = Replay::new(args.top > 0);
    let last = input.files.len().saturating_sub(1);
    for (i, f) in input.files.iter().enumerate() {
        replay
            .file(f, i == last)
            .with_context(|| format!("reading {}", f.display()))?;
    }
    let expired = replay.drop_expired();
    let rdb = args.preamble == YesNo::Yes;
    let written = match (&args.out, &args.single_file) {
        (Some(dir), _) => write_dir(&mut replay, dir, &args.appendfilename, rdb)?,
        (None, Some(file)) => {
            let stats = write_base(&mut replay, file, rdb)?;
            vec![(display_name(file), stats)]
        }
        (None, None) => bail!("give --out DIR or --single-file FILE"),
    };
    let ex = replay.explain(&input, written, rdb, expired, args.top);
    match args.format {
        ExplainFormat::Text => ex.write_text(out)?,
        ExplainFormat::Json => {
            serde_json::to_writer(&mut *out, &ex.to_json())?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok((ex, replay))
}

// ---------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------

/// The files to replay, in order.
struct Input {
    /// What the user named, as shown.
    shown: String,
    /// The manifest's name, when the input is a directory.
    manifest: Option<String>,
    files: Vec<PathBuf>,
}

impl Input {
    /// The shared layout rules of `aof dump` / `aof check` ([`Layout::open`]).
    fn resolve(path: &Path) -> Result<Input> {
        let layout = Layout::open(path)?;
        let manifest = match &layout {
            Layout::Multi { manifest_path, .. } => Some(display_name(manifest_path)),
            Layout::Single(_) => None,
        };
        let files: Vec<PathBuf> = layout.load_order().iter().map(|p| p.path.clone()).collect();
        if files.is_empty() {
            bail!(
                "{}: the manifest names no base and no incr file",
                path.display()
            );
        }
        Ok(Input {
            shown: path.display().to_string(),
            manifest,
            files,
        })
    }
}

fn display_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

// ---------------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------------

/// Per key: commands that named it in the input, and what rebuilds it in the output.
/// (32-bit counts, saturating: this map holds every key of the input, so it stays small.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct KeyCount {
    before: u32,
    after: u32,
    /// Where the name is in [`KeyCounts::arena`].
    name_at: u64,
    name_len: u32,
    /// It came from an RDB preamble (as one record) rather than from commands alone.
    preamble: bool,
}

/// One input file's share of the "before" side.
#[derive(Clone, Debug, Default)]
pub struct FileStats {
    pub name: String,
    pub bytes: u64,
    pub commands: u64,
    pub annotations: u64,
    /// Keys in its RDB preamble (0 when it has none).
    pub preamble_keys: Option<u64>,
    /// Bytes cut off a torn end (the last file only, like `aof-load-truncated yes`).
    pub truncated: Option<u64>,
}

/// The input replayed into an engine.
struct Replay {
    engine: Engine,
    reply: Reply,
    /// Per key counts (empty when not tracking keys).
    keys: KeyCounts,
    track: bool,
    files: Vec<FileStats>,
    /// Commands that name no key (SELECT, MULTI, EXEC, FLUSHALL ...).
    keyless: u64,
    /// Commands executed so far.
    replayed: u64,
    /// Commands answered with an error (Redis's loader ignores those too), and the first few.
    errors: u64,
    first_errors: Vec<String>,
}

/// Every key the input names, with its counts. A key is found by a 64-bit hash of its name
/// alone (two names sharing one among a few million keys has odds of about 1 in 10^6, and
/// would only merge two lines of the explanation); names are kept once each, back to back in
/// one arena, for the report. So a lookup touches one table slot and no separately allocated
/// key, which keeps this bookkeeping cheap next to the replay itself.
struct KeyCounts {
    /// Per database: hash of the name -> counts.
    maps: Vec<HashMap<u64, KeyCount, BuildHasherDefault<IdHasher>>>,
    arena: Vec<u8>,
    /// The key of the last command and how many more commands in a row named it since its
    /// count was last stored: a run of pushes to one list costs no table lookups.
    run: (usize, u64),
    run_len: u32,
}

impl KeyCounts {
    fn new(dbs: usize) -> KeyCounts {
        KeyCounts {
            maps: (0..dbs).map(|_| HashMap::default()).collect(),
            arena: Vec::new(),
            run: (usize::MAX, 0),
            run_len: 0,
        }
    }

    /// One more command named `key` in `db`.
    #[inline]
    fn named(&mut self, db: usize, key: &[u8]) {
        let h = hash_key(key);
        if self.run == (db, h) {
            self.run_len += 1;
            return;
        }
        self.flush_run();
        self.run = (db, h);
        let c = self.get_hashed(db, h, key);
        c.before = c.before.saturating_add(1);
    }

    /// Stores the pending run; call before reading the counts.
    fn flush_run(&mut self) {
        if self.run_len > 0 {
            let (db, h) = self.run;
            let db = db.min(self.maps.len() - 1);
            if let Some(c) = self.maps[db].get_mut(&h) {
                c.before = c.before.saturating_add(self.run_len);
            }
            self.run_len = 0;
        }
    }

    /// The counts of `key` in `db`, created at zero the first time.
    fn get(&mut self, db: usize, key: &[u8]) -> &mut KeyCount {
        self.get_hashed(db, hash_key(key), key)
    }

    #[inline]
    fn get_hashed(&mut self, db: usize, h: u64, key: &[u8]) -> &mut KeyCount {
        let db = db.min(self.maps.len() - 1);
        let arena = &mut self.arena;
        self.maps[db].entry(h).or_insert_with(|| {
            let name_at = arena.len() as u64;
            arena.extend_from_slice(key);
            KeyCount {
                name_at,
                name_len: key.len() as u32,
                ..KeyCount::default()
            }
        })
    }

    fn name(&self, c: &KeyCount) -> &[u8] {
        let at = c.name_at as usize;
        &self.arena[at..at + c.name_len as usize]
    }
}

/// A multiply-rotate hash over 8-byte words with a final avalanche (splitmix64's), so that
/// keys differing only in their last characters still spread over the table's bits.
fn hash_key(key: &[u8]) -> u64 {
    let mut h = (key.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut add = |w: u64| h = (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        add(u64::from_le_bytes(c.try_into().unwrap()));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        add(u64::from_le_bytes(b));
    }
    let mut z = h;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The table's keys are already hashes: pass them through.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; this is never reached, but must be total.
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// How many error examples the explanation quotes.
const ERROR_EXAMPLES: usize = 3;
/// Input is read in chunks of this size.
const CHUNK: usize = 1 << 20;

impl Replay {
    fn new(track: bool) -> Replay {
        let mut engine = Engine::new(Config::default());
        // Loading, not serving: no lazy expiry (the file has the DELs), and the commands
        // come from the file's own "master", which never blocks and trims exactly.
        engine.is_replica = true;
        engine.active_expire = false;
        let dbs = engine.keyspace.dbs.len();
        Replay {
            engine,
            reply: Reply::new(false),
            keys: KeyCounts::new(dbs),
            track,
            files: Vec::new(),
            keyless: 0,
            replayed: 0,
            errors: 0,
            first_errors: Vec::new(),
        }
    }

    /// A client as Redis's loader makes one per file: db 0, no transaction.
    fn client(&mut self) -> Client {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let id = self.engine.add_client("aof".into(), "aof".into(), tx);
        let mut c = Client::new(id, true);
        c.is_master = true;
        c
    }

    /// Replays one file. Decoding runs on a thread of its own and hands over events in
    /// batches, so reading and parsing overlap with executing (Redis's loader does both on
    /// one thread; here the second core would otherwise sit idle).
    fn file(&mut self, path: &Path, last: bool) -> Result<()> {
        let file = File::open(path)?;
        let mut st = FileStats {
            name: display_name(path),
            ..FileStats::default()
        };
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
            let (done_tx, done_rx) = std::sync::mpsc::sync_channel(QUEUE);
            scope.spawn(move || decode(file, tx, done_rx));
            // `rx` is dropped when `replay` returns, even early on an error: the decoder's
            // next send fails and it stops, so the scope can end.
            self.replay(rx, done_tx, last, &mut st)
        })?;
        self.files.push(st);
        Ok(())
    }

    /// Executes the batches the decoder sends, and sends each one back when done: freeing
    /// millions of small argument buffers is then the decoder thread's work, not this one's.
    fn replay(
        &mut self,
        rx: Receiver<Decoded>,
        done: SyncSender<Vec<Event>>,
        last: bool,
        st: &mut FileStats,
    ) -> Result<()> {
        let mut client = self.client();
        let mut loader: Option<Loader> = None;
        let result = loop {
            match rx.recv() {
                Ok(Decoded::Events(mut batch)) => {
                    for ev in batch.iter_mut() {
                        if let Err(e) = self.event(ev, &mut client, &mut loader, st) {
                            self.engine.remove_client(&mut client);
                            return Err(e);
                        }
                    }
                    // If the decoder is not taking them back (it has finished), drop here.
                    let _ = done.try_send(batch);
                }
                Ok(Decoded::End { bytes, result }) => {
                    st.bytes = bytes;
                    break result;
                }
                Err(_) => break Err(anyhow::anyhow!("the decoder thread stopped")),
            }
        };
        self.engine.remove_client(&mut client);
        match result {
            Ok(()) => Ok(()),
            Err(e) => match e.downcast::<AofError>() {
                // `aof-load-truncated yes`: a torn end of the last file is cut off (a MULTI
                // left open dies with this file's client); anywhere else it is fatal.
                Ok(AofError {
                    kind: AofErrorKind::Truncated { valid_up_to },
                    ..
                }) if last => {
                    st.truncated = Some(st.bytes.saturating_sub(valid_up_to));
                    Ok(())
                }
                Ok(ae) => Err(ae.into()),
                Err(other) => Err(other),
            },
        }
    }

    /// One decoded event into the engine.
    /// One decoded event into the engine. Commands are only borrowed; an RDB event is taken
    /// out of the batch (the loader keeps its pieces).
    fn event(
        &mut self,
        ev: &mut Event,
        client: &mut Client,
        loader: &mut Option<Loader>,
        st: &mut FileStats,
    ) -> Result<()> {
        match ev {
            Event::Command { args, .. } => {
                st.commands += 1;
                self.command(client, args)?;
            }
            Event::Annotation { .. } => st.annotations += 1,
            Event::Rdb(_) => {
                let Event::Rdb(ev) = std::mem::replace(ev, Event::RdbEnd { offset: 0 }) else {
                    unreachable!("matched just above")
                };
                let l = loader.get_or_insert_with(|| Loader::new(self.engine.thresholds));
                if let crate::rdb::Event::SelectDb { db, .. } = &ev
                    && *db >= self.engine.keyspace.dbs.len() as u64
                {
                    bail!("the RDB preamble selects db {db}, beyond the 16 databases");
                }
                if let Some(Loaded::Key(k)) = l.push(ev)? {
                    *st.preamble_keys.get_or_insert(0) += 1;
                    let db = k.db as usize;
                    if self.track {
                        self.keys.get(db, &k.key).preamble = true;
                    }
                    let d = &mut self.engine.keyspace.dbs[db];
                    d.set(k.key.clone(), k.value);
                    if let Some(t) = k.expire_ms {
                        d.set_expire(&k.key, t);
                    }
                }
            }
            Event::RdbEnd { .. } => {
                if let Some(l) = loader.take()
                    && !l.functions.is_empty()
                {
                    bail!(
                        "the RDB preamble holds {} function libraries; rtool has no functions",
                        l.functions.len()
                    );
                }
                st.preamble_keys.get_or_insert(0);
            }
        }
        Ok(())
    }

    /// One command through the engine, as the loader's fake client.
    fn command(&mut self, client: &mut Client, args: &[Bytes]) -> Result<()> {
        let argv: smallvec::SmallVec<[&[u8]; 8]> = args.iter().map(|a| a.as_ref()).collect();
        if self.track {
            self.count_keys(client.db, &argv);
        }
        // The clock only matters to commands with relative times (EXPIRE, SET EX of a
        // pre-7.0 file); reading it every 256 commands keeps it within a millisecond or so.
        self.replayed += 1;
        if self.replayed % 256 == 1 {
            self.engine.now_ms = crate::cmd::engine::now_ms();
        }
        self.reply.buf.clear();
        execute(&mut self.engine, client, &argv, &mut self.reply);
        self.engine.requests.clear();
        if self.reply.buf.first() == Some(&b'-') {
            let text = String::from_utf8_lossy(&self.reply.buf[1..]);
            let text = text.trim_end().to_string();
            let name = String::from_utf8_lossy(argv[0]).to_string();
            // Redis stops loading on a command it does not know; rtool also on one it does
            // not implement, or on a failed SELECT (everything after would land elsewhere).
            if text.starts_with("ERR unknown command")
                || text.contains("not supported by rtool")
                || name.eq_ignore_ascii_case("select")
            {
                bail!("{name}: {text}");
            }
            self.errors += 1;
            if self.first_errors.len() < ERROR_EXAMPLES {
                self.first_errors.push(format!("{name}: {text}"));
            }
        }
        Ok(())
    }

    /// Attributes a command to the keys it names (the command table's first/last/step).
    fn count_keys(&mut self, db: usize, argv: &[&[u8]]) {
        let table = &self.engine.table;
        let Some(mut idx) = table.lookup(argv[0]) else {
            self.keyless += 1;
            return;
        };
        if !table.specs[idx].subcommands.is_empty()
            && argv.len() > 1
            && let Some(sub) = table.lookup_sub(idx, argv[1])
        {
            idx = sub;
        }
        let spec = &table.specs[idx];
        let argc = argv.len() as i32;
        let first = spec.first_key;
        let last = if spec.last_key < 0 {
            argc + spec.last_key
        } else {
            spec.last_key
        };
        let step = spec.step.max(1);
        if first <= 0 || first >= argc {
            self.keyless += 1;
            return;
        }
        let mut i = first;
        while i <= last.min(argc - 1) {
            self.keys.named(db, argv[i as usize]);
            i += step;
        }
    }

    /// Removes keys whose time has passed (the output leaves them out); returns how many.
    /// The input is done by now: the key counts are completed too.
    fn drop_expired(&mut self) -> u64 {
        self.keys.flush_run();
        let now = crate::cmd::engine::now_ms();
        let mut n = 0;
        for db in &mut self.engine.keyspace.dbs {
            let gone: Vec<Bytes> = db
                .expires
                .iter()
                .filter(|(_, t)| **t <= now)
                .map(|(k, _)| k.clone())
                .collect();
            for k in gone {
                db.remove(&k);
                n += 1;
            }
        }
        n
    }

    fn explain(
        &self,
        input: &Input,
        written: Vec<(String, RewriteStats)>,
        rdb: bool,
        expired: u64,
        top: usize,
    ) -> Explanation {
        let before_commands = self.files.iter().map(|f| f.commands).sum();
        let before_bytes = self.files.iter().map(|f| f.bytes).sum();
        let keys_written: u64 = self
            .engine
            .keyspace
            .dbs
            .iter()
            .map(|d| d.len() as u64)
            .sum();
        let after = written.first().map(|w| w.1).unwrap_or_default();
        let mut touched = 0u64;
        let mut gone = 0u64;
        let mut from_preamble = 0u64;
        // The `top` keys with the biggest reduction, kept in a min-heap of that size.
        // (reduction, before, db, key): the smallest reduction on top, to be dropped first.
        type Ranked<'a> = std::cmp::Reverse<(u32, u32, usize, &'a [u8], KeyCount)>;
        let mut heap: BinaryHeap<Ranked> = BinaryHeap::new();
        for (db, map) in self.keys.maps.iter().enumerate() {
            for c in map.values() {
                if c.before > 0 {
                    touched += 1;
                }
                if c.preamble {
                    from_preamble += 1;
                }
                // Every key written got an "after" of at least one.
                if c.after == 0 {
                    gone += 1;
                }
                let reduction = c.before.saturating_sub(c.after);
                if reduction == 0 || top == 0 {
                    continue;
                }
                let name = self.keys.name(c);
                heap.push(std::cmp::Reverse((reduction, c.before, db, name, *c)));
                if heap.len() > top {
                    heap.pop();
                }
            }
        }
        let mut top_keys: Vec<KeyChange> = heap
            .into_iter()
            .map(|std::cmp::Reverse((_, _, db, key, c))| {
                let kind = self.engine.keyspace.dbs[db]
                    .dict
                    .get(key)
                    .map(Value::type_name)
                    .unwrap_or("(gone)");
                KeyChange {
                    db,
                    key: Bytes::copy_from_slice(key),
                    kind,
                    before: c.before.into(),
                    after: c.after.into(),
                }
            })
            .collect();
        top_keys.sort_by(|a, b| {
            (b.before - b.after, b.before, a.db, &a.key).cmp(&(
                a.before - a.after,
                a.before,
                b.db,
                &b.key,
            ))
        });
        Explanation {
            input: input.shown.clone(),
            manifest: input.manifest.clone(),
            files: self.files.clone(),
            before_commands,
            before_bytes,
            rdb,
            written,
            after,
            keys_written,
            keys_tracked: self.track,
            keys_touched: touched,
            keys_gone: gone,
            keys_from_preamble: from_preamble,
            keys_expired_at_end: expired,
            keyless_commands: self.keyless,
            errors: self.errors,
            first_errors: self.first_errors.clone(),
            top: top_keys,
        }
    }
}

/// What the decoder thread hands over.
enum Decoded {
    Events(Vec<Event>),
    /// The end of the file (`bytes` read in all) and the reader's verdict.
    End {
        bytes: u64,
        result: Result<()>,
    },
}

/// Events per batch, and batches in flight: enough to keep both threads busy, little memory.
const BATCH: usize = 4096;
const QUEUE: usize = 4;

/// The decoder thread: reads the file in chunks through the AOF reader and sends events;
/// drops the batches the replay hands back. Stops quietly when the replay side has gone away.
fn decode(mut file: File, tx: SyncSender<Decoded>, done: Receiver<Vec<Event>>) {
    let mut reader = Reader::new();
    let mut buf = vec![0u8; CHUNK];
    let mut batch = Vec::with_capacity(BATCH);
    let mut bytes = 0u64;
    let end = |tx: &SyncSender<Decoded>, batch: Vec<Event>, bytes, result| {
        let _ = tx.send(Decoded::Events(batch));
        let _ = tx.send(Decoded::End { bytes, result });
    };
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return end(&tx, batch, bytes, Err(e.into())),
        };
        bytes += n as u64;
        reader.feed(&buf[..n]);
        loop {
            match reader.next_event() {
                Ok(Some(ev)) => {
                    batch.push(ev);
                    if batch.len() == BATCH {
                        // Free what the replay has finished with, and reuse its vector.
                        let mut next = None;
                        while let Ok(mut old) = done.try_recv() {
                            old.clear();
                            next = Some(old);
                        }
                        let next = next.unwrap_or_else(|| Vec::with_capacity(BATCH));
                        let full = std::mem::replace(&mut batch, next);
                        if tx.send(Decoded::Events(full)).is_err() {
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => return end(&tx, batch, bytes, Err(e.into())),
            }
        }
    }
    let result = reader.finish();
    // What `finish` decoded from the last bytes (before a tear, if any) is queued.
    while let Ok(Some(ev)) = reader.next_event() {
        batch.push(ev);
    }
    end(&tx, batch, bytes, result.map_err(Into::into));
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/// Writes the base file: the RDB preamble (with `aof-base=1`) or commands. Records each
/// key's "after" count.
fn write_base(replay: &mut Replay, path: &Path, rdb: bool) -> Result<RewriteStats> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let ks = &replay.engine.keyspace;
    let track = replay.track;
    let stats = if rdb {
        let mut aux = Aux::now(0);
        aux.aof_base = true;
        let mut w = Writer::new(BufWriter::new(file), WriteOptions::default());
        w.header(&aux)?;
        let mut keys = 0;
        for (i, db) in ks.dbs.iter().enumerate() {
            w.db(i, db)?;
            keys += db.len() as u64;
            if track {
                for k in db.dict.keys() {
                    replay.keys.get(i, k).after = 1;
                }
            }
        }
        let mut f = w.finish()?;
        f.flush()?;
        RewriteStats {
            keys,
            commands: 0,
            bytes: std::fs::metadata(path)?.len(),
        }
    } else {
        let mut w = CommandWriter::new(BufWriter::new(file));
        for (i, db) in ks.dbs.iter().enumerate() {
            if db.is_empty() {
                continue;
            }
            w.select(i)?;
            for (k, v) in db.dict.iter() {
                let n = w.key(k, v, db.expire_of(k))?;
                if track {
                    replay.keys.get(i, k).after = n.min(u32::MAX as u64) as u32;
                }
            }
        }
        let (mut f, stats) = w.finish()?;
        f.flush()?;
        stats
    };
    Ok(stats)
}

/// Writes a Redis 7 AOF directory: base, empty incr, manifest (last, via a temporary name,
/// so a directory with a manifest is always complete).
fn write_dir(
    replay: &mut Replay,
    dir: &Path,
    appendfilename: &str,
    rdb: bool,
) -> Result<Vec<(String, RewriteStats)>> {
    let mname = manifest::manifest_name(appendfilename);
    if dir.join(&mname).exists() {
        bail!(
            "{} already holds an AOF ({mname}); choose a new --out directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut m = Manifest::default();
    let base = m.new_base(appendfilename, rdb);
    let incr = m.new_incr(appendfilename);
    let stats = write_base(replay, &dir.join(&base), rdb)?;
    File::create(dir.join(&incr))?;
    let tmp = dir.join(format!("temp-{mname}"));
    let text = m.to_text();
    std::fs::write(&tmp, &text)?;
    std::fs::rename(&tmp, dir.join(&mname))?;
    let manifest = RewriteStats {
        bytes: text.len() as u64,
        ..RewriteStats::default()
    };
    Ok(vec![
        (base, stats),
        (incr, RewriteStats::default()),
        (mname, manifest),
    ])
}

/// One key in the list of biggest reductions.
#[derive(Clone, Debug)]
pub struct KeyChange {
    pub db: usize,
    pub key: Bytes,
    /// Its type now, or `(gone)` when it was deleted or expired.
    pub kind: &'static str,
    pub before: u64,
    pub after: u64,
}

/// What the rewrite did, for people (`write_text`) or programs (`to_json`).
#[derive(Clone, Debug)]
pub struct Explanation {
    pub input: String,
    pub manifest: Option<String>,
    pub files: Vec<FileStats>,
    pub before_commands: u64,
    pub before_bytes: u64,
    /// The base is an RDB (preamble yes).
    pub rdb: bool,
    /// Files written (name, what went in); the base first.
    pub written: Vec<(String, RewriteStats)>,
    /// The base file's totals.
    pub after: RewriteStats,
    pub keys_written: u64,
    pub keys_tracked: bool,
    pub keys_touched: u64,
    pub keys_gone: u64,
    pub keys_from_preamble: u64,
    pub keys_expired_at_end: u64,
    pub keyless_commands: u64,
    pub errors: u64,
    pub first_errors: Vec<String>,
    pub top: Vec<KeyChange>,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Explanation {
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let unit = if self.rdb { "RDB records" } else { "commands" };
        match &self.manifest {
            Some(m) => writeln!(out, "input   {} (manifest {m})", self.input)?,
            None => writeln!(out, "input   {}", self.input)?,
        }
        for f in &self.files {
            let mut line = format!("  {:<32} {:>12} bytes  ", f.name, f.bytes);
            if let Some(k) = f.preamble_keys {
                line.push_str(&format!(
                    "RDB preamble of {}, then ",
                    plural(k, "key", "keys")
                ));
            }
            line.push_str(&plural(f.commands, "command", "commands"));
            if f.annotations > 0 {
                line.push_str(&format!(
                    ", {}",
                    plural(f.annotations, "annotation", "annotations")
                ));
            }
            if let Some(t) = f.truncated {
                line.push_str(&format!(", torn end of {t} bytes cut off"));
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        writeln!(
            out,
            "output  {}",
            if self.rdb {
                "preamble yes"
            } else {
                "preamble no"
            }
        )?;
        for (name, st) in &self.written {
            let what = if name.ends_with(".manifest") {
                "manifest".to_string()
            } else if st.bytes == 0 {
                "empty".to_string()
            } else if self.rdb {
                plural(st.keys, "key", "keys")
            } else {
                plural(st.commands, "command", "commands")
            };
            writeln!(out, "  {name:<32} {:>12} bytes  {what}", st.bytes)?;
        }
        writeln!(out)?;
        let after_n = if self.rdb {
            self.after.keys
        } else {
            self.after.commands
        };
        let preamble_keys: u64 = self.files.iter().filter_map(|f| f.preamble_keys).sum();
        let mut before = format!(
            "before  {:>12} commands  {:>14} bytes",
            self.before_commands, self.before_bytes
        );
        if self.files.iter().any(|f| f.preamble_keys.is_some()) {
            before.push_str(&format!("  (plus {preamble_keys} RDB records)"));
        }
        writeln!(out, "{before}")?;
        writeln!(
            out,
            "after   {:>12} {:<9} {:>14} bytes  ({})",
            after_n,
            match (self.rdb, after_n) {
                (true, 1) => "record",
                (true, _) => "records",
                (false, 1) => "command",
                (false, _) => "commands",
            },
            self.after.bytes,
            ratio(self.before_bytes, self.after.bytes)
        )?;
        writeln!(out)?;
        let mut keys = format!("keys    {} written", self.keys_written);
        if self.keys_tracked {
            keys.push_str(&format!(
                "; {} named by commands, {} from an RDB preamble; {} deleted or expired",
                self.keys_touched, self.keys_from_preamble, self.keys_gone
            ));
        }
        writeln!(out, "{keys}")?;
        if self.keys_expired_at_end > 0 {
            writeln!(
                out,
                "        ({} expired by now and left out)",
                self.keys_expired_at_end
            )?;
        }
        if self.keys_tracked {
            writeln!(
                out,
                "        {} named no key (SELECT, MULTI, EXEC, FLUSHALL...)",
                plural(self.keyless_commands, "command", "commands"),
            )?;
        }
        if self.errors > 0 {
            writeln!(
                out,
                "errors  {} answered with an error while replaying (Redis ignores them too):",
                plural(self.errors, "command", "commands")
            )?;
            for e in &self.first_errors {
                writeln!(out, "        {e}")?;
            }
        }
        if !self.top.is_empty() {
            writeln!(out)?;
            writeln!(
                out,
                "keys that collapsed most (commands before -> {unit} after):"
            )?;
            let w = self
                .top
                .iter()
                .map(|k| crate::present::quoted(&k.key, 48).to_string().len())
                .max()
                .unwrap_or(3)
                .max(3);
            writeln!(
                out,
                "  db  {:<w$}  {:<6}  {:>8}  {:>8}",
                "key", "type", "before", "after"
            )?;
            for k in &self.top {
                writeln!(
                    out,
                    "  {:<2}  {:<w$}  {:<6}  {:>8}  {:>8}",
                    k.db,
                    crate::present::quoted(&k.key, 48).to_string(),
                    k.kind,
                    k.before,
                    k.after
                )?;
            }
        }
        Ok(())
    }

    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let key = |b: &[u8]| -> serde_json::Value {
            match std::str::from_utf8(b) {
                Ok(s) => json!({ "text": s }),
                Err(_) => {
                    use base64::Engine as _;
                    json!({ "bytes": base64::engine::general_purpose::STANDARD.encode(b) })
                }
            }
        };
        json!({
            "input": self.input,
            "manifest": self.manifest,
            "files": self.files.iter().map(|f| json!({
                "name": f.name,
                "bytes": f.bytes,
                "commands": f.commands,
                "annotations": f.annotations,
                "preamble_keys": f.preamble_keys,
                "truncated_bytes": f.truncated,
            })).collect::<Vec<_>>(),
            "before": { "commands": self.before_commands, "bytes": self.before_bytes },
            "after": {
                "preamble": self.rdb,
                "commands": self.after.commands,
                "records": if self.rdb { self.after.keys } else { 0 },
                "bytes": self.after.bytes,
                "files": self.written.iter().map(|(n, s)| json!({
                    "name": n, "bytes": s.bytes, "commands": s.commands, "keys": s.keys,
                })).collect::<Vec<_>>(),
            },
            "keys": {
                "written": self.keys_written,
                "named_by_commands": self.keys_tracked.then_some(self.keys_touched),
                "from_preamble": self.keys_tracked.then_some(self.keys_from_preamble),
                "deleted_or_expired": self.keys_tracked.then_some(self.keys_gone),
                "expired_at_end": self.keys_expired_at_end,
            },
            "keyless_commands": self.keys_tracked.then_some(self.keyless_commands),
            "errors": { "count": self.errors, "first": self.first_errors },
            "top": self.top.iter().map(|k| json!({
                "db": k.db, "key": key(&k.key), "type": k.kind,
                "before": k.before, "after": k.after,
            })).collect::<Vec<_>>(),
        })
    }
}

/// `12.3x smaller` / `same size` / `1.2x larger`.
fn ratio(before: u64, after: u64) -> String {
    if after == 0 {
        return "empty".into();
    }
    if before == after {
        return "same size".into();
    }
    if before > after {
        format!("{:.1}x smaller", before as f64 / after as f64)
    } else {
        format!("{:.1}x larger", after as f64 / before as f64)
    }
}
