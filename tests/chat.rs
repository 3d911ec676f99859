//! The chat room over real UDP on loopback: the `netkit chat serve` binary on
//! every model that can hold the room, the course's wire contract (also from
//! a Python client written from it), the rules the course left out, a flood
//! of garbage, the operator's console, idle members, and `netkit chat join`
//! in line mode. `chat/limits.rs`: what one host may hold, expiry by default,
//! keep-alives, and addresses that outlive their members.

#[path = "chat/harness.rs"]
mod harness;
#[path = "chat/limits.rs"]
mod limits;
mod util;

use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use harness::*;
use netkit::chat::ChatService;
use netkit::chat::room::{Limits, Room};
use netkit::server::{self, Config, Model, Shutdown, net};

const QUIET: Duration = Duration::from_millis(150);

/// Three members join, talk and leave; everybody else sees exactly the right
/// lines, and nobody gets their own message back.
fn room_conversation(model: &str) {
    let server = ChatServer::start(&["--model", model]);
    let s = server.addr;

    let alice = Member::join(s, "alice");
    let bob = Member::join(s, "bob");
    alice.expect("bob joined the room");
    let carol = Member::join(s, "carol");
    alice.expect("carol joined the room");
    bob.expect("carol joined the room");

    alice.say("hello everyone");
    bob.expect("alice: hello everyone");
    carol.expect("alice: hello everyone");

    bob.say("hi alice, 你好");
    alice.expect("bob: hi alice, 你好");
    carol.expect("bob: hi alice, 你好");

    carol.send("Q carol");
    carol.expect("EXIT");
    alice.expect("carol left the room");
    bob.expect("carol left the room");

    bob.say("just us now");
    alice.expect("bob: just us now");

    alice.send("Q alice");
    alice.expect("EXIT");
    bob.expect("alice left the room");

    // Nothing else: in particular no sender got its own message back.
    for m in [&alice, &bob, &carol] {
        m.silent(QUIET);
    }
    assert!(server.log().contains("carol left from"), "{}", server.log());
}

macro_rules! room_on_models {
    ($($name:ident: $model:literal;)*) => {
        mod room_on_models {
            $(
                #[test]
                fn $name() {
                    super::room_conversation($model);
                }
            )*
        }
    };
}

room_on_models! {
    iterative: "iterative";
    thread: "thread";
    pool: "pool";
    select: "select";
    poll: "poll";
    epoll: "epoll";
    asynch: "async";
}

/// Models that run each datagram in a separate process cannot share the room:
/// refused at startup with a clear message, before binding anything.
#[test]
fn fork_and_prefork_are_refused() {
    for model in ["fork", "prefork"] {
        let out = Command::new(bin())
            .args(["chat", "serve", "--port", "0", "--model", model])
            .stdin(Stdio::null())
            .output()
            .expect("run netkit");
        assert!(!out.status.success(), "{model} must be refused");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("model '{model}' cannot run this UDP service"))
                && err.contains("iterative, thread, pool, select, poll, epoll, async"),
            "{model}: {err}"
        );
        assert!(!err.contains("listening on"), "{err}");
    }
}

/// Starts `tests/chat/course_client.py` against `server`: the child, its
/// stdin, and its stdout lines as they arrive.
fn course_client(
    server: std::net::SocketAddr,
) -> (
    std::process::Child,
    std::process::ChildStdin,
    mpsc::Receiver<String>,
) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chat/course_client.py");
    let mut py = Command::new("python3")
        .env("PYTHONIOENCODING", "utf-8")
        .arg(script)
        .arg(server.ip().to_string())
        .arg(server.port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs (it is on every machine)");
    let stdin = py.stdin.take().expect("stdin");
    let lines = read_lines(py.stdout.take().expect("stdout"));
    (py, stdin, lines)
}

/// The course's wording (`--lang zh`), seen by a course client that speaks
/// only L/C/Q: joins, messages, the operator's broadcast and leaves read as the
/// course's room prints them; names that merely contain a reserved one are
/// ordinary names.
#[test]
fn python_course_client_in_the_course_wording() {
    let mut server = ChatServer::start(&["--model", "thread", "--lang", "zh"]);
    let alice = Member::join(server.addr, "小明");
    let (mut py, mut stdin, lines) = course_client(server.addr);
    let next = || {
        lines
            .recv_timeout(WAIT)
            .expect("a line from the python client")
    };

    writeln!(stdin, "管理员").unwrap();
    assert_eq!(next(), "name refused: ERR 用户名 '管理员' 是保留的");
    writeln!(stdin, "小明").unwrap();
    assert_eq!(next(), "name refused: ERR 该用户已存在：'小明'");
    writeln!(stdin, "badminton").unwrap();
    assert_eq!(next(), "joined badminton");
    alice.expect("badminton 进入聊天室");

    alice.say("你好");
    assert_eq!(next(), "< 小明 说：你好");
    writeln!(stdin, "hi from python").unwrap();
    alice.expect("badminton 说：hi from python");

    server.type_line("下课了");
    assert_eq!(next(), "< 管理员 说：下课了");
    alice.expect("管理员 说：下课了");

    writeln!(stdin, "quit").unwrap();
    assert_eq!(next(), "bye");
    alice.expect("badminton 退出了聊天室");
    let st = py.wait().expect("python exits");
    assert!(st.success(), "{st:?}");
    alice.silent(QUIET);
}

