//! `netkit bench tasks`, run as the real binary with tiny sizes: it measures
//! all three ways (their answers are cross-checked inside), prints the table
//! with the course's numbers beside its own, and explains the result.

mod util;

use std::process::Command;

fn run(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(util::bin())
        .args(["bench", "tasks"])
        .args(args)
        .output()
        .expect("run netkit bench tasks");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The table's data rows: label and the numbers in the cpu and io columns.
fn rows(out: &str) -> Vec<(String, f64, f64)> {
    out.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| run"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[1].to_string(),
                cells[2].parse().expect("cpu seconds"),
                cells[3].parse().expect("io seconds"),
            )
        })
        .collect()
}

#[test]
fn quick_run_prints_the_table_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(&[
        "--quick",
        "--workers",
        "3",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("netkit bench tasks: 3 tasks per run"),
        "{out}"
    );
    assert!(
        out.contains("count the primes below 20000 by trial division (2262 primes)"),
        "{out}"
    );
    let rows = rows(&out);
    let labels: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(labels, ["sequential", "3 threads", "3 processes"], "{out}");
    for (label, cpu, io) in &rows {
        assert!(
            *cpu >= 0.0 && *cpu < 10.0 && *io >= 0.0 && *io < 10.0,
            "{label}: {out}"
        );
    }
    // The course's numbers are shown beside ours.
    assert!(out.contains("8.7 / 3.6") && out.contains("9.0 / 3.8") && out.contains("4.5 / 2.2"));
    assert!(out.contains("Global Interpreter Lock"), "{out}");
    // The io tasks cleaned up after themselves.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn bad_options_are_one_clear_line() {
    let (ok, _, err) = run(&["--quick", "--dir", "/nonexistent/dir"]);
    assert!(!ok);
    assert!(err.contains("is not a directory"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (ok, _, err) = run(&["--quick", "--workers", "0"]);
    assert!(!ok);
    assert!(err.contains("--workers"), "{err}");
}
