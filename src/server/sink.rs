//! Zero-copy input for sessions that name an [`InputSink`](super::InputSink): every driver calls
//! [`splice_input`] before an ordinary read, and it moves the bytes from the
//! socket into the session's file through a per-thread pipe.

use std::cell::RefCell;
use std::io;
use std::os::fd::BorrowedFd;

use super::{Output, Session};
use crate::sys::{self, Pipe, SpliceError};

thread_local! {
    /// One pipe per thread, always left empty between calls. Tagged with the
    /// process id so a forked child never shares its parent's pipe.
    static PIPE: RefCell<Option<(u32, Pipe)>> = const { RefCell::new(None) };
}

/// If `session` has a sink, moves what the socket `sock` holds (up to the
/// sink's length) into it and reports to the session. Returns `None` when the
/// session has no sink (or no pipe can be had): read as usual then. Otherwise
/// the bytes taken from the socket: `Ok(0)` is EOF, `WouldBlock` means nothing
/// was there, and any other error is the socket's.
pub fn splice_input<S: Session>(
    session: &mut S,
    sock: BorrowedFd<'_>,
    out: &mut Output,
) -> Option<io::Result<usize>> {
    session.input_sink()?;
    PIPE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let pid = std::process::id();
        if slot.as_ref().is_none_or(|(owner, _)| *owner != pid) {
            *slot = Some((pid, Pipe::new().ok()?));
        }
        let (_, pipe) = slot.as_ref()?;
        // The sink borrows the session's file only for the splice itself.
        let moved = {
            let sink = session.input_sink()?;
            let len = sink.len.min(pipe.capacity() as u64) as usize;
            sys::splice_to_file(pipe, sock, sink.fd, len)
        };
        Some(match moved {
            Ok(0) => Ok(0),
            Ok(n) => {
                session.on_sunk(n as u64, None, out);
                Ok(n)
            }
            Err(SpliceError::Source(e)) => Err(e),
            Err(SpliceError::Dest { err, taken }) => {
                session.on_sunk(taken as u64, Some(err), out);
                Ok(taken)
            }
        })
    })
}
