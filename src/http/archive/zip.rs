//! A streaming zip, written by hand: every file stored (no compression:
//! what people share is mostly compressed already, and it keeps the stream
//! as fast as the disk), with its CRC-32 computed while it is read and sent
//! in a data descriptor after it; zip64 records for files of 4 GiB and more,
//! offsets past 4 GiB or more than 65,535 entries. Names are flagged UTF-8.
//! The central directory at the end needs a few dozen bytes per entry: the
//! one thing the stream keeps for the whole archive.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::walk::{Item, Walk};
use crate::http::body::{BodyStream, Piece};

/// Bytes read (and sent) at a time.
const READ: usize = 128 * 1024;

/// Most entries in one zip (the central directory is kept in memory).
pub(super) const MAX_ENTRIES: usize = 1_000_000;

/// Sizes and offsets from this value on need zip64 fields.
const ZIP64: u64 = 0xFFFF_FFFF;

/// What the central directory records of an entry.
struct Central {
    name: Vec<u8>,
    crc: u32,
    size: u64,
    offset: u64,
    dos: (u16, u16),
    mode: u32,
    folder: bool,
    zip64: bool,
}

/// A file being read into the stream.
struct Reading {
    file: Arc<File>,
    size: u64,
    done: u64,
    crc: flate2::Crc,
    entry: usize,
}

/// A zip of a walk, as pieces.
pub(super) struct ZipStream {
    walk: Walk,
    /// Bytes sent so far (where the next local header starts).
    offset: u64,
    central: Vec<Central>,
    reading: Option<Reading>,
    pending: VecDeque<Piece>,
    ended: bool,
}

impl ZipStream {
    pub(super) fn new(walk: Walk) -> ZipStream {
        ZipStream {
            walk,
            offset: 0,
            central: Vec::new(),
            reading: None,
            pending: VecDeque::new(),
            ended: false,
        }
    }

    fn bytes(&mut self, b: Vec<u8>) -> Piece {
        self.offset += b.len() as u64;
        Piece::Bytes(b)
    }

