//! `netkit http` as a file-sharing server: uploads (`PUT`, multipart forms),
//! new folders and deletions, folders as archives, and the listing's order,
//! with real curl, tar and python clients and raw sockets, on several models.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use util::*;

/// The models every behaviour is checked on: a thread and a process per
/// connection, the event loop, and tokio.
const MODELS: &[&str] = &["thread", "fork", "epoll", "async", "uring"];

/// A served folder (and a folder beside it, outside the root), removed on drop.
struct Tree {
    root: PathBuf,
    outside: PathBuf,
}

impl Tree {
    fn new(tag: &str) -> Tree {
        let base = std::env::temp_dir().join(format!("netkit-share-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        let outside = base.join("outside");
        std::fs::create_dir_all(root.join("docs/sub")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("hello.txt"), "hello\n").unwrap();
        std::fs::write(root.join("docs/a.txt"), "aaa").unwrap();
        std::fs::write(root.join("docs/sub/deep.txt"), "deep").unwrap();
        std::fs::write(root.join("docs/.secret"), "hidden").unwrap();
        std::fs::write(root.join(".env"), "TOKEN=1").unwrap();
        std::fs::write(outside.join("secret.txt"), "outside").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("out")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("escape.txt")).unwrap();
        std::os::unix::fs::symlink("../hello.txt", root.join("docs/link-in.txt")).unwrap();
        Tree { root, outside }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Every name under the root and outside it, recursively (to prove that
    /// nothing appeared or vanished).
    fn snapshot(&self) -> Vec<String> {
        let mut all = Vec::new();
        for (tag, dir) in [("in", &self.root), ("out", &self.outside)] {
            walk(dir, &mut |p| {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                all.push(format!("{tag}:{rel}"));
            });
        }
        all.sort();
        all
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        f(&p);
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&p, f);
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.root.parent().unwrap());
    }
}

/// Temporary upload files left in `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".netkit-upload-"))
        .collect()
}

fn serve(root: &Path, model: &str, extra: &[&str]) -> Running {
    let mut args = vec![
        "http",
        root.to_str().unwrap(),
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--model",
        model,
        "--quiet",
        "--file-cache",
        "0",
    ];
    args.extend_from_slice(extra);
    Running(Server::start(&args))
}

/// Runs curl with `args` against `url`; returns (status, body).
fn curl(url: &str, args: &[&str]) -> (u16, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl runs (Debian package curl)");
    let mut body = out.stdout;
    let nl = body.iter().rposition(|&b| b == b'\n').expect("status line");
    let status = String::from_utf8_lossy(&body[nl + 1..])
        .trim()
        .parse()
        .unwrap_or(0);
    body.truncate(nl);
    (status, body)
}

/// One raw request; returns the status and the whole response.
fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut v = Vec::new();
    let _ = s.read_to_end(&mut v);
    let text = String::from_utf8_lossy(&v).into_owned();
    (status_of(&text), text)
}

