//! The one OS layer: every raw system call netkit makes that std, nix or
//! socket2 do not cover lives here, behind a safe function that takes its
//! descriptors as [`BorrowedFd`](std::os::fd::BorrowedFd) (so it can only use
//! a descriptor its caller holds open). Each `unsafe` block says why it holds.
//!
//! - [`socket`]: reads and sends that never block, the graceful close, waiting
//!   for readability.
//! - [`file`](mod@file): `sendfile`, `splice` and the [`Pipe`] that moves uploads from a
//!   socket into a file without passing through user space.
//! - [`epoll`]: the [`Epoll`] instance of the epoll model and the load generators.
//! - [`host`]: resolver calls std does not offer (canonical names, reverse look-ups).
//! - [`select`] and [`poll`]: the readiness calls of the select and poll models.
//! - [`process`]: fork (refused in a multi-threaded process), leaving a child,
//!   dying with the parent, the descriptor limit.
//! - [`activation`]: the descriptors systemd passes (`LISTEN_PID`/`LISTEN_FDS`).
//! - [`term`]: the terminal's mode, saved and put back around a line editor.
//! - [`shared`]: atomics in memory shared with forked children (per-address
//!   connection counts that hold on every model).

pub mod activation;
pub mod epoll;
pub mod file;
pub mod host;
pub mod poll;
pub mod process;
pub mod select;
pub mod shared;
pub mod socket;
pub mod term;

use std::io;

pub use epoll::Epoll;
pub use file::{Pipe, SpliceError, sendfile, splice, splice_to_file};
pub use socket::{
    graceful_close, peek_now, recv_now, send_now, send_to_many, set_dont_fragment, set_int_opt,
    wait_readable,
};

/// True when `err` only means "try again later".
pub fn would_block(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    ) || err.raw_os_error() == Some(libc::EAGAIN)
}

/// True when a blocking call with a timeout (SO_RCVTIMEO) only ran out of time
/// or was interrupted: try again.
pub fn timed_out(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Gives the allocator's free memory back to the system (glibc's
/// `malloc_trim`): for a worker that has gone idle after a burst, whose
/// replies in flight at once grew its heap. Elsewhere, nothing.
pub fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A wait's result (epoll_wait, poll): a signal counts as no events.
fn waited(n: libc::c_int) -> io::Result<usize> {
    if n >= 0 {
        return Ok(n as usize);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::Interrupted {
        Ok(0)
    } else {
        Err(e)
    }
}

/// A syscall's `ssize_t` result as `io::Result`.
fn check(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
