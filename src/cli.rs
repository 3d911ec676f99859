//! Command-line pieces shared by every server subcommand (clap `Args`).

use std::time::Duration;

use crate::server::{Config, Model};
use clap::Args;

/// Options every server subcommand takes.
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// Serving model: iterative, fork, prefork, thread, pool, select, poll, epoll, async
    #[arg(long, short = 'm', default_value = "thread")]
    pub model: Model,
    /// Worker threads/processes/loops (prefork, pool, epoll, async); default per model
    #[arg(long, short = 'w')]
    pub workers: Option<usize>,
    /// Address to listen on (IPv4, IPv6 or host name)
    #[arg(long, short = 'b', default_value = "127.0.0.1")]
    pub bind: String,
    /// Port to listen on (0 picks a free one)
    #[arg(long, short = 'p', default_value_t = 7000)]
    pub port: u16,
    /// Most connections served at once; more wait in the listen backlog
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: usize,
    /// Close connections idle this long (e.g. 30s, 500ms, 2m)
    #[arg(long, value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Most live children for the fork model
    #[arg(long, default_value_t = 256)]
    pub max_children: usize,
    /// Pool model: accepted connections that may wait for a worker
    #[arg(long, default_value_t = 128)]
    pub queue: usize,
    /// epoll model: edge-triggered instead of level-triggered
    #[arg(long)]
    pub edge: bool,
    /// Grace period for in-flight work on SIGINT/SIGTERM
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub shutdown_timeout: Duration,
}

impl ServerArgs {
    /// The framework configuration these options describe.
    pub fn config(&self) -> Config {
        Config {
            model: self.model,
            workers: self.workers,
            max_connections: self.max_connections.max(1),
            idle_timeout: self.idle_timeout,
            max_children: self.max_children.max(1),
            queue: self.queue.max(1),
            edge_triggered: self.edge,
            shutdown_timeout: self.shutdown_timeout,
        }
    }
}

/// Parses `250ms`, `30s`, `2m`, `1h`, or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration '{s}' (try 30s, 500ms, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "sec" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit in '{s}' (use ms, s, m or h)"
            ));
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("invalid duration '{s}'"));
    }
    Ok(Duration::from_secs_f64(secs))
}
