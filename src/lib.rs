//! netkit: network servers and clients where a protocol is written once and
//! served by every classic server model.
//!
//! # Layout
//!
//! - [`server`]: the framework. Sessions (sans-IO protocol state machines),
//!   blocking handlers and datagram services, and one driver per model in
//!   `server/models/` (iterative, fork, prefork, thread, pool, select, poll,
//!   epoll, async).
//! - [`http`]: `netkit http`, the HTTP/1.1 server (a session) and its router.
//! - [`files`]: `netkit files`, the course's file server (framed protocol) and client.
//! - [`ftp`]: `netkit ftp`, an FTP server, anonymous and/or named accounts (a blocking handler).
//! - [`chat`]: `netkit chat`, the course's UDP chat room (a datagram service) and client.
//! - [`tools`]: echo and the toolbox (host info, addresses, services, UDP,
//!   broadcast, file send/recv, select-log).
//! - [`bench`](mod@bench): the built-in load generator and benchmarks.
//! - [`cli`]: clap options shared by every server subcommand, also read from
//!   a `--config` TOML file and `NETKIT_*` variables ([`cli::config`]).
//! - [`disk`]: file-name rules, atomic files, the shared root; [`human`]:
//!   sizes and dates for people (and the fixed formats of FTP and access logs).
//! - [`wire`]: framing (length-prefixed frames, lines), pure and unit-tested.
//! - [`sys`]: the one OS layer: the raw system calls std, nix and socket2 do
//!   not cover, behind safe functions that borrow their descriptors.
//! - [`lesson`]: how the lesson programs in `examples/` end (one error line, no backtrace).
//! - `src/main.rs`: the `netkit` command line, a thin shell over the above.

#![warn(missing_docs, rust_2018_idioms)]

pub mod bench;
pub mod chat;
pub mod cli;
pub mod disk;
pub mod files;
pub mod ftp;
pub mod http;
pub mod human;
pub mod lesson;
pub mod server;
pub(crate) mod sys;
pub mod tls;
pub mod tools;
pub mod wire;
