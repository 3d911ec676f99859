//! `netkit bench models`: the model atlas. Every server model side by side
//! at rising concurrency, measured on this machine.
//!
//! For each model and each level N the benchmark starts a fresh server (this
//! same executable: `echo serve` or `http ROOT --quiet`, port 0, limits raised
//! to fit N) twice:
//!
//! 1. **Idle memory.** After one warm-up request, it reads the server's RSS
//!    and PSS (summed over its process tree), opens N keep-alive connections
//!    that each make exactly one request and then stay silent, and reads them
//!    again. The difference divided by N is what an idle connection costs.
//! 2. **Load.** The [`super::loadgen`] drives N keep-alive
//!    connections with one request in flight each, for a warm-up and the
//!    measured duration: throughput, p50/p99/max latency, errors, connections
//!    that got no answer at all (starved), the server's CPU time and its peak
//!    RSS (the sum of its processes' high-water marks).
//!
//! Everything is bounded in time, so models that cannot hold N connections
//! (iterative, prefork and pool serve one connection per worker; select
//! refuses descriptors past 1024) show up as errors and starved connections
//! instead of a hang. The results go to stdout (Markdown) and to `--out`:
//! `models.md`, `models.csv` and three SVG charts (see [`atlas`](super::atlas)).
//!
//! The code, by step:
//! - `options`: the command-line options and the model list.
//! - `server`: the server for one point: what a connection sends it, its
//!   command line, the document root of HTTP runs, start and stop.
//! - `measure`: one point's idle-memory and load phases.
//! - `report`: the per-point line and the machine description.
//! - `progress`: the progress display with its time-left estimate.

mod measure;
mod options;
mod progress;
mod report;
mod server;

use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};

pub use self::options::{ModelsArgs, ServiceKind};

use self::measure::{estimate, measure, warmup};
use self::options::parse_models;
use self::progress::Progress;
use self::report::{loadavg, machine_lines, point_line, reproduce_command};
use self::server::{Exchange, HTTP_FILE, SMALL_FILE, Target, TempRoot};
use super::atlas::{Atlas, Point};
use crate::server::Model;
use crate::sys::process::{FdLimit, raise_fd_limit};

/// Descriptors each process needs besides one per connection.
const FD_MARGIN: usize = 64;

