//! Lesson (the course's exercise 司机和售票员的故事): the driver and the
//! conductor, talking by signals.
//!
//! The parent process is the driver (司机), its child the conductor (售票员).
//! * Ctrl-C  (SIGINT)  reaches the conductor, who sends SIGUSR1 to the driver;
//!   the driver prints "老司机开车了" (off we go).
//! * Ctrl-\  (SIGQUIT) reaches the conductor, who sends SIGUSR2 to the driver;
//!   the driver prints "车速有点快，系好安全带" (a bit fast: fasten your belts).
//! * Ctrl-Z  (SIGTSTP) reaches the driver: the bus is at the stop. The driver
//!   sends SIGUSR1 to the conductor, who prints "到站了请下车" (this is the
//!   stop, please get off).
//! * At the stop the conductor gets off first (the child exits), then the
//!   driver (the parent reaps the child and exits).
//!
//! The keyboard sends these signals to every process of the terminal's
//! foreground group, so each process ignores the keys meant for the other:
//! the driver ignores SIGINT and SIGQUIT, the conductor ignores SIGTSTP.
//! Handlers only record signals in an atomic bit set; each process keeps the
//! signals blocked and waits with `sigsuspend`, so none is missed between a
//! check and the wait.
//!
//! Run: `cargo run --example driver_conductor` and press Ctrl-C, Ctrl-\ and
//! finally Ctrl-Z, or `cargo run --example driver_conductor -- --demo`, which
//! puts the program in its own process group and sends the group the keys'
//! signals by itself, as the terminal would.
//!
//! Expected output with `--demo` (pids vary):
//! ```text
//! driver (司机, parent) pid 900, conductor (售票员, child) pid 901
//! demo: SIGINT to the group (Ctrl-C)
//! conductor: SIGINT -> SIGUSR1 to the driver
//! driver: 老司机开车了
//! demo: SIGQUIT to the group (Ctrl-\)
//! conductor: SIGQUIT -> SIGUSR2 to the driver
//! driver: 车速有点快，系好安全带
//! demo: SIGTSTP to the group (Ctrl-Z)
//! driver: SIGTSTP -> SIGUSR1 to the conductor
//! conductor: 到站了请下车
//! conductor: gets off (exits)
//! driver: the conductor (pid 901) got off; the driver gets off
//! ```
//!
//! Python → Rust: `os.fork()` → `nix::unistd::fork`; `signal.signal(sig,
//! handler)` → `sigaction` (`signal(sig, SIG_IGN)` for SIG_IGN); `os.kill(pid,
//! sig)` → `nix::sys::signal::kill`; `signal.pause()` → `SigSet::suspend`
//! (`sigsuspend`, which also closes the race `pause` has); `os.wait()` →
//! `waitpid`.

use std::io::Read;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::Duration;

use Signal::{SIGCHLD, SIGINT, SIGQUIT, SIGTSTP, SIGUSR1, SIGUSR2};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, kill, killpg};
use nix::sys::signal::{sigaction, signal, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpgrp, getpid, getppid, pipe, setpgid};

static PENDING: AtomicU32 = AtomicU32::new(0);

extern "C" fn record(sig: libc::c_int) {
    PENDING.fetch_or(1 << sig, Ordering::SeqCst); // async-signal-safe
}

/// Sleeps until at least one recorded signal is pending, then returns them all.
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

