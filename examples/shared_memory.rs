//! Lesson: shared memory between processes, and why it needs a lock.
//!
//! A `MAP_SHARED | MAP_ANONYMOUS` mapping created before `fork()` is shared by
//! parent and children (unlike ordinary memory, which is copied on write).
//! Four processes increment one counter in it:
//! 1. without a lock: `counter = counter + 1` is a read followed by a write,
//!    so concurrent increments overwrite each other (lost updates). To show
//!    it on every run, the children start together (they wait for a "go"
//!    flag in the shared memory) and do a little work between the read and
//!    the write, as real code does;
//! 2. with a process-shared pthread mutex (PTHREAD_PROCESS_SHARED): exact.
//!
//! Each child also writes its pid into its slot of a shared array.
//!
//! Run: `cargo run --example shared_memory`
//!
//! Expected output (the unlocked result varies from run to run):
//! ```text
//! without lock: expected 400000, actual 131877 (lost 268123 updates)
//! with lock: expected 400000, actual 400000 (lost 0 updates)
//! shared array: [601, 602, 603, 604] (matches the child pids: true)
//! ```
//!
//! Python → Rust: `multiprocessing.Value('i', 0)` / `Array('i', 4)` → a
//! `#[repr(C)]` struct in a `MAP_SHARED` mapping (`mmap_anonymous`);
//! `multiprocessing.Lock()` → a `PTHREAD_PROCESS_SHARED` pthread mutex in the
//! same mapping; `Process(target=f).start()` / `join()` → `fork` / `waitpid`.

use std::hint::{black_box, spin_loop};
use std::num::NonZeroUsize;
use std::ptr::{read_volatile, write_volatile};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork, getpid};

const WORKERS: usize = 4;
const INCREMENTS: u64 = 100_000;

/// Spins between the read and the write: the "work" that makes the gap wide
/// enough to be hit on every run, even on one core (a process preempted
/// between its read and its write overwrites every increment made meanwhile).
const WORK: u32 = 20;

#[repr(C)]
struct Shared {
    lock: libc::pthread_mutex_t,
    counter: u64,
    /// Children that are ready; they all start incrementing when it reaches
    /// WORKERS, so their loops overlap instead of running one after another.
    ready: AtomicU32,
    pids: [i32; WORKERS],
}

/// A little work, standing for what real code does between reading a value
/// and writing the new one.
fn work() {
    for _ in 0..black_box(WORK) {
        spin_loop();
    }
}

fn map_shared() -> anyhow::Result<*mut Shared> {
    let len = NonZeroUsize::new(size_of::<Shared>()).expect("non-zero size");
    let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // SAFETY: a new anonymous mapping (zero-filled), large enough for Shared.
    let mem = unsafe { mmap_anonymous(None, len, prot, MapFlags::MAP_SHARED) }?;
    let shared = mem.as_ptr().cast::<Shared>();
    // SAFETY: initialise the mutex in place with the process-shared attribute.
    unsafe {
        let mut attr = std::mem::zeroed::<libc::pthread_mutexattr_t>();
        libc::pthread_mutexattr_init(&mut attr);
        libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
        let rc = libc::pthread_mutex_init(&raw mut (*shared).lock, &attr);
        libc::pthread_mutexattr_destroy(&mut attr);
        anyhow::ensure!(rc == 0, "pthread_mutex_init failed: {rc}");
    }
    Ok(shared)
}

/// Run WORKERS child processes that each increment the shared counter.
fn run(shared: *mut Shared, locked: bool) -> anyhow::Result<Vec<Pid>> {
    // SAFETY: `shared` points to the initialised mapping for the whole program;
    // the counter is only touched through volatile accesses (it is changed by
    // other processes behind the compiler's back) and the mutex through libc.
    let counter = unsafe { &raw mut (*shared).counter };
    let lock = unsafe { &raw mut (*shared).lock };
    // SAFETY: as above; an atomic in shared memory works across processes.
    let ready = unsafe { &(*shared).ready };
    unsafe { write_volatile(counter, 0) };
    ready.store(0, Ordering::SeqCst);
    let mut children = Vec::new();
    for slot in 0..WORKERS {
        // SAFETY: single-threaded process; the child may run arbitrary code.
        match unsafe { fork() }? {
            ForkResult::Parent { child } => children.push(child),
            ForkResult::Child => unsafe {
                write_volatile(&raw mut (*shared).pids[slot], getpid().as_raw());
                ready.fetch_add(1, Ordering::SeqCst);
                while ready.load(Ordering::SeqCst) < WORKERS as u32 {
                    spin_loop();
                }
                for _ in 0..INCREMENTS {
                    if locked {
                        libc::pthread_mutex_lock(lock);
                    }
                    // Non-atomic read-modify-write: another process may write
                    // between our read and our write, and one update is lost.
                    let value = read_volatile(counter);
                    work();
                    write_volatile(counter, value + 1);
                    if locked {
                        libc::pthread_mutex_unlock(lock);
                    }
                }
                libc::_exit(0)
            },
        }
    }
    for child in &children {
        waitpid(*child, None)?;
    }
    let expected = WORKERS as u64 * INCREMENTS;
    let actual = unsafe { read_volatile(counter) };
    let label = if locked { "with lock" } else { "without lock" };
    println!(
        "{label}: expected {expected}, actual {actual} (lost {} updates)",
        expected - actual
    );
    Ok(children)
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(lesson)
}

fn lesson() -> anyhow::Result<()> {
    let shared = map_shared()?;
    run(shared, false)?;
    let children = run(shared, true)?;
    // SAFETY: all children have exited; the parent reads the array they wrote.
    let pids = unsafe { read_volatile(&raw mut (*shared).pids) };
    let matches = pids.iter().zip(&children).all(|(a, b)| *a == b.as_raw());
    println!("shared array: {pids:?} (matches the child pids: {matches})");
    Ok(())
}
