//! netkit: network servers and clients where a protocol is written once and
//! served by every classic server model.
//!
//! # Layout
//!
//! - [`server`]: the framework. Sessions (sans-IO protocol state machines),
//!   blocking handlers and datagram services, and one driver per model in
//!   `server/models/` (iterative, fork, prefork, thread, pool, select, poll,
//!   epoll, async).
//! - [`tools`]: small services and clients built on it, starting with echo.
//! - [`bench`]: the built-in load generator and benchmarks.
//! - `src/main.rs`: the `netkit` command line, a thin shell over the above.

#![warn(missing_docs, rust_2018_idioms)]

pub mod bench;
pub mod server;
pub mod tools;
