//! One log line per file transfer, the same for the file server and FTP
//! (what xferlog gives an FTP server's operator): who, what, which file,
//! how many bytes actually moved, how long it took, and how it ended.
//!
//! ```text
//! 127.0.0.1:50312 - get "report.pdf" 1048576 bytes in 12ms: complete
//! 127.0.0.1:50318 alice STOR "/up/big.iso" 524288 bytes in 1.2s: failed: data connection closed; upload discarded
//! ```
//!
//! Logged at INFO on target `netkit::transfer`, so `-q` hides it with the
//! access log and `RUST_LOG=netkit::transfer=off` alone.

use std::fmt;
use std::time::Instant;

/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every byte moved (and, for an upload, the file is stored).
    Complete,
    /// It stopped before the end, for the reason given.
    Failed(String),
}

/// One transfer to log.
#[derive(Debug, Clone)]
pub struct Transfer<'a> {
    /// The client's address.
    pub peer: &'a str,
    /// The account, if the protocol has them (`-` otherwise).
    pub user: Option<&'a str>,
    /// What was done: `get`/`put` (files), `RETR`/`STOR`/`APPE`/`STOU` (FTP).
    pub op: &'a str,
    /// The file, as the client named it.
    pub path: &'a str,
    /// Bytes that moved.
    pub bytes: u64,
    /// When it started.
    pub started: Instant,
    /// How it ended.
    pub outcome: Outcome,
}

impl fmt::Display for Transfer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {:?} {} bytes in {}: ",
            self.peer,
            self.user.unwrap_or("-"),
            self.op,
            self.path,
            self.bytes,
            crate::human::duration(self.started.elapsed()),
        )?;
        match &self.outcome {
            Outcome::Complete => f.write_str("complete"),
            Outcome::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// Logs `t` (INFO, target `netkit::transfer`).
pub fn log(t: &Transfer<'_>) {
    tracing::info!(target: "netkit::transfer", "{t}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_who_what_bytes_time_and_end() {
        let peer = "127.0.0.1:5000";
        let t = Transfer {
            peer,
            user: None,
            op: "get",
            path: "a b.txt",
            bytes: 42,
            started: Instant::now(),
            outcome: Outcome::Complete,
        };
        let line = t.to_string();
        assert!(
            line.starts_with("127.0.0.1:5000 - get \"a b.txt\" 42 bytes in "),
            "{line}"
        );
        assert!(line.ends_with(": complete"), "{line}");
        let t = Transfer {
            user: Some("alice"),
            outcome: Outcome::Failed("cut".into()),
            ..t
        };
        assert!(t.to_string().contains(" alice get "));
        assert!(t.to_string().ends_with("failed: cut"));
    }
}
