//! Workflows and their runs on PostgreSQL (SPEC 10 and 12, issue 14 item 3): every instance claims
//! due runs with `FOR UPDATE SKIP LOCKED` and a claim that runs out, so each step runs on one
//! instance at a time, and a run whose instance died is taken over from its cursor.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Row};
use windowdesk_core::Timestamp;

use super::PgStore;
use crate::error::StoreError;
use crate::workflow_model::{
    NewWorkflowRun, WorkflowRow, WorkflowRun, WorkflowRunFilter, WorkflowRunFinish, WorkflowRunState, WorkflowStepRecord, WorkflowWrite,
};
use crate::WorkflowStore;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

const COLUMNS: &str = "id, name, enabled, event, workflow, created_at, created_by, updated_at, updated_by";

fn row(r: &PgRow) -> Result<WorkflowRow, StoreError> {
    Ok(WorkflowRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        enabled: r.try_get(2)?,
        event: r.try_get(3)?,
        workflow: r.try_get(4)?,
        created_at: t(r.try_get(5)?),
        created_by: r.try_get(6)?,
        updated_at: t(r.try_get(7)?),
        updated_by: r.try_get(8)?,
    })
}

async fn by_id<'e>(c: impl PgExecutor<'e>, id: i64) -> Result<Option<WorkflowRow>, StoreError> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM workflows WHERE id = $1")).bind(id).fetch_optional(c).await?.as_ref().map(row).transpose()
}

const RUN_COLUMNS: &str = "id, workflow_id, ticket_id, start_key, definition, state, started, cursor, resume_at, reason, created_at, \
                           claimed_by, attempts, finished_at";

fn run_row(r: &PgRow) -> Result<WorkflowRun, StoreError> {
    let state: String = r.try_get(5)?;
    Ok(WorkflowRun {
        id: r.try_get(0)?,
        workflow_id: r.try_get(1)?,
        ticket_id: r.try_get(2)?,
        start_key: r.try_get(3)?,
        definition: r.try_get(4)?,
        state: WorkflowRunState::parse(&state).unwrap_or(WorkflowRunState::Failed),
        started: r.try_get(6)?,
        cursor: r.try_get(7)?,
        resume_at: t(r.try_get(8)?),
        reason: r.try_get(9)?,
        created_at: t(r.try_get(10)?),
        claimed_by: r.try_get(11)?,
        attempts: r.try_get(12)?,
        finished_at: r.try_get::<Option<i64>, _>(13)?.map(t),
    })
}

/// The states that hold a start key: a new run for it is not set off.
const HOLDING: &str = "('armed', 'waiting', 'running', 'done', 'expired', 'failed')";

/// Cancels a workflow's runs in `states` (an SQL list), inside the transaction that edits or deletes it.
async fn cancel_runs<'e>(c: impl PgExecutor<'e>, workflow_id: i64, states: &str, reason: &str, now: Timestamp) -> Result<u64, StoreError> {
    Ok(sqlx::query(&format!(
        "UPDATE workflow_runs SET state = 'cancelled', reason = $2, finished_at = $3, claimed_until = NULL
          WHERE workflow_id = $1 AND state IN {states}"
    ))
    .bind(workflow_id)
    .bind(reason)
    .bind(now.unix_millis())
    .execute(c)
    .await?
    .rows_affected())
}

