//! The HTTP/1.1 connection as a sans-IO state machine.
//!
//! Bytes come in; complete requests are answered in order (so pipelined
//! requests get in-order responses for free, since the output queue is
//! ordered); keep-alive follows the request's version and `Connection`
//! header. Limits answer with the right status and close: 400 malformed,
//! 413 body too large, 414/431 oversized heads, 408 when a started request
//! head or body does not complete within the header timeout (slowloris).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::app::{Answer, App};
use super::body::{BodySink, BodyStream, Intake, Pump, Pumped};
use super::log::Entry;
use super::metrics::Metrics;
use super::request::{BodyKind, Chunked, ChunkedDecoder, Head, MAX_HEAD, Request, parse_head};
use super::response::Response;
use crate::server::{InputSink, Output, Peer, Service, Session};

/// A refused body up to this size is read and dropped, so the refusal can be
/// read and the connection kept; a larger one (or one the client waits to
/// send, `Expect: 100-continue`) is refused before it comes, and the
/// connection closed.
const DISCARD_MAX: u64 = 64 * 1024;

/// Queued output above which further pipelined requests wait (bounds memory per connection).
const PIPELINE_HOLD: usize = 256 * 1024;

/// The HTTP service: one [`HttpSession`] per connection, all sharing the app.
#[derive(Clone)]
pub struct HttpService {
    app: Arc<App>,
    /// How long a started request (head and body) may take to arrive.
    pub header_timeout: Duration,
    /// Counters shared by every worker.
    pub metrics: Arc<Metrics>,
}

impl HttpService {
    /// Serves `app` with a 10 s header timeout.
    pub fn new(app: App) -> Self {
        HttpService {
            app: Arc::new(app),
            header_timeout: Duration::from_secs(10),
            metrics: Arc::new(Metrics::new("http")),
        }
    }
}

impl Service for HttpService {
    type Session = HttpSession;

    fn overload_reply(&self) -> Option<Vec<u8>> {
        let mut out = Output::new();
        Response::error(
            503,
            "the server is at its connection limit; try again shortly",
        )
        .header("Retry-After", "1")
        .encode(false, false, &mut out);
        let mut bytes = Vec::new();
        while let Some(crate::server::Chunk::Bytes { buf, pos }) = out.front_mut() {
            bytes.extend_from_slice(&buf[*pos..]);
            out.drop_front();
        }
        Some(bytes)
    }
    fn session(&self, peer: &Peer) -> HttpSession {
        self.metrics.opened();
        let peer = match peer {
            Peer::Inet(a) => Some(*a),
            Peer::Unix => None,
        };
        HttpSession {
            app: Arc::clone(&self.app),
            metrics: Arc::clone(&self.metrics),
            counted: 0,
            peer,
            state: State::Head,
            started: None,
            accepted: None,
            unlogged: VecDeque::new(),
            header_timeout: self.header_timeout,
            done: false,
            pump: None,
            user: None,
        }
    }
}

enum State {
    /// Waiting for (the rest of) a request head.
    Head,
    /// Reading a body of known length.
    /// (Requests are boxed so an idle connection's session stays small.)
    Body { req: Box<Request>, left: u64 },
    /// Reading a chunked body.
    Chunked {
        req: Box<Request>,
        decoder: ChunkedDecoder,
    },
    /// Handing a body to the app's sink (an upload): `left` bytes of a
    /// `Content-Length` body, or a chunked body with `taken` bytes so far.
    Sink {
        req: Box<Request>,
        sink: Box<dyn BodySink>,
        left: Option<u64>,
        decoder: ChunkedDecoder,
        taken: u64,
    },
}

/// One HTTP connection.
pub struct HttpSession {
    app: Arc<App>,
    metrics: Arc<Metrics>,
    /// Bytes of the output already counted in the metrics.
    counted: u64,
    peer: Option<SocketAddr>,
    state: State,
    /// When the current request's first byte arrived (None between requests).
    started: Option<Instant>,
    /// Until the first request is complete: when the connection was
    /// accepted, so the time to the first request is bounded from accept
    /// (a silent client cannot pin a worker of a blocking model).
    accepted: Option<Instant>,
    header_timeout: Duration,
    /// The connection is closing: ignore further input.
    done: bool,
    /// Replies queued but not yet (completely) written, for the access log.
    unlogged: VecDeque<Unlogged>,
    /// A response body being streamed (an archive); no further request is
    /// taken until it is over.
    pump: Option<Pump>,
    /// The user the request being answered authenticated as.
    user: Option<std::sync::Arc<str>>,
}

