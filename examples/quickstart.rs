//! Quickstart: a whole cluster on loopback, as the Cisco CTL Client would run it.
//!
//! It starts three CTL providers in this process (a first node with CallManager, TFTP and
//! CAPF; a subsequent CallManager node; a TFTP node), creates two software security tokens,
//! sets mixed mode (the CTL goes to every node, atomically), shows a phone accepting the
//! CTL, adds a firewall with an update signed by the second token, shows the phone
//! accepting the update, then shows it refusing a CTL signed by a key it does not know.
//!
//! Run: `cargo run --release -p ctl-examples --example quickstart` (no network beyond
//! loopback, no root, throw-away keys in a temporary directory).
//!
//! With `-- --softhsm [MODULE]` the two security tokens are SoftHSM2 tokens instead (in a
//! token directory of their own, in the same temporary directory): the keys are generated
//! on the tokens and every signature is made there, through PKCS#11, as with USB tokens.

use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ctl_client::{Changes, Client, Outcome, Password, Peer, SharedSigner, TrustPolicy};
use ctl_format::{
    Certificate, RecordSpec, Role, RsaVerifier, TrustListBuilder, format_utc, hex,
    parse_trust_list, phone_accepts,
};
use ctl_providerd::Endpoint;
use ctl_token::pkcs11::{Module, lab};
use ctl_token::{Pkcs11Uri, SignerOptions, TokenSigner};

/// A security token's certificate and its signer.
type SecurityToken = (Certificate, SharedSigner);

/// Two SoftHSM2 tokens, each with an RSA-2048 key generated on it and a self-signed
/// certificate signed on it.
fn softhsm_tokens(dir: &Path, module: &Path) -> Result<Vec<SecurityToken>, Box<dyn Error>> {
    let module = Module::load(module)?;
    let pin_file = dir.join("token.pin");
    std::fs::write(&pin_file, "quickstart-pin\n")?;
    let pin = ctl_token::pkcs11::pin::read_pin_file(&pin_file)?;
    let so_pin = secrecy::SecretString::from("quickstart-so-pin");
    let mut out: Vec<SecurityToken> = Vec::new();
    for label in ["SAST-1", "SAST-2"] {
        let mut token = lab::init_token(&module, label, &so_pin, &pin)?;
        let der = lab::generate_rsa_key(&mut token, &pin, 2048, label, &[1], label)?;
        let uri = Pkcs11Uri {
            pin_source: Some(format!("file:{}", pin_file.display())),
            object: Some(label.to_owned()),
            ..token.uri()
        };
        println!("  {label}: SoftHSM2 token {}", token.summary());
        let signer = TokenSigner::open(&uri, &SignerOptions::default())?;
        out.push((Certificate::from_der(&der)?, Arc::new(signer)));
    }
    Ok(out)
}

/// Initializes and starts one provider in this process; returns its address.
fn node(
    dir: &Path,
    name: &str,
    services: &str,
    first: bool,
    members: Vec<Endpoint>,
) -> Result<SocketAddr, Box<dyn Error>> {
    let services: Vec<&str> = services.split(',').collect();
    ctl_examples::node(dir, name, &services, first, members)
}

fn table(title: &str, outcome: &Outcome) {
    println!(
        "\n{title}: CTL of {} bytes, SHA-256 {}",
        outcome.ctl.len(),
        &outcome.distribution.hash[..16]
    );
    println!(
        "  {:<10} {:<17} {:<34} {:<10} restart",
        "server", "provider", "file location", "status"
    );
    for t in &outcome.distribution.targets {
        println!(
            "  {:<10} {:<17} {:<34} {:<10} {}",
            t.name,
            t.server,
            t.location,
            t.status.name(),
            if t.restart.is_empty() {
                "-".to_owned()
            } else {
                t.restart.join(", ")
            }
        );
    }
    for n in &outcome.notes {
        println!("  {n}");
    }
    println!(
        "  room left for {} more 2048-bit records under the 64 KiB limit",
        outcome.room_for_records
    );
}

