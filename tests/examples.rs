//! Runs every classroom example in `examples/` as a real process and checks
//! its output.
//!
//! The examples are built once per test run (`cargo build --example ...` with
//! the same profile and target directory as this test binary); each one then runs in its own process
//! group with a 30 s limit, after which the whole group is killed.

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Once, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

const TIMEOUT: Duration = Duration::from_secs(30);
/// The examples are meant to finish in well under this.
const EXPECTED_MAX_RUNTIME: Duration = Duration::from_secs(5);

/// The examples this file runs; only these are built.
const EXAMPLES: &[&str] = &[
    "fork_basics",
    "orphan_zombie",
    "double_fork",
    "process_pool",
    "pipe",
    "message_queue",
    "shared_memory",
    "semaphore",
    "event_lock",
    "signals",
    "driver_conductor",
    "threads_counter",
    "copy_halves",
    "nonblocking_socket",
];

static BUILD: Once = Once::new();

/// `target/<profile>/examples`, next to this test binary's `target/<profile>/deps`.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    profile_dir.join("examples")
}

fn build_examples() {
    BUILD.call_once(|| {
        let profile_dir = examples_dir().parent().expect("profile dir").to_path_buf();
        let profile = profile_dir
            .file_name()
            .and_then(|p| p.to_str())
            .unwrap_or("debug");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["build", "--quiet"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        for name in EXAMPLES {
            cargo.args(["--example", name]);
        }
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
            "cargo build of the examples failed: {status}"
        );
    });
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

/// Run an example with a time limit; its output pipes must close when it exits
/// (a leftover descendant holding them open is a failure too).
fn run(name: &str, args: &[&str]) -> Run {
    assert!(EXAMPLES.contains(&name), "{name} is not listed in EXAMPLES");
    build_examples();
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
    let (tx, rx) = mpsc::channel();
    for (is_err, mut pipe) in [
        (
            false,
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
        ),
        (true, Box::new(child.stderr.take().expect("stderr"))),
    ] {
        let tx = tx.clone();
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            let _ = tx.send((is_err, text));
        });
    }
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = killpg(group, Signal::SIGKILL);
            let _ = child.wait();
            panic!("example {name} did not finish within {TIMEOUT:?}; killed");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let elapsed = start.elapsed();
    let (mut stdout, mut stderr) = (None, None);
    for _ in 0..2 {
        let Ok((is_err, text)) = rx.recv_timeout(Duration::from_secs(10)) else {
            let _ = killpg(group, Signal::SIGKILL);
            panic!("example {name} exited but a descendant kept its output open");
        };
        *(if is_err { &mut stderr } else { &mut stdout }) = Some(text);
    }
    let (stdout, stderr) = (stdout.unwrap_or_default(), stderr.unwrap_or_default());
    Run {
        pid: i64::from(group.as_raw()),
        status,
        stdout,
        stderr,
        elapsed,
    }
}

#[test]
fn fork_basics_copy_on_write() {
    let r = run("fork_basics", &[]);
    r.assert_success();
    let parent = num(r.line("parent: pid="), "pid=");
    assert_eq!(parent, r.pid, "the example's own pid\n{}", r.context());
    let forked = num(r.line("parent: fork returned child pid="), "pid=");
    let child_line = r.line("child: pid=");
    assert_eq!(
        num(child_line, "pid="),
        forked,
        "fork() return value is the child's pid\n{}",
        r.context()
    );
    assert_eq!(
        num(child_line, "ppid="),
        parent,
        "child's ppid is the parent\n{}",
        r.context()
    );
    assert_ne!(forked, parent);
    r.has_line("child: value=42 -> changed to 100 (copy-on-write)");
    r.has_line("child: vec=[1, 2, 3, 4]");
    r.has_line(&format!("parent: child {forked} exited with status 0"));
    r.has_line("parent: value=42 vec=[1, 2, 3] (unchanged by the child)");
}

