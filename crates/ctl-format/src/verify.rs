//! Signature verification and the trust rules a phone applies.

use core::fmt;

use rsa::pkcs1::DecodeRsaPublicKey as _;

use crate::cert::{CertificateError, public_key_of};
use crate::document::{Document, FileKind, Record};
use crate::types::{DigestAlgorithm, Role, hex, serials_equal};

/// Checks one signature. [`RsaVerifier`] is the real one; tests and fuzzers plug in others.
pub trait Verifier {
    /// Verifies `signature` over the concatenation of `signed` with the key of `certificate` (DER).
    ///
    /// # Errors
    /// Why the signature is not valid for this certificate.
    fn verify(
        &self,
        certificate: &[u8],
        digest: DigestAlgorithm,
        signed: [&[u8]; 2],
        signature: &[u8],
    ) -> Result<(), VerifyError>;
}

/// RSASSA-PKCS1-v1_5 verification with the RustCrypto `rsa` crate.
#[derive(Clone, Copy, Debug, Default)]
pub struct RsaVerifier;

impl Verifier for RsaVerifier {
    fn verify(
        &self,
        certificate: &[u8],
        digest: DigestAlgorithm,
        signed: [&[u8]; 2],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        let (algorithm, pkcs1) = public_key_of(certificate).map_err(VerifyError::Certificate)?;
        if algorithm != "RSA" {
            return Err(VerifyError::KeyNotRsa { algorithm });
        }
        let key =
            rsa::PublicKey::from_pkcs1_der(pkcs1).map_err(|e| VerifyError::Key(e.to_string()))?;
        let key_len = rsa::traits::PublicKeyParts::size(&key);
        if key_len != signature.len() {
            return Err(VerifyError::KeySize {
                key_len,
                signature_len: signature.len(),
            });
        }
        let hash = digest.digest(&signed);
        let result = match digest {
            DigestAlgorithm::Sha1 => key.pkcs1v15_verify_prehash::<sha1::Sha1>(&hash, signature),
            DigestAlgorithm::Sha256 => {
                key.pkcs1v15_verify_prehash::<sha2::Sha256>(&hash, signature)
            }
            DigestAlgorithm::Sha512 => {
                key.pkcs1v15_verify_prehash::<sha2::Sha512>(&hash, signature)
            }
        };
        result.map_err(|_| VerifyError::BadSignature)
    }
}

