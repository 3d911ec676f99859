//! `netkit http` as production servers are configured: compression, Basic
//! auth, CORS, fixed and security headers, Cache-Control rules, error
//! pages, single-page apps, health and metrics, log formats — on every
//! model, with curl, Python and raw sockets as clients.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
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

/// A document root, removed on drop.
struct Site {
    dir: PathBuf,
}

impl Site {
    fn new(tag: &str) -> Site {
        let dir = std::env::temp_dir().join(format!("netkit-prod-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::create_dir_all(dir.join("api")).unwrap();
        std::fs::write(dir.join("index.html"), "<h1>the app</h1>".repeat(40)).unwrap();
        std::fs::write(dir.join("page.txt"), text(4000)).unwrap();
        std::fs::write(dir.join("big.txt"), text(3 << 20)).unwrap();
        std::fs::write(dir.join("assets/app.js"), "console.log(1);\n".repeat(100)).unwrap();
        std::fs::write(dir.join("photo.png"), payload(5000, 7)).unwrap();
        std::fs::write(dir.join("tiny.txt"), "tiny").unwrap();
        std::fs::write(dir.join("twin.css"), "p{color:red}".repeat(50)).unwrap();
        std::fs::write(dir.join("twin.css.gz"), gzip(&"p{color:red}".repeat(50))).unwrap();
        std::fs::write(dir.with_extension("404.html"), "<h1>nothing here</h1>").unwrap();
        Site { dir }
    }
    fn root(&self) -> &str {
        self.dir.to_str().unwrap()
    }
    fn error_page(&self) -> String {
        format!("404={}", self.dir.with_extension("404.html").display())
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(self.dir.with_extension("404.html"));
    }
}

fn text(len: usize) -> String {
    let mut s = String::with_capacity(len + 64);
    let mut i = 0u64;
    while s.len() < len {
        s.push_str(&format!(
            "line {i}: netkit serves text that compresses well\n"
        ));
        i += 1;
    }
    s.truncate(len);
    s
}

fn gzip(s: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(s.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn decode(coding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        None => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("zstd") => out = zstd::decode_all(body).unwrap(),
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

/// A response read off a raw socket (Content-Length or chunked).
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
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    fn varies_on(&self, what: &str) -> bool {
        self.all("vary")
            .iter()
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(what))
    }
    fn decoded(&self) -> Vec<u8> {
        decode(self.header("content-encoding"), &self.body)
    }
}

fn read_resp(r: &mut BufReader<TcpStream>, head: bool) -> Resp {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no status line: {line:?}"))
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').unwrap();
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if head || matches!(status, 204 | 304) || status < 200 {
        return resp;
    }
    if resp
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            resp.body.extend_from_slice(&chunk[..n]);
        }
    } else {
        let len: usize = resp
            .header("content-length")
            .map(|v| v.parse().unwrap())
            .unwrap_or(0);
        resp.body = vec![0; len];
        r.read_exact(&mut resp.body).unwrap();
    }
    resp
}

/// One request on a new connection.
fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    (&s).write_all(req.as_bytes()).unwrap();
    read_resp(&mut r, method == "HEAD")
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn curl(args: &[&str]) -> (String, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.stdout,
    )
}

fn start(site: &Site, model: &str, extra: &[&str]) -> Running {
    let mut args = vec![
        "http",
        site.root(),
        "--port",
        "0",
        "--model",
        model,
        "--quiet",
    ];
    if model == "iterative" || model == "select" || model == "poll" {
        args.extend(["--idle-timeout", "2s"]);
    }
    args.extend_from_slice(extra);
    Running(Server::start(&args))
}

