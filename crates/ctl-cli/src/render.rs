//! How records and signers show in JSON, shared by `inspect`, `verify` and `diff`.

use ctl_format::{Certificate, Document, Record, Role, hex};
use serde::Serialize;

#[derive(Serialize)]
pub(crate) struct SignerJson {
    pub(crate) name: Option<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) serial: String,
}

#[derive(Serialize)]
pub(crate) struct RecordJson {
    pub(crate) length: usize,
    pub(crate) role: &'static str,
    pub(crate) role_code: Option<u16>,
    pub(crate) subject: Option<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) serial: Option<String>,
    pub(crate) dns_name: Option<String>,
    pub(crate) ip_address: Option<String>,
    pub(crate) public_key_length: Option<usize>,
    pub(crate) signature_length: Option<usize>,
    pub(crate) certificate_length: Option<usize>,
    pub(crate) key_algorithm: Option<&'static str>,
    pub(crate) certificate_sha1: Option<String>,
    pub(crate) not_after: Option<u64>,
}

pub(crate) fn signer_json(doc: &Document<'_>) -> SignerJson {
    let h = doc.header();
    SignerJson {
        name: h.signer_name().map(|s| s.into_owned()),
        issuer: h.issuer_name().map(|s| s.into_owned()),
        serial: hex(h.serial()),
    }
}

/// The role name, `UNKNOWN` for other codes.
pub(crate) fn role_name(role: Option<Role>) -> &'static str {
    role.and_then(Role::name).unwrap_or("UNKNOWN")
}

pub(crate) fn record_json(r: &Record<'_>) -> RecordJson {
    let cert = r
        .certificate()
        .and_then(|der| Certificate::from_der(der).ok());
    RecordJson {
        length: r.length(),
        role: role_name(r.role()),
        role_code: r.role().map(|x| x.0),
        subject: r.subject_name().map(|s| s.into_owned()),
        issuer: r.issuer_name().map(|s| s.into_owned()),
        serial: r.serial().map(hex),
        dns_name: r.dns_name().map(|s| s.into_owned()),
        ip_address: r.ip_address().map(|ip| ip.to_string()),
        public_key_length: r.public_key().map(<[u8]>::len),
        signature_length: r.signature().map(<[u8]>::len),
        certificate_length: r.certificate().map(<[u8]>::len),
        key_algorithm: cert.as_ref().map(|c| c.public_key().algorithm()),
        certificate_sha1: r
            .certificate()
            .map(|der| hex(&ctl_format::DigestAlgorithm::Sha1.digest(&[der]))),
        not_after: cert.as_ref().map(Certificate::not_after),
    }
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
