//! A streamed body compressed as it goes: the pieces of an inner stream
//! (bytes, or file regions read here a slice at a time) through an
//! [`Encoder`], handed on in pieces of about 32 KiB, so memory stays
//! constant whatever the size (a large text file, a `tar.gz` archive).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::{Coding, Effort, Encoder};
use crate::http::body::{BodyStream, Piece};

/// Bytes of a file compressed at a time.
const READ: u64 = 128 * 1024;

/// Compressed output handed on once it reaches this size.
const HAND_ON: usize = 32 * 1024;

/// `inner`, compressed.
pub struct Compressed<S> {
    inner: S,
    encoder: Option<Encoder>,
    /// A file region of the inner stream being read and compressed.
    reading: Option<(Arc<File>, u64, u64)>,
    /// The inner stream is over and the coding's end sent.
    done: bool,
    /// The inner stream was cut; said once what was compressed before has gone.
    cut: Option<String>,
}

impl<S: BodyStream> Compressed<S> {
    /// Compresses `inner` with `coding`.
    pub fn new(inner: S, coding: Coding, effort: Effort) -> Compressed<S> {
        Compressed {
            inner,
            encoder: Some(Encoder::new(coding, effort, HAND_ON)),
            reading: None,
            done: false,
            cut: None,
        }
    }

    /// Compressed bytes ready so far.
    fn take(&mut self) -> Vec<u8> {
        self.encoder.as_mut().map(Encoder::take).unwrap_or_default()
    }
}

impl<S: BodyStream> BodyStream for Compressed<S> {
    fn next_piece(&mut self) -> Piece {
        loop {
            if let Some(why) = self.cut.take() {
                return Piece::Cut(why);
            }
            if self.done {
                return Piece::Done;
            }
            let Some(enc) = self.encoder.as_mut() else {
                return Piece::Done;
            };
            if let Some((file, offset, left)) = &mut self.reading {
                let want = (*left).min(READ) as usize;
                let mut buf = vec![0u8; want];
                let got = match file.read_at(&mut buf, *offset) {
                    Ok(n) => n,
                    Err(e) => return Piece::Cut(format!("read error: {e}")),
                };
                if got == 0 {
                    return Piece::Cut("a file shrank while it was sent".into());
                }
                if let Err(e) = enc.write_all(&buf[..got]) {
                    return Piece::Cut(format!("compression failed: {e}"));
                }
                *offset += got as u64;
                *left -= got as u64;
                if *left == 0 {
                    self.reading = None;
                }
            } else {
                match self.inner.next_piece() {
                    Piece::Bytes(b) => {
                        if let Err(e) = enc.write_all(&b) {
                            return Piece::Cut(format!("compression failed: {e}"));
                        }
                    }
                    Piece::File { file, offset, len } => self.reading = Some((file, offset, len)),
                    Piece::Done => {
                        let Some(enc) = self.encoder.take() else {
                            return Piece::Done;
                        };
                        self.done = true;
                        return match enc.finish() {
                            Ok(rest) => Piece::Bytes(rest),
                            Err(e) => Piece::Cut(format!("compression failed: {e}")),
                        };
                    }
                    Piece::Cut(why) => {
                        // What was compressed before the cut goes first.
                        let before = self.take();
                        self.encoder = None;
                        self.done = true;
                        if before.is_empty() {
                            return Piece::Cut(why);
                        }
                        self.cut = Some(why);
                        return Piece::Bytes(before);
                    }
                }
            }
            // Small outputs wait for more.
            if self.encoder.as_ref().is_some_and(|e| e.ready() >= HAND_ON) {
                return Piece::Bytes(self.take());
            }
        }
    }
}

/// A whole file region as a stream of one piece (what [`Compressed`]
/// reads a large static file through).
pub struct FileRegion {
    region: Option<(Arc<File>, u64, u64)>,
}

impl FileRegion {
    /// `len` bytes of `file` from `offset`.
    pub fn new(file: Arc<File>, offset: u64, len: u64) -> FileRegion {
        FileRegion {
            region: Some((file, offset, len)),
        }
    }
}

impl BodyStream for FileRegion {
    fn next_piece(&mut self) -> Piece {
        match self.region.take() {
            Some((file, offset, len)) => Piece::File { file, offset, len },
            None => Piece::Done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_large_file_streams_in_bounded_pieces_and_decodes_whole() {
        let data: Vec<u8> = (0..600_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        let file = Arc::new(f);
        for coding in Coding::ALL {
            let mut s = Compressed::new(
                FileRegion::new(Arc::clone(&file), 0, data.len() as u64),
                coding,
                Effort::OnTheFly,
            );
            let mut packed = Vec::new();
            loop {
                match s.next_piece() {
                    Piece::Bytes(b) => {
                        assert!(b.len() < 1 << 20, "pieces stay small");
                        packed.extend_from_slice(&b);
                    }
                    Piece::Done => break,
                    _ => panic!("unexpected piece"),
                }
            }
            let back = match coding {
                Coding::Gzip => {
                    let mut v = Vec::new();
                    flate2::read::GzDecoder::new(&packed[..])
                        .read_to_end(&mut v)
                        .unwrap();
                    v
                }
                Coding::Br => {
                    let mut v = Vec::new();
                    brotli::Decompressor::new(&packed[..], 4096)
                        .read_to_end(&mut v)
                        .unwrap();
                    v
                }
                Coding::Zstd => zstd::decode_all(&packed[..]).unwrap(),
            };
            assert_eq!(back, data, "{coding:?}");
        }
    }

    #[test]
    fn a_file_that_shrank_cuts_the_stream() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"short").unwrap();
        let mut s = Compressed::new(
            FileRegion::new(Arc::new(f), 0, 1 << 20),
            Coding::Gzip,
            Effort::OnTheFly,
        );
        assert!(matches!(s.next_piece(), Piece::Cut(_)));
    }
}
