//! The room itself: who is in it and what each request does, as a pure state
//! machine.
//!
//! [`Room::handle`] takes `(from, datagram, now)` and returns the datagrams to
//! send, plus [`Event`]s for the operator's log. It never touches a socket or
//! a clock, so every rule is unit-tested with byte strings (see the tests at
//! the end of this file), and the same code runs under every server model.
//!
//! Replies to the sender always come *after* the notices to the other members
//! in [`Outcome::sends`]: a client that waits for `OK` before talking can then
//! never have its first message overtake its own "joined" notice.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::wording::Lang;

mod parse;
mod refusal;
mod shared;

pub use parse::host;
use parse::{Request, check_name, first_word, parse, quoted, same_name, strip_name};
pub use refusal::Refusal;
use shared::Roster;
pub use shared::{Broadcast, RemoteMember};

/// One datagram to send: destination and bytes.
pub type Datagram = (SocketAddr, Vec<u8>);

/// The most characters a name may have.
pub const MAX_NAME_CHARS: usize = 32;

/// Default limit on a message's text, in bytes of UTF-8. With a 32-character
/// name in front, a delivered line still fits the 1 KiB receive buffer that
/// the course's clients use.
pub const DEFAULT_MAX_TEXT: usize = 800;

/// Default room size.
pub const DEFAULT_MAX_MEMBERS: usize = 1000;

/// Default number of members that may join from one host (source IP): enough
/// for a lab machine running a few clients, few enough that throwaway sockets
/// from one machine cannot fill the room.
pub const DEFAULT_MAX_PER_HOST: usize = 16;

/// Default silence after which a member is dropped. A member that vanished
/// without `Q` (a killed client, a lost `Q`) would otherwise hold its place
/// and its address's identity for good. netkit's own client sends a
/// keep-alive (`K <name>`) well within this; course clients that only speak
/// `L`/`C`/`Q` stay as long as they talk, and are told when dropped.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// The longest reply the room sends to a request, in bytes (`OK`, `EXIT`
/// and every `ERR <reason>`, in either language): a reply never grows with
/// the request, because names it quotes are cut to [`MAX_NAME_CHARS`].
/// Only what members receive from each other is longer: `name: text` with
/// up to `max_text` bytes of text.
pub const MAX_REPLY: usize = 512;

/// The console's own names, refused to members (compared in lower case) so
/// nobody can pose as the operator. Names that merely contain them
/// (`badminton`) are ordinary names.
pub const RESERVED: [&str; 2] = ["admin", "管理员"];

/// The reply that accepts a join.
pub const OK: &str = "OK";

/// The reply that confirms a leave.
pub const EXIT: &str = "EXIT";

/// The keep-alive request's letter: `K <name>` refreshes the member at the
/// sender's address and is never answered or passed on. (Servers that predate
/// it answer `ERR unknown request`, which netkit's client then hides.)
pub const KEEP_ALIVE: &str = "K";

/// How big the room may get and how long members may stay silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most members at once; further joins get `ERR room is full`.
    pub max_members: usize,
    /// Most members joined from one host (source IP address) at once;
    /// further joins from it get `ERR too many members from <ip>`.
    pub max_per_host: usize,
    /// Longest message text in bytes; longer ones are refused, never cut.
    pub max_text: usize,
    /// Drop a member after this long without a datagram from its address
    /// (`None`: never).
    pub idle_timeout: Option<Duration>,
}

impl Default for Limits {
    /// 1,000 members, 16 per host, 800-byte texts, dropped after 10 minutes
    /// of silence.
    fn default() -> Self {
        Limits {
            max_members: DEFAULT_MAX_MEMBERS,
            max_per_host: DEFAULT_MAX_PER_HOST,
            max_text: DEFAULT_MAX_TEXT,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
        }
    }
}

/// The chat room: members bound to the addresses they joined from.
#[derive(Debug, Clone)]
pub struct Room {
    /// The limits the room enforces.
    limits: Limits,
    /// Members by the address that joined; that address alone speaks for them.
    members: HashMap<SocketAddr, Member>,
    /// Lower-case name to address, so names are unique case-insensitively.
    by_name: HashMap<String, SocketAddr>,
    /// Members per host ([`host`] of their addresses), for `max_per_host`.
    hosts: HashMap<IpAddr, usize>,
    /// The language of notices and refusal reasons.
    lang: Lang,
    /// Members on the room's other servers (a room shared through Redis);
    /// empty for a room on one server.
    remote: Roster,
    /// Lower-case names being claimed on the room's other servers right
    /// now: taken to every other join until the claim is decided.
    pending: std::collections::HashSet<String>,
}

/// What the room did in answer to a request or a tick.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Datagrams to send, notices to others first and the sender's reply last.
    pub sends: Vec<Datagram>,
    /// What the operator's log should say.
    pub events: Vec<Event>,
    /// What the room told its members that the members on its other
    /// servers must hear too (joins, messages, leaves, drops), in order.
    pub relay: Vec<Broadcast>,
}

/// Something worth a line in the server's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A member joined.
    Joined {
        /// The member's name.
        name: String,
        /// The address it is bound to.
        addr: SocketAddr,
        /// Members now in the room.
        members: usize,
    },
    /// A member left with `Q`.
    Left {
        /// The member's name.
        name: String,
        /// The address it was bound to.
        addr: SocketAddr,
        /// Members now in the room.
        members: usize,
    },
    /// A member was dropped for silence.
    Dropped {
        /// The member's name.
        name: String,
        /// The address it was bound to.
        addr: SocketAddr,
        /// Members now in the room.
        members: usize,
    },
    /// A request was refused; the sender got `ERR <reason>`.
    Refused {
        /// Who sent it.
        addr: SocketAddr,
        /// Why it was refused.
        refusal: Refusal,
    },
}

