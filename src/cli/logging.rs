//! The library logs with `tracing`; this installs the one subscriber the
//! `netkit` binary uses: plain lines on stderr, the level chosen by `-q`/`-v`
//! or, when set, by `RUST_LOG` (e.g. `RUST_LOG=netkit=debug`).
//!
//! Info lines are printed as they are (the start-up and access-log lines),
//! other levels carry their name first: `WARN netkit: accept failed: ...`.

use std::fmt;

use clap::Args;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How much the binary logs (global options, valid after any subcommand).
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct LogArgs {
    /// Only warnings and errors: no access log, no joins and leaves (what
    /// is served and where is still printed)
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail: -v for debug, -vv for trace
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl LogArgs {
    /// The level these options ask for.
    pub fn level(&self) -> Level {
        match (self.quiet, self.verbose) {
            (true, _) => Level::WARN,
            (false, 0) => Level::INFO,
            (false, 1) => Level::DEBUG,
            (false, _) => Level::TRACE,
        }
    }
}

/// Installs the subscriber: `RUST_LOG` if set, not empty and valid, else the level of `args`.
/// Calling it twice is harmless (the second call does nothing).
pub fn init(args: &LogArgs) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(args.level().as_str()));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RawStderr)
        .event_format(Plain)
        .try_init();
}

/// Standard error without std's lock: each event arrives formatted whole
/// and goes out in one `write(2)` (lines up to `PIPE_BUF` are never
/// interleaved), so workers logging a request each do not queue on a mutex
/// (with `std::io::stderr` two epoll workers spent more time in futex waits
/// than in their access-log lines).
struct RawStderr;

impl std::io::Write for RawStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // SAFETY: writes `buf` (valid for its length) to descriptor 2,
        // which the process does not close.
        let n = unsafe { libc::write(2, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `message key=value ...`, with the level first unless it is INFO.
struct Plain;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        if level != Level::INFO {
            write!(writer, "{level} ")?;
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        log: LogArgs,
    }

    #[test]
    fn levels_from_flags() {
        let level = |args: &[&str]| Cli::parse_from(args).log.level();
        assert_eq!(level(&["x"]), Level::INFO);
        assert_eq!(level(&["x", "-q"]), Level::WARN);
        assert_eq!(level(&["x", "-v"]), Level::DEBUG);
        assert_eq!(level(&["x", "-vv"]), Level::TRACE);
        assert!(Cli::try_parse_from(["x", "-q", "-v"]).is_err());
    }
}