/// Every feature together, on every model.
#[test]
fn every_feature_on_every_model() {
    let site = Site::new("all");
    let error_page = site.error_page();
    let want_page = std::fs::read(site.dir.join("page.txt")).unwrap();
    let want_big = std::fs::read(site.dir.join("big.txt")).unwrap();
    let auth = basic("alice", "wonder land");
    for model in MODELS {
        let s = start(
            &site,
            model,
            &[
                "--auth",
                "alice:wonder land",
                "--cors",
                "https://app.example",
                "--header",
                "X-Served-By: netkit-test",
                "--cache-control",
                "*.html=no-cache",
                "--cache-control",
                "assets/**=public, max-age=31536000, immutable",
                "--security-headers",
                "--error-page",
                &error_page,
                "--metrics",
            ],
        );
        let a = s.0.tcp();
        let ok = [("Authorization", auth.as_str())];

        // No credentials, wrong ones: 401 and a challenge, on every route.
        for path in [
            "/page.txt",
            "/",
            "/api/time",
            "/.netkit/health",
            "/.netkit/metrics",
        ] {
            let r = request(a, "GET", path, &[]);
            assert_eq!(r.status, 401, "{model} {path}");
            assert_eq!(
                r.header("www-authenticate"),
                Some("Basic realm=\"netkit\", charset=\"UTF-8\""),
                "{model}"
            );
        }
        let wrong = basic("alice", "wonder");
        assert_eq!(
            request(a, "GET", "/page.txt", &[("Authorization", &wrong)]).status,
            401
        );

        // Each coding, by q-value; the same bytes once decoded.
        for (accept, coding) in [
            ("gzip, br, zstd", Some("br")),
            ("zstd", Some("zstd")),
            ("gzip;q=1, br;q=0.5", Some("gzip")),
            ("identity", None),
            ("br;q=0, gzip;q=0", None),
        ] {
            let r = request(a, "GET", "/page.txt", &[ok[0], ("Accept-Encoding", accept)]);
            assert_eq!(r.status, 200, "{model} {accept}");
            assert_eq!(r.header("content-encoding"), coding, "{model} {accept}");
            assert!(r.varies_on("Accept-Encoding"), "{model} {accept}");
            assert_eq!(r.decoded(), want_page, "{model} {accept}");
            if coding.is_some() {
                assert!(r.body.len() < want_page.len() / 3, "{model}: compressed");
            }
        }
        // Without Accept-Encoding: the file itself, still with Vary.
        let r = request(a, "GET", "/page.txt", &ok);
        assert_eq!((r.header("content-encoding"), r.body.len()), (None, 4000));
        assert!(r.varies_on("Accept-Encoding"), "{model}");
        // Ranges keep working on the identity encoding.
        let r = request(
            a,
            "GET",
            "/page.txt",
            &[
                ok[0],
                ("Accept-Encoding", "gzip, br"),
                ("Range", "bytes=10-19"),
            ],
        );
        assert_eq!(r.status, 206, "{model}");
        assert_eq!(r.header("content-encoding"), None);
        assert_eq!(r.body, want_page[10..20]);
        // A conditional request on the compressed form.
        let r = request(a, "GET", "/page.txt", &[ok[0], ("Accept-Encoding", "br")]);
        let etag = r.header("etag").unwrap().to_string();
        let r = request(
            a,
            "GET",
            "/page.txt",
            &[ok[0], ("Accept-Encoding", "br"), ("If-None-Match", &etag)],
        );
        assert_eq!(r.status, 304, "{model}");
        assert!(r.varies_on("Accept-Encoding"));
        // Not worth it: images, tiny files.
        let r = request(
            a,
            "GET",
            "/photo.png",
            &[ok[0], ("Accept-Encoding", "gzip")],
        );
        assert_eq!((r.status, r.header("content-encoding")), (200, None));
        let r = request(a, "GET", "/tiny.txt", &[ok[0], ("Accept-Encoding", "gzip")]);
        assert_eq!(
            (r.header("content-encoding"), &r.body[..]),
            (None, &b"tiny"[..])
        );
        // A large file, compressed while it streams (curl decodes it).
        let url = format!("http://{a}/big.txt");
        let (_, body) = curl(&["--compressed", "-u", "alice:wonder land", &url]);
        assert_eq!(body.len(), want_big.len(), "{model}: big file via curl");
        assert!(body == want_big, "{model}: big file content");
        let r = request(a, "GET", "/big.txt", &[ok[0], ("Accept-Encoding", "zstd")]);
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert!(r.body.len() < want_big.len() / 5);
        assert!(r.decoded() == want_big, "{model}: streamed zstd");

        // Fixed and security headers, Cache-Control by pattern.
        let r = request(a, "GET", "/", &ok);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-served-by"), Some("netkit-test"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert!(
            r.header("content-security-policy")
                .unwrap()
                .contains("default-src 'self'")
        );
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        let r = request(a, "GET", "/assets/app.js", &ok);
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(
            request(a, "GET", "/page.txt", &ok).header("cache-control"),
            None
        );

        // CORS: granted to the listed origin, preflight without credentials.
        let r = request(
            a,
            "GET",
            "/page.txt",
            &[ok[0], ("Origin", "https://app.example")],
        );
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("https://app.example")
        );
        assert!(r.varies_on("Origin"));
        let r = request(
            a,
            "GET",
            "/page.txt",
            &[ok[0], ("Origin", "https://evil.example")],
        );
        assert_eq!(r.header("access-control-allow-origin"), None);
        let (head, _) = curl(&[
            "-v",
            "-X",
            "OPTIONS",
            "-H",
            "Origin: https://app.example",
            "-H",
            "Access-Control-Request-Method: GET",
            "-H",
            "Access-Control-Request-Headers: authorization",
            &format!("http://{a}/page.txt"),
        ]);
        assert!(head.contains("< HTTP/1.1 204"), "{model}: {head}");
        assert!(head.contains("< Access-Control-Allow-Origin: https://app.example"));
        assert!(head.contains("< Access-Control-Allow-Headers: authorization"));

        // The error page, compressed too when asked.
        let r = request(a, "GET", "/missing", &[ok[0], ("Accept-Encoding", "gzip")]);
        assert_eq!(r.status, 404);
        assert_eq!(r.decoded(), b"<h1>nothing here</h1>");

        // Health and metrics, behind the same credentials.
        let r = request(a, "GET", "/.netkit/health", &ok);
        assert_eq!((r.status, &r.body[..]), (200, &br#"{"status":"ok"}"#[..]));
        let r = request(a, "GET", "/.netkit/metrics", &ok);
        assert_eq!(r.status, 200, "{model}");
        let m = String::from_utf8(r.decoded()).unwrap();
        assert!(m.contains(&format!("model=\"{model}\"")), "{model}: {m}");
        let count = |code: &str| -> u64 {
            m.lines()
                .filter(|l| {
                    l.starts_with("netkit_http_requests_total{")
                        && l.contains(&format!("code=\"{code}\""))
                })
                .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
                .sum()
        };
        // Requests answered by every worker and process count.
        assert!(count("200") >= 15, "{model}: {m}");
        assert!(count("401") >= 6, "{model}: {m}");
        assert!(m.contains("netkit_http_request_duration_seconds_bucket"));
        assert!(m.contains("netkit_http_response_bytes_total"));
    }
}

