//! Bookkeeping shared by the readiness loops (select, poll, epoll): the table
//! of connections, accepting within limits, idle sweeps and the shutdown
//! policy, plus the datagram pump. Each loop keeps its own readiness mechanism.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use slab::Slab;

use super::AcceptErrors;
use crate::server::clock;
use crate::server::conn::{Conn, SCRATCH, Want};
use crate::server::{Config, DatagramService, Listener, ServerError, Service, Shutdown};
use crate::sys;

/// One loop's connections and what each is waiting for.
pub(crate) struct Table<'s, S: Service> {
    service: &'s S,
    /// Live connections, keyed by a small integer the loop uses as its token.
    pub conns: Slab<(Conn<S::Session>, Want)>,
    /// Where reads land before the session sees them (shared by all connections).
    scratch: Vec<u8>,
    /// Open connections across every loop sharing the limit (epoll's workers
    /// share one count: SO_REUSEPORT spreads clients unevenly, so a fixed
    /// share per loop would refuse clients while others have room).
    open: Arc<AtomicUsize>,
    max: usize,
    /// Edge-triggered readiness (connections must drain their sockets).
    edge: bool,
    /// Reply for clients over the limit (from [`Service::overload_reply`]).
    overload: Option<Vec<u8>>,
    idle: Option<Duration>,
    last_sweep: Instant,
    /// Accept failures, and until when accepting is paused after a shortage.
    accept_errors: AcceptErrors,
    paused_until: Option<Instant>,
}

impl<'s, S: Service> Table<'s, S> {
    /// A table counting its connections in `open` against `config.max_connections`.
    pub(crate) fn new(service: &'s S, config: &Config, open: Arc<AtomicUsize>) -> Self {
        Table {
            service,
            conns: Slab::new(),
            scratch: vec![0; SCRATCH],
            open,
            max: config.max_connections.max(1),
            overload: service.overload_reply(),
            edge: config.edge_triggered,
            idle: config.idle_timeout,
            last_sweep: Instant::now(),
            accept_errors: AcceptErrors::default(),
            paused_until: None,
        }
    }

    /// True while another connection may be accepted.
    pub(crate) fn has_room(&self) -> bool {
        self.open.load(Ordering::Relaxed) < self.max
    }

