//! The `netkit http` directory listing in a real browser: headless Chromium
//! driven over W3C WebDriver (chromedriver, spoken to with `ureq`).
//!
//! The page must render with the right title, every link must show the file's
//! name and resolve to its correctly percent-encoded URL (spaces, `&`, `<`,
//! `%`, `#`, `?`, quotes, non-ASCII), clicking an awkward name must open that
//! file, and the subdirectory link and its `../` must lead there and back.
//! A screenshot of the listing goes to /tmp/netkit-listing.png.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run`
//! installs them); without them the test fails and says so.

mod util;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use util::*;

/// The browser the Debian `chromium` package installs.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Everything the test does must finish within this (cleanup comes on top).
const BUDGET: Duration = Duration::from_secs(50);

/// Where the screenshot of the listing goes.
const SCREENSHOT: &str = "/tmp/netkit-listing.png";

/// W3C WebDriver's key for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Files of the served directory: awkward names, each with its own content.
const FILES: &[&str] = &[
    "a b & c <d>.txt",
    "100% real.txt",
    "a%20b.txt",
    "#1 ?q=x&y.txt",
    "quote\" 'apos'.txt",
    "ünïcødé 日本語.txt",
    "plain.txt",
];

/// The subdirectory, and the one file inside it.
const SUBDIR: &str = "sub dir & <x>";
const INNER: &str = "inner #1?.txt";

/// The file whose link is clicked.
const CLICKED: &str = "#1 ?q=x&y.txt";

fn content_of(name: &str) -> String {
    format!("contents of {name}\n")
}

/// RFC 3986 percent-encoding of one path segment: unreserved bytes stay,
/// everything else (including every byte of non-ASCII characters) is `%XX`.
fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `PATH` lookup.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Fails the test (never skips it) when the browser is not installed.
fn require_browser() -> PathBuf {
    let driver = which("chromedriver");
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).is_file() {
        missing.push(format!("{CHROMIUM} (Debian package `chromium`)"));
    }
    if driver.is_none() {
        missing.push("chromedriver (Debian package `chromium-driver`)".to_string());
    }
    if !missing.is_empty() {
        panic!(
            "the headless browser test needs {}, which is not installed: run .ci/run, \
             which installs the test peers (or: apt-get install -y chromium chromium-driver)",
            missing.join(" and ")
        );
    }
    driver.unwrap()
}

/// A chromedriver child in its own process group; the whole group (driver
/// and any browser it started) is killed on drop.
struct Chromedriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Chromedriver {
    fn start(path: &Path, log: PathBuf) -> Chromedriver {
        // A free port: bind port 0, note it, let it go for chromedriver.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
        Chromedriver { child, port, log }
    }

    /// Polls `/status` until the driver says it is ready.
    fn wait_ready(&mut self, agent: &ureq::Agent, limit: Duration) {
        let url = format!("http://127.0.0.1:{}/status", self.port);
        let until = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("chromedriver exited at start ({st})");
            }
            let ready = agent
                .get(&url)
                .timeout(Duration::from_secs(2))
                .call()
                .ok()
                .and_then(|r| r.into_string().ok())
                .and_then(|s| serde_json::from_str::<Value>(&s).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                return;
            }
            assert!(
                Instant::now() < until,
                "chromedriver not ready on port {} after {limit:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // SAFETY: signals our own child's process group (it leads the group).
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("--- chromedriver log (last lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// A minimal W3C WebDriver client whose every call fits in the test's budget.
struct WebDriver {
    agent: ureq::Agent,
    base: String,
    deadline: Instant,
}

impl WebDriver {
    /// One command; `Ok(value)` or a readable WebDriver error.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, String> {
        let req = self
            .agent
            .request(method, &format!("{}{path}", self.base))
            .timeout(timeout);
        let res = match body {
            Some(b) => req
                .set("Content-Type", "application/json")
                .send_string(&b.to_string()),
            None => req.call(),
        };
        let parse = |text: String| serde_json::from_str::<Value>(&text).unwrap_or(json!(text));
        match res {
            Ok(r) => {
                let v = parse(r.into_string().map_err(|e| e.to_string())?);
                Ok(v["value"].clone())
            }
            Err(ureq::Error::Status(code, r)) => {
                let v = parse(r.into_string().unwrap_or_default());
                Err(format!(
                    "{method} {path}: HTTP {code}: {}: {}",
                    v["value"]["error"].as_str().unwrap_or("?"),
                    v["value"]["message"].as_str().unwrap_or(&v.to_string())
                ))
            }
            Err(e) => Err(format!("{method} {path}: {e}")),
        }
    }

    /// A command that must succeed before the deadline.
    fn must(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let left = self.deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "time budget ({BUDGET:?}) used up before {method} {path}"
        );
        self.call(method, path, body, left.min(Duration::from_secs(25)))
            .unwrap_or_else(|e| panic!("WebDriver: {e}"))
    }
}

/// A browser session, deleted (closing the browser) on drop.
struct Session<'a> {
    wd: &'a WebDriver,
    id: String,
}

