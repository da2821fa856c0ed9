//! The delivery state machine of outbound messages: SPEC section 3 (D1).
//!
//! ```text
//! draft → queued → sending → accepted(wamid) → sent → delivered → read → played(voice)
//!                    └──────────────┴────────→ failed{code,title,details}
//! queued ⇢ blocked{window_closed}
//! queued ⇢ held{until customer writes; expires} → queued | failed{held_expired}
//! ```
//! Statuses reported by Meta are applied by precedence, never by arrival order.

use serde::{Deserialize, Serialize};

/// Where an outbound message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Draft,
    Queued,
    Sending,
    Accepted,
    Sent,
    Delivered,
    Read,
    Played,
    Failed,
    Blocked,
    Held,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 11] = [
        Self::Draft,
        Self::Queued,
        Self::Sending,
        Self::Accepted,
        Self::Sent,
        Self::Delivered,
        Self::Read,
        Self::Played,
        Self::Failed,
        Self::Blocked,
        Self::Held,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Accepted => "accepted",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
            Self::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Precedence of the states that Meta's statuses can lead to. Higher wins.
    ///
    /// `failed` sits above `sent` (a failure report overrides an earlier "sent") and below `delivered`:
    /// a delivery or read receipt is proof that the message arrived, whatever failure was reported.
    /// States that never reached Meta (`draft`, `blocked`, `held`) have no rank: Meta cannot report on them.
    fn meta_rank(self) -> Option<u8> {
        Some(match self {
            Self::Queued => 1,
            Self::Sending => 2,
            Self::Accepted => 3,
            Self::Sent => 4,
            Self::Failed => 5,
            Self::Delivered => 6,
            Self::Read => 7,
            Self::Played => 8,
            Self::Draft | Self::Blocked | Self::Held => return None,
        })
    }

    /// A state that needs an agent's attention (SPEC D4): kept visible until resent or dismissed.
    pub fn needs_attention(self) -> bool {
        matches!(self, Self::Failed | Self::Blocked)
    }
}

/// A message status reported by Meta in `statuses[].status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetaStatus {
    Sent,
    Delivered,
    Read,
    Played,
    Failed,
}

impl MetaStatus {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "played" => Self::Played,
            "failed" => Self::Failed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        self.state().as_str()
    }

    pub fn state(self) -> DeliveryState {
        match self {
            Self::Sent => DeliveryState::Sent,
            Self::Delivered => DeliveryState::Delivered,
            Self::Read => DeliveryState::Read,
            Self::Played => DeliveryState::Played,
            Self::Failed => DeliveryState::Failed,
        }
    }
}

/// The effect of a status report on a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusOutcome {
    /// The message moves to this state.
    Advance(DeliveryState),
    /// The report is older news than what we know (a late `delivered` after `read`); it is still
    /// recorded in the event log, but the state stays.
    Ignore,
}

/// D1: apply a status from Meta by precedence. `read` implies `delivered` even when `delivered` never
/// came; a late `delivered` never downgrades `read`.
pub fn apply_meta_status(current: DeliveryState, incoming: MetaStatus) -> StatusOutcome {
    let target = incoming.state();
    match (current.meta_rank(), target.meta_rank()) {
        (Some(cur), Some(new)) if new > cur => StatusOutcome::Advance(target),
        _ => StatusOutcome::Ignore,
    }
}

/// What happens to an outbound message on the desk's side of the wire (SPEC 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalEvent {
    /// An accepted reply is committed to the outbox (D5).
    Enqueue,
    /// The dispatcher claims it; the claim is recorded before the request leaves.
    Claim,
    /// Meta answered with a wamid.
    Accepted,
    /// A transient error (throughput, 5xx, timeout): back to the queue for a retry.
    RetryLater,
    /// The window closed before it could go (a retry would land after `window_end`).
    WindowClosed,
    /// A permanent error, or `131047` answered synchronously (D2: same end as a later `failed`).
    Failed,
    /// Held until the customer writes again.
    Hold,
    /// The customer wrote: a held reply goes back to the queue.
    Release,
    /// A held reply was not released in time.
    HoldExpired,
    /// An agent resends a failed or blocked message (D4); the original keeps its history.
    Resend,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a message in state {from:?} cannot take {event:?}")]
pub struct InvalidTransition {
    pub from: DeliveryState,
    pub event: LocalEvent,
}

