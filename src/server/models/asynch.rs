//! The async model: a tokio task per connection (the course's coroutine model).
//!
//! A task waits for readiness, then reads into a per-thread scratch buffer and
//! hands the bytes straight to the session, so an idle connection costs only
//! its task and session — no read buffer. Output (including `sendfile` file
//! regions) is written with the same non-blocking write step the epoll driver
//! uses. `workers` sets the runtime's thread count.

use std::cell::RefCell;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::drain_deadline;
use crate::server::conn::SCRATCH;
use crate::server::session_core::SessionCore;
use crate::server::shutdown::TICK;
use crate::server::{
    Config, DatagramService, Listener, Peer, Run, ServerError, Service, Session, Shutdown,
};
use crate::sys;

thread_local! {
    /// Where reads land before the session sees them; one per runtime thread.
    static SCRATCH_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH]);
}

/// The readiness operations the connection task needs, for TCP and Unix streams alike.
trait AsyncSock: AsFd + Send + 'static {
    async fn ready_read(&self) -> io::Result<()>;
    async fn ready_write(&self) -> io::Result<()>;
    fn try_io_write(&self, f: impl FnOnce() -> io::Result<usize>) -> io::Result<usize>;
    fn try_io_read(&self, f: impl FnOnce() -> io::Result<usize>) -> io::Result<usize>;
    fn try_read_now(&self, buf: &mut [u8]) -> io::Result<usize>;
}

macro_rules! impl_async_sock {
    ($t:ty) => {
        impl AsyncSock for $t {
            // poll_*_ready keeps one waker slot per direction; `readable()`
            // would add and remove a waiter list entry (under a lock) per wait.
            async fn ready_read(&self) -> io::Result<()> {
                std::future::poll_fn(|cx| self.poll_read_ready(cx)).await
            }
            async fn ready_write(&self) -> io::Result<()> {
                std::future::poll_fn(|cx| self.poll_write_ready(cx)).await
            }
            fn try_io_write(&self, f: impl FnOnce() -> io::Result<usize>) -> io::Result<usize> {
                self.try_io(Interest::WRITABLE, f)
            }
            fn try_io_read(&self, f: impl FnOnce() -> io::Result<usize>) -> io::Result<usize> {
                self.try_io(Interest::READABLE, f)
            }
            fn try_read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.try_read(buf)
            }
        }
    };
}
impl_async_sock!(tokio::net::TcpStream);
impl_async_sock!(tokio::net::UnixStream);

fn runtime(config: &Config) -> Result<tokio::runtime::Runtime, ServerError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers())
        .thread_name("netkit-async")
        .enable_all()
        .build()
        .map_err(|e| ServerError::io("starting tokio runtime", e))
}

/// Turns the shutdown flag into a watch channel tasks can await.
fn watch_shutdown(shutdown: Shutdown) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        while !shutdown.is_set() {
            tokio::time::sleep(TICK).await;
        }
        let _ = tx.send(true);
        // Keep the sender alive so receivers see `true`, not a closed channel.
        std::future::pending::<()>().await;
    });
    rx
}

