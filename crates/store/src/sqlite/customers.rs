//! Customers on SQLite: the profile, their tickets on every number, notes, renaming.

use rusqlite::{params, Connection, OptionalExtension};
use windowdesk_core::{CustomerWindow, Timestamp};

use super::api::{summary_row, SUMMARY_SELECT};
use crate::customer_model::*;
use crate::error::StoreError;
use crate::model::TicketSummary;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

fn ot(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_unix_millis)
}

pub(crate) fn customer(c: &Connection, id: i64) -> Result<Option<CustomerProfile>, StoreError> {
    let Some((name, name_is_default, created_at)) = c
        .prepare_cached("SELECT name, name_is_default, created_at FROM contacts WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, i64>(2)?)))
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
    Ok(Some(CustomerProfile { contact_id: id, name, name_is_default, created_at: t(created_at), identities, notes, ticket_count }))
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
    }
}
