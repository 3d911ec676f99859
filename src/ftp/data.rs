//! Data connections: passive listeners, active connections, and the
//! transfers over them.
//!
//! `PASV`/`EPSV` open a [`Passive`] listener on the control connection's local
//! address, within `--passive-ports` when given. The next transfer command
//! accepts one connection on it, only from the control connection's peer
//! address (so nobody else can grab the data) and only within the passive
//! timeout. `PORT`/`EPRT` make [`connect_active`] connect out, only ever to
//! the control connection's peer (checked by the caller). Transfers run
//! under a [`Watch`]: its [`Clock`] aborts them after the idle timeout
//! without progress or a shutdown past its grace period, it keeps an eye on
//! the control connection (an `ABOR` stops the transfer at once), and it
//! paces them to `--rate-limit`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::channel::Channel;
use crate::disk::atomic::AtomicFile;
use crate::server::Shutdown;
use crate::server::shutdown::TICK;
use crate::sys;

/// Bytes read from a data connection at a time during uploads.
const RECV_CHUNK: usize = 256 * 1024;

/// Bytes handed to one `sendfile` call during downloads.
const SEND_CHUNK: u64 = 16 << 20;

/// Bytes of a file read and encrypted at a time during TLS downloads.
const TLS_PIECE: usize = 64 * 1024;

/// When a blocking transfer must give up.
#[derive(Debug, Clone)]
pub struct Clock {
    /// Abort after this long without progress.
    pub idle: Option<Duration>,
    /// The server's stop flag.
    pub shutdown: Shutdown,
    /// How long in-flight work may go on after a stop was requested.
    pub grace: Duration,
    /// Last time bytes moved.
    pub last: Instant,
}

impl Clock {
    /// Records progress.
    pub fn progress(&mut self) {
        self.last = Instant::now();
    }

    /// An error if the transfer has stalled too long or the shutdown deadline passed.
    pub fn check(&self) -> io::Result<()> {
        if self.idle.is_some_and(|t| self.last.elapsed() >= t) {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no progress"));
        }
        if self.shutdown.past_deadline(self.grace) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "server stopping",
            ));
        }
        Ok(())
    }
}

/// How often a transfer that is moving looks at the control connection for ABOR.
const LOOK_EVERY: Duration = Duration::from_millis(20);

/// Control bytes buffered during a transfer at most (later ones wait in the kernel).
const MAX_PENDING: usize = 16 * 1024;

/// Why a transfer stopped before its end at the client's word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Interrupt {
    /// `ABOR` arrived on the control connection.
    #[error("transfer aborted by ABOR")]
    Abort,
    /// The control connection closed during an upload (the client is gone).
    #[error("control connection closed")]
    ControlClosed,
}

impl From<Interrupt> for io::Error {
    fn from(i: Interrupt) -> io::Error {
        io::Error::new(io::ErrorKind::ConnectionAborted, i)
    }
}

/// The [`Interrupt`] inside `e`, if it is one.
pub fn interrupt_of(e: &io::Error) -> Option<Interrupt> {
    e.get_ref()?.downcast_ref::<Interrupt>().copied()
}

/// What a transfer keeps an eye on besides its data socket: the clock, the
/// control connection (for ABOR) and the rate limit.
#[derive(Debug)]
pub struct Watch<'a> {
    /// Idle and shutdown limits.
    pub clock: Clock,
    /// The control connection and the bytes read from it and not yet carried out.
    control: Option<(&'a mut Channel, &'a mut Vec<u8>)>,
    /// True if a closed control connection aborts the transfer (uploads).
    eof_aborts: bool,
    /// Set once the control connection has closed.
    control_eof: bool,
    /// When to look at the control connection next.
    next_look: Instant,
    /// Bytes per second at most.
    rate: Option<u64>,
    /// When the transfer started, and bytes moved since.
    started: Instant,
    moved: u64,
}

impl<'a> Watch<'a> {
    /// Bytes moved so far (for the transfer log).
    pub fn bytes(&self) -> u64 {
        self.moved
    }

