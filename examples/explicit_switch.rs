//! Lesson: greenlet-style explicit switching (`greenlet.greenlet(fn)`, `gr.switch()`).
//!
//! A greenlet is a function that runs only when someone switches to it, and
//! stops only where it switches away itself: `gr.switch()` saves where the
//! current greenlet is and continues `gr` from where it last stopped. There is
//! one thread and no preemption; the program says exactly when to jump.
//!
//! Here each task is a state machine (an enum: where it is paused) whose
//! `resume` runs it from its last switch to its next one and returns which
//! task to switch to. A tiny executor, the `Hub`, runs that loop. Nothing
//! else ever runs a task: one that is never switched to never runs at all.
//!
//! 1. The classic greenlet example: `test1` prints 12 and switches to `test2`,
//!    which prints 56 and switches back; `test1` prints 34 and switches again;
//!    `test2` prints 78 and returns, which goes back to its parent (main).
//!    `test1` stays paused at its last switch forever, like in greenlet.
//! 2. One thread and no preemption: every task runs on the main thread, and
//!    the code between two switches can never be interrupted, so two tasks
//!    share a plain counter (a `&mut`, no `Mutex`, no atomics) and every update
//!    counts.
//! 3. The flip side: a switch placed between reading and writing the counter
//!    lets the other task update it in between, and that update is lost.
//!    Cooperative code is only "atomic" up to the next switch you write.
//!
//! Run: `cargo run --example explicit_switch`
//!
//! Expected output:
//! ```text
//! == 1. the greenlet example ==
//! main: gr1 = greenlet(test1), gr2 = greenlet(test2), gr3 = greenlet(test3); nothing has run yet
//! main: gr1.switch()
//! test1: 12
//! test1: gr2.switch()
//! test2: 56
//! test2: gr1.switch()
//! test1: 34
//! test1: gr2.switch()
//! test2: 78
//! test2: returns; back to its parent, main
//! main: back in main; printed in order: 12 56 34 78
//! main: test1 ran 2 times and is still paused at its second gr2.switch() (it never finished)
//! main: test2 ran 2 times and finished
//! main: test3 was never switched to: ran 0 times, printed nothing
//! == 2. one thread, no preemption, no locks ==
//! counter: 2 tasks x 3 increments, a switch after each whole increment: counter = 6 (expected 6)
//! counter: 8 task runs, all on 1 thread (the main thread: true)
//! == 3. a switch in the middle of an update ==
//! counter: 2 tasks x 3 increments, a switch between read and write: counter = 3 (expected 6)
//! counter: 3 updates lost, each one at a switch the code asked for
//! ```
//!
//! Python → Rust:
//! - `gr = greenlet.greenlet(test1)` → `hub.spawn("test1", Test1::Start)` (a state machine)
//! - `gr.switch()` (from main) → `hub.switch(gr, &mut shared)`: runs until a task returns
//! - `gr2.switch()` (inside a greenlet) → `resume` returns `Switch::To(GR2)`
//! - a greenlet's function returning → `Switch::Return` (back to the parent, main)
//! - `gr.dead` → `hub.is_dead(gr)`
//! - globals shared by greenlets → a `&mut Shared` passed to each run (no lock)

use std::thread::{self, ThreadId};

/// Index of a task in the hub (Python: the greenlet object).
type TaskId = usize;

/// What a task asks for when it stops.
enum Switch {
    /// `other.switch()`: pause me here and continue `other`.
    To(TaskId),
    /// The task's function returned: control goes back to its parent, main.
    Return,
}

/// State every task may touch. Only one task runs at a time, so it is a plain
/// struct lent to the running task as `&mut`: no Mutex, no atomics.
#[derive(Default)]
struct Shared {
    printed: Vec<u32>,
    counter: u64,
    threads: Vec<ThreadId>,
    runs: u32,
}

