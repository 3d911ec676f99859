//! The thread model: a thread per connection (Python's ThreadingTCPServer).
//!
//! Blocking code stays simple and connections are served concurrently; the
//! price is a stack and a kernel thread per client, so it suits moderate
//! concurrency. `max_connections` caps live threads: further clients wait in
//! the listen backlog until one finishes.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{accept_each, datagram_each, drain_deadline, handle};
use crate::server::blocking::send_all;
use crate::server::{DatagramService, Handler, Listener, Run, ServerError};

/// Stack size for connection threads: enough for protocol code, small enough for thousands.
const STACK: usize = 256 * 1024;

/// Counts live workers and lets the main loop wait for them.
#[derive(Clone, Default)]
struct Live(Arc<AtomicUsize>);

impl Live {
    fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
    fn enter(&self) -> LiveGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        LiveGuard(Arc::clone(&self.0))
    }
    /// Waits until no worker is live or `limit` passes.
    fn wait_empty(&self, limit: Duration) {
        let until = Instant::now() + limit;
        while self.count() > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

struct LiveGuard(Arc<AtomicUsize>);
impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves each connection on its own thread until shutdown, then waits for them.
pub(crate) fn serve<H: Handler>(run: Run<'_, Listener>, handler: H) -> Result<(), ServerError> {
    let (listener, config, shutdown) = (run.on, run.config, run.shutdown);
    let handler = Arc::new(handler);
    let live = Live::default();
    let full = || live.count() >= config.max_connections;
    accept_each(&listener, config, &shutdown, full, |conn| {
        let guard = live.enter();
        let h = Arc::clone(&handler);
        let spawned = std::thread::Builder::new()
            .name("netkit-conn".into())
            .stack_size(STACK)
            .spawn(move || {
                let _guard = guard;
                handle(&*h, conn);
            });
        if let Err(e) = spawned {
            // The connection moved into the failed closure and is dropped (closed) with it.
            tracing::warn!(
                "netkit: cannot start a thread for a new connection ({e}); connection closed"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    })?;
    drop(listener);
    live.wait_empty(drain_deadline(config));
    Ok(())
}

/// Handles each datagram on its own thread (Python's ThreadingUDPServer).
pub(crate) fn serve_datagrams<D: DatagramService>(
    run: Run<'_, UdpSocket>,
    service: D,
) -> Result<(), ServerError> {
    let (socket, config, shutdown) = (run.on, run.config, run.shutdown);
    let socket = Arc::new(socket);
    let service = Arc::new(service);
    let live = Live::default();
    let mut next_tick = service.tick_interval().map(|d| Instant::now() + d);
    // The tick runs between datagrams, in the receiving thread.
    let full = || {
        if let (Some(at), Some(every)) = (next_tick, service.tick_interval())
            && Instant::now() >= at
        {
            let mut out = Vec::new();
            service.on_tick(&mut out);
            send_all(&socket, &mut out);
            next_tick = Some(Instant::now() + every);
        }
        live.count() >= config.max_connections
    };
    datagram_each(&socket, &shutdown, full, |from, data| {
        let data = data.to_vec();
        let (sock, svc, guard) = (Arc::clone(&socket), Arc::clone(&service), live.enter());
        let spawned = std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || {
                let _guard = guard;
                let mut out = Vec::new();
                svc.on_datagram(from, &data, &mut out);
                send_all(&sock, &mut out);
            });
        if let Err(e) = spawned {
            tracing::warn!("netkit: cannot start a thread for a datagram ({e}); dropped");
        }
    })?;
    live.wait_empty(drain_deadline(config));
    Ok(())
}
