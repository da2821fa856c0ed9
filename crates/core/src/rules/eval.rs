//! Which rules fire: a snapshot of the ticket and its window at `now`, and the rules in their fixed
//! visible order.

use std::time::Duration;

use super::condition::MessageText;
use super::episode::{EpisodeKey, WindowEpisode};
use super::{Action, Event, Rule};
use crate::hours::{or_always_open, Schedule};
use crate::placeholder::Text;
use crate::routing::{Priority, TicketStatus};
use crate::time::Timestamp;
use crate::window::{CustomerWindow, WindowPolicy, WindowState};

/// Everything conditions look at, taken once per event (or per ticket in an automation sweep).
#[derive(Clone, Copy, Debug)]
pub struct RuleContext<'a> {
    /// What happened; [`Event::Automation`] in the periodic sweep.
    pub event: Event,
    pub ticket_id: i64,
    pub business_number_id: i64,
    pub status: TicketStatus,
    pub priority: Priority,
    pub tags: &'a [String],
    pub assignee_id: Option<i64>,
    pub created_at: Timestamp,
    /// When the ticket's status last changed (its creation when it never did).
    pub status_changed_at: Timestamp,
    /// When the ticket was solved, while it is solved.
    pub solved_at: Option<Timestamp>,
    /// When an agent (or API client) last sent the customer a message on the ticket.
    pub last_agent_reply_at: Option<Timestamp>,
    /// The customer message of a `message_received` or `ticket_created` event.
    pub message_text: Option<&'a MessageText>,
    /// The event's message is the ticket's first customer message.
    pub first_message: bool,
    /// The customer's window on the ticket's business number, and the channel's policy (with the W9
    /// guard the desk applies).
    pub window: CustomerWindow,
    pub policy: WindowPolicy,
    /// The window episode the store keeps beside the window ([`WindowEpisode::after_inbound`]).
    pub window_episode: Option<WindowEpisode>,
    /// The business number's hours; `None` is always open.
    pub schedule: Option<&'a Schedule>,
    pub now: Timestamp,
    /// The event is a change a rule made: no rule fires on it (no loops).
    pub caused_by_rule: bool,
}

impl RuleContext<'_> {
    /// The window as the API and the send decision show it at `now`.
    pub fn window_state(&self) -> WindowState {
        self.window.state(self.policy, self.now)
    }

    /// W4 + W9: free-form may start now.
    pub fn window_open(&self) -> bool {
        self.window.is_open(self.policy, self.now)
    }

    /// Time until the send deadline while the window is open; unlimited (`Duration::MAX`) on a
    /// channel without windows; `None` when it is closed.
    pub fn window_time_left(&self) -> Option<Duration> {
        if self.policy.csw.is_none() {
            return Some(Duration::MAX);
        }
        let deadline = self.window.send_deadline(self.policy).filter(|d| self.now < *d)?;
        Some(Duration::from_millis(u64::try_from(self.now.millis_until(deadline)).unwrap_or(0)))
    }

    /// Business time until the send deadline while the window is open, by the number's schedule;
    /// unlimited on a channel without windows; `None` when it is closed.
    pub fn business_time_left(&self) -> Option<Duration> {
        if self.policy.csw.is_none() {
            return Some(Duration::MAX);
        }
        let deadline = self.window.send_deadline(self.policy).filter(|d| self.now < *d)?;
        Some(or_always_open(self.schedule).business_time_left(self.now, deadline))
    }

    /// The window is open and nobody will be at work before its send deadline.
    pub fn window_closes_before_team_is_back(&self) -> bool {
        self.policy.csw.is_some() && self.business_time_left() == Some(Duration::ZERO)
    }

    /// The customer wrote and no agent has sent them a message since their last one.
    pub fn awaiting_reply(&self) -> bool {
        match (self.window.last_inbound_at, self.last_agent_reply_at) {
            (Some(wrote), Some(replied)) => replied < wrote,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// When the team is next at work: `now` while open; `None` when the schedule never opens. For the
    /// `{{business_hours.next_open}}` placeholder.
    pub fn next_business_open(&self) -> Option<Timestamp> {
        or_always_open(self.schedule).next_business_open(self.now)
    }
}

/// A rule that fires, with what it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Firing<'r> {
    pub rule: &'r Rule,
    /// For rules limited to once per episode: the key the store inserts, unique per (rule, ticket,
    /// episode), before it runs the actions. A conflict means it already fired in this episode.
    pub episode: Option<EpisodeKey>,
}