    /// A watch that only keeps time.
    pub fn new(clock: Clock) -> Watch<'a> {
        let now = Instant::now();
        Watch {
            clock,
            control: None,
            eof_aborts: false,
            control_eof: false,
            next_look: now + LOOK_EVERY,
            rate: None,
            started: now,
            moved: 0,
        }
    }

    /// Also watches the control connection `stream`, buffering what arrives
    /// into `pending` (an `ABOR` line is taken out and stops the transfer);
    /// `eof_aborts`: its closing stops the transfer too.
    pub fn control(
        mut self,
        stream: &'a mut Channel,
        pending: &'a mut Vec<u8>,
        eof_aborts: bool,
    ) -> Self {
        self.control = Some((stream, pending));
        self.eof_aborts = eof_aborts;
        self
    }

    /// Paces the transfer to `rate` bytes per second.
    pub fn rate(mut self, rate: Option<u64>) -> Self {
        self.rate = rate.filter(|&r| r > 0);
        self
    }

    /// How many bytes to move in one step, at most `max`: a tenth of a
    /// second's worth under a rate limit.
    pub fn step(&self, max: u64) -> u64 {
        match self.rate {
            Some(r) => max.min((r / 10).max(1)),
            None => max,
        }
    }

    /// Records `n` bytes moved: progress for the clock, then a pause if the
    /// rate limit is ahead, and now and then a look at the control connection.
    pub fn moved(&mut self, n: u64) -> io::Result<()> {
        self.clock.progress();
        self.moved += n;
        if let Some(rate) = self.rate {
            let due = Duration::from_secs_f64(self.moved as f64 / rate as f64);
            loop {
                let ahead = due.saturating_sub(self.started.elapsed());
                if ahead.is_zero() {
                    break;
                }
                std::thread::sleep(ahead.min(LOOK_EVERY));
                self.look()?;
                self.clock.check()?;
                self.clock.progress(); // waiting on purpose is not stalling
            }
        }
        if Instant::now() >= self.next_look {
            self.look()?;
        }
        Ok(())
    }

    /// Called when the data socket would block: the clock's limits and a look
    /// at the control connection.
    pub fn stalled(&mut self) -> io::Result<()> {
        self.clock.check()?;
        self.look()
    }

    /// True if the control connection was seen closing.
    pub fn control_closed(&self) -> bool {
        self.control_eof
    }

    /// Reads what the control connection has, without waiting; an `ABOR` (or
    /// its closing, when that aborts) ends the transfer with an [`Interrupt`].
    fn look(&mut self) -> io::Result<()> {
        self.next_look = Instant::now() + LOOK_EVERY;
        let Some((stream, pending)) = self.control.as_mut() else {
            return Ok(());
        };
        if !self.control_eof && pending.len() < MAX_PENDING {
            let mut chunk = [0u8; 1024];
            match stream.read_now(&mut chunk) {
                Ok(0) => self.control_eof = true,
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
                Err(e) if sys::would_block(&e) => {}
                Err(_) => self.control_eof = true,
            }
        }
        if take_abort(pending) {
            return Err(Interrupt::Abort.into());
        }
        // RFC 959: STAT during a transfer tells how it is going.
        if take_line(pending, super::command::is_bare_stat) {
            let msg = format!(
                "213 Status: transfer in progress, {} bytes moved\r\n",
                self.moved
            );
            let _ = stream.send_now(msg.as_bytes());
        }
        if self.control_eof && self.eof_aborts {
            return Err(Interrupt::ControlClosed.into());
        }
        Ok(())
    }
}

/// Takes the first complete `ABOR` line out of `pending`; true if there was one.
/// Other commands stay, to be carried out after the transfer.
pub fn take_abort(pending: &mut Vec<u8>) -> bool {
    take_line(pending, super::command::is_abort)
}

/// Takes the first complete line that `pick` accepts out of `pending`.
fn take_line(pending: &mut Vec<u8>, pick: impl Fn(&[u8]) -> bool) -> bool {
    let mut at = 0;
    while let Ok((line, used)) = crate::wire::line::parse(&pending[at..], MAX_PENDING) {
        if pick(line) {
            pending.drain(at..at + used);
            return true;
        }
        at += used;
    }
    false
}

/// Connects to the client's `to` for an active-mode transfer, from our
/// address `local_ip` and, when it can be had, `source_port` (RFC 959's
/// default data port, one below the control port), within `timeout`.
pub fn connect_active(
    local_ip: IpAddr,
    source_port: u16,
    to: SocketAddr,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let connect = |port: u16| -> io::Result<TcpStream> {
        let sock = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
        sock.set_reuse_address(true)?;
        sock.bind(&SocketAddr::new(local_ip, port).into())?;
        sock.connect_timeout(&to.into(), timeout)?;
        Ok(sock.into())
    };
    // The default data port may be busy (in use by a listener, or its last
    // connection to this very address still in TIME_WAIT): any port then.
    let stream = match source_port {
        0 => connect(0)?,
        port => match connect(port) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(e),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(e),
            Err(_) => connect(0)?,
        },
    };
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(TICK))?;
    Ok(stream)
}

