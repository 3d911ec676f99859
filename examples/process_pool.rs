//! Lesson: a process pool (like Python's `multiprocessing.Pool`).
//!
//! N worker processes are forked once and then fed tasks. All workers read
//! from one shared task pipe and write to one shared result pipe. Each record
//! is a fixed-size message smaller than PIPE_BUF, so writes are atomic and
//! each `read` of one record takes exactly one task: the kernel load-balances
//! tasks between the idle workers.
//!
//! `apply` submits one task and waits for its result (the caller blocks, so
//! tasks given with `apply` run one at a time); `apply_async` submits one task
//! and returns a handle at once, so several run in parallel; `map` submits
//! many and returns the results in input order.
//!
//! Run: `cargo run --example process_pool`
//!
//! Expected output (pids vary; which worker gets which task varies):
//! ```text
//! pool: 4 workers: [401, 402, 403, 404]
//! apply(5) = 25 (computed by pid 401; the caller waited for it)
//! apply x4: 4 results after 82 ms (one task at a time)
//! apply_async x4: 4 results after 21 ms (in parallel)
//! apply_async(7) = 49 (computed by pid 402)
//! map: 0^2 = 0 (pid 401)
//! ...
//! map: 19^2 = 361 (pid 404)
//! map results: [0, 1, 4, 9, ..., 361]
//! pool: 4 of 4 workers exited cleanly
//! ```
//!
//! Python → Rust: `Pool(4)` → `Pool::new(4, func)` (four forked workers
//! reading one task pipe); `pool.apply(f, (x,))` → `apply(x)`;
//! `pool.apply_async(f, (x,))` and `r.get()` → `apply_async(x)` and
//! `get(handle)`; `pool.map(f, xs)` → `map(xs)`; `pool.close(); pool.join()`
//! → `close_and_join()` (closing the task pipe is the "no more work" signal).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, pipe};

/// Task record: [id, input]; result record: [id, worker pid, output].
fn encode<const N: usize>(fields: [u64; N]) -> Vec<u8> {
    fields.iter().flat_map(|f| f.to_ne_bytes()).collect()
}

fn field(buf: &[u8], i: usize) -> u64 {
    u64::from_ne_bytes(buf[8 * i..8 * i + 8].try_into().expect("8 bytes"))
}

struct Pool {
    workers: Vec<Pid>,
    tasks: Option<File>, // write end; dropping it sends EOF = "no more work"
    results: File,       // read end
    next_id: u64,
    done: HashMap<u64, (u64, Pid)>,
}

struct AsyncResult(u64);

impl Pool {
    fn new(n: usize, func: fn(u64) -> u64) -> anyhow::Result<Pool> {
        let (task_r, task_w) = pipe()?;
        let (res_r, res_w) = pipe()?;
        let (mut task_r, mut res_w) = (File::from(task_r), File::from(res_w));
        let mut workers = Vec::new();
        for _ in 0..n {
            // SAFETY: the process is single-threaded, the child may run any code.
            match unsafe { fork() }? {
                ForkResult::Parent { child } => workers.push(child),
                ForkResult::Child => {
                    drop(task_w); // otherwise this worker would never see EOF
                    let mut task = [0u8; 16];
                    while task_r.read_exact(&mut task).is_ok() {
                        let me = getpid().as_raw() as u64;
                        let out = encode([field(&task, 0), me, func(field(&task, 1))]);
                        res_w.write_all(&out).expect("result pipe write");
                    }
                    // SAFETY: _exit ends this worker without running parent cleanup.
                    unsafe { libc::_exit(0) }
                }
            }
        }
        let (tasks, results) = (Some(File::from(task_w)), File::from(res_r));
        let (next_id, done) = (0, HashMap::new());
        Ok(Pool {
            workers,
            tasks,
            results,
            next_id,
            done,
        })
    }

    fn apply_async(&mut self, x: u64) -> anyhow::Result<AsyncResult> {
        let id = self.next_id;
        self.next_id += 1;
        let tasks = self.tasks.as_mut().expect("pool is open");
        tasks.write_all(&encode([id, x]))?;
        Ok(AsyncResult(id))
    }

    /// Block until the result for `handle` arrives; returns (value, worker pid).
    fn get(&mut self, handle: AsyncResult) -> anyhow::Result<(u64, Pid)> {
        while !self.done.contains_key(&handle.0) {
            let mut rec = [0u8; 24];
            self.results.read_exact(&mut rec)?;
            let pid = Pid::from_raw(field(&rec, 1) as i32);
            self.done.insert(field(&rec, 0), (field(&rec, 2), pid));
        }
        Ok(self.done.remove(&handle.0).expect("just inserted"))
    }

    /// Like Python's `pool.apply`: submit one task and wait for its result.
    fn apply(&mut self, x: u64) -> anyhow::Result<(u64, Pid)> {
        let handle = self.apply_async(x)?;
        self.get(handle)
    }

    /// Results in input order. (Fine for up to ~4000 tasks: the pipe buffers them.)
    fn map(&mut self, inputs: impl IntoIterator<Item = u64>) -> anyhow::Result<Vec<(u64, Pid)>> {
        let handles: Vec<_> = inputs.into_iter().map(|x| self.apply_async(x)).collect();
        handles.into_iter().map(|h| self.get(h?)).collect()
    }

    fn close_and_join(mut self) -> anyhow::Result<usize> {
        self.tasks = None; // EOF: each worker's read fails and it exits
        let mut clean = 0;
        for pid in &self.workers {
            if let WaitStatus::Exited(_, 0) = waitpid(*pid, None)? {
                clean += 1;
            }
        }
        Ok(clean)
    }
}

fn square(x: u64) -> u64 {
    sleep(Duration::from_millis(20)); // make the work last long enough to spread out
    x * x
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let mut pool = Pool::new(4, square)?;
    let pids: Vec<String> = pool.workers.iter().map(Pid::to_string).collect();
    println!("pool: {} workers: [{}]", pids.len(), pids.join(", "));

    let (value, pid) = pool.apply(5)?;
    println!("apply(5) = {value} (computed by pid {pid}; the caller waited for it)");
    let start = Instant::now();
    for x in 0..4 {
        pool.apply(x)?;
    }
    let ms = start.elapsed().as_millis();
    println!("apply x4: 4 results after {ms} ms (one task at a time)");
    let start = Instant::now();
    let handles = (0..4)
        .map(|x| pool.apply_async(x))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for h in handles {
        pool.get(h)?;
    }
    let ms = start.elapsed().as_millis();
    println!("apply_async x4: 4 results after {ms} ms (in parallel)");

    let handle = pool.apply_async(7)?;
    let (value, pid) = pool.get(handle)?;
    println!("apply_async(7) = {value} (computed by pid {pid})");

    let results = pool.map(0..20)?;
    for (x, (value, pid)) in results.iter().enumerate() {
        println!("map: {x}^2 = {value} (pid {pid})");
    }
    let values: Vec<u64> = results.iter().map(|r| r.0).collect();
    println!("map results: {values:?}");

    let n = pool.workers.len();
    let clean = pool.close_and_join()?;
    println!("pool: {clean} of {n} workers exited cleanly");
    Ok(())
}
