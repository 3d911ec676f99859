//! `netkit bench tasks` (being written).

use clap::Args;

/// Options of `netkit bench tasks`.
#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Parallel workers
    #[arg(long, short = 'n', default_value_t = 2)]
    pub workers: usize,
}

/// Runs the tasks benchmark.
pub fn run(_args: TasksArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
