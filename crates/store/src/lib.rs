//! Windowdesk's persistence.
//!
//! The store is shaped by use case, not by table: [`IngestStore`] commits webhook payloads,
//! [`TicketStore`] reads tickets and threads, and so on. Two implementations exist, [`sqlite`] (the
//! embedded default, one writer thread, WAL) and [`postgres`] (several instances, row locks), each with
//! its own migrations under `migrations/`. Policy never lives here: what a payload *means* for tickets
//! and windows is planned once, in [`ingest::plan`], by calling the domain core; a backend only loads
//! the state the plan asks for and writes the plan's result in one transaction.

mod cost_days;
pub mod cost_report;
pub mod customer_model;
pub mod error;
pub mod fallback_model;
pub mod group_commit;
pub mod ingest;
mod merge_rules;
pub mod model;
pub mod postgres;
pub mod pricing_model;
pub mod search_model;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;
pub mod web_model;
pub mod workflow_model;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use cost_report::{CostGroupRow, CostMessageRow};
pub use customer_model::*;
pub use error::StoreError;
pub use fallback_model::*;
pub use ingest::{IngestItem, IngestPayload, IngestSummary};
pub use model::*;
pub use pricing_model::{CostSettlement, MessageCostRow, PendingCost, RateCardRow, SettledCostRow, UncostedMessage};
pub use search_model::{CustomerHit, IdentityBrief, MessageHit, Search, WindowBounds};
pub use web_model::*;
use windowdesk_core::Timestamp;
pub use workflow_model::*;

/// Commits webhook payloads. A payload is durable when `ingest` returns `Ok` (SPEC I5).
#[async_trait]
pub trait IngestStore: Send + Sync {
    async fn ingest(&self, payload: IngestPayload) -> Result<IngestSummary, StoreError>;
}

/// The business numbers of the configuration, mirrored in the database so rows can reference them.
#[async_trait]
pub trait BusinessNumberStore: Send + Sync {
    /// Inserts or updates the given numbers; returns all known numbers.
    async fn sync_business_numbers(&self, numbers: &[BusinessNumberSpec]) -> Result<Vec<BusinessNumberRow>, StoreError>;
}

