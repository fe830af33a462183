//! SAVE, BGSAVE and BGREWRITEAOF (LASTSAVE is in `server.rs`). The work is in
//! [`crate::persist`] and [`crate::aof::writer`]; one child process at a time, as in Redis.

use super::{Ctx, Handler, eq_ic, errors};

pub const HANDLERS: &[(&str, Handler)] = &[
    ("save", save),
    ("bgsave", bgsave),
    ("bgrewriteaof", bgrewriteaof),
];

fn rdb_child_running(ctx: &Ctx) -> bool {
    ctx.engine.persist.child.as_ref().is_some_and(|c| {
        // Redis's CHILD_TYPE_RDB covers both a snapshot to disk and one to replicas.
        matches!(
            c.kind,
            crate::persist::ChildKind::Rdb | crate::persist::ChildKind::RdbSocket
        )
    })
}

fn save(ctx: &mut Ctx, _argv: &[&[u8]]) {
    if rdb_child_running(ctx) {
        return ctx.out.err("Background save already in progress");
    }
    match crate::persist::save(ctx.engine) {
        Ok(()) => ctx.out.ok(),
        Err(_) => ctx.out.err("-ERR"),
    }
}

fn bgsave(ctx: &mut Ctx, argv: &[&[u8]]) {
    let schedule = match argv.get(1) {
        None => false,
        Some(a) if eq_ic(a, "schedule") => true,
        Some(_) => return ctx.out.err(errors::SYNTAX),
    };
    if rdb_child_running(ctx) {
        return ctx.out.err("Background save already in progress");
    }
    if ctx.engine.persist.child.is_some() || ctx.engine.in_exec {
        if schedule || ctx.engine.in_exec {
            ctx.engine.persist.scheduled = true;
            return ctx.out.simple("Background saving scheduled");
        }
        return ctx.out.err(
            "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        );
    }
    match crate::persist::bgsave(ctx.engine) {
        Ok(_) => ctx.out.simple("Background saving started"),
        Err(e) => ctx.out.err(&format!("Can't save in background: fork: {e}")),
    }
}

/// BGREWRITEAOF (Redis's `bgrewriteaofCommand`): works with AOF off too (it then writes only
/// a base file and the manifest).
fn bgrewriteaof(ctx: &mut Ctx, _argv: &[&[u8]]) {
    let e = &mut *ctx.engine;
    if e.persist
        .child
        .as_ref()
        .is_some_and(|c| c.kind == crate::persist::ChildKind::Aof)
    {
        ctx.out
            .err("Background append only file rewriting already in progress");
    } else if e.persist.child.is_some() || e.in_exec {
        e.aof.rewrite_scheduled = true;
        e.aof.rewrites_consecutive_failures = 0;
        ctx.out
            .simple("Background append only file rewriting scheduled");
    } else if crate::aof::writer::bgrewrite(e).is_ok() {
        ctx.out
            .simple("Background append only file rewriting started");
    } else {
        ctx.out.err("Can't execute an AOF background rewriting. Please check the server logs for more information.");
    }
}
