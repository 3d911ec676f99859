//! Runs every classroom example in `examples/` as a real process and checks
//! its output; one module per topic of the course.
//!
//! Each example is built on first use (`cargo build --example NAME` with
//! the same profile and target directory as this test binary); each one then runs in its own process
//! group with a 30 s limit, after which the whole group is killed.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

const TIMEOUT: Duration = Duration::from_secs(30);
/// The examples are meant to finish in well under this.
const EXPECTED_MAX_RUNTIME: Duration = Duration::from_secs(5);

/// The examples built so far in this test run (each is built on first use).
static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// `target/<profile>/examples`, next to this test binary's `target/<profile>/deps`.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    profile_dir.join("examples")
}

/// Builds one example (once per test run) with this test binary's profile.
fn build_example(name: &str) {
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.iter().any(|b| b == name) {
        return;
    }
    let profile_dir = examples_dir().parent().expect("profile dir").to_path_buf();
    let profile = profile_dir
        .file_name()
        .and_then(|p| p.to_str())
        .unwrap_or("debug");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile != "debug" {
        cargo.args(["--profile", profile]);
    }
    // Build into this test binary's target directory (matters if it was
    // chosen with --target-dir); the root of a target dir has CACHEDIR.TAG.
    if let Some(target_dir) = profile_dir.parent() {
        if target_dir.join("CACHEDIR.TAG").exists() {
            cargo.arg("--target-dir").arg(target_dir);
        }
    }
    let status = cargo.status().expect("failed to run cargo build");
    assert!(
        status.success(),
        "cargo build of example {name} failed: {status}"
    );
    built.push(name.to_string());
}

struct Run {
    pid: i64,
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn context(&self) -> String {
        format!(
            "status: {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The first stdout line starting with `prefix`.
    fn line(&self, prefix: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?}\n{}", self.context()))
    }

    fn index_of(&self, prefix: &str) -> usize {
        self.stdout
            .lines()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?}\n{}", self.context()))
    }

    fn has_line(&self, exact: &str) {
        assert!(
            self.stdout.lines().any(|l| l == exact),
            "missing line {exact:?}\n{}",
            self.context()
        );
    }

    fn assert_success(&self) {
        assert!(self.status.success(), "example failed\n{}", self.context());
        assert!(
            self.elapsed < EXPECTED_MAX_RUNTIME,
            "example took {:?} (should be well under {EXPECTED_MAX_RUNTIME:?})\n{}",
            self.elapsed,
            self.context()
        );
    }
}

/// The number that directly follows `key` in `line` (e.g. `num(l, "pid=")`).
fn num(line: &str, key: &str) -> i64 {
    let start = line
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} not in {line:?}"))
        + key.len();
    let digits: String = line[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {key:?} in {line:?}"))
}

/// Runs an example to its end with a time limit; its output pipes must close
/// when it exits (a leftover descendant holding them open is a failure too).
fn run(name: &str, args: &[&str]) -> Run {
    Running::start(name, args).finish()
}

/// An example that is still running, for tests that talk to it while it runs
/// (send it signals, wait for a line).
struct Running {
    name: String,
    child: std::process::Child,
    group: Pid,
    start: Instant,
    /// Stdout lines as they arrive; `None` at end of output.
    lines: mpsc::Receiver<Option<String>>,
    /// The stdout lines received so far.
    seen: Vec<String>,
    /// All of stderr, once it closes.
    stderr: mpsc::Receiver<String>,
}

impl Running {
    /// Starts an example in its own process group, stdin closed.
    fn start(name: &str, args: &[&str]) -> Running {
        build_example(name);
        let path = examples_dir().join(name);
        assert!(
            path.exists(),
            "example binary {} not found after building",
            path.display()
        );
        let start = Instant::now();
        let mut child = Command::new(&path)
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LIB_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let group = Pid::from_raw(child.id() as i32);
        let (line_tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line_tx.send(Some(line)).is_err() {
                    return;
                }
            }
            let _ = line_tx.send(None);
        });
        let (err_tx, stderr) = mpsc::channel();
        let mut pipe = child.stderr.take().expect("stderr");
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            let _ = err_tx.send(text);
        });
        Running {
            name: name.to_string(),
            child,
            group,
            start,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// The example's pid, which is also its process group.
    fn pid(&self) -> Pid {
        self.group
    }

    /// Waits (up to 10 s) for the next stdout line starting with `prefix` and
    /// returns it; earlier lines are kept for [`Running::finish`].
    fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Ok(None) | Err(_) => {
                    let _ = killpg(self.group, Signal::SIGKILL);
                    panic!(
                        "{}: no line starting with {prefix:?}; output so far:\n{}",
                        self.name,
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Sends `sig` to the example's whole process group, as a terminal does
    /// for Ctrl-C, Ctrl-\ and Ctrl-Z.
    fn signal_group(&self, sig: Signal) {
        killpg(self.group, sig).expect("killpg");
    }

    /// Waits for the example to exit (killing its group after the time
    /// limit) and collects all its output.
    fn finish(mut self) -> Run {
        let name = self.name.clone();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if self.start.elapsed() > TIMEOUT {
                let _ = killpg(self.group, Signal::SIGKILL);
                let _ = self.child.wait();
                panic!("example {name} did not finish within {TIMEOUT:?}; killed");
            }
            thread::sleep(Duration::from_millis(10));
        };
        let elapsed = self.start.elapsed();
        let closed = Instant::now() + Duration::from_secs(10);
        loop {
            let left = closed.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Some(line)) => self.seen.push(line),
                Ok(None) => break,
                Err(_) => {
                    let _ = killpg(self.group, Signal::SIGKILL);
                    panic!("example {name} exited but a descendant kept its output open");
                }
            }
        }
        let Ok(stderr) = self.stderr.recv_timeout(Duration::from_secs(10)) else {
            let _ = killpg(self.group, Signal::SIGKILL);
            panic!("example {name} exited but a descendant kept its stderr open");
        };
        let mut stdout = self.seen.join("\n");
        if !stdout.is_empty() {
            stdout.push('\n');
        }
        Run {
            pid: i64::from(self.group.as_raw()),
            status,
            stdout,
            stderr,
            elapsed,
        }
    }
}

mod coroutines;
mod course_map;
mod ipc;
mod processes;
mod servers;
mod signals;
mod sockets;
mod threads;
mod usage;
