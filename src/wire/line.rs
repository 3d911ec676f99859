//! Line framing: messages end with LF, optionally preceded by CR (FTP, SMTP style).

/// Why a buffer does not hold a usable line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// No line end yet.
    #[error("incomplete line")]
    Incomplete,
    /// More than the limit arrived without a line end.
    #[error("line longer than {max} bytes")]
    TooLong {
        /// The limit it broke.
        max: usize,
    },
}

/// Parses the line at the start of `buf`: its content without the CR LF (or
/// bare LF) and the bytes used. Lines longer than `max` bytes (terminator
/// excluded) are rejected as soon as that many bytes have arrived without one.
pub fn parse(buf: &[u8], max: usize) -> Result<(&[u8], usize), LineError> {
    let window = &buf[..buf.len().min(max.saturating_add(2))];
    match window.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let line = &buf[..lf];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > max {
                return Err(LineError::TooLong { max });
            }
            Ok((line, lf + 1))
        }
        None if buf.len() > max.saturating_add(1) => Err(LineError::TooLong { max }),
        None => Err(LineError::Incomplete),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_bare_lf() {
        assert_eq!(parse(b"USER x\r\nPASS", 100), Ok((&b"USER x"[..], 8)));
        assert_eq!(parse(b"NOOP\n", 100), Ok((&b"NOOP"[..], 5)));
        assert_eq!(parse(b"\r\n", 100), Ok((&b""[..], 2)));
    }

    #[test]
    fn incomplete_then_too_long() {
        assert_eq!(parse(b"LIST", 10), Err(LineError::Incomplete));
        assert_eq!(parse(b"0123456789\r", 10), Err(LineError::Incomplete));
        assert_eq!(parse(b"0123456789\r\n", 10), Ok((&b"0123456789"[..], 12)));
        assert_eq!(
            parse(b"0123456789ab", 10),
            Err(LineError::TooLong { max: 10 })
        );
        assert_eq!(
            parse(b"0123456789a\n", 10),
            Err(LineError::TooLong { max: 10 })
        );
    }
}
