//! `ctl provision`: the trust lists and signed configs of a site, from its manifest.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ctl_site::{KeyOutcome, Manifest, Options, Report};
use ctl_token::SignerOptions;

use crate::failure::{Failure, Outcome};
use crate::files::display;

/// Arguments of `ctl provision`.
#[derive(clap::Args, Debug)]
pub(crate) struct ProvisionArgs {
    /// The manifest (TOML): keys, servers, lists, devices, files to sign.
    #[arg(long, value_name = "FILE", default_value = "trust.toml")]
    manifest: PathBuf,
    /// Write to this directory instead of the manifest's `out`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write nothing; exit 1 when the directory is not what the manifest says.
    #[arg(long, conflicts_with_all = ["watch", "init"])]
    check: bool,
    /// After the run, sign a config again when it changes, and remove the .sgn of a
    /// config that is removed (until interrupted).
    #[arg(long, conflicts_with = "init")]
    watch: bool,
    /// Write a commented example manifest (if there is none), and generate the software
    /// keys it names that do not exist yet (mode 0600).
    #[arg(long)]
    init: bool,
    /// Sign with a token still on its factory PIN (labs only).
    #[arg(long)]
    allow_factory_pin: bool,
    /// Signing threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Lists longer than this print a summary per action.
const MAX_LISTED: usize = 50;

pub(crate) fn run(args: &ProvisionArgs) -> Outcome {
    if args.init {
        return init(args);
    }
    let mut manifest = Manifest::load(&args.manifest).map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(out) = &args.out {
        manifest.set_out(out.clone());
    }
    let mut options = Options::new(now()?);
    options.check = args.check;
    options.threads = args.threads.unwrap_or(0);
    options.signer = SignerOptions {
        allow_factory_pin: args.allow_factory_pin,
        prompt: true,
        ..SignerOptions::default()
    };
    if args.watch {
        let mut runs = 0u64;
        let mut first_failure = None;
        ctl_site::watch(
            &manifest,
            &options,
            Duration::from_millis(500),
            || now().unwrap_or(u32::MAX),
            |r| {
                runs += 1;
                match r {
                    Ok(report) => show(args, &manifest.out, &report),
                    // A later run's failure (a config made a link) is said and the watch
                    // goes on; a first run's means the manifest cannot work.
                    Err(e) if runs > 1 => errln!("ctl: {}", Failure::from(e).message),
                    Err(e) => {
                        first_failure = Some(Failure::from(e));
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            },
        );
        return first_failure.map_or(Ok(()), Err);
    }
    let report = ctl_site::provision(&manifest, &options)?;
    show(args, &manifest.out, &report);
    if args.check && !report.is_clean() {
        return Err(Failure::quiet(1));
    }
    Ok(())
}

/// The time new files carry: `SOURCE_DATE_EPOCH` when set (reproducible output), else now.
pub(crate) fn now() -> Result<u32, Failure> {
    let secs = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse::<u64>().map_err(|_| {
            Failure::usage(format!(
                "SOURCE_DATE_EPOCH={v:?} is not a number of seconds"
            ))
        })?,
        Err(_) => crate::render::now(),
    };
    u32::try_from(secs)
        .map_err(|_| Failure::usage("the time is past 2106, which TIMESTAMP cannot carry"))
}

fn show(args: &ProvisionArgs, out: &Path, report: &Report) {
    if args.json {
        let changes: Vec<_> = report
            .changes
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "action": c.action.word()}))
            .collect();
        let json = serde_json::json!({
            "ok": !args.check || report.is_clean(),
            "directory": display(out),
            "check": args.check,
            "changes": changes,
            "unchanged": report.unchanged,
            "notes": report.notes,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
        return;
    }
    for note in &report.notes {
        errln!("warning: {note}");
    }
    let verb = |word: &str| {
        if args.check {
            format!("would be {word}")
        } else {
            word.to_owned()
        }
    };
    if report.changes.len() <= MAX_LISTED {
        for c in &report.changes {
            outln!("{} {}", verb(c.action.word()), c.name);
        }
    } else {
        let mut words: Vec<&str> = report.changes.iter().map(|c| c.action.word()).collect();
        words.sort_unstable();
        words.dedup();
        for w in words {
            let of: Vec<&str> = report
                .changes
                .iter()
                .filter(|c| c.action.word() == w)
                .map(|c| c.name.as_str())
                .collect();
            let shown = of.iter().take(3).copied().collect::<Vec<_>>().join(", ");
            outln!("{} {} files ({shown}, ...)", verb(w), of.len());
        }
    }
    let state = match (args.check, report.is_clean()) {
        (true, true) => "is what the manifest says",
        (true, false) => "differs from the manifest",
        (false, true) => "already held what the manifest says",
        (false, false) => "now holds what the manifest says",
    };
    outln!(
        "{}: {state} ({} changed, {} unchanged)",
        display(out),
        report.changes.len(),
        report.unchanged
    );
}

fn init(args: &ProvisionArgs) -> Outcome {
    let path = &args.manifest;
    if path.symlink_metadata().is_err() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Failure::failed(format!("{}: {}", display(dir), ctl_format::io_words(&e)))
            })?;
        }
        crate::files::write_atomic(path, ctl_site::EXAMPLE.as_bytes())?;
        outln!("wrote {} (an example: edit it for the site)", display(path));
    }
    let manifest = Manifest::load(path).map_err(|e| Failure::usage(e.to_string()))?;
    for k in manifest.keys() {
        if let ctl_site::KeySource::Pem(p) | ctl_site::KeySource::Split { key: p, .. } = &k.1
            && let Some(dir) = p.parent()
        {
            private_dir(dir)?;
        }
    }
    for outcome in ctl_site::generate_missing(&manifest.keys())? {
        match outcome {
            KeyOutcome::Generated { what, files } => {
                outln!(
                    "{what}: generated {} (RSA 2048, self-signed)",
                    files.join(" and ")
                );
            }
            KeyOutcome::Exists { what } => outln!("{what}: exists, left alone"),
            KeyOutcome::OnToken { what } => outln!("{what}: on a token, not generated"),
            _ => {}
        }
    }
    outln!("next: ctl provision --manifest {}", display(path));
    Ok(())
}

/// Creates a directory for new keys as 0700 (an existing one is left as it is).
fn private_dir(dir: &Path) -> Outcome {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.as_os_str().is_empty() || dir.symlink_metadata().is_ok() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Failure::failed(format!("{}: {}", display(dir), ctl_format::io_words(&e))))
}
