//! Moving around the tree: PWD, CWD and CDUP (the current directory is a
//! virtual path inside the root jail).

use std::io;

use super::Control;

impl Control<'_> {
    /// PWD: the current directory, quoted as RFC 959 says.
    pub(super) fn pwd(&mut self) -> io::Result<()> {
        let text = pwd_text(&self.cwd.to_bytes());
        self.reply_bytes(257, &text)
    }

    /// CWD (and CDUP, as `CWD ..`): changes to an existing directory.
    pub(super) fn cwd(&mut self, arg: &[u8]) -> io::Result<()> {
        let target = self.cwd.resolve(arg);
        match self.jail.existing(&target) {
            Ok(real) if real.is_dir() => {
                self.cwd = target;
                self.reply(250, "Directory changed")
            }
            Ok(_) => self.reply(550, "Not a directory"),
            Err(e) => self.reply_fs_error(&e),
        }
    }
}

/// The text of the 257 reply for directory `path`.
fn pwd_text(path: &[u8]) -> Vec<u8> {
    let mut text = quoted(path);
    text.extend_from_slice(b" is the current directory");
    text
}

/// `path` in double quotes, a quote inside doubled (RFC 959's 257 replies).
pub(super) fn quoted(path: &[u8]) -> Vec<u8> {
    let mut text = b"\"".to_vec();
    for &b in path {
        text.push(b);
        if b == b'"' {
            text.push(b'"');
        }
    }
    text.push(b'"');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pwd_quotes_the_path() {
        assert_eq!(pwd_text(b"/"), b"\"/\" is the current directory");
        assert_eq!(
            pwd_text(b"/say \"hi\""),
            b"\"/say \"\"hi\"\"\" is the current directory"
        );
    }
}