fn dump(ctl: &[u8]) -> Result<(), Box<dyn Error>> {
    let doc = parse_trust_list(ctl)?;
    let h = doc.header();
    println!(
        "\nCTLFile.tlv: signed by {} (serial {}), {}, {} UTC",
        h.signer_name().unwrap_or_default(),
        hex(h.serial()),
        h.digest(),
        format_utc(u64::from(h.timestamp().unwrap_or(0)))
    );
    for (i, r) in doc.records().iter().enumerate() {
        println!(
            "  #{} {:<9} {:<10} {:<11} {}",
            i + 1,
            r.role().map(|x| x.to_string()).unwrap_or_default(),
            r.dns_name().unwrap_or_default(),
            r.ip_address().map(|a| a.to_string()).unwrap_or_default(),
            r.subject_name().unwrap_or_default()
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let mut args = std::env::args().skip(1);
    let softhsm = match args.next().as_deref() {
        None => None,
        Some("--softhsm") => Some(
            args.next()
                .unwrap_or_else(|| "/usr/lib/softhsm/libsofthsm2.so".to_owned()),
        ),
        Some(other) => {
            return Err(format!(
                "unknown argument {other:?}; usage: quickstart [--softhsm [MODULE]]"
            )
            .into());
        }
    };
    let token_dir = ctl_examples::token_dir();
    if softhsm.is_some() && token_dir.is_none() {
        return ctl_examples::rerun_with_token_directory();
    }
    let tmp = tempfile::tempdir()?;
    println!(
        "Starting a cluster of three CTL providers on loopback in {} ...",
        tmp.path().display()
    );
    let sub = node(
        &tmp.path().join("cucm-sub"),
        "cucm-sub",
        "callmanager,provider",
        false,
        vec![],
    )?;
    let tftp = node(
        &tmp.path().join("tftp-1"),
        "tftp-1",
        "tftp,provider",
        false,
        vec![],
    )?;
    let first = node(
        &tmp.path().join("cucm-pub"),
        "cucm-pub",
        "callmanager,tftp,capf,provider",
        true,
        vec![
            Endpoint::new("cucm-sub", "127.0.0.1", sub.port()),
            Endpoint::new("tftp-1", "127.0.0.1", tftp.port()),
        ],
    )?;
    println!("  cucm-pub {first}, cucm-sub {sub}, tftp-1 {tftp}");

    let mut tokens: Vec<SecurityToken> = match &softhsm {
        Some(module) => {
            println!("Creating two SoftHSM2 security tokens, keys generated on them ...");
            let dir = token_dir.ok_or("no token directory")?;
            softhsm_tokens(&dir, Path::new(module))?
        }
        None => {
            println!("Creating two software security tokens (RSA-2048) ...");
            let mut v: Vec<SecurityToken> = Vec::new();
            for cn in ["SAST-1", "SAST-2"] {
                let (c, s) = ctl_examples::throwaway_token(cn)?;
                v.push((c, Arc::new(s)));
            }
            v
        }
    };
    let (t2, s2) = tokens.pop().ok_or("no second token")?;
    let (t1, s1) = tokens.pop().ok_or("no first token")?;

    let client = Client::builder(
        "127.0.0.1",
        first.port(),
        "admin",
        Password::new(ctl_examples::PASSWORD),
    )
    // A first contact with these throw-away providers: trust and pin their certificates.
    .trust(TrustPolicy {
        trust_on_first_use: true,
        ..TrustPolicy::default()
    })
    .timeout(Duration::from_secs(10))
    .build();

    let mixed = client.set_mixed_mode(&[t1, t2], s1).await?;
    table("Set mixed mode", &mixed);
    dump(&mixed.ctl)?;
    for node in ["cucm-pub", "cucm-sub", "tftp-1"] {
        let on_disk = std::fs::read(tmp.path().join(node).join("tftp/CTLFile.tlv"))?;
        assert_eq!(on_disk, mixed.ctl, "every node holds the same CTL");
    }
    let ctl = parse_trust_list(&mixed.ctl)?;
    println!(
        "\nA new phone downloads it: {}",
        phone_accepts(None, &ctl, &RsaVerifier)?
    );

    // A firewall (ASA TLS proxy) joins; its provider runs on loopback too.
    let asa = node(
        &tmp.path().join("asa-1"),
        "asa-1",
        "provider",
        false,
        vec![],
    )?;
    let peer = Peer {
        name: "asa-1".into(),
        host: "127.0.0.1".into(),
        port: asa.port(),
        firewall: true,
    };
    let update = client
        .update(
            Arc::clone(&s2),
            &Changes {
                add_peers: vec![peer],
                ..Changes::default()
            },
        )
        .await?;
    table(
        "Update: firewall asa-1 added, signed with the second token",
        &update,
    );
    dump(&update.ctl)?;
    let updated = parse_trust_list(&update.ctl)?;
    println!(
        "\nThe phone holding the first CTL is offered the update: {}",
        phone_accepts(Some(&ctl), &updated, &RsaVerifier)?
    );

    // Somebody else's list: signed by a key the phone does not know.
    let (rogue_cert, rogue) = ctl_examples::throwaway_token("Rogue")?;
    let mut forged = TrustListBuilder::new();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    forged
        .timestamp(u32::try_from(now)?)
        .push(RecordSpec::new(rogue_cert, Role::SAST));
    let forged = forged.build(&rogue)?;
    match phone_accepts(Some(&updated), &parse_trust_list(&forged)?, &RsaVerifier) {
        Ok(a) => return Err(format!("a phone accepted a forged CTL: {a}").into()),
        Err(refusal) => println!("Offered a forged CTL, the phone says: {refusal}"),
    }
    println!("\nDone in {:.1} s.", started.elapsed().as_secs_f64());
    Ok(())
}
