//! The socket side both ends share: a reader that notices Ctrl-C and gives up
//! after a timeout, and the timeouts a connection is given.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::TransferError;
use super::error::io_err;
use crate::server::Shutdown;
use crate::server::shutdown::TICK;
use crate::sys;

/// A socket reader that wakes every [`TICK`] to notice Ctrl-C and gives up
/// after `timeout` without data.
pub(super) struct Watched<'a> {
    /// The connection.
    pub(super) stream: &'a TcpStream,
    /// Set on Ctrl-C or SIGTERM.
    pub(super) shutdown: &'a Shutdown,
    /// How long a read may wait for data.
    pub(super) timeout: Duration,
}

/// Marks errors made by [`Watched`] so they map back to the right variant.
#[derive(Debug)]
enum WatchStop {
    Interrupted,
    Timeout(Duration),
}

impl std::fmt::Display for WatchStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for WatchStop {}

/// Maps an error from a [`Watched`] read back to its [`TransferError`]; any
/// other error becomes [`TransferError::Io`] with `context`.
pub(super) fn unwrap_watch(e: io::Error, context: String) -> TransferError {
    match e.get_ref().and_then(|i| i.downcast_ref::<WatchStop>()) {
        Some(WatchStop::Interrupted) => TransferError::Interrupted,
        Some(WatchStop::Timeout(t)) => TransferError::Timeout(*t),
        None => TransferError::Io { context, cause: e },
    }
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = Instant::now();
        loop {
            if self.shutdown.is_set() {
                return Err(io::Error::other(WatchStop::Interrupted));
            }
            match (&mut &*self.stream).read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if sys::timed_out(&e) => {
                    if start.elapsed() >= self.timeout {
                        return Err(io::Error::other(WatchStop::Timeout(self.timeout)));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Gives a connection its timeouts: reads wake every [`TICK`] so that
/// [`Watched`] notices Ctrl-C, writes give up after `timeout`.
pub(super) fn set_timeouts(stream: &TcpStream, timeout: Duration) -> Result<(), TransferError> {
    stream
        .set_read_timeout(Some(TICK))
        .map_err(io_err("socket"))?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(io_err("socket"))
}
