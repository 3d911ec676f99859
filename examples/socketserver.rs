//! Lesson: Python's `socketserver` classes and mixins, as netkit models and handlers.
//!
//! Python builds a server from two choices: the transport (`TCPServer` or
//! `UDPServer`, with a `StreamRequestHandler` or `DatagramRequestHandler`
//! subclass whose `handle()` you override) and the concurrency mixin (none,
//! `ThreadingMixIn` or `ForkingMixIn`). netkit makes the same two choices:
//! the protocol is a `Handler` (blocking, owns its socket: `handle(conn)`),
//! a `DatagramService` (UDP) or a sans-IO `Session`, and the concurrency
//! is a `Model` in the `Config`. `serve_forever()` is `serve_handler`,
//! `serve_datagrams` or `serve`; `server.shutdown()` is the `Shutdown` flag,
//! which `Shutdown::on_signals()` also sets on SIGTERM and Ctrl-C.
//!
//! Every handler here answers a line with the line in capitals plus who
//! handled it: `HELLO handled by pid=5001 tid=5003 thread=netkit-conn`. So the
//! output shows where each connection ran: the iterative server in its own
//! thread, one client at a time; threading a new thread per connection;
//! forking a new process (pid) per connection.
//!
//! Fork safety: a process may only fork while it has a single thread (the
//! child gets a copy of just the forking thread, and any lock another thread
//! held stays locked forever). So each server runs in its own fresh process:
//! this program re-executes itself (`std::env::current_exe()`) as
//! `socketserver serve VARIANT`, which binds port 0, prints `port=N` and
//! serves; the parent is the client, then stops each server with SIGTERM
//! (netkit's graceful stop) and reaps it.
//!
//! The client, against every TCP server: connections a and b are opened
//! together; a sends a1, b sends b1 (an iterative server cannot answer b while
//! a is connected, so b waits 400 ms for nothing, and gets its answer once a
//! closes), a sends a2, a closes, b sends b2, b closes, then a third
//! connection c sends c1. Against UDP servers: three datagrams d1, d2, d3.
//!
//! The netkit extra: the same protocol written once as a sans-IO `Session`
//! runs on every model, including select, poll, epoll and async, which cannot
//! run a blocking handler at all.
//!
//! Run: `cargo run --example socketserver` (all variants, then exits), or
//! `cargo run --example socketserver -- serve threading-tcp [PORT]` to keep
//! one server running (try `nc 127.0.0.1 PORT`; Ctrl-C stops it). Variants:
//! tcp, threading-tcp, forking-tcp, udp, threading-udp, forking-udp and
//! session-MODEL for every model (session-iterative ... session-async).
//!
//! Expected output (pids and tids vary; abridged):
//! ```text
//! socketserver: started 15 servers, each in its own process (this program run as `serve VARIANT`)
//! == TCPServer + StreamRequestHandler = Handler on Model::Iterative (server pid=5001) ==
//! tcp a1 -> "A1 handled by pid=5001 tid=5001 thread=main"
//! tcp b1: no reply within 400 ms while a is connected
//! tcp a2 -> "A2 handled by pid=5001 tid=5001 thread=main"
//! tcp b1 -> "B1 handled by pid=5001 tid=5001 thread=main" (after a closed)
//! tcp b2 -> "B2 handled by pid=5001 tid=5001 thread=main"
//! tcp c1 -> "C1 handled by pid=5001 tid=5001 thread=main"
//! tcp: the server's own thread; one client at a time
//! == ThreadingTCPServer = Handler on Model::Thread (server pid=5002) ==
//! threading-tcp a1 -> "A1 handled by pid=5002 tid=5020 thread=netkit-conn"
//! threading-tcp b1 -> "B1 handled by pid=5002 tid=5021 thread=netkit-conn" (while a is connected)
//! threading-tcp a2 -> "A2 handled by pid=5002 tid=5020 thread=netkit-conn"
//! threading-tcp b2 -> "B2 handled by pid=5002 tid=5021 thread=netkit-conn"
//! threading-tcp c1 -> "C1 handled by pid=5002 tid=5022 thread=netkit-conn"
//! threading-tcp: a new thread per connection (3 for 3), same process; clients at once
//! == ForkingTCPServer = Handler on Model::Fork (server pid=5003) ==
//! forking-tcp a1 -> "A1 handled by pid=5030 tid=5030 thread=main"
//! forking-tcp b1 -> "B1 handled by pid=5031 tid=5031 thread=main" (while a is connected)
//! ...
//! forking-tcp: a new process per connection (3 for 3); clients at once
//! == UDPServer + DatagramRequestHandler = DatagramService on Model::Iterative (server pid=5004) ==
//! udp d1 -> "D1 handled by pid=5004 tid=5004 thread=main"
//! ...
//! udp: the server's own thread
//! ...
//! == the same protocol as one sans-IO Session, on every model ==
//! session-iterative: server pid=5007, a pid=5007 tid=5007, b pid=5007 tid=5007, c pid=5007 tid=5007: the server's own thread; one client at a time
//! session-fork: server pid=5008, a pid=5040 tid=5040, b pid=5041 tid=5041, c pid=5042 tid=5042: a new process per connection (3 for 3); clients at once
//! session-prefork: server pid=5009, a pid=5012 tid=5012, b pid=5011 tid=5011, c pid=5012 tid=5012: 2 processes made at start for 3 connections; clients at once
//! session-thread: ...: a new thread per connection (3 for 3), same process; clients at once
//! session-pool: ...: 2 threads made at start for 3 connections, same process; clients at once
//! session-select: ...: the server's own thread; clients at once
//! session-poll: ...: the server's own thread; clients at once
//! session-epoll: server pid=5018, a pid=5018 tid=5020, b pid=5018 tid=5020, c pid=5018 tid=5020: 1 other thread (netkit-epoll-0) for all 3, same process; clients at once
//! session-async: ...: 1 other thread (netkit-async) for all 3, same process; clients at once
//! socketserver: sent SIGTERM to all 15 servers: 15 stopped gracefully (exit status 0)
//!
//! Python socketserver class          | netkit                              | what happened
//! -----------------------------------+-------------------------------------+-------------------------------
//! TCPServer + StreamRequestHandler   | Handler on Model::Iterative         | the server's own thread; one client at a time
//! ThreadingTCPServer                 | Handler on Model::Thread            | a new thread per connection (3 for 3), same process; clients at once
//! ForkingTCPServer                   | Handler on Model::Fork              | a new process per connection (3 for 3); clients at once
//! UDPServer + DatagramRequestHandler | DatagramService on Model::Iterative | the server's own thread
//! ThreadingUDPServer                 | DatagramService on Model::Thread    | a new thread per datagram (3 for 3), same process
//! ForkingUDPServer                   | DatagramService on Model::Fork      | a new process per datagram (3 for 3)
//! (the same protocol, written once as a sans-IO Session, on every model:)
//! TCPServer                          | Session on Model::Iterative         | the server's own thread; one client at a time
//! ...
//! - (a select.select() loop)         | Session on Model::Select            | the server's own thread; clients at once
//! ...
//! ```
//!
//! Python → Rust:
//! - `class H(StreamRequestHandler): def handle(self)` → `impl Handler for H { fn handle(&self, conn: Connection) }`
//! - `self.rfile` / `self.wfile` → `BufReader::new(conn.stream.try_clone()?)` / `conn.stream`
//! - `self.client_address` → `conn.peer`
//! - `class H(DatagramRequestHandler)` → `impl DatagramService for H { fn on_datagram(..) }`
//! - `TCPServer(addr, H)` → `Listener::bind(&Endpoint::Tcp(addr), false)` + `Config { model: Model::Iterative, .. }`
//! - `ThreadingMixIn` / `ThreadingTCPServer` → `Model::Thread`
//! - `ForkingMixIn` / `ForkingTCPServer` → `Model::Fork`
//! - `UDPServer(addr, H)` → `netkit::server::net::udp_socket(addr, false)`; Threading/ForkingUDPServer → `Model::Thread` / `Model::Fork`
//! - `server.serve_forever()` → `serve_handler(..)` / `serve_datagrams(..)` / `serve(..)` (sessions)
//! - `server.shutdown()` → `Shutdown::trigger()`; SIGTERM / Ctrl-C → `Shutdown::on_signals()`
//! - `server.server_address` → `listener.local_endpoint()` / `socket.local_addr()`
//! - `os.getpid()` / `threading.current_thread().name` → `nix::unistd::getpid()` / `std::thread::current().name()`

