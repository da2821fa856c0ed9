//! Templates, fallback settings, held replies and failed-delivery actions on PostgreSQL (SPEC 9, D4).
//! Held rows are locked `FOR UPDATE` (release) or skipped when locked (expiry), so an instance
//! releasing a reply and another expiring it can never both win.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, Row, Transaction};
use windowdesk_core::{DeliveryState, LocalEvent, Timestamp};

use super::outbox::{event, transition};
use super::PgStore;
use crate::error::StoreError;
use crate::fallback_model::*;
use crate::ingest::plan::HeldRelease;
use crate::model::NewOutbound;
use crate::FallbackStore;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

const SETTINGS_COLUMNS: &str =
    "business_number_id, fallback_ladder, hold_notice_template, hold_notice_language, hold_hours, sms_from, updated_at, updated_by, \
     read_receipts, typing_indicator";

fn settings_row(r: &PgRow) -> Result<NumberSettings, StoreError> {
    Ok(NumberSettings {
        business_number_id: r.try_get(0)?,
        fallback_ladder: parse_ladder(r.try_get::<&str, _>(1)?),
        hold_notice_template: r.try_get(2)?,
        hold_notice_language: r.try_get(3)?,
        hold_hours: r.try_get(4)?,
        sms_from: r.try_get(5)?,
        updated_at: t(r.try_get(6)?),
        updated_by: r.try_get(7)?,
        read_receipts: r.try_get(8)?,
        typing_indicator: r.try_get(9)?,
    })
}

async fn write_settings(c: &mut PgConnection, s: &NumberSettings, replace: bool) -> Result<u64, StoreError> {
    let conflict = if replace {
        "DO UPDATE SET fallback_ladder = excluded.fallback_ladder, hold_notice_template = excluded.hold_notice_template,
            hold_notice_language = excluded.hold_notice_language, hold_hours = excluded.hold_hours, sms_from = excluded.sms_from,
            updated_at = excluded.updated_at, updated_by = excluded.updated_by,
            read_receipts = excluded.read_receipts, typing_indicator = excluded.typing_indicator"
    } else {
        "DO NOTHING"
    };
    let sql = format!(
        "INSERT INTO number_settings ({SETTINGS_COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
         WHERE EXISTS (SELECT 1 FROM business_numbers WHERE id = $1)
         ON CONFLICT (business_number_id) {conflict}"
    );
    let done = sqlx::query(&sql)
        .bind(s.business_number_id)
        .bind(ladder_json(&s.fallback_ladder))
        .bind(&s.hold_notice_template)
        .bind(&s.hold_notice_language)
        .bind(s.hold_hours)
        .bind(&s.sms_from)
        .bind(s.updated_at.unix_millis())
        .bind(&s.updated_by)
        .bind(s.read_receipts)
        .bind(s.typing_indicator)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected())
}

