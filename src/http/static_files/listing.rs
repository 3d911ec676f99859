//! Directory listings for static files: reading a directory's entries (hidden
//! names and symlinks that lead outside the root left out), and rendering
//! them as HTML or JSON with percent-encoded links and human-readable sizes.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

use super::path::Refusal;
use super::{StaticFiles, mtime_of};
use crate::http::request::Request;
use crate::http::response::Response;

/// Characters left as-is in links (RFC 3986 unreserved); all else is percent-encoded.
const LINK: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a file name (or one path segment) for use in a link.
pub(crate) fn encode_link(name: &[u8]) -> String {
    percent_encoding::percent_encode(name, LINK).to_string()
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// The file name, as the filesystem has it.
    pub(super) name: Vec<u8>,
    /// A directory (its link ends in `/`).
    pub(super) is_dir: bool,
    /// Size in bytes.
    pub(super) size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub(super) mtime: u64,
}

/// What a listing is sorted by (`?sort=name|size|date`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SortKey {
    /// Natural, case-insensitive name order (`a2` before `a10`, `Zeta` after `alpha`).
    Name,
    /// Size.
    Size,
    /// Modification time.
    Date,
}

/// A listing's order: key and direction (`?order=asc|desc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sort {
    pub(super) key: SortKey,
    pub(super) descending: bool,
}

impl Sort {
    /// From the query; the default is by name, ascending. A key without an
    /// order gets its natural one (names A to Z, biggest and newest first).
    pub(super) fn from_query(sort: Option<&str>, order: Option<&str>) -> Sort {
        let key = match sort {
            Some("size") => SortKey::Size,
            Some("date") | Some("time") | Some("modified") => SortKey::Date,
            _ => SortKey::Name,
        };
        let descending = match order {
            Some("desc") => true,
            Some("asc") => false,
            _ => key != SortKey::Name,
        };
        Sort { key, descending }
    }

    /// True for the order a listing has without a query.
    pub(super) fn is_default(self) -> bool {
        self == Sort::from_query(None, None)
    }

    /// The query that asks for this order.
    pub(super) fn query(self) -> String {
        let key = match self.key {
            SortKey::Name => "name",
            SortKey::Size => "size",
            SortKey::Date => "date",
        };
        let order = if self.descending { "desc" } else { "asc" };
        format!("?sort={key}&order={order}")
    }
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
        let order = Sort::from_query(req.query_param("sort"), req.query_param("order"));
        sort(&mut list, order);
        if wants_json(req.query_param("format"), req.header("accept")) {
            return Response::json(200, &json(&list)).header("Vary", "Accept");
        }
        Response::bytes(
            200,
            "text/html; charset=utf-8",
            super::page::html(rel, &list, order, self.features).into_bytes(),
        )
        .header("Vary", "Accept")
        .header("Cache-Control", "no-cache")
    }
}

/// Directories first, then in `order` (ties by natural name, then bytes).
fn sort(list: &mut [Entry], order: Sort) {
    let mut keyed: Vec<(Vec<NamePart>, Entry)> = list
        .iter()
        .map(|e| (name_key(&e.name), e.clone()))
        .collect();
    keyed.sort_by(|(ka, a), (kb, b)| {
        let by_name = || ka.cmp(kb).then_with(|| a.name.cmp(&b.name));
        let primary = match order.key {
            SortKey::Name => by_name(),
            SortKey::Size => a.size.cmp(&b.size).then_with(by_name),
            SortKey::Date => a.mtime.cmp(&b.mtime).then_with(by_name),
        };
        let primary = if order.descending {
            primary.reverse()
        } else {
            primary
        };
        b.is_dir.cmp(&a.is_dir).then(primary)
    });
    for (slot, (_, e)) in list.iter_mut().zip(keyed) {
        *slot = e;
    }
}

/// A piece of a name's natural sort key: a run of digits (by value) or of
/// other characters (lower-cased). Numbers sort before text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum NamePart {
    /// Digits without leading zeros: compared by length, then digit by digit.
    Number(usize, String),
    /// Anything else, lower-cased.
    Text(String),
}

/// The natural sort key of a name: `file10.txt` is `["file", 10, ".txt"]`.
fn name_key(name: &[u8]) -> Vec<NamePart> {
    let text = String::from_utf8_lossy(name);
    let mut parts = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        let digits = c.is_ascii_digit();
        let mut run = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_digit() != digits {
                break;
            }
            run.push(c);
            chars.next();
        }
        if digits {
            let trimmed = run.trim_start_matches('0').to_string();
            parts.push(NamePart::Number(trimmed.len(), trimmed));
        } else {
            parts.push(NamePart::Text(run.to_lowercase()));
        }
    }
    parts
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
pub(super) fn href(e: &Entry) -> String {
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
    fn directories_first_then_natural_case_insensitive_names() {
        let mut list = vec![
            entry("b", false, 1),
            entry("z", true, 0),
            entry("a", false, 1),
            entry("c", true, 0),
            entry("Zeta.txt", false, 1),
            entry("file10", false, 1),
            entry("file9", false, 1),
            entry("File09b", false, 1),
        ];
        sort(&mut list, Sort::from_query(None, None));
        let names: Vec<String> = list
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect();
        assert_eq!(
            names,
            ["c", "z", "a", "b", "file9", "File09b", "file10", "Zeta.txt"]
        );
        sort(&mut list, Sort::from_query(Some("name"), Some("desc")));
        assert_eq!(list[0].name, b"z");
        assert_eq!(list[2].name, b"Zeta.txt");
    }

    #[test]
    fn sizes_and_dates_sort_both_ways_with_folders_first() {
        let mut list = vec![
            entry("small", false, 1),
            entry("d", true, 0),
            entry("big", false, 9),
        ];
        list[0].mtime = 5;
        sort(&mut list, Sort::from_query(Some("size"), None));
        assert_eq!(
            list.iter().map(|e| e.name.as_slice()).collect::<Vec<_>>(),
            [&b"d"[..], b"big", b"small"]
        );
        sort(&mut list, Sort::from_query(Some("size"), Some("asc")));
        assert_eq!(list[1].name, b"small");
        sort(&mut list, Sort::from_query(Some("date"), Some("desc")));
        assert_eq!(list[1].name, b"big");
        assert!(Sort::from_query(Some("bogus"), Some("sideways")).is_default());
        assert_eq!(
            Sort::from_query(Some("date"), None).query(),
            "?sort=date&order=desc"
        );
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
}
