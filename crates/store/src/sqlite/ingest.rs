//! SQLite side of ingest: load what the plan needs, write what it decided. Runs on the writer thread,
//! so nothing else writes between the load and the write; statements are prepared once and cached.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use windowdesk_core::rules::WindowEpisode;
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{CustomerWindow, DeliveryState, TicketSnapshot, TicketStatus, Timestamp};

use crate::error::StoreError;
use crate::ingest::plan::{
    self, template_columns, IdentityState, Loaded, MessageUpdate, PendingRevision, ReactionWrite, TargetState, TemplateColumns, WriteSet,
};
use crate::ingest::{IngestPayload, IngestSummary};

fn ts(v: Option<i64>) -> Option<Timestamp> {
    v.map(Timestamp::from_unix_millis)
}

fn ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::unix_millis)
}

/// Commits the batch in one transaction; if that fails, each payload alone, so one bad payload cannot
/// take the others down with it.
pub(crate) fn commit_batch(conn: &mut Connection, batch: &[IngestPayload]) -> Vec<Result<IngestSummary, StoreError>> {
    match commit(conn, batch) {
        Ok(summaries) => summaries.into_iter().map(Ok).collect(),
        Err(e) if batch.len() == 1 => vec![Err(e)],
        Err(e) => {
            tracing::warn!(error = %e, size = batch.len(), "batch commit failed; committing payloads one by one");
            batch.iter().map(|p| commit(conn, std::slice::from_ref(p)).map(|mut s| s.pop().unwrap_or_default())).collect()
        }
    }
}

fn commit(conn: &mut Connection, batch: &[IngestPayload]) -> Result<Vec<IngestSummary>, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let needs = plan::needs(batch);
    let mut loaded = load(&tx, &needs)?;
    let (writes, mut summaries) = plan::plan(batch, &mut loaded, WindowPolicy::WHATSAPP);
    apply(&tx, &writes)?;
    let released = super::fallback::release_held(&tx, &writes.held_releases)?;
    tx.commit()?;
    crate::ingest::note_released(&mut summaries, &released);
    Ok(summaries)
}

pub(crate) fn identity_state(tx: &Connection, bn: i64, key: &str) -> Result<Option<IdentityState>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT i.id, i.contact_id, c.name, c.name_is_default, i.wa_id, i.bsuid, i.profile_name,
                i.last_inbound_at, i.referral_at, i.fep_started_at, i.window_episode_at
         FROM identities i JOIN contacts c ON c.id = i.contact_id
         WHERE i.business_number_id = ?1 AND i.identity_key = ?2",
    )?;
    Ok(stmt
        .query_row(params![bn, key], |r| {
            Ok(IdentityState {
                id: r.get(0)?,
                contact_id: r.get(1)?,
                contact_name: r.get(2)?,
                name_is_default: r.get::<_, i64>(3)? != 0,
                wa_id: r.get(4)?,
                bsuid: r.get(5)?,
                profile_name: r.get(6)?,
                window: CustomerWindow { last_inbound_at: ts(r.get(7)?), referral_at: ts(r.get(8)?), fep_started_at: ts(r.get(9)?) },
                window_episode: ts(r.get(10)?).map(|started_at| WindowEpisode { started_at }),
            })
        })
        .optional()?)
}

