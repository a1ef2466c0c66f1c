//! `ctl migrate`: move phones off a trust list the site did not sign.

use std::path::PathBuf;

use ctl_site::Manifest;
use ctl_site::migrate::{self, MigrateError};

use crate::failure::{Failure, Outcome};
use crate::files::{display, read_document};
use crate::signing;

/// Arguments of `ctl migrate`.
#[derive(clap::Args, Debug)]
pub(crate) struct MigrateArgs {
    /// The trust list the phones hold now (a stranger's, or a lost cluster's).
    #[arg(long, value_name = "HELD.tlv")]
    from: PathBuf,
    /// The key that signed it (a SAST of it): a PEM file, a PKCS #12 file (`.p12` or
    /// `.pfx`: CUCM's ITLRecovery.p12) or a pkcs11: URI. Without it, the command says
    /// what the phones need done by hand.
    #[arg(long, value_name = "KEY|P12|URI")]
    old_key: Option<String>,
    /// The password of a PKCS #12 --old-key, first line of this file (default: asked
    /// without echo).
    #[arg(long, value_name = "FILE")]
    p12_password_file: Option<PathBuf>,
    /// The certificate of an --old-key file that holds only the key (default: the
    /// matching SAST certificate of --from).
    #[arg(long, value_name = "CERT")]
    old_cert: Option<PathBuf>,
    /// The site's manifest.
    #[arg(long, value_name = "FILE", default_value = "trust.toml")]
    manifest: PathBuf,
    /// Write the bridge to this directory instead of the manifest's `out`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Sign with a token still on its factory PIN (labs only).
    #[arg(long)]
    allow_factory_pin: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn failure(e: MigrateError) -> Failure {
    match e {
        MigrateError::Provision(p) => Failure::from(p),
        other => Failure::usage(other.to_string()),
    }
}

pub(crate) fn run(args: &MigrateArgs) -> Outcome {
    let mut manifest = Manifest::load(&args.manifest).map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(out) = &args.out {
        manifest.set_out(out.clone());
    }
    let held = read_document(&args.from, crate::files::ReadOptions::default())?;
    let file = display(&args.from);
    let Some(old_key) = &args.old_key else {
        let warnings =
            migrate::lock_in(&manifest, &file, &held, crate::render::now()).map_err(failure)?;
        if warnings.is_empty() {
            outln!("{file}: signed by a SAST key of this site; no migration is needed");
            return Ok(());
        }
        let text: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        if args.json {
            let json = serde_json::json!({"ok": false, "lock_in": true, "warnings": text});
            outln!(
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            );
        } else {
            for t in &text {
                outln!("{file}: {t}");
            }
            outln!(
                "{file}: without the key that signed it there is no bridge: every phone that holds it takes no list of this site until its trust list is erased by hand (on the phone: Settings > Admin settings > Security > Trust list > erase, or a factory reset)"
            );
        }
        return Err(Failure::quiet(1));
    };
    let candidates = migrate::sast_certificates(&file, &held).map_err(failure)?;
    let is_p12 = [".p12", ".pfx"]
        .iter()
        .any(|e| old_key.to_ascii_lowercase().ends_with(e));
    let old = if is_p12 {
        let password = match &args.p12_password_file {
            Some(f) => ctl_token::pkcs11::pin::read_pin_file(f)?,
            None => ctl_token::pkcs11::pin::prompt(&format!("Password of {old_key}: "))?,
        };
        let signer = ctl_token::SoftwareSigner::from_pkcs12_file(
            std::path::Path::new(old_key),
            &password,
            &candidates,
        )?;
        std::sync::Arc::new(signer) as ctl_client::SharedSigner
    } else {
        signing::open(
            old_key,
            args.old_cert.as_deref(),
            &candidates,
            args.allow_factory_pin,
        )?
        .shared()
    };
    let mut options = ctl_site::Options::new(crate::provision::now()?);
    options.signer = ctl_token::SignerOptions {
        allow_factory_pin: args.allow_factory_pin,
        prompt: true,
        ..ctl_token::SignerOptions::default()
    };
    let migration = migrate::bridge(&manifest, &file, &held, old, &options).map_err(failure)?;
    if args.json {
        let changes: Vec<_> = migration
            .report
            .changes
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "action": c.action.word()}))
            .collect();
        let json = serde_json::json!({
            "ok": true,
            "directory": display(&manifest.out),
            "old_key": migration.old,
            "changes": changes,
            "plan": migration.plan,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
        return Ok(());
    }
    outln!(
        "{}: bridge written ({} files changed), signed by {}",
        display(&manifest.out),
        migration.report.changes.len(),
        migration.old
    );
    for (i, step) in migration.plan.iter().enumerate() {
        outln!("{}. {step}", i + 1);
    }
    Ok(())
}
