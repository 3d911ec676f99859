//! netkit files (being written).

pub mod cli;
