//! The netkit file protocol as a sans-IO session (runs on every model).
//!
//! Requests are frames (see [`crate::wire::frame`]): `L`, `G <name>`,
//! `P <name> <size>` and `Q`; replies are frames starting with `OK` or `ERR`.
//! A download is the `OK <size>` frame followed by the file region, queued with
//! [`Output::send_file`] so the drivers use `sendfile(2)`. An upload switches
//! the session to raw mode: the next `<size>` bytes go to an [`Upload`], and the
//! final `OK <size>` (or `ERR`) is sent once they are stored. Dropping the
//! session mid-upload (the connection ended) removes the temporary file.
//!
//! Memory stays bounded: a frame is at most 64 KiB (a larger announced length
//! gets `ERR` and a close before any of it is buffered), the driver buffers at
//! most one frame ([`Session::max_buffer`]), a listing is cut to fit one frame,
//! a client that pipelines listings without reading them is cut off, and one
//! that pipelines downloads holds at most [`MAX_QUEUED_DOWNLOADS`] open files
//! (its further requests wait until those are sent).
//!
//! Every download and upload ends in one log line ([`transfer_log`]): the
//! client, the file, the bytes that really moved (for a download, those the
//! driver wrote: [`Output::written_total`]), the time and how it ended.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::library::{FileLibrary, LibraryError, Upload};
use crate::server::transfer_log::{self, Outcome, Transfer};
use crate::server::{InputSink, Output, Peer, Service, Session};
use crate::wire::frame::{self, FrameError, HEADER_LEN, MAX_FRAME};

/// Listing bytes one batch of input may produce before the client is judged to
/// be flooding (it sends requests without reading the replies).
const LISTING_BUDGET: usize = 4 << 20;

/// Downloads one connection may have queued at once. Each holds its file
/// open, so a client that pipelines `G` requests without reading the replies
/// holds at most this many descriptors; the rest of its requests wait, unread,
/// until these are sent.
pub const MAX_QUEUED_DOWNLOADS: usize = 8;

/// The files service: one [`FilesSession`] per connection over a shared library.
#[derive(Debug, Clone)]
pub struct FilesService {
    /// The shared directory and its rules.
    library: Arc<FileLibrary>,
}

impl FilesService {
    /// Serves `library`.
    pub fn new(library: FileLibrary) -> Self {
        FilesService {
            library: Arc::new(library),
        }
    }

    /// The library served.
    pub fn library(&self) -> &FileLibrary {
        &self.library
    }
}

impl Service for FilesService {
    type Session = FilesSession;
    fn session(&self, peer: &Peer) -> FilesSession {
        FilesSession {
            library: Arc::clone(&self.library),
            upload: None,
            closing: false,
            peer: peer.to_string(),
            downloads: VecDeque::new(),
            uploading: None,
        }
    }
}

/// One client's connection to the file server.
#[derive(Debug)]
pub struct FilesSession {
    /// The shared directory.
    library: Arc<FileLibrary>,
    /// The upload whose bytes are arriving, if any (raw mode).
    upload: Option<Upload>,
    /// Set after `Q` or a fatal protocol error: further input is ignored.
    closing: bool,
    /// The client, for the transfer log.
    peer: String,
    /// Downloads queued and not yet known to be sent, oldest first.
    downloads: VecDeque<Sending>,
    /// The upload in progress: its name, announced size and start.
    uploading: Option<(String, u64, Instant)>,
}

/// A download in the output: where its bytes start in the output's count.
#[derive(Debug)]
struct Sending {
    name: String,
    /// [`Output::queued_total`] when its first byte was queued.
    from: u64,
    size: u64,
    started: Instant,
}

impl Session for FilesSession {
    fn on_input(&mut self, input: &[u8], out: &mut Output) -> usize {
        let mut used = 0;
        let mut listed = 0;
        while !self.closing {
            let rest = &input[used..];
            if let Some(upload) = &mut self.upload {
                used += upload.write(rest);
                if upload.remaining() > 0 {
                    return used;
                }
                self.finish_upload(out);
                continue;
            }
            if out.queued_files() >= MAX_QUEUED_DOWNLOADS {
                // The driver offers the rest again once the output drained.
                return used;
            }
            match frame::parse(rest, MAX_FRAME) {
                Ok((payload, n)) => {
                    used += n;
                    self.request(payload, out, &mut listed);
                }
                Err(FrameError::Incomplete) => return used,
                Err(e @ FrameError::TooLarge { .. }) => {
                    reply_err(out, &e.to_string());
                    self.close(out);
                }
            }
        }
        input.len()
    }