#[async_trait]
impl WorkflowStore for PgStore {
    async fn workflows(&self) -> Result<Vec<WorkflowRow>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM workflows ORDER BY id")).fetch_all(self.pool()).await?.iter().map(row).collect()
    }

    async fn workflow(&self, id: i64) -> Result<Option<WorkflowRow>, StoreError> {
        by_id(self.pool(), id).await
    }

    async fn create_workflow(&self, w: &WorkflowWrite) -> Result<WorkflowRow, StoreError> {
        let r = sqlx::query(&format!(
            "INSERT INTO workflows (name, enabled, event, workflow, created_at, created_by, updated_at, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $5, $6) RETURNING {COLUMNS}"
        ))
        .bind(&w.name)
        .bind(w.enabled)
        .bind(&w.event)
        .bind(&w.workflow)
        .bind(w.now.unix_millis())
        .bind(&w.actor)
        .fetch_one(self.pool())
        .await?;
        row(&r)
    }

    async fn update_workflow(&self, id: i64, w: &WorkflowWrite) -> Result<Option<WorkflowRow>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let updated = sqlx::query(&format!(
            "UPDATE workflows SET name = $1, enabled = $2, event = $3, workflow = $4, updated_at = $5, updated_by = $6 WHERE id = $7
             RETURNING {COLUMNS}"
        ))
        .bind(&w.name)
        .bind(w.enabled)
        .bind(&w.event)
        .bind(&w.workflow)
        .bind(w.now.unix_millis())
        .bind(&w.actor)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(updated) = updated else { return Ok(None) };
        if w.enabled {
            cancel_runs(&mut *tx, id, "('armed')", "the workflow was edited before the run started", w.now).await?;
        } else {
            cancel_runs(&mut *tx, id, "('armed', 'waiting')", "the workflow was switched off", w.now).await?;
        }
        tx.commit().await?;
        Ok(Some(row(&updated)?))
    }

    async fn delete_workflow(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let deleted = sqlx::query("DELETE FROM workflows WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected() == 1;
        cancel_runs(&mut *tx, id, "('armed', 'waiting')", "the workflow was deleted", now).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn workflow_runs_known(&self, runs: &[NewWorkflowRun]) -> Result<Vec<bool>, StoreError> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let workflows: Vec<i64> = runs.iter().map(|r| r.workflow_id).collect();
        let tickets: Vec<i64> = runs.iter().map(|r| r.ticket_id).collect();
        let keys: Vec<String> = runs.iter().map(|r| r.start_key.clone()).collect();
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM workflow_runs w WHERE w.workflow_id = k.workflow_id AND w.ticket_id = k.ticket_id
                              AND w.start_key = k.start_key AND w.state IN {HOLDING})
               FROM unnest($1::bigint[], $2::bigint[], $3::text[]) WITH ORDINALITY AS k(workflow_id, ticket_id, start_key, n)
              ORDER BY k.n"
        );
        Ok(sqlx::query_scalar(&sql).bind(&workflows).bind(&tickets).bind(&keys).fetch_all(self.pool()).await?)
    }

    async fn start_workflow_runs(&self, runs: &[NewWorkflowRun], now: Timestamp) -> Result<u64, StoreError> {
        if runs.is_empty() {
            return Ok(0);
        }
        let workflows: Vec<i64> = runs.iter().map(|r| r.workflow_id).collect();
        let tickets: Vec<i64> = runs.iter().map(|r| r.ticket_id).collect();
        let keys: Vec<String> = runs.iter().map(|r| r.start_key.clone()).collect();
        let definitions: Vec<String> = runs.iter().map(|r| r.definition.clone()).collect();
        let started: Vec<bool> = runs.iter().map(|r| r.started).collect();
        let resume: Vec<i64> = runs.iter().map(|r| r.resume_at.unix_millis()).collect();
        let sql = "INSERT INTO workflow_runs (workflow_id, ticket_id, start_key, definition, state, started, cursor, resume_at, created_at)
             SELECT k.workflow_id, k.ticket_id, k.start_key, k.definition, CASE WHEN k.started THEN 'waiting' ELSE 'armed' END,
                    k.started, 'steps[0]', k.resume_at, $7
               FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::boolean[], $6::bigint[])
                    AS k(workflow_id, ticket_id, start_key, definition, started, resume_at)
             ON CONFLICT (workflow_id, ticket_id, start_key) WHERE state NOT IN ('skipped', 'cancelled')
             DO UPDATE SET resume_at = excluded.resume_at, definition = excluded.definition
             WHERE workflow_runs.state = 'armed' AND workflow_runs.resume_at <> excluded.resume_at";
        Ok(sqlx::query(sql)
            .bind(&workflows)
            .bind(&tickets)
            .bind(&keys)
            .bind(&definitions)
            .bind(&started)
            .bind(&resume)
            .bind(now.unix_millis())
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    async fn claim_workflow_runs(
        &self,
        owner: &str,
        now: Timestamp,
        claim_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<WorkflowRun>, StoreError> {
        let sql = format!(
            "UPDATE workflow_runs SET state = 'running', claimed_by = $1, claimed_until = $2, attempts = attempts + 1
              WHERE id IN (SELECT id FROM workflow_runs
                            WHERE (state IN ('armed', 'waiting') AND resume_at <= $3) OR (state = 'running' AND claimed_until <= $3)
                            ORDER BY resume_at LIMIT $4
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
        claimed.sort_by_key(|r| (r.resume_at, r.id));
        Ok(claimed)
    }

    async fn record_workflow_step(
        &self,
        run: &WorkflowRun,
        owner: &str,
        workflow_name: &str,
        step: &WorkflowStepRecord,
        next: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let moved = sqlx::query("UPDATE workflow_runs SET cursor = $3 WHERE id = $1 AND claimed_by = $2 AND state = 'running'")
            .bind(run.id)
            .bind(owner)
            .bind(next)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT INTO workflow_run_steps (run_id, path, kind, ok, outcome, at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (run_id, path) DO NOTHING",
        )
        .bind(run.id)
        .bind(&step.path)
        .bind(&step.kind)
        .bind(step.ok)
        .bind(&step.outcome)
        .bind(step.at.unix_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            let data = crate::workflow_model::step_event_data(run, workflow_name, step);
            sqlx::query("INSERT INTO ticket_events (ticket_id, at, actor, kind, data) VALUES ($1, $2, $3, 'workflow_step', $4)")
                .bind(run.ticket_id)
                .bind(step.at.unix_millis())
                .bind(format!("workflow:{}", run.workflow_id))
                .bind(data.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn start_armed_workflow_run(&self, id: i64, owner: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE workflow_runs SET started = TRUE WHERE id = $1 AND claimed_by = $2 AND state = 'running'")
            .bind(id)
            .bind(owner)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn finish_workflow_run(&self, id: i64, owner: &str, finish: &WorkflowRunFinish, now: Timestamp) -> Result<bool, StoreError> {
        let (state, cursor, resume_at, reason, finished): (&str, Option<Option<String>>, Option<i64>, Option<String>, bool) = match finish {
            WorkflowRunFinish::Wait { cursor, resume_at } => {
                ("waiting", Some(Some(cursor.clone())), Some(resume_at.unix_millis()), None, false)
            }
            WorkflowRunFinish::Rearm { resume_at } => ("armed", None, Some(resume_at.unix_millis()), None, false),
            WorkflowRunFinish::Done => ("done", Some(None), None, None, true),
            WorkflowRunFinish::Skipped { reason } => ("skipped", None, None, Some(reason.clone()), true),
            WorkflowRunFinish::Expired { reason } => ("expired", None, None, Some(reason.clone()), true),
            WorkflowRunFinish::Failed { reason } => ("failed", None, None, Some(reason.clone()), true),
        };
        let n = sqlx::query(
            "UPDATE workflow_runs
                SET state = CASE WHEN $8 OR EXISTS (SELECT 1 FROM workflows w WHERE w.id = workflow_runs.workflow_id AND w.enabled)
                                 THEN $3 ELSE 'cancelled' END,
                    cursor = CASE WHEN $4 THEN $5 ELSE cursor END,
                    resume_at = COALESCE($6, resume_at),
                    reason = CASE WHEN $8 OR EXISTS (SELECT 1 FROM workflows w WHERE w.id = workflow_runs.workflow_id AND w.enabled)
                                  THEN $7 ELSE 'the workflow was switched off or deleted while the run was under way' END,
                    finished_at = CASE WHEN $8 THEN $9::bigint
                                       WHEN EXISTS (SELECT 1 FROM workflows w WHERE w.id = workflow_runs.workflow_id AND w.enabled) THEN NULL
                                       ELSE $9::bigint END,
                    claimed_by = CASE WHEN $8 THEN claimed_by ELSE NULL END,
                    claimed_until = NULL
              WHERE id = $1 AND claimed_by = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(owner)
        .bind(state)
        .bind(cursor.is_some())
        .bind(cursor.flatten())
        .bind(resume_at)
        .bind(reason)
        .bind(finished)
        .bind(now.unix_millis())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn workflow_runs(&self, filter: &WorkflowRunFilter) -> Result<Vec<WorkflowRun>, StoreError> {
        let f = filter;
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM workflow_runs
              WHERE ($1::bigint IS NULL OR workflow_id = $1) AND ($2::bigint IS NULL OR ticket_id = $2) AND ($3::text IS NULL OR state = $3)
                AND ($4::bigint IS NULL OR id < $4)
              ORDER BY id DESC LIMIT $5"
        );
        sqlx::query(&sql)
            .bind(f.workflow_id)
            .bind(f.ticket_id)
            .bind(f.state.map(WorkflowRunState::as_str))
            .bind(f.before_id)
            .bind(i64::from(f.limit.max(1)))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(run_row)
            .collect()
    }

    async fn workflow_run(&self, id: i64) -> Result<Option<WorkflowRun>, StoreError> {
        sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(run_row)
            .transpose()
    }

    async fn workflow_run_steps(&self, run_id: i64) -> Result<Vec<WorkflowStepRecord>, StoreError> {
        let rows = sqlx::query("SELECT path, kind, ok, outcome, at FROM workflow_run_steps WHERE run_id = $1 ORDER BY id")
            .bind(run_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WorkflowStepRecord {
                    path: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    ok: r.try_get(2)?,
                    outcome: r.try_get(3)?,
                    at: t(r.try_get(4)?),
                })
            })
            .collect()
    }
}
