//! The members: one UDP socket each, all received by one epoll loop
//! ([`Crowd`]). It joins them all, then runs trials: a pacer thread offers
//! the load from the senders while the loop times every delivery.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;

use super::kernel::{backlog_drops, machine_busy, udp_drops};
use super::{BenchArgs, Trial};
use crate::bench::proc;
use crate::sys::Epoll;

/// The members: one non-blocking UDP socket each, all watched by one epoll.
pub(super) struct Crowd {
    socks: Vec<UdpSocket>,
    /// Member index by local port, to attribute kernel drop counters.
    by_port: HashMap<u16, usize>,
    epoll: Epoll,
    /// The servers of the room; member `i` talks to `servers[i % len]`.
    servers: Vec<SocketAddr>,
    /// Their processes (and Redis's, when the room is shared), whose CPU
    /// time is the server CPU of a trial.
    server_pids: Vec<i32>,
    /// Send timestamps are nanoseconds since this instant.
    epoch: Instant,
    buf: Vec<u8>,
    /// Tags the messages of each run, so stragglers of one are not counted in the next.
    run_id: u32,
}

impl Crowd {
    pub(super) fn new(
        members: usize,
        servers: Vec<SocketAddr>,
        server_pids: Vec<i32>,
    ) -> Result<Crowd> {
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
            servers,
            server_pids,
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
            // Up to 64 datagrams per readiness report (the epoll is
            // level-triggered, so a socket with more queued is reported
            // again): at a million deliveries a second the load generator
            // shares the cores with the servers, and one epoll_wait per
            // datagram left it behind.
            for _ in 0..64 {
                match sock.recv(&mut self.buf) {
                    Ok(len) => {
                        f(i, &self.buf[..len]);
                        got += 1;
                    }
                    Err(_) => break,
                }
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
    pub(super) fn join_all(&mut self) -> Result<Duration> {
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
                        let to = self.servers[i % self.servers.len()];
                        let _ = self.socks[i].send_to(format!("L m{i}").as_bytes(), to);
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
    pub(super) fn measure(
        &mut self,
        rate: f64,
        duration: Duration,
        args: &BenchArgs,
    ) -> Result<Trial> {
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
        let cpu_before = self.server_cpu();
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
        let (servers, epoch) = (self.servers.clone(), self.epoch);
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
                    let to = servers[i % servers.len()];
                    if sockets[i].send_to(msg.as_bytes(), to).is_ok() {
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
        let cpu = self.server_cpu().saturating_sub(cpu_before);
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
        let ports: Vec<u16> = self.servers.iter().map(|s| s.port()).collect();
        let (server, members) = udp_drops(&ports, &self.by_port);
        (server, members, backlog_drops())
    }

    /// CPU time of the servers (and Redis) so far.
    fn server_cpu(&self) -> Duration {
        self.server_pids.iter().map(|&p| proc::cpu_of(p)).sum()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_deliveries() {
        assert_eq!(parse_delivery(b"m3: 2 17 123456"), Some((2, 123456)));
        assert_eq!(parse_delivery(b"m3 joined the room"), None);
        assert_eq!(parse_delivery(b"\xff"), None);
    }
}
