//! RFC 7512 `pkcs11:` URIs, as p11-kit and OpenSSL read them.

use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret as _, SecretString};

/// The kind of object a URI names (`type=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectType {
    /// `public`: a public key.
    Public,
    /// `private`: a private key.
    Private,
    /// `cert`: a certificate.
    Cert,
    /// `secret-key`: a secret key.
    SecretKey,
    /// `data`: a data object.
    Data,
}

impl ObjectType {
    const fn name(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::Cert => "cert",
            Self::SecretKey => "secret-key",
            Self::Data => "data",
        }
    }
}

/// `text` in double quotes, its control characters and quotes escaped.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.escape_debug())
}

/// Why a URI could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// It does not start with `pkcs11:`.
    #[error("expected a URI starting with \"pkcs11:\"")]
    Scheme,
    /// An attribute without `=`.
    #[error("attribute {}: expected NAME=VALUE", quoted(.0))]
    NoValue(String),
    /// An attribute this reader does not know (vendor attributes start with `x-`).
    #[error(
        "unknown attribute {} (known: token, manufacturer, model, serial, object, id, type, slot-id, module-path, module-name, pin-value, pin-source)",
        quoted(.0)
    )]
    Unknown(String),
    /// An attribute given twice.
    #[error("attribute {} appears twice", quoted(.0))]
    Duplicate(String),
    /// A bad `%XX` escape.
    #[error("attribute {}: bad percent-encoding", quoted(.0))]
    Percent(String),
    /// A `type=` value other than public, private, cert, secret-key and data.
    #[error("type={}: expected public, private, cert, secret-key or data", quoted(.0))]
    Type(String),
    /// A value that is not UTF-8 where text is expected.
    #[error("attribute {}: not UTF-8 text", quoted(.0))]
    NotText(String),
    /// `slot-id` that is not a number.
    #[error("slot-id={}: expected a number", quoted(.0))]
    SlotId(String),
}

/// `text`, a `pkcs11:` URI as given (perhaps one that does not parse), with the value of
/// every `pin-value` attribute replaced by `<redacted>`: what an error may show of it.
pub fn redact_uri_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut in_query = false;
    loop {
        // Path attributes end at `;` or `?`; query attributes only at `&`.
        let end = if in_query {
            rest.find('&')
        } else {
            rest.find([';', '?'])
        }
        .unwrap_or(rest.len());
        let (segment, tail) = rest.split_at(end);
        let (scheme, attr) = match segment.strip_prefix("pkcs11:") {
            Some(a) => ("pkcs11:", a),
            None => ("", segment),
        };
        out.push_str(scheme);
        if attr
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("pin-value")
        {
            out.push_str("pin-value=<redacted>");
        } else {
            out.push_str(attr);
        }
        let mut chars = tail.chars();
        let Some(separator) = chars.next() else {
            return out;
        };
        in_query |= separator == '?';
        out.push(separator);
        rest = chars.as_str();
    }
}

/// A parsed `pkcs11:` URI. Its `Debug` and `Display` never show `pin-value`.
///
/// ```
/// use ctl_token::Pkcs11Uri;
///
/// let uri: Pkcs11Uri = "pkcs11:token=SAST-1;object=signer?pin-value=1234".parse()?;
/// assert_eq!(uri.token.as_deref(), Some("SAST-1"));
/// assert!(!uri.to_string().contains("1234") && !format!("{uri:?}").contains("1234"));
/// # Ok::<(), ctl_token::UriError>(())
/// ```
#[derive(Clone, Default)]
pub struct Pkcs11Uri {
    /// `token=`: the token label.
    pub token: Option<String>,
    /// `manufacturer=`: the token manufacturer.
    pub manufacturer: Option<String>,
    /// `model=`: the token model.
    pub model: Option<String>,
    /// `serial=`: the token serial number.
    pub serial: Option<String>,
    /// `slot-id=`: the slot number.
    pub slot_id: Option<u64>,
    /// `object=`: the object label (CKA_LABEL).
    pub object: Option<String>,
    /// `id=`: the object id (CKA_ID), raw bytes.
    pub id: Option<Vec<u8>>,
    /// `type=`: the object type.
    pub object_type: Option<ObjectType>,
    /// `module-path=`: the PKCS#11 module to load.
    pub module_path: Option<PathBuf>,
    /// `module-name=`: a module name to look up in the usual directories.
    pub module_name: Option<String>,
    /// `pin-value=`: the PIN itself.
    pub pin_value: Option<SecretString>,
    /// `pin-source=`: where to read the PIN (a path, or `file:` URI).
    pub pin_source: Option<String>,
}

impl fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pkcs11Uri").field(&self.to_string()).finish()
    }
}

