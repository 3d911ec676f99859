//! FTPS, explicit TLS (RFC 4217): `AUTH TLS` (or `AUTH SSL`) turns the
//! control connection into TLS (234, then the handshake), `PBSZ 0` and
//! `PROT P` protect the data connections, `PROT C` clears them; `CCC` is
//! refused. A protected data connection gets its TLS handshake after the
//! 150 reply (clients start it once they have read that reply) and must
//! resume the control connection's TLS session (vsftpd's
//! `require_ssl_reuse`), so nobody else can take the data. With
//! `--tls-required`, logins and data transfers in clear text are refused.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use super::{Control, Flow};
use crate::ftp::channel::Channel;
use crate::ftp::listing::Access;
use crate::ftp::path::VirtualPath;

/// A fresh random token for a control connection's TLS session tickets.
pub(super) fn token() -> [u8; 16] {
    let mut t = [0u8; 16];
    if crate::tls::provider().secure_random.fill(&mut t).is_err() {
        // Without randomness, a token no other connection of this process has.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        t[..8].copy_from_slice(&n.to_le_bytes());
        t[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    }
    t
}

/// What `AUTH` asks for: TLS (RFC 4217's `TLS`, its `TLS-C`, and the older `SSL`).
fn tls_mechanism(arg: &[u8]) -> bool {
    let mech = String::from_utf8_lossy(arg).trim().to_ascii_uppercase();
    matches!(mech.as_str(), "TLS" | "TLS-C" | "SSL")
}

/// A TLS error as the few words a reply can carry.
fn short_error(e: &io::Error) -> String {
    let text = e.to_string();
    let text: String = text.chars().take(120).collect();
    text.replace(['\r', '\n'], " ")
}

impl Control<'_> {
    /// True if `--tls-required` and the control connection is still clear.
    pub(super) fn needs_tls_first(&self) -> bool {
        self.opts.tls.as_ref().is_some_and(|t| t.required) && !self.stream.is_tls()
    }

    /// AUTH TLS: 234, then the TLS handshake on the control connection. A
    /// failed handshake ends the connection. After it, the client logs in
    /// again (nothing said in clear text carries over).
    pub(super) fn auth(&mut self, arg: &[u8]) -> io::Result<Flow> {
        let opts = self.opts;
        let Some(tls) = opts.tls.as_ref() else {
            self.reply(502, "TLS is not configured on this server")?;
            return Ok(Flow::Continue);
        };
        if self.stream.is_tls() {
            self.reply(503, "Already using TLS")?;
            return Ok(Flow::Continue);
        }
        if !tls_mechanism(arg) {
            self.reply(504, "Unknown AUTH mechanism; use AUTH TLS")?;
            return Ok(Flow::Continue);
        }
        let config = Arc::clone(&tls.config);
        tls.resolver.refresh();
        self.reply(234, "AUTH TLS ok, proceed with the TLS handshake")?;
        // Whatever followed the AUTH line already is the handshake's start.
        let early = std::mem::take(&mut self.buf);
        let limit = self.clock.idle.unwrap_or(crate::tls::HANDSHAKE_TIMEOUT);
        let mut clock = self.clock.clone();
        clock.progress();
        let token = self.tls_token;
        match self
            .stream
            .secure(config, &early, &token, Instant::now() + limit, &clock)
        {
            Ok(()) => {
                self.clock.progress();
                self.reset_login();
                Ok(Flow::Continue)
            }
            Err(e) => {
                tracing::debug!(
                    "ftp: TLS handshake with {} failed: {}",
                    self.peer_ip,
                    short_error(&e)
                );
                Ok(Flow::Quit)
            }
        }
    }

    /// Forgets the login and the transfer settings (after AUTH).
    fn reset_login(&mut self) {
        self.user = None;
        self.logged_in = false;
        self.access = Access::default();
        self.cwd = VirtualPath::root();
        self.jail = match &self.accounts.anonymous {
            Some(home) => home.jail.clone(),
            None => self.accounts.default_jail.clone(),
        };
        self.data_plan = None;
        self.protect_data = false;
    }

    /// PBSZ: TLS has no buffer size, so only `PBSZ 0` makes sense (any
    /// number is answered `PBSZ=0`).
    pub(super) fn pbsz(&mut self, arg: &[u8]) -> io::Result<()> {
        if self.opts.tls.is_none() {
            return self.reply(502, "TLS is not configured on this server");
        }
        if !self.stream.is_tls() {
            return self.reply(503, "PBSZ needs AUTH TLS first");
        }
        let size = std::str::from_utf8(arg)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        match size {
            Some(_) => self.reply(200, "PBSZ=0"),
            None => self.reply(501, "PBSZ needs a number (PBSZ 0)"),
        }
    }

    /// PROT P (data connections in TLS) or PROT C (in clear; refused with
    /// `--tls-required`).
    pub(super) fn prot(&mut self, arg: &[u8]) -> io::Result<()> {
        let Some(required) = self.opts.tls.as_ref().map(|t| t.required) else {
            return self.reply(502, "TLS is not configured on this server");
        };
        if !self.stream.is_tls() {
            return self.reply(503, "PROT needs AUTH TLS first");
        }
        let level = String::from_utf8_lossy(arg).trim().to_ascii_uppercase();
        match level.as_str() {
            "P" => {
                self.protect_data = true;
                self.reply(200, "Protection level set to P (data connections use TLS)")
            }
            "C" if required => self.reply(
                534,
                "Data connections must be protected on this server (PROT P)",
            ),
            "C" => {
                self.protect_data = false;
                self.reply(200, "Protection level set to C (data connections in clear)")
            }
            "S" | "E" => self.reply(536, "Only PROT P and PROT C are supported"),
            _ => self.reply(504, "Unknown protection level (use PROT P or PROT C)"),
        }
    }

    /// CCC: the control connection stays encrypted.
    pub(super) fn ccc(&mut self) -> io::Result<()> {
        if self.opts.tls.is_none() {
            return self.reply(502, "TLS is not configured on this server");
        }
        self.reply(534, "CCC refused: the control connection stays encrypted")
    }

    /// The TLS handshake on a data connection, within the passive timeout;
    /// it must resume this control connection's session. `None` (and a
    /// 425 reply) if it fails.
    pub(super) fn secure_data(&mut self, stream: TcpStream) -> io::Result<Option<Channel>> {
        let Some(config) = self.opts.tls.as_ref().map(|t| {
            // No TLS 1.3 tickets on data connections: clients resume with
            // the control connection's session and never read them, and
            // unread tickets at close can make a client's kernel reset the
            // connection under upload data not yet read. The copy shares the
            // session cache and ticketer, so resumption is unchanged.
            let mut data = (*t.config).clone();
            data.send_tls13_tickets = 0;
            Arc::new(data)
        }) else {
            self.reply(425, "TLS is not configured on this server")?;
            return Ok(None);
        };
        let mut data = Channel::new(stream);
        let mut clock = self.clock.clone();
        clock.progress();
        let until = Instant::now() + self.opts.passive_timeout;
        let secured = data.secure(config, &[], &self.tls_token, until, &clock);
        self.clock.progress();
        match secured {
            Ok(()) if data.resumed(&self.tls_token) => Ok(Some(data)),
            Ok(()) => {
                tracing::debug!(
                    "ftp: data connection from {} did not resume the control connection's TLS session",
                    self.peer_ip
                );
                drop(data);
                self.reply(
                    425,
                    "TLS session reuse required: the data connection must resume the control connection's TLS session",
                )?;
                Ok(None)
            }
            Err(e) => {
                let why = short_error(&e);
                tracing::debug!(
                    "ftp: TLS handshake on a data connection from {} failed: {why}",
                    self.peer_ip
                );
                drop(data);
                self.reply(
                    425,
                    &format!("TLS handshake on the data connection failed: {why}"),
                )?;
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_mechanisms() {
        assert!(tls_mechanism(b"TLS"));
        assert!(tls_mechanism(b"tls"));
        assert!(tls_mechanism(b" SSL "));
        assert!(tls_mechanism(b"TLS-C"));
        assert!(!tls_mechanism(b"GSSAPI"));
        assert!(!tls_mechanism(b""));
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(token(), token());
    }

    #[test]
    fn errors_fit_one_reply_line() {
        let e = io::Error::other("a\r\nb".repeat(100));
        let s = short_error(&e);
        assert!(s.len() <= 120 && !s.contains('\r') && !s.contains('\n'));
    }
}
