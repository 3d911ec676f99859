//! `netkit chat join`: the client.
//!
//! It asks for a name until the server accepts one (`L name` → `OK`), then
//! sends and receives at the same time. On a terminal it runs a small line
//! editor in raw mode ([`LineEditor`]): incoming lines are printed *above* the
//! prompt, and the prompt and the half-typed line are redrawn intact below
//! them. Elsewhere (a pipe, a script) it reads plain lines from stdin and
//! prints incoming lines on stdout. `quit`, Ctrl-C, Ctrl-D on an empty line,
//! end of input, SIGTERM or SIGHUP all leave cleanly: `Q name`, then a short
//! wait for `EXIT` (none when the server is known to be unreachable). When
//! the room closes (its server stops and says `the room is closing;
//! goodbye`) the client shows that line and ends at once, with success. While in the room it sends a keep-alive (`K name`) after
//! every 30 s without sending anything, so a member who only reads is not
//! dropped for silence.
//!
//! # Layout
//!
//! - `mod.rs`: [`JoinOptions`], [`ClientError`], [`join`] and the `State`
//!   the client's threads share.
//! - `editor.rs`: the pure [`LineEditor`], [`char_width`], [`printable`].
//! - `link.rs`: the UDP link to the server, the receiving thread and the
//!   keep-alive thread.
//! - `terminal.rs`: raw mode, the screen and the terminal front end.
//! - `lines.rs`: the line-mode front end (pipes, scripts).

mod editor;
mod lines;
mod link;
mod terminal;

use std::io::{self, IsTerminal};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub use editor::{EditAction, LineEditor, char_width, printable};
use lines::run_lines;
use link::Link;
use terminal::{RawMode, run_terminal};

/// What `netkit chat join` was asked to do.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    /// The chat server.
    pub server: SocketAddr,
    /// The name to try first; without it the client asks.
    pub name: Option<String>,
    /// Run the line editor (stdin and stdout are terminals) rather than plain
    /// line mode.
    pub terminal: bool,
    /// Send `K name` after this long without sending anything (`None`:
    /// never).
    pub keep_alive: Option<Duration>,
}

/// How long the client may be silent before it sends a keep-alive: a
/// twentieth of the server's default idle limit (10 minutes), so even a few
/// lost keep-alives in a row cost nothing.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(30);

impl JoinOptions {
    /// Options for `server`, using the line editor when stdin and stdout are
    /// both terminals.
    pub fn new(server: SocketAddr, name: Option<String>) -> JoinOptions {
        JoinOptions {
            server,
            name,
            terminal: io::stdin().is_terminal() && io::stdout().is_terminal(),
            keep_alive: Some(DEFAULT_KEEP_ALIVE),
        }
    }
}

/// Why the client stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server never answered a join.
    #[error("no reply from {0} (is a chat server running there?)")]
    NoReply(SocketAddr),
    /// Line mode: the name given with `--name` was refused.
    #[error("name refused: {0}")]
    Refused(String),
    /// Line mode: input ended before any name was accepted.
    #[error("input ended before the server accepted a name")]
    NoName,
    /// A socket or terminal operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

fn io_err(context: &'static str) -> impl FnOnce(io::Error) -> ClientError {
    move |source| ClientError::Io { context, source }
}

/// Joins the room at `opts.server` and chats until the user leaves.
pub fn join(opts: &JoinOptions) -> Result<(), ClientError> {
    let link = Link::open(opts.server).map_err(io_err("opening a UDP socket"))?;
    let state = Arc::new(State::default());
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        signal_hook::flag::register(sig, Arc::clone(&state.stop))
            .map_err(io_err("installing signal handlers"))?;
    }
    if opts.terminal {
        match RawMode::enable() {
            Ok(raw) => return run_terminal(opts, link, state, raw),
            Err(e) => eprintln!("netkit chat: no line editor ({e}); reading plain lines"),
        }
    }
    run_lines(opts, link, state)
}

/// What the threads of a client share.
#[derive(Debug, Default)]
struct State {
    /// Set by SIGINT/SIGTERM/SIGHUP or when the session is over.
    stop: Arc<AtomicBool>,
    /// Set once we sent `Q`, so the `EXIT` that follows is expected.
    leaving: AtomicBool,
    /// Set when `EXIT` arrived.
    exit: Mutex<bool>,
    /// Set once a keep-alive went out, so an `ERR unknown request` that
    /// follows is its answer.
    keep_alive_sent: AtomicBool,
    /// Set when the server answered a keep-alive with `ERR unknown request`
    /// (it predates `K`): no more keep-alives.
    keep_alive_unknown: AtomicBool,
    /// Set when the room said it is closing (the server stops): the
    /// session is over, with nobody left to confirm a leave.
    room_closed: AtomicBool,
    /// Set while the server is unreachable (ICMP "port unreachable" came
    /// back): a leave is not waited for.
    unreachable: AtomicBool,
    /// Wakes whoever waits for `EXIT`.
    exit_cv: Condvar,
}

impl State {
    fn exited(&self) -> bool {
        *self.exit.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_exited(&self) {
        *self.exit.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.exit_cv.notify_all();
    }

    /// The room closed: the session ends as if `EXIT` had come.
    fn set_room_closed(&self) {
        self.room_closed.store(true, Ordering::SeqCst);
        self.set_exited();
    }

    fn set_unreachable(&self, unreachable: bool) {
        let _guard = self.exit.lock().unwrap_or_else(|e| e.into_inner());
        self.unreachable.store(unreachable, Ordering::SeqCst);
        self.exit_cv.notify_all();
    }

    /// Waits up to `limit` for `EXIT`; gives up at once when the server
    /// turns out to be unreachable. True when `EXIT` came.
    fn wait_exited(&self, limit: Duration) -> bool {
        let guard = self.exit.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .exit_cv
            .wait_timeout_while(guard, limit, |done| {
                !*done && !self.unreachable.load(Ordering::SeqCst)
            })
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}
