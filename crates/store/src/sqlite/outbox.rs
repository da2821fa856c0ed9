//! The outbox on SQLite. Runs on the writer thread, so a claim can never race another claim.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use windowdesk_core::delivery::apply_meta_status;
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{DeliveryState, LocalEvent, MetaStatus, StatusOutcome, TicketStatus, Timestamp};

use super::ingest::identity_state;
use crate::error::StoreError;
use crate::model::{AttemptOutcome, Channel, Enqueued, Lease, NewOutbound, OutboundAccepted, OutboxJob, SendClaim, SendError};

pub(crate) fn event(
    tx: &Connection,
    ticket_id: i64,
    at: Timestamp,
    actor: &str,
    kind: &str,
    data: serde_json::Value,
) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT INTO ticket_events (ticket_id, at, actor, kind, data) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(params![
        ticket_id,
        at.unix_millis(),
        actor,
        kind,
        data.to_string()
    ])?;
    Ok(())
}

/// A state change checked by the core state machine.
pub(crate) fn transition(from: Option<String>, event: LocalEvent) -> Result<DeliveryState, StoreError> {
    let from = from
        .as_deref()
        .and_then(DeliveryState::parse)
        .ok_or_else(|| StoreError::Corrupt("outbound message without a delivery state".into()))?;
    from.on(event).map_err(|e| StoreError::Conflict(e.to_string()))
}

/// Commits many replies in one durable transaction (group commit, as for ingest): one fsync for a
/// batch instead of one per reply. Each reply runs in a savepoint, so a bad one fails alone.
pub(crate) fn enqueue_batch(conn: &mut Connection, batch: &[NewOutbound]) -> Result<Vec<Result<Enqueued, StoreError>>, StoreError> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for msg in batch {
        let sp = tx.savepoint()?;
        match enqueue_in(&sp, msg) {
            Ok(queued) => {
                sp.commit()?;
                results.push(Ok(queued));
            }
            Err(e) => {
                drop(sp); // rolls back this reply only
                results.push(Err(e));
            }
        }
    }
    tx.commit()?;
    Ok(results)
}

