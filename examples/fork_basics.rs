//! Lesson: `fork()` creates a second process that is a copy of the first.
//!
//! Both processes continue from the same point; `fork` returns the child's
//! pid in the parent and 0 in the child. Memory is copied (copy-on-write), so
//! a variable the child changes keeps its old value in the parent.
//!
//! Run: `cargo run --example fork_basics`
//!
//! Expected output (pids vary):
//! ```text
//! parent: pid=100 ppid=50 value=42
//! parent: fork returned child pid=101
//! child: pid=101 ppid=100
//! child: value=42 -> changed to 100 (copy-on-write)
//! child: vec=[1, 2, 3, 4]
//! parent: child 101 exited with status 0
//! parent: value=42 vec=[1, 2, 3] (unchanged by the child)
//! ```

use std::io::Write;

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, getpid, getppid};

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let mut value = 42;
    let mut numbers = vec![1, 2, 3];
    println!("parent: pid={} ppid={} value={value}", getpid(), getppid());

    // SAFETY: the process is single-threaded here, so the child may run any code.
    match unsafe { fork() }? {
        ForkResult::Child => {
            println!("child: pid={} ppid={}", getpid(), getppid());
            // The child's writes go to its own copies of the pages.
            value = 100;
            numbers.push(4);
            println!("child: value=42 -> changed to {value} (copy-on-write)");
            println!("child: vec={numbers:?}");
            std::io::stdout().flush().ok();
            // _exit: leave without running the parent's exit-time cleanup twice.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            println!("parent: fork returned child pid={child}");
            match waitpid(child, None)? {
                WaitStatus::Exited(pid, code) => {
                    println!("parent: child {pid} exited with status {code}")
                }
                other => println!("parent: child ended unexpectedly: {other:?}"),
            }
            println!("parent: value={value} vec={numbers:?} (unchanged by the child)");
        }
    }
    Ok(())
}
