//! `netkit ftp`: an FTP server for standard clients (curl, lftp, ftplib).
//!
//! RFC 959 and its extensions (RFC 2389 FEAT, RFC 2428 EPRT/EPSV, RFC 3659
//! SIZE/MDTM/MLST/MLSD/REST STREAM), as real clients use them: USER, PASS,
//! SYST, FEAT, OPTS, HELP, STAT, SITE (HELP, CHMOD), PWD, CWD, CDUP, TYPE,
//! MODE S, STRU F, ALLO, PASV, EPSV, PORT, EPRT, LIST, NLST, MLSD, MLST,
//! SIZE, MDTM, RETR, REST, STOR, APPE, STOU, DELE, RNFR/RNTO, MKD, RMD,
//! ABOR, NOOP and QUIT (and the X- forms XCWD, XCUP, XPWD, XMKD, XRMD);
//! with TLS, explicit FTPS (RFC 4217): AUTH TLS, PBSZ, PROT (and CCC, refused).
//! Anything else gets a 5xx. Every write is confined to the root and atomic,
//! and only allowed on a writable server. Active mode connects only to the
//! client's own address (no FTP bounce). Transfers are always binary
//! (`TYPE A` is accepted and files are sent unchanged, as vsftpd does by
//! default). See docs/ftp.md.
//!
//! - [`FtpServer`]: the blocking [`Handler`], one control connection each;
//!   runs on the thread, pool, fork and prefork models (and iterative).
//! - [`command`]: command lines parsed in a pure, unit-tested step;
//! - [`control`]: the per-connection command loop; [`data`]: passive
//!   listeners, active connections and transfers (`sendfile` for downloads,
//!   atomic temp-file uploads, ABOR and the rate limit);
//!   [`path`]: the root jail; [`listing`]: LIST/NLST/MLSD formats and facts;
//!   [`channel`]: a connection's stream, plain or TLS.
//! - [`cli`]: `netkit ftp serve`.

pub mod accounts;
pub mod channel;
pub mod cli;
pub mod command;
pub mod control;
pub mod data;
pub mod listing;
pub mod path;
pub mod per_ip;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use accounts::{Account, Accounts, Home};
use listing::Access;
use per_ip::PerIp;

use crate::disk::atomic::{self, UPLOAD_PREFIX};
use crate::server::{Connection, Handler};
use path::Jail;

/// What an FTP server allows and how it runs data connections.
#[derive(Debug, Clone)]
pub struct FtpOptions {
    /// Accept uploads and changes to the tree (STOR, APPE, STOU, DELE,
    /// RNFR/RNTO, MKD, RMD, SITE CHMOD).
    pub writable: bool,
    /// Let STOR and RNTO replace existing files.
    pub overwrite: bool,
    /// fsync a stored file before confirming it (226); see `files::library::Options::sync`.
    pub sync: bool,
    /// Ports for passive data connections (inclusive); `None` lets the OS pick.
    pub passive_ports: Option<(u16, u16)>,
    /// The IPv4 address PASV announces (the public one behind NAT); `None`:
    /// the control connection's own.
    pub passive_address: Option<std::net::Ipv4Addr>,
    /// How long to wait for the client to open a passive data connection
    /// (and for an active one to connect).
    pub passive_timeout: Duration,
    /// Bytes per second per transfer at most (`--rate-limit`); `None`: no limit.
    pub rate_limit: Option<u64>,
    /// FTPS (`AUTH TLS`); `None`: clear text only (`AUTH` is 502).
    pub tls: Option<FtpTls>,
}

/// Explicit FTPS (RFC 4217): the TLS configuration and whether clear text
/// is refused.
#[derive(Debug, Clone)]
pub struct FtpTls {
    /// The rustls configuration, shared by control and data connections
    /// (its session cache and ticketer let data connections resume).
    pub config: Arc<rustls::ServerConfig>,
    /// The certificate resolver (refreshed at each `AUTH TLS`: SIGHUP reloads).
    pub resolver: Arc<crate::tls::Reloading>,
    /// `--tls-required`: no login before `AUTH TLS`, no transfer without `PROT P`.
    pub required: bool,
}

impl Default for FtpOptions {
    fn default() -> Self {
        FtpOptions {
            writable: false,
            overwrite: false,
            sync: true,
            passive_ports: None,
            passive_address: None,
            passive_timeout: Duration::from_secs(10),
            rate_limit: None,
            tls: None,
        }
    }
}

/// The FTP server as a blocking handler.
#[derive(Debug, Clone)]
pub struct FtpServer {
    /// Options, accounts and the per-address table, shared by every connection.
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    options: FtpOptions,
    accounts: Accounts,
    per_ip: Option<PerIp>,
}

/// Who may log in: see [`accounts`].
#[derive(Debug, Clone, Default)]
pub struct Logins {
    /// Named accounts.
    pub named: Vec<Account>,
    /// Anonymous login is off.
    pub no_anonymous: bool,
    /// Control connections one address may hold at once.
    pub max_per_ip: Option<u64>,
}

impl FtpServer {
    /// Serves `root` anonymously with `options`.
    pub fn new(root: &Path, options: FtpOptions) -> io::Result<FtpServer> {
        FtpServer::with_logins(root, options, Logins::default())
    }

    /// Serves `root` with `options` to the accounts of `logins`. Removes
    /// upload temporaries left in each root directory by a server that was killed.
    pub fn with_logins(root: &Path, options: FtpOptions, logins: Logins) -> io::Result<FtpServer> {
        let jail = Jail::new(root)?;
        atomic::remove_stale(jail.root(), UPLOAD_PREFIX);
        for account in &logins.named {
            atomic::remove_stale(account.home.jail.root(), UPLOAD_PREFIX);
        }
        let access = Access {
            writable: options.writable,
            overwrite: options.overwrite,
        };
        let anonymous = (!logins.no_anonymous).then(|| Home {
            jail: jail.clone(),
            access,
        });
        let per_ip = logins.max_per_ip.map(PerIp::new).transpose()?;
        Ok(FtpServer {
            inner: Arc::new(Shared {
                options,
                accounts: Accounts {
                    anonymous,
                    named: logins.named,
                    default_jail: jail,
                },
                per_ip,
            }),
        })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        self.inner.accounts.default_jail.root()
    }
}

impl Handler for FtpServer {
    fn handle(&self, conn: Connection) -> io::Result<()> {
        let s = &*self.inner;
        control::serve(conn, &s.options, &s.accounts, s.per_ip.as_ref())
    }
}

/// Parses `A-B` (inclusive, A <= B, both non-zero).
pub fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let err = || format!("invalid port range '{s}' (use e.g. 50000-50100)");
    let (a, b) = s.split_once('-').ok_or_else(err)?;
    let a: u16 = a.trim().parse().map_err(|_| err())?;
    let b: u16 = b.trim().parse().map_err(|_| err())?;
    if a == 0 || a > b {
        return Err(err());
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("50000-50100"), Ok((50000, 50100)));
        assert_eq!(parse_port_range("7-7"), Ok((7, 7)));
        assert!(parse_port_range("0-10").is_err());
        assert!(parse_port_range("10-5").is_err());
        assert!(parse_port_range("10").is_err());
        assert!(parse_port_range("a-b").is_err());
    }
}
