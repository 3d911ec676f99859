//! Lessons on the classic server classes: Python's socketserver shown as netkit models and handlers.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::{Run, num, run};

/// One run of the full demo (16 server processes), shared by the tests below.
fn demo() -> &'static Run {
    static DEMO: OnceLock<Run> = OnceLock::new();
    DEMO.get_or_init(|| run("socketserver", &[]))
}

/// Where one reply says it was handled.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Who {
    pid: i64,
    tid: i64,
    thread: String,
}

/// Parses `pid=.. tid=.. thread=..` from a reply line.
fn who(line: &str) -> Who {
    let thread = line
        .split("thread=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no thread= in {line:?}"))
        .to_string();
    Who {
        pid: num(line, "pid="),
        tid: num(line, "tid="),
        thread,
    }
}

/// The reply to `message` from the server variant `name`.
fn reply(r: &Run, name: &str, message: &str) -> Who {
    who(r.line(&format!("{name} {message} -> ")))
}

/// The pid of the server process whose section header starts with `header`.
fn server_pid(r: &Run, header: &str) -> i64 {
    let line = r.line(&format!("== {header} = "));
    let pid = num(line, "server pid=");
    assert_ne!(pid, r.pid, "each server runs in its own process: {line}");
    pid
}

fn distinct(values: impl IntoIterator<Item = i64>) -> usize {
    values.into_iter().collect::<HashSet<_>>().len()
}

#[test]
fn socketserver_tcp_classes_iterative_thread_fork() {
    let r = demo();
    r.assert_success();
    r.has_line(
        "socketserver: started 16 servers, each in its own process (this program run as `serve VARIANT`)",
    );

    // TCPServer: everything in the server's own (main) thread, one client at a time.
    let sp = server_pid(r, "TCPServer + StreamRequestHandler");
    for m in ["a1", "a2", "b1", "b2", "c1"] {
        let w = reply(r, "tcp", m);
        assert_eq!(
            (w.pid, w.tid),
            (sp, sp),
            "tcp {m} in the server thread\n{}",
            r.context()
        );
        assert_eq!(w.thread, "main");
    }
    r.has_line("tcp b1: no reply within 400 ms while a is connected");
    assert!(
        r.index_of("tcp a2 -> ") < r.index_of("tcp b1 -> "),
        "b is answered only after a is done\n{}",
        r.context()
    );
    assert!(r.line("tcp b1 -> ").ends_with("(after a closed)"));
    r.has_line("tcp: the server's own thread; one client at a time");

    // ThreadingTCPServer: same process, a new thread per connection, b served while a is open.
    let sp = server_pid(r, "ThreadingTCPServer");
    let (a1, a2, b1, b2, c1) = (
        reply(r, "threading-tcp", "a1"),
        reply(r, "threading-tcp", "a2"),
        reply(r, "threading-tcp", "b1"),
        reply(r, "threading-tcp", "b2"),
        reply(r, "threading-tcp", "c1"),
    );
    for w in [&a1, &a2, &b1, &b2, &c1] {
        assert_eq!(
            w.pid,
            sp,
            "threads live in the server process\n{}",
            r.context()
        );
        assert_ne!(w.tid, sp, "not the server's main thread\n{}", r.context());
        assert_eq!(w.thread, "netkit-conn");
    }
    assert_eq!(a1.tid, a2.tid, "one thread serves a whole connection");
    assert_eq!(b1.tid, b2.tid);
    assert_eq!(distinct([a1.tid, b1.tid, c1.tid]), 3, "{}", r.context());
    assert!(
        r.index_of("threading-tcp b1 -> ") < r.index_of("threading-tcp a2 -> "),
        "b is served while a is still connected\n{}",
        r.context()
    );
    assert!(
        r.line("threading-tcp b1 -> ")
            .ends_with("(while a is connected)")
    );

    // ForkingTCPServer: a new child process per connection.
    let sp = server_pid(r, "ForkingTCPServer");
    let (a1, a2, b1, b2, c1) = (
        reply(r, "forking-tcp", "a1"),
        reply(r, "forking-tcp", "a2"),
        reply(r, "forking-tcp", "b1"),
        reply(r, "forking-tcp", "b2"),
        reply(r, "forking-tcp", "c1"),
    );
    for w in [&a1, &a2, &b1, &b2, &c1] {
        assert_ne!(
            w.pid,
            sp,
            "handled in a child, not the server\n{}",
            r.context()
        );
        assert_ne!(w.pid, r.pid);
        assert_eq!(w.tid, w.pid, "the child is single-threaded");
    }
    assert_eq!(a1.pid, a2.pid, "one child serves a whole connection");
    assert_eq!(b1.pid, b2.pid);
    assert_eq!(distinct([a1.pid, b1.pid, c1.pid]), 3, "{}", r.context());
    assert!(r.index_of("forking-tcp b1 -> ") < r.index_of("forking-tcp a2 -> "));
    r.has_line("forking-tcp: a new process per connection (3 for 3); clients at once");

    r.has_line(
        "socketserver: sent SIGTERM to all 16 servers: 16 stopped gracefully (exit status 0)",
    );
}

