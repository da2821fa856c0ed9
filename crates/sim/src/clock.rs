//! The sim's notion of "now": the system clock plus an offset tests can advance, optionally frozen.
//!
//! Everything that decides by time (the 24 h rule, rate limits, timestamps in webhooks) reads it, so a
//! test moves past 24 h without sleeping. It is also a [`windowdesk_core::Clock`], so a demo can hand the
//! same clock to the desk and have both move together.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use windowdesk_core::Timestamp;

#[derive(Debug, Default)]
pub struct SimClock {
    state: Mutex<ClockState>,
}

#[derive(Debug, Default, Clone, Copy)]
struct ClockState {
    offset_ms: i64,
    /// The system time at which the clock was frozen; `None` while it runs.
    frozen_at: Option<i64>,
}

fn system_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl SimClock {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // The state is two integers; a panic elsewhere cannot leave them half-written.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        let s = *self.state();
        s.frozen_at.unwrap_or_else(system_ms).saturating_add(s.offset_ms)
    }

    /// Unix seconds, as Meta's timestamps carry them.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut s = self.state();
        s.offset_ms = s.offset_ms.saturating_add(duration_ms(by));
    }

    /// Stops the clock where it is; only [`SimClock::advance`] moves it then. Makes rate-limit tests
    /// independent of how fast the machine is.
    pub fn freeze(&self) {
        let mut s = self.state();
        if s.frozen_at.is_none() {
            s.frozen_at = Some(system_ms());
        }
    }

    /// Lets the clock run again from where it stood.
    pub fn unfreeze(&self) {
        let mut s = self.state();
        if let Some(at) = s.frozen_at.take() {
            s.offset_ms = s.offset_ms.saturating_sub(system_ms().saturating_sub(at));
        }
    }

    pub fn is_frozen(&self) -> bool {
        self.state().frozen_at.is_some()
    }

    /// Back to the system time, running.
    pub fn reset(&self) {
        *self.state() = ClockState::default();
    }

    /// How far ahead of the system clock the sim is (while running).
    pub fn offset_ms(&self) -> i64 {
        self.state().offset_ms
    }
}

impl windowdesk_core::Clock for SimClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_and_freezing() {
        let c = SimClock::new();
        c.freeze();
        let t0 = c.now_ms();
        assert_eq!(c.now_ms(), t0);
        c.advance(Duration::from_secs(24 * 3600));
        assert_eq!(c.now_ms(), t0 + 24 * 3600 * 1000);
        c.unfreeze();
        assert!(c.now_ms() >= t0 + 24 * 3600 * 1000);
        c.reset();
        assert!(c.now_ms() < t0 + 3600 * 1000);
    }
}
