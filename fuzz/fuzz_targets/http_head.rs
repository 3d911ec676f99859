//! `netkit::http::request::parse_head` on arbitrary bytes: never panics, a
//! complete head lies inside the input and parses the same on its own, an
//! error names one of the statuses the parser documents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::http::request::{BodyKind, Head, MAX_HEAD, parse_head};

fuzz_target!(|data: &[u8]| {
    match parse_head(data) {
        Head::Partial => {
            let skip = data
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            assert!(
                data.len() - skip <= MAX_HEAD,
                "Partial with {} bytes",
                data.len()
            );
        }
        Head::Error(status, why) => {
            assert!(
                matches!(status, 400 | 414 | 431 | 501 | 505),
                "status {status} ({why})"
            );
        }
        Head::Complete { request, body, len } => {
            assert!(
                len > 0 && len <= data.len(),
                "head of {len} in {}",
                data.len()
            );
            assert!(data[..len].ends_with(b"\n"), "a head ends with a line end");
            // The head alone is the same head.
            match parse_head(&data[..len]) {
                Head::Complete {
                    request: again,
                    body: body_again,
                    len: len_again,
                } => {
                    assert_eq!(len_again, len);
                    assert_eq!(body_again, body);
                    assert_eq!(again.method, request.method);
                    assert_eq!(again.target, request.target);
                    assert_eq!(again.headers, request.headers);
                }
                other => panic!("the head alone parses as {other:?}"),
            }
            assert!(!request.method.is_empty());
            assert!(request.target.contains(&request.path) || request.path == "/");
            assert!(
                request
                    .headers
                    .iter()
                    .all(|(n, _)| *n == n.to_ascii_lowercase())
            );
            if let BodyKind::Length(n) = body {
                assert!(n > 0);
            }
            // The accessors never panic either.
            let _ = request.keep_alive();
            let _ = request.header("host");
            let _ = request.query_param("a");
            let _ = request.header_has_token("connection", "close");
        }
    }
});
