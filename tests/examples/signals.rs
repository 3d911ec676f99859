//! Lessons on signals, and the course exercise of the driver and the conductor.

use nix::sys::signal::Signal;

use super::{Running, num, run};

#[test]
fn signals_handler_ignore_alarm_default() {
    let r = run("signals", &[]);
    r.assert_success();
    r.has_line(&format!(
        "handler: sent SIGUSR1 to self (pid {}), handler ran 1 time(s)",
        r.pid
    ));
    r.has_line("ignore: SIGUSR2 is SIG_IGN, sent it to self, still alive");
    r.has_line("alarm: alarm(5) -> no earlier alarm");
    r.has_line("alarm: alarm(1) -> replaces it: 5 s were left");
    r.has_line("alarm: alarm(0) -> no alarm left: the 5 s one was replaced, not added");
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

/// The exercise as the course states it, driven by the test as a terminal
/// would: each key's signal goes to the whole process group, and only the
/// right process answers it.
#[test]
fn driver_conductor_keys_drive_the_exercise() {
    let mut bus = Running::start("driver_conductor", &[]);
    let head = bus.wait_line("driver (司机, parent) pid ");
    assert_eq!(i64::from(bus.pid().as_raw()), num(&head, "parent) pid "));
    let conductor = num(&head, "child) pid ");
    assert_ne!(conductor, i64::from(bus.pid().as_raw()));
    // The prompt comes after the header; keys pressed before it would print
    // their answers above it.
    bus.wait_line("press Ctrl-C");

    bus.signal_group(Signal::SIGINT); // Ctrl-C
    bus.wait_line("driver: 老司机开车了");
    bus.signal_group(Signal::SIGQUIT); // Ctrl-\
    bus.wait_line("driver: 车速有点快，系好安全带");
    bus.signal_group(Signal::SIGINT); // Ctrl-C again: the same answer
    bus.wait_line("driver: 老司机开车了");
    bus.signal_group(Signal::SIGTSTP); // Ctrl-Z: the stop
    let r = bus.finish();
    r.assert_success();
    let script = [
        "conductor: SIGINT -> SIGUSR1 to the driver",
        "driver: 老司机开车了",
        "conductor: SIGQUIT -> SIGUSR2 to the driver",
        "driver: 车速有点快，系好安全带",
        "conductor: SIGINT -> SIGUSR1 to the driver",
        "driver: 老司机开车了",
        "driver: SIGTSTP -> SIGUSR1 to the conductor",
        "conductor: 到站了请下车",
        "conductor: gets off (exits)",
        &format!("driver: the conductor (pid {conductor}) got off; the driver gets off"),
    ];
    // Exactly these lines after the header and the prompt: each key answered
    // once by the right process, nothing lost or reordered, and the conductor
    // off the bus before the driver.
    let lines = r.lines();
    let start = r.index_of("press Ctrl-C") + 1;
    assert_eq!(&lines[start..], &script[..], "{}", r.context());
}

#[test]
fn driver_conductor_demo() {
    let r = run("driver_conductor", &["--demo"]);
    r.assert_success();
    let head = r.line("driver (司机, parent) pid ");
    assert_eq!(num(head, "parent) pid "), r.pid);
    let conductor = num(head, "child) pid ");
    let script = [
        "demo: SIGINT to the group (Ctrl-C)",
        "conductor: SIGINT -> SIGUSR1 to the driver",
        "driver: 老司机开车了",
        "demo: SIGQUIT to the group (Ctrl-\\)",
        "conductor: SIGQUIT -> SIGUSR2 to the driver",
        "driver: 车速有点快，系好安全带",
        "demo: SIGTSTP to the group (Ctrl-Z)",
        "driver: SIGTSTP -> SIGUSR1 to the conductor",
        "conductor: 到站了请下车",
        "conductor: gets off (exits)",
        &format!("driver: the conductor (pid {conductor}) got off; the driver gets off"),
    ];
    let lines = r.lines();
    let start = r.index_of("driver (司机, parent) pid ") + 1;
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
