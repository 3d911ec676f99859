//! Files themselves: SIZE and MDTM on the control connection, RETR
//! (downloads with sendfile, or through TLS, from a REST offset). Uploads are in `upload`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

use super::Control;
use crate::ftp::channel::Channel;
use crate::ftp::data::{self, Interrupt, Watch};
use crate::human;
use crate::server::transfer_log::{self, Outcome, Transfer};

impl Control<'_> {
    /// The real path of an existing regular file named by `arg`, or a 550 reply.
    pub(super) fn regular_file(
        &mut self,
        arg: &[u8],
    ) -> io::Result<Option<(PathBuf, std::fs::Metadata)>> {
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
        let opening = format!(
            "Opening BINARY mode data connection ({} bytes)",
            size - rest
        );
        let Some(mut stream) = self.start_transfer(&opening)? else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let mut watch = self.transfer_watch(false);
        let result = send_whole(&mut stream, &file, rest, size - rest, &mut watch);
        let moved = watch.bytes();
        drop(watch);
        let outcome = match &result {
            Ok(()) => Outcome::Complete,
            Err(e) => Outcome::Failed(failure(e)),
        };
        self.log_transfer("RETR", arg, moved, started, outcome);
        self.finish_data(stream, result)
    }

    /// One line in the transfer log for `op` on the file `arg` names.
    pub(super) fn log_transfer(
        &self,
        op: &str,
        arg: &[u8],
        bytes: u64,
        started: std::time::Instant,
        outcome: Outcome,
    ) {
        let path = self.cwd.resolve(arg).to_bytes();
        let user = if self.logged_in {
            self.user.as_deref()
        } else {
            None
        };
        transfer_log::log(&Transfer {
            peer: &self.peer_ip.to_string(),
            user,
            op,
            path: &String::from_utf8_lossy(&path),
            bytes,
            started,
            outcome,
        });
    }
}

/// Why a transfer stopped, for the log.
pub(super) fn failure(e: &io::Error) -> String {
    match data::interrupt_of(e) {
        Some(Interrupt::Abort) => "aborted by the client (ABOR)".to_string(),
        Some(Interrupt::ControlClosed) => "the client closed the control connection".to_string(),
        None if e.kind() == io::ErrorKind::TimedOut => "the data connection stalled".to_string(),
        None => e.to_string(),
    }
}

/// Sends exactly `len` bytes of `file` from `offset`; a file that shrank is an error.
fn send_whole(
    stream: &mut Channel,
    file: &File,
    offset: u64,
    len: u64,
    watch: &mut Watch<'_>,
) -> io::Result<()> {
    let sent = data::send_file(stream, file, offset, len, watch)?;
    if sent < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank during transfer",
        ));
    }
    Ok(())
}
