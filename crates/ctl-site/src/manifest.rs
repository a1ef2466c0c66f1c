//! The manifest: what a site's TFTP directory must hold, read from TOML and checked
//! before anything is signed.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ctl_format::{DigestAlgorithm, Layout, Role, Version};
use ctl_token::Pkcs11Uri;
use serde::Deserialize;

use crate::error::{MacError, ManifestError};
use crate::pattern::Pattern;

/// Manifests are short; anything larger is not one.
const MAX_MANIFEST: u64 = 1024 * 1024;

/// Device lists can be long (a CSV of every phone), not unbounded.
const MAX_DEVICES_CSV: u64 = 64 * 1024 * 1024;

/// Where a key and its certificate come from.
#[derive(Clone)]
#[non_exhaustive]
pub enum KeySource {
    /// A key on a PKCS#11 token, with the certificate beside it.
    Token(Box<Pkcs11Uri>),
    /// One PEM file holding the certificate and the private key.
    Pem(PathBuf),
    /// A private key file and a certificate file.
    Split {
        /// The PEM private key.
        key: PathBuf,
        /// The certificate (PEM or DER).
        cert: PathBuf,
    },
}

impl PartialEq for KeySource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            // Two URIs that select the same object (whatever PIN they carry).
            (Self::Token(a), Self::Token(b)) => a.to_string() == b.to_string(),
            (Self::Pem(a), Self::Pem(b)) => a == b,
            (Self::Split { key: a, cert: c }, Self::Split { key: b, cert: d }) => a == b && c == d,
            _ => false,
        }
    }
}

impl Eq for KeySource {}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The URI displays without its PIN.
            Self::Token(uri) => write!(f, "{uri}"),
            Self::Pem(p) => write!(f, "{}", p.display()),
            Self::Split { key, .. } => write!(f, "{}", key.display()),
        }
    }
}

/// A MAC address, as per-device file names spell it (`SEP` + 12 upper-case hex digits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl FromStr for Mac {
    type Err = MacError;

    /// `001122334455`, `00:11:22:33:44:55`, `00-11-…`, `0011.2233.4455`, with or
    /// without a `SEP` prefix, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let t = t
            .strip_prefix("SEP")
            .or_else(|| t.strip_prefix("sep"))
            .unwrap_or(t);
        let digits: Vec<u8> = t
            .bytes()
            .filter(|b| !matches!(b, b':' | b'-' | b'.'))
            .collect();
        let hex = |b: u8| {
            char::from(b)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
        };
        let mut mac = [0u8; 6];
        let pairs = digits.chunks_exact(2);
        if digits.len() != 12 || !pairs.remainder().is_empty() {
            return Err(MacError(s.to_owned()));
        }
        for (out, pair) in mac.iter_mut().zip(pairs) {
            let (Some(hi), Some(lo)) = (
                pair.first().copied().and_then(hex),
                pair.get(1).copied().and_then(hex),
            ) else {
                return Err(MacError(s.to_owned()));
            };
            *out = (hi << 4) | lo;
        }
        Ok(Self(mac))
    }
}

/// A server certificate the lists carry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Server {
    /// The certificate file (PEM or DER), or a `pkcs11:` URI of one.
    pub cert: PathBuf,
    /// Its role.
    pub role: Role,
    /// The DNS name its record carries.
    pub dns: Option<String>,
    /// The address its record carries.
    pub ip: Option<IpAddr>,
}

impl Server {
    /// Whether the ITL carries this record (every role).
    pub const fn in_itl(&self) -> bool {
        true
    }

    /// Whether the CTL carries this record: every role but TVS, which only ITLs hold.
    pub fn in_ctl(&self) -> bool {
        self.role != Role::TVS
    }
}

