//! The outbox on PostgreSQL. Several instances claim from it at once: `FOR UPDATE SKIP LOCKED` hands
//! each row to exactly one of them, and no row lock is held across the network call.

use sqlx::{Acquire, PgConnection, PgPool, Row};
use windowdesk_core::delivery::apply_meta_status;
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{CustomerWindow, DeliveryState, LocalEvent, MetaStatus, StatusOutcome, TicketStatus, Timestamp};

use crate::error::StoreError;
use crate::model::{AttemptOutcome, Channel, Enqueued, NewOutbound, OutboundAccepted, OutboxJob, SendError};

pub(crate) async fn event(
    tx: &mut PgConnection,
    ticket_id: i64,
    at: Timestamp,
    actor: &str,
    kind: &str,
    data: serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO ticket_events (ticket_id, at, actor, kind, data) VALUES ($1, $2, $3, $4, $5)")
        .bind(ticket_id)
        .bind(at.unix_millis())
        .bind(actor)
        .bind(kind)
        .bind(data.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub(crate) fn transition(from: Option<String>, event: LocalEvent) -> Result<DeliveryState, StoreError> {
    let from = from
        .as_deref()
        .and_then(DeliveryState::parse)
        .ok_or_else(|| StoreError::Corrupt("outbound message without a delivery state".into()))?;
    from.on(event).map_err(|e| StoreError::Conflict(e.to_string()))
}

pub(crate) async fn enqueue(pool: &PgPool, msg: &NewOutbound) -> Result<Enqueued, StoreError> {
    let mut attempt = 0;
    loop {
        match enqueue_once(pool, msg).await {
            Err(e) if e.is_retryable() && attempt < 5 => attempt += 1,
            other => return other,
        }
    }
}

async fn enqueue_once(pool: &PgPool, msg: &NewOutbound) -> Result<Enqueued, StoreError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query(
        "SELECT t.business_number_id, t.identity_id, t.status, COALESCE(i.wa_id, i.bsuid, i.identity_key)
         FROM tickets t JOIN identities i ON i.id = t.identity_id WHERE t.id = $1 FOR NO KEY UPDATE OF t",
    )
    .bind(msg.ticket_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("ticket {} does not exist", msg.ticket_id)))?;
    let (bn, identity_id, status, recipient): (i64, i64, String, String) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
    if status == TicketStatus::Closed.as_str() {
        return Err(StoreError::Conflict(format!("ticket {} is closed; closed tickets are read-only", msg.ticket_id)));
    }
    let now = msg.now.unix_millis();
    let mut state = DeliveryState::Draft.on(LocalEvent::Enqueue).map_err(|e| StoreError::Conflict(e.to_string()))?;
    if msg.hold_until.is_some() {
        state = state.on(LocalEvent::Hold).map_err(|e| StoreError::Conflict(e.to_string()))?;
    }
    let outbox_state = if msg.hold_until.is_some() { "held" } else { "queued" };
    let message_id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (ticket_id, business_number_id, identity_id, direction, kind, body, sent_at, received_at, delivery_state,
                               delivery_updated_at, author)
         VALUES ($1, $2, $3, 'outbound', $4, $5, $6, $6, $7, $6, $8) RETURNING id",
    )
    .bind(msg.ticket_id)
    .bind(bn)
    .bind(identity_id)
    .bind(&msg.kind)
    .bind(&msg.body)
    .bind(now)
    .bind(state.as_str())
    .bind(&msg.author)
    .fetch_one(&mut *tx)
    .await?;
    let outbox_id: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (message_id, business_number_id, recipient, request, free_form, window_end, state, next_attempt_at, created_at,
                             channel, hold_expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10) RETURNING id",
    )
    .bind(message_id)
    .bind(bn)
    .bind(&recipient)
    .bind(&msg.request)
    .bind(i64::from(msg.free_form))
    .bind(msg.window_end.map(Timestamp::unix_millis))
    .bind(outbox_state)
    .bind(now)
    .bind(msg.channel.as_str())
    .bind(msg.hold_until.map(Timestamp::unix_millis))
    .fetch_one(&mut *tx)
    .await?;
    if let Some((original, resolution)) = msg.replaces {
        super::fallback::resolve(&mut tx, original, msg.ticket_id, resolution, Some(message_id), &msg.author, msg.now).await?;
    }
    sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2").bind(now).bind(msg.ticket_id).execute(&mut *tx).await?;
    // T1: `new` means no agent reply yet; the first reply makes the ticket open.
    if status == TicketStatus::New.as_str() {
        sqlx::query("UPDATE tickets SET status = 'open' WHERE id = $1").bind(msg.ticket_id).execute(&mut *tx).await?;
        let data = serde_json::json!({"from": "new", "to": "open", "reason": "first reply"});
        event(&mut tx, msg.ticket_id, msg.now, &msg.author, "status_changed", data).await?;
    }
    let (kind, data) = match msg.hold_until {
        Some(until) => ("reply_held", serde_json::json!({"message_id": message_id, "kind": msg.kind, "expires_at": until.unix_millis()})),
        None => ("reply_queued", serde_json::json!({"message_id": message_id, "kind": msg.kind, "channel": msg.channel.as_str()})),
    };
    event(&mut tx, msg.ticket_id, msg.now, &msg.author, kind, data).await?;
    tx.commit().await?;
    Ok(Enqueued { message_id, outbox_id })
}

