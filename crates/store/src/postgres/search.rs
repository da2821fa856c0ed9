//! Search on PostgreSQL: GIN indexes over `to_tsvector('simple', wd_fold(...))` for message bodies,
//! ticket subjects and customer names, and `pg_trgm` over WhatsApp numbers (migration `0023_search`).

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Postgres, Row};
use windowdesk_core::{TicketStatus, Timestamp};

use super::api::{summary_row, SUMMARY_SELECT};
use super::PgStore;
use crate::error::StoreError;
use crate::model::TicketSummary;
use crate::search_model::*;
use crate::SearchStore;

fn bind_all(sql: &str, params: Vec<Param>) -> Query<'_, Postgres, PgArguments> {
    let mut q = sqlx::query(sql);
    for p in params {
        q = match p {
            Param::Int(i) => q.bind(i),
            Param::Text(s) => q.bind(s),
        };
    }
    q
}

/// A word no message holds, whose estimate is what the statistics give any word they did not see.
const UNSEEN_WORD: &str = "wdunseenwordzq";

impl PgStore {
    /// How many messages PostgreSQL's statistics say hold the words of `q` (a `tsquery`): the
    /// planner's estimate, about 0.2 ms to get. A word ANALYZE saw often is counted from its
    /// frequency; one it did not see is estimated low.
    async fn estimated_messages(&self, q: &str) -> Result<f64, StoreError> {
        let plan: serde_json::Value = sqlx::query_scalar(&format!(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM messages m WHERE {} @@ to_tsquery('simple', wd_fold($1))",
            TextIndex::MessageBody.tsvector()
        ))
        .bind(q)
        .fetch_one(self.api_pool())
        .await?;
        Ok(plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(f64::MAX))
    }

    /// The common-word plan, over the newest `walk` tickets passing the filters: each is checked
    /// for a message or a subject holding the words, newest first, until the page is full. The
    /// columns are checked as written (`|| ''` keeps the words' index out of it: asking it for a
    /// common word reads its whole list). Returns the tickets found and, when the walk stopped at its
    /// bound without filling the page, the oldest ticket it looked at.
    async fn walk_tickets(&self, s: &Search, q: &str, walk: i64) -> Result<(Vec<i64>, Option<i64>), StoreError> {
        let mut w = Clauses::new(Dialect::Postgres);
        w.ticket_filters(s);
        w.phones(s, "t.identity_id");
        w.before(s, "t.id");
        let offset = w.bind(Param::Int((walk - 1).max(0)));
        let sql = format!(
            "SELECT t.id FROM tickets t JOIN identities i ON i.id = t.identity_id WHERE {} ORDER BY t.id DESC OFFSET {offset} LIMIT 1",
            w.sql()
        );
        let bound: Option<i64> = bind_all(&sql, w.params).fetch_optional(self.api_pool()).await?.map(|r| r.try_get(0)).transpose()?;
        let mut w = Clauses::new(Dialect::Postgres);
        w.ticket_filters(s);
        w.phones(s, "t.identity_id");
        w.before(s, "t.id");
        if let Some(bound) = bound {
            let b = w.bind(Param::Int(bound));
            w.push(format!("t.id >= {b}"));
        }
        let p = w.bind(Param::Text(q.to_owned()));
        w.push(format!(
            "(EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id
                       AND to_tsvector('simple', wd_fold(m.body || '')) @@ to_tsquery('simple', wd_fold({p})))
              OR to_tsvector('simple', wd_fold(t.subject || '')) @@ to_tsquery('simple', wd_fold({p})))"
        ));
        let limit = i64::from(s.limit.max(1));
        let l = w.bind(Param::Int(limit));
        let sql =
            format!("SELECT t.id FROM tickets t JOIN identities i ON i.id = t.identity_id WHERE {} ORDER BY t.id DESC LIMIT {l}", w.sql());
        let rows = bind_all(&sql, w.params).fetch_all(self.api_pool()).await?;
        let found: Vec<i64> = rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
        let stopped = if (found.len() as i64) < limit { bound } else { None };
        Ok((found, stopped))
    }

    /// The rare-word plan: every ticket with a message or a subject holding the words, from the
    /// words' indexes (collected first, so the planner cannot turn it into a walk), then filtered.
    async fn indexed_tickets(&self, s: &Search, q: &str, limit: i64) -> Result<Vec<i64>, StoreError> {
        let mut w = Clauses::new(Dialect::Postgres);
        let p = w.bind(Param::Text(q.to_owned()));
        w.push("t.id IN (SELECT id FROM hits)".into());
        w.ticket_filters(s);
        w.phones(s, "t.identity_id");
        w.before(s, "t.id");
        let l = w.bind(Param::Int(limit));
        let sql = format!(
            "WITH hits AS MATERIALIZED (
                 SELECT m.ticket_id AS id FROM messages m WHERE {} @@ to_tsquery('simple', wd_fold({p}))
                 UNION SELECT t.id FROM tickets t WHERE {} @@ to_tsquery('simple', wd_fold({p})))
             SELECT t.id FROM tickets t JOIN identities i ON i.id = t.identity_id WHERE {} ORDER BY t.id DESC LIMIT {l}",
            TextIndex::MessageBody.tsvector(),
            TextIndex::TicketSubject.tsvector(),
            w.sql()
        );
        let rows = bind_all(&sql, w.params).fetch_all(self.api_pool()).await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }
}

