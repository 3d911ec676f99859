//! `netkit chat` (being written).

use clap::Subcommand;

/// Subcommands of `netkit chat`.
#[derive(Debug, Subcommand)]
pub enum ChatCmd {
    /// Run the server
    Serve,
}

/// Runs `netkit chat`.
pub fn run(_cmd: ChatCmd) -> anyhow::Result<()> {
    anyhow::bail!("netkit chat is not built yet")
}
