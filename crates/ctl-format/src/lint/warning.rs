//! What the lint rules find, in words, with the phones each concerns and its source.

use core::fmt;

use crate::document::Document;
use crate::types::{DigestAlgorithm, Role, Version, format_utc};

/// Which list a trust list is, by the filename its header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListKind {
    /// `CTLFile.tlv`, `CTLSEP<MAC>.tlv`.
    Ctl,
    /// `ITLFile.tlv`, `ITLSEP<MAC>.tlv`, `ext_ITLSEP<MAC>.tlv`.
    Itl,
}

impl ListKind {
    /// From the header's FILENAME; `None` when it has none or another name.
    pub fn of(doc: &Document<'_>) -> Option<Self> {
        let name = doc.header().filename_bytes()?;
        let name = name.strip_prefix(b"ext_").unwrap_or(name);
        let prefix = name.get(..3)?;
        if prefix.eq_ignore_ascii_case(b"ITL") {
            Some(Self::Itl)
        } else if prefix.eq_ignore_ascii_case(b"CTL") {
            Some(Self::Ctl)
        } else {
            None
        }
    }
}

/// Something to look at before shipping a file to phones.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// More SAST records than phones are documented to hold: 2 in an ITL, 4 in a CTL.
    TooManySast {
        /// How many.
        count: usize,
        /// The limit for this list.
        limit: usize,
        /// The list, by its filename.
        list: Option<ListKind>,
    },
    /// A record's certificate has expired.
    Expired {
        /// Record index.
        index: usize,
        /// Its role.
        role: Role,
        /// notAfter, Unix seconds.
        not_after: u64,
    },
    /// A record's certificate expires within 30 days.
    ExpiresSoon {
        /// Record index.
        index: usize,
        /// Its role.
        role: Role,
        /// notAfter, Unix seconds.
        not_after: u64,
    },
    /// The signature is from a key over 2048 bits, which 7900-series phones reject.
    LargeSignerKey {
        /// Key size in bits.
        bits: usize,
    },
    /// An RSA key under 2048 bits: phones in FIPS mode refuse it.
    ShortRsaKey {
        /// The record whose certificate has it; `None`: the signer's key.
        index: Option<usize>,
        /// Key size in bits.
        bits: usize,
    },
    /// The signer's key size has no SIGNATURE_MODULUS code (only 512, 1024, 2048 and
    /// 4096 bits have one; 3072 has none).
    UnexpressibleSignerKey {
        /// Key size in bits (the signature's length).
        bits: usize,
    },
    /// An EC certificate in a list whose SIGNER_VERSION is below 1.1 (or absent): phones
    /// ignore it.
    EcNeedsSignerVersion {
        /// Record index.
        index: usize,
        /// The SIGNER_VERSION found.
        signer_version: Option<Version>,
    },
    /// A digest other than SHA-1: only firmware that knows it takes the file.
    DigestNeedsFirmware {
        /// The digest.
        digest: DigestAlgorithm,
    },
    /// Two records with the same role and certificate.
    DuplicateRecord {
        /// The first record's index.
        first: usize,
        /// The repeat's index.
        second: usize,
    },
    /// A CTL with no CallManager or TFTP record.
    NoServerRecord,
    /// More than 39 certificates (Cisco: the list then exceeds 64 KB).
    TooManyCertificates {
        /// How many.
        count: usize,
    },
    /// The file is above 60 KiB, near the 64 KiB limit (or over it: a list read with
    /// [`ParseOptions::oversize`](crate::ParseOptions::oversize)).
    NearSizeLimit {
        /// Its size.
        size: usize,
    },
    /// A record whose certificate cannot be decoded.
    UnreadableCertificate {
        /// Record index.
        index: usize,
        /// What is wrong with it.
        error: String,
    },
    /// Signed by a key that is none of the user's
    /// ([`Linter::own_key`](super::Linter::own_key)).
    ForeignSigner {
        /// The signer's subject; `None` when no SAST record names the signer.
        subject: Option<String>,
    },
    /// A SAST record of a key that is none of the user's: its holder can sign the next
    /// list phones take.
    ForeignSast {
        /// Record index.
        index: usize,
        /// The certificate's subject.
        subject: String,
    },
}

