//! Any text as a `pkcs11:` URI (RFC 7512): parsed, shown without its PIN, parsed again;
//! the redaction of a URI that does not parse never keeps a pin-value.
#![no_main]

use ctl_token::Pkcs11Uri;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = text.parse::<Pkcs11Uri>() else {
        let _ = ctl_token::redact_uri_text(text);
        return;
    };
    let shown = uri.to_string();
    // The PIN put back as a marker no other part of the text can contain: Display, Debug
    // and the redaction of the raw text must not show it.
    // (Only a PIN of letters and digits: its text in the URI is the PIN itself.)
    if let Some(pin) = uri
        .pin_value()
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        const MARKER: &str = "QJX7PINMARKERZK4";
        let attribute = format!("pin-value={pin}");
        if text.matches(attribute.as_str()).count() == 1 && !text.contains(MARKER) {
            let marked = text.replace(&attribute, &format!("pin-value={MARKER}"));
            if let Ok(again) = marked.parse::<Pkcs11Uri>() {
                assert_eq!(again.pin_value(), Some(MARKER));
                assert!(!again.to_string().contains(MARKER), "Display shows the PIN");
                assert!(
                    !format!("{again:?}").contains(MARKER),
                    "Debug shows the PIN"
                );
                assert!(
                    !ctl_token::redact_uri_text(&marked).contains(MARKER),
                    "the redacted text shows the PIN"
                );
            }
        }
    }
    // What is shown parses again to what is shown.
    match shown.parse::<Pkcs11Uri>() {
        Ok(again) => assert_eq!(again.to_string(), shown),
        Err(e) => panic!("{shown} does not parse again: {e}"),
    }
});
