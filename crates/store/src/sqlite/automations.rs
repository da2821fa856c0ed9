//! Automations on SQLite (SPEC 10, issue 14): the sweep's read of open tickets and the executions it
//! arms. One desk runs them on SQLite; the claims still make a run that died mid-way come back once
//! its claim has run out.

use async_trait::async_trait;
use rusqlite::{params, Connection, TransactionBehavior};
use windowdesk_core::rules::WindowEpisode;
use windowdesk_core::{CustomerWindow, TicketStatus, Timestamp};

use super::SqliteStore;
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

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AutomationRun> {
    let state: String = r.get(5)?;
    let outcome: Option<String> = r.get(7)?;
    Ok(AutomationRun {
        id: r.get(0)?,
        rule_id: r.get(1)?,
        ticket_id: r.get(2)?,
        episode_key: r.get(3)?,
        due_at: t(r.get(4)?),
        state: RunState::parse(&state).unwrap_or(RunState::Skipped),
        reason: r.get(6)?,
        outcome: outcome.and_then(|o| serde_json::from_str(&o).ok()),
        armed_at: t(r.get(8)?),
        claimed_by: r.get(9)?,
        attempts: r.get(10)?,
        finished_at: ot(r.get(11)?),
    })
}

/// The states that hold an episode: a new execution for it is not armed.
pub(crate) const HOLDING: &str = "('armed', 'running', 'fired', 'expired')";

/// Cancels what a rule armed, inside the transaction that edits or deletes it.
pub(crate) fn cancel_armed(c: &Connection, rule_id: i64, reason: &str, now: Timestamp) -> Result<u64, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE automation_runs SET state = 'cancelled', reason = ?2, finished_at = ?3 WHERE rule_id = ?1 AND state = 'armed'",
        )?
        .execute(params![rule_id, reason, now.unix_millis()])?;
    Ok(n as u64)
}

