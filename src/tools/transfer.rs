//! `netkit send FILE ADDR` and `netkit recv [--port P] [DIR]`: one file over
//! TCP, the course's file-transfer homework done carefully.
//!
//! ```text
//! $ netkit recv --port 7070 ~/incoming     # prints: listening on tcp://127.0.0.1:7070
//! $ netkit send report.pdf 127.0.0.1:7070  # a progress bar on a terminal, then:
//! sent report.pdf (1048576 bytes, crc32 1f2e3d4c) to 127.0.0.1:7070
//! ```
//!
//! `recv` takes one file and exits (0 on success). Use `--bind 0.0.0.0` to
//! accept senders from other machines.
//!
//! The exchange (all integers big-endian):
//!
//! | who      | sends                                                              |
//! |----------|--------------------------------------------------------------------|
//! | sender   | header: `NKF1`, size (u64), name length (u16), name (UTF-8)        |
//! | receiver | `GO\n`, or `ERR <reason>\n` and closes (bad name, file exists, no space) |
//! | sender   | exactly `size` bytes of the file, then its CRC-32 (u32)            |
//! | receiver | `OK <size> <crc32 hex>\n` once the file is stored, or `ERR <reason>\n` |
//!
//! What the receiver guarantees:
//! - The name is a plain file name: no `/`, `\`, NUL or control characters,
//!   not `.`/`..`, not hidden, at most 255 bytes. Anything else is refused, so
//!   a sender can never write outside DIR.
//! - The data goes into a hidden temporary file in DIR, is checked against the
//!   CRC-32 the sender computed, flushed to disk (fsync), and only then renamed
//!   to its name. An interrupted, corrupted or timed-out transfer (or Ctrl-C)
//!   leaves nothing under the final name.
//! - An existing file is never replaced unless `--force` (the final rename
//!   uses `RENAME_NOREPLACE`, so a file that appears meanwhile is not lost either).
//!
//! CRC-32 catches transmission and storage errors, not tampering: for that,
//! compare a cryptographic hash over a channel you trust.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

use crate::server::Shutdown;
use crate::server::shutdown::TICK;
use crate::sys;

/// First bytes of a header: protocol name and version.
pub const MAGIC: [u8; 4] = *b"NKF1";
/// Longest file name accepted, in bytes (Linux's NAME_MAX).
pub const MAX_NAME: usize = 255;
/// Default port of `netkit recv`.
pub const DEFAULT_PORT: u16 = 7070;
/// Copy buffer size.
const CHUNK: usize = 64 * 1024;

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The file name is not a plain name.
    #[error("refusing file name {name:?}: {reason}")]
    BadName {
        /// The name as received.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The peer does not speak this protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The receiver refused or failed; its reason.
    #[error("the receiver refused the file: {0}")]
    Refused(String),
    /// The target exists and `--force` was not given.
    #[error("{} already exists (use --force to replace it)", .0.display())]
    Exists(PathBuf),
    /// Data arrived but its checksum does not match.
    #[error(
        "checksum mismatch: the sender's crc32 is {expected:08x}, the data received gives {actual:08x}"
    )]
    Checksum {
        /// What the sender computed.
        expected: u32,
        /// What the received bytes give.
        actual: u32,
    },
    /// The connection ended before the announced size.
    #[error("the connection closed after {got} of {size} bytes")]
    Short {
        /// Bytes received.
        got: u64,
        /// Bytes announced.
        size: u64,
    },
    /// No progress for too long.
    #[error("no data for {0:?}; giving up")]
    Timeout(Duration),
    /// SIGINT/SIGTERM.
    #[error("interrupted")]
    Interrupted,
    /// An OS error, with what was being done.
    #[error("{context}: {cause}")]
    Io {
        /// What failed.
        context: String,
        /// The error.
        cause: io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> TransferError {
    let context = context.into();
    move |cause| TransferError::Io { context, cause }
}

/// Checks that `name` is a plain file name that is safe to create in a directory.
pub fn check_name(name: &str) -> Result<(), TransferError> {
    let bad = |reason| {
        Err(TransferError::BadName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME {
        return bad("it is longer than 255 bytes");
    }
    if name == "." || name == ".." {
        return bad("it names a directory, not a file");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("it contains a path separator; only plain file names are accepted");
    }
    if name.contains('\0') {
        return bad("it contains a NUL byte");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    if name.starts_with('.') {
        return bad("hidden names (starting with '.') are not accepted");
    }
    Ok(())
}

/// What the sender announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The file name (checked by the receiver with [`check_name`]).
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
    /// The name's content is checked separately with [`check_name`].
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
                reason: "it is longer than 255 bytes",
            });
        }
        let mut name = vec![0u8; len];
        read_exact_or(r, &mut name, "the file name")?;
        let name = String::from_utf8(name).map_err(|e| TransferError::BadName {
            name: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            reason: "it is not valid UTF-8",
        })?;
        Ok(Header { name, size })
    }
}

