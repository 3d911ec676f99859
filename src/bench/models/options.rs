//! The options of `netkit bench models` and the parsing of its model list.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

use crate::cli::parse_duration;
use crate::server::Model;

/// The service the servers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceKind {
    /// `netkit echo serve`: each request is `--size` bytes echoed back.
    Echo,
    /// `netkit http ROOT --quiet`: each request is a GET of a small file.
    Http,
}

impl ServiceKind {
    /// The service's name, as in the report.
    pub(super) fn name(self) -> &'static str {
        match self {
            ServiceKind::Echo => "echo",
            ServiceKind::Http => "http",
        }
    }
}

/// Options of `netkit bench models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Service to measure: echo (small echo requests) or http (GET of a small file)
    #[arg(long, value_enum, default_value = "echo")]
    pub service: ServiceKind,
    /// Models to run: all, or a comma-separated list (e.g. thread,epoll,async)
    #[arg(long, short = 'm', visible_alias = "model", default_value = "all")]
    pub models: String,
    /// Concurrency levels: numbers of keep-alive connections, comma-separated
    #[arg(
        long,
        short = 'c',
        value_delimiter = ',',
        default_value = "1,10,100,1000,10000"
    )]
    pub clients: Vec<usize>,
    /// Measurement time per model and level (after a warm-up of 10 %, 0.2 s to 1 s)
    #[arg(long, short = 'd', value_parser = parse_duration, default_value = "3s")]
    pub duration: Duration,
    /// Directory for models.md, models.csv and the SVG charts
    #[arg(long, short = 'o', default_value = "bench-models")]
    pub out: PathBuf,
    /// Bytes per echo request
    #[arg(long, default_value_t = 64, value_parser = crate::human::parse_size_as::<usize>)]
    pub size: usize,
    /// Workers for prefork, pool, epoll and async (default per model)
    #[arg(long, short = 'w')]
    pub workers: Option<usize>,
    /// Load-generator threads (each runs its own epoll loop)
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Skip the idle-connection memory measurement
    #[arg(long)]
    pub no_idle: bool,
    /// Measure every point this many times, in rounds (each round runs every
    /// model at every level once), and report each point's median round: a
    /// shared machine's speed drifts between runs a few seconds apart
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
}

/// The models `--models` names, in its order, each once.
pub(super) fn parse_models(s: &str) -> Result<Vec<Model>> {
    if s.trim() == "all" {
        return Ok(Model::ALL.to_vec());
    }
    let mut out = Vec::new();
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let m: Model = name.parse().map_err(|e: String| anyhow::anyhow!(e))?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    if out.is_empty() {
        bail!("--models needs 'all' or at least one model name");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_model_lists() {
        assert_eq!(parse_models("all").unwrap().len(), 10);
        assert_eq!(
            parse_models("epoll, async,epoll").unwrap(),
            vec![Model::Epoll, Model::Async]
        );
        assert!(parse_models("nope").is_err());
        assert!(parse_models(" , ").is_err());
    }
}
