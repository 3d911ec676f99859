//! Lesson: a bounded message queue between processes.
//!
//! Built from OS primitives: a pipe carries fixed-size messages, and two
//! process-shared POSIX semaphores (in MAP_SHARED memory) count the free slots
//! and the queued items. `put(msg, block=true)` sleeps while the queue is full
//! and `get(block=true)` while it is empty; with `block=false` they use
//! `sem_trywait` and report "full"/"empty" instead (like Python's
//! `multiprocessing.Queue(maxsize)`).
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
//! drained: ["a", "b", "c"]
//! producer: put msg-0
//! ...
//! producer: queue full, put(msg-3) blocks
//! consumer: got msg-0
//! ...
//! consumer: received 8 messages in order
//! ```

use std::fs::File;
use std::io::{Read, Write};
use std::num::NonZeroUsize;
use std::thread::sleep;
use std::time::Duration;

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

    /// Like Python's `put(msg, block)`: Ok(false) means "full" (only when !block).
    fn put(&mut self, msg: &str, block: bool) -> anyhow::Result<bool> {
        anyhow::ensure!(msg.len() <= MSG, "message longer than {MSG} bytes");
        let mut buf = [0u8; MSG];
        buf[..msg.len()].copy_from_slice(msg.as_bytes());
        if block {
            self.free.wait(); // sleeps while the queue is full
        } else if !self.free.try_wait() {
            return Ok(false);
        }
        self.tx.write_all(&buf)?;
        self.items.post();
        Ok(true)
    }

    /// Like Python's `get(block)`: Ok(None) means "empty" (only when !block).
    fn get(&mut self, block: bool) -> anyhow::Result<Option<String>> {
        if block {
            self.items.wait(); // sleeps while the queue is empty
        } else if !self.items.try_wait() {
            return Ok(None);
        }
        let mut buf = [0u8; MSG];
        self.rx.read_exact(&mut buf)?;
        self.free.post();
        let end = buf.iter().position(|&b| b == 0).unwrap_or(MSG);
        Ok(Some(String::from_utf8_lossy(&buf[..end]).into_owned()))
    }
}

fn main() -> anyhow::Result<()> {
    let mut q = Queue::new(3)?;
    if q.get(false)?.is_none() {
        println!("get(block=false) on an empty queue -> empty");
    }
    for msg in ["a", "b", "c", "d"] {
        let ok = q.put(msg, false)?;
        let result = if ok { "ok" } else { "full (capacity 3)" };
        println!("put(block=false, {msg:?}) -> {result}");
    }
    let mut drained = Vec::new();
    while let Some(msg) = q.get(false)? {
        drained.push(msg);
    }
    println!("drained: {drained:?}");

    const N: usize = 8;
    // SAFETY: single-threaded process; the child may run arbitrary code.
    if let ForkResult::Parent { child } = unsafe { fork() }? {
        let mut received = Vec::new();
        for _ in 0..N {
            sleep(Duration::from_millis(30)); // a slow consumer: the queue fills up
            let msg = q
                .get(true)?
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
            if !q.put(&msg, false).expect("put") {
                println!("producer: queue full, put({msg}) blocks");
                q.put(&msg, true).expect("put");
            }
            println!("producer: put {msg}");
        }
        std::io::stdout().flush().ok();
        // SAFETY: _exit only ends this child process.
        unsafe { libc::_exit(0) }
    }
    Ok(())
}
