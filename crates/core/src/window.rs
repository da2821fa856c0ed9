//! The customer service window (CSW) and the free entry point (FEP): SPEC section 2, rules W1–W7.
//!
//! Everything about "is the window open" is answered here and nowhere else. The store persists a
//! [`CustomerWindow`] per (business number, contact); the send decision, the API and the pages ask it.

use std::time::Duration;

use serde::Serialize;

use crate::time::Timestamp;

const HOUR: Duration = Duration::from_secs(3600);

/// How long the windows of a channel last (W7). The window length is a property of the channel's
/// policy, never a constant in code, so SMS, email or future channels plug in without special cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowPolicy {
    /// Length of the customer service window; `None` means free-form messages are always allowed.
    pub csw: Option<Duration>,
    /// Length of the free entry point window once it starts; `None` when the channel has no FEP.
    pub fep: Option<Duration>,
    /// W9: free-form sends are not started this close to the window's end, so network delay and clock
    /// skew never carry one past it (Meta would refuse it with `131047`).
    pub send_guard: Duration,
}

impl WindowPolicy {
    /// WhatsApp: 24 h customer service window, 72 h free entry point.
    /// No send guard: the desk applies its configured one with [`WindowPolicy::with_send_guard`].
    pub const WHATSAPP: WindowPolicy =
        WindowPolicy { csw: Some(Duration::from_secs(24 * 3600)), fep: Some(Duration::from_secs(72 * 3600)), send_guard: Duration::ZERO };
    /// A channel without any window (e.g. email).
    pub const UNLIMITED: WindowPolicy = WindowPolicy { csw: None, fep: None, send_guard: Duration::ZERO };

    /// A policy with a window of `hours` and no FEP.
    pub fn hours(hours: u64) -> Self {
        WindowPolicy { csw: Some(HOUR * u32::try_from(hours).unwrap_or(u32::MAX)), fep: None, send_guard: Duration::ZERO }
    }

    /// The same policy with a W9 guard before each window's end.
    pub const fn with_send_guard(self, send_guard: Duration) -> Self {
        WindowPolicy { send_guard, ..self }
    }

    /// W9: the last moment (exclusive) a free-form send may be started in a window that ends at
    /// `window_end`. The send decision, the dispatcher and the countdown all use this moment.
    pub fn send_deadline(self, window_end: Timestamp) -> Timestamp {
        window_end.minus(self.send_guard)
    }

    /// The windows that are open at `now` and close within `within`, as bounds on the last inbound
    /// message: `(after, at_or_before)`, so a list can select `after < last_inbound_at <= at_or_before`
    /// (W4: a window ending exactly at `now` is already closed; W9: "closes" means its send deadline).
    /// `None` when the policy has no window.
    pub fn closing_within(self, now: Timestamp, within: Duration) -> Option<(Timestamp, Timestamp)> {
        let csw = self.csw?;
        Some((now.plus(self.send_guard).minus(csw), now.plus(within).plus(self.send_guard).minus(csw)))
    }
}

/// Where an inbound message's `sent_at` came from (W1, W5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum SentAtSource {
    /// The sender's timestamp, as WhatsApp gave it.
    Sender,
    /// The sender's timestamp was later than the moment we received it; clamped to receive time.
    ClampedFuture { claimed: Timestamp },
    /// No timestamp in the payload; receive time used.
    Missing,
    /// A timestamp that is not unix seconds; receive time used.
    Unparsable { raw: String },
}

/// The moment the contact sent a message, with its provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SentAt {
    pub at: Timestamp,
    pub source: SentAtSource,
}

impl SentAt {
    /// True when the sender's timestamp could not be used as is; the ticket records an event then (W5).
    pub fn is_anomalous(&self) -> bool {
        self.source != SentAtSource::Sender
    }
}

/// W1 + W5: the window is computed from the sender's timestamp (`messages[].timestamp`, unix seconds as
/// a string), never from the receive or insert time; a future timestamp is clamped to the receive time,
/// and a missing or unparsable one falls back to it.
pub fn inbound_sent_at(sender_timestamp: Option<&str>, received_at: Timestamp) -> SentAt {
    let Some(raw) = sender_timestamp else {
        return SentAt { at: received_at, source: SentAtSource::Missing };
    };
    match raw.trim().parse::<i64>() {
        Ok(secs) if secs > 0 => {
            let claimed = Timestamp::from_unix_seconds(secs);
            if claimed > received_at {
                SentAt { at: received_at, source: SentAtSource::ClampedFuture { claimed } }
            } else {
                SentAt { at: claimed, source: SentAtSource::Sender }
            }
        }
        _ => SentAt { at: received_at, source: SentAtSource::Unparsable { raw: raw.to_owned() } },
    }
}