fn load(tx: &Transaction<'_>, needs: &plan::Needs) -> Result<Loaded, StoreError> {
    let mut loaded = Loaded::default();
    for seed in &needs.identities {
        let state = match identity_state(tx, seed.business_number_id, &seed.key)? {
            Some(s) => s,
            None => {
                let at = seed.at.unix_millis();
                tx.prepare_cached("INSERT INTO contacts (name, name_is_default, created_at) VALUES (?1, 1, ?2)")?
                    .execute(params![seed.contact_name, at])?;
                let contact_id = tx.last_insert_rowid();
                tx.prepare_cached(
                    "INSERT INTO identities (contact_id, business_number_id, identity_key, wa_id, bsuid, parent_bsuid, profile_name, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                )?
                .execute(params![contact_id, seed.business_number_id, seed.key, seed.wa_id, seed.bsuid, seed.parent_bsuid, seed.profile_name, at])?;
                IdentityState {
                    id: tx.last_insert_rowid(),
                    contact_id,
                    contact_name: seed.contact_name.clone(),
                    name_is_default: true,
                    wa_id: seed.wa_id.clone(),
                    bsuid: seed.bsuid.clone(),
                    profile_name: seed.profile_name.clone(),
                    window: CustomerWindow::default(),
                    window_episode: None,
                }
            }
        };
        let mut newest = tx.prepare_cached("SELECT id, status FROM tickets WHERE identity_id = ?1 ORDER BY id DESC LIMIT 1")?;
        if let Some((id, status)) = newest.query_row(params![state.id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).optional()? {
            let status = TicketStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("ticket {id} has status {status:?}")))?;
            loaded.newest_tickets.insert(state.id, TicketSnapshot { id, status });
        }
        loaded.identities.insert((seed.business_number_id, seed.key.clone()), state);
    }
    {
        let mut exists = tx.prepare_cached("SELECT 1 FROM messages WHERE business_number_id = ?1 AND wamid = ?2")?;
        let mut pending = tx.prepare_cached(
            "SELECT id, kind, new_body, at FROM message_revisions WHERE business_number_id = ?1 AND target_wamid = ?2 AND applied = 0",
        )?;
        for key in &needs.wamids {
            if exists.exists(params![key.0, key.1])? {
                loaded.existing_wamids.insert(key.clone());
                continue;
            }
            let revisions = pending
                .query_map(params![key.0, key.1], |r| {
                    Ok(PendingRevision { id: r.get(0)?, kind: r.get(1)?, new_body: r.get(2)?, at: Timestamp::from_unix_millis(r.get(3)?) })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            if !revisions.is_empty() {
                loaded.pending_revisions.insert(key.clone(), revisions);
            }
        }
    }
    {
        let mut target =
            tx.prepare_cached("SELECT id, ticket_id, body, delivery_state FROM messages WHERE business_number_id = ?1 AND wamid = ?2")?;
        let mut statuses = tx.prepare_cached("SELECT status FROM status_events WHERE business_number_id = ?1 AND wamid = ?2")?;
        for key in &needs.targets {
            let row = target
                .query_row(params![key.0, key.1], |r| {
                    Ok(TargetState {
                        id: r.get(0)?,
                        ticket_id: r.get(1)?,
                        body: r.get(2)?,
                        delivery_state: r.get::<_, Option<String>>(3)?.as_deref().and_then(DeliveryState::parse),
                    })
                })
                .optional()?;
            if let Some(row) = row {
                loaded.targets.insert(key.clone(), row);
            }
            for status in statuses.query_map(params![key.0, key.1], |r| r.get::<_, String>(0))? {
                loaded.known_statuses.insert((key.0, key.1.clone(), status?));
            }
        }
    }
    let next: i64 = tx.prepare_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM tickets")?.query_row([], |r| r.get(0))?;
    let n = i64::try_from(plan::ticket_ids_needed(&loaded)).unwrap_or(0);
    loaded.ticket_ids = (next..next + n).collect();
    Ok(loaded)
}

pub(crate) fn apply(tx: &Transaction<'_>, w: &WriteSet) -> Result<(), StoreError> {
    for (contact_id, name) in &w.contact_renames {
        tx.prepare_cached("UPDATE contacts SET name = ?1 WHERE id = ?2 AND name_is_default = 1")?.execute(params![name, contact_id])?;
    }
    for u in w.identity_updates.values() {
        tx.prepare_cached(
            "UPDATE identities SET last_inbound_at = ?1, referral_at = ?2, fep_started_at = ?3, profile_name = ?4, bsuid = ?5, updated_at = ?6,
                window_episode_at = ?8 WHERE id = ?7",
        )?
        .execute(params![ms(u.last_inbound_at), ms(u.referral_at), ms(u.fep_started_at), u.profile_name, u.bsuid, u.updated_at.unix_millis(), u.id, ms(u.window_episode_at)])?;
    }
    for c in &w.identity_changes {
        tx.prepare_cached("INSERT INTO identity_changes (identity_id, at, field, old_value, new_value) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![c.identity_id, c.at.unix_millis(), c.field, c.old_value, c.new_value])?;
    }
    for r in &w.identity_rekeys {
        tx.prepare_cached(
            "UPDATE identities SET wa_id = ?1, identity_key = ?1 WHERE id = ?2
             AND NOT EXISTS (SELECT 1 FROM identities WHERE business_number_id = ?3 AND identity_key = ?1)",
        )?
        .execute(params![r.new_wa_id, r.id, r.business_number_id])?;
    }
    for t in &w.tickets_new {
        let at = t.created_at.unix_millis();
        tx.prepare_cached(
            "INSERT INTO tickets (id, business_number_id, identity_id, requester_id, status, subject, followup_of, created_at, updated_at, last_message_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8)",
        )?
        .execute(params![t.id, t.business_number_id, t.identity_id, t.requester_id, t.status.as_str(), t.subject, t.followup_of, at])?;
    }
    for u in w.ticket_updates.values() {
        tx.prepare_cached(
            "UPDATE tickets SET status = COALESCE(?1, status), last_message_at = MAX(last_message_at, ?2), updated_at = ?3 WHERE id = ?4",
        )?
        .execute(params![
            u.status.map(TicketStatus::as_str),
            u.last_message_at.unix_millis(),
            u.updated_at.unix_millis(),
            u.id
        ])?;
    }
    for m in &w.messages_new {
        tx.prepare_cached(
            "INSERT INTO messages (ticket_id, business_number_id, identity_id, direction, wamid, kind, body, media_id, mime_type, media_sha256,
                                   filename, voice, reply_to_wamid, target_wamid, forwarded, referral, sent_at, received_at, delivery_state,
                                   delivery_updated_at, edited_at, revoked_at, errors, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
        )?
        .execute(params![
            m.ticket_id,
            m.business_number_id,
            m.identity_id,
            m.direction,
            m.wamid,
            m.kind,
            m.body,
            m.media_id,
            m.mime_type,
            m.media_sha256,
            m.filename,
            i64::from(m.voice),
            m.reply_to_wamid,
            m.target_wamid,
            m.forwarded,
            i64::from(m.referral),
            m.sent_at.unix_millis(),
            m.received_at.unix_millis(),
            m.delivery_state.map(DeliveryState::as_str),
            m.delivery_state.map(|_| m.sent_at.unix_millis()),
            ms(m.edited_at),
            ms(m.revoked_at),
            m.errors,
            m.raw,
        ])?;
    }
    for u in &w.message_updates {
        match u {
            MessageUpdate::Edit { id, body, at } => {
                tx.prepare_cached("UPDATE messages SET body = ?1, edited_at = ?2 WHERE id = ?3")?.execute(params![
                    body,
                    at.unix_millis(),
                    id
                ])?;
            }
            MessageUpdate::Revoke { id, at } => {
                tx.prepare_cached("UPDATE messages SET body = NULL, revoked_at = ?1 WHERE id = ?2")?
                    .execute(params![at.unix_millis(), id])?;
            }
            MessageUpdate::Delivery { id, state, at, error_code, error_title, error_details } => {
                tx.prepare_cached(
                    "UPDATE messages SET delivery_state = ?1, delivery_updated_at = ?2,
                            error_code = COALESCE(?3, error_code), error_title = COALESCE(?4, error_title), error_details = COALESCE(?5, error_details)
                     WHERE id = ?6",
                )?
                .execute(params![state.as_str(), at.unix_millis(), error_code, error_title, error_details, id])?;
            }
        }
    }
    for r in &w.revisions_new {
        tx.prepare_cached(
            "INSERT INTO message_revisions (business_number_id, target_wamid, source_wamid, kind, previous_body, new_body, at, applied)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            r.business_number_id,
            r.target_wamid,
            r.source_wamid,
            r.kind,
            r.previous_body,
            r.new_body,
            r.at.unix_millis(),
            i64::from(r.applied)
        ])?;
    }
    for id in &w.revisions_applied {
        tx.prepare_cached("UPDATE message_revisions SET applied = 1 WHERE id = ?1")?.execute(params![id])?;
    }
    for r in &w.reactions {
        match r {
            ReactionWrite::Set { business_number_id, target_wamid, identity_id, emoji, at } => {
                tx.prepare_cached(
                    "INSERT INTO reactions (business_number_id, target_wamid, identity_id, emoji, reacted_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (business_number_id, target_wamid, identity_id) DO UPDATE SET emoji = excluded.emoji, reacted_at = excluded.reacted_at
                     WHERE excluded.reacted_at >= reactions.reacted_at",
                )?
                .execute(params![business_number_id, target_wamid, identity_id, emoji, at.unix_millis()])?;
            }
            ReactionWrite::Remove { business_number_id, target_wamid, identity_id } => {
                tx.prepare_cached("DELETE FROM reactions WHERE business_number_id = ?1 AND target_wamid = ?2 AND identity_id = ?3")?
                    .execute(params![business_number_id, target_wamid, identity_id])?;
            }
        }
    }
    for s in &w.status_events {
        tx.prepare_cached(
            "INSERT INTO status_events (business_number_id, wamid, status, at, received_at, recipient, pricing, errors, applied, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            s.business_number_id,
            s.wamid,
            s.status,
            s.at.unix_millis(),
            s.received_at.unix_millis(),
            s.recipient,
            s.pricing,
            s.errors,
            i64::from(s.applied),
            s.raw
        ])?;
    }
    for e in &w.ticket_events {
        tx.prepare_cached("INSERT INTO ticket_events (ticket_id, at, actor, kind, data) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(params![
            e.ticket_id,
            e.at.unix_millis(),
            e.actor,
            e.kind,
            e.data.to_string()
        ])?;
    }
    for a in &w.account_events {
        tx.prepare_cached(
            "INSERT INTO account_events (waba_id, business_number_id, field, event, at, raw, dedupe_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (dedupe_key) DO NOTHING",
        )?
        .execute(params![a.waba_id, a.business_number_id, a.field, a.event, a.at.unix_millis(), a.raw, a.dedupe_key])?;
    }
    for t in &w.templates {
        let TemplateColumns { status, category, quality, reason, components } = template_columns(&t.change.update);
        tx.prepare_cached(
            "INSERT INTO templates (waba_id, name, language, meta_template_id, status, category, quality, reason, components, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (waba_id, name, language) DO UPDATE SET
                meta_template_id = COALESCE(excluded.meta_template_id, templates.meta_template_id),
                status = COALESCE(excluded.status, templates.status),
                category = COALESCE(excluded.category, templates.category),
                quality = COALESCE(excluded.quality, templates.quality),
                reason = COALESCE(excluded.reason, templates.reason),
                components = COALESCE(excluded.components, templates.components),
                updated_at = excluded.updated_at",
        )?
        .execute(params![
            t.waba_id,
            t.change.name,
            t.change.language,
            t.change.meta_template_id,
            status,
            category,
            quality,
            reason,
            components,
            t.at.unix_millis()
        ])?;
    }
    for (pnid, at) in &w.unknown_numbers {
        tx.prepare_cached(
            "INSERT INTO unknown_numbers (phone_number_id, first_seen, last_seen, count) VALUES (?1, ?2, ?2, 1)
             ON CONFLICT (phone_number_id) DO UPDATE SET count = count + 1, last_seen = excluded.last_seen",
        )?
        .execute(params![pnid, at.unix_millis()])?;
    }
    for j in &w.media_jobs {
        tx.prepare_cached(
            "INSERT INTO media_jobs (business_number_id, wamid, media_id, state, next_attempt_at, created_at) VALUES (?1, ?2, ?3, 'pending', ?4, ?4)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![j.business_number_id, j.wamid, j.media_id, j.at.unix_millis()])?;
    }
    Ok(())
}
