//! `netkit bench chat` (being written).

use clap::Args;

/// Options of `netkit bench chat`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Members in the room
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
}

/// Runs the chat benchmark.
pub fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("netkit bench chat is not built yet")
}