impl Room {
    /// An empty room.
    pub fn new(limits: Limits) -> Room {
        Room {
            limits,
            members: HashMap::new(),
            by_name: HashMap::new(),
            hosts: HashMap::new(),
            lang: Lang::default(),
            remote: Roster::default(),
            pending: Default::default(),
        }
    }

    /// The same room with its notices and refusals in `lang`.
    pub fn speaking(mut self, lang: Lang) -> Room {
        self.lang = lang;
        self
    }

    /// The limits the room enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How many members are in the room.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when nobody is in the room.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The name of the member at `addr`, if any.
    pub fn member(&self, addr: SocketAddr) -> Option<&str> {
        self.members.get(&addr).map(|m| m.name.as_str())
    }

    /// Every member as `(address, name)`, sorted by name.
    pub fn members(&self) -> Vec<(SocketAddr, String)> {
        let mut all: Vec<_> = self
            .members
            .iter()
            .map(|(a, m)| (*a, m.name.clone()))
            .collect();
        all.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        all
    }

    /// How many members joined from `addr`'s host.
    pub fn members_from(&self, addr: SocketAddr) -> usize {
        self.hosts.get(&host(addr)).copied().unwrap_or(0)
    }

    /// Handles one datagram from `from`, received at `now`.
    pub fn handle(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) -> Outcome {
        let mut out = Outcome::default();
        // Any datagram from a member's address is a sign of life, so course
        // clients that only speak L/C/Q stay for as long as they talk.
        if let Some(m) = self.members.get_mut(&from) {
            m.last_heard = now;
        }
        let result = match parse(datagram) {
            Ok(Request::Join(name)) => self.join(from, name, now, &mut out),
            Ok(Request::Say(rest)) => self.say(from, rest, &mut out),
            Ok(Request::Quit(name)) => self.quit(from, name, &mut out),
            // Refreshed above if it is a member; never answered, so it
            // cannot be used to reflect anything.
            Ok(Request::KeepAlive) => Ok(()),
            Err(refusal) => Err(refusal),
        };
        if let Err(refusal) = result {
            self.refuse(from, refusal, &mut out);
        }
        out
    }

    fn refuse(&self, from: SocketAddr, refusal: Refusal, out: &mut Outcome) {
        let reason = self.lang.refusal(&refusal);
        out.sends.push((from, format!("ERR {reason}").into_bytes()));
        out.events.push(Event::Refused {
            addr: from,
            refusal,
        });
    }

    /// The operator's broadcast: `Admin: <text>` (`管理员 说：<text>` in
    /// Chinese) to every member. Refused if
    /// the text breaks the message rules (too long, control characters, empty).
    pub fn admin(&self, text: &str) -> Result<Vec<Datagram>, Refusal> {
        self.check_text(text)?;
        Ok(self.broadcast(None, &self.lang.admin(text)))
    }

    /// The closing notice, to every member.
    pub fn closing(&self) -> Vec<Datagram> {
        self.broadcast(None, self.lang.closing())
    }

    /// Drops members silent for longer than the idle limit, telling them and
    /// the others. Does nothing without an idle limit.
    pub fn expire(&mut self, now: Instant) -> Outcome {
        let mut out = Outcome::default();
        let Some(limit) = self.limits.idle_timeout else {
            return out;
        };
        let mut gone: Vec<SocketAddr> = self
            .members
            .iter()
            .filter(|(_, m)| now.saturating_duration_since(m.last_heard) >= limit)
            .map(|(a, _)| *a)
            .collect();
        gone.sort();
        for addr in gone {
            let Some(member) = self.remove(addr) else {
                continue;
            };
            let silence = human(limit);
            out.sends
                .extend(self.broadcast(None, &self.lang.dropped(&member.name, &silence)));
            out.relay.push(Broadcast::Dropped {
                name: member.name.clone(),
                silence: silence.clone(),
            });
            out.sends
                .push((addr, self.lang.dropped_you(&silence).into_bytes()));
            out.events.push(Event::Dropped {
                name: member.name,
                addr,
                members: self.members.len(),
            });
        }
        out
    }

    // --- a room shared with other servers ---------------------------------

    /// If `datagram` from `from` is a join that this server would accept,
    /// the (trimmed) name to claim across the room before [`Room::handle`]
    /// admits it; `None` for everything else, which `handle` answers alone
    /// (repeated joins, invalid or locally taken names, a full room).
    pub fn join_to_claim(&self, from: SocketAddr, datagram: &[u8]) -> Option<String> {
        let Ok(Request::Join(name)) = parse(datagram) else {
            return None;
        };
        let name = name.trim();
        let replaces = match self.members.get(&from) {
            Some(m) if same_name(&m.name, name) => return None,
            Some(_) => true,
            None => false,
        };
        check_name(name).ok()?;
        let key = name.to_lowercase();
        if self.by_name.contains_key(&key)
            || self.remote.contains(&key)
            || self.pending.contains(&key)
        {
            return None;
        }
        if !replaces
            && (self.members.len() >= self.limits.max_members
                || self.members_from(from) >= self.limits.max_per_host)
        {
            return None;
        }
        Some(name.to_string())
    }

    /// Holds `name` while its claim across the room is out: other joins of
    /// it are refused as taken until [`Room::release_hold`].
    pub fn hold(&mut self, name: &str) {
        self.pending.insert(name.to_lowercase());
    }

    /// Ends the hold of [`Room::hold`].
    pub fn release_hold(&mut self, name: &str) {
        self.pending.remove(&name.to_lowercase());
    }

