//! File-name patterns of the files to sign: `*` (any run of characters) and `?` (any
//! one), matched against names in one directory, never paths.

use std::fmt;

use crate::error::PatternError;

/// A file-name pattern such as `SEP*.cnf.xml`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Pattern {
    /// A pattern of one directory's file names.
    ///
    /// # Errors
    /// An empty pattern, one with a path separator, or one that would match hidden files
    /// or the lists and signed files themselves.
    pub fn new(text: &str) -> Result<Self, PatternError> {
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        if text.contains(['/', '\\']) {
            return Err(PatternError::Path(text.to_owned()));
        }
        if text.starts_with('.') {
            return Err(PatternError::Hidden(text.to_owned()));
        }
        if text.ends_with(".sgn") || text.ends_with(".tlv") {
            return Err(PatternError::Output(text.to_owned()));
        }
        Ok(Self(text.to_owned()))
    }

    /// Whether `name` matches (never a hidden name, a `.sgn` or a `.tlv`).
    pub fn matches(&self, name: &str) -> bool {
        !name.starts_with('.')
            && !name.ends_with(".sgn")
            && !name.ends_with(".tlv")
            && glob(self.0.as_bytes(), name.as_bytes())
    }
}

/// `*`/`?` matching in O(pattern x name): the classic greedy walk that remembers the
/// last star, so a hostile pattern cannot make it exponential.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || Some(&c) == name.get(n) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn stars_and_question_marks_match_file_names() {
        let p = Pattern::new("SEP*.cnf.xml").unwrap();
        assert!(p.matches("SEP001122334455.cnf.xml"));
        assert!(!p.matches("SEP001122334455.cnf.xml.sgn"));
        assert!(!p.matches("XSEP1.cnf.xml"));
        let q = Pattern::new("ring?.raw").unwrap();
        assert!(q.matches("ring1.raw") && !q.matches("ring12.raw"));
        let all = Pattern::new("*").unwrap();
        assert!(all.matches("Dialplan.xml"));
        assert!(
            !all.matches(".Dialplan.xml.tmp")
                && !all.matches("ITLFile.tlv")
                && !all.matches("a.sgn")
        );
        assert!(Pattern::new("a**b").unwrap().matches("ab"));
    }

    #[test]
    fn paths_hidden_names_and_outputs_are_refused() {
        for bad in ["", "../SEP*", "a/b", ".x*", "*.sgn", "*.tlv"] {
            assert!(Pattern::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_hostile_pattern_stays_linear() {
        let p = Pattern::new(&"*a".repeat(200)).unwrap();
        assert!(!p.matches(&format!("{}b", "a".repeat(10_000))));
        assert!(p.matches(&"a".repeat(10_000)));
    }
}
