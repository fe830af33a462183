//! The tap proxy: accept, dial the upstream for each connection, forward every byte unchanged
//! both ways, and hand a copy of each chunk to one printing thread.
//!
//! The proxy knows nothing about Redis. Each chunk it forwards becomes a capture
//! [`Record`] (connection number, direction, bytes, time) that goes to a single thread, which
//! appends it to the `--record` file and feeds it to the [`Session`] that decodes and prints.
//! Two ordering rules make the output trustworthy:
//! - a chunk is handed over *before* it is forwarded, so an answer can never be recorded
//!   before the question that caused it (the decoder pairs replies with requests by order);
//! - the channel to the printer is bounded, so a printer slower than the link slows the link
//!   down instead of piling up an RDB in memory: the tap holds at most a few chunks per
//!   direction, never a whole transfer.
//!
//! ## Fault injection (for lessons)
//! - `--cut-after BYTES`: once a connection has forwarded BYTES bytes master->replica, the tap
//!   forwards nothing more and closes both of its sockets. The chunk that crosses the limit is
//!   split so the cut falls exactly at byte BYTES. Every connection open when the tap makes
//!   its first such cut is subject to the rule; connections accepted after it (the replicas
//!   coming back) are left alone, so a learner sees one cut and one resume per replica.
//! - `--cut-every SECS`: every SECS the tap cuts each open connection the decoder has
//!   recognised as a replication link (`REPLCONF`/`PSYNC`/`SYNC`); client connections are
//!   never cut by either rule.
//! - `--delay MS` (`--delay-dir`): each chunk read in that direction is forwarded MS after it
//!   was read, in order. The queue between reading and forwarding is bounded, so a link
//!   faster than the delay allows is slowed down rather than buffered without limit.
//!
//! A cut is the only thing that drops bytes (the rest of the chunk that crossed the limit,
//! and chunks still waiting out a delay). It is recorded as a capture record of its own, so
//! `rtool tap replay` shows it where it happened. A cut takes effect between chunks: a chunk
//! already being written is written whole, so the capture holds exactly what was forwarded.
//!
//! Which connections are replication links is the decoder's verdict: the printing thread
//! publishes it per connection (an atomic in [`ConnCtl`]), and only `--cut-every` and the
//! client exemption read it. The proxy itself still parses nothing.

use crate::present::timeline::{LinkSink, Session};
use crate::repl::stream::capture::{self, CutReason, Record};
use crate::repl::stream::{Dir, LinkKind};
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// Bytes read from a socket at once (the decoders prefer big chunks).
const CHUNK: usize = 64 * 1024;

/// Chunks in flight to the printer before the proxy waits for it.
const QUEUE: usize = 64;

/// Chunks waiting out `--delay` per direction before reading stops (16 MiB at most).
const DELAY_QUEUE: usize = 256;

/// The faults to inject.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// `--cut-after BYTES` (master->replica bytes per connection).
    pub cut_after: Option<u64>,
    /// `--cut-every SECS`.
    pub cut_every: Option<Duration>,
    /// `--delay MS` and the direction it applies to.
    pub delay: Option<(Duration, Dir)>,
}

/// What `rtool tap` was asked to do.
pub struct TapConfig {
    pub upstream: String,
    pub listen: String,
    pub record: Option<PathBuf>,
    /// Hand each event's raw bytes to the sink too (`--hex`).
    pub hex: bool,
    /// `--progress-every` bytes of RDB (0: off).
    pub progress_every: u64,
    pub faults: Faults,
    pub sink: Box<dyn LinkSink + Send>,
}

/// The decoder's verdict on a connection, as published to the proxy.
const KIND_UNKNOWN: u8 = 0;
const KIND_REPLICATION: u8 = 1;
const KIND_CLIENT: u8 = 2;

/// What the proxy, the printer and the `--cut-every` timer share about one connection.
pub struct ConnCtl {
    /// `KIND_*`, written by the printing thread.
    kind: AtomicU8,
    /// Set once, to the reason, when the connection is to be cut; both pumps watch it.
    cut: watch::Sender<Option<CutReason>>,
    /// `--cut-after` applies to this connection (it was accepted before the first cut).
    cut_after_armed: bool,
}

impl ConnCtl {
    /// Asks for a cut; the first reason wins.
    fn trigger(&self, reason: CutReason) {
        self.cut.send_if_modified(|c| {
            if c.is_none() {
                *c = Some(reason);
                true
            } else {
                false
            }
        });
    }

    fn is_client(&self) -> bool {
        self.kind.load(Ordering::Relaxed) == KIND_CLIENT
    }
}

