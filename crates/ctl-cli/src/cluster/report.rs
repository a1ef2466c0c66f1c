//! What a workflow did, per target, for people and for scripts; and its exit code.

use ctl_client::{Error, Outcome as Report, Preview, TargetStatus};
use serde::Serialize;

use crate::failure::{Failure, Outcome};
use crate::progress::Progress;

#[derive(Serialize)]
struct TargetJson {
    name: String,
    server: String,
    location: String,
    status: &'static str,
    detail: Option<String>,
    restart: Vec<&'static str>,
    hook: Option<HookJson>,
}

#[derive(Serialize)]
struct HookJson {
    exit_status: i32,
    message: String,
}

#[derive(Serialize)]
struct ReportJson {
    ok: bool,
    /// Nothing needed changing: nothing was signed or sent.
    unchanged: bool,
    ctl_sha256: String,
    ctl_size: Option<usize>,
    room_for_records: Option<usize>,
    targets: Vec<TargetJson>,
    notes: Vec<String>,
    /// What phones will not take in the CTL (lint), with stable codes.
    warnings: Vec<WarningJson>,
    /// A stable name of what went wrong (`distribution`, `followups`), when it did.
    error_code: Option<&'static str>,
    error: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct WarningJson {
    code: &'static str,
    message: String,
}

pub(crate) fn warnings_json(warnings: &[ctl_format::Warning]) -> Vec<WarningJson> {
    warnings
        .iter()
        .map(|w| WarningJson {
            code: w.code(),
            message: w.to_string(),
        })
        .collect()
}

fn targets_json(report: &ctl_client::DistributionReport) -> Vec<TargetJson> {
    report
        .targets
        .iter()
        .map(|t| TargetJson {
            name: t.name.clone(),
            server: t.server.clone(),
            location: t.location.clone(),
            status: t.status.name(),
            detail: match &t.status {
                TargetStatus::Failed(r) | TargetStatus::Unknown(r) => Some(r.to_string()),
                _ => None,
            },
            restart: t.restart.clone(),
            hook: t.hook.as_ref().map(|h| HookJson {
                exit_status: h.exit_status,
                message: h.message.clone(),
            }),
        })
        .collect()
}

fn print_targets(targets: &[TargetJson]) {
    outln!(
        "  {:<16} {:<22} {:<10} restart",
        "server",
        "provider",
        "status"
    );
    for t in targets {
        outln!(
            "  {:<16} {:<22} {:<10} {}",
            t.name,
            t.server,
            t.status,
            if t.restart.is_empty() {
                "-".to_owned()
            } else {
                t.restart.join(", ")
            }
        );
        if let Some(d) = &t.detail {
            outln!("      {d}");
        }
        if let Some(h) = &t.hook {
            outln!("      on_commit exited {}: {}", h.exit_status, h.message);
        }
    }
}

/// Prints a workflow's result and maps it to an exit code.
pub(crate) fn finish(
    result: Result<Report, Error>,
    progress: Option<&Progress>,
    json: bool,
    what: &str,
    (shown, dry_run): (&super::workflow::Shown, bool),
) -> Outcome {
    if let Some(p) = progress {
        p.finish();
    }
    let preview = shown
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    match result {
        Err(Error::Cancelled) => match preview {
            Some(p) if dry_run => {
                print_preview(what, &p, json);
                Ok(())
            }
            _ => {
                if json {
                    print_error(&Error::Cancelled);
                }
                Err(Failure::failed("cancelled; nothing changed"))
            }
        },
        Ok(r) if r.unchanged => {
            if json {
                let out = ReportJson {
                    ok: true,
                    unchanged: true,
                    ctl_sha256: r.distribution.hash.clone(),
                    ctl_size: Some(r.ctl.len()),
                    room_for_records: Some(r.room_for_records),
                    targets: Vec::new(),
                    notes: r.notes,
                    warnings: warnings_json(&r.warnings),
                    error_code: None,
                    error: None,
                };
                outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                for n in &r.notes {
                    outln!("{what}: {n}");
                }
                for w in &r.warnings {
                    errln!("warning: the current CTL: {w}");
                }
            }
            Ok(())
        }
        Ok(r) => {
            let targets = targets_json(&r.distribution);
            let unfinished = r.distribution.followups_failed();
            // A hook that failed did not do what the node's operator wanted after a
            // commit (restart a service, copy the file): the command fails too.
            let hooks: Vec<String> = r
                .distribution
                .targets
                .iter()
                .filter_map(|t| {
                    let h = t.hook.as_ref().filter(|h| h.exit_status != 0)?;
                    Some(format!(
                        "{}: the on-commit hook exited {}",
                        t.name, h.exit_status
                    ))
                })
                .collect();
            let (error_code, error) = if !unfinished.is_empty() {
                (
                    Some("followups"),
                    Some(format!(
                        "the CTL is committed on every target, but {}; run the command again",
                        unfinished.join("; ")
                    )),
                )
            } else if !hooks.is_empty() {
                (
                    Some("hook"),
                    Some(format!(
                        "the CTL is committed on every target, but {}",
                        hooks.join("; ")
                    )),
                )
            } else {
                (None, None)
            };
            if json {
                let out = ReportJson {
                    ok: error.is_none(),
                    unchanged: false,
                    ctl_sha256: r.distribution.hash.clone(),
                    ctl_size: Some(r.ctl.len()),
                    room_for_records: Some(r.room_for_records),
                    targets,
                    notes: r.notes,
                    warnings: warnings_json(&r.warnings),
                    error_code,
                    error: error.clone(),
                };
                outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                outln!(
                    "{what}: CTL of {} bytes, SHA-256 {}",
                    r.ctl.len(),
                    r.distribution.hash
                );
                print_targets(&targets);
                for n in &r.notes {
                    outln!("  {n}");
                }
                outln!(
                    "  the CTL is in CTLFile.tlv in each node's TFTP directory; room for {} more 2048-bit records",
                    r.room_for_records
                );
                for w in &r.warnings {
                    errln!("warning: the distributed CTL: {w}");
                }
            }
            error.map_or(Ok(()), |e| Err(Failure::failed(e)))
        }
        Err(Error::Distribution(report)) => {
            let targets = targets_json(&report);
            if json {
                let out = ReportJson {
                    ok: false,
                    unchanged: false,
                    ctl_sha256: report.hash.clone(),
                    ctl_size: None,
                    room_for_records: None,
                    targets,
                    notes: Vec::new(),
                    warnings: Vec::new(),
                    error_code: Some("distribution"),
                    error: Some(format!("distribution failed: {report}")),
                };
                outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                outln!("{what}: FAILED; no node took the new CTL unless listed as committed");
                print_targets(&targets);
            }
            Err(Failure::failed(format!("distribution failed: {report}")))
        }
        Err(e) => {
            if json {
                print_error(&e);
            }
            Err(e.into())
        }
    }
}

/// The one JSON object a failed command prints on stdout (scripts always get one).
pub(crate) fn print_error(e: &Error) {
    let out = serde_json::json!({
        "ok": false,
        "error_code": e.code(),
        "error": e.to_string(),
    });
    outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
}

#[derive(Serialize)]
struct PreviewJson<'a> {
    dry_run: bool,
    tokens_added: &'a [String],
    tokens_removed: &'a [String],
    added: &'a [String],
    removed: &'a [String],
    kept: usize,
    targets: &'a [String],
    size: usize,
    warnings: Vec<WarningJson>,
}

/// What the token would have signed (a dry run, or a refusal at the question).
fn print_preview(what: &str, p: &Preview, json: bool) {
    if json {
        let out = PreviewJson {
            dry_run: true,
            tokens_added: &p.tokens_added,
            tokens_removed: &p.tokens_removed,
            added: &p.added,
            removed: &p.removed,
            kept: p.kept,
            targets: &p.targets,
            size: p.size,
            warnings: warnings_json(&p.warnings),
        };
        outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        outln!("{what} (dry run): nothing signed or sent; the token would sign\n{p}");
    }
}
