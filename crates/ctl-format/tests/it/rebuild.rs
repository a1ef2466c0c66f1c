//! The certutils-made vectors, rebuilt byte for byte with the options in their README.

use ctl_format::{
    DigestAlgorithm, Layout, RecordSpec, Role, SignedFileBuilder, TrustListBuilder, parse,
};

use crate::support::{KeySigner, cert};
use crate::vectors::vector;

const T: u32 = 1_735_689_600;

fn ctl(digest: DigestAlgorithm) -> Vec<u8> {
    let mut b = TrustListBuilder::new();
    b.layout(Layout::Certutils)
        .digest(digest)
        .filename("CTLFile.tlv")
        .timestamp(T);
    for (name, role) in [
        ("sast1", Role::SAST),
        ("sast2", Role::SAST),
        ("ccm", Role::CCM_TFTP),
        ("capf", Role::CAPF),
        ("tftp", Role::TFTP),
    ] {
        b.push(RecordSpec::new(cert(name), role));
    }
    let signer = KeySigner::vector("sast1");
    let len = b
        .encoded_len(ctl_format::Signer::certificate(&signer))
        .unwrap();
    let out = b.build(&signer).unwrap();
    assert_eq!(out.len(), len);
    out
}

#[test]
fn ctl_sha1_rebuilds_byte_for_byte() {
    assert_eq!(ctl(DigestAlgorithm::Sha1), vector("ctl/CTLFile-sha1.tlv"));
}

#[test]
fn ctl_sha512_rebuilds_byte_for_byte() {
    assert_eq!(
        ctl(DigestAlgorithm::Sha512),
        vector("ctl/CTLFile-sha512.tlv")
    );
}

#[test]
fn itl_rebuilds_byte_for_byte() {
    let mut b = TrustListBuilder::new();
    b.layout(Layout::Certutils)
        .filename("ITLFile.tlv")
        .timestamp(T);
    for (name, role) in [
        ("itlrecovery", Role::SAST),
        ("ccm", Role::SAST),
        ("ccm", Role::CCM_TFTP),
        ("tvs", Role::TVS),
        ("capf", Role::CAPF),
    ] {
        b.push(RecordSpec::new(cert(name), role));
    }
    assert_eq!(
        b.build(&KeySigner::vector("itlrecovery")).unwrap(),
        vector("itl/ITLFile-sha1.tlv")
    );
}

#[test]
fn sgn_rebuilds_byte_for_byte() {
    let payload = vector("sgn/sha1/SEP001122334455.cnf.xml");
    let mut b = SignedFileBuilder::new("SEP001122334455.cnf.xml.sgn");
    b.layout(Layout::Certutils).timestamp(T);
    assert_eq!(
        b.build(&payload, &KeySigner::vector("ccm")).unwrap(),
        vector("sgn/sha1/SEP001122334455.cnf.xml.sgn")
    );
}

#[test]
fn synthetic_cucm_layout_rebuilds_byte_for_byte() {
    let ip = "192.0.2.10".parse().unwrap();
    let mut b = TrustListBuilder::new();
    b.layout(Layout::Cucm).filename("CTLFile.tlv").timestamp(T);
    b.push(RecordSpec::new(cert("sast1"), Role::SAST).without_certificate_signature());
    b.push(
        RecordSpec::new(cert("ccm"), Role::CCM_TFTP)
            .dns_name("cucm-pub")
            .ip_address(ip),
    );
    b.push(
        RecordSpec::new(cert("capf"), Role::CAPF)
            .dns_name("cucm-pub")
            .ip_address(ip),
    );
    b.push(
        RecordSpec::new(cert("tftp"), Role::TFTP)
            .dns_name("tftp")
            .ip_address("2001:db8::10".parse().unwrap()),
    );
    b.push(
        RecordSpec::new(cert("tvs"), Role::TVS)
            .dns_name("cucm-pub")
            .ip_address(ip)
            .certificate_hash(DigestAlgorithm::Sha1),
    );
    assert_eq!(
        b.build(&KeySigner::vector("sast1")).unwrap(),
        vector("synthetic/CTLFile-cisco-layout.tlv")
    );
}

#[test]
fn legacy_layout_orders_fields_like_v4_12() {
    let mut b = TrustListBuilder::new();
    b.layout(Layout::CertutilsLegacy).timestamp(T);
    b.push(RecordSpec::new(cert("sast1"), Role::SAST));
    let bytes = b.build(&KeySigner::vector("sast1")).unwrap();
    let doc = parse(&bytes).unwrap();
    let header_tags: Vec<u8> = doc
        .header()
        .items()
        .filter_map(|i| match i {
            ctl_format::HeaderItem::Element(e) => Some(e.tag.code()),
            _ => None,
        })
        .collect();
    assert_eq!(header_tags, [1, 2, 28, 4, 5, 6, 8, 10, 11, 12, 14, 15]);
    let tags: Vec<u8> = doc.records()[0].elements().map(|e| e.tag.code()).collect();
    assert_eq!(tags, [3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(
        doc.records()[0].subject_name().unwrap(),
        "CN=SAST-1;O=Example;OU=VoIP;L=Wellington;ST=Wellington;C=NZ"
    );
    doc.verify(&ctl_format::RsaVerifier).unwrap();
}
