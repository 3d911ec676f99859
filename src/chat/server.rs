//! The room on the network: [`ChatService`] runs a [`Room`] as a
//! [`DatagramService`] under any model that can hold shared state, and
//! [`serve`] is `netkit chat serve`: socket set-up, the operator's console and
//! the log.

use std::collections::HashMap;
use std::io::{self, BufRead};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::relay::{Incoming, Members, Relay, RelayConfig};
use super::room::{Broadcast, Datagram, Event, Fanout, Limits, Outcome, Refusal, Room, human};
use super::wording::Lang;
use anyhow::Context;
use tracing::{info, warn};

use crate::cli::startup::{Serves, Startup};
use crate::server::{self, Config, DatagramService};

/// The socket buffer size the server asks for, each way. At 1,000 members a
/// message fans out into 1,000 datagrams, and bursts of joins far more.
pub const SOCKET_BUFFER: usize = 4 << 20;

/// At most this many refusals are logged per second; the rest are counted.
const REFUSALS_PER_SECOND: u32 = 10;

/// The room as a datagram service. Cloning gives another handle to the same
/// room (the operator's console holds one).
#[derive(Debug, Clone)]
pub struct ChatService {
    shared: Arc<Shared>,
}

/// The stream id (milliseconds, sequence) a member joined after, and when.
type JoinStamp = ((u64, u64), Instant);
/// How long a join stamp is kept, and most stamps kept at once.
const JOIN_STAMP_LIFE: Duration = Duration::from_secs(10);
const JOIN_STAMPS_MAX: usize = 10_000;

#[derive(Debug)]
struct Shared {
    /// The room; every model that can run chat shares this one.
    room: Mutex<Room>,
    /// Rate limiter for refusal lines, so a flood does not flood the log too.
    log: Mutex<RefusalLog>,
    /// Write joins, leaves and refusals to stderr.
    verbose: bool,
    /// How often to look for silent members (only with an idle limit).
    tick: Option<Duration>,
    /// The relay to the room's other servers (`--redis`), and the socket
    /// it delivers their broadcasts on.
    relay: OnceLock<(Relay, UdpSocket)>,
    /// The room's last stream entry when each recent local member joined:
    /// the relay's reader may still be delivering entries up to it, which
    /// are older than the member.
    joined_at: Mutex<HashMap<SocketAddr, JoinStamp>>,
}

