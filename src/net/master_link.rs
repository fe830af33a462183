//! A replica's link to its master: Redis's `connectWithMaster` / `syncWithMaster` /
//! `readSyncBulkPayload` and the master client, on one tokio task.
//!
//! The conversation, in the order Redis has it (see the handshake chapter of the book): PING;
//! then AUTH (with `masterauth`), `REPLCONF listening-port`, `REPLCONF capa eof capa psync2`
//! written back to back, their replies read in order; then `PSYNC <replid> <offset>` with this
//! server's own history (a replica's replication ID and offset *are* its master's, PSYNC2's
//! central idea), or `PSYNC ? -1` when it has none. `+FULLRESYNC` is followed by the RDB,
//! loaded into a fresh keyspace while it streams in and swapped in when complete;
//! `+CONTINUE` by the rest of the stream. Every byte from the master goes through
//! `repl::stream`, the decoder the tap uses; every command is applied through the same path
//! as a client's (`cmd::execute`), and relayed byte for byte to this server's own replicas.

use super::Shared;
use crate::cmd::client::Client;
use crate::cmd::execute;
use crate::keyspace::Keyspace;
use crate::log;
use crate::repl::replica::ReplState;
use crate::repl::stream::{CommandKind, Dir, EventKind, Framing, LinkDecoder};
use crate::resp::Reply;
use crate::resp::frame::Frame;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Keep (re)connecting to the master of `generation` until REPLICAOF changes it.
pub async fn run(shared: Arc<Shared>, generation: u64) {
    loop {
        let Some((host, port)) = current(&shared, generation) else {
            return;
        };
        log::notice("MASTER <-> REPLICA sync started");
        let source = shared.lock().config.get_str("bind-source-addr").to_string();
        match connect(&host, port, &source).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let why = session(&shared, generation, stream).await;
                if current(&shared, generation).is_none() {
                    return;
                }
                log::notice(&why);
            }
            Err(e) => log::warning(&format!(
                "Error condition on socket for SYNC: {}",
                os_error_text(&e)
            )),
        }
        set_state(&shared, generation, ReplState::Connect);
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some((host, port)) = current(&shared, generation) {
            log::notice(&format!("Connecting to MASTER {host}:{port}"));
        }
    }
}

/// Connect to the master, from `bind-source-addr` when it is set (the address the master
/// sees, e.g. for its protected mode or `slaveN:ip=`).
async fn connect(host: &str, port: u16, source: &str) -> std::io::Result<TcpStream> {
    if source.is_empty() {
        return TcpStream::connect((host, port)).await;
    }
    let src: std::net::IpAddr = source
        .parse()
        .map_err(|_| std::io::Error::other(format!("bad bind-source-addr '{source}'")))?;
    let mut last = std::io::Error::other("no address");
    for addr in tokio::net::lookup_host((host, port)).await? {
        let sock = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        sock.bind(std::net::SocketAddr::new(src, 0))?;
        match sock.connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// "Connection refused", as strerror says it (Redis logs the C text).
fn os_error_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "Connection refused".into(),
        _ => e.to_string(),
    }
}

/// The master's address if this link is still the one wanted.
fn current(shared: &Shared, generation: u64) -> Option<(String, u16)> {
    let e = shared.lock();
    e.master
        .as_ref()
        .filter(|m| m.generation == generation)
        .map(|m| (m.host.clone(), m.port))
}

fn set_state(shared: &Shared, generation: u64, state: ReplState) {
    let mut e = shared.lock();
    let now = e.now_ms;
    if let Some(m) = e.master.as_mut().filter(|m| m.generation == generation) {
        if m.state == ReplState::Connected && state != ReplState::Connected {
            m.down_since_ms = now;
        }
        m.state = state;
    }
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut b = bytes::BytesMut::new();
    crate::repl::log::encode_command(&mut b, args);
    b.to_vec()
}

/// The text of an error reply, if the frame is one.
fn error_text(f: &Frame) -> Option<String> {
    use redis_protocol::resp2::types::OwnedFrame as F2;
    use redis_protocol::resp3::types::OwnedFrame as F3;
    match f {
        Frame::Resp2(F2::Error(s)) => Some(s.to_string()),
        Frame::Resp3(F3::SimpleError { data, .. }) => Some(data.to_string()),
        _ => None,
    }
}

