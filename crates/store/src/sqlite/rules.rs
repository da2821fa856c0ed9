//! Rules on SQLite (SPEC 10, issue 13).

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use windowdesk_core::rules::WindowEpisode;
use windowdesk_core::{TicketStatus, Timestamp};

use super::SqliteStore;
use crate::error::StoreError;
use crate::model::{
    EventRow, FieldFiring, MessageReads, RuleFiring, RuleMessage, RuleQueueItem, RuleRow, RuleSource, RuleTicket, RuleWrite,
};
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

fn window_episode(c: &Connection, identity_id: i64) -> Result<Option<WindowEpisode>, StoreError> {
    let at: Option<Option<i64>> = c
        .prepare_cached("SELECT window_episode_at FROM identities WHERE id = ?1")?
        .query_row(params![identity_id], |r| r.get(0))
        .optional()?;
    Ok(at.flatten().map(|ms| WindowEpisode { started_at: Timestamp::from_unix_millis(ms) }))
}

/// `false` when the rule already fired for this trigger (or ticket and episode).
fn insert_firing(c: &Connection, f: &RuleFiring) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(
            "INSERT INTO rule_firings (rule_id, ticket_id, episode_key, trigger_key, fired_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![f.rule_id, f.ticket_id, f.episode_key, f.trigger_key, f.at.unix_millis()])?;
    Ok(n == 1)
}

fn rule_applied(c: &Connection, ticket_id: i64, actor: &str, data: &serde_json::Value, at: Timestamp) -> Result<(), StoreError> {
    c.prepare_cached("INSERT INTO ticket_events (ticket_id, at, actor, kind, data) VALUES (?1, ?2, ?3, 'rule_applied', ?4)")?
        .execute(params![ticket_id, at.unix_millis(), actor, data.to_string()])?;
    Ok(())
}

/// A queue entry as stored: the trigger that wrote it copied what the worker needs of its message
/// or ticket event (see migration 0016).
struct QueueRow {
    id: i64,
    ticket_id: i64,
    source: String,
    source_id: i64,
    attempts: i32,
    kind: Option<String>,
    at: Option<i64>,
    actor: Option<String>,
    body: Option<String>,
    identity_id: Option<i64>,
    business_number_id: Option<i64>,
}

/// What a queue entry is about; for a customer message, also what `reads` asks for, a query each.
fn queue_source(c: &Connection, q: QueueRow, reads: MessageReads) -> Result<RuleSource, StoreError> {
    let ts = Timestamp::from_unix_millis;
    let (Some(kind), Some(at)) = (q.kind, q.at) else { return Ok(RuleSource::Gone) };
    if q.source == "message" {
        let id = q.source_id;
        let first_on_ticket = if reads.first_on_ticket {
            Some(
                !c.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM messages WHERE ticket_id = ?1 AND direction = 'inbound' AND kind <> 'reaction' AND id < ?2)",
                )?
                .query_row(params![q.ticket_id, id], |r| r.get::<_, bool>(0))?,
            )
        } else {
            None
        };
        // The identity's tickets (tickets_identity), then their messages (messages_ticket_thread).
        // CROSS JOIN fixes that order and `+` keeps the planner off messages_wamid: left to itself
        // it walks every message of the business number for each event.
        let previous: Option<Option<i64>> = if reads.previous_inbound {
            Some(
                c.prepare_cached(
                    "SELECT max(m.sent_at) FROM tickets t CROSS JOIN messages m ON m.ticket_id = t.id
                     WHERE t.identity_id = ?1 AND +m.business_number_id = ?2 AND m.direction = 'inbound'
                       AND (m.sent_at < ?3 OR (m.sent_at = ?3 AND m.id < ?4))",
                )?
                .query_row(params![q.identity_id, q.business_number_id, at, id], |r| r.get(0))?,
            )
        } else {
            None
        };
        return Ok(RuleSource::Message(RuleMessage {
            id,
            kind,
            body: q.body,
            sent_at: ts(at),
            identity_id: q.identity_id,
            first_on_ticket,
            previous_inbound_at: previous.map(|p| p.map(ts)),
        }));
    }
    Ok(RuleSource::Event(EventRow {
        id: q.source_id,
        ticket_id: q.ticket_id,
        at: ts(at),
        actor: q.actor.unwrap_or_default(),
        kind,
        data: q.body.and_then(|d| serde_json::from_str(&d).ok()).unwrap_or(serde_json::Value::Null),
    }))
}