    fn on_shutdown(&mut self, out: &mut Output) {
        if let Some(upload) = self.upload.take() {
            self.log_upload(
                &upload,
                Outcome::Failed("the server shut down; not stored".into()),
            );
            // Dropping the upload removes its temporary file.
            reply_err(
                out,
                "the server is shutting down; the upload was not stored",
            );
        }
        self.close(out);
    }

    fn on_eof(&mut self, out: &mut Output) {
        // An unfinished upload is discarded (its Drop removes the file).
        if let Some(upload) = self.upload.take() {
            self.log_upload(
                &upload,
                Outcome::Failed("the client closed the connection; not stored".into()),
            );
        }
        out.close();
    }

    fn on_drained(&mut self, out: &mut Output) {
        self.log_sent(out);
    }

    fn on_close(&mut self, out: &Output) {
        self.log_sent(out);
        for d in std::mem::take(&mut self.downloads) {
            let bytes = out.written_total().saturating_sub(d.from).min(d.size);
            self.log(
                &d.name,
                "get",
                bytes,
                d.started,
                Outcome::Failed("the connection closed".into()),
            );
        }
        if let Some(upload) = self.upload.take() {
            self.log_upload(
                &upload,
                Outcome::Failed("the connection ended; not stored".into()),
            );
        }
    }

    fn is_idle(&self) -> bool {
        self.upload.is_none()
    }

    fn max_buffer(&self) -> usize {
        HEADER_LEN + MAX_FRAME
    }

    fn input_sink(&self) -> Option<InputSink<'_>> {
        self.upload.as_ref()?.sink()
    }

    fn on_sunk(&mut self, moved: u64, error: Option<std::io::Error>, out: &mut Output) {
        let Some(upload) = &mut self.upload else {
            return;
        };
        upload.sunk(moved, error);
        if upload.remaining() == 0 {
            self.finish_upload(out);
        }
    }
}

impl FilesSession {
    /// Every byte of the upload arrived: store it for good and say how it went.
    fn finish_upload(&mut self, out: &mut Output) {
        if let Some(upload) = self.upload.take() {
            let (name, size, started) = self
                .uploading
                .take()
                .unwrap_or_else(|| (String::new(), 0, Instant::now()));
            match upload.finish() {
                Ok(size) => {
                    self.log(&name, "put", size, started, Outcome::Complete);
                    reply(out, &format!("OK {size}"));
                }
                Err(e) => {
                    let e = LibraryError::from(e).to_string();
                    self.log(&name, "put", size, started, Outcome::Failed(e.clone()));
                    reply_err(out, &e);
                }
            }
        }
    }

