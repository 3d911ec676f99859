//! Passive mode and the data connection: PASV and EPSV open a listener
//! (PORT and EPRT, in `active`, name an address to connect to instead), the
//! next transfer command gets the client's connection (secured with TLS
//! after the 150 reply under `PROT P`, see `security`), and the transfer's
//! outcome is reported when it closes; ABOR between transfers.

use std::io;
use std::net::{IpAddr, Ipv4Addr, TcpStream};

use crate::ftp::channel::Channel;

use super::{Control, DataPlan};
use crate::ftp::data::{self, Interrupt, Passive, Watch};

impl Control<'_> {
    /// PASV: a passive listener on our IPv4 address.
    pub(super) fn pasv(&mut self) -> io::Result<()> {
        if self.epsv_all {
            return self.reply(501, "PASV is not allowed after EPSV ALL");
        }
        let IpAddr::V4(ip) = self.local_ip else {
            return self.reply(425, "PASV needs IPv4; use EPSV");
        };
        // Behind NAT the client must be told the public address instead.
        let announced = self.opts.passive_address.unwrap_or(ip);
        match Passive::open(self.local_ip, self.opts.passive_ports) {
            Ok(p) => {
                let port = p.port()?;
                self.data_plan = Some(DataPlan::Passive(p));
                self.reply(227, &pasv_text(announced, port))
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
                self.data_plan = Some(DataPlan::Passive(p));
                self.reply(229, &format!("Entering Extended Passive Mode (|||{port}|)"))
            }
            Err(e) => self.reply(425, &format!("Cannot open a passive port: {e}")),
        }
    }

    /// Opens the data connection for a transfer and replies 150 `opening`;
    /// under `PROT P` then runs the TLS handshake on it. `None` when there is
    /// no usable connection (the reply, 425 or 521, has been sent).
    pub(super) fn start_transfer(&mut self, opening: &str) -> io::Result<Option<Channel>> {
        let Some(stream) = self.open_data()? else {
            return Ok(None);
        };
        self.reply(150, opening)?;
        if self.protect_data {
            return self.secure_data(stream);
        }
        Ok(Some(Channel::new(stream)))
    }

    /// Gets the data connection for a transfer (accepts it, or connects out
    /// for PORT/EPRT), replying 425 if there is none (521 if `--tls-required`
    /// refuses a clear one).
    fn open_data(&mut self) -> io::Result<Option<TcpStream>> {
        let Some(plan) = self.data_plan.take() else {
            self.reply(425, "Use PASV, EPSV, PORT or EPRT first")?;
            return Ok(None);
        };
        if !self.protect_data && self.opts.tls.as_ref().is_some_and(|t| t.required) {
            drop(plan);
            self.reply(
                521,
                "Data connections must be protected on this server: send PROT P",
            )?;
            return Ok(None);
        }
        let mut clock = self.clock.clone();
        clock.progress();
        let timeout = self.opts.passive_timeout;
        let opened = match plan {
            DataPlan::Passive(passive) => passive.accept(self.peer_ip, timeout, &clock),
            DataPlan::Active(to) => {
                // RFC 959: from the port below the control port (L-1).
                let from = self.local_port.saturating_sub(1);
                data::connect_active(self.local_ip, from, to, timeout)
            }
        };
        match opened {
            Ok(s) => Ok(Some(s)),
            Err(_) => {
                self.reply(425, "Cannot open data connection")?;
                Ok(None)
            }
        }
    }

    /// A watch for a transfer: this connection's clock and rate limit, and
    /// the control connection, whose closing aborts it if `eof_aborts`.
    pub(super) fn transfer_watch(&mut self, eof_aborts: bool) -> Watch<'_> {
        Watch::new(self.clock.clone())
            .control(&mut self.stream, &mut self.buf, eof_aborts)
            .rate(self.opts.rate_limit)
    }

    /// ABOR with no transfer running: closes a data connection in waiting.
    pub(super) fn abor(&mut self) -> io::Result<()> {
        if self.data_plan.take().is_some() {
            self.reply(225, "ABOR command successful; data connection closed")
        } else {
            self.reply(225, "No transfer to abort")
        }
    }

    /// The replies for a transfer that ended with `result` (and nothing else).
    pub(super) fn reply_transfer_end(&mut self, result: io::Result<()>) -> io::Result<()> {
        match result {
            Ok(()) => self.reply(226, "Transfer complete"),
            Err(e) => match data::interrupt_of(&e) {
                Some(Interrupt::Abort) => {
                    self.reply(426, "Transfer aborted; data connection closed")?;
                    self.reply(226, "ABOR command successful")
                }
                // The client is gone: nobody to tell.
                Some(Interrupt::ControlClosed) => Ok(()),
                None if e.kind() == io::ErrorKind::TimedOut => {
                    self.reply(426, "Data connection stalled; transfer aborted")
                }
                None => self.reply(426, "Data connection closed; transfer aborted"),
            },
        }
    }

    /// Closes the data connection politely and reports the transfer's outcome.
    pub(super) fn finish_data(
        &mut self,
        mut stream: Channel,
        result: io::Result<()>,
    ) -> io::Result<()> {
        if result.is_ok() {
            stream.close();
        }
        drop(stream);
        self.clock.progress();
        self.reply_transfer_end(result)
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
