//! Static files from a root directory, done the way the best servers do it.
//!
//! - Paths are percent-decoded segment by segment; `..`, encoded slashes,
//!   backslashes and NUL are refused, hidden names are invisible unless
//!   allowed, and files are opened with `openat2(RESOLVE_BENEATH)` relative to
//!   the root, so no path or symlink can leave it (unless `follow_symlinks`).
//! - Directories redirect to their trailing-slash form, serve `index.html`, or
//!   list their entries as HTML or JSON.
//! - Files carry `ETag`, `Last-Modified`, `Content-Type` (with charset for
//!   text); conditional requests get `304` (If-None-Match, If-Modified-Since)
//!   or `412` (If-Match, If-Unmodified-Since), `Range` gets `206`, `416` or
//!   `multipart/byteranges`; precompressed `.br`/`.gz` siblings are used when
//!   the client accepts them. Large bodies go out with sendfile.
//! - Error pages never name filesystem paths.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::request::Request;
use super::response::{Part, Response, html_escape};

/// Bodies up to this size are read into memory and sent with the head in one write.
const INLINE_MAX: u64 = 32 * 1024;

/// Most ranges honoured in one request; more are answered with the whole file.
const MAX_RANGES: usize = 16;

/// Characters left as-is in links (RFC 3986 unreserved); all else is percent-encoded.
const LINK: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Serves files under one root directory.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    /// The canonical root directory.
    pub root: PathBuf,
    /// Serve symlinks that point outside the root.
    pub follow_symlinks: bool,
    /// Serve and list hidden (dot) files.
    pub hidden: bool,
    /// The root, held open: every lookup is relative to it.
    root_fd: Arc<OwnedFd>,
}

/// Why a path could not be served.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// 400: a path no honest client sends (NUL, backslash, encoded slash, `..`).
    Bad,
    /// 403: exists but may not be served (outside the root, not a regular file).
    Forbidden,
    /// 404: not there (or hidden).
    NotFound,
}

impl Refusal {
    fn response(self) -> Response {
        match self {
            Refusal::Bad => Response::error(400, "bad request path"),
            Refusal::Forbidden => Response::error(403, "access to this path is not allowed"),
            Refusal::NotFound => Response::error(404, "no such file or directory"),
        }
    }
}

