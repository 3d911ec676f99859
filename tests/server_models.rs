//! The server framework on every model and transport, driven through the real
//! `netkit echo serve` binary over real sockets on loopback.

mod util;

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use util::*;

const CLIENTS: usize = 6;
/// Well over a socket buffer, so partial reads and writes happen.
const LARGE: usize = 3 << 20;

fn serve(model: &str, extra: &[&str]) -> Server {
    let mut args = vec!["echo", "serve", "--model", model, "--port", "0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// epoll's and uring's busy polling stops shortly after the last event: a
/// server that has just served a burst, and is now idle, uses no CPU. Also
/// served with it off.
#[test]
fn busy_polling_stops_when_idle() {
    for (model, extra) in [
        ("epoll", &["--workers", "2"][..]),
        ("epoll", &["--workers", "2", "--busy-poll", "0"]),
        ("uring", &["--workers", "2"]),
        ("uring", &["--workers", "2", "--busy-poll", "0"]),
    ] {
        let s = serve(model, extra);
        std::thread::scope(|sc| {
            for i in 0..4u64 {
                let addr = s.addr.clone();
                sc.spawn(move || {
                    for round in 0..200 {
                        let data = payload(64, i * 1000 + round);
                        assert!(echo_stream(&addr, &data) == data);
                    }
                });
            }
        });
        std::thread::sleep(Duration::from_millis(200));
        let before = cpu_ticks(s.pid());
        std::thread::sleep(Duration::from_secs(1));
        let used = cpu_ticks(s.pid()) - before;
        // 100 ticks = one core busy for the second; waiting in epoll_wait uses ~0.
        assert!(
            used <= 5,
            "{model} {extra:?}: idle server used {used} ticks in 1 s"
        );
    }
}

/// Where io_uring is forbidden (here by a seccomp filter, as in a container
/// whose profile blocks it), `--model uring` says so in one line, suggests
/// epoll, and exits 1 at once; other models are unaffected.
#[cfg(target_arch = "x86_64")]
#[test]
fn uring_unavailable_is_one_clear_line() {
    use std::os::unix::process::CommandExt;
    let run = |model: &str| {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(["echo", "serve", "--model", model, "--port", "0"]);
        // SAFETY: between fork and exec only async-signal-safe calls (prctl).
        unsafe {
            cmd.pre_exec(|| {
                deny_io_uring();
                Ok(())
            });
        }
        cmd
    };
    let out = run("uring").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("io_uring is not available"), "{err}");
    assert!(err.contains("--model epoll"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // The same filter leaves epoll working.
    let mut epoll = run("epoll")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        epoll.try_wait().unwrap().is_none(),
        "epoll serves under the filter"
    );
    epoll.kill().unwrap();
    epoll.wait().unwrap();
}

/// Installs a seccomp filter that fails `io_uring_setup` with ENOSYS.
#[cfg(target_arch = "x86_64")]
fn deny_io_uring() {
    const IO_URING_SETUP: u32 = 425;
    let filter = [
        // Load the system call number.
        libc::sock_filter {
            code: 0x20,
            jt: 0,
            jf: 0,
            k: 0,
        }, // BPF_LD|BPF_W|BPF_ABS, nr
        // io_uring_setup? fall through to the errno, else skip it.
        libc::sock_filter {
            code: 0x15,
            jt: 0,
            jf: 1,
            k: IO_URING_SETUP,
        }, // BPF_JMP|BPF_JEQ|BPF_K
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0x0005_0000 | libc::ENOSYS as u32,
        }, // RET ERRNO
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0x7fff_0000,
        }, // RET ALLOW
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: plain prctl calls with a filter that outlives them.
    unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        libc::prctl(libc::PR_SET_SECCOMP, 2, &prog as *const libc::sock_fprog);
    }
}

