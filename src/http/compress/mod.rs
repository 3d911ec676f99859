//! Content codings: which one a client gets (`Accept-Encoding` with
//! q-values), which types are worth compressing, and the encoders (gzip,
//! brotli, zstd) — one-shot for bodies in memory, and a [`Compressed`]
//! stream for large files and archives. No IO of its own.
//!
//! Static files use it with a cache of their compressed forms (see
//! `static_files`); other responses (listings, JSON, error pages) are
//! compressed as they are made by [`Compression::apply`].

pub mod stream;

use std::io::Write;

pub use stream::Compressed;

use super::request::Request;
use super::response::{Part, Response};

/// A content coding netkit can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// Brotli (`br`).
    Br,
    /// Zstandard (`zstd`).
    Zstd,
    /// gzip.
    Gzip,
}

impl Coding {
    /// The codings made on the fly, in the order preferred when the client
    /// likes several equally.
    pub const ALL: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

    /// The token in `Accept-Encoding` and `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// Index into per-coding tables.
    pub fn index(self) -> usize {
        match self {
            Coding::Br => 0,
            Coding::Zstd => 1,
            Coding::Gzip => 2,
        }
    }
}

/// How hard an encoder works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Once per file and cache lifetime: worth a denser result.
    Cached,
    /// Per response or while streaming: fast.
    OnTheFly,
    /// Bulk (archives of whole folders): fastest.
    Bulk,
}

/// The client's weight for `coding` in an `Accept-Encoding` value: its own
/// q, else that of `*`, else 0 (not acceptable). A q that does not parse
/// counts as 0, as does a missing header (`None`).
pub fn weight(accept: Option<&str>, coding: &str) -> f32 {
    let Some(accept) = accept else { return 0.0 };
    let mut star = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let q = parts
            .find_map(|p| {
                let p = p.trim();
                p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="))
            })
            .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        if name.eq_ignore_ascii_case(coding) {
            return q;
        }
        if name == "*" {
            star = Some(q);
        }
    }
    star.unwrap_or(0.0)
}

/// The best of `offered` (in the server's order of preference) for a
/// client that sent `accept`: the highest weight above 0, the earliest
/// among equals; `None` means identity.
pub fn negotiate<T: Copy>(accept: Option<&str>, offered: &[(T, &str)]) -> Option<T> {
    let mut best: Option<(T, f32)> = None;
    for &(what, token) in offered {
        let w = weight(accept, token);
        if w > 0.0 && best.is_none_or(|(_, b)| w > b) {
            best = Some((what, w));
        }
    }
    best.map(|(t, _)| t)
}

/// True for media types that shrink when compressed (text, JSON,
/// JavaScript, XML, SVG, WebAssembly, uncompressed fonts).
pub fn compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/wasm"
                | "application/x-sh"
                | "application/toml"
                | "application/yaml"
                | "application/x-yaml"
                | "application/manifest+json"
                | "image/svg+xml"
                | "image/x-icon"
                | "image/bmp"
                | "font/ttf"
                | "font/otf"
                | "application/vnd.ms-fontobject"
        )
}

/// Compresses `data` at once.
pub fn encode(coding: Coding, effort: Effort, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = Encoder::new(coding, effort, data.len());
    enc.write_all(data)?;
    enc.finish()
}

