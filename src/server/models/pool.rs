//! The pool model: a fixed set of worker threads fed by a bounded queue.
//!
//! Resources are bounded up front: `workers` threads serve at most that many
//! connections at once, `queue` more wait accepted, and beyond that the
//! acceptor pauses so new clients wait in the kernel's listen backlog.

use std::net::UdpSocket;
use std::sync::mpsc::{TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{accept_each, drain_deadline, handle};
use crate::server::blocking::datagram_loop;
use crate::server::{DatagramService, Handler, Listener, Run, ServerError};

/// Serves connections on `config.workers()` threads until shutdown; queued
/// connections that were already accepted are still served.
pub(crate) fn serve<H: Handler>(run: Run<'_, Listener>, handler: H) -> Result<(), ServerError> {
    let (listener, config, shutdown) = (run.on, run.config, run.shutdown);
    let (tx, rx) = sync_channel::<crate::server::Connection>(config.queue.max(1));
    let rx = Arc::new(Mutex::new(rx));
    let handler = Arc::new(handler);
    let mut workers = Vec::new();
    for i in 0..config.workers() {
        let (rx, h) = (Arc::clone(&rx), Arc::clone(&handler));
        let w = std::thread::Builder::new()
            .name(format!("netkit-pool-{i}"))
            .spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(conn) => handle(&*h, conn),
                        Err(_) => return, // queue closed: shutdown
                    }
                }
            })
            .map_err(|e| ServerError::io("starting pool worker", e))?;
        workers.push(w);
    }
    accept_each(
        &listener,
        config,
        &shutdown,
        || false,
        |mut conn| {
            loop {
                match tx.try_send(conn) {
                    Ok(()) => return true,
                    Err(TrySendError::Full(c)) => {
                        // Queue full: hold this one and stop accepting until a worker frees up.
                        conn = c;
                        if shutdown.past_deadline(config.shutdown_timeout) {
                            return false;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(TrySendError::Disconnected(_)) => return false,
                }
            }
        },
    )?;
    drop(listener);
    drop(tx);
    let until = Instant::now() + drain_deadline(config);
    for w in workers {
        while !w.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        if w.is_finished() {
            let _ = w.join();
        }
    }
    Ok(())
}

/// Runs `config.workers()` threads receiving on the same UDP socket.
pub(crate) fn serve_datagrams<D: DatagramService>(
    run: Run<'_, UdpSocket>,
    service: D,
) -> Result<(), ServerError> {
    let (socket, config, shutdown) = (run.on, run.config, run.shutdown);
    let service = Arc::new(service);
    let mut workers = Vec::new();
    for i in 0..config.workers() {
        let sock = socket
            .try_clone()
            .map_err(|e| ServerError::io("udp socket", e))?;
        let (svc, stop) = (Arc::clone(&service), shutdown.clone());
        workers.push(std::thread::spawn(move || {
            datagram_loop(&sock, &*svc, &stop, i == 0)
        }));
    }
    let mut result = Ok(());
    for w in workers {
        if let Ok(Err(e)) = w.join() {
            result = Err(ServerError::io("udp receive", e));
        }
    }
    result
}
