//! When a rule holds: conditions over a [`RuleContext`] snapshot. Time conditions compare whole
//! durations at millisecond precision; "less than" and "more than" are strict.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::eval::RuleContext;
use crate::hours::or_always_open;
use crate::routing::{Priority, TicketStatus};
use crate::time::Timestamp;

/// All of `all` must hold; if `any` is not empty, at least one of it must hold too. Empty conditions
/// always hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    #[serde(default)]
    pub all: Vec<Condition>,
    #[serde(default)]
    pub any: Vec<Condition>,
}

impl Conditions {
    pub fn hold(&self, ctx: &RuleContext<'_>) -> bool {
        self.all.iter().all(|c| c.holds(ctx)) && (self.any.is_empty() || self.any.iter().any(|c| c.holds(ctx)))
    }

    /// `false` when the conditions cannot hold for an event with this message, whatever the ticket
    /// and its window look like: a condition of `all` on the message fails, or every condition of
    /// `any` is on the message and fails. `true` says only that the ticket decides.
    pub fn may_hold_on_message(&self, message_text: Option<&MessageText>, first_message: bool) -> bool {
        let fails = |c: &Condition| c.holds_on_message(message_text, first_message) == Some(false);
        !self.all.iter().any(fails) && (self.any.is_empty() || !self.any.iter().all(fails))
    }

    /// Every condition with its field path (`conditions.all[0]`), in order.
    pub fn with_paths(&self) -> impl Iterator<Item = (String, &Condition)> {
        let all = self.all.iter().enumerate().map(|(i, c)| (format!("conditions.all[{i}]"), c));
        let any = self.any.iter().enumerate().map(|(i, c)| (format!("conditions.any[{i}]"), c));
        all.chain(any)
    }
}

/// Is, or is not, one of the listed values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IsOp {
    Is,
    IsNot,
}

