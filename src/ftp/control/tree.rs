//! Changes to the tree besides uploads: DELE, RNFR/RNTO, MKD, RMD, SITE
//! CHMOD and MFMT (a file's modification time, so `lftp mirror -R` keeps
//! times). Each acts on the named entry itself (a symlink inside the root is
//! removed or renamed as a link, never followed), refuses the root, hidden
//! names and symlinks that lead outside, and is atomic: one `unlink`,
//! `rename` (`RENAME_NOREPLACE` unless `--overwrite`), `mkdir`, `rmdir` or
//! `chmod`. The read-only check comes first, in the command loop.

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use super::Control;
use crate::disk::atomic::rename_noreplace;
use crate::ftp::path::VirtualPath;

impl Control<'_> {
    /// The existing entry `arg` names (see [`crate::ftp::path::Jail::entry`]),
    /// or a 550 reply.
    fn entry_or_reply(
        &mut self,
        arg: &[u8],
    ) -> io::Result<Option<(VirtualPath, PathBuf, Metadata)>> {
        let target = self.cwd.resolve(arg);
        let found = self
            .jail
            .entry(&target)
            .and_then(|p| p.symlink_metadata().map(|m| (p, m)));
        match found {
            Ok((real, meta)) => Ok(Some((target, real, meta))),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                self.reply(550, "Not allowed on the root directory")?;
                Ok(None)
            }
            Err(e) => {
                self.reply_fs_error(&e)?;
                Ok(None)
            }
        }
    }

    /// DELE: removes a file (or a symlink, not its target).
    pub(super) fn dele(&mut self, arg: &[u8]) -> io::Result<()> {
        let Some((_, real, meta)) = self.entry_or_reply(arg)? else {
            return Ok(());
        };
        if meta.is_dir() {
            return self.reply(550, "Is a directory (use RMD)");
        }
        match std::fs::remove_file(&real) {
            Ok(()) => self.reply(250, "File deleted"),
            Err(e) => self.reply_fs_error(&e),
        }
    }

    /// RNFR: remembers what the next command, RNTO, renames.
    pub(super) fn rnfr(&mut self, arg: &[u8]) -> io::Result<()> {
        let Some((target, _, _)) = self.entry_or_reply(arg)? else {
            return Ok(());
        };
        self.rename_from = Some(target);
        self.reply(350, "Ready for RNTO")
    }

    /// RNTO: renames what RNFR named, never over an existing name unless
    /// `--overwrite` (and then only a file over a file).
    pub(super) fn rnto(&mut self, arg: &[u8], from: Option<VirtualPath>) -> io::Result<()> {
        let Some(from) = from else {
            return self.reply(503, "Send RNFR first");
        };
        let from_real = match self.jail.entry(&from) {
            Ok(p) => p,
            Err(e) => return self.reply_fs_error(&e),
        };
        let target = self.cwd.resolve(arg);
        let Some(dest) = self.upload_dest(&target)? else {
            return Ok(());
        };
        if dest == from_real {
            return self.reply(250, "Rename successful (same name)");
        }
        if dest.starts_with(&from_real) {
            return self.reply(550, "Cannot move a directory into itself");
        }
        let result = match dest.symlink_metadata() {
            Err(_) => rename_noreplace(&from_real, &dest),
            Ok(_) if !self.access.overwrite => Err(io::ErrorKind::AlreadyExists.into()),
            Ok(existing) => {
                let source_is_file = from_real.symlink_metadata().is_ok_and(|m| !m.is_dir());
                if existing.is_file() && source_is_file {
                    std::fs::rename(&from_real, &dest)
                } else {
                    Err(io::ErrorKind::AlreadyExists.into())
                }
            }
        };
        match result {
            Ok(()) => self.reply(250, "Rename successful"),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.reply(553, "Target exists (the server does not replace it)")
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                self.reply(550, "Cannot move a directory into itself")
            }
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                self.reply(550, "Cannot rename across file systems")
            }
            Err(e) => self.reply_fs_error(&e),
        }
    }

    /// MKD: creates a directory; 257 with its path.
    pub(super) fn mkd(&mut self, arg: &[u8]) -> io::Result<()> {
        let target = self.cwd.resolve(arg);
        let Some(real) = self.upload_dest(&target)? else {
            return Ok(());
        };
        match std::fs::create_dir(&real) {
            Ok(()) => {
                let mut text = super::navigation::quoted(&target.to_bytes());
                text.extend_from_slice(b" created");
                self.reply_bytes(257, &text)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.reply(550, "File exists"),
            Err(e) => self.reply_fs_error(&e),
        }
    }

    /// RMD: removes an empty directory (hidden entries count: they are not
    /// the client's to remove).
    pub(super) fn rmd(&mut self, arg: &[u8]) -> io::Result<()> {
        let Some((_, real, meta)) = self.entry_or_reply(arg)? else {
            return Ok(());
        };
        if !meta.is_dir() {
            return self.reply(550, "Not a directory");
        }
        match std::fs::remove_dir(&real) {
            Ok(()) => self.reply(250, "Directory removed"),
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {
                self.reply(550, "Directory not empty")
            }
            Err(e) => self.reply_fs_error(&e),
        }
    }

    /// SITE CHMOD MODE PATH: sets the permission bits (at most 0777) of a file
    /// or directory (not a symlink).
    pub(super) fn chmod(&mut self, args: &[u8]) -> io::Result<()> {
        if !self.access.writable {
            return self.reply(550, "Permission denied (the server is read-only)");
        }
        let Some((mode, path)) = parse_chmod(args) else {
            return self.reply(501, "Usage: SITE CHMOD <octal mode up to 777> <path>");
        };
        let Some((_, real, meta)) = self.entry_or_reply(path)? else {
            return Ok(());
        };
        if meta.file_type().is_symlink() {
            return self.reply(550, "Not on a symlink");
        }
        match std::fs::set_permissions(&real, std::fs::Permissions::from_mode(mode)) {
            Ok(()) => self.reply(200, "SITE CHMOD command successful"),
            Err(e) => self.reply_fs_error(&e),
        }
    }
}

