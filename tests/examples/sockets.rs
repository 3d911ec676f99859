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
