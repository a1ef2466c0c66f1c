//! Reaching the cluster: the connection flags, the password, the trust placed in
//! providers (the known-providers file, fingerprints, a CTL), and the client.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use ctl_client::{Client, Event, Password, TrustPolicy};

use crate::failure::Failure;
use crate::progress::Progress;

/// How to reach and trust the cluster's providers.
#[derive(clap::Args, Debug)]
pub(crate) struct ConnectArgs {
    /// The first node's provider: HOST or HOST:PORT (the port is 2444 when not given).
    #[arg(long, value_name = "HOST[:PORT]")]
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
    /// Your copy of the cluster's CTL: it vouches for the providers its server records name
    /// (at the hosts they name), and the current CTL is trusted only if a phone holding
    /// it would take it. Without it, the CTL held from the last run is used.
    #[arg(long, value_name = "CTL")]
    pub(crate) trust_ctl: Option<PathBuf>,
    /// Trust the current CTL with this SHA-256 (after seeing it, e.g. with `ctl cluster
    /// status --json`), when no CTL is held for the cluster and it is not signed by the
    /// token presented.
    #[arg(long, value_name = "SHA256")]
    pub(crate) accept_ctl: Option<String>,
    /// Seconds to wait for each node.
    #[arg(long, default_value_t = 10)]
    pub(crate) timeout: u64,
}

pub(crate) fn default_known_providers() -> PathBuf {
    std::env::var_os("HOME").map_or_else(
        || PathBuf::from(".ctl_known_providers"),
        |h| PathBuf::from(h).join(".config/ctl/known_providers"),
    )
}

pub(crate) fn password(args: &ConnectArgs) -> Result<Password, Failure> {
    match &args.password_file {
        Some(p) => {
            // A password is short: at most 4 KiB is read, and the copy is wiped.
            let bytes = zeroize::Zeroizing::new(crate::files::read_capped(p, 4096)?);
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| Failure::usage(format!("{}: not UTF-8 text", p.display())))?;
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
            use secrecy::ExposeSecret as _;
            Ok(Password::new(p.expose_secret()))
        }
    }
}

fn parse_fp(text: &str) -> Result<[u8; 32], Failure> {
    ctl_provider::trust::parse_fingerprint(text)
        .ok_or_else(|| Failure::usage(format!("--fingerprint {text}: expected 64 hex digits")))
}

/// The first node's host and port: `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6
/// address; without a port, the provider's port 2444.
pub(crate) fn publisher(args: &ConnectArgs) -> Result<(String, u16), Failure> {
    split_host_port(&args.publisher).ok_or_else(|| {
        Failure::usage(format!(
            "--publisher {}: expected HOST or HOST:PORT (a port from 1 to 65535)",
            args.publisher
        ))
    })
}