/// A course client written in Python from the wire contract joins (after a
/// refused name), talks both ways with a netkit member, and leaves on `quit`.
#[test]
fn python_course_client() {
    let server = ChatServer::start(&["--model", "poll"]);
    let alice = Member::join(server.addr, "alice");
    let (mut py, mut stdin, lines) = course_client(server.addr);
    let next = || {
        lines
            .recv_timeout(WAIT)
            .expect("a line from the python client")
    };

    writeln!(stdin, "Admin").unwrap();
    assert_eq!(next(), "name refused: ERR name 'Admin' is reserved");
    writeln!(stdin, "ALICE").unwrap();
    assert_eq!(next(), "name refused: ERR name 'ALICE' is taken");
    writeln!(stdin, "py").unwrap();
    assert_eq!(next(), "joined py");
    alice.expect("py joined the room");

    alice.say("hello py");
    assert_eq!(next(), "< alice: hello py");
    writeln!(stdin, "hi from python").unwrap();
    alice.expect("py: hi from python");

    writeln!(stdin, "quit").unwrap();
    assert_eq!(next(), "bye");
    alice.expect("py left the room");
    let st = py.wait().expect("python exits");
    assert!(st.success(), "{st:?}");
    alice.silent(QUIET);
}

/// Impersonation, reserved and duplicate names, repeated joins, oversize and
/// garbage datagrams: each gets an `ERR` reply and changes nothing.
#[test]
fn rules_over_the_wire() {
    let server = ChatServer::start(&["--model", "thread", "--max-members", "3"]);
    let s = server.addr;
    let alice = Member::join(s, "alice");
    let bob = Member::join(s, "bob");
    alice.expect("bob joined the room");
    let eve = Member::new(s, "eve");

    // Speaking or leaving as someone else.
    eve.send("C alice give eve your password");
    eve.expect("ERR 'alice' joined from another address; you cannot speak or leave as them");
    eve.send("Q alice");
    eve.expect_prefix("ERR 'alice' joined from another address");
    bob.send("C alice bob pretending");
    bob.expect("ERR this address joined as 'bob'; it cannot speak or leave as 'alice'");
    bob.send("Q alice");
    bob.expect_prefix("ERR this address joined as 'bob'");
    eve.send("C eve hi");
    eve.expect("ERR not in the room; join with L <name> first");

    // Names.
    for (name, reply) in [
        ("Admin", "ERR name 'Admin' is reserved"),
        ("ADMIN", "ERR name 'ADMIN' is reserved"),
        ("管理员", "ERR name '管理员' is reserved"),
        ("ALICE", "ERR name 'ALICE' is taken"),
        ("   ", "ERR invalid name: empty"),
        ("x:y", "ERR invalid name: contains ':'"),
        (
            "abcdefghijklmnopqrstuvwxyz0123456",
            "ERR invalid name: longer than 32 characters",
        ),
    ] {
        eve.send(&format!("L {name}"));
        eve.expect(reply);
    }
    eve.send_bytes(b"L bad\x07bell");
    eve.expect("ERR invalid name: contains control characters");

    // A repeated join with the same name is OK again (nobody told twice);
    // with a taken name it is refused and alice stays alice. (Another free
    // name is a fresh member: see limits::a_reused_port_is_a_fresh_member.)
    alice.send("L Alice");
    alice.expect("OK");
    alice.send("L bob");
    alice.expect("ERR name 'bob' is taken");

    // Texts.
    alice.say(&"x".repeat(801));
    alice.expect("ERR message too long: 801 bytes (limit 800); nothing was sent");
    alice.say("line one\nAdmin: forged");
    alice.expect("ERR message contains control characters; nothing was sent");
    alice.say("");
    alice.expect("ERR empty message; nothing was sent");

    // Garbage.
    for junk in [
        &b""[..],
        b"\xff\xfe garbage",
        b"HELLO server",
        b"l alice",
        &[b'C'; 60_000][..],
    ] {
        eve.send_bytes(junk);
        eve.expect_prefix("ERR ");
    }
    eve.send_bytes(b"\xc3\x28");
    eve.expect("ERR datagram is not valid UTF-8");

    // Room full (limit 3): carol fits, dave does not.
    let carol = Member::join(s, "carol");
    let dave = Member::new(s, "dave");
    dave.send("L dave");
    dave.expect("ERR room is full (3 members)");

    // Nothing of the above reached the members, and they are all still bound.
    alice.expect("carol joined the room");
    bob.expect("carol joined the room");
    alice.say("still here");
    bob.expect("alice: still here");
    carol.expect("alice: still here");
    for m in [&alice, &bob, &carol, &eve, &dave] {
        m.silent(QUIET);
    }
    assert!(server.wait_log("refused"), "refusals are logged");
}

