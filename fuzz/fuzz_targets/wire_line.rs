//! `netkit::wire::line::parse` on arbitrary bytes: a line lies inside the
//! input, ends at its first LF, loses only its CR LF, respects the limit;
//! `Incomplete` and `TooLong` are said exactly when they are true.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::wire::line::{self, LineError};

fuzz_target!(|data: &[u8]| {
    let Some((&m, data)) = data.split_first() else {
        return;
    };
    let max = [0, 1, 2, 10, 100, 8 * 1024, usize::MAX - 2][m as usize % 7];
    let first_lf = data.iter().position(|&b| b == b'\n');
    match line::parse(data, max) {
        Ok((l, n)) => {
            assert!(n <= data.len());
            assert_eq!(Some(n - 1), first_lf, "a line ends at the first LF");
            let content = &data[..n - 1];
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            assert_eq!(l, content);
            assert!(l.len() <= max);
        }
        Err(LineError::Incomplete) => {
            assert!(first_lf.is_none());
            assert!(data.len() <= max.saturating_add(1));
        }
        Err(LineError::TooLong { max: m }) => {
            assert_eq!(m, max);
            match first_lf {
                Some(lf) => {
                    let content = &data[..lf];
                    let content = content.strip_suffix(b"\r").unwrap_or(content);
                    assert!(content.len() > max || lf > max.saturating_add(1));
                }
                None => assert!(data.len() > max.saturating_add(1)),
            }
        }
    }
});
