//! Echo: every byte received is sent back.
//!
//! Three forms of the same service, so it runs on every model and transport:
//! [`Echo`] (a sans-IO session, all models), [`BlockingEcho`] (the course's
//! recv/send loop as a blocking handler, to compare with the session form) and
//! [`UdpEcho`] (a stateless datagram service). The client ([`interactive`],
//! [`interactive_terminal`], [`pipe`]) is the course's interactive client done
//! right.

pub mod cli;

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;

use crate::server::{Connection, DatagramService, Handler, Output, Peer, Service, Session};
use crate::tools::prompt::{Lines, Piped, SERVER_CLOSED, Terminal};

/// The port the echo server listens on and the echo client connects to.
pub const DEFAULT_PORT: u16 = 7000;

/// The echo service: makes one [`EchoSession`] per connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

/// One echo connection: all input is written back unchanged.
#[derive(Debug, Default)]
pub struct EchoSession;

impl Service for Echo {
    type Session = EchoSession;
    fn session(&self, _peer: &Peer) -> EchoSession {
        EchoSession
    }
}

impl Session for EchoSession {
    fn on_input(&mut self, input: &[u8], out: &mut Output) -> usize {
        out.write(input);
        input.len()
    }
}

/// Echo as a blocking handler: the course's `recv` / `send` loop.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockingEcho;

impl Handler for BlockingEcho {
    fn handle(&self, conn: Connection) -> io::Result<()> {
        crate::server::blocking::run_blocking_echo(conn)
    }
}

/// UDP echo: each datagram goes back to its sender. Keeps no state, so the
/// fork and prefork models may run it.
#[derive(Debug, Clone, Copy, Default)]
pub struct UdpEcho;

impl DatagramService for UdpEcho {
    fn on_datagram(&self, from: SocketAddr, data: &[u8], out: &mut Vec<(SocketAddr, Vec<u8>)>) {
        out.push((from, data.to_vec()));
    }
    fn stateless(&self) -> bool {
        true
    }
}

