//! `ctl cluster`: the cluster as its providers describe it (`discover`), and the Cisco CTL
//! Client workflows through `ctl-client` (`status`, `set-mode`, `update`, `remove-entry`,
//! `add-tftp`, `add-firewall`), `fetch`, and the known-providers file (`known`).

mod connect;
mod discover;
mod interrupt;
mod known;
mod report;
mod workflow;

use crate::failure::Outcome;

/// `ctl cluster` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum ClusterCommand {
    /// Every node of the cluster, from the first node's member list, each contacted at once.
    Discover(discover::DiscoverArgs),
    /// Download the first node's current CTL and the security mode, checked against the CTL held here.
    Fetch(known::FetchArgs),
    /// The known-providers file: list, forget or pin a provider's certificate.
    #[command(subcommand)]
    Known(known::KnownCommand),
    /// What changed in the cluster since the current CTL was built; exit 1 when it is stale.
    Status(workflow::StatusArgs),
    /// Set the cluster's security mode: `mixed` (first time: two or more tokens) or `non-secure`.
    SetMode(workflow::SetModeArgs),
    /// Rebuild the CTL from the cluster, adding tokens; signed by a token of the current CTL.
    Update(workflow::UpdateArgs),
    /// Remove a token entry (server entries follow the cluster; two tokens must remain).
    RemoveEntry(workflow::RemoveArgs),
    /// Add an off-cluster alternate TFTP server (NAME=HOST:PORT of its provider).
    AddTftp(workflow::PeerArgs),
    /// Add a firewall (NAME=HOST:PORT of its provider); its records get role CCM.
    AddFirewall(workflow::PeerArgs),
}

/// Runs a `ctl cluster` subcommand.
pub(crate) fn run(command: &ClusterCommand) -> Outcome {
    match command {
        ClusterCommand::Discover(a) => discover::run(a),
        ClusterCommand::Fetch(a) => known::fetch(a),
        ClusterCommand::Known(c) => known::known(c),
        ClusterCommand::Status(a) => workflow::status(a),
        ClusterCommand::SetMode(a) => workflow::set_mode(a),
        ClusterCommand::Update(a) => workflow::update(a),
        ClusterCommand::RemoveEntry(a) => workflow::remove_entry(a),
        ClusterCommand::AddTftp(a) => workflow::add_peer(a, false),
        ClusterCommand::AddFirewall(a) => workflow::add_peer(a, true),
    }
}
