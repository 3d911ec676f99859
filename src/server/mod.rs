//! The server framework: one protocol, every classic server model.
//!
//! - [`session`]: sans-IO [`Session`]s, made per connection by a [`Service`];
//!   they run on every model.
//! - [`Handler`]: blocking handlers that own their socket (like Python's
//!   `StreamRequestHandler`); they run on iterative, fork, prefork, thread and pool.
//! - [`DatagramService`]: UDP services, `(from, bytes) -> [(to, bytes)]`.
//! - [`net`]: endpoints, listeners and streams; [`activation`]: the socket
//!   systemd passes; [`shutdown`]: the stop flag;
//!   [`reload`]: SIGHUP as a reload request.
//! - [`session_core`]: the [`SessionCore`](session_core::SessionCore), the one
//!   place that runs a session for a driver (held input, re-offers, EOF order,
//!   buffer bounds, deadlines);
//! - [`blocking`] and [`conn`]: the two connection drivers (blocking socket,
//!   non-blocking readiness) that do the IO and waiting around it (the async
//!   model has the third);
//!   [`sink`]: the zero-copy input path they (and the async model) use for a
//!   session's [`InputSink`]; raw syscalls are the crate's [`sys`](crate::sys) layer.
//! - `models/`: one file per model, each the only code that knows how that
//!   model accepts and schedules connections.
//!
//! Entry points: [`serve`] for sessions, [`serve_handler`] for blocking handlers
//! and [`serve_datagrams`] for UDP.

pub mod activation;
pub(crate) mod blocking;
pub mod clock;
pub(crate) mod conn;
pub(crate) mod models;
pub mod net;
mod output;
pub mod reload;
pub mod session;
pub(crate) mod session_core;
pub mod shutdown;
pub(crate) mod sink;
pub mod transfer_log;

use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;
use std::time::Duration;

thread_local! {
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The index of the worker this code runs on: the loop of a multi-loop
/// model (epoll, uring), the process of prefork; 0 on models without fixed
/// workers. Services use it to keep per-worker counters.
pub fn worker_index() -> usize {
    WORKER.with(|w| w.get())
}

/// Names the worker the calling thread (and its forked children) runs.
pub(crate) fn set_worker_index(i: usize) {
    WORKER.with(|w| w.set(i));
}

pub use net::{Endpoint, Listener, Stream};
pub(crate) use output::Chunk;
pub use output::{Output, Queued};
pub use session::{InputSink, Peer, Service, Session};
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
    /// io_uring(7) rings, one per worker, sharing the port with SO_REUSEPORT.
    Uring,
}

/// What the framework knows about one model. Help texts, refusals, banners
/// and docs derive from this table, so adding a model is its driver file plus
/// one row here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFacts {
    /// The name used on the command line.
    pub name: &'static str,
    /// How it serves, in a few words.
    pub serves: &'static str,
    /// Whether it can run a blocking [`Handler`] (it gives each connection a
    /// process or thread of its own, or serves one at a time).
    pub blocking: bool,
    /// Whether it serves in separate processes, which cannot share a stateful
    /// service's memory (fork, prefork).
    pub processes: bool,
    /// Its default worker count per CPU, for the models that take
    /// `--workers`; `None` where a worker count means nothing.
    pub workers_per_cpu: Option<usize>,
    /// Whether its workers share the port with SO_REUSEPORT.
    pub reuse_port: bool,
}

