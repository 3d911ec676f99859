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
//!
//! This module holds [`StaticFiles`] and the request flow; the pieces live in
//! `path` (request path to file under the root), `conditional` (validators
//! and preconditions), `range` (byte ranges) and `listing` (directory
//! listings).

mod cache;
mod conditional;
mod listing;
mod page;
pub(crate) mod path;
mod range;

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::request::Request;
use super::response::{Part, Response};
use cache::{FileCache, Looked};
use conditional::{Precondition, Validators};
use path::Refusal;
use range::Ranges;

pub(crate) use listing::encode_link;

/// True for names the listing never offers to change (hidden ones).
pub(crate) fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Bodies up to this size are read into memory and sent with the head in one write.
const INLINE_MAX: u64 = 32 * 1024;

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
    /// Recent lookups, reused for a moment (none: every request looks up).
    cache: Option<Arc<FileCache>>,
    /// What the listing page offers besides links (forms, archive links).
    features: Features,
}

/// What a listing page offers besides its links: the forms and buttons of
/// the writes the server allows, and archive downloads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// The upload form (and drag and drop).
    pub upload: bool,
    /// The new-folder form.
    pub mkdir: bool,
    /// A delete button per entry.
    pub delete: bool,
    /// Download links for the folder as tar, tar.gz and zip.
    pub archives: bool,
}

