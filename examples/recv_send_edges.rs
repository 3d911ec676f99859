//! Lesson: the edges of recv and send (127.0.0.1 only).
//!
//! `recv` takes bytes out of the socket's receive buffer and `send` puts bytes
//! into its send buffer; the kernel moves them in between. Hence:
//!
//! (a) `recv(n)` returns at most n bytes; on a TCP stream the rest stays queued
//!     and the next `recv` continues from there.
//! (b) Once the peer has closed, `recv` returns 0 bytes (Python: `b''`) at once
//!     instead of blocking, and keeps returning 0: a read loop must stop on 0.
//! (c) `send` to a peer that has closed: the first write still succeeds (it only
//!     reaches our own send buffer); the peer's kernel answers it with a reset
//!     (RST), and a later write fails with EPIPE, Rust's `ErrorKind::BrokenPipe`
//!     (Python: `BrokenPipeError`). The kernel also raises SIGPIPE, which kills a
//!     process by default; Rust's runtime sets SIGPIPE to "ignore" before `main`,
//!     as Python does, so the write returns an error instead (and std's
//!     `TcpStream::write` passes MSG_NOSIGNAL, so it raises no signal at all).
//!     A child with SIGPIPE back at its default is killed by the same write.
//!     A peer that closes with unread data in its receive buffer resets the
//!     connection at once: our next read fails with ECONNRESET,
//!     `ErrorKind::ConnectionReset` (Python: `ConnectionResetError`).
//! (d) Nobody reads: the send buffer fills up. A non-blocking socket accepts N
//!     bytes, then fails with EAGAIN, `ErrorKind::WouldBlock` (Python:
//!     `BlockingIOError`). "Full" settles over a few hundred ms (a delayed ACK
//!     or a window probe can still make room), so the lesson keeps filling until
//!     no room comes for 500 ms. Then a blocking socket with a write timeout
//!     gives up after it, and a blocking send without one waits (here in a
//!     thread) until the reader drains the connection. Both buffers are set to
//!     a fixed size first (a buffer the program sets is not grown by the
//!     kernel), so N stays small and 1 MiB can never fit.
//! (e) UDP keeps message boundaries: `recvfrom(n)` with n smaller than the
//!     datagram returns its first n bytes and the rest of that datagram is
//!     discarded; the next `recvfrom` returns the next datagram. Compare (a).
//!
//! The demos wait for the kernel where it matters (bytes queued, FIN or RST
//! arrived) so every run prints the same lines.
//!
//! Run: `cargo run --example recv_send_edges`
//!
//! Expected output (ports, N, byte counts and times vary):
//! ```text
//! (a) send(b'hello world!') -> 12 bytes
//! (a) recv(5) -> b'hello' (7 bytes still queued)
//! (a) recv(5) -> b' worl' (2 bytes still queued)
//! (a) recv(5) -> b'd!' (0 bytes still queued)
//! (b) peer closed; recv(1024) -> 0 bytes b'' (EOF, returned at once)
//! (b) recv(1024) again -> 0 bytes b'' (EOF again)
//! (b) recv(1024) again -> 0 bytes b'' (EOF again)
//! (c) SIGPIPE disposition: SIG_IGN (set by Rust's runtime before main, like Python)
//! (c) send(b'are you there?') to the closed peer -> 14 bytes (only reached our send buffer)
//! (c) the peer's kernel answered with RST (poll: PollFlags(POLLERR | POLLHUP))
//! (c) send(b'hello?') again -> Err(EPIPE) kind BrokenPipe (Python: BrokenPipeError)
//! (c) write(2) without MSG_NOSIGNAL -> Err(EPIPE): SIGPIPE was raised and ignored, process alive
//! (c) child 4242 with SIGPIPE at SIG_DFL did the same write: killed by SIGPIPE
//! (c) peer closed with 6 unread bytes -> it sent RST at once
//! (c) recv(1024) -> Err(ECONNRESET) kind ConnectionReset (Python: ConnectionResetError)
//! (c) recv(1024) again -> 0 bytes b'' (the reset is reported once, then EOF)
//! (d) writer SO_SNDBUF=131072, reader SO_RCVBUF=131072 (asked 65536 each; Linux doubles)
//! (d) non-blocking send, nobody reading: N=159744 bytes accepted, then Err(WouldBlock) (EAGAIN; Python: BlockingIOError)
//! (d) poll(POLLOUT) until no room for 500 ms: 109736 more bytes fit later (ACKs, window probes); full at 269480 bytes
//! (d) the reader's receive buffer holds 112784 bytes (ioctl FIONREAD), the writer's send buffer the other 156696
//! (d) blocking sendall with a 300 ms write timeout -> Err(WouldBlock) after 305 ms (sent 0 bytes first; Python: socket.timeout)
//! (d) blocking sendall of 1048576 bytes in a thread: still blocked after 300 ms
//! (d) reader started reading; the blocked sendall returned 0 ms later
//! (d) reader drained 1318056 bytes = 269480 + 0 + 1048576, every byte sent, then EOF
//! (e) sendto 10 bytes b'0123456789', then 4 bytes b'next' to 127.0.0.1:40000
//! (e) recvfrom(4) -> b'0123' from 127.0.0.1:40001 (datagram was 10 bytes: MSG_TRUNC)
//! (e) recvfrom(4) -> b'next' from 127.0.0.1:40001 (the rest of the first datagram was discarded)
//! (e) recvfrom(4) -> Err(WouldBlock): nothing left (TCP would still hold b'456789')
//! ```
//!
//! Python → Rust:
//! - `s.recv(n)` → `Read::read(&mut buf[..n])`; `b''` → `Ok(0)`
//! - `s.send(data)` → `Write::write(data)`; `s.sendall(data)` → `Write::write_all(data)`
//! - `BrokenPipeError` / `ConnectionResetError` / `BlockingIOError` →
//!   `ErrorKind::BrokenPipe` / `ConnectionReset` / `WouldBlock`
//! - `s.setblocking(False)` → `TcpStream::set_nonblocking(true)`
//! - `s.settimeout(0.3)` → `TcpStream::set_write_timeout(Some(..))` /
//!   `set_read_timeout(Some(..))`; `socket.timeout` → `ErrorKind::WouldBlock`
//! - `s.setsockopt(SOL_SOCKET, SO_SNDBUF, n)` → `socket2::Socket::set_send_buffer_size(n)`
//! - `select.poll()` → `nix::poll::poll`; `fcntl.ioctl(s, FIONREAD)` → `libc::ioctl(fd, FIONREAD, ..)`
//! - `signal.signal(SIGPIPE, SIG_DFL)` → `nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigDfl)`
//! - `sock.sendto(data, addr)` / `sock.recvfrom(n)` → `UdpSocket::send_to` / `UdpSocket::recv_from`

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::socket::MsgFlags;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};
use socket2::{Domain, SockAddr, SockRef, Socket, Type};

