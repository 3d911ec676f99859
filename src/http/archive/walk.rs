//! The tree under a folder, one entry at a time, as downloads see it.
//!
//! Entries come depth first, each folder's names in byte order, with the
//! policy of `GET`: hidden names are left out unless `--hidden`, every file
//! is opened through the static root's jail (so a symbolic link that leads
//! out of the root, or to a hidden name, is left out), links to folders are
//! not followed (no loops), and FIFOs, sockets and devices are skipped.
//! Memory is the names of the folders on the current path, never a file's
//! content.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use crate::http::static_files::StaticFiles;
use crate::http::static_files::path::Refusal;

/// One entry of the walk.
pub(super) enum Item {
    /// A folder: its path in the archive ends with `/`.
    Folder { path: Vec<u8>, mtime: u64 },
    /// A regular file, open.
    File {
        path: Vec<u8>,
        file: Arc<File>,
        size: u64,
        mtime: u64,
        mode: u32,
    },
    /// A file that was listed but could not be opened any more (deleted
    /// meanwhile): the archive cannot be completed.
    Vanished {
        path: Vec<u8>,
        size: u64,
        mtime: u64,
    },
    /// The walk is over.
    End,
}

/// A folder being walked.
struct Frame {
    /// Its path under the root.
    rel: PathBuf,
    /// Its path in the archive (ends with `/`).
    arch: Vec<u8>,
    /// Its entries (name, is a link, size, mtime) in byte order, with the next one to take.
    names: Vec<(Vec<u8>, bool, u64, u64)>,
    next: usize,
}

/// A depth-first walk of a folder under the root.
pub(super) struct Walk {
    files: Arc<StaticFiles>,
    stack: Vec<Frame>,
    /// The top folder, not yet reported.
    top: Option<(PathBuf, Vec<u8>)>,
}

impl Walk {
    /// Walks `rel` (a folder under the root), naming it `top` in the archive.
    pub(super) fn new(files: Arc<StaticFiles>, rel: PathBuf, top: Vec<u8>) -> Walk {
        Walk {
            files,
            stack: Vec::new(),
            top: Some((rel, top)),
        }
    }

    /// The next entry.
    pub(super) fn next_item(&mut self) -> Item {
        if let Some((rel, mut arch)) = self.top.take() {
            arch.push(b'/');
            if let Some(item) = self.enter(rel, arch) {
                return item;
            }
        }
        loop {
            let Some(frame) = self.stack.last_mut() else {
                return Item::End;
            };
            let Some((name, link, size, mtime)) = frame.names.get(frame.next).cloned() else {
                self.stack.pop();
                continue;
            };
            frame.next += 1;
            let rel = frame.rel.join(OsStr::from_bytes(&name));
            let mut arch = frame.arch.clone();
            arch.extend_from_slice(&name);
            let file = match self.files.open(&rel) {
                Ok(f) => f,
                Err(Refusal::NotFound) if !link => {
                    return Item::Vanished {
                        path: arch,
                        size,
                        mtime,
                    };
                }
                // Refused by the policy (a link out, to a hidden name): not in the archive.
                Err(_) => continue,
            };
            let Ok(meta) = file.metadata() else { continue };
            if meta.is_dir() {
                if link {
                    continue; // links to folders are not followed
                }
                arch.push(b'/');
                if let Some(item) = self.enter_open(rel, arch, &file, &meta) {
                    return item;
                }
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            return Item::File {
                path: arch,
                size: meta.len(),
                mtime: meta.mtime().max(0) as u64,
                mode: meta.permissions().mode() & 0o7777,
                file: Arc::new(file),
            };
        }
    }

    /// Opens folder `rel` and starts walking it.
    fn enter(&mut self, rel: PathBuf, arch: Vec<u8>) -> Option<Item> {
        let file = self.files.open(&rel).ok()?;
        let meta = file.metadata().ok()?;
        self.enter_open(rel, arch, &file, &meta)
    }

    fn enter_open(
        &mut self,
        rel: PathBuf,
        arch: Vec<u8>,
        dir: &File,
        meta: &std::fs::Metadata,
    ) -> Option<Item> {
        let entries = std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd())).ok()?;
        let mut names: Vec<(Vec<u8>, bool, u64, u64)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().as_bytes().to_vec();
                if name.first() == Some(&b'.') && !self.files.hidden {
                    return None;
                }
                let m = e.metadata().ok()?; // lstat
                let t = m.file_type();
                if !(t.is_file() || t.is_dir() || t.is_symlink()) {
                    return None;
                }
                Some((name, t.is_symlink(), m.len(), m.mtime().max(0) as u64))
            })
            .collect();
        names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        self.stack.push(Frame {
            rel,
            arch: arch.clone(),
            names,
            next: 0,
        });
        Some(Item::Folder {
            path: arch,
            mtime: meta.mtime().max(0) as u64,
        })
    }
}