/// One event's field-only firings, inside the caller's savepoint.
fn apply_group(c: &rusqlite::Transaction<'_>, group: &[FieldFiring]) -> Result<Vec<bool>, StoreError> {
    let mut applied = Vec::with_capacity(group.len());
    for ff in group {
        let f = &ff.firing;
        if !insert_firing(c, f)? {
            applied.push(false);
            continue;
        }
        if !super::api::change_ticket(c, f.ticket_id, &ff.change, &ff.actor, f.at)? {
            return Err(StoreError::NotFound(format!("ticket {} does not exist", f.ticket_id)));
        }
        rule_applied(c, f.ticket_id, &ff.actor, &ff.data, f.at)?;
        applied.push(true);
    }
    Ok(applied)
}

#[async_trait]
impl RuleStore for SqliteStore {
    async fn rule_queue(&self, limit: u32, reads: MessageReads) -> Result<Vec<RuleQueueItem>, StoreError> {
        self.read(move |c| {
            // One read transaction for the batch: one snapshot, one lock of the WAL.
            let tx = c.unchecked_transaction()?;
            let c = &*tx;
            let entries: Vec<QueueRow> = c
                .prepare_cached(
                    "SELECT id, ticket_id, source, source_id, attempts, kind, at, actor, body, identity_id, business_number_id
                       FROM rule_queue ORDER BY id LIMIT ?1",
                )?
                .query_map(params![limit], |r| {
                    Ok(QueueRow {
                        id: r.get(0)?,
                        ticket_id: r.get(1)?,
                        source: r.get(2)?,
                        source_id: r.get(3)?,
                        attempts: r.get(4)?,
                        kind: r.get(5)?,
                        at: r.get(6)?,
                        actor: r.get(7)?,
                        body: r.get(8)?,
                        identity_id: r.get(9)?,
                        business_number_id: r.get(10)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            entries
                .into_iter()
                .map(|q| Ok(RuleQueueItem { id: q.id, ticket_id: q.ticket_id, attempts: q.attempts, source: queue_source(c, q, reads)? }))
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .await
    }

    async fn rule_queue_done(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = serde_json::to_string(ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.inner
            .writer
            .run(move |conn| {
                conn.prepare_cached("DELETE FROM rule_queue WHERE id IN (SELECT value FROM json_each(?1))")?.execute(params![ids])?;
                Ok(())
            })
            .await
    }

    async fn rule_queue_drop(&self, limit: u32) -> Result<u64, StoreError> {
        self.inner
            .writer
            .run(move |conn| {
                let n = conn
                    .prepare_cached("DELETE FROM rule_queue WHERE id IN (SELECT id FROM rule_queue ORDER BY id LIMIT ?1)")?
                    .execute(params![limit])?;
                Ok(n as u64)
            })
            .await
    }

    async fn rule_queue_newest(&self) -> Result<i64, StoreError> {
        self.read(|c| Ok(c.prepare_cached("SELECT coalesce(max(id), 0) FROM rule_queue")?.query_row([], |r| r.get(0))?)).await
    }

    async fn rule_queue_discard_after(&self, after_id: i64) -> Result<u64, StoreError> {
        self.inner
            .writer
            .run(move |conn| Ok(conn.prepare_cached("DELETE FROM rule_queue WHERE id > ?1")?.execute(params![after_id])? as u64))
            .await
    }

    async fn rule_queue_failed(&self, id: i64, error: &str) -> Result<i32, StoreError> {
        let error = error.to_owned();
        self.inner
            .writer
            .run(move |conn| {
                Ok(conn
                    .prepare_cached("UPDATE rule_queue SET attempts = attempts + 1, error = ?2 WHERE id = ?1 RETURNING attempts")?
                    .query_row(params![id, error], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0))
            })
            .await
    }

    async fn rule_tickets(&self, ids: &[i64]) -> Result<Vec<RuleTicket>, StoreError> {
        let ids = ids.to_vec();
        self.read(move |c| {
            // One read transaction for the whole batch: one snapshot, one lock of the WAL.
            let tx = c.unchecked_transaction()?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(summary) = super::api::ticket_summary(&tx, id)? else { continue };
                let window_episode = window_episode(&tx, summary.ticket.identity_id)?;
                let (status_changed_at, last_agent_reply_at): (i64, Option<i64>) = tx
                    .prepare_cached("SELECT COALESCE(status_changed_at, created_at), last_agent_reply_at FROM tickets WHERE id = ?1")?
                    .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let status_changed_at = Timestamp::from_unix_millis(status_changed_at);
                // The latest status change of a solved ticket is its solve.
                let solved_at = (summary.ticket.status == TicketStatus::Solved).then_some(status_changed_at);
                out.push(RuleTicket {
                    summary,
                    window_episode,
                    solved_at,
                    status_changed_at,
                    last_agent_reply_at: last_agent_reply_at.map(Timestamp::from_unix_millis),
                });
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn record_rule_run(&self, ticket_id: i64, actor: &str, data: serde_json::Value, at: Timestamp) -> Result<(), StoreError> {
        let actor = actor.to_owned();
        self.inner.writer.run(move |conn| rule_applied(conn, ticket_id, &actor, &data, at)).await
    }

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
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let n = tx.execute(
                    "UPDATE rules SET name = ?1, enabled = ?2, position = ?3, event = ?4, rule = ?5, updated_at = ?6, updated_by = ?7
                     WHERE id = ?8",
                    params![d.name, d.enabled, d.position, d.event, d.rule, d.now.unix_millis(), d.actor, id],
                )?;
                let reason = if d.enabled { "the rule was edited" } else { "the rule was switched off" };
                super::automations::cancel_armed(&tx, id, reason, d.now)?;
                tx.commit()?;
                Ok(n == 1)
            })
            .await
    }

    async fn delete_rule(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let deleted = tx.execute("DELETE FROM rules WHERE id = ?1", params![id])? == 1;
                super::automations::cancel_armed(&tx, id, "the rule was deleted", now)?;
                tx.commit()?;
                Ok(deleted)
            })
            .await
    }

    async fn window_episode(&self, identity_id: i64) -> Result<Option<WindowEpisode>, StoreError> {
        self.read(move |c| window_episode(c, identity_id)).await
    }

    async fn record_firing(&self, firing: &RuleFiring) -> Result<bool, StoreError> {
        let f = firing.clone();
        self.inner.writer.run(move |conn| insert_firing(conn, &f)).await
    }

    async fn apply_field_firing_groups(&self, groups: &[Vec<FieldFiring>]) -> Result<Vec<Result<Vec<bool>, StoreError>>, StoreError> {
        let groups = groups.to_vec();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let mut results = Vec::with_capacity(groups.len());
                for group in &groups {
                    tx.execute_batch("SAVEPOINT field_firings")?;
                    let written = apply_group(&tx, group);
                    tx.execute_batch(if written.is_ok() {
                        "RELEASE field_firings"
                    } else {
                        "ROLLBACK TO field_firings; RELEASE field_firings"
                    })?;
                    results.push(written);
                }
                tx.commit()?;
                Ok(results)
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
