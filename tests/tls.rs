//! HTTPS with real clients: curl, openssl s_client, Python's ssl and
//! http.client, on every model; certificates made by openssl; start-up
//! errors; plain text, garbage and stalled handshakes; SIGHUP reloads.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use util::*;

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

/// A directory with a site and certificates, removed on drop.
struct Dir {
    path: PathBuf,
}

impl Dir {
    fn new(tag: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("netkit-tls-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("site/docs")).unwrap();
        std::fs::write(path.join("site/hello.txt"), "hello tls\n").unwrap();
        std::fs::write(path.join("site/docs/a.txt"), "aaa").unwrap();
        std::fs::write(path.join("site/big.bin"), payload(8 << 20, 7)).unwrap();
        Dir { path }
    }
    fn site(&self) -> String {
        self.path.join("site").display().to_string()
    }
    fn file(&self, name: &str) -> String {
        self.path.join(name).display().to_string()
    }
    /// Makes `NAME.crt` and `NAME.key` (see [`openssl_cert`]).
    fn cert(&self, name: &str, kind: &str) -> (String, String) {
        let (crt, key) = openssl_cert(&self.path, name, kind);
        (crt.display().to_string(), key.display().to_string())
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn https(dir: &Dir, model: &str, crt: &str, key: &str, extra: &[&str]) -> Server {
    let site = dir.site();
    let mut args = vec![
        "http",
        &site,
        "--port",
        "0",
        "--model",
        model,
        "--tls-cert",
        crt,
        "--tls-key",
        key,
    ];
    // Quiet, unless the test reads the log (then without the access log).
    if !extra.contains(&"--no-access-log") {
        args.push("--quiet");
    }
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// curl trusting `ca`: each URL's body followed by `STATUS CONNECTS;`.
fn curl(ca: &str, urls: &[String]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert", ca])
        .args(urls)
        .args(["-w", "%{http_code} %{num_connects};"])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Three requests on one keep-alive connection with http.client; prints
/// the statuses, the bodies' lengths and whether the socket stayed the same.
const PY_KEEPALIVE: &str = r#"
import http.client, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["http/1.1"])
c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=20)
seen = []
sock = None
for path in ["/hello.txt", "/docs/a.txt", "/big.bin"]:
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    if sock is None:
        sock = c.sock
    seen.append(f"{r.status}:{len(body)}")
print(" ".join(seen), "same" if c.sock is sock else "reconnected", c.sock.version(), c.sock.selected_alpn_protocol())
"#;

fn openssl_protocol(port: u16, version: &str) -> String {
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            version,
        ])
        .args(["-servername", "localhost", "-alpn", "http/1.1", "-ign_eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_client");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn https_on_every_model_with_curl_python_and_openssl() {
    let dir = Dir::new("models");
    let (crt, key) = dir.cert("ec", "ec");
    let big = std::fs::read(dir.path.join("site/big.bin")).unwrap();
    for model in MODELS {
        let s = https(&dir, model, &crt, &key, &[]);
        let port = s.tcp().port();
        let base = format!("https://localhost:{port}");
        // Two requests, one connection (keep-alive through TLS).
        let got = curl(
            &crt,
            &[format!("{base}/hello.txt"), format!("{base}/docs/a.txt")],
        );
        assert_eq!(got, "hello tls\n200 1;aaa200 0;", "{model}");
        // 8 MiB through TLS, byte for byte.
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "30", "--cacert", &crt])
            .arg(format!("{base}/big.bin"))
            .output()
            .unwrap();
        assert!(
            out.stdout == big,
            "{model}: big file differs ({} bytes)",
            out.stdout.len()
        );
        // Python keep-alive, TLS 1.3 and ALPN http/1.1.
        let py = python(PY_KEEPALIVE, &[&port.to_string(), &crt]);
        assert_eq!(
            py.trim(),
            format!("200:10 200:3 200:{} same TLSv1.3 http/1.1", 8 << 20),
            "{model}"
        );
        // TLS 1.2 and 1.3 with openssl.
        for (flag, name) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
            let text = openssl_protocol(port, flag);
            assert!(
                text.contains(&format!("New, {name}")),
                "{model} {flag}: {text}"
            );
            assert!(text.contains("hello tls"), "{model} {flag}: {text}");
            assert!(
                text.contains("ALPN protocol: http/1.1"),
                "{model} {flag}: {text}"
            );
        }
    }
}

