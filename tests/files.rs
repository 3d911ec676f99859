//! `netkit files` end to end: the real binary serving a temporary directory,
//! driven over real sockets on 127.0.0.1 by the library client, the command
//! line client and raw frames.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use netkit::files::progress::Meter;
use netkit::files::{Client, ClientError, client::Sink};
use util::*;

const TIMEOUT: Duration = Duration::from_secs(20);

/// Starts `netkit files serve ROOT --port 0` with `extra` options.
fn serve(root: &Path, extra: &[&str]) -> Running {
    let root = root.to_str().expect("utf-8 temp path");
    let mut args = vec![
        "files",
        "serve",
        root,
        "--port",
        "0",
        "--shutdown-timeout",
        "1s",
    ];
    args.extend_from_slice(extra);
    Running(Server::start(&args))
}

fn addr(server: &Running) -> String {
    server.tcp().to_string()
}

/// The library: 0 bytes, 1 byte, and a few MiB of random content.
fn library() -> (tempfile::TempDir, Vec<(String, Vec<u8>)>) {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        ("empty".to_string(), Vec::new()),
        ("one".to_string(), vec![b'x']),
        ("big.bin".to_string(), payload(5 << 20, 42)),
    ];
    for (name, data) in &files {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    (dir, files)
}

fn get(client: &mut Client, name: &str) -> Result<Vec<u8>, ClientError> {
    let mut got = Vec::new();
    client.get(name, Sink::Writer(&mut got), &Meter::hidden())?;
    Ok(got)
}

fn put(client: &mut Client, dir: &Path, name: &str, data: &[u8]) -> Result<u64, ClientError> {
    let local = dir.join(name);
    std::fs::write(&local, data).unwrap();
    netkit::files::client::upload(client, &local, name, &Meter::hidden())
}

/// Names in `dir`, sorted (hidden temporaries included, so leftovers show).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Many clients at once, each listing, downloading every file and uploading its
/// own 0-byte, 1-byte and multi-MiB files, all checked byte for byte.
fn concurrent_round(
    server: &Running,
    root: &Path,
    files: &[(String, Vec<u8>)],
    clients: usize,
    tag: &str,
) {
    let up = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for i in 0..clients {
            let addr = addr(server);
            let up = up.path();
            s.spawn(move || {
                let mut c = Client::connect(&addr, TIMEOUT).expect("connect");
                let listed = c.list().expect("list");
                for (name, data) in files {
                    let e = listed.iter().find(|e| &e.name == name).expect("listed");
                    assert_eq!(e.size, data.len() as u64, "{name}: listed size");
                    let got = get(&mut c, name).expect("get");
                    assert!(got == *data, "client {i}: {name} differs");
                }
                for (j, size) in [0usize, 1, (3 << 20) + i * 4099].into_iter().enumerate() {
                    let name = format!("{tag}-up-{i}-{j}");
                    let data = payload(size, (i * 10 + j) as u64 + 7);
                    assert_eq!(put(&mut c, up, &name, &data).expect("put"), size as u64);
                    let stored = std::fs::read(root.join(&name)).unwrap();
                    assert!(
                        stored == data,
                        "client {i}: upload {name} differs on the server"
                    );
                    // And back again over the same connection.
                    assert!(get(&mut c, &name).expect("get back") == data);
                }
                c.quit().expect("quit");
            });
        }
    });
}

#[test]
fn many_concurrent_clients_on_the_default_fork_model() {
    let (dir, files) = library();
    let server = serve(dir.path(), &["--writable"]);
    assert!(server.log().contains("model fork"), "{}", server.log());
    let t = Instant::now();
    concurrent_round(&server, dir.path(), &files, 12, "fork");
    assert!(t.elapsed() < Duration::from_secs(30));
    assert!(
        names(dir.path()).iter().all(|n| !n.starts_with('.')),
        "temporary files left: {:?}",
        names(dir.path())
    );
}

