//! The select model: one thread, one select(2) readiness loop.
//!
//! The classic portable loop, and its classic limit: an `fd_set` is a bitmap of
//! FD_SETSIZE (1024) bits, and writing a larger descriptor into it corrupts
//! memory. This loop refuses such connections with a clear message instead
//! (use poll or epoll for more clients). The sets are rebuilt every turn, so
//! each turn costs O(connections).

use std::net::UdpSocket;
use std::os::fd::{AsRawFd, RawFd};

use super::evloop::{Pump, Table};
use crate::server::conn::Want;
use crate::server::shutdown::TICK;
use crate::server::{Config, DatagramService, Listener, ServerError, Service, Shutdown};

/// The largest descriptor select(2) can watch, plus one.
pub const FD_SETSIZE: RawFd = libc::FD_SETSIZE as RawFd;

/// A pair of read/write sets.
struct Sets {
    read: libc::fd_set,
    write: libc::fd_set,
    max: RawFd,
}

impl Sets {
    fn new() -> Self {
        // SAFETY: fd_set is plain data; FD_ZERO initialises it.
        unsafe {
            let mut read: libc::fd_set = std::mem::zeroed();
            let mut write: libc::fd_set = std::mem::zeroed();
            libc::FD_ZERO(&mut read);
            libc::FD_ZERO(&mut write);
            Sets {
                read,
                write,
                max: -1,
            }
        }
    }
    fn add(&mut self, fd: RawFd, read: bool, write: bool) {
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
    fn readable(&self, fd: RawFd) -> bool {
        // SAFETY: fd was admitted below FD_SETSIZE.
        (0..FD_SETSIZE).contains(&fd) && unsafe { libc::FD_ISSET(fd, &self.read) }
    }
    fn writable(&self, fd: RawFd) -> bool {
        // SAFETY: as above.
        (0..FD_SETSIZE).contains(&fd) && unsafe { libc::FD_ISSET(fd, &self.write) }
    }
    /// Waits up to one tick; returns the number of ready descriptors.
    fn wait(&mut self) -> i32 {
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: TICK.as_micros() as libc::suseconds_t,
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

/// Refuses descriptors select(2) cannot hold, explaining why.
fn admit(fd: RawFd) -> bool {
    if fd >= FD_SETSIZE {
        eprintln!(
            "netkit: select model: descriptor {fd} >= FD_SETSIZE ({FD_SETSIZE}); connection refused \
             (select(2) cannot watch it; use --model poll or --model epoll for more clients)"
        );
        return false;
    }
    true
}

/// Serves sessions from one select loop until shutdown.
pub fn serve<S: Service>(
    listener: Listener,
    config: &Config,
    service: S,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    if listener.as_raw_fd() >= FD_SETSIZE {
        return Err(ServerError::Bind(format!(
            "select model: the listening descriptor is >= FD_SETSIZE ({FD_SETSIZE}); use --model poll or epoll"
        )));
    }
    listener
        .set_nonblocking(true)
        .map_err(|e| ServerError::io("listener", e))?;
    let mut listener = Some(listener);
    let mut table = Table::new(&service, config, Default::default());
    loop {
        if shutdown.is_set() {
            listener = None; // stop accepting: new clients are refused by the kernel
            table.close_for_shutdown(&shutdown, config.shutdown_timeout, |_, _, _| {});
            if table.conns.is_empty() {
                return Ok(());
            }
        }
        let mut sets = Sets::new();
        if let Some(l) = &listener
            && table.accepting()
        {
            sets.add(l.as_raw_fd(), true, false);
        }
        for (_, (conn, want)) in table.conns.iter() {
            if let Want::Io { read, write } = *want {
                sets.add(conn.fd(), read, write);
            }
        }
        let n = sets.wait();
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(ServerError::io("select", e));
        }
        if n > 0 {
            let ready: Vec<usize> = table
                .conns
                .iter()
                .filter(|(_, (c, _))| sets.readable(c.fd()) || sets.writable(c.fd()))
                .map(|(k, _)| k)
                .collect();
            for key in ready {
                table.drive(key);
            }
            if let Some(l) = &listener
                && sets.readable(l.as_raw_fd())
            {
                table.accept(l, 64, admit);
            }
        }
        table.sweep_idle(|_, _, _| {});
    }
}

/// Answers datagrams from one select loop until shutdown.
pub fn serve_datagrams<D: DatagramService>(
    socket: UdpSocket,
    _config: &Config,
    service: D,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    socket
        .set_nonblocking(true)
        .map_err(|e| ServerError::io("udp socket", e))?;
    let fd = socket.as_raw_fd();
    if fd >= FD_SETSIZE {
        return Err(ServerError::Bind(format!(
            "select model: socket descriptor >= FD_SETSIZE ({FD_SETSIZE})"
        )));
    }
    let mut pump = Pump::new(&service, true);
    while !shutdown.is_set() {
        let mut sets = Sets::new();
        sets.add(fd, true, pump.wants_write());
        if sets.wait() > 0 {
            if sets.writable(fd) {
                pump.flush(&socket);
            }
            if sets.readable(fd) {
                pump.on_readable(&socket)
                    .map_err(|e| ServerError::io("udp receive", e))?;
            }
        }
        pump.tick(&socket);
    }
    Ok(())
}