/// 100,000 garbage datagrams from one socket leave the server running and
/// the room exactly as it was. Runs the library in-process so the room's
/// state can be compared directly.
#[test]
fn flood_of_garbage_changes_nothing() {
    for model in [Model::Poll, Model::Pool, Model::Uring] {
        flood(model);
    }
}

/// A chat room served in this process on `model`, on a free loopback port.
struct InProcess {
    addr: std::net::SocketAddr,
    shutdown: Shutdown,
    served: std::thread::JoinHandle<Result<(), server::ServerError>>,
}

fn serve_in_process(model: Model, service: &ChatService) -> InProcess {
    let socket = net::udp_socket("127.0.0.1:0".parse().unwrap(), false).expect("bind");
    let addr = socket.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let config = Config {
        model,
        ..Config::default()
    };
    let served = {
        let (svc, stop) = (service.clone(), shutdown.clone());
        std::thread::spawn(move || server::serve_datagrams(socket, &config, svc, stop))
    };
    InProcess {
        addr,
        shutdown,
        served,
    }
}

fn flood(model: Model) {
    let service = ChatService::new(Room::new(Limits::default()), false);
    let InProcess {
        addr,
        shutdown,
        served,
    } = serve_in_process(model, &service);
    let alice = Member::join(addr, "alice");
    let bob = Member::join(addr, "bob");
    alice.expect("bob joined the room");
    let before = service.members();

    let flooder = UdpSocket::bind("127.0.0.1:0").unwrap();
    flooder.set_nonblocking(true).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut sent = 0;
    for i in 0..100_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let junk: Vec<u8> = match i % 9 {
            0 => {
                // Random bytes that are never valid UTF-8.
                let len = 1 + (x % 200) as usize;
                let mut v: Vec<u8> = (0..len).map(|k| (x >> (k % 56)) as u8).collect();
                v[0] = 0xFF;
                v
            }
            1 => format!("C alice I am not alice {i}").into_bytes(),
            2 => b"Q alice".to_vec(),
            3 => ["L Admin", "L ADMIN", "L 管理员"][(i % 3) as usize]
                .as_bytes()
                .to_vec(),
            4 => b"L BOB".to_vec(),
            5 => format!("C x {}", "y".repeat(2000)).into_bytes(),
            6 => format!("X garbage {i}").into_bytes(),
            7 => format!("L bad:name{i}").into_bytes(),
            _ => Vec::new(),
        };
        // Bounded: a full send buffer just skips this one.
        if flooder.send_to(&junk, addr).is_ok() {
            sent += 1;
        }
    }
    assert!(sent > 50_000, "the flood mostly went out ({sent})");

    // The server is alive and the room unchanged: alice still reaches bob,
    // and nothing from the flood reached either of them. The flood fills the
    // server's socket buffer, so (this is UDP) alice's first try may be
    // dropped with the tail of the flood: she tries again until bob hears her.
    let mut heard = Vec::new();
    for attempt in 0..10 {
        alice.say(&format!("after the flood {attempt}"));
        if let Some(line) = bob.recv_within(Duration::from_secs(1)) {
            heard.push(line);
            break;
        }
    }
    while let Some(line) = bob.recv_within(QUIET) {
        heard.push(line); // a late copy of an earlier try
    }
    assert!(!heard.is_empty(), "{model}: bob never heard alice");
    assert!(
        heard
            .iter()
            .all(|l| l.starts_with("alice: after the flood ")),
        "{model}: {heard:?}"
    );
    assert_eq!(service.members(), before, "{model}");
    alice.silent(QUIET);

    shutdown.trigger();
    let result = served.join().expect("server thread");
    assert!(result.is_ok(), "{model}: {result:?}");
}

