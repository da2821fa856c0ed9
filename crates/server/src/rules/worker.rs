//! The rules worker (SPEC 10, issue 13 item 5): runs the triggers on every event that can set them
//! off, once, on one instance at a time.
//!
//! - **Where events come from.** The database writes a `rule_queue` row with every inbound customer
//!   message and every ticket event that can set off a trigger, in the same transaction as the event
//!   (`0015_rule_queue.sql`; since `0016`, the entry carries what the worker needs of its event, so a
//!   round reads its queue alone). Nothing the desk acknowledged is missed after a crash, and nothing is
//!   queued for a transaction that rolled back.
//! - **One instance.** The worker runs where it holds the `rules` lease; another instance takes
//!   over when it stops renewing it.
//! - **Once.** Before a rule's actions run, its firing is recorded with a key unique per (rule,
//!   trigger) and, for once-per-episode rules, per (rule, ticket, episode). If the worker dies
//!   between that record and the actions, the actions are not replayed: a rule does its thing at
//!   most once per event, never twice.
//! - **No loops.** A change a rule or workflow made (actor `rule:<id>`, `workflow:<id>`), and the
//!   failed delivery of a message one of them sent, set off no rule and no workflow.
//! - **Workflows** on an event are matched as rules are ([`super::workflows`]); one that matches
//!   is set off as a run due at once, which the workflow runner takes from there.
//! - **Order.** Entries are taken in id order; every rule sees the ticket as it is when the worker
//!   looks, and the rules that match run in their visible order (position, then id).

use std::collections::HashMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use windowdesk_core::rules::{evaluate, may_match, message_needs, Event, EventOnly, MessageText, WindowEpisode};
use windowdesk_core::{CustomerWindow, Rule, RuleContext};
use windowdesk_store::{EventRow, FieldFiring, MessageReads, RuleFiring, RuleMessage, RuleQueueItem, RuleSource, RuleTicket};

use super::facts::{EventFacts, Schedules, TicketFacts};
use super::run::{field_firing, run_firing, RuleRun};
use super::workflows::{starts_for_event, Startable, WorkflowCache};
use crate::metrics::Metrics;
use crate::singleton::Singleton;
use crate::AppState;

/// Entries taken per round.
const BATCH: u32 = 200;
/// Field changes of at most this many events wait to be written together: enough to spare a commit
/// per event, few enough that the write is short and webhooks waiting for the same SQLite writer
/// are not held up (200 at once held it long enough to cost ingest 60% of its throughput).
const FLUSH_EVERY: usize = 16;
/// An entry whose round failed this often on a database error is given up, with an event on the
/// ticket that says so.
const MAX_ATTEMPTS: i32 = 5;
/// The worker looks at least this often, for events from other instances it did not hear about.
const POLL: Duration = Duration::from_secs(1);
/// Woken by an event, the worker waits this long before it looks, so a burst of events is taken in
/// a few batches rather than one round (one read of the rules, one queue read, one commit) per
/// event competing with the webhooks that write them. A rule answers at most this much later.
const SETTLE: Duration = Duration::from_millis(100);

pub struct RulesWorker {
    state: AppState,
    lease: Singleton,
    triggers: tokio::sync::Mutex<super::TriggerCache>,
    workflows: tokio::sync::Mutex<WorkflowCache>,
}

/// What one queue entry sets off.
struct Trigger {
    events: Vec<Event>,
    /// `message:<id>` or `event:<id>`: unique per rule in `rule_firings`.
    key: String,
    /// The customer message, folded once for every rule's message conditions.
    message_text: Option<MessageText>,
    first_message: bool,
    caused_by_rule: bool,
    /// The rules that may fire ([`candidates`]); a rule that matches is among them.
    candidates: Vec<usize>,
}

/// The rules (their indices) that may fire on what an entry sets off, given its events and its
/// message: most entries have none, and nothing more is read for them; the others are evaluated
/// against these alone.
fn candidates(rules: &[Rule], trigger: &Trigger) -> Vec<usize> {
    if trigger.caused_by_rule {
        return Vec::new();
    }
    let events: Vec<EventOnly<'_>> = trigger
        .events
        .iter()
        .map(|event| EventOnly {
            event: *event,
            message_text: trigger.message_text.as_ref(),
            first_message: trigger.first_message,
            caused_by_rule: trigger.caused_by_rule,
        })
        .collect();
    (0..rules.len()).filter(|i| events.iter().any(|e| may_match(&rules[*i], e))).collect()
}