#[test]
fn every_model_serves_the_protocol() {
    let (dir, files) = library();
    for model in [
        "iterative",
        "prefork",
        "thread",
        "pool",
        "select",
        "poll",
        "epoll",
        "async",
        "uring",
    ] {
        let server = serve(dir.path(), &["--writable", "--model", model]);
        // The iterative model serves one client at a time; the rest queue.
        concurrent_round(&server, dir.path(), &files, 3, model);
    }
    let mut edge = serve(
        dir.path(),
        &["--writable", "--model", "epoll", "--edge", "-w", "2"],
    );
    concurrent_round(&edge, dir.path(), &files, 3, "edge");
    edge.signal(libc::SIGTERM);
    assert!(
        edge.wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
}

// ---- raw frames -------------------------------------------------------------

fn raw(server: &Running) -> TcpStream {
    let s = TcpStream::connect(server.tcp()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn send(s: &mut TcpStream, payload: &[u8]) {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    s.write_all(&f).unwrap();
}

/// The next reply frame as text, or `None` if the server closed the connection.
fn recv(s: &mut TcpStream) -> Option<String> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).ok()?;
    let mut p = vec![0u8; u32::from_be_bytes(h) as usize];
    s.read_exact(&mut p).ok()?;
    Some(String::from_utf8(p).unwrap())
}

fn ask(s: &mut TcpStream, payload: &[u8]) -> String {
    send(s, payload);
    recv(s).expect("a reply")
}

/// True if the server closes `s` (EOF or reset) within `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn hostile_input_gets_err_or_a_clean_close_and_others_are_still_served() {
    let (dir, files) = library();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
    std::fs::write(dir.path().join(".hidden"), b"h").unwrap();
    let server = serve(
        dir.path(),
        &[
            "--writable",
            "--max-file-size",
            "1M",
            "--idle-timeout",
            "1s",
            "--model",
            "thread",
        ],
    );
    let mut s = raw(&server);
    let long = format!("G {}", "n".repeat(300));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"G a/b".to_vec(), "'/'"),
        (b"G /etc/passwd".to_vec(), "'/'"),
        (b"G ..\\secret".to_vec(), "'/'"),
        (b"G ../secret".to_vec(), "'/'"),
        (b"G ..".to_vec(), "'..'"),
        (b"G a\0b".to_vec(), "control"),
        (b"G .hidden".to_vec(), "hidden"),
        (long.into_bytes(), "longer than 255"),
        (b"G link".to_vec(), "not a regular file"),
        (b"G nothere".to_vec(), "no such file"),
        (b"P ../evil 1".to_vec(), "'/'"),
        (b"P .evil 1".to_vec(), "hidden"),
        (b"P big 1048577".to_vec(), "over the server's limit"),
        (b"P big 99999999999999999999999".to_vec(), "whole number"),
        (b"P one 1".to_vec(), "exists"),
        (b"P x -5".to_vec(), "whole number"),
        (b"G \xff\xfe".to_vec(), "not UTF-8"),
        (b"HELLO".to_vec(), "unknown request"),
        (b"".to_vec(), "unknown request"),
    ];
    for (req, why) in &cases {
        let r = ask(&mut s, req);
        assert!(
            r.starts_with("ERR ") && r.contains(why),
            "{:?}: got {r:?}",
            String::from_utf8_lossy(req)
        );
    }
    // The connection is still usable after all that.
    assert!(ask(&mut s, b"L").starts_with("OK\n"));
    assert!(!dir.path().join("evil").exists() && !outside.path().join("evil").exists());

    // An oversized frame: ERR, then the server closes without reading the payload.
    let mut big = raw(&server);
    big.write_all(&(10_000_000u32).to_be_bytes()).unwrap();
    let r = recv(&mut big).expect("reply");
    assert!(r.starts_with("ERR frame of 10000000 bytes"), "{r}");
    assert!(closed_within(&mut big, Duration::from_secs(5)));

    // A client that stops sending mid-frame, and one that never sends, are closed
    // by the idle timeout; meanwhile another client is served normally.
    let mut stalled = raw(&server);
    stalled.write_all(&[0, 0, 0, 9, b'G']).unwrap();
    let mut silent = raw(&server);
    let mut c = Client::connect(&addr(&server), TIMEOUT).unwrap();
    assert!(get(&mut c, "big.bin").unwrap() == files[2].1);
    assert!(closed_within(&mut stalled, Duration::from_secs(5)));
    assert!(closed_within(&mut silent, Duration::from_secs(5)));
    let mut c = Client::connect(&addr(&server), TIMEOUT).unwrap();
    assert!(get(&mut c, "one").unwrap() == b"x");
}

