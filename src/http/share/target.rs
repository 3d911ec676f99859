//! Where a write goes: a request path to a folder under the root (held open)
//! and a new name in it.
//!
//! The path is cleaned as for downloads (`..`, encoded slashes, backslashes
//! and NUL are 400), every folder on the way must be a real, visible folder
//! (hidden names are 403 even with `--hidden`; a symbolic link anywhere on
//! the way is 403: writes never go through one, so none can lead out), and
//! the new name must pass the file server's rules ([`crate::disk::name`]).
//! The folder is opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`
//! relative to the root's descriptor and every later step works relative to
//! that descriptor, so a folder renamed meanwhile cannot redirect the write.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::{FileStat, SFlag};

use crate::disk::name::{self, NameError};
use crate::http::response::Response;
use crate::http::static_files::StaticFiles;
use crate::http::static_files::path::{Refusal, relative_path};

/// A folder under the root, held open, and a name in it.
#[derive(Debug)]
pub(super) struct Target {
    /// The folder.
    pub dir: OwnedFd,
    /// The name in it (checked); empty when the target is the folder itself.
    pub name: String,
    /// The whole path under the root, for messages.
    pub rel: PathBuf,
}

/// What is at a name now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Existing {
    /// Nothing.
    Nothing,
    /// A regular file.
    File,
    /// A folder.
    Folder,
    /// A symbolic link, device, socket or FIFO.
    Other,
}

impl Target {
    /// Resolves `raw` (a request path, still percent-encoded) to a folder
    /// and a name in it. A path ending in `/` names the folder itself only
    /// when `folder_ok` (form posts); otherwise its last segment is the name.
    pub(super) fn resolve(
        files: &StaticFiles,
        raw: &str,
        folder_ok: bool,
    ) -> Result<Target, Response> {
        // Hidden segments are allowed here only to give them a clearer answer.
        let rel = relative_path(raw, true).map_err(Refusal::response)?;
        let trailing = raw.ends_with('/');
        let (parent, name) = if trailing && folder_ok {
            (rel.as_path(), String::new())
        } else {
            let Some(last) = rel.file_name() else {
                return Err(Response::error(
                    403,
                    "the root folder itself cannot be changed",
                ));
            };
            let Some(last) = last.to_str() else {
                return Err(Response::error(400, "file names must be UTF-8"));
            };
            name::check(last).map_err(name_refusal)?;
            (rel.parent().unwrap_or(Path::new("")), last.to_string())
        };
        for seg in parent.iter() {
            if seg.as_bytes().first() == Some(&b'.') {
                return Err(Response::error(403, "hidden folders cannot be written to"));
            }
        }
        let dir = open_folder(files, parent)?;
        Ok(Target { dir, name, rel })
    }

    /// What is at the name now (never following a symbolic link).
    pub(super) fn existing(&self) -> Result<Existing, Response> {
        existing_at(&self.dir, &self.name)
    }

    /// A path to the name that goes through the held folder descriptor
    /// (`/proc/self/fd/N/name`), for code that works with paths.
    pub(super) fn path(&self) -> PathBuf {
        folder_path(&self.dir).join(&self.name)
    }
}

/// The path of a held folder: `/proc/self/fd/N`.
pub(super) fn folder_path(dir: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()))
}

/// What is at `name` in `dir` (never following a symbolic link).
pub(super) fn existing_at(dir: &OwnedFd, name: &str) -> Result<Existing, Response> {
    use nix::fcntl::AtFlags;
    use nix::sys::stat::fstatat;
    match fstatat(dir.as_fd(), OsStr::new(name), AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(kind(&st)),
        Err(Errno::ENOENT) => Ok(Existing::Nothing),
        Err(e) => Err(storage_error(std::io::Error::from(e))),
    }
}

fn kind(st: &FileStat) -> Existing {
    match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFREG => Existing::File,
        SFlag::S_IFDIR => Existing::Folder,
        _ => Existing::Other,
    }
}

/// Opens folder `rel` under the root without following any symbolic link.
pub(super) fn open_folder(files: &StaticFiles, rel: &Path) -> Result<OwnedFd, Response> {
    let target = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_MAGICLINKS,
        );
    openat2(files.root_dir(), target, how).map_err(|e| match e {
        Errno::ENOENT => Response::error(404, "no such folder"),
        Errno::ENOTDIR => Response::error(409, "a file is in the way of that folder"),
        Errno::ELOOP | Errno::EXDEV => {
            Response::error(403, "writes never go through symbolic links")
        }
        Errno::EMFILE | Errno::ENFILE | Errno::ENOMEM => {
            Response::error(503, "the server is short of resources; try again shortly")
                .header("Retry-After", "1")
        }
        Errno::ENOSYS => Response::error(
            501,
            "this kernel cannot confine writes (openat2 is missing)",
        ),
        _ => Response::error(403, "access to this folder is not allowed"),
    })
}

/// The answer for a name the rules refuse.
pub(super) fn name_refusal(e: NameError) -> Response {
    match e {
        NameError::Hidden => Response::error(403, &e.to_string()),
        _ => Response::error(400, &e.to_string()),
    }
}

/// The answer for a storage error (never naming a filesystem path).
pub(super) fn storage_error(e: std::io::Error) -> Response {
    use std::io::ErrorKind;
    if crate::disk::upload::is_no_space(&e) {
        return Response::error(507, "not enough space on the server");
    }
    match e.kind() {
        ErrorKind::AlreadyExists => Response::error(
            409,
            "a file of that name exists (the server does not overwrite files)",
        ),
        ErrorKind::NotFound => Response::error(404, "no such file or folder"),
        ErrorKind::PermissionDenied => Response::error(403, "permission denied on the server"),
        _ => match e.raw_os_error() {
            Some(libc::ENOTEMPTY) => Response::error(409, "the folder is not empty"),
            Some(libc::EROFS) => Response::error(403, "the server's disk is read-only"),
            Some(libc::ENAMETOOLONG) => Response::error(400, "path too long"),
            _ => {
                tracing::warn!("share: storage error: {e}");
                Response::error(500, "server storage error")
            }
        },
    }
}

/// A name for display in answers (a file name, or the path under the root).
pub(super) fn shown(rel: &Path) -> String {
    format!("/{}", String::from_utf8_lossy(rel.as_os_str().as_bytes()))
}
