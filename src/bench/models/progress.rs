//! The progress display: model, level, phase and time left, on a terminal only.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// The progress display: model, level, phase and time left, on a terminal only.
pub(super) struct Progress {
    bar: ProgressBar,
    state: Arc<Mutex<ProgressState>>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
    started: Instant,
}

pub(super) struct ProgressState {
    estimates: Vec<Duration>,
    index: usize,
    label: String,
    phase: &'static str,
    point_started: Instant,
    /// Sum of the estimates of finished points, and the time they really took.
    done_estimate: Duration,
    done_actual: Duration,
}

impl ProgressState {
    fn render(&self) -> (u64, String) {
        let est = self.estimates.get(self.index).copied().unwrap_or_default();
        let in_point = self.point_started.elapsed().min(est);
        let total: Duration = self.estimates.iter().sum();
        let pos = self.done_estimate + in_point;
        // Correct the remaining estimate by how far off the finished points were.
        let ratio = if self.done_estimate.as_millis() > 0 {
            (self.done_actual.as_secs_f64() / self.done_estimate.as_secs_f64()).clamp(0.3, 5.0)
        } else {
            1.0
        };
        let left = total.saturating_sub(pos).as_secs_f64() * ratio;
        let msg = format!(
            "{} · {} · point {}/{} · about {} left",
            self.label,
            self.phase,
            self.index + 1,
            self.estimates.len(),
            human(left)
        );
        (pos.as_millis() as u64, msg)
    }
}

fn human(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl Progress {
    pub(super) fn new(estimates: &[Duration]) -> Self {
        let total: Duration = estimates.iter().sum();
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(total.as_millis() as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] [{bar:28}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let state = Arc::new(Mutex::new(ProgressState {
            estimates: estimates.to_vec(),
            index: 0,
            label: String::new(),
            phase: "starting",
            point_started: Instant::now(),
            done_estimate: Duration::ZERO,
            done_actual: Duration::ZERO,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = if bar.is_hidden() {
            None
        } else {
            let (bar, state, stop) = (bar.clone(), Arc::clone(&state), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("bench-progress".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let (pos, msg) = state.lock().unwrap_or_else(|e| e.into_inner()).render();
                        bar.set_position(pos);
                        bar.set_message(msg);
                        bar.tick();
                        std::thread::sleep(Duration::from_millis(250));
                    }
                })
                .ok()
        };
        Progress {
            bar,
            state,
            stop,
            ticker,
            started: Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProgressState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn start_point(&self, index: usize, label: &str) {
        let mut s = self.lock();
        s.index = index;
        s.label = label.to_string();
        s.phase = "starting";
        s.point_started = Instant::now();
    }

    pub(super) fn phase(&self, phase: &'static str) {
        self.lock().phase = phase;
    }

    pub(super) fn end_point(&self) {
        let mut s = self.lock();
        let est = s.estimates.get(s.index).copied().unwrap_or_default();
        s.done_estimate += est;
        let took = s.point_started.elapsed();
        s.done_actual += took;
    }

    pub(super) fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Removes the bar; returns the total time.
    pub(super) fn finish(mut self) -> Duration {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_text_counts_down() {
        let s = ProgressState {
            estimates: vec![Duration::from_secs(10), Duration::from_secs(50)],
            index: 1,
            label: "http epoll · 10 clients".into(),
            phase: "load",
            point_started: Instant::now(),
            done_estimate: Duration::from_secs(10),
            done_actual: Duration::from_secs(20),
        };
        let (pos, msg) = s.render();
        assert!((10_000..11_000).contains(&pos));
        assert!(msg.contains("point 2/2"), "{msg}");
        assert!(msg.contains("about 1m 40s left"), "{msg}");
    }
}
