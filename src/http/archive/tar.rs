//! A streaming tar (POSIX ustar, with PAX extended headers for long names
//! and sizes of 8 GiB and more), written by hand: a header block, the file's
//! content as a file region (sent with `sendfile`), padding to 512 bytes; two
//! zero blocks at the end.

use std::collections::VecDeque;

use super::walk::{Item, Walk};
use crate::http::body::{BodyStream, Piece};

const BLOCK: usize = 512;

/// Largest size a ustar header holds (11 octal digits).
const USTAR_MAX_SIZE: u64 = 0o77777777777;

/// A tar of a walk, as pieces.
pub(super) struct TarStream {
    walk: Walk,
    /// Pieces ready to go.
    pending: VecDeque<Piece>,
    /// The end is queued.
    ended: bool,
}

impl TarStream {
    pub(super) fn new(walk: Walk) -> TarStream {
        TarStream {
            walk,
            pending: VecDeque::new(),
            ended: false,
        }
    }
}

impl BodyStream for TarStream {
    fn next_piece(&mut self) -> Piece {
        if let Some(p) = self.pending.pop_front() {
            return p;
        }
        if self.ended {
            return Piece::Done;
        }
        match self.walk.next_item() {
            Item::Folder { path, mtime } => Piece::Bytes(header(&path, 0, mtime, 0o755, b'5')),
            Item::File {
                path,
                file,
                size,
                mtime,
                mode,
            } => {
                let pad = padding(size);
                if size <= SMALL {
                    // Small files ride in one buffer with their header and
                    // padding: one slice of a vectored write instead of a
                    // write and a sendfile each.
                    let mut buf = header(&path, size, mtime, mode, b'0');
                    let at = buf.len();
                    buf.reserve(size as usize + pad);
                    if let Err(why) = append_exactly(&file, size, &mut buf) {
                        // The member is announced, its content never comes.
                        buf.truncate(at);
                        let why = format!("{}: {why}", String::from_utf8_lossy(&path));
                        self.pending.push_back(Piece::Cut(why));
                        return Piece::Bytes(buf);
                    }
                    buf.resize(buf.len() + pad, 0);
                    return Piece::Bytes(buf);
                }
                if size > 0 {
                    self.pending.push_back(Piece::File {
                        file,
                        offset: 0,
                        len: size,
                    });
                }
                if pad > 0 {
                    self.pending.push_back(Piece::Bytes(vec![0; pad]));
                }
                Piece::Bytes(header(&path, size, mtime, mode, b'0'))
            }
            Item::Vanished { path, size, mtime } => {
                // The member is announced and its content never comes: no
                // reader can take the archive for complete.
                let why = format!(
                    "{} vanished while the archive was sent",
                    String::from_utf8_lossy(&path)
                );
                self.pending.push_back(Piece::Cut(why));
                Piece::Bytes(header(&path, size.max(1), mtime, 0o644, b'0'))
            }
            Item::End => {
                self.ended = true;
                Piece::Bytes(vec![0; 2 * BLOCK])
            }
        }
    }
}

/// Files up to this size are read into the stream's buffer; larger ones are
/// sent from the page cache with `sendfile`.
pub(super) const SMALL: u64 = 128 * 1024;

/// Appends the first `size` bytes of `file` to `buf` (read straight into
/// its spare room, which is never zeroed first); a file shorter than that shrank.
pub(super) fn append_exactly(
    file: &std::fs::File,
    size: u64,
    buf: &mut Vec<u8>,
) -> Result<(), String> {
    use std::io::Read;
    let start = buf.len();
    let mut reader = file.take(size);
    loop {
        match reader.read_to_end(buf) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read error: {e}")),
        }
    }
    if ((buf.len() - start) as u64) < size {
        return Err("shrank while the archive was sent".into());
    }
    Ok(())
}

/// Zero bytes after `size` bytes of content, up to a whole block.
fn padding(size: u64) -> usize {
    (BLOCK - (size % BLOCK as u64) as usize) % BLOCK
}

