//! The netkit file protocol's client: list, download and upload over one connection.
//!
//! [`Client`] speaks the protocol; [`download`] and [`upload`] add what a user
//! expects around it: downloads go to a temporary file renamed into place only
//! when every byte arrived (or to stdout), existing local files are kept unless
//! forced, and uploads stream the file with `sendfile(2)`. Errors say whether
//! the server refused ([`ClientError::Refused`]), the connection failed
//! ([`ClientError::Network`]) or a local file did ([`ClientError::Local`]);
//! [`ClientError::exit_code`] turns that into the command's exit status.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use super::library::Entry;
use super::progress::Meter;
use crate::disk::atomic::{AtomicFile, DOWNLOAD_PREFIX};
use crate::sys;
use crate::wire::frame::{self, MAX_FRAME};

/// The port `netkit files serve` uses unless told otherwise.
pub const DEFAULT_PORT: u16 = 7070;

/// Size of the buffer downloads are read into.
const RECV_CHUNK: usize = 1 << 20;

/// Largest piece of an upload handed to one `sendfile` call (so progress moves).
const SEND_CHUNK: u64 = 8 << 20;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered `ERR <reason>`.
    #[error("server refused: {0}")]
    Refused(String),
    /// Connecting failed, the connection broke, or the server broke the protocol.
    #[error("{0}")]
    Network(String),
    /// A local file could not be read or written.
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    /// Exit status for the command line: 3 refused by the server, 4 network or
    /// protocol failure, 1 local failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Refused(_) => 3,
            ClientError::Network(_) => 4,
            ClientError::Local(_) => 1,
        }
    }

    fn net(what: &str, e: io::Error) -> ClientError {
        let why = match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                "timed out waiting for the server".to_string()
            }
            io::ErrorKind::UnexpectedEof => "the server closed the connection".to_string(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                "the server closed the connection".to_string()
            }
            _ => e.to_string(),
        };
        ClientError::Network(format!("{what}: {why}"))
    }
}

/// The connection under a [`Client`]: plain TCP, or TLS over it.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Plain(_) => "Conn::Plain",
            Conn::Tls(_) => "Conn::Tls",
        })
    }
}

impl Conn {
    /// The socket (for splice and sendfile: plain connections only).
    fn plain(&self) -> Option<&TcpStream> {
        match self {
            Conn::Plain(s) => Some(s),
            Conn::Tls(_) => None,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// One connection to a files server.
#[derive(Debug)]
pub struct Client {
    /// The connection (blocking, with read/write timeouts).
    stream: Conn,
    /// Who we talk to, for messages.
    peer: SocketAddr,
}

/// The host part of `HOST`, `HOST:PORT` or `[IPv6]:PORT`.
fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
        _ => addr,
    }
}

impl Client {
    /// Connects to `addr`; `timeout` bounds the connect and every later wait.
    pub fn connect(addr: &str, timeout: Duration) -> Result<Client, ClientError> {
        Client::connect_with(addr, timeout, None)
    }

    /// Connects to `addr` over TLS, checking the server's certificate with
    /// `tls` against the host named in `addr`.
    pub fn connect_tls(
        addr: &str,
        timeout: Duration,
        tls: &crate::tls::ClientTls,
    ) -> Result<Client, ClientError> {
        Client::connect_with(addr, timeout, Some(tls))
    }

