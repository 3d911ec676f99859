//! The receiver: `netkit recv`. It takes one file into a hidden temporary
//! file, checks it, flushes it and only then gives it its name.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::io_err;
use super::watch::{Watched, set_timeouts, unwrap_watch};
use super::wire::read_exact_or;
use super::{CHUNK, Crc32, Header, TransferError, Transferred, check_name, progress};
use crate::server::Shutdown;
use crate::server::shutdown::TICK;
use crate::sys;

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
    set_timeouts(&stream, opts.timeout)?;
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
    fn part_names_fit_name_max() {
        let long = "é".repeat(127); // 254 bytes
        assert!(part_name(&long).len() <= 255);
        assert!(part_name("a.txt").starts_with(".a.txt.netkit-part-"));
    }
}