#[test]
fn orphan_is_reparented_zombie_is_reaped() {
    let r = run("orphan_zombie", &[]);
    r.assert_success();
    let parent_line = r.line("orphan: parent pid=");
    let (parent, child) = (
        num(parent_line, "parent pid="),
        num(parent_line, "child pid="),
    );
    assert_ne!(parent, r.pid, "the orphan's parent is a forked process");
    let orphan = r.line("orphan: child pid=");
    assert_eq!(num(orphan, "child pid="), child);
    assert_eq!(num(orphan, "original ppid="), parent);
    let new_ppid = num(orphan, "new ppid=");
    assert_ne!(
        new_ppid,
        parent,
        "orphan must be re-parented\n{}",
        r.context()
    );
    assert!(orphan.ends_with("(reparented)"), "{}", r.context());

    let zombie = num(r.line("zombie: child pid="), "pid=");
    let seen = r.index_of(&format!("zombie: /proc/{zombie}/stat state=Z "));
    let reaped = r.index_of(&format!("zombie: waitpid reaped pid={zombie} status=7"));
    let gone = r.index_of(&format!("zombie: /proc/{zombie} is gone after waitpid"));
    assert!(
        seen < reaped && reaped < gone,
        "Z state, then reaped, then gone\n{}",
        r.context()
    );

    let auto = num(r.line("auto-reap: SIGCHLD=SIG_IGN, child pid="), "pid=");
    r.has_line(&format!(
        "auto-reap: waitpid({auto}) -> ECHILD (reaped by the kernel, no zombie)"
    ));
}

#[test]
fn double_fork_leaves_no_zombie() {
    let r = run("double_fork", &[]);
    r.assert_success();
    assert_eq!(num(r.line("main: pid="), "pid="), r.pid);
    let child_line = r.line("child: pid=");
    let (child, grandchild) = (num(child_line, "pid="), num(child_line, "grandchild pid="));
    r.has_line(&format!("main: reaped child {child} (status 0)"));
    let gc_line = r.line("grandchild: pid=");
    assert_eq!(num(gc_line, "pid="), grandchild);
    let gc_parent = num(gc_line, "ppid=");
    assert!(
        gc_parent != r.pid && gc_parent != child,
        "grandchild re-parented\n{}",
        r.context()
    );
    r.has_line(&format!(
        "main: waitpid({grandchild}) -> ECHILD: the grandchild is not our child"
    ));
    r.has_line("main: grandchild finished; zombie children of main: 0");
}

#[test]
fn process_pool_computes_squares_in_worker_processes() {
    let r = run("process_pool", &[]);
    r.assert_success();
    let list = r.line("pool: 4 workers: [");
    let inner = list
        .split_once('[')
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .expect("pid list");
    let workers: HashSet<i64> = inner.split(", ").map(|p| p.parse().expect("pid")).collect();
    assert_eq!(workers.len(), 4, "4 distinct worker pids\n{}", r.context());
    assert!(!workers.contains(&r.pid), "workers are child processes");
    let apply = r.line("apply_async(7) = ");
    assert_eq!(num(apply, "= "), 49);
    assert!(workers.contains(&num(apply, "pid ")), "{}", r.context());
    let mut used = HashSet::new();
    for x in 0..20i64 {
        let line = r.line(&format!("map: {x}^2 = "));
        assert_eq!(num(line, "= "), x * x, "{}", r.context());
        let pid = num(line, "(pid ");
        assert!(workers.contains(&pid), "computed by a pool worker: {line}");
        used.insert(pid);
    }
    assert!(
        used.len() >= 2,
        "tasks spread over several workers\n{}",
        r.context()
    );
    let squares: Vec<String> = (0..20).map(|x: u64| (x * x).to_string()).collect();
    r.has_line(&format!("map results: [{}]", squares.join(", ")));
    r.has_line("pool: 4 of 4 workers exited cleanly");
}