#[test]
fn socketserver_udp_classes_iterative_thread_fork() {
    let r = demo();
    r.assert_success();
    let sp = server_pid(r, "UDPServer + DatagramRequestHandler");
    for d in ["d1", "d2", "d3"] {
        let w = reply(r, "udp", d);
        assert_eq!((w.pid, w.tid), (sp, sp), "udp {d}\n{}", r.context());
    }
    r.has_line("udp: the server's own thread");

    let sp = server_pid(r, "ThreadingUDPServer");
    let ws: Vec<Who> = ["d1", "d2", "d3"]
        .iter()
        .map(|d| reply(r, "threading-udp", d))
        .collect();
    for w in &ws {
        assert_eq!(w.pid, sp);
        assert_ne!(
            w.tid,
            sp,
            "a thread other than the server's\n{}",
            r.context()
        );
    }
    assert_eq!(
        distinct(ws.iter().map(|w| w.tid)),
        3,
        "a thread per datagram\n{}",
        r.context()
    );

    let sp = server_pid(r, "ForkingUDPServer");
    let ws: Vec<Who> = ["d1", "d2", "d3"]
        .iter()
        .map(|d| reply(r, "forking-udp", d))
        .collect();
    for w in &ws {
        assert_ne!(w.pid, sp, "a child process answers\n{}", r.context());
    }
    assert_eq!(
        distinct(ws.iter().map(|w| w.pid)),
        3,
        "a process per datagram\n{}",
        r.context()
    );
}

/// A session line: `session-MODEL: server pid=S, a pid=.. tid=.., b ..., c ...: what happened`.
struct SessionRun {
    server: i64,
    a: Who,
    b: Who,
    c: Who,
    happened: String,
}

fn session(r: &Run, model: &str) -> SessionRun {
    let line = r.line(&format!("session-{model}: server pid="));
    let parts: Vec<&str> = line.split(", ").collect();
    assert!(parts.len() >= 4, "{line}");
    let part = |label: &str| {
        let p = parts
            .iter()
            .find(|p| p.starts_with(&format!("{label} pid=")))
            .unwrap_or_else(|| panic!("no {label} in {line:?}"));
        Who {
            pid: num(p, "pid="),
            tid: num(p, "tid="),
            thread: String::new(),
        }
    };
    let happened = line
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(": "))
        .map(|(_, h)| h.to_string())
        .unwrap_or_default();
    SessionRun {
        server: num(line, "server pid="),
        a: part("a"),
        b: part("b"),
        c: part("c"),
        happened,
    }
}

