//! Directory listings for static files: reading a directory's entries (hidden
//! names and symlinks that lead outside the root left out), and rendering
//! them as HTML or JSON with percent-encoded links and human-readable sizes.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

use super::path::Refusal;
use super::{StaticFiles, mtime_of};
use crate::http::request::Request;
use crate::http::response::{Response, html_escape};

/// Characters left as-is in links (RFC 3986 unreserved); all else is percent-encoded.
const LINK: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a file name (or one path segment) for use in a link.
pub(super) fn encode_link(name: &[u8]) -> String {
    percent_encoding::percent_encode(name, LINK).to_string()
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// The file name, as the filesystem has it.
    name: Vec<u8>,
    /// A directory (its link ends in `/`).
    is_dir: bool,
    /// Size in bytes.
    size: u64,
    /// Modification time, seconds since the Unix epoch.
    mtime: u64,
}

impl StaticFiles {
    /// An HTML or JSON listing of a directory.
    pub(super) fn listing(&self, req: &Request, rel: &Path, dir: &File) -> Response {
        let entries = match std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd())) {
            Ok(entries) => entries,
            Err(e) => return Refusal::from_io(&e, Refusal::Forbidden).response(),
        };
        let mut list: Vec<Entry> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().as_bytes().to_vec();
                if name.first() == Some(&b'.') && !self.hidden {
                    return None;
                }
                // A symlink is described by what it leads to only if that may be
                // served; one that points outside the root is not listed at all.
                let meta = match e.file_type() {
                    Ok(t) if t.is_symlink() => self
                        .open(&rel.join(OsStr::from_bytes(&name)))
                        .ok()?
                        .metadata()
                        .ok()?,
                    _ => e.metadata().ok()?,
                };
                Some(Entry {
                    name,
                    is_dir: meta.is_dir(),
                    size: meta.len(),
                    mtime: mtime_of(&meta).as_secs(),
                })
            })
            .collect();
        sort(&mut list);
        if wants_json(req.query_param("format"), req.header("accept")) {
            return Response::json(200, &json(&list)).header("Vary", "Accept");
        }
        Response::bytes(
            200,
            "text/html; charset=utf-8",
            html(rel, &list).into_bytes(),
        )
        .header("Vary", "Accept")
    }
}

/// Directories first, then by name (bytewise).
fn sort(list: &mut [Entry]) {
    list.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
}

/// True if the client asked for JSON: `?format=json`, or an `Accept` header
/// listing `application/json`.
fn wants_json(format: Option<&str>, accept: Option<&str>) -> bool {
    format == Some("json")
        || accept.is_some_and(|a| {
            a.split(',')
                .any(|t| t.trim().starts_with("application/json"))
        })
}

/// An entry's link, relative to the listed directory.
fn href(e: &Entry) -> String {
    let mut h = encode_link(&e.name);
    if e.is_dir {
        h.push('/');
    }
    h
}

/// The JSON listing: one object per entry.
fn json(list: &[Entry]) -> serde_json::Value {
    let items: Vec<serde_json::Value> = list
        .iter()
        .map(|e| {
            serde_json::json!({
                "name": String::from_utf8_lossy(&e.name),
                "type": if e.is_dir { "directory" } else { "file" },
                "size": e.size,
                "modified": e.mtime,
                "href": href(e),
            })
        })
        .collect();
    serde_json::Value::Array(items)
}

