//! `netkit bench echo`: echo throughput and latency of one server model over TCP.
//!
//! Unless a `--target` is given, the benchmark starts the server itself (this
//! same executable, `echo serve --model M --port 0`), waits for the port it
//! reports on stderr, drives it with the [`super::loadgen`] for a
//! warm-up plus the measured duration, samples the server's memory (summed
//! over its whole process tree) and CPU while every client is still
//! connected, and stops it with SIGTERM.
//!
//! The report is a few human-readable lines followed by a Markdown table (a
//! header and one row) meant to be pasted into `BENCHMARKS.md`. It also states
//! the load generator's own CPU cost per request, which bounds what it can
//! measure: a run whose load generator sits near 100% of a core per thread is
//! measuring the load generator, not the server.

use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::atlas::ms;
use super::loadgen::{self, LoadConfig, LoadResult};
use super::proc::{self, ServerProcess, TreeUsage, model_args, workers_cell};
use crate::server::Model;

/// What to measure (the options of `netkit bench echo`).
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Model to measure
    #[arg(long, short = 'm', value_enum, default_value = "epoll")]
    pub model: Model,
    /// Workers for the model (default per model)
    #[arg(long, short = 'w')]
    pub workers: Option<usize>,
    /// Concurrent client connections
    #[arg(long, short = 'c', default_value_t = 50)]
    pub clients: usize,
    /// How long to measure
    #[arg(long, short = 'd', value_parser = crate::cli::parse_duration, default_value = "5s")]
    pub duration: Duration,
    /// Bytes per request
    #[arg(long, default_value_t = 64, value_parser = crate::human::parse_size_as::<usize>)]
    pub size: usize,
    /// Load-generator threads (each runs its own epoll loop)
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Measure a server that is already running at this address instead
    #[arg(long)]
    pub target: Option<String>,
    /// Name of the row in the report's Markdown table (default: model or target)
    #[arg(long)]
    pub label: Option<String>,
}

/// The Markdown table header every report ends with (before its row).
pub const TABLE_HEADER: &str = "| server | workers | clients | req/s | p50 ms | p99 ms | max ms | errors | starved | server RSS | server PSS | server CPU | loadgen CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

/// How long the server may take to report its port.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Grace period between SIGTERM and SIGKILL when stopping the server.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// The warm-up before the measurement: 10% of it, between 0.2 s and 1 s.
pub fn warmup(duration: Duration) -> Duration {
    (duration / 10).clamp(Duration::from_millis(200), Duration::from_secs(1))
}

/// The deadline for connecting every client.
fn connect_timeout(clients: usize) -> Duration {
    Duration::from_secs(3) + Duration::from_millis(clients as u64 * 2)
}

