//! From a request path to a file under the root: percent-decoding segment by
//! segment, the refusals (`..`, encoded slashes, backslashes, NUL, hidden
//! names), the trailing-slash redirect for directories, and opening with
//! `openat2(RESOLVE_BENEATH)` so no path or symlink leaves the root (unless
//! symlinks may be followed).

use std::fs::File;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use percent_encoding::percent_decode_str;

use super::StaticFiles;
use super::listing::encode_link;
use crate::http::response::Response;

/// Why a path could not be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 400: a path no honest client sends (NUL, backslash, encoded slash, `..`).
    Bad,
    /// 403: exists but may not be served (outside the root, not a regular file).
    Forbidden,
    /// 404: not there (or hidden).
    NotFound,
    /// Internal: a symlink on the path, when opened without following any.
    Symlink,
    /// 503: the server itself is short of resources (out of descriptors or
    /// memory); nothing is wrong with the path, so the client may retry.
    Busy,
}

/// The refusal for an OS error that is the server's shortage, not the path's.
fn shortage(errno: i32) -> bool {
    matches!(
        errno,
        libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS
    )
}

impl Refusal {
    /// `Busy` when `err` is the server's shortage, else `otherwise`.
    pub(super) fn from_io(err: &std::io::Error, otherwise: Refusal) -> Refusal {
        match err.raw_os_error() {
            Some(e) if shortage(e) => Refusal::Busy,
            _ => otherwise,
        }
    }
}

impl Refusal {
    /// The error page for this refusal (it never names a filesystem path).
    pub(crate) fn response(self) -> Response {
        match self {
            Refusal::Bad => Response::error(400, "bad request path"),
            Refusal::Forbidden => Response::error(403, "access to this path is not allowed"),
            Refusal::NotFound | Refusal::Symlink => {
                Response::error(404, "no such file or directory")
            }
            Refusal::Busy => {
                Response::error(503, "the server is short of resources; try again shortly")
                    .header("Retry-After", "1")
            }
        }
    }
}

/// Turns a request path into a safe relative path (no `..`, and no hidden
/// names unless `hidden`).
pub(crate) fn relative_path(raw: &str, hidden: bool) -> Result<PathBuf, Refusal> {
    if !raw.starts_with('/') {
        return Err(Refusal::Bad);
    }
    // Segments are decoded one after another into one buffer (one allocation).
    let mut rel: Vec<u8> = Vec::with_capacity(raw.len());
    for seg in raw.split('/') {
        let start = rel.len();
        if start > 0 {
            rel.push(b'/');
        }
        let from = rel.len();
        rel.extend(percent_decode_str(seg));
        let bytes = &rel[from..];
        if bytes.contains(&0) || bytes.contains(&b'/') || bytes.contains(&b'\\') {
            return Err(Refusal::Bad);
        }
        match bytes {
            b"" | b"." => rel.truncate(start),
            b".." => return Err(Refusal::Bad),
            b if b[0] == b'.' && !hidden => return Err(Refusal::NotFound),
            _ => {}
        }
    }
    Ok(PathBuf::from(std::ffi::OsString::from_vec(rel)))
}

/// Where a directory requested without its trailing slash moves to: `rel`
/// re-encoded with a slash after it, and the query if any.
///
/// Built from the cleaned path, so `//host`-style paths cannot turn into a
/// redirect to another site.
pub(super) fn directory_location(rel: &Path, query: Option<&str>) -> String {
    let mut location = String::from("/");
    for part in rel.iter() {
        location.push_str(&encode_link(part.as_bytes()));
        location.push('/');
    }
    if let Some(q) = query {
        location.push('?');
        location.push_str(q);
    }
    location
}

impl StaticFiles {
    /// Opens `rel` under the root, never leaving it unless symlinks may be followed.
    pub(crate) fn open(&self, rel: &Path) -> Result<File, Refusal> {
        // The common case has no symlink on the way and costs one openat2.
        match self.open_at(rel, true) {
            Err(Refusal::Symlink) => {}
            other => return other,
        }
        let file = self.open_at(rel, false)?;
        // A symlink inside the root may lead to a hidden name: that is as
        // invisible as the name itself.
        if !self.hidden && self.hidden_target(&file) {
            return Err(Refusal::NotFound);
        }
        Ok(file)
    }

    /// A precompressed sibling (`x.gz` for `x`): never through a symlink,
    /// so a link cannot stand in for content the file itself would not serve.
    pub(super) fn open_sibling(&self, rel: &Path) -> Option<File> {
        self.open_at(rel, true).ok()
    }