fn read_exact_or(r: &mut dyn Read, buf: &mut [u8], what: &str) -> Result<(), TransferError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            TransferError::Protocol(format!("the connection closed in the middle of {what}"))
        }
        _ => unwrap_watch(e, format!("reading {what}")),
    })
}

/// CRC-32 (IEEE 802.3, the one in zip, gzip and PNG), table-driven.
#[derive(Debug, Clone, Copy)]
pub struct Crc32 {
    /// Running value, pre-inverted.
    state: u32,
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Default for Crc32 {
    fn default() -> Self {
        Crc32 { state: !0 }
    }
}

impl Crc32 {
    /// A fresh checksum.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        let mut c = self.state;
        for &b in data {
            c = CRC_TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
        }
        self.state = c;
    }
    /// The checksum of everything added.
    pub fn value(&self) -> u32 {
        !self.state
    }
}

/// CRC-32 of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(data);
    c.value()
}

/// A progress bar on stderr when `show`, else a hidden one.
fn progress(show: bool, label: &str, total: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    crate::files::progress::transfer_bar(label, total)
}

/// A socket reader that wakes every [`TICK`] to notice Ctrl-C and gives up
/// after `timeout` without data.
struct Watched<'a> {
    stream: &'a TcpStream,
    shutdown: &'a Shutdown,
    timeout: Duration,
}

/// Marks errors made by [`Watched`] so they map back to the right variant.
#[derive(Debug)]
enum WatchStop {
    Interrupted,
    Timeout(Duration),
}

impl std::fmt::Display for WatchStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for WatchStop {}

fn unwrap_watch(e: io::Error, context: String) -> TransferError {
    match e.get_ref().and_then(|i| i.downcast_ref::<WatchStop>()) {
        Some(WatchStop::Interrupted) => TransferError::Interrupted,
        Some(WatchStop::Timeout(t)) => TransferError::Timeout(*t),
        None => TransferError::Io { context, cause: e },
    }
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = Instant::now();
        loop {
            if self.shutdown.is_set() {
                return Err(io::Error::other(WatchStop::Interrupted));
            }
            match (&mut &*self.stream).read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if sys::timed_out(&e) => {
                    if start.elapsed() >= self.timeout {
                        return Err(io::Error::other(WatchStop::Timeout(self.timeout)));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Reads one `\n`-terminated reply line (at most 1 KiB).
fn read_line(r: &mut dyn Read) -> Result<String, TransferError> {
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

/// How `send` behaves.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// Name to announce instead of the file's own.
    pub name: Option<String>,
    /// Give up after this long without progress.
    pub timeout: Duration,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// A finished transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// The file name announced.
    pub name: String,
    /// Bytes of data.
    pub size: u64,
    /// CRC-32 of the data.
    pub crc: u32,
    /// Where it went (sender) or came from (receiver).
    pub peer: SocketAddr,
    /// Where it was stored (receiver only).
    pub path: Option<PathBuf>,
}

impl std::fmt::Display for Transferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(
                f,
                "received {} ({} bytes, crc32 {:08x}) from {} into {}",
                self.name,
                self.size,
                self.crc,
                self.peer,
                p.display()
            ),
            None => write!(
                f,
                "sent {} ({} bytes, crc32 {:08x}) to {}",
                self.name, self.size, self.crc, self.peer
            ),
        }
    }
}

/// Sends the file at `path` to a `netkit recv` at `addr`.
pub fn send_file(
    path: &Path,
    addr: SocketAddr,
    opts: &SendOptions,
    shutdown: &Shutdown,
) -> Result<Transferred, TransferError> {
    let shown = path.display().to_string();
    let mut file = File::open(path).map_err(io_err(format!("cannot open {shown}")))?;
    let meta = file
        .metadata()
        .map_err(io_err(format!("cannot stat {shown}")))?;
    if !meta.is_file() {
        return Err(TransferError::Io {
            context: format!("cannot send {shown}"),
            cause: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
        });
    }
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    check_name(&name)?;
    let size = meta.len();

    let stream = TcpStream::connect_timeout(&addr, opts.timeout)
        .map_err(io_err(format!("cannot connect to {addr}")))?;
    stream
        .set_read_timeout(Some(TICK))
        .map_err(io_err("socket"))?;
    stream
        .set_write_timeout(Some(opts.timeout))
        .map_err(io_err("socket"))?;
    let mut reader = Watched {
        stream: &stream,
        shutdown,
        timeout: opts.timeout,
    };
    let mut writer = &stream;
    let header = Header {
        name: name.clone(),
        size,
    };
    writer
        .write_all(&header.encode())
        .map_err(io_err("sending the header"))?;
    let reply = read_line(&mut reader)?;
    if reply != "GO" {
        return Err(refusal(&reply));
    }

    let bar = progress(opts.progress, &name, size);
    let mut crc = Crc32::new();
    let mut buf = vec![0u8; CHUNK];
    let mut sent = 0u64;
    while sent < size {
        if shutdown.is_set() {
            return Err(TransferError::Interrupted);
        }
        let want = (size - sent).min(CHUNK as u64) as usize;
        let n = file
            .read(&mut buf[..want])
            .map_err(io_err(format!("reading {shown}")))?;
        if n == 0 {
            return Err(TransferError::Io {
                context: format!("reading {shown}"),
                cause: io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the file shrank to {sent} bytes while being sent"),
                ),
            });
        }
        crc.update(&buf[..n]);
        writer
            .write_all(&buf[..n])
            .map_err(io_err("sending data"))?;
        sent += n as u64;
        bar.set_position(sent);
    }
    writer
        .write_all(&crc.value().to_be_bytes())
        .map_err(io_err("sending the checksum"))?;
    bar.finish_and_clear();
    let reply = read_line(&mut reader)?;
    if !reply.starts_with("OK") {
        return Err(refusal(&reply));
    }
    Ok(Transferred {
        name,
        size,
        crc: crc.value(),
        peer: addr,
        path: None,
    })
}

