//! Which records the site's lists carry, and the phones' rules a built list must pass:
//! pure, from the manifest and the certificates already read.

use ctl_format::lint::{Linter, Warning};
use ctl_format::{Certificate, Document, RecordSpec, Role, TrustListBuilder};

use crate::error::ProvisionError;
use crate::manifest::Manifest;

/// The two lists a site serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum List {
    /// `ITLFile.tlv`: every phone loads it.
    Itl,
    /// `CTLFile.tlv`: mixed mode.
    Ctl,
}

impl List {
    /// The site-wide file name, also the FILENAME of the per-device copies.
    pub const fn file_name(self) -> &'static str {
        match self {
            Self::Itl => "ITLFile.tlv",
            Self::Ctl => "CTLFile.tlv",
        }
    }

    /// The per-device file name prefix (`ITLSEP`, `CTLSEP`).
    pub const fn device_prefix(self) -> &'static str {
        match self {
            Self::Itl => "ITLSEP",
            Self::Ctl => "CTLSEP",
        }
    }
}

/// The ITL holds this many SAST records at most: what phones are documented to hold.
const ITL_SAST: usize = ctl_format::lint::MAX_SAST_ITL;

/// The certificates a run works with.
#[derive(Debug)]
pub(crate) struct Certs {
    pub(crate) sast: Vec<Certificate>,
    pub(crate) tftp: Certificate,
    /// One per manifest server, in order.
    pub(crate) servers: Vec<Certificate>,
    /// The old SAST of a migration: it signs bridge lists, which carry it first.
    pub(crate) bridge: Option<Certificate>,
}

impl Certs {
    /// The certificate that signs the lists: the bridge's old SAST, else the first SAST.
    pub(crate) fn list_signer(&self) -> Option<&Certificate> {
        self.bridge.as_ref().or_else(|| self.sast.first())
    }
}

/// The builder of `list`, without its timestamp: SAST records first (a migration's old
/// SAST, then the site's; two in an ITL, four in a CTL), then the TFTP signer's record unless a server record already gives its
/// certificate a config-signing role, then the servers in manifest order.
pub(crate) fn builder(manifest: &Manifest, certs: &Certs, list: List) -> TrustListBuilder {
    let mut b = TrustListBuilder::new();
    b.layout(manifest.layout)
        .digest(manifest.digest)
        .filename(list.file_name());
    let version = manifest
        .signer_version
        .or_else(|| manifest.layout.default_signer_version());
    b.signer_version(version);
    let limit = match list {
        List::Itl => ITL_SAST,
        List::Ctl => ctl_format::lint::MAX_SAST_CTL,
    };
    let bridge = certs
        .bridge
        .iter()
        .filter(|old| !certs.sast.iter().any(|c| c.der() == old.der()));
    for cert in bridge.chain(&certs.sast).take(limit) {
        b.push(RecordSpec::new(cert.clone(), Role::SAST));
    }
    let servers: Vec<_> = manifest
        .servers
        .iter()
        .zip(&certs.servers)
        .filter(|(s, _)| list == List::Itl || s.in_ctl())
        .collect();
    let tftp_listed = servers
        .iter()
        .any(|(s, c)| s.role.signs_configs() && c.der() == certs.tftp.der());
    if !tftp_listed {
        b.push(RecordSpec::new(certs.tftp.clone(), Role::TFTP));
    }
    for (server, cert) in servers {
        let mut spec = RecordSpec::new(cert.clone(), server.role);
        if let Some(d) = &server.dns {
            spec = spec.dns_name(d.clone());
        }
        if let Some(ip) = server.ip {
            spec = spec.ip_address(ip);
        }
        b.push(spec);
    }
    b
}

/// Whether a lint warning stops the run: every rule but the ones that only inform
/// (a certificate expiring soon, a digest the operator chose, a size under the limit),
/// unless the manifest allows its code.
fn blocks(warning: &Warning, allow: &[String]) -> bool {
    let informs = matches!(
        warning,
        Warning::ExpiresSoon { .. } | Warning::DigestNeedsFirmware { .. }
    ) || matches!(warning, Warning::NearSizeLimit { size } if *size <= ctl_format::MAX_LEN);
    !informs && !allow.iter().any(|a| a == warning.code())
}

/// The signer rules (`ctl_format::lint::signer_warnings`) applied to the key that signs
/// the configurations, before any is signed: phones refuse a `.sgn` of a key they cannot
/// check.
pub(crate) fn check_config_signer(
    manifest: &Manifest,
    cert: &Certificate,
) -> Result<Vec<String>, ProvisionError> {
    let warnings = match cert.public_key() {
        ctl_format::PublicKey::Rsa { bits, .. } => {
            ctl_format::lint::signer_warnings(bits.div_ceil(8), manifest.digest)
        }
        // Not RSA: the signer refuses to open (`KeyNotRsa`) before it signs anything.
        _ => Vec::new(),
    };
    judge(manifest, "the .sgn files", warnings)
}

/// The first blocking warning refuses `file`; the others come back as words.
fn judge(
    manifest: &Manifest,
    file: &str,
    warnings: Vec<Warning>,
) -> Result<Vec<String>, ProvisionError> {
    let mut notes = Vec::new();
    for w in warnings {
        if blocks(&w, &manifest.allow) {
            return Err(ProvisionError::Refused {
                file: file.to_owned(),
                code: w.code(),
                warning: w.to_string(),
                phones: w.phones(),
            });
        }
        notes.push(format!("{file}: {w} [{}; {}]", w.code(), w.phones()));
    }
    Ok(notes)
}

/// Lints a built list as the site's own (its SAST keys are the user's): the first
/// blocking warning refuses it; the others are returned, as words.
pub(crate) fn check(
    manifest: &Manifest,
    certs: &Certs,
    file: &str,
    doc: &Document<'_>,
    now: u64,
) -> Result<Vec<String>, ProvisionError> {
    let mut linter = Linter::new(now);
    for c in certs.sast.iter().chain(&certs.bridge) {
        linter.own_key(c.public_key());
    }
    let notes = judge(manifest, file, linter.run(doc))?;
    ctl_format::phone_accepts(None, doc, &ctl_format::RsaVerifier).map_err(|reason| {
        ProvisionError::PhoneRefuses {
            file: file.to_owned(),
            reason,
        }
    })?;
    Ok(notes)
}
