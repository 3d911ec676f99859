//! The epoll model: one epoll(7) loop per worker thread.
//!
//! Each worker owns its loop and its connections, so workers share nothing on
//! the hot path. With TCP, each worker gets its own listening socket on the
//! same port (SO_REUSEPORT; the kernel spreads new connections across them);
//! otherwise the workers share one listener registered with EPOLLEXCLUSIVE so
//! a new connection wakes only one of them. Level-triggered mode re-arms
//! interest as a connection's needs change; edge-triggered mode registers once
//! and always drains the socket until it would block.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use crate::server::clock;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use super::evloop::{Pump, Table};
use crate::server::conn::Want;
use crate::server::shutdown::TICK;
use crate::server::{Config, DatagramService, Listener, Run, ServerError, Service, Shutdown};
use crate::sys::Epoll;

/// Token of the listening socket in the interest list.
const LISTENER: u64 = u64::MAX;

/// Interest bits for a level-triggered connection.
fn level_bits(want: Want) -> u32 {
    match want {
        Want::Io { read, write } => {
            // EPOLLRDHUP only with EPOLLIN: once the peer has half-closed it
            // stays set, and with only EPOLLOUT wanted it would wake us forever.
            let mut bits = 0;
            if read {
                bits |= (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
            }
            if write {
                bits |= libc::EPOLLOUT as u32;
            }
            bits
        }
        Want::Close => 0,
    }
}

const EDGE_BITS: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

/// Serves sessions from `config.workers()` epoll loops until shutdown.
pub(crate) fn serve<S: Service>(run: Run<'_, Listener>, service: S) -> Result<(), ServerError> {
    let (listener, config, shutdown) = (run.on, run.config, run.shutdown);
    let (listeners, exclusive) = super::worker_listeners(listener, config.workers())?;
    // One connection count for all workers, checked against --max-connections.
    let open = Arc::new(AtomicUsize::new(0));
    let service = &service;
    super::run_workers(listeners, "netkit-epoll", |_, l| {
        run_loop(
            l,
            exclusive,
            config,
            service,
            Arc::clone(&open),
            shutdown.clone(),
        )
    })
}

/// One worker's loop.
fn run_loop<S: Service>(
    listener: Listener,
    exclusive: bool,
    config: &Config,
    service: &S,
    open: Arc<AtomicUsize>,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    let ep = Epoll::new().map_err(|e| ServerError::io("epoll_create", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ServerError::io("listener", e))?;
    let listen_bits = libc::EPOLLIN as u32
        | if exclusive {
            libc::EPOLLEXCLUSIVE as u32
        } else {
            0
        };
    ep.add(listener.as_raw_fd(), listen_bits, LISTENER)
        .map_err(|e| ServerError::io("epoll_ctl", e))?;
    let mut listener = Some(listener);
    let mut listening = true;
    let edge = config.edge_triggered;
    let mut table = Table::new(service, config, open);
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut last_event = Instant::now();
    // Events came since the heap was last trimmed (see below).
    let mut untrimmed = false;

    let register = |ep: &Epoll, table: &Table<'_, S>, key: usize| {
        let (conn, want) = &table.conns[key];
        let bits = if edge { EDGE_BITS } else { level_bits(*want) };
        let _ = ep.add(conn.fd(), bits, key as u64);
    };

    loop {
        if shutdown.is_set() {
            if let Some(l) = listener.take() {
                ep.delete(l.as_raw_fd());
            }
            table.close_for_shutdown(
                &shutdown,
                config.shutdown_timeout,
                |key, fd, want| match want {
                    Want::Close => ep.delete(fd),
                    _ if !edge => {
                        let _ = ep.modify(fd, level_bits(want), key as u64);
                    }
                    _ => {}
                },
            );
            if table.conns.is_empty() {
                return Ok(());
            }
        }
        // Pause accepting at the connection limit; resume when there is room.
        if let Some(l) = &listener {
            if listening && !table.accepting() {
                ep.delete(l.as_raw_fd());
                listening = false;
            } else if !listening && table.accepting() {
                let _ = ep.add(l.as_raw_fd(), listen_bits, LISTENER);
                listening = true;
            }
        }
        // Busy polling: right after events, look again without sleeping,
        // yielding the CPU in between (to the load's other side, often). A
        // loop that sleeps in epoll_wait after every batch pays a wake-up per
        // batch, which dominates when loops and clients share a few cores.
        let spinning = clock::now().duration_since(last_event) < config.busy_poll;
        let n = ep
            .wait(&mut events, if spinning { Duration::ZERO } else { TICK })
            .map_err(|e| ServerError::io("epoll_wait", e))?;
        clock::tick();
        if n > 0 {
            last_event = clock::now();
            untrimmed = true;
        } else if spinning {
            let _ = nix::sched::sched_yield();
        } else if untrimmed {
            // A whole tick without events: idle. Hand back the heap a burst grew.
            crate::sys::trim_heap();
            untrimmed = false;
        }
        for ev in &events[..n] {
            let token = ev.u64;
            if token == LISTENER {
                if let Some(l) = &listener {
                    for key in table.accept(l, 128, |_| true) {
                        register(&ep, &table, key);
                    }
                }
                continue;
            }
            let key = token as usize;
            let Some((_, old)) = table.conns.get(key) else {
                continue;
            };
            let old = *old;
            let new = table.drive(key);
            if !edge && new != Want::Close && level_bits(new) != level_bits(old) {
                let fd = table.conns[key].0.fd();
                let _ = ep.modify(fd, level_bits(new), token);
            }
        }
        table.sweep_idle(|key, fd, want| match want {
            Want::Close => ep.delete(fd),
            _ if !edge => {
                let _ = ep.modify(fd, level_bits(want), key as u64);
            }
            _ => {}
        });
    }
}

/// Answers datagrams from `config.workers()` epoll loops, each on its own
/// SO_REUSEPORT socket when the given socket allows it.
pub(crate) fn serve_datagrams<D: DatagramService>(
    run: Run<'_, UdpSocket>,
    service: D,
) -> Result<(), ServerError> {
    let service = &service;
    super::run_datagram_workers(run, "netkit-epoll-udp", |s, shutdown, first| {
        datagram_loop(s, service, shutdown, first)
    })
}

fn datagram_loop<D: DatagramService>(
    socket: UdpSocket,
    service: &D,
    shutdown: Shutdown,
    ticks: bool,
) -> Result<(), ServerError> {
    socket
        .set_nonblocking(true)
        .map_err(|e| ServerError::io("udp socket", e))?;
    let ep = Epoll::new().map_err(|e| ServerError::io("epoll_create", e))?;
    let fd = socket.as_raw_fd();
    ep.add(fd, libc::EPOLLIN as u32, 0)
        .map_err(|e| ServerError::io("epoll_ctl", e))?;
    let mut writing = false;
    let mut pump = Pump::new(service, ticks);
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    while !shutdown.is_set() {
        let n = ep
            .wait(&mut events, TICK)
            .map_err(|e| ServerError::io("epoll_wait", e))?;
        for ev in &events[..n] {
            if ev.events & libc::EPOLLOUT as u32 != 0 {
                pump.flush(&socket);
            }
            if ev.events & libc::EPOLLIN as u32 != 0 {
                pump.on_readable(&socket)
                    .map_err(|e| ServerError::io("udp receive", e))?;
            }
        }
        pump.tick(&socket);
        if pump.wants_write() != writing {
            writing = pump.wants_write();
            let bits = libc::EPOLLIN as u32 | if writing { libc::EPOLLOUT as u32 } else { 0 };
            let _ = ep.modify(fd, bits, 0);
        }
    }
    Ok(())
}
