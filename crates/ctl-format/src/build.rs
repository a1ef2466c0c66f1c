//! The owned builder of trust lists and signed files, and the [`Signer`] seam.
//!
//! Sizes here are sums of the lengths of buffers already in memory, so they cannot
//! overflow `usize`; each is checked against its 16-bit field or [`MAX_LEN`] before
//! it is written.
#![allow(clippy::arithmetic_side_effects)]

use core::fmt;
use core::net::IpAddr;
use core::str::FromStr;

use crate::MAX_LEN;
use crate::cert::{Certificate, NameStyle, PublicKey};
use crate::document::{Record, put_tlv};
use crate::error::BuildError;
use crate::tag::{header, record};
use crate::types::{DigestAlgorithm, Role, UnknownName, Version, hex, serials_equal};
use crate::verify::{RsaVerifier, Verifier as _};

/// The error a [`Signer`] returns.
pub type SignerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Something that signs with an RSA key: a key file, a PKCS#11 token, a test double.
///
/// The builder hands it the exact bytes to sign (the file without its SIGNATURE
/// element); it returns the RSASSA-PKCS1-v1_5 signature with `digest`.
pub trait Signer {
    /// The DER certificate of the signing key: it names the signer in the header
    /// and tells the builder the signature size.
    fn certificate(&self) -> &[u8];

    /// Signs `message` with RSASSA-PKCS1-v1_5 over `digest`.
    ///
    /// # Errors
    /// Whatever stops the key from signing (a locked token, a wrong PIN, ...).
    fn sign(&self, digest: DigestAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignerError>;
}

impl<S: Signer + ?Sized> Signer for &S {
    fn certificate(&self) -> &[u8] {
        (**self).certificate()
    }

    fn sign(&self, digest: DigestAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        (**self).sign(digest, message)
    }
}

impl<S: Signer + ?Sized> Signer for std::sync::Arc<S> {
    fn certificate(&self) -> &[u8] {
        (**self).certificate()
    }

    fn sign(&self, digest: DigestAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        (**self).sign(digest, message)
    }
}

impl<S: Signer + ?Sized> Signer for Box<S> {
    fn certificate(&self) -> &[u8] {
        (**self).certificate()
    }

    fn sign(&self, digest: DigestAlgorithm, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        (**self).sign(digest, message)
    }
}

/// Which writer's byte layout to reproduce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layout {
    /// As CUCM writes: record elements in numeric tag order with DNS_NAME and
    /// IP_ADDRESS, `;`-joined names in reversed DER order, header NAME/SERIAL/ISSUER,
    /// no SIGNER_VERSION unless asked.
    #[default]
    Cucm,
    /// As certutils v4.13 writes: records 1,3,5,6,4,7,8,9, `,`-joined names in DER
    /// order, header NAME/ISSUER/SERIAL, SIGNER_VERSION 1.0 in trust lists.
    Certutils,
    /// As certutils v4.12 and earlier write: records 1,3,4,5,6,7,8,9, `;`-joined
    /// names in DER order, header NAME/SERIAL/ISSUER, SIGNER_VERSION 1.0 in trust lists.
    CertutilsLegacy,
}

impl Layout {
    /// `cucm`, `certutils` or `certutils-legacy`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Cucm => "cucm",
            Self::Certutils => "certutils",
            Self::CertutilsLegacy => "certutils-legacy",
        }
    }

    /// How this layout writes distinguished names.
    pub const fn name_style(self) -> NameStyle {
        match self {
            Self::Cucm => NameStyle::Reversed,
            Self::Certutils => NameStyle::DerOrder(','),
            Self::CertutilsLegacy => NameStyle::DerOrder(';'),
        }
    }

    /// The SIGNER_VERSION this layout writes in trust lists unless told otherwise.
    pub const fn default_signer_version(self) -> Option<Version> {
        match self {
            Self::Cucm => None,
            Self::Certutils | Self::CertutilsLegacy => Some(Version::V1_0),
        }
    }

    const fn record_order(self) -> &'static [u8] {
        match self {
            Self::Cucm => &[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
            Self::Certutils => &[3, 5, 6, 4, 7, 8, 9],
            Self::CertutilsLegacy => &[3, 4, 5, 6, 7, 8, 9],
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layout {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cucm" => Ok(Self::Cucm),
            "certutils" => Ok(Self::Certutils),
            "certutils-legacy" => Ok(Self::CertutilsLegacy),
            _ => Err(UnknownName::new(
                "layout",
                "cucm, certutils or certutils-legacy",
                s,
            )),
        }
    }
}

