//! Request heads: parsing (with `httparse`), limits, and the parsed [`Request`].
//!
//! [`parse_head`] looks at the start of a buffer and either finds a complete
//! request head, asks for more bytes, or names the error status to answer
//! (400, 414, 431, 501, 505). It does no IO. Besides the syntax it enforces
//! the rules that keep hops from reading a request two ways: one Host in
//! HTTP/1.1 (RFC 9112 section 3.2), consistent Content-Length, and only plain
//! `chunked` as a transfer coding, never together with a Content-Length.

use std::net::SocketAddr;

/// Longest request line accepted (longer gets 414).
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Largest request head accepted (larger gets 431).
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header fields accepted (more gets 431).
pub const MAX_HEADERS: usize = 100;

/// HTTP version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

/// A parsed request. The body (if any) has been read completely.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method, e.g. `GET`.
    pub method: String,
    /// The request target as sent (path and query, still percent-encoded).
    pub target: String,
    /// The path part of the target (still percent-encoded).
    pub path: String,
    /// The query string without `?`, if any.
    pub query: Option<String>,
    /// Protocol version.
    pub version: Version,
    /// Header fields in order (see [`Request::headers`]).
    fields: Fields,
    /// The request body.
    pub body: Vec<u8>,
    /// The client, when known.
    pub peer: Option<SocketAddr>,
}

/// A request's header fields, kept in one buffer (two allocations per
/// request however many fields it has): names lower-cased, values trimmed.
#[derive(Debug, Clone, Default)]
struct Fields {
    text: String,
    /// Per field: where its name starts, where its value starts, where it ends.
    spans: Vec<(u32, u32, u32)>,
}

impl Fields {
    fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len() as u32;
        self.text
            .extend(name.chars().map(|c| c.to_ascii_lowercase()));
        let value_at = self.text.len() as u32;
        self.text.push_str(value);
        self.spans.push((start, value_at, self.text.len() as u32));
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans.iter().map(|&(n, v, end)| {
            (
                &self.text[n as usize..v as usize],
                &self.text[v as usize..end as usize],
            )
        })
    }
}

impl Request {
    /// The header fields in order, as (name lower-cased, value trimmed).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter()
    }

    /// Adds a header field (as if the client had sent it last).
    pub fn add_header(&mut self, name: &str, value: &str) {
        self.fields.push(name, value);
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// True if a comma-separated header contains `token` (case-insensitive).
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the connection stays open after this request.
    pub fn keep_alive(&self) -> bool {
        match self.version {
            Version::Http11 => !self.header_has_token("connection", "close"),
            Version::Http10 => self.header_has_token("connection", "keep-alive"),
        }
    }

    /// A query parameter's raw value (`?format=json` -> `query_param("format") == Some("json")`).
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query.as_deref()?.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == key).then_some(v)
        })
    }
}