/// Many concurrent clients with large payloads get exactly their bytes back.
fn check_concurrent_large(server: &Server) {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let addr = server.addr.clone();
                s.spawn(move || {
                    let data = payload(LARGE + i * 7919, i as u64 + 1);
                    let got = echo_stream(&addr, &data);
                    assert_eq!(got.len(), data.len(), "client {i}: length");
                    assert!(got == data, "client {i}: bytes differ");
                })
            })
            .collect();
        for h in handles {
            h.join().expect("client thread");
        }
    });
}

fn unix_path(tag: &str) -> String {
    let dir = std::env::temp_dir();
    format!(
        "{}/netkit-test-{}-{tag}.sock",
        dir.display(),
        std::process::id()
    )
}

macro_rules! stream_matrix {
    ($($name:ident: $model:literal $(, $extra:literal)*;)*) => {
        mod stream_matrix {
            use super::*;
            $(
                #[test]
                fn $name() {
                    let extra: &[&str] = &[$($extra),*];
                    // IPv4
                    let s = serve($model, extra);
                    check_concurrent_large(&s);
                    // IPv6
                    let mut v6 = extra.to_vec();
                    v6.extend_from_slice(&["--bind", "::1"]);
                    let s6 = serve($model, &v6);
                    assert!(matches!(s6.addr, Addr::Tcp(a) if a.is_ipv6()));
                    check_concurrent_large(&s6);
                    // Unix stream socket; the socket file goes away on SIGTERM.
                    let path = unix_path(stringify!($name));
                    let mut ux = extra.to_vec();
                    ux.extend_from_slice(&["--unix", &path]);
                    let mut su = serve($model, &ux);
                    check_concurrent_large(&su);
                    su.signal(libc::SIGTERM);
                    let st = su.wait_exit(Duration::from_secs(10)).expect("unix server exits");
                    assert!(st.success(), "exit status {st:?}");
                    assert!(!std::path::Path::new(&path).exists(), "socket file removed on exit");
                }
            )*
        }
    };
}

stream_matrix! {
    iterative: "iterative";
    fork: "fork";
    prefork: "prefork";
    thread: "thread";
    pool: "pool";
    select: "select";
    poll: "poll";
    epoll_level: "epoll", "--workers", "2";
    epoll_edge: "epoll", "--workers", "2", "--edge";
    asynch: "async";
    uring: "uring", "--workers", "2";
    blocking_handler_iterative: "iterative", "--handler", "blocking";
    blocking_handler_fork: "fork", "--handler", "blocking";
    blocking_handler_prefork: "prefork", "--handler", "blocking";
    blocking_handler_thread: "thread", "--handler", "blocking";
    blocking_handler_pool: "pool", "--handler", "blocking";
}

/// UDP echo on every model (echo is stateless, so fork and prefork may run it).
macro_rules! udp_matrix {
    ($($name:ident: $model:literal;)*) => {
        mod udp_matrix {
            use super::*;
            $(
                #[test]
                fn $name() {
                    let s = serve($model, &["--udp"]);
                    let addr = s.tcp();
                    std::thread::scope(|sc| {
                        for c in 0..4u64 {
                            sc.spawn(move || {
                                let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                                sock.connect(addr).unwrap();
                                sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                                let mut buf = vec![0u8; 65536];
                                for i in 0..50u64 {
                                    let len = [1usize, 100, 1400, 9000, 60_000][(i % 5) as usize];
                                    let msg = payload(len, c * 1000 + i + 1);
                                    sock.send(&msg).unwrap();
                                    let n = sock.recv(&mut buf).expect("udp echo reply");
                                    assert_eq!(&buf[..n], &msg[..], "client {c} datagram {i}");
                                }
                            });
                        }
                    });
                }
            )*
        }
    };
}

udp_matrix! {
    iterative: "iterative";
    fork: "fork";
    prefork: "prefork";
    thread: "thread";
    pool: "pool";
    select: "select";
    poll: "poll";
    epoll: "epoll";
    asynch: "async";
    uring: "uring";
}

