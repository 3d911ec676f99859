//! `netkit bench chat`: delivery rate, latency and loss of the chat room, per
//! model, on loopback.
//!
//! ```text
//! netkit bench chat --members 1000 --senders 10 --rate 100 --duration 5s
//! netkit bench chat --model epoll,poll --find-max
//! ```
//!
//! For each model it starts the server (`netkit chat serve --port 0 --model
//! M`) as a child process, opens one UDP socket per member (so every member
//! is a distinct address), joins them all, then lets `--senders` of them offer
//! `--rate` messages per second in total for `--duration`. Every message
//! carries its send time, so each delivery gives a latency. Reported:
//! deliveries per second, p50/p99/max latency, and lost deliveries (expected
//! `sent × (members − 1)` minus received), with the kernel's own drop
//! counters (`/proc/net/udp`, `/proc/net/softnet_stat`) saying where they
//! were lost. `--find-max` then searches, per model, the highest offered load
//! with zero loss and p99 within `--max-p99`.
//!
//! The load generator runs on the same machine as the server: one thread
//! paces the senders, one epoll loop receives for all members.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use hdrhistogram::Histogram;

use crate::bench::proc;
use crate::cli::parse_duration;
use crate::server::{self, Model};
use crate::sys::Epoll;
use crate::sys::process::raise_fd_limit;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Options of `netkit bench chat`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Members in the room, each its own UDP socket (a distinct address)
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// How many of the members send
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Messages per second offered by all senders together
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// How long the senders send
    #[arg(long, short = 'd', value_parser = parse_duration, default_value = "5s")]
    pub duration: Duration,
    /// Models to measure, comma-separated (default: every model that can run the room)
    #[arg(long, short = 'm', value_delimiter = ',')]
    pub model: Vec<Model>,
    /// Workers for the pool, epoll and async models (default per model)
    #[arg(long, short = 'w')]
    pub workers: Option<usize>,
    /// Also search each model's highest offered load with zero loss
    #[arg(long)]
    pub find_max: bool,
    /// With --find-max: a load only counts as sustained if p99 stays within this
    #[arg(long, value_parser = parse_duration, default_value = "20ms")]
    pub max_p99: Duration,
    /// With --find-max: how long each probe sends
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub probe: Duration,
    /// Repeat a run (up to 3 tries, keeping the calmest) when other processes
    /// used more than this share of one core (in %) during it
    #[arg(long, default_value_t = 25.0)]
    pub max_other_load: f64,
}

/// What one run at one offered load measured.
#[derive(Debug, Clone)]
pub struct Trial {
    /// Messages per second asked for.
    pub rate: f64,
    /// How long the senders sent.
    pub duration: Duration,
    /// Messages sent.
    pub sent: u64,
    /// Deliveries expected: `sent × (members − 1)`.
    pub expected: u64,
    /// Deliveries received.
    pub received: u64,
    /// Median delivery latency.
    pub p50: Duration,
    /// 99th percentile delivery latency.
    pub p99: Duration,
    /// Worst delivery latency.
    pub max: Duration,
    /// Datagrams the kernel dropped at the server's socket(s) during the run.
    pub server_drops: u64,
    /// Datagrams the kernel dropped at the members' sockets during the run.
    pub member_drops: u64,
    /// Packets dropped from the kernel's per-CPU backlog during the run.
    pub backlog_drops: u64,
    /// Server CPU time during the run, as a share of one core.
    pub server_cpu: f64,
    /// CPU used by everything except the server and the benchmark during the
    /// run, as a share of one core: other work on the machine skews results.
    pub other_cpu: f64,
}

impl Trial {
    /// Deliveries that never arrived.
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.received)
    }

    /// Messages per second actually offered.
    pub fn offered(&self) -> f64 {
        self.sent as f64 / self.duration.as_secs_f64()
    }

    /// Deliveries per second received.
    pub fn delivered(&self) -> f64 {
        self.received as f64 / self.duration.as_secs_f64()
    }
}

