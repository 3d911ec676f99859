//! One room on many servers, through Redis (`netkit chat serve --redis URL
//! --room NAME`).
//!
//! Every server keeps serving its own members from its own room, with no
//! Redis round trip on the path of a message; the relay carries what each
//! room tells its members to the others:
//!
//! - **Broadcasts** (joins, messages, leaves, drops, admin lines) are
//!   appended to the Redis Stream `netkit:chat:{room}:events` by one writer
//!   thread ([`outbox`]), each entry carrying its server's id and a
//!   per-server sequence number; every server reads the stream with
//!   `XREAD BLOCK` ([`reader`]) and delivers the other servers' entries to
//!   its own members, so a message reaches each member once and never its
//!   sender. A gap in a server's sequence numbers (an outbox that overflowed
//!   while Redis was away, entries lost with a Redis restart or trimmed
//!   before they were read) is told to the members as "N messages ... were
//!   lost": delivered late, or reported lost, never dropped silently.
//! - **Names** are unique across the room: a join claims
//!   `netkit:chat:{room}:name:<lower-case name>` with a Lua script (`SET NX
//!   PX ttl`, or take over a claim of this same server), and the keeper
//!   ([`keeper`]) refreshes this server's claims every ttl/5; a leave gives
//!   the claim up. A server that dies stops refreshing, so its names are free
//!   again within the ttl (5 s by default).
//! - **Presence**: every server refreshes its heartbeat key
//!   `netkit:chat:{room}:server:<id>` (same ttl) and keeps its member list
//!   in a hash; the others check the heartbeats every ttl/5 and, when one
//!   has expired, tell their members that server's members left: within
//!   ttl + ttl/5 (6 s by default) of the server's death.
//! - **Redis away** (restarting, unreachable): the servers keep serving
//!   their own members (joins too, claimed once Redis is back), say so once
//!   in the log, reconnect with [`backoff`], then claim their members' names
//!   again, re-register, and announce their members as present; the outbox
//!   holds up to 10,000 broadcasts meanwhile.

pub mod backoff;
pub mod keeper;
pub mod keys;
pub mod outbox;
pub mod reader;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result};
use redis::{Client, Connection, RedisResult};

use tracing::{info, warn};

use crate::chat::room::Broadcast;
use backoff::Backoff;
use keys::Keys;
use outbox::{Op, Outbox};

/// The default expiry of name claims and heartbeats.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5);

/// The stream is trimmed to about this many entries (`XADD MAXLEN ~`): a
/// reader further behind than that loses entries, and reports them lost.
pub const STREAM_LENGTH: usize = 100_000;

/// Claims a name: free, or held by this same server (whose room has just
/// checked that none of its members holds it), so it is ours.
const CLAIM: &str = r"
local v = redis.call('GET', KEYS[1])
if (not v) or string.sub(v, 1, #ARGV[2]) == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if last[1] then
    return last[1][1]
  end
  return '0-0'
end
return 0";

/// A stream id `ms-seq` as numbers, for ordering.
pub(crate) fn stream_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// Gives a claim up if it still holds this token.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// How the relay reaches the rest of the room.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// The room's name: servers with the same Redis and room share members.
    pub room: String,
    /// Expiry of name claims and heartbeats; refreshed every ttl/5.
    pub ttl: Duration,
    /// Broadcasts held while Redis is away ([`outbox::CAPACITY`] by default).
    pub outbox: usize,
}

/// What arrives from the room's other servers, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A broadcast from server `server`.
    From {
        /// The server's id.
        server: String,
        /// Its stream id (milliseconds, sequence).
        at: (u64, u64),
        /// What it told its members.
        broadcast: Broadcast,
    },
    /// This many broadcasts were lost on the way.
    Lost(u64),
}

/// The local side of the relay: this server's room.
pub trait Members: Send + Sync + 'static {
    /// Delivers what came from the other servers to the members here.
    fn deliver(&self, batch: Vec<Incoming>);
    /// `name` is a member on `server` (learnt from Redis, not announced).
    fn known(&self, server: &str, name: &str);
    /// `server` died: its members left.
    fn gone(&self, server: &str);
    /// The servers this room knows members of.
    fn servers(&self) -> Vec<String>;
    /// Another server holds `name` (lower-case): the member here goes.
    fn evict(&self, lower: &str);
    /// The names of the members here, as given.
    fn names(&self) -> Vec<String>;
}