/// A client that vanishes mid-stream (with unread data, so the server sees a
/// reset) does not disturb the others; idle connections are closed.
macro_rules! robustness {
    ($($name:ident: $model:literal;)*) => {
        mod robustness {
            use super::*;
            $(
                #[test]
                fn $name() {
                    let s = serve($model, &["--idle-timeout", "400ms", "--workers", "4"]);
                    // A vanishing client: sends 1 MiB, reads nothing, drops.
                    {
                        let mut c = Client::connect(&s.addr);
                        let data = payload(1 << 20, 99);
                        let _ = c.write_all(&data[..512 * 1024]);
                        drop(c);
                    }
                    // Others are still served in full.
                    let data = payload(256 * 1024, 5);
                    assert_eq!(echo_stream(&s.addr, &data), data);

                    // An idle connection is closed by the server.
                    let mut idle = Client::connect(&s.addr);
                    idle.set_read_timeout(Some(Duration::from_secs(5)));
                    let started = Instant::now();
                    let mut b = [0u8; 1];
                    let n = idle.read(&mut b).unwrap_or(0);
                    assert_eq!(n, 0, "idle connection closed with EOF");
                    let waited = started.elapsed();
                    assert!(waited >= Duration::from_millis(300), "closed too early: {waited:?}");

                    // And the server keeps serving afterwards.
                    assert_eq!(echo_stream(&s.addr, b"still here"), b"still here");
                }
            )*
        }
    };
}

robustness! {
    iterative: "iterative";
    fork: "fork";
    prefork: "prefork";
    thread: "thread";
    pool: "pool";
    select: "select";
    poll: "poll";
    epoll: "epoll";
    asynch: "async";
    uring: "uring";
}

/// SIGTERM during load: every request the server read is answered in full,
/// and the process exits 0.
macro_rules! sigterm_under_load {
    ($($name:ident: $model:literal;)*) => {
        mod sigterm_under_load {
            use super::*;
            $(
                #[test]
                fn $name() {
                    sigterm_case($model);
                }
            )*
        }
    };
}

