//! Property tests: build -> parse -> re-encode is the identity, and the predicted size is the real one.

use core::net::IpAddr;

use ctl_format::fuzzing::{SIGNER_CERT, ZeroSigner};
use ctl_format::{
    Certificate, DigestAlgorithm, FileKind, Layout, ParseOptions, RecordSpec, Role,
    SignedFileBuilder, TrustListBuilder, Version, parse_with,
};
use proptest::prelude::*;

use crate::support::cert;

const NAMES: [&str; 6] = ["sast1", "sast2", "ccm", "tftp", "capf", "tvs"];

#[derive(Debug, Clone)]
struct Rec {
    cert: usize,
    role: u16,
    dns: Option<String>,
    ip: Option<IpAddr>,
    no_signature: bool,
    hash: bool,
}

fn rec() -> impl Strategy<Value = Rec> {
    (
        0..NAMES.len(),
        prop_oneof![
            Just(0u16),
            Just(1),
            Just(2),
            Just(3),
            Just(4),
            Just(7),
            Just(21),
            any::<u16>()
        ],
        proptest::option::of("[a-z0-9.-]{0,40}"),
        proptest::option::of(any::<IpAddr>()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(cert, role, dns, ip, no_signature, hash)| Rec {
            cert,
            role,
            dns,
            ip,
            no_signature,
            hash,
        })
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Cucm),
        Just(Layout::Certutils),
        Just(Layout::CertutilsLegacy)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn build_parse_encode_is_identity(
        layout in layout(),
        sha512 in any::<bool>(),
        signer_version in proptest::option::of((any::<u8>(), any::<u8>())),
        filename in "[A-Za-z0-9_./-]{0,60}",
        timestamp in any::<u32>(),
        records in proptest::collection::vec(rec(), 1..12),
    ) {
        let digest = if sha512 { DigestAlgorithm::Sha512 } else { DigestAlgorithm::Sha1 };
        let mut b = TrustListBuilder::new();
        // A test-double signer and arbitrary records: the codec, not the phone rules.
        b.unchecked(true).layout(layout).digest(digest).filename(filename.clone()).timestamp(timestamp);
        if let Some((major, minor)) = signer_version {
            b.signer_version(Some(Version { major, minor }));
        }
        for r in &records {
            let mut spec = RecordSpec::new(cert(NAMES[r.cert]), Role(r.role));
            if layout == Layout::Cucm {
                if let Some(d) = &r.dns { spec = spec.dns_name(d.clone()); }
                if let Some(ip) = r.ip { spec = spec.ip_address(ip); }
                if r.hash { spec = spec.certificate_hash(digest); }
            }
            if r.no_signature { spec = spec.without_certificate_signature(); }
            b.push(spec);
        }
        let predicted = b.encoded_len(SIGNER_CERT).unwrap();
        let bytes = b.build(&ZeroSigner).unwrap();
        prop_assert_eq!(predicted, bytes.len());
        let doc = parse_with(&bytes, Some(FileKind::TrustList), &ParseOptions::default()).unwrap();
        prop_assert_eq!(doc.header().length() % 4, 0);
        prop_assert_eq!(doc.to_vec(), bytes.clone());
        prop_assert_eq!(doc.encoded_len(), bytes.len());
        prop_assert_eq!(doc.header().filename().unwrap(), filename.as_str());
        prop_assert_eq!(doc.header().timestamp(), Some(timestamp));
        prop_assert_eq!(doc.header().digest(), digest);
        let expected_sv = match signer_version {
            Some((major, minor)) => Some(Version { major, minor }),
            None => layout.default_signer_version(),
        };
        prop_assert_eq!(doc.header().signer_version(), expected_sv);
        prop_assert_eq!(doc.records().len(), records.len());
        for (got, want) in doc.records().iter().zip(&records) {
            let c = cert(NAMES[want.cert]);
            prop_assert_eq!(got.role(), Some(Role(want.role)));
            prop_assert_eq!(got.certificate(), Some(c.der()));
            prop_assert_eq!(got.serial(), Some(c.serial()));
            prop_assert_eq!(got.public_key(), Some(c.public_key().record_bytes()));
            prop_assert_eq!(got.signature().is_none(), want.no_signature);
            prop_assert_eq!(got.subject_name().unwrap(), c.subject_text(layout.name_style()));
            if layout == Layout::Cucm {
                prop_assert_eq!(got.dns_name().unwrap(), want.dns.clone().unwrap_or_default());
                let ip = want.ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
                prop_assert_eq!(got.ip_address(), Some(ip));
            }
        }
        // The header names the signer exactly as its own record would.
        let signer = Certificate::from_der(SIGNER_CERT).unwrap();
        prop_assert_eq!(doc.header().signer_name().unwrap(), signer.subject_text(layout.name_style()));
    }

    #[test]
    fn signed_files_round_trip(
        layout in layout(),
        payload in proptest::collection::vec(any::<u8>(), 0..4096),
        timestamp in any::<u32>(),
    ) {
        let mut b = SignedFileBuilder::new("x.cnf.xml.sgn");
        b.unchecked(true).layout(layout).timestamp(timestamp);
        let bytes = b.build(&payload, &ZeroSigner).unwrap();
        let doc = parse_with(&bytes, Some(FileKind::Signed), &ParseOptions::default()).unwrap();
        prop_assert_eq!(doc.body_unverified(), &payload[..]);
        prop_assert_eq!(doc.to_vec(), bytes.clone());
        prop_assert_eq!(doc.header().version(), Version::V1_0);
    }
}
