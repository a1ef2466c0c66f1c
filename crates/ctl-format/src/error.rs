//! The decoding error: what was expected, what was found, and where.

use core::fmt;

use crate::tag::Tag;

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