pub(crate) fn enqueue_in(tx: &Connection, msg: &NewOutbound) -> Result<Enqueued, StoreError> {
    let row = tx
        .prepare_cached(
            "SELECT t.business_number_id, t.identity_id, t.status, COALESCE(i.wa_id, i.bsuid, i.identity_key)
             FROM tickets t JOIN identities i ON i.id = t.identity_id WHERE t.id = ?1",
        )?
        .query_row(params![msg.ticket_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {} does not exist", msg.ticket_id)))?;
    let (bn, identity_id, status, recipient) = row;
    if let Some(key) = &msg.dedupe_key {
        let found: Option<(i64, i64)> = tx
            .prepare_cached("SELECT m.id, o.id FROM messages m JOIN outbox o ON o.message_id = m.id WHERE m.dedupe_key = ?1")?
            .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((message_id, outbox_id)) = found {
            return Ok(Enqueued { message_id, outbox_id });
        }
    }
    if status == TicketStatus::Closed.as_str() {
        return Err(StoreError::Conflict(format!("ticket {} is closed; closed tickets are read-only", msg.ticket_id)));
    }
    let now = msg.now.unix_millis();
    let mut state = DeliveryState::Draft.on(LocalEvent::Enqueue).map_err(|e| StoreError::Conflict(e.to_string()))?;
    if msg.hold_until.is_some() {
        state = state.on(LocalEvent::Hold).map_err(|e| StoreError::Conflict(e.to_string()))?;
    }
    let outbox_state = if msg.hold_until.is_some() { "held" } else { "queued" };
    let media = msg.media.as_ref();
    if let Some(m) = media {
        tx.prepare_cached("INSERT INTO media_files (sha256, mime_type, size, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")?
            .execute(params![m.sha256, m.mime_type, m.size, now])?;
    }
    tx.prepare_cached(
        "INSERT INTO messages (ticket_id, business_number_id, identity_id, direction, kind, body, sent_at, received_at, delivery_state,
                               delivery_updated_at, author, dedupe_key, media_sha256, mime_type, filename, reply_to_wamid)
         VALUES (?1, ?2, ?3, 'outbound', ?4, ?5, ?6, ?6, ?7, ?6, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        msg.ticket_id,
        bn,
        identity_id,
        msg.kind,
        msg.body,
        now,
        state.as_str(),
        msg.author,
        msg.dedupe_key,
        media.map(|m| &m.sha256),
        media.map(|m| &m.mime_type),
        media.and_then(|m| m.filename.as_ref()),
        msg.reply_to_wamid
    ])?;
    let message_id = tx.last_insert_rowid();
    tx.prepare_cached(
        "INSERT INTO outbox (message_id, business_number_id, recipient, request, free_form, window_end, state, next_attempt_at, created_at,
                             channel, hold_expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10)",
    )?
    .execute(params![
        message_id,
        bn,
        recipient,
        msg.request,
        i64::from(msg.free_form),
        msg.window_end.map(Timestamp::unix_millis),
        outbox_state,
        now,
        msg.channel.as_str(),
        msg.hold_until.map(Timestamp::unix_millis)
    ])?;
    let outbox_id = tx.last_insert_rowid();
    if let Some(e) = &msg.estimate {
        tx.prepare_cached(
            "INSERT INTO message_costs (message_id, business_number_id, ticket_id, contact_id, author, channel, at, recipient,
                                        category, market, currency, estimate_micros, free_because, card)
             SELECT ?1, t.business_number_id, t.id, t.requester_id, ?2, ?3, ?4, i.wa_id, ?5, ?6, ?7, ?8, ?9, ?10
               FROM tickets t JOIN identities i ON i.id = t.identity_id WHERE t.id = ?11",
        )?
        .execute(params![
            message_id,
            msg.author,
            msg.channel.as_str(),
            now,
            e.category,
            e.market,
            e.currency,
            e.micros,
            e.free_because,
            e.card,
            msg.ticket_id
        ])?;
    }
    if let Some((original, resolution)) = msg.replaces {
        super::fallback::resolve(tx, original, msg.ticket_id, resolution, Some(message_id), &msg.author, msg.now)?;
    }
    // T1: `new` means no agent reply yet; the first reply makes the ticket open.
    tx.prepare_cached("UPDATE tickets SET updated_at = ?1, status = CASE WHEN status = 'new' THEN 'open' ELSE status END WHERE id = ?2")?
        .execute(params![now, msg.ticket_id])?;
    if status == TicketStatus::New.as_str() {
        event(
            tx,
            msg.ticket_id,
            msg.now,
            &msg.author,
            "status_changed",
            serde_json::json!({"from": "new", "to": "open", "reason": "first reply"}),
        )?;
    }
    let (kind, data) = match msg.hold_until {
        Some(until) => ("reply_held", serde_json::json!({"message_id": message_id, "kind": msg.kind, "expires_at": until.unix_millis()})),
        None => ("reply_queued", serde_json::json!({"message_id": message_id, "kind": msg.kind, "channel": msg.channel.as_str()})),
    };
    event(tx, msg.ticket_id, msg.now, &msg.author, kind, data)?;
    Ok(Enqueued { message_id, outbox_id })
}

