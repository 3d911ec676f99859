//! What one address or host may hold, silent members, and addresses that
//! outlive their members: the reliability rules of docs/chat.md ("What the
//! limits bound"), over real UDP. `127.0.0.2` is another host to the server
//! (every loopback address is its own source IP), so a crowd from there and a
//! member from `127.0.0.1` show what the per-host bound does for others.

use std::io::Write;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::*;
use super::{QUIET, course_client, read_lines};

/// Throwaway sockets from one host fill at most `--max-per-host` places
/// (16 by default), so they cannot fill the room: the rest are refused with a
/// clear line, and alice, from another host, still gets in.
#[test]
fn throwaway_sockets_cannot_fill_the_room() {
    let server = ChatServer::start(&["--model", "poll", "--max-members", "30"]);
    let s = server.addr;
    // 40 sockets from 127.0.0.2, all kept open (a closed one's port could be
    // handed to the next, which would then be the same address).
    let crowd: Vec<Member> = (0..40)
        .map(|i| Member::bound(s, &format!("spam{i}"), "127.0.0.2:0"))
        .collect();
    let mut ok = 0;
    let mut refused = Vec::new();
    for m in &crowd {
        m.send(&format!("L {}", m.name));
        match m.recv_within(WAIT).expect("a reply to each join").as_str() {
            "OK" => ok += 1,
            other => refused.push(other.to_string()),
        }
    }
    assert_eq!(ok, 16, "refusals: {refused:?}");
    assert_eq!(refused.len(), 24);
    assert!(
        refused
            .iter()
            .all(|r| r == "ERR too many members from 127.0.0.2 (limit 16 per host)"),
        "{refused:?}"
    );
    let alice = Member::join(s, "alice");
    crowd[0].expect_prefix("spam1 joined the room");
    alice.say("the room is not full");
    assert!(server.wait_log("too many members from 127.0.0.2"));

    // A place freed by a leave can be taken again from that host.
    crowd[0].send("Q spam0");
    alice.expect("spam0 left the room");
    crowd[20].send("L spam20");
    alice.expect("spam20 joined the room");
    crowd[20].expect("OK");
}

/// `--max-per-host` sets the bound (and 0 lifts it, leaving `--max-members`).
#[test]
fn max_per_host_is_an_option() {
    let server = ChatServer::start(&["--model", "thread", "--max-per-host", "2"]);
    let a = Member::join(server.addr, "a");
    let _b = Member::join(server.addr, "b");
    a.expect("b joined the room");
    let c = Member::new(server.addr, "c");
    c.send("L c");
    c.expect("ERR too many members from 127.0.0.1 (limit 2 per host)");
    assert!(server.log().contains("2 per host"), "{}", server.log());

    let server = ChatServer::start(&["--model", "thread", "--max-per-host", "0"]);
    let members: Vec<Member> = (0..20)
        .map(|i| Member::join(server.addr, &format!("m{i}")))
        .collect();
    assert_eq!(members.len(), 20);
    assert!(!server.log().contains("per host"), "{}", server.log());
}

/// A member that vanished without `Q` (its process died) leaves its address
/// behind; the next socket the kernel gives that port is not that member.
/// Its join is a fresh membership (the others are told the old one left),
/// and after a leave or an expiry the address speaks for nobody.
#[test]
fn a_reused_port_is_a_fresh_member() {
    let server = ChatServer::start(&["--model", "epoll", "--idle-timeout", "1500ms"]);
    let s = server.addr;
    let carol = Member::join(s, "carol");
    let port = {
        let alice = Member::join(s, "alice");
        carol.expect("alice joined the room");
        alice.addr().port()
        // alice's socket closes here without a Q, as a killed client's does.
    };
    let local = format!("127.0.0.1:{port}");

    // Another program gets the same port and joins with its own name.
    let bob = Member::bound(s, "bob", &local);
    bob.send("L bob");
    bob.expect("OK");
    carol.send("K carol"); // carol stays (she would be dropped after 1.5 s)
    carol.expect("alice left the room");
    carol.expect("bob joined the room");
    bob.send("C alice I am alice");
    bob.expect("ERR this address joined as 'bob'; it cannot speak or leave as 'alice'");
    bob.say("hi, I am bob");
    carol.expect("bob: hi, I am bob");

    // After bob's Q the address is nobody's.
    carol.send("K carol");
    bob.send("Q bob");
    carol.expect("bob left the room");
    bob.expect("EXIT");
    drop(bob);
    let next = Member::bound(s, "x", &local);
    next.send("C bob hello");
    next.expect("ERR not in the room; join with L <name> first");

    // After an expiry too: dave joins from that port and says nothing.
    drop(next);
    let dave = Member::bound(s, "dave", &local);
    carol.send("K carol");
    dave.send("L dave");
    dave.expect("OK");
    carol.expect("dave joined the room");
    let until = Instant::now() + Duration::from_secs(4);
    let mut dropped = false;
    while Instant::now() < until && !dropped {
        carol.send("K carol"); // carol stays
        if let Some(line) = carol.recv_within(Duration::from_millis(100)) {
            assert_eq!(line, "dave was dropped after 1.5s of silence");
            dropped = true;
        }
    }
    assert!(dropped, "dave was dropped");
    dave.expect("you were dropped from the room after 1.5s of silence; join again to talk");
    dave.send("C dave still me?");
    dave.expect("ERR not in the room; join with L <name> first");
    dave.send("L dave");
    dave.expect("OK");
    carol.expect("dave joined the room");
    carol.silent(QUIET);
}

