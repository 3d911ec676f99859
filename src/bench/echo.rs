//! `netkit bench echo` (being written).

use std::time::Duration;

use crate::server::Model;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Model to start the server with.
    pub model: Model,
    /// Workers for the model.
    pub workers: Option<usize>,
    /// Concurrent connections.
    pub clients: usize,
    /// Measurement time.
    pub duration: Duration,
    /// Bytes per request.
    pub size: usize,
    /// Load generator threads.
    pub threads: usize,
    /// An already-running server to measure instead.
    pub target: Option<String>,
}

/// Runs the benchmark.
pub fn run(_opts: &Options) -> anyhow::Result<String> {
    anyhow::bail!("bench echo is not built yet")
}
