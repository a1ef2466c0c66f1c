//! The first `format_parse` harness, every parse mode on every input: kept as the
//! baseline `scripts/fuzz-compare` measures `format_parse` against.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ctl_format::fuzzing::parse_input_every_way(data));