/// A task: `resume` runs it from where it stopped to its next switch.
trait Task {
    fn resume(&mut self, shared: &mut Shared) -> Switch;
}

struct Slot {
    name: &'static str,
    task: Box<dyn Task>,
    runs: u32,
    dead: bool,
}

/// The executor: the only code that ever runs a task.
#[derive(Default)]
struct Hub {
    slots: Vec<Slot>,
}

impl Hub {
    /// `greenlet.greenlet(fn)`: creates the task; nothing runs.
    fn spawn(&mut self, name: &'static str, task: impl Task + 'static) -> TaskId {
        self.slots.push(Slot {
            name,
            task: Box::new(task),
            runs: 0,
            dead: false,
        });
        self.slots.len() - 1
    }

    /// `gr.switch()` from main: runs `first`, then every task it switches to,
    /// until one returns; then we are back in main.
    fn switch(&mut self, first: TaskId, shared: &mut Shared) {
        let mut current = first;
        loop {
            let slot = &mut self.slots[current];
            if slot.dead {
                println!("hub: cannot switch to {}: it has finished", slot.name);
                return;
            }
            slot.runs += 1;
            shared.runs += 1;
            let me = thread::current().id();
            if !shared.threads.contains(&me) {
                shared.threads.push(me);
            }
            match slot.task.resume(shared) {
                Switch::To(next) => current = next,
                Switch::Return => {
                    slot.dead = true;
                    return;
                }
            }
        }
    }

    fn runs(&self, id: TaskId) -> u32 {
        self.slots[id].runs
    }

    fn is_dead(&self, id: TaskId) -> bool {
        self.slots[id].dead
    }

    /// The first task that has not finished, if any.
    fn first_alive(&self) -> Option<TaskId> {
        self.slots.iter().position(|s| !s.dead)
    }
}

// Python's globals gr1 and gr2: the ids the hub hands out, in spawn order.
const GR1: TaskId = 0;
const GR2: TaskId = 1;

/// Python:
/// ```python
/// def test1():
///     print(12)
///     gr2.switch()
///     print(34)
///     gr2.switch()
/// ```
enum Test1 {
    Start,
    AtFirstSwitch,
    AtSecondSwitch,
}

impl Task for Test1 {
    fn resume(&mut self, shared: &mut Shared) -> Switch {
        match self {
            Test1::Start => {
                say("test1", 12, shared);
                println!("test1: gr2.switch()");
                *self = Test1::AtFirstSwitch;
                Switch::To(GR2)
            }
            Test1::AtFirstSwitch => {
                say("test1", 34, shared);
                println!("test1: gr2.switch()");
                *self = Test1::AtSecondSwitch;
                Switch::To(GR2)
            }
            // Nobody switches back here in this program, exactly as in greenlet.
            Test1::AtSecondSwitch => {
                println!("test1: returns");
                Switch::Return
            }
        }
    }
}

/// Python:
/// ```python
/// def test2():
///     print(56)
///     gr1.switch()
///     print(78)
/// ```
enum Test2 {
    Start,
    AtSwitch,
}

impl Task for Test2 {
    fn resume(&mut self, shared: &mut Shared) -> Switch {
        match self {
            Test2::Start => {
                say("test2", 56, shared);
                println!("test2: gr1.switch()");
                *self = Test2::AtSwitch;
                Switch::To(GR1)
            }
            Test2::AtSwitch => {
                say("test2", 78, shared);
                println!("test2: returns; back to its parent, main");
                Switch::Return
            }
        }
    }
}

/// A task nobody switches to: its body would print, but it never runs.
struct Test3;

impl Task for Test3 {
    fn resume(&mut self, shared: &mut Shared) -> Switch {
        say("test3", 90, shared);
        Switch::Return
    }
}

fn say(name: &str, value: u32, shared: &mut Shared) {
    println!("{name}: {value}");
    shared.printed.push(value);
}

