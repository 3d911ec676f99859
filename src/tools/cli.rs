//! The toolbox subcommands (being written).

use clap::Subcommand;

/// Small network tools.
#[derive(Debug, Subcommand)]
pub enum ToolCmd {
    /// Host name and this machine's addresses
    Info,
}

/// Runs a tool.
pub fn run(_cmd: ToolCmd) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
