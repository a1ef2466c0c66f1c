//! Each vector reports the facts its `.parse.txt` (certutils' parser output) lists.
//!
//! The text is rendered here from the parsed document, walking its elements in file
//! order as that parser prints them, so every field, length and name is compared.

use ctl_format::{Certificate, Document, HeaderItem, RsaVerifier, format_utc, hex, parse};

use crate::vectors::{ALL, vector};

fn render(doc: &Document<'_>) -> String {
    let h = doc.header();
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{:<18}{v}\n", format!("{k}:")));
    for item in h.items() {
        let HeaderItem::Element(e) = item else {
            continue;
        };
        let text = || String::from_utf8_lossy(e.value.strip_suffix(&[0]).unwrap()).into_owned();
        match e.tag.code() {
            1 => line("Version", h.version().to_string()),
            2 => line("Header Length", format!("{} bytes", h.length())),
            28 => line("Signer Version", h.signer_version().unwrap().to_string()),
            4 => line("Signer Name", text()),
            5 => line("Serial Number", hex(e.value)),
            6 => line("Issuer Name", text()),
            8 => line("Digest Algorithm", h.digest().name().to_uppercase()),
            12 => line("Signature", format!("{} bytes", e.value.len())),
            14 => line("Filename", text()),
            15 => line("Timestamp", format_utc(u64::from(h.timestamp().unwrap()))),
            _ => {}
        }
    }
    for r in doc.records() {
        out.push('\n');
        let mut line = |k: &str, v: String| out.push_str(&format!("{:<18}{v}\n", format!("{k}:")));
        line("Record Length", format!("{} bytes", r.length()));
        for e in r.elements() {
            let text = || String::from_utf8_lossy(e.value.strip_suffix(&[0]).unwrap()).into_owned();
            match e.tag.code() {
                2 => line("DNS Name", text()),
                3 => line("Subject Name", text()),
                4 => line("Role", r.role().unwrap().to_string()),
                5 => line("Issuer Name", text()),
                6 => line("Serial Numer", hex(e.value)),
                7 => line("Public Key", format!("{} bytes", e.value.len())),
                8 => line("Signature", format!("{} bytes", e.value.len())),
                9 => {
                    line("Certificate", format!("{} bytes", e.value.len()));
                    let cert = Certificate::from_der(e.value).unwrap();
                    line("Key Algorithm", cert.public_key().algorithm().to_owned());
                    line(
                        "Certificate Hash",
                        hex(&ctl_format::DigestAlgorithm::Sha1.digest(&[e.value])),
                    );
                }
                11 => line("Certificate Hash", hex(e.value)),
                _ => {}
            }
        }
    }
    out
}

#[test]
fn every_vector_reports_the_facts_of_its_parse_txt() {
    for path in ALL {
        let bytes = vector(path);
        let doc = parse(&bytes).unwrap();
        let valid = match doc.kind() {
            ctl_format::FileKind::TrustList => doc.verify(&RsaVerifier).is_ok(),
            _ => doc
                .verify_with_certificate(&vector("keys/ccm.crt.der"), &RsaVerifier)
                .is_ok(),
        };
        let expected = String::from_utf8(vector(&format!("{path}.parse.txt"))).unwrap();
        let verdict = if valid {
            "Valid signature"
        } else {
            "Invalid signature"
        };
        let rendered = format!("{}\n{verdict}\n", render(&doc));
        assert_eq!(rendered, expected, "{path}");
    }
}
