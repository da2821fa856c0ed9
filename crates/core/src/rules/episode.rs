//! Once per episode (SPEC 10, issue 13 item 6, issue 14 item 2): the same rule never does its
//! thing twice for one episode of a ticket, enforced by the store with a unique key on
//! (rule, ticket, episode).
//!
//! **The episode is the customer's window.** A window episode starts with the customer message that
//! opened the window when it was closed (or had never opened), and lasts as long as the customer keeps
//! it open: every message sent before the window's end (W2, W4: at exactly the end it is closed)
//! belongs to the same episode, however it refreshes the window. So three images sent within a second
//! are one episode, and so is a conversation that goes on for days without a 24 h pause; the next
//! episode starts with the first message after the window closed.
//!
//! Why the window and not the last message: a reply to the shipped holding message ("ok, see you
//! Monday") refreshes the window; keyed on the last message, it would re-arm the holding message and
//! the weekend would become a ping-pong. Keyed on the window, the holding message goes out once per
//! window, and a customer who writes again before it was due simply moves the moment it is due.
//!
//! The start is kept by the store beside the [`CustomerWindow`] and advanced with
//! [`WindowEpisode::after_inbound`] in the same transaction as the window, because it cannot be
//! recovered from the window alone (the last message does not say when the window opened).
//!
//! Rules that count time from something else are keyed on that instead (issue 14 item 2), so they
//! fire again when it happens again, and never twice for one occurrence:
//!
//! | the rule has a condition on | episode | e.g. |
//! |---|---|---|
//! | `time_since_solved` (ticket solved) | [`Episode::Solved`]: the solve | auto-close |
//! | `time_since_status_changed` | [`Episode::StatusChanged`]: the change | "pending for 3 days" |
//! | `time_since_last_agent_reply` (an agent replied) | [`Episode::AgentReply`]: the reply | follow-up |
//! | `time_since_last_customer_message` (they wrote) | [`Episode::CustomerMessage`]: the message | nudge |
//! | `time_since_created` | [`Episode::Ticket`] | escalate a ticket open too long |
//! | anything else, the customer wrote | [`Episode::Window`] | holding message, auto-reply |
//! | anything else | [`Episode::Ticket`] | |
//!
//! The first row that applies decides. Three images sent within a second are still one firing of a
//! nudge: it is due only once the last of them is old enough, and one armed for an earlier image is
//! skipped as "episode moved" when it comes due.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::condition::Since;
use super::eval::RuleContext;
use super::Rule;
use crate::routing::TicketStatus;
use crate::time::Timestamp;
use crate::window::{CustomerWindow, WindowPolicy};

/// The current window episode of a customer: when the message that opened the window was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WindowEpisode {
    pub started_at: Timestamp,
}

impl WindowEpisode {
    /// The episode after a window-refreshing inbound message sent at `sent_at` (W1), given the
    /// episode and the window as they were before it.
    ///
    /// - The customer never wrote, or the window had closed by `sent_at` (W4: at exactly its end):
    ///   a new episode starts at `sent_at`.
    /// - Otherwise the episode goes on. A late, older message (W2) never starts one.
    ///
    /// A window kept from before episodes were stored has no `previous`; its episode is taken to
    /// start at its last inbound message.
    pub fn after_inbound(
        previous: Option<WindowEpisode>,
        window_before: &CustomerWindow,
        policy: WindowPolicy,
        sent_at: Timestamp,
    ) -> Self {
        let Some(last) = window_before.last_inbound_at else { return WindowEpisode { started_at: sent_at } };
        let closed_by_then = window_before.window_end(policy).is_some_and(|end| sent_at >= end);
        if sent_at > last && closed_by_then {
            return WindowEpisode { started_at: sent_at };
        }
        previous.unwrap_or(WindowEpisode { started_at: last })
    }
}

/// What one firing of a rule is counted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Episode {
    /// The customer's window episode.
    Window(WindowEpisode),
    /// The ticket's current solve, for rules about solved tickets.
    Solved(Timestamp),
    /// The ticket's last status change.
    StatusChanged(Timestamp),
    /// The last agent reply.
    AgentReply(Timestamp),
    /// The customer's last message.
    CustomerMessage(Timestamp),
    /// The ticket as a whole: no window episode is known (the customer never wrote).
    Ticket,
}

impl Episode {
    /// The episode a firing of `rule` counts against: the first of the module's table that applies.
    pub fn for_rule(rule: &Rule, ctx: &RuleContext<'_>) -> Self {
        let counts_from = |wanted: Since| rule.conditions.with_paths().any(|(_, c)| c.time_since().is_some_and(|(s, ..)| s == wanted));
        if ctx.status == TicketStatus::Solved && counts_from(Since::Solved) {
            if let Some(at) = ctx.solved_at {
                return Episode::Solved(at);
            }
        }
        if counts_from(Since::StatusChanged) {
            return Episode::StatusChanged(ctx.status_changed_at);
        }
        if let Some(at) = ctx.last_agent_reply_at.filter(|_| counts_from(Since::LastAgentReply)) {
            return Episode::AgentReply(at);
        }
        if let Some(at) = ctx.window.last_inbound_at.filter(|_| counts_from(Since::LastCustomerMessage)) {
            return Episode::CustomerMessage(at);
        }
        if counts_from(Since::Created) {
            // A ticket is created once: "a day after it was created" happens once per ticket.
            return Episode::Ticket;
        }
        match ctx.window_episode {
            Some(window) => Episode::Window(window),
            None => Episode::Ticket,
        }
    }

    /// The stored form: `window:<unix ms>`, `solved:<unix ms>`, `status:`, `agent_reply:`,
    /// `customer_message:` (each `<unix ms>`) or `ticket`. Stable: the store's
    /// unique key depends on it.
    pub fn as_key(&self) -> String {
        match self {
            Episode::Window(w) => format!("window:{}", w.started_at.unix_millis()),
            Episode::Solved(at) => format!("solved:{}", at.unix_millis()),
            Episode::StatusChanged(at) => format!("status:{}", at.unix_millis()),
            Episode::AgentReply(at) => format!("agent_reply:{}", at.unix_millis()),
            Episode::CustomerMessage(at) => format!("customer_message:{}", at.unix_millis()),
            Episode::Ticket => "ticket".to_owned(),
        }
    }
}

/// The store's unique key for one firing: (rule, ticket, episode).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct EpisodeKey {
    pub rule_id: i64,
    pub ticket_id: i64,
    /// [`Episode::as_key`].
    pub episode: String,
}

impl EpisodeKey {
    pub fn new(rule_id: i64, ticket_id: i64, episode: Episode) -> Self {
        EpisodeKey { rule_id, ticket_id, episode: episode.as_key() }
    }

    pub fn for_rule(rule: &Rule, ctx: &RuleContext<'_>) -> Self {
        EpisodeKey::new(rule.id, ctx.ticket_id, Episode::for_rule(rule, ctx))
    }
}

impl fmt::Display for EpisodeKey {
    /// `rule:7/ticket:4711/window:1764871200000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule:{}/ticket:{}/{}", self.rule_id, self.ticket_id, self.episode)
    }
}
