//! Trust for Cisco phones on your own call server, as a library call: a site manifest
//! (the one `ctl provision --init` writes), new software keys, two phone configurations;
//! provisioning the TFTP directory; a second run that changes nothing; an edited
//! configuration signed again alone; and the audit of what each phone would trust.
//!
//! Run: `cargo run -p ctl-examples --example call_server`.

use std::error::Error;

use ctl_site::{Manifest, Options, provision};

fn main() -> Result<(), Box<dyn Error>> {
    let site = tempfile::tempdir()?;
    let manifest_path = site.path().join("trust.toml");
    let text = ctl_site::EXAMPLE.replace(
        "# devices = [\"00:11:22:33:44:55\"]",
        "devices = [\"00:11:22:33:44:55\", \"00:11:22:33:44:66\"]",
    );
    std::fs::write(&manifest_path, text)?;
    let manifest = Manifest::load(&manifest_path)?;
    // Two SAST keys and the TFTP key, generated with mode 0600 (RSA 2048, self-signed).
    std::fs::create_dir(site.path().join("keys"))?;
    for outcome in ctl_site::generate_missing(&manifest.keys())? {
        if let ctl_site::KeyOutcome::Generated { what, files } = outcome {
            println!("{what}: generated {}", files.join(", "));
        }
    }
    std::fs::create_dir(&manifest.out)?;
    for mac in ["001122334455", "001122334466"] {
        std::fs::write(
            manifest.out.join(format!("SEP{mac}.cnf.xml")),
            format!("<device><name>SEP{mac}</name></device>\n"),
        )?;
    }

    let now = ctl_examples::now()?;
    let first = provision(&manifest, &Options::new(now))?;
    for c in &first.changes {
        println!("{} {}", c.action.word(), c.name);
    }
    let again = provision(&manifest, &Options::new(now + 60))?;
    println!(
        "second run: {} changed, {} unchanged",
        again.changes.len(),
        again.unchanged
    );
    assert!(again.is_clean());

    std::fs::write(
        manifest.out.join("SEP001122334455.cnf.xml"),
        "<device><name>SEP001122334455</name><vlan>20</vlan></device>\n",
    )?;
    let edited = provision(&manifest, &Options::new(now + 120))?;
    assert_eq!(edited.changes.len(), 1);
    println!(
        "after an edit: {} {}",
        edited.changes[0].action.word(),
        edited.changes[0].name
    );

    let audit = ctl_site::audit::audit(&manifest.out)?;
    for phone in &audit.phones {
        let who = phone
            .mac
            .map_or_else(|| "any other phone".to_owned(), |m| format!("SEP{m}"));
        let lists: Vec<&str> = [phone.ctl.as_deref(), phone.itl.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        println!(
            "{who}: installs {}; configuration accepted: {}",
            lists.join(" and "),
            phone.config_accepted
        );
        if phone.mac.is_some() {
            assert!(phone.config_accepted, "{phone:?}");
        }
    }
    Ok(())
}