/// An access-log line waiting for its reply to leave.
struct Unlogged {
    entry: Entry,
    status: u16,
    /// Where the reply ends in the output's byte count.
    end: u64,
    /// The body's length.
    body: u64,
}

impl Session for HttpSession {
    fn on_input(&mut self, input: &[u8], out: &mut Output) -> usize {
        let mut used = 0;
        // Stop taking pipelined requests while much output is queued; the
        // driver offers the rest again once it has been written.
        while !self.done
            && self.pump.is_none()
            && used < input.len()
            && out.pending() < PIPELINE_HOLD
        {
            if self.started.is_none() {
                // Empty lines before a request are ignored (RFC 9112 2.2):
                // they start no request, no timer, and do not hold shutdown.
                let blank = input[used..]
                    .iter()
                    .take_while(|b| matches!(b, b'\r' | b'\n'))
                    .count();
                used += blank;
                if used == input.len() {
                    return used;
                }
                self.started = Some(crate::server::clock::now());
            }
            match std::mem::replace(&mut self.state, State::Head) {
                State::Head => match parse_head(&input[used..]) {
                    Head::Partial => return used,
                    Head::Error(status, why) => {
                        self.fail(status, why, out);
                    }
                    Head::Complete {
                        mut request,
                        body,
                        len,
                    } => {
                        used += len;
                        request.peer = self.peer;
                        let expects_continue = request
                            .header("expect")
                            .map(|e| e.eq_ignore_ascii_case("100-continue"));
                        if expects_continue == Some(false) {
                            self.fail(417, "unsupported expectation", out);
                            continue;
                        }
                        match self.app.intake(&request, body) {
                            Intake::Buffer => {}
                            Intake::Refuse(resp) => {
                                self.refuse(request, body, resp, expects_continue.is_some(), out);
                                continue;
                            }
                            Intake::Sink(sink) => {
                                self.take_into(request, body, sink, expects_continue, out);
                                continue;
                            }
                        }
                        match body {
                            BodyKind::None => self.dispatch(request, out),
                            BodyKind::Length(n) if n > self.app.max_body => {
                                self.fail(413, "request body too large", out);
                            }
                            BodyKind::Length(n) => {
                                if expects_continue == Some(true) {
                                    out.write(b"HTTP/1.1 100 Continue\r\n\r\n");
                                }
                                request.body.reserve(n.min(1 << 20) as usize);
                                self.state = State::Body {
                                    req: Box::new(request),
                                    left: n,
                                };
                            }
                            BodyKind::Chunked => {
                                if expects_continue == Some(true) {
                                    out.write(b"HTTP/1.1 100 Continue\r\n\r\n");
                                }
                                self.state = State::Chunked {
                                    req: Box::new(request),
                                    decoder: ChunkedDecoder::default(),
                                };
                            }
                        }
                    }
                },
                State::Body { mut req, left } => {
                    let take = (left as usize).min(input.len() - used);
                    req.body.extend_from_slice(&input[used..used + take]);
                    used += take;
                    if left == take as u64 {
                        self.dispatch(*req, out);
                    } else {
                        self.state = State::Body {
                            req,
                            left: left - take as u64,
                        };
                    }
                }
                State::Chunked {
                    mut req,
                    mut decoder,
                } => match decoder.feed(&input[used..], &mut req.body, self.app.max_body) {
                    Ok(Chunked::More(n)) => {
                        used += n;
                        self.state = State::Chunked { req, decoder };
                        return used;
                    }
                    Ok(Chunked::Done(n)) => {
                        used += n;
                        self.dispatch(*req, out);
                    }
                    Ok(Chunked::Invalid) => self.fail(400, "malformed chunked body", out),
                    Err(_) => self.fail(413, "request body too large", out),
                },
                State::Sink {
                    req,
                    mut sink,
                    left,
                    mut decoder,
                    mut taken,
                } => match left {
                    Some(left) => {
                        let take = (left as usize).min(input.len() - used);
                        sink.write(&input[used..used + take]);
                        used += take;
                        self.sink_progress(req, sink, left - take as u64, out);
                    }
                    None => {
                        let mut body = Vec::new();
                        let room = sink.limit().saturating_sub(taken);
                        let fed = decoder.feed(&input[used..], &mut body, room);
                        sink.write(&body);
                        taken += body.len() as u64;
                        match fed {
                            Ok(Chunked::More(n)) => {
                                used += n;
                                self.state = State::Sink {
                                    req,
                                    sink,
                                    left: None,
                                    decoder,
                                    taken,
                                };
                                return used;
                            }
                            Ok(Chunked::Done(n)) => {
                                used += n;
                                let resp = self.stored(&req, sink.finish(&req));
                                self.reply(*req, resp, None, out);
                            }
                            Ok(Chunked::Invalid) => self.fail(400, "malformed chunked body", out),
                            Err(_) => self.fail(413, "upload larger than the server accepts", out),
                        }
                    }
                },
            }
        }
        if self.done { input.len() } else { used }
    }

