//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK...).
//!
//! A blocking command that finds nothing sets `Ctx::block`; the engine records the client
//! here under every key it waits on, in arrival order. When a write adds elements to such a
//! key it calls `signal` (Redis's `signalKeyAsReady`); after that command the engine re-runs
//! each waiting client's command (Redis 7's way of serving blocked clients), in FIFO order,
//! until one blocks again for lack of data. The reply travels to the blocked connection
//! through its channel. The deadline is kept by the connection.

use bytes::Bytes;
use std::collections::{HashMap, HashSet, VecDeque};

#[derive(Debug, Clone)]
pub struct BlockedClient {
    pub id: u64,
    pub db: usize,
    pub resp3: bool,
    pub argv: Vec<Bytes>,
    pub keys: Vec<Bytes>,
    pub deadline: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Blocking {
    clients: HashMap<u64, BlockedClient>,
    by_key: HashMap<(usize, Bytes), VecDeque<u64>>,
    ready: VecDeque<(usize, Bytes)>,
    ready_set: HashSet<(usize, Bytes)>,
}

impl Blocking {
    pub fn add(
        &mut self,
        id: u64,
        db: usize,
        resp3: bool,
        argv: &[&[u8]],
        keys: Vec<Bytes>,
        deadline: Option<i64>,
    ) {
        for k in &keys {
            self.by_key
                .entry((db, k.clone()))
                .or_default()
                .push_back(id);
        }
        let argv = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        self.clients.insert(
            id,
            BlockedClient {
                id,
                db,
                resp3,
                argv,
                keys,
                deadline,
            },
        );
    }

    /// Unblock a client (served, timed out, killed). Returns whether it was blocked.
    pub fn remove(&mut self, id: u64) -> bool {
        let Some(bc) = self.clients.remove(&id) else {
            return false;
        };
        for k in bc.keys {
            let slot = (bc.db, k);
            if let Some(q) = self.by_key.get_mut(&slot) {
                q.retain(|&x| x != id);
                if q.is_empty() {
                    self.by_key.remove(&slot);
                }
            }
        }
        true
    }

    pub fn get(&self, id: u64) -> Option<&BlockedClient> {
        self.clients.get(&id)
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// A key got data; remember it if someone waits on it.
    pub fn signal(&mut self, db: usize, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        let slot = (db, Bytes::copy_from_slice(key));
        if self.by_key.contains_key(&slot) && self.ready_set.insert(slot.clone()) {
            self.ready.push_back(slot);
        }
    }

    pub fn next_ready(&mut self) -> Option<(usize, Bytes)> {
        let slot = self.ready.pop_front()?;
        self.ready_set.remove(&slot);
        Some(slot)
    }

    /// Clients waiting on a key, oldest first.
    pub fn waiting_on(&self, db: usize, key: &Bytes) -> Vec<u64> {
        self.by_key
            .get(&(db, key.clone()))
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Clients blocked with a deadline that has passed.
    pub fn timed_out(&self, now_ms: i64) -> Vec<u64> {
        self.clients
            .values()
            .filter(|c| matches!(c.deadline, Some(d) if d <= now_ms))
            .map(|c| c.id)
            .collect()
    }
}
