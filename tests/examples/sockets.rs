//! Lessons on sockets: attributes and options, recv/send edge cases, sticky packets, non-blocking IO.

use super::{num, run};

#[test]
fn nonblocking_accept_and_read_timeout() {
    let r = run("nonblocking_socket", &[]);
    r.assert_success();
    assert!(
        r.line("listening on 127.0.0.1:")
            .ends_with(" (non-blocking)")
    );
    r.has_line("accept (nix): Err(EAGAIN): no pending connection");
    r.has_line("accept (std): WouldBlock: no pending connection");
    r.has_line("poll: listener readable after a client connected");
    assert!(
        r.line("accept: connection from ")
            .starts_with("accept: connection from 127.0.0.1:")
    );
    r.has_line("read (non-blocking): WouldBlock: no data yet");
    r.has_line("read (non-blocking): got \"hello\" after the client wrote");
    let timeout = r.line("read with 200 ms timeout: timed out after ");
    let waited = num(timeout, "after ");
    assert!(
        (150..2000).contains(&waited),
        "read timeout should take ~200 ms: {timeout}"
    );
}

/// The lines of `r` that start with `prefix`, in order.
fn lines_with<'a>(r: &'a super::Run, prefix: &str) -> Vec<&'a str> {
    r.lines()
        .into_iter()
        .filter(|l| l.starts_with(prefix))
        .collect()
}

#[test]
fn socket_options_attributes_addresses_and_reuseaddr() {
    let r = run("socket_options", &[]);
    r.assert_success();
    // Attributes.
    r.has_line("s.family -> AF_INET (socket2::Domain::IPV4)");
    r.has_line("s.type -> SOCK_STREAM (socket2::Type::STREAM)");
    r.has_line("u.family -> AF_INET, u.type -> SOCK_DGRAM (socket2::Type::DGRAM)");
    let v6 = r.line("v6.family -> ");
    assert!(
        v6 == "v6.family -> AF_INET6 (socket2::Domain::IPV6)" || v6.contains("unavailable"),
        "{}",
        r.context()
    );
    r.has_line("sys.stdin.fileno() -> 0, sys.stdout.fileno() -> 1, sys.stderr.fileno() -> 2");
    let s_fd = num(r.line("s.fileno() -> "), "-> ");
    let u_fd = num(r.line("u.fileno() -> "), "-> ");
    assert!(
        s_fd >= 3 && u_fd > s_fd,
        "fds {s_fd}, {u_fd}\n{}",
        r.context()
    );

    // Addresses: the kernel picks the port; each side's peer is the other's name.
    r.has_line("s.getsockname() before bind -> 0.0.0.0:0");
    let bound = r.line("s.getsockname() after bind(('127.0.0.1', 0)) -> 127.0.0.1:");
    let port = num(bound, "-> 127.0.0.1:");
    assert!(port > 0);
    assert_eq!(num(bound, "the kernel picked "), port, "{bound}");
    r.has_line("s.getpeername() on a listener -> Err(ENOTCONN): a listening socket has no peer");
    let client_port = num(r.line("client c.getsockname() -> 127.0.0.1:"), "127.0.0.1:");
    assert!(client_port > 0 && client_port != port);
    assert_eq!(
        num(r.line("client c.getpeername() -> 127.0.0.1:"), "127.0.0.1:"),
        port
    );
    assert_eq!(
        num(
            r.line("server conn.getsockname() -> 127.0.0.1:"),
            "127.0.0.1:"
        ),
        port
    );
    let peer = r.line("server conn.getpeername() -> 127.0.0.1:");
    assert_eq!(num(peer, "-> 127.0.0.1:"), client_port, "{peer}");
    assert_eq!(
        num(peer, "accept() returned 127.0.0.1:"),
        client_port,
        "{peer}"
    );

    // Options.
    r.has_line("getsockopt(SOL_SOCKET, SO_REUSEADDR) -> 0 (new socket)");
    r.has_line("setsockopt(SOL_SOCKET, SO_REUSEADDR, 1); getsockopt -> 1");
    r.has_line("nix getsockopt(&s, sockopt::ReuseAddr) -> true (the same option through nix)");
    r.has_line("std TcpListener::bind -> SO_REUSEADDR already 1 (std sets it on Unix)");
    for opt in ["SO_RCVBUF", "SO_SNDBUF"] {
        let set = r.line(&format!("setsockopt(SOL_SOCKET, {opt}, "));
        let asked = num(set, &format!("{opt}, "));
        assert!(asked > 0);
        assert_eq!(
            num(set, "getsockopt -> "),
            2 * asked,
            "Linux reports twice the size: {set}"
        );
    }
    r.has_line("getsockopt(IPPROTO_TCP, TCP_NODELAY) -> 0 (Nagle on)");
    r.has_line("setsockopt(IPPROTO_TCP, TCP_NODELAY, 1); getsockopt -> 1 (Nagle off)");

    // SO_REUSEADDR against a real TIME_WAIT socket, twice.
    let reuse = lines_with(&r, "reuseaddr: ");
    assert_eq!(reuse.len(), 7, "{}", r.context());
    let p = num(reuse[0], "listening on 127.0.0.1:");
    assert!(reuse[0].starts_with("reuseaddr: server with SO_REUSEADDR=1 listening on "));
    assert!(
        reuse[1].starts_with(&format!(
            "reuseaddr: server closed first; TIME_WAIT 127.0.0.1:{p} -> 127.0.0.1:"
        )),
        "{}",
        r.context()
    );
    assert_eq!(
        reuse[2],
        format!(
            "reuseaddr: bind 127.0.0.1:{p} without SO_REUSEADDR -> Err(EADDRINUSE): Address already in use"
        )
    );
    assert_eq!(
        reuse[3],
        format!("reuseaddr: bind 127.0.0.1:{p} with SO_REUSEADDR=1 -> ok, listening again")
    );
    let q = num(reuse[4], "listening on 127.0.0.1:");
    assert!(reuse[4].starts_with("reuseaddr: server with SO_REUSEADDR=0 listening on "));
    assert!(
        reuse[5].starts_with(&format!(
            "reuseaddr: server closed first; TIME_WAIT 127.0.0.1:{q} -> 127.0.0.1:"
        )),
        "{}",
        r.context()
    );
    assert_eq!(
        reuse[6],
        format!(
            "reuseaddr: bind 127.0.0.1:{q} with SO_REUSEADDR=1 -> Err(EADDRINUSE): the TIME_WAIT socket lacked SO_REUSEADDR"
        )
    );
}

