//! `POST /folder/` with `multipart/form-data`: the upload form of the
//! listing page (and `curl -F file=@x`), parsed as it streams in.
//!
//! The parser never holds more than a part's head (8 KiB) and a delimiter's
//! length of body: it searches for `CRLF--boundary` across buffer edges,
//! hands each file part's bytes to its own [`Upload`] (a temporary file in
//! the target folder) and renames it into place as soon as the part's
//! closing delimiter arrives. A part's file name passes the file server's
//! rules before its temporary file is made; fields without a file name are
//! ignored. The first refusal (a bad name, a file that exists, a part over
//! `--max-upload`, disk full) stops storing: the rest of the body is read
//! and dropped, the answer says what was stored before it and why the rest
//! was not. A cut connection leaves the parts that were complete, and
//! nothing of the part in progress.

use super::target::{Target, name_refusal, shown, storage_error};
use super::upload::too_large;
use super::{Share, Sink, answer, off};
use crate::disk::name;
use crate::disk::upload::Upload;
use crate::http::body::BodySink;
use crate::http::request::Request;
use crate::http::response::Response;

/// Longest part head accepted.
const MAX_PART_HEAD: usize = 8 * 1024;

/// Most parts in one body (each file part costs a temporary file in turn).
const MAX_PARTS: usize = 10_000;

/// The boundary of a `multipart/form-data` content type, if it is one.
pub(super) fn boundary(content_type: &str) -> Option<&str> {
    let mut params = content_type.split(';');
    let essence = params.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        // RFC 2046: 1 to 70 characters.
        (!v.is_empty() && v.len() <= 70).then_some(v)
    })
}

impl Share {
    /// Starts a form upload into the folder of `req`.
    pub(super) fn post_files(&self, req: &Request, boundary: &str) -> Result<Sink, Response> {
        if !self.options.upload {
            return Err(off("uploads", "--upload"));
        }
        if !req.path.ends_with('/') {
            return Err(Response::error(
                400,
                "form uploads go to a folder (a path ending in /)",
            ));
        }
        let folder = Target::resolve(&self.files, &req.path, true)?;
        Ok(Box::new(FormSink {
            parser: Parser::new(boundary),
            share: self.clone(),
            current: None,
            stored: Vec::new(),
            refused: None,
            folder,
        }))
    }
}