/// See the SQLite twin: held replies of identities whose window reopened go back to the queue.
pub(crate) async fn release_held(tx: &mut PgConnection, releases: &[HeldRelease]) -> Result<Vec<(i64, i64)>, StoreError> {
    if releases.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = releases.iter().map(|r| r.identity_id).collect();
    let rows = sqlx::query(
        "SELECT o.id, m.id, m.ticket_id, m.identity_id, m.delivery_state FROM outbox o JOIN messages m ON m.id = o.message_id
         WHERE o.state = 'held' AND m.identity_id = ANY($1) ORDER BY o.id FOR UPDATE OF o",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut released = Vec::with_capacity(rows.len());
    for r in rows {
        let (outbox_id, message_id, ticket_id, identity_id): (i64, i64, i64, i64) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        let Some(rel) = releases.iter().find(|x| x.identity_id == identity_id) else { continue };
        let next = transition(r.try_get(4)?, LocalEvent::Release)?;
        let at = rel.at.unix_millis();
        sqlx::query(
            "UPDATE outbox SET state = 'queued', next_attempt_at = $1, hold_expires_at = NULL,
                window_end = CASE WHEN free_form = 1 THEN $2 ELSE window_end END WHERE id = $3",
        )
        .bind(at)
        .bind(rel.window_end.unix_millis())
        .bind(outbox_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE messages SET delivery_state = $1, delivery_updated_at = $2 WHERE id = $3")
            .bind(next.as_str())
            .bind(at)
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
        event(tx, ticket_id, rel.at, "system", "held_reply_released", serde_json::json!({"message_id": message_id})).await?;
        released.push((message_id, ticket_id));
    }
    Ok(released)
}

async fn attention_state(tx: &mut PgConnection, message_id: i64) -> Result<(i64, DeliveryState), StoreError> {
    let row = sqlx::query("SELECT ticket_id, delivery_state, resolution FROM messages WHERE id = $1 AND direction = 'outbound' FOR UPDATE")
        .bind(message_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("outbound message {message_id} does not exist")))?;
    let ticket_id: i64 = row.try_get(0)?;
    let state = row.try_get::<Option<&str>, _>(1)?.and_then(DeliveryState::parse).unwrap_or(DeliveryState::Draft);
    if !state.needs_attention() {
        return Err(StoreError::Conflict(format!("message {message_id} is {}, not failed or blocked", state.as_str())));
    }
    if let Some(r) = row.try_get::<Option<String>, _>(2)? {
        return Err(StoreError::Conflict(format!("message {message_id} was already dealt with ({r})")));
    }
    Ok((ticket_id, state))
}

/// Marks `original` as dealt with; with `replacement`, the message sent instead.
pub(crate) async fn resolve(
    tx: &mut PgConnection,
    original: i64,
    ticket_id: i64,
    resolution: Resolution,
    replacement: Option<i64>,
    actor: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let (original_ticket, _) = attention_state(tx, original).await?;
    if original_ticket != ticket_id {
        return Err(StoreError::Conflict(format!("message {original} belongs to ticket {original_ticket}, not {ticket_id}")));
    }
    sqlx::query("UPDATE messages SET resolution = $1, resolved_at = $2, resolved_by = $3, replaced_by = $4 WHERE id = $5")
        .bind(resolution.as_str())
        .bind(now.unix_millis())
        .bind(actor)
        .bind(replacement)
        .bind(original)
        .execute(&mut *tx)
        .await?;
    if let Some(r) = replacement {
        sqlx::query("UPDATE messages SET replaces = $1 WHERE id = $2").bind(original).bind(r).execute(&mut *tx).await?;
    }
    let data = serde_json::json!({"message_id": original, "resolution": resolution.as_str(), "replaced_by": replacement});
    event(tx, ticket_id, now, actor, "failed_delivery_resolved", data).await
}

async fn begin(store: &PgStore) -> Result<Transaction<'static, Postgres>, StoreError> {
    Ok(store.pool().begin().await?)
}

