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
//! ```

use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::{Condvar, Mutex};
use std::thread::{self, sleep};
use std::time::Duration;

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

fn main() -> anyhow::Result<()> {
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
    let (flag, cond) = (Mutex::new(false), Condvar::new());
    in_threads(4, |id| {
        if id == 0 {
            sleep(Duration::from_millis(100));
            println!("threads: setting the event");
            *flag.lock().unwrap() = true;
            cond.notify_all();
        } else {
            let _set = cond.wait_while(flag.lock().unwrap(), |set| !*set).unwrap();
            println!("threads: waiter {id} woke up, event is set");
        }
    });
    let lock = Mutex::new(());
    in_threads(3, |id| {
        let _guard = lock.lock().unwrap();
        steps("threads", id);
    });
    Ok(())
}
