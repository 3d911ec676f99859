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
use super::auth::Auth;
use super::body::{BodyStream, Intake};
use super::compress::Compression;
use super::metrics::Metrics;
use super::policy::Policy;
use super::request::{BodyKind, Request};
use super::response::Response;
use super::share::{Share, ShareOptions};
use super::static_files::StaticFiles;

/// A route handler: a plain function from request to response.
pub type Route = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// The prefix of netkit's own endpoints (health, metrics): a hidden name,
/// so it never stands for a served file unless `--hidden` shows one, and
/// then the file wins.
pub const RESERVED: &str = "/.netkit/";

/// One registered route.
#[derive(Clone)]
struct Routed {
    method: String,
    pattern: String,
    f: Route,
    /// An example route: a real file at its path is served instead.
    yields: bool,
}

/// What [`App::answer`] gives: the response, a body streamed after it if
/// any, and the user the request authenticated as.
pub struct Answer {
    /// The response.
    pub response: Response,
    /// A body made while it is sent (an archive, a large file compressed).
    pub stream: Option<Box<dyn BodyStream>>,
    /// The authenticated user (with auth on).
    pub user: Option<Arc<str>>,
}

/// netkit's own endpoints under [`RESERVED`], each switchable.
#[derive(Clone, Default)]
pub struct Builtins {
    /// `GET /.netkit/health`.
    pub health: bool,
    /// `GET /.netkit/metrics` (Prometheus), from these counters.
    pub metrics: Option<Arc<Metrics>>,
}

