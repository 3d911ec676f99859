//! The readiness driver: one non-blocking connection, fed by an event loop.
//!
//! select, poll and epoll all use [`Conn`]: when the loop says the socket is
//! ready, [`Conn::drive`] reads until the socket is empty (or output backs up),
//! hands the bytes to the session, and writes until the socket is full. It then
//! reports which readiness it needs next. Reads go into a scratch buffer owned
//! by the loop, so an idle connection holds no read buffer at all; only input a
//! session has not consumed yet is kept per connection, by its
//! [`SessionCore`], which keeps every rule of running a session.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Instant;

use super::clock;
use super::net::Stream;
use super::session::Session;
use super::session_core::SessionCore;
use crate::sys;

/// Bytes one drive splices into a session's file before yielding (level-triggered).
const SPLICE_TURN: usize = 4 << 20;

/// Size of the per-loop scratch buffer reads land in.
pub const SCRATCH: usize = 64 * 1024;

/// What a connection needs from its event loop after being driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Wait for readability and/or writability.
    Io {
        /// Wake me when there is input.
        read: bool,
        /// Wake me when output can be written.
        write: bool,
    },
    /// Close the connection now.
    Close,
}

/// One connection served by an event loop.
pub struct Conn<S: Session> {
    /// The non-blocking socket.
    pub stream: Stream,
    /// The session with its held input and queued output.
    core: SessionCore<S>,
    /// Last time bytes moved in either direction (for the idle timeout).
    pub last_activity: Instant,
    /// Edge-triggered readiness: reads must go on until EAGAIN.
    edge: bool,
}

impl<S: Session> Conn<S> {
    /// Wraps an accepted stream, making it non-blocking and running the session's greeting.
    /// With `edge`, reads continue until EAGAIN (edge-triggered epoll needs it).
    pub fn new(stream: Stream, session: S, edge: bool) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay();
        Ok(Conn {
            stream,
            core: SessionCore::new(session, clock::now()),
            last_activity: clock::now(),
            edge,
        })
    }

    /// The socket descriptor.
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// True when a graceful shutdown may close this connection now.
    pub fn is_idle(&self) -> bool {
        self.core.is_idle()
    }

    /// Reads and writes as far as the socket allows without blocking.
    pub fn drive(&mut self, scratch: &mut [u8]) -> Want {
        let fd = self.stream.as_fd();
        loop {
            let mut progressed = false;
            let mut read_drained = false;
            let mut spliced = 0usize;
            while self.core.wants_input() {
                // An upload's body goes from the socket straight into its file.
                if let Some(r) = self.core.splice(fd) {
                    match r {
                        Ok(0) => {}
                        Ok(n) => spliced += n,
                        Err(e) if sys::would_block(&e) => {
                            read_drained = true;
                            break;
                        }
                        Err(_) => return Want::Close,
                    }
                    progressed = true;
                    // Level-triggered: let other connections have a turn; the
                    // loop reports this socket again at once if data is left.
                    if !self.edge && spliced >= SPLICE_TURN {
                        read_drained = true;
                        break;
                    }
                    continue;
                }
                match sys::recv_now(fd, scratch) {
                    Ok(0) => {
                        self.core.input_ended();
                        progressed = true;
                    }
                    Ok(n) => {
                        progressed = true;
                        if self.core.input(&scratch[..n]).is_err() {
                            return Want::Close;
                        }
                        // A short read under level-triggered readiness means the socket is
                        // (almost surely) empty; the loop will say so if it is not. This
                        // saves the extra recv that would only return EAGAIN.
                        if !self.edge && n < scratch.len() {
                            read_drained = true;
                            break;
                        }
                    }
                    Err(e) if sys::would_block(&e) => {
                        read_drained = true;
                        break;
                    }
                    Err(_) => return Want::Close,
                }
            }
            // Write until done or the socket is full.
            let mut write_blocked = false;
            while !self.core.out_is_empty() {
                match self.core.out().write_to(fd) {
                    Ok(0) => return Want::Close,
                    Ok(_) => progressed = true,
                    Err(e) if sys::would_block(&e) => {
                        write_blocked = true;
                        break;
                    }
                    Err(_) => return Want::Close,
                }
            }
            if progressed {
                self.last_activity = clock::now();
            }
            // Output drained: held input is offered again, a pending EOF told.
            if self.core.settle().is_err() {
                return Want::Close;
            }
            if self.core.finished() {
                return Want::Close;
            }
            // Go round again while there is something to do without waiting:
            // new output to write, or reads that were held back and may go on.
            let more_output = !write_blocked && !self.core.out_is_empty();
            let more_input = !read_drained && self.core.wants_input();
            if !progressed || !(more_output || more_input) {
                return Want::Io {
                    read: self.core.wants_input(),
                    write: !self.core.out_is_empty(),
                };
            }
        }
    }

    /// True when the session's own deadline has passed.
    pub fn deadline_passed(&self, now: Instant) -> bool {
        self.core.deadline_passed(now)
    }

    /// Lets the session react to its passed deadline, then writes what it can.
    /// The connection closes once that output is flushed (or at once if it cannot be).
    pub fn expire(&mut self, scratch: &mut [u8]) -> Want {
        self.core.expire();
        self.drive(scratch)
    }

    /// Closes the socket politely (FIN, then discard late input).
    /// The shutdown grace period is over: the session's last word, written
    /// as far as the socket takes it (see [`SessionCore::last_word`]).
    pub fn last_word(&mut self) {
        self.core.last_word(self.stream.as_fd());
    }

    pub fn close(self) {
        sys::graceful_close(self.stream.as_fd());
    }
}
