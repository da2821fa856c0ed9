//! Templates, fallback settings, held replies and failed-delivery actions on SQLite (SPEC 9, D4).

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use windowdesk_core::{DeliveryState, LocalEvent, Timestamp};

use super::outbox::{event, transition};
use crate::error::StoreError;
use crate::fallback_model::*;
use crate::ingest::plan::HeldRelease;
use crate::model::NewOutbound;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

pub(crate) fn store_synced_templates(
    conn: &mut Connection,
    waba_id: &str,
    templates: &[SyncedTemplate],
    now: Timestamp,
) -> Result<TemplateSyncCounts, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut counts = TemplateSyncCounts::default();
    let now_ms = now.unix_millis();
    for tpl in templates {
        let before = tx
            .prepare_cached(
                "SELECT definition, status, category, removed_at FROM templates WHERE waba_id = ?1 AND name = ?2 AND language = ?3",
            )?
            .query_row(params![waba_id, tpl.name, tpl.language], |r| {
                Ok(KnownTemplate {
                    definition: r.get(0)?,
                    status: r.get(1)?,
                    category: r.get(2)?,
                    removed: r.get::<_, Option<i64>>(3)?.is_some(),
                })
            })
            .optional()?;
        tx.prepare_cached(
            "INSERT INTO templates (waba_id, name, language, meta_template_id, category, status, definition, synced_at, removed_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?8)
             ON CONFLICT (waba_id, name, language) DO UPDATE SET
                meta_template_id = COALESCE(excluded.meta_template_id, templates.meta_template_id),
                category = COALESCE(excluded.category, templates.category),
                status = COALESCE(excluded.status, templates.status),
                definition = excluded.definition, synced_at = excluded.synced_at, removed_at = NULL, updated_at = excluded.updated_at",
        )?
        .execute(params![waba_id, tpl.name, tpl.language, tpl.meta_template_id, tpl.category, tpl.status, tpl.definition, now_ms])?;
        counts.count(before.as_ref(), tpl);
    }
    // Whatever the account had and this sync did not list is gone at Meta.
    let removed = tx
        .prepare_cached(
            "UPDATE templates SET removed_at = ?2, updated_at = ?2 WHERE waba_id = ?1 AND removed_at IS NULL
             AND (synced_at IS NULL OR synced_at < ?2)",
        )?
        .execute(params![waba_id, now_ms])?;
    counts.removed = removed as u64;
    tx.commit()?;
    Ok(counts)
}

const SETTINGS_COLUMNS: &str =
    "business_number_id, fallback_ladder, hold_notice_template, hold_notice_language, hold_hours, sms_from, updated_at, updated_by, \
     read_receipts, typing_indicator";

fn settings_row(r: &Row<'_>) -> rusqlite::Result<NumberSettings> {
    let ladder: String = r.get(1)?;
    Ok(NumberSettings {
        business_number_id: r.get(0)?,
        fallback_ladder: parse_ladder(&ladder),
        hold_notice_template: r.get(2)?,
        hold_notice_language: r.get(3)?,
        hold_hours: r.get(4)?,
        sms_from: r.get(5)?,
        updated_at: t(r.get(6)?),
        updated_by: r.get(7)?,
        read_receipts: r.get(8)?,
        typing_indicator: r.get(9)?,
    })
}

pub(crate) fn number_settings(c: &Connection, bn: i64) -> Result<Option<NumberSettings>, StoreError> {
    let sql = format!("SELECT {SETTINGS_COLUMNS} FROM number_settings WHERE business_number_id = ?1");
    Ok(c.prepare_cached(&sql)?.query_row(params![bn], settings_row).optional()?)
}