/// The operator's console: each line reaches every member as `Admin: ...`;
/// `/who` lists members in the log; end of input leaves the server running;
/// SIGTERM says goodbye and exits 0.
#[test]
fn operator_console_and_shutdown() {
    let mut server = ChatServer::start(&["--model", "epoll"]);
    let alice = Member::join(server.addr, "alice");
    let bob = Member::join(server.addr, "bob");
    alice.expect("bob joined the room");

    server.type_line("maintenance at noon");
    alice.expect("Admin: maintenance at noon");
    bob.expect("Admin: maintenance at noon");
    server.type_line("/who");
    assert!(server.wait_log("2 in the room\n"), "{}", server.log());
    assert!(server.wait_log(&format!("alice ({})", alice.addr())));

    server.console = None; // end of the operator's input
    bob.say("server still up?");
    alice.expect("bob: server still up?");

    server.signal(libc::SIGTERM);
    let st = server.wait_exit(Duration::from_secs(8)).expect("exits");
    assert!(st.success(), "{st:?}");
    alice.expect("the room is closing; goodbye");
    bob.expect("the room is closing; goodbye");
    assert!(server.log().contains("netkit chat: stopped"));
}

/// With `--idle-timeout`, a silent member is dropped and the others are told.
#[test]
fn silent_members_are_dropped() {
    let server = ChatServer::start(&["--model", "select", "--idle-timeout", "500ms"]);
    let alice = Member::join(server.addr, "alice");
    let bob = Member::join(server.addr, "bob");
    alice.expect("bob joined the room");
    // bob keeps talking, alice says nothing.
    let until = Instant::now() + Duration::from_secs(4);
    let mut told = false;
    while Instant::now() < until && !told {
        bob.say("tick");
        while let Some(line) = bob.recv_within(Duration::from_millis(50)) {
            assert_eq!(line, "alice was dropped after 500ms of silence");
            told = true;
        }
    }
    assert!(told, "bob was told that alice was dropped");
    let mut lines = Vec::new();
    while let Some(l) = alice.recv_within(QUIET) {
        lines.push(l);
    }
    assert_eq!(
        lines.last().map(String::as_str),
        Some("you were dropped from the room after 500ms of silence; join again to talk"),
        "{lines:?}"
    );
    assert!(lines[..lines.len() - 1].iter().all(|l| l == "bob: tick"));
    // Dropped means gone: alice's messages are refused; bob is still in.
    alice.say("hello?");
    alice.expect("ERR not in the room; join with L <name> first");
    bob.say("still here");
    bob.silent(QUIET);
    assert!(server.wait_log("alice at"), "{}", server.log());
}

/// `netkit chat join` without a terminal: the name (after a refused one) and
/// messages come from stdin, incoming lines go to stdout, end of input leaves.
#[test]
fn line_mode_client() {
    let server = ChatServer::start(&["--model", "async"]);
    let alice = Member::join(server.addr, "alice");
    let mut client = Command::new(bin())
        .args(["chat", "join", &server.addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netkit chat join");
    let mut stdin = client.stdin.take().expect("stdin");
    let out = read_lines(client.stdout.take().expect("stdout"));
    let err = read_lines(client.stderr.take().expect("stderr"));

    writeln!(stdin, "admin").unwrap();
    assert_eq!(
        err.recv_timeout(WAIT).as_deref(),
        Ok("netkit chat: name refused: name 'admin' is reserved")
    );
    writeln!(stdin, "carol").unwrap();
    alice.expect("carol joined the room");

    alice.say("hi carol");
    assert_eq!(out.recv_timeout(WAIT).as_deref(), Ok("alice: hi carol"));
    writeln!(stdin, "hello alice").unwrap();
    alice.expect("carol: hello alice");
    writeln!(stdin).unwrap(); // empty lines are not sent
    drop(stdin); // end of input: leave

    alice.expect("carol left the room");
    let until = Instant::now() + WAIT;
    let st = loop {
        if let Some(st) = client.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < until, "client exits after leaving");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(st.success(), "{st:?}");
    alice.silent(QUIET);
}

/// The client says clearly when nobody answers, instead of hanging.
#[test]
fn client_without_a_server() {
    let free = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let out = Command::new(bin())
        .args(["chat", "join", &addr.to_string(), "--name", "x"])
        .stdin(Stdio::null())
        .output()
        .expect("run netkit chat join");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("no reply from {addr}")), "{err}");
}

