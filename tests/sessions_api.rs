//! The library API as a protocol author uses it: custom sessions served
//! in-process on every threaded model, with file regions (sendfile) and
//! partial input (requests split across reads).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use netkit::server::{
    self, Config, Endpoint, Listener, Model, Output, Peer, Service, Session, Shutdown,
};

/// A line protocol: `FILE\n` sends the shared file then `END\n`; any other line
/// is answered upper-cased. Only complete lines are consumed.
struct Lines {
    file: Arc<std::fs::File>,
    len: u64,
}

struct LinesSession {
    file: Arc<std::fs::File>,
    len: u64,
    partial: bool,
}

impl Service for Lines {
    type Session = LinesSession;
    fn session(&self, _peer: &Peer) -> LinesSession {
        LinesSession {
            file: Arc::clone(&self.file),
            len: self.len,
            partial: false,
        }
    }
}

impl Session for LinesSession {
    fn on_input(&mut self, input: &[u8], out: &mut Output) -> usize {
        let mut used = 0;
        while let Some(nl) = input[used..].iter().position(|&b| b == b'\n') {
            let line = &input[used..used + nl];
            if line == b"FILE" {
                out.send_file(Arc::clone(&self.file), 0, self.len);
                out.write(b"END\n");
            } else if line == b"BYE" {
                out.write(b"bye\n");
                out.close();
            } else {
                out.write(&line.to_ascii_uppercase());
                out.write(b"\n");
            }
            used += nl + 1;
        }
        self.partial = used < input.len();
        used
    }
    fn is_idle(&self) -> bool {
        !self.partial
    }
}

fn start(
    model: Model,
    edge: bool,
    service: Lines,
) -> (SocketAddr, Shutdown, std::thread::JoinHandle<()>) {
    let listener = Listener::bind(
        &Endpoint::Tcp("127.0.0.1:0".parse().unwrap()),
        model == Model::Epoll,
    )
    .unwrap();
    let addr = match listener.local_endpoint().unwrap() {
        Endpoint::Tcp(a) => a,
        _ => unreachable!(),
    };
    let config = Config {
        model,
        workers: Some(2),
        edge_triggered: edge,
        ..Config::default()
    };
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let h =
        std::thread::spawn(move || server::serve(listener, &config, service, stop).expect("serve"));
    (addr, shutdown, h)
}

fn file_of(len: usize) -> (Arc<std::fs::File>, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("netkit-sessions-{}-{n}", std::process::id()));
    std::fs::write(&path, &data).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    (Arc::new(f), data)
}

fn check_model(model: Model, edge: bool) {
    let (file, data) = file_of(5 << 20);
    let (addr, shutdown, handle) = start(
        model,
        edge,
        Lines {
            file,
            len: data.len() as u64,
        },
    );
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();

    // A request split into single bytes is answered once, whole.
    for b in b"hello\n" {
        c.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut line = [0u8; 6];
    c.read_exact(&mut line).unwrap();
    assert_eq!(&line, b"HELLO\n", "{model}");

    // A file region followed by bytes, in order, byte for byte.
    c.write_all(b"FILE\nabc\n").unwrap();
    let mut got = vec![0u8; data.len() + 4 + 4];
    c.read_exact(&mut got).unwrap();
    assert!(got[..data.len()] == data[..], "{model}: file bytes differ");
    assert_eq!(&got[data.len()..], b"END\nABC\n", "{model}");

    // The session asks to close: the client sees the reply then EOF.
    c.write_all(b"BYE\n").unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"bye\n", "{model}");

    // A connection mid-request at shutdown is served until it completes.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    slow.write_all(b"par").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    shutdown.trigger();
    std::thread::sleep(Duration::from_millis(300));
    slow.write_all(b"tial\n").unwrap();
    let mut ans = Vec::new();
    let _ = slow.read_to_end(&mut ans);
    assert_eq!(
        ans, b"PARTIAL\n",
        "{model}: in-flight request finished during shutdown"
    );
    handle.join().unwrap();
}

#[test]
fn iterative() {
    check_model(Model::Iterative, false);
}
#[test]
fn thread() {
    check_model(Model::Thread, false);
}
#[test]
fn pool() {
    check_model(Model::Pool, false);
}
#[test]
fn select() {
    check_model(Model::Select, false);
}
#[test]
fn poll() {
    check_model(Model::Poll, false);
}
#[test]
fn epoll_level() {
    check_model(Model::Epoll, false);
}
#[test]
fn epoll_edge() {
    check_model(Model::Epoll, true);
}
#[test]
fn asynch() {
    check_model(Model::Async, false);
}

#[test]
fn stateful_datagram_services_are_refused_on_process_models() {
    for m in [Model::Fork, Model::Prefork] {
        let err = server::check_datagram(m, false).unwrap_err().to_string();
        assert!(err.contains("keeps state"), "{err}");
        assert!(server::check_datagram(m, true).is_ok());
    }
    for m in [
        Model::Iterative,
        Model::Thread,
        Model::Pool,
        Model::Select,
        Model::Poll,
        Model::Epoll,
        Model::Async,
    ] {
        assert!(server::check_datagram(m, false).is_ok());
    }
}

/// fork and prefork refuse to start in a multi-threaded process (this test
/// process is one): a clear error, no fork, nothing served.
#[test]
fn fork_models_refuse_a_multithreaded_process() {
    let _other = std::thread::spawn(|| std::thread::sleep(Duration::from_secs(2)));
    for model in [Model::Fork, Model::Prefork] {
        let listener =
            Listener::bind(&Endpoint::Tcp("127.0.0.1:0".parse().unwrap()), false).expect("bind");
        let config = Config {
            model,
            ..Config::default()
        };
        let file = Arc::new(tempfile::tempfile().expect("temp file"));
        let service = Lines { file, len: 0 };
        let err =
            server::serve(listener, &config, service, Shutdown::new()).expect_err("must refuse");
        let text = err.to_string();
        assert!(
            text.contains("must start while the process is single-threaded"),
            "{model}: {text}"
        );
    }
}
