//! Responses: status, header fields and a body of bytes and/or file regions.
//!
//! [`Response::encode`] writes the head and body into an [`Output`]; file
//! regions go out with `sendfile(2)` on the models that can. `Content-Length`,
//! `Date` and `Server` are added here, so routes and static files never forget them.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fs::File;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use crate::server::Output;

/// The `Server` header value.
pub const SERVER: &str = concat!("netkit/", env!("CARGO_PKG_VERSION"));

/// Body bytes up to this size ride in the same buffer (one write) as the head.
const INLINE_WITH_HEAD: usize = 16 * 1024;

/// A piece of a response body.
#[derive(Debug, Clone)]
pub enum Part {
    /// Bytes.
    Bytes(Vec<u8>),
    /// Bytes shared with others (a cached small file).
    Shared(Arc<[u8]>),
    /// `len` bytes of `file` from `offset`.
    File {
        /// The open file.
        file: Arc<File>,
        /// Where to start.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
}

impl Part {
    fn len(&self) -> u64 {
        match self {
            Part::Bytes(b) => b.len() as u64,
            Part::Shared(b) => b.len() as u64,
            Part::File { len, .. } => *len,
        }
    }
}

/// A response about to be sent.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields (besides Content-Length, Date, Server and Connection, which are added).
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    /// Header fields rendered ahead of time, each as `\r\nName: value`
    /// (a cached file's validators and type), written before `headers`.
    pub prepared: Option<Arc<str>>,
    /// More fields rendered ahead of time, the same for every response of
    /// a server (`--header`, security headers), written after `headers`.
    pub extra: Option<Arc<str>>,
    /// The body, in order.
    pub body: Vec<Part>,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            // Allocated at the first field: a cached file's answer has none
            // (its fields are prepared).
            headers: Vec::new(),
            prepared: None,
            extra: None,
            body: Vec::new(),
        }
    }

    /// A response with a body of bytes and a content type.
    pub fn bytes(
        status: u16,
        content_type: impl Into<Cow<'static, str>>,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        Response::new(status)
            .header("Content-Type", content_type)
            .with_body(Part::Bytes(body.into()))
    }

    /// A `text/plain` response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::bytes(
            status,
            "text/plain; charset=utf-8",
            body.into().into_bytes(),
        )
    }

    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response::bytes(status, "application/json", value.to_string().into_bytes())
    }

    /// A small HTML error page for `status` with a short explanation.
    pub fn error(status: u16, detail: &str) -> Self {
        let reason = reason(status);
        let body = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{status} {reason}</title></head>\
             <body><h1>{status} {reason}</h1><p>{}</p></body></html>\n",
            html_escape(detail)
        );
        Response::bytes(status, "text/html; charset=utf-8", body.into_bytes())
    }

    /// Adds a header field.
    pub fn header(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Adds header fields rendered ahead of time (see [`Response::prepared`]).
    pub fn with_prepared(mut self, fields: Arc<str>) -> Self {
        self.prepared = Some(fields);
        self
    }

    /// Appends a body part.
    pub fn with_body(mut self, part: Part) -> Self {
        self.body.push(part);
        self
    }

    /// Total body length.
    pub fn body_len(&self) -> u64 {
        self.body.iter().map(Part::len).sum()
    }

    /// Writes the response into `out`. With `head_only` (a HEAD request) the
    /// body is left out but `Content-Length` still tells its size.
    pub fn encode(self, head_only: bool, keep_alive: bool, out: &mut Output) {
        // Room for the head and a small first body part, so one buffer is enough.
        let first = match self.body.first() {
            Some(Part::Bytes(b)) => b.len(),
            Some(Part::Shared(b)) => b.len(),
            _ => 0,
        };
        let fields: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>()
            + self.prepared.as_ref().map_or(0, |p| p.len())
            + self.extra.as_ref().map_or(0, |p| p.len());
        let mut head = Vec::with_capacity(160 + fields + first.min(INLINE_WITH_HEAD));
        head.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(&mut head, self.status as u64);
        head.push(b' ');
        head.extend_from_slice(reason(self.status).as_bytes());
        head.extend_from_slice(b"\r\nServer: ");
        head.extend_from_slice(SERVER.as_bytes());
        head.extend_from_slice(b"\r\nDate: ");
        with_date(|d| head.extend_from_slice(d.as_bytes()));
        if let Some(p) = &self.prepared {
            head.extend_from_slice(p.as_bytes());
        }
        for (n, v) in &self.headers {
            head.extend_from_slice(b"\r\n");
            head.extend_from_slice(n.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(v.as_bytes());
        }
        if let Some(p) = &self.extra {
            head.extend_from_slice(p.as_bytes());
        }
        // 1xx, 204 and 304 carry no body and no Content-Length of their own.
        let bodyless = self.status == 204 || self.status == 304 || self.status < 200;
        if !bodyless {
            head.extend_from_slice(b"\r\nContent-Length: ");
            push_decimal(&mut head, self.body_len());
        }
        head.extend_from_slice(if keep_alive {
            b"\r\nConnection: keep-alive\r\n\r\n" as &[u8]
        } else {
            b"\r\nConnection: close\r\n\r\n"
        });
        if head_only || bodyless {
            out.write_vec(head);
            return;
        }
        let mut parts = self.body.into_iter();
        // Small first byte parts ride in the same write as the head.
        match parts.next() {
            Some(Part::Bytes(b)) if b.len() <= INLINE_WITH_HEAD => {
                head.extend_from_slice(&b);
                out.write_vec(head);
            }
            Some(Part::Shared(b)) if b.len() <= INLINE_WITH_HEAD => {
                head.extend_from_slice(&b);
                out.write_vec(head);
            }
            Some(other) => {
                out.write_vec(head);
                push_part(other, out);
            }
            None => out.write_vec(head),
        }
        for p in parts {
            push_part(p, out);
        }
    }
}

fn push_part(p: Part, out: &mut Output) {
    match p {
        Part::Bytes(b) => out.write_vec(b),
        Part::Shared(b) => out.write(&b),
        Part::File { file, offset, len } => out.send_file(file, offset, len),
    }
}

/// Appends `n` in decimal (without the allocation of `to_string`).
fn push_decimal(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[at..]);
}

