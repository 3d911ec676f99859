//! Passive mode and the data connection: PASV and EPSV open a listener,
//! the next transfer command accepts the client's connection on it, and
//! the transfer's outcome is reported when it closes.

use std::io;
use std::net::{IpAddr, Ipv4Addr, TcpStream};

use super::Control;
use crate::ftp::data::Passive;
use crate::sys;

impl Control<'_> {
    /// PASV: a passive listener on our IPv4 address.
    pub(super) fn pasv(&mut self) -> io::Result<()> {
        if self.epsv_all {
            return self.reply(501, "PASV is not allowed after EPSV ALL");
        }
        let IpAddr::V4(ip) = self.local_ip else {
            return self.reply(425, "PASV needs IPv4; use EPSV");
        };
        match Passive::open(self.local_ip, self.opts.passive_ports) {
            Ok(p) => {
                let port = p.port()?;
                self.passive = Some(p);
                self.reply(227, &pasv_text(ip, port))
            }
            Err(e) => self.reply(425, &format!("Cannot open a passive port: {e}")),
        }
    }

    /// EPSV (RFC 2428): a passive listener on our address, any family;
    /// `EPSV ALL` refuses PASV from then on.
    pub(super) fn epsv(&mut self, arg: &[u8]) -> io::Result<()> {
        let arg = String::from_utf8_lossy(arg).trim().to_ascii_uppercase();
        let family_ok = match arg.as_str() {
            "" => true,
            "ALL" => {
                self.epsv_all = true;
                return self.reply(200, "EPSV ALL ok");
            }
            "1" => self.local_ip.is_ipv4(),
            "2" => self.local_ip.is_ipv6(),
            _ => return self.reply(501, "Unknown network protocol"),
        };
        if !family_ok {
            let ours = if self.local_ip.is_ipv4() { 1 } else { 2 };
            return self.reply(
                522,
                &format!("Network protocol not supported, use ({ours})"),
            );
        }
        match Passive::open(self.local_ip, self.opts.passive_ports) {
            Ok(p) => {
                let port = p.port()?;
                self.passive = Some(p);
                self.reply(229, &format!("Entering Extended Passive Mode (|||{port}|)"))
            }
            Err(e) => self.reply(425, &format!("Cannot open a passive port: {e}")),
        }
    }

    /// Accepts the data connection for a transfer, replying 425 if there is none.
    pub(super) fn open_data(&mut self) -> io::Result<Option<TcpStream>> {
        let Some(passive) = self.passive.take() else {
            self.reply(425, "Use PASV or EPSV first")?;
            return Ok(None);
        };
        let mut clock = self.clock.clone();
        clock.progress();
        match passive.accept(self.peer_ip, self.opts.passive_timeout, &clock) {
            Ok(s) => Ok(Some(s)),
            Err(_) => {
                self.reply(425, "Cannot open data connection")?;
                Ok(None)
            }
        }
    }

    /// Closes the data connection politely and reports the transfer's outcome.
    pub(super) fn finish_data(
        &mut self,
        stream: TcpStream,
        result: io::Result<()>,
    ) -> io::Result<()> {
        if result.is_ok() {
            sys::graceful_close(std::os::fd::AsFd::as_fd(&stream));
        }
        drop(stream);
        self.clock.progress();
        match result {
            Ok(()) => self.reply(226, "Transfer complete"),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                self.reply(426, "Data connection stalled; transfer aborted")
            }
            Err(_) => self.reply(426, "Data connection closed; transfer aborted"),
        }
    }
}

/// The text of the 227 reply: address and port as six decimal bytes.
fn pasv_text(ip: Ipv4Addr, port: u16) -> String {
    let [a, b, c, d] = ip.octets();
    format!(
        "Entering Passive Mode ({a},{b},{c},{d},{},{})",
        port >> 8,
        port & 0xff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasv_address() {
        assert_eq!(
            pasv_text(Ipv4Addr::new(127, 0, 0, 1), 50_001),
            "Entering Passive Mode (127,0,0,1,195,81)"
        );
        assert_eq!(
            pasv_text(Ipv4Addr::new(10, 1, 2, 3), 21),
            "Entering Passive Mode (10,1,2,3,0,21)"
        );
    }
}