#[async_trait]
pub trait TicketStore: Send + Sync {
    async fn list_tickets(&self, filter: &TicketFilter) -> Result<Vec<TicketRow>, StoreError>;
    async fn ticket(&self, id: i64) -> Result<Option<TicketRow>, StoreError>;
    /// Tickets created as follow-ups of `id` (the other direction of `followup_of`).
    async fn followups(&self, id: i64) -> Result<Vec<i64>, StoreError>;
    async fn ticket_messages(&self, ticket_id: i64) -> Result<Vec<MessageRow>, StoreError>;
    async fn ticket_events(&self, ticket_id: i64) -> Result<Vec<EventRow>, StoreError>;
    /// Changes a ticket's status and logs who did it (T6). A closed ticket is final (T1): changing it
    /// is a [`StoreError::Conflict`]. Returns `false` when there is no such ticket.
    async fn set_ticket_status(&self, id: i64, status: windowdesk_core::TicketStatus, actor: &str) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait ContactStore: Send + Sync {
    async fn identity_by_key(&self, business_number_id: i64, key: &str) -> Result<Option<IdentityRow>, StoreError>;
    async fn identity(&self, id: i64) -> Result<Option<IdentityRow>, StoreError>;
    /// A ticket and its identity in one query, for the reply path; the identity is `None` only if
    /// the database lost it.
    async fn ticket_with_identity(&self, ticket_id: i64) -> Result<Option<TicketWithIdentity>, StoreError>;
    async fn identity_changes(&self, identity_id: i64) -> Result<Vec<IdentityChangeRow>, StoreError>;
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    async fn message_by_wamid(&self, business_number_id: i64, wamid: &str) -> Result<Option<MessageRow>, StoreError>;
    async fn reactions(&self, business_number_id: i64, target_wamid: &str) -> Result<Vec<ReactionRow>, StoreError>;
    async fn revisions(&self, business_number_id: i64, target_wamid: &str) -> Result<Vec<RevisionRow>, StoreError>;
    async fn status_events(&self, business_number_id: i64, wamid: &str) -> Result<Vec<StatusEventRow>, StoreError>;
    /// Records an outbound message that Meta accepted under `wamid`, applying any statuses that arrived
    /// for it before it was known. (The outbox will own this; for now it is the one way in.)
    async fn record_outbound_accepted(&self, msg: &OutboundAccepted) -> Result<i64, StoreError>;
    /// The ticket's latest customer message that Meta knows (it has a wamid), and whether Meta was
    /// told it was read.
    async fn latest_inbound(&self, ticket_id: i64) -> Result<Option<LatestInbound>, StoreError>;
    /// Records that Meta was told the customer's message was read; `false` when it already was.
    async fn mark_read_receipt(&self, message_id: i64, at: Timestamp) -> Result<bool, StoreError>;
}

/// The durable outbox (SPEC D2-D5): a reply is committed before it is sent, claimed before the request
/// leaves, and every attempt is recorded.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Commits an outbound message (state `queued`) and its outbox row in one transaction.
    async fn enqueue(&self, msg: &NewOutbound) -> Result<Enqueued, StoreError>;
    /// Claims up to `limit` due rows of the business numbers in `claim`, each stamped with its
    /// number's `send:` lease generation. The claim is committed before the caller sends anything; on
    /// PostgreSQL concurrent workers skip each other's rows. A number whose lease is no longer
    /// `claim.worker`'s at that generation is skipped: the claim and a takeover are serialized on the
    /// lease row, so whoever takes a number over sees every claim made under the old generation.
    ///
    /// Deadline first: free-form replies whose window ends soonest are claimed first, so a reply
    /// with seconds left never waits behind replies with hours left and ends `blocked`; messages
    /// without a window (templates, SMS) come after, in queue order. One customer's free-form
    /// replies keep their queue order (their `window_end` never decreases: W2). An index in claim
    /// order keeps a claim an index walk however many are queued.
    async fn claim_due(&self, now: Timestamp, limit: u32, claim: &SendClaim) -> Result<Vec<OutboxJob>, StoreError>;
    /// The fence, at the last moment before each request leaves: writes the attempt row of each job
    /// whose row is still claimed under its generation by `worker`, and whose number's lease `worker`
    /// still holds at that generation until at least `held_until`. One result per job, in order:
    /// `false` means someone else owns it now and it must not be sent.
    async fn start_attempts(
        &self,
        jobs: &[OutboxJob],
        worker: &str,
        now: Timestamp,
        held_until: Timestamp,
    ) -> Result<Vec<bool>, StoreError>;
    /// Gives back claims the fence refused to start (never sent): each row still claimed under its
    /// job's generation and attempt goes back to the queue as it was. A row someone else already took
    /// over is left alone. Returns how many went back.
    async fn release_claims(&self, jobs: &[OutboxJob], now: Timestamp) -> Result<u64, StoreError>;
    /// Records how a claimed attempt ended. A job that was recovered meanwhile is a
    /// [`StoreError::Conflict`].
    async fn finish_attempt(&self, job: &OutboxJob, outcome: &AttemptOutcome, now: Timestamp) -> Result<(), StoreError>;
    /// Records many outcomes in one durable transaction; one result per item, in order. A stale job
    /// is a [`StoreError::Conflict`] for that item alone.
    async fn finish_attempts(
        &self,
        items: &[(OutboxJob, AttemptOutcome)],
        now: Timestamp,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>;
    /// Called by the new holder of `send:<business_number_id>` at `generation`: the claims made under
    /// older generations belonged to an instance that died or lost the lease (D5). A started one may
    /// have reached Meta: it is queued again and marked "may have been sent twice". One never started
    /// is queued again as it was.
    async fn recover_number(&self, business_number_id: i64, generation: i64, now: Timestamp) -> Result<Recovered, StoreError>;
    /// When the next queued row is due.
    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError>;
}

/// Leases (SPEC 12): named work that one instance at a time does, held while renewed. A lease whose
/// `expires_at` has passed is free for anyone to take.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes `name` for `owner` until `now + ttl` when it has expired (a released lease expires a
    /// second after its release) or is already `owner`'s (or
    /// always, with `steal`: a single-instance desk at start owns everything). Taking it from someone
    /// else, or for the first time, gives it a new generation; keeping one's own keeps it. `None`:
    /// another owner holds it.
    async fn acquire_lease(&self, name: &str, owner: &str, now: Timestamp, ttl: Duration, steal: bool)
        -> Result<Option<Lease>, StoreError>;
    /// Extends those of `held` that `owner` still holds at their generation; returns them, renewed.
    async fn renew_leases(&self, owner: &str, held: &[Lease], now: Timestamp, ttl: Duration) -> Result<Vec<Lease>, StoreError>;
    /// Gives a lease up, if `owner` still holds it at its generation. It is free to take a little over a
    /// second later: the last sends made under it count against Meta's per-second limit until then.
    async fn release_lease(&self, owner: &str, lease: &Lease, now: Timestamp) -> Result<(), StoreError>;
    /// How many instances are alive: unexpired `instance:` leases.
    async fn live_instances(&self, now: Timestamp) -> Result<u64, StoreError>;
    /// Every lease, by name: who sends for which number, who downloads media (for operators and tests).
    async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError>;
}

/// Business hours (SPEC 10): named schedules, and which one each business number keeps.
#[async_trait]
pub trait BusinessHoursStore: Send + Sync {
    async fn schedules(&self) -> Result<Vec<ScheduleRow>, StoreError>;
    async fn schedule(&self, id: i64) -> Result<Option<ScheduleRow>, StoreError>;
    /// A name already taken is a [`StoreError::Conflict`].
    async fn create_schedule(&self, draft: &ScheduleDraft) -> Result<ScheduleRow, StoreError>;
    /// `false` when there is no such schedule; a name already taken is a [`StoreError::Conflict`].
    async fn update_schedule(&self, id: i64, draft: &ScheduleDraft) -> Result<bool, StoreError>;
    /// Replaces the schedule's spec (keeping its name) only while it is still `expected_spec`, so a
    /// read-merge-write such as a holiday import never overwrites an admin's save made in between.
    /// `false` when the schedule changed meanwhile or is gone.
    async fn replace_schedule_spec(&self, id: i64, expected_spec: &str, draft: &ScheduleDraft) -> Result<bool, StoreError>;
    /// `false` when there is no such schedule; one still serving a number is a [`StoreError::Conflict`].
    async fn delete_schedule(&self, id: i64) -> Result<bool, StoreError>;
    /// Gives a business number a schedule (or none: always open). `false` when the number does not
    /// exist; an unknown schedule is a [`StoreError::NotFound`].
    async fn assign_schedule(&self, business_number_id: i64, schedule_id: Option<i64>) -> Result<bool, StoreError>;
    /// The schedule of a business number, if it has one.
    async fn number_schedule(&self, business_number_id: i64) -> Result<Option<ScheduleRow>, StoreError>;
}

