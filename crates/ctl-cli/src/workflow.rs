//! `ctl cluster status|set-mode|update|remove-entry|add-tftp|add-firewall`: the Cisco CTL
//! Client workflows, through `ctl-client`.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use ctl_client::{
    Changes, Client, ClientIdentity, Error, Event, Outcome as Report, Peer, Selector, SharedSigner,
    TargetStatus,
};
use ctl_format::Certificate;
use serde::Serialize;

use crate::cluster::{ClusterCommand, ConnectArgs, known_path, password, publisher, trust_policy};
use crate::progress::Progress;
use crate::{Failure, Outcome};

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
    /// Authenticate the TLS sessions with the signing token (its certificate and key), for
    /// nodes that stage and commit only for a SAST client certificate.
    #[arg(long)]
    tls_with_token: bool,
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

fn is_uri(s: &str) -> bool {
    s.starts_with("pkcs11:")
}

/// The certificate of a token argument (no PIN needed).
fn token_certificate(arg: &str) -> Result<Certificate, Failure> {
    if is_uri(arg) {
        let uri: ctl_token::Pkcs11Uri = arg
            .parse()
            .map_err(|e: ctl_token::UriError| Failure::usage(format!("{arg}: {e}")))?;
        let der = ctl_token::pkcs11::certificate_for(&uri).map_err(|e| crate::token::fail(&e))?;
        return Certificate::from_der(&der).map_err(|e| Failure::usage(format!("{arg}: {e}")));
    }
    crate::files::read_certificate(Path::new(arg))
}

/// A signing token, and the TLS identity it gives when asked for.
struct SigningToken {
    signer: SharedSigner,
    identity: Option<ClientIdentity>,
}

impl SigningToken {
    /// From an open token signer.
    fn of_token(signer: ctl_token::TokenSigner, tls: bool) -> Self {
        let signer = Arc::new(signer);
        Self {
            identity: tls.then(|| ctl_client::token_identity(Arc::clone(&signer))),
            signer,
        }
    }
}

/// A signer for a token argument (the PIN from the URI or the terminal).
fn token_signer(arg: &str, common: &Common) -> Result<SigningToken, Failure> {
    if is_uri(arg) {
        let uri: ctl_token::Pkcs11Uri = arg
            .parse()
            .map_err(|e: ctl_token::UriError| Failure::usage(format!("{arg}: {e}")))?;
        let options = ctl_token::SignerOptions {
            allow_factory_pin: common.allow_factory_pin,
            ..ctl_token::SignerOptions::default()
        };
        let signer =
            ctl_token::TokenSigner::open(&uri, &options).map_err(|e| crate::token::fail(&e))?;
        return Ok(SigningToken::of_token(signer, common.tls_with_token));
    }
    let signer = ctl_token::SoftwareSigner::from_files(Path::new(arg), None)
        .map_err(|e| Failure::usage(e.to_string()))?;
    let identity = if common.tls_with_token {
        Some(ctl_client::software_identity(&signer).map_err(|e| Failure::usage(e.to_string()))?)
    } else {
        None
    };
    Ok(SigningToken {
        signer: Arc::new(signer),
        identity,
    })
}

