//! The load generator: many TCP connections driven by a few epoll loops.
//!
//! Cheap per request on purpose, so it measures the server and not itself:
//! each loop thread owns its share of the connections and one epoll instance
//! (level-triggered, `EPOLLIN` always on, `EPOLLOUT` only while a send is
//! short). Every connection has one request outstanding at a time: send the
//! request, wait until `response_len` bytes came back, record the latency, send
//! again. For echo the request is `size` bytes and so is the answer; for HTTP
//! it is a GET of one file, whose responses all have the same length (the
//! `Date` header is fixed-width).
//! In the steady state a request costs one `recv`, one `send`, one clock read
//! and a share of an `epoll_wait`.
//!
//! Everything is bounded in time: connecting has a deadline, each loop stops at
//! the end of the measurement whatever the server does, and connections that
//! fail, are closed by the server or echo garbage are counted as errors.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::proc::thread_cpu;
use crate::sys::{recv_now, send_now};

/// Highest latency the histogram tracks, microseconds (larger values saturate).
const MAX_LATENCY_US: u64 = 600_000_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The echo server.
    pub addr: SocketAddr,
    /// Connections.
    pub clients: usize,
    /// The bytes each request sends (an echo payload, an HTTP request, ...).
    pub request: Vec<u8>,
    /// Bytes in the answer to each request (the payload's length for echo).
    pub response_len: usize,
    /// Event-loop threads (each with its share of the connections).
    pub threads: usize,
    /// Requests before the measurement starts are not counted.
    pub warmup: Duration,
    /// Measurement time.
    pub duration: Duration,
    /// Longest time connecting all clients may take.
    pub connect_timeout: Duration,
}

/// What the load generator measured.
#[derive(Debug)]
pub struct LoadResult {
    /// Latency of requests completed during the measurement, microseconds.
    pub hist: Histogram<u64>,
    /// Requests completed during the measurement.
    pub completed: u64,
    /// Actual measurement time.
    pub measured: Duration,
    /// Connections that connected.
    pub connected: usize,
    /// How long connecting took.
    pub connect_time: Duration,
    /// Connections that could not connect.
    pub connect_errors: usize,
    /// Connections that failed later (reset, closed by the server, bad echo).
    pub io_errors: usize,
    /// Healthy connections that completed no request during the measurement.
    pub starved: usize,
    /// Requests still unanswered at the end, and the age of the oldest one.
    pub outstanding: usize,
    /// Age of the oldest unanswered request at the end.
    pub oldest_outstanding: Duration,
    /// CPU time the loop threads used during the measurement.
    pub cpu: Duration,
    /// Loop threads that ran.
    pub threads: usize,
    /// The connections, still open: the caller closes them (by dropping) after
    /// it has looked at the server with all clients connected.
    pub open: Vec<OwnedFd>,
}

impl LoadResult {
    /// All errors: failed connects plus failed connections.
    pub fn errors(&self) -> usize {
        self.connect_errors + self.io_errors
    }

    /// Completed requests per second of measurement.
    pub fn throughput(&self) -> f64 {
        self.completed as f64 / self.measured.as_secs_f64().max(1e-9)
    }
}

pub(crate) use crate::sys::Epoll;

const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;

/// Opens `n` connections to `addr` at once (non-blocking connects watched by one
/// epoll), with TCP_NODELAY. Returns the connected sockets and how many failed;
/// connects still pending at the deadline count as failed.
pub fn connect_all(
    addr: SocketAddr,
    n: usize,
    timeout: Duration,
) -> io::Result<(Vec<OwnedFd>, usize)> {
    let ep = Epoll::new()?;
    let deadline = Instant::now() + timeout;
    let target = SockAddr::from(addr);
    let mut pending: Vec<Option<Socket>> = Vec::with_capacity(n);
    let mut done = Vec::with_capacity(n);
    let mut failed = 0;
    let mut waiting = 0;
    for i in 0..n {
        let sock = match Socket::new(
            Domain::for_address(addr),
            Type::STREAM.nonblocking().cloexec(),
            Some(Protocol::TCP),
        ) {
            Ok(s) => s,
            Err(_) => {
                failed += 1; // typically EMFILE: out of descriptors
                pending.push(None);
                continue;
            }
        };
        let _ = sock.set_tcp_nodelay(true);
        match sock.connect(&target) {
            Ok(()) => {
                done.push(OwnedFd::from(sock));
                pending.push(None);
            }
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                if ep.add(sock.as_raw_fd(), OUT, i as u64).is_ok() {
                    waiting += 1;
                    pending.push(Some(sock));
                } else {
                    failed += 1;
                    pending.push(None);
                }
            }
            Err(_) => {
                failed += 1;
                pending.push(None);
            }
        }
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    while waiting > 0 {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let k = ep.wait(&mut events, deadline - now).unwrap_or(0);
        for ev in &events[..k] {
            let Some(sock) = pending.get_mut(ev.u64 as usize).and_then(Option::take) else {
                continue;
            };
            waiting -= 1;
            ep.delete(sock.as_raw_fd());
            match sock.take_error() {
                Ok(None) => done.push(OwnedFd::from(sock)),
                _ => failed += 1,
            }
        }
    }
    failed += waiting; // timed out
    Ok((done, failed))
}

