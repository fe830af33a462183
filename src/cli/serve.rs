//! `rtool serve`: start the server the way `redis-server` starts.

use crate::config::Config;
use crate::log;
use anyhow::Context;
use clap::Args;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// A redis.conf-style file, then `--directive value` overrides, exactly like redis-server:
    /// `rtool serve redis.conf --port 6380 --replicaof "127.0.0.1 6379"`.
    /// With nothing, serves on 127.0.0.1:6379 with Redis's defaults.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CONFIG AND OPTIONS"
    )]
    pub args: Vec<String>,
}

pub fn run(a: ServeArgs) -> anyhow::Result<i32> {
    let (file, options) = match a.args.first() {
        Some(f) if !f.starts_with("--") => (Some(std::path::PathBuf::from(f)), &a.args[1..]),
        _ => (None, &a.args[..]),
    };
    let (config, notes) = match Config::load(file.as_deref(), options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(1);
        }
    };
    let level = log::Level::parse(config.get_str("loglevel")).unwrap_or(log::Level::Notice);
    log::configure(level, config.get_str("logfile")).context("opening logfile")?;
    log::set_role('C');
    log::warning("oO0OoO0OoO0Oo rtool (Redis 7.0-compatible) is starting oO0OoO0OoO0Oo");
    log::warning(&format!(
        "rtool version={}, redis_version={}, bits=64, pid={}, just started",
        env!("CARGO_PKG_VERSION"),
        crate::cmd::server::REDIS_VERSION,
        std::process::id()
    ));
    match &file {
        Some(f) => log::warning(&format!("Configuration loaded from {}", f.display())),
        None => log::warning(
            "Warning: no config file specified, using the default config. In order to specify a config file use rtool serve /path/to/redis.conf",
        ),
    }
    for n in &notes {
        log::warning(n);
    }
    let dir = config.get_str("dir").to_string();
    std::env::set_current_dir(&dir).with_context(|| format!("Can't chdir to '{dir}'"))?;
    let threads = config.get_i64("io-threads").clamp(1, 128) as usize;
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    rt.block_on(async move {
        log::set_role('M');
        let port = config.get_i64("port");
        let server = match crate::net::Server::bind(config).await {
            Ok(s) => s,
            Err(e) => {
                log::warning(&format!(
                    "Failed listening on port {port} (tcp), aborting: {e}"
                ));
                return Ok(1);
            }
        };
        log::notice(&format!("Running mode=standalone, port={port}."));
        println!("                Port: {port}");
        println!("                 PID: {}", std::process::id());
        log::warning("Server initialized");
        let loaded = crate::persist::load_at_startup(&mut server.shared.lock());
        if let Err(msg) = loaded {
            log::warning(&msg);
            return Ok(1);
        }
        if let Err(msg) = crate::aof::writer::open_on_start(&mut server.shared.lock()) {
            log::warning(&msg);
            return Ok(1);
        }
        server.run(signal()).await;
        Ok(0)
    })
}

/// Resolves on SIGTERM or SIGINT (Redis shuts down cleanly on both).
async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