#[async_trait]
impl FallbackStore for PgStore {
    async fn store_synced_templates(
        &self,
        waba_id: &str,
        templates: &[SyncedTemplate],
        now: Timestamp,
    ) -> Result<TemplateSyncCounts, StoreError> {
        let mut tx = begin(self).await?;
        let now_ms = now.unix_millis();
        let mut counts = TemplateSyncCounts::default();
        let known = sqlx::query("SELECT name, language, definition, status, category, removed_at FROM templates WHERE waba_id = $1")
            .bind(waba_id)
            .fetch_all(&mut *tx)
            .await?;
        let mut before = std::collections::HashMap::new();
        for r in &known {
            let key: (String, String) = (r.try_get(0)?, r.try_get(1)?);
            let row = KnownTemplate {
                definition: r.try_get(2)?,
                status: r.try_get(3)?,
                category: r.try_get(4)?,
                removed: r.try_get::<Option<i64>, _>(5)?.is_some(),
            };
            before.insert(key, row);
        }
        for tpl in templates {
            counts.count(before.get(&(tpl.name.clone(), tpl.language.clone())), tpl);
            sqlx::query(
                "INSERT INTO templates (waba_id, name, language, meta_template_id, category, status, definition, synced_at, removed_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $8)
                 ON CONFLICT (waba_id, name, language) DO UPDATE SET
                    meta_template_id = COALESCE(excluded.meta_template_id, templates.meta_template_id),
                    category = COALESCE(excluded.category, templates.category),
                    status = COALESCE(excluded.status, templates.status),
                    definition = excluded.definition, synced_at = excluded.synced_at, removed_at = NULL, updated_at = excluded.updated_at",
            )
            .bind(waba_id)
            .bind(&tpl.name)
            .bind(&tpl.language)
            .bind(&tpl.meta_template_id)
            .bind(&tpl.category)
            .bind(&tpl.status)
            .bind(&tpl.definition)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        let removed = sqlx::query(
            "UPDATE templates SET removed_at = $2, updated_at = $2 WHERE waba_id = $1 AND removed_at IS NULL
             AND (synced_at IS NULL OR synced_at < $2)",
        )
        .bind(waba_id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        counts.removed = removed.rows_affected();
        tx.commit().await?;
        Ok(counts)
    }

    async fn number_settings(&self, business_number_id: i64) -> Result<Option<NumberSettings>, StoreError> {
        let sql = format!("SELECT {SETTINGS_COLUMNS} FROM number_settings WHERE business_number_id = $1");
        let row = sqlx::query(&sql).bind(business_number_id).fetch_optional(self.pool()).await?;
        row.as_ref().map(settings_row).transpose()
    }

    async fn all_number_settings(&self) -> Result<Vec<NumberSettings>, StoreError> {
        let sql = format!("SELECT {SETTINGS_COLUMNS} FROM number_settings ORDER BY business_number_id");
        sqlx::query(&sql).fetch_all(self.pool()).await?.iter().map(settings_row).collect()
    }

    async fn seed_number_settings(&self, settings: &[NumberSettings]) -> Result<(), StoreError> {
        let mut tx = begin(self).await?;
        for s in settings {
            write_settings(&mut tx, s, false).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn save_number_settings(&self, settings: &NumberSettings) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        Ok(write_settings(&mut conn, settings, true).await? == 1)
    }

    async fn outbound_message(&self, message_id: i64) -> Result<Option<OutboundMessage>, StoreError> {
        let row = sqlx::query(
            "SELECT m.id, m.ticket_id, m.business_number_id, m.identity_id, m.kind, m.body, m.delivery_state, o.channel, o.request,
                    o.free_form, o.hold_expires_at, m.resolution, m.replaced_by
             FROM messages m JOIN outbox o ON o.message_id = m.id WHERE m.id = $1 AND m.direction = 'outbound'",
        )
        .bind(message_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(OutboundMessage {
            message_id: r.try_get(0)?,
            ticket_id: r.try_get(1)?,
            business_number_id: r.try_get(2)?,
            identity_id: r.try_get(3)?,
            kind: r.try_get(4)?,
            body: r.try_get(5)?,
            state: r.try_get::<Option<&str>, _>(6)?.and_then(DeliveryState::parse).unwrap_or(DeliveryState::Failed),
            channel: r.try_get(7)?,
            request: r.try_get(8)?,
            free_form: r.try_get::<i64, _>(9)? != 0,
            hold_expires_at: r.try_get::<Option<i64>, _>(10)?.map(t),
            resolution: r.try_get(11)?,
            replaced_by: r.try_get(12)?,
        }))
    }

    async fn enqueue_hold_notice(&self, msg: &NewOutbound) -> Result<HoldNoticeSlot, StoreError> {
        let mut tx = begin(self).await?;
        let key = sqlx::query(
            "SELECT t.identity_id, COALESCE(i.last_inbound_at, 0) FROM tickets t JOIN identities i ON i.id = t.identity_id WHERE t.id = $1",
        )
        .bind(msg.ticket_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {} does not exist", msg.ticket_id)))?;
        let (identity_id, episode_at): (i64, i64) = (key.try_get(0)?, key.try_get(1)?);
        // A concurrent claim of the same key makes this insert wait for that transaction; if it
        // committed, nothing is inserted here.
        let claimed = sqlx::query(
            "INSERT INTO hold_notices (identity_id, episode_at, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (identity_id, episode_at) DO NOTHING",
        )
        .bind(identity_id)
        .bind(episode_at)
        .bind(msg.now.unix_millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            let message_id: Option<i64> =
                sqlx::query_scalar("SELECT message_id FROM hold_notices WHERE identity_id = $1 AND episode_at = $2")
                    .bind(identity_id)
                    .bind(episode_at)
                    .fetch_one(&mut *tx)
                    .await?;
            tx.rollback().await?;
            return Ok(HoldNoticeSlot::AlreadySent { message_id });
        }
        let queued = super::outbox::enqueue_in(&mut *tx, msg).await?;
        sqlx::query("UPDATE hold_notices SET message_id = $1 WHERE identity_id = $2 AND episode_at = $3")
            .bind(queued.message_id)
            .bind(identity_id)
            .bind(episode_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(HoldNoticeSlot::Queued(queued))
    }

    async fn expire_held(&self, now: Timestamp) -> Result<Vec<ExpiredHold>, StoreError> {
        let mut tx = begin(self).await?;
        let rows = sqlx::query(
            "SELECT o.id, m.id, m.ticket_id, m.delivery_state FROM outbox o JOIN messages m ON m.id = o.message_id
             WHERE o.state = 'held' AND o.hold_expires_at <= $1 ORDER BY o.id FOR UPDATE OF o SKIP LOCKED",
        )
        .bind(now.unix_millis())
        .fetch_all(&mut *tx)
        .await?;
        let mut expired = Vec::with_capacity(rows.len());
        for r in rows {
            let (outbox_id, message_id, ticket_id): (i64, i64, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let next = transition(r.try_get(3)?, LocalEvent::HoldExpired)?;
            sqlx::query("UPDATE outbox SET state = 'done' WHERE id = $1").bind(outbox_id).execute(&mut *tx).await?;
            sqlx::query(
                "UPDATE messages SET delivery_state = $1, delivery_updated_at = $2, error_code = NULL, error_title = $3, error_details = $4
                 WHERE id = $5",
            )
            .bind(next.as_str())
            .bind(now.unix_millis())
            .bind(HELD_EXPIRED_TITLE)
            .bind(HELD_EXPIRED_DETAILS)
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
            event(&mut tx, ticket_id, now, "system", "held_reply_expired", serde_json::json!({"message_id": message_id})).await?;
            expired.push(ExpiredHold { message_id, ticket_id });
        }
        tx.commit().await?;
        Ok(expired)
    }

    async fn requeue_failed(&self, message_id: i64, how: Requeue, actor: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = begin(self).await?;
        let (ticket_id, state) = attention_state(&mut tx, message_id).await?;
        let (local, outbox_state, hold_until, window_end) = match how {
            Requeue::Now { window_end } => (LocalEvent::Resend, "queued", None, window_end),
            Requeue::Hold { expires_at } => (LocalEvent::Hold, "held", Some(expires_at), None),
        };
        let next = state.on(local).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let ms = now.unix_millis();
        sqlx::query(
            "UPDATE outbox SET state = $1, next_attempt_at = $2, hold_expires_at = $3,
                window_end = CASE WHEN free_form = 1 AND $4::BIGINT IS NOT NULL THEN $4 ELSE window_end END WHERE message_id = $5",
        )
        .bind(outbox_state)
        .bind(ms)
        .bind(hold_until.map(Timestamp::unix_millis))
        .bind(window_end.map(Timestamp::unix_millis))
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE messages SET delivery_state = $1, delivery_updated_at = $2 WHERE id = $3")
            .bind(next.as_str())
            .bind(ms)
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
        // Settled at 0 when it failed: sent again, it is charged as what happens to it now (and is
        // out of the daily roll-up until it is settled again).
        let settled = super::pricing::final_costs(&mut tx, &[message_id]).await?;
        super::pricing::roll_up(&mut tx, &settled, -1).await?;
        sqlx::query(
            "UPDATE message_costs SET final = false, settled_state = NULL, amount_micros = NULL, settled_by = NULL, settled_at = NULL, at = $2
              WHERE message_id = $1",
        )
        .bind(message_id)
        .bind(ms)
        .execute(&mut *tx)
        .await?;
        let (kind, data) = match hold_until {
            Some(until) => {
                ("reply_held", serde_json::json!({"message_id": message_id, "from": state.as_str(), "expires_at": until.unix_millis()}))
            }
            None => ("reply_resent", serde_json::json!({"message_id": message_id, "from": state.as_str()})),
        };
        event(&mut tx, ticket_id, now, actor, kind, data).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn dismiss_failed(&self, message_id: i64, actor: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = begin(self).await?;
        let (ticket_id, _) = attention_state(&mut tx, message_id).await?;
        resolve(&mut tx, message_id, ticket_id, Resolution::Dismissed, None, actor, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
