//! Thin, safe wrappers over the few raw syscalls the drivers need.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

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

/// True when a blocking call with a timeout (SO_RCVTIMEO) only ran out of time
/// or was interrupted: try again.
pub fn timed_out(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
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
            // On the stack: a write per response must not cost an allocation.
            let mut slices = [io::IoSlice::new(&[]); 16];
            let count = out.byte_slices(&mut slices);
            let n = if count == 1 {
                // One chunk (the usual reply): a plain send.
                // SAFETY: the slice is valid for its length during the call.
                unsafe {
                    libc::send(
                        sock,
                        slices[0].as_ptr().cast(),
                        slices[0].len(),
                        libc::MSG_NOSIGNAL,
                    )
                }
            } else {
                // SAFETY: IoSlice is ABI-compatible with iovec; the slices outlive the call.
                unsafe { libc::writev(sock, slices.as_ptr().cast(), count as libc::c_int) }
            };
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

/// A pipe for moving bytes between descriptors inside the kernel with
/// [`splice`]: socket -> pipe takes references to the received pages, pipe ->
/// file copies them into the page cache, so the bytes never visit user space.
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

impl Pipe {
    /// Opens a pipe, raised to 1 MiB where the system allows (64 KiB otherwise).
    pub fn new() -> io::Result<Pipe> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 returns.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and ours alone.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fcntl on a descriptor we own.
        let size = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
        let capacity = if size > 0 { size as usize } else { 64 * 1024 };
        Ok(Pipe {
            read,
            write,
            capacity,
        })
    }

    /// Bytes the pipe holds when full.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The end to splice into.
    pub fn write_fd(&self) -> RawFd {
        self.write.as_raw_fd()
    }

    /// The end to splice from.
    pub fn read_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// A second handle on the read end, to read what a failed splice left behind.
    pub fn reader(&self) -> io::Result<OwnedFd> {
        self.read.try_clone()
    }

    /// Moves exactly `n` bytes the pipe holds into `to`.
    pub fn drain_into(&self, to: RawFd, mut n: usize) -> io::Result<()> {
        while n > 0 {
            match splice(self.read_fd(), to, n) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(m) => n -= m,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads and drops whatever the pipe holds (after a failed [`Pipe::drain_into`]).
    pub fn discard(&self) {
        let mut buf = [0u8; 16 * 1024];
        loop {
            // Ask how much is there first, so the (blocking) read never waits.
            let mut held: libc::c_int = 0;
            // SAFETY: FIONREAD stores an int through the valid pointer.
            if unsafe { libc::ioctl(self.read_fd(), libc::FIONREAD, &mut held) } != 0 || held <= 0 {
                return;
            }
            let want = (held as usize).min(buf.len());
            // SAFETY: reading at most buf.len() bytes into buf; the pipe holds at least `want`.
            if unsafe { libc::read(self.read_fd(), buf.as_mut_ptr().cast(), want) } <= 0 {
                return;
            }
        }
    }
}

/// Why [`splice_to_file`] stopped.
#[derive(Debug)]
pub enum SpliceError {
    /// Reading the socket failed (`WouldBlock` included: nothing there yet).
    Source(io::Error),
    /// Writing the file failed after `taken` bytes left the socket; they are lost
    /// (the pipe was emptied), so the caller counts them as received.
    Dest {
        /// What the file said.
        err: io::Error,
        /// Bytes taken from the socket by the failed call.
        taken: usize,
    },
}

/// Moves up to `len` bytes from socket `from` into file `to` through `pipe`,
/// without copying them through user space. Returns the bytes moved; 0 means
/// the peer closed its side.
pub fn splice_to_file(
    pipe: &Pipe,
    from: RawFd,
    to: RawFd,
    len: usize,
) -> Result<usize, SpliceError> {
    let n = loop {
        match splice(from, pipe.write_fd(), len.min(pipe.capacity())) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => break r.map_err(SpliceError::Source)?,
        }
    };
    if let Err(err) = pipe.drain_into(to, n) {
        pipe.discard();
        return Err(SpliceError::Dest { err, taken: n });
    }
    Ok(n)
}

/// One `splice(2)` call moving up to `len` bytes from `from` to `to` (one of
/// them a pipe). Non-blocking exactly when the socket end is.
pub fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: plain syscall on open descriptors; null offsets use the file positions.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// An epoll instance: the readiness mechanism of the epoll model, and of the
/// load generators in `bench` and `chat::bench`.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// A new, empty interest list (close-on-exec).
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall; the returned descriptor is owned below.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: valid epoll and target descriptors; ev lives across the call.
        if unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) } < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Watches `fd` for `events`, reported with `token`.
    pub fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }

    /// Changes what `fd` is watched for.
    pub fn modify(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, token)
    }

    /// Stops watching `fd` (an fd that was not watched is fine).
    pub fn delete(&self, fd: RawFd) {
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    /// Waits at most `timeout` (rounded up to whole milliseconds; zero polls)
    /// for events; returns how many were stored. A signal counts as none.
    pub fn wait(
        &self,
        events: &mut [libc::epoll_event],
        timeout: std::time::Duration,
    ) -> io::Result<usize> {
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: events is a valid buffer of the given length.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.as_mut_ptr(),
                events.len().min(i32::MAX as usize) as i32,
                ms,
            )
        };
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
}