/// One connection to the master, from PING to the link's end. Returns why it ended.
async fn session(shared: &Arc<Shared>, generation: u64, mut stream: TcpStream) -> String {
    let mut dec = LinkDecoder::new();
    let mut events = Vec::new();
    // What we send is fed to the decoder too: it needs our PSYNC to place +CONTINUE.
    let mut send_buf: Vec<u8> = Vec::new();

    // Handshake: PING, then AUTH / REPLCONF back to back.
    let (auth, my_port, psync) = {
        let mut e = shared.lock();
        let pass = e.config.get_str("masterauth").to_string();
        let user = e.config.get_str("masteruser").to_string();
        let port = e.config.get_i64("port");
        let from_scratch = e.master.as_ref().is_some_and(|m| m.from_scratch);
        let psync = if from_scratch {
            ("?".to_string(), -1)
        } else {
            (e.repl.replid.clone(), e.repl.offset() as i64 + 1)
        };
        let now = crate::cmd::engine::now_ms();
        if let Some(m) = e.master.as_mut() {
            m.state = ReplState::ReceivePingReply;
            m.last_io_ms = now;
        }
        (
            if pass.is_empty() {
                None
            } else {
                Some((user, pass))
            },
            port,
            psync,
        )
    };
    send_buf.extend(encode(&[b"PING"]));
    let mut expect: Vec<&'static str> = vec!["ping"];
    let mut handshake = Vec::new();
    if let Some((user, pass)) = &auth {
        if user.is_empty() {
            handshake.extend(encode(&[b"AUTH", pass.as_bytes()]));
        } else {
            handshake.extend(encode(&[b"AUTH", user.as_bytes(), pass.as_bytes()]));
        }
        expect.push("auth");
    }
    handshake.extend(encode(&[
        b"REPLCONF",
        b"listening-port",
        my_port.to_string().as_bytes(),
    ]));
    expect.push("port");
    handshake.extend(encode(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]));
    expect.push("capa");
    let psync_cmd = encode(&[b"PSYNC", psync.0.as_bytes(), psync.1.to_string().as_bytes()]);

    if let Err(e) = write(&mut stream, &mut dec, &send_buf).await {
        return format!("Error condition on socket for SYNC: {e}");
    }
    let mut master_client = Client::new(0, true);
    master_client.is_master = true;
    let mut loading: Option<(Keyspace, crate::rdb::load::Loader)> = None;
    let mut full: Option<(String, u64)> = None;
    let mut mode = LoadMode::Disk;
    // The database the RDB being received is filling (for its RESIZEDB hints).
    let mut rdb_db = 0u64;
    // Bytes received from the master on this connection.
    let mut fed = 0u64;
    let mut disk: Option<DiskCopy> = None;
    let mut buf = vec![0u8; 64 * 1024];
    let mut ack_tick = tokio::time::interval(Duration::from_secs(1));
    let mut sink = Reply::new(false);
    loop {
        tokio::select! {
            r = stream.read(&mut buf) => {
                let n = match r {
                    Ok(0) => return "Connection with master lost.".into(),
                    Ok(n) => n,
                    Err(e) => return format!("Connection with master lost: {e}"),
                };
                events.clear();
                if let Err(e) = dec.feed(Dir::MasterToReplica, &buf[..n], &mut events) {
                    return format!("Protocol error from master: {e}");
                }
                // Where this chunk starts in the link (the disk copy cuts the RDB out of it).
                // Counted here: the decoder's own offset leaves out an unfinished item.
                let chunk_start = fed;
                fed += n as u64;
                if let Some(d) = disk.as_mut()
                    && let Err(e) = d.write(&buf[..n])
                {
                    return format!("Failed trying to write the temp DB to disk: {e}");
                }
                {
                    let mut e = shared.lock();
                    let now = crate::cmd::engine::now_ms();
                    e.now_ms = now;
                    match e.master.as_mut() {
                        Some(m) if m.generation == generation => m.last_io_ms = now,
                        _ => return "REPLICAOF changed".into(),
                    }
                }
                for ev in events.drain(..) {
                    match ev.kind {
                        EventKind::Keepalive => {}
                        EventKind::Reply(r) => {
                            let what = if expect.is_empty() { "?" } else { expect.remove(0) };
                            let err = error_text(&r.frame);
                            match (what, err) {
                                ("ping", Some(t)) if !t.starts_with("NOAUTH") && !t.starts_with("NOPERM") && !t.starts_with("ERR operation not permitted") => {
                                    return format!("Error reply to PING from master: '-{t}'");
                                }
                                ("ping", _) => {
                                    log::notice("Master replied to PING, replication can continue...");
                                    set_state(shared, generation, ReplState::ReceiveHandshakeReplies);
                                    if let Err(e) = write(&mut stream, &mut dec, &handshake).await {
                                        return format!("Error condition on socket for SYNC: {e}");
                                    }
                                }
                                ("auth", Some(t)) => return format!("Unable to AUTH to MASTER: -{t}"),
                                ("port", Some(t)) => log::notice(&format!("(Non critical) Master does not understand REPLCONF listening-port: -{t}")),
                                ("capa", Some(t)) => log::notice(&format!("(Non critical) Master does not understand REPLCONF capa: -{t}")),
                                _ => {}
                            }
                            if what == "capa" {
                                if psync.0 == "?" {
                                    log::notice("Partial resynchronization not possible (no cached master)");
                                } else {
                                    log::notice(&format!("Trying a partial resynchronization (request {}:{}).", psync.0, psync.1));
                                }
                                set_state(shared, generation, ReplState::ReceivePsyncReply);
                                if let Err(e) = write(&mut stream, &mut dec, &psync_cmd).await {
                                    return format!("Error condition on socket for SYNC: {e}");
                                }
                            }
                        }
                        EventKind::FullResync { replid, offset, .. } => {
                            let id = String::from_utf8_lossy(&replid).into_owned();
                            let off = offset.unwrap_or(0).max(0) as u64;
                            log::notice(&format!("Full resync from master: {id}:{off}"));
                            full = Some((id, off));
                            set_state(shared, generation, ReplState::Transfer);
                        }
                        EventKind::Continue { replid, .. } => {
                            log::notice("Successful partial resynchronization with master.");
                            {
                                let mut e = shared.lock();
                                if let Some(id) = replid {
                                    let id = String::from_utf8_lossy(&id).into_owned();
                                    if id != e.repl.replid {
                                        e.repl.shift_replid(&id);
                                        log::warning(&format!("Master replication ID changed to {id}"));
                                    }
                                }
                                if let Some(m) = e.master.as_mut() {
                                    m.state = ReplState::Connected;
                                    m.from_scratch = false;
                                }
                                // Restarted from a snapshot, the backlog may not exist yet.
                                create_backlog(&mut e);
                                // The master will not repeat its last SELECT: continue in the
                                // database the stream was in (Redis keeps it in the cached
                                // master client).
                                master_client.db = e.repl.stream_db().unwrap_or(0);
                            }
                            log::notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
                        }
                        EventKind::PsyncRefused { text, .. } => {
                            return format!("Unexpected reply to PSYNC from master: {}", String::from_utf8_lossy(&text));
                        }
                        EventKind::TransferAborted { text } => {
                            return format!("MASTER aborted replication with an error: {}", String::from_utf8_lossy(&text));
                        }
                        EventKind::TransferStart(framing) => {
                            mode = load_mode(shared);
                            let to = if mode == LoadMode::Disk { "to disk" } else { "to parser" };
                            match framing {
                                Framing::Length(n) => log::notice(&format!("MASTER <-> REPLICA sync: receiving {n} bytes from master {to}")),
                                Framing::EofMark(_) => log::notice(&format!("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF {to}")),
                            }
                            match mode {
                                // Whatever the mode, rtool decodes the RDB while it arrives into a
                                // fresh keyspace and swaps it in at the end; "to disk" also keeps
                                // the file, as Redis's replica does (it saves, then loads it).
                                LoadMode::Disk => {
                                    let payload_start = ev.offset + ev.len;
                                    match DiskCopy::create() {
                                        Ok(mut d) => {
                                            let from = payload_start.saturating_sub(chunk_start) as usize;
                                            if let Err(e) = d.write(&buf[from.min(n)..n]) {
                                                return format!("Failed trying to write the temp DB to disk: {e}");
                                            }
                                            disk = Some(d);
                                        }
                                        Err(e) => return format!("Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}"),
                                    }
                                }
                                LoadMode::Parser => {
                                    log::notice("MASTER <-> REPLICA sync: Flushing old data");
                                    log::notice("MASTER <-> REPLICA sync: Loading DB in memory");
                                }
                                LoadMode::Swap => log::notice("MASTER <-> REPLICA sync: Loading DB in memory"),
                            }
                            loading = Some({
                                let mut e = shared.lock();
                                if let Some(m) = e.master.as_mut() {
                                    m.sync_read = 0;
                                    m.sync_size = match framing { Framing::Length(n) => n as i64, Framing::EofMark(_) => -1 };
                                }
                                (Keyspace::new(e.keyspace.dbs.len()), crate::rdb::load::Loader::new(e.thresholds))
                            });
                        }
                        EventKind::Rdb(rev) => {
                            let Some((ks, loader)) = loading.as_mut() else { continue };
                            crate::rdb::load::presize(ks, &rev, &mut rdb_db);
                            match loader.push(rev) {
                                Ok(Some(crate::rdb::load::Loaded::Key(k))) => {
                                    if let Err(e) = crate::rdb::load::place(ks, k) {
                                        return format!("Failed trying to load the MASTER synchronization DB from socket: {e}");
                                    }
                                }
                                Ok(_) => {}
                                Err(e) => return format!("Failed trying to load the MASTER synchronization DB from socket: {e}"),
                            }
                        }
                        EventKind::RdbError(err) => {
                            return format!("Failed trying to load the MASTER synchronization DB from socket: {err}");
                        }
                        EventKind::RdbTrailing { .. } => {}
                        EventKind::TransferEnd { rdb_len } => {
                            let Some((ks, _)) = loading.take() else { continue };
                            if let Some(d) = disk.take() {
                                let dbfile = {
                                    let e = shared.lock();
                                    crate::persist::rdb_path(&e)
                                };
                                if let Err(e) = d.finish(rdb_len, &dbfile) {
                                    return format!("Failed trying to rename the temp DB into {} in MASTER <-> REPLICA synchronization: {e}", dbfile.display());
                                }
                            }
                            let (id, off) = full.take().unwrap_or_default();
                            let keys: usize = ks.dbs.iter().map(|d| d.len()).sum();
                            {
                                let mut e = shared.lock();
                                match mode {
                                    LoadMode::Disk => {
                                        log::notice("MASTER <-> REPLICA sync: Flushing old data");
                                        log::notice("MASTER <-> REPLICA sync: Loading DB in memory");
                                    }
                                    LoadMode::Parser => {}
                                    LoadMode::Swap => {
                                        log::notice("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
                                        log::notice("MASTER <-> REPLICA sync: Discarding old DB in background");
                                    }
                                }
                                // The AOF describes the old dataset: Redis stops it before the
                                // new data goes in and starts it again (a rewrite writes the new
                                // base) once it is there (restartAOFAfterSYNC).
                                let aof_on = e.aof.active();
                                if aof_on {
                                    crate::aof::writer::stop(&mut e);
                                }
                                e.keyspace = ks;
                                e.touch_db(None);
                                e.repl.adopt_master(&id, off, None);
                                // A replica keeps a backlog whether or not it has replicas of
                                // its own: promoted after a failover, it must be able to let
                                // its siblings continue (readSyncBulkPayload does the same).
                                create_backlog(&mut e);
                                if aof_on && crate::aof::writer::start(&mut e).is_err() {
                                    log::warning("Failed enabling the AOF after successful master synchronization!");
                                }
                                // Our own replicas (chained) must resync from the new history.
                                let subs: Vec<u64> = e.replicas.keys().copied().collect();
                                for s in subs {
                                    crate::persist::close_replica(&mut e, s);
                                }
                                if let Some(m) = e.master.as_mut() {
                                    m.state = ReplState::Connected;
                                    m.from_scratch = false;
                                }
                            }
                            log::notice(&format!("Done loading RDB, keys loaded: {keys}, keys expired: 0."));
                            log::notice("MASTER <-> REPLICA sync: Finished with success");
                            master_client.db = 0;
                            if let Err(e) = send_ack(shared, &mut stream, &mut dec).await {
                                return format!("Connection with master lost: {e}");
                            }
                        }
                        EventKind::Command(cmd) => {
                            let raw = encode(&cmd.args.iter().map(|a| a.as_ref()).collect::<Vec<&[u8]>>());
                            if cmd.kind == CommandKind::Getack {
                                // Answer with the offset *before* the GETACK, then count it.
                                if let Err(e) = send_ack(shared, &mut stream, &mut dec).await {
                                    return format!("Connection with master lost: {e}");
                                }
                            }
                            let wake = {
                                let mut e = shared.lock();
                                let argv: Vec<&[u8]> = cmd.args.iter().map(|a| a.as_ref()).collect();
                                if cmd.kind == CommandKind::Write || matches!(cmd.kind, CommandKind::Select { .. } | CommandKind::Multi | CommandKind::Exec) {
                                    e.proxying = true;
                                    execute(&mut e, &mut master_client, &argv, &mut sink);
                                    e.proxying = false;
                                    sink.buf.clear();
                                }
                                let db = cmd.db.map(|d| d as usize);
                                e.repl.append_raw(&raw, db);
                                if e.aof.active() {
                                    crate::aof::writer::flush(&mut e, false);
                                }
                                e.repl.backlog_active && e.repl.seal()
                            };
                            if wake {
                                shared.repl_notify.notify_waiters();
                            }
                        }
                        EventKind::Request(_) => {}
                    }
                }
            }
            _ = ack_tick.tick() => {
                let (connected, state, idle_ms, timeout_ms) = {
                    let mut e = shared.lock();
                    if let Some(m) = e.master.as_mut().filter(|m| m.generation == generation && m.kill) {
                        m.kill = false;
                        return "Connection with master lost.".into();
                    }
                    let timeout_ms = e.config.get_i64("repl-timeout").max(1) * 1000;
                    match e.master.as_ref().filter(|m| m.generation == generation) {
                        Some(m) => (m.state == ReplState::Connected, m.state, crate::cmd::engine::now_ms() - m.last_io_ms, timeout_ms),
                        None => return "REPLICAOF changed".into(),
                    }
                };
                // repl-timeout: a master that sends nothing — not even its `ping` or a `\n`
                // keepalive — for that long is given up on (replicationCron's three cases).
                if idle_ms > timeout_ms {
                    let why = match state {
                        ReplState::Connected => "MASTER timeout: no data nor PING received...",
                        ReplState::Transfer => "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.",
                        _ => "Timeout connecting to the MASTER...",
                    };
                    log::warning(why);
                    return "Connection with master lost.".into();
                }
                if connected
                    && let Err(e) = send_ack(shared, &mut stream, &mut dec).await {
                        return format!("Connection with master lost: {e}");
                    }
            }
        }
    }
}

