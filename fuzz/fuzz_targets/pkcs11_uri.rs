//! Any text as a `pkcs11:` URI (RFC 7512): parsed, shown without its PIN, parsed again;
//! the redaction of a URI that does not parse never keeps a pin-value
//! (`ctl_token::fuzzing::uri_text`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ctl_token::fuzzing::uri_text(data);
});
