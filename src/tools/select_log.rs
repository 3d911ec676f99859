//! `netkit select-log --port P --log FILE`: the course's select(2) homework.
//!
//! One thread and one `select` call watch three kinds of descriptor at once:
//! the listening socket (a new client), every connected client (a line from
//! it), and the terminal (a line typed by the operator). Every complete line,
//! from any of them, is appended to FILE with a UTC timestamp and its source:
//!
//! ```text
//! $ netkit select-log --port 7777 --log chat.log   # prints: listening on tcp://127.0.0.1:7777
//! $ nc 127.0.0.1 7777                               # type lines in another terminal
//! $ cat chat.log
//! 2026-05-01T10:00:00.123Z [tcp 127.0.0.1:53122] hello from a client
//! 2026-05-01T10:00:02.456Z [stdin] hello from the terminal
//! ```
//!
//! Things the homework teaches, handled here:
//! - select reports readiness of the *descriptor*, so stdin is read with a raw
//!   `read(0)`: a buffered reader could hold lines select never hears about.
//! - A client may send half a line, or many lines, per read; lines are
//!   reassembled per client, and a partial last line is still logged when the
//!   client disconnects. Lines longer than 64 KiB are logged in pieces.
//! - An `fd_set` holds descriptors below FD_SETSIZE (1024) only. A client
//!   whose descriptor would be larger is told so in one line and closed,
//!   instead of corrupting memory (use poll or epoll to go past it).
//! - End of input on stdin (Ctrl-D, or stdin not a terminal) stops watching it;
//!   the server goes on with its clients. Ctrl-C or SIGTERM stops the server.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::select::{FdSet, select};
use nix::sys::time::TimeVal;

use crate::server::Shutdown;
use crate::server::shutdown::TICK;

/// The largest descriptor select(2) can watch, plus one.
pub const FD_SETSIZE: RawFd = libc::FD_SETSIZE as RawFd;
/// Longest line kept whole; longer ones are logged in pieces of this size.
pub const MAX_LINE: usize = 64 * 1024;

/// Where a line came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The terminal (standard input).
    Stdin,
    /// A TCP client.
    Client(SocketAddr),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Stdin => f.write_str("stdin"),
            Source::Client(a) => write!(f, "tcp {a}"),
        }
    }
}

/// Splits a byte stream into lines, keeping the unfinished tail.
#[derive(Debug, Default)]
pub struct LineBuffer {
    /// Bytes after the last newline seen.
    pending: Vec<u8>,
}

impl LineBuffer {
    /// Adds bytes; returns every line they complete (without `\n` or `\r\n`).
    /// A line reaching [`MAX_LINE`] bytes without a newline is returned as is.
    pub fn push(&mut self, data: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        for &b in data {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.pending);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                lines.push(line);
            } else {
                self.pending.push(b);
                if self.pending.len() >= MAX_LINE {
                    lines.push(std::mem::take(&mut self.pending));
                }
            }
        }
        lines
    }

    /// The unfinished last line, if any (at end of input).
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }
}

