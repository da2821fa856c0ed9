//! The outbox on PostgreSQL. Several instances claim from it at once: `FOR UPDATE SKIP LOCKED` hands
//! each row to exactly one of them, and no row lock is held across the network call.

use sqlx::{Acquire, PgConnection, PgPool, Row};
use windowdesk_core::delivery::apply_meta_status;
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{CustomerWindow, DeliveryState, LocalEvent, MetaStatus, StatusOutcome, TicketStatus, Timestamp};

use crate::error::StoreError;
use crate::ingest::EarlyStatus;
use crate::model::{AttemptOutcome, Channel, Enqueued, NewOutbound, OutboundAccepted, OutboxJob, SendClaim, SendError};

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

/// One reply in one statement: the ticket's check and lock, the message, its outbox row, the ticket's
/// update (T1: `new` means no agent reply yet; the first reply makes the ticket open) and the events.
/// On its own it needs no explicit transaction (one round trip, one commit); in a batch it runs in a
/// savepoint. No row comes back for a missing ticket; a closed one comes back without ids.
const ENQUEUE: &str = "WITH t AS (
        SELECT t.business_number_id AS bn, t.identity_id, t.status, COALESCE(i.wa_id, i.bsuid, i.identity_key) AS recipient,
               t.requester_id, i.wa_id
        FROM tickets t JOIN identities i ON i.id = t.identity_id WHERE t.id = $1 FOR NO KEY UPDATE OF t
    ), f AS (
        INSERT INTO media_files (sha256, mime_type, size, created_at)
        SELECT $15::TEXT, $16::TEXT, $18::BIGINT, $4 WHERE $15::TEXT IS NOT NULL
        ON CONFLICT DO NOTHING
    ), m AS (
        INSERT INTO messages (ticket_id, business_number_id, identity_id, direction, kind, body, sent_at, received_at, delivery_state,
                              delivery_updated_at, author, dedupe_key, media_sha256, mime_type, filename, reply_to_wamid)
        SELECT $1, t.bn, t.identity_id, 'outbound', $2, $3, $4, $4, $5, $4, $6, $14, $15, $16, $17, $19 FROM t WHERE t.status <> 'closed'
        RETURNING id
    ), o AS (
        INSERT INTO outbox (message_id, business_number_id, recipient, request, free_form, window_end, state, next_attempt_at, created_at,
                            channel, hold_expires_at)
        SELECT m.id, t.bn, t.recipient, $7, $8, $9, $13, $4, $4, $11, $12 FROM m, t
        RETURNING id
    ), c AS (
        INSERT INTO message_costs (message_id, business_number_id, ticket_id, contact_id, author, channel, at, recipient,
                                   category, market, currency, estimate_micros, free_because, card)
        SELECT m.id, t.bn, $1, t.requester_id, $6, $11, $4, t.wa_id, $20::TEXT, $21::TEXT, $22::TEXT, $23::BIGINT, $24::TEXT, $25::TEXT
          FROM m, t WHERE $20::TEXT IS NOT NULL
    ), u AS (
        UPDATE tickets SET updated_at = $4, status = CASE WHEN tickets.status = 'new' THEN 'open' ELSE tickets.status END
        FROM m WHERE tickets.id = $1
    ), e AS (
        INSERT INTO ticket_events (ticket_id, at, actor, kind, data)
        SELECT $1, $4, $6, ev.kind, ev.data
        FROM m, t, LATERAL (VALUES
            (1, 'status_changed', $10, t.status = 'new'),
            (2, CASE WHEN $12::BIGINT IS NULL THEN 'reply_queued' ELSE 'reply_held' END,
             json_build_object('message_id', m.id, 'kind', $2::text, 'channel', $11::text, 'expires_at', $12::BIGINT)::text, true)
        ) AS ev (ord, kind, data, wanted)
        WHERE ev.wanted ORDER BY ev.ord
    )
    SELECT t.status, m.id, o.id FROM t LEFT JOIN m ON true LEFT JOIN o ON true";

