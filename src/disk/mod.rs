//! Files on disk, as every server that stores or serves them needs them: one
//! home each for the rules.
//!
//! - [`name`]: which file names a client may give (uploads, downloads, `recv`).
//! - [`atomic`]: atomic file creation (temporary name, fsync, no-replace
//!   rename), and the sweep of temporaries left by killed processes.
//! - [`upload`]: an upload of a known size into an atomic file, written
//!   or spliced, its errors kept until the body is over.
//! - [`shared_root`]: the directory a server shares, checked at start-up.
//!
//! Sizes and dates for people are in [`crate::human`]; the HTTP server's
//! per-request jail (`openat2(RESOLVE_BENEATH)`) is in `http::static_files`.

pub mod atomic;
mod jail;
pub mod name;
pub mod upload;

pub use jail::shared_root;
