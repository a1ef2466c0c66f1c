//! `ctl token` and token-signed builds, run as a user would, on a real SoftHSM2 module
//! (a fresh token directory per test).

use crate::support::{Lab, module, stderr, stdout, v, vectors};

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn init_list_and_info() {
    let lab = Lab::new();
    lab.init_with_key("SAST1", "1234", "keys/sast1.pem");
    let o = lab.ctl(&["token", "list", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let tokens = j.as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{j}");
    let t = &tokens[0];
    assert_eq!(t["label"], "SAST1");
    assert_eq!(t["manufacturer"], "SoftHSM project");
    assert!(!t["serial"].as_str().unwrap().is_empty());
    assert_eq!(t["flags"]["user_pin_initialized"], true);
    let obj = &t["objects"][0];
    assert_eq!(obj["label"], "signer");
    assert_eq!(obj["id"], "01");
    assert_eq!(obj["key_bits"], 2048);
    assert_eq!(
        obj["certificate"]["serial"],
        "8a1b2c3d4e5f60718293a4b5c6d7e8f9"
    );
    // Issue 12: it said false for a key only hidden until a login; unknown is null.
    assert_eq!(
        obj["has_private_key"],
        serde_json::Value::Null,
        "private keys need a login"
    );
    // Text output too.
    let o = lab.ctl(&["token", "list"]);
    assert!(stdout(&o).contains("SAST1 (serial"), "{}", stdout(&o));
    assert!(stdout(&o).contains("CN=SAST-1"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("private key unknown until a login"),
        "{}",
        stdout(&o)
    );
    // With the PIN, info shows the private key.
    let o = lab.ctl(&["token", "info", &lab.uri("SAST1", "SAST1.pin"), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j[0]["objects"][0]["has_private_key"], true);
    assert!(!stdout(&o).contains("1234"));
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn a_ctl_built_and_signed_on_a_token_matches_the_vector() {
    let lab = Lab::new();
    lab.init_with_key("SAST1", "1234", "keys/sast1.pem");
    let out = lab.path("CTLFile.tlv");
    let o = lab.ctl(&[
        "build",
        "--out",
        out.to_str().unwrap(),
        "--layout",
        "certutils",
        "--timestamp",
        "1735689600",
        "--sast",
        &lab.uri("SAST1", "SAST1.pin"),
        "--sast",
        &v("keys/sast2.crt.pem"),
        "--ccm-tftp",
        &v("keys/ccm.crt.pem"),
        "--capf",
        &v("keys/capf.crt.pem"),
        "--tftp",
        &v("keys/tftp.crt.pem"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(vectors().join("ctl/CTLFile-sha1.tlv")).unwrap()
    );
    // And a .sgn signed on the token verifies against the CTL's holder of that key.
    let payload = lab.path("SEP001122334455.cnf.xml");
    std::fs::write(&payload, b"<device/>").unwrap();
    let o = lab.ctl(&[
        "sign",
        payload.to_str().unwrap(),
        "--signer",
        &lab.uri("SAST1", "SAST1.pin"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = lab.ctl(&[
        "verify",
        lab.path("SEP001122334455.cnf.xml.sgn").to_str().unwrap(),
        "--cert",
        &v("keys/sast1.crt.pem"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn factory_pin_then_change_pin_then_sign() {
    let lab = Lab::new();
    lab.init_with_key("eToken", "Cisco123", "keys/sast1.pem");
    let out = lab.path("CTLFile.tlv");
    let build = |uri: &str| {
        lab.ctl(&[
            "build",
            "--out",
            out.to_str().unwrap(),
            "--sast",
            uri,
            "--ccm",
            &v("keys/ccm.crt.pem"),
        ])
    };
    let o = build(&lab.uri("eToken", "eToken.pin"));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("factory PIN"), "{}", stderr(&o));
    // Issue 12: a refusal names the flag that lifts it.
    assert!(stderr(&o).contains("--allow-factory-pin"), "{}", stderr(&o));
    assert!(!out.exists());
    let new_pin = lab.pin_file("new.pin", "0ther-PIN-77");
    let o = lab.ctl(&[
        "token",
        "change-pin",
        &lab.uri("eToken", "eToken.pin"),
        "--new-pin-file",
        &new_pin,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = build(&lab.uri("eToken", "new.pin"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = lab.ctl(&["verify", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn a_generated_key_signs_and_pin_errors_are_clear() {
    let lab = Lab::new();
    let so = lab.pin_file("so.pin", "87654321");
    let user = lab.pin_file("gen.pin", "2468");
    let o = lab.ctl(&[
        "token",
        "init",
        "--module",
        &module(),
        "--label",
        "GEN",
        "--so-pin-file",
        &so,
        "--pin-file",
        &user,
        "--generate",
        "--common-name",
        "SAST-GEN",
        "--object",
        "signer",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = lab.path("CTLFile.tlv");
    let o = lab.ctl(&[
        "build",
        "--out",
        out.to_str().unwrap(),
        "--sast",
        &lab.uri("GEN", "gen.pin"),
        "--ccm-tftp",
        &v("keys/ccm.crt.pem"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = lab.ctl(&["inspect", "--json", out.to_str().unwrap()]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["signature_valid"], true);
    assert_eq!(j["signer"]["name"], "CN=SAST-GEN");
    // A wrong PIN: one line naming the token, never the PIN.
    lab.pin_file("wrong.pin", "1357");
    let o = lab.ctl(&[
        "build",
        "--out",
        out.to_str().unwrap(),
        "--sast",
        &lab.uri("GEN", "wrong.pin"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("wrong PIN") && err.contains("GEN") && !err.contains("1357"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // No PIN anywhere and no terminal.
    let no_pin = format!("pkcs11:token=GEN?module-path={}", module());
    let o = lab.ctl(&[
        "build",
        "--out",
        out.to_str().unwrap(),
        "--sast",
        &no_pin,
        "--signer",
        &no_pin,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no PIN"), "{}", stderr(&o));
    // A URI that names no token lists those present.
    let o = lab.ctl(&[
        "token",
        "info",
        &format!("pkcs11:token=NOPE?module-path={}", module()),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no token matches") && stderr(&o).contains("GEN"),
        "{}",
        stderr(&o)
    );
}

/// Issue 12: `token init` made a second token with a label already in use (every
/// `token=` URI would then name two) and keys of sizes that can never sign a CTL.
#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn token_init_refuses_a_label_in_use_and_key_sizes_that_cannot_sign() {
    let lab = Lab::new();
    lab.init_generated("SAST1", "1234");
    let module = module();
    let init =
        |label: &str, bits: &str| lab.try_init(label, "1234", &["--generate", "--bits", bits]);
    let o = init("SAST1", "2048");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("exists already"), "{}", stderr(&o));
    for (bits, says) in [("3072", "can never sign a CTL"), ("512", "far too weak")] {
        let o = init("SAST2", bits);
        assert_eq!(o.status.code(), Some(2), "{bits}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{bits}: {}", stderr(&o));
    }
    // Nothing was created by the refusals: one token, still.
    let o = lab.ctl(&["token", "list", "--module", &module, "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j.as_array().unwrap().len(), 1, "{j}");
    // 1024 bits: made, with a warning.
    let o = init("SAST2", "1024");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("weak"), "{}", stderr(&o));
}

/// Issue 12: the certificate on a token as PEM, with no PIN, and its hashes; the same
/// bytes as the file it was imported from.
#[test]
#[cfg_attr(
    not(softhsm),
    ignore = "SoftHSM2 is not installed (apt-get install softhsm2); scripts/test installs it and runs these"
)]
fn token_export_and_certhash_read_the_certificate_without_a_pin() {
    let lab = Lab::new();
    lab.init_with_key("SAST1", "1234", "keys/sast1.pem");
    let uri = format!("pkcs11:token=SAST1;object=signer?module-path={}", module());
    let o = lab.ctl(&["token", "export", &uri]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let pem = std::fs::read_to_string(vectors().join("keys/sast1.crt.pem")).unwrap();
    assert_eq!(stdout(&o).trim(), pem.trim());

    let out = lab.path("sast1.pem");
    let o = lab.ctl(&["token", "export", &uri, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("CN=SAST-1"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap().trim(), pem.trim());

    let from_token = lab.ctl(&["certhash", &uri, "--json"]);
    let from_file = lab.ctl(&["certhash", &v("keys/sast1.crt.der"), "--json"]);
    assert_eq!(from_token.status.code(), Some(0), "{}", stderr(&from_token));
    assert_eq!(stdout(&from_token), stdout(&from_file));

    let o = lab.ctl(&[
        "token",
        "export",
        "pkcs11:token=NOPE?module-path=/nonexistent.so",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}
