//! Signers for Cisco trust lists and signed files.
//!
//! A signer holds an RSA private key and its certificate and implements
//! [`ctl_format::Signer`]: [`TokenSigner`] signs on a PKCS#11 token (SafeNet eTokens,
//! YubiKeys, HSMs, SoftHSM2) named by an RFC 7512 `pkcs11:` URI, [`SoftwareSigner`] over
//! a PEM key file (PKCS#8 or PKCS#1). [`pkcs11`] also lists tokens, waits for the next one
//! and collects tokens one at a time ([`pkcs11::collect`]); feature `lab` creates tokens
//! and keys (SoftHSM2, labs), feature `prompt` asks for PINs on the terminal.
//!
//! It does **not** build or parse CTL files (that is `ctl-format`), and it never
//! writes key material to logs, errors or `Debug` output.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
pub mod pkcs11;
mod software;

pub use error::Error;
pub use pkcs11::signer::{SignerOptions, TlsScheme, TokenSigner};
pub use pkcs11::uri::{ObjectType, Pkcs11Uri, UriError, redact_uri_text};
pub use software::SoftwareSigner;
