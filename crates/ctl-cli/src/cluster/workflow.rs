//! `ctl cluster status|set-mode|update|remove-entry|add-tftp|add-firewall`: the Cisco CTL
//! Client workflows, through `ctl-client`.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use ctl_client::{Changes, HeldCtl, Peer, Preview, Selector};
use ctl_format::Certificate;

use super::connect::{ConnectArgs, client, runtime, save_trust};
use super::report::finish;
use crate::failure::{Failure, Outcome};
use crate::signing::{self, Signing};

/// Output and confirmation flags of the changing commands.
#[derive(clap::Args, Debug)]
pub(crate) struct Common {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Do not ask for confirmation (required when not on a terminal).
    #[arg(long)]
    yes: bool,
    /// Print one JSON report.
    #[arg(long)]
    json: bool,
    /// Let tokens still on their factory PIN sign (labs only).
    #[arg(long)]
    allow_factory_pin: bool,
    /// Authenticate the TLS sessions with the signing token (its certificate and key): the
    /// default, as the Cisco guide has the token authenticate the client; nodes written by
    /// `ctl-providerd init` change only for a SAST client certificate.
    #[arg(long, conflicts_with = "password_only")]
    tls_with_token: bool,
    /// Log in with the password alone, for nodes set up with `--password-only`.
    #[arg(long)]
    password_only: bool,
    /// Build the file and show what the token would sign (records added, removed and kept,
    /// the targets, the size), then stop: nothing is signed or sent.
    #[arg(long)]
    dry_run: bool,
    /// Digest of the CTL's signature: sha1 (every phone takes it) or sha512 (firmware
    /// that knows it).
    #[arg(long, default_value = "sha1")]
    digest: ctl_format::DigestAlgorithm,
}

impl Common {
    /// The digest asked for: SHA-1 or SHA-512 (no phone is known to take SHA-256 lists).
    fn digest(&self) -> Result<ctl_format::DigestAlgorithm, Failure> {
        match self.digest {
            ctl_format::DigestAlgorithm::Sha256 => Err(Failure::usage(
                "--digest sha256: no phone is known to take SHA-256 lists; give sha1 or sha512",
            )),
            d => Ok(d),
        }
    }
}

#[derive(clap::Args, Debug)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `mixed` or `non-secure`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub(crate) enum Mode {
    /// Mixed (secure) mode: builds and distributes the first CTL.
    Mixed,
    /// Non-secure: the CTL stays, its server records carry no certificates.
    NonSecure,
}

#[derive(clap::Args, Debug)]
pub(crate) struct SetModeArgs {
    /// The mode.
    mode: Mode,
    /// A security token: a pkcs11: URI or a PEM with key and certificate. Mixed mode
    /// needs at least two; the last one signs. Non-secure: one of the current CTL's.
    #[arg(
        long = "token",
        value_name = "URI|PEM",
        required_unless_present = "collect"
    )]
    tokens: Vec<String>,
    /// Mixed mode: collect N hardware tokens one at a time instead of --token (remove
    /// every token first, then insert each when asked; the last one inserted signs).
    #[arg(long, value_name = "N", conflicts_with = "tokens")]
    collect: Option<usize>,
    #[command(flatten)]
    collect_with: CollectArgs,
    #[command(flatten)]
    common: Common,
}

/// How `--collect` finds and unlocks the tokens.
#[derive(clap::Args, Debug)]
pub(crate) struct CollectArgs {
    /// The PKCS#11 module of the tokens (default: CTL_PKCS11_MODULE, else every
    /// well-known module present).
    #[arg(long, value_name = "PATH", requires = "collect")]
    module: Option<PathBuf>,
    /// A file holding the PIN of the last token, which signs (default: asked without echo).
    #[arg(long, value_name = "FILE", requires = "collect")]
    pin_file: Option<PathBuf>,
    /// How long to wait for each token, in seconds.
    #[arg(long, value_name = "S", default_value_t = 300)]
    token_wait: u64,
}

#[derive(clap::Args, Debug)]
pub(crate) struct UpdateArgs {
    /// The signing token: one of the current CTL's (pkcs11: URI or PEM).
    #[arg(long, value_name = "URI|PEM")]
    token: String,
    /// A token to add (its certificate: pkcs11: URI, PEM or DER); repeatable.
    #[arg(long, value_name = "URI|PEM")]
    add_token: Vec<String>,
    /// An alternate TFTP server to add, by its CTL provider; repeatable.
    #[arg(long, value_name = "NAME=HOST:PORT")]
    add_tftp: Vec<String>,
    /// A firewall to add, by its CTL provider; repeatable.
    #[arg(long, value_name = "NAME=HOST:PORT")]
    add_firewall: Vec<String>,
    /// An alternate TFTP server or firewall to remove, by name; repeatable.
    #[arg(long, value_name = "NAME")]
    remove_peer: Vec<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args, Debug)]
