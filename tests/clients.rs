//! The interactive clients on a real pseudo-terminal: `netkit echo client`
//! and `netkit files connect` edit lines and recall them (Up), end cleanly
//! on Ctrl-D and Ctrl-C, and end at once, in one line, when their server
//! closes the connection while they wait at the prompt; `netkit chat join`
//! leaves its prompt when the room closes and leaves quickly on Ctrl-C when
//! the server is gone.

#[path = "util/pty.rs"]
mod pty;
mod util;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use pty::Pty;
use util::{Server, bin, eventually};

const LIMIT: Duration = Duration::from_secs(10);
const UP: &[u8] = b"\x1b[A";
const LEFT: &[u8] = b"\x1b[D";

/// A line echo server in the test: it records every line it receives and
/// echoes it; a message on `close` makes it close the connection.
struct LineEcho {
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    close: mpsc::Sender<()>,
}

impl LineEcho {
    fn start() -> LineEcho {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (close, closing) = mpsc::channel::<()>();
        let seen = Arc::clone(&lines);
        std::thread::spawn(move || {
            let Ok((conn, _)) = listener.accept() else {
                return;
            };
            let mut writer = conn.try_clone().unwrap();
            let reader = conn.try_clone().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(reader).lines() {
                    let Ok(line) = line else { break };
                    seen.lock().unwrap().push(line.clone());
                    if writer.write_all(format!("{line}\n").as_bytes()).is_err() {
                        break;
                    }
                }
            });
            let _ = closing.recv();
            let _ = conn.shutdown(std::net::Shutdown::Both);
        });
        LineEcho { addr, lines, close }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn wait_lines(&self, n: usize) -> Vec<String> {
        assert!(
            eventually(LIMIT, || self.lines().len() >= n),
            "the server got {:?}, not {n} lines",
            self.lines()
        );
        self.lines()
    }
}

fn echo_client(server: &LineEcho) -> Pty {
    let addr = format!("127.0.0.1:{}", server.addr.port());
    Pty::spawn(bin(), &["echo", "client", &addr])
}

#[test]
fn echo_client_edits_lines_and_recalls_them() {
    let server = LineEcho::start();
    let mut t = echo_client(&server);
    t.expect("type ## (or Ctrl-D) to quit", LIMIT);
    t.expect("> ", LIMIT);

    t.send(b"hello\r");
    assert_eq!(server.wait_lines(1), ["hello"]);
    // Typed "wrld", three steps left, an "o" after the "w".
    let at = t.written();
    t.send(b"wrld");
    t.send(&[LEFT, LEFT, LEFT].concat());
    t.send(b"o\r");
    assert_eq!(server.wait_lines(2), ["hello", "world"]);
    t.expect_after(at, "world\r\n", LIMIT);
    // Up twice: the line before last, sent again as it was.
    t.send(&[UP, UP, b"\r"].concat());
    assert_eq!(server.wait_lines(3), ["hello", "world", "hello"]);
    assert!(!t.screen().contains("^[[A"), "{:?}", t.screen());

    // Ctrl-D on an empty line: the end, with success and no error.
    t.expect_empty_prompt(LIMIT);
    t.send(b"\x04");
    let st = t.wait_exit(LIMIT).expect("the client ends on Ctrl-D");
    assert!(st.success(), "{st:?}: {:?}", t.screen());
    assert!(!t.screen().contains("netkit"), "{:?}", t.screen());
    assert!(pty_cooked(&t));
}

#[test]
fn echo_client_ends_on_ctrl_c_and_on_the_end_line() {
    for (keys, what) in [
        (&b"\x03"[..], "Ctrl-C"),
        (b"half a line\x03", "Ctrl-C"),
        (b"##\r", "##"),
    ] {
        let server = LineEcho::start();
        let mut t = echo_client(&server);
        t.expect("> ", LIMIT);
        t.send(keys);
        let st = t
            .wait_exit(LIMIT)
            .unwrap_or_else(|| panic!("the client ends on {what}: {:?}", t.screen()));
        assert!(st.success(), "{what}: {st:?} {:?}", t.screen());
        assert!(!t.screen().contains("netkit"), "{what}: {:?}", t.screen());
        assert!(server.lines().is_empty(), "{what}: nothing is sent");
    }
}

