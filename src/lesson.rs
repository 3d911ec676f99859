//! How a lesson program (`examples/`) ends: its error as one line on
//! stderr, `NAME: what went wrong`, exit status 2 for a usage error and 1
//! for any other, and never a stack trace (not even with `RUST_BACKTRACE=1`
//! set: a wrong argument is not a bug).
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     netkit::lesson::main(run)
//! }
//!
//! fn run() -> anyhow::Result<()> {
//!     match std::env::args().nth(1).as_deref() {
//!         None | Some("--demo") => Ok(()),
//!         Some(other) => Err(netkit::lesson::usage(format!("unknown argument {other:?}; usage: demo [--demo]"))),
//!     }
//! }
//! ```

use std::process::ExitCode;

/// A wrong command line: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// A usage error to return from a lesson's `run`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Usage(message.into()).into()
}

/// Runs a lesson's body and turns its result into the exit status.
pub fn main(run: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let name = std::env::args()
                .next()
                .and_then(|p| {
                    std::path::Path::new(&p)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                })
                .unwrap_or_else(|| "lesson".to_string());
            // `{:#}` is the message and its causes on one line; anyhow's
            // backtrace is only printed by `{:?}`.
            eprintln!("{name}: {e:#}");
            if e.is::<Usage>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