/// A claim this server holds for one of its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The name as given.
    pub name: String,
    /// The claim's value, `server/gen`.
    pub token: String,
}

/// The relay of one server: cheap to clone.
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("id", &self.inner.id)
            .field("room", &self.inner.room)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    /// This server's id in the room.
    pub(crate) id: String,
    pub(crate) room: String,
    pub(crate) url: String,
    pub(crate) keys: Keys,
    pub(crate) ttl: Duration,
    pub(crate) client: Client,
    /// True while Redis answers.
    pub(crate) up: AtomicBool,
    /// True once Redis was reached at least once.
    pub(crate) ever_up: AtomicBool,
    /// Counts the times Redis came back: a connection made before the
    /// latest return that fails says nothing new (it only reconnects).
    pub(crate) epoch: AtomicU64,
    generation: AtomicU64,
    pub(crate) outbox: Outbox,
    /// The names this server holds, by lower-case name.
    pub(crate) claims: Mutex<HashMap<String, Claim>>,
    /// The connection joins claim names on.
    claimer: Mutex<Option<Conn>>,
    pub(crate) stop: AtomicBool,
    /// Where the reader starts when Redis was away at start: the stream's
    /// end when the keeper first reached it (learnt in the same breath as
    /// the room, so no broadcast falls between the two).
    pub(crate) start_from: Mutex<Option<String>>,
    /// True once the outbox overflowed, until Redis is back.
    pub(crate) overflowing: AtomicBool,
}