    /// Handles one request frame.
    fn request(&mut self, payload: &[u8], out: &mut Output, listed: &mut usize) {
        let Ok(text) = std::str::from_utf8(payload) else {
            return reply_err(out, "request is not UTF-8");
        };
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v, Some(a)),
            None => (text, None),
        };
        match (verb, arg) {
            ("L", None) => {
                if *listed > LISTING_BUDGET {
                    reply_err(out, "too many requests without reading the replies");
                    return self.close(out);
                }
                let listing = self.listing();
                *listed += listing.len();
                reply(out, &listing);
            }
            ("G", Some(name)) => match self.library.open_file(name) {
                Ok((file, size)) => {
                    reply(out, &format!("OK {size}"));
                    self.downloads.push_back(Sending {
                        name: name.to_string(),
                        from: out.queued_total(),
                        size,
                        started: Instant::now(),
                    });
                    out.send_file(Arc::new(file), 0, size);
                }
                Err(e) => reply_err(out, &e.to_string()),
            },
            ("P", Some(arg)) => {
                let Some((name, size)) = arg.rsplit_once(' ') else {
                    return reply_err(out, "usage: P <name> <size>");
                };
                let Some(size) = parse_size(size) else {
                    return reply_err(out, "size must be a whole number of bytes");
                };
                match self.library.begin_upload(name, size) {
                    Ok(upload) => {
                        reply(out, "OK");
                        self.upload = Some(upload);
                        self.uploading = Some((name.to_string(), size, Instant::now()));
                    }
                    Err(e) => reply_err(out, &e.to_string()),
                }
            }
            ("Q", None) => {
                reply(out, "OK bye");
                self.close(out);
            }
            ("L" | "Q", Some(_)) => reply_err(out, &format!("usage: {verb} (no argument)")),
            ("G", None) => reply_err(out, "usage: G <name>"),
            ("P", None) => reply_err(out, "usage: P <name> <size>"),
            _ => reply_err(
                out,
                "unknown request (use L, G <name>, P <name> <size> or Q)",
            ),
        }
    }

    /// `OK` and one `name\tsize\tmtime` line per file, cut to fit one frame.
    fn listing(&self) -> String {
        let entries = match self.library.list() {
            Ok(e) => e,
            Err(e) => return format!("ERR {}", LibraryError::from(e)),
        };
        let mut text = String::from("OK");
        for e in entries {
            let line = format!("\n{}\t{}\t{}", e.name, e.size, e.mtime);
            if text.len() + line.len() > MAX_FRAME {
                break; // the protocol caps a reply at one frame
            }
            text.push_str(&line);
        }
        text
    }

    fn close(&mut self, out: &mut Output) {
        self.closing = true;
        if let Some(upload) = self.upload.take() {
            self.log_upload(
                &upload,
                Outcome::Failed("the session ended; not stored".into()),
            );
        }
        out.close();
    }

    /// Logs the downloads the output has sent whole by now.
    fn log_sent(&mut self, out: &Output) {
        while let Some(d) = self.downloads.front() {
            if out.written_total() < d.from + d.size {
                break;
            }
            let d = self.downloads.pop_front().expect("front exists");
            self.log(&d.name, "get", d.size, d.started, Outcome::Complete);
        }
    }

    /// Logs an upload that ends unfinished (`upload` is being dropped).
    fn log_upload(&mut self, upload: &Upload, outcome: Outcome) {
        if let Some((name, size, started)) = self.uploading.take() {
            let got = size - upload.remaining();
            let outcome = match outcome {
                Outcome::Failed(why) if got < size => {
                    Outcome::Failed(format!("{why} ({got} of {size} bytes arrived)"))
                }
                o => o,
            };
            self.log(&name, "put", got, started, outcome);
        }
    }

    fn log(&self, name: &str, op: &str, bytes: u64, started: Instant, outcome: Outcome) {
        transfer_log::log(&Transfer {
            peer: &self.peer,
            user: None,
            op,
            path: name,
            bytes,
            started,
            outcome,
        });
    }
}