    /// The next block of the file being read.
    fn read_more(&mut self) -> Piece {
        let Some(r) = &mut self.reading else {
            return Piece::Bytes(Vec::new());
        };
        let want = (r.size - r.done).min(READ as u64) as usize;
        let mut buf = vec![0u8; want];
        let mut got = 0;
        while got < want {
            match r.file.read_at(&mut buf[got..], r.done + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let name = String::from_utf8_lossy(&self.central[r.entry].name).into_owned();
                    return Piece::Cut(format!("{name}: read error: {e}"));
                }
            }
        }
        if got < want {
            let name = String::from_utf8_lossy(&self.central[r.entry].name).into_owned();
            return Piece::Cut(format!("{name} shrank while the archive was sent"));
        }
        r.crc.update(&buf);
        r.done += got as u64;
        if r.done == r.size {
            let r = self.reading.take().expect("reading");
            let e = &mut self.central[r.entry];
            e.crc = r.crc.sum();
            let d = descriptor(e);
            self.offset += d.len() as u64;
            self.pending.push_back(Piece::Bytes(d));
        }
        self.offset += buf.len() as u64;
        Piece::Bytes(buf)
    }

    /// A local header for a new entry; returns its index.
    fn local(
        &mut self,
        name: Vec<u8>,
        size: u64,
        mtime: u64,
        mode: u32,
        folder: bool,
    ) -> (usize, Vec<u8>) {
        let zip64 = size >= ZIP64 || self.offset >= ZIP64;
        let dos = dos_time(mtime);
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        h.extend(0x0403_4b50u32.to_le_bytes());
        h.extend((if zip64 { 45u16 } else { 20 }).to_le_bytes());
        // bit 3: sizes and CRC in a data descriptor; bit 11: UTF-8 names.
        let flags: u16 = if folder { 0x0800 } else { 0x0808 };
        h.extend(flags.to_le_bytes());
        h.extend(0u16.to_le_bytes()); // stored
        h.extend(dos.0.to_le_bytes());
        h.extend(dos.1.to_le_bytes());
        h.extend(0u32.to_le_bytes()); // crc (in the descriptor)
        let unknown = if zip64 { u32::MAX } else { 0 };
        h.extend(unknown.to_le_bytes());
        h.extend(unknown.to_le_bytes());
        h.extend((name.len() as u16).to_le_bytes());
        h.extend((if zip64 { 20u16 } else { 0 }).to_le_bytes());
        h.extend_from_slice(&name);
        if zip64 {
            h.extend(1u16.to_le_bytes());
            h.extend(16u16.to_le_bytes());
            h.extend(0u64.to_le_bytes());
            h.extend(0u64.to_le_bytes());
        }
        self.central.push(Central {
            name,
            crc: 0,
            size,
            offset: self.offset,
            dos,
            mode,
            folder,
            zip64,
        });
        (self.central.len() - 1, h)
    }

    /// The central directory and its end records.
    fn end(&mut self) -> Vec<u8> {
        let start = self.offset;
        let mut cd = Vec::new();
        for e in &self.central {
            let big_size = e.size >= ZIP64;
            let big_off = e.offset >= ZIP64;
            let mut extra = Vec::new();
            if big_size {
                extra.extend(e.size.to_le_bytes());
                extra.extend(e.size.to_le_bytes());
            }
            if big_off {
                extra.extend(e.offset.to_le_bytes());
            }
            cd.extend(0x0201_4b50u32.to_le_bytes());
            let version: u16 = if e.zip64 || big_off { 45 } else { 20 };
            cd.extend((0x0300 | version).to_le_bytes()); // made by: Unix
            cd.extend(version.to_le_bytes());
            cd.extend((if e.folder { 0x0800u16 } else { 0x0808 }).to_le_bytes());
            cd.extend(0u16.to_le_bytes());
            cd.extend(e.dos.0.to_le_bytes());
            cd.extend(e.dos.1.to_le_bytes());
            cd.extend(e.crc.to_le_bytes());
            let size32 = if big_size { u32::MAX } else { e.size as u32 };
            cd.extend(size32.to_le_bytes());
            cd.extend(size32.to_le_bytes());
            cd.extend((e.name.len() as u16).to_le_bytes());
            let extra_len = if extra.is_empty() { 0 } else { extra.len() + 4 };
            cd.extend((extra_len as u16).to_le_bytes());
            cd.extend(0u16.to_le_bytes()); // comment
            cd.extend(0u16.to_le_bytes()); // disk
            cd.extend(0u16.to_le_bytes()); // internal attributes
            let kind = if e.folder { 0o040000 } else { 0o100000 };
            let external = ((kind | e.mode) << 16) | if e.folder { 0x10 } else { 0 };
            cd.extend(external.to_le_bytes());
            let off32 = if big_off { u32::MAX } else { e.offset as u32 };
            cd.extend(off32.to_le_bytes());
            cd.extend_from_slice(&e.name);
            if !extra.is_empty() {
                cd.extend(1u16.to_le_bytes());
                cd.extend((extra.len() as u16).to_le_bytes());
                cd.extend(extra);
            }
        }
        let size = cd.len() as u64;
        let count = self.central.len() as u64;
        let needs64 = count >= 0xFFFF || size >= ZIP64 || start >= ZIP64;
        if needs64 {
            let at = start + size;
            cd.extend(0x0606_4b50u32.to_le_bytes());
            cd.extend(44u64.to_le_bytes());
            cd.extend((0x0300u16 | 45).to_le_bytes());
            cd.extend(45u16.to_le_bytes());
            cd.extend(0u32.to_le_bytes());
            cd.extend(0u32.to_le_bytes());
            cd.extend(count.to_le_bytes());
            cd.extend(count.to_le_bytes());
            cd.extend(size.to_le_bytes());
            cd.extend(start.to_le_bytes());
            cd.extend(0x0706_4b50u32.to_le_bytes());
            cd.extend(0u32.to_le_bytes());
            cd.extend(at.to_le_bytes());
            cd.extend(1u32.to_le_bytes());
        }
        let c16 = count.min(0xFFFF) as u16;
        cd.extend(0x0605_4b50u32.to_le_bytes());
        cd.extend(0u16.to_le_bytes());
        cd.extend(0u16.to_le_bytes());
        cd.extend(c16.to_le_bytes());
        cd.extend(c16.to_le_bytes());
        cd.extend((size.min(ZIP64) as u32).to_le_bytes());
        cd.extend((start.min(ZIP64) as u32).to_le_bytes());
        cd.extend(0u16.to_le_bytes());
        cd
    }
}

