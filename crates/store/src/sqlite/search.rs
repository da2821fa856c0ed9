//! Search on SQLite: FTS5 tables kept by triggers (migration `0022_search`) for message bodies,
//! ticket subjects and customer names, and a `trigram` FTS5 table for WhatsApp numbers.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};
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

/// How many messages hold the query's rarest word, counted no further than just past
/// [`RARE_MESSAGES`]: enough to choose the plan. (FTS5's vocabulary table counts a word's whole
/// list: 50 ms for a word in 1.8 million messages; stopping at 20,001 takes about 1 ms.)
fn rarest_word_messages(c: &Connection, s: &Search) -> Result<i64, StoreError> {
    let cap = RARE_MESSAGES.load(std::sync::atomic::Ordering::Relaxed).saturating_add(1).max(0);
    let mut stmt = c.prepare_cached("SELECT count(*) FROM (SELECT 1 FROM message_fts WHERE message_fts MATCH ?1 LIMIT ?2)")?;
    let mut rarest = i64::MAX;
    for word in s.query.words() {
        let n: i64 = stmt.query_row(rusqlite::params![format!("\"{word}\""), cap], |r| r.get(0))?;
        rarest = rarest.min(n);
    }
    Ok(rarest)
}

pub(crate) fn search_tickets(c: &Connection, s: &Search) -> Result<Vec<TicketSummary>, StoreError> {
    if let Some(m) = s.query.fts5_match() {
        if rarest_word_messages(c, s)? > RARE_MESSAGES.load(std::sync::atomic::Ordering::Relaxed) {
            let ids = walk_tickets(c, s, &m)?;
            let sql = format!("{SUMMARY_SELECT} WHERE t.id IN (SELECT value FROM json_each(?1)) ORDER BY t.id DESC");
            let ids = serde_json::Value::from(ids).to_string();
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([ids], summary_row)?;
            return Ok(rows.collect::<Result<_, _>>()?);
        }
    }
    let mut w = Clauses::new(Dialect::Sqlite);
    w.ticket_filters(s);
    w.phones(s, "t.identity_id");
    if let Some(m) = s.query.fts5_match() {
        // A rare word: the few messages that hold it lead to their tickets.
        let p = w.bind(Param::Text(m));
        w.push(format!(
            "(t.id IN (SELECT m.ticket_id FROM message_fts f JOIN messages m ON m.id = f.rowid WHERE message_fts MATCH {p})
              OR t.id IN (SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH {p}))"
        ));
    }
    w.before(s, "t.id");
    let limit = w.bind(Param::Int(i64::from(s.limit.max(1))));
    let sql = format!("{SUMMARY_SELECT} WHERE {} ORDER BY t.id DESC LIMIT {limit}", w.sql());
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(values(w.params)), summary_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Tickets the common-word plan looks at together.
const WALK_BATCH: usize = 200;
/// Message ids further apart than this are looked up in the word's index as separate ranges, so one
/// old ticket's first message does not make a range span months of messages.
const RANGE_GAP: i64 = 2_000;

/// The common-word plan: the tickets that pass the filters, newest first, a batch at a time; each
/// batch's message ids (from the thread index) are asked of the word's index as a few id ranges, and
/// the batch's subjects as one. A probe of FTS5 per message costs a seek in every segment (about
/// 0.2 ms at 10 million messages); a range costs about that for a thousand messages.
fn walk_tickets(c: &Connection, s: &Search, m: &str) -> Result<Vec<i64>, StoreError> {
    let limit = s.limit.max(1) as usize;
    let mut found = Vec::with_capacity(limit);
    let mut before = s.before;
    let mut in_messages = c.prepare_cached("SELECT rowid FROM message_fts WHERE message_fts MATCH ?1 AND rowid BETWEEN ?2 AND ?3")?;
    let mut in_subjects = c.prepare_cached("SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH ?1 AND rowid BETWEEN ?2 AND ?3")?;
    let mut thread = c.prepare_cached("SELECT m.id, m.ticket_id FROM messages m WHERE m.ticket_id IN (SELECT value FROM json_each(?1))")?;
    loop {
        let mut w = Clauses::new(Dialect::Sqlite);
        w.ticket_filters(s);
        w.phones(s, "t.identity_id");
        w.before(&Search { before, ..s.clone() }, "t.id");
        let sql = format!(
            "SELECT t.id FROM tickets t JOIN identities i ON i.id = t.identity_id WHERE {} ORDER BY t.id DESC LIMIT {WALK_BATCH}",
            w.sql()
        );
        let batch: Vec<i64> =
            c.prepare_cached(&sql)?.query_map(params_from_iter(values(w.params)), |r| r.get(0))?.collect::<Result<_, _>>()?;
        let (Some(&newest), Some(&oldest)) = (batch.first(), batch.last()) else { return Ok(found) };
        let mut hits: std::collections::HashSet<i64> =
            in_subjects.query_map(rusqlite::params![m, oldest, newest], |r| r.get(0))?.collect::<Result<_, _>>()?;
        let ids = serde_json::Value::from(batch.clone()).to_string();
        let mut messages: Vec<(i64, i64)> = thread.query_map([ids], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        messages.sort_unstable();
        let mut start = 0;
        while start < messages.len() {
            let mut end = start + 1;
            while end < messages.len() && messages[end].0 - messages[end - 1].0 <= RANGE_GAP {
                end += 1;
            }
            let range = &messages[start..end];
            let matched: std::collections::HashSet<i64> = in_messages
                .query_map(rusqlite::params![m, range[0].0, range[range.len() - 1].0], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            hits.extend(range.iter().filter(|(id, _)| matched.contains(id)).map(|(_, ticket)| *ticket));
            start = end;
        }
        for id in &batch {
            if hits.contains(id) {
                found.push(*id);
                if found.len() == limit {
                    return Ok(found);
                }
            }
        }
        if batch.len() < WALK_BATCH {
            return Ok(found);
        }
        before = Some(oldest);
    }
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
