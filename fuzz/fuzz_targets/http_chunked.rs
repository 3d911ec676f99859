//! `netkit::http::request::ChunkedDecoder` fed arbitrary bytes in arbitrary
//! pieces, as the HTTP session feeds it: never panics, never reports more
//! consumed than offered, never grows the body past the limit, and (within
//! the decoder's 4 KiB line bound) decodes the same whatever the split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::http::request::{Chunked, ChunkedDecoder};
use netkit_fuzz::{Pieces, splitter};

#[derive(Debug, PartialEq, Eq)]
enum End {
    Done { used: usize, body: Vec<u8> },
    Invalid,
    TooLarge,
    More,
}

fn decode(input: &[u8], mut pieces: Pieces, limit: u64) -> End {
    let mut d = ChunkedDecoder::default();
    let mut body = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut used = 0;
    let mut pos = 0;
    while pos < input.len() {
        let n = pieces.next_len().min(input.len() - pos);
        buf.extend_from_slice(&input[pos..pos + n]);
        pos += n;
        let before = body.len();
        match d.feed(&buf, &mut body, limit) {
            Ok(Chunked::More(k)) => {
                assert!(k <= buf.len(), "More({k}) of {}", buf.len());
                assert!(body.len() - before <= k, "more body than bytes used");
                buf.drain(..k);
                used += k;
            }
            Ok(Chunked::Done(k)) => {
                assert!(k <= buf.len(), "Done({k}) of {}", buf.len());
                assert!(body.len() as u64 <= limit);
                return End::Done {
                    used: used + k,
                    body,
                };
            }
            Ok(Chunked::Invalid) => return End::Invalid,
            Err(_) => {
                assert!(body.len() as u64 <= limit);
                return End::TooLarge;
            }
        }
        assert!(
            body.len() as u64 <= limit,
            "body {} over {limit}",
            body.len()
        );
    }
    End::More
}

fuzz_target!(|data: &[u8]| {
    let Some((&l, data)) = data.split_first() else {
        return;
    };
    let limit = [0u64, 1, 5, 64, 4096, 1 << 20][l as usize % 6];
    let (pieces, input) = splitter(data);
    let split = decode(input, pieces, limit);
    let whole = decode(input, Pieces::whole(), limit);
    if let End::Done { used, body } = &whole {
        assert!(*used <= input.len());
        assert!(body.len() <= *used);
    }
    // A line longer than 4 KiB is refused only while it is incomplete, so the
    // split matters past that bound (reported separately); below it, never.
    if input.len() <= 4096 {
        assert_eq!(split, whole, "the split changed the decoding");
    }
});
