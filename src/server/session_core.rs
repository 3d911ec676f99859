//! The session core: the one place that runs a [`Session`] for a driver.
//!
//! Every driver (blocking, readiness, async) owns a [`SessionCore`] per
//! connection and only does IO and waiting around it: it asks
//! [`SessionCore::wants_input`] before reading, hands what it read to
//! [`SessionCore::input`] (or splices into the session's sink with
//! [`SessionCore::splice`]), reports EOF with [`SessionCore::input_ended`],
//! writes [`SessionCore::out`] and calls [`SessionCore::settle`] whenever the
//! output may have drained. The core keeps the rules that used to be written
//! once per driver:
//!
//! - input the session did not consume is held and offered again with more
//!   data, and again once queued output has drained (a session may stop early
//!   to bound its output — HTTP does for pipelining);
//! - no more input is read while the session holds input back and output is
//!   queued: held input only grows when the session could not use it, so a
//!   client that pipelines faster than it reads is slowed, never cut off;
//! - held input beyond [`Session::max_buffer`] that the session cannot use
//!   (with nothing queued to wait for) is a protocol violation: the
//!   connection is closed;
//! - EOF reaches the session only after everything it held was answered;
//! - reading stops while [`HIGH_WATER`] bytes of output are queued.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Instant;

use super::sink;
use super::{Output, Session};

/// Stop reading while this much output is queued (backpressure).
pub const HIGH_WATER: usize = 256 * 1024;

/// The session held more input than [`Session::max_buffer`] and could not use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// One connection's session with its held input and queued output.
pub struct SessionCore<S: Session> {
    /// The protocol.
    session: S,
    /// Input the session has not consumed yet (empty between requests for most sessions).
    held: Vec<u8>,
    /// Output waiting for the socket.
    out: Output,
    /// Offer `held` again once the output has drained (the session stopped
    /// early, or new bytes joined it).
    reoffer: bool,
    /// The peer has finished sending.
    input_done: bool,
    /// The session has been told about the EOF.
    eof_told: bool,
}

impl<S: Session> SessionCore<S> {
    /// Starts `session` for a connection accepted at `accepted` (its
    /// greeting, if any, is queued in the output).
    pub fn new(mut session: S, accepted: Instant) -> Self {
        let mut out = Output::new();
        session.accepted_at(accepted);
        session.on_connect(&mut out);
        SessionCore {
            session,
            held: Vec::new(),
            out,
            reoffer: false,
            input_done: false,
            eof_told: false,
        }
    }

    /// True when the driver should read (or splice) now.
    pub fn wants_input(&self) -> bool {
        !self.input_done
            && !self.out.wants_close()
            && self.out.pending() < HIGH_WATER
            && (self.held.is_empty() || self.out.is_empty())
    }

    /// The output to write, in order.
    pub fn out(&mut self) -> &mut Output {
        &mut self.out
    }

    /// True when the output queue is empty.
    pub fn out_is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Hands bytes read from the socket to the session.
    pub fn input(&mut self, data: &[u8]) -> Result<(), Overflow> {
        if data.is_empty() {
            return Ok(());
        }
        if self.held.is_empty() {
            // The common case: offer the read buffer itself, keep only the rest.
            let used = self.session.on_input(data, &mut self.out).min(data.len());
            self.held.extend_from_slice(&data[used..]);
        } else {
            self.held.extend_from_slice(data);
            self.offer_held();
        }
        self.reoffer = !self.held.is_empty() && !self.out.is_empty();
        self.settle()
    }

    /// True when the next input goes into the session's input sink (it has
    /// one and holds no input), so the driver should [`SessionCore::splice`].
    pub fn has_sink(&self) -> bool {
        self.held.is_empty() && self.session.input_sink().is_some()
    }

