//! The readiness driver: one non-blocking connection, fed by an event loop.
//!
//! select, poll and epoll all use [`Conn`]: when the loop says the socket is
//! ready, [`Conn::drive`] reads until the socket is empty (or output backs up),
//! hands the bytes to the session, and writes until the socket is full. It then
//! reports which readiness it needs next. Reads go into a scratch buffer owned
//! by the loop, so an idle connection holds no read buffer at all; only input a
//! session has not consumed yet is kept per connection.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use super::net::Stream;
use super::session::{Output, Session};
use super::{sink, sys};

/// Stop reading while this much output is queued (backpressure).
const HIGH_WATER: usize = 256 * 1024;

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
pub struct Conn<S> {
    /// The non-blocking socket.
    pub stream: Stream,
    /// The protocol.
    session: S,
    /// Input the session has not consumed yet (empty for most sessions between reads).
    leftover: Vec<u8>,
    /// Output waiting for the socket.
    out: Output,
    /// The peer sent EOF.
    read_closed: bool,
    /// Last time bytes moved in either direction (for the idle timeout).
    pub last_activity: Instant,
    /// Edge-triggered readiness: reads must go on until EAGAIN.
    edge: bool,
    /// The peer sent EOF while the session still held unconsumed input.
    eof_pending: bool,
}

impl<S: Session> Conn<S> {
    /// Wraps an accepted stream, making it non-blocking and running the session's greeting.
    /// With `edge`, reads continue until EAGAIN (edge-triggered epoll needs it).
    pub fn new(stream: Stream, mut session: S, edge: bool) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay();
        let mut out = Output::new();
        session.on_connect(&mut out);
        Ok(Conn {
            stream,
            session,
            leftover: Vec::new(),
            out,
            read_closed: false,
            last_activity: Instant::now(),
            edge,
            eof_pending: false,
        })
    }

    /// The socket descriptor.
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// True when a graceful shutdown may close this connection now.
    pub fn is_idle(&self) -> bool {
        self.out.is_empty() && self.leftover.is_empty() && self.session.is_idle()
    }

    /// Reads and writes as far as the socket allows without blocking.
    pub fn drive(&mut self, scratch: &mut [u8]) -> Want {
        loop {
            let mut progressed = false;
            let mut read_drained = false;
            let mut spliced = 0usize;
            // Read while input is wanted and output is not backed up.
            while !self.read_closed && !self.out.wants_close() && self.out.pending() < HIGH_WATER {
                // An upload's body goes from the socket straight into its file.
                let fd = self.fd();
                if self.leftover.is_empty()
                    && let Some(r) = sink::splice_input(&mut self.session, fd, &mut self.out)
                {
                    match r {
                        Ok(0) => {
                            self.read_closed = true;
                            self.session.on_eof(&mut self.out);
                        }
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
                        self.read_closed = true;
                        // Input the session is still holding is answered before EOF is.
                        if self.leftover.is_empty() {
                            self.session.on_eof(&mut self.out);
                        } else {
                            self.eof_pending = true;
                        }
                        progressed = true;
                    }
                    Ok(n) => {
                        progressed = true;
                        if !self.feed(&scratch[..n]) {
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
            let had_output = !self.out.is_empty();
            let mut write_blocked = false;
            while !self.out.is_empty() {
                match sys::write_output(self.fd(), &mut self.out) {
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
                self.last_activity = Instant::now();
            }
            // Output drained: offer input the session held back (it stops taking
            // pipelined requests while a lot of output is queued).
            if had_output
                && self.out.is_empty()
                && !self.out.wants_close()
                && !self.leftover.is_empty()
            {
                let before = self.leftover.len();
                if !self.feed(&[]) {
                    return Want::Close;
                }
                if self.leftover.len() < before || !self.out.is_empty() {
                    continue;
                }
            }
            if self.eof_pending && (self.leftover.is_empty() || self.out.is_empty()) {
                self.eof_pending = false;
                self.session.on_eof(&mut self.out);
                continue;
            }
            if self.out.is_empty() && (self.out.wants_close() || self.read_closed) {
                return Want::Close;
            }
            // Go round again only when reads were held back by output that has now drained.
            if read_drained
                || write_blocked
                || self.read_closed
                || self.out.wants_close()
                || !progressed
            {
                let read =
                    !self.read_closed && !self.out.wants_close() && self.out.pending() < HIGH_WATER;
                return Want::Io {
                    read,
                    write: !self.out.is_empty(),
                };
            }
        }
    }

    /// True when the session's own deadline has passed.
    pub fn deadline_passed(&self, now: Instant) -> bool {
        self.session.deadline().is_some_and(|d| now >= d)
    }

    /// Lets the session react to its passed deadline, then writes what it can.
    /// The connection closes once that output is flushed (or at once if it cannot be).
    pub fn expire(&mut self, scratch: &mut [u8]) -> Want {
        self.session.on_deadline(&mut self.out);
        self.out.close();
        self.drive(scratch)
    }

    /// Hands input to the session; false if the session overflowed its buffer limit.
    fn feed(&mut self, data: &[u8]) -> bool {
        if self.leftover.is_empty() && data.is_empty() {
            return true;
        }
        if self.leftover.is_empty() {
            let used = self.session.on_input(data, &mut self.out).min(data.len());
            if used < data.len() {
                self.leftover.extend_from_slice(&data[used..]);
            }
        } else {
            self.leftover.extend_from_slice(data);
            let used = self
                .session
                .on_input(&self.leftover, &mut self.out)
                .min(self.leftover.len());
            self.leftover.drain(..used);
            if self.leftover.is_empty() {
                self.leftover = Vec::new(); // give the memory back while idle
            }
        }
        self.leftover.len() <= self.session.max_buffer()
    }

    /// Closes the socket politely (FIN, then discard late input).
    pub fn close(self) {
        sys::graceful_close(self.fd());
    }
}