impl StaticFiles {
    /// Serves `root` (which must be a directory).
    pub fn new(root: impl Into<PathBuf>, follow_symlinks: bool, hidden: bool) -> io::Result<Self> {
        let root = std::fs::canonicalize(root.into())?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a directory",
            ));
        }
        let dir = File::open(&root)?;
        Ok(StaticFiles {
            root,
            follow_symlinks,
            hidden,
            root_fd: Arc::new(OwnedFd::from(dir)),
        })
    }

    /// Answers a GET or HEAD request for a path under the root.
    pub fn serve(&self, req: &Request) -> Response {
        let rel = match self.relative_path(&req.path) {
            Ok(p) => p,
            Err(r) => return r.response(),
        };
        let file = match self.open(&rel) {
            Ok(f) => f,
            Err(r) => return r.response(),
        };
        let Ok(meta) = file.metadata() else {
            return Refusal::NotFound.response();
        };
        if meta.is_dir() {
            if !req.path.ends_with('/') {
                // Built from the cleaned path, so `//host`-style paths cannot
                // turn into a redirect to another site.
                let mut location = String::from("/");
                for part in rel.iter() {
                    location.push_str(
                        &percent_encoding::percent_encode(part.as_bytes(), LINK).to_string(),
                    );
                    location.push('/');
                }
                if let Some(q) = &req.query {
                    location.push('?');
                    location.push_str(q);
                }
                return Response::error(301, "moved to the directory's address")
                    .header("Location", location);
            }
            let index = rel.join("index.html");
            if let Ok(f) = self.open(&index)
                && let Ok(m) = f.metadata()
                && m.is_file()
            {
                return self.file_response(req, &index, f, &m);
            }
            return self.listing(req, &rel, &file);
        }
        if !meta.is_file() {
            return Refusal::Forbidden.response();
        }
        self.file_response(req, &rel, file, &meta)
    }

    /// Turns a request path into a safe relative path (no `..`, no hidden names).
    fn relative_path(&self, raw: &str) -> Result<PathBuf, Refusal> {
        if !raw.starts_with('/') {
            return Err(Refusal::Bad);
        }
        let mut rel = PathBuf::new();
        for seg in raw.split('/') {
            let bytes: Vec<u8> = percent_decode_str(seg).collect();
            if bytes.contains(&0) || bytes.contains(&b'/') || bytes.contains(&b'\\') {
                return Err(Refusal::Bad);
            }
            match bytes.as_slice() {
                b"" | b"." => continue,
                b".." => return Err(Refusal::Bad),
                b if b[0] == b'.' && !self.hidden => return Err(Refusal::NotFound),
                b => rel.push(OsStr::from_bytes(b)),
            }
        }
        Ok(rel)
    }

    /// Opens `rel` under the root, never leaving it unless symlinks may be followed.
    fn open(&self, rel: &Path) -> Result<File, Refusal> {
        let target = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
        let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK;
        let opened = if self.follow_symlinks {
            openat(&*self.root_fd, target, flags, nix::sys::stat::Mode::empty())
        } else {
            let how = OpenHow::new()
                .flags(flags)
                .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
            openat2(&*self.root_fd, target, how)
        };
        let file = match opened {
            Ok(fd) => File::from(fd),
            Err(errno) => {
                return match errno {
                    Errno::ENOENT | Errno::ENOTDIR | Errno::ENAMETOOLONG => Err(Refusal::NotFound),
                    // EXDEV: the path (or an absolute symlink) leads outside the root.
                    Errno::EXDEV | Errno::ENOSYS => self.open_checked(target),
                    _ => Err(Refusal::Forbidden),
                };
            }
        };
        // O_NONBLOCK stays set: it only kept a FIFO from hanging the open (such
        // files are refused), and regular-file reads and sendfile ignore it.
        Ok(file)
    }

    /// Fallback when the kernel cannot resolve beneath the root itself (old
    /// kernels, or absolute symlinks): resolve fully and check the result.
    fn open_checked(&self, rel: &Path) -> Result<File, Refusal> {
        use std::os::unix::fs::OpenOptionsExt;
        let full = std::fs::canonicalize(self.root.join(rel)).map_err(|_| Refusal::NotFound)?;
        if !full.starts_with(&self.root) {
            return Err(Refusal::Forbidden);
        }
        // O_NONBLOCK: a FIFO must not hang the worker; O_NOFOLLOW: the canonical
        // path has no symlinks left, so one appearing now is a race — refuse it.
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW)
            .open(full)
            .map_err(|_| Refusal::Forbidden)
    }

    /// A file's response: validators, conditional requests, ranges, encodings.
    fn file_response(
        &self,
        req: &Request,
        rel: &Path,
        file: File,
        meta: &std::fs::Metadata,
    ) -> Response {
        let mut vary = false;
        let (mut file, mut size, mut mtime, mut encoding) =
            (file, meta.len(), mtime_of(meta), None);
        // Precompressed siblings, best first, when the client accepts them.
        if let Some(accept) = req.header("accept-encoding") {
            for (coding, ext) in [("br", "br"), ("gzip", "gz")] {
                let mut name = rel.as_os_str().to_os_string();
                name.push(".");
                name.push(ext);
                if let Ok(f) = self.open(Path::new(&name))
                    && let Ok(m) = f.metadata()
                    && m.is_file()
                {
                    vary = true;
                    if encoding.is_none() && accepts(accept, coding) {
                        (file, size, mtime, encoding) = (f, m.len(), mtime_of(&m), Some(coding));
                    }
                }
            }
        }
        // Nanoseconds too, so two changes within a second give different tags.
        let etag = format!(
            "\"{:x}.{:x}-{:x}{}\"",
            mtime.as_secs(),
            mtime.subsec_nanos(),
            size,
            encoding.map(|e| format!("-{e}")).unwrap_or_default()
        );
        let last_modified =
            httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(mtime.as_secs()));
        let content_type = content_type_of(rel);

        let with_validators = |r: Response| {
            let mut r = r
                .header("ETag", etag.clone())
                .header("Last-Modified", last_modified.clone())
                .header("Accept-Ranges", "bytes");
            if vary {
                r = r.header("Vary", "Accept-Encoding");
            }
            r
        };

        // Preconditions, in the order of RFC 9110 section 13.2.2. First the
        // ones that fail with 412: If-Match (strong comparison), else
        // If-Unmodified-Since.
        let unmodified_since = |v: &str| {
            httpdate::parse_http_date(v)
                .ok()
                .and_then(|d| d.duration_since(UNIX_EPOCH).ok())
                .map(|d| mtime.as_secs() <= d.as_secs())
        };
        let precondition_failed = match req.header("if-match") {
            Some(im) => !etag_list_matches_strongly(im, &etag),
            // An unparsable date is ignored (section 13.1.4).
            None => req
                .header("if-unmodified-since")
                .and_then(unmodified_since)
                .is_some_and(|ok| !ok),
        };
        if precondition_failed {
            return with_validators(Response::new(412));
        }
        // Then the cache validators: If-None-Match wins over If-Modified-Since.
        if let Some(inm) = req.header("if-none-match") {
            if etag_list_matches(inm, &etag) {
                return with_validators(Response::new(304));
            }
        } else if let Some(ims) = req
            .header("if-modified-since")
            .and_then(|v| httpdate::parse_http_date(v).ok())
            && mtime.as_secs()
                <= ims
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
        {
            return with_validators(Response::new(304));
        }

        let base = |status: u16| {
            let mut r = with_validators(Response::new(status));
            if let Some(e) = encoding {
                r = r.header("Content-Encoding", e);
            }
            r
        };

        // Range requests, unless If-Range says the client's copy is stale.
        let range_header = req
            .header("range")
            .filter(|_| match req.header("if-range") {
                None => true,
                Some(v) if v.starts_with('"') => v == etag,
                Some(v) => v == last_modified,
            });
        if let Some(spec) = range_header {
            match parse_ranges(spec, size) {
                Ranges::Ignore => {}
                Ranges::Unsatisfiable => {
                    return base(416).header("Content-Range", format!("bytes */{size}"));
                }
                Ranges::Some(ranges) if ranges.len() == 1 => {
                    let (start, end) = ranges[0];
                    return body_of(
                        base(206)
                            .header("Content-Type", content_type.clone())
                            .header("Content-Range", format!("bytes {start}-{end}/{size}")),
                        file,
                        start,
                        end - start + 1,
                    );
                }
                Ranges::Some(ranges) => {
                    let boundary = format!(
                        "netkit-{:x}-{:x}",
                        mtime.as_nanos() as u64 ^ size,
                        ranges.len()
                    );
                    let file = Arc::new(file);
                    let mut r = base(206).header(
                        "Content-Type",
                        format!("multipart/byteranges; boundary={boundary}"),
                    );
                    for (start, end) in ranges {
                        let part_head = format!(
                            "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {start}-{end}/{size}\r\n\r\n"
                        );
                        r = r.with_body(Part::Bytes(part_head.into_bytes()));
                        r = r.with_body(Part::File {
                            file: Arc::clone(&file),
                            offset: start,
                            len: end - start + 1,
                        });
                    }
                    return r
                        .with_body(Part::Bytes(format!("\r\n--{boundary}--\r\n").into_bytes()));
                }
            }
        }
        body_of(
            base(200).header("Content-Type", content_type),
            file,
            0,
            size,
        )
    }

    /// An HTML or JSON listing of a directory.
    fn listing(&self, req: &Request, rel: &Path, dir: &File) -> Response {
        let Ok(entries) = std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd())) else {
            return Refusal::Forbidden.response();
        };
        struct Entry {
            name: Vec<u8>,
            is_dir: bool,
            size: u64,
            mtime: u64,
        }
        let mut list: Vec<Entry> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().as_bytes().to_vec();
                if name.first() == Some(&b'.') && !self.hidden {
                    return None;
                }
                // A symlink is described by what it leads to only if that may be
                // served; one that points outside the root is not listed at all.
                let meta = match e.file_type() {
                    Ok(t) if t.is_symlink() => self
                        .open(&rel.join(OsStr::from_bytes(&name)))
                        .ok()?
                        .metadata()
                        .ok()?,
                    _ => e.metadata().ok()?,
                };
                Some(Entry {
                    name,
                    is_dir: meta.is_dir(),
                    size: meta.len(),
                    mtime: mtime_of(&meta).as_secs(),
                })
            })
            .collect();
        list.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
        let href = |e: &Entry| {
            let mut h: String = percent_encoding::percent_encode(&e.name, LINK).to_string();
            if e.is_dir {
                h.push('/');
            }
            h
        };
        let wants_json = req.query_param("format") == Some("json")
            || req.header("accept").is_some_and(|a| {
                a.split(',')
                    .any(|t| t.trim().starts_with("application/json"))
            });
        if wants_json {
            let items: Vec<serde_json::Value> = list
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "name": String::from_utf8_lossy(&e.name),
                        "type": if e.is_dir { "directory" } else { "file" },
                        "size": e.size,
                        "modified": e.mtime,
                        "href": href(e),
                    })
                })
                .collect();
            return Response::json(200, &serde_json::Value::Array(items)).header("Vary", "Accept");
        }
        let title = format!("/{}", String::from_utf8_lossy(rel.as_os_str().as_bytes()));
        let title = if title.ends_with('/') {
            title
        } else {
            format!("{title}/")
        };
        let mut html = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
             <title>Index of {t}</title><style>body{{font-family:system-ui,sans-serif;margin:2em}}\
             table{{border-collapse:collapse}}td,th{{padding:.2em 1.2em .2em 0;text-align:left}}\
             .size{{text-align:right;font-variant-numeric:tabular-nums}}</style></head>\n<body><h1>Index of {t}</h1>\n<table>\n\
             <tr><th>Name</th><th class=\"size\">Size</th><th>Modified</th></tr>\n",
            t = html_escape(&title)
        );
        if !rel.as_os_str().is_empty() {
            html.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
        }
        for e in &list {
            let shown = String::from_utf8_lossy(&e.name);
            let shown = if e.is_dir {
                format!("{shown}/")
            } else {
                shown.into_owned()
            };
            let size = if e.is_dir {
                "-".to_string()
            } else {
                human_size(e.size)
            };
            let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(e.mtime));
            html.push_str(&format!(
                "<tr><td><a href=\"{}\">{}</a></td><td class=\"size\" title=\"{} bytes\">{}</td><td>{}</td></tr>\n",
                html_escape(&href(e)),
                html_escape(&shown),
                e.size,
                size,
                date
            ));
        }
        html.push_str("</table>\n</body></html>\n");
        Response::bytes(200, "text/html; charset=utf-8", html.into_bytes()).header("Vary", "Accept")
    }
}

