//! Command-line pieces shared by every server subcommand: the clap `Args`
//! every server takes, [`startup`] (the one path from options to a serving
//! server), [`logging`] (`-q`/`-v`/`RUST_LOG`) and [`config`] (the servers'
//! options from `--config FILE` and `NETKIT_*` variables), and [`packaging`]
//! (completions and man pages made from the command line).

pub mod config;
pub mod help;
pub mod logging;
pub mod packaging;
pub mod startup;
pub mod tls;

use std::time::Duration;

use crate::server::{Config, Model};
use clap::Args;

/// Options every server subcommand takes.
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// Serving model
    #[arg(long, short = 'm', value_enum, default_value = "thread")]
    pub model: Model,
    /// Worker threads/processes/loops (prefork, pool, epoll, async, uring); default per model
    #[arg(long, short = 'w', value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub workers: Option<u64>,
    /// Address to listen on: IPv4, IPv6 (`::` for IPv6 and IPv4 alike,
    /// `[::1]`), a host name, or `unix:/path/to.sock` for a Unix socket.
    /// A socket passed by systemd (socket activation) is served instead
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
    /// epoll model: keep polling this long after the last event before
    /// sleeping (0 = sleep at once; saves wake-ups under load)
    #[arg(long, value_parser = parse_duration, default_value = "50us")]
    pub busy_poll: Duration,
}

/// The models as clap values, each with the few words of its facts that say
/// how it serves (shown by `--help`).
impl clap::ValueEnum for Model {
    fn value_variants<'a>() -> &'a [Self] {
        &Model::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.facts().serves))
    }
}

impl ServerArgs {
    /// The framework configuration these options describe.
    pub fn config(&self) -> Config {
        Config {
            model: self.model,
            workers: self.workers.map(|w| w as usize),
            max_connections: self.max_connections.max(1),
            idle_timeout: self.idle_timeout,
            max_children: self.max_children.max(1),
            queue: self.queue.max(1),
            edge_triggered: self.edge,
            shutdown_timeout: self.shutdown_timeout,
            busy_poll: self.busy_poll,
        }
    }
}

/// The shared directory of a file-serving subcommand (`files serve`, `ftp serve`)
/// and what clients may do to it.
#[derive(Debug, Args)]
pub struct SharedDirArgs {
    /// Directory to serve (clients cannot leave it)
    #[arg(default_value = ".")]
    pub root: std::path::PathBuf,
    /// Accept uploads (read-only otherwise)
    #[arg(long)]
    pub writable: bool,
    /// Let uploads replace existing files (never otherwise)
    #[arg(long, requires = "writable")]
    pub overwrite: bool,
    /// Confirm uploads once in memory, without waiting for the disk (fsync):
    /// faster, but a crash can lose files already confirmed
    #[arg(long, requires = "writable")]
    pub no_sync: bool,
}

impl SharedDirArgs {
    /// How the startup line describes the directory's rules.
    pub fn mode(&self) -> String {
        let mut mode = match (self.writable, self.overwrite) {
            (false, _) => "read-only",
            (true, false) => "writable",
            (true, true) => "writable, overwrite",
        }
        .to_string();
        if self.no_sync {
            mode.push_str(", no fsync");
        }
        mode
    }
}

/// Applies a subcommand's default idle timeout: unset gets `default`, `0` means never.
pub fn idle_timeout_or(config: &mut Config, default: Duration) {
    config.idle_timeout = match config.idle_timeout {
        None => Some(default),
        Some(d) if d.is_zero() => None,
        some => some,
    };
}

/// Parses `50us`, `250ms`, `30s`, `2m`, `1h`, or a plain number of seconds.
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
        "us" | "µs" => n / 1e6,
        "ms" => n / 1000.0,
        "s" | "sec" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit in '{s}' (use us, ms, s, m or h)"
            ));
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("invalid duration '{s}'"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("50us"), Ok(Duration::from_micros(50)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
