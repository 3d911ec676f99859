//! Benchmarks: the built-in load generator and what is measured with it.
//!
//! - [`echo`]: `netkit bench echo`, one model's echo throughput and latency.

pub mod echo;
