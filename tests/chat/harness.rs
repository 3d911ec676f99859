//! Helpers for the chat tests: the real `netkit chat serve` binary on
//! 127.0.0.1 port 0, and raw UDP members that speak the wire contract.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

pub use crate::util::*;

/// A running `netkit chat serve` with its console (stdin), killed on drop;
/// everything else is [`Server`]'s.
pub struct ChatServer {
    server: Server,
    /// Where the room listens.
    pub addr: SocketAddr,
}

impl ChatServer {
    /// Runs `netkit chat serve --port 0 <args>` and waits for its listening line.
    pub fn start(args: &[&str]) -> ChatServer {
        let mut all = vec!["chat", "serve", "--port", "0"];
        all.extend_from_slice(args);
        let server = Server::start_with_console(&all);
        let addr = server.tcp();
        ChatServer { server, addr }
    }
}

impl std::ops::Deref for ChatServer {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

impl std::ops::DerefMut for ChatServer {
    fn deref_mut(&mut self) -> &mut Server {
        &mut self.server
    }
}

/// A chat member speaking raw datagrams from its own UDP socket.
pub struct Member {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    pub name: String,
    /// Members on other servers who were in the room before this one: a
    /// notice that one of them joined may still reach it (see
    /// docs/scale-out.md) and is passed over once by [`Member::expect`].
    pub early: std::cell::RefCell<Vec<String>>,
}

impl Member {
    /// A socket that has not joined (yet).
    pub fn new(server: SocketAddr, name: &str) -> Member {
        Member::bound(server, name, "127.0.0.1:0")
    }

    /// A socket bound to `local` (another loopback address such as
    /// `127.0.0.2:0`, which is another host to the server, or a port a
    /// departed member used) that has not joined (yet).
    pub fn bound(server: SocketAddr, name: &str, local: &str) -> Member {
        let sock = UdpSocket::bind(local).unwrap_or_else(|e| panic!("bind {local}: {e}"));
        Member {
            sock,
            server,
            name: name.to_string(),
            early: Default::default(),
        }
    }

    /// Joins as `name` and checks the `OK`.
    pub fn join(server: SocketAddr, name: &str) -> Member {
        let m = Member::new(server, name);
        m.send(&format!("L {name}"));
        m.expect("OK");
        m
    }

    pub fn addr(&self) -> SocketAddr {
        self.sock.local_addr().expect("local addr")
    }

    /// Sends a text datagram.
    pub fn send(&self, text: &str) {
        self.send_bytes(text.as_bytes());
    }

    /// Sends raw bytes.
    pub fn send_bytes(&self, bytes: &[u8]) {
        self.sock.send_to(bytes, self.server).expect("send");
    }

    /// Says `text` in the room (`C name text`).
    pub fn say(&self, text: &str) {
        self.send(&format!("C {} {text}", self.name));
    }

    /// The next datagram within `limit`, as text.
    pub fn recv_within(&self, limit: Duration) -> Option<String> {
        self.sock.set_read_timeout(Some(limit)).expect("timeout");
        let mut buf = vec![0u8; 65536];
        match self.sock.recv_from(&mut buf) {
            Ok((n, _)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => None,
        }
    }

    /// Asserts that the next datagram is exactly `line`.
    pub fn expect(&self, line: &str) {
        loop {
            match self.recv_within(WAIT) {
                Some(got) => {
                    let mut early = self.early.borrow_mut();
                    if got != line
                        && let Some(i) = early
                            .iter()
                            .position(|n| got == format!("{n} joined the room"))
                    {
                        early.remove(i);
                        continue;
                    }
                    assert_eq!(got, line, "{} expected {line:?}", self.name);
                    return;
                }
                None => panic!("{} expected {line:?}, got nothing", self.name),
            }
        }
    }

    /// Asserts that the next datagram starts with `prefix`; returns it.
    pub fn expect_prefix(&self, prefix: &str) -> String {
        match self.recv_within(WAIT) {
            Some(got) => {
                assert!(
                    got.starts_with(prefix),
                    "{} expected {prefix:?}..., got {got:?}",
                    self.name
                );
                got
            }
            None => panic!("{} expected {prefix:?}..., got nothing", self.name),
        }
    }

    /// Asserts that nothing arrives for `d`.
    pub fn silent(&self, d: Duration) {
        if let Some(got) = self.recv_within(d) {
            panic!("{} expected silence, got {got:?}", self.name);
        }
    }
}
