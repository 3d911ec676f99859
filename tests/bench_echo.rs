//! `netkit bench echo` end to end: the benchmark starts its own server, drives
//! it and reports throughput with no errors.

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn bench_echo_thread_model_reports_throughput_without_errors() {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_netkit"))
        .args([
            "bench",
            "echo",
            "--model",
            "thread",
            "--clients",
            "4",
            "--duration",
            "1s",
        ])
        .output()
        .expect("run netkit bench echo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {stderr}\n{stdout}");
    assert!(started.elapsed() < Duration::from_secs(10), "too slow");

    let rps: f64 = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("throughput:"))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no throughput line in:\n{stdout}"));
    assert!(rps > 0.0, "no requests/s in:\n{stdout}");
    let errors: u64 = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("errors:"))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no errors line in:\n{stdout}"));
    assert_eq!(errors, 0, "errors in:\n{stdout}");

    // The last line is the Markdown row: model, workers, clients, req/s ...
    let row: Vec<&str> = stdout
        .trim_end()
        .lines()
        .last()
        .unwrap()
        .split('|')
        .map(str::trim)
        .collect();
    assert_eq!(&row[1..4], ["thread", "-", "4"], "row: {row:?}");
}