/// Runs the benchmark and prints its tables (Markdown) on stdout.
pub fn run(args: BenchArgs) -> Result<()> {
    if args.members < 2 {
        bail!("--members must be at least 2");
    }
    if args.senders == 0 || args.senders > args.members {
        bail!("--senders must be between 1 and --members");
    }
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number of messages per second");
    }
    if args.duration.is_zero() {
        bail!("--duration must be more than zero");
    }
    let models = if args.model.is_empty() {
        // Every model the framework lets run a stateful datagram service
        // (fork and prefork cannot share one room).
        Model::ALL
            .into_iter()
            .filter(|&m| server::check_datagram(m, false).is_ok())
            .collect()
    } else {
        args.model.clone()
    };
    for m in &models {
        server::check_datagram(*m, false)?;
    }
    let fds = raise_fd_limit().soft;
    if fds < args.members as u64 + 64 {
        bail!(
            "{} members need {} open files, but the limit is {fds}",
            args.members,
            args.members + 64
        );
    }
    let mut rows = Vec::new();
    let mut maxima = Vec::new();
    for &model in &models {
        eprintln!(
            "bench chat: {model}: starting the server and joining {} members",
            args.members
        );
        let mut srv = ChatServer::start(model, args.members, args.workers)?;
        let mut crowd = Crowd::new(args.members, srv.addr, srv.pid())?;
        let joined = crowd
            .join_all()
            .with_context(|| format!("model {model}: joining"))?;
        eprintln!(
            "bench chat: {model}: {} members joined in {joined:.1?}",
            args.members
        );
        let t = crowd.measure(args.rate, args.duration, &args)?;
        eprintln!("bench chat: {model}: {}", summary(&t));
        rows.push((model, t.clone()));
        if args.find_max {
            let best = find_max(&mut crowd, &args, model, &t)?;
            maxima.push((model, best));
        }
        srv.stop();
    }
    println!(
        "netkit bench chat: {} members, {} senders, {} per run, loopback, {} CPUs\n",
        args.members,
        args.senders,
        short(args.duration),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| model | offered msg/s | expected deliveries/s | delivered/s | p50 ms | p99 ms | max ms | lost | drops server/members/backlog | server CPU | other load |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|");
    for (model, t) in &rows {
        println!(
            "| {model} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {}/{}/{} | {:.0}% | {:.0}% |",
            t.offered(),
            t.expected as f64 / t.duration.as_secs_f64(),
            t.delivered(),
            ms(t.p50),
            ms(t.p99),
            ms(t.max),
            t.lost(),
            t.server_drops,
            t.member_drops,
            t.backlog_drops,
            t.server_cpu * 100.0,
            t.other_cpu * 100.0
        );
    }
    if args.find_max {
        println!(
            "\nHighest offered load sustained with zero loss and p99 <= {} ms ({} probes):\n",
            ms(args.max_p99),
            short(args.probe)
        );
        println!(
            "| model | msg/s | deliveries/s | p50 ms | p99 ms | server CPU | other load | first failing load |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---|");
        for (model, best) in &maxima {
            match &best.good {
                Some(t) => println!(
                    "| {model} | {:.0} | {:.0} | {:.2} | {:.2} | {:.0}% | {:.0}% | {} |",
                    t.offered(),
                    t.delivered(),
                    ms(t.p50),
                    ms(t.p99),
                    t.server_cpu * 100.0,
                    t.other_cpu * 100.0,
                    best.failed
                ),
                None => println!("| {model} | none | | | | | | {} |", best.failed),
            }
        }
    }
    Ok(())
}

/// The result of a search for a model's highest sustained load.
struct Best {
    /// The best probe that sustained its load.
    good: Option<Trial>,
    /// The lowest load that failed, and how.
    failed: String,
}

