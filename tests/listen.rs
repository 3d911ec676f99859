//! Where servers listen: the socket systemd passes (socket activation, with
//! the real `systemd-socket-activate`), Unix stream sockets (`--bind
//! unix:/path`) and IPv6 (`--bind ::` for both families, `[::1]`), with
//! curl and Python's http.client as clients, on every model that applies;
//! and each way of getting it wrong, answered in one line.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use util::*;

const SOCKET_ACTIVATE: &str = "/usr/bin/systemd-socket-activate";

const MODELS: [&str; 10] = [
    "iterative",
    "fork",
    "prefork",
    "thread",
    "pool",
    "select",
    "poll",
    "epoll",
    "async",
    "uring",
];

/// `--model M`, with two workers where the model has workers (so the
/// workers' sharing of one socket is exercised).
fn model_args(model: &str) -> Vec<&str> {
    let mut args = vec!["--model", model];
    if matches!(model, "prefork" | "pool" | "epoll" | "async" | "uring") {
        args.extend(["--workers", "2"]);
    }
    args
}

/// A document root with one known file.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from netkit\n").unwrap();
    dir
}

/// A free UDP port on 127.0.0.1.
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs curl; returns the HTTP status and the body.
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        code.trim().parse().unwrap_or(0),
        format!("{body}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

/// GET `path` with Python's http.client over the Unix socket `sock`.
fn python_unix_get(sock: &Path, path: &str) -> (u16, String) {
    let script = r#"
import http.client, socket, sys
class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.unix_path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.unix_path)
c = UnixHTTPConnection(sys.argv[1])
c.request("GET", sys.argv[2])
r = c.getresponse()
print(r.status)
sys.stdout.write(r.read().decode())
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(sock)
        .arg(path)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (status, body) = text.split_once('\n').unwrap_or((&text, ""));
    (
        status.trim().parse().unwrap_or(0),
        format!("{body}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

/// Listening TCP sockets on `port` in this network namespace (IPv4 and IPv6).
fn listening_sockets(port: u16) -> usize {
    let suffix = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| {
            t.lines()
                .skip(1)
                .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        })
        .filter(|f| f.len() > 3 && f[1].ends_with(&suffix) && f[3] == "0A")
        .count()
}

/// `netkit ARGS` run to its end: exit status and stderr.
fn run_netkit(args: &[&str]) -> (ExitStatus, String) {
    let out = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out.status, String::from_utf8_lossy(&out.stderr).to_string())
}

/// Asserts that a failed start said so in one line, `netkit: ...` containing `needle`.
fn one_line_error(status: ExitStatus, stderr: &str, needle: &str) {
    assert!(!status.success(), "should fail: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = lines.last().copied().unwrap_or("");
    assert!(
        last.starts_with("netkit: ") && last.contains(needle),
        "expected one line with '{needle}', got:\n{stderr}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("netkit: ")).count(),
        1,
        "one error line: {stderr}"
    );
}

/// A `netkit` started by the real `systemd-socket-activate`, which binds
/// the socket, waits for the first client and then execs netkit in its own
/// process (so the child's pid is netkit's). Stopped with SIGTERM on drop.
struct Activated {
    child: Child,
    log: Arc<Mutex<String>>,
    /// Copies stderr into `log`; finished once stderr closed.
    reader: std::thread::JoinHandle<()>,
}

impl Activated {
    /// `systemd-socket-activate [extra] -l LISTEN netkit ARGS`, once it listens.
    fn start(listen: &str, extra: &[&str], args: &[&str]) -> Activated {
        assert!(
            Path::new(SOCKET_ACTIVATE).exists(),
            "{SOCKET_ACTIVATE} is missing: install the systemd package (.ci/run does)"
        );
        let mut child = Command::new(SOCKET_ACTIVATE)
            .args(extra)
            .arg("-l")
            .arg(listen)
            .arg(bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start systemd-socket-activate");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let log2 = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut l = log2.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let a = Activated { child, log, reader };
        assert!(
            eventually(Duration::from_secs(10), || a.log().contains("Listening on")),
            "systemd-socket-activate did not listen:\n{}",
            a.log()
        );
        a
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn wait_log(&self, needle: &str) -> bool {
        eventually(Duration::from_secs(10), || self.log().contains(needle))
    }

    /// SIGTERM to netkit (the exec'd child); its exit status, once its
    /// last lines are in the log too.
    fn stop(&mut self) -> Option<ExitStatus> {
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < until {
            if let Ok(Some(st)) = self.child.try_wait() {
                while std::time::Instant::now() < until && !self.reader.is_finished() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Activated {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() && self.stop().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---- systemd socket activation ----

/// Every model serves the TCP socket systemd-socket-activate made: the
/// first curl wakes it (netkit starts then), the others are served too, the
/// startup line says where the socket came from, and the workers of
/// epoll, uring and the others share that one socket (one listening socket
/// on the port, not one per worker).
#[test]
fn systemd_socket_serves_http_on_every_model() {
    let root = site();
    for model in MODELS {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["http", root.path().to_str().unwrap()];
        args.extend(model_args(model));
        let mut server = Activated::start(&listen, &[], &args);
        let url = format!("http://{listen}/hello.txt");
        for _ in 0..4 {
            let (code, body) = curl(&[&url]);
            assert_eq!(code, 200, "{model}: {body}\n{}", server.log());
            assert_eq!(body, "hello from netkit\n", "{model}");
        }
        assert!(
            server.wait_log("socket from systemd"),
            "{model}: startup line:\n{}",
            server.log()
        );
        assert!(
            server
                .log()
                .contains(&format!("listening on tcp://{listen} (model {model}")),
            "{model}: {}",
            server.log()
        );
        assert_eq!(
            listening_sockets(port),
            1,
            "{model}: the workers must share systemd's socket"
        );
        let st = server.stop().expect("netkit stops on SIGTERM");
        assert!(st.success(), "{model}: {st:?}\n{}", server.log());
        assert!(server.log().contains("netkit http: stopped"), "{model}");
    }
}

/// The socket systemd passes may have SO_REUSEPORT (`ReusePort=yes`):
/// epoll and uring still share it instead of binding siblings of their own
/// next to it (which systemd would not know of, and which a DynamicUser
/// service could not even bind).
#[test]
fn passed_reuseport_socket_is_shared_not_joined() {
    let root = site();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/listen/activate.py");
    for model in ["epoll", "uring"] {
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .args(["tcp-reuseport", "1", bin(), "http"])
            .arg(root.path())
            .args(["--model", model, "--workers", "4"]);
        let server = Running(Server::start_command(cmd));
        assert!(
            server.log().contains("socket from systemd"),
            "{}",
            server.log()
        );
        let addr = server.tcp();
        for _ in 0..8 {
            let (code, body) = curl(&[&format!("http://{addr}/hello.txt")]);
            assert_eq!(code, 200, "{model}: {body}");
        }
        assert_eq!(listening_sockets(addr.port()), 1, "{model}");
    }
}

/// A Unix socket from systemd-socket-activate: served (curl and Python's
/// http.client), and left in place on exit: it is the manager's file.
#[test]
fn systemd_unix_socket_is_served_and_left_to_its_owner() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("http.sock");
    for model in ["epoll", "thread", "fork", "uring"] {
        let _ = std::fs::remove_file(&sock);
        let mut args = vec!["http", root.path().to_str().unwrap()];
        args.extend(model_args(model));
        let mut server = Activated::start(sock.to_str().unwrap(), &[], &args);
        let (code, body) = curl(&[
            "--unix-socket",
            sock.to_str().unwrap(),
            "http://localhost/hello.txt",
        ]);
        assert_eq!(code, 200, "{model}: {body}\n{}", server.log());
        let (code, body) = python_unix_get(&sock, "/hello.txt");
        assert_eq!(
            (code, body.as_str()),
            (200, "hello from netkit\n"),
            "{model}"
        );
        assert!(server.wait_log("socket from systemd"), "{}", server.log());
        assert!(
            server
                .log()
                .contains(&format!("at unix:{}", sock.display())),
            "{}",
            server.log()
        );
        assert!(server.stop().expect("stops").success(), "{}", server.log());
        assert!(sock.exists(), "{model}: systemd's socket file must stay");
    }
}

/// The other stream servers take the passed socket too: the file server
/// (its own client lists the files), the FTP server (curl lists the
/// directory) and TCP echo.
#[test]
fn systemd_socket_serves_files_ftp_and_echo() {
    let root = site();
    let dir = root.path().to_str().unwrap();

    let listen = format!("127.0.0.1:{}", free_port());
    let _files = Activated::start(&listen, &[], &["files", "serve", dir, "-m", "epoll"]);
    let out = Command::new(bin())
        .args(["files", "ls", &listen])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("hello.txt"), "{text}");
    assert!(_files.wait_log("socket from systemd"), "{}", _files.log());

    let listen = format!("127.0.0.1:{}", free_port());
    let ftp = Activated::start(&listen, &[], &["ftp", "serve", dir, "-m", "thread"]);
    let (_, body) = curl(&["--list-only", &format!("ftp://{listen}/")]);
    assert!(body.contains("hello.txt"), "{body}\n{}", ftp.log());
    assert!(ftp.wait_log("socket from systemd"), "{}", ftp.log());

    let port = free_port();
    let echo = Activated::start(
        &format!("127.0.0.1:{port}"),
        &[],
        &["echo", "serve", "-m", "uring", "-w", "2"],
    );
    let got = echo_stream(
        &Addr::Tcp(format!("127.0.0.1:{port}").parse().unwrap()),
        &payload(100_000, 7),
    );
    assert_eq!(got, payload(100_000, 7));
    assert!(echo.wait_log("socket from systemd"), "{}", echo.log());
}

/// A datagram socket (`ListenDatagram=`, `systemd-socket-activate
/// --datagram`) is served by UDP echo, with the epoll workers sharing it.
#[test]
fn systemd_datagram_socket_serves_udp_echo() {
    for model in ["epoll", "thread", "uring"] {
        let port = free_udp_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["echo", "serve", "--udp"];
        args.extend(model_args(model));
        let server = Activated::start(&listen, &["--datagram"], &args);
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        // The first datagram wakes the server; send until one comes back.
        let mut buf = [0u8; 64];
        let echoed = eventually(Duration::from_secs(10), || {
            client.send_to(b"ping", &listen).unwrap();
            matches!(client.recv_from(&mut buf), Ok((4, _)))
        });
        assert!(echoed, "{model}: no echo\n{}", server.log());
        assert_eq!(&buf[..4], b"ping");
        assert!(server.wait_log("socket from systemd"), "{}", server.log());
        assert!(
            server
                .log()
                .contains(&format!("listening on udp://{listen}")),
            "{}",
            server.log()
        );
    }
}

/// Each way the passed descriptors can be wrong is one clear line.
#[test]
fn passed_descriptors_that_cannot_be_served_are_one_line_errors() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/listen/activate.py");
    let cases: [(&str, &str, &[&str], &str); 7] = [
        ("file", "1", &["http"], "descriptor 3 is not a socket"),
        (
            "unbound-stream",
            "1",
            &["http"],
            "descriptor 3 is a stream socket that is not listening",
        ),
        ("udp", "1", &["http"], "the passed socket is a UDP socket"),
        (
            "tcp",
            "1",
            &["echo", "serve", "--udp"],
            "the passed socket is a stream socket, but netkit echo serves UDP",
        ),
        (
            "tcp",
            "2",
            &["http"],
            "2 sockets were passed (LISTEN_FDS=2)",
        ),
        ("tcp", "x", &["http"], "LISTEN_FDS=x is not a number"),
        ("closed", "1", &["http"], "descriptor 3 is not open"),
    ];
    for (kind, count, args, needle) in cases {
        let out = Command::new("python3")
            .arg(&script)
            .args([kind, count, bin()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr: String = stderr
            .lines()
            .filter(|l| !l.starts_with("port "))
            .map(|l| format!("{l}\n"))
            .collect();
        one_line_error(out.status, &stderr, needle);
        assert!(
            stderr.contains("netkit: systemd socket activation: "),
            "{stderr}"
        );
    }
}

/// `systemd-socket-activate --accept` (like `Accept=yes`) passes a
/// connected socket, one per client: netkit explains that it needs the
/// listening socket.
#[test]
fn accept_yes_socket_is_refused_in_one_line() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = Activated::start(&listen, &["--accept"], &["http"]);
    let _ = TcpStream::connect(&listen).unwrap();
    assert!(
        server.wait_log("netkit: systemd socket activation: descriptor 3 is a stream socket that is not listening (netkit needs Accept=no"),
        "{}",
        server.log()
    );
}

/// LISTEN_FDS meant for another process (LISTEN_PID is not ours) is
/// ignored: the server binds as usual.
#[test]
fn listen_fds_for_another_process_are_ignored() {
    let server = Running(Server::start_with_env(
        &["http", "--port", "0"],
        &[("LISTEN_PID", "1"), ("LISTEN_FDS", "1")],
    ));
    assert!(!server.log().contains("systemd"), "{}", server.log());
    let (code, _) = curl(&[&format!("http://{}/api/time", server.tcp())]);
    assert_eq!(code, 200);
}

// ---- Unix stream sockets ----

fn socket_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// `--bind unix:PATH` on every model: the printed URL is `unix:PATH`, curl
/// and Python's http.client get files and the backend over it, and the
/// socket file is gone once the server stopped.
#[test]
fn http_on_a_unix_socket_every_model() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    for model in MODELS {
        let sock = socket_path(&dir, &format!("{model}.sock"));
        let bind = format!("unix:{}", sock.display());
        let mut args = vec!["http", root.path().to_str().unwrap(), "--bind", &bind];
        args.extend(model_args(model));
        let mut server = Running(Server::start(&args));
        assert!(
            server
                .log()
                .contains(&format!("at unix:{}\n", sock.display())),
            "{model}: {}",
            server.log()
        );
        assert!(matches!(&server.addr, Addr::Unix(p) if *p == sock));
        for _ in 0..3 {
            let (code, body) = curl(&[
                "--unix-socket",
                sock.to_str().unwrap(),
                "http://localhost/hello.txt",
            ]);
            assert_eq!(
                (code, body.as_str()),
                (200, "hello from netkit\n"),
                "{model}"
            );
        }
        let (code, body) = python_unix_get(&sock, "/api/time");
        assert_eq!(code, 200, "{model}: {body}");
        assert!(body.starts_with('{'), "{model}: /api/time: {body}");
        let (code, body) = python_unix_get(&sock, "/hello.txt");
        assert_eq!((code, body.as_str()), (200, "hello from netkit\n"));
        server.signal(libc::SIGTERM);
        let st = server.wait_exit(Duration::from_secs(10)).expect("stops");
        assert!(st.success(), "{model}");
        assert!(!sock.exists(), "{model}: socket file left behind");
    }
}

/// A stale socket file (its server died) is replaced; a socket a live
/// server answers on, a regular file, a missing directory, a path too long
/// for a socket and an empty path are refused, each in one line, and the
/// regular file is left untouched.
#[test]
fn unix_socket_paths_stale_live_and_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let sock = socket_path(&dir, "stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let bind = format!("unix:{}", sock.display());
    let server = Running(Server::start(&["http", "--bind", &bind]));
    let (code, _) = curl(&["--unix-socket", sock.to_str().unwrap(), "http://x/api/time"]);
    assert_eq!(code, 200);

    let (st, err) = run_netkit(&["http", "--bind", &bind]);
    one_line_error(st, &err, "is already in use (a server answers there)");
    let (st, err) = run_netkit(&["echo", "serve", "--bind", &bind]);
    one_line_error(st, &err, "is already in use");
    drop(server);

    let file = socket_path(&dir, "notes.txt");
    std::fs::write(&file, "keep me").unwrap();
    let (st, err) = run_netkit(&["http", "--bind", &format!("unix:{}", file.display())]);
    one_line_error(
        st,
        &err,
        "path exists and is not a socket; refusing to replace it",
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");

    let missing = dir.path().join("no/such/dir/http.sock");
    let (st, err) = run_netkit(&["http", "--bind", &format!("unix:{}", missing.display())]);
    one_line_error(st, &err, "does not exist");
    assert!(err.contains(&dir.path().join("no/such/dir").display().to_string()));

    let long = dir.path().join("x".repeat(120));
    let (st, err) = run_netkit(&["http", "--bind", &format!("unix:{}", long.display())]);
    one_line_error(st, &err, "a unix socket path takes at most 107");

    let (st, err) = run_netkit(&["http", "--bind", "unix:"]);
    one_line_error(st, &err, "--bind unix: needs a path");
}

/// The other stream servers on a Unix socket: echo (sessions and the
/// blocking handler, over fork and epoll), the file server; FTP and the
/// UDP servers, which cannot, say so.
#[test]
fn echo_and_files_on_unix_sockets_ftp_and_udp_refuse() {
    let dir = tempfile::tempdir().unwrap();
    for (model, handler) in [
        ("epoll", "session"),
        ("fork", "blocking"),
        ("uring", "session"),
    ] {
        let sock = socket_path(&dir, &format!("echo-{model}.sock"));
        let bind = format!("unix:{}", sock.display());
        let mut server = Running(Server::start(&[
            "echo",
            "serve",
            "--bind",
            &bind,
            "--model",
            model,
            "--handler",
            handler,
        ]));
        let data = payload(200_000, 3);
        assert_eq!(echo_stream(&server.addr, &data), data, "{model}");
        server.signal(libc::SIGTERM);
        assert!(server.wait_exit(Duration::from_secs(10)).is_some());
        assert!(!sock.exists(), "{model}");
    }

    let root = site();
    let sock = socket_path(&dir, "files.sock");
    let bind = format!("unix:{}", sock.display());
    let server = Running(Server::start(&[
        "files",
        "serve",
        root.path().to_str().unwrap(),
        "--bind",
        &bind,
    ]));
    // The file protocol by hand: a frame `L` (4-byte length, then the
    // command) is answered by a frame `OK\n` and the listing.
    let mut c = Client::connect(&server.addr);
    c.set_read_timeout(Some(Duration::from_secs(5)));
    c.write_all(b"\0\0\0\x01L").unwrap();
    let mut len = [0u8; 4];
    c.read_exact(&mut len).unwrap();
    let mut listing = vec![0u8; u32::from_be_bytes(len) as usize];
    c.read_exact(&mut listing).unwrap();
    let listing = String::from_utf8_lossy(&listing);
    assert!(
        listing.starts_with("OK\n") && listing.contains("hello.txt\t18\t"),
        "{listing}"
    );
    drop(server);

    let ftp_sock = socket_path(&dir, "ftp.sock");
    let (st, err) = run_netkit(&[
        "ftp",
        "serve",
        "--bind",
        &format!("unix:{}", ftp_sock.display()),
    ]);
    one_line_error(st, &err, "ftp needs TCP");
    assert!(!ftp_sock.exists());
    let (st, err) = run_netkit(&["chat", "serve", "--bind", "unix:/tmp/chat.sock"]);
    one_line_error(st, &err, "serves UDP, and unix: is for stream sockets");
    let (st, err) = run_netkit(&["echo", "serve", "--udp", "--bind", "unix:/tmp/e.sock"]);
    one_line_error(st, &err, "serves UDP, and unix: is for stream sockets");
}

// ---- IPv6 ----

/// `--bind ::` is one socket for both families: curl -4 to 127.0.0.1 and
/// curl -6 to ::1 both reach it, on the models with SO_REUSEPORT siblings
/// (each sibling dual-stack too) and the others.
#[test]
fn ipv6_wildcard_is_dual_stack() {
    let root = site();
    for model in ["epoll", "uring", "thread", "async", "prefork"] {
        let mut args = vec![
            "http",
            root.path().to_str().unwrap(),
            "--bind",
            "::",
            "-p",
            "0",
        ];
        args.extend(model_args(model));
        let server = Running(Server::start(&args));
        let port = server.tcp().port();
        assert!(server.tcp().ip().is_unspecified() && server.tcp().is_ipv6());
        for _ in 0..6 {
            let (code, body) = curl(&["-4", &format!("http://127.0.0.1:{port}/hello.txt")]);
            assert_eq!(code, 200, "{model} over IPv4: {body}");
            let (code, body) = curl(&["-6", &format!("http://[::1]:{port}/hello.txt")]);
            assert_eq!(code, 200, "{model} over IPv6: {body}");
        }
    }
}

/// `--bind [::1]` (brackets accepted) listens on IPv6 loopback only.
#[test]
fn bracketed_ipv6_loopback() {
    let server = Running(Server::start(&["http", "--bind", "[::1]", "-p", "0"]));
    let addr = server.tcp();
    assert_eq!(addr.ip().to_string(), "::1");
    assert!(
        server
            .log()
            .contains(&format!("at http://[::1]:{}/", addr.port())),
        "{}",
        server.log()
    );
    let (code, _) = curl(&["-6", &format!("http://[::1]:{}/api/time", addr.port())]);
    assert_eq!(code, 200);
    assert!(TcpStream::connect(("127.0.0.1", addr.port())).is_err());
}

/// UDP on `::` answers both families too (echo; the chat room binds the same way).
#[test]
fn ipv6_wildcard_udp_is_dual_stack() {
    for model in ["epoll", "thread"] {
        let server = Running(Server::start(&[
            "echo", "serve", "--udp", "--bind", "::", "-p", "0", "-m", model,
        ]));
        let port = server.tcp().port();
        for (local, to) in [
            ("127.0.0.1:0", format!("127.0.0.1:{port}")),
            ("[::1]:0", format!("[::1]:{port}")),
        ] {
            let c = UdpSocket::bind(local).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            c.send_to(b"both", &to).unwrap();
            let mut buf = [0u8; 16];
            let (n, _) = c.recv_from(&mut buf).expect("echo");
            assert_eq!(&buf[..n], b"both", "{model} via {to}");
        }
    }
}