/// Silent members expire by default (10 minutes); `--idle-timeout 0` keeps
/// them forever. The startup line says which.
#[test]
fn silent_members_expire_by_default() {
    let server = ChatServer::start(&["--model", "poll"]);
    assert!(
        server
            .log()
            .contains("16 per host, silent members dropped after 10m"),
        "{}",
        server.log()
    );
    let server = ChatServer::start(&["--model", "poll", "--idle-timeout", "0"]);
    assert!(
        server.log().contains("silent members never dropped"),
        "{}",
        server.log()
    );
}

/// `K <name>` is a keep-alive: it refreshes the member and nobody hears of
/// it, not even the sender. From a stranger it is ignored.
#[test]
fn keep_alive_is_silent() {
    let server = ChatServer::start(&["--model", "select"]);
    let alice = Member::join(server.addr, "alice");
    let bob = Member::join(server.addr, "bob");
    alice.expect("bob joined the room");
    alice.send("K alice");
    alice.send("K");
    let eve = Member::new(server.addr, "eve");
    eve.send("K alice");
    eve.send("K eve");
    for m in [&alice, &bob, &eve] {
        m.silent(QUIET);
    }
    alice.say("after the keep-alives");
    bob.expect("alice: after the keep-alives");
}

/// No reply grows with the request: a claimed name is echoed cut to the name
/// limit, so a 2,000-byte request is answered with a short line.
#[test]
fn replies_are_bounded() {
    let server = ChatServer::start(&["--model", "iterative"]);
    let alice = Member::join(server.addr, "alice");
    let long = "x".repeat(2000);
    alice.send(&format!("C {long} hi"));
    let reply = alice.expect_prefix("ERR this address joined as 'alice'; it cannot speak");
    assert!(reply.len() <= 512, "{} bytes: {reply}", reply.len());
    alice.send(&format!("Q {long}"));
    let reply = alice.expect_prefix("ERR this address joined as 'alice'");
    assert!(reply.len() <= 512, "{} bytes: {reply}", reply.len());
    assert_eq!(
        server.log().matches(&long).count(),
        0,
        "the log is bounded too"
    );
}

