//! A replica link, master side: what a connection becomes after PSYNC/SYNC.
//!
//! Redis's replication.c in one loop. While the snapshot for this replica is being made
//! (`wait_bgsave`), the master sends a `\n` every second so the replica's read timeout does not
//! fire. When the snapshot is ready (`send_bulk`) it sends `$<len>\r\n` and the file's bytes,
//! with no CRLF after them. Then (`online`) it sends the replication stream from the
//! replica's cursor onwards — the same shared blocks every replica and the backlog hold — and
//! reads the replica's `REPLCONF ACK <offset>` every second.

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
    let mut tick = tokio::time::interval(Duration::from_secs(1));
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
            if r.state == ReplicaState::Online {
                // Everything from the cursor on, as shared blocks; then let the backlog drop
                // what no replica needs any more.
                e.repl.seal();
                match e.repl.backlog.read_from(r.cursor) {
                    Some(parts) => {
                        for p in parts {
                            out.raw(&p);
                        }
                        let end = e.repl.backlog.end();
                        if let Some(r) = e.replicas.get_mut(&id) {
                            r.cursor = end;
                        }
                        let oldest = e
                            .replicas
                            .values()
                            .filter(|r| r.state != ReplicaState::WaitBgsaveStart)
                            .map(|r| r.cursor)
                            .min();
                        e.repl.backlog.trim(oldest);
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
            r.state
        };
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
                // A replica waiting for its snapshot gets a newline every second.
                if matches!(state, ReplicaState::WaitBgsaveStart | ReplicaState::WaitBgsaveEnd) {
                    out.raw(b"\n");
                }
            }
        }
    }
    let mut e = shared.lock();
    if let Some(r) = e.replicas.shift_remove(&id) {
        log::notice(&format!("Connection with replica {} lost.", r.name()));
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
