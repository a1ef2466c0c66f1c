//! Which entry a removal names: a certificate serial or a subject.

use std::fmt;

/// Which entry `remove-entry` names.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Selector {
    /// By certificate serial (hex, leading zeros ignored).
    Serial(String),
    /// By subject text (as `ctl inspect` prints it).
    Subject(String),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Serial(s) => write!(f, "serial {s}"),
            Self::Subject(s) => write!(f, "subject \"{s}\""),
        }
    }
}
