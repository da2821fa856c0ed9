//! Rules on SQLite (SPEC 10, issue 13).

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use windowdesk_core::rules::WindowEpisode;
use windowdesk_core::Timestamp;

use super::SqliteStore;
use crate::error::StoreError;
use crate::model::{RuleFiring, RuleRow, RuleWrite};
use crate::RuleStore;

const COLUMNS: &str = "id, name, enabled, position, event, rule, created_at, created_by, updated_at, updated_by";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RuleRow> {
    Ok(RuleRow {
        id: r.get(0)?,
        name: r.get(1)?,
        enabled: r.get(2)?,
        position: r.get(3)?,
        event: r.get(4)?,
        rule: r.get(5)?,
        created_at: Timestamp::from_unix_millis(r.get(6)?),
        created_by: r.get(7)?,
        updated_at: Timestamp::from_unix_millis(r.get(8)?),
        updated_by: r.get(9)?,
    })
}

fn by_id(c: &Connection, id: i64) -> Result<Option<RuleRow>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {COLUMNS} FROM rules WHERE id = ?1"))?.query_row(params![id], row).optional()?)
}

fn insert(c: &Connection, d: &RuleWrite) -> Result<i64, StoreError> {
    c.execute(
        "INSERT INTO rules (name, enabled, position, event, rule, created_at, created_by, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?7)",
        params![d.name, d.enabled, d.position, d.event, d.rule, d.now.unix_millis(), d.actor],
    )?;
    Ok(c.last_insert_rowid())
}

#[async_trait]
impl RuleStore for SqliteStore {
    async fn rules(&self) -> Result<Vec<RuleRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {COLUMNS} FROM rules ORDER BY position, id"))?;
            let rows = stmt.query_map([], row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn rule(&self, id: i64) -> Result<Option<RuleRow>, StoreError> {
        self.read(move |c| by_id(c, id)).await
    }

    async fn create_rule(&self, draft: &RuleWrite) -> Result<RuleRow, StoreError> {
        let d = draft.clone();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let id = insert(&tx, &d)?;
                let created = by_id(&tx, id)?.ok_or_else(|| StoreError::Corrupt("a created rule is missing".into()))?;
                tx.commit()?;
                Ok(created)
            })
            .await
    }

    async fn update_rule(&self, id: i64, draft: &RuleWrite) -> Result<bool, StoreError> {
        let d = draft.clone();
        self.inner
            .writer
            .run(move |conn| {
                let n = conn.execute(
                    "UPDATE rules SET name = ?1, enabled = ?2, position = ?3, event = ?4, rule = ?5, updated_at = ?6, updated_by = ?7
                     WHERE id = ?8",
                    params![d.name, d.enabled, d.position, d.event, d.rule, d.now.unix_millis(), d.actor, id],
                )?;
                Ok(n == 1)
            })
            .await
    }

    async fn delete_rule(&self, id: i64) -> Result<bool, StoreError> {
        self.inner.writer.run(move |conn| Ok(conn.execute("DELETE FROM rules WHERE id = ?1", params![id])? == 1)).await
    }

    async fn window_episode(&self, identity_id: i64) -> Result<Option<WindowEpisode>, StoreError> {
        self.read(move |c| {
            let at: Option<Option<i64>> = c
                .prepare_cached("SELECT window_episode_at FROM identities WHERE id = ?1")?
                .query_row(params![identity_id], |r| r.get(0))
                .optional()?;
            Ok(at.flatten().map(|ms| WindowEpisode { started_at: Timestamp::from_unix_millis(ms) }))
        })
        .await
    }

    async fn record_firing(&self, firing: &RuleFiring) -> Result<bool, StoreError> {
        let f = firing.clone();
        self.inner
            .writer
            .run(move |conn| {
                let n = conn.execute(
                    "INSERT INTO rule_firings (rule_id, ticket_id, episode_key, trigger_key, fired_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO NOTHING",
                    params![f.rule_id, f.ticket_id, f.episode_key, f.trigger_key, f.at.unix_millis()],
                )?;
                Ok(n == 1)
            })
            .await
    }

    async fn seed_rules(&self, defaults: &[RuleWrite]) -> Result<bool, StoreError> {
        let defaults = defaults.to_vec();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now = defaults.first().map_or(0, |d| d.now.unix_millis());
                if tx.execute("INSERT INTO rules_seeded (id, seeded_at) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING", params![now])? == 0 {
                    return Ok(false);
                }
                for d in &defaults {
                    insert(&tx, d)?;
                }
                tx.commit()?;
                Ok(true)
            })
            .await
    }
}
