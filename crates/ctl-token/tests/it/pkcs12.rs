//! Keys from PKCS #12 files that OpenSSL writes, as CUCM's ITLRecovery.p12 export is one.

use std::path::{Path, PathBuf};
use std::process::Command;

use ctl_format::{Certificate, Signer as _};
use ctl_token::{Error, SoftwareSigner};
use secrecy::SecretString;

fn keys() -> PathBuf {
    ctl_test_support::keys()
}

/// `openssl pkcs12 -export` of the itlrecovery vector key with `extra` options; the
/// password goes through the environment, never the command line.
fn export(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let o = Command::new("openssl")
        .args(["pkcs12", "-export", "-inkey"])
        .arg(keys().join("itlrecovery.key.pem"))
        .args(["-passout", "env:P12_PASSWORD", "-out"])
        .arg(&out)
        .args(extra)
        .env("P12_PASSWORD", "s3cret")
        .output()
        .expect("openssl is required (scripts/test installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn password(p: &str) -> SecretString {
    SecretString::from(p.to_owned())
}

fn itlrecovery() -> Certificate {
    ctl_test_support::certificate("itlrecovery")
}

#[test]
fn openssl_s_default_and_legacy_exports_give_the_key_and_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = keys().join("itlrecovery.crt.pem");
    let cert = cert.to_str().unwrap();
    let cases = [
        ("modern.p12", vec!["-in", cert]),
        (
            "legacy.p12",
            vec![
                "-in",
                cert,
                "-certpbe",
                "PBE-SHA1-3DES",
                "-keypbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        ),
        ("sha512-mac.p12", vec!["-in", cert, "-macalg", "sha512"]),
    ];
    for (name, extra) in cases {
        let p12 = export(dir.path(), name, &extra);
        let signer = SoftwareSigner::from_pkcs12_file(&p12, &password("s3cret"), &[])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(signer.certificate(), itlrecovery().der(), "{name}");
        let sig = signer
            .sign(ctl_format::DigestAlgorithm::Sha1, b"bridge")
            .unwrap();
        assert_eq!(sig.len(), 256, "{name}");
    }
}

#[test]
fn a_key_without_its_certificate_finds_it_among_the_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let p12 = export(dir.path(), "nocerts.p12", &["-nocerts"]);
    let e = SoftwareSigner::from_pkcs12_file(&p12, &password("s3cret"), &[]).unwrap_err();
    assert!(matches!(e, Error::NoCertificate { .. }), "{e}");
    let candidates = [ctl_test_support::certificate("sast1"), itlrecovery()];
    let signer = SoftwareSigner::from_pkcs12_file(&p12, &password("s3cret"), &candidates).unwrap();
    assert_eq!(signer.certificate(), itlrecovery().der());
}

#[test]
fn a_wrong_password_and_a_damaged_file_are_told_apart_without_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let cert = keys().join("itlrecovery.crt.pem");
    let p12 = export(dir.path(), "x.p12", &["-in", cert.to_str().unwrap()]);
    let e = SoftwareSigner::from_pkcs12_file(&p12, &password("hunter2"), &[]).unwrap_err();
    assert!(matches!(e, Error::WrongPassword { .. }), "{e}");
    assert!(!e.to_string().contains("hunter2"));
    let mut bytes = std::fs::read(&p12).unwrap();
    let n = bytes.len();
    bytes.truncate(n / 2);
    std::fs::write(&p12, &bytes).unwrap();
    let e = SoftwareSigner::from_pkcs12_file(&p12, &password("s3cret"), &[]).unwrap_err();
    assert!(e.to_string().contains("PKCS #12"), "{e}");
    // Not a PKCS #12 file at all.
    let e =
        SoftwareSigner::from_pkcs12_file(&keys().join("itlrecovery.pem"), &password("s3cret"), &[])
            .unwrap_err();
    assert!(e.to_string().contains("not a PFX"), "{e}");
}
