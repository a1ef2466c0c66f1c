//! `ctl phone boot`: a virtual phone that downloads and judges what a real one would.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::PathBuf;
use std::time::Duration;

use ctl_site::Mac;
use ctl_site::phone::rules::Family;
use ctl_site::phone::{Outcome as StepOutcome, Phone, Servers};

use crate::failure::{Failure, Outcome};
use crate::files::display;

/// `ctl phone` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum PhoneCommand {
    /// Boot once: fetch the CTL, the ITL and the configuration as the phone does, and
    /// apply its rules; exit 0 only when the configuration is accepted.
    Boot(BootArgs),
}

/// Arguments of `ctl phone boot`.
#[derive(clap::Args, Debug)]
pub(crate) struct BootArgs {
    /// The TFTP server (HOST:PORT; phones use port 69).
    #[arg(long, value_name = "HOST:PORT")]
    tftp: String,
    /// An HTTP server to try first (phones use port 6970).
    #[arg(long, value_name = "HOST:PORT")]
    http: Option<String>,
    /// The phone's MAC address, as its file names carry it (CTLSEP001122334455.tlv).
    #[arg(long)]
    mac: String,
    /// The directory standing in for the phone's flash, kept across boots.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The phone model or family (7965, 8845, 7900, enterprise): its firmware's rules.
    #[arg(long, value_name = "FAMILY", default_value = "enterprise")]
    model: String,
    /// Milliseconds one packet or connection may take.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    timeout_ms: u64,
    /// Print the steps as JSON.
    #[arg(long)]
    json: bool,
}

fn address(what: &str, text: &str) -> Result<SocketAddr, Failure> {
    text.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| Failure::usage(format!("--{what} {text:?}: expected HOST:PORT")))
}

pub(crate) fn run(command: &PhoneCommand) -> Outcome {
    let PhoneCommand::Boot(args) = command;
    let mac: Mac = args
        .mac
        .parse()
        .map_err(|e: ctl_site::MacError| Failure::usage(format!("--mac: {e}")))?;
    let family: Family = args
        .model
        .parse()
        .map_err(|e: ctl_site::FamilyError| Failure::usage(format!("--model: {e}")))?;
    let mut servers = Servers::tftp(address("tftp", &args.tftp)?);
    servers.http = args
        .http
        .as_deref()
        .map(|h| address("http", h))
        .transpose()?;
    servers.timeout = Duration::from_millis(args.timeout_ms.max(1));
    let mut phone = Phone::new(mac, args.state.clone());
    phone.family = family;
    let boot = phone
        .boot(&servers)
        .map_err(|e| Failure::failed(e.to_string()))?;
    if args.json {
        let steps: Vec<_> = boot
            .steps
            .iter()
            .map(|s| {
                let (outcome, reason) = match &s.outcome {
                    StepOutcome::Absent => ("absent", None),
                    StepOutcome::Installed(w) => ("installed", Some(w.as_str())),
                    StepOutcome::Accepted(w) => ("accepted", Some(w.as_str())),
                    StepOutcome::Unchanged => ("unchanged", None),
                    StepOutcome::Refused(w) => ("refused", Some(w.as_str())),
                    StepOutcome::Failed(w) => ("failed", Some(w.as_str())),
                    _ => ("other", None),
                };
                serde_json::json!({
                    "name": s.name, "via": s.via, "size": s.size,
                    "outcome": outcome, "reason": reason,
                })
            })
            .collect();
        let json = serde_json::json!({
            "ok": boot.config_accepted,
            "mac": mac.to_string(),
            "family": family.name(),
            "state": display(&args.state),
            "steps": steps,
            "config_accepted": boot.config_accepted,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else {
        for step in &boot.steps {
            outln!("{step}");
        }
        outln!(
            "SEP{mac}: {}",
            if boot.config_accepted {
                "configuration accepted"
            } else {
                "configuration NOT accepted"
            }
        );
    }
    if boot.config_accepted {
        Ok(())
    } else {
        Err(Failure::quiet(1))
    }
}
