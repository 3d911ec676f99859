//! Endpoints, listeners and streams: the sockets every model drives.
//!
//! [`Endpoint`] names where a server listens (TCP over IPv4/IPv6, or a Unix
//! stream socket path). [`Listener`] and [`Stream`] wrap the std types so a
//! model works the same on both transports. Binding turns the usual failures
//! (port in use, address not on this machine, permission) into one clear line.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{
    Shutdown as NetShutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket,
};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::ServerError;
use super::session::Peer;

/// Where a stream server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// TCP on an IPv4 or IPv6 address.
    Tcp(SocketAddr),
    /// A Unix stream socket at a path.
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(a) => write!(f, "tcp://{a}"),
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

/// Where `--bind ADDR` (with `--port`) says to listen: `unix:/path/to.sock`
/// is a Unix stream socket (the port is not used), anything else an IP
/// address (`::` listens on IPv6 and IPv4 alike; `[::1]` is accepted) or a
/// host name.
pub fn endpoint(bind: &str, port: u16) -> Result<Endpoint, ServerError> {
    match bind.strip_prefix("unix:") {
        Some("") => Err(ServerError::bind(
            "--bind unix: needs a path (unix:/run/netkit/http.sock)",
            None,
        )),
        Some(path) => Ok(Endpoint::Unix(PathBuf::from(path))),
        None => Ok(Endpoint::Tcp(resolve(bind, port)?)),
    }
}

/// Resolves `host` and `port` into one socket address, with a clear error.
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr, ServerError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .ok_or_else(|| {
            ServerError::bind(
                format!("invalid address '{host}': not an IP address or known host name"),
                None,
            )
        })
}

/// Parses a client's `HOST:PORT` (also `HOST` alone for `default_port`,
/// `[IPv6]:PORT`, a bare IPv6 address) and resolves it: the one address
/// form every netkit client takes.
pub fn host_port(s: &str, default_port: u16) -> Result<SocketAddr, ServerError> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let (host, port) = split_host_port(s, default_port)?;
    resolve(host, port)
}

/// [`host_port`] with every address a name has, in the order to try them
/// (a client that connects tries each in turn).
pub fn host_port_all(s: &str, default_port: u16) -> Result<Vec<SocketAddr>, ServerError> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(vec![a]);
    }
    let (host, port) = split_host_port(s, default_port)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    match (host, port).to_socket_addrs() {
        Ok(found) => {
            let found: Vec<SocketAddr> = found.collect();
            if found.is_empty() {
                Err(ServerError::bind(format!("'{host}' has no address"), None))
            } else {
                Ok(found)
            }
        }
        Err(e) => Err(ServerError::bind(
            format!("cannot resolve '{host}': not an IP address or known host name"),
            Some(e),
        )),
    }
}

/// `HOST:PORT` split (the port `default_port` when none is given); a bare
/// IPv6 address has colons but no port.
fn split_host_port(s: &str, default_port: u16) -> Result<(&str, u16), ServerError> {
    Ok(match s.rsplit_once(':') {
        // A bare IPv6 address has colons but no port.
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
            let port = p.parse::<u16>().map_err(|_| {
                ServerError::bind(
                    format!(
                        "invalid port in '{s}' (expected HOST:PORT, e.g. 127.0.0.1:{default_port})"
                    ),
                    None,
                )
            })?;
            (h, port)
        }
        _ => (s, default_port),
    })
}