/// The header block(s) of one member: a PAX extended header first when the
/// path or the size does not fit ustar.
pub(super) fn header(path: &[u8], size: u64, mtime: u64, mode: u32, kind: u8) -> Vec<u8> {
    let split = ustar_split(path);
    let mut out = Vec::with_capacity(BLOCK);
    let mut records = Vec::new();
    if split.is_none() {
        records.extend(pax_record(b"path", path));
    }
    if size > USTAR_MAX_SIZE {
        records.extend(pax_record(b"size", size.to_string().as_bytes()));
    }
    if !records.is_empty() {
        let mut name = b"PaxHeaders/".to_vec();
        let tail = &path[path.len().saturating_sub(80)..];
        name.extend(tail.iter().filter(|&&b| b != b'/'));
        out.extend(block(&name, &[], records.len() as u64, mtime, 0o644, b'x'));
        out.extend_from_slice(&records);
        out.resize(out.len() + padding(records.len() as u64), 0);
    }
    let (prefix, name) = split.unwrap_or((&[][..], &path[path.len().saturating_sub(100)..]));
    out.extend(block(
        name,
        prefix,
        size.min(USTAR_MAX_SIZE),
        mtime,
        mode,
        kind,
    ));
    out
}

/// Splits `path` into ustar's prefix (155 bytes) and name (100 bytes) at a `/`.
fn ustar_split(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.len() <= 100 {
        return Some((&[], path));
    }
    // The name part must fit 100 bytes: split at a '/' at or after len - 101.
    let from = path.len() - 101;
    let at = path[from..].iter().position(|&b| b == b'/')? + from;
    let (prefix, name) = (&path[..at], &path[at + 1..]);
    (prefix.len() <= 155 && !name.is_empty()).then_some((prefix, name))
}

/// One PAX record: `LEN key=value\n`, where LEN counts itself.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // space, '=', newline
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    let mut r = len.to_string().into_bytes();
    r.push(b' ');
    r.extend_from_slice(key);
    r.push(b'=');
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

/// One 512-byte ustar header.
fn block(name: &[u8], prefix: &[u8], size: u64, mtime: u64, mode: u32, kind: u8) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0); // uid
    octal(&mut h[116..124], 0); // gid
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime.min(0o77777777777));
    h[148..156].fill(b' ');
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len().min(155)].copy_from_slice(&prefix[..prefix.len().min(155)]);
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

/// Writes `v` as zero-padded octal filling `field` but its last byte (NUL).
fn octal(field: &mut [u8], v: u64) {
    let width = field.len() - 1;
    let text = format!("{v:0width$o}");
    let text = &text.as_bytes()[text.len().saturating_sub(width)..];
    field[..width].copy_from_slice(text);
    field[width] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_fit_one_block_and_checksum() {
        let h = header(b"dir/a.txt", 5, 0, 0o644, b'0');
        assert_eq!(h.len(), BLOCK);
        assert_eq!(&h[..9], b"dir/a.txt");
        assert_eq!(&h[124..136], b"00000000005\0");
        let mut copy = h.clone();
        copy[148..156].fill(b' ');
        let sum: u32 = copy.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(&h[148..155], format!("{sum:06o}\0").as_bytes());
    }

    #[test]
    fn long_names_split_or_go_to_pax() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        let h = header(long.as_bytes(), 1, 0, 0o644, b'0');
        assert_eq!(h.len(), BLOCK, "split into prefix and name");
        assert_eq!(&h[345..465], "d".repeat(120).as_bytes());
        let very = "x".repeat(300);
        let h = header(very.as_bytes(), 1, 0, 0o644, b'0');
        assert_eq!(h.len(), 3 * BLOCK);
        assert_eq!(h[156], b'x');
        let rec = String::from_utf8_lossy(&h[BLOCK..2 * BLOCK]);
        assert!(rec.starts_with("310 path=xxx"), "{rec}");
    }

    #[test]
    fn pax_lengths_count_themselves() {
        for n in [1usize, 5, 90, 95, 96, 97, 990, 995, 996] {
            let r = pax_record(b"path", &vec![b'a'; n]);
            let len: usize = String::from_utf8_lossy(&r)
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(len, r.len(), "value of {n}");
        }
    }

    #[test]
    fn big_sizes_use_pax() {
        let h = header(b"big", 10 << 30, 0, 0o644, b'0');
        assert_eq!(h.len(), 3 * BLOCK);
        assert!(String::from_utf8_lossy(&h[BLOCK..]).contains("size=10737418240\n"));
    }
}
