//! `netkit files`: serve a directory, or talk to a server.
//!
//! ```text
//! netkit files serve [ROOT] [--writable] [--overwrite] [--max-file-size 16G] [--model fork] [--port 7070]
//! netkit files connect HOST[:PORT]            # interactive menu: list / get / put / quit
//! netkit files ls  HOST[:PORT]                # name, size, date (--raw: the protocol's tab lines)
//! netkit files get HOST[:PORT] NAME [-o PATH|-] [--force]
//! netkit files put HOST[:PORT] PATH [--as NAME]
//! ```
//!
//! Client exit codes: 0 success, 1 local error (e.g. the file exists and no
//! `--force`), 2 bad usage, 3 the server refused (`ERR ...`), 4 connection or
//! protocol failure.

use std::io::{self, IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::client::{self, Client, ClientError, Destination};
use super::library::{FileLibrary, Options};
use super::menu::{self, MenuOptions};
use super::progress::Meter;
use super::session::FilesService;
use crate::cli::startup::{Serves, Startup};
use crate::cli::tls::TlsArgs;
use crate::cli::{ServerArgs, SharedDirArgs, idle_timeout_or, parse_duration};
use crate::human;
use crate::tls::{ClientTls, TlsService};
use crate::tools::prompt::{Piped, Terminal};

/// Idle timeout for server connections when `--idle-timeout` is not given.
const DEFAULT_IDLE: Duration = Duration::from_secs(120);

/// Subcommands of `netkit files`.
#[derive(Debug, Subcommand)]
pub enum FilesCmd {
    /// Serve a directory's regular files (default model: fork, port 7070)
    #[command(
        mut_arg("model", |a| a.default_value("fork")),
        mut_arg("port", |a| a.default_value("7070")),
        mut_arg("idle_timeout", |a| a.help("Close connections idle this long (default 2m; 0 = never)")),
        after_help = "Examples:
  netkit files serve ~/share                    read-only, on 127.0.0.1:7070
  netkit files serve ~/inbox --writable         accept uploads (never replacing a file)
  netkit files serve . --tls-self-signed        over TLS (clients: files connect --tls)
  netkit files connect 127.0.0.1:7070           the menu client"
    )]
    Serve(ServeArgs),
    /// Interactive client: a menu to list, download (get) and upload (put) files
    Connect(ConnectArgs),
    /// List the server's files
    Ls(LsArgs),
    /// Download a file (to ./NAME, to PATH with -o, or to stdout with -o -)
    Get(GetArgs),
    /// Upload a local file
    Put(PutArgs),
}

/// Options of `netkit files serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The directory and its rules.
    #[command(flatten)]
    pub dir: SharedDirArgs,
    /// Largest upload accepted (e.g. 500M, 16G)
    #[arg(long, value_parser = human::parse_size, default_value = "16G")]
    pub max_file_size: u64,
    /// TLS.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Model, address and limits.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Options every client subcommand takes.
#[derive(Debug, Args, Clone)]
pub struct ClientArgs {
    /// Server address: HOST, HOST:PORT or `[IPv6]:PORT` (default port 7070)
    pub addr: String,
    /// Give up on a silent server after this long (0 = wait forever)
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub timeout: Duration,
    /// Speak TLS (to a server started with --tls-cert or --tls-self-signed)
    #[arg(long)]
    pub tls: bool,
    /// Trust only the certificates in this PEM file (implies --tls); without
    /// it the system's trusted roots are used
    #[arg(long, value_name = "PEM")]
    pub cacert: Option<PathBuf>,
}

/// Options of `netkit files connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Server address and timeout.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Directory downloads are saved in
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Replace existing local files without asking
    #[arg(long, short = 'f')]
    pub force: bool,
}

/// Options of `netkit files ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Server address and timeout.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Print the protocol's lines (name, size, mtime in unix seconds, tab-separated)
    #[arg(long)]
    pub raw: bool,
}

/// Options of `netkit files get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Server address and timeout.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Name of the file on the server
    pub name: String,
    /// Where to write it: a path, or - for stdout (default: ./NAME)
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Replace an existing local file
    #[arg(long, short = 'f')]
    pub force: bool,
}

/// Options of `netkit files put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// Server address and timeout.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Local file to upload
    pub path: PathBuf,
    /// Name to store it under (default: the file's own name)
    #[arg(long = "as", value_name = "NAME")]
    pub remote: Option<String>,
}

/// Runs `netkit files`. Client failures exit with the codes in the module docs.
pub fn run(cmd: FilesCmd) -> Result<()> {
    let result = match cmd {
        FilesCmd::Serve(args) => return serve(&args),
        FilesCmd::Connect(args) => connect(&args),
        FilesCmd::Ls(args) => ls(&args),
        FilesCmd::Get(args) => get(&args),
        FilesCmd::Put(args) => put(&args),
    };
    result.map_err(|e| {
        eprintln!("netkit files: {e}");
        std::process::exit(e.exit_code())
    })
}

