//! `ctl build`: a trust list from certificates, or from an existing list re-signed,
//! renamed or with records added and removed.

mod records;

use std::path::PathBuf;

use clap::ArgMatches;
use ctl_format::{
    BuildError, Certificate, DigestAlgorithm, Document, Layout, RecordSpec, Role, TrustListBuilder,
    Version, lint, parse_trust_list,
};

use self::records::{RecordArg, records_in_order};
use crate::check::load_trust;
use crate::failure::{Failure, Outcome};
use crate::files::{
    ReadOptions, base_name, display, holds_private_key, read_document, write_atomic,
};
use crate::render::{now, role_name};
use crate::signing::{self, is_uri};

/// Arguments of `ctl build`. Records are written in command-line order.
///
/// Each certificate argument is `PATH[,dns=NAME][,ip=ADDR][,no-signature][,hash]`:
/// DNS name, IP address and a CERTIFICATE_HASH (cucm layout only); `no-signature`
/// leaves out the certificate's own signature, as CUCM does for eToken records.
#[derive(clap::Args, Debug)]
pub(crate) struct BuildArgs {
    /// Where to write the file (atomically).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Byte layout: cucm, certutils (v4.13) or certutils-legacy (v4.12).
    #[arg(long, default_value = "cucm")]
    layout: Layout,
    /// Digest of the signature: sha1 or sha512 (sha256 with --allow-sha256). Default:
    /// that of the --from list, else sha1.
    #[arg(long)]
    digest: Option<DigestAlgorithm>,
    /// SIGNER_VERSION: none, 1.0 or 1.1 (default: that of the --from list, else none for
    /// cucm and 1.0 for the certutils layouts).
    #[arg(long, value_name = "V")]
    signer_version: Option<String>,
    /// FILENAME in the header (default: the base name of --out).
    #[arg(long, value_name = "NAME")]
    filename: Option<String>,
    /// TIMESTAMP in Unix seconds (default: now).
    #[arg(long, value_name = "T")]
    timestamp: Option<u32>,
    /// The signing key: a pkcs11: URI (a key on a token), PEM with key and certificate, or a key
    /// whose certificate is one of the --sast files. Default: the first --sast that is a token
    /// URI or a file holding a private key.
    #[arg(long, value_name = "PEM|URI")]
    signer: Option<String>,
    /// The certificate of a --signer key file (PEM or DER), when the key file holds only
    /// the key (as openssl writes them).
    #[arg(long, value_name = "PEM")]
    cert: Option<PathBuf>,
    /// Start from the records of this trust list (re-sign, rename with --filename, add
    /// records with the record flags, remove them with --remove).
    #[arg(long, value_name = "TLV")]
    from: Option<PathBuf>,
    /// Leave out record N of the --from list (numbered from 1, as `inspect` shows them).
    #[arg(long, value_name = "N", requires = "from")]
    remove: Vec<usize>,
    /// Sign with a token still on its factory PIN (labs only).
    #[arg(long)]
    allow_factory_pin: bool,
    /// Allow --digest sha256, which no phone is known to accept.
    #[arg(long)]
    allow_sha256: bool,
    /// A SAST (security token) record.
    #[arg(long, value_name = "PEM")]
    sast: Vec<String>,
    /// A CallManager record.
    #[arg(long, value_name = "PEM")]
    ccm: Vec<String>,
    /// A CallManager + TFTP record.
    #[arg(long, value_name = "PEM")]
    ccm_tftp: Vec<String>,
    /// A TFTP record.
    #[arg(long, value_name = "PEM")]
    tftp: Vec<String>,
    /// A CAPF record.
    #[arg(long, value_name = "PEM")]
    capf: Vec<String>,
    /// An application server record.
    #[arg(long, value_name = "PEM")]
    app_server: Vec<String>,
    /// A TVS record.
    #[arg(long, value_name = "PEM")]
    tvs: Vec<String>,
    /// A record with any role, by name or number: ROLE=PEM.
    #[arg(long, value_name = "ROLE=PEM")]
    record: Vec<String>,
}

fn signer_version(text: Option<&str>) -> Result<Option<Option<Version>>, Failure> {
    match text {
        None => Ok(None),
        Some("none") => Ok(Some(None)),
        Some(v) => v
            .parse()
            .map(|v| Some(Some(v)))
            .map_err(|e| Failure::usage(format!("--signer-version: {e}"))),
    }
}

/// The --from list, read as a phone holds one (at most 64 KiB).
fn read_from(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    read_document(path, ReadOptions::default())
}

/// The records kept of the --from list: all but the --remove ones.
fn kept_records<'a>(
    doc: &'a Document<'a>,
    from: &std::path::Path,
    remove: &[usize],
) -> Result<Vec<&'a ctl_format::Record<'a>>, Failure> {
    let n = doc.records().len();
    if let Some(bad) = remove.iter().find(|i| **i == 0 || **i > n) {
        return Err(Failure::usage(format!(
            "--remove {bad}: {} has records #1 to #{n}",
            display(from)
        )));
    }
    Ok(doc
        .records()
        .iter()
        .enumerate()
        .filter(|(i, _)| !remove.contains(&(i + 1)))
        .map(|(_, r)| r)
        .collect())
}

