//! select(2)'s descriptor sets, bound-checked.

use std::os::fd::RawFd;
use std::time::Duration;

/// The largest descriptor select(2) can watch, plus one.
pub const FD_SETSIZE: RawFd = libc::FD_SETSIZE as RawFd;

/// A pair of read/write sets for select(2). Like epoll's interest list they
/// only name descriptors by number; the bound check keeps every write inside
/// the bitmap.
pub struct FdSets {
    read: libc::fd_set,
    write: libc::fd_set,
    max: RawFd,
}

impl FdSets {
    /// Empty sets.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        // SAFETY: fd_set is plain data; FD_ZERO initialises it.
        unsafe {
            let mut read: libc::fd_set = std::mem::zeroed();
            let mut write: libc::fd_set = std::mem::zeroed();
            libc::FD_ZERO(&mut read);
            libc::FD_ZERO(&mut write);
            FdSets {
                read,
                write,
                max: -1,
            }
        }
    }
    /// Watches `fd` for reading and/or writing; `fd` must be below [`FD_SETSIZE`].
    pub fn add(&mut self, fd: RawFd, read: bool, write: bool) {
        assert!(
            (0..FD_SETSIZE).contains(&fd),
            "descriptor checked against FD_SETSIZE on admission"
        );
        // SAFETY: fd is within [0, FD_SETSIZE), checked above.
        unsafe {
            if read {
                libc::FD_SET(fd, &mut self.read);
            }
            if write {
                libc::FD_SET(fd, &mut self.write);
            }
        }
        self.max = self.max.max(fd);
    }
    /// True when the last wait found `fd` readable.
    pub fn readable(&self, fd: RawFd) -> bool {
        // SAFETY: fd was admitted below FD_SETSIZE.
        (0..FD_SETSIZE).contains(&fd) && unsafe { libc::FD_ISSET(fd, &self.read) }
    }
    /// True when the last wait found `fd` writable.
    pub fn writable(&self, fd: RawFd) -> bool {
        // SAFETY: as above.
        (0..FD_SETSIZE).contains(&fd) && unsafe { libc::FD_ISSET(fd, &self.write) }
    }
    /// Waits up to `timeout` (under a second); returns the number of ready
    /// descriptors, negative on error.
    pub fn wait(&mut self, timeout: Duration) -> i32 {
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: timeout.as_micros().min(999_999) as libc::suseconds_t,
        };
        // SAFETY: the sets are initialised and max+1 bounds every descriptor in them.
        unsafe {
            libc::select(
                self.max + 1,
                &mut self.read,
                &mut self.write,
                std::ptr::null_mut(),
                &mut tv,
            )
        }
    }
}
