//! The kernel's counters a trial reads before and after: UDP drops per
//! socket (`/proc/net/udp`), backlog drops (`/proc/net/softnet_stat`) and
//! the machine's busy CPU time (`/proc/stat`).

use std::collections::HashMap;
use std::time::Duration;

use crate::bench::proc;

/// Datagrams the kernel dropped at UDP sockets so far:
/// (at the sockets bound to `server_ports`, at the sockets in
/// `members_by_port`).
pub(super) fn udp_drops(server_ports: &[u16], members_by_port: &HashMap<u16, usize>) -> (u64, u64) {
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
                Some(p) if server_ports.contains(&p) => server += drops,
                Some(p) if members_by_port.contains_key(&p) => members += drops,
                _ => {}
            }
        }
    }
    (server, members)
}

/// Packets dropped because a CPU's input backlog was full (all CPUs).
pub(super) fn backlog_drops() -> u64 {
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
pub(super) fn machine_busy() -> Duration {
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
