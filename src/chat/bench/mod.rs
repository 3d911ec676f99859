//! `netkit bench chat`: delivery rate, latency and loss of the chat room, per
//! model, on loopback.
//!
//! ```text
//! netkit bench chat --members 1000 --senders 10 --rate 100 --duration 5s
//! netkit bench chat --model epoll,poll --find-max
//! ```
//!
//! For each model it starts the server (`netkit chat serve --port 0 --model
//! M`) as a child process, opens one UDP socket per member (so every member
//! is a distinct address), joins them all, then lets `--senders` of them offer
//! `--rate` messages per second in total for `--duration`. Every message
//! carries its send time, so each delivery gives a latency. Reported:
//! deliveries per second, p50/p99/max latency, and lost deliveries (expected
//! `sent × (members − 1)` minus received), with the kernel's own drop
//! counters (`/proc/net/udp`, `/proc/net/softnet_stat`) saying where they
//! were lost. `--find-max` then searches, per model, the highest offered load
//! with zero loss and p99 within `--max-p99`.
//!
//! The load generator runs on the same machine as the server: one thread
//! paces the senders, one epoll loop receives for all members.
//!
//! # Layout
//!
//! - `mod.rs`: [`BenchArgs`], [`Trial`] and [`run`], the loop over models.
//! - `child.rs`: the server under test, a child process, and
//!   [`listening_addr`].
//! - `crowd.rs`: the members, the pacer and the receiving loop of a trial.
//! - `kernel.rs`: the kernel's drop counters and CPU time.
//! - `search.rs`: `--find-max`, the search for the highest sustained load.
//! - `report.rs`: the tables and the summary line of a run.

mod child;
mod crowd;
mod kernel;
mod report;
mod search;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::cli::parse_duration;
use crate::server::{self, Model};
use crate::sys::process::raise_fd_limit;
use child::ChatServer;
pub use child::listening_addr;
use crowd::Crowd;
use report::{print_tables, summary};
use search::find_max;

/// Options of `netkit bench chat`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Members in the room, each its own UDP socket (a distinct address)
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// How many of the members send
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Messages per second offered by all senders together
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// How long the senders send
    #[arg(long, short = 'd', value_parser = parse_duration, default_value = "5s")]
    pub duration: Duration,
    /// Models to measure, comma-separated (default: every model that can run the room)
    #[arg(long, short = 'm', value_delimiter = ',')]
    pub model: Vec<Model>,
    /// Workers for the pool, epoll and async models (default per model)
    #[arg(long, short = 'w')]
    pub workers: Option<usize>,
    /// Also search each model's highest offered load with zero loss
    #[arg(long)]
    pub find_max: bool,
    /// With --find-max: a load only counts as sustained if p99 stays within this
    #[arg(long, value_parser = parse_duration, default_value = "20ms")]
    pub max_p99: Duration,
    /// With --find-max: how long each probe sends
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub probe: Duration,
    /// Also run the room on this many servers sharing it through --redis
    /// (members spread evenly over them), after the same run on one server
    #[arg(long, default_value_t = 1)]
    pub servers: usize,
    /// With --servers N > 1: the Redis the servers share the room through
    /// (redis://HOST:PORT); its CPU time counts as the servers'
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// Repeat a run (up to 3 tries, keeping the calmest) when other processes
    /// used more than this share of one core (in %) during it
    #[arg(long, default_value_t = 25.0)]
    pub max_other_load: f64,
}

/// What one run at one offered load measured.
#[derive(Debug, Clone)]
pub struct Trial {
    /// Messages per second asked for.
    pub rate: f64,
    /// How long the senders sent.
    pub duration: Duration,
    /// Messages sent.
    pub sent: u64,
    /// Deliveries expected: `sent × (members − 1)`.
    pub expected: u64,
    /// Deliveries received.
    pub received: u64,
    /// Median delivery latency.
    pub p50: Duration,
    /// 99th percentile delivery latency.
    pub p99: Duration,
    /// Worst delivery latency.
    pub max: Duration,
    /// Datagrams the kernel dropped at the server's socket(s) during the run.
    pub server_drops: u64,
    /// Datagrams the kernel dropped at the members' sockets during the run.
    pub member_drops: u64,
    /// Packets dropped from the kernel's per-CPU backlog during the run.
    pub backlog_drops: u64,
    /// Server CPU time during the run, as a share of one core.
    pub server_cpu: f64,
    /// CPU used by everything except the server and the benchmark during the
    /// run, as a share of one core: other work on the machine skews results.
    pub other_cpu: f64,
}

