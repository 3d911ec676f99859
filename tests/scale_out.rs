//! Stateless HTTP instances behind a load balancer (docs/scale-out.md):
//! nginx (the Debian package nginx-light, run as a non-daemon with its own
//! prefix and configuration in a temporary directory) in front of two
//! `netkit http` instances on 127.0.0.1; one is killed with SIGKILL
//! halfway through 200 requests, and every request still succeeds.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use util::*;

/// The nginx binary of the Debian package.
const NGINX: &str = "/usr/sbin/nginx";

/// `nginx -p DIR -c DIR/nginx.conf` in the foreground; killed on drop.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx balancing `upstreams`, with passive health checks: an
    /// instance that fails once (refused connection, timeout) is left out
    /// for `fail_timeout`, and the request is retried on the other.
    fn start(upstreams: &[SocketAddr]) -> Nginx {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let servers: String = upstreams
            .iter()
            .map(|a| format!("        server {a} max_fails=1 fail_timeout=30s;\n"))
            .collect();
        let d = dir.path().display();
        let conf = format!(
            "worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream netkit {{
{servers}        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://netkit;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 1s;
            proxy_read_timeout 5s;
        }}
    }}
}}
"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).expect("write nginx.conf");
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .arg("-e")
            .arg("stderr")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx runs (.ci/run installs the Debian package nginx-light)");
        let n = Nginx {
            child,
            port,
            _dir: dir,
        };
        assert!(
            eventually(Duration::from_secs(10), || TcpStream::connect((
                "127.0.0.1",
                port
            ))
            .is_ok()),
            "nginx did not listen on {port}"
        );
        n
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its worker and exits (SIGKILL would
        // leave the worker behind).
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on a fresh connection: the status code and the body.
fn get(port: u16, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    Ok((status, raw[head_end + 4..].to_vec()))
}

/// Two instances serving the same directory behind nginx; after 100 of 200
/// requests one instance is killed, and all 200 succeed with the file.
#[test]
fn requests_keep_succeeding_when_an_instance_dies() {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::write(root.path().join("hello.txt"), "hello from netkit\n").unwrap();
    let dir = root.path().to_str().unwrap();
    let one = Server::start(&["http", dir, "--port", "0", "--model", "epoll"]);
    let mut two = Server::start(&["http", dir, "--port", "0", "--model", "thread"]);
    let nginx = Nginx::start(&[one.tcp(), two.tcp()]);

    let mut ok = 0;
    let started = Instant::now();
    for i in 0..200 {
        if i == 100 {
            // Both took a share of the first half (round robin).
            assert!(one.log().contains("GET /hello.txt"), "{}", one.log());
            assert!(two.log().contains("GET /hello.txt"), "{}", two.log());
            two.signal(libc::SIGKILL);
            let _ = two.wait_exit(WAIT);
        }
        match get(nginx.port, "/hello.txt") {
            Ok((200, body)) => {
                assert_eq!(body, b"hello from netkit\n");
                ok += 1;
            }
            Ok((status, body)) => {
                panic!("request {i}: {status} {}", String::from_utf8_lossy(&body))
            }
            Err(e) => panic!("request {i}: {e}"),
        }
    }
    assert_eq!(ok, 200);
    eprintln!("200 requests through nginx in {:?}", started.elapsed());
    // The survivor served the second half.
    let served = one.log().matches("GET /hello.txt").count();
    assert!(served >= 100, "the surviving instance served {served}");
}
