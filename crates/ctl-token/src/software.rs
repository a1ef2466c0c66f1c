//! The software signer: an RSA key from a PEM file.

use std::fmt;
use std::io::Read as _;
use std::path::Path;

use ctl_format::{Certificate, CertificateError, DigestAlgorithm, PublicKey, Signer, SignerError};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
use rsa::pkcs8::DecodePrivateKey as _;
use zeroize::Zeroizing;

use crate::error::{Error, MAX_PEM_FILE};

/// Signs with an RSA private key held in memory (zeroized when dropped).
pub struct SoftwareSigner {
    key: rsa::PrivateKey,
    cert: Vec<u8>,
    subject: String,
}

impl fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareSigner")
            .field("certificate", &self.subject)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Reads a small file, refusing anything too large to be a key or certificate.
///
/// # Errors
/// I/O errors, and files over 1 MiB.
pub(crate) fn read_small(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut buf = Zeroizing::new(Vec::new());
    file.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > MAX_PEM_FILE {
        return Err(Error::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(buf)
}

impl SoftwareSigner {
    /// A signer from PEM text holding the private key, and a DER certificate.
    ///
    /// `what` names the source in error messages (a file name).
    ///
    /// # Errors
    /// No key, an encrypted or non-RSA key, or a key that does not match the certificate.
    pub fn from_pem_key(key_pem: &[u8], cert_der: &[u8], what: &str) -> Result<Self, Error> {
        let key = decode_key(key_pem, what)?;
        let cert = Certificate::from_der(cert_der).map_err(|source| Error::Certificate {
            what: what.to_owned(),
            source,
        })?;
        Self::new(key, &cert, what)
    }

    /// A signer from one PEM file holding both the key and the certificate (the form
    /// certutils takes), or from a key file and a separate certificate file (PEM or DER).
    ///
    /// ```
    /// # let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../ctl-format/tests/vectors/keys"));
    /// use ctl_format::Signer as _;
    /// use ctl_token::SoftwareSigner;
    ///
    /// let separate = SoftwareSigner::from_files(&dir.join("sast1.key.pem"), Some(&dir.join("sast1.crt.pem")))?;
    /// let combined = SoftwareSigner::from_files(&dir.join("sast1.pem"), None)?;
    /// assert_eq!(separate.certificate(), combined.certificate());
    /// // A certificate of another key is refused.
    /// assert!(SoftwareSigner::from_files(&dir.join("sast1.key.pem"), Some(&dir.join("sast2.crt.pem"))).is_err());
    /// # Ok::<(), ctl_token::Error>(())
    /// ```
    ///
    /// # Errors
    /// Unreadable files, and the errors of [`from_pem_key`](Self::from_pem_key).
    pub fn from_files(key: &Path, cert: Option<&Path>) -> Result<Self, Error> {
        let what = key.display().to_string();
        let key_pem = read_small(key)?;
        let private = decode_key(&key_pem, &what)?;
        let (cert_bytes, cert_what) = match cert {
            Some(p) => (read_small(p)?, p.display().to_string()),
            None => (key_pem, what.clone()),
        };
        if cert.is_none()
            && !ctl_format::pem_labels(&cert_bytes)
                .iter()
                .any(|l| l == "CERTIFICATE")
        {
            return Err(Error::NoCertificate { what });
        }
        let cert =
            Certificate::from_der_or_pem(&cert_bytes).map_err(|source| Error::Certificate {
                what: cert_what,
                source,
            })?;
        Self::new(private, &cert, &what)
    }

    /// A signer from a key and the certificate it belongs to.
    ///
    /// # Errors
    /// A certificate that is not RSA or does not match the key.
    pub fn new(key: rsa::PrivateKey, cert: &Certificate, what: &str) -> Result<Self, Error> {
        let pkcs1 = match cert.public_key() {
            PublicKey::Rsa { pkcs1, .. } => pkcs1,
            other => {
                return Err(Error::KeyNotRsa {
                    what: what.to_owned(),
                    algorithm: other.algorithm(),
                });
            }
        };
        let ours = key
            .as_public_key()
            .to_pkcs1_der()
            .map_err(|e| Error::InvalidKey {
                what: what.to_owned(),
                reason: e.to_string(),
            })?;
        if ours.as_bytes() != pkcs1.as_slice() {
            return Err(Error::Mismatch {
                what: what.to_owned(),
            });
        }
        Ok(Self {
            key,
            cert: cert.der().to_vec(),
            subject: cert.subject_text(ctl_format::NameStyle::Reversed),
        })
    }

    /// A signer from a key file and the first of `candidates` that the key belongs to;
    /// when the key file holds a certificate, that one is used instead.
    ///
    /// # Errors
    /// Unreadable file, bad key, or no candidate matching the key.
    pub fn from_key_file_matching(key: &Path, candidates: &[Certificate]) -> Result<Self, Error> {
        let what = key.display().to_string();
        let pem = read_small(key)?;
        if ctl_format::pem_labels(&pem)
            .iter()
            .any(|l| l == "CERTIFICATE")
        {
            return Self::from_files(key, None);
        }
        let private = decode_key(&pem, &what)?;
        for cert in candidates {
            if let Ok(signer) = Self::new(private.clone(), cert, &what) {
                return Ok(signer);
            }
        }
        Err(Error::NoCertificate { what })
    }

    /// The private key (for moving it onto a token in a lab).
    pub fn into_key(self) -> rsa::PrivateKey {
        self.key
    }

    /// The private key as PKCS #8 DER (zeroized when dropped), for a TLS library that
    /// authenticates the client with it.
    ///
    /// # Errors
    /// The key cannot be encoded.
    pub fn pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        use rsa::pkcs8::EncodePrivateKey as _;
        let doc = self
            .key
            .to_pkcs8_der()
            .map_err(|e| Error::Internal(format!("encoding the key as PKCS #8: {e}")))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The public key of the RSA private key in a PEM file, in the form a trust list
    /// record holds it (the key itself is zeroized when this returns).
    ///
    /// # Errors
    /// An unreadable file, no key, or an encrypted or non-RSA key.
    pub fn public_key_of_file(key: &Path) -> Result<PublicKey, Error> {
        Self::public_key_of_pem(&read_small(key)?, &key.display().to_string())
    }

    /// [`public_key_of_file`](Self::public_key_of_file) of PEM text already read; `what`
    /// names it in errors.
    ///
    /// # Errors
    /// No key, or an encrypted or non-RSA key.
    pub fn public_key_of_pem(pem: &[u8], what: &str) -> Result<PublicKey, Error> {
        let what = what.to_owned();
        let private = decode_key(pem, &what)?;
        let public = private.as_public_key();
        let pkcs1 = public.to_pkcs1_der().map_err(|e| Error::InvalidKey {
            what,
            reason: e.to_string(),
        })?;
        Ok(PublicKey::Rsa {
            pkcs1: pkcs1.as_bytes().to_vec(),
            bits: rsa::traits::PublicKeyParts::size(public).saturating_mul(8),
        })
    }

    /// A new RSA key of `bits` bits with a self-signed certificate for `common_name`
    /// (organization `organization`), valid from the start of this year for 20 years.
    ///
    /// # Errors
    /// A key size the RSA crate refuses, or a name rcgen cannot encode.
    #[cfg(feature = "generate")]
    pub fn generate(common_name: &str, organization: &str, bits: usize) -> Result<Self, Error> {
        use rsa::pkcs8::EncodePrivateKey as _;
        let failed = |e: &dyn fmt::Display| Error::Internal(format!("generating a key: {e}"));
        let key = rsa::PrivateKey::new(&mut getrandom::SysRng, bits).map_err(|e| failed(&e))?;
        let der = Zeroizing::new(
            key.to_pkcs8_der()
                .map_err(|e| failed(&e))?
                .as_bytes()
                .to_vec(),
        );
        let pair = rcgen::KeyPair::try_from(der.as_slice()).map_err(|e| failed(&e))?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, organization);
        let year = this_year();
        params.not_before = rcgen::date_time_ymd(year, 1, 1);
        params.not_after = rcgen::date_time_ymd(year.saturating_add(20), 1, 1);
        let cert = params.self_signed(&pair).map_err(|e| failed(&e))?;
        let cert = Certificate::from_der(cert.der()).map_err(|source| Error::Certificate {
            what: common_name.to_owned(),
            source,
        })?;
        Self::new(key, &cert, common_name)
    }

    /// The certificate and the private key as one PEM text (the form
    /// [`from_files`](Self::from_files) reads without `cert`), zeroized when dropped.
    ///
    /// # Errors
    /// The key cannot be encoded.
    pub fn to_pem(&self) -> Result<Zeroizing<String>, Error> {
        use rsa::pkcs8::EncodePrivateKey as _;
        let key = self
            .key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| Error::Internal(format!("encoding the key as PKCS #8: {e}")))?;
        let mut out = Zeroizing::new(ctl_format::pem_encode("CERTIFICATE", &self.cert));
        out.push_str(&key);
        Ok(out)
    }

    /// A signer from a PKCS #12 file (`ITLRecovery.p12`, `openssl pkcs12 -export`): its
    /// first RSA key with the certificate of the file, or of `candidates` (the SAST
    /// records of a held list), that matches it.
    ///
    /// # Errors
    /// An unreadable or malformed file, a wrong password, no RSA key, or no certificate
    /// for it.
    #[cfg(feature = "pkcs12")]
    pub fn from_pkcs12_file(
        path: &Path,
        password: &secrecy::SecretString,
        candidates: &[Certificate],
    ) -> Result<Self, Error> {
        use rsa::pkcs8::DecodePrivateKey as _;
        let what = path.display().to_string();
        let der = read_small(path)?;
        let contents = crate::pkcs12::open(&der, password, &what)?;
        let mut certs: Vec<Certificate> = contents
            .certs
            .iter()
            .filter_map(|c| Certificate::from_der(c).ok())
            .collect();
        certs.extend(candidates.iter().cloned());
        let mut found_key = false;
        for key in &contents.keys {
            let Ok(private) = rsa::PrivateKey::from_pkcs8_der(key) else {
                continue;
            };
            found_key = true;
            for cert in &certs {
                if let Ok(signer) = Self::new(private.clone(), cert, &what) {
                    return Ok(signer);
                }
            }
        }
        if found_key {
            Err(Error::NoCertificate { what })
        } else {
            Err(Error::NoKey { what })
        }
    }

    /// Whether PEM text holds a private key block of any kind.
    pub fn has_private_key(pem: &[u8]) -> bool {
        ctl_format::pem_labels(pem)
            .iter()
            .any(|l| l.ends_with("PRIVATE KEY"))
    }
}

