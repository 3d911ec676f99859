//! Atomic file creation: write under a hidden temporary name in the target's
//! directory, then (optionally fsync and) rename into place, refusing to
//! replace an existing file unless asked.
//!
//! Nothing ever appears under the final name until the whole file is there:
//! an [`AtomicFile`] that is dropped before [`AtomicFile::commit`] (connection
//! lost, disk full, process stopping) deletes its temporary file. Used by the
//! files server (uploads), its client (downloads) and the FTP server (STOR).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of the temporary names servers give uploads (hidden, so never listed or served).
pub const UPLOAD_PREFIX: &str = ".netkit-upload-";

/// Prefix of the temporary names the client gives downloads.
pub const DOWNLOAD_PREFIX: &str = ".netkit-download-";

/// A file being written under a temporary name until it is complete.
#[derive(Debug)]
pub struct AtomicFile {
    /// The open temporary file.
    file: File,
    /// Path of the temporary file (next to `dest`, so the rename stays on one file system).
    tmp: PathBuf,
    /// The final name.
    dest: PathBuf,
    /// Whether an existing file at `dest` may be replaced.
    overwrite: bool,
    /// Set once renamed into place, so dropping leaves the file alone.
    committed: bool,
    /// Start writing to disk while data still arrives (see [`AtomicFile::write_behind`]).
    write_behind: bool,
    /// Bytes written so far.
    written: u64,
    /// Bytes whose writeback has been started.
    flushed: u64,
}

/// Bytes a write-behind file lets pile up before it starts their writeback.
const WRITE_BEHIND_WINDOW: u64 = 8 << 20;

impl AtomicFile {
    /// Creates a temporary file (named `prefix` + pid + counter) in `dest`'s
    /// directory. Now and then (at most once a minute per process) it first
    /// removes temporaries there whose process has died (a forked server
    /// child killed mid-upload, say): see [`remove_stale`].
    pub fn create(dest: &Path, prefix: &str, overwrite: bool) -> io::Result<AtomicFile> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = parent_dir(dest);
        sweep_now_and_then(&dir, prefix);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!("{prefix}{}-{n}-{nanos:x}", std::process::id()));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&tmp)
            {
                Ok(file) => {
                    return Ok(AtomicFile {
                        file,
                        tmp,
                        dest: dest.to_path_buf(),
                        overwrite,
                        committed: false,
                        write_behind: false,
                        written: 0,
                        flushed: 0,
                    });
                }
                // A leftover with the same name (pid reuse): try the next counter.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The open temporary file (for writes, or as a descriptor to splice into).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Where the file will appear once committed.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Makes the file start its own writeback every 8 MiB, for files that
    /// will be committed durably: the disk then works while data still
    /// arrives, and the final fsync only waits for the last window, instead of
    /// the whole file going to disk after the transfer (the kernel by itself
    /// starts only when a tenth of memory is dirty, or after 30 s).
    pub fn write_behind(mut self) -> Self {
        self.write_behind = true;
        self
    }

    /// Appends `data` to the temporary file.
    pub fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.wrote(data.len() as u64);
        Ok(())
    }

    /// Records `n` bytes appended through [`AtomicFile::file`] (by `splice`, say)
    /// and starts writeback when a window is full.
    pub fn wrote(&mut self, n: u64) {
        self.written += n;
        let pending = self.written - self.flushed;
        if self.write_behind && pending >= WRITE_BEHIND_WINDOW {
            // Failure is harmless: the final fsync writes whatever is left.
            use std::os::fd::AsFd;
            let _ = crate::sys::file::write_behind(self.file.as_fd(), self.flushed, pending);
            self.flushed = self.written;
        }
    }

    /// Moves the finished file into place: fsyncs it first when `durable`, then
    /// renames it (never replacing an existing file unless `overwrite` was
    /// given: that case fails with [`io::ErrorKind::AlreadyExists`]), then
    /// fsyncs the directory when `durable`. On error the temporary file is removed.
    pub fn commit(mut self, durable: bool) -> io::Result<()> {
        if durable {
            self.file.sync_all()?;
        }
        if self.overwrite {
            std::fs::rename(&self.tmp, &self.dest)?;
        } else {
            rename_noreplace(&self.tmp, &self.dest)?;
        }
        self.committed = true;
        if durable && let Ok(dir) = File::open(parent_dir(&self.dest)) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Renames `from` to `to` unless `to` exists, atomically: `renameat2(RENAME_NOREPLACE)`,
/// or link + unlink on file systems without it.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
    let err = match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => return Ok(()),
        Err(errno) => io::Error::from(errno),
    };
    match err.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => {
            // link(2) fails with EEXIST if `to` exists: the same guarantee.
            std::fs::hard_link(from, to)?;
            let _ = std::fs::remove_file(from);
            Ok(())
        }
        _ => Err(err),
    }
}

/// Removes temporary files named with `prefix` in `dir` whose process is gone
/// (left by a server that was killed); returns how many were removed.
pub fn remove_stale(dir: &Path, prefix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.as_bytes().strip_prefix(prefix.as_bytes()) else {
            continue;
        };
        let pid: Option<i32> = std::str::from_utf8(rest)
            .ok()
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse().ok());
        let Some(pid) = pid else { continue };
        if pid > 0 && !process_alive(pid) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// [`remove_stale`] on `dir`, unless this process swept within the last minute.
fn sweep_now_and_then(dir: &Path, prefix: &str) {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    if now >= last + 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        remove_stale(dir, prefix);
    }
}

fn process_alive(pid: i32) -> bool {
    // Signal "none" only checks that the process exists.
    let sent = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None);
    sent != Err(nix::errno::Errno::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn commit_moves_into_place_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.txt");
        let mut f = AtomicFile::create(&dest, UPLOAD_PREFIX, false).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!dest.exists());
        f.commit(true).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        assert_eq!(names(dir.path()), ["a.txt"]);

        let mut g = AtomicFile::create(&dir.path().join("b"), UPLOAD_PREFIX, false).unwrap();
        g.write_all(b"partial").unwrap();
        drop(g);
        assert_eq!(names(dir.path()), ["a.txt"]);
    }

    #[test]
    fn no_replace_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a");
        std::fs::write(&dest, b"old").unwrap();
        let f = AtomicFile::create(&dest, UPLOAD_PREFIX, false).unwrap();
        let err = f.commit(false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["a"]);
        let mut f = AtomicFile::create(&dest, UPLOAD_PREFIX, true).unwrap();
        f.write_all(b"new").unwrap();
        f.commit(false).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // pid 0x7ffffff0 does not exist; our own pid does.
        std::fs::write(dir.path().join(".netkit-upload-2147483632-0-1"), b"x").unwrap();
        let own = format!(".netkit-upload-{}-0-1", std::process::id());
        std::fs::write(dir.path().join(&own), b"x").unwrap();
        assert_eq!(remove_stale(dir.path(), UPLOAD_PREFIX), 1);
        assert_eq!(names(dir.path()), [own]);
    }
}
