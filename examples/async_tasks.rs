//! Lesson: gevent's `spawn` / `joinall` / `sleep` and monkey patching, as tokio.
//!
//! gevent runs many coroutines on one thread: its hub switches to another
//! coroutine whenever the running one would block (`gevent.sleep`, or a
//! socket call once `monkey.patch_all()` has made the blocking calls yield).
//! tokio's current-thread runtime is that hub: one thread, tasks that give the
//! thread up at every `.await` that has to wait.
//!
//! 1. `gevent.spawn` → `tokio::spawn`: three tasks sleep 450, 150 and 300 ms.
//!    Spawning only schedules them (none starts until main awaits); they all
//!    start at once on the one thread, finish in order of their sleeps, and
//!    the whole thing takes about the longest sleep, not the sum.
//!    `gevent.joinall([...])` → awaiting each `JoinHandle`.
//! 2. `gevent.joinall(list, timeout=0.3)` → `tokio::time::timeout` around a
//!    `JoinSet`: the wait gives up after 300 ms while the slow task is still
//!    running (joinall does not kill it); then it is cancelled with `abort()`
//!    (gevent: `g.kill()`).
//! 3. Monkey patching. gevent patches `time.sleep` and `socket` so that they
//!    yield to the hub. Rust patches nothing: you call the runtime's own
//!    versions instead (`tokio::time::sleep`, `tokio::net::TcpStream`, ...).
//!    Forget, and call a blocking function such as `std::thread::sleep` in a
//!    task, and it blocks the only thread: every other task waits, and three
//!    150 ms sleeps take 450 ms (the sum). With `tokio::time::sleep` the same
//!    three take 150 ms (the longest).
//!
//! Run: `cargo run --example async_tasks`
//!
//! Expected output (pid, tid and elapsed times vary):
//! ```text
//! main: pid=4100 tid=4100, tokio current-thread runtime, unit 150 ms
//! == 1. gevent.spawn + gevent.joinall -> tokio::spawn + awaiting the JoinHandles ==
//! main: spawned 3 tasks; started so far: 0 (they run once main awaits)
//! task 1: started on tid=4100, sleeping 450 ms
//! task 2: started on tid=4100, sleeping 150 ms
//! task 3: started on tid=4100, sleeping 300 ms
//! task 2: finished its 150 ms sleep
//! task 3: finished its 300 ms sleep
//! task 1: finished its 450 ms sleep
//! joinall: results in spawn order [1, 2, 3]
//! joinall: sleeps 450 + 150 + 300 = 900 ms; elapsed 452 ms (the longest sleep, not the sum)
//! joinall: 3 tasks ran on 1 thread (tid=4100, the main thread: true)
//! == 2. gevent.joinall(list, timeout) -> tokio::time::timeout(JoinSet) ==
//! quick: started, sleeping 150 ms
//! slow: started, sleeping 3000 ms
//! quick: finished
//! joinall(timeout=300 ms): gave up after 301 ms with 1 of 2 tasks finished
//! joinall: slow is still running: is_finished() = false
//! main: slow.abort() (gevent: slow.kill())
//! joinall: slow ended: cancelled = true
//! == 3. monkey patching: blocking calls vs the runtime's own ==
//! blocking 1: start, std::thread::sleep(150 ms)
//! blocking 1: done
//! blocking 2: start, std::thread::sleep(150 ms)
//! blocking 2: done
//! blocking 3: start, std::thread::sleep(150 ms)
//! blocking 3: done
//! blocking: each task finished before the next one started: true
//! blocking: 3 x 150 ms with std::thread::sleep: elapsed 451 ms (the sum: the thread was blocked, tasks ran one after another)
//! tokio 1: start, tokio::time::sleep(150 ms)
//! tokio 2: start, tokio::time::sleep(150 ms)
//! tokio 3: start, tokio::time::sleep(150 ms)
//! tokio: all 3 started before the first finished: true
//! tokio: 3 x 150 ms with tokio::time::sleep: elapsed 151 ms (one sleep: they waited together)
//! ```
//!
//! Python → Rust:
//! - gevent's hub (one thread) → `tokio::runtime::Builder::new_current_thread()`
//! - `gevent.spawn(func, arg)` → `tokio::spawn(func(arg))` (returns a `JoinHandle`)
//! - `gevent.joinall([g1, g2])` → `for h in handles { h.await }` (or a `JoinSet`)
//! - `gevent.joinall(list, timeout)` → `tokio::time::timeout(d, join_all)`
//! - `g.value` → the `JoinHandle`'s output; `g.dead` → `is_finished()`
//! - `g.kill()` → `abort()` (the task ends at its next `.await`)
//! - `gevent.sleep(n)` → `tokio::time::sleep(d).await`
//! - `monkey.patch_all()` → nothing to patch: use `tokio::time` and `tokio::net`
//!   instead of `std::thread::sleep` and `std::net` inside tasks
//! - `threading.get_native_id()` → `nix::unistd::gettid()` (the OS thread id)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::unistd::{getpid, gettid};
use tokio::task::JoinSet;
use tokio::time::sleep;

