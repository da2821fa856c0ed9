//! Rules on PostgreSQL (SPEC 10, issue 13).

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Row};
use windowdesk_core::rules::WindowEpisode;
use windowdesk_core::Timestamp;

use super::PgStore;
use crate::error::StoreError;
use crate::model::{RuleFiring, RuleRow, RuleWrite};
use crate::RuleStore;

const COLUMNS: &str = "id, name, enabled, position, event, rule, created_at, created_by, updated_at, updated_by";

fn row(r: &PgRow) -> Result<RuleRow, StoreError> {
    Ok(RuleRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        enabled: r.try_get(2)?,
        position: r.try_get(3)?,
        event: r.try_get(4)?,
        rule: r.try_get(5)?,
        created_at: Timestamp::from_unix_millis(r.try_get(6)?),
        created_by: r.try_get(7)?,
        updated_at: Timestamp::from_unix_millis(r.try_get(8)?),
        updated_by: r.try_get(9)?,
    })
}

async fn by_id<'c, E: PgExecutor<'c>>(conn: E, id: i64) -> Result<Option<RuleRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM rules WHERE id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(conn).await?.as_ref().map(row).transpose()
}

async fn insert<'c, E: PgExecutor<'c>>(conn: E, d: &RuleWrite) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO rules (name, enabled, position, event, rule, created_at, created_by, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7) RETURNING id",
    )
    .bind(&d.name)
    .bind(d.enabled)
    .bind(d.position)
    .bind(&d.event)
    .bind(&d.rule)
    .bind(d.now.unix_millis())
    .bind(&d.actor)
    .fetch_one(conn)
    .await?)
}

#[async_trait]
impl RuleStore for PgStore {
    async fn rules(&self) -> Result<Vec<RuleRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM rules ORDER BY position, id");
        sqlx::query(&sql).fetch_all(self.pool()).await?.iter().map(row).collect()
    }

    async fn rule(&self, id: i64) -> Result<Option<RuleRow>, StoreError> {
        by_id(self.pool(), id).await
    }

    async fn create_rule(&self, d: &RuleWrite) -> Result<RuleRow, StoreError> {
        let id = insert(self.pool(), d).await?;
        by_id(self.pool(), id).await?.ok_or_else(|| StoreError::Corrupt("a created rule is missing".into()))
    }

    async fn update_rule(&self, id: i64, d: &RuleWrite) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE rules SET name = $1, enabled = $2, position = $3, event = $4, rule = $5, updated_at = $6, updated_by = $7
             WHERE id = $8",
        )
        .bind(&d.name)
        .bind(d.enabled)
        .bind(d.position)
        .bind(&d.event)
        .bind(&d.rule)
        .bind(d.now.unix_millis())
        .bind(&d.actor)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn delete_rule(&self, id: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM rules WHERE id = $1").bind(id).execute(self.pool()).await?.rows_affected() == 1)
    }

    async fn window_episode(&self, identity_id: i64) -> Result<Option<WindowEpisode>, StoreError> {
        let at: Option<Option<i64>> = sqlx::query_scalar("SELECT window_episode_at FROM identities WHERE id = $1")
            .bind(identity_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(at.flatten().map(|ms| WindowEpisode { started_at: Timestamp::from_unix_millis(ms) }))
    }

    async fn record_firing(&self, f: &RuleFiring) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO rule_firings (rule_id, ticket_id, episode_key, trigger_key, fired_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
        )
        .bind(f.rule_id)
        .bind(f.ticket_id)
        .bind(&f.episode_key)
        .bind(&f.trigger_key)
        .bind(f.at.unix_millis())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn seed_rules(&self, defaults: &[RuleWrite]) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let now = defaults.first().map_or(0, |d| d.now.unix_millis());
        let marked = sqlx::query("INSERT INTO rules_seeded (id, seeded_at) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        for d in defaults {
            insert(&mut *tx, d).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
