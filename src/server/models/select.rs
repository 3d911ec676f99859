//! The select model: one thread, one select(2) readiness loop.
//!
//! The classic portable loop, and its classic limit: an `fd_set` is a bitmap of
//! FD_SETSIZE (1024) bits, and writing a larger descriptor into it corrupts
//! memory. This loop refuses such connections with a clear message instead
//! (use poll or epoll for more clients). The sets are rebuilt every turn, so
//! each turn costs O(connections).

use std::net::UdpSocket;
use std::os::fd::{AsRawFd, RawFd};

use super::evloop::{Table, pump_datagrams};
use crate::server::conn::Want;
use crate::server::shutdown::TICK;
use crate::server::{DatagramService, Listener, Run, ServerError, Service};
use crate::sys::select::{FD_SETSIZE, FdSets as Sets};

/// Refuses descriptors select(2) cannot hold, explaining why.
fn admit(fd: RawFd) -> bool {
    if fd >= FD_SETSIZE {
        tracing::warn!(
            "netkit: select model: descriptor {fd} >= FD_SETSIZE ({FD_SETSIZE}); connection refused \
             (select(2) cannot watch it; use --model poll or --model epoll for more clients)"
        );
        return false;
    }
    true
}

/// Serves sessions from one select loop until shutdown.
pub(crate) fn serve<S: Service>(run: Run<'_, Listener>, service: S) -> Result<(), ServerError> {
    let (listener, config, shutdown) = (run.on, run.config, run.shutdown);
    if listener.as_raw_fd() >= FD_SETSIZE {
        return Err(ServerError::bind(
            format!(
                "select model: the listening descriptor is >= FD_SETSIZE ({FD_SETSIZE}); use --model poll or epoll"
            ),
            None,
        ));
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
        let n = sets.wait(TICK);
        crate::server::clock::tick();
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
pub(crate) fn serve_datagrams<D: DatagramService>(
    run: Run<'_, UdpSocket>,
    service: D,
) -> Result<(), ServerError> {
    let (socket, _, shutdown) = (run.on, run.config, run.shutdown);
    let fd = socket.as_raw_fd();
    if fd >= FD_SETSIZE {
        return Err(ServerError::bind(
            format!("select model: socket descriptor >= FD_SETSIZE ({FD_SETSIZE})"),
            None,
        ));
    }
    pump_datagrams(&socket, &service, &shutdown, |wants_write| {
        let mut sets = Sets::new();
        sets.add(fd, true, wants_write);
        if sets.wait(TICK) > 0 {
            Ok((sets.readable(fd), sets.writable(fd)))
        } else {
            Ok((false, false))
        }
    })
}
