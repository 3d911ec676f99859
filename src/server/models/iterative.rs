//! The iterative model: one loop, one client at a time (the course's first server).
//!
//! Simple and fair only for short requests: while one client is connected,
//! every other waits in the listen backlog.

use std::net::UdpSocket;

use super::serve_in_turn;
use crate::server::blocking::datagram_loop;
use crate::server::{DatagramService, Handler, Listener, Run, ServerError};

/// Serves connections one after another until shutdown.
pub(crate) fn serve<H: Handler>(run: Run<'_, Listener>, handler: H) -> Result<(), ServerError> {
    let (listener, config, shutdown) = (run.on, run.config, run.shutdown);
    serve_in_turn(&listener, config, &shutdown, &handler)
}

/// Answers datagrams one at a time until shutdown.
pub(crate) fn serve_datagrams<D: DatagramService>(
    run: Run<'_, UdpSocket>,
    service: D,
) -> Result<(), ServerError> {
    let (socket, _, shutdown) = (run.on, run.config, run.shutdown);
    datagram_loop(&socket, &service, &shutdown, true).map_err(|e| ServerError::io("udp receive", e))
}