/// The tickets of one round, read together, their numbers' schedules, and the field changes
/// waiting to be written.
struct Tickets {
    read: HashMap<i64, RuleTicket>,
    schedules: Schedules,
    pending: Vec<Pending>,
    /// The round's rules are the triggers, then these workflows as rules ([`Workflow::as_rule`]):
    /// an index from `n_rules` on is a workflow's.
    ///
    /// [`Workflow::as_rule`]: windowdesk_core::rules::workflow::Workflow::as_rule
    flows: Vec<Startable>,
    n_rules: usize,
}

/// One entry's field-only firings, held until the round writes them with others in one commit
/// ([`windowdesk_store::RuleStore::apply_field_firing_groups`]): rules that tag or prioritise every
/// message would otherwise cost a commit (an fsync on SQLite) per message.
struct Pending {
    /// Index of the entry in the round.
    entry: usize,
    ticket_id: i64,
    event: Event,
    fields: Vec<FieldFiring>,
}

impl Tickets {
    fn waits_for(&self, ticket_id: i64) -> bool {
        self.pending.iter().any(|p| p.ticket_id == ticket_id)
    }
}

impl RulesWorker {
    pub fn new(state: AppState) -> Self {
        let lease = Singleton::new("rules", Duration::from_secs(30), state.store.clone(), state.clock.clone());
        RulesWorker { state, lease, triggers: tokio::sync::Mutex::default(), workflows: tokio::sync::Mutex::default() }
    }