/// The child: passes the passengers' keys on to the driver, and gets off at
/// the stop.
fn conductor(ready: std::os::fd::OwnedFd, unblocked: &SigSet) -> ! {
    // SAFETY: prctl only sets a flag: if the driver dies, we get SIGTERM.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
    ignore(SIGTSTP); // Ctrl-Z is for the driver
    let driver = getppid();
    drop(ready); // the driver's read() returns: the conductor is on board
    loop {
        for sig in next_signals(unblocked) {
            match sig {
                SIGINT => {
                    println!("conductor: SIGINT -> SIGUSR1 to the driver");
                    kill(driver, SIGUSR1).expect("kill driver");
                }
                SIGQUIT => {
                    println!("conductor: SIGQUIT -> SIGUSR2 to the driver");
                    kill(driver, SIGUSR2).expect("kill driver");
                }
                SIGUSR1 => {
                    println!("conductor: 到站了请下车");
                    println!("conductor: gets off (exits)");
                    std::process::exit(0);
                }
                _ => {}
            }
        }
    }
}

/// Sends the group what the keyboard would, one key at a time.
fn demo(group: Pid) -> ! {
    for sig in [SIGINT, SIGQUIT, SIGTSTP] {
        ignore(sig); // we are in the group too
    }
    for (sig, key) in [
        (SIGINT, "Ctrl-C"),
        (SIGQUIT, "Ctrl-\\"),
        (SIGTSTP, "Ctrl-Z"),
    ] {
        sleep(Duration::from_millis(200));
        println!("demo: {sig} to the group ({key})");
        killpg(group, sig).expect("killpg");
    }
    std::process::exit(0)
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let demo_mode = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--demo") => true,
        Some(other) => {
            return Err(netkit::lesson::usage(format!(
                "unknown argument {other:?}; usage: driver_conductor [--demo]"
            )));
        }
    };
    if demo_mode {
        setpgid(Pid::from_raw(0), Pid::from_raw(0))?; // own group: killpg hits only us
        anyhow::ensure!(getpgrp() == getpid(), "could not create a process group");
    }
    let handled: SigSet = [SIGINT, SIGQUIT, SIGTSTP, SIGUSR1, SIGUSR2, SIGCHLD]
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
    // SAFETY: single-threaded process; the child may run arbitrary code.
    let conductor_pid = match unsafe { fork() }? {
        ForkResult::Child => conductor(ready_w, &unblocked),
        ForkResult::Parent { child } => child,
    };
    drop(ready_w);
    // Ctrl-C and Ctrl-\ are for the conductor.
    ignore(SIGINT);
    ignore(SIGQUIT);
    ready_r.read_to_end(&mut Vec::new())?; // EOF once the conductor is set up
    println!(
        "driver (司机, parent) pid {}, conductor (售票员, child) pid {conductor_pid}",
        getpid()
    );
    let demo_pid = if demo_mode {
        // SAFETY: as above.
        match unsafe { fork() }? {
            ForkResult::Child => demo(getpgrp()),
            ForkResult::Parent { child } => Some(child),
        }
    } else {
        println!("press Ctrl-C (start), Ctrl-\\ (too fast), then Ctrl-Z (the stop)");
        None
    };

    'trip: loop {
        for sig in next_signals(&unblocked) {
            match sig {
                SIGUSR1 => println!("driver: 老司机开车了"),
                SIGUSR2 => println!("driver: 车速有点快，系好安全带"),
                SIGTSTP => {
                    println!("driver: SIGTSTP -> SIGUSR1 to the conductor");
                    kill(conductor_pid, SIGUSR1)?;
                    break 'trip;
                }
                SIGCHLD => {
                    // The conductor got off before the stop (killed, say).
                    if let status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..)) =
                        waitpid(conductor_pid, Some(WaitPidFlag::WNOHANG))?
                    {
                        anyhow::bail!("the conductor left before the stop: {status:?}");
                    }
                }
                _ => {}
            }
        }
    }
    // The conductor gets off first; the driver waits for that, then gets off.
    match waitpid(conductor_pid, None)? {
        WaitStatus::Exited(pid, 0) => {
            println!("driver: the conductor (pid {pid}) got off; the driver gets off")
        }
        other => anyhow::bail!("the conductor ended with {other:?}"),
    }
    if let Some(pid) = demo_pid {
        waitpid(pid, None)?;
    }
    Ok(())
}
