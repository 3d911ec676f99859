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
//! (GET and HEAD only), or `404` when there is none.

use std::sync::Arc;

use super::request::Request;
use super::response::Response;
use super::static_files::StaticFiles;

/// A route handler: a plain function from request to response.
pub type Route = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// Routes plus an optional static root, shared by every connection.
#[derive(Clone, Default)]
pub struct App {
    routes: Vec<(String, String, Route)>,
    files: Option<StaticFiles>,
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
                    return Response::error(405, "static files are read-only")
                        .header("Allow", "GET, HEAD");
                }
                files.serve(req)
            }
            None => Response::error(404, "no such resource"),
        }
    }
}
