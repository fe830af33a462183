//! A replica's link to its master: Redis's `connectWithMaster` / `syncWithMaster` /
//! `readSyncBulkPayload` and the master client, on one tokio task.
//!
//! The conversation, in the order Redis has it (see the handshake chapter of the book): PING;
//! then AUTH (with `masterauth`), `REPLCONF listening-port`, `REPLCONF capa eof capa psync2`
//! written back to back, their replies read in order; then `PSYNC <replid> <offset>` with this
//! server's own history (a replica's replication ID and offset *are* its master's, PSYNC2's
//! central idea), or `PSYNC ? -1` when it has none. `+FULLRESYNC` is followed by the RDB,
//! loaded into a fresh keyspace while it streams in and swapped in when complete;
//! `+CONTINUE` by the rest of the stream. Any other error (`-NOAUTH` without `masterauth`,
//! `-ERR unknown command` from a master without PSYNC) makes the replica send `SYNC` on the
//! same connection, as Redis's `syncWithMaster` does; its answer is the transfer itself (or
//! one more error), and such a master gets no `REPLCONF ACK`. Every byte from the master
//! goes through `repl::stream`, the decoder the tap uses; every command is applied through
//! the same path as a client's (`cmd::execute`), and relayed byte for byte to this server's
//! own replicas.
//!
//! How a connection ends decides what comes next, as in Redis 7.0 (texts, levels and order
//! checked against a real replica's log, see `Ended`): a link that was up and broke logs
//! "Connection with master lost." (a warning), "Caching the disconnected master state." and
//! reconnects at once ("Reconnecting to MASTER ..."), offering a partial resync; a full sync
//! cut short logs why ("I/O error trying to sync with MASTER: connection lost") and
//! reconnects at once "after failure", deleting its partial temp file; a failed handshake
//! waits for the next second, like Redis's `replicationCron`.

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

/// How a connection to the master ended. Redis treats the three kinds differently, and the
/// log says which one it was: operators read "Connection with master lost." as "the link was
/// up and broke", and "after failure" as "a sync in progress was given up".
#[derive(Debug)]
enum Ended {
    /// The link was up and broke (the master closed it, CLIENT KILL, `repl-timeout`): Redis
    /// frees its master client, caches it for a later PSYNC (`replicationCacheMaster`) and
    /// reconnects at once (`replicationHandleMasterDisconnection`).
    Lost,
    /// A full sync in progress failed (`cancelReplicationHandshake(1)` after a warning
    /// saying why): reconnect at once, "after failure".
    SyncFailed(String),
    /// The handshake failed (`syncWithMaster`'s error path): say why, and let the cron retry
    /// within a second.
    Failed(log::Level, String),
    /// REPLICAOF changed: this link is no longer wanted.
    Replaced,
}

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
                log::notice("Non blocking connect for SYNC fired the event.");
                let ended = session(&shared, generation, stream).await;
                if current(&shared, generation).is_none() {
                    return;
                }
                match ended {
                    Ended::Lost => {
                        log::warning("Connection with master lost.");
                        log::notice("Caching the disconnected master state.");
                        set_state(&shared, generation, ReplState::Connect);
                        log::notice(&format!("Reconnecting to MASTER {host}:{port}"));
                        continue;
                    }
                    Ended::SyncFailed(why) => {
                        log::warning(&why);
                        set_state(&shared, generation, ReplState::Connect);
                        log::notice(&format!(
                            "Reconnecting to MASTER {host}:{port} after failure"
                        ));
                        continue;
                    }
                    Ended::Failed(level, why) => log::log(level, &why),
                    Ended::Replaced => return,
                }
            }
            Err(e) => log::warning(&format!(
                "Error condition on socket for SYNC: {}",
                os_error_text(&e)
            )),
        }
        set_state(&shared, generation, ReplState::Connect);
        // replicationCron's next tick, once a second.
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

/// An OS error as `strerror` says it ("Connection refused", "Broken pipe"): Redis logs the C
/// text, without Rust's " (os error N)".
fn os_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) if e.raw_os_error().is_some() => text[..i].to_string(),
        _ => text,
    }
}

/// A handshake command could not be written (`sendCommand`'s error, as syncWithMaster's
/// `write_error` logs it).
fn write_failed(e: &std::io::Error) -> Ended {
    Ended::Failed(
        log::Level::Warning,
        format!(
            "Sending command to master in replication handshake: -Writing to master: {}",
            os_error_text(e)
        ),
    )
}