    /// The answer to a join whose name a member on another server holds.
    pub fn taken_elsewhere(&self, from: SocketAddr, name: &str) -> Outcome {
        let mut out = Outcome::default();
        self.refuse(from, Refusal::NameTaken(name.to_string()), &mut out);
        out
    }

    /// A broadcast from another server of the room (`server`, its id):
    /// what every member here is sent, if anything (a repeated presence is
    /// news to nobody; so is a leave of a member this room did not know).
    pub fn remote(&mut self, server: &str, b: &Broadcast) -> Option<Fanout> {
        let line = match b {
            Broadcast::Joined(name) | Broadcast::Present(name) => {
                if !self.remote.add(server, name) {
                    return None;
                }
                self.lang.joined(name)
            }
            Broadcast::Said { name, text } => self.lang.said(name, text),
            Broadcast::Left(name) => {
                if !self.remote.remove(server, name) {
                    return None;
                }
                self.lang.left(name)
            }
            Broadcast::Dropped { name, silence } => {
                if !self.remote.remove(server, name) {
                    return None;
                }
                self.lang.dropped(name, silence)
            }
            Broadcast::Admin(text) => self.lang.admin(text),
            Broadcast::Sync => return None,
        };
        Some(self.fanout(line.into_bytes()))
    }

    /// Records `name` as a member on `server` without telling anyone (what a
    /// server learns of the room when it starts, or gets Redis back).
    pub fn remote_known(&mut self, server: &str, name: &str) {
        self.remote.add(server, name);
    }

    /// `server` stopped (its heartbeat expired): its members left the room,
    /// and every member here is told, one line each.
    pub fn remote_gone(&mut self, server: &str) -> Vec<Fanout> {
        let gone = self.remote.remove_server(server);
        gone.iter()
            .map(|name| self.fanout(self.lang.left(name).into_bytes()))
            .collect()
    }

    /// The servers that have members in the room, besides this one.
    pub fn remote_servers(&self) -> std::collections::BTreeSet<String> {
        self.remote.servers()
    }

    /// The members on the room's other servers, sorted by name.
    pub fn remote_members(&self) -> Vec<RemoteMember> {
        self.remote.list()
    }

    /// Members in the whole room: here and on the other servers.
    pub fn room_size(&self) -> usize {
        self.members.len() + self.remote.len()
    }

    /// Removes the member named `name` here because a member on another
    /// server holds its name (claimed there while this server could not
    /// reach the others): it is told to join again, the others here that it
    /// left.
    pub fn evict(&mut self, name: &str) -> Outcome {
        let mut out = Outcome::default();
        let Some(&addr) = self.by_name.get(&name.to_lowercase()) else {
            return out;
        };
        let Some(member) = self.remove(addr) else {
            return out;
        };
        out.sends
            .extend(self.broadcast(None, &self.lang.left(&member.name)));
        out.sends
            .push((addr, self.lang.name_lost_you(&member.name).into_bytes()));
        out.events.push(Event::Left {
            name: member.name,
            addr,
            members: self.members.len(),
        });
        out
    }

    /// Told to every member here when `n` broadcasts from the room's other
    /// servers were lost on the way.
    pub fn lost_notice(&self, n: u64) -> Fanout {
        self.fanout(self.lang.lost(n).into_bytes())
    }

    /// `line` to every member here.
    pub fn fanout(&self, line: Vec<u8>) -> Fanout {
        Fanout {
            line,
            to: self.members.keys().copied().collect(),
        }
    }

    /// The names of the members here, as given.
    pub fn names(&self) -> Vec<String> {
        self.members.values().map(|m| m.name.clone()).collect()
    }

    // --- requests ---------------------------------------------------------

    fn join(
        &mut self,
        from: SocketAddr,
        name: &str,
        now: Instant,
        out: &mut Outcome,
    ) -> Result<(), Refusal> {
        let name = name.trim();
        if let Some(m) = self.members.get(&from)
            && same_name(&m.name, name)
        {
            // A repeated join (the first OK was lost, say) is answered again
            // and nobody is told twice.
            out.sends.push((from, OK.into()));
            return Ok(());
        }
        check_name(name)?;
        let key = name.to_lowercase();
        if self.by_name.contains_key(&key)
            || self.remote.contains(&key)
            || self.pending.contains(&key)
        {
            return Err(Refusal::NameTaken(name.to_string()));
        }
        // A join with another name from an address that is in the room: the
        // socket that joined is gone without a Q (killed, or its Q was lost)
        // and the kernel gave its port to another one; or a client takes a
        // new name. Either way this is a fresh member, not the old one: the
        // old one leaves first, and the others are told.
        if let Some(old) = self.remove(from) {
            out.sends
                .extend(self.broadcast(None, &self.lang.left(&old.name)));
            out.relay.push(Broadcast::Left(old.name.clone()));
            out.events.push(Event::Left {
                name: old.name,
                addr: from,
                members: self.members.len(),
            });
        }
        if self.members.len() >= self.limits.max_members {
            return Err(Refusal::RoomFull(self.limits.max_members));
        }
        if self.members_from(from) >= self.limits.max_per_host {
            return Err(Refusal::HostFull {
                host: host(from),
                max: self.limits.max_per_host,
            });
        }
        out.sends
            .extend(self.broadcast(None, &self.lang.joined(name)));
        out.relay.push(Broadcast::Joined(name.to_string()));
        out.sends.push((from, OK.into()));
        self.insert(
            from,
            Member {
                name: name.to_string(),
                last_heard: now,
            },
        );
        out.events.push(Event::Joined {
            name: name.to_string(),
            addr: from,
            members: self.members.len(),
        });
        Ok(())
    }