    /// Opens `rel` under the root; with `no_symlinks`, a symlink anywhere on
    /// the path gives [`Refusal::Symlink`].
    fn open_at(&self, rel: &Path, no_symlinks: bool) -> Result<File, Refusal> {
        let target = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
        let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK;
        let opened = if no_symlinks {
            let how = OpenHow::new().flags(flags).resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS
                    | ResolveFlag::RESOLVE_NO_SYMLINKS,
            );
            openat2(&*self.root_fd, target, how)
        } else if self.follow_symlinks {
            openat(&*self.root_fd, target, flags, nix::sys::stat::Mode::empty())
        } else {
            let how = OpenHow::new()
                .flags(flags)
                .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
            openat2(&*self.root_fd, target, how)
        };
        match opened {
            // O_NONBLOCK stays set: it only kept a FIFO from hanging the open
            // (such files are refused), and regular-file reads and sendfile ignore it.
            Ok(fd) => Ok(File::from(fd)),
            Err(errno) => match errno {
                e if shortage(e as i32) => Err(Refusal::Busy),
                Errno::ELOOP if no_symlinks => Err(Refusal::Symlink),
                Errno::ENOENT | Errno::ENOTDIR | Errno::ENAMETOOLONG => Err(Refusal::NotFound),
                // EXDEV: the path (or an absolute symlink) leads outside the root.
                Errno::EXDEV | Errno::ENOSYS if !no_symlinks => self.open_checked(target),
                Errno::ENOSYS => Err(Refusal::Symlink),
                _ => Err(Refusal::Forbidden),
            },
        }
    }

    /// True when `file` (reached through a symlink) is a hidden name, or
    /// inside a hidden directory, under the root.
    fn hidden_target(&self, file: &File) -> bool {
        use std::os::fd::AsRawFd;
        let Ok(real) = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) else {
            return true; // cannot tell: refuse
        };
        match real.strip_prefix(&self.root) {
            Ok(inside) => inside
                .components()
                .any(|c| c.as_os_str().as_bytes().first() == Some(&b'.')),
            // Outside the root (only with --follow-symlinks): its own business.
            Err(_) => false,
        }
    }

    /// Fallback when the kernel cannot resolve beneath the root itself (old
    /// kernels, or absolute symlinks): resolve fully and check the result.
    fn open_checked(&self, rel: &Path) -> Result<File, Refusal> {
        use std::os::unix::fs::OpenOptionsExt;
        let full = std::fs::canonicalize(self.root.join(rel))
            .map_err(|e| Refusal::from_io(&e, Refusal::NotFound))?;
        if !full.starts_with(&self.root) {
            return Err(Refusal::Forbidden);
        }
        // O_NONBLOCK: a FIFO must not hang the worker; O_NOFOLLOW: the canonical
        // path has no symlinks left, so one appearing now is a race — refuse it.
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW)
            .open(full)
            .map_err(|e| Refusal::from_io(&e, Refusal::Forbidden))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_refuse_tricks() {
        let rel = |raw| relative_path(raw, false);
        assert_eq!(rel("/a/b").unwrap(), PathBuf::from("a/b"));
        assert_eq!(rel("/a%20b/./c").unwrap(), PathBuf::from("a b/c"));
        assert_eq!(rel("/../etc/passwd"), Err(Refusal::Bad));
        assert_eq!(rel("/%2e%2e/etc"), Err(Refusal::Bad));
        assert_eq!(rel("/a%2fb"), Err(Refusal::Bad));
        assert_eq!(rel("/a%5cb"), Err(Refusal::Bad));
        assert_eq!(rel("/a\\b"), Err(Refusal::Bad));
        assert_eq!(rel("/a%00b"), Err(Refusal::Bad));
        assert_eq!(rel("/.git/config"), Err(Refusal::NotFound));
        assert_eq!(rel("etc"), Err(Refusal::Bad));
    }

    #[test]
    fn hidden_names_when_allowed() {
        assert_eq!(
            relative_path("/.git/config", true).unwrap(),
            PathBuf::from(".git/config")
        );
        assert_eq!(relative_path("/.././x", true), Err(Refusal::Bad));
        assert_eq!(relative_path("/", false).unwrap(), PathBuf::new());
    }

    #[test]
    fn directory_redirects() {
        assert_eq!(directory_location(Path::new(""), None), "/");
        assert_eq!(
            directory_location(Path::new("a b/c"), Some("x=1")),
            "/a%20b/c/?x=1"
        );
        // `//evil.example` cleans to `evil.example`: the redirect stays on this site.
        let rel = relative_path("//evil.example", false).unwrap();
        assert_eq!(directory_location(&rel, None), "/evil.example/");
    }

    #[test]
    fn open_stays_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("out")).unwrap();
        let s = StaticFiles::new(dir.path(), false, false).unwrap();
        assert!(s.open(Path::new("f")).is_ok());
        assert!(s.open(Path::new("")).unwrap().metadata().unwrap().is_dir());
        assert_eq!(s.open(Path::new("missing")).unwrap_err(), Refusal::NotFound);
        assert_eq!(s.open(Path::new("out")).unwrap_err(), Refusal::Forbidden);
    }
}
