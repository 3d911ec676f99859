//! `netkit files` (being written).

use clap::Subcommand;

/// Subcommands of `netkit files`.
#[derive(Debug, Subcommand)]
pub enum FilesCmd {
    /// Run the server
    Serve,
}

/// Runs `netkit files`.
pub fn run(_cmd: FilesCmd) -> anyhow::Result<()> {
    anyhow::bail!("netkit files is not built yet")
}
