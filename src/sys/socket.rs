//! Socket calls that never block, and the graceful close.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::check;

/// `recv` with MSG_DONTWAIT: reads what is there now, never blocks.
pub fn recv_now(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid writable memory of buf.len() bytes; sock is open.
    check(unsafe {
        libc::recv(
            sock.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    })
}

/// `send` that never blocks nor raises SIGPIPE (MSG_DONTWAIT | MSG_NOSIGNAL):
/// what the socket takes now. For short replies on a socket that may be
/// blocking (an overload reply to a client over the limit, say).
pub fn send_now(sock: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    send(sock, buf, libc::MSG_DONTWAIT)
}

/// `send` without SIGPIPE; blocks exactly when the socket does.
pub fn send(sock: BorrowedFd<'_>, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: buf is valid readable memory of buf.len() bytes; sock is open.
    check(unsafe {
        libc::send(
            sock.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            flags | libc::MSG_NOSIGNAL,
        )
    })
}

/// `writev` of up to 1024 slices; blocks exactly when the socket does.
pub fn writev(sock: BorrowedFd<'_>, slices: &[io::IoSlice<'_>]) -> io::Result<usize> {
    let count = slices.len().min(1024) as libc::c_int;
    // SAFETY: IoSlice is ABI-compatible with iovec and the slices outlive the call.
    check(unsafe { libc::writev(sock.as_raw_fd(), slices.as_ptr().cast(), count) })
}

/// `recv` with MSG_PEEK | MSG_DONTWAIT: looks at what is there now without
/// taking it, never blocks.
pub fn peek_now(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid writable memory of buf.len() bytes; sock is open.
    check(unsafe {
        libc::recv(
            sock.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    })
}

/// `setsockopt(SOL_SOCKET, opt, value)` with an int value (capped at
/// `c_int::MAX`), for the options socket2 has no method for
/// (SO_RCVBUFFORCE, SO_SNDBUFFORCE).
pub fn set_int_opt(sock: BorrowedFd<'_>, opt: libc::c_int, value: usize) -> io::Result<()> {
    let v = libc::c_int::try_from(value).unwrap_or(libc::c_int::MAX);
    // SAFETY: a valid socket descriptor and a c_int that lives across the call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Half-closes the write side, then closes once the peer has had a moment to read,
/// discarding late input so the kernel sends FIN, not RST (which could destroy
/// the last response in the peer's receive queue).
pub fn graceful_close(sock: BorrowedFd<'_>) {
    let _ = nix::sys::socket::shutdown(sock.as_raw_fd(), nix::sys::socket::Shutdown::Write);
    let mut scratch = [0u8; 4096];
    for _ in 0..16 {
        match recv_now(sock, &mut scratch) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
}

/// Blocks until `fd` is readable or `timeout_ms` passes; true when readable.
pub fn wait_readable(fd: BorrowedFd<'_>, timeout_ms: u16) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::from(timeout_ms)), Ok(n) if n > 0)
}