/// One log line: `<UTC timestamp> [<source>] <text>\n`.
pub fn format_entry(when: SystemTime, source: &Source, line: &[u8]) -> String {
    format!(
        "{} [{source}] {}\n",
        utc_timestamp(when),
        String::from_utf8_lossy(line)
    )
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a time after 1970.
pub fn utc_timestamp(when: SystemTime) -> String {
    let d = when.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Lines appended to the log.
    pub lines: u64,
    /// Clients accepted and watched.
    pub clients: u64,
    /// Clients refused because their descriptor was >= FD_SETSIZE.
    pub refused: u64,
}

/// A connected client and its unfinished line.
struct Client {
    /// The connection (non-blocking).
    stream: TcpStream,
    /// Its address, the source tag of its lines.
    source: Source,
    /// Bytes after its last newline.
    lines: LineBuffer,
}

/// The descriptors one select(2) call found readable, copied out of its
/// `fd_set` by number (so the sockets can be used mutably while it is consulted).
struct Ready {
    bits: [u64; FD_SETSIZE as usize / 64],
}

impl Ready {
    fn has(&self, fd: RawFd) -> bool {
        (0..FD_SETSIZE).contains(&fd) && self.bits[fd as usize / 64] >> (fd % 64) & 1 != 0
    }
}

/// select(2) for reading on `fds`, up to one tick. Returns the count of ready
/// descriptors and which they are.
fn select_readable<'a>(fds: impl IntoIterator<Item = BorrowedFd<'a>>) -> io::Result<(i32, Ready)> {
    let mut set = FdSet::new();
    let mut max: RawFd = -1;
    for fd in fds {
        assert!(
            (0..FD_SETSIZE).contains(&fd.as_raw_fd()),
            "descriptor admitted below FD_SETSIZE"
        );
        max = max.max(fd.as_raw_fd());
        set.insert(fd);
    }
    let mut tv = TimeVal::new(0, TICK.as_micros() as libc::suseconds_t);
    // max + 1 bounds every descriptor in the set.
    let n = select(max + 1, &mut set, None, None, &mut tv)?;
    let mut ready = Ready {
        bits: [0; FD_SETSIZE as usize / 64],
    };
    for fd in set.fds(Some(max)) {
        let fd = fd.as_raw_fd() as usize;
        ready.bits[fd / 64] |= 1 << (fd % 64);
    }
    Ok((n, ready))
}

/// The server: listener, clients, terminal and log file.
pub struct SelectLog<'a> {
    /// The listening socket (non-blocking).
    listener: TcpListener,
    /// The log, opened for appending.
    log: File,
    /// Connected clients.
    clients: Vec<Client>,
    /// Unfinished terminal line; `None` once stdin is no longer watched.
    stdin: Option<LineBuffer>,
    /// Where connect/disconnect notes go (stderr in the CLI).
    status: &'a mut dyn Write,
    /// Counters.
    stats: Stats,
}

impl<'a> SelectLog<'a> {
    /// Prepares the loop. Fails if the listener's descriptor is too large for select.
    pub fn new(
        listener: TcpListener,
        log: File,
        watch_stdin: bool,
        status: &'a mut dyn Write,
    ) -> io::Result<Self> {
        if listener.as_raw_fd() >= FD_SETSIZE {
            return Err(io::Error::other(format!(
                "the listening descriptor {} is >= FD_SETSIZE ({FD_SETSIZE}); select(2) cannot watch it",
                listener.as_raw_fd()
            )));
        }
        listener.set_nonblocking(true)?;
        Ok(SelectLog {
            listener,
            log,
            clients: Vec::new(),
            stdin: watch_stdin.then(LineBuffer::default),
            status,
            stats: Stats::default(),
        })
    }

