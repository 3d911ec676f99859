//! Shared helpers for the integration tests: start the real `netkit` binary,
//! find the address it printed, and talk to it over real sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_netkit")
}

/// A port on 127.0.0.1 that nothing listens on now (the kernel's pick,
/// released for the test to use).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// How long a test waits for something that should happen at once.
pub const WAIT: Duration = Duration::from_secs(3);

/// Where a test server listens.
#[derive(Debug, Clone)]
pub enum Addr {
    Tcp(SocketAddr),
    Udp(SocketAddr),
    Unix(PathBuf),
}

/// A running `netkit` server process, killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: Addr,
    /// Everything the server printed on stderr so far.
    pub log: Arc<Mutex<String>>,
    /// The thread that copies stderr into `log`; finished once stderr closed.
    reader: Option<std::thread::JoinHandle<()>>,
    /// The server's stdin, when started with [`Server::start_with_console`].
    pub console: Option<ChildStdin>,
}

impl Server {
    /// Runs `netkit <args>` and waits for its "listening on" line.
    pub fn start(args: &[&str]) -> Server {
        Server::spawn(args, false, &[])
    }

    /// Like [`Server::start`], with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::spawn(args, false, env)
    }

    /// Like [`Server::start`], with the server's stdin kept for [`Server::type_line`].
    pub fn start_with_console(args: &[&str]) -> Server {
        Server::spawn(args, true, &[])
    }

    /// Like [`Server::start`], with at most `nofile` descriptors (soft and
    /// hard limit, so the server cannot raise it).
    pub fn start_with_fd_limit(args: &[&str], nofile: u32) -> Server {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(bin())
            .args(args);
        Server::spawn_command(cmd, false)
    }

    /// Runs `cmd` (which execs `netkit` in the end: a wrapper that passes it
    /// a socket, say) and waits for its "listening on" line.
    pub fn start_command(cmd: Command) -> Server {
        Server::spawn_command(cmd, false)
    }

    fn spawn(args: &[&str], console: bool, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(bin());
        cmd.args(args).envs(env.iter().copied());
        Server::spawn_command(cmd, console)
    }

    fn spawn_command(mut cmd: Command, console: bool) -> Server {
        let mut child = cmd
            .stdin(if console {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netkit");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                {
                    let mut l = log2.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
                if let Some(pos) = line.find("listening on ") {
                    let rest = &line[pos + "listening on ".len()..];
                    let url = rest.split_whitespace().next().unwrap_or("").to_string();
                    if let Some(t) = tx.take() {
                        let _ = t.send(url);
                    }
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start; log:\n{}", log.lock().unwrap());
            }
        };
        let addr = if let Some(a) = url.strip_prefix("tcp://") {
            Addr::Tcp(a.parse().expect("tcp addr"))
        } else if let Some(a) = url.strip_prefix("udp://") {
            Addr::Udp(a.parse().expect("udp addr"))
        } else if let Some(p) = url.strip_prefix("unix://") {
            Addr::Unix(PathBuf::from(p))
        } else {
            panic!("unexpected listening line: {url}")
        };
        let console = child.stdin.take();
        Server {
            child,
            addr,
            log,
            reader: Some(reader),
            console,
        }
    }

    /// Types a line on the server's console (its stdin).
    pub fn type_line(&mut self, line: &str) {
        let c = self.console.as_mut().expect("started with a console");
        writeln!(c, "{line}").expect("write to console");
        c.flush().expect("flush console");
    }

    /// Waits (up to [`WAIT`]) until the log contains `needle`.
    pub fn wait_log(&self, needle: &str) -> bool {
        eventually(WAIT, || self.log().contains(needle))
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn tcp(&self) -> SocketAddr {
        match &self.addr {
            Addr::Tcp(a) | Addr::Udp(a) => *a,
            Addr::Unix(_) => panic!("not an inet server"),
        }
    }

    /// Sends a signal to the server process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill on our own child's pid.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// Waits up to `limit` for the process to exit, and then (within the
    /// same limit) for its last lines to reach the log: the process may exit
    /// before the reader thread has read what it wrote last.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(st)) = self.child.try_wait() {
                while Instant::now() < until
                    && self.reader.as_ref().is_some_and(|r| !r.is_finished())
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server that is stopped with SIGTERM when dropped, so that prefork workers
/// and forked children exit with it (a killed master would leave them behind).
pub struct Running(pub Server);

impl std::ops::Deref for Running {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Server {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.signal(libc::SIGTERM);
        let _ = self.0.wait_exit(Duration::from_secs(10));
    }
}

/// A connected client stream of either transport.
pub enum Client {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Client {
    pub fn connect(addr: &Addr) -> Client {
        match addr {
            Addr::Tcp(a) => Client::Tcp(TcpStream::connect(a).expect("connect tcp")),
            Addr::Unix(p) => Client::Unix(UnixStream::connect(p).expect("connect unix")),
            Addr::Udp(_) => panic!("udp has no stream"),
        }
    }
    pub fn try_clone(&self) -> Client {
        match self {
            Client::Tcp(s) => Client::Tcp(s.try_clone().unwrap()),
            Client::Unix(s) => Client::Unix(s.try_clone().unwrap()),
        }
    }
    pub fn set_read_timeout(&self, t: Option<Duration>) {
        match self {
            Client::Tcp(s) => s.set_read_timeout(t).unwrap(),
            Client::Unix(s) => s.set_read_timeout(t).unwrap(),
        }
    }
    pub fn shutdown_write(&self) {
        let _ = match self {
            Client::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Client::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        };
    }
}

impl Read for Client {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Client::Tcp(s) => s.read(buf),
            Client::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Client {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Client::Tcp(s) => s.write(buf),
            Client::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Deterministic pseudo-random bytes (xorshift), different per seed.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Sends `data` while concurrently reading the echo, then half-closes and
/// returns everything received up to EOF.
pub fn echo_stream(addr: &Addr, data: &[u8]) -> Vec<u8> {
    let client = Client::connect(addr);
    client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = client.try_clone();
    let mut reader = client;
    std::thread::scope(|s| {
        s.spawn(move || {
            // Uneven write sizes so the server sees partial reads.
            let mut off = 0;
            let mut step = 1000;
            while off < data.len() {
                let end = (off + step).min(data.len());
                writer.write_all(&data[off..end]).expect("write");
                off = end;
                step = step * 3 % 200_003 + 17;
            }
            writer.shutdown_write();
        });
        let mut got = Vec::with_capacity(data.len());
        reader.read_to_end(&mut got).expect("read echo");
        got
    })
}

/// Children of `pid` from the process table, with their state letter.
pub fn children_of(pid: i32) -> Vec<(i32, char)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: i32 = rest.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if ppid == pid {
            out.push((p, state));
        }
    }
    out
}

/// Raises this process's open-file soft limit to the hard limit.
pub fn raise_nofile() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid rlimit out-pointer.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur = rl.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
    }
    rl.rlim_cur
}

/// Polls `f` until it returns true or `limit` passes.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A process's CPU time (user + system) in clock ticks, from /proc.
pub fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

/// A small tmpfs mounted in a fresh temporary directory (for disk-full tests),
/// unmounted on drop. `None` where mounting is not allowed (not root).
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "1m").
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs { dir })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Makes `NAME.crt` and `NAME.key` in `dir` with openssl: a self-signed leaf
/// certificate for localhost and 127.0.0.1 with a key of `kind` (`ec` for
/// P-256, `rsa`, `ed25519`). A leaf, not a CA: rustls (webpki) refuses a CA
/// certificate as a server's own, as it should.
pub fn openssl_cert(dir: &std::path::Path, name: &str, kind: &str) -> (PathBuf, PathBuf) {
    let crt = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let key_args: &[&str] = match kind {
        "ec" => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "rsa" => &["-newkey", "rsa:2048"],
        "ed25519" => &["-newkey", "ed25519"],
        _ => panic!("unknown key kind {kind}"),
    };
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(key_args)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (crt, key)
}