/// The current year (UTC), from the system clock.
#[cfg(feature = "generate")]
fn this_year() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // 365.2425 days a year: off by a day at most around New Year, which a validity
    // start needs not care about.
    let years = secs / 31_556_952;
    i32::try_from(years).map_or(1970, |y| y.saturating_add(1970))
}

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";

/// The first PEM block with `label`, in a buffer zeroized on drop.
fn first_block(pem: &[u8], label: &str) -> Result<Zeroizing<Vec<u8>>, CertificateError> {
    let blocks = ctl_format::pem_decode_all(pem, label)?;
    let mut zeroizing: Vec<Zeroizing<Vec<u8>>> = blocks.into_iter().map(Zeroizing::new).collect();
    Ok(if zeroizing.is_empty() {
        Zeroizing::new(Vec::new())
    } else {
        zeroizing.swap_remove(0)
    })
}

fn decode_key(pem: &[u8], what: &str) -> Result<rsa::PrivateKey, Error> {
    let labels = ctl_format::pem_labels(pem);
    let invalid = |e: &dyn fmt::Display| Error::InvalidKey {
        what: what.to_owned(),
        reason: e.to_string(),
    };
    let cert_err = |source| Error::Certificate {
        what: what.to_owned(),
        source,
    };
    for label in &labels {
        match label.as_str() {
            "PRIVATE KEY" => {
                let der = first_block(pem, label).map_err(cert_err)?;
                let info = rsa::pkcs8::PrivateKeyInfoRef::try_from(der.as_slice())
                    .map_err(|e| invalid(&e))?;
                let algorithm = match info.algorithm.oid.to_string().as_str() {
                    RSA_ENCRYPTION => {
                        return rsa::PrivateKey::from_pkcs8_der(&der).map_err(|e| invalid(&e));
                    }
                    EC_PUBLIC_KEY => "EC",
                    ED25519 => "Ed25519",
                    _ => "not RSA",
                };
                return Err(Error::KeyNotRsa {
                    what: what.to_owned(),
                    algorithm,
                });
            }
            "RSA PRIVATE KEY" => {
                let der = first_block(pem, label).map_err(cert_err)?;
                return rsa::PrivateKey::from_pkcs1_der(&der).map_err(|e| invalid(&e));
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(Error::EncryptedKey {
                    what: what.to_owned(),
                });
            }
            "EC PRIVATE KEY" => {
                return Err(Error::KeyNotRsa {
                    what: what.to_owned(),
                    algorithm: "EC",
                });
            }
            _ => {}
        }
    }
    Err(Error::NoKey {
        what: what.to_owned(),
    })
}

impl Signer for SoftwareSigner {
    fn certificate(&self) -> &[u8] {
        &self.cert
    }

    fn sign(&self, digest: DigestAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let sig = match digest {
            DigestAlgorithm::Sha1 => self.key.pkcs1v15_sign::<sha1::Sha1>(message),
            DigestAlgorithm::Sha256 => self.key.pkcs1v15_sign::<sha2::Sha256>(message),
            DigestAlgorithm::Sha512 => self.key.pkcs1v15_sign::<sha2::Sha512>(message),
            _ => return Err(format!("digest {digest} is not supported").into()),
        };
        sig.map_err(|e| format!("RSA signing failed: {e}").into())
    }
}