impl BodyStream for ZipStream {
    fn next_piece(&mut self) -> Piece {
        if let Some(p) = self.pending.pop_front() {
            return p;
        }
        if self.reading.is_some() {
            return self.read_more();
        }
        if self.ended {
            return Piece::Done;
        }
        if self.central.len() >= MAX_ENTRIES {
            return Piece::Cut(format!("more than {MAX_ENTRIES} entries for one zip"));
        }
        match self.walk.next_item() {
            Item::Folder { path, mtime } => {
                let (_, h) = self.local(path, 0, mtime, 0o755, true);
                self.bytes(h)
            }
            Item::File {
                path,
                file,
                size,
                mtime,
                mode,
            } => {
                let (entry, mut h) = self.local(path, size, mtime, mode, false);
                if size <= super::tar::SMALL {
                    // Small files: header, content and descriptor in one buffer.
                    let at = h.len();
                    h.reserve(size as usize + 24);
                    if let Err(why) = super::tar::append_exactly(&file, size, &mut h) {
                        // The entry is announced, its content never comes.
                        h.truncate(at);
                        let name = String::from_utf8_lossy(&self.central[entry].name).into_owned();
                        self.pending.push_back(Piece::Cut(format!("{name}: {why}")));
                        return self.bytes(h);
                    }
                    let mut crc = flate2::Crc::new();
                    crc.update(&h[at..]);
                    let e = &mut self.central[entry];
                    e.crc = crc.sum();
                    h.extend(descriptor(e));
                    return self.bytes(h);
                }
                self.reading = Some(Reading {
                    file,
                    size,
                    done: 0,
                    crc: flate2::Crc::new(),
                    entry,
                });
                self.bytes(h)
            }
            Item::Vanished { path, size, mtime } => {
                let why = format!(
                    "{} vanished while the archive was sent",
                    String::from_utf8_lossy(&path)
                );
                let (_, h) = self.local(path, size, mtime, 0o644, false);
                self.pending.push_back(Piece::Cut(why));
                self.bytes(h)
            }
            Item::End => {
                self.ended = true;
                let cd = self.end();
                self.bytes(cd)
            }
        }
    }
}

/// The data descriptor after an entry's content: CRC-32 and sizes.
fn descriptor(e: &Central) -> Vec<u8> {
    let mut d = Vec::with_capacity(24);
    d.extend(0x0807_4b50u32.to_le_bytes());
    d.extend(e.crc.to_le_bytes());
    if e.zip64 {
        d.extend(e.size.to_le_bytes());
        d.extend(e.size.to_le_bytes());
    } else {
        d.extend((e.size as u32).to_le_bytes());
        d.extend((e.size as u32).to_le_bytes());
    }
    d
}

/// MS-DOS date and time (local time is UTC here; 1980 at the earliest).
fn dos_time(unix: u64) -> (u16, u16) {
    let c = crate::human::Civil::from_unix(unix as i64);
    if c.year < 1980 {
        return (0, (1 << 5) | 1);
    }
    let time = ((c.hour << 11) | (c.minute << 5) | (c.second / 2)) as u16;
    let date = ((((c.year - 1980).min(127) as u32) << 9) | (c.month << 5) | c.day) as u16;
    (time, date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times() {
        // 2024-05-01 12:34:56 UTC
        let (t, d) = dos_time(1_714_566_896);
        assert_eq!(t >> 11, 12);
        assert_eq!((t >> 5) & 63, 34);
        assert_eq!((t & 31) * 2, 56);
        assert_eq!(d >> 9, 44);
        assert_eq!((d >> 5) & 15, 5);
        assert_eq!(d & 31, 1);
        assert_eq!(dos_time(0), (0, 33));
    }
}