/// Sources the rules rest on.
mod source {
    pub(super) const PHONE_SAST: &str = "usecallmanager.nz ITL notes (phones hold 2 SAST records); Cisco CUCM 12.0 token CTL (4 SAST records)";
    pub(super) const X509: &str = "RFC 5280 validity; phones refuse expired signers and servers";
    pub(super) const KEY_2048: &str = "usecallmanager.nz: phones support RSA keys up to 2048 bits for CTL signatures; 7900 series firmware";
    pub(super) const FIPS: &str = "Cisco IP phone administration guides (8832, 8800 series), FIPS mode: RSA keys of at least 2048 bits";
    pub(super) const MODULUS: &str = "SIGNATURE_MODULUS codes 0-3 (512-4096 bits); CUCM 14 offers 3072-bit keys, which have none";
    pub(super) const SIGNER_VERSION: &str = "Cisco endpoint simulator API and usecallmanager.nz HTTPS provisioning notes: SIGNER_VERSION 1.1 enables EC records";
    pub(super) const DIGEST: &str =
        "every CUCM dump is SHA-1; SHA-512 lists came with later CUCM and firmware releases";
    pub(super) const SIZE: &str = "Cisco Security Guide for CUCM, ITL interactions and restrictions: over 39 certificates or 64 KB, phones fail to load the list";
    pub(super) const FORMAT: &str =
        "the trust list format: phones match records by role and certificate";
    pub(super) const TRUST: &str =
        "phones accept the next list signed by any SAST record of the list they hold";
}

impl Warning {
    /// Every [`code`](Self::code), in the order of the rules (for settings that name rules,
    /// so that a misspelt name is refused rather than ignored).
    pub const CODES: [&'static str; 15] = [
        "too-many-sast",
        "expired",
        "expires-soon",
        "signer-key-over-2048",
        "rsa-key-under-2048",
        "signer-key-no-modulus-code",
        "ec-needs-signer-version-1.1",
        "digest-needs-firmware",
        "duplicate-record",
        "no-server-record",
        "too-many-certificates",
        "size",
        "unreadable-certificate",
        "foreign-signer",
        "foreign-sast",
    ];

    /// A stable name for scripts (`--json`).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TooManySast { .. } => "too-many-sast",
            Self::Expired { .. } => "expired",
            Self::ExpiresSoon { .. } => "expires-soon",
            Self::LargeSignerKey { .. } => "signer-key-over-2048",
            Self::ShortRsaKey { .. } => "rsa-key-under-2048",
            Self::UnexpressibleSignerKey { .. } => "signer-key-no-modulus-code",
            Self::EcNeedsSignerVersion { .. } => "ec-needs-signer-version-1.1",
            Self::DigestNeedsFirmware { .. } => "digest-needs-firmware",
            Self::DuplicateRecord { .. } => "duplicate-record",
            Self::NoServerRecord => "no-server-record",
            Self::TooManyCertificates { .. } => "too-many-certificates",
            Self::NearSizeLimit { .. } => "size",
            Self::UnreadableCertificate { .. } => "unreadable-certificate",
            Self::ForeignSigner { .. } => "foreign-signer",
            Self::ForeignSast { .. } => "foreign-sast",
        }
    }

    /// Which phones it concerns.
    pub const fn phones(&self) -> &'static str {
        match self {
            Self::LargeSignerKey { .. } => "7900 series (and other older firmware)",
            Self::ShortRsaKey { .. } => "phones in FIPS mode (8832, 8800 series and others)",
            Self::EcNeedsSignerVersion { .. } => {
                "phones that take EC records and HTTPS provisioning"
            }
            Self::DigestNeedsFirmware { .. } => {
                "firmware that predates the digest (7900 series and older releases)"
            }
            _ => "all phones",
        }
    }

    /// What the rule rests on.
    pub const fn source(&self) -> &'static str {
        match self {
            Self::TooManySast { .. } => source::PHONE_SAST,
            Self::Expired { .. } | Self::ExpiresSoon { .. } => source::X509,
            Self::LargeSignerKey { .. } => source::KEY_2048,
            Self::ShortRsaKey { .. } => source::FIPS,
            Self::UnexpressibleSignerKey { .. } => source::MODULUS,
            Self::EcNeedsSignerVersion { .. } => source::SIGNER_VERSION,
            Self::DigestNeedsFirmware { .. } => source::DIGEST,
            Self::TooManyCertificates { .. } | Self::NearSizeLimit { .. } => source::SIZE,
            Self::DuplicateRecord { .. }
            | Self::NoServerRecord
            | Self::UnreadableCertificate { .. } => source::FORMAT,
            Self::ForeignSigner { .. } | Self::ForeignSast { .. } => source::TRUST,
        }
    }
}