async fn write(stream: &mut TcpStream, dec: &mut LinkDecoder, bytes: &[u8]) -> std::io::Result<()> {
    let mut ignored = Vec::new();
    let _ = dec.feed(Dir::ReplicaToMaster, bytes, &mut ignored);
    stream.write_all(bytes).await
}

/// `REPLCONF ACK <offset>`: how much of the stream this replica has processed.
async fn send_ack(
    shared: &Shared,
    stream: &mut TcpStream,
    dec: &mut LinkDecoder,
) -> std::io::Result<()> {
    let off = shared.lock().repl.offset();
    let cmd = encode(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()]);
    write(stream, dec, &cmd).await
}

/// Where a full sync's snapshot goes (`repl-diskless-load`, Redis's `useDisklessLoad`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoadMode {
    /// `disabled`: saved as `dbfilename` too ("to disk").
    Disk,
    /// `on-empty-db` with no keys: straight from the socket.
    Parser,
    /// `swapdb`: into a separate keyspace, swapped in when complete.
    Swap,
}

fn load_mode(shared: &Shared) -> LoadMode {
    let e = shared.lock();
    match e.config.get_str("repl-diskless-load") {
        "swapdb" => LoadMode::Swap,
        "on-empty-db" if e.keyspace.dbs.iter().all(|d| d.is_empty()) => LoadMode::Parser,
        _ => LoadMode::Disk,
    }
}