impl Trial {
    /// Deliveries that never arrived.
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.received)
    }

    /// Messages per second actually offered.
    pub fn offered(&self) -> f64 {
        self.sent as f64 / self.duration.as_secs_f64()
    }

    /// Deliveries per second received.
    pub fn delivered(&self) -> f64 {
        self.received as f64 / self.duration.as_secs_f64()
    }
}

/// Runs the benchmark and prints its tables (Markdown) on stdout.
pub fn run(args: BenchArgs) -> Result<()> {
    if args.members < 2 {
        bail!("--members must be at least 2");
    }
    if args.senders == 0 || args.senders > args.members {
        bail!("--senders must be between 1 and --members");
    }
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number of messages per second");
    }
    if args.duration.is_zero() {
        bail!("--duration must be more than zero");
    }
    let models = if args.model.is_empty() {
        // Every model the framework lets run a stateful datagram service
        // (fork and prefork cannot share one room).
        Model::ALL
            .into_iter()
            .filter(|&m| server::check_datagram(m, false).is_ok())
            .collect()
    } else {
        args.model.clone()
    };
    for m in &models {
        server::check_datagram(*m, false)?;
    }
    let fds = raise_fd_limit().soft;
    if fds < args.members as u64 + 64 {
        bail!(
            "{} members need {} open files, but the limit is {fds}",
            args.members,
            args.members + 64
        );
    }
    if args.servers == 0 {
        bail!("--servers must be at least 1");
    }
    let redis_pid = match (&args.redis, args.servers) {
        (_, 1) => None,
        (None, _) => bail!(
            "--servers {} needs --redis URL to share the room",
            args.servers
        ),
        (Some(url), _) => Some(redis_pid(url)?),
    };
    let mut layouts = vec![1];
    if args.servers > 1 {
        layouts.push(args.servers);
    }
    let mut rows = Vec::new();
    let mut maxima = Vec::new();
    for &model in &models {
        for &n in &layouts {
            let label = if n == 1 {
                model.to_string()
            } else {
                format!("{model}, {n} servers + Redis")
            };
            eprintln!(
                "bench chat: {label}: starting and joining {} members",
                args.members
            );
            let mut extra = Vec::new();
            if n > 1 {
                let url = args.redis.clone().unwrap_or_default();
                let room = format!("bench-{}-{model}", std::process::id());
                extra = vec!["--redis".into(), url, "--room".into(), room];
            }
            let mut servers = Vec::new();
            for _ in 0..n {
                servers.push(ChatServer::start(
                    model,
                    args.members,
                    args.workers,
                    &extra,
                )?);
            }
            let addrs = servers.iter().map(|s| s.addr).collect();
            let mut pids: Vec<i32> = servers.iter().map(|s| s.pid()).collect();
            if n > 1 {
                pids.extend(redis_pid);
            }
            let mut crowd = Crowd::new(args.members, addrs, pids)?;
            let joined = crowd
                .join_all()
                .with_context(|| format!("{label}: joining"))?;
            eprintln!(
                "bench chat: {label}: {} members joined in {joined:.1?}",
                args.members
            );
            let t = crowd.measure(args.rate, args.duration, &args)?;
            eprintln!("bench chat: {label}: {}", summary(&t));
            rows.push((label.clone(), t.clone()));
            if args.find_max {
                let best = find_max(&mut crowd, &args, &label, &t)?;
                maxima.push((label, best));
            }
            for s in &mut servers {
                s.stop();
            }
        }
    }
    print_tables(&args, &rows, &maxima);
    Ok(())
}

/// The process id of the Redis at `url` (`INFO server`), so its CPU time
/// counts with the servers' rather than as other load.
fn redis_pid(url: &str) -> Result<i32> {
    let client = redis::Client::open(url).with_context(|| format!("invalid Redis URL '{url}'"))?;
    let mut c = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .with_context(|| format!("connecting to Redis at {url}"))?;
    let info: String = redis::cmd("INFO").arg("server").query(&mut c)?;
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .with_context(|| format!("no process_id in INFO of {url}"))
}
