//! Reconnection delays: doubling from 100 ms to at most 2 s, so a server
//! finds Redis again within about 2 s of its return without hammering it
//! while it is away.

use std::time::Duration;

/// The first delay.
pub const FIRST: Duration = Duration::from_millis(100);

/// The longest delay.
pub const MOST: Duration = Duration::from_secs(2);

/// Doubling delays between reconnection attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST }
    }
}

impl Backoff {
    /// The delay before the next attempt (and doubles the one after).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(MOST);
        d
    }

    /// After a success: the next failure starts again from [`FIRST`].
    pub fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::default();
        let ms: Vec<u128> = (0..7).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 2000, 2000]);
        b.reset();
        assert_eq!(b.next_delay(), FIRST);
    }
}
