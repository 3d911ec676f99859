//! Login: USER and PASS. Only anonymous login exists (`anonymous` or `ftp`,
//! any password); nothing but login commands is allowed before it.

use std::io;

use super::Control;

impl Control<'_> {
    /// USER: remembers an anonymous name and waits for PASS.
    pub(super) fn user(&mut self, arg: &[u8]) -> io::Result<()> {
        let name = String::from_utf8_lossy(arg).to_ascii_lowercase();
        if is_anonymous(&name) {
            self.user = Some(name);
            self.logged_in = false;
            self.reply(331, "Anonymous login ok, send any password")
        } else {
            self.user = None;
            self.reply(530, "Only anonymous login is allowed (USER anonymous)")
        }
    }

    /// PASS: any password completes an anonymous login.
    pub(super) fn pass(&mut self) -> io::Result<()> {
        if self.logged_in {
            return self.reply(230, "Already logged in");
        }
        if self.user.is_none() {
            return self.reply(503, "Send USER first");
        }
        self.logged_in = true;
        let mode = if self.opts.writable {
            "read-write"
        } else {
            "read-only"
        };
        self.reply(230, &format!("Login successful ({mode})"))
    }
}

/// True for the user names of anonymous FTP (already lowercased).
fn is_anonymous(name: &str) -> bool {
    name == "anonymous" || name == "ftp"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_names() {
        assert!(is_anonymous("anonymous"));
        assert!(is_anonymous("ftp"));
        assert!(!is_anonymous("root"));
        assert!(!is_anonymous(""));
    }
}