#[test]
fn pipe_one_way_and_duplex() {
    let r = run("pipe", &[]);
    r.assert_success();
    let one_way: Vec<&str> = r
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("one-way: child"))
        .collect();
    assert_eq!(one_way.len(), 4, "{}", r.context());
    let child = num(one_way[0], "child ");
    assert_ne!(child, r.pid);
    for (line, msg) in one_way.iter().zip(["hello child", "how are you?", "bye"]) {
        assert_eq!(*line, format!("one-way: child {child} got: {msg:?}"));
    }
    assert_eq!(
        one_way[3],
        format!("one-way: child {child} saw EOF after 3 messages")
    );
    let mut responders = HashSet::new();
    for req in ["ping", "rust", "pipes"] {
        let line = r.line(&format!(
            "duplex: request {req:?} -> reply \"{} (from pid ",
            req.to_uppercase()
        ));
        responders.insert(num(line, "from pid "));
    }
    assert_eq!(responders.len(), 1, "one child answers all requests");
    assert!(!responders.contains(&r.pid) && !responders.contains(&child));
    r.has_line("duplex: child exited, 3 requests answered");
}

#[test]
fn message_queue_is_bounded_fifo() {
    let r = run("message_queue", &[]);
    r.assert_success();
    r.has_line("get(block=false) on an empty queue -> empty");
    for msg in ["a", "b", "c"] {
        r.has_line(&format!("put(block=false, {msg:?}) -> ok"));
    }
    r.has_line("put(block=false, \"d\") -> full (capacity 3)");
    r.has_line("drained: [\"a\", \"b\", \"c\"]");
    let lines = r.lines();
    let got: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("consumer: got "))
        .collect();
    let put: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("producer: put "))
        .collect();
    let expected: Vec<String> = (0..8).map(|i| format!("msg-{i}")).collect();
    assert_eq!(
        got.iter().map(|l| &l[14..]).collect::<Vec<_>>(),
        expected,
        "{}",
        r.context()
    );
    assert_eq!(
        put.iter().map(|l| &l[14..]).collect::<Vec<_>>(),
        expected,
        "{}",
        r.context()
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("producer: queue full, put(msg-")),
        "producer blocked\n{}",
        r.context()
    );
    // Boundedness: when "put msg-k" is printed, k+1 puts have completed, and at
    // most (gets printed so far + 1) gets, so k+1 <= capacity 3 + printed + 1,
    // i.e. k < 3 + printed + 1.
    let mut printed_gets = 0;
    for line in &lines {
        if line.starts_with("consumer: got ") {
            printed_gets += 1;
        } else if let Some(k) = line.strip_prefix("producer: put msg-") {
            let k: usize = k.parse().expect("message number");
            assert!(
                k < 3 + printed_gets + 1,
                "queue exceeded its capacity at {line:?}\n{}",
                r.context()
            );
        }
    }
    r.has_line("consumer: received 8 messages in order");
}

#[test]
fn shared_memory_lock_gives_exact_count() {
    let r = run("shared_memory", &[]);
    r.assert_success();
    let racy = r.line("without lock: expected ");
    let (expected, actual) = (num(racy, "expected "), num(racy, "actual "));
    assert_eq!(expected, 800_000);
    assert!(actual > 0 && actual <= expected, "{racy}");
    assert_eq!(num(racy, "lost "), expected - actual);
    r.has_line("with lock: expected 800000, actual 800000 (lost 0 updates)");
    assert!(
        r.line("shared array: [")
            .ends_with("(matches the child pids: true)"),
        "{}",
        r.context()
    );
}

#[test]
fn semaphore_limits_concurrency() {
    let r = run("semaphore", &[]);
    r.assert_success();
    r.has_line("6 processes, at most 2 at a time");
    let (mut inside, mut max_seen) = (0i64, 0i64);
    let (mut entered, mut left) = (HashSet::new(), HashSet::new());
    for line in r.lines() {
        if line.contains(" enters (inside: ") {
            inside += 1;
            max_seen = max_seen.max(inside);
            assert!(num(line, "inside: ") <= 2, "{line}\n{}", r.context());
            entered.insert(num(line, "pid "));
        } else if line.ends_with(" leaves") {
            inside -= 1;
            left.insert(num(line, "pid "));
        }
    }
    assert!(
        max_seen <= 2,
        "more than 2 inside at once per the output\n{}",
        r.context()
    );
    assert_eq!(entered.len(), 6);
    assert_eq!(entered, left);
    r.has_line("6 of 6 processes finished");
    let max = num(r.line("max concurrency observed: "), "observed: ");
    assert!(
        (1..=2).contains(&max),
        "max concurrency {max} must be <= 2\n{}",
        r.context()
    );
}