#[test]
fn recv_send_edges_stream_rest_eof_broken_pipe_full_buffer_udp() {
    let r = run("recv_send_edges", &[]);
    r.assert_success();
    // (a) recv(5) three times takes the one 12-byte send apart.
    r.has_line("(a) send(b'hello world!') -> 12 bytes");
    assert_eq!(
        lines_with(&r, "(a) recv(5) -> "),
        [
            "(a) recv(5) -> b'hello' (7 bytes still queued)",
            "(a) recv(5) -> b' worl' (2 bytes still queued)",
            "(a) recv(5) -> b'd!' (0 bytes still queued)",
        ]
    );
    // (b) EOF at once, again and again.
    r.has_line("(b) peer closed; recv(1024) -> 0 bytes b'' (EOF, returned at once)");
    assert_eq!(
        lines_with(&r, "(b) recv(1024) again -> 0 bytes b'' (EOF again)").len(),
        2,
        "{}",
        r.context()
    );
    // (c) first send succeeds, RST, then EPIPE as an error (not a kill).
    r.has_line("(c) SIGPIPE disposition: SIG_IGN (set by Rust's runtime before main, like Python)");
    let first = r.index_of(
        "(c) send(b'are you there?') to the closed peer -> 14 bytes (only reached our send buffer)",
    );
    let rst = r.index_of("(c) the peer's kernel answered with RST (poll: ");
    assert!(
        r.line("(c) the peer's kernel answered with RST")
            .contains("POLLHUP")
    );
    let epipe = r.index_of(
        "(c) send(b'hello?') again -> Err(EPIPE) kind BrokenPipe (Python: BrokenPipeError)",
    );
    assert!(first < rst && rst < epipe, "{}", r.context());
    r.has_line(
        "(c) write(2) without MSG_NOSIGNAL -> Err(EPIPE): SIGPIPE was raised and ignored, process alive",
    );
    let killed = r.line("(c) child ");
    assert!(
        killed.ends_with(" with SIGPIPE at SIG_DFL did the same write: killed by SIGPIPE"),
        "{}",
        r.context()
    );
    assert_ne!(num(killed, "child "), r.pid);
    r.has_line("(c) peer closed with 6 unread bytes -> it sent RST at once");
    r.has_line(
        "(c) recv(1024) -> Err(ECONNRESET) kind ConnectionReset (Python: ConnectionResetError)",
    );
    r.has_line("(c) recv(1024) again -> 0 bytes b'' (the reset is reported once, then EOF)");

    // (d) N > 0 bytes, then WouldBlock; blocking send waits for the reader.
    let sizes = r.line("(d) writer SO_SNDBUF=");
    let asked = num(sizes, "asked ");
    let sndbuf = num(sizes, "SO_SNDBUF=");
    let rcvbuf = num(sizes, "SO_RCVBUF=");
    assert_eq!((sndbuf, rcvbuf), (2 * asked, 2 * asked), "{sizes}");
    let refused = r.line("(d) non-blocking send, nobody reading: N=");
    let n = num(refused, "N=");
    assert!(n > 0, "{refused}");
    assert!(
        refused.contains(" bytes accepted, then Err(WouldBlock) (EAGAIN;"),
        "{refused}"
    );
    let settled = r.line("(d) poll(POLLOUT) until no room for 500 ms: ");
    let total = num(settled, "full at ");
    assert_eq!(total, n + num(settled, "500 ms: "), "{settled}");
    assert!(
        total < 1024 * 1024,
        "the buffers must hold less than the 1 MiB sent later: {settled}"
    );
    let held = r.line("(d) the reader's receive buffer holds ");
    let in_reader = num(held, "holds ");
    assert!(in_reader > 0, "{held}");
    assert_eq!(in_reader + num(held, "the other "), total, "{held}");
    let timed =
        r.line("(d) blocking sendall with a 300 ms write timeout -> Err(WouldBlock) after ");
    let waited = num(timed, "after ");
    assert!((250..3000).contains(&waited), "{timed}");
    let timed_sent = num(timed, "(sent ");
    let blocked =
        r.index_of("(d) blocking sendall of 1048576 bytes in a thread: still blocked after 300 ms");
    let unblocked = r.index_of("(d) reader started reading; the blocked sendall returned ");
    assert!(blocked < unblocked);
    let drained = r.line("(d) reader drained ");
    assert_eq!(
        num(drained, "drained "),
        total + timed_sent + 1024 * 1024,
        "every byte sent must arrive: {drained}"
    );

    // (e) UDP: the tail of a datagram is gone; the next recvfrom is the next datagram.
    let sent = r.line("(e) sendto 10 bytes b'0123456789', then 4 bytes b'next' to 127.0.0.1:");
    assert!(num(sent, "to 127.0.0.1:") > 0);
    let first = r.line("(e) recvfrom(4) -> b'0123' from 127.0.0.1:");
    assert!(
        first.ends_with("(datagram was 10 bytes: MSG_TRUNC)"),
        "{first}"
    );
    let second = r.line("(e) recvfrom(4) -> b'next' from 127.0.0.1:");
    assert!(
        second.ends_with("(the rest of the first datagram was discarded)"),
        "{second}"
    );
    assert_eq!(
        num(first, "from 127.0.0.1:"),
        num(second, "from 127.0.0.1:")
    );
    r.has_line("(e) recvfrom(4) -> Err(WouldBlock): nothing left (TCP would still hold b'456789')");
}