/// Macros (SPEC 10): shared ones and each agent's own.
#[async_trait]
pub trait MacroStore: Send + Sync {
    /// The macros `agent_id` may apply (shared ones and their own), by name; every macro when `None`.
    async fn macros(&self, agent_id: Option<i64>) -> Result<Vec<MacroRow>, StoreError>;
    async fn macro_by_id(&self, id: i64) -> Result<Option<MacroRow>, StoreError>;
    async fn create_macro(&self, draft: &MacroDraftRow) -> Result<MacroRow, StoreError>;
    /// `false` when there is no such macro.
    async fn update_macro(&self, id: i64, draft: &MacroDraftRow) -> Result<bool, StoreError>;
    /// `false` when there is no such macro.
    async fn delete_macro(&self, id: i64) -> Result<bool, StoreError>;
}

/// Rules (SPEC 10, issue 13): triggers and automations, stored as the core's validated `RuleDraft`
/// JSON, and the one-time seeding of the shipped defaults.
#[async_trait]
pub trait RuleStore: Send + Sync {
    /// Every rule, in the fixed visible order: position, then id.
    async fn rules(&self) -> Result<Vec<RuleRow>, StoreError>;
    async fn rule(&self, id: i64) -> Result<Option<RuleRow>, StoreError>;
    async fn create_rule(&self, draft: &RuleWrite) -> Result<RuleRow, StoreError>;
    /// `false` when there is no such rule. In the same transaction, the executions the rule had armed
    /// are cancelled ("the rule was edited", or "switched off"): the rule as saved arms its own.
    async fn update_rule(&self, id: i64, draft: &RuleWrite) -> Result<bool, StoreError>;
    /// `false` when there is no such rule. Its armed executions are cancelled with it.
    async fn delete_rule(&self, id: i64, now: Timestamp) -> Result<bool, StoreError>;
    /// Inserts `defaults` if the shipped rules were never seeded, and records that seeding happened,
    /// in one transaction; `false` (and nothing written) when it had already happened, even if an
    /// admin has since deleted every rule.
    async fn seed_rules(&self, defaults: &[RuleWrite]) -> Result<bool, StoreError>;
    /// Records that a rule fires: `false` (nothing written) when it already fired for this trigger,
    /// or, with an episode key, for this ticket and episode.
    async fn record_firing(&self, firing: &RuleFiring) -> Result<bool, StoreError>;
    /// Records firings that only change ticket fields, each with its change and its `rule_applied`
    /// event (kind `rule_applied`, at the firing's time), all in one transaction: for each, whether
    /// it was applied, or `false` (nothing written for it) when it had already fired. An error (the
    /// ticket is gone or closed) writes nothing at all.
    async fn apply_field_firings(&self, firings: &[FieldFiring]) -> Result<Vec<bool>, StoreError> {
        let mut groups = self.apply_field_firing_groups(std::slice::from_ref(&firings.to_vec())).await?;
        groups.pop().unwrap_or_else(|| Ok(Vec::new()))
    }
    /// [`RuleStore::apply_field_firings`] for several groups (each one event's firings) in one
    /// transaction, one commit: each group is written all or nothing (a savepoint each), and its
    /// result says what it wrote or why nothing. The outer error means nothing was written at all.
    async fn apply_field_firing_groups(&self, groups: &[Vec<FieldFiring>]) -> Result<Vec<Result<Vec<bool>, StoreError>>, StoreError>;
    /// The customer's current window episode, kept beside their window by ingest; `None` when they
    /// never wrote (or no message has refreshed the window since episodes were stored).
    async fn window_episode(&self, identity_id: i64) -> Result<Option<windowdesk_core::rules::WindowEpisode>, StoreError>;
    /// The tickets `ids` as rules see them, in one read (those that exist, in no particular order):
    /// each one's [`TicketWorkStore::ticket_summary`], its [`RuleStore::window_episode`], and while
    /// it is solved, when: the time of its latest change to `solved`.
    async fn rule_tickets(&self, ids: &[i64]) -> Result<Vec<RuleTicket>, StoreError>;
    /// The oldest `limit` entries of the rules worker's queue, in id order, each with its source. The
    /// database writes an entry with every inbound message and every ticket event that can set off
    /// a trigger, in the same transaction. `reads` says what to read about each customer message
    /// beyond the message itself.
    async fn rule_queue(&self, limit: u32, reads: MessageReads) -> Result<Vec<RuleQueueItem>, StoreError>;
    /// The worker is done with these entries (their rules ran, or none matched).
    async fn rule_queue_done(&self, ids: &[i64]) -> Result<(), StoreError>;
    /// Deletes the oldest `limit` entries unread, when no rule could match them (there are no
    /// enabled triggers); returns how many.
    async fn rule_queue_drop(&self, limit: u32) -> Result<u64, StoreError>;
    /// The newest entry's id (0 with none).
    async fn rule_queue_newest(&self) -> Result<i64, StoreError>;
    /// Deletes every entry newer than `after_id` unread; returns how many. For history written by
    /// `windowdesk generate`, which must not set off triggers as if it had just arrived.
    async fn rule_queue_discard_after(&self, after_id: i64) -> Result<u64, StoreError>;
    /// A round on the entry failed; returns the attempts so far.
    async fn rule_queue_failed(&self, id: i64, error: &str) -> Result<i32, StoreError>;
    /// Records on the ticket what a rule did (`rule_applied`, actor `rule:<id>`).
    async fn record_rule_run(&self, ticket_id: i64, actor: &str, data: serde_json::Value, at: Timestamp) -> Result<(), StoreError>;
}