    fn say(&mut self, from: SocketAddr, rest: &str, out: &mut Outcome) -> Result<(), Refusal> {
        let rest = rest.trim_start();
        if rest.is_empty() {
            return Err(Refusal::Usage("C <name> <text>"));
        }
        let Some(member) = self.members.get(&from) else {
            return Err(self.stranger(rest));
        };
        // Names may contain spaces, so the sender's own name is matched as a
        // prefix rather than cut at the first space.
        let Some(text) = strip_name(rest, &member.name) else {
            return Err(Refusal::WrongName {
                joined_as: member.name.clone(),
                claimed: quoted(first_word(rest)),
            });
        };
        let text = text.trim_start();
        self.check_text(text)?;
        let line = self.lang.said(&member.name, text);
        out.sends.extend(self.broadcast(Some(from), &line));
        out.relay.push(Broadcast::Said {
            name: member.name.clone(),
            text: text.to_string(),
        });
        Ok(())
    }

    fn quit(&mut self, from: SocketAddr, name: &str, out: &mut Outcome) -> Result<(), Refusal> {
        let name = name.trim();
        let Some(member) = self.members.get(&from) else {
            // Nothing to leave. Unless the name is someone else's, say EXIT so
            // a client that was dropped (or never got in) can still exit cleanly.
            if !name.is_empty() && self.by_name.contains_key(&name.to_lowercase()) {
                return Err(Refusal::Impersonation(quoted(name)));
            }
            out.sends.push((from, EXIT.into()));
            return Ok(());
        };
        if !name.is_empty() && !same_name(&member.name, name) {
            return Err(Refusal::WrongName {
                joined_as: member.name.clone(),
                claimed: quoted(name),
            });
        }
        let Some(member) = self.remove(from) else {
            return Ok(());
        };
        out.sends
            .extend(self.broadcast(None, &self.lang.left(&member.name)));
        out.relay.push(Broadcast::Left(member.name.clone()));
        out.sends.push((from, EXIT.into()));
        out.events.push(Event::Left {
            name: member.name,
            addr: from,
            members: self.members.len(),
        });
        Ok(())
    }

    // --- machinery --------------------------------------------------------

    /// The refusal for a `C` from an address that is not in the room.
    fn stranger(&self, rest: &str) -> Refusal {
        let claimed = first_word(rest);
        if self.by_name.contains_key(&claimed.to_lowercase()) {
            Refusal::Impersonation(quoted(claimed))
        } else {
            Refusal::NotMember
        }
    }

    fn check_text(&self, text: &str) -> Result<(), Refusal> {
        if text.is_empty() {
            return Err(Refusal::TextEmpty);
        }
        if text.len() > self.limits.max_text {
            return Err(Refusal::TextTooLong {
                len: text.len(),
                max: self.limits.max_text,
            });
        }
        // A newline or an escape sequence would let one member forge lines
        // ("Admin: ...") or redraw the others' terminals.
        if text.chars().any(|c| c.is_control() && c != '\t') {
            return Err(Refusal::TextControl);
        }
        Ok(())
    }

    /// `line` to every member except `except`.
    fn broadcast(&self, except: Option<SocketAddr>, line: &str) -> Vec<Datagram> {
        let bytes = line.as_bytes();
        self.members
            .keys()
            .filter(|a| Some(**a) != except)
            .map(|a| (*a, bytes.to_vec()))
            .collect()
    }

    /// Adds `member` at `addr`; the only way in, so the name and host
    /// tables always agree with `members`.
    fn insert(&mut self, addr: SocketAddr, member: Member) {
        self.by_name.insert(member.name.to_lowercase(), addr);
        *self.hosts.entry(host(addr)).or_insert(0) += 1;
        self.members.insert(addr, member);
    }

    /// Forgets the member at `addr` (leave, expiry, a fresh join from its
    /// address): nothing of it stays behind for the next socket with that
    /// address.
    fn remove(&mut self, addr: SocketAddr) -> Option<Member> {
        let member = self.members.remove(&addr)?;
        self.by_name.remove(&member.name.to_lowercase());
        let h = host(addr);
        if let Some(n) = self.hosts.get_mut(&h) {
            *n -= 1;
            if *n == 0 {
                self.hosts.remove(&h);
            }
        }
        Some(member)
    }
}

/// One line to many members: formatted once, sent to each address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fanout {
    /// The datagram.
    pub line: Vec<u8>,
    /// Who gets it.
    pub to: Vec<SocketAddr>,
}

/// One member of the room.
#[derive(Debug, Clone)]
struct Member {
    /// The name as it was given (trimmed); shown in front of every message.
    name: String,
    /// When a datagram last came from the member's address (idle limit).
    last_heard: Instant,
}

