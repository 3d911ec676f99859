//! One FTP control connection: read a command line, answer it, repeat.
//!
//! This is blocking code (it owns the control socket and opens data
//! connections), which is why FTP runs as a [`crate::server::Handler`] on the
//! thread, pool, fork and prefork models. Reads wake every [`TICK`] to check the
//! idle timeout and the shutdown flag; a stopping server says `421` between
//! commands and lets a transfer in progress finish within the grace period.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::net::{IpAddr, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::FtpOptions;
use super::command::{Command, Listing, TransferType};
use super::data::{self, Clock, Passive, ReceiveError, canonical_ip};
use super::listing::{self, FACTS};
use super::path::{Jail, VirtualPath};
use crate::files::human;
use crate::files::store::{AtomicFile, UPLOAD_PREFIX};
use crate::server::shutdown::TICK;
use crate::server::{Connection, Stream};
use crate::sys;
use crate::wire::line::{self, LineError};

/// Longest command line accepted (a path can be up to 4096 bytes).
const MAX_LINE: usize = 8 * 1024;

/// The extensions announced by `FEAT`: exactly what this server implements.
const FEATURES: &[&str] = &[
    "EPSV",
    "MDTM",
    "MLST type*;size*;modify*;perm*;",
    "PASV",
    "REST STREAM",
    "SIZE",
    "UTF8",
];

/// Serves one control connection until QUIT, EOF, a timeout or shutdown.
pub fn serve(conn: Connection, opts: &FtpOptions, jail: &Jail) -> io::Result<()> {
    let Connection {
        stream,
        shutdown,
        idle_timeout,
        shutdown_timeout,
        ..
    } = conn;
    let Stream::Tcp(stream) = stream else {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "FTP needs TCP (passive mode sends an IP address)",
        ));
    };
    stream.set_nonblocking(false)?;
    let _ = stream.set_nodelay(true);
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(TICK))?;
    let peer_ip = canonical_ip(stream.peer_addr()?.ip());
    let local_ip = canonical_ip(stream.local_addr()?.ip());
    let mut control = Control {
        opts,
        jail,
        stream,
        peer_ip,
        local_ip,
        clock: Clock {
            idle: idle_timeout,
            shutdown,
            grace: shutdown_timeout,
            last: Instant::now(),
        },
        buf: Vec::with_capacity(1024),
        user: None,
        logged_in: false,
        cwd: VirtualPath::root(),
        rest: 0,
        passive: None,
        epsv_all: false,
        facts: [true; 4],
    };
    let result = control.run();
    sys::graceful_close(std::os::fd::AsFd::as_fd(&control.stream));
    result
}

/// Whether to keep reading commands.
enum Flow {
    Continue,
    Quit,
}

/// The state of one control connection.
struct Control<'a> {
    /// Server-wide options.
    opts: &'a FtpOptions,
    /// The root jail.
    jail: &'a Jail,
    /// The control socket (blocking, with a short read timeout).
    stream: TcpStream,
    /// The client's address: data connections must come from it.
    peer_ip: IpAddr,
    /// Our address on the control connection: passive listeners bind here.
    local_ip: IpAddr,
    /// Idle and shutdown limits.
    clock: Clock,
    /// Bytes received and not yet parsed into a command line.
    buf: Vec<u8>,
    /// The name given with USER, waiting for PASS.
    user: Option<String>,
    /// True after a successful PASS.
    logged_in: bool,
    /// Current directory.
    cwd: VirtualPath,
    /// Offset for the next RETR (REST STREAM).
    rest: u64,
    /// The listener opened by the last PASV/EPSV, waiting for a transfer command.
    passive: Option<Passive>,
    /// After `EPSV ALL`, PASV is refused (RFC 2428).
    epsv_all: bool,
    /// Which MLSx facts the client wants (`OPTS MLST`), in [`FACTS`] order.
    facts: [bool; 4],
}