#[test]
fn upload_cut_off_halfway_leaves_no_file_on_every_kind_of_driver() {
    for model in ["fork", "thread", "epoll", "async", "uring"] {
        let dir = tempfile::tempdir().unwrap();
        let server = serve(dir.path(), &["--writable", "--model", model]);
        let mut s = raw(&server);
        assert_eq!(ask(&mut s, b"P half.bin 1000000"), "OK");
        s.write_all(&payload(500_000, 1)).unwrap();
        // The partial upload sits under a hidden temporary name...
        assert!(eventually(Duration::from_secs(5), || names(dir.path())
            .len()
            == 1));
        assert!(names(dir.path())[0].starts_with(".netkit-upload-"));
        drop(s);
        // ...and disappears with the connection, never reaching the final name.
        assert!(
            eventually(Duration::from_secs(5), || names(dir.path()).is_empty()),
            "{model}: left {:?}",
            names(dir.path())
        );
        // A complete upload of the same name still works afterwards.
        let mut s = raw(&server);
        assert_eq!(ask(&mut s, b"P half.bin 3"), "OK");
        s.write_all(b"abc").unwrap();
        assert_eq!(recv(&mut s).unwrap(), "OK 3");
        assert_eq!(std::fs::read(dir.path().join("half.bin")).unwrap(), b"abc");
    }
}

/// fork: a child killed outright mid-upload cannot remove its temporary file;
/// the next upload's child sweeps it (its process is gone), without touching
/// the temporary file of an upload still in progress.
#[test]
fn temp_file_of_a_killed_fork_child_is_swept_by_the_next_upload() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--writable", "--model", "fork"]);
    let mut doomed = raw(&server);
    assert_eq!(ask(&mut doomed, b"P doomed.bin 1000000"), "OK");
    doomed.write_all(&payload(300_000, 1)).unwrap();
    assert!(eventually(Duration::from_secs(5), || names(dir.path())
        .len()
        == 1));
    let mut alive = raw(&server);
    assert_eq!(ask(&mut alive, b"P alive.bin 1000000"), "OK");
    alive.write_all(&payload(300_000, 2)).unwrap();
    assert!(eventually(Duration::from_secs(5), || names(dir.path())
        .len()
        == 2));
    // SIGKILL the child serving the first upload (the older child).
    let children: Vec<i32> = children_of(server.pid())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(children.len(), 2, "{children:?}");
    let doomed_pid = *children.iter().min().unwrap();
    let doomed_tmp = format!(".netkit-upload-{doomed_pid}-");
    assert!(names(dir.path()).iter().any(|n| n.starts_with(&doomed_tmp)));
    // SAFETY: kill on a child of the server we started.
    unsafe { libc::kill(doomed_pid, libc::SIGKILL) };
    assert!(eventually(Duration::from_secs(5), || {
        !children_of(server.pid())
            .iter()
            .any(|&(p, _)| p == doomed_pid)
    }));
    assert!(names(dir.path()).iter().any(|n| n.starts_with(&doomed_tmp)));
    // The next upload sweeps the dead child's file, and only that one.
    let mut next = raw(&server);
    assert_eq!(ask(&mut next, b"P next.bin 3"), "OK");
    next.write_all(b"abc").unwrap();
    assert_eq!(recv(&mut next).unwrap(), "OK 3");
    let left = names(dir.path());
    assert!(!left.iter().any(|n| n.starts_with(&doomed_tmp)), "{left:?}");
    assert_eq!(left.len(), 2, "next.bin and the live upload: {left:?}");
    alive.write_all(&payload(700_000, 3)).unwrap();
    assert_eq!(recv(&mut alive).unwrap(), "OK 1000000");
}

