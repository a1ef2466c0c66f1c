//! `provider.toml` as the daemon reads it, and `NAME=HOST:PORT` endpoints: errors are
//! one printable line, what loads passes its checks and survives being written back
//! (`ctl_providerd::fuzzing::config_text`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ctl_providerd::fuzzing::config_text(data);
});