impl ChatService {
    /// A service around `room`; `verbose` logs to stderr.
    pub fn new(room: Room, verbose: bool) -> ChatService {
        // Check often enough that nobody stays much past the limit.
        let tick = room
            .limits()
            .idle_timeout
            .map(|idle| (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(1)));
        ChatService {
            shared: Arc::new(Shared {
                tick,
                room: Mutex::new(room),
                log: Mutex::new(RefusalLog::default()),
                verbose,
                relay: OnceLock::new(),
                joined_at: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Shares the room with the other servers of `config.room` through
    /// Redis: the relay's broadcasts from them go out on `socket` (a handle
    /// of the room's own). Returns the relay (already started).
    pub fn share(&self, config: &RelayConfig, socket: UdpSocket) -> anyhow::Result<Relay> {
        let link: Arc<dyn Members> = Arc::new(Link(self.clone()));
        let relay = Relay::start(config, link)?;
        if self.shared.relay.set((relay.clone(), socket)).is_err() {
            anyhow::bail!("the room is shared already");
        }
        Ok(relay)
    }

    fn relay(&self) -> Option<&Relay> {
        self.shared.relay.get().map(|(r, _)| r)
    }

    /// Every member here as `(address, name)`, sorted by name.
    pub fn members(&self) -> Vec<(SocketAddr, String)> {
        self.room().members()
    }

    /// The members on the room's other servers as `(name, server id)`,
    /// sorted by name (none without `--redis`).
    pub fn remote_members(&self) -> Vec<(String, String)> {
        self.room()
            .remote_members()
            .into_iter()
            .map(|m| (m.name, m.server))
            .collect()
    }

    /// The operator's broadcast (`Admin: <text>` to every member, in the
    /// room's language; to the other servers' members too).
    pub fn admin(&self, text: &str) -> Result<Vec<Datagram>, Refusal> {
        let room = self.room();
        let sends = room.admin(text)?;
        if let Some(relay) = self.relay() {
            relay.publish(Broadcast::Admin(text.to_string()));
        }
        Ok(sends)
    }

    /// Handles a datagram of a shared room: a join claims its name across
    /// the room first (no lock held meanwhile), and what the room broadcast
    /// goes to the relay, in the room's order.
    fn handle_shared(&self, relay: &Relay, from: SocketAddr, data: &[u8]) -> Outcome {
        let claim = {
            let mut room = self.room();
            let name = room.join_to_claim(from, data);
            if let Some(n) = &name {
                room.hold(n);
            }
            name
        };
        let Some(name) = claim else {
            let mut room = self.room();
            let mut outcome = room.handle(from, data, Instant::now());
            self.relay_outcome(relay, &mut outcome);
            return outcome;
        };
        let token = relay.claim(&name);
        let mut room = self.room();
        room.release_hold(&name);
        let Some((token, joined_after)) = token else {
            return room.taken_elsewhere(from, &name);
        };
        let mut outcome = room.handle(from, data, Instant::now());
        let joined = outcome
            .events
            .iter()
            .any(|e| matches!(e, Event::Joined { name: n, .. } if *n == name));
        if joined {
            relay.hold(&name, token);
            if let Some(last) = joined_after {
                let mut stamps = self
                    .shared
                    .joined_at
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                // Bounded: a stamp matters only while the reader is behind
                // the claim (milliseconds); a dropped one costs at most a
                // late join notice.
                let now = Instant::now();
                stamps.retain(|_, (_, t)| now.duration_since(*t) < JOIN_STAMP_LIFE);
                if stamps.len() >= JOIN_STAMPS_MAX {
                    stamps.clear();
                }
                stamps.insert(from, (last, now));
            }
        } else {
            relay.unclaim(&name, token);
        }
        self.relay_outcome(relay, &mut outcome);
        outcome
    }

    /// Hands an outcome's broadcasts to the relay and gives up the claims of
    /// the members that left (called with the room locked, so the stream
    /// has them in the room's order).
    fn relay_outcome(&self, relay: &Relay, outcome: &mut Outcome) {
        for b in outcome.relay.drain(..) {
            relay.publish(b);
        }
        for e in &outcome.events {
            if let Event::Left { name, .. } | Event::Dropped { name, .. } = e {
                relay.forget(name);
            }
        }
    }

    /// Sends fan-outs on the relay's socket, one `sendmmsg` per 256 members.
    fn send_fanouts(&self, fanouts: &[Fanout]) {
        if let Some((_, socket)) = self.shared.relay.get() {
            for f in fanouts {
                crate::sys::send_to_many(socket.as_fd(), &f.line, &f.to);
            }
        }
    }

    fn send_datagrams(&self, sends: &mut Vec<Datagram>) {
        if let Some((_, socket)) = self.shared.relay.get() {
            server::blocking::send_all(socket, sends);
        }
    }

    /// The closing notice, to every member.
    pub fn closing(&self) -> Vec<Datagram> {
        self.room().closing()
    }

    fn room(&self) -> MutexGuard<'_, Room> {
        // A panic while holding the lock cannot leave the room half-changed
        // in a way that matters more than stopping the server would.
        self.shared.room.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log(&self, events: &[Event]) {
        if !self.shared.verbose {
            return;
        }
        for e in events {
            match e {
                Event::Joined {
                    name,
                    addr,
                    members,
                } => info!("netkit chat: {name} joined from {addr} ({members} in the room)"),
                Event::Left {
                    name,
                    addr,
                    members,
                } => info!("netkit chat: {name} left from {addr} ({members} in the room)"),
                Event::Dropped {
                    name,
                    addr,
                    members,
                } => info!(
                    "netkit chat: {name} at {addr} dropped for silence ({members} in the room)"
                ),
                Event::Refused { addr, refusal } => {
                    let mut log = self.shared.log.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(note) = log.admit(Instant::now()) {
                        info!("netkit chat: {note}");
                    }
                    if log.shown <= REFUSALS_PER_SECOND {
                        info!("netkit chat: refused {addr}: {refusal}");
                    }
                }
            }
        }
    }
}

impl DatagramService for ChatService {
    fn on_datagram(&self, from: SocketAddr, data: &[u8], out: &mut Vec<Datagram>) {
        let mut outcome = match self.relay() {
            Some(relay) => self.handle_shared(relay, from, data),
            None => self.room().handle(from, data, Instant::now()),
        };
        out.append(&mut outcome.sends);
        self.log(&outcome.events);
    }

    fn stateless(&self) -> bool {
        false
    }

    fn tick_interval(&self) -> Option<Duration> {
        self.shared.tick
    }

    fn on_tick(&self, out: &mut Vec<Datagram>) {
        let mut outcome = {
            let mut room = self.room();
            let mut outcome = room.expire(Instant::now());
            if let Some(relay) = self.relay() {
                self.relay_outcome(relay, &mut outcome);
            }
            outcome
        };
        out.append(&mut outcome.sends);
        self.log(&outcome.events);
    }
}

/// The room's side of the relay: what arrives from the other servers is
/// worked out under the room's lock and sent after it is released.
struct Link(ChatService);

impl Members for Link {
    fn deliver(&self, batch: Vec<Incoming>) {
        let fanouts: Vec<Fanout> = {
            let mut room = self.0.room();
            let stamps = self
                .0
                .shared
                .joined_at
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            batch
                .iter()
                .filter_map(|i| match i {
                    Incoming::From {
                        server,
                        at,
                        broadcast,
                    } => room.remote(server, broadcast).map(|mut f| {
                        // Stored before a member joined: older than the
                        // member, not for it.
                        f.to.retain(|a| stamps.get(a).is_none_or(|(last, _)| *at > *last));
                        f
                    }),
                    Incoming::Lost(n) => Some(room.lost_notice(*n)),
                })
                .collect()
        };
        for i in &batch {
            if let Incoming::Lost(n) = i {
                warn!("netkit chat: {n} broadcasts from the room's other servers were lost");
            }
        }
        self.0.send_fanouts(&fanouts);
    }

    fn known(&self, server: &str, name: &str) {
        self.0.room().remote_known(server, name);
    }

    fn gone(&self, server: &str) {
        let fanouts = self.0.room().remote_gone(server);
        if !fanouts.is_empty() && self.0.shared.verbose {
            info!(
                "netkit chat: server {server} stopped answering; its {} members left the room",
                fanouts.len()
            );
        }
        self.0.send_fanouts(&fanouts);
    }

    fn servers(&self) -> Vec<String> {
        self.0.room().remote_servers().into_iter().collect()
    }

    fn evict(&self, lower: &str) {
        let mut outcome = self.0.room().evict(lower);
        if self.0.shared.verbose {
            warn!(
                "netkit chat: '{lower}' was claimed on another server while Redis was away; the member here must join again"
            );
        }
        self.0.send_datagrams(&mut outcome.sends);
        self.0.log(&outcome.events);
    }

    fn names(&self) -> Vec<String> {
        self.0.room().names()
    }
}

/// Counts refusals per one-second window and says how many were not shown.
#[derive(Debug, Default)]
struct RefusalLog {
    /// Start of the current window.
    window: Option<Instant>,
    /// Refusals seen in the current window.
    shown: u32,
}

impl RefusalLog {
    /// Counts one refusal; at the start of a new window, returns a line about
    /// the refusals of the last one that were not shown.
    fn admit(&mut self, now: Instant) -> Option<String> {
        let mut note = None;
        match self.window {
            Some(start) if now.duration_since(start) < Duration::from_secs(1) => {}
            _ => {
                if self.shown > REFUSALS_PER_SECOND {
                    note = Some(format!(
                        "... and {} more refusals not shown",
                        self.shown - REFUSALS_PER_SECOND
                    ));
                }
                self.window = Some(now);
                self.shown = 0;
            }
        }
        self.shown = self.shown.saturating_add(1);
        note
    }
}

/// How `netkit chat serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to bind (IP or host name).
    pub bind: String,
    /// UDP port (0 picks a free one).
    pub port: u16,
    /// Model, workers and the other framework settings.
    pub config: Config,
    /// Room size, message size and idle limit.
    pub limits: Limits,
    /// Read operator lines from stdin and broadcast them.
    pub console: bool,
    /// The language of the room's notices (English, or the course's Chinese).
    pub lang: Lang,
    /// Share the room with other servers through Redis (`--redis`).
    pub relay: Option<RelayConfig>,
}

/// Runs the chat server until SIGINT/SIGTERM: binds, sizes the socket
/// buffers, prints one `listening on udp://ADDR:PORT` line on stderr, starts
/// the operator's console and serves with the configured model.
pub fn serve(opts: &ServeOptions) -> anyhow::Result<()> {
    let start = Startup::new(
        "netkit chat",
        opts.config.clone(),
        Serves::Datagrams { stateless: false },
    )?;
    let socket = start.listen_udp(&opts.bind, opts.port)?;
    let (rcv, snd) = size_buffers(&socket, SOCKET_BUFFER);
    if socket.local_addr().is_ok_and(|a| a.is_ipv4())
        && std::env::var_os("NETKIT_CHAT_FRAGMENTS").is_none()
    {
        // Datagrams of at most about 1 KiB: no fragments needed, and no IP
        // id to pick for each of them (see BENCHMARKS.md, Chat across
        // servers). NETKIT_CHAT_FRAGMENTS=1 keeps the kernel's default, for
        // measuring the difference.
        let _ = crate::sys::set_dont_fragment(socket.as_fd());
    }
    let service = ChatService::new(Room::new(opts.limits.clone()).speaking(opts.lang), true);
    let console = socket.try_clone().context("udp socket")?;
    let mut shared = String::new();
    let relay = match &opts.relay {
        Some(config) => {
            let relay = service.share(config, socket.try_clone().context("udp socket")?)?;
            shared = format!(
                ", room '{}' shared through {} as server {} (names and heartbeat expire after {})",
                relay.room(),
                config.url,
                relay.id(),
                human(relay.ttl())
            );
            Some(relay)
        }
        None => None,
    };
    if opts.console
        && let Ok(sock) = console.try_clone()
    {
        let svc = service.clone();
        let spawned = std::thread::Builder::new()
            .name("chat-console".into())
            .spawn(move || run_console(&svc, &sock, io::stdin().lock()));
        if let Err(e) = spawned {
            warn!("netkit chat: no operator console ({e})");
        }
    }
    let goodbye = service.clone();
    start
        .note(format!(
            "{}, socket buffers {} KiB in / {} KiB out{shared}",
            describe(&opts.limits),
            rcv / 1024,
            snd / 1024,
        ))
        .on_stop(move || {
            server::blocking::send_all(&console, &mut goodbye.closing());
            if let Some(relay) = relay {
                relay.stop();
            }
        })
        .serve_datagrams(socket, service)
}

/// The limits as the startup line states them: `up to 1000 members, 16 per
/// host, silent members dropped after 10m`.
pub fn describe(limits: &Limits) -> String {
    let mut s = format!("up to {} members", limits.max_members);
    if limits.max_per_host < limits.max_members {
        s.push_str(&format!(", {} per host", limits.max_per_host));
    }
    match limits.idle_timeout {
        Some(d) => s.push_str(&format!(", silent members dropped after {}", human(d))),
        None => s.push_str(", silent members never dropped"),
    }
    s
}

/// The operator's console: each line of `input` goes to every member as
/// `Admin: <line>`; `/who` lists the members on stderr instead. Returns at
/// end of input (or a read error), leaving the server running.
pub fn run_console(service: &ChatService, socket: &UdpSocket, mut input: impl BufRead) {
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match input.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&raw);
        let text = line.trim_end_matches(['\r', '\n']).trim();
        if text.is_empty() {
            continue;
        }
        if text == "/who" {
            let members = service.members();
            let remote = service.remote_members();
            if service.relay().is_some() {
                let servers: std::collections::BTreeSet<&str> =
                    remote.iter().map(|(_, s)| s.as_str()).collect();
                eprintln!(
                    "netkit chat: {} in the room ({} on this server, {} on {} other servers)",
                    members.len() + remote.len(),
                    members.len(),
                    remote.len(),
                    servers.len()
                );
            } else {
                eprintln!("netkit chat: {} in the room", members.len());
            }
            for (addr, name) in members {
                eprintln!("netkit chat:   {name} ({addr})");
            }
            for (name, server) in remote {
                eprintln!("netkit chat:   {name} (on server {server})");
            }
            continue;
        }
        match service.admin(text) {
            Ok(mut sends) => {
                eprintln!("netkit chat: Admin: {text} (to {} members)", sends.len());
                server::blocking::send_all(socket, &mut sends);
            }
            Err(why) => eprintln!("netkit chat: not sent: {why}"),
        }
    }
}

/// Makes sure the socket's buffers are at least `want` bytes each way: the
/// plain request is capped by `net.core.rmem_max`/`wmem_max`, so when that
/// left them smaller the server insists with SO_RCVBUFFORCE/SO_SNDBUFFORCE
/// (which works with CAP_NET_ADMIN, e.g. as root). Returns what the kernel
/// reports (it doubles the request for its bookkeeping).
pub fn size_buffers(socket: &UdpSocket, want: usize) -> (usize, usize) {
    let sock = socket2::SockRef::from(socket);
    if sock.recv_buffer_size().unwrap_or(0) < want {
        let _ = crate::sys::set_int_opt(socket.as_fd(), libc::SO_RCVBUFFORCE, want);
    }
    if sock.send_buffer_size().unwrap_or(0) < want {
        let _ = crate::sys::set_int_opt(socket.as_fd(), libc::SO_SNDBUFFORCE, want);
    }
    (
        sock.recv_buffer_size().unwrap_or(0),
        sock.send_buffer_size().unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_log_shows_ten_a_second_then_counts() {
        let mut log = RefusalLog::default();
        let t = Instant::now();
        for _ in 0..25 {
            assert_eq!(log.admit(t), None);
        }
        assert_eq!(log.shown, 25);
        let note = log.admit(t + Duration::from_millis(1500));
        assert_eq!(note.as_deref(), Some("... and 15 more refusals not shown"));
        assert_eq!(log.shown, 1);
    }

    #[test]
    fn buffers_are_forced_past_the_sysctl_cap() {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let cap: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(212_992);
        let want = cap * 2;
        let (rcv, snd) = size_buffers(&sock, want);
        assert!(snd > 0);
        if rcv < want {
            // Only allowed without CAP_NET_ADMIN.
            let e = crate::sys::set_int_opt(sock.as_fd(), libc::SO_RCVBUFFORCE, want).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        }
    }

    #[test]
    fn service_wraps_the_room() {
        let svc = ChatService::new(Room::new(Limits::default()), false);
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut out = Vec::new();
        svc.on_datagram(a, b"L alice", &mut out);
        assert_eq!(out, vec![(a, b"OK".to_vec())]);
        assert_eq!(svc.members(), vec![(a, "alice".to_string())]);
        assert!(!svc.stateless());
        // Silent members expire by default, so the sweep runs every second.
        assert_eq!(svc.tick_interval(), Some(Duration::from_secs(1)));
        let never = Limits {
            idle_timeout: None,
            ..Limits::default()
        };
        let svc = ChatService::new(Room::new(never), false);
        assert_eq!(svc.tick_interval(), None);
    }

    #[test]
    fn the_startup_line_states_the_limits() {
        assert_eq!(
            describe(&Limits::default()),
            "up to 1000 members, 16 per host, silent members dropped after 10m"
        );
        let open = Limits {
            max_members: 50,
            max_per_host: 50,
            idle_timeout: None,
            ..Limits::default()
        };
        assert_eq!(
            describe(&open),
            "up to 50 members, silent members never dropped"
        );
    }
}
