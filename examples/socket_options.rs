//! Lesson: socket attributes and socket options (127.0.0.1 only).
//!
//! 1. Attributes: a socket's address family (`s.family`: AF_INET or AF_INET6),
//!    its type (`s.type`: SOCK_STREAM for TCP, SOCK_DGRAM for UDP) and its
//!    file descriptor (`s.fileno()`: 0, 1 and 2 are stdin, stdout and stderr,
//!    so the first socket gets the lowest free number, usually 3).
//! 2. Addresses: `getsockname()` is the address a socket is bound to (bind to
//!    port 0 and the kernel picks a free port); `getpeername()` is the other
//!    end of a connection, on both sides (a listener has no peer: ENOTCONN).
//! 3. Options, `setsockopt(level, optname, value)` / `getsockopt(level, optname)`:
//!    SO_REUSEADDR, SO_RCVBUF and SO_SNDBUF at level SOL_SOCKET (Linux stores
//!    and reports twice the buffer size you ask for, the extra half is for its
//!    own bookkeeping), and TCP_NODELAY at level IPPROTO_TCP (turns off Nagle's
//!    algorithm, which holds back small writes while earlier data is unacknowledged).
//! 4. SO_REUSEADDR for real: the side that closes a TCP connection first keeps
//!    a socket in TIME_WAIT for 60 s. Here the server closes first, so its port
//!    has a TIME_WAIT socket; a new listener on that port fails with EADDRINUSE
//!    ("Address already in use") without SO_REUSEADDR and binds with it. Linux
//!    allows it only if the socket in TIME_WAIT had SO_REUSEADDR too (an accepted
//!    socket inherits it from its listener): set it on every server socket, right
//!    after creating it and before `bind`, as the course says.
//!
//! Rust's `std::net::TcpListener::bind` sets SO_REUSEADDR by itself on Unix, so
//! this lesson builds its sockets with `socket2::Socket` (create, set options,
//! then bind), which does exactly what you ask and nothing more.
//!
//! Run: `cargo run --example socket_options`
//!
//! Expected output (ports and fd numbers vary):
//! ```text
//! s = socket(AF_INET, SOCK_STREAM) -> socket2::Socket::new(Domain::IPV4, Type::STREAM, None)
//! s.family -> AF_INET (socket2::Domain::IPV4)
//! s.type -> SOCK_STREAM (socket2::Type::STREAM)
//! u.family -> AF_INET, u.type -> SOCK_DGRAM (socket2::Type::DGRAM)
//! v6.family -> AF_INET6 (socket2::Domain::IPV6)
//! sys.stdin.fileno() -> 0, sys.stdout.fileno() -> 1, sys.stderr.fileno() -> 2
//! s.fileno() -> 3 (AsRawFd::as_raw_fd)
//! u.fileno() -> 4
//! s.getsockname() before bind -> 0.0.0.0:0
//! s.getsockname() after bind(('127.0.0.1', 0)) -> 127.0.0.1:41234 (port 0: the kernel picked 41234)
//! s.getpeername() on a listener -> Err(ENOTCONN): a listening socket has no peer
//! client c.getsockname() -> 127.0.0.1:53312 (connect picked the port)
//! client c.getpeername() -> 127.0.0.1:41234 (the server)
//! server conn.getsockname() -> 127.0.0.1:41234 (the listener's port)
//! server conn.getpeername() -> 127.0.0.1:53312 (the client; accept() returned 127.0.0.1:53312)
//! getsockopt(SOL_SOCKET, SO_REUSEADDR) -> 0 (new socket)
//! setsockopt(SOL_SOCKET, SO_REUSEADDR, 1); getsockopt -> 1
//! nix getsockopt(&s, sockopt::ReuseAddr) -> true (the same option through nix)
//! std TcpListener::bind -> SO_REUSEADDR already 1 (std sets it on Unix)
//! getsockopt(SOL_SOCKET, SO_RCVBUF) -> 131072 (default)
//! setsockopt(SOL_SOCKET, SO_RCVBUF, 32768); getsockopt -> 65536 (Linux doubles it)
//! getsockopt(SOL_SOCKET, SO_SNDBUF) -> 16384 (default)
//! setsockopt(SOL_SOCKET, SO_SNDBUF, 32768); getsockopt -> 65536 (Linux doubles it)
//! getsockopt(IPPROTO_TCP, TCP_NODELAY) -> 0 (Nagle on)
//! setsockopt(IPPROTO_TCP, TCP_NODELAY, 1); getsockopt -> 1 (Nagle off)
//! reuseaddr: server with SO_REUSEADDR=1 listening on 127.0.0.1:43001
//! reuseaddr: server closed first; TIME_WAIT 127.0.0.1:43001 -> 127.0.0.1:53314 (/proc/net/tcp state 06)
//! reuseaddr: bind 127.0.0.1:43001 without SO_REUSEADDR -> Err(EADDRINUSE): Address already in use
//! reuseaddr: bind 127.0.0.1:43001 with SO_REUSEADDR=1 -> ok, listening again
//! reuseaddr: server with SO_REUSEADDR=0 listening on 127.0.0.1:43003
//! reuseaddr: server closed first; TIME_WAIT 127.0.0.1:43003 -> 127.0.0.1:53316 (/proc/net/tcp state 06)
//! reuseaddr: bind 127.0.0.1:43003 with SO_REUSEADDR=1 -> Err(EADDRINUSE): the TIME_WAIT socket lacked SO_REUSEADDR
//! ```
//!
//! Python → Rust:
//! - `socket(AF_INET, SOCK_STREAM)` → `socket2::Socket::new(Domain::IPV4, Type::STREAM, None)`
//! - `s.family` / `s.type` → `Socket::domain()` / `Socket::r#type()`
//! - `s.fileno()` → `AsRawFd::as_raw_fd(&s)`
//! - `s.bind(addr)` / `s.listen(n)` / `s.accept()` / `s.connect(addr)` → the
//!   same names on `socket2::Socket`, with a `socket2::SockAddr`
//! - `s.getsockname()` / `s.getpeername()` → `Socket::local_addr()` / `Socket::peer_addr()`
//!   (std: `TcpStream::local_addr()` / `peer_addr()`)
//! - `s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)` → `Socket::set_reuse_address(true)`;
//!   `s.getsockopt(SOL_SOCKET, SO_REUSEADDR)` → `Socket::reuse_address()`, or
//!   `nix::sys::socket::getsockopt(&s, sockopt::ReuseAddr)`
//! - `SO_RCVBUF` / `SO_SNDBUF` → `set_recv_buffer_size` / `recv_buffer_size`,
//!   `set_send_buffer_size` / `send_buffer_size`
//! - `s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)` → `Socket::set_tcp_nodelay(true)`
//!   (std: `TcpStream::set_nodelay(true)`)
//! - `socket.error` with errno EADDRINUSE (Python 3: `OSError`) → `io::Error`
//!   with `raw_os_error() == Some(libc::EADDRINUSE)`, `kind() == ErrorKind::AddrInUse`

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::sockopt;
use socket2::{Domain, SockAddr, SockRef, Socket, Type};

