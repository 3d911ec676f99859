//! systemd socket activation: serving the listening socket a manager
//! passed (`systemd`, `systemd-socket-activate`) instead of binding one.
//!
//! [`take`] reads `LISTEN_PID`/`LISTEN_FDS` once, checks that descriptor 3
//! is a socket netkit can serve (a listening stream socket, or a datagram
//! socket for UDP services) and turns it into a [`Listener`] or a
//! [`UdpSocket`]. The socket stays the manager's: a Unix socket file it made
//! is not removed on exit, and the multi-loop models (epoll, uring) share
//! this one socket between their workers rather than binding siblings with
//! SO_REUSEPORT ([`is_inherited`] tells them).

use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::sync::OnceLock;

use socket2::{Domain, SockRef, Type};

use super::ServerError;
use super::net::Listener;
use crate::sys::activation::{self, LISTEN_FDS_START};

/// A socket passed by the service manager.
#[derive(Debug)]
pub enum Inherited {
    /// A listening stream socket (TCP or Unix).
    Stream(Listener),
    /// A datagram socket (UDP).
    Datagram(UdpSocket),
}

/// The passed socket's identity (device and inode), which every duplicate
/// of its descriptor shares.
static IDENTITY: OnceLock<(u64, u64)> = OnceLock::new();

fn identity(fd: impl AsFd) -> Option<(u64, u64)> {
    nix::sys::stat::fstat(fd)
        .ok()
        .map(|st| (st.st_dev, st.st_ino))
}

/// True when `sock` is (a duplicate of) the socket systemd passed.
pub fn is_inherited(sock: impl AsFd) -> bool {
    IDENTITY
        .get()
        .is_some_and(|id| identity(sock).as_ref() == Some(id))
}

fn error(message: String) -> ServerError {
    ServerError::bind(format!("systemd socket activation: {message}"), None)
}

/// Takes the socket passed to this process, if any: `Ok(None)` without
/// socket activation (or once it was taken), an error in one line when
/// what was passed cannot be served. Call it at start-up, before threads
/// start: it also unsets `LISTEN_*` so children do not inherit them.
pub fn take() -> Result<Option<Inherited>, ServerError> {
    let Some(passed) = activation::take_listen_fds().map_err(error)? else {
        return Ok(None);
    };
    if passed.count > 1 {
        return Err(error(format!(
            "{} sockets were passed (LISTEN_FDS={}), but netkit serves one: give the \
             socket unit a single ListenStream= (\"[::]:PORT\" reaches IPv4 and IPv6)",
            passed.count, passed.count
        )));
    }
    let inherited = check(passed.first)?;
    let fd = match &inherited {
        Inherited::Stream(l) => l.as_fd(),
        Inherited::Datagram(u) => u.as_fd(),
    };
    if let Some(id) = identity(fd) {
        let _ = IDENTITY.set(id);
    }
    Ok(Some(inherited))
}

fn check(fd: OwnedFd) -> Result<Inherited, ServerError> {
    let n = LISTEN_FDS_START;
    let sock = SockRef::from(&fd);
    let ty = sock
        .r#type()
        .map_err(|e| error(format!("descriptor {n} is not a socket ({e})")))?;
    let domain = sock.domain().map_err(|e| {
        error(format!(
            "descriptor {n}: cannot read its address family ({e})"
        ))
    })?;
    let family = match domain {
        Domain::IPV4 | Domain::IPV6 => "inet",
        Domain::UNIX => "unix",
        _ => {
            return Err(error(format!(
                "descriptor {n} is neither an IP nor a Unix socket"
            )));
        }
    };
    // systemd's NonBlocking= would make the blocking models' accept spin:
    // every model sets the mode it wants from blocking.
    sock.set_nonblocking(false)
        .map_err(|e| error(format!("descriptor {n}: {e}")))?;
    if ty == Type::STREAM {
        if !sock.is_listener().unwrap_or(false) {
            return Err(error(format!(
                "descriptor {n} is a stream socket that is not listening \
                 (netkit needs Accept=no in the socket unit)"
            )));
        }
        return Ok(Inherited::Stream(match family {
            "inet" => Listener::Tcp(TcpListener::from(fd)),
            _ => Listener::inherited_unix(UnixListener::from(fd)),
        }));
    }
    if ty == Type::DGRAM && family == "inet" {
        return Ok(Inherited::Datagram(UdpSocket::from(fd)));
    }
    Err(error(format!(
        "descriptor {n} is a {family} socket netkit cannot serve \
         (it serves listening stream sockets and UDP)"
    )))
}
