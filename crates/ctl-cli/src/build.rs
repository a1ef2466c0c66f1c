//! `ctl build` and `ctl sign`.

use std::path::PathBuf;

use clap::ArgMatches;
use ctl_format::{
    BuildError, Certificate, DigestAlgorithm, Layout, RecordSpec, Role, SignedFileBuilder,
    TrustListBuilder, Version, lint, parse_trust_list,
};

use crate::failure::{Failure, Outcome};
use crate::files::{base_name, display, holds_private_key, read_capped, write_atomic};
use crate::render::now;
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
    /// Digest of the signature: sha1 or sha512 (sha256 with --allow-sha256).
    #[arg(long, default_value = "sha1")]
    digest: DigestAlgorithm,
    /// SIGNER_VERSION: none, 1.0 or 1.1 (default: none for cucm, 1.0 for certutils layouts).
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

/// One certificate argument, split into its source and options.
struct RecordArg {
    role: Role,
    /// A file, or a `pkcs11:` URI (the certificate on a token).
    path: PathBuf,
    dns: Option<String>,
    ip: Option<std::net::IpAddr>,
    no_signature: bool,
    hash: bool,
}

fn parse_record_arg(role: Role, value: &str) -> Result<RecordArg, Failure> {
    let mut parts: Vec<&str> = value.split(',').collect();
    let mut arg = RecordArg {
        role,
        path: PathBuf::new(),
        dns: None,
        ip: None,
        no_signature: false,
        hash: false,
    };
    while parts.len() > 1 {
        let last = parts.last().copied().unwrap_or_default();
        if let Some(d) = last.strip_prefix("dns=") {
            arg.dns = Some(d.to_owned());
        } else if let Some(ip) = last.strip_prefix("ip=") {
            arg.ip =
                Some(ip.parse().map_err(|_| {
                    Failure::usage(format!("{value}: ip={ip} is not an IP address"))
                })?);
        } else if last == "no-signature" {
            arg.no_signature = true;
        } else if last == "hash" {
            arg.hash = true;
        } else {
            break;
        }
        parts.pop();
    }
    arg.path = PathBuf::from(parts.join(","));
    Ok(arg)
}