/// The time unit every sleep is a multiple of.
const UNIT: Duration = Duration::from_millis(150);

/// Tasks of part 1 that have started.
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// Part 1's task: note the thread it runs on, sleep, return its number and thread id.
async fn task(n: u32, nap: Duration) -> (u32, i32) {
    STARTED.fetch_add(1, Ordering::SeqCst);
    let tid = gettid().as_raw();
    println!(
        "task {n}: started on tid={tid}, sleeping {} ms",
        nap.as_millis()
    );
    sleep(nap).await; // gevent.sleep(): this task pauses, the thread runs the others
    println!("task {n}: finished its {} ms sleep", nap.as_millis());
    (n, tid)
}

async fn spawn_and_joinall() -> anyhow::Result<()> {
    println!("== 1. gevent.spawn + gevent.joinall -> tokio::spawn + awaiting the JoinHandles ==");
    let naps = [3 * UNIT, UNIT, 2 * UNIT];
    let start = Instant::now();
    let handles: Vec<_> = (1..)
        .zip(naps)
        .map(|(n, nap)| tokio::spawn(task(n, nap)))
        .collect();
    println!(
        "main: spawned 3 tasks; started so far: {} (they run once main awaits)",
        STARTED.load(Ordering::SeqCst)
    );
    // joinall: wait for every task, in the order they were spawned.
    let mut results = Vec::new();
    let mut tids = Vec::new();
    for handle in handles {
        let (n, tid) = handle.await?;
        results.push(n);
        if !tids.contains(&tid) {
            tids.push(tid);
        }
    }
    let elapsed = start.elapsed().as_millis();
    let sum: Duration = naps.iter().sum();
    let longest = naps.iter().max().copied().unwrap_or_default();
    println!("joinall: results in spawn order {results:?}");
    println!(
        "joinall: sleeps {} = {} ms; elapsed {elapsed} ms ({})",
        naps.map(|d| d.as_millis().to_string()).join(" + "),
        sum.as_millis(),
        if elapsed >= longest.as_millis() && elapsed < sum.as_millis() {
            "the longest sleep, not the sum"
        } else {
            "unexpected"
        }
    );
    let main_tid = gettid().as_raw();
    println!(
        "joinall: 3 tasks ran on {} thread (tid={}, the main thread: {})",
        tids.len(),
        tids.first().copied().unwrap_or(-1),
        tids == [main_tid]
    );
    Ok(())
}

