//! Lesson: signals — kill, handlers, SIG_IGN, alarm/pause, default actions.
//!
//! 1. A handler installed with `sigaction` runs when we `kill()` ourselves.
//! 2. A signal set to SIG_IGN is discarded: the process carries on.
//! 3. `alarm(1)` schedules SIGALRM; `pause()` sleeps until a signal arrives.
//!    A process has one alarm clock: `alarm(1)` after `alarm(5)` replaces the
//!    earlier alarm (and returns the 5 s it had left) instead of adding one.
//! 4. Default action: a child that does not handle SIGTERM is killed by it,
//!    and the parent learns which signal killed it from `waitpid`.
//!
//! Run: `cargo run --example signals`
//!
//! Expected output (pids and times vary):
//! ```text
//! handler: sent SIGUSR1 to self (pid 801), handler ran 1 time(s)
//! ignore: SIGUSR2 is SIG_IGN, sent it to self, still alive
//! alarm: alarm(5) -> no earlier alarm
//! alarm: alarm(1) -> replaces it: 5 s were left
//! alarm: pause() ...
//! alarm: woken by SIGALRM after 1.00 s
//! alarm: alarm(0) -> no alarm left: the 5 s one was replaced, not added
//! default: child 802 killed by SIGTERM (default action: terminate)
//! default: child 803 killed by SIGKILL (cannot be caught or ignored)
//! ```
//!
//! Python → Rust: `signal.signal(sig, handler)` → `sigaction` (the handler
//! may only do async-signal-safe work, here an atomic); `signal.SIG_IGN` /
//! `SIG_DFL` → `SigHandler::SigIgn` / `SigDfl`; `os.kill(pid, sig)` → `kill`;
//! `signal.alarm(n)` → `alarm::set(n)` (`alarm(0)` → `alarm::cancel()`);
//! `signal.pause()` → `pause()`; the killed child's signal from `os.wait()` →
//! `WaitStatus::Signaled`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, kill, sigaction, signal};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, alarm, fork, getpid, pause};

static USR1_COUNT: AtomicUsize = AtomicUsize::new(0);
static ALARMS: AtomicUsize = AtomicUsize::new(0);

// Handlers may only do async-signal-safe things: here, bump an atomic counter.
extern "C" fn on_usr1(_: libc::c_int) {
    USR1_COUNT.fetch_add(1, Ordering::SeqCst);
}

extern "C" fn on_alarm(_: libc::c_int) {
    ALARMS.fetch_add(1, Ordering::SeqCst);
}

fn install(sig: Signal, handler: extern "C" fn(libc::c_int)) -> nix::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(handler),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handlers only touch atomics, which is async-signal-safe.
    unsafe { sigaction(sig, &action) }.map(drop)
}

/// Fork a child that just waits for signals, send it `sig`, report how it died.
fn kill_child_with(sig: Signal, note: &str) -> anyhow::Result<()> {
    // SAFETY: single-threaded process; the child only calls pause().
    match unsafe { fork() }? {
        ForkResult::Child => loop {
            pause();
        },
        ForkResult::Parent { child } => {
            kill(child, sig)?;
            match waitpid(child, None)? {
                WaitStatus::Signaled(pid, s, _core) => {
                    println!("default: child {pid} killed by {s} ({note})")
                }
                other => println!("default: child ended unexpectedly: {other:?}"),
            }
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    // 1. A handler.
    install(Signal::SIGUSR1, on_usr1)?;
    kill(getpid(), Signal::SIGUSR1)?; // delivered before kill() returns to us
    let n = USR1_COUNT.load(Ordering::SeqCst);
    println!(
        "handler: sent SIGUSR1 to self (pid {}), handler ran {n} time(s)",
        getpid()
    );

    // 2. Ignoring: SIGUSR2's default action would terminate us.
    // SAFETY: SIG_IGN installs no code.
    unsafe { signal(Signal::SIGUSR2, SigHandler::SigIgn) }?;
    kill(getpid(), Signal::SIGUSR2)?;
    println!("ignore: SIGUSR2 is SIG_IGN, sent it to self, still alive");
    // SAFETY: back to the default action before forking children below.
    unsafe { signal(Signal::SIGUSR2, SigHandler::SigDfl) }?;

    // 3. alarm + pause. (A signal arriving between the check and pause() would
    //    be missed; sigsuspend() closes that window. One second is plenty here.)
    install(Signal::SIGALRM, on_alarm)?;
    // A process has one alarm clock: a new alarm() replaces the earlier one
    // and returns the seconds that were left on it.
    match alarm::set(5) {
        None => println!("alarm: alarm(5) -> no earlier alarm"),
        Some(left) => println!("alarm: alarm(5) -> an earlier alarm had {left} s left"),
    }
    let start = Instant::now();
    let left = alarm::set(1).unwrap_or(0);
    println!("alarm: alarm(1) -> replaces it: {left} s were left");
    println!("alarm: pause() ...");
    while ALARMS.load(Ordering::SeqCst) == 0 {
        pause();
    }
    println!(
        "alarm: woken by SIGALRM after {:.2} s",
        start.elapsed().as_secs_f64()
    );
    match alarm::cancel() {
        None => println!("alarm: alarm(0) -> no alarm left: the 5 s one was replaced, not added"),
        Some(left) => println!("alarm: alarm(0) -> an alarm was still set ({left} s left)"),
    }

    // 4. Default actions, seen by the parent through waitpid.
    kill_child_with(Signal::SIGTERM, "default action: terminate")?;
    kill_child_with(Signal::SIGKILL, "cannot be caught or ignored")?;
    Ok(())
}
