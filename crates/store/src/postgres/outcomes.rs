//! Accepted sends on PostgreSQL, recorded set-based: nearly every outcome is an acceptance, and
//! row-by-row they cost about ten round trips each. Here a batch costs three statements whatever its
//! size: one that reads and locks what the checks need, one that writes everything, one that looks for
//! statuses that arrived before their wamid was known (D1). The checks (still claimed? may the state
//! machine accept it?) run before anything is written, so a stale job fails alone without a savepoint.

use std::collections::HashMap;

use sqlx::{PgConnection, Row};
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{CustomerWindow, DeliveryState, LocalEvent, Timestamp};

use super::outbox::transition;
use crate::error::StoreError;
use crate::model::OutboxJob;

struct Claimed {
    state: String,
    attempts: i64,
    claim_generation: Option<i64>,
    delivery_state: Option<String>,
    business_number_id: i64,
    identity_id: i64,
    window: CustomerWindow,
}

/// Records `(job, wamid)` acceptances; one result per item, in order. The caller holds the identity
/// and wamid locks (see `lock_for_outcomes`).
pub(super) async fn finish_accepted(
    tx: &mut PgConnection,
    items: &[(&OutboxJob, &str)],
    now: Timestamp,
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let outbox_ids: Vec<i64> = items.iter().map(|(j, _)| j.outbox_id).collect();
    let rows = sqlx::query(
        "SELECT o.id, o.state, o.attempts, m.delivery_state, m.business_number_id, m.identity_id,
                i.last_inbound_at, i.referral_at, i.fep_started_at, o.claim_generation
         FROM outbox o JOIN messages m ON m.id = o.message_id JOIN identities i ON i.id = m.identity_id
         WHERE o.id = ANY($1) ORDER BY o.id FOR NO KEY UPDATE OF o, m",
    )
    .bind(&outbox_ids)
    .fetch_all(&mut *tx)
    .await?;
    let opt = |v: Option<i64>| v.map(Timestamp::from_unix_millis);
    let mut claimed = HashMap::with_capacity(rows.len());
    for r in &rows {
        claimed.insert(
            r.try_get::<i64, _>(0)?,
            Claimed {
                state: r.try_get(1)?,
                attempts: r.try_get(2)?,
                claim_generation: r.try_get(9)?,
                delivery_state: r.try_get(3)?,
                business_number_id: r.try_get(4)?,
                identity_id: r.try_get(5)?,
                window: CustomerWindow {
                    last_inbound_at: opt(r.try_get(6)?),
                    referral_at: opt(r.try_get(7)?),
                    fep_started_at: opt(r.try_get(8)?),
                },
            },
        );
    }

    let mut results = Vec::with_capacity(items.len());
    let mut windows: HashMap<i64, CustomerWindow> = HashMap::new();
    let mut fep_started: Vec<i64> = Vec::new();
    let (mut oids, mut attempts, mut mids, mut tids, mut wamids, mut data, mut bns) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (job, wamid) in items {
        let check = match claimed.get(&job.outbox_id) {
            Some(c) if c.state == "sending" && c.attempts == job.attempt && c.claim_generation == Some(job.claim_generation) => {
                transition(c.delivery_state.clone(), LocalEvent::Accepted).map(|_| c)
            }
            _ => Err(StoreError::Conflict(format!("outbox row {} attempt {} is no longer claimed", job.outbox_id, job.attempt))),
        };
        let c = match check {
            Ok(c) => c,
            Err(e) => {
                results.push(Err(e));
                continue;
            }
        };
        // W6: a FEP starts with the first business send after a referral; two sends of one batch to
        // the same customer see each other, as they would one after the other.
        let window = windows.entry(c.identity_id).or_insert(c.window);
        if window.record_business_send(WindowPolicy::WHATSAPP, now).is_some() {
            fep_started.push(c.identity_id);
        }
        oids.push(job.outbox_id);
        attempts.push(job.attempt);
        mids.push(job.message_id);
        tids.push(job.ticket_id);
        wamids.push((*wamid).to_owned());
        data.push(serde_json::json!({"message_id": job.message_id, "wamid": wamid}).to_string());
        bns.push(c.business_number_id);
        results.push(Ok(()));
    }
    if oids.is_empty() {
        return Ok(results);
    }
    sqlx::query(
        "WITH a AS (
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[]) WITH ORDINALITY
                 AS a (oid, att, mid, tid, wamid, data, ord)
         ), o AS (
             UPDATE outbox SET state = 'done', next_attempt_at = $7 FROM a WHERE outbox.id = a.oid
         ), s AS (
             UPDATE send_attempts SET finished_at = $7, outcome = 'accepted', http_status = NULL, error_code = NULL, error_title = NULL,
                    error_details = NULL
             FROM a WHERE send_attempts.outbox_id = a.oid AND send_attempts.attempt = a.att
         ), m AS (
             UPDATE messages SET wamid = a.wamid, delivery_state = 'accepted', delivery_updated_at = $7, went_out_at = $7, error_code = NULL,
                    error_title = NULL, error_details = NULL
             FROM a WHERE messages.id = a.mid
         ), f AS (
             UPDATE identities SET fep_started_at = $7 WHERE id = ANY($8)
         )
         INSERT INTO ticket_events (ticket_id, at, actor, kind, data)
         SELECT a.tid, $7, 'system', 'message_sent', a.data FROM a ORDER BY a.ord",
    )
    .bind(&oids)
    .bind(&attempts)
    .bind(&mids)
    .bind(&tids)
    .bind(&wamids)
    .bind(&data)
    .bind(now.unix_millis())
    .bind(&fep_started)
    .execute(&mut *tx)
    .await?;
    apply_early_statuses(tx, &bns, &wamids, &mids).await?;
    Ok(results)
}

/// Statuses that arrived before their wamid was known, applied by precedence now that it is (D1).
/// Rare: a `sent` webhook overtaking the send's own answer.
async fn apply_early_statuses(tx: &mut PgConnection, bns: &[i64], wamids: &[String], mids: &[i64]) -> Result<(), StoreError> {
    let pending = sqlx::query(
        "SELECT s.id, s.business_number_id, s.wamid, s.status, s.at, s.errors FROM status_events s
         JOIN UNNEST($1::bigint[], $2::text[]) AS x (bn, wamid) ON s.business_number_id = x.bn AND s.wamid = x.wamid
         WHERE s.applied = 0 ORDER BY s.at, s.id",
    )
    .bind(bns)
    .bind(wamids)
    .fetch_all(&mut *tx)
    .await?;
    if pending.is_empty() {
        return Ok(());
    }
    let message_of: HashMap<(i64, &str), i64> =
        bns.iter().zip(wamids).zip(mids).map(|((bn, wamid), mid)| ((*bn, wamid.as_str()), *mid)).collect();
    let mut states: HashMap<i64, DeliveryState> = HashMap::new();
    for r in pending {
        let (status_id, bn, wamid, status, status_at, errors): (i64, i64, String, String, i64, Option<String>) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?);
        let Some(&message_id) = message_of.get(&(bn, wamid.as_str())) else { continue };
        let state = states.entry(message_id).or_insert(DeliveryState::Accepted);
        let early = crate::ingest::EarlyStatus::new(&wamid, &status, errors.as_deref());
        super::outbox::apply_early_status(tx, state, message_id, status_id, &status, status_at, &early).await?;
    }
    Ok(())
}