/// A record to build from a certificate and a role.
#[derive(Clone, Debug)]
pub struct RecordSpec {
    cert: Certificate,
    role: Role,
    dns_name: Option<String>,
    ip_address: Option<IpAddr>,
    certificate_signature: bool,
    certificate_material: bool,
    certificate_hash: Option<DigestAlgorithm>,
}

impl RecordSpec {
    /// A record for `cert` with `role`.
    pub const fn new(cert: Certificate, role: Role) -> Self {
        Self {
            cert,
            role,
            dns_name: None,
            ip_address: None,
            certificate_signature: true,
            certificate_material: true,
            certificate_hash: None,
        }
    }

    /// Sets the DNS name (host name) of the server.
    #[must_use]
    pub fn dns_name(mut self, name: impl Into<String>) -> Self {
        self.dns_name = Some(name.into());
        self
    }

    /// Sets the IP address of the server.
    #[must_use]
    pub const fn ip_address(mut self, ip: IpAddr) -> Self {
        self.ip_address = Some(ip);
        self
    }

    /// Leaves out the certificate's own signature (as CUCM does for eToken SAST records).
    #[must_use]
    pub const fn without_certificate_signature(mut self) -> Self {
        self.certificate_signature = false;
        self
    }

    /// Leaves out the public key, the certificate's signature and the certificate: the
    /// record names a server (role, names, serial, DNS name, address) without vouching for
    /// it, as server records are in non-secure mode.
    #[must_use]
    pub const fn without_certificate(mut self) -> Self {
        self.certificate_material = false;
        self
    }

    /// Adds CERTIFICATE_HASH and HASH_ALGORITHM with this digest of the certificate.
    #[must_use]
    pub const fn certificate_hash(mut self, digest: DigestAlgorithm) -> Self {
        self.certificate_hash = Some(digest);
        self
    }

    /// The certificate.
    pub const fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The role.
    pub const fn role(&self) -> Role {
        self.role
    }

    fn encode(&self, layout: Layout, index: usize) -> Result<Vec<u8>, BuildError> {
        if layout != Layout::Cucm {
            let refuse = |field| {
                Err(BuildError::LayoutCannotCarry {
                    layout,
                    index,
                    field,
                })
            };
            if self.dns_name.is_some() {
                return refuse("DNS name");
            }
            if self.ip_address.is_some() {
                return refuse("IP address");
            }
            if self.certificate_hash.is_some() {
                return refuse("certificate hash");
            }
        }
        let style = layout.name_style();
        let subject = nul_terminated(&self.cert.subject_text(style));
        let issuer = nul_terminated(&self.cert.issuer_text(style));
        let dns = nul_terminated(self.dns_name.as_deref().unwrap_or(""));
        let ip = match self.ip_address {
            Some(IpAddr::V4(v4)) => v4.octets().to_vec(),
            Some(IpAddr::V6(v6)) => v6.octets().to_vec(),
            None => vec![0; 4],
        };
        let hash = self.certificate_hash.map(|d| d.digest(&[self.cert.der()]));
        let mut out = Vec::with_capacity(2048);
        put_tlv(&mut out, record::RECORD_LENGTH.code(), &[0, 0]);
        for &code in layout.record_order() {
            let value: &[u8] = match code {
                2 => &dns,
                3 => &subject,
                4 => &self.role.0.to_be_bytes(),
                5 => &issuer,
                6 => self.cert.serial(),
                7 if self.certificate_material => self.cert.public_key().record_bytes(),
                8 if self.certificate_signature && self.certificate_material => {
                    self.cert.signature()
                }
                9 if self.certificate_material => self.cert.der(),
                10 => &ip,
                11 => match &hash {
                    Some(h) => h,
                    None => continue,
                },
                12 => match self.certificate_hash {
                    Some(d) => &[d.code()],
                    None => continue,
                },
                _ => continue,
            };
            check_u16(value.len(), || {
                format!("record #{} {}", index + 1, crate::Tag::record(code))
            })?;
            put_tlv(&mut out, code, value);
        }
        let len = check_u16(out.len(), || format!("record #{}", index + 1))?;
        if let Some(slot) = out.get_mut(3..5) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
        Ok(out)
    }
}

