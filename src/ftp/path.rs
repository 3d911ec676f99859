//! The root jail: client paths are virtual, absolute and normalized, and only
//! ever resolve to something inside ROOT.
//!
//! A [`VirtualPath`] is what the client sees (`/pub/a.txt`): `.` and empty
//! components are dropped and `..` stops at `/`, so no spelling climbs out.
//! [`Jail`] maps it onto the real directory and, because a symlink inside ROOT
//! could still point outside, resolves the result with `canonicalize` and
//! refuses anything that does not stay under the canonical ROOT. Hidden
//! components (starting with `.`, such as upload temporaries) are treated as
//! absent. Paths are bytes throughout, so non-UTF-8 names work.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// A normalized absolute path as the client sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VirtualPath {
    /// The components below `/`, none of them empty, `.` or `..`.
    parts: Vec<OsString>,
}

impl VirtualPath {
    /// `/`.
    pub fn root() -> VirtualPath {
        VirtualPath::default()
    }

    /// Where `arg` leads from `self` (absolute if it starts with `/`).
    pub fn resolve(&self, arg: &[u8]) -> VirtualPath {
        let mut parts = if arg.starts_with(b"/") {
            Vec::new()
        } else {
            self.parts.clone()
        };
        for part in arg.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                p => parts.push(OsString::from_vec(p.to_vec())),
            }
        }
        VirtualPath { parts }
    }

    /// The directory containing this path (`/` for `/`).
    pub fn parent(&self) -> VirtualPath {
        let mut parts = self.parts.clone();
        parts.pop();
        VirtualPath { parts }
    }

    /// The last component, unless this is `/`.
    pub fn file_name(&self) -> Option<&OsStr> {
        self.parts.last().map(OsString::as_os_str)
    }

    /// True if any component is hidden (starts with `.`).
    pub fn is_hidden(&self) -> bool {
        self.parts.iter().any(|p| p.as_bytes().starts_with(b"."))
    }

    /// The path as the client sees it: `/` or `/a/b`.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.parts.is_empty() {
            return b"/".to_vec();
        }
        let mut out = Vec::new();
        for p in &self.parts {
            out.push(b'/');
            out.extend_from_slice(p.as_bytes());
        }
        out
    }
}

/// The directory an FTP server is confined to.
#[derive(Debug, Clone)]
pub struct Jail {
    /// The canonical root directory.
    root: PathBuf,
}

impl Jail {
    /// Confines clients to `root`, which must be a directory.
    pub fn new(root: &Path) -> io::Result<Jail> {
        let root = crate::disk::shared_root(root)?;
        Ok(Jail { root })
    }

    /// The canonical root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The real path of an existing `path`, after following symlinks; fails with
    /// `NotFound` if it does not exist or is hidden, `PermissionDenied` if it leaves the root.
    pub fn existing(&self, path: &VirtualPath) -> io::Result<PathBuf> {
        if path.is_hidden() {
            return Err(io::ErrorKind::NotFound.into());
        }
        let mut real = self.root.clone();
        real.extend(&path.parts);
        let canon = real.canonicalize()?;
        self.inside(canon)
    }