#[async_trait]
impl AutomationStore for SqliteStore {
    async fn sweep_tickets(&self, after_id: i64, limit: u32) -> Result<Vec<SweepTicket>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT t.id, t.business_number_id, t.status, t.priority, t.assignee_id, t.created_at,
                        max(t.updated_at, t.last_message_at), COALESCE(t.status_changed_at, t.created_at), t.last_agent_reply_at,
                        i.last_inbound_at, i.referral_at, i.fep_started_at, i.window_episode_at,
                        (SELECT group_concat(g.tag, char(31)) FROM ticket_tags g WHERE g.ticket_id = t.id)
                   FROM tickets t JOIN identities i ON i.id = t.identity_id
                  WHERE t.status <> 'closed' AND t.id > ?1
                  ORDER BY t.id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after_id, limit], |r| {
                let status = TicketStatus::parse(&r.get::<_, String>(2)?).unwrap_or(TicketStatus::Open);
                let status_changed_at = t(r.get(7)?);
                Ok(SweepTicket {
                    id: r.get(0)?,
                    business_number_id: r.get(1)?,
                    status,
                    priority: windowdesk_core::routing::Priority::parse(&r.get::<_, String>(3)?).unwrap_or_default(),
                    assignee_id: r.get(4)?,
                    created_at: t(r.get(5)?),
                    changed_at: t(r.get(6)?),
                    status_changed_at,
                    solved_at: (status == TicketStatus::Solved).then_some(status_changed_at),
                    last_agent_reply_at: ot(r.get(8)?),
                    window: CustomerWindow { last_inbound_at: ot(r.get(9)?), referral_at: ot(r.get(10)?), fep_started_at: ot(r.get(11)?) },
                    window_episode: ot(r.get(12)?).map(|started_at| WindowEpisode { started_at }),
                    tags: super::api::split_tags(r.get(13)?),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn automation_runs_known(&self, runs: &[ArmRun]) -> Result<Vec<bool>, StoreError> {
        let runs = runs.to_vec();
        self.read(move |c| {
            let tx = c.unchecked_transaction()?;
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 FROM automation_runs WHERE rule_id = ?1 AND ticket_id = ?2 AND episode_key = ?3 AND state IN {HOLDING})"
            ))?;
            let known = runs
                .iter()
                .map(|r| stmt.query_row(params![r.rule_id, r.ticket_id, r.episode_key], |row| row.get::<_, bool>(0)))
                .collect::<Result<Vec<_>, _>>()?;
            drop(stmt);
            tx.commit()?;
            Ok(known)
        })
        .await
    }

    async fn arm_automations(&self, runs: &[ArmRun], now: Timestamp) -> Result<u64, StoreError> {
        if runs.is_empty() {
            return Ok(0);
        }
        let runs = runs.to_vec();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let mut inserted = 0;
                {
                    let mut stmt = tx.prepare_cached(&format!(
                        "INSERT INTO automation_runs (rule_id, ticket_id, episode_key, due_at, state, armed_at)
                         VALUES (?1, ?2, ?3, ?4, 'armed', ?5)
                         ON CONFLICT (rule_id, ticket_id, episode_key) WHERE state IN {HOLDING}
                         DO UPDATE SET due_at = excluded.due_at
                         WHERE automation_runs.state = 'armed' AND automation_runs.due_at <> excluded.due_at"
                    ))?;
                    for r in &runs {
                        inserted +=
                            stmt.execute(params![r.rule_id, r.ticket_id, r.episode_key, r.due_at.unix_millis(), now.unix_millis()])? as u64;
                    }
                }
                tx.commit()?;
                Ok(inserted)
            })
            .await
    }

    async fn claim_automation_runs(
        &self,
        owner: &str,
        now: Timestamp,
        claim_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<AutomationRun>, StoreError> {
        // A read first: polled every second, nothing due costs the writer nothing.
        let due: bool = self
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM automation_runs
                                     WHERE (state = 'armed' AND due_at <= ?1) OR (state = 'running' AND claimed_until <= ?1))",
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
                let claimed = {
                    let mut stmt = tx.prepare_cached(&format!(
                        "UPDATE automation_runs SET state = 'running', claimed_by = ?1, claimed_until = ?2, attempts = attempts + 1
                          WHERE id IN (SELECT id FROM automation_runs
                                        WHERE (state = 'armed' AND due_at <= ?3) OR (state = 'running' AND claimed_until <= ?3)
                                        ORDER BY due_at LIMIT ?4)
                          RETURNING {RUN_COLUMNS}"
                    ))?;
                    let rows = stmt.query_map(params![owner, claim_until.unix_millis(), now.unix_millis(), limit], run_row)?;
                    rows.collect::<Result<Vec<_>, _>>()?
                };
                tx.commit()?;
                let mut claimed = claimed;
                claimed.sort_by_key(|r| (r.due_at, r.id));
                Ok(claimed)
            })
            .await
    }

    async fn finish_automation_run(&self, id: i64, owner: &str, finish: &RunFinish, now: Timestamp) -> Result<bool, StoreError> {
        let (owner, finish) = (owner.to_owned(), finish.clone());
        self.inner
            .writer
            .run(move |conn| {
                let now = now.unix_millis();
                let n = match &finish {
                    RunFinish::Rearm { due_at } => conn
                        .prepare_cached(
                            "UPDATE automation_runs SET state = 'armed', due_at = ?3, claimed_by = NULL, claimed_until = NULL
                              WHERE id = ?1 AND claimed_by = ?2 AND state = 'running'",
                        )?
                        .execute(params![id, owner, due_at.unix_millis()])?,
                    other => {
                        let (state, reason, outcome) = match other {
                            RunFinish::Fired { outcome } => (RunState::Fired, None, Some(outcome.to_string())),
                            RunFinish::Skipped { reason } => (RunState::Skipped, Some(reason.clone()), None),
                            RunFinish::Expired { reason } => (RunState::Expired, Some(reason.clone()), None),
                            RunFinish::Rearm { .. } => unreachable!("handled above"),
                        };
                        conn.prepare_cached(
                            "UPDATE automation_runs SET state = ?3, reason = ?4, outcome = ?5, finished_at = ?6, claimed_until = NULL
                              WHERE id = ?1 AND claimed_by = ?2 AND state = 'running'",
                        )?
                        .execute(params![id, owner, state.as_str(), reason, outcome, now])?
                    }
                };
                Ok(n == 1)
            })
            .await
    }

    async fn automation_runs(&self, filter: &RunFilter) -> Result<Vec<AutomationRun>, StoreError> {
        let f = filter.clone();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM automation_runs
                  WHERE (?1 IS NULL OR rule_id = ?1) AND (?2 IS NULL OR ticket_id = ?2) AND (?3 IS NULL OR state = ?3)
                    AND (?4 IS NULL OR id < ?4)
                  ORDER BY id DESC LIMIT ?5"
            ))?;
            let rows =
                stmt.query_map(params![f.rule_id, f.ticket_id, f.state.map(RunState::as_str), f.before_id, f.limit.max(1)], run_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn automation_run_counts(&self) -> Result<Vec<(RunState, u64)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT state, count(*) FROM automation_runs GROUP BY state")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (state, n) = row?;
                if let Some(state) = RunState::parse(&state) {
                    out.push((state, u64::try_from(n).unwrap_or(0)));
                }
            }
            Ok(out)
        })
        .await
    }
}
