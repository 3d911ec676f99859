//! One file per serving model. Each is the only code that knows how its model
//! accepts and schedules work; the protocol comes in as a session, a blocking
//! handler or a datagram service.
//!
//! | model | file | how it serves |
//! |---|---|---|
//! | iterative | [`iterative`] | one loop, one client at a time |
//! | fork | [`fork`] | a child process per connection, reaped, `max_children` |
//! | prefork | [`prefork`] | worker processes made at start, restarted if they die |
//! | thread | [`thread`] | a thread per connection |
//! | pool | [`pool`] | fixed threads fed by a bounded queue |
//! | select | [`select`] | one thread, select(2), refuses fds >= FD_SETSIZE |
//! | poll | [`poll`] | one thread, poll(2) |
//! | epoll | [`epoll`] | one epoll loop per worker, SO_REUSEPORT, level or edge triggered |
//! | async | [`asynch`] | tokio tasks |
//! | uring | [`uring`] | one io_uring per worker, SO_REUSEPORT, completions |

pub(crate) mod asynch;
pub(crate) mod epoll;
pub(crate) mod evloop;
pub(crate) mod fork;
pub(crate) mod iterative;
pub(crate) mod poll;
pub(crate) mod pool;
pub(crate) mod prefork;
pub(crate) mod select;
pub(crate) mod thread;
pub(crate) mod uring;

use std::io;
use std::time::Duration;

use super::net::{Listener, Stream};
use super::session::Peer;
use super::shutdown::{Shutdown, TICK};
use super::{Config, Connection, Handler, ServerError};
use crate::sys;

/// True when the socket was bound here with SO_REUSEPORT, so siblings may
/// join it. Never for the socket systemd passed, even with `ReusePort=`:
/// the service manager owns the port (siblings could not be bound under
/// another user, and would outlive a restart of the socket unit).
fn has_reuseport(sock: impl std::os::fd::AsFd) -> bool {
    socket2::SockRef::from(&sock).reuse_port().unwrap_or(false)
        && !super::activation::is_inherited(sock)
}

/// One listener per worker of a multi-loop model (epoll, uring): siblings
/// on the same port when the TCP listener has SO_REUSEPORT (the kernel
/// spreads new connections across them), else clones of the one listener
/// (always for a socket systemd passed). The flag is true for clones: the
/// workers then share one accept queue.
pub(crate) fn worker_listeners(
    listener: Listener,
    workers: usize,
) -> Result<(Vec<Listener>, bool), ServerError> {
    let shared = !(matches!(listener, Listener::Tcp(_)) && has_reuseport(&listener));
    let mut listeners = Vec::with_capacity(workers);
    for _ in 1..workers {
        let l = match &listener {
            Listener::Tcp(t) if !shared => {
                let addr = t.local_addr().map_err(|e| ServerError::io("listener", e))?;
                Listener::Tcp(super::net::tcp_join(addr)?)
            }
            other => other
                .try_clone()
                .map_err(|e| ServerError::io("listener", e))?,
        };
        listeners.push(l);
    }
    listeners.insert(0, listener);
    Ok((listeners, shared))
}

/// Runs `work(socket, shutdown, first)` on one thread per datagram socket
/// of [`worker_datagram_sockets`] (`first`: the worker that runs the
/// service's ticks), for the multi-loop models.
pub(crate) fn run_datagram_workers(
    run: super::Run<'_, std::net::UdpSocket>,
    name: &str,
    work: impl Fn(std::net::UdpSocket, Shutdown, bool) -> Result<(), ServerError> + Sync,
) -> Result<(), ServerError> {
    let (socket, config, shutdown) = (run.on, run.config, run.shutdown);
    let sockets = worker_datagram_sockets(socket, config.workers())?;
    run_workers(sockets, name, |i, s| work(s, shutdown.clone(), i == 0))
}