/// `netkit chat join` keeps its membership alive while its user only reads:
/// with `--idle-timeout 1s` on the server and `--keep-alive 200ms` on the
/// client, carol is still in the room after 3 s of silence.
#[test]
fn netkit_client_keeps_itself_alive() {
    let server = ChatServer::start(&["--model", "select", "--idle-timeout", "1s"]);
    let alice = Member::join(server.addr, "alice");
    let mut client = Command::new(bin())
        .args(["chat", "join", &server.addr.to_string()])
        .args(["--name", "carol", "--keep-alive", "200ms"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netkit chat join");
    let stdin = client.stdin.take().expect("stdin");
    let out = read_lines(client.stdout.take().expect("stdout"));
    alice.expect("carol joined the room");
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        alice.send("K alice");
        if let Some(line) = alice.recv_within(Duration::from_millis(200)) {
            panic!("alice heard {line:?}");
        }
    }
    alice.say("still there, carol?");
    assert_eq!(
        out.recv_timeout(WAIT).as_deref(),
        Ok("alice: still there, carol?")
    );
    assert!(
        !server.log().contains("dropped for silence"),
        "{}",
        server.log()
    );
    drop(stdin);
    alice.expect("carol left the room");
    let st = client.wait().expect("client exits");
    assert!(st.success(), "{st:?}");
}

/// Against a server that does not know `K` (an older netkit answers it with
/// `ERR unknown request`), the client hides that answer and stops sending
/// keep-alives; everything else works as before.
#[test]
fn netkit_client_and_a_server_without_keep_alive() {
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(WAIT)).unwrap();
    let mut client = Command::new(bin())
        .args(["chat", "join", &fake.local_addr().unwrap().to_string()])
        .args(["--name", "carol", "--keep-alive", "100ms"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netkit chat join");
    let mut stdin = client.stdin.take().expect("stdin");
    let out = read_lines(client.stdout.take().expect("stdout"));
    let err = read_lines(client.stderr.take().expect("stderr"));
    let mut buf = [0u8; 2048];
    let mut recv = || {
        let (n, from) = fake
            .recv_from(&mut buf)
            .expect("a datagram from the client");
        (String::from_utf8_lossy(&buf[..n]).into_owned(), from)
    };
    let (join, peer) = recv();
    assert_eq!(join, "L carol");
    fake.send_to(b"OK", peer).unwrap();
    let (ka, _) = recv();
    assert_eq!(ka, "K carol");
    fake.send_to(
        b"ERR unknown request; use L <name>, C <name> <text> or Q <name>",
        peer,
    )
    .unwrap();
    writeln!(stdin, "hello").unwrap();
    let (say, _) = recv();
    assert_eq!(say, "C carol hello");
    // No more keep-alives.
    fake.set_read_timeout(Some(Duration::from_millis(600)))
        .unwrap();
    if let Ok((n, _)) = fake.recv_from(&mut buf) {
        panic!("got {:?}", String::from_utf8_lossy(&buf[..n]));
    }
    fake.set_read_timeout(Some(WAIT)).unwrap();
    drop(stdin);
    let (quit, _) = fake.recv_from(&mut buf).expect("Q");
    assert_eq!(&buf[..quit], b"Q carol");
    fake.send_to(b"EXIT", peer).unwrap();
    let st = client.wait().expect("client exits");
    assert!(st.success(), "{st:?}");
    let shown: Vec<String> = out.try_iter().collect();
    assert!(shown.is_empty(), "stdout: {shown:?}");
    let errors: Vec<String> = err.try_iter().collect();
    assert!(errors.is_empty(), "stderr: {errors:?}");
}

/// A course client speaks only L/C/Q. Talking keeps it in the room (any
/// datagram from a member counts); when it goes silent past the limit it is
/// told it was dropped, and its `Q` still gets `EXIT`.
#[test]
fn course_client_under_the_idle_limit() {
    let server = ChatServer::start(&["--model", "thread", "--idle-timeout", "1s"]);
    let alice = Member::join(server.addr, "alice");
    let (mut py, mut stdin, lines) = course_client(server.addr);
    writeln!(stdin, "py").unwrap();
    assert_eq!(lines.recv_timeout(WAIT).as_deref(), Ok("joined py"));
    alice.expect("py joined the room");
    // alice stays with repeated joins (answered OK, nobody told), which
    // every version of the server understands. What she gets besides is
    // kept in `extra`: the thread model may deliver in any order, and py's
    // drop may be announced while she waits for her OK.
    let mut extra: Vec<String> = Vec::new();
    // 2.5 s of talking, a line every 250 ms: never dropped.
    for i in 0..10 {
        writeln!(stdin, "line {i}").unwrap();
        alice.send("L alice");
        expect_all(&alice, &[&format!("py: line {i}"), "OK"], &mut extra);
        std::thread::sleep(Duration::from_millis(250));
    }
    // Then silence: dropped, and told so in words it prints.
    let until = Instant::now() + Duration::from_secs(4);
    let told = loop {
        alice.send("L alice");
        expect_all(&alice, &["OK"], &mut extra);
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            break line;
        }
        assert!(Instant::now() < until, "py was never told");
    };
    assert_eq!(
        told,
        "< you were dropped from the room after 1s of silence; join again to talk"
    );
    let dropped = "py was dropped after 1s of silence";
    if extra.is_empty() {
        expect_all(&alice, &[dropped], &mut extra);
        assert!(extra.is_empty(), "{extra:?}");
    } else {
        assert_eq!(extra, [dropped]);
    }
    writeln!(stdin, "quit").unwrap();
    assert_eq!(lines.recv_timeout(WAIT).as_deref(), Ok("bye"));
    assert!(py.wait().expect("python exits").success());
}

/// Waits until `m` got every line of `want`, in any order; other lines go to
/// `extra`.
fn expect_all(m: &Member, want: &[&str], extra: &mut Vec<String>) {
    let mut want: Vec<&str> = want.to_vec();
    let until = Instant::now() + WAIT;
    while !want.is_empty() {
        assert!(
            Instant::now() < until,
            "{} waits for {want:?}; got {extra:?}",
            m.name
        );
        if let Some(line) = m.recv_within(Duration::from_millis(100)) {
            match want.iter().position(|w| *w == line) {
                Some(i) => {
                    want.remove(i);
                }
                None => extra.push(line),
            }
        }
    }
}
