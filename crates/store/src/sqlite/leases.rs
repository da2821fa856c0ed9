//! Leases, the send fence and takeover recovery on SQLite (SPEC 12, D5). Everything runs on the writer
//! thread, so a lease change, a claim and a start can never interleave.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use windowdesk_core::Timestamp;

use super::outbox::event;
use super::SqliteStore;
use crate::error::StoreError;
use crate::model::{Lease, LeaseRow, OutboxJob, Recovered};
use crate::LeaseStore;

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

fn acquire(
    conn: &mut Connection,
    name: &str,
    owner: &str,
    now: Timestamp,
    ttl: Duration,
    steal: bool,
) -> Result<Option<Lease>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let expires_at = now.unix_millis().saturating_add(ttl_ms(ttl));
    let current: Option<(Option<String>, i64, i64)> = tx
        .prepare_cached("SELECT owner, generation, expires_at FROM leases WHERE name = ?1")?
        .query_row(params![name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let generation = match current {
        None => {
            tx.prepare_cached("INSERT INTO leases (name, owner, generation, expires_at) VALUES (?1, ?2, 1, ?3)")?
                .execute(params![name, owner, expires_at])?;
            1
        }
        Some((holder, generation, _)) if holder.as_deref() == Some(owner) => {
            tx.prepare_cached("UPDATE leases SET expires_at = ?1 WHERE name = ?2")?.execute(params![expires_at, name])?;
            generation
        }
        Some((_, generation, until)) if steal || until <= now.unix_millis() => {
            tx.prepare_cached("UPDATE leases SET owner = ?1, generation = ?2, expires_at = ?3 WHERE name = ?4")?.execute(params![
                owner,
                generation + 1,
                expires_at,
                name
            ])?;
            generation + 1
        }
        Some(_) => return Ok(None),
    };
    if name.starts_with("instance:") {
        // Heartbeats of instances gone for a day are history.
        tx.prepare_cached("DELETE FROM leases WHERE name LIKE 'instance:%' AND expires_at < ?1")?
            .execute(params![now.unix_millis().saturating_sub(86_400_000)])?;
    }
    tx.commit()?;
    Ok(Some(Lease { name: name.to_owned(), generation, expires_at: Timestamp::from_unix_millis(expires_at) }))
}

fn renew(conn: &mut Connection, owner: &str, held: &[Lease], now: Timestamp, ttl: Duration) -> Result<Vec<Lease>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let expires_at = now.unix_millis().saturating_add(ttl_ms(ttl));
    let mut kept = Vec::with_capacity(held.len());
    for lease in held {
        let n = tx
            .prepare_cached("UPDATE leases SET expires_at = ?1 WHERE name = ?2 AND owner = ?3 AND generation = ?4")?
            .execute(params![expires_at, lease.name, owner, lease.generation])?;
        if n == 1 {
            kept.push(Lease { expires_at: Timestamp::from_unix_millis(expires_at), ..lease.clone() });
        }
    }
    tx.commit()?;
    Ok(kept)
}

/// The fence (see [`crate::OutboxStore::start_attempts`]): in one transaction on the writer thread,
/// so no takeover can slip between the check and the attempt row.
pub(crate) fn start_attempts(
    conn: &mut Connection,
    jobs: &[OutboxJob],
    worker: &str,
    now: Timestamp,
    held_until: Timestamp,
) -> Result<Vec<bool>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut started = Vec::with_capacity(jobs.len());
    for job in jobs {
        let ok: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM outbox o JOIN leases l ON l.name = 'send:' || o.business_number_id
                                WHERE o.id = ?1 AND o.state = 'sending' AND o.attempts = ?2 AND o.claim_generation = ?3
                                  AND o.claimed_by = ?4 AND l.owner = ?4 AND l.generation = ?3 AND l.expires_at >= ?5)",
            )?
            .query_row(params![job.outbox_id, job.attempt, job.claim_generation, worker, held_until.unix_millis()], |r| r.get(0))?;
        if ok {
            tx.prepare_cached("INSERT INTO send_attempts (outbox_id, attempt, started_at) VALUES (?1, ?2, ?3)")?.execute(params![
                job.outbox_id,
                job.attempt,
                now.unix_millis()
            ])?;
        }
        started.push(ok);
    }
    tx.commit()?;
    Ok(started)
}