/// A failed connect to `addr`, in the words every client uses:
/// `cannot connect to 127.0.0.1:7000: connection refused (is the server running?)`.
pub fn connect_error(addr: impl std::fmt::Display, err: &io::Error) -> String {
    let why = match err.kind() {
        io::ErrorKind::ConnectionRefused => {
            "connection refused (is the server running?)".to_string()
        }
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".to_string(),
        io::ErrorKind::NotFound => "no such socket (is the server running?)".to_string(),
        _ => {
            // "Network is unreachable (os error 101)" -> "network is unreachable"
            let text = err.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            let mut chars = text.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    };
    format!("cannot connect to {addr}: {why}")
}

/// Explains a bind failure in one line.
fn bind_error(what: &str, err: io::Error) -> ServerError {
    let msg = match err.kind() {
        io::ErrorKind::AddrInUse => {
            format!("{what} is already in use (another server is listening there)")
        }
        io::ErrorKind::PermissionDenied => {
            format!(
                "permission denied binding {what} (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            )
        }
        io::ErrorKind::AddrNotAvailable => {
            format!("cannot bind {what}: that address is not on this machine")
        }
        _ => format!("cannot bind {what}"),
    };
    ServerError::bind(msg, Some(err))
}

/// Makes a TCP listening socket with SO_REUSEADDR (and SO_REUSEPORT when
/// asked). With SO_REUSEPORT the port is first checked to be free, so a second
/// server can never silently join (and split the traffic of) one that is
/// already running there.
pub fn tcp_listener(addr: SocketAddr, reuse_port: bool) -> Result<TcpListener, ServerError> {
    if reuse_port && addr.port() != 0 {
        ensure_free(addr, Type::STREAM)?;
    }
    tcp_socket(addr, reuse_port)
}

/// Another listening socket in the SO_REUSEPORT group of `addr` (one per epoll worker).
pub fn tcp_join(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    tcp_socket(addr, true)
}

fn tcp_socket(addr: SocketAddr, reuse_port: bool) -> Result<TcpListener, ServerError> {
    let what = format!("tcp address {addr}");
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| bind_error(&what, e))?;
    dual_stack(&sock, addr).map_err(|e| bind_error(&what, e))?;
    sock.set_reuse_address(true)
        .map_err(|e| bind_error(&what, e))?;
    if reuse_port {
        sock.set_reuse_port(true)
            .map_err(|e| bind_error(&what, e))?;
    }
    sock.bind(&addr.into()).map_err(|e| bind_error(&what, e))?;
    sock.listen(4096).map_err(|e| bind_error(&what, e))?;
    Ok(sock.into())
}

/// Makes a UDP socket bound to `addr` (SO_REUSEPORT when asked, after
/// checking the port is free; no SO_REUSEADDR, which for UDP would let
/// unrelated servers share a port).
pub fn udp_socket(addr: SocketAddr, reuse_port: bool) -> Result<UdpSocket, ServerError> {
    if reuse_port && addr.port() != 0 {
        ensure_free(addr, Type::DGRAM)?;
    }
    udp_bind(addr, reuse_port)
}

/// Another UDP socket in the SO_REUSEPORT group of `addr` (one per epoll worker).
pub fn udp_join(addr: SocketAddr) -> Result<UdpSocket, ServerError> {
    udp_bind(addr, true)
}

fn udp_bind(addr: SocketAddr, reuse_port: bool) -> Result<UdpSocket, ServerError> {
    let what = format!("udp address {addr}");
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| bind_error(&what, e))?;
    dual_stack(&sock, addr).map_err(|e| bind_error(&what, e))?;
    if reuse_port {
        sock.set_reuse_port(true)
            .map_err(|e| bind_error(&what, e))?;
    }
    // Generous buffers so bursts are queued, not dropped.
    let _ = sock.set_recv_buffer_size(4 << 20);
    let _ = sock.set_send_buffer_size(4 << 20);
    sock.bind(&addr.into()).map_err(|e| bind_error(&what, e))?;
    Ok(sock.into())
}

/// On the IPv6 wildcard (`::`), clears IPV6_V6ONLY whatever the system's
/// default (`net.ipv6.bindv6only`), so IPv4 clients reach the socket too
/// (as `::ffff:a.b.c.d`).
fn dual_stack(sock: &Socket, addr: SocketAddr) -> io::Result<()> {
    match addr {
        SocketAddr::V6(a) if a.ip().is_unspecified() => sock.set_only_v6(false),
        _ => Ok(()),
    }
}

/// Gives `sibling` (another SO_REUSEPORT socket on the same port) buffers at
/// least as large as `model`'s, which a service may have enlarged past the
/// system's default cap. The kernel reports twice what was asked, so half is
/// asked for: plainly first, then with the FORCE options (CAP_NET_ADMIN).
pub fn copy_buffer_sizes(model: &UdpSocket, sibling: &UdpSocket) {
    let (m, s) = (SockRef::from(model), SockRef::from(sibling));
    let rcv = m.recv_buffer_size().unwrap_or(0);
    if s.recv_buffer_size().unwrap_or(0) < rcv {
        let _ = s.set_recv_buffer_size(rcv / 2);
        if s.recv_buffer_size().unwrap_or(0) < rcv {
            let _ = crate::sys::set_int_opt(sibling.as_fd(), libc::SO_RCVBUFFORCE, rcv / 2);
        }
    }
    let snd = m.send_buffer_size().unwrap_or(0);
    if s.send_buffer_size().unwrap_or(0) < snd {
        let _ = s.set_send_buffer_size(snd / 2);
        if s.send_buffer_size().unwrap_or(0) < snd {
            let _ = crate::sys::set_int_opt(sibling.as_fd(), libc::SO_SNDBUFFORCE, snd / 2);
        }
    }
}