impl Control<'_> {
    /// MFMT YYYYMMDDHHMMSS PATH: sets a regular file's modification time
    /// (draft-somers-ftp-mfxx); 213 with the time set.
    pub(super) fn mfmt(&mut self, args: &[u8]) -> io::Result<()> {
        let parsed = args.iter().position(|&b| b == b' ').and_then(|space| {
            let time = std::str::from_utf8(&args[..space]).ok()?;
            let unix = crate::human::parse_ftp_timestamp(time)?;
            Some((unix, &args[space + 1..]))
        });
        let Some((unix, path_bytes)) = parsed.filter(|(_, p)| !p.is_empty()) else {
            return self.reply(501, "Usage: MFMT YYYYMMDDHHMMSS <path>");
        };
        let Some((_, real, meta)) = self.entry_or_reply(path_bytes)? else {
            return Ok(());
        };
        if !meta.is_file() {
            return self.reply(550, "Not a regular file");
        }
        let when = std::time::UNIX_EPOCH
            .checked_add(std::time::Duration::from_secs(unix.max(0) as u64))
            .unwrap_or(std::time::UNIX_EPOCH);
        let set = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&real)
            .and_then(|f| f.set_modified(when));
        match set {
            Ok(()) => {
                let mut text =
                    format!("Modify={}; ", crate::human::ftp_timestamp(unix)).into_bytes();
                text.extend_from_slice(path_bytes);
                self.reply_bytes(213, &text)
            }
            Err(e) => self.reply_fs_error(&e),
        }
    }
}

/// `MODE PATH` of SITE CHMOD: an octal mode of at most 0777 (no setuid,
/// setgid or sticky bits) and a non-empty path.
fn parse_chmod(args: &[u8]) -> Option<(u32, &[u8])> {
    let space = args.iter().position(|&b| b == b' ')?;
    let (mode, path) = (&args[..space], &args[space + 1..]);
    let mode = u32::from_str_radix(std::str::from_utf8(mode).ok()?, 8).ok()?;
    (mode <= 0o777 && !path.is_empty()).then_some((mode, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chmod_arguments() {
        assert_eq!(parse_chmod(b"644 a b"), Some((0o644, &b"a b"[..])));
        assert_eq!(parse_chmod(b"0755 d"), Some((0o755, &b"d"[..])));
        assert_eq!(parse_chmod(b"4755 x"), None);
        assert_eq!(parse_chmod(b"999 x"), None);
        assert_eq!(parse_chmod(b"644"), None);
        assert_eq!(parse_chmod(b"644 "), None);
        assert_eq!(parse_chmod(b"rw x"), None);
    }
}