fn nul_terminated(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

fn check_u16(len: usize, what: impl FnOnce() -> String) -> Result<u16, BuildError> {
    u16::try_from(len).map_err(|_| BuildError::FieldTooLong { what: what(), len })
}

/// A record as it will be written: built from a certificate, or kept from a parsed file.
#[derive(Clone, Debug)]
enum Entry {
    Spec(Box<RecordSpec>),
    Raw {
        bytes: Vec<u8>,
        role: Role,
        serial: Option<Vec<u8>>,
    },
}

/// The common settings of a header.
#[derive(Clone, Debug)]
struct HeaderSettings {
    layout: Layout,
    digest: DigestAlgorithm,
    allow_sha256: bool,
    unchecked: bool,
    signer_version: Option<Option<Version>>,
    filename: String,
    /// TIMESTAMP; `None` until set (this crate reads no clock).
    timestamp: Option<u32>,
}

/// What the signer's certificate contributes to the header.
struct SignerFacts {
    name: Vec<u8>,
    issuer: Vec<u8>,
    serial: Vec<u8>,
    modulus_code: u8,
    signature_len: usize,
}

impl SignerFacts {
    fn of(cert_der: &[u8], layout: Layout) -> Result<Self, BuildError> {
        let cert = Certificate::from_der(cert_der).map_err(BuildError::SignerCertificate)?;
        let bits = match cert.public_key() {
            PublicKey::Rsa { bits, .. } => *bits,
            other => {
                return Err(BuildError::SignerNotRsa {
                    algorithm: other.algorithm(),
                });
            }
        };
        let (modulus_code, signature_len) = match bits {
            512 => (0, 64),
            1024 => (1, 128),
            2048 => (2, 256),
            4096 => (3, 512),
            _ => return Err(BuildError::UnsupportedKeySize { bits }),
        };
        let style = layout.name_style();
        Ok(Self {
            name: nul_terminated(&cert.subject_text(style)),
            issuer: nul_terminated(&cert.issuer_text(style)),
            serial: cert.serial().to_vec(),
            modulus_code,
            signature_len,
        })
    }
}

/// A header laid out without its signature: the bytes before and after the SIGNATURE element.
struct HeaderPlan {
    before: Vec<u8>,
    after: Vec<u8>,
    signature_len: usize,
    /// No check of the returned signature ([`TrustListBuilder::unchecked`]).
    unchecked: bool,
}

impl HeaderPlan {
    fn new(
        settings: &HeaderSettings,
        version: Version,
        signer_version: Option<Version>,
        signer: &SignerFacts,
    ) -> Result<Self, BuildError> {
        if settings.digest == DigestAlgorithm::Sha256 && !settings.allow_sha256 {
            return Err(BuildError::Sha256NotAllowed);
        }
        let mut before = Vec::with_capacity(256);
        put_tlv(
            &mut before,
            header::VERSION.code(),
            &[version.major, version.minor],
        );
        put_tlv(&mut before, header::HEADER_LENGTH.code(), &[0, 0]);
        if let Some(v) = signer_version {
            put_tlv(
                &mut before,
                header::SIGNER_VERSION.code(),
                &[v.major, v.minor],
            );
        }
        let name = (header::SIGNER_NAME.code(), &signer.name);
        let serial = (header::SERIAL_NUMBER.code(), &signer.serial);
        let issuer = (header::ISSUER_NAME.code(), &signer.issuer);
        let children = match settings.layout {
            Layout::Certutils => [name, issuer, serial],
            Layout::Cucm | Layout::CertutilsLegacy => [name, serial, issuer],
        };
        let info_len: usize = children.iter().map(|(_, v)| 3 + v.len()).sum();
        let info_len = check_u16(info_len, || "SIGNER_INFO".to_owned())?;
        before.push(header::SIGNER_INFO.code());
        before.extend_from_slice(&info_len.to_be_bytes());
        for (code, value) in children {
            check_u16(value.len(), || crate::Tag::header(code).to_string())?;
            put_tlv(&mut before, code, value);
        }
        before.extend_from_slice(&[7, 0, 15]);
        put_tlv(
            &mut before,
            header::HASH_ALGORITHM.code(),
            &[settings.digest.code()],
        );
        before.extend_from_slice(&[9, 0, 8]);
        put_tlv(&mut before, header::SIGNATURE_ALGORITHM.code(), &[0]);
        put_tlv(
            &mut before,
            header::SIGNATURE_MODULUS.code(),
            &[signer.modulus_code],
        );

        let mut after = Vec::with_capacity(64);
        let filename = nul_terminated(&settings.filename);
        check_u16(filename.len(), || "FILENAME".to_owned())?;
        put_tlv(&mut after, header::FILENAME.code(), &filename);
        let timestamp = settings.timestamp.ok_or(BuildError::NoTimestamp)?;
        put_tlv(
            &mut after,
            header::TIMESTAMP.code(),
            &timestamp.to_be_bytes(),
        );
        let unpadded = before.len() + 3 + signer.signature_len + after.len();
        let padding = (4 - unpadded % 4) % 4;
        after.extend(core::iter::repeat_n(header::PADDING.code(), padding));
        let header_length = check_u16(unpadded + padding, || "the header".to_owned())?;
        if let Some(slot) = before.get_mut(8..10) {
            slot.copy_from_slice(&header_length.to_be_bytes());
        }
        Ok(Self {
            before,
            after,
            signature_len: signer.signature_len,
            unchecked: settings.unchecked,
        })
    }

    fn len(&self) -> usize {
        self.before.len() + 3 + self.signature_len + self.after.len()
    }

    /// Signs `header ++ body` and returns the file.
    fn sign(
        &self,
        body: &[&[u8]],
        digest: DigestAlgorithm,
        signer: &dyn Signer,
    ) -> Result<Vec<u8>, BuildError> {
        let body_len: usize = body.iter().map(|b| b.len()).sum();
        let mut tbs = Vec::with_capacity(self.before.len() + self.after.len() + body_len);
        tbs.extend_from_slice(&self.before);
        tbs.extend_from_slice(&self.after);
        for part in body {
            tbs.extend_from_slice(part);
        }
        let signature = signer.sign(digest, &tbs).map_err(BuildError::Signer)?;
        if signature.len() != self.signature_len {
            return Err(BuildError::SignatureLength {
                expected: self.signature_len,
                found: signature.len(),
            });
        }
        // A signer is code the builder does not control (a token, a remote service):
        // what it returns is checked before it goes into a file.
        if !self.unchecked {
            RsaVerifier
                .verify(signer.certificate(), digest, [&tbs, &[]], &signature)
                .map_err(BuildError::SignatureDoesNotVerify)?;
        }
        let mut out = Vec::with_capacity(tbs.len() + 3 + signature.len());
        out.extend_from_slice(&self.before);
        put_tlv(&mut out, header::SIGNATURE.code(), &signature);
        out.extend_from_slice(tbs.get(self.before.len()..).unwrap_or_default());
        Ok(out)
    }
}

/// The header setters both builders share (they keep their settings in `self.settings`).
macro_rules! header_setters {
    ($builder:ty) => {
        impl $builder {
            /// Sets the layout.
            pub fn layout(&mut self, layout: Layout) -> &mut Self {
                self.settings.layout = layout;
                self
            }

            /// Sets the digest of the signature.
            pub fn digest(&mut self, digest: DigestAlgorithm) -> &mut Self {
                self.settings.digest = digest;
                self
            }

            /// Allows [`DigestAlgorithm::Sha256`], which no phone is known to accept.
            pub fn allow_sha256(&mut self, allow: bool) -> &mut Self {
                self.settings.allow_sha256 = allow;
                self
            }

            /// Builds without checking what phones check of the signer: that it is a
            /// SAST record of the list, and that its signature verifies with its
            /// certificate. For negative test files, property tests and fuzzers with
            /// test-double signers only: a file built so may be rejected by every phone.
            pub fn unchecked(&mut self, unchecked: bool) -> &mut Self {
                self.settings.unchecked = unchecked;
                self
            }

            /// Sets TIMESTAMP (Unix seconds): required, this crate reads no clock
            /// ([`BuildError::NoTimestamp`] without it). Nodes take only a CTL newer
            /// than the one they hold.
            pub fn timestamp(&mut self, unix_seconds: u32) -> &mut Self {
                self.settings.timestamp = Some(unix_seconds);
                self
            }
        }
    };
}

header_setters!(TrustListBuilder);
header_setters!(SignedFileBuilder);

/// Builds a trust list (`CTLFile.tlv`, `ITLFile.tlv`).
///
/// ```
/// # fn demo(signer: &dyn ctl_format::Signer, cert: ctl_format::Certificate) -> Result<(), ctl_format::BuildError> {
/// use ctl_format::{Layout, RecordSpec, Role, TrustListBuilder};
/// let mut b = TrustListBuilder::new();
/// b.layout(Layout::Cucm).filename("CTLFile.tlv").timestamp(1_735_689_600);
/// b.push(RecordSpec::new(cert, Role::SAST));
/// let bytes = b.build(signer)?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TrustListBuilder {
    settings: HeaderSettings,
    entries: Vec<Entry>,
    /// Past [`MAX_LEN`] allowed ([`TrustListBuilder::oversize`]).
    oversize: bool,
}