pub(crate) async fn enqueue_in<'c, E: sqlx::PgExecutor<'c>>(conn: E, msg: &NewOutbound) -> Result<Enqueued, StoreError> {
    let mut state = DeliveryState::Draft.on(LocalEvent::Enqueue).map_err(|e| StoreError::Conflict(e.to_string()))?;
    if msg.hold_until.is_some() {
        state = state.on(LocalEvent::Hold).map_err(|e| StoreError::Conflict(e.to_string()))?;
    }
    let outbox_state = if msg.hold_until.is_some() { "held" } else { "queued" };
    let opened = serde_json::json!({"from": "new", "to": "open", "reason": "first reply"}).to_string();
    let row = sqlx::query(ENQUEUE)
        .bind(msg.ticket_id)
        .bind(&msg.kind)
        .bind(&msg.body)
        .bind(msg.now.unix_millis())
        .bind(state.as_str())
        .bind(&msg.author)
        .bind(&msg.request)
        .bind(i64::from(msg.free_form))
        .bind(msg.window_end.map(Timestamp::unix_millis))
        .bind(opened)
        .bind(msg.channel.as_str())
        .bind(msg.hold_until.map(Timestamp::unix_millis))
        .bind(outbox_state)
        .bind(&msg.dedupe_key)
        .bind(msg.media.as_ref().map(|m| &m.sha256))
        .bind(msg.media.as_ref().map(|m| &m.mime_type))
        .bind(msg.media.as_ref().and_then(|m| m.filename.as_ref()))
        .bind(msg.media.as_ref().map(|m| m.size))
        .bind(&msg.reply_to_wamid)
        .bind(msg.estimate.as_ref().map(|e| &e.category))
        .bind(msg.estimate.as_ref().and_then(|e| e.market.as_ref()))
        .bind(msg.estimate.as_ref().and_then(|e| e.currency.as_ref()))
        .bind(msg.estimate.as_ref().and_then(|e| e.micros))
        .bind(msg.estimate.as_ref().and_then(|e| e.free_because.as_ref()))
        .bind(msg.estimate.as_ref().and_then(|e| e.card.as_ref()))
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {} does not exist", msg.ticket_id)))?;
    let status: String = row.try_get(0)?;
    match (row.try_get::<Option<i64>, _>(1)?, row.try_get::<Option<i64>, _>(2)?) {
        (Some(message_id), Some(outbox_id)) => Ok(Enqueued { message_id, outbox_id }),
        _ if status == TicketStatus::Closed.as_str() => {
            Err(StoreError::Conflict(format!("ticket {} is closed; closed tickets are read-only", msg.ticket_id)))
        }
        _ => Err(StoreError::Corrupt(format!("reply on ticket {} was not stored", msg.ticket_id))),
    }
}

/// The message queued earlier with this dedupe key, if any.
pub(crate) async fn deduplicated<'c, E: sqlx::PgExecutor<'c>>(conn: E, key: &str) -> Result<Option<Enqueued>, StoreError> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT m.id, o.id FROM messages m JOIN outbox o ON o.message_id = m.id WHERE m.dedupe_key = $1")
            .bind(key)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(message_id, outbox_id)| Enqueued { message_id, outbox_id }))
}

/// Commits many replies in one transaction (group commit, as for ingest); a refused one (missing or
/// closed ticket) fails alone. Retried whole when it lost a race (deadlock, serialization).
pub(crate) async fn enqueue_batch(pool: &PgPool, batch: &[NewOutbound]) -> Result<Vec<Result<Enqueued, StoreError>>, StoreError> {
    let mut attempt = 0;
    loop {
        match enqueue_batch_once(pool, batch).await {
            Err(e) if e.is_retryable() && attempt < 5 => attempt += 1,
            other => return other,
        }
    }
}

/// A message that replaces a failed one (D4) commits with the original's resolution in a transaction
/// of its own: if the original was dealt with meanwhile, the replacement is not stored either.
pub(crate) async fn enqueue_replacing(pool: &PgPool, msg: &NewOutbound) -> Result<Enqueued, StoreError> {
    let Some((original, resolution)) = msg.replaces else {
        return Err(StoreError::Corrupt("enqueue_replacing without a message to replace".into()));
    };
    let mut tx = pool.begin().await?;
    let queued = enqueue_in(&mut *tx, msg).await?;
    super::fallback::resolve(&mut tx, original, msg.ticket_id, resolution, Some(queued.message_id), &msg.author, msg.now).await?;
    tx.commit().await?;
    Ok(queued)
}

