//! Folders as archives: `GET /folder/?download=tar`, `tar.gz` or `zip`
//! (with `netkit http --archives`), streamed while they are made.
//!
//! - [`walk`]: the folder's tree with the download policy (hidden names,
//!   symbolic links) of `GET`.
//! - [`tar`]: ustar with PAX headers, file contents sent with `sendfile`.
//! - [`zip`]: stored entries with data descriptors and zip64, CRC-32
//!   computed while reading.
//! - `tar.gz`: the tar through `flate2` at its fastest level.
//!
//! Nothing is staged: no temporary file and never a whole archive (or a
//! whole file) in memory; the stream makes its next piece only once the
//! earlier ones have left (see [`crate::http::body`]). At most
//! `--max-archives` streams run at once per process (503 beyond). A file that
//! vanishes, shrinks or cannot be read mid-stream ends the stream abruptly:
//! the chunked response is never terminated and the archive has no proper
//! end, so clients and unpackers report an error instead of keeping a
//! silently short archive; the server logs which file it was.

mod tar;
mod walk;
mod zip;

use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::body::{BodyStream, Piece};
use super::compress::{Coding, Compressed, Effort};
use super::request::Request;
use super::response::Response;
use super::static_files::StaticFiles;
use super::static_files::path::{Refusal, relative_path};
use walk::Walk;

/// The archive formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// POSIX tar.
    Tar,
    /// tar compressed with gzip.
    TarGz,
    /// zip (stored).
    Zip,
}

impl Format {
    /// The format a `?download=` value names.
    pub fn from_query(v: &str) -> Option<Format> {
        match v {
            "tar" => Some(Format::Tar),
            "tar.gz" | "tgz" => Some(Format::TarGz),
            "zip" => Some(Format::Zip),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::Zip => "zip",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Tar => "application/x-tar",
            Format::TarGz => "application/gzip",
            Format::Zip => "application/zip",
        }
    }
}

/// Serves archives of folders under a static root.
#[derive(Debug, Clone)]
pub struct Archives {
    files: Arc<StaticFiles>,
    /// Most streams at once.
    max: usize,
    /// Streams running now.
    running: Arc<AtomicUsize>,
}

/// Holds one of the archive slots while its stream lives.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Archives {
    /// Archives of `files`' folders, at most `max` streams at once.
    pub fn new(files: StaticFiles, max: usize) -> Archives {
        Archives {
            files: Arc::new(files),
            max: max.max(1),
            running: Arc::default(),
        }
    }

    /// Answers `GET /folder/?download=FORMAT`.
    pub fn serve(&self, req: &Request, value: &str) -> (Response, Option<Box<dyn BodyStream>>) {
        let Some(format) = Format::from_query(value) else {
            return (
                Response::error(400, "download= takes tar, tar.gz or zip"),
                None,
            );
        };
        let rel = match relative_path(&req.path, self.files.hidden) {
            Ok(r) => r,
            Err(r) => return (r.response(), None),
        };
        match self.files.open(&rel).map(|f| f.metadata()) {
            Ok(Ok(m)) if m.is_dir() => {}
            Ok(Ok(_)) => {
                return (
                    Response::error(400, "only folders are downloaded as archives"),
                    None,
                );
            }
            Ok(Err(_)) => return (Refusal::NotFound.response(), None),
            Err(r) => return (r.response(), None),
        }
        if self.running.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.running.fetch_sub(1, Ordering::AcqRel);
            return (
                Response::error(
                    503,
                    "too many archive downloads at once; try again shortly (see --max-archives)",
                )
                .header("Retry-After", "5"),
                None,
            );
        }
        let slot = Slot(Arc::clone(&self.running));
        let top: Vec<u8> = match rel.file_name() {
            Some(n) => n.as_bytes().to_vec(),
            None => self
                .files
                .root
                .file_name()
                .map(|n| n.as_bytes().to_vec())
                .unwrap_or_else(|| b"files".to_vec()),
        };
        let walk = Walk::new(Arc::clone(&self.files), rel, top.clone());
        let stream: Box<dyn BodyStream> = match format {
            Format::Tar => Box::new(Slotted {
                stream: tar::TarStream::new(walk),
                _slot: slot,
            }),
            Format::TarGz => Box::new(Slotted {
                stream: Compressed::new(tar::TarStream::new(walk), Coding::Gzip, Effort::Bulk),
                _slot: slot,
            }),
            Format::Zip => Box::new(Slotted {
                stream: zip::ZipStream::new(walk),
                _slot: slot,
            }),
        };
        let name = format!("{}.{}", String::from_utf8_lossy(&top), format.extension());
        let resp = Response::new(200)
            .header("Content-Type", format.content_type())
            .header("Content-Disposition", disposition(&name))
            .header("Cache-Control", "no-store");
        (resp, Some(stream))
    }
}

/// A stream that holds an archive slot (given back when it is dropped).
struct Slotted<S> {
    stream: S,
    _slot: Slot,
}

impl<S: BodyStream> BodyStream for Slotted<S> {
    fn next_piece(&mut self) -> Piece {
        self.stream.next_piece()
    }
}

/// `attachment; filename="..."; filename*=UTF-8''...` (RFC 6266): a plain
/// ASCII fallback and the exact name.
fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        crate::http::static_files::encode_link(name.as_bytes())
    )
}