pub(crate) fn all_number_settings(c: &Connection) -> Result<Vec<NumberSettings>, StoreError> {
    let sql = format!("SELECT {SETTINGS_COLUMNS} FROM number_settings ORDER BY business_number_id");
    let rows = c.prepare_cached(&sql)?.query_map([], settings_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

fn write_settings(c: &Connection, s: &NumberSettings, replace: bool) -> Result<usize, StoreError> {
    let conflict = if replace {
        "DO UPDATE SET fallback_ladder = excluded.fallback_ladder, hold_notice_template = excluded.hold_notice_template,
            hold_notice_language = excluded.hold_notice_language, hold_hours = excluded.hold_hours, sms_from = excluded.sms_from,
            updated_at = excluded.updated_at, updated_by = excluded.updated_by,
            read_receipts = excluded.read_receipts, typing_indicator = excluded.typing_indicator"
    } else {
        "DO NOTHING"
    };
    let sql = format!(
        "INSERT INTO number_settings ({SETTINGS_COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
         WHERE EXISTS (SELECT 1 FROM business_numbers WHERE id = ?1)
         ON CONFLICT (business_number_id) {conflict}"
    );
    Ok(c.prepare_cached(&sql)?.execute(params![
        s.business_number_id,
        ladder_json(&s.fallback_ladder),
        s.hold_notice_template,
        s.hold_notice_language,
        s.hold_hours,
        s.sms_from,
        s.updated_at.unix_millis(),
        s.updated_by,
        s.read_receipts,
        s.typing_indicator
    ])?)
}

pub(crate) fn seed_number_settings(conn: &mut Connection, settings: &[NumberSettings]) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    for s in settings {
        write_settings(&tx, s, false)?;
    }
    tx.commit()?;
    Ok(())
}

pub(crate) fn save_number_settings(conn: &mut Connection, settings: &NumberSettings) -> Result<bool, StoreError> {
    let exists = conn.prepare_cached("SELECT 1 FROM business_numbers WHERE id = ?1")?.exists(params![settings.business_number_id])?;
    if !exists {
        return Ok(false);
    }
    write_settings(conn, settings, true)?;
    Ok(true)
}

pub(crate) fn outbound_message(c: &Connection, message_id: i64) -> Result<Option<OutboundMessage>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT m.id, m.ticket_id, m.business_number_id, m.identity_id, m.kind, m.body, m.delivery_state, o.channel, o.request,
                o.free_form, o.hold_expires_at, m.resolution, m.replaced_by
         FROM messages m JOIN outbox o ON o.message_id = m.id WHERE m.id = ?1 AND m.direction = 'outbound'",
    )?
    .query_row(params![message_id], |r| {
        let state: Option<String> = r.get(6)?;
        Ok(OutboundMessage {
            message_id: r.get(0)?,
            ticket_id: r.get(1)?,
            business_number_id: r.get(2)?,
            identity_id: r.get(3)?,
            kind: r.get(4)?,
            body: r.get(5)?,
            state: state.as_deref().and_then(DeliveryState::parse).unwrap_or(DeliveryState::Failed),
            channel: r.get(7)?,
            request: r.get(8)?,
            free_form: r.get::<_, i64>(9)? != 0,
            hold_expires_at: r.get::<_, Option<i64>>(10)?.map(t),
            resolution: r.get(11)?,
            replaced_by: r.get(12)?,
        })
    })
    .optional()?)
}

