//! The keeper: this server's presence in the room. Every ttl/5 it refreshes
//! the server's heartbeat and every name claim of its members (one Lua
//! script), and checks the other servers' heartbeats: a server whose
//! heartbeat expired is dead, and its members are told to have left. When
//! Redis comes back after an outage it claims the names again, re-registers
//! and announces its members as present; a name that a member on another
//! server claimed meanwhile costs the member here its place.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use redis::{Connection, RedisResult};

use super::backoff::Backoff;
use super::{Conn, Inner, Members, back, lock};
use crate::chat::room::Broadcast;

/// Refreshes the claims of this server (`KEYS`: name keys; `ARGV[1]`: ttl
/// in ms, `ARGV[2]`: `server/`, `ARGV[3..]`: the tokens): extends the ones
/// it holds, claims again the ones that are free (Redis restarted) or held
/// by an older claim of this server, and returns the 1-based positions of
/// those another server holds now.
const REFRESH: &str = r"
local lost = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  local t = ARGV[i + 2]
  if v == t then
    redis.call('PEXPIRE', k, ARGV[1])
  elseif (not v) or string.sub(v, 1, #ARGV[2]) == ARGV[2] then
    redis.call('SET', k, t, 'PX', ARGV[1])
  else
    table.insert(lost, i)
  end
end
return lost";

/// Claims refreshed per script call.
const CHUNK: usize = 256;

/// Connects, registers this server and learns the room: the members of
/// every live server. Returns the stream's last entry id (where the reader
/// starts), and marks Redis up.
pub(crate) fn connect_and_learn(inner: &Inner, members: &dyn Members) -> RedisResult<String> {
    let mut c = inner.connect()?.c;
    register(inner, &mut c)?;
    learn(inner, members, &mut c)?;
    let last = last_id(inner, &mut c)?;
    inner.up.store(true, Ordering::Relaxed);
    inner.ever_up.store(true, Ordering::Relaxed);
    Ok(last)
}

/// The id of the stream's last entry, `0-0` if it has none.
pub(crate) fn last_id(inner: &Inner, c: &mut Connection) -> RedisResult<String> {
    let last: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(inner.keys.events())
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query(c)?;
    Ok(last
        .ids
        .first()
        .map_or_else(|| "0-0".to_string(), |e| e.id.clone()))
}

/// The heartbeat and the server's entry in the room's server set.
fn register(inner: &Inner, c: &mut Connection) -> RedisResult<()> {
    redis::pipe()
        .cmd("SET")
        .arg(inner.keys.server(&inner.id))
        .arg(1)
        .arg("PX")
        .arg(inner.ttl.as_millis() as u64)
        .ignore()
        .sadd(inner.keys.servers(), &inner.id)
        .ignore()
        .pexpire(
            inner.keys.members(&inner.id),
            3 * inner.ttl.as_millis() as i64,
        )
        .ignore()
        .query(c)
}

/// Learns the members of every live server without announcing them.
fn learn(inner: &Inner, members: &dyn Members, c: &mut Connection) -> RedisResult<()> {
    let servers: Vec<String> = redis::cmd("SMEMBERS").arg(inner.keys.servers()).query(c)?;
    for s in servers.iter().filter(|s| **s != inner.id) {
        let alive: bool = redis::cmd("EXISTS").arg(inner.keys.server(s)).query(c)?;
        if !alive {
            continue;
        }
        let names: Vec<(String, String)> =
            redis::cmd("HGETALL").arg(inner.keys.members(s)).query(c)?;
        for (_, name) in names {
            members.known(s, &name);
        }
    }
    Ok(())
}

/// The keeper's loop; `connected` says whether [`connect_and_learn`]
/// succeeded at start.
pub(crate) fn run(inner: &Inner, members: &dyn Members, connected: bool) {
    let period = inner.ttl / 5;
    let mut conn: Option<Conn> = None;
    let mut backoff = Backoff::default();
    // After an outage, other servers get one ttl to re-register before
    // their members are given up.
    let mut grace = Instant::now();
    let mut first = !connected;
    while !inner.stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            match inner.connect() {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    inner.down(inner.epoch.load(Ordering::Relaxed), &e);
                    std::thread::sleep(backoff.next_delay());
                    continue;
                }
            }
        }
        let Conn { c, epoch } = conn.as_mut().expect("connected above");
        let epoch = *epoch;
        let result = if inner.up.load(Ordering::Relaxed) {
            tick(inner, members, c, grace)
        } else {
            resync(inner, members, c, first).map(|()| {
                first = false;
                grace = Instant::now() + inner.ttl;
            })
        };
        if let Some(c) = conn.as_mut() {
            // The keeper's connection made Redis's return: it is current.
            if result.is_ok() {
                c.epoch = inner.epoch.load(Ordering::Relaxed);
            }
        }
        match result {
            Ok(()) => backoff.reset(),
            Err(e) => {
                conn = None;
                inner.down(epoch, &e);
                std::thread::sleep(backoff.next_delay());
                continue;
            }
        }
        sleep_unless_stopped(inner, period);
    }
}

