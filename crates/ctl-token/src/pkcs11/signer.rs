//! [`TokenSigner`]: signs CTL files with a private key that never leaves its token.

use std::fmt;
use std::sync::Mutex;

use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use ctl_format::{DigestAlgorithm, Signer, SignerError};
use secrecy::{ExposeSecret as _, SecretString};

use super::mechanisms::{self, Mechanisms, PssRoute};
use super::pin::{DEFAULT_FACTORY_PINS, resolve};
use super::uri::Pkcs11Uri;
use super::{KeyEntry, Token, TokenSummary, select_token};
use crate::Error;

/// How to open a [`TokenSigner`].
#[derive(Clone)]
pub struct SignerOptions {
    /// The PIN, when the caller has it (else the URI's `pin-value`, `pin-source`, or the terminal).
    pub pin: Option<SecretString>,
    /// Ask for the PIN on the terminal when no other source gives it (off by default: a
    /// library does not talk to the terminal unless its caller says so; `ctl` turns it on).
    pub prompt: bool,
    /// PINs that count as factory PINs (default: `Cisco123`).
    pub factory_pins: Vec<String>,
    /// Sign even with a factory PIN (labs only).
    pub allow_factory_pin: bool,
    /// Always sign with CKM_RSA_PKCS over a DigestInfo built here, and RSASSA-PSS with
    /// CKM_RSA_X_509 over an encoding built here, as for tokens without the hashed and
    /// PSS mechanisms.
    pub force_raw_rsa: bool,
}

impl Default for SignerOptions {
    fn default() -> Self {
        Self {
            pin: None,
            prompt: false,
            factory_pins: DEFAULT_FACTORY_PINS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            allow_factory_pin: false,
            force_raw_rsa: false,
        }
    }
}

impl fmt::Debug for SignerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerOptions")
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .field("prompt", &self.prompt)
            .field(
                "factory_pins",
                &format_args!("<{} redacted>", self.factory_pins.len()),
            )
            .field("allow_factory_pin", &self.allow_factory_pin)
            .field("force_raw_rsa", &self.force_raw_rsa)
            .finish()
    }
}

/// A signer over a key on a PKCS#11 token. `Send + Sync`: the session sits behind a
/// mutex, so several threads may share it; each signature takes the session in turn.
pub struct TokenSigner {
    token: TokenSummary,
    session: Mutex<Session>,
    key: ObjectHandle,
    key_label: String,
    certificate: Vec<u8>,
    key_bits: Option<usize>,
    /// What the token signs with for this key; a mechanism it refuses is dropped.
    mechanisms: Mutex<Mechanisms>,
    force_raw: bool,
}

/// A signature a TLS handshake asks of a client key (TLS client authentication with a
/// key on the token: RSASSA-PSS in TLS 1.3, PKCS #1 v1.5 allowed in TLS 1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsScheme {
    /// RSASSA-PSS, SHA-256, MGF1 with SHA-256, a 32-byte salt.
    RsaPssSha256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsaPkcs1Sha256,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSigner")
            .field("token", &self.token.to_string())
            .field("key", &self.key_label)
            .finish_non_exhaustive()
    }
}

/// The DER DigestInfo prefix of each digest (RFC 8017, section 9.2, note 1).
fn digest_info_prefix(digest: DigestAlgorithm) -> Option<&'static [u8]> {
    Some(match digest {
        DigestAlgorithm::Sha1 => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        DigestAlgorithm::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        DigestAlgorithm::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
        _ => return None,
    })
}

/// The DigestInfo that CKM_RSA_PKCS signs for `digest` of `message`.
pub fn digest_info(digest: DigestAlgorithm, message: &[u8]) -> Option<Vec<u8>> {
    let prefix = digest_info_prefix(digest)?;
    let mut out = prefix.to_vec();
    out.extend_from_slice(&digest.digest(&[message]));
    Some(out)
}

