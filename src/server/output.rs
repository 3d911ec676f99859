//! What a session writes and a driver drains: the [`Output`] queue.
//!
//! A session fills it ([`Output::write`], [`Output::send_file`],
//! [`Output::close`]); the driver, in the models, writes it to the socket
//! with vectored writes and `sendfile(2)` through the crate-private half.
//! A session's tests read back what it queued with [`Output::take`].

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use crate::sys;

/// One queued piece of output, as [`Output::take`] hands it back.
#[derive(Debug)]
pub enum Queued {
    /// Bytes.
    Bytes(Vec<u8>),
    /// A region of a file.
    File {
        /// The open file.
        file: Arc<File>,
        /// Where the region starts.
        offset: u64,
        /// How long it is.
        len: u64,
    },
}

/// One piece of pending output, with the driver's progress through it.
#[derive(Debug)]
pub(crate) enum Chunk {
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

/// The queue of chunks: the front one inline (a reply is usually a single
/// chunk of bytes), the others in a deque that keeps no memory once it is
/// empty, so an idle connection's output holds nothing on the heap and a
/// one-chunk reply allocates no queue.
#[derive(Debug, Default)]
struct Chunks {
    /// The front; `None` only when `rest` is empty too.
    head: Option<Chunk>,
    rest: VecDeque<Chunk>,
}

impl Chunks {
    fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }

    fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    fn front(&self) -> Option<&Chunk> {
        self.head.as_ref()
    }

    fn front_mut(&mut self) -> Option<&mut Chunk> {
        self.head.as_mut()
    }

    fn back_mut(&mut self) -> Option<&mut Chunk> {
        if self.rest.is_empty() {
            self.head.as_mut()
        } else {
            self.rest.back_mut()
        }
    }

    fn push_back(&mut self, c: Chunk) {
        if self.head.is_none() {
            self.head = Some(c);
        } else {
            self.rest.push_back(c);
        }
    }

    fn push_front(&mut self, c: Chunk) {
        if let Some(old) = self.head.replace(c) {
            self.rest.push_front(old);
        }
    }

    fn pop_front(&mut self) -> Option<Chunk> {
        let c = self.head.take();
        self.head = self.rest.pop_front();
        if self.rest.is_empty() && self.rest.capacity() > 0 {
            self.rest = VecDeque::new();
        }
        c
    }

    fn iter(&self) -> impl Iterator<Item = &Chunk> {
        self.head.iter().chain(self.rest.iter())
    }

    /// Empties the queue, front first.
    fn take_all(&mut self) -> impl Iterator<Item = Chunk> + use<> {
        let rest = std::mem::take(&mut self.rest);
        self.head.take().into_iter().chain(rest)
    }
}

