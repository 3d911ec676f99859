//! The time of the current event-loop turn.
//!
//! An event loop serves many requests per wake-up, and each of them asks for
//! the time (a request's start, a connection's last activity, the cache's age
//! check, the `Date` header). [`tick`] reads the clocks once when the loop
//! wakes; [`now`] and [`system_now`] then answer from that reading on the
//! loop's thread. A thread that never ticks (every blocking model, the pool's
//! workers) reads the clocks directly, so its times are always exact; a
//! loop's are at most one turn old, and a turn never sleeps after its tick.

use std::cell::Cell;
use std::time::{Instant, SystemTime};

thread_local! {
    static TURN: Cell<Option<(Instant, SystemTime)>> = const { Cell::new(None) };
}

/// Reads the clocks for this turn of the calling thread's event loop.
/// Call it right after the loop's wait returns (with or without events).
pub fn tick() {
    TURN.with(|t| t.set(Some((Instant::now(), SystemTime::now()))));
}

/// Monotonic time: this loop turn's, or the clock's on a thread without a loop.
pub fn now() -> Instant {
    TURN.with(|t| t.get())
        .map(|(i, _)| i)
        .unwrap_or_else(Instant::now)
}

/// Wall-clock time: this loop turn's, or the clock's on a thread without a loop.
pub fn system_now() -> SystemTime {
    TURN.with(|t| t.get())
        .map(|(_, s)| s)
        .unwrap_or_else(SystemTime::now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_loop_thread_sees_its_turn_and_other_threads_the_clock() {
        std::thread::spawn(|| {
            let before = now();
            std::thread::sleep(Duration::from_millis(5));
            assert!(now() > before, "without a loop the clock is read each time");
            tick();
            let turn = now();
            std::thread::sleep(Duration::from_millis(5));
            assert_eq!(now(), turn, "one turn, one reading");
            tick();
            assert!(now() > turn, "the next turn reads the clock again");
        })
        .join()
        .unwrap();
    }
}