async fn enqueue_batch_once(pool: &PgPool, batch: &[NewOutbound]) -> Result<Vec<Result<Enqueued, StoreError>>, StoreError> {
    if let [msg] = batch {
        // Alone: the statement is its own transaction.
        return match enqueue_in(pool, msg).await {
            Err(e) if e.is_retryable() => Err(e),
            result => Ok(vec![result]),
        };
    }
    let mut tx = pool.begin().await?;
    // Tickets are locked in id order (stable, so one ticket's replies keep theirs): two batches
    // never wait on each other in a cycle.
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&i| batch[i].ticket_id);
    let mut results: Vec<Option<Result<Enqueued, StoreError>>> = batch.iter().map(|_| None).collect();
    for i in order {
        // No savepoint per reply: a missing or closed ticket is answered by the statement without an
        // error, so it never aborts the transaction, and a savepoint would cost two round trips per
        // reply. A database error does abort it: the caller then commits the replies one by one.
        match enqueue_in(&mut *tx, &batch[i]).await {
            Err(e @ (StoreError::Postgres(_) | StoreError::Closed)) => return Err(e),
            result => results[i] = Some(result),
        }
    }
    tx.commit().await?;
    Ok(results.into_iter().map(|r| r.unwrap_or(Err(StoreError::Closed))).collect())
}

/// Claims in one statement, whatever the batch size: the outbox rows and their messages' state. The
/// number's lease rows are read `FOR SHARE` first, so a takeover waits for this claim (or this claim
/// sees the takeover and claims nothing for that number). The messages' states as they were come back
/// and are checked by the core state machine before the commit; a row that cannot be claimed rolls
/// the claim back. No attempt row yet: that is written when the request leaves (`start_attempts`).
pub(crate) async fn claim_due(pool: &PgPool, now: Timestamp, limit: u32, claim: &SendClaim) -> Result<Vec<OutboxJob>, StoreError> {
    let sending = DeliveryState::Queued.on(LocalEvent::Claim).map_err(|e| StoreError::Conflict(e.to_string()))?;
    let (numbers, generations): (Vec<i64>, Vec<i64>) = claim.numbers.iter().copied().unzip();
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(
        "WITH l AS (
             SELECT n.bn, n.generation FROM leases
             JOIN UNNEST($5::bigint[], $6::bigint[]) AS n (bn, generation) ON leases.name = 'send:' || n.bn AND leases.generation = n.generation
             WHERE leases.owner = $3 ORDER BY leases.name FOR SHARE OF leases
         ), due AS (
             SELECT id, COALESCE(window_end, 9223372036854775807) AS deadline FROM outbox
             WHERE state = 'queued' AND next_attempt_at <= $1 AND business_number_id IN (SELECT bn FROM l)
             ORDER BY COALESCE(window_end, 9223372036854775807), id LIMIT $2 FOR UPDATE SKIP LOCKED
         ), claimed AS (
             UPDATE outbox o SET state = 'sending', attempts = o.attempts + 1, claimed_at = $1, claimed_by = $3, claim_generation = l.generation
             FROM due, l WHERE o.id = due.id AND l.bn = o.business_number_id
             RETURNING o.id, o.message_id, o.business_number_id, o.recipient, o.request, o.free_form, o.window_end, o.attempts, o.channel,
                       due.deadline, o.claim_generation
         ), moved AS (
             UPDATE messages m SET delivery_state = $4, delivery_updated_at = $1 FROM claimed c WHERE m.id = c.message_id
         )
         SELECT c.id, c.message_id, m.ticket_id, c.business_number_id, c.recipient, c.request, c.free_form, c.window_end, c.attempts, m.delivery_state,
                c.channel, c.claim_generation
         FROM claimed c JOIN messages m ON m.id = c.message_id ORDER BY c.deadline, c.id",
    )
    .bind(now.unix_millis())
    .bind(i64::from(limit))
    .bind(&claim.worker)
    .bind(sending.as_str())
    .bind(&numbers)
    .bind(&generations)
    .fetch_all(&mut *tx)
    .await?;
    let mut jobs = Vec::with_capacity(rows.len());
    for r in rows {
        // The statement's snapshot: the state before this claim.
        transition(r.try_get(9)?, LocalEvent::Claim)?;
        jobs.push(OutboxJob {
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
            claim_generation: r.try_get(11)?,
        });
    }
    tx.commit().await?;
    Ok(jobs)
}