/// What a session wants written, in order, plus whether to close afterwards.
#[derive(Debug, Default)]
pub struct Output {
    chunks: Chunks,
    /// Bytes still queued (file regions included).
    pending: usize,
    /// File regions queued (each holds an open file).
    files: usize,
    /// Bytes ever queued, and ever written (or taken): a session compares
    /// the two to know how much of a reply actually left.
    queued_total: u64,
    written_total: u64,
    close: bool,
    /// The front chunk's bytes are being read by the kernel (an io_uring
    /// send in flight): they must stay where they are, so writes do not
    /// append to that chunk.
    pinned: bool,
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
        self.queued_total += bytes.len() as u64;
        let back_is_pinned = self.pinned && self.chunks.len() == 1;
        if let Some(Chunk::Bytes { buf, .. }) = self.chunks.back_mut()
            && !back_is_pinned
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
        self.queued_total += buf.len() as u64;
        self.chunks.push_back(Chunk::Bytes { buf, pos: 0 });
    }

    /// Queues `len` bytes of `file` starting at `offset` (zero-copy where possible).
    pub fn send_file(&mut self, file: Arc<File>, offset: u64, len: u64) {
        if len == 0 {
            return;
        }
        self.pending = self.pending.saturating_add(len as usize);
        self.files += 1;
        self.queued_total += len;
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

    /// Bytes queued since the output was made.
    pub fn queued_total(&self) -> u64 {
        self.queued_total
    }

    /// Bytes written to the socket (or taken with [`Output::take`]) since
    /// the output was made; `queued_total() - written_total()` never left.
    pub fn written_total(&self) -> u64 {
        self.written_total
    }

    /// File regions still queued: each holds its file open, so a session
    /// bounds how many pipelined downloads it queues with this.
    pub fn queued_files(&self) -> usize {
        self.files
    }

    /// True when nothing is waiting to be written.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Takes everything queued, in order, leaving the queue empty (a close
    /// request stays): for a session's unit tests, and for replies built once
    /// ahead of time.
    pub fn take(&mut self) -> Vec<Queued> {
        // A pinned front is being sent by the kernel: it stays, on its way.
        let kept = if self.pinned {
            self.chunks.pop_front()
        } else {
            None
        };
        let kept_len = match &kept {
            Some(Chunk::Bytes { buf, pos }) => buf.len() - pos,
            _ => 0,
        };
        self.pending = kept_len;
        self.files = 0;
        self.written_total = self.queued_total - kept_len as u64;
        let taken = self
            .chunks
            .take_all()
            .map(|c| match c {
                Chunk::Bytes { mut buf, pos } => {
                    buf.drain(..pos);
                    Queued::Bytes(buf)
                }
                Chunk::File { file, offset, len } => Queued::File { file, offset, len },
            })
            .collect();
        if let Some(k) = kept {
            self.chunks.push_front(k);
        }
        taken
    }

    /// Takes the queued bytes as one buffer, file regions as `<file N bytes>`
    /// placeholders (see [`Output::take`]).
    pub fn take_bytes(&mut self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.pending.min(1 << 20));
        for q in self.take() {
            match q {
                Queued::Bytes(b) => v.extend_from_slice(&b),
                Queued::File { len, .. } => {
                    v.extend_from_slice(format!("<file {len} bytes>").as_bytes())
                }
            }
        }
        v
    }
}

// The driver's half: what the models use to write the queue out.
impl Output {
    fn pop_front(&mut self) -> Option<Chunk> {
        let c = self.chunks.pop_front();
        if let Some(Chunk::File { .. }) = c {
            self.files -= 1;
        }
        c
    }

    /// The chunk to write next.
    pub(crate) fn front_mut(&mut self) -> Option<&mut Chunk> {
        self.chunks.front_mut()
    }

