//! `netkit ftp serve [ROOT]`: FTP, anonymous by default, read-only unless
//! `--writable`; named accounts with `--user`/`--users`; `netkit ftp hash`
//! makes their password hashes.
//!
//! ```text
//! netkit ftp serve ./pub --port 2121 --passive-ports 50000-50100 --model thread
//! curl ftp://127.0.0.1:2121/              # list
//! curl -O ftp://127.0.0.1:2121/file.txt   # download
//! echo -n secret | netkit ftp hash        # $argon2id$v=19$...
//! netkit ftp serve ./pub --no-anonymous --user "alice:$(echo -n secret | netkit ftp hash):alice:rw"
//! netkit ftp serve ./pub --tls-cert chain.pem --tls-key key.pem --tls-required   # FTPS
//! ```

use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::control::DEFAULT_IDLE;
use super::listing::Access;
use super::{FtpOptions, FtpServer, FtpTls, Logins, accounts, parse_port_range};
use crate::cli::startup::{Serves, Startup};
use crate::cli::tls::TlsArgs;
use crate::cli::{ServerArgs, SharedDirArgs, idle_timeout_or, parse_duration};
use crate::server::Listener;

/// Subcommands of `netkit ftp`.
#[derive(Debug, Subcommand)]
pub enum FtpCmd {
    /// Serve a directory over FTP, anonymous and/or named accounts
    #[command(
        mut_arg("port", |a| a.default_value("2121")),
        mut_arg("idle_timeout", |a| a.help("Close control connections idle this long (default 5m; 0 = never)")),
        after_help = "Examples:
  netkit ftp serve ~/pub                        anonymous and read-only, on 127.0.0.1:2121
  netkit ftp serve . --writable --no-anonymous --user \"alice:$(netkit ftp hash)\"
  curl ftp://127.0.0.1:2121/notes.txt           a download with curl
  lftp -p 2121 127.0.0.1                        or with lftp"
    )]
    Serve(Box<ServeArgs>),
    /// Print the Argon2id hash (PHC string) of a password for --user/--users
    /// (reads the password from stdin unless given)
    Hash {
        /// The password (visible to other users in the process list: prefer stdin)
        password: Option<String>,
    },
}

/// Options of `netkit ftp serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The directory and its rules.
    #[command(flatten)]
    pub dir: SharedDirArgs,
    /// Ports for passive data connections, e.g. 50000-50100 (default: any free port)
    #[arg(long, value_parser = parse_port_range, value_name = "A-B")]
    pub passive_ports: Option<(u16, u16)>,
    /// The IPv4 address PASV tells clients to connect to (the public address
    /// behind NAT; default: the address the client reached)
    #[arg(long, value_name = "IPV4")]
    pub passive_address: Option<std::net::Ipv4Addr>,
    /// How long to wait for the client's passive data connection (and for an
    /// active one, after PORT/EPRT, to connect)
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub passive_timeout: Duration,
    /// Bytes per second per transfer at most, e.g. 10M (default: no limit)
    #[arg(long, value_parser = crate::human::parse_size, value_name = "BYTES")]
    pub rate_limit: Option<u64>,
    /// A named account, NAME:HASH[:ROOT[:ro|rw|rw+overwrite]] (repeatable;
    /// HASH from `netkit ftp hash`; ROOT inside the served directory unless absolute)
    #[arg(long = "user", value_name = "ACCOUNT")]
    pub users: Vec<String>,
    /// A file of accounts, one per line in the --user form (# starts a comment line)
    #[arg(long = "users", value_name = "FILE")]
    pub users_file: Option<std::path::PathBuf>,
    /// Refuse anonymous logins (only --user/--users accounts)
    #[arg(long)]
    pub no_anonymous: bool,
    /// Control connections one client address may hold at once (default: no limit)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_per_ip: Option<u64>,
    /// TLS (explicit FTPS: AUTH TLS, PBSZ, PROT).
    #[command(flatten)]
    pub tls: TlsArgs,
    /// With TLS: refuse USER/PASS before AUTH TLS and data transfers without PROT P
    #[arg(long)]
    pub tls_required: bool,
    /// Model, address and limits.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Runs `netkit ftp`.
pub fn run(cmd: FtpCmd) -> Result<()> {
    match cmd {
        FtpCmd::Serve(args) => serve(&args),
        FtpCmd::Hash { password } => hash(password),
    }
}

