//! Idle keep-alive connections: open `n` connections, have each make exactly
//! one request, and keep them all open and silent, so the server's memory per
//! idle connection can be read from `/proc`. Also a one-off blocking request
//! ([`probe`]) that learns how long the server's answer is.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::loadgen::{Epoll, connect_all};
use crate::sys::{recv_now, send_now};

/// Idle connections that each made one request.
#[derive(Debug)]
pub struct IdleConns {
    /// Every connection that connected (answered or not), still open.
    pub open: Vec<OwnedFd>,
    /// Connections that could not connect in time.
    pub connect_errors: usize,
    /// Connections whose request got its full answer.
    pub answered: usize,
    /// Connections that failed (reset, closed, or an answer of the wrong length).
    pub failed: usize,
    /// How long connecting and the requests took.
    pub took: Duration,
}

/// Opens `n` connections to `addr`, sends `request` once on each and waits
/// (until `answer_timeout` after connecting) for `response_len` bytes back on
/// each. The connections stay open in the result, answered or not.
pub fn open_idle(
    addr: SocketAddr,
    n: usize,
    request: &[u8],
    response_len: usize,
    connect_timeout: Duration,
    answer_timeout: Duration,
) -> io::Result<IdleConns> {
    let t0 = Instant::now();
    let (open, connect_errors) = connect_all(addr, n, connect_timeout)?;
    let ep = Epoll::new()?;
    // Bytes received per connection; None once answered or failed.
    let mut got: Vec<Option<usize>> = vec![Some(0); open.len()];
    let mut failed = 0;
    let mut waiting = 0;
    for (i, fd) in open.iter().enumerate() {
        // A small request on a fresh connection fits the socket buffer at once.
        let sent = send_now(fd.as_fd(), request);
        if !matches!(sent, Ok(n) if n == request.len())
            || ep
                .add(fd.as_raw_fd(), libc::EPOLLIN as u32, i as u64)
                .is_err()
        {
            got[i] = None;
            failed += 1;
        } else {
            waiting += 1;
        }
    }
    let deadline = Instant::now() + answer_timeout;
    let mut answered = 0;
    let mut scratch = vec![0u8; response_len.clamp(4096, 256 * 1024)];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 512];
    while waiting > 0 {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let k = ep.wait(&mut events, deadline - now).unwrap_or(0);
        for ev in &events[..k] {
            let i = ev.u64 as usize;
            let Some(so_far) = got[i] else { continue };
            let fd = open[i].as_fd();
            let outcome = match recv_now(fd, &mut scratch) {
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
                    _ => Some(false),
                },
                Ok(0) => Some(false), // closed by the server
                Ok(r) => {
                    let total = so_far + r;
                    got[i] = Some(total);
                    match total.cmp(&response_len) {
                        std::cmp::Ordering::Less => None,
                        std::cmp::Ordering::Equal => Some(true),
                        std::cmp::Ordering::Greater => Some(false),
                    }
                }
            };
            if let Some(ok) = outcome {
                got[i] = None;
                waiting -= 1;
                ep.delete(fd.as_raw_fd());
                if ok {
                    answered += 1;
                } else {
                    failed += 1;
                }
            }
        }
    }
    Ok(IdleConns {
        open,
        connect_errors,
        answered,
        failed,
        took: t0.elapsed(),
    })
}

/// Sends `request` on a fresh blocking connection and reads one answer:
/// `echo_len` bytes for an echo server, or (with `echo_len == None`) one
/// HTTP response, which must be `200` with a `Content-Length`. Returns the
/// answer's length in bytes.
pub fn probe(
    addr: SocketAddr,
    request: &[u8],
    echo_len: Option<usize>,
    timeout: Duration,
) -> Result<usize> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let _ = s.set_nodelay(true);
    s.write_all(request).context("sending the probe request")?;
    if let Some(len) = echo_len {
        let mut buf = vec![0u8; len];
        s.read_exact(&mut buf).context("reading the echo")?;
        if buf != request {
            bail!("the echo server answered with different bytes");
        }
        return Ok(len);
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            bail!("no end of the HTTP response head in 64 KiB");
        }
        let n = s.read(&mut chunk).context("reading the HTTP response")?;
        if n == 0 {
            bail!("the server closed the connection before answering");
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).to_string();
    let status_line = head.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) != Some("200") {
        bail!("the server answered '{status_line}' instead of 200");
    }
    let body_len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .context("the HTTP response has no Content-Length")?;
    while buf.len() < head_len + body_len {
        let n = s.read(&mut chunk).context("reading the HTTP body")?;
        if n == 0 {
            bail!("the server closed the connection in the middle of the body");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if buf.len() > head_len + body_len {
        bail!("the server sent more than one response");
    }
    Ok(head_len + body_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A tiny echo server on a thread, serving connections one after another
    /// but each on its own thread, for `n` connections.
    fn echo_server(n: usize) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming().take(n) {
                let mut s = s.unwrap();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(k) = s.read(&mut buf) {
                        if k == 0 || s.write_all(&buf[..k]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn idle_connections_each_get_one_answer() {
        let addr = echo_server(21);
        assert_eq!(
            probe(addr, b"hello", Some(5), Duration::from_secs(2)).unwrap(),
            5
        );
        let idle = open_idle(
            addr,
            20,
            b"ping",
            4,
            Duration::from_secs(2),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(idle.open.len(), 20);
        assert_eq!(
            (idle.answered, idle.failed, idle.connect_errors),
            (20, 0, 0)
        );
    }

    #[test]
    fn wrong_length_answers_fail() {
        let addr = echo_server(3);
        let idle = open_idle(
            addr,
            3,
            b"ping",
            2,
            Duration::from_secs(2),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!((idle.answered, idle.failed), (0, 3));
    }
}
