//! `netkit bench models|tasks|chat|echo`: the benchmarks' command line.

use anyhow::Result;
use clap::Subcommand;

/// Subcommands of `netkit bench`.
#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Every model side by side: throughput, latency, CPU and memory per connection, with charts
    Models(crate::bench::models::ModelsArgs),
    /// CPU- and IO-bound tasks run sequentially, with threads and with processes
    Tasks(crate::bench::tasks::TasksArgs),
    /// Chat room delivery rate, latency and loss per model
    Chat(crate::chat::bench::BenchArgs),
    /// Echo throughput and latency of one model (TCP), server started by the benchmark
    Echo(crate::bench::echo::Options),
}

/// Runs `netkit bench`.
pub fn run(cmd: BenchCmd) -> Result<()> {
    match cmd {
        BenchCmd::Models(args) => super::models::run(args),
        BenchCmd::Tasks(args) => super::tasks::run(args),
        BenchCmd::Chat(args) => crate::chat::bench::run(args),
        BenchCmd::Echo(opts) => {
            let report = super::echo::run(&opts)?;
            println!("{report}");
            Ok(())
        }
    }
}
