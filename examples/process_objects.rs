//! Lesson: process objects, like Python's `multiprocessing.Process`.
//!
//! [`Process`] wraps `fork` the way the course's `Process(target, name)`
//! does: it has a name, a pid once started, `is_alive()`, `join(timeout)` and
//! an exit code, and a `daemon` flag. A "process class" (the course's
//! subclass of `Process` with its own `run`) is any type implementing
//! [`Run`]. Underneath, `is_alive()` and `join(timeout)` are
//! `waitpid(pid, WNOHANG)`, which asks "has it exited?" without blocking.
//!
//! 1. A process object before start, while running, after a `join` that
//!    timed out (still alive) and after a full `join` (exit code 0).
//! 2. A process class: `Countdown` implements `Run`; its `run` returns the
//!    exit code the parent reads.
//! 3. Daemon children: with `daemon = true` a child ends when its parent
//!    does (Python terminates daemon children when the main process exits;
//!    here the kernel does it with PR_SET_PDEATHSIG). A parent starts a
//!    daemon and an ordinary child and exits without joining: the daemon is
//!    killed at once, the ordinary child runs to its end. (The lesson makes
//!    itself a "child subreaper" so the orphans become its children and it
//!    can see how each one ended.)
//! 4. Reaping with WNOHANG: three children exit at different times; a loop of
//!    `waitpid(-1, WNOHANG)` reaps each as soon as it has exited and does
//!    other work in between, instead of blocking in `wait()` (this is what a
//!    forking server does on SIGCHLD).
//!
//! Run: `cargo run --example process_objects`
//!
//! Expected output (pids and times vary):
//! ```text
//! worker-1: before start: pid=None is_alive=false
//! worker-1: started: pid=1201 is_alive=true
//! worker-1 (pid 1201, parent 1200): working for 300 ms
//! worker-1: join(timeout=100ms) returned after 100 ms: is_alive=true exitcode=None
//! worker-1: join() returned: is_alive=false exitcode=Some(0)
//! Countdown (pid 1202): 3 2 1
//! countdown: exitcode=Some(7)
//! daemon: parent 1203 started daemon child 1204 and ordinary child 1205, and exits
//! daemon: child 1205 (daemon=false) finished its work after its parent left
//! daemon: 1204 (daemon=true) ended with its parent: killed by SIGKILL
//! daemon: 1205 (daemon=false) outlived its parent: exited with status 0
//! wnohang: 3 children exit after 50, 100 and 150 ms
//! wnohang: waitpid(-1, WNOHANG) -> nothing yet; doing other work (poll 1)
//! wnohang: reaped 1206 (exit status 1) after 52 ms
//! wnohang: reaped 1207 (exit status 2) after 101 ms
//! wnohang: reaped 1208 (exit status 3) after 151 ms
//! wnohang: all 3 reaped; 14 polls found nothing to reap
//! ```
//!
//! Python → Rust: `Process(target=f, name=n)` → `Process::new(n, f)`;
//! `p.start()` → `fork`; `p.pid`, `p.name` → `pid()`, `name()`;
//! `p.is_alive()` → `waitpid(pid, WNOHANG)`; `p.join(timeout)` → polling
//! `waitpid(pid, WNOHANG)` until the deadline; `p.exitcode` → the status from
//! `waitpid`; `p.daemon = True` → `prctl(PR_SET_PDEATHSIG)` in the child;
//! a `Process` subclass with `run()` → a type implementing [`Run`];
//! `os.waitpid(-1, os.WNOHANG)` → `waitpid(None, Some(WNOHANG))`.

use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};

/// What a process runs: the course's `Process` subclass with its own `run`.
/// The returned number is the process's exit code.
trait Run {
    fn run(&mut self) -> i32;
}

/// Any closure is a target (`Process(target=f)`), exiting with 0.
impl<F: FnMut()> Run for F {
    fn run(&mut self) -> i32 {
        self();
        0
    }
}

/// A child process with Python's `multiprocessing.Process` interface.
struct Process<R: Run> {
    name: String,
    /// What the child runs; `None` once started (the child has its own copy).
    target: Option<R>,
    /// End together with the parent (set before `start`, as in Python).
    daemon: bool,
    pid: Option<Pid>,
    /// How it ended, once `waitpid` has told us.
    ended: Option<WaitStatus>,
}