/// What a site's TFTP directory must hold: read with [`Manifest::load`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Manifest {
    /// The manifest file (relative paths in it are relative to its directory).
    pub path: PathBuf,
    /// The directory the lists and `.sgn` files are written to (the TFTP root).
    pub out: PathBuf,
    /// The directory of the files to sign (by default `out`).
    pub configs: PathBuf,
    /// The signatures' digest.
    pub digest: DigestAlgorithm,
    /// SIGNER_VERSION of the lists (1.1 for EC records or HTTPS provisioning).
    pub signer_version: Option<Version>,
    /// The byte layout.
    pub layout: Layout,
    /// The SAST signers, two to four; the first signs the lists.
    pub sast: Vec<KeySource>,
    /// The key that signs configuration files; its certificate is the lists' TFTP record.
    pub tftp: KeySource,
    /// The server certificates.
    pub servers: Vec<Server>,
    /// Whether to write `ITLFile.tlv`.
    pub itl: bool,
    /// Whether to write `CTLFile.tlv` (mixed mode).
    pub ctl: bool,
    /// The phones that get per-device lists (`CTLSEP<MAC>.tlv`, `ITLSEP<MAC>.tlv`), sorted.
    pub devices: Vec<Mac>,
    /// Which files of `configs` to sign.
    pub sign: Vec<Pattern>,
    /// Lint rules (by code) that warn instead of refusing.
    pub allow: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    out: Option<PathBuf>,
    configs: Option<PathBuf>,
    digest: Option<String>,
    signer_version: Option<String>,
    layout: Option<String>,
    sast: Vec<RawKey>,
    tftp: RawKey,
    lists: Option<Vec<String>>,
    devices: Option<Vec<String>>,
    devices_csv: Option<PathBuf>,
    sign: Option<Vec<String>>,
    allow: Option<Vec<String>>,
    #[serde(default)]
    server: Vec<RawServer>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawKey {
    One(String),
    Split { key: PathBuf, cert: PathBuf },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    cert: PathBuf,
    role: String,
    dns: Option<String>,
    ip: Option<IpAddr>,
}

/// The largest number of SAST records a CTL carries ([`ctl_format::lint::MAX_SAST_CTL`]).
const MAX_SAST: usize = ctl_format::lint::MAX_SAST_CTL;

