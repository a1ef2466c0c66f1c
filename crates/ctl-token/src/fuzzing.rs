//! The harness of the `pkcs11_uri` fuzz target in `fuzz/` (feature `fuzzing`). Not a
//! stable API.

use crate::{Pkcs11Uri, redact_uri_text};

/// Any bytes as the text of a `pkcs11:` URI (RFC 7512): parsed, shown without its PIN,
/// parsed again; the redaction of a URI that does not parse never keeps a pin-value.
///
/// # Panics
/// When a text with a percent sign not followed by two hex digits parses, when `Display`, `Debug` or the redaction show a PIN, or what is shown does not parse
/// back to itself: a bug for the fuzzer to report.
pub fn uri_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = text.parse::<Pkcs11Uri>() else {
        let _ = redact_uri_text(text);
        return;
    };
    // RFC 3986: a `%` is followed by exactly two hex digits, or the text is no URI.
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('%') {
        assert!(
            bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
            "a URI with a bad percent escape at byte {i} parsed"
        );
    }
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
                    !redact_uri_text(&marked).contains(MARKER),
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
}

/// Any bytes as a PKCS #12 file opened with the password `fuzz`: once as a user's file is
/// (MAC checked), once past the MAC with at most 64 iterations, to reach the safes and
/// bags behind it. Errors are fine; a panic, or a loop the limits do not bound, is a bug.
#[cfg(feature = "pkcs12")]
pub fn pkcs12(data: &[u8]) {
    use rsa::pkcs8::DecodePrivateKey as _;
    let password = secrecy::SecretString::from("fuzz".to_owned());
    let fast = crate::pkcs12::Limits {
        verify_mac: false,
        max_iterations: 64,
    };
    let checked = crate::pkcs12::Limits {
        verify_mac: true,
        max_iterations: 64,
    };
    for limits in [checked, fast] {
        if let Ok(contents) = crate::pkcs12::open_with(data, &password, "fuzz", limits) {
            for key in &contents.keys {
                let _ = rsa::PrivateKey::from_pkcs8_der(key);
            }
            for cert in &contents.certs {
                let _ = ctl_format::Certificate::from_der(cert);
            }
        }
    }
}
