//! Sharing a folder both ways: what `netkit http --upload --mkdir --delete`
//! lets clients change on disk, each opt-in.
//!
//! - [`target`]: from a request path to a folder under the root and a new
//!   name in it, with the same jail and hidden-name policy as downloads and
//!   the file server's name rules; writes never go through a symbolic link.
//! - [`upload`]: `PUT /folder/name` (`curl -T`): the body is spliced into a
//!   temporary file in the target folder and renamed into place only once
//!   complete ([`crate::disk::upload::Upload`], as `netkit files` does).
//! - [`multipart`]: a streaming `multipart/form-data` parser for the upload
//!   form of the listing page, each file part into its own temporary file.
//! - [`edit`]: `MKCOL` and `DELETE`, and the listing's plain-form
//!   equivalents (`POST` of `mkdir=NAME` or `delete=NAME`).
//!
//! Every refusal is a clear status and line: 400 for a hostile name or path,
//! 403 for what the server does not allow (hidden names, symlinks, a feature
//! that is off), 404 for a missing folder, 409 for a name that exists, 413
//! over `--max-upload`, 507 when the disk is full; nothing half-written is
//! ever left under a real name.

mod edit;
mod multipart;
mod target;
mod upload;

use std::sync::Arc;

use super::body::{BodySink, Intake};
use super::request::{BodyKind, Request};
use super::response::Response;
use super::static_files::StaticFiles;

/// What clients may change on disk.
#[derive(Debug, Clone)]
pub struct ShareOptions {
    /// Accept uploads (`PUT`, and form posts to a folder).
    pub upload: bool,
    /// Let an upload replace an existing file (atomically).
    pub overwrite: bool,
    /// Largest file an upload may store, in bytes.
    pub max_upload: u64,
    /// fsync an upload before it is renamed into place and answered.
    pub sync: bool,
    /// Allow new folders (`MKCOL`, the listing's form).
    pub mkdir: bool,
    /// Allow deleting files and empty folders (`DELETE`, the listing's buttons).
    pub delete: bool,
}

impl Default for ShareOptions {
    fn default() -> Self {
        ShareOptions {
            upload: false,
            overwrite: false,
            max_upload: 16 << 30,
            sync: true,
            mkdir: false,
            delete: false,
        }
    }
}

impl ShareOptions {
    /// True if any write is allowed.
    pub fn any(&self) -> bool {
        self.upload || self.mkdir || self.delete
    }
}

/// The writable side of a static root.
#[derive(Debug, Clone)]
pub struct Share {
    /// What is allowed.
    pub options: ShareOptions,
    /// The root and its policy (the same as for downloads).
    files: Arc<StaticFiles>,
}

/// Largest `application/x-www-form-urlencoded` body (a folder or file name).
const FORM_MAX: u64 = 4096;

impl Share {
    /// Lets clients change `files`' root as `options` allow.
    pub fn new(files: StaticFiles, options: ShareOptions) -> Share {
        Share {
            options,
            files: Arc::new(files),
        }
    }

    /// Decides from the head what becomes of a request's body: `PUT` and
    /// multipart `POST` go to an upload sink, form posts are buffered, other
    /// requests are not this module's.
    pub fn intake(&self, req: &Request, body: BodyKind) -> Option<Intake> {
        match req.method.as_str() {
            "PUT" => Some(match self.put(req, body) {
                Ok(sink) => Intake::Sink(sink),
                Err(resp) => Intake::Refuse(resp),
            }),
            "POST" => {
                let ctype = req.header("content-type").unwrap_or("");
                if let Some(boundary) = multipart::boundary(ctype) {
                    return Some(match self.post_files(req, boundary) {
                        Ok(sink) => Intake::Sink(sink),
                        Err(resp) => Intake::Refuse(resp),
                    });
                }
                if !req.path.ends_with('/') {
                    return None;
                }
                match body {
                    BodyKind::Length(n) if n > FORM_MAX => Some(Intake::Refuse(Response::error(
                        413,
                        "form too large (a name is at most 255 bytes)",
                    ))),
                    _ => Some(Intake::Buffer),
                }
            }
            _ => None,
        }
    }

    /// Answers the requests that change the disk and need no sink (`MKCOL`,
    /// `DELETE`, form posts); `None` for everything else.
    pub fn respond(&self, req: &Request) -> Option<Response> {
        match req.method.as_str() {
            "MKCOL" => Some(self.mkcol(req)),
            "DELETE" => Some(self.delete(req)),
            "POST" if req.path.ends_with('/') => Some(self.form(req)),
            "PUT" => Some(Response::error(500, "upload not taken")),
            _ => None,
        }
    }

    /// The methods allowed besides GET and HEAD, for `Allow`.
    pub fn allow(&self) -> String {
        let mut allow = vec!["GET", "HEAD"];
        if self.options.upload {
            allow.extend(["PUT", "POST"]);
        }
        if self.options.mkdir {
            allow.push("MKCOL");
            if !self.options.upload {
                allow.push("POST");
            }
        }
        if self.options.delete {
            allow.push("DELETE");
            if !self.options.upload && !self.options.mkdir {
                allow.push("POST");
            }
        }
        allow.join(", ")
    }
}

/// A 403 saying which flag turns `what` on.
fn off(what: &str, flag: &str) -> Response {
    Response::error(
        403,
        &format!("{what} are off on this server (it was not started with {flag})"),
    )
}

/// True when the client is a browser that posted a form (it wants to see
/// the listing again, not a text answer).
fn from_browser(req: &Request) -> bool {
    req.header("accept")
        .is_some_and(|a| a.contains("text/html"))
}

/// The answer to a write: a browser's form post goes back to the listing
/// (303); others get `status` and a line of text.
fn answer(req: &Request, status: u16, text: String) -> Response {
    if from_browser(req) && req.method == "POST" {
        let back = if req.path.ends_with('/') {
            req.path.clone()
        } else {
            "./".to_string()
        };
        if status >= 400 {
            return Response::error(status, &text);
        }
        let mut r = Response::text(303, text).header("Location", back);
        r.headers.push(("Cache-Control", "no-store".into()));
        return r;
    }
    Response::text(status, text)
}

pub(crate) type Sink = Box<dyn BodySink>;