#[test]
fn rsa_ecdsa_and_ed25519_keys_serve() {
    let dir = Dir::new("keys");
    for kind in ["rsa", "ec", "ed25519"] {
        let (crt, key) = dir.cert(kind, kind);
        let s = https(&dir, "epoll", &crt, &key, &[]);
        let got = curl(
            &crt,
            &[format!("https://localhost:{}/hello.txt", s.tcp().port())],
        );
        assert_eq!(got, "hello tls\n200 1;", "{kind}");
    }
}

#[test]
fn self_signed_certificate_is_printed_written_and_trusted() {
    let dir = Dir::new("selfsigned");
    let out_pem = dir.file("made.pem");
    let site = dir.site();
    let s = Server::start(&[
        "http",
        &site,
        "--port",
        "0",
        "--quiet",
        "--tls-self-signed",
        "--tls-cert-out",
        &out_pem,
    ]);
    let log = s.log();
    assert!(log.contains("at https://127.0.0.1:"), "{log}");
    let printed = log
        .lines()
        .find_map(|l| l.split("SHA-256 ").nth(1))
        .expect("fingerprint line")
        .trim()
        .to_string();
    let x509 = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in", &out_pem])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&x509.stdout);
    assert!(
        text.contains(&printed),
        "openssl says {text}, netkit printed {printed}"
    );
    for host in ["localhost", "127.0.0.1"] {
        let got = curl(
            &out_pem,
            &[format!("https://{host}:{}/hello.txt", s.tcp().port())],
        );
        assert_eq!(got, "hello tls\n200 1;", "{host}");
    }
}

