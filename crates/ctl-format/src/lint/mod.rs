//! Warnings about files that parse and verify but that some phones will not take, or
//! that hand trust to a key the user does not hold.
//!
//! Every rule names the phones it concerns ([`Warning::phones`]) and the source it rests
//! on ([`Warning::source`]); [`Warning::code`] is a stable name for scripts.
//!
//! ```
//! # let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/ctl/CTLFile-sha1.tlv")).unwrap();
//! let doc = ctl_format::parse(&bytes)?;
//! // Lint at a fixed time (the pure crate reads no clock), as the user who holds no key of it.
//! for warning in ctl_format::lint::Linter::new(1_767_225_600).run(&doc) {
//!     println!("{}: {warning} ({}; {})", warning.code(), warning.phones(), warning.source());
//! }
//! # Ok::<(), ctl_format::Error>(())
//! ```

mod warning;

pub use warning::{ListKind, Warning};

use crate::cert::{Certificate, PublicKey};
use crate::document::{Document, FileKind};
use crate::types::{DigestAlgorithm, Role, Version};
use crate::verify::modulus_code;

/// Above this size a trust list is close to the 64 KiB phones load.
pub const SIZE_WARNING: usize = 60 * 1024;

/// Certificates expiring within this many seconds are flagged (30 days).
pub const EXPIRY_WARNING: u64 = 30 * 86_400;

/// Cisco's security guide: more certificates than this make an ITL exceed 64 KB.
pub const MAX_CERTIFICATES: usize = 39;

/// The most SAST records phones are documented to hold in an ITL.
pub const MAX_SAST_ITL: usize = 2;

/// The SAST records a CUCM 12 token CTL carries (Token 1, Token 2, ITLRecovery,
/// CallManager): more is flagged.
pub const MAX_SAST_CTL: usize = 4;

/// Warnings for `doc` at time `now` (Unix seconds), for a user who named no keys of
/// their own: [`Linter::new(now).run(doc)`](Linter::run).
pub fn lint(doc: &Document<'_>, now: u64) -> Vec<Warning> {
    Linter::new(now).run(doc)
}

/// The rules on the signature itself: the size of the signer's RSA key (as the length of
/// its signatures, in bytes) and the digest. What a file's signer is judged by, and what a
/// key that is to sign files can be judged by before it signs any.
pub fn signer_warnings(signature_len: usize, digest: DigestAlgorithm) -> Vec<Warning> {
    let mut out = Vec::new();
    let bits = signature_len.saturating_mul(8);
    if bits > 2048 {
        out.push(Warning::LargeSignerKey { bits });
    } else if bits < 2048 && bits > 0 {
        out.push(Warning::ShortRsaKey { index: None, bits });
    }
    if modulus_code(signature_len).is_none() {
        out.push(Warning::UnexpressibleSignerKey { bits });
    }
    if digest != DigestAlgorithm::Sha1 {
        out.push(Warning::DigestNeedsFirmware { digest });
    }
    out
}

/// Lint settings: the time to judge expiry at, and the keys the user holds.
#[derive(Clone, Debug)]
pub struct Linter {
    now: u64,
    own: Vec<Vec<u8>>,
}

impl Linter {
    /// Judges expiry at `now` (Unix seconds); no keys of the user's own are known.
    pub const fn new(now: u64) -> Self {
        Self {
            now,
            own: Vec::new(),
        }
    }

    /// Names a key the user holds. Once one is named, a trust list signed by another
    /// key, or with a SAST record of another key, is flagged: whoever holds that key can
    /// sign the lists the user's phones take next.
    pub fn own_key(&mut self, key: &PublicKey) -> &mut Self {
        self.own.push(key.record_bytes().to_vec());
        self
    }

    fn is_own(&self, cert: &Certificate) -> bool {
        self.own
            .iter()
            .any(|k| k.as_slice() == cert.public_key().record_bytes())
    }