/// Automations (SPEC 10, issue 14): the sweep's read of the open tickets, and the executions it arms,
/// which instances claim, run and finish once each.
#[async_trait]
pub trait AutomationStore: Send + Sync {
    /// Tickets that are not closed, in id order, after `after_id`, at most `limit`: the sweep reads
    /// them page by page, each page one read transaction that never blocks a writer.
    async fn sweep_tickets(&self, after_id: i64, limit: u32) -> Result<Vec<SweepTicket>, StoreError>;
    /// For each run, whether its (rule, ticket, episode) already has an armed, running, fired or
    /// expired execution: a read, so the sweep writes only what is new.
    async fn automation_runs_known(&self, runs: &[ArmRun]) -> Result<Vec<bool>, StoreError>;
    /// Arms executions: each is inserted, or when already armed for its episode, its due time moves;
    /// one that fired or expired in that episode is left alone. Returns how many were inserted or moved.
    async fn arm_automations(&self, runs: &[ArmRun], now: Timestamp) -> Result<u64, StoreError>;
    /// Claims for `owner` until `claim_until` up to `limit` executions due at `now`: armed ones whose
    /// time has come, and running ones whose claim ran out (their instance died). Soonest first;
    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL, so instances never claim the same one.
    async fn claim_automation_runs(
        &self,
        owner: &str,
        now: Timestamp,
        claim_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<AutomationRun>, StoreError>;
    /// Ends a claimed execution as `finish` says; `false` (nothing written) when `owner` no longer
    /// holds the claim.
    async fn finish_automation_run(&self, id: i64, owner: &str, finish: &RunFinish, now: Timestamp) -> Result<bool, StoreError>;
    /// Executions, newest first.
    async fn automation_runs(&self, filter: &RunFilter) -> Result<Vec<AutomationRun>, StoreError>;
    /// How many executions are in each state.
    async fn automation_run_counts(&self) -> Result<Vec<(RunState, u64)>, StoreError>;
}

/// HTTP targets (SPEC 10, issue 14 item 4) and the durable queue of signed deliveries to them.
#[async_trait]
pub trait HttpTargetStore: Send + Sync {
    async fn http_targets(&self) -> Result<Vec<HttpTargetRow>, StoreError>;
    async fn http_target(&self, id: i64) -> Result<Option<HttpTargetRow>, StoreError>;
    /// Creates a target with its signing secret (`whsec_…`).
    async fn create_http_target(&self, target: &HttpTargetWrite, secret: &str) -> Result<HttpTargetRow, StoreError>;
    /// `false` when there is no such target.
    async fn update_http_target(&self, id: i64, target: &HttpTargetWrite) -> Result<bool, StoreError>;
    /// `false` when there is no such target; its deliveries go with it.
    async fn delete_http_target(&self, id: i64) -> Result<bool, StoreError>;
    /// Queues a delivery; one with the same `webhook_id` is queued once (`false` the second time).
    async fn enqueue_http_delivery(&self, delivery: &NewHttpDelivery) -> Result<bool, StoreError>;
    /// Claims for `owner` until `claim_until` up to `limit` pending deliveries due at `now` (and ones
    /// whose claim ran out), each with its target; `FOR UPDATE SKIP LOCKED` on PostgreSQL.
    async fn claim_http_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        claim_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<(HttpDeliveryRow, HttpTargetRow)>, StoreError>;
    /// Records an attempt of a claimed delivery, and the target's health; `false` when `owner` no
    /// longer holds the claim.
    async fn finish_http_attempt(&self, id: i64, owner: &str, attempt: &HttpAttempt, now: Timestamp) -> Result<bool, StoreError>;
    /// A target's deliveries, newest first.
    async fn http_deliveries(&self, target_id: i64, before_id: Option<i64>, limit: u32) -> Result<Vec<HttpDeliveryRow>, StoreError>;
}

/// Workflows (SPEC 10, issue 14 item 3) and their runs, step by step.
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Every workflow, by id.
    async fn workflows(&self) -> Result<Vec<WorkflowRow>, StoreError>;
    async fn workflow(&self, id: i64) -> Result<Option<WorkflowRow>, StoreError>;
    async fn create_workflow(&self, w: &WorkflowWrite) -> Result<WorkflowRow, StoreError>;
    /// `None` when there is no such workflow. In the same transaction, cancels its runs that have
    /// not started (armed by the sweep for the workflow as it was) and, when it is switched off,
    /// its runs that are waiting; started runs go on with the steps they started with.
    async fn update_workflow(&self, id: i64, w: &WorkflowWrite) -> Result<Option<WorkflowRow>, StoreError>;
    /// `false` when there is no such workflow; its armed and waiting runs are cancelled.
    async fn delete_workflow(&self, id: i64, now: Timestamp) -> Result<bool, StoreError>;
    /// For each run, whether its (workflow, ticket, start key) already has a run that is not
    /// skipped or cancelled: a read, so the sweep writes only what is new.
    async fn workflow_runs_known(&self, runs: &[NewWorkflowRun]) -> Result<Vec<bool>, StoreError>;
    /// Sets off runs: each is inserted, or when one is already armed for its key, its due time
    /// moves; any other run with that key is left alone (a workflow runs once per trigger or
    /// episode). Returns how many were inserted or moved.
    async fn start_workflow_runs(&self, runs: &[NewWorkflowRun], now: Timestamp) -> Result<u64, StoreError>;
    /// Claims for `owner` until `claim_until` up to `limit` runs due at `now` (armed or waiting
    /// ones whose time has come, running ones whose claim ran out); `FOR UPDATE SKIP LOCKED` on
    /// PostgreSQL.
    async fn claim_workflow_runs(
        &self,
        owner: &str,
        now: Timestamp,
        claim_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<WorkflowRun>, StoreError>;
    /// Records a step of a claimed run and moves its cursor to `next` (`None`: no step left), with
    /// a `workflow_step` event on the ticket (actor `workflow:<id>`, naming the workflow
    /// `workflow_name`), in one transaction; a step already recorded for this run and path is not
    /// recorded again. `false` (nothing written) when `owner` no longer holds the claim.
    async fn record_workflow_step(
        &self,
        run: &WorkflowRun,
        owner: &str,
        workflow_name: &str,
        step: &WorkflowStepRecord,
        next: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Marks a claimed armed run as started (checked again and going on); `false` when `owner` no
    /// longer holds the claim.
    async fn start_armed_workflow_run(&self, id: i64, owner: &str) -> Result<bool, StoreError>;
    /// Stops a claimed run as `finish` says; `false` (nothing written) when `owner` no longer holds
    /// the claim. A run that would wait (or be armed again) while its workflow is switched off or
    /// deleted is cancelled instead: switching off while a run was under way cancels it too.
    async fn finish_workflow_run(&self, id: i64, owner: &str, finish: &WorkflowRunFinish, now: Timestamp) -> Result<bool, StoreError>;
    /// Runs, newest first.
    async fn workflow_runs(&self, filter: &WorkflowRunFilter) -> Result<Vec<WorkflowRun>, StoreError>;
    async fn workflow_run(&self, id: i64) -> Result<Option<WorkflowRun>, StoreError>;
    /// The steps a run recorded, in the order they ran.
    async fn workflow_run_steps(&self, run_id: i64) -> Result<Vec<WorkflowStepRecord>, StoreError>;
}

/// Media downloads: the queue filled by ingest, and the files it produced.
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Pending downloads due at `now`, oldest first.
    async fn due_media_jobs(&self, now: Timestamp, limit: u32) -> Result<Vec<MediaJob>, StoreError>;
    async fn finish_media_job(&self, job_id: i64, outcome: &MediaOutcome, now: Timestamp) -> Result<(), StoreError>;
    /// The media of a message: its download state and, once downloaded, the stored file.
    async fn message_media(&self, message_id: i64) -> Result<Option<MessageMedia>, StoreError>;
}

/// Everything kept that is not a ticket: templates, account events, unknown numbers, media jobs.
#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn templates(&self) -> Result<Vec<TemplateRow>, StoreError>;
    async fn account_events(&self) -> Result<Vec<AccountEventRow>, StoreError>;
    async fn unknown_numbers(&self) -> Result<Vec<UnknownNumberRow>, StoreError>;
    async fn media_jobs(&self) -> Result<Vec<MediaJobRow>, StoreError>;
    async fn counts(&self) -> Result<Counts, StoreError>;
}

