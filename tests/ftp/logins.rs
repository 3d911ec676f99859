//! Accounts and limits: named accounts (`--user`, `--users`, Argon2 hashes
//! from `netkit ftp hash`) with their own roots and modes, anonymous turned
//! off, failed logins delayed, counted and cut off, `--max-per-ip`,
//! `--rate-limit`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::util::*;
use super::{Ctl, curl, root, serve, url};

/// `netkit ftp hash` with the password on stdin.
fn hash(password: &str) -> String {
    let mut child = Command::new(bin())
        .args(["ftp", "hash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    hash
}

fn login(c: &mut Ctl, user: &str, pass: &str) -> String {
    let r = c.cmd(&format!("USER {user}"));
    if !r.starts_with("331 ") {
        return r;
    }
    c.cmd(&format!("PASS {pass}"))
}

#[test]
fn named_accounts_land_in_their_own_roots_with_their_own_modes() {
    let (dir, _outside, _big) = root();
    std::fs::create_dir(dir.path().join("alice")).unwrap();
    std::fs::write(dir.path().join("alice/mine.txt"), b"alice's").unwrap();
    let h = hash("s3cret pass");
    let alice = format!("alice:{h}:alice:rw");
    let bob = format!("bob:{h}");
    let server = serve(
        dir.path(),
        &["--no-anonymous", "--user", &alice, "--user", &bob],
    );
    assert!(
        server.log().contains("2 account(s), no anonymous"),
        "{}",
        server.log()
    );
    let mut c = Ctl::connect(&server);
    assert!(c.cmd("USER anonymous").starts_with("530 "));
    assert!(c.cmd("LIST").starts_with("530 "), "not logged in");
    let r = login(&mut c, "alice", "s3cret pass");
    assert_eq!(r, "230 Login successful (read-write)");
    let mut data = c.pasv();
    assert!(c.cmd("NLST").starts_with("150 "));
    let mut names = String::new();
    data.read_to_string(&mut names).unwrap();
    assert_eq!(names, "mine.txt\r\n", "alice sees only her root");
    assert!(c.reply().starts_with("226 "));
    assert!(c.cmd("CWD ..").starts_with("250 "));
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory");
    assert!(
        c.cmd("SIZE big.bin").starts_with("550 "),
        "nothing above her root"
    );
    assert!(c.cmd("MKD made").starts_with("257 "));
    assert!(dir.path().join("alice/made").is_dir());

    // bob: the server's root, read-only (the server is not --writable).
    let mut b = Ctl::connect(&server);
    assert_eq!(
        login(&mut b, "bob", "s3cret pass"),
        "230 Login successful (read-only)"
    );
    assert!(b.cmd("SIZE big.bin").starts_with("213 "));
    assert!(b.cmd("DELE one").starts_with("550 "));
    assert!(b.cmd("MLST one").contains("perm=r;"));

    // curl with a user and password.
    let got = curl(&["-u", "alice:s3cret pass", &url(&server, "/mine.txt")]);
    assert_eq!(got.stdout, b"alice's", "{got:?}");
    let denied = curl(&["-u", "alice:nope", &url(&server, "/mine.txt")]);
    assert_eq!(denied.status.code(), Some(67), "{denied:?}"); // curl: login denied
}

#[test]
fn failed_logins_are_delayed_counted_and_the_third_closes_the_connection() {
    let (dir, _outside, _big) = root();
    let h = hash("right");
    let server = serve(dir.path(), &["--user", &format!("carol:{h}")]);
    let mut c = Ctl::connect(&server);
    let start = Instant::now();
    assert_eq!(login(&mut c, "carol", "wrong"), "530 Login incorrect");
    assert!(start.elapsed() >= Duration::from_millis(900), "not delayed");
    // An unknown name gets the same 331 and the same 530.
    assert_eq!(c.cmd("USER nobody"), "331 Password required");
    assert_eq!(c.cmd("PASS x"), "530 Login incorrect");
    assert!(
        c.cmd("PASS x").starts_with("503 "),
        "PASS needs a USER again"
    );
    let r = login(&mut c, "carol", "wrong again");
    assert!(r.starts_with("421 "), "{r}");
    assert_eq!(c.reply(), "", "closed after the third failure");
    assert!(server.wait_log("(3 of 3)"), "{}", server.log());
    // A new connection may still log in; anonymous is on by default.
    let mut d = Ctl::connect(&server);
    assert!(login(&mut d, "carol", "right").starts_with("230 "));
    let mut e = Ctl::login(&server);
    assert!(e.cmd("PWD").starts_with("257 "));
}

#[test]
fn users_file_and_bad_accounts() {
    let (dir, _outside, _big) = root();
    std::fs::create_dir(dir.path().join("dave")).unwrap();
    let h = hash("pw");
    let file = dir.path().join(".users");
    std::fs::write(&file, format!("# accounts\n\ndave:{h}:dave:rw+overwrite\n")).unwrap();
    let server = serve(dir.path(), &["--users", file.to_str().unwrap()]);
    let mut c = Ctl::connect(&server);
    assert!(login(&mut c, "dave", "pw").starts_with("230 "));
    assert!(c.cmd("MLST /").contains("perm=celmp;"));
    drop(server);

    let root = dir.path().to_str().unwrap();
    for (extra, says) in [
        (vec!["--user", "eve:plaintext"], "not a PHC password hash"),
        (vec!["--user", &format!("eve:{h}:nothere")], "cannot open"),
        (vec!["--user", &format!("eve:{h}::rwx")], "mode 'rwx'"),
        (vec!["--user", &format!("anonymous:{h}")], "anonymous"),
        (vec!["--no-anonymous"], "needs accounts"),
        (
            vec!["--user", &format!("eve:{h}"), "--user", &format!("eve:{h}")],
            "given twice",
        ),
    ] {
        let out = Command::new(bin())
            .args(["ftp", "serve", root, "--port", "0"])
            .args(&extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?}");
        assert!(err.contains(says), "{extra:?}: {err}");
    }
}

fn max_per_ip(model: &str) {
    let (dir, _outside, _big) = root();
    let server = serve(dir.path(), &["--max-per-ip", "2", "--model", model]);
    let a = Ctl::connect(&server);
    let _b = Ctl::connect(&server);
    let mut third = std::net::TcpStream::connect(server.tcp()).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reply = String::new();
    let _ = third.read_to_string(&mut reply);
    assert!(reply.starts_with("421 "), "{model}: {reply}");
    // A place given back can be taken again.
    drop(a);
    assert!(
        eventually(Duration::from_secs(5), || {
            let mut s = std::net::TcpStream::connect(server.tcp()).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut first = [0u8; 3];
            s.read_exact(&mut first).is_ok() && &first == b"220"
        }),
        "{model}: the freed place was not given back"
    );
}

#[test]
fn max_per_ip_holds_on_the_thread_model() {
    max_per_ip("thread");
}

#[test]
fn max_per_ip_holds_across_fork_children() {
    max_per_ip("fork");
}

#[test]
fn rate_limit_paces_transfers_and_abor_still_stops_them() {
    let (dir, _outside, _big) = root();
    std::fs::write(dir.path().join("600k"), payload(600_000, 4)).unwrap();
    let server = serve(dir.path(), &["--writable", "--rate-limit", "256K"]);
    assert!(
        server.log().contains("at most 256.0 KiB/s"),
        "{}",
        server.log()
    );
    let start = Instant::now();
    let got = curl(&[&url(&server, "/600k")]);
    assert!(got.status.success() && got.stdout.len() == 600_000);
    // 600,000 bytes at 262,144 bytes/s take at least 2.2 s.
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("up");
    std::fs::write(&src, payload(400_000, 6)).unwrap();
    let start = Instant::now();
    let put = curl(&["-T", src.to_str().unwrap(), &url(&server, "/up")]);
    assert!(put.status.success(), "{put:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(1300),
        "{:?}",
        start.elapsed()
    );

    // ABOR during a paced download answers at once.
    let mut c = Ctl::login(&server);
    let mut data = c.pasv();
    assert!(c.cmd("RETR big.bin").starts_with("150 "));
    let mut some = [0u8; 1000];
    data.read_exact(&mut some).unwrap();
    // STAT during the transfer tells how far it got (RFC 959).
    let r = c.cmd("STAT");
    assert!(r.starts_with("213 Status: transfer in progress, "), "{r}");
    assert!(c.cmd("ABOR").starts_with("426 "));
    assert!(c.reply().starts_with("226 "));
    assert!(c.cmd("NOOP").starts_with("200 "));
}
