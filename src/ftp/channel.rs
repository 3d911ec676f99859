//! The byte stream of a control or data connection: plain TCP, or TLS over
//! TCP (explicit FTPS, RFC 4217: the control connection after `AUTH TLS`, a
//! data connection under `PROT P`).
//!
//! A [`Channel`] reads and writes like the blocking socket under it (reads
//! and writes wait at most the socket's timeout, then fail with
//! `WouldBlock`), so the transfer loops treat both alike. The socket itself
//! is handed out only while the channel is plain ([`Channel::plain`]), for
//! `sendfile` and `splice`; TLS bytes always go through rustls.
//!
//! The server is always the TLS server, on data connections too (passive or
//! active). [`Channel::secure`] runs the handshake to a deadline; every
//! connection of one control connection carries its token in its session
//! tickets, so [`Channel::resumed`] tells whether a data connection resumed
//! the control connection's session.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Instant;

use rustls::{HandshakeKind, ProtocolVersion, ServerConfig, ServerConnection};

use super::data::Clock;
use crate::sys;

/// How many times closing a TLS channel tries to send its last bytes (each
/// try waits at most the socket's timeout).
const CLOSE_TRIES: usize = 5;

/// A connection's stream: plain TCP, or TLS over it.
pub struct Channel {
    /// The socket (blocking, with short read and write timeouts).
    tcp: TcpStream,
    /// The TLS state once the channel is secured.
    tls: Option<Box<ServerConnection>>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("tcp", &self.tcp)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// `recv`/`send` that never wait, as `Read`/`Write` for rustls.
struct Now<'a>(&'a TcpStream);

impl Read for Now<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::recv_now(self.0.as_fd(), buf)
    }
}