/// Lines from a child's pipe, on a channel.
fn read_lines(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The UDP sockets bound to `port` in this process, by descriptor.
fn udp_sockets_on(port: u16) -> Vec<std::os::fd::RawFd> {
    use std::os::fd::BorrowedFd;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        // SAFETY: the descriptor is open for the duration of this look (the
        // server holds it until shutdown, which waits for this test).
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = socket2::SockRef::from(&borrowed);
        let udp = sock.r#type().is_ok_and(|t| t == socket2::Type::DGRAM);
        let here = sock
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .is_some_and(|a| a.port() == port);
        if udp && here {
            found.push(fd);
        }
    }
    found
}

/// epoll's extra UDP workers bind sibling sockets on the same port; they get
/// the buffers the server forced on its own socket (32 MiB here), not the
/// system's default cap.
#[test]
fn epoll_sibling_udp_sockets_get_the_same_buffers() {
    let socket = net::udp_socket("127.0.0.1:0".parse().unwrap(), true).expect("bind");
    let (rcv, snd) = netkit::chat::server::size_buffers(&socket, 32 << 20);
    if rcv < 32 << 20 {
        eprintln!("skipped: cannot force 32 MiB socket buffers here (needs root)");
        return;
    }
    let port = socket.local_addr().unwrap().port();
    let shutdown = Shutdown::new();
    let config = Config {
        model: Model::Epoll,
        workers: Some(3),
        ..Config::default()
    };
    let served = {
        let stop = shutdown.clone();
        let svc = ChatService::new(Room::new(Limits::default()), false);
        std::thread::spawn(move || server::serve_datagrams(socket, &config, svc, stop))
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut fds = udp_sockets_on(port);
    while fds.len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        fds = udp_sockets_on(port);
    }
    assert_eq!(fds.len(), 3, "one socket per worker");
    for fd in fds {
        // SAFETY: as above.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let sock = socket2::SockRef::from(&borrowed);
        assert!(
            sock.recv_buffer_size().unwrap() >= rcv,
            "fd {fd}: receive buffer"
        );
        assert!(
            sock.send_buffer_size().unwrap() >= snd,
            "fd {fd}: send buffer"
        );
    }
    shutdown.trigger();
    served.join().unwrap().unwrap();
}

/// One message fans out to 999 members; a burst of them makes more replies
/// at once than a worker keeps in flight (uring: 8,192). Every member still
/// gets every line: the worker submits and takes back finished sends before
/// it drops any.
#[test]
fn a_fan_out_bigger_than_the_send_queue_loses_nothing() {
    for model in [Model::Uring, Model::Epoll] {
        fan_out_burst(model);
    }
}

fn fan_out_burst(model: Model) {
    const MEMBERS: usize = 1000;
    const BURST: usize = 40;
    let limits = Limits {
        max_members: MEMBERS,
        max_per_host: MEMBERS,
        ..Limits::default()
    };
    let service = ChatService::new(Room::new(limits), false);
    let InProcess {
        addr,
        shutdown,
        served,
    } = serve_in_process(model, &service);
    let mut buf = vec![0u8; 2048];
    let members: Vec<UdpSocket> = (0..MEMBERS)
        .map(|i| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            s.send_to(format!("L m{i}").as_bytes(), addr).unwrap();
            let (n, _) = s.recv_from(&mut buf).expect("an answer to the join");
            assert_eq!(&buf[..n], b"OK", "{model:?}: join of m{i}");
            s
        })
        .collect();
    // Let the join notices settle, then empty every socket.
    std::thread::sleep(Duration::from_millis(500));
    for s in &members {
        s.set_nonblocking(true).unwrap();
        while s.recv_from(&mut buf).is_ok() {}
    }
    for k in 0..BURST {
        members[0]
            .send_to(format!("C m0 burst {k}").as_bytes(), addr)
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = vec![0usize; MEMBERS];
    while Instant::now() < deadline && got[1..].iter().any(|&n| n < BURST) {
        let mut any = false;
        for (i, s) in members.iter().enumerate().skip(1) {
            while let Ok((n, _)) = s.recv_from(&mut buf) {
                any = true;
                if buf[..n].starts_with(b"m0: burst ") {
                    got[i] += 1;
                }
            }
        }
        if !any {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let short: Vec<(usize, usize)> = got
        .iter()
        .enumerate()
        .skip(1)
        .filter(|&(_, &n)| n != BURST)
        .map(|(i, &n)| (i, n))
        .collect();
    assert!(
        short.is_empty(),
        "{model:?}: {} of {} members did not get all {BURST} lines, e.g. {:?}",
        short.len(),
        MEMBERS - 1,
        &short[..short.len().min(5)]
    );
    shutdown.trigger();
    served.join().unwrap().expect("served");
}