/// Why a signature does not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// No SAST record carries the serial the header names.
    NoSignerRecord {
        /// The header serial, hex.
        serial: String,
    },
    /// The signer record has no certificate.
    SignerWithoutCertificate {
        /// Index of the record.
        index: usize,
    },
    /// A `.sgn` needs a certificate or a trust list to be checked against.
    NeedsCertificate,
    /// The trust list has no record with the header serial in a role allowed to sign this file.
    NotInTrustList {
        /// The header serial, hex.
        serial: String,
        /// The roles that may sign it.
        roles: &'static str,
    },
    /// The certificate cannot be read.
    Certificate(CertificateError),
    /// The key is not RSA.
    KeyNotRsa {
        /// The algorithm found.
        algorithm: &'static str,
    },
    /// The RSA key cannot be used (the decoder's message).
    Key(String),
    /// The signature length does not match the key.
    KeySize {
        /// Modulus size in bytes.
        key_len: usize,
        /// Signature size in bytes.
        signature_len: usize,
    },
    /// SIGNATURE_MODULUS does not match the signature length.
    ModulusCode {
        /// The code found (`None`: absent).
        code: Option<u8>,
        /// Signature size in bytes.
        signature_len: usize,
    },
    /// SIGNATURE_ALGORITHM is not 0 (RSA PKCS#1 v1.5).
    SignatureAlgorithm {
        /// The code found.
        code: u8,
    },
    /// The signature does not match the file.
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSignerRecord { serial } => {
                write!(
                    f,
                    "no SAST record with the signer serial {serial} (header SERIAL_NUMBER)"
                )
            }
            Self::SignerWithoutCertificate { index } => {
                write!(
                    f,
                    "signer record #{} has no CERTIFICATE",
                    index.saturating_add(1)
                )
            }
            Self::NeedsCertificate => f.write_str(
                "a .sgn file is checked against a certificate or a trust list; none was given",
            ),
            Self::NotInTrustList { serial, roles } => {
                write!(
                    f,
                    "the trust list has no {roles} record with the signer serial {serial}"
                )
            }
            Self::Certificate(e) => write!(f, "signer certificate: {e}"),
            Self::KeyNotRsa { algorithm } => {
                write!(f, "the signer key is {algorithm}: expected RSA")
            }
            Self::Key(e) => write!(f, "signer RSA key: {e}"),
            Self::KeySize {
                key_len,
                signature_len,
            } => write!(
                f,
                "signature is {signature_len} bytes, expected {key_len} bytes for the signer's key"
            ),
            Self::ModulusCode {
                code,
                signature_len,
            } => match code {
                Some(c) => write!(
                    f,
                    "SIGNATURE_MODULUS {c} does not match a {signature_len}-byte signature (expected {})",
                    modulus_code(*signature_len).map_or_else(
                        || "none: 64, 128, 256 or 512 bytes".to_owned(),
                        |c| c.to_string()
                    )
                ),
                None => write!(
                    f,
                    "SIGNATURE_MODULUS is absent for a {signature_len}-byte signature"
                ),
            },
            Self::SignatureAlgorithm { code } => {
                write!(
                    f,
                    "SIGNATURE_ALGORITHM: expected 0 (RSA PKCS#1 v1.5), found {code}"
                )
            }
            Self::BadSignature => f.write_str("the signature does not match the file"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// The SIGNATURE_MODULUS code of a signature length.
pub const fn modulus_code(signature_len: usize) -> Option<u8> {
    match signature_len {
        64 => Some(0),
        128 => Some(1),
        256 => Some(2),
        512 => Some(3),
        _ => None,
    }
}

/// A document whose signature checked out, and who signed it.
#[derive(Clone, Copy, Debug)]
pub struct Verified<'d, 'a> {
    document: &'d Document<'a>,
    signer: &'a [u8],
}

impl<'d, 'a> Verified<'d, 'a> {
    /// The verified document.
    pub const fn document(&self) -> &'d Document<'a> {
        self.document
    }

    /// The DER certificate that verified the signature.
    pub const fn signer_certificate(&self) -> &'a [u8] {
        self.signer
    }

    /// The payload of a verified signed file (empty for a trust list).
    pub fn payload(&self) -> &'a [u8] {
        match self.document.kind() {
            FileKind::Signed => self.document.body_unverified(),
            FileKind::TrustList => &[],
        }
    }
}

impl<'a> Document<'a> {
    /// The record that signed this trust list: a SAST record whose serial matches
    /// the header's (leading zeros ignored; the last such record, as phones do).
    ///
    /// # Errors
    /// No such record, or one without a certificate.
    pub fn signer_record(&self) -> Result<(usize, &Record<'a>), VerifyError> {
        let serial = self.header().serial();
        let (index, record) = self
            .records()
            .iter()
            .enumerate()
            .rev()
            .find(|(_, r)| {
                r.role() == Some(Role::SAST) && r.serial().is_some_and(|s| serials_equal(s, serial))
            })
            .ok_or_else(|| VerifyError::NoSignerRecord {
                serial: hex(serial),
            })?;
        Ok((index, record))
    }

    fn check_signature_info(&self) -> Result<(), VerifyError> {
        let h = self.header();
        let signature_len = h.signature().len();
        if let Some(code) = h.signature_algorithm().filter(|c| *c != 0) {
            return Err(VerifyError::SignatureAlgorithm { code });
        }
        match (h.modulus_code(), modulus_code(signature_len)) {
            (Some(found), Some(expected)) if found == expected => Ok(()),
            (code, _) => Err(VerifyError::ModulusCode {
                code,
                signature_len,
            }),
        }
    }