/// API tokens (SPEC 13). Only hashes are stored; see [`tokens`].
#[async_trait]
pub trait ApiTokenStore: Send + Sync {
    /// Creates a token named `name`; the plaintext is in the result and nowhere else.
    async fn create_api_token(&self, name: &str, now: Timestamp) -> Result<CreatedApiToken, StoreError>;
    /// The token with this plaintext, if it exists and is not revoked. Records when it was last used
    /// (at most about once a minute, so reads stay reads).
    async fn verify_api_token(&self, token: &str, now: Timestamp) -> Result<Option<ApiTokenRow>, StoreError>;
    async fn api_tokens(&self) -> Result<Vec<ApiTokenRow>, StoreError>;
    /// Revokes a token; `false` when there is no such token or it was already revoked.
    async fn revoke_api_token(&self, id: i64, now: Timestamp) -> Result<bool, StoreError>;
}

/// The people who work tickets.
#[async_trait]
pub trait AgentStore: Send + Sync {
    /// A second agent with the same email is a [`StoreError::Conflict`].
    async fn create_agent(&self, agent: &NewAgent) -> Result<AgentRow, StoreError>;
    async fn agents(&self) -> Result<Vec<AgentRow>, StoreError>;
    async fn agent(&self, id: i64) -> Result<Option<AgentRow>, StoreError>;
    /// Renames an agent and changes their sign-in email (given lowercased); `None` when there is no
    /// such agent, [`StoreError::Conflict`] when another agent has that email.
    async fn update_agent(&self, id: i64, name: &str, email: &str) -> Result<Option<AgentRow>, StoreError>;
}

/// What agents and API clients do with tickets besides replying: filter, tag, assign, write notes,
/// and look after failed deliveries. Every change is a ticket event with its actor (T6); a closed
/// ticket is read-only (T1): changing it is a [`StoreError::Conflict`].
#[async_trait]
pub trait TicketWorkStore: Send + Sync {
    async fn query_tickets(&self, query: &TicketQuery) -> Result<Vec<TicketSummary>, StoreError>;
    async fn ticket_summary(&self, id: i64) -> Result<Option<TicketSummary>, StoreError>;
    async fn ticket_reactions(&self, ticket_id: i64) -> Result<Vec<TicketReactionRow>, StoreError>;
    /// Applies `change` in one transaction; `None` when there is no such ticket.
    async fn update_ticket(&self, id: i64, change: &TicketChange, actor: &str, now: Timestamp)
        -> Result<Option<TicketSummary>, StoreError>;
    /// An internal note (a message with direction `note`): never sent, never touches the window.
    /// Each agent in `mentions` gets a notification, in the same transaction. A missing ticket is
    /// [`StoreError::NotFound`].
    async fn add_note(&self, ticket_id: i64, body: &str, author: &str, mentions: &[i64], now: Timestamp) -> Result<MessageRow, StoreError>;
    /// Outbound messages in `failed` or `blocked`, newest first (D4).
    async fn failed_deliveries(&self, before: Option<FailedCursor>, limit: u32) -> Result<Vec<FailedDeliveryRow>, StoreError>;
}

