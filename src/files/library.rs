//! The file library: the directory a files server shares, and its rules.
//!
//! It lists the regular, visible files of one directory (no subdirectories, no
//! symlinks), opens them for download and takes uploads through an
//! [`Upload`] (an atomic file): they land under a hidden temporary name and are fsynced and
//! renamed into place only once complete. It never replaces an existing file
//! unless the server was started with `--overwrite`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::disk::atomic::{self as store, UPLOAD_PREFIX};
use crate::disk::name::{self, NameError};
use crate::disk::shared_root;
pub use crate::disk::upload::Upload;
use crate::disk::upload::free_space;

/// What a library allows.
#[derive(Debug, Clone)]
pub struct Options {
    /// Accept uploads at all.
    pub writable: bool,
    /// Let an upload replace an existing file.
    pub overwrite: bool,
    /// Largest upload accepted, in bytes.
    pub max_file_size: u64,
    /// Confirm an upload only once it is on disk (fsync). Off, `OK` comes as
    /// soon as the bytes are in the page cache: faster, but a crash may lose
    /// files already confirmed (the choice vsftpd and pyftpdlib make).
    pub sync: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            writable: false,
            overwrite: false,
            max_file_size: 16 << 30,
            sync: true,
        }
    }
}

/// One file as the `L` command reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, unix seconds.
    pub mtime: i64,
}

/// Why a request on the library failed; the text is what the client sees after `ERR`.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The name is not a plain, visible file name.
    #[error(transparent)]
    Name(#[from] NameError),
    /// No file by that name.
    #[error("no such file")]
    NotFound,
    /// The name is a directory, symlink, device or similar.
    #[error("not a regular file")]
    NotRegular,
    /// The server does not take uploads.
    #[error("the server is read-only")]
    ReadOnly,
    /// The file exists and the server does not overwrite.
    #[error("file exists (the server does not overwrite files)")]
    Exists,
    /// The upload is larger than the server accepts.
    #[error("file of {size} bytes is over the server's limit of {max} bytes")]
    TooLarge {
        /// The announced size.
        size: u64,
        /// The server's limit.
        max: u64,
    },
    /// The disk (or quota) is full.
    #[error("not enough space on the server")]
    NoSpace,
    /// The server's own permissions forbid it.
    #[error("permission denied on the server")]
    Permission,
    /// Any other storage failure.
    #[error("server storage error: {0}")]
    Io(io::Error),
}

impl From<io::Error> for LibraryError {
    fn from(e: io::Error) -> Self {
        match (e.kind(), e.raw_os_error()) {
            (io::ErrorKind::NotFound, _) => LibraryError::NotFound,
            (io::ErrorKind::PermissionDenied, _) => LibraryError::Permission,
            (io::ErrorKind::AlreadyExists, _) => LibraryError::Exists,
            (_, Some(libc::ENOSPC)) | (_, Some(libc::EDQUOT)) => LibraryError::NoSpace,
            (_, Some(libc::ELOOP)) => LibraryError::NotRegular,
            _ => LibraryError::Io(e),
        }
    }
}

/// The shared directory.
#[derive(Debug)]
pub struct FileLibrary {
    /// The directory, canonicalized at start.
    root: PathBuf,
    /// What clients may do.
    options: Options,
}

impl FileLibrary {
    /// Opens the library at `root`, which must be a readable directory (see
    /// [`shared_root`](crate::disk::shared_root)). Removes
    /// temporary upload files left behind by servers that were killed.
    pub fn open(root: &Path, options: Options) -> io::Result<FileLibrary> {
        let root = shared_root(root)?;
        store::remove_stale(&root, UPLOAD_PREFIX);
        Ok(FileLibrary { root, options })
    }

    /// The shared directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What clients may do.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The regular, visible files with names clients can use, sorted by name.
    pub fn list(&self) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&self.root)?.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not UTF-8: cannot be named in the protocol
            };
            if name::check(&name).is_err() {
                continue;
            }
            // symlink_metadata: symlinks are not regular files, so they are never listed.
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.file_type().is_file() {
                entries.push(Entry {
                    name,
                    size: meta.len(),
                    mtime: meta.mtime(),
                });
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Opens `name` for reading: returns the file and its size.
    pub fn open_file(&self, name: &str) -> Result<(File, u64), LibraryError> {
        name::check(name)?;
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(self.root.join(name))?;
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            return Err(LibraryError::NotRegular);
        }
        Ok((file, meta.len()))
    }

    /// Starts storing an upload of `size` bytes as `name`.
    pub fn begin_upload(&self, name: &str, size: u64) -> Result<Upload, LibraryError> {
        if !self.options.writable {
            return Err(LibraryError::ReadOnly);
        }
        name::check(name)?;
        if size > self.options.max_file_size {
            return Err(LibraryError::TooLarge {
                size,
                max: self.options.max_file_size,
            });
        }
        let dest = self.root.join(name);
        if let Ok(meta) = dest.symlink_metadata() {
            if !meta.file_type().is_file() {
                return Err(LibraryError::NotRegular);
            }
            if !self.options.overwrite {
                return Err(LibraryError::Exists);
            }
        }
        if let Some(free) = free_space(&self.root)
            && size > free
        {
            return Err(LibraryError::NoSpace);
        }
        Ok(Upload::begin(
            &dest,
            size,
            self.options.overwrite,
            self.options.sync,
        )?)
    }
}
