//! Explicit FTPS (RFC 4217) with real clients: Python's ftplib.FTP_TLS
//! (tests/ftp/ftplib_tls.py), lftp and curl, on the thread, fork and pool
//! models; certificates made by openssl; session reuse; `--tls-required`;
//! STAT and ABOR over TLS; a garbage or stalled handshake on the control or
//! a data connection; SIGHUP reloads.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::util::*;
use super::{Ctl, curl, root, serve};

const MODELS: [&str; 3] = ["thread", "fork", "pool"];
/// Every model the FTP server runs on (the broadest check runs on all).
const ALL_MODELS: [&str; 5] = ["thread", "fork", "pool", "prefork", "iterative"];

/// Makes `NAME.crt` and `NAME.key` in `dir`: an ECDSA P-256 leaf for localhost.
fn cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    openssl_cert(dir, name, "ec")
}

/// The server's root (see [`root`]), certificates, and the server started
/// on `model` with `--tls-cert`/`--tls-key`, `--writable` and `extra`.
struct Ftps {
    server: Running,
    dir: tempfile::TempDir,
    _outside: tempfile::TempDir,
    big: Vec<u8>,
    certs: tempfile::TempDir,
    crt: PathBuf,
}

fn ftps(model: &str, extra: &[&str]) -> Ftps {
    let (dir, outside, big) = root();
    let certs = tempfile::tempdir().unwrap();
    let (crt, key) = cert(certs.path(), "server");
    let (c, k) = (crt.to_str().unwrap(), key.to_str().unwrap());
    let mut args = vec![
        "--writable",
        "--model",
        model,
        "--tls-cert",
        c,
        "--tls-key",
        k,
    ];
    args.extend_from_slice(extra);
    let server = serve(dir.path(), &args);
    Ftps {
        server,
        dir,
        _outside: outside,
        big,
        certs,
        crt,
    }
}

impl Ftps {
    fn port(&self) -> u16 {
        self.server.tcp().port()
    }

    /// Runs a check of tests/ftp/ftplib_tls.py against this server.
    fn ftplib(&self, check: &str) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ftp/ftplib_tls.py");
        let out = Command::new("python3")
            .args([script, check, "127.0.0.1", &self.port().to_string()])
            .arg(self.dir.path())
            .arg(&self.crt)
            .output()
            .expect("python3 is installed");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "ftplib_tls.py {check} failed:\n{stdout}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.server.log()
        );
        stdout
    }

    fn url(&self, path: &str) -> String {
        format!("ftp://127.0.0.1:{}{path}", self.port())
    }
}

#[test]
fn ftplib_over_tls_lists_downloads_and_uploads_resuming_the_session_on_every_model() {
    for model in ALL_MODELS {
        let s = ftps(model, &[]);
        assert!(
            s.server.log().contains("FTPS (AUTH TLS)"),
            "{}",
            s.server.log()
        );
        let out = s.ftplib("transfers");
        assert!(out.contains("ftplib-tls: OK"), "{model}: {out}");
    }
}

#[test]
fn a_data_connection_that_does_not_resume_the_session_gets_425() {
    let s = ftps("thread", &[]);
    assert!(s.ftplib("no-reuse").contains("ftplib-tls: OK"));
}

#[test]
fn garbage_or_a_stall_instead_of_a_data_handshake_gets_425_and_the_control_goes_on() {
    let s = ftps("fork", &["--passive-timeout", "2s"]);
    let started = Instant::now();
    assert!(s.ftplib("data-garbage").contains("ftplib-tls: OK"));
    // The stalled handshake was cut by the passive timeout, not the client's.
    assert!(started.elapsed() < Duration::from_secs(14));
}

#[test]
fn stat_and_abor_are_read_from_the_tls_control_connection_during_a_transfer() {
    let s = ftps("pool", &["--rate-limit", "1M"]);
    assert!(s.ftplib("abort").contains("ftplib-tls: OK"));
}

