//! The terminal's mode (termios): saved before a line editor puts the
//! terminal in raw mode, and put back by a process that must leave while the
//! editor still holds it.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// A terminal's saved settings.
#[derive(Clone, Copy)]
pub struct Mode(libc::termios);

impl std::fmt::Debug for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("term::Mode")
    }
}

/// The settings of the terminal `fd` (`tcgetattr`); fails when `fd` is not a terminal.
pub fn mode(fd: BorrowedFd<'_>) -> io::Result<Mode> {
    // SAFETY: termios is plain old data; an all-zero value is valid to overwrite.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open for the borrow; t is a valid, writable termios.
    if unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Mode(t))
}

/// Puts `mode` back on the terminal `fd` (`tcsetattr`, after pending output is written).
pub fn restore(fd: BorrowedFd<'_>, mode: &Mode) -> io::Result<()> {
    // SAFETY: fd is open for the borrow; mode.0 came from tcgetattr.
    if unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSADRAIN, &mode.0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
