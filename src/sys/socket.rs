//! Socket calls that never block, and the graceful close.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::check;

/// `recv` with MSG_DONTWAIT: reads what is there now, never blocks.
pub fn recv_now(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid writable memory of buf.len() bytes; sock is open.
    check(unsafe {
        libc::recv(
            sock.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    })
}

/// `send` that never blocks nor raises SIGPIPE (MSG_DONTWAIT | MSG_NOSIGNAL):
/// what the socket takes now. For short replies on a socket that may be
/// blocking (an overload reply to a client over the limit, say).
pub fn send_now(sock: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    send(sock, buf, libc::MSG_DONTWAIT)
}

/// `send` without SIGPIPE; blocks exactly when the socket does.
pub fn send(sock: BorrowedFd<'_>, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: buf is valid readable memory of buf.len() bytes; sock is open.
    check(unsafe {
        libc::send(
            sock.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            flags | libc::MSG_NOSIGNAL,
        )
    })
}

/// `writev` of up to 1024 slices; blocks exactly when the socket does.
pub fn writev(sock: BorrowedFd<'_>, slices: &[io::IoSlice<'_>]) -> io::Result<usize> {
    let count = slices.len().min(1024) as libc::c_int;
    // SAFETY: IoSlice is ABI-compatible with iovec and the slices outlive the call.
    check(unsafe { libc::writev(sock.as_raw_fd(), slices.as_ptr().cast(), count) })
}

/// `recv` with MSG_PEEK | MSG_DONTWAIT: looks at what is there now without
/// taking it, never blocks.
pub fn peek_now(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid writable memory of buf.len() bytes; sock is open.
    check(unsafe {
        libc::recv(
            sock.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    })
}

/// `setsockopt(SOL_SOCKET, opt, value)` with an int value (capped at
/// `c_int::MAX`), for the options socket2 has no method for
/// (SO_RCVBUFFORCE, SO_SNDBUFFORCE).
pub fn set_int_opt(sock: BorrowedFd<'_>, opt: libc::c_int, value: usize) -> io::Result<()> {
    let v = libc::c_int::try_from(value).unwrap_or(libc::c_int::MAX);
    // SAFETY: a valid socket descriptor and a c_int that lives across the call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Half-closes the write side, then closes once the peer has had a moment to read,
/// discarding late input so the kernel sends FIN, not RST (which could destroy
/// the last response in the peer's receive queue).
pub fn graceful_close(sock: BorrowedFd<'_>) {
    let _ = nix::sys::socket::shutdown(sock.as_raw_fd(), nix::sys::socket::Shutdown::Write);
    let mut scratch = [0u8; 4096];
    for _ in 0..16 {
        match recv_now(sock, &mut scratch) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
}

/// Blocks until `fd` is readable or `timeout_ms` passes; true when readable.
pub fn wait_readable(fd: BorrowedFd<'_>, timeout_ms: u16) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::from(timeout_ms)), Ok(n) if n > 0)
}

/// Blocks until the peer of the stream socket `fd` has closed its side (or
/// the connection broke) or `timeout_ms` passes; true when it has. Data
/// waiting to be read does not count: this is `POLLRDHUP`, the end of the
/// peer's stream, not readability.
pub fn wait_peer_closed(fd: BorrowedFd<'_>, timeout_ms: u16) -> bool {
    let mut fds = [libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    }];
    let ended = libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;
    matches!(
        super::poll::wait(&mut fds, std::time::Duration::from_millis(timeout_ms.into())),
        Ok(n) if n > 0 && fds[0].revents & ended != 0
    )
}

/// Most datagrams one `sendmmsg(2)` call takes here.
const SEND_BATCH: usize = 256;

/// Sends the one datagram `buf` to every address in `to` with
/// `sendmmsg(2)`, up to 256 destinations a call, all sharing the one
/// buffer: the chat room's fan-out, formatted once. On a non-blocking
/// socket whose buffer is full it waits (up to 100 ms a time) until it can
/// write; a destination the kernel refuses (an unreachable address, say)
/// is skipped. Returns how many were sent.
pub fn send_to_many(sock: BorrowedFd<'_>, buf: &[u8], to: &[std::net::SocketAddr]) -> usize {
    let addrs: Vec<socket2::SockAddr> = to.iter().map(|a| (*a).into()).collect();
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    let mut msgs: Vec<libc::mmsghdr> = Vec::with_capacity(SEND_BATCH.min(addrs.len()));
    let (mut i, mut sent) = (0, 0);
    while i < addrs.len() {
        msgs.clear();
        for a in &addrs[i..(i + SEND_BATCH).min(addrs.len())] {
            // SAFETY: an all-zero msghdr is a valid empty header.
            let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
            h.msg_name = a.as_ptr() as *mut libc::c_void;
            h.msg_namelen = a.len();
            h.msg_iov = &mut iov;
            h.msg_iovlen = 1;
            msgs.push(libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            });
        }
        // SAFETY: every header points at an address and the one iovec, all
        // alive for the call; the kernel only reads them (and msg_len).
        let n = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                msgs.len() as libc::c_uint,
                libc::MSG_NOSIGNAL,
            )
        };
        if n > 0 {
            i += n as usize;
            sent += n as usize;
            continue;
        }
        match io::Error::last_os_error().kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => wait_writable(sock, 100),
            // The first destination was refused: skip it.
            _ => i += 1,
        }
    }
    sent
}

/// Waits up to `timeout_ms` for `fd` to become writable.
pub fn wait_writable(fd: BorrowedFd<'_>, timeout_ms: u16) {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, libc::c_int::from(timeout_ms)) };
}

/// Sets the Don't Fragment bit on what an IPv4 UDP socket sends
/// (`IP_MTU_DISCOVER` = `IP_PMTUDISC_DO`). The kernel then skips choosing an
/// IP identification for every datagram (`__ip_select_ident`, 5-6 % of the
/// chat server's time at a million datagrams a second); a datagram larger
/// than the path's MTU fails with EMSGSIZE instead of being fragmented.
pub fn set_dont_fragment(sock: BorrowedFd<'_>) -> io::Result<()> {
    let v: libc::c_int = libc::IP_PMTUDISC_DO;
    // SAFETY: a valid socket descriptor and a c_int that lives across the call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod many_tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;

    #[test]
    fn one_datagram_reaches_many_addresses() {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rx: Vec<UdpSocket> = (0..300)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let to: Vec<_> = rx.iter().map(|s| s.local_addr().unwrap()).collect();
        assert_eq!(send_to_many(tx.as_fd(), b"hello all", &to), 300);
        let mut buf = [0u8; 64];
        for s in &rx {
            s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            let (n, from) = s.recv_from(&mut buf).unwrap();
            assert_eq!(
                (&buf[..n], from),
                (&b"hello all"[..], tx.local_addr().unwrap())
            );
        }
        assert_eq!(send_to_many(tx.as_fd(), b"x", &[]), 0);
    }
}