    /// The real path where a new file `path` may be created: its directory must
    /// exist inside the root and its name must pass the shared name rules
    /// (refusals carry a [`crate::disk::name::NameError`]).
    pub fn creatable(&self, path: &VirtualPath) -> io::Result<PathBuf> {
        let Some(name) = path.file_name() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a file name",
            ));
        };
        if path.is_hidden() {
            let e = crate::disk::name::NameError::Hidden;
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, e));
        }
        // The shared rules (no control, invisible or text-direction
        // characters, no edge spaces, 255 bytes); a name that is not UTF-8 is
        // checked with its stray bytes as U+FFFD.
        crate::disk::name::check(&name.to_string_lossy())
            .map_err(|e| io::Error::new(io::ErrorKind::PermissionDenied, e))?;
        let dir = self.existing(&path.parent())?;
        if !dir.is_dir() {
            return Err(io::ErrorKind::NotFound.into());
        }
        Ok(dir.join(name))
    }

    /// The real path of the existing entry `path` itself (a symlink is not
    /// followed, so DELE or RNFR act on the link): its directory must be inside
    /// the root, its name visible, and a symlink must lead inside the root.
    /// The root itself is no entry (`InvalidInput`).
    pub fn entry(&self, path: &VirtualPath) -> io::Result<PathBuf> {
        let Some(name) = path.file_name() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the root directory",
            ));
        };
        if path.is_hidden() {
            return Err(io::ErrorKind::NotFound.into());
        }
        let dir = self.existing(&path.parent())?;
        let real = dir.join(name);
        let meta = real.symlink_metadata()?;
        if meta.file_type().is_symlink() && !self.contains(&real) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "symlink leads outside the root",
            ));
        }
        Ok(real)
    }

    /// Keeps `canon` only if it is the root or below it, and not hidden
    /// there (a symlink to `.env` is as absent as `.env`).
    fn inside(&self, canon: PathBuf) -> io::Result<PathBuf> {
        let Ok(below) = canon.strip_prefix(&self.root) else {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "path leads outside the root",
            ));
        };
        if below
            .components()
            .any(|c| c.as_os_str().as_bytes().starts_with(b"."))
        {
            return Err(io::ErrorKind::NotFound.into());
        }
        Ok(canon)
    }

    /// True if an entry found while listing (possibly a symlink) stays inside
    /// the root and leads to nothing hidden.
    pub fn contains(&self, real: &Path) -> bool {
        real.canonicalize().is_ok_and(|c| self.inside(c).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> VirtualPath {
        VirtualPath::root().resolve(s.as_bytes())
    }

    #[test]
    fn normalizes_and_never_climbs_above_root() {
        assert_eq!(v("/").to_bytes(), b"/");
        assert_eq!(v("a/./b//c/").to_bytes(), b"/a/b/c");
        assert_eq!(v("../../etc/passwd").to_bytes(), b"/etc/passwd");
        assert_eq!(v("/a/b/../../..").to_bytes(), b"/");
        assert_eq!(v("/a/b").resolve(b"../c").to_bytes(), b"/a/c");
        assert_eq!(v("/a/b").resolve(b"/x").to_bytes(), b"/x");
        assert_eq!(v("/a/b").parent().to_bytes(), b"/a");
        assert!(v("/a/.secret/b").is_hidden());
        assert_eq!(v("/caf\u{e9}").file_name().unwrap(), "caf\u{e9}");
        let raw = VirtualPath::root().resolve(b"/x\xff");
        assert_eq!(raw.to_bytes(), b"/x\xff");
    }

    #[test]
    fn jail_refuses_symlinks_out_and_hidden_names() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        std::fs::create_dir(dir.path().join("pub")).unwrap();
        std::fs::write(dir.path().join("pub/a"), b"a").unwrap();
        std::fs::write(dir.path().join(".hidden"), b"h").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink("pub/a", dir.path().join("inside-link")).unwrap();
        std::os::unix::fs::symlink(".hidden", dir.path().join("to-hidden")).unwrap();
        let jail = Jail::new(dir.path()).unwrap();

        assert!(jail.existing(&v("/pub/a")).is_ok());
        assert!(jail.existing(&v("/inside-link")).is_ok());
        assert_eq!(
            jail.existing(&v("/out/secret")).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        assert_eq!(
            jail.existing(&v("/.hidden")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(jail.existing(&v("/../..")).unwrap(), jail.root());
        assert!(jail.creatable(&v("/pub/new")).is_ok());
        assert!(jail.creatable(&v("/out/new")).is_err());
        assert!(jail.creatable(&v("/nodir/new")).is_err());
        assert!(jail.creatable(&v("/.new")).is_err());
        assert!(jail.creatable(&v("/")).is_err());
        assert!(jail.creatable(&v("/pub/bad\u{202e}gpj.exe")).is_err());
        assert!(jail.creatable(&v("/pub/tab\there")).is_err());
        assert!(jail.creatable(&v("/pub/ trailing ")).is_err());
        assert!(
            jail.creatable(&VirtualPath::root().resolve(b"/pub/raw\xff"))
                .is_ok()
        );
        // entry(): the link itself, never its target; nothing outside.
        assert_eq!(
            jail.entry(&v("/inside-link")).unwrap(),
            jail.root().join("inside-link")
        );
        assert_eq!(
            jail.entry(&v("/out")).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        assert!(jail.entry(&v("/out/secret")).is_err());
        assert!(jail.entry(&v("/.hidden")).is_err());
        assert!(jail.entry(&v("/nothere")).is_err());
        assert_eq!(
            jail.entry(&v("/../")).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(!jail.contains(&dir.path().join("out")));
        assert_eq!(
            jail.existing(&v("/to-hidden")).unwrap_err().kind(),
            io::ErrorKind::NotFound,
            "a symlink to a hidden file"
        );
        assert!(!jail.contains(&dir.path().join("to-hidden")));
        assert!(jail.contains(&dir.path().join("inside-link")));
    }
}