#[async_trait]
impl SearchStore for PgStore {
    async fn search_tickets(&self, s: &Search) -> Result<Vec<TicketSummary>, StoreError> {
        let Some(q) = s.query.tsquery() else {
            let mut w = Clauses::new(Dialect::Postgres);
            w.ticket_filters(s);
            w.phones(s, "t.identity_id");
            w.before(s, "t.id");
            let limit = w.bind(Param::Int(i64::from(s.limit.max(1))));
            let sql = format!("{SUMMARY_SELECT} WHERE {} ORDER BY t.id DESC LIMIT {limit}", w.sql());
            let rows = bind_all(&sql, w.params).fetch_all(self.api_pool()).await?;
            return rows.iter().map(summary_row).collect();
        };
        // A common word is found in the newest tickets: they are walked, up to a bound. A rare one
        // (or one the walk did not find enough of) comes from the words' indexes. Which is which
        // comes from the planner's statistics (run ANALYZE after a bulk import); left to itself,
        // the planner walked every ticket for a word it had not seen (29 s at 600,000 messages) and
        // collected every message of a common one.
        let limit = i64::from(s.limit.max(1));
        let mut ids = Vec::new();
        let mut rest = s.clone();
        // A word the statistics did not see is estimated from the rarest word they did (half its
        // frequency): that can exceed the threshold on a small vocabulary, so a word estimated no
        // higher than a word that does not exist is rare too.
        let estimate = self.estimated_messages(&q).await?;
        let common =
            estimate > RARE_MESSAGES.load(Ordering::Relaxed) as f64 && estimate > self.estimated_messages(UNSEEN_WORD).await? * 1.01;
        if common {
            let (found, stopped) = self.walk_tickets(s, &q, WALK_TICKETS.load(Ordering::Relaxed)).await?;
            ids = found;
            match stopped {
                Some(oldest) => rest.before = Some(oldest),
                None => rest.limit = 0,
            }
        }
        if rest.limit > 0 {
            ids.extend(self.indexed_tickets(&rest, &q, limit - ids.len() as i64).await?);
        }
        let sql = format!("{SUMMARY_SELECT} WHERE t.id = ANY($1) ORDER BY t.id DESC");
        let rows = sqlx::query(&sql).bind(&ids).fetch_all(self.api_pool()).await?;
        rows.iter().map(summary_row).collect()
    }

    async fn search_customers(&self, s: &Search) -> Result<Vec<CustomerHit>, StoreError> {
        if !s.query.has_terms() {
            return Ok(Vec::new());
        }
        let mut w = Clauses::new(Dialect::Postgres);
        w.customer_identities(s);
        if let Some(name) = w.text_match(s, TextIndex::ContactName, "c.id") {
            w.push(name);
        }
        w.before(s, "c.id");
        let limit = w.bind(Param::Int(i64::from(s.limit.max(1))));
        let sql = format!(
            "SELECT c.id, c.name, (SELECT COUNT(*) FROM tickets t WHERE t.requester_id = c.id)
             FROM contacts c WHERE c.merged_into IS NULL AND {} ORDER BY c.id DESC LIMIT {limit}",
            w.sql()
        );
        let rows = bind_all(&sql, w.params).fetch_all(self.api_pool()).await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
        let identities = sqlx::query(
            "SELECT i.contact_id, i.id, i.wa_id, i.bsuid, b.phone_number_id, b.display_number FROM identities i
             JOIN business_numbers b ON b.id = i.business_number_id WHERE i.contact_id = ANY($1) ORDER BY i.id",
        )
        .bind(&ids)
        .fetch_all(self.api_pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let contact_id: i64 = r.try_get(0)?;
            let mut mine = Vec::new();
            for i in identities.iter().filter(|i| i.try_get::<i64, _>(0).ok() == Some(contact_id)) {
                mine.push(IdentityBrief {
                    id: i.try_get(1)?,
                    wa_id: i.try_get(2)?,
                    bsuid: i.try_get(3)?,
                    phone_number_id: i.try_get(4)?,
                    business_display_number: i.try_get(5)?,
                });
            }
            out.push(CustomerHit { contact_id, name: r.try_get(1)?, identities: mine, tickets: r.try_get(2)? });
        }
        Ok(out)
    }

    async fn search_messages(&self, s: &Search) -> Result<Vec<MessageHit>, StoreError> {
        let mut w = Clauses::new(Dialect::Postgres);
        let Some(body) = w.text_match(s, TextIndex::MessageBody, "m.id") else { return Ok(Vec::new()) };
        w.push(body);
        w.ticket_filters(s);
        w.phones(s, "t.identity_id");
        w.before(s, "m.id");
        let limit = w.bind(Param::Int(i64::from(s.limit.max(1))));
        let sql = format!(
            "SELECT m.id, m.ticket_id, m.direction, m.body, m.sent_at, c.name, t.subject, t.status
             FROM messages m
             JOIN tickets t ON t.id = m.ticket_id
             JOIN identities i ON i.id = t.identity_id
             JOIN contacts c ON c.id = t.requester_id
             WHERE {} ORDER BY m.id DESC LIMIT {limit}",
            w.sql()
        );
        let rows = bind_all(&sql, w.params).fetch_all(self.api_pool()).await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get(7)?;
                Ok(MessageHit {
                    message_id: r.try_get(0)?,
                    ticket_id: r.try_get(1)?,
                    direction: r.try_get(2)?,
                    body: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                    sent_at: Timestamp::from_unix_millis(r.try_get(4)?),
                    contact_name: r.try_get(5)?,
                    ticket_subject: r.try_get(6)?,
                    ticket_status: TicketStatus::parse(&status).unwrap_or(TicketStatus::Open),
                })
            })
            .collect()
    }
}
