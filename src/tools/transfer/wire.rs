//! The protocol on the wire: the sender's header and the receiver's reply lines.

use std::io::{self, Read};

use super::TransferError;
use super::name::MAX_NAME;
use super::watch::unwrap_watch;

/// First bytes of a header: protocol name and version.
pub const MAGIC: [u8; 4] = *b"NKF1";

/// What the sender announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The file name (checked by the receiver with [`check_name`](super::check_name)).
    pub name: String,
    /// Exact number of data bytes that follow the receiver's `GO`.
    pub size: u64,
}

impl Header {
    /// The header's bytes: magic, size, name length, name.
    pub fn encode(&self) -> Vec<u8> {
        let name = self.name.as_bytes();
        let mut out = Vec::with_capacity(14 + name.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&(name.len().min(u16::MAX as usize) as u16).to_be_bytes());
        out.extend_from_slice(&name[..name.len().min(u16::MAX as usize)]);
        out
    }

    /// Reads and checks a header (magic, a name of at most [`MAX_NAME`] bytes of UTF-8).
    /// The name's content is checked separately with [`check_name`](super::check_name).
    pub fn read_from(r: &mut dyn Read) -> Result<Header, TransferError> {
        let mut fixed = [0u8; 14];
        read_exact_or(r, &mut fixed, "the header")?;
        if fixed[..4] != MAGIC {
            return Err(TransferError::Protocol(
                "the peer is not a `netkit send` client (bad magic)".into(),
            ));
        }
        let size = u64::from_be_bytes(fixed[4..12].try_into().expect("8 bytes"));
        let len = u16::from_be_bytes([fixed[12], fixed[13]]) as usize;
        if len > MAX_NAME {
            return Err(TransferError::BadName {
                name: format!("<{len} bytes>"),
                reason: "it is longer than 255 bytes".into(),
            });
        }
        let mut name = vec![0u8; len];
        read_exact_or(r, &mut name, "the file name")?;
        let name = String::from_utf8(name).map_err(|e| TransferError::BadName {
            name: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            reason: "it is not valid UTF-8".into(),
        })?;
        Ok(Header { name, size })
    }
}

/// Fills `buf`, or fails with a protocol error naming `what` if the peer closes first.
pub(super) fn read_exact_or(
    r: &mut dyn Read,
    buf: &mut [u8],
    what: &str,
) -> Result<(), TransferError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            TransferError::Protocol(format!("the connection closed in the middle of {what}"))
        }
        _ => unwrap_watch(e, format!("reading {what}")),
    })
}

/// Reads one `\n`-terminated reply line (at most 1 KiB).
pub(super) fn read_line(r: &mut dyn Read) -> Result<String, TransferError> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match r.read(&mut b) {
            Ok(0) => break,
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => line.push(b[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unwrap_watch(e, "reading the reply".into())),
        }
        if line.len() > 1024 {
            return Err(TransferError::Protocol("reply line too long".into()));
        }
    }
    if line.is_empty() {
        return Err(TransferError::Protocol(
            "the peer closed the connection without a reply".into(),
        ));
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// The error for a reply that is not the expected one: the receiver's
/// `ERR <reason>`, or a protocol error.
pub(super) fn refusal(reply: &str) -> TransferError {
    match reply.strip_prefix("ERR ") {
        Some(reason) => TransferError::Refused(reason.to_string()),
        None => TransferError::Protocol(format!("unexpected reply {reply:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_errors() {
        let h = Header {
            name: "a.txt".into(),
            size: 1 << 40,
        };
        let bytes = h.encode();
        assert_eq!(Header::read_from(&mut &bytes[..]).unwrap(), h);
        let e = Header::read_from(&mut &b"GET / HTTP/1.1\r\n"[..]).unwrap_err();
        assert!(e.to_string().contains("bad magic"), "{e}");
        let e = Header::read_from(&mut &bytes[..bytes.len() - 1]).unwrap_err();
        assert!(e.to_string().contains("closed in the middle"), "{e}");
        let mut long = MAGIC.to_vec();
        long.extend_from_slice(&5u64.to_be_bytes());
        long.extend_from_slice(&300u16.to_be_bytes());
        assert!(matches!(
            Header::read_from(&mut &long[..]),
            Err(TransferError::BadName { .. })
        ));
    }
}