impl TokenSigner {
    /// Opens the token the URI names, logs in, and finds the RSA key and the
    /// certificate that share a CKA_ID.
    ///
    /// ```no_run
    /// use ctl_token::{Pkcs11Uri, SignerOptions, TokenSigner};
    ///
    /// let uri: Pkcs11Uri = "pkcs11:token=SAST-1;object=signer?pin-source=file:/etc/ctl/sast1.pin".parse()?;
    /// // Without module-path: CTL_PKCS11_MODULE, else the well-known modules present.
    /// let signer = TokenSigner::open(&uri, &SignerOptions::default())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// No or several tokens; a wrong, low, final or locked PIN; a factory PIN;
    /// no key, several keys, a key without certificate, a key that is not RSA.
    pub fn open(uri: &Pkcs11Uri, options: &SignerOptions) -> Result<Self, Error> {
        let mut token = select_token(uri)?;
        let name = token.name();
        let pin = resolve(
            uri,
            options.pin.as_ref(),
            &token.summary().label,
            options.prompt,
        )?;
        let session = token.open_session()?;
        token.login(&session, &pin)?;
        let factory = options
            .factory_pins
            .iter()
            .any(|f| f.as_str() == pin.expose_secret());
        if (factory || token.summary().flags.user_pin_to_be_changed) && !options.allow_factory_pin {
            return Err(Error::FactoryPin { token: name });
        }
        let entry = find_key(&token, &session, uri)?;
        let key = entry
            .private_key
            .ok_or_else(|| Error::Internal("key handle".into()))?;
        let certificate = entry
            .certificate
            .clone()
            .ok_or_else(|| Error::CertificateNotFound {
                token: name.clone(),
                key: entry.describe(),
            })?;
        let mechanisms = Mechanisms::probe(&token, entry.key_bits)?;
        Ok(Self {
            token: token.summary().clone(),
            session: Mutex::new(session),
            key,
            key_label: entry.describe(),
            certificate,
            key_bits: entry.key_bits,
            mechanisms: Mutex::new(mechanisms),
            force_raw: options.force_raw_rsa,
        })
    }

    /// The token this signer uses.
    pub const fn token(&self) -> &TokenSummary {
        &self.token
    }

    /// Signs, returning the token's error as it is.
    ///
    /// # Errors
    /// The token went away, or refused the operation.
    pub fn sign_with_token(
        &self,
        digest: DigestAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let name = self.token.to_string();
        let session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let hashed = mechanisms::hashed(digest).filter(|t| !self.force_raw && self.uses(*t));
        if let Some(t) = hashed {
            let mechanism = match digest {
                DigestAlgorithm::Sha1 => Mechanism::Sha1RsaPkcs,
                DigestAlgorithm::Sha256 => Mechanism::Sha256RsaPkcs,
                _ => Mechanism::Sha512RsaPkcs,
            };
            match session.sign(&mechanism, self.key, message) {
                Ok(signature) => return Ok(signature),
                // Listed, but not for this key: the DigestInfo route from now on.
                Err(e) if mechanisms::is_mechanism_refusal(&e) => self.refuse(t),
                Err(e) => return Err(super::token_error(&name, "C_Sign", e)),
            }
        }
        let info = digest_info(digest, message)
            .ok_or_else(|| Error::Unsupported(format!("digest {digest} on a token")))?;
        session
            .sign(&Mechanism::RsaPkcs, self.key, &info)
            .map_err(|e| super::token_error(&name, "C_Sign", e))
    }

    fn uses(&self, mechanism: MechanismType) -> bool {
        self.mechanisms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .has(mechanism)
    }

    fn refuse(&self, mechanism: MechanismType) {
        self.mechanisms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .refused(mechanism);
    }

    fn pss_route(&self) -> Option<PssRoute> {
        if self.force_raw {
            return self.uses(MechanismType::RSA_X_509).then_some(PssRoute::Raw);
        }
        self.mechanisms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pss()
    }

    /// The signing mechanisms the token offers for this key, by their PKCS#11 names.
    pub fn mechanisms(&self) -> Vec<String> {
        self.mechanisms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .names()
    }

    /// The TLS signatures this token can make (PKCS #1 v1.5 always; RSASSA-PSS when the
    /// token has a PSS mechanism or signs raw).
    pub fn tls_schemes(&self) -> Vec<TlsScheme> {
        let mut out = Vec::new();
        if self.pss_route().is_some() {
            out.push(TlsScheme::RsaPssSha256);
        }
        out.push(TlsScheme::RsaPkcs1Sha256);
        out
    }