/// Fails with "already in use" if a plain socket cannot bind `addr`.
fn ensure_free(addr: SocketAddr, ty: Type) -> Result<(), ServerError> {
    let (proto, what) = if ty == Type::STREAM {
        (Protocol::TCP, "tcp")
    } else {
        (Protocol::UDP, "udp")
    };
    let what = format!("{what} address {addr}");
    let probe = Socket::new(Domain::for_address(addr), ty, Some(proto))
        .map_err(|e| bind_error(&what, e))?;
    dual_stack(&probe, addr).map_err(|e| bind_error(&what, e))?;
    if ty == Type::STREAM {
        // Ignore connections lingering in TIME_WAIT, as the real listener will.
        probe
            .set_reuse_address(true)
            .map_err(|e| bind_error(&what, e))?;
    }
    probe.bind(&addr.into()).map_err(|e| bind_error(&what, e))
}

/// Binds a Unix stream socket, replacing a stale socket file left by a dead
/// server (a socket nobody answers on); any other file is never replaced.
pub fn unix_listener(path: &Path) -> Result<UnixListener, ServerError> {
    let what = format!("unix socket {}", path.display());
    // sun_path holds 108 bytes, the last one the terminating NUL.
    if path.as_os_str().len() > 107 {
        return Err(ServerError::bind(
            format!(
                "{what}: path is {} bytes long, a unix socket path takes at most 107",
                path.as_os_str().len()
            ),
            None,
        ));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(ServerError::bind(
            format!("{what}: directory {} does not exist", dir.display()),
            None,
        ));
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(ServerError::bind(
                format!("{what}: path exists and is not a socket; refusing to replace it"),
                None,
            ));
        }
        match UnixStream::connect(path) {
            Err(e) if e.kind() != io::ErrorKind::ConnectionRefused => {
                return Err(ServerError::bind(
                    format!("{what}: cannot tell whether a server uses it; not replacing it"),
                    Some(e),
                ));
            }
            Ok(_) => {
                return Err(ServerError::bind(
                    format!("{what} is already in use (a server answers there)"),
                    None,
                ));
            }
            Err(_) => {
                // Nobody listens: a stale file from a server that died. Replace it.
                let _ = std::fs::remove_file(path);
            }
        }
    }
    UnixListener::bind(path).map_err(|e| bind_error(&what, e))
}

/// A listening socket of either transport.
#[derive(Debug)]
pub enum Listener {
    /// TCP listener.
    Tcp(TcpListener),
    /// Unix stream listener; the socket file is removed when the owning process drops it.
    Unix(UnixListener, UnixPathGuard),
}

/// Removes a Unix socket file when the process that bound it is done with it
/// (never from a forked child, which shares the listener, and never a file
/// that has since been replaced by another one at the same path).
#[derive(Debug)]
pub struct UnixPathGuard {
    path: PathBuf,
    /// The process that removes the file; 0 for none (clones, and sockets
    /// a service manager made).
    owner: u32,
    /// The socket file's inode, as bound.
    inode: Option<u64>,
}

fn inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| m.ino())
}

impl Drop for UnixPathGuard {
    fn drop(&mut self) {
        if std::process::id() == self.owner && inode(&self.path) == self.inode {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Listener {
    /// Binds `endpoint`. TCP listeners get SO_REUSEADDR, and SO_REUSEPORT when `reuse_port`.
    pub fn bind(endpoint: &Endpoint, reuse_port: bool) -> Result<Listener, ServerError> {
        match endpoint {
            Endpoint::Tcp(addr) => Ok(Listener::Tcp(tcp_listener(*addr, reuse_port)?)),
            Endpoint::Unix(path) => {
                let l = unix_listener(path)?;
                Ok(Listener::Unix(
                    l,
                    UnixPathGuard {
                        path: path.clone(),
                        owner: std::process::id(),
                        inode: inode(path),
                    },
                ))
            }
        }
    }

    /// A Unix listener this process did not bind (systemd passed it): its
    /// socket file is left to whoever made it.
    pub fn inherited_unix(l: UnixListener) -> Listener {
        let path = l
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("(unnamed)"));
        Listener::Unix(
            l,
            UnixPathGuard {
                path,
                owner: 0,
                inode: None,
            },
        )
    }

    /// The endpoint actually bound (with the real port when 0 was asked for).
    pub fn local_endpoint(&self) -> io::Result<Endpoint> {
        match self {
            Listener::Tcp(l) => Ok(Endpoint::Tcp(l.local_addr()?)),
            Listener::Unix(_, g) => Ok(Endpoint::Unix(g.path.clone())),
        }
    }

    /// Accepts one connection.
    pub fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Listener::Tcp(l) => {
                let (s, a) = l.accept()?;
                Ok((Stream::Tcp(s), Peer::Inet(a)))
            }
            Listener::Unix(l, _) => {
                let (s, _) = l.accept()?;
                Ok((Stream::Unix(s), Peer::Unix))
            }
        }
    }

