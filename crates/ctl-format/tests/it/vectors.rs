use ctl_format::{FileKind, parse};

pub(crate) fn vector(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/vectors/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

pub(crate) const ALL: &[&str] = &[
    "ctl/CTLFile-sha1.tlv",
    "ctl/CTLFile-sha512.tlv",
    "itl/ITLFile-sha1.tlv",
    "neg/CTLFile-sha1-tampered.tlv",
    "synthetic/CTLFile-cisco-layout.tlv",
    "sgn/sha1/SEP001122334455.cnf.xml.sgn",
];

#[test]
fn every_vector_round_trips() {
    for path in ALL {
        let bytes = vector(path);
        let doc = parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(doc.encoded_len(), bytes.len(), "{path}");
        assert_eq!(doc.to_vec(), bytes, "{path}");
        let expected = if path.ends_with(".sgn") { FileKind::Signed } else { FileKind::TrustList };
        assert_eq!(doc.kind(), expected, "{path}");
    }
}