pub(crate) fn split_host_port(text: &str) -> Option<(String, u16)> {
    use ctl_provider::message::DEFAULT_PORT;
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0);
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => DEFAULT_PORT,
            _ => port(after.strip_prefix(':')?)?,
        };
        return (!host.is_empty()).then(|| (host.to_owned(), port));
    }
    match text.matches(':').count() {
        0 => (!text.is_empty()).then(|| (text.to_owned(), DEFAULT_PORT)),
        1 => {
            let (host, p) = text.split_once(':')?;
            (!host.is_empty()).then_some(())?;
            Some((host.to_owned(), port(p)?))
        }
        // A bare IPv6 address: no port in it.
        _ => text
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|_| (text.to_owned(), DEFAULT_PORT)),
    }
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
        ctl_identities: match &args.trust_ctl {
            Some(path) => {
                let bytes =
                    crate::files::read_document(path, crate::files::ReadOptions::default())?;
                let doc = ctl_format::parse_trust_list(&bytes)
                    .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
                ctl_provider::trust::CtlIdentity::of(&doc)
            }
            None => Vec::new(),
        },
        trust_on_first_use: args.trust_on_first_use,
    })
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
pub(crate) fn client(
    connect: &ConnectArgs,
    json: bool,
    password_only: bool,
    confirm: Option<super::workflow::Ask>,
    digest: ctl_format::DigestAlgorithm,
) -> Result<(Client, Option<Progress>), Failure> {
    let (host, port) = publisher(connect)?;
    let mut builder = Client::builder(&host, port, &connect.user, password(connect)?)
        .trust(trust_policy(connect)?)
        .timeout(Duration::from_secs(connect.timeout))
        .digest(digest);
    if password_only {
        builder = builder.password_only();
    }
    let changing = confirm.is_some();
    if let Some(ask) = confirm {
        builder = builder.confirm(ask);
    }
    if let Some(held) = held_ctl(connect)? {
        builder = builder.anchor(held);
    }
    if let Some(text) = &connect.accept_ctl {
        let hash = ctl_provider::trust::parse_fingerprint(text).ok_or_else(|| {
            Failure::usage(format!("--accept-ctl {text}: expected 64 hex digits"))
        })?;
        builder = builder.accept_ctl(hash);
    }
    // A changing workflow (one that asks before signing) answers Ctrl-C by where it is.
    let interrupt = changing.then(|| super::interrupt::Interrupt::install(json));
    let terminal = std::io::stderr().is_terminal();
    let progress = (!json || terminal).then(|| Progress::for_stderr(terminal));
    let sink = progress.clone();
    Ok((
        builder
            .on_event(move |e: Event| {
                if let Some(i) = &interrupt {
                    i.observe(&e);
                }
                if let Some(p) = &sink {
                    p.event(e);
                }
            })
            .build(),
        progress,
    ))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Runtime::new().map_err(|e| Failure::failed(e.to_string()))
}

/// Where the CTL held for the cluster is kept (beside the known-providers file).
fn anchor_path(connect: &ConnectArgs) -> Result<PathBuf, Failure> {
    let (host, port) = publisher(connect)?;
    Ok(ctl_client::known::anchor_path(
        &known_path(connect),
        &host,
        port,
    ))
}

/// The CTL the client holds for the cluster: `--trust-ctl`, else the one kept from the
/// last run.
fn held_ctl(connect: &ConnectArgs) -> Result<Option<Vec<u8>>, Failure> {
    if let Some(path) = &connect.trust_ctl {
        return Ok(Some(crate::files::read_document(
            path,
            crate::files::ReadOptions::default(),
        )?));
    }
    ctl_client::known::load_anchor(&anchor_path(connect)?)
        .map_err(|e| Failure::usage(e.to_string()))
}

/// Writes back the known-providers file with what the run pinned, and the CTL the client
/// now holds for the cluster.
pub(crate) fn save_trust(client: &Client, connect: &ConnectArgs) -> Result<(), Failure> {
    ctl_client::known::save(&known_path(connect), &client.trust().known)
        .map_err(|e| Failure::failed(e.to_string()))?;
    if let Some(held) = client.anchor() {
        ctl_client::known::save_anchor(&anchor_path(connect)?, &held)
            .map_err(|e| Failure::failed(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_host_port;

    #[test]
    fn publishers_take_the_provider_port_when_they_name_none() {
        let ok = |t: &str, h: &str, p: u16| {
            assert_eq!(split_host_port(t), Some((h.to_owned(), p)), "{t}");
        };
        ok("cucm-pub", "cucm-pub", 2444);
        ok("cucm-pub:3000", "cucm-pub", 3000);
        ok("10.0.0.1", "10.0.0.1", 2444);
        ok("[2001:db8::1]:3000", "2001:db8::1", 3000);
        ok("[2001:db8::1]", "2001:db8::1", 2444);
        ok("2001:db8::1", "2001:db8::1", 2444);
        for bad in [
            "",
            ":2444",
            "host:",
            "host:0",
            "host:70000",
            "[::1]x",
            "[]:1",
            "a:b:c",
        ] {
            assert_eq!(split_host_port(bad), None, "{bad}");
        }
    }
}
