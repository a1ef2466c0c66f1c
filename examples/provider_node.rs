//! A CTL provider node served in this process (what `ctl-providerd run` serves), and a
//! client that discovers it: its services, certificates and the CTL it holds.
//!
//! Run: `cargo run -p ctl-examples --example provider_node`

use std::error::Error;

use ctl_client::{Client, HeldCtl, Password, TrustPolicy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let tmp = tempfile::tempdir()?;
    // provider.toml, its CallManager, CAPF and TLS keys and certificates, the user's
    // argon2id password hash, tftp/ and state/: what `ctl-providerd init` writes.
    let addr = ctl_examples::node(
        &tmp.path().join("cucm-pub"),
        "cucm-pub",
        &["callmanager", "tftp", "capf", "provider"],
        true,
        Vec::new(),
    )?;
    println!(
        "a provider for cucm-pub on {addr}, in {}",
        tmp.path().display()
    );

    let client = Client::builder(
        &addr.ip().to_string(),
        addr.port(),
        "admin",
        Password::new(ctl_examples::PASSWORD),
    )
    // First contact: pin the node's TLS certificate (keep client.trust() for next time).
    .trust(TrustPolicy {
        trust_on_first_use: true,
        ..TrustPolicy::default()
    })
    .build();
    let view = client.discover().await?;
    for n in &view.nodes {
        println!("{} ({}:{}): {}", n.name, n.host, n.port, n.status);
        for c in n.info.iter().flat_map(|i| i.certificates.iter()) {
            let cert = ctl_format::Certificate::from_der(&c.der)?;
            println!(
                "  {}: {}",
                ctl_format::Role(c.role),
                cert.subject_text(ctl_format::NameStyle::Reversed)
            );
        }
        let holds = match n.ctl {
            HeldCtl::Sha256(h) => ctl_format::hex(&h),
            HeldCtl::None => "no CTL yet (non-secure)".to_owned(),
            _ => "unknown".to_owned(),
        };
        println!("  holds: {holds}");
    }
    println!(
        "pinned: {} provider certificate(s)",
        client.trust().known.len()
    );
    Ok(())
}
