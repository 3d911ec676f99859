//! poll(2) over an array of `pollfd`s that the poll model keeps by number.

use std::io;
use std::time::Duration;

/// Waits up to `timeout` for events on `fds` (descriptors by number, as the
/// poll model's table keeps them: poll only reports on them, never reads or
/// writes through them); returns how many have events. A signal counts as none.
pub fn wait(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<usize> {
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: fds is a valid, writable array of pollfd of the given length.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    super::waited(n)
}