    /// Verifies a trust list against its own SAST record whose serial matches the header.
    ///
    /// # Errors
    /// A `.sgn` (use [`verify_with_certificate`](Self::verify_with_certificate)), no signer record,
    /// inconsistent signature info, or a signature that does not verify.
    pub fn verify<'d>(&'d self, verifier: &dyn Verifier) -> Result<Verified<'d, 'a>, VerifyError> {
        if self.kind() == FileKind::Signed {
            return Err(VerifyError::NeedsCertificate);
        }
        let (index, record) = self.signer_record()?;
        let cert = record
            .certificate()
            .ok_or(VerifyError::SignerWithoutCertificate { index })?;
        self.verify_with_certificate(cert, verifier)
    }

    /// Verifies the signature with the key of the given DER certificate.
    ///
    /// # Errors
    /// Inconsistent signature info, or a signature that does not verify with this certificate.
    pub fn verify_with_certificate<'d>(
        &'d self,
        certificate: &'a [u8],
        verifier: &dyn Verifier,
    ) -> Result<Verified<'d, 'a>, VerifyError> {
        self.check_signature_info()?;
        verifier.verify(
            certificate,
            self.header().digest(),
            self.signed_parts(),
            self.header().signature(),
        )?;
        Ok(Verified {
            document: self,
            signer: certificate,
        })
    }

    /// Verifies the signature against a trust list, as a phone holding `trust` does: a trust
    /// list must be signed by one of its SAST certificates, a `.sgn` by one of its TFTP or
    /// CCM+TFTP certificates, matched by the header serial.
    ///
    /// # Errors
    /// No matching record, or a signature that does not verify with any of them.
    pub fn verify_with_trust_list<'d>(
        &'d self,
        trust: &Self,
        verifier: &dyn Verifier,
    ) -> Result<Verified<'d, 'a>, VerifyError> {
        let serial = self.header().serial();
        let (allowed, roles): (fn(Role) -> bool, &'static str) = match self.kind() {
            FileKind::TrustList => (|r| r == Role::SAST, "SAST"),
            FileKind::Signed => (Role::signs_configs, "TFTP or CCM+TFTP"),
        };
        let mut last_error = None;
        for record in trust.records().iter().rev() {
            let eligible = record.role().is_some_and(allowed)
                && record.serial().is_some_and(|s| serials_equal(s, serial));
            let Some(cert) = record.certificate().filter(|_| eligible) else {
                continue;
            };
            match self.verify_with_certificate(cert, verifier) {
                Ok(v) => return Ok(v),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or(VerifyError::NotInTrustList {
            serial: hex(serial),
            roles,
        }))
    }
}

/// Why a phone takes a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Acceptance {
    /// The phone held no trust list: it takes the first one whose own signature checks out.
    FirstList,
    /// Signed by a certificate of the list the phone holds.
    SignedByHeld,
}

impl fmt::Display for Acceptance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FirstList => "taken as a first trust list (its own signature checks out)",
            Self::SignedByHeld => "taken: signed by a certificate of the list the phone holds",
        })
    }
}

/// Why a phone refuses a file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The candidate's signature does not check out.
    Signature(VerifyError),
    /// The candidate is not signed by a certificate of the held list with the right role.
    NotSignedByHeld(VerifyError),
    /// A `.sgn` cannot be checked by a phone that holds no trust list.
    NoTrustList,
    /// The held file is not a trust list.
    HeldNotTrustList,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signature(e) => write!(f, "refused: {e}"),
            Self::NotSignedByHeld(e) => write!(
                f,
                "refused: not signed by a certificate the phone trusts: {e}"
            ),
            Self::NoTrustList => {
                f.write_str("refused: a phone without a trust list cannot check a .sgn file")
            }
            Self::HeldNotTrustList => {
                f.write_str("refused: the held file is a .sgn, not a trust list")
            }
        }
    }
}

impl std::error::Error for Refusal {}

/// The phone's rule: does a phone holding `held` (or nothing) take `candidate`?
///
/// A first trust list is taken when its own signature verifies; a later one only
/// when a SAST certificate of the held list signed it; a `.sgn` only when a TFTP or
/// CCM+TFTP certificate of the held list signed it.
///
/// # Errors
/// The [`Refusal`] with its reason.
pub fn phone_accepts(
    held: Option<&Document<'_>>,
    candidate: &Document<'_>,
    verifier: &dyn Verifier,
) -> Result<Acceptance, Refusal> {
    match (held, candidate.kind()) {
        (Some(h), _) if h.kind() != FileKind::TrustList => Err(Refusal::HeldNotTrustList),
        (None, FileKind::TrustList) => {
            candidate.verify(verifier).map_err(Refusal::Signature)?;
            Ok(Acceptance::FirstList)
        }
        (None, FileKind::Signed) => Err(Refusal::NoTrustList),
        (Some(h), _) => {
            candidate
                .verify_with_trust_list(h, verifier)
                .map_err(|e| match e {
                    VerifyError::NotInTrustList { .. } => Refusal::NotSignedByHeld(e),
                    other => Refusal::Signature(other),
                })?;
            Ok(Acceptance::SignedByHeld)
        }
    }
}
