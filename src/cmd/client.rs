//! Clients: what a connection remembers between commands ([`Client`], owned by the connection
//! task) and what other connections may need to see or change about it ([`ClientInfo`], kept
//! in the engine's registry: CLIENT LIST/KILL, pub/sub delivery, unblocking, WATCH).

use bytes::Bytes;
use std::collections::HashSet;
use tokio::sync::mpsc::UnboundedSender;

/// A message to a connection from elsewhere in the server.
#[derive(Debug)]
pub enum ClientMsg {
    /// Bytes to write as they are (a pub/sub message, already encoded for this client).
    Push(Bytes),
    /// The reply of a command this client was blocked in; it may read its next command.
    Unblocked(Bytes),
    /// CLIENT KILL, or the server is shutting down: close now.
    Kill,
}

/// Per-connection state that only its own connection touches.
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    /// The selected database.
    pub db: usize,
    pub resp3: bool,
    pub authenticated: bool,
    /// `Some` between MULTI and EXEC/DISCARD: the queued commands.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command queued in MULTI failed to queue (unknown, wrong arity): EXEC must abort.
    pub multi_error: bool,
    /// Keys under WATCH: (db, key).
    pub watched: Vec<(usize, Bytes)>,
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    /// Close the connection once the pending replies are written (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// Blocked in a command: (deadline in ms, or None for forever).
    pub blocked: Option<Option<i64>>,
    /// CLIENT REPLY OFF / SKIP.
    pub reply_off: bool,
    pub reply_skip: bool,
    /// This connection is a replica's link or the master's link (filled in by replication).
    pub is_replica: bool,
    pub is_master: bool,
    /// What a replica said in REPLCONF before its PSYNC: listening-port, ip-address, capa.
    pub repl_listening_port: u16,
    pub repl_ip: Option<String>,
    pub repl_capa_eof: bool,
    /// `REPLCONF rdb-filter-only ...` was sent: the snapshot leaves the keys out (Redis's
    /// `SLAVE_REQ_RDB_EXCLUDE_DATA`; `functions` would keep functions, which rtool has none of).
    pub repl_exclude_data: bool,
    pub repl_capa_psync2: bool,
    /// The replication offset this client's last write reached (WAIT waits for it).
    pub woff: u64,
}

impl Client {
    pub fn new(id: u64, authenticated: bool) -> Self {
        Client {
            id,
            db: 0,
            resp3: false,
            authenticated,
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            channels: HashSet::new(),
            patterns: HashSet::new(),
            close_after_reply: false,
            blocked: None,
            reply_off: false,
            reply_skip: false,
            is_replica: false,
            is_master: false,
            repl_listening_port: 0,
            repl_ip: None,
            repl_capa_eof: false,
            repl_exclude_data: false,
            repl_capa_psync2: false,
            woff: 0,
        }
    }

    /// Subscribed to anything? (A RESP2 client is then in the pub/sub context.)
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

/// What the rest of the server knows about a connection.
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub name: Option<Bytes>,
    pub db: usize,
    pub resp: u8,
    /// Unix ms of connection and of the last command.
    pub created_ms: i64,
    pub last_interaction_ms: i64,
    pub last_cmd: String,
    pub sub: usize,
    pub psub: usize,
    /// Commands queued in MULTI, or -1.
    pub multi: i64,
    pub blocked: bool,
    /// A key this client WATCHes was modified: its EXEC will fail.
    pub dirty_cas: bool,
    pub flags_extra: String,
    pub qbuf: usize,
    pub tx: UnboundedSender<ClientMsg>,
}

impl ClientInfo {
    /// Redis's CLIENT LIST flags: N for normal, b blocked, x in MULTI, d dirty CAS, P pub/sub.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        f.push_str(&self.flags_extra);
        if self.blocked {
            f.push('b');
        }
        if self.dirty_cas {
            f.push('d');
        }
        if self.sub + self.psub > 0 {
            f.push('P');
        }
        if self.multi >= 0 {
            f.push('x');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// One line of CLIENT LIST / CLIENT INFO, fields in Redis 7.0's order.
    pub fn line(&self, now_ms: i64) -> String {
        let name = self
            .name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        format!(
            "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=16384 obl=0 oll=0 omem=0 tot-mem=22400 events=r cmd={} user=default redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            name,
            (now_ms - self.created_ms) / 1000,
            (now_ms - self.last_interaction_ms) / 1000,
            self.flags(),
            self.db,
            self.sub,
            self.psub,
            self.multi,
            self.qbuf,
            if self.last_cmd.is_empty() {
                "NULL"
            } else {
                &self.last_cmd
            },
            self.resp
        )
    }
}
