//! Workflow runs (SPEC 10, issue 14 item 3): ordered steps with a Window check, set off like a rule
//! and run step by step, on any instance, resumable after a restart.
//!
//! - **Set off.** A trigger workflow starts when the triggers worker sees its event and its
//!   conditions hold ([`starts_for_event`]): a run keyed by what set it off (`message:<id>`), due at
//!   once. An automation workflow is armed by the automation sweep as an automation is, keyed by
//!   its episode, and checked again when due ([`windowdesk_core::rules::recheck`]) before it starts.
//! - **Run.** Every instance claims due runs (`FOR UPDATE SKIP LOCKED` on PostgreSQL) with a claim
//!   that runs out. A claimed run goes from its cursor, one step at a time, each recorded with its
//!   outcome on the run and on the ticket, and the cursor moved, in one transaction:
//!   - *Window check*: the Open branch while free-form may go now (W4, W9: open before the send
//!     deadline), else the Closed branch;
//!   - *Condition*: the `then` branch when the conditions hold on the ticket as it is now, else `else`;
//!   - *Wait*: the run lets go, due again after the wait (in business hours, with `business_hours`);
//!   - *Do*: the action, as a rule's ([`super::run::run_action`]): every send through the send decision.
//! - **Once.** A run visits each step at most once (steps form a tree). A send carries the dedupe
//!   key `workflow_run:<id>:<path>` and an HTTP call the webhook id `wd_workflow_run_<id>_<path>`:
//!   a run taken over after its instance died mid-step does that step again without queueing
//!   anything twice (field changes are idempotent; a note may be added twice).
//! - A run goes on with the definition it started with; switching a workflow off or deleting it
//!   cancels its runs that are armed or waiting.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use windowdesk_core::rules::workflow::{Step, Workflow, WorkflowDraft};
use windowdesk_core::rules::workflow_path::{next_step, step_at, Arm, StepPath};
use windowdesk_core::rules::{matches, recheck, Armed, Verdict};
use windowdesk_core::{Rule, RuleContext, TicketStatus, Timestamp};
use windowdesk_store::{NewWorkflowRun, WorkflowRow, WorkflowRun, WorkflowRunFinish, WorkflowStepRecord, WorkflowWrite};

use super::facts::{EventFacts, Schedules, TicketFacts};
use super::run::{placeholder_values, run_action, ActionOutcome, Actor};
use crate::http_targets::Caller;
use crate::metrics::Metrics;
use crate::AppState;

/// Runs claimed at a time.
const CLAIM: u32 = 50;
/// Instances look for due runs at least this often (a trigger wakes the local one at once).
const POLL: Duration = Duration::from_secs(1);

/// What the store keeps of a draft that [`WorkflowDraft::validate`] accepted.
pub fn write_of(draft: &WorkflowDraft, actor: &str, now: Timestamp) -> Result<WorkflowWrite, windowdesk_core::rules::InvalidRule> {
    draft.validate(0)?;
    Ok(WorkflowWrite {
        name: draft.name.trim().to_owned(),
        enabled: draft.enabled,
        event: draft.event.as_str().to_owned(),
        workflow: serde_json::to_string(draft).expect("a workflow draft serializes"),
        actor: actor.to_owned(),
        now,
    })
}

/// The stored draft of a row; the columns are the truth for its name and whether it is on.
pub fn draft_of(row: &WorkflowRow) -> Result<WorkflowDraft, String> {
    let mut draft: WorkflowDraft =
        serde_json::from_str(&row.workflow).map_err(|e| format!("workflow {} is not a workflow: {e}", row.id))?;
    draft.name.clone_from(&row.name);
    draft.enabled = row.enabled;
    Ok(draft)
}

/// The checked workflow of a row.
pub fn workflow_of(row: &WorkflowRow) -> Result<Workflow, String> {
    draft_of(row)?.validate(row.id).map_err(|e| format!("workflow {} no longer validates: {e}", row.id))
}

/// An enabled workflow, ready to be set off: checked, with its draft JSON (what a run keeps) and
/// when it was last saved (an automation applies from then).
#[derive(Clone, Debug)]
pub struct Startable {
    pub workflow: Workflow,
    pub rule: Rule,
    pub definition: String,
    pub saved_at: Timestamp,
}

/// The enabled workflows, checked; one that no longer validates is left out and logged.
pub async fn startable(state: &AppState) -> anyhow::Result<Vec<Startable>> {
    Ok(startable_of(&state.store.workflows().await?))
}

