//! Workflows and their runs on SQLite (SPEC 10, issue 14 item 3). One desk runs them on SQLite; the
//! claims still make a run whose desk died mid-way come back once its claim has run out.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use windowdesk_core::Timestamp;

use super::SqliteStore;
use crate::error::StoreError;
use crate::workflow_model::{
    NewWorkflowRun, WorkflowRow, WorkflowRun, WorkflowRunFilter, WorkflowRunFinish, WorkflowRunState, WorkflowStepRecord, WorkflowWrite,
};
use crate::WorkflowStore;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

const COLUMNS: &str = "id, name, enabled, event, workflow, created_at, created_by, updated_at, updated_by";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WorkflowRow> {
    Ok(WorkflowRow {
        id: r.get(0)?,
        name: r.get(1)?,
        enabled: r.get(2)?,
        event: r.get(3)?,
        workflow: r.get(4)?,
        created_at: t(r.get(5)?),
        created_by: r.get(6)?,
        updated_at: t(r.get(7)?),
        updated_by: r.get(8)?,
    })
}

fn by_id(c: &Connection, id: i64) -> Result<Option<WorkflowRow>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM workflows WHERE id = ?1"))?.query_row(params![id], row).optional()?)
}

const RUN_COLUMNS: &str = "id, workflow_id, ticket_id, start_key, definition, state, started, cursor, resume_at, reason, created_at, \
                           claimed_by, attempts, finished_at";

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WorkflowRun> {
    let state: String = r.get(5)?;
    Ok(WorkflowRun {
        id: r.get(0)?,
        workflow_id: r.get(1)?,
        ticket_id: r.get(2)?,
        start_key: r.get(3)?,
        definition: r.get(4)?,
        state: WorkflowRunState::parse(&state).unwrap_or(WorkflowRunState::Failed),
        started: r.get(6)?,
        cursor: r.get(7)?,
        resume_at: t(r.get(8)?),
        reason: r.get(9)?,
        created_at: t(r.get(10)?),
        claimed_by: r.get(11)?,
        attempts: r.get(12)?,
        finished_at: r.get::<_, Option<i64>>(13)?.map(t),
    })
}

/// The states that hold a start key: a new run for it is not set off.
const HOLDING: &str = "('armed', 'waiting', 'running', 'done', 'expired', 'failed')";

/// Cancels a workflow's runs in `states` (an SQL list), inside the transaction that edits or deletes it.
fn cancel_runs(c: &Connection, workflow_id: i64, states: &str, reason: &str, now: Timestamp) -> Result<u64, StoreError> {
    let n = c
        .prepare_cached(&format!(
            "UPDATE workflow_runs SET state = 'cancelled', reason = ?2, finished_at = ?3, claimed_until = NULL
              WHERE workflow_id = ?1 AND state IN {states}"
        ))?
        .execute(params![workflow_id, reason, now.unix_millis()])?;
    Ok(n as u64)
}

