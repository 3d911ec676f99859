//! One room on several `netkit chat serve --redis` servers, through a real
//! `redis-server` on a free port: course-style members (raw L/C/Q datagrams)
//! on each server see each other's joins, messages, leaves and the
//! operator's lines once, never their own; names are unique across the
//! servers; a Redis restart loses nothing silently; a killed server's
//! members are told to have left and their names freed.

#[path = "chat/harness.rs"]
mod harness;
#[path = "chat/redis.rs"]
mod redis_server;
mod util;

use std::time::{Duration, Instant};

use harness::*;
use redis_server::Redis;

const QUIET: Duration = Duration::from_millis(200);

/// The claims' expiry in these tests: a killed server's members go within
/// 2 s + 2/5 s.
const TTL: &str = "2s";

/// How long a test waits for what a ttl bounds.
const BOUND: Duration = Duration::from_secs(10);

/// A server of the room `lobby` on `redis` (thread model, the default).
fn shared(redis: &Redis, extra: &[&str]) -> ChatServer {
    let url = redis.url();
    let mut args = vec!["--redis", &url, "--room", "lobby", "--redis-ttl", TTL];
    args.extend_from_slice(extra);
    let s = ChatServer::start(&args);
    assert!(
        s.log().contains("room 'lobby' shared through redis://"),
        "{}",
        s.log()
    );
    s
}

/// Waits until `server` knows the members `names` of the other servers
/// (its `/who` lists them): a member joining there after that does not get
/// their join notices, which travel through Redis and could otherwise
/// arrive just after it joined.
fn wait_known(server: &mut ChatServer, names: &[&str]) {
    let until = Instant::now() + BOUND;
    loop {
        server.type_line("/who");
        std::thread::sleep(Duration::from_millis(50));
        let log = server.log();
        if names
            .iter()
            .all(|n| log.contains(&format!("{n} (on server ")))
        {
            return;
        }
        assert!(Instant::now() < until, "{names:?} never known:\n{log}");
    }
}

/// Joins `name` on `server` from a socket on `host` (each test has its own
/// loopback address, so a datagram a server of another test sends to a
/// port it remembers cannot reach this test's members).
fn join(server: std::net::SocketAddr, host: &str, name: &str) -> Member {
    let m = Member::bound(server, name, &format!("{host}:0"));
    m.send(&format!("L {name}"));
    m.expect("OK");
    JOINED.with(|j| {
        let mut j = j.borrow_mut();
        *m.early.borrow_mut() = j.clone();
        j.push(name.to_string());
    });
    m
}

thread_local! {
    /// The names this test (its thread) has joined so far, in order.
    static JOINED: std::cell::RefCell<Vec<String>> = Default::default();
}