#[test]
fn socketserver_same_session_runs_on_every_model() {
    let r = demo();
    r.assert_success();
    let mut servers = HashSet::new();

    let s = session(r, "iterative");
    for w in [&s.a, &s.b, &s.c] {
        assert_eq!((w.pid, w.tid), (s.server, s.server));
    }
    assert!(
        s.happened.ends_with("one client at a time"),
        "{}",
        s.happened
    );
    servers.insert(s.server);

    for model in ["select", "poll"] {
        let s = session(r, model);
        for w in [&s.a, &s.b, &s.c] {
            assert_eq!((w.pid, w.tid), (s.server, s.server), "{model}: one thread");
        }
        assert!(
            s.happened.ends_with("clients at once"),
            "{model}: {}",
            s.happened
        );
        servers.insert(s.server);
    }

    for model in ["epoll", "async"] {
        let s = session(r, model);
        for w in [&s.a, &s.b, &s.c] {
            assert_eq!(w.pid, s.server, "{model}");
            assert_ne!(w.tid, s.server, "{model}: a worker thread, not main");
        }
        assert_eq!(
            distinct([s.a.tid, s.b.tid, s.c.tid]),
            1,
            "{model}: one loop thread"
        );
        assert!(
            s.happened.ends_with("clients at once"),
            "{model}: {}",
            s.happened
        );
        servers.insert(s.server);
    }

    let s = session(r, "thread");
    for w in [&s.a, &s.b, &s.c] {
        assert_eq!(w.pid, s.server);
        assert_ne!(w.tid, s.server);
    }
    assert_eq!(
        distinct([s.a.tid, s.b.tid, s.c.tid]),
        3,
        "a new thread per connection"
    );
    servers.insert(s.server);

    let s = session(r, "pool");
    assert_ne!(s.a.tid, s.b.tid, "a and b at once need two pool threads");
    assert!(
        [s.a.tid, s.b.tid].contains(&s.c.tid),
        "c reuses a pool thread\n{}",
        r.context()
    );
    for w in [&s.a, &s.b, &s.c] {
        assert_eq!(w.pid, s.server);
        assert_ne!(w.tid, s.server);
    }
    servers.insert(s.server);

    let s = session(r, "fork");
    assert_eq!(
        distinct([s.a.pid, s.b.pid, s.c.pid]),
        3,
        "a new process per connection"
    );
    assert!([s.a.pid, s.b.pid, s.c.pid].iter().all(|&p| p != s.server));
    servers.insert(s.server);

    let s = session(r, "prefork");
    assert_ne!(s.a.pid, s.b.pid, "a and b at once need two workers");
    assert!(
        [s.a.pid, s.b.pid].contains(&s.c.pid),
        "c is served by a worker made at start\n{}",
        r.context()
    );
    assert!([s.a.pid, s.b.pid].iter().all(|&p| p != s.server));
    servers.insert(s.server);

    assert_eq!(servers.len(), 9, "each model ran in its own server process");
    assert!(!servers.contains(&r.pid));
}

#[test]
fn socketserver_prints_a_summary_table() {
    let r = demo();
    r.assert_success();
    let row = |python: &str| {
        r.lines()
            .into_iter()
            .find(|l| l.starts_with(python) && l.contains(" | "))
            .unwrap_or_else(|| panic!("no table row for {python}\n{}", r.context()))
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        r.line("Python socketserver class")
            .contains("| what happened")
    );
    assert_eq!(
        row("TCPServer + StreamRequestHandler"),
        [
            "TCPServer + StreamRequestHandler",
            "Handler on Model::Iterative",
            "the server's own thread; one client at a time"
        ]
    );
    assert_eq!(
        row("ThreadingTCPServer"),
        [
            "ThreadingTCPServer",
            "Handler on Model::Thread",
            "a new thread per connection (3 for 3), same process; clients at once"
        ]
    );
    assert_eq!(
        row("ForkingTCPServer"),
        [
            "ForkingTCPServer",
            "Handler on Model::Fork",
            "a new process per connection (3 for 3); clients at once"
        ]
    );
    assert_eq!(
        row("ThreadingUDPServer")[1],
        "DatagramService on Model::Thread"
    );
    assert_eq!(row("ForkingUDPServer")[1], "DatagramService on Model::Fork");
    assert_eq!(
        row("ForkingUDPServer")[2],
        "a new process per datagram (3 for 3)"
    );
    assert_eq!(
        row("- (a select.select() loop)")[1],
        "Session on Model::Select"
    );
}

#[test]
fn socketserver_rejects_an_unknown_variant() {
    let r = run("socketserver", &["serve", "nope"]);
    assert!(!r.status.success(), "{}", r.context());
    assert!(
        r.stderr.contains("unknown variant \"nope\"") && r.stderr.contains("forking-tcp"),
        "{}",
        r.context()
    );
}
