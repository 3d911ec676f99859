//! Helpers for the chat tests: the real `netkit chat serve` binary on
//! 127.0.0.1 port 0, and raw UDP members that speak the wire contract.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_netkit")
}

/// How long a test waits for something that should happen at once.
pub const WAIT: Duration = Duration::from_secs(3);

/// A running `netkit chat serve`, killed on drop.
pub struct ChatServer {
    pub child: Child,
    pub addr: SocketAddr,
    /// The server's console (its stdin).
    pub console: Option<ChildStdin>,
    log: Arc<Mutex<String>>,
}

impl ChatServer {
    /// Runs `netkit chat serve --port 0 <args>` and waits for its listening line.
    pub fn start(args: &[&str]) -> ChatServer {
        let mut child = Command::new(bin())
            .args(["chat", "serve", "--port", "0"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netkit chat serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                {
                    let mut l = log2.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
                if let Some(pos) = line.find("listening on udp://") {
                    let rest = &line[pos + "listening on udp://".len()..];
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    if let Some(t) = tx.take() {
                        let _ = t.send(addr);
                    }
                }
            }
        });
        let console = child.stdin.take();
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(10)) else {
            let _ = child.kill();
            panic!("server did not start; log:\n{}", log.lock().unwrap());
        };
        ChatServer {
            child,
            addr: addr.parse().expect("listening address"),
            console,
            log,
        }
    }

    /// Everything the server wrote on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str) -> bool {
        eventually(WAIT, || self.log().contains(needle))
    }

    /// Types a line on the server's console.
    pub fn type_line(&mut self, line: &str) {
        let c = self.console.as_mut().expect("console");
        writeln!(c, "{line}").expect("write to console");
        c.flush().expect("flush console");
    }

    /// Sends a signal to the server.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Waits up to `limit` for the server to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chat member speaking raw datagrams from its own UDP socket.
pub struct Member {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    pub name: String,
}

impl Member {
    /// A socket that has not joined (yet).
    pub fn new(server: SocketAddr, name: &str) -> Member {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind member");
        Member {
            sock,
            server,
            name: name.to_string(),
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
        match self.recv_within(WAIT) {
            Some(got) => assert_eq!(got, line, "{} expected {line:?}", self.name),
            None => panic!("{} expected {line:?}, got nothing", self.name),
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

/// Polls `f` until it returns true or `limit` passes.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
