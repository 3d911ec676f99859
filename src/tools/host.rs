//! `netkit info` and `netkit resolve NAME|IP`: who this machine is, and name
//! look-ups both ways.
//!
//! - `netkit info` prints the host name (`gethostname`), what that name resolves
//!   to, and every interface with its addresses (`getifaddrs`: IPv4 with prefix
//!   length and broadcast address, IPv6, and the link-layer address).
//! - `netkit resolve localhost` is a forward look-up through `getaddrinfo`
//!   (so `/etc/hosts`, DNS and whatever `/etc/nsswitch.conf` says are used, as
//!   for any program); it prints the canonical name and every address.
//! - `netkit resolve 127.0.0.1` is a reverse look-up through `getnameinfo`
//!   (`NI_NAMEREQD`: a number is not an answer).
//!
//! ```text
//! $ netkit resolve localhost
//! localhost
//!   canonical name: localhost
//!   address: 127.0.0.1 (IPv4)
//! $ netkit resolve 127.0.0.1
//! 127.0.0.1 is localhost
//! ```
//!
//! A failed look-up is one line with the resolver's own reason (for example
//! "Name or service not known").

use std::ffi::CString;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;
use nix::sys::socket::SockaddrStorage;

use crate::sys::host;

/// Why a look-up failed.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// `getaddrinfo` failed.
    #[error("cannot resolve '{name}': {reason}")]
    Forward {
        /// The name asked for.
        name: String,
        /// The resolver's message (`gai_strerror`).
        reason: String,
    },
    /// `getnameinfo` found no name.
    #[error("no name for {ip}: {reason}")]
    Reverse {
        /// The address asked for.
        ip: IpAddr,
        /// The resolver's message.
        reason: String,
    },
}

/// What a forward look-up found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The name asked for.
    pub name: String,
    /// The canonical name, when the resolver gave one (`AI_CANONNAME`).
    pub canonical: Option<String>,
    /// Every address, in the resolver's order (the order a client should try), without repeats.
    pub addrs: Vec<IpAddr>,
}

impl fmt::Display for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.name)?;
        if let Some(c) = &self.canonical {
            writeln!(f, "  canonical name: {c}")?;
        }
        for a in &self.addrs {
            let fam = if a.is_ipv4() { "IPv4" } else { "IPv6" };
            writeln!(f, "  address: {a} ({fam})")?;
        }
        Ok(())
    }
}

/// Forward look-up with `getaddrinfo` (any family, one entry per address).
pub fn forward(name: &str) -> Result<Resolved, LookupError> {
    let err = |reason: String| LookupError::Forward {
        name: name.to_string(),
        reason,
    };
    let c_name = CString::new(name).map_err(|_| err("the name contains a NUL byte".into()))?;
    let hints = host::Hints {
        family: libc::AF_UNSPEC,
        // One socket type, so each address comes once rather than once per type.
        socktype: libc::SOCK_STREAM,
        flags: libc::AI_CANONNAME,
        ..host::Hints::default()
    };
    let entries = host::getaddrinfo(&c_name, hints).map_err(|e| err(e.to_string()))?;
    let mut out = Resolved {
        name: name.to_string(),
        canonical: None,
        addrs: Vec::new(),
    };
    for ai in entries {
        if out.canonical.is_none() {
            out.canonical = ai.canonical;
        }
        if let Some(ip) = ai.addr.map(|a| a.ip())
            && !out.addrs.contains(&ip)
        {
            out.addrs.push(ip);
        }
    }
    if out.addrs.is_empty() {
        return Err(err("no IPv4 or IPv6 address".into()));
    }
    Ok(out)
}

/// Reverse look-up with `getnameinfo` (`NI_NAMEREQD`: a name or an error, never the number back).
pub fn reverse(ip: IpAddr) -> Result<String, LookupError> {
    host::getnameinfo(SocketAddr::new(ip, 0), libc::NI_NAMEREQD).map_err(|e| LookupError::Reverse {
        ip,
        reason: e.to_string(),
    })
}

/// The host name (`gethostname`).
pub fn hostname() -> io::Result<String> {
    let name = nix::unistd::gethostname().map_err(io::Error::from)?;
    Ok(name.to_string_lossy().into_owned())
}

/// One address of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfAddr {
    /// An IP address with its prefix length and (IPv4) broadcast address.
    Ip {
        /// The address.
        addr: IpAddr,
        /// Network prefix length from the netmask.
        prefix: Option<u32>,
        /// Broadcast address, on broadcast-capable IPv4 interfaces.
        broadcast: Option<IpAddr>,
    },
    /// A link-layer (MAC) address.
    Link(String),
}