/// Adds `len` bytes of `file` from `start` to `resp`: inline when small, sendfile otherwise.
fn body_of(resp: Response, file: File, start: u64, len: u64) -> Response {
    if len <= INLINE_MAX {
        let mut buf = vec![0u8; len as usize];
        if file.read_exact_at(&mut buf, start).is_ok() {
            return resp.with_body(Part::Bytes(buf));
        }
        return Response::error(500, "file changed while being read");
    }
    resp.with_body(Part::File {
        file: Arc::new(file),
        offset: start,
        len,
    })
}

fn mtime_of(meta: &std::fs::Metadata) -> Duration {
    Duration::new(
        meta.mtime().max(0) as u64,
        meta.mtime_nsec().clamp(0, 999_999_999) as u32,
    )
}

/// `Content-Type` for a path, with a UTF-8 charset for text.
pub fn content_type_of(path: &Path) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let essence = mime.essence_str();
    let texty = mime.type_() == mime_guess::mime::TEXT
        || matches!(
            essence,
            "application/javascript" | "application/json" | "application/xml" | "image/svg+xml"
        );
    if texty {
        format!("{essence}; charset=utf-8")
    } else {
        essence.to_string()
    }
}

/// True if `Accept-Encoding` allows `coding` (present with q > 0, or `*`).
fn accepts(header: &str, coding: &str) -> bool {
    let mut star = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .next()
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return q > 0.0;
        }
        if name == "*" {
            star = Some(q > 0.0);
        }
    }
    star.unwrap_or(false)
}

