//! The automations worker (SPEC 10 and 12, issue 14 items 1, 2 and 6): time-based rules, armed by a
//! sweep over the open tickets and run once each when due, on one instance.
//!
//! - **The sweep** (one instance at a time: the `automations` lease) reads every ticket that is not
//!   closed, page by page, and asks the core when each enabled automation is due for it
//!   ([`windowdesk_core::rules::due`]), from the ticket's last change (or the rule's, or just past the
//!   overdue limit) to a little past the next sweep. What is due in that range is armed in
//!   `automation_runs`, keyed by (rule, ticket, episode): arming again what is armed moves at most
//!   its due time, and an episode that fired or expired is never armed again.
//! - **Executions** are claimed by every instance once due (`FOR UPDATE SKIP LOCKED` on PostgreSQL)
//!   with a claim that runs out, so one whose instance died is taken over. Each is checked again
//!   ([`windowdesk_core::rules::recheck`]) against the ticket as it is now: switched off, episode
//!   moved or conditions gone is skipped with the reason, overdue past the limit expires, due later
//!   after all is armed again for then, and otherwise its actions run.
//! - **Workflows** with `"event": "automation"` are armed by the same sweep, as workflow runs keyed
//!   by their episode; the workflow runner ([`super::workflows`]) checks each again when due.
//! - **Once.** The firing is recorded with its episode key in `rule_firings` (unique per rule,
//!   ticket and episode) before the actions run, and each send carries a dedupe key
//!   (`automation_run:<id>:action:<n>`): an execution taken over after its instance died mid-way runs
//!   its actions again without queueing a message twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use windowdesk_core::rules::{due, recheck, sweep_range, Armed, Event, Verdict};
use windowdesk_core::{Rule, RuleContext, TicketStatus, Timestamp};
use windowdesk_store::{ArmRun, AutomationRun, NewWorkflowRun, RuleFiring, RuleRow, RunFinish, SweepTicket};

use super::facts::{EventFacts, Schedules, TicketFacts};
use super::run::{run_firing, RuleRun};
use crate::metrics::Metrics;
use crate::singleton::Singleton;
use crate::AppState;

/// Tickets read per page of the sweep: one read transaction each.
const PAGE: u32 = 5_000;
/// Executions claimed at a time.
const CLAIM: u32 = 100;
/// Instances look for due executions at least this often.
const POLL: Duration = Duration::from_secs(1);

/// How the worker is tuned (`[rules]` in the configuration).
#[derive(Clone, Copy, Debug)]
pub struct AutomationSettings {
    pub sweep_interval: Duration,
    pub overdue_limit: Duration,
    pub claim: Duration,
}

impl AutomationSettings {
    /// The sweep arms what is due before its next run, with room for a late one.
    pub fn lookahead(&self) -> Duration {
        self.sweep_interval * 2
    }
}

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub tickets: u64,
    pub automations: u64,
    /// Executions found due in the range looked at.
    pub due: u64,
    /// Of those, newly armed (or moved).
    pub armed: u64,
}

pub struct AutomationsWorker {
    state: AppState,
    settings: AutomationSettings,
    lease: Singleton,
    owner: String,
}

/// The enabled automations, checked, with when each was last saved (a rule applies from then).
fn automations_of(rows: &[RuleRow]) -> Vec<(Rule, Timestamp)> {
    rows.iter()
        .filter(|row| row.enabled)
        .filter_map(|row| match super::rule_of(row) {
            Ok(rule) if rule.event == Event::Automation => Some((rule, row.updated_at)),
            Ok(_) => None,
            Err(e) => {
                tracing::error!(rule = row.id, error = %e, "a stored rule cannot run");
                None
            }
        })
        .collect()
}

/// The context automations are evaluated in for a ticket the sweep read.
fn sweep_context<'a>(
    state: &AppState,
    t: &'a SweepTicket,
    schedule: Option<&'a windowdesk_core::hours::Schedule>,
    now: Timestamp,
) -> RuleContext<'a> {
    RuleContext {
        event: Event::Automation,
        ticket_id: t.id,
        business_number_id: t.business_number_id,
        status: t.status,
        priority: t.priority,
        tags: &t.tags,
        assignee_id: t.assignee_id,
        created_at: t.created_at,
        status_changed_at: t.status_changed_at,
        solved_at: t.solved_at,
        last_agent_reply_at: t.last_agent_reply_at,
        message_text: None,
        first_message: false,
        window: t.window,
        policy: state.policy,
        window_episode: t.window_episode,
        schedule,
        now,
        caused_by_rule: false,
    }
}

impl AutomationsWorker {
    pub fn new(state: AppState, settings: AutomationSettings) -> Self {
        let lease = Singleton::new("automations", Duration::from_secs(30), state.store.clone(), state.clock.clone());
        let owner = crate::singleton::instance_id();
        AutomationsWorker { state, settings, lease, owner }
    }