/// How the body of a request is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Outcome of looking for a request head.
#[derive(Debug)]
// `Complete` is the common case and moves once; boxing it would cost an
// allocation per request.
#[allow(clippy::large_enum_variant)]
pub enum Head {
    /// More bytes are needed.
    Partial,
    /// A complete head of `len` bytes.
    Complete {
        /// The request (without body yet).
        request: Request,
        /// How its body is framed.
        body: BodyKind,
        /// Bytes the head took.
        len: usize,
    },
    /// The request is bad: answer with this status and close.
    Error(u16, &'static str),
}

/// True for a well-formed request line with another HTTP version
/// (`GET / HTTP/2.0`): that earns 505. Anything else that failed (`GET /a b
/// HTTP/1.1`, a space too many) is a malformed request, 400.
fn other_version(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    matches!(parts.as_slice(), [m, t, v]
        if !m.is_empty() && !t.is_empty()
            && v.len() == 8 && v.starts_with(b"HTTP/")
            && v[5].is_ascii_digit() && v[6] == b'.' && v[7].is_ascii_digit())
}

/// Parses a request head from the start of `buf`.
pub fn parse_head(buf: &[u8]) -> Head {
    // Tolerate blank lines before a request (RFC 9112 section 2.2).
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let buf = &buf[skip..];
    let line_end = buf.iter().position(|&b| b == b'\n');
    match line_end {
        None if buf.len() > MAX_REQUEST_LINE => return Head::Error(414, "request line too long"),
        Some(n) if n > MAX_REQUEST_LINE => return Head::Error(414, "request line too long"),
        _ => {}
    }
    // Left uninitialized: httparse writes the ones it finds (no 3 KB memset per request).
    let mut headers =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > MAX_HEAD {
                return Head::Error(431, "request header fields too large");
            }
            return Head::Partial;
        }
        Err(httparse::Error::TooManyHeaders) => return Head::Error(431, "too many header fields"),
        Err(httparse::Error::Version) => {
            // 400 or 505 depends on the whole line: wait for its end, so the
            // answer never depends on how the input was split.
            let Some(end) = line_end else {
                return Head::Partial;
            };
            let line = &buf[..end];
            return if other_version(line) {
                Head::Error(505, "HTTP version not supported")
            } else {
                Head::Error(400, "malformed request")
            };
        }
        Err(_) => return Head::Error(400, "malformed request"),
    };
    if len > MAX_HEAD {
        return Head::Error(431, "request header fields too large");
    }
    let version = match req.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Head::Error(505, "HTTP version not supported"),
    };
    let (Some(method), Some(target)) = (req.method, req.path) else {
        return Head::Error(400, "malformed request");
    };
    let text_len: usize = req
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len())
        .sum();
    let mut fields = Fields {
        text: String::with_capacity(text_len),
        spans: Vec::with_capacity(req.headers.len()),
    };
    for h in req.headers.iter() {
        let Ok(v) = std::str::from_utf8(h.value) else {
            return Head::Error(400, "header value is not text");
        };
        fields.push(h.name, v.trim());
    }
    // Host (RFC 9112 section 3.2): exactly one in HTTP/1.1 (it may be empty),
    // at most one in HTTP/1.0, and a plausible authority, not a path or
    // userinfo, so no later hop can read it differently.
    let mut hosts = fields.iter().filter(|(n, _)| *n == "host");
    let host_check = (hosts.next(), hosts.next());
    drop(hosts);
    match host_check {
        (_, Some(_)) => return Head::Error(400, "more than one Host header"),
        (None, None) if version == Version::Http11 => {
            return Head::Error(400, "missing Host header (required in HTTP/1.1)");
        }
        (Some((_, host)), None) if !valid_host(host) => {
            return Head::Error(400, "invalid Host header");
        }
        _ => {}
    }
    // Absolute-form targets (`http://host/path`, RFC 9112 section 3.2.2) carry the path after the authority.
    // (An origin-form target starts with `/`: no scheme to look for.)
    let absolute = if target.starts_with('/') {
        None
    } else {
        target.split_once("://")
    };
    let origin = match absolute {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            match rest.find('/') {
                Some(i) => &rest[i..],
                None => "/",
            }
        }
        _ => target,
    };
    let (path, query) = match origin.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (origin.to_string(), None),
    };
    let request = Request {
        method: method.to_string(),
        target: target.to_string(),
        path,
        query,
        version,
        fields,
        body: Vec::new(),
        peer: None,
    };
    // Body framing (RFC 9112 section 6).
    // Every Transfer-Encoding line counts (a proxy may read the last one, or all).
    let te_lines: Vec<&str> = request
        .headers()
        .filter(|(n, _)| *n == "transfer-encoding")
        .map(|(_, v)| v)
        .collect();
    let te = (!te_lines.is_empty()).then(|| te_lines.join(","));
    let cls: Vec<&str> = request
        .headers()
        .filter(|(n, _)| *n == "content-length")
        .map(|(_, v)| v)
        .collect();
    let body = if let Some(te) = te {
        if !cls.is_empty() {
            return Head::Error(400, "both Transfer-Encoding and Content-Length");
        }
        if version == Version::Http10 {
            return Head::Error(400, "Transfer-Encoding in an HTTP/1.0 request");
        }
        // Only plain `chunked` is understood; anything else could be read
        // differently by another hop, so it is refused outright.
        if !te.trim().eq_ignore_ascii_case("chunked") {
            return Head::Error(501, "unsupported transfer coding");
        }
        BodyKind::Chunked
    } else if let Some(first) = cls.first() {
        if cls.iter().any(|v| v != first) {
            return Head::Error(400, "conflicting Content-Length");
        }
        if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
            return Head::Error(400, "invalid Content-Length");
        }
        match first.parse::<u64>() {
            Ok(0) => BodyKind::None,
            Ok(n) => BodyKind::Length(n),
            Err(_) => return Head::Error(400, "invalid Content-Length"),
        }
    } else {
        BodyKind::None
    };
    Head::Complete {
        request,
        body,
        len: skip + len,
    }
}

