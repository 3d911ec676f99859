//! What the netkit fuzz targets share: a model driver in miniature that feeds
//! a session its input in pieces and checks the driver contract on every
//! call, the temporary roots the HTTP and files sessions serve, and readers
//! of what they wrote.
//!
//! Only netkit's public API is used, as a protocol author would.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use netkit::files::{FileLibrary, FilesService, Options};
use netkit::http::session::HttpService;
use netkit::http::{App, Response};
use netkit::server::{Output, Queued, Session};

/// Every file of the temporary roots is dated this (so ETags and dates are fixed).
pub const MTIME_SECS: u64 = 1_700_000_000;

/// The ETag the HTTP server gives a file of `size` bytes in the root.
pub fn etag(size: u64) -> String {
    format!("\"{MTIME_SECS:x}.0-{size:x}\"")
}

/// The `Last-Modified` of every file in the roots.
pub const LAST_MODIFIED: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

/// Splits input into pieces: the first byte picks the largest piece (0: the
/// input whole; odd: up to that many bytes; even: up to 256 times as many),
/// the next four seed the sizes. Returns the splitter and the rest.
pub fn splitter(data: &[u8]) -> (Pieces, &[u8]) {
    if data.len() < 5 {
        return (Pieces::whole(), &data[data.len().min(1)..]);
    }
    let mode = data[0] as usize;
    let seed = u32::from_le_bytes([data[1], data[2], data[3], data[4]]) as u64;
    let max = match mode {
        0 => usize::MAX,
        m if m % 2 == 1 => m,
        m => m * 256,
    };
    (Pieces::new(seed, max), &data[5..])
}

/// Piece sizes from a xorshift generator (1..=max each).
#[derive(Debug, Clone)]
pub struct Pieces {
    state: u64,
    max: usize,
}

impl Pieces {
    /// Sizes of at most `max`, from `seed`.
    pub fn new(seed: u64, max: usize) -> Pieces {
        Pieces {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            max: max.max(1),
        }
    }

    /// One piece: all of the input.
    pub fn whole() -> Pieces {
        Pieces::new(1, usize::MAX)
    }

    /// The next piece size.
    pub fn next_len(&mut self) -> usize {
        if self.max == usize::MAX {
            return usize::MAX;
        }
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        1 + (self.state % self.max as u64) as usize
    }
}

/// One piece of what a session queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Bytes (consecutive byte chunks merged).
    Bytes(Vec<u8>),
    /// A file region.
    File {
        /// Where it starts.
        offset: u64,
        /// How long it is.
        len: u64,
    },
}

/// Everything a session wrote while being driven, and how it ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The output, in order.
    pub out: Vec<Out>,
    /// The session asked to close.
    pub closed: bool,
    /// The driver closed the session: it consumed nothing from a full buffer.
    pub overflowed: bool,
    /// Input bytes consumed (through `on_input` or the input sink).
    pub consumed: usize,
}

impl Transcript {
    /// The byte output, file regions as `<file OFFSET+LEN>` placeholders.
    pub fn flat(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for o in &self.out {
            match o {
                Out::Bytes(b) => v.extend_from_slice(b),
                Out::File { offset, len } => {
                    v.extend_from_slice(format!("<file {offset}+{len}>").as_bytes())
                }
            }
        }
        v
    }

    fn push_bytes(&mut self, b: Vec<u8>) {
        if let Some(Out::Bytes(last)) = self.out.last_mut() {
            last.extend_from_slice(&b);
        } else {
            self.out.push(Out::Bytes(b));
        }
    }
}

