//! One FTP control connection: read a command line, answer it, repeat.
//!
//! This is blocking code (it owns the control socket and opens data
//! connections), which is why FTP runs as a [`crate::server::Handler`] on the
//! thread, pool, fork and prefork models. Reads wake every [`TICK`] to check the
//! idle timeout and the shutdown flag; a stopping server says `421` between
//! commands and lets a transfer in progress finish within the grace period.
//!
//! This module holds the connection's state and its command loop; the
//! commands are carried out by kind in sub-modules: `login` (USER, PASS),
//! `features` (FEAT, OPTS), `navigation` (PWD, CWD, CDUP), `passive` (PASV,
//! EPSV and the data connection), `active` (PORT, EPRT), `list` (LIST,
//! NLST, MLSD, MLST), `transfer` (SIZE, MDTM, RETR), `upload` (STOR, APPE,
//! STOU), `tree` (DELE, RNFR/RNTO, MKD, RMD, SITE CHMOD, MFMT), `status`
//! (STAT, HELP, SITE HELP) and `security` (FTPS: AUTH TLS, PBSZ, PROT, CCC,
//! and TLS on data connections); `reply` formats the replies.
//!
//! During a transfer the control connection is watched ([`crate::ftp::data::Watch`]):
//! `ABOR` stops the transfer at once (426 for it, then 226 for the ABOR),
//! other commands wait until it ends.

mod active;
mod features;
mod list;
mod login;
mod navigation;
mod passive;
mod reply;
mod security;
mod status;
mod transfer;
mod tree;
mod upload;

use std::io::{self, Read};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::FtpOptions;
use super::accounts::Accounts;
use super::channel::Channel;
use super::command::{self, Command, TransferType};
use super::data::{Clock, Passive, canonical_ip};
use super::listing::Access;
use super::path::{Jail, VirtualPath};
use super::per_ip::PerIp;
use crate::server::shutdown::TICK;
use crate::server::{Connection, Stream};
use crate::sys;
use crate::wire::line::{self, LineError};

/// Longest command line accepted (a path can be up to 4096 bytes).
const MAX_LINE: usize = 8 * 1024;

/// Default idle timeout for FTP control connections.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);

/// Serves one control connection until QUIT, EOF, a timeout or shutdown;
/// refuses it at once (421) if its address already holds `per_ip`'s limit.
pub fn serve(
    conn: Connection,
    opts: &FtpOptions,
    accounts: &Accounts,
    per_ip: Option<&PerIp>,
) -> io::Result<()> {
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
    // Urgent data (an ABOR sent with MSG_OOB, as ftplib does) stays in line.
    let _ = socket2::SockRef::from(&stream).set_out_of_band_inline(true);
    let local_port = stream.local_addr()?.port();
    let peer_ip = canonical_ip(stream.peer_addr()?.ip());
    let local_ip = canonical_ip(stream.local_addr()?.ip());
    let admitted = per_ip.map(|t| t.admit(peer_ip));
    if let Some(None) = admitted {
        let mut stream = stream;
        let _ = io::Write::write_all(
            &mut stream,
            b"421 Too many connections from your address\r\n",
        );
        sys::graceful_close(std::os::fd::AsFd::as_fd(&stream));
        return Ok(());
    }
    // Before a login, the anonymous root (or the server's, for named accounts).
    let jail = match &accounts.anonymous {
        Some(home) => home.jail.clone(),
        None => accounts.default_jail.clone(),
    };
    let mut control = Control {
        opts,
        accounts,
        jail,
        stream: Channel::new(stream),
        peer_ip,
        local_ip,
        local_port,
        clock: Clock {
            idle: idle_timeout,
            shutdown,
            grace: shutdown_timeout,
            last: Instant::now(),
        },
        buf: Vec::with_capacity(1024),
        user: None,
        logged_in: false,
        login_failures: 0,
        access: Access::default(),
        cwd: VirtualPath::root(),
        rest: 0,
        data_plan: None,
        epsv_all: false,
        facts: [true; 5],
        rename_from: None,
        protect_data: false,
        tls_token: security::token(),
    };
    let result = control.run();
    control.stream.close();
    drop(admitted);
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
    /// Who may log in, and where they land.
    accounts: &'a Accounts,
    /// The root jail of the logged-in account.
    jail: Jail,
    /// The control connection (blocking, with short timeouts): plain, or
    /// TLS after `AUTH TLS`.
    stream: Channel,
    /// The client's address: data connections must come from it.
    peer_ip: IpAddr,
    /// Our address on the control connection: passive listeners bind here.
    local_ip: IpAddr,
    /// Our port on the control connection (active connections come from the one below).
    local_port: u16,
    /// Idle and shutdown limits.
    clock: Clock,
    /// Bytes received and not yet parsed into a command line.
    buf: Vec<u8>,
    /// The name given with USER, waiting for PASS.
    user: Option<String>,
    /// True after a successful PASS.
    logged_in: bool,
    /// Failed PASS commands so far.
    login_failures: u32,
    /// What this session may do to the tree.
    access: Access,
    /// Current directory.
    cwd: VirtualPath,
    /// Offset for the next RETR (REST STREAM).
    rest: u64,
    /// How the next transfer gets its data connection (PASV/EPSV or PORT/EPRT).
    data_plan: Option<DataPlan>,
    /// After `EPSV ALL`, PASV is refused (RFC 2428).
    epsv_all: bool,
    /// Which MLSx facts the client wants (`OPTS MLST`), in
    /// [`FACTS`](super::listing::FACTS) order.
    facts: [bool; 5],
    /// The path named by RNFR, for the RNTO right after it.
    rename_from: Option<VirtualPath>,
    /// `PROT P`: data connections speak TLS.
    protect_data: bool,
    /// Carried in this connection's TLS session tickets: a data connection
    /// that resumes one of them resumed this control connection's session.
    tls_token: [u8; 16],
}