/// True when the pty is back in line mode with echo (the client put the
/// terminal back as it found it).
fn pty_cooked(t: &Pty) -> bool {
    t.termios_flags() & (libc::ICANON | libc::ECHO) == (libc::ICANON | libc::ECHO)
}

#[test]
fn echo_client_ends_at_once_when_the_server_closes() {
    // Closed while the client waits at its prompt, nothing typed.
    let server = LineEcho::start();
    let mut t = echo_client(&server);
    t.expect("> ", LIMIT);
    t.send(b"half typed");
    std::thread::sleep(Duration::from_millis(200));
    let closed_at = Instant::now();
    server.close.send(()).unwrap();
    let st = t
        .wait_exit(LIMIT)
        .unwrap_or_else(|| panic!("the client still waits: {:?}", t.screen()));
    assert!(
        closed_at.elapsed() < Duration::from_secs(2),
        "{:?}",
        closed_at.elapsed()
    );
    assert_eq!(st.code(), Some(1), "{:?}", t.screen());
    let screen = t.screen();
    assert_eq!(
        screen
            .matches("netkit echo: the server closed the connection")
            .count(),
        1,
        "{screen:?}"
    );
    assert!(pty_cooked(&t), "the terminal is put back");

    // Closed right after an echo: the next prompt is not waited at either.
    let server = LineEcho::start();
    let mut t = echo_client(&server);
    t.expect("> ", LIMIT);
    t.send(b"last\r");
    server.wait_lines(1);
    server.close.send(()).unwrap();
    let st = t.wait_exit(LIMIT).expect("the client ends");
    assert_eq!(st.code(), Some(1), "{:?}", t.screen());
    assert!(
        t.screen().contains("the server closed the connection"),
        "{:?}",
        t.screen()
    );
}

fn files_server(root: &std::path::Path) -> Server {
    Server::start(&[
        "files",
        "serve",
        root.to_str().unwrap(),
        "--port",
        "0",
        "--shutdown-timeout",
        "1s",
    ])
}

fn files_client(server: &Server) -> Pty {
    Pty::spawn(bin(), &["files", "connect", &server.tcp().to_string()])
}

#[test]
fn files_client_recalls_choices_and_ends_on_ctrl_d_and_ctrl_c() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("notes.txt"), b"some notes").unwrap();
    let server = files_server(root.path());
    let mut t = files_client(&server);
    t.expect("1) list", LIMIT);
    t.expect("> ", LIMIT);
    t.send(b"1\r");
    t.expect("1 file(s)", LIMIT);
    // Up: the same choice again.
    let at = t.written();
    t.send(&[UP, b"\r"].concat());
    t.expect_after(at, "1 file(s)", LIMIT);
    // Edited: "get" typed as "gt", the cursor moved back to add the "e".
    let dir = tempfile::tempdir().unwrap();
    drop(t);
    let mut t = Pty::spawn(
        bin(),
        &[
            "files",
            "connect",
            &server.tcp().to_string(),
            "--dir",
            dir.path().to_str().unwrap(),
        ],
    );
    t.expect("> ", LIMIT);
    t.send(b"gt notes.txt");
    t.send(&[&b"\x01"[..], b"\x1b[C", b"e\r"].concat()); // Ctrl-A, Right, "e"
    t.expect("saved ", LIMIT);
    assert_eq!(
        std::fs::read(dir.path().join("notes.txt")).unwrap(),
        b"some notes"
    );
    t.expect_empty_prompt(LIMIT);
    t.send(b"\x04");
    let st = t.wait_exit(LIMIT).expect("the client ends on Ctrl-D");
    assert!(st.success(), "{st:?}: {:?}", t.screen());
    assert!(t.screen().contains("bye"), "{:?}", t.screen());
    assert!(!t.screen().contains("netkit files:"), "{:?}", t.screen());

    let mut t = files_client(&server);
    t.expect("> ", LIMIT);
    t.send(b"\x03");
    let st = t.wait_exit(LIMIT).expect("the client ends on Ctrl-C");
    assert!(st.success(), "{st:?}: {:?}", t.screen());
    assert!(t.screen().contains("bye"), "{:?}", t.screen());
    assert!(pty_cooked(&t));
}

