//! `netkit http`: an HTTP/1.1 server with static files and backend routes.
//!
//! - [`request`]: request-head parsing and limits, chunked bodies (no IO).
//! - [`response`]: responses and their encoding into a session's output.
//! - [`session`]: the HTTP/1.1 connection state machine (keep-alive,
//!   pipelining, body limits, header timeout) — a sans-IO session, so it runs
//!   on every model.
//! - [`app`]: the router: backend routes as plain functions, then static files.
//! - [`static_files`]: files, directory listings, conditional and range requests.
//! - [`share`]: uploads, new folders and deletions, each opt-in.
//! - [`archive`]: folders as tar, tar.gz or zip, streamed.
//! - [`body`]: request bodies into sinks (uploads) and streamed response bodies.
//! - [`compress`]: gzip, brotli and zstd, negotiated from `Accept-Encoding`.
//! - [`auth`]: Basic authentication (plain, argon2, bcrypt, SHA-512 crypt).
//! - [`policy`]: CORS, fixed fields, Cache-Control rules, security headers, error pages.
//! - [`metrics`]: counters shared by every worker, as Prometheus text.
//! - [`log`]: access-log lines (common, combined, JSON).
//! - [`cli`]: the `netkit http` command.

pub mod app;
pub mod archive;
pub mod auth;
pub mod body;
pub mod cli;
pub mod compress;
pub mod log;
pub mod metrics;
pub mod policy;
pub mod redirect;
pub mod request;
pub mod response;
pub mod session;
pub mod share;
pub mod static_files;

pub use app::App;
pub use request::Request;
pub use response::{Part, Response};
