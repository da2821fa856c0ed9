//! HTTP targets and their delivery queue on PostgreSQL (issue 14 item 4): every instance delivers,
//! claiming with `FOR UPDATE SKIP LOCKED`.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;
use windowdesk_core::Timestamp;

use super::PgStore;
use crate::error::StoreError;
use crate::model::{HttpAttempt, HttpDeliveryRow, HttpTargetRow, HttpTargetWrite, NewHttpDelivery};
use crate::HttpTargetStore;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

const TARGET: &str = "id, name, url, secret, enabled, created_at, updated_at, failing_since, last_success_at";
const DELIVERY: &str =
    "id, target_id, webhook_id, ticket_id, event_type, body, state, attempts, next_attempt_at, last_status, last_error, created_at, finished_at";

fn target_row(r: &PgRow) -> Result<HttpTargetRow, StoreError> {
    Ok(HttpTargetRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        url: r.try_get(2)?,
        secret: r.try_get(3)?,
        enabled: r.try_get(4)?,
        created_at: t(r.try_get(5)?),
        updated_at: t(r.try_get(6)?),
        failing_since: r.try_get::<Option<i64>, _>(7)?.map(t),
        last_success_at: r.try_get::<Option<i64>, _>(8)?.map(t),
    })
}

fn delivery_row(r: &PgRow) -> Result<HttpDeliveryRow, StoreError> {
    Ok(HttpDeliveryRow {
        id: r.try_get(0)?,
        target_id: r.try_get(1)?,
        webhook_id: r.try_get(2)?,
        ticket_id: r.try_get(3)?,
        event_type: r.try_get(4)?,
        body: r.try_get(5)?,
        state: r.try_get(6)?,
        attempts: r.try_get(7)?,
        next_attempt_at: t(r.try_get(8)?),
        last_status: r.try_get(9)?,
        last_error: r.try_get(10)?,
        created_at: t(r.try_get(11)?),
        finished_at: r.try_get::<Option<i64>, _>(12)?.map(t),
    })
}

#[async_trait]
impl HttpTargetStore for PgStore {
    async fn http_targets(&self) -> Result<Vec<HttpTargetRow>, StoreError> {
        let sql = format!("SELECT {TARGET} FROM http_targets ORDER BY name, id");
        sqlx::query(&sql).fetch_all(self.pool()).await?.iter().map(target_row).collect()
    }

    async fn http_target(&self, id: i64) -> Result<Option<HttpTargetRow>, StoreError> {
        let sql = format!("SELECT {TARGET} FROM http_targets WHERE id = $1");
        sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await?.as_ref().map(target_row).transpose()
    }

    async fn create_http_target(&self, w: &HttpTargetWrite, secret: &str) -> Result<HttpTargetRow, StoreError> {
        let sql = format!(
            "INSERT INTO http_targets (name, url, secret, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING {TARGET}"
        );
        let row = sqlx::query(&sql)
            .bind(&w.name)
            .bind(&w.url)
            .bind(secret)
            .bind(w.enabled)
            .bind(w.now.unix_millis())
            .fetch_one(self.pool())
            .await?;
        target_row(&row)
    }

    async fn update_http_target(&self, id: i64, w: &HttpTargetWrite) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE http_targets SET name = $1, url = $2, enabled = $3, updated_at = $4 WHERE id = $5")
            .bind(&w.name)
            .bind(&w.url)
            .bind(w.enabled)
            .bind(w.now.unix_millis())
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn delete_http_target(&self, id: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM http_targets WHERE id = $1").bind(id).execute(self.pool()).await?.rows_affected() == 1)
    }