/// Joins `name` on `server` (from `host`), retrying while the name is still
/// held (a claim given up on another server is freed a moment later).
fn join_when_free(
    server: std::net::SocketAddr,
    host: &str,
    name: &str,
    within: Duration,
) -> Member {
    let m = Member::bound(server, name, &format!("{host}:0"));
    let until = Instant::now() + within;
    loop {
        m.send(&format!("L {name}"));
        let got = m.recv_within(WAIT).expect("a reply to L");
        if got == "OK" {
            return m;
        }
        assert!(got.contains("is taken"), "{got}");
        assert!(
            Instant::now() < until,
            "{name} still taken after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Three servers, a member or two on each: joins, messages and leaves reach
/// every member of the room once, and never the sender.
#[test]
fn messages_cross_servers_once_and_never_back() {
    const HOST: &str = "127.0.0.11";
    let redis = Redis::start();
    let (a, b, c) = (
        shared(&redis, &[]),
        shared(&redis, &[]),
        shared(&redis, &[]),
    );
    let alice = join(a.addr, HOST, "alice");
    let bob = join(b.addr, HOST, "bob");
    alice.expect("bob joined the room");
    let carol = join(c.addr, HOST, "carol");
    alice.expect("carol joined the room");
    bob.expect("carol joined the room");
    let dave = join(a.addr, HOST, "dave");
    for m in [&alice, &bob, &carol] {
        m.expect("dave joined the room");
    }

    alice.say("hello from a");
    for m in [&bob, &carol, &dave] {
        m.expect("alice: hello from a");
    }
    carol.say("hi, 你好 from c");
    for m in [&alice, &bob, &dave] {
        m.expect("carol: hi, 你好 from c");
    }

    bob.send("Q bob");
    bob.expect("EXIT");
    for m in [&alice, &carol, &dave] {
        m.expect("bob left the room");
    }
    // Nothing twice, nothing back to a sender.
    for m in [&alice, &bob, &carol, &dave] {
        m.silent(QUIET);
    }
    assert!(b.log().contains("bob left from"), "{}", b.log());
}

/// A name taken on one server is taken on all of them (in any case), and
/// free everywhere once its member leaves.
#[test]
fn names_are_unique_across_servers() {
    const HOST: &str = "127.0.0.12";
    const HOST_ANY: &str = "127.0.0.12:0";
    let redis = Redis::start();
    let (a, mut b) = (shared(&redis, &[]), shared(&redis, &[]));
    let alice = join(a.addr, HOST, "alice");
    let eve = Member::bound(b.addr, "eve", HOST_ANY);
    for name in ["alice", "ALICE", "Alice"] {
        eve.send(&format!("L {name}"));
        eve.expect(&format!("ERR name '{name}' is taken"));
    }
    // A name held on b is refused on a too.
    wait_known(&mut b, &["alice"]);
    let bob = join(b.addr, HOST, "bob");
    alice.expect("bob joined the room");
    let mallory = Member::bound(a.addr, "mallory", HOST_ANY);
    mallory.send("L BOB");
    mallory.expect("ERR name 'BOB' is taken");

    alice.send("Q alice");
    alice.expect("EXIT");
    bob.expect("alice left the room");
    let alice2 = join_when_free(b.addr, HOST, "alice", WAIT);
    bob.expect("alice joined the room");
    alice2.say("it is my name now");
    bob.expect("alice: it is my name now");
    for m in [&alice, &bob, &eve, &mallory] {
        m.silent(QUIET);
    }
}

/// The operator's line on any server reaches the members of all of them;
/// `/who` on any console lists the whole room.
#[test]
fn admin_lines_and_who_cover_the_whole_room() {
    const HOST: &str = "127.0.0.13";
    let redis = Redis::start();
    let (mut a, mut b, c) = (
        shared(&redis, &[]),
        shared(&redis, &[]),
        shared(&redis, &[]),
    );
    let alice = join(a.addr, HOST, "alice");
    let bob = join(b.addr, HOST, "bob");
    alice.expect("bob joined the room");
    let carol = join(c.addr, HOST, "carol");
    alice.expect("carol joined the room");
    bob.expect("carol joined the room");

    a.type_line("maintenance at noon");
    for m in [&alice, &bob, &carol] {
        m.expect("Admin: maintenance at noon");
    }
    b.type_line("/who");
    assert!(
        b.wait_log("3 in the room (1 on this server, 2 on 2 other servers)"),
        "{}",
        b.log()
    );
    assert!(b.wait_log(&format!("bob ({})", bob.addr())), "{}", b.log());
    assert!(b.wait_log("alice (on server "), "{}", b.log());
    assert!(b.wait_log("carol (on server "), "{}", b.log());
    for m in [&alice, &bob, &carol] {
        m.silent(QUIET);
    }
}

/// Redis restarts (killed, empty again): each server keeps serving its own
/// members and says so once; what was said meanwhile reaches the other
/// servers once Redis is back; the names are claimed again.
#[test]
fn a_redis_restart_loses_nothing() {
    const HOST: &str = "127.0.0.14";
    const HOST_ANY: &str = "127.0.0.14:0";
    let mut redis = Redis::start();
    let (a, mut b) = (shared(&redis, &[]), shared(&redis, &[]));
    let alice = join(a.addr, HOST, "alice");
    wait_known(&mut b, &["alice"]);
    let bob = join(b.addr, HOST, "bob");
    alice.expect("bob joined the room");
    let dave = join(a.addr, HOST, "dave");
    alice.expect_prefix("dave joined");
    bob.expect("dave joined the room");

    redis.kill();
    assert!(a.wait_log("lost Redis at"), "{}", a.log());
    // Served locally at once; queued for b.
    alice.say("said while Redis was away");
    dave.expect("alice: said while Redis was away");
    bob.say("bob too");
    std::thread::sleep(Duration::from_millis(500));

    redis.restart();
    bob.sock.set_read_timeout(Some(BOUND)).unwrap();
    match bob.recv_within(BOUND) {
        Some(got) => assert_eq!(got, "alice: said while Redis was away"),
        None => panic!("bob never got alice's message; b:\n{}", b.log()),
    }
    match alice.recv_within(BOUND) {
        Some(got) => assert_eq!(got, "bob: bob too"),
        None => panic!("alice never got bob's message; a:\n{}", a.log()),
    }
    dave.expect("bob: bob too");
    for s in [&a, &b] {
        assert!(
            eventually(BOUND, || s.log().contains("Redis back at")),
            "{}",
            s.log()
        );
        assert_eq!(s.log().matches("lost Redis at").count(), 1, "{}", s.log());
    }
    // The names were claimed again: alice's is still hers.
    let eve = Member::bound(b.addr, "eve", HOST_ANY);
    eve.send("L alice");
    eve.expect("ERR name 'alice' is taken");
    // And the room works as before.
    bob.say("back to normal");
    alice.expect("bob: back to normal");
    dave.expect("bob: back to normal");
    for m in [&alice, &bob, &dave] {
        m.silent(QUIET);
    }
}

/// More broadcasts than the outbox holds while Redis is away: the rest are
/// not dropped silently, the other servers' members are told how many were
/// lost.
#[test]
fn messages_beyond_the_outbox_are_reported_lost() {
    const HOST: &str = "127.0.0.15";
    let mut redis = Redis::start();
    let a = shared(&redis, &["--model", "poll", "--redis-outbox", "5"]);
    let mut b = shared(&redis, &[]);
    let alice = join(a.addr, HOST, "alice");
    wait_known(&mut b, &["alice"]);
    let bob = join(b.addr, HOST, "bob");
    alice.expect("bob joined the room");

    redis.kill();
    assert!(a.wait_log("lost Redis at"), "{}", a.log());
    const SENT: usize = 12;
    for i in 0..SENT {
        alice.say(&format!("m{i}"));
    }
    assert!(a.wait_log("the outbox to Redis is full"), "{}", a.log());
    redis.restart();

    let mut got = Vec::new();
    let mut lost = 0;
    let until = Instant::now() + BOUND;
    while Instant::now() < until && got.len() + lost < SENT {
        let Some(line) = bob.recv_within(Duration::from_millis(200)) else {
            continue;
        };
        let count = line
            .strip_suffix(" messages from the room's other servers were lost")
            .or_else(|| line.strip_suffix(" message from the room's other servers was lost"));
        if let Some(n) = count {
            lost += n.parse::<usize>().expect("a count");
        } else {
            got.push(line);
        }
    }
    assert!(lost > 0, "nothing reported lost: {got:?}\n{}", b.log());
    assert_eq!(got.len() + lost, SENT, "{got:?}, {lost} lost");
    // What arrived arrived in order, each once.
    let sent: Vec<String> = (0..SENT).map(|i| format!("alice: m{i}")).collect();
    let mut rest = sent.iter();
    for line in &got {
        assert!(rest.any(|s| s == line), "{line} out of order in {got:?}");
    }
    assert!(b.wait_log("broadcasts from the room's other servers were lost"));
}

/// A server killed with SIGKILL: the other servers tell their members its
/// members left, within the ttl's bound, and its names are free again.
#[test]
fn a_killed_servers_members_leave_the_room() {
    const HOST: &str = "127.0.0.16";
    let redis = Redis::start();
    let (a, mut b) = (shared(&redis, &[]), shared(&redis, &[]));
    let alice = join(a.addr, HOST, "alice");
    wait_known(&mut b, &["alice"]);
    let bob = join(b.addr, HOST, "bob");
    alice.expect("bob joined the room");
    let _bea = join(b.addr, HOST, "bea");
    alice.expect("bea joined the room");
    bob.expect("bea joined the room");

    let killed = Instant::now();
    b.signal(libc::SIGKILL);
    let _ = b.wait_exit(WAIT);
    let mut left = Vec::new();
    while left.len() < 2 {
        match alice.recv_within(BOUND) {
            Some(line) => left.push(line),
            None => panic!("alice was told only {left:?}; a:\n{}", a.log()),
        }
    }
    left.sort();
    assert_eq!(left, ["bea left the room", "bob left the room"]);
    eprintln!("told after {:?} (ttl {TTL})", killed.elapsed());
    // (The log line may follow the notices by a moment.)
    assert!(
        a.wait_log("stopped answering; its 2 members left the room"),
        "{}",
        a.log()
    );
    // Their names are free again.
    let bob2 = join_when_free(a.addr, HOST, "bob", BOUND);
    alice.expect("bob joined the room");
    bob2.silent(QUIET);
    alice.silent(QUIET);
}

/// A server stopped gracefully gives its names up at once and the others
/// tell the room its members left.
#[test]
fn a_stopped_servers_members_leave_the_room() {
    const HOST: &str = "127.0.0.17";
    const HOST_ANY: &str = "127.0.0.17:0";
    let redis = Redis::start();
    let (a, mut b) = (shared(&redis, &[]), shared(&redis, &[]));
    let alice = join(a.addr, HOST, "alice");
    wait_known(&mut b, &["alice"]);
    let bob = join(b.addr, HOST, "bob");
    alice.expect("bob joined the room");
    b.signal(libc::SIGTERM);
    let st = b.wait_exit(Duration::from_secs(8)).expect("exits");
    assert!(st.success(), "{st:?}");
    bob.expect("the room is closing; goodbye");
    match alice.recv_within(BOUND) {
        Some(line) => assert_eq!(line, "bob left the room"),
        None => panic!("alice was not told; a:\n{}", a.log()),
    }
    // The name was given up on the way out.
    let eve = Member::bound(a.addr, "bob", HOST_ANY);
    eve.send("L bob");
    eve.expect("OK");
}

/// The course's wording across servers: each server speaks its own
/// language to its members.
#[test]
fn each_server_speaks_its_own_language() {
    const HOST: &str = "127.0.0.18";
    let redis = Redis::start();
    let (a, mut b) = (shared(&redis, &["--lang", "zh"]), shared(&redis, &[]));
    let xiaoming = join(a.addr, HOST, "小明");
    wait_known(&mut b, &["小明"]);
    let bob = join(b.addr, HOST, "bob");
    xiaoming.expect("bob 进入聊天室");
    bob.say("hi");
    xiaoming.expect("bob 说：hi");
    xiaoming.say("你好");
    bob.expect("小明: 你好");
}

/// A Redis that is not there at start: the server serves its own members,
/// says so, and joins the room once Redis appears.
#[test]
fn a_server_started_without_redis_joins_when_it_appears() {
    const HOST: &str = "127.0.0.19";
    const HOST_ANY: &str = "127.0.0.19:0";
    let mut redis = Redis::start();
    redis.kill();
    let a = shared(&redis, &[]);
    assert!(a.log().contains("unreachable"), "{}", a.log());
    let alice = join(a.addr, HOST, "alice");
    let dave = join(a.addr, HOST, "dave");
    alice.expect("dave joined the room");
    redis.restart();
    assert!(
        eventually(BOUND, || a.log().contains("reached Redis at")),
        "{}",
        a.log()
    );
    let b = shared(&redis, &[]);
    let eve = Member::bound(b.addr, "eve", HOST_ANY);
    let until = Instant::now() + BOUND;
    // alice's name was claimed once Redis appeared.
    loop {
        eve.send("L alice");
        let got = eve.recv_within(WAIT).expect("a reply");
        if got.contains("is taken") {
            break;
        }
        assert!(
            Instant::now() < until,
            "alice's name was never claimed: {got}"
        );
        eve.send("Q");
        let _ = eve.recv_within(WAIT);
        std::thread::sleep(Duration::from_millis(100));
    }
    let bob = join(b.addr, HOST, "bob");
    match alice.recv_within(BOUND) {
        Some(line) => assert_eq!(line, "bob joined the room"),
        None => panic!("alice was not told; a:\n{}\nb:\n{}", a.log(), b.log()),
    }
    dave.expect("bob joined the room");
    alice.say("hello b");
    bob.expect("alice: hello b");
}