/// The attempt's row, written when its request left (`start_attempts`); an attempt that ended before
/// sending (window closed, number gone) gets its row here.
async fn record_attempt(
    tx: &mut PgConnection,
    job: &OutboxJob,
    outcome: &str,
    error: Option<&SendError>,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO send_attempts (outbox_id, attempt, started_at) SELECT $1, $2, $3
         WHERE NOT EXISTS (SELECT 1 FROM send_attempts WHERE outbox_id = $1 AND attempt = $2)",
    )
    .bind(job.outbox_id)
    .bind(job.attempt)
    .bind(now.unix_millis())
    .execute(&mut *tx)
    .await?;
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
    let mut results: Vec<Option<Result<(), StoreError>>> = items.iter().map(|_| None).collect();
    // Acceptances, nearly all of a batch, are recorded set-based; the rest one by one.
    let (accepted_at, accepted): (Vec<usize>, Vec<(&OutboxJob, &str)>) = items
        .iter()
        .enumerate()
        .filter_map(|(i, (job, outcome))| match outcome {
            AttemptOutcome::Accepted { wamid } => Some((i, (job, wamid.as_str()))),
            _ => None,
        })
        .unzip();
    if !accepted.is_empty() {
        let done = super::outcomes::finish_accepted(&mut tx, &accepted, now).await?;
        for (i, result) in accepted_at.into_iter().zip(done) {
            results[i] = Some(result);
        }
    }
    for (i, (job, outcome)) in items.iter().enumerate() {
        if results[i].is_some() {
            continue;
        }
        let mut sp = Acquire::begin(&mut *tx).await?;
        match finish_in(&mut sp, job, outcome, now).await {
            Ok(()) => {
                sp.commit().await?;
                results[i] = Some(Ok(()));
            }
            Err(e @ StoreError::Conflict(_)) => {
                sp.rollback().await?;
                results[i] = Some(Err(e));
            }
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    Ok(results.into_iter().map(|r| r.unwrap_or(Err(StoreError::Closed))).collect())
}

async fn finish_in(tx: &mut PgConnection, job: &OutboxJob, outcome: &AttemptOutcome, now: Timestamp) -> Result<(), StoreError> {
    let (next_outbox_state, next_attempt_at) = match outcome {
        AttemptOutcome::Retry { next_attempt_at, .. } => ("queued", next_attempt_at.unix_millis()),
        _ => ("done", now.unix_millis()),
    };
    let updated = sqlx::query(
        "UPDATE outbox SET state = $1, next_attempt_at = $2 WHERE id = $3 AND state = 'sending' AND attempts = $4 AND claim_generation = $5",
    )
    .bind(next_outbox_state)
    .bind(next_attempt_at)
    .bind(job.outbox_id)
    .bind(job.attempt)
    .bind(job.claim_generation)
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
        "UPDATE messages SET wamid = $1, delivery_state = 'accepted', delivery_updated_at = $2, went_out_at = $2, error_code = NULL,
                error_title = NULL, error_details = NULL WHERE id = $3",
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
    let pending = sqlx::query(
        "SELECT id, status, at, errors FROM status_events WHERE business_number_id = $1 AND wamid = $2 AND applied = 0 ORDER BY at",
    )
    .bind(bn)
    .bind(wamid)
    .fetch_all(&mut *tx)
    .await?;
    let mut state = DeliveryState::Accepted;
    for r in pending {
        let (status_id, status, status_at, errors): (i64, String, i64, Option<String>) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        let early = EarlyStatus::new(wamid, &status, errors.as_deref());
        apply_early_status(tx, &mut state, message_id, status_id, &status, status_at, &early).await?;
    }
    Ok(())
}

/// A status that arrived before its message was accepted, applied by precedence (D1) now that the
/// message is known.
pub(super) async fn apply_early_status(
    tx: &mut PgConnection,
    state: &mut DeliveryState,
    message_id: i64,
    status_id: i64,
    status: &str,
    status_at: i64,
    early: &EarlyStatus,
) -> Result<(), StoreError> {
    let Some(st) = MetaStatus::parse(status) else { return Ok(()) };
    if let StatusOutcome::Advance(next) = apply_meta_status(*state, st) {
        *state = next;
        sqlx::query(
            "UPDATE messages SET delivery_state = $1, delivery_updated_at = $2, error_code = COALESCE($3, error_code),
                    error_title = COALESCE($4, error_title), error_details = COALESCE($5, error_details)
             WHERE id = $6",
        )
        .bind(next.as_str())
        .bind(status_at)
        .bind(early.error_code)
        .bind(&early.error_title)
        .bind(&early.error_details)
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE status_events SET applied = 1 WHERE id = $1").bind(status_id).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO ticket_events (ticket_id, at, actor, kind, data)
             SELECT ticket_id, $1, 'meta', 'delivery_status', $2 FROM messages WHERE id = $3 AND ticket_id IS NOT NULL",
        )
        .bind(status_at)
        .bind(&early.event_data)
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
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

pub(crate) async fn next_due(pool: &PgPool) -> Result<Option<Timestamp>, StoreError> {
    let at: Option<i64> = sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'queued'").fetch_one(pool).await?;
    Ok(at.map(Timestamp::from_unix_millis))
}
