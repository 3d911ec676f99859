//! Lesson: events and locks, across processes and across threads.
//!
//! * An event is a flag plus a condition variable: `wait()` sleeps until some
//!   other process/thread calls `set()`; after that, waiting returns at once.
//! * A lock makes a multi-step critical section atomic: the steps of
//!   different workers never interleave.
//!
//! Across processes both live in MAP_SHARED memory as a pthread mutex and
//! condition variable with the PTHREAD_PROCESS_SHARED attribute. Across
//! threads the standard `Mutex` and `Condvar` do the same job.
//!
//! Run: `cargo run --example event_lock`
//!
//! Expected output (waiters and workers come in varying order):
//! ```text
//! processes: setting the event
//! processes: waiter 2 woke up, event is set      (3 waiters, all after "setting")
//! processes: worker 1 step 1
//! processes: worker 1 step 2
//! processes: worker 1 step 3                     (3 workers, steps never mixed)
//! threads: setting the event
//! threads: waiter 1 woke up, event is set ...    (the same with threads)
//! event: is_set() -> false
//! event: wait(timeout=100ms) -> false after 100 ms (nobody set it)
//! event: set(); is_set() -> true
//! event: wait() -> true at once (already set)
//! event: clear(); is_set() -> false
//! event: wait(timeout=2s) -> true after 50 ms (set by another thread)
//! ```
//!
//! Python → Rust: `multiprocessing.Event()` / `Lock()` → a process-shared
//! pthread condition variable and mutex in `MAP_SHARED` memory;
//! `threading.Event()` → [`Event`] below (a `Mutex<bool>` + `Condvar`):
//! `e.set()`, `e.clear()`, `e.is_set()`, `e.wait(timeout)` (returns whether it
//! is set); `threading.Lock()` / `with lock:` → `Mutex<()>` and its guard.

use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::{Condvar, Mutex};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

#[repr(C)]
struct Shared {
    event_mutex: libc::pthread_mutex_t,
    event_cond: libc::pthread_cond_t,
    event_flag: bool,
    lock: libc::pthread_mutex_t,
}

/// Process-shared event + lock. Only raw pointers into the mapping are used.
struct ProcSync(*mut Shared);

impl ProcSync {
    fn new() -> anyhow::Result<ProcSync> {
        let len = NonZeroUsize::new(size_of::<Shared>()).expect("non-zero size");
        let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        // SAFETY: a fresh zero-filled shared mapping, initialised in place below.
        let s = unsafe { mmap_anonymous(None, len, prot, MapFlags::MAP_SHARED) }?;
        let s = s.as_ptr().cast::<Shared>();
        unsafe {
            let mut ma = std::mem::zeroed::<libc::pthread_mutexattr_t>();
            libc::pthread_mutexattr_init(&mut ma);
            libc::pthread_mutexattr_setpshared(&mut ma, libc::PTHREAD_PROCESS_SHARED);
            let mut ca = std::mem::zeroed::<libc::pthread_condattr_t>();
            libc::pthread_condattr_init(&mut ca);
            libc::pthread_condattr_setpshared(&mut ca, libc::PTHREAD_PROCESS_SHARED);
            let ok = libc::pthread_mutex_init(&raw mut (*s).event_mutex, &ma) == 0
                && libc::pthread_cond_init(&raw mut (*s).event_cond, &ca) == 0
                && libc::pthread_mutex_init(&raw mut (*s).lock, &ma) == 0;
            anyhow::ensure!(ok, "pthread init failed");
        }
        Ok(ProcSync(s))
    }

    fn wait(&self) {
        let s = self.0;
        // SAFETY: the mutex/cond were initialised in new(); the flag is only
        // read or written while holding event_mutex.
        unsafe {
            libc::pthread_mutex_lock(&raw mut (*s).event_mutex);
            while !(*s).event_flag {
                libc::pthread_cond_wait(&raw mut (*s).event_cond, &raw mut (*s).event_mutex);
            }
            libc::pthread_mutex_unlock(&raw mut (*s).event_mutex);
        }
    }

    fn set(&self) {
        let s = self.0;
        // SAFETY: as in wait().
        unsafe {
            libc::pthread_mutex_lock(&raw mut (*s).event_mutex);
            (*s).event_flag = true;
            libc::pthread_cond_broadcast(&raw mut (*s).event_cond);
            libc::pthread_mutex_unlock(&raw mut (*s).event_mutex);
        }
    }

