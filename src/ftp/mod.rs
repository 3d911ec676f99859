//! netkit ftp (being written).

pub mod cli;
