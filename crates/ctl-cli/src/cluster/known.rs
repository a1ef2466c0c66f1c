//! `ctl cluster fetch` (the current CTL and mode, checked against the CTL held for the
//! cluster) and `ctl cluster known list|forget|pin` (the known-providers file, without
//! editing it by hand).

use std::path::PathBuf;

use ctl_client::Vouched;
use ctl_format::hex;
use ctl_provider::trust::{fingerprint, fingerprint_text, parse_fingerprint};
use serde::Serialize;

use super::connect::{ConnectArgs, client, default_known_providers, runtime, save_trust};
use crate::failure::{Failure, Outcome};
use crate::files::{display, write_atomic};

#[derive(clap::Args, Debug)]
pub(crate) struct FetchArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Where to write the CTL (atomically).
    #[arg(long, value_name = "FILE", default_value = "CTLFile.tlv")]
    out: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct FetchJson {
    ok: bool,
    out: Option<String>,
    mode: String,
    ctl_sha256: Option<String>,
    size: Option<usize>,
    vouched: &'static str,
}

const fn vouched_code(v: Vouched) -> &'static str {
    match v {
        Vouched::Held => "held",
        Vouched::PhoneWouldTake => "phone-would-take",
        Vouched::Accepted => "accepted",
        _ => "nothing",
    }
}

pub(crate) fn fetch(args: &FetchArgs) -> Outcome {
    let (client, _progress) = client(
        &args.connect,
        args.json,
        false,
        None,
        ctl_format::DigestAlgorithm::Sha1,
    )?;
    let fetched = runtime()?.block_on(client.fetch())?;
    save_trust(&client, &args.connect)?;
    let mode = fetched.mode.to_string();
    let Some((ctl, sha256)) = &fetched.ctl else {
        if args.json {
            let j = FetchJson {
                ok: false,
                out: None,
                mode: mode.clone(),
                ctl_sha256: None,
                size: None,
                vouched: "nothing",
            };
            outln!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        }
        return Err(Failure::failed(format!(
            "the first node holds no CTL (security mode {mode}); nothing written"
        )));
    };
    write_atomic(&args.out, ctl)?;
    let out = display(&args.out);
    if let Ok(doc) = ctl_format::parse_trust_list(ctl) {
        for w in ctl_format::lint(&doc, crate::render::now()) {
            errln!("warning: {out}: {w}");
        }
    }
    if fetched.vouched == Vouched::Nothing {
        errln!("warning: {out}: {}", fetched.vouched);
    }
    if args.json {
        let j = FetchJson {
            ok: true,
            out: Some(out),
            mode,
            ctl_sha256: Some(hex(sha256)),
            size: Some(ctl.len()),
            vouched: vouched_code(fetched.vouched),
        };
        outln!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
    } else {
        outln!(
            "wrote {out}: {} bytes, sha256 {}, security mode {mode}; {}",
            ctl.len(),
            hex(sha256),
            fetched.vouched
        );
    }
    Ok(())
}

/// `ctl cluster known ...`.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum KnownCommand {
    /// Every pinned provider: host, port, SHA-256 of its certificate.
    List(KnownListArgs),
    /// Unpin a provider (its next certificate is unknown again).
    Forget(ForgetArgs),
    /// Pin a provider to a certificate: its fingerprint, or the certificate itself.
    Pin(PinArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct KnownFile {
    /// The known-providers file (default: ~/.config/ctl/known_providers).
    #[arg(long, value_name = "FILE")]
    known_providers: Option<PathBuf>,
}

impl KnownFile {
    fn path(&self) -> PathBuf {
        self.known_providers
            .clone()
            .unwrap_or_else(default_known_providers)
    }

    fn load(&self) -> Result<ctl_client::KnownProviders, Failure> {
        ctl_client::known::load(&self.path()).map_err(|e| Failure::usage(e.to_string()))
    }

    fn save(&self, known: &ctl_client::KnownProviders) -> Outcome {
        ctl_client::known::save(&self.path(), known).map_err(|e| Failure::failed(e.to_string()))
    }
}

#[derive(clap::Args, Debug)]
pub(crate) struct KnownListArgs {
    #[command(flatten)]
    file: KnownFile,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ForgetArgs {
    /// The provider: HOST or HOST:PORT (the port is 2444 when not given).
    provider: String,
    /// Also forget the CTL held for the cluster whose first node this is.
    #[arg(long)]
    held_ctl: bool,
    #[command(flatten)]
    file: KnownFile,
}

#[derive(clap::Args, Debug)]
pub(crate) struct PinArgs {
    /// The provider: HOST or HOST:PORT (the port is 2444 when not given).
    provider: String,
    /// The SHA-256 fingerprint of its certificate (64 hex digits, colons allowed).
    #[arg(
        long,
        value_name = "SHA256",
        required_unless_present = "cert",
        conflicts_with = "cert"
    )]
    fingerprint: Option<String>,
    /// Its certificate (PEM or DER), e.g. a copy of the node's callmanager.pem.
    #[arg(long, value_name = "PEM")]
    cert: Option<PathBuf>,
    #[command(flatten)]
    file: KnownFile,
}