pub(crate) async fn claim_due(pool: &PgPool, now: Timestamp, limit: u32, worker: &str) -> Result<Vec<OutboxJob>, StoreError> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(
        "WITH due AS (
             SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= $1
             ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
         ), claimed AS (
             UPDATE outbox o SET state = 'sending', attempts = o.attempts + 1, claimed_at = $1, claimed_by = $3
             FROM due WHERE o.id = due.id
             RETURNING o.id, o.message_id, o.business_number_id, o.recipient, o.request, o.free_form, o.window_end, o.attempts, o.channel
         )
         SELECT c.id, c.message_id, m.ticket_id, c.business_number_id, c.recipient, c.request, c.free_form, c.window_end, c.attempts, m.delivery_state,
                c.channel
         FROM claimed c JOIN messages m ON m.id = c.message_id ORDER BY c.id",
    )
    .bind(now.unix_millis())
    .bind(i64::from(limit))
    .bind(worker)
    .fetch_all(&mut *tx)
    .await?;
    let mut jobs = Vec::with_capacity(rows.len());
    for r in rows {
        let job = OutboxJob {
            outbox_id: r.try_get(0)?,
            message_id: r.try_get(1)?,
            ticket_id: r.try_get(2)?,
            business_number_id: r.try_get(3)?,
            recipient: r.try_get(4)?,
            request: r.try_get(5)?,
            free_form: r.try_get::<i64, _>(6)? != 0,
            window_end: r.try_get::<Option<i64>, _>(7)?.map(Timestamp::from_unix_millis),
            attempt: r.try_get(8)?,
            channel: Channel::parse(r.try_get::<&str, _>(10)?),
        };
        let next = transition(r.try_get(9)?, LocalEvent::Claim)?;
        sqlx::query("UPDATE messages SET delivery_state = $1, delivery_updated_at = $2 WHERE id = $3")
            .bind(next.as_str())
            .bind(now.unix_millis())
            .bind(job.message_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO send_attempts (outbox_id, attempt, started_at) VALUES ($1, $2, $3)")
            .bind(job.outbox_id)
            .bind(job.attempt)
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await?;
        jobs.push(job);
    }
    tx.commit().await?;
    Ok(jobs)
}