impl Write for Now<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::send_now(self.0.as_fd(), buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An error for a TLS failure (rustls refused what the peer sent).
fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Processes the records rustls has read; on a refusal, sends its alert
/// (if the socket takes it now) and fails.
fn process(tls: &mut ServerConnection, tcp: &TcpStream) -> io::Result<rustls::IoState> {
    match tls.process_new_packets() {
        Ok(state) => Ok(state),
        Err(e) => {
            let _ = push_now(tls, tcp);
            Err(tls_error(e))
        }
    }
}

/// Sends what rustls has queued as far as the socket takes it now.
fn push_now(tls: &mut ServerConnection, tcp: &TcpStream) -> io::Result<()> {
    while tls.wants_write() {
        match tls.write_tls(&mut Now(tcp)) {
            Ok(_) => {}
            Err(e) if sys::would_block(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends everything rustls has queued; `WouldBlock` if the socket stays full
/// for its whole write timeout (call again).
fn push(tls: &mut ServerConnection, tcp: &TcpStream) -> io::Result<()> {
    while tls.wants_write() {
        let mut to = tcp;
        tls.write_tls(&mut to)?;
    }
    Ok(())
}

/// Reads plaintext, pulling ciphertext from `from` when rustls has none. A
/// TCP close without `close_notify` counts as the end (vsftpd's default,
/// `strict_ssl_read_eof=NO`: few clients close cleanly).
fn read_plain(
    tls: &mut ServerConnection,
    tcp: &TcpStream,
    from: &mut dyn Read,
    buf: &mut [u8],
) -> io::Result<usize> {
    loop {
        match tls.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
            Err(e) => return Err(e),
        }
        // Session tickets and key updates go out while we wait for input.
        push_now(tls, tcp)?;
        // At EOF the reader says so on the next turn.
        if tls.read_tls(from)? > 0 {
            process(tls, tcp)?;
        }
    }
}

impl Channel {
    /// A plain channel over `tcp`.
    pub fn new(tcp: TcpStream) -> Channel {
        Channel { tcp, tls: None }
    }

    /// The socket, while the channel is plain (for zero-copy transfers).
    pub fn plain(&self) -> Option<&TcpStream> {
        match self.tls {
            None => Some(&self.tcp),
            Some(_) => None,
        }
    }

    /// True once the channel speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The TLS version in use, as `TLSv1.3`, if any.
    pub fn tls_version(&self) -> Option<String> {
        let v = self.tls.as_ref()?.protocol_version()?;
        Some(match v {
            ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
            ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
            other => format!("{other:?}"),
        })
    }

    /// Becomes the TLS server side with `config`: `early` are bytes already
    /// read from the socket that belong to the handshake, `token` goes into
    /// every session ticket issued here (see [`Channel::resumed`]). The
    /// handshake must end by `until` and within `clock`'s limits; on an error
    /// the channel is unusable and should be dropped.
    pub fn secure(
        &mut self,
        config: Arc<ServerConfig>,
        early: &[u8],
        token: &[u8],
        until: Instant,
        clock: &Clock,
    ) -> io::Result<()> {
        if self.tls.is_some() {
            return Err(io::Error::other("already secured"));
        }
        let mut conn = ServerConnection::new(config).map_err(tls_error)?;
        conn.set_resumption_data(token);
        let tls = self.tls.insert(Box::new(conn));
        let tcp = &self.tcp;
        let mut early = early;
        while !early.is_empty() {
            if tls.read_tls(&mut early)? == 0 {
                break;
            }
            process(tls, tcp)?;
        }
        while tls.is_handshaking() {
            let waited = if tls.wants_write() {
                let mut to = tcp;
                match tls.write_tls(&mut to) {
                    Ok(_) => false,
                    Err(e) if sys::would_block(&e) => true,
                    Err(e) => return Err(e),
                }
            } else {
                let mut from = tcp;
                match tls.read_tls(&mut from) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "closed during the TLS handshake",
                        ));
                    }
                    Ok(_) => {
                        process(tls, tcp)?;
                        false
                    }
                    Err(e) if sys::would_block(&e) => true,
                    Err(e) => return Err(e),
                }
            };
            if waited {
                if Instant::now() >= until {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "TLS handshake not completed in time",
                    ));
                }
                clock.check()?;
            }
        }
        push_now(tls, tcp)
    }

    /// True if the TLS handshake resumed a session issued with `token` (one
    /// of this control connection's). TLS 1.2 carries no token through
    /// resumption: there any resumed session counts (as vsftpd's
    /// `require_ssl_reuse` checks).
    pub fn resumed(&self, token: &[u8]) -> bool {
        let Some(tls) = self.tls.as_deref() else {
            return false;
        };
        if tls.handshake_kind() != Some(HandshakeKind::Resumed) {
            return false;
        }
        match tls.protocol_version() {
            Some(ProtocolVersion::TLSv1_2) => true,
            _ => tls.received_resumption_data() == Some(token),
        }
    }

    /// Reads what is there now, never waiting: `WouldBlock` if nothing is.
    pub fn read_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.tls.as_deref_mut() {
            None => sys::recv_now(self.tcp.as_fd(), buf),
            Some(tls) => read_plain(tls, &self.tcp, &mut Now(&self.tcp), buf),
        }
    }

    /// Sends `bytes` as far as the socket takes them now (a short reply
    /// during a transfer; with TLS the rest goes out with the next write).
    pub fn send_now(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.tls.as_deref_mut() {
            None => sys::send_now(self.tcp.as_fd(), bytes).map(|_| ()),
            Some(tls) => {
                tls.writer().write_all(bytes)?;
                push_now(tls, &self.tcp)
            }
        }
    }

    /// True if the peer has closed (or reset) the connection, as far as can
    /// be told without waiting. Plaintext that arrives meanwhile is kept.
    pub fn peer_closed(&mut self) -> bool {
        let Some(tls) = self.tls.as_deref_mut() else {
            let mut byte = [0u8; 1];
            return match sys::peek_now(self.tcp.as_fd(), &mut byte) {
                Ok(0) => true,
                Ok(_) => false,
                // A reset connection is closed too; "nothing to read yet" is not.
                Err(e) => !sys::would_block(&e),
            };
        };
        loop {
            match tls.read_tls(&mut Now(&self.tcp)) {
                Ok(0) => return true,
                Ok(_) => match process(tls, &self.tcp) {
                    Ok(state) if state.peer_has_closed() => return true,
                    Ok(_) => {}
                    Err(_) => return true,
                },
                Err(e) if sys::would_block(&e) => return false,
                // A socket error is a closed connection; rustls's own
                // (its buffer of unread plaintext is full) is not.
                Err(e) => return e.raw_os_error().is_some(),
            }
        }
    }

    /// Ends the connection politely: TLS's `close_notify`, then a half-close
    /// that lets the peer read everything before the socket closes.
    pub fn close(&mut self) {
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.send_close_notify();
            for _ in 0..CLOSE_TRIES {
                match push(tls, &self.tcp) {
                    Ok(()) => break,
                    Err(e) if sys::would_block(&e) => {}
                    Err(_) => break,
                }
            }
        }
        sys::graceful_close(self.tcp.as_fd());
    }
}

impl Read for Channel {
    /// Reads like the socket: waits at most its read timeout (then
    /// `WouldBlock`); 0 at the end.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.tls.as_deref_mut() {
            None => (&self.tcp).read(buf),
            Some(tls) => {
                let mut from = &self.tcp;
                read_plain(tls, &self.tcp, &mut from, buf)
            }
        }
    }
}