/// A passive-mode listener waiting for the client's data connection.
#[derive(Debug)]
pub struct Passive {
    /// The listening socket.
    listener: TcpListener,
}

impl Passive {
    /// Listens on `ip`, on a port in `ports` (inclusive) or any free port.
    pub fn open(ip: IpAddr, ports: Option<(u16, u16)>) -> io::Result<Passive> {
        let Some((lo, hi)) = ports else {
            return Ok(Passive {
                listener: listen(SocketAddr::new(ip, 0))?,
            });
        };
        let span = u32::from(hi - lo) + 1;
        // Start somewhere different each time so concurrent sessions rarely collide.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            ^ std::process::id();
        for i in 0..span {
            let port = lo + ((seed.wrapping_add(i)) % span) as u16;
            match listen(SocketAddr::new(ip, port)) {
                Ok(listener) => return Ok(Passive { listener }),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "every passive port is in use",
        ))
    }

    /// The port the client should connect to.
    pub fn port(&self) -> io::Result<u16> {
        Ok(self.listener.local_addr()?.port())
    }

    /// Waits up to `timeout` for the data connection from `peer_ip`; connections
    /// from other addresses are closed and ignored.
    pub fn accept(
        self,
        peer_ip: IpAddr,
        timeout: Duration,
        clock: &Clock,
    ) -> io::Result<TcpStream> {
        self.listener.set_nonblocking(true)?;
        let until = Instant::now() + timeout;
        loop {
            match self.listener.accept() {
                Ok((stream, from)) => {
                    if canonical_ip(from.ip()) != canonical_ip(peer_ip) {
                        continue; // not our client: drop it
                    }
                    stream.set_nonblocking(false)?;
                    stream.set_read_timeout(Some(TICK))?;
                    stream.set_write_timeout(Some(TICK))?;
                    return Ok(stream);
                }
                Err(e) if sys::would_block(&e) => {}
                Err(e) => return Err(e),
            }
            if Instant::now() >= until {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no data connection in time",
                ));
            }
            clock.check()?;
            sys::wait_readable(self.listener.as_fd(), TICK.as_millis() as u16);
        }
    }
}

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1)?;
    Ok(sock.into())
}

/// IPv4-mapped IPv6 addresses as plain IPv4, so both spellings compare equal.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Writes all of `data` (and, over TLS, sends it all), waiting out a slow
/// reader within the watch's limits.
pub fn send_bytes(stream: &mut Channel, data: &[u8], watch: &mut Watch<'_>) -> io::Result<()> {
    write_watched(stream, data, watch)?;
    flush_watched(stream, watch)
}

