//! The network side of `netkit chat join`: the UDP [`Link`] to the server
//! (join, say and leave, with their reply waits and retries), the receiving
//! thread ([`spawn_receiver`]) that shows what arrives through a [`Sink`],
//! and the keep-alive thread ([`Link::keep_alive`]) that sends `K <name>`
//! after a stretch of silence so the server does not drop a member who only
//! reads.

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::editor::printable;
use super::terminal::{Screen, lock};
use super::{ClientError, State, io_err};
use crate::chat::room::{EXIT, KEEP_ALIVE, OK, Refusal};
use crate::chat::wording::Lang;
use crate::sys;

/// How long to wait for a reply before asking again, and how often to ask.
const REPLY_WAIT: Duration = Duration::from_millis(1000);
const TRIES: usize = 3;
/// How long a leave waits for `EXIT` before asking again: three tries make
/// the longest wait of a Ctrl-C 0.6 s.
const LEAVE_WAIT: Duration = Duration::from_millis(200);

/// A UDP socket connected to the server, so only the server's datagrams
/// arrive and a missing server shows up as "connection refused".
pub(super) struct Link {
    sock: UdpSocket,
    server: SocketAddr,
    /// When we last sent anything: the keep-alive is due after a silence.
    last_sent: Arc<Mutex<Instant>>,
}

impl Link {
    pub(super) fn open(server: SocketAddr) -> io::Result<Link> {
        let any: SocketAddr = if server.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(any)?;
        sock.connect(server)?;
        Ok(Link {
            sock,
            server,
            last_sent: Arc::new(Mutex::new(Instant::now())),
        })
    }

    /// Sends one datagram, noting the time for the keep-alive.
    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        self.sock.send(bytes)?;
        *self.last_sent.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        Ok(())
    }

    /// Sends `L name`; `Ok(Err(reason))` if the server refused the name.
    /// Asks again when no reply comes (a repeated join is answered `OK`).
    pub(super) fn join(&self, name: &str) -> Result<Result<(), String>, ClientError> {
        let request = format!("L {name}");
        let mut buf = vec![0u8; 65536];
        self.sock
            .set_read_timeout(Some(REPLY_WAIT))
            .map_err(io_err("socket"))?;
        for _ in 0..TRIES {
            self.send(request.as_bytes())
                .map_err(io_err("sending to the server"))?;
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let reply = String::from_utf8_lossy(&buf[..n]);
                    let reply = reply.trim_end_matches(['\r', '\n']);
                    if reply == OK {
                        return Ok(Ok(()));
                    }
                    let reason = reply.strip_prefix("ERR ").unwrap_or(reply);
                    return Ok(Err(printable(reason)));
                }
                Err(e) if sys::timed_out(&e) || e.kind() == io::ErrorKind::ConnectionRefused => {
                    // Nothing yet, or nobody listening (ICMP): ask again.
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(ClientError::Io {
                        context: "receiving from the server",
                        source: e,
                    });
                }
            }
        }
        Err(ClientError::NoReply(self.server))
    }

    pub(super) fn say(&self, name: &str, text: &str) -> io::Result<()> {
        self.send(format!("C {name} {text}").as_bytes())
    }

    /// Sends `Q name` and waits briefly for `EXIT`, asking again if needed.
    /// True when the server confirmed.
    pub(super) fn leave(&self, name: &str, state: &State) -> bool {
        state.leaving.store(true, Ordering::SeqCst);
        for _ in 0..TRIES {
            if self.send(format!("Q {name}").as_bytes()).is_err() {
                return false;
            }
            if state.wait_exited(LEAVE_WAIT) {
                return true;
            }
            if state.unreachable.load(Ordering::SeqCst) {
                return false;
            }
        }
        false
    }

    /// Starts the keep-alive thread for `name`: whenever nothing was sent
    /// for `every`, it sends `K <name>`, which the server takes as a sign of
    /// life and answers with nothing. It stops when the client leaves, and
    /// for good when the server turns out not to know `K` (the receiver sees
    /// its `ERR unknown request`). `None` for `every` starts nothing.
    pub(super) fn keep_alive(
        &self,
        name: &str,
        every: Option<Duration>,
        state: &Arc<State>,
    ) -> Result<Option<JoinHandle<()>>, ClientError> {
        let Some(every) = every.filter(|d| !d.is_zero()) else {
            return Ok(None);
        };
        let sock = self.sock.try_clone().map_err(io_err("socket"))?;
        let last_sent = Arc::clone(&self.last_sent);
        let state = Arc::clone(state);
        let request = format!("{KEEP_ALIVE} {name}");
        let nap = (every / 4).clamp(Duration::from_millis(10), Duration::from_millis(100));
        std::thread::Builder::new()
            .name("chat-keep-alive".into())
            .spawn(move || {
                loop {
                    if state.stop.load(Ordering::SeqCst)
                        || state.leaving.load(Ordering::SeqCst)
                        || state.keep_alive_unknown.load(Ordering::SeqCst)
                        || state.exited()
                    {
                        return;
                    }
                    std::thread::sleep(nap);
                    let mut last = last_sent.lock().unwrap_or_else(|e| e.into_inner());
                    if last.elapsed() >= every {
                        // A failed send (no server just now) is retried next time.
                        state.keep_alive_sent.store(true, Ordering::SeqCst);
                        let _ = sock.send(request.as_bytes());
                        *last = Instant::now();
                    }
                }
            })
            .map(Some)
            .map_err(io_err("starting the keep-alive thread"))
    }
}

