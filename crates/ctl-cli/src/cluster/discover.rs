//! `ctl cluster discover`: every node, alternate TFTP server and firewall, with its
//! status and certificates.

use ctl_format::{Certificate, format_utc, hex};
use ctl_provider::cluster::{NodeStatus, TargetKind};
use ctl_provider::message::service;
use ctl_provider::trust::{fingerprint, fingerprint_text};
use serde::Serialize;

use super::connect::{ConnectArgs, quiet_client, runtime, save_trust};
use crate::failure::{Failure, Outcome};

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
    /// The CTL it holds (SHA-256); null when it holds none or could not be asked.
    ctl_sha256: Option<String>,
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

pub(crate) fn run(args: &DiscoverArgs) -> Outcome {
    let client = quiet_client(&args.connect)?;
    let view = runtime()?.block_on(client.discover())?;
    save_trust(&client, &args.connect)?;
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
            ctl_sha256: match n.ctl {
                ctl_client::HeldCtl::Sha256(h) => Some(hex(&h)),
                _ => None,
            },
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
        outln!(
            "{}",
            serde_json::to_string_pretty(&nodes).unwrap_or_default()
        );
    } else {
        for n in &nodes {
            outln!(
                "{} ({} {}:{}) {}: {}",
                n.name,
                n.kind,
                n.host,
                n.port,
                n.services.join(","),
                n.status
            );
            if let Some(d) = &n.detail {
                outln!("  {d}");
            }
            for c in &n.certificates {
                let role = ctl_format::Role(c.role);
                outln!(
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
