//! The lines every benchmark prints for `scripts/bench`, which rewrites the README's
//! figure tables from them: one home for their shape.
//!
//! ```text
//! FIGURE load.p99: GET_CTL latency, p99 = 131.2 ms (target < 250 ms: within target)
//! RATIO format.parse: parse / copying the bytes once = 0.84 (target <= 1.00: within target)
//! ```
//!
//! `KEY` names the line (the bench, a dot, a name) and stays the same from run to run; the
//! label is plain text, the same in every run too; the value a number, with its unit. A
//! target, where there is one, is printed with the verdict: the line is the one source of
//! both (the README shows what the line says).

use core::fmt;

/// A target a figure must meet, in the figure's own unit.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Target {
    /// `value <= bound`.
    AtMost(f64),
    /// `value < bound`.
    Below(f64),
    /// `value >= bound`.
    AtLeast(f64),
}

impl Target {
    /// Whether `value` meets it.
    pub fn met(self, value: f64) -> bool {
        match self {
            Self::AtMost(b) => value <= b,
            Self::Below(b) => value < b,
            Self::AtLeast(b) => value >= b,
        }
    }

    fn op_bound(self) -> (&'static str, f64) {
        match self {
            Self::AtMost(b) => ("<=", b),
            Self::Below(b) => ("<", b),
            Self::AtLeast(b) => (">=", b),
        }
    }
}

/// One line: a figure, or a ratio (no unit).
#[derive(Debug)]
pub struct Line<'a> {
    kind: &'static str,
    key: &'a str,
    label: &'a str,
    value: f64,
    decimals: usize,
    unit: &'a str,
    target: Option<Target>,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, sep) = (self.decimals, if self.unit.is_empty() { "" } else { " " });
        write!(
            f,
            "{} {}: {} = {:.d$}{sep}{}",
            self.kind, self.key, self.label, self.value, self.unit
        )?;
        if let Some(t) = self.target {
            let (op, bound) = t.op_bound();
            let verdict = if t.met(self.value) {
                "within target"
            } else {
                "OVER TARGET"
            };
            write!(f, " (target {op} {bound:.d$}{sep}{}: {verdict})", self.unit)?;
        }
        Ok(())
    }
}

/// Prints a `FIGURE` line; returns whether its target, if any, is met.
pub fn figure(
    key: &str,
    label: &str,
    value: f64,
    decimals: usize,
    unit: &str,
    target: Option<Target>,
) -> bool {
    let line = Line {
        kind: "FIGURE",
        key,
        label,
        value,
        decimals,
        unit,
        target,
    };
    println!("{line}");
    target.is_none_or(|t| t.met(value))
}

/// Prints a `RATIO` line (two decimals, no unit); returns whether its target, if any, is
/// met.
pub fn ratio(key: &str, label: &str, value: f64, target: Option<Target>) -> bool {
    let line = Line {
        kind: "RATIO",
        key,
        label,
        value,
        decimals: 2,
        unit: "",
        target,
    };
    println!("{line}");
    target.is_none_or(|t| t.met(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_scripts_bench_reads_them() {
        let l = Line {
            kind: "FIGURE",
            key: "load.p99",
            label: "GET_CTL latency, p99",
            value: 131.24,
            decimals: 1,
            unit: "ms",
            target: Some(Target::Below(250.0)),
        };
        assert_eq!(
            l.to_string(),
            "FIGURE load.p99: GET_CTL latency, p99 = 131.2 ms (target < 250.0 ms: within target)"
        );
        let r = Line {
            kind: "RATIO",
            key: "format.parse",
            label: "parse / copy",
            value: 1.234,
            decimals: 2,
            unit: "",
            target: Some(Target::AtMost(1.0)),
        };
        assert_eq!(
            r.to_string(),
            "RATIO format.parse: parse / copy = 1.23 (target <= 1.00: OVER TARGET)"
        );
        let plain = Line { target: None, ..r };
        assert_eq!(plain.to_string(), "RATIO format.parse: parse / copy = 1.23");
    }
}
