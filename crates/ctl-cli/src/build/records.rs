//! The record arguments of `ctl build`: `PATH[,dns=NAME][,ip=ADDR][,no-signature][,hash]`
//! per role flag, in command-line order.

use std::path::PathBuf;

use clap::ArgMatches;
use ctl_format::Role;

use super::BuildArgs;
use crate::failure::Failure;

/// One certificate argument, split into its source and options.
pub(super) struct RecordArg {
    pub(super) role: Role,
    /// A file, or a `pkcs11:` URI (the certificate on a token).
    pub(super) path: PathBuf,
    pub(super) dns: Option<String>,
    pub(super) ip: Option<std::net::IpAddr>,
    pub(super) no_signature: bool,
    pub(super) hash: bool,
}

fn parse_record_arg(role: Role, value: &str) -> Result<RecordArg, Failure> {
    let mut parts: Vec<&str> = value.split(',').collect();
    let mut arg = RecordArg {
        role,
        path: PathBuf::new(),
        dns: None,
        ip: None,
        no_signature: false,
        hash: false,
    };
    while parts.len() > 1 {
        let last = parts.last().copied().unwrap_or_default();
        if let Some(d) = last.strip_prefix("dns=") {
            arg.dns = Some(d.to_owned());
        } else if let Some(ip) = last.strip_prefix("ip=") {
            arg.ip =
                Some(ip.parse().map_err(|_| {
                    Failure::usage(format!("{value}: ip={ip} is not an IP address"))
                })?);
        } else if last == "no-signature" {
            arg.no_signature = true;
        } else if last == "hash" {
            arg.hash = true;
        } else {
            break;
        }
        parts.pop();
    }
    arg.path = PathBuf::from(parts.join(","));
    Ok(arg)
}

/// The record arguments in command-line order.
pub(super) fn records_in_order(
    args: &BuildArgs,
    matches: Option<&ArgMatches>,
) -> Result<Vec<RecordArg>, Failure> {
    let groups: [(&str, Role, &Vec<String>); 7] = [
        ("sast", Role::SAST, &args.sast),
        ("ccm", Role::CCM, &args.ccm),
        ("ccm_tftp", Role::CCM_TFTP, &args.ccm_tftp),
        ("tftp", Role::TFTP, &args.tftp),
        ("capf", Role::CAPF, &args.capf),
        ("app_server", Role::APP_SERVER, &args.app_server),
        ("tvs", Role::TVS, &args.tvs),
    ];
    let mut ordered: Vec<(usize, RecordArg)> = Vec::new();
    let index_of = |id: &str, n: usize| -> usize {
        matches
            .and_then(|m| m.indices_of(id))
            .and_then(|mut i| i.nth(n))
            .unwrap_or(usize::MAX)
    };
    for (id, role, values) in groups {
        for (n, v) in values.iter().enumerate() {
            ordered.push((index_of(id, n), parse_record_arg(role, v)?));
        }
    }
    for (n, v) in args.record.iter().enumerate() {
        let (role, rest) = v
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--record {v}: expected ROLE=PEM")))?;
        let role: Role = role
            .parse()
            .map_err(|e| Failure::usage(format!("--record {v}: {e}")))?;
        ordered.push((index_of("record", n), parse_record_arg(role, rest)?));
    }
    ordered.sort_by_key(|(i, _)| *i);
    Ok(ordered.into_iter().map(|(_, r)| r).collect())
}
