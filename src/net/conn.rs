//! One connection: read, parse, execute, write — Redis's `readQueryFromClient` and
//! `processInputBuffer` on a tokio task.
//!
//! The loop reads as much as the socket has (pipelined clients send many commands in one
//! packet), then takes the engine lock **once** and runs every complete command in the
//! buffer, appending replies to one output buffer, and writes it with one syscall. A command
//! that blocks (BLPOP) stops the loop: the rest of the buffer waits until the client is served
//! or times out, as in Redis.

use super::Shared;
use crate::aof::writer::Before;
use crate::cmd::client::{Client, ClientMsg};
use crate::cmd::{Flow, execute};
use crate::log;
use crate::resp::request::{Parsed, parse_request};
use crate::resp::{Limits, Reply};
use bytes::{Buf, BytesMut};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Redis's reply to a non-loopback client while protected mode is on and no password is set.
pub const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Does protected mode refuse this peer? (Redis: protected mode on, the default user has no
/// password, and the peer's address is neither `127.0.0.1` nor `::1` — Redis compares the
/// address text, so 127.0.0.2, although loopback, is refused.)
pub fn protected_mode_denies(protected: bool, has_password: bool, peer: &SocketAddr) -> bool {
    let local = match peer.ip() {
        std::net::IpAddr::V4(a) => a == std::net::Ipv4Addr::LOCALHOST,
        std::net::IpAddr::V6(a) => a == std::net::Ipv6Addr::LOCALHOST,
    };
    protected && !has_password && !local
}

/// How much one read asks for: large, because a pipelined client sends a lot at once.
const READ_CHUNK: usize = 64 * 1024;

pub async fn handle(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Admission: protected mode and maxclients, checked like Redis before any command.
    enum Admit {
        Denied(&'static [u8]),
        Ok(u64, bool, (i64, i64)),
    }
    let admit = {
        let mut e = shared.lock();
        if protected_mode_denies(
            e.config.get_bool("protected-mode"),
            e.auth_required(),
            &peer,
        ) {
            Admit::Denied(DENIED.as_bytes())
        } else if e.clients.len() as i64 >= e.config.get_i64("maxclients") {
            e.stats.rejected_connections += 1;
            Admit::Denied(b"-ERR max number of clients reached\r\n")
        } else {
            let id = e.add_client(peer.to_string(), laddr, tx);
            Admit::Ok(id, !e.auth_required(), (e.timeout_s, e.query_buffer_limit))
        }
    };
    let (id, authenticated, (mut timeout_s, mut qbuf_limit)) = match admit {
        Admit::Denied(msg) => {
            let _ = stream.write_all(msg).await;
            return;
        }
        Admit::Ok(id, a, t) => (id, a, t),
    };
    log::verbose(&format!("Accepted {peer}"));
    let mut client = Client::new(id, authenticated);
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Reply::new(false);
    let mut closing = false;
    loop {
        // 1. Run whatever complete commands are buffered.
        if client.blocked.is_none() && !inbuf.is_empty() && !closing {
            let (flow, (timeout_now, qbuf_now), spawn_links, aof) =
                process_input(&shared, &mut client, &mut inbuf, &mut out);
            shared.spin.ran_batch();
            // The AOF sees this batch's writes before any client sees a reply about them.
            if let Before::Write(end) = aof {
                // Let every other ready connection run its batch first (yield_now puts this
                // task behind them): one write(2), and with `appendfsync always` one
                // fdatasync, then covers them all.
                tokio::task::yield_now().await;
                crate::aof::writer::write_for(&mut shared.lock(), end);
            }
            qbuf_limit = qbuf_now;
            // CONFIG SET timeout applies to connected clients too.
            timeout_s = timeout_now;
            if spawn_links {
                super::server::spawn_requested_links(&shared);
            }
            super::replica_link::start_diskless_relay(&shared);
            // PSYNC/SYNC made this connection a replica link: it is served by its own loop.
            if client.is_replica {
                let rest = inbuf.split();
                let out = std::mem::replace(&mut out, Reply::new(false));
                super::replica_link::run(shared.clone(), stream, &mut client, rest, out, &mut rx)
                    .await;
                shared.lock().remove_client(&mut client);
                return;
            }
            match flow {
                Flow::Close => closing = true,
                Flow::Blocked | Flow::Postponed | Flow::Continue => {}
            }
        }
        // 2. Write the replies.
        if !out.is_empty() {
            if stream.write_all(&out.buf).await.is_err() {
                break;
            }
            out.buf.clear();
        }
        if closing {
            break;
        }
        // 3. Wait for more input, a message from another client, or a deadline.
        let deadline = client.blocked.flatten();
        let idle = if timeout_s > 0 && client.blocked.is_none() && client.subscriptions() == 0 {
            Some(std::time::Duration::from_secs(timeout_s as u64))
        } else {
            None
        };
        inbuf.reserve(READ_CHUNK);
        tokio::select! {
            r = stream.read_buf(&mut inbuf) => {
                match r {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let limit = qbuf_limit;
                if inbuf.len() as i64 > limit && limit > 0 {
                    log::warning(&format!("Closing client that reached max query buffer length: id={} addr={peer} (qbuf initial bytes: {:?})", client.id, String::from_utf8_lossy(&inbuf[..inbuf.len().min(64)])));
                    break;
                }
            }
            msg = rx.recv() => match msg {
                Some(ClientMsg::Push(b)) => out.raw(&b),
                Some(ClientMsg::Unblocked(b)) => {
                    client.blocked = None;
                    out.raw(&b);
                }
                Some(ClientMsg::Kill) | None => break,
            },
            _ = sleep_until_ms(deadline), if deadline.is_some() => {
                // Timed out — unless someone served us in the meantime (then the reply is
                // already in our channel and the next turn picks it up).
                let mut e = shared.lock();
                if e.blocking.remove(client.id) {
                    if let Some(info) = e.clients.get_mut(&client.id) { info.blocked = false; }
                    client.blocked = None;
                    out.resp3 = client.resp3;
                    e.timeout_reply(client.id, &mut out);
                }
            }
            _ = tokio::time::sleep(idle.unwrap_or_default()), if idle.is_some() => {
                log::verbose(&format!("Closing idle client id={}", client.id));
                break;
            }
        }
    }
    let _ = stream.shutdown().await;
    shared.lock().remove_client(&mut client);
}

async fn sleep_until_ms(deadline: Option<i64>) {
    if let Some(d) = deadline {
        let now = crate::cmd::engine::now_ms();
        if d > now {
            tokio::time::sleep(std::time::Duration::from_millis((d - now) as u64)).await;
        }
    }
}

/// What a batch left to do: the flow, the current `timeout` and `client-query-buffer-limit`,
/// whether master links must be started, and an AOF position to wait for before replying.
type Batch = (Flow, (i64, i64), bool, Before);

/// Run every complete command in `inbuf` under one lock acquisition. Returns what to do next
/// and the current `timeout` and `client-query-buffer-limit` (CONFIG SET applies to connected
/// clients too).
fn process_input(
    shared: &Shared,
    client: &mut Client,
    inbuf: &mut BytesMut,
    out: &mut Reply,
) -> Batch {
    let mut e = shared.lock();
    e.now_ms = crate::cmd::engine::now_ms();
    let mut pos = 0;
    let mut flow = Flow::Continue;
    while pos < inbuf.len() {
        let limits = Limits {
            max_bulk_len: e.limits.max_bulk_len,
            unauthenticated: !client.authenticated,
        };
        out.resp3 = client.resp3;
        let before = out.len();
        let parsed = parse_request(&inbuf[pos..], &limits);
        let f = match parsed {
            Ok(Parsed::Incomplete) => break,
            Ok(Parsed::Command(req, used)) => {
                pos += used;
                let f = execute(&mut e, client, &req.args, out);
                if matches!(f, Flow::Postponed) {
                    pos -= used;
                }
                f
            }
            Ok(Parsed::Inline(args, used)) => {
                pos += used;
                let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                let f = execute(&mut e, client, &argv, out);
                if matches!(f, Flow::Postponed) {
                    pos -= used;
                }
                f
            }
            Err(err) => {
                // Redis replies the error and closes the connection after writing it.
                log::verbose(&format!(
                    "Protocol error ({err}) from client: id={}",
                    client.id
                ));
                out.err(&err.to_string());
                pos = inbuf.len();
                flow = Flow::Close;
                break;
            }
        };
        // CLIENT REPLY OFF/SKIP: drop what this command replied.
        if client.reply_skip {
            client.reply_skip = false;
            out.buf.truncate(before);
        } else if client.reply_off {
            out.buf.truncate(before);
        }
        match f {
            Flow::Continue => {}
            Flow::Postponed => {
                // The command stays in `inbuf`; the client waits, like a blocked one, for
                // the message that the pause is over (cmd::server::cancel_shutdown).
                client.blocked = Some(None);
                e.persist.shutdown.postponed.push(client.id);
                if let Some(info) = e.clients.get_mut(&client.id) {
                    info.blocked = true;
                }
                flow = Flow::Postponed;
                break;
            }
            other => {
                flow = other;
                break;
            }
        }
    }
    // Keep the registry's view of this client fresh (CLIENT LIST).
    let (db, multi) = (
        client.db,
        client.multi.as_ref().map(|m| m.len() as i64).unwrap_or(-1),
    );
    let now = e.now_ms;
    if let Some(info) = e.clients.get_mut(&client.id) {
        info.db = db;
        info.multi = multi;
        info.last_interaction_ms = now;
        info.qbuf = inbuf.len() - pos;
    }
    let limits = (e.timeout_s, e.query_buffer_limit);
    // REPLICAOF asked for a master link, which only the runtime can start.
    let spawn_links = !e.requests.is_empty();
    // Writes this batch propagated become one block of the replication stream; the replica
    // links waiting for it are woken once per batch.
    // A WAIT blocked in this batch: ask the replicas where they are, through the stream.
    if std::mem::take(&mut e.get_ack) && e.repl.backlog_active {
        e.repl.feed_nodb(&[b"REPLCONF", b"GETACK", b"*"]);
    }
    let wake = (e.repl.backlog_active && e.repl.seal()) || std::mem::take(&mut e.repl_wakeup);
    // The AOF sees this batch's writes before any client sees a reply about them (Redis's
    // flushAppendOnlyFile in beforeSleep): see aof::writer::after_batch and write_for.
    let aof = crate::aof::writer::after_batch(&mut e);
    drop(e);
    if wake {
        shared.repl_notify.notify_waiters();
    }
    inbuf.advance(pos);
    (flow, limits, spawn_links, aof)
}
