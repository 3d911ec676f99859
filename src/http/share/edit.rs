//! New folders and deletions: `MKCOL /a/b/` and `DELETE /a/b`, and the
//! listing page's plain forms (`POST /folder/` with `mkdir=NAME` or
//! `delete=NAME`), each only when its flag is on.
//!
//! Both are confined like uploads ([`Target::resolve`]): no `..`, no hidden
//! names, never through a symbolic link, never the root itself. `DELETE`
//! removes a file or an *empty* folder (a folder with anything in it is 409:
//! one request never removes a tree, so a slip cannot empty a share), and
//! never a symbolic link or special file (403: the listing does not show
//! links that lead out, so they cannot be deleted by name either). `MKCOL`
//! of an existing name is 405 (RFC 4918), of a folder whose parent is
//! missing 409. Each is one system call on the held folder descriptor
//! (`mkdirat`, `unlinkat`), atomic by itself.

use std::ffi::OsStr;

use nix::sys::stat::{Mode, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};

use super::target::{Existing, Target, shown, storage_error};
use super::{Share, answer, off};
use crate::http::request::Request;
use crate::http::response::Response;

impl Share {
    /// `MKCOL`.
    pub(super) fn mkcol(&self, req: &Request) -> Response {
        if !self.options.mkdir {
            return off("new folders", "--mkdir");
        }
        let path = req.path.trim_end_matches('/');
        let target =
            match Target::resolve(&self.files, if path.is_empty() { "/" } else { path }, false) {
                Ok(t) => t,
                Err(r) if r.status == 404 => {
                    return Response::error(409, "the parent folder does not exist");
                }
                Err(r) => return r,
            };
        self.make_folder(req, &target)
    }

    fn make_folder(&self, req: &Request, target: &Target) -> Response {
        match target.existing() {
            Ok(Existing::Nothing) => {}
            Ok(Existing::Other) => {
                return Response::error(403, "a link or special file of that name exists");
            }
            Ok(_) => return Response::error(405, "that name exists already"),
            Err(r) => return r,
        }
        match mkdirat(
            &target.dir,
            OsStr::new(&target.name),
            Mode::from_bits_truncate(0o755),
        ) {
            Ok(()) => answer(req, 201, format!("created {}/\n", shown(&target.rel))),
            Err(nix::errno::Errno::EEXIST) => Response::error(405, "that name exists already"),
            Err(e) => storage_error(e.into()),
        }
    }

    /// `DELETE`.
    pub(super) fn delete(&self, req: &Request) -> Response {
        if !self.options.delete {
            return off("deletions", "--delete");
        }
        let path = req.path.trim_end_matches('/');
        let target =
            match Target::resolve(&self.files, if path.is_empty() { "/" } else { path }, false) {
                Ok(t) => t,
                Err(r) => return r,
            };
        self.remove(req, &target)
    }

    fn remove(&self, req: &Request, target: &Target) -> Response {
        let flags = match target.existing() {
            Ok(Existing::File) => UnlinkatFlags::NoRemoveDir,
            Ok(Existing::Folder) => UnlinkatFlags::RemoveDir,
            Ok(Existing::Nothing) => return Response::error(404, "no such file or folder"),
            Ok(Existing::Other) => {
                return Response::error(403, "links and special files are not deleted");
            }
            Err(r) => return r,
        };
        match unlinkat(&target.dir, OsStr::new(&target.name), flags) {
            Ok(()) => answer(req, 200, format!("deleted {}\n", shown(&target.rel))),
            Err(e) => storage_error(e.into()),
        }
    }

    /// A plain form posted to a folder: `mkdir=NAME` or `delete=NAME`.
    pub(super) fn form(&self, req: &Request) -> Response {
        let ctype = req.header("content-type").unwrap_or("");
        if !ctype.split(';').next().is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        }) {
            return Response::error(
                415,
                "post multipart/form-data (files) or a form with mkdir= or delete=",
            );
        }
        let Some((key, value)) = form_field(&req.body) else {
            return Response::error(400, "the form needs one field: mkdir=NAME or delete=NAME");
        };
        let flag_off = match key.as_str() {
            "mkdir" if !self.options.mkdir => Some(off("new folders", "--mkdir")),
            "delete" if !self.options.delete => Some(off("deletions", "--delete")),
            "mkdir" | "delete" => None,
            _ => return Response::error(400, "unknown form field (mkdir= or delete=)"),
        };
        if let Some(r) = flag_off {
            return r;
        }
        if value.contains('/') {
            return Response::error(400, "file name must not contain '/' or '\\'");
        }
        let raw = format!(
            "{}{}",
            req.path,
            crate::http::static_files::encode_link(value.as_bytes())
        );
        let target = match Target::resolve(&self.files, &raw, false) {
            Ok(t) => t,
            Err(r) => return r,
        };
        if key == "mkdir" {
            self.make_folder(req, &target)
        } else {
            self.remove(req, &target)
        }
    }
}

/// The one `key=value` of an urlencoded form, decoded (`+` is a space).
fn form_field(body: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(body)
        .ok()?
        .trim_end_matches(['\r', '\n']);
    let mut fields = text.split('&').filter(|f| !f.is_empty());
    let (k, v) = fields.next()?.split_once('=')?;
    if fields.next().is_some() {
        return None;
    }
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((decode(k)?, decode(v)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields() {
        assert_eq!(
            form_field(b"mkdir=a+b%2Fc"),
            Some(("mkdir".into(), "a b/c".into()))
        );
        assert_eq!(
            form_field(b"delete=x.txt\r\n"),
            Some(("delete".into(), "x.txt".into()))
        );
        assert_eq!(form_field(b"a=1&b=2"), None);
        assert_eq!(form_field(b"novalue"), None);
        assert_eq!(form_field(b"k=%ff"), None);
    }
}