impl Relay {
    /// Starts the relay's threads (writer, reader, keeper) for this server's
    /// room. Fails only on an invalid URL: an unreachable Redis is waited
    /// for while the room serves its own members.
    pub fn start(config: &RelayConfig, members: Arc<dyn Members>) -> Result<Relay> {
        let client = Client::open(config.url.as_str())
            .with_context(|| format!("invalid Redis URL '{}'", config.url))?;
        let ttl = config.ttl.max(Duration::from_millis(500));
        let inner = Arc::new(Inner {
            id: server_id(),
            room: config.room.clone(),
            url: config.url.clone(),
            keys: Keys::new(&config.room),
            ttl,
            client,
            up: AtomicBool::new(false),
            ever_up: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            generation: AtomicU64::new(1),
            outbox: Outbox::new(config.outbox.max(1)),
            claims: Mutex::new(HashMap::new()),
            claimer: Mutex::new(None),
            stop: AtomicBool::new(false),
            overflowing: AtomicBool::new(false),
            start_from: Mutex::new(None),
        });
        let relay = Relay { inner };
        // The keeper connects first (and learns the room); the reader and
        // the writer wait for it.
        let first = keeper::connect_and_learn(&relay.inner, &*members);
        let from = match &first {
            Ok(last) => Some(last.clone()),
            Err(e) => {
                warn!(
                    "netkit chat: Redis at {} unreachable ({e}); serving the members here, reconnecting",
                    relay.inner.url
                );
                None
            }
        };
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .context("starting a relay thread")
        };
        {
            let inner = relay.inner.clone();
            let m = members.clone();
            let conn = first.is_ok();
            spawn(
                "chat-keeper",
                Box::new(move || keeper::run(&inner, &*m, conn)),
            )?;
        }
        {
            let inner = relay.inner.clone();
            spawn("chat-writer", Box::new(move || write_loop(&inner)))?;
        }
        {
            let inner = relay.inner.clone();
            let m = members;
            spawn(
                "chat-reader",
                Box::new(move || reader::run(&inner, &*m, from)),
            )?;
        }
        Ok(relay)
    }

    /// This server's id in the room.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The room's name.
    pub fn room(&self) -> &str {
        &self.inner.room
    }

    /// The expiry of claims and heartbeats.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// True while Redis answers.
    pub fn is_up(&self) -> bool {
        self.inner.up.load(Ordering::Relaxed)
    }

    /// Claims `name` across the room for a join. `Some(token)` if this
    /// server may admit the member: the claim is held, or Redis is away and
    /// it will be claimed on its return (a member on another server that
    /// claimed it meanwhile keeps it, and the one here is told to rejoin);
    /// `None` if a member on another server holds it.
    /// With the claim comes the id of the room's last stream entry at the
    /// claim (not when Redis is away): broadcasts up to it are older than
    /// the member and are not delivered to it.
    pub fn claim(&self, name: &str) -> Option<(String, Option<(u64, u64)>)> {
        let inner = &*self.inner;
        let token = format!(
            "{}/{}",
            inner.id,
            inner.generation.fetch_add(1, Ordering::Relaxed)
        );
        if !self.is_up() {
            return Some((token, None));
        }
        let lower = name.to_lowercase();
        let mut conn = lock(&inner.claimer);
        let result: RedisResult<redis::Value> = (|| {
            if conn.is_none() {
                *conn = Some(inner.connect()?);
            }
            let c = &mut conn.as_mut().expect("connected above").c;
            redis::cmd("EVAL")
                .arg(CLAIM)
                .arg(2)
                .arg(inner.keys.name(&lower))
                .arg(inner.keys.events())
                .arg(&token)
                .arg(format!("{}/", inner.id))
                .arg(inner.ttl.as_millis() as u64)
                .query(c)
        })();
        match result {
            Ok(redis::Value::Int(0)) => None,
            Ok(v) => {
                let id: Option<String> = redis::from_redis_value(&v).ok();
                Some((token, id.as_deref().and_then(stream_id)))
            }
            Err(e) => {
                if let Some(c) = conn.take() {
                    inner.down(c.epoch, &e);
                }
                Some((token, None))
            }
        }
    }

    /// A member here now holds `name` with `token` (from [`Relay::claim`]).
    pub fn hold(&self, name: &str, token: String) {
        lock(&self.inner.claims).insert(
            name.to_lowercase(),
            Claim {
                name: name.to_string(),
                token,
            },
        );
    }

    /// Gives up a claim taken for a join that the room then refused.
    pub fn unclaim(&self, name: &str, token: String) {
        self.inner.outbox.push(Op::Release {
            lower: name.to_lowercase(),
            token,
        });
    }

    /// The member named `name` left: its claim is given up.
    pub fn forget(&self, name: &str) {
        let lower = name.to_lowercase();
        if let Some(c) = lock(&self.inner.claims).remove(&lower) {
            self.inner.outbox.push(Op::Release {
                lower,
                token: c.token,
            });
        }
    }

    /// Sends `b` to the room's other servers (queued; never blocks).
    pub fn publish(&self, b: Broadcast) {
        self.inner.publish(b);
    }

    /// Stops the relay's threads and gives up this server's claims and
    /// heartbeat (best effort, within about a second).
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        let inner = &*self.inner;
        if !self.is_up() {
            return;
        }
        let Ok(Conn { mut c, .. }) = inner.connect() else {
            return;
        };
        let claims: Vec<Claim> = lock(&inner.claims).drain().map(|(_, c)| c).collect();
        let mut pipe = redis::pipe();
        for claim in &claims {
            pipe.cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(inner.keys.name(&claim.name.to_lowercase()))
                .arg(&claim.token)
                .ignore();
        }
        pipe.del(inner.keys.server(&inner.id)).ignore();
        pipe.del(inner.keys.members(&inner.id)).ignore();
        pipe.srem(inner.keys.servers(), &inner.id).ignore();
        let _: RedisResult<()> = pipe.query(&mut c);
    }
}

impl Inner {
    /// A new connection with bounded connect, read and write times.
    pub(crate) fn connect(&self) -> RedisResult<Conn> {
        let epoch = self.epoch.load(Ordering::Relaxed);
        let c = self
            .client
            .get_connection_with_timeout(Duration::from_millis(500))?;
        c.set_read_timeout(Some(Duration::from_secs(2)))?;
        c.set_write_timeout(Some(Duration::from_secs(2)))?;
        Ok(Conn { c, epoch })
    }

    /// Redis failed on a connection made in `epoch`: says so once (until it
    /// is back); a connection older than Redis's latest return says nothing.
    pub(crate) fn down(&self, epoch: u64, e: &redis::RedisError) {
        if epoch != self.epoch.load(Ordering::Relaxed) {
            return;
        }
        if self.up.swap(false, Ordering::Relaxed) {
            warn!(
                "netkit chat: lost Redis at {} ({e}); serving the members here, reconnecting",
                self.url
            );
        }
    }