    /// Runs until `shutdown`: wakes on every live event (this instance's and, through the relay,
    /// the others'), and at least every second.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut heard = self.state.events.subscribe();
        loop {
            if self.lease.mine().await {
                loop {
                    match self.round().await {
                        Ok(taken) if taken == BATCH as usize => {}
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "the rules worker could not read its queue");
                            break;
                        }
                    }
                    if shutdown.is_cancelled() {
                        return;
                    }
                }
            }
            tokio::select! {
                _ = heard.recv() => {}
                () = tokio::time::sleep(POLL) => {}
                () = shutdown.cancelled() => return,
            }
            tokio::select! {
                () = tokio::time::sleep(SETTLE) => {}
                () = shutdown.cancelled() => return,
            }
            // What was heard while settling is in the queue the next round reads.
            while !matches!(
                heard.try_recv(),
                Err(tokio::sync::broadcast::error::TryRecvError::Empty | tokio::sync::broadcast::error::TryRecvError::Closed)
            ) {}
        }
    }

    /// One batch of the queue; returns how many entries it took.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let triggers = self.triggers.lock().await.get(self.state.store.as_ref()).await?;
        // Workflows set off by events are matched as rules are, after the triggers.
        let flows: Vec<Startable> =
            self.workflows.lock().await.get(&self.state).await?.iter().filter(|w| !w.workflow.event.is_automation()).cloned().collect();
        let n_rules = triggers.len();
        let rules: std::borrow::Cow<'_, [Rule]> = if flows.is_empty() {
            std::borrow::Cow::Borrowed(&triggers[..])
        } else {
            std::borrow::Cow::Owned(triggers.iter().cloned().chain(flows.iter().map(|w| w.rule.clone())).collect())
        };
        let rules = &rules[..];
        if rules.is_empty() {
            // Nothing can match: the entries are dropped unread.
            let dropped = self.state.store.rule_queue_drop(BATCH).await?;
            Metrics::inc(&self.state.metrics.rule_events, dropped);
            return Ok(usize::try_from(dropped).unwrap_or(usize::MAX));
        }
        // Whether a message was the first on its ticket, or opened the window, costs a read per
        // message: asked only when an enabled rule can use the answer.
        let needs = message_needs(rules);
        let reads = MessageReads { first_on_ticket: needs.first_message, previous_inbound: needs.window_opened };
        let items = self.state.store.rule_queue(BATCH, reads).await?;
        // What each entry sets off, and the tickets of those some rule may fire on, read together.
        let mut triggers = Vec::with_capacity(items.len());
        for item in &items {
            triggers.push(self.trigger(rules, item).await.map(|t| {
                t.and_then(|mut t| {
                    t.candidates = candidates(rules, &t);
                    (!t.candidates.is_empty()).then_some(t)
                })
            }));
        }
        let wanted: Vec<i64> = items.iter().zip(&triggers).filter(|(_, t)| matches!(t, Ok(Some(_)))).map(|(i, _)| i.ticket_id).collect();
        let mut tickets = Tickets { read: HashMap::new(), schedules: Schedules::default(), pending: Vec::new(), flows, n_rules };
        if !wanted.is_empty() {
            let mut unique = wanted;
            unique.sort_unstable();
            unique.dedup();
            for t in self.state.store.rule_tickets(&unique).await? {
                tickets.read.insert(t.summary.ticket.id, t);
            }
        }
        let mut outcomes: Vec<anyhow::Result<()>> = Vec::with_capacity(items.len());
        for (i, (item, trigger)) in items.iter().zip(&triggers).enumerate() {
            // A rule sees the ticket with every change made before: the ones waiting are written first.
            if tickets.waits_for(item.ticket_id) || tickets.pending.len() >= FLUSH_EVERY {
                self.flush(rules, &items, &triggers, &mut tickets, &mut outcomes).await;
            }
            outcomes.push(match trigger {
                Ok(Some(trigger)) => self.handle(rules, (i, item), trigger, &mut tickets, true).await,
                Ok(None) => Ok(()),
                Err(e) => Err(anyhow::anyhow!("{e:#}")),
            });
        }
        self.flush(rules, &items, &triggers, &mut tickets, &mut outcomes).await;
        let mut done = Vec::with_capacity(items.len());
        for (item, handled) in items.iter().zip(outcomes) {
            match handled {
                Ok(()) => done.push(item.id),
                Err(e) => {
                    let attempts = self.state.store.rule_queue_failed(item.id, &format!("{e:#}")).await?;
                    tracing::warn!(entry = item.id, ticket_id = item.ticket_id, attempts, error = %e, "rules could not run on an event");
                    if attempts >= MAX_ATTEMPTS {
                        let data = serde_json::json!({"error": format!("{e:#}"), "attempts": attempts});
                        let now = self.state.clock.now();
                        let _ = self.state.store.record_rule_run(item.ticket_id, "system", data, now).await;
                        done.push(item.id);
                    }
                }
            }
        }
        // Should this fail, the entries come back and their firings are already recorded: nothing
        // runs twice.
        self.state.store.rule_queue_done(&done).await?;
        Metrics::inc(&self.state.metrics.rule_events, done.len() as u64);
        Ok(if done.len() < items.len() { 0 } else { items.len() })
    }

    /// Runs the rules on one entry that some rule may fire on. With `defer`, an event whose firings
    /// only change fields leaves them in `tickets.pending` for [`RulesWorker::flush`].
    async fn handle(
        &self,
        rules: &[Rule],
        (entry, item): (usize, &RuleQueueItem),
        trigger: &Trigger,
        tickets: &mut Tickets,
        defer: bool,
    ) -> anyhow::Result<()> {
        // The ticket as read with the batch, unless a rule changed it since; then as it is now.
        let read = match tickets.read.remove(&item.ticket_id) {
            Some(read) => Some(read),
            None => self.state.store.rule_tickets(&[item.ticket_id]).await?.pop(),
        };
        let Some(read) = read else { return Ok(()) };
        let facts = TicketFacts::of(&self.state, read, &mut tickets.schedules).await?;
        let now = self.state.clock.now();
        let mut fired = false;
        // A message that also opened the window runs two events: written as it goes, in order.
        let defer = defer && trigger.events.len() == 1;
        for event in &trigger.events {
            let happened = EventFacts {
                event: *event,
                message_text: trigger.message_text.as_ref(),
                first_message: trigger.first_message,
                caused_by_rule: trigger.caused_by_rule,
            };
            let ctx = facts.context(&self.state, happened, now);
            let n_rules = tickets.n_rules;
            let firings = evaluate(trigger.candidates.iter().filter(|i| **i < n_rules).map(|i| &rules[*i]), &ctx);
            fired |= !firings.is_empty();
            let flows = trigger.candidates.iter().filter_map(|i| i.checked_sub(n_rules)).map(|j| &tickets.flows[j]);
            let starts = starts_for_event(flows, &ctx, &trigger.key);
            if !starts.is_empty() {
                // Due at once: the runner (on any instance) takes them from here.
                self.state.store.start_workflow_runs(&starts, now).await?;
                self.state.workflow_wake.notify_one();
            }
            let runs: Vec<(RuleRun<'_>, RuleFiring)> = firings
                .into_iter()
                .map(|firing| {
                    let record = RuleFiring {
                        rule_id: firing.rule.id,
                        ticket_id: item.ticket_id,
                        episode_key: firing.episode.as_ref().map(|k| k.episode.clone()),
                        trigger_key: trigger.key.clone(),
                        at: now,
                    };
                    (RuleRun { rule: firing.rule, ctx: &ctx, trigger: &trigger.key, dedupe: None }, record)
                })
                .collect();
            // Rules that only change fields are written together, in one transaction with their
            // firing records and events; any other rule runs on its own, after those before it.
            let mut as_fields: Vec<Option<FieldFiring>> = runs.iter().map(|(run, record)| field_firing(run, record.clone())).collect();
            if defer && as_fields.iter().all(Option::is_some) {
                if !as_fields.is_empty() {
                    tickets.pending.push(Pending {
                        entry,
                        ticket_id: item.ticket_id,
                        event: *event,
                        fields: as_fields.into_iter().flatten().collect(),
                    });
                }
            } else {
                let mut fields: Vec<FieldFiring> = Vec::new();
                for ((run, record), as_field) in runs.iter().zip(as_fields.iter_mut()) {
                    if let Some(f) = as_field.take() {
                        fields.push(f);
                        continue;
                    }
                    self.apply_fields(rules, &ctx, &trigger.key, std::mem::take(&mut fields)).await?;
                    self.fire(run, record).await?;
                }
                self.apply_fields(rules, &ctx, &trigger.key, fields).await?;
            }
        }
        if !fired {
            // Nothing changed the ticket: a later entry on it in this round may use the same read.
            tickets.read.insert(item.ticket_id, facts.read);
        }
        Ok(())
    }

    /// Writes the field changes waiting in `tickets.pending`, one group per entry, in one commit.
    /// An entry whose group could not be written (its ticket was closed meanwhile) runs again on
    /// its own, writing as it goes, so each of its firings records its own outcome; that run's
    /// result becomes the entry's.
    async fn flush(
        &self,
        rules: &[Rule],
        items: &[RuleQueueItem],
        triggers: &[anyhow::Result<Option<Trigger>>],
        tickets: &mut Tickets,
        outcomes: &mut [anyhow::Result<()>],
    ) {
        let pending = std::mem::take(&mut tickets.pending);
        if pending.is_empty() {
            return;
        }
        let groups: Vec<Vec<FieldFiring>> = pending.iter().map(|p| p.fields.clone()).collect();
        let written: Vec<Option<Vec<bool>>> = match self.state.store.apply_field_firing_groups(&groups).await {
            Ok(results) => results
                .into_iter()
                .zip(&pending)
                .map(|(r, p)| {
                    r.map_err(|e| tracing::debug!(ticket_id = p.ticket_id, error = %e, "field-only rules could not be applied together; the event runs again on its own"))
                        .ok()
                })
                .collect(),
            Err(e) => {
                tracing::debug!(error = %e, events = groups.len(), "field changes could not be written together; each event runs again on its own");
                vec![None; pending.len()]
            }
        };
        for (p, written) in pending.iter().zip(written) {
            let Ok(Some(trigger)) = &triggers[p.entry] else { continue };
            match written {
                Some(applied) => self.applied(p.ticket_id, p.event, &trigger.key, &p.fields, &applied),
                None => {
                    let item = &items[p.entry];
                    tickets.read.remove(&item.ticket_id);
                    outcomes[p.entry] = self.handle(rules, (p.entry, item), trigger, tickets, false).await;
                }
            }
        }
    }

    /// Logs and counts field-only firings that were written, and tells the live pages.
    fn applied(&self, ticket_id: i64, event: Event, trigger: &str, fields: &[FieldFiring], applied: &[bool]) {
        for (f, done) in fields.iter().zip(applied) {
            if *done {
                tracing::info!(ticket_id, rule = f.firing.rule_id, event = event.as_str(), trigger, "rule applied");
            } else {
                tracing::debug!(rule = f.firing.rule_id, ticket_id, trigger, "already fired for this event or episode");
            }
        }
        let n = applied.iter().filter(|d| **d).count();
        Metrics::inc(&self.state.metrics.rules_fired, n as u64);
        if n > 0 {
            self.state.events.ticket(ticket_id);
        }
    }

    /// Records the firing and runs its actions, unless the rule already fired for this event or
    /// episode.
    async fn fire(&self, run: &RuleRun<'_>, record: &RuleFiring) -> anyhow::Result<()> {
        if !self.state.store.record_firing(record).await? {
            tracing::debug!(rule = record.rule_id, ticket_id = record.ticket_id, trigger = %record.trigger_key, "already fired for this event or episode");
            return Ok(());
        }
        Metrics::inc(&self.state.metrics.rules_fired, 1);
        run_firing(&self.state, run).await;
        Ok(())
    }

    /// Writes field-only firings in one transaction. Should that fail (the ticket was closed
    /// meanwhile), each runs on its own, so each records its own outcome.
    async fn apply_fields(&self, rules: &[Rule], ctx: &RuleContext<'_>, trigger: &str, fields: Vec<FieldFiring>) -> anyhow::Result<()> {
        if fields.is_empty() {
            return Ok(());
        }
        let ticket_id = ctx.ticket_id;
        match self.state.store.apply_field_firings(&fields).await {
            Ok(applied) => self.applied(ticket_id, ctx.event, trigger, &fields, &applied),
            Err(e) => {
                tracing::debug!(ticket_id, error = %e, "field-only rules could not be applied together; each runs on its own");
                for f in fields {
                    let Some(rule) = rules.iter().find(|r| r.id == f.firing.rule_id) else { continue };
                    self.fire(&RuleRun { rule, ctx, trigger, dedupe: None }, &f.firing).await?;
                }
            }
        }
        Ok(())
    }

    /// What the entry sets off, or `None` for entries that set off nothing.
    async fn trigger(&self, rules: &[Rule], item: &RuleQueueItem) -> anyhow::Result<Option<Trigger>> {
        Ok(match &item.source {
            RuleSource::Gone => None,
            RuleSource::Message(m) => Some(self.message_trigger(m)),
            RuleSource::Event(e) => self.event_trigger(rules, item, e).await?,
        })
    }

    fn message_trigger(&self, m: &RuleMessage) -> Trigger {
        let mut events = vec![Event::MessageReceived];
        // Did this message open the customer's window? Exactly when the core would start a new
        // episode with it, given the message before it (earlier, or as early and written before it:
        // three images sent in one second open one window, not three).
        // Not read (`None`) when no enabled rule runs on `window_opened`.
        if let Some(previous) = m.previous_inbound_at {
            let before = CustomerWindow { last_inbound_at: previous, ..CustomerWindow::default() };
            if WindowEpisode::after_inbound(None, &before, self.state.policy, m.sent_at).started_at == m.sent_at
                && previous.is_none_or(|p| p < m.sent_at)
            {
                events.push(Event::WindowOpened);
            }
        }
        Trigger {
            events,
            key: format!("message:{}", m.id),
            message_text: m.body.as_deref().map(MessageText::new),
            // Not read (`None`) when no enabled rule asks; then no rule's firing depends on it.
            first_message: m.first_on_ticket.unwrap_or(false),
            caused_by_rule: false,
            candidates: Vec::new(),
        }
    }

    async fn event_trigger(&self, rules: &[Rule], item: &RuleQueueItem, e: &EventRow) -> anyhow::Result<Option<Trigger>> {
        let event = match e.kind.as_str() {
            "ticket_created" => Event::TicketCreated,
            "status_changed" | "assignee_changed" | "tags_changed" | "priority_changed" => Event::TicketUpdated,
            "delivery_failed" | "delivery_blocked" | "held_reply_expired" | "delivery_status" => Event::DeliveryFailed,
            _ => return Ok(None),
        };
        // No rule runs on this event: nothing more is read.
        if !rules.iter().any(|r| r.event == event) {
            return Ok(None);
        }
        let mut caused_by_rule = automated(&e.actor);
        let (mut message_text, mut first_message) = (None, false);
        match event {
            Event::TicketCreated => {
                // The message that opened the ticket is committed with it.
                let messages = self.state.store.ticket_messages(item.ticket_id).await?;
                message_text = messages
                    .iter()
                    .find(|m| m.direction == windowdesk_store::Direction::Inbound)
                    .and_then(|m| m.body.as_deref())
                    .map(MessageText::new);
                first_message = true;
            }
            Event::DeliveryFailed => {
                // A rule that answers failures must not answer the failure of its own message.
                caused_by_rule |= self.failed_message_author(item.ticket_id, e).await?.is_some_and(|a| automated(&a));
            }
            _ => {}
        }
        Ok(Some(Trigger {
            events: vec![event],
            key: format!("event:{}", e.id),
            message_text,
            first_message,
            caused_by_rule,
            candidates: Vec::new(),
        }))
    }

    /// Who wrote the message whose delivery failed, named by id (`message_id`) or by `wamid`.
    async fn failed_message_author(&self, ticket_id: i64, e: &EventRow) -> anyhow::Result<Option<String>> {
        let id = e.data.get("message_id").and_then(serde_json::Value::as_i64);
        let wamid = e.data.get("wamid").and_then(serde_json::Value::as_str);
        let messages = self.state.store.ticket_messages(ticket_id).await?;
        Ok(messages.into_iter().find(|m| Some(m.id) == id || (wamid.is_some() && m.wamid.as_deref() == wamid)).and_then(|m| m.author))
    }
}

/// Whether an actor is a rule or a workflow (`rule:<id>`, `workflow:<id>`): what they change and
/// send sets off no rule or workflow, so none can set itself off again.
fn automated(actor: &str) -> bool {
    actor.starts_with("rule:") || actor.starts_with("workflow:")
}
