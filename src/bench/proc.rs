//! Process helpers for benchmarks: starting the server under test as a child
//! process, finding a server by its listening port, and reading what a process
//! tree costs (RSS, PSS, CPU time) from `/proc`.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::server::{Config, Model};
use anyhow::{Context, Result, bail};
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How many of the server's last stderr lines are kept for error messages.
const STDERR_TAIL: usize = 20;

/// A server running as a child process. Dropping it stops the server (SIGTERM,
/// then SIGKILL for the whole process tree after a grace period), so error
/// paths never leave a server behind.
#[derive(Debug)]
pub struct ServerProcess {
    child: Option<Child>,
    /// The TCP port the server reported.
    pub port: u16,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl ServerProcess {
    /// Starts `program args...`, reads its stderr until a line containing
    /// `listening on tcp://127.0.0.1:PORT` (within `timeout`), and keeps
    /// draining stderr in a background thread.
    pub fn spawn(program: &Path, args: &[String], timeout: Duration) -> Result<Self> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // If the benchmark dies without cleaning up, the server gets SIGTERM.
        term_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting server {}", program.display()))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel::<u16>();
        let tail2 = Arc::clone(&tail);
        std::thread::Builder::new()
            .name("bench-server-stderr".into())
            .spawn(move || drain_stderr(stderr, tx, tail2))
            .context("starting the stderr reader")?;
        let mut server = ServerProcess {
            child: Some(child),
            port: 0,
            tail,
        };
        match rx.recv_timeout(timeout) {
            Ok(port) => {
                server.port = port;
                Ok(server)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => bail!(
                "server did not report its port within {timeout:?}; its stderr:\n{}",
                server.stderr_tail()
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // stderr closed: the server exited. Give it a moment to be reapable.
                let status = server.wait_exit(Duration::from_millis(500));
                bail!(
                    "server exited before listening ({}); its stderr:\n{}",
                    status.map_or("still running".into(), |s| s.to_string()),
                    server.stderr_tail()
                )
            }
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// The last lines the server wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.iter()
            .map(|l| format!("  | {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The exit status if the server has already exited on its own.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the server: SIGTERM, up to `grace` for a clean exit, then SIGKILL
    /// for it and every descendant. Returns how it ended.
    pub fn stop(&mut self, grace: Duration) -> String {
        let Some(pid) = self.pid() else {
            return "not running".into();
        };
        if let Some(s) = self.exited() {
            self.child = None;
            return format!("had already exited ({s})");
        }
        let descendants = tree_pids(pid);
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        let outcome = match self.wait_exit(grace) {
            Some(s) if s.success() => "stopped cleanly".to_string(),
            Some(s) => format!("stopped ({s})"),
            None => {
                kill_all(&tree_pids(pid));
                let s = self.wait_exit(Duration::from_secs(2));
                format!(
                    "killed after {grace:?} ({})",
                    s.map_or("still not reaped".into(), |s| s.to_string())
                )
            }
        };
        // Children a dead master left behind (fork model) are killed too.
        let leftovers: Vec<i32> = descendants
            .into_iter()
            .filter(|&p| p != pid && is_alive(p))
            .collect();
        kill_all(&leftovers);
        self.child = None;
        outcome
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop(Duration::from_secs(3));
        }
    }
}

fn drain_stderr(
    stderr: std::process::ChildStderr,
    tx: mpsc::Sender<u16>,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let mut tx = Some(tx);
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if tx.is_some()
            && let Some(port) = parse_listening_port(&text)
            && let Some(tx) = tx.take()
        {
            let _ = tx.send(port);
        }
        let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() == STDERR_TAIL {
            t.pop_front();
        }
        t.push_back(text);
    }
}

/// Finds `PORT` in a line containing `listening on tcp://127.0.0.1:PORT`.
pub fn parse_listening_port(line: &str) -> Option<u16> {
    const MARK: &str = "listening on tcp://127.0.0.1:";
    let rest = &line[line.find(MARK)? + MARK.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Has the kernel send the child `cmd` starts SIGTERM when the thread that
/// starts it ends (PR_SET_PDEATHSIG, set between fork and exec), so a
/// benchmark that dies without cleaning up leaves no server behind.
pub(crate) fn term_with_parent(cmd: &mut Command) {
    crate::sys::process::term_with_parent(cmd);
}

fn is_alive(pid: i32) -> bool {
    // Signal 0 only checks for existence.
    kill(Pid::from_raw(pid), None).is_ok()
}

fn kill_all(pids: &[i32]) {
    for &p in pids {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
}

/// Fields of `/proc/PID/stat` after the command name: (ppid, utime + stime in ticks).
fn read_stat(pid: i32) -> Option<(i32, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): ppid is field 4, utime 14, stime 15.
    let ppid = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

/// `root` and all its descendants (found through the ppid in `/proc/*/stat`).
pub fn tree_pids(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if let Some((ppid, _)) = read_stat(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            out.extend(kids);
        }
        i += 1;
    }
    out
}

/// What a process tree uses at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct TreeUsage {
    /// Processes in the tree.
    pub processes: usize,
    /// Sum of VmRSS, bytes (shared pages are counted once per process).
    pub rss: u64,
    /// Sum of Pss from smaps_rollup, bytes (shared pages split between sharers).
    pub pss: u64,
    /// Sum of CPU time (user + system) so far.
    pub cpu: Duration,
}

/// Reads a `/proc/PID/<file>` field like `VmRSS:   1234 kB`, in bytes.
fn kib_field(pid: i32, file: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line[field.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Clock ticks per second (the unit of the CPU times in `/proc`), 100 if unknown.
pub(crate) fn clock_ticks() -> u64 {
    clock_ticks_known().unwrap_or(100)
}

/// Clock ticks per second, `None` if sysconf cannot tell.
pub(crate) fn clock_ticks_known() -> Option<u64> {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => Some(t as u64),
        _ => None,
    }
}

/// CPU time of one process: the sum of its threads' `sum_exec_runtime` from
/// `/proc/PID/task/*/schedstat` (nanoseconds, so a thousand short-lived fork
/// children do not each lose up to a clock tick), else utime + stime from
/// `/proc/PID/stat` in clock ticks, whichever is more (the ticks include
/// threads that have exited).
fn process_cpu(pid: i32, ticks_fallback: u64) -> Duration {
    let mut ns = 0u64;
    let mut any = false;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let v = std::fs::read_to_string(t.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
            if let Some(v) = v {
                ns += v;
                any = true;
            }
        }
    }
    let ticks = Duration::from_nanos(ticks_fallback * 1_000_000_000 / clock_ticks());
    if any {
        // The live threads' schedstat misses threads that have exited (a
        // thread per datagram, say); /proc/PID/stat counts them.
        Duration::from_nanos(ns).max(ticks)
    } else {
        ticks
    }
}

/// RSS, PSS and CPU time of `root` and all its descendants.
pub fn tree_usage(root: i32, with_pss: bool) -> TreeUsage {
    let mut u = TreeUsage::default();
    for pid in tree_pids(root) {
        let Some((_, t)) = read_stat(pid) else {
            continue;
        };
        u.processes += 1;
        u.cpu += process_cpu(pid, t);
        u.rss += kib_field(pid, "status", "VmRSS:").unwrap_or(0);
        if with_pss {
            u.pss += kib_field(pid, "smaps_rollup", "Pss:").unwrap_or(0);
        }
    }
    u
}

/// CPU time (user + system, all threads) of process `pid` alone; zero once it is gone.
pub fn cpu_of(pid: i32) -> Duration {
    read_stat(pid).map_or(Duration::ZERO, |(_, t)| process_cpu(pid, t))
}

/// CPU time (user + system) of `root` and its descendants only.
pub fn tree_cpu(root: i32) -> Duration {
    tree_pids(root)
        .into_iter()
        .filter_map(|p| read_stat(p).map(|(_, t)| process_cpu(p, t)))
        .sum()
}

/// The process that has a TCP socket listening on `port` (any address), found
/// through `/proc/net/tcp{,6}` and the socket inodes in `/proc/*/fd`.
pub fn find_listener_pid(port: u16) -> Option<i32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(s) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in s.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                continue; // not LISTEN
            }
            let lport = f[1]
                .rsplit(':')
                .next()
                .and_then(|h| u16::from_str_radix(h, 16).ok());
            if lport == Some(port) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        if fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .map(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
                .unwrap_or(false)
        }) {
            found.push(pid);
        }
    }
    // Several processes may share the listener (prefork): take the topmost one.
    let parent_of = |p: i32| read_stat(p).map(|(pp, _)| pp);
    found
        .iter()
        .copied()
        .find(|&p| parent_of(p).is_none_or(|pp| !found.contains(&pp)))
}