impl<'a> Session<'a> {
    fn new(wd: &'a WebDriver, profile: &Path, extra: &[String]) -> Session<'a> {
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend_from_slice(extra);
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": { "implicit": 0, "pageLoad": 15000, "script": 10000 },
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": args,
                    },
                },
            },
        });
        let v = wd.must("POST", "/session", Some(&caps));
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {v}"))
            .to_string();
        Session { wd, id }
    }

    fn cmd(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}/{what}", self.id);
        self.wd.must(method, &path, body.as_ref())
    }

    fn navigate(&self, url: &str) {
        self.cmd("POST", "url", Some(json!({ "url": url })));
    }

    fn url(&self) -> String {
        self.cmd("GET", "url", None).as_str().unwrap().to_string()
    }

    fn title(&self) -> String {
        self.cmd("GET", "title", None).as_str().unwrap().to_string()
    }

    fn script(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Clicks the link whose visible text is exactly `text`.
    fn click_link(&self, text: &str) {
        let found = self.cmd(
            "POST",
            "element",
            Some(json!({ "using": "link text", "value": text })),
        );
        let id = found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element reference for link {text:?}: {found}"));
        self.cmd("POST", &format!("element/{id}/click"), Some(json!({})));
    }

    /// Waits (briefly) for the browser to arrive at `want` after a click.
    fn wait_url(&self, want: &str) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.url();
            if now == want || Instant::now() >= until {
                return now;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The page's links as (text, resolved href, raw href attribute).
    fn links(&self) -> Vec<(String, String, String)> {
        let v = self.script(
            "return Array.from(document.querySelectorAll('tbody a'))\
             .map(a => [a.textContent, a.href, a.getAttribute('href')]);",
        );
        v.as_array()
            .expect("links array")
            .iter()
            .map(|l| {
                let s = |i: usize| l[i].as_str().unwrap_or_default().to_string();
                (s(0), s(1), s(2))
            })
            .collect()
    }

    /// The listing table as rows of cell texts (header row first).
    fn rows(&self) -> Vec<Vec<String>> {
        let v = self.script(
            "return Array.from(document.querySelectorAll('tr'))\
             .map(tr => Array.from(tr.cells).map(c => c.textContent));",
        );
        serde_json::from_value(v).expect("rows of strings")
    }

    /// The rendered text of the page, without trailing whitespace.
    fn page_text(&self) -> String {
        let v = self.script("return document.body.innerText;");
        v.as_str().unwrap_or_default().trim_end().to_string()
    }

    fn screenshot(&self) -> Vec<u8> {
        let v = self.cmd("GET", "screenshot", None);
        base64_decode(v.as_str().expect("base64 screenshot"))
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // Closes the browser; bounded even if the test already ran out of time.
        let path = format!("/session/{}", self.id);
        if let Err(e) = self.wd.call("DELETE", &path, None, Duration::from_secs(10)) {
            eprintln!("deleting the WebDriver session: {e}");
        }
    }
}

/// Standard base64 (the screenshot comes that way).
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {:?}", c as char),
        }
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        acc = ((acc << 6) | val(c)) & 0xFF_FFFF;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// A link as the listing must show it: (text, resolved URL).
fn expected_links(
    base: &str,
    dirs: &[&str],
    files: &[&str],
    parent: bool,
) -> Vec<(String, String)> {
    let mut dirs = dirs.to_vec();
    let mut files = files.to_vec();
    // Directories first, then files, each in natural, case-insensitive order.
    dirs.sort_by_key(|n| natural_key(n));
    files.sort_by_key(|n| natural_key(n));
    let mut out = Vec::new();
    if parent {
        let up = base[..base[..base.len() - 1].rfind('/').unwrap() + 1].to_string();
        out.push(("../".to_string(), up));
    }
    for d in dirs {
        out.push((format!("{d}/"), format!("{base}{}/", encode(d))));
    }
    for f in files {
        out.push((f.to_string(), format!("{base}{}", encode(f))));
    }
    out
}