/// True for a Host value that is an authority (`name`, `name:port`, `[v6]:port`)
/// or empty: no whitespace, no path, no userinfo, no backslash.
fn valid_host(host: &str) -> bool {
    host.bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'\\' | b'@' | b'?' | b'#'))
}

/// Incremental decoder for a chunked request body.
#[derive(Debug, Default)]
pub struct ChunkedDecoder {
    state: ChunkState,
    /// Trailer bytes seen so far (bounded by [`MAX_TRAILERS`]).
    trailer_bytes: usize,
}

/// Longest chunk-size or trailer line, in bytes before its LF.
const MAX_CHUNK_LINE: usize = 4096;

/// Most bytes of trailer fields accepted after the last chunk (they are
/// checked, then dropped: no handler sees them).
pub const MAX_TRAILERS: usize = 8192;

/// A trailer line is `name: value`: a token, a colon, and a value without
/// control characters other than tab (RFC 9110 5.1, 5.5).
fn valid_field_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    !name.is_empty()
        && name.iter().all(|&b| tchar(b))
        && value
            .iter()
            .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading a chunk-size line.
    #[default]
    Size,
    /// Reading chunk data; bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// Reading trailer lines after the last chunk.
    Trailer,
    /// The body is complete.
    Done,
}

/// Result of feeding bytes to a [`ChunkedDecoder`].
#[derive(Debug, PartialEq, Eq)]
pub enum Chunked {
    /// Consumed this many bytes; need more.
    More(usize),
    /// Body complete after consuming this many bytes.
    Done(usize),
    /// Malformed chunked encoding.
    Invalid,
}

impl ChunkedDecoder {
    /// Decodes from `input`, appending body bytes to `body`. Stops (as
    /// `Invalid`) if the body would exceed `limit`.
    pub fn feed(
        &mut self,
        input: &[u8],
        body: &mut Vec<u8>,
        limit: u64,
    ) -> Result<Chunked, TooLarge> {
        let mut pos = 0;
        loop {
            match self.state {
                ChunkState::Done => return Ok(Chunked::Done(pos)),
                ChunkState::Size | ChunkState::Trailer | ChunkState::DataEnd => {
                    let Some(nl) = input[pos..].iter().position(|&b| b == b'\n') else {
                        if input.len() - pos > MAX_CHUNK_LINE {
                            return Ok(Chunked::Invalid);
                        }
                        return Ok(Chunked::More(pos));
                    };
                    // The same bound whether or not the LF has arrived yet,
                    // so the answer never depends on how the input was split.
                    if nl > MAX_CHUNK_LINE {
                        return Ok(Chunked::Invalid);
                    }
                    let line = &input[pos..pos + nl];
                    // Lines end in CRLF; a bare LF is refused (RFC 9112 7.1:
                    // lenient framing is how requests get smuggled).
                    let Some(line) = line.strip_suffix(b"\r") else {
                        return Ok(Chunked::Invalid);
                    };
                    pos += nl + 1;
                    match self.state {
                        ChunkState::DataEnd => {
                            if !line.is_empty() {
                                return Ok(Chunked::Invalid);
                            }
                            self.state = ChunkState::Size;
                        }
                        ChunkState::Trailer => {
                            if line.is_empty() {
                                self.state = ChunkState::Done;
                            } else {
                                self.trailer_bytes += line.len() + 2;
                                if self.trailer_bytes > MAX_TRAILERS || !valid_field_line(line) {
                                    return Ok(Chunked::Invalid);
                                }
                            }
                        }
                        _ => {
                            let mut parts = line.splitn(2, |&b| b == b';');
                            let size_part = parts.next().unwrap_or(b"");
                            // Extensions are ignored, but must not hide controls.
                            if parts
                                .next()
                                .is_some_and(|ext| ext.iter().any(|&b| b < 0x20 && b != b'\t'))
                            {
                                return Ok(Chunked::Invalid);
                            }
                            let Ok(text) = std::str::from_utf8(size_part) else {
                                return Ok(Chunked::Invalid);
                            };
                            // Strict: hex digits only (no spaces, no sign), bounded length.
                            if text.is_empty()
                                || text.len() > 15
                                || !text.bytes().all(|b| b.is_ascii_hexdigit())
                            {
                                return Ok(Chunked::Invalid);
                            }
                            let Ok(size) = u64::from_str_radix(text, 16) else {
                                return Ok(Chunked::Invalid);
                            };
                            if body.len() as u64 + size > limit {
                                return Err(TooLarge);
                            }
                            self.state = if size == 0 {
                                ChunkState::Trailer
                            } else {
                                ChunkState::Data(size)
                            };
                        }
                    }
                }
                ChunkState::Data(left) => {
                    if pos == input.len() {
                        return Ok(Chunked::More(pos));
                    }
                    let take = (left as usize).min(input.len() - pos);
                    body.extend_from_slice(&input[pos..pos + take]);
                    pos += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                }
            }
        }
    }
}

