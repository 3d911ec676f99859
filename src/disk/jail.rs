//! The directory a server shares (the file server's library, FTP's root):
//! checked once at start-up and kept as its canonical path.

use std::io;
use std::path::{Path, PathBuf};

/// The canonical path of a directory a server shares (the file server's
/// library, FTP's root): it must exist, be a directory, and be readable; the
/// error says which in one line.
pub fn shared_root(root: &Path) -> io::Result<PathBuf> {
    let canonical = root
        .canonicalize()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", root.display())))?;
    if !canonical.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a directory", canonical.display()),
        ));
    }
    std::fs::read_dir(&canonical).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot read {}: {e}", canonical.display()),
        )
    })?;
    Ok(canonical)
}
