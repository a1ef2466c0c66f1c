//! Small value types of the format: digests, roles, versions.

use core::fmt;
use core::str::FromStr;

/// The digest of a file signature (header tag 8) or of a certificate hash (record tag 12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-1, code 1: what every phone understands.
    Sha1,
    /// SHA-256, code 2: never seen in a real file; only behind an explicit option.
    Sha256,
    /// SHA-512, code 3.
    Sha512,
}

impl DigestAlgorithm {
    /// The code written in the file.
    pub const fn code(self) -> u8 {
        match self {
            Self::Sha1 => 1,
            Self::Sha256 => 2,
            Self::Sha512 => 3,
        }
    }

    /// The algorithm of a code, if it is one.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Sha1),
            2 => Some(Self::Sha256),
            3 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Lower-case name: `sha1`, `sha256`, `sha512`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Digest size in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// Hashes the concatenation of `parts`.
    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Self::Sha1 => run::<sha1::Sha1>(parts),
            Self::Sha256 => run::<sha2::Sha256>(parts),
            Self::Sha512 => run::<sha2::Sha512>(parts),
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha512 => "SHA-512",
        })
    }
}

/// The text could not be understood as a value of this type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName {
    what: &'static str,
    expected: &'static str,
    found: String,
}

impl UnknownName {
    pub(crate) fn new(what: &'static str, expected: &'static str, found: &str) -> Self {
        Self {
            what,
            expected,
            found: found.to_owned(),
        }
    }
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {}: expected {}, found \"{}\"",
            self.what,
            self.expected,
            self.found.escape_debug()
        )
    }
}

impl std::error::Error for UnknownName {}

impl FromStr for DigestAlgorithm {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "sha1" => Ok(Self::Sha1),
            "sha256" => Ok(Self::Sha256),
            "sha512" => Ok(Self::Sha512),
            _ => Err(UnknownName {
                what: "digest",
                expected: "sha1, sha512 or sha256",
                found: s.to_owned(),
            }),
        }
    }
}

/// The role of a record (record tag 4): what the phone may use its certificate for.
///
/// Any 16-bit number is a role; the documented ones have constants and names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role(pub u16);

impl Role {
    /// System Administrator Security Token: may sign the trust list.
    pub const SAST: Self = Self(0);
    /// CallManager (signalling).
    pub const CCM: Self = Self(1);
    /// CallManager and TFTP.
    pub const CCM_TFTP: Self = Self(2);
    /// TFTP server: signs `.sgn` configuration files.
    pub const TFTP: Self = Self(3);
    /// Certificate Authority Proxy Function.
    pub const CAPF: Self = Self(4);
    /// Application (HTTPS) server.
    pub const APP_SERVER: Self = Self(7);
    /// Trust Verification Service.
    pub const TVS: Self = Self(21);

    /// The name of a documented role (`SAST`, `CCM`, `CCM+TFTP`, `TFTP`, `CAPF`, `APP-SERVER`, `TVS`).
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "SAST",
            1 => "CCM",
            2 => "CCM+TFTP",
            3 => "TFTP",
            4 => "CAPF",
            7 => "APP-SERVER",
            21 => "TVS",
            _ => return None,
        })
    }

    /// Whether a phone takes this role's certificate to check `.sgn` files.
    pub const fn signs_configs(self) -> bool {
        matches!(self.0, 2 | 3)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "role {}", self.0),
        }
    }
}

impl FromStr for Role {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.to_ascii_uppercase().replace('_', "-");
        Ok(match upper.as_str() {
            "SAST" => Self::SAST,
            "CCM" => Self::CCM,
            "CCM+TFTP" | "CCM-TFTP" => Self::CCM_TFTP,
            "TFTP" => Self::TFTP,
            "CAPF" => Self::CAPF,
            "APP-SERVER" | "HTTPS" => Self::APP_SERVER,
            "TVS" => Self::TVS,
            _ => match s.parse::<u16>() {
                Ok(n) => Self(n),
                Err(_) => {
                    return Err(UnknownName {
                        what: "role",
                        expected: "SAST, CCM, CCM+TFTP, TFTP, CAPF, APP-SERVER, TVS or a number",
                        found: s.to_owned(),
                    });
                }
            },
        })
    }
}

/// A `major.minor` version, as in the VERSION and SIGNER_VERSION elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    /// Major number.
    pub major: u8,
    /// Minor number.
    pub minor: u8,
}

impl Version {
    /// 1.0: `.sgn` files and the default SIGNER_VERSION.
    pub const V1_0: Self = Self { major: 1, minor: 0 };
    /// 1.1: SIGNER_VERSION for ITLs that give an EC certificate the TFTP role.
    pub const V1_1: Self = Self { major: 1, minor: 1 };
    /// 1.2: CTL and ITL files.
    pub const V1_2: Self = Self { major: 1, minor: 2 };
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for Version {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || UnknownName {
            what: "version",
            expected: "MAJOR.MINOR such as 1.0",
            found: s.to_owned(),
        };
        let (a, b) = s.split_once('.').ok_or_else(err)?;
        Ok(Self {
            major: a.parse().map_err(|_| err())?,
            minor: b.parse().map_err(|_| err())?,
        })
    }
}

