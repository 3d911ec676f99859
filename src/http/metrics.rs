//! The HTTP server's counters, in shared memory so that every worker —
//! thread, loop or process (fork, prefork) — adds to the same numbers, and
//! their Prometheus text form (`GET /.netkit/metrics`).
//!
//! Kept per worker slot (the worker index of multi-loop and prefork models;
//! 0 where a model has no fixed workers): requests by status, bytes
//! written, open and total connections, and a latency histogram (request's
//! first byte to its answer queued).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::sys::shared::SharedAtomics;

/// Status codes counted each on their own; others count as `other`.
const CODES: [u16; 26] = [
    100, 200, 201, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 408, 409, 412, 413,
    414, 416, 417, 431, 500, 503, 507,
];

/// Upper bounds of the latency buckets, in microseconds.
const BUCKETS_US: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 5_000_000,
];

/// Worker slots kept apart (more workers share slots modulo this).
pub const SLOTS: usize = 64;

// Offsets within one slot.
const STATUS: usize = 0; // CODES.len() + 1 (other)
const BYTES: usize = STATUS + CODES.len() + 1;
const OPEN: usize = BYTES + 1;
const ACCEPTED: usize = OPEN + 1;
const LATENCY: usize = ACCEPTED + 1; // BUCKETS_US.len() + 1 (+Inf)
const LATENCY_SUM_US: usize = LATENCY + BUCKETS_US.len() + 1;
const PER_SLOT: usize = LATENCY_SUM_US + 1;

/// The counters of one server (all its processes).
#[derive(Debug)]
pub struct Metrics {
    /// In shared memory; process-local if that could not be mapped.
    table: Result<SharedAtomics, Box<[AtomicU64]>>,
    started: Instant,
    model: &'static str,
}

/// Totals over every worker (what `/api/stats` shows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Requests answered.
    pub requests: u64,
    /// Connections accepted.
    pub connections: u64,
    /// Connections open now.
    pub open: u64,
    /// Bytes written to clients.
    pub bytes: u64,
}

impl Metrics {
    /// Zeroed counters for a server on `model`, shared with processes
    /// forked later (if shared memory cannot be had, each process counts
    /// for itself, and says so in the log).
    pub fn new(model: &'static str) -> Metrics {
        let table = SharedAtomics::new(SLOTS * PER_SLOT).map_err(|e| {
            tracing::warn!("metrics: no shared memory ({e}); each process counts its own");
            (0..SLOTS * PER_SLOT).map(|_| AtomicU64::new(0)).collect()
        });
        Metrics {
            table,
            started: Instant::now(),
            model,
        }
    }

    fn slots(&self) -> &[AtomicU64] {
        match &self.table {
            Ok(shared) => shared.slots(),
            Err(local) => local,
        }
    }

    fn slot(&self, at: usize) -> &AtomicU64 {
        let base = (crate::server::worker_index() % SLOTS) * PER_SLOT;
        &self.slots()[base + at]
    }

    fn read(&self, slot: usize, at: usize) -> u64 {
        self.slots()[slot * PER_SLOT + at].load(Ordering::Relaxed)
    }

    /// A connection was accepted.
    pub fn opened(&self) {
        self.slot(OPEN).fetch_add(1, Ordering::Relaxed);
        self.slot(ACCEPTED).fetch_add(1, Ordering::Relaxed);
    }

    /// A connection ended.
    pub fn closed(&self) {
        // Never below zero, even if a close lands on another slot than its
        // open (a connection handed between threads).
        let _ = self
            .slot(OPEN)
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }

    /// A request was answered with `status` after `took`.
    pub fn answered(&self, status: u16, took: Duration) {
        let i = CODES
            .iter()
            .position(|&c| c == status)
            .unwrap_or(CODES.len());
        self.slot(STATUS + i).fetch_add(1, Ordering::Relaxed);
        let us = took.as_micros().min(u64::MAX as u128) as u64;
        let b = BUCKETS_US
            .iter()
            .position(|&le| us <= le)
            .unwrap_or(BUCKETS_US.len());
        self.slot(LATENCY + b).fetch_add(1, Ordering::Relaxed);
        self.slot(LATENCY_SUM_US).fetch_add(us, Ordering::Relaxed);
    }