fn serve(args: &ServeArgs) -> Result<()> {
    let mut config = args.server.config();
    idle_timeout_or(&mut config, DEFAULT_IDLE);
    let start = Startup::new("netkit files", config, Serves::Sessions)?;
    let options = Options {
        writable: args.dir.writable,
        overwrite: args.dir.overwrite,
        max_file_size: args.max_file_size,
        sync: !args.dir.no_sync,
    };
    let library = FileLibrary::open(&args.dir.root, options).context("netkit files")?;
    let tls = args.tls.load(&args.server.bind, &[b"netkit-files"])?;
    let listener = start.listen(&args.server.bind, args.server.port)?;
    let uploads = if args.dir.writable {
        format!(", uploads up to {}", human::size(args.max_file_size))
    } else {
        String::new()
    };
    start.say(format_args!(
        "serving {} ({}{uploads})",
        library.root().display(),
        args.dir.mode(),
    ));
    let service = FilesService::new(library);
    match tls {
        None => start.serve(listener, service),
        Some(tls) => {
            start.say(format_args!(
                "TLS: {}, SHA-256 {}",
                tls.what, tls.identity.fingerprint
            ));
            start.serve(
                listener,
                TlsService::new(service, tls.config)
                    .reloading(tls.resolver)
                    .plain_reply(plain_client_reply()),
            )
        }
    }
}

/// What a client that does not speak TLS is told by a TLS server: an
/// `ERR` frame it can read, then the close.
fn plain_client_reply() -> Vec<u8> {
    crate::wire::frame::encode_to_vec(
        b"ERR this server speaks TLS: connect with --tls (and --cacert FILE for a self-signed certificate)",
    )
    .unwrap_or_default()
}

fn open(args: &ClientArgs) -> Result<Client, ClientError> {
    if !args.tls && args.cacert.is_none() {
        return Client::connect(&args.addr, args.timeout);
    }
    let tls =
        ClientTls::new(args.cacert.as_deref(), &[b"netkit-files"]).map_err(ClientError::Local)?;
    Client::connect_tls(&args.addr, args.timeout, &tls)
}

fn connect(args: &ConnectArgs) -> Result<(), ClientError> {
    let client = open(&args.client)?;
    let opts = MenuOptions {
        dir: args.dir.clone(),
        force: args.force,
    };
    if !io::stdin().is_terminal() {
        let mut input = io::stdin().lock();
        return menu::run(
            client,
            &opts,
            &mut Piped::new(&mut input),
            &mut io::stdout(),
        );
    }
    let term = |e: io::Error| ClientError::Local(format!("terminal: {e}"));
    let mut lines = Terminal::new().map_err(term)?;
    let socket = client.socket().as_fd().try_clone_to_owned().map_err(term)?;
    let closed = ClientError::Network(String::new()).exit_code();
    lines
        .end_when_closed(socket, "netkit files", closed)
        .map_err(term)?;
    menu::run(client, &opts, &mut lines, &mut io::stdout())
}

fn ls(args: &LsArgs) -> Result<(), ClientError> {
    let mut client = open(&args.client)?;
    let entries = client.list()?;
    let _ = client.quit();
    let mut out = io::stdout().lock();
    let write = |out: &mut io::StdoutLock<'_>, s: String| {
        writeln!(out, "{s}").map_err(|e| ClientError::Local(format!("writing to stdout: {e}")))
    };
    for e in &entries {
        let line = if args.raw {
            format!("{}\t{}\t{}", e.name, e.size, e.mtime)
        } else {
            format!(
                "{:>10}  {}  {}",
                human::size(e.size),
                human::date(e.mtime),
                e.name
            )
        };
        write(&mut out, line)?;
    }
    Ok(())
}

fn get(args: &GetArgs) -> Result<(), ClientError> {
    let to_stdout = args.output.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if to_stdout && io::stdout().is_terminal() {
        eprintln!("netkit files: writing {} to the terminal", args.name);
    }
    let default_path;
    let dest = if to_stdout {
        Destination::Stdout
    } else {
        // The remote name becomes a local one only if it is a plain file name.
        let plain_name = || {
            crate::disk::name::check(&args.name).map_err(|e| {
                ClientError::Local(format!("{e}; use -o PATH to choose where it goes"))
            })
        };
        let path = match &args.output {
            Some(p) if p.is_dir() => {
                plain_name()?;
                p.join(&args.name)
            }
            Some(p) => p.clone(),
            None => {
                plain_name()?;
                PathBuf::from(&args.name)
            }
        };
        default_path = path;
        Destination::Path(&default_path)
    };
    if let Destination::Path(p) = dest
        && !args.force
        && p.symlink_metadata().is_ok()
    {
        return Err(ClientError::Local(format!(
            "{} already exists (use --force to replace it)",
            p.display()
        )));
    }
    let mut client = open(&args.client)?;
    let meter = Meter::for_terminal(&args.name);
    let result = client::download(&mut client, &args.name, dest, args.force, &meter);
    meter.finish();
    result?;
    let _ = client.quit();
    Ok(())
}

fn put(args: &PutArgs) -> Result<(), ClientError> {
    let name = match &args.remote {
        Some(n) => n.clone(),
        None => client::remote_name(&args.path)?,
    };
    let mut client = open(&args.client)?;
    let meter = Meter::for_terminal(&name);
    let result = client::upload(&mut client, &args.path, &name, &meter);
    meter.finish();
    result?;
    let _ = client.quit();
    Ok(())
}
