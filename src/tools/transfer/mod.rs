//! `netkit send FILE ADDR` and `netkit recv [--port P] [DIR]`: one file over
//! TCP, the course's file-transfer homework done carefully.
//!
//! ```text
//! $ netkit recv --port 7071 ~/incoming     # prints: listening on tcp://127.0.0.1:7071
//! $ netkit send report.pdf 127.0.0.1:7071  # a progress bar on a terminal, then:
//! sent report.pdf (1048576 bytes, crc32 1f2e3d4c) to 127.0.0.1:7071
//! ```
//!
//! `recv` takes one file and exits (0 on success). Use `--bind 0.0.0.0` to
//! accept senders from other machines. Whatever else connects first (a port
//! probe, a health check, curl, a sender whose file is refused or whose
//! transfer fails) is answered `ERR <reason>`, logged as `netkit recv:
//! refused ADDR: <reason>`, and recv goes on listening until one file has
//! arrived whole, or `--timeout` passes without one (exit 1, `no file
//! arrived within 5m; giving up`). Headers are read side by side, each
//! within 10 s, so a connection that says nothing holds up nobody; one
//! transfer runs at a time and a second sender meanwhile hears `ERR busy`.
//!
//! The exchange (all integers big-endian):
//!
//! | who      | sends                                                              |
//! |----------|--------------------------------------------------------------------|
//! | sender   | header: `NKF1`, size (u64), name length (u16), name (UTF-8)        |
//! | receiver | `GO\n`, or `ERR <reason>\n` and closes (bad name, file exists, no space) |
//! | sender   | exactly `size` bytes of the file, then its CRC-32 (u32)            |
//! | receiver | `OK <size> <crc32 hex>\n` once the file is stored, or `ERR <reason>\n` |
//!
//! What the receiver guarantees:
//! - The name is a plain file name: no `/`, `\`, NUL or control characters,
//!   not `.`/`..`, not hidden, at most 255 bytes. Anything else is refused, so
//!   a sender can never write outside DIR.
//! - The data goes into a hidden temporary file in DIR, is checked against the
//!   CRC-32 the sender computed, flushed to disk (fsync), and only then renamed
//!   to its name. An interrupted, corrupted or timed-out transfer (or Ctrl-C)
//!   leaves nothing under the final name.
//! - An existing file is never replaced unless `--force` (the final rename
//!   uses `RENAME_NOREPLACE`, so a file that appears meanwhile is not lost either).
//!
//! CRC-32 catches transmission and storage errors, not tampering: for that,
//! compare a cryptographic hash over a channel you trust.
//!
//! The code:
//! - `wire`: the header and the reply lines, as bytes on the connection.
//! - `name`: which file names the receiver accepts ([`check_name`]).
//! - `crc`: the CRC-32 both ends compute.
//! - `watch`: the socket reader that notices Ctrl-C and timeouts.
//! - `send`: the sender ([`send_file`]).
//! - `receive`: the receiver ([`receive_one`]) and how it stores the file.
//! - `error`: [`TransferError`], why a transfer failed.

mod crc;
mod error;
mod name;
mod receive;
mod send;
mod watch;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;

use indicatif::ProgressBar;

pub use self::crc::{Crc32, crc32};
pub use self::error::TransferError;
pub use self::name::{MAX_NAME, check_name};
pub use self::receive::{HEADER_WAIT, MAX_PENDING, RecvOptions, receive_one};
pub use self::send::{SendOptions, send_file};
pub use self::wire::{Header, MAGIC};

/// How long `recv` waits for a stalled sender unless `--timeout` says.
pub const STALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Default port of `netkit recv` (one above `files serve`'s 7070, so both can run).
pub const DEFAULT_PORT: u16 = 7071;
/// Copy buffer size.
const CHUNK: usize = 64 * 1024;

/// A progress bar on stderr when `show`, else a hidden one.
fn progress(show: bool, label: &str, total: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    crate::files::progress::transfer_bar(label, total)
}

/// A finished transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// The file name announced.
    pub name: String,
    /// Bytes of data.
    pub size: u64,
    /// CRC-32 of the data.
    pub crc: u32,
    /// Where it went (sender) or came from (receiver).
    pub peer: SocketAddr,
    /// Where it was stored (receiver only).
    pub path: Option<PathBuf>,
}

impl std::fmt::Display for Transferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(
                f,
                "received {} ({} bytes, crc32 {:08x}) from {} into {}",
                self.name,
                self.size,
                self.crc,
                self.peer,
                p.display()
            ),
            None => write!(
                f,
                "sent {} ({} bytes, crc32 {:08x}) to {}",
                self.name, self.size, self.crc, self.peer
            ),
        }
    }
}
