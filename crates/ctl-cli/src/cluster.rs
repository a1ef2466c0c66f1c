//! `ctl cluster`: the cluster as its providers describe it.

use std::path::PathBuf;

use ctl_format::{Certificate, format_utc, hex};
use ctl_provider::cluster::{NodeStatus, TargetKind};
use ctl_provider::message::{Password, service};
use ctl_provider::trust::{TrustPolicy, fingerprint, fingerprint_text};
use serde::Serialize;

use crate::{Failure, Outcome};

/// `ctl cluster` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum ClusterCommand {
    /// Every node of the cluster, from the first node's member list, each contacted at once.
    Discover(DiscoverArgs),
    /// What changed in the cluster since the current CTL was built; exit 1 when it is stale.
    Status(crate::workflow::StatusArgs),
    /// Set the cluster's security mode: `mixed` (first time: two or more tokens) or `non-secure`.
    SetMode(crate::workflow::SetModeArgs),
    /// Rebuild the CTL from the cluster, adding tokens; signed by a token of the current CTL.
    Update(crate::workflow::UpdateArgs),
    /// Remove a token entry (server entries follow the cluster; two tokens must remain).
    RemoveEntry(crate::workflow::RemoveArgs),
    /// Add an off-cluster alternate TFTP server (NAME=HOST:PORT of its provider).
    AddTftp(crate::workflow::PeerArgs),
    /// Add a firewall (NAME=HOST:PORT of its provider); its records get role CCM.
    AddFirewall(crate::workflow::PeerArgs),
}

/// How to reach and trust the cluster's providers.
#[derive(clap::Args, Debug)]
pub(crate) struct ConnectArgs {
    /// The first node's provider: HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) publisher: String,
    /// Application user.
    #[arg(long)]
    pub(crate) user: String,
    /// A file holding the password (default: asked on the terminal).
    #[arg(long, value_name = "FILE")]
    pub(crate) password_file: Option<PathBuf>,
    /// Trust providers seen for the first time, and pin them in the known-providers file.
    #[arg(long)]
    pub(crate) trust_on_first_use: bool,
    /// The known-providers file (default: ~/.config/ctl/known_providers).
    #[arg(long, value_name = "FILE")]
    pub(crate) known_providers: Option<PathBuf>,
    /// Trust this SHA-256 certificate fingerprint (repeatable).
    #[arg(long, value_name = "SHA256")]
    pub(crate) fingerprint: Vec<String>,
    /// Trust the providers whose certificates are in this CTL (the current one, once there is one).
    #[arg(long, value_name = "CTL")]
    pub(crate) trust_ctl: Option<PathBuf>,
    /// Seconds to wait for each node.
    #[arg(long, default_value_t = 10)]
    pub(crate) timeout: u64,
}

#[derive(clap::Args, Debug)]
pub(crate) struct DiscoverArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct CertJson {
    role: u16,
    subject: String,
    serial: String,
    sha256: String,
    not_after: u64,
}

#[derive(Serialize)]
struct NodeJson {
    name: String,
    host: String,
    port: u16,
    kind: &'static str,
    addresses: Vec<String>,
    services: Vec<&'static str>,
    status: &'static str,
    detail: Option<String>,
    tls_sha256: Option<String>,
    certificates: Vec<CertJson>,
}

fn service_names(bits: u16) -> Vec<&'static str> {
    [
        (service::CALLMANAGER, "callmanager"),
        (service::TFTP, "tftp"),
        (service::CAPF, "capf"),
        (service::TVS, "tvs"),
        (service::PROVIDER, "provider"),
    ]
    .iter()
    .filter(|(b, _)| bits & b != 0)
    .map(|(_, n)| *n)
    .collect()
}

fn default_known_providers() -> PathBuf {
    std::env::var_os("HOME").map_or_else(
        || PathBuf::from(".ctl_known_providers"),
        |h| PathBuf::from(h).join(".config/ctl/known_providers"),
    )
}

pub(crate) fn password(args: &ConnectArgs) -> Result<Password, Failure> {
    match &args.password_file {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::usage(format!("{}: {e}", p.display())))?;
            let first = text.lines().next().unwrap_or("");
            if first.is_empty() {
                return Err(Failure::usage(format!(
                    "{}: the first line (the password) is empty",
                    p.display()
                )));
            }
            Ok(Password::new(first))
        }
        None => {
            use std::io::IsTerminal as _;
            if !std::io::stdin().is_terminal() {
                return Err(Failure::usage(
                    "no password: give --password-file, or run on a terminal to be asked",
                ));
            }
            let p = ctl_token::pkcs11::pin::prompt(&format!("Password for {}: ", args.user))
                .map_err(|e| Failure::failed(e.to_string()))?;
            Ok(Password::new(p))
        }
    }
}