#[test]
fn read_only_and_overwrite_rules() {
    // The start-up line offers uploads only when there are any.
    let ro_dir = tempfile::tempdir().unwrap();
    let ro = serve(ro_dir.path(), &["--model", "thread"]);
    let line = ro.log();
    assert!(
        line.contains("(read-only)") && !line.contains("uploads"),
        "{line}"
    );
    let rw = serve(ro_dir.path(), &["--model", "thread", "--writable"]);
    assert!(
        rw.log().contains("(writable, uploads up to 16.0 GiB)"),
        "{}",
        rw.log()
    );

    let (dir, _files) = library();
    let ro = serve(dir.path(), &[]);
    let mut s = raw(&ro);
    assert_eq!(ask(&mut s, b"P new 1"), "ERR the server is read-only");
    let ow = serve(dir.path(), &["--writable", "--overwrite"]);
    let mut s = raw(&ow);
    assert_eq!(ask(&mut s, b"P one 2"), "OK");
    s.write_all(b"yz").unwrap();
    assert_eq!(recv(&mut s).unwrap(), "OK 2");
    assert_eq!(std::fs::read(dir.path().join("one")).unwrap(), b"yz");
    assert_eq!(ask(&mut s, b"Q"), "OK bye");
    assert!(closed_within(&mut s, Duration::from_secs(5)));
}

/// `--no-sync` confirms uploads without fsync; they are still whole and atomic.
#[test]
fn no_sync_uploads_are_complete_and_need_writable() {
    let (dir, _files) = library();
    let server = serve(dir.path(), &["--writable", "--no-sync", "--model", "epoll"]);
    assert!(
        server.log().contains("writable, no fsync"),
        "{}",
        server.log()
    );
    let up = tempfile::tempdir().unwrap();
    let data = payload((5 << 20) + 3, 99);
    let mut c = Client::connect(&addr(&server), TIMEOUT).expect("connect");
    assert_eq!(
        put(&mut c, up.path(), "fast.bin", &data).unwrap(),
        data.len() as u64
    );
    assert!(std::fs::read(dir.path().join("fast.bin")).unwrap() == data);
    let refused = netkit(&["files", "serve", ".", "--no-sync"], dir.path());
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--writable"), "{err}");
}

/// Disk full while receiving: `ERR`, and the temporary file is gone. Needs root
/// to mount a 1 MiB tmpfs; skipped (with a note) where that is not possible.
#[test]
fn disk_full_while_receiving_gets_err_and_removes_the_temporary_file() {
    let Some(tiny) = Tmpfs::mount("1m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let mnt = tiny.path().to_path_buf();
    // Each kind of driver: blocking (thread), readiness (epoll), async. Upload
    // bodies are spliced into the file, so ENOSPC comes from splice there.
    for model in ["thread", "epoll", "async", "uring"] {
        let server = serve(&mnt, &["--writable", "--model", model]);
        // A declared size over the free space is refused up front.
        let mut s = raw(&server);
        assert_eq!(
            ask(&mut s, b"P huge 5000000"),
            "ERR not enough space on the server"
        );
        // Two uploads that each fit alone but not together: the second to write runs out mid-way.
        let mut a = raw(&server);
        assert_eq!(ask(&mut a, b"P a.bin 700000"), "OK");
        a.write_all(&payload(100_000, 1)).unwrap();
        let mut b = raw(&server);
        assert_eq!(ask(&mut b, b"P b.bin 700000"), "OK");
        b.write_all(&payload(700_000, 2)).unwrap();
        assert_eq!(recv(&mut b).unwrap(), "OK 700000");
        a.write_all(&payload(600_000, 3)).unwrap();
        assert_eq!(recv(&mut a).unwrap(), "ERR not enough space on the server");
        // The connection stays in step and usable; the temporary file is gone.
        assert!(ask(&mut a, b"L").starts_with("OK\nb.bin\t700000\t"));
        assert_eq!(names(&mnt), ["b.bin"], "{model}");
        drop(server);
        std::fs::remove_file(mnt.join("b.bin")).unwrap();
    }
}

// ---- the command line client ----------------------------------------------

fn netkit(args: &[&str], cwd: &Path) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run netkit")
}