/// The models' facts, in [`Model::ALL`] order.
const FACTS: [ModelFacts; 10] = [
    ModelFacts {
        name: "iterative",
        serves: "one loop, one client at a time",
        blocking: true,
        processes: false,
        workers_per_cpu: None,
        reuse_port: false,
    },
    ModelFacts {
        name: "fork",
        serves: "a child process per connection",
        blocking: true,
        processes: true,
        workers_per_cpu: None,
        reuse_port: false,
    },
    ModelFacts {
        name: "prefork",
        serves: "worker processes made at start, sharing the listener",
        blocking: true,
        processes: true,
        workers_per_cpu: Some(4),
        reuse_port: false,
    },
    ModelFacts {
        name: "thread",
        serves: "a thread per connection",
        blocking: true,
        processes: false,
        workers_per_cpu: None,
        reuse_port: false,
    },
    ModelFacts {
        name: "pool",
        serves: "fixed worker threads fed by a bounded queue",
        blocking: true,
        processes: false,
        workers_per_cpu: Some(8),
        reuse_port: false,
    },
    ModelFacts {
        name: "select",
        serves: "one thread, select(2)",
        blocking: false,
        processes: false,
        workers_per_cpu: None,
        reuse_port: false,
    },
    ModelFacts {
        name: "poll",
        serves: "one thread, poll(2)",
        blocking: false,
        processes: false,
        workers_per_cpu: None,
        reuse_port: false,
    },
    ModelFacts {
        name: "epoll",
        serves: "epoll(7) loops, one per worker, sharing the port with SO_REUSEPORT",
        blocking: false,
        processes: false,
        workers_per_cpu: Some(1),
        reuse_port: true,
    },
    ModelFacts {
        name: "async",
        serves: "tokio tasks on worker threads",
        blocking: false,
        processes: false,
        workers_per_cpu: Some(1),
        reuse_port: false,
    },
    ModelFacts {
        name: "uring",
        serves: "io_uring(7) rings, one per worker, completions instead of readiness",
        blocking: false,
        processes: false,
        workers_per_cpu: Some(1),
        reuse_port: true,
    },
];

impl Model {
    /// Every model, in the order the docs list them.
    pub const ALL: [Model; 10] = [
        Model::Iterative,
        Model::Fork,
        Model::Prefork,
        Model::Thread,
        Model::Pool,
        Model::Select,
        Model::Poll,
        Model::Epoll,
        Model::Async,
        Model::Uring,
    ];

    /// What the framework knows about this model.
    pub fn facts(self) -> &'static ModelFacts {
        &FACTS[self as usize]
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        self.facts().name
    }

    /// True for models that run blocking handlers.
    pub fn runs_blocking(self) -> bool {
        self.facts().blocking
    }

    /// True for models that take `--workers`.
    pub fn has_workers(self) -> bool {
        self.facts().workers_per_cpu.is_some()
    }

    /// True when the listening socket must allow SO_REUSEPORT (one per worker).
    pub fn reuse_port(self) -> bool {
        self.facts().reuse_port
    }

    /// The models for which `keep` is true, in [`Model::ALL`] order.
    pub fn all_that(keep: impl Fn(&ModelFacts) -> bool) -> Vec<Model> {
        Model::ALL.into_iter().filter(|m| keep(m.facts())).collect()
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
    /// The worker count: the one asked for, else the model's default (one
    /// for models without workers).
    pub fn workers(&self) -> usize {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let per_cpu = self.model.facts().workers_per_cpu.unwrap_or(1);
        self.workers.unwrap_or(per_cpu * cpus).max(1)
    }

    /// The model and, where it has them, its workers, as startup lines say
    /// it: `model epoll, 2 workers` or `model thread`.
    pub fn describe(&self) -> String {
        if self.model.has_workers() {
            let n = self.workers();
            let s = if n == 1 { "" } else { "s" };
            format!("model {}, {n} worker{s}", self.model)
        } else {
            format!("model {}", self.model)
        }
    }
}

/// Why a server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding failed; the message says why in one line, the source is the
    /// OS error behind it (when there was one).
    #[error("{message}")]
    Bind {
        /// What went wrong, for a person.
        message: String,
        /// The OS error.
        #[source]
        source: Option<io::Error>,
    },
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
    /// The fork or prefork model could not fork: the process has other
    /// threads (forking would be unsafe), or the kernel refused.
    #[error("{0}")]
    Fork(String),
    /// The model cannot run on this system (io_uring disabled, say); the
    /// message says what to use instead.
    #[error("{0}")]
    Unavailable(String),
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
    pub(crate) fn bind(message: impl Into<String>, source: Option<io::Error>) -> Self {
        ServerError::Bind {
            message: message.into(),
            source,
        }
    }

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
    /// When the connection was accepted (it may have waited in a queue since).
    pub accepted: std::time::Instant,
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

/// What a model's entry point serves with: the socket it is given (a
/// listener, or a UDP socket), the configuration and the stop flag.
pub(crate) struct Run<'a, T> {
    /// The bound socket.
    pub(crate) on: T,
    /// Model, workers and limits.
    pub(crate) config: &'a Config,
    /// Set when the server should stop.
    pub(crate) shutdown: Shutdown,
}