use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use netkit::server::shutdown::TICK;
use netkit::server::{
    Config, Connection, DatagramService, Endpoint, Handler, Listener, Model, Output, Peer, Service,
    Session, Shutdown, check_datagram, serve, serve_datagrams, serve_handler,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, getpid, gettid};

/// "who handled it": process, OS thread and thread name.
fn who() -> String {
    format!(
        "pid={} tid={} thread={}",
        getpid(),
        gettid(),
        std::thread::current().name().unwrap_or("unnamed")
    )
}

/// The protocol: one line in, the line in capitals and who handled it out.
fn answer(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']);
    format!("{} handled by {}\n", text.to_uppercase(), who())
}

/// Python:
/// ```python
/// class Upper(socketserver.StreamRequestHandler):
///     def handle(self):
///         for line in self.rfile:
///             self.wfile.write(answer(line))
/// ```
struct UpperHandler;

impl Handler for UpperHandler {
    fn handle(&self, conn: Connection) -> io::Result<()> {
        // Wake up every TICK to look at the shutdown flag, as netkit asks of
        // long-running handlers.
        conn.stream.set_read_timeout(Some(TICK))?;
        let mut rfile = BufReader::new(conn.stream.try_clone()?);
        let mut wfile = conn.stream;
        let mut line = Vec::new();
        loop {
            match rfile.read_until(b'\n', &mut line) {
                Ok(0) => return Ok(()), // the client closed
                Ok(_) => {
                    wfile.write_all(answer(&line).as_bytes())?;
                    line.clear();
                }
                // A timeout keeps what was read so far in `line`; go on reading.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) =>
                {
                    if conn.shutdown.is_set() {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Python:
/// ```python
/// class UpperUdp(socketserver.DatagramRequestHandler):
///     def handle(self):
///         self.wfile.write(answer(self.rfile.read()))
/// ```
struct UpperDatagrams;

impl DatagramService for UpperDatagrams {
    fn on_datagram(&self, from: SocketAddr, data: &[u8], out: &mut Vec<(SocketAddr, Vec<u8>)>) {
        out.push((from, answer(data).into_bytes()));
    }
    /// No state between datagrams, so a forked child may answer each one.
    fn stateless(&self) -> bool {
        true
    }
}

/// The same protocol as a sans-IO session: bytes in, bytes out, no socket.
struct UpperService;
struct UpperSession;

impl Service for UpperService {
    type Session = UpperSession;
    fn session(&self, _peer: &Peer) -> UpperSession {
        UpperSession
    }
}

impl Session for UpperSession {
    fn on_input(&mut self, input: &[u8], out: &mut Output) -> usize {
        let mut used = 0;
        while let Some(end) = input[used..].iter().position(|&b| b == b'\n') {
            out.write(answer(&input[used..used + end + 1]).as_bytes());
            used += end + 1;
        }
        used // a partial line stays in the driver's buffer until the rest comes
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Handler,
    Datagram,
    Session,
}

/// One server to demonstrate.
struct Variant {
    name: String,
    python: &'static str,
    kind: Kind,
    model: Model,
}

impl Variant {
    fn netkit(&self) -> String {
        let what = match self.kind {
            Kind::Handler => "Handler",
            Kind::Datagram => "DatagramService",
            Kind::Session => "Session",
        };
        format!("{what} on Model::{:?}", self.model)
    }
}

fn variants() -> Vec<Variant> {
    let v = |name: &str, python, kind, model| Variant {
        name: name.to_string(),
        python,
        kind,
        model,
    };
    let mut all = vec![
        v(
            "tcp",
            "TCPServer + StreamRequestHandler",
            Kind::Handler,
            Model::Iterative,
        ),
        v(
            "threading-tcp",
            "ThreadingTCPServer",
            Kind::Handler,
            Model::Thread,
        ),
        v(
            "forking-tcp",
            "ForkingTCPServer",
            Kind::Handler,
            Model::Fork,
        ),
        v(
            "udp",
            "UDPServer + DatagramRequestHandler",
            Kind::Datagram,
            Model::Iterative,
        ),
        v(
            "threading-udp",
            "ThreadingUDPServer",
            Kind::Datagram,
            Model::Thread,
        ),
        v(
            "forking-udp",
            "ForkingUDPServer",
            Kind::Datagram,
            Model::Fork,
        ),
    ];
    for model in Model::ALL {
        // The nearest Python; socketserver itself stops at fork and thread.
        let python = match model {
            Model::Iterative => "TCPServer",
            Model::Fork => "ForkingTCPServer",
            Model::Prefork => "- (pre-forked worker processes)",
            Model::Thread => "ThreadingTCPServer",
            Model::Pool => "- (a fixed pool of threads)",
            Model::Select => "- (a select.select() loop)",
            Model::Poll => "- (a select.poll() loop)",
            Model::Epoll => "- (a select.epoll() loop)",
            Model::Async => "- (gevent / asyncio)",
            Model::Uring => "- (no stdlib equivalent: io_uring completions)",
        };
        all.push(Variant {
            name: format!("session-{}", model.name()),
            python,
            kind: Kind::Session,
            model,
        });
    }
    all
}

/// `socketserver serve VARIANT [PORT]`: one server in this (fresh,
/// single-threaded) process until SIGTERM or Ctrl-C.
fn serve_variant(variant: &Variant, port: u16) -> anyhow::Result<()> {
    // Before anything forks: children inherit the handlers and so stop too.
    let shutdown = Shutdown::on_signals().context("installing signal handlers")?;
    let config = Config {
        model: variant.model,
        // Small fixed pools so the output is easy to read.
        workers: match variant.model {
            Model::Prefork | Model::Pool => Some(2),
            _ => Some(1),
        },
        shutdown_timeout: Duration::from_secs(1),
        ..Config::default()
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let announce = |port: u16| {
        println!(
            "port={port} pid={}: {} = {}; SIGTERM or Ctrl-C stops",
            getpid(),
            variant.python,
            variant.netkit()
        );
    };
    match variant.kind {
        Kind::Handler => {
            let listener = Listener::bind(&Endpoint::Tcp(addr), false)?;
            announce(tcp_port(&listener)?);
            serve_handler(listener, &config, UpperHandler, shutdown)?;
        }
        Kind::Session => {
            let listener = Listener::bind(&Endpoint::Tcp(addr), false)?;
            announce(tcp_port(&listener)?);
            serve(listener, &config, UpperService, shutdown)?;
        }
        Kind::Datagram => {
            // ForkingUDPServer is only sound for a service that keeps no state.
            check_datagram(variant.model, UpperDatagrams.stateless())?;
            let socket = netkit::server::net::udp_socket(addr, false)?;
            announce(socket.local_addr()?.port());
            serve_datagrams(socket, &config, UpperDatagrams, shutdown)?;
        }
    }
    Ok(())
}

fn tcp_port(listener: &Listener) -> anyhow::Result<u16> {
    match listener.local_endpoint()? {
        Endpoint::Tcp(a) => Ok(a.port()),
        other => bail!("not a TCP listener: {other}"),
    }
}

/// A server child process; killed and reaped if the demo stops early.
struct ServerProcess {
    child: Child,
    port: u16,
    /// Kept open so the server can still write to its stdout.
    _stdout: BufReader<ChildStdout>,
}

impl ServerProcess {
    fn start(variant: &Variant) -> anyhow::Result<ServerProcess> {
        let exe = std::env::current_exe().context("locating this program")?;
        let mut child = Command::new(exe)
            .args(["serve", &variant.name])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting server {}", variant.name))?;
        let mut stdout = BufReader::new(child.stdout.take().context("server stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let port = line
            .strip_prefix("port=")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("server {} did not report its port: {line:?}", variant.name);
        };
        Ok(ServerProcess {
            child,
            port,
            _stdout: stdout,
        })
    }

    fn pid(&self) -> i64 {
        i64::from(self.child.id())
    }

    /// SIGTERM: netkit's graceful stop.
    fn terminate(&self) -> anyhow::Result<()> {
        let pid = Pid::from_raw(i32::try_from(self.child.id())?);
        kill(pid, Signal::SIGTERM)?;
        Ok(())
    }

    /// Waits up to `limit` for the server to exit; kills it after that.
    fn reap(&mut self, limit: Duration) -> anyhow::Result<Option<ExitStatus>> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(None)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Where one reply says it was handled.
#[derive(Clone, PartialEq, Eq)]
struct Who {
    pid: i64,
    tid: i64,
    thread: String,
}

fn parse_who(reply: &str) -> anyhow::Result<Who> {
    let field = |key: &str| {
        reply
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .with_context(|| format!("no {key} in reply {reply:?}"))
    };
    Ok(Who {
        pid: field("pid=")?.parse()?,
        tid: field("tid=")?.parse()?,
        thread: field("thread=")?.to_string(),
    })
}

/// One client connection with line-based request/reply.
struct LineClient {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl LineClient {
    fn connect(port: u16) -> anyhow::Result<LineClient> {
        let writer = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
        let reader = BufReader::new(writer.try_clone()?);
        Ok(LineClient { writer, reader })
    }

    fn send(&mut self, message: &str) -> anyhow::Result<()> {
        self.writer.write_all(format!("{message}\n").as_bytes())?;
        Ok(())
    }

    /// The next reply line, or `None` if none came within `wait`.
    fn reply(&mut self, wait: Duration) -> anyhow::Result<Option<String>> {
        self.writer.set_read_timeout(Some(wait))?;
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => bail!("server closed the connection"),
            Ok(_) => Ok(Some(line.trim_end().to_string())),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// How long a reply may take before we call it missing.
const REPLY: Duration = Duration::from_secs(3);
/// How long b waits for an answer while a is still connected.
const PATIENCE: Duration = Duration::from_millis(400);

/// Checks a reply is the capitalised message and returns who handled it.
fn check(message: &str, reply: Option<String>) -> anyhow::Result<(String, Who)> {
    let reply = reply.with_context(|| format!("no reply to {message:?}"))?;
    let expected = format!("{} handled by ", message.to_uppercase());
    anyhow::ensure!(
        reply.starts_with(&expected),
        "wrong reply to {message:?}: {reply:?}"
    );
    let who = parse_who(&reply)?;
    Ok((reply, who))
}

/// What the client saw from one server.
struct Seen {
    /// Who handled connection (or datagram) a, b, c.
    who: Vec<Who>,
    /// TCP only: was b answered while a was still connected?
    concurrent: Option<bool>,
    lines: Vec<String>,
}

fn tcp_client(name: &str, port: u16) -> anyhow::Result<Seen> {
    let mut lines = Vec::new();
    let show = |label: &str, reply: &str, note: &str| format!("{name} {label} -> {reply:?}{note}");
    let mut a = LineClient::connect(port)?;
    let mut b = LineClient::connect(port)?;
    a.send("a1")?;
    let (reply, who_a) = check("a1", a.reply(REPLY)?)?;
    lines.push(show("a1", &reply, ""));
    b.send("b1")?;
    let early = b.reply(PATIENCE)?;
    let concurrent = early.is_some();
    let mut b1 = None;
    match early {
        Some(reply) => {
            let (reply, who) = check("b1", Some(reply))?;
            lines.push(show("b1", &reply, " (while a is connected)"));
            b1 = Some(who);
        }
        None => lines.push(format!(
            "{name} b1: no reply within {} ms while a is connected",
            PATIENCE.as_millis()
        )),
    }
    a.send("a2")?;
    let (reply, who) = check("a2", a.reply(REPLY)?)?;
    anyhow::ensure!(who == who_a, "a2 was handled elsewhere than a1");
    lines.push(show("a2", &reply, ""));
    drop(a);
    let who_b = match b1 {
        Some(who) => who,
        None => {
            let (reply, who) = check("b1", b.reply(REPLY)?)?;
            lines.push(show("b1", &reply, " (after a closed)"));
            who
        }
    };
    b.send("b2")?;
    let (reply, who) = check("b2", b.reply(REPLY)?)?;
    anyhow::ensure!(who == who_b, "b2 was handled elsewhere than b1");
    lines.push(show("b2", &reply, ""));
    drop(b);
    let mut c = LineClient::connect(port)?;
    c.send("c1")?;
    let (reply, who_c) = check("c1", c.reply(REPLY)?)?;
    lines.push(show("c1", &reply, ""));
    Ok(Seen {
        who: vec![who_a, who_b, who_c],
        concurrent: Some(concurrent),
        lines,
    })
}

fn udp_client(name: &str, port: u16) -> anyhow::Result<Seen> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    socket.connect((Ipv4Addr::LOCALHOST, port))?;
    socket.set_read_timeout(Some(REPLY))?;
    let mut who = Vec::new();
    let mut lines = Vec::new();
    let mut buf = [0u8; 1024];
    for message in ["d1", "d2", "d3"] {
        socket.send(message.as_bytes())?;
        let n = socket
            .recv(&mut buf)
            .with_context(|| format!("no reply to datagram {message:?}"))?;
        let reply = String::from_utf8_lossy(&buf[..n]).trim_end().to_string();
        let (reply, w) = check(message, Some(reply))?;
        lines.push(format!("{name} {message} -> {reply:?}"));
        who.push(w);
    }
    Ok(Seen {
        who,
        concurrent: None,
        lines,
    })
}

/// Puts what the replies show into words.
fn what_happened(server_pid: i64, seen: &Seen, unit: &str) -> String {
    let n = seen.who.len();
    let pids = distinct(seen.who.iter().map(|w| w.pid));
    let tids = distinct(seen.who.iter().map(|w| w.tid));
    let own_process = pids == [server_pid];
    let mut text = if !own_process {
        if pids.len() == n {
            format!("a new process per {unit} ({} for {n})", pids.len())
        } else {
            format!("{} processes made at start for {n} {unit}s", pids.len())
        }
    } else if tids == [server_pid] {
        "the server's own thread".to_string()
    } else if tids.len() == n {
        format!(
            "a new thread per {unit} ({} for {n}), same process",
            tids.len()
        )
    } else if tids.len() == 1 {
        format!(
            "1 other thread ({}) for all {n}, same process",
            seen.who[0].thread
        )
    } else {
        format!(
            "{} threads made at start for {n} {unit}s, same process",
            tids.len()
        )
    };
    match seen.concurrent {
        Some(true) => text.push_str("; clients at once"),
        Some(false) => text.push_str("; one client at a time"),
        None => {}
    }
    text
}

/// The distinct values, in order of first appearance.
fn distinct(values: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut out = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn demo() -> anyhow::Result<()> {
    let variants = variants();
    // Start every server first (each in a fresh process), then talk to them.
    let mut servers = variants
        .iter()
        .map(ServerProcess::start)
        .collect::<anyhow::Result<Vec<_>>>()?;
    println!(
        "socketserver: started {} servers, each in its own process (this program run as `serve VARIANT`)",
        servers.len()
    );
    let mut summary = Vec::new();
    let mut in_sessions = false;
    for (variant, server) in variants.iter().zip(&servers) {
        let name = &variant.name;
        let seen = match variant.kind {
            Kind::Datagram => udp_client(name, server.port)?,
            _ => tcp_client(name, server.port)?,
        };
        let unit = if variant.kind == Kind::Datagram {
            "datagram"
        } else {
            "connection"
        };
        let happened = what_happened(server.pid(), &seen, unit);
        if variant.kind == Kind::Session {
            if !in_sessions {
                println!("== the same protocol as one sans-IO Session, on every model ==");
                in_sessions = true;
            }
            let who: Vec<String> = ["a", "b", "c"]
                .iter()
                .zip(&seen.who)
                .map(|(label, w)| format!("{label} pid={} tid={}", w.pid, w.tid))
                .collect();
            println!(
                "{name}: server pid={}, {}: {happened}",
                server.pid(),
                who.join(", ")
            );
        } else {
            println!(
                "== {} = {} (server pid={}) ==",
                variant.python,
                variant.netkit(),
                server.pid()
            );
            for line in &seen.lines {
                println!("{line}");
            }
            println!("{name}: {happened}");
        }
        let first_session = variant.kind == Kind::Session && variant.model == Model::ALL[0];
        summary.push((variant.python, variant.netkit(), happened, first_session));
    }

    // server.shutdown() for all of them at once, by signal, then reap.
    for server in &servers {
        server.terminate()?;
    }
    let mut graceful = 0;
    for (variant, server) in variants.iter().zip(&mut servers) {
        match server.reap(Duration::from_secs(3))? {
            Some(status) if status.success() => graceful += 1,
            Some(status) => println!("socketserver: {} exited with {status}", variant.name),
            None => println!(
                "socketserver: {} ignored SIGTERM for 3 s; killed",
                variant.name
            ),
        }
    }
    println!(
        "socketserver: sent SIGTERM to all {} servers: {graceful} stopped gracefully (exit status 0)",
        servers.len()
    );

    println!();
    let widths = (34, 35);
    println!(
        "{:<w0$} | {:<w1$} | what happened",
        "Python socketserver class",
        "netkit",
        w0 = widths.0,
        w1 = widths.1
    );
    println!(
        "{:-<w0$}-+-{:-<w1$}-+-{:-<30}",
        "",
        "",
        "",
        w0 = widths.0,
        w1 = widths.1
    );
    for (python, netkit, happened, first_session) in &summary {
        if *first_session {
            println!("(the same protocol, written once as a sans-IO Session, on every model:)");
        }
        println!(
            "{python:<w0$} | {netkit:<w1$} | {happened}",
            w0 = widths.0,
            w1 = widths.1
        );
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] | ["--demo"] => demo(),
        ["serve", name] | ["serve", name, _] => {
            let variants = variants();
            let Some(variant) = variants.iter().find(|v| v.name == name) else {
                let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                return Err(netkit::lesson::usage(format!(
                    "unknown variant {name:?}; choose from: {}",
                    names.join(", ")
                )));
            };
            let port = match args.get(2) {
                Some(p) => p
                    .parse()
                    .map_err(|_| netkit::lesson::usage(format!("bad port {p:?}")))?,
                None => 0,
            };
            serve_variant(variant, port)
        }
        _ => Err(netkit::lesson::usage(
            "usage: socketserver [--demo] | socketserver serve VARIANT [PORT]",
        )),
    }
}
