//! Customers on SQLite: the profile, their tickets on every number, notes, renaming.

use rusqlite::{params, Connection, OptionalExtension};
use windowdesk_core::{CustomerWindow, Timestamp};

use super::api::{summary_row, SUMMARY_SELECT};
use crate::customer_model::*;
use crate::error::StoreError;
use crate::merge_rules::{check_mergeable, check_undoable, dedupe_suggestions, duplicate_reason, DUPLICATES_SQL};
use crate::model::TicketSummary;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

fn ot(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_unix_millis)
}

pub(crate) fn customer(c: &Connection, id: i64) -> Result<Option<CustomerProfile>, StoreError> {
    let Some((name, name_is_default, created_at, merged_into)) = c
        .prepare_cached("SELECT name, name_is_default, created_at, merged_into FROM contacts WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, i64>(2)?, r.get::<_, Option<i64>>(3)?)))
        .optional()?
    else {
        return Ok(None);
    };
    let identities = c
        .prepare_cached(
            "SELECT i.id, i.business_number_id, b.phone_number_id, b.display_number, i.wa_id, i.bsuid, i.profile_name,
                    i.last_inbound_at, i.referral_at, i.fep_started_at, i.created_at
             FROM identities i JOIN business_numbers b ON b.id = i.business_number_id
             WHERE i.contact_id = ?1 ORDER BY i.id",
        )?
        .query_map([id], |r| {
            Ok(CustomerIdentity {
                id: r.get(0)?,
                business_number_id: r.get(1)?,
                phone_number_id: r.get(2)?,
                business_display_number: r.get(3)?,
                wa_id: r.get(4)?,
                bsuid: r.get(5)?,
                profile_name: r.get(6)?,
                window: CustomerWindow { last_inbound_at: ot(r.get(7)?), referral_at: ot(r.get(8)?), fep_started_at: ot(r.get(9)?) },
                created_at: t(r.get(10)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    let notes = c
        .prepare_cached("SELECT id, contact_id, author, body, created_at FROM customer_notes WHERE contact_id = ?1 ORDER BY id DESC")?
        .query_map([id], note_row)?
        .collect::<Result<_, _>>()?;
    let ticket_count: i64 = c.prepare_cached("SELECT COUNT(*) FROM tickets WHERE requester_id = ?1")?.query_row([id], |r| r.get(0))?;
    Ok(Some(CustomerProfile {
        contact_id: id,
        name,
        name_is_default,
        created_at: t(created_at),
        merged_into,
        identities,
        notes,
        ticket_count,
    }))
}

fn note_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CustomerNote> {
    Ok(CustomerNote { id: r.get(0)?, contact_id: r.get(1)?, author: r.get(2)?, body: r.get(3)?, created_at: t(r.get(4)?) })
}

pub(crate) fn customer_tickets(c: &Connection, id: i64, before: Option<i64>, limit: u32) -> Result<Vec<TicketSummary>, StoreError> {
    let sql = format!("{SUMMARY_SELECT} WHERE t.requester_id = ?1 AND (?2 IS NULL OR t.id < ?2) ORDER BY t.id DESC LIMIT ?3");
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![id, before, limit.max(1)], summary_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn rename_customer(c: &mut Connection, id: i64, name: &str) -> Result<bool, StoreError> {
    Ok(c.execute("UPDATE contacts SET name = ?2, name_is_default = 0 WHERE id = ?1", params![id, name])? > 0)
}

pub(crate) fn add_customer_note(
    c: &mut Connection,
    id: i64,
    author: &str,
    body: &str,
    now: Timestamp,
) -> Result<Option<CustomerNote>, StoreError> {
    let tx = c.transaction()?;
    let exists: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM contacts WHERE id = ?1)", [id], |r| r.get(0))?;
    if !exists {
        return Ok(None);
    }
    tx.execute(
        "INSERT INTO customer_notes (contact_id, author, body, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, author, body, now.unix_millis()],
    )?;
    let note =
        CustomerNote { id: tx.last_insert_rowid(), contact_id: id, author: author.to_owned(), body: body.to_owned(), created_at: now };
    tx.commit()?;
    Ok(Some(note))
}

const MERGE_COLUMNS: &str = "id, target_id, source_id, source_name, target_name, moved, merged_by, merged_at, undone_by, undone_at";

fn merge_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MergeRecord> {
    let moved: String = r.get(5)?;
    let moved: Moved = serde_json::from_str(&moved).unwrap_or_default();
    Ok(MergeRecord {
        id: r.get(0)?,
        target_id: r.get(1)?,
        source_id: r.get(2)?,
        source_name: r.get(3)?,
        target_name: r.get(4)?,
        identity_ids: moved.identities,
        ticket_ids: moved.tickets,
        note_ids: moved.notes,
        merged_by: r.get(6)?,
        merged_at: t(r.get(7)?),
        undone_by: r.get(8)?,
        undone_at: ot(r.get(9)?),
    })
}

fn moved_json(m: &Moved) -> String {
    serde_json::json!({"identities": m.identities, "tickets": m.tickets, "notes": m.notes}).to_string()
}

fn ids(tx: &rusqlite::Transaction<'_>, sql: &str, id: i64) -> Result<Vec<i64>, StoreError> {
    let mut stmt = tx.prepare_cached(sql)?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// (name, merged_into) of a contact.
fn contact_state(tx: &rusqlite::Transaction<'_>, id: i64) -> Result<Option<(String, Option<i64>)>, StoreError> {
    Ok(tx
        .prepare_cached("SELECT name, merged_into FROM contacts WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

fn merge_event(
    tx: &rusqlite::Transaction<'_>,
    ticket: i64,
    kind: &str,
    actor: &str,
    now: Timestamp,
    data: &serde_json::Value,
) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT INTO ticket_events (ticket_id, at, actor, kind, data) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(params![
        ticket,
        now.unix_millis(),
        actor,
        kind,
        data.to_string()
    ])?;
    Ok(())
}

pub(crate) fn merge_customers(
    c: &mut Connection,
    target: i64,
    source: i64,
    actor: &str,
    now: Timestamp,
) -> Result<Option<MergeRecord>, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let (Some((target_name, target_merged)), Some((source_name, source_merged))) =
        (contact_state(&tx, target)?, contact_state(&tx, source)?)
    else {
        return Ok(None);
    };
    check_mergeable(target, source, target_merged, source_merged)?;
    let moved = Moved {
        identities: ids(&tx, "SELECT id FROM identities WHERE contact_id = ?1 ORDER BY id", source)?,
        tickets: ids(&tx, "SELECT id FROM tickets WHERE requester_id = ?1 ORDER BY id", source)?,
        notes: ids(&tx, "SELECT id FROM customer_notes WHERE contact_id = ?1 ORDER BY id", source)?,
    };
    tx.execute("UPDATE identities SET contact_id = ?1 WHERE contact_id = ?2", params![target, source])?;
    tx.execute("UPDATE tickets SET requester_id = ?1 WHERE requester_id = ?2", params![target, source])?;
    tx.execute("UPDATE customer_notes SET contact_id = ?1 WHERE contact_id = ?2", params![target, source])?;
    // Costs follow their tickets' customer (cost reports per customer).
    tx.execute("UPDATE message_costs SET contact_id = ?1 WHERE contact_id = ?2", params![target, source])?;
    tx.execute("UPDATE contacts SET merged_into = ?1 WHERE id = ?2", params![target, source])?;
    tx.execute(
        "INSERT INTO customer_merges (target_id, source_id, source_name, target_name, moved, merged_by, merged_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![target, source, source_name, target_name, moved_json(&moved), actor, now.unix_millis()],
    )?;
    let id = tx.last_insert_rowid();
    let data = serde_json::json!({"from": source, "from_name": source_name, "into": target, "into_name": target_name, "merge_id": id});
    for ticket in &moved.tickets {
        merge_event(&tx, *ticket, "customer_merged", actor, now, &data)?;
    }
    let record = tx.prepare_cached(&format!("SELECT {MERGE_COLUMNS} FROM customer_merges WHERE id = ?1"))?.query_row([id], merge_row)?;
    tx.commit()?;
    Ok(Some(record))
}

pub(crate) fn undo_merge(c: &mut Connection, merge_id: i64, actor: &str, now: Timestamp) -> Result<Option<MergeRecord>, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let Some(m) = tx
        .prepare_cached(&format!("SELECT {MERGE_COLUMNS} FROM customer_merges WHERE id = ?1"))?
        .query_row([merge_id], merge_row)
        .optional()?
    else {
        return Ok(None);
    };
    let target = contact_state(&tx, m.target_id)?.map(|s| s.1);
    let source = contact_state(&tx, m.source_id)?.map(|s| s.1);
    check_undoable(&m, target.flatten(), source.flatten())?;
    let back = ticket_ids_back(&tx, &m)?;
    for i in &m.identity_ids {
        tx.execute("UPDATE identities SET contact_id = ?1 WHERE id = ?2 AND contact_id = ?3", params![m.source_id, i, m.target_id])?;
    }
    for t in &back {
        tx.execute("UPDATE tickets SET requester_id = ?1 WHERE id = ?2", params![m.source_id, t])?;
        tx.execute("UPDATE message_costs SET contact_id = ?1 WHERE ticket_id = ?2", params![m.source_id, t])?;
    }
    for n in &m.note_ids {
        tx.execute("UPDATE customer_notes SET contact_id = ?1 WHERE id = ?2 AND contact_id = ?3", params![m.source_id, n, m.target_id])?;
    }
    tx.execute("UPDATE contacts SET merged_into = NULL WHERE id = ?1", [m.source_id])?;
    tx.execute("UPDATE customer_merges SET undone_by = ?2, undone_at = ?3 WHERE id = ?1", params![merge_id, actor, now.unix_millis()])?;
    let data = serde_json::json!({"from": m.target_id, "from_name": m.target_name, "into": m.source_id, "into_name": m.source_name, "merge_id": merge_id});
    for ticket in &back {
        merge_event(&tx, *ticket, "customer_unmerged", actor, now, &data)?;
    }
    let record =
        tx.prepare_cached(&format!("SELECT {MERGE_COLUMNS} FROM customer_merges WHERE id = ?1"))?.query_row([merge_id], merge_row)?;
    tx.commit()?;
    Ok(Some(record))
}

/// The tickets an undo gives back: those that moved, and those opened since through an identity
/// that moved (they belong to the person that identity is).
fn ticket_ids_back(tx: &rusqlite::Transaction<'_>, m: &MergeRecord) -> Result<Vec<i64>, StoreError> {
    let mut back = Vec::new();
    let mut stmt = tx.prepare_cached("SELECT id, identity_id FROM tickets WHERE requester_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([m.target_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (id, identity) = row?;
        if m.ticket_ids.contains(&id) || m.identity_ids.contains(&identity) {
            back.push(id);
        }
    }
    Ok(back)
}

pub(crate) fn customer_merges(c: &Connection, contact: i64) -> Result<Vec<MergeRecord>, StoreError> {
    let sql = format!("SELECT {MERGE_COLUMNS} FROM customer_merges WHERE target_id = ?1 OR source_id = ?1 ORDER BY id DESC");
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map([contact], merge_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn merge_record(c: &Connection, id: i64) -> Result<Option<MergeRecord>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {MERGE_COLUMNS} FROM customer_merges WHERE id = ?1"))?.query_row([id], merge_row).optional()?)
}

pub(crate) fn duplicate_suggestions(c: &Connection, contact: i64) -> Result<Vec<DuplicateSuggestion>, StoreError> {
    let mut stmt = c.prepare_cached(DUPLICATES_SQL)?;
    let rows = stmt.query_map([contact], |r| {
        let kind: String = r.get(2)?;
        let value: String = r.get(3)?;
        Ok(DuplicateSuggestion { contact_id: r.get(0)?, name: r.get(1)?, reason: duplicate_reason(&kind, value) })
    })?;
    Ok(dedupe_suggestions(rows.collect::<Result<_, _>>()?))
}

mod impls {
    use async_trait::async_trait;
    use windowdesk_core::Timestamp;

    use super::super::SqliteStore;
    use crate::customer_model::*;
    use crate::error::StoreError;
    use crate::model::TicketSummary;
    use crate::CustomerStore;

    #[async_trait]
    impl CustomerStore for SqliteStore {
        async fn customer(&self, contact_id: i64) -> Result<Option<CustomerProfile>, StoreError> {
            self.read(move |c| super::customer(c, contact_id)).await
        }
        async fn customer_tickets(&self, contact_id: i64, before: Option<i64>, limit: u32) -> Result<Vec<TicketSummary>, StoreError> {
            self.read(move |c| super::customer_tickets(c, contact_id, before, limit)).await
        }
        async fn rename_customer(&self, contact_id: i64, name: &str) -> Result<bool, StoreError> {
            let name = name.to_owned();
            self.inner.writer.run(move |c| super::rename_customer(c, contact_id, &name)).await
        }
        async fn add_customer_note(
            &self,
            contact_id: i64,
            author: &str,
            body: &str,
            now: Timestamp,
        ) -> Result<Option<CustomerNote>, StoreError> {
            let (author, body) = (author.to_owned(), body.to_owned());
            self.inner.writer.run(move |c| super::add_customer_note(c, contact_id, &author, &body, now)).await
        }
        async fn merge_customers(&self, target: i64, source: i64, actor: &str, now: Timestamp) -> Result<Option<MergeRecord>, StoreError> {
            let actor = actor.to_owned();
            self.inner.writer.run(move |c| super::merge_customers(c, target, source, &actor, now)).await
        }
        async fn undo_merge(&self, merge_id: i64, actor: &str, now: Timestamp) -> Result<Option<MergeRecord>, StoreError> {
            let actor = actor.to_owned();
            self.inner.writer.run(move |c| super::undo_merge(c, merge_id, &actor, now)).await
        }
        async fn customer_merges(&self, contact_id: i64) -> Result<Vec<MergeRecord>, StoreError> {
            self.read(move |c| super::customer_merges(c, contact_id)).await
        }
        async fn merge_record(&self, merge_id: i64) -> Result<Option<MergeRecord>, StoreError> {
            self.read(move |c| super::merge_record(c, merge_id)).await
        }
        async fn duplicate_suggestions(&self, contact_id: i64) -> Result<Vec<DuplicateSuggestion>, StoreError> {
            self.read(move |c| super::duplicate_suggestions(c, contact_id)).await
        }
    }
}