    /// Runs until `shutdown`, then logs any unfinished lines and returns the counters.
    pub fn run(mut self, shutdown: &Shutdown) -> io::Result<Stats> {
        let stdin = io::stdin();
        while !shutdown.is_set() {
            let watched = std::iter::once(self.listener.as_fd())
                .chain(self.stdin.is_some().then(|| stdin.as_fd()))
                .chain(self.clients.iter().map(|c| c.stream.as_fd()));
            let set = match select_readable(watched) {
                Ok((0, _)) => continue,
                Ok((_, set)) => set,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if set.has(self.listener.as_raw_fd()) {
                self.accept_all()?;
            }
            if self.stdin.is_some() && set.has(libc::STDIN_FILENO) {
                self.read_stdin()?;
            }
            let mut i = 0;
            while i < self.clients.len() {
                let fd = self.clients[i].stream.as_raw_fd();
                if set.has(fd) && !self.read_client(i)? {
                    let mut c = self.clients.swap_remove(i);
                    if let Some(tail) = c.lines.finish() {
                        self.append(&c.source, &tail)?;
                    }
                    writeln!(self.status, "netkit select-log: {} disconnected", c.source)?;
                    continue;
                }
                i += 1;
            }
        }
        for i in 0..self.clients.len() {
            if let Some(tail) = self.clients[i].lines.finish() {
                let source = self.clients[i].source.clone();
                self.append(&source, &tail)?;
            }
        }
        if let Some(tail) = self.stdin.as_mut().and_then(LineBuffer::finish) {
            self.append(&Source::Stdin, &tail)?;
        }
        Ok(self.stats)
    }

    fn append(&mut self, source: &Source, line: &[u8]) -> io::Result<()> {
        // One write per entry on an O_APPEND file: entries never interleave.
        self.log
            .write_all(format_entry(SystemTime::now(), source, line).as_bytes())?;
        self.stats.lines += 1;
        Ok(())
    }

    fn accept_all(&mut self) -> io::Result<()> {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    let fd = stream.as_raw_fd();
                    if fd >= FD_SETSIZE {
                        self.stats.refused += 1;
                        let msg = format!(
                            "netkit select-log: server full: descriptor {fd} >= FD_SETSIZE ({FD_SETSIZE}), \
                             which select(2) cannot watch\n"
                        );
                        let _ = (&stream).write_all(msg.as_bytes());
                        write!(
                            self.status,
                            "{}",
                            msg.replace("server full", &format!("refused {peer}"))
                        )?;
                        continue; // dropping the stream closes it
                    }
                    stream.set_nonblocking(true)?;
                    self.stats.clients += 1;
                    writeln!(self.status, "netkit select-log: tcp {peer} connected")?;
                    self.clients.push(Client {
                        stream,
                        source: Source::Client(peer),
                        lines: LineBuffer::default(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Out of descriptors or a connection reset before accept: say so, keep serving.
                Err(e) => {
                    writeln!(self.status, "netkit select-log: accept: {e}")?;
                    return Ok(());
                }
            }
        }
    }

    fn read_stdin(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        // A raw read(2) of descriptor 0, not io::stdin()'s reader: its buffer
        // would hide lines from select.
        let n = match nix::unistd::read(io::stdin().as_fd(), &mut buf) {
            Ok(n) => n,
            Err(errno) => {
                let e = io::Error::from(errno);
                return match e.kind() {
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => Ok(()),
                    _ => Err(e),
                };
            }
        };
        let Some(lines) = self.stdin.as_mut() else {
            return Ok(());
        };
        if n == 0 {
            let tail = lines.finish();
            self.stdin = None;
            if let Some(t) = tail {
                self.append(&Source::Stdin, &t)?;
            }
            writeln!(
                self.status,
                "netkit select-log: end of stdin; still serving clients"
            )?;
            return Ok(());
        }
        for line in lines.push(&buf[..n]) {
            self.append(&Source::Stdin, &line)?;
        }
        Ok(())
    }

    /// Reads what client `i` sent; false once it has disconnected.
    fn read_client(&mut self, i: usize) -> io::Result<bool> {
        let mut buf = [0u8; 4096];
        let n = match self.clients[i].stream.read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(true);
            }
            Err(_) => return Ok(false), // reset by the peer: treat as a disconnect
        };
        let source = self.clients[i].source.clone();
        for line in self.clients[i].lines.push(&buf[..n]) {
            self.append(&source, &line)?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lines_are_reassembled() {
        let mut b = LineBuffer::default();
        assert!(b.push(b"hel").is_empty());
        assert_eq!(b.push(b"lo\r\nwor"), vec![b"hello".to_vec()]);
        assert_eq!(b.push(b"ld\n\nx"), vec![b"world".to_vec(), b"".to_vec()]);
        assert_eq!(b.finish(), Some(b"x".to_vec()));
        assert_eq!(b.finish(), None);
    }

    #[test]
    fn long_lines_come_in_pieces() {
        let mut b = LineBuffer::default();
        let lines = b.push(&vec![b'a'; MAX_LINE * 2 + 5]);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.len() == MAX_LINE));
        assert_eq!(b.finish().map(|t| t.len()), Some(5));
    }

    #[test]
    fn timestamps_are_utc_iso8601() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_000 + 3_723_456); // 2000-02-29
        assert_eq!(utc_timestamp(t), "2000-02-29T01:02:03.456Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_735_689_599); // last second of 2024
        assert_eq!(utc_timestamp(t), "2024-12-31T23:59:59.000Z");
        let e = format_entry(UNIX_EPOCH, &Source::Stdin, b"hi");
        assert_eq!(e, "1970-01-01T00:00:00.000Z [stdin] hi\n");
    }
}