/// Claims the due replies of the numbers whose `send:` lease `claim.worker` holds, deadline first (see
/// [`crate::OutboxStore::claim_due`]). The index is named: without statistics SQLite would sort every
/// due row instead of walking it.
pub(crate) fn claim_due(conn: &mut Connection, now: Timestamp, limit: u32, claim: &SendClaim) -> Result<Vec<OutboxJob>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut generations = std::collections::HashMap::new();
    for &(bn, generation) in &claim.numbers {
        let held: Option<i64> = tx
            .prepare_cached("SELECT generation FROM leases WHERE name = ?1 AND owner = ?2")?
            .query_row(params![Lease::send_name(bn), claim.worker], |r| r.get(0))
            .optional()?;
        if held == Some(generation) {
            generations.insert(bn, generation);
        }
    }
    if generations.is_empty() {
        return Ok(Vec::new());
    }
    let numbers = generations.keys().map(i64::to_string).collect::<Vec<_>>().join(",");
    let due: Vec<(OutboxJob, Option<String>)> = tx
        .prepare_cached(&format!(
            "SELECT o.id, o.message_id, m.ticket_id, o.business_number_id, o.recipient, o.request, o.free_form, o.window_end, o.attempts,
                    m.delivery_state, o.channel
             FROM outbox o INDEXED BY outbox_deadline JOIN messages m ON m.id = o.message_id
             WHERE o.state = 'queued' AND o.next_attempt_at <= ?1 AND o.business_number_id IN ({numbers})
             ORDER BY COALESCE(o.window_end, 9223372036854775807), o.id LIMIT ?2"
        ))?
        .query_map(params![now.unix_millis(), limit], |r| {
            let business_number_id: i64 = r.get(3)?;
            let job = OutboxJob {
                outbox_id: r.get(0)?,
                message_id: r.get(1)?,
                ticket_id: r.get(2)?,
                business_number_id,
                recipient: r.get(4)?,
                request: r.get(5)?,
                free_form: r.get::<_, i64>(6)? != 0,
                window_end: r.get::<_, Option<i64>>(7)?.map(Timestamp::from_unix_millis),
                attempt: r.get::<_, i64>(8)? + 1,
                channel: Channel::parse(&r.get::<_, String>(10)?),
                claim_generation: generations.get(&business_number_id).copied().unwrap_or_default(),
            };
            Ok((job, r.get::<_, Option<String>>(9)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut jobs = Vec::with_capacity(due.len());
    for (job, state) in due {
        let next = transition(state, LocalEvent::Claim)?;
        tx.prepare_cached(
            "UPDATE outbox SET state = 'sending', attempts = ?1, claimed_at = ?2, claimed_by = ?3, claim_generation = ?4 WHERE id = ?5",
        )?
        .execute(params![job.attempt, now.unix_millis(), claim.worker, job.claim_generation, job.outbox_id])?;
        tx.prepare_cached("UPDATE messages SET delivery_state = ?1, delivery_updated_at = ?2 WHERE id = ?3")?.execute(params![
            next.as_str(),
            now.unix_millis(),
            job.message_id
        ])?;
        jobs.push(job);
    }
    tx.commit()?;
    Ok(jobs)
}

/// The attempt's row, written when its request left (`start_attempts`); an attempt that ended before
/// sending (window closed, number gone) gets its row here.
fn record_attempt(tx: &Connection, job: &OutboxJob, outcome: &str, error: Option<&SendError>, now: Timestamp) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT INTO send_attempts (outbox_id, attempt, started_at) SELECT ?1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM send_attempts WHERE outbox_id = ?1 AND attempt = ?2)")?
        .execute(params![job.outbox_id, job.attempt, now.unix_millis()])?;
    tx.prepare_cached(
        "UPDATE send_attempts SET finished_at = ?1, outcome = ?2, http_status = ?3, error_code = ?4, error_title = ?5, error_details = ?6
         WHERE outbox_id = ?7 AND attempt = ?8",
    )?
    .execute(params![
        now.unix_millis(),
        outcome,
        error.and_then(|e| e.http_status),
        error.and_then(|e| e.code),
        error.map(|e| e.title.as_str()),
        error.and_then(|e| e.details.as_deref()),
        job.outbox_id,
        job.attempt
    ])?;
    Ok(())
}

pub(crate) fn finish_attempt(conn: &mut Connection, job: &OutboxJob, outcome: &AttemptOutcome, now: Timestamp) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    finish_in(&tx, job, outcome, now)?;
    tx.commit()?;
    Ok(())
}

