//! Spin before sleep: after a batch of commands, the event loop keeps polling its sockets for
//! a short while before it blocks in `epoll_wait`.
//!
//! **Why.** A server that sleeps between batches must be woken for the next one. The client's
//! `send` makes the server's thread runnable and, when that thread's CPU is idle, interrupts
//! the CPU; on a virtual machine that interrupt leaves the guest for the hypervisor, and the
//! *client* pays for it inside its `send`. rtool needs less CPU per request than Redis (GET at
//! `-P 16` on a 2-core VM: 0.54 µs against Redis's 0.61), so without spinning it was idle more
//! often: 9,796 sleeps (`sched:sched_switch`) per million GETs against Redis's 2,790. The
//! single-threaded `redis-benchmark`, which is the bottleneck on such a machine, then spent
//! 0.74 µs per request talking to rtool against 0.68 talking to Redis, and the throughput
//! followed the client: 0.90× Redis although the server did less work.
//!
//! **What.** [`run`] is one task that, while connections keep running batches, yields on every
//! turn of the loop. A task that yields makes tokio poll the sockets with a zero timeout
//! instead of blocking, so the next request is picked up without a wake-up. When no batch
//! has run for a *window* the task sleeps until the next batch. The window adapts the way
//! Linux's guest halt-polling (`cpuidle-haltpoll`) adapts its poll time ([`Window`]): it grows
//! when the sleep that followed was at most `spin-before-sleep-us` long (a longer spin would
//! have caught the next batch) and halves when the sleep was longer (the spin was wasted),
//! down to no spin at all. So an idle server does not spin, a server with one request every
//! millisecond spins for a few windows and then stops, and a loaded one keeps its core busy
//! between batches, as Redis is under the same load.
//!
//! `spin-before-sleep-us` (default 100) is rtool's own directive; `0` turns spinning off.
//! `CONFIG SET` changes it at once. `benches/vs-redis.sh` shows the effect (`SPIN=0` runs
//! the server without it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What the connections and the spinning task share.
pub struct Spin {
    /// Batches run so far: the spinner keeps going while this moves.
    batches: AtomicU64,
    /// Set while the spinner sleeps; the first batch after clears it and wakes the spinner.
    asleep: AtomicBool,
    wake: Notify,
    /// `spin-before-sleep-us`, kept current by the engine (`reload_cached_config`).
    max_us: Arc<AtomicU64>,
}

impl Spin {
    pub fn new(max_us: Arc<AtomicU64>) -> Spin {
        Spin {
            batches: AtomicU64::new(0),
            asleep: AtomicBool::new(false),
            wake: Notify::new(),
            max_us,
        }
    }

    /// A connection ran a batch of commands: keep spinning, or start again.
    pub fn ran_batch(&self) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        // Only the batch that finds the spinner asleep wakes it, so no stale wake-up is left
        // behind for a later sleep.
        if self.asleep.load(Ordering::Relaxed) && self.asleep.swap(false, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    fn max_us(&self) -> u64 {
        self.max_us.load(Ordering::Relaxed)
    }
}

/// How long to keep spinning after the last batch, in µs, adapted after every sleep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub us: u64,
}

impl Window {
    /// The window after a sleep of `slept_us`, under the limit `max_us`.
    ///
    /// A sleep no longer than the limit means a longer spin would have saved the wake-up:
    /// grow (double, starting from a quarter of the limit). A longer sleep means the spin
    /// before it was wasted: halve, and below a sixteenth of the limit stop spinning.
    pub fn after_sleep(self, slept_us: u64, max_us: u64) -> Window {
        let us = if slept_us <= max_us {
            self.us.saturating_mul(2).max(max_us / 4)
        } else if self.us / 2 < max_us / 16 {
            0
        } else {
            self.us / 2
        };
        Window { us: us.min(max_us) }
    }
}

/// The spinning task: run it once on the server's runtime.
pub async fn run(spin: Arc<Spin>) {
    let mut window = Window {
        us: spin.max_us() / 4,
    };
    loop {
        // Sleep until a connection runs a batch. A batch between the store and the await
        // leaves a permit in `wake`, so it is not missed.
        spin.asleep.store(true, Ordering::Release);
        let slept_from = Instant::now();
        spin.wake.notified().await;
        window = window.after_sleep(slept_from.elapsed().as_micros() as u64, spin.max_us());
        // Spin while batches keep coming.
        let mut seen = spin.batches.load(Ordering::Relaxed);
        let mut last = Instant::now();
        loop {
            let limit = window.us.min(spin.max_us());
            if limit == 0 {
                break;
            }
            tokio::task::yield_now().await;
            let now = Instant::now();
            let n = spin.batches.load(Ordering::Relaxed);
            if n != seen {
                seen = n;
                last = now;
            } else if now.duration_since(last) >= Duration::from_micros(limit) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_sleeps_grow_the_window_to_the_limit() {
        let mut w = Window { us: 0 };
        let mut seen = Vec::new();
        for _ in 0..4 {
            w = w.after_sleep(30, 100);
            seen.push(w.us);
        }
        assert_eq!(seen, [25, 50, 100, 100]);
    }

    #[test]
    fn long_sleeps_shrink_the_window_to_nothing() {
        let mut w = Window { us: 100 };
        let mut seen = Vec::new();
        for _ in 0..5 {
            w = w.after_sleep(1_000, 100);
            seen.push(w.us);
        }
        assert_eq!(seen, [50, 25, 12, 6, 0]);
    }

    #[test]
    fn a_lower_limit_caps_the_window_and_zero_turns_it_off() {
        let w = Window { us: 100 };
        assert_eq!(w.after_sleep(10, 40).us, 40);
        assert_eq!(w.after_sleep(10, 0).us, 0);
        assert_eq!(w.after_sleep(1_000, 0).us, 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_spinner_sleeps_when_no_batch_runs() {
        let spin = Arc::new(Spin::new(Arc::new(AtomicU64::new(100))));
        let task = tokio::spawn(run(spin.clone()));
        // It goes to sleep at once (no batch yet) ...
        let deadline = Instant::now() + Duration::from_secs(10);
        while !spin.asleep.load(Ordering::Acquire) {
            assert!(Instant::now() < deadline, "the spinner never slept");
            tokio::task::yield_now().await;
        }
        // ... a batch wakes it, and with no further batch it sleeps again.
        spin.ran_batch();
        assert!(!spin.asleep.load(Ordering::Acquire));
        while !spin.asleep.load(Ordering::Acquire) {
            assert!(Instant::now() < deadline, "the spinner kept spinning");
            tokio::task::yield_now().await;
        }
        task.abort();
    }
}