async fn record_attempt(
    tx: &mut PgConnection,
    job: &OutboxJob,
    outcome: &str,
    error: Option<&SendError>,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE send_attempts SET finished_at = $1, outcome = $2, http_status = $3, error_code = $4, error_title = $5, error_details = $6
         WHERE outbox_id = $7 AND attempt = $8",
    )
    .bind(now.unix_millis())
    .bind(outcome)
    .bind(error.and_then(|e| e.http_status))
    .bind(error.and_then(|e| e.code))
    .bind(error.map(|e| e.title.clone()))
    .bind(error.and_then(|e| e.details.clone()))
    .bind(job.outbox_id)
    .bind(job.attempt)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn set_state(
    tx: &mut PgConnection,
    message_id: i64,
    state: DeliveryState,
    error: Option<&SendError>,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE messages SET delivery_state = $1, delivery_updated_at = $2, error_code = $3, error_title = $4, error_details = $5 WHERE id = $6",
    )
    .bind(state.as_str())
    .bind(now.unix_millis())
    .bind(error.and_then(|e| e.code))
    .bind(error.map(|e| e.title.clone()))
    .bind(error.and_then(|e| e.details.clone()))
    .bind(message_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(crate) async fn finish_attempt(pool: &PgPool, job: &OutboxJob, outcome: &AttemptOutcome, now: Timestamp) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        match finish_attempt_once(pool, job, outcome, now).await {
            Err(e) if e.is_retryable() && attempt < 5 => attempt += 1,
            other => return other,
        }
    }
}

