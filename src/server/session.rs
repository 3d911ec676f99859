//! Sans-IO sessions: the protocol as a state machine that never touches a socket.
//!
//! A [`Service`] makes one [`Session`] per connection. The model driver reads bytes
//! from the socket and hands them to [`Session::on_input`]; the session answers by
//! filling an [`Output`] with byte chunks, file regions (sent zero-copy with
//! `sendfile(2)` where the model can) and, when it is done, a close request.
//! The other direction can be zero-copy too: a session with a file to fill (an
//! upload) names it in [`Session::input_sink`] and every driver splices the
//! bytes from the socket into it, reporting to [`Session::on_sunk`].
//! Because a session does no IO it runs unchanged on every model and is unit-tested
//! with plain byte strings.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use crate::sys;

/// Who is on the other end of a connection.
#[derive(Debug, Clone)]
pub enum Peer {
    /// A TCP peer (IPv4 or IPv6).
    Inet(SocketAddr),
    /// A Unix stream socket peer (usually unnamed).
    Unix,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Inet(a) => write!(f, "{a}"),
            Peer::Unix => f.write_str("unix"),
        }
    }
}

/// A factory of sessions, shared by every worker of a model.
pub trait Service: Send + Sync + 'static {
    /// The per-connection state machine.
    type Session: Session;
    /// Makes the session for a newly accepted connection.
    fn session(&self, peer: &Peer) -> Self::Session;

    /// What to tell a client that arrives while the server is at its
    /// connection limit, before closing (an HTTP `503`, say). `None` (the
    /// default) leaves such clients waiting in the listen backlog instead.
    /// Honoured by the select, poll, epoll and async models.
    fn overload_reply(&self) -> Option<Vec<u8>> {
        None
    }
}

/// One connection's protocol state machine.
pub trait Session: Send + 'static {
    /// Called once when the connection is accepted (for a greeting).
    fn on_connect(&mut self, _out: &mut Output) {}

    /// Called with every byte received and not yet consumed. Returns how many
    /// bytes of `input` were consumed; the rest is offered again, with more data
    /// appended, on the next call — and also once queued output has drained, so
    /// a session may stop early to bound its output (HTTP does, for pipelining). A session that consumes nothing from a full
    /// buffer (see [`Session::max_buffer`]) is closed by the driver.
    fn on_input(&mut self, input: &[u8], out: &mut Output) -> usize;

    /// Called when the peer has finished sending (read side reached EOF).
    /// The default closes the connection once the output is flushed.
    fn on_eof(&mut self, out: &mut Output) {
        out.close();
    }

    /// True while the session is between requests, so a graceful shutdown may
    /// close it now. A session in the middle of a request returns false and the
    /// driver keeps serving it until it is idle or the shutdown deadline passes.
    fn is_idle(&self) -> bool {
        true
    }

    /// Largest amount of unconsumed input the driver will buffer for this session.
    fn max_buffer(&self) -> usize {
        1 << 20
    }

    /// A moment by which the session wants [`Session::on_deadline`] called, if
    /// any (an HTTP request head that must be complete by then, for example).
    /// Drivers check it at least every 100 ms.
    fn deadline(&self) -> Option<std::time::Instant> {
        None
    }

    /// Called once [`Session::deadline`] has passed. The default closes the
    /// connection; a session may first write an error response.
    fn on_deadline(&mut self, out: &mut Output) {
        out.close();
    }

    /// A file the next input bytes should go straight into, if the session has
    /// one (an upload's body). Drivers then move up to `len` bytes from the
    /// socket into it with `splice(2)`, never through user space, and call
    /// [`Session::on_sunk`] instead of `on_input`. Input already buffered still
    /// comes through `on_input` first. The default has no sink.
    fn input_sink(&self) -> Option<InputSink<'_>> {
        None
    }

    /// `moved` bytes of input went into the sink's file. With `error` set, the
    /// file refused them (disk full, say): they have left the connection all
    /// the same, so the session counts them as received and lost.
    fn on_sunk(&mut self, _moved: u64, _error: Option<io::Error>, _out: &mut Output) {}
}

/// Where a session wants raw input written (see [`Session::input_sink`]).
#[derive(Debug, Clone, Copy)]
pub struct InputSink<'a> {
    /// An open file, written at its current position; it stays open while the
    /// session returns it.
    pub fd: BorrowedFd<'a>,
    /// How many of the next input bytes belong in it (more than zero).
    pub len: u64,
}

/// One piece of pending output.
#[derive(Debug)]
pub enum Chunk {
    /// Bytes to write; `pos` is how much of `buf` has been written already.
    Bytes {
        /// The bytes.
        buf: Vec<u8>,
        /// How many bytes were already written.
        pos: usize,
    },
    /// A region of a file, written with `sendfile(2)` where the model can.
    File {
        /// The open file (shared, so one open file can serve many responses).
        file: Arc<File>,
        /// Next offset to send.
        offset: u64,
        /// Bytes left to send.
        len: u64,
    },
}

/// What a session wants written, in order, plus whether to close afterwards.
#[derive(Debug, Default)]
pub struct Output {
    chunks: VecDeque<Chunk>,
    /// Bytes still queued (file regions included).
    pending: usize,
    close: bool,
}

/// Small writes are appended to the last byte chunk up to this size.
const COALESCE_LIMIT: usize = 64 * 1024;