/// What the parser found in the bytes it was given.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event<'a> {
    /// A part begins; its file name if it has one (`None`: a plain field).
    Part(Option<String>),
    /// Bytes of the current part's content.
    Data(&'a [u8]),
    /// The current part is complete.
    PartEnd,
    /// The closing delimiter: the form is complete.
    End,
    /// The body is not valid multipart.
    Invalid(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the first delimiter.
    Preamble,
    /// After a delimiter: `--` (the end) or CRLF (a part) comes next.
    AfterDelimiter,
    /// Reading a part's head.
    Head,
    /// Reading a part's content.
    Body,
    /// After the closing delimiter (the epilogue is ignored).
    Done,
    /// Invalid input seen.
    Failed,
}

/// A streaming `multipart/form-data` parser.
pub(super) struct Parser {
    /// `\r\n--boundary`.
    delimiter: Vec<u8>,
    stage: Stage,
    /// Bytes kept from earlier calls: a part head, or a tail that may begin a delimiter.
    carry: Vec<u8>,
    /// Parts seen.
    parts: usize,
}

impl Parser {
    pub(super) fn new(boundary: &str) -> Parser {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        Parser {
            delimiter,
            stage: Stage::Preamble,
            // The body may start with the delimiter without its CRLF.
            carry: b"\r\n".to_vec(),
            parts: 0,
        }
    }

    /// Feeds `input`, calling `on` with each event in order.
    pub(super) fn feed(&mut self, input: &[u8], on: &mut dyn FnMut(Event<'_>)) {
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(input);
        let mut pos = 0;
        loop {
            match self.stage {
                Stage::Done | Stage::Failed => break,
                Stage::Preamble => match find(&buf[pos..], &self.delimiter) {
                    Some(i) => {
                        pos += i + self.delimiter.len();
                        self.stage = Stage::AfterDelimiter;
                    }
                    None => {
                        // Keep what may begin a delimiter.
                        pos = buf.len().saturating_sub(self.delimiter.len() - 1).max(pos);
                        break;
                    }
                },
                Stage::AfterDelimiter => {
                    if buf.len() - pos < 2 {
                        break;
                    }
                    match &buf[pos..pos + 2] {
                        b"--" => {
                            on(Event::End);
                            self.stage = Stage::Done;
                            pos = buf.len();
                        }
                        b"\r\n" => {
                            pos += 2;
                            self.stage = Stage::Head;
                        }
                        _ => {
                            // Transport padding (spaces, tabs) may follow a delimiter.
                            if buf[pos] == b' ' || buf[pos] == b'\t' {
                                pos += 1;
                            } else {
                                return self.fail(on, "malformed multipart delimiter");
                            }
                        }
                    }
                }
                Stage::Head => match find(&buf[pos..], b"\r\n\r\n") {
                    Some(i) => {
                        if i > MAX_PART_HEAD {
                            return self.fail(on, "multipart part head too large");
                        }
                        self.parts += 1;
                        if self.parts > MAX_PARTS {
                            return self.fail(on, "too many parts in one form");
                        }
                        let head = &buf[pos..pos + i];
                        match part_filename(head) {
                            Ok(name) => on(Event::Part(name)),
                            Err(why) => return self.fail(on, why),
                        }
                        pos += i + 4;
                        self.stage = Stage::Body;
                    }
                    None => {
                        if buf.len() - pos > MAX_PART_HEAD {
                            return self.fail(on, "multipart part head too large");
                        }
                        break;
                    }
                },
                Stage::Body => match find(&buf[pos..], &self.delimiter) {
                    Some(i) => {
                        if i > 0 {
                            on(Event::Data(&buf[pos..pos + i]));
                        }
                        on(Event::PartEnd);
                        pos += i + self.delimiter.len();
                        self.stage = Stage::AfterDelimiter;
                    }
                    None => {
                        // All but a tail that may begin a delimiter is content.
                        let keep = self.delimiter.len() - 1;
                        let safe = buf.len().saturating_sub(keep);
                        if safe > pos {
                            on(Event::Data(&buf[pos..safe]));
                            pos = safe;
                        }
                        break;
                    }
                },
            }
        }
        if matches!(self.stage, Stage::Done | Stage::Failed) {
            return;
        }
        buf.drain(..pos);
        self.carry = buf;
    }

    /// True once the closing delimiter was seen.
    pub(super) fn complete(&self) -> bool {
        self.stage == Stage::Done
    }

    fn fail(&mut self, on: &mut dyn FnMut(Event<'_>), why: &'static str) {
        self.stage = Stage::Failed;
        self.carry = Vec::new();
        on(Event::Invalid(why));
    }
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut from = 0;
    while let Some(i) = hay[from..=hay.len() - needle.len()]
        .iter()
        .position(|&b| b == first)
    {
        let at = from + i;
        if &hay[at..at + needle.len()] == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The file name of a part, from its `Content-Disposition` (`None` for a
/// field without one). Browsers quote the name and send `"`, CR and LF as
/// `%22`, `%0D`, `%0A` (the HTML standard); those are decoded, nothing else.
fn part_filename(head: &[u8]) -> Result<Option<String>, &'static str> {
    let Ok(head) = std::str::from_utf8(head) else {
        return Err("multipart part head is not UTF-8");
    };
    for line in head.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            return Err("malformed multipart part head");
        };
        if !name.trim().eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        let mut rest = value.trim();
        let Some(semi) = rest.find(';') else {
            return Ok(None);
        };
        rest = &rest[semi + 1..];
        // Parameters: key=value or key="quoted; value".
        while !rest.trim().is_empty() {
            let r = rest.trim_start();
            let Some(eq) = r.find('=') else {
                return Err("malformed Content-Disposition");
            };
            let key = r[..eq].trim();
            let after = &r[eq + 1..];
            let (val, next) = if let Some(q) = after.strip_prefix('"') {
                let Some(end) = q.find('"') else {
                    return Err("unterminated quoted string in Content-Disposition");
                };
                (&q[..end], &q[end + 1..])
            } else {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim(), &after[end..])
            };
            if key.eq_ignore_ascii_case("filename") {
                let name = val
                    .replace("%22", "\"")
                    .replace("%0D", "\r")
                    .replace("%0A", "\n");
                return Ok(Some(name));
            }
            rest = next.trim_start().strip_prefix(';').unwrap_or(next);
            if !next.trim_start().starts_with(';') && !next.trim().is_empty() {
                return Err("malformed Content-Disposition");
            }
        }
        return Ok(None);
    }
    Ok(None)
}

/// A form upload on its way to disk.
struct FormSink {
    parser: Parser,
    share: Share,
    /// The file part being received, if any (`None` also for fields).
    current: Option<(Upload, String)>,
    /// Names stored so far.
    stored: Vec<String>,
    /// The first refusal; after it, the rest of the body is dropped.
    refused: Option<Response>,
    /// The folder; keeps it open (declared last: dropped after the upload).
    folder: Target,
}

impl FormSink {
    fn on_event(&mut self, ev: Event<'_>) {
        if self.refused.is_some() {
            return;
        }
        match ev {
            Event::Part(None) => self.current = None,
            Event::Part(Some(name)) => match self.begin(&name) {
                Ok(up) => self.current = Some((up, name)),
                Err(r) => self.refuse(r),
            },
            Event::Data(d) => {
                if let Some((up, _)) = &mut self.current {
                    if (d.len() as u64) > up.remaining() {
                        self.refuse(too_large(self.share.options.max_upload));
                    } else {
                        up.write(d);
                    }
                }
            }
            Event::PartEnd => {
                if let Some((mut up, name)) = self.current.take() {
                    up.end_here();
                    match up.finish() {
                        Ok(_) => self.stored.push(name),
                        Err(e) => self.refuse(storage_error(e)),
                    }
                }
            }
            Event::End => {}
            Event::Invalid(why) => self.refuse(Response::error(400, why)),
        }
    }

    /// A new file part named `name`.
    fn begin(&self, name: &str) -> Result<Upload, Response> {
        name::check(name).map_err(name_refusal)?;
        let target = Target {
            dir: self.folder.dir.try_clone().map_err(storage_error)?,
            name: name.to_string(),
            rel: self.folder.rel.join(name),
        };
        self.share.check_new_file(&target, false)?;
        let opts = &self.share.options;
        let dest = super::target::folder_path(&self.folder.dir).join(name);
        Upload::begin(&dest, opts.max_upload, opts.overwrite, opts.sync).map_err(storage_error)
    }

    fn refuse(&mut self, resp: Response) {
        self.current = None; // removes its temporary file
        self.refused = Some(resp);
    }
}

impl BodySink for FormSink {
    fn limit(&self) -> u64 {
        u64::MAX
    }

    fn write(&mut self, data: &[u8]) {
        let mut events = Vec::new();
        // The parser lends its slices only for the call: collect owned events.
        self.parser.feed(data, &mut |ev| {
            events.push(match ev {
                Event::Data(d) => Owned::Data(d.to_vec()),
                Event::Part(n) => Owned::Part(n),
                Event::PartEnd => Owned::PartEnd,
                Event::End => Owned::End,
                Event::Invalid(w) => Owned::Invalid(w),
            })
        });
        for ev in events {
            match ev {
                Owned::Data(d) => self.on_event(Event::Data(&d)),
                Owned::Part(n) => self.on_event(Event::Part(n)),
                Owned::PartEnd => self.on_event(Event::PartEnd),
                Owned::End => self.on_event(Event::End),
                Owned::Invalid(w) => self.on_event(Event::Invalid(w)),
            }
        }
    }

    fn finish(mut self: Box<Self>, req: &Request) -> Response {
        if self.refused.is_none() && !self.parser.complete() {
            self.refuse(Response::error(
                400,
                "multipart body ended before its closing delimiter",
            ));
        }
        self.current = None;
        let folder = shown(&self.folder.rel);
        let stored = self.stored.join(", ");
        match self.refused.take() {
            None if self.stored.is_empty() => Response::error(400, "the form had no file"),
            None => answer(req, 201, format!("stored in {folder}: {stored}\n")),
            Some(refusal) if self.stored.is_empty() => refusal,
            Some(mut refusal) => {
                // Say what was stored before the refusal.
                let note = format!("stored before this: {stored}");
                refusal =
                    Response::error(refusal.status, &format!("{}; {note}", reason_of(&refusal)));
                refusal
            }
        }
    }
}

/// The explanation an error page carries (its `<p>`), for rewording.
fn reason_of(r: &Response) -> String {
    let body: Vec<u8> = r
        .body
        .iter()
        .filter_map(|p| match p {
            crate::http::response::Part::Bytes(b) => Some(b.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let text = String::from_utf8_lossy(&body);
    text.split("<p>")
        .nth(1)
        .and_then(|t| t.split("</p>").next())
        .map(|t| {
            t.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&")
        })
        .unwrap_or_default()
}

enum Owned {
    Data(Vec<u8>),
    Part(Option<String>),
    PartEnd,
    End,
    Invalid(&'static str),
}

impl Drop for FormSink {
    fn drop(&mut self) {
        // The part in progress goes (its Upload removes the temporary file)
        // before the folder's descriptor is closed.
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(p: &mut Parser, input: &[u8]) -> Vec<String> {
        let mut v = Vec::new();
        p.feed(input, &mut |e| {
            v.push(match e {
                Event::Part(n) => format!("part {n:?}"),
                Event::Data(d) => format!("data {}", String::from_utf8_lossy(d)),
                Event::PartEnd => "end".into(),
                Event::End => "END".into(),
                Event::Invalid(w) => format!("invalid {w}"),
            })
        });
        v
    }

    const BODY: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyY not yet\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nfield\r\n--XyZ--\r\n";

    #[test]
    fn boundaries_from_content_types() {
        assert_eq!(boundary("multipart/form-data; boundary=abc"), Some("abc"));
        assert_eq!(
            boundary("Multipart/Form-Data; charset=x; boundary=\"a b\""),
            Some("a b")
        );
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("text/plain; boundary=abc"), None);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))),
            None
        );
    }

    #[test]
    fn parts_byte_by_byte_equal_parts_at_once() {
        let mut whole = Parser::new("XyZ");
        let all = events(&mut whole, BODY);
        assert_eq!(all[0], "part Some(\"a.txt\")");
        let data: String = all
            .iter()
            .filter_map(|e| e.strip_prefix("data "))
            .take_while(|_| true)
            .collect();
        assert!(data.starts_with("hello\r\n--XyY not yet"), "{all:?}");
        assert!(all.contains(&"part None".to_string()));
        assert_eq!(all.last().unwrap(), "END");
        assert!(whole.complete());

        // Fed one byte at a time, the content is the same.
        let mut p = Parser::new("XyZ");
        let mut got = Vec::new();
        for b in BODY {
            got.extend(events(&mut p, std::slice::from_ref(b)));
        }
        let joined = |v: &[String]| -> String {
            v.iter()
                .map(|e| {
                    e.strip_prefix("data ")
                        .unwrap_or(&format!("|{e}|"))
                        .to_string()
                })
                .collect()
        };
        assert_eq!(joined(&got), joined(&all));
        assert!(p.complete());
    }

    #[test]
    fn bad_multipart_is_invalid() {
        let mut p = Parser::new("b");
        let ev = events(&mut p, b"--b\r\nno colon here\r\n\r\nx");
        assert_eq!(ev, ["invalid malformed multipart part head"]);
        let mut p = Parser::new("b");
        let ev = events(&mut p, b"--bXY");
        assert_eq!(ev, ["invalid malformed multipart delimiter"]);
        let mut p = Parser::new("b");
        let big = format!("--b\r\nA: {}", "x".repeat(9000));
        assert_eq!(
            events(&mut p, big.as_bytes()),
            ["invalid multipart part head too large"]
        );
    }

    #[test]
    fn filenames_from_heads() {
        assert_eq!(
            part_filename(b"Content-Disposition: form-data; name=\"f\"; filename=\"a%22b.txt\""),
            Ok(Some("a\"b.txt".into()))
        );
        assert_eq!(
            part_filename(b"Content-Disposition: form-data; name=x; filename=../x"),
            Ok(Some("../x".into()))
        );
        assert_eq!(
            part_filename(b"Content-Disposition: form-data; name=\"f\""),
            Ok(None)
        );
        assert!(part_filename(b"Content-Disposition: form-data; filename=\"open").is_err());
    }
}
