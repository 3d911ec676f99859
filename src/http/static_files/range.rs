//! Byte ranges for static files: `Range` header parsing and coalescing
//! (pure), and the `206` (one range or `multipart/byteranges`) and `416`
//! responses built from it.

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use super::body_of;
use crate::http::response::{Part, Response};

/// Most ranges honoured in one request; more are answered with the whole file.
const MAX_RANGES: usize = 16;

/// Parsed `Range` header.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ranges {
    /// Not a bytes range we understand (or too many): send the whole file.
    Ignore,
    /// No range overlaps the file.
    Unsatisfiable,
    /// Inclusive (start, end) pairs.
    Some(Vec<(u64, u64)>),
}

/// Parses a `Range` header for a file of `size` bytes.
pub(super) fn parse_ranges(spec: &str, size: u64) -> Ranges {
    let Some(list) = spec.trim().strip_prefix("bytes=") else {
        return Ranges::Ignore;
    };
    let mut out = Vec::new();
    for item in list.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((a, b)) = item.split_once('-') else {
            return Ranges::Ignore;
        };
        let (a, b) = (a.trim(), b.trim());
        let range = if a.is_empty() {
            // Suffix range: the last N bytes.
            let Ok(n) = b.parse::<u64>() else {
                return Ranges::Ignore;
            };
            if n == 0 || size == 0 {
                continue;
            }
            (size.saturating_sub(n), size - 1)
        } else {
            let Ok(start) = a.parse::<u64>() else {
                return Ranges::Ignore;
            };
            let end = if b.is_empty() {
                size.saturating_sub(1)
            } else {
                match b.parse::<u64>() {
                    Ok(e) if e >= start => e.min(size.saturating_sub(1)),
                    _ => return Ranges::Ignore,
                }
            };
            if start >= size {
                continue;
            }
            (start, end)
        };
        out.push(range);
    }
    if out.is_empty() {
        return Ranges::Unsatisfiable;
    }
    if out.len() > MAX_RANGES {
        return Ranges::Ignore;
    }
    Ranges::Some(coalesce(out))
}

/// Merges ranges that overlap or touch (RFC 9110 section 14.6 allows it, in
/// any order), so a request cannot make the server send any byte twice.
/// Ranges that are all apart keep the order they were asked in.
fn coalesce(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    let mut sorted = ranges.clone();
    sorted.sort_unstable();
    if sorted.windows(2).all(|w| w[0].1.saturating_add(1) < w[1].0) {
        return ranges;
    }
    ranges.clear();
    for (start, end) in sorted {
        match ranges.last_mut() {
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => ranges.push((start, end)),
        }
    }
    ranges
}

/// The `416` answer: `base` (status, validators) plus the file's size.
pub(super) fn unsatisfiable(base: Response, size: u64) -> Response {
    base.header("Content-Range", format!("bytes */{size}"))
}

/// The `206` answer for `ranges` (non-empty) of `file`, which has `size`
/// bytes and was modified at `mtime`: one range as is, several as
/// `multipart/byteranges` parts of `content_type`. `base` carries the status
/// and the headers every answer has.
pub(super) fn partial(
    base: Response,
    file: Arc<File>,
    ranges: Vec<(u64, u64)>,
    size: u64,
    mtime: Duration,
    content_type: &str,
) -> Response {
    if let &[(start, end)] = ranges.as_slice() {
        return body_of(
            base.header("Content-Type", content_type.to_string())
                .header("Content-Range", format!("bytes {start}-{end}/{size}")),
            file,
            start,
            end - start + 1,
        );
    }
    let boundary = boundary(mtime, size, ranges.len());
    let mut r = base.header(
        "Content-Type",
        format!("multipart/byteranges; boundary={boundary}"),
    );
    for (start, end) in ranges {
        r = r.with_body(Part::Bytes(
            part_head(&boundary, content_type, start, end, size).into_bytes(),
        ));
        r = r.with_body(Part::File {
            file: Arc::clone(&file),
            offset: start,
            len: end - start + 1,
        });
    }
    r.with_body(Part::Bytes(format!("\r\n--{boundary}--\r\n").into_bytes()))
}

/// The multipart boundary for `count` ranges of a file (stable for one version).
fn boundary(mtime: Duration, size: u64, count: usize) -> String {
    format!("netkit-{:x}-{:x}", mtime.as_nanos() as u64 ^ size, count)
}

/// The delimiter and headers that start one part of a `multipart/byteranges` body.
fn part_head(boundary: &str, content_type: &str, start: u64, end: u64, size: u64) -> String {
    format!(
        "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {start}-{end}/{size}\r\n\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_ranges("bytes=0-9", 100), Ranges::Some(vec![(0, 9)]));
        assert_eq!(parse_ranges("bytes=90-", 100), Ranges::Some(vec![(90, 99)]));
        assert_eq!(parse_ranges("bytes=-10", 100), Ranges::Some(vec![(90, 99)]));
        assert_eq!(
            parse_ranges("bytes=95-200", 100),
            Ranges::Some(vec![(95, 99)])
        );
        assert_eq!(
            parse_ranges("bytes=0-0,5-6", 100),
            Ranges::Some(vec![(0, 0), (5, 6)])
        );
        assert_eq!(parse_ranges("bytes=100-", 100), Ranges::Unsatisfiable);
        // Apart: kept as asked, even out of order. Overlapping or touching: merged.
        assert_eq!(
            parse_ranges("bytes=50-59,0-9", 100),
            Ranges::Some(vec![(50, 59), (0, 9)])
        );
        assert_eq!(
            parse_ranges("bytes=0-49,10-20,50-59,90-", 100),
            Ranges::Some(vec![(0, 59), (90, 99)])
        );
        let many = format!("bytes={}", vec!["0-"; 16].join(","));
        assert_eq!(parse_ranges(&many, 100), Ranges::Some(vec![(0, 99)]));
        assert_eq!(parse_ranges("bytes=5-1", 100), Ranges::Ignore);
        assert_eq!(parse_ranges("items=0-1", 100), Ranges::Ignore);
        assert_eq!(parse_ranges("bytes=-0", 100), Ranges::Unsatisfiable);
    }

    #[test]
    fn too_many_ranges_mean_the_whole_file() {
        let many = format!("bytes={}", vec!["0-"; 17].join(","));
        assert_eq!(parse_ranges(&many, 100), Ranges::Ignore);
        assert_eq!(parse_ranges("bytes=-5", 0), Ranges::Unsatisfiable);
    }

    #[test]
    fn coalescing() {
        assert_eq!(coalesce(vec![(5, 9), (0, 4)]), vec![(0, 9)]);
        assert_eq!(coalesce(vec![(6, 9), (0, 4)]), vec![(6, 9), (0, 4)]);
        assert_eq!(coalesce(vec![(0, u64::MAX), (3, 4)]), vec![(0, u64::MAX)]);
    }

    #[test]
    fn multipart_pieces() {
        let b = boundary(Duration::new(1, 0), 0xff, 2);
        assert_eq!(b, "netkit-3b9acaff-2");
        assert_eq!(
            part_head(&b, "text/plain", 0, 9, 100),
            "\r\n--netkit-3b9acaff-2\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-9/100\r\n\r\n"
        );
    }
}
