//! Reload requests: SIGHUP asks a running server to re-read what it loaded
//! at start (a TLS certificate, say) without dropping a connection.
//!
//! [`watch_sighup`] installs the handler; code that can reload compares
//! [`generation`] with the one it loaded at and reloads when it moved. The
//! prefork master forwards the signal to its workers (each reloads itself);
//! a fork child starts with what its parent had and reloads on first use.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Set by the signal handler; folded into [`GENERATION`] by [`generation`].
static REQUESTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// Reload requests seen so far by this process.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Makes SIGHUP a reload request (instead of ending the process). Idempotent.
pub fn watch_sighup() -> std::io::Result<()> {
    if REQUESTED.get().is_some() {
        return Ok(());
    }
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&flag))?;
    let _ = REQUESTED.set(flag);
    Ok(())
}

/// True when SIGHUP is being watched (a prefork master then forwards it).
pub fn watching() -> bool {
    REQUESTED.get().is_some()
}

/// How many reloads this process has been asked for; each SIGHUP moves it on.
pub fn generation() -> u64 {
    if let Some(flag) = REQUESTED.get()
        && flag.swap(false, Ordering::SeqCst)
    {
        return GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    }
    GENERATION.load(Ordering::SeqCst)
}

/// Asks for a reload as SIGHUP would (for tests and callers with their own trigger).
pub fn request() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}
