//! Automations on PostgreSQL (SPEC 10 and 12, issue 14): several desk instances share the work.
//! One instance at a time sweeps (the server's `automations` lease) and arms executions; every
//! instance claims due ones with `FOR UPDATE SKIP LOCKED` and a claim that runs out, so each runs
//! on one instance, and one whose instance died is picked up again. The unique index on (rule,
//! ticket, episode) is the last line of defence.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Row};
use windowdesk_core::rules::WindowEpisode;
use windowdesk_core::{CustomerWindow, TicketStatus, Timestamp};

use super::PgStore;
use crate::error::StoreError;
use crate::model::{ArmRun, AutomationRun, RunFilter, RunFinish, RunState, SweepTicket};
use crate::AutomationStore;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

fn ot(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_unix_millis)
}

const RUN_COLUMNS: &str =
    "id, rule_id, ticket_id, episode_key, due_at, state, reason, outcome, armed_at, claimed_by, attempts, finished_at";

fn run_row(r: &PgRow) -> Result<AutomationRun, StoreError> {
    let state: String = r.try_get(5)?;
    let outcome: Option<String> = r.try_get(7)?;
    Ok(AutomationRun {
        id: r.try_get(0)?,
        rule_id: r.try_get(1)?,
        ticket_id: r.try_get(2)?,
        episode_key: r.try_get(3)?,
        due_at: t(r.try_get(4)?),
        state: RunState::parse(&state).unwrap_or(RunState::Skipped),
        reason: r.try_get(6)?,
        outcome: outcome.and_then(|o| serde_json::from_str(&o).ok()),
        armed_at: t(r.try_get(8)?),
        claimed_by: r.try_get(9)?,
        attempts: r.try_get(10)?,
        finished_at: ot(r.try_get(11)?),
    })
}

/// The states that hold an episode: a new execution for it is not armed.
const HOLDING: &str = "('armed', 'running', 'fired', 'expired')";

/// Cancels what a rule armed, inside the transaction that edits or deletes it.
pub(crate) async fn cancel_armed<'e>(c: impl PgExecutor<'e>, rule_id: i64, reason: &str, now: Timestamp) -> Result<u64, StoreError> {
    Ok(sqlx::query("UPDATE automation_runs SET state = 'cancelled', reason = $2, finished_at = $3 WHERE rule_id = $1 AND state = 'armed'")
        .bind(rule_id)
        .bind(reason)
        .bind(now.unix_millis())
        .execute(c)
        .await?
        .rows_affected())
}