#[test]
fn one_shot_commands_and_exit_codes() {
    let (dir, files) = library();
    let server = serve(dir.path(), &["--writable"]);
    let a = addr(&server);
    let here = tempfile::tempdir().unwrap();
    let cwd = here.path();

    let ls = netkit(&["files", "ls", &a, "--raw"], cwd);
    assert!(ls.status.success());
    let text = String::from_utf8(ls.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains(&format!("big.bin\t{}\t", 5 << 20)));

    let out = netkit(&["files", "get", &a, "big.bin", "-o", "-"], cwd);
    assert!(out.status.success());
    assert!(out.stdout == files[2].1, "stdout download differs");

    // Through a pipe (the splice fast path) and into a file.
    let piped = Command::new("sh")
        .arg("-c")
        .arg(format!("'{}' files get {a} big.bin -o - | cat", bin()))
        .output()
        .unwrap();
    assert!(piped.status.success() && piped.stdout == files[2].1);
    assert!(
        netkit(&["files", "get", &a, "big.bin"], cwd)
            .status
            .success()
    );
    assert!(std::fs::read(cwd.join("big.bin")).unwrap() == files[2].1);
    assert!(
        netkit(&["files", "get", &a, "empty", "-o", "e"], cwd)
            .status
            .success()
    );
    assert_eq!(std::fs::read(cwd.join("e")).unwrap(), b"");

    // Existing local file: exit 1 without --force, replaced with it.
    std::fs::write(cwd.join("one"), b"local").unwrap();
    let out = netkit(&["files", "get", &a, "one"], cwd);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read(cwd.join("one")).unwrap(), b"local");
    assert!(
        netkit(&["files", "get", &a, "one", "--force"], cwd)
            .status
            .success()
    );
    assert_eq!(std::fs::read(cwd.join("one")).unwrap(), b"x");

    // Refused by the server: exit 3, and no local file appears.
    let out = netkit(&["files", "get", &a, "nothere", "-o", "n"], cwd);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));
    assert!(!cwd.join("n").exists());

    // Upload, then the same name again (exists: exit 3), then under another name.
    std::fs::write(cwd.join("up.txt"), b"uploaded").unwrap();
    assert!(
        netkit(&["files", "put", &a, "up.txt"], cwd)
            .status
            .success()
    );
    assert_eq!(
        std::fs::read(dir.path().join("up.txt")).unwrap(),
        b"uploaded"
    );
    assert_eq!(
        netkit(&["files", "put", &a, "up.txt"], cwd).status.code(),
        Some(3)
    );
    assert!(
        netkit(&["files", "put", &a, "up.txt", "--as", "copy.txt"], cwd)
            .status
            .success()
    );
    assert_eq!(
        netkit(&["files", "put", &a, "missing.txt"], cwd)
            .status
            .code(),
        Some(1)
    );

    // No temporary files on either side.
    assert!(
        names(cwd).iter().all(|n| !n.starts_with('.')),
        "{:?}",
        names(cwd)
    );
    assert!(names(dir.path()).iter().all(|n| !n.starts_with('.')));

    // Nobody listening: exit 4.
    drop(server);
    let out = netkit(&["files", "ls", &a, "--timeout", "2s"], cwd);
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn download_cut_off_leaves_no_local_file() {
    // A fake server that announces 1000 bytes and sends 10.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = listener.local_addr().unwrap().to_string();
    let fake = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut h = [0u8; 4];
        s.read_exact(&mut h).unwrap();
        let mut req = vec![0u8; u32::from_be_bytes(h) as usize];
        s.read_exact(&mut req).unwrap();
        s.write_all(&[0, 0, 0, 7]).unwrap();
        s.write_all(b"OK 1000").unwrap();
        s.write_all(&[1; 10]).unwrap();
    });
    let here = tempfile::tempdir().unwrap();
    let out = netkit(&["files", "get", &a, "f"], here.path());
    fake.join().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("after 10 of 1000 bytes"));
    assert!(names(here.path()).is_empty(), "{:?}", names(here.path()));
}

#[test]
fn menu_client_with_piped_input() {
    let (dir, files) = library();
    let server = serve(dir.path(), &["--writable"]);
    let here = tempfile::tempdir().unwrap();
    std::fs::write(here.path().join("mine.txt"), b"from the menu").unwrap();
    std::fs::write(here.path().join("one"), b"keep me").unwrap();
    let mut child = Command::new(bin())
        .args(["files", "connect", &addr(&server)])
        .current_dir(here.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"1\n2 big.bin\nget\none\nn\n3 mine.txt\n2 nothere\nwhat\nlist\n4\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("big.bin") && text.contains("5.0 MiB"),
        "{text}"
    );
    assert!(text.contains("saved ./big.bin"), "{text}");
    assert!(text.contains("kept the local file"), "{text}");
    assert!(text.contains("uploaded mine.txt"), "{text}");
    assert!(
        text.contains("error: server refused: no such file"),
        "{text}"
    );
    assert!(text.contains("unknown choice 'what'"), "{text}");
    assert!(
        text.contains("mine.txt") && text.trim_end().ends_with("bye"),
        "{text}"
    );
    assert!(std::fs::read(here.path().join("big.bin")).unwrap() == files[2].1);
    assert_eq!(std::fs::read(here.path().join("one")).unwrap(), b"keep me");
    assert_eq!(
        std::fs::read(dir.path().join("mine.txt")).unwrap(),
        b"from the menu"
    );
}

