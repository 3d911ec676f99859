//! `netkit chat`: the command line of the chat room, a thin shell over
//! [`super::server::serve`] and [`super::client::join`].
//!
//! ```text
//! netkit chat serve --port 8888 --model epoll          # the room; type lines to broadcast
//! netkit chat join 127.0.0.1:8888 --name alice          # a member
//! ```

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::client::{self, JoinOptions};
use super::room::{DEFAULT_MAX_MEMBERS, DEFAULT_MAX_TEXT, Limits};
use super::server::{self, ServeOptions};
use super::wording::Lang;
use crate::cli::ServerArgs;
use crate::server::net;

/// The port the course's chat room uses.
pub const DEFAULT_PORT: u16 = 8888;

/// Subcommands of `netkit chat`.
#[derive(Debug, Subcommand)]
pub enum ChatCmd {
    /// Run the chat room (UDP). Lines typed on stdin go to every member as
    /// "Admin: ..." ("/who" lists the members instead). Runs on iterative,
    /// thread, pool, select, poll, epoll and async; fork and prefork are
    /// refused because their processes could not share the room.
    Serve(ServeArgs),
    /// Join a chat room: asks for a name, then sends what you type and shows
    /// what the others say above your line. "quit", Ctrl-C or end of input
    /// leaves. Without a terminal it reads plain lines (the name first unless
    /// --name is given) and prints incoming lines on stdout.
    Join(JoinArgs),
}

/// Options of `netkit chat serve`.
#[derive(Debug, Args)]
#[command(
    mut_arg("port", |a| a.default_value("8888")),
    mut_arg("idle_timeout", |a| a.help("Drop members silent this long (e.g. 10m, 30s); off by default")),
)]
pub struct ServeArgs {
    #[command(flatten)]
    /// Model, address, port and the other options every server takes.
    pub server: ServerArgs,
    /// Most members in the room at once
    #[arg(long, default_value_t = DEFAULT_MAX_MEMBERS)]
    pub max_members: usize,
    /// Longest message text in bytes; longer ones are refused, never cut
    #[arg(long, default_value_t = DEFAULT_MAX_TEXT)]
    pub max_text: usize,
    /// Do not read operator lines from stdin
    #[arg(long)]
    pub no_console: bool,
    /// Language of the room's notices: en ("alice joined the room", "alice: hi")
    /// or zh, the course's wording ("alice 进入聊天室", "alice 说：hi", "alice 退出了聊天室")
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
}

/// Options of `netkit chat join`.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The server: HOST:PORT, or HOST for port 8888
    #[arg(default_value = "127.0.0.1")]
    pub server: String,
    /// Name to join with (asked for when missing or refused)
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Read plain lines from stdin even on a terminal
    #[arg(long)]
    pub stdin: bool,
}

/// Runs `netkit chat`.
pub fn run(cmd: ChatCmd) -> Result<()> {
    match cmd {
        ChatCmd::Serve(args) => {
            let opts = ServeOptions {
                bind: args.server.bind.clone(),
                port: args.server.port,
                config: args.server.config(),
                limits: Limits {
                    max_members: args.max_members.max(1),
                    max_text: args.max_text.max(1),
                    idle_timeout: args.server.idle_timeout,
                },
                console: !args.no_console,
                lang: args.lang,
            };
            server::serve(&opts)
        }
        ChatCmd::Join(args) => {
            let addr = parse_server(&args.server)?;
            let mut opts = JoinOptions::new(addr, args.name);
            if args.stdin {
                opts.terminal = false;
            }
            client::join(&opts).context("chat client")
        }
    }
}

/// Parses `HOST:PORT`, `[V6]:PORT`, or a bare host (port 8888).
pub fn parse_server(s: &str) -> Result<std::net::SocketAddr> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    let (host, port) = match s.rsplit_once(':') {
        // A bare IPv6 address has colons but no port.
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (
            h,
            p.parse::<u16>()
                .with_context(|| format!("invalid port in '{s}'"))?,
        ),
        _ => (s, DEFAULT_PORT),
    };
    Ok(net::resolve(host, port)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses() {
        let p = |s: &str| parse_server(s).map(|a| a.to_string()).ok();
        assert_eq!(p("127.0.0.1:9000").as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(p("127.0.0.1").as_deref(), Some("127.0.0.1:8888"));
        assert_eq!(p("[::1]:9").as_deref(), Some("[::1]:9"));
        assert_eq!(p("::1").as_deref(), Some("[::1]:8888"));
        assert_eq!(p("localhost:7").map(|s| s.ends_with(":7")), Some(true));
        assert!(p("127.0.0.1:notaport").is_none());
    }
}