/// A name's natural sort key: runs of digits by value (before text), other
/// runs lower-cased; ties by the bytes.
fn natural_key(name: &str) -> (Vec<(u8, usize, String)>, Vec<u8>) {
    let mut parts = Vec::new();
    let mut run = String::new();
    let mut digits = None;
    for c in name.chars().chain(std::iter::once('\0')) {
        let d = c.is_ascii_digit();
        if digits.is_some_and(|was| was != d) || c == '\0' {
            if digits == Some(true) {
                let t = run.trim_start_matches('0').to_string();
                parts.push((0, t.len(), t));
            } else if !run.is_empty() {
                parts.push((1, 0, run.to_lowercase()));
            }
            run.clear();
        }
        digits = Some(d);
        run.push(c);
    }
    (parts, name.as_bytes().to_vec())
}

fn check_links(page: &str, got: &[(String, String, String)], want: &[(String, String)]) {
    let got: Vec<(String, String)> = got.iter().map(|(t, h, _)| (t.clone(), h.clone())).collect();
    for (i, (w, g)) in want.iter().zip(got.iter()).enumerate() {
        assert_eq!(g, w, "{page}: link #{i} (text, resolved href) differs");
    }
    assert_eq!(
        got.len(),
        want.len(),
        "{page}: link count differs\n got: {got:#?}\nwant: {want:#?}"
    );
}