/// The window state of one (business number, contact) pair, as persisted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CustomerWindow {
    /// The latest `sent_at` of any window-refreshing inbound message (W2).
    pub last_inbound_at: Option<Timestamp>,
    /// The latest `sent_at` of an inbound message that carried an ad/CTA `referral` (W6).
    pub referral_at: Option<Timestamp>,
    /// When the free entry point window started: the business's first send after a referral (W6).
    pub fep_started_at: Option<Timestamp>,
}

/// What [`CustomerWindow::record_inbound`] changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboundEffect {
    /// The window end moved forward (or the window opened for the first time).
    pub window_extended: bool,
    /// A referral started a possible free entry point.
    pub referral_recorded: bool,
}

impl CustomerWindow {
    /// W2: an inbound message sent at `sent_at` refreshes the window to `max(sent_at) + length`. A late,
    /// older message never moves it backwards. `refreshes` is false for inbound events that are not the
    /// customer writing (system notices, revokes).
    pub fn record_inbound(&mut self, sent_at: Timestamp, refreshes: bool, has_referral: bool) -> InboundEffect {
        let mut effect = InboundEffect { window_extended: false, referral_recorded: false };
        if refreshes && self.last_inbound_at.is_none_or(|prev| sent_at > prev) {
            self.last_inbound_at = Some(sent_at);
            effect.window_extended = true;
        }
        if has_referral && self.referral_at.is_none_or(|prev| sent_at > prev) {
            self.referral_at = Some(sent_at);
            effect.referral_recorded = true;
        }
        effect
    }

    /// The moment the CSW closes, or `None` when it never opened. With a policy without a window the
    /// answer is also `None`; ask [`CustomerWindow::is_open`] for the decision.
    pub fn window_end(&self, policy: WindowPolicy) -> Option<Timestamp> {
        Some(self.last_inbound_at?.plus(policy.csw?))
    }

    /// W9: the last moment (exclusive) a free-form send may start: `window_end` minus the policy's guard.
    pub fn send_deadline(&self, policy: WindowPolicy) -> Option<Timestamp> {
        self.window_end(policy).map(|end| policy.send_deadline(end))
    }

    /// W4 + W9: free-form may be sent iff `now < window_end - guard`, strictly. At exactly
    /// `window_end` (with no guard) the window is closed.
    pub fn is_open(&self, policy: WindowPolicy, now: Timestamp) -> bool {
        if policy.csw.is_none() {
            return true;
        }
        self.send_deadline(policy).is_some_and(|deadline| now < deadline)
    }

    /// The end of the free entry point window, if one started.
    pub fn fep_until(&self, policy: WindowPolicy) -> Option<Timestamp> {
        Some(self.fep_started_at?.plus(policy.fep?))
    }

    /// Whether messages sent at `now` fall inside an active FEP (all of them are free then).
    pub fn in_fep(&self, policy: WindowPolicy, now: Timestamp) -> bool {
        self.fep_until(policy).is_some_and(|end| now < end)
    }

    /// W3 + W6: the business sent something at `now`. A business send never opens or extends the CSW.
    /// It starts the FEP when a referral is pending, the CSW is open, and the send comes within the
    /// window length of the referral message. Returns the FEP start when one started.
    pub fn record_business_send(&mut self, policy: WindowPolicy, now: Timestamp) -> Option<Timestamp> {
        let (Some(referral_at), Some(csw), Some(_)) = (self.referral_at, policy.csw, policy.fep) else {
            return None;
        };
        if self.in_fep(policy, now) || self.fep_started_at.is_some_and(|s| s >= referral_at) {
            return None; // this referral already started its FEP
        }
        if self.is_open(policy, now) && now < referral_at.plus(csw) {
            self.fep_started_at = Some(now);
            return Some(now);
        }
        None
    }

    /// The whole state as the API and the pages show it.
    pub fn state(&self, policy: WindowPolicy, now: Timestamp) -> WindowState {
        let expires_at = self.window_end(policy);
        let send_until = self.send_deadline(policy);
        let open = self.is_open(policy, now);
        let seconds_left = match send_until {
            Some(deadline) if open => now.millis_until(deadline).div_euclid(1000),
            _ => 0,
        };
        let fep_until = self.fep_until(policy).filter(|end| now < *end);
        WindowState { open, expires_at, send_until, seconds_left, fep_until, unlimited: policy.csw.is_none() }
    }
}