    /// Switches between blocking and non-blocking accepts.
    pub fn set_nonblocking(&self, nb: bool) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.set_nonblocking(nb),
            Listener::Unix(l, _) => l.set_nonblocking(nb),
        }
    }

    /// Makes a blocking `accept` give up after `timeout` (SO_RCVTIMEO applies to accept on Linux),
    /// so accept loops notice a shutdown without a busy poll.
    pub fn set_accept_timeout(&self, timeout: Duration) -> io::Result<()> {
        set_timeout(self, true, Some(timeout))
    }

    /// A second handle to the same listening socket.
    pub fn try_clone(&self) -> io::Result<Listener> {
        match self {
            Listener::Tcp(l) => Ok(Listener::Tcp(l.try_clone()?)),
            Listener::Unix(l, g) => Ok(Listener::Unix(
                l.try_clone()?,
                // Only the original handle removes the file.
                UnixPathGuard {
                    path: g.path.clone(),
                    owner: 0,
                    inode: None,
                },
            )),
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l, _) => l.as_raw_fd(),
        }
    }
}

/// A connected stream socket of either transport.
#[derive(Debug)]
pub enum Stream {
    /// TCP connection.
    Tcp(TcpStream),
    /// Unix stream connection.
    Unix(UnixStream),
}

impl Stream {
    /// Switches between blocking and non-blocking IO.
    pub fn set_nonblocking(&self, nb: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(nb),
            Stream::Unix(s) => s.set_nonblocking(nb),
        }
    }

    /// Sets SO_RCVTIMEO.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        set_timeout(self, true, t)
    }

    /// Sets SO_SNDTIMEO.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        set_timeout(self, false, t)
    }

    /// Disables Nagle's algorithm on TCP (no-op on Unix sockets).
    pub fn set_nodelay(&self) {
        if let Stream::Tcp(s) = self {
            let _ = s.set_nodelay(true);
        }
    }

    /// Half-closes the write side.
    pub fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(NetShutdown::Write),
            Stream::Unix(s) => s.shutdown(NetShutdown::Write),
        }
    }

    /// A second handle to the same connection.
    pub fn try_clone(&self) -> io::Result<Stream> {
        match self {
            Stream::Tcp(s) => Ok(Stream::Tcp(s.try_clone()?)),
            Stream::Unix(s) => Ok(Stream::Unix(s.try_clone()?)),
        }
    }
}

impl std::os::fd::AsFd for Stream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl std::os::fd::AsFd for Listener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l, _) => l.as_fd(),
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

/// Reading through a shared reference, as std's sockets allow: a driver can
/// read while it holds the socket's descriptor borrowed for other calls.
impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write_vectored(bufs),
            Stream::Unix(s) => (&*s).write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Sets SO_RCVTIMEO (`read`) or SO_SNDTIMEO on `sock`; `None` or zero means
/// "block forever", and a timeout under a microsecond is one microsecond.
pub fn set_timeout(sock: impl AsFd, read: bool, t: Option<Duration>) -> io::Result<()> {
    let t = t
        .filter(|d| !d.is_zero())
        .map(|d| d.max(Duration::from_micros(1)));
    let sock = socket2::SockRef::from(&sock);
    if read {
        sock.set_read_timeout(t)
    } else {
        sock.set_write_timeout(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_host_port_forms() {
        let v4: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(host_port("127.0.0.1:9", 7).unwrap(), v4);
        assert_eq!(host_port("127.0.0.1", 9).unwrap(), v4);
        let v6: SocketAddr = "[::1]:7".parse().unwrap();
        assert_eq!(host_port("::1", 7).unwrap(), v6);
        assert_eq!(host_port("[::1]", 7).unwrap(), v6);
        assert_eq!(host_port("[::1]:7", 1).unwrap(), v6);
        assert_eq!(host_port_all("localhost:9", 1).unwrap()[0].port(), 9);
        let err = host_port("127.0.0.1:99999", 7).unwrap_err().to_string();
        assert!(err.contains("invalid port in '127.0.0.1:99999'"), "{err}");
        assert!(host_port_all("no-such-host.invalid", 7).is_err());
    }

    #[test]
    fn connect_errors_read_alike() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            connect_error("127.0.0.1:1", &refused),
            "cannot connect to 127.0.0.1:1: connection refused (is the server running?)"
        );
        let other = io::Error::from_raw_os_error(libc::ENETUNREACH);
        assert_eq!(
            connect_error("10.0.0.1:1", &other),
            "cannot connect to 10.0.0.1:1: network is unreachable"
        );
    }
}
