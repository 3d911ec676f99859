//! The commands a writable server answers (DELE, RNFR/RNTO, MKD, RMD, APPE,
//! STOU, STAT, HELP, SITE, ALLO, ABOR), active mode (PORT, EPRT) and the
//! passive-mode rules, over raw control connections and Python's ftplib.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use super::{Ctl, root, serve};

/// Runs tests/ftp/ftplib_commands.py against a writable server on `model`.
fn ftplib_commands(model: &str) {
    let (dir, outside, _big) = root();
    let server = serve(dir.path(), &["--writable", "--model", model]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ftp/ftplib_commands.py");
    let out = Command::new("python3")
        .args([script, "127.0.0.1", &server.tcp().port().to_string()])
        .arg(dir.path())
        .arg(outside.path())
        .output()
        .expect("python3 is installed");
    assert!(
        out.status.success(),
        "{model}: ftplib commands failed:\n{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ftplib commands: OK"));
}

#[test]
fn ftplib_every_command_on_the_thread_model() {
    ftplib_commands("thread");
}

#[test]
fn ftplib_every_command_on_the_fork_model() {
    ftplib_commands("fork");
}

#[test]
fn ftplib_every_command_on_the_pool_model() {
    ftplib_commands("pool");
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn read_only_server_refuses_every_write_and_says_so_in_mlsd() {
    let (dir, _outside, _big) = root();
    let before = names(dir.path());
    let server = serve(dir.path(), &[]);
    let mut c = Ctl::login(&server);
    for cmd in [
        "DELE one",
        "RNFR one",
        "RNTO two",
        "MKD d",
        "XMKD d",
        "RMD sub",
        "APPE one",
        "STOU",
        "STOR x",
        "SITE CHMOD 644 one",
        "MFMT 20200102030405 one",
    ] {
        let r = c.cmd(cmd);
        assert!(r.starts_with("550 "), "{cmd}: {r}");
    }
    assert_eq!(names(dir.path()), before);
    assert!(c.cmd("SITE HELP").contains("HELP") && !c.cmd("SITE HELP").contains("CHMOD"));
    let mut data = c.pasv();
    assert!(c.cmd("MLSD").starts_with("150 "));
    let mut listing = String::new();
    data.read_to_string(&mut listing).unwrap();
    assert!(
        listing.contains("perm=r;") && listing.contains(" one\r\n"),
        "{listing}"
    );
    assert!(
        listing.contains("type=dir;") && listing.contains("perm=el;"),
        "{listing}"
    );
    assert!(!listing.contains("perm=a"), "{listing}");
    assert!(c.reply().starts_with("226 "));
    assert!(c.cmd("MLST /").contains("perm=el;"));
}

#[test]
fn overwrite_lets_stor_and_rnto_replace_files_but_never_directories() {
    let (dir, _outside, _big) = root();
    let server = serve(dir.path(), &["--writable", "--overwrite"]);
    let mut c = Ctl::login(&server);
    assert!(c.cmd("MLST one").contains("perm=adfrw;"));
    assert!(c.cmd("RNFR one").starts_with("350 "));
    assert!(c.cmd("RNTO empty").starts_with("250 "));
    assert_eq!(std::fs::read(dir.path().join("empty")).unwrap(), b"1");
    assert!(!dir.path().join("one").exists());
    assert!(c.cmd("RNFR empty").starts_with("350 "));
    let r = c.cmd("RNTO sub");
    assert!(r.starts_with("553 "), "a file over a directory: {r}");
    assert!(c.cmd("RNFR sub").starts_with("350 "));
    let r = c.cmd("RNTO big.bin");
    assert!(r.starts_with("553 "), "a directory over a file: {r}");
    // REST + STOR may drop bytes past the offset with --overwrite.
    let mut data = c.pasv();
    assert!(c.cmd("REST 3").starts_with("350 "));
    assert!(c.cmd("STOR sub/a.txt").starts_with("150 "));
    data.write_all(b"p!\n").unwrap();
    drop(data);
    assert!(c.reply().starts_with("226 "));
    assert_eq!(
        std::fs::read(dir.path().join("sub/a.txt")).unwrap(),
        b"help!\n"
    );
    // RNTO to the same name is a no-op; to .. leads no higher than the root.
    assert!(c.cmd("RNFR sub/a.txt").starts_with("350 "));
    assert!(c.cmd("RNTO ../../../a.txt").starts_with("250 "));
    assert!(dir.path().join("a.txt").exists());
}

#[test]
fn abor_with_telnet_interrupt_and_synch_stops_a_download() {
    let (dir, _outside, _big) = root();
    // Far larger than the socket buffers, so the transfer is still running
    // when ABOR comes (sparse: no disk used).
    let huge = std::fs::File::create(dir.path().join("huge.bin")).unwrap();
    huge.set_len(1 << 30).unwrap();
    let server = serve(dir.path(), &[]);
    let mut c = Ctl::login(&server);
    let mut data = c.pasv();
    assert!(c.cmd("RETR huge.bin").starts_with("150 "));
    let mut first = [0u8; 1000];
    data.read_exact(&mut first).unwrap();
    // RFC 959's way: Telnet IP, Synch (IAC DM, the DM as urgent data), ABOR.
    c.send_raw(b"\xff\xf4\xff");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&c.writer);
    // SAFETY: a valid socket and a one-byte buffer that outlives the call.
    let sent = unsafe { libc::send(fd, b"\xf2".as_ptr().cast(), 1, libc::MSG_OOB) };
    assert_eq!(sent, 1);
    c.send_raw(b"ABOR\r\n");
    let r = c.reply();
    assert!(r.starts_with("426 "), "{r}");
    assert!(c.reply().starts_with("226 "));
    // The data connection is closed (after what was already in flight).
    let mut rest = Vec::new();
    let _ = data.read_to_end(&mut rest);
    assert!(rest.len() < 1 << 29, "the whole file came anyway");
    assert!(c.cmd("PWD").starts_with("257 "));
    assert!(c.cmd("ABOR").starts_with("225 "));
}

