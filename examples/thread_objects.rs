//! Lesson: thread objects, like Python's `threading.Thread`.
//!
//! [`Thread`] wraps `std::thread` with the interface the course uses: a name,
//! `start()`, `is_alive()`, `join(timeout)`, a `daemon` flag, and
//! `current_thread()`. A "thread class" (the course's subclass of `Thread`
//! with its own `run`) is any type implementing [`Run`].
//!
//! 1. A thread object before start, while running (it sees its own name
//!    through the current thread), after a `join` that timed out (still
//!    alive) and after a full `join`.
//! 2. A thread class: `Counter` implements `Run` and keeps its result in its
//!    own fields, which the joiner gets back.
//! 3. Daemon threads: when `main` returns the process ends, and every thread
//!    still running ends with it — that is Python's `daemon = True`. Python
//!    waits for the other (non-daemon) threads before exiting; in Rust that
//!    join is explicit, here [`Threads::join_non_daemon`]. A daemon thread
//!    that would print after 10 s never does; the non-daemon one finishes.
//!
//! Run: `cargo run --example thread_objects`
//!
//! Expected output (ids and times vary):
//! ```text
//! main: current_thread name=main id=ThreadId(1)
//! worker-1: before start: is_alive=false
//! worker-1: started: is_alive=true
//! worker-1: running; current_thread name=worker-1 id=ThreadId(2)
//! worker-1: join(timeout=100ms) returned after 100 ms: is_alive=true
//! worker-1: join() returned: is_alive=false
//! counter-thread: counted to 1000 in thread counter-thread
//! counter-thread: joined, total=500500
//! daemon: started daemon-ticker (daemon=true) and saver (daemon=false)
//! daemon: saver finished its work
//! daemon: main joins the non-daemon threads and returns; daemon-ticker is still running and ends with the process
//! ```
//!
//! Python → Rust: `threading.Thread(target=f, name=n)` → `Thread::new(n,
//! f)` (`std::thread::Builder::new().name(n).spawn(f)`); `t.start()`,
//! `t.join(timeout)`, `t.is_alive()` → the same methods (a finished flag and a
//! condition variable give `join` its timeout; `JoinHandle::is_finished`
//! gives `is_alive`); `t.name` / `t.setName()` → the builder's name;
//! `threading.current_thread()` → `std::thread::current()`;
//! `t.daemon = True` → a thread that is not joined before `main` returns; a
//! `Thread` subclass with `run()` → a type implementing [`Run`].

use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle, sleep};
use std::time::{Duration, Instant};

/// What a thread runs: the course's `Thread` subclass with its own `run`.
trait Run: Send + 'static {
    fn run(&mut self);
}

/// Any closure is a target (`Thread(target=f)`).
impl<F: FnMut() + Send + 'static> Run for F {
    fn run(&mut self) {
        self()
    }
}

/// Set when the thread's body has returned, so `join` can wait with a timeout.
#[derive(Default)]
struct Finished {
    done: Mutex<bool>,
    cond: Condvar,
}

/// A thread with Python's `threading.Thread` interface. `R` comes back from
/// `join`, so a thread class can hand over what it computed.
struct Thread<R: Run> {
    name: String,
    target: Option<R>,
    /// Whether the process may end without waiting for this thread.
    daemon: bool,
    handle: Option<JoinHandle<R>>,
    finished: Arc<Finished>,
}

impl<R: Run> Thread<R> {
    fn new(name: &str, target: R) -> Thread<R> {
        Thread {
            name: name.to_string(),
            target: Some(target),
            daemon: false,
            handle: None,
            finished: Arc::default(),
        }
    }

