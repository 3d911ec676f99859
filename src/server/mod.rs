//! The server framework: one protocol, every classic server model.
//!
//! - [`session`]: sans-IO [`Session`]s, made per connection by a [`Service`];
//!   they run on every model.
//! - [`Handler`]: blocking handlers that own their socket (like Python's
//!   `StreamRequestHandler`); they run on iterative, fork, prefork, thread and pool.
//! - [`DatagramService`]: UDP services, `(from, bytes) -> [(to, bytes)]`.
//! - [`net`]: endpoints, listeners and streams; [`shutdown`]: the stop flag.
//! - [`session_core`]: the [`SessionCore`](session_core::SessionCore), the one
//!   place that runs a session for a driver (held input, re-offers, EOF order,
//!   buffer bounds, deadlines);
//! - [`blocking`] and [`conn`]: the two connection drivers (blocking socket,
//!   non-blocking readiness) that do the IO and waiting around it (the async
//!   model has the third);
//!   [`sink`]: the zero-copy input path they (and the async model) use for a
//!   session's [`InputSink`]; [`sys`]: the raw syscalls (sendfile, splice, epoll).
//! - `models/`: one file per model, each the only code that knows how that
//!   model accepts and schedules connections.
//!
//! Entry points: [`serve`] for sessions, [`serve_handler`] for blocking handlers
//! and [`serve_datagrams`] for UDP.

pub mod blocking;
pub mod conn;
pub mod models;
pub mod net;
pub mod session;
pub mod session_core;
pub mod shutdown;
pub mod sink;
pub mod sys;

use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;
use std::time::Duration;

pub use net::{Endpoint, Listener, Stream};
pub use session::{Chunk, InputSink, Output, Peer, Service, Session};
pub use shutdown::Shutdown;

/// A way of serving many clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// One loop, one client at a time.
    Iterative,
    /// A child process per connection.
    Fork,
    /// Worker processes made at start, sharing the listener.
    Prefork,
    /// A thread per connection.
    Thread,
    /// Fixed worker threads fed by a bounded queue.
    Pool,
    /// One thread, select(2).
    Select,
    /// One thread, poll(2).
    Poll,
    /// epoll(7) loops, one per worker, sharing the port with SO_REUSEPORT.
    Epoll,
    /// tokio tasks.
    Async,
}

impl Model {
    /// Every model, in the order the docs list them.
    pub const ALL: [Model; 9] = [
        Model::Iterative,
        Model::Fork,
        Model::Prefork,
        Model::Thread,
        Model::Pool,
        Model::Select,
        Model::Poll,
        Model::Epoll,
        Model::Async,
    ];

    /// The models that can run a blocking [`Handler`].
    pub const BLOCKING: [Model; 5] = [
        Model::Iterative,
        Model::Fork,
        Model::Prefork,
        Model::Thread,
        Model::Pool,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Model::Iterative => "iterative",
            Model::Fork => "fork",
            Model::Prefork => "prefork",
            Model::Thread => "thread",
            Model::Pool => "pool",
            Model::Select => "select",
            Model::Poll => "poll",
            Model::Epoll => "epoll",
            Model::Async => "async",
        }
    }

    /// True for models that run blocking handlers.
    pub fn runs_blocking(self) -> bool {
        Self::BLOCKING.contains(&self)
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Model {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Model::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown model '{s}' (choose from: {})", names(&Model::ALL)))
    }
}

fn names(models: &[Model]) -> String {
    models
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a server runs: model, workers and limits.
#[derive(Debug, Clone)]
pub struct Config {
    /// The serving model.
    pub model: Model,
    /// Worker count for prefork, pool, epoll and async; `None` picks a default per model.
    pub workers: Option<usize>,
    /// Most connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Close a connection after this long without any progress.
    pub idle_timeout: Option<Duration>,
    /// Most live children for the fork model; more connections wait in the backlog.
    pub max_children: usize,
    /// Accepted connections waiting for a pool worker; when full, accepting pauses.
    pub queue: usize,
    /// Edge-triggered epoll instead of level-triggered.
    pub edge_triggered: bool,
    /// How long a graceful shutdown may take before connections are forced closed.
    pub shutdown_timeout: Duration,
    /// epoll: how long a loop keeps polling (yielding the CPU between polls)
    /// after its last event before it sleeps in `epoll_wait`. Zero sleeps at once.
    pub busy_poll: Duration,
}

/// Default [`Config::busy_poll`]: about the time a request takes to come back
/// over loopback, so a loop under load never falls asleep between requests.
pub const BUSY_POLL: Duration = Duration::from_micros(50);

impl Default for Config {
    fn default() -> Self {
        Config {
            model: Model::Thread,
            workers: None,
            max_connections: 10_000,
            idle_timeout: None,
            max_children: 256,
            queue: 128,
            edge_triggered: false,
            shutdown_timeout: Duration::from_secs(5),
            busy_poll: BUSY_POLL,
        }
    }
}

impl Config {
    /// The worker count: the one asked for, else the model's default.
    pub fn workers(&self) -> usize {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        self.workers
            .unwrap_or(match self.model {
                Model::Prefork => 4 * cpus,
                Model::Pool => 8 * cpus,
                _ => cpus,
            })
            .max(1)
    }
}

/// Why a server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding failed; the message says why in one line.
    #[error("{0}")]
    Bind(String),
    /// The model cannot run this kind of handler.
    #[error("model '{model}' cannot run {what}; use one of: {supported}")]
    Unsupported {
        /// The model asked for.
        model: Model,
        /// What it cannot run.
        what: &'static str,
        /// The models that can.
        supported: String,
    },
    /// Any other OS error, with what was being done.
    #[error("{context}")]
    Io {
        /// What failed.
        context: String,
        /// The OS error.
        source: io::Error,
    },
}