fn lftp_tls(port: u16, ca: &Path, commands: &str) -> (bool, String) {
    let script = format!(
        "set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file {}; \
         set ftp:ssl-allow-anonymous true; \
         set net:max-retries 1; set net:timeout 10; \
         open -p {port} 127.0.0.1; {commands}; bye",
        ca.display()
    );
    let out = Command::new("lftp")
        .args(["-d", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .expect("run lftp");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn lftp_over_tls_ls_get_put_and_mirror_on_thread_fork_and_pool() {
    if Command::new("lftp").arg("--version").output().is_err() {
        eprintln!("skipped: lftp is not installed (apt-get install lftp)");
        return;
    }
    for model in MODELS {
        let s = ftps(model, &["--tls-required"]);
        let local = tempfile::tempdir().unwrap();
        let up = payload((2 << 20) + 3, 4);
        std::fs::write(local.path().join("up.bin"), &up).unwrap();
        let (ok, text) = lftp_tls(
            s.port(),
            &s.crt,
            &format!(
                "ls; get big.bin -o {0}/big.bin; put {0}/up.bin -o sub/lftp.bin; cls sub",
                local.path().display()
            ),
        );
        assert!(ok, "{model}: {text}\n{}", s.server.log());
        // It really spoke TLS (the server refuses anything else).
        assert!(
            text.contains("AUTH TLS") && text.contains("PROT P"),
            "{text}"
        );
        assert!(text.contains("lftp.bin"), "{text}");
        assert!(std::fs::read(local.path().join("big.bin")).unwrap() == s.big);
        assert!(std::fs::read(s.dir.path().join("sub/lftp.bin")).unwrap() == up);

        let down = local.path().join("down");
        let (ok, text) = lftp_tls(s.port(), &s.crt, &format!("mirror / {}", down.display()));
        assert!(ok, "{model}: {text}");
        assert!(std::fs::read(down.join("big.bin")).unwrap() == s.big);
        assert_eq!(std::fs::read(down.join("sub/a.txt")).unwrap(), b"hello\n");
        let tree = local.path().join("tree");
        std::fs::create_dir_all(tree.join("deep")).unwrap();
        std::fs::write(tree.join("deep/f.bin"), payload(200_000, 6)).unwrap();
        let (ok, text) = lftp_tls(
            s.port(),
            &s.crt,
            &format!("mirror -R {} /pushed", tree.display()),
        );
        assert!(ok, "{model}: {text}");
        assert!(
            std::fs::read(s.dir.path().join("pushed/deep/f.bin")).unwrap() == payload(200_000, 6)
        );
    }
}

#[test]
fn curl_ssl_reqd_downloads_and_uploads_on_every_model() {
    for model in ALL_MODELS {
        let s = ftps(model, &["--tls-required"]);
        let ca = s.crt.to_str().unwrap();
        let got = curl(&["--ssl-reqd", "--cacert", ca, &s.url("/big.bin")]);
        assert!(got.status.success(), "{model}: {got:?}\n{}", s.server.log());
        assert!(got.stdout == s.big, "{model}: download differs");
        let list = curl(&["--ssl-reqd", "--cacert", ca, &s.url("/")]);
        assert!(String::from_utf8_lossy(&list.stdout).contains(" big.bin"));

        let local = tempfile::tempdir().unwrap();
        let up = payload((3 << 20) + 1, 12);
        let src = local.path().join("up.bin");
        std::fs::write(&src, &up).unwrap();
        let put = curl(&[
            "--ssl-reqd",
            "--cacert",
            ca,
            "-T",
            src.to_str().unwrap(),
            &s.url("/sub/curl.bin"),
        ]);
        assert!(put.status.success(), "{model}: {put:?}\n{}", s.server.log());
        assert!(std::fs::read(s.dir.path().join("sub/curl.bin")).unwrap() == up);

        // (No active mode here: curl 7.87 and 7.88 never start TLS on an
        // accepted data connection, curl/curl#10666; ftplib covers it.)

        // An untrusted certificate is curl's error, not a transfer.
        let untrusted = curl(&["--ssl-reqd", &s.url("/big.bin")]);
        assert!(!untrusted.status.success());
    }
}

#[test]
fn tls_required_refuses_plaintext_logins_and_clear_data() {
    let s = ftps("thread", &["--tls-required"]);
    assert!(
        s.server.log().contains("FTPS (AUTH TLS, required)"),
        "{}",
        s.server.log()
    );
    let mut c = Ctl::connect(&s.server);
    let feat = c.cmd("FEAT");
    for f in ["\n AUTH TLS\n", "\n PBSZ\n", "\n PROT\n"] {
        assert!(feat.contains(f), "{feat}");
    }
    let r = c.cmd("USER anonymous");
    assert!(r.starts_with("530 ") && r.contains("AUTH TLS"), "{r}");
    let r = c.cmd("PASS x");
    assert!(r.starts_with("530 "), "{r}");
    assert!(c.cmd("LIST").starts_with("530 "));
    assert!(c.cmd("PBSZ 0").starts_with("503 "));
    assert!(c.cmd("PROT P").starts_with("503 "));
    assert!(c.cmd("AUTH GSSAPI").starts_with("504 "));
    assert!(c.cmd("CCC").starts_with("534 "));
    assert!(c.cmd("QUIT").starts_with("221 "));

    // curl without TLS cannot log in, and says why.
    let plain = curl(&[&s.url("/big.bin")]);
    assert!(!plain.status.success(), "{plain:?}");
    assert!(plain.stdout.is_empty());

    assert!(s.ftplib("required").contains("ftplib-tls: OK"));
}

#[test]
fn without_tls_auth_is_502_and_tls_required_needs_a_certificate() {
    let (dir, _outside, _big) = root();
    let server = serve(dir.path(), &[]);
    let mut c = Ctl::connect(&server);
    for verb in ["AUTH TLS", "PBSZ 0", "PROT P", "CCC"] {
        let r = c.cmd(verb);
        assert!(r.starts_with("502 ") && r.contains("TLS"), "{verb}: {r}");
    }
    let feat = c.cmd("FEAT");
    assert!(!feat.contains("AUTH") && !feat.contains("PROT"), "{feat}");
    drop(c);

    let out = Command::new(bin())
        .args(["ftp", "serve"])
        .arg(dir.path())
        .args(["--port", "0", "--tls-required"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls-required needs TLS"), "{err}");
}

/// Reads from `s` until the server closes it; true if that came within `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {} // an alert
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true, // reset
        }
    }
}

#[test]
fn garbage_or_a_stall_in_the_control_handshake_closes_only_that_connection() {
    let s = ftps("thread", &["--idle-timeout", "2s"]);
    let auth = |s: &Ftps| -> TcpStream {
        let mut c = Ctl::connect(&s.server);
        assert!(c.cmd("AUTH TLS").starts_with("234 "));
        c.writer
    };
    // Garbage instead of a ClientHello: rustls's alert, then the close.
    let mut bad = auth(&s);
    bad.write_all(b"USER anonymous\r\nPASS x\r\n").unwrap();
    assert!(closed_within(&mut bad, Duration::from_secs(5)));
    // A ClientHello that stops half-way: closed by the idle timeout.
    let mut stalled = auth(&s);
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut stalled, Duration::from_secs(8)));
    assert!(started.elapsed() >= Duration::from_millis(1500));
    // Others are served meanwhile and after.
    let mut c = Ctl::connect(&s.server);
    assert!(c.cmd("NOOP").starts_with("200 "));
    assert!(s.ftplib("transfers").contains("ftplib-tls: OK"));
}

#[test]
fn sighup_reloads_the_ftps_certificate_for_new_connections() {
    let s = ftps("thread", &[]);
    let sha = |s: &Ftps| s.ftplib("cert-sha256").trim().to_string();
    let before = sha(&s);
    // Another certificate in the same files, then SIGHUP.
    let (crt2, key2) = cert(s.certs.path(), "other");
    std::fs::copy(&crt2, &s.crt).unwrap();
    std::fs::copy(&key2, s.certs.path().join("server.key")).unwrap();
    s.server.signal(libc::SIGHUP);
    assert!(
        eventually(Duration::from_secs(10), || sha(&s) != before),
        "{}",
        s.server.log()
    );
    assert!(s.server.log().contains("TLS certificate reloaded"));
}