    /// Records that `n` bytes of the front chunk were written, dropping it when done.
    pub(crate) fn advance(&mut self, n: usize) {
        self.pending = self.pending.saturating_sub(n);
        self.written_total += n as u64;
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
            self.pop_front();
        }
    }

    /// The unsent bytes of the front chunk (at most `max`), pinned: until
    /// [`Output::unpin`], the session may go on queueing, but those bytes
    /// stay at the address returned, for a driver whose writes complete
    /// later (io_uring). `None` if the front is not bytes.
    pub(crate) fn pin_front(&mut self, max: usize) -> Option<&[u8]> {
        match self.chunks.front() {
            Some(Chunk::Bytes { buf, pos }) => {
                self.pinned = true;
                Some(&buf[*pos..buf.len().min(pos + max)])
            }
            _ => None,
        }
    }

    /// Ends [`Output::pin_front`]; then [`Output::advance`] by what was sent.
    pub(crate) fn unpin(&mut self) {
        self.pinned = false;
    }

    /// Drops the front chunk (for a file region that can no longer be read).
    pub(crate) fn drop_front(&mut self) {
        if let Some(c) = self.pop_front() {
            let left = match c {
                Chunk::Bytes { buf, pos } => buf.len() - pos,
                Chunk::File { len, .. } => len as usize,
            };
            self.pending = self.pending.saturating_sub(left);
        }
    }

    /// Fills `into` with the leading byte chunks (as many as fit, up to the
    /// first file region), for vectored writes; returns how many were filled.
    pub(crate) fn byte_slices<'a>(&'a self, into: &mut [std::io::IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, c) in into.iter_mut().zip(self.chunks.iter()) {
            match c {
                Chunk::Bytes { buf, pos } => *slot = std::io::IoSlice::new(&buf[*pos..]),
                Chunk::File { .. } => break,
            }
            n += 1;
        }
        n
    }

    /// Records that `n` bytes were written across leading byte chunks.
    pub(crate) fn advance_many(&mut self, mut n: usize) {
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
    /// Moves the front chunk (at most `max` bytes of it) into `w`, a layer
    /// that transforms what it is given (TLS): bytes as they are, a file
    /// region read with `pread` through `scratch`. Advances past what `w`
    /// took. `Ok(0)` with output still queued means a file region could not
    /// be read any further (the file shrank); the caller should close.
    pub(crate) fn write_into(
        &mut self,
        w: &mut impl io::Write,
        scratch: &mut Vec<u8>,
        max: usize,
    ) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = match self.chunks.front() {
            None => return Ok(0),
            Some(Chunk::Bytes { buf, pos }) => {
                let end = buf.len().min(pos + max);
                w.write(&buf[*pos..end])?
            }
            Some(Chunk::File { file, offset, len }) => {
                let want = (*len).min(max as u64) as usize;
                scratch.resize(want.max(scratch.len()), 0);
                let got = file.read_at(&mut scratch[..want], *offset)?;
                if got == 0 {
                    self.drop_front();
                    return Ok(0);
                }
                w.write(&scratch[..got])?
            }
        };
        self.advance(n);
        Ok(n)
    }

    /// One write step of the driver: a vectored write of the leading byte
    /// chunks, or one `sendfile` for a leading file region; advances past what
    /// was written. `Ok(0)` with output still queued means a file region could
    /// not be read any further (the file shrank); the caller should close.
    pub(crate) fn write_to(&mut self, sock: BorrowedFd<'_>) -> io::Result<usize> {
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
    fn an_idle_output_holds_no_queue_memory() {
        let mut out = Output::new();
        // A one-chunk reply: the queue never allocates.
        out.write(b"HTTP/1.1 200 OK\r\n\r\nhello");
        assert_eq!(out.chunks.rest.capacity(), 0);
        out.advance(out.pending());
        assert!(out.is_empty());
        // Several chunks spill into the deque, in order ...
        out.write(b"head");
        out.write_vec(b"body".to_vec());
        out.write_vec(b"tail".to_vec());
        assert!(out.chunks.rest.capacity() > 0);
        let mut slices = [io::IoSlice::new(&[]); 4];
        let n = out.byte_slices(&mut slices);
        let joined: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(joined, b"headbodytail");
        // ... which gives its memory back once drained.
        out.advance_many(12);
        assert!(out.is_empty());
        assert_eq!(out.chunks.rest.capacity(), 0);
    }

    #[test]
    fn a_pinned_front_stays_put_while_the_session_queues_more() {
        let mut out = Output::new();
        out.write(b"head");
        let (addr, len) = {
            let front = out.pin_front(1024).unwrap();
            (front.as_ptr(), front.len())
        };
        assert_eq!(len, 4);
        // Enough to reallocate the front's buffer if it were appended to.
        out.write(&[b'x'; 10_000]);
        match out.front_mut() {
            Some(Chunk::Bytes { buf, .. }) => {
                assert_eq!(buf.as_ptr(), addr);
                assert_eq!(buf, b"head");
            }
            other => panic!("unexpected {other:?}"),
        }
        out.unpin();
        out.advance(4);
        assert_eq!(out.pending(), 10_000);
        assert_eq!(out.written_total(), 4);
        // What a session takes while the front is pinned leaves the front.
        out.pin_front(1024);
        out.write(b"tail");
        let taken = out.take();
        assert!(matches!(&taken[..], [Queued::Bytes(b)] if b == b"tail"));
        assert_eq!(out.pending(), 10_000);
        out.unpin();
        // Unpinned, small writes coalesce again.
        out.write(b"y");
        assert_eq!(out.chunks.len(), 1);
        assert_eq!(out.pin_front(3).unwrap(), b"xxx");
    }

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
    fn queued_files_are_counted_until_written_dropped_or_taken() {
        let file = Arc::new(tempfile::tempfile().unwrap());
        let mut out = Output::new();
        out.send_file(Arc::clone(&file), 0, 10);
        out.write(b"x");
        out.send_file(Arc::clone(&file), 0, 5);
        out.send_file(Arc::clone(&file), 0, 0); // nothing to send, not queued
        assert_eq!(out.queued_files(), 2);
        out.advance(4);
        assert_eq!(out.queued_files(), 2);
        out.advance(6);
        assert_eq!(out.queued_files(), 1);
        out.advance(1);
        out.drop_front();
        assert_eq!(out.queued_files(), 0);
        out.send_file(file, 0, 3);
        assert_eq!(out.take().len(), 1);
        assert_eq!(out.queued_files(), 0);
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
