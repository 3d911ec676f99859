//! TLS as a layer over any [`Session`]: [`TlsService`] wraps a service, and
//! each of its [`TlsSession`]s runs rustls (itself sans-IO: ciphertext in,
//! ciphertext out) around the inner session, so HTTPS or the file protocol
//! over TLS runs unchanged on every model.
//!
//! The inner session runs in its own [`SessionCore`] (held input, re-offers,
//! EOF order and bounds stay the core's rules). Its output is encrypted as
//! the socket takes it: bytes as they come, file regions read in pieces of
//! [`PIECE`] and encrypted only while less than [`ENCRYPTED_HIGH_WATER`]
//! bytes wait for the socket, so a large download costs a bounded buffer.
//! (No kTLS on this kernel, so file regions cannot be sent with sendfile.)
//!
//! Around the inner session's rules the layer adds: a handshake deadline,
//! `close_notify` when the inner session closes, a plain-text answer for a
//! client that speaks plain text to the TLS port (HTTP's 400), and an alert
//! and close for anything rustls refuses.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection};

use crate::server::session_core::SessionCore;
use crate::server::{Output, Peer, Service, Session};

/// How long a client has to complete the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Encrypt more of the inner output only while less than this waits for the socket.
pub const ENCRYPTED_HIGH_WATER: usize = 256 * 1024;
/// Largest piece of a file read and encrypted at once.
pub const PIECE: usize = 64 * 1024;

/// A service whose connections speak TLS around `inner`'s sessions.
pub struct TlsService<S: Service> {
    inner: S,
    config: Arc<ServerConfig>,
    /// Sent (in plain text) to a client whose first bytes are not a TLS
    /// handshake, before closing: HTTP's "plain HTTP to an HTTPS port".
    plain_reply: Option<Arc<[u8]>>,
    handshake_timeout: Duration,
    refresh: Option<Arc<super::Reloading>>,
}

impl<S: Service> TlsService<S> {
    /// Serves `inner` over TLS with `config`.
    pub fn new(inner: S, config: Arc<ServerConfig>) -> Self {
        TlsService {
            inner,
            config,
            plain_reply: None,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            refresh: None,
        }
    }

    /// What to answer a client that speaks plain text to this port.
    pub fn plain_reply(mut self, reply: Vec<u8>) -> Self {
        self.plain_reply = Some(reply.into());
        self
    }

    /// How long a handshake may take.
    pub fn handshake_timeout(mut self, t: Duration) -> Self {
        self.handshake_timeout = t;
        self
    }

    /// The resolver to refresh as each connection arrives (SIGHUP reloads).
    pub fn reloading(mut self, r: Arc<super::Reloading>) -> Self {
        self.refresh = Some(r);
        self
    }
}

impl<S: Service> Service for TlsService<S> {
    type Session = TlsSession<S::Session>;

    fn session(&self, peer: &Peer) -> Self::Session {
        if let Some(r) = &self.refresh {
            r.refresh();
        }
        let tls = ServerConnection::new(Arc::clone(&self.config))
            .map(|mut t| {
                // The layer bounds what it encrypts ahead itself.
                t.set_buffer_limit(None);
                t
            })
            .ok();
        TlsSession {
            tls,
            pending: Some(self.inner.session(peer)),
            core: None,
            accepted: Instant::now(),
            handshake_timeout: self.handshake_timeout,
            plain_reply: self.plain_reply.clone(),
            first: true,
            closing: false,
            scratch: Vec::new(),
        }
    }
}

/// One TLS connection around an inner session.
pub struct TlsSession<S: Session> {
    /// The TLS state (None: rustls refused to start, the connection closes).
    tls: Option<ServerConnection>,
    /// The inner session, until the connection starts.
    pending: Option<S>,
    /// The inner session once started.
    core: Option<SessionCore<S>>,
    accepted: Instant,
    handshake_timeout: Duration,
    plain_reply: Option<Arc<[u8]>>,
    /// No byte has arrived yet.
    first: bool,
    /// The layer is closing: close_notify (or an alert) is queued.
    closing: bool,
    /// File pieces on their way into TLS.
    scratch: Vec<u8>,
}

/// Writes ciphertext into the connection's output.
struct Cipher<'a>(&'a mut Output);

impl Write for Cipher<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<S: Session> TlsSession<S> {
    /// Queues whatever TLS has to send (handshake messages, records, alerts).
    fn flush(&mut self, out: &mut Output) {
        if let Some(tls) = &mut self.tls {
            while tls.wants_write() {
                if tls.write_tls(&mut Cipher(out)).is_err() {
                    break;
                }
            }
        }
    }

