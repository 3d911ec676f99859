//! Lessons on inter-process communication: pipes, queues, shared memory, semaphores, events and locks.

use std::collections::HashSet;

use super::{num, run};

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
    r.has_line("qsize() -> 3, empty() -> false, full() -> true");
    let put = r.line("put(\"d\", timeout=100ms) -> full after ");
    assert!((100..1000).contains(&num(put, "after ")), "{put}");
    r.has_line("drained: [\"a\", \"b\", \"c\"]");
    r.has_line("qsize() -> 0, empty() -> true, full() -> false");
    let get = r.line("get(timeout=100ms) -> empty after ");
    assert!((100..1000).contains(&num(get, "after ")), "{get}");
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
fn shared_memory_loses_updates_without_a_lock_only() {
    let r = run("shared_memory", &[]);
    r.assert_success();
    let racy = r.line("without lock: expected ");
    let (expected, actual) = (num(racy, "expected "), num(racy, "actual "));
    assert_eq!(expected, 400_000);
    assert!(
        actual > 0 && actual < expected,
        "the race must lose updates: {racy}"
    );
    assert_eq!(num(racy, "lost "), expected - actual);
    r.has_line("with lock: expected 400000, actual 400000 (lost 0 updates)");
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
    r.has_line("get_value() -> 2 (initial)");
    r.has_line("acquire(); get_value() -> 1");
    r.has_line("release(); get_value() -> 2");
    r.has_line("get_value() -> 2 after every process released it");
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
fn event_clear_is_set_and_wait_with_a_timeout() {
    let r = run("event_lock", &[]);
    r.assert_success();
    r.has_line("event: is_set() -> false");
    let timed_out = r.line("event: wait(timeout=100ms) -> false after ");
    let waited = num(timed_out, "after ");
    assert!((100..1000).contains(&waited), "{timed_out}");
    r.has_line("event: set(); is_set() -> true");
    r.has_line("event: wait() -> true at once (already set)");
    r.has_line("event: clear(); is_set() -> false");
    let woken = r.line("event: wait(timeout=2s) -> true after ");
    let waited = num(woken, "after ");
    assert!((50..2000).contains(&waited), "{woken}");
}