pub fn startable_of(rows: &[WorkflowRow]) -> Vec<Startable> {
    rows.iter()
        .filter(|row| row.enabled)
        .filter_map(|row| match workflow_of(row) {
            Ok(workflow) => {
                let definition = draft_of(row).ok().and_then(|d| serde_json::to_string(&d).ok())?;
                Some(Startable { rule: workflow.as_rule(), workflow, definition, saved_at: row.updated_at })
            }
            Err(e) => {
                tracing::error!(workflow = row.id, error = %e, "a stored workflow cannot run");
                None
            }
        })
        .collect()
}

/// The workflows a trigger event sets off on a ticket: those on `ctx.event` whose conditions hold
/// (never on a change a rule or workflow made), as runs due now keyed by `key`.
pub fn starts_for_event<'w>(workflows: impl IntoIterator<Item = &'w Startable>, ctx: &RuleContext<'_>, key: &str) -> Vec<NewWorkflowRun> {
    workflows
        .into_iter()
        .filter(|w| !w.workflow.event.is_automation() && matches(&w.rule, ctx))
        .map(|w| NewWorkflowRun {
            workflow_id: w.workflow.id,
            ticket_id: ctx.ticket_id,
            start_key: key.to_owned(),
            definition: w.definition.clone(),
            started: true,
            resume_at: ctx.now,
        })
        .collect()
}

/// [`startable`] for a worker that asks many times a second: parsed again only when the rows change.
#[derive(Default)]
pub struct WorkflowCache {
    rows: Vec<WorkflowRow>,
    workflows: Arc<Vec<Startable>>,
}

impl WorkflowCache {
    pub async fn get(&mut self, state: &AppState) -> anyhow::Result<Arc<Vec<Startable>>> {
        let rows = state.store.workflows().await?;
        if rows != self.rows {
            self.workflows = Arc::new(startable_of(&rows));
            self.rows = rows;
        }
        Ok(self.workflows.clone())
    }
}

pub struct WorkflowsWorker {
    state: AppState,
    overdue_limit: Duration,
    claim: Duration,
    owner: String,
}

/// How a step went: what to record, and which branch it chose.
struct Stepped {
    ok: bool,
    outcome: String,
    taken: Option<Arm>,
    /// A wait: the run lets go until then.
    wait_until: Option<Timestamp>,
    /// The run cannot go on past this step, and fails with this reason.
    fail: Option<String>,
}

impl Stepped {
    fn went(ok: bool, outcome: impl Into<String>, taken: Option<Arm>) -> Self {
        Stepped { ok, outcome: outcome.into(), taken, wait_until: None, fail: None }
    }
}

impl WorkflowsWorker {
    pub fn new(state: AppState, settings: super::automations::AutomationSettings) -> Self {
        let owner = crate::singleton::instance_id();
        WorkflowsWorker { state, overdue_limit: settings.overdue_limit, claim: settings.claim, owner }
    }