#[async_trait]
impl WorkflowStore for SqliteStore {
    async fn workflows(&self) -> Result<Vec<WorkflowRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM workflows ORDER BY id"))?;
            let rows = stmt.query_map([], row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn workflow(&self, id: i64) -> Result<Option<WorkflowRow>, StoreError> {
        self.read(move |c| by_id(c, id)).await
    }

    async fn create_workflow(&self, w: &WorkflowWrite) -> Result<WorkflowRow, StoreError> {
        let w = w.clone();
        self.inner
            .writer
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO workflows (name, enabled, event, workflow, created_at, created_by, updated_at, updated_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5, ?6)",
                    params![w.name, w.enabled, w.event, w.workflow, w.now.unix_millis(), w.actor],
                )?;
                by_id(conn, conn.last_insert_rowid())?.ok_or_else(|| StoreError::Corrupt("a created workflow is missing".into()))
            })
            .await
    }

    async fn update_workflow(&self, id: i64, w: &WorkflowWrite) -> Result<Option<WorkflowRow>, StoreError> {
        let w = w.clone();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let n = tx.execute(
                    "UPDATE workflows SET name = ?1, enabled = ?2, event = ?3, workflow = ?4, updated_at = ?5, updated_by = ?6 WHERE id = ?7",
                    params![w.name, w.enabled, w.event, w.workflow, w.now.unix_millis(), w.actor, id],
                )?;
                if n == 0 {
                    return Ok(None);
                }
                if w.enabled {
                    cancel_runs(&tx, id, "('armed')", "the workflow was edited before the run started", w.now)?;
                } else {
                    cancel_runs(&tx, id, "('armed', 'waiting')", "the workflow was switched off", w.now)?;
                }
                let updated = by_id(&tx, id)?;
                tx.commit()?;
                Ok(updated)
            })
            .await
    }

    async fn delete_workflow(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let deleted = tx.execute("DELETE FROM workflows WHERE id = ?1", params![id])? == 1;
                cancel_runs(&tx, id, "('armed', 'waiting')", "the workflow was deleted", now)?;
                tx.commit()?;
                Ok(deleted)
            })
            .await
    }

    async fn workflow_runs_known(&self, runs: &[NewWorkflowRun]) -> Result<Vec<bool>, StoreError> {
        let runs = runs.to_vec();
        self.read(move |c| {
            let tx = c.unchecked_transaction()?;
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 FROM workflow_runs WHERE workflow_id = ?1 AND ticket_id = ?2 AND start_key = ?3 AND state IN {HOLDING})"
            ))?;
            let known = runs
                .iter()
                .map(|r| stmt.query_row(params![r.workflow_id, r.ticket_id, r.start_key], |row| row.get::<_, bool>(0)))
                .collect::<Result<Vec<_>, _>>()?;
            drop(stmt);
            tx.commit()?;
            Ok(known)
        })
        .await
    }

    async fn start_workflow_runs(&self, runs: &[NewWorkflowRun], now: Timestamp) -> Result<u64, StoreError> {
        if runs.is_empty() {
            return Ok(0);
        }
        let runs = runs.to_vec();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let mut written = 0;
                {
                    let mut stmt = tx.prepare_cached(
                        "INSERT INTO workflow_runs (workflow_id, ticket_id, start_key, definition, state, started, cursor, resume_at, created_at)
                         VALUES (?1, ?2, ?3, ?4, CASE WHEN ?5 THEN 'waiting' ELSE 'armed' END, ?5, 'steps[0]', ?6, ?7)
                         ON CONFLICT (workflow_id, ticket_id, start_key) WHERE state NOT IN ('skipped', 'cancelled')
                         DO UPDATE SET resume_at = excluded.resume_at, definition = excluded.definition
                         WHERE workflow_runs.state = 'armed' AND workflow_runs.resume_at <> excluded.resume_at",
                    )?;
                    for r in &runs {
                        written += stmt.execute(params![
                            r.workflow_id,
                            r.ticket_id,
                            r.start_key,
                            r.definition,
                            r.started,
                            r.resume_at.unix_millis(),
                            now.unix_millis()
                        ])? as u64;
                    }
                }
                tx.commit()?;
                Ok(written)
            })
            .await
    }

    async fn claim_workflow_runs(
        &self,
        owner: &str,
        now: Timestamp,
        claim_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<WorkflowRun>, StoreError> {
        // A read first: polled every second, nothing due costs the writer nothing.
        let due: bool = self
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM workflow_runs
                                     WHERE (state IN ('armed', 'waiting') AND resume_at <= ?1) OR (state = 'running' AND claimed_until <= ?1))",
                )?
                .query_row(params![now.unix_millis()], |r| r.get(0))?)
            })
            .await?;
        if !due {
            return Ok(Vec::new());
        }
        let owner = owner.to_owned();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let mut claimed = {
                    let mut stmt = tx.prepare_cached(&format!(
                        "UPDATE workflow_runs SET state = 'running', claimed_by = ?1, claimed_until = ?2, attempts = attempts + 1
                          WHERE id IN (SELECT id FROM workflow_runs
                                        WHERE (state IN ('armed', 'waiting') AND resume_at <= ?3) OR (state = 'running' AND claimed_until <= ?3)
                                        ORDER BY resume_at LIMIT ?4)
                          RETURNING {RUN_COLUMNS}"
                    ))?;
                    let rows = stmt.query_map(params![owner, claim_until.unix_millis(), now.unix_millis(), limit], run_row)?;
                    rows.collect::<Result<Vec<_>, _>>()?
                };
                tx.commit()?;
                claimed.sort_by_key(|r| (r.resume_at, r.id));
                Ok(claimed)
            })
            .await
    }

    async fn record_workflow_step(
        &self,
        run: &WorkflowRun,
        owner: &str,
        workflow_name: &str,
        step: &WorkflowStepRecord,
        next: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (run, owner, name, step, next) =
            (run.clone(), owner.to_owned(), workflow_name.to_owned(), step.clone(), next.map(str::to_owned));
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let moved = tx
                    .prepare_cached("UPDATE workflow_runs SET cursor = ?3 WHERE id = ?1 AND claimed_by = ?2 AND state = 'running'")?
                    .execute(params![run.id, owner, next])?;
                if moved == 0 {
                    return Ok(false);
                }
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO workflow_run_steps (run_id, path, kind, ok, outcome, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (run_id, path) DO NOTHING",
                    )?
                    .execute(params![run.id, step.path, step.kind, step.ok, step.outcome, step.at.unix_millis()])?;
                if inserted == 1 {
                    let data = crate::workflow_model::step_event_data(&run, &name, &step);
                    tx.prepare_cached(
                        "INSERT INTO ticket_events (ticket_id, at, actor, kind, data) VALUES (?1, ?2, ?3, 'workflow_step', ?4)",
                    )?
                    .execute(params![
                        run.ticket_id,
                        step.at.unix_millis(),
                        format!("workflow:{}", run.workflow_id),
                        data.to_string()
                    ])?;
                }
                tx.commit()?;
                Ok(true)
            })
            .await
    }

    async fn start_armed_workflow_run(&self, id: i64, owner: &str) -> Result<bool, StoreError> {
        let owner = owner.to_owned();
        self.inner
            .writer
            .run(move |conn| {
                let n = conn
                    .prepare_cached("UPDATE workflow_runs SET started = 1 WHERE id = ?1 AND claimed_by = ?2 AND state = 'running'")?
                    .execute(params![id, owner])?;
                Ok(n == 1)
            })
            .await
    }

    async fn finish_workflow_run(&self, id: i64, owner: &str, finish: &WorkflowRunFinish, now: Timestamp) -> Result<bool, StoreError> {
        let (owner, finish) = (owner.to_owned(), finish.clone());
        self.inner
            .writer
            .run(move |conn| {
                let (state, cursor, resume_at, reason, finished): (&str, Option<Option<String>>, Option<i64>, Option<String>, bool) = match &finish {
                    WorkflowRunFinish::Wait { cursor, resume_at } => ("waiting", Some(Some(cursor.clone())), Some(resume_at.unix_millis()), None, false),
                    WorkflowRunFinish::Rearm { resume_at } => ("armed", None, Some(resume_at.unix_millis()), None, false),
                    WorkflowRunFinish::Done => ("done", Some(None), None, None, true),
                    WorkflowRunFinish::Skipped { reason } => ("skipped", None, None, Some(reason.clone()), true),
                    WorkflowRunFinish::Expired { reason } => ("expired", None, None, Some(reason.clone()), true),
                    WorkflowRunFinish::Failed { reason } => ("failed", None, None, Some(reason.clone()), true),
                };
                let n = conn
                    .prepare_cached(
                        "UPDATE workflow_runs
                            SET state = CASE WHEN ?8 OR EXISTS (SELECT 1 FROM workflows w WHERE w.id = workflow_runs.workflow_id AND w.enabled)
                                             THEN ?3 ELSE 'cancelled' END,
                                cursor = CASE WHEN ?4 THEN ?5 ELSE cursor END,
                                resume_at = COALESCE(?6, resume_at),
                                reason = CASE WHEN ?8 OR EXISTS (SELECT 1 FROM workflows w WHERE w.id = workflow_runs.workflow_id AND w.enabled)
                                              THEN ?7 ELSE 'the workflow was switched off or deleted while the run was under way' END,
                                finished_at = CASE WHEN ?8 THEN ?9
                                                   WHEN EXISTS (SELECT 1 FROM workflows w WHERE w.id = workflow_runs.workflow_id AND w.enabled) THEN NULL
                                                   ELSE ?9 END,
                                claimed_by = CASE WHEN ?8 THEN claimed_by ELSE NULL END,
                                claimed_until = NULL
                          WHERE id = ?1 AND claimed_by = ?2 AND state = 'running'",
                    )?
                    .execute(params![
                        id,
                        owner,
                        state,
                        cursor.is_some(),
                        cursor.flatten(),
                        resume_at,
                        reason,
                        finished,
                        now.unix_millis()
                    ])?;
                Ok(n == 1)
            })
            .await
    }

    async fn workflow_runs(&self, filter: &WorkflowRunFilter) -> Result<Vec<WorkflowRun>, StoreError> {
        let f = filter.clone();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM workflow_runs
                  WHERE (?1 IS NULL OR workflow_id = ?1) AND (?2 IS NULL OR ticket_id = ?2) AND (?3 IS NULL OR state = ?3)
                    AND (?4 IS NULL OR id < ?4)
                  ORDER BY id DESC LIMIT ?5"
            ))?;
            let rows = stmt.query_map(
                params![f.workflow_id, f.ticket_id, f.state.map(WorkflowRunState::as_str), f.before_id, f.limit.max(1)],
                run_row,
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn workflow_run(&self, id: i64) -> Result<Option<WorkflowRun>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id = ?1"))?
                .query_row(params![id], run_row)
                .optional()?)
        })
        .await
    }

    async fn workflow_run_steps(&self, run_id: i64) -> Result<Vec<WorkflowStepRecord>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached("SELECT path, kind, ok, outcome, at FROM workflow_run_steps WHERE run_id = ?1 ORDER BY id")?;
            let rows = stmt.query_map(params![run_id], |r| {
                Ok(WorkflowStepRecord { path: r.get(0)?, kind: r.get(1)?, ok: r.get(2)?, outcome: r.get(3)?, at: t(r.get(4)?) })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
