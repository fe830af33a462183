//! SIGTERM and SIGINT, as Redis 7.0's `sigShutdownHandler` takes them.
//!
//! Redis's handler runs whatever the main thread is doing (a DEBUG SLEEP, the final save,
//! loading the dataset), so its line is in the log at once and a second SIGINT exits at once.
//! rtool's runtime may be just as busy (one thread by default, the engine lock held), so the
//! signals are taken on a thread of their own that never waits for the engine: it logs, and
//! records the request in [`SignalState`]; the runtime (`server::next_shutdown`) or the
//! loader (`persist::load_at_startup`) picks the request up, as Redis's `serverCron` or
//! `whileBlockedCron` do. Each signal asks again, so a shutdown that was aborted or failed
//! can be asked for by the next one.
//!
//! What a signal does, in Redis's words (server.c, 7.0.15):
//! - a SIGINT while a signal's shutdown is pending or under way: "You insist... exiting
//!   now.", the temp RDB file of a save in progress is removed, exit code 1;
//! - while loading: "Received shutdown signal during loading, scheduling shutdown.";
//! - otherwise "Received SIGTERM scheduling shutdown..." (or SIGINT). A second SIGTERM
//!   while a shutdown is under way only logs again.

use super::Shared;
use crate::cmd::server::SignalState;
use crate::log;
use std::sync::Arc;

/// Start taking SIGTERM and SIGINT. Returns once both are caught, so a signal that comes
/// after this call cannot kill the process the default way.
pub fn listen(shared: &Arc<Shared>) -> std::io::Result<()> {
    let state = shared.lock().persist.shutdown.signal.clone();
    let shared = shared.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            use tokio::signal::unix::{SignalKind, signal};
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let caught = signal(SignalKind::terminate())
                    .and_then(|t| Ok((t, signal(SignalKind::interrupt())?)));
                let (mut term, mut int) = match caught {
                    Ok(both) => {
                        let _ = ready_tx.send(Ok(()));
                        both
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                loop {
                    let sig = tokio::select! {
                        _ = term.recv() => libc::SIGTERM,
                        _ = int.recv() => libc::SIGINT,
                    };
                    on_signal(sig, &state);
                    // Wake the runtime (a stored permit if it is not waiting right now).
                    shared.shutdown.notify_one();
                }
            });
        })?;
    ready_rx
        .recv()
        .unwrap_or_else(|_| Err(std::io::Error::other("the signal thread ended")))
}

/// Redis's `sigShutdownHandler`.
fn on_signal(sig: i32, state: &SignalState) {
    let mut msg = if sig == libc::SIGINT {
        "Received SIGINT scheduling shutdown..."
    } else {
        "Received SIGTERM scheduling shutdown..."
    };
    // SIGINT is often Ctrl+C: twice means "now", without saving or waiting for replicas.
    if state.asap() && sig == libc::SIGINT {
        log::from_signal_handler(log::Level::Warning, "You insist... exiting now.");
        // A foreground save writes temp-<pid>.rdb in `dir` (the working directory).
        let _ = std::fs::remove_file(format!("temp-{}.rdb", std::process::id()));
        // Not a clean shutdown: an error code, as Redis's exit(1).
        std::process::exit(1);
    } else if state.loading() {
        msg = "Received shutdown signal during loading, scheduling shutdown.";
    }
    log::from_signal_handler(log::Level::Warning, msg);
    state.request(sig);
}
