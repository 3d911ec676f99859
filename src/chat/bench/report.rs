//! What `netkit bench chat` prints: the Markdown tables on stdout, the
//! one-line summary of a run on stderr, and the figures both are made of.

use std::time::Duration;

use super::search::Best;
use super::{BenchArgs, Trial};

/// Prints the results table and, with `--find-max`, the table of maxima.
pub(super) fn print_tables(args: &BenchArgs, rows: &[(String, Trial)], maxima: &[(String, Best)]) {
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
    for (model, t) in rows {
        println!("{}", row(model, t));
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
        for (model, best) in maxima {
            match &best.good {
                Some(t) => {
                    let [offered, _, delivered, p50, p99, .., cpu, other] = figures(t);
                    println!(
                        "| {model} | {offered} | {delivered} | {p50} | {p99} | {cpu}% | {other}% | {} |",
                        best.failed
                    );
                }
                None => println!("| {model} | none | | | | | | {} |", best.failed),
            }
        }
    }
}

/// A run's row in the results table.
fn row(model: &str, t: &Trial) -> String {
    // The first seven figures have a column each; the drops share one.
    let f = figures(t);
    format!(
        "| {model} | {} | {}/{}/{} | {}% | {}% |",
        f[..7].join(" | "),
        f[7],
        f[8],
        f[9],
        f[10],
        f[11]
    )
}

/// One line on a run, for the progress log.
pub(super) fn summary(t: &Trial) -> String {
    let [
        offered,
        expected,
        delivered,
        p50,
        p99,
        max,
        lost,
        ds,
        dm,
        db,
        cpu,
        other,
    ] = figures(t);
    format!(
        "offered {offered} msg/s: delivered {delivered}/s of {expected}/s, p50 {p50} ms, p99 {p99} ms, max {max} ms, \
         lost {lost} (drops server {ds}, members {dm}, backlog {db}), server CPU {cpu}%, other load {other}%"
    )
}

/// A run's figures as the tables and the summary show them, in this order:
/// offered msg/s, expected deliveries/s, delivered/s; p50, p99 and max
/// latency in ms; lost deliveries; drops at the server, at the members and
/// in the backlog; server CPU and other load in % of one core.
fn figures(t: &Trial) -> [String; 12] {
    [
        format!("{:.0}", t.offered()),
        format!("{:.0}", t.expected as f64 / t.duration.as_secs_f64()),
        format!("{:.0}", t.delivered()),
        format!("{:.2}", ms(t.p50)),
        format!("{:.2}", ms(t.p99)),
        format!("{:.2}", ms(t.max)),
        t.lost().to_string(),
        t.server_drops.to_string(),
        t.member_drops.to_string(),
        t.backlog_drops.to_string(),
        format!("{:.0}", t.server_cpu * 100.0),
        format!("{:.0}", t.other_cpu * 100.0),
    ]
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

/// A duration in milliseconds.
pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_run() -> Trial {
        Trial {
            rate: 100.0,
            duration: Duration::from_secs(2),
            sent: 200,
            expected: 199_800,
            received: 199_000,
            p50: Duration::from_micros(1500),
            p99: Duration::from_micros(12_500),
            max: Duration::from_millis(40),
            server_drops: 1,
            member_drops: 2,
            backlog_drops: 3,
            server_cpu: 0.456,
            other_cpu: 0.1,
        }
    }

    #[test]
    fn row_and_summary_of_a_run() {
        let t = a_run();
        assert_eq!(
            row("epoll", &t),
            "| epoll | 100 | 99900 | 99500 | 1.50 | 12.50 | 40.00 | 800 | 1/2/3 | 46% | 10% |"
        );
        assert_eq!(
            summary(&t),
            "offered 100 msg/s: delivered 99500/s of 99900/s, p50 1.50 ms, p99 12.50 ms, \
             max 40.00 ms, lost 800 (drops server 1, members 2, backlog 3), server CPU 46%, \
             other load 10%"
        );
        assert_eq!(short(Duration::from_secs(5)), "5s");
        assert_eq!(short(Duration::from_millis(1500)), "1.5s");
        assert_eq!(short(Duration::from_millis(500)), "500ms");
    }
}
