//! `ctl sign`: a file signed as FILE.sgn.

use std::path::PathBuf;

use ctl_format::{DigestAlgorithm, Layout, SignedFileBuilder};

use crate::build::build_failure;
use crate::failure::Outcome;
use crate::files::{base_name, display, read_capped, write_atomic};
use crate::render::now;
use crate::signing;

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
    /// The certificate of a --signer key file (PEM or DER), when the key file holds only
    /// the key.
    #[arg(long, value_name = "PEM")]
    cert: Option<PathBuf>,
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

pub(crate) fn run(args: &SignArgs) -> Outcome {
    let payload = read_capped(&args.file, MAX_PAYLOAD)?;
    let signer = signing::open(
        &args.signer,
        args.cert.as_deref(),
        &[],
        args.allow_factory_pin,
    )?
    .shared();
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
