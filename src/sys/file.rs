//! Moving bytes between descriptors inside the kernel: `sendfile` for file
//! regions going out, `splice` through a [`Pipe`] for uploads coming in.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use super::check;

/// Sends up to `len` bytes of `file` from `*offset` to socket `sock`, advancing `*offset`.
pub fn sendfile(
    sock: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: &mut u64,
    len: u64,
) -> io::Result<usize> {
    let mut off = *offset as libc::off_t;
    let count = len.min(1 << 30) as usize;
    // SAFETY: both descriptors are open for the duration of the call; `off` is a valid pointer.
    let n = check(unsafe { libc::sendfile(sock.as_raw_fd(), file.as_raw_fd(), &mut off, count) })?;
    *offset = off as u64;
    Ok(n)
}

/// Starts writeback of `len` bytes of `file` from `offset`
/// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`): it only queues the range for
/// writing and does not wait for the disk, so a later fsync has little left.
pub fn write_behind(file: BorrowedFd<'_>, offset: u64, len: u64) -> io::Result<()> {
    // SAFETY: a plain syscall on an open descriptor with integer arguments.
    let rc = unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let raised = nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
        let capacity = match raised {
            Ok(size) if size > 0 => size as usize,
            _ => 64 * 1024,
        };
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
    pub fn write_end(&self) -> BorrowedFd<'_> {
        self.write.as_fd()
    }

    /// The end to splice from.
    pub fn read_end(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// A second handle on the read end, to read what a failed splice left behind.
    pub fn reader(&self) -> io::Result<OwnedFd> {
        self.read.try_clone()
    }

    /// Moves exactly `n` bytes the pipe holds into `to`.
    pub fn drain_into(&self, to: BorrowedFd<'_>, mut n: usize) -> io::Result<()> {
        while n > 0 {
            match splice(self.read_end(), to, n) {
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
            let rc = unsafe { libc::ioctl(self.read.as_raw_fd(), libc::FIONREAD, &mut held) };
            if rc != 0 || held <= 0 {
                return;
            }
            let want = (held as usize).min(buf.len());
            if !matches!(nix::unistd::read(&self.read, &mut buf[..want]), Ok(n) if n > 0) {
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
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
) -> Result<usize, SpliceError> {
    let n = loop {
        match splice(from, pipe.write_end(), len.min(pipe.capacity())) {
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
pub fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    // SAFETY: plain syscall on open descriptors; null offsets use the file positions.
    check(unsafe {
        libc::splice(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE,
        )
    })
}
