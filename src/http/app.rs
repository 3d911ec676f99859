//! The application: backend routes as plain Rust functions, then static files.
//!
//! ```no_run
//! use netkit::http::{App, Response};
//! let app = App::new()
//!     .get("/api/hello", |_req| Response::text(200, "hello"))
//!     .static_root(".", false, false)
//!     .expect("root exists");
//! ```
//!
//! Routes match the exact path (`/api/time`) or, when registered with a
//! trailing `*`, a prefix (`/api/echo/*`). A path that matches a route but not
//! its method gets `405` with `Allow`. Everything else goes to the static root
//! (GET and HEAD; the writes of [`Share`] and the archives of [`Archives`]
//! when they are on), or `404` when there is none.

use std::sync::Arc;

use super::archive::Archives;
use super::body::{BodyStream, Intake};
use super::request::{BodyKind, Request};
use super::response::Response;
use super::share::{Share, ShareOptions};
use super::static_files::StaticFiles;

/// A route handler: a plain function from request to response.
pub type Route = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// Routes plus an optional static root, shared by every connection.
#[derive(Clone, Default)]
pub struct App {
    routes: Vec<(String, String, Route)>,
    files: Option<StaticFiles>,
    /// What clients may change under the static root, if anything.
    share: Option<Share>,
    /// Folders as archives, when on.
    archives: Option<Archives>,
    /// Largest request body accepted (larger gets 413).
    pub max_body: u64,
    /// Log one line per request (common log format) on stderr.
    pub access_log: bool,
    /// Send `Strict-Transport-Security` (for a server behind TLS).
    pub hsts: bool,
}

impl App {
    /// An app with no routes and no static root.
    pub fn new() -> Self {
        App {
            routes: Vec::new(),
            files: None,
            share: None,
            archives: None,
            max_body: 1 << 20,
            access_log: false,
            hsts: false,
        }
    }

    /// Adds a route for `method` and `path` (a trailing `*` matches any suffix).
    pub fn route(
        mut self,
        method: &str,
        path: &str,
        f: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.routes
            .push((method.to_ascii_uppercase(), path.to_string(), Arc::new(f)));
        self
    }

    /// Adds a GET route (HEAD is answered by it too).
    pub fn get(self, path: &str, f: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self {
        self.route("GET", path, f)
    }

    /// Adds a POST route.
    pub fn post(
        self,
        path: &str,
        f: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.route("POST", path, f)
    }

    /// Serves files under `root` for requests no route takes.
    pub fn static_root(
        mut self,
        root: impl Into<std::path::PathBuf>,
        follow_symlinks: bool,
        hidden: bool,
    ) -> std::io::Result<Self> {
        self.files = Some(StaticFiles::new(root, follow_symlinks, hidden)?);
        Ok(self)
    }

    /// Reuses each static-file lookup for `ttl` (default 1 s; zero: look up
    /// on every request). See [`StaticFiles::file_cache`].
    pub fn file_cache(mut self, ttl: std::time::Duration) -> Self {
        self.files = self.files.map(|f| f.file_cache(ttl));
        self
    }

    /// The static root, if any.
    pub fn files(&self) -> Option<&StaticFiles> {
        self.files.as_ref()
    }

    /// Lets clients change the static root as `options` allow (uploads, new
    /// folders, deletions), and shows the forms for it on listings. Call after
    /// [`App::static_root`] (and [`App::file_cache`]); without a root it does nothing.
    pub fn share(mut self, options: ShareOptions) -> Self {
        if let Some(files) = self.files.take() {
            let files = files.listing_features(|f| {
                f.upload = options.upload;
                f.mkdir = options.mkdir;
                f.delete = options.delete;
            });
            if options.any() {
                self.share = Some(Share::new(files.clone(), options));
            }
            self.files = Some(files);
        }
        self
    }

    /// Serves folders of the static root as archives (`?download=tar`,
    /// `tar.gz`, `zip`), at most `max` streams at once. Call after
    /// [`App::static_root`] (and [`App::file_cache`]).
    pub fn archives(mut self, max: usize) -> Self {
        if let Some(files) = self.files.take() {
            let files = files.listing_features(|f| f.archives = true);
            self.archives = Some(Archives::new(files.clone(), max));
            self.files = Some(files);
        }
        self
    }

    /// True if a route takes `path`.
    fn routed(&self, path: &str) -> bool {
        self.routes
            .iter()
            .any(|(_, pattern, _)| match pattern.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == *pattern,
            })
    }

    /// What becomes of a request's body, decided from its head: buffered
    /// for routes and most requests, or handed to an upload.
    pub fn intake(&self, req: &Request, body: BodyKind) -> Intake {
        if self.routed(&req.path) {
            return Intake::Buffer;
        }
        match &self.share {
            Some(share) => share.intake(req, body).unwrap_or(Intake::Buffer),
            None => Intake::Buffer,
        }
    }

    /// Answers one request, with a body streamed after the response (an
    /// archive) when there is one.
    pub fn answer(&self, req: &Request) -> (Response, Option<Box<dyn BodyStream>>) {
        if let Some(archives) = &self.archives
            && (req.method == "GET" || req.method == "HEAD")
            && let Some(format) = req.query_param("download")
            && !self.routed(&req.path)
        {
            return archives.serve(req, format);
        }
        (self.respond(req), None)
    }

    /// Answers one request.
    pub fn respond(&self, req: &Request) -> Response {
        let method = if req.method == "HEAD" {
            "GET"
        } else {
            req.method.as_str()
        };
        let mut allowed: Vec<&str> = Vec::new();
        for (m, pattern, f) in &self.routes {
            let hit = match pattern.strip_suffix('*') {
                Some(prefix) => req.path.starts_with(prefix),
                None => req.path == *pattern,
            };
            if !hit {
                continue;
            }
            if m == method {
                return f(req);
            }
            allowed.push(m);
        }
        if !allowed.is_empty() {
            if allowed.contains(&"GET") {
                allowed.push("HEAD");
            }
            allowed.sort_unstable();
            allowed.dedup();
            return Response::error(405, "method not allowed for this resource")
                .header("Allow", allowed.join(", "));
        }
        match &self.files {
            Some(files) => {
                if method != "GET" {
                    if let Some(share) = &self.share {
                        return share.respond(req).unwrap_or_else(|| {
                            Response::error(405, "method not allowed here")
                                .header("Allow", share.allow())
                        });
                    }
                    return Response::error(405, "static files are read-only")
                        .header("Allow", "GET, HEAD");
                }
                files.serve(req)
            }
            None => Response::error(404, "no such resource"),
        }
    }
}
