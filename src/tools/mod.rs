//! Small services and clients built on the framework.
//!
//! - [`echo`]: the course's first TCP/UDP/Unix programs — an echo session, a
//!   blocking echo handler, a UDP echo service, and the client.

pub mod cli;
pub mod echo;
