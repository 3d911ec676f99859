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
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::body::BodyStream;
use super::compress::{self, Coding, Compressed, Compression, Effort, stream::FileRegion};
use super::request::Request;
use super::response::{Part, Response};
use cache::{FileCache, Looked};
use conditional::{Precondition, Validators};
use path::Refusal;
use range::Ranges;

pub(crate) use listing::encode_link;
pub(crate) use page::inline_sources;

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
    /// On-the-fly compression, when on.
    compression: Option<Compression>,
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
            compression: Some(Compression::default()),
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

    /// Turns on-the-fly compression on (`Some`) or off.
    pub fn compression(mut self, c: Option<Compression>) -> Self {
        self.compression = c;
        self
    }

    /// Forgets every cached lookup: the server just changed the tree (an
    /// upload, a deletion, a new folder), so the next request, on any
    /// worker, sees the change at once.
    pub fn changed(&self) {
        if let Some(cache) = &self.cache {
            cache.forget_all();
        }
    }

    /// Opens `rel` (a sibling of coding `coding`: never through a symlink),
    /// reads its metadata, and for a regular file works out its validators,
    /// its precompressed siblings and, when small, reads its content;
    /// through the cache when there is one.
    fn lookup(&self, rel: &Path) -> cache::Found {
        match &self.cache {
            Some(c) => c.get_or(rel, |old| {
                let old = old.and_then(|o| o.as_ref().ok());
                self.look(rel, None, old.map(|o| &**o))
            }),
            None => self.look(rel, None, None),
        }
    }

    /// One uncached lookup (see [`StaticFiles::lookup`]); `old` is an
    /// earlier lookup of the same path, whose compressed forms are kept if
    /// the file is unchanged.
    fn look(&self, rel: &Path, coding: Option<&'static str>, old: Option<&Looked>) -> cache::Found {
        let file = match coding {
            Some(_) => self.open_sibling(rel).ok_or(Refusal::NotFound)?,
            None => self.open(rel)?,
        };
        let meta = file
            .metadata()
            .map_err(|e| Refusal::from_io(&e, Refusal::NotFound))?;
        let mut looked = Looked {
            file: Arc::new(file),
            meta,
            validators: None,
            content_type: None,
            fields: None,
            content: None,
            siblings: Vec::new(),
            compressible: false,
            encodings: Arc::default(),
        };
        if !looked.meta.is_file() {
            return Ok(Arc::new(looked));
        }
        let meta = &looked.meta;
        let v = Validators::new(mtime_of(meta), meta.len(), coding);
        if coding.is_none() {
            for (token, ext) in [("br", "br"), ("gzip", "gz")] {
                let mut name = rel.as_os_str().to_os_string();
                name.push(".");
                name.push(ext);
                if let Ok(twin) = self.look(Path::new(&name), Some(token), None)
                    && twin.meta.is_file()
                {
                    looked.siblings.push((token, twin));
                }
            }
            let t = content_type_of(rel);
            looked.compressible = self
                .compression
                .is_some_and(|c| meta.len() >= c.min_size && compress::compressible(&t));
            let vary = if looked.compressible || !looked.siblings.is_empty() {
                "\r\nVary: Accept-Encoding"
            } else {
                ""
            };
            looked.fields = Some(Arc::from(format!(
                "\r\nETag: {}\r\nLast-Modified: {}\r\nAccept-Ranges: bytes\r\nContent-Type: {t}{vary}",
                v.etag, v.last_modified
            )));
            looked.content_type = Some(t);
            if let Some(old) = old
                && old.validators.as_ref() == Some(&v)
                && old.meta.ino() == meta.ino()
            {
                looked.encodings = Arc::clone(&old.encodings);
            }
        }
        if meta.len() <= INLINE_MAX {
            let mut buf = vec![0u8; meta.len() as usize];
            // Short (the file shrank under us): read again at serving time.
            if looked.file.read_exact_at(&mut buf, 0).is_ok() {
                looked.content = Some(Arc::from(buf));
            }
        }
        looked.validators = Some(v);
        Ok(Arc::new(looked))
    }

    /// Answers a GET or HEAD request for a path under the root (with a
    /// body stream when a large file is compressed while it is sent).
    pub fn serve(&self, req: &Request) -> Served {
        let rel = match path::relative_path(&req.path, self.hidden) {
            Ok(p) => p,
            Err(r) => return plain(r.response()),
        };
        let found = match self.lookup(&rel) {
            Ok(found) => found,
            Err(Refusal::NotFound) if req.path == "/favicon.ico" => return plain(page::favicon()),
            Err(r) => return plain(r.response()),
        };
        if found.meta.is_dir() {
            if !req.path.ends_with('/') {
                let location = path::directory_location(&rel, req.query.as_deref());
                return plain(
                    Response::error(301, "moved to the directory's address")
                        .header("Location", location),
                );
            }
            let index = rel.join("index.html");
            match self.lookup(&index) {
                Ok(index_found) => {
                    if index_found.meta.is_file() {
                        return self.file_response(req, &index, &index_found);
                    }
                }
                Err(Refusal::Busy) => return plain(Refusal::Busy.response()),
                Err(_) => {}
            }
            return plain(self.listing(req, &rel, &found.file));
        }
        if !found.meta.is_file() {
            return plain(Refusal::Forbidden.response());
        }
        if req.path.ends_with('/') {
            // `/file.txt/` names a directory that is not there.
            return plain(Refusal::NotFound.response());
        }
        self.file_response(req, &rel, &found)
    }

    /// True if `path` (a request path) names something the root would
    /// serve: a file or folder, visible under the hidden-file and symlink
    /// policy (built-in routes give way to it).
    pub fn has(&self, path: &str) -> bool {
        path::relative_path(path, self.hidden)
            .ok()
            .is_some_and(|rel| !rel.as_os_str().is_empty() && self.lookup(&rel).is_ok())
    }

    /// A file's response: validators, conditional requests, ranges, encodings.
    fn file_response(&self, req: &Request, rel: &Path, found: &Arc<Looked>) -> Served {
        // Which form of the file: precompressed twins first, then codings
        // made on the fly; a range request always gets the file itself.
        enum Form<'a> {
            Identity,
            Twin(&'a Arc<Looked>, &'static str),
            Fly(Coding),
        }
        let vary = found.compressible || !found.siblings.is_empty();
        let accept = req.header("accept-encoding");
        let mut form = Form::Identity;
        if vary && accept.is_some() && req.header("range").is_none() {
            let mut offered: Vec<(usize, &str)> = Vec::with_capacity(5);
            for (i, (token, _)) in found.siblings.iter().enumerate() {
                offered.push((i, token));
            }
            if found.compressible {
                for c in Coding::ALL {
                    if !found.siblings.iter().any(|(t, _)| *t == c.token()) {
                        offered.push((8 + c.index(), c.token()));
                    }
                }
            }
            form = match compress::negotiate(accept, &offered) {
                Some(i) if i < 8 => {
                    let (token, twin) = &found.siblings[i];
                    Form::Twin(twin, token)
                }
                Some(i) => Form::Fly(Coding::ALL[i - 8]),
                None => Form::Identity,
            };
        }
        let content_type = || match &found.content_type {
            Some(t) => t.clone(),
            None => content_type_of(rel),
        };
        let Some(validators) = &found.validators else {
            return plain(Response::error(500, "file changed while being read"));
        };
        let (size, mtime) = (found.meta.len(), mtime_of(&found.meta));

        // On the fly: a small file's compressed form is made once and kept;
        // a large one is compressed while it is sent.
        if let Form::Fly(coding) = form {
            if let Some(content) = &found.content {
                if let Some(enc) = found.encodings.get(coding, || {
                    Encoded::new(coding, content, size, mtime, &content_type())
                }) {
                    if let Some(r) = precheck(req, &enc.validators, true) {
                        return plain(r);
                    }
                    let resp = Response::new(200)
                        .with_prepared(Arc::clone(&enc.fields))
                        .with_body(Part::Shared(Arc::clone(&enc.bytes)));
                    return plain(resp);
                }
            } else {
                let v = Validators::new(mtime, size, Some(coding.token()));
                if let Some(r) = precheck(req, &v, true) {
                    return plain(r);
                }
                let resp = headed(Response::new(200), &v, true)
                    .header("Content-Type", content_type())
                    .header("Content-Encoding", coding.token());
                let stream = Compressed::new(
                    FileRegion::new(Arc::clone(&found.file), 0, size),
                    coding,
                    Effort::OnTheFly,
                );
                return (resp, Some(Box::new(stream)));
            }
        }
        if let Form::Twin(twin, token) = form {
            let Some(tv) = &twin.validators else {
                return plain(Response::error(500, "file changed while being read"));
            };
            if let Some(r) = precheck(req, tv, true) {
                return plain(r);
            }
            let resp = headed(Response::new(200), tv, true)
                .header("Content-Type", content_type())
                .header("Content-Encoding", token);
            return plain(match &twin.content {
                Some(bytes) => resp.with_body(Part::Shared(Arc::clone(bytes))),
                None => body_of(resp, Arc::clone(&twin.file), 0, twin.meta.len()),
            });
        }

        // The file itself.
        if let Some(r) = precheck(req, validators, vary) {
            return plain(r);
        }
        let file = Arc::clone(&found.file);
        // Range requests, unless If-Range says the client's copy is stale.
        let range_header = req.header("range").filter(|_| {
            validators.if_range_allows(req.header("if-range"), crate::human::now_unix() as u64)
        });
        if let Some(spec) = range_header {
            let base = |status| headed(Response::new(status), validators, vary);
            match range::parse_ranges(spec, size) {
                Ranges::Ignore => {}
                Ranges::Unsatisfiable => return plain(range::unsatisfiable(base(416), size)),
                Ranges::Some(ranges) => {
                    return plain(range::partial(
                        base(206),
                        file,
                        ranges,
                        size,
                        mtime,
                        &content_type(),
                    ));
                }
            }
        }
        // The common answer: its fields were rendered when the file was looked up.
        let resp = match &found.fields {
            Some(fields) => Response::new(200).with_prepared(Arc::clone(fields)),
            None => {
                headed(Response::new(200), validators, vary).header("Content-Type", content_type())
            }
        };
        plain(match &found.content {
            Some(bytes) => resp.with_body(Part::Shared(Arc::clone(bytes))),
            None => body_of(resp, file, 0, size),
        })
    }
}