impl DeliveryState {
    /// The desk's own moves of the state machine. Statuses from Meta go through [`apply_meta_status`].
    pub fn on(self, event: LocalEvent) -> Result<DeliveryState, InvalidTransition> {
        use DeliveryState as S;
        use LocalEvent as E;
        let next = match (self, event) {
            (S::Draft, E::Enqueue) => S::Queued,
            (S::Queued, E::Claim) => S::Sending,
            (S::Queued, E::WindowClosed) | (S::Sending, E::WindowClosed) => S::Blocked,
            (S::Queued, E::Hold) | (S::Blocked, E::Hold) | (S::Failed, E::Hold) => S::Held,
            (S::Sending, E::Accepted) => S::Accepted,
            (S::Sending, E::RetryLater) => S::Queued,
            (S::Sending, E::Failed) => S::Failed,
            (S::Held, E::Release) => S::Queued,
            (S::Held, E::HoldExpired) => S::Failed,
            (S::Failed, E::Resend) | (S::Blocked, E::Resend) => S::Queued,
            (from, event) => return Err(InvalidTransition { from, event }),
        };
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_happy_path_and_the_ways_out() {
        let s = DeliveryState::Draft.on(LocalEvent::Enqueue).and_then(|s| s.on(LocalEvent::Claim)).and_then(|s| s.on(LocalEvent::Accepted));
        assert_eq!(s, Ok(DeliveryState::Accepted));
        assert_eq!(DeliveryState::Sending.on(LocalEvent::RetryLater), Ok(DeliveryState::Queued));
        assert_eq!(DeliveryState::Queued.on(LocalEvent::WindowClosed), Ok(DeliveryState::Blocked));
        assert_eq!(DeliveryState::Blocked.on(LocalEvent::Hold), Ok(DeliveryState::Held));
        assert_eq!(DeliveryState::Held.on(LocalEvent::Release), Ok(DeliveryState::Queued));
        assert_eq!(DeliveryState::Held.on(LocalEvent::HoldExpired), Ok(DeliveryState::Failed));
        assert_eq!(DeliveryState::Failed.on(LocalEvent::Resend), Ok(DeliveryState::Queued));
    }

    #[test]
    fn d5_nothing_is_sent_twice_by_the_state_machine() {
        // Only a queued message can be claimed, and an accepted one never goes back to the queue.
        for s in DeliveryState::ALL {
            if s != DeliveryState::Queued {
                assert!(s.on(LocalEvent::Claim).is_err(), "{s:?}");
            }
        }
        for s in [DeliveryState::Accepted, DeliveryState::Sent, DeliveryState::Delivered, DeliveryState::Read, DeliveryState::Played] {
            for e in [LocalEvent::RetryLater, LocalEvent::Resend, LocalEvent::Release, LocalEvent::Enqueue] {
                assert!(s.on(e).is_err(), "{s:?} {e:?}");
            }
        }
    }

    #[test]
    fn d1_late_delivered_never_downgrades_read() {
        assert_eq!(apply_meta_status(DeliveryState::Sent, MetaStatus::Read), StatusOutcome::Advance(DeliveryState::Read));
        assert_eq!(apply_meta_status(DeliveryState::Read, MetaStatus::Delivered), StatusOutcome::Ignore);
        assert_eq!(apply_meta_status(DeliveryState::Read, MetaStatus::Sent), StatusOutcome::Ignore);
        assert_eq!(apply_meta_status(DeliveryState::Played, MetaStatus::Read), StatusOutcome::Ignore);
    }

    #[test]
    fn d1_read_implies_delivered_without_a_delivered_status() {
        assert_eq!(apply_meta_status(DeliveryState::Accepted, MetaStatus::Read), StatusOutcome::Advance(DeliveryState::Read));
    }

    #[test]
    fn d1_failure_overrides_sent_but_not_proof_of_delivery() {
        assert_eq!(apply_meta_status(DeliveryState::Sent, MetaStatus::Failed), StatusOutcome::Advance(DeliveryState::Failed));
        assert_eq!(apply_meta_status(DeliveryState::Delivered, MetaStatus::Failed), StatusOutcome::Ignore);
        assert_eq!(apply_meta_status(DeliveryState::Failed, MetaStatus::Sent), StatusOutcome::Ignore);
        assert_eq!(apply_meta_status(DeliveryState::Failed, MetaStatus::Delivered), StatusOutcome::Advance(DeliveryState::Delivered));
    }

    #[test]
    fn d1_statuses_do_not_touch_messages_that_never_went_out() {
        for s in [DeliveryState::Draft, DeliveryState::Blocked, DeliveryState::Held] {
            assert_eq!(apply_meta_status(s, MetaStatus::Delivered), StatusOutcome::Ignore);
        }
    }

    #[test]
    fn names_round_trip() {
        for s in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
        }
        assert_eq!(MetaStatus::parse("READ"), Some(MetaStatus::Read));
        assert_eq!(MetaStatus::parse("deleted"), None);
    }

    fn any_status() -> impl Strategy<Value = MetaStatus> {
        prop_oneof![
            Just(MetaStatus::Sent),
            Just(MetaStatus::Delivered),
            Just(MetaStatus::Read),
            Just(MetaStatus::Played),
            Just(MetaStatus::Failed),
        ]
    }

    proptest! {
        #[test]
        fn no_sequence_of_statuses_downgrades_a_message(seq in proptest::collection::vec(any_status(), 0..40)) {
            let mut state = DeliveryState::Accepted;
            for st in &seq {
                let before = state.meta_rank();
                if let StatusOutcome::Advance(next) = apply_meta_status(state, *st) {
                    state = next;
                }
                prop_assert!(state.meta_rank() >= before);
            }
            // The final state is the highest-precedence status seen, whatever the order.
            let best = seq.iter().map(|s| s.state()).max_by_key(|s| s.meta_rank()).filter(|s| s.meta_rank() > DeliveryState::Accepted.meta_rank());
            prop_assert_eq!(state, best.unwrap_or(DeliveryState::Accepted));
        }
    }
}