/// Sends `cmd` (PORT or EPRT to `listener`), RETRs `one` and returns the
/// data connection's peer address.
fn active_retr(c: &mut Ctl, cmd: &str, listener: &TcpListener) -> SocketAddr {
    let r = c.cmd(cmd);
    assert!(r.starts_with("200 "), "{cmd}: {r}");
    c.send_raw(b"RETR one\r\n");
    let (mut data, from) = listener.accept().unwrap();
    let r = c.reply();
    assert!(r.starts_with("150 "), "{r}");
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"1");
    assert!(c.reply().starts_with("226 "));
    from
}

#[test]
fn active_mode_connects_only_to_the_client_from_the_port_below_the_control_port() {
    let (dir, _outside, _big) = root();
    let server = serve(dir.path(), &[]);
    let mut c = Ctl::login(&server);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let port_cmd = format!("PORT 127,0,0,1,{},{}", port >> 8, port & 0xff);
    let from = active_retr(&mut c, &port_cmd, &listener);
    assert_eq!(from.ip().to_string(), "127.0.0.1");
    assert_eq!(from.port(), server.tcp().port() - 1, "RFC 959's L-1");
    let from = active_retr(&mut c, &format!("EPRT |1|127.0.0.1|{port}|"), &listener);
    assert_eq!(from.ip().to_string(), "127.0.0.1");
    // Bounce attacks: another host (even another loopback address) is refused.
    for cmd in [
        format!("PORT 127,0,0,2,{},{}", port >> 8, port & 0xff),
        format!("PORT 192,0,2,1,{},{}", port >> 8, port & 0xff),
        format!("EPRT |1|10.0.0.1|{port}|"),
    ] {
        let r = c.cmd(&cmd);
        assert!(r.starts_with("500 "), "{cmd}: {r}");
    }
    assert!(
        c.cmd("RETR one").starts_with("425 "),
        "no data address left"
    );
    // An active address nobody listens on: 425, and the session goes on.
    drop(listener);
    assert!(c.cmd(&port_cmd).starts_with("200 "));
    assert!(c.cmd("RETR one").starts_with("425 "));
    assert!(c.cmd("NOOP").starts_with("200 "));
}

#[test]
fn passive_address_is_announced_and_data_only_comes_from_the_client() {
    let (dir, _outside, _big) = root();
    let server = serve(
        dir.path(),
        &["--passive-address", "10.9.8.7", "--passive-timeout", "3s"],
    );
    assert!(
        server.log().contains("announced as 10.9.8.7"),
        "{}",
        server.log()
    );
    let mut c = Ctl::login(&server);
    let r = c.cmd("PASV");
    assert!(r.starts_with("227 Entering Passive Mode (10,9,8,7,"), "{r}");
    let inner = &r[r.find('(').unwrap() + 1..r.find(')').unwrap()];
    let n: Vec<u16> = inner.split(',').map(|x| x.parse().unwrap()).collect();
    let port = n[4] * 256 + n[5];
    // A connection from another address (127.0.0.2) is dropped unseen...
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let other: SocketAddr = "127.0.0.2:0".parse().unwrap();
    sock.bind(&other.into()).unwrap();
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    sock.connect(&to.into()).unwrap();
    let mut intruder: TcpStream = sock.into();
    intruder
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    c.send_raw(b"RETR one\r\n");
    let mut buf = Vec::new();
    let _ = intruder.read_to_end(&mut buf);
    assert!(buf.is_empty(), "the intruder got data");
    // ...and the client's own one still gets the file.
    let mut data = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(c.reply().starts_with("150 "));
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"1");
    assert!(c.reply().starts_with("226 "));
    let _ = data.write_all(b"");
}

#[test]
fn ipv6_control_connections_use_epsv_and_eprt() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    };
    let (dir, _outside, _big) = root();
    let server = serve(dir.path(), &["--bind", "::1"]);
    assert!(server.tcp().is_ipv6());
    let mut c = Ctl::login(&server);
    assert!(c.cmd("PASV").starts_with("425 "), "PASV is IPv4 only");
    assert!(c.cmd("EPSV 1").starts_with("522 "));
    let r = c.cmd("EPSV");
    assert!(r.starts_with("229 "), "{r}");
    let port: u16 = r.split('|').nth(3).unwrap().parse().unwrap();
    let mut data = TcpStream::connect(("::1", port)).unwrap();
    assert!(c.cmd("RETR one").starts_with("150 "));
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"1");
    assert!(c.reply().starts_with("226 "));

    let port = listener.local_addr().unwrap().port();
    let from = active_retr(&mut c, &format!("EPRT |2|::1|{port}|"), &listener);
    assert_eq!(from.ip().to_string(), "::1");
    assert_eq!(from.port(), server.tcp().port() - 1);
    let r = c.cmd(&format!("EPRT |1|127.0.0.1|{port}|"));
    assert!(r.starts_with("522 "), "{r}");
    let r = c.cmd("PORT 127,0,0,1,4,1");
    assert!(r.starts_with("522 "), "{r}");
}
