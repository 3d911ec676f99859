//! `netkit chat`: the command line of the chat room, a thin shell over
//! [`super::server::serve`] and [`super::client::join`].
//!
//! ```text
//! netkit chat serve --port 8888 --model epoll          # the room; type lines to broadcast
//! netkit chat join 127.0.0.1:8888 --name alice          # a member
//! ```

use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::client::{self, JoinOptions};
use super::relay::RelayConfig;
use super::room::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_MEMBERS, DEFAULT_MAX_PER_HOST, DEFAULT_MAX_TEXT, Limits,
};
use super::server::{self, ServeOptions};
use super::wording::Lang;
use crate::cli::{ServerArgs, parse_duration};
use crate::server::net;

/// The port the course's chat room uses.
pub const DEFAULT_PORT: u16 = 8888;

/// Subcommands of `netkit chat`.
#[derive(Debug, Subcommand)]
pub enum ChatCmd {
    /// Run the chat room (UDP). Lines typed on stdin go to every member as
    /// "Admin: ..." ("/who" lists the members instead). The process models
    /// (fork, prefork) are refused: their processes could not share the room.
    #[command(after_help = "Examples:
  netkit chat serve                             the room on udp://127.0.0.1:8888
  netkit chat serve --bind 0.0.0.0 --lang zh    for the course's Python clients on the LAN
  netkit chat serve --redis redis://127.0.0.1:6379 --port 8889
                                                one room across several servers
  netkit chat join 127.0.0.1:8888               join it")]
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
    mut_arg("idle_timeout", |a| a.help("Drop members silent this long (default 10m; 0 = never); netkit's own client keeps itself alive, course clients stay while they talk")),
)]
pub struct ServeArgs {
    #[command(flatten)]
    /// Model, address, port and the other options every server takes.
    pub server: ServerArgs,
    /// Most members in the room at once
    #[arg(long, default_value_t = DEFAULT_MAX_MEMBERS)]
    pub max_members: usize,
    /// Most members from one host (source IP address) at once, so one
    /// machine's throwaway sockets cannot fill the room; 0 = only --max-members
    #[arg(long, default_value_t = DEFAULT_MAX_PER_HOST)]
    pub max_per_host: usize,
    /// Longest message text in bytes; longer ones are refused, never cut
    #[arg(long, default_value_t = DEFAULT_MAX_TEXT, value_parser = crate::human::parse_size_as::<usize>)]
    pub max_text: usize,
    /// Do not read operator lines from stdin
    #[arg(long)]
    pub no_console: bool,
    /// Language of the room's notices: en ("alice joined the room", "alice: hi")
    /// or zh, the network-programming course's Chinese wording ("alice 进入聊天室", "alice 说：hi", "alice 退出了聊天室")
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
    /// Share the room with every other `netkit chat serve` using this Redis
    /// (redis://HOST:PORT) and --room: joins, messages, leaves and admin
    /// lines reach the members of all of them, and names are unique across them
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// With --redis: the room's name (servers with the same Redis and room share it)
    #[arg(long, default_value = "lobby", requires = "redis")]
    pub room: String,
    /// With --redis: how long a dead server's names and members last before
    /// the others free them and tell the room they left (refreshed every fifth of it)
    #[arg(long, value_parser = parse_duration, default_value = "5s", requires = "redis")]
    pub redis_ttl: Duration,
    /// With --redis: broadcasts held for the other servers while Redis is
    /// away; past that they are lost, and the other servers tell their members how many
    #[arg(long, default_value_t = crate::chat::relay::outbox::CAPACITY, requires = "redis")]
    pub redis_outbox: usize,
}

impl ServeArgs {
    /// The room's limits: `--max-per-host 0` leaves only `--max-members`;
    /// without `--idle-timeout` silent members go after 10 minutes, and
    /// `--idle-timeout 0` keeps them forever.
    pub fn limits(&self) -> Limits {
        let max_members = self.max_members.max(1);
        Limits {
            max_members,
            max_per_host: match self.max_per_host {
                0 => max_members,
                n => n,
            },
            max_text: self.max_text.max(1),
            idle_timeout: match self.server.idle_timeout {
                None => Some(DEFAULT_IDLE_TIMEOUT),
                Some(d) if d.is_zero() => None,
                some => some,
            },
        }
    }
}

/// Options of `netkit chat join`.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The server: HOST:PORT, or HOST for port 8888
    #[arg(value_name = "HOST:PORT", default_value = "127.0.0.1:8888")]
    pub server: String,
    /// Name to join with (asked for when missing or refused)
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Read plain lines from stdin even on a terminal
    #[arg(long)]
    pub stdin: bool,
    /// Send a keep-alive after this long without sending anything, so the
    /// server does not drop you for silence while you only read (0 = never)
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub keep_alive: Duration,
}

/// Runs `netkit chat`.
pub fn run(cmd: ChatCmd) -> Result<()> {
    match cmd {
        ChatCmd::Serve(args) => {
            let opts = ServeOptions {
                bind: args.server.bind.clone(),
                port: args.server.port,
                config: args.server.config(),
                limits: args.limits(),
                console: !args.no_console,
                lang: args.lang,
                relay: args.redis.clone().map(|url| RelayConfig {
                    url,
                    room: args.room.clone(),
                    ttl: args.redis_ttl,
                    outbox: args.redis_outbox,
                }),
            };
            server::serve(&opts)
        }
        ChatCmd::Join(args) => {
            let addr = parse_server(&args.server)?;
            let mut opts = JoinOptions::new(addr, args.name);
            if args.stdin {
                opts.terminal = false;
            }
            opts.keep_alive = Some(args.keep_alive).filter(|d| !d.is_zero());
            client::join(&opts).context("chat client")
        }
    }
}

/// Parses `HOST:PORT`, `[V6]:PORT`, or a bare host (port 8888).
pub fn parse_server(s: &str) -> Result<std::net::SocketAddr> {
    Ok(net::host_port(s, DEFAULT_PORT)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Netkit {
        #[command(subcommand)]
        chat: ChatCmd,
    }

    fn serve_limits(args: &[&str]) -> Limits {
        let all = ["netkit", "serve"].iter().chain(args);
        match Netkit::parse_from(all).chat {
            ChatCmd::Serve(a) => a.limits(),
            ChatCmd::Join(_) => unreachable!(),
        }
    }

    #[test]
    fn serve_limits_and_their_defaults() {
        let d = serve_limits(&[]);
        assert_eq!(d, Limits::default());
        assert_eq!(d.idle_timeout, Some(Duration::from_secs(600)));
        assert_eq!(d.max_per_host, 16);
        assert_eq!(serve_limits(&["--idle-timeout", "0"]).idle_timeout, None);
        assert_eq!(
            serve_limits(&["--idle-timeout", "90s"]).idle_timeout,
            Some(Duration::from_secs(90))
        );
        assert_eq!(serve_limits(&["--max-per-host", "3"]).max_per_host, 3);
        let open = serve_limits(&["--max-per-host", "0", "--max-members", "50"]);
        assert_eq!((open.max_per_host, open.max_members), (50, 50));
    }

    #[test]
    fn join_keeps_alive_by_default() {
        let keep = |args: &[&str]| {
            let all = ["netkit", "join"].iter().chain(args);
            match Netkit::parse_from(all).chat {
                ChatCmd::Join(a) => a.keep_alive,
                ChatCmd::Serve(_) => unreachable!(),
            }
        };
        assert_eq!(keep(&[]), Duration::from_secs(30));
        assert_eq!(keep(&["--keep-alive", "0"]), Duration::ZERO);
    }

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
