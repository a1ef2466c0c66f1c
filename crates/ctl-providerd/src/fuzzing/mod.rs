//! Harnesses for the daemon's fuzz targets in `fuzz/daemon/` (feature `fuzzing`). Not a
//! stable API.
//!
//! - [`node_script`]: the node's request handling driven in-process by a script, with
//!   its invariants checked after every step;
//! - [`config_text`]: `provider.toml` as the daemon reads it.

mod node;
mod pool;

use std::path::Path;

pub use node::{Summary, node_script};

use crate::config::Config;
use crate::init::Endpoint;

/// Any bytes as the text of `provider.toml` (and, line by line, as `--member` values).
/// Checked: an error is one line of printable text; a configuration that loads passes its
/// own checks, and written back as TOML loads again to the same text.
///
/// # Panics
/// When one of those rules breaks: a bug for the fuzzer to report.
pub fn config_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.lines().take(8) {
        match Endpoint::parse(line) {
            Err(e) => assert_one_line("an endpoint", &e.to_string()),
            Ok(e) => assert_one_line(
                "an endpoint's name and host",
                &format!("{}{}", e.name, e.host),
            ),
        }
    }
    let path = Path::new("/etc/ctl-providerd/provider.toml");
    match Config::from_toml(text, path) {
        Err(e) => assert_one_line("provider.toml", &e.to_string()),
        Ok(config) => {
            assert!(
                config.check().is_ok(),
                "a loaded configuration fails its checks"
            );
            let names = std::iter::once(&config.node)
                .chain(config.members.iter().flat_map(|m| [&m.name, &m.host]))
                .chain(
                    config
                        .alternate_tftp
                        .iter()
                        .chain(&config.firewalls)
                        .flat_map(|p| [&p.name, &p.host]),
                );
            for name in names {
                assert_one_line("a loaded name or host", name);
            }
            let written = toml::to_string(&config)
                .unwrap_or_else(|e| panic!("a loaded configuration cannot be written: {e}"));
            let again = Config::from_toml(&written, path).unwrap_or_else(|e| {
                panic!("a configuration written back does not load: {e}\n{written}")
            });
            let rewritten = toml::to_string(&again).unwrap_or_default();
            assert_eq!(
                written, rewritten,
                "a configuration changes when written back"
            );
        }
    }
}

/// An error message a user reads: one line, no control characters.
fn assert_one_line(what: &str, message: &str) {
    assert!(
        !message.chars().any(char::is_control),
        "an error about {what} is not one printable line: {message:?}"
    );
}