/// The master's address if this link is still the one wanted.
fn current(shared: &Shared, generation: u64) -> Option<(String, u16)> {
    let e = shared.lock();
    e.master
        .as_ref()
        .filter(|m| m.generation == generation)
        .map(|m| (m.host.clone(), m.port))
}

/// The link's state as INFO shows it, if this link is still the one wanted.
fn state_of(shared: &Shared, generation: u64) -> Option<ReplState> {
    let e = shared.lock();
    e.master
        .as_ref()
        .filter(|m| m.generation == generation)
        .map(|m| m.state)
}

/// The socket closed or failed under a read: what that means depends on where the
/// conversation was (Redis reads in a different function at each stage, each with its own
/// message). `transfer_started`: the `$<len>`/`$EOF:` line has been read.
fn read_failed(
    shared: &Shared,
    generation: u64,
    transfer_started: bool,
    err: Option<&std::io::Error>,
) -> Ended {
    match state_of(shared, generation) {
        None => Ended::Replaced,
        Some(ReplState::Connected) => Ended::Lost,
        // readSyncBulkPayload: the payload (a read of 0 bytes is "connection lost") or,
        // before it, the bulk count line (`connSyncReadLine`, whose error text is errno's:
        // "Success" after a clean close, as a real log shows).
        Some(ReplState::Transfer) if transfer_started => Ended::SyncFailed(format!(
            "I/O error trying to sync with MASTER: {}",
            err.map_or("connection lost".to_string(), os_error_text)
        )),
        Some(ReplState::Transfer) => Ended::SyncFailed(format!(
            "I/O error reading bulk count from MASTER: {}",
            err.map_or("Success".to_string(), os_error_text)
        )),
        // receiveSynchronousResponse got nothing back.
        Some(_) => Ended::Failed(
            log::Level::Warning,
            "Master did not respond to command during SYNC handshake".into(),
        ),
    }
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
        Frame::Resp3(f) => match f.leaf() {
            Some(F3::SimpleError { data, .. }) => Some(data.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// One connection to the master, from PING to the link's end. Returns how it ended; the
/// caller logs it.
async fn session(shared: &Arc<Shared>, generation: u64, mut stream: TcpStream) -> Ended {
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
        return write_failed(&e);
    }
    let mut master_client = Client::new(0, true);
    master_client.is_master = true;
    let mut loading: Option<(Keyspace, crate::rdb::load::Loader)> = None;
    let mut full: Option<(String, u64)> = None;
    // The master answered PSYNC with an error and was sent SYNC instead.
    let mut pre_psync = false;
    let mut mode = LoadMode::Disk;
    // The database the RDB being received is filling (for its RESIZEDB hints).
    let mut rdb_db = 0u64;
    // Bytes received from the master on this connection.
    let mut fed = 0u64;
    let mut disk: Option<DiskCopy> = None;
    // What the snapshot's loading logs ("Loading RDB produced by version ...", "Done loading
    // RDB ..."). Loading to disk, Redis reads the file only once it is complete: its aux
    // notices wait for the end of the transfer.
    let mut rdb_log = crate::rdb::load_log::LoadLog::default();
    let mut held_aux: Vec<(bytes::Bytes, bytes::Bytes)> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut ack_tick = tokio::time::interval(Duration::from_secs(1));
    let mut sink = Reply::new(false);
    loop {
        tokio::select! {
            r = stream.read(&mut buf) => {
                let n = match r {
                    Ok(0) => return read_failed(shared, generation, loading.is_some(), None),
                    Ok(n) => n,
                    Err(e) => return read_failed(shared, generation, loading.is_some(), Some(&e)),
                };
                events.clear();
                if let Err(e) = dec.feed(Dir::MasterToReplica, &buf[..n], &mut events) {
                    // Redis would close the master client on a protocol error too (and not
                    // cache it); rtool's decoder says precisely what was wrong.
                    log::warning(&format!("Protocol error from master: {e}"));
                    return match state_of(shared, generation) {
                        Some(ReplState::Connected) => Ended::Lost,
                        Some(ReplState::Transfer) => Ended::SyncFailed("Protocol error during the transfer from MASTER".into()),
                        Some(_) => Ended::Failed(log::Level::Warning, "Master did not respond to command during SYNC handshake".into()),
                        None => Ended::Replaced,
                    };
                }
                // Where this chunk starts in the link (the disk copy cuts the RDB out of it).
                // Counted here: the decoder's own offset leaves out an unfinished item.
                let chunk_start = fed;
                fed += n as u64;
                if let Some(d) = disk.as_mut()
                    && let Err(e) = d.write(&buf[..n])
                {
                    return Ended::SyncFailed(format!("Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {}", os_error_text(&e)));
                }
                {
                    let mut e = shared.lock();
                    let now = crate::cmd::engine::now_ms();
                    e.now_ms = now;
                    match e.master.as_mut() {
                        Some(m) if m.generation == generation => m.last_io_ms = now,
                        _ => return Ended::Replaced,
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
                                    return Ended::Failed(log::Level::Warning, format!("Error reply to PING from master: '-{t}'"));
                                }
                                ("ping", _) => {
                                    log::notice("Master replied to PING, replication can continue...");
                                    set_state(shared, generation, ReplState::ReceiveHandshakeReplies);
                                    if let Err(e) = write(&mut stream, &mut dec, &handshake).await {
                                        return write_failed(&e);
                                    }
                                }
                                ("auth", Some(t)) => return Ended::Failed(log::Level::Warning, format!("Unable to AUTH to MASTER: -{t}")),
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
                                    return write_failed(&e);
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
                        EventKind::PsyncRefused { retry_later, line, .. } => {
                            // slaveTryPartialResynchronization's answers to a refusal: "try
                            // later" closes the connection, anything else means "PSYNC not
                            // supported" and syncWithMaster sends SYNC on the same connection.
                            let line = String::from_utf8_lossy(&line);
                            if retry_later {
                                return Ended::Failed(log::Level::Notice, format!("Master is currently unable to PSYNC but should be in the future: {line}"));
                            }
                            if line.starts_with("-ERR") {
                                log::notice(&format!("Master does not support PSYNC or is in error state (reply: {line})"));
                            } else {
                                log::warning(&format!("Unexpected reply to PSYNC from master: {line}"));
                            }
                            log::notice("Retrying with SYNC...");
                            if let Err(e) = write(&mut stream, &mut dec, b"SYNC\r\n").await {
                                return Ended::Failed(log::Level::Warning, format!("I/O error writing to MASTER: {}", os_error_text(&e)));
                            }
                            // A master that only speaks SYNC (Redis's CLIENT_PRE_PSYNC): no
                            // replication ID, no offset, and no REPLCONF ACK for it.
                            pre_psync = true;
                            set_state(shared, generation, ReplState::Transfer);
                        }
                        EventKind::TransferAborted { text } => {
                            return Ended::SyncFailed(format!("MASTER aborted replication with an error: {}", String::from_utf8_lossy(&text)));
                        }
                        EventKind::TransferStart(framing) => {
                            mode = load_mode(shared);
                            rdb_log = Default::default();
                            held_aux.clear();
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
                                                return Ended::SyncFailed(format!("Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {}", os_error_text(&e)));
                                            }
                                            disk = Some(d);
                                        }
                                        Err(e) => return Ended::SyncFailed(format!("Opening the temp file needed for MASTER <-> REPLICA synchronization: {}", os_error_text(&e))),
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
                            if let crate::rdb::event::Event::Aux { name, value, .. } = &rev {
                                if mode == LoadMode::Disk {
                                    held_aux.push((name.clone(), value.clone()));
                                } else {
                                    rdb_log.aux(name, value);
                                }
                            }
                            crate::rdb::load::presize(ks, &rev, &mut rdb_db);
                            match loader.push(rev) {
                                Ok(Some(crate::rdb::load::Loaded::Empty { key, .. })) => rdb_log.empty_key(&key),
                                Ok(Some(crate::rdb::load::Loaded::Key(k))) => {
                                    rdb_log.keys_loaded += 1;
                                    if let Err(e) = crate::rdb::load::place(ks, k) {
                                        return Ended::SyncFailed(format!("Failed trying to load the MASTER synchronization DB from socket: {e}"));
                                    }
                                }
                                Ok(_) => {}
                                Err(e) => return Ended::SyncFailed(format!("Failed trying to load the MASTER synchronization DB from socket: {e}")),
                            }
                        }
                        EventKind::RdbError(err) => {
                            return Ended::SyncFailed(format!("Failed trying to load the MASTER synchronization DB from socket: {err}"));
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
                                    return Ended::SyncFailed(format!("Failed trying to rename the temp DB into {} in MASTER <-> REPLICA synchronization: {}", dbfile.display(), os_error_text(&e)));
                                }
                            }
                            let (id, off) = full.take().unwrap_or_default();
                            {
                                let mut e = shared.lock();
                                // A replica keeps keys past their TTL (its master expires them),
                                // so "keys expired" is 0, as Redis logs it.
                                match mode {
                                    LoadMode::Disk => {
                                        log::notice("MASTER <-> REPLICA sync: Flushing old data");
                                        log::notice("MASTER <-> REPLICA sync: Loading DB in memory");
                                        for (name, value) in held_aux.drain(..) {
                                            rdb_log.aux(&name, &value);
                                        }
                                        rdb_log.done();
                                    }
                                    LoadMode::Parser => rdb_log.done(),
                                    LoadMode::Swap => {
                                        rdb_log.done();
                                        log::notice("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
                                        log::notice("MASTER <-> REPLICA sync: Discarding old DB in background");
                                    }
                                }
                                rdb_log = Default::default();
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
                            log::notice("MASTER <-> REPLICA sync: Finished with success");
                            master_client.db = 0;
                            if !pre_psync && send_ack(shared, &mut stream, &mut dec).await.is_err() {
                                return Ended::Lost;
                            }
                        }
                        EventKind::Command(cmd) => {
                            let raw = encode(&cmd.args.iter().map(|a| a.as_ref()).collect::<Vec<&[u8]>>());
                            if cmd.kind == CommandKind::Getack {
                                // Answer with the offset *before* the GETACK, then count it.
                                if send_ack(shared, &mut stream, &mut dec).await.is_err() {
                                    return Ended::Lost;
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
                        return Ended::Lost;
                    }
                    let timeout_ms = e.config.get_i64("repl-timeout").max(1) * 1000;
                    match e.master.as_ref().filter(|m| m.generation == generation) {
                        Some(m) => (m.state == ReplState::Connected, m.state, crate::cmd::engine::now_ms() - m.last_io_ms, timeout_ms),
                        None => return Ended::Replaced,
                    }
                };
                // repl-timeout: a master that sends nothing — not even its `ping` or a `\n`
                // keepalive — for that long is given up on (replicationCron's three cases).
                if idle_ms > timeout_ms {
                    return match state {
                        ReplState::Connected => {
                            log::warning("MASTER timeout: no data nor PING received...");
                            Ended::Lost
                        }
                        ReplState::Transfer => Ended::SyncFailed("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.".into()),
                        _ => Ended::SyncFailed("Timeout connecting to the MASTER...".into()),
                    };
                }
                if connected && !pre_psync
                    && let Err(_) = send_ack(shared, &mut stream, &mut dec).await {
                        return Ended::Lost;
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
/// renamed over `dbfilename` once complete. A transfer that fails deletes its partial file
/// (Redis's `replicationAbortSyncTransfer`), so retries do not litter `dir`.
struct DiskCopy {
    file: std::fs::File,
    path: std::path::PathBuf,
    renamed: bool,
}

impl Drop for DiskCopy {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl DiskCopy {
    fn create() -> std::io::Result<DiskCopy> {
        let path = std::path::PathBuf::from(format!(
            "temp-{}.{}.rdb",
            crate::cmd::engine::now_ms() / 1000,
            std::process::id()
        ));
        let file = std::fs::File::create(&path)?;
        Ok(DiskCopy {
            file,
            path,
            renamed: false,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        self.file.write_all(bytes)
    }

    /// The RDB was `rdb_len` bytes: drop what came after it (the EOF mark, commands), fsync,
    /// rename into place.
    fn finish(mut self, rdb_len: u64, dbfile: &std::path::Path) -> std::io::Result<()> {
        self.file.set_len(rdb_len)?;
        self.file.sync_all()?;
        std::fs::rename(&self.path, dbfile)?;
        self.renamed = true;
        Ok(())
    }
}

/// `createReplicationBacklog` if there is none (`repl-backlog-size`, as the master side).
fn create_backlog(e: &mut crate::cmd::Engine) {
    if !e.repl.backlog_active {
        let size = e.config.get_i64("repl-backlog-size").max(16 * 1024) as usize;
        e.repl.create_backlog(size);
    }
}
