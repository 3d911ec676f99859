//! systemd socket activation, the raw half: the `LISTEN_PID`/`LISTEN_FDS`
//! protocol of `sd_listen_fds(3)`. A manager (systemd, or
//! `systemd-socket-activate`) opens the listening sockets, passes them as
//! descriptors 3, 4, ... and names the process they are for in `LISTEN_PID`.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The first passed descriptor (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

/// The variables of the protocol, unset once read so that no child inherits them.
const VARS: [&str; 3] = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"];

/// Set once the passed descriptor has been taken: it has one owner.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// What the environment says was passed to this process.
#[derive(Debug)]
pub struct Passed {
    /// Descriptor 3, now owned (and close-on-exec).
    pub first: OwnedFd,
    /// How many descriptors were passed (`LISTEN_FDS`).
    pub count: usize,
}

/// Reads (and unsets) `LISTEN_PID`/`LISTEN_FDS`. `Ok(None)` when nothing was
/// passed to this process (no variables, a `LISTEN_PID` naming another
/// process, `LISTEN_FDS=0`, or the descriptor already taken); an error when
/// the variables are malformed or descriptor 3 is not open.
pub fn take_listen_fds() -> Result<Option<Passed>, String> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    unset_vars();
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(None);
    };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Ok(None);
    }
    let count: usize = fds
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_FDS={fds} is not a number of descriptors"))?;
    if count == 0 || TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(None);
    }
    let first = LISTEN_FDS_START;
    // F_GETFD fails with EBADF on a descriptor that is not open.
    // SAFETY: fcntl on any descriptor number only reads its flags.
    if unsafe { libc::fcntl(first, libc::F_GETFD) } < 0 {
        return Err(format!(
            "LISTEN_FDS={count}, but descriptor {first} is not open ({})",
            io::Error::last_os_error()
        ));
    }
    for fd in first..first + count.min(1024) as RawFd {
        // Passed descriptors are this process's alone: no exec'd child gets them.
        // SAFETY: setting FD_CLOEXEC on a descriptor changes only its flags.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    // SAFETY: the descriptor is open (checked above), the protocol hands it
    // to this process, and TAKEN makes this the only place that ever owns it.
    let first = unsafe { OwnedFd::from_raw_fd(first) };
    Ok(Some(Passed { first, count }))
}

/// Removes the protocol's variables, where that is safe (no other thread
/// can be reading the environment). The process is single-threaded at
/// start-up, where this is called; later the variables are left alone.
fn unset_vars() {
    if !VARS.iter().any(|v| std::env::var_os(v).is_some()) {
        return;
    }
    if super::process::thread_count() == 1 {
        for v in VARS {
            // SAFETY: this process has one thread (checked above), so nothing
            // reads or writes the environment at the same time.
            unsafe { std::env::remove_var(v) };
        }
    }
}
