//! Small services and clients built on the framework.
//!
//! - [`echo`]: the course's first TCP/UDP/Unix programs — an echo session, a
//!   blocking echo handler, a UDP echo service, and the client.
//! - [`prompt`]: how the interactive clients read typed lines (a line editor
//!   with history on a terminal, plain lines elsewhere).
//! - [`cli`]: the toolbox subcommands (`netkit info`, `resolve`, `udp`, `send`, ...).
//! - [`host`]: `netkit info` and `netkit resolve` (gethostname, getifaddrs,
//!   getaddrinfo, getnameinfo).
//! - [`addr`]: `netkit aton` / `netkit ntoa`, IP addresses between text and bytes.
//! - [`services`]: `netkit service`, the /etc/services database.
//! - [`udp`]: `netkit udp serve|send`, recvfrom/sendto and the datagram size limit.
//! - [`broadcast`]: `netkit broadcast send|listen`, UDP broadcast with SO_BROADCAST.
//! - [`transfer`]: `netkit send` / `netkit recv`, one file over TCP with integrity check.
//! - [`select_log`]: `netkit select-log`, one select(2) loop over listener, clients and stdin.

pub mod addr;
pub mod broadcast;
pub mod cli;
pub mod echo;
pub mod host;
pub mod prompt;
pub mod select_log;
pub mod services;
pub mod transfer;
pub mod udp;
