//! Lessons on threads and their synchronisation.

use super::{num, run};

#[test]
fn threads_counter_loses_updates_without_a_lock_only() {
    let r = run("threads_counter", &[]);
    r.assert_success();
    let racy = r.line("racy load+store:");
    let (expected, actual) = (num(racy, "expected "), num(racy, "actual "));
    assert_eq!(expected, 800_000);
    assert!(
        actual > 0 && actual < expected,
        "the race must lose updates: {racy}"
    );
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
fn thread_objects_names_join_timeouts_and_daemons() {
    let r = run("thread_objects", &[]);
    r.assert_success();
    assert!(
        r.line("main: current_thread name=main id=")
            .contains("ThreadId(")
    );
    r.has_line("worker-1: before start: is_alive=false");
    r.has_line("worker-1: started: is_alive=true");
    let inside = r.line("worker-1: running; current_thread name=");
    assert!(
        inside.starts_with("worker-1: running; current_thread name=worker-1 id="),
        "the thread sees its own name: {inside}"
    );
    let timed = r.line("worker-1: join(timeout=100ms) returned after ");
    assert!((100..300).contains(&num(timed, "after ")), "{timed}");
    assert!(timed.ends_with("is_alive=true"), "{timed}");
    r.has_line("worker-1: join() returned: is_alive=false");
    r.has_line("counter-thread: counted to 1000 in thread counter-thread");
    r.has_line("counter-thread: joined, total=500500");
    let saved = r.index_of("daemon: saver finished its work");
    let ending = r.index_of("daemon: main joins the non-daemon threads and returns; daemon-ticker");
    assert!(
        saved < ending,
        "the non-daemon thread is joined\n{}",
        r.context()
    );
    assert!(
        !r.stdout.contains("daemon-ticker finished"),
        "the daemon thread ends with the process\n{}",
        r.context()
    );
}