fn spec_of(r: &RecordArg, cert: Certificate, digest: DigestAlgorithm) -> RecordSpec {
    let mut spec = RecordSpec::new(cert, r.role);
    if let Some(d) = &r.dns {
        spec = spec.dns_name(d.clone());
    }
    if let Some(ip) = r.ip {
        spec = spec.ip_address(ip);
    }
    if r.no_signature {
        spec = spec.without_certificate_signature();
    }
    if r.hash {
        spec = spec.certificate_hash(digest);
    }
    spec
}

pub(crate) fn run_build(args: &BuildArgs, matches: Option<&ArgMatches>) -> Outcome {
    let records = records_in_order(args, matches)?;
    let from_bytes = args.from.as_deref().map(read_from).transpose()?;
    let from = match (&args.from, &from_bytes) {
        (Some(path), Some(bytes)) => Some((path, load_trust(path, bytes, ReadOptions::default())?)),
        _ => None,
    };
    if records.is_empty() && from.is_none() {
        return Err(Failure::usage(
            "build: no records; give --sast, --ccm, --ccm-tftp, --tftp, --capf, --app-server, --tvs, --record or --from",
        ));
    }
    let kept = match &from {
        Some((path, doc)) => kept_records(doc, path, &args.remove)?,
        None => Vec::new(),
    };
    let certs: Vec<Certificate> = records
        .iter()
        .map(|r| signing::certificate(&r.path.to_string_lossy()))
        .collect::<Result<_, _>>()?;
    // A key file finds its certificate among the new records and the kept ones.
    let mut candidates = certs.clone();
    candidates.extend(
        kept.iter()
            .filter_map(|r| r.certificate())
            .filter_map(|der| Certificate::from_der(der).ok()),
    );
    let signer = match &args.signer {
        Some(s) => signing::open(s, args.cert.as_deref(), &candidates, args.allow_factory_pin)?,
        None if args.cert.is_some() => {
            return Err(Failure::usage(
                "build: --cert names the certificate of a --signer key file; give --signer",
            ));
        }
        None => {
            let first = records
                .iter()
                .find(|r| r.role == Role::SAST && (is_uri(&r.path.to_string_lossy()) || holds_private_key(&r.path)))
                .ok_or_else(|| {
                    Failure::usage("build: no signer; give --signer, or a --sast token URI or file that holds a private key")
                })?;
            signing::open(
                &first.path.to_string_lossy(),
                None,
                &candidates,
                args.allow_factory_pin,
            )?
        }
    };
    let held = from.as_ref().map(|(_, d)| d.header());
    let digest = args
        .digest
        .or_else(|| held.map(|h| h.digest()))
        .unwrap_or(DigestAlgorithm::Sha1);
    let mut b = TrustListBuilder::new();
    b.layout(args.layout)
        .digest(digest)
        .allow_sha256(args.allow_sha256)
        .filename(match &args.filename {
            Some(f) => f.clone(),
            None => base_name(&args.out)?,
        })
        .timestamp(match args.timestamp {
            Some(t) => t,
            None => u32::try_from(now()).unwrap_or(u32::MAX),
        });
    match signer_version(args.signer_version.as_deref())? {
        Some(v) => {
            b.signer_version(v);
        }
        // A re-signed list keeps what its SIGNER_VERSION enabled (EC records).
        None => {
            if let Some(h) = held {
                b.signer_version(h.signer_version());
            }
        }
    }
    for r in &kept {
        b.push_record(r);
    }
    for (r, cert) in records.iter().zip(certs) {
        b.push(spec_of(r, cert, digest));
    }
    let out = display(&args.out);
    let signer = signer.shared();
    let bytes = b.build(&*signer).map_err(|e| build_failure(&out, &e))?;
    let doc = parse_trust_list(&bytes)
        .map_err(|e| Failure::failed(format!("{out}: built file does not parse: {e}")))?;
    for w in lint(&doc, now()) {
        errln!("warning: {out}: {w}");
    }
    write_atomic(&args.out, &bytes)?;
    if let Some((path, old)) = &from {
        let removed: Vec<String> = args
            .remove
            .iter()
            .filter_map(|i| {
                let r = old.records().get(i - 1)?;
                Some(format!("#{i} ({})", role_name(r.role())))
            })
            .collect();
        outln!(
            "from {}: kept {} of {} records{}, added {}",
            display(path),
            kept.len(),
            old.records().len(),
            if removed.is_empty() {
                String::new()
            } else {
                format!(" (removed {})", removed.join(", "))
            },
            records.len()
        );
    }
    let signer_name = Certificate::from_der(signer.certificate())
        .map(|c| c.subject_text(args.layout.name_style()))
        .unwrap_or_default();
    outln!(
        "wrote {out}: {} bytes, {} records, {digest} signature by {signer_name}; room for {} more 2048-bit records",
        bytes.len(),
        doc.records().len(),
        ctl_format::room_for_records(bytes.len())
    );
    Ok(())
}

/// A signer that failed is a failure (exit 1); anything else is a wrong call (exit 2).
pub(crate) fn build_failure(out: &str, e: &BuildError) -> Failure {
    let message = format!("{out}: {e}");
    match e {
        BuildError::Signer(_)
        | BuildError::SignatureLength { .. }
        | BuildError::SignatureDoesNotVerify(_) => Failure::failed(message),
        // The library says "allow it explicitly"; here that is a flag.
        BuildError::Sha256NotAllowed => Failure::usage(format!("{message} (--allow-sha256)")),
        _ => Failure::usage(message),
    }
}
