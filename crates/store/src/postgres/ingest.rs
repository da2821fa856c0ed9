//! PostgreSQL side of ingest: set-based loads and writes (`UNNEST` arrays), so a batch of hundreds of
//! payloads costs about twenty round trips, whatever its size.
//!
//! Concurrency: several instances (and several batches of one instance) may ingest at once. Identity
//! rows are the serialisation point: every batch locks the identities it touches, in sorted order (no
//! deadlocks), before reading tickets or wamids, so two payloads about one contact never interleave.
//! When two batches race to create the same identity or message, the loser gets a unique violation and
//! the whole batch is retried; the retry sees the winner's rows.

use std::collections::HashSet;

use sqlx::{PgConnection, Postgres, Row, Transaction};
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

/// Commits a batch. Duplicate deliveries are rare, so the first attempt (`careful = false`) skips
/// looking up which wamids exist and lets the unique index find them: if an insert conflicts, the
/// transaction fails with [`DUPLICATE_SEEN`] and the caller retries carefully, looking them up first.
pub(crate) async fn commit(
    tx: &mut Transaction<'static, Postgres>,
    batch: &[IngestPayload],
    careful: bool,
) -> Result<Vec<IngestSummary>, StoreError> {
    let needs = plan::needs(batch);
    let mut loaded = load(tx, &needs, careful).await?;
    let (writes, mut summaries) = plan::plan(batch, &mut loaded, WindowPolicy::WHATSAPP);
    apply(tx, &writes).await?;
    let released = super::fallback::release_held(tx, &writes.held_releases).await?;
    crate::ingest::note_released(&mut summaries, &released);
    Ok(summaries)
}

/// The message of the error that sends a batch down the careful path.
pub(crate) const DUPLICATE_SEEN: &str = "a message of the batch exists already; retry looking up wamids";
pub(crate) const IDENTITY_RACE: &str = "identity created concurrently; retry";

fn unzip_keys(keys: &[(i64, String)]) -> (Vec<i64>, Vec<String>) {
    keys.iter().map(|(b, k)| (*b, k.clone())).unzip()
}

async fn reserve_ids(conn: &mut PgConnection, table: &str, n: usize) -> Result<Vec<i64>, StoreError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)");
    let rows = sqlx::query_scalar::<_, i64>(&sql).bind(i64::try_from(n).unwrap_or(0)).fetch_all(conn).await?;
    Ok(rows)
}

/// Loads and locks identities, with each one's newest ticket (T2 routes against it).
async fn load_identities(conn: &mut PgConnection, bns: &[i64], keys: &[String], loaded: &mut Loaded) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "SELECT i.id, i.contact_id, c.name, c.name_is_default, i.wa_id, i.bsuid, i.profile_name, i.last_inbound_at, i.referral_at,
                i.fep_started_at, i.business_number_id, i.identity_key, t.id, t.status, i.window_episode_at
         FROM identities i
         JOIN contacts c ON c.id = i.contact_id
         LEFT JOIN LATERAL (SELECT id, status FROM tickets WHERE identity_id = i.id ORDER BY id DESC LIMIT 1) t ON true
         WHERE (i.business_number_id, i.identity_key) IN (SELECT * FROM UNNEST($1::bigint[], $2::text[]))
         ORDER BY i.business_number_id, i.identity_key
         FOR NO KEY UPDATE OF i",
    )
    .bind(bns)
    .bind(keys)
    .fetch_all(conn)
    .await?;
    for r in rows {
        let state = IdentityState {
            id: r.try_get(0)?,
            contact_id: r.try_get(1)?,
            contact_name: r.try_get(2)?,
            name_is_default: r.try_get::<i64, _>(3)? != 0,
            wa_id: r.try_get(4)?,
            bsuid: r.try_get(5)?,
            profile_name: r.try_get(6)?,
            window: CustomerWindow {
                last_inbound_at: ts(r.try_get(7)?),
                referral_at: ts(r.try_get(8)?),
                fep_started_at: ts(r.try_get(9)?),
            },
            window_episode: ts(r.try_get(14)?).map(|started_at| WindowEpisode { started_at }),
        };
        if let (Some(ticket), Some(status)) = (r.try_get::<Option<i64>, _>(12)?, r.try_get::<Option<String>, _>(13)?) {
            let status =
                TicketStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("ticket {ticket} has status {status:?}")))?;
            loaded.newest_tickets.insert(state.id, TicketSnapshot { id: ticket, status });
        }
        loaded.identities.insert((r.try_get(10)?, r.try_get(11)?), state);
    }
    Ok(())
}