/// Longest wait for anything the kernel does on loopback.
const PATIENCE: Duration = Duration::from_secs(2);

/// Bytes as Python prints them: `b'hi\n'`.
fn py(bytes: &[u8]) -> String {
    let mut s = String::from("b'");
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('\'');
    s
}

/// The errno name of an OS error, e.g. `EPIPE`.
fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => format!("{:?}", Errno::from_raw(code)),
        None => format!("{:?}", e.kind()),
    }
}

/// Bytes waiting in a socket's receive buffer (`ioctl(fd, FIONREAD)`, also
/// called SIOCINQ); for UDP, the size of the next datagram.
fn queued(sock: &impl AsRawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points to
    // `n`, alive for the whole call; the fd is open (we borrow its owner).
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::FIONREAD, &mut n) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Waits until at least `n` bytes are in the receive buffer.
fn wait_queued(sock: &impl AsRawFd, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + PATIENCE;
    while queued(sock)? < n {
        anyhow::ensure!(Instant::now() < deadline, "{n} bytes never arrived");
        thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Waits for `events` (POLLERR and POLLHUP are always reported) and returns
/// what poll saw.
fn wait_for(sock: &impl AsFd, events: PollFlags) -> anyhow::Result<PollFlags> {
    let mut fds = [PollFd::new(sock.as_fd(), events)];
    let ready = poll(&mut fds, PollTimeout::from(2000u16))?;
    anyhow::ensure!(ready == 1, "poll timed out");
    Ok(fds[0].revents().unwrap_or(PollFlags::empty()))
}

/// A connected pair (client, server side) on 127.0.0.1.
fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    for s in [&client, &server] {
        s.set_read_timeout(Some(PATIENCE))?; // never hang if something goes wrong
        s.set_write_timeout(Some(PATIENCE))?;
    }
    Ok((client, server))
}

/// (a) A TCP recv takes at most n bytes; the rest waits for the next recv.
fn recv_takes_at_most_n() -> anyhow::Result<()> {
    let (mut client, mut server) = tcp_pair()?;
    let msg = b"hello world!";
    let n = client.write(msg)?;
    println!("(a) send({}) -> {n} bytes", py(msg));
    wait_queued(&server, msg.len())?;
    let mut buf = [0u8; 1024];
    let mut got = 0;
    while got < msg.len() {
        let n = server.read(&mut buf[..5])?;
        anyhow::ensure!(n > 0, "unexpected EOF");
        got += n;
        println!(
            "(a) recv(5) -> {} ({} bytes still queued)",
            py(&buf[..n]),
            queued(&server)?
        );
    }
    Ok(())
}

/// What SIGPIPE does to this process now.
fn sigpipe_disposition() -> anyhow::Result<&'static str> {
    // SAFETY: all-zero bytes are a valid `struct sigaction` (no handler, empty mask).
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action makes sigaction only read the current one
    // into `old`, which is a valid, writable struct.
    let rc = unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) };
    if rc != 0 {
        return Err(io::Error::last_os_error().into());
    }
    Ok(match old.sa_sigaction {
        libc::SIG_IGN => "SIG_IGN",
        libc::SIG_DFL => "SIG_DFL",
        _ => "a handler",
    })
}