/// The body is larger than allowed (answer 413).
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(raw: &[u8]) -> (Request, BodyKind, usize) {
        match parse_head(raw) {
            Head::Complete { request, body, len } => (request, body, len),
            other => panic!("expected complete, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_simple_get() {
        let raw =
            b"GET /a%20b?x=1&format=json HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\nrest";
        let (r, body, len) = complete(raw);
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/a%20b");
        assert_eq!(r.query_param("format"), Some("json"));
        assert_eq!(r.header("HOST"), Some("h"));
        assert!(r.keep_alive());
        assert_eq!(body, BodyKind::None);
        assert_eq!(len, raw.len() - 4);
        let (r, _, _) = complete(b"GET http://example.com/x/y?q HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(r.path, "/x/y");
        assert_eq!(r.query.as_deref(), Some("q"));
        let (r, _, _) = complete(b"GET http://example.com/a.txt HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(r.path, "/a.txt");
    }

    #[test]
    fn host_is_required_once_in_http11() {
        let missing = parse_head(b"GET / HTTP/1.1\r\n\r\n");
        assert!(matches!(missing, Head::Error(400, m) if m.contains("missing Host")));
        let twice = parse_head(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
        assert!(matches!(twice, Head::Error(400, m) if m.contains("more than one")));
        let twice10 = parse_head(b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n");
        assert!(matches!(twice10, Head::Error(400, _)));
        for bad in ["a b", "a/b", "user@a", "a\\b", "a?x"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
            assert!(
                matches!(parse_head(raw.as_bytes()), Head::Error(400, m) if m.contains("invalid Host")),
                "{bad}"
            );
        }
        // HTTP/1.0 needs none; an empty Host is allowed; so are ports and IPv6 literals.
        complete(b"GET / HTTP/1.0\r\n\r\n");
        for good in ["", "example.com", "127.0.0.1:8000", "[::1]:8000"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n");
            complete(raw.as_bytes());
        }
    }

    #[test]
    fn http10_keep_alive_rules() {
        let (r, _, _) = complete(b"GET / HTTP/1.0\r\n\r\n");
        assert!(!r.keep_alive());
        let (r, _, _) = complete(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(r.keep_alive());
        let (r, _, _) = complete(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        assert!(!r.keep_alive());
    }

    #[test]
    fn partial_and_errors() {
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\nHost"),
            Head::Partial
        ));
        assert!(matches!(
            parse_head(b"GARBAGE\r\n\r\n"),
            Head::Error(400, _)
        ));
        assert!(matches!(
            parse_head(b"GET / HTTP/2.0\r\n\r\n"),
            Head::Error(505, _)
        ));
        for bad in [
            &b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\n\r\n",
            b"GET / HTTP/x.y\r\n\r\n",
        ] {
            assert!(
                matches!(parse_head(bad), Head::Error(400, _)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!(
            "GET /{} HTTP/1.1\r\nHost: h\r\n\r\n",
            "a".repeat(MAX_REQUEST_LINE + 10)
        );
        assert!(matches!(parse_head(long.as_bytes()), Head::Error(414, _)));
        let mut big = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
        for i in 0..2000 {
            big.extend_from_slice(format!("X-{i}: {}\r\n", "v".repeat(40)).as_bytes());
        }
        assert!(matches!(parse_head(&big), Head::Error(431, _)));
        let many: String = (0..150).map(|i| format!("X-{i}: v\r\n")).collect();
        let req = format!("GET / HTTP/1.1\r\nHost: h\r\n{many}\r\n");
        assert!(matches!(parse_head(req.as_bytes()), Head::Error(431, _)));
        assert!(matches!(
            parse_head(
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
            ),
            Head::Error(400, _)
        ));
        assert!(matches!(
            parse_head(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n"),
            Head::Error(400, _)
        ));
        assert!(matches!(
            parse_head(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Head::Error(501, _)
        ));
        assert!(matches!(
            parse_head(
                b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
            ),
            Head::Error(400, _)
        ));
        // TE.TE: a second Transfer-Encoding line is not ignored.
        assert!(matches!(
            parse_head(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n"),
            Head::Error(501, _)
        ));
        assert!(matches!(
            parse_head(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +0\r\n\r\n"),
            Head::Error(400, _)
        ));
    }

    #[test]
    fn chunked_body_decodes_across_splits() {
        let raw = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for split in 0..raw.len() {
            let mut d = ChunkedDecoder::default();
            let mut body = Vec::new();
            let mut buf = raw[..split].to_vec();
            let mut used_total = 0;
            let r = d.feed(&buf, &mut body, 1000).unwrap();
            let used = match r {
                Chunked::More(n) | Chunked::Done(n) => n,
                Chunked::Invalid => panic!("invalid at split {split}"),
            };
            used_total += used;
            buf.drain(..used);
            buf.extend_from_slice(&raw[split..]);
            match d.feed(&buf, &mut body, 1000).unwrap() {
                Chunked::Done(n) => used_total += n,
                other => panic!("split {split}: {other:?}"),
            }
            assert_eq!(body, b"Wikipedia");
            assert_eq!(&raw[used_total..], b"NEXT");
        }
    }

    #[test]
    fn chunked_limits_and_garbage() {
        let mut d = ChunkedDecoder::default();
        assert_eq!(d.feed(b"ffff\r\n", &mut Vec::new(), 100), Err(TooLarge));
        let mut d = ChunkedDecoder::default();
        assert_eq!(
            d.feed(b"zz\r\n", &mut Vec::new(), 100),
            Ok(Chunked::Invalid)
        );
        for bad in [&b" 5 \r\n"[..], b"+5\r\n", b"-5\r\n"] {
            let mut d = ChunkedDecoder::default();
            assert_eq!(d.feed(bad, &mut Vec::new(), 100), Ok(Chunked::Invalid));
        }
        let mut d = ChunkedDecoder::default();
        assert_eq!(
            d.feed(b"2\r\nabX\r\n", &mut Vec::new(), 100),
            Ok(Chunked::Invalid)
        );
        // Bare LF anywhere in the framing, malformed or oversized trailers.
        let trailers = format!("0\r\n{}\r\n", "X-Pad: aaaaaaaa\r\n".repeat(600));
        let invalid = |raw: &[u8]| {
            let mut d = ChunkedDecoder::default();
            d.feed(raw, &mut Vec::new(), 100) == Ok(Chunked::Invalid)
        };
        let framing = "4\nWiki\r\n0\r\n\r\n|4\r\nWiki\n0\r\n\r\n|4\r\nWiki\r\n0\n\r\n|0\r\n\n";
        let fields = "0\r\nnot a field\r\n\r\n|0\r\n: no name\r\n\r\n|0\r\nX-T: a\x01b\r\n\r\n";
        let ext = "4;a\x00b\r\nWiki\r\n0\r\n\r\n";
        let all = framing
            .split('|')
            .chain(fields.split('|'))
            .chain([ext, trailers.as_str()]);
        for bad in all {
            assert!(invalid(bad.as_bytes()), "{bad:?}");
        }
        let mut d = ChunkedDecoder::default();
        assert_eq!(
            d.feed(
                b"0\r\nX-Checksum: abc\r\nX-B:\t1\r\n\r\n",
                &mut Vec::new(),
                100
            ),
            Ok(Chunked::Done(30))
        );
    }
}