impl Default for TrustListBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TrustListBuilder {
    /// A builder with the CUCM layout, SHA-1 and FILENAME `CTLFile.tlv`; the timestamp
    /// must be set ([`timestamp`](Self::timestamp)).
    pub fn new() -> Self {
        Self {
            settings: HeaderSettings {
                layout: Layout::Cucm,
                digest: DigestAlgorithm::Sha1,
                allow_sha256: false,
                unchecked: false,
                signer_version: None,
                filename: "CTLFile.tlv".to_owned(),
                timestamp: None,
            },
            entries: Vec::new(),
            oversize: false,
        }
    }

    /// Sets SIGNER_VERSION (`None` leaves the element out); by default the layout decides.
    pub fn signer_version(&mut self, version: Option<Version>) -> &mut Self {
        self.settings.signer_version = Some(version);
        self
    }

    /// Sets FILENAME.
    pub fn filename(&mut self, name: impl Into<String>) -> &mut Self {
        self.settings.filename = name.into();
        self
    }

    /// Lets the list grow past the phones' [`MAX_LEN`](crate::MAX_LEN), up to
    /// [`MAX_OVERSIZE`](crate::MAX_OVERSIZE): to reproduce the oversized lists other tools
    /// write (every phone refuses them; read them back with
    /// [`ParseOptions::oversize`](crate::ParseOptions::oversize)).
    pub fn oversize(&mut self, oversize: bool) -> &mut Self {
        self.oversize = oversize;
        self
    }

