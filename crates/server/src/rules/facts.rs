//! What rules look at on a ticket (SPEC 10): the ticket with its tags, priority and window, its
//! number's business hours, the customer's window episode and when the ticket was solved, read once
//! and turned into the core's [`RuleContext`] for an event. The rules worker and the rule builder's
//! dry run both read tickets through here, so a dry run sees exactly what the worker would.

use std::collections::HashMap;

use windowdesk_core::hours::Schedule;
use windowdesk_core::rules::{Event, MessageText};
use windowdesk_core::{RuleContext, Timestamp};
use windowdesk_store::RuleTicket;

use crate::AppState;

/// A ticket as rules see it: as the store reads it for rules, with its number's business hours.
#[derive(Clone, Debug)]
pub struct TicketFacts {
    pub read: RuleTicket,
    pub schedule: Option<Schedule>,
}

/// The business hours of each number, as read once.
#[derive(Default)]
pub struct Schedules(HashMap<i64, Option<Schedule>>);

impl Schedules {
    /// The number's schedule (`None`: always open), read the first time it is asked for.
    pub async fn get(&mut self, state: &AppState, number: i64) -> anyhow::Result<Option<&Schedule>> {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.0.entry(number) {
            slot.insert(crate::hours::of_number(state, number).await?);
        }
        Ok(self.known(number))
    }

    /// The schedule of a number already read with [`Schedules::get`]; `None` for one that has none
    /// (or was not read).
    pub fn known(&self, number: i64) -> Option<&Schedule> {
        self.0.get(&number).and_then(Option::as_ref)
    }
}

/// The event's side of a [`RuleContext`]: what happened, and the customer message it carries.
#[derive(Clone, Copy, Debug)]
pub struct EventFacts<'a> {
    pub event: Event,
    pub message_text: Option<&'a MessageText>,
    pub first_message: bool,
    pub caused_by_rule: bool,
}

impl TicketFacts {
    /// `None` when the ticket does not exist. The numbers' schedules are read once per `schedules`
    /// (the rules worker keeps one per round, the dry run one per run).
    pub async fn load_with(state: &AppState, ticket_id: i64, schedules: &mut Schedules) -> anyhow::Result<Option<TicketFacts>> {
        let Some(read) = state.store.rule_tickets(&[ticket_id]).await?.pop() else { return Ok(None) };
        Ok(Some(Self::of(state, read, schedules).await?))
    }

    /// The facts of a ticket the store read for rules.
    pub async fn of(state: &AppState, read: RuleTicket, schedules: &mut Schedules) -> anyhow::Result<TicketFacts> {
        let schedule = schedules.get(state, read.summary.ticket.business_number_id).await?.cloned();
        Ok(TicketFacts { read, schedule })
    }

    /// The context rules are evaluated in, for `event` at `now`.
    pub fn context<'a>(&'a self, state: &AppState, event: EventFacts<'a>, now: Timestamp) -> RuleContext<'a> {
        let summary = &self.read.summary;
        let t = &summary.ticket;
        RuleContext {
            event: event.event,
            ticket_id: t.id,
            business_number_id: t.business_number_id,
            status: t.status,
            priority: summary.priority,
            tags: &summary.tags,
            assignee_id: t.assignee_id,
            created_at: t.created_at,
            status_changed_at: self.read.status_changed_at,
            solved_at: self.read.solved_at,
            last_agent_reply_at: self.read.last_agent_reply_at,
            message_text: event.message_text,
            first_message: event.first_message,
            window: summary.window,
            policy: state.policy,
            window_episode: self.read.window_episode,
            schedule: self.schedule.as_ref(),
            now,
            caused_by_rule: event.caused_by_rule,
        }
    }
}
