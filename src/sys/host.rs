//! Host names and addresses: the resolver calls std does not offer
//! (canonical names, reverse look-ups).
//!
//! - [`getaddrinfo`]: a forward look-up with hints, every entry of the answer
//!   (with the canonical name when `AI_CANONNAME` asked for it).
//! - [`getnameinfo`]: the host name of an address.
//! - [`gai_strerror`]: the resolver's message for an `EAI_*` code.

use std::ffi::CStr;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Why a `getaddrinfo` or `getnameinfo` call failed.
#[derive(Debug, thiserror::Error)]
pub enum GaiError {
    /// An `EAI_*` code other than `EAI_SYSTEM`; shown as [`gai_strerror`] says.
    #[error("{}", gai_strerror(*.0))]
    Resolver(libc::c_int),
    /// `EAI_SYSTEM`: the system error (errno) behind it.
    #[error("{0}")]
    System(io::Error),
}

impl GaiError {
    /// The error for a non-zero return code, read at once (so errno is the
    /// call's own for `EAI_SYSTEM`).
    fn from_code(rc: libc::c_int) -> GaiError {
        if rc == libc::EAI_SYSTEM {
            GaiError::System(io::Error::last_os_error())
        } else {
            GaiError::Resolver(rc)
        }
    }
}

/// The resolver's message for a `getaddrinfo`/`getnameinfo` error code.
pub fn gai_strerror(code: libc::c_int) -> String {
    // SAFETY: gai_strerror accepts any code and returns a pointer to a static,
    // NUL-terminated string (an "unknown error" text for codes it does not know).
    unsafe { CStr::from_ptr(libc::gai_strerror(code)) }
        .to_string_lossy()
        .into_owned()
}

/// What to ask `getaddrinfo` for (`struct addrinfo` hints; zero means "any").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
    /// `AF_INET`, `AF_INET6`, or `AF_UNSPEC` (0) for both.
    pub family: libc::c_int,
    /// `SOCK_STREAM`, `SOCK_DGRAM`, ..., or 0 for every type.
    pub socktype: libc::c_int,
    /// A protocol number, or 0 for any.
    pub protocol: libc::c_int,
    /// `AI_*` flags (`AI_CANONNAME`, `AI_NUMERICHOST`, ...).
    pub flags: libc::c_int,
}

/// One entry of a `getaddrinfo` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrInfo {
    /// The socket type of the entry.
    pub socktype: libc::c_int,
    /// The protocol of the entry.
    pub protocol: libc::c_int,
    /// The address (port 0, as no service is asked for); `None` for a family
    /// other than IPv4 and IPv6.
    pub addr: Option<SocketAddr>,
    /// The canonical name, on the entry that carries it (`AI_CANONNAME`).
    pub canonical: Option<String>,
}

/// Frees a `getaddrinfo` list when dropped.
struct List(*mut libc::addrinfo);

impl Drop for List {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a successful getaddrinfo and is freed
        // only here, once.
        unsafe { libc::freeaddrinfo(self.0) }
    }
}

/// Forward look-up of host `name` (no service) with `getaddrinfo`: every
/// entry, in the resolver's order.
pub fn getaddrinfo(name: &CStr, hints: Hints) -> Result<Vec<AddrInfo>, GaiError> {
    let hints = libc::addrinfo {
        ai_flags: hints.flags,
        ai_family: hints.family,
        ai_socktype: hints.socktype,
        ai_protocol: hints.protocol,
        ai_addrlen: 0,
        ai_addr: std::ptr::null_mut(),
        ai_canonname: std::ptr::null_mut(),
        ai_next: std::ptr::null_mut(),
    };
    let mut head: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: name is a NUL-terminated string, hints a valid addrinfo with null
    // pointers, head a valid out-pointer; both inputs outlive the call.
    let rc = unsafe { libc::getaddrinfo(name.as_ptr(), std::ptr::null(), &hints, &mut head) };
    if rc != 0 {
        return Err(GaiError::from_code(rc));
    }
    let list = List(head);
    let mut out = Vec::new();
    let mut p = list.0;
    while !p.is_null() {
        // SAFETY: p is an entry of the list getaddrinfo returned, which stays
        // valid (and unchanged) until `list` frees it after this loop.
        let ai = unsafe { &*p };
        let canonical = (!ai.ai_canonname.is_null()).then(|| {
            // SAFETY: a non-null ai_canonname is a NUL-terminated string owned by the list.
            unsafe { CStr::from_ptr(ai.ai_canonname) }
                .to_string_lossy()
                .into_owned()
        });
        out.push(AddrInfo {
            socktype: ai.ai_socktype,
            protocol: ai.ai_protocol,
            addr: entry_addr(ai),
            canonical,
        });
        p = ai.ai_next;
    }
    drop(list);
    Ok(out)
}

/// The IPv4 or IPv6 address of a `getaddrinfo` entry.
fn entry_addr(ai: &libc::addrinfo) -> Option<SocketAddr> {
    let len = ai.ai_addrlen as usize;
    if ai.ai_addr.is_null() {
        return None;
    }
    match ai.ai_family {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: getaddrinfo's entry of family AF_INET points to a
            // sockaddr_in of ai_addrlen bytes (checked above), valid while the
            // list lives; read unaligned, as a copy.
            let sin = unsafe { std::ptr::read_unaligned(ai.ai_addr.cast::<libc::sockaddr_in>()) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: likewise a sockaddr_in6 for AF_INET6.
            let sin6 = unsafe { std::ptr::read_unaligned(ai.ai_addr.cast::<libc::sockaddr_in6>()) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Host name of `addr` with `getnameinfo` (no service); `flags` are `NI_*`
/// flags (`NI_NAMEREQD`: a name or an error, never the number back).
pub fn getnameinfo(addr: SocketAddr, flags: libc::c_int) -> Result<String, GaiError> {
    let sa = socket2::SockAddr::from(addr);
    let mut host = [0u8; libc::NI_MAXHOST as usize];
    // SAFETY: sa is a valid sockaddr of sa.len() bytes; host is a writable
    // buffer of the size given; no service buffer (null, length 0).
    let rc = unsafe {
        libc::getnameinfo(
            sa.as_ptr().cast(),
            sa.len(),
            host.as_mut_ptr().cast(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            flags,
        )
    };
    if rc != 0 {
        return Err(GaiError::from_code(rc));
    }
    // On success getnameinfo wrote a NUL-terminated string into host.
    let name = CStr::from_bytes_until_nul(&host).unwrap_or_default();
    Ok(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_host_round_trip() {
        let hints = Hints {
            socktype: libc::SOCK_STREAM,
            flags: libc::AI_NUMERICHOST,
            ..Hints::default()
        };
        let got = getaddrinfo(c"127.0.0.1", hints).unwrap();
        assert_eq!(got[0].addr, Some("127.0.0.1:0".parse().unwrap()));
        let err = getaddrinfo(c"not a number", hints).unwrap_err();
        assert_eq!(err.to_string(), gai_strerror(libc::EAI_NONAME));
        assert_eq!(
            getnameinfo("127.0.0.1:0".parse().unwrap(), libc::NI_NUMERICHOST).unwrap(),
            "127.0.0.1"
        );
    }
}
