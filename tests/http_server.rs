//! `netkit http` with real clients (ureq, curl) and raw sockets, on several models.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use util::*;

/// A document root with a known layout, removed on drop.
struct Site {
    dir: PathBuf,
}

impl Site {
    fn new(tag: &str) -> Site {
        let dir = std::env::temp_dir().join(format!("netkit-http-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("docs/sub")).unwrap();
        std::fs::create_dir_all(dir.join("withindex")).unwrap();
        std::fs::write(dir.join("hello.txt"), "hello world\n").unwrap();
        std::fs::write(dir.join("withindex/index.html"), "<h1>index</h1>").unwrap();
        std::fs::write(dir.join("big.bin"), payload(8 << 20, 42)).unwrap();
        std::fs::write(dir.join("docs/b.txt"), "bbb").unwrap();
        std::fs::write(dir.join("docs/a file & <odd>.txt"), "odd").unwrap();
        std::fs::write(dir.join("docs/100%.txt"), "pct").unwrap();
        std::fs::write(dir.join("docs/ünï.txt"), "utf8").unwrap();
        std::fs::write(dir.join("docs/.secret"), "hidden").unwrap();
        std::fs::write(dir.join(".env"), "TOKEN=1").unwrap();
        std::fs::write(dir.join("page.html"), "<p>plain</p>".repeat(100)).unwrap();
        std::fs::write(dir.join("page.html.gz"), b"GZIPPED").unwrap();
        std::fs::write(dir.join("page.html.br"), b"BROTLI").unwrap();
        let outside = dir.with_extension("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), "outside secret").unwrap();
        let _ = std::os::unix::fs::symlink(outside.join("secret.txt"), dir.join("escape.txt"));
        let _ = std::os::unix::fs::symlink("hello.txt", dir.join("inside-link.txt"));
        // A file name that is not UTF-8.
        let raw = std::ffi::OsStr::from_bytes(b"docs/bin\xff\xfe.dat");
        std::fs::write(dir.join(raw), "raw").unwrap();
        Site { dir }
    }
    fn root(&self) -> &str {
        self.dir.to_str().unwrap()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(self.dir.with_extension("outside"));
    }
}

fn http(site: &Site, model: &str, extra: &[&str]) -> Server {
    let mut args = vec![
        "http",
        site.root(),
        "--port",
        "0",
        "--model",
        model,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// A response read off a raw socket.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response (Content-Length framed; `head` = response to a HEAD request).
fn read_resp(r: &mut BufReader<TcpStream>, head: bool) -> Option<Resp> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if !head && status != 304 && status >= 200 {
        let len: usize = resp
            .header("content-length")
            .map(|v| v.parse().unwrap())
            .unwrap_or(0);
        resp.body = vec![0; len];
        r.read_exact(&mut resp.body).ok()?;
    }
    Some(resp)
}

fn raw(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Resp {
    let (mut s, mut r) = raw(addr);
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    read_resp(&mut r, false).expect("a response")
}

/// What a real client sees, on the models the issue names.
fn real_clients(model: &str) {
    let site = Site::new(model);
    let s = http(&site, model, &[]);
    let base = format!("http://{}", s.tcp());
    // The iterative model serves one connection at a time: pooled idle
    // connections would hold its only slot, so do not keep them there.
    let idle = if model == "iterative" { 0 } else { 8 };
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .max_idle_connections(idle)
        .build();

    let r = agent.get(&format!("{base}/hello.txt")).call().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(
        r.header("etag").is_some()
            && r.header("last-modified").is_some()
            && r.header("date").is_some()
    );
    assert_eq!(
        r.header("server").map(|s| s.starts_with("netkit/")),
        Some(true)
    );
    assert_eq!(r.into_string().unwrap(), "hello world\n");

    // A large file arrives byte for byte (sendfile on the models that can).
    let mut big = Vec::new();
    agent
        .get(&format!("{base}/big.bin"))
        .call()
        .unwrap()
        .into_reader()
        .read_to_end(&mut big)
        .unwrap();
    assert!(big == payload(8 << 20, 42), "{model}: big file differs");

    // Backend routes.
    let t: serde_json::Value = serde_json::from_str(
        &agent
            .get(&format!("{base}/api/time"))
            .call()
            .unwrap()
            .into_string()
            .unwrap(),
    )
    .unwrap();
    assert!(t["unix"].as_f64().unwrap() > 1.7e9);
    let st: serde_json::Value = serde_json::from_str(
        &agent
            .get(&format!("{base}/api/stats"))
            .call()
            .unwrap()
            .into_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(st["model"], model);
    let echoed = agent
        .post(&format!("{base}/api/echo"))
        .set("Content-Type", "text/plain")
        .send_string("ping")
        .unwrap();
    assert_eq!(echoed.into_string().unwrap(), "ping");

    // 404 and 405 with Allow.
    assert!(matches!(
        agent.get(&format!("{base}/nope")).call(),
        Err(ureq::Error::Status(404, _))
    ));
    match agent.delete(&format!("{base}/hello.txt")).call() {
        Err(ureq::Error::Status(405, r)) => assert_eq!(r.header("allow"), Some("GET, HEAD")),
        other => panic!("{model}: expected 405, got {other:?}"),
    }

    // curl: download, HEAD, range.
    let out = Command::new("curl")
        .args(["-sS", "--fail", &format!("{base}/docs/b.txt")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"bbb");
    let out = Command::new("curl")
        .args(["-sS", "-I", &format!("{base}/big.bin")])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout);
    assert!(
        head.contains(&format!("Content-Length: {}", 8 << 20)),
        "{head}"
    );
    let out = Command::new("curl")
        .args(["-sS", "-r", "10-19", &format!("{base}/big.bin")])
        .output()
        .unwrap();
    assert_eq!(out.stdout, payload(8 << 20, 42)[10..20]);
    // curl reuses one connection for several URLs (keep-alive).
    let out = Command::new("curl")
        .args([
            "-sS",
            "-v",
            &format!("{base}/hello.txt"),
            &format!("{base}/docs/b.txt"),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Re-using existing connection"),
        "{model}: no keep-alive"
    );
}

#[test]
fn real_clients_thread() {
    real_clients("thread");
}
#[test]
fn real_clients_pool() {
    real_clients("pool");
}
#[test]
fn real_clients_epoll() {
    real_clients("epoll");
}
#[test]
fn real_clients_uring() {
    real_clients("uring");
}
#[test]
fn real_clients_async() {
    real_clients("async");
}
#[test]
fn real_clients_other_models() {
    for m in ["iterative", "fork", "prefork", "select", "poll"] {
        real_clients(m);
    }
}

#[test]
fn pipelining_keep_alive_and_http10() {
    let site = Site::new("pipe");
    let s = http(&site, "epoll", &[]);
    let (mut w, mut r) = raw(s.tcp());
    // Three requests in one write, answered in order.
    w.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /docs/b.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /docs/b.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let a = read_resp(&mut r, false).unwrap();
    let b = read_resp(&mut r, true).unwrap();
    let c = read_resp(&mut r, false).unwrap();
    assert_eq!((a.status, a.body.as_slice()), (200, &b"hello world\n"[..]));
    assert_eq!((b.status, b.header("content-length")), (200, Some("3")));
    assert_eq!(c.body, b"bbb");
    // Connection: close is honoured.
    w.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let d = read_resp(&mut r, false).unwrap();
    assert_eq!(d.header("connection"), Some("close"));
    let mut rest = Vec::new();
    assert_eq!(
        r.read_to_end(&mut rest).unwrap(),
        0,
        "closed after Connection: close"
    );

    // HTTP/1.0: closes by default, stays with keep-alive.
    let (mut w, mut r) = raw(s.tcp());
    w.write_all(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    assert_eq!(
        read_resp(&mut r, false).unwrap().header("connection"),
        Some("keep-alive")
    );
    w.write_all(b"GET /hello.txt HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(read_resp(&mut r, false).unwrap().status, 200);
    let mut rest = Vec::new();
    assert_eq!(r.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn malformed_oversized_and_slow_requests() {
    let site = Site::new("bad");
    for model in ["thread", "epoll", "async", "poll", "uring"] {
        let s = http(
            &site,
            model,
            &["--header-timeout", "500ms", "--max-body", "100"],
        );
        let send = |bytes: &[u8]| {
            let (mut w, mut r) = raw(s.tcp());
            let _ = w.write_all(bytes);
            let resp = read_resp(&mut r, false);
            let mut rest = Vec::new();
            let closed = matches!(r.read_to_end(&mut rest), Ok(0) | Err(_));
            (resp.map(|x| x.status), closed)
        };
        assert_eq!(
            send(b"THIS IS NOT HTTP\r\n\r\n"),
            (Some(400), true),
            "{model}"
        );
        assert_eq!(
            send(b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n"),
            (Some(400), true),
            "{model}"
        );
        let long = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(10_000));
        assert_eq!(send(long.as_bytes()), (Some(414), true), "{model}");
        let mut big = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
        for i in 0..1500 {
            big.extend_from_slice(format!("X-H{i}: {}\r\n", "v".repeat(50)).as_bytes());
        }
        big.extend_from_slice(b"\r\n");
        assert_eq!(send(&big), (Some(431), true), "{model}");
        assert_eq!(
            send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n"),
            (Some(413), true),
            "{model}"
        );
        // Chunked bodies are read (and limited).
        let (mut w, mut r) = raw(s.tcp());
        w.write_all(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n").unwrap();
        let resp = read_resp(&mut r, false).unwrap();
        assert_eq!(
            (resp.status, resp.body.as_slice()),
            (200, &b"Wikipedia"[..]),
            "{model}"
        );
        let chunk = format!(
            "POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
            200,
            "x".repeat(200)
        );
        assert_eq!(send(chunk.as_bytes()), (Some(413), true), "{model}");
        assert_eq!(
            send(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"),
            (Some(400), true),
            "{model}"
        );
        // Slowloris: a head that never completes gets 408 and a close.
        let (mut w, mut r) = raw(s.tcp());
        w.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        w.write_all(b"a").unwrap();
        let resp = read_resp(&mut r, false).map(|x| x.status);
        assert_eq!(resp, Some(408), "{model}");
        // The server is still healthy.
        assert_eq!(get(s.tcp(), "/hello.txt", &[]).status, 200, "{model}");
    }
}

#[test]
fn directories_listings_and_redirects() {
    let site = Site::new("dirs");
    let s = http(&site, "epoll", &[]);
    let r = get(s.tcp(), "/docs", &[]);
    assert_eq!((r.status, r.header("location")), (301, Some("/docs/")));
    let r = get(s.tcp(), "/withindex/", &[]);
    assert_eq!(r.body, b"<h1>index</h1>");
    let r = get(s.tcp(), "/docs/", &[]);
    let html = String::from_utf8_lossy(&r.body).to_string();
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    // Sorted, directories first, links percent-encoded, names escaped, hidden not listed.
    let pos = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("missing {needle} in {html}"))
    };
    assert!(pos("href=\"sub/\"") < pos("href=\"100%25.txt\""));
    assert!(pos("href=\"100%25.txt\"") < pos("href=\"a%20file%20%26%20%3Codd%3E.txt\""));
    assert!(html.contains("a file &amp; &lt;odd&gt;.txt"));
    assert!(html.contains("href=\"%C3%BCn%C3%AF.txt\""));
    assert!(html.contains("href=\"bin%FF%FE.dat\""));
    assert!(!html.contains("secret"));
    assert!(html.contains("href=\"../\""));
    // Every link works.
    for (href, body) in [
        ("a%20file%20%26%20%3Codd%3E.txt", "odd"),
        ("100%25.txt", "pct"),
        ("%C3%BCn%C3%AF.txt", "utf8"),
        ("bin%FF%FE.dat", "raw"),
    ] {
        assert_eq!(
            get(s.tcp(), &format!("/docs/{href}"), &[]).body,
            body.as_bytes(),
            "{href}"
        );
    }
    // JSON listing, by query or by Accept.
    for r in [
        get(s.tcp(), "/docs/?format=json", &[]),
        get(s.tcp(), "/docs/", &[("Accept", "application/json")]),
    ] {
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let names: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names[0], "sub");
        assert!(names.contains(&"b.txt") && !names.contains(&".secret"));
    }
    // --hidden lists and serves dot files.
    let sh = http(&site, "thread", &["--hidden"]);
    assert_eq!(get(sh.tcp(), "/docs/.secret", &[]).body, b"hidden");
    assert!(String::from_utf8_lossy(&get(sh.tcp(), "/docs/", &[]).body).contains(".secret"));
}

#[test]
fn conditional_range_and_precompressed() {
    let site = Site::new("cond");
    let s = http(&site, "epoll", &[]);
    let a = s.tcp();
    let r = get(a, "/hello.txt", &[]);
    let etag = r.header("etag").unwrap().to_string();
    let lm = r.header("last-modified").unwrap().to_string();
    assert_eq!(
        get(a, "/hello.txt", &[("If-None-Match", &etag)]).status,
        304
    );
    assert_eq!(
        get(a, "/hello.txt", &[("If-None-Match", "\"other\"")]).status,
        200
    );
    assert_eq!(
        get(a, "/hello.txt", &[("If-Modified-Since", &lm)]).status,
        304
    );
    assert_eq!(
        get(
            a,
            "/hello.txt",
            &[("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")]
        )
        .status,
        200
    );
    // Preconditions that fail with 412: If-Match, If-Unmodified-Since.
    assert_eq!(get(a, "/hello.txt", &[("If-Match", &etag)]).status, 200);
    assert_eq!(get(a, "/hello.txt", &[("If-Match", "*")]).status, 200);
    let r = get(a, "/hello.txt", &[("If-Match", "\"other\", \"more\"")]);
    assert_eq!((r.status, r.body.len()), (412, 0));
    let weak = format!("W/{etag}");
    assert_eq!(get(a, "/hello.txt", &[("If-Match", &weak)]).status, 412);
    assert_eq!(
        get(a, "/hello.txt", &[("If-Unmodified-Since", &lm)]).status,
        200
    );
    let old = "Thu, 01 Jan 1970 00:00:00 GMT";
    assert_eq!(
        get(a, "/hello.txt", &[("If-Unmodified-Since", old)]).status,
        412
    );
    // If-Match wins over If-Unmodified-Since; a bad date is ignored.
    assert_eq!(
        get(
            a,
            "/hello.txt",
            &[("If-Match", &etag), ("If-Unmodified-Since", old)]
        )
        .status,
        200
    );
    assert_eq!(
        get(a, "/hello.txt", &[("If-Unmodified-Since", "yesterday")]).status,
        200
    );
    // Ranges.
    let r = get(a, "/hello.txt", &[("Range", "bytes=0-4")]);
    assert_eq!(
        (r.status, r.body.as_slice(), r.header("content-range")),
        (206, &b"hello"[..], Some("bytes 0-4/12"))
    );
    let r = get(a, "/hello.txt", &[("Range", "bytes=-3")]);
    assert_eq!(r.body, b"ld\n");
    // Overlapping ranges are merged: no byte is sent twice.
    let r = get(a, "/hello.txt", &[("Range", "bytes=0-,0-,2-5")]);
    assert_eq!(
        (r.status, r.body.as_slice(), r.header("content-range")),
        (206, &b"hello world\n"[..], Some("bytes 0-11/12"))
    );
    let r = get(a, "/hello.txt", &[("Range", "bytes=100-200")]);
    assert_eq!(
        (r.status, r.header("content-range")),
        (416, Some("bytes */12"))
    );
    let r = get(a, "/hello.txt", &[("Range", "bytes=0-0,6-10")]);
    assert_eq!(r.status, 206);
    let ct = r.header("content-type").unwrap();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart");
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains(&format!("--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-0/12\r\n\r\nh\r\n")), "{body}");
    assert!(body.contains("Content-Range: bytes 6-10/12\r\n\r\nworld\r\n"));
    assert!(body.ends_with(&format!("--{boundary}--\r\n")));
    // If-Range: a stale validator means the whole file.
    let r = get(
        a,
        "/hello.txt",
        &[("Range", "bytes=0-4"), ("If-Range", "\"stale\"")],
    );
    assert_eq!((r.status, r.body.len()), (200, 12));
    let r = get(
        a,
        "/hello.txt",
        &[("Range", "bytes=0-4"), ("If-Range", &etag)],
    );
    assert_eq!(r.status, 206);
    // Precompressed siblings, with Vary.
    let r = get(a, "/page.html", &[("Accept-Encoding", "gzip, br")]);
    assert_eq!(
        (r.body.as_slice(), r.header("content-encoding")),
        (&b"BROTLI"[..], Some("br"))
    );
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    let r = get(a, "/page.html", &[("Accept-Encoding", "gzip")]);
    assert_eq!(
        (r.body.as_slice(), r.header("content-encoding")),
        (&b"GZIPPED"[..], Some("gzip"))
    );
    let r = get(a, "/page.html", &[("Accept-Encoding", "br;q=0, identity")]);
    assert_eq!(r.header("content-encoding"), None);
    assert!(r.body.starts_with(b"<p>plain</p>"));
}

#[test]
fn no_path_escapes_the_root() {
    let site = Site::new("safety");
    let s = http(&site, "epoll", &[]);
    let a = s.tcp();
    let attempts = [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/docs/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc/passwd",
        "/docs%2f..%2f..%2fetc%2fpasswd",
        "/..\\..\\etc\\passwd",
        "/%5c..%5c..%5cetc/passwd",
        "/hello.txt%00.html",
        "/.env",
        "/docs/.secret",
        "/escape.txt",
        "http://evil/../../etc/passwd",
    ];
    for path in attempts {
        let (mut w, mut r) = raw(a);
        w.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let resp = read_resp(&mut r, false).unwrap_or_else(|| panic!("no response for {path}"));
        assert!(
            matches!(resp.status, 400 | 403 | 404),
            "{path}: {}",
            resp.status
        );
        let body = String::from_utf8_lossy(&resp.body);
        assert!(
            !body.contains("root:") && !body.contains("outside secret") && !body.contains("TOKEN"),
            "{path} leaked"
        );
        assert!(
            !body.contains(site.root()),
            "{path}: error page names the root"
        );
    }
    // `//` stays inside the root.
    assert_eq!(get(a, "//hello.txt", &[]).body, b"hello world\n");
    // Symlinks: inside ones work, outside ones only with --follow-symlinks.
    assert_eq!(get(a, "/inside-link.txt", &[]).body, b"hello world\n");
    assert_eq!(get(a, "/escape.txt", &[]).status, 403);
    let f = http(&site, "thread", &["--follow-symlinks"]);
    assert_eq!(get(f.tcp(), "/escape.txt", &[]).body, b"outside secret");
}

#[test]
fn access_log_and_clean_shutdown() {
    let site = Site::new("log");
    let mut s = Server::start(&["http", site.root(), "--port", "0", "--model", "thread"]);
    assert_eq!(get(s.tcp(), "/hello.txt", &[]).status, 200);
    assert!(
        eventually(Duration::from_secs(3), || s
            .log()
            .contains("\"GET /hello.txt HTTP/1.1\" 200 12")),
        "{}",
        s.log()
    );
    let line = s
        .log()
        .lines()
        .find(|l| l.contains("GET /hello.txt"))
        .unwrap()
        .to_string();
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    s.signal(libc::SIGINT);
    assert!(
        s.wait_exit(Duration::from_secs(10))
            .expect("exits")
            .success()
    );
}

/// `-q` keeps warnings only (no access log), `RUST_LOG` overrides the flags,
/// and the serving and listening lines are printed whatever the level.
#[test]
fn log_levels_from_flags_and_rust_log() {
    let site = Site::new("levels");
    let access = "\"GET /hello.txt HTTP/1.1\" 200 12";
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["http", site.root(), "--port", "0", "--model", "thread"];
        all.extend_from_slice(args);
        let mut s = Server::start_with_env(&all, env);
        assert_eq!(get(s.tcp(), "/hello.txt", &[]).status, 200);
        // A second request, answered after the first was logged (if it was).
        assert_eq!(get(s.tcp(), "/missing", &[]).status, 404);
        s.signal(libc::SIGTERM);
        assert!(
            s.wait_exit(Duration::from_secs(10))
                .expect("exits")
                .success()
        );
        // The reader thread sees the last lines once the pipe closes.
        eventually(Duration::from_secs(3), || s.log().contains("stopped"));
        let log = s.log();
        assert!(log.contains("netkit http: serving "), "{log}");
        assert!(log.contains("netkit http: listening on tcp://"), "{log}");
        assert!(log.contains("netkit http: stopped"), "{log}");
        log
    };
    assert!(run(&[], &[("RUST_LOG", "")]).contains(access));
    assert!(!run(&["-q"], &[]).contains(access));
    assert!(!run(&["--no-access-log"], &[]).contains(access));
    assert!(!run(&[], &[("RUST_LOG", "warn")]).contains(access));
    // RUST_LOG wins over -q.
    assert!(run(&["-q"], &[("RUST_LOG", "netkit::access=info")]).contains(access));
}

#[test]
fn serves_the_current_directory_by_default() {
    let site = Site::new("cwd");
    let mut child = std::process::Command::new(bin())
        .args(["http", "--port", "0", "--quiet"])
        .current_dir(&site.dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // "serving <cwd> at <url>", then "listening on tcp://ADDR (...)".
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening on") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no listening line"
        );
    }
    let addr: SocketAddr = line
        .split("tcp://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(get(addr, "/hello.txt", &[]).body, b"hello world\n");
    let _ = child.kill();
    let _ = child.wait();
    assert!(Path::new(&site.dir).exists());
}

#[test]
fn connection_limit_answers_503() {
    let site = Site::new("limit");
    for model in ["epoll", "poll", "select", "async", "uring"] {
        let s = http(&site, model, &["--max-connections", "2", "--workers", "1"]);
        let held: Vec<_> = (0..2)
            .map(|_| {
                let (mut w, mut r) = raw(s.tcp());
                w.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                    .unwrap();
                assert_eq!(read_resp(&mut r, false).unwrap().status, 200);
                (w, r)
            })
            .collect();
        let (mut w, mut r) = raw(s.tcp());
        let _ = w.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        let resp = read_resp(&mut r, false).expect("an answer, not a hang");
        assert_eq!(
            (resp.status, resp.header("retry-after")),
            (503, Some("1")),
            "{model}"
        );
        let mut rest = Vec::new();
        assert!(
            matches!(r.read_to_end(&mut rest), Ok(0) | Err(_)),
            "{model}: closed after 503"
        );
        drop(held);
        // Once the held connections are gone, service resumes.
        assert!(
            eventually(Duration::from_secs(5), || get(s.tcp(), "/hello.txt", &[])
                .status
                == 200),
            "{model}: no recovery"
        );
    }
}

/// epoll's workers share one connection count: however the kernel spreads
/// clients across their listeners, exactly --max-connections are served.
#[test]
fn connection_limit_is_shared_by_epoll_workers() {
    let site = Site::new("limit-workers");
    let s = http(
        &site,
        "epoll",
        &["--max-connections", "12", "--workers", "2"],
    );
    let held: Vec<_> = (0..12)
        .map(|i| {
            let (mut w, mut r) = raw(s.tcp());
            w.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let status = read_resp(&mut r, false).unwrap().status;
            assert_eq!(status, 200, "connection {i} of 12 refused");
            (w, r)
        })
        .collect();
    let (mut w, mut r) = raw(s.tcp());
    let _ = w.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let resp = read_resp(&mut r, false).expect("an answer, not a hang");
    assert_eq!(resp.status, 503, "the 13th connection");
    drop(held);
    assert!(
        eventually(Duration::from_secs(5), || get(s.tcp(), "/hello.txt", &[])
            .status
            == 200),
        "no recovery"
    );
}

#[test]
fn the_route_example_serves_its_routes() {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--example", "http_route"])
        .status()
        .unwrap();
    assert!(status.success());
    let exe = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/examples/http_route");
    // Pick a free port, then let the example bind it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(exe)
        .args([&port.to_string(), "thread"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening on"), "{line}");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let r = get(addr, "/api/hello?name=netkit", &[]);
    assert_eq!(r.body, br#"{"greeting":"hello, netkit"}"#);
    assert_eq!(get(addr, "/api/count", &[]).body, b"1\n");
    assert_eq!(get(addr, "/api/count", &[]).body, b"2\n");
    let _ = child.kill();
    let _ = child.wait();
}

/// Resident memory of a process, from /proc.
fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A client that pipelines thousands of requests without reading cannot make
/// the server queue their responses all at once; every response still arrives, in order.
#[test]
fn pipelined_flood_is_bounded_and_complete() {
    let site = Site::new("flood");
    std::fs::write(site.dir.join("small.bin"), payload(30_000, 9)).unwrap();
    for model in ["epoll", "thread", "async", "poll", "uring"] {
        let s = http(&site, model, &[]);
        let before = rss_kib(s.pid());
        let requests = 2000;
        let one = b"GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n";
        let (mut w, mut r) = raw(s.tcp());
        let flood: Vec<u8> = one
            .iter()
            .copied()
            .cycle()
            .take(one.len() * requests)
            .collect();
        let writer = std::thread::spawn(move || {
            let _ = w.write_all(&flood);
            w
        });
        // Let the server read as much as it will while nobody reads its answers.
        std::thread::sleep(Duration::from_millis(500));
        let grown = rss_kib(s.pid()).saturating_sub(before);
        assert!(
            grown < 20 * 1024,
            "{model}: server grew by {grown} KiB for one pipelining client"
        );
        let body = payload(30_000, 9);
        for i in 0..requests {
            let resp =
                read_resp(&mut r, false).unwrap_or_else(|| panic!("{model}: response {i} missing"));
            assert_eq!(resp.status, 200, "{model}: response {i}");
            assert!(resp.body == body, "{model}: response {i} body");
        }
        drop(writer.join());
    }
}

/// A client that half-closes and then reads slowly must not make the server spin.
#[test]
fn half_closed_slow_reader_does_not_spin_the_server() {
    let site = Site::new("halfclose");
    for edge in [false, true] {
        let extra: &[&str] = if edge {
            &["--edge", "--workers", "1"]
        } else {
            &["--workers", "1"]
        };
        let s = http(&site, "epoll", extra);
        let (mut w, mut r) = raw(s.tcp());
        w.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        w.shutdown(std::net::Shutdown::Write).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let before = cpu_ticks(s.pid());
        std::thread::sleep(Duration::from_secs(1));
        let used = cpu_ticks(s.pid()) - before;
        // 100 ticks = one core for the whole second; an idle wait uses ~0.
        assert!(
            used < 30,
            "edge={edge}: server burned {used} ticks/s waiting on a slow reader"
        );
        // The download still completes.
        let resp = read_resp(&mut r, false).unwrap();
        assert!(resp.body == payload(8 << 20, 42));
    }
}

#[test]
fn redirects_and_listings_never_point_elsewhere() {
    let site = Site::new("redir");
    let fifo = site.dir.join("docs/sub/pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink(&fifo, site.dir.join("abs-pipe")).unwrap();
    let s = http(&site, "poll", &[]);
    // `//docs` must not redirect to the host "docs".
    let r = get(s.tcp(), "//docs", &[]);
    assert_eq!((r.status, r.header("location")), (301, Some("/docs/")));
    // Outside symlinks are not listed; inside ones are.
    let html = String::from_utf8(get(s.tcp(), "/", &[]).body).unwrap();
    assert!(
        !html.contains("escape.txt") && html.contains("inside-link.txt"),
        "{html}"
    );
    // A FIFO behind an absolute symlink is refused without hanging the server.
    assert_eq!(get(s.tcp(), "/abs-pipe", &[]).status, 403);
    assert_eq!(get(s.tcp(), "/docs/sub/pipe", &[]).status, 403);
    assert_eq!(get(s.tcp(), "/hello.txt", &[]).status, 200);
}

/// Empty lines between requests are ignored (RFC 9112 2.2): a client that
/// sends a bare CRLF gets no 408 when the header timeout passes, is served
/// normally after it, and does not hold a graceful shutdown.
#[test]
fn bare_crlf_between_requests_is_ignored() {
    let site = Site::new("crlf");
    for model in ["thread", "epoll", "async", "pool", "uring"] {
        let mut s = http(
            &site,
            model,
            &["--header-timeout", "300ms", "--shutdown-timeout", "30s"],
        );
        let (mut w, mut r) = raw(s.tcp());
        w.write_all(b"\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n\r\n")
            .unwrap();
        let resp = read_resp(&mut r, false).expect("a response");
        assert_eq!(
            (resp.status, resp.body.as_slice()),
            (200, &b"hello world\n"[..]),
            "{model}"
        );
        // The CRLF after the request starts no request: no 408 when the
        // header timeout passes.
        w.set_read_timeout(Some(Duration::from_millis(900)))
            .unwrap();
        let mut byte = [0u8; 1];
        let got = (&w).read(&mut byte);
        assert!(
            matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{model}: expected silence after a bare CRLF, got {got:?}"
        );
        // The trailing CRLF is not a request in progress: SIGTERM ends the
        // server without waiting out the 30 s grace period.
        std::thread::sleep(Duration::from_millis(100));
        s.signal(libc::SIGTERM);
        assert!(
            s.wait_exit(Duration::from_secs(10)).is_some(),
            "{model}: shutdown waited for a connection that only sent CRLF"
        );
    }
}

/// Out of descriptors: files answer 503 with Retry-After (not 403: nothing is
/// wrong with the path), routes that need no descriptor still answer, the
/// shortage is logged once, and once descriptors free up new clients are
/// accepted again.
#[test]
fn out_of_descriptors_answers_503_and_pauses_accepting() {
    let site = Site::new("emfile");
    for model in ["epoll", "poll", "async", "thread", "uring"] {
        let args = [
            "http",
            site.root(),
            "--port",
            "0",
            "--model",
            model,
            "--workers",
            "1",
            "--quiet",
        ];
        let s = Server::start_with_fd_limit(&args, 64);
        let (mut w, mut r) = raw(s.tcp());
        let ask = |w: &mut TcpStream, r: &mut BufReader<TcpStream>, path: &str| {
            write!(w, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            read_resp(r, false).expect("a response")
        };
        assert_eq!(ask(&mut w, &mut r, "/hello.txt").status, 200, "{model}");
        // Fill the server's descriptor table with clients that say nothing.
        let idle: Vec<TcpStream> = (0..100)
            .filter_map(|_| TcpStream::connect(s.tcp()).ok())
            .collect();
        assert!(
            eventually(Duration::from_secs(5), || s.log().contains("not accepting")),
            "{model}: {}",
            s.log()
        );
        // A file not looked up before needs a descriptor (one looked up
        // within the file cache's lifetime would still be served).
        let busy = ask(&mut w, &mut r, "/docs/b.txt");
        assert_eq!(busy.status, 503, "{model}: {busy:?}");
        assert_eq!(busy.header("retry-after"), Some("1"), "{model}");
        assert_eq!(ask(&mut w, &mut r, "/api/time").status, 200, "{model}");
        // Several failed accepts later, still one line about it.
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(s.log().matches("not accepting").count(), 1, "{}", s.log());
        drop(idle);
        drop((w, r));
        assert!(
            eventually(Duration::from_secs(10), || get(s.tcp(), "/hello.txt", &[])
                .status
                == 200),
            "{model}: not serving again"
        );
        assert!(
            eventually(Duration::from_secs(3), || s
                .log()
                .contains("accepting again")),
            "{model}: {}",
            s.log()
        );
    }
}

/// The time to the first request is bounded from accept on every model:
/// clients that connect and say nothing cannot pin the workers of the
/// blocking models (pool, prefork, iterative) until the idle timeout; they
/// are closed after the header timeout, queued ones included.
#[test]
fn silent_clients_are_closed_after_the_header_timeout_on_blocking_models() {
    let site = Site::new("silent");
    for model in [
        "pool",
        "prefork",
        "iterative",
        "thread",
        "epoll",
        "async",
        "uring",
    ] {
        let s = http(
            &site,
            model,
            &[
                "--workers",
                "2",
                "--header-timeout",
                "400ms",
                "--idle-timeout",
                "120s",
            ],
        );
        let silent: Vec<TcpStream> = (0..4)
            .map(|_| TcpStream::connect(s.tcp()).unwrap())
            .collect();
        // Served although every worker first got a silent client (the read
        // timeout of `get` is 10 s; the idle timeout would be 120 s).
        let resp = get(s.tcp(), "/hello.txt", &[]);
        assert_eq!(resp.status, 200, "{model}");
        for mut c in silent {
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = [0u8; 64];
            let n = c.read(&mut buf);
            assert!(
                matches!(n, Ok(0))
                    || matches!(&n, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
                "{model}: a silent client got {n:?} (expected a close without reply)"
            );
        }
    }
}

/// Symlinks inside the root cannot reveal what their names could not: a link
/// to a hidden file (or into a hidden directory) is not found, a
/// precompressed sibling that is a symlink is never used, a file does not
/// answer as a directory (`/hello.txt/`), and links to visible files work.
#[test]
fn symlinks_cannot_reveal_hidden_files_and_files_are_not_directories() {
    let site = Site::new("links");
    let d = &site.dir;
    std::fs::create_dir_all(d.join(".private")).unwrap();
    std::fs::write(d.join(".private/x.txt"), "private").unwrap();
    std::os::unix::fs::symlink(".env", d.join("env-link")).unwrap();
    std::os::unix::fs::symlink(".private/x.txt", d.join("private-link")).unwrap();
    std::os::unix::fs::symlink(".private", d.join("private-dir")).unwrap();
    std::fs::write(d.join("note.txt"), "a note".repeat(50)).unwrap();
    std::os::unix::fs::symlink(".env", d.join("note.txt.gz")).unwrap();
    for model in ["thread", "epoll"] {
        let s = http(&site, model, &[]);
        for path in [
            "/env-link",
            "/private-link",
            "/private-dir/x.txt",
            "/hello.txt/",
        ] {
            let r = get(s.tcp(), path, &[]);
            assert_eq!(
                r.status,
                404,
                "{model} {path}: {:?}",
                String::from_utf8_lossy(&r.body)
            );
        }
        // The link is not taken for the note's gzip twin: the note itself
        // is sent (compressed on the fly, so decoded here).
        let r = get(s.tcp(), "/note.txt", &[("Accept-Encoding", "gzip")]);
        assert_eq!(
            (r.status, r.header("content-encoding")),
            (200, Some("gzip")),
            "{model}"
        );
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&r.body[..]), &mut body)
            .unwrap();
        assert_eq!(body, "a note".repeat(50).as_bytes());
        assert_eq!(get(s.tcp(), "/inside-link.txt", &[]).body, b"hello world\n");
        // With --hidden the link's target is served.
        let h = http(&site, model, &["--hidden"]);
        assert_eq!(get(h.tcp(), "/env-link", &[]).body, b"TOKEN=1");
    }
}

/// Chunked framing is strict: a bare LF or a malformed trailer is 400 (and
/// the connection closed), a well-formed trailer is accepted.
#[test]
fn chunked_framing_is_strict() {
    let site = Site::new("chunked");
    let s = http(&site, "epoll", &[]);
    let post = |body: &[u8]| {
        let (mut w, mut r) = raw(s.tcp());
        let mut req =
            b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        req.extend_from_slice(body);
        w.write_all(&req).unwrap();
        read_resp(&mut r, false).map(|r| (r.status, r.body))
    };
    assert_eq!(
        post(b"3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n"),
        Some((200, b"abc".to_vec()))
    );
    for bad in [
        &b"3\nabc\r\n0\r\n\r\n"[..],
        b"3\r\nabc\n0\r\n\r\n",
        b"3\r\nabc\r\n0\r\nno colon\r\n\r\n",
    ] {
        assert_eq!(
            post(bad).map(|r| r.0),
            Some(400),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

/// The access log counts the body bytes that left, not the ones queued: a
/// download of an 8 MiB file cut after 1 MB is logged with fewer bytes.
#[test]
fn access_log_counts_bytes_actually_sent() {
    let site = Site::new("sent");
    for model in ["thread", "epoll", "async", "uring"] {
        let s = Server::start(&["http", site.root(), "--port", "0", "--model", model]);
        {
            let (mut w, mut r) = raw(s.tcp());
            w.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut first = vec![0u8; 1 << 20];
            r.read_exact(&mut first).unwrap();
            // Reset rather than a clean close: unread data is discarded.
            socket2::SockRef::from(&w)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        }
        let needle = "\"GET /big.bin HTTP/1.1\" 200 ";
        assert!(
            eventually(Duration::from_secs(10), || s.log().contains(needle)),
            "{model}: {}",
            s.log()
        );
        let log = s.log();
        let line = log.lines().find(|l| l.contains(needle)).unwrap();
        let bytes: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(
            (1 << 20..8 << 20).contains(&bytes),
            "{model}: logged {bytes}: {line}"
        );
        // A whole reply is logged whole.
        assert_eq!(get(s.tcp(), "/hello.txt", &[]).status, 200);
        assert!(eventually(Duration::from_secs(5), || s
            .log()
            .contains("\"GET /hello.txt HTTP/1.1\" 200 12")));
    }
}

/// The open-file cache (`--file-cache`) is only ever late, never wrong: a
/// file changed, deleted, renamed over or replaced by a symlink out of the
/// root is seen within the cache's lifetime on every model, and with
/// `--file-cache 0` at once.
#[test]
fn file_cache_sees_every_change_within_its_lifetime() {
    let site = Site::new("fcache");
    let d = site.dir.clone();
    let outside = d.with_extension("outside").join("secret.txt");
    let within = Duration::from_secs(3);
    for model in ["epoll", "thread", "prefork", "async"] {
        let s = http(&site, model, &["--file-cache", "300ms"]);
        let body = |path: &str| {
            let r = get(s.tcp(), path, &[]);
            (r.status, String::from_utf8_lossy(&r.body).into_owned())
        };
        std::fs::write(d.join("c.txt"), "one").unwrap();
        assert!(
            eventually(within, || body("/c.txt") == (200, "one".into())),
            "{model}"
        );
        std::fs::write(d.join("c.txt"), "two!").unwrap();
        assert!(
            eventually(within, || body("/c.txt") == (200, "two!".into())),
            "{model}: change"
        );
        // Same size, same second: small files are served from memory, and
        // that copy is refreshed within the lifetime too.
        std::fs::write(d.join("c.txt"), "TWO!").unwrap();
        assert!(
            eventually(within, || body("/c.txt") == (200, "TWO!".into())),
            "{model}: change in place"
        );
        std::fs::write(d.join("c.new"), "three").unwrap();
        std::fs::rename(d.join("c.new"), d.join("c.txt")).unwrap();
        assert!(
            eventually(within, || body("/c.txt") == (200, "three".into())),
            "{model}: rename"
        );
        std::fs::remove_file(d.join("c.txt")).unwrap();
        assert!(
            eventually(within, || body("/c.txt").0 == 404),
            "{model}: delete"
        );
        std::os::unix::fs::symlink(&outside, d.join("c.txt")).unwrap();
        // Refused as /escape.txt is (403); until the deleted file's entry
        // expires the answer is still its 404: late, never the secret.
        assert!(
            eventually(within, || body("/c.txt").0 == 403),
            "{model}: symlink out: {:?}",
            body("/c.txt")
        );
        // Never served what a lookup refuses, however often it is asked.
        for _ in 0..20 {
            assert_ne!(body("/c.txt").1, "outside secret", "{model}");
        }
        std::fs::remove_file(d.join("c.txt")).unwrap();
    }
    // Without the cache a change is seen by the very next request.
    let s = http(&site, "epoll", &["--file-cache", "0"]);
    std::fs::write(d.join("n.txt"), "a").unwrap();
    assert_eq!(get(s.tcp(), "/n.txt", &[]).body, b"a");
    std::fs::write(d.join("n.txt"), "b").unwrap();
    assert_eq!(get(s.tcp(), "/n.txt", &[]).body, b"b");
}

/// Sizes take units everywhere (`--max-body 1K`), and `--workers 0` is a
/// usage error rather than silently one worker.
#[test]
fn sizes_take_units_and_zero_workers_is_refused() {
    let site = Site::new("units");
    let s = http(&site, "thread", &["--max-body", "1K"]);
    let (mut w, mut r) = raw(s.tcp());
    let body = vec![b'x'; 2048];
    write!(
        w,
        "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    w.write_all(&body).unwrap();
    assert_eq!(read_resp(&mut r, false).map(|r| r.status), Some(413));
    let out = Command::new(bin())
        .args(["http", site.root(), "--port", "0", "--workers", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--workers"), "{err}");
}

/// Downloads cut at every stage (before the first byte, mid-file, with a
/// reset) and a file cut short on disk while it is being sent: each such
/// connection just ends, and the server goes on serving everyone else.
#[test]
fn cut_downloads_and_shrinking_files_leave_the_server_serving() {
    let site = Site::new("cuts");
    let shrink = site.dir.join("shrink.bin");
    for model in ["thread", "epoll", "poll", "async", "uring"] {
        let mut s = http(&site, model, &["--workers", "2"]);
        // Twelve downloads at once, each dropped after a different amount.
        let cuts: Vec<_> = (0..12usize)
            .map(|i| {
                let addr = s.tcp();
                std::thread::spawn(move || {
                    let (mut w, mut r) = raw(addr);
                    w.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                        .unwrap();
                    let mut got = vec![0u8; i * 300_000];
                    r.read_exact(&mut got).unwrap();
                    if i % 2 == 0 {
                        socket2::SockRef::from(&w)
                            .set_linger(Some(Duration::ZERO))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in cuts {
            t.join().unwrap();
        }
        // A file of 6 MiB cut to 1 MiB after the reply started: the reply
        // stops short (it cannot be completed) and the connection closes.
        std::fs::write(&shrink, payload(6 << 20, 7)).unwrap();
        let (mut w, mut r) = raw(s.tcp());
        w.write_all(b"GET /shrink.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut head = String::new();
        while !head.ends_with("\r\n\r\n") {
            let mut line = String::new();
            assert!(r.read_line(&mut line).unwrap() > 0, "{model}: {head}");
            head.push_str(&line);
        }
        assert!(head.contains("Content-Length: 6291456"), "{model}: {head}");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&shrink)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        let mut body = Vec::new();
        let _ = r.read_to_end(&mut body); // ends: closed (or reset)
        assert!(body.len() < 6 << 20, "{model}: {} bytes", body.len());
        // Everyone else is still served, the whole file included.
        let whole = get(s.tcp(), "/big.bin", &[]);
        assert_eq!(whole.status, 200, "{model}");
        assert_eq!(whole.body, payload(8 << 20, 42), "{model}");
        assert_eq!(get(s.tcp(), "/hello.txt", &[]).status, 200, "{model}");
        assert!(!s.log().contains("panicked"), "{model}: {}", s.log());
        assert!(
            s.wait_exit(Duration::from_millis(50)).is_none(),
            "{model}: {}",
            s.log()
        );
    }
}

/// The uring model gives its receive buffers' pages back when a worker
/// idles: requests after each idle spell (one with 12 KiB of header
/// fields, spanning pages of a buffer) are read whole, on the same
/// keep-alive connection and on new ones.
#[test]
fn uring_reads_requests_whole_after_idle_spells() {
    let site = Site::new("idle-pages");
    let s = http(&site, "uring", &["--workers", "1"]);
    let (mut w, mut r) = raw(s.tcp());
    for round in 0..4 {
        std::thread::sleep(Duration::from_millis(250));
        let filler = "y".repeat(round * 4000);
        let req = format!("GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n");
        w.write_all(req.as_bytes()).unwrap();
        let resp = read_resp(&mut r, false).expect("a response");
        assert_eq!(resp.status, 200, "round {round}");
        assert_eq!(resp.body, b"hello world\n", "round {round}");
        assert_eq!(get(s.tcp(), "/hello.txt", &[]).status, 200, "round {round}");
    }
}
