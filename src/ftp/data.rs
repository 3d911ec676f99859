//! Data connections: passive listeners and the transfers over them.
//!
//! `PASV`/`EPSV` open a [`Passive`] listener on the control connection's local
//! address, within `--passive-ports` when given. The next transfer command
//! accepts one connection on it, only from the control connection's peer
//! address (so nobody else can grab the data) and only within the passive
//! timeout. Transfers are bounded in time by a [`Clock`]: no progress for the
//! idle timeout, or a shutdown past its grace period, aborts them.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::disk::atomic::AtomicFile;
use crate::server::Shutdown;
use crate::server::shutdown::TICK;
use crate::sys;

/// Bytes read from a data connection at a time during uploads.
const RECV_CHUNK: usize = 256 * 1024;

/// Bytes handed to one `sendfile` call during downloads.
const SEND_CHUNK: u64 = 16 << 20;

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

/// Writes all of `data`, waiting out a slow reader within the clock's limits.
pub fn send_bytes(stream: &mut TcpStream, data: &[u8], clock: &mut Clock) -> io::Result<()> {
    let mut sent = 0;
    while sent < data.len() {
        match stream.write(&data[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                sent += n;
                clock.progress();
            }
            Err(e) if sys::would_block(&e) => clock.check()?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends `len` bytes of `file` from `offset` with `sendfile(2)`; returns the bytes sent.
pub fn send_file(
    stream: &TcpStream,
    file: &File,
    offset: u64,
    len: u64,
    clock: &mut Clock,
) -> io::Result<u64> {
    let mut off = offset;
    let end = offset + len;
    while off < end {
        let count = (end - off).min(SEND_CHUNK);
        match sys::sendfile(stream.as_fd(), file.as_fd(), &mut off, count) {
            Ok(0) => break, // the file shrank: send what there is
            Ok(_) => clock.progress(),
            Err(e) if sys::would_block(&e) => clock.check()?,
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
/// The bytes move with `splice(2)` (socket -> pipe -> file, never through user
/// space); where a pipe cannot be had, through a buffer.
pub fn receive(
    stream: &mut TcpStream,
    file: &mut AtomicFile,
    clock: &mut Clock,
) -> Result<u64, ReceiveError> {
    let mut total = 0u64;
    if let Ok(pipe) = sys::Pipe::new() {
        loop {
            let to = file.file().as_fd();
            match sys::splice_to_file(&pipe, stream.as_fd(), to, pipe.capacity()) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    file.wrote(n as u64);
                    total += n as u64;
                    clock.progress();
                }
                Err(sys::SpliceError::Source(e)) if sys::would_block(&e) => {
                    clock.check().map_err(ReceiveError::Net)?
                }
                Err(sys::SpliceError::Source(e)) => return Err(ReceiveError::Net(e)),
                Err(sys::SpliceError::Dest { err, .. }) => return Err(ReceiveError::Disk(err)),
            }
        }
    }
    let mut buf = vec![0u8; RECV_CHUNK];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                file.write_all(&buf[..n]).map_err(ReceiveError::Disk)?;
                total += n as u64;
                clock.progress();
            }
            Err(e) if sys::would_block(&e) => clock.check().map_err(ReceiveError::Net)?,
            Err(e) => return Err(ReceiveError::Net(e)),
        }
    }
}