/// Serves sessions as tokio tasks until shutdown.
pub(crate) fn serve<S: Service>(run: Run<'_, Listener>, service: S) -> Result<(), ServerError> {
    let (listener, config, shutdown) = (run.on, run.config, run.shutdown);
    listener
        .set_nonblocking(true)
        .map_err(|e| ServerError::io("listener", e))?;
    let rt = runtime(config)?;
    let config = config.clone();
    rt.block_on(async move {
        let mut stop = watch_shutdown(shutdown);
        let service = Arc::new(service);
        let max = config.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        let permits = Arc::new(Semaphore::new(max));
        enum L {
            Tcp(tokio::net::TcpListener),
            Unix(tokio::net::UnixListener, #[allow(dead_code)] crate::server::net::UnixPathGuard),
        }
        let l = match listener {
            Listener::Tcp(t) => L::Tcp(tokio::net::TcpListener::from_std(t).map_err(|e| ServerError::io("listener", e))?),
            Listener::Unix(u, g) => L::Unix(tokio::net::UnixListener::from_std(u).map_err(|e| ServerError::io("listener", e))?, g),
        };
        let overload = service.overload_reply();
        let mut accept_errors = super::AcceptErrors::default();
        loop {
            // Without an overload reply, wait for a free slot before accepting
            // (extra clients wait in the backlog); with one, accept and answer.
            let mut permit = None;
            if overload.is_none() {
                permit = tokio::select! {
                    p = Arc::clone(&permits).acquire_owned() => match p { Ok(p) => Some(p), Err(_) => break },
                    _ = stop.changed() => break,
                };
            }
            let accepted = tokio::select! {
                r = async {
                    match &l {
                        L::Tcp(t) => t.accept().await.map(|(s, a)| (Either::Tcp(s), Peer::Inet(a))),
                        L::Unix(u, _) => u.accept().await.map(|(s, _)| (Either::Unix(s), Peer::Unix)),
                    }
                } => r,
                _ = stop.changed() => break,
            };
            let (sock, peer) = match accepted {
                Ok(x) => {
                    accept_errors.accepted();
                    x
                }
                Err(e) => {
                    if let Some(pause) = accept_errors.failed(&e) {
                        // Only this accept task waits; connections go on.
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {}
                            _ = stop.changed() => break,
                        }
                    }
                    continue;
                }
            };
            let permit = match permit {
                Some(p) => p,
                None => match Arc::clone(&permits).try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => {
                        if let Some(reply) = &overload {
                            let fd = match &sock {
                                Either::Tcp(s) => s.as_fd(),
                                Either::Unix(s) => s.as_fd(),
                            };
                            super::refuse(fd, reply);
                        }
                        continue;
                    }
                },
            };
            let session = service.session(&peer);
            let (stop, idle, grace) = (stop.clone(), config.idle_timeout, config.shutdown_timeout);
            // The connection future is spawned as it is (no wrapping async
            // block): a wrapper would store a second copy of its arguments in
            // every idle task.
            match sock {
                Either::Tcp(s) => {
                    let _ = s.set_nodelay(true);
                    tokio::spawn(run_conn(s, session, stop, idle, grace, permit));
                }
                Either::Unix(s) => {
                    tokio::spawn(run_conn(s, session, stop, idle, grace, permit));
                }
            }
        }
        drop(l);
        // Wait for in-flight connections to finish (each closes itself at its deadline).
        let _ = tokio::time::timeout(drain_deadline(&config), permits.acquire_many(max as u32)).await;
        Ok(())
    })
}

