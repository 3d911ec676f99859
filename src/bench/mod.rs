//! Benchmarks: the built-in load generator and what is measured with it.
//!
//! - [`echo`]: `netkit bench echo`, one model's echo throughput and latency.
//! - [`loadgen`]: the epoll-driven load generator they use (echo payloads or HTTP requests).
//! - [`proc`]: the server as a child process, and its memory and CPU from `/proc`.
//! - [`models`]: `netkit bench models`, the model atlas: every model side by
//!   side at rising concurrency, with a table, a CSV and SVG charts ([`atlas`],
//!   [`plot`]); [`idle`] holds the idle keep-alive connections it weighs.

pub mod atlas;
pub mod cli;
pub mod echo;
pub mod idle;
pub mod loadgen;
pub mod models;
pub mod plot;
pub mod proc;
pub mod tasks;
