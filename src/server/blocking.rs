//! The blocking driver: runs a sans-IO session over a blocking socket.
//!
//! Used by the iterative, fork, prefork, thread and pool models through
//! [`SessionHandler`], which turns any [`Service`] into a [`Handler`]. Reads use
//! SO_RCVTIMEO so the loop wakes every [`TICK`] to check idle time and shutdown.

use std::io::{self, Read};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use super::session_core::SessionCore;
use super::shutdown::{Shutdown, TICK};
use super::{Connection, DatagramService, Handler};
use super::{Output, Service, Session};
use crate::sys;

/// Read size for blocking connections.
const READ_CHUNK: usize = 64 * 1024;

/// Adapts a [`Service`] so blocking models can run its sessions.
pub struct SessionHandler<S> {
    service: S,
}

impl<S: Service> SessionHandler<S> {
    /// Wraps `service`.
    pub fn new(service: S) -> Self {
        SessionHandler { service }
    }
}

impl<S: Service> Handler for SessionHandler<S> {
    fn handle(&self, conn: Connection) -> io::Result<()> {
        let session = self.service.session(&conn.peer);
        run_session(conn, session)
    }
}

/// Why a blocking wait gave up.
enum Stall {
    /// Nothing moved for the idle timeout.
    Idle,
    /// Shutdown was requested and its grace period is over.
    Deadline,
}

struct Clock<'a> {
    conn_idle: Option<Duration>,
    shutdown: &'a Shutdown,
    grace: Duration,
    last_progress: Instant,
}

impl Clock<'_> {
    fn check(&self) -> Result<(), Stall> {
        if let Some(idle) = self.conn_idle
            && self.last_progress.elapsed() >= idle
        {
            return Err(Stall::Idle);
        }
        if self.shutdown.past_deadline(self.grace) {
            return Err(Stall::Deadline);
        }
        Ok(())
    }
}

