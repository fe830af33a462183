//! A replica link, master side: what a connection becomes after PSYNC/SYNC.
//!
//! Redis's replication.c in one loop. While the snapshot for this replica is being made
//! (`wait_bgsave`), the master sends a `\n` every second so the replica's read timeout does not
//! fire. When the snapshot is ready (`send_bulk`) it sends `$<len>\r\n` and the file's bytes,
//! with no CRLF after them. Then (`online`) it sends the replication stream from the
//! replica's cursor onwards — the same shared blocks every replica and the backlog hold — and
//! reads the replica's `REPLCONF ACK <offset>` every second.
//!
//! Diskless (`repl-diskless-sync yes`, the default, for replicas that sent `capa eof`): the
//! snapshot is not a file but a forked child's output, relayed chunk by chunk as
//! `$EOF:<40 random chars>\r\n` + RDB + the same 40 chars; the replica cannot know the
//! length, so it looks for the mark at the end of what it received — which is why the
//! command stream only starts after its first ACK.

use super::Shared;
use crate::cmd::client::{Client, ClientMsg};
use crate::log;
use crate::repl::master::ReplicaState;
use crate::resp::request::{Parsed, parse_request};
use crate::resp::{Limits, Reply};
use bytes::{Buf, BytesMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;

/// Serve a replica until it goes away or is dropped. `out` holds what the PSYNC already
/// answered (`+CONTINUE` ...), `inbuf` whatever the replica sent after its PSYNC.
pub async fn run(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    client: &mut Client,
    mut inbuf: BytesMut,
    mut out: Reply,
    rx: &mut UnboundedReceiver<ClientMsg>,
) {
    let id = client.id;
    // The first keepalive a second from now, like replicationCron's (an interval's first
    // tick would fire at once and put a `\n` before +FULLRESYNC at random).
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let mut sent_to: Option<u64> = None;
    loop {
        // Arm the wake-up before looking at the log, so a write between the look and the
        // wait is not missed.
        let notified = shared.repl_notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let state = {
            let mut e = shared.lock();
            let Some(r) = e.replicas.get(&id).cloned() else {
                break;
            };
            if r.state == ReplicaState::Online && !r.stream_on_ack {
                // Everything from the cursor on, as shared blocks. The cursor moves only once
                // the socket took them (below), so until then the backlog keeps them and
                // `master_repl_offset - cursor` is this replica's output buffer — what
                // client-output-buffer-limit replica measures.
                e.repl.seal();
                match e.repl.backlog.read_from(r.cursor) {
                    Some(parts) => {
                        for p in parts {
                            out.raw(&p);
                        }
                        sent_to = Some(e.repl.backlog.end());
                    }
                    None => {
                        log::warning(&format!(
                            "Replica {} fell behind the replication buffer; closing the link",
                            r.name()
                        ));
                        crate::persist::close_replica(&mut e, id);
                        break;
                    }
                }
            }
            (r.state, r.diskless)
        };
        let (state, diskless) = state;
        if state == ReplicaState::WaitBgsaveEnd && diskless {
            let chunks = shared
                .diskless
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            if let Some(chunks) = chunks {
                // `+FULLRESYNC` went through this client's channel before the transfer began.
                while let Ok(msg) = rx.try_recv() {
                    match msg {
                        ClientMsg::Push(b) | ClientMsg::Unblocked(b) => out.raw(&b),
                        ClientMsg::Kill => {
                            close(&shared, id);
                            return;
                        }
                    }
                }
                if !out.is_empty() && stream.write_all(&out.buf).await.is_err() {
                    break;
                }
                out.buf.clear();
                if relay_snapshot(&mut stream, chunks).await.is_err() {
                    break;
                }
                continue;
            }
        }
        if state == ReplicaState::SendBulk {
            if !out.is_empty() && stream.write_all(&out.buf).await.is_err() {
                break;
            }
            out.buf.clear();
            if send_rdb(&shared, &mut stream, id).await.is_err() {
                break;
            }
            continue;
        }
        if !out.is_empty() {
            if stream.write_all(&out.buf).await.is_err() {
                break;
            }
            out.buf.clear();
        }
        if let Some(end) = sent_to.take() {
            // Written: move the cursor and let the backlog drop what no replica needs.
            let mut e = shared.lock();
            if let Some(r) = e.replicas.get_mut(&id) {
                r.cursor = r.cursor.max(end);
            }
            let oldest = e
                .replicas
                .values()
                .filter(|r| r.state != ReplicaState::WaitBgsaveStart)
                .map(|r| r.cursor)
                .min();
            e.repl.backlog.trim(oldest);
        }
        tokio::select! {
            r = stream.read_buf(&mut inbuf) => {
                match r {
                    Ok(0) | Err(_) => break,
                    Ok(_) => read_acks(&shared, client, &mut inbuf),
                }
            }
            msg = rx.recv() => match msg {
                Some(ClientMsg::Push(b)) | Some(ClientMsg::Unblocked(b)) => out.raw(&b),
                Some(ClientMsg::Kill) | None => {
                    if !out.is_empty() {
                        let _ = stream.write_all(&out.buf).await;
                    }
                    break;
                }
            },
            _ = &mut notified => {}
            _ = tick.tick() => {
                // A replica waiting for its snapshot gets a newline every second — but not
                // once a diskless transfer is under way: its bytes are the child's.
                let waiting = state == ReplicaState::WaitBgsaveStart
                    || (state == ReplicaState::WaitBgsaveEnd && !diskless);
                if waiting {
                    out.raw(b"\n");
                }
            }
        }
    }
    close(&shared, id);
}

fn close(shared: &Shared, id: u64) {
    // A relay still holding chunks for this link must not wait for it.
    shared
        .diskless
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    let mut e = shared.lock();
    if let Some(r) = e.replicas.shift_remove(&id) {
        log::warning(&format!("Connection with replica {} lost.", r.name()));
    }
}

/// Write a diskless snapshot's chunks as the relay hands them over, until it is complete.
async fn relay_snapshot(
    stream: &mut TcpStream,
    mut chunks: tokio::sync::mpsc::Receiver<bytes::Bytes>,
) -> std::io::Result<()> {
    while let Some(c) = chunks.recv().await {
        stream.write_all(&c).await?;
    }
    Ok(())
}

/// Start relaying a diskless snapshot, if the engine forked one (Redis's
/// `rdbPipeReadHandler`): a thread reads the child's pipe and hands every chunk to each
/// replica's link through a small bounded channel, so the slowest replica sets the pace and
/// nothing piles up in memory. When the pipe ends it closes the exit pipe, letting the child
/// exit; the child's exit (seen by the cron) puts the replicas online.
pub fn start_diskless_relay(shared: &Arc<Shared>) {
    let job = {
        let mut e = shared.lock();
        e.persist.diskless_job.take()
    };
    let Some(job) = job.and_then(|j| j.lock().unwrap_or_else(|e| e.into_inner()).take()) else {
        return;
    };
    let mut senders = Vec::new();
    {
        let mut reg = shared.diskless.lock().unwrap_or_else(|e| e.into_inner());
        for id in &job.replicas {
            let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
            reg.insert(*id, rx);
            senders.push(tx);
        }
    }
    shared.repl_notify.notify_waiters();
    let spawned = std::thread::Builder::new()
        .name("rdb-pipe-relay".into())
        .spawn(move || {
            use std::io::Read;
            let mut pipe = job.pipe;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        log::warning(&format!(
                            "Diskless rdb transfer, read error sending DB to replicas: {e}"
                        ));
                        senders.clear();
                        unsafe { libc::kill(job.pid, libc::SIGUSR1) };
                        break;
                    }
                };
                let chunk = bytes::Bytes::copy_from_slice(&buf[..n]);
                senders.retain(|tx| tx.blocking_send(chunk.clone()).is_ok());
                if senders.is_empty() {
                    log::warning(
                        "Diskless rdb transfer, last replica dropped, killing fork child.",
                    );
                    unsafe { libc::kill(job.pid, libc::SIGUSR1) };
                    break;
                }
            }
            log::warning(&format!(
                "Diskless rdb transfer, done reading from pipe, {} replicas still up.",
                senders.len()
            ));
            drop(senders);
            drop(job.exit_pipe);
        });
    if spawned.is_err() {
        log::warning("Diskless rdb transfer: cannot start the relay thread");
    }
}