impl Control<'_> {
    fn run(&mut self) -> io::Result<()> {
        self.reply(220, "netkit ftp ready (anonymous)")?;
        loop {
            let Some(line) = self.next_line()? else {
                return Ok(());
            };
            match self.command(&line)? {
                Flow::Continue => {}
                Flow::Quit => return Ok(()),
            }
        }
    }

    /// The next command line; `None` when the connection should end.
    fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut chunk = [0u8; 2048];
        loop {
            match line::parse(&self.buf, MAX_LINE) {
                Ok((line, used)) => {
                    let line = line.to_vec();
                    self.buf.drain(..used);
                    return Ok(Some(line));
                }
                Err(LineError::TooLong { .. }) => {
                    self.reply(500, "Command line too long")?;
                    return Ok(None);
                }
                Err(LineError::Incomplete) => {}
            }
            if self.clock.shutdown.is_set() {
                let _ = self.reply(421, "Server shutting down, closing control connection");
                return Ok(None);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.clock.progress();
                }
                Err(e) if sys::would_block(&e) => {
                    if self
                        .clock
                        .idle
                        .is_some_and(|t| self.clock.last.elapsed() >= t)
                    {
                        let _ = self.reply(421, "Idle timeout, closing control connection");
                        return Ok(None);
                    }
                }
                Err(_) => return Ok(None),
            }
        }
    }

    fn reply(&mut self, code: u16, text: &str) -> io::Result<()> {
        self.reply_bytes(code, text.as_bytes())
    }

    fn reply_bytes(&mut self, code: u16, text: &[u8]) -> io::Result<()> {
        let mut msg = format!("{code} ").into_bytes();
        // A CR or LF inside the text (from a file name) would start a new reply line.
        msg.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b'?' } else { b }),
        );
        msg.extend_from_slice(b"\r\n");
        self.write_control(&msg)
    }

    fn write_control(&mut self, msg: &[u8]) -> io::Result<()> {
        let mut clock = self.clock.clone();
        data::send_bytes(&mut self.stream, msg, &mut clock)
    }

    fn command(&mut self, line: &[u8]) -> io::Result<Flow> {
        let command = Command::parse(line);
        if !self.logged_in && !command.allowed_before_login() {
            self.reply(530, "Please login with USER and PASS")?;
            return Ok(Flow::Continue);
        }
        // REST applies to the command right after it only.
        let rest = std::mem::take(&mut self.rest);
        match command {
            Command::User(arg) => self.user(arg)?,
            Command::Pass => self.pass()?,
            Command::Quit => {
                self.reply(221, "Goodbye")?;
                return Ok(Flow::Quit);
            }
            Command::Syst => self.reply(215, "UNIX Type: L8")?,
            Command::Feat => self.feat()?,
            Command::Noop => self.reply(200, "OK")?,
            Command::Opts(arg) => self.opts(arg)?,
            Command::Pwd => {
                let mut text = b"\"".to_vec();
                for b in self.cwd.to_bytes() {
                    text.push(b);
                    if b == b'"' {
                        text.push(b'"'); // RFC 959: a quote in the name is doubled
                    }
                }
                text.extend_from_slice(b"\" is the current directory");
                self.reply_bytes(257, &text)?;
            }
            Command::Cwd(arg) => self.cwd(arg)?,
            Command::Cdup => self.cwd(b"..")?,
            Command::Type(TransferType::Binary) => self.reply(200, "Switching to binary mode")?,
            Command::Type(TransferType::Ascii) => {
                self.reply(200, "Switching to ASCII mode (files are sent unchanged)")?
            }
            Command::Type(TransferType::Unsupported) => {
                self.reply(504, "Only TYPE A and TYPE I are supported")?
            }
            Command::Mode(true) => self.reply(200, "Mode set to S")?,
            Command::Mode(false) => self.reply(504, "Only MODE S (stream) is supported")?,
            Command::Stru(true) => self.reply(200, "Structure set to F")?,
            Command::Stru(false) => self.reply(504, "Only STRU F (file) is supported")?,
            Command::Pasv => self.pasv()?,
            Command::Epsv(arg) => self.epsv(arg)?,
            Command::List(arg, how) => self.list(arg, how)?,
            Command::Mlst(arg) => self.mlst(arg)?,
            Command::Size(arg) => self.size(arg)?,
            Command::Mdtm(arg) => self.mdtm(arg)?,
            Command::Retr(arg) => self.retr(arg, rest)?,
            Command::Stor(arg) => self.stor(arg, rest)?,
            Command::Rest(Some(offset)) => {
                self.rest = offset;
                self.reply(350, &format!("Restarting at {offset}; send RETR"))?;
            }
            Command::Rest(None) => self.reply(501, "REST needs a byte offset")?,
            Command::NotImplemented => self.reply(502, "Command not implemented")?,
            Command::Unknown => self.reply(500, "Unknown command")?,
        }
        Ok(Flow::Continue)
    }

    fn user(&mut self, arg: &[u8]) -> io::Result<()> {
        let name = String::from_utf8_lossy(arg).to_ascii_lowercase();
        if name == "anonymous" || name == "ftp" {
            self.user = Some(name);
            self.logged_in = false;
            self.reply(331, "Anonymous login ok, send any password")
        } else {
            self.user = None;
            self.reply(530, "Only anonymous login is allowed (USER anonymous)")
        }
    }

    fn pass(&mut self) -> io::Result<()> {
        if self.logged_in {
            return self.reply(230, "Already logged in");
        }
        if self.user.is_none() {
            return self.reply(503, "Send USER first");
        }
        self.logged_in = true;
        let mode = if self.opts.writable {
            "read-write"
        } else {
            "read-only"
        };
        self.reply(230, &format!("Login successful ({mode})"))
    }

    fn feat(&mut self) -> io::Result<()> {
        let mut msg = String::from("211-Features:\r\n");
        for f in FEATURES {
            msg.push_str(&format!(" {f}\r\n"));
        }
        msg.push_str("211 End\r\n");
        self.write_control(msg.as_bytes())
    }

    fn opts(&mut self, arg: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(arg).to_string();
        let (what, value) = text.split_once(' ').unwrap_or((&text, ""));
        match what.to_ascii_uppercase().as_str() {
            "UTF8" | "UTF-8" => match value.trim().to_ascii_uppercase().as_str() {
                "" | "ON" => self.reply(200, "UTF8 mode is always on"),
                _ => self.reply(501, "UTF8 cannot be turned off"),
            },
            "MLST" => {
                let wanted: Vec<String> = value
                    .split(';')
                    .map(|f| f.trim().to_ascii_lowercase())
                    .filter(|f| !f.is_empty())
                    .collect();
                let mut chosen = String::new();
                for (i, fact) in FACTS.iter().enumerate() {
                    self.facts[i] = wanted.iter().any(|w| w == fact);
                    if self.facts[i] {
                        chosen.push_str(&format!("{fact};"));
                    }
                }
                self.reply(200, &format!("MLST OPTS {chosen}"))
            }
            _ => self.reply(501, "Unknown option"),
        }
    }

    fn cwd(&mut self, arg: &[u8]) -> io::Result<()> {
        let target = self.cwd.resolve(arg);
        match self.jail.existing(&target) {
            Ok(real) if real.is_dir() => {
                self.cwd = target;
                self.reply(250, "Directory changed")
            }
            Ok(_) => self.reply(550, "Not a directory"),
            Err(e) => self.reply_fs_error(&e),
        }
    }

    fn reply_fs_error(&mut self, e: &io::Error) -> io::Result<()> {
        match e.kind() {
            io::ErrorKind::NotFound => self.reply(550, "No such file or directory"),
            io::ErrorKind::PermissionDenied => self.reply(550, "Permission denied"),
            _ => self.reply(550, "Cannot access that path"),
        }
    }

    fn pasv(&mut self) -> io::Result<()> {
        if self.epsv_all {
            return self.reply(501, "PASV is not allowed after EPSV ALL");
        }
        let IpAddr::V4(ip) = self.local_ip else {
            return self.reply(425, "PASV needs IPv4; use EPSV");
        };
        match Passive::open(self.local_ip, self.opts.passive_ports) {
            Ok(p) => {
                let port = p.port()?;
                self.passive = Some(p);
                let [a, b, c, d] = ip.octets();
                self.reply(
                    227,
                    &format!(
                        "Entering Passive Mode ({a},{b},{c},{d},{},{})",
                        port >> 8,
                        port & 0xff
                    ),
                )
            }
            Err(e) => self.reply(425, &format!("Cannot open a passive port: {e}")),
        }
    }

    fn epsv(&mut self, arg: &[u8]) -> io::Result<()> {
        let arg = String::from_utf8_lossy(arg).trim().to_ascii_uppercase();
        let family_ok = match arg.as_str() {
            "" => true,
            "ALL" => {
                self.epsv_all = true;
                return self.reply(200, "EPSV ALL ok");
            }
            "1" => self.local_ip.is_ipv4(),
            "2" => self.local_ip.is_ipv6(),
            _ => return self.reply(501, "Unknown network protocol"),
        };
        if !family_ok {
            let ours = if self.local_ip.is_ipv4() { 1 } else { 2 };
            return self.reply(
                522,
                &format!("Network protocol not supported, use ({ours})"),
            );
        }
        match Passive::open(self.local_ip, self.opts.passive_ports) {
            Ok(p) => {
                let port = p.port()?;
                self.passive = Some(p);
                self.reply(229, &format!("Entering Extended Passive Mode (|||{port}|)"))
            }
            Err(e) => self.reply(425, &format!("Cannot open a passive port: {e}")),
        }
    }

    /// Accepts the data connection for a transfer, replying 425 if there is none.
    fn open_data(&mut self) -> io::Result<Option<TcpStream>> {
        let Some(passive) = self.passive.take() else {
            self.reply(425, "Use PASV or EPSV first")?;
            return Ok(None);
        };
        let mut clock = self.clock.clone();
        clock.progress();
        match passive.accept(self.peer_ip, self.opts.passive_timeout, &clock) {
            Ok(s) => Ok(Some(s)),
            Err(_) => {
                self.reply(425, "Cannot open data connection")?;
                Ok(None)
            }
        }
    }

    /// Closes the data connection politely and reports the transfer's outcome.
    fn finish_data(&mut self, stream: TcpStream, result: io::Result<()>) -> io::Result<()> {
        if result.is_ok() {
            sys::graceful_close(std::os::fd::AsFd::as_fd(&stream));
        }
        drop(stream);
        self.clock.progress();
        match result {
            Ok(()) => self.reply(226, "Transfer complete"),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                self.reply(426, "Data connection stalled; transfer aborted")
            }
            Err(_) => self.reply(426, "Data connection closed; transfer aborted"),
        }
    }

    fn list(&mut self, arg: &[u8], kind: Listing) -> io::Result<()> {
        // `LIST -la dir`: options are accepted and ignored.
        let mut arg = arg;
        while arg.starts_with(b"-") {
            let end = arg.iter().position(|&b| b == b' ').unwrap_or(arg.len());
            arg = arg[end..].strip_prefix(b" ").unwrap_or(&arg[end..]);
        }
        let target = self.cwd.resolve(arg);
        let real = match self.jail.existing(&target) {
            Ok(r) => r,
            Err(e) => return self.reply_fs_error(&e),
        };
        let meta = match real.metadata() {
            Ok(m) => m,
            Err(e) => return self.reply_fs_error(&e),
        };
        if kind == Listing::Facts && !meta.is_dir() {
            return self.reply(501, "MLSD needs a directory (use MLST for a file)");
        }
        let items = if meta.is_dir() {
            match listing::read_dir(self.jail, &real) {
                Ok(items) => items,
                Err(e) => return self.reply_fs_error(&e),
            }
        } else {
            let name = target.file_name().unwrap_or(OsStr::new("")).to_os_string();
            vec![listing::Item { name, meta }]
        };
        let now = human::now_unix();
        let mut body = Vec::new();
        for item in &items {
            let name = item.name.as_bytes();
            match kind {
                Listing::Long => body.extend(listing::list_line(name, &item.meta, now)),
                Listing::Names => {
                    body.extend_from_slice(name);
                    body.extend_from_slice(b"\r\n");
                }
                Listing::Facts => {
                    let facts = self.facts_of(&item.meta);
                    body.extend(listing::mlsd_line(name, &facts));
                }
            }
        }
        let Some(mut stream) = self.open_data()? else {
            return Ok(());
        };
        self.reply(150, "Here comes the directory listing")?;
        let mut clock = self.clock.clone();
        let result = data::send_bytes(&mut stream, &body, &mut clock);
        self.finish_data(stream, result)
    }

    fn facts_of(&self, meta: &std::fs::Metadata) -> String {
        listing::facts(meta, &self.facts, self.opts.writable, self.opts.overwrite)
    }

    fn mlst(&mut self, arg: &[u8]) -> io::Result<()> {
        let target = self.cwd.resolve(arg);
        let meta = match self.jail.existing(&target).and_then(|r| r.metadata()) {
            Ok(m) => m,
            Err(e) => return self.reply_fs_error(&e),
        };
        let mut msg = b"250-Listing ".to_vec();
        msg.extend(
            target
                .to_bytes()
                .into_iter()
                .filter(|&b| b != b'\r' && b != b'\n'),
        );
        msg.extend_from_slice(b"\r\n ");
        let facts = self.facts_of(&meta);
        msg.extend(listing::mlsd_line(&target.to_bytes(), &facts));
        msg.extend_from_slice(b"250 End\r\n");
        self.write_control(&msg)
    }

    /// The real path of an existing regular file named by `arg`, or a 550 reply.
    fn regular_file(&mut self, arg: &[u8]) -> io::Result<Option<(PathBuf, std::fs::Metadata)>> {
        let target = self.cwd.resolve(arg);
        let found = self
            .jail
            .existing(&target)
            .and_then(|r| r.metadata().map(|m| (r, m)));
        match found {
            Ok((r, m)) if m.is_file() => Ok(Some((r, m))),
            Ok(_) => {
                self.reply(550, "Not a regular file")?;
                Ok(None)
            }
            Err(e) => {
                self.reply_fs_error(&e)?;
                Ok(None)
            }
        }
    }

    fn size(&mut self, arg: &[u8]) -> io::Result<()> {
        if let Some((_, meta)) = self.regular_file(arg)? {
            self.reply(213, &meta.len().to_string())?;
        }
        Ok(())
    }

    fn mdtm(&mut self, arg: &[u8]) -> io::Result<()> {
        if let Some((_, meta)) = self.regular_file(arg)? {
            self.reply(213, &human::ftp_timestamp(meta.mtime()))?;
        }
        Ok(())
    }

    fn retr(&mut self, arg: &[u8], rest: u64) -> io::Result<()> {
        let Some((real, _)) = self.regular_file(arg)? else {
            return Ok(());
        };
        // O_NONBLOCK: never hang opening a FIFO that was swapped in meanwhile.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&real)
            .and_then(|f| f.metadata().map(|m| (f, m)));
        let (file, meta) = match file {
            Ok((f, m)) if m.is_file() => (f, m),
            Ok(_) => return self.reply(550, "Not a regular file"),
            Err(e) => return self.reply_fs_error(&e),
        };
        let size = meta.len();
        if rest > size {
            return self.reply(554, "Restart offset is past the end of the file");
        }
        let Some(stream) = self.open_data()? else {
            return Ok(());
        };
        self.reply(
            150,
            &format!(
                "Opening BINARY mode data connection ({} bytes)",
                size - rest
            ),
        )?;
        let mut clock = self.clock.clone();
        let result = send_whole(&stream, &file, rest, size - rest, &mut clock);
        self.finish_data(stream, result)
    }

    fn stor(&mut self, arg: &[u8], rest: u64) -> io::Result<()> {
        if !self.opts.writable {
            return self.reply(550, "Permission denied (the server is read-only)");
        }
        if rest > 0 {
            return self.reply(554, "REST is supported for downloads only");
        }
        let target = self.cwd.resolve(arg);
        let dest = match self.jail.creatable(&target) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                return self.reply(553, "Not a valid file name");
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return self.reply(553, "File name not allowed");
            }
            Err(e) => return self.reply_fs_error(&e),
        };
        if let Ok(meta) = dest.symlink_metadata() {
            if !meta.is_file() {
                return self.reply(553, "Cannot replace that (not a regular file)");
            }
            if !self.opts.overwrite {
                return self.reply(553, "File exists (the server does not overwrite files)");
            }
        }
        let mut file = match AtomicFile::create(&dest, UPLOAD_PREFIX, self.opts.overwrite) {
            Ok(f) if self.opts.sync => f.write_behind(),
            Ok(f) => f,
            Err(e) => return self.reply(451, &format!("Cannot create the file: {e}")),
        };
        let Some(mut stream) = self.open_data()? else {
            return Ok(());
        };
        self.reply(150, "Ok to send data")?;
        let mut clock = self.clock.clone();
        let received = data::receive(&mut stream, &mut file, &mut clock);
        drop(stream);
        self.clock.progress();
        match received {
            // In stream mode EOF on the data connection means "complete", so a
            // client that died mid-upload looks the same there; its closed
            // control connection tells them apart.
            Ok(_) if self.control_closed() => {
                drop(file);
                Ok(())
            }
            Ok(_) => match file.commit(self.opts.sync) {
                Ok(()) => self.reply(226, "Transfer complete"),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.reply(553, "File exists (created meanwhile); not replaced")
                }
                Err(e) => self.reply_storage(&e),
            },
            Err(ReceiveError::Disk(e)) => {
                drop(file); // removes the temporary file
                self.reply_storage(&e)
            }
            Err(ReceiveError::Net(_)) => {
                drop(file);
                self.reply(426, "Data connection failed; upload discarded")
            }
        }
    }

    /// True if the client has closed (or reset) the control connection.
    fn control_closed(&self) -> bool {
        let mut byte = [0u8; 1];
        match sys::peek_now(std::os::fd::AsFd::as_fd(&self.stream), &mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            // A reset connection is closed too; "nothing to read yet" is not.
            Err(e) => !sys::would_block(&e),
        }
    }

    fn reply_storage(&mut self, e: &io::Error) -> io::Result<()> {
        match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => {
                self.reply(552, "Disk full; upload discarded")
            }
            Some(libc::EFBIG) => self.reply(552, "File too large; upload discarded"),
            _ => self.reply(451, "Local error storing the file; upload discarded"),
        }
    }
}

/// Sends exactly `len` bytes of `file` from `offset`; a file that shrank is an error.
fn send_whole(
    stream: &TcpStream,
    file: &File,
    offset: u64,
    len: u64,
    clock: &mut Clock,
) -> io::Result<()> {
    let sent = data::send_file(stream, file, offset, len, clock)?;
    if sent < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank during transfer",
        ));
    }
    Ok(())
}

/// Default idle timeout for FTP control connections.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);