/// A snapshot for display and for the send decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WindowState {
    pub open: bool,
    /// When the CSW closes (or closed) at Meta. `None`: the contact never wrote, or the channel has no window.
    pub expires_at: Option<Timestamp>,
    /// W9: when the desk stops starting free-form sends (`expires_at` minus the send guard). The
    /// countdown, `open` and `seconds_left` count to this moment.
    pub send_until: Option<Timestamp>,
    pub seconds_left: i64,
    /// End of an active free entry point window.
    pub fep_until: Option<Timestamp>,
    pub unlimited: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: WindowPolicy = WindowPolicy::WHATSAPP;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    #[test]
    fn closing_within_selects_exactly_the_open_windows_that_end_inside_the_span() {
        let now = t(100_000);
        let within = Duration::from_secs(4 * 3600);
        let (after, at_or_before) = P.closing_within(now, within).unwrap();
        let in_list = |last: Timestamp| after < last && last <= at_or_before;
        for last in [t(100_000 - 86_400), t(100_000 - 86_400 + 1), t(100_000 - 86_400 + 4 * 3600), t(100_000 - 86_400 + 4 * 3600 + 1)] {
            let w = CustomerWindow { last_inbound_at: Some(last), ..Default::default() };
            let end = w.window_end(P).unwrap();
            let expected = w.is_open(P, now) && end <= now.plus(within);
            assert_eq!(in_list(last), expected, "last inbound {last:?}");
        }
        assert_eq!(WindowPolicy::UNLIMITED.closing_within(now, within), None);
    }

    #[test]
    fn w9_free_form_is_not_started_inside_the_guard_before_window_end() {
        let guarded = P.with_send_guard(Duration::from_secs(5));
        let w = CustomerWindow { last_inbound_at: Some(t(1000)), ..Default::default() };
        let end = t(1000 + 86_400);
        assert_eq!(w.window_end(guarded), Some(end), "Meta's window end does not move");
        assert_eq!(w.send_deadline(guarded), Some(t(1000 + 86_400 - 5)));
        assert!(w.is_open(guarded, t(1000 + 86_400 - 5).minus(Duration::from_millis(1))));
        assert!(!w.is_open(guarded, t(1000 + 86_400 - 5)), "closed at the guarded moment");
        assert!(w.is_open(P, end.minus(Duration::from_millis(1))), "without a guard, W4 alone");
        // The countdown counts to the same moment the decision uses.
        let state = w.state(guarded, t(1000 + 86_400 - 65));
        assert_eq!((state.open, state.seconds_left, state.send_until, state.expires_at), (true, 60, Some(t(1000 + 86_400 - 5)), Some(end)));
        assert!(!w.state(guarded, t(1000 + 86_400 - 5)).open);
    }

    #[test]
    fn w9_closing_within_counts_to_the_guarded_moment() {
        let guarded = P.with_send_guard(Duration::from_secs(5));
        let now = t(200_000);
        let (after, at_or_before) = guarded.closing_within(now, Duration::from_secs(600)).unwrap();
        for last in [
            now.minus(Duration::from_secs(86_400 - 5)),
            now.minus(Duration::from_secs(86_400 - 6)),
            now.minus(Duration::from_secs(86_400 - 605)),
        ] {
            let w = CustomerWindow { last_inbound_at: Some(last), ..Default::default() };
            let listed = after < last && last <= at_or_before;
            let expected = w.is_open(guarded, now) && w.send_deadline(guarded).unwrap() <= now.plus(Duration::from_secs(600));
            assert_eq!(listed, expected, "{last:?}");
        }
    }

    #[test]
    fn w1_window_opens_at_sender_timestamp_not_receive_time() {
        // Sent at 1000, received (queue behind) an hour later.
        let received = t(1000 + 3600);
        let sent = inbound_sent_at(Some("1000"), received);
        assert_eq!(sent.at, t(1000));
        assert_eq!(sent.source, SentAtSource::Sender);
        let mut w = CustomerWindow::default();
        w.record_inbound(sent.at, true, false);
        assert_eq!(w.window_end(P), Some(t(1000 + 24 * 3600)));
    }

    #[test]
    fn w2_late_older_message_never_moves_window_backwards() {
        let mut w = CustomerWindow::default();
        assert!(w.record_inbound(t(5000), true, false).window_extended);
        let effect = w.record_inbound(t(4000), true, false);
        assert!(!effect.window_extended);
        assert_eq!(w.window_end(P), Some(t(5000 + 86_400)));
        assert!(w.record_inbound(t(6000), true, false).window_extended);
        assert_eq!(w.window_end(P), Some(t(6000 + 86_400)));
    }

    #[test]
    fn w2_non_refreshing_inbound_does_not_open_window() {
        let mut w = CustomerWindow::default();
        w.record_inbound(t(5000), false, false);
        assert_eq!(w.window_end(P), None);
        assert!(!w.is_open(P, t(5001)));
    }

    #[test]
    fn w3_business_sends_never_open_or_extend_window() {
        let mut w = CustomerWindow::default();
        assert_eq!(w.record_business_send(P, t(100)), None);
        assert_eq!(w.window_end(P), None);
        w.record_inbound(t(1000), true, false);
        w.record_business_send(P, t(2000));
        assert_eq!(w.window_end(P), Some(t(1000 + 86_400)));
    }

    #[test]
    fn w4_window_is_closed_at_exactly_24h() {
        let mut w = CustomerWindow::default();
        w.record_inbound(t(1000), true, false);
        let end = t(1000 + 86_400);
        assert!(w.is_open(P, end.minus(Duration::from_millis(1))));
        assert!(!w.is_open(P, end));
        assert!(!w.is_open(P, end.plus(Duration::from_millis(1))));
        let s = w.state(P, end);
        assert!(!s.open);
        assert_eq!(s.seconds_left, 0);
    }

    #[test]
    fn w5_future_timestamp_is_clamped_to_receive_time() {
        let sent = inbound_sent_at(Some("2000"), t(1500));
        assert_eq!(sent.at, t(1500));
        assert_eq!(sent.source, SentAtSource::ClampedFuture { claimed: t(2000) });
        assert!(sent.is_anomalous());
    }

    #[test]
    fn w5_missing_or_unparsable_timestamp_falls_back_to_receive_time() {
        let missing = inbound_sent_at(None, t(1500));
        assert_eq!(missing.at, t(1500));
        assert_eq!(missing.source, SentAtSource::Missing);
        let garbage = inbound_sent_at(Some("yesterday"), t(1500));
        assert_eq!(garbage.at, t(1500));
        assert_eq!(garbage.source, SentAtSource::Unparsable { raw: "yesterday".into() });
        assert!(inbound_sent_at(Some("-5"), t(1500)).is_anomalous());
    }

    #[test]
    fn w6_fep_starts_when_business_answers_within_csw_and_lasts_72h() {
        let mut w = CustomerWindow::default();
        w.record_inbound(t(1000), true, true);
        assert_eq!(w.fep_until(P), None, "a referral alone is only a possible FEP");
        let start = t(1000 + 3600);
        assert_eq!(w.record_business_send(P, start), Some(start));
        assert_eq!(w.fep_until(P), Some(start.plus(Duration::from_secs(72 * 3600))));
        assert!(w.in_fep(P, t(1000 + 50 * 3600)));
        // Free-form still needs the CSW: at 50 h the CSW is closed although FEP is active.
        assert!(!w.is_open(P, t(1000 + 50 * 3600)));
        let s = w.state(P, t(1000 + 50 * 3600));
        assert!(!s.open && s.fep_until.is_some());
        // A second business send does not restart the FEP.
        assert_eq!(w.record_business_send(P, t(1000 + 7200)), None);
    }

    #[test]
    fn w6_fep_does_not_start_when_business_answers_late() {
        let mut w = CustomerWindow::default();
        w.record_inbound(t(1000), true, true);
        assert_eq!(w.record_business_send(P, t(1000 + 86_400)), None);
        assert_eq!(w.fep_until(P), None);
    }

    #[test]
    fn w7_window_length_comes_from_the_channel_policy() {
        let mut w = CustomerWindow::default();
        w.record_inbound(t(0), true, false);
        let two_days = WindowPolicy::hours(48);
        assert!(w.is_open(two_days, t(47 * 3600)));
        assert!(!w.is_open(P, t(47 * 3600)));
        assert!(WindowPolicy::UNLIMITED.csw.is_none());
        assert!(CustomerWindow::default().is_open(WindowPolicy::UNLIMITED, t(1)));
        assert!(w.state(WindowPolicy::UNLIMITED, t(1_000_000)).unlimited);
    }

    proptest! {
        #[test]
        fn window_end_never_moves_backwards_whatever_the_arrival_order(
            sent in proptest::collection::vec(0i64..10_000_000, 1..50),
        ) {
            let mut w = CustomerWindow::default();
            let mut previous_end = None;
            for s in &sent {
                w.record_inbound(t(*s), true, false);
                let end = w.window_end(P);
                prop_assert!(end >= previous_end);
                previous_end = end;
            }
            let max = sent.iter().copied().max().unwrap_or_default();
            prop_assert_eq!(w.window_end(P), Some(t(max + 86_400)));
        }

        #[test]
        fn window_end_is_independent_of_arrival_order(
            mut sent in proptest::collection::vec(0i64..10_000_000, 1..30),
        ) {
            let mut a = CustomerWindow::default();
            for s in &sent { a.record_inbound(t(*s), true, false); }
            sent.reverse();
            let mut b = CustomerWindow::default();
            for s in &sent { b.record_inbound(t(*s), true, false); }
            prop_assert_eq!(a.window_end(P), b.window_end(P));
        }
    }
}