/// Compares two serial numbers as unsigned integers: leading zero bytes do not count.
pub fn serials_equal(a: &[u8], b: &[u8]) -> bool {
    strip_leading_zeros(a) == strip_leading_zeros(b)
}

pub(crate) fn strip_leading_zeros(mut s: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = s {
        s = rest;
    }
    s
}

/// Whether `c` must not reach a terminal as it is: control characters (C0, DEL, C1:
/// ESC sequences, OSC, BEL, carriage returns that overwrite a line) and the invisible
/// direction marks and overrides that make text read otherwise than it is stored.
fn unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` as it may be shown on a terminal: newlines kept, every other unprintable
/// character (see above) written as a `\u{..}` escape. Names, file names and messages
/// that come from a file, a certificate or a peer go through this before a human sees
/// them; JSON output needs nothing (its encoder escapes them).
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && unprintable(c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().saturating_add(8));
    for c in text.chars() {
        if c != '\n' && unprintable(c) {
            use fmt::Write as _;
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of Unix seconds.
#[allow(clippy::arithmetic_side_effects)] // every step is bounded: days < 2^64 / 86400, and each subtraction is of a smaller part of the same value
pub fn format_utc(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let secs = unix_seconds % 86_400;
    // Days to civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
    let z = days.saturating_add(719_468);
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// An I/O error in words, as messages show it: what happened, without the OS error
/// number std appends (`(os error 2)`) or a library's pointer to its documentation.
pub fn io_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let words = match e.kind() {
        K::NotFound => "no such file or directory",
        K::PermissionDenied => "permission denied",
        K::AlreadyExists => "it exists already",
        K::IsADirectory => "it is a directory",
        K::NotADirectory => "a part of the path is not a directory",
        K::StorageFull => "no space left on the device",
        K::ReadOnlyFilesystem => "the file system is read-only",
        K::AddrInUse => "the address is in use",
        K::AddrNotAvailable => "the address is not available here",
        _ => {
            let text = e.to_string();
            let text = text.split(": https://").next().unwrap_or(&text);
            return match text.rfind(" (os error ") {
                Some(at) => text.get(..at).unwrap_or(text).to_owned(),
                None => text.to_owned(),
            };
        }
    };
    words.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_without_os_numbers_or_urls() {
        let gone = std::fs::File::open("/nonexistent/ctl-file").unwrap_err();
        assert_eq!(io_words(&gone), "no such file or directory");
        let eof = std::io::Error::other("peer closed connection: https://docs.rs/rustls/latest/");
        assert_eq!(io_words(&eof), "peer closed connection");
        // EINVAL on Linux.
        let raw = std::io::Error::from_raw_os_error(22);
        assert!(!io_words(&raw).contains("os error"), "{}", io_words(&raw));
    }

    #[test]
    fn roles_round_trip_through_text() {
        for (text, role) in [
            ("SAST", Role::SAST),
            ("CCM", Role::CCM),
            ("CCM+TFTP", Role::CCM_TFTP),
            ("TFTP", Role::TFTP),
            ("CAPF", Role::CAPF),
            ("APP-SERVER", Role::APP_SERVER),
            ("TVS", Role::TVS),
        ] {
            assert_eq!(text.parse::<Role>().unwrap(), role);
            assert_eq!(role.to_string(), text);
        }
        assert_eq!("5".parse::<Role>().unwrap(), Role(5));
        assert!("boss".parse::<Role>().is_err());
    }

    #[test]
    fn digest_codes() {
        for d in [
            DigestAlgorithm::Sha1,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha512,
        ] {
            assert_eq!(DigestAlgorithm::from_code(d.code()), Some(d));
            assert_eq!(d.digest(&[b"a", b"bc"]), d.digest(&[b"abc"]));
            assert_eq!(d.digest(&[]).len(), d.output_len());
        }
        assert_eq!(DigestAlgorithm::from_code(4), None);
    }

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(1_735_689_600), "2025-01-01 00:00:00");
        assert_eq!(format_utc(951_782_400 + 3661), "2000-02-29 01:01:01");
        assert_eq!(format_utc(2_366_841_600), "2045-01-01 00:00:00");
    }

    #[test]
    fn serials_ignore_leading_zeros() {
        assert!(serials_equal(&[0, 0xff], &[0xff]));
        assert!(!serials_equal(&[1, 0], &[1]));
        assert!(serials_equal(&[], &[0]));
    }

    /// Issue 11, finding 8: untrusted texts reached the terminal raw.
    #[test]
    fn printable_escapes_what_a_terminal_would_act_on() {
        assert_eq!(printable("CN=ccm1, O=Example"), "CN=ccm1, O=Example");
        assert_eq!(printable("a\nb"), "a\nb");
        assert_eq!(
            printable("x\u{1b}]0;pwned\u{7}\r\u{9b}\u{202e}y"),
            "x\\u{1b}]0;pwned\\u{7}\\u{d}\\u{9b}\\u{202e}y"
        );
        assert_eq!(printable("tab\there"), "tab\\u{9}here");
    }
}
