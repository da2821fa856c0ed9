//! Customers on PostgreSQL: the profile, their tickets on every number, notes, renaming.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;
use windowdesk_core::{CustomerWindow, Timestamp};

use super::api::{summary_row, SUMMARY_SELECT};
use super::PgStore;
use crate::customer_model::*;
use crate::error::StoreError;
use crate::merge_rules::{check_mergeable, check_undoable, dedupe_suggestions, duplicate_reason, DUPLICATES_SQL};
use crate::model::TicketSummary;
use crate::CustomerStore;

const MERGE_COLUMNS: &str = "id, target_id, source_id, source_name, target_name, moved, merged_by, merged_at, undone_by, undone_at";

fn merge_row(r: &PgRow) -> Result<MergeRecord, StoreError> {
    let moved: String = r.try_get(5)?;
    let moved: Moved = serde_json::from_str(&moved).unwrap_or_default();
    Ok(MergeRecord {
        id: r.try_get(0)?,
        target_id: r.try_get(1)?,
        source_id: r.try_get(2)?,
        source_name: r.try_get(3)?,
        target_name: r.try_get(4)?,
        identity_ids: moved.identities,
        ticket_ids: moved.tickets,
        note_ids: moved.notes,
        merged_by: r.try_get(6)?,
        merged_at: Timestamp::from_unix_millis(r.try_get(7)?),
        undone_by: r.try_get(8)?,
        undone_at: ot(r.try_get(9)?),
    })
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

/// Locks both customers (in id order, so two merges of the same pair cannot deadlock) and answers
/// each one's (name, merged_into).
async fn lock_contacts(tx: &mut Tx<'_>, a: i64, b: i64) -> Result<std::collections::HashMap<i64, (String, Option<i64>)>, StoreError> {
    let rows = sqlx::query("SELECT id, name, merged_into FROM contacts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(vec![a, b])
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| Ok((r.try_get::<i64, _>(0)?, (r.try_get(1)?, r.try_get(2)?)))).collect()
}

/// Locks a customer's identities the way ingest does (business number, then key), so a message for
/// them waits for the merge or the merge for the message, never half of each.
async fn lock_identities(tx: &mut Tx<'_>, contact: i64) -> Result<Vec<i64>, StoreError> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM identities WHERE contact_id = $1 ORDER BY business_number_id, identity_key FOR UPDATE")
            .bind(contact)
            .fetch_all(&mut **tx)
            .await?;
    let mut ids = ids;
    ids.sort_unstable();
    Ok(ids)
}

async fn merge_events(
    tx: &mut Tx<'_>,
    tickets: &[i64],
    kind: &str,
    actor: &str,
    now: Timestamp,
    data: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO ticket_events (ticket_id, at, actor, kind, data) SELECT t, $2, $3, $4, $5 FROM UNNEST($1::bigint[]) AS t")
        .bind(tickets)
        .bind(now.unix_millis())
        .bind(actor)
        .bind(kind)
        .bind(data.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn ot(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_unix_millis)
}

fn note_row(r: &PgRow) -> Result<CustomerNote, StoreError> {
    Ok(CustomerNote {
        id: r.try_get(0)?,
        contact_id: r.try_get(1)?,
        author: r.try_get(2)?,
        body: r.try_get(3)?,
        created_at: Timestamp::from_unix_millis(r.try_get(4)?),
    })
}

#[async_trait]
impl CustomerStore for PgStore {
    async fn customer(&self, contact_id: i64) -> Result<Option<CustomerProfile>, StoreError> {
        let pool = self.api_pool();
        let Some(contact) = sqlx::query("SELECT name, name_is_default <> 0, created_at, merged_into FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_optional(pool)
            .await?
        else {
            return Ok(None);
        };
        let identities = sqlx::query(
            "SELECT i.id, i.business_number_id, b.phone_number_id, b.display_number, i.wa_id, i.bsuid, i.profile_name,
                    i.last_inbound_at, i.referral_at, i.fep_started_at, i.created_at
             FROM identities i JOIN business_numbers b ON b.id = i.business_number_id
             WHERE i.contact_id = $1 ORDER BY i.id",
        )
        .bind(contact_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(CustomerIdentity {
                id: r.try_get(0)?,
                business_number_id: r.try_get(1)?,
                phone_number_id: r.try_get(2)?,
                business_display_number: r.try_get(3)?,
                wa_id: r.try_get(4)?,
                bsuid: r.try_get(5)?,
                profile_name: r.try_get(6)?,
                window: CustomerWindow {
                    last_inbound_at: ot(r.try_get(7)?),
                    referral_at: ot(r.try_get(8)?),
                    fep_started_at: ot(r.try_get(9)?),
                },
                created_at: Timestamp::from_unix_millis(r.try_get(10)?),
            })
        })
        .collect::<Result<_, StoreError>>()?;
        let notes =
            sqlx::query("SELECT id, contact_id, author, body, created_at FROM customer_notes WHERE contact_id = $1 ORDER BY id DESC")
                .bind(contact_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(note_row)
                .collect::<Result<_, _>>()?;
        let ticket_count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE requester_id = $1").bind(contact_id).fetch_one(pool).await?;
        Ok(Some(CustomerProfile {
            contact_id,
            name: contact.try_get(0)?,
            name_is_default: contact.try_get(1)?,
            created_at: Timestamp::from_unix_millis(contact.try_get(2)?),
            merged_into: contact.try_get(3)?,
            identities,
            notes,
            ticket_count,
        }))
    }

    async fn customer_tickets(&self, contact_id: i64, before: Option<i64>, limit: u32) -> Result<Vec<TicketSummary>, StoreError> {
        let sql = format!("{SUMMARY_SELECT} WHERE t.requester_id = $1 AND ($2::bigint IS NULL OR t.id < $2) ORDER BY t.id DESC LIMIT $3");
        let rows = sqlx::query(&sql).bind(contact_id).bind(before).bind(i64::from(limit.max(1))).fetch_all(self.api_pool()).await?;
        rows.iter().map(summary_row).collect()
    }

    async fn rename_customer(&self, contact_id: i64, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE contacts SET name = $2, name_is_default = 0 WHERE id = $1")
            .bind(contact_id)
            .bind(name)
            .execute(self.api_pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn merge_customers(&self, target: i64, source: i64, actor: &str, now: Timestamp) -> Result<Option<MergeRecord>, StoreError> {
        let mut tx = self.api_pool().begin().await?;
        let identities = lock_identities(&mut tx, source).await?;
        let contacts = lock_contacts(&mut tx, target, source).await?;
        let (Some((target_name, target_merged)), Some((source_name, source_merged))) = (contacts.get(&target), contacts.get(&source))
        else {
            return Ok(None);
        };
        check_mergeable(target, source, *target_merged, *source_merged)?;
        let tickets: Vec<i64> = sqlx::query_scalar("UPDATE tickets SET requester_id = $1 WHERE requester_id = $2 RETURNING id")
            .bind(target)
            .bind(source)
            .fetch_all(&mut *tx)
            .await?;
        let notes: Vec<i64> = sqlx::query_scalar("UPDATE customer_notes SET contact_id = $1 WHERE contact_id = $2 RETURNING id")
            .bind(target)
            .bind(source)
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query("UPDATE identities SET contact_id = $1 WHERE contact_id = $2").bind(target).bind(source).execute(&mut *tx).await?;
        // Costs follow their tickets' customer (cost reports per customer).
        sqlx::query("UPDATE message_costs SET contact_id = $1 WHERE contact_id = $2").bind(target).bind(source).execute(&mut *tx).await?;
        sqlx::query("UPDATE contacts SET merged_into = $1 WHERE id = $2").bind(target).bind(source).execute(&mut *tx).await?;
        let (mut tickets, mut notes) = (tickets, notes);
        tickets.sort_unstable();
        notes.sort_unstable();
        let moved = serde_json::json!({"identities": identities, "tickets": tickets, "notes": notes}).to_string();
        let record = sqlx::query(&format!(
            "INSERT INTO customer_merges (target_id, source_id, source_name, target_name, moved, merged_by, merged_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {MERGE_COLUMNS}"
        ))
        .bind(target)
        .bind(source)
        .bind(source_name)
        .bind(target_name)
        .bind(moved)
        .bind(actor)
        .bind(now.unix_millis())
        .fetch_one(&mut *tx)
        .await?;
        let record = merge_row(&record)?;
        let data =
            serde_json::json!({"from": source, "from_name": source_name, "into": target, "into_name": target_name, "merge_id": record.id});
        merge_events(&mut tx, &record.ticket_ids, "customer_merged", actor, now, &data).await?;
        tx.commit().await?;
        Ok(Some(record))
    }

    async fn undo_merge(&self, merge_id: i64, actor: &str, now: Timestamp) -> Result<Option<MergeRecord>, StoreError> {
        let mut tx = self.api_pool().begin().await?;
        let Some(m) = sqlx::query(&format!("SELECT {MERGE_COLUMNS} FROM customer_merges WHERE id = $1 FOR UPDATE"))
            .bind(merge_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let m = merge_row(&m)?;
        lock_identities(&mut tx, m.target_id).await?;
        let contacts = lock_contacts(&mut tx, m.target_id, m.source_id).await?;
        let merged = |id: i64| contacts.get(&id).and_then(|c| c.1);
        check_undoable(&m, merged(m.target_id), merged(m.source_id))?;
        sqlx::query("UPDATE identities SET contact_id = $1 WHERE id = ANY($2) AND contact_id = $3")
            .bind(m.source_id)
            .bind(&m.identity_ids)
            .bind(m.target_id)
            .execute(&mut *tx)
            .await?;
        let mut back: Vec<i64> = sqlx::query_scalar(
            "UPDATE tickets SET requester_id = $1 WHERE requester_id = $2 AND (id = ANY($3) OR identity_id = ANY($4)) RETURNING id",
        )
        .bind(m.source_id)
        .bind(m.target_id)
        .bind(&m.ticket_ids)
        .bind(&m.identity_ids)
        .fetch_all(&mut *tx)
        .await?;
        back.sort_unstable();
        sqlx::query("UPDATE message_costs SET contact_id = $1 WHERE ticket_id = ANY($2)")
            .bind(m.source_id)
            .bind(&back)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE customer_notes SET contact_id = $1 WHERE id = ANY($2) AND contact_id = $3")
            .bind(m.source_id)
            .bind(&m.note_ids)
            .bind(m.target_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE contacts SET merged_into = NULL WHERE id = $1").bind(m.source_id).execute(&mut *tx).await?;
        let record =
            sqlx::query(&format!("UPDATE customer_merges SET undone_by = $2, undone_at = $3 WHERE id = $1 RETURNING {MERGE_COLUMNS}"))
                .bind(merge_id)
                .bind(actor)
                .bind(now.unix_millis())
                .fetch_one(&mut *tx)
                .await?;
        let data = serde_json::json!({"from": m.target_id, "from_name": m.target_name, "into": m.source_id, "into_name": m.source_name, "merge_id": merge_id});
        merge_events(&mut tx, &back, "customer_unmerged", actor, now, &data).await?;
        tx.commit().await?;
        merge_row(&record).map(Some)
    }

    async fn customer_merges(&self, contact_id: i64) -> Result<Vec<MergeRecord>, StoreError> {
        let rows =
            sqlx::query(&format!("SELECT {MERGE_COLUMNS} FROM customer_merges WHERE target_id = $1 OR source_id = $1 ORDER BY id DESC"))
                .bind(contact_id)
                .fetch_all(self.api_pool())
                .await?;
        rows.iter().map(merge_row).collect()
    }

    async fn merge_record(&self, merge_id: i64) -> Result<Option<MergeRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {MERGE_COLUMNS} FROM customer_merges WHERE id = $1"))
            .bind(merge_id)
            .fetch_optional(self.api_pool())
            .await?;
        row.as_ref().map(merge_row).transpose()
    }

    async fn duplicate_suggestions(&self, contact_id: i64) -> Result<Vec<DuplicateSuggestion>, StoreError> {
        let rows = sqlx::query(&DUPLICATES_SQL.replace("?1", "$1")).bind(contact_id).fetch_all(self.api_pool()).await?;
        let found = rows
            .iter()
            .map(|r| {
                let kind: String = r.try_get(2)?;
                Ok(DuplicateSuggestion { contact_id: r.try_get(0)?, name: r.try_get(1)?, reason: duplicate_reason(&kind, r.try_get(3)?) })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(dedupe_suggestions(found))
    }

    async fn add_customer_note(
        &self,
        contact_id: i64,
        author: &str,
        body: &str,
        now: Timestamp,
    ) -> Result<Option<CustomerNote>, StoreError> {
        let row = sqlx::query(
            "INSERT INTO customer_notes (contact_id, author, body, created_at)
             SELECT id, $2, $3, $4 FROM contacts WHERE id = $1
             RETURNING id, contact_id, author, body, created_at",
        )
        .bind(contact_id)
        .bind(author)
        .bind(body)
        .bind(now.unix_millis())
        .fetch_optional(self.api_pool())
        .await?;
        row.as_ref().map(note_row).transpose()
    }
}