    /// Appends a record built from a certificate.
    pub fn push(&mut self, spec: RecordSpec) -> &mut Self {
        self.entries.push(Entry::Spec(Box::new(spec)));
        self
    }

    /// Appends a record of a parsed file, byte for byte.
    pub fn push_record(&mut self, record: &Record<'_>) -> &mut Self {
        self.entries.push(Entry::Raw {
            bytes: record.as_bytes().to_vec(),
            role: record.role().unwrap_or(Role(u16::MAX)),
            serial: record.serial().map(<[u8]>::to_vec),
        });
        self
    }

    /// Removes and returns the record at `index`, if there is one.
    pub fn remove(&mut self, index: usize) -> Option<()> {
        (index < self.entries.len()).then(|| {
            self.entries.remove(index);
        })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no record yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn encode_records(&self) -> Result<Vec<Vec<u8>>, BuildError> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| match e {
                Entry::Spec(spec) => spec.encode(self.settings.layout, i),
                Entry::Raw { bytes, .. } => Ok(bytes.clone()),
            })
            .collect()
    }

    fn plan(&self, signer_cert: &[u8]) -> Result<(HeaderPlan, Vec<Vec<u8>>), BuildError> {
        if self.entries.is_empty() {
            return Err(BuildError::NoRecords);
        }
        let facts = SignerFacts::of(signer_cert, self.settings.layout)?;
        if !self.settings.unchecked {
            self.check_signer_in_list(&facts.serial)?;
        }
        let signer_version = self
            .settings
            .signer_version
            .unwrap_or_else(|| self.settings.layout.default_signer_version());
        let plan = HeaderPlan::new(&self.settings, Version::V1_2, signer_version, &facts)?;
        let records = self.encode_records()?;
        let size = plan.len() + records.iter().map(Vec::len).sum::<usize>();
        let limit = if self.oversize {
            crate::MAX_OVERSIZE
        } else {
            MAX_LEN
        };
        if size > limit {
            let mut largest: Vec<(usize, Role, usize)> = records
                .iter()
                .enumerate()
                .map(|(i, r)| (i, self.role_of(i), r.len()))
                .collect();
            largest.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
            largest.truncate(3);
            return Err(BuildError::TooLarge {
                size,
                limit,
                largest,
            });
        }
        Ok((plan, records))
    }

    /// The signer must be one of the list's SAST records (by serial, as phones and
    /// [`Document::signer_record`](crate::Document::signer_record) find it).
    fn check_signer_in_list(&self, serial: &[u8]) -> Result<(), BuildError> {
        let mut other_role = None;
        for e in &self.entries {
            let (role, found) = match e {
                Entry::Spec(spec) => (spec.role, Some(spec.cert.serial())),
                Entry::Raw { role, serial, .. } => (*role, serial.as_deref()),
            };
            if found.is_some_and(|s| serials_equal(s, serial)) {
                if role == Role::SAST {
                    return Ok(());
                }
                other_role.get_or_insert(role);
            }
        }
        Err(BuildError::SignerNotInList {
            serial: hex(serial),
            other_role,
        })
    }

    fn role_of(&self, index: usize) -> Role {
        match self.entries.get(index) {
            Some(Entry::Spec(s)) => s.role,
            Some(Entry::Raw { role, .. }) => *role,
            None => Role(u16::MAX),
        }
    }

    /// The exact size of the file this builder writes when `signer_cert` signs it.
    ///
    /// # Errors
    /// The errors of [`build`](Self::build) that do not need the signer to sign.
    pub fn encoded_len(&self, signer_cert: &[u8]) -> Result<usize, BuildError> {
        let (plan, records) = self.plan(signer_cert)?;
        Ok(plan.len() + records.iter().map(Vec::len).sum::<usize>())
    }

    /// Lays out, signs and returns the file.
    ///
    /// # Errors
    /// A file over 64 KiB, a signer that is not RSA of a supported size, a layout
    /// that cannot carry a record's fields, or the signer's own failure.
    pub fn build(&self, signer: &dyn Signer) -> Result<Vec<u8>, BuildError> {
        let (plan, records) = self.plan(signer.certificate())?;
        let parts: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        plan.sign(&parts, self.settings.digest, signer)
    }
}

/// Builds a signed file (`*.sgn`): a header followed by the payload.
#[derive(Clone, Debug)]
pub struct SignedFileBuilder {
    settings: HeaderSettings,
}

impl SignedFileBuilder {
    /// A builder with the CUCM layout, SHA-1 and no SIGNER_VERSION; the timestamp must be
    /// set ([`timestamp`](Self::timestamp)).
    pub fn new(filename: impl Into<String>) -> Self {
        Self {
            settings: HeaderSettings {
                layout: Layout::Cucm,
                digest: DigestAlgorithm::Sha1,
                allow_sha256: false,
                unchecked: false,
                signer_version: Some(None),
                filename: filename.into(),
                timestamp: None,
            },
        }
    }

    /// Signs `payload` and returns the `.sgn` file.
    ///
    /// # Errors
    /// A signer that is not RSA of a supported size, or the signer's own failure.
    pub fn build(&self, payload: &[u8], signer: &dyn Signer) -> Result<Vec<u8>, BuildError> {
        let facts = SignerFacts::of(signer.certificate(), self.settings.layout)?;
        let plan = HeaderPlan::new(&self.settings, Version::V1_0, None, &facts)?;
        plan.sign(&[payload], self.settings.digest, signer)
    }
}
