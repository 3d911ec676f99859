//! The `netkit` command line: a thin shell over the library.
//!
//! Run `netkit --help` for the subcommands; each one calls a library entry point.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use netkit::cli::logging::{self, LogArgs};
use netkit::cli::packaging;

#[derive(Parser)]
#[command(
    name = "netkit",
    version,
    about = "Network servers and clients: one protocol, every classic server model",
    after_help = "netkit grew from a network-programming course (Python: sockets, TCP and UDP, \
HTTP, blocking and non-blocking IO, select/poll/epoll, processes, threads, the classic server \
models); \"the course\" in these pages is that one. Its lessons are `cargo run --example NAME`, \
mapped in docs/course.md.

Examples:
  netkit http                         serve the current directory on http://127.0.0.1:8000/
  netkit http --help                  everything the HTTP server does
  netkit files serve ~/share          the course's file server; netkit files connect 127.0.0.1:7070
  netkit chat serve                   the course's chat room; netkit chat join 127.0.0.1:8888"
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
    Echo(netkit::tools::echo::cli::EchoCmd),
    /// HTTP/1.1 server: static files and backend routes
    Http(Box<netkit::http::cli::HttpArgs>),
    /// File server of the network-programming course netkit grew from (framed protocol), and its client
    #[command(subcommand)]
    Files(netkit::files::cli::FilesCmd),
    /// FTP server for standard clients (curl, lftp, ftplib)
    #[command(subcommand)]
    Ftp(netkit::ftp::cli::FtpCmd),
    /// UDP chat room of the network-programming course (its Python clients work): server and client
    #[command(subcommand)]
    Chat(netkit::chat::cli::ChatCmd),
    /// Benchmarks with the built-in load generator
    #[command(subcommand)]
    Bench(netkit::bench::cli::BenchCmd),
    #[command(flatten)]
    Tools(netkit::tools::cli::ToolCmd),
    /// Shell completions (bash, zsh, fish, elvish, powershell) on stdout
    Completions(packaging::CompletionsArgs),
    /// The man page, netkit(1), on stdout, or every command's page into a directory
    Man(packaging::ManArgs),
}

fn main() -> ExitCode {
    let cli: Cli = netkit::cli::config::parse();
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
        Command::Echo(cmd) => netkit::tools::echo::cli::run(cmd),
        Command::Http(args) => netkit::http::cli::run(*args),
        Command::Files(cmd) => netkit::files::cli::run(cmd),
        Command::Ftp(cmd) => netkit::ftp::cli::run(cmd),
        Command::Chat(cmd) => netkit::chat::cli::run(cmd),
        Command::Tools(cmd) => netkit::tools::cli::run(cmd),
        Command::Bench(cmd) => netkit::bench::cli::run(cmd),
        Command::Completions(args) => {
            packaging::completions(cli_command(), args.shell, &mut std::io::stdout().lock())
        }
        Command::Man(args) => {
            for page in packaging::man(cli_command(), &args, &mut std::io::stdout().lock())? {
                println!("{}", page.display());
            }
            Ok(())
        }
    }
}

/// The whole command line as parsed (with `--config` on every server), for
/// the completions and man pages made from it.
fn cli_command() -> clap::Command {
    netkit::cli::config::command::<Cli>()
}
