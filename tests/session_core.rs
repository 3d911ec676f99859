//! The contract between a session and its driver, on every model: the same
//! pipelining, half-close, slow-reader and deadline scenarios against the real
//! `netkit` binary, so a rule that holds on one model holds on all of them
//! (`src/server/session_core.rs` keeps the rules; each driver only does IO).

mod util;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use util::*;

/// A site with one 20 KB file, for the HTTP scenarios.
struct Site(tempfile::TempDir);

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("f.bin"), payload(20_000, 7)).expect("write file");
        Site(dir)
    }

    fn serve(&self, model: &str, extra: &[&str]) -> Running {
        let root = self.0.path().to_str().expect("utf-8 path");
        let mut args = vec![
            "http",
            root,
            "--port",
            "0",
            "--quiet",
            "--model",
            model,
            "--workers",
            "2",
        ];
        args.extend_from_slice(extra);
        Running(Server::start(&args))
    }
}

fn echo(model: &str) -> Running {
    Running(Server::start(&[
        "echo",
        "serve",
        "--model",
        model,
        "--port",
        "0",
        "--workers",
        "2",
    ]))
}

/// The bytes of one keep-alive response to `GET /f.bin`, to count pipelined
/// ones by: its head, then Content-Length bytes.
fn one_response(server: &Server) -> usize {
    let mut c = Client::connect(&server.addr);
    c.set_read_timeout(Some(Duration::from_secs(5)));
    c.write_all(b"GET /f.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let (mut all, mut buf) = (Vec::new(), [0u8; 4096]);
    let head_end = loop {
        let n = c.read(&mut buf).expect("a response");
        assert!(n > 0, "closed before a response");
        all.extend_from_slice(&buf[..n]);
        if let Some(i) = all.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&all[..head_end]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("a Content-Length");
    head_end + length
}

/// 3,000 pipelined requests for a 20 KB file, sent all at once by one thread
/// while the client reads the answers a little slower than the server writes:
/// every response arrives (the server slows the client down instead of
/// cutting it off once the held requests pile up).
fn pipelining(model: &str) {
    const REQUESTS: usize = 3000;
    let site = Site::new();
    let server = site.serve(model, &[]);
    let each = one_response(&server);
    let mut c = Client::connect(&server.addr);
    c.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = c.try_clone();
    let sender = std::thread::spawn(move || {
        let requests = b"GET /f.bin HTTP/1.1\r\nHost: t\r\n\r\n".repeat(REQUESTS);
        writer.write_all(&requests).is_ok()
    });
    let want = each * REQUESTS;
    let (mut got, mut buf) = (0usize, vec![0u8; 64 * 1024]);
    let mut reads = 0u32;
    while got < want {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("{model}: read failed after {got} of {want} bytes: {e}"),
        }
        reads += 1;
        if reads % 8 == 0 {
            std::thread::sleep(Duration::from_millis(1)); // a slightly slow reader
        }
    }
    assert_eq!(
        got / each,
        REQUESTS,
        "{model}: {got} bytes = {} of {REQUESTS} responses before the server closed",
        got / each
    );
    assert!(
        sender.join().unwrap(),
        "{model}: the requests were all taken"
    );
}

/// A client that half-closes after pipelining: every request it sent is
/// answered, then the server closes (EOF comes after the held input).
fn half_close(model: &str) {
    let site = Site::new();
    let server = site.serve(model, &[]);
    let each = one_response(&server);
    let mut c = Client::connect(&server.addr);
    c.set_read_timeout(Some(Duration::from_secs(10)));
    c.write_all(&b"GET /f.bin HTTP/1.1\r\nHost: t\r\n\r\n".repeat(40))
        .unwrap();
    c.shutdown_write();
    let mut all = Vec::new();
    c.read_to_end(&mut all)
        .unwrap_or_else(|e| panic!("{model}: {e}"));
    assert_eq!(all.len(), each * 40, "{model}: all 40 answered, then EOF");

    // The same for echo: the whole stream comes back, then EOF.
    let server = echo(model);
    let data = payload(1 << 20, 3);
    assert_eq!(echo_stream(&server.addr, &data), data, "{model}");
}

/// A reader much slower than the writer: 2 MiB echoed back in small, slow
/// reads arrive whole and in order.
fn slow_reader(model: &str) {
    let server = echo(model);
    let data = payload(2 << 20, 11);
    let mut c = Client::connect(&server.addr);
    c.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = c.try_clone();
    let to_send = data.clone();
    let sender = std::thread::spawn(move || {
        writer.write_all(&to_send).is_ok() && {
            writer.shutdown_write();
            true
        }
    });
    let (mut back, mut buf) = (Vec::new(), [0u8; 8192]);
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => back.extend_from_slice(&buf[..n]),
            Err(e) => panic!("{model}: read failed after {} bytes: {e}", back.len()),
        }
        if back.len() % (128 * 1024) < 8192 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert!(sender.join().unwrap(), "{model}: the writer finished");
    assert!(
        back == data,
        "{model}: {} of {} bytes, in order",
        back.len(),
        data.len()
    );
}

/// A request head that never completes meets the session's deadline: a 408
/// and a close, on every model, within a few ticks of it.
fn deadline(model: &str) {
    let site = Site::new();
    let server = site.serve(model, &["--header-timeout", "300ms"]);
    let mut c = Client::connect(&server.addr);
    c.set_read_timeout(Some(Duration::from_secs(5)));
    let started = Instant::now();
    c.write_all(b"GET /f.bin HTTP/1.1\r\nHost: t\r\n").unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all)
        .unwrap_or_else(|e| panic!("{model}: no answer to a stalled head: {e}"));
    let waited = started.elapsed();
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 408"), "{model}: {text}");
    assert!(
        waited >= Duration::from_millis(250),
        "{model}: answered before the deadline ({waited:?})"
    );
}

macro_rules! on_every_model {
    ($($model:ident: $name:literal;)*) => {
        $(
            mod $model {
                #[test]
                fn pipelining() {
                    super::pipelining($name);
                }
                #[test]
                fn half_close() {
                    super::half_close($name);
                }
                #[test]
                fn slow_reader() {
                    super::slow_reader($name);
                }
                #[test]
                fn deadline() {
                    super::deadline($name);
                }
            }
        )*
    };
}

on_every_model! {
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
