//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queued commands were checked (name, arity) when they were queued; EXEC runs them back to
//! back inside the engine lock, so nothing interleaves. Their writes are propagated wrapped in
//! MULTI/EXEC when there is more than one (see `Engine::propagate`).

use super::{Ctx, Handler, engine::call};
use bytes::Bytes;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("multi", multi),
    ("exec", exec),
    ("discard", discard),
    ("watch", watch),
    ("unwatch", unwatch),
];

fn multi(ctx: &mut Ctx, _argv: &[&[u8]]) {
    if ctx.client.multi.is_some() {
        ctx.out.err("MULTI calls can not be nested");
        return;
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.out.ok();
}

fn discard(ctx: &mut Ctx, _argv: &[&[u8]]) {
    if ctx.client.multi.take().is_none() {
        ctx.out.err("DISCARD without MULTI");
        return;
    }
    ctx.client.multi_error = false;
    ctx.engine.unwatch_all(ctx.client);
    ctx.out.ok();
}

fn exec(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let Some(queued) = ctx.client.multi.take() else {
        ctx.out.err("EXEC without MULTI");
        return;
    };
    if std::mem::take(&mut ctx.client.multi_error) {
        ctx.engine.unwatch_all(ctx.client);
        ctx.out
            .err("-EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    let dirty_cas = ctx
        .engine
        .clients
        .get(&ctx.client.id)
        .is_some_and(|c| c.dirty_cas);
    ctx.engine.unwatch_all(ctx.client);
    if dirty_cas {
        ctx.out.null_array();
        return;
    }
    ctx.out.array(queued.len());
    let table = ctx.engine.table;
    ctx.engine.in_exec = true;
    for cmd in &queued {
        let argv: Vec<&[u8]> = cmd.iter().map(|a| a.as_ref()).collect();
        let Some(mut idx) = table.lookup(argv[0]) else {
            continue;
        };
        if !table.specs[idx].subcommands.is_empty()
            && argv.len() >= 2
            && let Some(s) = table.lookup_sub(idx, argv[1])
        {
            idx = s;
        }
        call(ctx.engine, ctx.client, &table.specs[idx], &argv, ctx.out);
    }
    ctx.engine.in_exec = false;
}

fn watch(ctx: &mut Ctx, argv: &[&[u8]]) {
    if ctx.client.multi.is_some() {
        ctx.out.err("WATCH inside MULTI is not allowed");
        return;
    }
    let db = ctx.client.db;
    for k in &argv[1..] {
        let key = Bytes::copy_from_slice(k);
        if ctx
            .client
            .watched
            .iter()
            .any(|(d, w)| *d == db && *w == key)
        {
            continue;
        }
        ctx.client.watched.push((db, key.clone()));
        ctx.engine
            .watched
            .entry((db, key))
            .or_default()
            .push(ctx.client.id);
    }
    ctx.out.ok();
}

fn unwatch(ctx: &mut Ctx, _argv: &[&[u8]]) {
    ctx.engine.unwatch_all(ctx.client);
    ctx.out.ok();
}
