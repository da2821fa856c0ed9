//! Business-hours schedules on PostgreSQL (SPEC 10).

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Row};
use windowdesk_core::Timestamp;

use super::PgStore;
use crate::error::StoreError;
use crate::model::{ScheduleDraft, ScheduleRow};
use crate::BusinessHoursStore;

const COLUMNS: &str = "s.id, s.name, s.spec, s.created_at, s.updated_at, s.updated_by,
    ARRAY(SELECT b.id FROM business_numbers b WHERE b.schedule_id = s.id ORDER BY b.id)";

fn row(r: &PgRow) -> Result<ScheduleRow, StoreError> {
    Ok(ScheduleRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        spec: r.try_get(2)?,
        created_at: Timestamp::from_unix_millis(r.try_get(3)?),
        updated_at: Timestamp::from_unix_millis(r.try_get(4)?),
        updated_by: r.try_get(5)?,
        business_number_ids: r.try_get(6)?,
    })
}

fn name_taken(e: sqlx::Error, name: &str) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
            StoreError::Conflict(format!("a schedule named {name:?} already exists"))
        }
        other => other.into(),
    }
}

async fn by_id<'c, E: PgExecutor<'c>>(conn: E, id: i64) -> Result<Option<ScheduleRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM schedules s WHERE s.id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(conn).await?.as_ref().map(row).transpose()
}

#[async_trait]
impl BusinessHoursStore for PgStore {
    async fn schedules(&self) -> Result<Vec<ScheduleRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM schedules s ORDER BY s.name");
        sqlx::query(&sql).fetch_all(self.pool()).await?.iter().map(row).collect()
    }

    async fn schedule(&self, id: i64) -> Result<Option<ScheduleRow>, StoreError> {
        by_id(self.pool(), id).await
    }

    async fn create_schedule(&self, d: &ScheduleDraft) -> Result<ScheduleRow, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO schedules (name, spec, created_at, updated_at, updated_by) VALUES ($1, $2, $3, $3, $4) RETURNING id",
        )
        .bind(&d.name)
        .bind(&d.spec)
        .bind(d.now.unix_millis())
        .bind(&d.actor)
        .fetch_one(self.pool())
        .await
        .map_err(|e| name_taken(e, &d.name))?;
        by_id(self.pool(), id).await?.ok_or_else(|| StoreError::Corrupt("a created schedule is missing".into()))
    }

    async fn update_schedule(&self, id: i64, d: &ScheduleDraft) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE schedules SET name = $1, spec = $2, updated_at = $3, updated_by = $4 WHERE id = $5")
            .bind(&d.name)
            .bind(&d.spec)
            .bind(d.now.unix_millis())
            .bind(&d.actor)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| name_taken(e, &d.name))?;
        Ok(done.rows_affected() == 1)
    }

    async fn replace_schedule_spec(&self, id: i64, expected_spec: &str, d: &ScheduleDraft) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE schedules SET spec = $1, updated_at = $2, updated_by = $3 WHERE id = $4 AND spec = $5")
            .bind(&d.spec)
            .bind(d.now.unix_millis())
            .bind(&d.actor)
            .bind(id)
            .bind(expected_spec)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_schedule(&self, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        // Locks the schedule against a concurrent assignment (its foreign key check takes a share lock).
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM schedules WHERE id = $1 FOR UPDATE").bind(id).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Ok(false);
        }
        let serving: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM business_numbers WHERE schedule_id = $1").bind(id).fetch_one(&mut *tx).await?;
        if serving > 0 {
            return Err(StoreError::Conflict(format!(
                "schedule {id} still serves {serving} business number(s); give them another schedule (or none) first"
            )));
        }
        sqlx::query("DELETE FROM schedules WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn assign_schedule(&self, business_number_id: i64, schedule_id: Option<i64>) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE business_numbers SET schedule_id = $1 WHERE id = $2")
            .bind(schedule_id)
            .bind(business_number_id)
            .execute(self.pool())
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(db) if db.code().as_deref() == Some("23503") => {
                    StoreError::NotFound(format!("schedule {} does not exist", schedule_id.unwrap_or_default()))
                }
                other => other.into(),
            })?;
        Ok(done.rows_affected() == 1)
    }

    async fn number_schedule(&self, business_number_id: i64) -> Result<Option<ScheduleRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM schedules s JOIN business_numbers n ON n.schedule_id = s.id WHERE n.id = $1");
        sqlx::query(&sql).bind(business_number_id).fetch_optional(self.pool()).await?.as_ref().map(row).transpose()
    }
}