#[test]
fn plain_http_to_the_https_port_gets_a_400_that_says_so() {
    let dir = Dir::new("plain");
    let (crt, key) = dir.cert("ec", "ec");
    for model in ["epoll", "thread"] {
        let s = https(&dir, model, &crt, &key, &[]);
        let mut c = TcpStream::connect(s.tcp()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap(); // the server closes
        assert!(reply.starts_with("HTTP/1.1 400 "), "{model}: {reply}");
        assert!(
            reply.contains("plain HTTP request was sent to HTTPS port"),
            "{model}"
        );
        assert!(!reply.contains("hello tls"), "{model}");
    }
}

#[test]
fn garbage_truncated_and_stalled_handshakes_are_closed_and_others_still_served() {
    let dir = Dir::new("garbage");
    let (crt, key) = dir.cert("ec", "ec");
    for model in ["epoll", "thread", "async"] {
        let s = https(&dir, model, &crt, &key, &["--header-timeout", "1s"]);
        // A handshake record full of garbage: an alert, then the close.
        let mut c = TcpStream::connect(s.tcp()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut junk = vec![0x16, 0x03, 0x01, 0x00, 0x40];
        junk.extend(payload(64, 3));
        c.write_all(&junk).unwrap();
        let mut back = Vec::new();
        let _ = c.read_to_end(&mut back);
        assert!(back.len() < 64, "{model}: {back:?}");
        if let Some(&first) = back.first() {
            assert_eq!(first, 0x15, "{model}: a TLS alert record, if anything");
        }
        // A ClientHello cut short, then silence: closed once the header
        // timeout (which also bounds the handshake) is over.
        let mut stalled = TcpStream::connect(s.tcp()).unwrap();
        stalled
            .set_read_timeout(Some(Duration::from_secs(8)))
            .unwrap();
        stalled
            .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            .unwrap();
        let mut rest = Vec::new();
        let r = stalled.read_to_end(&mut rest);
        assert!(
            r.is_ok(),
            "{model}: the stalled handshake was not closed: {r:?}"
        );
        // A client that hangs up mid-handshake harms nobody.
        let mut gone = TcpStream::connect(s.tcp()).unwrap();
        gone.write_all(&[0x16, 0x03, 0x01]).unwrap();
        drop(gone);
        let got = curl(
            &crt,
            &[format!("https://localhost:{}/hello.txt", s.tcp().port())],
        );
        assert_eq!(got, "hello tls\n200 1;", "{model}");
    }
}

#[test]
fn bad_certificates_and_keys_stop_start_up_with_one_line() {
    let dir = Dir::new("bad");
    let (crt, key) = dir.cert("a", "ec");
    let (_crt2, key2) = dir.cert("b", "ec");
    std::fs::write(dir.file("junk.pem"), "not a pem file\n").unwrap();
    let missing = dir.file("missing.pem");
    let junk = dir.file("junk.pem");
    let site = dir.site();
    let cases: [(&str, &str, &str); 4] = [
        (&crt, &key2, "does not match the certificate"),
        (&missing, &key, "cannot read"),
        (&junk, &key, "no certificate"),
        (&crt, &junk, "no private key"),
    ];
    for (c, k, says) in cases {
        let out = Command::new(bin())
            .args([
                "http",
                &site,
                "--port",
                "0",
                "--tls-cert",
                c,
                "--tls-key",
                k,
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{c} {k}: {err}");
        assert!(err.contains(says), "{c} {k}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!err.contains("listening"), "{err}");
    }
    // Half the pair is a usage error.
    let out = Command::new(bin())
        .args(["http", &site, "--port", "0", "--tls-cert", &crt])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Keeps one connection, reports the certificate it saw, waits for a line
/// on stdin, then uses the old connection again and opens a new one.
const PY_RELOAD: &str = r#"
import hashlib, http.client, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
def fp(c):
    return hashlib.sha256(c.sock.getpeercert(binary_form=True)).hexdigest()
old = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=20)
old.request("GET", "/hello.txt"); old.getresponse().read()
print(fp(old), flush=True)
sys.stdin.readline()
sock = old.sock
old.request("GET", "/docs/a.txt"); r = old.getresponse(); body = r.read()
print(r.status, body.decode(), "same" if old.sock is sock else "reconnected", flush=True)
new = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=20)
new.request("GET", "/hello.txt"); new.getresponse().read()
print(fp(new), flush=True)
"#;

fn sha256_of_cert(crt: &str) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in", crt])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split('=')
        .nth(1)
        .unwrap()
        .trim()
        .replace(':', "")
        .to_lowercase()
}

#[test]
fn sighup_reloads_the_certificate_without_dropping_connections() {
    let dir = Dir::new("reload");
    let (a_crt, a_key) = dir.cert("a", "ec");
    let (b_crt, b_key) = dir.cert("b", "ec");
    let both = dir.file("both.pem");
    let mut pem = std::fs::read(&a_crt).unwrap();
    pem.extend(std::fs::read(&b_crt).unwrap());
    std::fs::write(&both, pem).unwrap();
    let (live_crt, live_key) = (dir.file("live.crt"), dir.file("live.key"));
    for model in ["epoll", "prefork", "thread"] {
        std::fs::copy(&a_crt, &live_crt).unwrap();
        std::fs::copy(&a_key, &live_key).unwrap();
        let s = https(&dir, model, &live_crt, &live_key, &["--no-access-log"]);
        let mut py = Command::new("python3")
            .arg("-c")
            .arg(PY_RELOAD)
            .args([&s.tcp().port().to_string(), &both])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(py.stdout.take().unwrap());
        let mut line = String::new();
        use std::io::BufRead;
        stdout.read_line(&mut line).unwrap();
        assert_eq!(
            line.trim(),
            sha256_of_cert(&a_crt),
            "{model}: first certificate"
        );
        // Swap the files, then ask for a reload.
        std::fs::copy(&b_crt, &live_crt).unwrap();
        std::fs::copy(&b_key, &live_key).unwrap();
        s.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(300));
        writeln!(py.stdin.as_mut().unwrap()).unwrap();
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(
            line.trim(),
            "200 aaa same",
            "{model}: the old connection lives on"
        );
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(
            line.trim(),
            sha256_of_cert(&b_crt),
            "{model}: the new certificate"
        );
        assert!(py.wait().unwrap().success());
        assert!(
            s.wait_log("TLS certificate reloaded"),
            "{model}: {}",
            s.log()
        );
        // A broken file on reload keeps the last good certificate.
        std::fs::write(&live_crt, "broken").unwrap();
        s.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(300));
        let got = curl(
            &both,
            &[format!("https://localhost:{}/hello.txt", s.tcp().port())],
        );
        assert_eq!(got, "hello tls\n200 1;", "{model}");
        assert!(
            s.wait_log("TLS reload failed, keeping the old certificate"),
            "{model}"
        );
    }
}

/// Opens a connection, reads a reply (so TLS 1.3 tickets arrive), then a
/// second one offering the first one's session.
const PY_RESUME: &str = r#"
import socket, ssl, sys
port, ca, version = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
ctx.maximum_version = ctx.minimum_version = getattr(ssl.TLSVersion, version)
def get(session=None):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost", session=session)
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    sess, reused = s.session, s.session_reused
    s.close()
    return sess, reused, data
first, r1, d1 = get()
_, r2, d2 = get(first)
print(r1, r2, d2.endswith(b"hello tls\n"))
"#;

#[test]
fn sessions_resume_on_tls_12_and_13() {
    let dir = Dir::new("resume");
    let (crt, key) = dir.cert("ec", "ec");
    // Fork and prefork: a ticket made by one process is taken by another.
    for model in ["epoll", "thread", "prefork", "fork"] {
        let s = https(&dir, model, &crt, &key, &[]);
        for version in ["TLSv1_2", "TLSv1_3"] {
            let out = python(PY_RESUME, &[&s.tcp().port().to_string(), &crt, version]);
            assert_eq!(out.trim(), "False True True", "{model} {version}");
        }
    }
}

#[test]
fn a_slow_reader_of_a_big_file_costs_a_bounded_buffer() {
    let dir = Dir::new("slow");
    let (crt, key) = dir.cert("ec", "ec");
    std::fs::write(dir.path.join("site/huge.bin"), payload(96 << 20, 9)).unwrap();
    let s = https(&dir, "epoll", &crt, &key, &[]);
    let rss = |pid: i32| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let before = rss(s.pid());
    // Reads a little, then stops reading for a while, then reads it all.
    let script = r#"
import socket, ssl, sys, time, hashlib
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
got = bytearray(s.recv(65536))
print("waiting", flush=True)
time.sleep(2)
while chunk := s.recv(1 << 20):
    got += chunk
body = bytes(got).split(b"\r\n\r\n", 1)[1]
print(len(body), hashlib.sha256(body).hexdigest())
"#;
    let mut py = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args([&s.tcp().port().to_string(), &crt])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(py.stdout.take().unwrap());
    let mut line = String::new();
    use std::io::BufRead;
    out.read_line(&mut line).unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let during = rss(s.pid());
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(py.wait().unwrap().success());
    let want = {
        use std::process::Command;
        let o = Command::new("sha256sum")
            .arg(dir.path.join("site/huge.bin"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(line.trim(), format!("{} {want}", 96 << 20));
    // While the client does not read, the server holds a bounded amount
    // (the layer's high-water mark and socket buffers), not the file.
    assert!(
        during < before + 24 * 1024,
        "server RSS grew from {before} kB to {during} kB for a stalled 96 MiB download"
    );
}

#[test]
fn the_file_protocol_over_tls_on_every_model() {
    let dir = Dir::new("files");
    let (crt, key) = dir.cert("ec", "ec");
    let shared = dir.path.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let local = dir.path.join("up.bin");
    let data = payload(3 << 20, 11);
    std::fs::write(&local, &data).unwrap();
    let netkit = |args: &[&str]| {
        Command::new(bin())
            .arg("files")
            .args(args)
            .output()
            .unwrap()
    };
    for model in MODELS {
        let s = Server::start(&[
            "files",
            "serve",
            shared.to_str().unwrap(),
            "--writable",
            "--port",
            "0",
            "--model",
            model,
            "--quiet",
            "--tls-cert",
            &crt,
            "--tls-key",
            &key,
        ]);
        let addr = format!("localhost:{}", s.tcp().port());
        let name = format!("up-{model}.bin");
        let out = netkit(&[
            "put",
            &addr,
            local.to_str().unwrap(),
            "--as",
            &name,
            "--cacert",
            &crt,
        ]);
        assert!(
            out.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read(shared.join(&name)).unwrap(),
            data,
            "{model}: stored"
        );
        let out = netkit(&["ls", &addr, "--raw", "--cacert", &crt]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&name),
            "{model}"
        );
        let got = dir.path.join(format!("got-{model}"));
        let out = netkit(&[
            "get",
            &addr,
            &name,
            "-o",
            got.to_str().unwrap(),
            "--cacert",
            &crt,
        ]);
        assert!(
            out.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read(&got).unwrap(), data, "{model}: downloaded");
        let out = netkit(&["get", &addr, &name, "-o", "-", "--cacert", &crt]);
        assert_eq!(out.stdout, data, "{model}: to stdout");
        // A client that does not trust the certificate stops at the handshake.
        let out = netkit(&["ls", &addr, "--tls"]);
        assert_eq!(out.status.code(), Some(4), "{model}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--cacert"),
            "{model}"
        );
        // A plain client is told what to do, in its own protocol.
        let out = netkit(&["ls", &addr]);
        assert_eq!(out.status.code(), Some(3), "{model}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("this server speaks TLS"),
            "{model}"
        );
    }
}

#[test]
fn hsts_is_sent_only_when_asked_and_only_over_tls() {
    let dir = Dir::new("hsts");
    let (crt, key) = dir.cert("ec", "ec");
    let head = |s: &Server| {
        let out = Command::new("curl")
            .args(["-sS", "-I", "--cacert", &crt])
            .arg(format!("https://localhost:{}/hello.txt", s.tcp().port()))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_lowercase()
    };
    let with = https(&dir, "epoll", &crt, &key, &["--hsts"]);
    assert!(
        head(&with).contains("strict-transport-security: max-age=31536000"),
        "{}",
        head(&with)
    );
    let without = https(&dir, "epoll", &crt, &key, &[]);
    assert!(!head(&without).contains("strict-transport-security"));
    let out = Command::new(bin())
        .args(["http", &dir.site(), "--port", "0", "--hsts"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--hsts needs TLS"));
}

#[test]
fn the_plain_http_port_redirects_to_https_and_stops_with_the_server() {
    let dir = Dir::new("redirect");
    let (crt, key) = dir.cert("ec", "ec");
    for model in ["epoll", "prefork", "thread"] {
        let mut s = https(&dir, model, &crt, &key, &["--redirect-http", "0"]);
        let log = s.log();
        let plain: std::net::SocketAddr = log
            .lines()
            .find_map(|l| l.split("redirecting tcp://").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{model}: no redirect line in {log}"))
            .parse()
            .unwrap();
        let out = Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{redirect_url}",
            ])
            .arg(format!("http://127.0.0.1:{}/docs/a.txt?x=1", plain.port()))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("301 https://127.0.0.1:{}/docs/a.txt?x=1", s.tcp().port()),
            "{model}"
        );
        // Followed by a client that trusts the certificate, it lands on the file.
        let out = Command::new("curl")
            .args(["-sS", "-L", "--cacert", &crt])
            .arg(format!("http://localhost:{}/hello.txt", plain.port()))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello tls\n",
            "{model}"
        );
        // The redirect stops with the server: nothing left listening.
        s.signal(libc::SIGTERM);
        assert!(
            s.wait_exit(Duration::from_secs(10)).is_some(),
            "{model}: server did not stop"
        );
        assert!(
            eventually(Duration::from_secs(5), || TcpStream::connect(plain)
                .is_err()),
            "{model}: the redirect port outlived the server"
        );
    }
    let out = Command::new(bin())
        .args(["http", &dir.site(), "--port", "0", "--redirect-http", "0"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--redirect-http needs TLS"));
}
