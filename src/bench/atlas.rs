//! The model atlas's results and how they are written: a Markdown report, a
//! CSV and three SVG charts. Pure formatting, no sockets, so it is unit-tested
//! on made-up numbers.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::plot::{self, Chart, Series};

/// What the load phase of one point measured.
#[derive(Debug, Clone, Default)]
pub struct LoadStats {
    /// Connections that connected.
    pub connected: usize,
    /// Connections that could not connect in time.
    pub connect_errors: usize,
    /// Connections that failed after connecting.
    pub io_errors: usize,
    /// Healthy connections that got no answer during the measurement.
    pub starved: usize,
    /// Requests completed during the measurement.
    pub completed: u64,
    /// Requests per second.
    pub rps: f64,
    /// Latency percentiles and maximum, microseconds (meaningless when nothing completed).
    pub p50_us: u64,
    /// 99th percentile latency, microseconds.
    pub p99_us: u64,
    /// Highest latency, microseconds.
    pub max_us: u64,
    /// Measurement time, seconds.
    pub seconds: f64,
    /// Server CPU time (all its processes and threads) during the measurement, seconds.
    pub server_cpu: Option<f64>,
    /// Load generator CPU time during the measurement, seconds.
    pub loadgen_cpu: f64,
    /// Peak RSS of the server: the sum of its processes' high-water marks, bytes.
    pub peak_rss: Option<u64>,
    /// Server processes at the end of the measurement.
    pub processes: usize,
}

impl LoadStats {
    /// Failed connects plus failed connections.
    pub fn errors(&self) -> usize {
        self.connect_errors + self.io_errors
    }

    /// True when every connection connected, none failed and none starved.
    pub fn clean(&self) -> bool {
        self.errors() == 0 && self.starved == 0
    }

    /// True when more than `1 - q` of the connected clients never got an
    /// answer during the measurement: their requests waited at least the
    /// whole run, so the `q` quantile over all clients is not what the
    /// answered requests say but "longer than the run".
    pub fn censored(&self, q: f64) -> bool {
        self.starved as f64 > (1.0 - q) * self.connected.max(1) as f64 + 1e-9
    }

    /// A latency cell in milliseconds, or `> run` when censored.
    fn latency_cell(&self, us: u64, q: f64) -> String {
        if self.censored(q) {
            format!("> {:.0}", self.seconds * 1000.0)
        } else if self.completed > 0 {
            ms(us)
        } else {
            "-".into()
        }
    }
}

/// What the idle phase of one point measured.
#[derive(Debug, Clone, Default)]
pub struct IdleStats {
    /// Connections asked for.
    pub wanted: usize,
    /// Connections open when the memory was read.
    pub open: usize,
    /// Connections whose one request was answered.
    pub answered: usize,
    /// Connections that failed or could not connect.
    pub failed: usize,
    /// Server RSS / PSS (summed over its processes) before connecting, bytes.
    pub base_rss: u64,
    /// PSS before connecting, bytes.
    pub base_pss: u64,
    /// Server RSS with every idle connection open, bytes.
    pub rss: u64,
    /// PSS with every idle connection open, bytes.
    pub pss: u64,
    /// Server processes with every idle connection open.
    pub processes: usize,
}

impl IdleStats {
    /// True when at least 99 % of the connections were answered, so the
    /// memory delta is really the cost of that many served connections.
    pub fn complete(&self) -> bool {
        self.answered > 0 && self.answered * 100 >= self.wanted * 99
    }

    /// RSS added per answered idle connection, bytes.
    pub fn rss_per_conn(&self) -> Option<f64> {
        self.complete()
            .then(|| (self.rss as f64 - self.base_rss as f64) / self.answered as f64)
    }

    /// PSS added per answered idle connection, bytes.
    pub fn pss_per_conn(&self) -> Option<f64> {
        self.complete()
            .then(|| (self.pss as f64 - self.base_pss as f64) / self.answered as f64)
    }
}

/// One model at one concurrency level.
#[derive(Debug, Clone, Default)]
pub struct Point {
    /// Model name.
    pub model: String,
    /// Worker count it ran with, or "-".
    pub workers: String,
    /// Concurrent connections.
    pub clients: usize,
    /// The load phase, unless it could not run.
    pub load: Option<LoadStats>,
    /// The idle phase, unless skipped or failed.
    pub idle: Option<IdleStats>,
    /// What went wrong or is worth knowing (server died, killed at stop, ...).
    pub notes: Vec<String>,
    /// Requests/s of every round whose load phase ran, in round order; with
    /// several, `load` is the round with the median rate.
    pub rounds: Vec<f64>,
}