impl Output {
    /// An empty output queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues bytes for writing.
    pub fn write(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.pending += bytes.len();
        if let Some(Chunk::Bytes { buf, .. }) = self.chunks.back_mut()
            && buf.len() + bytes.len() <= COALESCE_LIMIT
        {
            buf.extend_from_slice(bytes);
            return;
        }
        self.chunks.push_back(Chunk::Bytes {
            buf: bytes.to_vec(),
            pos: 0,
        });
    }

    /// Queues an owned buffer for writing without copying it.
    pub fn write_vec(&mut self, buf: Vec<u8>) {
        if buf.is_empty() {
            return;
        }
        self.pending += buf.len();
        self.chunks.push_back(Chunk::Bytes { buf, pos: 0 });
    }

    /// Queues `len` bytes of `file` starting at `offset` (zero-copy where possible).
    pub fn send_file(&mut self, file: Arc<File>, offset: u64, len: u64) {
        if len == 0 {
            return;
        }
        self.pending = self.pending.saturating_add(len as usize);
        self.chunks.push_back(Chunk::File { file, offset, len });
    }

    /// Asks the driver to close the connection once everything queued is written.
    pub fn close(&mut self) {
        self.close = true;
    }

    /// True once [`Output::close`] was called.
    pub fn wants_close(&self) -> bool {
        self.close
    }

    /// Bytes still waiting to be written.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// True when nothing is waiting to be written.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The chunk to write next.
    pub fn front_mut(&mut self) -> Option<&mut Chunk> {
        self.chunks.front_mut()
    }

    /// Records that `n` bytes of the front chunk were written, dropping it when done.
    pub fn advance(&mut self, n: usize) {
        self.pending = self.pending.saturating_sub(n);
        let done = match self.chunks.front_mut() {
            Some(Chunk::Bytes { buf, pos }) => {
                *pos += n;
                *pos >= buf.len()
            }
            Some(Chunk::File { offset, len, .. }) => {
                *offset += n as u64;
                *len -= (n as u64).min(*len);
                *len == 0
            }
            None => false,
        };
        if done {
            self.chunks.pop_front();
        }
    }

    /// Drops the front chunk (for a file region that can no longer be read).
    pub fn drop_front(&mut self) {
        if let Some(c) = self.chunks.pop_front() {
            let left = match c {
                Chunk::Bytes { buf, pos } => buf.len() - pos,
                Chunk::File { len, .. } => len as usize,
            };
            self.pending = self.pending.saturating_sub(left);
        }
    }

    /// Fills `into` with the leading byte chunks (as many as fit, up to the
    /// first file region), for vectored writes; returns how many were filled.
    pub fn byte_slices<'a>(&'a self, into: &mut [std::io::IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, c) in into.iter_mut().zip(&self.chunks) {
            match c {
                Chunk::Bytes { buf, pos } => *slot = std::io::IoSlice::new(&buf[*pos..]),
                Chunk::File { .. } => break,
            }
            n += 1;
        }
        n
    }

    /// Records that `n` bytes were written across leading byte chunks.
    pub fn advance_many(&mut self, mut n: usize) {
        while n > 0 {
            let left = match self.chunks.front() {
                Some(Chunk::Bytes { buf, pos }) => buf.len() - pos,
                Some(Chunk::File { len, .. }) => *len as usize,
                None => return,
            };
            let step = left.min(n);
            self.advance(step);
            n -= step;
        }
    }
}

impl Output {
    /// One write step of the driver: a vectored write of the leading byte
    /// chunks, or one `sendfile` for a leading file region; advances past what
    /// was written. `Ok(0)` with output still queued means a file region could
    /// not be read any further (the file shrank); the caller should close.
    pub fn write_to(&mut self, sock: BorrowedFd<'_>) -> io::Result<usize> {
        let file = match self.front_mut() {
            None => return Ok(0),
            Some(Chunk::File { file, offset, len }) => Some((Arc::clone(file), *offset, *len)),
            Some(Chunk::Bytes { .. }) => None,
        };
        if let Some((file, mut offset, len)) = file {
            let n = sys::sendfile(sock, file.as_fd(), &mut offset, len)?;
            if n == 0 {
                self.drop_front();
            } else {
                self.advance(n);
            }
            return Ok(n);
        }
        // On the stack: a write per response must not cost an allocation.
        let mut slices = [io::IoSlice::new(&[]); 16];
        let count = self.byte_slices(&mut slices);
        let n = if count == 1 {
            // One chunk (the usual reply): a plain send.
            sys::socket::send(sock, &slices[0], 0)?
        } else {
            sys::socket::writev(sock, &slices[..count])?
        };
        self.advance_many(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_writes_coalesce_and_advance_tracks_pending() {
        let mut out = Output::new();
        out.write(b"hello ");
        out.write(b"world");
        assert_eq!(out.pending(), 11);
        match out.front_mut() {
            Some(Chunk::Bytes { buf, .. }) => assert_eq!(buf, b"hello world"),
            other => panic!("unexpected {other:?}"),
        }
        out.advance(6);
        assert_eq!(out.pending(), 5);
        out.advance(5);
        assert!(out.is_empty());
        assert_eq!(out.pending(), 0);
    }

    #[test]
    fn advance_many_crosses_chunks() {
        let mut out = Output::new();
        out.write_vec(b"abc".to_vec());
        out.write_vec(b"defg".to_vec());
        out.advance_many(5);
        match out.front_mut() {
            Some(Chunk::Bytes { buf, pos }) => assert_eq!(&buf[*pos..], b"fg"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(out.pending(), 2);
    }
}
