//! The reader: `XREAD BLOCK` on the room's stream, the other servers'
//! entries delivered to the members here in stream order. Each entry
//! carries its server's id and sequence number; [`Sequences`] skips entries
//! seen already (a batch the writer wrote twice) and turns a gap into an
//! [`Incoming::Lost`], so the members are told how many were lost.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use redis::streams::StreamReadReply;

use super::keeper::last_id;
use super::{Conn, Incoming, Inner, Members};
use crate::chat::room::Broadcast;

/// Entries read per `XREAD`.
const COUNT: usize = 1000;

/// How long one `XREAD` blocks, in ms.
const BLOCK_MS: u64 = 500;

/// What a sequence number says about an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The next one (or the first from that server): deliver it.
    Next,
    /// Seen already: skip it.
    Again,
    /// Deliver it, and this many before it were lost.
    After(u64),
}

/// The next sequence number expected from each server.
#[derive(Debug, Default)]
pub struct Sequences {
    next: HashMap<String, u64>,
}

impl Sequences {
    /// Records `seq` from `server`.
    pub fn see(&mut self, server: &str, seq: u64) -> Seen {
        let seen = match self.next.get(server) {
            None => Seen::Next,
            Some(&n) if seq < n => return Seen::Again,
            Some(&n) if seq == n => Seen::Next,
            Some(&n) => Seen::After(seq - n),
        };
        self.next.insert(server.to_string(), seq + 1);
        seen
    }
}

/// The reader's loop, from the stream entry after `from` (`None`: from the
/// stream's end when Redis is first reached).
pub(crate) fn run(inner: &Inner, members: &dyn Members, from: Option<String>) {
    let mut last = from;
    let mut conn: Option<Conn> = None;
    let mut seqs = Sequences::default();
    while !inner.stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            if !inner.up.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            match inner.connect() {
                Ok(c) => conn = Some(c),
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
            }
        }
        let Conn { c, epoch } = conn.as_mut().expect("connected above");
        let epoch = *epoch;
        if epoch != inner.epoch.load(Ordering::Relaxed) {
            // Made before Redis came back: a new one sees the new server.
            conn = None;
            continue;
        }
        let result = (|| {
            if last.is_none() {
                last = match super::lock(&inner.start_from).take() {
                    Some(from) => Some(from),
                    None => Some(last_id(inner, c)?),
                };
            }
            let reply: Option<StreamReadReply> = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(COUNT)
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(inner.keys.events())
                .arg(last.as_deref().unwrap_or("0-0"))
                .query(c)?;
            Ok::<_, redis::RedisError>(reply)
        })();
        let reply = match result {
            Ok(r) => r,
            Err(e) => {
                conn = None;
                inner.down(epoch, &e);
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let Some(reply) = reply else { continue };
        let mut batch = Vec::new();
        for key in reply.keys {
            for entry in key.ids {
                last = Some(entry.id.clone());
                let field = |f: &str| entry.get::<String>(f).unwrap_or_default();
                let server = field("s");
                if server == inner.id || server.is_empty() {
                    continue;
                }
                let Ok(seq) = field("q").parse::<u64>() else {
                    continue;
                };
                match seqs.see(&server, seq) {
                    Seen::Again => continue,
                    Seen::After(n) => batch.push(Incoming::Lost(n)),
                    Seen::Next => {}
                }
                if let Some(broadcast) =
                    Broadcast::from_parts(&field("k"), &field("n"), &field("t"))
                {
                    let at = super::stream_id(&entry.id).unwrap_or((0, 0));
                    batch.push(Incoming::From {
                        server,
                        at,
                        broadcast,
                    });
                }
            }
        }
        if !batch.is_empty() {
            members.deliver(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_skip_repeats_and_count_gaps() {
        let mut s = Sequences::default();
        assert_eq!(s.see("a", 5), Seen::Next, "the first one starts the count");
        assert_eq!(s.see("a", 6), Seen::Next);
        assert_eq!(s.see("a", 6), Seen::Again);
        assert_eq!(s.see("a", 3), Seen::Again);
        assert_eq!(s.see("b", 1), Seen::Next);
        assert_eq!(s.see("a", 10), Seen::After(3));
        assert_eq!(s.see("a", 11), Seen::Next);
    }
}