/// The held replies of identities whose window reopened go back to the queue, oldest first, with the
/// new window end as their deadline. Runs inside the ingest transaction of the customer's message.
pub(crate) fn release_held(tx: &Connection, releases: &[HeldRelease]) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut released = Vec::new();
    for rel in releases {
        let held: Vec<(i64, i64, i64)> = tx
            .prepare_cached(
                "SELECT o.id, m.id, m.ticket_id FROM outbox o JOIN messages m ON m.id = o.message_id
                 WHERE o.state = 'held' AND m.identity_id = ?1 ORDER BY o.id",
            )?
            .query_map(params![rel.identity_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (outbox_id, message_id, ticket_id) in held {
            let state: Option<String> =
                tx.query_row("SELECT delivery_state FROM messages WHERE id = ?1", params![message_id], |r| r.get(0))?;
            let next = transition(state, LocalEvent::Release)?;
            let at = rel.at.unix_millis();
            tx.prepare_cached(
                "UPDATE outbox SET state = 'queued', next_attempt_at = ?1, hold_expires_at = NULL,
                    window_end = CASE WHEN free_form = 1 THEN ?2 ELSE window_end END WHERE id = ?3",
            )?
            .execute(params![at, rel.window_end.unix_millis(), outbox_id])?;
            tx.prepare_cached("UPDATE messages SET delivery_state = ?1, delivery_updated_at = ?2 WHERE id = ?3")?.execute(params![
                next.as_str(),
                at,
                message_id
            ])?;
            event(tx, ticket_id, rel.at, "system", "held_reply_released", serde_json::json!({"message_id": message_id}))?;
            released.push((message_id, ticket_id));
        }
    }
    Ok(released)
}

/// See [`crate::FallbackStore::enqueue_hold_notice`].
pub(crate) fn enqueue_hold_notice(conn: &mut Connection, msg: &NewOutbound) -> Result<HoldNoticeSlot, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (identity_id, episode_at): (i64, i64) = tx
        .prepare_cached(
            "SELECT t.identity_id, COALESCE(i.last_inbound_at, 0) FROM tickets t JOIN identities i ON i.id = t.identity_id WHERE t.id = ?1",
        )?
        .query_row(params![msg.ticket_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {} does not exist", msg.ticket_id)))?;
    let claimed = tx
        .prepare_cached(
            "INSERT INTO hold_notices (identity_id, episode_at, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (identity_id, episode_at) DO NOTHING",
        )?
        .execute(params![identity_id, episode_at, msg.now.unix_millis()])?;
    if claimed == 0 {
        let message_id: Option<i64> = tx
            .prepare_cached("SELECT message_id FROM hold_notices WHERE identity_id = ?1 AND episode_at = ?2")?
            .query_row(params![identity_id, episode_at], |r| r.get(0))?;
        return Ok(HoldNoticeSlot::AlreadySent { message_id });
    }
    let queued = super::outbox::enqueue_in(&tx, msg)?;
    tx.prepare_cached("UPDATE hold_notices SET message_id = ?1 WHERE identity_id = ?2 AND episode_at = ?3")?.execute(params![
        queued.message_id,
        identity_id,
        episode_at
    ])?;
    tx.commit()?;
    Ok(HoldNoticeSlot::Queued(queued))
}

pub(crate) fn expire_held(conn: &mut Connection, now: Timestamp) -> Result<Vec<ExpiredHold>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let due: Vec<(i64, i64, i64, Option<String>)> = tx
        .prepare_cached(
            "SELECT o.id, m.id, m.ticket_id, m.delivery_state FROM outbox o JOIN messages m ON m.id = o.message_id
             WHERE o.state = 'held' AND o.hold_expires_at <= ?1 ORDER BY o.id",
        )?
        .query_map(params![now.unix_millis()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut expired = Vec::with_capacity(due.len());
    for (outbox_id, message_id, ticket_id, state) in due {
        let next = transition(state, LocalEvent::HoldExpired)?;
        tx.prepare_cached("UPDATE outbox SET state = 'done' WHERE id = ?1")?.execute(params![outbox_id])?;
        tx.prepare_cached(
            "UPDATE messages SET delivery_state = ?1, delivery_updated_at = ?2, error_code = NULL, error_title = ?3, error_details = ?4
             WHERE id = ?5",
        )?
        .execute(params![next.as_str(), now.unix_millis(), HELD_EXPIRED_TITLE, HELD_EXPIRED_DETAILS, message_id])?;
        event(&tx, ticket_id, now, "system", "held_reply_expired", serde_json::json!({"message_id": message_id}))?;
        expired.push(ExpiredHold { message_id, ticket_id });
    }
    tx.commit()?;
    Ok(expired)
}

fn attention_state(tx: &Connection, message_id: i64) -> Result<(i64, DeliveryState, Option<String>), StoreError> {
    let row: Option<(i64, Option<String>, Option<String>)> = tx
        .query_row(
            "SELECT ticket_id, delivery_state, resolution FROM messages WHERE id = ?1 AND direction = 'outbound'",
            params![message_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (ticket_id, state, resolution) =
        row.ok_or_else(|| StoreError::NotFound(format!("outbound message {message_id} does not exist")))?;
    let state = state.as_deref().and_then(DeliveryState::parse).unwrap_or(DeliveryState::Draft);
    if !state.needs_attention() {
        return Err(StoreError::Conflict(format!("message {message_id} is {}, not failed or blocked", state.as_str())));
    }
    if let Some(r) = &resolution {
        return Err(StoreError::Conflict(format!("message {message_id} was already dealt with ({r})")));
    }
    Ok((ticket_id, state, resolution))
}

pub(crate) fn requeue_failed(conn: &mut Connection, message_id: i64, how: Requeue, actor: &str, now: Timestamp) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (ticket_id, state, _) = attention_state(&tx, message_id)?;
    let (event_kind, outbox_state, hold_until, window_end) = match how {
        Requeue::Now { window_end } => (LocalEvent::Resend, "queued", None, window_end),
        Requeue::Hold { expires_at } => (LocalEvent::Hold, "held", Some(expires_at), None),
    };
    let next = state.on(event_kind).map_err(|e| StoreError::Conflict(e.to_string()))?;
    let ms = now.unix_millis();
    tx.prepare_cached(
        "UPDATE outbox SET state = ?1, next_attempt_at = ?2, hold_expires_at = ?3,
            window_end = CASE WHEN free_form = 1 AND ?4 IS NOT NULL THEN ?4 ELSE window_end END WHERE message_id = ?5",
    )?
    .execute(params![outbox_state, ms, hold_until.map(Timestamp::unix_millis), window_end.map(Timestamp::unix_millis), message_id])?;
    tx.prepare_cached("UPDATE messages SET delivery_state = ?1, delivery_updated_at = ?2 WHERE id = ?3")?.execute(params![
        next.as_str(),
        ms,
        message_id
    ])?;
    // Settled at 0 when it failed: sent again, it is charged as what happens to it now (and is
    // out of the daily roll-up until it is settled again).
    let settled = super::pricing::final_costs(&tx, &[message_id])?;
    super::pricing::roll_up(&tx, &settled, -1)?;
    tx.prepare_cached(
        "UPDATE message_costs SET final = 0, settled_state = NULL, amount_micros = NULL, settled_by = NULL, settled_at = NULL, at = ?2
          WHERE message_id = ?1",
    )?
    .execute(params![message_id, ms])?;
    let (kind, data) = match hold_until {
        Some(until) => {
            ("reply_held", serde_json::json!({"message_id": message_id, "from": state.as_str(), "expires_at": until.unix_millis()}))
        }
        None => ("reply_resent", serde_json::json!({"message_id": message_id, "from": state.as_str()})),
    };
    event(&tx, ticket_id, now, actor, kind, data)?;
    tx.commit()?;
    Ok(())
}

/// Marks `original` as dealt with; with `replacement`, the message sent instead.
pub(crate) fn resolve(
    tx: &Connection,
    original: i64,
    ticket_id: i64,
    resolution: Resolution,
    replacement: Option<i64>,
    actor: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let (original_ticket, _, _) = attention_state(tx, original)?;
    if original_ticket != ticket_id {
        return Err(StoreError::Conflict(format!("message {original} belongs to ticket {original_ticket}, not {ticket_id}")));
    }
    tx.prepare_cached("UPDATE messages SET resolution = ?1, resolved_at = ?2, resolved_by = ?3, replaced_by = ?4 WHERE id = ?5")?
        .execute(params![resolution.as_str(), now.unix_millis(), actor, replacement, original])?;
    if let Some(r) = replacement {
        tx.prepare_cached("UPDATE messages SET replaces = ?1 WHERE id = ?2")?.execute(params![original, r])?;
    }
    event(
        tx,
        ticket_id,
        now,
        actor,
        "failed_delivery_resolved",
        serde_json::json!({"message_id": original, "resolution": resolution.as_str(), "replaced_by": replacement}),
    )
}

pub(crate) fn dismiss_failed(conn: &mut Connection, message_id: i64, actor: &str, now: Timestamp) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (ticket_id, _, _) = attention_state(&tx, message_id)?;
    resolve(&tx, message_id, ticket_id, Resolution::Dismissed, None, actor, now)?;
    tx.commit()?;
    Ok(())
}

pub(crate) mod impls {
    use async_trait::async_trait;
    use windowdesk_core::Timestamp;

    use super::super::SqliteStore;
    use crate::error::StoreError;
    use crate::fallback_model::*;
    use crate::FallbackStore;

    #[async_trait]
    impl FallbackStore for SqliteStore {
        async fn store_synced_templates(
            &self,
            waba_id: &str,
            templates: &[SyncedTemplate],
            now: Timestamp,
        ) -> Result<TemplateSyncCounts, StoreError> {
            let (waba_id, templates) = (waba_id.to_owned(), templates.to_vec());
            self.inner.writer.run(move |conn| super::store_synced_templates(conn, &waba_id, &templates, now)).await
        }
        async fn number_settings(&self, business_number_id: i64) -> Result<Option<NumberSettings>, StoreError> {
            self.read(move |c| super::number_settings(c, business_number_id)).await
        }
        async fn all_number_settings(&self) -> Result<Vec<NumberSettings>, StoreError> {
            self.read(super::all_number_settings).await
        }
        async fn seed_number_settings(&self, settings: &[NumberSettings]) -> Result<(), StoreError> {
            let settings = settings.to_vec();
            self.inner.writer.run(move |conn| super::seed_number_settings(conn, &settings)).await
        }
        async fn save_number_settings(&self, settings: &NumberSettings) -> Result<bool, StoreError> {
            let settings = settings.clone();
            self.inner.writer.run(move |conn| super::save_number_settings(conn, &settings)).await
        }
        async fn outbound_message(&self, message_id: i64) -> Result<Option<OutboundMessage>, StoreError> {
            self.read(move |c| super::outbound_message(c, message_id)).await
        }
        async fn enqueue_hold_notice(&self, msg: &crate::model::NewOutbound) -> Result<HoldNoticeSlot, StoreError> {
            let msg = msg.clone();
            self.inner.writer.run(move |conn| super::enqueue_hold_notice(conn, &msg)).await
        }
        async fn expire_held(&self, now: Timestamp) -> Result<Vec<ExpiredHold>, StoreError> {
            self.inner.writer.run(move |conn| super::expire_held(conn, now)).await
        }
        async fn requeue_failed(&self, message_id: i64, how: Requeue, actor: &str, now: Timestamp) -> Result<(), StoreError> {
            let actor = actor.to_owned();
            self.inner.writer.run(move |conn| super::requeue_failed(conn, message_id, how, &actor, now)).await
        }
        async fn dismiss_failed(&self, message_id: i64, actor: &str, now: Timestamp) -> Result<(), StoreError> {
            let actor = actor.to_owned();
            self.inner.writer.run(move |conn| super::dismiss_failed(conn, message_id, &actor, now)).await
        }
    }
}