fn sleep_unless_stopped(inner: &Inner, d: Duration) {
    let until = Instant::now() + d;
    while !inner.stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(100)));
    }
}

/// Redis answers again (or for the first time): claim the names again,
/// re-register, rewrite the member list, learn the room, announce the
/// members here as present, and say so.
fn resync(
    inner: &Inner,
    members: &dyn Members,
    c: &mut Connection,
    first: bool,
) -> RedisResult<()> {
    if first {
        *lock(&inner.start_from) = Some(last_id(inner, c)?);
    }
    let lost = refresh(inner, members, c)?;
    register(inner, c)?;
    let names = members.names();
    let key = inner.keys.members(&inner.id);
    let mut pipe = redis::pipe();
    pipe.del(&key).ignore();
    for n in &names {
        pipe.hset(&key, n.to_lowercase(), n).ignore();
    }
    pipe.query::<()>(c)?;
    learn(inner, members, c)?;
    inner.outbox.push_control(Broadcast::Sync);
    for n in &names {
        inner.outbox.push_control(Broadcast::Present(n.clone()));
    }
    // Connections made before now (the keeper's own included) are stale.
    inner.epoch.fetch_add(1, Ordering::Relaxed);
    inner.up.store(true, Ordering::Relaxed);
    inner.ever_up.store(true, Ordering::Relaxed);
    if first {
        tracing::info!("netkit chat: reached Redis at {}", inner.url);
    } else {
        back(inner, names.len(), lost);
    }
    Ok(())
}

/// One round: heartbeat, claims, and the other servers' heartbeats.
fn tick(
    inner: &Inner,
    members: &dyn Members,
    c: &mut Connection,
    grace: Instant,
) -> RedisResult<()> {
    register(inner, c)?;
    refresh(inner, members, c)?;
    if Instant::now() < grace {
        return Ok(());
    }
    let mut servers: BTreeSet<String> = members.servers().into_iter().collect();
    let listed: Vec<String> = redis::cmd("SMEMBERS").arg(inner.keys.servers()).query(c)?;
    servers.extend(listed);
    servers.remove(&inner.id);
    if servers.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for s in &servers {
        pipe.exists(inner.keys.server(s));
    }
    let alive: Vec<bool> = pipe.query(c)?;
    for (s, alive) in servers.iter().zip(alive) {
        if alive {
            continue;
        }
        members.gone(s);
        redis::pipe()
            .srem(inner.keys.servers(), s)
            .ignore()
            .del(inner.keys.members(s))
            .ignore()
            .query::<()>(c)?;
    }
    Ok(())
}

/// Refreshes (or claims again) every claim of this server; the names held
/// elsewhere now are evicted here. Returns how many were.
fn refresh(inner: &Inner, members: &dyn Members, c: &mut Connection) -> RedisResult<usize> {
    let claims: Vec<(String, String)> = lock(&inner.claims)
        .iter()
        .map(|(lower, claim)| (lower.clone(), claim.token.clone()))
        .collect();
    let mut lost = Vec::new();
    for chunk in claims.chunks(CHUNK) {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(REFRESH).arg(chunk.len());
        for (lower, _) in chunk {
            cmd.arg(inner.keys.name(lower));
        }
        cmd.arg(inner.ttl.as_millis() as u64)
            .arg(format!("{}/", inner.id));
        for (_, token) in chunk {
            cmd.arg(token);
        }
        let positions: Vec<usize> = cmd.query(c)?;
        for p in positions {
            if let Some((lower, token)) = chunk.get(p.wrapping_sub(1)) {
                lost.push((lower.clone(), token.clone()));
            }
        }
    }
    for (lower, token) in &lost {
        let mut claims = lock(&inner.claims);
        if claims.get(lower).is_some_and(|c| c.token == *token) {
            claims.remove(lower);
            drop(claims);
            members.evict(lower);
            redis::cmd("HDEL")
                .arg(inner.keys.members(&inner.id))
                .arg(lower)
                .query::<()>(c)?;
        }
    }
    Ok(lost.len())
}