/// A response and, when its body is made while it is sent, the stream.
pub type Served = (Response, Option<Box<dyn BodyStream>>);

fn plain(resp: Response) -> Served {
    (resp, None)
}

/// `resp` with a file form's validators (and `Vary` when the form depends
/// on `Accept-Encoding`).
fn headed(resp: Response, v: &Validators, vary: bool) -> Response {
    let r = resp
        .header("ETag", v.etag.clone())
        .header("Last-Modified", v.last_modified.clone())
        .header("Accept-Ranges", "bytes");
    if vary {
        r.header("Vary", "Accept-Encoding")
    } else {
        r
    }
}

/// The answer the preconditions give instead of the file (412 or 304), if any.
fn precheck(req: &Request, v: &Validators, vary: bool) -> Option<Response> {
    match v.precondition(
        req.header("if-match"),
        req.header("if-unmodified-since"),
        req.header("if-none-match"),
        req.header("if-modified-since"),
    ) {
        Precondition::Failed => Some(headed(Response::new(412), v, vary)),
        Precondition::NotModified => Some(headed(Response::new(304), v, vary)),
        Precondition::Proceed => None,
    }
}

/// The compressed forms of one small file, each made when first asked for.
#[derive(Debug, Default)]
pub(super) struct Encodings([OnceLock<Option<Arc<Encoded>>>; 3]);