#[test]
fn listing_renders_and_links_work_in_headless_chromium() {
    let deadline = Instant::now() + BUDGET;
    let driver_path = require_browser();

    // The served directory.
    let root = tempfile::tempdir().expect("temp root");
    for f in FILES {
        std::fs::write(root.path().join(f), content_of(f)).unwrap();
    }
    std::fs::write(root.path().join(".hidden"), "not listed").unwrap();
    std::fs::create_dir(root.path().join(SUBDIR)).unwrap();
    std::fs::write(root.path().join(SUBDIR).join(INNER), content_of(INNER)).unwrap();
    let root_str = root.path().to_str().unwrap();

    let server = Server::start(&[
        "http",
        root_str,
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--model",
        "epoll",
        "--quiet",
    ]);
    let base = format!("http://{}/", server.tcp());

    // The browser: chromedriver (killed with its browser on drop), one session.
    let scratch = tempfile::tempdir().expect("temp dir");
    let profile = scratch.path().join("profile");
    std::fs::create_dir(&profile).unwrap();
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .build();
    let mut driver = Chromedriver::start(&driver_path, scratch.path().join("chromedriver.log"));
    driver.wait_ready(&agent, Duration::from_secs(15));
    let wd = WebDriver {
        agent,
        base: format!("http://127.0.0.1:{}", driver.port),
        deadline,
    };
    let browser = Session::new(&wd, &profile, &[]);
    browser.cmd(
        "POST",
        "window/rect",
        Some(json!({ "width": 1100, "height": 640 })),
    );

    // The listing: title, encoding, link texts and resolved hrefs, table cells.
    browser.navigate(&base);
    assert_eq!(browser.url(), base);
    assert_eq!(browser.title(), "Index of /");
    assert_eq!(
        browser.script("return document.characterSet;"),
        json!("UTF-8")
    );
    assert_eq!(
        browser.script("return document.querySelector('h1').textContent;"),
        json!("Index of /")
    );
    let links = browser.links();
    check_links("/", &links, &expected_links(&base, &[SUBDIR], FILES, false));
    assert!(
        links.iter().all(|(t, _, _)| !t.contains("hidden")),
        "hidden file listed: {links:?}"
    );
    let rows = browser.rows();
    assert_eq!(rows[0], ["Name", "Size", "Modified"], "header row");
    for row in &rows[1..] {
        assert_eq!(row.len(), 3, "row {row:?}");
        let name = row[0].as_str();
        let want_size = match name.strip_suffix('/') {
            Some(_) => "-".to_string(),
            None => format!("{} B", content_of(name).len()),
        };
        assert_eq!(row[1], want_size, "size cell of {name:?}");
        // `2026-12-02 17:40`: the date, and the time of day.
        let date = row[2].as_bytes();
        assert!(
            date.len() == 16 && date[4] == b'-' && date[10] == b' ' && date[13] == b':',
            "date cell of {name:?}: {row:?}"
        );
    }
    assert_eq!(rows.len(), 1 + 1 + FILES.len());

    // The screenshot, while the listing is on screen.
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "screenshot is a PNG");
    std::fs::write(SCREENSHOT, &png).expect("write screenshot");
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert!(w >= 600 && h >= 300, "screenshot is {w}x{h}");
    eprintln!("listing screenshot ({w}x{h}) saved to {SCREENSHOT}");

    // Click an awkward file name: the browser lands on that file.
    let want = format!("{base}{}", encode(CLICKED));
    browser.click_link(CLICKED);
    assert_eq!(
        browser.wait_url(&want),
        want,
        "URL after clicking {CLICKED:?}"
    );
    assert_eq!(
        browser.script("return document.contentType;"),
        json!("text/plain")
    );
    assert_eq!(
        browser.page_text(),
        content_of(CLICKED).trim_end(),
        "page text after clicking {CLICKED:?}"
    );

    // The non-ASCII name, followed through its resolved href.
    let unicode = FILES.iter().find(|f| !f.is_ascii()).unwrap();
    browser.navigate(&base);
    browser.click_link(unicode);
    let want = format!("{base}{}", encode(unicode));
    assert_eq!(
        browser.wait_url(&want),
        want,
        "URL after clicking {unicode:?}"
    );
    assert_eq!(
        browser.page_text(),
        content_of(unicode).trim_end(),
        "page text after clicking {unicode:?}"
    );

    // Into the subdirectory via its link, and back up via `../`.
    browser.navigate(&base);
    browser.click_link(&format!("{SUBDIR}/"));
    let sub = format!("{base}{}/", encode(SUBDIR));
    assert_eq!(
        browser.wait_url(&sub),
        sub,
        "URL after clicking the subdirectory"
    );
    assert_eq!(browser.title(), format!("Index of /{SUBDIR}/"));
    check_links(
        SUBDIR,
        &browser.links(),
        &expected_links(&sub, &[], &[INNER], true),
    );
    browser.click_link(INNER);
    let want = format!("{sub}{}", encode(INNER));
    assert_eq!(
        browser.wait_url(&want),
        want,
        "URL after clicking {INNER:?}"
    );
    assert_eq!(browser.page_text(), content_of(INNER).trim_end());
    browser.navigate(&sub);
    browser.click_link("../");
    assert_eq!(browser.wait_url(&base), base, "URL after clicking ../");
    assert_eq!(browser.title(), "Index of /");

    drop(browser);
    drop(driver);
    drop(server);
    assert!(
        Instant::now() < deadline + Duration::from_secs(10),
        "the browser test took too long"
    );
}

