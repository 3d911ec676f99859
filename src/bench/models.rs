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

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use super::atlas::{Atlas, IdleStats, LoadStats, Point};
use super::idle;
use super::loadgen::{self, LoadConfig};
use super::proc::{self, ServerProcess, model_args, workers_cell};
use crate::cli::parse_duration;
use crate::server::Model;
use crate::sys::process::{FdLimit, raise_fd_limit};

/// The service the servers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceKind {
    /// `netkit echo serve`: each request is `--size` bytes echoed back.
    Echo,
    /// `netkit http ROOT --quiet`: each request is a GET of a small file.
    Http,
}

impl ServiceKind {
    fn name(self) -> &'static str {
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
    #[arg(long, default_value = "all")]
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
    #[arg(long, default_value_t = 64)]
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
}

/// How long a server may take to report its port.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Grace period between SIGTERM and SIGKILL when stopping a server.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// Descriptors each process needs besides one per connection.
const FD_MARGIN: usize = 64;
/// The file the HTTP runs GET.
const HTTP_FILE: &str = "small.txt";

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
fn warmup(duration: Duration) -> Duration {
    super::echo::warmup(duration)
}

/// What one connection sends, and what answers it.
#[derive(Debug, Clone)]
struct Exchange {
    service: ServiceKind,
    request: Vec<u8>,
    /// Answer length for echo (known up front); HTTP learns it from a probe.
    echo_len: Option<usize>,
}

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
    let exchange = match args.service {
        ServiceKind::Echo => Exchange {
            service: ServiceKind::Echo,
            request: vec![b'x'; args.size],
            echo_len: Some(args.size),
        },
        ServiceKind::Http => Exchange {
            service: ServiceKind::Http,
            request: format!(
                "GET /{HTTP_FILE} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: netkit-bench\r\n\r\n"
            )
            .into_bytes(),
            echo_len: None,
        },
    };
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
        skipped,
    };

    let plan: Vec<(Model, usize)> = models
        .iter()
        .flat_map(|&m| levels.iter().map(move |&n| (m, n)))
        .collect();
    let estimates: Vec<Duration> = plan
        .iter()
        .map(|&(_, n)| estimate(n, args.duration, !args.no_idle))
        .collect();
    let progress = Progress::new(&estimates);
    for (i, &(model, n)) in plan.iter().enumerate() {
        let what = if n == 1 { "client" } else { "clients" };
        progress.start_point(i, &format!("{} {model} · {n} {what}", atlas.service));
        let point = measure(
            &exe,
            root.as_ref().map(|r| r.path.as_path()),
            &exchange,
            model,
            n,
            &args,
            &progress,
        );
        progress.println(&point_line(i + 1, plan.len(), &point));
        atlas.points.push(point);
        progress.end_point();
    }
    let total = progress.finish();

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