/// Send the snapshot file: `$<len>\r\n` and its bytes, then the replica is online from the
/// snapshot's offset.
async fn send_rdb(shared: &Shared, stream: &mut TcpStream, id: u64) -> std::io::Result<()> {
    let (path, name) = {
        let e = shared.lock();
        let name = e.replicas.get(&id).map(|r| r.name()).unwrap_or_default();
        (crate::persist::rdb_path(&e), name)
    };
    let mut f = tokio::fs::File::open(&path).await?;
    let len = f.metadata().await?.len();
    stream.write_all(format!("${len}\r\n").as_bytes()).await?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).await?;
    }
    let mut e = shared.lock();
    if let Some(r) = e.replicas.get_mut(&id) {
        r.state = ReplicaState::Online;
    }
    log::notice(&format!("Synchronization with replica {name} succeeded"));
    Ok(())
}

/// The replica only ever sends `REPLCONF ACK <offset>` (and `\n` while it loads).
fn read_acks(shared: &Shared, client: &mut Client, inbuf: &mut BytesMut) {
    let mut e = shared.lock();
    let now = crate::cmd::engine::now_ms();
    loop {
        while inbuf.first() == Some(&b'\n') {
            inbuf.advance(1);
        }
        let used = match parse_request(inbuf, &Limits::default()) {
            Ok(Parsed::Command(req, used)) => {
                let a = &req.args;
                if a.len() >= 3
                    && a[0].eq_ignore_ascii_case(b"replconf")
                    && a[1].eq_ignore_ascii_case(b"ack")
                    && let (Some(off), Some(r)) = (
                        crate::resp::request::parse_i64(a[2]),
                        e.replicas.get_mut(&client.id),
                    )
                {
                    r.ack_offset = off.max(0) as u64;
                    r.ack_time_ms = now;
                    // After a diskless transfer the stream starts with the first ACK
                    // (Redis's replicaStartCommandStream).
                    r.stream_on_ack = false;
                }
                used
            }
            Ok(Parsed::Inline(_, used)) => used,
            Ok(Parsed::Incomplete) => break,
            Err(_) => inbuf.len(),
        };
        inbuf.advance(used);
    }
    e.process_waiting_acks();
}
