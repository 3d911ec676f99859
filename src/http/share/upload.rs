//! `PUT /folder/name`: an upload into a temporary file in the target folder,
//! renamed into place only once every byte arrived.
//!
//! The checks come before any byte of the body is read (so a client that
//! sent `Expect: 100-continue` never sends a refused body): uploads must be
//! on (403), the path and name must pass [`Target::resolve`], a folder or a
//! link under the name is 409/403, an existing file is 409 unless
//! `--overwrite` (`If-None-Match: *` makes it 412 even then), a body over
//! `--max-upload` is 413 and one larger than the free space 507. A body of
//! known length is spliced into the file by the driver; a chunked one is
//! written as it is decoded. The final rename never replaces a file that
//! appeared meanwhile unless `--overwrite`, and then replaces it atomically;
//! a cut connection, a refused or failed upload leave nothing under the name.

use std::io;

use super::target::{Existing, Target, shown, storage_error};
use super::{Share, Sink, off};
use crate::disk::upload::{Upload, free_space};
use crate::http::body::BodySink;
use crate::http::request::{BodyKind, Request};
use crate::http::response::Response;
use crate::server::InputSink;

impl Share {
    /// Starts a `PUT`.
    pub(super) fn put(&self, req: &Request, body: BodyKind) -> Result<Sink, Response> {
        if !self.options.upload {
            return Err(off("uploads", "--upload"));
        }
        let target = Target::resolve(&self.files, &req.path, false)?;
        let replacing = self.check_new_file(&target, req.header("if-none-match") == Some("*"))?;
        let size = match body {
            BodyKind::None => 0,
            BodyKind::Length(n) => n,
            BodyKind::Chunked => self.options.max_upload,
        };
        if size > self.options.max_upload {
            return Err(too_large(self.options.max_upload));
        }
        if body != BodyKind::Chunked
            && let Some(free) = free_space(&super::target::folder_path(&target.dir))
            && size > free
        {
            return Err(Response::error(507, "not enough space on the server"));
        }
        let upload = Upload::begin(
            &target.path(),
            size,
            self.options.overwrite,
            self.options.sync,
        )
        .map_err(storage_error)?;
        Ok(Box::new(PutSink {
            upload: Some(upload),
            chunked: body == BodyKind::Chunked,
            limit: self.options.max_upload,
            replacing,
            target,
        }))
    }

    /// Checks that a file may be stored under `target`'s name: returns
    /// whether it replaces one.
    pub(super) fn check_new_file(
        &self,
        target: &Target,
        no_replace: bool,
    ) -> Result<bool, Response> {
        match target.existing()? {
            Existing::Nothing => Ok(false),
            Existing::Folder => Err(Response::error(409, "a folder of that name exists")),
            Existing::Other => Err(Response::error(
                403,
                "a link or special file of that name exists; it is not replaced",
            )),
            Existing::File if no_replace => Err(Response::error(
                412,
                "a file of that name exists (If-None-Match: *)",
            )),
            Existing::File if !self.options.overwrite => Err(Response::error(
                409,
                "a file of that name exists (the server does not overwrite files; see --overwrite)",
            )),
            Existing::File => Ok(true),
        }
    }
}

/// The 413 for a file over `--max-upload`.
pub(super) fn too_large(max: u64) -> Response {
    Response::error(
        413,
        &format!(
            "upload larger than the server accepts ({}; see --max-upload)",
            crate::human::size(max)
        ),
    )
}

/// A `PUT` body on its way to disk.
struct PutSink {
    /// The upload (taken when finished).
    upload: Option<Upload>,
    /// The body is chunked: its size is known only at its end.
    chunked: bool,
    /// `--max-upload`.
    limit: u64,
    /// A file was there when the upload began (and `--overwrite` is on).
    replacing: bool,
    /// Where it goes; keeps the folder open while the upload runs. Declared
    /// after `upload` so the temporary file goes first when dropped.
    target: Target,
}

impl BodySink for PutSink {
    fn limit(&self) -> u64 {
        self.limit
    }

    fn write(&mut self, data: &[u8]) {
        if let Some(up) = &mut self.upload {
            up.write(data);
        }
    }

    fn splice_target(&self) -> Option<InputSink<'_>> {
        if self.chunked {
            return None;
        }
        self.upload.as_ref()?.sink()
    }

    fn sunk(&mut self, n: u64, error: Option<io::Error>) {
        if let Some(up) = &mut self.upload {
            up.sunk(n, error);
        }
    }

    fn finish(mut self: Box<Self>, _req: &Request) -> Response {
        let Some(mut upload) = self.upload.take() else {
            return Response::error(500, "upload already finished");
        };
        if self.chunked {
            upload.end_here();
        }
        match upload.finish() {
            Ok(size) => {
                let what = shown(&self.target.rel);
                if self.replacing {
                    Response::text(200, format!("replaced {what} ({size} bytes)\n"))
                } else {
                    Response::text(201, format!("stored {what} ({size} bytes)\n"))
                        .header("Location", encode_path(&self.target.rel))
                }
            }
            Err(e) => storage_error(e),
        }
    }
}

/// A path under the root as a link (`/a%20b/c`).
pub(super) fn encode_path(rel: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut s = String::new();
    for part in rel.iter() {
        s.push('/');
        s.push_str(&crate::http::static_files::encode_link(part.as_bytes()));
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}
