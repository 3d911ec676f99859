//! Conditional requests (the static server's private `conditional` module)
//! through the HTTP session over a real temporary root. The input is up to
//! six header values separated by LF (If-Match, If-None-Match,
//! If-Modified-Since, If-Unmodified-Since, If-Range, Range; empty = absent);
//! `%E` in a value stands for the file's real ETag and `%D` for its
//! Last-Modified date, so the fuzzer reaches the matching branches. Never
//! panics; the status is one of 200, 206, 304, 412, 416; the ETag is sent;
//! the RFC 9110 order holds where it is easy to state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit_fuzz::{HTTP_FILES, LAST_MODIFIED, check_response, etag, header_value, serve_one};

const NAMES: [&str; 6] = [
    "If-Match",
    "If-None-Match",
    "If-Modified-Since",
    "If-Unmodified-Since",
    "If-Range",
    "Range",
];

fn expand(v: &[u8], tag: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() + 32);
    let mut i = 0;
    while i < v.len() {
        match (v[i], v.get(i + 1)) {
            (b'%', Some(b'E')) => {
                out.extend_from_slice(tag.as_bytes());
                i += 2;
            }
            (b'%', Some(b'D')) => {
                out.extend_from_slice(LAST_MODIFIED.as_bytes());
                i += 2;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (path, size) = HTTP_FILES[sel as usize % HTTP_FILES.len()];
    let method = if sel & 0x80 != 0 { "HEAD" } else { "GET" };
    let tag = etag(size as u64);
    let values: Vec<Vec<u8>> = rest
        .splitn(6, |&b| b == b'\n')
        .map(|v| header_value(&expand(v, &tag)).into_owned())
        .collect();
    let headers: Vec<(&str, &[u8])> = NAMES
        .iter()
        .zip(&values)
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (*n, v.as_slice()))
        .collect();
    let t = serve_one(method, &format!("/{path}"), &headers);
    let (resp, _) = check_response(&t, method == "HEAD");
    assert!(
        matches!(resp.status, 200 | 206 | 304 | 412 | 416),
        "status {}",
        resp.status
    );
    assert_eq!(resp.header("etag"), Some(tag.as_str()));
    assert_eq!(resp.header("last-modified"), Some(LAST_MODIFIED));
    let has = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.trim_ascii())
    };
    // Without If-Match, If-Unmodified-Since and If-None-Match: an
    // If-Modified-Since of exactly the file's date is 304.
    if has("If-Match").is_none()
        && has("If-Unmodified-Since").is_none()
        && has("If-None-Match").is_none()
        && has("If-Modified-Since") == Some(LAST_MODIFIED.as_bytes())
    {
        assert_eq!(resp.status, 304);
    }
    // If-None-Match: * always matches an existing file (unless a 412 comes first).
    if has("If-None-Match") == Some(b"*") && resp.status != 412 {
        assert_eq!(resp.status, 304);
    }
    // If-Match naming the real tag never fails on its own.
    if has("If-Match") == Some(tag.as_bytes()) {
        assert_ne!(resp.status, 412);
    }
    // No Range header: never a partial answer.
    if has("Range").is_none() {
        assert!(!matches!(resp.status, 206 | 416));
    }
});