/// What the agent web interface needs besides tickets: sessions, inbox lists with read markers,
/// @mention notifications, saved views.
#[async_trait]
pub trait WebStore: Send + Sync {
    /// The agent with this email (lowercased by the caller) and their password hash.
    async fn agent_credentials(&self, email: &str) -> Result<Option<Credentials>, StoreError>;
    async fn set_agent_password(&self, agent_id: i64, password_hash: &str) -> Result<bool, StoreError>;
    async fn set_agent_time_zone(&self, agent_id: i64, time_zone: &str) -> Result<bool, StoreError>;
    /// Changes an agent's role; `false` when there is no such agent. Refused (`Conflict`) when it would
    /// leave the desk without an admin.
    async fn set_agent_role(&self, agent_id: i64, role: AgentRole) -> Result<bool, StoreError>;
    /// Deactivates (`active: false`: their sessions end, they cannot sign in) or reactivates an
    /// agent; `false` when there is no such agent. Refused (`Conflict`) for the last active admin.
    async fn set_agent_active(&self, agent_id: i64, active: bool, now: Timestamp) -> Result<bool, StoreError>;
    /// Creates a session; expired sessions are purged on the way.
    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError>;
    /// The session with this hash, if it has not expired at `now`.
    async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<SessionRow>, StoreError>;
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
    /// A page of an inbox list.
    async fn inbox(&self, query: &InboxQuery) -> Result<Vec<InboxItem>, StoreError>;
    /// How many tickets a list holds, up to [`COUNT_CAP`].
    async fn inbox_count(&self, list: &InboxList) -> Result<u64, StoreError>;
    /// How many outbound messages are `failed` or `blocked` (D4). Up to [`COUNT_CAP`].
    async fn failed_count(&self) -> Result<u64, StoreError>;
    /// The agent has seen the ticket as of `now`.
    async fn mark_ticket_read(&self, agent_id: i64, ticket_id: i64, now: Timestamp) -> Result<(), StoreError>;
    /// Newest first.
    async fn notifications(&self, agent_id: i64, limit: u32) -> Result<Vec<NotificationRow>, StoreError>;
    async fn unread_notifications(&self, agent_id: i64) -> Result<u64, StoreError>;
    /// Marks the agent's notifications about `ticket_id` read; returns how many changed.
    async fn mark_notifications_read(&self, agent_id: i64, ticket_id: i64, now: Timestamp) -> Result<u64, StoreError>;
    /// The agent's own views and the shared ones.
    async fn saved_views(&self, agent_id: i64) -> Result<Vec<SavedViewRow>, StoreError>;
    async fn create_saved_view(&self, view: &NewSavedView) -> Result<SavedViewRow, StoreError>;
    /// Deletes one of the agent's own views (or, for an admin, a shared one).
    async fn delete_saved_view(&self, agent_id: i64, view_id: i64, admin: bool) -> Result<bool, StoreError>;
    /// Renames and refilters one of the agent's own views (or, for an admin, a shared one); `false`
    /// when there is no such view they may change.
    async fn update_saved_view(
        &self,
        agent_id: i64,
        view_id: i64,
        admin: bool,
        name: &str,
        filter: &ViewFilter,
    ) -> Result<bool, StoreError>;
}

/// Templates, fallback settings, held replies and what agents do about failed deliveries (SPEC 9, D4).
#[async_trait]
pub trait FallbackStore: Send + Sync {
    /// Records what a sync of `waba_id` listed: every template is inserted or updated (definition,
    /// status, category); templates of the account that the sync no longer lists are marked removed.
    async fn store_synced_templates(
        &self,
        waba_id: &str,
        templates: &[SyncedTemplate],
        now: Timestamp,
    ) -> Result<TemplateSyncCounts, StoreError>;
    async fn number_settings(&self, business_number_id: i64) -> Result<Option<NumberSettings>, StoreError>;
    async fn all_number_settings(&self) -> Result<Vec<NumberSettings>, StoreError>;
    /// Inserts the settings of numbers that have none yet (the configuration seeds them); existing
    /// settings, possibly edited by an admin, are kept.
    async fn seed_number_settings(&self, settings: &[NumberSettings]) -> Result<(), StoreError>;
    /// Replaces a number's settings; `false` when the number does not exist.
    async fn save_number_settings(&self, settings: &NumberSettings) -> Result<bool, StoreError>;
    /// An outbound message and its outbox row.
    async fn outbound_message(&self, message_id: i64) -> Result<Option<OutboundMessage>, StoreError>;
    /// Commits the "a reply is waiting" template `msg` unless the customer's current closed-window
    /// episode (keyed by their last inbound `sent_at`) already has one (SPEC 9). The key and the message
    /// commit together, so two holds at once send one notice, and a notice that could not be stored
    /// leaves the episode free.
    async fn enqueue_hold_notice(&self, msg: &NewOutbound) -> Result<HoldNoticeSlot, StoreError>;
    /// Held replies whose time is up at `now` become `failed` (held_expired), in one transaction.
    async fn expire_held(&self, now: Timestamp) -> Result<Vec<ExpiredHold>, StoreError>;
    /// Sends a failed or blocked message again, as it was (D4): back to the queue, or held. Its
    /// history stays. Anything else is a [`StoreError::Conflict`].
    async fn requeue_failed(&self, message_id: i64, how: Requeue, actor: &str, now: Timestamp) -> Result<(), StoreError>;
    /// Takes a failed or blocked message off the Failed deliveries list (D4); it keeps its state.
    async fn dismiss_failed(&self, message_id: i64, actor: &str, now: Timestamp) -> Result<(), StoreError>;
}