async fn load(tx: &mut Transaction<'static, Postgres>, needs: &plan::Needs, careful: bool) -> Result<Loaded, StoreError> {
    let mut loaded = Loaded::default();
    if !needs.identities.is_empty() {
        let (bns, keys): (Vec<i64>, Vec<String>) = needs.identities.iter().map(|s| (s.business_number_id, s.key.clone())).unzip();
        load_identities(tx, &bns, &keys, &mut loaded).await?;
        let missing: Vec<&plan::IdentitySeed> =
            needs.identities.iter().filter(|s| !loaded.identities.contains_key(&(s.business_number_id, s.key.clone()))).collect();
        if !missing.is_empty() {
            let contact_ids = reserve_ids(tx, "contacts", missing.len()).await?;
            let names: Vec<String> = missing.iter().map(|s| s.contact_name.clone()).collect();
            let ats: Vec<i64> = missing.iter().map(|s| s.at.unix_millis()).collect();
            sqlx::query("INSERT INTO contacts (id, name, name_is_default, created_at) SELECT id, n, 1, c FROM UNNEST($1::bigint[], $2::text[], $3::bigint[]) AS x(id, n, c)")
                .bind(&contact_ids)
                .bind(&names)
                .bind(&ats)
                .execute(&mut **tx)
                .await?;
            let inserted = sqlx::query(
                "INSERT INTO identities (contact_id, business_number_id, identity_key, wa_id, bsuid, parent_bsuid, profile_name, created_at, updated_at)
                 SELECT c, b, k, w, u, p, pn, a, a FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
                     AS x(c, b, k, w, u, p, pn, a)
                 ON CONFLICT (business_number_id, identity_key) DO NOTHING
                 RETURNING id",
            )
            .bind(&contact_ids)
            .bind(missing.iter().map(|s| s.business_number_id).collect::<Vec<_>>())
            .bind(missing.iter().map(|s| s.key.clone()).collect::<Vec<_>>())
            .bind(missing.iter().map(|s| s.wa_id.clone()).collect::<Vec<_>>())
            .bind(missing.iter().map(|s| s.bsuid.clone()).collect::<Vec<_>>())
            .bind(missing.iter().map(|s| s.parent_bsuid.clone()).collect::<Vec<_>>())
            .bind(missing.iter().map(|s| s.profile_name.clone()).collect::<Vec<_>>())
            .bind(&ats)
            .fetch_all(&mut **tx)
            .await?;
            if inserted.len() != missing.len() {
                // Another transaction created some of these identities first; retry so we lock theirs.
                return Err(StoreError::Postgres(sqlx::Error::Protocol(IDENTITY_RACE.into())));
            }
            let (mb, mk): (Vec<i64>, Vec<String>) = missing.iter().map(|s| (s.business_number_id, s.key.clone())).unzip();
            load_identities(tx, &mb, &mk, &mut loaded).await?;
        }
    }
    if !needs.wamids.is_empty() {
        let (bns, wamids) = unzip_keys(&needs.wamids);
        if careful {
            let rows = sqlx::query(
                "SELECT business_number_id, wamid FROM messages WHERE (business_number_id, wamid) IN (SELECT * FROM UNNEST($1::bigint[], $2::text[]))",
            )
            .bind(&bns)
            .bind(&wamids)
            .fetch_all(&mut **tx)
            .await?;
            for r in rows {
                loaded.existing_wamids.insert((r.try_get(0)?, r.try_get(1)?));
            }
        }
        let rows = sqlx::query(
            "SELECT business_number_id, target_wamid, id, kind, new_body, at FROM message_revisions
             WHERE applied = 0 AND (business_number_id, target_wamid) IN (SELECT * FROM UNNEST($1::bigint[], $2::text[]))",
        )
        .bind(&bns)
        .bind(&wamids)
        .fetch_all(&mut **tx)
        .await?;
        for r in rows {
            let key = (r.try_get(0)?, r.try_get(1)?);
            if loaded.existing_wamids.contains(&key) {
                continue;
            }
            loaded.pending_revisions.entry(key).or_default().push(PendingRevision {
                id: r.try_get(2)?,
                kind: r.try_get(3)?,
                new_body: r.try_get(4)?,
                at: Timestamp::from_unix_millis(r.try_get(5)?),
            });
        }
    }
    if !needs.targets.is_empty() {
        let (bns, wamids) = unzip_keys(&needs.targets);
        // A status can arrive while the dispatcher records the wamid it acts on. Both sides take this
        // lock (after their identity locks, before the message row), so one always sees the other's
        // commit: either the status finds the message, or the accept finds the pending status.
        sqlx::query("SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT wamid_lock_key(b, w) AS k FROM UNNEST($1::bigint[], $2::text[]) AS x(b, w)) l ORDER BY k")
            .bind(&bns)
            .bind(&wamids)
            .execute(&mut **tx)
            .await?;
        let rows = sqlx::query(
            "SELECT business_number_id, wamid, id, ticket_id, body, delivery_state FROM messages
             WHERE (business_number_id, wamid) IN (SELECT * FROM UNNEST($1::bigint[], $2::text[])) ORDER BY id FOR NO KEY UPDATE",
        )
        .bind(&bns)
        .bind(&wamids)
        .fetch_all(&mut **tx)
        .await?;
        for r in rows {
            let state: Option<String> = r.try_get(5)?;
            loaded.targets.insert(
                (r.try_get(0)?, r.try_get(1)?),
                TargetState {
                    id: r.try_get(2)?,
                    ticket_id: r.try_get(3)?,
                    body: r.try_get(4)?,
                    delivery_state: state.as_deref().and_then(DeliveryState::parse),
                },
            );
        }
        let rows = sqlx::query("SELECT business_number_id, wamid, status FROM status_events WHERE (business_number_id, wamid) IN (SELECT * FROM UNNEST($1::bigint[], $2::text[]))")
            .bind(&bns)
            .bind(&wamids)
            .fetch_all(&mut **tx)
            .await?;
        for r in rows {
            loaded.known_statuses.insert((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
    }
    let needed = plan::ticket_ids_needed(&loaded);
    loaded.ticket_ids = reserve_ids(tx, "tickets", needed).await?;
    Ok(loaded)
}

/// Writes the plan. Each vector is one statement.
async fn apply(tx: &mut Transaction<'static, Postgres>, w: &WriteSet) -> Result<(), StoreError> {
    if !w.contact_renames.is_empty() {
        let (ids, names): (Vec<i64>, Vec<String>) = w.contact_renames.iter().map(|(k, v)| (*k, v.clone())).unzip();
        sqlx::query("UPDATE contacts c SET name = x.n FROM UNNEST($1::bigint[], $2::text[]) AS x(id, n) WHERE c.id = x.id AND c.name_is_default = 1")
            .bind(&ids)
            .bind(&names)
            .execute(&mut **tx)
            .await?;
    }
    if !w.identity_updates.is_empty() {
        let u: Vec<_> = w.identity_updates.values().collect();
        sqlx::query(
            "UPDATE identities i SET last_inbound_at = x.l, referral_at = x.r, fep_started_at = x.f, profile_name = x.p, bsuid = x.b, updated_at = x.u,
                    window_episode_at = x.e
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
                  AS x(id, l, r, f, p, b, u, e)
             WHERE i.id = x.id",
        )
        .bind(u.iter().map(|x| x.id).collect::<Vec<_>>())
        .bind(u.iter().map(|x| ms(x.last_inbound_at)).collect::<Vec<_>>())
        .bind(u.iter().map(|x| ms(x.referral_at)).collect::<Vec<_>>())
        .bind(u.iter().map(|x| ms(x.fep_started_at)).collect::<Vec<_>>())
        .bind(u.iter().map(|x| x.profile_name.clone()).collect::<Vec<_>>())
        .bind(u.iter().map(|x| x.bsuid.clone()).collect::<Vec<_>>())
        .bind(u.iter().map(|x| x.updated_at.unix_millis()).collect::<Vec<_>>())
        .bind(u.iter().map(|x| ms(x.window_episode_at)).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    for c in &w.identity_changes {
        sqlx::query("INSERT INTO identity_changes (identity_id, at, field, old_value, new_value) VALUES ($1, $2, $3, $4, $5)")
            .bind(c.identity_id)
            .bind(c.at.unix_millis())
            .bind(&c.field)
            .bind(&c.old_value)
            .bind(&c.new_value)
            .execute(&mut **tx)
            .await?;
    }
    for r in &w.identity_rekeys {
        sqlx::query(
            "UPDATE identities SET wa_id = $1, identity_key = $1 WHERE id = $2
             AND NOT EXISTS (SELECT 1 FROM identities WHERE business_number_id = $3 AND identity_key = $1)",
        )
        .bind(&r.new_wa_id)
        .bind(r.id)
        .bind(r.business_number_id)
        .execute(&mut **tx)
        .await?;
    }
    if !w.tickets_new.is_empty() {
        let t = &w.tickets_new;
        sqlx::query(
            "INSERT INTO tickets (id, business_number_id, identity_id, requester_id, status, subject, followup_of, created_at, updated_at, last_message_at)
             SELECT id, b, i, r, s, sub, f, a, a, a FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
                 AS x(id, b, i, r, s, sub, f, a)",
        )
        .bind(t.iter().map(|x| x.id).collect::<Vec<_>>())
        .bind(t.iter().map(|x| x.business_number_id).collect::<Vec<_>>())
        .bind(t.iter().map(|x| x.identity_id).collect::<Vec<_>>())
        .bind(t.iter().map(|x| x.requester_id).collect::<Vec<_>>())
        .bind(t.iter().map(|x| x.status.as_str().to_owned()).collect::<Vec<_>>())
        .bind(t.iter().map(|x| x.subject.clone()).collect::<Vec<_>>())
        .bind(t.iter().map(|x| x.followup_of).collect::<Vec<_>>())
        .bind(t.iter().map(|x| x.created_at.unix_millis()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    if !w.ticket_updates.is_empty() {
        let u: Vec<_> = w.ticket_updates.values().collect();
        sqlx::query(
            "UPDATE tickets t SET status = COALESCE(x.s, t.status), last_message_at = GREATEST(t.last_message_at, x.l), updated_at = x.u
             FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::bigint[]) AS x(id, s, l, u) WHERE t.id = x.id",
        )
        .bind(u.iter().map(|x| x.id).collect::<Vec<_>>())
        .bind(u.iter().map(|x| x.status.map(|s| s.as_str().to_owned())).collect::<Vec<_>>())
        .bind(u.iter().map(|x| x.last_message_at.unix_millis()).collect::<Vec<_>>())
        .bind(u.iter().map(|x| x.updated_at.unix_millis()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    if !w.messages_new.is_empty() {
        let m = &w.messages_new;
        let inserted = sqlx::query(
            "INSERT INTO messages (ticket_id, business_number_id, identity_id, direction, wamid, kind, body, media_id, mime_type, media_sha256,
                                   filename, voice, reply_to_wamid, target_wamid, forwarded, referral, sent_at, received_at, delivery_state,
                                   delivery_updated_at, edited_at, revoked_at, errors, raw)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                                  $10::text[], $11::text[], $12::bigint[], $13::text[], $14::text[], $15::bigint[], $16::bigint[], $17::bigint[],
                                  $18::bigint[], $19::text[], $20::bigint[], $21::bigint[], $22::bigint[], $23::text[], $24::text[])
             ON CONFLICT (business_number_id, wamid) DO NOTHING",
        )
        .bind(m.iter().map(|x| x.ticket_id).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.business_number_id).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.identity_id).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.direction.to_owned()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.wamid.clone()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.kind.clone()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.body.clone()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.media_id.clone()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.mime_type.clone()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.media_sha256.clone()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.filename.clone()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| i64::from(x.voice)).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.reply_to_wamid.clone()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.target_wamid.clone()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.forwarded).collect::<Vec<_>>())
        .bind(m.iter().map(|x| i64::from(x.referral)).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.sent_at.unix_millis()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.received_at.unix_millis()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.delivery_state.map(|s| s.as_str().to_owned())).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.delivery_state.map(|_| x.sent_at.unix_millis())).collect::<Vec<_>>())
        .bind(m.iter().map(|x| ms(x.edited_at)).collect::<Vec<_>>())
        .bind(m.iter().map(|x| ms(x.revoked_at)).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.errors.clone()).collect::<Vec<_>>())
        .bind(m.iter().map(|x| x.raw.clone()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
        if usize::try_from(inserted.rows_affected()).unwrap_or(0) != m.len() {
            // Planned as new, but the unique index knows better: redo the batch the careful way.
            return Err(StoreError::Postgres(sqlx::Error::Protocol(DUPLICATE_SEEN.into())));
        }
    }
    for u in &w.message_updates {
        match u {
            MessageUpdate::Edit { id, body, at } => {
                sqlx::query("UPDATE messages SET body = $1, edited_at = $2 WHERE id = $3")
                    .bind(body)
                    .bind(at.unix_millis())
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
            }
            MessageUpdate::Revoke { id, at } => {
                sqlx::query("UPDATE messages SET body = NULL, revoked_at = $1 WHERE id = $2")
                    .bind(at.unix_millis())
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
            }
            MessageUpdate::Delivery { id, state, at, error_code, error_title, error_details } => {
                sqlx::query(
                    "UPDATE messages SET delivery_state = $1, delivery_updated_at = $2, error_code = COALESCE($3, error_code),
                            error_title = COALESCE($4, error_title), error_details = COALESCE($5, error_details) WHERE id = $6",
                )
                .bind(state.as_str())
                .bind(at.unix_millis())
                .bind(error_code)
                .bind(error_title)
                .bind(error_details)
                .bind(id)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    for r in &w.revisions_new {
        sqlx::query(
            "INSERT INTO message_revisions (business_number_id, target_wamid, source_wamid, kind, previous_body, new_body, at, applied)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(r.business_number_id)
        .bind(&r.target_wamid)
        .bind(&r.source_wamid)
        .bind(r.kind)
        .bind(&r.previous_body)
        .bind(&r.new_body)
        .bind(r.at.unix_millis())
        .bind(i64::from(r.applied))
        .execute(&mut **tx)
        .await?;
    }
    if !w.revisions_applied.is_empty() {
        sqlx::query("UPDATE message_revisions SET applied = 1 WHERE id = ANY($1)").bind(&w.revisions_applied).execute(&mut **tx).await?;
    }
    for r in &w.reactions {
        match r {
            ReactionWrite::Set { business_number_id, target_wamid, identity_id, emoji, at } => {
                sqlx::query(
                    "INSERT INTO reactions (business_number_id, target_wamid, identity_id, emoji, reacted_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (business_number_id, target_wamid, identity_id) DO UPDATE SET emoji = excluded.emoji, reacted_at = excluded.reacted_at
                     WHERE excluded.reacted_at >= reactions.reacted_at",
                )
                .bind(business_number_id)
                .bind(target_wamid)
                .bind(identity_id)
                .bind(emoji)
                .bind(at.unix_millis())
                .execute(&mut **tx)
                .await?;
            }
            ReactionWrite::Remove { business_number_id, target_wamid, identity_id } => {
                sqlx::query("DELETE FROM reactions WHERE business_number_id = $1 AND target_wamid = $2 AND identity_id = $3")
                    .bind(business_number_id)
                    .bind(target_wamid)
                    .bind(identity_id)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    if !w.status_events.is_empty() {
        let s = &w.status_events;
        sqlx::query(
            "INSERT INTO status_events (business_number_id, wamid, status, at, received_at, recipient, pricing, errors, applied, raw)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[])
             ON CONFLICT DO NOTHING",
        )
        .bind(s.iter().map(|x| x.business_number_id).collect::<Vec<_>>())
        .bind(s.iter().map(|x| x.wamid.clone()).collect::<Vec<_>>())
        .bind(s.iter().map(|x| x.status.clone()).collect::<Vec<_>>())
        .bind(s.iter().map(|x| x.at.unix_millis()).collect::<Vec<_>>())
        .bind(s.iter().map(|x| x.received_at.unix_millis()).collect::<Vec<_>>())
        .bind(s.iter().map(|x| x.recipient.clone()).collect::<Vec<_>>())
        .bind(s.iter().map(|x| x.pricing.clone()).collect::<Vec<_>>())
        .bind(s.iter().map(|x| x.errors.clone()).collect::<Vec<_>>())
        .bind(s.iter().map(|x| i64::from(x.applied)).collect::<Vec<_>>())
        .bind(s.iter().map(|x| x.raw.clone()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    if !w.ticket_events.is_empty() {
        let e = &w.ticket_events;
        sqlx::query("INSERT INTO ticket_events (ticket_id, at, actor, kind, data) SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])")
            .bind(e.iter().map(|x| x.ticket_id).collect::<Vec<_>>())
            .bind(e.iter().map(|x| x.at.unix_millis()).collect::<Vec<_>>())
            .bind(e.iter().map(|x| x.actor.to_owned()).collect::<Vec<_>>())
            .bind(e.iter().map(|x| x.kind.to_owned()).collect::<Vec<_>>())
            .bind(e.iter().map(|x| x.data.to_string()).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
    }
    for a in &w.account_events {
        sqlx::query(
            "INSERT INTO account_events (waba_id, business_number_id, field, event, at, raw, dedupe_key) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(&a.waba_id)
        .bind(a.business_number_id)
        .bind(&a.field)
        .bind(&a.event)
        .bind(a.at.unix_millis())
        .bind(&a.raw)
        .bind(&a.dedupe_key)
        .execute(&mut **tx)
        .await?;
    }
    for t in &w.templates {
        let TemplateColumns { status, category, quality, reason, components } = template_columns(&t.change.update);
        sqlx::query(
            "INSERT INTO templates (waba_id, name, language, meta_template_id, status, category, quality, reason, components, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (waba_id, name, language) DO UPDATE SET
                meta_template_id = COALESCE(excluded.meta_template_id, templates.meta_template_id),
                status = COALESCE(excluded.status, templates.status),
                category = COALESCE(excluded.category, templates.category),
                quality = COALESCE(excluded.quality, templates.quality),
                reason = COALESCE(excluded.reason, templates.reason),
                components = COALESCE(excluded.components, templates.components),
                updated_at = excluded.updated_at",
        )
        .bind(&t.waba_id)
        .bind(&t.change.name)
        .bind(&t.change.language)
        .bind(&t.change.meta_template_id)
        .bind(status)
        .bind(category)
        .bind(quality)
        .bind(reason)
        .bind(components)
        .bind(t.at.unix_millis())
        .execute(&mut **tx)
        .await?;
    }
    for (pnid, at) in &w.unknown_numbers {
        sqlx::query(
            "INSERT INTO unknown_numbers (phone_number_id, first_seen, last_seen, count) VALUES ($1, $2, $2, 1)
             ON CONFLICT (phone_number_id) DO UPDATE SET count = unknown_numbers.count + 1, last_seen = excluded.last_seen",
        )
        .bind(pnid)
        .bind(at.unix_millis())
        .execute(&mut **tx)
        .await?;
    }
    if !w.media_jobs.is_empty() {
        let j = &w.media_jobs;
        let mut seen = HashSet::new();
        let j: Vec<_> = j.iter().filter(|x| seen.insert((x.business_number_id, x.wamid.clone(), x.media_id.clone()))).collect();
        sqlx::query(
            "INSERT INTO media_jobs (business_number_id, wamid, media_id, state, next_attempt_at, created_at)
             SELECT b, w, m, 'pending', a, a FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS x(b, w, m, a) ON CONFLICT DO NOTHING",
        )
        .bind(j.iter().map(|x| x.business_number_id).collect::<Vec<_>>())
        .bind(j.iter().map(|x| x.wamid.clone()).collect::<Vec<_>>())
        .bind(j.iter().map(|x| x.media_id.clone()).collect::<Vec<_>>())
        .bind(j.iter().map(|x| x.at.unix_millis()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