fn greenlet_example() -> anyhow::Result<()> {
    println!("== 1. the greenlet example ==");
    let mut hub = Hub::default();
    let mut shared = Shared::default();
    let gr1 = hub.spawn("test1", Test1::Start);
    let gr2 = hub.spawn("test2", Test2::Start);
    let gr3 = hub.spawn("test3", Test3);
    anyhow::ensure!(
        (gr1, gr2) == (GR1, GR2),
        "ids are handed out in spawn order"
    );
    println!(
        "main: gr1 = greenlet(test1), gr2 = greenlet(test2), gr3 = greenlet(test3); nothing has run yet"
    );
    println!("main: gr1.switch()");
    hub.switch(gr1, &mut shared);
    let printed: Vec<String> = shared.printed.iter().map(u32::to_string).collect();
    println!(
        "main: back in main; printed in order: {}",
        printed.join(" ")
    );
    println!(
        "main: test1 ran {} times and is {}",
        hub.runs(gr1),
        if hub.is_dead(gr1) {
            "finished"
        } else {
            "still paused at its second gr2.switch() (it never finished)"
        }
    );
    println!(
        "main: test2 ran {} times and {}",
        hub.runs(gr2),
        if hub.is_dead(gr2) {
            "finished"
        } else {
            "is still paused"
        }
    );
    println!(
        "main: test3 was never switched to: ran {} times, printed {}",
        hub.runs(gr3),
        if shared.printed.contains(&90) {
            "90"
        } else {
            "nothing"
        }
    );
    Ok(())
}

/// Adds 1 to the shared counter `left` times, switching to `peer` after each
/// increment, or (with `split`) between reading the counter and writing it back.
struct Incrementer {
    peer: TaskId,
    left: u32,
    split: bool,
    /// With `split`: paused between read and write, holding the value read.
    read: Option<u64>,
}

impl Task for Incrementer {
    fn resume(&mut self, shared: &mut Shared) -> Switch {
        if let Some(value) = self.read.take() {
            shared.counter = value + 1; // finishes the update begun before the switch
            self.left -= 1;
        }
        if self.left == 0 {
            return Switch::Return;
        }
        if self.split {
            self.read = Some(shared.counter); // read... and switch before writing
        } else {
            shared.counter += 1; // read-modify-write with no switch inside: atomic here
            self.left -= 1;
        }
        Switch::To(self.peer)
    }
}

/// Two incrementers switching back and forth; returns the shared state.
fn count(split: bool, each: u32) -> Shared {
    let mut hub = Hub::default();
    let mut shared = Shared::default();
    let a = hub.spawn(
        "a",
        Incrementer {
            peer: 1,
            left: each,
            split,
            read: None,
        },
    );
    hub.spawn(
        "b",
        Incrementer {
            peer: a,
            left: each,
            split,
            read: None,
        },
    );
    // When one returns we are back in main; switch to whatever is still alive.
    while let Some(next) = hub.first_alive() {
        hub.switch(next, &mut shared);
    }
    shared
}

fn no_preemption(main_thread: ThreadId) {
    println!("== 2. one thread, no preemption, no locks ==");
    let each = 3;
    let shared = count(false, each);
    println!(
        "counter: 2 tasks x {each} increments, a switch after each whole increment: counter = {} (expected {})",
        shared.counter,
        2 * each
    );
    println!(
        "counter: {} task runs, all on {} thread (the main thread: {})",
        shared.runs,
        shared.threads.len(),
        shared.threads == [main_thread]
    );

    println!("== 3. a switch in the middle of an update ==");
    let shared = count(true, each);
    println!(
        "counter: 2 tasks x {each} increments, a switch between read and write: counter = {} (expected {})",
        shared.counter,
        2 * each
    );
    println!(
        "counter: {} updates lost, each one at a switch the code asked for",
        u64::from(2 * each) - shared.counter
    );
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    greenlet_example()?;
    no_preemption(thread::current().id());
    Ok(())
}
