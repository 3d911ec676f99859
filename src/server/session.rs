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

use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;

use super::output::Output;

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
    /// When the connection was accepted, told once before [`Session::on_connect`].
    /// A session that bounds the time to its first request counts from here:
    /// on the pool model a connection may wait in the queue before a worker
    /// makes its session.
    fn accepted_at(&mut self, _at: std::time::Instant) {}

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

    /// The output has just been written out completely (`out` is empty):
    /// a session that reports on what was sent (an access log) learns here
    /// that a reply left, and one that produces its output piece by piece
    /// (a TLS layer encrypting a file) queues the next piece. The default
    /// does nothing.
    fn on_drained(&mut self, _out: &mut Output) {}

    /// The connection is over (closed by either side, or dropped): the last
    /// call a session gets; `out` tells what was written of what it queued.
    fn on_close(&mut self, _out: &Output) {}

    /// The server is stopping and its grace period ended while this session
    /// was not idle (an upload still arriving, say). It may queue a last word
    /// (an `ERR` saying the upload was not stored); the driver writes what
    /// the socket takes at once, then closes. The default says nothing.
    fn on_shutdown(&mut self, _out: &mut Output) {}

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
