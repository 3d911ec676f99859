//! Range requests (the static server's private `range` parser) through the
//! HTTP session over a real temporary root: an arbitrary `Range` value (and
//! sometimes `If-Range`) on each kind of file. Never panics; the status is
//! 200, 206 or 416; `Content-Length` is the body's length; a single range's
//! `Content-Range` lies inside the file and matches the body; each part of a
//! `multipart/byteranges` body names a range inside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit_fuzz::{HTTP_FILES, LAST_MODIFIED, Out, check_response, etag, serve_one};

fn content_range(v: &str) -> (u64, u64, u64) {
    let r = v.strip_prefix("bytes ").expect("Content-Range: bytes ...");
    let (span, size) = r.split_once('/').expect("a size");
    let size: u64 = size.parse().unwrap();
    let (a, b) = span.split_once('-').expect("a span");
    let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
    assert!(
        a <= b && b < size,
        "range {a}-{b} outside a {size}-byte file"
    );
    (a, b, size)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, value)) = data.split_first() else {
        return;
    };
    let (path, size) = HTTP_FILES[sel as usize % HTTP_FILES.len()];
    let size = size as u64;
    let method = if sel & 0x80 != 0 { "HEAD" } else { "GET" };
    let tag = etag(size);
    let if_range: Option<&[u8]> = match (sel >> 3) & 3 {
        1 => Some(tag.as_bytes()),
        2 => Some(LAST_MODIFIED.as_bytes()),
        3 => Some(b"\"stale\""),
        _ => None,
    };
    let mut headers: Vec<(&str, &[u8])> = vec![("Range", value)];
    if let Some(v) = if_range {
        headers.push(("If-Range", v));
    }
    let t = serve_one(method, &format!("/{path}"), &headers);
    let (resp, body) = check_response(&t, method == "HEAD");
    match resp.status {
        200 => assert_eq!(
            resp.header("content-length"),
            Some(size.to_string().as_str())
        ),
        206 => {
            let ct = resp.header("content-type").unwrap_or("");
            if let Some(boundary) = ct.strip_prefix("multipart/byteranges; boundary=") {
                if method == "GET" {
                    // Part heads are bytes, the parts themselves file regions.
                    let mut text = String::from_utf8_lossy(body).into_owned();
                    for o in &t.out[1..] {
                        match o {
                            Out::Bytes(b) => text.push_str(&String::from_utf8_lossy(b)),
                            Out::File { .. } => text.push('|'),
                        }
                    }
                    let parts = text.matches(&format!("\r\n--{boundary}\r\n")).count();
                    assert!(parts >= 2, "a multipart body of {parts} parts");
                    assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
                    let mut ranges = 0;
                    for line in text.split("\r\n") {
                        if let Some(v) = line.strip_prefix("Content-Range: ") {
                            assert_eq!(content_range(v).2, size);
                            ranges += 1;
                        }
                    }
                    assert_eq!(ranges, parts);
                }
            } else {
                let (a, b, whole) =
                    content_range(resp.header("content-range").expect("Content-Range"));
                assert_eq!(whole, size);
                if method == "GET" {
                    assert_eq!(resp.body_len, b - a + 1);
                }
            }
        }
        416 => assert_eq!(
            resp.header("content-range"),
            Some(format!("bytes */{size}").as_str())
        ),
        s => panic!("status {s} for a range request"),
    }
});
