//! Rules (SPEC 10, issues 13 and 14): triggers that run on ticket events and time-based automations,
//! in one condition/action language, as pure values and functions.
//!
//! - The language: a [`Rule`] runs on an [`Event`], holds when its [`Conditions`] do (all of `all`, and
//!   one of `any` when `any` is not empty), and does its [`Action`]s in order. Its JSON shape is the
//!   REST API's: tagged objects, snake_case names (see [`RuleDraft`] for an example).
//! - Saving: a [`RuleDraft`] (texts as written) becomes a [`Rule`] through [`RuleDraft::validate`],
//!   which refuses unknown placeholders, empty names, tags and lists, and nonsense minute values, each
//!   error naming its field path (`actions[1].text: unknown placeholder {{ticket.idd}} at character 8`).
//!   Holding a `Rule` means every text in it renders.
//! - Evaluating: [`evaluate`] takes the rules and a [`RuleContext`] snapshot and returns the
//!   [`Firing`]s in the fixed visible order (position, then id). Disabled rules never fire, and nothing
//!   fires on a change a rule made (no loops).
//! - Sending: [`plan_send`] turns a send action into a [`PlannedSend`] for the window at `now` (W8):
//!   free-form only while the window is open before its W9 send deadline, otherwise the action's
//!   closed-window variant (template, hold, SMS) or a skip that says why. The server executes the plan
//!   through the send decision ([`crate::decide`]).
//! - Once per episode: [`WindowEpisode`] and [`EpisodeKey`] give the key the store makes unique per
//!   (rule, ticket, episode), so three images arriving together are one episode.
//! - [`defaults`]: the shipped rules, as drafts an admin can edit or switch off.
//! - [`due`]: when an automation is due for a ticket, and whether it still is when its time comes.
//! - [`workflow`]: ordered steps with a Window check branch, checked when saved; [`workflow_path`]:
//!   where a run of one is, and which step comes next.

mod action;
mod condition;
pub mod defaults;
pub mod due;
mod episode;
mod eval;
mod send;
pub(crate) mod validate;
pub mod workflow;
pub mod workflow_path;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::placeholder::Text;

pub use action::{Action, ClosedWindow, TemplateAction};
pub use condition::{AssigneeOp, Compare, Condition, Conditions, IsOp, MessageText, Since, TagsOp, TextOp, WindowIs};
pub use defaults::default_rules;
pub use due::{due, due_between, recheck, sweep_range, Armed, Due, Verdict};
pub use episode::{Episode, EpisodeKey, WindowEpisode};
pub use eval::{evaluate, matches, may_match, message_needs, EventOnly, Firing, MessageNeeds, RuleContext};
pub use send::{plan_send, PlannedSend, EMPTY_TEXT, WINDOW_CLOSED};
pub use validate::{InvalidRule, RuleError, RuleProblem, MAX_HOLD_HOURS, MAX_MINUTES};

/// What sets a rule off.
///
/// The first five are trigger events, evaluated when they happen; [`Event::Automation`] is the
/// time-based sweep (issue 14), which evaluates automations over open tickets at least every minute
/// with the same conditions, and fires each at most once per ticket and episode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    TicketCreated,
    /// A customer message arrived on the ticket.
    MessageReceived,
    TicketUpdated,
    /// An outbound message ended failed, blocked or expired (SPEC 3, D4).
    DeliveryFailed,
    /// The customer's window opened after being closed (or never open): a customer message started
    /// a new [`WindowEpisode`].
    WindowOpened,
    /// Time-based: evaluated by the periodic sweep, not by an event.
    Automation,
}

impl Event {
    pub const ALL: [Event; 6] =
        [Self::TicketCreated, Self::MessageReceived, Self::TicketUpdated, Self::DeliveryFailed, Self::WindowOpened, Self::Automation];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TicketCreated => "ticket_created",
            Self::MessageReceived => "message_received",
            Self::TicketUpdated => "ticket_updated",
            Self::DeliveryFailed => "delivery_failed",
            Self::WindowOpened => "window_opened",
            Self::Automation => "automation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Automations fire at most once per ticket and episode, whatever the rule says.
    pub fn is_automation(self) -> bool {
        self == Self::Automation
    }
}

/// A rule as an admin writes it, before it is checked: texts are plain strings. This is the body of
/// the REST API's create and update requests, e.g.
///
/// ```json
/// {
///   "name": "Auto-reply outside business hours",
///   "enabled": true,
///   "position": 20,
///   "event": "message_received",
///   "once_per_episode": true,
///   "conditions": {
///     "all": [
///       {"field": "first_message", "value": true},
///       {"field": "within_business_hours", "value": false}
///     ],
///     "any": []
///   },
///   "actions": [
///     {
///       "type": "reply",
///       "text": "Thanks! Your ticket is {{ticket.id}}. We are back {{business_hours.next_open}}.",
///       "when_closed": {"kind": "template", "name": "ticket_received", "language": "en", "params": {"1": "{{ticket.id}}"}}
///     },
///     {"type": "add_tags", "tags": ["after-hours"]}
///   ]
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDraft {
    pub name: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Rules run in ascending position, then ascending id.
    #[serde(default)]
    pub position: i32,
    pub event: Event,
    /// Fire at most once per ticket and episode (see [`WindowEpisode`]). Automations always do.
    #[serde(default)]
    pub once_per_episode: bool,
    #[serde(default)]
    pub conditions: Conditions,
    pub actions: Vec<Action<String>>,
}

fn enabled_by_default() -> bool {
    true
}

/// A saved, checked rule: every text in it is a parsed [`Text`] that renders. Built by
/// [`RuleDraft::validate`]; serialized in the same shape as the draft, plus its `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub position: i32,
    pub event: Event,
    pub once_per_episode: bool,
    pub conditions: Conditions,
    pub actions: Vec<Action<Text>>,
}

impl Rule {
    /// The rule as an editable draft (texts as written), e.g. to fill the rule builder.
    pub fn to_draft(&self) -> RuleDraft {
        RuleDraft {
            name: self.name.clone(),
            enabled: self.enabled,
            position: self.position,
            event: self.event,
            once_per_episode: self.once_per_episode,
            conditions: self.conditions.clone(),
            actions: self.actions.iter().map(|a| a.map_texts(|t| t.as_str().to_owned())).collect(),
        }
    }

    /// Whether a firing of this rule is limited to once per ticket and episode.
    pub fn fires_once_per_episode(&self) -> bool {
        self.once_per_episode || self.event.is_automation()
    }

    /// The fixed, visible order rules run and are listed in: position, then id.
    pub fn order_key(&self) -> (i32, i64) {
        (self.position, self.id)
    }
}
