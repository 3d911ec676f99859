//! The sender: `netkit send FILE ADDR`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use super::error::io_err;
use super::watch::{Watched, set_timeouts};
use super::wire::{read_line, refusal};
use super::{CHUNK, Crc32, Header, TransferError, Transferred, check_name, progress};
use crate::server::Shutdown;

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
        .map_err(|e| TransferError::Connect(crate::server::net::connect_error(addr, &e)))?;
    set_timeouts(&stream, opts.timeout)?;
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
