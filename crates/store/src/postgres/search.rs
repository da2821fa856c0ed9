//! Search on PostgreSQL: GIN indexes over `to_tsvector('simple', wd_fold(...))` for message bodies,
//! ticket subjects and customer names, and `pg_trgm` over WhatsApp numbers (migration `0023_search`).

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

#[async_trait]
impl SearchStore for PgStore {
    async fn search_tickets(&self, s: &Search) -> Result<Vec<TicketSummary>, StoreError> {
        let mut w = Clauses::new(Dialect::Postgres);
        w.ticket_filters(s);
        w.phones(s, "t.identity_id");
        if let Some(q) = s.query.tsquery() {
            let p = w.bind(Param::Text(q));
            w.push(format!(
                "(t.id IN (SELECT m.ticket_id FROM messages m WHERE {} @@ to_tsquery('simple', wd_fold({p})))
                  OR {} @@ to_tsquery('simple', wd_fold({p})))",
                TextIndex::MessageBody.tsvector(),
                TextIndex::TicketSubject.tsvector()
            ));
        }
        w.before(s, "t.id");
        let limit = w.bind(Param::Int(i64::from(s.limit.max(1))));
        let sql = format!("{SUMMARY_SELECT} WHERE {} ORDER BY t.id DESC LIMIT {limit}", w.sql());
        let rows = bind_all(&sql, w.params).fetch_all(self.api_pool()).await?;
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