/// Calls `f` with the current HTTP date, formatted at most once per second per thread.
fn with_date(f: impl FnOnce(&str)) {
    thread_local! {
        static CACHE: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
    }
    let now = crate::server::clock::system_now();
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs || c.1.is_empty() {
            *c = (secs, httpdate::fmt_http_date(now));
        }
        f(&c.1)
    });
}

/// The reason phrase for a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl Response {
    /// Writes only the head of a response whose body is streamed after it
    /// (see [`super::body::BodyStream`]): `Transfer-Encoding: chunked` when
    /// `chunked`, otherwise no length at all (the close ends the body).
    pub(crate) fn encode_streamed_head(self, chunked: bool, keep_alive: bool, out: &mut Output) {
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(b"HTTP/1.1 ");
        head.extend_from_slice(self.status.to_string().as_bytes());
        head.push(b' ');
        head.extend_from_slice(reason(self.status).as_bytes());
        head.extend_from_slice(b"\r\nServer: ");
        head.extend_from_slice(SERVER.as_bytes());
        head.extend_from_slice(b"\r\nDate: ");
        with_date(|d| head.extend_from_slice(d.as_bytes()));
        if let Some(p) = &self.prepared {
            head.extend_from_slice(p.as_bytes());
        }
        for (n, v) in &self.headers {
            head.extend_from_slice(b"\r\n");
            head.extend_from_slice(n.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(v.as_bytes());
        }
        if let Some(p) = &self.extra {
            head.extend_from_slice(p.as_bytes());
        }
        if chunked {
            head.extend_from_slice(b"\r\nTransfer-Encoding: chunked");
        }
        head.extend_from_slice(if keep_alive && chunked {
            b"\r\nConnection: keep-alive\r\n\r\n" as &[u8]
        } else {
            b"\r\nConnection: close\r\n\r\n"
        });
        out.write_vec(head);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(out: &mut Output) -> Vec<u8> {
        let mut v = Vec::new();
        while let Some(c) = out.front_mut() {
            match c {
                crate::server::Chunk::Bytes { buf, pos } => v.extend_from_slice(&buf[*pos..]),
                crate::server::Chunk::File { .. } => v.extend_from_slice(b"<file>"),
            }
            out.drop_front();
        }
        v
    }

    #[test]
    fn encodes_head_and_body() {
        let mut out = Output::new();
        Response::text(200, "hi").encode(false, true, &mut out);
        let s = String::from_utf8(bytes_of(&mut out)).unwrap();
        assert!(s.starts_with("HTTP/1.1 200 OK\r\nServer: netkit/"));
        assert!(s.contains("\r\nContent-Length: 2\r\n"));
        assert!(s.contains("\r\nDate: "));
        assert!(s.contains("Connection: keep-alive"));
        assert!(s.ends_with("\r\n\r\nhi"));
    }

    #[test]
    fn head_only_keeps_length_and_drops_body() {
        let mut out = Output::new();
        Response::text(200, "hello").encode(true, false, &mut out);
        let s = String::from_utf8(bytes_of(&mut out)).unwrap();
        assert!(s.contains("Content-Length: 5"));
        assert!(s.ends_with("Connection: close\r\n\r\n"));
    }

    #[test]
    fn not_modified_has_no_length() {
        let mut out = Output::new();
        Response::new(304).encode(false, true, &mut out);
        let s = String::from_utf8(bytes_of(&mut out)).unwrap();
        assert!(!s.contains("Content-Length"));
    }

    #[test]
    fn prepared_fields_go_out_with_the_rest_and_numbers_in_decimal() {
        let mut out = Output::new();
        Response::new(200)
            .with_prepared(Arc::from("\r\nETag: \"x\"\r\nContent-Type: text/plain"))
            .header("Vary", "Accept-Encoding")
            .with_body(Part::Bytes(vec![b'a'; 1_234_567]))
            .encode(true, true, &mut out);
        let s = String::from_utf8(bytes_of(&mut out)).unwrap();
        assert!(
            s.contains("\r\nETag: \"x\"\r\nContent-Type: text/plain\r\nVary: Accept-Encoding\r\n")
        );
        assert!(s.contains("\r\nContent-Length: 1234567\r\n"));
        for n in [0, 7, 10, 99, 100, u64::MAX] {
            let mut v = Vec::new();
            push_decimal(&mut v, n);
            assert_eq!(v, n.to_string().into_bytes());
        }
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