/// Writes all of `data` into `stream` (over TLS some may still wait in it).
fn write_watched(stream: &mut Channel, data: &[u8], watch: &mut Watch<'_>) -> io::Result<()> {
    let mut sent = 0;
    while sent < data.len() {
        let end = sent + watch.step((data.len() - sent) as u64) as usize;
        match stream.write(&data[sent..end]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                sent += n;
                watch.moved(n as u64)?;
            }
            Err(e) if sys::would_block(&e) => watch.stalled()?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends what TLS still holds, waiting within the watch's limits.
fn flush_watched(stream: &mut Channel, watch: &mut Watch<'_>) -> io::Result<()> {
    loop {
        match stream.flush() {
            Ok(()) => return Ok(()),
            Err(e) if sys::would_block(&e) => watch.stalled()?,
            Err(e) => return Err(e),
        }
    }
}

/// Sends `len` bytes of `file` from `offset`; returns the bytes sent. A
/// plain connection uses `sendfile(2)`; TLS reads the file in pieces of
/// [`TLS_PIECE`] and encrypts them.
pub fn send_file(
    stream: &mut Channel,
    file: &File,
    offset: u64,
    len: u64,
    watch: &mut Watch<'_>,
) -> io::Result<u64> {
    let end = offset + len;
    let Some(tcp) = stream.plain() else {
        let mut piece = vec![0u8; TLS_PIECE.min(len as usize)];
        let mut off = offset;
        while off < end {
            let want = watch.step((end - off).min(TLS_PIECE as u64)) as usize;
            let n = file.read_at(&mut piece[..want], off)?;
            if n == 0 {
                break; // the file shrank: send what there is
            }
            write_watched(stream, &piece[..n], watch)?;
            off += n as u64;
        }
        flush_watched(stream, watch)?;
        return Ok(off - offset);
    };
    let mut off = offset;
    while off < end {
        let count = watch.step((end - off).min(SEND_CHUNK));
        match sys::sendfile(tcp.as_fd(), file.as_fd(), &mut off, count) {
            Ok(0) => break, // the file shrank: send what there is
            Ok(n) => watch.moved(n as u64)?,
            Err(e) if sys::would_block(&e) => watch.stalled()?,
            Err(e) => return Err(e),
        }
    }
    Ok(off - offset)
}

/// Why an upload failed.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The data connection failed or stalled.
    #[error("data connection: {0}")]
    Net(io::Error),
    /// Writing the file failed (disk full, for example).
    #[error("{0}")]
    Disk(io::Error),
}

/// Copies the data connection into `file` until the client closes it; returns the byte count.
/// On a plain connection the bytes move with `splice(2)` (socket -> pipe ->
/// file, never through user space); over TLS, or where a pipe cannot be
/// had, through a buffer.
pub fn receive(
    stream: &mut Channel,
    file: &mut AtomicFile,
    watch: &mut Watch<'_>,
) -> Result<u64, ReceiveError> {
    if let Some(tcp) = stream.plain()
        && let Ok(pipe) = sys::Pipe::new()
    {
        return splice_into(tcp, &pipe, file, watch);
    }
    let mut total = 0u64;
    let mut buf = vec![0u8; RECV_CHUNK];
    loop {
        let step = watch.step(RECV_CHUNK as u64) as usize;
        match stream.read(&mut buf[..step]) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                file.write_all(&buf[..n]).map_err(ReceiveError::Disk)?;
                total += n as u64;
                watch.moved(n as u64).map_err(ReceiveError::Net)?;
            }
            Err(e) if sys::would_block(&e) => watch.stalled().map_err(ReceiveError::Net)?,
            Err(e) => return Err(ReceiveError::Net(e)),
        }
    }
}

/// [`receive`] on a plain socket, through `pipe`.
fn splice_into(
    tcp: &TcpStream,
    pipe: &sys::Pipe,
    file: &mut AtomicFile,
    watch: &mut Watch<'_>,
) -> Result<u64, ReceiveError> {
    let mut total = 0u64;
    loop {
        let to = file.file().as_fd();
        let step = watch.step(pipe.capacity() as u64) as usize;
        match sys::splice_to_file(pipe, tcp.as_fd(), to, step) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                file.wrote(n as u64);
                total += n as u64;
                watch.moved(n as u64).map_err(ReceiveError::Net)?;
            }
            Err(sys::SpliceError::Source(e)) if sys::would_block(&e) => {
                watch.stalled().map_err(ReceiveError::Net)?
            }
            Err(sys::SpliceError::Source(e)) => return Err(ReceiveError::Net(e)),
            Err(sys::SpliceError::Dest { err, .. }) => return Err(ReceiveError::Disk(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abort_lines_are_taken_out_of_pending_commands() {
        let mut p = b"NOOP\r\n\xff\xf4\xff\xf2ABOR\r\nPWD\r\nLI".to_vec();
        assert!(take_abort(&mut p));
        assert_eq!(p, b"NOOP\r\nPWD\r\nLI");
        assert!(!take_abort(&mut p));
        let mut half = b"ABO".to_vec();
        assert!(!take_abort(&mut half));
        half.extend_from_slice(b"R\n");
        assert!(take_abort(&mut half));
        assert!(half.is_empty());
        let mut p = b"NOOP\r\nstat\r\nSTAT x\r\n".to_vec();
        assert!(take_line(&mut p, crate::ftp::command::is_bare_stat));
        assert_eq!(p, b"NOOP\r\nSTAT x\r\n");
        assert!(!take_line(&mut p, crate::ftp::command::is_bare_stat));
    }

    #[test]
    fn interrupts_survive_io_errors() {
        let e: io::Error = Interrupt::Abort.into();
        assert_eq!(interrupt_of(&e), Some(Interrupt::Abort));
        assert_eq!(interrupt_of(&io::Error::other("x")), None);
    }

    #[test]
    fn rate_limited_steps_are_a_tenth_of_a_second() {
        let clock = Clock {
            idle: None,
            shutdown: Shutdown::new(),
            grace: Duration::ZERO,
            last: Instant::now(),
        };
        let w = Watch::new(clock).rate(Some(1000));
        assert_eq!(w.step(1 << 20), 100);
        assert_eq!(w.step(10), 10);
        let w = w.rate(None);
        assert_eq!(w.step(1 << 20), 1 << 20);
    }
}