/// A duration as people say it: `300ms`, `45s`, `5m`, `2h`.
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 3_600_000 == 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The datagrams of an outcome as `(port, text)`, sorted by port.
    fn sent(out: &Outcome) -> Vec<(u16, String)> {
        let mut v: Vec<_> = out
            .sends
            .iter()
            .map(|(a, b)| (a.port(), String::from_utf8_lossy(b).into_owned()))
            .collect();
        v.sort();
        v
    }

    fn room() -> (Room, Instant) {
        (Room::new(Limits::default()), Instant::now())
    }

    /// A room with alice (port 1), bob (2) and carol (3).
    fn abc() -> (Room, Instant) {
        let (mut r, t) = room();
        for (p, n) in [(1, "alice"), (2, "bob"), (3, "carol")] {
            let out = r.handle(addr(p), format!("L {n}").as_bytes(), t);
            assert_eq!(out.sends.last(), Some(&(addr(p), b"OK".to_vec())));
        }
        (r, t)
    }

    fn err(out: &Outcome, port: u16) -> String {
        let s = sent(out);
        assert_eq!(s.len(), 1, "exactly one reply: {s:?}");
        assert_eq!(s[0].0, port);
        assert!(s[0].1.starts_with("ERR "), "{s:?}");
        s[0].1.clone()
    }

    #[test]
    fn join_tells_the_others_then_replies_ok() {
        let (mut r, t) = room();
        let out = r.handle(addr(1), b"L alice", t);
        assert_eq!(out.sends, vec![(addr(1), b"OK".to_vec())]);
        let out = r.handle(addr(2), b"L bob", t);
        // The notice goes out before the OK.
        assert_eq!(
            out.sends,
            vec![
                (addr(1), b"bob joined the room".to_vec()),
                (addr(2), b"OK".to_vec())
            ]
        );
        assert_eq!(
            out.events,
            vec![Event::Joined {
                name: "bob".into(),
                addr: addr(2),
                members: 2
            }]
        );
    }

    #[test]
    fn messages_reach_everyone_but_the_sender() {
        let (mut r, t) = abc();
        let out = r.handle(addr(1), b"C alice hello there", t);
        assert_eq!(
            sent(&out),
            vec![
                (2, "alice: hello there".into()),
                (3, "alice: hello there".into())
            ]
        );
        assert!(out.events.is_empty());
    }

    #[test]
    fn quit_tells_the_others_then_replies_exit() {
        let (mut r, t) = abc();
        let out = r.handle(addr(2), b"Q bob", t);
        assert_eq!(out.sends.last(), Some(&(addr(2), b"EXIT".to_vec())));
        assert_eq!(
            sent(&out),
            vec![
                (1, "bob left the room".into()),
                (2, "EXIT".into()),
                (3, "bob left the room".into())
            ]
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r.member(addr(2)), None);
        // The name is free again.
        let out = r.handle(addr(9), b"L Bob", t);
        assert_eq!(out.sends.last(), Some(&(addr(9), b"OK".to_vec())));
    }

    #[test]
    fn trailing_newlines_and_extra_spaces_are_tolerated() {
        let (mut r, t) = room();
        let out = r.handle(addr(1), b"L  alice \r\n", t);
        assert_eq!(sent(&out), vec![(1, "OK".into())]);
        assert_eq!(r.member(addr(1)), Some("alice"));
        r.handle(addr(2), b"L bob\n", t);
        let out = r.handle(addr(1), b"C  alice  hi\n", t);
        assert_eq!(sent(&out), vec![(2, "alice: hi".into())]);
    }

    #[test]
    fn names_with_spaces_work() {
        let (mut r, t) = room();
        r.handle(addr(1), b"L Mary Ann", t);
        r.handle(addr(2), b"L bob", t);
        let out = r.handle(addr(1), b"C Mary Ann good morning", t);
        assert_eq!(sent(&out), vec![(2, "Mary Ann: good morning".into())]);
        let out = r.handle(addr(1), b"C Mary Annie hi", t);
        assert!(err(&out, 1).contains("joined as 'Mary Ann'"));
        let out = r.handle(addr(1), b"Q Mary Ann", t);
        assert_eq!(out.sends.last(), Some(&(addr(1), b"EXIT".to_vec())));
    }

    #[test]
    fn nobody_speaks_or_quits_as_someone_else() {
        let (mut r, t) = abc();
        let before = r.members();
        // A stranger using a member's name.
        let out = r.handle(addr(66), b"C alice I am alice", t);
        assert!(err(&out, 66).contains("'alice' joined from another address"));
        let out = r.handle(addr(66), b"Q alice", t);
        assert!(err(&out, 66).contains("another address"));
        // A member using another member's name.
        let out = r.handle(addr(2), b"C alice bob pretending", t);
        assert!(err(&out, 2).contains("joined as 'bob'; it cannot speak or leave as 'alice'"));
        let out = r.handle(addr(2), b"Q alice", t);
        assert!(err(&out, 2).contains("joined as 'bob'"));
        // A stranger with an unknown name.
        let out = r.handle(addr(66), b"C nobody hi", t);
        assert!(err(&out, 66).contains("not in the room"));
        assert_eq!(r.members(), before);
    }

    #[test]
    fn quit_from_a_stranger_with_a_free_name_gets_exit() {
        let (mut r, t) = abc();
        let out = r.handle(addr(70), b"Q ghost", t);
        assert_eq!(sent(&out), vec![(70, "EXIT".into())]);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn name_rules() {
        let (mut r, t) = abc();
        let cases: [(&[u8], &str); 10] = [
            (b"L ALICE", "name 'ALICE' is taken"),
            (b"L Admin", "name 'Admin' is reserved"),
            (b"L ADMIN", "is reserved"),
            ("L 管理员".as_bytes(), "is reserved"),
            (b"L ", "invalid name: empty"),
            (b"L", "invalid name: empty"),
            (b"L    ", "invalid name: empty"),
            (b"L a\x1b[2Jb", "control characters"),
            (b"L bob: hi", "contains ':'"),
            (
                b"L 123456789012345678901234567890123",
                "longer than 32 characters",
            ),
        ];
        for (p, (req, want)) in cases.into_iter().enumerate() {
            let port = 100 + p as u16;
            let out = r.handle(addr(port), req, t);
            let reply = err(&out, port);
            assert!(
                reply.contains(want),
                "{:?}: {reply}",
                String::from_utf8_lossy(req)
            );
        }
        assert_eq!(r.len(), 3);
        // 32 characters (multi-byte ones count once) are fine.
        let out = r.handle(
            addr(200),
            "L 名字名字名字名字名字名字名字名字名字名字名字名字名字名字名字名字".as_bytes(),
            t,
        );
        assert_eq!(sent(&out).last().map(|s| s.1.as_str()), Some("OK"));
    }

    #[test]
    fn names_that_merely_contain_a_reserved_one_are_fine() {
        let (mut r, t) = room();
        for (port, name) in [
            (1, "badminton"),
            (2, "superADMINistrator"),
            (3, "管理员小王"),
        ] {
            let out = r.handle(addr(port), format!("L {name}").as_bytes(), t);
            assert_eq!(sent(&out).last(), Some(&(port, "OK".to_string())), "{name}");
        }
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn the_course_wording_in_chinese() {
        let t = Instant::now();
        let mut r = Room::new(Limits::default()).speaking(Lang::Zh);
        r.handle(addr(1), "L 小明".as_bytes(), t);
        let out = r.handle(addr(2), "L 小红".as_bytes(), t);
        assert_eq!(
            sent(&out),
            vec![(1, "小红 进入聊天室".into()), (2, "OK".into())]
        );
        let out = r.handle(addr(2), "C 小红 大家好".as_bytes(), t);
        assert_eq!(sent(&out), vec![(1, "小红 说：大家好".into())]);
        let out = r.handle(addr(3), "L 小明".as_bytes(), t);
        assert_eq!(sent(&out), vec![(3, "ERR 该用户已存在：'小明'".into())]);
        let admin = r.admin("通知").expect("valid text");
        assert_eq!(admin.len(), 2);
        assert!(admin.iter().all(|(_, b)| b == "管理员 说：通知".as_bytes()));
        let out = r.handle(addr(2), "Q 小红".as_bytes(), t);
        assert_eq!(
            sent(&out),
            vec![(1, "小红 退出了聊天室".into()), (2, "EXIT".into())]
        );
    }

    #[test]
    fn repeated_join_from_a_member() {
        let (mut r, t) = abc();
        // Same name (any case): OK again, nobody is told twice.
        let out = r.handle(addr(1), b"L Alice", t);
        assert_eq!(sent(&out), vec![(1, "OK".into())]);
        assert!(out.events.is_empty());
        assert_eq!(r.member(addr(1)), Some("alice"));
    }

    /// The address of a member that vanished without `Q` is handed to a new
    /// socket (a reused ephemeral port). Its join with its own name is a
    /// fresh member: the old one leaves, the others are told, and the new
    /// one is not the old one.
    #[test]
    fn a_join_with_another_name_from_a_members_address_is_a_fresh_member() {
        let (mut r, t) = abc();
        let out = r.handle(addr(1), b"L dave", t);
        assert_eq!(
            sent(&out),
            vec![
                (1, "OK".into()),
                (2, "alice left the room".into()),
                (2, "dave joined the room".into()),
                (3, "alice left the room".into()),
                (3, "dave joined the room".into()),
            ]
        );
        // Left, then joined, then the OK.
        assert_eq!(out.sends.last(), Some(&(addr(1), b"OK".to_vec())));
        let left = out
            .sends
            .iter()
            .position(|(_, b)| b == b"alice left the room");
        let joined = out
            .sends
            .iter()
            .position(|(_, b)| b == b"dave joined the room");
        assert!(left < joined, "{:?}", sent(&out));
        assert!(matches!(
            &out.events[..],
            [Event::Left { name: a, .. }, Event::Joined { name: d, .. }] if a == "alice" && d == "dave"
        ));
        assert_eq!(r.member(addr(1)), Some("dave"));
        assert_eq!(r.len(), 3);
        // The new member is not alice, and alice's name is free.
        let out = r.handle(addr(1), b"C alice it is me", t);
        assert!(err(&out, 1).contains("joined as 'dave'"));
        let out = r.handle(addr(9), b"L alice", t);
        assert_eq!(out.sends.last(), Some(&(addr(9), b"OK".to_vec())));
        // A refused name changes nothing: dave stays dave.
        let out = r.handle(addr(1), b"L bob", t);
        assert!(err(&out, 1).contains("name 'bob' is taken"));
        let out = r.handle(addr(1), b"L Admin", t);
        assert!(err(&out, 1).contains("reserved"));
        assert_eq!(r.member(addr(1)), Some("dave"));
        assert_eq!(r.len(), 4);
    }

    /// After a leave or an expiry, nothing of the member is left at its
    /// address: the next datagram from it is a stranger's.
    #[test]
    fn a_departed_members_address_speaks_for_nobody() {
        let mut r = Room::new(Limits {
            idle_timeout: Some(Duration::from_secs(60)),
            ..Limits::default()
        });
        let t = Instant::now();
        r.handle(addr(1), b"L alice", t);
        r.handle(addr(2), b"L bob", t);
        r.handle(addr(1), b"Q alice", t);
        r.handle(addr(3), b"L carol", t + Duration::from_secs(50));
        // bob goes silent and is dropped at 61 s; carol stays.
        r.handle(addr(3), b"K carol", t + Duration::from_secs(55));
        let out = r.expire(t + Duration::from_secs(61));
        assert!(matches!(&out.events[..], [Event::Dropped { name, .. }] if name == "bob"));
        let later = t + Duration::from_secs(62);
        for (port, name) in [(1, "alice"), (2, "bob")] {
            let out = r.handle(addr(port), format!("C {name} still me").as_bytes(), later);
            assert_eq!(
                err(&out, port),
                "ERR not in the room; join with L <name> first"
            );
            assert!(
                r.handle(addr(port), format!("K {name}").as_bytes(), later)
                    .sends
                    .is_empty()
            );
            let out = r.handle(addr(port), format!("Q {name}").as_bytes(), later);
            assert_eq!(sent(&out), vec![(port, "EXIT".into())]);
            assert_eq!(
                r.members_from(addr(port)),
                usize::from(port),
                "nothing left of {name}"
            );
            // A join with the same name is a new join: carol is told.
            let out = r.handle(addr(port), format!("L {name}").as_bytes(), later);
            assert_eq!(out.sends.last(), Some(&(addr(port), b"OK".to_vec())));
            let told = (addr(3), format!("{name} joined the room").into_bytes());
            assert!(out.sends.contains(&told), "{:?}", sent(&out));
        }
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn keep_alive_refreshes_and_is_never_answered() {
        let mut r = Room::new(Limits {
            idle_timeout: Some(Duration::from_secs(60)),
            ..Limits::default()
        });
        let t0 = Instant::now();
        r.handle(addr(1), b"L alice", t0);
        r.handle(addr(2), b"L bob", t0);
        for req in [
            &b"K alice"[..],
            b"K",
            b"K\n",
            b"K bob",
            b"K anything at all",
        ] {
            let out = r.handle(addr(1), req, t0 + Duration::from_secs(50));
            assert_eq!(
                out,
                Outcome::default(),
                "{:?}",
                String::from_utf8_lossy(req)
            );
        }
        // From strangers too: nothing, and nothing changes.
        let out = r.handle(addr(7), b"K alice", t0);
        assert_eq!(out, Outcome::default());
        let out = r.expire(t0 + Duration::from_secs(70));
        assert!(matches!(&out.events[..], [Event::Dropped { name, .. }] if name == "bob"));
        assert_eq!(r.members(), vec![(addr(1), "alice".to_string())]);
    }

    fn ip(s: &str, port: u16) -> SocketAddr {
        SocketAddr::new(s.parse().unwrap(), port)
    }

    #[test]
    fn one_host_holds_at_most_max_per_host() {
        let mut r = Room::new(Limits {
            max_members: 10,
            max_per_host: 3,
            ..Limits::default()
        });
        let t = Instant::now();
        for p in 1..=3 {
            let out = r.handle(ip("10.0.0.1", p), format!("L a{p}").as_bytes(), t);
            assert_eq!(out.sends.last().map(|d| &d.1[..]), Some(&b"OK"[..]));
        }
        let out = r.handle(ip("10.0.0.1", 4), b"L a4", t);
        assert_eq!(
            out.sends,
            vec![(
                ip("10.0.0.1", 4),
                b"ERR too many members from 10.0.0.1 (limit 3 per host)".to_vec()
            )]
        );
        // The same host seen through a dual-stack socket is the same host.
        let out = r.handle(ip("::ffff:10.0.0.1", 5), b"L a5", t);
        assert!(
            String::from_utf8_lossy(&out.sends[0].1).contains("from 10.0.0.1 (limit 3"),
            "{:?}",
            sent(&out)
        );
        // Another host is not affected; a leave frees a place; a fresh join
        // from a member's address takes over its place instead of a new one.
        let out = r.handle(ip("10.0.0.2", 1), b"L b1", t);
        assert_eq!(out.sends.last().map(|d| &d.1[..]), Some(&b"OK"[..]));
        r.handle(ip("10.0.0.1", 1), b"Q a1", t);
        assert_eq!(r.members_from(ip("10.0.0.1", 9)), 2);
        let out = r.handle(ip("10.0.0.1", 4), b"L a4", t);
        assert_eq!(out.sends.last().map(|d| &d.1[..]), Some(&b"OK"[..]));
        let out = r.handle(ip("10.0.0.1", 4), b"L a4-renamed", t);
        assert_eq!(out.sends.last().map(|d| &d.1[..]), Some(&b"OK"[..]));
        assert_eq!(r.members_from(ip("10.0.0.1", 9)), 3);
        assert_eq!(r.members_from(ip("10.0.0.2", 9)), 1);
        assert_eq!(r.len(), 4);
        // The whole room full says so first.
        let mut small = Room::new(Limits {
            max_members: 2,
            max_per_host: 2,
            ..Limits::default()
        });
        small.handle(addr(1), b"L a", t);
        small.handle(addr(2), b"L b", t);
        let out = small.handle(ip("10.9.9.9", 3), b"L c", t);
        assert!(err(&out, 3).contains("room is full (2 members)"));
    }

    /// Throwaway sockets from one host (1,100 of them) leave the room open
    /// to everyone else.
    #[test]
    fn throwaway_sockets_from_one_host_do_not_fill_the_room() {
        let mut r = Room::new(Limits::default());
        let t = Instant::now();
        let mut refused = 0;
        for p in 0..1100u16 {
            let out = r.handle(ip("192.0.2.7", 10_000 + p), format!("L x{p}").as_bytes(), t);
            if out
                .sends
                .last()
                .is_some_and(|d| d.1.starts_with(b"ERR too many members"))
            {
                refused += 1;
            }
        }
        assert_eq!(
            (r.len(), refused),
            (DEFAULT_MAX_PER_HOST, 1100 - DEFAULT_MAX_PER_HOST)
        );
        let out = r.handle(ip("198.51.100.1", 5000), b"L alice", t);
        assert_eq!(out.sends.last().map(|d| &d.1[..]), Some(&b"OK"[..]));
    }

    #[test]
    fn silent_members_expire_by_default() {
        let (mut r, t) = abc();
        assert_eq!(r.limits().idle_timeout, Some(DEFAULT_IDLE_TIMEOUT));
        assert!(r.expire(t + Duration::from_secs(599)).sends.is_empty());
        let out = r.expire(t + Duration::from_secs(600));
        assert_eq!(out.events.len(), 3);
        assert!(r.is_empty());
        assert_eq!(r.members_from(addr(1)), 0);
    }

    /// No reply grows with the request: the worst cases, in both languages,
    /// fit [`MAX_REPLY`].
    #[test]
    fn replies_are_bounded() {
        let widest = "𝄞".repeat(MAX_NAME_CHARS); // 4 bytes a character
        let huge = "𝄞".repeat(20_000);
        for lang in [Lang::En, Lang::Zh] {
            let mut r = Room::new(Limits::default()).speaking(lang);
            let t = Instant::now();
            r.handle(addr(1), format!("L {widest}").as_bytes(), t);
            let other = format!("{}x", &widest[..widest.len() - 4]);
            r.handle(addr(2), format!("L {other}").as_bytes(), t);
            let mut longest = 0;
            for (port, req) in [
                (1, format!("C {huge} hi")),
                (1, format!("Q {huge}")),
                (1, format!("C {other} hi")),
                (1, format!("C {widest} {}", "y".repeat(100_000))),
                (1, format!("C {widest} \u{1b}[2J")),
                (3, format!("C {widest} hi")),
                (3, format!("Q {widest}")),
                (3, format!("C {huge} hi")),
                (3, format!("L {widest}")),
                (3, format!("L {huge}")),
                (3, "L 管理员".to_string()),
                (3, huge.clone()),
                (3, String::new()),
            ] {
                for (to, bytes) in r.handle(addr(port), req.as_bytes(), t).sends {
                    assert_eq!(to, addr(port), "only replies here");
                    longest = longest.max(bytes.len());
                }
            }
            let full = Refusal::HostFull {
                host: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
                max: usize::MAX,
            };
            longest = longest.max(4 + lang.refusal(&full).len());
            assert!(longest <= MAX_REPLY, "{lang:?}: {longest}");
            assert!(
                longest > 200,
                "{lang:?}: the worst cases were reached ({longest})"
            );
        }
    }

    #[test]
    fn room_full() {
        let mut r = Room::new(Limits {
            max_members: 2,
            ..Limits::default()
        });
        let t = Instant::now();
        r.handle(addr(1), b"L a", t);
        r.handle(addr(2), b"L b", t);
        let out = r.handle(addr(3), b"L c", t);
        assert!(err(&out, 3).contains("room is full (2 members)"));
    }

    #[test]
    fn message_rules() {
        let (mut r, t) = abc();
        let long = format!("C alice {}", "x".repeat(DEFAULT_MAX_TEXT + 1));
        let out = r.handle(addr(1), long.as_bytes(), t);
        assert!(err(&out, 1).contains("message too long: 801 bytes (limit 800)"));
        let exact = format!("C alice {}", "x".repeat(DEFAULT_MAX_TEXT));
        assert_eq!(r.handle(addr(1), exact.as_bytes(), t).sends.len(), 2);
        let out = r.handle(addr(1), b"C alice hi\nAdmin: fake", t);
        assert!(err(&out, 1).contains("control characters"));
        let out = r.handle(addr(1), b"C alice", t);
        assert!(err(&out, 1).contains("empty message"));
        let out = r.handle(addr(1), b"C alice    ", t);
        assert!(err(&out, 1).contains("empty message"));
        let out = r.handle(addr(1), b"C", t);
        assert!(err(&out, 1).contains("usage: C <name> <text>"));
        let out = r.handle(addr(1), b"C alice\ttab\tok", t);
        assert_eq!(out.sends.len(), 2);
    }

    #[test]
    fn garbage_changes_nothing() {
        let (mut r, t) = abc();
        let before = r.members();
        for (i, junk) in [
            &b""[..],
            b"\xff\xfe\x00",
            b"HELLO",
            b"l alice",
            b"LX bob",
            b"X",
            b" ",
            b"\0\0\0\0",
            b"C\xffalice hi",
        ]
        .iter()
        .enumerate()
        {
            let port = 500 + i as u16;
            let out = r.handle(addr(port), junk, t);
            err(&out, port);
            assert!(matches!(out.events[..], [Event::Refused { .. }]));
        }
        assert_eq!(r.members(), before);
    }

    #[test]
    fn admin_reaches_everyone() {
        let (r, _) = abc();
        let sends = r.admin("maintenance at noon").expect("valid text");
        let mut got: Vec<_> = sends.iter().map(|(a, b)| (a.port(), b.clone())).collect();
        got.sort();
        assert_eq!(
            got,
            [1, 2, 3].map(|p| (p, b"Admin: maintenance at noon".to_vec()))
        );
        assert_eq!(r.admin(""), Err(Refusal::TextEmpty));
    }

    #[test]
    fn silent_members_are_dropped() {
        let mut r = Room::new(Limits {
            idle_timeout: Some(Duration::from_secs(60)),
            ..Limits::default()
        });
        let t0 = Instant::now();
        r.handle(addr(1), b"L alice", t0);
        r.handle(addr(2), b"L bob", t0);
        // bob talks at 40 s; alice stays silent.
        r.handle(addr(2), b"C bob still here", t0 + Duration::from_secs(40));
        assert!(r.expire(t0 + Duration::from_secs(59)).sends.is_empty());
        let out = r.expire(t0 + Duration::from_secs(61));
        assert_eq!(
            sent(&out),
            vec![
                (
                    1,
                    "you were dropped from the room after 1m of silence; join again to talk".into()
                ),
                (2, "alice was dropped after 1m of silence".into()),
            ]
        );
        assert!(matches!(&out.events[..], [Event::Dropped { name, .. }] if name == "alice"));
        assert_eq!(r.members(), vec![(addr(2), "bob".to_string())]);
        // Without an idle limit nobody is ever dropped.
        let mut r = Room::new(Limits {
            idle_timeout: None,
            ..Limits::default()
        });
        r.handle(addr(1), b"L alice", t0);
        assert!(r.expire(t0 + Duration::from_secs(1 << 30)).sends.is_empty());
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(300)), "300ms");
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::from_secs(300)), "5m");
        assert_eq!(human(Duration::from_secs(7200)), "2h");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }
}