/// Records many outcomes in one durable transaction (group commit, as for ingest): one fsync for a
/// batch instead of one per message. Each outcome runs in a savepoint, so a stale job fails alone.
pub(crate) fn finish_attempts(
    conn: &mut Connection,
    items: &[(OutboxJob, AttemptOutcome)],
    now: Timestamp,
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(items.len());
    for (job, outcome) in items {
        let sp = tx.savepoint()?;
        match finish_in(&sp, job, outcome, now) {
            Ok(()) => {
                sp.commit()?;
                results.push(Ok(()));
            }
            Err(e) => {
                drop(sp); // rolls back this outcome only
                results.push(Err(e));
            }
        }
    }
    tx.commit()?;
    Ok(results)
}

fn finish_in(tx: &Connection, job: &OutboxJob, outcome: &AttemptOutcome, now: Timestamp) -> Result<(), StoreError> {
    // Only the claim that is still current may finish: a recovered and re-claimed job has moved on.
    let (next_outbox_state, next_attempt_at) = match outcome {
        AttemptOutcome::Retry { next_attempt_at, .. } => ("queued", next_attempt_at.unix_millis()),
        _ => ("done", now.unix_millis()),
    };
    let updated = tx
        .prepare_cached(
            "UPDATE outbox SET state = ?1, next_attempt_at = ?2 WHERE id = ?3 AND state = 'sending' AND attempts = ?4 AND claim_generation = ?5",
        )?
        .execute(params![next_outbox_state, next_attempt_at, job.outbox_id, job.attempt, job.claim_generation])?;
    if updated != 1 {
        return Err(StoreError::Conflict(format!("outbox row {} attempt {} is no longer claimed", job.outbox_id, job.attempt)));
    }
    let state: Option<String> = tx.query_row("SELECT delivery_state FROM messages WHERE id = ?1", params![job.message_id], |r| r.get(0))?;
    match outcome {
        AttemptOutcome::Accepted { wamid } => {
            transition(state, LocalEvent::Accepted)?;
            record_attempt(tx, job, "accepted", None, now)?;
            accept_message(tx, job.message_id, wamid, now)?;
            event(tx, job.ticket_id, now, "system", "message_sent", serde_json::json!({"message_id": job.message_id, "wamid": wamid}))?;
        }
        AttemptOutcome::Retry { error, next_attempt_at } => {
            let next = transition(state, LocalEvent::RetryLater)?;
            record_attempt(tx, job, "retry", Some(error), now)?;
            set_state(tx, job.message_id, next, Some(error), now)?;
            event(
                tx,
                job.ticket_id,
                now,
                "system",
                "send_retry",
                serde_json::json!({"message_id": job.message_id, "attempt": job.attempt, "error": error, "next_attempt_at": next_attempt_at}),
            )?;
        }
        AttemptOutcome::Failed { error } => {
            let next = transition(state, LocalEvent::Failed)?;
            record_attempt(tx, job, "failed", Some(error), now)?;
            set_state(tx, job.message_id, next, Some(error), now)?;
            event(tx, job.ticket_id, now, "system", "delivery_failed", serde_json::json!({"message_id": job.message_id, "error": error}))?;
        }
        AttemptOutcome::Blocked => {
            let next = transition(state, LocalEvent::WindowClosed)?;
            let error = SendError { http_status: None, code: None, title: "window closed".into(), details: None };
            record_attempt(tx, job, "blocked", Some(&error), now)?;
            set_state(tx, job.message_id, next, Some(&error), now)?;
            event(
                tx,
                job.ticket_id,
                now,
                "system",
                "delivery_blocked",
                serde_json::json!({"message_id": job.message_id, "window_end": job.window_end}),
            )?;
        }
    }
    Ok(())
}

fn set_state(tx: &Connection, message_id: i64, state: DeliveryState, error: Option<&SendError>, now: Timestamp) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE messages SET delivery_state = ?1, delivery_updated_at = ?2, error_code = ?3, error_title = ?4, error_details = ?5 WHERE id = ?6",
    )?
    .execute(params![
        state.as_str(),
        now.unix_millis(),
        error.and_then(|e| e.code),
        error.map(|e| e.title.as_str()),
        error.and_then(|e| e.details.as_deref()),
        message_id
    ])?;
    Ok(())
}

