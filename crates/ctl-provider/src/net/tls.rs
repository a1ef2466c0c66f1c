//! TLS for both ends: rustls configurations (TLS 1.3, 1.2 allowed), the pinning verifier
//! that asks a [`CertPolicy`], client identities (a key file, or a key kept on a token).

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::NetError;
use crate::trust::{CertPolicy, fingerprint, fingerprint_text};

/// Why a client key kept elsewhere could not sign a handshake.
#[derive(Debug, thiserror::Error)]
#[error("the TLS client key: {0}")]
pub struct KeyError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// The ring crypto provider every config here uses.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS server config: TLS 1.3 and 1.2 only, with this certificate chain and PKCS#8 key.
///
/// # Errors
/// A key rustls cannot use.
pub fn server_tls(
    chain: Vec<Vec<u8>>,
    key_pkcs8: Vec<u8>,
) -> Result<Arc<rustls::ServerConfig>, NetError> {
    let certs = chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8));
    let config = rustls::ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// Asks clients for a certificate without requiring one, and checks only that the client
/// holds its key: whose certificate it is, the node decides (a SAST of its current CTL).
#[derive(Debug)]
struct AnyClientCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl rustls::server::danger::ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS server config like [`server_tls`] that also asks clients for a certificate
/// (optional); sessions then see it in [`PeerInfo::client_certificate`](super::PeerInfo::client_certificate).
///
/// # Errors
/// A key rustls cannot use.
pub fn server_tls_with_client_certificates(
    chain: Vec<Vec<u8>>,
    key_pkcs8: Vec<u8>,
) -> Result<Arc<rustls::ServerConfig>, NetError> {
    let provider = crypto_provider();
    let verifier = Arc::new(AnyClientCertificate {
        algorithms: provider.signature_verification_algorithms,
    });
    let certs = chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct PinningVerifier {
    policy: Arc<dyn CertPolicy>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let name = match server_name {
            ServerName::DnsName(d) => d.as_ref().to_owned(),
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            _ => "the server".to_owned(),
        };
        // The refusal travels typed inside the rustls error; Session::connect takes it out.
        self.policy
            .check(&name, end_entity.as_ref())
            .map(|()| ServerCertVerified::assertion())
            .map_err(|u| {
                rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
                    rustls::OtherError(Arc::new(u)),
                ))
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS client config that trusts provider certificates by `policy`.
///
/// # Errors
/// A rustls configuration error.
pub fn client_tls(policy: Arc<dyn CertPolicy>) -> Result<Arc<rustls::ClientConfig>, NetError> {
    client_tls_with_identity(policy, None)
}

/// A TLS client config that trusts provider certificates by `policy` and, when given,
/// authenticates with a certificate chain and its PKCS#8 key (a SAST identity, for nodes
/// that require one to stage and commit).
///
/// # Errors
/// A key rustls cannot use.
pub fn client_tls_with_identity(
    policy: Arc<dyn CertPolicy>,
    identity: Option<(Vec<Vec<u8>>, Vec<u8>)>,
) -> Result<Arc<rustls::ClientConfig>, NetError> {
    let identity = identity.map(|(chain, key)| ClientIdentity::Pkcs8 {
        chain,
        key: zeroize::Zeroizing::new(key),
    });
    client_tls_for(policy, identity.as_ref())
}

/// A signature a TLS handshake asks of a client key kept elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyScheme {
    /// RSASSA-PSS with SHA-256 (MGF1 SHA-256, 32-byte salt): TLS 1.3 and 1.2.
    RsaPssSha256,
    /// RSASSA-PKCS1-v1_5 with SHA-256: TLS 1.2 only.
    RsaPkcs1Sha256,
}

/// An RSA client key that signs TLS handshakes where it lives (a PKCS#11 token): the
/// private key never reaches this process. The call blocks for as long as the key takes.
pub trait TlsKey: Send + Sync + fmt::Debug {
    /// Signs `message` with `scheme`.
    ///
    /// # Errors
    /// The key cannot sign.
    fn sign(&self, scheme: KeyScheme, message: &[u8]) -> Result<Vec<u8>, KeyError>;

    /// The schemes it can sign with. Without RSASSA-PSS the client speaks TLS 1.2 only,
    /// where PKCS #1 v1.5 signatures are allowed.
    fn schemes(&self) -> Vec<KeyScheme> {
        vec![KeyScheme::RsaPssSha256, KeyScheme::RsaPkcs1Sha256]
    }
}

/// How a client authenticates its TLS sessions (nodes may require a SAST certificate).
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientIdentity {
    /// A certificate chain (DER, leaf first) and its PKCS #8 private key.
    Pkcs8 {
        /// The chain.
        chain: Vec<Vec<u8>>,
        /// The key, zeroized when dropped.
        key: zeroize::Zeroizing<Vec<u8>>,
    },
    /// A certificate chain and a key that signs where it lives.
    External {
        /// The chain.
        chain: Vec<Vec<u8>>,
        /// The key.
        key: Arc<dyn TlsKey>,
    },
}

impl ClientIdentity {
    /// The leaf certificate (DER).
    pub fn certificate(&self) -> Option<&[u8]> {
        match self {
            Self::Pkcs8 { chain, .. } | Self::External { chain, .. } => {
                chain.first().map(Vec::as_slice)
            }
        }
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, key) = match self {
            Self::Pkcs8 { .. } => ("Pkcs8", "<redacted>".to_owned()),
            Self::External { key, .. } => ("External", format!("{key:?}")),
        };
        f.debug_struct("ClientIdentity")
            .field("kind", &kind)
            .field(
                "certificate_sha256",
                &self
                    .certificate()
                    .map(|c| fingerprint_text(&fingerprint(c))),
            )
            .field("key", &key)
            .finish()
    }
}