type Registry = Arc<Mutex<HashMap<u64, Arc<ConnCtl>>>>;

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
    let registry: Registry = Arc::default();
    let (tx, mut rx) = mpsc::channel::<Record>(QUEUE);
    let mut sink = cfg.sink;
    let hex = cfg.hex;
    let progress = cfg.progress_every;
    let reg = registry.clone();
    // The printer: one thread, so records are written and decoded in the order they were
    // handed over.
    let printer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut session = if hex {
            Session::with_hex()
        } else {
            Session::new()
        }
        .progress_every(progress);
        // The verdicts already published, so the registry is locked only when one changes.
        let mut published: HashMap<u64, u8> = HashMap::new();
        while let Some(rec) = rx.blocking_recv() {
            if let Some(f) = file.as_mut() {
                capture::write_record(&mut *f, &rec)?;
                // Flushed per record: a tap is usually stopped by a signal.
                f.flush()?;
            }
            session.record(&rec, sink.as_mut())?;
            let kind = match session.kind(rec.conn) {
                Some(LinkKind::Replication) => KIND_REPLICATION,
                Some(LinkKind::Client) => KIND_CLIENT,
                Some(LinkKind::Unknown) => KIND_UNKNOWN,
                None => {
                    published.remove(&rec.conn);
                    continue;
                }
            };
            if published.insert(rec.conn, kind) != Some(kind)
                && let Some(ctl) = reg.lock().unwrap().get(&rec.conn)
            {
                ctl.kind.store(kind, Ordering::Relaxed);
            }
        }
        sink.finish()
    });
    let upstream = cfg.upstream.clone();
    let listen = cfg.listen.clone();
    let faults = cfg.faults.clone();
    let res: Result<()> = rt.block_on(async move {
        let l = TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!(
            "rtool tap: listening on {}, upstream {upstream}",
            l.local_addr()?
        );
        let start = Instant::now();
        if let Some(every) = faults.cut_every {
            tokio::spawn(cut_every(registry.clone(), every));
        }
        // Set by the first `--cut-after` cut: later connections are exempt.
        let fired = Arc::new(AtomicBool::new(false));
        let mut next = 0u64;
        loop {
            let (client, _) = l.accept().await?;
            next += 1;
            let conn = next;
            let ctl = Arc::new(ConnCtl {
                kind: AtomicU8::new(KIND_UNKNOWN),
                cut: watch::channel(None).0,
                cut_after_armed: faults.cut_after.is_some() && !fired.load(Ordering::SeqCst),
            });
            registry.lock().unwrap().insert(conn, ctl.clone());
            let link = Link {
                conn,
                tx: tx.clone(),
                start,
                ctl,
                faults: faults.clone(),
                fired: fired.clone(),
            };
            let upstream = upstream.clone();
            let registry = registry.clone();
            tokio::spawn(async move {
                link.serve(client, &upstream).await;
                registry.lock().unwrap().remove(&conn);
            });
        }
    });
    drop(printer);
    res
}

/// `--cut-every`: cut every open replication link, every `every`.
async fn cut_every(registry: Registry, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let secs = every.as_secs_f64();
    loop {
        tick.tick().await;
        let reg = registry.lock().unwrap();
        for ctl in reg.values() {
            if ctl.kind.load(Ordering::Relaxed) == KIND_REPLICATION {
                ctl.trigger(CutReason::Every { secs });
            }
        }
    }
}

/// One proxied connection.
struct Link {
    conn: u64,
    tx: mpsc::Sender<Record>,
    start: Instant,
    ctl: Arc<ConnCtl>,
    faults: Faults,
    fired: Arc<AtomicBool>,
}

/// How a pump ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Its source closed (or a socket failed); the end was recorded.
    Closed,
    /// The connection was cut.
    Cut,
}

