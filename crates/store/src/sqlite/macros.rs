//! Macros on SQLite (SPEC 10).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use windowdesk_core::Timestamp;

use super::SqliteStore;
use crate::error::StoreError;
use crate::model::{MacroDraftRow, MacroRow};
use crate::MacroStore;

const COLUMNS: &str = "id, name, owner_agent_id, body, created_at, updated_at, updated_by";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MacroRow> {
    Ok(MacroRow {
        id: r.get(0)?,
        name: r.get(1)?,
        owner_agent_id: r.get(2)?,
        body: r.get(3)?,
        created_at: Timestamp::from_unix_millis(r.get(4)?),
        updated_at: Timestamp::from_unix_millis(r.get(5)?),
        updated_by: r.get(6)?,
    })
}

#[async_trait]
impl MacroStore for SqliteStore {
    async fn macros(&self, agent_id: Option<i64>) -> Result<Vec<MacroRow>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM macros WHERE ?1 IS NULL OR owner_agent_id IS NULL OR owner_agent_id = ?1 ORDER BY name COLLATE NOCASE, id"
            ))?;
            let rows = stmt.query_map(params![agent_id], row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn macro_by_id(&self, id: i64) -> Result<Option<MacroRow>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM macros WHERE id = ?1"))?.query_row(params![id], row).optional()?)
        })
        .await
    }

    async fn create_macro(&self, d: &MacroDraftRow) -> Result<MacroRow, StoreError> {
        let d = d.clone();
        self.inner
            .writer
            .run(move |conn| {
                let now = d.now.unix_millis();
                conn.execute(
                    "INSERT INTO macros (name, owner_agent_id, body, created_at, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                    params![d.name, d.owner_agent_id, d.body, now, d.actor],
                )?;
                let id = conn.last_insert_rowid();
                Ok(conn.query_row(&format!("SELECT {COLUMNS} FROM macros WHERE id = ?1"), params![id], row)?)
            })
            .await
    }

    async fn update_macro(&self, id: i64, d: &MacroDraftRow) -> Result<bool, StoreError> {
        let d = d.clone();
        self.inner
            .writer
            .run(move |conn| {
                let n = conn.execute(
                    "UPDATE macros SET name = ?1, owner_agent_id = ?2, body = ?3, updated_at = ?4, updated_by = ?5 WHERE id = ?6",
                    params![d.name, d.owner_agent_id, d.body, d.now.unix_millis(), d.actor, id],
                )?;
                Ok(n == 1)
            })
            .await
    }

    async fn delete_macro(&self, id: i64) -> Result<bool, StoreError> {
        self.inner.writer.run(move |conn| Ok(conn.execute("DELETE FROM macros WHERE id = ?1", params![id])? == 1)).await
    }
}
