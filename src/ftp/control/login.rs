//! Login: USER and PASS, checked against the server's [`Accounts`]
//! (anonymous, named accounts with Argon2 hashes). A wrong name or password
//! gets the same `530` after [`LOGIN_FAIL_DELAY`], is logged with its count,
//! and the [`MAX_LOGIN_FAILS`]th closes the connection; nothing but login
//! commands is allowed before a login.

use std::io;
use std::time::Duration;

use super::{Control, Flow};
use crate::ftp::accounts::Login;
use crate::ftp::path::VirtualPath;

/// How long a failed login waits before its 530 (slows password guessing).
pub const LOGIN_FAIL_DELAY: Duration = Duration::from_secs(1);

/// Failed logins a connection may make; the last one closes it (vsftpd's 3).
pub const MAX_LOGIN_FAILS: u32 = 3;

impl Control<'_> {
    /// USER: remembers the name and waits for PASS.
    pub(super) fn user(&mut self, arg: &[u8]) -> io::Result<()> {
        let name = String::from_utf8_lossy(arg).trim().to_string();
        self.logged_in = false;
        self.user = None;
        if name.is_empty() {
            return self.reply(501, "USER needs a name");
        }
        if self.accounts.anonymous_name(&name) {
            if self.accounts.anonymous.is_none() {
                return self.reply(530, "Anonymous login is disabled on this server");
            }
            self.user = Some(name);
            return self.reply(
                331,
                "Anonymous login ok, send your e-mail address as password",
            );
        }
        // The same reply for every other name: no probing for accounts.
        self.user = Some(name);
        self.reply(331, "Password required")
    }

    /// PASS: completes the login begun by USER.
    pub(super) fn pass(&mut self, password: &[u8]) -> io::Result<Flow> {
        if self.logged_in {
            self.reply(230, "Already logged in")?;
            return Ok(Flow::Continue);
        }
        let Some(name) = self.user.clone() else {
            self.reply(503, "Send USER first")?;
            return Ok(Flow::Continue);
        };
        let accounts = self.accounts;
        match accounts.login(&name, password) {
            Login::Ok(home) => {
                self.jail = home.jail.clone();
                self.access = home.access;
                self.cwd = VirtualPath::root();
                self.logged_in = true;
                let mode = if self.access.writable {
                    "read-write"
                } else {
                    "read-only"
                };
                self.reply(230, &format!("Login successful ({mode})"))?;
            }
            Login::NoAnonymous => {
                self.user = None;
                self.reply(530, "Anonymous login is disabled on this server")?;
            }
            Login::Refused => {
                self.user = None;
                self.login_failures += 1;
                tracing::warn!(
                    "ftp: failed login as {name:?} from {} ({} of {MAX_LOGIN_FAILS})",
                    self.peer_ip,
                    self.login_failures
                );
                std::thread::sleep(LOGIN_FAIL_DELAY);
                if self.login_failures >= MAX_LOGIN_FAILS {
                    self.reply(421, "Too many failed logins, closing control connection")?;
                    return Ok(Flow::Quit);
                }
                self.reply(530, "Login incorrect")?;
            }
        }
        Ok(Flow::Continue)
    }
}
