//! Signers for Cisco trust lists and signed files.
//!
//! A signer holds an RSA private key and its certificate and implements
//! [`ctl_format::Signer`]. This crate has the software signer, over a PEM key file
//! (PKCS#8 or PKCS#1); PKCS#11 tokens (eTokens, YubiKeys, HSMs) come next.
//!
//! It does **not** build or parse CTL files (that is `ctl-format`), and it never
//! writes key material to logs, errors or `Debug` output.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
pub mod pkcs11;
mod software;

pub use error::Error;
pub use pkcs11::signer::{SignerOptions, TlsScheme, TokenSigner};
pub use pkcs11::uri::{ObjectType, Pkcs11Uri, UriError};
pub use software::SoftwareSigner;
