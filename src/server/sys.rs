//! Thin, safe wrappers over the few raw syscalls the drivers need.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// Sends up to `len` bytes of `file` from `*offset` to socket `sock`, advancing `*offset`.
pub fn sendfile(sock: RawFd, file: &impl AsRawFd, offset: &mut u64, len: u64) -> io::Result<usize> {
    let mut off = *offset as libc::off_t;
    let count = len.min(1 << 30) as usize;
    // SAFETY: both descriptors are open for the duration of the call; `off` is a valid pointer.
    let n = unsafe { libc::sendfile(sock, file.as_raw_fd(), &mut off, count) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset = off as u64;
    Ok(n as usize)
}

/// `recv` with MSG_DONTWAIT: reads what is there now, never blocks.
pub fn recv_now(sock: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid writable memory of buf.len() bytes.
    let n = unsafe { libc::recv(sock, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Half-closes the write side, then closes once the peer has had a moment to read,
/// discarding late input so the kernel sends FIN, not RST (which could destroy
/// the last response in the peer's receive queue).
pub fn graceful_close(sock: RawFd) {
    // SAFETY: plain syscalls on a descriptor the caller still owns.
    unsafe {
        libc::shutdown(sock, libc::SHUT_WR);
    }
    let mut scratch = [0u8; 4096];
    for _ in 0..16 {
        match recv_now(sock, &mut scratch) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
}

/// Blocks until `fd` is readable or `timeout_ms` passes; true when readable.
pub fn wait_readable(fd: RawFd, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: pfd is a valid pollfd array of length 1.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    n > 0
}

/// True when `err` only means "try again later".
pub fn would_block(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    ) || err.raw_os_error() == Some(libc::EAGAIN)
}

/// Makes `fd` non-blocking.
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor owned by the caller.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// One write step for a session's output: a vectored write of the leading byte
/// chunks, or one `sendfile` for a leading file region. Advances `out` by what
/// was written. `Ok(0)` with output still queued means a file region could not
/// be read any further (the file shrank); the caller should close.
pub fn write_output(sock: RawFd, out: &mut crate::server::Output) -> io::Result<usize> {
    use crate::server::Chunk;
    let file = match out.front_mut() {
        None => return Ok(0),
        Some(Chunk::File { file, offset, len }) => {
            Some((std::sync::Arc::clone(file), *offset, *len))
        }
        Some(Chunk::Bytes { .. }) => None,
    };
    let n = match file {
        Some((file, mut offset, len)) => {
            let n = sendfile(sock, &*file, &mut offset, len)?;
            if n == 0 {
                out.drop_front();
                return Ok(0);
            }
            n
        }
        None => {
            let mut slices = Vec::with_capacity(16);
            out.byte_slices(&mut slices, 16);
            // SAFETY: IoSlice is ABI-compatible with iovec; the slices outlive the call.
            let n =
                unsafe { libc::writev(sock, slices.as_ptr().cast(), slices.len() as libc::c_int) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            n as usize
        }
    };
    if file_is_front(out) {
        out.advance(n);
    } else {
        out.advance_many(n);
    }
    Ok(n)
}

fn file_is_front(out: &mut crate::server::Output) -> bool {
    matches!(out.front_mut(), Some(crate::server::Chunk::File { .. }))
}
