//! Lesson: a bounded message queue between processes.
//!
//! Built from OS primitives: a pipe carries fixed-size messages, and two
//! process-shared POSIX semaphores (in MAP_SHARED memory) count the free slots
//! and the queued items. `put(msg, block=true)` sleeps while the queue is full
//! and `get(block=true)` while it is empty; with `block=false` they use
//! `sem_trywait` and report "full"/"empty" instead (like Python's
//! `multiprocessing.Queue(maxsize)`).
//!
//! `qsize()`, `empty()` and `full()` read the semaphores' counts
//! (`sem_getvalue`), and `put`/`get` with a timeout use `sem_timedwait`, so
//! they give up after the timeout like Python's `put(msg, timeout=0.1)`
//! (which raises `queue.Full`) and `get(timeout=0.1)` (`queue.Empty`).
//!
//! Run: `cargo run --example message_queue`
//!
//! Expected output (producer/consumer lines interleave differently each run):
//! ```text
//! get(block=false) on an empty queue -> empty
//! put(block=false, "a") -> ok
//! put(block=false, "b") -> ok
//! put(block=false, "c") -> ok
//! put(block=false, "d") -> full (capacity 3)
//! qsize() -> 3, empty() -> false, full() -> true
//! put("d", timeout=100ms) -> full after 100 ms
//! drained: ["a", "b", "c"]
//! qsize() -> 0, empty() -> true, full() -> false
//! get(timeout=100ms) -> empty after 100 ms
//! producer: put msg-0
//! ...
//! producer: queue full, put(msg-3) blocks
//! consumer: got msg-0
//! ...
//! consumer: received 8 messages in order
//! ```
//!
//! Python → Rust: `multiprocessing.Queue(maxsize)` → [`Queue`] (a pipe plus
//! two process-shared semaphores); `q.put(x, block, timeout)` /
//! `q.get(block, timeout)` → `put` / `get` with `sem_wait`, `sem_trywait` or
//! `sem_timedwait`; `q.qsize()`, `q.empty()`, `q.full()` → `sem_getvalue`.

use std::fs::File;
use std::io::{Read, Write};
use std::num::NonZeroUsize;
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork, pipe};

const MSG: usize = 32; // fixed message size, far below PIPE_BUF: writes are atomic

/// A POSIX semaphore living in shared memory (initialised with pshared = 1).
#[derive(Clone, Copy)]
struct Sem(*mut libc::sem_t);

impl Sem {
    fn wait(self) {
        // SAFETY (all three): self.0 points to a semaphore set up by sem_init.
        while unsafe { libc::sem_wait(self.0) } != 0 {
            assert_eq!(Errno::last(), Errno::EINTR, "sem_wait");
        }
    }
    fn try_wait(self) -> bool {
        unsafe { libc::sem_trywait(self.0) == 0 } // fails with EAGAIN at zero
    }
    fn post(self) {
        assert_eq!(unsafe { libc::sem_post(self.0) }, 0, "sem_post");
    }
    /// Waits at most `timeout`; false when it ran out.
    fn wait_timeout(self, timeout: Duration) -> bool {
        // sem_timedwait takes an absolute CLOCK_REALTIME deadline.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970");
        let deadline = now + timeout;
        let ts = libc::timespec {
            tv_sec: deadline.as_secs() as libc::time_t,
            tv_nsec: deadline.subsec_nanos() as libc::c_long,
        };
        loop {
            // SAFETY: as above; ts is a valid timespec.
            if unsafe { libc::sem_timedwait(self.0, &ts) } == 0 {
                return true;
            }
            match Errno::last() {
                Errno::EINTR => continue,
                Errno::ETIMEDOUT => return false,
                e => panic!("sem_timedwait: {e}"),
            }
        }
    }
    /// The semaphore's current count.
    fn value(self) -> i32 {
        let mut v = 0;
        // SAFETY: as above; v is a valid out-pointer.
        assert_eq!(
            unsafe { libc::sem_getvalue(self.0, &mut v) },
            0,
            "sem_getvalue"
        );
        v
    }
}

/// How long a `put` or `get` may wait.
#[derive(Clone, Copy)]
enum Block {
    /// Fail at once (Python's `block=False`).
    No,
    /// Wait as long as it takes (`block=True`, the default).
    Forever,
    /// Wait at most this long (`timeout=...`).
    For(Duration),
}

impl Block {
    fn take(self, sem: Sem) -> bool {
        match self {
            Block::No => sem.try_wait(),
            Block::Forever => {
                sem.wait();
                true
            }
            Block::For(t) => sem.wait_timeout(t),
        }
    }
}

struct Queue {
    free: Sem,  // number of free slots
    items: Sem, // number of queued messages
    rx: File,
    tx: File,
}