impl IsOp {
    fn apply(self, found: bool) -> bool {
        match self {
            IsOp::Is => found,
            IsOp::IsNot => !found,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagsOp {
    /// The ticket has at least one of the tags.
    IncludeAny,
    /// The ticket has every one of the tags.
    IncludeAll,
    /// The ticket has none of the tags.
    IncludeNone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssigneeOp {
    /// Assigned to `agent_id`.
    Is,
    /// Not assigned to `agent_id` (unassigned included).
    IsNot,
    Unassigned,
    Assigned,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextOp {
    /// The text contains at least one of the words or phrases (case-insensitive).
    ContainsAny,
    /// The text contains none of them; holds for an event without a message.
    ContainsNone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    LessThan,
    MoreThan,
}

impl Compare {
    fn apply(self, value: Duration, minutes: i64) -> bool {
        let limit = Duration::from_secs(u64::try_from(minutes).unwrap_or(0).saturating_mul(60));
        match self {
            Compare::LessThan => value < limit,
            Compare::MoreThan => value > limit,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowIs {
    Open,
    Closed,
}

/// One condition, written `{"field": "...", ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The ticket's business number is (not) one of `ids`.
    BusinessNumber {
        op: IsOp,
        ids: Vec<i64>,
    },
    Status {
        op: IsOp,
        values: Vec<TicketStatus>,
    },
    Priority {
        op: IsOp,
        values: Vec<Priority>,
    },
    /// Tags compare case-insensitively, ignoring spaces around them.
    Tags {
        op: TagsOp,
        tags: Vec<String>,
    },
    /// `agent_id` is given for `is` and `is_not` only.
    Assignee {
        op: AssigneeOp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_id: Option<i64>,
    },
    /// The event's customer message contains any (none) of `words`: case-insensitive substrings,
    /// with runs of white space counting as one space. An event without a message contains nothing.
    MessageText {
        op: TextOp,
        words: Vec<String>,
    },
    /// The event's message is the ticket's first customer message.
    FirstMessage {
        value: bool,
    },
    /// The business number's schedule is open at `now` (a number without one is always open).
    WithinBusinessHours {
        value: bool,
    },
    /// The customer's window, as the send decision sees it at `now` (W4, W9).
    Window {
        state: WindowIs,
    },
    /// Time until the W9 send deadline. Only an open window has time left: on a closed window
    /// neither comparison holds (ask `window` for that); a channel without windows has unlimited time.
    WindowTimeLeft {
        op: Compare,
        minutes: i64,
    },
    /// Business time between `now` and the W9 send deadline, by the number's schedule; like
    /// `window_time_left`, only an open window has some.
    BusinessTimeLeft {
        op: Compare,
        minutes: i64,
    },
    /// The window is open and closes before the team is back: no business time is left before its
    /// send deadline (issue 13: "closes before the team is back").
    WindowClosesBeforeTeamIsBack {
        value: bool,
    },
    /// The customer is waiting for an answer: they wrote, and no agent (or API client) has sent them
    /// a message since their last one.
    AwaitingReply {
        value: bool,
    },
    /// Since the customer last wrote (the window's last inbound message). False when they never did.
    /// With `business_hours`, only the number's open hours count ("waited 4 business hours").
    TimeSinceLastCustomerMessage {
        op: Compare,
        minutes: i64,
        #[serde(default, skip_serializing_if = "is_false")]
        business_hours: bool,
    },
    /// Since an agent (or an API client) last sent the customer a message. False when none did.
    TimeSinceLastAgentReply {
        op: Compare,
        minutes: i64,
        #[serde(default, skip_serializing_if = "is_false")]
        business_hours: bool,
    },
    TimeSinceCreated {
        op: Compare,
        minutes: i64,
        #[serde(default, skip_serializing_if = "is_false")]
        business_hours: bool,
    },
    /// Since the ticket's status last changed (since it was created, if it never did).
    TimeSinceStatusChanged {
        op: Compare,
        minutes: i64,
        #[serde(default, skip_serializing_if = "is_false")]
        business_hours: bool,
    },
    /// False when the ticket is not solved.
    TimeSinceSolved {
        op: Compare,
        minutes: i64,
        #[serde(default, skip_serializing_if = "is_false")]
        business_hours: bool,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a `time_since_*` condition counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Since {
    LastCustomerMessage,
    LastAgentReply,
    Created,
    StatusChanged,
    Solved,
}

impl Since {
    /// The instant counted from, on this ticket; `None` when it never happened.
    pub fn instant(self, ctx: &RuleContext<'_>) -> Option<Timestamp> {
        match self {
            Since::LastCustomerMessage => ctx.window.last_inbound_at,
            Since::LastAgentReply => ctx.last_agent_reply_at,
            Since::Created => Some(ctx.created_at),
            Since::StatusChanged => Some(ctx.status_changed_at),
            Since::Solved => ctx.solved_at,
        }
    }
}

/// Lower case with runs of white space as one space, so `"Money  Back"` finds `"money back"`.
fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// A word or phrase as [`normalise`] would write it, borrowed when it already is (the usual case:
/// words are short, lower case and single-spaced), so checking 50 rules allocates nothing.
fn normalised_word(word: &str) -> std::borrow::Cow<'_, str> {
    let plain = word.chars().all(|c| !c.is_uppercase() && (c == ' ' || !c.is_whitespace()))
        && !word.contains("  ")
        && !word.starts_with(' ')
        && !word.ends_with(' ');
    if plain {
        std::borrow::Cow::Borrowed(word)
    } else {
        std::borrow::Cow::Owned(normalise(word))
    }
}

/// A customer message as message conditions read it, folded once (lower case, runs of white space
/// as one space) however many rules look at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn new(text: &str) -> MessageText {
        MessageText(normalise(text))
    }

    /// The folded text.
    pub fn folded(&self) -> &str {
        &self.0
    }
}

fn same_tag(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

fn since(earlier: Option<Timestamp>, now: Timestamp) -> Option<Duration> {
    let ms = earlier?.millis_until(now);
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

impl Condition {
    /// The condition's field name as written, for errors and the rule builder.
    pub fn field(&self) -> &'static str {
        match self {
            Condition::BusinessNumber { .. } => "business_number",
            Condition::Status { .. } => "status",
            Condition::Priority { .. } => "priority",
            Condition::Tags { .. } => "tags",
            Condition::Assignee { .. } => "assignee",
            Condition::MessageText { .. } => "message_text",
            Condition::FirstMessage { .. } => "first_message",
            Condition::WithinBusinessHours { .. } => "within_business_hours",
            Condition::Window { .. } => "window",
            Condition::WindowTimeLeft { .. } => "window_time_left",
            Condition::BusinessTimeLeft { .. } => "business_time_left",
            Condition::WindowClosesBeforeTeamIsBack { .. } => "window_closes_before_team_is_back",
            Condition::AwaitingReply { .. } => "awaiting_reply",
            Condition::TimeSinceLastCustomerMessage { .. } => "time_since_last_customer_message",
            Condition::TimeSinceLastAgentReply { .. } => "time_since_last_agent_reply",
            Condition::TimeSinceCreated { .. } => "time_since_created",
            Condition::TimeSinceStatusChanged { .. } => "time_since_status_changed",
            Condition::TimeSinceSolved { .. } => "time_since_solved",
        }
    }

    /// The minutes a time condition compares with, if it is one.
    pub fn minutes(&self) -> Option<i64> {
        match self {
            Condition::WindowTimeLeft { minutes, .. } | Condition::BusinessTimeLeft { minutes, .. } => Some(*minutes),
            _ => self.time_since().map(|(_, _, minutes, _)| minutes),
        }
    }

    /// A `time_since_*` condition as (what it counts from, comparison, minutes, business hours only).
    pub fn time_since(&self) -> Option<(Since, Compare, i64, bool)> {
        let (since, op, minutes, business_hours) = match self {
            Condition::TimeSinceLastCustomerMessage { op, minutes, business_hours } => {
                (Since::LastCustomerMessage, op, minutes, business_hours)
            }
            Condition::TimeSinceLastAgentReply { op, minutes, business_hours } => (Since::LastAgentReply, op, minutes, business_hours),
            Condition::TimeSinceCreated { op, minutes, business_hours } => (Since::Created, op, minutes, business_hours),
            Condition::TimeSinceStatusChanged { op, minutes, business_hours } => (Since::StatusChanged, op, minutes, business_hours),
            Condition::TimeSinceSolved { op, minutes, business_hours } => (Since::Solved, op, minutes, business_hours),
            _ => return None,
        };
        Some((since, *op, *minutes, *business_hours))
    }

    /// Whether a condition that looks only at the event's customer message holds: its text, and
    /// whether it is the ticket's first; `None` for a condition on the ticket, its window or time.
    pub fn holds_on_message(&self, message_text: Option<&MessageText>, first_message: bool) -> Option<bool> {
        match self {
            Condition::MessageText { op, words } => {
                let text = message_text.map_or("", MessageText::folded);
                let found =
                    !text.is_empty() && words.iter().map(|w| normalised_word(w)).any(|w| !w.is_empty() && text.contains(w.as_ref()));
                Some(match op {
                    TextOp::ContainsAny => found,
                    TextOp::ContainsNone => !found,
                })
            }
            Condition::FirstMessage { value } => Some(first_message == *value),
            _ => None,
        }
    }

    pub fn holds(&self, ctx: &RuleContext<'_>) -> bool {
        match self {
            Condition::BusinessNumber { op, ids } => op.apply(ids.contains(&ctx.business_number_id)),
            Condition::Status { op, values } => op.apply(values.contains(&ctx.status)),
            Condition::Priority { op, values } => op.apply(values.contains(&ctx.priority)),
            Condition::Tags { op, tags } => {
                let has = |tag: &String| ctx.tags.iter().any(|t| same_tag(t, tag));
                match op {
                    TagsOp::IncludeAny => tags.iter().any(has),
                    TagsOp::IncludeAll => tags.iter().all(has),
                    TagsOp::IncludeNone => !tags.iter().any(has),
                }
            }
            Condition::Assignee { op, agent_id } => match op {
                AssigneeOp::Is => agent_id.is_some() && ctx.assignee_id == *agent_id,
                AssigneeOp::IsNot => ctx.assignee_id != *agent_id,
                AssigneeOp::Unassigned => ctx.assignee_id.is_none(),
                AssigneeOp::Assigned => ctx.assignee_id.is_some(),
            },
            Condition::MessageText { .. } | Condition::FirstMessage { .. } => {
                self.holds_on_message(ctx.message_text, ctx.first_message).unwrap_or(false)
            }
            Condition::WithinBusinessHours { value } => or_always_open(ctx.schedule).is_open(ctx.now) == *value,
            Condition::Window { state } => ctx.window_open() == (*state == WindowIs::Open),
            Condition::WindowTimeLeft { op, minutes } => ctx.window_time_left().is_some_and(|left| op.apply(left, *minutes)),
            Condition::BusinessTimeLeft { op, minutes } => ctx.business_time_left().is_some_and(|left| op.apply(left, *minutes)),
            Condition::WindowClosesBeforeTeamIsBack { value } => ctx.window_closes_before_team_is_back() == *value,
            Condition::AwaitingReply { value } => ctx.awaiting_reply() == *value,
            Condition::TimeSinceLastCustomerMessage { .. }
            | Condition::TimeSinceLastAgentReply { .. }
            | Condition::TimeSinceCreated { .. }
            | Condition::TimeSinceStatusChanged { .. }
            | Condition::TimeSinceSolved { .. } => {
                let Some((from, op, minutes, business_hours)) = self.time_since() else { return false };
                // Nothing has elapsed since something that has not happened yet.
                let at = from.instant(ctx).filter(|at| *at <= ctx.now);
                let elapsed = if business_hours {
                    at.map(|at| or_always_open(ctx.schedule).business_time_between(at, ctx.now))
                } else {
                    since(at, ctx.now)
                };
                elapsed.is_some_and(|d| op.apply(d, minutes))
            }
        }
    }
}
