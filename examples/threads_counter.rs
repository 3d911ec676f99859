//! Lesson: threads sharing a counter — a lost-update race vs. a Mutex.
//!
//! N threads each add 1 to a shared counter many times.
//! 1. Racy: `let v = counter.load(); counter.store(v + 1)` is two separate
//!    operations (memory-safe in Rust, but not one atomic step), so another
//!    thread's increment between them is overwritten: updates get lost. To
//!    show it on every run, the threads start together (a barrier) and do a
//!    little work between the read and the write, as real code does: with two
//!    cores the threads overlap there, and even on one core a thread that is
//!    preempted between its read and its write overwrites every increment
//!    made meanwhile.
//! 2. `Mutex<u64>`: the read-modify-write happens under the lock: exact.
//! 3. `AtomicU64::fetch_add`: a single atomic read-modify-write: exact too.
//!
//! Run: `cargo run --example threads_counter [THREADS] [INCREMENTS]`
//! (defaults: 4 threads, 200000 increments each)
//!
//! Expected output (the racy result varies from run to run):
//! ```text
//! racy load+store: expected 800000, actual 412875 (lost 387125)
//! mutex:           expected 800000, actual 800000 (lost 0)
//! atomic fetch_add: expected 800000, actual 800000 (lost 0)
//! ```
//!
//! Python → Rust: `threading.Thread(target=f).start()` / `join()` →
//! `thread::scope(|s| s.spawn(f))` (joined at the end of the scope);
//! `threading.Lock()` with `with lock:` → `Mutex<u64>` and its guard;
//! a global counter → a shared `AtomicU64` (Rust does not allow an unguarded
//! shared `u64`; the racy version imitates Python's `counter += 1`).

use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Barrier, Mutex};
use std::thread;

/// Spins between the read and the write of the racy increment: the "work"
/// that makes the gap wide enough to be hit on every run.
const WORK: u32 = 20;

/// Run `body` on `threads` threads that all start at once, and wait for them.
fn on_threads(threads: usize, body: impl Fn() + Sync) {
    let start = Barrier::new(threads);
    thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                start.wait();
                body();
            });
        }
    });
}

/// A little work, standing for what real code does between reading a value
/// and writing the new one.
fn work() {
    for _ in 0..black_box(WORK) {
        spin_loop();
    }
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
            .map_err(|e| netkit::lesson::usage(format!("bad number {text:?}: {e}"))),
    }
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let threads = arg(1, 4)?;
    let increments = arg(2, 200_000)?;
    anyhow::ensure!((1..=64).contains(&threads), "THREADS must be 1..=64");
    let expected = threads
        .checked_mul(increments)
        .ok_or(anyhow::anyhow!("too many increments"))?;

    let racy = AtomicU64::new(0);
    on_threads(threads as usize, || {
        for _ in 0..increments {
            let v = racy.load(Relaxed); // read ...
            work();
            racy.store(v + 1, Relaxed); // ... then write: not one atomic step
        }
    });
    report("racy load+store:", expected, racy.load(Relaxed));

    let locked = Mutex::new(0u64);
    on_threads(threads as usize, || {
        for _ in 0..increments {
            let mut guard = locked.lock().expect("lock poisoned");
            let v = *guard;
            work();
            *guard = v + 1;
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
