//! Graceful shutdown: one shared flag, set by SIGINT/SIGTERM or by a caller.
//!
//! Every model checks the flag at least every [`TICK`]: it stops accepting,
//! lets in-flight work finish (sessions that are mid-request keep being served)
//! and exits once everything is done or the deadline has passed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often blocking loops wake up to look at the flag and at idle timers.
pub const TICK: Duration = Duration::from_millis(100);

/// A cloneable handle to "please stop".
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Set once a stop was requested (by a signal or by [`Shutdown::trigger`]).
    flag: Arc<AtomicBool>,
    /// Milliseconds after `epoch` at which the request was first seen; 0 = not yet.
    seen_ms: AtomicU64,
    /// Reference point for `seen_ms`.
    epoch: std::sync::OnceLock<Instant>,
}

impl Shutdown {
    /// A handle that only [`Shutdown::trigger`] sets.
    pub fn new() -> Self {
        Self::default()
    }

    /// A handle that SIGINT and SIGTERM set too.
    pub fn on_signals() -> std::io::Result<Self> {
        let s = Self::new();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&s.inner.flag))?;
        }
        Ok(s)
    }

    /// Requests a stop.
    pub fn trigger(&self) {
        self.inner.flag.store(true, Ordering::SeqCst);
    }

    /// True once a stop was requested.
    pub fn is_set(&self) -> bool {
        let set = self.inner.flag.load(Ordering::Relaxed);
        if set {
            self.mark_seen();
        }
        set
    }

    fn mark_seen(&self) {
        let epoch = *self.inner.epoch.get_or_init(Instant::now);
        let now = epoch.elapsed().as_millis() as u64 + 1;
        let _ = self
            .inner
            .seen_ms
            .compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// True once a stop was requested more than `grace` ago: time to force things closed.
    pub fn past_deadline(&self, grace: Duration) -> bool {
        if !self.is_set() {
            return false;
        }
        let seen = self.inner.seen_ms.load(Ordering::SeqCst);
        let epoch = *self.inner.epoch.get_or_init(Instant::now);
        let elapsed_ms = (epoch.elapsed().as_millis() as u64 + 1).saturating_sub(seen);
        elapsed_ms >= grace.as_millis() as u64
    }
}
