//! `netkit bench models` (being written).

use clap::Args;

/// Options of `netkit bench models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Service to measure: echo or http
    #[arg(long, default_value = "echo")]
    pub service: String,
}

/// Runs the model comparison.
pub fn run(_args: ModelsArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
