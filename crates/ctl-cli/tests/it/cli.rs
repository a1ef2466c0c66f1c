//! The `ctl` binary, run as a user would.

use crate::support::{assert_one_line_error, ctl, stderr, stdout, v, vectors};

const ALL: &[&str] = &[
    "ctl/CTLFile-sha1.tlv",
    "ctl/CTLFile-sha512.tlv",
    "itl/ITLFile-sha1.tlv",
    "neg/CTLFile-sha1-tampered.tlv",
    "synthetic/CTLFile-cisco-layout.tlv",
    "sgn/sha1/SEP001122334455.cnf.xml.sgn",
];

#[test]
fn inspect_json_has_exactly_the_contract_keys() {
    let top = [
        "format",
        "version",
        "header_length",
        "signer_version",
        "signer",
        "digest",
        "signature_length",
        "filename",
        "timestamp",
        "records",
        "signature_valid",
        "warnings",
    ];
    let rec = [
        "length",
        "role",
        "role_code",
        "subject",
        "issuer",
        "serial",
        "dns_name",
        "ip_address",
        "public_key_length",
        "signature_length",
        "certificate_length",
        "key_algorithm",
        "certificate_sha1",
        "not_after",
    ];
    for path in ALL {
        let o = ctl(&["inspect", "--json", &v(path)]);
        // The tampered vector is shown too, and exits 1 for its signature.
        let code = if path.starts_with("neg/") { 1 } else { 0 };
        assert_eq!(o.status.code(), Some(code), "{path}: {}", stderr(&o));
        let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let mut keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want: Vec<&str> = top.to_vec();
        if path.ends_with(".sgn") {
            want.push("payload_length");
        }
        want.sort_unstable();
        assert_eq!(keys, want, "{path}");
        let mut signer: Vec<&str> = j["signer"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        signer.sort_unstable();
        assert_eq!(signer, ["issuer", "name", "serial"]);
        for r in j["records"].as_array().unwrap() {
            let mut k: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
            k.sort_unstable();
            let mut w = rec.to_vec();
            w.sort_unstable();
            assert_eq!(k, w, "{path}");
        }
    }
}

#[test]
fn inspect_json_reports_the_vector_facts() {
    let o = ctl(&["inspect", "--json", &v("ctl/CTLFile-sha1.tlv")]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["format"], "tlv");
    assert_eq!(j["version"], "1.2");
    assert_eq!(j["header_length"], 464);
    assert_eq!(j["signer_version"], "1.0");
    assert_eq!(j["signer"]["serial"], "8a1b2c3d4e5f60718293a4b5c6d7e8f9");
    assert_eq!(j["digest"], "sha1");
    assert_eq!(j["signature_length"], 256);
    assert_eq!(j["filename"], "CTLFile.tlv");
    assert_eq!(j["timestamp"], 1_735_689_600);
    assert_eq!(j["signature_valid"], true);
    let roles: Vec<&str> = j["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["SAST", "SAST", "CCM+TFTP", "CAPF", "TFTP"]);
    let r5 = &j["records"][4];
    assert_eq!(
        r5["subject"],
        "CN=tftp.example.com,O=Example\\, Inc.,OU=VoIP"
    );
    assert_eq!(r5["serial"], "ff");
    assert_eq!(r5["role_code"], 3);
    assert_eq!(r5["dns_name"], serde_json::Value::Null);
    assert_eq!(r5["ip_address"], serde_json::Value::Null);
    assert_eq!(
        r5["certificate_sha1"],
        "e5c8f8c0278ecc9a1a8d00262dac86dd41ad20a4"
    );
    assert_eq!(r5["key_algorithm"], "RSA");
    assert_eq!(r5["public_key_length"], 270);
    assert_eq!(r5["certificate_length"], 904);
    assert_eq!(r5["not_after"], 2_366_841_600_u64);

    let o = ctl(&[
        "inspect",
        "--json",
        &v("synthetic/CTLFile-cisco-layout.tlv"),
    ]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["signer_version"], serde_json::Value::Null);
    assert_eq!(j["records"][0]["dns_name"], "");
    assert_eq!(j["records"][0]["signature_length"], serde_json::Value::Null);
    assert_eq!(j["records"][3]["ip_address"], "2001:db8::10");
    assert_eq!(j["records"][1]["ip_address"], "192.0.2.10");

    let o = ctl(&["inspect", "--json", &v("neg/CTLFile-sha1-tampered.tlv")]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["signature_valid"], false);
    assert!(
        j["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("does not match"))
    );
}

#[test]
fn verify_exit_codes() {
    for path in [
        "ctl/CTLFile-sha1.tlv",
        "ctl/CTLFile-sha512.tlv",
        "itl/ITLFile-sha1.tlv",
        "synthetic/CTLFile-cisco-layout.tlv",
    ] {
        let o = ctl(&["verify", &v(path)]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{path}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
    assert_eq!(
        ctl(&["verify", &v("neg/CTLFile-sha1-tampered.tlv")])
            .status
            .code(),
        Some(1)
    );
    let sgn = v("sgn/sha1/SEP001122334455.cnf.xml.sgn");
    assert_eq!(
        ctl(&["verify", &sgn, "--cert", &v("keys/ccm.crt.pem")])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        ctl(&["verify", &sgn, "--cert", &v("keys/tftp.crt.der")])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        ctl(&["verify", &sgn, "--trust", &v("ctl/CTLFile-sha1.tlv")])
            .status
            .code(),
        Some(0)
    );
    // The ITL holds ccm as CCM+TFTP too, so a phone with it takes the .sgn.
    assert_eq!(
        ctl(&["verify", &sgn, "--trust", &v("itl/ITLFile-sha1.tlv")])
            .status
            .code(),
        Some(0)
    );
    assert_one_line_error(&ctl(&["verify", &sgn]), 2, "SEP001122334455.cnf.xml.sgn");
    // A phone holding the CTL refuses the ITL: signed by a key it does not know.
    let o = ctl(&[
        "verify",
        &v("itl/ITLFile-sha1.tlv"),
        "--trust",
        &v("ctl/CTLFile-sha1.tlv"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("refused"), "{}", stdout(&o));
    // And takes a new CTL signed by a SAST it holds.
    let o = ctl(&[
        "verify",
        &v("ctl/CTLFile-sha512.tlv"),
        "--trust",
        &v("ctl/CTLFile-sha1.tlv"),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["valid"], true);
}

#[test]
fn malformed_files_and_wrong_calls_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(vectors().join("ctl/CTLFile-sha1.tlv")).unwrap();
    let cut = dir.path().join("cut.tlv");
    std::fs::write(&cut, &bytes[..1000]).unwrap();
    let o = ctl(&["verify", cut.to_str().unwrap()]);
    assert_one_line_error(&o, 2, "cut.tlv");
    assert!(stderr(&o).contains("at byte"), "{}", stderr(&o));
    let big = dir.path().join("big.tlv");
    std::fs::write(&big, vec![0u8; 70_000]).unwrap();
    assert_one_line_error(&ctl(&["verify", big.to_str().unwrap()]), 2, "found 70000");
    // inspect reads lists over the phones' limit, up to 1 MiB.
    assert_one_line_error(&ctl(&["inspect", big.to_str().unwrap()]), 2, "at byte 0");
    std::fs::write(&big, vec![0u8; 1_100_000]).unwrap();
    assert_one_line_error(
        &ctl(&["inspect", big.to_str().unwrap()]),
        2,
        "found 1100000",
    );
    assert_one_line_error(
        &ctl(&["inspect", "/nonexistent/x.tlv"]),
        1,
        "/nonexistent/x.tlv",
    );
    assert_eq!(ctl(&["verify"]).status.code(), Some(2));
    assert_eq!(ctl(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn diff_reports_changes_and_exit_codes() {
    let a = v("ctl/CTLFile-sha1.tlv");
    let o = ctl(&["diff", &a, &a]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o).trim(), "identical");
    let o = ctl(&["diff", &a, &v("ctl/CTLFile-sha512.tlv"), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["equal"], false);
    let fields: Vec<&str> = j["header"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["digest", "signature"]);
    assert!(j["added"].as_array().unwrap().is_empty());
    assert!(j["changed"].as_array().unwrap().is_empty());

    let o = ctl(&["diff", &a, &v("itl/ITLFile-sha1.tlv"), "--json"]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let added: Vec<&str> = j["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    let removed: Vec<&str> = j["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(added, ["SAST", "SAST", "TVS"]);
    assert_eq!(removed, ["SAST", "SAST", "TFTP"]);
    let o = ctl(&["diff", &a, &v("neg/CTLFile-sha1-tampered.tlv")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("certificate_sha1"), "{}", stdout(&o));
}

/// Issue 10: phones check no order, so `ctl verify --trust` says when a candidate is not
/// newer than the list held (a rollback a phone would take).
#[test]
fn verify_with_trust_warns_about_an_older_candidate() {
    let held = v("ctl/CTLFile-sha1.tlv");
    let o = ctl(&["verify", &held, "--trust", &held]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("warning: ") && err.contains("not newer") && err.contains("no order"),
        "{err}"
    );
    let o = ctl(&["verify", &held]);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// Issue 11, finding 8: a `pkcs11:` URI that does not parse is named in the error without
/// its PIN, wherever it was given.
#[test]
fn a_uri_that_does_not_parse_is_shown_without_its_pin() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("CTLFile.tlv");
    let out = out.to_str().unwrap();
    let config = dir.path().join("SEP0011.cnf.xml");
    std::fs::write(&config, "<device/>").unwrap();
    let config = config.to_str().unwrap();
    for uri in [
        "pkcs11:token=A;object=b;bogus?pin-value=S3CRET-PIN&module-path=/x",
        "pkcs11:token=A;object=b?pin-value=S3CRET-PIN&zz=1",
        "pkcs11:token=A%ZZ;pin-value=S3CRET-PIN",
    ] {
        for args in [
            vec!["build", "--out", out, "--sast", uri],
            vec!["sign", "--signer", uri, config],
            vec!["token", "info", uri],
        ] {
            let o = ctl(&args);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
            assert!(!err.contains("S3CRET"), "{args:?}: {err}");
            assert!(err.contains("pin-value=<redacted>"), "{args:?}: {err}");
        }
    }
}

/// Issue 11, finding 8: untrusted texts (here a file name; the same door serves names
/// from certificates and texts from nodes) reached the terminal raw, so an ESC or OSC
/// sequence in them could retitle the window, clear the screen or hide lines. Every
/// control character is shown escaped, on stdout and stderr.
#[test]
fn control_characters_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("evil\u{1b}]0;pwned\u{7}\r\u{1b}[2J.tlv");
    std::fs::copy(v("ctl/CTLFile-sha1.tlv"), &evil).unwrap();
    let garbage = dir.path().join("junk\u{1b}[31m.tlv");
    std::fs::write(&garbage, b"\x01\x02\x03").unwrap();
    let mut shown = 0;
    for args in [
        vec!["inspect", evil.to_str().unwrap()],
        vec!["verify", evil.to_str().unwrap()],
        vec!["inspect", garbage.to_str().unwrap()],
        vec!["verify", garbage.to_str().unwrap()],
    ] {
        let o = ctl(&args);
        for (what, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            let raw = bytes
                .iter()
                .find(|&&b| (b < 0x20 && b != b'\n') || b == 0x7f);
            assert!(
                raw.is_none(),
                "{args:?} {what}: {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // Where the name is shown, it is shown escaped.
        let all = format!("{}{}", stdout(&o), stderr(&o));
        if all.contains("evil") || all.contains("junk") {
            assert!(all.contains("\\u{1b}"), "{args:?}: {all}");
            shown += 1;
        }
    }
    assert!(shown >= 3, "the file name was shown {shown} times");
}

/// Issue 12: `ctl inspect` exited 0 on an invalid signature, though the README says 1.
#[test]
fn inspect_exits_1_on_an_invalid_signature_after_showing_the_file() {
    let o = ctl(&["inspect", &v("neg/CTLFile-sha1-tampered.tlv")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Records:") || stdout(&o).contains("Record"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("signature not verified"),
        "{}",
        stdout(&o)
    );
    let o = ctl(&["inspect", "--json", &v("neg/CTLFile-sha1-tampered.tlv")]);
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["signature_valid"], false);
}

/// Issue 12: a list over 64 KiB (certutils writes 68 KiB ones) could not be looked at.
/// `inspect` reads up to 1 MiB, shows it and says phones refuse it; `verify` still
/// refuses it as a file no phone takes.
#[test]
fn inspect_shows_a_list_over_the_phones_limit_and_says_so() {
    let keys = vectors().join("keys");
    let cert = |n: &str| {
        ctl_format::Certificate::from_der(
            &std::fs::read(keys.join(format!("{n}.crt.der"))).unwrap(),
        )
        .unwrap()
    };
    let mut b = ctl_format::TrustListBuilder::new();
    b.oversize(true).timestamp(1_700_000_000);
    b.push(ctl_format::RecordSpec::new(
        cert("sast1"),
        ctl_format::Role::SAST,
    ));
    b.push(ctl_format::RecordSpec::new(
        cert("sast2"),
        ctl_format::Role::SAST,
    ));
    for i in 0..40 {
        let name = ["ccm", "tftp", "capf", "tvs"][i % 4];
        b.push(ctl_format::RecordSpec::new(
            cert(name),
            ctl_format::Role::CCM,
        ));
    }
    let signer = ctl_token::SoftwareSigner::from_files(&keys.join("sast1.pem"), None).unwrap();
    let bytes = b.build(&signer).unwrap();
    assert!(bytes.len() > ctl_format::MAX_LEN && bytes.len() < 100_000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("CTLFile.tlv");
    std::fs::write(&file, &bytes).unwrap();
    let file = file.to_str().unwrap();
    let o = ctl(&["inspect", file]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("over the 65536 bytes phones load"), "{out}");
    assert!(out.contains("record #1 (SAST)"), "{out}");
    let o = ctl(&["verify", file]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("file too large"), "{}", stderr(&o));
}

/// Issue 12: the signer was named as the last record holding its certificate (a
/// CCM+TFTP record), not the SAST record phones take it from.
#[test]
fn the_signer_is_named_as_its_sast_record() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("CTLFile.tlv");
    let out = out.to_str().unwrap();
    let o = ctl(&[
        "build",
        "--out",
        out,
        "--sast",
        &v("keys/sast2.crt.pem"),
        "--sast",
        &v("keys/sast1.pem"),
        "--ccm-tftp",
        &v("keys/sast1.crt.pem"),
        "--signer",
        &v("keys/sast1.pem"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for cmd in ["inspect", "verify"] {
        let o = ctl(&[cmd, out]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).contains("record #2 (SAST)"),
            "{cmd}: {}",
            stdout(&o)
        );
        assert!(!stdout(&o).contains("record #3"), "{cmd}: {}", stdout(&o));
    }
}

/// Issue 12: `ctl extract` writes a `.sgn`'s payload, the bytes the vector's signer
/// signed, and with --cert or --trust only when the signature is valid.
#[test]
fn extract_writes_the_payload_only_when_signed_as_it_should_be() {
    let dir = tempfile::tempdir().unwrap();
    let sgn = dir.path().join("SEP001122334455.cnf.xml.sgn");
    std::fs::copy(v("sgn/sha1/SEP001122334455.cnf.xml.sgn"), &sgn).unwrap();
    let sgn = sgn.to_str().unwrap();
    let payload = std::fs::read(v("sgn/sha1/SEP001122334455.cnf.xml")).unwrap();
    let out = dir.path().join("SEP001122334455.cnf.xml");
    // Signed by the CCM certificate: written.
    let o = ctl(&["extract", sgn, "--cert", &v("keys/ccm.crt.pem")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), payload);
    std::fs::remove_file(&out).unwrap();
    // Not signed by the TFTP certificate: refused, nothing written.
    let o = ctl(&["extract", sgn, "--cert", &v("keys/tftp.crt.der")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("not extracted"), "{}", stderr(&o));
    assert!(!out.exists());
    // Unchecked: written, with a warning.
    let o = ctl(&["extract", sgn]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("signature not checked"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&out).unwrap(), payload);
    // A trust list has no payload.
    let o = ctl(&[
        "extract",
        &v("ctl/CTLFile-sha1.tlv"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// Issue 12: the certificate of a record, as PEM (`ctl cert export`).
#[test]
fn cert_export_writes_a_records_certificate_as_pem() {
    let ctl_file = v("ctl/CTLFile-sha1.tlv");
    let o = ctl(&["cert", "export", &ctl_file, "--record", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got = ctl_format::Certificate::from_pem(&o.stdout).unwrap();
    assert_eq!(
        got.der(),
        std::fs::read(v("keys/sast1.crt.der")).unwrap().as_slice()
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ccm.pem");
    let o = ctl(&[
        "cert",
        "export",
        &ctl_file,
        "--record",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got = ctl_format::Certificate::from_pem(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(
        got.der(),
        std::fs::read(v("keys/ccm.crt.der")).unwrap().as_slice()
    );
    let o = ctl(&["cert", "export", &ctl_file, "--record", "99"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the list has records 1 to"),
        "{}",
        stderr(&o)
    );
}

/// Issue 12: the hashes configuration files name a certificate by, in hex and base64.
#[test]
fn certhash_gives_sha1_and_sha512_in_hex_and_base64() {
    let o = ctl(&["certhash", &v("keys/ccm.crt.pem")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    // The SHA-1 the vectors' README gives for this certificate.
    assert!(
        out.contains("SHA-1    hex     4e9914387c808e5ea873b628b00536be5cbb558b"),
        "{out}"
    );
    assert!(
        out.contains("SHA-1    base64  TpkUOHyAjl6oc7YosAU2vly7VYs="),
        "{out}"
    );
    assert!(out.contains("SHA-512  hex     "), "{out}");
    let o = ctl(&[
        "certhash",
        "--digest",
        "sha512",
        "--json",
        &v("keys/ccm.crt.der"),
    ]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["hashes"].as_array().unwrap().len(), 1);
    assert_eq!(j["hashes"][0]["digest"], "sha512");
    assert_eq!(j["hashes"][0]["hex"].as_str().unwrap().len(), 128);
    let o = ctl(&["certhash", &v("ctl/CTLFile-sha1.tlv")]);
    assert_one_line_error(&o, 2, "CTLFile-sha1.tlv");
}

/// Issue 12: completions and man pages come from the clap definitions.
#[test]
fn completions_and_man_pages_cover_every_command() {
    let o = ctl(&["completions", "bash"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let script = stdout(&o);
    assert!(script.contains("complete -F _ctl"), "{script}");
    for word in ["lint", "certhash", "fetch", "known", "--my-key", "--from"] {
        assert!(script.contains(word), "{word} not completed");
    }
    let o = ctl(&["completions", "zsh"]);
    assert!(stdout(&o).starts_with("#compdef ctl"), "{}", stdout(&o));

    let dir = tempfile::tempdir().unwrap();
    let o = ctl(&["man", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for page in [
        "ctl.1",
        "ctl-lint.1",
        "ctl-cluster-known-pin.1",
        "ctl-token-export.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: {text}"
        );
    }
    let lint = std::fs::read_to_string(dir.path().join("ctl-lint.1")).unwrap();
    assert!(lint.contains("my\\-key"), "{lint}");
}
