#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod build;
mod cert;
mod document;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod lint;
mod parse;
mod reader;
pub mod tag;
mod types;
mod verify;

pub use build::{Layout, RecordSpec, SignedFileBuilder, Signer, SignerError, TrustListBuilder};
pub use cert::{
    Certificate, CertificateError, NameStyle, PublicKey, pem_decode_all, pem_encode, pem_labels,
};
pub use document::{
    Document, Element, FileKind, Header, HeaderItem, HeaderItems, MAX_OVERSIZE, ParseOptions,
    Record, RecordElements,
};
pub use error::{BuildError, Error, ErrorKind, What};
pub use lint::{Linter, ListKind, Warning, lint};
pub use parse::{parse, parse_signed, parse_trust_list, parse_with};
pub use tag::{Tag, TagSpace};
pub use types::{
    DigestAlgorithm, Role, UnknownName, Version, format_utc, hex, io_words, printable,
    serials_equal,
};
pub use verify::{
    Acceptance, Refusal, RsaVerifier, Verified, Verifier, VerifyError, modulus_code, phone_accepts,
};

/// The largest trust list phones load, and the largest this crate writes: 64 KiB.
pub const MAX_LEN: usize = 64 * 1024;

/// A record of a 2048-bit RSA certificate stays under this many bytes in every layout
/// (the largest in the golden vectors has 1,687): what "room for N more records" counts.
pub const RECORD_2048_BOUND: usize = 1750;

/// How many more records of 2048-bit certificates fit under [`MAX_LEN`] beside a list of
/// `len` bytes.
pub const fn room_for_records(len: usize) -> usize {
    MAX_LEN.saturating_sub(len) / RECORD_2048_BOUND
}