/// The moments that divide a run.
#[derive(Debug, Clone, Copy)]
struct Phases {
    start: Instant,
    warm_end: Instant,
    end: Instant,
}

/// One connection's request cycle.
struct Client<'fd> {
    /// The connection, owned by the loop thread's descriptor list.
    fd: BorrowedFd<'fd>,
    alive: bool,
    /// Bytes of the current request sent / echoed back.
    sent: usize,
    received: usize,
    sent_at: Instant,
    /// EPOLLOUT is registered (a send came up short).
    want_out: bool,
    /// Requests completed during the measurement.
    done: u64,
}

/// What one loop thread measured.
struct ThreadResult {
    hist: Histogram<u64>,
    completed: u64,
    io_errors: usize,
    starved: usize,
    outstanding: usize,
    oldest_outstanding: Duration,
    cpu: Duration,
    fds: Vec<OwnedFd>,
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// Sends what is left of the current request; false on a connection error.
fn send_rest(ep: &Epoll, c: &mut Client<'_>, token: u64, payload: &[u8]) -> bool {
    while c.sent < payload.len() {
        let n = match send_now(c.fd, &payload[c.sent..]) {
            Ok(n) => n,
            Err(e) => match e.raw_os_error() {
                Some(libc::EAGAIN) => {
                    if !c.want_out {
                        c.want_out = true;
                        let _ = ep.modify(c.fd.as_raw_fd(), IN | OUT, token);
                    }
                    return true;
                }
                Some(libc::EINTR) => continue,
                _ => return false,
            },
        };
        c.sent += n;
    }
    if c.want_out {
        c.want_out = false;
        let _ = ep.modify(c.fd.as_raw_fd(), IN, token);
    }
    true
}

/// One loop thread: drives `fds` from `phases.start` until `phases.end`.
fn drive(fds: Vec<OwnedFd>, payload: &[u8], response_len: usize, phases: Phases) -> ThreadResult {
    let mut r = ThreadResult {
        hist: new_hist(),
        completed: 0,
        io_errors: 0,
        starved: 0,
        outstanding: 0,
        oldest_outstanding: Duration::ZERO,
        cpu: Duration::ZERO,
        fds: Vec::new(),
    };
    let Ok(ep) = Epoll::new() else {
        r.io_errors = fds.len();
        r.fds = fds;
        return r;
    };
    let mut scratch = vec![0u8; response_len.clamp(4096, 256 * 1024)];
    let mut clients: Vec<Client<'_>> = fds
        .iter()
        .enumerate()
        .map(|(i, fd)| {
            let ok = ep.add(fd.as_raw_fd(), IN, i as u64).is_ok();
            Client {
                fd: fd.as_fd(),
                alive: ok,
                sent: 0,
                received: 0,
                sent_at: phases.start,
                want_out: false,
                done: 0,
            }
        })
        .collect();
    r.io_errors = clients.iter().filter(|c| !c.alive).count();

    let now = Instant::now();
    if now < phases.start {
        std::thread::sleep(phases.start - now);
    }
    // First request on every connection.
    let t0 = Instant::now();
    for (i, c) in clients.iter_mut().enumerate() {
        if c.alive {
            c.sent_at = t0;
            if !send_rest(&ep, c, i as u64, payload) {
                fail(&ep, c, &mut r.io_errors);
            }
        }
    }

    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 512.min(clients.len().max(1))];
    let mut cpu_start = None;
    loop {
        let now = Instant::now();
        if now >= phases.end {
            break;
        }
        if cpu_start.is_none() && now >= phases.warm_end {
            cpu_start = Some(thread_cpu());
        }
        let until = if cpu_start.is_some() {
            phases.end
        } else {
            phases.warm_end
        };
        let n = ep.wait(&mut events, until - now).unwrap_or(0);
        for ev in &events[..n] {
            let token = ev.u64;
            let c = &mut clients[token as usize];
            if !c.alive {
                continue;
            }
            if ev.events & OUT != 0 && !send_rest(&ep, c, token, payload) {
                fail(&ep, c, &mut r.io_errors);
                continue;
            }
            if ev.events & !OUT == 0 {
                continue;
            }
            // Readable, hung up or in error: one recv tells which.
            let got = match recv_now(c.fd, &mut scratch) {
                Ok(0) => {
                    fail(&ep, c, &mut r.io_errors); // the server closed the connection
                    continue;
                }
                Ok(got) => got,
                Err(e) => {
                    let e = e.raw_os_error();
                    if e != Some(libc::EAGAIN) && e != Some(libc::EINTR) {
                        fail(&ep, c, &mut r.io_errors);
                    }
                    continue;
                }
            };
            c.received += got;
            if c.received > response_len {
                fail(&ep, c, &mut r.io_errors); // more bytes than the answer has: not the answer expected
                continue;
            }
            if c.received < response_len {
                continue;
            }
            // One request done.
            let t = Instant::now();
            if t >= phases.warm_end && t < phases.end {
                let us = (t - c.sent_at).as_micros() as u64;
                r.hist.saturating_record(us.max(1));
                r.completed += 1;
                c.done += 1;
            }
            if t < phases.end {
                c.sent = 0;
                c.received = 0;
                c.sent_at = t;
                if !send_rest(&ep, c, token, payload) {
                    fail(&ep, c, &mut r.io_errors);
                }
            }
        }
    }
    r.cpu = cpu_start.map_or(Duration::ZERO, |s| thread_cpu().saturating_sub(s));
    let end = Instant::now();
    for c in &clients {
        if c.alive {
            if c.done == 0 {
                r.starved += 1;
            }
            if c.sent > 0 {
                r.outstanding += 1;
                r.oldest_outstanding = r.oldest_outstanding.max(end - c.sent_at);
            }
        }
    }
    r.fds = fds;
    r
}

