//! Rules on PostgreSQL (SPEC 10, issue 13).

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Row};
use windowdesk_core::rules::WindowEpisode;
use windowdesk_core::{TicketStatus, Timestamp};

use super::PgStore;
use crate::error::StoreError;
use crate::model::{
    EventRow, FieldFiring, MessageReads, RuleFiring, RuleMessage, RuleQueueItem, RuleRow, RuleSource, RuleTicket, RuleWrite,
};
use crate::RuleStore;

const COLUMNS: &str = "id, name, enabled, position, event, rule, created_at, created_by, updated_at, updated_by";

/// `false` when the rule already fired for this trigger (or ticket and episode).
async fn insert_firing<'e>(c: impl PgExecutor<'e>, f: &RuleFiring) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "INSERT INTO rule_firings (rule_id, ticket_id, episode_key, trigger_key, fired_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(f.rule_id)
    .bind(f.ticket_id)
    .bind(&f.episode_key)
    .bind(&f.trigger_key)
    .bind(f.at.unix_millis())
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

async fn rule_applied<'e>(
    c: impl PgExecutor<'e>,
    ticket_id: i64,
    actor: &str,
    data: &serde_json::Value,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO ticket_events (ticket_id, at, actor, kind, data) VALUES ($1, $2, $3, 'rule_applied', $4)")
        .bind(ticket_id)
        .bind(at.unix_millis())
        .bind(actor)
        .bind(data.to_string())
        .execute(c)
        .await?;
    Ok(())
}

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

/// The oldest `limit` queue entries with what each is about, in one query: the trigger that wrote
/// an entry copied what the worker needs of its message or ticket event (migration 0017). The
/// customer's previous message is found through their tickets, then each ticket's messages (the
/// `LATERAL` aggregate fixes that order): left to choose, the planner, with statistics behind a
/// fast-growing table, took the `(business_number_id, wamid)` index and read every message of the
/// business number for each event (115 ms at 140,000 messages, found by `bench/triggers.sh
/// postgres`). `CASE` runs each subquery only when `reads` asks for it.
const QUEUE: &str = "
    SELECT q.id, q.ticket_id, q.source, q.attempts, q.source_id, q.kind, q.at, q.actor, q.body, q.identity_id,
           CASE WHEN $2 AND q.source = 'message' THEN NOT EXISTS (
               SELECT 1 FROM messages p WHERE p.ticket_id = q.ticket_id AND p.direction = 'inbound' AND p.kind <> 'reaction' AND p.id < q.source_id)
           END,
           CASE WHEN $3 AND q.source = 'message' THEN (
               SELECT max(x.at) FROM tickets t CROSS JOIN LATERAL (
                   SELECT max(p.sent_at) AS at FROM messages p
                    WHERE p.ticket_id = t.id AND p.direction = 'inbound'
                      AND (p.sent_at < q.at OR (p.sent_at = q.at AND p.id < q.source_id))) x
                WHERE t.identity_id = q.identity_id AND t.business_number_id = q.business_number_id)
           END
      FROM rule_queue q ORDER BY q.id LIMIT $1";

fn queue_item(r: &PgRow, reads: MessageReads) -> Result<RuleQueueItem, StoreError> {
    let ts = Timestamp::from_unix_millis;
    let (source, source_id): (String, i64) = (r.try_get(2)?, r.try_get(4)?);
    let (kind, at): (Option<String>, Option<i64>) = (r.try_get(5)?, r.try_get(6)?);
    let source = match (kind, at) {
        (Some(kind), Some(at)) if source == "message" => {
            // NULL when not asked for; asked for, the previous message's time is NULL when the
            // customer never wrote before.
            let previous: Option<i64> = r.try_get(11)?;
            RuleSource::Message(RuleMessage {
                id: source_id,
                kind,
                body: r.try_get(8)?,
                sent_at: ts(at),
                identity_id: r.try_get(9)?,
                first_on_ticket: r.try_get(10)?,
                previous_inbound_at: reads.previous_inbound.then(|| previous.map(ts)),
            })
        }
        (Some(kind), Some(at)) => {
            let data: Option<String> = r.try_get(8)?;
            RuleSource::Event(EventRow {
                id: source_id,
                ticket_id: r.try_get(1)?,
                at: ts(at),
                actor: r.try_get::<Option<String>, _>(7)?.unwrap_or_default(),
                kind,
                data: data.and_then(|d| serde_json::from_str(&d).ok()).unwrap_or(serde_json::Value::Null),
            })
        }
        _ => RuleSource::Gone,
    };
    Ok(RuleQueueItem { id: r.try_get(0)?, ticket_id: r.try_get(1)?, attempts: r.try_get(3)?, source })
}

/// One event's field-only firings, inside the caller's savepoint.
async fn apply_group(tx: &mut sqlx::PgConnection, group: &[FieldFiring]) -> Result<Vec<bool>, StoreError> {
    let mut applied = Vec::with_capacity(group.len());
    for ff in group {
        let f = &ff.firing;
        if !insert_firing(&mut *tx, f).await? {
            applied.push(false);
            continue;
        }
        if !super::api::change_ticket(&mut *tx, f.ticket_id, &ff.change, &ff.actor, f.at).await? {
            return Err(StoreError::NotFound(format!("ticket {} does not exist", f.ticket_id)));
        }
        rule_applied(&mut *tx, f.ticket_id, &ff.actor, &ff.data, f.at).await?;
        applied.push(true);
    }
    Ok(applied)
}