fn decode(name: &str, raw: &str) -> Result<Vec<u8>, UriError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            // Exactly two hex digits (RFC 3986): `from_str_radix` alone also takes a sign,
            // so `%+0` was read as a NUL byte (found by the pkcs11_uri fuzz target).
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .ok_or_else(|| UriError::Percent(name.to_owned()))?;
            let text = std::str::from_utf8(hex).map_err(|_| UriError::Percent(name.to_owned()))?;
            out.push(u8::from_str_radix(text, 16).map_err(|_| UriError::Percent(name.to_owned()))?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

fn text(name: &str, raw: &str) -> Result<String, UriError> {
    String::from_utf8(decode(name, raw)?).map_err(|_| UriError::NotText(name.to_owned()))
}

fn encode(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~:[]@!$'()*+,=/".contains(&b) && b != b';' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

impl std::str::FromStr for Pkcs11Uri {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix("pkcs11:").ok_or(UriError::Scheme)?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = Self::default();
        let mut seen: Vec<String> = Vec::new();
        let attrs = path
            .split(';')
            .map(|a| (a, true))
            .chain(query.split('&').map(|a| (a, false)));
        for (attr, in_path) in attrs.filter(|(a, _)| !a.is_empty()) {
            let (name, value) = attr
                .split_once('=')
                .ok_or_else(|| UriError::NoValue(attr.to_owned()))?;
            if seen.iter().any(|n| n == name) {
                return Err(UriError::Duplicate(name.to_owned()));
            }
            // Every escape well-formed, also in the attributes skipped below.
            decode(name, attr)?;
            seen.push(name.to_owned());
            match (name, in_path) {
                ("token", true) => uri.token = Some(text(name, value)?),
                ("manufacturer", true) => uri.manufacturer = Some(text(name, value)?),
                ("model", true) => uri.model = Some(text(name, value)?),
                ("serial", true) => uri.serial = Some(text(name, value)?),
                ("object", true) => uri.object = Some(text(name, value)?),
                ("id", true) => uri.id = Some(decode(name, value)?),
                ("slot-id", true) => {
                    let t = text(name, value)?;
                    uri.slot_id = Some(t.parse().map_err(|_| UriError::SlotId(t))?);
                }
                ("type", true) => {
                    uri.object_type = Some(match text(name, value)?.as_str() {
                        "public" => ObjectType::Public,
                        "private" => ObjectType::Private,
                        "cert" => ObjectType::Cert,
                        "secret-key" => ObjectType::SecretKey,
                        "data" => ObjectType::Data,
                        other => return Err(UriError::Type(other.to_owned())),
                    });
                }
                // Library and slot descriptions are accepted and not used for matching.
                (
                    "library-manufacturer"
                    | "library-description"
                    | "library-version"
                    | "slot-manufacturer"
                    | "slot-description",
                    true,
                ) => {}
                ("module-path", false) => uri.module_path = Some(PathBuf::from(text(name, value)?)),
                ("module-name", false) => uri.module_name = Some(text(name, value)?),
                ("pin-value", false) => {
                    uri.pin_value = Some(SecretString::from(text(name, value)?))
                }
                ("pin-source", false) => uri.pin_source = Some(text(name, value)?),
                (n, _) if n.starts_with("x-") => {}
                (n, _) => return Err(UriError::Unknown(n.to_owned())),
            }
        }
        Ok(uri)
    }
}

impl fmt::Display for Pkcs11Uri {
    /// The URI without `pin-value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path: Vec<String> = Vec::new();
        let mut attr = |name: &str, bytes: &[u8]| {
            let mut s = format!("{name}=");
            encode(&mut s, bytes);
            path.push(s);
        };
        for (name, value) in [
            ("token", &self.token),
            ("manufacturer", &self.manufacturer),
            ("model", &self.model),
            ("serial", &self.serial),
            ("object", &self.object),
        ] {
            if let Some(v) = value {
                attr(name, v.as_bytes());
            }
        }
        if let Some(id) = &self.id {
            let mut s = String::from("id=");
            for b in id {
                s.push_str(&format!("%{b:02X}"));
            }
            path.push(s);
        }
        if let Some(t) = self.object_type {
            path.push(format!("type={}", t.name()));
        }
        if let Some(n) = self.slot_id {
            path.push(format!("slot-id={n}"));
        }
        write!(f, "pkcs11:{}", path.join(";"))?;
        let mut query: Vec<String> = Vec::new();
        if let Some(p) = &self.module_path {
            let mut s = String::from("module-path=");
            encode(&mut s, p.to_string_lossy().as_bytes());
            query.push(s);
        }
        if let Some(n) = &self.module_name {
            let mut s = String::from("module-name=");
            encode(&mut s, n.as_bytes());
            query.push(s);
        }
        if let Some(p) = &self.pin_source {
            let mut s = String::from("pin-source=");
            encode(&mut s, p.as_bytes());
            query.push(s);
        }
        if !query.is_empty() {
            write!(f, "?{}", query.join("&"))?;
        }
        Ok(())
    }
}

impl Pkcs11Uri {
    /// Whether the URI's token attributes match a token.
    pub fn matches_token(
        &self,
        label: &str,
        manufacturer: &str,
        model: &str,
        serial: &str,
    ) -> bool {
        let ok = |want: &Option<String>, have: &str| {
            let pad = |c: char| c == '\0' || c.is_whitespace();
            want.as_deref()
                .is_none_or(|w| w.trim_matches(pad) == have.trim_matches(pad))
        };
        ok(&self.token, label)
            && ok(&self.manufacturer, manufacturer)
            && ok(&self.model, model)
            && ok(&self.serial, serial)
    }