enum Either {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

/// Drives one connection until it closes, idles out, or a shutdown finds it idle.
///
/// An idle connection is this future parked in its read wait, so its size is
/// what an idle connection costs: one timer serves the idle timeout, the
/// session's deadline and the shutdown grace period alike.
async fn run_conn<T: AsyncSock, S: Session>(
    sock: T,
    session: S,
    mut stop: watch::Receiver<bool>,
    idle: Option<Duration>,
    grace: Duration,
    _permit: OwnedSemaphorePermit,
) {
    let fd = sock.as_fd();
    let mut core = SessionCore::new(session, Instant::now());
    let mut stopping: Option<Instant> = if *stop.borrow() {
        Some(Instant::now())
    } else {
        None
    };
    let idle_for = idle.unwrap_or(Duration::from_secs(365 * 24 * 3600));
    // The one timer, aimed before each wait at the earliest of the idle check,
    // the session's deadline and the shutdown grace. The idle check moves only
    // when the timer fires (then to last_read + idle), so a busy connection
    // does not touch its timer per request.
    let mut last_read = Instant::now();
    let mut idle_check = last_read + idle_for;
    let timer = tokio::time::sleep(idle_for);
    tokio::pin!(timer);
    // The shutdown signal, registered once for the connection's life rather
    // than once per wait (each registration takes the channel's lock).
    let stop_signal = async move {
        let _ = stop.changed().await;
    };
    tokio::pin!(stop_signal);
    'conn: loop {
        // Write everything queued.
        let mut write_wait: Option<Instant> = None;
        while !core.out_is_empty() {
            match sock.try_io_write(|| core.out().write_to(fd)) {
                Ok(0) => break 'conn,
                Ok(_) => write_wait = None,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // A peer that takes nothing for the idle timeout is gone.
                    let since = *write_wait.get_or_insert_with(Instant::now);
                    let due = earliest(since + idle_for, &[stopping.map(|t| t + grace)]);
                    aim(timer.as_mut(), due);
                    tokio::select! {
                        r = sock.ready_write() => if r.is_err() { break 'conn },
                        _ = &mut timer => if Instant::now() >= due { break 'conn },
                    }
                }
                Err(_) => break 'conn,
            }
        }
        // Output drained: held input is offered again, a pending EOF told.
        if core.settle().is_err() || core.finished() {
            break;
        }
        if !core.out_is_empty() {
            continue;
        }
        if !core.wants_input() {
            break; // nothing to write, nothing to read: cannot happen, but never spin
        }
        if stopping.is_some() && core.is_idle() {
            // Shutting down between requests: take what already arrived, else close.
            match read_into_session(&sock, &mut core) {
                ReadResult::Data | ReadResult::Eof => continue,
                _ => break,
            }
        }
        let session_due = core.deadline();
        let stop_due = stopping.map(|t| t + grace);
        let due = earliest(idle_check, &[session_due, stop_due]);
        aim(timer.as_mut(), due);
        tokio::select! {
            // In this order, without select!'s random start: readiness is the
            // common case. The others are still seen on a flooded socket:
            // tokio's cooperative budget makes readiness Pending after a burst.
            biased;
            r = sock.ready_read() => if r.is_err() { break },
            // The only value ever sent is `true`; a closed channel means the same.
            () = &mut stop_signal, if stopping.is_none() => {
                stopping = Some(Instant::now());
                continue;
            }
            _ = &mut timer => {
                let now = Instant::now();
                if stop_due.is_some_and(|d| now >= d) {
                    core.last_word(fd);
                    break;
                }
                if now >= last_read + idle_for {
                    break;
                }
                idle_check = last_read + idle_for;
                if core.deadline_passed(now) {
                    core.expire();
                }
                continue;
            }
        }
        match read_into_session(&sock, &mut core) {
            ReadResult::Data => last_read = Instant::now(),
            ReadResult::WouldBlock | ReadResult::Eof => {}
            ReadResult::Close => break,
        }
    }
    sys::graceful_close(fd);
}

/// The earliest of `first` and whichever of `others` are set.
fn earliest(first: Instant, others: &[Option<Instant>]) -> Instant {
    others.iter().flatten().fold(first, |a, &b| a.min(b))
}

/// Points the connection's timer at `due`, touching it only when that changes.
fn aim(timer: std::pin::Pin<&mut tokio::time::Sleep>, due: Instant) {
    let due = tokio::time::Instant::from_std(due);
    if timer.deadline() != due {
        timer.reset(due);
    }
}

enum ReadResult {
    Data,
    WouldBlock,
    Eof,
    Close,
}

/// Reads what is available into the thread's scratch buffer and feeds the session.
fn read_into_session<T: AsyncSock, S: Session>(sock: &T, core: &mut SessionCore<S>) -> ReadResult {
    // An upload's body goes from the socket straight into its file (through
    // `try_io`, so tokio learns when the socket ran dry).
    if core.has_sink() {
        let fd = sock.as_fd();
        let mut spliced = true;
        let r = sock.try_io_read(|| {
            core.splice(fd).unwrap_or_else(|| {
                spliced = false; // no pipe to be had: read as usual below
                Ok(1)
            })
        });
        if spliced {
            return match r {
                Ok(0) => ReadResult::Eof,
                Ok(_) => ReadResult::Data,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ReadResult::WouldBlock,
                Err(_) => ReadResult::Close,
            };
        }
    }
    SCRATCH_BUF.with(|cell| {
        let mut buf = cell.borrow_mut();
        match sock.try_read_now(&mut buf) {
            Ok(0) => {
                core.input_ended();
                ReadResult::Eof
            }
            Ok(n) => match core.input(&buf[..n]) {
                Ok(()) => ReadResult::Data,
                Err(_) => ReadResult::Close,
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => ReadResult::WouldBlock,
            Err(_) => ReadResult::Close,
        }
    })
}

/// Answers datagrams from one tokio task until shutdown.
pub(crate) fn serve_datagrams<D: DatagramService>(
    run: Run<'_, UdpSocket>,
    service: D,
) -> Result<(), ServerError> {
    let (socket, config, shutdown) = (run.on, run.config, run.shutdown);
    socket
        .set_nonblocking(true)
        .map_err(|e| ServerError::io("udp socket", e))?;
    let rt = runtime(config)?;
    rt.block_on(async move {
        let mut stop = watch_shutdown(shutdown);
        // Registered for readability only: with write interest too, the reactor
        // would wake after every datagram of a fan-out as send space frees up.
        // Sends go straight to the non-blocking socket and only wait when full.
        // SAFETY: the AsyncFd owns the UdpSocket, whose descriptor stays open and
        // unchanged until the AsyncFd (and the socket with it) is dropped.
        let socket =
            unsafe { tokio::io::unix::AsyncFd::register_with_interest(socket, Interest::READABLE) }
                .map_err(|e| ServerError::io("udp socket", io::Error::other(e.to_string())))?;
        let mut buf = vec![0u8; 65536];
        let mut out = Vec::new();
        let every = service.tick_interval();
        let mut ticker = tokio::time::interval(every.unwrap_or(Duration::from_secs(3600)));
        loop {
            tokio::select! {
                r = socket.async_io(Interest::READABLE, |s| s.recv_from(&mut buf)) => match r {
                    Ok((n, from)) => service.on_datagram(from, &buf[..n], &mut out),
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                    Err(e) => return Err(ServerError::io("udp receive", e)),
                },
                _ = ticker.tick(), if every.is_some() => service.on_tick(&mut out),
                _ = stop.changed() => return Ok(()),
            }
            for (to, bytes) in out.drain(..) {
                // A full send buffer is rare (4 MiB); wait briefly, then give up on this one.
                for _ in 0..100 {
                    match socket.get_ref().send_to(&bytes, to) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        _ => break,
                    }
                }
            }
        }
    })
}
