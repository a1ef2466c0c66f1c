//! `ctl audit`: what a TFTP tree gives each phone.

use std::path::PathBuf;

use ctl_format::{FileKind, format_utc};

use crate::failure::{Failure, Outcome};
use crate::files::display;

/// Arguments of `ctl audit`.
#[derive(clap::Args, Debug)]
pub(crate) struct AuditArgs {
    /// The TFTP tree (its subdirectories are walked; links are not followed).
    dir: PathBuf,
    /// Print the audit as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit 0 when every phone the tree names would take its configuration, else 1.
pub(crate) fn run(args: &AuditArgs) -> Outcome {
    let audit = ctl_site::audit::audit(&args.dir)?;
    let refused = audit
        .phones
        .iter()
        .filter(|p| p.mac.is_some() && !p.config_accepted)
        .count();
    if args.json {
        let files: Vec<_> = audit
            .files
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name, "size": f.size, "md5": f.md5, "sha1": f.sha1,
                    "kind": f.kind.map(|k| match k { FileKind::TrustList => "trust-list", _ => "signed" }),
                    "signer": f.signer, "timestamp": f.timestamp, "error": f.error,
                })
            })
            .collect();
        let phones: Vec<_> = audit
            .phones
            .iter()
            .map(|p| {
                serde_json::json!({
                    "mac": p.mac.map(|m| m.to_string()), "ctl": p.ctl, "itl": p.itl,
                    "sast": p.sast, "tftp": p.tftp, "config": p.config,
                    "config_accepted": p.config_accepted, "notes": p.notes,
                })
            })
            .collect();
        let json = serde_json::json!({
            "ok": refused == 0,
            "directory": display(&args.dir),
            "files": files,
            "phones": phones,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else {
        for f in &audit.files {
            let what = match (&f.error, f.kind) {
                (Some(e), _) => format!("does not parse: {e}"),
                (None, _) => format!(
                    "signed by {} at {}",
                    f.signer.as_deref().unwrap_or("?"),
                    f.timestamp
                        .map_or_else(|| "?".into(), |t| format_utc(u64::from(t)))
                ),
            };
            outln!(
                "{}: {} bytes, MD5 {}, SHA-1 {}, {what}",
                f.name,
                f.size,
                f.md5,
                f.sha1
            );
        }
        for p in &audit.phones {
            let who = p
                .mac
                .map_or_else(|| "any other phone".to_owned(), |m| format!("SEP{m}"));
            let lists: Vec<&str> = [p.ctl.as_deref(), p.itl.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            outln!(
                "{who}: installs {}; trusts lists signed by {}; configs signed by {}; configuration {}",
                if lists.is_empty() {
                    "no list".to_owned()
                } else {
                    lists.join(" and ")
                },
                if p.sast.is_empty() {
                    "anyone (leap of faith)".to_owned()
                } else {
                    p.sast.join(" | ")
                },
                if p.tftp.is_empty() {
                    "nobody (unsigned)".to_owned()
                } else {
                    p.tftp.join(" | ")
                },
                match (&p.config, p.config_accepted) {
                    (Some(c), true) => format!("{c} accepted"),
                    (_, _) if p.mac.is_none() => "per MAC".to_owned(),
                    (_, _) => "NOT accepted".to_owned(),
                }
            );
            for n in &p.notes {
                outln!("  {n}");
            }
        }
        outln!(
            "{}: {} files, {} phones named, {refused} would not take their configuration",
            display(&args.dir),
            audit.files.len(),
            audit.phones.iter().filter(|p| p.mac.is_some()).count()
        );
    }
    if refused == 0 {
        Ok(())
    } else {
        Err(Failure::quiet(1))
    }
}
