//! The fork model: a child process per connection (Python's ForkingTCPServer).
//!
//! Each client gets an isolated process. The parent only accepts, forks and
//! reaps: it collects exited children with a `waitpid(-1, WNOHANG)` loop on
//! every turn (SIGCHLD deliveries merge, so one signal may mean many exits),
//! so zombies never pile up. At `max_children` live children it stops
//! accepting until one exits. On shutdown it stops accepting, sends SIGTERM to
//! every child (each finishes its in-flight work), and kills stragglers after
//! the grace period.
//!
//! Fork only happens while the process is single-threaded: this model must be
//! started before any thread or runtime.

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::{accept_each, datagram_each, drain_deadline, handle};
use crate::server::blocking::send_all;
use crate::server::{DatagramService, Handler, Listener, Run, ServerError};
use crate::sys;
use crate::sys::process::{ForkResult, child_exit, die_with_parent, fork};

/// The live children of this process.
#[derive(Default)]
pub(crate) struct Children {
    pids: HashSet<Pid>,
}

impl Children {
    /// Number of children not yet reaped.
    pub(crate) fn len(&self) -> usize {
        self.pids.len()
    }

    /// Records a new child.
    pub(crate) fn add(&mut self, pid: Pid) {
        self.pids.insert(pid);
    }

    /// Reaps every exited child without blocking; returns the pids reaped.
    pub(crate) fn reap(&mut self) -> Vec<Pid> {
        let mut gone = Vec::new();
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) => {
                    if let Some(pid) = status.pid() {
                        self.pids.remove(&pid);
                        gone.push(pid);
                    }
                }
            }
        }
        gone
    }

    /// Passes a reload request (SIGHUP) on to every child.
    pub(crate) fn forward_reload(&self) {
        for pid in &self.pids {
            let _ = kill(*pid, Signal::SIGHUP);
        }
    }

    /// Asks every child to stop, waits up to `grace`, then kills and reaps what is left.
    pub(crate) fn stop_all(&mut self, grace: Duration) {
        for pid in &self.pids {
            let _ = kill(*pid, Signal::SIGTERM);
        }
        let until = Instant::now() + grace;
        while self.len() > 0 && Instant::now() < until {
            self.reap();
            std::thread::sleep(Duration::from_millis(5));
        }
        for pid in &self.pids {
            let _ = kill(*pid, Signal::SIGKILL);
        }
        for pid in std::mem::take(&mut self.pids) {
            let _ = waitpid(pid, None);
        }
    }
}

/// Checks before the first fork that the process is single-threaded (the
/// check [`sys::process::fork`] repeats at every fork), so a server that could
/// never fork fails at startup with one clear line.
pub(crate) fn single_threaded() -> Result<(), ServerError> {
    let threads = sys::process::thread_count();
    if threads > 1 {
        return Err(ServerError::Fork(format!(
            "the fork and prefork models must start while the process is single-threaded \
             (it has {threads} threads); start the server before any thread or runtime"
        )));
    }
    Ok(())
}

/// Serves each connection in a forked child until shutdown.
pub(crate) fn serve<H: Handler>(run: Run<'_, Listener>, handler: H) -> Result<(), ServerError> {
    let (listener, config, shutdown) = (run.on, run.config, run.shutdown);
    single_threaded()?;
    let children = RefCell::new(Children::default());
    let max = config.max_children.max(1);
    let me = nix::unistd::getpid();
    // At the limit: leave new clients in the backlog until a child exits.
    let full = || {
        let mut c = children.borrow_mut();
        c.reap();
        c.len() >= max
    };
    accept_each(&listener, config, &shutdown, full, |conn| {
        match fork() {
            Ok(ForkResult::Child) => {
                die_with_parent(me);
                // The child serves this one connection; the listener is the
                // parent's (the child never returns to use its copy).
                let _ = nix::unistd::close(listener.as_raw_fd());
                handle(&handler, conn);
                child_exit(0);
            }
            Ok(ForkResult::Parent { child }) => children.borrow_mut().add(child),
            Err(e) => {
                tracing::warn!("netkit: fork failed ({e}); connection closed");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        true // the parent's copy of the connection is dropped (closed) here
    })?;
    drop(listener);
    children.into_inner().stop_all(drain_deadline(config));
    Ok(())
}

/// Handles each datagram in a forked child (Python's ForkingUDPServer); only for
/// stateless services.
pub(crate) fn serve_datagrams<D: DatagramService>(
    run: Run<'_, UdpSocket>,
    service: D,
) -> Result<(), ServerError> {
    let (socket, config, shutdown) = (run.on, run.config, run.shutdown);
    single_threaded()?;
    let children = RefCell::new(Children::default());
    let full = || {
        let mut c = children.borrow_mut();
        c.reap();
        c.len() >= config.max_children.max(1)
    };
    datagram_each(&socket, &shutdown, full, |from, data| match fork() {
        Ok(ForkResult::Child) => {
            let mut out = Vec::new();
            service.on_datagram(from, data, &mut out);
            send_all(&socket, &mut out);
            child_exit(0);
        }
        Ok(ForkResult::Parent { child }) => children.borrow_mut().add(child),
        Err(e) => tracing::warn!("netkit: fork failed ({e}); datagram dropped"),
    })?;
    children.into_inner().stop_all(drain_deadline(config));
    Ok(())
}
