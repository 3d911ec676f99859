//! Lesson: Python's `yield` and generators, in Rust terms.
//!
//! A Python generator is a function that can pause: `yield v` hands `v` to the
//! caller and freezes the function (its local variables and where it stopped);
//! the next `next(gen)` resumes it right after the `yield`. Stable Rust has no
//! `yield`, so we write what the Python compiler builds for us: a state
//! machine.
//!
//! 1. A generator as a hand-written state machine: an enum of states (created,
//!    suspended at a `yield` with its local variables, finished) that
//!    implements `Iterator`; each `next()` runs the body up to the next
//!    "yield". The printed lines show caller and generator taking turns.
//! 2. `std::iter::from_fn`: the closure form; the captured variables are the
//!    generator's frozen locals. An infinite generator is fine, the caller
//!    takes what it needs.
//! 3. Laziness: creating a generator runs none of its body, and one that is
//!    never resumed never does any more work.
//! 4. Two-way communication, Python's `gen.send(x)`: a `send` method on the
//!    state machine passes a value in at the paused `yield` and gets the next
//!    yielded value back; `close()` finishes it.
//! 5. An `async fn` polled by hand: the same dance with `Future::poll` in
//!    the role of `next()` and `.await` in the role of `yield`.
//!
//! This is also what `async fn` is: the compiler turns an `async fn` into
//! exactly such an enum, one state per `.await` point holding the variables
//! still alive there, and `Future::poll` plays `next()`: it runs the body to
//! the next `.await` that cannot finish yet and returns `Poll::Pending` (a
//! "yield"), or `Poll::Ready(value)` when the body returns. Coroutines in
//! Rust are state machines that a caller (an executor) resumes.
//!
//! Run: `cargo run --example generators`
//!
//! Expected output:
//! ```text
//! == 1. a generator as a state machine (impl Iterator) ==
//! main: created the generator: Created { n: 3 } (its body has not run)
//! main: calling next()
//! gen: started
//! gen: yield 1
//! main: got 1
//! main: calling next()
//! gen: resumed after yield 1
//! gen: yield 2
//! main: got 2
//! main: calling next()
//! gen: resumed after yield 2
//! gen: yield 3
//! main: got 3
//! main: calling next()
//! gen: resumed after yield 3
//! gen: finished (Python raises StopIteration)
//! main: next() returned None
//! == 2. the closure form: std::iter::from_fn ==
//! from_fn: first 10 Fibonacci numbers: [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]
//! from_fn: the closure ran 10 times for take(10) of an endless generator
//! == 3. laziness ==
//! lazy: created squares(1000000); steps run so far: 0
//! lazy: next() -> Some(1); steps run so far: 1
//! lazy: next() -> Some(4); steps run so far: 2
//! lazy: dropped after 2 steps; the other 999998 squares were never computed
//! lazy: map() adapter built; values computed so far: 0
//! lazy: map: computing 10
//! lazy: map: computing 20
//! lazy: took 2 -> [10, 20]; values computed: 2 of 5
//! == 4. two-way: send() ==
//! send: main: next(gen) to prime it
//! send: gen: started, waiting at the first yield
//! send: main: send(10) -> average 10.0
//! send: main: send(20) -> average 15.0
//! send: main: send(12) -> average 14.0
//! send: main: close()
//! send: gen: closed after 3 values
//! send: main: send(5) after close -> Err(StopIteration)
//! == 5. an async fn is such a state machine ==
//! async: main: created the future (its body has not run)
//! async: main: calling poll()
//! async: fut: started
//! async: main: poll() -> Pending (paused at the 1st .await)
//! async: main: calling poll()
//! async: fut: resumed after the 1st .await
//! async: main: poll() -> Pending (paused at the 2nd .await)
//! async: main: calling poll()
//! async: fut: resumed after the 2nd .await, returning 42
//! async: main: poll() -> Ready(42)
//! ```
//!
//! Python → Rust:
//! - `def gen(): ... yield v` → an enum of states + `impl Iterator { fn next }`
//! - `next(gen)` → `gen.next()` (`None` where Python raises `StopIteration`)
//! - `for x in gen:` → `for x in gen` (same protocol: `IntoIterator`)
//! - a generator expression / closure-based generator → `std::iter::from_fn`
//! - `itertools.islice(gen, 10)` → `.take(10)`; `map(f, gen)` → `.map(f)` (lazy too)
//! - `gen.send(x)` → a `send(x)` method on the state machine
//! - `gen.close()` → a `close()` method (state becomes `Closed`)
//! - a coroutine that suspends at `await` → `async fn` (compiled to such an enum),
//!   resumed with `Future::poll` (`Poll::Pending` = paused, `Poll::Ready` = returned)