/// The HTML listing of directory `rel` (relative to the root).
fn html(rel: &Path, list: &[Entry]) -> String {
    let title = format!("/{}", String::from_utf8_lossy(rel.as_os_str().as_bytes()));
    let title = if title.ends_with('/') {
        title
    } else {
        format!("{title}/")
    };
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>Index of {t}</title><style>body{{font-family:system-ui,sans-serif;margin:2em}}\
         table{{border-collapse:collapse}}td,th{{padding:.2em 1.2em .2em 0;text-align:left}}\
         .size{{text-align:right;font-variant-numeric:tabular-nums}}</style></head>\n<body><h1>Index of {t}</h1>\n<table>\n\
         <tr><th>Name</th><th class=\"size\">Size</th><th>Modified</th></tr>\n",
        t = html_escape(&title)
    );
    if !rel.as_os_str().is_empty() {
        html.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for e in list {
        // Names that would display as something else (a U+202E turning
        // `gpj.exe` into `exe.jpg`) show their hidden characters as U+FFFD;
        // the link still names the file exactly.
        let shown: String = String::from_utf8_lossy(&e.name)
            .chars()
            .map(|c| {
                if crate::disk::name::deceptive(c) {
                    '\u{FFFD}'
                } else {
                    c
                }
            })
            .collect();
        let shown = if e.is_dir { format!("{shown}/") } else { shown };
        let size = if e.is_dir {
            "-".to_string()
        } else {
            crate::human::size(e.size)
        };
        let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(e.mtime));
        html.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a></td><td class=\"size\" title=\"{} bytes\">{}</td><td>{}</td></tr>\n",
            html_escape(&href(e)),
            html_escape(&shown),
            e.size,
            size,
            date
        ));
    }
    html.push_str("</table>\n</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, is_dir: bool, size: u64) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            is_dir,
            size,
            mtime: 784_111_777,
        }
    }

    #[test]
    fn links() {
        assert_eq!(encode_link(b"a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(encode_link("a b/ü?#".as_bytes()), "a%20b%2F%C3%BC%3F%23");
        assert_eq!(href(&entry("d x", true, 0)), "d%20x/");
        assert_eq!(href(&entry("f", false, 0)), "f");
    }

    #[test]
    fn json_is_asked_for() {
        assert!(wants_json(Some("json"), None));
        assert!(wants_json(None, Some("text/html, application/json;q=0.9")));
        assert!(!wants_json(Some("html"), Some("text/html")));
        assert!(!wants_json(None, None));
    }

    #[test]
    fn directories_first_then_names() {
        let mut list = vec![
            entry("b", false, 1),
            entry("z", true, 0),
            entry("a", false, 1),
            entry("c", true, 0),
        ];
        sort(&mut list);
        let names: Vec<&[u8]> = list.iter().map(|e| e.name.as_slice()).collect();
        assert_eq!(names, [&b"c"[..], b"z", b"a", b"b"]);
    }

    #[test]
    fn json_listing() {
        let v = json(&[entry("d", true, 4096), entry("a b", false, 3)]);
        assert_eq!(
            v,
            serde_json::json!([
                {"name": "d", "type": "directory", "size": 4096, "modified": 784_111_777, "href": "d/"},
                {"name": "a b", "type": "file", "size": 3, "modified": 784_111_777, "href": "a%20b"},
            ])
        );
    }

    #[test]
    fn html_listing_escapes_and_links() {
        let list = [entry("sub", true, 4096), entry("<x>&.txt", false, 1536)];
        let root = html(Path::new(""), &list);
        assert!(root.contains("<title>Index of /</title>"));
        assert!(!root.contains("href=\"../\""));
        let page = html(Path::new("a&b"), &list);
        assert!(page.contains("<title>Index of /a&amp;b/</title>"));
        assert!(page.contains("<a href=\"../\">../</a>"));
        assert!(page.contains(
            "<a href=\"sub/\">sub/</a></td><td class=\"size\" title=\"4096 bytes\">-</td>"
        ));
        assert!(page.contains(
            "<a href=\"%3Cx%3E%26.txt\">&lt;x&gt;&amp;.txt</a></td><td class=\"size\" title=\"1536 bytes\">1.5 KiB</td>\
             <td>Sun, 06 Nov 1994 08:49:37 GMT</td>"
        ));
        assert!(page.ends_with("</table>\n</body></html>\n"));
    }

    #[test]
    fn names_that_display_as_something_else_are_shown_with_their_hidden_characters() {
        let page = html(Path::new(""), &[entry("gpj\u{202E}.exe", false, 1)]);
        assert!(page.contains(">gpj\u{FFFD}.exe</a>"), "{page}");
        assert!(page.contains("href=\"gpj%E2%80%AE.exe\""), "{page}");
    }
}
