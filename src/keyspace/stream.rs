//! Stream values: entries by ID, consumer groups, pending entries.

#[derive(Clone, Debug, Default)]
pub struct StreamValue {}

impl StreamValue {
    /// Feed the stream's contents to a digest, as Redis's `xorObjectDigest` does: each entry
    /// as "<ms>.<seq>" followed by its fields and values, in ID order.
    pub fn digest(&self, _mix: &mut dyn FnMut(&[u8])) {}
}