    /// Runs due runs until `shutdown`, every second and whenever a trigger sets one off here.
    pub async fn run(self, shutdown: CancellationToken) {
        let wake = self.state.workflow_wake.clone();
        loop {
            loop {
                match self.execute_due().await {
                    Ok(n) if n == CLAIM as usize && !shutdown.is_cancelled() => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "due workflow runs could not be run; trying again shortly");
                        break;
                    }
                }
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Claims and runs the runs due now; returns how many it claimed.
    pub async fn execute_due(&self) -> anyhow::Result<usize> {
        let now = self.state.clock.now();
        let claimed = self.state.store.claim_workflow_runs(&self.owner, now, now.plus(self.claim), CLAIM).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let current: HashMap<i64, WorkflowRow> = self.state.store.workflows().await?.into_iter().map(|w| (w.id, w)).collect();
        let mut schedules = Schedules::default();
        for run in &claimed {
            let finish = match self.execute(run, &current, &mut schedules).await {
                Ok(Some(finish)) => finish,
                Ok(None) => {
                    tracing::warn!(run = run.id, "a workflow run's claim ran out while it ran; another instance may have taken it over");
                    continue;
                }
                Err(e) => {
                    // Left running: the claim runs out and the run is taken up again from its cursor.
                    tracing::warn!(run = run.id, ticket_id = run.ticket_id, error = %e, "a workflow run could not go on; it is tried again");
                    continue;
                }
            };
            let m = &self.state.metrics;
            let ended = match &finish {
                WorkflowRunFinish::Done => Some(&m.workflow_runs_done),
                WorkflowRunFinish::Skipped { .. } => Some(&m.workflow_runs_skipped),
                WorkflowRunFinish::Expired { .. } => Some(&m.workflow_runs_expired),
                WorkflowRunFinish::Failed { .. } => Some(&m.workflow_runs_failed),
                WorkflowRunFinish::Wait { .. } | WorkflowRunFinish::Rearm { .. } => None,
            };
            if let Some(counter) = ended {
                Metrics::inc(counter, 1);
            }
            if !self.state.store.finish_workflow_run(run.id, &self.owner, &finish, self.state.clock.now()).await? {
                tracing::warn!(run = run.id, "a workflow run's claim ran out while it ran; another instance may have taken it over");
            }
            self.state.events.ticket(run.ticket_id);
        }
        Ok(claimed.len())
    }

    /// One claimed run, from its cursor to a wait or its end. `None`: the claim was lost.
    async fn execute(
        &self,
        run: &WorkflowRun,
        current: &HashMap<i64, WorkflowRow>,
        schedules: &mut Schedules,
    ) -> anyhow::Result<Option<WorkflowRunFinish>> {
        let workflow = match serde_json::from_str::<WorkflowDraft>(&run.definition)
            .map_err(|e| e.to_string())
            .and_then(|d| d.validate(run.workflow_id).map_err(|e| e.to_string()))
        {
            Ok(w) => w,
            Err(e) => return Ok(Some(WorkflowRunFinish::Failed { reason: format!("the workflow as it started no longer reads: {e}") })),
        };
        let event = EventFacts { event: workflow.event, message_text: None, first_message: false, caused_by_rule: false };
        if !run.started {
            let Some(facts) = TicketFacts::load_with(&self.state, run.ticket_id, schedules).await? else {
                return Ok(Some(WorkflowRunFinish::Skipped { reason: "the ticket no longer exists".into() }));
            };
            if facts.read.summary.ticket.status == TicketStatus::Closed {
                return Ok(Some(WorkflowRunFinish::Skipped { reason: "the ticket is closed".into() }));
            }
            // Checked again as an automation is, against the workflow as it is now.
            let now_rule = current.get(&run.workflow_id).and_then(|row| workflow_of(row).ok()).map(|w| w.as_rule());
            let ctx = facts.context(&self.state, event, self.state.clock.now());
            let armed = Armed { episode: run.start_key.clone(), due_at: run.resume_at };
            match recheck(now_rule.as_ref(), &ctx, &armed, self.overdue_limit) {
                Verdict::NotYet { due_at } => return Ok(Some(WorkflowRunFinish::Rearm { resume_at: due_at })),
                Verdict::Skip { reason } => return Ok(Some(WorkflowRunFinish::Skipped { reason: reason.replace("rule", "workflow") })),
                Verdict::Expired { overdue } => {
                    return Ok(Some(WorkflowRunFinish::Expired {
                        reason: format!(
                            "overdue by {overdue}, more than the limit of {} min (rules.overdue_limit_minutes)",
                            self.overdue_limit.as_secs() / 60
                        ),
                    }))
                }
                Verdict::Fire => {
                    if !self.state.store.start_armed_workflow_run(run.id, &self.owner).await? {
                        return Ok(None);
                    }
                }
            }
        }
        let Some(cursor) = run.cursor.as_deref() else { return Ok(Some(WorkflowRunFinish::Done)) };
        let mut path: StepPath = match cursor.parse() {
            Ok(p) => p,
            Err(e) => return Ok(Some(WorkflowRunFinish::Failed { reason: e.to_string() })),
        };
        loop {
            let Some(step) = step_at(&workflow.steps, &path) else { return Ok(Some(WorkflowRunFinish::Done)) };
            // The ticket as it is now, before every step: an earlier step may have changed it.
            let Some(facts) = TicketFacts::load_with(&self.state, run.ticket_id, schedules).await? else {
                return Ok(Some(WorkflowRunFinish::Skipped { reason: format!("the ticket no longer exists (at {path})") }));
            };
            let now = self.state.clock.now();
            let ctx = facts.context(&self.state, event, now);
            let stepped = self.step(run, &workflow, &path, step, &ctx).await;
            let next = next_step(&workflow.steps, &path, stepped.taken);
            let record = WorkflowStepRecord {
                path: path.to_string(),
                kind: step.kind().to_owned(),
                ok: stepped.ok,
                outcome: stepped.outcome,
                at: now,
            };
            let next_text = next.as_ref().map(ToString::to_string);
            if !self.state.store.record_workflow_step(run, &self.owner, &workflow.name, &record, next_text.as_deref()).await? {
                return Ok(None);
            }
            Metrics::inc(&self.state.metrics.workflow_steps, 1);
            self.state.events.ticket(run.ticket_id);
            if let Some(reason) = stepped.fail {
                return Ok(Some(WorkflowRunFinish::Failed { reason: format!("{reason} ({path})") }));
            }
            match (next, stepped.wait_until) {
                (None, _) => return Ok(Some(WorkflowRunFinish::Done)),
                (Some(next), Some(resume_at)) => {
                    return Ok(Some(WorkflowRunFinish::Wait { cursor: next.to_string(), resume_at }));
                }
                (Some(next), None) => path = next,
            }
        }
    }

    /// Does one step on the ticket as `ctx` sees it.
    async fn step(
        &self,
        run: &WorkflowRun,
        workflow: &Workflow,
        path: &StepPath,
        step: &Step<windowdesk_core::placeholder::Text>,
        ctx: &RuleContext<'_>,
    ) -> Stepped {
        let now = ctx.now;
        match step {
            Step::WindowCheck { .. } => {
                let end = ctx.window.window_end(ctx.policy);
                let open = ctx.window.is_open(ctx.policy, now);
                let outcome = match (open, end) {
                    (true, Some(end)) => format!("open: free-form can go until {}", end.to_rfc3339()),
                    (true, None) => "open".to_owned(),
                    (false, Some(end)) if end > now => {
                        format!("closed: too close to the window's end at {} to send free-form (W9)", end.to_rfc3339())
                    }
                    (false, Some(end)) => format!("closed: the window closed at {}", end.to_rfc3339()),
                    (false, None) => "closed: the customer has not written".to_owned(),
                };
                Stepped::went(true, outcome, Some(if open { Arm::Open } else { Arm::Closed }))
            }
            Step::Condition { conditions, .. } => {
                let holds = conditions.hold(ctx);
                let outcome = if holds { "the conditions hold: then" } else { "the conditions do not hold: else" };
                Stepped::went(true, outcome, Some(if holds { Arm::Then } else { Arm::Else }))
            }
            Step::Wait { minutes, business_hours } => {
                let d = Duration::from_secs(u64::try_from(*minutes).unwrap_or(0) * 60);
                let until = match (business_hours, ctx.schedule) {
                    (true, Some(schedule)) => schedule.after_business_time(now, d),
                    _ => Some(now.plus(d)),
                };
                match until {
                    Some(until) => {
                        let how = if *business_hours && ctx.schedule.is_some() { " business" } else { "" };
                        Stepped {
                            wait_until: Some(until),
                            ..Stepped::went(true, format!("waits {minutes}{how} minutes, until {}", until.to_rfc3339()), None)
                        }
                    }
                    None => {
                        let why = "the number's business hours never open, so a wait in business hours cannot end";
                        Stepped { fail: Some(why.into()), ..Stepped::went(false, why, None) }
                    }
                }
            }
            Step::Do { action } => {
                let author = format!("workflow:{}", workflow.id);
                let at = path.to_string();
                let Some(values) = placeholder_values(&self.state, run.ticket_id).await else {
                    return Stepped::went(false, "the ticket could not be read", None);
                };
                let key = format!("workflow_run:{}:{at}", run.id);
                let by = Actor {
                    author: &author,
                    dedupe: Some(key.clone()),
                    webhook_id: webhook_id(run.id, &at),
                    caller: Caller::Workflow { id: workflow.id, name: &workflow.name, run_id: run.id, step: &at },
                };
                let ActionOutcome { ok, outcome, .. } = run_action(&self.state, ctx, action, &values, &by).await;
                Stepped::went(ok, outcome, None)
            }
        }
    }
}

/// The `webhook-id` of a workflow step's HTTP call: unique per run and step.
pub fn webhook_id(run_id: i64, path: &str) -> String {
    let path: String = path.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("wd_workflow_run_{run_id}_{}", path.trim_matches('_'))
}