impl<R: Run> Process<R> {
    fn new(name: &str, target: R) -> Process<R> {
        Process {
            name: name.to_string(),
            target: Some(target),
            daemon: false,
            pid: None,
            ended: None,
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn pid(&self) -> Option<Pid> {
        self.pid
    }

    /// Forks; the child runs the target and exits with its code.
    fn start(&mut self) -> anyhow::Result<()> {
        let mut target = self
            .target
            .take()
            .ok_or(anyhow::anyhow!("already started"))?;
        let parent = getpid();
        // SAFETY: this lesson is single-threaded, so the child may run any code.
        match unsafe { fork() }? {
            ForkResult::Parent { child } => {
                self.pid = Some(child);
                Ok(())
            }
            ForkResult::Child => {
                if self.daemon {
                    // SAFETY: prctl only sets a flag: SIGKILL us when our parent dies.
                    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
                    // The parent may have died before the flag was set (then
                    // no signal comes): check, and end as the signal would.
                    if getppid() != parent {
                        let _ = nix::sys::signal::raise(Signal::SIGKILL);
                    }
                }
                let code = target.run();
                std::process::exit(code)
            }
        }
    }

    /// Has it been started and not yet exited? Never blocks.
    fn is_alive(&mut self) -> bool {
        self.poll();
        self.pid.is_some() && self.ended.is_none()
    }

    /// Waits for the child to exit, at most `timeout` (`None`: no limit).
    /// Like Python's, it returns either way: check `is_alive()` after.
    fn join(&mut self, timeout: Option<Duration>) -> anyhow::Result<()> {
        let Some(pid) = self.pid else {
            anyhow::bail!("can only join a started process");
        };
        let Some(timeout) = timeout else {
            if self.ended.is_none() {
                self.ended = Some(waitpid(pid, None)?);
            }
            return Ok(());
        };
        let deadline = Instant::now() + timeout;
        while self.is_alive() && Instant::now() < deadline {
            sleep(Duration::from_millis(5).min(deadline - Instant::now()));
        }
        Ok(())
    }

    /// The exit code once it has exited (negative: killed by that signal).
    fn exitcode(&mut self) -> Option<i32> {
        self.poll();
        match self.ended? {
            WaitStatus::Exited(_, code) => Some(code),
            WaitStatus::Signaled(_, sig, _) => Some(-(sig as i32)),
            _ => None,
        }
    }

    /// `waitpid(pid, WNOHANG)`: collect the exit status if there is one.
    fn poll(&mut self) {
        if let (Some(pid), None) = (self.pid, self.ended) {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                Ok(status) => self.ended = Some(status),
                Err(e) => panic!("waitpid({pid}): {e}"),
            }
        }
    }
}

/// A process class: counts down, then exits with code 7.
struct Countdown {
    from: u32,
}

impl Run for Countdown {
    fn run(&mut self) -> i32 {
        let numbers: Vec<String> = (1..=self.from).rev().map(|n| n.to_string()).collect();
        println!("Countdown (pid {}): {}", getpid(), numbers.join(" "));
        7
    }
}

/// Sleeps 50 ms × n, then exits with code n.
struct Sleeper {
    n: i32,
}

impl Run for Sleeper {
    fn run(&mut self) -> i32 {
        sleep(Duration::from_millis(50 * self.n as u64));
        self.n
    }
}

fn lifecycle() -> anyhow::Result<()> {
    let mut p = Process::new("worker-1", || {
        println!(
            "worker-1 (pid {}, parent {}): working for 300 ms",
            getpid(),
            getppid()
        );
        sleep(Duration::from_millis(300));
    });
    let (name, pid, alive) = (p.name().to_string(), p.pid(), p.is_alive());
    println!("{name}: before start: pid={pid:?} is_alive={alive}");
    p.start()?;
    let pid = p.pid().map_or(0, Pid::as_raw);
    println!("{name}: started: pid={pid} is_alive={}", p.is_alive());
    let start = Instant::now();
    p.join(Some(Duration::from_millis(100)))?;
    let waited = start.elapsed().as_millis();
    let (alive, code) = (p.is_alive(), p.exitcode());
    println!(
        "{name}: join(timeout=100ms) returned after {waited} ms: is_alive={alive} exitcode={code:?}"
    );
    p.join(None)?;
    let (alive, code) = (p.is_alive(), p.exitcode());
    println!("{name}: join() returned: is_alive={alive} exitcode={code:?}");

    let mut countdown = Process::new("countdown", Countdown { from: 3 });
    countdown.start()?;
    countdown.join(None)?;
    println!("countdown: exitcode={:?}", countdown.exitcode());
    Ok(())
}

fn daemons() -> anyhow::Result<()> {
    // Orphans of our descendants become our children, so we can reap them.
    // SAFETY: prctl only sets a flag on this process.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    anyhow::ensure!(rc == 0, "PR_SET_CHILD_SUBREAPER: {}", Errno::last());
    let (report_r, report_w) = nix::unistd::pipe()?;
    // SAFETY: single-threaded; the child below only forks and exits.
    let parent = match unsafe { fork() }? {
        ForkResult::Parent { child } => child,
        ForkResult::Child => {
            drop(report_r);
            let mut daemon = Process::new("daemon", || sleep(Duration::from_secs(10)));
            daemon.daemon = true;
            let mut ordinary = Process::new("ordinary", || {
                sleep(Duration::from_millis(200));
                println!(
                    "daemon: child {} (daemon=false) finished its work after its parent left",
                    getpid()
                );
            });
            let started = daemon.start().and_then(|()| ordinary.start());
            let pids = [daemon.pid(), ordinary.pid()].map(|p| p.map_or(0, Pid::as_raw));
            let report = format!("{} {}", pids[0], pids[1]);
            nix::unistd::write(&report_w, report.as_bytes()).expect("report pids");
            println!(
                "daemon: parent {} started daemon child {} and ordinary child {}, and exits",
                getpid(),
                pids[0],
                pids[1]
            );
            std::process::exit(i32::from(started.is_err()))
        }
    };
    drop(report_w);
    let mut report = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(report_r), &mut report)?;
    let pids: Vec<i32> = report
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    anyhow::ensure!(pids.len() == 2, "the parent did not report its children");
    let status = waitpid(parent, None)?;
    anyhow::ensure!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "the parent failed: {status:?}"
    );
    for (pid, daemon) in [(pids[0], true), (pids[1], false)] {
        let how = match waitpid(Pid::from_raw(pid), None)? {
            WaitStatus::Signaled(_, Signal::SIGKILL, _) => "killed by SIGKILL".to_string(),
            WaitStatus::Exited(_, code) => format!("exited with status {code}"),
            other => format!("{other:?}"),
        };
        let fate = if daemon {
            "ended with its parent"
        } else {
            "outlived its parent"
        };
        println!("daemon: {pid} (daemon={daemon}) {fate}: {how}");
    }
    Ok(())
}