impl<'a, T> Run<'a, T> {
    fn new(on: T, config: &'a Config, shutdown: Shutdown) -> Self {
        Run {
            on,
            config,
            shutdown,
        }
    }
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
        Model::Select => select::serve(Run::new(listener, config, shutdown), service),
        Model::Poll => poll::serve(Run::new(listener, config, shutdown), service),
        Model::Epoll => epoll::serve(Run::new(listener, config, shutdown), service),
        Model::Async => asynch::serve(Run::new(listener, config, shutdown), service),
        Model::Uring => uring::serve(Run::new(listener, config, shutdown), service),
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
        Model::Iterative => iterative::serve(Run::new(listener, config, shutdown), handler),
        Model::Fork => fork::serve(Run::new(listener, config, shutdown), handler),
        Model::Prefork => prefork::serve(Run::new(listener, config, shutdown), handler),
        Model::Thread => thread::serve(Run::new(listener, config, shutdown), handler),
        Model::Pool => pool::serve(Run::new(listener, config, shutdown), handler),
        model => Err(ServerError::Unsupported {
            model,
            what: "a blocking handler (it would stall every other connection on the loop)",
            supported: names(&Model::all_that(|f| f.blocking)),
        }),
    }
}

/// Checks up front whether `model` can run on this system at all (io_uring
/// may be missing or forbidden), so a server says so before it binds.
pub fn check_available(model: Model) -> Result<(), ServerError> {
    match model {
        Model::Uring => models::uring::probe(),
        _ => Ok(()),
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
            supported: names(&Model::all_that(|f| f.blocking)),
        })
    }
}

/// Checks up front whether `model` can run `service` over UDP.
pub fn check_datagram(model: Model, stateless: bool) -> Result<(), ServerError> {
    if model.facts().processes && !stateless {
        return Err(ServerError::Unsupported {
            model,
            what: "this UDP service (it keeps state, and separate processes would not share it)",
            supported: names(&Model::all_that(|f| !f.processes)),
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
        Model::Iterative => iterative::serve_datagrams(Run::new(socket, config, shutdown), service),
        Model::Fork => fork::serve_datagrams(Run::new(socket, config, shutdown), service),
        Model::Prefork => prefork::serve_datagrams(Run::new(socket, config, shutdown), service),
        Model::Thread => thread::serve_datagrams(Run::new(socket, config, shutdown), service),
        Model::Pool => pool::serve_datagrams(Run::new(socket, config, shutdown), service),
        Model::Select => select::serve_datagrams(Run::new(socket, config, shutdown), service),
        Model::Poll => poll::serve_datagrams(Run::new(socket, config, shutdown), service),
        Model::Epoll => epoll::serve_datagrams(Run::new(socket, config, shutdown), service),
        Model::Async => asynch::serve_datagrams(Run::new(socket, config, shutdown), service),
        Model::Uring => uring::serve_datagrams(Run::new(socket, config, shutdown), service),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_has_its_own_row_of_facts() {
        for (i, m) in Model::ALL.into_iter().enumerate() {
            assert_eq!(m as usize, i, "ALL is in declaration order");
            assert_eq!(m.name().parse::<Model>(), Ok(m));
        }
        let names: Vec<&str> = FACTS.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "iterative",
                "fork",
                "prefork",
                "thread",
                "pool",
                "select",
                "poll",
                "epoll",
                "async",
                "uring"
            ]
        );
    }

    #[test]
    fn refusals_and_banners_come_from_the_facts() {
        let blocking = names(&Model::all_that(|f| f.blocking));
        assert_eq!(blocking, "iterative, fork, prefork, thread, pool");
        let err = check_datagram(Model::Fork, false).unwrap_err().to_string();
        assert!(
            err.ends_with("use one of: iterative, thread, pool, select, poll, epoll, async, uring")
        );
        assert!(check_datagram(Model::Fork, true).is_ok());
        let config = |model, workers| Config {
            model,
            workers,
            ..Config::default()
        };
        assert_eq!(config(Model::Thread, Some(4)).describe(), "model thread");
        assert_eq!(
            config(Model::Epoll, Some(2)).describe(),
            "model epoll, 2 workers"
        );
        assert_eq!(
            config(Model::Pool, Some(1)).describe(),
            "model pool, 1 worker"
        );
        assert!(Model::Epoll.reuse_port() && !Model::Async.reuse_port());
        assert!(Model::Uring.reuse_port() && Model::Uring.has_workers());
    }
}
