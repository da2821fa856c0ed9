//! Meta's send limits: throughput per business number (`130429`) and the pair rate per
//! (business number, customer) (`131056`). Both run on the sim clock, so a frozen clock makes them exact.

use std::collections::{HashMap, VecDeque};

use crate::config::PairRate;
use crate::error::GraphError;

#[derive(Default)]
pub(crate) struct Limits {
    /// Acceptance times (ms) of recent sends per number, sorted by time. Concurrent requests read the
    /// clock before they take the lock, so they may arrive here slightly out of time order.
    recent: HashMap<String, VecDeque<i64>>,
    /// Token buckets per (number, customer).
    pairs: HashMap<(String, String), Bucket>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// Meta's "messages per second": no window of 1,000 consecutive milliseconds holds more than the limit.
const WINDOW_MS: i64 = 1000;

/// Whether one more send at `now_ms` would put more than `limit` sends into some one-second window
/// (`recent` sorted). Every window that contains `now_ms` is checked, not only the one ending there:
/// a send recorded earlier may carry a later time.
fn over_limit(recent: &VecDeque<i64>, now_ms: i64, limit: usize) -> bool {
    let count = |from: i64| recent.partition_point(|&t| t < from + WINDOW_MS) - recent.partition_point(|&t| t < from);
    // The fullest window holding `now_ms` can be slid right until it starts at one of its sends or
    // at `now_ms`: those are the only starts to try.
    let first = now_ms - (WINDOW_MS - 1);
    let starts = recent.range(recent.partition_point(|&t| t < first)..recent.partition_point(|&t| t <= now_ms));
    starts.copied().chain(std::iter::once(now_ms)).any(|from| count(from) >= limit)
}

impl Limits {
    /// Admits one send or says which limit it hit. Nothing is counted for a refused send.
    pub fn admit(
        &mut self,
        phone_number_id: &str,
        wa_id: &str,
        now_ms: i64,
        throughput_per_second: u32,
        pair: PairRate,
    ) -> Result<(), GraphError> {
        let recent = self.recent.entry(phone_number_id.to_owned()).or_default();
        // Kept a second longer than a window: a late-arriving send may still fall into it.
        while recent.front().is_some_and(|&t| t <= now_ms - 2 * WINDOW_MS) {
            recent.pop_front();
        }
        if throughput_per_second > 0 && over_limit(recent, now_ms, throughput_per_second as usize) {
            return Err(GraphError::whatsapp(400, 130_429));
        }
        if pair.interval_ms > 0 {
            let burst = f64::from(pair.burst.max(1));
            let bucket =
                self.pairs.entry((phone_number_id.to_owned(), wa_id.to_owned())).or_insert(Bucket { tokens: burst, at_ms: now_ms });
            let elapsed = (now_ms - bucket.at_ms).max(0) as f64;
            bucket.tokens = (bucket.tokens + elapsed / pair.interval_ms as f64).min(burst);
            bucket.at_ms = bucket.at_ms.max(now_ms);
            if bucket.tokens < 1.0 {
                return Err(GraphError::whatsapp(400, 131_056));
            }
            bucket.tokens -= 1.0;
        }
        let at = recent.partition_point(|&t| t <= now_ms);
        recent.insert(at, now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIR: PairRate = PairRate { interval_ms: 6_000, burst: 10 };

    #[test]
    fn throughput_per_second() {
        let mut l = Limits::default();
        for i in 0..5 {
            l.admit("1", &format!("4900{i}"), 1_000, 5, PAIR).unwrap();
        }
        assert_eq!(l.admit("1", "49009", 1_999, 5, PAIR).unwrap_err().code, 130_429);
        // Another number has its own budget; a second later the first one has too.
        l.admit("2", "49009", 1_999, 5, PAIR).unwrap();
        l.admit("1", "49009", 2_000, 5, PAIR).unwrap();
    }

    #[test]
    fn throughput_counts_by_time_not_by_arrival() {
        let mut l = Limits::default();
        // A send stamped 1,500 arrives first; four stamped earlier arrive after it.
        l.admit("1", "49001", 1_500, 5, PAIR).unwrap();
        for t in [600, 700, 800, 900] {
            l.admit("1", "49001", t, 5, PAIR).unwrap();
        }
        // [600, 1,599] already holds five: a send at 1,000 or 1,599 would make six.
        assert_eq!(l.admit("1", "49002", 1_000, 5, PAIR).unwrap_err().code, 130_429);
        assert_eq!(l.admit("1", "49002", 1_599, 5, PAIR).unwrap_err().code, 130_429);
        // At 1,600 the send at 600 has left every window that holds 1,600.
        l.admit("1", "49002", 1_600, 5, PAIR).unwrap();
        // The old sends are counted by their time, not left behind a later one: at 2,400, only
        // 1,500 and 1,600 are within a second.
        for _ in 0..3 {
            l.admit("1", "49003", 2_400, 5, PAIR).unwrap();
        }
        assert_eq!(l.admit("1", "49003", 2_400, 5, PAIR).unwrap_err().code, 130_429);
    }

    #[test]
    fn pair_rate_burst_then_one_per_interval() {
        let mut l = Limits::default();
        for _ in 0..10 {
            l.admit("1", "49", 0, 80, PAIR).unwrap();
        }
        assert_eq!(l.admit("1", "49", 0, 80, PAIR).unwrap_err().code, 131_056);
        l.admit("1", "50", 0, 80, PAIR).unwrap();
        assert_eq!(l.admit("1", "49", 5_999, 80, PAIR).unwrap_err().code, 131_056);
        l.admit("1", "49", 6_000, 80, PAIR).unwrap();
        assert!(l.admit("1", "49", 6_000, 80, PAIR).is_err());
    }

    #[test]
    fn zero_turns_limits_off() {
        let mut l = Limits::default();
        for _ in 0..1000 {
            l.admit("1", "49", 0, 0, PairRate { interval_ms: 0, burst: 0 }).unwrap();
        }
    }
}