/// Forks a child that restores SIGPIPE's default action and writes to `sock`
/// (whose peer has reset the connection); returns how the child ended.
fn write_with_default_sigpipe(sock: &TcpStream) -> anyhow::Result<WaitStatus> {
    // SAFETY: no other threads exist yet; the child only calls
    // async-signal-safe functions (signal, write, _exit).
    match unsafe { fork() }? {
        ForkResult::Child => {
            // SAFETY: SigDfl installs no Rust handler.
            let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
            let _ = nix::unistd::write(sock, b"x"); // EPIPE + SIGPIPE: killed here
            // SAFETY: _exit only ends this (child) process.
            unsafe { libc::_exit(3) }
        }
        ForkResult::Parent { child } => Ok(waitpid(child, None)?),
    }
}

/// (b) recv after the peer closed, and (c) send after the peer closed.
fn peer_closed() -> anyhow::Result<()> {
    let (client, mut server) = tcp_pair()?;
    drop(client); // the peer closes: its kernel sends FIN
    let mut buf = [0u8; 1024];
    let n = server.read(&mut buf)?; // a blocking read, yet it returns at once: EOF
    println!(
        "(b) peer closed; recv(1024) -> {n} bytes {} (EOF, returned at once)",
        py(&buf[..n])
    );
    for _ in 0..2 {
        let n = server.read(&mut buf)?;
        println!(
            "(b) recv(1024) again -> {n} bytes {} (EOF again)",
            py(&buf[..n])
        );
    }

    println!(
        "(c) SIGPIPE disposition: {} (set by Rust's runtime before main, like Python)",
        sigpipe_disposition()?
    );
    let msg = b"are you there?";
    let n = server.write(msg)?;
    println!(
        "(c) send({}) to the closed peer -> {n} bytes (only reached our send buffer)",
        py(msg)
    );
    // The data reaches a socket nobody owns any more; its kernel answers RST.
    let seen = wait_for(&server, PollFlags::empty())?;
    anyhow::ensure!(seen.contains(PollFlags::POLLHUP), "no RST: {seen:?}");
    println!("(c) the peer's kernel answered with RST (poll: {seen:?})");
    let msg = b"hello?";
    match server.write(msg) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => println!(
            "(c) send({}) again -> Err({}) kind {:?} (Python: BrokenPipeError)",
            py(msg),
            errno_name(&e),
            e.kind()
        ),
        other => anyhow::bail!("expected BrokenPipe, got {other:?}"),
    }
    // write(2) has no MSG_NOSIGNAL: the kernel raises SIGPIPE, which is ignored.
    match nix::unistd::write(&server, msg) {
        Err(Errno::EPIPE) => println!(
            "(c) write(2) without MSG_NOSIGNAL -> Err(EPIPE): SIGPIPE was raised and ignored, process alive"
        ),
        other => anyhow::bail!("expected EPIPE, got {other:?}"),
    }
    match write_with_default_sigpipe(&server)? {
        WaitStatus::Signaled(pid, Signal::SIGPIPE, _) => println!(
            "(c) child {pid} with SIGPIPE at SIG_DFL did the same write: killed by SIGPIPE"
        ),
        other => anyhow::bail!("expected the child to die of SIGPIPE: {other:?}"),
    }
    Ok(())
}

