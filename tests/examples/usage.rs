//! A lesson given a wrong command line says so in one line and exits 2,
//! with no stack trace even when `RUST_BACKTRACE=1` is set (a typo is not a
//! bug); a failure that is not the user's exits 1, also in one line.

use super::{build_example, examples_dir};
use std::process::{Command, Stdio};

fn run_with_backtrace(name: &str, args: &[&str]) -> (Option<i32>, String) {
    build_example(name);
    let out = Command::new(examples_dir().join(name))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run example");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn usage_errors_are_one_line_exit_2_without_a_backtrace() {
    for (name, args, says) in [
        ("copy_halves", &["a", "b", "c"][..], "usage: copy_halves"),
        ("driver_conductor", &["--bogus"], "usage: driver_conductor"),
        (
            "async_echo_server",
            &["not-a-port"],
            "bad port \"not-a-port\"",
        ),
        ("socketserver", &["--bogus"], "usage: socketserver"),
        ("threads_counter", &["lots"], "bad number \"lots\""),
        ("http_route", &["80800"], "usage: http_route"),
        ("peer_tokio_echo", &["x"], "usage: peer_tokio_echo"),
    ] {
        let (code, err) = run_with_backtrace(name, args);
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(err.starts_with(&format!("{name}: ")), "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
        assert!(
            !err.to_lowercase().contains("backtrace"),
            "{name} printed a stack trace:\n{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
    }
}