fn find_max(crowd: &mut Crowd, args: &BenchArgs, model: Model, first: &Trial) -> Result<Best> {
    let sustained = |t: &Trial| t.lost() == 0 && t.p99 <= args.max_p99;
    let why = |t: &Trial| {
        if t.lost() > 0 {
            format!("{:.0} msg/s: {} lost", t.rate, t.lost())
        } else {
            format!("{:.0} msg/s: p99 {:.1} ms", t.rate, ms(t.p99))
        }
    };
    // A failure counts only if a second try at the same load fails too: the
    // machine is shared, and one busy moment should not halve the answer.
    let probe = |crowd: &mut Crowd, rate: f64| -> Result<Trial> {
        let mut t = crowd.measure(rate, args.probe, args)?;
        eprintln!("bench chat: {model}: probe {}", summary(&t));
        if !sustained(&t) {
            t = crowd.measure(rate, args.probe, args)?;
            eprintln!("bench chat: {model}: again {}", summary(&t));
        }
        Ok(t)
    };
    let (mut good, mut bad) = (None::<Trial>, None::<Trial>);
    let first = if sustained(first) {
        first.clone()
    } else {
        probe(crowd, first.rate)?
    };
    if sustained(&first) {
        good = Some(first);
    } else {
        bad = Some(first);
    }
    // Double until something fails (or halve until something holds)...
    for _ in 0..12 {
        let rate = match (&good, &bad) {
            (Some(g), None) => g.rate * 2.0,
            (None, Some(b)) if b.rate > 1.0 => (b.rate / 2.0).floor().max(1.0),
            _ => break,
        };
        let t = probe(crowd, rate)?;
        if sustained(&t) {
            good = Some(t);
        } else {
            bad = Some(t);
        }
    }
    // ...then narrow the gap to within 10%.
    for _ in 0..4 {
        let (Some(g), Some(b)) = (&good, &bad) else {
            break;
        };
        if b.rate - g.rate <= g.rate * 0.1 {
            break;
        }
        let t = probe(crowd, ((g.rate + b.rate) / 2.0).round())?;
        if sustained(&t) {
            good = Some(t);
        } else {
            bad = Some(t);
        }
    }
    Ok(Best {
        good,
        failed: bad
            .as_ref()
            .map_or("none up to the search limit".into(), why),
    })
}

fn summary(t: &Trial) -> String {
    format!(
        "offered {:.0} msg/s: delivered {:.0}/s of {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, \
         lost {} (drops server {}, members {}, backlog {}), server CPU {:.0}%, other load {:.0}%",
        t.offered(),
        t.delivered(),
        t.expected as f64 / t.duration.as_secs_f64(),
        ms(t.p50),
        ms(t.p99),
        ms(t.max),
        t.lost(),
        t.server_drops,
        t.member_drops,
        t.backlog_drops,
        t.server_cpu * 100.0,
        t.other_cpu * 100.0
    )
}