    fn connect_with(
        addr: &str,
        timeout: Duration,
        tls: Option<&crate::tls::ClientTls>,
    ) -> Result<Client, ClientError> {
        let mut plain = Client::connect_tcp(addr, timeout)?;
        let Some(tls) = tls else {
            return Ok(plain);
        };
        let Conn::Plain(tcp) = plain.stream else {
            unreachable!("connect_tcp makes plain connections")
        };
        let mut conn = tls
            .connection(host_of(addr))
            .map_err(ClientError::Network)?;
        let mut tcp = tcp;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut tcp) {
                let untrusted = e.to_string().contains("invalid peer certificate");
                return Err(ClientError::Network(if untrusted {
                    format!(
                        "TLS with {}: {e}; if the server's certificate is self-signed, name it with --cacert",
                        plain.peer
                    )
                } else {
                    format!("TLS with {}: {e}", plain.peer)
                }));
            }
        }
        plain.stream = Conn::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)));
        Ok(plain)
    }

    fn connect_tcp(addr: &str, timeout: Duration) -> Result<Client, ClientError> {
        let addrs = crate::server::net::host_port_all(addr, DEFAULT_PORT)
            .map_err(|e| ClientError::Network(e.to_string()))?;
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    let t = (!timeout.is_zero()).then_some(timeout);
                    stream
                        .set_read_timeout(t)
                        .and_then(|_| stream.set_write_timeout(t))
                        .map_err(|e| ClientError::net("socket", e))?;
                    return Ok(Client {
                        stream: Conn::Plain(stream),
                        peer: a,
                    });
                }
                Err(e) => last = Some((a, e)),
            }
        }
        Err(match last {
            Some((a, e)) => ClientError::Network(crate::server::net::connect_error(a, &e)),
            None => ClientError::Network(format!("cannot connect to {addr}")),
        })
    }

    /// The TCP connection under the protocol (and under TLS, if any): to
    /// watch it, never to read or write it.
    pub fn socket(&self) -> &TcpStream {
        match &self.stream {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The server's regular files.
    pub fn list(&mut self) -> Result<Vec<Entry>, ClientError> {
        self.send("L")?;
        let reply = self.reply()?;
        let Some(body) = reply.strip_prefix("OK") else {
            return Err(bad_reply(&reply));
        };
        body.lines()
            .filter(|l| !l.is_empty())
            .map(|line| {
                let mut parts = line.split('\t');
                let (Some(name), Some(size), Some(mtime), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad_reply(line));
                };
                Ok(Entry {
                    name: name.to_string(),
                    size: size.parse().map_err(|_| bad_reply(line))?,
                    mtime: mtime.parse().map_err(|_| bad_reply(line))?,
                })
            })
            .collect()
    }

    /// Downloads `name` into `sink`, checking that exactly the announced size arrives.
    pub fn get(&mut self, name: &str, sink: Sink<'_>, meter: &Meter) -> Result<u64, ClientError> {
        self.send(&format!("G {name}"))?;
        let reply = self.reply()?;
        let size = reply
            .strip_prefix("OK ")
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad_reply(&reply))?;
        meter.start(size);
        let local = |e: io::Error| ClientError::Local(format!("writing {name}: {e}"));
        match sink {
            Sink::Writer(w) => self.copy_into(w, size, size, meter, local)?,
            Sink::Fd(fd) if self.stream.plain().is_none() => {
                // TLS: the bytes must be decrypted here, so they are copied.
                self.copy_into(&mut FdWriter(fd), size, size, meter, local)?
            }
            Sink::Fd(fd) => {
                let left = self.splice_into(fd, size, meter, local)?;
                self.copy_into(&mut FdWriter(fd), size, left, meter, local)?;
            }
        }
        Ok(size)
    }

    /// Copies the next `left` bytes of the connection into `sink` through a buffer.
    fn copy_into(
        &mut self,
        sink: &mut dyn Write,
        size: u64,
        mut left: u64,
        meter: &Meter,
        local: impl Fn(io::Error) -> ClientError,
    ) -> Result<(), ClientError> {
        let mut buf = vec![0u8; RECV_CHUNK.min(left as usize)];
        while left > 0 {
            let want = buf.len().min(left as usize);
            let n = match self.stream.read(&mut buf[..want]) {
                Ok(0) => return Err(cut_short(size, left)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ClientError::net("download", e)),
            };
            sink.write_all(&buf[..n]).map_err(&local)?;
            left -= n as u64;
            meter.inc(n as u64);
        }
        Ok(())
    }

    /// Moves up to `size` bytes from the connection to `out` inside the kernel with
    /// `splice(2)` (through a pipe unless `out` is one). Returns the bytes still
    /// to receive: non-zero when `out` cannot take spliced data (a terminal, an
    /// append-only file), so the caller copies the rest.
    fn splice_into(
        &mut self,
        out: BorrowedFd<'_>,
        size: u64,
        meter: &Meter,
        local: impl Fn(io::Error) -> ClientError,
    ) -> Result<u64, ClientError> {
        let Some(sock) = self.stream.plain().map(|s| s.as_fd()) else {
            return Ok(size); // TLS: nothing can be spliced
        };
        let mut left = size;
        if is_fifo(out) {
            while left > 0 {
                match sys::splice(sock, out.as_fd(), left.min(SPLICE_CHUNK) as usize) {
                    Ok(0) => return Err(cut_short(size, left)),
                    Ok(n) => {
                        left -= n as u64;
                        meter.inc(n as u64);
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) && left == size => {
                        return Ok(left);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // Either end may have failed; a broken local pipe is the usual case.
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(local(e)),
                    Err(e) => return Err(ClientError::net("download", e)),
                }
            }
            return Ok(0);
        }
        let Ok(pipe) = sys::Pipe::new() else {
            return Ok(left);
        };
        while left > 0 {
            let n = match sys::splice(
                sock,
                pipe.write_end(),
                left.min(pipe.capacity() as u64) as usize,
            ) {
                Ok(0) => return Err(cut_short(size, left)),
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && left == size => {
                    return Ok(left);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ClientError::net("download", e)),
            };
            let mut in_pipe = n as u64;
            while in_pipe > 0 {
                match sys::splice(pipe.read_end(), out.as_fd(), in_pipe as usize) {
                    Ok(m) => in_pipe -= m as u64,
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                        // `out` cannot take spliced data: copy what the pipe holds, then fall back.
                        let mut rest = vec![0u8; in_pipe as usize];
                        let mut reader = File::from(pipe.reader().map_err(&local)?);
                        reader.read_exact(&mut rest).map_err(&local)?;
                        FdWriter(out).write_all(&rest).map_err(&local)?;
                        left -= n as u64;
                        meter.inc(n as u64);
                        return Ok(left);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(local(e)),
                }
            }
            left -= n as u64;
            meter.inc(n as u64);
        }
        Ok(0)
    }

    /// Uploads `size` bytes of `file` as `name`; returns the size the server stored.
    pub fn put(
        &mut self,
        name: &str,
        file: &File,
        size: u64,
        meter: &Meter,
    ) -> Result<u64, ClientError> {
        self.send(&format!("P {name} {size}"))?;
        let reply = self.reply()?;
        if reply != "OK" {
            return Err(bad_reply(&reply));
        }
        meter.start(size);
        let mut offset: u64 = 0;
        if self.stream.plain().is_none() {
            // TLS: read and encrypt (no sendfile through TLS here).
            self.copy_from(file, size, meter)?;
            offset = size;
        }
        while offset < size {
            let count = (size - offset).min(SEND_CHUNK);
            let sock = self.stream.plain().expect("plain connection").as_fd();
            let n = match sys::sendfile(sock, file.as_fd(), &mut offset, count) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ClientError::net("upload", e)),
            };
            if n == 0 {
                return Err(ClientError::Local(format!(
                    "the local file shrank during the upload ({offset} of {size} bytes sent)"
                )));
            }
            meter.inc(n as u64);
        }
        let reply = self.reply()?;
        match reply
            .strip_prefix("OK ")
            .and_then(|s| s.parse::<u64>().ok())
        {
            Some(stored) if stored == size => Ok(stored),
            Some(stored) => Err(ClientError::Network(format!(
                "the server stored {stored} bytes, expected {size}"
            ))),
            None => Err(bad_reply(&reply)),
        }
    }

    /// Sends `size` bytes of `file` through the connection with reads and writes.
    fn copy_from(&mut self, file: &File, size: u64, meter: &Meter) -> Result<(), ClientError> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; RECV_CHUNK.min(size as usize)];
        let mut offset = 0u64;
        while offset < size {
            let want = buf.len().min((size - offset) as usize);
            let n = file
                .read_at(&mut buf[..want], offset)
                .map_err(|e| ClientError::Local(format!("reading the local file: {e}")))?;
            if n == 0 {
                return Err(ClientError::Local(format!(
                    "the local file shrank during the upload ({offset} of {size} bytes sent)"
                )));
            }
            self.stream
                .write_all(&buf[..n])
                .map_err(|e| ClientError::net("upload", e))?;
            offset += n as u64;
            meter.inc(n as u64);
        }
        self.stream
            .flush()
            .map_err(|e| ClientError::net("upload", e))
    }

    /// Says goodbye (`Q`) and closes the connection.
    pub fn quit(mut self) -> Result<(), ClientError> {
        self.send("Q")?;
        let reply = self.reply()?;
        if reply.starts_with("OK") {
            Ok(())
        } else {
            Err(bad_reply(&reply))
        }
    }

    fn send(&mut self, request: &str) -> Result<(), ClientError> {
        frame::write_frame(&mut self.stream, request.as_bytes())
            .map_err(|e| ClientError::net("sending request", e))
    }

    /// The next reply frame; `ERR` replies become [`ClientError::Refused`].
    fn reply(&mut self) -> Result<String, ClientError> {
        let payload = frame::read_frame(&mut self.stream, MAX_FRAME)
            .map_err(|e| ClientError::net("reading reply", e))?
            .ok_or_else(|| ClientError::Network("the server closed the connection".into()))?;
        let text = String::from_utf8(payload).map_err(|_| {
            ClientError::Network("the server sent a reply that is not UTF-8".into())
        })?;
        if let Some(reason) = text.strip_prefix("ERR") {
            return Err(ClientError::Refused(reason.trim_start().to_string()));
        }
        Ok(text)
    }
}