/// The record arguments in command-line order.
fn records_in_order(
    args: &BuildArgs,
    matches: Option<&ArgMatches>,
) -> Result<Vec<RecordArg>, Failure> {
    let groups: [(&str, Role, &Vec<String>); 7] = [
        ("sast", Role::SAST, &args.sast),
        ("ccm", Role::CCM, &args.ccm),
        ("ccm_tftp", Role::CCM_TFTP, &args.ccm_tftp),
        ("tftp", Role::TFTP, &args.tftp),
        ("capf", Role::CAPF, &args.capf),
        ("app_server", Role::APP_SERVER, &args.app_server),
        ("tvs", Role::TVS, &args.tvs),
    ];
    let mut ordered: Vec<(usize, RecordArg)> = Vec::new();
    let index_of = |id: &str, n: usize| -> usize {
        matches
            .and_then(|m| m.indices_of(id))
            .and_then(|mut i| i.nth(n))
            .unwrap_or(usize::MAX)
    };
    for (id, role, values) in groups {
        for (n, v) in values.iter().enumerate() {
            ordered.push((index_of(id, n), parse_record_arg(role, v)?));
        }
    }
    for (n, v) in args.record.iter().enumerate() {
        let (role, rest) = v
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--record {v}: expected ROLE=PEM")))?;
        let role: Role = role
            .parse()
            .map_err(|e| Failure::usage(format!("--record {v}: {e}")))?;
        ordered.push((index_of("record", n), parse_record_arg(role, rest)?));
    }
    ordered.sort_by_key(|(i, _)| *i);
    Ok(ordered.into_iter().map(|(_, r)| r).collect())
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

pub(crate) fn run_build(args: &BuildArgs, matches: Option<&ArgMatches>) -> Outcome {
    let records = records_in_order(args, matches)?;
    if records.is_empty() {
        return Err(Failure::usage(
            "build: no records; give --sast, --ccm, --ccm-tftp, --tftp, --capf, --app-server, --tvs or --record",
        ));
    }
    let certs: Vec<Certificate> = records
        .iter()
        .map(|r| signing::certificate(&r.path.to_string_lossy()))
        .collect::<Result<_, _>>()?;
    let signer = match &args.signer {
        Some(s) => signing::open(s, &certs, args.allow_factory_pin)?,
        None => {
            let first = records
                .iter()
                .find(|r| r.role == Role::SAST && (is_uri(&r.path.to_string_lossy()) || holds_private_key(&r.path)))
                .ok_or_else(|| {
                    Failure::usage("build: no signer; give --signer, or a --sast token URI or file that holds a private key")
                })?;
            signing::open(
                &first.path.to_string_lossy(),
                &certs,
                args.allow_factory_pin,
            )?
        }
    };
    let mut b = TrustListBuilder::new();
    b.layout(args.layout)
        .digest(args.digest)
        .allow_sha256(args.allow_sha256)
        .filename(match &args.filename {
            Some(f) => f.clone(),
            None => base_name(&args.out)?,
        })
        .timestamp(match args.timestamp {
            Some(t) => t,
            None => u32::try_from(now()).unwrap_or(u32::MAX),
        });
    if let Some(v) = signer_version(args.signer_version.as_deref())? {
        b.signer_version(v);
    }
    for (r, cert) in records.iter().zip(certs) {
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
            spec = spec.certificate_hash(args.digest);
        }
        b.push(spec);
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
    let signer_name = Certificate::from_der(signer.certificate())
        .map(|c| c.subject_text(args.layout.name_style()))
        .unwrap_or_default();
    outln!(
        "wrote {out}: {} bytes, {} records, {} signature by {signer_name}; room for {} more 2048-bit records",
        bytes.len(),
        doc.records().len(),
        args.digest,
        ctl_format::room_for_records(bytes.len())
    );
    Ok(())
}

/// A signer that failed is a failure (exit 1); anything else is a wrong call (exit 2).
fn build_failure(out: &str, e: &BuildError) -> Failure {
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

/// Arguments of `ctl sign`.
#[derive(clap::Args, Debug)]
pub(crate) struct SignArgs {
    /// The file to sign (a phone configuration, ring list, ...).
    file: PathBuf,
    /// Where to write the signed file (default: FILE.sgn).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The TFTP / CCM+TFTP identity: PEM with the key and certificate, or a pkcs11: URI.
    #[arg(long, value_name = "PEM|URI")]
    signer: String,
    /// Sign with a token still on its factory PIN (labs only).
    #[arg(long)]
    allow_factory_pin: bool,
    /// Digest: sha1 or sha512 (sha256 with --allow-sha256).
    #[arg(long, default_value = "sha1")]
    digest: DigestAlgorithm,
    /// Byte layout: cucm, certutils or certutils-legacy.
    #[arg(long, default_value = "cucm")]
    layout: Layout,
    /// TIMESTAMP in Unix seconds (default: now).
    #[arg(long, value_name = "T")]
    timestamp: Option<u32>,
    /// Allow --digest sha256.
    #[arg(long)]
    allow_sha256: bool,
}

/// Payloads of signed files are at most this large.
const MAX_PAYLOAD: u64 = 64 * 1024 * 1024;

pub(crate) fn run_sign(args: &SignArgs) -> Outcome {
    let payload = read_capped(&args.file, MAX_PAYLOAD)?;
    let signer = signing::open(&args.signer, &[], args.allow_factory_pin)?.shared();
    let out = args.out.clone().unwrap_or_else(|| {
        let mut p = args.file.clone().into_os_string();
        p.push(".sgn");
        PathBuf::from(p)
    });
    let mut b = SignedFileBuilder::new(format!("{}.sgn", base_name(&args.file)?));
    b.layout(args.layout)
        .digest(args.digest)
        .allow_sha256(args.allow_sha256)
        .timestamp(match args.timestamp {
            Some(t) => t,
            None => u32::try_from(now()).unwrap_or(u32::MAX),
        });
    let bytes = b
        .build(&payload, &*signer)
        .map_err(|e| build_failure(&display(&out), &e))?;
    write_atomic(&out, &bytes)?;
    outln!(
        "wrote {}: {} bytes ({} payload), {} signature",
        display(&out),
        bytes.len(),
        payload.len(),
        args.digest
    );
    Ok(())
}
