//! Uploads: STOR (a new file, or a replacement with `--overwrite`), APPE
//! (appends), `REST n` + STOR (resumes) and STOU (a new file under a name
//! the server picks). All of
//! them are atomic: the bytes go into a hidden temporary file that is renamed
//! into place only when the upload is complete, so a cut connection, a full
//! disk or an ABOR leaves the tree as it was. APPE copies the existing file
//! into the temporary first (`copy_file_range`, no bytes through user space)
//! and replaces it when done.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use super::Control;
use crate::disk::atomic::{AtomicFile, UPLOAD_PREFIX};
use crate::ftp::data::{self, ReceiveError};
use crate::ftp::path::VirtualPath;
use crate::server::transfer_log::Outcome;

/// How many `NAME.N` candidates STOU tries before it gives up.
const UNIQUE_TRIES: u32 = 1000;

impl Control<'_> {
    /// STOR: receives a file over the data connection (after `REST n`: a
    /// resumed upload, see [`Control::resume`]).
    pub(super) fn stor(&mut self, arg: &[u8], rest: u64) -> io::Result<()> {
        let target = self.cwd.resolve(arg);
        let Some(dest) = self.upload_dest(&target)? else {
            return Ok(());
        };
        if rest > 0 {
            return self.resume(arg, &dest, rest);
        }
        let overwrite = self.access.overwrite;
        if let Ok(meta) = dest.symlink_metadata() {
            if !meta.is_file() {
                return self.reply(553, "Cannot replace that (not a regular file)");
            }
            if !overwrite {
                return self.reply(553, "File exists (the server does not overwrite files)");
            }
        }
        let Some(file) = self.temporary(&dest, overwrite)? else {
            return Ok(());
        };
        let log = ("STOR", arg);
        self.receive_upload(file, log, "Ok to send data", "Transfer complete")
    }

    /// `REST n` + `STOR`: keeps the first `n` bytes of the existing file and
    /// writes the upload after them (lftp's `put -c`), atomically like APPE.
    /// Dropping bytes past `n` replaces data, so that needs `--overwrite`;
    /// `n` equal to the size (a pure append) does not.
    fn resume(&mut self, arg: &[u8], dest: &std::path::Path, rest: u64) -> io::Result<()> {
        let size = match dest.symlink_metadata() {
            Ok(meta) if meta.is_file() => meta.len(),
            Ok(_) => return self.reply(553, "Cannot resume that (not a regular file)"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return self.reply_fs_error(&e),
        };
        if rest > size {
            return self.reply(554, "Restart offset is past the end of the file");
        }
        if rest < size && !self.access.overwrite {
            return self.reply(
                553,
                "Resuming there would replace bytes (the server does not overwrite files)",
            );
        }
        let Some(mut file) = self.temporary(dest, true)? else {
            return Ok(());
        };
        if let Err(e) = copy_into(dest, rest, &mut file) {
            drop(file);
            return self.reply_storage(&e);
        }
        let opening = format!("Ok to send data (resuming at {rest})");
        self.receive_upload(file, ("STOR", arg), &opening, "Transfer complete")
    }

    /// APPE: appends to a file (creating it if it does not exist).
    pub(super) fn appe(&mut self, arg: &[u8]) -> io::Result<()> {
        let target = self.cwd.resolve(arg);
        let Some(dest) = self.upload_dest(&target)? else {
            return Ok(());
        };
        let existing = match dest.symlink_metadata() {
            Ok(meta) if meta.is_file() => true,
            Ok(_) => return self.reply(553, "Cannot append to that (not a regular file)"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return self.reply_fs_error(&e),
        };
        let Some(mut file) = self.temporary(&dest, existing)? else {
            return Ok(());
        };
        if existing && let Err(e) = copy_into(&dest, u64::MAX, &mut file) {
            drop(file);
            return self.reply_storage(&e);
        }
        self.receive_upload(
            file,
            ("APPE", arg),
            "Ok to send data (appending)",
            "Transfer complete",
        )
    }

    /// STOU: stores under a new name: the argument (or `upload`) if free,
    /// otherwise the first free `NAME.N`; the 150 reply says which (RFC 1123).
    pub(super) fn stou(&mut self, arg: &[u8]) -> io::Result<()> {
        let stem = if arg.is_empty() { &b"upload"[..] } else { arg };
        let base = self.cwd.resolve(stem);
        let Some(first) = self.upload_dest(&base)? else {
            return Ok(());
        };
        let Some(name) = first.file_name().map(|n| n.to_os_string()) else {
            return self.reply(553, "Not a valid file name");
        };
        let dir = first.parent().map(PathBuf::from).unwrap_or_default();
        let free = (0..UNIQUE_TRIES)
            .map(|n| unique_name(&name, n))
            .find(|n| dir.join(n).symlink_metadata().is_err());
        let Some(unique) = free else {
            return self.reply(553, "No unique file name is free");
        };
        let Some(file) = self.temporary(&dir.join(&unique), false)? else {
            return Ok(());
        };
        let shown =
            String::from_utf8_lossy(std::os::unix::ffi::OsStrExt::as_bytes(unique.as_os_str()))
                .into_owned();
        // The name it is stored under, as the client would name it.
        let prefix = stem.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
        let mut stored = stem[..prefix].to_vec();
        stored.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(unique.as_os_str()));
        self.receive_upload(
            file,
            ("STOU", &stored),
            &format!("FILE: {shown}"),
            &format!("Transfer complete (stored as {shown})"),
        )
    }

    /// Where an upload to `target` goes, or a 553/550 reply.
    pub(super) fn upload_dest(&mut self, target: &VirtualPath) -> io::Result<Option<PathBuf>> {
        match self.jail.creatable(target) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                self.reply(553, "Not a valid file name")?;
                Ok(None)
            }
            Err(e) if name_refusal(&e).is_some() => {
                let why = name_refusal(&e).map(|n| n.to_string()).unwrap_or_default();
                self.reply(553, &format!("File name not allowed: {why}"))?;
                Ok(None)
            }
            Err(e) => {
                self.reply_fs_error(&e)?;
                Ok(None)
            }
        }
    }

    /// The temporary file of an upload to `dest`, or a 451 reply.
    fn temporary(
        &mut self,
        dest: &std::path::Path,
        replace: bool,
    ) -> io::Result<Option<AtomicFile>> {
        match AtomicFile::create(dest, UPLOAD_PREFIX, replace) {
            Ok(f) if self.opts.sync => Ok(Some(f.write_behind())),
            Ok(f) => Ok(Some(f)),
            Err(e) => {
                self.reply(451, &format!("Cannot create the file: {e}"))?;
                Ok(None)
            }
        }
    }

    /// Receives the data connection into `file` and commits it; replies
    /// `opening` (150) before and `done` (226) after.
    fn receive_upload(
        &mut self,
        mut file: AtomicFile,
        (op, arg): (&str, &[u8]),
        opening: &str,
        done: &str,
    ) -> io::Result<()> {
        let Some(mut stream) = self.start_transfer(opening)? else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let mut watch = self.transfer_watch(true);
        let received = data::receive(&mut stream, &mut file, &mut watch);
        let moved = watch.bytes();
        drop(watch);
        let log = |this: &Self, outcome| this.log_transfer(op, arg, moved, started, outcome);
        if received.is_ok() {
            // A TLS client waits for our close_notify after its own.
            stream.close();
        }
        drop(stream);
        self.clock.progress();
        match received {
            // In stream mode EOF on the data connection means "complete", so a
            // client that died mid-upload looks the same there; its closed
            // control connection tells them apart.
            Ok(_) if self.control_closed() => {
                log(
                    self,
                    Outcome::Failed(
                        "the client closed the control connection; upload discarded".into(),
                    ),
                );
                Ok(())
            }
            Ok(_) => match file.commit(self.opts.sync) {
                Ok(()) => {
                    log(self, Outcome::Complete);
                    self.reply(226, done)
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    log(
                        self,
                        Outcome::Failed("the file was created meanwhile; not replaced".into()),
                    );
                    self.reply(553, "File exists (created meanwhile); not replaced")
                }
                Err(e) => {
                    log(self, Outcome::Failed(format!("storing it failed: {e}")));
                    self.reply_storage(&e)
                }
            },
            Err(ReceiveError::Disk(e)) => {
                drop(file); // removes the temporary file
                log(
                    self,
                    Outcome::Failed(format!("writing it failed: {e}; upload discarded")),
                );
                self.reply_storage(&e)
            }
            Err(ReceiveError::Net(e)) => {
                drop(file);
                log(
                    self,
                    Outcome::Failed(format!(
                        "{}; upload discarded",
                        super::transfer::failure(&e)
                    )),
                );
                if data::interrupt_of(&e).is_some() {
                    self.reply_transfer_end(Err(e))
                } else {
                    self.reply(426, "Data connection failed; upload discarded")
                }
            }
        }
    }

    /// True if the client has closed (or reset) the control connection.
    fn control_closed(&mut self) -> bool {
        self.stream.peer_closed()
    }
}

/// The name rule an error from [`crate::ftp::path::Jail::creatable`] names, if any.
fn name_refusal(e: &io::Error) -> Option<crate::disk::name::NameError> {
    e.get_ref()?.downcast_ref().copied()
}

/// Copies the first `len` bytes (at most) of the regular file at `path`
/// into `file` (the starting point of an APPE or a resumed STOR).
fn copy_into(path: &std::path::Path, len: u64, file: &mut AtomicFile) -> io::Result<()> {
    // O_NONBLOCK: never hang opening a FIFO swapped in meanwhile.
    let mut src = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !src.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let mut to = file.file();
    let n = io::copy(&mut io::Read::take(&mut src, len), &mut to)?;
    file.wrote(n);
    Ok(())
}

/// The `n`th candidate name of STOU: `name` itself, then `name.1`, `name.2`...
fn unique_name(name: &std::ffi::OsStr, n: u32) -> std::ffi::OsString {
    let mut out = name.to_os_string();
    if n > 0 {
        out.push(format!(".{n}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_count_up() {
        let n = std::ffi::OsStr::new("a.txt");
        assert_eq!(unique_name(n, 0), "a.txt");
        assert_eq!(unique_name(n, 2), "a.txt.2");
    }
}