/// Where a download's bytes go.
pub enum Sink<'a> {
    /// Any writer; bytes are copied through a buffer.
    Writer(&'a mut dyn Write),
    /// A descriptor (stdout, a file): bytes move with `splice(2)` where the
    /// kernel allows it, and are copied otherwise.
    Fd(BorrowedFd<'a>),
}

impl std::fmt::Debug for Sink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::Writer(_) => f.write_str("Sink::Writer"),
            Sink::Fd(fd) => write!(f, "Sink::Fd({})", fd.as_raw_fd()),
        }
    }
}

/// Largest piece moved by one `splice` call straight into a pipe.
const SPLICE_CHUNK: u64 = 1 << 20;

fn is_fifo(fd: BorrowedFd<'_>) -> bool {
    nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFIFO)
}

/// `write(2)` on a borrowed descriptor.
struct FdWriter<'a>(BorrowedFd<'a>);

impl Write for FdWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(nix::unistd::write(self.0, buf)?)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn cut_short(size: u64, left: u64) -> ClientError {
    ClientError::Network(format!(
        "the server closed the connection after {} of {size} bytes",
        size - left
    ))
}

fn bad_reply(reply: &str) -> ClientError {
    let shown: String = reply.chars().take(80).collect();
    ClientError::Network(format!("unexpected reply from the server: {shown:?}"))
}

