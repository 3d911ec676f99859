//! A graceful stop says what it waits for, and a second signal ends it at once.

mod util;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use util::*;

#[test]
fn a_stop_says_what_it_waits_for_and_a_second_signal_ends_it() {
    let root = tempfile::tempdir().unwrap();
    for (model, sig, status) in [
        ("epoll", libc::SIGTERM, 143),
        ("thread", libc::SIGINT, 130),
        ("fork", libc::SIGTERM, 143),
        ("uring", libc::SIGINT, 130),
    ] {
        let mut s = Server::start(&[
            "http",
            root.path().to_str().unwrap(),
            "--port",
            "0",
            "--model",
            model,
            "--shutdown-timeout",
            "30s",
            "--quiet",
        ]);
        // A request under way: its head only half sent.
        let mut c = TcpStream::connect(s.tcp()).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        s.signal(sig);
        let want = "stopping: no new connections; waiting up to 30s for 1 open connection (Ctrl-C again to stop at once)";
        assert!(
            eventually(Duration::from_secs(5), || s.log().contains(want)),
            "{model}: {}",
            s.log()
        );
        // Still waiting for the request, well within its grace period...
        assert!(s.wait_exit(Duration::from_millis(500)).is_none(), "{model}");
        // ...until the second signal.
        let asked = Instant::now();
        s.signal(sig);
        let st = s
            .wait_exit(Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{model}: still running"));
        assert!(asked.elapsed() < Duration::from_secs(3), "{model}");
        assert_eq!(st.code(), Some(status), "{model}: {st:?}");
        assert_eq!(
            s.log().matches("stopping:").count(),
            1,
            "{model}: said once: {}",
            s.log()
        );
    }
}

#[test]
fn a_stop_with_nothing_in_flight_says_so_and_ends() {
    let root = tempfile::tempdir().unwrap();
    let mut s = Server::start(&[
        "http",
        root.path().to_str().unwrap(),
        "--port",
        "0",
        "--quiet",
    ]);
    s.signal(libc::SIGTERM);
    let st = s.wait_exit(Duration::from_secs(5)).expect("stopped");
    assert!(st.success(), "{st:?}");
    assert!(
        s.log()
            .contains("stopping: no new connections; nothing is in flight"),
        "{}",
        s.log()
    );
    assert!(s.log().contains("stopped"));
}
