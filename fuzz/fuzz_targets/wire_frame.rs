//! `netkit::wire::frame`: `check`, `parse` and `read_frame` agree on
//! arbitrary bytes, a frame lies inside the input, and `encode` gives the
//! same bytes back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::wire::frame::{self, FrameError, HEADER_LEN, MAX_FRAME};

fuzz_target!(|data: &[u8]| {
    let Some((&m, data)) = data.split_first() else {
        return;
    };
    let max = [0, 1, 4, 255, 4096, MAX_FRAME, usize::MAX][m as usize % 7];
    let checked = frame::check(data, max);
    match frame::parse(data, max) {
        Ok((payload, n)) => {
            assert_eq!(checked, Ok(n));
            assert!(n <= data.len() && n == HEADER_LEN + payload.len());
            assert!(payload.len() <= max);
            assert_eq!(payload, &data[HEADER_LEN..n]);
            if payload.len() <= MAX_FRAME {
                assert_eq!(frame::encode_to_vec(payload).unwrap(), &data[..n]);
            }
            let got = frame::read_frame(&mut &data[..], max).expect("read a whole frame");
            assert_eq!(got.as_deref(), Some(payload));
        }
        Err(FrameError::Incomplete) => {
            assert_eq!(checked, Err(FrameError::Incomplete));
            match frame::read_frame(&mut &data[..], max) {
                Ok(None) => assert!(data.is_empty()),
                Ok(Some(_)) => panic!("read_frame found a frame parse calls incomplete"),
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
            }
        }
        Err(e @ FrameError::TooLarge { len, max: m }) => {
            assert_eq!(checked, Err(e));
            assert!(len > m && m == max && data.len() >= HEADER_LEN);
            let err = frame::read_frame(&mut &data[..], max).expect_err("too large");
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        }
    }
    // Encoding then parsing is the identity.
    if data.len() <= MAX_FRAME {
        let f = frame::encode_to_vec(data).unwrap();
        assert_eq!(frame::parse(&f, MAX_FRAME), Ok((data, f.len())));
    } else {
        assert!(frame::encode_to_vec(data).is_err());
    }
});