/// One UDP socket per worker of a multi-loop model: siblings on the same
/// port (with the same buffer sizes) when the socket was bound here with
/// SO_REUSEPORT, else just the one.
pub(crate) fn worker_datagram_sockets(
    socket: std::net::UdpSocket,
    workers: usize,
) -> Result<Vec<std::net::UdpSocket>, ServerError> {
    let mut sockets = vec![];
    if has_reuseport(&socket) {
        let addr = socket
            .local_addr()
            .map_err(|e| ServerError::io("udp socket", e))?;
        for _ in 1..workers {
            let sibling = super::net::udp_join(addr)?;
            super::net::copy_buffer_sizes(&socket, &sibling);
            sockets.push(sibling);
        }
    }
    sockets.insert(0, socket);
    Ok(sockets)
}

/// Runs `work(i, item)` for every item on a scoped thread of its own, named
/// `{name}-{i}`, and waits for all of them; the last error is returned.
pub(crate) fn run_workers<T: Send>(
    items: Vec<T>,
    name: &str,
    work: impl Fn(usize, T) -> Result<(), ServerError> + Sync,
) -> Result<(), ServerError> {
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn_scoped(scope, move || {
                        crate::server::set_worker_index(i);
                        work(i, item)
                    })
                    .map_err(|e| ServerError::io(format!("starting {name}"), e))
            })
            .collect();
        let mut result = Ok(());
        for (i, h) in handles.into_iter().enumerate() {
            match h.map(|h| h.join()) {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) | Err(e) => result = Err(e),
                // The panic message is already on stderr; the others went on
                // serving, and the server's exit says it was not clean.
                Ok(Err(_)) => {
                    result = Err(ServerError::io(
                        format!("{name}-{i}"),
                        io::Error::other("the worker thread panicked"),
                    ))
                }
            }
        }
        result
    })
}

/// Builds the [`Connection`] a blocking handler is given.
pub(crate) fn connection(
    stream: Stream,
    peer: Peer,
    config: &Config,
    shutdown: &Shutdown,
) -> Connection {
    Connection {
        stream,
        peer,
        shutdown: shutdown.clone(),
        idle_timeout: config.idle_timeout,
        shutdown_timeout: config.shutdown_timeout,
        accepted: std::time::Instant::now(),
    }
}

