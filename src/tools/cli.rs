//! The toolbox subcommands: `netkit info`, `resolve`, `aton`, `ntoa`,
//! `service`, `udp`, `broadcast`, `send`, `recv` and `select-log`.
//!
//! Each variant of [`ToolCmd`] is a top-level `netkit <tool>` subcommand; its
//! doc comment is its `--help` text and says how to run it and what it prints.
//! The work is done by the library modules next to this one; this file only
//! parses options, binds sockets, prints results and turns errors into one line.
//! Servers print `listening on <url>` on stderr once ready, and stop on Ctrl-C
//! or SIGTERM.

use std::io::{self, BufRead, IsTerminal, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use super::{addr, broadcast, host, select_log, services, transfer, udp};
use crate::cli::parse_duration;
use crate::server::{Shutdown, net};

/// Small network tools.
#[derive(Debug, Subcommand)]
pub enum ToolCmd {
    /// Host name and this machine's addresses
    ///
    /// Prints the host name (gethostname), what it resolves to, and every
    /// interface with its flags and addresses (getifaddrs): IPv4 with prefix
    /// length and broadcast address, IPv6, link-layer (MAC).
    ///
    /// Example: `netkit info`
    Info,
    /// Forward (getaddrinfo) or reverse (getnameinfo) name look-up
    ///
    /// A name prints its canonical name and every address, in the order a
    /// client would try them; an IP address prints its host name. Uses the
    /// system resolver, so /etc/hosts and DNS apply as for any program.
    ///
    /// Examples: `netkit resolve localhost`, `netkit resolve 127.0.0.1`
    Resolve {
        /// A host name, or an IPv4/IPv6 address for a reverse look-up
        target: String,
    },
    /// IP address (text) to its bytes in network order, as hex (like inet_pton)
    ///
    /// Example: `netkit aton 192.168.1.2` prints `c0a80102`;
    /// `netkit aton ::1` prints 32 hex digits.
    Aton {
        /// IPv4 (dotted decimal) or IPv6 (colon hex) address
        ip: String,
    },
    /// Hex bytes (8 for IPv4, 32 for IPv6) to the address's text (like inet_ntop)
    ///
    /// Example: `netkit ntoa c0a80102` prints `192.168.1.2`. A `0x` prefix
    /// and spaces are allowed.
    Ntoa {
        /// 8 or 32 hex digits
        hex: String,
    },
    /// Look a service name or port up in /etc/services (like getservbyname)
    ///
    /// Examples: `netkit service http` prints `http 80/tcp (aliases: www)`;
    /// `netkit service 53 --udp` prints `domain 53/udp`.
    Service {
        /// Service name (or alias), or port number
        query: String,
        /// Look up the UDP entry instead of TCP
        #[arg(long)]
        udp: bool,
        /// The services database to read
        #[arg(long, default_value = services::SERVICES_PATH)]
        file: PathBuf,
    },
    /// The network-programming course's UDP server and client (recvfrom / sendto)
    #[command(subcommand)]
    Udp(UdpCmd),
    /// UDP broadcast with SO_BROADCAST: one sender, any number of listeners
    #[command(subcommand)]
    Broadcast(BroadcastCmd),
    /// Send one file to a `netkit recv`
    ///
    /// Announces the name and size, streams the data with a progress bar (on
    /// a terminal), then a CRC-32; succeeds only when the receiver confirms it
    /// stored the file. Example: `netkit send report.pdf 127.0.0.1:7071`
    Send {
        /// The file to send
        file: PathBuf,
        /// Receiver as HOST:PORT (the port defaults to 7071)
        addr: String,
        /// Announce this name instead of the file's own
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        /// Give up after this long without progress
        #[arg(long, value_parser = parse_duration, default_value = "30s")]
        timeout: Duration,
    },
    /// Receive one file from `netkit send` into DIR, then exit
    ///
    /// Prints `listening on tcp://ADDR` on stderr, takes one file, checks its
    /// CRC-32, stores it under a temporary name and renames it when complete.
    /// Refuses names with `/`, `..`, NUL or a leading dot, and never replaces an
    /// existing file without --force. Connections that are not a `netkit send`
    /// (a port probe, curl) and failed transfers are refused with a line on
    /// stderr each, and it goes on listening until one file has arrived.
    /// Example: `netkit recv --port 7071 ~/incoming`
    Recv {
        /// Directory to store the file in
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Port to listen on (0 picks a free one)
        #[arg(long, short = 'p', default_value_t = transfer::DEFAULT_PORT)]
        port: u16,
        /// Address to listen on (0.0.0.0 to accept other machines)
        #[arg(long, short = 'b', default_value = "127.0.0.1")]
        bind: String,
        /// Replace an existing file of the same name
        #[arg(long, short = 'f')]
        force: bool,
        /// Give up (exit 1) when no file has arrived this long after the start
        /// (a transfer under way is let finish), and on a sender that stalls
        /// this long [default: wait for a sender as long as it takes; 30s for
        /// a stalled one]
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        timeout: Option<Duration>,
    },
    /// One select(2) loop logging every line from clients and the terminal to a file
    ///
    /// Watches the listening socket, every client and stdin in one select call
    /// and appends each line to FILE as `<UTC time> [<source>] <text>`.
    /// Clients whose descriptor would be >= FD_SETSIZE (1024) are refused with
    /// a message. Example: `netkit select-log --port 7777 --log chat.log`,
    /// then `nc 127.0.0.1 7777` from other terminals.
    SelectLog {
        /// Port to listen on (0 picks a free one)
        #[arg(long, short = 'p', default_value_t = 7777)]
        port: u16,
        /// Address to listen on
        #[arg(long, short = 'b', default_value = "127.0.0.1")]
        bind: String,
        /// File to append the lines to (created if missing)
        #[arg(long, value_name = "FILE")]
        log: PathBuf,
        /// Do not watch stdin (when running in the background)
        #[arg(long)]
        no_stdin: bool,
    },
}

/// `netkit udp serve|send`.
#[derive(Debug, Subcommand)]
pub enum UdpCmd {
    /// Receive datagrams with recvfrom, print them, answer each with sendto
    ///
    /// Prints `listening on udp://ADDR` on stderr, then `from ADDR: N bytes: TEXT`
    /// per datagram on stdout. A datagram larger than --buffer is truncated by
    /// the kernel; the server says so, explains the size limit and replies
    /// `TRUNCATED ...`. Example: `netkit udp serve --port 8888 --buffer 1024`
    Serve {
        /// Port to listen on (0 picks a free one)
        #[arg(long, short = 'p', default_value_t = udp::DEFAULT_PORT)]
        port: u16,
        /// Address to listen on
        #[arg(long, short = 'b', default_value = "127.0.0.1")]
        bind: String,
        /// Receive buffer (e.g. 1024, 64K; 1 to 64K; the course used 1024)
        #[arg(long, default_value_t = udp::DEFAULT_BUFFER as u32, value_parser = parse_buffer)]
        buffer: u32,
        /// Reply to each whole datagram
        #[arg(long, default_value = "Thanks")]
        reply: String,
        /// Exit after this many datagrams
        #[arg(long)]
        count: Option<u64>,
    },
    /// Send datagrams with sendto and print each reply
    ///
    /// Sends each MESSAGE (or, with none, each line of stdin; an empty line or
    /// `##` ends) and prints the reply. `--size N` sends one datagram of N
    /// bytes, to see truncation or the 65507-byte limit.
    /// Example: `netkit udp send 127.0.0.1:8888 hello`
    Send {
        /// The server: HOST:PORT, or HOST for port 8888
        #[arg(value_name = "HOST:PORT")]
        addr: String,
        /// Messages, one datagram each
        messages: Vec<String>,
        /// Send one datagram of this many bytes instead
        #[arg(long, conflicts_with = "messages", value_parser = crate::human::parse_size_as::<usize>)]
        size: Option<usize>,
        /// How long to wait for each reply
        #[arg(long, value_parser = parse_duration, default_value = "3s")]
        timeout: Duration,
    },
}

/// `netkit broadcast send|listen`.
#[derive(Debug, Subcommand)]
pub enum BroadcastCmd {
    /// Send a message to a broadcast address every --interval (SO_BROADCAST set)
    ///
    /// Example: `netkit broadcast send --to 255.255.255.255 --port 9999 hello`.
    /// Without a network, `--to 127.255.255.255` reaches listeners on this host.
    Send {
        /// The message
        message: String,
        /// Broadcast address
        #[arg(long, default_value = "255.255.255.255")]
        to: String,
        /// Destination port
        #[arg(long, short = 'p', default_value_t = broadcast::DEFAULT_PORT)]
        port: u16,
        /// Messages to send; 0 repeats until Ctrl-C
        #[arg(long, default_value_t = 0)]
        count: u64,
        /// Time between messages
        #[arg(long, value_parser = parse_duration, default_value = "1s")]
        interval: Duration,
        /// Leave SO_BROADCAST off, to see the kernel refuse the send
        #[arg(long, hide = true)]
        without_so_broadcast: bool,
    },
    /// Print every datagram arriving on the port (shared with other listeners)
    ///
    /// Binds with SO_REUSEADDR and SO_REUSEPORT, so several listeners on one
    /// host each get a copy. Prints `listening on udp://ADDR` on stderr, then
    /// `from ADDR: TEXT` per datagram. Example: `netkit broadcast listen --port 9999`
    Listen {
        /// Port to listen on
        #[arg(long, short = 'p', default_value_t = broadcast::DEFAULT_PORT)]
        port: u16,
        /// Address to bind: the wildcard (or the broadcast address itself) receives broadcasts
        #[arg(long, short = 'b', default_value = "0.0.0.0")]
        bind: String,
        /// Exit after this many datagrams
        #[arg(long)]
        count: Option<u64>,
    },
}

/// Runs a tool.
pub fn run(cmd: ToolCmd) -> Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match cmd {
        ToolCmd::Info => info(&mut out),
        ToolCmd::Resolve { target } => {
            match addr::aton(&target) {
                Ok(ip) => {
                    let name = host::reverse(ip)?;
                    writeln!(out, "{ip} is {name}")?;
                }
                Err(_) => write!(out, "{}", host::forward(&target)?)?,
            }
            Ok(())
        }
        ToolCmd::Aton { ip } => {
            writeln!(out, "{}", addr::to_hex(addr::aton(&ip)?))?;
            Ok(())
        }
        ToolCmd::Ntoa { hex } => {
            writeln!(out, "{}", addr::ntoa(&hex)?)?;
            Ok(())
        }
        ToolCmd::Service { query, udp, file } => {
            let q = services::Query::parse(&query)?;
            let proto = if udp { "udp" } else { "tcp" };
            writeln!(out, "{}", services::lookup(&file, &q, proto)?)?;
            Ok(())
        }
        ToolCmd::Udp(UdpCmd::Serve {
            port,
            bind,
            buffer,
            reply,
            count,
        }) => {
            let shutdown = signals()?;
            let socket = net::udp_socket(net::resolve(&bind, port)?, false)?;
            eprintln!(
                "netkit udp: listening on udp://{} (buffer {buffer} bytes)",
                socket.local_addr()?
            );
            let opts = udp::ServeOptions {
                buffer: buffer as usize,
                reply,
                count,
            };
            let n = udp::serve(&socket, &opts, &shutdown, &mut out, &mut io::stderr())
                .context("udp server")?;
            eprintln!("netkit udp: stopped after {n} datagram(s)");
            Ok(())
        }
        ToolCmd::Udp(UdpCmd::Send {
            addr,
            messages,
            size,
            timeout,
        }) => udp_send(&mut out, &addr, messages, size, timeout),
        ToolCmd::Broadcast(BroadcastCmd::Send {
            message,
            to,
            port,
            count,
            interval,
            without_so_broadcast,
        }) => {
            let shutdown = signals()?;
            let to = net::resolve(&to, port)?;
            if !to.is_ipv4() {
                bail!("broadcast is an IPv4 feature (IPv6 uses multicast instead)");
            }
            let socket = broadcast::sender_socket(!without_so_broadcast)?;
            broadcast::send(
                &socket,
                to,
                message.as_bytes(),
                count,
                interval,
                &shutdown,
                &mut out,
            )?;
            Ok(())
        }
        ToolCmd::Broadcast(BroadcastCmd::Listen { port, bind, count }) => {
            let shutdown = signals()?;
            let socket = broadcast::listener_socket(net::resolve(&bind, port)?)?;
            eprintln!(
                "netkit broadcast: listening on udp://{}",
                socket.local_addr()?
            );
            broadcast::listen(&socket, count.unwrap_or(0), &shutdown, &mut out)
                .context("broadcast listener")?;
            Ok(())
        }
        ToolCmd::Send {
            file,
            addr,
            name,
            timeout,
        } => {
            let shutdown = signals()?;
            let target = parse_target(&addr)?;
            let opts = transfer::SendOptions {
                name,
                timeout,
                progress: io::stderr().is_terminal(),
            };
            let sent = transfer::send_file(&file, target, &opts, &shutdown)?;
            writeln!(out, "{sent}")?;
            Ok(())
        }
        ToolCmd::Recv {
            dir,
            port,
            bind,
            force,
            timeout,
        } => {
            let shutdown = signals()?;
            if !dir.is_dir() {
                bail!("{} is not a directory", dir.display());
            }
            let listener = net::tcp_listener(net::resolve(&bind, port)?, false)?;
            eprintln!(
                "netkit recv: listening on tcp://{} (saving into {})",
                listener.local_addr()?,
                dir.display()
            );
            let opts = transfer::RecvOptions {
                dir,
                force,
                timeout: timeout.unwrap_or(transfer::STALL_TIMEOUT),
                wait: timeout,
                progress: io::stderr().is_terminal(),
            };
            let got = transfer::receive_one(&listener, &opts, &shutdown, &mut |peer, why| {
                eprintln!("netkit recv: refused {peer}: {why}")
            })?;
            writeln!(out, "{got}")?;
            Ok(())
        }
        ToolCmd::SelectLog {
            port,
            bind,
            log,
            no_stdin,
        } => {
            let shutdown = signals()?;
            crate::sys::process::raise_fd_limit();
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .with_context(|| format!("cannot open log file {}", log.display()))?;
            let listener: TcpListener = net::tcp_listener(net::resolve(&bind, port)?, false)?;
            eprintln!(
                "netkit select-log: listening on tcp://{} (log {})",
                listener.local_addr()?,
                log.display()
            );
            let mut status = io::stderr();
            let server = select_log::SelectLog::new(listener, file, !no_stdin, &mut status)?;
            let stats = server.run(&shutdown).context("select loop")?;
            eprintln!(
                "netkit select-log: stopped: {} line(s) from {} client(s) logged, {} refused",
                stats.lines, stats.clients, stats.refused
            );
            Ok(())
        }
    }
}