/// A network interface and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Interface name (`lo`, `eth0`).
    pub name: String,
    /// Flags worth showing (UP, LOOPBACK, BROADCAST, ...).
    pub flags: Vec<&'static str>,
    /// Its addresses, in the order `getifaddrs` gave them.
    pub addrs: Vec<IfAddr>,
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} <{}>", self.name, self.flags.join(","))?;
        for a in &self.addrs {
            match a {
                IfAddr::Ip {
                    addr,
                    prefix,
                    broadcast,
                } => {
                    let fam = if addr.is_ipv4() { "inet " } else { "inet6" };
                    write!(f, "  {fam} {addr}")?;
                    if let Some(p) = prefix {
                        write!(f, "/{p}")?;
                    }
                    if let Some(b) = broadcast {
                        write!(f, " broadcast {b}")?;
                    }
                    writeln!(f)?;
                }
                IfAddr::Link(mac) => writeln!(f, "  link  {mac}")?,
            }
        }
        Ok(())
    }
}

/// Every interface and its addresses (`getifaddrs`), grouped by interface.
pub fn interfaces() -> io::Result<Vec<Interface>> {
    const SHOWN: [(InterfaceFlags, &str); 6] = [
        (InterfaceFlags::IFF_UP, "UP"),
        (InterfaceFlags::IFF_LOOPBACK, "LOOPBACK"),
        (InterfaceFlags::IFF_BROADCAST, "BROADCAST"),
        (InterfaceFlags::IFF_POINTOPOINT, "POINTOPOINT"),
        (InterfaceFlags::IFF_RUNNING, "RUNNING"),
        (InterfaceFlags::IFF_MULTICAST, "MULTICAST"),
    ];
    let mut out: Vec<Interface> = Vec::new();
    for ifa in getifaddrs().map_err(io::Error::from)? {
        let idx = match out.iter().position(|i| i.name == ifa.interface_name) {
            Some(i) => i,
            None => {
                out.push(Interface {
                    name: ifa.interface_name.clone(),
                    flags: SHOWN
                        .iter()
                        .filter(|(fl, _)| ifa.flags.contains(*fl))
                        .map(|(_, n)| *n)
                        .collect(),
                    addrs: Vec::new(),
                });
                out.len() - 1
            }
        };
        let Some(address) = ifa.address.as_ref() else {
            continue;
        };
        let entry = if let Some(ip) = storage_ip(address) {
            IfAddr::Ip {
                addr: ip,
                prefix: ifa.netmask.as_ref().and_then(storage_ip).map(prefix_len),
                broadcast: if ip.is_ipv4() && ifa.flags.contains(InterfaceFlags::IFF_BROADCAST) {
                    ifa.broadcast.as_ref().and_then(storage_ip)
                } else {
                    None
                },
            }
        } else if let Some(link) = address.as_link_addr() {
            match link.addr() {
                Some(mac) if mac != [0; 6] => IfAddr::Link(
                    mac.iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(":"),
                ),
                _ => continue,
            }
        } else {
            continue;
        };
        out[idx].addrs.push(entry);
    }
    Ok(out)
}

fn storage_ip(s: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

/// Number of leading one bits of a netmask.
fn prefix_len(mask: IpAddr) -> u32 {
    match mask {
        IpAddr::V4(m) => u32::from(m).leading_ones(),
        IpAddr::V6(m) => u128::from(m).leading_ones(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn loopback_both_ways() {
        let r = forward("localhost").unwrap();
        assert!(r.addrs.iter().all(|a| a.is_loopback()), "{r:?}");
        assert!(r.addrs.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)), "{r:?}");
        assert_eq!(
            reverse(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap(),
            "localhost"
        );
    }

    #[test]
    fn numeric_names_resolve_to_themselves() {
        let r = forward("127.0.0.1").unwrap();
        assert_eq!(r.addrs, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        assert!(forward("bad\0name").is_err());
    }

    #[test]
    fn loopback_interface_is_listed() {
        let ifs = interfaces().unwrap();
        let lo = ifs
            .iter()
            .find(|i| i.flags.contains(&"LOOPBACK"))
            .expect("a loopback interface");
        assert!(lo.addrs.contains(&IfAddr::Ip {
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            prefix: Some(8),
            broadcast: None,
        }));
    }

    #[test]
    fn prefix_lengths() {
        assert_eq!(prefix_len("255.255.255.0".parse().unwrap()), 24);
        assert_eq!(prefix_len("ffff:ffff:ffff:ffff::".parse().unwrap()), 64);
    }
}