fn sigterm_case(model: &str) {
    const MSG: usize = 4096;
    let mut s = serve(model, &["--workers", "16", "--shutdown-timeout", "3s"]);
    let addr = s.addr.clone();
    let results: Vec<(usize, usize, bool)> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..8u64)
            .map(|c| {
                let addr = addr.clone();
                sc.spawn(move || {
                    let mut conn = Client::connect(&addr);
                    conn.set_read_timeout(Some(Duration::from_secs(10)));
                    let (mut answered, mut partial_bytes) = (0usize, 0usize);
                    let until = Instant::now() + Duration::from_secs(8);
                    while Instant::now() < until {
                        let msg = payload(MSG, c * 100_000 + answered as u64 + 1);
                        if conn.write_all(&msg).is_err() {
                            break;
                        }
                        let mut got = vec![0u8; MSG];
                        let mut filled = 0;
                        while filled < MSG {
                            match conn.read(&mut got[filled..]) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => filled += n,
                            }
                        }
                        if filled == MSG {
                            assert_eq!(got, msg, "client {c}: echo content");
                            answered += 1;
                        } else {
                            partial_bytes = filled;
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    (answered, partial_bytes, Instant::now() < until)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        s.signal(libc::SIGTERM);
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    let status = s
        .wait_exit(Duration::from_secs(10))
        .expect("server exits within its deadline");
    assert!(
        status.success(),
        "{model}: exit status {status:?}; log:\n{}",
        s.log()
    );
    for (i, (answered, partial, ended_early)) in results.iter().enumerate() {
        // Iterative and prefork serve a bounded number of clients at once; the
        // rest may never be accepted. Every accepted request must be complete.
        assert_eq!(
            *partial, 0,
            "{model}: client {i} got a partial answer ({partial} bytes)"
        );
        assert!(
            *ended_early,
            "{model}: client {i} was still being served after shutdown"
        );
        let _ = answered;
    }
    let total: usize = results.iter().map(|r| r.0).sum();
    assert!(
        total > 0,
        "{model}: no request was answered before shutdown"
    );
}

sigterm_under_load! {
    iterative: "iterative";
    fork: "fork";
    prefork: "prefork";
    thread: "thread";
    pool: "pool";
    select: "select";
    poll: "poll";
    epoll: "epoll";
    asynch: "async";
    uring: "uring";
}

/// Fork: hundreds of connections leave no zombie behind, and `--max-children` holds.
#[test]
fn fork_reaps_children_and_respects_max_children() {
    let s = serve("fork", &["--max-children", "3"]);
    for i in 0..300u64 {
        let msg = payload(64, i + 1);
        assert_eq!(echo_stream(&s.addr, &msg), msg);
    }
    let pid = s.pid();
    assert!(
        eventually(Duration::from_secs(3), || children_of(pid)
            .iter()
            .all(|(_, st)| *st != 'Z')),
        "zombies remain: {:?}",
        children_of(pid)
    );

    // Hold three connections open: a fourth waits until one of them closes.
    let mut held: Vec<Client> = (0..3)
        .map(|_| {
            let mut c = Client::connect(&s.addr);
            c.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            c.read_exact(&mut b).unwrap();
            c
        })
        .collect();
    let mut fourth = Client::connect(&s.addr);
    fourth.write_all(b"y").unwrap();
    fourth.set_read_timeout(Some(Duration::from_millis(600)));
    let mut b = [0u8; 1];
    assert!(
        fourth.read(&mut b).is_err(),
        "a fourth child was started despite --max-children 3"
    );
    assert!(
        children_of(pid).len() <= 3,
        "children: {:?}",
        children_of(pid)
    );
    held.pop();
    fourth.set_read_timeout(Some(Duration::from_secs(5)));
    fourth
        .read_exact(&mut b)
        .expect("fourth client served once a slot frees");
    assert_eq!(&b, b"y");
}

/// Prefork: workers serve hundreds of connections without zombies; a killed
/// worker is reaped and replaced.
#[test]
fn prefork_replaces_dead_workers_without_zombies() {
    let s = serve("prefork", &["--workers", "3"]);
    let pid = s.pid();
    assert!(eventually(Duration::from_secs(3), || children_of(pid)
        .len()
        == 3));
    for i in 0..300u64 {
        let msg = payload(64, i + 1);
        assert_eq!(echo_stream(&s.addr, &msg), msg);
    }
    let victim = children_of(pid)[0].0;
    // SAFETY: signalling a worker of our own child.
    unsafe {
        libc::kill(victim, libc::SIGKILL);
    }
    assert!(
        eventually(Duration::from_secs(3), || {
            let kids = children_of(pid);
            kids.len() == 3 && kids.iter().all(|(p, st)| *p != victim && *st != 'Z')
        }),
        "worker not replaced or zombie left: {:?}",
        children_of(pid)
    );
    assert_eq!(echo_stream(&s.addr, b"after restart"), b"after restart");
}

/// select(2) cannot watch descriptors >= FD_SETSIZE: such connections are
/// refused with a clear message and everything else keeps working.
#[test]
fn select_refuses_descriptors_beyond_fd_setsize() {
    let limit = raise_nofile();
    assert!(
        limit > 1200,
        "test needs a higher open-file limit (have {limit})"
    );
    let s = serve("select", &[]);
    let mut first = Client::connect(&s.addr);
    first.write_all(b"a").unwrap();
    let mut b = [0u8; 1];
    first.read_exact(&mut b).unwrap();
    let mut conns = Vec::new();
    for _ in 0..1100 {
        conns.push(Client::connect(&s.addr));
    }
    assert!(
        eventually(Duration::from_secs(10), || s.log().contains("FD_SETSIZE")),
        "no FD_SETSIZE message; log:\n{}",
        s.log()
    );
    // The last connections were closed by the server (EOF), not left hanging.
    let last = conns.last_mut().unwrap();
    last.set_read_timeout(Some(Duration::from_secs(5)));
    let mut b = [0u8; 1];
    let _ = last.write_all(b"z");
    assert!(
        matches!(last.read(&mut b), Ok(0) | Err(_)),
        "connection beyond FD_SETSIZE should be closed"
    );
    // Earlier ones still work.
    first.write_all(b"q").unwrap();
    first.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"q");
}

/// An event-loop model with `--max-connections` makes extra clients wait, then serves them.
#[test]
fn max_connections_makes_extra_clients_wait() {
    for model in ["epoll", "poll", "async", "thread"] {
        let s = serve(model, &["--max-connections", "2", "--workers", "1"]);
        let mut a = Client::connect(&s.addr);
        let mut b2 = Client::connect(&s.addr);
        for c in [&mut a, &mut b2] {
            c.write_all(b"1").unwrap();
            let mut b = [0u8; 1];
            c.read_exact(&mut b).unwrap();
        }
        let mut third = Client::connect(&s.addr);
        third.write_all(b"3").unwrap();
        third.set_read_timeout(Some(Duration::from_millis(500)));
        let mut b = [0u8; 1];
        assert!(
            third.read(&mut b).is_err(),
            "{model}: third client served beyond --max-connections 2"
        );
        drop(a);
        third.set_read_timeout(Some(Duration::from_secs(5)));
        third
            .read_exact(&mut b)
            .unwrap_or_else(|e| panic!("{model}: third client not served after a slot freed: {e}"));
        assert_eq!(&b, b"3");
    }
}

/// Pairings a model cannot run fail at startup with one clear line.
#[test]
fn unsupported_pairings_fail_at_startup() {
    for model in ["select", "poll", "epoll", "async", "uring"] {
        let out = std::process::Command::new(bin())
            .args([
                "echo",
                "serve",
                "--port",
                "0",
                "--handler",
                "blocking",
                "--model",
                model,
            ])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cannot run a blocking handler"),
            "{model}: {err}"
        );
        assert!(
            err.contains("iterative, fork, prefork, thread, pool"),
            "{model}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

/// Bind failures are one clear line each; a stale Unix socket file is replaced.
#[test]
fn bind_errors_are_clear() {
    let s = serve("thread", &[]);
    let port = s.tcp().port().to_string();
    let out = std::process::Command::new(bin())
        .args(["echo", "serve", "--port", &port])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already in use"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let out = std::process::Command::new(bin())
        .args(["echo", "serve", "--port", "0", "--bind", "no such host!"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid address"));

    let out = std::process::Command::new(bin())
        .args(["echo", "serve", "--port", "0", "--bind", "192.0.2.1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not on this machine"));

    // A stale socket file (its server is gone) is replaced; a live one is not.
    let path = unix_path("stale");
    let _ = std::fs::remove_file(&path);
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(std::path::Path::new(&path).exists());
    let live = serve("thread", &["--unix", &path]);
    assert_eq!(echo_stream(&live.addr, b"over unix"), b"over unix");
    let out = std::process::Command::new(bin())
        .args(["echo", "serve", "--unix", &path])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("already in use"));
    // A regular file is never clobbered.
    let file = unix_path("regular");
    std::fs::write(&file, b"data").unwrap();
    let out = std::process::Command::new(bin())
        .args(["echo", "serve", "--unix", &file])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a socket"));
    assert_eq!(std::fs::read(&file).unwrap(), b"data");
    let _ = std::fs::remove_file(&file);
}

/// The client: script mode copies stdin through the server; interactive mode
/// prints each echo and stops at `##`.
#[test]
fn echo_client_modes() {
    use std::process::{Command, Stdio};
    let s = serve("epoll", &[]);
    let addr = s.tcp().to_string();
    let data = payload(2 << 20, 3);
    let mut child = Command::new(bin())
        .args(["echo", "client", &addr])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let d2 = data.clone();
    let w = std::thread::spawn(move || stdin.write_all(&d2));
    let out = child.wait_with_output().unwrap();
    w.join().unwrap().unwrap();
    assert!(out.status.success());
    assert!(out.stdout == data, "piped echo differs");

    // Interactive form, driven through the library entry point.
    let target = netkit::tools::echo::Target::Tcp(s.tcp());
    let mut input = std::io::Cursor::new(b"hello\nworld\n##\nnot sent\n".to_vec());
    let mut output = Vec::new();
    netkit::tools::echo::interactive(&target, &mut input, &mut output).unwrap();
    assert_eq!(String::from_utf8(output).unwrap(), "> hello\n> world\n> ");

    // UDP client mode.
    let su = serve("poll", &["--udp"]);
    let out = Command::new(bin())
        .args(["echo", "client", "--udp", &su.tcp().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(b"one\ntwo\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\ntwo\n");
}

/// Length of the kernel accept queue of the TCP listener on `port` (from /proc/net/tcp).
fn accept_queue_len(port: u16) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
        let listening = *f.get(3)? == "0A";
        if local_port != port || !listening {
            return None;
        }
        usize::from_str_radix(f.get(4)?.split(':').nth(1)?, 16).ok()
    })
}

/// Pool: one worker, a queue of one. Beyond the worker, the queued connection
/// and the one the acceptor holds, clients wait in the kernel backlog; all are
/// served in turn, none lost.
#[test]
fn pool_queue_is_bounded() {
    let s = serve("pool", &["--workers", "1", "--queue", "1"]);
    let port = s.tcp().port();
    let mut clients: Vec<Client> = Vec::new();
    for i in 0..5u8 {
        let mut c = Client::connect(&s.addr);
        c.set_read_timeout(Some(Duration::from_secs(10)));
        c.write_all(&[b'a' + i]).unwrap();
        clients.push(c);
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut b = [0u8; 1];
    clients[0].read_exact(&mut b).unwrap();
    assert_eq!(&b, b"a");
    // Worker has #0, the queue has #1, the acceptor holds #2: #3 and #4 wait in the backlog.
    assert!(
        eventually(Duration::from_secs(3), || accept_queue_len(port) == Some(2)),
        "accept queue: {:?}",
        accept_queue_len(port)
    );
    for (i, mut c) in clients.into_iter().enumerate() {
        if i > 0 {
            c.read_exact(&mut b).unwrap();
            assert_eq!(b[0], b'a' + i as u8, "client {i}");
        }
        drop(c); // frees the worker for the next one
    }
}

/// Workers never outlive a master that was killed outright.
#[test]
fn prefork_workers_die_with_a_killed_master() {
    let mut s = serve("prefork", &["--workers", "3"]);
    let pid = s.pid();
    assert!(eventually(Duration::from_secs(3), || children_of(pid)
        .len()
        == 3));
    let workers: Vec<i32> = children_of(pid).into_iter().map(|(p, _)| p).collect();
    s.signal(libc::SIGKILL);
    let _ = s.wait_exit(Duration::from_secs(5));
    let alive = |p: &i32| {
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .map(|st| {
                st.rsplit(')')
                    .next()
                    .and_then(|r| r.split_whitespace().next())
                    != Some("Z")
            })
            .unwrap_or(false)
    };
    assert!(
        eventually(Duration::from_secs(10), || !workers.iter().any(alive)),
        "workers still running after the master was killed: {workers:?}"
    );
}

/// Two servers never share a port, even though epoll workers use SO_REUSEPORT
/// among themselves (TCP and UDP).
#[test]
fn a_second_server_cannot_join_a_reuseport_group() {
    for transport in [None, Some("--udp")] {
        let mut first_args = vec!["--workers", "2"];
        first_args.extend(transport);
        let first = serve("epoll", &first_args);
        let port = first.tcp().port().to_string();
        let mut args = vec![
            "echo",
            "serve",
            "--model",
            "epoll",
            "--workers",
            "2",
            "--port",
            &port,
        ];
        args.extend(transport);
        let out = std::process::Command::new(bin())
            .args(&args)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{transport:?}: second server started on a taken port"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("already in use"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