/// Takes what `out` queued into `t`, checking the accounting: `pending()`
/// is the sum of what `take()` returns, nothing queued is empty, a file
/// region lies inside its file, and the queue is empty afterwards.
pub fn collect(out: &mut Output, t: &mut Transcript) {
    let pending = out.pending();
    let mut sum = 0usize;
    for q in out.take() {
        match q {
            Queued::Bytes(b) => {
                assert!(!b.is_empty(), "an empty byte chunk was queued");
                sum += b.len();
                t.push_bytes(b);
            }
            Queued::File { file, offset, len } => {
                assert!(len > 0, "an empty file region was queued");
                let size = file.metadata().expect("fstat a queued file").len();
                assert!(
                    offset.checked_add(len).is_some_and(|end| end <= size),
                    "file region {offset}+{len} past the end of a {size}-byte file"
                );
                sum += len as usize;
                t.out.push(Out::File { offset, len });
            }
        }
    }
    assert_eq!(
        pending, sum,
        "Output::pending() is not what take() returned"
    );
    assert_eq!(out.pending(), 0, "take() left bytes pending");
    assert!(out.is_empty(), "take() left chunks queued");
    if out.wants_close() {
        t.closed = true;
    }
}

/// Feeds `input` to `s` the way every netkit driver does, in pieces of the
/// sizes `pieces` gives: unconsumed bytes are offered again with the next
/// piece appended (and at once, while the session makes progress, as after
/// its output drained); an input sink takes bytes straight from the
/// "socket" once the buffered ones are used; a session that consumes nothing
/// from `max_buffer()` bytes is closed; nothing is read after a close. With
/// `eof`, `on_eof` ends it. Panics if the session ever consumes more than it
/// was offered.
pub fn drive<S: Session>(s: &mut S, input: &[u8], mut pieces: Pieces, eof: bool) -> Transcript {
    let mut t = Transcript::default();
    let mut out = Output::new();
    s.on_connect(&mut out);
    collect(&mut out, &mut t);
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = 0;
    while pos < input.len() && !t.closed {
        let n = pieces.next_len().min(input.len() - pos);
        let mut new = &input[pos..pos + n];
        pos += n;
        if buf.is_empty() {
            new = sink(s, new, &mut out, &mut t);
            collect(&mut out, &mut t);
        }
        if t.closed {
            break;
        }
        buf.extend_from_slice(new);
        offer(s, &mut buf, &mut out, &mut t);
    }
    if eof && !t.closed {
        s.on_eof(&mut out);
        collect(&mut out, &mut t);
    }
    t
}

/// Moves the start of `new` into the session's input sink, if it has one;
/// returns what is left.
fn sink<'a, S: Session>(
    s: &mut S,
    new: &'a [u8],
    out: &mut Output,
    t: &mut Transcript,
) -> &'a [u8] {
    let (k, result) = {
        let Some(sink) = s.input_sink() else {
            return new;
        };
        assert!(sink.len > 0, "an input sink of 0 bytes");
        let k = sink.len.min(new.len() as u64) as usize;
        let fd = sink.fd.try_clone_to_owned().expect("dup the sink");
        (k, File::from(fd).write_all(&new[..k]))
    };
    s.on_sunk(k as u64, result.err(), out);
    t.consumed += k;
    &new[k..]
}

fn offer<S: Session>(s: &mut S, buf: &mut Vec<u8>, out: &mut Output, t: &mut Transcript) {
    while !t.closed && !buf.is_empty() {
        let n = s.on_input(buf, out);
        assert!(
            n <= buf.len(),
            "consumed {n} of the {} bytes offered",
            buf.len()
        );
        buf.drain(..n);
        t.consumed += n;
        collect(out, t);
        if n == 0 {
            if buf.len() >= s.max_buffer() {
                t.closed = true;
                t.overflowed = true;
            }
            return;
        }
    }
}

/// Sets a file's modification time to [`MTIME_SECS`].
fn date(path: &Path) {
    let f = File::options()
        .write(true)
        .open(path)
        .expect("open to date");
    f.set_modified(UNIX_EPOCH + Duration::from_secs(MTIME_SECS))
        .expect("set mtime");
}

fn write_dated(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write a root file");
    date(path);
}

/// Bytes of the large file in the HTTP root (over the inline limit: sendfile).
pub const BIG_LEN: usize = 40_000;