    fn start(&mut self) -> anyhow::Result<()> {
        let mut target = self
            .target
            .take()
            .ok_or(anyhow::anyhow!("already started"))?;
        let finished = Arc::clone(&self.finished);
        let handle = thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || {
                target.run();
                *finished.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
                finished.cond.notify_all();
                target
            })?;
        self.handle = Some(handle);
        Ok(())
    }

    fn is_alive(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Waits at most `timeout` for the thread to finish; like Python's, it
    /// returns either way (check `is_alive()` after).
    fn join_timeout(&self, timeout: Duration) {
        let done = self.finished.done.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .finished
            .cond
            .wait_timeout_while(done, timeout, |done| !*done);
    }

    /// Waits for the thread to finish and gives back its `Run` object.
    fn join(&mut self) -> anyhow::Result<R> {
        let handle = self.handle.take().ok_or(anyhow::anyhow!("not started"))?;
        handle
            .join()
            .map_err(|_| anyhow::anyhow!("thread {} panicked", self.name))
    }
}

/// A thread class: adds 1..=n and keeps the total.
struct Counter {
    n: u64,
    total: u64,
}

impl Run for Counter {
    fn run(&mut self) {
        self.total = (1..=self.n).sum();
        let me = thread::current();
        let name = me.name().unwrap_or("?");
        println!("counter-thread: counted to {} in thread {name}", self.n);
    }
}

/// The threads `main` started, so it can do what Python does at exit: wait
/// for the non-daemon ones and leave the daemons to end with the process.
#[derive(Default)]
struct Threads {
    non_daemon: Vec<JoinHandle<Box<dyn Run>>>,
    daemon: Vec<String>,
}

impl Threads {
    fn start(&mut self, name: &str, daemon: bool, target: Box<dyn Run>) -> anyhow::Result<()> {
        let mut t = Thread::new(name, target);
        t.daemon = daemon;
        t.start()?;
        if t.daemon {
            self.daemon.push(name.to_string()); // never joined
        } else if let Some(h) = t.handle.take() {
            self.non_daemon.push(h);
        }
        Ok(())
    }

    fn join_non_daemon(self) -> Vec<String> {
        for h in self.non_daemon {
            let _ = h.join();
        }
        self.daemon
    }
}

impl Run for Box<dyn Run> {
    fn run(&mut self) {
        (**self).run()
    }
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let me = thread::current();
    println!(
        "main: current_thread name={} id={:?}",
        me.name().unwrap_or("?"),
        me.id()
    );

    let mut t = Thread::new("worker-1", || {
        let me = thread::current();
        let name = me.name().unwrap_or("?");
        println!(
            "worker-1: running; current_thread name={name} id={:?}",
            me.id()
        );
        sleep(Duration::from_millis(300));
    });
    println!("worker-1: before start: is_alive={}", t.is_alive());
    t.start()?;
    println!("worker-1: started: is_alive={}", t.is_alive());
    let start = Instant::now();
    t.join_timeout(Duration::from_millis(100));
    let waited = start.elapsed().as_millis();
    println!(
        "worker-1: join(timeout=100ms) returned after {waited} ms: is_alive={}",
        t.is_alive()
    );
    let _worker = t.join()?;
    println!("worker-1: join() returned: is_alive={}", t.is_alive());

    let mut counter = Thread::new("counter-thread", Counter { n: 1000, total: 0 });
    counter.start()?;
    let counted = counter.join()?;
    println!("counter-thread: joined, total={}", counted.total);

    let mut threads = Threads::default();
    threads.start(
        "daemon-ticker",
        true,
        Box::new(|| {
            sleep(Duration::from_secs(10));
            println!("daemon: daemon-ticker finished (never printed: the process ends first)");
        }),
    )?;
    threads.start(
        "saver",
        false,
        Box::new(|| {
            sleep(Duration::from_millis(200));
            println!("daemon: saver finished its work");
        }),
    )?;
    println!("daemon: started daemon-ticker (daemon=true) and saver (daemon=false)");
    let still_running = threads.join_non_daemon();
    println!(
        "daemon: main joins the non-daemon threads and returns; {} is still running and ends with the process",
        still_running.join(", ")
    );
    Ok(())
}
