//! `netkit udp serve|send`: the course's UDP server and client (`recvfrom` / `sendto`).
//!
//! The server binds one datagram socket and loops on `recvfrom`: it prints who
//! sent what and answers each datagram with a reply (`Thanks` by default, as in
//! the course). There is no connection: every datagram carries its sender's
//! address, and the reply goes back to it with `sendto`.
//!
//! ```text
//! $ netkit udp serve --port 8888            # prints: listening on udp://127.0.0.1:8888
//! $ netkit udp send 127.0.0.1:8888 hello    # prints the reply: Thanks
//! $ netkit udp send 127.0.0.1:8888          # one datagram per line typed; empty line or ## ends
//! ```
//!
//! The size lesson: a datagram arrives whole or not at all, and `recvfrom`
//! into a buffer smaller than the datagram keeps the start and *silently drops
//! the rest*. The server reads with `MSG_TRUNC`, which makes Linux report the
//! datagram's real length, so it can say so (and replies `TRUNCATED ...`):
//! try `netkit udp serve --buffer 16` and `netkit udp send --size 100`. The
//! largest payload at all is 65507 bytes over IPv4 (65535 minus the 20-byte IP
//! and 8-byte UDP headers; 65527 over IPv6); `--size 70000` shows the kernel
//! refusing to send it.

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// The port `netkit udp serve` listens on and `netkit udp send` sends to.
pub const DEFAULT_PORT: u16 = 8888;

use crate::server::Shutdown;
use crate::server::shutdown::TICK;
use crate::sys;

/// Largest UDP payload over IPv4: 65535 (IP total length) - 20 (IP header) - 8 (UDP header).
pub const MAX_PAYLOAD_V4: usize = 65_507;
/// Largest UDP payload over IPv6 (without jumbograms): 65535 - 8 (UDP header).
pub const MAX_PAYLOAD_V6: usize = 65_527;
/// The course's receive buffer size.
pub const DEFAULT_BUFFER: usize = 1024;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Receive buffer size: longer datagrams are truncated (and reported).
    pub buffer: usize,
    /// What to answer each whole datagram with.
    pub reply: String,
    /// Stop after this many datagrams (for scripts and tests); `None` runs until a signal.
    pub count: Option<u64>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            buffer: DEFAULT_BUFFER,
            reply: "Thanks".into(),
            count: None,
        }
    }
}

/// One received datagram, as `recvfrom` with `MSG_TRUNC` saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// The sender.
    pub from: SocketAddr,
    /// The bytes that fit the buffer.
    pub data: Vec<u8>,
    /// The datagram's real length (larger than `data.len()` when truncated).
    pub len: usize,
}

impl Datagram {
    /// True when the buffer was too small and the kernel dropped the tail.
    pub fn truncated(&self) -> bool {
        self.len > self.data.len()
    }
}

/// Receives one datagram into a buffer of `buffer` bytes, learning its real length
/// (`recvfrom(..., MSG_TRUNC)`). Times out per the socket's read timeout.
pub fn recv_datagram(socket: &UdpSocket, buffer: usize) -> io::Result<Datagram> {
    use nix::sys::socket::{MsgFlags, SockaddrStorage, recvmsg};
    let mut data = vec![0u8; buffer.max(1)];
    let (len, from) = {
        let mut iov = [io::IoSliceMut::new(&mut data)];
        let msg =
            recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, None, MsgFlags::MSG_TRUNC)?;
        (msg.bytes, msg.address)
    };
    data.truncate(len);
    let from = from
        .and_then(|a| {
            a.as_sockaddr_in()
                .map(|v4| SocketAddr::V4((*v4).into()))
                .or_else(|| a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into())))
        })
        .ok_or_else(|| io::Error::other("datagram from a non-IP address"))?;
    Ok(Datagram { from, data, len })
}

/// The explanation printed when a datagram did not fit.
pub fn truncation_note(d: &Datagram) -> String {
    format!(
        "datagram from {} truncated: it was {} bytes but the receive buffer holds {}, so the \
         kernel discarded the last {} bytes. UDP hands over a datagram whole in one recvfrom \
         or cuts it; nothing is left to read later. Use a buffer as large as the largest \
         datagram expected (--buffer; a UDP payload is at most {MAX_PAYLOAD_V4} bytes over IPv4, \
         {MAX_PAYLOAD_V6} over IPv6).",
        d.from,
        d.len,
        d.data.len(),
        d.len - d.data.len()
    )
}

/// The reply for a datagram: the configured text, or a truncation notice.
pub fn reply_for(d: &Datagram, opts: &ServeOptions) -> Vec<u8> {
    if d.truncated() {
        format!(
            "TRUNCATED: the server kept {} of your {} bytes (its buffer is {} bytes)",
            d.data.len(),
            d.len,
            d.data.len()
        )
        .into_bytes()
    } else {
        opts.reply.clone().into_bytes()
    }
}