    fn on_eof(&mut self, out: &mut Output) {
        out.close();
    }

    fn is_idle(&self) -> bool {
        self.started.is_none() && matches!(self.state, State::Head) && self.pump.is_none()
    }

    fn input_sink(&self) -> Option<InputSink<'_>> {
        match &self.state {
            State::Sink {
                sink,
                left: Some(left),
                ..
            } if *left > 0 => sink.splice_target().map(|mut t| {
                t.len = t.len.min(*left);
                t
            }),
            _ => None,
        }
    }

    fn on_sunk(&mut self, moved: u64, error: Option<std::io::Error>, out: &mut Output) {
        if let State::Sink {
            req,
            mut sink,
            left: Some(left),
            ..
        } = std::mem::replace(&mut self.state, State::Head)
        {
            let moved = moved.min(left);
            sink.sunk(moved, error);
            self.sink_progress(req, sink, left - moved, out);
        }
    }

    fn max_buffer(&self) -> usize {
        MAX_HEAD + 4096
    }

    fn deadline(&self) -> Option<Instant> {
        if self.done || matches!(self.state, State::Sink { .. }) {
            // An upload may take as long as its bytes keep coming: the idle
            // timeout, not the header timeout, bounds a stalled one.
            None
        } else {
            self.accepted
                .or(self.started)
                .map(|t| t + self.header_timeout)
        }
    }

    fn accepted_at(&mut self, at: Instant) {
        self.accepted = Some(at);
    }

    fn on_drained(&mut self, out: &mut Output) {
        if let Some(pump) = &mut self.pump {
            match pump.fill(out) {
                Pumped::More => {}
                Pumped::Done => {
                    let sent = pump.sent;
                    self.pump = None;
                    if self.done {
                        out.close();
                    }
                    if let Some(u) = self.unlogged.back_mut() {
                        u.end = out.queued_total();
                        u.body = sent;
                    }
                }
                Pumped::Cut => {
                    self.pump = None;
                    self.done = true;
                    out.close();
                }
            }
        }
        if !self.unlogged.is_empty() {
            self.log_sent(out, false);
        }
    }

    fn on_close(&mut self, out: &Output) {
        self.count_written(out);
        if let Some(pump) = self.pump.take() {
            tracing::warn!(
                "{}: connection closed after {} bytes, before the end",
                pump.what,
                pump.sent
            );
        }
        if !self.unlogged.is_empty() {
            self.log_sent(out, true);
        }
    }

    fn on_shutdown(&mut self, out: &mut Output) {
        if self.pump.take().is_some() {
            // A streamed body cannot be finished: end it without its end.
            self.done = true;
            out.close();
            return;
        }
        if !self.done && self.started.is_some() {
            self.fail(503, "the server is shutting down", out);
        }
    }

    fn on_deadline(&mut self, out: &mut Output) {
        if self.started.is_none() && matches!(self.state, State::Head) {
            // Nothing of a request arrived: nothing to answer, just close.
            self.done = true;
            self.accepted = None;
            out.close();
            return;
        }
        self.fail(408, "request not received in time", out);
    }
}

impl HttpSession {
    /// Answers with an error status and closes the connection.
    fn fail(&mut self, status: u16, why: &str, out: &mut Output) {
        self.metrics.answered(status, self.took());
        if self.app.access_log {
            let entry = Entry {
                micros: self.took().as_micros() as u64,
                ..Entry::default()
            };
            self.log_line(&entry, status, 0);
        }
        Response::error(status, why).encode(false, false, out);
        out.close();
        self.done = true;
        self.started = None;
    }

