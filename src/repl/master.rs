//! ============================ Master side ============================
//!
//! What a master remembers about each replica attached to it, and how it answers PSYNC.
//! The states mirror Redis's `SLAVE_STATE_*`; the decision in [`decide_psync`] is Redis's
//! `masterTryPartialResynchronization`, with its log lines word for word.

use super::ReplLog;

/// A replica's state as seen by its master (Redis's `SLAVE_STATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// SLAVE_STATE_WAIT_BGSAVE_START: a full sync is needed but a snapshot for it has not
    /// started yet (another child is running).
    WaitBgsaveStart,
    /// SLAVE_STATE_WAIT_BGSAVE_END: the snapshot for this replica is being written.
    WaitBgsaveEnd,
    /// SLAVE_STATE_SEND_BULK: the RDB is being sent.
    SendBulk,
    /// SLAVE_STATE_ONLINE: the command stream flows.
    Online,
}

impl ReplicaState {
    /// The word INFO replication shows (`state=online`).
    pub fn info_name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsaveStart | ReplicaState::WaitBgsaveEnd => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

/// One attached replica.
#[derive(Debug, Clone)]
pub struct ReplicaInfo {
    pub client_id: u64,
    pub ip: String,
    /// REPLCONF listening-port (0 if never sent).
    pub listening_port: u16,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    pub state: ReplicaState,
    /// Next 0-based stream offset to send.
    pub cursor: u64,
    /// Last REPLCONF ACK offset and when it came (Unix ms).
    pub ack_offset: u64,
    pub ack_time_ms: i64,
    /// The snapshot offset this replica's full sync starts from.
    pub sync_offset: u64,
    /// Attached with SYNC (no `+FULLRESYNC` line, no replication ID).
    pub legacy_sync: bool,
    /// Unix ms since when it waits for a snapshot to start (repl-diskless-sync-delay counts
    /// from the oldest waiting replica).
    pub wait_since_ms: i64,
    /// Its snapshot streams straight from the child (`$EOF:` framing) instead of a file.
    pub diskless: bool,
    /// Online after a diskless transfer, but the command stream waits for the replica's first
    /// REPLCONF ACK (Redis's `repl_start_cmd_stream_on_ack`): the replica must find the EOF
    /// mark at the very end of what it has received.
    pub stream_on_ack: bool,
    /// Unix ms since when its output buffer is over the soft limit (0: it is not).
    pub obuf_soft_since_ms: i64,
    /// Its snapshot leaves the keys out (`REPLCONF rdb-filter-only`, for `redis-cli
    /// --functions-rdb`): it is always sent over the socket, and only shared with replicas
    /// that asked the same.
    pub exclude_data: bool,
}

impl ReplicaInfo {
    /// `ip:port` as Redis names a replica in its logs (`replicationGetSlaveName`).
    pub fn name(&self) -> String {
        // A replica that never sent `REPLCONF listening-port` (e.g. `redis-cli --replica`)
        // has port 0; an IPv6 address is bracketed when a port follows it (anetFormatAddr).
        if self.listening_port == 0 {
            format!("{}:<unknown-replica-port>", self.ip)
        } else if self.ip.contains(':') {
            format!("[{}]:{}", self.ip, self.listening_port)
        } else {
            format!("{}:{}", self.ip, self.listening_port)
        }
    }
}

/// What to answer a `PSYNC <replid> <offset>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncDecision {
    /// `+CONTINUE`: stream from this 0-based offset.
    Continue { from: u64 },
    /// `+FULLRESYNC`, with the log line(s) saying why.
    Full { why: Vec<String> },
}

/// Redis's `masterTryPartialResynchronization`: can a replica that asks for `req_id` from
/// 1-based `req_offset` continue from the backlog?
pub fn decide_psync(log: &ReplLog, req_id: &str, req_offset: i64, replica: &str) -> PsyncDecision {
    let id_ok = req_id.eq_ignore_ascii_case(&log.replid)
        || (req_id.eq_ignore_ascii_case(&log.replid2) && req_offset <= log.second_repl_offset);
    if !id_ok {
        let why = if req_id == "?" {
            format!("Full resync requested by replica {replica}")
        } else if req_id.eq_ignore_ascii_case(&log.replid2) {
            format!(
                "Partial resynchronization not accepted: Requested offset for second ID was {req_offset}, but I can reply up to {}",
                log.second_repl_offset
            )
        } else {
            format!(
                "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{req_id}', my replication IDs are '{}' and '{}')",
                log.replid, log.replid2
            )
        };
        return PsyncDecision::Full { why: vec![why] };
    }
    let b = &log.backlog;
    if !log.backlog_active || req_offset < 0 || !b.can_resume_from(req_offset as u64) {
        let mut why = vec![format!(
            "Unable to partial resync with replica {replica} for lack of backlog (Replica request was: {req_offset})."
        )];
        if req_offset > log.offset() as i64 {
            why.push(format!(
                "Warning: replica {replica} tried to PSYNC with an offset that is greater than the master replication offset."
            ));
        }
        return PsyncDecision::Full { why };
    }
    PsyncDecision::Continue {
        from: req_offset as u64 - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psync_decisions_follow_redis() {
        let mut log = ReplLog::new();
        log.active = true;
        let id = log.replid.clone();
        // No backlog yet: even our own ID gets a full resync.
        assert!(matches!(
            decide_psync(&log, &id, 1, "r"),
            PsyncDecision::Full { .. }
        ));
        log.create_backlog(1024);
        log.feed(0, &[b"set", b"k", b"v"]);
        log.seal();
        assert_eq!(
            decide_psync(&log, &id, 1, "r"),
            PsyncDecision::Continue { from: 0 }
        );
        assert_eq!(
            decide_psync(&log, &id, 51, "r"),
            PsyncDecision::Continue { from: 50 }
        );
        match decide_psync(&log, &id, 52, "127.0.0.1:6380") {
            PsyncDecision::Full { why } => {
                assert!(why[0].starts_with(
                    "Unable to partial resync with replica 127.0.0.1:6380 for lack of backlog"
                ));
                assert!(why[1].contains("greater than the master replication offset"));
            }
            other => panic!("{other:?}"),
        }
        match decide_psync(&log, "?", -1, "r") {
            PsyncDecision::Full { why } => {
                assert_eq!(why, vec!["Full resync requested by replica r".to_string()])
            }
            other => panic!("{other:?}"),
        }
        match decide_psync(&log, &"a".repeat(40), 1, "r") {
            PsyncDecision::Full { why } => assert!(why[0].contains("Replication ID mismatch")),
            other => panic!("{other:?}"),
        }
    }
}