fn status_of(text: &str) -> u16 {
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Reads one response head (up to the blank line) from `s`.
fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[test]
fn put_stores_refuses_and_limits_on_every_model() {
    for model in MODELS {
        let tree = Tree::new(&format!("put-{model}"));
        let s = serve(&tree.root, model, &["--upload", "--max-upload", "4M"]);
        let base = format!("http://{}", s.tcp());
        let local = tree.root.parent().unwrap().join("local.bin");
        let data = payload(2 << 20, 7);
        std::fs::write(&local, &data).unwrap();
        let local = local.to_str().unwrap();

        // curl -T (2 MiB: curl sends Expect: 100-continue) into a subfolder.
        let (st, body) = curl(&format!("{base}/docs/"), &["-T", local]);
        assert_eq!(st, 201, "{model}: {}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("stored /docs/local.bin"));
        assert_eq!(
            std::fs::read(tree.path("docs/local.bin")).unwrap(),
            data,
            "{model}"
        );
        assert!(temporaries(&tree.path("docs")).is_empty());

        // The same name again: refused, the file unchanged.
        let other = tree.root.parent().unwrap().join("other");
        std::fs::write(&other, b"other").unwrap();
        let (st, body) = curl(
            &format!("{base}/docs/local.bin"),
            &["-T", other.to_str().unwrap()],
        );
        assert_eq!(st, 409, "{model}: {}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("--overwrite"));
        assert_eq!(std::fs::read(tree.path("docs/local.bin")).unwrap(), data);
        let (st, _) = curl(
            &format!("{base}/docs/local.bin"),
            &["-T", other.to_str().unwrap(), "-H", "If-None-Match: *"],
        );
        assert_eq!(st, 412, "{model}");

        // Over --max-upload: 413 before the body, nothing stored.
        let big = tree.root.parent().unwrap().join("big.bin");
        std::fs::write(&big, payload(5 << 20, 1)).unwrap();
        let (st, body) = curl(&format!("{base}/big.bin"), &["-T", big.to_str().unwrap()]);
        assert_eq!(st, 413, "{model}: {}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("4.0 MiB"));
        assert!(!tree.path("big.bin").exists());

        // Chunked (curl -T - reads stdin) and empty bodies.
        let mut child = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", "-"])
            .arg(format!("{base}/piped.txt"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"through a pipe\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "201",
            "{model}: chunked PUT"
        );
        assert_eq!(
            std::fs::read(tree.path("piped.txt")).unwrap(),
            b"through a pipe\n"
        );
        let (st, _) = curl(&format!("{base}/empty.txt"), &["-T", "/dev/null"]);
        assert_eq!(st, 201, "{model}");
        assert_eq!(std::fs::read(tree.path("empty.txt")).unwrap(), b"");
        // A folder under the name, a hidden name: refused.
        let (st, _) = curl(&format!("{base}/docs"), &["-T", local]);
        assert_eq!(st, 409, "{model}: PUT onto a folder");
        let (st, _) = curl(&format!("{base}/.profile"), &["-T", local]);
        assert_eq!(st, 403, "{model}: hidden name");
        assert!(!tree.path(".profile").exists());
        assert!(temporaries(&tree.root).is_empty(), "{model}");
        // What was stored is served.
        let (st, body) = curl(&format!("{base}/docs/local.bin"), &[]);
        assert_eq!((st, body.len()), (200, data.len()), "{model}");
    }
}

#[test]
fn uploads_may_take_longer_than_the_header_timeout_and_stalled_ones_are_dropped() {
    for model in ["thread", "epoll"] {
        let tree = Tree::new(&format!("slow-{model}"));
        let s = serve(
            &tree.root,
            model,
            &["--upload", "--header-timeout", "1s", "--idle-timeout", "2s"],
        );
        let local = tree.root.parent().unwrap().join("slow.bin");
        std::fs::write(&local, payload(1 << 20, 12)).unwrap();
        // About 2.5 s at 400 KB/s: longer than the 1 s header timeout.
        let (st, body) = curl(
            &format!("http://{}/slow.bin", s.tcp()),
            &["--limit-rate", "400K", "-T", local.to_str().unwrap()],
        );
        assert_eq!(st, 201, "{model}: {}", String::from_utf8_lossy(&body));
        assert_eq!(
            std::fs::read(tree.path("slow.bin")).unwrap(),
            payload(1 << 20, 12)
        );
        // One that stops sending is closed after the idle timeout, its temporary removed.
        let mut c = TcpStream::connect(s.tcp()).unwrap();
        c.write_all(b"PUT /stalled.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
            .unwrap();
        assert!(
            eventually(WAIT, || !temporaries(&tree.root).is_empty()),
            "{model}"
        );
        assert!(
            eventually(Duration::from_secs(10), || temporaries(&tree.root)
                .is_empty()),
            "{model}: a stalled upload is dropped"
        );
        assert!(!tree.path("stalled.bin").exists());
        drop(c);
    }
}

#[test]
fn expect_100_continue_is_honoured_and_refusals_come_before_the_body() {
    for model in ["thread", "epoll"] {
        let tree = Tree::new(&format!("expect-{model}"));
        let s = serve(&tree.root, model, &["--upload"]);
        let mut c = TcpStream::connect(s.tcp()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(b"PUT /new.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            .unwrap();
        let interim = read_head(&mut c);
        assert!(
            interim.starts_with("HTTP/1.1 100 Continue"),
            "{model}: {interim}"
        );
        assert!(!tree.path("new.txt").exists(), "nothing before the body");
        c.write_all(b"hello").unwrap();
        let head = read_head(&mut c);
        assert!(head.starts_with("HTTP/1.1 201"), "{model}: {head}");
        assert_eq!(std::fs::read(tree.path("new.txt")).unwrap(), b"hello");

        // A refused upload is answered at once, without 100 Continue.
        let mut c = TcpStream::connect(s.tcp()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(b"PUT /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n")
            .unwrap();
        let head = read_head(&mut c);
        assert!(head.starts_with("HTTP/1.1 409"), "{model}: {head}");
        assert!(head.contains("Connection: close"), "{head}");
        assert_eq!(std::fs::read(tree.path("hello.txt")).unwrap(), b"hello\n");

        // A small refused body that is sent anyway is read and dropped: the
        // connection goes on.
        let (st, text) = raw(
            s.tcp(),
            b"PUT /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(st, 409, "{model}");
        assert!(
            text.contains("HTTP/1.1 200 OK") && text.ends_with("hello\n"),
            "{text}"
        );
    }
}

#[test]
fn overwrite_replaces_atomically_and_a_cut_replacement_keeps_the_old_file() {
    for model in ["thread", "epoll", "async"] {
        let tree = Tree::new(&format!("over-{model}"));
        let s = serve(&tree.root, model, &["--upload", "--overwrite"]);
        let target = tree.path("hello.txt");
        // Half a replacement: the old content is still there, whole.
        let mut c = TcpStream::connect(s.tcp()).unwrap();
        c.write_all(b"PUT /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
            .unwrap();
        c.write_all(&vec![b'n'; 400_000]).unwrap();
        assert!(
            eventually(WAIT, || !temporaries(&tree.root).is_empty()),
            "{model}: temp file"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"hello\n");
        drop(c); // the client goes away
        assert!(
            eventually(WAIT, || temporaries(&tree.root).is_empty()),
            "{model}: temp removed"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"hello\n");

        // A whole replacement: 200, and the new content (same inode never half-written).
        let new = tree.root.parent().unwrap().join("new");
        std::fs::write(&new, payload(300_000, 3)).unwrap();
        let (st, body) = curl(
            &format!("http://{}/hello.txt", s.tcp()),
            &["-T", new.to_str().unwrap()],
        );
        assert_eq!(st, 200, "{model}: {}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).starts_with("replaced /hello.txt"));
        assert_eq!(std::fs::read(&target).unwrap(), payload(300_000, 3));
        // Never a folder or a link.
        let (st, _) = curl(
            &format!("http://{}/docs", s.tcp()),
            &["-T", new.to_str().unwrap()],
        );
        assert_eq!(st, 409);
        let (st, _) = curl(
            &format!("http://{}/escape.txt", s.tcp()),
            &["-T", new.to_str().unwrap()],
        );
        assert_eq!(st, 403);
        assert_eq!(
            std::fs::read(tree.outside.join("secret.txt")).unwrap(),
            b"outside"
        );
    }
}

#[test]
fn cut_uploads_leave_nothing_on_every_model() {
    for model in MODELS {
        let tree = Tree::new(&format!("cut-{model}"));
        let s = serve(&tree.root, model, &["--upload"]);
        // A raw client that stops halfway.
        let mut c = TcpStream::connect(s.tcp()).unwrap();
        c.write_all(b"PUT /half.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n")
            .unwrap();
        c.write_all(&payload(1 << 20, 5)).unwrap();
        assert!(
            eventually(WAIT, || !temporaries(&tree.root).is_empty()),
            "{model}"
        );
        drop(c);
        assert!(
            eventually(WAIT, || temporaries(&tree.root).is_empty()),
            "{model}: temp left"
        );
        assert!(!tree.path("half.bin").exists(), "{model}");

        // curl, killed mid-body (paced so it is still sending).
        let local = tree.root.parent().unwrap().join("slow.bin");
        std::fs::write(&local, payload(8 << 20, 9)).unwrap();
        let mut child = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "--limit-rate", "1M", "-T"])
            .arg(&local)
            .arg(format!("http://{}/slow.bin", s.tcp()))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(
            eventually(Duration::from_secs(5), || !temporaries(&tree.root)
                .is_empty()),
            "{model}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            eventually(WAIT, || temporaries(&tree.root).is_empty()),
            "{model}: temp left by curl"
        );
        assert!(!tree.path("slow.bin").exists(), "{model}");
        // The server goes on.
        let (st, _) = curl(&format!("http://{}/hello.txt", s.tcp()), &[]);
        assert_eq!(st, 200);
    }
}

/// Requests no write may get through: (method, target, extra head, body).
fn hostile_requests() -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    let paths = [
        "/../evil.txt",
        "/%2e%2e/evil.txt",
        "/docs/%2E%2E/%2e%2e/evil.txt",
        "/a%2fb.txt",
        "/a%5cb.txt",
        "/a%00b.txt",
        "http://x/../evil.txt",
        "/.env",
        "/.git/config",
        "/.git/new.txt",
        "/docs/.hidden",
        "/out/evil.txt",
        "/out/",
        "/escape.txt",
        "evil.txt",
    ];
    for m in ["PUT", "MKCOL", "DELETE"] {
        for p in paths {
            v.push((m, p.to_string()));
        }
    }
    v
}

#[test]
fn hostile_names_and_paths_are_refused_for_every_write_method_on_every_model() {
    for model in MODELS {
        let tree = Tree::new(&format!("hostile-{model}"));
        let s = serve(
            &tree.root,
            model,
            &["--upload", "--mkdir", "--delete", "--overwrite"],
        );
        let before = tree.snapshot();
        for (method, target) in hostile_requests() {
            let req = format!(
                "{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nEVIL"
            );
            let (st, text) = raw(s.tcp(), req.as_bytes());
            assert!(
                matches!(st, 400 | 403 | 404 | 409),
                "{model}: {method} {target} got {st}: {text}"
            );
            assert!(
                !text.contains(tree.root.to_str().unwrap()),
                "a path in {text}"
            );
        }
        // Multipart: a hostile folder, hostile file names.
        for (folder, filename) in [
            ("/out/", "x.txt"),
            ("/.git/", "x.txt"),
            ("/../", "x.txt"),
            ("/docs/", "../x.txt"),
            ("/docs/", ".bashrc"),
            ("/docs/", "a/b.txt"),
            ("/docs/", "gpj\u{202E}.exe"),
            ("/docs/", ""),
        ] {
            let body = format!(
                "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\r\nEVIL\r\n--B--\r\n"
            );
            let req = format!(
                "POST {folder} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let (st, text) = raw(s.tcp(), req.as_bytes());
            assert!(
                matches!(st, 400 | 403 | 404),
                "{model}: POST {folder} {filename:?}: {text}"
            );
        }
        // Plain forms with hostile names.
        for field in [
            "mkdir=..",
            "mkdir=.x",
            "delete=..%2F..%2Fetc",
            "delete=.env",
            "delete=escape.txt",
            "mkdir=a%2Fb",
        ] {
            let req = format!(
                "POST /docs/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{field}",
                field.len()
            );
            let (st, text) = raw(s.tcp(), req.as_bytes());
            assert!(
                matches!(st, 400 | 403 | 404),
                "{model}: form {field}: {text}"
            );
        }
        // Deleting the root itself.
        let (st, _) = raw(
            s.tcp(),
            b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(st, 403, "{model}");
        assert_eq!(tree.snapshot(), before, "{model}: the disk changed");
        assert!(temporaries(&tree.root).is_empty());
        assert!(temporaries(&tree.path("docs")).is_empty());
    }
}

#[test]
fn multipart_form_with_two_files_on_every_model() {
    for model in MODELS {
        let tree = Tree::new(&format!("form-{model}"));
        let s = serve(&tree.root, model, &["--upload"]);
        let dir = tree.root.parent().unwrap();
        let (a, b) = (dir.join("one.bin"), dir.join("two words.txt"));
        std::fs::write(&a, payload(700_000, 11)).unwrap();
        std::fs::write(&b, "second\r\n--not a boundary\r\n").unwrap();
        let (st, body) = curl(
            &format!("http://{}/docs/", s.tcp()),
            &[
                "-F",
                &format!("file=@{}", a.display()),
                "-F",
                &format!("file=@{}", b.display()),
                "-F",
                "note=just a field",
            ],
        );
        let text = String::from_utf8_lossy(&body);
        assert_eq!(st, 201, "{model}: {text}");
        assert!(text.contains("one.bin, two words.txt"), "{text}");
        assert_eq!(
            std::fs::read(tree.path("docs/one.bin")).unwrap(),
            payload(700_000, 11)
        );
        assert_eq!(
            std::fs::read(tree.path("docs/two words.txt")).unwrap(),
            b"second\r\n--not a boundary\r\n"
        );
        assert!(temporaries(&tree.path("docs")).is_empty());

        // A browser's post goes back to the listing.
        let (st, _) = curl(
            &format!("http://{}/docs/sub/", s.tcp()),
            &[
                "-F",
                &format!("file=@{}", a.display()),
                "-H",
                "Accept: text/html",
            ],
        );
        assert_eq!(st, 303, "{model}");
        assert!(tree.path("docs/sub/one.bin").exists());

        // The same names again: 409, nothing replaced, nothing left.
        let (st, body) = curl(
            &format!("http://{}/docs/", s.tcp()),
            &["-F", &format!("file=@{}", b.display())],
        );
        assert_eq!(st, 409, "{model}: {}", String::from_utf8_lossy(&body));
        assert!(temporaries(&tree.path("docs")).is_empty());
        // Not multipart, not a folder: clear refusals.
        let (st, _) = curl(
            &format!("http://{}/docs/a.txt", s.tcp()),
            &["-F", &format!("file=@{}", b.display())],
        );
        assert_eq!(st, 400);
    }
}

#[test]
fn disk_full_is_507_and_leaves_nothing_behind() {
    let Some(fs) = Tmpfs::mount("1m") else {
        eprintln!("SKIPPED: disk-full test needs root to mount a small tmpfs");
        return;
    };
    for model in ["thread", "epoll"] {
        let s = serve(fs.path(), model, &["--upload"]);
        let local = std::env::temp_dir().join(format!("netkit-share-full-{}", std::process::id()));
        std::fs::write(&local, payload(3 << 20, 2)).unwrap();
        // Announced larger than the free space: refused before the body.
        let (st, body) = curl(
            &format!("http://{}/big.bin", s.tcp()),
            &["-T", local.to_str().unwrap()],
        );
        assert_eq!(st, 507, "{model}: {}", String::from_utf8_lossy(&body));
        // Chunked, so no size is announced: the disk fills while writing.
        let mut child = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", "-"])
            .arg(format!("http://{}/chunked.bin", s.tcp()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&payload(3 << 20, 4))
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "507",
            "{model}: chunked to a full disk"
        );
        let names: Vec<_> = std::fs::read_dir(fs.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(names.is_empty(), "{model}: left {names:?}");
        let _ = std::fs::remove_file(&local);
        // And a multipart upload to a full disk.
        let big = std::env::temp_dir().join(format!("netkit-share-full2-{}", std::process::id()));
        std::fs::write(&big, payload(3 << 20, 6)).unwrap();
        let (st, _) = curl(
            &format!("http://{}/", s.tcp()),
            &["-F", &format!("file=@{}", big.display())],
        );
        assert_eq!(st, 507, "{model}: multipart");
        assert_eq!(std::fs::read_dir(fs.path()).unwrap().count(), 0);
        let _ = std::fs::remove_file(&big);
    }
}

#[test]
fn mkdir_and_delete_confined_and_each_opt_in() {
    for model in MODELS {
        let tree = Tree::new(&format!("edit-{model}"));
        let s = serve(&tree.root, model, &["--mkdir", "--delete"]);
        let base = format!("http://{}", s.tcp());
        let (st, _) = curl(&format!("{base}/docs/new/"), &["-X", "MKCOL"]);
        assert_eq!(st, 201, "{model}");
        assert!(tree.path("docs/new").is_dir());
        let (st, _) = curl(&format!("{base}/docs/new/"), &["-X", "MKCOL"]);
        assert_eq!(st, 405, "{model}: exists");
        let (st, _) = curl(&format!("{base}/missing/x/"), &["-X", "MKCOL"]);
        assert_eq!(st, 409, "{model}: no parent");
        let (st, _) = curl(&format!("{base}/docs/"), &["-X", "DELETE"]);
        assert_eq!(st, 409, "{model}: not empty");
        let (st, _) = curl(&format!("{base}/docs/new/"), &["-X", "DELETE"]);
        assert_eq!(st, 200, "{model}");
        assert!(!tree.path("docs/new").exists());
        let (st, _) = curl(&format!("{base}/docs/a.txt"), &["-X", "DELETE"]);
        assert_eq!(st, 200, "{model}");
        assert!(!tree.path("docs/a.txt").exists());
        let (st, _) = curl(&format!("{base}/docs/a.txt"), &["-X", "DELETE"]);
        assert_eq!(st, 404, "{model}");
        let (st, _) = curl(&format!("{base}/docs/link-in.txt"), &["-X", "DELETE"]);
        assert_eq!(st, 403, "{model}: links are not deleted");
        // The listing's plain forms.
        let (st, _) = curl(
            &format!("{base}/docs/"),
            &["-d", "mkdir=From a form", "-H", "Accept: text/html"],
        );
        assert_eq!(st, 303, "{model}");
        assert!(tree.path("docs/From a form").is_dir());
        let (st, _) = curl(&format!("{base}/docs/"), &["-d", "delete=From+a+form"]);
        assert_eq!(st, 200, "{model}");
        assert!(!tree.path("docs/From a form").exists());
        // Uploads are off here.
        let (st, body) = curl(&format!("{base}/x.txt"), &["-T", "/dev/null"]);
        assert_eq!(st, 403, "{model}");
        assert!(String::from_utf8_lossy(&body).contains("--upload"));
    }
    // Without the flags: nothing changes the disk.
    let tree = Tree::new("edit-off");
    let s = serve(&tree.root, "epoll", &["--upload"]);
    let (st, body) = curl(&format!("http://{}/docs/new/", s.tcp()), &["-X", "MKCOL"]);
    assert_eq!(st, 403);
    assert!(String::from_utf8_lossy(&body).contains("--mkdir"));
    let (st, _) = curl(&format!("http://{}/hello.txt", s.tcp()), &["-X", "DELETE"]);
    assert_eq!(st, 403);
    assert!(tree.path("hello.txt").exists());
    let s = serve(&tree.root, "epoll", &[]);
    let (st, _) = curl(&format!("http://{}/x.txt", s.tcp()), &["-T", "/dev/null"]);
    assert_eq!(st, 405, "a read-only server");
}

/// A tree for archives: nested folders, a long name, an empty file, and
/// what the policy leaves out (hidden names, links that lead out).
fn archive_tree(tag: &str) -> Tree {
    let tree = Tree::new(tag);
    let long = format!("{}/{}", "l".repeat(90), "n".repeat(120));
    std::fs::create_dir_all(tree.path(&format!("docs/{}", "l".repeat(90)))).unwrap();
    std::fs::write(tree.path(&format!("docs/{long}")), "long").unwrap();
    std::fs::write(tree.path("docs/empty"), "").unwrap();
    std::fs::write(tree.path("docs/big.bin"), payload(3 << 20, 8)).unwrap();
    std::os::unix::fs::symlink(tree.outside.join("secret.txt"), tree.path("docs/leak.txt"))
        .unwrap();
    tree
}

/// What `docs` holds as an archive lists it.
fn archive_names() -> Vec<String> {
    let long = format!("docs/{}/{}", "l".repeat(90), "n".repeat(120));
    let mut v = vec![
        "docs/".to_string(),
        "docs/a.txt".into(),
        "docs/big.bin".into(),
        "docs/empty".into(),
        format!("docs/{}/", "l".repeat(90)),
        long,
        "docs/link-in.txt".into(),
        "docs/sub/".into(),
        "docs/sub/deep.txt".into(),
    ];
    v.sort();
    v
}

fn lines(out: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(out)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn archives_as_tar_targz_and_zip_on_every_model() {
    for model in MODELS {
        let tree = archive_tree(&format!("arch-{model}"));
        let s = serve(&tree.root, model, &["--archives"]);
        let work = tree.root.parent().unwrap().join("work");
        std::fs::create_dir_all(&work).unwrap();
        for (format, list) in [
            ("tar", vec!["tar", "-tf"]),
            ("tar.gz", vec!["tar", "-tzf"]),
            (
                "zip",
                vec![
                    "python3",
                    "-c",
                    "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print('\\n'.join(z.namelist()))",
                ],
            ),
        ] {
            let file = work.join(format!("docs.{format}"));
            let (st, body) = curl(&format!("http://{}/docs/?download={format}", s.tcp()), &[]);
            assert_eq!(
                st,
                200,
                "{model} {format}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
            std::fs::write(&file, &body).unwrap();
            let out = Command::new(list[0])
                .args(&list[1..])
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{model} {format}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(lines(&out.stdout), archive_names(), "{model} {format}");
            // Unpacked, every file is what is on disk.
            let into = work.join(format!("x-{}", format.replace('.', "")));
            std::fs::create_dir_all(&into).unwrap();
            let ok = if format == "zip" {
                Command::new("python3")
                    .args(["-m", "zipfile", "-e"])
                    .arg(&file)
                    .arg(&into)
                    .status()
            } else {
                Command::new("tar")
                    .arg("-xf")
                    .arg(&file)
                    .arg("-C")
                    .arg(&into)
                    .status()
            };
            assert!(ok.unwrap().success(), "{model} {format}: unpack");
            for name in archive_names().iter().filter(|n| !n.ends_with('/')) {
                let original = if name == "docs/link-in.txt" {
                    tree.path("hello.txt")
                } else {
                    tree.path(name)
                };
                assert_eq!(
                    std::fs::read(into.join(name)).unwrap(),
                    std::fs::read(original).unwrap(),
                    "{model} {format}: {name}"
                );
            }
            if format == "zip" {
                let t = Command::new("python3")
                    .args(["-m", "zipfile", "-t"])
                    .arg(&file)
                    .output()
                    .unwrap();
                assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
            }
        }
        // The root as an archive leaves out hidden names and links that lead out.
        let (st, body) = curl(&format!("http://{}/?download=tar", s.tcp()), &[]);
        assert_eq!(st, 200);
        let file = work.join("root.tar");
        std::fs::write(&file, &body).unwrap();
        let out = Command::new("tar").arg("-tf").arg(&file).output().unwrap();
        let names = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(names.contains("root/hello.txt"), "{names}");
        for absent in [
            ".env",
            ".git",
            ".secret",
            "escape.txt",
            "leak.txt",
            "root/out/",
            "secret",
        ] {
            assert!(!names.contains(absent), "{model}: {absent} in {names}");
        }
        // Clear refusals.
        let (st, _) = curl(&format!("http://{}/docs/?download=rar", s.tcp()), &[]);
        assert_eq!(st, 400);
        let (st, _) = curl(&format!("http://{}/hello.txt?download=zip", s.tcp()), &[]);
        assert_eq!(st, 400);
        let (st, _) = curl(&format!("http://{}/.git/?download=zip", s.tcp()), &[]);
        assert_eq!(st, 404);
        let (st, body) = curl(&format!("http://{}/docs/?download=zip", s.tcp()), &["-I"]);
        assert_eq!(st, 200, "HEAD");
        assert!(String::from_utf8_lossy(&body).contains("filename=\"docs.zip\""));
    }
    // Off without --archives: the listing as usual.
    let tree = archive_tree("arch-off");
    let s = serve(&tree.root, "epoll", &[]);
    let (st, body) = curl(&format!("http://{}/docs/?download=tar", s.tcp()), &[]);
    assert_eq!(st, 200);
    assert!(String::from_utf8_lossy(&body).contains("<title>Index of /docs/</title>"));
}

/// Reads a chunked body off `s` until the connection ends; returns the
/// de-chunked bytes and whether the final (zero) chunk came.
fn read_chunked(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let Some(nl) = raw[pos..].windows(2).position(|w| w == b"\r\n") else {
            return (body, false);
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[pos..pos + nl]).unwrap_or("x"), 16);
        let Ok(size) = size else { return (body, false) };
        pos += nl + 2;
        if size == 0 {
            return (body, true);
        }
        let end = (pos + size).min(raw.len());
        body.extend_from_slice(&raw[pos..end]);
        if end < pos + size {
            return (body, false);
        }
        pos = end + 2;
    }
}

#[test]
fn a_file_that_vanishes_mid_stream_cuts_the_archive_and_unpackers_reject_it() {
    for (model, format) in [
        ("epoll", "tar"),
        ("thread", "zip"),
        ("async", "tar.gz"),
        ("fork", "tar"),
    ] {
        let tree = Tree::new(&format!("vanish-{model}"));
        std::fs::create_dir(tree.path("v")).unwrap();
        std::fs::write(tree.path("v/a.bin"), payload(48 << 20, 1)).unwrap();
        std::fs::write(tree.path("v/b.txt"), "soon gone").unwrap();
        let s = serve(&tree.root, model, &["--archives"]);
        let mut c = TcpStream::connect(s.tcp()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(
            format!("GET /v/?download={format} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        let head = read_head(&mut c);
        assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
        // The client stalls on the big file; b.txt goes meanwhile.
        std::thread::sleep(Duration::from_millis(300));
        std::fs::remove_file(tree.path("v/b.txt")).unwrap();
        let (body, ended) = read_chunked(&mut c);
        assert!(!ended, "{model} {format}: the stream must not end properly");
        assert!(body.len() > 40 << 20, "{model}: got {} bytes", body.len());
        let file = tree.root.parent().unwrap().join(format!("cut.{format}"));
        std::fs::write(&file, &body).unwrap();
        let check = match format {
            "zip" => Command::new("python3")
                .args(["-m", "zipfile", "-t"])
                .arg(&file)
                .output(),
            "tar.gz" => Command::new("tar").arg("-tzf").arg(&file).output(),
            _ => Command::new("tar").arg("-tf").arg(&file).output(),
        }
        .unwrap();
        assert!(
            !check.status.success(),
            "{model} {format}: a cut archive was accepted"
        );
        assert!(
            s.wait_log("vanished") || s.wait_log("cut"),
            "{model}: not logged: {}",
            s.log()
        );
        // curl says so too.
        std::fs::write(tree.path("v/b.txt"), "back").unwrap();
        let st = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "--limit-rate", "20M"])
            .arg(format!("http://{}/v/?download={format}", s.tcp()))
            .stderr(Stdio::null())
            .spawn()
            .map(|mut child| {
                std::thread::sleep(Duration::from_millis(300));
                let _ = std::fs::remove_file(tree.path("v/b.txt"));
                child.wait().unwrap()
            })
            .unwrap();
        assert!(!st.success(), "{model}: curl accepted a cut archive");
    }
}

#[test]
fn max_archives_bounds_concurrent_streams() {
    let tree = Tree::new("maxarch");
    std::fs::write(tree.path("docs/big.bin"), payload(32 << 20, 3)).unwrap();
    let s = serve(&tree.root, "epoll", &["--archives", "--max-archives", "1"]);
    let mut first = TcpStream::connect(s.tcp()).unwrap();
    first
        .write_all(b"GET /docs/?download=tar HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let head = read_head(&mut first);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (st, text) = raw(
        s.tcp(),
        b"GET /docs/?download=zip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(st, 503, "{text}");
    assert!(text.contains("--max-archives"));
    drop(first);
    assert!(
        eventually(WAIT, || raw(
            s.tcp(),
            b"HEAD /docs/?download=zip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .0 == 200),
        "the slot comes back"
    );
}

#[test]
fn listing_sorts_naturally_both_ways_and_has_a_favicon() {
    let tree = Tree::new("sort");
    let d = tree.path("s");
    std::fs::create_dir(&d).unwrap();
    for (name, size) in [
        ("Zeta.txt", 10),
        ("a.txt", 300),
        ("file10.txt", 20),
        ("file9.txt", 1),
        ("B.txt", 5),
    ] {
        std::fs::write(d.join(name), vec![b'x'; size]).unwrap();
    }
    std::fs::create_dir(d.join("zfolder")).unwrap();
    let s = serve(&tree.root, "thread", &[]);
    let order = |query: &str| -> Vec<String> {
        let (st, body) = curl(
            &format!("http://{}/s/{query}", s.tcp()),
            &["-H", "Accept: application/json"],
        );
        assert_eq!(st, 200);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        order(""),
        [
            "zfolder",
            "a.txt",
            "B.txt",
            "file9.txt",
            "file10.txt",
            "Zeta.txt"
        ]
    );
    assert_eq!(
        order("?sort=name&order=desc"),
        [
            "zfolder",
            "Zeta.txt",
            "file10.txt",
            "file9.txt",
            "B.txt",
            "a.txt"
        ]
    );
    assert_eq!(
        order("?sort=size"),
        [
            "zfolder",
            "a.txt",
            "file10.txt",
            "Zeta.txt",
            "B.txt",
            "file9.txt"
        ]
    );
    assert_eq!(
        order("?sort=size&order=asc"),
        [
            "zfolder",
            "file9.txt",
            "B.txt",
            "Zeta.txt",
            "file10.txt",
            "a.txt"
        ]
    );
    let (st, html) = curl(&format!("http://{}/s/?sort=size", s.tcp()), &[]);
    assert_eq!(st, 200);
    let html = String::from_utf8_lossy(&html);
    assert!(
        html.contains("href=\"?sort=size&amp;order=asc\" class=\"desc\">Size</a>"),
        "{html}"
    );
    assert!(html.contains("<meta name=\"viewport\""));
    assert!(html.contains("prefers-color-scheme:dark"));
    // The favicon: the built-in one, unless the root has its own.
    let (st, body) = curl(&format!("http://{}/favicon.ico", s.tcp()), &["-i"]);
    assert_eq!(st, 200);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("image/svg+xml") && text.contains("<svg"),
        "{text}"
    );
    std::fs::write(tree.path("favicon.ico"), b"mine").unwrap();
    let (_, body) = curl(&format!("http://{}/favicon.ico", s.tcp()), &[]);
    assert_eq!(body, b"mine");
    let _ = Instant::now();
}
