//! The manifest's keys: their certificates (read without a PIN, for checks), the
//! signers (opened only when something must be signed), and new software keys.

use std::path::Path;
use std::sync::Arc;

use ctl_format::{Certificate, Signer};
use ctl_token::{SignerOptions, SoftwareSigner, TokenSigner};

use crate::error::ProvisionError;
use crate::fsutil;
use crate::manifest::KeySource;

/// Key and certificate files are small.
const MAX_CERT_FILE: u64 = 1024 * 1024;

/// A signer the workers share.
pub type SharedSigner = Arc<dyn Signer + Send + Sync>;

/// A key the manifest names, with its certificate.
#[derive(Debug)]
pub(crate) struct Key {
    /// The manifest entry (`sast[0]`, `tftp`).
    pub(crate) what: String,
    pub(crate) source: KeySource,
    pub(crate) cert: Certificate,
}

impl Key {
    /// Reads the certificate of `source` (no PIN, no private key).
    pub(crate) fn certificate(what: &str, source: &KeySource) -> Result<Self, ProvisionError> {
        let cert = match source {
            KeySource::Token(uri) => {
                let der =
                    ctl_token::pkcs11::certificate_for(uri).map_err(|e| ProvisionError::Key {
                        what: what.to_owned(),
                        source: Box::new(e),
                    })?;
                Certificate::from_der(&der).map_err(|e| ProvisionError::Certificate {
                    what: what.to_owned(),
                    path: uri.to_string().into(),
                    reason: e.to_string(),
                })?
            }
            KeySource::Pem(p) | KeySource::Split { cert: p, .. } => read_certificate(what, p)?,
        };
        Ok(Self {
            what: what.to_owned(),
            source: source.clone(),
            cert,
        })
    }

    /// Opens the signer (a token asks for its PIN as `options` say).
    pub(crate) fn open(&self, options: &SignerOptions) -> Result<SharedSigner, ProvisionError> {
        let key = |source| ProvisionError::Key {
            what: self.what.clone(),
            source: Box::new(source),
        };
        let signer: SharedSigner = match &self.source {
            KeySource::Token(uri) => Arc::new(TokenSigner::open(uri, options).map_err(key)?),
            KeySource::Pem(p) => Arc::new(SoftwareSigner::from_files(p, None).map_err(key)?),
            KeySource::Split { key: k, cert } => {
                Arc::new(SoftwareSigner::from_files(k, Some(cert)).map_err(key)?)
            }
        };
        if signer.certificate() != self.cert.der() {
            return Err(ProvisionError::Certificate {
                what: self.what.clone(),
                path: self.source.to_string().into(),
                reason: "the certificate changed while the run read it".into(),
            });
        }
        Ok(signer)
    }
}

/// Reads a certificate file (PEM: the first CERTIFICATE block; or DER).
pub(crate) fn read_certificate(what: &str, path: &Path) -> Result<Certificate, ProvisionError> {
    let failed = |reason: String| ProvisionError::Certificate {
        what: what.to_owned(),
        path: path.to_owned(),
        reason,
    };
    let bytes = fsutil::read_capped(path, MAX_CERT_FILE)
        .map_err(|e| failed(ctl_format::io_words(&e).to_string()))?;
    Certificate::from_der_or_pem(&bytes).map_err(|e| failed(e.to_string()))
}

/// What [`generate_missing`] did for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyOutcome {
    /// A new key and certificate were written (the key with mode 0600).
    Generated {
        /// The manifest entry.
        what: String,
        /// The file(s) written.
        files: Vec<String>,
    },
    /// The key exists and was left alone.
    Exists {
        /// The manifest entry.
        what: String,
    },
    /// A token key, which only the token can make (`ctl token init` in a lab).
    OnToken {
        /// The manifest entry.
        what: String,
    },
}

/// Generates the software keys `keys` name that do not exist yet: RSA-2048 with a
/// self-signed certificate named after the file, written once with their final mode.
///
/// # Errors
/// A half-present pair (a key without its certificate or the reverse), generation or
/// I/O errors.
pub fn generate_missing(keys: &[(String, KeySource)]) -> Result<Vec<KeyOutcome>, ProvisionError> {
    let mut out = Vec::with_capacity(keys.len());
    for (what, source) in keys {
        let generate = |path: &Path| {
            let name = path
                .file_stem()
                .map_or_else(|| what.clone(), |s| s.to_string_lossy().into_owned());
            SoftwareSigner::generate(&name, "ctl provision", 2048).map_err(|e| {
                ProvisionError::Key {
                    what: what.clone(),
                    source: Box::new(e),
                }
            })
        };
        let pem = |signer: &SoftwareSigner| {
            signer.to_pem().map_err(|e| ProvisionError::Key {
                what: what.clone(),
                source: Box::new(e),
            })
        };
        match source {
            KeySource::Token(_) => out.push(KeyOutcome::OnToken { what: what.clone() }),
            KeySource::Pem(p) if p.symlink_metadata().is_ok() => {
                out.push(KeyOutcome::Exists { what: what.clone() });
            }
            KeySource::Pem(p) => {
                let signer = generate(p)?;
                fsutil::create_new(p, pem(&signer)?.as_bytes(), 0o600)?;
                out.push(KeyOutcome::Generated {
                    what: what.clone(),
                    files: vec![p.display().to_string()],
                });
            }
            KeySource::Split { key, cert } => {
                match (
                    key.symlink_metadata().is_ok(),
                    cert.symlink_metadata().is_ok(),
                ) {
                    (true, true) => out.push(KeyOutcome::Exists { what: what.clone() }),
                    (false, false) => {
                        let signer = generate(key)?;
                        let text = pem(&signer)?;
                        // The PEM text is the certificate, then the key.
                        let at = text.find("-----BEGIN PRIVATE KEY").unwrap_or(text.len());
                        let (cert_pem, key_pem) = text.split_at(at);
                        fsutil::create_new(key, key_pem.as_bytes(), 0o600)?;
                        fsutil::create_new(cert, cert_pem.as_bytes(), 0o644)?;
                        out.push(KeyOutcome::Generated {
                            what: what.clone(),
                            files: vec![key.display().to_string(), cert.display().to_string()],
                        });
                    }
                    (true, false) | (false, true) => {
                        return Err(ProvisionError::Source {
                            path: if cert.symlink_metadata().is_ok() {
                                key.clone()
                            } else {
                                cert.clone()
                            },
                            reason: format!(
                                "{what}: missing while its other half exists; not generated \
                                 (a new key would not match)"
                            ),
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}