/// Runs the model atlas.
pub fn run(args: ModelsArgs) -> Result<()> {
    let models = parse_models(&args.models)?;
    let mut levels = args.clients.clone();
    levels.sort_unstable();
    levels.dedup();
    if levels.is_empty() || levels[0] == 0 {
        bail!("--clients needs levels of at least 1 connection (e.g. 1,10,100)");
    }
    if args.duration.is_zero() {
        bail!("--duration must be positive");
    }
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    if args.service == ServiceKind::Echo && args.size == 0 {
        bail!("--size must be at least 1 byte");
    }

    // Descriptors: the load generator and the server each hold one per connection.
    let limit = raise_fd_limit();
    eprintln!("bench models: {}", fd_limit_message(&limit));
    let mut skipped = Vec::new();
    levels.retain(|&n| {
        let need = (n + FD_MARGIN) as u64;
        if need > limit.soft {
            let msg = format!(
                "refused {n} clients: the load generator and the server each need a descriptor per connection (about {need} each), but the open-file limit is {} (hard limit {}); raise the hard limit (ulimit -Hn as root, limits.conf or LimitNOFILE) to run it",
                limit.soft, limit.hard
            );
            eprintln!("bench models: {msg}");
            skipped.push(msg);
            false
        } else {
            true
        }
    });
    if levels.is_empty() {
        bail!(
            "no concurrency level fits the open-file limit of {}",
            limit.soft
        );
    }

    let exe = std::env::current_exe().context("finding the netkit executable")?;
    let root = match args.service {
        ServiceKind::Http => Some(TempRoot::new()?),
        ServiceKind::Echo => None,
    };
    let exchange = Exchange::new(args.service, args.size);
    let load_start = loadavg();
    let started = SystemTime::now();
    let mut atlas = Atlas {
        service: args.service.name().to_string(),
        request: match args.service {
            ServiceKind::Echo => format!("{} bytes echoed back", args.size),
            ServiceKind::Http => format!(
                "GET /{HTTP_FILE} ({} bytes) from `netkit http --quiet`",
                SMALL_FILE.len()
            ),
        },
        command: reproduce_command(),
        machine: Vec::new(),
        seconds: args.duration.as_secs_f64(),
        warmup: warmup(args.duration).as_secs_f64(),
        points: Vec::new(),
        rounds: args.rounds,
        skipped,
    };

    // Round by round, every model at every level; idle memory in the first.
    let sweep: Vec<(Model, usize)> = models
        .iter()
        .flat_map(|&m| levels.iter().map(move |&n| (m, n)))
        .collect();
    let plan: Vec<(usize, Model, usize)> = (0..args.rounds)
        .flat_map(|r| sweep.iter().map(move |&(m, n)| (r, m, n)))
        .collect();
    let estimates: Vec<Duration> = plan
        .iter()
        .map(|&(r, _, n)| estimate(n, args.duration, idle_in(r, &args)))
        .collect();
    eprintln!(
        "bench models: {}",
        plan_line(&models, &levels, &args, &estimates)
    );
    let progress = Progress::new(&estimates);
    let mut measured: Vec<Vec<Point>> = vec![Vec::new(); sweep.len()];
    for (i, &(round, model, n)) in plan.iter().enumerate() {
        let what = if n == 1 { "client" } else { "clients" };
        let of = if args.rounds > 1 {
            format!(" · round {}/{}", round + 1, args.rounds)
        } else {
            String::new()
        };
        progress.start_point(i, &format!("{} {model} · {n} {what}{of}", atlas.service));
        let target = Target {
            exe: &exe,
            root: root.as_ref().map(|r| r.path.as_path()),
            ex: &exchange,
            model,
            n,
            workers: args.workers,
        };
        let point = measure(&target, &args, idle_in(round, &args), &progress);
        progress.println(&point_line(i + 1, plan.len(), &point));
        measured[i % sweep.len()].push(point);
        progress.end_point();
    }
    let total = progress.finish();
    atlas.points = measured.into_iter().map(Point::median_of).collect();

    atlas.machine = machine_lines(started, total, load_start, loadavg());
    let paths = atlas.write(&args.out)?;
    println!("{}", atlas.markdown(false));
    eprintln!(
        "bench models: {} points in {:.0} s; wrote {}",
        atlas.points.len(),
        total.as_secs_f64(),
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// Whether round `round` measures idle memory (only the first does).
fn idle_in(round: usize, args: &ModelsArgs) -> bool {
    round == 0 && !args.no_idle
}

/// The plan, said before anything runs: models x levels, the time per
/// point and the whole run's estimate.
fn plan_line(
    models: &[Model],
    levels: &[usize],
    args: &ModelsArgs,
    estimates: &[Duration],
) -> String {
    let names: Vec<&str> = models.iter().map(|m| m.name()).collect();
    let levels: Vec<String> = levels.iter().map(|n| n.to_string()).collect();
    let total: Duration = estimates.iter().sum();
    format!(
        "plan: {} model{} ({}) x {} level{} ({} client{}){} = {} point{} of {} each{}; estimated {} (Ctrl-C stops)",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        levels.len(),
        if levels.len() == 1 { "" } else { "s" },
        levels.join(", "),
        if levels == ["1"] { "" } else { "s" },
        if args.rounds > 1 {
            format!(" x {} rounds", args.rounds)
        } else {
            String::new()
        },
        estimates.len(),
        if estimates.len() == 1 { "" } else { "s" },
        crate::human::duration(args.duration),
        match (args.no_idle, args.rounds > 1) {
            (true, _) => "",
            (false, false) => ", plus idle memory",
            (false, true) => ", plus idle memory in the first round",
        },
        crate::human::duration(Duration::from_secs(total.as_secs().max(1))),
    )
}

/// What raising the open-file limit did, for the log.
fn fd_limit_message(limit: &FdLimit) -> String {
    let FdLimit {
        soft,
        hard,
        raised_from,
    } = *limit;
    match raised_from {
        Some(from) => format!("raised the open-file limit from {from} to {hard} (the hard limit)"),
        None if soft < hard => format!(
            "could not raise the open-file limit from {soft} to {hard}; levels above about {} clients will be refused",
            soft.saturating_sub(FD_MARGIN as u64)
        ),
        None => format!("open-file limit {soft} (already the hard limit)"),
    }
}