#[derive(Serialize)]
struct PinnedJson<'a> {
    host: &'a str,
    port: u16,
    sha256: String,
}

fn provider(text: &str) -> Result<(String, u16), Failure> {
    super::connect::split_host_port(text).ok_or_else(|| {
        Failure::usage(format!(
            "{text}: expected HOST or HOST:PORT (a port from 1 to 65535)"
        ))
    })
}

pub(crate) fn known(c: &KnownCommand) -> Outcome {
    match c {
        KnownCommand::List(a) => {
            let known = a.file.load()?;
            let entries = known.entries();
            if a.json {
                let j: Vec<PinnedJson<'_>> = entries
                    .iter()
                    .map(|(host, port, fp)| PinnedJson {
                        host,
                        port: *port,
                        sha256: fingerprint_text(fp),
                    })
                    .collect();
                outln!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
            } else if entries.is_empty() {
                errln!("{}: no provider is pinned", display(&a.file.path()));
            }
            if !a.json {
                for (host, port, fp) in &entries {
                    outln!("{host} {port} {}", fingerprint_text(fp));
                }
            }
            Ok(())
        }
        KnownCommand::Forget(a) => {
            let (host, port) = provider(&a.provider)?;
            let path = a.file.path();
            let mut known = a.file.load()?;
            let removed = known.remove(&host, port);
            let anchor = ctl_client::known::anchor_path(&path, &host, port);
            let held = a.held_ctl && anchor.exists();
            if removed.is_none() && !held {
                return Err(Failure::failed(format!(
                    "{host}:{port} is not pinned in {}",
                    display(&path)
                )));
            }
            if let Some(fp) = removed {
                a.file.save(&known)?;
                outln!("forgot {host}:{port} ({})", fingerprint_text(&fp));
            }
            if held {
                std::fs::remove_file(&anchor).map_err(|e| {
                    Failure::failed(format!(
                        "{}: {}",
                        display(&anchor),
                        ctl_format::io_words(&e)
                    ))
                })?;
                outln!(
                    "forgot the CTL held for {host}:{port} ({})",
                    display(&anchor)
                );
            }
            Ok(())
        }
        KnownCommand::Pin(a) => {
            let (host, port) = provider(&a.provider)?;
            let fp = match (&a.fingerprint, &a.cert) {
                (Some(text), _) => parse_fingerprint(text).ok_or_else(|| {
                    Failure::usage(format!("--fingerprint {text}: expected 64 hex digits"))
                })?,
                (None, Some(cert)) => fingerprint(crate::files::read_certificate(cert)?.der()),
                (None, None) => return Err(Failure::usage("give --fingerprint or --cert")),
            };
            let mut known = a.file.load()?;
            let old = known.get(&host, port).copied();
            known.insert(&host, port, fp);
            a.file.save(&known)?;
            match old {
                Some(o) if o == fp => outln!(
                    "{host}:{port} was pinned to {} already",
                    fingerprint_text(&fp)
                ),
                Some(o) => outln!(
                    "pinned {host}:{port} to {} (was {})",
                    fingerprint_text(&fp),
                    fingerprint_text(&o)
                ),
                None => outln!("pinned {host}:{port} to {}", fingerprint_text(&fp)),
            }
            Ok(())
        }
    }
}
