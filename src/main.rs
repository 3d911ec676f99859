//! The `netkit` command line: a thin shell over the library.
//!
//! Run `netkit --help` for the subcommands; each one calls a library entry point.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use netkit::cli::ServerArgs;
use netkit::cli::logging::{self, LogArgs};
use netkit::cli::startup::{Serves, Startup};
use netkit::server::{Endpoint, net};
use netkit::tools::echo;

#[derive(Parser)]
#[command(
    name = "netkit",
    version,
    about = "Network servers and clients: one protocol, every classic server model"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Echo server and client over TCP, UDP or Unix sockets, on any model
    #[command(subcommand)]
    Echo(EchoCmd),
    /// HTTP/1.1 server: static files and backend routes
    Http(netkit::http::cli::HttpArgs),
    /// The course's file server (framed protocol) and its client
    #[command(subcommand)]
    Files(netkit::files::cli::FilesCmd),
    /// Anonymous FTP server for standard clients (curl, lftp, ftplib)
    #[command(subcommand)]
    Ftp(netkit::ftp::cli::FtpCmd),
    /// The course's UDP chat room: server and client
    #[command(subcommand)]
    Chat(netkit::chat::cli::ChatCmd),
    /// Benchmarks with the built-in load generator
    #[command(subcommand)]
    Bench(BenchCmd),
    #[command(flatten)]
    Tools(netkit::tools::cli::ToolCmd),
}

#[derive(Subcommand)]
enum EchoCmd {
    /// Run the echo server
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
        /// Server host
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Server port
        #[arg(long, short = 'p', default_value_t = 7000)]
        port: u16,
        /// Force the non-interactive stdin mode even on a terminal
        #[arg(long)]
        stdin: bool,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Every model side by side: throughput, latency, CPU and memory per connection, with charts
    Models(netkit::bench::models::ModelsArgs),
    /// CPU- and IO-bound tasks run sequentially, with threads and with processes
    Tasks(netkit::bench::tasks::TasksArgs),
    /// Chat room delivery rate, latency and loss per model
    Chat(netkit::chat::bench::BenchArgs),
    /// Echo throughput and latency of one model (TCP), server started by the benchmark
    Echo(netkit::bench::echo::Options),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(&cli.log);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netkit: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Echo(EchoCmd::Serve {
            tcp: _,
            udp,
            unix,
            handler,
            server,
        }) => echo_serve(udp, unix, &handler, &server),
        Command::Echo(EchoCmd::Client {
            udp,
            unix,
            host,
            port,
            stdin,
        }) => {
            let target = if let Some(p) = unix {
                echo::Target::Unix(p)
            } else {
                let addr = net::resolve(&host, port)?;
                if udp {
                    echo::Target::Udp(addr)
                } else {
                    echo::Target::Tcp(addr)
                }
            };
            if !stdin && io::stdin().is_terminal() {
                echo::interactive(&target, &mut io::stdin().lock(), &mut io::stdout())
                    .context("echo client")
            } else {
                echo::pipe(&target, &mut io::stdin(), &mut io::stdout().lock())
                    .map(|_| ())
                    .context("echo client")
            }
        }
        Command::Http(args) => netkit::http::cli::run(args),
        Command::Files(cmd) => netkit::files::cli::run(cmd),
        Command::Ftp(cmd) => netkit::ftp::cli::run(cmd),
        Command::Chat(cmd) => netkit::chat::cli::run(cmd),
        Command::Tools(cmd) => netkit::tools::cli::run(cmd),
        Command::Bench(BenchCmd::Models(args)) => netkit::bench::models::run(args),
        Command::Bench(BenchCmd::Tasks(args)) => netkit::bench::tasks::run(args),
        Command::Bench(BenchCmd::Chat(args)) => netkit::chat::bench::run(args),
        Command::Bench(BenchCmd::Echo(opts)) => {
            let report = netkit::bench::echo::run(&opts)?;
            println!("{report}");
            Ok(())
        }
    }
}

fn echo_serve(udp: bool, unix: Option<PathBuf>, handler: &str, args: &ServerArgs) -> Result<()> {
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
        let socket = start.bind_udp(&args.bind, args.port)?;
        return start.serve_datagrams(socket, echo::UdpEcho);
    }
    let endpoint = match unix {
        Some(p) => Endpoint::Unix(p),
        None => Endpoint::Tcp(net::resolve(&args.bind, args.port)?),
    };
    let listener = start.bind(&endpoint)?;
    let start = start.note(format!("handler {handler}"));
    if blocking {
        start.serve_handler(listener, echo::BlockingEcho)
    } else {
        start.serve(listener, echo::Echo)
    }
}