/// Files of the HTTP root, with their sizes: `(path, size)`.
pub const HTTP_FILES: [(&str, usize); 6] = [
    ("a.txt", 5),
    ("empty.txt", 0),
    ("big.bin", BIG_LEN),
    ("page.html", 26),
    ("style.css", 17),
    ("dir/index.html", 14),
];

/// The HTTP root: files of every kind the static server treats differently.
pub fn http_root() -> &'static Path {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    ROOT.get_or_init(|| {
        let d = tempfile::tempdir().expect("temporary root");
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("dir")).unwrap();
        std::fs::create_dir_all(root.join("list/sub")).unwrap();
        write_dated(&root.join("a.txt"), b"hello");
        write_dated(&root.join("empty.txt"), b"");
        let big: Vec<u8> = (0..BIG_LEN).map(|i| (i * 31 % 251) as u8).collect();
        write_dated(&root.join("big.bin"), &big);
        write_dated(&root.join("page.html"), b"<!doctype html><p>hi</p>\n\n");
        write_dated(&root.join("style.css"), b"p { color: red }\n");
        write_dated(&root.join("style.css.gz"), b"\x1f\x8b not really gzip");
        write_dated(&root.join("style.css.br"), b"not really brotli");
        write_dated(&root.join("dir/index.html"), b"<p>index</p>\n\n");
        write_dated(&root.join("list/x.txt"), b"x");
        write_dated(&root.join("list/y.json"), b"{}");
        write_dated(&root.join("list/we ird%20name.txt"), b"w");
        write_dated(&root.join(".hidden"), b"secret");
        write_dated(&d.path().join("outside.txt"), b"outside the root");
        std::os::unix::fs::symlink("../outside.txt", root.join("out.txt")).unwrap();
        std::os::unix::fs::symlink("a.txt", root.join("in.txt")).unwrap();
        d
    })
    .path()
}

/// The HTTP service the session targets use: a few routes, then the root.
pub fn http_service() -> &'static HttpService {
    static SERVICE: OnceLock<HttpService> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let mut app = App::new()
            .get("/hi", |_| Response::text(200, "hi"))
            .post("/echo", |r| {
                Response::bytes(200, "application/octet-stream", r.body.clone())
            })
            .get("/api/*", |r| Response::text(200, r.path.clone()))
            .static_root(http_root().join("root"), false, false)
            .expect("static root");
        app.max_body = 64 * 1024;
        HttpService::new(app)
    })
}

/// Files of the files root, as the listing shows them: `(name, contents)`.
pub const FILES_FILES: [(&str, &[u8]); 3] = [
    ("b.txt", b"hello"),
    ("a.bin", b""),
    ("big.dat", &[7u8; 3000]),
];

/// The files root: a few files, a hidden one and a subdirectory.
pub fn files_root() -> &'static Path {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    ROOT.get_or_init(|| {
        let d = tempfile::tempdir().expect("temporary root");
        for (name, bytes) in FILES_FILES {
            write_dated(&d.path().join(name), bytes);
        }
        write_dated(&d.path().join(".hidden"), b"secret");
        std::fs::create_dir(d.path().join("sub")).unwrap();
        d
    })
    .path()
}

/// Files services over [`files_root`]: read-only, writable, writable with overwrite.
pub fn files_services() -> &'static [FilesService; 3] {
    static SERVICES: OnceLock<[FilesService; 3]> = OnceLock::new();
    SERVICES.get_or_init(|| {
        let make = |writable, overwrite| {
            let opts = Options {
                writable,
                overwrite,
                max_file_size: 4096,
                sync: false,
            };
            FilesService::new(FileLibrary::open(files_root(), opts).expect("library"))
        };
        [make(false, false), make(true, false), make(true, true)]
    })
}