fn parse_fp(text: &str) -> Result<[u8; 32], Failure> {
    let hexed: String = text.chars().filter(|c| *c != ':').collect();
    let bad = || Failure::usage(format!("--fingerprint {text}: expected 64 hex digits"));
    if hexed.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = hexed
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(bad)?;
    }
    Ok(out)
}

/// The first node's host and port.
pub(crate) fn publisher(args: &ConnectArgs) -> Result<(String, u16), Failure> {
    args.publisher
        .rsplit_once(':')
        .and_then(|(h, p)| {
            Some((
                h.trim_matches(['[', ']']).to_owned(),
                p.parse::<u16>().ok()?,
            ))
        })
        .ok_or_else(|| {
            Failure::usage(format!(
                "--publisher {}: expected HOST:PORT",
                args.publisher
            ))
        })
}

/// The known-providers file the connection flags name.
pub(crate) fn known_path(args: &ConnectArgs) -> PathBuf {
    args.known_providers
        .clone()
        .unwrap_or_else(default_known_providers)
}

/// The trust policy the connection flags describe.
pub(crate) fn trust_policy(args: &ConnectArgs) -> Result<TrustPolicy, Failure> {
    Ok(TrustPolicy {
        known: ctl_client::known::load(&known_path(args))
            .map_err(|e| Failure::usage(e.to_string()))?,
        fingerprints: args
            .fingerprint
            .iter()
            .map(|f| parse_fp(f))
            .collect::<Result<_, _>>()?,
        ctl_certificates: match &args.trust_ctl {
            Some(path) => {
                let bytes = crate::files::read_document(path)?;
                let doc = ctl_format::parse_trust_list(&bytes)
                    .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
                doc.records()
                    .iter()
                    .filter_map(|r| r.certificate().map(<[u8]>::to_vec))
                    .collect()
            }
            None => Vec::new(),
        },
        trust_on_first_use: args.trust_on_first_use,
    })
}

pub(crate) fn run(command: &ClusterCommand) -> Outcome {
    let args = match command {
        ClusterCommand::Discover(a) => a,
        other => return crate::workflow::run(other),
    };
    let client = crate::workflow::quiet_client(&args.connect)?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| Failure::failed(e.to_string()))?;
    let view = runtime
        .block_on(client.discover())
        .map_err(|e| Failure::failed(e.to_string()))?;
    crate::workflow::save_trust(&client, &args.connect)?;
    let nodes: Vec<NodeJson> = view
        .nodes
        .iter()
        .map(|n| NodeJson {
            name: n.name.clone(),
            host: n.host.clone(),
            port: n.port,
            kind: match n.kind {
                TargetKind::Node => "node",
                TargetKind::AlternateTftp => "alternate-tftp",
                _ => "firewall",
            },
            addresses: n.resolved.iter().map(ToString::to_string).collect(),
            services: service_names(n.services),
            status: n.status.name(),
            detail: n.status.detail().map(str::to_owned),
            tls_sha256: n
                .tls_certificate
                .as_deref()
                .map(|c| fingerprint_text(&fingerprint(c))),
            certificates: n
                .info
                .iter()
                .flat_map(|i| i.certificates.iter())
                .map(|c| {
                    let parsed = Certificate::from_der(&c.der).ok();
                    CertJson {
                        role: c.role,
                        subject: parsed
                            .as_ref()
                            .map(|p| p.subject_text(ctl_format::NameStyle::Reversed))
                            .unwrap_or_default(),
                        serial: parsed.as_ref().map(|p| hex(p.serial())).unwrap_or_default(),
                        sha256: fingerprint_text(&fingerprint(&c.der)),
                        not_after: parsed.as_ref().map_or(0, Certificate::not_after),
                    }
                })
                .collect(),
        })
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&nodes).unwrap_or_default()
        );
    } else {
        for n in &nodes {
            println!(
                "{} ({} {}:{}) {}: {}",
                n.name,
                n.kind,
                n.host,
                n.port,
                n.services.join(","),
                n.status
            );
            if let Some(d) = &n.detail {
                println!("  {d}");
            }
            for c in &n.certificates {
                let role = ctl_format::Role(c.role);
                println!(
                    "  {role}: {} serial {} until {} UTC, sha256 {}",
                    c.subject,
                    c.serial,
                    format_utc(c.not_after),
                    c.sha256
                );
            }
        }
    }
    if view.nodes.iter().all(|n| n.status == NodeStatus::Ok) {
        Ok(())
    } else {
        Err(Failure::quiet(1))
    }
}