/// (c) A peer that closes with unread data resets the connection: ECONNRESET.
fn reset_by_peer() -> anyhow::Result<()> {
    let (mut client, server) = tcp_pair()?;
    client.write_all(b"unread")?;
    wait_queued(&server, 6)?;
    let unread = queued(&server)?;
    drop(server); // closing with unread data: the kernel sends RST, not FIN
    wait_for(&client, PollFlags::empty())?;
    println!("(c) peer closed with {unread} unread bytes -> it sent RST at once");
    let mut buf = [0u8; 1024];
    match client.read(&mut buf) {
        Err(e) if e.kind() == ErrorKind::ConnectionReset => println!(
            "(c) recv(1024) -> Err({}) kind {:?} (Python: ConnectionResetError)",
            errno_name(&e),
            e.kind()
        ),
        other => anyhow::bail!("expected ConnectionReset, got {other:?}"),
    }
    let n = client.read(&mut buf)?;
    println!(
        "(c) recv(1024) again -> {n} bytes {} (the reset is reported once, then EOF)",
        py(&buf[..n])
    );
    Ok(())
}

/// Writes all of `data` through `w`, which has a write timeout; stops at the
/// first timeout. Returns the bytes written and that error (Python's
/// `sendall` on a socket with a timeout behaves the same).
fn send_all_until_timeout(w: &mut TcpStream, data: &[u8]) -> (usize, io::Result<()>) {
    let mut sent = 0;
    while sent < data.len() {
        match w.write(&data[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return (sent, Err(e)),
        }
    }
    (sent, Ok(()))
}

/// Non-blocking writes until the kernel refuses one; returns the bytes
/// accepted and the refusal (an `Err` if the error was not WouldBlock).
fn fill_until_refused(w: &mut TcpStream) -> (usize, io::Result<io::Error>) {
    let chunk = [b'x'; 4096];
    let mut accepted = 0;
    loop {
        match w.write(&chunk) {
            Ok(n) => accepted += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return (accepted, Ok(e)),
            Err(e) => return (accepted, Err(e)),
        }
    }
}

/// Whether `sock` becomes writable (POLLOUT) within `limit`.
fn wait_writable(sock: &impl AsFd, limit: Duration) -> anyhow::Result<bool> {
    let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLOUT)];
    let ms = u16::try_from(limit.as_millis()).unwrap_or(u16::MAX);
    Ok(poll(&mut fds, PollTimeout::from(ms))? == 1)
}

/// (d) A full send buffer: WouldBlock when non-blocking, a wait when blocking.
fn full_send_buffer() -> anyhow::Result<()> {
    const ASKED: usize = 64 * 1024;
    // Sizes set before listen/connect: the accepted socket inherits the
    // listener's; a size the program sets turns off the kernel's autotuning.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    listener.set_recv_buffer_size(ASKED)?;
    listener.bind(&SockAddr::from(SocketAddr::from(([127, 0, 0, 1], 0))))?;
    listener.listen(8)?;
    let writer = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    writer.set_send_buffer_size(ASKED)?;
    writer.connect(&listener.local_addr()?)?;
    let (reader, _) = listener.accept()?;
    let mut writer = TcpStream::from(writer);
    let mut reader = TcpStream::from(reader);
    reader.set_read_timeout(Some(PATIENCE))?;
    println!(
        "(d) writer SO_SNDBUF={}, reader SO_RCVBUF={} (asked {ASKED} each; Linux doubles)",
        SockRef::from(&writer).send_buffer_size()?,
        SockRef::from(&reader).recv_buffer_size()?
    );

    // Non-blocking: write until the kernel refuses.
    writer.set_nonblocking(true)?;
    let (accepted, refused) = fill_until_refused(&mut writer);
    let refused = refused?;
    anyhow::ensure!(accepted > 0, "the send buffer took nothing");
    println!(
        "(d) non-blocking send, nobody reading: N={accepted} bytes accepted, then Err({:?}) ({}; Python: BlockingIOError)",
        refused.kind(),
        errno_name(&refused)
    );
    // "Full" is not final at once: a delayed ACK (~40 ms) and a window probe
    // (~200 ms) can still make room. Keep filling until no room comes for 500 ms.
    let mut late = 0usize;
    let deadline = Instant::now() + PATIENCE;
    loop {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the send buffer never stayed full"
        );
        let room = wait_writable(&writer, Duration::from_millis(500))?;
        let (n, refused) = fill_until_refused(&mut writer);
        refused?;
        late += n;
        if !room && n == 0 {
            break;
        }
    }
    let total = accepted + late;
    println!(
        "(d) poll(POLLOUT) until no room for 500 ms: {late} more bytes fit later (ACKs, window probes); full at {total} bytes"
    );
    let in_reader = queued(&reader)?.min(total);
    println!(
        "(d) the reader's receive buffer holds {in_reader} bytes (ioctl FIONREAD), the writer's send buffer the other {}",
        total - in_reader
    );

    // Blocking with a timeout: the wait ends with WouldBlock (EAGAIN), the
    // error std reports for an expired SO_SNDTIMEO. (Should the kernel still
    // make room, the bytes it takes are counted and printed.)
    writer.set_nonblocking(false)?;
    writer.set_write_timeout(Some(Duration::from_millis(300)))?;
    let big = vec![b'y'; 1024 * 1024];
    let start = Instant::now();
    let (timed, result) = send_all_until_timeout(&mut writer, &big);
    let waited = start.elapsed().as_millis();
    match result {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => println!(
            "(d) blocking sendall with a 300 ms write timeout -> Err({:?}) after {waited} ms (sent {timed} bytes first; Python: socket.timeout)",
            e.kind()
        ),
        other => anyhow::bail!("expected a timeout, got {other:?}"),
    }

    // Blocking without a timeout, in a thread: it can only finish once the
    // reader makes room (1 MiB is far more than both buffers can hold).
    writer.set_write_timeout(None)?;
    let (done_tx, done_rx) = mpsc::channel();
    let sender = thread::spawn(move || {
        let result = writer.write_all(&big);
        let _ = done_tx.send(Instant::now());
        result // `writer` is dropped here: the reader sees EOF after the data
    });
    match done_rx.recv_timeout(Duration::from_millis(300)) {
        Err(mpsc::RecvTimeoutError::Timeout) => println!(
            "(d) blocking sendall of {} bytes in a thread: still blocked after 300 ms",
            1024 * 1024
        ),
        other => anyhow::bail!("the blocked sendall should not have returned: {other:?}"),
    }
    let reading_started = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let mut drained = 0usize;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let returned = done_rx.recv_timeout(PATIENCE)?;
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("sender thread panicked"))??;
    anyhow::ensure!(
        returned >= reading_started,
        "sendall returned before reading"
    );
    println!(
        "(d) reader started reading; the blocked sendall returned {} ms later",
        (returned - reading_started).as_millis()
    );
    let expected = total + timed + 1024 * 1024;
    anyhow::ensure!(
        drained == expected,
        "drained {drained}, expected {expected}"
    );
    println!(
        "(d) reader drained {drained} bytes = {total} + {timed} + {}, every byte sent, then EOF",
        1024 * 1024
    );
    Ok(())
}