impl Queue {
    fn new(capacity: u32) -> anyhow::Result<Queue> {
        let len = NonZeroUsize::new(2 * size_of::<libc::sem_t>()).expect("non-zero");
        let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        // SAFETY: a fresh anonymous mapping; MAP_SHARED so forked children share it.
        let mem = unsafe { mmap_anonymous(None, len, prot, MapFlags::MAP_SHARED) }?;
        let sems = mem.as_ptr().cast::<libc::sem_t>();
        let (free, items) = (Sem(sems), Sem(unsafe { sems.add(1) }));
        // SAFETY: both pointers are inside the mapping; pshared = 1.
        let ok = unsafe {
            libc::sem_init(free.0, 1, capacity) == 0 && libc::sem_init(items.0, 1, 0) == 0
        };
        anyhow::ensure!(ok, "sem_init: {}", Errno::last());
        let (rx, tx) = pipe()?;
        let (rx, tx) = (rx.into(), tx.into());
        Ok(Queue {
            free,
            items,
            rx,
            tx,
        })
    }

    /// Like Python's `put(msg, block, timeout)`: Ok(false) means "full" (it
    /// did not get a free slot in time).
    fn put(&mut self, msg: &str, block: Block) -> anyhow::Result<bool> {
        anyhow::ensure!(msg.len() <= MSG, "message longer than {MSG} bytes");
        let mut buf = [0u8; MSG];
        buf[..msg.len()].copy_from_slice(msg.as_bytes());
        if !block.take(self.free) {
            return Ok(false); // a blocking put sleeps in take() while the queue is full
        }
        self.tx.write_all(&buf)?;
        self.items.post();
        Ok(true)
    }

    /// Like Python's `get(block, timeout)`: Ok(None) means "empty" (nothing
    /// arrived in time).
    fn get(&mut self, block: Block) -> anyhow::Result<Option<String>> {
        if !block.take(self.items) {
            return Ok(None); // a blocking get sleeps in take() while the queue is empty
        }
        let mut buf = [0u8; MSG];
        self.rx.read_exact(&mut buf)?;
        self.free.post();
        let end = buf.iter().position(|&b| b == 0).unwrap_or(MSG);
        Ok(Some(String::from_utf8_lossy(&buf[..end]).into_owned()))
    }

    /// Messages queued now (Python's `qsize()`; a snapshot, as in Python).
    fn qsize(&self) -> i32 {
        self.items.value()
    }

    fn empty(&self) -> bool {
        self.items.value() == 0
    }

    fn full(&self) -> bool {
        self.free.value() == 0
    }

    fn report(&self) {
        println!(
            "qsize() -> {}, empty() -> {}, full() -> {}",
            self.qsize(),
            self.empty(),
            self.full()
        );
    }
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let mut q = Queue::new(3)?;
    if q.get(Block::No)?.is_none() {
        println!("get(block=false) on an empty queue -> empty");
    }
    for msg in ["a", "b", "c", "d"] {
        let ok = q.put(msg, Block::No)?;
        let result = if ok { "ok" } else { "full (capacity 3)" };
        println!("put(block=false, {msg:?}) -> {result}");
    }
    q.report();
    let start = Instant::now();
    let ok = q.put("d", Block::For(Duration::from_millis(100)))?;
    let result = if ok { "ok" } else { "full" };
    let waited = start.elapsed().as_millis();
    println!("put(\"d\", timeout=100ms) -> {result} after {waited} ms");
    let mut drained = Vec::new();
    while let Some(msg) = q.get(Block::No)? {
        drained.push(msg);
    }
    println!("drained: {drained:?}");
    q.report();
    let start = Instant::now();
    let got = q.get(Block::For(Duration::from_millis(100)))?;
    let result = got.as_deref().unwrap_or("empty");
    let waited = start.elapsed().as_millis();
    println!("get(timeout=100ms) -> {result} after {waited} ms");

    const N: usize = 8;
    // SAFETY: single-threaded process; the child may run arbitrary code.
    if let ForkResult::Parent { child } = unsafe { fork() }? {
        let mut received = Vec::new();
        for _ in 0..N {
            sleep(Duration::from_millis(30)); // a slow consumer: the queue fills up
            let msg = q
                .get(Block::Forever)?
                .expect("a blocking get always returns a message");
            println!("consumer: got {msg}");
            received.push(msg);
        }
        waitpid(child, None)?;
        let in_order = received
            .iter()
            .enumerate()
            .all(|(i, m)| *m == format!("msg-{i}"));
        let order = if in_order { "in order" } else { "OUT OF ORDER" };
        println!("consumer: received {} messages {order}", received.len());
    } else {
        for i in 0..N {
            let msg = format!("msg-{i}");
            if !q.put(&msg, Block::No).expect("put") {
                println!("producer: queue full, put({msg}) blocks");
                q.put(&msg, Block::Forever).expect("put");
            }
            println!("producer: put {msg}");
        }
        std::io::stdout().flush().ok();
        // SAFETY: _exit only ends this child process.
        unsafe { libc::_exit(0) }
    }
    Ok(())
}