/// The reads with data (EOF excluded) that sticky_packets printed under `label`.
fn data_reads<'a>(r: &'a super::Run, label: &str) -> Vec<&'a str> {
    lines_with(r, &format!("{label}: recv #"))
        .into_iter()
        .filter(|l| !l.ends_with("(EOF)"))
        .collect()
}

/// The messages sticky_packets printed under `label`, as `N: b'...'`.
fn messages(r: &super::Run, label: &str) -> Vec<String> {
    lines_with(r, &format!("{label}: message "))
        .iter()
        .map(|l| l.split_once(": message ").expect("prefix").1.to_string())
        .collect()
}

#[test]
fn sticky_packets_glue_then_end_marker_frames_and_sleep() {
    let r = run("sticky_packets", &[]);
    r.assert_success();
    let five: Vec<String> = (0..5).map(|i| format!("b'msg-{i}'")).collect();
    let data_reads = |label: &str| data_reads(&r, label);
    let messages = |label: &str| messages(&r, label);
    let expected_messages: Vec<String> = five
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{}: {m}", i + 1))
        .collect();

    // The problem: 5 writes, one read with several messages glued together.
    r.has_line(
        "problem: sender: 5 separate writes b'msg-0' b'msg-1' b'msg-2' b'msg-3' b'msg-4' (TCP_NODELAY)",
    );
    let reads = data_reads("problem");
    assert_eq!(
        reads,
        ["problem: recv #1 -> 25 bytes b'msg-0msg-1msg-2msg-3msg-4'"],
        "{}",
        r.context()
    );
    assert!(reads[0].matches("msg-").count() > 1);
    r.has_line("problem: recv #2 -> 0 bytes b'' (EOF)");

    // (a) End marker: the same glue, split into exactly the 5 messages.
    let reads = data_reads("end marker");
    assert_eq!(reads.len(), 1, "{}", r.context());
    assert!(reads[0].matches("\\n").count() > 1, "glued: {}", reads[0]);
    assert_eq!(messages("end marker"), expected_messages, "{}", r.context());
    r.has_line("end marker: 5 messages from 1 read, split at b'\\n'");

    // (b) Frames: the same glue, exactly the 5 payloads; a split frame reassembled.
    let reads = data_reads("frames");
    assert_eq!(reads.len(), 1, "{}", r.context());
    assert!(reads[0].starts_with("frames: recv #1 -> 45 bytes "));
    assert!(reads[0].matches("msg-").count() > 1, "glued: {}", reads[0]);
    assert_eq!(messages("frames"), expected_messages, "{}", r.context());
    r.has_line("frames: 5 messages from 1 read, each frame gives its own length");
    let half = r.line("frames split: recv -> 7 bytes ");
    assert!(half.contains("frame::parse -> Err(Incomplete)"), "{half}");
    let rest = r.index_of(
        "frames split: recv -> 15 bytes b'rame cut in two'; frame::parse -> b'a frame cut in two' (22 bytes used)",
    );
    assert!(r.index_of("frames split: recv -> 7 bytes ") < rest);
    r.has_line(
        "frames split: read_frame with the header cut after 2 bytes -> b'a frame cut in two' (it reads until the frame is whole)",
    );

    // (c) Sleep: one message per read while the receiver keeps up...
    let prompt = lines_with(&r, "sleep, prompt receiver: send ");
    assert_eq!(prompt.len(), 5, "{}", r.context());
    for (i, (line, m)) in prompt.iter().zip(&five).enumerate() {
        assert_eq!(
            *line,
            format!(
                "sleep, prompt receiver: send {m}, recv #{} -> 5 bytes {m}, sleep 20 ms",
                i + 1
            )
        );
    }
    r.has_line("sleep, prompt receiver: 5 writes became 5 reads: it looks fixed");
    // ...and glued all the same when it is busy.
    let reads = data_reads("sleep, busy receiver");
    assert_eq!(
        reads,
        ["sleep, busy receiver: recv #1 -> 25 bytes b'msg-0msg-1msg-2msg-3msg-4'"],
        "{}",
        r.context()
    );
    assert!(reads[0].matches("msg-").count() > 1);
    r.has_line(
        "sleep, busy receiver: 5 writes became 1 read: still glued; a sleep only lowers the odds and slows the sender",
    );
}