pub(crate) struct RemoveArgs {
    /// The signing token: one of the current CTL's, not the one removed.
    #[arg(long, value_name = "URI|PEM")]
    token: String,
    /// The entry's certificate serial, hex.
    #[arg(
        long,
        value_name = "HEX",
        conflicts_with = "subject",
        required_unless_present = "subject"
    )]
    serial: Option<String>,
    /// The entry's subject, as `ctl inspect` prints it.
    #[arg(long, value_name = "TEXT")]
    subject: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args, Debug)]
pub(crate) struct PeerArgs {
    /// NAME=HOST:PORT of the server's CTL provider.
    #[arg(value_name = "NAME=HOST:PORT")]
    peer: String,
    /// The signing token: one of the current CTL's.
    #[arg(long, value_name = "URI|PEM")]
    token: String,
    #[command(flatten)]
    common: Common,
}

/// A signer for a token argument (the PIN from the URI or the terminal). The workflows
/// authenticate their TLS sessions with it unless `--password-only`.
fn token_signer(arg: &str, common: &Common) -> Result<Signing, Failure> {
    signing::open(arg, None, &[], common.allow_factory_pin)
}

/// The Cisco way: remove every token, insert them one at a time; each one's certificate
/// is read, two at once are refused; the last one signs (its PIN from `--pin-file`, or
/// asked). Prompts go to stderr.
fn collect_tokens(
    n: usize,
    args: &CollectArgs,
    common: &Common,
) -> Result<(Vec<Certificate>, Signing), Failure> {
    use ctl_token::pkcs11::collect::{Step, collect};
    use ctl_token::pkcs11::{Module, wait};
    if n < 2 {
        return Err(Failure::usage(format!(
            "--collect {n}: mixed mode needs at least two security tokens"
        )));
    }
    let modules = match &args.module {
        Some(p) => vec![Module::load(p)?],
        None => Module::defaults()?,
    };
    let options = wait::Wait {
        timeout: Duration::from_secs(args.token_wait),
        rescan: true,
        ..wait::Wait::default()
    };
    let collected = collect(&modules, n, &options, |step| match step {
        Step::AlreadyPresent { count } => errln!(
            "{count} token(s) already present do not count; insert each token to collect when asked"
        ),
        Step::Insert { index, of, wait } => errln!(
            "insert security token {index} of {of} (waiting up to {} s)",
            wait.as_secs()
        ),
        Step::Collected {
            index,
            of,
            token,
            certificate,
        } => errln!(
            "token {index} of {of}: {token} ({}, serial {})",
            certificate.subject,
            certificate.serial
        ),
        Step::Remove => errln!("remove it"),
        _ => {}
    })?;
    let uri = ctl_token::Pkcs11Uri {
        pin_source: args
            .pin_file
            .as_ref()
            .map(|p| format!("file:{}", p.display())),
        ..collected.last_uri
    };
    errln!(
        "signing with token {n}, {}: keep it inserted",
        collected.last
    );
    let signer = ctl_token::TokenSigner::open(
        &uri,
        &ctl_token::SignerOptions {
            allow_factory_pin: common.allow_factory_pin,
            prompt: true,
            ..ctl_token::SignerOptions::default()
        },
    )?;
    Ok((
        collected.certificates,
        Signing::Token(std::sync::Arc::new(signer)),
    ))
}

/// Whether the command may ask before the token signs: `--yes`, `--dry-run`, or a terminal.
fn confirm(common: &Common, what: &str) -> Result<(), Failure> {
    if common.yes || common.dry_run || std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "{what}: not on a terminal; give --yes to proceed without confirmation"
    )))
}