/// Where a download goes.
#[derive(Debug, Clone)]
pub enum Destination<'a> {
    /// Standard output.
    Stdout,
    /// A file, written atomically.
    Path(&'a Path),
}

/// Downloads `name` to `dest`. A file destination is written under a temporary
/// name and renamed only once complete; an existing file is an error unless `force`.
pub fn download(
    client: &mut Client,
    name: &str,
    dest: Destination<'_>,
    force: bool,
    meter: &Meter,
) -> Result<u64, ClientError> {
    match dest {
        Destination::Stdout => {
            let stdout = io::stdout();
            let mut lock = stdout.lock();
            lock.flush()
                .map_err(|e| ClientError::Local(format!("writing to stdout: {e}")))?;
            client.get(name, Sink::Fd(lock.as_fd()), meter)
        }
        Destination::Path(path) => {
            if !force && path.symlink_metadata().is_ok() {
                return Err(ClientError::Local(format!(
                    "{} already exists (use --force to replace it)",
                    path.display()
                )));
            }
            let local = |e: io::Error| ClientError::Local(format!("{}: {e}", path.display()));
            let file = AtomicFile::create(path, DOWNLOAD_PREFIX, force).map_err(local)?;
            let n = client.get(name, Sink::Fd(file.file().as_fd()), meter)?;
            file.commit(false).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    ClientError::Local(format!(
                        "{} appeared meanwhile; not replaced (use --force)",
                        path.display()
                    ))
                } else {
                    local(e)
                }
            })?;
            Ok(n)
        }
    }
}

/// Uploads the local file at `path` as `name`.
pub fn upload(
    client: &mut Client,
    path: &Path,
    name: &str,
    meter: &Meter,
) -> Result<u64, ClientError> {
    let local = |e: io::Error| ClientError::Local(format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(local)?;
    let meta = file.metadata().map_err(local)?;
    if !meta.is_file() {
        return Err(ClientError::Local(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    client.put(name, &file, meta.len(), meter)
}

/// The remote name for a local path: its last component.
pub fn remote_name(path: &Path) -> Result<String, ClientError> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| {
            ClientError::Local(format!(
                "{} has no usable file name (use --as NAME)",
                path.display()
            ))
        })
}
