//! The one start-up path of every server subcommand: check that the model
//! can serve the protocol (before anything is bound), raise the descriptor
//! limit, install the SIGINT/SIGTERM handlers, take the socket systemd
//! passed or bind (`--bind` is an IP address, a host name or
//! `unix:/path`; SO_REUSEPORT when the model's facts want it), print the
//! `listening on` line, serve, and print `stopped`.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use netkit::cli::startup::{Serves, Startup};
//! use netkit::server::{Config, Endpoint, net};
//!
//! let start = Startup::new("netkit echo", Config::default(), Serves::Sessions)?;
//! let listener = start.listen_on(&Endpoint::Tcp(net::resolve("127.0.0.1", 7000)?))?;
//! start.serve(listener, netkit::tools::echo::Echo)
//! # }
//! ```

use std::cell::RefCell;
use std::fmt::Display;
use std::net::UdpSocket;

use anyhow::{Context, Result};

use crate::server::activation::{self, Inherited};
use crate::server::{
    self, Config, DatagramService, Endpoint, Handler, Listener, Service, Shutdown, net,
};

/// What a subcommand serves, so the model is checked before binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serves {
    /// A sans-IO [`Service`]: every model.
    Sessions,
    /// A blocking [`Handler`]: the blocking models.
    Handler,
    /// A [`DatagramService`]; a `stateless` one also runs on the process models.
    Datagrams {
        /// True when separate processes may each keep their own state.
        stateless: bool,
    },
}

type InFlight = Box<dyn Fn() -> u64 + Send + Sync>;

/// A server subcommand between parsing and serving.
pub struct Startup {
    name: &'static str,
    config: Config,
    shutdown: Shutdown,
    fd_limit: u64,
    note: Option<String>,
    on_stop: Option<Box<dyn FnOnce()>>,
    /// What is in flight when a stop starts (open connections), if known.
    in_flight: Option<InFlight>,
    /// The socket systemd passed, until a `listen` takes it.
    inherited: RefCell<Option<Inherited>>,
}

impl std::fmt::Debug for Startup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Startup")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("fd_limit", &self.fd_limit)
            .finish_non_exhaustive()
    }
}

impl Startup {
    /// Checks that `config.model` can serve `serves`, raises the descriptor
    /// limit to its hard maximum and installs the signal handlers; takes the
    /// socket systemd passed, if any (see [`Startup::listen`]). `name`
    /// starts every line printed (`netkit http`).
    pub fn new(name: &'static str, config: Config, serves: Serves) -> Result<Startup> {
        // First, while the process has one thread: this unsets LISTEN_*.
        let inherited = activation::take()?;
        server::check_available(config.model)?;
        match serves {
            Serves::Sessions => {}
            Serves::Handler => server::check_blocking(config.model)?,
            Serves::Datagrams { stateless } => server::check_datagram(config.model, stateless)?,
        }
        let fd_limit = crate::sys::process::raise_fd_limit().soft;
        let shutdown = Shutdown::on_signals().context("installing signal handlers")?;
        if let Some(n) = config.workers.filter(|_| !config.model.has_workers()) {
            let with: Vec<&str> = crate::cli::help::models_for(serves)
                .into_iter()
                .filter(|m| m.has_workers())
                .map(|m| m.name())
                .collect();
            eprintln!(
                "{name}: --workers {n} does nothing for model {} ({}); models with workers: {}",
                config.model.name(),
                config.model.facts().serves,
                with.join(", ")
            );
        }
        Ok(Startup {
            name,
            config,
            shutdown,
            fd_limit,
            note: None,
            on_stop: None,
            in_flight: None,
            inherited: RefCell::new(inherited),
        })
    }

    /// The framework configuration being served.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Adds a note to the `listening on` line's parentheses.
    pub fn note(mut self, note: impl Into<String>) -> Startup {
        self.note = Some(note.into());
        self
    }

    /// Runs `f` once serving has ended, before `stopped` is printed (the
    /// chat room's goodbye to its members, say).
    pub fn on_stop(mut self, f: impl FnOnce() + 'static) -> Startup {
        self.on_stop = Some(Box::new(f));
        self
    }

    /// Says how many connections are open when a stop starts (`count` is
    /// asked then); without it the line speaks of work in flight.
    pub fn in_flight(mut self, count: impl Fn() -> u64 + Send + Sync + 'static) -> Startup {
        self.in_flight = Some(Box::new(count));
        self
    }

    /// Arranges the line a stop starts with: what it waits for, how long,
    /// and that a second signal ends it at once.
    fn announce_stop(&mut self) {
        let (name, grace) = (self.name, self.config.shutdown_timeout);
        let count = self.in_flight.take();
        self.shutdown.on_first_seen(move || {
            let what = match count.as_ref().map(|c| c()) {
                Some(0) => "nothing is in flight".to_string(),
                Some(1) => format!(
                    "waiting up to {} for 1 open connection",
                    crate::human::duration(grace)
                ),
                Some(n) => format!(
                    "waiting up to {} for {n} open connections",
                    crate::human::duration(grace)
                ),
                None => format!(
                    "waiting up to {} for work in flight",
                    crate::human::duration(grace)
                ),
            };
            eprintln!(
                "{name}: stopping: no new connections; {what} (Ctrl-C again to stop at once)"
            );
        });
    }

