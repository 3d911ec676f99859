//! Lesson: non-blocking sockets and socket timeouts (127.0.0.1 only).
//!
//! 1. A listener in non-blocking mode: `accept()` with no pending connection
//!    fails at once with EAGAIN (Rust: `ErrorKind::WouldBlock`) instead of
//!    waiting. `poll()` tells us when a connection is ready to accept.
//! 2. A non-blocking `read()` with no data also fails with WouldBlock.
//! 3. A blocking socket with `set_read_timeout(200 ms)` waits at most that
//!    long, then the read fails with a timeout error (EAGAIN on Linux).
//!
//! Run: `cargo run --example nonblocking_socket`
//!
//! Expected output (port and times vary):
//! ```text
//! listening on 127.0.0.1:41234 (non-blocking)
//! accept (nix): Err(EAGAIN): no pending connection
//! accept (std): WouldBlock: no pending connection
//! poll: listener readable after a client connected
//! accept: connection from 127.0.0.1:53312
//! read (non-blocking): WouldBlock: no data yet
//! read (non-blocking): got "hello" after the client wrote
//! read with 200 ms timeout: timed out after 200 ms (kind WouldBlock)
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// Wait until `fd` is readable, at most 2 s.
fn wait_readable(fd: &impl AsFd) -> anyhow::Result<()> {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let ready = poll(&mut fds, PollTimeout::from(2000u16))?;
    anyhow::ensure!(ready == 1, "poll timed out");
    Ok(())
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    println!("listening on {} (non-blocking)", listener.local_addr()?);

    // The raw system call reports the errno...
    match nix::sys::socket::accept(listener.as_raw_fd()) {
        Err(e) => println!("accept (nix): Err({e:?}): no pending connection"),
        Ok(fd) => anyhow::bail!("unexpected connection, fd {fd}"),
    }
    // ...and std maps EAGAIN/EWOULDBLOCK to ErrorKind::WouldBlock.
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
            println!("accept (std): WouldBlock: no pending connection")
        }
        other => anyhow::bail!("unexpected accept result: {other:?}"),
    }

    let mut client = TcpStream::connect(listener.local_addr()?)?;
    wait_readable(&listener)?;
    println!("poll: listener readable after a client connected");
    let (mut server_side, peer) = listener.accept()?;
    println!("accept: connection from {peer}");

    server_side.set_nonblocking(true)?;
    let mut buf = [0u8; 64];
    match server_side.read(&mut buf) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
            println!("read (non-blocking): WouldBlock: no data yet")
        }
        other => anyhow::bail!("unexpected read result: {other:?}"),
    }
    client.write_all(b"hello")?;
    wait_readable(&server_side)?;
    let n = server_side.read(&mut buf)?;
    let text = String::from_utf8_lossy(&buf[..n]);
    println!("read (non-blocking): got {text:?} after the client wrote");

    // Timeouts: the client's socket stays blocking but waits at most 200 ms.
    let timeout = Duration::from_millis(200);
    client.set_read_timeout(Some(timeout))?;
    let start = Instant::now();
    match client.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            let waited = start.elapsed().as_millis();
            println!(
                "read with 200 ms timeout: timed out after {waited} ms (kind {:?})",
                e.kind()
            );
        }
        other => anyhow::bail!("unexpected read result: {other:?}"),
    }
    Ok(())
}