#[async_trait]
impl RuleStore for PgStore {
    async fn rule_queue(&self, limit: u32, reads: MessageReads) -> Result<Vec<RuleQueueItem>, StoreError> {
        let rows = sqlx::query(QUEUE)
            .bind(i64::from(limit))
            .bind(reads.first_on_ticket)
            .bind(reads.previous_inbound)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| queue_item(r, reads)).collect()
    }

    async fn rule_queue_done(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("DELETE FROM rule_queue WHERE id = ANY($1)").bind(ids).execute(self.pool()).await?;
        Ok(())
    }

    async fn rule_queue_drop(&self, limit: u32) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM rule_queue WHERE id IN (SELECT id FROM rule_queue ORDER BY id LIMIT $1)")
            .bind(i64::from(limit))
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    async fn rule_queue_newest(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT coalesce(max(id), 0)::BIGINT FROM rule_queue").fetch_one(self.pool()).await?)
    }

    async fn rule_queue_discard_after(&self, after_id: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM rule_queue WHERE id > $1").bind(after_id).execute(self.pool()).await?.rows_affected())
    }

    async fn rule_queue_failed(&self, id: i64, error: &str) -> Result<i32, StoreError> {
        let attempts: Option<i32> =
            sqlx::query_scalar("UPDATE rule_queue SET attempts = attempts + 1, error = $2 WHERE id = $1 RETURNING attempts")
                .bind(id)
                .bind(error)
                .fetch_optional(self.pool())
                .await?;
        Ok(attempts.unwrap_or(0))
    }

    async fn record_rule_run(&self, ticket_id: i64, actor: &str, data: serde_json::Value, at: Timestamp) -> Result<(), StoreError> {
        rule_applied(self.pool(), ticket_id, actor, &data, at).await
    }

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
        let mut tx = self.pool().begin().await?;
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
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let reason = if d.enabled { "the rule was edited" } else { "the rule was switched off" };
        super::automations::cancel_armed(&mut *tx, id, reason, d.now).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn delete_rule(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let deleted = sqlx::query("DELETE FROM rules WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected() == 1;
        super::automations::cancel_armed(&mut *tx, id, "the rule was deleted", now).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn window_episode(&self, identity_id: i64) -> Result<Option<WindowEpisode>, StoreError> {
        let at: Option<Option<i64>> = sqlx::query_scalar("SELECT window_episode_at FROM identities WHERE id = $1")
            .bind(identity_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(at.flatten().map(|ms| WindowEpisode { started_at: Timestamp::from_unix_millis(ms) }))
    }

    async fn rule_tickets(&self, ids: &[i64]) -> Result<Vec<RuleTicket>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One snapshot for the batch, three queries whatever its size.
        let mut tx = self.pool().begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let sql = format!("{} WHERE t.id = ANY($1)", super::api::SUMMARY_SELECT);
        let summaries =
            sqlx::query(&sql).bind(ids).fetch_all(&mut *tx).await?.iter().map(super::api::summary_row).collect::<Result<Vec<_>, _>>()?;
        let identities: Vec<i64> = summaries.iter().map(|s| s.ticket.identity_id).collect();
        let episodes: std::collections::HashMap<i64, i64> = sqlx::query_as::<_, (i64, i64)>(
            "SELECT id, window_episode_at FROM identities WHERE id = ANY($1) AND window_episode_at IS NOT NULL",
        )
        .bind(&identities)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let ticket_ids: Vec<i64> = summaries.iter().map(|s| s.ticket.id).collect();
        let times: std::collections::HashMap<i64, (i64, Option<i64>)> = sqlx::query_as::<_, (i64, i64, Option<i64>)>(
            "SELECT id, COALESCE(status_changed_at, created_at), last_agent_reply_at FROM tickets WHERE id = ANY($1)",
        )
        .bind(&ticket_ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(id, changed, replied)| (id, (changed, replied)))
        .collect();
        tx.commit().await?;
        Ok(summaries
            .into_iter()
            .map(|summary| {
                let (changed, replied) = times.get(&summary.ticket.id).copied().unwrap_or((summary.ticket.created_at.unix_millis(), None));
                let status_changed_at = Timestamp::from_unix_millis(changed);
                RuleTicket {
                    window_episode: episodes
                        .get(&summary.ticket.identity_id)
                        .map(|ms| WindowEpisode { started_at: Timestamp::from_unix_millis(*ms) }),
                    // The latest status change of a solved ticket is its solve.
                    solved_at: (summary.ticket.status == TicketStatus::Solved).then_some(status_changed_at),
                    status_changed_at,
                    last_agent_reply_at: replied.map(Timestamp::from_unix_millis),
                    summary,
                }
            })
            .collect())
    }

    async fn record_firing(&self, f: &RuleFiring) -> Result<bool, StoreError> {
        insert_firing(self.pool(), f).await
    }

    async fn apply_field_firing_groups(&self, groups: &[Vec<FieldFiring>]) -> Result<Vec<Result<Vec<bool>, StoreError>>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut results = Vec::with_capacity(groups.len());
        for group in groups {
            // A savepoint per group: one that fails is rolled back alone.
            let mut sp = sqlx::Connection::begin(&mut *tx).await?;
            let written = apply_group(&mut sp, group).await;
            if written.is_ok() {
                sp.commit().await?;
            } else {
                sp.rollback().await?;
            }
            results.push(written);
        }
        tx.commit().await?;
        Ok(results)
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
