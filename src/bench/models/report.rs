//! What is printed besides the atlas: one line per finished point, the command
//! line to reproduce the run, and the machine and load it ran on.

use std::time::{Duration, SystemTime};

use crate::bench::atlas::{self, IdleStats, Point};

/// One line per finished point.
pub(super) fn point_line(i: usize, count: usize, p: &Point) -> String {
    let what = if p.clients == 1 { "client" } else { "clients" };
    let mut s = format!("[{i}/{count}] {:<9} {:>6} {what}:", p.model, p.clients);
    match &p.load {
        Some(l) if l.completed > 0 => s.push_str(&format!(
            " {:>9} req/s, p99 {:.2} ms",
            atlas::thousands(l.rps),
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
        s.push_str(&format!(", idle {}/conn", atlas::size(b)));
    }
    for n in &p.notes {
        s.push_str(&format!("\n    note: {n}"));
    }
    s
}

/// The command line as typed, for "reproduce with".
pub(super) fn reproduce_command() -> String {
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

/// The load average (1/5/15 min) from `/proc/loadavg`, or `?`.
pub(super) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" / "))
        .unwrap_or_else(|| "?".into())
}

/// Machine, build and load, first line short enough for a chart subtitle.
pub(super) fn machine_lines(
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