/// `5s`, `1.5s`, `500ms`.
fn short(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// --- the server under test -----------------------------------------------

/// `netkit chat serve` as a child process; stopped on drop.
struct ChatServer {
    child: Child,
    addr: SocketAddr,
}

impl ChatServer {
    fn start(model: Model, members: usize, workers: Option<usize>) -> Result<ChatServer> {
        // Our own binary, even if a rebuild replaced the file meanwhile.
        let exe = if std::path::Path::new("/proc/self/exe").exists() {
            std::path::PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe().context("finding the netkit binary")?
        };
        let mut cmd = Command::new(exe);
        cmd.args(["chat", "serve", "--bind", "127.0.0.1", "--port", "0"])
            .args(["--model", model.name(), "--no-console"])
            .args(["--max-members", &members.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(w) = workers {
            cmd.args(["--workers", &w.to_string()]);
        }
        // If the benchmark dies, the server gets SIGTERM.
        proc::term_with_parent(&mut cmd);
        let mut child = cmd.spawn().context("starting netkit chat serve")?;
        let Some(stderr) = child.stderr.take() else {
            bail!("no stderr pipe to the server");
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut seen = Vec::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(t) = tx.take() {
                    match listening_addr(&line) {
                        Some(a) => {
                            let _ = t.send(Ok(a));
                        }
                        None => {
                            seen.push(line);
                            tx = Some(t);
                        }
                    }
                }
            }
            if let Some(t) = tx {
                let _ = t.send(Err(seen.join("\n")));
            }
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(addr)) => Ok(ChatServer { child, addr }),
            Ok(Err(log)) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the {model} server did not start:\n{log}")
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the {model} server did not report its address within 10 s")
            }
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn stop(&mut self) {
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// Finds `ADDR:PORT` in a line containing `listening on udp://ADDR:PORT`.
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    const MARK: &str = "listening on udp://";
    let rest = &line[line.find(MARK)? + MARK.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

// --- the members ---------------------------------------------------------------

/// The members: one non-blocking UDP socket each, all watched by one epoll.
struct Crowd {
    socks: Vec<UdpSocket>,
    /// Member index by local port, to attribute kernel drop counters.
    by_port: HashMap<u16, usize>,
    epoll: Epoll,
    server: SocketAddr,
    server_pid: i32,
    /// Send timestamps are nanoseconds since this instant.
    epoch: Instant,
    buf: Vec<u8>,
    /// Tags the messages of each run, so stragglers of one are not counted in the next.
    run_id: u32,
}

impl Crowd {
    fn new(members: usize, server: SocketAddr, server_pid: i32) -> Result<Crowd> {
        let epoll = Epoll::new().context("epoll_create1")?;
        let mut socks = Vec::with_capacity(members);
        let mut by_port = HashMap::new();
        for i in 0..members {
            let s = UdpSocket::bind("127.0.0.1:0").context("binding a member socket")?;
            s.set_nonblocking(true)?;
            let _ = socket2::SockRef::from(&s).set_recv_buffer_size(1 << 20);
            epoll
                .add(s.as_raw_fd(), libc::EPOLLIN as u32, i as u64)
                .context("epoll_ctl")?;
            by_port.insert(s.local_addr()?.port(), i);
            socks.push(s);
        }
        Ok(Crowd {
            socks,
            by_port,
            epoll,
            server,
            server_pid,
            epoch: Instant::now(),
            buf: vec![0; 65536],
            run_id: 0,
        })
    }

    /// Waits up to `timeout` for datagrams and hands each to `f(member, bytes)`.
    /// Returns how many arrived.
    fn poll(&mut self, timeout: Duration, mut f: impl FnMut(usize, &[u8])) -> usize {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 256];
        let timeout = timeout.min(Duration::from_secs(1));
        let n = self.epoll.wait(&mut events, timeout).unwrap_or(0);
        let mut got = 0;
        for ev in events.iter().take(n) {
            let i = ev.u64 as usize;
            let Some(sock) = self.socks.get(i) else {
                continue;
            };
            // One datagram per readiness report: the epoll is level-triggered,
            // so a socket with more queued is reported again, and no recv is
            // wasted on EAGAIN.
            if let Ok(len) = sock.recv(&mut self.buf) {
                f(i, &self.buf[..len]);
                got += 1;
            }
        }
        got
    }

    /// Reads and discards until nothing arrived for `quiet` (at most `limit`).
    fn drain(&mut self, quiet: Duration, limit: Duration) {
        let until = Instant::now() + limit;
        let mut last = Instant::now();
        while Instant::now() < until && last.elapsed() < quiet {
            if self.poll(Duration::from_millis(20), |_, _| {}) > 0 {
                last = Instant::now();
            }
        }
    }

    /// Joins every member as `m<i>`, in batches so the join notices (which
    /// grow with the square of the room) do not overflow anything.
    fn join_all(&mut self) -> Result<Duration> {
        let start = Instant::now();
        let n = self.socks.len();
        let mut refused = None;
        for first in (0..n).step_by(50) {
            let mut pending: Vec<bool> = vec![false; n];
            let mut left = 0;
            for p in pending.iter_mut().take((first + 50).min(n)).skip(first) {
                *p = true;
                left += 1;
            }
            for _attempt in 0..5 {
                for (i, wants) in pending.iter().enumerate() {
                    if *wants {
                        let _ = self.socks[i].send_to(format!("L m{i}").as_bytes(), self.server);
                    }
                }
                let until = Instant::now() + Duration::from_secs(1);
                while left > 0 && Instant::now() < until {
                    self.poll(Duration::from_millis(10), |i, data| {
                        if pending[i] {
                            if data == b"OK" {
                                pending[i] = false;
                                left -= 1;
                            } else if data.starts_with(b"ERR") {
                                refused = Some(String::from_utf8_lossy(data).into_owned());
                            }
                        }
                    });
                }
                if left == 0 {
                    break;
                }
            }
            if left > 0 {
                bail!(
                    "{left} members could not join{}",
                    refused.map_or(String::new(), |r| format!(" (server said: {r})"))
                );
            }
        }
        let took = start.elapsed();
        self.drain(Duration::from_millis(300), Duration::from_secs(30));
        Ok(took)
    }

    /// [`Crowd::trial`], tried again (up to 3 times in all) while other
    /// processes disturb it; returns the calmest try.
    fn measure(&mut self, rate: f64, duration: Duration, args: &BenchArgs) -> Result<Trial> {
        let mut best: Option<Trial> = None;
        for attempt in 1..=3 {
            let t = self.trial(rate, duration, args.senders)?;
            let calm = t.other_cpu * 100.0 <= args.max_other_load;
            if best.as_ref().is_none_or(|b| t.other_cpu < b.other_cpu) {
                best = Some(t);
            }
            if calm {
                break;
            }
            if attempt < 3 {
                eprintln!(
                    "bench chat: other processes used {:.0}% of a core during that run; again",
                    best.as_ref().map_or(0.0, |b| b.other_cpu * 100.0)
                );
                std::thread::sleep(Duration::from_secs(2));
            }
        }
        best.context("no run")
    }

    /// Members `0..senders` offer `rate` messages per second in total for
    /// `duration`; everybody receives.
    fn trial(&mut self, rate: f64, duration: Duration, senders: usize) -> Result<Trial> {
        self.drain(Duration::from_millis(300), Duration::from_secs(30));
        self.run_id += 1;
        let run = self.run_id;
        let members = self.socks.len() as u64;
        let drops_before = self.kernel_drops();
        let cpu_before = proc::cpu_of(self.server_pid);
        let own_before = proc::self_cpu();
        let busy_before = machine_busy();
        let mut hist =
            Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).context("latency histogram")?;
        let sent = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let sockets: Vec<UdpSocket> = self.socks[..senders]
            .iter()
            .map(|s| s.try_clone())
            .collect::<std::io::Result<_>>()?;
        let (server, epoch) = (self.server, self.epoch);
        let (sent2, done2) = (Arc::clone(&sent), Arc::clone(&done));
        let started = Instant::now();
        let pacer = std::thread::Builder::new()
            .name("chat-bench-senders".into())
            .spawn(move || {
                let interval = Duration::from_secs_f64(1.0 / rate);
                let mut k: u64 = 0;
                loop {
                    let due = started + interval.mul_f64(k as f64);
                    if due >= started + duration {
                        break;
                    }
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let i = (k % senders as u64) as usize;
                    let t = epoch.elapsed().as_nanos();
                    let msg = format!("C m{i} {run} {k} {t}");
                    if sockets[i].send_to(msg.as_bytes(), server).is_ok() {
                        sent2.fetch_add(1, Ordering::Relaxed);
                    }
                    k += 1;
                }
                done2.store(true, Ordering::SeqCst);
            })
            .context("starting the sender thread")?;
        let mut received: u64 = 0;
        let mut finished: Option<Instant> = None;
        let mut last_arrival = Instant::now();
        loop {
            let epoch = self.epoch;
            let got = self.poll(Duration::from_millis(5), |_, data| {
                if let Some((r, t)) = parse_delivery(data)
                    && r == run
                {
                    received += 1;
                    let now = epoch.elapsed().as_nanos() as u64;
                    let us = now.saturating_sub(t) / 1000;
                    let _ = hist.record(us.max(1));
                }
            });
            if got > 0 {
                last_arrival = Instant::now();
            }
            if finished.is_none() && done.load(Ordering::SeqCst) {
                finished = Some(Instant::now());
            }
            if let Some(f) = finished {
                let expected = sent.load(Ordering::SeqCst) * (members - 1);
                // Stop once everything arrived, or nothing more comes.
                if received >= expected
                    || f.elapsed() > Duration::from_secs(5)
                    || (last_arrival.elapsed() > Duration::from_millis(500)
                        && f.elapsed() > Duration::from_millis(500))
                {
                    break;
                }
            }
        }
        let _ = pacer.join();
        let cpu = proc::cpu_of(self.server_pid).saturating_sub(cpu_before);
        let own = proc::self_cpu().saturating_sub(own_before);
        let busy = machine_busy().saturating_sub(busy_before);
        let elapsed = started.elapsed().as_secs_f64();
        let other = busy.saturating_sub(cpu + own).as_secs_f64() / elapsed;
        let drops_after = self.kernel_drops();
        let sent = sent.load(Ordering::SeqCst);
        let at = |q: f64| Duration::from_micros(hist.value_at_quantile(q));
        Ok(Trial {
            rate,
            duration,
            sent,
            expected: sent * (members - 1),
            received,
            p50: at(0.50),
            p99: at(0.99),
            max: Duration::from_micros(hist.max()),
            server_drops: drops_after.0.saturating_sub(drops_before.0),
            member_drops: drops_after.1.saturating_sub(drops_before.1),
            backlog_drops: drops_after.2.saturating_sub(drops_before.2),
            server_cpu: cpu.as_secs_f64() / duration.as_secs_f64(),
            other_cpu: other,
        })
    }

    /// The kernel's drop counters: (server sockets, member sockets, backlog).
    fn kernel_drops(&self) -> (u64, u64, u64) {
        let (mut server, mut members) = (0, 0);
        if let Ok(table) = std::fs::read_to_string("/proc/net/udp") {
            for line in table.lines().skip(1) {
                let f: Vec<&str> = line.split_whitespace().collect();
                let (Some(local), Some(drops)) = (f.get(1), f.last()) else {
                    continue;
                };
                let port = local
                    .rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
                let drops: u64 = drops.parse().unwrap_or(0);
                match port {
                    Some(p) if p == self.server.port() => server += drops,
                    Some(p) if self.by_port.contains_key(&p) => members += drops,
                    _ => {}
                }
            }
        }
        (server, members, backlog_drops())
    }
}

/// `(run, send time in ns)` from a delivered `m<i>: <run> <seq> <t>`.
fn parse_delivery(data: &[u8]) -> Option<(u32, u64)> {
    let text = std::str::from_utf8(data).ok()?;
    let (_, body) = text.split_once(": ")?;
    let mut f = body.split(' ');
    let run = f.next()?.parse().ok()?;
    let _seq = f.next()?;
    let t = f.next()?.parse().ok()?;
    Some((run, t))
}

/// Packets dropped because a CPU's input backlog was full (all CPUs).
fn backlog_drops() -> u64 {
    std::fs::read_to_string("/proc/net/softnet_stat")
        .map(|s| {
            s.lines()
                .filter_map(|l| l.split_whitespace().nth(1))
                .filter_map(|h| u64::from_str_radix(h, 16).ok())
                .sum()
        })
        .unwrap_or(0)
}

/// CPU time all CPUs spent running processes (user, nice, system, steal; not
/// interrupts, which our own traffic causes) since boot.
fn machine_busy() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return Duration::ZERO;
    };
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return Duration::ZERO;
    };
    // user nice system idle iowait irq softirq steal ...
    let f: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let busy: u64 = f
        .iter()
        .enumerate()
        .filter(|(i, _)| matches!(i, 0 | 1 | 2 | 7))
        .map(|(_, v)| v)
        .sum();
    Duration::from_micros(busy * 1_000_000 / proc::clock_ticks())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_listening_line() {
        let line = "netkit chat: listening on udp://127.0.0.1:40001 (model epoll, 2 workers)";
        assert_eq!(
            listening_addr(line),
            Some("127.0.0.1:40001".parse().unwrap())
        );
        assert_eq!(listening_addr("something else"), None);
    }

    #[test]
    fn parses_deliveries() {
        assert_eq!(parse_delivery(b"m3: 2 17 123456"), Some((2, 123456)));
        assert_eq!(parse_delivery(b"m3 joined the room"), None);
        assert_eq!(parse_delivery(b"\xff"), None);
    }
}