#[test]
fn event_and_lock_across_processes_and_threads() {
    let r = run("event_lock", &[]);
    r.assert_success();
    let lines = r.lines();
    for who in ["processes", "threads"] {
        let set = r.index_of(&format!("{who}: setting the event"));
        for waiter in 1..=3 {
            let woke = r.index_of(&format!("{who}: waiter {waiter} woke up, event is set"));
            assert!(
                woke > set,
                "{who}: waiter {waiter} woke before the event was set\n{}",
                r.context()
            );
        }
        let steps: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with(&format!("{who}: worker ")))
            .collect();
        assert_eq!(steps.len(), 9, "{}", r.context());
        let mut workers = HashSet::new();
        for group in steps.chunks(3) {
            let worker = num(group[0], "worker ");
            for (step, line) in group.iter().enumerate() {
                let want = format!("{who}: worker {worker} step {}", step + 1);
                assert_eq!(
                    *line,
                    want,
                    "critical sections interleaved\n{}",
                    r.context()
                );
            }
            workers.insert(worker);
        }
        assert_eq!(workers, HashSet::from([0, 1, 2]));
    }
}

#[test]
fn signals_handler_ignore_alarm_default() {
    let r = run("signals", &[]);
    r.assert_success();
    r.has_line(&format!(
        "handler: sent SIGUSR1 to self (pid {}), handler ran 1 time(s)",
        r.pid
    ));
    r.has_line("ignore: SIGUSR2 is SIG_IGN, sent it to self, still alive");
    let woke = r.line("alarm: woken by SIGALRM after ");
    let secs: f64 = woke["alarm: woken by SIGALRM after ".len()..]
        .trim_end_matches(" s")
        .parse()
        .expect("seconds");
    assert!(
        (0.9..3.0).contains(&secs),
        "alarm(1) should fire after ~1 s: {woke}"
    );
    let term = r.line("default: child ");
    assert!(term.contains(" killed by SIGTERM "), "{}", r.context());
    assert_ne!(num(term, "child "), r.pid);
    assert!(
        r.stdout
            .contains(" killed by SIGKILL (cannot be caught or ignored)"),
        "{}",
        r.context()
    );
}

#[test]
fn driver_conductor_demo() {
    let r = run("driver_conductor", &["--demo"]);
    r.assert_success();
    let head = r.line("Conductor (pid ");
    assert_eq!(num(head, "(pid "), r.pid);
    let driver = num(head, "driver is pid ");
    let script = [
        "Demo: SIGINT to the group (Ctrl-C)",
        "Conductor: Ticket please! (SIGINT) -> SIGUSR1 to the driver",
        "Driver: Let's go! (SIGUSR1)",
        "Demo: SIGQUIT to the group (Ctrl-\\)",
        "Conductor: Next stop! (SIGQUIT) -> SIGUSR2 to the driver",
        "Driver: Stopping the bus. (SIGUSR2)",
        "Demo: SIGINT to the group (Ctrl-C)",
        "Conductor: Ticket please! (SIGINT) -> SIGUSR1 to the driver",
        "Driver: Let's go! (SIGUSR1)",
        "Demo: SIGTSTP to the group (Ctrl-Z)",
        "Driver: Terminal reached (SIGTSTP) -> SIGUSR1 to the conductor",
        "Conductor: Everybody please get off the bus! (SIGUSR1)",
        &format!("Conductor: driver {driver} went home (killed by SIGTERM)"),
    ];
    // Exactly this sequence of lines after the header: nothing lost, duplicated or reordered.
    let lines = r.lines();
    let start = r.index_of("Conductor (pid ") + 1;
    assert_eq!(&lines[start..], &script[..], "{}", r.context());
}

#[test]
fn driver_conductor_rejects_unknown_argument() {
    let r = run("driver_conductor", &["--bogus"]);
    assert!(!r.status.success(), "{}", r.context());
    assert!(
        r.stderr.contains("unknown argument \"--bogus\""),
        "{}",
        r.context()
    );
}