/// The accept loop of every blocking model: until shutdown, waits while
/// `full()` says the model has no room (new clients wait in the listen
/// backlog), accepts with the listener's tick, and hands each connection to
/// `dispatch`, which returns false to stop accepting.
pub(crate) fn accept_each(
    listener: &Listener,
    config: &Config,
    shutdown: &Shutdown,
    mut full: impl FnMut() -> bool,
    mut dispatch: impl FnMut(Connection) -> bool,
) -> Result<(), ServerError> {
    listener
        .set_accept_timeout(TICK)
        .map_err(|e| ServerError::io("listener", e))?;
    let mut errors = AcceptErrors::default();
    while !shutdown.is_set() {
        if full() {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        if let Accepted::Conn(stream, peer) = accept_blocking(listener, &mut errors)
            && !dispatch(connection(stream, peer, config, shutdown))
        {
            break;
        }
    }
    Ok(())
}

/// The receive loop of the models that hand each datagram to a worker of its
/// own (thread, fork): until shutdown, waits while `full()`, receives with
/// the socket's tick and hands each datagram to `dispatch(from, bytes)`.
pub(crate) fn datagram_each(
    socket: &std::net::UdpSocket,
    shutdown: &Shutdown,
    mut full: impl FnMut() -> bool,
    mut dispatch: impl FnMut(std::net::SocketAddr, &[u8]),
) -> Result<(), ServerError> {
    socket
        .set_read_timeout(Some(TICK))
        .map_err(|e| ServerError::io("udp socket", e))?;
    let mut buf = vec![0u8; 65536];
    while !shutdown.is_set() {
        if full() {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        if let Some((n, from)) = super::blocking::recv_datagram(socket, &mut buf)
            .map_err(|e| ServerError::io("udp receive", e))?
        {
            dispatch(from, &buf[..n]);
        }
    }
    Ok(())
}

/// Serves connections one after another on this thread (the iterative
/// model, and each prefork worker).
pub(crate) fn serve_in_turn<H: Handler>(
    listener: &Listener,
    config: &Config,
    shutdown: &Shutdown,
    handler: &H,
) -> Result<(), ServerError> {
    accept_each(
        listener,
        config,
        shutdown,
        || false,
        |conn| {
            handle(handler, conn);
            true
        },
    )
}

/// Runs a blocking handler on one connection. Its error is logged, except the
/// ordinary ways a client leaves (reset, broken pipe, EOF, timeouts).
pub(crate) fn handle<H: Handler>(handler: &H, conn: Connection) {
    use io::ErrorKind::*;
    let peer = conn.peer.clone();
    if let Err(e) = handler.handle(conn)
        && !matches!(
            e.kind(),
            ConnectionReset
                | ConnectionAborted
                | BrokenPipe
                | UnexpectedEof
                | TimedOut
                | WouldBlock
        )
    {
        tracing::warn!("netkit: connection from {peer}: {e}");
    }
}

/// Tells a client over the connection limit `reply` (an HTTP 503, say) with
/// what its socket takes at once, and closes it.
pub(crate) fn refuse(sock: std::os::fd::BorrowedFd<'_>, reply: &[u8]) {
    let _ = sys::send_now(sock, reply);
    sys::graceful_close(sock);
}

/// Result of one blocking accept attempt.
pub(crate) enum Accepted {
    /// A new connection.
    Conn(Stream, Peer),
    /// Nothing yet (timeout tick, interrupted, or a transient error already reported).
    Nothing,
}

/// Accepts with the listener's SO_RCVTIMEO tick, reporting (and backing off on)
/// errors such as running out of descriptors instead of dying.
pub(crate) fn accept_blocking(listener: &Listener, errors: &mut AcceptErrors) -> Accepted {
    match listener.accept() {
        Ok((s, p)) => {
            errors.accepted();
            Accepted::Conn(s, p)
        }
        Err(e) if sys::would_block(&e) => Accepted::Nothing,
        Err(e) => {
            if let Some(pause) = errors.failed(&e) {
                // This thread only accepts: waiting here stalls nobody else.
                std::thread::sleep(pause);
            }
            Accepted::Nothing
        }
    }
}

/// How long accepting stops after the server ran short of descriptors or
/// memory (established connections are served meanwhile).
pub(crate) const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Accept failures of one accept loop: what to do about each, and the log.
/// A shortage (EMFILE, ENFILE, ENOBUFS, ENOMEM) pauses accepting for
/// [`ACCEPT_PAUSE`] and is logged once per episode, with a line when
/// accepting works again; a client that gave up (ECONNABORTED) is not news.
#[derive(Debug, Default)]
pub(crate) struct AcceptErrors {
    /// Pauses in the current shortage episode.
    pauses: u64,
}

impl AcceptErrors {
    /// Reports a failed accept; `Some(pause)` when accepting should stop
    /// (the caller stops watching the listener) for that long.
    pub(crate) fn failed(&mut self, e: &io::Error) -> Option<Duration> {
        match e.raw_os_error() {
            Some(libc::ECONNABORTED) | Some(libc::EPROTO) => None,
            Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM) => {
                if self.pauses == 0 {
                    tracing::warn!(
                        "netkit: accept failed: {e}; not accepting new connections until \
                         resources free up (established connections are still served)"
                    );
                }
                self.pauses += 1;
                Some(ACCEPT_PAUSE)
            }
            _ => {
                tracing::warn!("netkit: accept failed: {e}");
                None
            }
        }
    }

    /// A connection was accepted: ends a shortage episode.
    pub(crate) fn accepted(&mut self) {
        if self.pauses > 0 {
            tracing::warn!(
                "netkit: accepting again after {} pause(s) of {} ms",
                self.pauses,
                ACCEPT_PAUSE.as_millis()
            );
            self.pauses = 0;
        }
    }
}

/// Deadline for waiting on workers once shutdown starts: the grace period plus a margin.
pub(crate) fn drain_deadline(config: &Config) -> Duration {
    config.shutdown_timeout + Duration::from_millis(500)
}