/// Runs `session` on `conn` until the session closes, the peer leaves, the
/// connection idles out, or a shutdown finds the session idle.
pub fn run_session<S: Session>(conn: Connection, session: S) -> io::Result<()> {
    let Connection {
        stream,
        shutdown,
        idle_timeout,
        shutdown_timeout,
        accepted,
        ..
    } = conn;
    stream.set_nonblocking(false)?;
    stream.set_nodelay();
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(TICK))?;
    let fd = stream.as_fd();
    let mut clock = Clock {
        conn_idle: idle_timeout,
        shutdown: &shutdown,
        grace: shutdown_timeout,
        last_progress: Instant::now(),
    };
    let mut core = SessionCore::new(session, accepted);
    let mut buf = vec![0u8; READ_CHUNK];

    loop {
        if flush(fd, core.out(), &mut clock).is_err() {
            break;
        }
        // Output drained: held input is offered again, a pending EOF told.
        if core.settle().is_err() || core.finished() {
            break;
        }
        if !core.out_is_empty() {
            continue;
        }
        if core.deadline_passed(Instant::now()) {
            // What already arrived counts (a connection that waited in the
            // pool's queue may have sent its request long ago): take it
            // before judging.
            if core.wants_input() && !core.has_sink() {
                match sys::recv_now(fd, &mut buf) {
                    Ok(0) => {
                        core.input_ended();
                        continue;
                    }
                    Ok(n) => {
                        if core.input(&buf[..n]).is_err() {
                            break;
                        }
                        continue;
                    }
                    Err(_) => {}
                }
            }
            core.expire();
            let _ = flush(fd, core.out(), &mut clock);
            break;
        }
        if !core.wants_input() {
            break; // nothing to write, nothing to read: cannot happen, but never spin
        }
        // An upload's body goes from the socket straight into its file.
        if let Some(r) = core.splice(fd) {
            match r {
                Ok(_) => clock.last_progress = Instant::now(),
                // The read timeout (one tick) passed with nothing to move.
                Err(e) if sys::would_block(&e) => {
                    if clock.check().is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
            continue;
        }
        let read = if shutdown.is_set() {
            // Take what has already arrived; close if the session is between requests.
            match sys::recv_now(fd, &mut buf) {
                Err(e) if sys::would_block(&e) => {
                    if core.is_idle() || clock.check().is_err() {
                        break;
                    }
                    sys::wait_readable(fd, TICK.as_millis() as u16);
                    continue;
                }
                r => r,
            }
        } else {
            match (&stream).read(&mut buf) {
                Err(e) if sys::would_block(&e) => {
                    if clock.check().is_err() {
                        break;
                    }
                    continue;
                }
                r => r,
            }
        };
        match read {
            Ok(0) => core.input_ended(),
            Ok(n) => {
                clock.last_progress = Instant::now();
                if core.input(&buf[..n]).is_err() {
                    break; // the session will not take more: protocol violation
                }
            }
            Err(_) => break,
        }
    }
    if shutdown.past_deadline(shutdown_timeout) {
        core.last_word(fd);
    }
    sys::graceful_close(fd);
    Ok(())
}

/// Writes everything queued in `out`, waiting out slow readers up to the idle timeout.
fn flush(fd: BorrowedFd<'_>, out: &mut Output, clock: &mut Clock<'_>) -> Result<(), Stall> {
    while !out.is_empty() {
        match out.write_to(fd) {
            Ok(0) => return Err(Stall::Idle),
            Ok(_) => clock.last_progress = Instant::now(),
            Err(e) if sys::would_block(&e) => clock.check()?,
            Err(_) => return Err(Stall::Idle),
        }
    }
    Ok(())
}

/// The receive loop shared by the blocking datagram models (iterative, pool, prefork):
/// answer datagrams until shutdown, running the service's tick on schedule.
pub fn datagram_loop<D: DatagramService>(
    socket: &UdpSocket,
    service: &D,
    shutdown: &Shutdown,
    run_ticks: bool,
) -> io::Result<()> {
    socket.set_read_timeout(Some(TICK))?;
    let mut buf = vec![0u8; 65536];
    let mut out: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    let mut next_tick = service.tick_interval().map(|d| Instant::now() + d);
    while !shutdown.is_set() {
        if let Some((n, from)) = recv_datagram(socket, &mut buf)? {
            service.on_datagram(from, &buf[..n], &mut out);
        }
        if run_ticks
            && let (Some(at), Some(every)) = (next_tick, service.tick_interval())
            && Instant::now() >= at
        {
            service.on_tick(&mut out);
            next_tick = Some(Instant::now() + every);
        }
        send_all(socket, &mut out);
    }
    Ok(())
}

/// One blocking receive with the read-timeout tick: `None` when nothing came
/// (timeout, signal, or an ICMP error left over from an earlier send).
pub fn recv_datagram(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<Option<(usize, SocketAddr)>> {
    match socket.recv_from(buf) {
        Ok(r) => Ok(Some(r)),
        Err(e) if sys::would_block(&e) || e.kind() == io::ErrorKind::ConnectionRefused => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sends every queued datagram on a blocking socket (dropping ones the OS rejects).
pub fn send_all(socket: &UdpSocket, out: &mut Vec<(SocketAddr, Vec<u8>)>) {
    for (to, bytes) in out.drain(..) {
        let _ = socket.send_to(&bytes, to);
    }
}

/// The course's echo loop as a blocking handler: `recv` into a buffer, `send`
/// it all back, until the peer closes, idles out, or shutdown finds it idle.
pub fn run_blocking_echo(conn: Connection) -> io::Result<()> {
    use std::io::Write;
    let Connection {
        stream,
        shutdown,
        idle_timeout,
        ..
    } = conn;
    stream.set_nonblocking(false)?;
    stream.set_nodelay();
    stream.set_read_timeout(Some(TICK))?;
    let fd = stream.as_fd();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut last = Instant::now();
    loop {
        let n = if shutdown.is_set() {
            match sys::recv_now(fd, &mut buf) {
                Ok(n) => n,
                Err(_) => break,
            }
        } else {
            match (&stream).read(&mut buf) {
                Ok(n) => n,
                Err(e) if sys::would_block(&e) => {
                    if idle_timeout.is_some_and(|t| last.elapsed() >= t) {
                        break;
                    }
                    continue;
                }
                Err(_) => break,
            }
        };
        if n == 0 {
            break;
        }
        last = Instant::now();
        stream.set_write_timeout(idle_timeout)?;
        if (&stream).write_all(&buf[..n]).is_err() {
            break;
        }
    }
    sys::graceful_close(fd);
    Ok(())
}