use std::cell::Cell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

/// Python:
/// ```python
/// def counter(n):
///     print("gen: started")
///     for i in range(1, n + 1):
///         yield i
///         print(f"gen: resumed after yield {i}")
///     print("gen: finished")
/// ```
/// Each variant is a place the function can be paused, with the locals alive there.
#[derive(Debug)]
enum Counter {
    /// Made, body not started (Python: the generator object before the first `next`).
    Created { n: u32 },
    /// Paused at `yield i`.
    Suspended { i: u32, n: u32 },
    /// Returned; every further `next()` gives `None`.
    Finished,
}

impl Iterator for Counter {
    type Item = u32;

    /// Runs the body from where it paused to the next `yield` (or to its end).
    fn next(&mut self) -> Option<u32> {
        match *self {
            Counter::Created { n } => {
                println!("gen: started");
                self.yield_or_finish(1, n)
            }
            Counter::Suspended { i, n } => {
                println!("gen: resumed after yield {i}");
                self.yield_or_finish(i + 1, n)
            }
            Counter::Finished => None,
        }
    }
}

impl Counter {
    /// The loop head of `for i in range(1, n + 1)`: either `yield i` or fall off the end.
    fn yield_or_finish(&mut self, i: u32, n: u32) -> Option<u32> {
        if i <= n {
            println!("gen: yield {i}");
            *self = Counter::Suspended { i, n };
            Some(i)
        } else {
            println!("gen: finished (Python raises StopIteration)");
            *self = Counter::Finished;
            None
        }
    }
}

fn state_machine() {
    println!("== 1. a generator as a state machine (impl Iterator) ==");
    let mut generator = Counter::Created { n: 3 };
    println!("main: created the generator: {generator:?} (its body has not run)");
    loop {
        println!("main: calling next()");
        match generator.next() {
            Some(value) => println!("main: got {value}"),
            None => {
                println!("main: next() returned None");
                break;
            }
        }
    }
}

fn closure_form() {
    println!("== 2. the closure form: std::iter::from_fn ==");
    // Python:
    //   def fib():
    //       a, b = 0, 1
    //       while True:
    //           yield a
    //           a, b = b, a + b
    // The captured (a, b) are the generator's frozen locals.
    let calls = Cell::new(0);
    let (mut a, mut b) = (0u64, 1u64);
    let fib = std::iter::from_fn(|| {
        calls.set(calls.get() + 1);
        let value = a;
        (a, b) = (b, a + b);
        Some(value) // never None: an endless generator
    });
    let first: Vec<u64> = fib.take(10).collect();
    println!("from_fn: first 10 Fibonacci numbers: {first:?}");
    println!(
        "from_fn: the closure ran {} times for take(10) of an endless generator",
        calls.get()
    );
}

/// `def squares(n): for i in range(1, n + 1): yield i * i`, counting the steps it runs.
struct Squares<'a> {
    next_i: u64,
    n: u64,
    steps: &'a Cell<u64>,
}

impl Iterator for Squares<'_> {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        if self.next_i > self.n {
            return None;
        }
        self.steps.set(self.steps.get() + 1);
        let i = self.next_i;
        self.next_i += 1;
        Some(i * i)
    }
}

fn laziness() {
    println!("== 3. laziness ==");
    let steps = Cell::new(0);
    let n = 1_000_000;
    {
        let mut squares = Squares {
            next_i: 1,
            n,
            steps: &steps,
        };
        println!(
            "lazy: created squares({n}); steps run so far: {}",
            steps.get()
        );
        for _ in 0..2 {
            let value = squares.next();
            println!(
                "lazy: next() -> {value:?}; steps run so far: {}",
                steps.get()
            );
        }
    } // `squares` is dropped here, never resumed again: the rest of its body never runs
    println!(
        "lazy: dropped after {} steps; the other {} squares were never computed",
        steps.get(),
        n - steps.get()
    );

    // Iterator adapters are lazy generators too (Python 3's map() is as well).
    let computed = Cell::new(0);
    let tens = [1, 2, 3, 4, 5].into_iter().map(|x| {
        computed.set(computed.get() + 1);
        println!("lazy: map: computing {}", x * 10);
        x * 10
    });
    println!(
        "lazy: map() adapter built; values computed so far: {}",
        computed.get()
    );
    let taken: Vec<i32> = tens.take(2).collect();
    println!(
        "lazy: took 2 -> {taken:?}; values computed: {} of 5",
        computed.get()
    );
}