impl Link {
    async fn serve(&self, client: TcpStream, upstream: &str) {
        let conn = self.conn;
        let server = match TcpStream::connect(upstream).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("rtool tap: conn {conn}: cannot reach {upstream}: {e}");
                return;
            }
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        // The halves are borrowed by the pumps and dropped (closing both sockets) only after
        // the cut is recorded: a reconnecting replica's new connection must come after it.
        let (mut cr, mut cw) = client.into_split();
        let (mut sr, mut sw) = server.into_split();
        let a = self.pump(&mut cr, &mut sw, Dir::ReplicaToMaster);
        let b = self.pump(&mut sr, &mut cw, Dir::MasterToReplica);
        let (ea, eb) = tokio::join!(a, b);
        let reason = *self.ctl.cut.borrow();
        if let (Some(reason), true) = (reason, ea == End::Cut || eb == End::Cut) {
            self.send(Dir::MasterToReplica, None, Some(reason)).await;
        }
    }

    async fn send(&self, dir: Dir, data: Option<Vec<u8>>, cut: Option<CutReason>) {
        let rec = Record {
            t: self.start.elapsed().as_secs_f64(),
            conn: self.conn,
            dir,
            data,
            cut,
        };
        // The printer gone (stdout closed) must not stop the proxy: it forwards regardless.
        let _ = self.tx.send(rec).await;
    }

    /// Copies one direction until its source ends or the connection is cut.
    async fn pump(&self, from: &mut OwnedReadHalf, to: &mut OwnedWriteHalf, dir: Dir) -> End {
        let mut fwd = Forward {
            link: self,
            to,
            dir,
            sent: 0,
        };
        match self.faults.delay {
            Some((d, on)) if on == dir => fwd.delayed(from, d).await,
            _ => {
                let mut cut = self.ctl.cut.subscribe();
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let n = tokio::select! {
                        biased;
                        _ = cut.wait_for(Option::is_some) => return End::Cut,
                        r = from.read(&mut buf) => r.unwrap_or(0),
                    };
                    if let Some(end) = fwd.chunk(&buf[..n]).await {
                        return end;
                    }
                }
            }
        }
    }
}

/// The writing side of one direction: records, forwards, counts, and applies `--cut-after`.
struct Forward<'a> {
    link: &'a Link,
    to: &'a mut OwnedWriteHalf,
    dir: Dir,
    /// Bytes forwarded so far.
    sent: u64,
}

impl Forward<'_> {
    /// Forwards one chunk as read (empty: the source ended); `Some` when the pump is over.
    async fn chunk(&mut self, data: &[u8]) -> Option<End> {
        let link = self.link;
        if data.is_empty() {
            link.send(self.dir, None, None).await;
            let _ = self.to.shutdown().await;
            return Some(End::Closed);
        }
        let limit = match link.faults.cut_after {
            Some(l)
                if self.dir == Dir::MasterToReplica
                    && link.ctl.cut_after_armed
                    && !link.ctl.is_client() =>
            {
                Some(l)
            }
            _ => None,
        };
        let mut take = data.len();
        let mut cut = false;
        if let Some(l) = limit
            && self.sent + data.len() as u64 >= l
        {
            take = usize::try_from(l.saturating_sub(self.sent)).unwrap_or(take);
            cut = true;
        }
        if take > 0 {
            link.send(self.dir, Some(data[..take].to_vec()), None).await;
            if self.to.write_all(&data[..take]).await.is_err() {
                link.send(self.dir, None, None).await;
                return Some(End::Closed);
            }
            self.sent += take as u64;
        }
        if let (true, Some(bytes)) = (cut, limit) {
            link.fired.store(true, Ordering::SeqCst);
            link.ctl.trigger(CutReason::After { bytes });
            return Some(End::Cut);
        }
        None
    }

    /// `--delay`: a reader queues each chunk with the time it is due; this side forwards it
    /// then. Both stop at a cut.
    async fn delayed(&mut self, from: &mut OwnedReadHalf, delay: Duration) -> End {
        let (qtx, mut qrx) = mpsc::channel::<(tokio::time::Instant, Vec<u8>)>(DELAY_QUEUE);
        let mut cut_r = self.link.ctl.cut.subscribe();
        let reader = async move {
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = tokio::select! {
                    biased;
                    _ = cut_r.wait_for(Option::is_some) => return,
                    _ = qtx.closed() => return,
                    r = from.read(&mut buf) => r.unwrap_or(0),
                };
                buf.truncate(n);
                let due = tokio::time::Instant::now() + delay;
                // An empty chunk carries the end; the writer gone means the pump is over.
                if qtx.send((due, buf)).await.is_err() || n == 0 {
                    return;
                }
            }
        };
        let mut cut_w = self.link.ctl.cut.subscribe();
        // The writer owns the queue's receiving end: when it stops, the reader's next send
        // (or its wait on `closed`) tells it to stop too.
        let writer = async move {
            while let Some((due, data)) = qrx.recv().await {
                tokio::select! {
                    biased;
                    _ = cut_w.wait_for(Option::is_some) => return End::Cut,
                    _ = tokio::time::sleep_until(due) => {}
                }
                if let Some(end) = self.chunk(&data).await {
                    return end;
                }
            }
            // The reader stopped without queueing an end: it saw the cut.
            End::Cut
        };
        let ((), end) = tokio::join!(reader, writer);
        end
    }
}