/// True for the answer a server that predates `K` gives it: `ERR unknown
/// request` in either language. netkit's client sends nothing else such a
/// server would not know, so this can only be the answer to a keep-alive.
fn unknown_request(line: &str) -> bool {
    [Lang::En, Lang::Zh]
        .iter()
        .any(|lang| line.strip_prefix("ERR ") == Some(lang.refusal(&Refusal::Unknown).as_str()))
}

/// True for the room's last words when its server stops, in either
/// language. Members' lines never equal it: they arrive as `name: text`
/// (or the course's `name 说：text`).
fn closing(line: &str) -> bool {
    [Lang::En, Lang::Zh]
        .iter()
        .any(|lang| line == lang.closing())
}

/// Where received lines go.
pub(super) enum Sink {
    /// Above the editor's line.
    Screen(Arc<Mutex<Screen>>),
    /// To stdout, one per line.
    Stdout,
}

impl Sink {
    fn show(&self, line: &str) {
        match self {
            Sink::Screen(s) => lock(s).print_above(line),
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                let _ = writeln!(out, "{}", printable(line));
                let _ = out.flush();
            }
        }
    }
}

/// Receives until `EXIT` or until told to stop, showing every other line.
pub(super) fn spawn_receiver(
    link: &Link,
    state: Arc<State>,
    sink: Sink,
) -> Result<std::thread::JoinHandle<()>, ClientError> {
    let sock = link.sock.try_clone().map_err(io_err("socket"))?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(io_err("socket"))?;
    let server = link.server;
    std::thread::Builder::new()
        .name("chat-receiver".into())
        .spawn(move || {
            let mut buf = vec![0u8; 65536];
            let mut unreachable = false;
            while !state.stop.load(Ordering::SeqCst) {
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        if unreachable {
                            unreachable = false;
                            state.set_unreachable(false);
                        }
                        let text = String::from_utf8_lossy(&buf[..n]);
                        let text = text.trim_end_matches(['\r', '\n']);
                        if closing(text) {
                            sink.show(text);
                            state.set_room_closed();
                            return;
                        }
                        if text == EXIT {
                            if !state.leaving.load(Ordering::SeqCst) {
                                sink.show("the server ended your membership");
                            }
                            state.set_exited();
                            return;
                        }
                        if state.keep_alive_sent.load(Ordering::SeqCst) && unknown_request(text) {
                            // An older server: no keep-alives, and no noise.
                            state.keep_alive_unknown.store(true, Ordering::SeqCst);
                            continue;
                        }
                        sink.show(text);
                    }
                    Err(e) if sys::timed_out(&e) => {}
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        if !unreachable {
                            sink.show(&format!("(no chat server answers at {server})"));
                            unreachable = true;
                            state.set_unreachable(true);
                        }
                    }
                    Err(e) => {
                        sink.show(&format!("(receive failed: {e})"));
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })
        .map_err(io_err("starting the receiver thread"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_of_a_server_without_keep_alive() {
        assert!(unknown_request(
            "ERR unknown request; use L <name>, C <name> <text> or Q <name>"
        ));
        assert!(unknown_request(&format!(
            "ERR {}",
            Lang::Zh.refusal(&Refusal::Unknown)
        )));
        assert!(!unknown_request(
            "ERR not in the room; join with L <name> first"
        ));
        assert!(!unknown_request(
            "bob: ERR unknown request; use L <name>, C <name> <text> or Q <name>"
        ));
    }

    #[test]
    fn the_room_closing_in_both_languages() {
        assert!(closing("the room is closing; goodbye"));
        assert!(closing(Lang::Zh.closing()));
        assert!(!closing("bob: the room is closing; goodbye"));
        assert!(!closing("the room is closing"));
    }
}