/// One certificate of a token report: the only one, else the only one whose private key
/// shows without a login.
fn collected_certificate(
    report: &ctl_token::pkcs11::wait::TokenReport,
) -> Result<&ctl_token::pkcs11::wait::CertificateSummary, Failure> {
    let all = &report.certificates;
    let with_key: Vec<_> = all.iter().filter(|c| c.has_private_key).collect();
    match (all.as_slice(), with_key.as_slice()) {
        ([], _) => Err(Failure::usage(format!(
            "token {} holds no certificate; it is not a security token",
            report.summary
        ))),
        ([one], _) => Ok(one),
        (_, [one]) => Ok(*one),
        _ => Err(Failure::usage(format!(
            "token {} holds {} certificates ({}); name the one to use with --token pkcs11:...;object=LABEL",
            report.summary,
            all.len(),
            all.iter()
                .map(|c| c.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The Cisco way: remove every token, insert them one at a time; each one's certificate
/// is read, two at once are refused; the last one signs (its PIN from `--pin-file`, or
/// asked). Prompts go to stderr.
fn collect_tokens(
    n: usize,
    args: &CollectArgs,
    common: &Common,
) -> Result<(Vec<Certificate>, SigningToken), Failure> {
    use ctl_token::pkcs11::{Module, list_tokens, wait};
    if n < 2 {
        return Err(Failure::usage(format!(
            "--collect {n}: mixed mode needs at least two security tokens"
        )));
    }
    let fail = |e: ctl_token::Error| crate::token::fail(&e);
    let modules = match &args.module {
        Some(p) => vec![Module::load(p).map_err(fail)?],
        None => Module::defaults().map_err(fail)?,
    };
    let options = wait::Wait {
        timeout: Duration::from_secs(args.token_wait),
        rescan: true,
        ..wait::Wait::default()
    };
    let never = std::sync::atomic::AtomicBool::new(false);
    let present = |modules: &[Module]| -> Result<Vec<_>, Failure> {
        for m in modules {
            m.rescan().map_err(fail)?;
        }
        Ok(list_tokens(modules)
            .map_err(fail)?
            .iter()
            .map(|t| t.summary().clone())
            .collect())
    };
    let mut certs: Vec<Certificate> = Vec::new();
    let mut last = None;
    for i in 1..=n {
        let before = present(&modules)?;
        if i == 1 && !before.is_empty() {
            eprintln!(
                "{} token(s) already present do not count; insert each token to collect when asked",
                before.len()
            );
        }
        eprintln!(
            "insert security token {i} of {n} (waiting up to {} s)",
            args.token_wait
        );
        let start = std::time::Instant::now();
        let report = loop {
            let left = options.timeout.saturating_sub(start.elapsed());
            let r = wait::wait_for_new_token(
                &modules,
                &before,
                &wait::Wait {
                    timeout: left,
                    ..options
                },
                &never,
            )
            .map_err(fail)?;
            // A token still being written (its certificate not there yet) is looked at again.
            if !r.certificates.is_empty() || left.is_zero() {
                break r;
            }
            std::thread::sleep(options.poll);
        };
        let chosen = collected_certificate(&report)?;
        let cert = Certificate::from_der(&chosen.der)
            .map_err(|e| Failure::usage(format!("token {}: {e}", report.summary)))?;
        if let Some(j) = certs.iter().position(|c| c.der() == cert.der()) {
            return Err(Failure::usage(format!(
                "token {} carries the certificate of token {} ({}); each security token must be another",
                report.summary,
                j + 1,
                chosen.subject
            )));
        }
        eprintln!(
            "token {i} of {n}: {} ({}, serial {})",
            report.summary, chosen.subject, chosen.serial
        );
        if i < n {
            eprintln!("remove it");
        }
        certs.push(cert);
        last = Some((report.summary.clone(), chosen.id.clone()));
    }
    let (summary, id) = last.ok_or_else(|| Failure::usage("no token collected"))?;
    let uri = ctl_token::Pkcs11Uri {
        token: Some(summary.label.clone()),
        serial: Some(summary.serial.clone()),
        id: (!id.is_empty()).then_some(id),
        module_path: Some(summary.module.clone()),
        pin_source: args
            .pin_file
            .as_ref()
            .map(|p| format!("file:{}", p.display())),
        ..ctl_token::Pkcs11Uri::default()
    };
    eprintln!("signing with token {n}, {summary}: keep it inserted");
    let signer = ctl_token::TokenSigner::open(
        &uri,
        &ctl_token::SignerOptions {
            allow_factory_pin: common.allow_factory_pin,
            ..ctl_token::SignerOptions::default()
        },
    )
    .map_err(fail)?;
    Ok((certs, SigningToken::of_token(signer, common.tls_with_token)))
}

/// A client that reports no progress (discovery prints its own table).
pub(crate) fn quiet_client(connect: &ConnectArgs) -> Result<Client, Failure> {
    let (host, port) = publisher(connect)?;
    Ok(
        Client::builder(&host, port, &connect.user, password(connect)?)
            .trust(trust_policy(connect)?)
            .timeout(Duration::from_secs(connect.timeout))
            .build(),
    )
}

/// The client, and the progress it reports to: a live line per node on a terminal,
/// plain lines on stderr otherwise (none with `--json` off a terminal: the JSON report
/// stays alone).
fn client(
    connect: &ConnectArgs,
    json: bool,
    identity: Option<ClientIdentity>,
) -> Result<(Client, Option<Progress>), Failure> {
    let (host, port) = publisher(connect)?;
    let mut builder = Client::builder(&host, port, &connect.user, password(connect)?)
        .trust(trust_policy(connect)?)
        .timeout(Duration::from_secs(connect.timeout));
    if let Some(identity) = identity {
        builder = builder.identity(identity);
    }
    let terminal = std::io::stderr().is_terminal();
    if json && !terminal {
        return Ok((builder.build(), None));
    }
    let progress = Progress::for_stderr(terminal);
    let sink = progress.clone();
    Ok((
        builder.on_event(move |e: Event| sink.event(e)).build(),
        Some(progress),
    ))
}

fn confirm(common: &Common, what: &str) -> Result<(), Failure> {
    if common.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "{what}: not on a terminal; give --yes to proceed without confirmation"
        )));
    }
    eprint!(
        "{what} on the cluster of {}. Proceed? [y/N] ",
        common.connect.publisher
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Failure::failed(e.to_string()))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Failure::failed("cancelled; nothing changed"))
    }
}

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
    ctl_sha256: String,
    ctl_size: Option<usize>,
    room_for_records: Option<usize>,
    targets: Vec<TargetJson>,
    notes: Vec<String>,
    error: Option<String>,
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
                TargetStatus::Failed(r) => Some(r.to_string()),
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
    println!(
        "  {:<16} {:<22} {:<10} restart",
        "server", "provider", "status"
    );
    for t in targets {
        println!(
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
            println!("      {d}");
        }
        if let Some(h) = &t.hook {
            println!("      on_commit exited {}: {}", h.exit_status, h.message);
        }
    }
}

