//! Search on SQLite: FTS5 tables kept by triggers (migration `0022_search`) for message bodies,
//! ticket subjects and customer names, and a `trigram` FTS5 table for WhatsApp numbers.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use windowdesk_core::{TicketStatus, Timestamp};

use super::api::{summary_row, SUMMARY_SELECT};
use crate::error::StoreError;
use crate::model::TicketSummary;
use crate::search_model::*;

fn values(params: Vec<Param>) -> Vec<Value> {
    params
        .into_iter()
        .map(|p| match p {
            Param::Int(i) => Value::Integer(i),
            Param::Text(s) => Value::Text(s),
        })
        .collect()
}

/// Above this many messages holding a query's rarest word, ticket search walks tickets rather than
/// collecting every matching message first. Tests lower it to run both plans on small data
/// ([`crate::testing::sqlite_rare_word_messages`]).
pub(crate) static RARE_MESSAGES: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(20_000);

/// How many messages hold the query's rarest word, from FTS5's own vocabulary (0 for a word it has
/// never seen: folding that differs from the tokenizer's only makes a word look rarer, never wrong).
fn rarest_word_messages(c: &Connection, s: &Search) -> Result<i64, StoreError> {
    let mut stmt = c.prepare_cached("SELECT doc FROM message_fts_vocab WHERE term = ?1")?;
    let mut rarest = i64::MAX;
    for word in s.query.words() {
        let n: Option<i64> = stmt.query_row([&word], |r| r.get(0)).optional()?;
        rarest = rarest.min(n.unwrap_or(0));
    }
    Ok(rarest)
}

pub(crate) fn search_tickets(c: &Connection, s: &Search) -> Result<Vec<TicketSummary>, StoreError> {
    let mut w = Clauses::new(Dialect::Sqlite);
    w.ticket_filters(s);
    w.phones(s, "t.identity_id");
    if let Some(m) = s.query.fts5_match() {
        let common = rarest_word_messages(c, s)? > RARE_MESSAGES.load(std::sync::atomic::Ordering::Relaxed);
        let p = w.bind(Param::Text(m));
        w.push(if common {
            // Every ticket, newest first, asks the index about its own few messages (a seek in the
            // word's list): with a common word the first page is found after a few dozen tickets.
            format!(
                "(EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id
                          AND EXISTS (SELECT 1 FROM message_fts WHERE message_fts MATCH {p} AND rowid = m.id))
                  OR EXISTS (SELECT 1 FROM ticket_fts WHERE ticket_fts MATCH {p} AND rowid = t.id))"
            )
        } else {
            // A rare word: the few messages that hold it lead to their tickets.
            format!(
                "(t.id IN (SELECT m.ticket_id FROM message_fts f JOIN messages m ON m.id = f.rowid WHERE message_fts MATCH {p})
                  OR t.id IN (SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH {p}))"
            )
        });
    }
    w.before(s, "t.id");
    let limit = w.bind(Param::Int(i64::from(s.limit.max(1))));
    let sql = format!("{SUMMARY_SELECT} WHERE {} ORDER BY t.id DESC LIMIT {limit}", w.sql());
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(values(w.params)), summary_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn search_customers(c: &Connection, s: &Search) -> Result<Vec<CustomerHit>, StoreError> {
    if !s.query.has_terms() {
        return Ok(Vec::new());
    }
    let mut w = Clauses::new(Dialect::Sqlite);
    w.customer_identities(s);
    if let Some(m) = s.query.fts5_match() {
        let p = w.bind(Param::Text(m));
        w.push(format!("c.id IN (SELECT rowid FROM contact_fts WHERE contact_fts MATCH {p})"));
    }
    w.before(s, "c.id");
    let limit = w.bind(Param::Int(i64::from(s.limit.max(1))));
    let sql = format!("SELECT c.id, c.name FROM contacts c WHERE c.merged_into IS NULL AND {} ORDER BY c.id DESC LIMIT {limit}", w.sql());
    let mut stmt = c.prepare(&sql)?;
    let found: Vec<(i64, String)> =
        stmt.query_map(params_from_iter(values(w.params)), |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(found.len());
    let mut identities = c.prepare_cached(
        "SELECT i.id, i.wa_id, i.bsuid, b.phone_number_id, b.display_number FROM identities i
         JOIN business_numbers b ON b.id = i.business_number_id WHERE i.contact_id = ?1 ORDER BY i.id",
    )?;
    let mut tickets = c.prepare_cached("SELECT COUNT(*) FROM tickets WHERE requester_id = ?1")?;
    for (contact_id, name) in found {
        let ids = identities
            .query_map([contact_id], |r| {
                Ok(IdentityBrief {
                    id: r.get(0)?,
                    wa_id: r.get(1)?,
                    bsuid: r.get(2)?,
                    phone_number_id: r.get(3)?,
                    business_display_number: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let count: i64 = tickets.query_row([contact_id], |r| r.get(0))?;
        out.push(CustomerHit { contact_id, name, identities: ids, tickets: count });
    }
    Ok(out)
}

pub(crate) fn search_messages(c: &Connection, s: &Search) -> Result<Vec<MessageHit>, StoreError> {
    let Some(m) = s.query.fts5_match() else { return Ok(Vec::new()) };
    let mut w = Clauses::new(Dialect::Sqlite);
    let p = w.bind(Param::Text(m));
    w.push(format!("message_fts MATCH {p}"));
    w.ticket_filters(s);
    w.phones(s, "t.identity_id");
    w.before(s, "f.rowid");
    let limit = w.bind(Param::Int(i64::from(s.limit.max(1))));
    // Driven by the index, newest first: FTS5 returns rowids in descending order and stops early.
    let sql = format!(
        "SELECT m.id, m.ticket_id, m.direction, m.body, m.sent_at, c.name, t.subject, t.status
         FROM message_fts f
         JOIN messages m ON m.id = f.rowid
         JOIN tickets t ON t.id = m.ticket_id
         JOIN identities i ON i.id = t.identity_id
         JOIN contacts c ON c.id = t.requester_id
         WHERE {} ORDER BY f.rowid DESC LIMIT {limit}",
        w.sql()
    );
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(values(w.params)), |r| {
        let status: String = r.get(7)?;
        Ok(MessageHit {
            message_id: r.get(0)?,
            ticket_id: r.get(1)?,
            direction: r.get(2)?,
            body: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            sent_at: Timestamp::from_unix_millis(r.get(4)?),
            contact_name: r.get(5)?,
            ticket_subject: r.get(6)?,
            ticket_status: TicketStatus::parse(&status).unwrap_or(TicketStatus::Open),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

mod impls {
    use async_trait::async_trait;

    use super::super::SqliteStore;
    use crate::error::StoreError;
    use crate::model::TicketSummary;
    use crate::search_model::*;
    use crate::SearchStore;

    #[async_trait]
    impl SearchStore for SqliteStore {
        async fn search_tickets(&self, search: &Search) -> Result<Vec<TicketSummary>, StoreError> {
            let s = search.clone();
            self.read(move |c| super::search_tickets(c, &s)).await
        }
        async fn search_customers(&self, search: &Search) -> Result<Vec<CustomerHit>, StoreError> {
            let s = search.clone();
            self.read(move |c| super::search_customers(c, &s)).await
        }
        async fn search_messages(&self, search: &Search) -> Result<Vec<MessageHit>, StoreError> {
            let s = search.clone();
            self.read(move |c| super::search_messages(c, &s)).await
        }
    }
}
