//! [`TransferError`]: why a transfer failed, and the helper that wraps an OS
//! error with what was being done.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The file name is not a plain name.
    #[error("refusing file name {name:?}: {reason}")]
    BadName {
        /// The name as received.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The peer does not speak this protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The receiver refused or failed; its reason.
    #[error("the receiver refused the file: {0}")]
    Refused(String),
    /// The target exists and `--force` was not given.
    #[error("{} already exists (use --force to replace it)", .0.display())]
    Exists(PathBuf),
    /// Data arrived but its checksum does not match.
    #[error(
        "checksum mismatch: the sender's crc32 is {expected:08x}, the data received gives {actual:08x}"
    )]
    Checksum {
        /// What the sender computed.
        expected: u32,
        /// What the received bytes give.
        actual: u32,
    },
    /// The connection ended before the announced size.
    #[error("the connection closed after {got} of {size} bytes")]
    Short {
        /// Bytes received.
        got: u64,
        /// Bytes announced.
        size: u64,
    },
    /// No progress for too long.
    #[error("no data for {0:?}; giving up")]
    Timeout(Duration),
    /// A connection sent no complete header in time.
    #[error("no header within {}; not a `netkit send` client", crate::human::duration(*.0))]
    NoHeader(Duration),
    /// Another transfer is under way.
    #[error("busy: another file is arriving; send again once it is in")]
    Busy,
    /// Too many connections are waiting for their header.
    #[error("too many connections ({0}) are waiting to send their header")]
    Crowded(usize),
    /// `recv --timeout` passed without a file.
    #[error("no file arrived within {}; giving up", crate::human::duration(*.0))]
    NoFile(Duration),
    /// SIGINT/SIGTERM.
    #[error("interrupted")]
    Interrupted,
    /// The receiver could not be reached (in the words every client uses).
    #[error("{0}")]
    Connect(String),
    /// An OS error, with what was being done.
    #[error("{context}: {cause}")]
    Io {
        /// What failed.
        context: String,
        /// The error.
        cause: io::Error,
    },
}

/// Wraps an OS error as [`TransferError::Io`] with `context`.
pub(super) fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> TransferError {
    let context = context.into();
    move |cause| TransferError::Io { context, cause }
}