/// (e) UDP: a short recvfrom buffer truncates the datagram; the rest is lost.
fn udp_truncates() -> anyhow::Result<()> {
    let receiver = UdpSocket::bind("127.0.0.1:0")?;
    let sender = UdpSocket::bind("127.0.0.1:0")?;
    let to = receiver.local_addr()?;
    let (first, second) = (b"0123456789", b"next");
    sender.send_to(first, to)?;
    // Make sure the first datagram is queued before the second is sent, so
    // they are always read in this order.
    wait_for(&receiver, PollFlags::POLLIN)?;
    sender.send_to(second, to)?;
    wait_queued(&receiver, first.len())?;
    println!(
        "(e) sendto {} bytes {}, then {} bytes {} to {to}",
        first.len(),
        py(first),
        second.len(),
        py(second)
    );
    let mut buf = [0u8; 1024];
    // recv with MSG_TRUNC and MSG_PEEK reports the datagram's full length
    // and leaves it queued.
    let full = nix::sys::socket::recv(
        receiver.as_raw_fd(),
        &mut buf[..4],
        MsgFlags::MSG_TRUNC | MsgFlags::MSG_PEEK,
    )?;
    let (n, from) = receiver.recv_from(&mut buf[..4])?;
    println!(
        "(e) recvfrom(4) -> {} from {from} (datagram was {full} bytes: MSG_TRUNC)",
        py(&buf[..n])
    );
    wait_for(&receiver, PollFlags::POLLIN)?;
    let (n, from) = receiver.recv_from(&mut buf[..4])?;
    println!(
        "(e) recvfrom(4) -> {} from {from} (the rest of the first datagram was discarded)",
        py(&buf[..n])
    );
    receiver.set_nonblocking(true)?;
    match receiver.recv_from(&mut buf[..4]) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => println!(
            "(e) recvfrom(4) -> Err(WouldBlock): nothing left (TCP would still hold {})",
            py(&first[4..])
        ),
        other => anyhow::bail!("expected nothing left, got {other:?}"),
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    recv_takes_at_most_n()?;
    peer_closed()?;
    reset_by_peer()?;
    full_send_buffer()?;
    udp_truncates()
}