    /// The warnings for `doc`, in the order of the rules.
    pub fn run(&self, doc: &Document<'_>) -> Vec<Warning> {
        let mut out = Vec::new();
        let records = doc.records();
        let certs: Vec<Option<Result<Certificate, _>>> = records
            .iter()
            .map(|r| r.certificate().map(Certificate::from_der))
            .collect();

        let kind = ListKind::of(doc);
        let sast = records
            .iter()
            .filter(|r| r.role() == Some(Role::SAST))
            .count();
        let limit = match kind {
            Some(ListKind::Itl) => MAX_SAST_ITL,
            _ => MAX_SAST_CTL,
        };
        if doc.kind() == FileKind::TrustList && sast > limit {
            out.push(Warning::TooManySast {
                count: sast,
                limit,
                list: kind,
            });
        }

        let signer_version = doc.header().signer_version();
        for (index, (r, cert)) in records.iter().zip(&certs).enumerate() {
            let role = r.role().unwrap_or(Role(u16::MAX));
            let cert = match cert {
                None => continue,
                Some(Err(e)) => {
                    out.push(Warning::UnreadableCertificate {
                        index,
                        error: e.to_string(),
                    });
                    continue;
                }
                Some(Ok(c)) => c,
            };
            let not_after = cert.not_after();
            if not_after < self.now {
                out.push(Warning::Expired {
                    index,
                    role,
                    not_after,
                });
            } else if not_after < self.now.saturating_add(EXPIRY_WARNING) {
                out.push(Warning::ExpiresSoon {
                    index,
                    role,
                    not_after,
                });
            }
            match cert.public_key() {
                PublicKey::Rsa { bits, .. } if *bits < 2048 => {
                    out.push(Warning::ShortRsaKey {
                        index: Some(index),
                        bits: *bits,
                    });
                }
                PublicKey::Ec { .. } if signer_version.is_none_or(|v| v < Version::V1_1) => {
                    out.push(Warning::EcNeedsSignerVersion {
                        index,
                        signer_version,
                    });
                }
                _ => {}
            }
        }

        out.extend(signer_warnings(
            doc.header().signature().len(),
            doc.header().digest(),
        ));

        for (second, r) in records.iter().enumerate() {
            let first = records.iter().take(second).position(|o| {
                // Records without a certificate (non-secure lists) repeat nothing.
                r.certificate().is_some()
                    && o.role() == r.role()
                    && o.certificate() == r.certificate()
            });
            if let Some(first) = first {
                out.push(Warning::DuplicateRecord { first, second });
            }
        }
        let servers = [Role::CCM, Role::CCM_TFTP, Role::TFTP];
        if doc.kind() == FileKind::TrustList
            && !records
                .iter()
                .any(|r| r.role().is_some_and(|x| servers.contains(&x)))
        {
            out.push(Warning::NoServerRecord);
        }
        let count = certs.iter().filter(|c| c.is_some()).count();
        if count > MAX_CERTIFICATES {
            out.push(Warning::TooManyCertificates { count });
        }
        if doc.as_bytes().len() > SIZE_WARNING {
            out.push(Warning::NearSizeLimit {
                size: doc.as_bytes().len(),
            });
        }
        if !self.own.is_empty() && doc.kind() == FileKind::TrustList {
            self.foreign_keys(doc, &certs, &mut out);
        }
        out
    }

    /// The signer, and every SAST record, must be one of the user's keys.
    fn foreign_keys(
        &self,
        doc: &Document<'_>,
        certs: &[Option<Result<Certificate, crate::CertificateError>>],
        out: &mut Vec<Warning>,
    ) {
        let subject = |c: &Certificate| c.subject_text(crate::NameStyle::Reversed);
        let signer = doc
            .signer_record()
            .ok()
            .and_then(|(i, _)| certs.get(i).and_then(|c| c.as_ref()?.as_ref().ok()));
        match signer {
            Some(c) if self.is_own(c) => {}
            Some(c) => out.push(Warning::ForeignSigner {
                subject: Some(subject(c)),
            }),
            None => out.push(Warning::ForeignSigner { subject: None }),
        }
        for (index, (r, cert)) in doc.records().iter().zip(certs).enumerate() {
            if r.role() != Some(Role::SAST) {
                continue;
            }
            match cert {
                Some(Ok(c)) if self.is_own(c) => {}
                Some(Ok(c)) => out.push(Warning::ForeignSast {
                    index,
                    subject: subject(c),
                }),
                // An unreadable or absent certificate signs nothing a phone checks.
                _ => {}
            }
        }
    }
}
