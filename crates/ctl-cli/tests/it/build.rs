//! `ctl build` and `ctl sign`: the certutils vectors byte for byte, refusals, separate key
//! and certificate files, and re-signing an existing list with `--from`.

use std::path::Path;
use std::process::Output;

use crate::support::{assert_one_line_error, ctl, stderr, stdout, v, vectors};

fn build(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "build",
        "--out",
        out.to_str().unwrap(),
        "--timestamp",
        "1735689600",
    ];
    args.extend_from_slice(extra);
    ctl(&args)
}

#[test]
fn build_rebuilds_the_certutils_vectors_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (s1, s2, ccm, capf, tftp) = (
        v("keys/sast1.pem"),
        v("keys/sast2.crt.pem"),
        v("keys/ccm.crt.pem"),
        v("keys/capf.crt.pem"),
        v("keys/tftp.crt.pem"),
    );
    for (digest, vector) in [
        ("sha1", "ctl/CTLFile-sha1.tlv"),
        ("sha512", "ctl/CTLFile-sha512.tlv"),
    ] {
        let out = dir.path().join("CTLFile.tlv");
        let o = build(
            &out,
            &[
                "--layout",
                "certutils",
                "--digest",
                digest,
                "--sast",
                &s1,
                "--sast",
                &s2,
                "--ccm-tftp",
                &ccm,
                "--capf",
                &capf,
                "--tftp",
                &tftp,
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(vectors().join(vector)).unwrap(),
            "{vector}"
        );
    }
    // The ITL: FILENAME from --out, the ccm certificate twice, records in command-line order.
    let out = dir.path().join("ITLFile.tlv");
    let o = build(
        &out,
        &[
            "--layout",
            "certutils",
            "--sast",
            &v("keys/itlrecovery.pem"),
            "--sast",
            &ccm,
            "--ccm-tftp",
            &ccm,
            "--tvs",
            &v("keys/tvs.crt.pem"),
            "--capf",
            &capf,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(vectors().join("itl/ITLFile-sha1.tlv")).unwrap()
    );
    // The cucm synthetic vector, with DNS names, addresses and a certificate hash on the command line.
    let out = dir.path().join("CTLFile.tlv");
    let o = build(
        &out,
        &[
            "--signer",
            &v("keys/sast1.key.pem"),
            "--sast",
            &format!("{},no-signature", v("keys/sast1.crt.pem")),
            "--ccm-tftp",
            &format!("{ccm},dns=cucm-pub,ip=192.0.2.10"),
            "--capf",
            &format!("{capf},dns=cucm-pub,ip=192.0.2.10"),
            "--tftp",
            &format!("{tftp},dns=tftp,ip=2001:db8::10"),
            "--record",
            &format!(
                "TVS={},dns=cucm-pub,ip=192.0.2.10,hash",
                v("keys/tvs.crt.der")
            ),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let synthetic = std::fs::read(vectors().join("synthetic/CTLFile-cisco-layout.tlv")).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), synthetic);
}

#[test]
fn sign_rebuilds_the_sgn_vector_and_names_it_file_sgn() {
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("SEP001122334455.cnf.xml");
    std::fs::copy(vectors().join("sgn/sha1/SEP001122334455.cnf.xml"), &payload).unwrap();
    let o = ctl(&[
        "sign",
        payload.to_str().unwrap(),
        "--signer",
        &v("keys/ccm.pem"),
        "--layout",
        "certutils",
        "--timestamp",
        "1735689600",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = dir.path().join("SEP001122334455.cnf.xml.sgn");
    assert_eq!(
        std::fs::read(out).unwrap(),
        std::fs::read(vectors().join("sgn/sha1/SEP001122334455.cnf.xml.sgn")).unwrap()
    );
}

#[test]
fn build_defaults_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("My.tlv");
    std::fs::write(&out, b"old contents").unwrap();
    // No signer anywhere: refused, and the existing file is untouched.
    let o = build(
        &out,
        &[
            "--sast",
            &v("keys/sast2.crt.pem"),
            "--ccm",
            &v("keys/ccm.crt.pem"),
        ],
    );
    assert_one_line_error(&o, 2, "no signer");
    // A key that matches none of the certificates.
    let o = build(
        &out,
        &[
            "--signer",
            &v("keys/tftp.key.pem"),
            "--sast",
            &v("keys/sast2.crt.pem"),
        ],
    );
    assert_one_line_error(&o, 2, "tftp.key.pem");
    // A field the layout cannot carry.
    let o = build(
        &out,
        &[
            "--layout",
            "certutils",
            "--sast",
            &v("keys/sast1.pem"),
            "--ccm",
            &format!("{},dns=x", v("keys/ccm.crt.pem")),
        ],
    );
    assert_one_line_error(&o, 2, "no DNS name field");
    // SHA-256 needs its flag.
    let o = build(
        &out,
        &["--digest", "sha256", "--sast", &v("keys/sast1.pem")],
    );
    assert_one_line_error(&o, 2, "SHA-256");
    // Issue 12: a refusal names the flag that lifts it.
    assert!(stderr(&o).contains("--allow-sha256"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), b"old contents");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    // Defaults: cucm layout, no SIGNER_VERSION, FILENAME from --out, the first --sast with a key signs.
    let o = build(
        &out,
        &[
            "--sast",
            &v("keys/sast2.crt.pem"),
            "--sast",
            &v("keys/sast1.pem"),
            "--ccm",
            &v("keys/ccm.crt.pem"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("room for"), "{}", stdout(&o));
    let o = ctl(&["inspect", "--json", out.to_str().unwrap()]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["filename"], "My.tlv");
    assert_eq!(j["signer_version"], serde_json::Value::Null);
    assert_eq!(
        j["signer"]["name"],
        "C=NZ;ST=Wellington;L=Wellington;OU=VoIP;O=Example;CN=SAST-1"
    );
    assert_eq!(j["signature_valid"], true);
    assert_eq!(j["records"][0]["dns_name"], "");
    let sv = build(
        &out,
        &[
            "--layout",
            "certutils",
            "--signer-version",
            "1.1",
            "--sast",
            &v("keys/sast1.pem"),
        ],
    );
    assert_eq!(sv.status.code(), Some(0));
    let o = ctl(&["inspect", "--json", out.to_str().unwrap()]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["signer_version"], "1.1");
}

/// Issue 12: `ctl build` wrote lists its own `verify` and every phone reject, and said
/// it had succeeded: a signer that is no SAST record of the list, including the natural
/// ITL attempt of signing with the CCM+TFTP record's key. Refused, nothing written.
#[test]
fn build_refuses_a_signer_that_is_no_sast_record_of_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("np.tlv");
    let out = out.to_str().unwrap();
    for (args, says) in [
        (
            vec![
                "--sast",
                "keys/sast2.crt.pem",
                "--ccm",
                "keys/ccm.crt.pem",
                "--signer",
                "keys/sast1.pem",
            ],
            "add the signer's certificate as a SAST record",
        ),
        (
            vec!["--ccm-tftp", "keys/ccm.crt.pem", "--signer", "keys/ccm.pem"],
            "it is there as CCM+TFTP",
        ),
    ] {
        let mut full = vec!["build".to_owned(), "--out".to_owned(), out.to_owned()];
        full.extend(args.iter().map(|a| {
            if a.starts_with("keys/") {
                v(a)
            } else {
                (*a).to_owned()
            }
        }));
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        let o = ctl(&full);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("not a SAST record of the list"), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(!Path::new(out).exists(), "a file was written");
    }
}

/// Issue 12: openssl writes the key and the certificate as two files; both commands take
/// them as `--signer KEY --cert CERT`, and refuse a certificate of another key.
#[test]
fn signer_key_and_certificate_as_separate_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("CTLFile.tlv");
    let (key, crt) = (v("keys/sast1.key.pem"), v("keys/sast1.crt.pem"));
    let o = build(
        &out,
        &[
            "--sast",
            &crt,
            "--ccm",
            &v("keys/ccm.crt.pem"),
            "--signer",
            &key,
            "--cert",
            &crt,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        ctl(&["verify", out.to_str().unwrap()]).status.code(),
        Some(0)
    );

    let payload = dir.path().join("SEP001122334455.cnf.xml");
    std::fs::copy(vectors().join("sgn/sha1/SEP001122334455.cnf.xml"), &payload).unwrap();
    let o = ctl(&[
        "sign",
        payload.to_str().unwrap(),
        "--signer",
        &v("keys/ccm.key.pem"),
        "--cert",
        &v("keys/ccm.crt.der"),
        "--timestamp",
        "1735689600",
        "--layout",
        "certutils",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The same bytes certutils made from the combined PEM.
    assert_eq!(
        std::fs::read(dir.path().join("SEP001122334455.cnf.xml.sgn")).unwrap(),
        std::fs::read(vectors().join("sgn/sha1/SEP001122334455.cnf.xml.sgn")).unwrap()
    );

    let o = ctl(&[
        "sign",
        payload.to_str().unwrap(),
        "--signer",
        &v("keys/ccm.key.pem"),
        "--cert",
        &crt,
    ]);
    assert_one_line_error(&o, 2, "does not match the certificate");
    let o = build(&out, &["--sast", &crt, "--cert", &crt]);
    assert_one_line_error(&o, 2, "give --signer");
}

/// Issue 12: a list made elsewhere (the certutils ITL, signed by its ITLRecovery key)
/// re-signed with the user's own key: their SAST records removed, the user's added,
/// everything else kept byte for byte; renamed as a per-device list.
#[test]
fn build_from_an_existing_list_re_signs_renames_and_edits_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ITLSEP001122334455.tlv");
    let old = vectors().join("itl/ITLFile-sha1.tlv");
    let crt = v("keys/sast1.crt.pem");
    let o = build(
        &out,
        &[
            "--from",
            old.to_str().unwrap(),
            "--remove",
            "1",
            "--remove",
            "2",
            "--sast",
            &crt,
            "--signer",
            &v("keys/sast1.key.pem"),
            "--cert",
            &crt,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("kept 3 of 5 records (removed #1 (SAST), #2 (SAST)), added 1"),
        "{}",
        stdout(&o)
    );
    let new = std::fs::read(&out).unwrap();
    let old_bytes = std::fs::read(&old).unwrap();
    let (new_doc, old_doc) = (
        ctl_format::parse(&new).unwrap(),
        ctl_format::parse(&old_bytes).unwrap(),
    );
    new_doc.verify(&ctl_format::RsaVerifier).unwrap();
    assert_eq!(
        new_doc.header().filename().unwrap(),
        "ITLSEP001122334455.tlv"
    );
    // SIGNER_VERSION and digest carried over from the old list.
    assert_eq!(
        new_doc.header().signer_version(),
        old_doc.header().signer_version()
    );
    for i in 0..3 {
        assert_eq!(
            new_doc.records()[i].as_bytes(),
            old_doc.records()[i + 2].as_bytes(),
            "record {i}"
        );
    }
    // Nothing of the stranger's keys is left.
    let o = ctl(&["lint", out.to_str().unwrap(), "--my-key", &crt]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // A record number the list does not have; --remove without --from.
    let o = build(
        &out,
        &[
            "--from",
            old.to_str().unwrap(),
            "--remove",
            "6",
            "--signer",
            &v("keys/sast1.pem"),
        ],
    );
    assert_one_line_error(&o, 2, "has records #1 to #5");
    let o = build(&out, &["--remove", "1", "--sast", &v("keys/sast1.pem")]);
    assert_one_line_error(&o, 2, "--from");
    // Re-signed as it is by a key that is none of its SAST records: refused.
    let o = build(
        &out,
        &[
            "--from",
            old.to_str().unwrap(),
            "--signer",
            &v("keys/sast1.pem"),
        ],
    );
    assert_one_line_error(&o, 2, "SAST");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        new,
        "the earlier file is untouched"
    );
}

/// Issue 12: clap's errors are one line too, with clap's tip and the `--help` to read.
#[test]
fn wrong_calls_are_one_line_naming_the_help_to_read() {
    let o = ctl(&["inspect", "--jsn", "x.tlv"]);
    assert_one_line_error(&o, 2, "unexpected argument '--jsn'");
    assert!(stderr(&o).contains("'--json'") && stderr(&o).contains("'ctl inspect --help'"));
    let o = ctl(&["cluster", "status"]);
    assert_one_line_error(&o, 2, "--publisher");
    assert!(
        stderr(&o).contains("'ctl cluster status --help'"),
        "{}",
        stderr(&o)
    );
    let o = ctl(&["build", "--out", "x.tlv", "--timestamp", "soon"]);
    assert_one_line_error(&o, 2, "'soon'");
    // Help is not an error.
    let o = ctl(&["build", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).lines().count() > 10);
}