/// The whole store, as the server holds it.
/// Customers (SPEC 7): a profile per contact across business numbers, their tickets, notes about
/// them, and their name.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    async fn customer(&self, contact_id: i64) -> Result<Option<CustomerProfile>, StoreError>;
    /// Their tickets on every business number, newest first, `limit` from below `before`.
    async fn customer_tickets(&self, contact_id: i64, before: Option<i64>, limit: u32) -> Result<Vec<TicketSummary>, StoreError>;
    /// Sets the name for good (WhatsApp's profile name no longer replaces it); `false` when there
    /// is no such customer.
    async fn rename_customer(&self, contact_id: i64, name: &str) -> Result<bool, StoreError>;
    /// `None` when there is no such customer.
    async fn add_customer_note(
        &self,
        contact_id: i64,
        author: &str,
        body: &str,
        now: Timestamp,
    ) -> Result<Option<CustomerNote>, StoreError>;
    /// Merges `source` into `target` in one transaction (SPEC C2): its identities, tickets and notes
    /// move; each moved ticket gets a `customer_merged` event; the source stays, empty, pointing at
    /// the target. Each ticket keeps its identity and business number, so replies still go out
    /// where it came in. `None` when either customer does not exist; `Conflict` for a customer into
    /// itself or one already merged away. Serialised with ingest on the source's identities, so a
    /// message arriving meanwhile lands wholly before or wholly after.
    async fn merge_customers(&self, target: i64, source: i64, actor: &str, now: Timestamp) -> Result<Option<MergeRecord>, StoreError>;
    /// Undoes a merge: what moved goes back (and tickets opened since through a moved identity);
    /// `Conflict` when it was undone already or either customer was merged again since.
    async fn undo_merge(&self, merge_id: i64, actor: &str, now: Timestamp) -> Result<Option<MergeRecord>, StoreError>;
    /// Merges into or out of this customer, newest first.
    async fn customer_merges(&self, contact_id: i64) -> Result<Vec<MergeRecord>, StoreError>;
    async fn merge_record(&self, merge_id: i64) -> Result<Option<MergeRecord>, StoreError>;
    /// Other customers who are likely the same person.
    async fn duplicate_suggestions(&self, contact_id: i64) -> Result<Vec<DuplicateSuggestion>, StoreError>;
}

/// Search (SPEC C3): tickets, customers and messages for one parsed query, newest first, a page at
/// a time. See [`search_model`].
#[async_trait]
pub trait SearchStore: Send + Sync {
    /// Tickets that pass every filter and whose customer's number (phone terms) and subject or one
    /// of whose messages (text terms) match.
    async fn search_tickets(&self, search: &Search) -> Result<Vec<TicketSummary>, StoreError>;
    /// Customers whose number and name match the terms (and who wrote to the chosen business
    /// numbers); none when the query has no terms.
    async fn search_customers(&self, search: &Search) -> Result<Vec<CustomerHit>, StoreError>;
    /// Messages (customers', agents' and notes) holding every text term, on tickets that pass the
    /// filters; none without text terms.
    async fn search_messages(&self, search: &Search) -> Result<Vec<MessageHit>, StoreError>;
}

/// Rate cards (SPEC 11): the prices messages are estimated and settled with.
#[async_trait]
pub trait PricingStore: Send + Sync {
    /// Every card with its prices, by `effective_from` then name.
    async fn rate_cards(&self) -> Result<Vec<RateCardRow>, StoreError>;
    /// Adds `cards` in one transaction. A name already taken refuses them all (a conflict naming
    /// it) unless `replace`, which gives that card the new fields and prices. Returns their ids.
    async fn import_rate_cards(
        &self,
        cards: &[windowdesk_core::pricing::RateCard],
        replace: bool,
        now: Timestamp,
    ) -> Result<Vec<i64>, StoreError>;
    /// Deletes a card and its prices; false when there is none.
    async fn delete_rate_card(&self, id: i64) -> Result<bool, StoreError>;
    /// Adds the shipped cards never seeded before (by name) and records them, so a shipped card an
    /// admin deleted stays deleted and one a later release ships arrives; returns how many it added.
    async fn seed_rate_cards(&self, shipped: &[windowdesk_core::pricing::RateCard], now: Timestamp) -> Result<usize, StoreError>;
    /// The costs of a ticket's outbound messages, oldest first.
    async fn ticket_costs(&self, ticket_id: i64) -> Result<Vec<MessageCostRow>, StoreError>;
    /// Costs to settle, oldest first: not final, and their message reached a state that can be
    /// settled ([`pricing_model::PendingCost`]) since they were last settled, or written before
    /// `stale_before` (to be settled for good: Meta stops trying to deliver).
    async fn pending_costs(&self, limit: u32, stale_before: Timestamp) -> Result<Vec<PendingCost>, StoreError>;
    /// Writes what the settler worked out; returns the messages whose cost this call settled for
    /// good (each once, whichever instance wrote it).
    async fn settle_costs(&self, settled: &[CostSettlement], now: Timestamp) -> Result<Vec<i64>, StoreError>;
    /// Whether a message before `message_id` was charged in the conversation `conversation_id`
    /// (conversation-based pricing charges only the one that opened it).
    async fn conversation_seen_before(&self, conversation_id: &str, message_id: i64) -> Result<bool, StoreError>;
    /// Charged WhatsApp messages this month (`YYYY-MM`) to `market`, per charged category, over
    /// every number of the WhatsApp Business account `business_number_id` belongs to.
    async fn month_volume(&self, business_number_id: i64, month: &str, market: &str) -> Result<Vec<(String, u64)>, StoreError>;
    /// Meta's `VOLUME_BASED_PRICING_TIER_UPDATE` account updates for the WhatsApp Business
    /// account of `business_number_id`, as Meta sent them (the change's `value`), oldest first.
    async fn tier_updates(&self, business_number_id: i64) -> Result<Vec<String>, StoreError>;
    /// Outbound messages after `after_id` with no cost stored, oldest first, at most `limit`.
    async fn uncosted_messages(&self, after_id: i64, limit: u32) -> Result<Vec<UncostedMessage>, StoreError>;
    /// Stores costs settled for good (generated history), counting the charged ones in the
    /// month's volume; a message that has a cost already is left alone. Returns how many it wrote.
    async fn insert_costs(&self, costs: &[SettledCostRow]) -> Result<u64, StoreError>;
    /// A cost report: `message_costs` in `q`'s range and filters, summed by its grouping, at most
    /// `limit` rows ([`cost_report::CostGroupRow`]; a row per currency where several occur); with
    /// `totals`, summed per currency only (key `total`).
    async fn cost_report(
        &self,
        q: &windowdesk_core::pricing::report::ReportQuery,
        limit: u32,
        totals: bool,
    ) -> Result<Vec<CostGroupRow>, StoreError>;
    /// Every row of the report `q` in its order, sent to `batches` a batch at a time as the
    /// statement yields them (a CSV of a million customers without a million rows in memory).
    /// Ends when done, when the receiver is gone, or with the store's error.
    async fn cost_report_each(
        &self,
        q: &windowdesk_core::pricing::report::ReportQuery,
        batches: tokio::sync::mpsc::Sender<Vec<CostGroupRow>>,
    ) -> Result<(), StoreError>;
    /// The messages behind a report, in time order, after `after` (the last row's time and
    /// message id), at most `limit`.
    async fn cost_messages(
        &self,
        q: &windowdesk_core::pricing::report::ReportQuery,
        after: Option<(Timestamp, i64)>,
        limit: u32,
    ) -> Result<Vec<CostMessageRow>, StoreError>;
}