/// A decimal size with no sign, spaces or leading `+`.
fn parse_size(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn reply(out: &mut Output, text: &str) {
    match frame::encode_to_vec(text.as_bytes()) {
        Ok(f) => out.write_vec(f),
        Err(_) => reply_err(out, "reply too large"),
    }
}

fn reply_err(out: &mut Output, reason: &str) {
    reply(out, &format!("ERR {reason}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::library::Options;
    use crate::server::Chunk;

    fn service(writable: bool) -> (tempfile::TempDir, FilesService) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), b"hello").unwrap();
        std::fs::write(dir.path().join("a.bin"), b"").unwrap();
        std::fs::write(dir.path().join(".hidden"), b"secret").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let opts = Options {
            writable,
            max_file_size: 1000,
            ..Options::default()
        };
        let lib = FileLibrary::open(dir.path(), opts).unwrap();
        (dir, FilesService::new(lib))
    }

    fn session(s: &FilesService) -> FilesSession {
        s.session(&Peer::Unix)
    }

    fn req(text: &str) -> Vec<u8> {
        frame::encode_to_vec(text.as_bytes()).unwrap()
    }

    /// Byte replies, decoded as frames; file regions as `<file N bytes>`.
    fn replies(out: &mut Output) -> Vec<String> {
        let mut bytes = Vec::new();
        let mut got = Vec::new();
        while let Some(chunk) = out.front_mut() {
            match chunk {
                Chunk::Bytes { buf, pos } => {
                    bytes.extend_from_slice(&buf[*pos..]);
                    let n = buf.len() - *pos;
                    out.advance(n);
                }
                Chunk::File { len, .. } => {
                    let n = *len;
                    got.extend(frames(&mut bytes));
                    got.push(format!("<file {n} bytes>"));
                    out.advance(n as usize);
                }
            }
        }
        got.extend(frames(&mut bytes));
        got
    }

    fn frames(bytes: &mut Vec<u8>) -> Vec<String> {
        let mut v = Vec::new();
        while let Ok((p, n)) = frame::parse(bytes, MAX_FRAME) {
            v.push(String::from_utf8(p.to_vec()).unwrap());
            bytes.drain(..n);
        }
        v
    }

    #[test]
    fn list_get_quit() {
        let (_d, svc) = service(false);
        let mut s = session(&svc);
        let mut out = Output::new();
        let mut input = req("L");
        input.extend(req("G b.txt"));
        input.extend(req("G a.bin"));
        input.extend(req("Q"));
        input.extend(req("L")); // after Q: ignored
        assert_eq!(s.on_input(&input, &mut out), input.len());
        let r = replies(&mut out);
        assert!(r[0].starts_with("OK\na.bin\t0\t"), "{r:?}");
        assert!(r[0].contains("\nb.txt\t5\t"));
        assert!(!r[0].contains("hidden") && !r[0].contains("sub"));
        assert_eq!(r[1..], ["OK 5", "<file 5 bytes>", "OK 0", "OK bye"]);
        assert!(out.wants_close());
    }

    #[test]
    fn pipelined_downloads_queue_at_most_a_bounded_number_of_open_files() {
        let (_d, svc) = service(false);
        let mut s = session(&svc);
        let mut out = Output::new();
        let one = req("G b.txt");
        let input: Vec<u8> = one.repeat(3 * MAX_QUEUED_DOWNLOADS);
        let used = s.on_input(&input, &mut out);
        assert_eq!(used, one.len() * MAX_QUEUED_DOWNLOADS);
        assert_eq!(out.queued_files(), MAX_QUEUED_DOWNLOADS);
        // Offered again while nothing was written: nothing more is taken.
        assert_eq!(s.on_input(&input[used..], &mut out), 0);
        // Once the output is written, the next batch goes through.
        assert_eq!(replies(&mut out).len(), 2 * MAX_QUEUED_DOWNLOADS);
        assert_eq!(s.on_input(&input[used..], &mut out), used);
        assert_eq!(out.queued_files(), MAX_QUEUED_DOWNLOADS);
    }

    #[test]
    fn requests_split_across_reads() {
        let (_d, svc) = service(false);
        let mut s = session(&svc);
        let mut out = Output::new();
        let input = req("G b.txt");
        assert_eq!(s.on_input(&input[..3], &mut out), 0);
        assert_eq!(s.on_input(&input[..6], &mut out), 0);
        assert_eq!(s.on_input(&input, &mut out), input.len());
        assert_eq!(replies(&mut out), ["OK 5", "<file 5 bytes>"]);
    }

    #[test]
    fn hostile_requests_get_err_and_the_session_goes_on() {
        let (_d, svc) = service(true);
        let mut s = session(&svc);
        let mut out = Output::new();
        for bad in [
            "G ../etc/passwd",
            "G /etc/passwd",
            "G a\\b",
            "G .hidden",
            "G a\0b",
            "G nothere",
            "G sub",
            "P x.txt 1001",
            "P x.txt -1",
            "P x.txt",
            "P b.txt 1",
            "X",
            "",
            "L extra",
        ] {
            let input = req(bad);
            assert_eq!(s.on_input(&input, &mut out), input.len(), "{bad}");
            let r = replies(&mut out);
            assert_eq!(r.len(), 1, "{bad}: {r:?}");
            assert!(r[0].starts_with("ERR "), "{bad}: {r:?}");
        }
        let long = format!("G {}", "x".repeat(300));
        s.on_input(&req(&long), &mut out);
        assert!(replies(&mut out)[0].starts_with("ERR file name longer"));
        let mut bad_utf8 = vec![0, 0, 0, 3, b'G', b' ', 0xff];
        bad_utf8.extend(req("Q"));
        s.on_input(&bad_utf8, &mut out);
        assert_eq!(replies(&mut out), ["ERR request is not UTF-8", "OK bye"]);
    }

    #[test]
    fn oversized_frame_is_refused_before_buffering() {
        let (_d, svc) = service(false);
        let mut s = session(&svc);
        let mut out = Output::new();
        let header = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert_eq!(s.on_input(&header, &mut out), 4);
        let r = replies(&mut out);
        assert!(r[0].starts_with("ERR frame of 65537 bytes"), "{r:?}");
        assert!(out.wants_close());
    }

    #[test]
    fn upload_in_pieces_then_stored() {
        let (d, svc) = service(true);
        let mut s = session(&svc);
        let mut out = Output::new();
        let mut input = req("P new.txt 10");
        input.extend_from_slice(b"0123");
        assert_eq!(s.on_input(&input, &mut out), input.len());
        assert!(!s.is_idle());
        assert!(!d.path().join("new.txt").exists());
        let mut more = b"456789".to_vec();
        more.extend(req("P empty 0"));
        more.extend(req("L"));
        assert_eq!(s.on_input(&more, &mut out), more.len());
        let r = replies(&mut out);
        assert_eq!(r[..4], ["OK", "OK 10", "OK", "OK 0"]);
        assert!(r[4].contains("new.txt\t10\t") && r[4].contains("empty\t0\t"));
        assert_eq!(
            std::fs::read(d.path().join("new.txt")).unwrap(),
            b"0123456789"
        );
        assert!(s.is_idle());
    }

    /// What a driver does with the sink: write into its descriptor, then report.
    fn splice_by_hand(s: &mut FilesSession, bytes: &[u8], out: &mut Output) {
        let sink = s.input_sink().expect("an upload offers its file");
        assert!(bytes.len() as u64 <= sink.len);
        let n = nix::unistd::write(sink.fd, bytes).expect("write into the sink");
        assert_eq!(n, bytes.len());
        s.on_sunk(bytes.len() as u64, None, out);
    }

    #[test]
    fn upload_body_through_the_sink_after_buffered_bytes() {
        let (d, svc) = service(true);
        let mut s = session(&svc);
        let mut out = Output::new();
        assert!(s.input_sink().is_none());
        let mut input = req("P new.txt 10");
        input.extend_from_slice(b"012");
        assert_eq!(s.on_input(&input, &mut out), input.len());
        assert_eq!(s.input_sink().map(|k| k.len), Some(7));
        splice_by_hand(&mut s, b"3456", &mut out);
        assert_eq!(s.input_sink().map(|k| k.len), Some(3));
        splice_by_hand(&mut s, b"789", &mut out);
        assert!(s.input_sink().is_none());
        assert_eq!(replies(&mut out), ["OK", "OK 10"]);
        assert_eq!(
            std::fs::read(d.path().join("new.txt")).unwrap(),
            b"0123456789"
        );
        assert!(s.is_idle());
    }

    #[test]
    fn a_sink_write_error_fails_the_upload_and_the_rest_is_discarded() {
        let (d, svc) = service(true);
        let mut s = session(&svc);
        let mut out = Output::new();
        let input = req("P new.txt 10");
        assert_eq!(s.on_input(&input, &mut out), input.len());
        let err = std::io::Error::from_raw_os_error(libc::ENOSPC);
        s.on_sunk(4, Some(err), &mut out);
        // No file to splice into any more: the remaining 6 bytes come as input.
        assert!(s.input_sink().is_none());
        let mut rest = b"456789".to_vec();
        rest.extend(req("L"));
        assert_eq!(s.on_input(&rest, &mut out), rest.len());
        let r = replies(&mut out);
        assert_eq!(r[..2], ["OK", "ERR not enough space on the server"]);
        assert!(!r[2].contains("new.txt"));
        assert!(!d.path().join("new.txt").exists());
        let leftovers = std::fs::read_dir(d.path()).unwrap().count();
        assert_eq!(leftovers, 4, "temporary file removed");
    }

    #[test]
    fn upload_cut_off_leaves_nothing() {
        let (d, svc) = service(true);
        let mut s = session(&svc);
        let mut out = Output::new();
        let mut input = req("P half.txt 100");
        input.extend_from_slice(&[7; 50]);
        s.on_input(&input, &mut out);
        s.on_eof(&mut out);
        drop(s);
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 4, "{names:?}"); // b.txt a.bin .hidden sub: no temporary, no half.txt
        assert!(!d.path().join("half.txt").exists());
    }

    #[test]
    fn read_only_server_refuses_uploads() {
        let (_d, svc) = service(false);
        let mut s = session(&svc);
        let mut out = Output::new();
        s.on_input(&req("P x 1"), &mut out);
        assert_eq!(replies(&mut out), ["ERR the server is read-only"]);
    }

    #[test]
    fn pipelined_listing_flood_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..1500 {
            std::fs::write(dir.path().join(format!("file-{i:05}-padding-padding")), b"").unwrap();
        }
        let svc = FilesService::new(FileLibrary::open(dir.path(), Options::default()).unwrap());
        let mut s = session(&svc);
        let mut out = Output::new();
        let input: Vec<u8> = (0..200).flat_map(|_| req("L")).collect();
        assert_eq!(s.on_input(&input, &mut out), input.len());
        assert!(out.wants_close());
        let r = replies(&mut out);
        assert!(r.iter().all(|f| f.len() <= MAX_FRAME));
        assert!(r.len() < 200);
        assert!(r.last().unwrap().starts_with("ERR too many"));
    }
}
