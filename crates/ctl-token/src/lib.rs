#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod pkcs11;
#[cfg(feature = "pkcs12")]
mod pkcs12;
mod software;

pub use error::Error;
pub use pkcs11::signer::{SignerOptions, TlsScheme, TokenSigner};
pub use pkcs11::uri::{ObjectType, Pkcs11Uri, UriError, redact_uri_text};
pub use software::SoftwareSigner;