impl Manifest {
    /// Reads and checks the manifest at `path`.
    ///
    /// # Errors
    /// An unreadable file, a TOML error (with its line), or a field that does not hold
    /// what it must (named in the error).
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let bytes =
            crate::fsutil::read_capped(path, MAX_MANIFEST).map_err(|e| ManifestError::Read {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let text = String::from_utf8(bytes).map_err(|_| ManifestError::Invalid {
            path: path.to_owned(),
            field: "manifest".into(),
            reason: "not UTF-8 text".into(),
        })?;
        Self::parse(path, &text)
    }

    /// Checks manifest `text`, read from `path` (which relative paths are relative to).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ManifestError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ManifestError::Syntax {
            path: path.to_owned(),
            line: e
                .span()
                .map(|s| text.get(..s.start).map_or(0, |t| t.lines().count().max(1))),
            reason: e.message().replace('\n', " "),
        })?;
        let base = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let invalid = |field: &str, reason: String| ManifestError::Invalid {
            path: path.to_owned(),
            field: field.to_owned(),
            reason,
        };
        let at = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let key = |field: &str, k: RawKey| -> Result<KeySource, ManifestError> {
            Ok(match k {
                RawKey::One(s) if s.starts_with("pkcs11:") => {
                    KeySource::Token(Box::new(s.parse().map_err(|e: ctl_token::UriError| {
                        invalid(field, format!("{}: {e}", ctl_token::redact_uri_text(&s)))
                    })?))
                }
                RawKey::One(s) => KeySource::Pem(at(PathBuf::from(s))),
                RawKey::Split { key, cert } => KeySource::Split {
                    key: at(key),
                    cert: at(cert),
                },
            })
        };

        let out = at(raw.out.ok_or_else(|| {
            invalid(
                "out",
                "missing: the directory the TFTP server serves".into(),
            )
        })?);
        let configs = raw.configs.map_or_else(|| out.clone(), &at);
        let digest = match raw.digest.as_deref() {
            None => DigestAlgorithm::Sha1,
            Some(d) => match d.parse() {
                Ok(DigestAlgorithm::Sha256) | Err(_) => {
                    return Err(invalid(
                        "digest",
                        format!("{d:?}: expected sha1 (every phone) or sha512"),
                    ));
                }
                Ok(d) => d,
            },
        };
        let signer_version = match raw.signer_version.as_deref() {
            None => None,
            Some(v) => match v.parse::<Version>() {
                Ok(v) if v == Version::V1_0 || v == Version::V1_1 => Some(v),
                _ => {
                    return Err(invalid(
                        "signer_version",
                        format!("{v:?}: expected 1.0 or 1.1"),
                    ));
                }
            },
        };
        let layout = match raw.layout.as_deref() {
            None => Layout::Cucm,
            Some(l) => l
                .parse()
                .map_err(|e: ctl_format::UnknownName| invalid("layout", e.to_string()))?,
        };
        if raw.sast.len() < 2 || raw.sast.len() > MAX_SAST {
            return Err(invalid(
                "sast",
                format!(
                    "{} signers: expected 2 to {MAX_SAST} (two at least, so that losing one key \
                     does not lock the phones out)",
                    raw.sast.len()
                ),
            ));
        }
        let sast = raw
            .sast
            .into_iter()
            .enumerate()
            .map(|(i, k)| key(&format!("sast[{i}]"), k))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, a) in sast.iter().enumerate() {
            if sast.iter().skip(i + 1).any(|b| b == a) {
                return Err(invalid("sast", format!("{a} is named twice")));
            }
        }
        let tftp = key("tftp", raw.tftp)?;

        let mut servers = Vec::with_capacity(raw.server.len());
        for (i, s) in raw.server.into_iter().enumerate() {
            let field = format!("server[{i}]");
            let role: Role = s
                .role
                .parse()
                .map_err(|e: ctl_format::UnknownName| invalid(&field, e.to_string()))?;
            if role == Role::SAST {
                return Err(invalid(
                    &field,
                    "role SAST: SAST signers are named in `sast`, with their keys".into(),
                ));
            }
            if let Some(d) = &s.dns
                && (d.is_empty() || d.len() > 255 || !d.bytes().all(|b| b.is_ascii_graphic()))
            {
                return Err(invalid(&field, format!("dns {d:?} is not a host name")));
            }
            servers.push(Server {
                cert: if s.cert.to_string_lossy().starts_with("pkcs11:") {
                    s.cert
                } else {
                    at(s.cert)
                },
                role,
                dns: s.dns,
                ip: s.ip,
            });
        }

        let (mut itl, mut ctl) = (false, false);
        for l in raw.lists.unwrap_or_else(|| vec!["itl".into()]) {
            match l.to_ascii_lowercase().as_str() {
                "itl" => itl = true,
                "ctl" => ctl = true,
                _ => {
                    return Err(invalid(
                        "lists",
                        format!("{l:?}: expected \"itl\" or \"ctl\""),
                    ));
                }
            }
        }
        if !itl && !ctl {
            return Err(invalid(
                "lists",
                "empty: name \"itl\", \"ctl\" or both".into(),
            ));
        }

        let mut devices = Vec::new();
        for (i, d) in raw.devices.unwrap_or_default().iter().enumerate() {
            devices.push(
                d.parse()
                    .map_err(|e: MacError| invalid(&format!("devices[{i}]"), e.to_string()))?,
            );
        }
        if let Some(csv) = raw.devices_csv {
            devices.extend(read_devices_csv(&at(csv))?);
        }
        devices.sort_unstable();
        devices.dedup();

        let sign = raw
            .sign
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Pattern::new(p).map_err(|e| invalid(&format!("sign[{i}]"), e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let allow = raw.allow.unwrap_or_default();
        for (i, code) in allow.iter().enumerate() {
            if !ctl_format::Warning::CODES.contains(&code.as_str()) {
                return Err(invalid(
                    &format!("allow[{i}]"),
                    format!(
                        "{code:?} is no lint rule (the rules: {})",
                        ctl_format::Warning::CODES.join(", ")
                    ),
                ));
            }
        }
        Ok(Self {
            path: path.to_owned(),
            out,
            configs,
            digest,
            signer_version,
            layout,
            sast,
            tftp,
            servers,
            itl,
            ctl,
            devices,
            sign,
            allow,
        })
    }

    /// Every key the manifest names, with its entry name (`sast[0]`, ..., `tftp`).
    pub fn keys(&self) -> Vec<(String, KeySource)> {
        let mut out: Vec<_> = self
            .sast
            .iter()
            .enumerate()
            .map(|(i, k)| (format!("sast[{i}]"), k.clone()))
            .collect();
        out.push(("tftp".to_owned(), self.tftp.clone()));
        out
    }

    /// Writes to `out` instead of the manifest's directory.
    pub fn set_out(&mut self, out: PathBuf) -> &mut Self {
        if self.configs == self.out {
            self.configs.clone_from(&out);
        }
        self.out = out;
        self
    }
}

