//! What rules look at on a ticket (SPEC 10): the ticket with its tags, priority and window, its
//! number's business hours, the customer's window episode and when the ticket was solved, read once
//! and turned into the core's [`RuleContext`] for an event. The rules worker and the rule builder's
//! dry run both read tickets through here, so a dry run sees exactly what the worker would.

use std::collections::HashMap;

use windowdesk_core::hours::Schedule;
use windowdesk_core::rules::{Event, WindowEpisode};
use windowdesk_core::{RuleContext, TicketStatus, Timestamp};
use windowdesk_store::TicketSummary;

use crate::AppState;

/// A ticket as rules see it.
#[derive(Clone, Debug)]
pub struct TicketFacts {
    pub summary: TicketSummary,
    pub schedule: Option<Schedule>,
    pub window_episode: Option<WindowEpisode>,
    pub solved_at: Option<Timestamp>,
}

/// The business hours of each number, as read once.
#[derive(Default)]
pub struct Schedules(HashMap<i64, Option<Schedule>>);

/// The event's side of a [`RuleContext`]: what happened, and the customer message it carries.
#[derive(Clone, Copy, Debug)]
pub struct EventFacts<'a> {
    pub event: Event,
    pub message_text: Option<&'a str>,
    pub first_message: bool,
    pub caused_by_rule: bool,
}

impl TicketFacts {
    /// `None` when the ticket does not exist. The numbers' schedules are read once per `schedules`
    /// (the rules worker keeps one per round, the dry run one per run).
    pub async fn load_with(state: &AppState, ticket_id: i64, schedules: &mut Schedules) -> anyhow::Result<Option<TicketFacts>> {
        let store = state.store.as_ref();
        let Some(summary) = store.ticket_summary(ticket_id).await? else { return Ok(None) };
        let t = &summary.ticket;
        let schedule = match schedules.0.get(&t.business_number_id) {
            Some(known) => known.clone(),
            None => {
                let read = crate::hours::of_number(state, t.business_number_id).await?;
                schedules.0.insert(t.business_number_id, read.clone());
                read
            }
        };
        let window_episode = store.window_episode(t.identity_id).await?;
        let solved_at = if t.status == TicketStatus::Solved { store.solved_at(t.id).await? } else { None };
        Ok(Some(TicketFacts { summary, schedule, window_episode, solved_at }))
    }

    /// The context rules are evaluated in, for `event` at `now`.
    pub fn context<'a>(&'a self, state: &AppState, event: EventFacts<'a>, now: Timestamp) -> RuleContext<'a> {
        let t = &self.summary.ticket;
        RuleContext {
            event: event.event,
            ticket_id: t.id,
            business_number_id: t.business_number_id,
            status: t.status,
            priority: self.summary.priority,
            tags: &self.summary.tags,
            assignee_id: t.assignee_id,
            created_at: t.created_at,
            solved_at: self.solved_at,
            message_text: event.message_text,
            first_message: event.first_message,
            window: self.summary.window,
            policy: state.policy,
            window_episode: self.window_episode,
            schedule: self.schedule.as_ref(),
            now,
            caused_by_rule: event.caused_by_rule,
        }
    }
}