#[async_trait]
pub trait Store:
    IngestStore
    + CustomerStore
    + SearchStore
    + BusinessNumberStore
    + TicketStore
    + ContactStore
    + MessageStore
    + OutboxStore
    + LeaseStore
    + MediaStore
    + AuditStore
    + ApiTokenStore
    + AgentStore
    + TicketWorkStore
    + WebStore
    + FallbackStore
    + BusinessHoursStore
    + MacroStore
    + RuleStore
    + AutomationStore
    + HttpTargetStore
    + WorkflowStore
    + PricingStore
{
    /// For `/readyz`: commits a one-row write, so a database that answers but cannot commit (disk
    /// full, read-only) reports not ready.
    async fn ping(&self, now: Timestamp) -> Result<(), StoreError>;
    /// Which backend this is (`sqlite` or `postgres`), for logs and metrics.
    fn backend(&self) -> &'static str;
    /// Stops background work (the group-commit queue), waiting for what was accepted to commit.
    async fn close(&self);
    /// Refreshes the query planner's statistics after a bulk load (`windowdesk generate`, an
    /// import): PostgreSQL's `ANALYZE`, which autovacuum would run only later (until then, pages
    /// took 0.5–1.6 s at 10 million messages instead of milliseconds). Nothing on SQLite, whose
    /// queries do not depend on statistics.
    async fn analyze(&self) -> Result<(), StoreError>;
    /// Relays live updates between the instances that share this database (PostgreSQL
    /// `LISTEN/NOTIFY`); `None` where only one instance can run (SQLite).
    async fn live_relay(&self) -> Result<Option<LiveRelay>, StoreError>;
}

/// Live-update payloads to and from the other instances of a desk.
#[derive(Debug)]
pub struct LiveRelay {
    /// The `LISTEN/NOTIFY` channel.
    pub channel: String,
    /// What this instance publishes; sent to the others.
    pub outgoing: tokio::sync::mpsc::UnboundedSender<String>,
    /// What the others published (this instance's own payloads come back too).
    pub incoming: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// Tuning of the group commit: how many payloads share a transaction, and how many transactions may
/// run at once.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub max_batch: usize,
    pub max_in_flight: usize,
    /// PostgreSQL connection pool size.
    pub pool_size: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_batch: 512, max_in_flight: 1, pool_size: 8 }
    }
}

/// Opens the store named by a URL: `sqlite://path/to/file.db` (or `sqlite::memory:`) or
/// `postgres://…`. Runs pending migrations first.
pub async fn open(url: &str, options: StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        Ok(Arc::new(sqlite::SqliteStore::open(path, options).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url, options).await?))
    } else {
        Err(StoreError::Config(format!("database url must start with sqlite:// or postgres://, got {:?}", redact_url(url))))
    }
}

/// Applies pending migrations and returns (backend, number of migrations now applied).
pub async fn migrate(url: &str) -> Result<(&'static str, usize), StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        Ok(("sqlite", sqlite::migrate_file(path)?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(("postgres", postgres::migrate_url(url).await?))
    } else {
        Err(StoreError::Config(format!("database url must start with sqlite:// or postgres://, got {:?}", redact_url(url))))
    }
}

/// A URL without its password, for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***{}", &url[..scheme_end], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub(crate) fn now_ms() -> Timestamp {
    use windowdesk_core::Clock;
    windowdesk_core::SystemClock.now()
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_lose_their_password() {
        assert_eq!(super::redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