fn fail(ep: &Epoll, c: &mut Client<'_>, errors: &mut usize) {
    c.alive = false;
    *errors += 1;
    ep.delete(c.fd.as_raw_fd());
    let _ = nix::sys::socket::shutdown(c.fd.as_raw_fd(), nix::sys::socket::Shutdown::Both);
}

/// Connects every client, runs warm-up and measurement on `cfg.threads` loops,
/// and returns the merged result with the connections still open.
/// `at_warm_end` runs on the calling thread when the measurement starts.
pub fn run(cfg: &LoadConfig, at_warm_end: impl FnOnce()) -> io::Result<LoadResult> {
    let t = Instant::now();
    let (fds, connect_errors) = connect_all(cfg.addr, cfg.clients, cfg.connect_timeout)?;
    let connect_time = t.elapsed();
    let connected = fds.len();
    if connected == 0 {
        // Nothing to drive: report at once instead of idling through the phases.
        at_warm_end();
        return Ok(LoadResult {
            hist: new_hist(),
            completed: 0,
            measured: cfg.duration,
            connected,
            connect_time,
            connect_errors,
            io_errors: 0,
            starved: 0,
            outstanding: 0,
            oldest_outstanding: Duration::ZERO,
            cpu: Duration::ZERO,
            threads: 0,
            open: Vec::new(),
        });
    }
    let threads = cfg.threads.clamp(1, connected.max(1));
    let mut shares: Vec<Vec<OwnedFd>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, fd) in fds.into_iter().enumerate() {
        shares[i % threads].push(fd);
    }
    // A common start shortly after the threads exist.
    let start = Instant::now() + Duration::from_millis(20);
    let phases = Phases {
        start,
        warm_end: start + cfg.warmup,
        end: start + cfg.warmup + cfg.duration,
    };
    let mut handles = Vec::new();
    let mut io_errors = 0;
    for (i, share) in shares.into_iter().enumerate() {
        let (request, response_len) = (cfg.request.clone(), cfg.response_len);
        let n = share.len();
        let spawned = std::thread::Builder::new()
            .name(format!("bench-loadgen-{i}"))
            .spawn(move || drive(share, &request, response_len, phases));
        match spawned {
            Ok(h) => handles.push((h, n)),
            Err(_) => io_errors += n, // the share was dropped: those connections are closed
        }
    }
    let now = Instant::now();
    if now < phases.warm_end {
        std::thread::sleep(phases.warm_end - now);
    }
    at_warm_end();
    let mut hist = new_hist();
    let mut res = LoadResult {
        hist: new_hist(),
        completed: 0,
        measured: cfg.duration,
        connected,
        connect_time,
        connect_errors,
        io_errors,
        starved: 0,
        outstanding: 0,
        oldest_outstanding: Duration::ZERO,
        cpu: Duration::ZERO,
        threads: handles.len(),
        open: Vec::new(),
    };
    for (h, n) in handles {
        match h.join() {
            Ok(r) => {
                let _ = hist.add(&r.hist);
                res.completed += r.completed;
                res.io_errors += r.io_errors;
                res.starved += r.starved;
                res.outstanding += r.outstanding;
                res.oldest_outstanding = res.oldest_outstanding.max(r.oldest_outstanding);
                res.cpu += r.cpu;
                res.open.extend(r.fds);
            }
            Err(_) => res.io_errors += n, // a bug, but never propagate a panic
        }
    }
    res.hist = hist;
    Ok(res)
}