    /// If the session has an input sink and nothing is held, moves what the
    /// socket `fd` holds into it (see [`sink::splice_input`]); `None` means
    /// read as usual. `Ok(0)` is EOF, and is recorded as such.
    pub fn splice(&mut self, fd: BorrowedFd<'_>) -> Option<io::Result<usize>> {
        if !self.held.is_empty() {
            return None;
        }
        let r = sink::splice_input(&mut self.session, fd, &mut self.out)?;
        if let Ok(0) = r {
            self.input_ended();
        }
        Some(r)
    }

    /// The peer has finished sending: the session hears of it once what it
    /// holds has been answered.
    pub fn input_ended(&mut self) {
        self.input_done = true;
        // Cannot overflow: no input was added.
        let _ = self.settle();
    }

    /// Call whenever the output may have drained: offers held input again,
    /// delivers a pending EOF, and checks the held input's bound.
    pub fn settle(&mut self) -> Result<(), Overflow> {
        loop {
            if !self.out.is_empty() {
                return Ok(()); // write first
            }
            self.session.on_drained(&mut self.out);
            if !self.out.is_empty() {
                continue; // more to write first
            }
            if self.out.wants_close() {
                return Ok(());
            }
            if self.reoffer && !self.held.is_empty() {
                self.reoffer = false;
                if self.offer_held() > 0 || !self.out.is_empty() {
                    self.reoffer = !self.held.is_empty();
                    continue;
                }
            }
            // Nothing queued, and the session cannot use what it holds.
            if self.held.len() > self.session.max_buffer() {
                return Err(Overflow);
            }
            if self.input_done && !self.eof_told {
                self.eof_told = true;
                self.session.on_eof(&mut self.out);
                continue;
            }
            return Ok(());
        }
    }

    /// True when the connection is over: everything written, and the session
    /// asked to close or has been told about the peer's EOF.
    pub fn finished(&self) -> bool {
        self.out.is_empty() && (self.out.wants_close() || self.eof_told)
    }

    /// True when a graceful shutdown may close this connection now.
    pub fn is_idle(&self) -> bool {
        self.out.is_empty() && self.held.is_empty() && self.session.is_idle()
    }

    /// When the session wants [`SessionCore::expire`] called, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        self.session.deadline()
    }

    /// True when the session's deadline has passed.
    pub fn deadline_passed(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|d| now >= d)
    }

    /// The shutdown grace period is over: a session that is not idle gets its
    /// last word ([`Session::on_shutdown`]), and what the socket `fd` takes at
    /// once of the output is written. The connection is closed after this.
    pub fn last_word(&mut self, fd: BorrowedFd<'_>) {
        if !self.session.is_idle() {
            self.session.on_shutdown(&mut self.out);
        }
        // Bounded: a blocking socket has a send timeout of one tick.
        for _ in 0..16 {
            match self.out.write_to(fd) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
    }

    /// The shutdown grace period is over for a session served inside another
    /// layer (TLS): a session that is not idle queues its last word
    /// ([`Session::on_shutdown`]) in the output, which the layer then passes on.
    pub fn shutdown_word(&mut self) {
        if !self.session.is_idle() {
            self.session.on_shutdown(&mut self.out);
        }
    }

    /// True when the session holds no unconsumed input (a layer around the
    /// session, TLS, holds back more input while it does and output waits).
    pub fn held_is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The session's deadline passed: it may queue a last reply, then the
    /// connection closes once that is written.
    pub fn expire(&mut self) {
        self.session.on_deadline(&mut self.out);
        self.out.close();
    }

    /// Offers the held input; returns how much the session consumed.
    fn offer_held(&mut self) -> usize {
        let used = self
            .session
            .on_input(&self.held, &mut self.out)
            .min(self.held.len());
        self.held.drain(..used);
        if self.held.is_empty() {
            self.held = Vec::new(); // give the memory back while idle
        }
        used
    }
}