/// How long a lookup is reused by default (`netkit http --file-cache`).
pub const DEFAULT_FILE_CACHE: Duration = Duration::from_secs(1);

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
            cache: Some(Arc::new(FileCache::new(DEFAULT_FILE_CACHE))),
            features: Features::default(),
        })
    }

    /// Changes what listing pages offer (see [`Features`]).
    pub fn listing_features(mut self, f: impl FnOnce(&mut Features)) -> Self {
        f(&mut self.features);
        self
    }

    /// The root, held open (every lookup and write is relative to it).
    pub(crate) fn root_dir(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.root_fd.as_fd()
    }

    /// Reuses each lookup (open file, metadata, or refusal) for `ttl`, so a
    /// change on disk is seen within `ttl`; zero looks up on every request.
    pub fn file_cache(mut self, ttl: Duration) -> Self {
        self.cache = (!ttl.is_zero()).then(|| Arc::new(FileCache::new(ttl)));
        self
    }

    /// Opens `rel` (a sibling of coding `coding`: never through a symlink),
    /// reads its metadata, and for a regular file works out its validators
    /// and, when small, reads its content; through the cache when there is one.
    fn lookup(&self, rel: &Path, coding: Option<&str>) -> cache::Found {
        let look = || {
            let file = match coding {
                Some(_) => self.open_sibling(rel).ok_or(Refusal::NotFound)?,
                None => self.open(rel)?,
            };
            let meta = file
                .metadata()
                .map_err(|e| Refusal::from_io(&e, Refusal::NotFound))?;
            let (mut validators, mut content, mut content_type) = (None, None, None);
            let mut fields = None;
            if meta.is_file() {
                let v = Validators::new(mtime_of(&meta), meta.len(), coding);
                if coding.is_none() {
                    let t = content_type_of(rel);
                    fields = Some(Arc::from(format!(
                        "\r\nETag: {}\r\nLast-Modified: {}\r\nAccept-Ranges: bytes\r\nContent-Type: {t}",
                        v.etag, v.last_modified
                    )));
                    content_type = Some(t);
                }
                validators = Some(v);
                if meta.len() <= INLINE_MAX {
                    let mut buf = vec![0u8; meta.len() as usize];
                    // Short (the file shrank under us): read again at serving time.
                    if file.read_exact_at(&mut buf, 0).is_ok() {
                        content = Some(Arc::from(buf));
                    }
                }
            }
            Ok(Arc::new(Looked {
                file: Arc::new(file),
                meta,
                validators,
                content_type,
                fields,
                content,
            }))
        };
        match &self.cache {
            Some(c) => c.get_or(rel, coding.is_some(), look),
            None => look(),
        }
    }

    /// Answers a GET or HEAD request for a path under the root.
    pub fn serve(&self, req: &Request) -> Response {
        let rel = match path::relative_path(&req.path, self.hidden) {
            Ok(p) => p,
            Err(r) => return r.response(),
        };
        let found = match self.lookup(&rel, None) {
            Ok(found) => found,
            Err(Refusal::NotFound) if req.path == "/favicon.ico" => return page::favicon(),
            Err(r) => return r.response(),
        };
        if found.meta.is_dir() {
            if !req.path.ends_with('/') {
                let location = path::directory_location(&rel, req.query.as_deref());
                return Response::error(301, "moved to the directory's address")
                    .header("Location", location);
            }
            let index = rel.join("index.html");
            match self.lookup(&index, None) {
                Ok(index_found) => {
                    if index_found.meta.is_file() {
                        return self.file_response(req, &index, &index_found);
                    }
                }
                Err(Refusal::Busy) => return Refusal::Busy.response(),
                Err(_) => {}
            }
            return self.listing(req, &rel, &found.file);
        }
        if !found.meta.is_file() {
            return Refusal::Forbidden.response();
        }
        if req.path.ends_with('/') {
            // `/file.txt/` names a directory that is not there.
            return Refusal::NotFound.response();
        }
        self.file_response(req, &rel, &found)
    }

    /// A file's response: validators, conditional requests, ranges, encodings.
    fn file_response(&self, req: &Request, rel: &Path, found: &Arc<Looked>) -> Response {
        let mut vary = false;
        let mut chosen = (found, None);
        // Precompressed siblings, best first, when the client accepts them.
        let siblings;
        if let Some(accept) = req.header("accept-encoding") {
            siblings = [("br", "br"), ("gzip", "gz")].map(|(coding, ext)| {
                let mut name = rel.as_os_str().to_os_string();
                name.push(".");
                name.push(ext);
                (coding, self.lookup(Path::new(&name), Some(coding)))
            });
            for (coding, sibling) in &siblings {
                if let Ok(s) = sibling
                    && s.meta.is_file()
                {
                    vary = true;
                    if chosen.1.is_none() && accepts(accept, coding) {
                        chosen = (s, Some(*coding));
                    }
                }
            }
        }
        let (looked, encoding) = chosen;
        let (size, mtime) = (looked.meta.len(), mtime_of(&looked.meta));
        let validators = match &looked.validators {
            Some(v) => v,
            None => return Response::error(500, "file changed while being read"),
        };
        let content_type = || match &found.content_type {
            Some(t) => t.clone(),
            None => content_type_of(rel),
        };
        let file = Arc::clone(&looked.file);

        let with_validators = |r: Response| {
            let mut r = r
                .header("ETag", validators.etag.clone())
                .header("Last-Modified", validators.last_modified.clone())
                .header("Accept-Ranges", "bytes");
            if vary {
                r = r.header("Vary", "Accept-Encoding");
            }
            r
        };

        match validators.precondition(
            req.header("if-match"),
            req.header("if-unmodified-since"),
            req.header("if-none-match"),
            req.header("if-modified-since"),
        ) {
            Precondition::Failed => return with_validators(Response::new(412)),
            Precondition::NotModified => return with_validators(Response::new(304)),
            Precondition::Proceed => {}
        }

        let base = |status: u16| {
            let mut r = with_validators(Response::new(status));
            if let Some(e) = encoding {
                r = r.header("Content-Encoding", e);
            }
            r
        };

        // Range requests, unless If-Range says the client's copy is stale.
        let range_header = req.header("range").filter(|_| {
            validators.if_range_allows(req.header("if-range"), crate::human::now_unix() as u64)
        });
        if let Some(spec) = range_header {
            match range::parse_ranges(spec, size) {
                Ranges::Ignore => {}
                Ranges::Unsatisfiable => return range::unsatisfiable(base(416), size),
                Ranges::Some(ranges) => {
                    return range::partial(base(206), file, ranges, size, mtime, &content_type());
                }
            }
        }
        // The common answer: its fields were rendered when the file was looked up.
        let resp = match &looked.fields {
            Some(fields) if encoding.is_none() && !vary => {
                Response::new(200).with_prepared(Arc::clone(fields))
            }
            _ => base(200).header("Content-Type", content_type()),
        };
        match &looked.content {
            Some(bytes) => resp.with_body(Part::Shared(Arc::clone(bytes))),
            None => body_of(resp, file, 0, size),
        }
    }
}

/// Adds `len` bytes of `file` from `start` to `resp`: inline when small, sendfile otherwise.
fn body_of(resp: Response, file: Arc<File>, start: u64, len: u64) -> Response {
    if len <= INLINE_MAX {
        let mut buf = vec![0u8; len as usize];
        if file.read_exact_at(&mut buf, start).is_ok() {
            return resp.with_body(Part::Bytes(buf));
        }
        return Response::error(500, "file changed while being read");
    }
    resp.with_body(Part::File {
        file,
        offset: start,
        len,
    })
}

/// A file's modification time since the Unix epoch, nanoseconds included.
fn mtime_of(meta: &std::fs::Metadata) -> Duration {
    Duration::new(
        meta.mtime().max(0) as u64,
        meta.mtime_nsec().clamp(0, 999_999_999) as u32,
    )
}

/// `Content-Type` for a path, with a UTF-8 charset for text.
pub(crate) fn content_type_of(path: &Path) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding() {
        assert!(accepts("gzip, br", "br"));
        assert!(!accepts("gzip;q=0, br", "gzip"));
        assert!(accepts("*", "gzip"));
        assert!(!accepts("identity", "gzip"));
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
}