async fn named(name: &'static str, nap: Duration) -> &'static str {
    println!("{name}: started, sleeping {} ms", nap.as_millis());
    sleep(nap).await;
    println!("{name}: finished");
    name
}

async fn joinall_with_timeout() -> anyhow::Result<()> {
    println!("== 2. gevent.joinall(list, timeout) -> tokio::time::timeout(JoinSet) ==");
    let mut set = JoinSet::new();
    set.spawn(named("quick", UNIT));
    let slow = set.spawn(named("slow", Duration::from_secs(3)));
    let limit = 2 * UNIT;
    let start = Instant::now();
    let mut finished = 0;
    let joined = tokio::time::timeout(limit, async {
        while let Some(done) = set.join_next().await {
            done?;
            finished += 1;
        }
        anyhow::Ok(())
    })
    .await;
    let waited = start.elapsed().as_millis();
    match joined {
        Ok(result) => {
            result?;
            println!(
                "joinall(timeout={} ms): every task finished in {waited} ms",
                limit.as_millis()
            );
        }
        Err(_elapsed) => println!(
            "joinall(timeout={} ms): gave up after {waited} ms with {finished} of 2 tasks finished",
            limit.as_millis()
        ),
    }
    // Like gevent, giving up the wait does not stop the task.
    println!(
        "joinall: slow is still running: is_finished() = {}",
        slow.is_finished()
    );
    println!("main: slow.abort() (gevent: slow.kill())");
    slow.abort();
    while let Some(done) = set.join_next().await {
        match done {
            Ok(name) => println!("joinall: {name} ended normally"),
            Err(e) => println!("joinall: slow ended: cancelled = {}", e.is_cancelled()),
        }
    }
    Ok(())
}

/// Events of part 3, in the order they happened.
type Log = Arc<Mutex<Vec<(u32, &'static str)>>>;

fn log(events: &Log, n: u32, what: &'static str) {
    events
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push((n, what));
}

/// Spawns three tasks that each sleep one unit, blocking or not; returns the elapsed time.
async fn three_sleepers(blocking: bool) -> anyhow::Result<(u128, Vec<(u32, &'static str)>)> {
    let events: Log = Arc::default();
    let start = Instant::now();
    let mut set = JoinSet::new();
    for n in 1..=3 {
        let events = Arc::clone(&events);
        set.spawn(async move {
            log(&events, n, "start");
            if blocking {
                println!(
                    "blocking {n}: start, std::thread::sleep({} ms)",
                    UNIT.as_millis()
                );
                // Not patched: blocks the runtime's only thread.
                std::thread::sleep(UNIT);
                println!("blocking {n}: done");
            } else {
                println!(
                    "tokio {n}: start, tokio::time::sleep({} ms)",
                    UNIT.as_millis()
                );
                sleep(UNIT).await; // the runtime's own sleep: yields the thread
            }
            log(&events, n, "done");
        });
    }
    while let Some(done) = set.join_next().await {
        done?;
    }
    let elapsed = start.elapsed().as_millis();
    let events = events
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    Ok((elapsed, events))
}

async fn monkey_patching() -> anyhow::Result<()> {
    println!("== 3. monkey patching: blocking calls vs the runtime's own ==");
    let unit = UNIT.as_millis();
    let (elapsed, events) = three_sleepers(true).await?;
    let one_by_one = events
        .chunks(2)
        .all(|pair| matches!(pair, [(a, "start"), (b, "done")] if a == b));
    println!("blocking: each task finished before the next one started: {one_by_one}");
    println!(
        "blocking: 3 x {unit} ms with std::thread::sleep: elapsed {elapsed} ms ({})",
        if elapsed >= 3 * unit {
            "the sum: the thread was blocked, tasks ran one after another"
        } else {
            "unexpected"
        }
    );
    let (elapsed, events) = three_sleepers(false).await?;
    let last_start = events.iter().rposition(|(_, what)| *what == "start");
    let first_done = events.iter().position(|(_, what)| *what == "done");
    println!(
        "tokio: all 3 started before the first finished: {}",
        matches!((last_start, first_done), (Some(s), Some(d)) if s < d)
    );
    println!(
        "tokio: 3 x {unit} ms with tokio::time::sleep: elapsed {elapsed} ms ({})",
        if elapsed < 2 * unit {
            "one sleep: they waited together"
        } else {
            "unexpected"
        }
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    // gevent's hub: one thread runs every coroutine. Here: a current-thread
    // runtime; `block_on` runs it on this (the main) thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    println!(
        "main: pid={} tid={}, tokio current-thread runtime, unit {} ms",
        getpid(),
        gettid(),
        UNIT.as_millis()
    );
    runtime.block_on(async {
        spawn_and_joinall().await?;
        joinall_with_timeout().await?;
        monkey_patching().await
    })
}