/// Users from an htpasswd-style file with argon2, bcrypt and SHA-512
/// crypt hashes, checked by Python's urllib and curl.
#[test]
fn auth_file_with_every_hash_and_python_clients() {
    let site = Site::new("authfile");
    let sha512 = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt; print(crypt.crypt('pw-carol', crypt.mksalt(crypt.METHOD_SHA512)))",
        ])
        .output()
        .unwrap();
    let sha512 = String::from_utf8(sha512.stdout).unwrap().trim().to_string();
    assert!(sha512.starts_with("$6$"), "{sha512}");
    let bcrypt = bcrypt::hash("pw-bob", 4).unwrap();
    let argon = {
        use argon2::PasswordHasher;
        let salt = argon2::password_hash::SaltString::from_b64("bmV0a2l0c2FsdA").unwrap();
        argon2::Argon2::default()
            .hash_password(b"pw-dave", &salt)
            .unwrap()
            .to_string()
    };
    let file = site.dir.with_extension("htpasswd");
    std::fs::write(
        &file,
        format!("# users\nbob:{bcrypt}\ncarol:{sha512}\n\ndave:{argon}\n"),
    )
    .unwrap();
    for model in ["thread", "prefork", "epoll", "async"] {
        let s = start(
            &site,
            model,
            &[
                "--auth-file",
                file.to_str().unwrap(),
                "--realm",
                "team files",
            ],
        );
        let url = format!("http://{}/page.txt", s.0.tcp());
        let py = format!(
            r#"
import urllib.request, urllib.error, sys
def get(user, pw):
    mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    mgr.add_password(None, "{url}", user, pw)
    opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(mgr))
    try:
        return opener.open("{url}", timeout=20).status
    except urllib.error.HTTPError as e:
        return e.code
print(get("bob", "pw-bob"), get("carol", "pw-carol"), get("dave", "pw-dave"), get("bob", "pw-carol"), get("eve", "x"))
"#
        );
        let out = Command::new("python3").args(["-c", &py]).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "200 200 200 401 401",
            "{model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (head, _) = curl(&["-v", &url]);
        assert!(
            head.contains("< WWW-Authenticate: Basic realm=\"team files\""),
            "{head}"
        );
        let (_, body) = curl(&["-u", "carol:pw-carol", &url]);
        assert_eq!(body.len(), 4000);
    }
    let _ = std::fs::remove_file(&file);
}

