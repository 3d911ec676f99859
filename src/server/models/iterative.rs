//! The iterative model: one loop, one client at a time (the course's first server).
//!
//! Simple and fair only for short requests: while one client is connected,
//! every other waits in the listen backlog.

use std::net::UdpSocket;

use super::{accept_each, handle};
use crate::server::blocking::datagram_loop;
use crate::server::{Config, DatagramService, Handler, Listener, ServerError, Shutdown};

/// Serves connections one after another until shutdown.
pub fn serve<H: Handler>(
    listener: Listener,
    config: &Config,
    handler: H,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    accept_each(
        &listener,
        config,
        &shutdown,
        || false,
        |conn| {
            handle(&handler, conn);
            true
        },
    )
}

/// Answers datagrams one at a time until shutdown.
pub fn serve_datagrams<D: DatagramService>(
    socket: UdpSocket,
    _config: &Config,
    service: D,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    datagram_loop(&socket, &service, &shutdown, true).map_err(|e| ServerError::io("udp receive", e))
}
