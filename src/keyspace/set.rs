//! Set values: `intset` (sorted integers) while every member is an integer and there are at
//! most `set-max-intset-entries`, else `hashtable`. (Redis 7.0 has no listpack sets; 7.2 does.)

use super::Dict;

#[derive(Clone, Debug)]
pub enum SetValue {
    /// OBJ_ENCODING_INTSET: sorted, unique.
    Intset(Vec<i64>),
    /// OBJ_ENCODING_HT
    Table(Dict<()>),
}

impl SetValue {
    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Intset(_) => "intset",
            SetValue::Table(_) => "hashtable",
        }
    }
}