/// An upload without credentials is refused before its body is read.
#[test]
fn uploads_need_credentials_before_the_body() {
    let site = Site::new("authup");
    for model in ["thread", "epoll", "fork", "uring"] {
        let s = start(&site, model, &["--upload", "--auth", "u:p"]);
        let url = format!("http://{}/up-{model}.txt", s.0.tcp());
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-T",
                "-",
                &url,
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                let _ = c.stdin.take().unwrap().write_all(&[b'x'; 200_000]);
                c.wait_with_output()
            })
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "401", "{model}");
        assert!(!site.dir.join(format!("up-{model}.txt")).exists());
        let data = site.dir.with_extension(format!("{model}.src"));
        std::fs::write(&data, "uploaded").unwrap();
        let (_, code) = curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-u",
            "u:p",
            "-T",
            data.to_str().unwrap(),
            &url,
        ]);
        assert_eq!(String::from_utf8_lossy(&code), "201", "{model}");
        let _ = std::fs::remove_file(&data);
        // Seen at once, though the file cache had its absence.
        let (_, body) = curl(&["-u", "u:p", &url]);
        assert_eq!(body, b"uploaded", "{model}");
    }
}

/// --no-compress; precompressed twins still go to clients that take them,
/// and the plain answer of a file with a twin says it varies.
#[test]
fn precompressed_twins_and_no_compress() {
    let site = Site::new("twins");
    let css = "p{color:red}".repeat(50);
    for model in ["thread", "epoll"] {
        let s = start(&site, model, &["--no-compress"]);
        let a = s.0.tcp();
        let r = request(a, "GET", "/page.txt", &[("Accept-Encoding", "gzip, br")]);
        assert_eq!((r.header("content-encoding"), r.body.len()), (None, 4000));
        assert!(!r.varies_on("Accept-Encoding"), "nothing varies");
        let r = request(a, "GET", "/twin.css", &[("Accept-Encoding", "br, gzip")]);
        assert_eq!(
            r.header("content-encoding"),
            Some("gzip"),
            "{model}: the twin"
        );
        assert_eq!(r.decoded(), css.as_bytes());
        let r = request(a, "GET", "/twin.css", &[]);
        assert_eq!(
            (r.header("content-encoding"), r.body.len()),
            (None, css.len())
        );
        assert!(
            r.varies_on("Accept-Encoding"),
            "{model}: Vary on the plain twin"
        );
        // A listing (made in memory) is not compressed either.
        let r = request(a, "GET", "/assets/", &[("Accept-Encoding", "gzip")]);
        assert_eq!(r.header("content-encoding"), None);
    }
    // With compression on, the twin is still preferred to a coding made on the fly.
    let s = start(&site, "epoll", &[]);
    let r = request(
        s.0.tcp(),
        "GET",
        "/twin.css",
        &[("Accept-Encoding", "br, gzip")],
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let r = request(
        s.0.tcp(),
        "GET",
        "/twin.css",
        &[("Accept-Encoding", "br;q=1, gzip;q=0.1")],
    );
    assert_eq!(
        r.header("content-encoding"),
        Some("br"),
        "on the fly when preferred"
    );
    // Listings are compressed.
    let r = request(s.0.tcp(), "GET", "/assets/", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(String::from_utf8(r.decoded()).unwrap().contains("app.js"));
}

/// The course's example routes give way to real files, `/api/stats` shows
/// no process details, and `/.netkit/` paths are netkit's own.
#[test]
fn built_in_routes_never_hide_files() {
    let site = Site::new("routes");
    std::fs::write(site.dir.join("api/time"), "a real file").unwrap();
    for model in ["thread", "prefork", "epoll"] {
        let s = start(&site, model, &["--workers", "2"]);
        let a = s.0.tcp();
        let r = request(a, "GET", "/api/time", &[]);
        assert_eq!(r.body, b"a real file", "{model}");
        for _ in 0..6 {
            assert_eq!(request(a, "GET", "/tiny.txt", &[]).status, 200);
        }
        let r = request(a, "GET", "/api/stats", &[]);
        let v: serde_json::Value = serde_json::from_slice(&r.decoded()).unwrap();
        assert!(
            v.get("pid").is_none() && v.get("rss_bytes").is_none(),
            "{v}"
        );
        // Aggregated over every worker and process.
        assert!(v["requests"].as_u64().unwrap() >= 7, "{model}: {v}");
        assert!(v["connections"].as_u64().unwrap() >= 8, "{model}: {v}");
        assert_eq!(request(a, "GET", "/.netkit/health", &[]).status, 200);
        // Metrics are off unless asked for.
        assert_eq!(request(a, "GET", "/.netkit/metrics", &[]).status, 404);
    }
    let s = start(&site, "epoll", &["--no-health"]);
    assert_eq!(
        request(s.0.tcp(), "GET", "/.netkit/health", &[]).status,
        404
    );
}

/// --spa answers client-side routes with the root's index.html.
#[test]
fn single_page_app_fallback() {
    let site = Site::new("spa");
    for model in ["thread", "epoll", "async"] {
        let s = start(&site, model, &["--spa"]);
        let a = s.0.tcp();
        let index = std::fs::read(site.dir.join("index.html")).unwrap();
        let r = request(a, "GET", "/users/42/profile", &[]);
        assert_eq!((r.status, r.decoded()), (200, index.clone()), "{model}");
        let r = request(a, "GET", "/missing.js", &[]);
        assert_eq!(r.status, 404, "{model}: assets stay 404");
        let r = request(a, "GET", "/old/page.php", &[("Accept", "text/html,*/*")]);
        assert_eq!(r.status, 200, "{model}: a navigation gets the app");
        assert_eq!(request(a, "GET", "/page.txt", &[]).status, 200);
    }
}

/// Combined and JSON access-log lines, with the bytes actually sent and the user.
#[test]
fn log_formats() {
    let site = Site::new("logs");
    for model in ["thread", "epoll"] {
        let s = Running(Server::start(&[
            "http",
            site.root(),
            "--port",
            "0",
            "--model",
            model,
            "--log-format",
            "combined",
            "--auth",
            "ann:pw",
        ]));
        let url = format!("http://{}/tiny.txt", s.0.tcp());
        curl(&[
            "-u",
            "ann:pw",
            "-A",
            "test-agent/1",
            "-e",
            "http://ref.example/",
            &url,
        ]);
        let want = "\"GET /tiny.txt HTTP/1.1\" 200 4 \"http://ref.example/\" \"test-agent/1\"";
        assert!(
            eventually(Duration::from_secs(5), || s.0.log().contains(want)),
            "{model}: {}",
            s.0.log()
        );
        assert!(s.0.log().contains(" - ann ["), "{}", s.0.log());

        let s = Running(Server::start(&[
            "http",
            site.root(),
            "--port",
            "0",
            "--model",
            model,
            "--log-format",
            "json",
        ]));
        let url = format!("http://{}/page.txt", s.0.tcp());
        curl(&["-o", "/dev/null", &url]);
        assert!(eventually(Duration::from_secs(5), || s
            .0
            .log()
            .contains("\"status\":200")));
        let log = s.0.log();
        let line = log.lines().find(|l| l.contains("\"status\":200")).unwrap();
        let json = &line[line.find('{').unwrap()..];
        let v: serde_json::Value =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["request"], "GET /page.txt HTTP/1.1");
        assert_eq!(v["bytes"], 4000);
        assert_eq!(v["remote"], "127.0.0.1");
        assert!(v["duration_ms"].as_f64().is_some());
    }
}

/// Bad options are refused at start with one clear line.
#[test]
fn bad_options_are_refused_clearly() {
    let site = Site::new("bad");
    let htpasswd = site.dir.with_extension("weak");
    std::fs::write(&htpasswd, "old:$apr1$abc$defghijkl\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--auth".into(), "nocolon".into()], "USER:PASSWORD"),
        (
            vec!["--auth-file".into(), htpasswd.display().to_string()],
            "MD5",
        ),
        (
            vec!["--auth-file".into(), "/nonexistent/users".into()],
            "/nonexistent/users",
        ),
        (vec!["--header".into(), "Broken".into()], "Name: value"),
        (
            vec!["--header".into(), "Content-Length: 3".into()],
            "sets this field itself",
        ),
        (vec!["--cors".into(), "app.example".into()], "origin"),
        (
            vec!["--cache-control".into(), "*.html".into()],
            "PATTERN=VALUE",
        ),
        (
            vec!["--error-page".into(), "404=/nonexistent.html".into()],
            "/nonexistent.html",
        ),
        (vec!["--error-page".into(), "200=x".into()], "400-599"),
    ];
    for (extra, needle) in cases {
        let mut args = vec![
            "http".to_string(),
            site.root().into(),
            "--port".into(),
            "0".into(),
        ];
        args.extend(extra.clone());
        let out = Command::new(bin())
            .args(&args)
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?} should fail");
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert!(!err.contains("stack backtrace"), "{extra:?}: {err}");
    }
    // --spa without an index.html.
    let empty = site.dir.join("assets");
    let out = Command::new(bin())
        .args(["http", empty.to_str().unwrap(), "--port", "0", "--spa"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--spa needs an index.html"));
    let _ = std::fs::remove_file(&htpasswd);
}