    /// `n` more bytes were written to a client.
    pub fn wrote(&self, n: u64) {
        if n > 0 {
            self.slot(BYTES).fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Totals over every worker.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for s in 0..SLOTS {
            t.requests += (0..=CODES.len())
                .map(|i| self.read(s, STATUS + i))
                .sum::<u64>();
            t.connections += self.read(s, ACCEPTED);
            t.open += self.read(s, OPEN);
            t.bytes += self.read(s, BYTES);
        }
        t
    }

    /// Seconds since the server started.
    pub fn uptime(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The Prometheus text exposition (format 0.0.4) of every counter.
    pub fn prometheus(&self) -> String {
        let mut o = String::with_capacity(4096);
        let active: Vec<usize> = (0..SLOTS)
            .filter(|&s| s == 0 || self.read(s, ACCEPTED) > 0)
            .collect();
        let labels = |s: usize| format!("model=\"{}\",worker=\"{s}\"", self.model);

        o.push_str("# HELP netkit_http_requests_total Requests answered, by status code.\n");
        o.push_str("# TYPE netkit_http_requests_total counter\n");
        for &s in &active {
            for (i, code) in CODES
                .iter()
                .map(|c| c.to_string())
                .chain(["other".to_string()])
                .enumerate()
            {
                let v = self.read(s, STATUS + i);
                if v > 0 {
                    let _ = writeln!(
                        o,
                        "netkit_http_requests_total{{{},code=\"{code}\"}} {v}",
                        labels(s)
                    );
                }
            }
        }
        let simple = [
            (
                "netkit_http_response_bytes_total",
                "counter",
                "Bytes written to clients.",
                BYTES,
            ),
            (
                "netkit_http_connections_open",
                "gauge",
                "Connections open now.",
                OPEN,
            ),
            (
                "netkit_http_connections_total",
                "counter",
                "Connections accepted.",
                ACCEPTED,
            ),
        ];
        for (name, kind, help, at) in simple {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for &s in &active {
                let _ = writeln!(o, "{name}{{{}}} {}", labels(s), self.read(s, at));
            }
        }
        let name = "netkit_http_request_duration_seconds";
        let _ = writeln!(
            o,
            "# HELP {name} Time from a request's first byte to its answer queued.\n# TYPE {name} histogram"
        );
        for &s in &active {
            let mut cumulative = 0;
            for (i, le) in BUCKETS_US.iter().enumerate() {
                cumulative += self.read(s, LATENCY + i);
                let _ = writeln!(
                    o,
                    "{name}_bucket{{{},le=\"{}\"}} {cumulative}",
                    labels(s),
                    *le as f64 / 1e6
                );
            }
            cumulative += self.read(s, LATENCY + BUCKETS_US.len());
            let _ = writeln!(o, "{name}_bucket{{{},le=\"+Inf\"}} {cumulative}", labels(s));
            let _ = writeln!(
                o,
                "{name}_sum{{{}}} {}",
                labels(s),
                self.read(s, LATENCY_SUM_US) as f64 / 1e6
            );
            let _ = writeln!(o, "{name}_count{{{}}} {cumulative}", labels(s));
        }
        let _ = writeln!(
            o,
            "# HELP netkit_uptime_seconds Seconds since the server started.\n# TYPE netkit_uptime_seconds gauge\nnetkit_uptime_seconds{{model=\"{}\"}} {:.3}",
            self.model,
            self.uptime()
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_exposition_and_the_totals() {
        let m = Metrics::new("epoll");
        m.opened();
        m.opened();
        m.closed();
        m.answered(200, Duration::from_micros(300));
        m.answered(200, Duration::from_millis(2));
        m.answered(404, Duration::from_secs(30));
        m.answered(299, Duration::ZERO);
        m.wrote(1234);
        let t = m.totals();
        assert_eq!(
            t,
            Totals {
                requests: 4,
                connections: 2,
                open: 1,
                bytes: 1234
            }
        );
        let text = m.prometheus();
        assert!(
            text.contains(
                "netkit_http_requests_total{model=\"epoll\",worker=\"0\",code=\"200\"} 2"
            )
        );
        assert!(text.contains("code=\"404\"} 1"));
        assert!(text.contains("code=\"other\"} 1"));
        assert!(
            text.contains("netkit_http_response_bytes_total{model=\"epoll\",worker=\"0\"} 1234")
        );
        assert!(text.contains("netkit_http_connections_open{model=\"epoll\",worker=\"0\"} 1"));
        assert!(text.contains("le=\"0.0005\"} 2"));
        assert!(text.contains("le=\"0.0025\"} 3"));
        assert!(text.contains("le=\"+Inf\"} 4"));
        // Closing more than opened never wraps the gauge.
        m.closed();
        m.closed();
        assert_eq!(m.totals().open, 0);
    }

    #[test]
    fn children_add_to_the_same_counters() {
        let m = Metrics::new("fork");
        // SAFETY: the child only touches shared atomics and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                m.answered(200, Duration::ZERO);
                unsafe { libc::_exit(0) };
            }
            nix::unistd::ForkResult::Parent { child } => {
                nix::sys::wait::waitpid(child, None).unwrap();
            }
        }
        m.answered(200, Duration::ZERO);
        assert_eq!(m.totals().requests, 2);
    }
}
