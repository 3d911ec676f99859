//! `netkit echo serve|client`: the echo server on any model and transport,
//! and its client.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use crate::cli::ServerArgs;
use crate::cli::startup::{Serves, Startup};
use crate::server::{Endpoint, net};
use crate::tools::echo;

/// Subcommands of `netkit echo`.
#[derive(Debug, Subcommand)]
pub enum EchoCmd {
    /// Run the echo server
    #[command(after_help = "Examples:
  netkit echo serve                             TCP on 127.0.0.1:7000, a thread per connection
  netkit echo serve --model epoll --workers 2   one epoll loop per worker
  netkit echo serve --udp --port 9000           UDP datagrams
  netkit echo serve --unix /tmp/echo.sock       a Unix stream socket")]
    Serve {
        /// Serve over TCP (the default)
        #[arg(long, conflicts_with_all = ["udp", "unix"])]
        tcp: bool,
        /// Serve over UDP
        #[arg(long, conflicts_with = "unix")]
        udp: bool,
        /// Serve over a Unix stream socket at PATH
        #[arg(long, value_name = "PATH")]
        unix: Option<PathBuf>,
        /// Protocol code to run: the sans-IO session (every model) or the
        /// course-style blocking handler (iterative, fork, prefork, thread, pool)
        #[arg(long, default_value = "session", value_parser = ["session", "blocking"])]
        handler: String,
        /// Model, address and limits.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Talk to an echo server: interactive on a terminal (a line `##` ends it),
    /// otherwise copies stdin to the server and the echo to stdout
    Client {
        /// Use UDP (one datagram per line)
        #[arg(long, conflicts_with = "unix")]
        udp: bool,
        /// Connect to a Unix stream socket at PATH
        #[arg(long, value_name = "PATH")]
        unix: Option<PathBuf>,
        /// The server: HOST:PORT, or HOST for port 7000
        #[arg(
            value_name = "HOST:PORT",
            default_value = "127.0.0.1:7000",
            conflicts_with = "unix"
        )]
        addr: String,
        /// Force the non-interactive stdin mode even on a terminal
        #[arg(long)]
        stdin: bool,
    },
}

/// Runs `netkit echo`.
pub fn run(cmd: EchoCmd) -> Result<()> {
    match cmd {
        EchoCmd::Serve {
            tcp: _,
            udp,
            unix,
            handler,
            server,
        } => serve(udp, unix, &handler, &server),
        EchoCmd::Client {
            udp,
            unix,
            addr,
            stdin,
        } => client(udp, unix, &addr, stdin),
    }
}

fn client(udp: bool, unix: Option<PathBuf>, addr: &str, stdin: bool) -> Result<()> {
    let target = if let Some(p) = unix {
        echo::Target::Unix(p)
    } else {
        let addr = net::host_port(addr, echo::DEFAULT_PORT)?;
        if udp {
            echo::Target::Udp(addr)
        } else {
            echo::Target::Tcp(addr)
        }
    };
    if !stdin && io::stdin().is_terminal() {
        echo::interactive_terminal(&target, &mut io::stdout()).context("echo client")
    } else {
        echo::pipe(&target, &mut io::stdin(), &mut io::stdout().lock())
            .map(|_| ())
            .context("echo client")
    }
}

fn serve(udp: bool, unix: Option<PathBuf>, handler: &str, args: &ServerArgs) -> Result<()> {
    let blocking = handler == "blocking";
    if blocking && udp {
        bail!("--handler blocking is for stream sockets; UDP echo is a datagram service");
    }
    let serves = match (udp, blocking) {
        (true, _) => Serves::Datagrams { stateless: true },
        (false, true) => Serves::Handler,
        (false, false) => Serves::Sessions,
    };
    let start = Startup::new("netkit echo", args.config(), serves)?;
    if udp {
        let socket = start.listen_udp(&args.bind, args.port)?;
        return start.serve_datagrams(socket, echo::UdpEcho);
    }
    let listener = match unix {
        Some(p) => start.listen_on(&Endpoint::Unix(p))?,
        None => start.listen(&args.bind, args.port)?,
    };
    let start = start.note(format!("handler {handler}"));
    if blocking {
        start.serve_handler(listener, echo::BlockingEcho)
    } else {
        start.serve(listener, echo::Echo)
    }
}
