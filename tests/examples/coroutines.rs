//! Lessons on coroutines: generators, explicit switching, tokio tasks, and an async server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{Run, num, run};

/// One run of `name` (no arguments), shared by the tests that read its output.
fn shared(name: &'static str) -> &'static Run {
    static RUNS: [OnceLock<Run>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match name {
        "generators" => 0,
        "explicit_switch" => 1,
        "async_tasks" => 2,
        other => panic!("no shared run for {other}"),
    };
    RUNS[slot].get_or_init(|| run(name, &[]))
}

/// Asserts that `expected` appear in stdout as whole lines, in this order
/// (other lines may come between them).
fn assert_in_order(r: &Run, expected: &[&str]) {
    let lines = r.lines();
    let mut from = 0;
    for want in expected {
        match lines[from..].iter().position(|l| l == want) {
            Some(i) => from += i + 1,
            None => panic!(
                "line {want:?} missing or out of order (expected after line {from})\n{}",
                r.context()
            ),
        }
    }
}

#[test]
fn generators_interleave_with_the_caller() {
    let r = shared("generators");
    r.assert_success();
    // Caller and generator take turns, and the body starts only at the first next().
    assert_in_order(
        r,
        &[
            "main: created the generator: Created { n: 3 } (its body has not run)",
            "main: calling next()",
            "gen: started",
            "gen: yield 1",
            "main: got 1",
            "main: calling next()",
            "gen: resumed after yield 1",
            "gen: yield 2",
            "main: got 2",
            "main: calling next()",
            "gen: resumed after yield 2",
            "gen: yield 3",
            "main: got 3",
            "main: calling next()",
            "gen: resumed after yield 3",
            "gen: finished (Python raises StopIteration)",
            "main: next() returned None",
        ],
    );
    let gen_lines = r.lines().iter().filter(|l| l.starts_with("gen: ")).count();
    assert_eq!(gen_lines, 8, "{}", r.context());

    r.has_line("from_fn: first 10 Fibonacci numbers: [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]");
    r.has_line("from_fn: the closure ran 10 times for take(10) of an endless generator");
}

#[test]
fn generators_are_lazy_and_take_values_with_send() {
    let r = shared("generators");
    r.assert_success();
    assert_in_order(
        r,
        &[
            "lazy: created squares(1000000); steps run so far: 0",
            "lazy: next() -> Some(1); steps run so far: 1",
            "lazy: next() -> Some(4); steps run so far: 2",
            "lazy: dropped after 2 steps; the other 999998 squares were never computed",
            "lazy: map() adapter built; values computed so far: 0",
            "lazy: map: computing 10",
            "lazy: map: computing 20",
            "lazy: took 2 -> [10, 20]; values computed: 2 of 5",
        ],
    );
    assert!(
        !r.lines().contains(&"lazy: map: computing 30"),
        "map must not compute values nobody took\n{}",
        r.context()
    );
    assert_in_order(
        r,
        &[
            "send: main: next(gen) to prime it",
            "send: gen: started, waiting at the first yield",
            "send: main: send(10) -> average 10.0",
            "send: main: send(20) -> average 15.0",
            "send: main: send(12) -> average 14.0",
            "send: main: close()",
            "send: gen: closed after 3 values",
            "send: main: send(5) after close -> Err(StopIteration)",
        ],
    );
    // An async fn is driven the same way: poll() runs it to the next .await.
    assert_in_order(
        r,
        &[
            "async: main: created the future (its body has not run)",
            "async: main: calling poll()",
            "async: fut: started",
            "async: main: poll() -> Pending (paused at the 1st .await)",
            "async: main: calling poll()",
            "async: fut: resumed after the 1st .await",
            "async: main: poll() -> Pending (paused at the 2nd .await)",
            "async: main: calling poll()",
            "async: fut: resumed after the 2nd .await, returning 42",
            "async: main: poll() -> Ready(42)",
        ],
    );
}

#[test]
fn explicit_switch_runs_the_greenlet_example() {
    let r = shared("explicit_switch");
    r.assert_success();
    assert_in_order(
        r,
        &[
            "main: gr1.switch()",
            "test1: 12",
            "test1: gr2.switch()",
            "test2: 56",
            "test2: gr1.switch()",
            "test1: 34",
            "test1: gr2.switch()",
            "test2: 78",
            "test2: returns; back to its parent, main",
            "main: back in main; printed in order: 12 56 34 78",
        ],
    );
    assert!(
        r.index_of("main: gr1 = greenlet(test1)") < r.index_of("test1: 12"),
        "creating greenlets runs nothing\n{}",
        r.context()
    );
    // test1 was left paused at its last switch; test3 never ran.
    r.has_line(
        "main: test1 ran 2 times and is still paused at its second gr2.switch() (it never finished)",
    );
    r.has_line("main: test2 ran 2 times and finished");
    r.has_line("main: test3 was never switched to: ran 0 times, printed nothing");
    assert!(
        !r.lines()
            .iter()
            .any(|l| l.starts_with("test3:") || l.starts_with("test1: returns")),
        "{}",
        r.context()
    );
}

#[test]
fn explicit_switch_needs_no_lock_but_loses_updates_at_a_switch() {
    let r = shared("explicit_switch");
    r.assert_success();
    let whole = r.line("counter: 2 tasks x 3 increments, a switch after each whole increment:");
    assert_eq!(num(whole, "counter = "), 6, "{whole}");
    let runs = r.line("counter: 8 task runs, all on ");
    assert_eq!(num(runs, "all on "), 1, "one thread\n{}", r.context());
    assert!(runs.ends_with("(the main thread: true)"), "{runs}");
    let split = r.line("counter: 2 tasks x 3 increments, a switch between read and write:");
    assert_eq!(num(split, "counter = "), 3, "{split}");
    r.has_line("counter: 3 updates lost, each one at a switch the code asked for");
}

#[test]
fn async_tasks_share_one_thread_and_sleep_concurrently() {
    let r = shared("async_tasks");
    r.assert_success();
    let head = r.line("main: pid=");
    assert_eq!(num(head, "pid="), r.pid, "{head}");
    let main_tid = num(head, "tid=");
    assert_eq!(
        main_tid,
        r.pid,
        "main thread's tid is the pid\n{}",
        r.context()
    );
    let unit = num(head, "unit ");
    assert_eq!(unit, 150, "{head}");

    // spawn only schedules: nothing started before main awaited.
    r.has_line("main: spawned 3 tasks; started so far: 0 (they run once main awaits)");
    for n in 1..=3 {
        let started = r.line(&format!("task {n}: started on tid="));
        assert_eq!(
            num(started, "tid="),
            main_tid,
            "same thread\n{}",
            r.context()
        );
    }
    // All start at once, then finish by sleep length (150, 300, 450 ms), not spawn order.
    assert!(r.index_of("main: spawned 3 tasks") < r.index_of("task 1: started"));
    assert!(r.index_of("task 3: started") < r.index_of("task 2: finished"));
    assert!(r.index_of("task 2: finished") < r.index_of("task 3: finished"));
    assert!(r.index_of("task 3: finished") < r.index_of("task 1: finished"));
    r.has_line("joinall: results in spawn order [1, 2, 3]");
    let joined = r.line("joinall: sleeps 450 + 150 + 300 = 900 ms; elapsed ");
    let elapsed = num(joined, "elapsed ");
    assert!(
        (3 * unit..6 * unit).contains(&elapsed),
        "elapsed should be the longest sleep (450 ms), not the sum (900 ms): {joined}"
    );
    let one = r.line("joinall: 3 tasks ran on ");
    assert_eq!(num(one, "ran on "), 1, "{one}");
    assert_eq!(num(one, "tid="), main_tid, "{one}");
    assert!(one.ends_with("the main thread: true)"), "{one}");
}

#[test]
fn async_tasks_joinall_timeout_leaves_the_slow_task_running() {
    let r = shared("async_tasks");
    r.assert_success();
    assert!(r.index_of("quick: finished") < r.index_of("joinall(timeout=300 ms): gave up after "));
    let gave_up = r.line("joinall(timeout=300 ms): gave up after ");
    let waited = num(gave_up, "gave up after ");
    assert!(
        (300..1500).contains(&waited),
        "timeout 300 ms, the slow task sleeps 3 s: {gave_up}"
    );
    assert!(gave_up.ends_with("with 1 of 2 tasks finished"), "{gave_up}");
    r.has_line("joinall: slow is still running: is_finished() = false");
    assert!(r.index_of("main: slow.abort()") < r.index_of("joinall: slow ended: cancelled = true"));
    assert!(
        !r.lines().contains(&"slow: finished"),
        "the slow task was cancelled\n{}",
        r.context()
    );
}

#[test]
fn async_tasks_blocking_sleep_blocks_every_task() {
    let r = shared("async_tasks");
    r.assert_success();
    // std::thread::sleep: the tasks run strictly one after another...
    assert_in_order(
        r,
        &[
            "blocking 1: start, std::thread::sleep(150 ms)",
            "blocking 1: done",
            "blocking 2: start, std::thread::sleep(150 ms)",
            "blocking 2: done",
            "blocking 3: start, std::thread::sleep(150 ms)",
            "blocking 3: done",
            "blocking: each task finished before the next one started: true",
        ],
    );
    let blocking = r.line("blocking: 3 x 150 ms with std::thread::sleep: elapsed ");
    let sum = num(blocking, "elapsed ");
    assert!(sum >= 450, "three blocking sleeps add up: {blocking}");
    // ...tokio::time::sleep: they all wait together.
    assert_in_order(
        r,
        &[
            "tokio 1: start, tokio::time::sleep(150 ms)",
            "tokio 2: start, tokio::time::sleep(150 ms)",
            "tokio 3: start, tokio::time::sleep(150 ms)",
            "tokio: all 3 started before the first finished: true",
        ],
    );
    let patched = r.line("tokio: 3 x 150 ms with tokio::time::sleep: elapsed ");
    let max = num(patched, "elapsed ");
    assert!(
        (150..300).contains(&max),
        "three tokio sleeps overlap (< 2 units): {patched}"
    );
    assert!(sum >= 2 * max, "blocking {sum} ms vs tokio {max} ms");
}

/// Checks the `--demo` run with `clients` clients.
fn check_echo_demo(r: &Run, clients: i64) {
    r.assert_success();
    let head = r.line("demo: echo server on 127.0.0.1:");
    assert_eq!(num(head, "pid="), r.pid, "{head}");
    let main_tid = num(head, "tid=");
    assert_eq!(main_tid, r.pid, "{head}");
    for id in 1..=clients {
        r.has_line(&format!("client {id}: 3 of 3 echoes correct"));
    }
    r.has_line(&format!(
        "demo: all {clients} clients echoed correctly ({} of {} messages)",
        3 * clients,
        3 * clients
    ));
    let server = r.line("server: ");
    assert_eq!(num(server, "server: "), clients, "{server}");
    assert_eq!(
        num(server, "max concurrent connections "),
        clients,
        "every client connected at the same time\n{}",
        r.context()
    );
    assert!(
        server.contains(&format!(", {} messages,", 3 * clients)),
        "{server}"
    );
    let thread = r.line("server: every connection was served by ");
    assert_eq!(
        num(thread, "served by "),
        1,
        "one server thread\n{}",
        r.context()
    );
    assert_eq!(num(thread, "tid="), main_tid, "{thread}");
    assert!(thread.ends_with("(the main thread: true)"), "{thread}");
    let others = r.line("server: the clients used ");
    assert_eq!(num(others, "used "), clients, "{others}");
    r.has_line(
        "server: interleaved: every connection's first message arrived before any connection's last: true",
    );
}

#[test]
fn async_echo_server_demo_serves_all_clients_on_one_thread() {
    check_echo_demo(&run("async_echo_server", &["--demo"]), 5);
    check_echo_demo(&run("async_echo_server", &["--demo", "8"]), 8);
}

/// Kills the child if the test fails before it is reaped.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn async_echo_server_serves_until_ctrl_c() {
    super::build_example("async_echo_server");
    let path = super::examples_dir().join("async_echo_server");
    let child = Command::new(&path)
        .arg("0")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    let mut child = Reaper(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the server prints where it listens");
    assert!(
        first.starts_with("async_echo_server: listening on 127.0.0.1:"),
        "{first}"
    );
    let addr = first
        .split_whitespace()
        .nth(3)
        .expect("address after 'listening on'")
        .to_string();

    // Two clients at once, echoed independently.
    let mut a = TcpStream::connect(&addr).expect("connect a");
    let mut b = TcpStream::connect(&addr).expect("connect b");
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    let mut buf = [0u8; 5];
    a.write_all(b"hello").unwrap();
    b.write_all(b"world").unwrap();
    b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"world");
    a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    drop(a);
    drop(b);
    // Ctrl-C: the server stops by itself with exit status 0.
    thread::sleep(Duration::from_millis(100));
    kill(Pid::from_raw(child.0.id() as i32), Signal::SIGINT).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the server did not stop on SIGINT"
        );
        thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let lines: Vec<String> = rx.iter().collect();
    let all = format!("{first}\n{}\n--- stderr ---\n{stderr}", lines.join("\n"));
    assert!(status.success(), "{status}\n{all}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("connection 2 from 127.0.0.1:") && l.ends_with("(2 open)")),
        "both clients connected at once\n{all}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.ends_with("closed: 5 bytes echoed (1 open)")
                || l.ends_with("closed: 5 bytes echoed (0 open)"))
            .count(),
        2,
        "{all}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("stopped: served 2 connections (0 still open, closed now)"),
        "{all}"
    );
}
