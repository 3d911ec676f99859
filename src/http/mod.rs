//! HTTP/1.1 server (being written).

pub mod cli;
