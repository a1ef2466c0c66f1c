//! The decoding error: what was expected, what was found, and where.

use core::fmt;

use crate::build::{Layout, SignerError};
use crate::tag::Tag;
use crate::types::Role;

/// A decoding error, with the byte offset in the input where it was found.
///
/// Its `Display` text names what was expected, what was found and the offset,
/// for example `header tag 8 (HASH_ALGORITHM): expected a 1-byte value, found 2 bytes at byte 166`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    offset: Option<usize>,
}

impl Error {
    pub(crate) const fn new(kind: ErrorKind, offset: usize) -> Self {
        Self {
            kind,
            offset: Some(offset),
        }
    }

    pub(crate) const fn without_offset(kind: ErrorKind) -> Self {
        Self { kind, offset: None }
    }

    /// What went wrong.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte offset in the input at which the problem starts, when it has one.
    pub const fn offset(&self) -> Option<usize> {
        self.offset
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "{} at byte {offset}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for Error {}

/// The kinds of decoding error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ends before an element does.
    Truncated {
        /// What was being read.
        what: What,
        /// Bytes the element needs.
        needed: usize,
        /// Bytes left in the input (or in the enclosing element).
        available: usize,
    },
    /// The input is over the size limit; nothing was parsed.
    TooLarge {
        /// Size of the input.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A tag other than the one the format requires at this place.
    UnexpectedTag {
        /// The tag required here.
        expected: Tag,
        /// The byte found instead.
        found: u8,
    },
    /// A fixed-size value with the wrong length.
    BadLength {
        /// The element.
        tag: Tag,
        /// The length the format defines (for IP addresses: 4; 16 is also accepted).
        expected: u16,
        /// The length found.
        found: u16,
    },
    /// A value that must not be empty is empty.
    EmptyValue {
        /// The element.
        tag: Tag,
    },
    /// A text value that does not end with its NUL byte.
    MissingNul {
        /// The element.
        tag: Tag,
        /// The last byte found instead of 0x00.
        found: u8,
    },
    /// A text value that is not UTF-8.
    NotUtf8 {
        /// The element.
        tag: Tag,
    },
    /// HEADER_LENGTH is not a multiple of 4.
    HeaderLengthNotAligned {
        /// The value found.
        header_length: u16,
    },
    /// HEADER_LENGTH is smaller than the VERSION and HEADER_LENGTH elements themselves.
    HeaderLengthTooSmall {
        /// The value found.
        header_length: u16,
    },
    /// HEADER_LENGTH points past the end of the file.
    HeaderLengthPastEnd {
        /// The value found.
        header_length: u16,
        /// Size of the file.
        file_len: usize,
    },
    /// An element crosses the end of its enclosing header, container or record.
    Overshoot {
        /// The element.
        tag: Tag,
        /// Where the element would end.
        end: usize,
        /// Where the enclosing section ends.
        limit: usize,
    },
    /// A record's RECORD_LENGTH is smaller than the RECORD_LENGTH element itself.
    RecordLengthTooSmall {
        /// The value found.
        found: u16,
    },
    /// A required element is absent.
    MissingElement {
        /// The element.
        tag: Tag,
    },
    /// An element that may appear only once appears twice.
    DuplicateTag {
        /// The element.
        tag: Tag,
        /// Offset of its first occurrence.
        first: usize,
    },
    /// A digest code this reader does not accept (SHA-256, code 2, needs [`ParseOptions::allow_sha256`](crate::ParseOptions)).
    UnsupportedDigest {
        /// The code found.
        code: u8,
    },
    /// A VERSION this reader does not know.
    UnsupportedVersion {
        /// Major version found.
        major: u8,
        /// Minor version found.
        minor: u8,
    },
    /// Containers nested deeper than the format ever does.
    NestingTooDeep {
        /// The container that is one level too deep.
        tag: Tag,
    },
    /// A padding byte inside a container.
    PaddingInContainer,
    /// The file has no record (a CTL or ITL needs at least one).
    NoRecords,
    /// An element with a tag this reader does not know ([`ParseOptions::strict`](crate::ParseOptions) only).
    UnknownTag {
        /// The tag.
        tag: Tag,
    },
    /// A padding byte before the last element of the header ([`ParseOptions::strict`](crate::ParseOptions) only).
    PaddingNotAtEnd,
}

/// What was being read when the input ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum What {
    /// A tag byte.
    TagByte,
    /// The 2-byte length after a tag.
    Length(Tag),
    /// The value of an element.
    Value(Tag),
    /// The header, up to HEADER_LENGTH.
    Header,
    /// A record, up to its RECORD_LENGTH.
    Record,
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TagByte => f.write_str("a tag byte"),
            Self::Length(tag) => write!(f, "the length of {tag}"),
            Self::Value(tag) => write!(f, "the value of {tag}"),
            Self::Header => f.write_str("the header"),
            Self::Record => f.write_str("a record"),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated {
                what,
                needed,
                available,
            } => write!(
                f,
                "truncated: expected {needed} bytes for {what}, found {available}"
            ),
            Self::TooLarge { len, limit } => {
                write!(
                    f,
                    "file too large: expected at most {limit} bytes, found {len}"
                )
            }
            Self::UnexpectedTag { expected, found } => {
                write!(
                    f,
                    "expected {expected}, found tag byte {found} (0x{found:02x})"
                )
            }
            Self::BadLength {
                tag,
                expected,
                found,
            } => {
                write!(
                    f,
                    "{tag}: expected a {expected}-byte value, found {found} bytes"
                )
            }
            Self::EmptyValue { tag } => write!(f, "{tag}: expected a value, found an empty one"),
            Self::MissingNul { tag, found } => write!(
                f,
                "{tag}: expected text ending in a NUL byte, found last byte 0x{found:02x}"
            ),
            Self::NotUtf8 { tag } => write!(f, "{tag}: expected UTF-8 text, found other bytes"),
            Self::HeaderLengthNotAligned { header_length } => write!(
                f,
                "HEADER_LENGTH: expected a multiple of 4, found {header_length}"
            ),
            Self::HeaderLengthTooSmall { header_length } => write!(
                f,
                "HEADER_LENGTH: expected at least 12 bytes, found {header_length}"
            ),
            Self::HeaderLengthPastEnd {
                header_length,
                file_len,
            } => write!(
                f,
                "HEADER_LENGTH: expected at most the file size {file_len}, found {header_length}"
            ),
            Self::Overshoot { tag, end, limit } => write!(
                f,
                "{tag} runs past its enclosing section: expected it to end by byte {limit}, it ends at byte {end}"
            ),
            Self::RecordLengthTooSmall { found } => {
                write!(f, "RECORD_LENGTH: expected at least 5 bytes, found {found}")
            }
            Self::MissingElement { tag } => write!(f, "expected {tag}, found none"),
            Self::DuplicateTag { tag, first } => write!(
                f,
                "{tag} appears twice: expected it once (first at byte {first})"
            ),
            Self::UnsupportedDigest { code } => write!(
                f,
                "HASH_ALGORITHM: expected 1 (SHA-1) or 3 (SHA-512){}, found {code}",
                if code == 2 {
                    " (SHA-256 needs the allow-sha256 option)"
                } else {
                    ""
                }
            ),
            Self::UnsupportedVersion { major, minor } => {
                write!(f, "VERSION: expected 1.x, found {major}.{minor}")
            }
            Self::NestingTooDeep { tag } => {
                write!(
                    f,
                    "{tag}: containers nested too deep (expected at most 3 levels)"
                )
            }
            Self::PaddingInContainer => {
                f.write_str("expected an element inside a container, found a padding byte")
            }
            Self::NoRecords => {
                f.write_str("expected at least one record after the header, found none")
            }
            Self::UnknownTag { tag } => {
                write!(f, "expected a documented tag (strict mode), found {tag}")
            }
            Self::PaddingNotAtEnd => f.write_str(
                "expected padding only at the end of the header (strict mode), found an element after it",
            ),
        }
    }
}

