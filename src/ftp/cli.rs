//! `netkit ftp` (being written).

use clap::Subcommand;

/// Subcommands of `netkit ftp`.
#[derive(Debug, Subcommand)]
pub enum FtpCmd {
    /// Run the server
    Serve,
}

/// Runs `netkit ftp`.
pub fn run(_cmd: FtpCmd) -> anyhow::Result<()> {
    anyhow::bail!("netkit ftp is not built yet")
}
