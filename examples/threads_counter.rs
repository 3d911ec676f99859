//! Lesson: threads sharing a counter — a lost-update race vs. a Mutex.
//!
//! N threads each add 1 to a shared counter many times.
//! 1. Racy: `let v = counter.load(); counter.store(v + 1)` is two separate
//!    operations (memory-safe in Rust, but not one atomic step), so another
//!    thread's increment between them is overwritten: updates get lost.
//! 2. `Mutex<u64>`: the read-modify-write happens under the lock: exact.
//! 3. `AtomicU64::fetch_add`: a single atomic read-modify-write: exact too.
//!
//! Run: `cargo run --example threads_counter [THREADS] [INCREMENTS]`
//! (defaults: 4 threads, 1000000 increments each)
//!
//! Expected output (the racy result varies from run to run):
//! ```text
//! racy load+store: expected 4000000, actual 1412875 (lost 2587125)
//! mutex:           expected 4000000, actual 4000000 (lost 0)
//! atomic fetch_add: expected 4000000, actual 4000000 (lost 0)
//! ```

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread;

/// Run `body` on `threads` threads and wait for all of them.
fn on_threads(threads: usize, body: impl Fn() + Sync) {
    thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(&body);
        }
    });
}

fn report(label: &str, expected: u64, actual: u64) {
    println!(
        "{label:<17} expected {expected}, actual {actual} (lost {})",
        expected - actual
    );
}

fn arg(index: usize, default: u64) -> anyhow::Result<u64> {
    match std::env::args().nth(index) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|e| anyhow::anyhow!("bad number {text:?}: {e}")),
    }
}

fn main() -> anyhow::Result<()> {
    let threads = arg(1, 4)?;
    let increments = arg(2, 1_000_000)?;
    anyhow::ensure!((1..=64).contains(&threads), "THREADS must be 1..=64");
    let expected = threads
        .checked_mul(increments)
        .ok_or(anyhow::anyhow!("too many increments"))?;

    let racy = AtomicU64::new(0);
    on_threads(threads as usize, || {
        for _ in 0..increments {
            let v = racy.load(Relaxed); // read ...
            racy.store(v + 1, Relaxed); // ... then write: not one atomic step
        }
    });
    report("racy load+store:", expected, racy.load(Relaxed));

    let locked = Mutex::new(0u64);
    on_threads(threads as usize, || {
        for _ in 0..increments {
            *locked.lock().expect("lock poisoned") += 1;
        }
    });
    report("mutex:", expected, *locked.lock().expect("lock poisoned"));

    let atomic = AtomicU64::new(0);
    on_threads(threads as usize, || {
        for _ in 0..increments {
            atomic.fetch_add(1, Relaxed);
        }
    });
    report("atomic fetch_add:", expected, atomic.load(Relaxed));
    Ok(())
}