impl<S> Drop for SessionCore<S>
where
    S: Session,
{
    fn drop(&mut self) {
        self.session.on_close(&self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers each `\n`-terminated line with itself, but takes no new line
    /// while `hold` bytes of output are queued (like HTTP's pipelining bound).
    struct Lines {
        hold: usize,
        max: usize,
        eofs: usize,
    }

    impl Session for Lines {
        fn on_input(&mut self, input: &[u8], out: &mut Output) -> usize {
            let mut used = 0;
            while out.pending() < self.hold {
                let Some(end) = input[used..].iter().position(|&b| b == b'\n') else {
                    break;
                };
                out.write(&input[used..used + end + 1]);
                used += end + 1;
            }
            used
        }
        fn on_eof(&mut self, out: &mut Output) {
            self.eofs += 1;
            out.write(b"bye\n");
            out.close();
        }
        fn max_buffer(&self) -> usize {
            self.max
        }
    }

    fn lines(hold: usize, max: usize) -> SessionCore<Lines> {
        SessionCore::new(Lines { hold, max, eofs: 0 }, Instant::now())
    }

    /// Writes everything queued, as a socket that takes all would.
    fn drain(core: &mut SessionCore<Lines>) -> Vec<u8> {
        let mut written = Vec::new();
        while let Some(chunk) = core.out().front_mut() {
            let n = match chunk {
                crate::server::Chunk::Bytes { buf, pos } => {
                    written.extend_from_slice(&buf[*pos..]);
                    buf.len() - *pos
                }
                crate::server::Chunk::File { .. } => unreachable!("no files here"),
            };
            core.out().advance(n);
        }
        written
    }

    #[test]
    fn held_input_is_offered_again_when_output_drains() {
        let mut core = lines(4, 1 << 20);
        core.input(b"a\nb\nc\n").unwrap();
        // "a\n" and "b\n" fill the 4-byte hold; "c\n" is held.
        assert!(
            !core.wants_input(),
            "no reading while input is held behind output"
        );
        assert_eq!(drain(&mut core), b"a\nb\n");
        core.settle().unwrap();
        assert_eq!(drain(&mut core), b"c\n");
        core.settle().unwrap();
        assert!(core.wants_input());
    }

    #[test]
    fn a_pipelining_client_is_slowed_never_cut_off() {
        // Each read brings far more than the bound; the session takes a few
        // lines per drain. Held input never exceeds one read past the bound.
        let mut core = lines(8, 64);
        let request: Vec<u8> = b"0123456\n".repeat(3000);
        let (mut fed, mut answered) = (0, Vec::new());
        while answered.len() < request.len() {
            if core.wants_input() && fed < request.len() {
                let end = (fed + 50).min(request.len());
                core.input(&request[fed..end]).expect("never an overflow");
                fed = end;
            }
            answered.extend(drain(&mut core));
            core.settle().expect("never an overflow");
            assert!(core.held.len() <= 64 + 50, "held {}", core.held.len());
        }
        assert_eq!(answered, request);
    }

    #[test]
    fn input_the_session_cannot_use_past_its_bound_is_an_overflow() {
        let mut core = lines(1 << 20, 16);
        core.input(b"no newline yet").unwrap();
        assert_eq!(core.input(b" and still none"), Err(Overflow));
    }

    #[test]
    fn eof_comes_after_held_input_is_answered() {
        let mut core = lines(2, 1 << 20);
        core.input(b"a\nb\n").unwrap();
        core.input_ended();
        assert_eq!(core.session.eofs, 0, "b is still held");
        assert_eq!(drain(&mut core), b"a\n");
        core.settle().unwrap();
        assert_eq!(drain(&mut core), b"b\n");
        core.settle().unwrap();
        assert_eq!(core.session.eofs, 1);
        assert_eq!(drain(&mut core), b"bye\n");
        assert!(core.finished());
    }

    #[test]
    fn eof_with_an_incomplete_request_is_told_at_once() {
        let mut core = lines(1 << 20, 1 << 20);
        core.input(b"half a li").unwrap();
        core.input_ended();
        assert_eq!(core.session.eofs, 1);
        assert_eq!(drain(&mut core), b"bye\n");
        assert!(core.finished());
    }
}