/// A stop flag set by SIGINT and SIGTERM.
fn signals() -> Result<Shutdown> {
    Shutdown::on_signals().context("installing signal handlers")
}

/// `HOST:PORT`, `[v6]:PORT` or `HOST` (port 7071).
/// `udp serve --buffer`: a size from 1 byte to 64 KiB (a datagram's most).
fn parse_buffer(s: &str) -> Result<u32, String> {
    match crate::human::parse_size(s)? {
        n @ 1..=65_536 => Ok(n as u32),
        _ => Err(format!("buffer '{s}' must be between 1 and 64K bytes")),
    }
}

fn parse_target(s: &str) -> Result<SocketAddr> {
    Ok(net::host_port(s, transfer::DEFAULT_PORT)?)
}

fn info(out: &mut dyn Write) -> Result<()> {
    let name = host::hostname().context("gethostname")?;
    writeln!(out, "host name: {name}")?;
    match host::forward(&name) {
        Ok(r) => {
            let addrs: Vec<String> = r.addrs.iter().map(ToString::to_string).collect();
            writeln!(out, "  resolves to: {}", addrs.join(", "))?;
        }
        Err(e) => writeln!(out, "  resolves to: nothing ({e})")?,
    }
    writeln!(out, "interfaces:")?;
    for i in host::interfaces().context("getifaddrs")? {
        for line in i.to_string().lines() {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(())
}

fn udp_send(
    out: &mut dyn Write,
    addr: &str,
    messages: Vec<String>,
    size: Option<usize>,
    timeout: Duration,
) -> Result<()> {
    let to = net::host_port(addr, udp::DEFAULT_PORT)?;
    let socket = udp::client_socket(to)?;
    let mut exchange = |msg: &[u8]| -> Result<()> {
        let reply = udp::exchange(&socket, to, msg, timeout)?;
        writeln!(out, "{}", String::from_utf8_lossy(&reply))?;
        out.flush()?;
        Ok(())
    };
    if let Some(n) = size {
        return exchange(&udp::filler(n));
    }
    if !messages.is_empty() {
        for m in &messages {
            exchange(m.as_bytes())?;
        }
        return Ok(());
    }
    let interactive = io::stdin().is_terminal();
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            eprint!("> ");
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        if line.is_empty() || line == "##" {
            break;
        }
        exchange(line.as_bytes())?;
    }
    Ok(())
}