impl Point {
    /// One point from the rounds that measured it (in round order): the load
    /// of the round with the median rate (the lower middle of an even count),
    /// the first idle phase that ran, every note once, and each round's rate.
    pub fn median_of(rounds: Vec<Point>) -> Point {
        let mut rounds = rounds.into_iter();
        let Some(mut point) = rounds.next() else {
            return Point::default();
        };
        let mut loads: Vec<LoadStats> = point.load.take().into_iter().collect();
        for r in rounds {
            loads.extend(r.load);
            if point.idle.is_none() {
                point.idle = r.idle;
            }
            for n in r.notes {
                if !point.notes.contains(&n) {
                    point.notes.push(n);
                }
            }
        }
        point.rounds = loads.iter().map(|l| l.rps).collect();
        loads.sort_by(|a, b| a.rps.total_cmp(&b.rps));
        let middle = loads.len().saturating_sub(1) / 2;
        point.load = loads.into_iter().nth(middle);
        point
    }

    /// The range of the rounds' rates, or `-` for a point measured once.
    fn rounds_cell(&self) -> String {
        if self.rounds.len() < 2 {
            return "-".into();
        }
        let lo = self.rounds.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self.rounds.iter().copied().fold(0.0, f64::max);
        format!("{}-{}", thousands(lo), thousands(hi))
    }
}

/// A whole run.
#[derive(Debug, Clone, Default)]
pub struct Atlas {
    /// `echo` or `http`.
    pub service: String,
    /// What each request is, in words.
    pub request: String,
    /// The command line that reproduces the run.
    pub command: String,
    /// Machine, build and load, in words.
    pub machine: Vec<String>,
    /// Measurement time per point, seconds.
    pub seconds: f64,
    /// Warm-up per point, seconds.
    pub warmup: f64,
    /// Every point, in run order.
    pub points: Vec<Point>,
    /// Times every point was measured (its median round is reported).
    pub rounds: usize,
    /// Levels and models that were refused or skipped, with the reason.
    pub skipped: Vec<String>,
}

/// Names of the files [`Atlas::write`] makes.
pub const FILES: [&str; 5] = [
    "models.md",
    "models.csv",
    "throughput.svg",
    "latency-p99.svg",
    "memory-per-connection.svg",
];

/// Milliseconds from microseconds, with precision that fits the magnitude.
pub(crate) fn ms(us: u64) -> String {
    let v = us as f64 / 1000.0;
    if v < 1.0 {
        format!("{v:.3}")
    } else if v < 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// Bytes as KiB or MiB with a unit.
pub fn size(bytes: f64) -> String {
    if bytes.abs() < 10.0 * 1024.0 {
        format!("{:.2} KiB", bytes / 1024.0)
    } else if bytes.abs() < 1024.0 * 1024.0 {
        format!("{:.0} KiB", bytes / 1024.0)
    } else if bytes.abs() < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
    } else {
        format!("{:.1} GiB", bytes / (1024.0 * 1024.0 * 1024.0))
    }
}

/// `12,345` for a whole number.
pub fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

impl Point {
    /// The memory cell: per-connection RSS, or why there is none.
    fn idle_cell(&self, pss: bool) -> String {
        match &self.idle {
            None => "-".into(),
            Some(i) => {
                let v = if pss {
                    i.pss_per_conn()
                } else {
                    i.rss_per_conn()
                };
                match v {
                    Some(b) => size(b),
                    None => format!("({} of {} answered)", i.answered, i.wanted),
                }
            }
        }
    }
}

impl Atlas {
    /// Models in the order they were run.
    pub fn models(&self) -> Vec<String> {
        let mut m: Vec<String> = Vec::new();
        for p in &self.points {
            if !m.contains(&p.model) {
                m.push(p.model.clone());
            }
        }
        m
    }

    /// Concurrency levels, ascending.
    pub fn levels(&self) -> Vec<usize> {
        let mut l: Vec<usize> = self.points.iter().map(|p| p.clients).collect();
        l.sort_unstable();
        l.dedup();
        l
    }