fn hash(password: Option<String>) -> Result<()> {
    let password = match password {
        Some(p) => p,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("read the password")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    if password.is_empty() {
        anyhow::bail!("netkit ftp hash: empty password");
    }
    let hash = accounts::hash_password(password.as_bytes()).map_err(anyhow::Error::msg)?;
    println!("{hash}");
    Ok(())
}

/// The named accounts of `--user` and `--users`.
fn named_accounts(args: &ServeArgs, access: Access) -> Result<Vec<accounts::Account>> {
    let root = &args.dir.root;
    let mut named = Vec::new();
    for line in &args.users {
        named.push(accounts::parse_account(line, root, access).map_err(anyhow::Error::msg)?);
    }
    if let Some(file) = &args.users_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let more = accounts::parse_file(&text, root, access)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        named.extend(more);
    }
    for (i, a) in named.iter().enumerate() {
        if named[..i].iter().any(|b| b.name == a.name) {
            anyhow::bail!("account '{}' is given twice", a.name);
        }
    }
    Ok(named)
}

fn serve(args: &ServeArgs) -> Result<()> {
    let mut config = args.server.config();
    idle_timeout_or(&mut config, DEFAULT_IDLE);
    if args.tls_required && !args.tls.enabled() {
        anyhow::bail!("--tls-required needs TLS (--tls-cert/--tls-key or --tls-self-signed)");
    }
    let start = Startup::new("netkit ftp", config, Serves::Handler)?;
    let tls = args.tls.load(&args.server.bind, &[b"ftp"])?;
    let banner_tls = tls.as_ref().map(|t| {
        let required = if args.tls_required { ", required" } else { "" };
        format!(
            "FTPS (AUTH TLS{required}): {}, SHA-256 {}",
            t.what, t.identity.fingerprint
        )
    });
    let options = FtpOptions {
        writable: args.dir.writable,
        overwrite: args.dir.overwrite,
        sync: !args.dir.no_sync,
        passive_ports: args.passive_ports,
        passive_address: args.passive_address,
        passive_timeout: args.passive_timeout,
        rate_limit: args.rate_limit.filter(|&r| r > 0),
        tls: tls.map(|t| FtpTls {
            config: t.config,
            resolver: t.resolver,
            required: args.tls_required,
        }),
    };
    let access = Access {
        writable: options.writable,
        overwrite: options.overwrite,
    };
    let named = named_accounts(args, access).context("netkit ftp")?;
    if args.no_anonymous && named.is_empty() {
        anyhow::bail!("netkit ftp: --no-anonymous needs accounts (--user or --users)");
    }
    let logins = Logins {
        named,
        no_anonymous: args.no_anonymous,
        max_per_ip: args.max_per_ip,
    };
    let who = match (logins.no_anonymous, logins.named.len()) {
        (false, 0) => "anonymous".to_string(),
        (false, n) => format!("anonymous and {n} account(s)"),
        (true, n) => format!("{n} account(s), no anonymous"),
    };
    let ftp = FtpServer::with_logins(&args.dir.root, options, logins).context("netkit ftp")?;
    let listener = start.listen(&args.server.bind, args.server.port)?;
    if let Listener::Unix(..) = listener {
        anyhow::bail!(
            "ftp needs TCP (its data connections go to the control connection's IP \
             address): --bind unix: is for the other servers"
        );
    }
    let mut passive = match args.passive_ports {
        Some((a, b)) => format!("passive ports {a}-{b}"),
        None => "passive ports: any".to_string(),
    };
    if let Some(ip) = args.passive_address {
        passive.push_str(&format!(", announced as {ip}"));
    }
    if let Some(rate) = args.rate_limit.filter(|&r| r > 0) {
        passive.push_str(&format!(
            ", at most {}/s per transfer",
            crate::human::size(rate)
        ));
    }
    if let Some(n) = args.max_per_ip {
        passive.push_str(&format!(", at most {n} connection(s) per address"));
    }
    start.say(format_args!(
        "serving {} ({}, {who}, {passive})",
        ftp.root().display(),
        args.dir.mode()
    ));
    if let Some(line) = banner_tls {
        start.say(line);
    }
    start.serve_handler(listener, ftp)
}
