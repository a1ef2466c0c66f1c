//! Any text as a known-providers file (`host port sha256` lines): parsed, written out,
//! parsed again to the same list.
#![no_main]

use ctl_provider::trust::KnownProviders;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(known) = KnownProviders::parse(text) else {
        return;
    };
    let written = known.to_text();
    match KnownProviders::parse(&written) {
        Ok(again) => assert_eq!(again, known, "{written}"),
        Err(e) => panic!("a written list does not parse: {e}\n{written}"),
    }
});