/// What the token is about to sign, shown before it signs: with `--dry-run` the workflow
/// stops there (the preview is kept for the report), with `--yes` it goes on, else the
/// operator is asked.
fn ask_before_signing(common: &Common, what: &str) -> (Ask, Shown) {
    let shown = Shown::default();
    let keep = std::sync::Arc::clone(&shown);
    let (yes, dry_run, json) = (common.yes, common.dry_run, common.json);
    let question = format!("{what} on the cluster of {}", common.connect.publisher);
    let ask = move |p: &Preview| {
        *keep
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(p.clone());
        if dry_run {
            return false;
        }
        if !json {
            errln!("{question}: the token signs\n{p}");
        }
        if yes {
            return true;
        }
        err!("Sign and send? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).is_ok()
            && matches!(answer.trim(), "y" | "Y" | "yes")
    };
    (Box::new(ask), shown)
}

/// The confirmation a workflow asks before its token signs.
pub(crate) type Ask = Box<dyn Fn(&Preview) -> bool + Send + Sync>;
/// What it was shown.
pub(crate) type Shown = std::sync::Arc<std::sync::Mutex<Option<Preview>>>;

fn peer(text: &str, firewall: bool) -> Result<Peer, Failure> {
    let bad = || {
        let shown = ctl_format::printable(text).replace('\n', "\\n");
        Failure::usage(format!("\"{shown}\": expected NAME=HOST:PORT"))
    };
    let (name, addr) = text.split_once('=').ok_or_else(bad)?;
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    if name.is_empty() || host.is_empty() || text.chars().any(char::is_control) {
        return Err(bad());
    }
    Ok(Peer {
        name: name.to_owned(),
        host: host.trim_matches(['[', ']']).to_owned(),
        port: port.parse().map_err(|_| bad())?,
        firewall,
    })
}

/// Asks (`what.0`), opens the signing token, connects (with the token's TLS identity when
/// asked), runs `changes` as an update and reports it (as `what.1`).
fn run_update(
    rt: &tokio::runtime::Runtime,
    common: &Common,
    token: &str,
    what: (&str, &str),
    changes: Changes,
) -> Outcome {
    confirm(common, what.0)?;
    let token = token_signer(token, common)?;
    let (ask, shown) = ask_before_signing(common, what.0);
    let (client, progress) = client(
        &common.connect,
        common.json,
        common.password_only,
        Some(ask),
        common.digest()?,
    )?;
    let result = rt.block_on(client.update(token.shared(), &changes));
    save_trust(&client, &common.connect)?;
    finish(
        result,
        progress.as_ref(),
        common.json,
        what.1,
        (&shown, common.dry_run),
    )
}

/// `ctl cluster status`.
pub(crate) fn status(a: &StatusArgs) -> Outcome {
    let rt = runtime()?;
    let (client, progress) = client(
        &a.connect,
        a.json,
        false,
        None,
        ctl_format::DigestAlgorithm::Sha1,
    )?;
    let result = rt.block_on(client.status());
    if let Some(p) = &progress {
        p.finish();
    }
    let status = result.map_err(|e| {
        if a.json {
            super::report::print_error(&e);
        }
        Failure::failed(e.to_string())
    })?;
    save_trust(&client, &a.connect)?;
    let texts: Option<Vec<String>> = status
        .changes
        .as_ref()
        .map(|c| c.iter().map(ToString::to_string).collect());
    let first = ctl_format::hex(&status.sha256);
    let held = |n: &ctl_client::NodeView| match n.ctl {
        HeldCtl::Sha256(h) => Some(ctl_format::hex(&h)),
        _ => None,
    };
    if a.json {
        let nodes: Vec<serde_json::Value> = status
            .nodes
            .iter()
            .filter(|n| n.kind == ctl_client::TargetKind::Node)
            .map(|n| {
                serde_json::json!({
                    "name": n.name,
                    "status": n.status.name(),
                    "ctl_sha256": held(n),
                    "holds": match n.ctl {
                        HeldCtl::Sha256(h) if h == status.sha256 => "same",
                        HeldCtl::Sha256(_) => "other",
                        HeldCtl::None => "none",
                        _ => "unknown",
                    },
                })
            })
            .collect();
        let out = serde_json::json!({
            "up_to_date": status.up_to_date(),
            "stale": texts.as_ref().is_some_and(|t| !t.is_empty()),
            "ctl_sha256": first,
            "changes": texts,
            "nodes": nodes,
        });
        outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        report_status(&status, texts.as_deref(), &first);
    }
    if status.up_to_date() {
        Ok(())
    } else {
        Err(Failure::quiet(1))
    }
}

/// `status` for people: what each node holds, and whether the CTL covers the cluster.
fn report_status(status: &ctl_client::ClusterStatus, changes: Option<&[String]>, first: &str) {
    let short = |h: &str| h.get(..16).unwrap_or(h).to_owned();
    for n in status.differing() {
        match n.ctl {
            HeldCtl::Sha256(h) => outln!(
                "DIFFERS: {} holds another CTL (sha256 {}…) than the first node (sha256 {}…): a commit did not reach it; `ctl cluster update` sends the current one to every node",
                n.name,
                short(&ctl_format::hex(&h)),
                short(first)
            ),
            HeldCtl::None => outln!(
                "DIFFERS: {} holds no CTL; `ctl cluster update` sends the current one to every node",
                n.name
            ),
            _ => outln!("UNKNOWN: {} did not say which CTL it holds", n.name),
        }
    }
    for n in status.unreachable() {
        let detail = n
            .status
            .detail()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        outln!("UNREACHABLE: {} ({}){detail}", n.name, n.status.name());
    }
    match changes {
        None => outln!(
            "whether the CTL covers the cluster cannot be told while a server is unreachable"
        ),
        Some([]) if status.up_to_date() => outln!(
            "up to date: every node holds the CTL (sha256 {}…), and it covers the cluster as it is",
            short(first)
        ),
        Some([]) => outln!("the CTL covers the cluster as it is"),
        Some(changes) => {
            outln!("STALE: the cluster changed since the CTL was built; run `ctl cluster update`:");
            for t in changes {
                outln!("  - {t}");
            }
        }
    }
}

/// `ctl cluster set-mode`.
pub(crate) fn set_mode(a: &SetModeArgs) -> Outcome {
    let rt = runtime()?;
    match a.mode {
        Mode::Mixed => {
            let (certs, token) = if let Some(n) = a.collect {
                confirm(&a.common, "set mixed mode")?;
                collect_tokens(n, &a.collect_with, &a.common)?
            } else {
                let certs = a
                    .tokens
                    .iter()
                    .map(|t| signing::certificate(t))
                    .collect::<Result<Vec<_>, _>>()?;
                confirm(&a.common, "set mixed mode")?;
                let last = a
                    .tokens
                    .last()
                    .ok_or_else(|| Failure::usage("give --token"))?;
                (certs, token_signer(last, &a.common)?)
            };
            let (ask, shown) = ask_before_signing(&a.common, "set mixed mode");
            let (client, progress) = client(
                &a.common.connect,
                a.common.json,
                a.common.password_only,
                Some(ask),
                a.common.digest()?,
            )?;
            let result = rt.block_on(client.set_mixed_mode(&certs, token.shared()));
            save_trust(&client, &a.common.connect)?;
            finish(
                result,
                progress.as_ref(),
                a.common.json,
                "set-mode",
                (&shown, a.common.dry_run),
            )
        }
        Mode::NonSecure => {
            if a.collect.is_some() {
                return Err(Failure::usage(
                    "--collect is for mixed mode; non-secure mode signs with one --token of the current CTL",
                ));
            }
            let first = a
                .tokens
                .first()
                .ok_or_else(|| Failure::usage("give --token"))?;
            let changes = Changes {
                non_secure: true,
                ..Changes::default()
            };
            let what = ("set non-secure mode", "set-mode");
            run_update(&rt, &a.common, first, what, changes)
        }
    }
}

/// `ctl cluster update`.
pub(crate) fn update(a: &UpdateArgs) -> Outcome {
    let rt = runtime()?;
    let add_tokens = a
        .add_token
        .iter()
        .map(|t| signing::certificate(t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut add_peers = Vec::new();
    for (list, firewall) in [(&a.add_tftp, false), (&a.add_firewall, true)] {
        for p in list {
            add_peers.push(peer(p, firewall)?);
        }
    }
    let changes = Changes {
        add_tokens,
        add_peers,
        remove_peers: a.remove_peer.clone(),
        ..Changes::default()
    };
    let what = ("update the CTL", "update");
    run_update(&rt, &a.common, &a.token, what, changes)
}

/// `ctl cluster remove-entry`.
pub(crate) fn remove_entry(a: &RemoveArgs) -> Outcome {
    let rt = runtime()?;
    let selector = match (&a.serial, &a.subject) {
        (Some(s), _) => Selector::Serial(s.to_ascii_lowercase()),
        (None, Some(t)) => Selector::Subject(t.clone()),
        (None, None) => return Err(Failure::usage("give --serial or --subject")),
    };
    let changes = Changes {
        remove: Some(selector),
        ..Changes::default()
    };
    let what = ("remove an entry", "remove-entry");
    run_update(&rt, &a.common, &a.token, what, changes)
}

/// `ctl cluster add-tftp` and `add-firewall`.
pub(crate) fn add_peer(a: &PeerArgs, firewall: bool) -> Outcome {
    let rt = runtime()?;
    let changes = Changes {
        add_peers: vec![peer(&a.peer, firewall)?],
        ..Changes::default()
    };
    let what = if firewall {
        ("add a firewall", "add-firewall")
    } else {
        ("add an alternate TFTP server", "add-tftp")
    };
    run_update(&rt, &a.common, &a.token, what, changes)
}
