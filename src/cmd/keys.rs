//! The keys commands.

use super::Handler;

pub const HANDLERS: &[(&str, Handler)] = &[];