/// Why a file could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// The file would exceed the size limit.
    TooLarge {
        /// The size it would have.
        size: usize,
        /// The limit.
        limit: usize,
        /// The largest records: (index, role, encoded length), largest first.
        largest: Vec<(usize, Role, usize)>,
    },
    /// The signer's certificate cannot be read.
    SignerCertificate(crate::CertificateError),
    /// The signer's key is not RSA (EC keys cannot sign these files).
    SignerNotRsa {
        /// The key algorithm found.
        algorithm: &'static str,
    },
    /// The signer's RSA key size has no SIGNATURE_MODULUS code (512, 1024, 2048 and 4096 do).
    UnsupportedKeySize {
        /// Modulus size in bits.
        bits: usize,
    },
    /// SHA-256 was asked for without [`TrustListBuilder::allow_sha256`](crate::TrustListBuilder::allow_sha256).
    Sha256NotAllowed,
    /// No TIMESTAMP was set: the pure crate reads no clock, and a list of 1970 would be
    /// older than any a node holds.
    NoTimestamp,
    /// The layout has no place for a field a record was given.
    LayoutCannotCarry {
        /// The layout.
        layout: Layout,
        /// Index of the record.
        index: usize,
        /// The field (`DNS name`, `IP address`, `certificate hash`).
        field: &'static str,
    },
    /// A value or a record too long for its 16-bit length field.
    FieldTooLong {
        /// What it is.
        what: String,
        /// Its length.
        len: usize,
    },
    /// A trust list needs at least one record.
    NoRecords,
    /// The signer failed.
    Signer(SignerError),
    /// The signer returned a signature of the wrong size.
    SignatureLength {
        /// The size the key implies.
        expected: usize,
        /// The size returned.
        found: usize,
    },
    /// The signer's certificate is not a SAST record of the trust list: phones (and
    /// `verify`) look for the signer among the list's SAST records and reject the file.
    SignerNotInList {
        /// The signer certificate's serial number, hex.
        serial: String,
        /// Whether the list has a record of that certificate in another role.
        other_role: Option<Role>,
    },
    /// The signature the signer returned does not verify with its certificate (a key
    /// and a certificate that do not belong together, or a broken signing service).
    SignatureDoesNotVerify(crate::VerifyError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge {
                size,
                limit,
                largest,
            } => {
                write!(
                    f,
                    "the file would be {size} bytes, over the limit of {limit} bytes; largest records:"
                )?;
                for (i, (index, role, len)) in largest.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}#{} {role} {len} bytes", index.saturating_add(1))?;
                }
                Ok(())
            }
            Self::SignerCertificate(e) => write!(f, "signer certificate: {e}"),
            Self::SignerNotRsa { algorithm } => write!(
                f,
                "the signer key is {algorithm}: CTL, ITL and .sgn files can only be signed with RSA"
            ),
            Self::UnsupportedKeySize { bits } => write!(
                f,
                "the signer key is RSA-{bits}: the format can only express 512, 1024, 2048 or 4096-bit keys"
            ),
            Self::Sha256NotAllowed => f.write_str(
                "SHA-256 is not a digest phones are known to accept; allow it explicitly to use it",
            ),
            Self::NoTimestamp => f.write_str(
                "no TIMESTAMP set: give the builder the time (Unix seconds); nodes take only a list newer than the one they hold",
            ),
            Self::LayoutCannotCarry {
                layout,
                index,
                field,
            } => write!(
                f,
                "record #{}: the {layout} layout has no {field} field",
                index.saturating_add(1)
            ),
            Self::FieldTooLong { what, len } => {
                write!(
                    f,
                    "{what} is {len} bytes, over the 65535 bytes its length field can say"
                )
            }
            Self::NoRecords => f.write_str("a trust list needs at least one record"),
            Self::Signer(e) => write!(f, "signing failed: {e}"),
            Self::SignatureLength { expected, found } => write!(
                f,
                "the signer returned a {found}-byte signature, expected {expected} bytes for its key"
            ),
            Self::SignerNotInList { serial, other_role } => {
                write!(
                    f,
                    "the signer's certificate (serial {serial}) is not a SAST record of the list, so phones would reject it"
                )?;
                match other_role {
                    Some(role) => write!(
                        f,
                        "; it is there as {role}: the signer must be a SAST record (add its certificate with --sast)"
                    ),
                    None => f.write_str("; add the signer's certificate as a SAST record (--sast)"),
                }
            }
            Self::SignatureDoesNotVerify(e) => write!(
                f,
                "the signature does not verify with the signer's certificate ({e}): do the key and the certificate belong together?"
            ),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::SignerCertificate(e) => Some(e),
            Self::Signer(e) => Some(e.as_ref()),
            Self::SignatureDoesNotVerify(e) => Some(e),
            _ => None,
        }
    }
}
