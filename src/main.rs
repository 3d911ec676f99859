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
    Echo(netkit::tools::echo::cli::EchoCmd),
    /// HTTP/1.1 server: static files and backend routes
    Http(Box<netkit::http::cli::HttpArgs>),
    /// The course's file server (framed protocol) and its client
    #[command(subcommand)]
    Files(netkit::files::cli::FilesCmd),
    /// FTP server for standard clients (curl, lftp, ftplib)
    #[command(subcommand)]
    Ftp(netkit::ftp::cli::FtpCmd),
    /// The course's UDP chat room: server and client
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