    /// The PIN given in the URI itself (`pin-value`), if any.
    pub fn pin_value(&self) -> Option<&str> {
        self.pin_value.as_ref().map(|p| p.expose_secret())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparsed_text_is_redacted() {
        for (text, shown) in [
            (
                "pkcs11:token=A;pin-value=1234?module-path=/m",
                "pkcs11:token=A;pin-value=<redacted>?module-path=/m",
            ),
            (
                "pkcs11:token=A?pin-value=12;34?5&x",
                "pkcs11:token=A?pin-value=<redacted>&x",
            ),
            ("pkcs11:pin-value=1", "pkcs11:pin-value=<redacted>"),
            ("pkcs11:token=A;object", "pkcs11:token=A;object"),
            ("", ""),
        ] {
            assert_eq!(redact_uri_text(text), shown, "{text}");
        }
    }

    /// Found by the pkcs11_uri fuzz target: a sign passed for a hex digit.
    #[test]
    fn a_percent_escape_is_two_hex_digits() {
        for bad in [
            "pkcs11:token=%+0",
            "pkcs11:token=%-1",
            "pkcs11:token=%0",
            "pkcs11:token=%g0",
            // In attributes that are accepted and not used, and in names (found by the
            // pkcs11_uri fuzz target: they were never decoded, so never checked).
            "pkcs11:library-description=d11%=1",
            "pkcs11:slot-description=%4",
            "pkcs11:token=t?x-note=%zz",
            "pkcs11:x-n%=1",
        ] {
            assert!(bad.parse::<Pkcs11Uri>().is_err(), "{bad}");
        }
        let ok: Pkcs11Uri = "pkcs11:token=%41%62".parse().unwrap();
        assert_eq!(ok.token.as_deref(), Some("Ab"));
    }

    #[test]
    fn parses_path_and_query_attributes() {
        let uri: Pkcs11Uri = "pkcs11:token=SAST%201;object=sast1;id=%01%a2;type=private;serial=abc?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/tmp/pin"
            .parse()
            .unwrap();
        assert_eq!(uri.token.as_deref(), Some("SAST 1"));
        assert_eq!(uri.object.as_deref(), Some("sast1"));
        assert_eq!(uri.id.as_deref(), Some(&[0x01, 0xa2][..]));
        assert_eq!(uri.object_type, Some(ObjectType::Private));
        assert_eq!(uri.serial.as_deref(), Some("abc"));
        assert_eq!(
            uri.module_path.as_deref(),
            Some(std::path::Path::new("/usr/lib/softhsm/libsofthsm2.so"))
        );
        assert_eq!(uri.pin_source.as_deref(), Some("file:/tmp/pin"));
        // Display round-trips.
        let again: Pkcs11Uri = uri.to_string().parse().unwrap();
        assert_eq!(again.to_string(), uri.to_string());
        assert_eq!(again.id, uri.id);
    }

    #[test]
    fn pin_values_never_show() {
        let uri: Pkcs11Uri = "pkcs11:token=t?pin-value=s3cr3t-1234".parse().unwrap();
        assert_eq!(uri.pin_value(), Some("s3cr3t-1234"));
        assert!(!uri.to_string().contains("s3cr3t"));
        assert!(!format!("{uri:?}").contains("s3cr3t"));
    }

    #[test]
    fn refusals() {
        for (text, err) in [
            ("token=x", UriError::Scheme),
            ("pkcs11:token", UriError::NoValue("token".into())),
            ("pkcs11:color=red", UriError::Unknown("color".into())),
            (
                "pkcs11:token=a;token=b",
                UriError::Duplicate("token".into()),
            ),
            ("pkcs11:id=%zz", UriError::Percent("id".into())),
            ("pkcs11:id=%1", UriError::Percent("id".into())),
            ("pkcs11:type=key", UriError::Type("key".into())),
            ("pkcs11:object=%ff", UriError::NotText("object".into())),
            ("pkcs11:?token=x", UriError::Unknown("token".into())),
        ] {
            assert_eq!(text.parse::<Pkcs11Uri>().unwrap_err(), err, "{text}");
        }
        assert!(
            "pkcs11:x-vendor=1;token=a?x-other=2"
                .parse::<Pkcs11Uri>()
                .is_ok()
        );
        assert!("pkcs11:".parse::<Pkcs11Uri>().is_ok());
    }

    #[test]
    fn token_matching_ignores_padding() {
        let uri: Pkcs11Uri = "pkcs11:token=SAST1;manufacturer=SoftHSM%20project"
            .parse()
            .unwrap();
        assert!(uri.matches_token("SAST1", "SoftHSM project", "SoftHSM v2", "123"));
        assert!(!uri.matches_token("SAST2", "SoftHSM project", "SoftHSM v2", "123"));
    }
}
