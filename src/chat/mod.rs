//! netkit chat (being written).

pub mod bench;
pub mod cli;
