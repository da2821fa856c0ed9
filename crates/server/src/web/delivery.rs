//! How a reply's delivery reads (SPEC 8 "delivery ticks and failure reasons", D4): what happened, on
//! which channel, and when; and, when it failed and was resent, replaced, dismissed, or was held and
//! released, that story in order ("Failed 14:02 (error 131047) — resent as a template 14:10").
//! Built from the messages and the ticket's events the page has already loaded.

use std::collections::HashMap;

use maud::{html, Markup};
use windowdesk_core::{DeliveryState, Timestamp};
use windowdesk_store::{Direction, EventRow, MessageRow};

use super::components::{self, Actors};
use super::format;
use super::session::Agent;

/// Which provider carried a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    WhatsApp,
    Sms,
}

impl Channel {
    pub fn of(m: &MessageRow) -> Channel {
        if m.kind == "sms" {
            Channel::Sms
        } else {
            Channel::WhatsApp
        }
    }
}

/// A state in words on its channel: (mark, words, class of the ticks).
pub fn state_words(state: DeliveryState, channel: Channel) -> (&'static str, &'static str, &'static str) {
    let sms = channel == Channel::Sms;
    match state {
        DeliveryState::Draft | DeliveryState::Queued => ("◷", "Queued to go out", "pending"),
        DeliveryState::Sending if sms => ("◷", "Sending to the SMS provider", "pending"),
        DeliveryState::Sending => ("◷", "Sending to WhatsApp", "pending"),
        DeliveryState::Accepted if sms => ("✓", "SMS accepted by the provider", "accepted"),
        DeliveryState::Accepted => ("✓", "Accepted by WhatsApp", "accepted"),
        DeliveryState::Sent if sms => ("✓", "SMS sent", "sent"),
        DeliveryState::Sent => ("✓", "Sent on WhatsApp", "sent"),
        DeliveryState::Delivered if sms => ("✓✓", "SMS delivered", "delivered"),
        DeliveryState::Delivered => ("✓✓", "Delivered on WhatsApp", "delivered"),
        DeliveryState::Read => ("✓✓", "Read on WhatsApp", "read"),
        DeliveryState::Played => ("✓✓ ▶", "Played on WhatsApp", "read"),
        DeliveryState::Failed if sms => ("⚠", "SMS failed", "bad"),
        DeliveryState::Failed => ("⚠", "Failed on WhatsApp", "bad"),
        DeliveryState::Blocked => ("⛔", "Not sent: the window was closed", "bad"),
        DeliveryState::Held => ("‖", "Held until the customer writes", "held"),
    }
}

/// One thing that happened to an outbound message, from the ticket's events.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Failed { at: Timestamp, code: Option<i64> },
    NotSent { at: Timestamp },
    HoldExpired { at: Timestamp },
    Held { at: Timestamp, again: bool },
    Released { at: Timestamp },
    Resent { at: Timestamp, actor: String },
    Replaced { at: Timestamp, how: &'static str, by: Option<i64>, actor: String },
    Dismissed { at: Timestamp, actor: String },
}

impl Step {
    /// Whether the step turns the story: with one, the message's history is worth showing.
    fn turns(&self) -> bool {
        matches!(
            self,
            Step::Released { .. } | Step::Resent { .. } | Step::Replaced { .. } | Step::Dismissed { .. } | Step::Held { again: true, .. }
        )
    }
}

/// The delivery stories of a ticket's outbound messages.
#[derive(Debug, Default)]
pub struct Histories {
    steps: HashMap<i64, Vec<Step>>,
    /// A replacement message → (the failed message it stands in for, how).
    replaces: HashMap<i64, (i64, &'static str)>,
}

/// Message ids by every wamid they had: a message resent after a failure gets a new one, and Meta's
/// statuses name the wamid of the attempt they are about.
pub fn ids_by_wamid(events: &[EventRow], messages: &[MessageRow]) -> HashMap<String, i64> {
    let mut ids: HashMap<String, i64> = HashMap::new();
    for e in events.iter().filter(|e| e.kind == "message_sent") {
        if let (Some(w), Some(id)) = (e.data.get("wamid").and_then(|v| v.as_str()), e.data.get("message_id").and_then(|v| v.as_i64())) {
            ids.insert(w.to_owned(), id);
        }
    }
    for m in messages {
        if let Some(w) = &m.wamid {
            ids.insert(w.clone(), m.id);
        }
    }
    ids
}

impl Histories {
    pub fn of(events: &[EventRow], messages: &[MessageRow]) -> Histories {
        let wamids = ids_by_wamid(events, messages);
        let mut h = Histories::default();
        for e in events {
            let id = || e.data.get("message_id").and_then(serde_json::Value::as_i64);
            let (message_id, step) = match e.kind.as_str() {
                "delivery_failed" => {
                    (id(), Step::Failed { at: e.at, code: e.data.get("error").and_then(|x| x.get("code")).and_then(|c| c.as_i64()) })
                }
                "delivery_status" if e.data.get("status").and_then(|s| s.as_str()) == Some("failed") => {
                    if e.data.get("applied").and_then(serde_json::Value::as_bool) == Some(false) {
                        continue;
                    }
                    let message = e.data.get("wamid").and_then(|w| w.as_str()).and_then(|w| wamids.get(w).copied());
                    let code = e.data.get("errors").and_then(|x| x.get(0)).and_then(|x| x.get("code")).and_then(|c| c.as_i64());
                    (message, Step::Failed { at: e.at, code })
                }
                "delivery_blocked" => (id(), Step::NotSent { at: e.at }),
                "held_reply_expired" => (id(), Step::HoldExpired { at: e.at }),
                "reply_held" => (id(), Step::Held { at: e.at, again: e.data.get("from").is_some() }),
                "held_reply_released" => (id(), Step::Released { at: e.at }),
                "reply_resent" => (id(), Step::Resent { at: e.at, actor: e.actor.clone() }),
                "failed_delivery_resolved" => {
                    let how = match e.data.get("resolution").and_then(|r| r.as_str()) {
                        Some("dismissed") => None,
                        Some("sms") => Some("via SMS"),
                        _ => Some("as a template"),
                    };
                    let by = e.data.get("replaced_by").and_then(serde_json::Value::as_i64);
                    match how {
                        None => (id(), Step::Dismissed { at: e.at, actor: e.actor.clone() }),
                        Some(how) => {
                            if let (Some(by), Some(original)) = (by, id()) {
                                h.replaces.insert(by, (original, how));
                            }
                            (id(), Step::Replaced { at: e.at, how, by, actor: e.actor.clone() })
                        }
                    }
                }
                _ => continue,
            };
            if let Some(message_id) = message_id {
                h.steps.entry(message_id).or_default().push(step);
            }
        }
        h
    }