    /// Ends the connection: close_notify (after what is queued), then close.
    fn finish(&mut self, out: &mut Output) {
        if self.closing {
            return;
        }
        self.closing = true;
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
        }
        self.flush(out);
        out.close();
    }

    /// Refuses the connection: what TLS has to say (an alert), then close.
    fn fail(&mut self, out: &mut Output) {
        self.closing = true;
        self.flush(out);
        out.close();
    }

    /// Moves the inner session's output into TLS while the socket is not far
    /// behind, letting the inner core go on (re-offers, EOF) as it drains.
    fn pump(&mut self, out: &mut Output) {
        if self.closing {
            return;
        }
        let (Some(tls), Some(core)) = (&mut self.tls, &mut self.core) else {
            return;
        };
        if tls.is_handshaking() {
            return;
        }
        loop {
            while out.pending() < ENCRYPTED_HIGH_WATER && !core.out_is_empty() {
                let mut writer = tls.writer();
                match core.out().write_into(&mut writer, &mut self.scratch, PIECE) {
                    Ok(0) if !core.out_is_empty() => {
                        // A file region shrank under us: nothing more to send.
                        core.out().close();
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        core.out().close();
                        break;
                    }
                }
                while tls.wants_write() {
                    if tls.write_tls(&mut Cipher(out)).is_err() {
                        break;
                    }
                }
            }
            if !core.out_is_empty() {
                return; // the socket is behind: on_drained brings us back
            }
            if core.settle().is_err() {
                break; // held more input than it may, unused: close
            }
            if core.out_is_empty() {
                if !core.finished() {
                    return;
                }
                break;
            }
        }
        self.finish(out);
    }

    /// Hands decrypted input to the inner session.
    fn deliver(&mut self, out: &mut Output) {
        let (Some(tls), Some(core)) = (&mut self.tls, &mut self.core) else {
            return;
        };
        let mut ended = false;
        // On the stack: a read per request must not cost an allocation.
        let mut plain = [0u8; 16 * 1024];
        loop {
            match tls.reader().read(&mut plain) {
                Ok(0) => {
                    ended = true; // close_notify
                    break;
                }
                Ok(n) => {
                    if core.input(&plain[..n]).is_err() {
                        self.fail_inner(out);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    ended = true;
                    break;
                }
            }
        }
        if ended {
            core.input_ended();
        }
        self.pump(out);
    }

    /// The inner session broke its bounds: close without a word from it.
    fn fail_inner(&mut self, out: &mut Output) {
        if let Some(core) = &mut self.core {
            core.out().close();
        }
        self.finish(out);
    }
}

impl<S: Session> Session for TlsSession<S> {
    fn accepted_at(&mut self, at: Instant) {
        self.accepted = at;
    }

    fn on_connect(&mut self, out: &mut Output) {
        match (self.tls.is_some(), self.pending.take()) {
            (true, Some(inner)) => self.core = Some(SessionCore::new(inner, self.accepted)),
            _ => out.close(),
        }
    }

    fn on_input(&mut self, input: &[u8], out: &mut Output) -> usize {
        if self.closing {
            return input.len();
        }
        if self.first {
            self.first = false;
            // Every TLS connection starts with a handshake record (22).
            if input[0] != 0x16 {
                if let Some(reply) = &self.plain_reply {
                    out.write(reply);
                }
                self.closing = true;
                out.close();
                return input.len();
            }
        }
        // Backpressure: while the inner session holds input it cannot use
        // yet, leave the ciphertext with the driver (offered again later).
        if let Some(core) = &self.core
            && !core.held_is_empty()
            && !core.out_is_empty()
        {
            return 0;
        }
        if self.tls.is_none() {
            out.close();
            return input.len();
        }
        let mut used = 0;
        while used < input.len() {
            let Some(tls) = &mut self.tls else { break };
            match tls.read_tls(&mut &input[used..]) {
                Ok(0) => break,
                Ok(n) => used += n,
                Err(_) => break, // its buffer is full: process first
            }
            if tls.process_new_packets().is_err() {
                self.fail(out);
                return input.len();
            }
            self.deliver(out);
            if self.closing {
                return input.len();
            }
        }
        self.flush(out);
        self.pump(out);
        used
    }

    fn on_eof(&mut self, out: &mut Output) {
        if self.tls.as_ref().is_none_or(|t| t.is_handshaking()) || self.core.is_none() {
            self.closing = true;
            out.close();
            return;
        }
        if let Some(core) = &mut self.core {
            core.input_ended();
        }
        self.pump(out);
    }

    fn is_idle(&self) -> bool {
        self.core.as_ref().is_none_or(|c| c.is_idle())
    }

    fn max_buffer(&self) -> usize {
        // Ciphertext the layer left with the driver (it takes every byte
        // unless the inner session is behind): a bound, not a working size.
        1 << 20
    }

    fn deadline(&self) -> Option<Instant> {
        if self.closing {
            return None;
        }
        if self.tls.as_ref().is_some_and(|t| t.is_handshaking()) {
            return Some(self.accepted + self.handshake_timeout);
        }
        self.core.as_ref().and_then(|c| c.deadline())
    }

    fn on_deadline(&mut self, out: &mut Output) {
        if self.tls.as_ref().is_some_and(|t| t.is_handshaking()) {
            // Stalled mid-handshake: nothing to say, just close.
            self.closing = true;
            out.close();
            return;
        }
        if let Some(core) = &mut self.core {
            core.expire();
        }
        self.pump(out);
    }

    fn on_drained(&mut self, out: &mut Output) {
        self.pump(out);
    }

    fn on_shutdown(&mut self, out: &mut Output) {
        if let Some(core) = &mut self.core {
            core.shutdown_word();
        }
        self.pump(out);
        self.finish(out);
    }
}