/// The snapshot as received, written to `temp-<unixtime>.<pid>.rdb` (Redis's name) and
/// renamed over `dbfilename` once complete.
struct DiskCopy {
    file: std::fs::File,
    path: std::path::PathBuf,
}

impl DiskCopy {
    fn create() -> std::io::Result<DiskCopy> {
        let path = std::path::PathBuf::from(format!(
            "temp-{}.{}.rdb",
            crate::cmd::engine::now_ms() / 1000,
            std::process::id()
        ));
        let file = std::fs::File::create(&path)?;
        Ok(DiskCopy { file, path })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        self.file.write_all(bytes)
    }

    /// The RDB was `rdb_len` bytes: drop what came after it (the EOF mark, commands), fsync,
    /// rename into place.
    fn finish(self, rdb_len: u64, dbfile: &std::path::Path) -> std::io::Result<()> {
        let res = (|| {
            self.file.set_len(rdb_len)?;
            self.file.sync_all()?;
            std::fs::rename(&self.path, dbfile)
        })();
        if res.is_err() {
            let _ = std::fs::remove_file(&self.path);
        }
        res
    }
}

/// `createReplicationBacklog` if there is none (`repl-backlog-size`, as the master side).
fn create_backlog(e: &mut crate::cmd::Engine) {
    if !e.repl.backlog_active {
        let size = e.config.get_i64("repl-backlog-size").max(16 * 1024) as usize;
        e.repl.create_backlog(size);
    }
}