/// The MACs of a CSV file: the first column of each line; a first line that is not a
/// MAC is a heading; empty lines and `#` comments are skipped.
fn read_devices_csv(path: &Path) -> Result<Vec<Mac>, ManifestError> {
    let bytes =
        crate::fsutil::read_capped(path, MAX_DEVICES_CSV).map_err(|e| ManifestError::Read {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line
            .split([',', ';', '\t'])
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches('"');
        match first.parse::<Mac>() {
            Ok(mac) => out.push(mac),
            Err(_) if n == 0 => {}
            Err(e) => {
                return Err(ManifestError::Csv {
                    path: path.to_owned(),
                    line: n + 1,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn macs_parse_in_every_spelling_and_print_as_file_names_do() {
        for s in [
            "001122aabbcc",
            "00:11:22:AA:BB:CC",
            "00-11-22-aa-bb-cc",
            "0011.22aa.bbcc",
            "SEP001122AABBCC",
        ] {
            assert_eq!(s.parse::<Mac>().unwrap().to_string(), "001122AABBCC", "{s}");
        }
        for bad in [
            "",
            "0011223344",
            "00112233445566",
            "00112233445g",
            "SEP",
            "+0112233445",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }

    fn manifest(body: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(Path::new("/site/trust.toml"), body)
    }

    const MINIMAL: &str = "out = \"tftp\"\nsast = [\"a.pem\", \"b.pem\"]\ntftp = \"t.pem\"\n";

    #[test]
    fn a_minimal_manifest_gets_the_defaults_and_paths_beside_it() {
        let m = manifest(MINIMAL).unwrap();
        assert_eq!(m.out, Path::new("/site/tftp"));
        assert_eq!(m.configs, m.out);
        assert_eq!(m.digest, DigestAlgorithm::Sha1);
        assert_eq!((m.itl, m.ctl), (true, false));
        assert_eq!(
            m.sast,
            [
                KeySource::Pem("/site/a.pem".into()),
                KeySource::Pem("/site/b.pem".into())
            ]
        );
        assert!(m.devices.is_empty() && m.sign.is_empty() && m.servers.is_empty());
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            ("out = 1\nsast=[]\ntftp=\"t\"", "line 1"),
            ("sast = [\"a\", \"b\"]\ntftp = \"t\"", "out: missing"),
            ("out=\"o\"\nsast = [\"a\"]\ntftp = \"t\"", "sast: 1 signers"),
            (
                "out=\"o\"\nsast = [\"a\", \"a\"]\ntftp = \"t\"",
                "named twice",
            ),
            (&format!("{MINIMAL}digest = \"md5\""), "digest"),
            (&format!("{MINIMAL}digest = \"sha256\""), "digest"),
            (
                &format!("{MINIMAL}signer_version = \"2.0\""),
                "signer_version",
            ),
            (&format!("{MINIMAL}lists = [\"xtl\"]"), "lists"),
            (&format!("{MINIMAL}devices = [\"0011\"]"), "devices[0]"),
            (&format!("{MINIMAL}sign = [\"../x\"]"), "sign[0]"),
            (&format!("{MINIMAL}colour = 1"), "unknown field"),
            (
                &format!("{MINIMAL}allow = [\"expird\"]"),
                "allow[0]: \"expird\" is no lint rule",
            ),
            (
                &format!("{MINIMAL}[[server]]\ncert = \"c\"\nrole = \"boss\""),
                "server[0]",
            ),
            (
                &format!("{MINIMAL}[[server]]\ncert = \"c\"\nrole = \"sast\""),
                "server[0]",
            ),
            (
                "out=\"o\"\nsast = [\"pkcs11:token=a;pin-value=SECRET;x=%zz\", \"b\"]\ntftp = \"t\"",
                "sast[0]",
            ),
        ];
        for (body, expected) in cases {
            let e = manifest(body).unwrap_err().to_string();
            assert!(e.contains(expected), "{body:?}: {e}");
            assert!(e.starts_with("/site/trust.toml"), "{e}");
            assert!(!e.contains("SECRET") && !e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn tvs_records_go_into_the_itl_only() {
        let m = manifest(&format!(
            "{MINIMAL}lists = [\"itl\", \"ctl\"]\n[[server]]\ncert = \"tvs.pem\"\nrole = \"tvs\"\n\
             [[server]]\ncert = \"pbx.pem\"\nrole = \"ccm\"\ndns = \"pbx.example.com\"\nip = \"192.0.2.1\""
        ))
        .unwrap();
        assert!(m.servers[0].in_itl() && !m.servers[0].in_ctl());
        assert!(m.servers[1].in_ctl());
        assert_eq!(m.servers[1].ip, Some("192.0.2.1".parse().unwrap()));
    }
}