    fn with_lock(&self, f: impl FnOnce()) {
        // SAFETY: the lock mutex was initialised in new().
        unsafe { libc::pthread_mutex_lock(&raw mut (*self.0).lock) };
        f();
        unsafe { libc::pthread_mutex_unlock(&raw mut (*self.0).lock) };
    }
}

/// `threading.Event`: a flag that threads can wait for.
struct Event {
    flag: Mutex<bool>,
    cond: Condvar,
}

impl Event {
    fn new() -> Event {
        Event {
            flag: Mutex::new(false),
            cond: Condvar::new(),
        }
    }

    fn flag(&self) -> std::sync::MutexGuard<'_, bool> {
        self.flag.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the flag and wakes every waiter.
    fn set(&self) {
        *self.flag() = true;
        self.cond.notify_all();
    }

    /// Resets the flag: later waits block again.
    fn clear(&self) {
        *self.flag() = false;
    }

    fn is_set(&self) -> bool {
        *self.flag()
    }

    /// Blocks until the flag is set or `timeout` passes (`None`: no limit);
    /// returns the flag, like Python's `e.wait(timeout)`.
    fn wait(&self, timeout: Option<Duration>) -> bool {
        let guard = self.flag();
        match timeout {
            None => *self
                .cond
                .wait_while(guard, |set| !*set)
                .unwrap_or_else(|e| e.into_inner()),
            Some(t) => {
                let (set, _) = self
                    .cond
                    .wait_timeout_while(guard, t, |set| !*set)
                    .unwrap_or_else(|e| e.into_inner());
                *set
            }
        }
    }
}

fn steps(who: &str, id: usize) {
    for step in 1..=3 {
        println!("{who}: worker {id} step {step}");
        sleep(Duration::from_millis(10)); // invite the others to interleave
    }
}

/// Fork one child per id running `f`, then wait for all of them.
fn in_children(ids: usize, f: impl Fn(usize)) -> anyhow::Result<()> {
    let mut children = Vec::new();
    for id in 0..ids {
        // SAFETY: single-threaded at this point; the child may run any code.
        match unsafe { fork() }? {
            ForkResult::Parent { child } => children.push(child),
            ForkResult::Child => {
                f(id);
                std::io::stdout().flush().ok();
                unsafe { libc::_exit(0) }
            }
        }
    }
    for child in children {
        waitpid(child, None)?;
    }
    Ok(())
}

/// Run `f` on one thread per id, then join them all.
fn in_threads(ids: usize, f: impl Fn(usize) + Sync) {
    thread::scope(|scope| {
        for id in 0..ids {
            let f = &f;
            scope.spawn(move || f(id));
        }
    });
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let sync = ProcSync::new()?;
    // Event: process 0 sets it after a while; processes 1..=3 block in wait().
    in_children(4, |id| {
        if id == 0 {
            sleep(Duration::from_millis(100));
            println!("processes: setting the event");
            sync.set();
        } else {
            sync.wait();
            println!("processes: waiter {id} woke up, event is set");
        }
    })?;
    in_children(3, |id| sync.with_lock(|| steps("processes", id)))?;

    // The same with threads and the standard library's Mutex and Condvar.
    let event = Event::new();
    in_threads(4, |id| {
        if id == 0 {
            sleep(Duration::from_millis(100));
            println!("threads: setting the event");
            event.set();
        } else {
            event.wait(None);
            println!("threads: waiter {id} woke up, event is set");
        }
    });
    let lock = Mutex::new(());
    in_threads(3, |id| {
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        steps("threads", id);
    });
    event_api()
}

/// The rest of `threading.Event`: clear, is_set and waiting with a timeout.
fn event_api() -> anyhow::Result<()> {
    let event = Event::new();
    println!("event: is_set() -> {}", event.is_set());
    let start = Instant::now();
    let got = event.wait(Some(Duration::from_millis(100)));
    let waited = start.elapsed().as_millis();
    println!("event: wait(timeout=100ms) -> {got} after {waited} ms (nobody set it)");
    event.set();
    println!("event: set(); is_set() -> {}", event.is_set());
    println!(
        "event: wait() -> {} at once (already set)",
        event.wait(None)
    );
    event.clear();
    println!("event: clear(); is_set() -> {}", event.is_set());
    thread::scope(|s| {
        s.spawn(|| {
            sleep(Duration::from_millis(50));
            event.set();
        });
        let start = Instant::now();
        let got = event.wait(Some(Duration::from_secs(2)));
        let waited = start.elapsed().as_millis();
        println!("event: wait(timeout=2s) -> {got} after {waited} ms (set by another thread)");
    });
    Ok(())
}