/// The rustls side of an [`ClientIdentity::External`] key.
#[derive(Debug)]
struct ExternalKey(Arc<dyn TlsKey>);

#[derive(Debug)]
struct ExternalSigner {
    key: Arc<dyn TlsKey>,
    scheme: SignatureScheme,
    ours: KeyScheme,
}

impl rustls::sign::SigningKey for ExternalKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
        let ours = self.0.schemes();
        [
            (SignatureScheme::RSA_PSS_SHA256, KeyScheme::RsaPssSha256),
            (SignatureScheme::RSA_PKCS1_SHA256, KeyScheme::RsaPkcs1Sha256),
        ]
        .into_iter()
        .find(|(s, k)| offered.contains(s) && ours.contains(k))
        .map(|(scheme, ours)| {
            Box::new(ExternalSigner {
                key: Arc::clone(&self.0),
                scheme,
                ours,
            }) as Box<dyn rustls::sign::Signer>
        })
    }

    fn algorithm(&self) -> rustls::SignatureAlgorithm {
        rustls::SignatureAlgorithm::RSA
    }
}

impl rustls::sign::Signer for ExternalSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        self.key
            .sign(self.ours, message)
            .map_err(|e| rustls::Error::Other(rustls::OtherError(Arc::new(e))))
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// Always presents the same certificate and key.
#[derive(Debug)]
struct Presents(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for Presents {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A TLS client config that trusts provider certificates by `policy` and authenticates
/// with `identity` when given.
///
/// # Errors
/// A key rustls cannot use.
pub fn client_tls_for(
    policy: Arc<dyn CertPolicy>,
    identity: Option<&ClientIdentity>,
) -> Result<Arc<rustls::ClientConfig>, NetError> {
    let provider = crypto_provider();
    let verifier = Arc::new(PinningVerifier {
        policy,
        algorithms: provider.signature_verification_algorithms,
    });
    // TLS 1.3 signs only with RSASSA-PSS; a key that cannot stays on TLS 1.2.
    let versions: &[&rustls::SupportedProtocolVersion] = match identity {
        Some(ClientIdentity::External { key, .. })
            if !key.schemes().contains(&KeyScheme::RsaPssSha256) =>
        {
            &[&rustls::version::TLS12]
        }
        _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(ClientIdentity::Pkcs8 { chain, key }) => builder.with_client_auth_cert(
            chain.iter().cloned().map(CertificateDer::from).collect(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec())),
        )?,
        Some(ClientIdentity::External { chain, key }) => {
            let certified = rustls::sign::CertifiedKey::new(
                chain.iter().cloned().map(CertificateDer::from).collect(),
                Arc::new(ExternalKey(Arc::clone(key))),
            );
            builder.with_client_cert_resolver(Arc::new(Presents(Arc::new(certified))))
        }
    };
    Ok(Arc::new(config))
}