/// The errno name of an OS error, e.g. `EADDRINUSE`.
fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => format!("{:?}", Errno::from_raw(code)),
        None => format!("{:?}", e.kind()),
    }
}

/// An address as `ip:port`.
fn show(addr: &SockAddr) -> String {
    match addr.as_socket() {
        Some(a) => a.to_string(),
        None => format!("{addr:?}"),
    }
}

fn port_of(addr: &SockAddr) -> anyhow::Result<u16> {
    Ok(addr
        .as_socket()
        .ok_or_else(|| anyhow::anyhow!("not an IP address: {addr:?}"))?
        .port())
}

fn localhost_port_0() -> SockAddr {
    SockAddr::from(SocketAddr::from(([127, 0, 0, 1], 0)))
}

fn new_tcp() -> io::Result<Socket> {
    Socket::new(Domain::IPV4, Type::STREAM, None)
}

fn attributes() -> anyhow::Result<()> {
    let s = new_tcp()?;
    println!(
        "s = socket(AF_INET, SOCK_STREAM) -> socket2::Socket::new(Domain::IPV4, Type::STREAM, None)"
    );
    // socket2 prints Domain and Type with their C names.
    println!("s.family -> {:?} (socket2::Domain::IPV4)", s.domain()?);
    println!("s.type -> {:?} (socket2::Type::STREAM)", s.r#type()?);
    let u = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    println!(
        "u.family -> {:?}, u.type -> {:?} (socket2::Type::DGRAM)",
        u.domain()?,
        u.r#type()?
    );
    // Creating an IPv6 socket needs no IPv6 address, only kernel support.
    match Socket::new(Domain::IPV6, Type::STREAM, None) {
        Ok(v6) => println!("v6.family -> {:?} (socket2::Domain::IPV6)", v6.domain()?),
        Err(e) => println!("v6.family -> unavailable: {e}"),
    }

    println!(
        "sys.stdin.fileno() -> {}, sys.stdout.fileno() -> {}, sys.stderr.fileno() -> {}",
        io::stdin().as_raw_fd(),
        io::stdout().as_raw_fd(),
        io::stderr().as_raw_fd()
    );
    println!("s.fileno() -> {} (AsRawFd::as_raw_fd)", s.as_raw_fd());
    println!("u.fileno() -> {}", u.as_raw_fd());

    println!("s.getsockname() before bind -> {}", show(&s.local_addr()?));
    s.bind(&localhost_port_0())?;
    s.listen(8)?;
    let server_addr = s.local_addr()?;
    println!(
        "s.getsockname() after bind(('127.0.0.1', 0)) -> {} (port 0: the kernel picked {})",
        show(&server_addr),
        port_of(&server_addr)?
    );
    match s.peer_addr() {
        Err(e) => println!(
            "s.getpeername() on a listener -> Err({}): a listening socket has no peer",
            errno_name(&e)
        ),
        Ok(a) => anyhow::bail!("a listener with a peer? {}", show(&a)),
    }

    let c = new_tcp()?;
    c.connect(&server_addr)?;
    let (conn, from) = s.accept()?;
    println!(
        "client c.getsockname() -> {} (connect picked the port)",
        show(&c.local_addr()?)
    );
    println!(
        "client c.getpeername() -> {} (the server)",
        show(&c.peer_addr()?)
    );
    println!(
        "server conn.getsockname() -> {} (the listener's port)",
        show(&conn.local_addr()?)
    );
    println!(
        "server conn.getpeername() -> {} (the client; accept() returned {})",
        show(&conn.peer_addr()?),
        show(&from)
    );
    Ok(())
}

fn options() -> anyhow::Result<()> {
    let s = new_tcp()?;
    println!(
        "getsockopt(SOL_SOCKET, SO_REUSEADDR) -> {} (new socket)",
        u8::from(s.reuse_address()?)
    );
    s.set_reuse_address(true)?;
    println!(
        "setsockopt(SOL_SOCKET, SO_REUSEADDR, 1); getsockopt -> {}",
        u8::from(s.reuse_address()?)
    );
    // nix spells the (level, optname) pair as one typed option.
    println!(
        "nix getsockopt(&s, sockopt::ReuseAddr) -> {} (the same option through nix)",
        nix::sys::socket::getsockopt(&s, sockopt::ReuseAddr)?
    );
    let std_listener = TcpListener::bind("127.0.0.1:0")?;
    println!(
        "std TcpListener::bind -> SO_REUSEADDR already {} (std sets it on Unix)",
        u8::from(SockRef::from(&std_listener).reuse_address()?)
    );

    // Ask for 32 KiB; Linux stores (and getsockopt reports) 64 KiB.
    let asked = 32 * 1024;
    println!(
        "getsockopt(SOL_SOCKET, SO_RCVBUF) -> {} (default)",
        s.recv_buffer_size()?
    );
    s.set_recv_buffer_size(asked)?;
    println!(
        "setsockopt(SOL_SOCKET, SO_RCVBUF, {asked}); getsockopt -> {} (Linux doubles it)",
        s.recv_buffer_size()?
    );
    println!(
        "getsockopt(SOL_SOCKET, SO_SNDBUF) -> {} (default)",
        s.send_buffer_size()?
    );
    s.set_send_buffer_size(asked)?;
    println!(
        "setsockopt(SOL_SOCKET, SO_SNDBUF, {asked}); getsockopt -> {} (Linux doubles it)",
        s.send_buffer_size()?
    );

    println!(
        "getsockopt(IPPROTO_TCP, TCP_NODELAY) -> {} (Nagle on)",
        u8::from(s.tcp_nodelay()?)
    );
    s.set_tcp_nodelay(true)?;
    println!(
        "setsockopt(IPPROTO_TCP, TCP_NODELAY, 1); getsockopt -> {} (Nagle off)",
        u8::from(s.tcp_nodelay()?)
    );
    Ok(())
}

/// The TIME_WAIT connection from local port `port` to remote port `peer`, from
/// `/proc/net/tcp` (what `ss -tan state time-wait` shows), as `local -> remote`.
fn time_wait_on(port: u16, peer: u16) -> anyhow::Result<Option<String>> {
    fn decode(hex: &str) -> Option<String> {
        // "0100007F:A0B2": the IPv4 address in host (little-endian) byte order, then the port.
        let (ip, port) = hex.split_once(':')?;
        let ip = u32::from_str_radix(ip, 16).ok()?;
        let port = u16::from_str_radix(port, 16).ok()?;
        let [a, b, c, d] = ip.to_le_bytes();
        Some(format!("{a}.{b}.{c}.{d}:{port}"))
    }
    let table = std::fs::read_to_string("/proc/net/tcp")?;
    for row in table.lines().skip(1) {
        let fields: Vec<&str> = row.split_whitespace().collect();
        let (Some(local), Some(remote), Some(&"06")) =
            (fields.get(1), fields.get(2), fields.get(3))
        else {
            continue; // not TIME_WAIT (state 06)
        };
        if local.ends_with(&format!(":{port:04X}")) && remote.ends_with(&format!(":{peer:04X}")) {
            if let (Some(l), Some(r)) = (decode(local), decode(remote)) {
                return Ok(Some(format!("{l} -> {r}")));
            }
        }
    }
    Ok(None)
}

/// Makes one connection to a fresh listener (with or without SO_REUSEADDR),
/// closes the server side first and waits until its port has a TIME_WAIT
/// socket. Returns the port's address.
fn leave_time_wait(listener_reuse: bool) -> anyhow::Result<SockAddr> {
    let listener = new_tcp()?;
    listener.set_reuse_address(listener_reuse)?; // before bind, as the course says
    listener.bind(&localhost_port_0())?;
    listener.listen(8)?;
    let addr = listener.local_addr()?;
    let port = port_of(&addr)?;
    println!(
        "reuseaddr: server with SO_REUSEADDR={} listening on {}",
        u8::from(listener_reuse),
        show(&addr)
    );
    let mut client = new_tcp()?;
    client.connect(&addr)?;
    client.set_read_timeout(Some(Duration::from_secs(2)))?;
    let client_port = port_of(&client.local_addr()?)?;
    let (conn, _) = listener.accept()?;
    drop(listener); // a listening socket would block the port whatever the options
    drop(conn); // the server closes first: it will be the side in TIME_WAIT
    let mut buf = [0u8; 16];
    let n = client.read(&mut buf)?; // the server's FIN: EOF
    anyhow::ensure!(n == 0, "expected EOF, got {n} bytes");
    drop(client); // the client's FIN; the server side answers it and enters TIME_WAIT

    // The last ACK travels through the loopback device; wait until the kernel
    // shows the TIME_WAIT socket instead of hoping it is already there.
    let deadline = Instant::now() + Duration::from_secs(2);
    let tw = loop {
        if let Some(tw) = time_wait_on(port, client_port)? {
            break tw;
        }
        anyhow::ensure!(Instant::now() < deadline, "no TIME_WAIT on port {port}");
        thread::sleep(Duration::from_millis(5));
    };
    println!("reuseaddr: server closed first; TIME_WAIT {tw} (/proc/net/tcp state 06)");
    Ok(addr)
}

fn reuse_addr() -> anyhow::Result<()> {
    // 1. The usual server: SO_REUSEADDR set before bind.
    let addr = leave_time_wait(true)?;
    let plain = new_tcp()?; // socket2 leaves SO_REUSEADDR off (std would turn it on)
    match plain.bind(&addr) {
        Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => println!(
            "reuseaddr: bind {} without SO_REUSEADDR -> Err({}): Address already in use",
            show(&addr),
            errno_name(&e)
        ),
        other => anyhow::bail!("expected EADDRINUSE, got {other:?}"),
    }
    let reusing = new_tcp()?;
    reusing.set_reuse_address(true)?;
    reusing.bind(&addr)?;
    reusing.listen(8)?;
    println!(
        "reuseaddr: bind {} with SO_REUSEADDR=1 -> ok, listening again",
        show(&addr)
    );

    // 2. A server that did not set it: its TIME_WAIT socket blocks even a
    //    new socket that sets SO_REUSEADDR (Linux wants it on both).
    let addr = leave_time_wait(false)?;
    let reusing = new_tcp()?;
    reusing.set_reuse_address(true)?;
    match reusing.bind(&addr) {
        Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => println!(
            "reuseaddr: bind {} with SO_REUSEADDR=1 -> Err({}): the TIME_WAIT socket lacked SO_REUSEADDR",
            show(&addr),
            errno_name(&e)
        ),
        other => anyhow::bail!("expected EADDRINUSE, got {other:?}"),
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    attributes()?;
    options()?;
    reuse_addr()
}
