//! Files themselves: SIZE and MDTM on the control connection, RETR
//! (downloads with sendfile, from a REST offset) and STOR (atomic uploads
//! into a temporary file, committed only when the upload is complete).

use std::fs::{File, OpenOptions};
use std::io;
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

use super::Control;
use crate::disk::atomic::{AtomicFile, UPLOAD_PREFIX};
use crate::ftp::data::{self, Clock, ReceiveError};
use crate::human;
use crate::sys;

impl Control<'_> {
    /// The real path of an existing regular file named by `arg`, or a 550 reply.
    fn regular_file(&mut self, arg: &[u8]) -> io::Result<Option<(PathBuf, std::fs::Metadata)>> {
        let target = self.cwd.resolve(arg);
        let found = self
            .jail
            .existing(&target)
            .and_then(|r| r.metadata().map(|m| (r, m)));
        match found {
            Ok((r, m)) if m.is_file() => Ok(Some((r, m))),
            Ok(_) => {
                self.reply(550, "Not a regular file")?;
                Ok(None)
            }
            Err(e) => {
                self.reply_fs_error(&e)?;
                Ok(None)
            }
        }
    }

    /// SIZE: a regular file's size in bytes.
    pub(super) fn size(&mut self, arg: &[u8]) -> io::Result<()> {
        if let Some((_, meta)) = self.regular_file(arg)? {
            self.reply(213, &meta.len().to_string())?;
        }
        Ok(())
    }

    /// MDTM: a regular file's modification time (`YYYYMMDDHHMMSS`, UTC).
    pub(super) fn mdtm(&mut self, arg: &[u8]) -> io::Result<()> {
        if let Some((_, meta)) = self.regular_file(arg)? {
            self.reply(213, &human::ftp_timestamp(meta.mtime()))?;
        }
        Ok(())
    }

    /// RETR: sends a regular file from offset `rest` over the data connection.
    pub(super) fn retr(&mut self, arg: &[u8], rest: u64) -> io::Result<()> {
        let Some((real, _)) = self.regular_file(arg)? else {
            return Ok(());
        };
        // O_NONBLOCK: never hang opening a FIFO that was swapped in meanwhile.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&real)
            .and_then(|f| f.metadata().map(|m| (f, m)));
        let (file, meta) = match file {
            Ok((f, m)) if m.is_file() => (f, m),
            Ok(_) => return self.reply(550, "Not a regular file"),
            Err(e) => return self.reply_fs_error(&e),
        };
        let size = meta.len();
        if rest > size {
            return self.reply(554, "Restart offset is past the end of the file");
        }
        let Some(stream) = self.open_data()? else {
            return Ok(());
        };
        self.reply(
            150,
            &format!(
                "Opening BINARY mode data connection ({} bytes)",
                size - rest
            ),
        )?;
        let mut clock = self.clock.clone();
        let result = send_whole(&stream, &file, rest, size - rest, &mut clock);
        self.finish_data(stream, result)
    }

    /// STOR: receives a file over the data connection, if the server is writable.
    pub(super) fn stor(&mut self, arg: &[u8], rest: u64) -> io::Result<()> {
        if !self.opts.writable {
            return self.reply(550, "Permission denied (the server is read-only)");
        }
        if rest > 0 {
            return self.reply(554, "REST is supported for downloads only");
        }
        let target = self.cwd.resolve(arg);
        let dest = match self.jail.creatable(&target) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                return self.reply(553, "Not a valid file name");
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return self.reply(553, "File name not allowed");
            }
            Err(e) => return self.reply_fs_error(&e),
        };
        if let Ok(meta) = dest.symlink_metadata() {
            if !meta.is_file() {
                return self.reply(553, "Cannot replace that (not a regular file)");
            }
            if !self.opts.overwrite {
                return self.reply(553, "File exists (the server does not overwrite files)");
            }
        }
        let mut file = match AtomicFile::create(&dest, UPLOAD_PREFIX, self.opts.overwrite) {
            Ok(f) if self.opts.sync => f.write_behind(),
            Ok(f) => f,
            Err(e) => return self.reply(451, &format!("Cannot create the file: {e}")),
        };
        let Some(mut stream) = self.open_data()? else {
            return Ok(());
        };
        self.reply(150, "Ok to send data")?;
        let mut clock = self.clock.clone();
        let received = data::receive(&mut stream, &mut file, &mut clock);
        drop(stream);
        self.clock.progress();
        match received {
            // In stream mode EOF on the data connection means "complete", so a
            // client that died mid-upload looks the same there; its closed
            // control connection tells them apart.
            Ok(_) if self.control_closed() => {
                drop(file);
                Ok(())
            }
            Ok(_) => match file.commit(self.opts.sync) {
                Ok(()) => self.reply(226, "Transfer complete"),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.reply(553, "File exists (created meanwhile); not replaced")
                }
                Err(e) => self.reply_storage(&e),
            },
            Err(ReceiveError::Disk(e)) => {
                drop(file); // removes the temporary file
                self.reply_storage(&e)
            }
            Err(ReceiveError::Net(_)) => {
                drop(file);
                self.reply(426, "Data connection failed; upload discarded")
            }
        }
    }

    /// True if the client has closed (or reset) the control connection.
    fn control_closed(&self) -> bool {
        let mut byte = [0u8; 1];
        match sys::peek_now(std::os::fd::AsFd::as_fd(&self.stream), &mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            // A reset connection is closed too; "nothing to read yet" is not.
            Err(e) => !sys::would_block(&e),
        }
    }
}

/// Sends exactly `len` bytes of `file` from `offset`; a file that shrank is an error.
fn send_whole(
    stream: &TcpStream,
    file: &File,
    offset: u64,
    len: u64,
    clock: &mut Clock,
) -> io::Result<()> {
    let sent = data::send_file(stream, file, offset, len, clock)?;
    if sent < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank during transfer",
        ));
    }
    Ok(())
}