fn refusal(reply: &str) -> TransferError {
    match reply.strip_prefix("ERR ") {
        Some(reason) => TransferError::Refused(reason.to_string()),
        None => TransferError::Protocol(format!("unexpected reply {reply:?}")),
    }
}

/// How `recv` behaves.
#[derive(Debug, Clone)]
pub struct RecvOptions {
    /// Directory the file is stored in.
    pub dir: PathBuf,
    /// Replace an existing file of the same name.
    pub force: bool,
    /// Give up after this long without progress.
    pub timeout: Duration,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// The hidden temporary file a transfer writes into; removed unless committed.
struct PartFile {
    /// Its path in the target directory.
    path: PathBuf,
    /// Set once renamed to the final name.
    committed: bool,
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Waits for one sender on `listener`, receives its file into `opts.dir`, and
/// answers it. Every refusal is also sent to the sender as `ERR <reason>`.
pub fn receive_one(
    listener: &TcpListener,
    opts: &RecvOptions,
    shutdown: &Shutdown,
) -> Result<Transferred, TransferError> {
    crate::server::net::set_timeout(listener, true, Some(TICK)).map_err(io_err("listener"))?;
    let (stream, peer) = loop {
        if shutdown.is_set() {
            return Err(TransferError::Interrupted);
        }
        match listener.accept() {
            Ok(c) => break c,
            Err(e) if sys::timed_out(&e) => {}
            Err(e) => {
                return Err(TransferError::Io {
                    context: "accept".into(),
                    cause: e,
                });
            }
        }
    };
    stream
        .set_read_timeout(Some(TICK))
        .map_err(io_err("socket"))?;
    stream
        .set_write_timeout(Some(opts.timeout))
        .map_err(io_err("socket"))?;
    let result = receive_from(&stream, peer, opts, shutdown);
    let reply = match &result {
        Ok(t) => format!("OK {} {:08x}\n", t.size, t.crc),
        Err(e) => format!("ERR {}\n", reason_for_sender(e)),
    };
    let _ = (&stream).write_all(reply.as_bytes());
    result
}

/// The refusal as the sender should read it: no local paths, no local advice.
fn reason_for_sender(e: &TransferError) -> String {
    match e {
        TransferError::Exists(p) => format!(
            "{} already exists there",
            p.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ),
        TransferError::Io { cause, .. } => format!("the receiver could not store it: {cause}"),
        other => other.to_string(),
    }
}

fn receive_from(
    stream: &TcpStream,
    peer: SocketAddr,
    opts: &RecvOptions,
    shutdown: &Shutdown,
) -> Result<Transferred, TransferError> {
    let mut reader = Watched {
        stream,
        shutdown,
        timeout: opts.timeout,
    };
    let header = Header::read_from(&mut reader)?;
    check_name(&header.name)?;
    let dest = opts.dir.join(&header.name);
    if !opts.force && std::fs::symlink_metadata(&dest).is_ok() {
        return Err(TransferError::Exists(dest));
    }
    if let Ok(st) = nix::sys::statvfs::statvfs(&opts.dir) {
        let free = st.blocks_available().saturating_mul(st.fragment_size());
        if header.size > free {
            return Err(TransferError::Io {
                context: format!("cannot store {} bytes", header.size),
                cause: io::Error::new(
                    io::ErrorKind::StorageFull,
                    format!("{} has only {free} bytes free", opts.dir.display()),
                ),
            });
        }
    }
    let mut part = PartFile {
        path: opts.dir.join(part_name(&header.name)),
        committed: false,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&part.path)
        .map_err(io_err(format!("cannot create {}", part.path.display())))?;
    (&*stream).write_all(b"GO\n").map_err(io_err("answering"))?;

    let bar = progress(opts.progress, &header.name, header.size);
    let mut crc = Crc32::new();
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    while got < header.size {
        let want = (header.size - got).min(CHUNK as u64) as usize;
        let n = reader
            .read(&mut buf[..want])
            .map_err(|e| unwrap_watch(e, "receiving data".into()))?;
        if n == 0 {
            return Err(TransferError::Short {
                got,
                size: header.size,
            });
        }
        crc.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(io_err(format!("writing {}", part.path.display())))?;
        got += n as u64;
        bar.set_position(got);
    }
    bar.finish_and_clear();
    let mut sum = [0u8; 4];
    read_exact_or(&mut reader, &mut sum, "the checksum")?;
    let expected = u32::from_be_bytes(sum);
    if expected != crc.value() {
        return Err(TransferError::Checksum {
            expected,
            actual: crc.value(),
        });
    }
    file.sync_all()
        .map_err(io_err(format!("flushing {}", part.path.display())))?;
    drop(file);
    commit(&part.path, &dest, opts.force)?;
    part.committed = true;
    // Make the rename itself durable.
    if let Ok(d) = File::open(&opts.dir) {
        let _ = d.sync_all();
    }
    Ok(Transferred {
        name: header.name,
        size: header.size,
        crc: crc.value(),
        peer,
        path: Some(dest),
    })
}

/// The temporary name for `name`: hidden, marked as ours, and short enough
/// for NAME_MAX whatever the length of `name`.
fn part_name(name: &str) -> String {
    let mut end = name.len().min(200);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(".{}.netkit-part-{}", &name[..end], std::process::id())
}

/// Renames the finished temporary file to its name; without `force`, atomically
/// refuses to replace a file that exists.
fn commit(part: &Path, dest: &Path, force: bool) -> Result<(), TransferError> {
    let ctx = || format!("cannot rename into {}", dest.display());
    if force {
        return std::fs::rename(part, dest).map_err(io_err(ctx()));
    }
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
    match renameat2(
        AT_FDCWD,
        part,
        AT_FDCWD,
        dest,
        RenameFlags::RENAME_NOREPLACE,
    ) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EEXIST) => Err(TransferError::Exists(dest.to_path_buf())),
        // Filesystems without RENAME_NOREPLACE: a hard link also refuses to replace.
        Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOSYS) => {
            match std::fs::hard_link(part, dest) {
                Ok(()) => std::fs::remove_file(part).map_err(io_err(ctx())),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    Err(TransferError::Exists(dest.to_path_buf()))
                }
                Err(e) => Err(io_err(ctx())(e)),
            }
        }
        Err(e) => Err(io_err(ctx())(io::Error::from(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        let mut c = Crc32::new();
        c.update(b"1234");
        c.update(b"56789");
        assert_eq!(c.value(), 0xCBF4_3926);
    }

    #[test]
    fn hostile_names_are_refused() {
        for name in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/etc/passwd",
            "a\\b",
            "a\0b",
            ".hidden",
            "a\nb",
        ] {
            assert!(check_name(name).is_err(), "{name:?} should be refused");
        }
        assert!(check_name(&"x".repeat(256)).is_err());
        for name in [
            "report.pdf",
            "a b c",
            "données.txt",
            "x..y",
            &"x".repeat(255),
        ] {
            assert!(check_name(name).is_ok(), "{name:?} should be accepted");
        }
    }

    #[test]
    fn part_names_fit_name_max() {
        let long = "é".repeat(127); // 254 bytes
        assert!(part_name(&long).len() <= 255);
        assert!(part_name("a.txt").starts_with(".a.txt.netkit-part-"));
    }

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