/// Where the echo client connects.
#[derive(Debug, Clone)]
pub enum Target {
    /// TCP address.
    Tcp(SocketAddr),
    /// UDP address.
    Udp(SocketAddr),
    /// Unix stream socket path.
    Unix(std::path::PathBuf),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp(a) => write!(f, "tcp://{a}"),
            Target::Udp(a) => write!(f, "udp://{a}"),
            Target::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// The line that ends an interactive session, as in the course.
pub const END_LINE: &str = "##";

/// Interactive client over plain lines: prompts, sends each line, prints the
/// echo; `##` or EOF ends it.
pub fn interactive(
    target: &Target,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> io::Result<()> {
    let mut conn = Conn::open(target)?;
    converse(&mut conn, &mut Piped::new(input), output)
}

/// Exit status of the terminal client when the server closes the connection
/// while it waits at the prompt.
pub const CLOSED_EXIT: i32 = 1;

/// The interactive client on the terminal: the line editor with its history
/// ([`Terminal`]), a first line that says how to leave, and over TCP or a
/// Unix socket an end as soon as the server closes the connection (`netkit
/// echo: the server closed the connection`, exit status [`CLOSED_EXIT`]).
/// `##`, Ctrl-D or Ctrl-C at the prompt end it with success.
pub fn interactive_terminal(target: &Target, output: &mut dyn Write) -> io::Result<()> {
    let mut conn = Conn::open(target)?;
    let mut lines = Terminal::new()?;
    if let Conn::Stream(s) = &conn {
        lines.end_when_closed(s.as_fd().try_clone_to_owned()?, "netkit echo", CLOSED_EXIT)?;
    }
    writeln!(
        output,
        "connected to {}; type {END_LINE} (or Ctrl-D) to quit",
        target
    )?;
    converse(&mut conn, &mut lines, output)
}

/// Prompts, sends each line, prints the echo, until `##` or the end of input.
fn converse(conn: &mut Conn, lines: &mut dyn Lines, output: &mut dyn Write) -> io::Result<()> {
    while let Some(msg) = lines.line("> ", output)? {
        if msg == END_LINE {
            break;
        }
        let reply = conn.round_trip(msg.as_bytes())?;
        writeln!(output, "{}", String::from_utf8_lossy(&reply))?;
    }
    Ok(())
}

/// Script mode: streams all of `input` to the server and copies the echo to `output`
/// (TCP/Unix: one stream with a half-close at EOF; UDP: one datagram per line).
pub fn pipe(
    target: &Target,
    input: &mut (dyn Read + Send),
    output: &mut dyn Write,
) -> io::Result<u64> {
    match target {
        Target::Udp(_) => {
            let mut conn = Conn::open(target)?;
            let mut total = 0;
            for line in io::BufReader::new(input).lines() {
                let reply = conn.round_trip(line?.as_bytes())?;
                output.write_all(&reply)?;
                output.write_all(b"\n")?;
                total += reply.len() as u64 + 1;
            }
            Ok(total)
        }
        _ => {
            let stream = crate::tools::echo::connect_stream(target)?;
            let mut writer = stream.try_clone()?;
            std::thread::scope(|s| {
                let sender = s.spawn(move || -> io::Result<()> {
                    io::copy(input, &mut writer)?;
                    writer.shutdown_write()
                });
                let mut reader = stream;
                let copied = io::copy(&mut reader, output);
                sender
                    .join()
                    .map_err(|_| io::Error::other("sender thread panicked"))??;
                copied
            })
        }
    }
}

/// Connects a stream socket to a TCP or Unix target.
pub fn connect_stream(target: &Target) -> io::Result<crate::server::Stream> {
    use crate::server::Stream;
    let refused =
        |e: io::Error| io::Error::new(e.kind(), crate::server::net::connect_error(target, &e));
    match target {
        Target::Tcp(a) => Ok(Stream::Tcp(
            std::net::TcpStream::connect(a).map_err(refused)?,
        )),
        Target::Unix(p) => Ok(Stream::Unix(
            std::os::unix::net::UnixStream::connect(p).map_err(refused)?,
        )),
        Target::Udp(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "UDP has no stream",
        )),
    }
}

/// A client connection of any transport, for request/reply use.
enum Conn {
    Stream(crate::server::Stream),
    Udp(UdpSocket),
}

impl Conn {
    fn open(target: &Target) -> io::Result<Conn> {
        match target {
            Target::Udp(addr) => {
                let bind: SocketAddr = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                }
                .parse()
                .expect("literal address");
                let s = UdpSocket::bind(bind)?;
                s.connect(addr)?;
                s.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
                Ok(Conn::Udp(s))
            }
            _ => Ok(Conn::Stream(connect_stream(target)?)),
        }
    }

    /// Sends `msg` and waits for the same number of bytes back.
    fn round_trip(&mut self, msg: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Conn::Udp(s) => {
                s.send(msg)?;
                let mut buf = vec![0u8; 65536];
                let n = s.recv(&mut buf).map_err(|e| {
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) {
                        io::Error::new(
                            io::ErrorKind::TimedOut,
                            "no reply within 3 s (is the server running?)",
                        )
                    } else {
                        e
                    }
                })?;
                buf.truncate(n);
                Ok(buf)
            }
            Conn::Stream(s) => {
                let mut framed = msg.to_vec();
                framed.push(b'\n');
                let closed = |e: io::Error| match e.kind() {
                    io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset => io::Error::new(e.kind(), SERVER_CLOSED),
                    _ => e,
                };
                s.write_all(&framed).map_err(closed)?;
                let mut reply = vec![0u8; framed.len()];
                s.read_exact(&mut reply).map_err(closed)?;
                reply.pop();
                Ok(reply)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_echoes_everything() {
        let mut s = EchoSession;
        let mut out = Output::new();
        assert_eq!(s.on_input(b"abc", &mut out), 3);
        assert_eq!(out.pending(), 3);
        s.on_eof(&mut out);
        assert!(out.wants_close());
    }

    #[test]
    fn udp_echo_replies_to_sender() {
        let from: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut out = Vec::new();
        UdpEcho.on_datagram(from, b"hi", &mut out);
        assert_eq!(out, vec![(from, b"hi".to_vec())]);
    }
}
