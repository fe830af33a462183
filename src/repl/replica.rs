//! ============================ Replica side ============================
//!
//! What a replica remembers about its master. The handshake states are Redis's
//! `REPL_STATE_*` (replication.c, `syncWithMaster`); the order matters, each state waits for
//! the reply to what the previous one sent. The I/O lives in `net::master_link`; the bytes
//! are decoded by `repl::stream`, the same decoder the tap uses.

/// Where the replica is in its conversation with the master (Redis's `REPL_STATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplState {
    /// REPL_STATE_CONNECT: must (re)connect.
    Connect,
    /// REPL_STATE_CONNECTING: TCP connect in progress.
    Connecting,
    /// REPL_STATE_RECEIVE_PING_REPLY: PING sent, waiting for +PONG (or -NOAUTH, also fine).
    ReceivePingReply,
    /// REPL_STATE_RECEIVE_AUTH_REPLY .. RECEIVE_CAPA_REPLY: the handshake, written back to
    /// back (AUTH, REPLCONF listening-port, REPLCONF capa eof capa psync2), replies read in
    /// order.
    ReceiveHandshakeReplies,
    /// REPL_STATE_RECEIVE_PSYNC_REPLY
    ReceivePsyncReply,
    /// REPL_STATE_TRANSFER: receiving the RDB.
    Transfer,
    /// REPL_STATE_CONNECTED: applying the command stream.
    Connected,
}

impl ReplState {
    /// INFO replication `master_link_status`.
    pub fn link_status(self) -> &'static str {
        if self == ReplState::Connected {
            "up"
        } else {
            "down"
        }
    }

    /// ROLE's third field for a replica.
    pub fn role_name(self) -> &'static str {
        match self {
            ReplState::Connect => "connect",
            ReplState::Connecting => "connecting",
            ReplState::ReceivePingReply
            | ReplState::ReceiveHandshakeReplies
            | ReplState::ReceivePsyncReply => "handshake",
            ReplState::Transfer => "sync",
            ReplState::Connected => "connected",
        }
    }
}

/// The master this server replicates, and the link's state.
#[derive(Debug, Clone)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    /// Bumped by every REPLICAOF, so a link task for an older master knows to stop.
    pub generation: u64,
    pub state: ReplState,
    /// Unix ms of the last byte from the master (INFO `master_last_io_seconds_ago`).
    pub last_io_ms: i64,
    /// Unix ms when the link went down (INFO `master_link_down_since_seconds`).
    pub down_since_ms: i64,
    /// Bytes of RDB received so far and expected (-1 when EOF-marked).
    pub sync_read: u64,
    pub sync_size: i64,
    /// Ask `PSYNC ? -1` instead of resuming our own history: a server started as a replica
    /// (replicaof in its config) that never synced has no history worth offering.
    pub from_scratch: bool,
    /// CLIENT KILL TYPE master: the link task drops the connection (and, like Redis, comes
    /// back with PSYNC for the history it has).
    pub kill: bool,
}
