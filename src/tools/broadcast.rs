//! `netkit broadcast send|listen`: UDP broadcast, one sender and many receivers.
//!
//! A datagram sent to a broadcast address reaches every host on that network,
//! and on each host every socket bound to the port (on the wildcard address or
//! the broadcast address itself). The kernel refuses to send one unless the
//! sender opts in with `SO_BROADCAST` (`sendto` fails with "Permission
//! denied"), so a typo cannot flood a network by accident. Several receivers
//! on one machine can share the port because each sets `SO_REUSEADDR` and
//! `SO_REUSEPORT`; each one gets its own copy of every broadcast.
//!
//! ```text
//! $ netkit broadcast listen --port 9999 &       # any number of these
//! $ netkit broadcast send --port 9999 --to 255.255.255.255 "hello, everyone"
//! ```
//!
//! On one machine without a network, the loopback network 127.0.0.0/8 has its
//! own broadcast address, 127.255.255.255: `--to 127.255.255.255` reaches
//! every listener bound to `0.0.0.0` (the default) on this host. A listener
//! bound to 127.0.0.1 only gets datagrams addressed to 127.0.0.1, not broadcasts.
//! The sender repeats the message every `--interval` (like the course's
//! broadcaster) until `--count` messages or Ctrl-C.

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::server::Shutdown;
use crate::server::shutdown::TICK;
use crate::sys;

/// The default port of both sides.
pub const DEFAULT_PORT: u16 = 9999;

/// Why broadcasting failed.
#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    /// `sendto` was refused: the socket lacks `SO_BROADCAST`.
    #[error(
        "sending to {to} was refused ({cause}): a broadcast address needs the SO_BROADCAST \
         socket option, which this socket does not have"
    )]
    NeedsSoBroadcast {
        /// The destination.
        to: SocketAddr,
        /// The kernel's error (EACCES).
        cause: io::Error,
    },
    /// The listener could not bind.
    #[error("cannot listen on udp {addr}: {cause}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The kernel's error.
        cause: io::Error,
    },
    /// Any other socket error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A sending socket; `so_broadcast` false leaves the option off (to show the kernel refusing).
pub fn sender_socket(so_broadcast: bool) -> io::Result<UdpSocket> {
    let s = UdpSocket::bind("0.0.0.0:0")?;
    s.set_broadcast(so_broadcast)?;
    Ok(s)
}

/// A receiving socket bound to `addr` with `SO_REUSEADDR` and `SO_REUSEPORT`,
/// so any number of receivers on this host can share the port.
pub fn listener_socket(addr: SocketAddr) -> Result<UdpSocket, BroadcastError> {
    let bind_err = |cause| BroadcastError::Bind { addr, cause };
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(bind_err)?;
    s.set_reuse_address(true).map_err(bind_err)?;
    s.set_reuse_port(true).map_err(bind_err)?;
    s.bind(&addr.into()).map_err(bind_err)?;
    Ok(s.into())
}

/// Sends one datagram to `to`, explaining a refusal for lack of `SO_BROADCAST`.
pub fn send_once(socket: &UdpSocket, to: SocketAddr, msg: &[u8]) -> Result<usize, BroadcastError> {
    socket.send_to(msg, to).map_err(|e| {
        if e.kind() == io::ErrorKind::PermissionDenied {
            BroadcastError::NeedsSoBroadcast { to, cause: e }
        } else {
            BroadcastError::Io(e)
        }
    })
}

/// Sends `msg` to `to` every `interval`, `count` times (0 = until `shutdown`),
/// reporting each send on `out`. Returns how many were sent.
pub fn send(
    socket: &UdpSocket,
    to: SocketAddr,
    msg: &[u8],
    count: u64,
    interval: Duration,
    shutdown: &Shutdown,
    out: &mut dyn Write,
) -> Result<u64, BroadcastError> {
    let mut sent = 0u64;
    while !shutdown.is_set() {
        let n = send_once(socket, to, msg)?;
        sent += 1;
        writeln!(out, "sent {n} bytes to {to}")?;
        out.flush()?;
        if count != 0 && sent >= count {
            break;
        }
        let next = Instant::now() + interval;
        while !shutdown.is_set() && Instant::now() < next {
            std::thread::sleep(TICK.min(next.saturating_duration_since(Instant::now())));
        }
    }
    Ok(sent)
}

/// Prints every datagram that arrives (`from ADDR: text`) until `count`
/// datagrams (0 = until `shutdown`). Returns how many were received.
pub fn listen(
    socket: &UdpSocket,
    count: u64,
    shutdown: &Shutdown,
    out: &mut dyn Write,
) -> io::Result<u64> {
    socket.set_read_timeout(Some(TICK))?;
    let mut buf = vec![0u8; super::udp::MAX_PAYLOAD_V6];
    let mut got = 0u64;
    while !shutdown.is_set() && (count == 0 || got < count) {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                got += 1;
                writeln!(
                    out,
                    "from {from}: {}",
                    String::from_utf8_lossy(&buf[..n]).trim_end()
                )?;
                out.flush()?;
            }
            Err(e) if sys::timed_out(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loopback broadcast address reaches every wildcard listener on the port.
    #[test]
    fn loopback_broadcast_reaches_every_listener() {
        let first = listener_socket("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = first.local_addr().unwrap().port();
        let second = listener_socket(SocketAddr::from(([0, 0, 0, 0], port))).unwrap();
        let to = SocketAddr::from(([127, 255, 255, 255], port));
        let refused = send_once(&sender_socket(false).unwrap(), to, b"x").unwrap_err();
        assert!(
            matches!(refused, BroadcastError::NeedsSoBroadcast { .. }),
            "{refused}"
        );
        send_once(&sender_socket(true).unwrap(), to, b"hi all").unwrap();
        for l in [&first, &second] {
            l.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 64];
            let (n, _) = l.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"hi all");
        }
    }
}
