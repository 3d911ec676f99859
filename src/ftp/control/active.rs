//! Active mode: PORT and EPRT name an address the server connects to for
//! the next transfer. Only the control connection's own peer address is
//! accepted, never a third host (no FTP bounce attack, CERT CA-1997-27), and
//! never a privileged port; both are refused as vsftpd does. The connection
//! is made when the transfer command arrives, from the port below the
//! control port where that can be had (RFC 959's L-1).

use std::io;
use std::net::SocketAddr;

use super::{Control, DataPlan};
use crate::ftp::command::{self, AddressError};
use crate::ftp::data::canonical_ip;

impl Control<'_> {
    /// PORT h1,h2,h3,h4,p1,p2.
    pub(super) fn port(&mut self, arg: &[u8]) -> io::Result<()> {
        match command::parse_port(arg) {
            Ok(to) => self.active_to(to, "PORT"),
            Err(_) => self.reply(501, "Syntax: PORT h1,h2,h3,h4,p1,p2"),
        }
    }

    /// EPRT |proto|address|port| (RFC 2428).
    pub(super) fn eprt(&mut self, arg: &[u8]) -> io::Result<()> {
        match command::parse_eprt(arg) {
            Ok(to) => self.active_to(to, "EPRT"),
            Err(AddressError::Protocol) => self.reply_family(),
            Err(AddressError::Syntax) => self.reply(501, "Syntax: EPRT |proto|address|port|"),
        }
    }

    /// Checks and remembers the client's data address `to`.
    fn active_to(&mut self, to: SocketAddr, verb: &str) -> io::Result<()> {
        if self.epsv_all {
            return self.reply(501, &format!("{verb} is not allowed after EPSV ALL"));
        }
        let to = SocketAddr::new(canonical_ip(to.ip()), to.port());
        if to.is_ipv4() != self.local_ip.is_ipv4() {
            return self.reply_family();
        }
        match active_refusal(to, self.peer_ip) {
            Some((code, text)) => self.reply(code, &format!("Illegal {verb} command: {text}")),
            None => {
                self.data_plan = Some(DataPlan::Active(to));
                self.reply(200, &format!("{verb} command successful"))
            }
        }
    }

    /// 522 naming the network protocol of the control connection.
    fn reply_family(&mut self) -> io::Result<()> {
        let ours = if self.local_ip.is_ipv4() { 1 } else { 2 };
        self.reply(
            522,
            &format!("Network protocol not supported, use ({ours})"),
        )
    }
}

/// Why an active-mode address is refused, if it is: another host than the
/// client (500, as vsftpd answers), or a privileged port (504).
fn active_refusal(to: SocketAddr, peer: std::net::IpAddr) -> Option<(u16, &'static str)> {
    if canonical_ip(to.ip()) != canonical_ip(peer) {
        return Some((500, "only the address of the control connection is allowed"));
    }
    if to.port() < 1024 {
        return Some((504, "privileged ports are refused"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_clients_own_address_and_no_privileged_port() {
        let peer: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(active_refusal(a("127.0.0.1:5000"), peer), None);
        assert_eq!(active_refusal(a("[::ffff:127.0.0.1]:5000"), peer), None);
        assert_eq!(active_refusal(a("10.0.0.1:5000"), peer).unwrap().0, 500);
        assert_eq!(active_refusal(a("127.0.0.2:5000"), peer).unwrap().0, 500);
        assert_eq!(active_refusal(a("127.0.0.1:25"), peer).unwrap().0, 504);
    }
}