    /// Prints one line, `NAME: line`, on stderr. These lines (what is
    /// served, where, and that it stopped) are the command's own output, not
    /// log records: `-q` does not hide them.
    pub fn say(&self, line: impl Display) {
        eprintln!("{}: {line}", self.name);
    }

    /// The stream listener to serve: the socket systemd passed when there
    /// is one, else `bind` (`--bind`: an IP address, a host name or
    /// `unix:/path`) and `port` bound.
    pub fn listen(&self, bind: &str, port: u16) -> Result<Listener> {
        match self.inherited_stream()? {
            Some(l) => Ok(l),
            None => self.bind(&net::endpoint(bind, port)?),
        }
    }

    /// Like [`Startup::listen`], with the endpoint already made.
    pub fn listen_on(&self, endpoint: &Endpoint) -> Result<Listener> {
        match self.inherited_stream()? {
            Some(l) => Ok(l),
            None => self.bind(endpoint),
        }
    }

    /// The UDP socket to serve: the one systemd passed when there is one,
    /// else `host:port` bound (see [`Startup::bind_udp`]).
    pub fn listen_udp(&self, host: &str, port: u16) -> Result<UdpSocket> {
        match self.inherited.borrow_mut().take() {
            Some(Inherited::Datagram(u)) => Ok(u),
            Some(Inherited::Stream(_)) => anyhow::bail!(
                "systemd socket activation: the passed socket is a stream socket, but {} \
                 serves UDP (use ListenDatagram= in the socket unit)",
                self.name
            ),
            None => self.bind_udp(host, port),
        }
    }

    fn inherited_stream(&self) -> Result<Option<Listener>> {
        match self.inherited.borrow_mut().take() {
            Some(Inherited::Stream(l)) => Ok(Some(l)),
            Some(Inherited::Datagram(_)) => anyhow::bail!(
                "systemd socket activation: the passed socket is a UDP socket, but {} \
                 serves a stream protocol (use ListenStream= in the socket unit)",
                self.name
            ),
            None => Ok(None),
        }
    }

    /// Binds a stream listener; the model decides on SO_REUSEPORT.
    pub fn bind(&self, endpoint: &Endpoint) -> Result<Listener> {
        Ok(Listener::bind(endpoint, self.config.model.reuse_port())?)
    }

    /// Binds TCP on `host:port` (see [`Startup::bind`]).
    pub fn bind_tcp(&self, host: &str, port: u16) -> Result<Listener> {
        self.bind(&Endpoint::Tcp(net::resolve(host, port)?))
    }

    /// Binds a UDP socket on `host:port`; the model decides on SO_REUSEPORT.
    pub fn bind_udp(&self, host: &str, port: u16) -> Result<UdpSocket> {
        if host.starts_with("unix:") {
            anyhow::bail!(
                "--bind {host}: {} serves UDP, and unix: is for stream sockets",
                self.name
            );
        }
        let addr = net::resolve(host, port)?;
        Ok(net::udp_socket(addr, self.config.model.reuse_port())?)
    }

    /// Serves sessions on `listener` until SIGINT/SIGTERM.
    pub fn serve<S: Service>(mut self, listener: Listener, service: S) -> Result<()> {
        self.listening(&listener.local_endpoint()?.to_string(), &listener);
        self.announce_stop();
        let served = server::serve(listener, &self.config, service, self.shutdown.clone());
        self.stopped(served)
    }

    /// Serves a blocking handler on `listener` until SIGINT/SIGTERM.
    pub fn serve_handler<H: Handler>(mut self, listener: Listener, handler: H) -> Result<()> {
        self.listening(&listener.local_endpoint()?.to_string(), &listener);
        self.announce_stop();
        let served = server::serve_handler(listener, &self.config, handler, self.shutdown.clone());
        self.stopped(served)
    }

    /// Serves a datagram service on `socket` until SIGINT/SIGTERM.
    pub fn serve_datagrams<D: DatagramService>(
        mut self,
        socket: UdpSocket,
        service: D,
    ) -> Result<()> {
        let local = socket.local_addr().context("udp socket")?;
        self.listening(&format!("udp://{local}"), &socket);
        self.announce_stop();
        let served = server::serve_datagrams(socket, &self.config, service, self.shutdown.clone());
        self.stopped(served)
    }

    fn listening(&self, local: &str, sock: impl std::os::fd::AsFd) {
        let mut note = self
            .note
            .as_deref()
            .map(|n| format!(", {n}"))
            .unwrap_or_default();
        if activation::is_inherited(sock) {
            note.push_str(", socket from systemd");
        }
        self.say(format_args!(
            "listening on {local} ({}{note}, fd limit {})",
            self.config.describe(),
            self.fd_limit
        ));
    }

    fn stopped(mut self, served: Result<(), server::ServerError>) -> Result<()> {
        if let Some(f) = self.on_stop.take() {
            f();
        }
        served?;
        self.say("stopped");
        Ok(())
    }
}