#[test]
fn files_client_ends_at_once_when_the_server_closes() {
    let root = tempfile::tempdir().unwrap();
    let mut server = files_server(root.path());
    let mut t = files_client(&server);
    t.expect("> ", LIMIT);
    t.send(b"1\r");
    t.expect("(no files)", LIMIT);
    std::thread::sleep(Duration::from_millis(100));
    let stopped_at = Instant::now();
    server.signal(libc::SIGTERM);
    let st = t
        .wait_exit(LIMIT)
        .unwrap_or_else(|| panic!("the client still waits: {:?}", t.screen()));
    assert!(
        stopped_at.elapsed() < Duration::from_secs(3),
        "{:?}",
        stopped_at.elapsed()
    );
    assert_eq!(st.code(), Some(4), "{:?}", t.screen());
    assert_eq!(
        t.screen()
            .matches("netkit files: the server closed the connection")
            .count(),
        1,
        "{:?}",
        t.screen()
    );
    assert!(pty_cooked(&t), "the terminal is put back");
    assert!(server.wait_exit(LIMIT).is_some());
}

fn chat_member(server: &Server, name: &str) -> Pty {
    let t = Pty::spawn(
        bin(),
        &["chat", "join", &server.tcp().to_string(), "--name", name],
    );
    t.expect(&format!("joined as {name}"), LIMIT);
    t.expect(&format!("{name}> "), LIMIT);
    t
}

#[test]
fn chat_client_leaves_its_prompt_when_the_room_closes() {
    let mut server = Server::start(&["chat", "serve", "--port", "0"]);
    let mut t = chat_member(&server, "alice");
    let stopped_at = Instant::now();
    server.signal(libc::SIGTERM);
    let st = t
        .wait_exit(LIMIT)
        .unwrap_or_else(|| panic!("the client keeps its prompt: {:?}", t.screen()));
    let took = stopped_at.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(st.success(), "{st:?}: {:?}", t.screen());
    let screen = t.screen();
    assert!(
        screen.contains("the room is closing; goodbye"),
        "{screen:?}"
    );
    assert!(screen.contains("the room closed"), "{screen:?}");
    assert!(pty_cooked(&t), "raw mode is undone");
    assert!(server.wait_exit(LIMIT).is_some());
}

#[test]
fn chat_client_leaves_quickly_on_ctrl_c() {
    // The server answers the leave with EXIT.
    let server = Server::start(&["chat", "serve", "--port", "0"]);
    let mut t = chat_member(&server, "bob");
    let pressed = Instant::now();
    t.send(b"\x03");
    let st = t.wait_exit(LIMIT).expect("Ctrl-C leaves");
    let took = pressed.elapsed();
    assert!(st.success(), "{st:?}: {:?}", t.screen());
    assert!(t.screen().contains("left the room"), "{:?}", t.screen());
    assert!(took < Duration::from_millis(700), "{took:?}");

    // The server is gone without a word (killed): nobody will answer.
    let mut server = Server::start(&["chat", "serve", "--port", "0"]);
    let mut t = chat_member(&server, "carol");
    server.signal(libc::SIGKILL);
    assert!(server.wait_exit(LIMIT).is_some());
    let pressed = Instant::now();
    t.send(b"\x03");
    let st = t
        .wait_exit(LIMIT)
        .unwrap_or_else(|| panic!("Ctrl-C does not leave: {:?}", t.screen()));
    let took = pressed.elapsed();
    assert!(st.success(), "{st:?}: {:?}", t.screen());
    assert!(
        took < Duration::from_millis(800),
        "{took:?}: {:?}",
        t.screen()
    );
    assert!(pty_cooked(&t), "raw mode is undone");
}