/// CPU time (user + system) of the calling thread.
pub fn thread_cpu() -> Duration {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|ts| Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32))
        .unwrap_or(Duration::ZERO)
}

/// CPU time (user + system) of this whole process, all threads.
pub fn self_cpu() -> Duration {
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return Duration::ZERO;
    };
    let ru = usage.as_ref();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The command-line options every benchmark gives the server under test:
/// model and workers, loopback port 0, and limits high enough for `clients`.
/// The connection limit is twice the level: epoll splits `--max-connections`
/// evenly between its workers while SO_REUSEPORT spreads connections only
/// roughly evenly, so an exact limit would turn the unlucky worker's extra
/// clients away.
pub(crate) fn model_args(model: Model, workers: Option<usize>, clients: usize) -> Vec<String> {
    let enough = (2 * clients + 64).max(10_000).to_string();
    let mut a: Vec<String> = [
        "--model",
        model.name(),
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--max-connections",
        &enough,
        "--max-children",
        &enough,
        "--shutdown-timeout",
        "2s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(w) = workers {
        a.push("--workers".into());
        a.push(w.to_string());
    }
    a
}

/// The worker count a model really runs with, or "-" where it has none.
pub(crate) fn workers_cell(model: Model, workers: Option<usize>) -> String {
    if !model.has_workers() {
        return "-".into();
    }
    Config {
        model,
        workers,
        ..Config::default()
    }
    .workers()
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_listening_line() {
        let l = "netkit echo: listening on tcp://127.0.0.1:41234 (model epoll, 2 workers)";
        assert_eq!(parse_listening_port(l), Some(41234));
        assert_eq!(
            parse_listening_port("listening on tcp://127.0.0.1:80"),
            Some(80)
        );
        assert_eq!(
            parse_listening_port("listening on udp://127.0.0.1:80"),
            None
        );
    }

    #[test]
    fn reads_own_usage() {
        let me = std::process::id() as i32;
        let u = tree_usage(me, false);
        assert!(u.processes >= 1);
        assert!(u.rss > 0);
        assert!(tree_pids(me).contains(&me));
    }

    #[test]
    fn cpu_of_a_process_counts_its_busy_threads() {
        let me = std::process::id() as i32;
        let before = cpu_of(me);
        let spun = thread_cpu();
        let mut x = 0u64;
        while thread_cpu() - spun < Duration::from_millis(100) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
        }
        let used = cpu_of(me) - before;
        assert!(used >= Duration::from_millis(90), "counted only {used:?}");
        assert_eq!(cpu_of(i32::MAX), Duration::ZERO);
    }
}
