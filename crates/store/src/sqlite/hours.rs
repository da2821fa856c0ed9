//! Business-hours schedules on SQLite (SPEC 10).

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use windowdesk_core::Timestamp;

use super::SqliteStore;
use crate::error::StoreError;
use crate::model::{ScheduleDraft, ScheduleRow};
use crate::BusinessHoursStore;

const COLUMNS: &str = "s.id, s.name, s.spec, s.created_at, s.updated_at, s.updated_by,
    (SELECT group_concat(b.id) FROM business_numbers b WHERE b.schedule_id = s.id)";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScheduleRow> {
    let numbers: Option<String> = r.get(6)?;
    let mut business_number_ids: Vec<i64> = numbers.unwrap_or_default().split(',').filter_map(|n| n.parse().ok()).collect();
    business_number_ids.sort_unstable();
    Ok(ScheduleRow {
        id: r.get(0)?,
        name: r.get(1)?,
        spec: r.get(2)?,
        created_at: Timestamp::from_unix_millis(r.get(3)?),
        updated_at: Timestamp::from_unix_millis(r.get(4)?),
        updated_by: r.get(5)?,
        business_number_ids,
    })
}

fn name_taken(e: rusqlite::Error, name: &str) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(format!("a schedule named {name:?} already exists"))
        }
        other => other.into(),
    }
}

fn by_id(c: &Connection, id: i64) -> Result<Option<ScheduleRow>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM schedules s WHERE s.id = ?1"))?.query_row(params![id], row).optional()?)
}

#[async_trait]
impl BusinessHoursStore for SqliteStore {
    async fn schedules(&self) -> Result<Vec<ScheduleRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM schedules s ORDER BY s.name"))?;
            let rows = stmt.query_map([], row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn schedule(&self, id: i64) -> Result<Option<ScheduleRow>, StoreError> {
        self.read(move |c| by_id(c, id)).await
    }

    async fn create_schedule(&self, draft: &ScheduleDraft) -> Result<ScheduleRow, StoreError> {
        let d = draft.clone();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now = d.now.unix_millis();
                tx.execute(
                    "INSERT INTO schedules (name, spec, created_at, updated_at, updated_by) VALUES (?1, ?2, ?3, ?3, ?4)",
                    params![d.name, d.spec, now, d.actor],
                )
                .map_err(|e| name_taken(e, &d.name))?;
                let id = tx.last_insert_rowid();
                let created = by_id(&tx, id)?.ok_or_else(|| StoreError::Corrupt("a created schedule is missing".into()))?;
                tx.commit()?;
                Ok(created)
            })
            .await
    }

    async fn update_schedule(&self, id: i64, draft: &ScheduleDraft) -> Result<bool, StoreError> {
        let d = draft.clone();
        self.inner
            .writer
            .run(move |conn| {
                let n = conn
                    .execute(
                        "UPDATE schedules SET name = ?1, spec = ?2, updated_at = ?3, updated_by = ?4 WHERE id = ?5",
                        params![d.name, d.spec, d.now.unix_millis(), d.actor, id],
                    )
                    .map_err(|e| name_taken(e, &d.name))?;
                Ok(n == 1)
            })
            .await
    }

    async fn replace_schedule_spec(&self, id: i64, expected_spec: &str, draft: &ScheduleDraft) -> Result<bool, StoreError> {
        let (d, expected) = (draft.clone(), expected_spec.to_owned());
        self.inner
            .writer
            .run(move |conn| {
                let n = conn.execute(
                    "UPDATE schedules SET spec = ?1, updated_at = ?2, updated_by = ?3 WHERE id = ?4 AND spec = ?5",
                    params![d.spec, d.now.unix_millis(), d.actor, id, expected],
                )?;
                Ok(n == 1)
            })
            .await
    }

    async fn delete_schedule(&self, id: i64) -> Result<bool, StoreError> {
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let serving: i64 =
                    tx.query_row("SELECT COUNT(*) FROM business_numbers WHERE schedule_id = ?1", params![id], |r| r.get(0))?;
                if serving > 0 {
                    return Err(StoreError::Conflict(format!(
                        "schedule {id} still serves {serving} business number(s); give them another schedule (or none) first"
                    )));
                }
                let n = tx.execute("DELETE FROM schedules WHERE id = ?1", params![id])?;
                tx.commit()?;
                Ok(n == 1)
            })
            .await
    }

    async fn assign_schedule(&self, business_number_id: i64, schedule_id: Option<i64>) -> Result<bool, StoreError> {
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                if let Some(sid) = schedule_id {
                    if by_id(&tx, sid)?.is_none() {
                        return Err(StoreError::NotFound(format!("schedule {sid} does not exist")));
                    }
                }
                let n =
                    tx.execute("UPDATE business_numbers SET schedule_id = ?1 WHERE id = ?2", params![schedule_id, business_number_id])?;
                tx.commit()?;
                Ok(n == 1)
            })
            .await
    }

    async fn number_schedule(&self, business_number_id: i64) -> Result<Option<ScheduleRow>, StoreError> {
        self.read(move |c| {
            let id: Option<i64> = c
                .prepare_cached("SELECT schedule_id FROM business_numbers WHERE id = ?1")?
                .query_row(params![business_number_id], |r| r.get(0))
                .optional()?
                .flatten();
            match id {
                Some(id) => by_id(c, id),
                None => Ok(None),
            }
        })
        .await
    }
}
