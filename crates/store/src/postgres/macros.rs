//! Macros on PostgreSQL (SPEC 10).

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;
use windowdesk_core::Timestamp;

use super::PgStore;
use crate::error::StoreError;
use crate::model::{MacroDraftRow, MacroRow};
use crate::MacroStore;

const COLUMNS: &str = "id, name, owner_agent_id, body, created_at, updated_at, updated_by";

fn row(r: &PgRow) -> Result<MacroRow, StoreError> {
    Ok(MacroRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        owner_agent_id: r.try_get(2)?,
        body: r.try_get(3)?,
        created_at: Timestamp::from_unix_millis(r.try_get(4)?),
        updated_at: Timestamp::from_unix_millis(r.try_get(5)?),
        updated_by: r.try_get(6)?,
    })
}

#[async_trait]
impl MacroStore for PgStore {
    async fn macros(&self, agent_id: Option<i64>) -> Result<Vec<MacroRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM macros WHERE $1::BIGINT IS NULL OR owner_agent_id IS NULL OR owner_agent_id = $1 ORDER BY lower(name), id"
        );
        sqlx::query(&sql).bind(agent_id).fetch_all(self.pool()).await?.iter().map(row).collect()
    }

    async fn macro_by_id(&self, id: i64) -> Result<Option<MacroRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM macros WHERE id = $1");
        sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await?.as_ref().map(row).transpose()
    }

    async fn create_macro(&self, d: &MacroDraftRow) -> Result<MacroRow, StoreError> {
        let sql = format!(
            "INSERT INTO macros (name, owner_agent_id, body, created_at, updated_at, updated_by) VALUES ($1, $2, $3, $4, $4, $5) RETURNING {COLUMNS}"
        );
        let r = sqlx::query(&sql)
            .bind(&d.name)
            .bind(d.owner_agent_id)
            .bind(&d.body)
            .bind(d.now.unix_millis())
            .bind(&d.actor)
            .fetch_one(self.pool())
            .await?;
        row(&r)
    }

    async fn update_macro(&self, id: i64, d: &MacroDraftRow) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE macros SET name = $1, owner_agent_id = $2, body = $3, updated_at = $4, updated_by = $5 WHERE id = $6")
                .bind(&d.name)
                .bind(d.owner_agent_id)
                .bind(&d.body)
                .bind(d.now.unix_millis())
                .bind(&d.actor)
                .bind(id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_macro(&self, id: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM macros WHERE id = $1").bind(id).execute(self.pool()).await?.rows_affected() == 1)
    }
}