impl<'r> Firing<'r> {
    pub fn actions(&self) -> &'r [Action<Text>] {
        &self.rule.actions
    }
}

/// Whether `rule` fires for `ctx`: it is enabled, runs on this event, the event was not caused by a
/// rule, and its conditions hold.
pub fn matches(rule: &Rule, ctx: &RuleContext<'_>) -> bool {
    rule.enabled && !ctx.caused_by_rule && rule.event == ctx.event && rule.conditions.hold(ctx)
}

/// What an event says before its ticket is read.
#[derive(Clone, Copy, Debug)]
pub struct EventOnly<'a> {
    pub event: Event,
    /// The event's customer message, as [`RuleContext::message_text`].
    pub message_text: Option<&'a MessageText>,
    pub first_message: bool,
    pub caused_by_rule: bool,
}

/// Whether `rule` can fire on this event for some ticket: `false` when it is switched off, runs on
/// another event, the event was a rule's change, or a condition on the event's message fails. The
/// rules worker reads a ticket only for events on which some rule may fire; [`matches`] decides.
/// `matches(rule, ctx)` implies `may_match(rule, ctx's event)`.
pub fn may_match(rule: &Rule, e: &EventOnly<'_>) -> bool {
    rule.enabled && !e.caused_by_rule && rule.event == e.event && rule.conditions.may_hold_on_message(e.message_text, e.first_message)
}

/// What the rules need to know about a customer message beyond its text. The rules worker reads
/// each of these with a query per message, so it asks only for what an enabled rule can use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageNeeds {
    /// Whether the message is the first on its ticket: some enabled rule on a message event has a
    /// `first_message` condition.
    pub first_message: bool,
    /// Whether the message opened the customer's window: some enabled rule runs on `window_opened`.
    pub window_opened: bool,
}

/// [`MessageNeeds`] of `rules`. Where a need is `false`, the answer cannot change which rules
/// fire on a customer message: `evaluate` is the same for either value.
pub fn message_needs(rules: &[Rule]) -> MessageNeeds {
    let on_message = |r: &&Rule| r.enabled && matches!(r.event, Event::MessageReceived | Event::WindowOpened);
    MessageNeeds {
        first_message: rules
            .iter()
            .filter(on_message)
            .any(|r| r.conditions.all.iter().chain(&r.conditions.any).any(|c| matches!(c, super::Condition::FirstMessage { .. }))),
        window_opened: rules.iter().any(|r| r.enabled && r.event == Event::WindowOpened),
    }
}

/// The rules that fire for `ctx`, in the fixed visible order: position, then id. Each fires at
/// most once per event; rules limited to once per episode carry their episode key.
pub fn evaluate<'r>(rules: impl IntoIterator<Item = &'r Rule>, ctx: &RuleContext<'_>) -> Vec<Firing<'r>> {
    let mut firing: Vec<&Rule> = rules.into_iter().filter(|rule| matches(rule, ctx)).collect();
    firing.sort_by_key(|rule| rule.order_key());
    let mut seen = std::collections::BTreeSet::new();
    firing.retain(|rule| seen.insert(rule.id));
    firing
        .into_iter()
        .map(|rule| Firing { rule, episode: rule.fires_once_per_episode().then(|| EpisodeKey::for_rule(rule, ctx)) })
        .collect()
}