async fn finish_attempt_once(pool: &PgPool, job: &OutboxJob, outcome: &AttemptOutcome, now: Timestamp) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    lock_for_outcomes(&mut tx, std::slice::from_ref(&(job.clone(), outcome.clone()))).await?;
    finish_in(&mut tx, job, outcome, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Lock order shared with ingest: identity rows (sorted as ingest sorts them), then the wamid advisory
/// locks (sorted), then message rows.
async fn lock_for_outcomes(tx: &mut PgConnection, items: &[(OutboxJob, AttemptOutcome)]) -> Result<(), StoreError> {
    let ids: Vec<i64> = items.iter().map(|(j, _)| j.message_id).collect();
    sqlx::query(
        "SELECT i.id FROM identities i JOIN messages m ON m.identity_id = i.id WHERE m.id = ANY($1)
         ORDER BY i.business_number_id, i.identity_key FOR NO KEY UPDATE OF i",
    )
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    let (bns, wamids): (Vec<i64>, Vec<String>) = items
        .iter()
        .filter_map(|(j, o)| match o {
            AttemptOutcome::Accepted { wamid } => Some((j.business_number_id, wamid.clone())),
            _ => None,
        })
        .unzip();
    if !wamids.is_empty() {
        sqlx::query("SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT wamid_lock_key(b, w) AS k FROM UNNEST($1::bigint[], $2::text[]) AS x(b, w)) l ORDER BY k")
            .bind(&bns)
            .bind(&wamids)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Records many outcomes in one transaction (group commit); each in a savepoint, so a stale job fails
/// alone.
pub(crate) async fn finish_attempts(
    pool: &PgPool,
    items: &[(OutboxJob, AttemptOutcome)],
    now: Timestamp,
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut attempt = 0;
    loop {
        match finish_attempts_once(pool, items, now).await {
            Err(e) if e.is_retryable() && attempt < 5 => attempt += 1,
            other => return other,
        }
    }
}

async fn finish_attempts_once(
    pool: &PgPool,
    items: &[(OutboxJob, AttemptOutcome)],
    now: Timestamp,
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut tx = pool.begin().await?;
    lock_for_outcomes(&mut tx, items).await?;
    let mut results = Vec::with_capacity(items.len());
    for (job, outcome) in items {
        let mut sp = Acquire::begin(&mut *tx).await?;
        match finish_in(&mut sp, job, outcome, now).await {
            Ok(()) => {
                sp.commit().await?;
                results.push(Ok(()));
            }
            Err(e @ StoreError::Conflict(_)) => {
                sp.rollback().await?;
                results.push(Err(e));
            }
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    Ok(results)
}

async fn finish_in(tx: &mut PgConnection, job: &OutboxJob, outcome: &AttemptOutcome, now: Timestamp) -> Result<(), StoreError> {
    let (next_outbox_state, next_attempt_at) = match outcome {
        AttemptOutcome::Retry { next_attempt_at, .. } => ("queued", next_attempt_at.unix_millis()),
        _ => ("done", now.unix_millis()),
    };
    let updated = sqlx::query("UPDATE outbox SET state = $1, next_attempt_at = $2 WHERE id = $3 AND state = 'sending' AND attempts = $4")
        .bind(next_outbox_state)
        .bind(next_attempt_at)
        .bind(job.outbox_id)
        .bind(job.attempt)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() != 1 {
        return Err(StoreError::Conflict(format!("outbox row {} attempt {} is no longer claimed", job.outbox_id, job.attempt)));
    }
    let state: Option<String> = sqlx::query_scalar("SELECT delivery_state FROM messages WHERE id = $1 FOR NO KEY UPDATE")
        .bind(job.message_id)
        .fetch_one(&mut *tx)
        .await?;
    match outcome {
        AttemptOutcome::Accepted { wamid } => {
            transition(state, LocalEvent::Accepted)?;
            record_attempt(tx, job, "accepted", None, now).await?;
            accept_message(tx, job.message_id, wamid, now).await?;
            event(tx, job.ticket_id, now, "system", "message_sent", serde_json::json!({"message_id": job.message_id, "wamid": wamid}))
                .await?;
        }
        AttemptOutcome::Retry { error, next_attempt_at } => {
            let next = transition(state, LocalEvent::RetryLater)?;
            record_attempt(tx, job, "retry", Some(error), now).await?;
            set_state(tx, job.message_id, next, Some(error), now).await?;
            let data = serde_json::json!({"message_id": job.message_id, "attempt": job.attempt, "error": error, "next_attempt_at": next_attempt_at});
            event(tx, job.ticket_id, now, "system", "send_retry", data).await?;
        }
        AttemptOutcome::Failed { error } => {
            let next = transition(state, LocalEvent::Failed)?;
            record_attempt(tx, job, "failed", Some(error), now).await?;
            set_state(tx, job.message_id, next, Some(error), now).await?;
            event(tx, job.ticket_id, now, "system", "delivery_failed", serde_json::json!({"message_id": job.message_id, "error": error}))
                .await?;
        }
        AttemptOutcome::Blocked => {
            let next = transition(state, LocalEvent::WindowClosed)?;
            let error = SendError { http_status: None, code: None, title: "window closed".into(), details: None };
            record_attempt(tx, job, "blocked", Some(&error), now).await?;
            set_state(tx, job.message_id, next, Some(&error), now).await?;
            let data = serde_json::json!({"message_id": job.message_id, "window_end": job.window_end});
            event(tx, job.ticket_id, now, "system", "delivery_blocked", data).await?;
        }
    }
    Ok(())
}

/// Meta accepted the message under `wamid`: record it, start a FEP when one is due (W6), and apply
/// statuses that arrived before we knew the wamid (D1).
async fn accept_message(tx: &mut PgConnection, message_id: i64, wamid: &str, at: Timestamp) -> Result<(), StoreError> {
    let row =
        sqlx::query("SELECT business_number_id, identity_id FROM messages WHERE id = $1").bind(message_id).fetch_one(&mut *tx).await?;
    let (bn, identity_id): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    sqlx::query(
        "UPDATE messages SET wamid = $1, delivery_state = 'accepted', delivery_updated_at = $2, error_code = NULL, error_title = NULL,
                error_details = NULL WHERE id = $3",
    )
    .bind(wamid)
    .bind(at.unix_millis())
    .bind(message_id)
    .execute(&mut *tx)
    .await?;
    let w = sqlx::query("SELECT last_inbound_at, referral_at, fep_started_at FROM identities WHERE id = $1 FOR NO KEY UPDATE")
        .bind(identity_id)
        .fetch_one(&mut *tx)
        .await?;
    let opt = |v: Option<i64>| v.map(Timestamp::from_unix_millis);
    let mut window =
        CustomerWindow { last_inbound_at: opt(w.try_get(0)?), referral_at: opt(w.try_get(1)?), fep_started_at: opt(w.try_get(2)?) };
    if window.record_business_send(WindowPolicy::WHATSAPP, at).is_some() {
        sqlx::query("UPDATE identities SET fep_started_at = $1 WHERE id = $2")
            .bind(at.unix_millis())
            .bind(identity_id)
            .execute(&mut *tx)
            .await?;
    }
    let pending =
        sqlx::query("SELECT id, status, at FROM status_events WHERE business_number_id = $1 AND wamid = $2 AND applied = 0 ORDER BY at")
            .bind(bn)
            .bind(wamid)
            .fetch_all(&mut *tx)
            .await?;
    let mut state = DeliveryState::Accepted;
    for r in pending {
        let (status_id, status, status_at): (i64, String, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        if let Some(st) = MetaStatus::parse(&status) {
            if let StatusOutcome::Advance(next) = apply_meta_status(state, st) {
                state = next;
                sqlx::query("UPDATE messages SET delivery_state = $1, delivery_updated_at = $2 WHERE id = $3")
                    .bind(next.as_str())
                    .bind(status_at)
                    .bind(message_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE status_events SET applied = 1 WHERE id = $1").bind(status_id).execute(&mut *tx).await?;
            }
        }
    }
    Ok(())
}

/// An outbound message accepted elsewhere (tests, imports): inserted and accepted in one go.
pub(crate) async fn record_outbound(pool: &PgPool, msg: &OutboundAccepted) -> Result<i64, StoreError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query("SELECT business_number_id, identity_id FROM tickets WHERE id = $1")
        .bind(msg.ticket_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {} does not exist", msg.ticket_id)))?;
    let (bn, identity_id): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    sqlx::query("SELECT id FROM identities WHERE id = $1 FOR NO KEY UPDATE").bind(identity_id).execute(&mut *tx).await?;
    sqlx::query("SELECT pg_advisory_xact_lock(wamid_lock_key($1, $2))").bind(bn).bind(&msg.wamid).execute(&mut *tx).await?;
    let at = msg.accepted_at.unix_millis();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (ticket_id, business_number_id, identity_id, direction, kind, body, sent_at, received_at, delivery_state, delivery_updated_at)
         VALUES ($1, $2, $3, 'outbound', $4, $5, $6, $6, 'sending', $6) RETURNING id",
    )
    .bind(msg.ticket_id)
    .bind(bn)
    .bind(identity_id)
    .bind(&msg.kind)
    .bind(&msg.body)
    .bind(at)
    .fetch_one(&mut *tx)
    .await?;
    accept_message(&mut tx, id, &msg.wamid, msg.accepted_at).await?;
    tx.commit().await?;
    Ok(id)
}

pub(crate) async fn recover_interrupted(pool: &PgPool, claimed_before: Timestamp, now: Timestamp) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let stuck = sqlx::query(
        "SELECT o.id, o.message_id, o.attempts, m.ticket_id FROM outbox o JOIN messages m ON m.id = o.message_id
         WHERE o.state = 'sending' AND o.claimed_at < $1 ORDER BY o.id FOR UPDATE OF o SKIP LOCKED",
    )
    .bind(claimed_before.unix_millis())
    .fetch_all(&mut *tx)
    .await?;
    for r in &stuck {
        let (outbox_id, message_id, attempt, ticket_id): (i64, i64, i64, i64) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        sqlx::query("UPDATE outbox SET state = 'queued', next_attempt_at = $1 WHERE id = $2")
            .bind(now.unix_millis())
            .bind(outbox_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE send_attempts SET finished_at = $1, outcome = 'interrupted' WHERE outbox_id = $2 AND attempt = $3")
            .bind(now.unix_millis())
            .bind(outbox_id)
            .bind(attempt)
            .execute(&mut *tx)
            .await?;
        // The request may or may not have reached Meta; it goes again and the agent is told.
        sqlx::query("UPDATE messages SET delivery_state = 'queued', delivery_updated_at = $1, maybe_duplicate = 1 WHERE id = $2")
            .bind(now.unix_millis())
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
        let data = serde_json::json!({"message_id": message_id, "may_have_been_sent_twice": true});
        event(&mut tx, ticket_id, now, "system", "send_interrupted", data).await?;
    }
    tx.commit().await?;
    Ok(u64::try_from(stuck.len()).unwrap_or(0))
}

pub(crate) async fn next_due(pool: &PgPool) -> Result<Option<Timestamp>, StoreError> {
    let at: Option<i64> = sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'queued'").fetch_one(pool).await?;
    Ok(at.map(Timestamp::from_unix_millis))
}