impl Write for Channel {
    /// Writes like the socket: waits at most its write timeout (then
    /// `WouldBlock`, nothing taken). With TLS, bytes taken may still wait
    /// in rustls (at most its 64 KiB buffer): [`Write::flush`] sends them.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tls.as_deref_mut() {
            None => (&self.tcp).write(buf),
            Some(tls) => {
                push(tls, &self.tcp)?;
                let n = tls.writer().write(buf)?;
                push_now(tls, &self.tcp)?;
                Ok(n)
            }
        }
    }

    /// Sends what TLS still holds; `WouldBlock` if the socket stays full.
    fn flush(&mut self) -> io::Result<()> {
        match self.tls.as_deref_mut() {
            None => Ok(()),
            Some(tls) => push(tls, &self.tcp),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::Duration;

    use rustls::ClientConnection;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    use super::*;
    use crate::server::Shutdown;
    use crate::server::shutdown::TICK;
    use crate::tls::{self, Source};

    fn clock() -> Clock {
        Clock {
            idle: Some(Duration::from_secs(10)),
            shutdown: Shutdown::new(),
            grace: Duration::ZERO,
            last: Instant::now(),
        }
    }

    fn client_config(pem: &str) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        Arc::new(
            rustls::ClientConfig::builder_with_provider(tls::provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    /// Accepts one connection and secures it, its tickets carrying `token`.
    fn accept(listener: &TcpListener, config: &Arc<ServerConfig>, token: &[u8]) -> Channel {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(TICK)).unwrap();
        tcp.set_write_timeout(Some(TICK)).unwrap();
        let mut ch = Channel::new(tcp);
        let until = Instant::now() + Duration::from_secs(10);
        ch.secure(Arc::clone(config), &[], token, until, &clock())
            .unwrap();
        ch
    }

    /// Reads until something comes (the channel's reads time out every TICK).
    fn read_some(ch: &mut Channel) -> Vec<u8> {
        let mut buf = [0u8; 256];
        for _ in 0..100 {
            match ch.read(&mut buf) {
                Ok(n) => return buf[..n].to_vec(),
                Err(e) if sys::would_block(&e) => {}
                Err(e) => panic!("{e}"),
            }
        }
        panic!("nothing to read");
    }

    #[test]
    fn tls_channels_carry_bytes_and_tell_whose_session_a_connection_resumed() {
        let (identity, _resolver, config) =
            tls::load(Source::SelfSigned(vec!["localhost".into()]), &[b"ftp"]).unwrap();
        let client = client_config(&identity.cert_pem);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // One client, three connections: the later ones resume a session.
        let peer = std::thread::spawn(move || {
            for i in 0..3 {
                let name = ServerName::try_from("localhost").unwrap();
                let conn = ClientConnection::new(Arc::clone(&client), name).unwrap();
                let sock = TcpStream::connect(addr).unwrap();
                let mut s = rustls::StreamOwned::new(conn, sock);
                s.write_all(format!("hello {i}").as_bytes()).unwrap();
                let mut buf = [0u8; 64];
                let n = s.read(&mut buf).unwrap();
                assert_eq!(&buf[..n], format!("ok {i}").as_bytes());
                // The server's close_notify ends the stream.
                assert_eq!(s.read(&mut buf).unwrap(), 0);
            }
        });
        let mut kinds = Vec::new();
        for (i, token) in [&b"one"[..], b"one", b"two"].into_iter().enumerate() {
            let mut ch = accept(&listener, &config, token);
            assert!(ch.is_tls() && ch.plain().is_none());
            assert_eq!(read_some(&mut ch), format!("hello {i}").as_bytes());
            ch.write_all(format!("ok {i}").as_bytes()).unwrap();
            ch.flush().unwrap();
            kinds.push((ch.resumed(b"one"), ch.resumed(b"two")));
            ch.close();
        }
        peer.join().unwrap();
        // A full handshake first; then resumptions of sessions issued with
        // "one": they count for "one" only.
        assert_eq!(kinds, [(false, false), (true, false), (true, false)]);
    }

    #[test]
    fn garbage_and_silence_fail_the_handshake_in_time() {
        let (_identity, _resolver, config) =
            tls::load(Source::SelfSigned(vec!["localhost".into()]), &[b"ftp"]).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut garbage = TcpStream::connect(addr).unwrap();
        garbage.write_all(b"USER anonymous\r\n").unwrap();
        let _silent = TcpStream::connect(addr).unwrap();
        for expect in [io::ErrorKind::InvalidData, io::ErrorKind::TimedOut] {
            let (tcp, _) = listener.accept().unwrap();
            tcp.set_read_timeout(Some(TICK)).unwrap();
            let mut ch = Channel::new(tcp);
            let started = Instant::now();
            let until = started + Duration::from_millis(500);
            let err = ch.secure(Arc::clone(&config), &[], b"", until, &clock());
            assert_eq!(err.unwrap_err().kind(), expect);
            assert!(started.elapsed() < Duration::from_secs(5));
        }
    }
}