    /// An upload's body is refused before it is read: a small one that is
    /// already coming is read and dropped (the connection stays), anything
    /// else is answered now and the connection closed.
    fn refuse(
        &mut self,
        req: Request,
        body: BodyKind,
        resp: Response,
        expects_continue: bool,
        out: &mut Output,
    ) {
        match body {
            BodyKind::None => self.reply(req, resp, None, out),
            BodyKind::Length(n) if n <= DISCARD_MAX && !expects_continue => {
                let sink = Box::new(Discard {
                    resp: Some(resp),
                    limit: DISCARD_MAX,
                });
                self.take_into(req, body, sink, None, out);
            }
            _ => {
                let mut req = req;
                // Answer, then close: the body is never read.
                req.add_header("connection", "close");
                self.reply(req, resp, None, out);
            }
        }
    }

    /// Starts handing the body of `req` to `sink` (with `100 Continue` first
    /// when the client waits for it).
    fn take_into(
        &mut self,
        req: Request,
        body: BodyKind,
        sink: Box<dyn BodySink>,
        expects_continue: Option<bool>,
        out: &mut Output,
    ) {
        let left = match body {
            BodyKind::None => Some(0),
            BodyKind::Length(n) if n > sink.limit() => {
                return self.fail(413, "upload larger than the server accepts", out);
            }
            BodyKind::Length(n) => Some(n),
            BodyKind::Chunked => None,
        };
        if expects_continue == Some(true) && left != Some(0) {
            out.write(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        match left {
            Some(left) => self.sink_progress(Box::new(req), sink, left, out),
            None => {
                self.state = State::Sink {
                    req: Box::new(req),
                    sink,
                    left: None,
                    decoder: ChunkedDecoder::default(),
                    taken: 0,
                }
            }
        }
    }

    /// `left` bytes of a `Content-Length` body are still to come for `sink`:
    /// waits for them, or finishes the upload and answers.
    fn sink_progress(
        &mut self,
        req: Box<Request>,
        sink: Box<dyn BodySink>,
        left: u64,
        out: &mut Output,
    ) {
        if left > 0 {
            self.state = State::Sink {
                req,
                sink,
                left: Some(left),
                decoder: ChunkedDecoder::default(),
                taken: 0,
            };
            return;
        }
        let resp = self.stored(&req, sink.finish(&req));
        self.reply(*req, resp, None, out);
    }

    /// The answer of a finished upload, through the app's policy; a stored
    /// upload is seen by the next request at once.
    fn stored(&self, req: &Request, resp: Response) -> Response {
        if (200..300).contains(&resp.status) {
            self.app.changed();
        }
        self.app.finish(req, resp)
    }

    /// Time since the current request's first byte.
    fn took(&self) -> Duration {
        self.started
            .map(|t| crate::server::clock::now().saturating_duration_since(t))
            .unwrap_or_default()
    }

    /// Adds the bytes written since the last count to the metrics.
    fn count_written(&mut self, out: &Output) {
        let written = out.written_total();
        self.metrics.wrote(written.saturating_sub(self.counted));
        self.counted = self.counted.max(written);
    }

    /// Answers a complete request.
    fn dispatch(&mut self, req: Request, out: &mut Output) {
        let Answer {
            response,
            stream,
            user,
        } = self.app.answer(&req);
        self.user = user;
        self.reply(req, response, stream, out);
    }

    /// Sends the answer to `req`, with a streamed body after its head when `stream` is given.
    fn reply(
        &mut self,
        req: Request,
        mut resp: Response,
        stream: Option<Box<dyn BodyStream>>,
        out: &mut Output,
    ) {
        let took = self.took();
        self.metrics.answered(resp.status, took);
        self.count_written(out);
        if self.app.hsts {
            resp = resp.header("Strict-Transport-Security", "max-age=31536000");
        }
        // A streamed body without chunked coding (HTTP/1.0) ends with the connection.
        let keep = req.keep_alive()
            && !(stream.is_some() && req.version == super::request::Version::Http10);
        if self.app.access_log {
            let wants = self.app.log_format.wants_headers();
            let entry = Entry {
                request: Some(format!(
                    "{} {} {}",
                    req.method,
                    req.target,
                    if req.version == super::request::Version::Http10 {
                        "HTTP/1.0"
                    } else {
                        "HTTP/1.1"
                    }
                )),
                user: self.user.take(),
                referer: wants
                    .then(|| req.header("referer").map(str::to_string))
                    .flatten(),
                agent: wants
                    .then(|| req.header("user-agent").map(str::to_string))
                    .flatten(),
                micros: took.as_micros() as u64,
            };
            let body = if req.method == "HEAD" {
                0
            } else {
                resp.body_len()
            };
            let status = resp.status;
            let streaming = stream.is_some() && req.method != "HEAD";
            self.encode(&req, resp, stream, keep, out);
            // Logged once the reply has left, with the body bytes that did
            // (a streamed body's length is known at its end).
            let (end, body) = if streaming {
                (u64::MAX, u64::MAX)
            } else {
                (out.queued_total(), body)
            };
            self.unlogged.push_back(Unlogged {
                entry,
                status,
                end,
                body,
            });
        } else {
            self.encode(&req, resp, stream, keep, out);
        }
        if !keep {
            // A streamed body closes the connection at its end (on_drained).
            if self.pump.is_none() {
                out.close();
            }
            self.done = true;
        }
        self.started = None;
        self.accepted = None;
    }

    /// Encodes `resp`; a streamed body starts after the head.
    fn encode(
        &mut self,
        req: &Request,
        resp: Response,
        stream: Option<Box<dyn BodyStream>>,
        keep: bool,
        out: &mut Output,
    ) {
        let head_only = req.method == "HEAD";
        match stream {
            Some(stream) if !head_only => {
                let chunked = req.version == super::request::Version::Http11;
                resp.encode_streamed_head(chunked, keep, out);
                let mut pump = Pump::new(stream, chunked, format!("{} {}", req.method, req.target));
                match pump.fill(out) {
                    Pumped::More => self.pump = Some(pump),
                    Pumped::Done => {}
                    Pumped::Cut => {
                        self.done = true;
                        out.close();
                    }
                }
            }
            Some(_) => {
                // HEAD: the head a GET would get, without the body.
                let chunked = req.version == super::request::Version::Http11;
                resp.encode_streamed_head(chunked, keep, out);
            }
            None => resp.encode(head_only, keep, out),
        }
    }

    /// Logs the replies that have left (all of them when `closing`, with the
    /// body bytes that were actually written: a download cut at 1 MB is
    /// logged as 1 MB, not as the whole file).
    fn log_sent(&mut self, out: &Output, closing: bool) {
        let written = out.written_total();
        while let Some(u) = self.unlogged.front() {
            let sent = if written >= u.end {
                u.body
            } else if closing {
                u.body.min(written.saturating_sub(u.end - u.body))
            } else {
                return;
            };
            let u = self.unlogged.pop_front().expect("front exists");
            self.log_line(&u.entry, u.status, sent);
        }
    }

    fn log_line(&self, entry: &Entry, status: u16, bytes: u64) {
        if !self.app.access_log {
            return;
        }
        let line = self
            .app
            .log_format
            .line(entry, self.peer, status, bytes, unix_now());
        tracing::info!(target: "netkit::access", "{line}");
    }
}

/// Seconds since the epoch, from the loop's clock (read once per turn).
fn unix_now() -> i64 {
    crate::server::clock::system_now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Drop for HttpSession {
    fn drop(&mut self) {
        self.metrics.closed();
    }
}

/// The sink of a small refused body: drops it, then gives the refusal.
struct Discard {
    resp: Option<Response>,
    limit: u64,
}

impl BodySink for Discard {
    fn limit(&self) -> u64 {
        self.limit
    }
    fn write(&mut self, _data: &[u8]) {}
    fn finish(mut self: Box<Self>, _req: &Request) -> Response {
        self.resp
            .take()
            .unwrap_or_else(|| Response::error(500, "no answer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Chunk;

    fn service() -> HttpService {
        let app = App::new()
            .get("/hi", |_| Response::text(200, "hi"))
            .post("/echo", |r| {
                Response::bytes(200, "application/octet-stream", r.body.clone())
            });
        HttpService::new(app)
    }

    fn drain(out: &mut Output) -> String {
        let mut v = Vec::new();
        while let Some(Chunk::Bytes { buf, pos }) = out.front_mut() {
            v.extend_from_slice(&buf[*pos..]);
            out.drop_front();
        }
        String::from_utf8(v).unwrap()
    }

    fn feed_all(s: &mut HttpSession, mut input: &[u8], out: &mut Output) {
        let mut pending = Vec::new();
        while !input.is_empty() {
            pending.push(input[0]);
            input = &input[1..];
            let used = s.on_input(&pending, out);
            pending.drain(..used);
        }
    }

    #[test]
    fn pipelined_requests_answered_in_order_byte_by_byte() {
        let svc = service();
        let mut s = svc.session(&Peer::Unix);
        let mut out = Output::new();
        feed_all(&mut s, b"GET /hi HTTP/1.1\r\nHost: h\r\n\r\nPOST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /nope HTTP/1.1\r\nHost: h\r\n\r\n", &mut out);
        let text = drain(&mut out);
        let statuses: Vec<&str> = text
            .match_indices("HTTP/1.1 ")
            .map(|(i, _)| &text[i + 9..i + 12])
            .collect();
        assert_eq!(statuses, ["200", "200", "404"]);
        assert!(text.contains("\r\n\r\nhi"));
        assert!(text.contains("\r\n\r\nabc"));
        assert!(!out.wants_close());
    }

    #[test]
    fn chunked_body_and_limits() {
        let svc = service();
        let mut s = svc.session(&Peer::Unix);
        let mut out = Output::new();
        feed_all(&mut s, b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", &mut out);
        assert!(drain(&mut out).ends_with("\r\n\r\nabcde"));

        let mut s = svc.session(&Peer::Unix);
        let mut out = Output::new();
        let used = s.on_input(
            b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999\r\n\r\n",
            &mut out,
        );
        assert!(drain(&mut out).starts_with("HTTP/1.1 413"));
        assert!(out.wants_close());
        assert!(used > 0);
    }

    #[test]
    fn wrong_method_gets_405_with_allow() {
        let svc = service();
        let mut s = svc.session(&Peer::Unix);
        let mut out = Output::new();
        s.on_input(b"DELETE /hi HTTP/1.1\r\nHost: h\r\n\r\n", &mut out);
        let text = drain(&mut out);
        assert!(text.starts_with("HTTP/1.1 405"));
        assert!(text.contains("Allow: GET, HEAD"));
    }

    #[test]
    fn the_first_request_is_timed_from_accept() {
        let svc = service();
        let mut s = svc.session(&Peer::Unix);
        let mut out = Output::new();
        let accepted = Instant::now() - Duration::from_secs(1);
        s.accepted_at(accepted);
        assert_eq!(s.deadline(), Some(accepted + s.header_timeout));
        // A silent client is closed without a reply.
        s.on_deadline(&mut out);
        assert!(out.wants_close() && out.is_empty());

        let mut s = svc.session(&Peer::Unix);
        s.accepted_at(accepted);
        let mut out = Output::new();
        let req = b"GET /hi HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(s.on_input(req, &mut out), req.len());
        // Served: later requests are timed from their own first byte.
        assert!(s.deadline().is_none());
    }

    #[test]
    fn empty_lines_between_requests_are_ignored() {
        let svc = service();
        let mut s = svc.session(&Peer::Unix);
        let mut out = Output::new();
        assert_eq!(s.on_input(b"\r\n\r\n\n", &mut out), 5);
        assert!(s.deadline().is_none() && s.is_idle());
        assert!(out.is_empty());
        let input = b"\r\nGET /hi HTTP/1.1\r\nHost: x\r\n\r\n\r\n";
        assert_eq!(s.on_input(input, &mut out), input.len());
        assert!(drain(&mut out).starts_with("HTTP/1.1 200 OK\r\n"));
        // The CRLF after the request starts nothing either.
        assert!(s.deadline().is_none() && s.is_idle());
    }

    #[test]
    fn deadline_only_while_a_request_is_in_progress() {
        let svc = service();
        let mut s = svc.session(&Peer::Unix);
        let mut out = Output::new();
        assert!(s.deadline().is_none());
        assert_eq!(s.on_input(b"GET /hi HTT", &mut out), 0);
        assert!(s.deadline().is_some());
        assert!(!s.is_idle());
        s.on_deadline(&mut out);
        assert!(drain(&mut out).starts_with("HTTP/1.1 408"));
        assert!(out.wants_close());
    }
}
