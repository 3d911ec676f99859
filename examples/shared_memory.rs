//! Lesson: shared memory between processes, and why it needs a lock.
//!
//! A `MAP_SHARED | MAP_ANONYMOUS` mapping created before `fork()` is shared by
//! parent and children (unlike ordinary memory, which is copied on write).
//! Four processes increment one counter in it:
//! 1. without a lock: `counter = counter + 1` is a read followed by a write,
//!    so concurrent increments can overwrite each other (lost updates);
//! 2. with a process-shared pthread mutex (PTHREAD_PROCESS_SHARED): exact.
//!
//! Each child also writes its pid into its slot of a shared array.
//!
//! Run: `cargo run --example shared_memory`
//!
//! Expected output (the unlocked result varies from run to run):
//! ```text
//! without lock: expected 800000, actual 431877 (lost 368123 updates)
//! with lock: expected 800000, actual 800000 (lost 0 updates)
//! shared array: [601, 602, 603, 604] (matches the child pids: true)
//! ```

use std::num::NonZeroUsize;
use std::ptr::{read_volatile, write_volatile};

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork, getpid};

const WORKERS: usize = 4;
const INCREMENTS: u64 = 200_000;

#[repr(C)]
struct Shared {
    lock: libc::pthread_mutex_t,
    counter: u64,
    pids: [i32; WORKERS],
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
    unsafe { write_volatile(counter, 0) };
    let mut children = Vec::new();
    for slot in 0..WORKERS {
        // SAFETY: single-threaded process; the child may run arbitrary code.
        match unsafe { fork() }? {
            ForkResult::Parent { child } => children.push(child),
            ForkResult::Child => unsafe {
                write_volatile(&raw mut (*shared).pids[slot], getpid().as_raw());
                for _ in 0..INCREMENTS {
                    if locked {
                        libc::pthread_mutex_lock(lock);
                    }
                    // Non-atomic read-modify-write: another process may write
                    // between our read and our write, and one update is lost.
                    let value = read_volatile(counter);
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

fn main() -> anyhow::Result<()> {
    let shared = map_shared()?;
    run(shared, false)?;
    let children = run(shared, true)?;
    // SAFETY: all children have exited; the parent reads the array they wrote.
    let pids = unsafe { read_volatile(&raw mut (*shared).pids) };
    let matches = pids.iter().zip(&children).all(|(a, b)| *a == b.as_raw());
    println!("shared array: {pids:?} (matches the child pids: {matches})");
    Ok(())
}
