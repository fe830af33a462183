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
        // Signals are taken from here on (Redis's initServer sets its handlers up before it
        // says "Server initialized"), and from that line on a signal is one "during
        // loading": nothing else happens between it and the load, so a signal seen after
        // the line is worded as Redis words one after "Loading RDB produced by...".
        crate::net::signals::listen(&server.shared).context("catching SIGTERM and SIGINT")?;
        let signal = server.shared.lock().persist.shutdown.signal.clone();
        signal.set_loading(true);
        log::warning("Server initialized");
        let loaded = crate::persist::load_at_startup(&mut server.shared.lock());
        signal.set_loading(false);
        match loaded {
            Err(msg) => {
                log::warning(&msg);
                return Ok(1);
            }
            Ok(None) => {
                // A signal during loading. With nothing to save, no replica and no child,
                // finishing cannot fail; were it to, there is no half-loaded server to go on
                // with, so it is an error exit.
                let ok = crate::net::server::shutdown_while_loading(&mut server.shared.lock());
                return Ok(if ok { 0 } else { 1 });
            }
            Ok(Some(_keys)) => {}
        }
        if let Err(msg) = crate::aof::writer::open_on_start(&mut server.shared.lock()) {
            log::warning(&msg);
            return Ok(1);
        }
        server.run().await;
        Ok(0)
    })
}