/// Python:
/// ```python
/// def averager():
///     print("gen: started, waiting at the first yield")
///     total, count, average = 0, 0, None
///     while True:
///         value = yield average      # send(value) resumes here
///         total += value; count += 1
///         average = total / count
/// ```
enum Averager {
    Created,
    /// Paused at `value = yield average`, waiting for `send`.
    Waiting {
        total: f64,
        count: u32,
    },
    Closed,
}

/// Python's `StopIteration`: the generator has finished.
#[derive(Debug)]
struct StopIteration;

impl Averager {
    /// `next(gen)` / `gen.send(None)`: runs the body to its first `yield`.
    fn prime(&mut self) {
        if let Averager::Created = self {
            println!("send: gen: started, waiting at the first yield");
            *self = Averager::Waiting {
                total: 0.0,
                count: 0,
            };
        }
    }

    /// `gen.send(value)`: `value` becomes the result of the paused `yield`;
    /// the body runs to the next `yield`, whose value is returned.
    fn send(&mut self, value: f64) -> Result<f64, StopIteration> {
        match self {
            Averager::Waiting { total, count } => {
                *total += value;
                *count += 1;
                Ok(*total / f64::from(*count))
            }
            // Python: TypeError("can't send non-None value to a just-started generator").
            Averager::Created | Averager::Closed => Err(StopIteration),
        }
    }

    /// `gen.close()`: the generator finishes; sending to it fails from now on.
    fn close(&mut self) {
        if let Averager::Waiting { count, .. } = self {
            println!("send: gen: closed after {count} values");
        }
        *self = Averager::Closed;
    }
}

fn two_way() {
    println!("== 4. two-way: send() ==");
    let mut generator = Averager::Created;
    println!("send: main: next(gen) to prime it");
    generator.prime();
    for value in [10.0, 20.0, 12.0] {
        match generator.send(value) {
            Ok(average) => println!("send: main: send({value}) -> average {average:.1}"),
            Err(e) => println!("send: main: send({value}) -> Err({e:?})"),
        }
    }
    println!("send: main: close()");
    generator.close();
    match generator.send(5.0) {
        Ok(average) => println!("send: main: send(5) after close -> Ok({average})"),
        Err(e) => println!("send: main: send(5) after close -> Err({e:?})"),
    }
}

/// A future that is not ready the first time it is polled: the smallest
/// possible "yield" point for an `async fn`.
struct PauseOnce {
    paused: bool,
}

impl Future for PauseOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.paused {
            Poll::Ready(())
        } else {
            self.paused = true;
            Poll::Pending
        }
    }
}

/// The compiler turns this into an enum: not started / paused at the first
/// `.await` / paused at the second `.await` / returned.
async fn two_pauses() -> u32 {
    println!("async: fut: started");
    PauseOnce { paused: false }.await;
    println!("async: fut: resumed after the 1st .await");
    PauseOnce { paused: false }.await;
    println!("async: fut: resumed after the 2nd .await, returning 42");
    42
}

fn async_is_a_state_machine() {
    println!("== 5. an async fn is such a state machine ==");
    let mut fut = pin!(two_pauses());
    println!("async: main: created the future (its body has not run)");
    // An executor (tokio, in the next lessons) does this loop, sleeping until
    // the waker says "try again"; we just poll again at once.
    let mut cx = Context::from_waker(Waker::noop());
    for round in ["1st", "2nd", "3rd"] {
        println!("async: main: calling poll()");
        match fut.as_mut().poll(&mut cx) {
            Poll::Pending => {
                println!("async: main: poll() -> Pending (paused at the {round} .await)")
            }
            Poll::Ready(value) => {
                println!("async: main: poll() -> Ready({value})");
                break;
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    state_machine();
    closure_form();
    laziness();
    two_way();
    async_is_a_state_machine();
    Ok(())
}