/// Weak comparison of `If-None-Match` against our ETag (`*` matches anything).
/// If-Match's strong comparison: `*`, or an equal tag that is not weak.
fn etag_list_matches_strongly(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || (!t.starts_with("W/") && t == etag))
}

fn etag_list_matches(list: &str, etag: &str) -> bool {
    let ours = etag.trim_start_matches("W/");
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == ours)
}

/// Parsed `Range` header.
#[derive(Debug, PartialEq, Eq)]
enum Ranges {
    /// Not a bytes range we understand (or too many): send the whole file.
    Ignore,
    /// No range overlaps the file.
    Unsatisfiable,
    /// Inclusive (start, end) pairs.
    Some(Vec<(u64, u64)>),
}

fn parse_ranges(spec: &str, size: u64) -> Ranges {
    let Some(list) = spec.trim().strip_prefix("bytes=") else {
        return Ranges::Ignore;
    };
    let mut out = Vec::new();
    for item in list.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((a, b)) = item.split_once('-') else {
            return Ranges::Ignore;
        };
        let (a, b) = (a.trim(), b.trim());
        let range = if a.is_empty() {
            // Suffix range: the last N bytes.
            let Ok(n) = b.parse::<u64>() else {
                return Ranges::Ignore;
            };
            if n == 0 || size == 0 {
                continue;
            }
            (size.saturating_sub(n), size - 1)
        } else {
            let Ok(start) = a.parse::<u64>() else {
                return Ranges::Ignore;
            };
            let end = if b.is_empty() {
                size.saturating_sub(1)
            } else {
                match b.parse::<u64>() {
                    Ok(e) if e >= start => e.min(size.saturating_sub(1)),
                    _ => return Ranges::Ignore,
                }
            };
            if start >= size {
                continue;
            }
            (start, end)
        };
        out.push(range);
    }
    if out.is_empty() {
        return Ranges::Unsatisfiable;
    }
    if out.len() > MAX_RANGES {
        return Ranges::Ignore;
    }
    Ranges::Some(coalesce(out))
}

