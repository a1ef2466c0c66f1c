//! The cluster workflows against nodes in this process: discover two nodes, set mixed
//! mode with two tokens, see the status, update (a third token and an alternate TFTP
//! server), see the status again; an update with nothing to change sends nothing.
//!
//! Run: `cargo run -p ctl-examples --example cluster_update`

use std::error::Error;
use std::sync::Arc;

use ctl_client::{Changes, Client, Password, Peer, SharedSigner, TrustPolicy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let tmp = tempfile::tempdir()?;
    let sub = ctl_examples::node(
        &tmp.path().join("cucm-sub"),
        "cucm-sub",
        &["callmanager", "provider"],
        false,
        Vec::new(),
    )?;
    let first = ctl_examples::node(
        &tmp.path().join("cucm-pub"),
        "cucm-pub",
        &["callmanager", "tftp", "provider"],
        true,
        vec![ctl_providerd::Endpoint::new(
            "cucm-sub",
            "127.0.0.1",
            sub.port(),
        )],
    )?;
    let client = Client::builder(
        "127.0.0.1",
        first.port(),
        "admin",
        Password::new(ctl_examples::PASSWORD),
    )
    .trust(TrustPolicy {
        trust_on_first_use: true,
        ..TrustPolicy::default()
    })
    .on_event(|e| println!("  {e}"))
    .build();

    let view = client.discover().await?;
    println!("discovered {} nodes", view.nodes.len());

    let (t1, s1) = ctl_examples::throwaway_token("SAST-1")?;
    let (t2, _) = ctl_examples::throwaway_token("SAST-2")?;
    let s1: SharedSigner = Arc::new(s1);
    let outcome = client.set_mixed_mode(&[t1, t2], Arc::clone(&s1)).await?;
    println!(
        "mixed mode: a CTL of {} bytes committed on {} nodes",
        outcome.ctl.len(),
        outcome.distribution.targets.len()
    );
    let status = client.status().await?;
    println!("status: up to date: {}", status.up_to_date());

    // An off-cluster alternate TFTP server joins, and a third token: an update signed
    // by a token of the current CTL covers both; the first node keeps the server with the
    // CTL, so every later run covers it too.
    let tftp = ctl_examples::node(
        &tmp.path().join("tftp-1"),
        "tftp-1",
        &["tftp", "provider"],
        false,
        Vec::new(),
    )?;
    let (t3, _) = ctl_examples::throwaway_token("SAST-3")?;
    let changes = Changes {
        add_tokens: vec![t3],
        add_peers: vec![Peer {
            name: "tftp-1".into(),
            host: "127.0.0.1".into(),
            port: tftp.port(),
            firewall: false,
        }],
        ..Changes::default()
    };
    let update = client.update(Arc::clone(&s1), &changes).await?;
    println!(
        "update: committed on {} targets (the alternate TFTP server too)",
        update.distribution.targets.len()
    );
    let status = client.status().await?;
    println!("status: up to date: {}", status.up_to_date());
    if !status.up_to_date() {
        return Err("the cluster is not up to date after the update".into());
    }
    let again = client.update(s1, &Changes::default()).await?;
    println!("update with no change: unchanged: {}", again.unchanged);
    if !again.unchanged {
        return Err("an update with nothing to change sent a new CTL".into());
    }
    Ok(())
}