/// Puts the files root back as it was: uploads removed, overwritten files restored.
pub fn restore_files_root() {
    let root = files_root();
    for entry in std::fs::read_dir(root).expect("list the root").flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let known =
            name == ".hidden" || name == "sub" || FILES_FILES.iter().any(|(n, _)| *n == name);
        if !known {
            let p = entry.path();
            if p.is_dir() {
                let _ = std::fs::remove_dir_all(&p);
            } else {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    for (name, bytes) in FILES_FILES {
        let p = root.join(name);
        if std::fs::read(&p).ok().as_deref() != Some(bytes) {
            write_dated(&p, bytes);
        }
    }
}

/// One HTTP response read back from a session's output.
#[derive(Debug)]
pub struct HttpResponse<'a> {
    /// The status code.
    pub status: u16,
    /// Header fields as sent.
    pub headers: Vec<(&'a str, &'a str)>,
    /// The body: bytes after the head plus file regions.
    pub body_len: u64,
}

impl HttpResponse<'_> {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Reads the one response a transcript holds (a head, then its body), checking
/// that the head is well formed.
pub fn one_response(t: &Transcript) -> Option<(HttpResponse<'_>, &[u8])> {
    let Some(Out::Bytes(first)) = t.out.first() else {
        return None;
    };
    let end = first.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&first[..end]).expect("a response head is text");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(
        status_line.starts_with("HTTP/1.1 "),
        "bad status line {status_line:?}"
    );
    let status: u16 = status_line[9..12].parse().expect("a status code");
    let headers = lines
        .map(|l| l.split_once(": ").expect("a header line is `name: value`"))
        .collect();
    let body = &first[end + 4..];
    let mut body_len = body.len() as u64;
    for o in &t.out[1..] {
        body_len += match o {
            Out::Bytes(b) => b.len() as u64,
            Out::File { len, .. } => *len,
        };
    }
    Some((
        HttpResponse {
            status,
            headers,
            body_len,
        },
        body,
    ))
}

/// `value` as a header value the HTTP parser accepts (text, no control
/// characters but tab): kept as is when it is one, else each byte mapped
/// into printable ASCII, so every input reaches the code behind the parser.
pub fn header_value(value: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match std::str::from_utf8(value) {
        Ok(s) if !s.chars().any(|c| c.is_control() && c != '\t') => value.into(),
        _ => value
            .iter()
            .map(|&b| match b {
                b'\t' | 0x20..=0x7e => b,
                b => 0x20 + b % 95,
            })
            .collect::<Vec<u8>>()
            .into(),
    }
}

/// Serves one GET/HEAD request with `extra` header lines (each without its
/// CRLF) through a fresh HTTP session, checks what came back (one response,
/// `Content-Length` equal to the body, none for HEAD or 304) and returns it.
pub fn serve_one(method: &str, path: &str, extra: &[(&str, &[u8])]) -> Transcript {
    let mut req = Vec::with_capacity(256);
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(path.as_bytes());
    req.extend_from_slice(b" HTTP/1.1\r\nHost: fuzz\r\n");
    for (name, value) in extra {
        req.extend_from_slice(name.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(&header_value(value));
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    let mut s = netkit::server::Service::session(http_service(), &netkit::server::Peer::Unix);
    let t = drive(&mut s, &req, Pieces::whole(), false);
    assert_eq!(t.consumed, req.len(), "one request, all of it consumed");
    t
}

/// Checks the framing of a single response: Content-Length matches the body
/// (none for HEAD, 304 and 1xx/204), and returns status and response.
pub fn check_response<'a>(t: &'a Transcript, head: bool) -> (HttpResponse<'a>, &'a [u8]) {
    let (resp, body) = one_response(t).expect("a whole response");
    let cl: u64 = resp
        .header("content-length")
        .map(|v| v.parse().expect("a numeric Content-Length"))
        .unwrap_or(0);
    if head || resp.status == 304 {
        assert_eq!(resp.body_len, 0, "a body after HEAD or 304");
    } else {
        assert_eq!(resp.body_len, cl, "Content-Length is not the body's length");
    }
    (resp, body)
}
