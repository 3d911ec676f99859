//! The poll model: one thread, one poll(2) readiness loop.
//!
//! Like select without the FD_SETSIZE ceiling: the interest list is an array
//! of any length. The kernel still scans the whole array on every call, so a
//! turn costs O(connections) — the reason epoll exists.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;

use super::evloop::{Table, pump_datagrams};
use crate::server::conn::Want;
use crate::server::shutdown::TICK;
use crate::server::{DatagramService, Listener, Run, ServerError, Service};

fn pollfd(fd: i32, read: bool, write: bool) -> libc::pollfd {
    let mut events = 0;
    if read {
        events |= libc::POLLIN;
    }
    if write {
        events |= libc::POLLOUT;
    }
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

fn wait(fds: &mut [libc::pollfd]) -> std::io::Result<i32> {
    crate::sys::poll::wait(fds, TICK).map(|n| n as i32)
}

/// Serves sessions from one poll loop until shutdown.
pub(crate) fn serve<S: Service>(run: Run<'_, Listener>, service: S) -> Result<(), ServerError> {
    let (listener, config, shutdown) = (run.on, run.config, run.shutdown);
    listener
        .set_nonblocking(true)
        .map_err(|e| ServerError::io("listener", e))?;
    let mut listener = Some(listener);
    let mut table = Table::new(&service, config, Default::default());
    let mut fds: Vec<libc::pollfd> = Vec::new();
    let mut keys: Vec<usize> = Vec::new();
    loop {
        if shutdown.is_set() {
            listener = None;
            table.close_for_shutdown(&shutdown, config.shutdown_timeout, |_, _, _| {});
            if table.conns.is_empty() {
                return Ok(());
            }
        }
        fds.clear();
        keys.clear();
        // Slot 0 is the listener (fd -1 = ignored when not accepting).
        let lfd = match &listener {
            Some(l) if table.accepting() => l.as_raw_fd(),
            _ => -1,
        };
        fds.push(pollfd(lfd, true, false));
        for (key, (conn, want)) in table.conns.iter() {
            if let Want::Io { read, write } = *want {
                fds.push(pollfd(conn.fd(), read, write));
                keys.push(key);
            }
        }
        let n = wait(&mut fds).map_err(|e| ServerError::io("poll", e))?;
        crate::server::clock::tick();
        if n > 0 {
            for (i, key) in keys.iter().enumerate() {
                if fds[i + 1].revents != 0 {
                    table.drive(*key);
                }
            }
            if fds[0].revents != 0
                && let Some(l) = &listener
            {
                table.accept(l, 64, |_| true);
            }
        }
        table.sweep_idle(|_, _, _| {});
    }
}

/// Answers datagrams from one poll loop until shutdown.
pub(crate) fn serve_datagrams<D: DatagramService>(
    run: Run<'_, UdpSocket>,
    service: D,
) -> Result<(), ServerError> {
    let (socket, _, shutdown) = (run.on, run.config, run.shutdown);
    pump_datagrams(&socket, &service, &shutdown, |wants_write| {
        let mut fds = [pollfd(socket.as_raw_fd(), true, wants_write)];
        if wait(&mut fds)? == 0 {
            return Ok((false, false));
        }
        let ev = fds[0].revents;
        Ok((ev & !libc::POLLOUT != 0, ev & libc::POLLOUT != 0))
    })
}