/// Routes plus an optional static root, shared by every connection.
#[derive(Clone, Default)]
pub struct App {
    routes: Vec<Routed>,
    files: Option<StaticFiles>,
    /// What clients may change under the static root, if anything.
    share: Option<Share>,
    /// Folders as archives, when on.
    archives: Option<Archives>,
    /// Largest request body accepted (larger gets 413).
    pub max_body: u64,
    /// Log one line per request on stderr.
    pub access_log: bool,
    /// How those lines look.
    pub log_format: super::log::LogFormat,
    /// Send `Strict-Transport-Security` (for a server behind TLS).
    pub hsts: bool,
    /// Who may use the server (none: everybody).
    pub auth: Option<Arc<Auth>>,
    /// CORS, fixed fields, Cache-Control rules, security headers, error pages.
    pub policy: Policy,
    /// On-the-fly compression of responses made in memory (static files
    /// have their own, see [`StaticFiles::compression`]).
    pub compression: Option<Compression>,
    /// Answer paths that are not found with the root's `index.html` (a
    /// single-page application's client-side routes).
    pub spa: bool,
    /// Health and metrics endpoints.
    pub builtins: Builtins,
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
            log_format: super::log::LogFormat::Common,
            hsts: false,
            auth: None,
            policy: Policy::default(),
            compression: Some(Compression::default()),
            spa: false,
            builtins: Builtins::default(),
        }
    }

    /// Adds a route for `method` and `path` (a trailing `*` matches any suffix).
    pub fn route(
        mut self,
        method: &str,
        path: &str,
        f: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.routes.push(Routed {
            method: method.to_ascii_uppercase(),
            pattern: path.to_string(),
            f: Arc::new(f),
            yields: false,
        });
        self
    }

    /// Adds an example GET route that gives way to a real file at the same
    /// path under the static root (the binary's `/api/*` routes).
    pub fn example_get(
        mut self,
        path: &str,
        f: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> Self {
        self = self.route("GET", path, f);
        if let Some(r) = self.routes.last_mut() {
            r.yields = true;
        }
        self
    }

    /// Adds an example POST route (see [`App::example_get`]).
    pub fn example_post(
        mut self,
        path: &str,
        f: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> Self {
        self = self.route("POST", path, f);
        if let Some(r) = self.routes.last_mut() {
            r.yields = true;
        }
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

    /// Compresses responses on the fly (`None`: never), static files included.
    pub fn compression(mut self, c: Option<Compression>) -> Self {
        self.compression = c;
        self.files = self.files.map(|f| f.compression(c));
        self
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

    /// True if a route takes `path` (an example route only while no real
    /// file is there).
    fn routed(&self, path: &str) -> bool {
        self.routes
            .iter()
            .any(|r| r.matches(path) && !self.yielded(r, path))
    }

    /// True if `r` gives way to a real file at `path`.
    fn yielded(&self, r: &Routed, path: &str) -> bool {
        r.yields && self.files.as_ref().is_some_and(|f| f.has(path))
    }

    /// What becomes of a request's body, decided from its head: buffered
    /// for routes and most requests, handed to an upload, or refused before
    /// it is read (no credentials).
    pub fn intake(&self, req: &Request, body: BodyKind) -> Intake {
        // A body is refused before it is read; a request without one is
        // checked once, when it is answered.
        if let Some(auth) = &self.auth
            && !matches!(body, BodyKind::None)
            && !self.is_preflight(req)
            && auth.user(req).is_none()
        {
            return Intake::Refuse(self.finish(req, auth.challenge()));
        }
        if self.routed(&req.path) {
            return Intake::Buffer;
        }
        match &self.share {
            Some(share) => match share.intake(req, body) {
                Some(Intake::Refuse(r)) => Intake::Refuse(self.finish(req, r)),
                Some(i) => i,
                None => Intake::Buffer,
            },
            None => Intake::Buffer,
        }
    }

    fn is_preflight(&self, req: &Request) -> bool {
        req.method == "OPTIONS"
            && !self.policy.cors.is_empty()
            && req.header("access-control-request-method").is_some()
    }

    /// The methods `path` answers, for `Allow` and CORS preflights.
    fn allow(&self, path: &str) -> String {
        let mut allowed: Vec<&str> = self
            .routes
            .iter()
            .filter(|r| r.matches(path) && !self.yielded(r, path))
            .map(|r| r.method.as_str())
            .collect();
        if allowed.is_empty() || self.files.is_some() {
            allowed.push("GET");
        }
        let shared = self.share.as_ref().map(|s| s.allow()).unwrap_or_default();
        allowed.extend(shared.split(", ").filter(|m| !m.is_empty()));
        if allowed.contains(&"GET") {
            allowed.push("HEAD");
        }
        allowed.push("OPTIONS");
        allowed.sort_unstable();
        allowed.dedup();
        allowed.join(", ")
    }

    /// Answers one request: authentication, netkit's own endpoints, routes,
    /// archives and files; then the response policy and compression.
    pub fn answer(&self, req: &Request) -> Answer {
        let mut user = None;
        let (resp, stream) = if let Some(r) = self.policy.preflight(req, &self.allow(&req.path)) {
            (r, None)
        } else if let Some(auth) = &self.auth
            && {
                user = auth.user(req);
                user.is_none()
            }
        {
            (auth.challenge(), None)
        } else {
            self.serve(req)
        };
        let response = match stream {
            Some(_) => self.policy.apply(req, resp),
            None => self.finish(req, resp),
        };
        Answer {
            response,
            stream,
            user,
        }
    }

    /// The tree under the static root changed (an upload was stored).
    pub(crate) fn changed(&self) {
        if let Some(f) = &self.files {
            f.changed();
        }
    }

    /// The policy, then compression, applied to a response made in memory.
    pub(crate) fn finish(&self, req: &Request, resp: Response) -> Response {
        let resp = self.policy.apply(req, resp);
        match &self.compression {
            Some(c) => c.apply(req, resp),
            None => resp,
        }
    }

    /// The answer before policy and compression.
    fn serve(&self, req: &Request) -> (Response, Option<Box<dyn BodyStream>>) {
        let get = req.method == "GET" || req.method == "HEAD";
        if get
            && req.path.starts_with(RESERVED)
            && !self.files.as_ref().is_some_and(|f| f.has(&req.path))
            && let Some(r) = self.builtin(req)
        {
            return (r, None);
        }
        if let Some(archives) = &self.archives
            && get
            && let Some(format) = req.query_param("download")
            && !self.routed(&req.path)
        {
            return archives.serve(req, format);
        }
        self.respond(req)
    }

    /// netkit's own endpoints (health, metrics), when on.
    fn builtin(&self, req: &Request) -> Option<Response> {
        match &req.path[RESERVED.len()..] {
            "health" if self.builtins.health => Some(
                Response::json(200, &serde_json::json!({ "status": "ok" }))
                    .header("Cache-Control", "no-store"),
            ),
            "metrics" => self.builtins.metrics.as_ref().map(|m| {
                Response::bytes(
                    200,
                    "text/plain; version=0.0.4; charset=utf-8",
                    m.prometheus(),
                )
                .header("Cache-Control", "no-store")
            }),
            _ => None,
        }
    }

    /// Answers one request from the routes and the static root.
    pub fn respond(&self, req: &Request) -> (Response, Option<Box<dyn BodyStream>>) {
        let method = if req.method == "HEAD" {
            "GET"
        } else {
            req.method.as_str()
        };
        let mut allowed = false;
        for r in &self.routes {
            if !r.matches(&req.path) || self.yielded(r, &req.path) {
                continue;
            }
            if r.method == method {
                return ((r.f)(req), None);
            }
            allowed = true;
        }
        if allowed || (req.method == "OPTIONS" && self.files.is_none()) {
            return (
                Response::error(405, "method not allowed for this resource")
                    .header("Allow", self.allow(&req.path)),
                None,
            );
        }
        let Some(files) = &self.files else {
            return (Response::error(404, "no such resource"), None);
        };
        if req.method == "OPTIONS" {
            return (
                Response::new(204).header("Allow", self.allow(&req.path)),
                None,
            );
        }
        if method != "GET" {
            if let Some(share) = &self.share {
                let r = share.respond(req).unwrap_or_else(|| {
                    Response::error(405, "method not allowed here").header("Allow", share.allow())
                });
                if (200..300).contains(&r.status) {
                    files.changed();
                }
                return (r, None);
            }
            return (
                Response::error(405, "static files are read-only").header("Allow", "GET, HEAD"),
                None,
            );
        }
        let served = files.serve(req);
        if self.spa && served.0.status == 404 && spa_wants_index(req) {
            let mut index = req.clone();
            index.path = "/".to_string();
            let page = files.serve(&index);
            if page.0.status == 200 {
                return page;
            }
        }
        served
    }
}

impl Routed {
    fn matches(&self, path: &str) -> bool {
        match self.pattern.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.pattern,
        }
    }
}

/// True if a request for a missing path should get the app's page: a
/// browser navigating (it accepts HTML) or a path without an extension
/// (a client-side route), never netkit's own prefix.
fn spa_wants_index(req: &Request) -> bool {
    if req.path.starts_with(RESERVED) {
        return false;
    }
    let last = req.path.rsplit('/').next().unwrap_or("");
    !last.contains('.')
        || req
            .header("accept")
            .is_some_and(|a| a.contains("text/html"))
}