fn parse_models(s: &str) -> Result<Vec<Model>> {
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

/// The small file served in HTTP runs.
const SMALL_FILE: &[u8] =
    b"netkit model atlas: a small static file, the kind a real server answers most often.\n";

/// A temporary document root with the small file, removed on drop.
struct TempRoot {
    path: PathBuf,
}

impl TempRoot {
    fn new() -> Result<Self> {
        let path = std::env::temp_dir().join(format!("netkit-bench-models-{}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        std::fs::write(path.join(HTTP_FILE), SMALL_FILE)
            .with_context(|| format!("writing the file to serve in {}", path.display()))?;
        Ok(TempRoot { path })
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The command line of the server for one point.
fn server_args(
    service: ServiceKind,
    root: Option<&Path>,
    model: Model,
    workers: Option<usize>,
    clients: usize,
) -> Vec<String> {
    let mut a: Vec<String> = match service {
        ServiceKind::Echo => vec!["echo".into(), "serve".into()],
        ServiceKind::Http => vec![
            "http".into(),
            root.map(|p| p.display().to_string()).unwrap_or_default(),
            "--quiet".into(),
        ],
    };
    a.extend(model_args(model, workers, clients));
    a
}

/// A started server and what it answers.
struct Started {
    server: ServerProcess,
    addr: SocketAddr,
    pid: i32,
    response_len: usize,
}

fn start_server(
    exe: &Path,
    root: Option<&Path>,
    ex: &Exchange,
    model: Model,
    n: usize,
    workers: Option<usize>,
) -> Result<Started> {
    let args = server_args(ex.service, root, model, workers, n);
    let server = ServerProcess::spawn(exe, &args, START_TIMEOUT)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
    let pid = server.pid().context("the server has no pid")?;
    // One request: warms the server up and tells how long an answer is.
    let response_len = idle::probe(addr, &ex.request, ex.echo_len, Duration::from_secs(5))
        .with_context(|| format!("first request to the {model} server"))?;
    Ok(Started {
        server,
        addr,
        pid,
        response_len,
    })
}

/// Stops a server, noting anything but a clean exit.
fn stop_server(mut s: Started, what: &str, notes: &mut Vec<String>) {
    if let Some(status) = s.server.exited() {
        notes.push(format!(
            "the server exited during the {what} phase ({status}); its stderr: {}",
            s.server.stderr_tail().replace('\n', " ")
        ));
    }
    let how = s.server.stop(STOP_GRACE);
    if !how.starts_with("stopped cleanly") && !how.starts_with("had already exited") {
        notes.push(format!("{what} server {how}"));
    }
}

/// Measures one model at one level: idle memory, then load.
fn measure(
    exe: &Path,
    root: Option<&Path>,
    ex: &Exchange,
    model: Model,
    n: usize,
    args: &ModelsArgs,
    progress: &Progress,
) -> Point {
    let mut point = Point {
        model: model.name().to_string(),
        workers: workers_cell(model, args.workers),
        clients: n,
        ..Point::default()
    };
    if !args.no_idle {
        progress.phase("idle connections");
        match measure_idle(exe, root, ex, model, n, args.workers, &mut point.notes) {
            Ok(i) => point.idle = Some(i),
            Err(e) => point.notes.push(format!("idle phase failed: {e:#}")),
        }
    }
    progress.phase("load");
    match measure_load(exe, root, ex, model, n, args, &mut point.notes) {
        Ok(l) => point.load = Some(l),
        Err(e) => point.notes.push(format!("load phase failed: {e:#}")),
    }
    point
}

fn measure_idle(
    exe: &Path,
    root: Option<&Path>,
    ex: &Exchange,
    model: Model,
    n: usize,
    workers: Option<usize>,
    notes: &mut Vec<String>,
) -> Result<IdleStats> {
    let s = start_server(exe, root, ex, model, n, workers)?;
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

fn measure_load(
    exe: &Path,
    root: Option<&Path>,
    ex: &Exchange,
    model: Model,
    n: usize,
    args: &ModelsArgs,
    notes: &mut Vec<String>,
) -> Result<LoadStats> {
    let s = start_server(exe, root, ex, model, n, args.workers)?;
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
fn estimate(n: usize, duration: Duration, idle: bool) -> Duration {
    let per_conn = Duration::from_micros(150 * n as u64);
    let load = Duration::from_millis(400) + warmup(duration) + duration + per_conn;
    if idle {
        load + Duration::from_millis(700) + per_conn
    } else {
        load
    }
}

/// One line per finished point.
fn point_line(i: usize, count: usize, p: &Point) -> String {
    let what = if p.clients == 1 { "client" } else { "clients" };
    let mut s = format!("[{i}/{count}] {:<9} {:>6} {what}:", p.model, p.clients);
    match &p.load {
        Some(l) if l.completed > 0 => s.push_str(&format!(
            " {:>9} req/s, p99 {:.2} ms",
            super::atlas::thousands(l.rps),
            l.p99_us as f64 / 1000.0
        )),
        Some(_) => s.push_str(" no request answered"),
        None => s.push_str(" load failed"),
    }
    if let Some(l) = &p.load
        && !l.clean()
    {
        s.push_str(&format!(", {} errors, {} starved", l.errors(), l.starved));
    }
    if let Some(b) = p.idle.as_ref().and_then(IdleStats::rss_per_conn) {
        s.push_str(&format!(", idle {}/conn", super::atlas::size(b)));
    }
    for n in &p.notes {
        s.push_str(&format!("\n    note: {n}"));
    }
    s
}

/// The command line as typed, for "reproduce with".
fn reproduce_command() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .map(|a| {
            if a.contains([' ', '\'', '"']) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a
            }
        })
        .collect();
    format!("netkit {}", args.join(" "))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" / "))
        .unwrap_or_else(|| "?".into())
}

/// Machine, build and load, first line short enough for a chart subtitle.
fn machine_lines(
    started: SystemTime,
    took: Duration,
    load_start: String,
    load_end: String,
) -> Vec<String> {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / (1024.0 * 1024.0));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let build = if cfg!(debug_assertions) {
        "DEBUG build (numbers are not representative)"
    } else {
        "release build"
    };
    vec![
        format!("{cpus} cores, {mem_gib:.0} GiB, Linux {kernel}"),
        format!("CPU: {cpu}; {build}; load generator and server share the cores"),
        format!(
            "Run started {} and took {:.0} s; load average (1/5/15 min) {load_start} at the start, {load_end} at the end",
            httpdate::fmt_http_date(started),
            took.as_secs_f64()
        ),
    ]
}

/// The progress display: model, level, phase and time left, on a terminal only.
struct Progress {
    bar: ProgressBar,
    state: Arc<Mutex<ProgressState>>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
    started: Instant,
}

struct ProgressState {
    estimates: Vec<Duration>,
    index: usize,
    label: String,
    phase: &'static str,
    point_started: Instant,
    /// Sum of the estimates of finished points, and the time they really took.
    done_estimate: Duration,
    done_actual: Duration,
}

impl ProgressState {
    fn render(&self) -> (u64, String) {
        let est = self.estimates.get(self.index).copied().unwrap_or_default();
        let in_point = self.point_started.elapsed().min(est);
        let total: Duration = self.estimates.iter().sum();
        let pos = self.done_estimate + in_point;
        // Correct the remaining estimate by how far off the finished points were.
        let ratio = if self.done_estimate.as_millis() > 0 {
            (self.done_actual.as_secs_f64() / self.done_estimate.as_secs_f64()).clamp(0.3, 5.0)
        } else {
            1.0
        };
        let left = total.saturating_sub(pos).as_secs_f64() * ratio;
        let msg = format!(
            "{} · {} · point {}/{} · about {} left",
            self.label,
            self.phase,
            self.index + 1,
            self.estimates.len(),
            human(left)
        );
        (pos.as_millis() as u64, msg)
    }
}

fn human(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl Progress {
    fn new(estimates: &[Duration]) -> Self {
        let total: Duration = estimates.iter().sum();
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(total.as_millis() as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] [{bar:28}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let state = Arc::new(Mutex::new(ProgressState {
            estimates: estimates.to_vec(),
            index: 0,
            label: String::new(),
            phase: "starting",
            point_started: Instant::now(),
            done_estimate: Duration::ZERO,
            done_actual: Duration::ZERO,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = if bar.is_hidden() {
            None
        } else {
            let (bar, state, stop) = (bar.clone(), Arc::clone(&state), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("bench-progress".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let (pos, msg) = state.lock().unwrap_or_else(|e| e.into_inner()).render();
                        bar.set_position(pos);
                        bar.set_message(msg);
                        bar.tick();
                        std::thread::sleep(Duration::from_millis(250));
                    }
                })
                .ok()
        };
        Progress {
            bar,
            state,
            stop,
            ticker,
            started: Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProgressState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start_point(&self, index: usize, label: &str) {
        let mut s = self.lock();
        s.index = index;
        s.label = label.to_string();
        s.phase = "starting";
        s.point_started = Instant::now();
    }

    fn phase(&self, phase: &'static str) {
        self.lock().phase = phase;
    }

    fn end_point(&self) {
        let mut s = self.lock();
        let est = s.estimates.get(s.index).copied().unwrap_or_default();
        s.done_estimate += est;
        let took = s.point_started.elapsed();
        s.done_actual += took;
    }

    fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Removes the bar; returns the total time.
    fn finish(mut self) -> Duration {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_model_lists() {
        assert_eq!(parse_models("all").unwrap().len(), 9);
        assert_eq!(
            parse_models("epoll, async,epoll").unwrap(),
            vec![Model::Epoll, Model::Async]
        );
        assert!(parse_models("nope").is_err());
        assert!(parse_models(" , ").is_err());
    }

    #[test]
    fn server_command_lines() {
        let a = server_args(
            ServiceKind::Http,
            Some(Path::new("/r")),
            Model::Epoll,
            None,
            20,
        );
        assert_eq!(&a[..3], ["http", "/r", "--quiet"]);
        assert!(a.windows(2).any(|w| w == ["--model", "epoll"]));
        assert!(a.windows(2).any(|w| w == ["--max-connections", "10000"]));
        let e = server_args(ServiceKind::Echo, None, Model::Fork, Some(3), 15_000);
        assert_eq!(&e[..2], ["echo", "serve"]);
        assert!(e.windows(2).any(|w| w == ["--max-children", "30064"]));
        assert!(e.windows(2).any(|w| w == ["--workers", "3"]));
    }

    #[test]
    fn progress_text_counts_down() {
        let s = ProgressState {
            estimates: vec![Duration::from_secs(10), Duration::from_secs(50)],
            index: 1,
            label: "http epoll · 10 clients".into(),
            phase: "load",
            point_started: Instant::now(),
            done_estimate: Duration::from_secs(10),
            done_actual: Duration::from_secs(20),
        };
        let (pos, msg) = s.render();
        assert!((10_000..11_000).contains(&pos));
        assert!(msg.contains("point 2/2"), "{msg}");
        assert!(msg.contains("about 1m 40s left"), "{msg}");
    }
}
