//! Reading inputs with size caps, and writing outputs atomically.

use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use ctl_format::{Document, FileKind, MAX_LEN, MAX_OVERSIZE, ParseOptions};

use crate::failure::Failure;

/// Options shared by the commands that read files.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub(crate) struct ReadOptions {
    /// Accept SHA-256 (digest code 2), which no phone is known to use.
    #[arg(long)]
    pub(crate) allow_sha256: bool,
    /// Refuse elements with unknown tags and padding before the end of the header.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Read trust lists over the phones' 64 KiB (up to 1 MiB), to show them (`inspect`).
    #[arg(skip)]
    pub(crate) oversize: bool,
}

/// A path as messages show it.
pub(crate) fn display(path: &Path) -> String {
    path.display().to_string()
}

/// `.sgn` payloads (images, ring tones) can be larger than trust lists; nothing is larger than this.
const MAX_SIGNED_LEN: u64 = 64 * 1024 * 1024;

/// Certificates and keys are small.
const MAX_CERT_LEN: u64 = 1024 * 1024;

/// Reads at most `limit` bytes of `path`, refusing larger files with their size.
pub(crate) fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, Failure> {
    let io = |e: std::io::Error| {
        Failure::failed(format!("{}: {}", display(path), ctl_format::io_words(&e)))
    };
    let file = File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    file.take(limit + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > limit {
        let size = fs::metadata(path)
            .map(|m| m.len())
            .unwrap_or(buf.len() as u64);
        return Err(Failure::usage(format!(
            "{}: file too large: expected at most {limit} bytes, found {size}",
            display(path)
        )));
    }
    Ok(buf)
}

/// The kind a file name suggests, or `None` to let the header decide.
pub(crate) fn kind_of(path: &Path) -> Option<FileKind> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("sgn" | "sha512") => Some(FileKind::Signed),
        Some("tlv") => Some(FileKind::TrustList),
        _ => None,
    }
}

/// Reads a CTL, ITL or `.sgn` file (a trust list up to 1 MiB with `oversize`).
pub(crate) fn read_document(path: &Path, options: ReadOptions) -> Result<Vec<u8>, Failure> {
    let limit = match kind_of(path) {
        Some(FileKind::TrustList) if options.oversize => MAX_OVERSIZE as u64,
        Some(FileKind::TrustList) => MAX_LEN as u64,
        _ => MAX_SIGNED_LEN,
    };
    read_capped(path, limit)
}

/// Parses bytes read from `path`, naming the file in the error.
pub(crate) fn parse<'a>(
    path: &Path,
    bytes: &'a [u8],
    options: ReadOptions,
) -> Result<Document<'a>, Failure> {
    let mut parse_options = ParseOptions::default();
    if options.allow_sha256 {
        parse_options = parse_options.with_sha256();
    }
    if options.strict {
        parse_options = parse_options.strict();
    }
    if options.oversize {
        parse_options = parse_options.oversize();
    }
    ctl_format::parse_with(bytes, kind_of(path), &parse_options)
        .map_err(|e| Failure::usage(format!("{}: {e}", display(path))))
}

/// Reads a certificate file (PEM or DER).
pub(crate) fn read_certificate(path: &Path) -> Result<ctl_format::Certificate, Failure> {
    let bytes = read_capped(path, MAX_CERT_LEN)?;
    ctl_format::Certificate::from_der_or_pem(&bytes)
        .map_err(|e| Failure::usage(format!("{}: {e}", display(path))))
}

/// Whether a file holds a private key (PEM).
pub(crate) fn holds_private_key(path: &Path) -> bool {
    read_capped(path, MAX_CERT_LEN).is_ok_and(|b| ctl_token::SoftwareSigner::has_private_key(&b))
}

/// Writes `bytes` to `path` so that a crash leaves the old file or the new one:
/// a temporary file in the same directory, fsync, rename, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let fail = |e: std::io::Error| {
        Failure::failed(format!("{}: {}", display(path), ctl_format::io_words(&e)))
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Failure::usage(format!("{}: not a file name", display(path))))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

/// The base name of a path, as text.
pub(crate) fn base_name(path: &Path) -> Result<String, Failure> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Failure::usage(format!("{}: not a file name", display(path))))
}