/// Runs the benchmark and returns its report.
pub fn run(opts: &Options) -> Result<String> {
    if opts.clients == 0 {
        bail!("--clients must be at least 1");
    }
    if opts.size == 0 {
        bail!("--size must be at least 1 byte");
    }
    if opts.duration.is_zero() {
        bail!("--duration must be positive");
    }
    let fd_limit = crate::sys::process::raise_fd_limit().soft;
    let needed = opts.clients as u64 + 64;
    if fd_limit < needed {
        bail!(
            "{} clients need about {needed} file descriptors but the limit is {fd_limit} (raise it with ulimit -n)",
            opts.clients
        );
    }

    let mut server = None;
    let (addr, pid, how) = match &opts.target {
        Some(t) => {
            let addr = resolve_target(t)?;
            let pid = if addr.ip().is_loopback() || addr.ip().is_unspecified() {
                proc::find_listener_pid(addr.port())
            } else {
                None
            };
            let how = match pid {
                Some(p) => format!("target {addr} (pid {p}, found by its listening port)"),
                None => format!("target {addr} (process not found: no RSS/CPU)"),
            };
            (addr, pid, how)
        }
        None => {
            let exe = std::env::current_exe().context("finding the netkit executable")?;
            let s = ServerProcess::spawn(&exe, &server_args(opts), START_TIMEOUT)?;
            let addr = SocketAddr::from(([127, 0, 0, 1], s.port));
            let pid = s.pid();
            server = Some(s);
            let how = format!(
                "netkit echo serve --model {} ({}), pid {}, tcp://{addr}",
                opts.model,
                workers_text(opts.model, opts.workers),
                pid.unwrap_or(0)
            );
            (addr, pid, how)
        }
    };

    let cfg = LoadConfig {
        addr,
        clients: opts.clients,
        request: vec![b'x'; opts.size],
        response_len: opts.size,
        threads: opts.threads.max(1),
        warmup: warmup(opts.duration),
        duration: opts.duration,
        connect_timeout: connect_timeout(opts.clients),
    };
    let self_cpu0 = proc::self_cpu();
    let mut cpu0 = None;
    let mut load = loadgen::run(&cfg, || cpu0 = pid.map(proc::tree_cpu))
        .context("running the load generator")?;
    // Every client is still connected: look at the server now.
    let usage = pid.map(|p| proc::tree_usage(p, true));
    let self_cpu = proc::self_cpu().saturating_sub(self_cpu0);
    let open_count = load.open.len();
    let server_cpu = match (cpu0, usage) {
        (Some(c0), Some(u)) => Some(u.cpu.saturating_sub(c0)),
        _ => None,
    };
    drop(std::mem::take(&mut load.open)); // close the connections

    let mut notes = Vec::new();
    if let Some(s) = server.as_mut() {
        if let Some(status) = s.exited() {
            notes.push(format!(
                "warning: the server exited during the run ({status}); its stderr:\n{}",
                s.stderr_tail()
            ));
        }
        let how = s.stop(STOP_GRACE);
        if !how.starts_with("stopped cleanly") {
            notes.push(format!("server {how}"));
        }
    }

    Ok(report(
        opts, &cfg, &how, &load, open_count, usage, server_cpu, self_cpu, &notes,
    ))
}

fn resolve_target(t: &str) -> Result<SocketAddr> {
    t.to_socket_addrs()
        .with_context(|| format!("invalid --target '{t}' (expected HOST:PORT)"))?
        .next()
        .with_context(|| format!("--target '{t}' resolves to no address"))
}

/// Arguments for `netkit echo serve` that the benchmark starts.
fn server_args(opts: &Options) -> Vec<String> {
    // Twice the clients: epoll splits --max-connections evenly between its
    // workers and SO_REUSEPORT spreads clients only roughly evenly.
    let mut a = vec!["echo".to_string(), "serve".to_string()];
    a.extend(model_args(opts.model, opts.workers, opts.clients));
    a
}