#[async_trait]
impl AutomationStore for PgStore {
    async fn sweep_tickets(&self, after_id: i64, limit: u32) -> Result<Vec<SweepTicket>, StoreError> {
        // A page of a few thousand rows in id order: parallel workers cost more to start than they
        // save (39–52 ms a page against 21–31 ms at 900,000 open tickets).
        let mut tx = self.pool().begin().await?;
        sqlx::query("SET LOCAL max_parallel_workers_per_gather = 0").execute(&mut *tx).await?;
        let rows = sqlx::query(
            "SELECT t.id, t.business_number_id, t.status, t.priority, t.assignee_id, t.created_at,
                    GREATEST(t.updated_at, t.last_message_at), COALESCE(t.status_changed_at, t.created_at), t.last_agent_reply_at,
                    i.last_inbound_at, i.referral_at, i.fep_started_at, i.window_episode_at,
                    ARRAY(SELECT g.tag FROM ticket_tags g WHERE g.ticket_id = t.id ORDER BY g.tag)
               FROM tickets t JOIN identities i ON i.id = t.identity_id
              WHERE t.status <> 'closed' AND t.id > $1
              ORDER BY t.id LIMIT $2",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                let status = TicketStatus::parse(&r.try_get::<String, _>(2)?).unwrap_or(TicketStatus::Open);
                let status_changed_at = t(r.try_get(7)?);
                Ok(SweepTicket {
                    id: r.try_get(0)?,
                    business_number_id: r.try_get(1)?,
                    status,
                    priority: windowdesk_core::routing::Priority::parse(&r.try_get::<String, _>(3)?).unwrap_or_default(),
                    assignee_id: r.try_get(4)?,
                    created_at: t(r.try_get(5)?),
                    changed_at: t(r.try_get(6)?),
                    status_changed_at,
                    solved_at: (status == TicketStatus::Solved).then_some(status_changed_at),
                    last_agent_reply_at: ot(r.try_get(8)?),
                    window: CustomerWindow {
                        last_inbound_at: ot(r.try_get(9)?),
                        referral_at: ot(r.try_get(10)?),
                        fep_started_at: ot(r.try_get(11)?),
                    },
                    window_episode: ot(r.try_get(12)?).map(|started_at| WindowEpisode { started_at }),
                    tags: r.try_get(13)?,
                })
            })
            .collect()
    }

    async fn automation_runs_known(&self, runs: &[ArmRun]) -> Result<Vec<bool>, StoreError> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let rules: Vec<i64> = runs.iter().map(|r| r.rule_id).collect();
        let tickets: Vec<i64> = runs.iter().map(|r| r.ticket_id).collect();
        let episodes: Vec<String> = runs.iter().map(|r| r.episode_key.clone()).collect();
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM automation_runs a WHERE a.rule_id = k.rule_id AND a.ticket_id = k.ticket_id
                              AND a.episode_key = k.episode_key AND a.state IN {HOLDING})
               FROM unnest($1::bigint[], $2::bigint[], $3::text[]) WITH ORDINALITY AS k(rule_id, ticket_id, episode_key, n)
              ORDER BY k.n"
        );
        let known: Vec<bool> = sqlx::query_scalar(&sql).bind(&rules).bind(&tickets).bind(&episodes).fetch_all(self.pool()).await?;
        Ok(known)
    }

    async fn arm_automations(&self, runs: &[ArmRun], now: Timestamp) -> Result<u64, StoreError> {
        if runs.is_empty() {
            return Ok(0);
        }
        let rules: Vec<i64> = runs.iter().map(|r| r.rule_id).collect();
        let tickets: Vec<i64> = runs.iter().map(|r| r.ticket_id).collect();
        let episodes: Vec<String> = runs.iter().map(|r| r.episode_key.clone()).collect();
        let due: Vec<i64> = runs.iter().map(|r| r.due_at.unix_millis()).collect();
        let sql = format!(
            "INSERT INTO automation_runs (rule_id, ticket_id, episode_key, due_at, state, armed_at)
             SELECT k.rule_id, k.ticket_id, k.episode_key, k.due_at, 'armed', $5
               FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) AS k(rule_id, ticket_id, episode_key, due_at)
             ON CONFLICT (rule_id, ticket_id, episode_key) WHERE state IN {HOLDING}
             DO UPDATE SET due_at = excluded.due_at
             WHERE automation_runs.state = 'armed' AND automation_runs.due_at <> excluded.due_at"
        );
        Ok(sqlx::query(&sql)
            .bind(&rules)
            .bind(&tickets)
            .bind(&episodes)
            .bind(&due)
            .bind(now.unix_millis())
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    async fn claim_automation_runs(
        &self,
        owner: &str,
        now: Timestamp,
        claim_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<AutomationRun>, StoreError> {
        let sql = format!(
            "UPDATE automation_runs SET state = 'running', claimed_by = $1, claimed_until = $2, attempts = attempts + 1
              WHERE id IN (SELECT id FROM automation_runs
                            WHERE (state = 'armed' AND due_at <= $3) OR (state = 'running' AND claimed_until <= $3)
                            ORDER BY due_at LIMIT $4
                            FOR UPDATE SKIP LOCKED)
              RETURNING {RUN_COLUMNS}"
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(claim_until.unix_millis())
            .bind(now.unix_millis())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        let mut claimed = rows.iter().map(run_row).collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|r| (r.due_at, r.id));
        Ok(claimed)
    }

    async fn finish_automation_run(&self, id: i64, owner: &str, finish: &RunFinish, now: Timestamp) -> Result<bool, StoreError> {
        let n = match finish {
            RunFinish::Rearm { due_at } => sqlx::query(
                "UPDATE automation_runs SET state = 'armed', due_at = $3, claimed_by = NULL, claimed_until = NULL
                  WHERE id = $1 AND claimed_by = $2 AND state = 'running'",
            )
            .bind(id)
            .bind(owner)
            .bind(due_at.unix_millis())
            .execute(self.pool())
            .await?
            .rows_affected(),
            other => {
                let (state, reason, outcome) = match other {
                    RunFinish::Fired { outcome } => (RunState::Fired, None, Some(outcome.to_string())),
                    RunFinish::Skipped { reason } => (RunState::Skipped, Some(reason.clone()), None),
                    RunFinish::Expired { reason } => (RunState::Expired, Some(reason.clone()), None),
                    RunFinish::Rearm { .. } => unreachable!("handled above"),
                };
                sqlx::query(
                    "UPDATE automation_runs SET state = $3, reason = $4, outcome = $5, finished_at = $6, claimed_until = NULL
                      WHERE id = $1 AND claimed_by = $2 AND state = 'running'",
                )
                .bind(id)
                .bind(owner)
                .bind(state.as_str())
                .bind(reason)
                .bind(outcome)
                .bind(now.unix_millis())
                .execute(self.pool())
                .await?
                .rows_affected()
            }
        };
        Ok(n == 1)
    }

    async fn automation_runs(&self, f: &RunFilter) -> Result<Vec<AutomationRun>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM automation_runs
              WHERE ($1::bigint IS NULL OR rule_id = $1) AND ($2::bigint IS NULL OR ticket_id = $2) AND ($3::text IS NULL OR state = $3)
                AND ($4::bigint IS NULL OR id < $4)
              ORDER BY id DESC LIMIT $5"
        );
        let rows = sqlx::query(&sql)
            .bind(f.rule_id)
            .bind(f.ticket_id)
            .bind(f.state.map(RunState::as_str))
            .bind(f.before_id)
            .bind(i64::from(f.limit.max(1)))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(run_row).collect()
    }

    async fn automation_run_counts(&self) -> Result<Vec<(RunState, u64)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, count(*) FROM automation_runs GROUP BY state").fetch_all(self.pool()).await?;
        Ok(rows.into_iter().filter_map(|(s, n)| Some((RunState::parse(&s)?, u64::try_from(n).unwrap_or(0)))).collect())
    }
}
