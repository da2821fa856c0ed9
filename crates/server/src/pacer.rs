//! Pacing one business number's sends below Meta's "messages per second" (SPEC 12, `130429`).
//!
//! Two rules, both needed:
//! - **A schedule.** Send k gets the slot `start + k/rate` and waits until it. A timer that fires late
//!   does not push the later slots back (a rate limiter that restarts from "now" loses the time of
//!   every late timer, and tokio's timers are only millisecond-exact), and an idle pacer keeps only a
//!   few slots of credit, so sends stay spread out instead of bursting.
//! - **A window guard.** Meta counts a send at some moment between the request leaving and its answer
//!   arriving. So a send counts here from the moment it is let through until one second after it was
//!   answered, and a send may leave only while fewer than `rate` sends count. Then no one-second window
//!   at Meta can hold more than `rate` of them, whatever the network delays, the order of the answers
//!   or the lateness of timers (the schedule alone would not promise that).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a send keeps counting after its answer: Meta's one second, plus a millisecond for the
/// difference between our clock and Meta's and for Meta counting in whole milliseconds.
const COUNTS_FOR: Duration = Duration::from_millis(1001);
/// How far behind its schedule the pacer may be and still catch up (late timers); beyond that it was
/// idle and starts afresh.
const CATCH_UP: Duration = Duration::from_millis(20);

pub struct Pacer {
    per_second: usize,
    interval: Duration,
    state: Mutex<State>,
    answered: Notify,
}

struct State {
    /// The next free slot on the schedule.
    next_slot: Option<Instant>,
    /// Sends let through and not answered yet.
    in_flight: usize,
    /// When recent sends were answered, oldest first (recorded under the lock, so sorted).
    answers: VecDeque<Instant>,
}

/// One send's place in the limit. Dropping it records the answer: call it right after the request
/// returned (or instead of sending).
pub struct Slot {
    pacer: Arc<Pacer>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.pacer.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        state.answers.push_back(Instant::now());
        drop(state);
        self.pacer.answered.notify_waiters();
    }
}

impl Pacer {
    pub fn new(per_second: u32) -> Arc<Self> {
        let per_second = per_second.max(1);
        Arc::new(Pacer {
            per_second: per_second as usize,
            interval: Duration::from_secs(1) / per_second,
            state: Mutex::new(State { next_slot: None, in_flight: 0, answers: VecDeque::new() }),
            answered: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements; a panic elsewhere must not stop sending.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for this send's slot on the schedule, then until the window guard lets it through.
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        let slot = {
            let mut state = self.lock();
            let now = Instant::now();
            let slot = state.next_slot.map_or(now, |next| next.max(now.checked_sub(CATCH_UP).unwrap_or(now)));
            state.next_slot = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
        loop {
            // Registered before the check, so an answer between the check and the wait is not missed.
            let answered = self.answered.notified();
            let wait = {
                let mut state = self.lock();
                let now = Instant::now();
                while state.answers.front().is_some_and(|at| *at + COUNTS_FOR <= now) {
                    state.answers.pop_front();
                }
                if state.in_flight + state.answers.len() < self.per_second {
                    state.in_flight += 1;
                    return Slot { pacer: self.clone() };
                }
                state.answers.front().map(|at| *at + COUNTS_FOR)
            };
            match wait {
                Some(until) => tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    () = answered => {}
                },
                // Every counted send is still in flight: the first answer frees nothing yet, but
                // starts the clock of the soonest expiry.
                None => answered.await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real time, so only lower bounds are asserted: the pacer may be late, never early.

    #[tokio::test]
    async fn sends_follow_the_schedule() {
        let pacer = Pacer::new(100);
        let t0 = Instant::now();
        for k in 0..5u32 {
            drop(pacer.acquire().await);
            assert!(Instant::now() - t0 >= Duration::from_millis(10) * k);
        }
    }

    #[tokio::test]
    async fn no_more_than_the_rate_count_within_a_second_of_their_answers() {
        let pacer = Pacer::new(10);
        // Ten sends that are not answered yet hold the limit: the eleventh waits for their answers,
        // and then a second more.
        let mut held = Vec::new();
        for _ in 0..10 {
            held.push(pacer.acquire().await);
        }
        let p = pacer.clone();
        let eleventh = tokio::spawn(async move {
            let _slot = p.acquire().await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!eleventh.is_finished());
        let answered = Instant::now();
        drop(held);
        let at = eleventh.await.unwrap();
        assert!(at - answered >= COUNTS_FOR);
    }
}