/// Meta accepted the message under `wamid`: record it, start a FEP when one is due (W6), and apply
/// statuses that arrived before we knew the wamid (D1).
fn accept_message(tx: &Connection, message_id: i64, wamid: &str, at: Timestamp) -> Result<(), StoreError> {
    let (bn, identity_id): (i64, i64) =
        tx.query_row("SELECT business_number_id, identity_id FROM messages WHERE id = ?1", params![message_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    tx.execute(
        "UPDATE messages SET wamid = ?1, delivery_state = 'accepted', delivery_updated_at = ?2, went_out_at = ?2, error_code = NULL,
                error_title = NULL, error_details = NULL
         WHERE id = ?3",
        params![wamid, at.unix_millis(), message_id],
    )?;
    let key: String = tx.query_row("SELECT identity_key FROM identities WHERE id = ?1", params![identity_id], |r| r.get(0))?;
    if let Some(mut ident) = identity_state(tx, bn, &key)? {
        if ident.window.record_business_send(WindowPolicy::WHATSAPP, at).is_some() {
            tx.execute("UPDATE identities SET fep_started_at = ?1 WHERE id = ?2", params![at.unix_millis(), identity_id])?;
        }
    }
    let pending: Vec<(i64, String, i64, Option<String>)> = tx
        .prepare_cached(
            "SELECT id, status, at, errors FROM status_events WHERE business_number_id = ?1 AND wamid = ?2 AND applied = 0 ORDER BY at",
        )?
        .query_map(params![bn, wamid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut state = DeliveryState::Accepted;
    for (status_id, status, status_at, errors) in pending {
        if let Some(st) = MetaStatus::parse(&status) {
            if let StatusOutcome::Advance(next) = apply_meta_status(state, st) {
                state = next;
                let early = crate::ingest::EarlyStatus::new(wamid, &status, errors.as_deref());
                tx.execute(
                    "UPDATE messages SET delivery_state = ?1, delivery_updated_at = ?2, error_code = COALESCE(?3, error_code),
                            error_title = COALESCE(?4, error_title), error_details = COALESCE(?5, error_details)
                     WHERE id = ?6",
                    params![next.as_str(), status_at, early.error_code, early.error_title, early.error_details, message_id],
                )?;
                tx.execute("UPDATE status_events SET applied = 1 WHERE id = ?1", params![status_id])?;
                tx.execute(
                    "INSERT INTO ticket_events (ticket_id, at, actor, kind, data)
                     SELECT ticket_id, ?1, 'meta', 'delivery_status', ?2 FROM messages WHERE id = ?3 AND ticket_id IS NOT NULL",
                    params![status_at, early.event_data, message_id],
                )?;
            }
        }
    }
    Ok(())
}

/// An outbound message accepted elsewhere (tests, imports): inserted and accepted in one go.
pub(crate) fn record_outbound(conn: &mut Connection, msg: &OutboundAccepted) -> Result<i64, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (bn, identity_id): (i64, i64) = tx
        .query_row("SELECT business_number_id, identity_id FROM tickets WHERE id = ?1", params![msg.ticket_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {} does not exist", msg.ticket_id)))?;
    let at = msg.accepted_at.unix_millis();
    tx.execute(
        "INSERT INTO messages (ticket_id, business_number_id, identity_id, direction, kind, body, sent_at, received_at, delivery_state, delivery_updated_at)
         VALUES (?1, ?2, ?3, 'outbound', ?4, ?5, ?6, ?6, 'sending', ?6)",
        params![msg.ticket_id, bn, identity_id, msg.kind, msg.body, at],
    )?;
    let id = tx.last_insert_rowid();
    accept_message(&tx, id, &msg.wamid, msg.accepted_at)?;
    tx.commit()?;
    Ok(id)
}

pub(crate) fn next_due(conn: &Connection) -> Result<Option<Timestamp>, StoreError> {
    let at: Option<i64> = conn.query_row("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'queued'", [], |r| r.get(0))?;
    Ok(at.map(Timestamp::from_unix_millis))
}