fn reap_with_wnohang() -> anyhow::Result<()> {
    println!("wnohang: 3 children exit after 50, 100 and 150 ms");
    let start = Instant::now();
    for n in 1..=3 {
        // Exit codes 1, 2, 3 tell the children apart in the reaping loop,
        // which reaps them itself (so their Process objects are not needed).
        Process::new("sleeper", Sleeper { n }).start()?;
    }
    let (mut reaped, mut empty_polls) = (0, 0);
    while reaped < 3 {
        match waitpid(None, Some(WaitPidFlag::WNOHANG))? {
            WaitStatus::StillAlive => {
                empty_polls += 1;
                if empty_polls == 1 {
                    println!(
                        "wnohang: waitpid(-1, WNOHANG) -> nothing yet; doing other work (poll 1)"
                    );
                }
                sleep(Duration::from_millis(10)); // the "other work"
            }
            WaitStatus::Exited(pid, code) => {
                reaped += 1;
                let ms = start.elapsed().as_millis();
                println!("wnohang: reaped {pid} (exit status {code}) after {ms} ms");
            }
            other => anyhow::bail!("unexpected child status {other:?}"),
        }
    }
    println!("wnohang: all 3 reaped; {empty_polls} polls found nothing to reap");
    Ok(())
}

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    lifecycle()?;
    daemons()?;
    reap_with_wnohang()
}
