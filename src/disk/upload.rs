//! An upload in progress: a known number of bytes going to an
//! [`AtomicFile`], written by the session or spliced in by the driver, and
//! renamed into place only once every byte arrived.
//!
//! Shared by the file server (`P`) and the HTTP server (`PUT`, form posts):
//! a cut connection drops the [`Upload`] and so its temporary file; a write
//! error (disk full) removes the temporary at once and the rest of the body
//! is counted and discarded, so the connection stays in step and the error is
//! reported when the body is over.

use std::io;
use std::path::Path;

use super::atomic::{AtomicFile, UPLOAD_PREFIX};
use crate::server::InputSink;

/// An upload of `size` bytes (see the module documentation).
#[derive(Debug)]
pub struct Upload {
    /// The temporary file; `None` once writing failed (it was removed then).
    file: Option<AtomicFile>,
    /// Bytes announced.
    size: u64,
    /// Bytes received so far (written or, after a failure, discarded).
    received: u64,
    /// The first failure; the remaining bytes are discarded and this is reported at the end.
    failed: Option<io::Error>,
    /// fsync before the rename.
    sync: bool,
}

impl Upload {
    /// Starts an upload of `size` bytes to `dest` (a temporary file in its
    /// directory). `overwrite` lets the final rename replace a file; `sync`
    /// fsyncs before it (and starts writeback while data arrives).
    pub fn begin(dest: &Path, size: u64, overwrite: bool, sync: bool) -> io::Result<Upload> {
        let mut file = AtomicFile::create(dest, UPLOAD_PREFIX, overwrite)?;
        if sync {
            file = file.write_behind();
        }
        Ok(Upload {
            file: Some(file),
            size,
            received: 0,
            failed: None,
            sync,
        })
    }

    /// Bytes still to come.
    pub fn remaining(&self) -> u64 {
        self.size - self.received
    }

    /// Where the file will appear once finished.
    pub fn dest(&self) -> Option<&Path> {
        self.file.as_ref().map(AtomicFile::dest)
    }

    /// Stores the next bytes (at most [`Upload::remaining`] are taken; the count is returned).
    /// After a write error the rest of the upload is read and discarded so the
    /// connection stays in step, and the temporary file is removed at once.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let take = (self.remaining().min(data.len() as u64)) as usize;
        if let Some(file) = &mut self.file
            && let Err(e) = file.write_all(&data[..take])
        {
            self.file = None; // drops the temporary file
            self.failed = Some(e);
        }
        self.received += take as u64;
        take
    }

    /// Where the driver may splice the rest of the upload (while writing works).
    pub fn sink(&self) -> Option<InputSink<'_>> {
        use std::os::fd::AsFd;
        let file = self.file.as_ref()?;
        (self.remaining() > 0).then(|| InputSink {
            fd: file.file().as_fd(),
            len: self.remaining(),
        })
    }

    /// Records `n` bytes the driver spliced into the file; with `error`, the
    /// file refused them: the upload fails and the rest is discarded.
    pub fn sunk(&mut self, n: u64, error: Option<io::Error>) {
        let n = n.min(self.remaining());
        self.received += n;
        match error {
            Some(e) => {
                self.file = None; // drops the temporary file
                self.failed.get_or_insert(e);
            }
            None => {
                if let Some(file) = &mut self.file {
                    file.wrote(n);
                }
            }
        }
    }

    /// Ends the upload at the bytes received so far (a body whose length
    /// was known only at its end: chunked, or a form part).
    pub fn end_here(&mut self) {
        self.size = self.received;
    }

    /// True once a write failed (the temporary file is gone already).
    pub fn failed(&self) -> bool {
        self.failed.is_some()
    }

    /// Completes the upload once every byte arrived: fsync (unless told not
    /// to) and rename into place. Returns the size stored; an existing file
    /// under the name (without overwrite) is [`io::ErrorKind::AlreadyExists`].
    pub fn finish(mut self) -> io::Result<u64> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if self.remaining() > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "upload incomplete",
            ));
        }
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("upload already finished"))?;
        file.commit(self.sync)?;
        Ok(self.size)
    }
}

/// Bytes available to this user on the file system holding `dir`, if known.
pub fn free_space(dir: &Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    Some((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

/// True for the errors that mean the disk (or the quota) is full.
pub fn is_no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        || e.kind() == io::ErrorKind::StorageFull
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_uploads_appear_and_failed_ones_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        let mut up = Upload::begin(&dest, 5, false, false).unwrap();
        assert_eq!(up.write(b"hel"), 3);
        assert!(!dest.exists());
        assert_eq!(up.write(b"lo and more"), 2);
        assert_eq!(up.finish().unwrap(), 5);
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");

        let mut up = Upload::begin(&dir.path().join("g"), 4, false, false).unwrap();
        up.sunk(2, Some(io::Error::from_raw_os_error(libc::ENOSPC)));
        assert!(up.failed() && up.sink().is_none());
        assert_eq!(up.write(b"xx"), 2);
        assert!(is_no_space(&up.finish().unwrap_err()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