/// One encoder of any coding, writing into a buffer that can be emptied
/// while it works.
pub(crate) enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Br(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    /// A fresh encoder; `hint` is the expected input size (buffers follow it).
    pub(crate) fn new(coding: Coding, effort: Effort, hint: usize) -> Encoder {
        let cap = hint.clamp(64, 64 * 1024);
        match (coding, effort) {
            (Coding::Gzip, effort) => Encoder::Gzip(flate2::write::GzEncoder::new(
                Vec::with_capacity(cap),
                match effort {
                    Effort::Cached => flate2::Compression::new(9),
                    Effort::OnTheFly => flate2::Compression::new(5),
                    Effort::Bulk => flate2::Compression::fast(),
                },
            )),
            (Coding::Br, effort) => {
                let quality = match effort {
                    Effort::Cached => 9,
                    Effort::OnTheFly => 4,
                    Effort::Bulk => 1,
                };
                Encoder::Br(Box::new(brotli::CompressorWriter::new(
                    Vec::with_capacity(cap),
                    4096,
                    quality,
                    22,
                )))
            }
            (Coding::Zstd, effort) => {
                let level = match effort {
                    Effort::Cached => 12,
                    Effort::OnTheFly => 3,
                    Effort::Bulk => 1,
                };
                Encoder::Zstd(
                    zstd::stream::write::Encoder::new(Vec::with_capacity(cap), level)
                        .expect("zstd encoder with a valid level"),
                )
            }
        }
    }

    /// Takes the compressed bytes made so far.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(match self {
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Br(e) => e.get_mut(),
            Encoder::Zstd(e) => e.get_mut(),
        })
    }

    /// Bytes ready to take.
    pub(crate) fn ready(&self) -> usize {
        match self {
            Encoder::Gzip(e) => e.get_ref().len(),
            Encoder::Br(e) => e.get_ref().len(),
            Encoder::Zstd(e) => e.get_ref().len(),
        }
    }

    /// Ends the stream: the rest of the compressed bytes.
    pub(crate) fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Br(e) => Ok(e.into_inner()),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Br(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bodies smaller than this are sent as they are (a coding's framing would
/// eat most of the gain).
pub const MIN_SIZE: u64 = 256;

/// On-the-fly compression of responses, as configured (`--no-compress` turns it off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// Smallest body compressed.
    pub min_size: u64,
}

impl Default for Compression {
    fn default() -> Self {
        Compression { min_size: MIN_SIZE }
    }
}

impl Compression {
    /// Compresses a response made in memory (a listing, JSON, an error page)
    /// when its type is worth it and the client accepts a coding; adds
    /// `Vary: Accept-Encoding` whenever the answer depends on it. Responses
    /// that already chose (a static file: `Content-Encoding`, or `Vary:
    /// Accept-Encoding`, set)
    /// or that are ranges, file regions or bodyless pass unchanged.
    pub fn apply(&self, req: &Request, mut resp: Response) -> Response {
        let bodyless = resp.status < 200 || matches!(resp.status, 204 | 206 | 304);
        if bodyless
            || resp.prepared.is_some()
            || resp.body_len() < self.min_size
            || resp.headers.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case("content-encoding")
                    || n.eq_ignore_ascii_case("vary")
                        && v.split(',')
                            .any(|t| t.trim().eq_ignore_ascii_case("accept-encoding"))
            })
            || resp.body.iter().any(|p| matches!(p, Part::File { .. }))
        {
            return resp;
        }
        let typed = resp
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .is_some_and(|(_, v)| compressible(v));
        if !typed {
            return resp;
        }
        resp = resp.header("Vary", "Accept-Encoding");
        let offered = Coding::ALL.map(|c| (c, c.token()));
        let Some(coding) = negotiate(req.header("accept-encoding"), &offered) else {
            return resp;
        };
        let mut body = Vec::with_capacity(resp.body_len() as usize);
        for p in &resp.body {
            match p {
                Part::Bytes(b) => body.extend_from_slice(b),
                Part::Shared(b) => body.extend_from_slice(b),
                Part::File { .. } => return resp,
            }
        }
        match encode(coding, Effort::OnTheFly, &body) {
            Ok(packed) if packed.len() < body.len() => {
                resp.body = vec![Part::Bytes(packed)];
                resp.header("Content-Encoding", coding.token())
            }
            _ => resp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn weights_follow_q_values_and_star() {
        assert_eq!(weight(Some("gzip, br"), "br"), 1.0);
        assert_eq!(weight(Some("gzip;q=0, br"), "gzip"), 0.0);
        assert_eq!(weight(Some("br;q=0.5, *;q=0.1"), "zstd"), 0.1);
        assert_eq!(weight(Some("identity"), "gzip"), 0.0);
        assert_eq!(weight(None, "gzip"), 0.0);
        assert_eq!(weight(Some("gzip;q=bogus"), "gzip"), 0.0);
        assert_eq!(weight(Some("GZIP; Q=0.7"), "gzip"), 0.7);
    }

    #[test]
    fn negotiation_takes_the_highest_q_then_the_server_order() {
        let offered = Coding::ALL.map(|c| (c, c.token()));
        assert_eq!(negotiate(Some("gzip, br"), &offered), Some(Coding::Br));
        assert_eq!(
            negotiate(Some("gzip;q=1, br;q=0.5"), &offered),
            Some(Coding::Gzip)
        );
        assert_eq!(negotiate(Some("zstd, gzip"), &offered), Some(Coding::Zstd));
        assert_eq!(negotiate(Some("*"), &offered), Some(Coding::Br));
        assert_eq!(negotiate(Some("*;q=0, identity"), &offered), None);
        assert_eq!(negotiate(Some("deflate"), &offered), None);
        assert_eq!(negotiate(None, &offered), None);
    }

    #[test]
    fn types_worth_compressing() {
        assert!(compressible("text/html; charset=utf-8"));
        assert!(compressible("application/json"));
        assert!(compressible("image/svg+xml"));
        assert!(compressible("application/ld+json"));
        assert!(!compressible("image/png"));
        assert!(!compressible("application/zip"));
        assert!(!compressible("application/octet-stream"));
    }

    #[test]
    fn every_coding_round_trips() {
        let data = "netkit compresses text. ".repeat(200).into_bytes();
        for effort in [Effort::Cached, Effort::OnTheFly] {
            let gz = encode(Coding::Gzip, effort, &data).unwrap();
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data);
            let br = encode(Coding::Br, effort, &data).unwrap();
            let mut back = Vec::new();
            brotli::Decompressor::new(&br[..], 4096)
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data);
            let zs = encode(Coding::Zstd, effort, &data).unwrap();
            assert_eq!(zstd::decode_all(&zs[..]).unwrap(), data);
            assert!(gz.len() < data.len() / 10 && br.len() < data.len() / 10);
        }
    }
}