    /// Claims a place for one more connection, if the limit allows.
    fn reserve(&self) -> bool {
        let claimed = self.open.fetch_add(1, Ordering::Relaxed);
        if claimed >= self.max {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Takes connection `key` out of the table, giving back its place.
    fn remove(&mut self, key: usize) -> Option<Conn<S::Session>> {
        let (conn, _) = self.conns.try_remove(key)?;
        self.open.fetch_sub(1, Ordering::Relaxed);
        Some(conn)
    }

    /// True while the listener should be watched: accepting is not paused
    /// after a shortage, and there is room (or clients over the limit get an
    /// overload reply instead of waiting). The loops wake at least every
    /// tick, so a pause ends on time.
    pub(crate) fn accepting(&mut self) -> bool {
        if let Some(until) = self.paused_until {
            if Instant::now() < until {
                return false;
            }
            self.paused_until = None;
        }
        self.has_room() || self.overload.is_some()
    }

    /// Accepts up to `batch` pending connections. `admit(fd)` may refuse one
    /// (select does for descriptors it cannot watch). Returns the new keys,
    /// each already driven once.
    pub(crate) fn accept(
        &mut self,
        listener: &Listener,
        batch: usize,
        mut admit: impl FnMut(RawFd) -> bool,
    ) -> Vec<usize> {
        let mut keys = Vec::new();
        let mut refused = 0;
        while keys.len() + refused < batch && self.accepting() {
            match listener.accept() {
                Ok((stream, peer)) => {
                    use std::os::fd::AsRawFd;
                    self.accept_errors.accepted();
                    if !self.reserve() {
                        if let Some(reply) = &self.overload {
                            // Over the limit: say so and close, rather than
                            // leave the client hanging.
                            refused += 1;
                            let _ = stream.set_nonblocking(true);
                            super::refuse(stream.as_fd(), reply);
                            continue;
                        }
                        // Another loop took the last place after our check: with
                        // nothing to tell the client, serve it slightly over the
                        // limit rather than close it unanswered.
                        self.open.fetch_add(1, Ordering::Relaxed);
                    }
                    if !admit(stream.as_raw_fd()) {
                        self.open.fetch_sub(1, Ordering::Relaxed);
                        continue; // dropped: closed
                    }
                    let session = self.service.session(&peer);
                    let Ok(mut conn) = Conn::new(stream, session, self.edge) else {
                        self.open.fetch_sub(1, Ordering::Relaxed);
                        continue;
                    };
                    let want = conn.drive(&mut self.scratch);
                    if want == Want::Close {
                        self.open.fetch_sub(1, Ordering::Relaxed);
                        conn.close();
                        continue;
                    }
                    keys.push(self.conns.insert((conn, want)));
                }
                Err(e) if sys::would_block(&e) => break,
                Err(e) => {
                    if let Some(pause) = self.accept_errors.failed(&e) {
                        // Stop watching the listener for a while rather than
                        // sleep: the established connections go on.
                        self.paused_until = Some(Instant::now() + pause);
                    }
                    break;
                }
            }
        }
        keys
    }

    /// Drives connection `key` after readiness; returns its new wish (or Close, after removing it).
    pub(crate) fn drive(&mut self, key: usize) -> Want {
        let Some((conn, want)) = self.conns.get_mut(key) else {
            return Want::Close;
        };
        let w = conn.drive(&mut self.scratch);
        *want = w;
        if w == Want::Close
            && let Some(conn) = self.remove(key)
        {
            conn.close();
        }
        w
    }

    /// Expires sessions past their own deadline and closes connections idle
    /// past the timeout (checked at most every 100 ms). `changed(key, fd, want)`
    /// tells the loop about each connection whose wish changed; `Want::Close`
    /// comes before the close, so the loop can deregister.
    pub(crate) fn sweep_idle(&mut self, mut changed: impl FnMut(usize, RawFd, Want)) {
        let now = clock::now();
        if now.duration_since(self.last_sweep) < Duration::from_millis(100) {
            return;
        }
        self.last_sweep = now;
        // Sessions whose own deadline passed get to answer (e.g. 408) before closing.
        let expired: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, (c, _))| c.deadline_passed(now))
            .map(|(k, _)| k)
            .collect();
        for key in expired {
            let (conn, want) = &mut self.conns[key];
            *want = conn.expire(&mut self.scratch);
            let (w, fd) = (*want, conn.fd());
            changed(key, fd, w);
            if w == Want::Close
                && let Some(conn) = self.remove(key)
            {
                conn.close();
            }
        }
        let Some(idle) = self.idle else { return };
        let stale: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, (c, _))| now.duration_since(c.last_activity) >= idle)
            .map(|(k, _)| k)
            .collect();
        for key in stale {
            if let Some(conn) = self.remove(key) {
                changed(key, conn.fd(), Want::Close);
                conn.close();
            }
        }
    }

    /// During shutdown: closes connections that are between requests (after
    /// one last drive to pick up input already received), or all of them once
    /// the deadline has passed.
    pub(crate) fn close_for_shutdown(
        &mut self,
        shutdown: &Shutdown,
        grace: Duration,
        mut changed: impl FnMut(usize, RawFd, Want),
    ) {
        let force = shutdown.past_deadline(grace);
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            if !force {
                let fd = self.conns[key].0.fd();
                let want = self.drive(key);
                if want == Want::Close {
                    continue; // removed and closed by `drive`
                }
                if !self.conns[key].0.is_idle() {
                    // Still mid-request: keep serving it, with up-to-date interest.
                    changed(key, fd, want);
                    continue;
                }
            }
            if let Some(mut conn) = self.remove(key) {
                changed(key, conn.fd(), Want::Close);
                if force {
                    conn.last_word();
                }
                conn.close();
            }
        }
    }
}

/// The datagram side of a readiness loop: receive a batch, answer, and queue
/// replies the socket could not take yet.
pub(crate) struct Pump<'s, D> {
    service: &'s D,
    buf: Vec<u8>,
    /// Replies waiting for the socket to become writable.
    pending: Backlog,
    out: Vec<(SocketAddr, Vec<u8>)>,
    next_tick: Option<Instant>,
    run_ticks: bool,
}

/// Most bytes of replies a datagram loop keeps for a socket that refuses
/// them (its send buffer full). Past it new replies are dropped, as the
/// network drops datagrams anyway: a socket that stays full must not make
/// the server grow without end.
pub(crate) const BACKLOG_MAX_BYTES: usize = 16 << 20;

/// Replies waiting for the socket, bounded by [`BACKLOG_MAX_BYTES`].
#[derive(Default)]
pub(crate) struct Backlog {
    queue: std::collections::VecDeque<(SocketAddr, Vec<u8>)>,
    bytes: usize,
    dropped: u64,
}

impl Backlog {
    /// Queues a reply, or drops it (counted; logged when dropping starts)
    /// when the backlog is full.
    pub(crate) fn push(&mut self, to: SocketAddr, reply: Vec<u8>) {
        if self.bytes + reply.len() > BACKLOG_MAX_BYTES {
            if self.dropped == 0 {
                tracing::warn!(
                    "netkit: datagram replies are being dropped: the socket refuses them and {} MiB wait (the total comes at exit)",
                    BACKLOG_MAX_BYTES >> 20
                );
            }
            self.dropped += 1;
            return;
        }
        self.bytes += reply.len();
        self.queue.push_back((to, reply));
    }

    fn front(&self) -> Option<&(SocketAddr, Vec<u8>)> {
        self.queue.front()
    }

