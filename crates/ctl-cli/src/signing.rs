//! Signers and certificates from what the user names: a `pkcs11:` URI (a token) or a
//! PEM/DER file. `build`, `sign` and the cluster workflows all load them here.

use std::path::Path;
use std::sync::Arc;

use ctl_client::SharedSigner;
use ctl_format::Certificate;
use ctl_token::{Pkcs11Uri, SignerOptions, SoftwareSigner, TokenSigner};

use crate::failure::Failure;
use crate::files::read_certificate;

/// Whether an argument names a token.
pub(crate) fn is_uri(text: &str) -> bool {
    text.starts_with("pkcs11:")
}

/// A `pkcs11:` URI argument.
pub(crate) fn parse_uri(text: &str) -> Result<Pkcs11Uri, Failure> {
    text.parse().map_err(|e: ctl_token::UriError| {
        Failure::usage(format!("{}: {e}", ctl_token::redact_uri_text(text)))
    })
}

/// The certificate an argument names: read from its token (no PIN needed) or its file.
pub(crate) fn certificate(arg: &str) -> Result<Certificate, Failure> {
    if is_uri(arg) {
        let uri = parse_uri(arg)?;
        let der = ctl_token::pkcs11::certificate_for(&uri)?;
        // The parsed URI displays without its PIN.
        return Certificate::from_der(&der).map_err(|e| Failure::usage(format!("{uri}: {e}")));
    }
    read_certificate(Path::new(arg))
}

/// An open signer: a key on a token, or a software key.
#[derive(Debug, Clone)]
pub(crate) enum Signing {
    /// A key on a PKCS#11 token.
    Token(Arc<TokenSigner>),
    /// A key from a file.
    Software(Arc<SoftwareSigner>),
}

impl Signing {
    /// As the signer the workflows and builders take.
    pub(crate) fn shared(&self) -> SharedSigner {
        match self {
            Self::Token(t) => Arc::clone(t) as SharedSigner,
            Self::Software(s) => Arc::clone(s) as SharedSigner,
        }
    }
}

/// Opens the signer `source` names: a token by URI (its PIN from the URI or the
/// terminal), else a key file, whose certificate is `cert`, or in the file, or among
/// `candidates`.
pub(crate) fn open(
    source: &str,
    cert: Option<&Path>,
    candidates: &[Certificate],
    allow_factory_pin: bool,
) -> Result<Signing, Failure> {
    if is_uri(source) {
        if cert.is_some() {
            return Err(Failure::usage(
                "--cert is for a key file; a token's key signs with the certificate beside it on the token",
            ));
        }
        // The command line asks for a PIN no URI gives (the library never does by itself).
        let options = SignerOptions {
            allow_factory_pin,
            prompt: true,
            ..SignerOptions::default()
        };
        let signer = TokenSigner::open(&parse_uri(source)?, &options)?;
        return Ok(Signing::Token(Arc::new(signer)));
    }
    let signer = match cert {
        Some(cert) => SoftwareSigner::from_files(Path::new(source), Some(cert))?,
        None => SoftwareSigner::from_key_file_matching(Path::new(source), candidates)?,
    };
    Ok(Signing::Software(Arc::new(signer)))
}
