//! What `ctl` writes for a human, through one door: `outln!`, `out!` (stdout) and
//! `errln!`, `err!` (stderr) format like `println!` and friends, then show the text
//! with every control character escaped ([`ctl_format::printable`]), because names, file
//! names, error texts and hook output come from files, certificates and peers that may
//! lie: an ESC, OSC or BEL in them must not reach the terminal. A closed stdout (`ctl
//! inspect | head`) ends the output instead of panicking.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether anything went to stdout: a `--json` command that failed before printing its
/// object prints the failure as one.
static WROTE_STDOUT: AtomicBool = AtomicBool::new(false);

/// Whether anything was written to stdout.
pub(crate) fn wrote_stdout() -> bool {
    WROTE_STDOUT.load(Ordering::Relaxed)
}

/// Writes `text` (and a newline) to stdout, escaped.
pub(crate) fn stdout(text: &str, newline: bool) {
    WROTE_STDOUT.store(true, Ordering::Relaxed);
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(ctl_format::printable(text).as_bytes());
    if newline {
        let _ = o.write_all(b"\n");
    }
    let _ = o.flush();
}

/// Writes `text` (and a newline) to stderr, escaped.
pub(crate) fn stderr(text: &str, newline: bool) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(ctl_format::printable(text).as_bytes());
    if newline {
        let _ = e.write_all(b"\n");
    }
}

/// `println!`, escaped.
macro_rules! outln {
    ($($t:tt)*) => { $crate::terminal::stdout(&format!($($t)*), true) };
}

/// `print!`, escaped.
macro_rules! out {
    ($($t:tt)*) => { $crate::terminal::stdout(&format!($($t)*), false) };
}

/// `eprintln!`, escaped.
macro_rules! errln {
    ($($t:tt)*) => { $crate::terminal::stderr(&format!($($t)*), true) };
}

/// `eprint!`, escaped.
macro_rules! err {
    ($($t:tt)*) => { $crate::terminal::stderr(&format!($($t)*), false) };
}