fn nth(index: usize) -> usize {
    index.saturating_add(1)
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManySast { count, limit, list } => {
                let list = match list {
                    Some(ListKind::Itl) => "an ITL",
                    _ => "a CTL",
                };
                write!(
                    f,
                    "{count} SAST records: phones are documented to hold at most {limit} in {list}"
                )
            }
            Self::Expired {
                index,
                role,
                not_after,
            } => write!(
                f,
                "record #{} ({role}): certificate expired on {} UTC",
                nth(*index),
                format_utc(*not_after)
            ),
            Self::ExpiresSoon {
                index,
                role,
                not_after,
            } => write!(
                f,
                "record #{} ({role}): certificate expires within 30 days, on {} UTC",
                nth(*index),
                format_utc(*not_after)
            ),
            Self::LargeSignerKey { bits } => write!(
                f,
                "signed with a {bits}-bit key: older phones accept at most 2048 bits"
            ),
            Self::ShortRsaKey { index: None, bits } => write!(
                f,
                "signed with a {bits}-bit RSA key: phones in FIPS mode need 2048 bits or more"
            ),
            Self::ShortRsaKey {
                index: Some(i),
                bits,
            } => write!(
                f,
                "record #{}: {bits}-bit RSA key: phones in FIPS mode need 2048 bits or more",
                nth(*i)
            ),
            Self::UnexpressibleSignerKey { bits } => write!(
                f,
                "signed with a {bits}-bit key: no SIGNATURE_MODULUS code exists for it \
                 (512, 1024, 2048 or 4096 bits); phones refuse the list"
            ),
            Self::EcNeedsSignerVersion {
                index,
                signer_version,
            } => {
                let found = signer_version.map_or_else(|| "absent".to_owned(), |v| v.to_string());
                write!(
                    f,
                    "record #{}: EC certificate, but SIGNER_VERSION is {found}: phones ignore \
                     EC records below 1.1 (build with --signer-version 1.1)",
                    nth(*index)
                )
            }
            Self::DigestNeedsFirmware { digest } => write!(
                f,
                "signed with {digest}: phones whose firmware predates {digest} trust lists refuse it \
                 (SHA-1 is taken by every phone)"
            ),
            Self::DuplicateRecord { first, second } => write!(
                f,
                "record #{} repeats record #{} (same role and certificate)",
                nth(*second),
                nth(*first)
            ),
            Self::NoServerRecord => {
                f.write_str("no CCM, CCM+TFTP or TFTP record: phones will not trust any server")
            }
            Self::TooManyCertificates { count } => write!(
                f,
                "{count} certificates: over the {} Cisco documents as fitting in the 64 KB phones load",
                super::MAX_CERTIFICATES
            ),
            Self::NearSizeLimit { size } if *size > crate::MAX_LEN => write!(
                f,
                "{size} bytes: over the 65536 bytes phones load; every phone refuses it"
            ),
            Self::NearSizeLimit { size } => write!(
                f,
                "{size} bytes: above 60 KiB, close to the 65536 bytes phones load"
            ),
            Self::UnreadableCertificate { index, error } => {
                write!(
                    f,
                    "record #{}: certificate cannot be read: {error}",
                    nth(*index)
                )
            }
            Self::ForeignSigner { subject: Some(s) } => write!(
                f,
                "signed by {s}, which is none of your keys (--my-key): phones that take this \
                 list trust whoever holds that key; sign your own"
            ),
            Self::ForeignSigner { subject: None } => {
                f.write_str("signed by a key no SAST record names, none of your keys (--my-key)")
            }
            Self::ForeignSast { index, subject } => write!(
                f,
                "record #{} (SAST) {subject} is none of your keys (--my-key): its holder can \
                 sign the next list these phones take",
                nth(*index)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_s_code_is_listed_once() {
        let role = Role::SAST;
        let all = [
            Warning::TooManySast {
                count: 3,
                limit: 2,
                list: None,
            },
            Warning::Expired {
                index: 0,
                role,
                not_after: 0,
            },
            Warning::ExpiresSoon {
                index: 0,
                role,
                not_after: 0,
            },
            Warning::LargeSignerKey { bits: 4096 },
            Warning::ShortRsaKey {
                index: None,
                bits: 1024,
            },
            Warning::UnexpressibleSignerKey { bits: 3072 },
            Warning::EcNeedsSignerVersion {
                index: 0,
                signer_version: None,
            },
            Warning::DigestNeedsFirmware {
                digest: DigestAlgorithm::Sha512,
            },
            Warning::DuplicateRecord {
                first: 0,
                second: 1,
            },
            Warning::NoServerRecord,
            Warning::TooManyCertificates { count: 40 },
            Warning::NearSizeLimit { size: 62_000 },
            Warning::UnreadableCertificate {
                index: 0,
                error: String::new(),
            },
            Warning::ForeignSigner { subject: None },
            Warning::ForeignSast {
                index: 0,
                subject: String::new(),
            },
        ];
        let codes: Vec<&str> = all.iter().map(Warning::code).collect();
        assert_eq!(codes, Warning::CODES);
    }
}
