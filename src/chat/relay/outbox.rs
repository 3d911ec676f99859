//! The outbox: what this server has to write to Redis, in order, queued
//! while Redis is away. Bounded: past [`CAPACITY`] broadcasts, new ones are
//! counted as lost instead of queued. A lost broadcast has used its sequence
//! number, so every other server sees the gap and tells its members how many
//! were lost: nothing is dropped silently.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::chat::room::Broadcast;

/// Broadcasts the outbox holds while Redis is away (about 10 s of the
/// target load of 1,000 messages a second).
pub const CAPACITY: usize = 10_000;

/// One write to Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Append a broadcast to the room's stream (and keep the server's
    /// member list up to date).
    Publish {
        /// This server's sequence number for it.
        seq: u64,
        /// What to publish.
        broadcast: Broadcast,
    },
    /// Give up a name claim, if it still holds `token`.
    Release {
        /// The lower-case name.
        lower: String,
        /// The claim's value (`server/gen`).
        token: String,
    },
}

/// The bounded, ordered queue of writes.
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Inner>,
    ready: Condvar,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    ops: VecDeque<Op>,
    /// Broadcasts in `ops`.
    broadcasts: usize,
    /// Broadcasts refused because the outbox was full, since last taken.
    lost: u64,
    /// The next broadcast's sequence number.
    seq: u64,
}

impl Outbox {
    /// An empty outbox holding at most `capacity` broadcasts.
    pub fn new(capacity: usize) -> Outbox {
        Outbox {
            queue: Mutex::new(Inner::default()),
            ready: Condvar::new(),
            capacity,
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `broadcast` with the next sequence number (numbered under the
    /// queue's lock, so the stream has them in order); false if it did not
    /// fit (its number is used all the same, so the gap shows).
    pub fn push_broadcast(&self, broadcast: Broadcast) -> bool {
        self.push_numbered(broadcast, false)
    }

    /// Like [`Outbox::push_broadcast`], past the capacity: for what a
    /// server says after an outage (its members' presence, the sync that
    /// shows the gap), at most one per member and one more.
    pub fn push_control(&self, broadcast: Broadcast) {
        self.push_numbered(broadcast, true);
    }

    fn push_numbered(&self, broadcast: Broadcast, always: bool) -> bool {
        let mut q = self.inner();
        q.seq += 1;
        let seq = q.seq;
        if q.broadcasts >= self.capacity && !always {
            q.lost += 1;
            return false;
        }
        q.broadcasts += 1;
        q.ops.push_back(Op::Publish { seq, broadcast });
        drop(q);
        self.ready.notify_one();
        true
    }

    /// Queues `op`; false (and counted as lost) if it is a broadcast and
    /// the outbox already holds `capacity` of them. Releases always fit
    /// (there is at most one per member).
    pub fn push(&self, op: Op) -> bool {
        let mut q = self.inner();
        if matches!(op, Op::Publish { .. }) {
            if q.broadcasts >= self.capacity {
                q.lost += 1;
                return false;
            }
            q.broadcasts += 1;
        }
        q.ops.push_back(op);
        drop(q);
        self.ready.notify_one();
        true
    }

    /// Waits up to `wait` for writes, then takes up to `most` of them in
    /// order.
    pub fn take(&self, most: usize, wait: Duration) -> Vec<Op> {
        let mut q = self.inner();
        if q.ops.is_empty() {
            q = self
                .ready
                .wait_timeout(q, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let n = most.min(q.ops.len());
        let taken: Vec<Op> = q.ops.drain(..n).collect();
        q.broadcasts -= taken
            .iter()
            .filter(|o| matches!(o, Op::Publish { .. }))
            .count();
        taken
    }

    /// Broadcasts lost to a full outbox since the last call.
    pub fn take_lost(&self) -> u64 {
        std::mem::take(&mut self.inner().lost)
    }

    /// The most broadcasts it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Writes queued.
    pub fn len(&self) -> usize {
        self.inner().ops.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(seq: u64) -> Op {
        Op::Publish {
            seq,
            broadcast: Broadcast::Said {
                name: "a".into(),
                text: format!("{seq}"),
            },
        }
    }

    #[test]
    fn broadcasts_are_numbered_in_queue_order() {
        let o = Outbox::new(2);
        for t in ["a", "b", "c"] {
            o.push_broadcast(Broadcast::Admin(t.into()));
        }
        let seqs: Vec<u64> = o
            .take(10, Duration::ZERO)
            .into_iter()
            .map(|op| match op {
                Op::Publish { seq, .. } => seq,
                Op::Release { .. } => 0,
            })
            .collect();
        assert_eq!(seqs, [1, 2], "the third was lost, with its number");
        o.push_broadcast(Broadcast::Admin("d".into()));
        assert!(matches!(
            o.take(1, Duration::ZERO)[..],
            [Op::Publish { seq: 4, .. }]
        ));
        assert_eq!(o.take_lost(), 1);
    }

    #[test]
    fn keeps_order_and_counts_what_did_not_fit() {
        let o = Outbox::new(3);
        for s in 0..5 {
            o.push(said(s));
        }
        assert!(o.push(Op::Release {
            lower: "a".into(),
            token: "t".into()
        }));
        assert_eq!(o.take_lost(), 2);
        assert_eq!(o.take_lost(), 0);
        let got = o.take(2, Duration::ZERO);
        assert_eq!(got, vec![said(0), said(1)]);
        assert!(o.push(said(7)), "room again");
        assert_eq!(o.len(), 3);
        let rest = o.take(10, Duration::ZERO);
        assert_eq!(rest.len(), 3);
        assert!(o.is_empty());
        assert!(o.take(10, Duration::from_millis(10)).is_empty());
    }
}
