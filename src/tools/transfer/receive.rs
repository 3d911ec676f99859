//! The receiver: `netkit recv`. It takes one file into a hidden temporary
//! file, checks it, flushes it and only then gives it its name. Connections
//! that are not a sender, and transfers that fail, are refused and logged
//! while it goes on listening.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

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

/// Longest time a connection has to send its header: a connection that says
/// nothing (a port probe that stays open) is dropped after it. Connections
/// wait for their headers side by side, so a silent one never holds up a
/// real sender.
pub const HEADER_WAIT: Duration = Duration::from_secs(10);

/// Most connections that may be waiting for their header at once; more are
/// refused at once.
pub const MAX_PENDING: usize = 64;

/// How `recv` behaves.
#[derive(Debug, Clone)]
pub struct RecvOptions {
    /// Directory the file is stored in.
    pub dir: PathBuf,
    /// Replace an existing file of the same name.
    pub force: bool,
    /// Give up on a sender after this long without progress.
    pub timeout: Duration,
    /// Give up when no file has arrived this long after the start (a
    /// transfer under way is let finish); `None`: wait as long as it takes.
    pub wait: Option<Duration>,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// How one connection ended.
enum Outcome {
    /// The file is stored.
    Done(Transferred),
    /// This connection was refused or its transfer failed; the receiver
    /// goes on listening.
    Refused(TransferError),
    /// The receiver must stop: Ctrl-C, or it cannot store files at all.
    Stop(TransferError),
}

/// Waits for a sender on `listener` and receives its file into `opts.dir`.
/// Connections that are not a `netkit send` (a port probe, an HTTP client,
/// a silent connection), and transfers that fail (a refused name, a file
/// that exists, a bad checksum, a sender cut off or stalled) are answered
/// `ERR <reason>` where the peer can still read it, reported to
/// `on_refused`, and the receiver goes on listening until one file has
/// arrived whole. Headers are read side by side (each within
/// [`HEADER_WAIT`], or the stall timeout if shorter); one transfer runs at a
/// time, and a second sender meanwhile is told the receiver is busy.
///
/// Fails on Ctrl-C/SIGTERM, when `opts.wait` passes without a file
/// ([`TransferError::NoFile`]), or when the directory cannot take files
/// (creating or writing the temporary file fails).
pub fn receive_one(
    listener: &TcpListener,
    opts: &RecvOptions,
    shutdown: &Shutdown,
    on_refused: &mut dyn FnMut(SocketAddr, &TransferError),
) -> Result<Transferred, TransferError> {
    crate::server::net::set_timeout(listener, true, Some(TICK)).map_err(io_err("listener"))?;
    let started = Instant::now();
    let (tx, rx) = mpsc::channel::<(SocketAddr, Outcome)>();
    let busy = Arc::new(AtomicBool::new(false));
    let pending = Arc::new(AtomicUsize::new(0));
    loop {
        if let Some(end) = settle(&rx, on_refused) {
            return end;
        }
        if shutdown.is_set() {
            // The transfer under way (if any) sees the signal within a tick
            // and removes its temporary file before it reports.
            let limit = Instant::now() + Duration::from_secs(2);
            while busy.load(Ordering::SeqCst) && Instant::now() < limit {
                std::thread::sleep(Duration::from_millis(10));
            }
            return Err(TransferError::Interrupted);
        }
        if let Some(wait) = opts.wait
            && started.elapsed() >= wait
            && !busy.load(Ordering::SeqCst)
        {
            // A transfer reports before it clears `busy`: one that just
            // finished is in the channel now.
            return settle(&rx, on_refused).unwrap_or(Err(TransferError::NoFile(wait)));
        }
        let (stream, peer) = match listener.accept() {
            Ok(c) => c,
            Err(e) if sys::timed_out(&e) => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => {
                return Err(TransferError::Io {
                    context: "accept".into(),
                    cause: e,
                });
            }
        };
        if pending.load(Ordering::SeqCst) >= MAX_PENDING {
            on_refused(peer, &TransferError::Crowded(MAX_PENDING));
            continue;
        }
        pending.fetch_add(1, Ordering::SeqCst);
        let (tx, busy, pending) = (tx.clone(), Arc::clone(&busy), Arc::clone(&pending));
        let (opts, shutdown) = (opts.clone(), shutdown.clone());
        let spawned = std::thread::Builder::new()
            .name("recv-connection".into())
            .spawn(move || {
                let outcome = serve(&stream, peer, &opts, &shutdown, &busy, &pending);
                let ours = matches!(outcome, (_, true));
                let _ = tx.send((peer, outcome.0));
                if ours {
                    busy.store(false, Ordering::SeqCst);
                }
            });
        if let Err(e) = spawned {
            return Err(io_err("starting a connection thread")(e));
        }
    }
}

/// Takes what the connections reported; `Some` ends the wait.
fn settle(
    rx: &mpsc::Receiver<(SocketAddr, Outcome)>,
    on_refused: &mut dyn FnMut(SocketAddr, &TransferError),
) -> Option<Result<Transferred, TransferError>> {
    while let Ok((peer, outcome)) = rx.try_recv() {
        match outcome {
            Outcome::Done(t) => return Some(Ok(t)),
            Outcome::Stop(e) => return Some(Err(e)),
            Outcome::Refused(e) => on_refused(peer, &e),
        }
    }
    None
}

/// One connection: its header, then (if it is the one transfer) its file.
/// The flag says whether this connection held the receiver's `busy` claim.
fn serve(
    stream: &TcpStream,
    peer: SocketAddr,
    opts: &RecvOptions,
    shutdown: &Shutdown,
    busy: &AtomicBool,
    pending: &AtomicUsize,
) -> (Outcome, bool) {
    let header = read_header(stream, opts, shutdown);
    pending.fetch_sub(1, Ordering::SeqCst);
    let header = match header {
        Ok(h) => h,
        Err(e) => return (refuse(stream, e), false),
    };
    if busy
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return (refuse(stream, TransferError::Busy), false);
    }
    let outcome = match receive_from(stream, peer, header, opts, shutdown) {
        Ok(t) => {
            let _ = (&*stream).write_all(format!("OK {} {:08x}\n", t.size, t.crc).as_bytes());
            Outcome::Done(t)
        }
        Err(Failed::Peer(e)) => refuse(stream, e),
        Err(Failed::Local(e)) => {
            let _ = (&*stream).write_all(format!("ERR {}\n", reason_for_sender(&e)).as_bytes());
            Outcome::Stop(e)
        }
    };
    (outcome, true)
}

