//! The listing commands: LIST (`ls -l` lines), NLST (names), MLSD (facts of
//! a directory's entries) over the data connection, and MLST (facts of one
//! path) on the control connection. The line formats are in
//! [`crate::ftp::listing`].

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;

use super::Control;
use crate::ftp::command::Listing;
use crate::ftp::{data, listing};
use crate::human;

impl Control<'_> {
    /// LIST, NLST and MLSD: a directory's entries (or one file, for LIST and
    /// NLST) over the data connection.
    pub(super) fn list(&mut self, arg: &[u8], kind: Listing) -> io::Result<()> {
        let target = self.cwd.resolve(strip_list_options(arg));
        let real = match self.jail.existing(&target) {
            Ok(r) => r,
            Err(e) => return self.reply_fs_error(&e),
        };
        let meta = match real.metadata() {
            Ok(m) => m,
            Err(e) => return self.reply_fs_error(&e),
        };
        if kind == Listing::Facts && !meta.is_dir() {
            return self.reply(501, "MLSD needs a directory (use MLST for a file)");
        }
        let items = if meta.is_dir() {
            match listing::read_dir(&self.jail, &real) {
                Ok(items) => items,
                Err(e) => return self.reply_fs_error(&e),
            }
        } else {
            let name = target.file_name().unwrap_or(OsStr::new("")).to_os_string();
            vec![listing::Item { name, meta }]
        };
        let now = human::now_unix();
        let mut body = Vec::new();
        for item in &items {
            let name = item.name.as_bytes();
            match kind {
                Listing::Long => body.extend(listing::list_line(name, &item.meta, now)),
                Listing::Names => {
                    body.extend_from_slice(name);
                    body.extend_from_slice(b"\r\n");
                }
                Listing::Facts => {
                    let facts = self.facts_of(&item.meta, false);
                    body.extend(listing::mlsd_line(name, &facts));
                }
            }
        }
        let Some(mut stream) = self.start_transfer("Here comes the directory listing")? else {
            return Ok(());
        };
        let mut watch = self.transfer_watch(false);
        let result = data::send_bytes(&mut stream, &body, &mut watch);
        drop(watch);
        self.finish_data(stream, result)
    }

    /// The MLSx facts of a file (or of the root), as the client chose them.
    fn facts_of(&self, meta: &std::fs::Metadata, is_root: bool) -> String {
        listing::facts(meta, &self.facts, is_root, self.access)
    }

    /// MLST: the facts of one path, in a multi-line reply.
    pub(super) fn mlst(&mut self, arg: &[u8]) -> io::Result<()> {
        let target = self.cwd.resolve(arg);
        let meta = match self.jail.existing(&target).and_then(|r| r.metadata()) {
            Ok(m) => m,
            Err(e) => return self.reply_fs_error(&e),
        };
        let facts = self.facts_of(&meta, target.file_name().is_none());
        self.write_control(&mlst_reply(&target.to_bytes(), &facts))
    }
}

/// The path argument of `LIST -la dir`: options are accepted and ignored.
pub(super) fn strip_list_options(mut arg: &[u8]) -> &[u8] {
    while arg.starts_with(b"-") {
        let end = arg.iter().position(|&b| b == b' ').unwrap_or(arg.len());
        arg = arg[end..].strip_prefix(b" ").unwrap_or(&arg[end..]);
    }
    arg
}

/// The whole MLST reply for `path` with `facts`, CRLFs included.
fn mlst_reply(path: &[u8], facts: &str) -> Vec<u8> {
    let mut msg = b"250-Listing ".to_vec();
    msg.extend(path.iter().copied().filter(|&b| b != b'\r' && b != b'\n'));
    msg.extend_from_slice(b"\r\n ");
    msg.extend(listing::mlsd_line(path, facts));
    msg.extend_from_slice(b"250 End\r\n");
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_options_are_ignored() {
        assert_eq!(strip_list_options(b"-la dir"), b"dir");
        assert_eq!(strip_list_options(b"-l -a dir x"), b"dir x");
        assert_eq!(strip_list_options(b"-la"), b"");
        assert_eq!(strip_list_options(b"dir"), b"dir");
        assert_eq!(strip_list_options(b""), b"");
    }

    #[test]
    fn mlst_reply_has_no_stray_lines() {
        let r = mlst_reply(b"/a\r\nb", "type=file;");
        assert!(r.starts_with(b"250-Listing /ab\r\n "));
        assert!(r.ends_with(b"250 End\r\n"));
    }
}
