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