/// Answers `ERR <reason>` and reports the refusal (a signal stops the receiver).
fn refuse(stream: &TcpStream, e: TransferError) -> Outcome {
    if matches!(e, TransferError::Interrupted) {
        return Outcome::Stop(e);
    }
    let _ = (&*stream).write_all(format!("ERR {}\n", reason_for_sender(&e)).as_bytes());
    Outcome::Refused(e)
}

/// Reads and checks the header: a plain name, not already taken (unless
/// `--force`), a size the directory has room for.
fn read_header(
    stream: &TcpStream,
    opts: &RecvOptions,
    shutdown: &Shutdown,
) -> Result<Header, TransferError> {
    set_timeouts(stream, opts.timeout)?;
    let wait = opts.timeout.min(HEADER_WAIT);
    let mut reader = Watched {
        stream,
        shutdown,
        timeout: wait,
    };
    let header = match Header::read_from(&mut reader) {
        Err(TransferError::Timeout(t)) => return Err(TransferError::NoHeader(t)),
        other => other?,
    };
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
    Ok(header)
}

/// Why a transfer failed: the sender's doing (or its connection's), or the
/// receiver's own (its directory cannot take the file).
enum Failed {
    Peer(TransferError),
    Local(TransferError),
}

impl From<TransferError> for Failed {
    fn from(e: TransferError) -> Failed {
        Failed::Peer(e)
    }
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
    header: Header,
    opts: &RecvOptions,
    shutdown: &Shutdown,
) -> Result<Transferred, Failed> {
    let mut reader = Watched {
        stream,
        shutdown,
        timeout: opts.timeout,
    };
    let dest = opts.dir.join(&header.name);
    // A hidden temporary name until the file is whole and checked.
    let mut file = AtomicFile::create(&dest, RECV_PREFIX, opts.force)
        .map_err(io_err(format!(
            "cannot create a file in {}",
            opts.dir.display()
        )))
        .map_err(Failed::Local)?;
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
            return Err(Failed::Peer(TransferError::Short {
                got,
                size: header.size,
            }));
        }
        crc.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(io_err(format!("writing {}", dest.display())))
            .map_err(Failed::Local)?;
        got += n as u64;
        bar.set_position(got);
    }
    bar.finish_and_clear();
    let mut sum = [0u8; 4];
    read_exact_or(&mut reader, &mut sum, "the checksum")?;
    let expected = u32::from_be_bytes(sum);
    if expected != crc.value() {
        return Err(Failed::Peer(TransferError::Checksum {
            expected,
            actual: crc.value(),
        }));
    }
    // fsync, rename into place (never over an existing file without
    // --force), fsync the directory.
    file.commit(true).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => Failed::Peer(TransferError::Exists(dest.clone())),
        _ => Failed::Local(io_err(format!("cannot store {}", dest.display()))(e)),
    })?;
    Ok(Transferred {
        name: header.name,
        size: header.size,
        crc: crc.value(),
        peer,
        path: Some(dest),
    })
}
