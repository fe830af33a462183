//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP.
//!
//! The rules (which directive takes which values, Redis's error texts, the file rewrite) live
//! in [`crate::config`]; this file turns them into replies and makes a change take effect:
//! values the engine caches are reloaded, and the log level is applied at once. Most other
//! directives are read where they are used (`requirepass` at AUTH, `maxclients` and `timeout`
//! when a connection arrives, `hz` at each cron tick), so storing them is enough.

use super::{Ctx, Handler};

pub const HANDLERS: &[(&str, Handler)] = &[
    ("config|get", config_get),
    ("config|set", config_set),
    ("config|resetstat", config_resetstat),
    ("config|rewrite", config_rewrite),
    ("config|help", config_help),
];

fn config_get(ctx: &mut Ctx, argv: &[&[u8]]) {
    let found = ctx.engine.config.get_many(&argv[2..]);
    ctx.out.map(found.len());
    for (k, v) in found {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
}

fn config_set(ctx: &mut Ctx, argv: &[&[u8]]) {
    // Arity (-4) is checked before; an odd number of name/value words is a syntax error.
    if !argv.len().is_multiple_of(2) {
        ctx.out.err(super::errors::SYNTAX);
        return;
    }
    let owned: Vec<(String, String)> = argv[2..]
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8_lossy(p[0]).into_owned(),
                String::from_utf8_lossy(p[1]).into_owned(),
            )
        })
        .collect();
    let pairs: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    match ctx.engine.config.set_many(&pairs) {
        Ok(changed) => {
            ctx.engine.reload_cached_config();
            // appendonly: turning the AOF on starts a rewrite that writes its base first;
            // turning it off flushes and closes it.
            if changed.iter().any(|c| c == "appendonly") {
                let want = ctx.engine.config.get_bool("appendonly");
                let state = ctx.engine.aof.state;
                if want && state == crate::aof::writer::State::Off {
                    if crate::aof::writer::start(ctx.engine).is_err() {
                        let _ = ctx.engine.config.set_many(&[("appendonly", "no")]);
                        return ctx
                            .out
                            .err("-ERR Failed to set current 'appendonly' to 'yes'");
                    }
                } else if !want && state != crate::aof::writer::State::Off {
                    crate::aof::writer::stop(ctx.engine);
                }
            }
            if changed.iter().any(|c| c == "loglevel") {
                let c = &ctx.engine.config;
                if let Some(level) = crate::log::Level::parse(c.get_str("loglevel")) {
                    let _ = crate::log::configure(level, c.get_str("logfile"));
                }
            }
            ctx.out.ok();
        }
        Err(crate::config::SetError(msg)) => ctx.out.err(&format!("-{msg}")),
    }
}

/// Redis's `resetServerStats` + `resetCommandTableStats` + `resetErrorTableStats`: every
/// counter INFO shows goes back to zero.
fn config_resetstat(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.engine.stats = Default::default();
    ctx.out.ok();
}

fn config_rewrite(ctx: &mut Ctx, _argv: &[&[u8]]) {
    match ctx.engine.config.rewrite() {
        Ok(()) => {
            crate::log::notice("CONFIG REWRITE executed with success.");
            ctx.out.ok();
        }
        Err(e) => {
            crate::log::warning(&format!("CONFIG REWRITE failed: {e}"));
            ctx.out.err(&e);
        }
    }
}

fn config_help(ctx: &mut Ctx, _argv: &[&[u8]]) {
    const LINES: &[&str] = &[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l);
    }
}