    /// Runs until `shutdown`: sweeps every `sweep_interval` while this instance holds the lease, and
    /// runs due executions every second on every instance.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        // Two tasks: a backlog of executions (a new rule due on every ticket) never holds up the
        // sweep that arms the next ones, and a sweep never holds up executions that are due.
        let executing = tokio::spawn(this.clone().execute_loop(shutdown.clone()));
        this.sweep_loop(shutdown).await;
        let _ = executing.await;
        this.lease.release().await;
    }

    async fn sweep_loop(&self, shutdown: CancellationToken) {
        loop {
            // On the process's own timer, so a sweep comes every interval whatever the desk's clock does.
            let next = tokio::time::Instant::now() + self.settings.sweep_interval;
            if self.lease.mine().await {
                if let Err(e) = self.sweep().await {
                    tracing::warn!(error = %e, "the automation sweep failed; it runs again at the next interval");
                }
            }
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    async fn execute_loop(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            loop {
                match self.execute_due().await {
                    Ok(n) if n == CLAIM as usize && !shutdown.is_cancelled() => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "due automations could not be run; trying again shortly");
                        break;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// One sweep over every open ticket: arms what is due before the next sweep.
    pub async fn sweep(&self) -> anyhow::Result<SweepReport> {
        let started = std::time::Instant::now();
        let mut reading = Duration::ZERO;
        let now = self.state.clock.now();
        let automations = automations_of(&self.state.store.rules().await?);
        // Automation workflows are armed alongside, as runs that are checked again when due.
        let workflows: Vec<super::workflows::Startable> =
            super::workflows::startable(&self.state).await?.into_iter().filter(|w| w.workflow.event.is_automation()).collect();
        let mut report = SweepReport { automations: (automations.len() + workflows.len()) as u64, ..SweepReport::default() };
        if automations.is_empty() && workflows.is_empty() {
            return Ok(report);
        }
        let mut schedules = Schedules::default();
        let mut after = 0;
        loop {
            let read = std::time::Instant::now();
            let page = self.state.store.sweep_tickets(after, PAGE).await?;
            reading += read.elapsed();
            let Some(last) = page.last() else { break };
            after = last.id;
            report.tickets += page.len() as u64;
            for number in page.iter().map(|t| t.business_number_id).collect::<std::collections::BTreeSet<_>>() {
                schedules.get(&self.state, number).await?;
            }
            let mut found = Vec::new();
            let mut found_runs = Vec::new();
            for ticket in &page {
                let ctx = sweep_context(&self.state, ticket, schedules.known(ticket.business_number_id), now);
                let range =
                    |saved_at| sweep_range(ticket.changed_at, saved_at, now, self.settings.overdue_limit, self.settings.lookahead());
                for (rule, saved_at) in &automations {
                    let (since, until) = range(*saved_at);
                    if let Some(d) = due(rule, &ctx, since, until) {
                        found.push(ArmRun { rule_id: rule.id, ticket_id: ticket.id, episode_key: d.episode.episode, due_at: d.at });
                    }
                }
                for w in &workflows {
                    let (since, until) = range(w.saved_at);
                    if let Some(d) = due(&w.rule, &ctx, since, until) {
                        found_runs.push(NewWorkflowRun {
                            workflow_id: w.workflow.id,
                            ticket_id: ticket.id,
                            start_key: d.episode.episode,
                            definition: w.definition.clone(),
                            started: false,
                            resume_at: d.at,
                        });
                    }
                }
            }
            report.due += (found.len() + found_runs.len()) as u64;
            if !found_runs.is_empty() {
                let known = self.state.store.workflow_runs_known(&found_runs).await?;
                let new: Vec<NewWorkflowRun> = found_runs.into_iter().zip(known).filter(|(_, known)| !known).map(|(r, _)| r).collect();
                report.armed += self.state.store.start_workflow_runs(&new, now).await?;
            }
            if !found.is_empty() {
                // A read first: what is already armed or done costs the writer nothing.
                let known = self.state.store.automation_runs_known(&found).await?;
                let new: Vec<ArmRun> = found.into_iter().zip(known).filter(|(_, known)| !known).map(|(r, _)| r).collect();
                report.armed += self.state.store.arm_automations(&new, now).await?;
            }
            if page.len() < PAGE as usize {
                break;
            }
        }
        Metrics::inc(&self.state.metrics.automation_sweeps, 1);
        let took = started.elapsed();
        let m = &self.state.metrics;
        m.automation_sweep_last_ms.store(u64::try_from(took.as_millis()).unwrap_or(u64::MAX), std::sync::atomic::Ordering::Relaxed);
        m.automation_sweep_last_read_ms.store(u64::try_from(reading.as_millis()).unwrap_or(u64::MAX), std::sync::atomic::Ordering::Relaxed);
        m.automation_sweep_last_tickets.store(report.tickets, std::sync::atomic::Ordering::Relaxed);
        let (ms, read_ms) = (took.as_millis(), reading.as_millis());
        if report.armed > 0 || took > Duration::from_secs(1) {
            tracing::info!(
                tickets = report.tickets,
                automations = report.automations,
                due = report.due,
                armed = report.armed,
                ms,
                read_ms,
                "automation sweep"
            );
        } else {
            tracing::debug!(tickets = report.tickets, automations = report.automations, due = report.due, ms, read_ms, "automation sweep");
        }
        Ok(report)
    }

    /// Claims and runs the executions due now; returns how many it claimed.
    pub async fn execute_due(&self) -> anyhow::Result<usize> {
        let now = self.state.clock.now();
        let claimed = self.state.store.claim_automation_runs(&self.owner, now, now.plus(self.settings.claim), CLAIM).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let rules: HashMap<i64, Rule> =
            self.state.store.rules().await?.iter().filter_map(|row| super::rule_of(row).ok().map(|rule| (row.id, rule))).collect();
        let mut schedules = Schedules::default();
        for run in &claimed {
            let finish = match self.execute(run, &rules, &mut schedules).await {
                Ok(finish) => finish,
                Err(e) => {
                    // Left running: the claim runs out and the execution is tried again.
                    tracing::warn!(run = run.id, ticket_id = run.ticket_id, error = %e, "an automation could not run; it is tried again");
                    continue;
                }
            };
            let metric = match &finish {
                RunFinish::Fired { .. } => &self.state.metrics.automations_fired,
                RunFinish::Skipped { .. } => &self.state.metrics.automations_skipped,
                RunFinish::Expired { .. } => &self.state.metrics.automations_expired,
                RunFinish::Rearm { .. } => &self.state.metrics.automations_rearmed,
            };
            Metrics::inc(metric, 1);
            if !self.state.store.finish_automation_run(run.id, &self.owner, &finish, self.state.clock.now()).await? {
                tracing::warn!(run = run.id, "an automation's claim ran out while it ran; another instance may have taken it over");
            }
        }
        Ok(claimed.len())
    }

    /// One execution: checked again, then run.
    async fn execute(&self, run: &AutomationRun, rules: &HashMap<i64, Rule>, schedules: &mut Schedules) -> anyhow::Result<RunFinish> {
        let Some(facts) = TicketFacts::load_with(&self.state, run.ticket_id, schedules).await? else {
            return Ok(RunFinish::Skipped { reason: "the ticket no longer exists".into() });
        };
        if facts.read.summary.ticket.status == TicketStatus::Closed {
            return Ok(RunFinish::Skipped { reason: "the ticket is closed".into() });
        }
        let now = self.state.clock.now();
        let event = EventFacts { event: Event::Automation, message_text: None, first_message: false, caused_by_rule: false };
        let ctx = facts.context(&self.state, event, now);
        let rule = rules.get(&run.rule_id);
        let armed = Armed { episode: run.episode_key.clone(), due_at: run.due_at };
        match recheck(rule, &ctx, &armed, self.settings.overdue_limit) {
            Verdict::NotYet { due_at } => Ok(RunFinish::Rearm { due_at }),
            Verdict::Skip { reason } => Ok(RunFinish::Skipped { reason }),
            Verdict::Expired { overdue } => Ok(RunFinish::Expired {
                reason: format!(
                    "overdue by {overdue}, more than the limit of {} min (rules.overdue_limit_minutes)",
                    self.settings.overdue_limit.as_secs() / 60
                ),
            }),
            Verdict::Fire => {
                let Some(rule) = rule else { return Ok(RunFinish::Skipped { reason: "the rule was deleted".into() }) };
                let trigger = format!("automation_run:{}", run.id);
                let firing = RuleFiring {
                    rule_id: rule.id,
                    ticket_id: run.ticket_id,
                    episode_key: Some(run.episode_key.clone()),
                    trigger_key: trigger.clone(),
                    at: now,
                };
                // A conflict on the first attempt is another firing in this episode; on a later
                // one, it is this execution's own, from an instance that died mid-way: the actions
                // run again, and their sends' dedupe keys queue nothing twice.
                if !self.state.store.record_firing(&firing).await? && run.attempts <= 1 {
                    return Ok(RunFinish::Skipped { reason: "already fired in this episode".into() });
                }
                Metrics::inc(&self.state.metrics.rules_fired, 1);
                let outcomes = run_firing(&self.state, &RuleRun { rule, ctx: &ctx, trigger: &trigger, dedupe: Some(&trigger) }).await;
                Ok(RunFinish::Fired { outcome: serde_json::to_value(&outcomes)? })
            }
        }
    }
}
