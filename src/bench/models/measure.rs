//! One point's two phases, each against a fresh server: the memory of idle
//! connections, then throughput and latency under load.

use std::time::Duration;

use anyhow::{Context, Result};

use super::ModelsArgs;
use super::progress::Progress;
use super::server::{Target, stop_server};
use crate::bench::atlas::{IdleStats, LoadStats, Point};
use crate::bench::idle;
use crate::bench::loadgen::{self, LoadConfig};
use crate::bench::proc::{self, workers_cell};

/// Deadline for connecting N clients: loopback connects are fast, but a
/// model that stops accepting leaves connects past the listen backlog
/// retrying SYNs until this passes.
fn connect_timeout(n: usize) -> Duration {
    Duration::from_secs(2) + Duration::from_micros(500 * n as u64)
}

/// Deadline for every idle connection's one answer, after connecting.
fn answer_timeout(n: usize) -> Duration {
    Duration::from_secs(2) + Duration::from_micros(500 * n as u64)
}

/// The warm-up before each measurement.
pub(super) fn warmup(duration: Duration) -> Duration {
    crate::bench::echo::warmup(duration)
}

/// Measures one model at one level: idle memory (if `idle`), then load.
pub(super) fn measure(t: &Target<'_>, args: &ModelsArgs, idle: bool, progress: &Progress) -> Point {
    let (model, n) = (t.model, t.n);
    let mut point = Point {
        model: model.name().to_string(),
        workers: workers_cell(model, args.workers),
        clients: n,
        ..Point::default()
    };
    if idle {
        progress.phase("idle connections");
        match measure_idle(t, &mut point.notes) {
            Ok(i) => point.idle = Some(i),
            Err(e) => point.notes.push(format!("idle phase failed: {e:#}")),
        }
    }
    progress.phase("load");
    match measure_load(t, args, &mut point.notes) {
        Ok(l) => point.load = Some(l),
        Err(e) => point.notes.push(format!("load phase failed: {e:#}")),
    }
    point
}

/// The idle phase: the server's memory before and after `n` silent connections.
fn measure_idle(t: &Target<'_>, notes: &mut Vec<String>) -> Result<IdleStats> {
    let (ex, n) = (t.ex, t.n);
    let s = t.start_server()?;
    std::thread::sleep(Duration::from_millis(150));
    let base = proc::tree_usage(s.pid, true);
    let conns = idle::open_idle(
        s.addr,
        n,
        &ex.request,
        s.response_len,
        connect_timeout(n),
        answer_timeout(n),
    )
    .context("opening the idle connections")?;
    // Let the server finish setting up (fork children touching their pages).
    std::thread::sleep(Duration::from_millis(300));
    let after = proc::tree_usage(s.pid, true);
    let stats = IdleStats {
        wanted: n,
        open: conns.open.len(),
        answered: conns.answered,
        failed: conns.failed + conns.connect_errors,
        base_rss: base.rss,
        base_pss: base.pss,
        rss: after.rss,
        pss: after.pss,
        processes: after.processes,
    };
    if !stats.complete() {
        notes.push(format!(
            "idle: {} of {n} connections answered within {:.1} s ({} could not connect, {} failed)",
            conns.answered,
            conns.took.as_secs_f64(),
            conns.connect_errors,
            conns.failed
        ));
    }
    drop(conns);
    stop_server(s, "idle", notes);
    Ok(stats)
}

/// The load phase: `n` keep-alive connections with one request in flight each.
fn measure_load(t: &Target<'_>, args: &ModelsArgs, notes: &mut Vec<String>) -> Result<LoadStats> {
    let (ex, n) = (t.ex, t.n);
    let s = t.start_server()?;
    let cfg = LoadConfig {
        addr: s.addr,
        clients: n,
        request: ex.request.clone(),
        response_len: s.response_len,
        threads: args.threads.max(1),
        warmup: warmup(args.duration),
        duration: args.duration,
        connect_timeout: connect_timeout(n),
    };
    let pid = s.pid;
    let mut cpu0 = None;
    let mut load = loadgen::run(&cfg, || cpu0 = Some(proc::tree_cpu(pid)))
        .context("running the load generator")?;
    // Every client is still connected: look at the server now.
    let usage = proc::tree_usage(pid, false);
    let peak = tree_peak_rss(pid);
    drop(std::mem::take(&mut load.open));
    let h = &load.hist;
    let done = load.completed > 0;
    let stats = LoadStats {
        connected: load.connected,
        connect_errors: load.connect_errors,
        io_errors: load.io_errors,
        starved: load.starved,
        completed: load.completed,
        rps: load.throughput(),
        p50_us: if done { h.value_at_quantile(0.5) } else { 0 },
        p99_us: if done { h.value_at_quantile(0.99) } else { 0 },
        max_us: if done { h.max() } else { 0 },
        seconds: load.measured.as_secs_f64(),
        server_cpu: cpu0.map(|c| usage.cpu.saturating_sub(c).as_secs_f64()),
        loadgen_cpu: load.cpu.as_secs_f64(),
        peak_rss: peak,
        processes: usage.processes,
    };
    stop_server(s, "load", notes);
    Ok(stats)
}

/// The sum of `VmHWM` (peak RSS) over the process tree of `root`.
fn tree_peak_rss(root: i32) -> Option<u64> {
    let mut total = 0;
    let mut any = false;
    for pid in proc::tree_pids(root) {
        let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        if let Some(kib) = s
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        {
            total += kib * 1024;
            any = true;
        }
    }
    any.then_some(total)
}

/// A rough guess of how long a point takes, for the time-left display.
pub(super) fn estimate(n: usize, duration: Duration, idle: bool) -> Duration {
    let per_conn = Duration::from_micros(150 * n as u64);
    let load = Duration::from_millis(400) + warmup(duration) + duration + per_conn;
    if idle {
        load + Duration::from_millis(700) + per_conn
    } else {
        load
    }
}
