//! Processes: a fork that refuses to run in a multi-threaded process, leaving
//! a child, a child that dies with its parent, and the descriptor limit.

use nix::unistd::{Pid, getppid};

pub use nix::unistd::ForkResult;

/// Why [`fork`] did not fork.
#[derive(Debug, thiserror::Error)]
pub enum ForkError {
    /// The process has other threads; a child could inherit a lock held by
    /// one of them and wait on it forever.
    #[error(
        "fork needs a single-threaded process (this one has {0} threads); \
         start the forking code before any thread or runtime"
    )]
    Threads(usize),
    /// The kernel refused (too many processes, no memory).
    #[error("fork failed: {0}")]
    Os(#[from] nix::Error),
}

/// This process's thread count, from the kernel.
pub fn thread_count() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(1)
}

/// Forks, if the process is single-threaded (the only state in which the
/// child may run any code: no other thread can hold a lock it needs).
pub fn fork() -> Result<ForkResult, ForkError> {
    let threads = thread_count();
    if threads > 1 {
        return Err(ForkError::Threads(threads));
    }
    // SAFETY: checked just above: this process has one thread, so the child
    // inherits no lock held by another thread and may run any code.
    Ok(unsafe { nix::unistd::fork() }?)
}

/// Leaves a forked child at once, without running the parent's exit handlers
/// or destructors (or flushing buffers it inherited).
pub fn child_exit(code: i32) -> ! {
    // SAFETY: _exit is always safe to call; it ends the process immediately.
    unsafe { libc::_exit(code) }
}

/// In a freshly forked child: ask the kernel for SIGTERM when the parent dies
/// (so a killed parent never leaves children behind), and leave at once if
/// it already has (the request would then never fire).
pub fn die_with_parent(parent: Pid) {
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
    if getppid() != parent {
        child_exit(0);
    }
}

/// Has the kernel send the child `cmd` starts SIGTERM when the thread that
/// starts it ends (PR_SET_PDEATHSIG, set between fork and exec), so a
/// parent that dies without cleaning up leaves no child behind.
pub fn term_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: pre_exec's closure runs in the forked child before exec, where
    // only async-signal-safe work is allowed: it makes one prctl call through
    // nix (no allocation, no lock, no memory of the parent touched).
    unsafe {
        cmd.pre_exec(|| {
            let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
            Ok(())
        });
    }
}

/// The open-file limit after trying to raise the soft limit to the hard one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit now in force.
    pub soft: u64,
    /// The hard limit.
    pub hard: u64,
    /// The soft limit before, when it was raised.
    pub raised_from: Option<u64>,
}

/// Raises the soft open-file limit to the hard limit (children inherit it).
pub fn raise_fd_limit() -> FdLimit {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard))
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() =>
        {
            FdLimit {
                soft: hard,
                hard,
                raised_from: Some(soft),
            }
        }
        Ok((soft, hard)) => FdLimit {
            soft,
            hard,
            raised_from: None,
        },
        Err(_) => FdLimit {
            soft: 1024,
            hard: 1024,
            raised_from: None,
        },
    }
}
