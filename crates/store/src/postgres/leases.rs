//! Leases, the send fence and takeover recovery on PostgreSQL (SPEC 12, D5).
//!
//! Several instances share the database. A lease row is the point where they meet: a claim and a
//! start take it `FOR SHARE` (is it still mine, at this generation?) and a takeover updates it, so
//! the two are serialized. A takeover therefore commits either before a claim (which then claims
//! nothing for that number) or after it (and the new holder's recovery, a later statement, sees the
//! claim).

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{PgPool, Row};
use windowdesk_core::Timestamp;

use super::outbox::event;
use super::PgStore;
use crate::error::StoreError;
use crate::model::{Lease, LeaseRow, OutboxJob, Recovered};
use crate::LeaseStore;

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

/// The fence (see [`crate::OutboxStore::start_attempts`]), one statement for a batch.
pub(crate) async fn start_attempts(
    pool: &PgPool,
    jobs: &[OutboxJob],
    worker: &str,
    now: Timestamp,
    held_until: Timestamp,
) -> Result<Vec<bool>, StoreError> {
    let ids: Vec<i64> = jobs.iter().map(|j| j.outbox_id).collect();
    let attempts: Vec<i64> = jobs.iter().map(|j| j.attempt).collect();
    let generations: Vec<i64> = jobs.iter().map(|j| j.claim_generation).collect();
    let mut names: Vec<String> = jobs.iter().map(|j| Lease::send_name(j.business_number_id)).collect();
    names.sort();
    names.dedup();
    let started: Vec<i64> = sqlx::query_scalar(
        "WITH l AS (
             SELECT name, generation FROM leases WHERE name = ANY($5) AND owner = $1 AND expires_at >= $6 ORDER BY name FOR SHARE
         ), ok AS (
             SELECT o.id, o.attempts FROM outbox o
             JOIN UNNEST($2::bigint[], $3::bigint[], $4::bigint[]) AS x (id, attempt, generation) ON o.id = x.id
             JOIN l ON l.name = 'send:' || o.business_number_id AND l.generation = x.generation
             WHERE o.state = 'sending' AND o.attempts = x.attempt AND o.claim_generation = x.generation AND o.claimed_by = $1
         )
         INSERT INTO send_attempts (outbox_id, attempt, started_at) SELECT id, attempts, $7 FROM ok RETURNING outbox_id",
    )
    .bind(worker)
    .bind(&ids)
    .bind(&attempts)
    .bind(&generations)
    .bind(&names)
    .bind(held_until.unix_millis())
    .bind(now.unix_millis())
    .fetch_all(pool)
    .await?;
    Ok(jobs.iter().map(|j| started.contains(&j.outbox_id)).collect())
}

/// See [`crate::OutboxStore::release_claims`].
pub(crate) async fn release_claims(pool: &PgPool, jobs: &[OutboxJob], now: Timestamp) -> Result<u64, StoreError> {
    let ids: Vec<i64> = jobs.iter().map(|j| j.outbox_id).collect();
    let attempts: Vec<i64> = jobs.iter().map(|j| j.attempt).collect();
    let generations: Vec<i64> = jobs.iter().map(|j| j.claim_generation).collect();
    let released: i64 = sqlx::query_scalar(
        "WITH back AS (
             UPDATE outbox o SET state = 'queued', attempts = o.attempts - 1, next_attempt_at = $4
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[]) AS x (id, attempt, generation)
             WHERE o.id = x.id AND o.state = 'sending' AND o.attempts = x.attempt AND o.claim_generation = x.generation
               AND NOT EXISTS (SELECT 1 FROM send_attempts a WHERE a.outbox_id = o.id AND a.attempt = x.attempt)
             RETURNING o.message_id
         ), moved AS (
             UPDATE messages m SET delivery_state = 'queued', delivery_updated_at = $4 FROM back WHERE m.id = back.message_id
         )
         SELECT COUNT(*) FROM back",
    )
    .bind(&ids)
    .bind(&attempts)
    .bind(&generations)
    .bind(now.unix_millis())
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(released).unwrap_or(0))
}

