//! The toolbox subcommands, run as the real `netkit` binary over real sockets
//! on loopback: info/resolve/aton/ntoa/service, udp, broadcast (to the loopback
//! broadcast address 127.255.255.255 only), send/recv, select-log, and the Unix
//! socket clean-up of `echo serve --unix`.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netkit::tools::transfer::{Header, crc32};
use util::{bin, eventually, payload, raise_nofile};

/// Runs `netkit args...` to completion (stdin closed) with a time limit.
fn netkit(args: &[&str]) -> Output {
    let child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run netkit");
    wait_output(child, Duration::from_secs(20))
}

fn wait_output(mut child: Child, limit: Duration) -> Output {
    let ok = eventually(limit, || matches!(child.try_wait(), Ok(Some(_))));
    if !ok {
        let _ = child.kill();
        panic!("netkit did not finish within {limit:?}");
    }
    child.wait_with_output().expect("output")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A long-running `netkit` process: stdout and stderr collected as they
/// arrive, the address from its `listening on` line, killed on drop.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    url: String,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
}

impl Proc {
    fn start(args: &[&str], with_stdin: bool) -> Proc {
        let mut child = Command::new(bin())
            .args(args)
            .stdin(if with_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netkit");
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        let (o, e) = (Arc::clone(&out), Arc::clone(&err));
        let mut so = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = so.read(&mut buf) {
                if n == 0 {
                    break;
                }
                o.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let se = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(se).lines() {
                let Ok(line) = line else { break };
                if let Some(pos) = line.find("listening on ") {
                    let url = line[pos + 13..].split_whitespace().next().unwrap_or("");
                    if let Some(t) = tx.take() {
                        let _ = t.send(url.to_string());
                    }
                }
                e.lock().unwrap().push_str(&line);
                e.lock().unwrap().push('\n');
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                panic!("netkit {args:?} did not start: {}", err.lock().unwrap());
            }
        };
        let stdin = child.stdin.take();
        Proc {
            child,
            stdin,
            url,
            out,
            err,
        }
    }

    fn addr(&self) -> SocketAddr {
        let a = self
            .url
            .split("://")
            .nth(1)
            .unwrap_or_else(|| panic!("bad url {}", self.url));
        a.parse().expect("socket address")
    }

    fn port(&self) -> String {
        self.addr().port().to_string()
    }

    fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// True while the process runs.
    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until stderr contains `needle`; panics with stderr after 10 s.
    fn expect_stderr(&self, needle: &str) {
        assert!(
            eventually(Duration::from_secs(10), || self.stderr().contains(needle)),
            "no {needle:?} on stderr:\n{}",
            self.stderr()
        );
    }

    /// Waits for exit; returns success, or panics after `limit`.
    fn wait(&mut self, limit: Duration) -> bool {
        let mut status = None;
        eventually(limit, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        let st = status.unwrap_or_else(|| panic!("did not exit; stderr:\n{}", self.stderr()));
        // Let the reader threads drain the pipes.
        std::thread::sleep(Duration::from_millis(50));
        st.success()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- lookups

#[test]
fn info_lists_host_name_and_loopback() {
    let o = netkit(&["info"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let host = nix::unistd::gethostname().unwrap();
    assert!(
        out.starts_with(&format!("host name: {}\n", host.to_string_lossy())),
        "{out}"
    );
    assert!(out.contains("<UP,LOOPBACK,RUNNING>"), "{out}");
    assert!(out.contains("inet  127.0.0.1/8"), "{out}");
}

#[test]
fn resolve_forward_and_reverse() {
    let o = netkit(&["resolve", "localhost"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.starts_with("localhost\n"), "{out}");
    assert!(out.contains("  address: 127.0.0.1 (IPv4)\n"), "{out}");
    let o = netkit(&["resolve", "127.0.0.1"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "127.0.0.1 is localhost\n");
}

#[test]
fn aton_and_ntoa_round_trip_with_clear_errors() {
    for (ip, hex) in [
        ("192.168.1.2", "c0a80102"),
        ("127.0.0.1", "7f000001"),
        ("::1", "00000000000000000000000000000001"),
        ("fe80::1", "fe800000000000000000000000000001"),
    ] {
        let o = netkit(&["aton", ip]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout), format!("{hex}\n"));
        let o = netkit(&["ntoa", hex]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout), format!("{ip}\n"));
    }
    for (args, says) in [
        (["aton", "256.1.1.1"], "over 255"),
        (["aton", "1.2.3"], "3 part(s)"),
        (["aton", "1:2:3"], "not an IPv6 address"),
        (["ntoa", "c0a801"], "6 hex digits"),
        (["ntoa", "zz000000"], "'z' is not a hex digit"),
    ] {
        let o = netkit(&args);
        assert!(!o.status.success(), "{args:?} should fail");
        let err = text(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn service_lookup_like_getservbyname() {
    if Path::new("/etc/services").exists() {
        let o = netkit(&["service", "http"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            text(&o.stdout).starts_with("http 80/tcp"),
            "{}",
            text(&o.stdout)
        );
        let o = netkit(&["service", "53", "--udp"]);
        assert_eq!(text(&o.stdout), "domain 53/udp\n");
        let o = netkit(&["service", "no-such-service"]);
        assert!(!o.status.success());
        assert!(text(&o.stderr).contains("no service 'no-such-service' for tcp"));
    } else {
        // The machine has no database: the tool must say so (see the next check).
        let o = netkit(&["service", "http"]);
        assert!(text(&o.stderr).contains("netbase"), "{}", text(&o.stderr));
    }
    let o = netkit(&["service", "http", "--file", "/nonexistent/services"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("does not exist") && err.contains("netbase"),
        "{err}"
    );
    let o = netkit(&["service", "70000"]);
    assert!(text(&o.stderr).contains("out of range"));
}

// ---------------------------------------------------------------- udp

#[test]
fn udp_server_replies_and_explains_truncation() {
    let mut server = Proc::start(
        &[
            "udp", "serve", "--port", "0", "--buffer", "64", "--count", "3",
        ],
        false,
    );
    let port = server.port();
    let o = netkit(&[
        "udp",
        "send",
        &format!("127.0.0.1:{port}"),
        "hello",
        "world",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "Thanks\nThanks\n");
    // 100 bytes into a 64-byte buffer: the tail is lost, and both sides learn it.
    let o = netkit(&["udp", "send", &format!("127.0.0.1:{port}"), "--size", "100"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "TRUNCATED: the server kept 64 of your 100 bytes (its buffer is 64 bytes)\n"
    );
    assert!(
        server.wait(Duration::from_secs(10)),
        "exits 0 after --count"
    );
    let out = server.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("from 127.0.0.1:") && lines[0].ends_with(": 5 bytes: hello"));
    assert!(lines[1].ends_with(": 5 bytes: world"), "{out}");
    assert!(lines[2].contains(": 100 bytes: abcdef"), "{out}");
    let err = server.stderr();
    assert!(
        err.contains("truncated: it was 100 bytes but the receive buffer holds 64")
            && err.contains("65507"),
        "{err}"
    );
}

#[test]
fn udp_client_limits_and_stdin_mode() {
    // Over the largest UDP payload: the kernel refuses and the tool says why.
    let o = netkit(&["udp", "send", "127.0.0.1:9", "--size", "70000"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("cannot send 70000 bytes") && err.contains("65507"),
        "{err}"
    );
    // Nobody listening: no reply, in bounded time.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = sock.local_addr().unwrap().port().to_string();
    drop(sock);
    let o = netkit(&[
        "udp",
        "send",
        &format!("127.0.0.1:{dead}"),
        "--timeout",
        "300ms",
        "hi",
    ]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("no reply"), "{}", text(&o.stderr));
    // Lines from stdin, one datagram each, until an empty line.
    let server = Proc::start(&["udp", "serve", "--port", "0", "--reply", "got it"], false);
    let mut child = Command::new(bin())
        .args(["udp", "send", &format!("127.0.0.1:{}", server.port())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"one\ntwo\n\nnot sent\n")
        .unwrap();
    let o = wait_output(child, Duration::from_secs(10));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "got it\ngot it\n");
    assert!(eventually(Duration::from_secs(5), || server
        .stdout()
        .lines()
        .count()
        == 2));
    assert!(!server.stdout().contains("not sent"));
}

// ---------------------------------------------------------------- broadcast

#[test]
fn broadcast_reaches_every_listener_on_loopback() {
    let mut first = Proc::start(
        &["broadcast", "listen", "--port", "0", "--count", "2"],
        false,
    );
    let port = first.port();
    let mut second = Proc::start(
        &["broadcast", "listen", "--port", &port, "--count", "2"],
        false,
    );
    // Bound to a unicast address: broadcasts are not for it.
    let unicast = Proc::start(
        &[
            "broadcast",
            "listen",
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
        ],
        false,
    );
    // Without SO_BROADCAST the kernel refuses, and the tool explains.
    let o = netkit(&[
        "broadcast",
        "send",
        "--to",
        "127.255.255.255",
        "--port",
        &port,
        "--count",
        "1",
        "--without-so-broadcast",
        "x",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("needs the SO_BROADCAST"),
        "{}",
        text(&o.stderr)
    );
    let o = netkit(&[
        "broadcast",
        "send",
        "--to",
        "127.255.255.255",
        "--port",
        &port,
        "--count",
        "2",
        "--interval",
        "100ms",
        "hello all",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        format!("sent 9 bytes to 127.255.255.255:{port}\n").repeat(2)
    );
    for l in [&mut first, &mut second] {
        assert!(l.wait(Duration::from_secs(10)), "{}", l.stderr());
        let out = l.stdout();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines
                .iter()
                .all(|x| x.starts_with("from 127.0.0.1:") && x.ends_with(": hello all"))
        );
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        unicast.stdout(),
        "",
        "a 127.0.0.1 listener gets no broadcast"
    );
}

// ---------------------------------------------------------------- send / recv

fn recv(dir: &Path, extra: &[&str]) -> Proc {
    let mut args = vec!["recv", "--port", "0", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    Proc::start(&args, false)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn send_and_recv_one_file() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let data = payload(3 << 20, 42);
    let file = src.path().join("data.bin");
    std::fs::write(&file, &data).unwrap();
    let mut r = recv(dst.path(), &[]);
    let o = netkit(&["send", file.to_str().unwrap(), &r.addr().to_string()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let crc = format!("{:08x}", crc32(&data));
    assert_eq!(
        text(&o.stdout),
        format!(
            "sent data.bin (3145728 bytes, crc32 {crc}) to {}\n",
            r.addr()
        )
    );
    assert!(
        r.wait(Duration::from_secs(10)),
        "recv exits 0: {}",
        r.stderr()
    );
    assert!(r.stdout().starts_with(&format!(
        "received data.bin (3145728 bytes, crc32 {crc}) from 127.0.0.1:"
    )));
    assert!(std::fs::read(dst.path().join("data.bin")).unwrap() == data);
    assert_eq!(
        entries(dst.path()),
        vec!["data.bin"],
        "no temporary file left"
    );

    // An empty file, under another name, to a HOST:PORT written as a name.
    let empty = src.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let mut r = recv(dst.path(), &[]);
    let target = format!("localhost:{}", r.port());
    let o = netkit(&[
        "send",
        empty.to_str().unwrap(),
        &target,
        "--as",
        "renamed.txt",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(r.wait(Duration::from_secs(10)));
    assert_eq!(std::fs::read(dst.path().join("renamed.txt")).unwrap(), b"");

    // The longest name a directory entry can have still fits its temporary name.
    let long = "n".repeat(255);
    let mut r = recv(dst.path(), &[]);
    let o = netkit(&[
        "send",
        file.to_str().unwrap(),
        &r.addr().to_string(),
        "--as",
        &long,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(r.wait(Duration::from_secs(10)), "{}", r.stderr());
    assert_eq!(
        std::fs::metadata(dst.path().join(&long)).unwrap().len(),
        3 << 20
    );
}

#[test]
fn recv_never_overwrites_without_force() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let file = src.path().join("notes.txt");
    std::fs::write(&file, b"new contents").unwrap();
    std::fs::write(dst.path().join("notes.txt"), b"old").unwrap();

    let mut r = recv(dst.path(), &[]);
    let o = netkit(&["send", file.to_str().unwrap(), &r.addr().to_string()]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("refused the file: notes.txt already exists there"),
        "{err}"
    );
    r.expect_stderr("already exists (use --force");
    assert!(r.running(), "a refused file is not the end: recv waits on");
    assert_eq!(std::fs::read(dst.path().join("notes.txt")).unwrap(), b"old");
    // The sender picks another name; that one arrives and recv is done.
    let o = netkit(&[
        "send",
        file.to_str().unwrap(),
        &r.addr().to_string(),
        "--as",
        "notes-2.txt",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(r.wait(Duration::from_secs(10)), "{}", r.stderr());
    assert_eq!(std::fs::read(dst.path().join("notes.txt")).unwrap(), b"old");
    std::fs::remove_file(dst.path().join("notes-2.txt")).unwrap();

    let mut r = recv(dst.path(), &["--force"]);
    let o = netkit(&["send", file.to_str().unwrap(), &r.addr().to_string()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(r.wait(Duration::from_secs(10)));
    assert_eq!(
        std::fs::read(dst.path().join("notes.txt")).unwrap(),
        b"new contents"
    );
    assert_eq!(entries(dst.path()), vec!["notes.txt"]);
}

/// Sends a small file with the real `netkit send`; recv must then be done.
fn finish_with_a_real_sender(r: &mut Proc, dir: &Path) {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("real.txt");
    std::fs::write(&file, b"the file that was meant to arrive").unwrap();
    let o = netkit(&["send", file.to_str().unwrap(), &r.addr().to_string()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        r.wait(Duration::from_secs(10)),
        "recv exits 0: {}",
        r.stderr()
    );
    assert!(r.stdout().starts_with("received real.txt (33 bytes"));
    assert_eq!(
        std::fs::read(dir.join("real.txt")).unwrap(),
        b"the file that was meant to arrive"
    );
}

/// Speaks the protocol by hand: header, then the receiver's first answer.
fn raw_header(addr: SocketAddr, name: &str, size: u64) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        &Header {
            name: name.into(),
            size,
        }
        .encode(),
    )
    .unwrap();
    let line = read_line(&mut s);
    (s, line)
}

fn read_line(s: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while s.read(&mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
        line.push(b[0]);
    }
    text(&line)
}

#[test]
fn recv_refuses_hostile_names() {
    let top = tempfile::tempdir().unwrap();
    let dst = top.path().join("inbox");
    std::fs::create_dir(&dst).unwrap();
    // One receiver refuses them all, one log line each, and waits on.
    let mut r = recv(&dst, &[]);
    let names = [
        "../escape",
        "a/b",
        "/etc/passwd",
        ".hidden",
        "..",
        "a\0b",
        "line\nbreak",
    ];
    for name in names {
        let (s, reply) = raw_header(r.addr(), name, 4);
        assert!(
            reply.starts_with("ERR refusing file name"),
            "{name:?}: {reply}"
        );
        let port = s.local_addr().unwrap().port();
        r.expect_stderr(&format!("refused 127.0.0.1:{port}: refusing file name"));
        assert!(r.running(), "{name:?}: recv waits on");
    }
    assert_eq!(
        r.stderr().matches("refusing file name").count(),
        names.len()
    );
    assert!(entries(&dst).is_empty());
    assert_eq!(
        entries(top.path()),
        vec!["inbox"],
        "nothing escaped the directory"
    );
    // The sender checks too, before connecting anywhere.
    let f = top.path().join("x");
    std::fs::write(&f, b"x").unwrap();
    let o = netkit(&["send", f.to_str().unwrap(), "127.0.0.1:9", "--as", "../x"]);
    assert!(
        text(&o.stderr).contains("refusing file name \"../x\""),
        "{}",
        text(&o.stderr)
    );
    finish_with_a_real_sender(&mut r, &dst);
    assert_eq!(entries(&dst), vec!["real.txt"]);
}

#[test]
fn recv_outlives_stray_connections() {
    let dst = tempfile::tempdir().unwrap();
    let mut r = recv(dst.path(), &[]);
    // A port probe: connect, close.
    let probe = TcpStream::connect(r.addr()).unwrap();
    let probe_port = probe.local_addr().unwrap().port();
    drop(probe);
    r.expect_stderr(&format!("refused 127.0.0.1:{probe_port}: protocol error"));
    // An HTTP client (curl, a health check): told in one line, and logged.
    let mut http = TcpStream::connect(r.addr()).unwrap();
    http.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_line(&mut http).contains("bad magic"));
    let http_port = http.local_addr().unwrap().port();
    r.expect_stderr(&format!(
        "refused 127.0.0.1:{http_port}: protocol error: the peer is not a `netkit send` client (bad magic)"
    ));
    // A connection that says nothing and stays open holds up nobody.
    let _silent = TcpStream::connect(r.addr()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(r.running());
    let started = std::time::Instant::now();
    finish_with_a_real_sender(&mut r, dst.path());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the real sender waited {:?} behind the silent connection",
        started.elapsed()
    );
    assert_eq!(entries(dst.path()), vec!["real.txt"]);
}

#[test]
fn recv_serves_one_transfer_at_a_time() {
    let dst = tempfile::tempdir().unwrap();
    let mut r = recv(dst.path(), &[]);
    let (mut first, reply) = raw_header(r.addr(), "first.bin", 6);
    assert_eq!(reply, "GO");
    // A second sender while the first is under way is told, and logged.
    let (second, reply) = raw_header(r.addr(), "second.bin", 6);
    assert!(reply.starts_with("ERR busy"), "{reply}");
    let port = second.local_addr().unwrap().port();
    r.expect_stderr(&format!("refused 127.0.0.1:{port}: busy"));
    first.write_all(b"abcdef").unwrap();
    first.write_all(&crc32(b"abcdef").to_be_bytes()).unwrap();
    assert!(read_line(&mut first).starts_with("OK 6 "));
    assert!(r.wait(Duration::from_secs(10)), "{}", r.stderr());
    assert_eq!(entries(dst.path()), vec!["first.bin"]);
}

#[test]
fn recv_gives_up_after_its_timeout() {
    let dst = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let mut r = recv(dst.path(), &["--timeout", "1s"]);
    // Strays do not count as a file, nor keep it waiting longer.
    drop(TcpStream::connect(r.addr()).unwrap());
    let _silent = TcpStream::connect(r.addr()).unwrap();
    assert!(!r.wait(Duration::from_secs(10)), "recv fails");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(
        r.stderr().contains("no file arrived within 1s; giving up"),
        "{}",
        r.stderr()
    );
    assert_eq!(r.child.wait().unwrap().code(), Some(1));

    // A transfer under way when the time is up is let finish (its bytes
    // keep coming, so it never stalls for the 1 s).
    let mut r = recv(dst.path(), &["--timeout", "1s"]);
    let (mut s, reply) = raw_header(r.addr(), "late.bin", 8);
    assert_eq!(reply, "GO");
    for b in b"late-one" {
        std::thread::sleep(Duration::from_millis(200));
        s.write_all(&[*b]).unwrap();
    }
    s.write_all(&crc32(b"late-one").to_be_bytes()).unwrap();
    assert!(read_line(&mut s).starts_with("OK 8 "));
    assert!(r.wait(Duration::from_secs(10)), "{}", r.stderr());
    assert_eq!(
        std::fs::read(dst.path().join("late.bin")).unwrap(),
        b"late-one"
    );
}

#[test]
fn bad_or_interrupted_transfers_leave_nothing() {
    let dst = tempfile::tempdir().unwrap();
    // Wrong checksum: refused, logged, nothing kept; recv waits on.
    let mut r = recv(dst.path(), &[]);
    let (mut s, reply) = raw_header(r.addr(), "c.bin", 1000);
    assert_eq!(reply, "GO");
    let data = payload(1000, 7);
    s.write_all(&data).unwrap();
    s.write_all(&(crc32(&data) ^ 1).to_be_bytes()).unwrap();
    assert!(read_line(&mut s).starts_with("ERR checksum mismatch"));
    r.expect_stderr("checksum mismatch");
    assert!(r.running());
    assert!(entries(dst.path()).is_empty(), "{:?}", entries(dst.path()));

    // The sender vanishes half-way: the same.
    let (mut s, reply) = raw_header(r.addr(), "short.bin", 1_000_000);
    assert_eq!(reply, "GO");
    s.write_all(&payload(1000, 8)).unwrap();
    drop(s);
    r.expect_stderr("closed after 1000 of 1000000 bytes");
    assert!(r.running());
    assert!(entries(dst.path()).is_empty(), "{:?}", entries(dst.path()));
    finish_with_a_real_sender(&mut r, dst.path());
    assert_eq!(entries(dst.path()), vec!["real.txt"]);
    std::fs::remove_file(dst.path().join("real.txt")).unwrap();

    // Ctrl-C in the middle: the temporary file goes too.
    let mut r = recv(dst.path(), &[]);
    let (mut s, reply) = raw_header(r.addr(), "big.bin", 50_000_000);
    assert_eq!(reply, "GO");
    s.write_all(&payload(100_000, 9)).unwrap();
    assert!(eventually(Duration::from_secs(5), || entries(dst.path())
        .len()
        == 1));
    r.signal(libc::SIGINT);
    assert!(!r.wait(Duration::from_secs(10)));
    assert!(r.stderr().contains("interrupted"), "{}", r.stderr());
    assert!(entries(dst.path()).is_empty(), "{:?}", entries(dst.path()));

    // A stalled sender times out; with no file by then, recv gives up.
    let mut r = recv(dst.path(), &["--timeout", "300ms"]);
    let (_s, reply) = raw_header(r.addr(), "slow.bin", 10);
    assert_eq!(reply, "GO");
    assert!(!r.wait(Duration::from_secs(10)));
    assert!(r.stderr().contains("no data for 300ms"), "{}", r.stderr());
    assert!(
        r.stderr().contains("no file arrived within 300ms"),
        "{}",
        r.stderr()
    );
    assert!(entries(dst.path()).is_empty());
}

// ---------------------------------------------------------------- select-log

/// `<24-char UTC timestamp> [<source>] <text>` → (source, text).
fn parse_entry(line: &str) -> (String, String) {
    let (ts, rest) = line.split_at(24);
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && &ts[10..11] == "T",
        "timestamp in {line:?}"
    );
    let rest = rest.strip_prefix(" [").expect("source tag");
    let (src, text) = rest.split_once("] ").expect("source tag end");
    (src.to_string(), text.to_string())
}

#[test]
fn select_log_logs_clients_and_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("chat.log");
    let mut p = Proc::start(
        &["select-log", "--port", "0", "--log", log.to_str().unwrap()],
        true,
    );
    let mut a = TcpStream::connect(p.addr()).unwrap();
    let mut b = TcpStream::connect(p.addr()).unwrap();
    let (a_tag, b_tag) = (
        format!("tcp {}", a.local_addr().unwrap()),
        format!("tcp {}", b.local_addr().unwrap()),
    );
    // Complete lines only: an entry being written is not parsed half-way.
    let read_log = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let done = text.rfind('\n').map_or("", |i| &text[..=i]);
        done.lines().map(parse_entry).collect::<Vec<_>>()
    };
    a.write_all(b"hello from a\nhalf a ").unwrap();
    b.write_all(b"b1\r\nb2\n").unwrap();
    p.stdin
        .as_mut()
        .unwrap()
        .write_all(b"from the terminal\n")
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || read_log().len() == 4),
        "{:?}",
        read_log()
    );
    a.write_all(b"line\ntail without newline").unwrap();
    drop(a);
    assert!(
        eventually(Duration::from_secs(5), || read_log().len() == 6),
        "{:?}",
        read_log()
    );
    // End of stdin: the server keeps serving clients.
    drop(p.stdin.take());
    assert!(eventually(Duration::from_secs(5), || p
        .stderr()
        .contains("end of stdin")));
    b.write_all(b"after stdin closed\n").unwrap();
    assert!(
        eventually(Duration::from_secs(5), || read_log().len() == 7),
        "{:?}",
        read_log()
    );
    p.signal(libc::SIGTERM);
    assert!(p.wait(Duration::from_secs(10)), "{}", p.stderr());

    let entries = read_log();
    let of = |tag: &str| -> Vec<String> {
        entries
            .iter()
            .filter(|(s, _)| s == tag)
            .map(|(_, t)| t.clone())
            .collect()
    };
    assert_eq!(
        of(&a_tag),
        ["hello from a", "half a line", "tail without newline"]
    );
    assert_eq!(of(&b_tag), ["b1", "b2", "after stdin closed"]);
    assert_eq!(of("stdin"), ["from the terminal"]);
    assert!(
        p.stderr()
            .contains("stopped: 7 line(s) from 2 client(s) logged, 0 refused"),
        "{}",
        p.stderr()
    );
}

#[test]
fn select_log_refuses_descriptors_past_fd_setsize() {
    let limit = raise_nofile();
    assert!(
        limit > 1200,
        "needs an open-file limit above 1200 (ulimit -n), have {limit}"
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("many.log");
    let mut p = Proc::start(
        &[
            "select-log",
            "--port",
            "0",
            "--no-stdin",
            "--log",
            log.to_str().unwrap(),
        ],
        false,
    );
    const N: usize = 1040;
    let mut clients: Vec<TcpStream> = (0..N)
        .map(|_| TcpStream::connect(p.addr()).expect("connect"))
        .collect();
    // The last ones cannot fit in an fd_set: each is told so and closed.
    for c in &mut clients[N - 10..] {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let line = read_line(c);
        assert!(
            line.contains("server full") && line.contains("FD_SETSIZE (1024)"),
            "{line}"
        );
    }
    // The first one is still served.
    clients[0].write_all(b"still here\n").unwrap();
    assert!(eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("] still here")
    }));
    p.signal(libc::SIGTERM);
    assert!(p.wait(Duration::from_secs(10)), "{}", p.stderr());
    let err = p.stderr();
    let stats = err
        .lines()
        .find(|l| l.contains("stopped:"))
        .expect("stats line");
    let nums: Vec<usize> = stats
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    let (accepted, refused) = (nums[1], nums[2]);
    assert_eq!(accepted + refused, N, "{stats}");
    assert!(refused >= 10 && accepted > 1000, "{stats}");
}

// ---------------------------------------------------------------- unix echo

/// `echo serve --unix` removes its socket file on SIGINT as on SIGTERM, and
/// replaces the stale file a killed server leaves behind.
#[test]
fn unix_echo_socket_file_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    let p = path.to_str().unwrap();
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let mut s = Proc::start(&["echo", "serve", "--unix", p], false);
        let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
        c.write_all(b"ping\n").unwrap();
        let mut got = [0u8; 5];
        c.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping\n");
        drop(c);
        s.signal(sig);
        assert!(s.wait(Duration::from_secs(10)), "exit 0 on signal {sig}");
        assert!(!path.exists(), "socket file removed on signal {sig}");
    }
    // SIGKILL leaves the file; the next server replaces it.
    let mut s = Proc::start(&["echo", "serve", "--unix", p], false);
    s.signal(libc::SIGKILL);
    s.wait(Duration::from_secs(10));
    assert!(path.exists(), "a killed server cannot clean up");
    let s = Proc::start(&["echo", "serve", "--unix", p], false);
    let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
    c.write_all(b"again\n").unwrap();
    let mut got = [0u8; 6];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"again\n");
    drop(s);
}