    async fn enqueue_http_delivery(&self, d: &NewHttpDelivery) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO http_deliveries (target_id, webhook_id, ticket_id, event_type, body, state, next_attempt_at, created_at)
             SELECT $1, $2, $3, $4, $5, 'pending', $6, $6 WHERE EXISTS (SELECT 1 FROM http_targets WHERE id = $1)
             ON CONFLICT (webhook_id) DO NOTHING",
        )
        .bind(d.target_id)
        .bind(&d.webhook_id)
        .bind(d.ticket_id)
        .bind(&d.event_type)
        .bind(&d.body)
        .bind(d.now.unix_millis())
        .execute(self.pool())
        .await?
        .rows_affected();
        if n == 0 {
            let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM http_targets WHERE id = $1)")
                .bind(d.target_id)
                .fetch_one(self.pool())
                .await?;
            if !exists {
                return Err(StoreError::NotFound(format!("there is no HTTP target {}", d.target_id)));
            }
        }
        Ok(n == 1)
    }

    async fn claim_http_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        claim_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<(HttpDeliveryRow, HttpTargetRow)>, StoreError> {
        let sql = format!(
            "WITH c AS (
                UPDATE http_deliveries SET claimed_by = $1, claimed_until = $2
                 WHERE id IN (SELECT d.id FROM http_deliveries d JOIN http_targets t ON t.id = d.target_id
                               WHERE d.state = 'pending' AND d.next_attempt_at <= $3 AND t.enabled
                                 AND (d.claimed_until IS NULL OR d.claimed_until <= $3)
                               ORDER BY d.next_attempt_at LIMIT $4
                               FOR UPDATE OF d SKIP LOCKED)
                 RETURNING {DELIVERY})
             SELECT c.*, t.id, t.name, t.url, t.secret, t.enabled, t.created_at, t.updated_at, t.failing_since, t.last_success_at
               FROM c JOIN http_targets t ON t.id = c.target_id ORDER BY c.next_attempt_at, c.id"
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(claim_until.unix_millis())
            .bind(now.unix_millis())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let d = delivery_row(r)?;
                let target = HttpTargetRow {
                    id: r.try_get(13)?,
                    name: r.try_get(14)?,
                    url: r.try_get(15)?,
                    secret: r.try_get(16)?,
                    enabled: r.try_get(17)?,
                    created_at: t(r.try_get(18)?),
                    updated_at: t(r.try_get(19)?),
                    failing_since: r.try_get::<Option<i64>, _>(20)?.map(t),
                    last_success_at: r.try_get::<Option<i64>, _>(21)?.map(t),
                };
                Ok((d, target))
            })
            .collect()
    }

    async fn finish_http_attempt(&self, id: i64, owner: &str, attempt: &HttpAttempt, now: Timestamp) -> Result<bool, StoreError> {
        let now = now.unix_millis();
        let (state, status, error, next, ok) = match attempt {
            HttpAttempt::Delivered { status } => ("delivered", Some(*status), None, None, true),
            HttpAttempt::Retry { status, error, next_attempt_at } => {
                ("pending", *status, Some(error.clone()), Some(next_attempt_at.unix_millis()), false)
            }
            HttpAttempt::GaveUp { status, error } => ("gave_up", *status, Some(error.clone()), None, false),
        };
        let mut tx = self.pool().begin().await?;
        let target: Option<i64> = sqlx::query_scalar(
            "UPDATE http_deliveries SET state = $3, attempts = attempts + 1, last_status = $4, last_error = $5,
                    next_attempt_at = COALESCE($6, next_attempt_at), claimed_by = NULL, claimed_until = NULL,
                    finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE $7 END
              WHERE id = $1 AND claimed_by = $2 RETURNING target_id",
        )
        .bind(id)
        .bind(owner)
        .bind(state)
        .bind(status)
        .bind(error)
        .bind(next)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(target) = target else { return Ok(false) };
        let sql = if ok {
            "UPDATE http_targets SET failing_since = NULL, last_success_at = $2 WHERE id = $1"
        } else {
            "UPDATE http_targets SET failing_since = COALESCE(failing_since, $2) WHERE id = $1"
        };
        sqlx::query(sql).bind(target).bind(now).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn http_deliveries(&self, target_id: i64, before_id: Option<i64>, limit: u32) -> Result<Vec<HttpDeliveryRow>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY} FROM http_deliveries WHERE target_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        );
        sqlx::query(&sql)
            .bind(target_id)
            .bind(before_id)
            .bind(i64::from(limit.max(1)))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(delivery_row)
            .collect()
    }
}
