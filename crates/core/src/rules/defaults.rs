//! The rules a new desk ships with (SPEC 10, issue 13 item 6, issue 14 item 5): plain drafts the
//! store seeds once, which admins edit or switch off like any other rule.
//!
//! | position | rule | event |
//! |---|---|---|
//! | 10 | first-message auto-reply with the ticket number, during business hours | `message_received` |
//! | 20 | the same outside business hours, saying when the team is back | `message_received` |
//! | 30 | holding message before a window closes outside business hours | `automation` |
//! | 40 | auto-close of solved tickets after 4 days (T3) | `automation` |
//! | 50 | nudge the assignee after 4 business hours of waiting (shipped switched off) | `automation` |
//!
//! The two auto-replies exclude each other (`within_business_hours` true or false) and fire once per
//! window episode, so three images sent together get one auto-reply.

use super::{Action, AssigneeOp, ClosedWindow, Compare, Condition, Conditions, Event, IsOp, RuleDraft, WindowIs};
use crate::routing::TicketStatus;

/// How long before a window's send deadline the holding message goes out.
pub const HOLDING_MINUTES_BEFORE_CLOSE: i64 = 30;
/// Solved tickets close after this many minutes (4 days).
pub const AUTO_CLOSE_AFTER_MINUTES: i64 = 4 * 24 * 60;

fn reply(text: &str) -> Action<String> {
    // A customer message has just opened the window, so skipping when closed only matters if the
    // rule is edited onto another event; it never sends free-form into a closed window.
    Action::Reply { text: text.to_owned(), when_closed: ClosedWindow::Skip }
}

fn first_message_reply(name: &str, position: i32, within_business_hours: bool, text: &str) -> RuleDraft {
    RuleDraft {
        name: name.to_owned(),
        enabled: true,
        position,
        event: Event::MessageReceived,
        once_per_episode: true,
        conditions: Conditions {
            all: vec![Condition::FirstMessage { value: true }, Condition::WithinBusinessHours { value: within_business_hours }],
            any: vec![],
        },
        actions: vec![reply(text)],
    }
}

/// The auto-reply on a ticket's first message during business hours, with the ticket number.
pub fn first_message_auto_reply() -> RuleDraft {
    first_message_reply(
        "Auto-reply: first message",
        10,
        true,
        "Hi {{firstName || there}}, thanks for your message! Your ticket number is {{ticket.id}}. We'll get back to you shortly.",
    )
}

/// The auto-reply on a ticket's first message outside business hours: with the ticket number, and
/// when the team is back.
pub fn first_message_auto_reply_outside_hours() -> RuleDraft {
    first_message_reply(
        "Auto-reply: first message, outside business hours",
        20,
        false,
        "Hi {{firstName || there}}, thanks for your message! Your ticket number is {{ticket.id}}. Our team is away right now \
         and back {{business_hours.next_open}}; we'll answer you then.",
    )
}

/// An automation: when a customer's window will close before the team is back, send a holding
/// message while it is still open, shortly before its send deadline, asking them to write again when
/// the team is back, so the window is open when agents can answer. Once per window episode.
pub fn holding_message_before_window_closes() -> RuleDraft {
    RuleDraft {
        name: "Holding message before a window closes outside business hours".to_owned(),
        enabled: true,
        position: 30,
        event: Event::Automation,
        once_per_episode: true,
        conditions: Conditions {
            all: vec![
                Condition::Status { op: IsOp::IsNot, values: vec![TicketStatus::Solved, TicketStatus::Closed] },
                Condition::AwaitingReply { value: true },
                Condition::Window { state: WindowIs::Open },
                Condition::WindowClosesBeforeTeamIsBack { value: true },
                Condition::WindowTimeLeft { op: Compare::LessThan, minutes: HOLDING_MINUTES_BEFORE_CLOSE },
            ],
            any: vec![],
        },
        actions: vec![reply(
            "We haven't forgotten you: your ticket {{ticket.id}} is with us. Our team is back {{business_hours.next_open}}. \
             Please send us a message then, so we can answer you here.",
        )],
    }
}

/// An automation: solved tickets close after 4 days (T3). Once per solve.
pub fn auto_close_solved() -> RuleDraft {
    RuleDraft {
        name: "Close solved tickets after 4 days".to_owned(),
        enabled: true,
        position: 40,
        event: Event::Automation,
        once_per_episode: true,
        conditions: Conditions {
            all: vec![
                Condition::Status { op: IsOp::Is, values: vec![TicketStatus::Solved] },
                Condition::TimeSinceSolved { op: Compare::MoreThan, minutes: AUTO_CLOSE_AFTER_MINUTES, business_hours: false },
            ],
            any: vec![],
        },
        actions: vec![Action::SetStatus { status: TicketStatus::Closed }],
    }
}

/// How long a customer waits, in business minutes, before the optional nudge reminds the assignee.
pub const NUDGE_AFTER_BUSINESS_MINUTES: i64 = 4 * 60;

/// An automation, shipped switched off: reminds the assignee when a customer has waited
/// [`NUDGE_AFTER_BUSINESS_MINUTES`] of business time for an answer. Once per customer message.
pub fn nudge_assignee() -> RuleDraft {
    RuleDraft {
        name: "Nudge the assignee when a customer has waited 4 business hours".to_owned(),
        enabled: false,
        position: 50,
        event: Event::Automation,
        once_per_episode: true,
        conditions: Conditions {
            all: vec![
                Condition::Status { op: IsOp::IsNot, values: vec![TicketStatus::Solved, TicketStatus::Closed] },
                Condition::Assignee { op: AssigneeOp::Assigned, agent_id: None },
                Condition::AwaitingReply { value: true },
                Condition::TimeSinceLastCustomerMessage {
                    op: Compare::MoreThan,
                    minutes: NUDGE_AFTER_BUSINESS_MINUTES,
                    business_hours: true,
                },
            ],
            any: vec![],
        },
        actions: vec![Action::NotifyAssignee {
            text: "{{requester.name || A customer}} has been waiting 4 business hours for an answer on ticket {{ticket.id}}.".to_owned(),
        }],
    }
}

/// Every shipped rule, in position order.
pub fn default_rules() -> Vec<RuleDraft> {
    vec![
        first_message_auto_reply(),
        first_message_auto_reply_outside_hours(),
        holding_message_before_window_closes(),
        auto_close_solved(),
        nudge_assignee(),
    ]
}