    fn point(&self, model: &str, clients: usize) -> Option<&Point> {
        self.points
            .iter()
            .find(|p| p.model == model && p.clients == clients)
    }

    /// The full Markdown table, one row per point.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let ranges = self.rounds > 1;
        out.push_str("| model | workers | clients | req/s |");
        if ranges {
            out.push_str(" rounds req/s |");
        }
        out.push_str(" p50 ms | p99 ms | max ms | errors | starved | server CPU | peak RSS | idle RSS/conn | idle PSS/conn |\n");
        out.push_str("|---|---:|---:|---:|");
        if ranges {
            out.push_str("---:|");
        }
        out.push_str("---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for p in &self.points {
            let (rps, p50, p99, max, errors, starved, cpu, peak) = match &p.load {
                None => (
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ),
                Some(l) => (
                    thousands(l.rps),
                    l.latency_cell(l.p50_us, 0.5),
                    l.latency_cell(l.p99_us, 0.99),
                    l.latency_cell(l.max_us, 1.0),
                    l.errors().to_string(),
                    l.starved.to_string(),
                    l.server_cpu.map_or("?".into(), |c| {
                        format!("{:.0}%", 100.0 * c / l.seconds.max(1e-9))
                    }),
                    l.peak_rss.map_or("?".into(), |b| size(b as f64)),
                ),
            };
            let rounds = if ranges {
                format!(" {} |", p.rounds_cell())
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {rps} |{rounds} {p50} | {p99} | {max} | {errors} | {starved} | {cpu} | {peak} | {} | {} |",
                p.model,
                p.workers,
                thousands(p.clients as f64),
                p.idle_cell(false),
                p.idle_cell(true),
            );
        }
        out
    }

    /// A models-by-levels matrix of one value.
    fn matrix(&self, cell: impl Fn(&Point) -> String) -> String {
        let levels = self.levels();
        let mut out = String::from("| model |");
        for l in &levels {
            let _ = write!(out, " {} |", thousands(*l as f64));
        }
        out.push_str("\n|---|");
        for _ in &levels {
            out.push_str("---:|");
        }
        out.push('\n');
        for m in self.models() {
            let _ = write!(out, "| {m} |");
            for &l in &levels {
                let c = self.point(&m, l).map_or("-".into(), &cell);
                let _ = write!(out, " {c} |");
            }
            out.push('\n');
        }
        out
    }

    /// Requests/s per model and level; `*` marks points with errors or starved connections.
    pub fn throughput_matrix(&self) -> String {
        self.matrix(|p| match &p.load {
            None => "-".into(),
            Some(l) => {
                let mark = if l.clean() { "" } else { "*" };
                format!("{}{mark}", thousands(l.rps))
            }
        })
    }

    /// Idle RSS per connection per model and level.
    pub fn memory_matrix(&self) -> String {
        self.matrix(|p| {
            let Some(i) = p.idle.as_ref() else {
                return "-".into();
            };
            match (i.rss_per_conn(), i.pss_per_conn()) {
                (Some(r), Some(q)) if i.processes > 1 => format!("{} (PSS {})", size(r), size(q)),
                (Some(r), _) => size(r),
                _ => "-".into(),
            }
        })
    }

    /// The Markdown report: conditions, command, compact matrices, the full table and notes.
    pub fn markdown(&self, charts: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Model atlas: {}\n", self.service);
        let _ = writeln!(out, "Reproduce with:\n\n```sh\n{}\n```\n", self.command);
        let _ = writeln!(
            out,
            "Each point: a fresh server, {:.1} s warm-up then {:.1} s measured, every connection keep-alive with one request outstanding ({}). \
Memory per idle connection comes from a second fresh server: RSS (and PSS) summed over its processes with N idle connections that each made one request, minus the same before connecting, divided by N.\n",
            self.warmup, self.seconds, self.request
        );
        if self.rounds > 1 {
            let _ = writeln!(
                out,
                "Every point was measured {} times, in rounds (each round runs every model at every level once), and the tables show its median round; `rounds req/s` is the range of all its rounds. The idle memory comes from the first round.\n",
                self.rounds
            );
        }
        for m in &self.machine {
            let _ = writeln!(out, "- {m}");
        }
        if !self.machine.is_empty() {
            out.push('\n');
        }
        if charts {
            out.push_str("![throughput](throughput.svg)\n\n![p99 latency](latency-p99.svg)\n\n![memory per idle connection](memory-per-connection.svg)\n\n");
        }
        out.push_str("## Requests per second\n\n`*`: some connections failed or got no answer during the measurement (see errors and starved below).\n\n");
        out.push_str(&self.throughput_matrix());
        out.push_str("\n## Server RSS per idle connection\n\n`-`: fewer than 99 % of the idle connections were answered (the model cannot hold that many at once). Where the server is several processes, RSS counts shared pages once per process and PSS (shared pages split between their sharers) is the fairer number.\n\n");
        out.push_str(&self.memory_matrix());
        out.push_str("\n## Every point\n\n");
        out.push_str(&self.table());
        let notes: Vec<String> = self
            .points
            .iter()
            .flat_map(|p| {
                p.notes
                    .iter()
                    .map(move |n| format!("{} at {} clients: {n}", p.model, p.clients))
            })
            .chain(self.skipped.iter().cloned())
            .collect();
        if !notes.is_empty() {
            out.push_str("\n## Notes\n\n");
            for n in notes {
                let _ = writeln!(out, "- {}", n.replace('\n', " "));
            }
        }
        out
    }

    /// One CSV row per point.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "service,model,workers,clients,connected,requests,req_per_s,p50_ms,p99_ms,max_ms,errors,connect_errors,io_errors,starved,server_cpu_s,server_cpu_us_per_req,loadgen_cpu_s,peak_rss_bytes,server_processes,idle_wanted,idle_answered,idle_failed,idle_base_rss_bytes,idle_rss_bytes,idle_rss_per_conn_bytes,idle_pss_per_conn_bytes,round_req_per_s,notes\n",
        );
        for p in &self.points {
            let mut f: Vec<String> = vec![
                self.service.clone(),
                p.model.clone(),
                p.workers.clone(),
                p.clients.to_string(),
            ];
            match &p.load {
                Some(l) => {
                    let lat = |us: u64| {
                        if l.completed > 0 {
                            format!("{:.3}", us as f64 / 1000.0)
                        } else {
                            String::new()
                        }
                    };
                    f.extend([
                        l.connected.to_string(),
                        l.completed.to_string(),
                        format!("{:.1}", l.rps),
                        lat(l.p50_us),
                        lat(l.p99_us),
                        lat(l.max_us),
                        l.errors().to_string(),
                        l.connect_errors.to_string(),
                        l.io_errors.to_string(),
                        l.starved.to_string(),
                        l.server_cpu.map_or(String::new(), |c| format!("{c:.3}")),
                        match (l.server_cpu, l.completed) {
                            (Some(c), n) if n > 0 => format!("{:.2}", c * 1e6 / n as f64),
                            _ => String::new(),
                        },
                        format!("{:.3}", l.loadgen_cpu),
                        l.peak_rss.map_or(String::new(), |b| b.to_string()),
                        l.processes.to_string(),
                    ]);
                }
                None => f.extend(std::iter::repeat_n(String::new(), 15)),
            }
            match &p.idle {
                Some(i) => f.extend([
                    i.wanted.to_string(),
                    i.answered.to_string(),
                    i.failed.to_string(),
                    i.base_rss.to_string(),
                    i.rss.to_string(),
                    i.rss_per_conn()
                        .map_or(String::new(), |b| format!("{b:.0}")),
                    i.pss_per_conn()
                        .map_or(String::new(), |b| format!("{b:.0}")),
                ]),
                None => f.extend(std::iter::repeat_n(String::new(), 7)),
            }
            let rounds: Vec<String> = p.rounds.iter().map(|r| format!("{r:.1}")).collect();
            f.push(rounds.join(";"));
            f.push(csv_field(&p.notes.join("; ")));
            out.push_str(&f.join(","));
            out.push('\n');
        }
        out
    }

    fn series(&self, value: impl Fn(&Point) -> Option<(f64, bool)>) -> Vec<Series> {
        self.models()
            .into_iter()
            .map(|m| {
                let mut points: Vec<(f64, f64, bool)> = self
                    .points
                    .iter()
                    .filter(|p| p.model == m)
                    .filter_map(|p| value(p).map(|(y, solid)| (p.clients as f64, y, solid)))
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                Series { name: m, points }
            })
            .collect()
    }

    /// The three charts.
    pub fn charts(&self) -> Vec<(&'static str, Chart)> {
        let svc = self.service.to_uppercase();
        let cond = format!(
            "{} · {:.0} s per point · keep-alive, one request in flight per connection",
            self.machine
                .first()
                .cloned()
                .unwrap_or_else(|| "this machine".into()),
            self.seconds
        );
        let hollow = "Hollow marker: some connections failed or got no answer.".to_string();
        let throughput = Chart {
            title: format!("{svc}: requests per second vs concurrent clients"),
            subtitle: cond.clone(),
            x_label: "concurrent keep-alive connections (log scale)".into(),
            y_label: "requests / s".into(),
            log_y: false,
            series: self.series(|p| p.load.as_ref().map(|l| (l.rps, l.clean()))),
            refs: Vec::new(),
            legend_note: Some(hollow.clone()),
        };
        let p99 = Chart {
            title: format!("{svc}: p99 latency vs concurrent clients"),
            subtitle: cond.clone(),
            x_label: "concurrent keep-alive connections (log scale)".into(),
            y_label: "p99 latency, ms (log scale)".into(),
            log_y: true,
            series: self.series(|p| {
                let l = p.load.as_ref()?;
                if l.censored(0.99) {
                    Some((l.seconds * 1000.0, false))
                } else if l.completed > 0 {
                    Some(((l.p99_us.max(1)) as f64 / 1000.0, l.clean()))
                } else {
                    None
                }
            }),
            refs: Vec::new(),
            legend_note: Some(format!(
                "{hollow} When over 1% of the connections got no answer at all, p99 is longer than the run: the point sits at the run's length."
            )),
        };
        // Per-connection memory is page-size noise with a handful of
        // connections: chart levels of 100 and up when there are any.
        let min_level = if self.levels().iter().any(|&l| l >= 100) {
            100
        } else {
            0
        };
        let memory = Chart {
            title: format!("{svc}: server memory per idle connection"),
            subtitle: "(PSS with N idle keep-alive connections that each made one request - PSS before) / N, summed over the server's processes".into(),
            x_label: "idle keep-alive connections (log scale)".into(),
            y_label: "KiB per connection (log scale)".into(),
            log_y: true,
            series: self.series(|p| {
                if p.clients < min_level {
                    return None;
                }
                // Zero or less is below what RSS can resolve: no point.
                p.idle
                    .as_ref()
                    .and_then(IdleStats::pss_per_conn)
                    .filter(|b| *b > 0.0)
                    .map(|b| (b / 1024.0, true))
            }),
            refs: if self.service == "http" {
                vec![
                    (1.0, "1 KiB: epoll target".into()),
                    (2.0, "2 KiB: async target".into()),
                ]
            } else {
                Vec::new()
            },
            legend_note: Some(
                "PSS splits shared pages between the processes sharing them; for one-process models it moves with RSS. Missing point: under 99% of the connections were answered (the model cannot hold that many)."
                    .into(),
            ),
        };
        vec![
            ("throughput.svg", throughput),
            ("latency-p99.svg", p99),
            ("memory-per-connection.svg", memory),
        ]
    }

    /// Writes models.md, models.csv and the charts into `dir`; returns the paths.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut paths = Vec::new();
        let md = dir.join("models.md");
        std::fs::write(&md, self.markdown(true))
            .with_context(|| format!("writing {}", md.display()))?;
        paths.push(md);
        let csv = dir.join("models.csv");
        std::fs::write(&csv, self.csv()).with_context(|| format!("writing {}", csv.display()))?;
        paths.push(csv);
        for (name, chart) in self.charts() {
            let p = dir.join(name);
            plot::write_svg(&p, &chart)?;
            paths.push(p);
        }
        Ok(paths)
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atlas() -> Atlas {
        let mut a = Atlas {
            service: "http".into(),
            request: "GET /small.txt".into(),
            command: "netkit bench models".into(),
            machine: vec!["2 cores".into()],
            seconds: 1.0,
            warmup: 0.2,
            ..Atlas::default()
        };
        for (m, rps) in [("epoll", 50_000.0), ("thread", 30_000.0)] {
            for c in [1, 100, 1000] {
                a.points.push(Point {
                    model: m.into(),
                    workers: "2".into(),
                    clients: c,
                    load: Some(LoadStats {
                        connected: c,
                        completed: (rps as u64) * c as u64 / 1000,
                        rps: rps * c as f64 / 1000.0,
                        p50_us: 100,
                        p99_us: 900 * c as u64,
                        max_us: 5000,
                        seconds: 1.0,
                        server_cpu: Some(0.5),
                        peak_rss: Some(10 << 20),
                        processes: 1,
                        starved: usize::from(c == 1000 && m == "thread"),
                        ..LoadStats::default()
                    }),
                    idle: Some(IdleStats {
                        wanted: c,
                        open: c,
                        answered: if m == "thread" && c == 1000 { 10 } else { c },
                        base_rss: 1 << 20,
                        rss: (1 << 20) + 700 * c as u64,
                        ..IdleStats::default()
                    }),
                    notes: Vec::new(),
                    rounds: Vec::new(),
                });
            }
        }
        a
    }

    #[test]
    fn per_connection_memory_needs_nearly_all_answered() {
        let i = IdleStats {
            wanted: 100,
            answered: 99,
            base_rss: 1000,
            rss: 1000 + 99 * 512,
            ..IdleStats::default()
        };
        assert_eq!(i.rss_per_conn(), Some(512.0));
        let j = IdleStats { answered: 98, ..i };
        assert_eq!(j.rss_per_conn(), None);
    }

    #[test]
    fn tables_and_csv() {
        let a = atlas();
        let t = a.table();
        assert_eq!(t.lines().count(), 2 + 6);
        assert!(t.contains("| epoll | 2 | 1,000 | 50,000 |"), "{t}");
        assert!(t.contains("0.68 KiB"), "{t}");
        assert!(t.contains("(10 of 1000 answered)"), "{t}");
        let m = a.throughput_matrix();
        assert!(m.contains("| thread | 30 | 3,000 | 30,000* |"), "{m}");
        let csv = a.csv();
        let cols = csv.lines().next().unwrap().split(',').count();
        for l in csv.lines() {
            assert_eq!(l.split(',').count(), cols, "{l}");
        }
        assert!(a.markdown(true).contains("```sh\nnetkit bench models\n```"));
    }

    #[test]
    fn a_point_measured_in_rounds_is_its_median_round() {
        let round = |rps: f64, idle: bool, note: &str| Point {
            model: "uring".into(),
            clients: 100,
            load: Some(LoadStats {
                rps,
                p99_us: rps as u64,
                ..LoadStats::default()
            }),
            idle: idle.then(IdleStats::default),
            notes: vec![note.to_string()],
            ..Point::default()
        };
        let p = Point::median_of(vec![
            round(90.0, true, "slow"),
            round(150.0, false, "slow"),
            round(120.0, false, "ok"),
        ]);
        let load = p.load.as_ref().unwrap();
        assert_eq!(load.rps, 120.0);
        assert_eq!(load.p99_us, 120, "the whole median round, not a mix");
        assert_eq!(p.rounds, [90.0, 150.0, 120.0]);
        assert!(p.idle.is_some());
        assert_eq!(p.notes, ["slow", "ok"]);
        assert_eq!(p.rounds_cell(), "90-150");
        // Even counts take the lower middle; a failed round's load is missing.
        let mut failed = round(0.0, false, "load phase failed");
        failed.load = None;
        let q = Point::median_of(vec![round(10.0, true, ""), failed, round(30.0, false, "")]);
        assert_eq!(q.load.unwrap().rps, 10.0);
        assert_eq!(q.rounds, [10.0, 30.0]);

        let mut a = atlas();
        a.rounds = 3;
        a.points[0].rounds = vec![1.0, 2000.0, 3.0];
        let t = a.table();
        assert!(t.contains("| req/s | rounds req/s |"), "{t}");
        assert!(t.contains("| 1-2,000 |"), "{t}");
        assert!(a.markdown(false).contains("measured 3 times"));
        let csv = a.csv();
        assert!(csv.contains(",1.0;2000.0;3.0,"), "{csv}");
    }

    #[test]
    fn charts_render() {
        for (_, c) in atlas().charts() {
            let svg = plot::render_svg(&c).unwrap();
            assert!(svg.starts_with("<svg"));
        }
    }

    #[test]
    fn formats() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(size(700.0), "0.68 KiB");
        assert_eq!(size(20.0 * 1024.0), "20 KiB");
        assert_eq!(size(31560.1 * 1024.0 * 1024.0), "30.8 GiB");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
    }
}