/// Claims of `business_number_id` made under generations before `generation` (see
/// [`crate::OutboxStore::recover_number`]).
pub(crate) async fn recover_number(
    pool: &PgPool,
    business_number_id: i64,
    generation: i64,
    now: Timestamp,
) -> Result<Recovered, StoreError> {
    let mut tx = pool.begin().await?;
    let stuck = sqlx::query(
        "SELECT o.id, o.message_id, o.attempts, m.ticket_id,
                EXISTS (SELECT 1 FROM send_attempts a WHERE a.outbox_id = o.id AND a.attempt = o.attempts)
         FROM outbox o JOIN messages m ON m.id = o.message_id
         WHERE o.business_number_id = $1 AND o.state = 'sending' AND COALESCE(o.claim_generation, 0) < $2
         ORDER BY o.id FOR UPDATE OF o",
    )
    .bind(business_number_id)
    .bind(generation)
    .fetch_all(&mut *tx)
    .await?;
    let mut recovered = Recovered::default();
    let at = now.unix_millis();
    for r in &stuck {
        let (outbox_id, message_id, attempt, ticket_id, started): (i64, i64, i64, i64, bool) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
        if started {
            recovered.maybe_sent += 1;
            sqlx::query("UPDATE outbox SET state = 'queued', next_attempt_at = $1 WHERE id = $2")
                .bind(at)
                .bind(outbox_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE send_attempts SET finished_at = $1, outcome = 'interrupted' WHERE outbox_id = $2 AND attempt = $3")
                .bind(at)
                .bind(outbox_id)
                .bind(attempt)
                .execute(&mut *tx)
                .await?;
            // The request may or may not have reached Meta; it goes again and the agent is told.
            sqlx::query("UPDATE messages SET delivery_state = 'queued', delivery_updated_at = $1, maybe_duplicate = 1 WHERE id = $2")
                .bind(at)
                .bind(message_id)
                .execute(&mut *tx)
                .await?;
            let data = serde_json::json!({"message_id": message_id, "may_have_been_sent_twice": true});
            event(&mut tx, ticket_id, now, "system", "send_interrupted", data).await?;
        } else {
            // Never started: nothing left; the claim is undone, attempt count included.
            recovered.unstarted += 1;
            sqlx::query("UPDATE outbox SET state = 'queued', attempts = attempts - 1, next_attempt_at = $1 WHERE id = $2")
                .bind(at)
                .bind(outbox_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE messages SET delivery_state = 'queued', delivery_updated_at = $1 WHERE id = $2")
                .bind(at)
                .bind(message_id)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(recovered)
}

#[async_trait]
impl LeaseStore for PgStore {
    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
        steal: bool,
    ) -> Result<Option<Lease>, StoreError> {
        let expires_at = now.unix_millis().saturating_add(ttl_ms(ttl));
        // Keeping one's own lease keeps its generation; taking it from anyone else (or nobody) moves it on.
        let generation: Option<i64> = sqlx::query_scalar(
            "INSERT INTO leases (name, owner, generation, expires_at) VALUES ($1, $2, 1, $3)
             ON CONFLICT (name) DO UPDATE SET
                 owner = EXCLUDED.owner,
                 generation = CASE WHEN leases.owner IS NOT DISTINCT FROM EXCLUDED.owner THEN leases.generation ELSE leases.generation + 1 END,
                 expires_at = EXCLUDED.expires_at
             WHERE leases.owner IS NOT DISTINCT FROM EXCLUDED.owner OR leases.expires_at <= $4 OR $5
             RETURNING generation",
        )
        .bind(name)
        .bind(owner)
        .bind(expires_at)
        .bind(now.unix_millis())
        .bind(steal)
        .fetch_optional(self.pool())
        .await?;
        if name.starts_with("instance:") {
            // Heartbeats of instances gone for a day are history.
            sqlx::query("DELETE FROM leases WHERE name LIKE 'instance:%' AND expires_at < $1")
                .bind(now.unix_millis().saturating_sub(86_400_000))
                .execute(self.pool())
                .await?;
        }
        Ok(generation.map(|generation| Lease { name: name.to_owned(), generation, expires_at: Timestamp::from_unix_millis(expires_at) }))
    }

    async fn renew_leases(&self, owner: &str, held: &[Lease], now: Timestamp, ttl: Duration) -> Result<Vec<Lease>, StoreError> {
        let expires_at = now.unix_millis().saturating_add(ttl_ms(ttl));
        let names: Vec<String> = held.iter().map(|l| l.name.clone()).collect();
        let generations: Vec<i64> = held.iter().map(|l| l.generation).collect();
        let kept: Vec<String> = sqlx::query_scalar(
            "UPDATE leases SET expires_at = $1 FROM UNNEST($3::text[], $4::bigint[]) AS h (name, generation)
             WHERE leases.name = h.name AND leases.generation = h.generation AND leases.owner = $2
             RETURNING leases.name",
        )
        .bind(expires_at)
        .bind(owner)
        .bind(&names)
        .bind(&generations)
        .fetch_all(self.pool())
        .await?;
        Ok(held
            .iter()
            .filter(|l| kept.contains(&l.name))
            .map(|l| Lease { expires_at: Timestamp::from_unix_millis(expires_at), ..l.clone() })
            .collect())
    }

    async fn release_lease(&self, owner: &str, lease: &Lease, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE leases SET owner = NULL, expires_at = $4 WHERE name = $1 AND owner = $2 AND generation = $3")
            .bind(&lease.name)
            .bind(owner)
            .bind(lease.generation)
            .bind(now.unix_millis().saturating_add(Lease::RELEASE_SETTLES_MS))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn live_instances(&self, now: Timestamp) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM leases WHERE name LIKE 'instance:%' AND expires_at > $1")
            .bind(now.unix_millis())
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError> {
        let rows = sqlx::query("SELECT name, owner, generation, expires_at FROM leases ORDER BY name").fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(LeaseRow {
                    name: r.try_get(0)?,
                    owner: r.try_get(1)?,
                    generation: r.try_get(2)?,
                    expires_at: Timestamp::from_unix_millis(r.try_get(3)?),
                })
            })
            .collect()
    }
}