/// Merges ranges that overlap or touch (RFC 9110 section 14.6 allows it, in
/// any order), so a request cannot make the server send any byte twice.
/// Ranges that are all apart keep the order they were asked in.
fn coalesce(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    let mut sorted = ranges.clone();
    sorted.sort_unstable();
    if sorted.windows(2).all(|w| w[0].1.saturating_add(1) < w[1].0) {
        return ranges;
    }
    ranges.clear();
    for (start, end) in sorted {
        match ranges.last_mut() {
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => ranges.push((start, end)),
        }
    }
    ranges
}

/// `1.5 KiB`-style sizes for listings.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Percent-encodes a file name for use in a link.
pub fn encode_link(name: &str) -> String {
    utf8_percent_encode(name, LINK).to_string()
}

/// Seconds since the Unix epoch of a system time (0 before it).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_ranges("bytes=0-9", 100), Ranges::Some(vec![(0, 9)]));
        assert_eq!(parse_ranges("bytes=90-", 100), Ranges::Some(vec![(90, 99)]));
        assert_eq!(parse_ranges("bytes=-10", 100), Ranges::Some(vec![(90, 99)]));
        assert_eq!(
            parse_ranges("bytes=95-200", 100),
            Ranges::Some(vec![(95, 99)])
        );
        assert_eq!(
            parse_ranges("bytes=0-0,5-6", 100),
            Ranges::Some(vec![(0, 0), (5, 6)])
        );
        assert_eq!(parse_ranges("bytes=100-", 100), Ranges::Unsatisfiable);
        // Apart: kept as asked, even out of order. Overlapping or touching: merged.
        assert_eq!(
            parse_ranges("bytes=50-59,0-9", 100),
            Ranges::Some(vec![(50, 59), (0, 9)])
        );
        assert_eq!(
            parse_ranges("bytes=0-49,10-20,50-59,90-", 100),
            Ranges::Some(vec![(0, 59), (90, 99)])
        );
        let many = format!("bytes={}", vec!["0-"; 16].join(","));
        assert_eq!(parse_ranges(&many, 100), Ranges::Some(vec![(0, 99)]));
        assert_eq!(parse_ranges("bytes=5-1", 100), Ranges::Ignore);
        assert_eq!(parse_ranges("items=0-1", 100), Ranges::Ignore);
        assert_eq!(parse_ranges("bytes=-0", 100), Ranges::Unsatisfiable);
    }

    #[test]
    fn accept_encoding() {
        assert!(accepts("gzip, br", "br"));
        assert!(!accepts("gzip;q=0, br", "gzip"));
        assert!(accepts("*", "gzip"));
        assert!(!accepts("identity", "gzip"));
    }

    #[test]
    fn etags() {
        assert!(etag_list_matches("\"a\", W/\"b\"", "\"b\""));
        assert!(etag_list_matches("*", "\"b\""));
        assert!(!etag_list_matches("\"c\"", "\"b\""));
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type_of(Path::new("a.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type_of(Path::new("a.png")), "image/png");
        assert_eq!(
            content_type_of(Path::new("noext")),
            "application/octet-stream"
        );
    }

    #[test]
    fn relative_paths_refuse_tricks() {
        let dir = std::env::temp_dir();
        let s = StaticFiles::new(&dir, false, false).unwrap();
        assert_eq!(s.relative_path("/a/b").unwrap(), PathBuf::from("a/b"));
        assert_eq!(
            s.relative_path("/a%20b/./c").unwrap(),
            PathBuf::from("a b/c")
        );
        assert_eq!(s.relative_path("/../etc/passwd"), Err(Refusal::Bad));
        assert_eq!(s.relative_path("/%2e%2e/etc"), Err(Refusal::Bad));
        assert_eq!(s.relative_path("/a%2fb"), Err(Refusal::Bad));
        assert_eq!(s.relative_path("/a%5cb"), Err(Refusal::Bad));
        assert_eq!(s.relative_path("/a\\b"), Err(Refusal::Bad));
        assert_eq!(s.relative_path("/a%00b"), Err(Refusal::Bad));
        assert_eq!(s.relative_path("/.git/config"), Err(Refusal::NotFound));
        assert_eq!(s.relative_path("etc"), Err(Refusal::Bad));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(1536), "1.5 KiB");
    }
}
