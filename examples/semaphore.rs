//! Lesson: a process-shared semaphore limits concurrency.
//!
//! A POSIX semaphore initialised to K (with `sem_init(.., pshared=1, K)`) in
//! MAP_SHARED memory lets at most K of N processes into the critical section
//! at once. Each process counts itself in and out with atomics in the same
//! shared memory, and records the highest concurrency it observed. The
//! semaphore's value (`sem_getvalue`, Python's `sem.get_value()`) counts the
//! free places: each acquire takes one, each release gives one back.
//!
//! Run: `cargo run --example semaphore`
//!
//! Expected output (order and pids vary):
//! ```text
//! get_value() -> 2 (initial)
//! acquire(); get_value() -> 1
//! release(); get_value() -> 2
//! 6 processes, at most 2 at a time
//! pid 701 enters (inside: 1)
//! pid 702 enters (inside: 2)
//! pid 701 leaves
//! pid 703 enters (inside: 2)
//! ...
//! max concurrency observed: 2 (limit 2)
//! get_value() -> 2 after every process released it
//! ```
//!
//! Python → Rust: `multiprocessing.Semaphore(2)` → `sem_init(sem, 1, 2)` in
//! `MAP_SHARED` memory; `sem.acquire()` → `sem_wait`; `sem.release()` →
//! `sem_post`; `sem.get_value()` → `sem_getvalue`.

use std::cell::UnsafeCell;
use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, getpid};

const PROCESSES: usize = 6;
const LIMIT: u32 = 2;

#[repr(C)]
struct Shared {
    sem: UnsafeCell<libc::sem_t>, // changed by sem_* calls through &Shared
    inside: AtomicU32,            // lock-free atomics work across processes too
    max_inside: AtomicU32,
}

/// The semaphore's value: how many more may enter now.
fn get_value(sem: *mut libc::sem_t) -> i32 {
    let mut value = 0;
    // SAFETY: `sem` was initialised by sem_init; value is a valid out-pointer.
    let rc = unsafe { libc::sem_getvalue(sem, &mut value) };
    assert_eq!(rc, 0, "sem_getvalue: {}", Errno::last());
    value
}

fn acquire(sem: *mut libc::sem_t) {
    // SAFETY: `sem` was initialised by sem_init and stays mapped.
    while unsafe { libc::sem_wait(sem) } != 0 {
        assert_eq!(Errno::last(), Errno::EINTR, "sem_wait");
    }
}

fn release(sem: *mut libc::sem_t) {
    // SAFETY: as above.
    let rc = unsafe { libc::sem_post(sem) };
    assert_eq!(rc, 0, "sem_post: {}", Errno::last());
}

fn worker(shared: &Shared) -> ! {
    let sem = shared.sem.get();
    acquire(sem);
    let now = shared.inside.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_inside.fetch_max(now, Ordering::SeqCst);
    println!("pid {} enters (inside: {now})", getpid());
    sleep(Duration::from_millis(100)); // the "work" inside the limited section
    println!("pid {} leaves", getpid());
    shared.inside.fetch_sub(1, Ordering::SeqCst);
    release(sem);
    std::io::stdout().flush().ok();
    // SAFETY: _exit only ends this child.
    unsafe { libc::_exit(0) }
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let len = NonZeroUsize::new(size_of::<Shared>()).expect("non-zero size");
    let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    // SAFETY: a fresh zero-filled mapping; all-zero bytes are valid atomics.
    let mem = unsafe { mmap_anonymous(None, len, prot, MapFlags::MAP_SHARED) }?;
    let shared = mem.as_ptr().cast::<Shared>();
    // SAFETY: initialise the semaphore in place; pshared = 1 for processes.
    let rc = unsafe { libc::sem_init(UnsafeCell::raw_get(&raw const (*shared).sem), 1, LIMIT) };
    anyhow::ensure!(rc == 0, "sem_init: {}", Errno::last());
    // SAFETY: from now on the semaphore is only used through libc calls.
    let shared: &Shared = unsafe { &*shared };

    let sem = shared.sem.get();
    println!("get_value() -> {} (initial)", get_value(sem));
    acquire(sem);
    println!("acquire(); get_value() -> {}", get_value(sem));
    release(sem);
    println!("release(); get_value() -> {}", get_value(sem));

    println!("{PROCESSES} processes, at most {LIMIT} at a time");
    let mut children = Vec::new();
    for _ in 0..PROCESSES {
        // SAFETY: single-threaded process; the child may run arbitrary code.
        match unsafe { fork() }? {
            ForkResult::Child => worker(shared),
            ForkResult::Parent { child } => children.push(child),
        }
    }
    let mut ok = 0;
    for child in children {
        if let WaitStatus::Exited(_, 0) = waitpid(child, None)? {
            ok += 1;
        }
    }
    let max = shared.max_inside.load(Ordering::SeqCst);
    println!("{ok} of {PROCESSES} processes finished");
    println!("max concurrency observed: {max} (limit {LIMIT})");
    println!(
        "get_value() -> {} after every process released it",
        get_value(sem)
    );
    Ok(())
}
