//! The prefork model: N worker processes made at start, all accepting on the
//! one shared listener (the kernel hands each connection to one of them).
//!
//! Workers serve one connection at a time, like Apache's prefork MPM; the
//! master only watches them: a worker that dies is reaped and replaced. On
//! shutdown the master stops replacing, sends SIGTERM to every worker (each
//! finishes its connection and exits) and kills stragglers after the grace period.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use super::fork::{Children, single_threaded};
use super::{drain_deadline, serve_in_turn};
use crate::server::blocking::datagram_loop;
use crate::server::reload;
use crate::server::shutdown::TICK;
use crate::server::{Config, DatagramService, Handler, Listener, Run, ServerError, Shutdown};
use crate::sys::process::{ForkResult, child_exit, die_with_parent, fork};

/// Runs `config.workers()` processes serving `handler` until shutdown.
pub(crate) fn serve<H: Handler>(run: Run<'_, Listener>, handler: H) -> Result<(), ServerError> {
    let (listener, config, shutdown) = (run.on, run.config, run.shutdown);
    supervise(config, &shutdown, || {
        let served = serve_in_turn(&listener, config, &shutdown, &handler);
        if let Err(e) = served {
            tracing::warn!("netkit: prefork worker: {e}");
        }
    })
}

/// Runs `config.workers()` processes receiving on the shared UDP socket (stateless services only).
pub(crate) fn serve_datagrams<D: DatagramService>(
    run: Run<'_, UdpSocket>,
    service: D,
) -> Result<(), ServerError> {
    let (socket, config, shutdown) = (run.on, run.config, run.shutdown);
    supervise(config, &shutdown, || {
        let _ = datagram_loop(&socket, &service, &shutdown, false);
    })
}

/// Forks the workers, replaces any that die, and stops them on shutdown.
fn supervise(config: &Config, shutdown: &Shutdown, work: impl Fn()) -> Result<(), ServerError> {
    single_threaded()?;
    let mut children = Children::default();
    let master = nix::unistd::getpid();
    let spawned = std::cell::Cell::new(0usize);
    let spawn = |children: &mut Children| -> Result<(), ServerError> {
        let index = spawned.replace(spawned.get() + 1);
        match fork() {
            Ok(ForkResult::Child) => {
                die_with_parent(master);
                crate::server::set_worker_index(index);
                work();
                child_exit(0);
            }
            Ok(ForkResult::Parent { child }) => {
                children.add(child);
                Ok(())
            }
            Err(e) => Err(ServerError::Fork(e.to_string())),
        }
    };
    for _ in 0..config.workers() {
        spawn(&mut children)?;
    }
    let mut recent_deaths: Vec<Instant> = Vec::new();
    let mut reloads = reload::generation();
    while !shutdown.is_set() {
        std::thread::sleep(TICK);
        // SIGHUP reached the master: each worker reloads for itself.
        if reload::watching() && reload::generation() != reloads {
            reloads = reload::generation();
            children.forward_reload();
        }
        let gone = children.reap();
        if shutdown.is_set() {
            break;
        }
        for _ in gone {
            recent_deaths.retain(|t| t.elapsed() < Duration::from_secs(10));
            recent_deaths.push(Instant::now());
            if recent_deaths.len() > 10 * config.workers() {
                tracing::warn!(
                    "netkit: prefork workers keep dying; waiting a second before restarting"
                );
                std::thread::sleep(Duration::from_secs(1));
            }
            if let Err(e) = spawn(&mut children) {
                tracing::warn!("netkit: cannot restart worker: {e}");
            }
        }
    }
    children.stop_all(drain_deadline(config));
    Ok(())
}
