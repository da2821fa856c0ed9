//! HTTP targets and their delivery queue on SQLite (issue 14 item 4).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use windowdesk_core::Timestamp;

use super::SqliteStore;
use crate::error::StoreError;
use crate::model::{HttpAttempt, HttpDeliveryRow, HttpTargetRow, HttpTargetWrite, NewHttpDelivery};
use crate::HttpTargetStore;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

const TARGET: &str = "id, name, url, secret, enabled, created_at, updated_at, failing_since, last_success_at";
const DELIVERY: &str =
    "id, target_id, webhook_id, ticket_id, event_type, body, state, attempts, next_attempt_at, last_status, last_error, created_at, finished_at";

fn target_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<HttpTargetRow> {
    Ok(HttpTargetRow {
        id: r.get(at)?,
        name: r.get(at + 1)?,
        url: r.get(at + 2)?,
        secret: r.get(at + 3)?,
        enabled: r.get(at + 4)?,
        created_at: t(r.get(at + 5)?),
        updated_at: t(r.get(at + 6)?),
        failing_since: r.get::<_, Option<i64>>(at + 7)?.map(t),
        last_success_at: r.get::<_, Option<i64>>(at + 8)?.map(t),
    })
}

fn delivery_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HttpDeliveryRow> {
    Ok(HttpDeliveryRow {
        id: r.get(0)?,
        target_id: r.get(1)?,
        webhook_id: r.get(2)?,
        ticket_id: r.get(3)?,
        event_type: r.get(4)?,
        body: r.get(5)?,
        state: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt_at: t(r.get(8)?),
        last_status: r.get(9)?,
        last_error: r.get(10)?,
        created_at: t(r.get(11)?),
        finished_at: r.get::<_, Option<i64>>(12)?.map(t),
    })
}

