//! Benchmarks: the built-in load generator and what is measured with it.
//!
//! - [`echo`]: `netkit bench echo`, one model's echo throughput and latency.
//! - [`loadgen`]: the epoll-driven echo load generator it uses.
//! - [`proc`]: the server as a child process, and its memory and CPU from `/proc`.

pub mod echo;
pub mod loadgen;
pub mod proc;
pub mod tasks;
pub mod models;