impl ServerError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        ServerError::Io {
            context: context.into(),
            source,
        }
    }
}

/// A blocking connection handler: owns its socket and may block.
pub trait Handler: Send + Sync + 'static {
    /// Serves one connection until it ends. Long-running handlers should look at
    /// `conn.shutdown` between requests and return when it is set.
    fn handle(&self, conn: Connection) -> io::Result<()>;
}

/// What a blocking [`Handler`] is given.
#[derive(Debug)]
pub struct Connection {
    /// The connected socket (blocking mode).
    pub stream: Stream,
    /// The client.
    pub peer: Peer,
    /// Set when the server is stopping.
    pub shutdown: Shutdown,
    /// Close after this long without progress, if set.
    pub idle_timeout: Option<Duration>,
    /// Grace period for in-flight work once `shutdown` is set.
    pub shutdown_timeout: Duration,
}

/// A UDP service: answers datagrams with datagrams.
pub trait DatagramService: Send + Sync + 'static {
    /// Handles one datagram from `from`, pushing replies onto `out`.
    fn on_datagram(&self, from: SocketAddr, data: &[u8], out: &mut Vec<(SocketAddr, Vec<u8>)>);

    /// True if the service keeps no state between datagrams, so each one may be
    /// handled in a separate process (fork and prefork models).
    fn stateless(&self) -> bool {
        false
    }

    /// How often [`DatagramService::on_tick`] wants to run, if at all.
    fn tick_interval(&self) -> Option<Duration> {
        None
    }

    /// Periodic work (expiring idle members, for example).
    fn on_tick(&self, _out: &mut Vec<(SocketAddr, Vec<u8>)>) {}
}

/// Serves sessions from `service` on `listener` with the configured model until shutdown.
pub fn serve<S: Service>(
    listener: Listener,
    config: &Config,
    service: S,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    use models::*;
    match config.model {
        Model::Select => select::serve(listener, config, service, shutdown),
        Model::Poll => poll::serve(listener, config, service, shutdown),
        Model::Epoll => epoll::serve(listener, config, service, shutdown),
        Model::Async => asynch::serve(listener, config, service, shutdown),
        _ => serve_handler(
            listener,
            config,
            blocking::SessionHandler::new(service),
            shutdown,
        ),
    }
}

/// Serves a blocking handler on `listener` until shutdown. Fails at once on
/// event-loop models, which cannot run code that blocks.
pub fn serve_handler<H: Handler>(
    listener: Listener,
    config: &Config,
    handler: H,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    use models::*;
    match config.model {
        Model::Iterative => iterative::serve(listener, config, handler, shutdown),
        Model::Fork => fork::serve(listener, config, handler, shutdown),
        Model::Prefork => prefork::serve(listener, config, handler, shutdown),
        Model::Thread => thread::serve(listener, config, handler, shutdown),
        Model::Pool => pool::serve(listener, config, handler, shutdown),
        model => Err(ServerError::Unsupported {
            model,
            what: "a blocking handler (it would stall every other connection on the loop)",
            supported: names(&Model::BLOCKING),
        }),
    }
}

/// Checks up front whether `model` can run a blocking handler.
pub fn check_blocking(model: Model) -> Result<(), ServerError> {
    if model.runs_blocking() {
        Ok(())
    } else {
        Err(ServerError::Unsupported {
            model,
            what: "a blocking handler (it would stall every other connection on the loop)",
            supported: names(&Model::BLOCKING),
        })
    }
}

/// Checks up front whether `model` can run `service` over UDP.
pub fn check_datagram(model: Model, stateless: bool) -> Result<(), ServerError> {
    if matches!(model, Model::Fork | Model::Prefork) && !stateless {
        return Err(ServerError::Unsupported {
            model,
            what: "this UDP service (it keeps state, and separate processes would not share it)",
            supported: "iterative, thread, pool, select, poll, epoll, async".into(),
        });
    }
    Ok(())
}

/// Serves a UDP service on `socket` with the configured model until shutdown.
pub fn serve_datagrams<D: DatagramService>(
    socket: UdpSocket,
    config: &Config,
    service: D,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    use models::*;
    check_datagram(config.model, service.stateless())?;
    match config.model {
        Model::Iterative => iterative::serve_datagrams(socket, config, service, shutdown),
        Model::Fork => fork::serve_datagrams(socket, config, service, shutdown),
        Model::Prefork => prefork::serve_datagrams(socket, config, service, shutdown),
        Model::Thread => thread::serve_datagrams(socket, config, service, shutdown),
        Model::Pool => pool::serve_datagrams(socket, config, service, shutdown),
        Model::Select => select::serve_datagrams(socket, config, service, shutdown),
        Model::Poll => poll::serve_datagrams(socket, config, service, shutdown),
        Model::Epoll => epoll::serve_datagrams(socket, config, service, shutdown),
        Model::Async => asynch::serve_datagrams(socket, config, service, shutdown),
    }
}
