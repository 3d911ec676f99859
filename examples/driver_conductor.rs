//! Lesson (course exercise): the bus driver and the conductor, talking by signals.
//!
//! The parent process is the conductor, its child the driver.
//! * Ctrl-C  (SIGINT)  -> the conductor says "Ticket please!" and sends SIGUSR1
//!   to the driver, who starts the bus ("Let's go!").
//! * Ctrl-\  (SIGQUIT) -> the conductor sends SIGUSR2; the driver stops the bus.
//! * Ctrl-Z  (SIGTSTP) -> the driver has reached the terminal and sends SIGUSR1
//!   to the conductor, who says "please get off", sends the driver home
//!   (SIGTERM) and ends the program.
//!
//! The terminal sends these keys' signals to the whole foreground process
//! group, so the driver ignores SIGINT/SIGQUIT and the conductor ignores
//! SIGTSTP. Handlers only record signals in an atomic bit set; each process
//! blocks the signals and waits with `sigsuspend`, so none is missed.
//!
//! Run: `cargo run --example driver_conductor` and press the keys above, or
//! `cargo run --example driver_conductor -- --demo`, which puts the program in
//! its own process group and sends the group the keys' signals by itself.
//!
//! Expected output with `--demo` (pids vary):
//! ```text
//! Conductor (pid 900): driver is pid 901
//! Demo: SIGINT to the group (Ctrl-C)
//! Conductor: Ticket please! (SIGINT) -> SIGUSR1 to the driver
//! Driver: Let's go! (SIGUSR1)
//! ... (the same for SIGQUIT -> SIGUSR2 "Stopping the bus.", then SIGINT again)
//! Demo: SIGTSTP to the group (Ctrl-Z)
//! Driver: Terminal reached (SIGTSTP) -> SIGUSR1 to the conductor
//! Conductor: Everybody please get off the bus! (SIGUSR1)
//! Conductor: driver 901 went home (killed by SIGTERM)
//! ```

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::Duration;

use Signal::{SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGUSR1, SIGUSR2};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, kill, killpg};
use nix::sys::signal::{sigaction, signal, sigprocmask};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpgrp, getpid, getppid, pipe, setpgid};

static PENDING: AtomicU32 = AtomicU32::new(0);

extern "C" fn record(sig: libc::c_int) {
    PENDING.fetch_or(1 << sig, Ordering::SeqCst); // async-signal-safe
}

/// Sleep until at least one recorded signal is pending, then return them all.
fn next_signals(unblocked: &SigSet) -> Vec<Signal> {
    loop {
        let bits = PENDING.swap(0, Ordering::SeqCst);
        if bits != 0 {
            return (1..32)
                .filter(|n| bits & (1 << n) != 0)
                .filter_map(|n| Signal::try_from(n).ok())
                .collect();
        }
        // Atomically unblock and sleep: a signal cannot slip in between.
        unblocked.suspend().expect("sigsuspend");
    }
}

fn ignore(sig: Signal) {
    // SAFETY: SIG_IGN installs no code.
    unsafe { signal(sig, SigHandler::SigIgn) }.expect("signal");
}

fn driver(ready: std::os::fd::OwnedFd, unblocked: &SigSet) -> ! {
    // SAFETY: prctl only sets a flag: if the conductor dies, we get SIGTERM.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
    ignore(SIGINT);
    ignore(SIGQUIT);
    drop(ready); // the conductor's read() returns: the driver is ready
    loop {
        for sig in next_signals(unblocked) {
            match sig {
                SIGUSR1 => println!("Driver: Let's go! (SIGUSR1)"),
                SIGUSR2 => println!("Driver: Stopping the bus. (SIGUSR2)"),
                SIGTSTP => {
                    println!("Driver: Terminal reached (SIGTSTP) -> SIGUSR1 to the conductor");
                    kill(getppid(), SIGUSR1).expect("kill conductor");
                }
                _ => {}
            }
        }
    }
}

fn demo(group: Pid) -> ! {
    for sig in [SIGINT, SIGQUIT, SIGTSTP] {
        ignore(sig); // we are in the group too
    }
    for (sig, key) in [
        (SIGINT, "Ctrl-C"),
        (SIGQUIT, "Ctrl-\\"),
        (SIGINT, "Ctrl-C"),
        (SIGTSTP, "Ctrl-Z"),
    ] {
        sleep(Duration::from_millis(200));
        println!("Demo: {sig} to the group ({key})");
        killpg(group, sig).expect("killpg");
    }
    std::io::stdout().flush().ok();
    // SAFETY: _exit only ends this helper process.
    unsafe { libc::_exit(0) }
}

fn main() -> anyhow::Result<()> {
    let demo_mode = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--demo") => true,
        Some(other) => {
            anyhow::bail!("unknown argument {other:?}; usage: driver_conductor [--demo]")
        }
    };
    if demo_mode {
        setpgid(Pid::from_raw(0), Pid::from_raw(0))?; // own group: killpg hits only us
        anyhow::ensure!(getpgrp() == getpid(), "could not create a process group");
    }
    let handled: SigSet = [SIGINT, SIGQUIT, SIGTSTP, SIGUSR1, SIGUSR2]
        .into_iter()
        .collect();
    let mut unblocked = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled), Some(&mut unblocked))?;
    let action = SigAction::new(
        SigHandler::Handler(record),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in handled.iter() {
        // SAFETY: the handler only updates an atomic.
        unsafe { sigaction(sig, &action) }?;
    }

    let (mut ready_r, ready_w) = pipe().map(|(r, w)| (std::fs::File::from(r), w))?;
    // SAFETY: single-threaded process; the children may run arbitrary code.
    let driver_pid = match unsafe { fork() }? {
        ForkResult::Child => driver(ready_w, &unblocked),
        ForkResult::Parent { child } => child,
    };
    drop(ready_w);
    ignore(SIGTSTP);
    ready_r.read_to_end(&mut Vec::new())?; // EOF once the driver is set up
    println!("Conductor (pid {}): driver is pid {driver_pid}", getpid());
    let demo_pid = if demo_mode {
        // SAFETY: as above.
        match unsafe { fork() }? {
            ForkResult::Child => demo(getpgrp()),
            ForkResult::Parent { child } => Some(child),
        }
    } else {
        println!("Press Ctrl-C (start), Ctrl-\\ (stop), Ctrl-Z (terminal: end of the trip)");
        None
    };

    'trip: loop {
        for sig in next_signals(&unblocked) {
            match sig {
                SIGINT => {
                    println!("Conductor: Ticket please! (SIGINT) -> SIGUSR1 to the driver");
                    kill(driver_pid, SIGUSR1)?;
                }
                SIGQUIT => {
                    println!("Conductor: Next stop! (SIGQUIT) -> SIGUSR2 to the driver");
                    kill(driver_pid, SIGUSR2)?;
                }
                SIGUSR1 => {
                    println!("Conductor: Everybody please get off the bus! (SIGUSR1)");
                    break 'trip;
                }
                _ => {}
            }
        }
    }
    kill(driver_pid, SIGTERM)?;
    match waitpid(driver_pid, None)? {
        WaitStatus::Signaled(pid, sig, _) => {
            println!("Conductor: driver {pid} went home (killed by {sig})")
        }
        other => println!("Conductor: driver ended with {other:?}"),
    }
    if let Some(pid) = demo_pid {
        waitpid(pid, None)?;
    }
    Ok(())
}
