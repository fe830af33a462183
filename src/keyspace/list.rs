//! List values. Redis 7.0 stores every list as a `quicklist` (a linked list of listpacks), so
//! that is the only encoding `OBJECT ENCODING` reports for a list in 7.0.

use bytes::Bytes;
use std::collections::VecDeque;

#[derive(Clone, Debug, Default)]
pub struct ListValue {
    pub items: VecDeque<Bytes>,
}

impl ListValue {
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }
}
