//! Transfer progress: an indicatif bar (bytes, rate, ETA) on a terminal, nothing otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Shows how far a transfer got; invisible unless stderr is a terminal.
#[derive(Debug, Clone)]
pub struct Meter {
    /// The bar (a hidden one when not drawing).
    bar: ProgressBar,
}

impl Meter {
    /// A meter that draws on stderr when stderr is a terminal, labelled `label`.
    pub fn for_terminal(label: &str) -> Meter {
        if std::io::stderr().is_terminal() {
            Meter::visible(label)
        } else {
            Meter::hidden()
        }
    }

    /// A meter that never draws.
    pub fn hidden() -> Meter {
        Meter {
            bar: ProgressBar::hidden(),
        }
    }

    fn visible(label: &str) -> Meter {
        let bar = transfer_bar(label, 0);
        bar.enable_steady_tick(Duration::from_millis(200));
        Meter { bar }
    }

    /// The transfer's size is now known.
    pub fn start(&self, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(0);
    }

    /// `n` more bytes moved.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// The transfer ended (either way): remove the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

/// The progress bar of every transfer netkit shows (files client, send/recv):
/// name, bar, bytes, rate and time left, on stderr.
pub fn transfer_bar(label: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{msg:20!} [{bar:30}] {bytes:>10}/{total_bytes:10} {binary_bytes_per_sec:>12} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(label.to_string());
    bar
}
