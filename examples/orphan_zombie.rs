//! Lesson: orphans and zombies.
//!
//! 1. Orphan: a child whose parent exits first is re-parented (to init, pid 1,
//!    or to the nearest "child subreaper"); its `getppid()` changes.
//! 2. Zombie: a child that has exited but has not been waited for stays in the
//!    process table with state `Z` until the parent reaps it with `waitpid`.
//! 3. With SIGCHLD set to SIG_IGN the kernel reaps children automatically and
//!    `waitpid` fails with ECHILD.
//!
//! Run: `cargo run --example orphan_zombie`
//!
//! Expected output (pids vary):
//! ```text
//! orphan: parent pid=200 forked child pid=201, parent exits now
//! orphan: child pid=201 original ppid=200 new ppid=1 (reparented)
//! zombie: child pid=202 exits with status 7
//! zombie: /proc/202/stat state=Z (exited, not yet reaped)
//! zombie: waitpid reaped pid=202 status=7
//! zombie: /proc/202 is gone after waitpid
//! auto-reap: SIGCHLD=SIG_IGN, child pid=203 exits
//! auto-reap: waitpid(203) -> ECHILD (reaped by the kernel, no zombie)
//! ```

use std::io::{Read, Write};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid, pipe};

/// Process state letter from /proc/<pid>/stat (R, S, Z, ...), None if gone.
fn proc_state(pid: Pid) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces/parens: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

fn exit_child(code: i32) -> ! {
    std::io::stdout().flush().ok();
    // SAFETY: _exit is always safe to call; it just ends the process.
    unsafe { libc::_exit(code) }
}

/// SAFETY wrapper: every fork in this program happens while single-threaded.
fn fork_or_die() -> ForkResult {
    unsafe { fork() }.expect("fork failed")
}

fn orphan() -> anyhow::Result<()> {
    let (done_r, done_w) = pipe()?;
    match fork_or_die() {
        ForkResult::Child => {
            let parent = getpid();
            if let ForkResult::Parent { child } = fork_or_die() {
                println!("orphan: parent pid={parent} forked child pid={child}, parent exits now");
                exit_child(0);
            }
            // The grandchild of main: it becomes the orphan.
            let deadline = Instant::now() + Duration::from_secs(3);
            while getppid() == parent && Instant::now() < deadline {
                sleep(Duration::from_millis(10));
            }
            let now = getppid();
            let tag = if now == parent {
                "NOT reparented"
            } else {
                "reparented"
            };
            println!(
                "orphan: child pid={} original ppid={parent} new ppid={now} ({tag})",
                getpid()
            );
            drop(done_w); // EOF tells main that the orphan is finished
            exit_child(0);
        }
        ForkResult::Parent { child } => {
            drop(done_w);
            waitpid(child, None)?;
            // read() returns 0 (EOF) once the orphan has closed its copy of done_w.
            std::fs::File::from(done_r).read_to_end(&mut Vec::new())?;
        }
    }
    Ok(())
}

fn zombie() -> anyhow::Result<()> {
    let ForkResult::Parent { child } = fork_or_die() else {
        println!("zombie: child pid={} exits with status 7", getpid());
        exit_child(7);
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut state = proc_state(child);
    while state != Some('Z') && Instant::now() < deadline {
        sleep(Duration::from_millis(10));
        state = proc_state(child);
    }
    let shown = state.map_or("gone".to_string(), String::from);
    println!("zombie: /proc/{child}/stat state={shown} (exited, not yet reaped)");
    match waitpid(child, None)? {
        WaitStatus::Exited(pid, code) => println!("zombie: waitpid reaped pid={pid} status={code}"),
        other => println!("zombie: unexpected wait status {other:?}"),
    }
    match proc_state(child) {
        None => println!("zombie: /proc/{child} is gone after waitpid"),
        Some(s) => println!("zombie: /proc/{child} still there, state={s}"),
    }
    Ok(())
}

fn auto_reap() -> anyhow::Result<()> {
    // SAFETY: SIG_IGN installs no handler code.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigIgn) }?;
    let ForkResult::Parent { child } = fork_or_die() else {
        exit_child(0);
    };
    println!("auto-reap: SIGCHLD=SIG_IGN, child pid={child} exits");
    // With SIGCHLD ignored, waitpid blocks until the child is gone, then ECHILD.
    match waitpid(child, None) {
        Err(Errno::ECHILD) => {
            println!("auto-reap: waitpid({child}) -> ECHILD (reaped by the kernel, no zombie)")
        }
        other => println!("auto-reap: waitpid({child}) -> {other:?}"),
    }
    // SAFETY: restoring the default disposition.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) }?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    orphan()?;
    zombie()?;
    auto_reap()
}
