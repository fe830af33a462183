//! The tap proxy: accept, dial the upstream for each connection, forward every byte unchanged
//! both ways, and hand a copy of each chunk to one printing thread.
//!
//! The proxy knows nothing about Redis. Each chunk it reads becomes a capture
//! [`Record`] (connection number, direction, bytes, time) that goes to a single thread, which
//! appends it to the `--record` file and feeds it to the [`Session`] that decodes and prints.
//! Two ordering rules make the output trustworthy:
//! - a chunk is handed over *before* it is forwarded, so an answer can never be recorded
//!   before the question that caused it (the decoder pairs replies with requests by order);
//! - the channel to the printer is bounded, so a printer slower than the link slows the link
//!   down instead of piling up an RDB in memory: the tap holds at most a few chunks per
//!   direction, never a whole transfer.

use crate::present::timeline::{LinkSink, Session};
use crate::repl::stream::Dir;
use crate::repl::stream::capture::{self, Record};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Bytes read from a socket at once (the decoders prefer big chunks).
const CHUNK: usize = 64 * 1024;

/// Chunks in flight to the printer before the proxy waits for it.
const QUEUE: usize = 64;

/// What `rtool tap` was asked to do.
pub struct TapConfig {
    pub upstream: String,
    pub listen: String,
    pub record: Option<PathBuf>,
    /// Hand each event's raw bytes to the sink too (`--hex`).
    pub hex: bool,
    pub sink: Box<dyn LinkSink + Send>,
}

/// Runs the proxy until the process is stopped. The listening address is printed on stderr
/// (`rtool tap: listening on ADDR`) once the socket is bound, which is what scripts and tests
/// wait for when they ask for port 0.
pub fn run(cfg: TapConfig) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut file = match &cfg.record {
        Some(p) => {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(p)
                    .with_context(|| format!("cannot create {}", p.display()))?,
            );
            capture::write_header(&mut f, "tap", serde_json::json!({"upstream": cfg.upstream}))?;
            f.flush()?;
            Some(f)
        }
        None => None,
    };
    let (tx, mut rx) = mpsc::channel::<Record>(QUEUE);
    let mut sink = cfg.sink;
    let hex = cfg.hex;
    // The printer: one thread, so records are written and decoded in the order they were
    // handed over.
    let printer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut session = if hex {
            Session::with_hex()
        } else {
            Session::new()
        };
        while let Some(rec) = rx.blocking_recv() {
            if let Some(f) = file.as_mut() {
                capture::write_record(&mut *f, &rec)?;
                // Flushed per record: a tap is usually stopped by a signal.
                f.flush()?;
            }
            session.record(&rec, sink.as_mut())?;
        }
        sink.finish()
    });
    let upstream = cfg.upstream.clone();
    let listen = cfg.listen.clone();
    let res: Result<()> = rt.block_on(async move {
        let l = TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!(
            "rtool tap: listening on {}, upstream {upstream}",
            l.local_addr()?
        );
        let start = Instant::now();
        let mut next = 0u64;
        loop {
            let (client, _) = l.accept().await?;
            next += 1;
            let conn = next;
            let tx = tx.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let server = match TcpStream::connect(&upstream).await {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("rtool tap: conn {conn}: cannot reach {upstream}: {e}");
                        return;
                    }
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let a = pump(cr, sw, conn, Dir::ReplicaToMaster, tx.clone(), start);
                let b = pump(sr, cw, conn, Dir::MasterToReplica, tx, start);
                let _ = tokio::join!(a, b);
            });
        }
    });
    drop(printer);
    res
}

/// Copies one direction: read a chunk, hand it to the printer, forward it. On end of input
/// (or an error) the end is recorded and passed on as a half-close.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    conn: u64,
    dir: Dir,
    tx: mpsc::Sender<Record>,
    start: Instant,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = from.read(&mut buf).await.unwrap_or(0);
        let rec = Record {
            t: start.elapsed().as_secs_f64(),
            conn,
            dir,
            data: (n > 0).then(|| buf[..n].to_vec()),
        };
        // The printer gone (stdout closed) must not stop the proxy: it forwards regardless.
        let _ = tx.send(rec).await;
        if n == 0 {
            let _ = to.shutdown().await;
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            let _ = tx
                .send(Record {
                    t: start.elapsed().as_secs_f64(),
                    conn,
                    dir,
                    data: None,
                })
                .await;
            return;
        }
    }
}