    /// Signs a TLS handshake message (TLS client authentication with the token's key).
    ///
    /// # Errors
    /// The token went away, refused the operation, or cannot make that signature.
    pub fn sign_tls(&self, scheme: TlsScheme, message: &[u8]) -> Result<Vec<u8>, Error> {
        if scheme == TlsScheme::RsaPkcs1Sha256 {
            return self.sign_with_token(DigestAlgorithm::Sha256, message);
        }
        let params = cryptoki::mechanism::rsa::PkcsPssParams {
            hash_alg: MechanismType::SHA256,
            mgf: cryptoki::mechanism::rsa::PkcsMgfType::MGF1_SHA256,
            s_len: cryptoki::types::Ulong::from(32u64),
        };
        let (mechanism, input) = match self.pss_route() {
            Some(PssRoute::Hashed) => (Mechanism::Sha256RsaPkcsPss(params), message.to_vec()),
            Some(PssRoute::OverDigest) => (
                Mechanism::RsaPkcsPss(params),
                DigestAlgorithm::Sha256.digest(&[message]),
            ),
            Some(PssRoute::Raw) => {
                let bits = self.key_bits.ok_or_else(|| {
                    Error::Unsupported(format!(
                        "token {} does not say the size of key {}, which a raw RSASSA-PSS signature needs",
                        self.token, self.key_label
                    ))
                })?;
                let mut salt = [0u8; 32];
                getrandom::fill(&mut salt)
                    .map_err(|e| Error::Internal(format!("random salt: {e}")))?;
                (
                    Mechanism::RsaX509,
                    mechanisms::pss_encode(message, &salt, bits)?,
                )
            }
            None => {
                return Err(Error::Unsupported(format!(
                    "token {} cannot make RSASSA-PSS signatures, which TLS 1.3 client authentication needs",
                    self.token
                )));
            }
        };
        let session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        session
            .sign(&mechanism, self.key, &input)
            .map_err(|e| super::token_error(&self.token.to_string(), "C_Sign", e))
    }

    /// Signs on a blocking thread of the tokio runtime, so async callers are not held up by the token.
    ///
    /// # Errors
    /// See [`sign_with_token`](Self::sign_with_token).
    #[cfg(feature = "tokio")]
    pub async fn sign_async(
        self: &std::sync::Arc<Self>,
        digest: DigestAlgorithm,
        message: Vec<u8>,
    ) -> Result<Vec<u8>, Error> {
        let this = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || this.sign_with_token(digest, &message))
            .await
            .map_err(|e| Error::Internal(format!("signing thread: {e}")))?
    }
}

impl Signer for TokenSigner {
    fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    fn sign(&self, digest: DigestAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.sign_with_token(digest, message).map_err(Into::into)
    }
}

/// The one RSA key with a certificate the URI names on the token.
fn find_key(token: &Token, session: &Session, uri: &Pkcs11Uri) -> Result<KeyEntry, Error> {
    let name = token.name();
    let entries = token.objects(session)?;
    let matching: Vec<&KeyEntry> = entries.iter().filter(|e| e.matches(uri)).collect();
    let with_key: Vec<&KeyEntry> = matching
        .iter()
        .copied()
        .filter(|e| e.private_key.is_some())
        .collect();
    match with_key.as_slice() {
        [one] => {
            let entry = (*one).clone();
            if entry.key_type.as_deref() != Some("RSA") {
                return Err(Error::TokenKeyNotRsa {
                    token: name,
                    key: entry.describe(),
                    key_type: entry
                        .key_type
                        .unwrap_or_else(|| "of unknown type".to_owned()),
                });
            }
            if entry.certificate.is_none() {
                return Err(Error::CertificateNotFound {
                    token: name,
                    key: entry.describe(),
                });
            }
            Ok(entry)
        }
        [] => {
            let what = match matching.iter().find(|e| e.certificate.is_some()) {
                Some(cert) => format!(
                    "certificate {} has no private key with the same CKA_ID",
                    cert.describe()
                ),
                None => format!(
                    "no private key matches {uri}; on the token: {}",
                    super::inventory(&entries)
                ),
            };
            Err(Error::KeyNotFound { token: name, what })
        }
        several => Err(Error::AmbiguousKey {
            token: name,
            keys: several.iter().map(|e| e.describe()).collect(),
        }),
    }
}