/// The SPKI SHA-256 (base64) of a PEM certificate, as Chromium's
/// `--ignore-certificate-errors-spki-list` wants it.
fn spki_hash(cert: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(
            "openssl x509 -pubkey -noout -in \"$0\" | openssl pkey -pubin -outform der \
             | openssl dgst -sha256 -binary | base64",
        )
        .arg(cert)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn listing_over_https_in_headless_chromium() {
    let deadline = Instant::now() + BUDGET;
    let driver_path = require_browser();
    let root = tempfile::tempdir().expect("temp root");
    std::fs::write(root.path().join(CLICKED), content_of(CLICKED)).unwrap();
    std::fs::write(root.path().join("plain.txt"), content_of("plain.txt")).unwrap();
    let scratch = tempfile::tempdir().expect("temp dir");
    let cert = scratch.path().join("cert.pem");
    let server = Server::start(&[
        "http",
        root.path().to_str().unwrap(),
        "--port",
        "0",
        "--quiet",
        "--tls-self-signed",
        "--tls-cert-out",
        cert.to_str().unwrap(),
        "--hsts",
    ]);
    let base = format!("https://localhost:{}/", server.tcp().port());

    let profile = scratch.path().join("profile");
    std::fs::create_dir(&profile).unwrap();
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .build();
    let mut driver = Chromedriver::start(&driver_path, scratch.path().join("chromedriver.log"));
    driver.wait_ready(&agent, Duration::from_secs(15));
    let wd = WebDriver {
        agent,
        base: format!("http://127.0.0.1:{}", driver.port),
        deadline,
    };
    // Trust exactly the server's certificate (by its public key), nothing else.
    let trust = format!("--ignore-certificate-errors-spki-list={}", spki_hash(&cert));
    let browser = Session::new(&wd, &profile, &[trust]);
    browser.navigate(&base);
    assert_eq!(browser.url(), base);
    assert_eq!(browser.title(), "Index of /");
    assert_eq!(
        browser.script("return window.isSecureContext;"),
        json!(true)
    );
    assert_eq!(browser.script("return location.protocol;"), json!("https:"));
    check_links(
        "/",
        &browser.links(),
        &expected_links(&base, &[], &[CLICKED, "plain.txt"], false),
    );
    let want = format!("{base}{}", encode(CLICKED));
    browser.click_link(CLICKED);
    assert_eq!(browser.wait_url(&want), want);
    assert_eq!(browser.page_text(), content_of(CLICKED).trim_end());
    drop(browser);
    drop(driver);
    drop(server);
}

/// Where the listing's screenshots go: docs/screenshots (committed, shown in
/// docs/sharing.md) when `NETKIT_SCREENSHOTS=1`, so that a plain test run
/// leaves the work tree alone; a temporary folder otherwise.
fn screenshot_dir() -> PathBuf {
    if std::env::var_os("NETKIT_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
    } else {
        std::env::temp_dir().join("netkit-screenshots")
    }
}

impl Session<'_> {
    /// A Chrome DevTools Protocol command through chromedriver.
    fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            "POST",
            "goog/cdp/execute",
            Some(json!({ "cmd": cmd, "params": params })),
        )
    }

    /// Emulates a viewport `width` wide (a phone's when `mobile`) and a colour scheme.
    fn emulate(&self, width: u32, height: u32, mobile: bool, scheme: &str) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        );
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
        );
    }

    /// Clicks the first element matching a CSS selector.
    fn click_css(&self, css: &str) {
        let found = self.cmd(
            "POST",
            "element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        let id = found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"));
        self.cmd("POST", &format!("element/{id}/click"), Some(json!({})));
    }

    /// Types `text` into the first element matching `css` (a file input takes a path).
    fn type_into(&self, css: &str, text: &str) {
        let found = self.cmd(
            "POST",
            "element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        let id = found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"));
        self.cmd(
            "POST",
            &format!("element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// The names in the listing's rows, in order (without `../`).
    fn row_names(&self) -> Vec<String> {
        let v = self.script(
            "return Array.from(document.querySelectorAll('tbody td.name a'))\
             .map(a => a.textContent).filter(t => t !== '../');",
        );
        serde_json::from_value(v).expect("names")
    }

    /// Waits (briefly) until `js` returns true.
    fn wait_for(&self, js: &str) -> bool {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if self.script(js) == json!(true) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

#[test]
fn sharing_listing_in_chromium_at_desktop_and_phone_widths_light_and_dark() {
    let deadline = Instant::now() + BUDGET + Duration::from_secs(20);
    let driver_path = require_browser();
    let root = tempfile::tempdir().expect("temp root");
    let files: &[(&str, usize)] = &[
        ("Zeta report.pdf", 48_213),
        (
            "a-very-long-file-name-that-has-to-wrap-somewhere-on-a-phone-2026-12-02.tar.gz",
            7_340_032,
        ),
        ("holiday photo 10.jpg", 2_203_122),
        ("holiday photo 9.jpg", 1_873_004),
        ("notes.txt", 1_234),
        ("song.mp3", 5_800_000),
        ("main.rs", 9_876),
    ];
    for (name, size) in files {
        let f = std::fs::File::create(root.path().join(name)).unwrap();
        f.set_len(*size as u64).unwrap();
    }
    std::fs::create_dir(root.path().join("Projects")).unwrap();
    std::fs::create_dir(root.path().join("music")).unwrap();
    std::fs::write(root.path().join(".hidden"), "not listed").unwrap();
    let server = Server::start(&[
        "http",
        root.path().to_str().unwrap(),
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--model",
        "epoll",
        "--quiet",
        "--file-cache",
        "0",
        "--upload",
        "--mkdir",
        "--delete",
        "--archives",
        // The page's inline style and script must pass its own
        // Content-Security-Policy (allowed by their hashes, nothing else).
        "--security-headers",
    ]);
    let base = format!("http://{}/", server.tcp());

    let scratch = tempfile::tempdir().expect("temp dir");
    let profile = scratch.path().join("profile");
    std::fs::create_dir(&profile).unwrap();
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .build();
    let mut driver = Chromedriver::start(&driver_path, scratch.path().join("chromedriver.log"));
    driver.wait_ready(&agent, Duration::from_secs(15));
    let wd = WebDriver {
        agent,
        base: format!("http://127.0.0.1:{}", driver.port),
        deadline,
    };
    let browser = Session::new(&wd, &profile, &[]);
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).unwrap();

    for (label, width, height, mobile) in [("desktop", 1280, 760, false), ("phone", 390, 844, true)]
    {
        for scheme in ["light", "dark"] {
            browser.emulate(width, height, mobile, scheme);
            browser.navigate(&base);
            assert_eq!(browser.title(), "Index of /");
            assert_eq!(
                browser.script(&format!(
                    "return matchMedia('(prefers-color-scheme: {scheme})').matches;"
                )),
                json!(true),
                "{label} {scheme}: the scheme is emulated"
            );
            // Dark mode really changes the page.
            let bg = browser.script("return getComputedStyle(document.body).backgroundColor;");
            let want_bg = if scheme == "dark" {
                "rgb(13, 17, 23)"
            } else {
                "rgb(255, 255, 255)"
            };
            assert_eq!(bg, json!(want_bg), "{label} {scheme}: background");
            // Nothing wider than the screen, and sizes and dates on one line.
            let overflow = browser.script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            );
            assert_eq!(overflow, json!(0), "{label} {scheme}: horizontal overflow");
            let wrapped = browser.script(
                "return Array.from(document.querySelectorAll('td.size, td.date'))\
                 .filter(td => { const r = document.createRange(); r.selectNodeContents(td);\
                   return td.textContent && r.getBoundingClientRect().height > 1.6 * parseFloat(getComputedStyle(td).lineHeight); })\
                 .map(td => td.textContent);",
            );
            assert_eq!(
                wrapped,
                json!([]),
                "{label} {scheme}: size or date cells wrap"
            );
            assert_eq!(
                browser.script("return document.querySelectorAll('svg.i').length;"),
                json!(files.len() + 2),
                "an icon per entry"
            );
            let png = browser.screenshot();
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
            let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
            assert_eq!(w, width, "{label}: screenshot width");
            std::fs::write(shots.join(format!("listing-{label}-{scheme}.png")), &png).unwrap();
        }
    }

    // Natural, case-insensitive order, folders first; the headers sort.
    browser.emulate(1280, 760, false, "light");
    browser.navigate(&base);
    let by_name = browser.row_names();
    assert_eq!(
        by_name,
        [
            "music/",
            "Projects/",
            "a-very-long-file-name-that-has-to-wrap-somewhere-on-a-phone-2026-12-02.tar.gz",
            "holiday photo 9.jpg",
            "holiday photo 10.jpg",
            "main.rs",
            "notes.txt",
            "song.mp3",
            "Zeta report.pdf",
        ]
    );
    browser.click_css("th.size a");
    assert!(
        browser
            .wait_url(&format!("{base}?sort=size&order=desc"))
            .ends_with("order=desc")
    );
    let by_size = browser.row_names();
    assert_eq!(by_size[2], files[1].0, "biggest first");
    assert_eq!(by_size.last().unwrap(), "notes.txt");
    browser.click_css("th.size a");
    assert!(
        browser
            .wait_url(&format!("{base}?sort=size&order=asc"))
            .ends_with("order=asc")
    );
    assert_eq!(browser.row_names()[2], "notes.txt", "smallest first");
    browser.click_css("th.name a");
    browser.click_css("th.name a");
    let desc = browser.row_names();
    assert_eq!(desc[2], "Zeta report.pdf", "names descending: {desc:?}");

    // The upload form (through its script: a progress bar, then the listing again).
    let up = scratch.path().join("uploaded from chromium.txt");
    std::fs::write(&up, "sent by the browser\n").unwrap();
    browser.navigate(&base);
    browser.type_into("input[type=file]", up.to_str().unwrap());
    browser.click_css("#up button[type=submit]");
    assert!(
        browser.wait_for("return Array.from(document.querySelectorAll('tbody td.name a')).some(a => a.textContent === 'uploaded from chromium.txt');"),
        "the upload shows in the listing"
    );
    assert_eq!(
        std::fs::read(root.path().join("uploaded from chromium.txt")).unwrap(),
        b"sent by the browser\n"
    );
    // A new folder through the plain form.
    browser.type_into("#mkdir", "From Chromium");
    browser.click_css("form.mk button");
    assert!(
        browser.wait_for("return Array.from(document.querySelectorAll('tbody td.name a')).some(a => a.textContent === 'From Chromium/');"),
        "the new folder shows"
    );
    assert!(root.path().join("From Chromium").is_dir());
    // The favicon is the page's own; no request the page made failed.
    let favicon = browser.script(
        "return document.querySelector('link[rel=icon]').href.startsWith('data:image/svg+xml');",
    );
    assert_eq!(favicon, json!(true));

    drop(browser);
    drop(driver);
    drop(server);
    assert!(
        Instant::now() < deadline + Duration::from_secs(10),
        "the browser test took too long"
    );
}
