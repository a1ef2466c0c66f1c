//! TLS client identities: the SAST token's key authenticating the client's TLS sessions,
//! as the Cisco guide has the eToken authenticate the CTL Client to the CTL Provider.

use std::sync::Arc;

use ctl_format::Signer as _;
use ctl_provider::net::{ClientIdentity, KeyError, KeyScheme, TlsKey};

use crate::Error;

/// The TLS identity of a key on a PKCS#11 token: the token signs the handshakes
/// (RSASSA-PSS in TLS 1.3; PKCS #1 v1.5 in TLS 1.2), the key never leaves it.
pub fn token_identity(signer: Arc<ctl_token::TokenSigner>) -> ClientIdentity {
    ClientIdentity::External {
        chain: vec![signer.certificate().to_vec()],
        key: Arc::new(TokenTlsKey(signer)),
    }
}

/// The TLS identity of a software key (its certificate and PKCS #8 key).
///
/// # Errors
/// The key cannot be encoded.
pub fn software_identity(signer: &ctl_token::SoftwareSigner) -> Result<ClientIdentity, Error> {
    let key = signer.pkcs8_der()?;
    Ok(ClientIdentity::Pkcs8 {
        chain: vec![signer.certificate().to_vec()],
        key,
    })
}

/// A security token as the workflows take it: it signs the CTL and, unless the client is
/// told otherwise, authenticates the TLS sessions of the workflow (the Cisco model: nodes
/// let only a SAST of their CTL change anything). Implemented for PKCS#11 and software
/// signers; another [`Signer`](ctl_format::Signer) implements it with `impl Token for S {}`
/// (no TLS identity: the client then logs in with the password alone, unless the builder
/// was given one).
pub trait Token: ctl_format::Signer + Send + Sync {
    /// The TLS client identity of this token's key, if it has one.
    fn tls_identity(self: Arc<Self>) -> Option<ClientIdentity> {
        None
    }
}

impl Token for ctl_token::TokenSigner {
    fn tls_identity(self: Arc<Self>) -> Option<ClientIdentity> {
        Some(token_identity(self))
    }
}

impl Token for ctl_token::SoftwareSigner {
    fn tls_identity(self: Arc<Self>) -> Option<ClientIdentity> {
        software_identity(&self).ok()
    }
}

/// A token key as rustls's client key, through the protocol crate's [`TlsKey`].
#[derive(Debug)]
struct TokenTlsKey(Arc<ctl_token::TokenSigner>);

/// The token's name for a TLS scheme, and back.
const SCHEMES: [(KeyScheme, ctl_token::TlsScheme); 2] = [
    (KeyScheme::RsaPssSha256, ctl_token::TlsScheme::RsaPssSha256),
    (
        KeyScheme::RsaPkcs1Sha256,
        ctl_token::TlsScheme::RsaPkcs1Sha256,
    ),
];

impl TlsKey for TokenTlsKey {
    fn sign(&self, scheme: KeyScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let (_, ours) = SCHEMES
            .iter()
            .find(|(k, _)| *k == scheme)
            .ok_or_else(|| KeyError("a TLS signature scheme the token does not offer".into()))?;
        self.0
            .sign_tls(*ours, message)
            .map_err(|e| KeyError(Box::new(e)))
    }

    fn schemes(&self) -> Vec<KeyScheme> {
        let offered = self.0.tls_schemes();
        SCHEMES
            .iter()
            .filter(|(_, t)| offered.contains(t))
            .map(|(k, _)| *k)
            .collect()
    }
}
