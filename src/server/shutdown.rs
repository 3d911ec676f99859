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

#[derive(Default)]
struct Inner {
    /// Set once a stop was requested (by a signal or by [`Shutdown::trigger`]).
    flag: Arc<AtomicBool>,
    /// Milliseconds after `epoch` at which the request was first seen; 0 = not yet.
    seen_ms: AtomicU64,
    /// Reference point for `seen_ms`.
    epoch: std::sync::OnceLock<Instant>,
    /// Called once when the stop is first seen, in the process that set it up.
    announce: std::sync::OnceLock<(u32, Announce)>,
}

type Announce = Box<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("flag", &self.flag)
            .field("seen_ms", &self.seen_ms)
            .finish_non_exhaustive()
    }
}

impl Shutdown {
    /// A handle that only [`Shutdown::trigger`] sets.
    pub fn new() -> Self {
        Self::default()
    }

    /// A handle that SIGINT and SIGTERM set too; a second one, once a stop
    /// is under way, ends the process at once (exit status 130 for SIGINT,
    /// 143 for SIGTERM, as a shell reports a killed command).
    pub fn on_signals() -> std::io::Result<Self> {
        let s = Self::new();
        for (sig, status) in [
            (signal_hook::consts::SIGINT, 130),
            (signal_hook::consts::SIGTERM, 143),
        ] {
            // First the check (is a stop already under way?), then the flag.
            signal_hook::flag::register_conditional_shutdown(
                sig,
                status,
                Arc::clone(&s.inner.flag),
            )?;
            signal_hook::flag::register(sig, Arc::clone(&s.inner.flag))?;
        }
        Ok(s)
    }

    /// Calls `f` once, when the stop is first seen by a loop of this
    /// process (not in forked children): a server says there what it waits for.
    pub fn on_first_seen(&self, f: impl Fn() + Send + Sync + 'static) {
        let _ = self.inner.announce.set((std::process::id(), Box::new(f)));
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
        let first = self
            .inner
            .seen_ms
            .compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if first
            && let Some((pid, f)) = self.inner.announce.get()
            && *pid == std::process::id()
        {
            f();
        }
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