/// Prints a workflow's result and maps it to an exit code.
fn finish(
    result: Result<Report, Error>,
    progress: Option<&Progress>,
    json: bool,
    what: &str,
) -> Outcome {
    if let Some(p) = progress {
        p.finish();
    }
    match result {
        Ok(r) => {
            let targets = targets_json(&r.distribution);
            let unfinished = r.distribution.followups_failed();
            let error = (!unfinished.is_empty()).then(|| {
                format!(
                    "the CTL is committed on every target, but {}; run the command again",
                    unfinished.join("; ")
                )
            });
            if json {
                let out = ReportJson {
                    ok: error.is_none(),
                    ctl_sha256: r.distribution.hash.clone(),
                    ctl_size: Some(r.ctl.len()),
                    room_for_records: Some(r.room_for_records),
                    targets,
                    notes: r.notes,
                    error: error.clone(),
                };
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                println!(
                    "{what}: CTL of {} bytes, SHA-256 {}",
                    r.ctl.len(),
                    r.distribution.hash
                );
                print_targets(&targets);
                for n in &r.notes {
                    println!("  {n}");
                }
                println!(
                    "  the CTL is in CTLFile.tlv in each node's TFTP directory; room for {} more 2048-bit records",
                    r.room_for_records
                );
            }
            error.map_or(Ok(()), |e| Err(Failure::failed(e)))
        }
        Err(Error::Distribution(report)) => {
            let targets = targets_json(&report);
            if json {
                let out = ReportJson {
                    ok: false,
                    ctl_sha256: report.hash.clone(),
                    ctl_size: None,
                    room_for_records: None,
                    targets,
                    notes: Vec::new(),
                    error: Some(format!("distribution failed: {report}")),
                };
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                println!("{what}: FAILED; no node took the new CTL unless listed as committed");
                print_targets(&targets);
            }
            Err(Failure::failed(format!("distribution failed: {report}")))
        }
        Err(e @ Error::Rule(_)) => Err(Failure::usage(e.to_string())),
        Err(e) => Err(Failure::failed(e.to_string())),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Runtime::new().map_err(|e| Failure::failed(e.to_string()))
}

fn peer(text: &str, firewall: bool) -> Result<Peer, Failure> {
    let bad = || Failure::usage(format!("{text}: expected NAME=HOST:PORT"));
    let (name, addr) = text.split_once('=').ok_or_else(bad)?;
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    Ok(Peer {
        name: name.to_owned(),
        host: host.trim_matches(['[', ']']).to_owned(),
        port: port.parse().map_err(|_| bad())?,
        firewall,
    })
}

/// Writes back the known-providers file with what the run pinned.
pub(crate) fn save_trust(client: &Client, connect: &ConnectArgs) -> Result<(), Failure> {
    ctl_client::known::save(&known_path(connect), &client.trust().known)
        .map_err(|e| Failure::failed(e.to_string()))
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
    let (client, progress) = client(&common.connect, common.json, token.identity.clone())?;
    let result = rt.block_on(client.update(token.signer, &changes));
    save_trust(&client, &common.connect)?;
    finish(result, progress.as_ref(), common.json, what.1)
}

pub(crate) fn run(command: &ClusterCommand) -> Outcome {
    let rt = runtime()?;
    match command {
        ClusterCommand::Status(a) => {
            let (client, progress) = client(&a.connect, a.json, None)?;
            let result = rt.block_on(client.status());
            if let Some(p) = &progress {
                p.finish();
            }
            let (ctl, changes) = result.map_err(|e| Failure::failed(e.to_string()))?;
            save_trust(&client, &a.connect)?;
            let texts: Vec<String> = changes.iter().map(ToString::to_string).collect();
            if a.json {
                let out = serde_json::json!({
                    "stale": !changes.is_empty(),
                    "ctl_sha256": ctl_format::hex(&ctl_provider::ctl_hash(&ctl)),
                    "changes": texts,
                });
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else if texts.is_empty() {
                println!("up to date: the CTL covers the cluster as it is");
            } else {
                println!(
                    "STALE: the cluster changed since the CTL was built; run `ctl cluster update`:"
                );
                for t in &texts {
                    println!("  - {t}");
                }
            }
            if changes.is_empty() {
                Ok(())
            } else {
                Err(Failure::quiet(1))
            }
        }
        ClusterCommand::SetMode(a) => match a.mode {
            Mode::Mixed => {
                let (certs, token) = if let Some(n) = a.collect {
                    confirm(&a.common, "set mixed mode")?;
                    collect_tokens(n, &a.collect_with, &a.common)?
                } else {
                    let certs = a
                        .tokens
                        .iter()
                        .map(|t| token_certificate(t))
                        .collect::<Result<Vec<_>, _>>()?;
                    confirm(&a.common, "set mixed mode")?;
                    let last = a
                        .tokens
                        .last()
                        .ok_or_else(|| Failure::usage("give --token"))?;
                    (certs, token_signer(last, &a.common)?)
                };
                let (client, progress) =
                    client(&a.common.connect, a.common.json, token.identity.clone())?;
                let result = rt.block_on(client.set_mixed_mode(&certs, token.signer));
                save_trust(&client, &a.common.connect)?;
                finish(result, progress.as_ref(), a.common.json, "set-mode")
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
        },
        ClusterCommand::Update(a) => {
            let add_tokens = a
                .add_token
                .iter()
                .map(|t| token_certificate(t))
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
        ClusterCommand::RemoveEntry(a) => {
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
        ClusterCommand::AddTftp(a) | ClusterCommand::AddFirewall(a) => {
            let firewall = matches!(command, ClusterCommand::AddFirewall(_));
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
        ClusterCommand::Discover(_) => {
            Err(Failure::usage("discover is handled by the cluster module"))
        }
    }
}
