//! `netkit files`: the course's file server and client over the netkit file protocol.
//!
//! The wire contract (docs/files.md, "The netkit file protocol"): requests and replies
//! are length-prefixed frames (`L`, `G <name>`, `P <name> <size>`, `Q`; `OK ...`
//! or `ERR <reason>`), file bodies are raw bytes of an announced length, so no
//! end marker and no sleeping around "sticky packets".
//!
//! - [`session`]: the server as a sans-IO [`FilesService`]/[`FilesSession`], so
//!   it runs on every model; downloads go out with `sendfile(2)`.
//! - [`library`]: the shared directory ([`FileLibrary`]): listing, opening,
//!   storing uploads, the overwrite and size rules.
//! - File names, atomic files and the shared root follow the crate's one set
//!   of rules in [`crate::disk`]; sizes and dates are [`crate::human`]'s.
//! - [`client`]: the protocol client and download/upload helpers; [`menu`]: the
//!   interactive client; [`progress`]: progress bars.
//! - [`cli`]: `netkit files serve|connect|ls|get|put`.

pub mod cli;
pub mod client;
pub mod library;
pub mod menu;
pub mod progress;
pub mod session;

pub use client::{Client, ClientError};
pub use library::{Entry, FileLibrary, LibraryError, Options};
pub use session::{FilesService, FilesSession};
