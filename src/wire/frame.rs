//! Length-prefixed frames: a 4-byte big-endian length, then that many bytes.
//!
//! [`check`] decides from a buffer whether a whole frame is there (and rejects
//! an oversized length as soon as the 4-byte header arrives, before any payload
//! is buffered); [`parse`] returns the payload; [`encode`] builds a frame.
//! [`read_frame`] and [`write_frame`] are the blocking forms for clients.

use std::io::{self, Read, Write};

/// Bytes in the length header.
pub const HEADER_LEN: usize = 4;

/// The largest payload the netkit file protocol allows (64 KiB).
pub const MAX_FRAME: usize = 64 * 1024;

/// Why a buffer does not hold a usable frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not all of the frame has arrived yet.
    #[error("incomplete frame")]
    Incomplete,
    /// The header announces a payload larger than allowed.
    #[error("frame of {len} bytes is over the {max}-byte limit")]
    TooLarge {
        /// The announced payload length.
        len: usize,
        /// The limit it broke.
        max: usize,
    },
}

/// Checks whether `buf` starts with a complete frame whose payload is at most
/// `max` bytes; returns the frame's total length, header included.
pub fn check(buf: &[u8], max: usize) -> Result<usize, FrameError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Err(FrameError::Incomplete);
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let total = HEADER_LEN + len;
    if buf.len() < total {
        return Err(FrameError::Incomplete);
    }
    Ok(total)
}

/// Parses the frame at the start of `buf`: its payload and the bytes used.
pub fn parse(buf: &[u8], max: usize) -> Result<(&[u8], usize), FrameError> {
    let total = check(buf, max)?;
    Ok((&buf[HEADER_LEN..total], total))
}

/// Appends a frame carrying `payload` to `out`; fails if `payload` is over [`MAX_FRAME`].
pub fn encode(payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    if payload.len() > MAX_FRAME {
        return Err(FrameError::TooLarge {
            len: payload.len(),
            max: MAX_FRAME,
        });
    }
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// A frame carrying `payload`, as a new buffer.
pub fn encode_to_vec(payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    encode(payload, &mut out)?;
    Ok(out)
}

/// Reads one frame of at most `max` payload bytes. Returns `Ok(None)` when the
/// stream ends cleanly before a frame starts; an EOF inside a frame is an error.
pub fn read_frame(r: &mut impl Read, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(eof_inside()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            FrameError::TooLarge { len, max },
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            eof_inside()
        } else {
            e
        }
    })?;
    Ok(Some(payload))
}

/// Writes `payload` as one frame (one `write_all`, so header and payload leave together).
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let frame =
        encode_to_vec(payload).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    w.write_all(&frame)
}

fn eof_inside() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed in the middle of a frame",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let f = encode_to_vec(b"L").unwrap();
        assert_eq!(f, b"\0\0\0\x01L");
        assert_eq!(check(&f, MAX_FRAME), Ok(5));
        assert_eq!(parse(&f, MAX_FRAME), Ok((&b"L"[..], 5)));
    }

    #[test]
    fn empty_payload_is_a_frame() {
        assert_eq!(parse(b"\0\0\0\0rest", MAX_FRAME), Ok((&b""[..], 4)));
    }

    #[test]
    fn incomplete_header_and_payload() {
        assert_eq!(check(b"", MAX_FRAME), Err(FrameError::Incomplete));
        assert_eq!(check(b"\0\0\0", MAX_FRAME), Err(FrameError::Incomplete));
        assert_eq!(
            check(b"\0\0\0\x03ab", MAX_FRAME),
            Err(FrameError::Incomplete)
        );
    }

    #[test]
    fn oversized_length_is_rejected_from_the_header_alone() {
        let header = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert_eq!(
            check(&header, MAX_FRAME),
            Err(FrameError::TooLarge {
                len: MAX_FRAME + 1,
                max: MAX_FRAME
            })
        );
        assert!(matches!(
            check(&[0xff; 4], MAX_FRAME),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn largest_frame_fits_and_one_more_does_not() {
        let big = vec![b'x'; MAX_FRAME];
        let f = encode_to_vec(&big).unwrap();
        assert_eq!(check(&f, MAX_FRAME), Ok(MAX_FRAME + 4));
        assert!(encode_to_vec(&[0; MAX_FRAME + 1]).is_err());
    }

    #[test]
    fn two_frames_back_to_back() {
        let mut buf = encode_to_vec(b"G a").unwrap();
        encode(b"Q", &mut buf).unwrap();
        let (p, used) = parse(&buf, MAX_FRAME).unwrap();
        assert_eq!(p, b"G a");
        let (p, _) = parse(&buf[used..], MAX_FRAME).unwrap();
        assert_eq!(p, b"Q");
    }

    #[test]
    fn blocking_helpers() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"OK 3").unwrap();
        let mut r = &wire[..];
        assert_eq!(read_frame(&mut r, MAX_FRAME).unwrap().unwrap(), b"OK 3");
        assert!(read_frame(&mut r, MAX_FRAME).unwrap().is_none());
        let mut cut = &wire[..6];
        assert_eq!(
            read_frame(&mut cut, MAX_FRAME).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let mut big = &[0xffu8, 0xff, 0xff, 0xff][..];
        assert_eq!(
            read_frame(&mut big, MAX_FRAME).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
