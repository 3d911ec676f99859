//! The HTTP session (routes, then static files over a real temporary root)
//! fed arbitrary bytes split at arbitrary points, as a driver would. Never
//! panics; never consumes more than offered; `Output` accounting adds up on
//! every call; every response starts with a status line; nothing is
//! answered after a close; the deadline and idle state stay coherent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::server::{Output, Peer, Service, Session};
use netkit_fuzz::{collect, drive, http_service, splitter};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let (pieces, input) = splitter(data);
    let mut s = http_service().session(&Peer::Unix);
    assert!(s.is_idle() && s.deadline().is_none());
    let mut t = drive(&mut s, input, pieces, flags & 1 != 0);
    assert!(t.consumed <= input.len());
    if !t.closed && !t.overflowed {
        // All input offered and nothing fatal: a session holds back only an
        // unfinished request.
        assert!(t.consumed == input.len() || !s.is_idle() || s.deadline().is_some());
    }
    if flags & 2 != 0 && s.deadline().is_some() {
        let mut out = Output::new();
        s.on_deadline(&mut out);
        collect(&mut out, &mut t);
        assert!(out.wants_close());
        assert!(s.deadline().is_none());
    }
    let bytes = t.flat();
    if !bytes.is_empty() {
        assert!(
            bytes.starts_with(b"HTTP/1.1 "),
            "output starts {:?}",
            &bytes[..bytes.len().min(20)]
        );
    }
});