#[async_trait]
impl HttpTargetStore for SqliteStore {
    async fn http_targets(&self) -> Result<Vec<HttpTargetRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {TARGET} FROM http_targets ORDER BY name, id"))?;
            let rows = stmt.query_map([], |r| target_row(r, 0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn http_target(&self, id: i64) -> Result<Option<HttpTargetRow>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(&format!("SELECT {TARGET} FROM http_targets WHERE id = ?1"))?
                .query_row(params![id], |r| target_row(r, 0))
                .optional()?)
        })
        .await
    }

    async fn create_http_target(&self, w: &HttpTargetWrite, secret: &str) -> Result<HttpTargetRow, StoreError> {
        let (w, secret) = (w.clone(), secret.to_owned());
        self.inner
            .writer
            .run(move |conn| {
                Ok(conn
                    .prepare_cached(&format!(
                        "INSERT INTO http_targets (name, url, secret, enabled, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                         RETURNING {TARGET}"
                    ))?
                    .query_row(params![w.name, w.url, secret, w.enabled, w.now.unix_millis()], |r| target_row(r, 0))?)
            })
            .await
    }

    async fn update_http_target(&self, id: i64, w: &HttpTargetWrite) -> Result<bool, StoreError> {
        let w = w.clone();
        self.inner
            .writer
            .run(move |conn| {
                Ok(conn.execute(
                    "UPDATE http_targets SET name = ?1, url = ?2, enabled = ?3, updated_at = ?4 WHERE id = ?5",
                    params![w.name, w.url, w.enabled, w.now.unix_millis(), id],
                )? == 1)
            })
            .await
    }

    async fn delete_http_target(&self, id: i64) -> Result<bool, StoreError> {
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.execute("DELETE FROM http_deliveries WHERE target_id = ?1", params![id])?;
                let n = tx.execute("DELETE FROM http_targets WHERE id = ?1", params![id])?;
                tx.commit()?;
                Ok(n == 1)
            })
            .await
    }

    async fn enqueue_http_delivery(&self, d: &NewHttpDelivery) -> Result<bool, StoreError> {
        let d = d.clone();
        self.inner
            .writer
            .run(move |conn| {
                let n = conn
                    .prepare_cached(
                        "INSERT INTO http_deliveries (target_id, webhook_id, ticket_id, event_type, body, state, next_attempt_at, created_at)
                         SELECT ?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6 WHERE EXISTS (SELECT 1 FROM http_targets WHERE id = ?1)
                         ON CONFLICT (webhook_id) DO NOTHING",
                    )?
                    .execute(params![d.target_id, d.webhook_id, d.ticket_id, d.event_type, d.body, d.now.unix_millis()])?;
                if n == 0 {
                    let exists: bool =
                        conn.query_row("SELECT EXISTS (SELECT 1 FROM http_targets WHERE id = ?1)", params![d.target_id], |r| r.get(0))?;
                    if !exists {
                        return Err(StoreError::NotFound(format!("there is no HTTP target {}", d.target_id)));
                    }
                }
                Ok(n == 1)
            })
            .await
    }

    async fn claim_http_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        claim_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<(HttpDeliveryRow, HttpTargetRow)>, StoreError> {
        // A read first: polled every second on every desk, an idle queue costs the writer nothing.
        let due: bool = self
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM http_deliveries WHERE state = 'pending' AND next_attempt_at <= ?1
                                      AND (claimed_until IS NULL OR claimed_until <= ?1))",
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
                let ids: Vec<i64> = {
                    let mut stmt = tx.prepare_cached(
                        "UPDATE http_deliveries SET claimed_by = ?1, claimed_until = ?2
                          WHERE id IN (SELECT d.id FROM http_deliveries d JOIN http_targets t ON t.id = d.target_id
                                        WHERE d.state = 'pending' AND d.next_attempt_at <= ?3 AND t.enabled
                                          AND (d.claimed_until IS NULL OR d.claimed_until <= ?3)
                                        ORDER BY d.next_attempt_at LIMIT ?4)
                          RETURNING id",
                    )?;
                    let rows = stmt.query_map(params![owner, claim_until.unix_millis(), now.unix_millis(), limit], |r| r.get(0))?;
                    rows.collect::<Result<_, _>>()?
                };
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    let d = tx
                        .prepare_cached(&format!("SELECT {DELIVERY} FROM http_deliveries WHERE id = ?1"))?
                        .query_row(params![id], delivery_row)?;
                    let target = tx
                        .prepare_cached(&format!("SELECT {TARGET} FROM http_targets WHERE id = ?1"))?
                        .query_row(params![d.target_id], |r| target_row(r, 0))?;
                    out.push((d, target));
                }
                tx.commit()?;
                out.sort_by_key(|(d, _)| (d.next_attempt_at, d.id));
                Ok(out)
            })
            .await
    }

    async fn finish_http_attempt(&self, id: i64, owner: &str, attempt: &HttpAttempt, now: Timestamp) -> Result<bool, StoreError> {
        let (owner, attempt) = (owner.to_owned(), attempt.clone());
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now = now.unix_millis();
                let (state, status, error, next, ok) = match &attempt {
                    HttpAttempt::Delivered { status } => ("delivered", Some(*status), None, None, true),
                    HttpAttempt::Retry { status, error, next_attempt_at } => {
                        ("pending", *status, Some(error.clone()), Some(next_attempt_at.unix_millis()), false)
                    }
                    HttpAttempt::GaveUp { status, error } => ("gave_up", *status, Some(error.clone()), None, false),
                };
                let target: Option<i64> = tx
                    .prepare_cached(
                        "UPDATE http_deliveries SET state = ?3, attempts = attempts + 1, last_status = ?4, last_error = ?5,
                                next_attempt_at = COALESCE(?6, next_attempt_at), claimed_by = NULL, claimed_until = NULL,
                                finished_at = CASE WHEN ?3 = 'pending' THEN NULL ELSE ?7 END
                          WHERE id = ?1 AND claimed_by = ?2 RETURNING target_id",
                    )?
                    .query_row(params![id, owner, state, status, error, next, now], |r| r.get(0))
                    .optional()?;
                let Some(target) = target else { return Ok(false) };
                if ok {
                    tx.execute("UPDATE http_targets SET failing_since = NULL, last_success_at = ?2 WHERE id = ?1", params![target, now])?;
                } else {
                    tx.execute("UPDATE http_targets SET failing_since = COALESCE(failing_since, ?2) WHERE id = ?1", params![target, now])?;
                }
                tx.commit()?;
                Ok(true)
            })
            .await
    }

    async fn http_deliveries(&self, target_id: i64, before_id: Option<i64>, limit: u32) -> Result<Vec<HttpDeliveryRow>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {DELIVERY} FROM http_deliveries WHERE target_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![target_id, before_id, limit.max(1)], delivery_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