    /// The failed message `m` was sent instead of, and how.
    pub fn replaces(&self, m: &MessageRow) -> Option<(i64, &'static str)> {
        self.replaces.get(&m.id).copied()
    }
}

/// The current state of an outbound message, for the bubble's foot: ticks, what happened on which
/// channel, and when (unless the bubble's own time, when it went out, already says it).
pub fn state(m: &MessageRow, now: Timestamp, agent: &Agent) -> Markup {
    let Some(state) = m.delivery_state.filter(|_| m.direction == Direction::Outbound) else { return html! {} };
    let (mark, words, class) = state_words(state, Channel::of(m));
    let tz = agent.tz();
    let shown = format::short_time(m.went_out_at.unwrap_or(m.sent_at), now, tz);
    let at = m
        .delivery_updated_at
        .filter(|_| !matches!(state, DeliveryState::Queued | DeliveryState::Sending | DeliveryState::Held))
        .filter(|at| format::short_time(*at, now, tz) != shown);
    html! {
        span.ticks.(class) data-state=(state.as_str()) {
            span.mark aria-hidden="true" { (mark) }
            " "
            span.state { (words) @if let Some(at) = at { " " (components::time(at, now, agent)) } }
        }
    }
}

/// What happened to an outbound message before its current state, when it failed or was held and
/// then was resent, replaced, dismissed or released: "Failed 14:02 (error 131047) — resent as a
/// template 14:10 by Ana". Nothing for a message that simply went out.
pub fn story(m: &MessageRow, histories: &Histories, actors: &Actors, now: Timestamp, agent: &Agent) -> Markup {
    let steps = histories.steps.get(&m.id).map(Vec::as_slice).unwrap_or(&[]);
    if m.direction != Direction::Outbound || !steps.iter().any(Step::turns) {
        return html! {};
    }
    let channel = Channel::of(m);
    html! {
        p.story {
            @for (i, step) in steps.iter().enumerate() {
                @if i > 0 { " — " }
                (phrase(step, channel, actors, now, agent))
            }
        }
    }
}

fn phrase(step: &Step, channel: Channel, actors: &Actors, now: Timestamp, agent: &Agent) -> Markup {
    let t = |at: Timestamp| components::time(at, now, agent);
    let by = |actor: &str| html! { @if actor.starts_with("agent:") || actor.starts_with("api:") || actor.starts_with("rule:") || actor.starts_with("workflow:") { " by " (actors.name(actor)) } };
    html! {
        @match step {
            Step::Failed { at, code } => {
                @if channel == Channel::Sms { "SMS failed " } @else { "Failed " } (t(*at))
                @if let Some(code) = code { " (error " (code) ")" }
            },
            Step::NotSent { at } => { "Not sent " (t(*at)) ": the window was closed" },
            Step::HoldExpired { at } => { "Hold expired " (t(*at)) },
            Step::Held { at, again: false } => { "Held " (t(*at)) },
            Step::Held { at, again: true } => { "held again " (t(*at)) },
            Step::Released { at } => { "released " (t(*at)) " when the customer wrote" },
            Step::Resent { at, actor } => { "resent " (t(*at)) (by(actor)) },
            Step::Replaced { at, how, by: replacement, actor } => {
                "resent "
                @match replacement { Some(r) => { a href={"#m" (r)} { (how) } }, None => { (how) } }
                " " (t(*at)) (by(actor))
            },
            Step::Dismissed { at, actor } => { "dismissed " (t(*at)) (by(actor)) },
        }
    }
}

/// The line of a message sent instead of a failed one: which one, and how.
pub fn replaces_line(m: &MessageRow, histories: &Histories) -> Markup {
    html! {
        @if let Some((original, how)) = histories.replaces(m) {
            p.replaces { "Sent " (how) " instead of " a href={"#m" (original)} { "a reply that was not delivered" } "." }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_names_its_channel_where_the_channel_matters() {
        assert_eq!(state_words(DeliveryState::Accepted, Channel::Sms).1, "SMS accepted by the provider");
        assert_eq!(state_words(DeliveryState::Accepted, Channel::WhatsApp).1, "Accepted by WhatsApp");
        assert_eq!(state_words(DeliveryState::Failed, Channel::Sms).1, "SMS failed");
        assert_eq!(state_words(DeliveryState::Read, Channel::WhatsApp).1, "Read on WhatsApp");
    }
}
