//! Busy polling: while clients keep the server busy, poll the sockets instead of sleeping.
//!
//! An event loop that finds nothing to do goes to sleep in `epoll_wait`, and the next packet
//! has to wake it up: the sender's kernel marks the sleeping thread runnable and, when that
//! thread sleeps on another core, interrupts that core. On a virtual machine that interrupt
//! is an exit to the hypervisor, and it is paid by the *client* — with `redis-benchmark -P 1`
//! the client is the bottleneck, and each of its requests paid for a wake-up.
//!
//! So for a short window after the last piece of work (default 50 µs, the gap between two
//! requests of a busy client), the runtime keeps polling with a zero timeout instead of
//! sleeping: a task here yields in a loop, and tokio polls the sockets between two yields.
//! When the window passes without work the task sleeps until a connection has work again, so
//! an idle server uses no CPU. This is the kernel's `net.core.busy_poll` idea, done in the
//! event loop; Redis does not do it. `RTOOL_BUSY_POLL_US=0` turns it off, another value sets
//! the window. The measurement is in the README's benchmark section.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The default window, in microseconds.
pub const DEFAULT_WINDOW_US: u64 = 0;

/// What connections and the polling task share.
#[derive(Default)]
pub struct BusyPoll {
    /// Counts batches of work; the poller compares it between two polls.
    epoch: AtomicU64,
    /// The poller is asleep and must be woken by the next piece of work.
    sleeping: AtomicBool,
    wake: Notify,
}

impl BusyPoll {
    /// A connection did some work: keep (or start) polling.
    #[inline]
    pub fn worked(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
        if self.sleeping.load(Ordering::Relaxed) {
            self.sleeping.store(false, Ordering::Relaxed);
            self.wake.notify_one();
        }
    }

    /// The polling task: runs for the life of the server.
    pub async fn run(&self, window: Duration) {
        loop {
            // Sleep until there is work. A `worked` between these two lines leaves a permit
            // in the Notify, so no wake-up is lost.
            self.sleeping.store(true, Ordering::Relaxed);
            self.wake.notified().await;
            let mut seen = self.epoch.load(Ordering::Relaxed);
            let mut quiet_since = Instant::now();
            loop {
                // Yielding lets every other task run and makes the scheduler poll the
                // sockets (with a zero timeout, since this task is ready again).
                tokio::task::yield_now().await;
                let now = self.epoch.load(Ordering::Relaxed);
                if now != seen {
                    seen = now;
                    quiet_since = Instant::now();
                } else if quiet_since.elapsed() >= window {
                    break;
                }
            }
        }
    }
}

/// The window from `RTOOL_BUSY_POLL_US` (0 = off), or the default.
pub fn window_from_env() -> Option<Duration> {
    let us = std::env::var("RTOOL_BUSY_POLL_US")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_WINDOW_US);
    (us > 0).then(|| Duration::from_micros(us))
}