/// See [`crate::OutboxStore::release_claims`].
pub(crate) fn release_claims(conn: &mut Connection, jobs: &[OutboxJob], now: Timestamp) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut released = 0;
    for job in jobs {
        let n = tx
            .prepare_cached(
                "UPDATE outbox SET state = 'queued', attempts = attempts - 1, next_attempt_at = ?1
                 WHERE id = ?2 AND state = 'sending' AND attempts = ?3 AND claim_generation = ?4
                   AND NOT EXISTS (SELECT 1 FROM send_attempts a WHERE a.outbox_id = ?2 AND a.attempt = ?3)",
            )?
            .execute(params![now.unix_millis(), job.outbox_id, job.attempt, job.claim_generation])?;
        if n == 1 {
            tx.prepare_cached("UPDATE messages SET delivery_state = 'queued', delivery_updated_at = ?1 WHERE id = ?2")?
                .execute(params![now.unix_millis(), job.message_id])?;
            released += 1;
        }
    }
    tx.commit()?;
    Ok(released)
}

/// Claims of `business_number_id` made under generations before `generation` (see
/// [`crate::OutboxStore::recover_number`]).
pub(crate) fn recover_number(
    conn: &mut Connection,
    business_number_id: i64,
    generation: i64,
    now: Timestamp,
) -> Result<Recovered, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stuck: Vec<(i64, i64, i64, i64, bool)> = tx
        .prepare_cached(
            "SELECT o.id, o.message_id, o.attempts, m.ticket_id,
                    EXISTS (SELECT 1 FROM send_attempts a WHERE a.outbox_id = o.id AND a.attempt = o.attempts)
             FROM outbox o JOIN messages m ON m.id = o.message_id
             WHERE o.business_number_id = ?1 AND o.state = 'sending' AND COALESCE(o.claim_generation, 0) < ?2 ORDER BY o.id",
        )?
        .query_map(params![business_number_id, generation], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<Result<_, _>>()?;
    let mut recovered = Recovered::default();
    let at = now.unix_millis();
    for (outbox_id, message_id, attempt, ticket_id, started) in stuck {
        if started {
            recovered.maybe_sent += 1;
            tx.execute("UPDATE outbox SET state = 'queued', next_attempt_at = ?1 WHERE id = ?2", params![at, outbox_id])?;
            tx.execute(
                "UPDATE send_attempts SET finished_at = ?1, outcome = 'interrupted' WHERE outbox_id = ?2 AND attempt = ?3",
                params![at, outbox_id, attempt],
            )?;
            // The request may or may not have reached Meta; it goes again and the agent is told.
            tx.execute(
                "UPDATE messages SET delivery_state = 'queued', delivery_updated_at = ?1, maybe_duplicate = 1 WHERE id = ?2",
                params![at, message_id],
            )?;
            event(
                &tx,
                ticket_id,
                now,
                "system",
                "send_interrupted",
                serde_json::json!({"message_id": message_id, "may_have_been_sent_twice": true}),
            )?;
        } else {
            // Never started: nothing left; the claim is undone, attempt count included.
            recovered.unstarted += 1;
            tx.execute(
                "UPDATE outbox SET state = 'queued', attempts = attempts - 1, next_attempt_at = ?1 WHERE id = ?2",
                params![at, outbox_id],
            )?;
            tx.execute("UPDATE messages SET delivery_state = 'queued', delivery_updated_at = ?1 WHERE id = ?2", params![at, message_id])?;
        }
    }
    tx.commit()?;
    Ok(recovered)
}

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
        steal: bool,
    ) -> Result<Option<Lease>, StoreError> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        self.inner.writer.run(move |conn| acquire(conn, &name, &owner, now, ttl, steal)).await
    }

    async fn renew_leases(&self, owner: &str, held: &[Lease], now: Timestamp, ttl: Duration) -> Result<Vec<Lease>, StoreError> {
        let (owner, held) = (owner.to_owned(), held.to_vec());
        self.inner.writer.run(move |conn| renew(conn, &owner, &held, now, ttl)).await
    }

    async fn release_lease(&self, owner: &str, lease: &Lease, now: Timestamp) -> Result<(), StoreError> {
        let (owner, lease) = (owner.to_owned(), lease.clone());
        self.inner
            .writer
            .run(move |conn| {
                conn.execute(
                    "UPDATE leases SET owner = NULL, expires_at = ?4 WHERE name = ?1 AND owner = ?2 AND generation = ?3",
                    params![lease.name, owner, lease.generation, now.unix_millis().saturating_add(Lease::RELEASE_SETTLES_MS)],
                )?;
                Ok(())
            })
            .await
    }

    async fn live_instances(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.read(move |c| {
            let n: i64 = c.query_row(
                "SELECT COUNT(*) FROM leases WHERE name LIKE 'instance:%' AND expires_at > ?1",
                params![now.unix_millis()],
                |r| r.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT name, owner, generation, expires_at FROM leases ORDER BY name")?;
            let rows = stmt.query_map([], |r| {
                Ok(LeaseRow {
                    name: r.get(0)?,
                    owner: r.get(1)?,
                    generation: r.get(2)?,
                    expires_at: Timestamp::from_unix_millis(r.get(3)?),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
