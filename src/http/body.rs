//! Request bodies that do not fit in memory, and responses made while they
//! are sent: the two extension points of the HTTP session.
//!
//! - An app may take a request's body into a [`BodySink`] instead of a
//!   buffer ([`Intake`]), decided from the head alone (before `100
//!   Continue`): an upload to a file, where the driver splices the bytes of a
//!   `Content-Length` body straight in, or a streaming `multipart/form-data`
//!   parser. The sink answers once the body is over.
//! - A response may have a [`BodyStream`]: pieces (bytes or file regions)
//!   produced one at a time as the output drains, sent with chunked transfer
//!   coding (HTTP/1.1) or until the connection closes (HTTP/1.0). A stream
//!   that cannot go on ([`Piece::Cut`]) ends the connection without the final
//!   chunk, so the client sees an incomplete response, never a short one that
//!   looks whole. Archives of folders are streams.

use std::fs::File;
use std::io;
use std::sync::Arc;

use super::request::Request;
use super::response::Response;
use crate::server::{InputSink, Output};

/// What the session does with a request's body (see [`super::App::intake`]).
pub enum Intake {
    /// Read it into [`Request::body`] (up to the app's `max_body`).
    Buffer,
    /// Answer now, without reading the body (a refused upload: 403, 409, 413, 507).
    Refuse(Response),
    /// Hand it to this sink as it arrives.
    Sink(Box<dyn BodySink>),
}

/// Where a request body goes as it arrives (an upload).
pub trait BodySink: Send {
    /// Largest body taken, in bytes (more is answered 413).
    fn limit(&self) -> u64;
    /// The next body bytes (chunked coding already removed).
    fn write(&mut self, data: &[u8]);
    /// A file the next `len` raw body bytes may be spliced into unchanged,
    /// when the whole body is one file's content.
    fn splice_target(&self) -> Option<InputSink<'_>> {
        None
    }
    /// `n` bytes were spliced into [`BodySink::splice_target`]; with `error`
    /// the file refused them (disk full).
    fn sunk(&mut self, _n: u64, _error: Option<io::Error>) {}
    /// The body is complete: store it and answer.
    fn finish(self: Box<Self>, req: &Request) -> Response;
}

/// One piece of a streamed response body.
pub enum Piece {
    /// Bytes.
    Bytes(Vec<u8>),
    /// A region of a file (sent with `sendfile` where the model can).
    File {
        /// The open file.
        file: Arc<File>,
        /// Where the region starts.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// The body is complete.
    Done,
    /// The body cannot be completed (a file vanished): the connection ends
    /// without a proper end, and this reason is logged.
    Cut(String),
}

/// A response body made piece by piece while it is sent (an archive).
pub trait BodyStream: Send {
    /// The next piece. Called again only once earlier pieces have mostly left,
    /// so a stream holds at most a piece or two in memory.
    fn next_piece(&mut self) -> Piece;
}

/// Queued output above which a stream waits for the socket.
const STREAM_HOLD: usize = 256 * 1024;

/// A stream being sent by a session.
pub(super) struct Pump {
    /// The body's pieces.
    stream: Box<dyn BodyStream>,
    /// Frame the pieces as chunks (HTTP/1.1); otherwise the close ends the body.
    chunked: bool,
    /// Body bytes queued so far.
    pub(super) sent: u64,
    /// What the response was for, to log a cut.
    pub(super) what: String,
}

/// What a pump did.
pub(super) enum Pumped {
    /// More to come once the output drains.
    More,
    /// The body is complete and its end is queued.
    Done,
    /// The body was cut (logged): close the connection.
    Cut,
}

impl Pump {
    pub(super) fn new(stream: Box<dyn BodyStream>, chunked: bool, what: String) -> Pump {
        Pump {
            stream,
            chunked,
            sent: 0,
            what,
        }
    }

    /// Queues pieces until `out` holds enough or the stream ends.
    pub(super) fn fill(&mut self, out: &mut Output) -> Pumped {
        while out.pending() < STREAM_HOLD {
            let piece = self.stream.next_piece();
            let len = match &piece {
                Piece::Bytes(b) => b.len() as u64,
                Piece::File { len, .. } => *len,
                Piece::Done => {
                    if self.chunked {
                        out.write(b"0\r\n\r\n");
                    }
                    return Pumped::Done;
                }
                Piece::Cut(why) => {
                    tracing::warn!("{}: cut after {} bytes: {why}", self.what, self.sent);
                    return Pumped::Cut;
                }
            };
            if len == 0 {
                continue;
            }
            if self.chunked {
                out.write(format!("{len:x}\r\n").as_bytes());
            }
            match piece {
                Piece::Bytes(b) => out.write_vec(b),
                Piece::File { file, offset, len } => out.send_file(file, offset, len),
                Piece::Done | Piece::Cut(_) => unreachable!("handled above"),
            }
            if self.chunked {
                out.write(b"\r\n");
            }
            self.sent += len;
        }
        Pumped::More
    }
}