    pub(crate) fn publish(&self, b: Broadcast) {
        if !self.outbox.push_broadcast(b) && !self.overflowing.swap(true, Ordering::Relaxed) {
            warn!(
                "netkit chat: the outbox to Redis is full ({} broadcasts); what is said here from now on is lost to the other servers until Redis is back (they will say how much)",
                self.outbox.capacity()
            );
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// The writer: takes the outbox in order, in batches, and writes each batch
/// as one pipeline. A batch that fails is written again once Redis is back
/// (the readers skip entries they have already seen by their sequence
/// numbers, so a batch written twice is delivered once).
fn write_loop(inner: &Inner) {
    let mut conn: Option<Conn> = None;
    let mut backoff = Backoff::default();
    while !inner.stopping() {
        let batch = inner.outbox.take(512, Duration::from_millis(100));
        if batch.is_empty() {
            continue;
        }
        let pipe = pipeline(inner, &batch);
        loop {
            if inner.stopping() {
                return;
            }
            if !inner.up.load(Ordering::Relaxed) {
                // The keeper reconnects and re-registers first.
                conn = None;
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            let result: RedisResult<()> = (|| {
                if conn.is_none() {
                    conn = Some(inner.connect()?);
                }
                pipe.query(&mut conn.as_mut().expect("connected above").c)
            })();
            match result {
                Ok(()) => {
                    backoff.reset();
                    break;
                }
                Err(e) => {
                    match conn.take() {
                        Some(c) => inner.down(c.epoch, &e),
                        None => inner.down(inner.epoch.load(Ordering::Relaxed), &e),
                    }
                    std::thread::sleep(backoff.next_delay());
                }
            }
        }
    }
}

/// The writes of a batch as one pipeline.
fn pipeline(inner: &Inner, batch: &[Op]) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    let members = inner.keys.members(&inner.id);
    for op in batch {
        match op {
            Op::Publish { seq, broadcast } => {
                let (name, text) = broadcast.parts();
                pipe.cmd("XADD")
                    .arg(inner.keys.events())
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(STREAM_LENGTH)
                    .arg("*")
                    .arg("s")
                    .arg(&inner.id)
                    .arg("q")
                    .arg(*seq)
                    .arg("k")
                    .arg(broadcast.kind())
                    .arg("n")
                    .arg(name)
                    .arg("t")
                    .arg(text)
                    .ignore();
                match broadcast {
                    Broadcast::Joined(n) | Broadcast::Present(n) => {
                        pipe.hset(&members, n.to_lowercase(), n).ignore();
                    }
                    Broadcast::Left(n) | Broadcast::Dropped { name: n, .. } => {
                        pipe.hdel(&members, n.to_lowercase()).ignore();
                    }
                    _ => {}
                }
            }
            Op::Release { lower, token } => {
                pipe.cmd("EVAL")
                    .arg(RELEASE)
                    .arg(1)
                    .arg(inner.keys.name(lower))
                    .arg(token)
                    .ignore();
            }
        }
    }
    pipe
}

/// A server id that is new every start: 8 hex digits from the clock and
/// the process id.
fn server_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:08x}", h.finish() as u32)
}

/// A connection, and the [`Inner::epoch`] it was made in.
pub(crate) struct Conn {
    pub(crate) c: Connection,
    pub(crate) epoch: u64,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Logs that Redis answers again.
pub(crate) fn back(inner: &Inner, claimed: usize, lost: usize) {
    let overflow = inner.outbox.take_lost();
    inner.overflowing.store(false, Ordering::Relaxed);
    info!(
        "netkit chat: Redis back at {}; {claimed} names claimed again{}{}",
        inner.url,
        if lost > 0 {
            format!(", {lost} lost to members on other servers")
        } else {
            String::new()
        },
        if overflow > 0 {
            format!(", {overflow} broadcasts did not fit the outbox and are lost")
        } else {
            String::new()
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ids_are_short_and_new_each_time() {
        let (a, b) = (server_id(), server_id());
        assert_eq!(a.len(), 8);
        assert_ne!(a, b);
    }
}