#[test]
fn threads_counter_mutex_is_exact() {
    let r = run("threads_counter", &[]);
    r.assert_success();
    let racy = r.line("racy load+store:");
    let (expected, actual) = (num(racy, "expected "), num(racy, "actual "));
    assert_eq!(expected, 4_000_000);
    assert!(actual > 0 && actual <= expected, "{racy}");
    assert_eq!(num(racy, "lost "), expected - actual);
    let mutex = r.line("mutex:");
    assert_eq!(
        (num(mutex, "expected "), num(mutex, "actual ")),
        (expected, expected),
        "{mutex}"
    );
    let atomic = r.line("atomic fetch_add:");
    assert_eq!(
        (num(atomic, "expected "), num(atomic, "actual ")),
        (expected, expected),
        "{atomic}"
    );

    let small = run("threads_counter", &["3", "1000"]);
    small.assert_success();
    assert!(
        small
            .line("mutex:")
            .contains("expected 3000, actual 3000 (lost 0)"),
        "{}",
        small.context()
    );

    let bad = run("threads_counter", &["2", "many"]);
    assert!(!bad.status.success(), "{}", bad.context());
    assert!(
        bad.stderr.contains("bad number \"many\""),
        "{}",
        bad.context()
    );
}

#[test]
fn copy_halves_generated_file_is_identical() {
    let r = run("copy_halves", &[]);
    r.assert_success();
    let len = num(r.line("generated "), "(");
    assert!(len > 3 * 1024 * 1024, "{}", r.context());
    let half = len / 2;
    let ranges: Vec<&str> = r
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("child "))
        .collect();
    assert_eq!(ranges.len(), 2, "{}", r.context());
    assert!(
        ranges
            .iter()
            .any(|l| l.ends_with(&format!("copied bytes [0, {half})"))),
        "{}",
        r.context()
    );
    assert!(
        ranges
            .iter()
            .any(|l| l.ends_with(&format!("copied bytes [{half}, {len})"))),
        "{}",
        r.context()
    );
    assert_eq!(num(r.line("copied "), "copied "), len);
    r.has_line("verify: identical");
}

#[test]
fn copy_halves_with_paths() {
    let dir = std::env::temp_dir().join(format!("netkit-copy-halves-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (src, dst) = (dir.join("src.bin"), dir.join("dst.bin"));
    let data: Vec<u8> = (0..1_000_003u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&src, &data).expect("write src");
    std::fs::write(&dst, b"old contents that must be replaced").expect("write dst");
    let (src_s, dst_s) = (
        src.to_str().expect("utf-8 path"),
        dst.to_str().expect("utf-8 path"),
    );
    let r = run("copy_halves", &[src_s, dst_s]);
    let copied = std::fs::read(&dst).expect("read dst");
    let missing = run(
        "copy_halves",
        &[dir.join("missing").to_str().expect("path"), dst_s],
    );
    let _ = std::fs::remove_dir_all(&dir);

    r.assert_success();
    r.has_line(&format!("copied 1000003 bytes from {src_s} to {dst_s}"));
    assert!(copied == data, "destination differs from source");
    assert!(!missing.status.success(), "{}", missing.context());
    assert!(
        missing.stderr.contains("cannot open"),
        "{}",
        missing.context()
    );
}

#[test]
fn nonblocking_accept_and_read_timeout() {
    let r = run("nonblocking_socket", &[]);
    r.assert_success();
    assert!(
        r.line("listening on 127.0.0.1:")
            .ends_with(" (non-blocking)")
    );
    r.has_line("accept (nix): Err(EAGAIN): no pending connection");
    r.has_line("accept (std): WouldBlock: no pending connection");
    r.has_line("poll: listener readable after a client connected");
    assert!(
        r.line("accept: connection from ")
            .starts_with("accept: connection from 127.0.0.1:")
    );
    r.has_line("read (non-blocking): WouldBlock: no data yet");
    r.has_line("read (non-blocking): got \"hello\" after the client wrote");
    let timeout = r.line("read with 200 ms timeout: timed out after ");
    let waited = num(timeout, "after ");
    assert!(
        (150..2000).contains(&waited),
        "read timeout should take ~200 ms: {timeout}"
    );
}