/// Where the next transfer's data connection comes from.
#[derive(Debug)]
enum DataPlan {
    /// Accept it on this listener (PASV, EPSV).
    Passive(Passive),
    /// Connect to the client here (PORT, EPRT).
    Active(std::net::SocketAddr),
}

impl Control<'_> {
    fn run(&mut self) -> io::Result<()> {
        self.reply(220, "netkit ftp ready")?;
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

    /// Carries out one command line.
    fn command(&mut self, line: &[u8]) -> io::Result<Flow> {
        let line = command::strip_telnet(line);
        let command = Command::parse(&line);
        if !self.logged_in && !command.allowed_before_login() {
            self.reply(530, "Please login with USER and PASS")?;
            return Ok(Flow::Continue);
        }
        if matches!(command, Command::User(_) | Command::Pass(_)) && self.needs_tls_first() {
            self.reply(
                530,
                "This server requires TLS: send AUTH TLS before USER and PASS",
            )?;
            return Ok(Flow::Continue);
        }
        // REST and RNFR apply to the command right after them only.
        let rest = std::mem::take(&mut self.rest);
        let rename_from = self.rename_from.take();
        if command.writes() && !self.access.writable {
            self.reply(550, "Permission denied (the server is read-only)")?;
            return Ok(Flow::Continue);
        }
        match command {
            Command::User(arg) => self.user(arg)?,
            Command::Pass(password) => return self.pass(password),
            Command::Quit => {
                self.reply(221, "Goodbye")?;
                return Ok(Flow::Quit);
            }
            Command::Syst => self.reply(215, "UNIX Type: L8")?,
            Command::Feat => self.feat()?,
            Command::Noop => self.reply(200, "OK")?,
            Command::Opts(arg) => self.opts(arg)?,
            Command::Pwd => self.pwd()?,
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
            Command::Appe(arg) => self.appe(arg)?,
            Command::Stou(arg) => self.stou(arg)?,
            Command::Dele(arg) => self.dele(arg)?,
            Command::Rnfr(arg) => self.rnfr(arg)?,
            Command::Rnto(arg) => self.rnto(arg, rename_from)?,
            Command::Mkd(arg) => self.mkd(arg)?,
            Command::Rmd(arg) => self.rmd(arg)?,
            Command::Stat(arg) => self.stat(arg)?,
            Command::Help(arg) => self.help(arg)?,
            Command::Site(arg) => self.site(arg)?,
            Command::Mfmt(arg) => self.mfmt(arg)?,
            Command::Allo => self.reply(202, "No storage allocation necessary")?,
            Command::Abor => self.abor()?,
            Command::Auth(arg) => return self.auth(arg),
            Command::Pbsz(arg) => self.pbsz(arg)?,
            Command::Prot(arg) => self.prot(arg)?,
            Command::Ccc => self.ccc()?,
            Command::Port(arg) => self.port(arg)?,
            Command::Eprt(arg) => self.eprt(arg)?,
            Command::Rest(Some(offset)) => {
                self.rest = offset;
                self.reply(350, &format!("Restarting at {offset}; send RETR or STOR"))?;
            }
            Command::Rest(None) => self.reply(501, "REST needs a byte offset")?,
            Command::NotImplemented => self.reply(502, "Command not implemented")?,
            Command::Unknown => self.reply(500, "Unknown command")?,
        }
        Ok(Flow::Continue)
    }
}
