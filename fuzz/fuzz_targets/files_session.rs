//! The netkit files session over a real temporary root (read-only, writable,
//! writable with overwrite), fed arbitrary bytes split at arbitrary points;
//! upload bodies go through the input sink as a driver splices them. Never
//! panics; never consumes more than offered; `Output` accounting adds up;
//! the output is a sequence of reply frames (`OK...` or `ERR ...`, each at
//! most 64 KiB), a file region only right after its `OK <size>`. The root
//! is put back after every run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::server::{Peer, Service};
use netkit::wire::frame::{self, MAX_FRAME};
use netkit_fuzz::{Out, drive, files_services, restore_files_root, splitter};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let service = &files_services()[flags as usize % 3];
    let (pieces, input) = splitter(data);
    let mut s = service.session(&Peer::Unix);
    let t = drive(&mut s, input, pieces, flags & 4 != 0);
    assert!(t.consumed <= input.len());
    // Read the replies back.
    let mut announced: Option<u64> = None;
    let mut bytes: Vec<u8> = Vec::new();
    let check_frames = |bytes: &mut Vec<u8>, announced: &mut Option<u64>| {
        let mut used = 0;
        while let Ok((p, n)) = frame::parse(&bytes[used..], MAX_FRAME) {
            let text = std::str::from_utf8(p).expect("replies are text");
            assert!(
                text.starts_with("OK") || text.starts_with("ERR "),
                "reply {text:?}"
            );
            *announced = text
                .strip_prefix("OK ")
                .and_then(|n| n.parse().ok())
                .filter(|&n| n > 0);
            used += n;
        }
        assert_eq!(used, bytes.len(), "output is not whole frames");
        bytes.clear();
    };
    for o in &t.out {
        match o {
            Out::Bytes(b) => bytes.extend_from_slice(b),
            Out::File { offset, len } => {
                check_frames(&mut bytes, &mut announced);
                assert_eq!(*offset, 0);
                assert_eq!(announced.take(), Some(*len), "a file region without its OK");
            }
        }
    }
    check_frames(&mut bytes, &mut announced);
    drop(s);
    // Only an upload (`P ...`) can change the root.
    if flags % 3 != 0 && input.windows(2).any(|w| w == b"P ") {
        restore_files_root();
    }
});