impl Encodings {
    /// The form in `coding`, made by `make` the first time (`None`: it does
    /// not shrink, send the file itself).
    fn get(&self, coding: Coding, make: impl FnOnce() -> Option<Encoded>) -> Option<Arc<Encoded>> {
        self.0[coding.index()]
            .get_or_init(|| make().map(Arc::new))
            .clone()
    }
}

/// A small file compressed, with its answer's fields rendered.
#[derive(Debug)]
pub(super) struct Encoded {
    validators: Validators,
    fields: Arc<str>,
    bytes: Arc<[u8]>,
}

impl Encoded {
    fn new(coding: Coding, content: &[u8], size: u64, mtime: Duration, t: &str) -> Option<Encoded> {
        let bytes = compress::encode(coding, Effort::Cached, content).ok()?;
        if bytes.len() as u64 >= size {
            return None;
        }
        let v = Validators::new(mtime, size, Some(coding.token()));
        let fields = format!(
            "\r\nETag: {}\r\nLast-Modified: {}\r\nAccept-Ranges: bytes\r\nContent-Type: {t}\r\nContent-Encoding: {}\r\nVary: Accept-Encoding",
            v.etag,
            v.last_modified,
            coding.token()
        );
        Some(Encoded {
            validators: v,
            fields: Arc::from(fields),
            bytes: Arc::from(bytes),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

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