fn workers_text(model: Model, workers: Option<usize>) -> String {
    match workers_cell(model, workers).as_str() {
        "-" => "no worker setting".into(),
        "1" => "1 worker".into(),
        n => format!("{n} workers"),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn pct(cpu: Duration, over: Duration) -> String {
    format!(
        "{:.0}%",
        100.0 * cpu.as_secs_f64() / over.as_secs_f64().max(1e-9)
    )
}

#[allow(clippy::too_many_arguments)]
fn report(
    opts: &Options,
    cfg: &LoadConfig,
    how: &str,
    load: &LoadResult,
    open_count: usize,
    usage: Option<TreeUsage>,
    server_cpu: Option<Duration>,
    self_cpu: Duration,
    notes: &[String],
) -> String {
    let h = &load.hist;
    let (p50, p99, max) = if load.completed > 0 {
        (
            h.value_at_quantile(0.50),
            h.value_at_quantile(0.99),
            h.max(),
        )
    } else {
        (0, 0, 0)
    };
    let rps = load.throughput();
    let lat = |us: u64| {
        if load.completed > 0 {
            ms(us)
        } else {
            "-".into()
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "bench echo: {} clients, {}-byte requests, {:.1} s measured after {:.1} s warm-up, {} load-generator thread(s)",
        opts.clients,
        opts.size,
        cfg.duration.as_secs_f64(),
        cfg.warmup.as_secs_f64(),
        load.threads
    );
    let _ = writeln!(out, "  server:     {how}");
    let _ = writeln!(
        out,
        "  connect:    {} of {} connected in {:.0} ms ({} failed)",
        load.connected,
        opts.clients,
        load.connect_time.as_secs_f64() * 1000.0,
        load.connect_errors
    );
    let _ = writeln!(
        out,
        "  throughput: {rps:.0} requests/s ({} requests)",
        load.completed
    );
    if load.completed > 0 {
        let _ = writeln!(
            out,
            "  latency:    p50 {} ms, p90 {} ms, p99 {} ms, p99.9 {} ms, max {} ms",
            ms(p50),
            ms(h.value_at_quantile(0.90)),
            ms(p99),
            ms(h.value_at_quantile(0.999)),
            ms(max)
        );
    } else {
        let _ = writeln!(out, "  latency:    no request completed");
    }
    let _ = writeln!(
        out,
        "  errors:     {} ({} connect, {} after connecting)",
        load.errors(),
        load.connect_errors,
        load.io_errors
    );
    let _ = writeln!(
        out,
        "  starved:    {} connections (not failed) got no answer during the measurement; at the end {} requests were in flight, the oldest for {:.3} s",
        load.starved,
        load.outstanding,
        load.oldest_outstanding.as_secs_f64()
    );
    match usage {
        Some(u) => {
            let _ = writeln!(
                out,
                "  server mem: RSS {} summed over {} process(es) (PSS {}), sampled with {open_count} clients connected",
                mib(u.rss),
                u.processes,
                mib(u.pss)
            );
        }
        None => {
            let _ = writeln!(out, "  server mem: unknown");
        }
    }
    if let Some(c) = server_cpu {
        let _ = writeln!(
            out,
            "  server cpu: {:.2} s during the measurement ({} of one core), {:.2} us per request",
            c.as_secs_f64(),
            pct(c, cfg.duration),
            c.as_secs_f64() * 1e6 / load.completed.max(1) as f64
        );
    }
    let per_req_us = if load.completed > 0 {
        load.cpu.as_secs_f64() * 1e6 / load.completed as f64
    } else {
        0.0
    };
    let per_thread_pct =
        100.0 * load.cpu.as_secs_f64() / cfg.duration.as_secs_f64() / load.threads.max(1) as f64;
    let _ = write!(
        out,
        "  load gen:   {:.2} s CPU during the measurement ({} of one core, {per_thread_pct:.0}% per thread), {per_req_us:.2} us CPU per request",
        load.cpu.as_secs_f64(),
        pct(load.cpu, cfg.duration)
    );
    if per_req_us > 0.0 {
        let _ = write!(
            out,
            " -> ceiling about {:.0} requests/s per load-gen thread",
            1e6 / per_req_us
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "              (process total incl. connect and warm-up: {:.2} s CPU)",
        self_cpu.as_secs_f64()
    );
    if per_thread_pct >= 90.0 {
        let _ = writeln!(
            out,
            "  note:       the load generator was busy {per_thread_pct:.0}% of the time: it may be the bottleneck (try --threads)"
        );
    }
    for n in notes {
        let _ = writeln!(out, "  {n}");
    }

    let label = opts.label.clone().unwrap_or_else(|| match &opts.target {
        Some(t) => t.clone(),
        None => opts.model.name().to_string(),
    });
    let workers = if opts.target.is_some() {
        opts.workers.map_or("-".into(), |w| w.to_string())
    } else {
        workers_cell(opts.model, opts.workers)
    };
    let _ = writeln!(out);
    let _ = writeln!(out, "{TABLE_HEADER}");
    let _ = write!(
        out,
        "| {label} | {workers} | {} | {rps:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        opts.clients,
        lat(p50),
        lat(p99),
        lat(max),
        load.errors(),
        load.starved,
        usage.map_or("?".into(), |u| mib(u.rss)),
        usage.map_or("?".into(), |u| mib(u.pss)),
        server_cpu.map_or("?".into(), |c| pct(c, cfg.duration)),
        pct(load.cpu, cfg.duration),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_is_bounded() {
        assert_eq!(warmup(Duration::from_secs(5)), Duration::from_millis(500));
        assert_eq!(warmup(Duration::from_secs(1)), Duration::from_millis(200));
        assert_eq!(warmup(Duration::from_secs(60)), Duration::from_secs(1));
    }

    #[test]
    fn formats_milliseconds() {
        assert_eq!(ms(350), "0.350");
        assert_eq!(ms(12_345), "12.35");
        assert_eq!(ms(1_234_567), "1235");
    }

    #[test]
    fn workers_cell_reflects_the_model() {
        assert_eq!(workers_cell(Model::Epoll, Some(2)), "2");
        assert_eq!(workers_cell(Model::Thread, Some(2)), "-");
    }
}
