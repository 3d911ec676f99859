//! `netkit http` (being written).

use clap::Args;

/// Options of `netkit http`.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Directory to serve (default: the current directory)
    pub root: Option<std::path::PathBuf>,
}

/// Runs `netkit http`.
pub fn run(_args: HttpArgs) -> anyhow::Result<()> {
    anyhow::bail!("netkit http is not built yet")
}
