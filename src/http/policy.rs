//! What every response gets on its way out, as configured: CORS
//! (`--cors`, with preflight), fixed header fields (`--header`),
//! `Cache-Control` by path pattern (`--cache-control`), security headers
//! (`--security-headers`) and custom error pages (`--error-page`). Pure:
//! a request and a response in, the response out.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use globset::{Glob, GlobMatcher};

use super::request::Request;
use super::response::{Part, Response};

/// The response policy of an app (empty: responses pass unchanged).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Origins allowed cross-origin (`*` for any); empty: no CORS.
    pub cors: Vec<String>,
    /// Fields added to every response (`--header`, security headers),
    /// rendered as `\r\nName: value`.
    pub extra: Option<Arc<str>>,
    /// `Cache-Control` values by path pattern, first match wins.
    pub cache_control: Vec<(GlobMatcher, String)>,
    /// Error pages by status: (content type, body).
    pub error_pages: Vec<(u16, String, Arc<[u8]>)>,
}

/// Why a policy option was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(String);

/// Header fields netkit sets itself, which `--header` may not replace.
const OWN_FIELDS: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "date",
    "content-encoding",
];

impl Policy {
    /// Allows cross-origin requests from `origin` (a full origin such as
    /// `https://app.example`, or `*`).
    pub fn cors(&mut self, origin: &str) -> Result<(), PolicyError> {
        let origin = origin.trim().trim_end_matches('/');
        let valid = origin == "*"
            || (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin["https://".len().min(origin.len())..].contains('/')
                && !origin.contains(char::is_whitespace);
        if !valid {
            return Err(PolicyError(format!(
                "--cors {origin:?}: expected * or an origin such as https://app.example"
            )));
        }
        self.cors.push(origin.to_string());
        Ok(())
    }

    /// Adds `Name: value` to every response.
    pub fn header(&mut self, field: &str) -> Result<(), PolicyError> {
        let (name, value) = field
            .split_once(':')
            .map(|(n, v)| (n.trim(), v.trim()))
            .filter(|(n, _)| {
                !n.is_empty()
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            })
            .ok_or_else(|| PolicyError(format!("--header {field:?}: expected 'Name: value'")))?;
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(PolicyError(format!(
                "--header {name}: the value may not hold line breaks"
            )));
        }
        if OWN_FIELDS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(PolicyError(format!(
                "--header {name}: netkit sets this field itself"
            )));
        }
        self.add_fields(&format!("\r\n{name}: {value}"));
        Ok(())
    }

    fn add_fields(&mut self, fields: &str) {
        let mut all = self.extra.as_deref().unwrap_or("").to_string();
        all.push_str(fields);
        self.extra = Some(Arc::from(all));
    }

    /// `PATTERN=VALUE`: `Cache-Control: VALUE` for paths matching the glob
    /// `PATTERN` (relative to the root, e.g. `*.html`, `assets/**`).
    pub fn cache_rule(&mut self, rule: &str) -> Result<(), PolicyError> {
        let (pattern, value) = rule
            .split_once('=')
            .map(|(p, v)| (p.trim().trim_start_matches('/'), v.trim()))
            .filter(|(p, v)| !p.is_empty() && !v.is_empty())
            .ok_or_else(|| {
                PolicyError(format!(
                    "--cache-control {rule:?}: expected PATTERN=VALUE, e.g. '*.html=no-cache'"
                ))
            })?;
        if value.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(PolicyError(format!(
                "--cache-control {pattern}: the value may not hold line breaks"
            )));
        }
        // A pattern without a slash matches the name in any folder.
        let pattern = if pattern.contains('/') {
            pattern.to_string()
        } else {
            format!("**/{pattern}")
        };
        let glob = Glob::new(&pattern)
            .map_err(|e| PolicyError(format!("--cache-control {pattern}: {e}")))?;
        self.cache_control
            .push((glob.compile_matcher(), value.to_string()));
        Ok(())
    }

    /// Turns the security headers on: `X-Content-Type-Options`,
    /// `X-Frame-Options`, `Referrer-Policy`, `Content-Security-Policy`
    /// (`csp`, or one that allows the listing's own inline style and script
    /// and same-origin everything else), and HSTS when `tls`.
    pub fn security_headers(&mut self, csp: Option<&str>, tls: bool) {
        let csp = match csp {
            Some(c) => c.to_string(),
            None => {
                let (style, script) = super::static_files::inline_sources();
                format!(
                    "default-src 'self'; img-src 'self' data:; style-src 'self' {style}; script-src 'self' {script}; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
                )
            }
        };
        let mut f = format!(
            "\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nReferrer-Policy: strict-origin-when-cross-origin\r\nContent-Security-Policy: {csp}"
        );
        if tls {
            f.push_str("\r\nStrict-Transport-Security: max-age=31536000; includeSubDomains");
        }
        self.add_fields(&f);
    }

    /// `STATUS=FILE`: answers with the file's content whenever the status is
    /// `STATUS` (read now; at most 1 MiB).
    pub fn error_page(&mut self, spec: &str) -> Result<(), PolicyError> {
        let bad = || {
            PolicyError(format!(
                "--error-page {spec:?}: expected STATUS=FILE, e.g. 404=404.html"
            ))
        };
        let (status, file) = spec.split_once('=').ok_or_else(bad)?;
        let status: u16 = status.trim().parse().map_err(|_| bad())?;
        if !(400..=599).contains(&status) {
            return Err(PolicyError(format!(
                "--error-page {status}: only error statuses (400-599) have pages"
            )));
        }
        let path = Path::new(file.trim());
        let meta = std::fs::metadata(path)
            .map_err(|e| PolicyError(format!("--error-page {}: {e}", path.display())))?;
        if !meta.is_file() || meta.len() > 1 << 20 {
            return Err(PolicyError(format!(
                "--error-page {}: not a regular file of at most 1 MiB",
                path.display()
            )));
        }
        let body = std::fs::read(path)
            .map_err(|e| PolicyError(format!("--error-page {}: {e}", path.display())))?;
        let t = super::static_files::content_type_of(path);
        self.error_pages.retain(|(s, _, _)| *s != status);
        self.error_pages.push((status, t, Arc::from(body)));
        Ok(())
    }

    /// True if nothing is configured.
    pub fn is_empty(&self) -> bool {
        self.cors.is_empty()
            && self.extra.is_none()
            && self.cache_control.is_empty()
            && self.error_pages.is_empty()
    }

    /// The origin allowed for `req`'s `Origin`, if any.
    fn allowed_origin<'a>(&'a self, req: &'a Request) -> Option<&'a str> {
        if self.cors.iter().any(|o| o == "*") {
            return Some("*");
        }
        let origin = req.header("origin")?;
        self.cors
            .iter()
            .find(|o| o.eq_ignore_ascii_case(origin))
            .map(|_| origin)
    }

    /// The answer to a CORS preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`), if `req` is one and CORS is on.
    pub fn preflight(&self, req: &Request, allow: &str) -> Option<Response> {
        if self.cors.is_empty()
            || req.method != "OPTIONS"
            || req.header("origin").is_none()
            || req.header("access-control-request-method").is_none()
        {
            return None;
        }
        let mut r = Response::new(204);
        match self.allowed_origin(req) {
            Some(origin) => {
                r = r
                    .header("Access-Control-Allow-Origin", origin.to_string())
                    .header("Access-Control-Allow-Methods", allow.to_string())
                    .header("Access-Control-Max-Age", "86400");
                if let Some(h) = req.header("access-control-request-headers") {
                    let h: String = h
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ',' | ' ' | '_'))
                        .collect();
                    r = r.header("Access-Control-Allow-Headers", h);
                }
                if origin != "*" {
                    r = r.header("Vary", "Origin");
                }
            }
            // Not an allowed origin: a plain answer without the grants.
            None => r = r.header("Vary", "Origin"),
        }
        Some(r)
    }

    /// Applies the policy to `resp`, the answer to `req`.
    pub fn apply(&self, req: &Request, mut resp: Response) -> Response {
        if resp.status >= 400
            && let Some((_, t, body)) = self.error_pages.iter().find(|(s, _, _)| *s == resp.status)
        {
            resp.headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
            resp.body = vec![Part::Shared(Arc::clone(body))];
            resp = resp.header("Content-Type", t.clone());
        }
        if !self.cors.is_empty()
            && let Some(origin) = self.allowed_origin(req)
        {
            resp = resp.header("Access-Control-Allow-Origin", origin.to_string());
            if origin != "*" {
                resp = resp.header("Vary", "Origin");
            }
        }
        if !self.cache_control.is_empty()
            && matches!(resp.status, 200 | 203 | 206 | 304)
            && !resp
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("cache-control"))
        {
            let rel = req.path.trim_start_matches('/');
            let rel = if rel.is_empty() || rel.ends_with('/') {
                Cow::Owned(format!("{rel}index.html"))
            } else {
                Cow::Borrowed(rel)
            };
            if let Some((_, v)) = self
                .cache_control
                .iter()
                .find(|(m, _)| m.is_match(rel.as_ref()))
            {
                resp = resp.header("Cache-Control", v.clone());
            }
        }
        if let Some(e) = &self.extra {
            resp.extra = Some(Arc::clone(e));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Head, parse_head};

    fn req(text: &str) -> Request {
        match parse_head(text.as_bytes()) {
            Head::Complete { request, .. } => request,
            _ => panic!("head parses"),
        }
    }

    fn field<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    #[test]
    fn cors_grants_listed_origins_and_answers_preflight() {
        let mut p = Policy::default();
        p.cors("https://app.example").unwrap();
        assert!(p.cors("app.example").is_err());
        let r = req("GET / HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example\r\n\r\n");
        let out = p.apply(&r, Response::new(200));
        assert_eq!(
            field(&out, "access-control-allow-origin"),
            Some("https://app.example")
        );
        assert_eq!(field(&out, "vary"), Some("Origin"));
        let other = req("GET / HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example\r\n\r\n");
        assert_eq!(
            field(
                &p.apply(&other, Response::new(200)),
                "access-control-allow-origin"
            ),
            None
        );
        let pre = req(
            "OPTIONS /x HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: content-type, x-y\r\n\r\n",
        );
        let out = p.preflight(&pre, "GET, HEAD, PUT").unwrap();
        assert_eq!(out.status, 204);
        assert_eq!(
            field(&out, "access-control-allow-methods"),
            Some("GET, HEAD, PUT")
        );
        assert_eq!(
            field(&out, "access-control-allow-headers"),
            Some("content-type, x-y")
        );
        assert!(p.preflight(&r, "GET").is_none(), "not a preflight");
    }

    #[test]
    fn headers_are_checked() {
        let mut p = Policy::default();
        p.header("X-Served-By: netkit").unwrap();
        assert!(p.header("no colon").is_err());
        assert!(p.header("Bad Name: v").is_err());
        assert!(p.header("Content-Length: 5").is_err());
        assert_eq!(p.extra.as_deref(), Some("\r\nX-Served-By: netkit"));
    }

    #[test]
    fn cache_control_by_pattern() {
        let mut p = Policy::default();
        p.cache_rule("*.html=no-cache").unwrap();
        p.cache_rule("assets/**=public, max-age=31536000, immutable")
            .unwrap();
        assert!(p.cache_rule("nothing").is_err());
        let get = |path: &str| {
            let r = req(&format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n"));
            field(&p.apply(&r, Response::new(200)), "cache-control").map(str::to_string)
        };
        assert_eq!(get("/index.html").as_deref(), Some("no-cache"));
        assert_eq!(get("/docs/a.html").as_deref(), Some("no-cache"));
        assert_eq!(get("/").as_deref(), Some("no-cache"));
        assert_eq!(
            get("/assets/app.js").as_deref(),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(get("/a.txt"), None);
    }

    #[test]
    fn error_pages_replace_the_body() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("404.html");
        std::fs::write(&f, "<h1>lost</h1>").unwrap();
        let mut p = Policy::default();
        p.error_page(&format!("404={}", f.display())).unwrap();
        assert!(p.error_page("200=x").is_err());
        assert!(p.error_page("404=/does/not/exist").is_err());
        let r = req("GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
        let out = p.apply(&r, Response::error(404, "no"));
        assert_eq!(out.status, 404);
        assert_eq!(out.body_len(), 13);
        assert_eq!(
            field(&out, "content-type"),
            Some("text/html; charset=utf-8")
        );
    }
}
