//! `netkit ftp serve [ROOT]`: anonymous FTP, read-only unless `--writable`.
//!
//! ```text
//! netkit ftp serve ./pub --port 2121 --passive-ports 50000-50100 --model thread
//! curl ftp://127.0.0.1:2121/              # list
//! curl -O ftp://127.0.0.1:2121/file.txt   # download
//! ```

use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::control::DEFAULT_IDLE;
use super::{FtpOptions, FtpServer, parse_port_range};
use crate::cli::startup::{Serves, Startup};
use crate::cli::{ServerArgs, SharedDirArgs, idle_timeout_or, parse_duration};

/// Subcommands of `netkit ftp`.
#[derive(Debug, Subcommand)]
pub enum FtpCmd {
    /// Serve a directory over anonymous FTP (models: thread, pool, fork, prefork)
    #[command(
        mut_arg("port", |a| a.default_value("2121")),
        mut_arg("model", |a| a.help("Serving model: thread, pool, fork, prefork (or iterative)")),
        mut_arg("idle_timeout", |a| a.help("Close control connections idle this long (default 5m; 0 = never)"))
    )]
    Serve(ServeArgs),
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
    /// Model, address and limits.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Runs `netkit ftp`.
pub fn run(cmd: FtpCmd) -> Result<()> {
    match cmd {
        FtpCmd::Serve(args) => serve(&args),
    }
}

fn serve(args: &ServeArgs) -> Result<()> {
    let mut config = args.server.config();
    idle_timeout_or(&mut config, DEFAULT_IDLE);
    let start = Startup::new("netkit ftp", config, Serves::Handler)?;
    let options = FtpOptions {
        writable: args.dir.writable,
        overwrite: args.dir.overwrite,
        sync: !args.dir.no_sync,
        passive_ports: args.passive_ports,
        passive_address: args.passive_address,
        passive_timeout: args.passive_timeout,
        rate_limit: args.rate_limit.filter(|&r| r > 0),
    };
    let ftp = FtpServer::new(&args.dir.root, options).context("netkit ftp")?;
    let listener = start.bind_tcp(&args.server.bind, args.server.port)?;
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
    start.say(format_args!(
        "serving {} ({}, {passive})",
        ftp.root().display(),
        args.dir.mode()
    ));
    start.serve_handler(listener, ftp)
}