    fn pop_front(&mut self) {
        if let Some((_, reply)) = self.queue.pop_front() {
            self.bytes -= reply.len();
        }
        if self.queue.is_empty() && self.queue.capacity() > 64 {
            self.queue = Default::default(); // a burst's memory goes back
        }
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

impl Drop for Backlog {
    fn drop(&mut self) {
        if self.dropped > 0 {
            tracing::warn!(
                "netkit: {} datagram replies dropped (the socket refused them, backlog full)",
                self.dropped
            );
        }
    }
}

impl<'s, D: DatagramService> Pump<'s, D> {
    pub(crate) fn new(service: &'s D, run_ticks: bool) -> Self {
        Pump {
            service,
            buf: vec![0; 65536],
            pending: Default::default(),
            out: Vec::new(),
            next_tick: service.tick_interval().map(|d| Instant::now() + d),
            run_ticks,
        }
    }

    /// True while replies are waiting for writability.
    pub(crate) fn wants_write(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Receives up to a batch of datagrams and answers them.
    pub(crate) fn on_readable(&mut self, socket: &UdpSocket) -> io::Result<()> {
        for _ in 0..256 {
            match socket.recv_from(&mut self.buf) {
                Ok((n, from)) => self
                    .service
                    .on_datagram(from, &self.buf[..n], &mut self.out),
                Err(e) if sys::would_block(&e) => break,
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            }
            self.send_out(socket);
        }
        Ok(())
    }

    /// Runs the service's periodic work when due.
    pub(crate) fn tick(&mut self, socket: &UdpSocket) {
        if !self.run_ticks {
            return;
        }
        if let (Some(at), Some(every)) = (self.next_tick, self.service.tick_interval())
            && Instant::now() >= at
        {
            self.service.on_tick(&mut self.out);
            self.send_out(socket);
            self.next_tick = Some(Instant::now() + every);
        }
    }

    /// Sends the service's new replies, in order after any that wait; what
    /// the socket refuses waits in the backlog.
    fn send_out(&mut self, socket: &UdpSocket) {
        self.flush(socket);
        for (to, reply) in self.out.drain(..) {
            if self.pending.is_empty() {
                match socket.send_to(&reply, to) {
                    Ok(_) => continue,
                    Err(e) if sys::would_block(&e) => {}
                    Err(_) => continue, // unreachable peer etc.: drop this one
                }
            }
            self.pending.push(to, reply);
        }
    }

    /// Sends queued replies until the socket is full.
    pub(crate) fn flush(&mut self, socket: &UdpSocket) {
        while let Some((to, bytes)) = self.pending.front() {
            match socket.send_to(bytes, *to) {
                Ok(_) => {
                    self.pending.pop_front();
                }
                Err(e) if sys::would_block(&e) => return,
                Err(_) => {
                    self.pending.pop_front(); // unreachable peer etc.: drop this one
                }
            }
        }
    }
}

/// The datagram loop of a one-thread readiness model: until shutdown, waits
/// with `wait(wants_write)`, which reports `(readable, writable)` for the
/// socket, answers what arrived, sends what is queued and runs the ticks.
pub(crate) fn pump_datagrams<D: DatagramService>(
    socket: &UdpSocket,
    service: &D,
    shutdown: &Shutdown,
    mut wait: impl FnMut(bool) -> io::Result<(bool, bool)>,
) -> Result<(), ServerError> {
    socket
        .set_nonblocking(true)
        .map_err(|e| ServerError::io("udp socket", e))?;
    let mut pump = Pump::new(service, true);
    while !shutdown.is_set() {
        let (readable, writable) = wait(pump.wants_write())
            .map_err(|e| ServerError::io("waiting for the udp socket", e))?;
        if writable {
            pump.flush(socket);
        }
        if readable {
            pump.on_readable(socket)
                .map_err(|e| ServerError::io("udp receive", e))?;
        }
        pump.tick(socket);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_backlog_drops_new_replies_and_gives_its_memory_back_when_drained() {
        let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut backlog = Backlog::default();
        let reply = vec![7u8; 64 * 1024];
        let fits = BACKLOG_MAX_BYTES / reply.len();
        for _ in 0..fits {
            backlog.push(to, reply.clone());
        }
        assert_eq!(backlog.bytes, BACKLOG_MAX_BYTES);
        assert_eq!(backlog.dropped, 0);
        // Full: the newest are dropped and counted, even a one-byte reply.
        backlog.push(to, reply.clone());
        backlog.push(to, vec![1]);
        assert_eq!(backlog.dropped, 2);
        assert_eq!(backlog.queue.len(), fits);
        // Room again once the socket takes one.
        backlog.pop_front();
        backlog.push(to, reply.clone());
        assert_eq!(backlog.dropped, 2);
        assert_eq!(backlog.queue.len(), fits);
        while !backlog.is_empty() {
            backlog.pop_front();
        }
        assert_eq!(backlog.bytes, 0);
        assert_eq!(
            backlog.queue.capacity(),
            0,
            "a drained burst keeps no memory"
        );
    }
}