/// Serves until `shutdown` (or `opts.count` datagrams): prints each datagram on
/// `out`, notes on `err`, and answers with `sendto`. Returns the datagrams served.
pub fn serve(
    socket: &UdpSocket,
    opts: &ServeOptions,
    shutdown: &Shutdown,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u64> {
    socket.set_read_timeout(Some(TICK))?;
    let mut served = 0u64;
    while !shutdown.is_set() && opts.count.is_none_or(|c| served < c) {
        let d = match recv_datagram(socket, opts.buffer) {
            Ok(d) => d,
            Err(e) if sys::timed_out(&e) => {
                continue;
            }
            Err(e) => return Err(e),
        };
        served += 1;
        writeln!(
            out,
            "from {}: {} bytes: {}",
            d.from,
            d.len,
            String::from_utf8_lossy(&d.data).trim_end()
        )?;
        out.flush()?;
        if d.truncated() {
            writeln!(err, "netkit udp: {}", truncation_note(&d))?;
        }
        if let Err(e) = socket.send_to(&reply_for(&d, opts), d.from) {
            writeln!(err, "netkit udp: cannot reply to {}: {e}", d.from)?;
        }
    }
    Ok(served)
}

/// Why a client exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The datagram is larger than UDP allows.
    #[error(
        "cannot send {size} bytes in one datagram: {cause} (a UDP payload is at most \
         {MAX_PAYLOAD_V4} bytes over IPv4 and {MAX_PAYLOAD_V6} over IPv6; split the data or use TCP)"
    )]
    TooLarge {
        /// The size tried.
        size: usize,
        /// The kernel's error (EMSGSIZE).
        cause: io::Error,
    },
    /// No reply arrived in time.
    #[error(
        "no reply from {to} within {timeout:?} (UDP gives no error when nobody listens: \
         is the server running on that port?)"
    )]
    NoReply {
        /// Where the datagram went.
        to: SocketAddr,
        /// How long we waited.
        timeout: Duration,
    },
    /// Any other socket error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A client socket for talking to `to`: bound to an ephemeral port of the same family.
pub fn client_socket(to: SocketAddr) -> io::Result<UdpSocket> {
    let any: SocketAddr = if to.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    UdpSocket::bind(any)
}

/// Sends `msg` to `to` with `sendto` and waits up to `timeout` for the reply
/// from that address (`recvfrom`; datagrams from anyone else are ignored).
pub fn exchange(
    socket: &UdpSocket,
    to: SocketAddr,
    msg: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, SendError> {
    socket.send_to(msg, to).map_err(|e| {
        if e.raw_os_error() == Some(libc::EMSGSIZE) {
            SendError::TooLarge {
                size: msg.len(),
                cause: e,
            }
        } else {
            SendError::Io(e)
        }
    })?;
    let until = Instant::now() + timeout;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SendError::NoReply { to, timeout });
        }
        socket.set_read_timeout(Some(left))?;
        match recv_datagram(socket, MAX_PAYLOAD_V6) {
            Ok(d) if d.from == to => return Ok(d.data),
            Ok(_) => continue,
            Err(e) if sys::timed_out(&e) => {
                continue;
            }
            // Linux reports an ICMP "port unreachable" from an earlier datagram here.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(SendError::NoReply { to, timeout });
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// A payload of `size` bytes for `udp send --size`: printable, so the server's output stays readable.
pub fn filler(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        (a, b)
    }

    #[test]
    fn whole_datagram_is_not_truncated() {
        let (a, b) = pair();
        b.send_to(b"hello", a.local_addr().unwrap()).unwrap();
        let d = recv_datagram(&a, 16).unwrap();
        assert_eq!(d.data, b"hello");
        assert_eq!(d.len, 5);
        assert!(!d.truncated());
        assert_eq!(d.from, b.local_addr().unwrap());
    }

    #[test]
    fn truncation_reports_real_length() {
        let (a, b) = pair();
        b.send_to(&filler(3000), a.local_addr().unwrap()).unwrap();
        let d = recv_datagram(&a, 1024).unwrap();
        assert_eq!(d.data.len(), 1024);
        assert_eq!(d.len, 3000);
        assert!(d.truncated());
        let note = truncation_note(&d);
        assert!(
            note.contains("3000 bytes") && note.contains("discarded the last 1976"),
            "{note}"
        );
        let r = String::from_utf8(reply_for(&d, &ServeOptions::default())).unwrap();
        assert!(r.starts_with("TRUNCATED"), "{r}");
    }

    #[test]
    fn oversized_datagram_is_explained() {
        let (a, b) = pair();
        let e = exchange(
            &b,
            a.local_addr().unwrap(),
            &filler(70_000),
            Duration::from_millis(100),
        )
        .unwrap_err();
        assert!(matches!(e, SendError::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("65507"));
    }

    #[test]
    fn largest_ipv4_datagram_passes() {
        let (a, b) = pair();
        b.send_to(&filler(MAX_PAYLOAD_V4), a.local_addr().unwrap())
            .unwrap();
        let d = recv_datagram(&a, 65_536).unwrap();
        assert_eq!(d.len, MAX_PAYLOAD_V4);
        assert!(!d.truncated());
    }
}
