//! The receiver: `netkit recv`. It takes one file into a hidden temporary
//! file, checks it, flushes it and only then gives it its name.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use super::error::io_err;
use super::watch::{Watched, set_timeouts, unwrap_watch};
use super::wire::read_exact_or;
use super::{CHUNK, Crc32, Header, TransferError, Transferred, check_name, progress};
use crate::disk::atomic::AtomicFile;
use crate::server::Shutdown;
use crate::server::shutdown::TICK;
use crate::sys;

/// Prefix of the temporary names `recv` gives files while they arrive.
pub const RECV_PREFIX: &str = ".netkit-recv-";

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
    // A hidden temporary name until the file is whole and checked.
    let mut file = AtomicFile::create(&dest, RECV_PREFIX, opts.force).map_err(io_err(format!(
        "cannot create a file in {}",
        opts.dir.display()
    )))?;
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
            .map_err(io_err(format!("writing {}", dest.display())))?;
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
    // fsync, rename into place (never over an existing file without
    // --force), fsync the directory.
    file.commit(true).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => TransferError::Exists(dest.clone()),
        _ => io_err(format!("cannot store {}", dest.display()))(e),
    })?;
    Ok(Transferred {
        name: header.name,
        size: header.size,
        crc: crc.value(),
        peer,
        path: Some(dest),
    })
}