/// Open descriptors of process `pid`.
fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Clients that pipeline thousands of `G` requests and never read hold a
/// bounded number of open files each (the server takes their further
/// requests only as the replies go out), so other clients are still served.
#[test]
fn pipelined_downloads_that_are_never_read_hold_few_descriptors() {
    let (dir, _files) = library();
    // Replies too big to all fit in the socket buffers, too small for the
    // output bound to stop the server reading.
    std::fs::write(dir.path().join("4k"), [b'y'; 4096]).unwrap();
    for model in ["epoll", "async", "thread"] {
        let server = serve(dir.path(), &["--model", model]);
        let before = open_fds(server.pid());
        let mut frame = Vec::new();
        for _ in 0..3000 {
            frame.extend_from_slice(&4u32.to_be_bytes());
            frame.extend_from_slice(b"G 4k");
        }
        let hostile: Vec<TcpStream> = (0..3)
            .map(|_| {
                let mut s = raw(&server);
                s.write_all(&frame).unwrap();
                s
            })
            .collect();
        // Give the server time to take in what they sent.
        std::thread::sleep(Duration::from_millis(500));
        let mut good = Client::connect(&addr(&server), TIMEOUT).unwrap();
        assert_eq!(get(&mut good, "one").unwrap(), b"x", "{model}");
        let held = open_fds(server.pid()).saturating_sub(before);
        // 3 hostile and 1 good connection, at most 8 queued files each.
        assert!(held <= 4 + 4 * 8, "{model}: {held} more descriptors open");
        drop(hostile);
    }
}

/// Upload names that display as something else (a U+202E right-to-left
/// override, a zero-width space) are refused like any other bad name.
#[test]
fn deceptive_upload_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--model", "thread", "--writable"]);
    let mut s = raw(&server);
    for name in ["gpj\u{202E}.exe", "a\u{200B}b.txt"] {
        let reply = ask(&mut s, format!("P {name} 3").as_bytes());
        assert!(
            reply.starts_with("ERR file name must not contain invisible"),
            "{name:?}: {reply}"
        );
    }
    assert_eq!(ask(&mut s, b"P plain.txt 3"), "OK");
    s.write_all(b"abc").unwrap();
    assert_eq!(recv(&mut s).as_deref(), Some("OK 3"));
    assert_eq!(names(dir.path()), ["plain.txt"]);
}

/// An upload still arriving when the shutdown grace period ends gets an
/// `ERR` saying it was not stored (not just a closed connection), and leaves
/// no file behind.
#[test]
fn upload_cut_by_shutdown_gets_err() {
    for model in ["fork", "thread", "epoll", "async", "uring"] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap().to_string();
        let mut server = Running(Server::start(&[
            "files",
            "serve",
            &root,
            "--port",
            "0",
            "--writable",
            "--model",
            model,
            "--shutdown-timeout",
            "500ms",
        ]));
        let mut s = raw(&server);
        assert_eq!(ask(&mut s, b"P big.bin 10000000"), "OK");
        s.write_all(&payload(100_000, 3)).unwrap();
        assert!(eventually(Duration::from_secs(5), || names(dir.path())
            .len()
            == 1));
        server.signal(libc::SIGTERM);
        let reply = recv(&mut s);
        assert_eq!(
            reply.as_deref(),
            Some("ERR the server is shutting down; the upload was not stored"),
            "{model}"
        );
        assert!(
            server.wait_exit(Duration::from_secs(10)).is_some(),
            "{model}"
        );
        assert!(
            eventually(Duration::from_secs(5), || names(dir.path()).is_empty()),
            "{model}: left {:?}",
            names(dir.path())
        );
    }
}
