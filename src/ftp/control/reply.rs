//! Replies on the control connection: the `code text` line format (with CR
//! and LF kept out of the text), writing them under the connection's clock,
//! and the replies for filesystem and storage errors.

use std::io;

use super::Control;
use crate::ftp::data;

impl Control<'_> {
    /// Sends the one-line reply `code text`.
    pub(super) fn reply(&mut self, code: u16, text: &str) -> io::Result<()> {
        self.reply_bytes(code, text.as_bytes())
    }

    /// Sends the one-line reply `code text` for text that is not UTF-8 (a path).
    pub(super) fn reply_bytes(&mut self, code: u16, text: &[u8]) -> io::Result<()> {
        self.write_control(&reply_line(code, text))
    }

    /// Writes already formatted reply lines to the control connection.
    pub(super) fn write_control(&mut self, msg: &[u8]) -> io::Result<()> {
        let mut watch = data::Watch::new(self.clock.clone());
        data::send_bytes(&mut self.stream, msg, &mut watch)
    }

    /// The 550 reply for a path that could not be used.
    pub(super) fn reply_fs_error(&mut self, e: &io::Error) -> io::Result<()> {
        self.reply(550, fs_error_text(e))
    }

    /// The reply for an upload that could not be stored.
    pub(super) fn reply_storage(&mut self, e: &io::Error) -> io::Result<()> {
        let (code, text) = storage_error_reply(e);
        self.reply(code, text)
    }
}

/// One reply line, CRLF included.
fn reply_line(code: u16, text: &[u8]) -> Vec<u8> {
    let mut msg = format!("{code} ").into_bytes();
    // A CR or LF inside the text (from a file name) would start a new reply line.
    msg.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b'?' } else { b }),
    );
    msg.extend_from_slice(b"\r\n");
    msg
}

/// The text of the 550 reply for a filesystem error (never a real path).
fn fs_error_text(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::NotFound => "No such file or directory",
        io::ErrorKind::PermissionDenied => "Permission denied",
        _ => "Cannot access that path",
    }
}

/// Code and text of the reply for an upload that failed on the server's side.
fn storage_error_reply(e: &io::Error) -> (u16, &'static str) {
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => (552, "Disk full; upload discarded"),
        Some(libc::EFBIG) => (552, "File too large; upload discarded"),
        _ => (451, "Local error storing the file; upload discarded"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines_stay_one_line() {
        assert_eq!(reply_line(200, b"OK"), b"200 OK\r\n");
        assert_eq!(reply_line(257, b"\"/a\r\nb\""), b"257 \"/a??b\"\r\n");
        assert_eq!(reply_line(550, b""), b"550 \r\n");
    }

    #[test]
    fn filesystem_errors() {
        let kind = |k: io::ErrorKind| fs_error_text(&io::Error::from(k));
        assert_eq!(kind(io::ErrorKind::NotFound), "No such file or directory");
        assert_eq!(kind(io::ErrorKind::PermissionDenied), "Permission denied");
        assert_eq!(kind(io::ErrorKind::Other), "Cannot access that path");
    }

    #[test]
    fn storage_errors() {
        let os = |n| storage_error_reply(&io::Error::from_raw_os_error(n)).0;
        assert_eq!(os(libc::ENOSPC), 552);
        assert_eq!(os(libc::EDQUOT), 552);
        assert_eq!(
            storage_error_reply(&io::Error::from_raw_os_error(libc::EFBIG)),
            (552, "File too large; upload discarded")
        );
        assert_eq!(os(libc::EIO), 451);
        assert_eq!(storage_error_reply(&io::Error::other("x")).0, 451);
    }
}
