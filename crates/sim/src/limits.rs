//! Meta's send limits: throughput per business number (`130429`) and the pair rate per
//! (business number, customer) (`131056`). Both run on the sim clock, so a frozen clock makes them exact.

use std::collections::{HashMap, VecDeque};

use crate::config::PairRate;
use crate::error::GraphError;

#[derive(Default)]
pub(crate) struct Limits {
    /// Acceptance times (ms) in the last second, per number.
    recent: HashMap<String, VecDeque<i64>>,
    /// Token buckets per (number, customer).
    pairs: HashMap<(String, String), Bucket>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
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
        while recent.front().is_some_and(|&t| t <= now_ms - 1000) {
            recent.pop_front();
        }
        if throughput_per_second > 0 && recent.len() >= throughput_per_second as usize {
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
        recent.push_back(now_ms);
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
