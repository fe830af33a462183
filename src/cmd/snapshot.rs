//! SAVE and BGSAVE (LASTSAVE is in `server.rs`). The work is in [`crate::persist`].

use super::{Ctx, Handler, eq_ic, errors};

pub const HANDLERS: &[(&str, Handler)] = &[("save", save), ("bgsave", bgsave)];

fn save(ctx: &mut Ctx, _argv: &[&[u8]]) {
    if ctx.engine.persist.child.is_some() {
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
    if ctx.engine.persist.child.is_some() {
        if schedule {
            ctx.engine.persist.scheduled = true;
            return ctx.out.simple("Background saving scheduled");
        }
        return ctx.out.err("Background save already in progress");
    }
    match crate::persist::bgsave(ctx.engine) {
        Ok(_) => ctx.out.simple("Background saving started"),
        Err(e) => ctx.out.err(&format!("Can't save in background: fork: {e}")),
    }
}
