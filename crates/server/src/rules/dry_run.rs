//! The rule builder's dry run (issue 13 item 7): which of the newest tickets a draft would match if
//! its event happened on each of them now. It reads tickets through [`TicketFacts`], exactly as the
//! rules worker does, and evaluates with the core's [`matches`]; nothing is sent, recorded or changed.

use windowdesk_core::rules::{matches, Event, InvalidRule, MessageText};
use windowdesk_core::{RuleDraft, TicketStatus};
use windowdesk_store::{Direction, TicketFilter};

use super::facts::{EventFacts, Schedules, TicketFacts};
use crate::AppState;

/// How many of the newest tickets a dry run looks at.
pub const DRY_RUN_TICKETS: u32 = 100;

/// A ticket the draft would match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DryRunMatch {
    pub ticket_id: i64,
    pub subject: String,
    pub status: TicketStatus,
}

/// What a dry run found: how many tickets it looked at, and the ones that match, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DryRun {
    pub checked: usize,
    pub matches: Vec<DryRunMatch>,
}

/// Why a dry run has no answer.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    /// The draft does not validate; nothing was evaluated.
    #[error(transparent)]
    Invalid(#[from] InvalidRule),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// Evaluates `draft` against the [`DRY_RUN_TICKETS`] newest tickets, as if its event happened on each
/// now (the desk's clock). The draft is validated first, with a temporary id, and evaluated as if it
/// were switched on. Message conditions see the ticket's latest customer message, which counts as
/// the first message when it is the ticket's only one; events without a message see none
/// (`ticket_updated`, `delivery_failed`, `automation`), as the worker's do. The event is never a
/// rule's own change.
pub async fn dry_run(state: &AppState, draft: &RuleDraft) -> Result<DryRun, DryRunError> {
    let mut rule = draft.validate(0)?;
    rule.enabled = true;
    let carries_message = matches!(rule.event, Event::TicketCreated | Event::MessageReceived | Event::WindowOpened);
    let now = state.clock.now();
    let tickets =
        state.store.list_tickets(&TicketFilter { limit: DRY_RUN_TICKETS, ..TicketFilter::default() }).await.map_err(anyhow::Error::from)?;
    let mut out = DryRun { checked: 0, matches: Vec::new() };
    let mut schedules = Schedules::default();
    for ticket in tickets {
        let Some(facts) = TicketFacts::load_with(state, ticket.id, &mut schedules).await? else { continue };
        out.checked += 1;
        let (message_text, first_message) = if carries_message {
            let messages = state.store.ticket_messages(ticket.id).await.map_err(anyhow::Error::from)?;
            let mut inbound = messages.iter().filter(|m| m.direction == Direction::Inbound);
            let count = inbound.clone().count();
            let latest = inbound.next_back();
            (latest.and_then(|m| m.body.as_deref()).map(MessageText::new), count == 1)
        } else {
            (None, false)
        };
        let event = EventFacts { event: rule.event, message_text: message_text.as_ref(), first_message, caused_by_rule: false };
        if matches(&rule, &facts.context(state, event, now)) {
            let t = &facts.read.summary.ticket;
            out.matches.push(DryRunMatch { ticket_id: t.id, subject: t.subject.clone(), status: t.status });
        }
    }
    Ok(out)
}
