//! Cheap timestamps for INFO commandstats' `usec`.
//!
//! Redis times every command (`call()` reads a monotonic clock before and after the
//! handler). With `clock_gettime` that is two reads of about 20–40 ns each, which was 5% of
//! the server's CPU in a `redis-benchmark -P 16` SET profile — more than the hash table.
//! Redis has the same concern and can be built to read the CPU's time-stamp counter instead
//! (its `monotonic.c`, `USE_PROCESSOR_CLOCK`). rtool does that whenever the kernel says the
//! counter is invariant (`constant_tsc` and `nonstop_tsc`: it ticks at one rate on every
//! core, whatever the power state) and falls back to `Instant` otherwise.
//!
//! Durations are kept in *ticks* and converted to microseconds only when shown: the rate is
//! measured against `Instant` between the first call of [`start`] and the moment of the
//! conversion, so it gets more exact the longer the server runs.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Does [`ticks`] read the time-stamp counter? Decided once by [`start`].
static USE_TSC: AtomicBool = AtomicBool::new(false);

/// The moment [`start`] ran, in both clocks.
static BASE: OnceLock<(u64, Instant)> = OnceLock::new();

/// Choose the clock and take the reference point. Called when an engine is created; later
/// calls change nothing.
pub fn start() {
    BASE.get_or_init(|| {
        let tsc = cfg!(target_arch = "x86_64") && invariant_tsc();
        USE_TSC.store(tsc, Ordering::Relaxed);
        (raw(), Instant::now())
    });
}

/// Does `/proc/cpuinfo` promise a counter that ticks at one rate everywhere?
fn invariant_tsc() -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return false;
    };
    let Some(flags) = info.lines().find(|l| l.starts_with("flags")) else {
        return false;
    };
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    has("constant_tsc") && has("nonstop_tsc")
}

/// The counter itself, or nanoseconds since the reference point.
fn raw() -> u64 {
    if USE_TSC.load(Ordering::Relaxed) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `rdtsc` exists on every x86_64 CPU and has no preconditions.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    match BASE.get() {
        Some((_, t0)) => t0.elapsed().as_nanos() as u64,
        None => 0,
    }
}

/// A timestamp in ticks. Only differences mean something; a difference that comes out
/// negative (two cores whose counters disagree slightly) should be taken as zero.
#[inline]
pub fn ticks() -> u64 {
    raw()
}

/// Convert a number of ticks to microseconds.
pub fn to_usec(ticks: u64) -> u64 {
    start();
    if !USE_TSC.load(Ordering::Relaxed) {
        return ticks / 1000;
    }
    let &(t0, i0) = BASE.get().expect("started above");
    // Measure the rate over at least a millisecond (only the first millisecond of a process
    // ever waits here).
    while i0.elapsed().as_micros() < 1000 {
        std::hint::spin_loop();
    }
    let (elapsed_us, counted) = (i0.elapsed().as_micros() as f64, raw().saturating_sub(t0));
    let per_us = counted as f64 / elapsed_us;
    if per_us <= 0.0 {
        return 0;
    }
    (ticks as f64 / per_us) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten milliseconds of sleep convert to about ten thousand microseconds, whichever clock
    /// was chosen (the bound is loose: the machine may be busy, but never 3× off).
    #[test]
    fn ticks_convert_to_microseconds() {
        start();
        let a = ticks();
        std::thread::sleep(std::time::Duration::from_millis(10));
        let us = to_usec(ticks().saturating_sub(a));
        assert!((9_000..30_000).contains(&us), "{us} µs for a 10 ms sleep");
    }
}
