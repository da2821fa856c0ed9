//! Sessions, inbox lists, read markers, notifications and saved views on PostgreSQL.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;
use windowdesk_core::{TicketStatus, Timestamp};

use super::api::{agent_row, summary_row, SUMMARY_SELECT};
use super::PgStore;
use crate::error::StoreError;
use crate::model::*;
use crate::web_model::*;
use crate::WebStore;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

/// The columns `api::agent_row` reads, from `agents a`.
const AGENT_COLUMNS: &str = "a.id, a.name, a.email, a.role, a.created_at, a.password_hash IS NOT NULL, a.deactivated_at IS NULL";

/// The WHERE clause of a list (parameters $1–$4) and its sort key column.
fn list_sql(list: &InboxList) -> (std::borrow::Cow<'static, str>, &'static str) {
    match list {
        InboxList::AssignedTo(_) => ("t.assignee_id = $1::bigint AND t.status IN ('new', 'open')".into(), "t.last_message_at"),
        InboxList::Unassigned => ("t.assignee_id IS NULL AND ($1::bigint IS NULL)".into(), "t.last_message_at"),
        InboxList::ClosingSoon { .. } => (
            "t.status IN ('new', 'open', 'pending') AND i.last_inbound_at > $1::bigint AND i.last_inbound_at <= $2::bigint".into(),
            "i.last_inbound_at",
        ),
        InboxList::Filter(f) => (filter_sql(f).into(), "t.last_message_at"),
    }
}

/// A view's WHERE clause with only the predicates it sets, so a prepared statement's generic plan can
/// use each one's index (`($2 IS NULL OR t.status = $2)` can use none). Every parameter is still
/// named, with its type: those the view leaves unset in a clause that is constant for the query.
fn filter_sql(f: &ViewFilter) -> String {
    let mut parts = Vec::with_capacity(4);
    if f.status.is_some() {
        parts.push("t.status = $2::text");
    }
    if f.tag.is_some() {
        parts.push("t.id IN (SELECT g.ticket_id FROM ticket_tags g WHERE g.tag = $3::text)");
    }
    match f.assignee {
        None => {}
        Some(AssigneeFilter::Unassigned) => parts.push("t.assignee_id IS NULL"),
        Some(AssigneeFilter::Agent(_)) => parts.push("t.assignee_id = $1::bigint"),
    }
    parts.push("($1::bigint IS NULL OR $2::text IS NULL OR $3::text IS NULL OR $4::int IS NOT NULL)");
    parts.join(" AND ")
}

/// The list parameters: ($1 bigint, $2 text-or-bigint, $3 text, $4 int), each typed by its cast in the SQL.
struct ListParams {
    p1: Option<i64>,
    p2_int: Option<i64>,
    p2_text: Option<String>,
    p3: Option<String>,
    p4: i32,
}

fn list_params(list: &InboxList) -> ListParams {
    let none = ListParams { p1: None, p2_int: None, p2_text: None, p3: None, p4: 0 };
    match list {
        InboxList::AssignedTo(a) => ListParams { p1: Some(*a), ..none },
        InboxList::Unassigned => none,
        InboxList::ClosingSoon { inbound_after, inbound_at_or_before } => {
            ListParams { p1: Some(inbound_after.unix_millis()), p2_int: Some(inbound_at_or_before.unix_millis()), ..none }
        }
        InboxList::Filter(f) => {
            let (mode, id) = match f.assignee {
                None => (0, None),
                Some(AssigneeFilter::Unassigned) => (1, None),
                Some(AssigneeFilter::Agent(id)) => (2, Some(id)),
            };
            ListParams { p1: id, p2_text: f.status.map(|s| s.as_str().to_owned()), p3: f.tag.clone(), p4: mode, ..none }
        }
    }
}

fn bind_list<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    list: &InboxList,
    p: &'q ListParams,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let q = q.bind(p.p1);
    let q = if matches!(list, InboxList::Filter(_)) { q.bind(p.p2_text.as_deref()) } else { q.bind(p.p2_int) };
    q.bind(p.p3.as_deref()).bind(p.p4)
}

fn view_row(r: &PgRow) -> Result<SavedViewRow, StoreError> {
    let status: Option<String> = r.try_get(3)?;
    let assignee: Option<String> = r.try_get(5)?;
    Ok(SavedViewRow {
        id: r.try_get(0)?,
        agent_id: r.try_get(1)?,
        name: r.try_get(2)?,
        filter: ViewFilter {
            status: status.as_deref().and_then(TicketStatus::parse),
            tag: r.try_get(4)?,
            assignee: assignee_from_text(assignee.as_deref()),
        },
        created_at: t(r.try_get(6)?),
    })
}

/// What the rows of one page show besides their tickets, for the tickets in `ids`, in one statement:
/// the read marker, the latest message (the thread's index, newest first, stops at the first message
/// that is not a note or a reaction), the customer's last message and whether a reply went out at or
/// after it.
async fn row_extras(pool: &sqlx::PgPool, ids: &[i64], reader: i64) -> Result<std::collections::HashMap<i64, RowExtras>, StoreError> {
    let sql = format!(
        "SELECT p.id, r.seen_at, lm.id, lm.direction, lm.kind, left(lm.body, 200), lm.author, lm.at, lm.delivery_state, li.at,
                EXISTS (SELECT 1 FROM messages o WHERE o.ticket_id = p.id AND o.direction = 'outbound'
                        AND COALESCE(o.went_out_at, o.sent_at) >= li.at AND o.delivery_state IN {REPLY_STATES}
                        AND (o.author IS NULL OR o.author NOT LIKE 'rule:%'))
         FROM unnest($1::bigint[]) AS p (id)
         LEFT JOIN ticket_reads r ON r.agent_id = $2 AND r.ticket_id = p.id
         LEFT JOIN LATERAL (
             SELECT m.id, m.direction, m.kind, m.body, m.author, COALESCE(m.went_out_at, m.sent_at) AS at, m.delivery_state
             FROM messages m
             WHERE m.ticket_id = p.id AND m.direction IN ('inbound', 'outbound') AND m.kind <> 'reaction'
             ORDER BY COALESCE(m.went_out_at, m.sent_at) DESC, m.id DESC LIMIT 1
         ) lm ON true
         LEFT JOIN LATERAL (
             SELECT MAX(i.sent_at) AS at FROM messages i WHERE i.ticket_id = p.id AND i.direction = 'inbound' AND i.kind <> 'reaction'
         ) li ON true"
    );
    let rows = sqlx::query(&sql).bind(ids).bind(reader).fetch_all(pool).await?;
    let mut out = std::collections::HashMap::with_capacity(rows.len());
    for r in &rows {
        let latest = match r.try_get::<Option<i64>, _>(2)? {
            Some(id) => Some(LatestMessage {
                message_id: id,
                direction: Direction::parse(&r.try_get::<String, _>(3)?).unwrap_or(Direction::System),
                kind: r.try_get(4)?,
                excerpt: r.try_get(5)?,
                author: r.try_get(6)?,
                at: t(r.try_get(7)?),
                delivery_state: r.try_get::<Option<String>, _>(8)?.as_deref().and_then(windowdesk_core::DeliveryState::parse),
            }),
            None => None,
        };
        let extras = RowExtras {
            seen_at: r.try_get(1)?,
            latest,
            last_inbound: r.try_get(9)?,
            replied_after: r.try_get::<Option<bool>, _>(10)?.unwrap_or(false),
        };
        out.insert(r.try_get::<i64, _>(0)?, extras);
    }
    Ok(out)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl WebStore for PgStore {
    async fn agent_credentials(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
        let sql = format!("SELECT {AGENT_COLUMNS}, a.password_hash FROM agents a WHERE a.email = $1");
        let row = sqlx::query(&sql).bind(email).fetch_optional(&self.inner.pool).await?;
        row.map(|r| Ok(Credentials { agent: agent_row(&r)?, password_hash: r.try_get(7)? })).transpose()
    }

    async fn set_agent_password(&self, agent_id: i64, password_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE agents SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(agent_id)
            .execute(&self.inner.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_agent_time_zone(&self, agent_id: i64, time_zone: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE agents SET time_zone = $1 WHERE id = $2").bind(time_zone).bind(agent_id).execute(&self.inner.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_agent_role(&self, agent_id: i64, role: AgentRole) -> Result<bool, StoreError> {
        let mut tx = self.inner.pool.begin().await?;
        // Every role change takes the same lock, so two demotions cannot both see another admin.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('windowdesk:agent-roles'))").execute(&mut *tx).await?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT role FROM agents WHERE id = $1").bind(agent_id).fetch_optional(&mut *tx).await?;
        let Some(current) = current else { return Ok(false) };
        if current == AgentRole::Admin.as_str() && role != AgentRole::Admin {
            let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agents WHERE role = 'admin' AND deactivated_at IS NULL")
                .fetch_one(&mut *tx)
                .await?;
            if admins <= 1 {
                return Err(StoreError::Conflict("this agent is the desk's only admin: make someone else admin first".into()));
            }
        }
        sqlx::query("UPDATE agents SET role = $1 WHERE id = $2").bind(role.as_str()).bind(agent_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_agent_active(&self, agent_id: i64, active: bool, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.inner.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('windowdesk:agent-roles'))").execute(&mut *tx).await?;
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM agents WHERE id = $1").bind(agent_id).fetch_optional(&mut *tx).await?;
        let Some(role) = role else { return Ok(false) };
        if !active && role == AgentRole::Admin.as_str() {
            let others: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM agents WHERE role = 'admin' AND deactivated_at IS NULL AND id <> $1")
                    .bind(agent_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if others == 0 {
                return Err(StoreError::Conflict("this agent is the desk's only active admin: make someone else admin first".into()));
            }
        }
        if active {
            sqlx::query("UPDATE agents SET deactivated_at = NULL WHERE id = $1").bind(agent_id).execute(&mut *tx).await?;
        } else {
            sqlx::query("UPDATE agents SET deactivated_at = COALESCE(deactivated_at, $2) WHERE id = $1")
                .bind(agent_id)
                .bind(now.unix_millis())
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM sessions WHERE agent_id = $1").bind(agent_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn create_session(&self, s: &NewSession) -> Result<(), StoreError> {
        let mut tx = self.inner.pool.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(s.now.unix_millis()).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO sessions (token_hash, agent_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&s.token_hash)
            .bind(s.agent_id)
            .bind(&s.csrf_token)
            .bind(s.now.unix_millis())
            .bind(s.expires_at.unix_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<SessionRow>, StoreError> {
        let sql = format!(
            "SELECT {AGENT_COLUMNS}, a.time_zone, s.csrf_token, s.expires_at FROM sessions s JOIN agents a ON a.id = s.agent_id
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.deactivated_at IS NULL"
        );
        let row = sqlx::query(&sql).bind(token_hash).bind(now.unix_millis()).fetch_optional(&self.inner.pool).await?;
        row.map(|r| {
            Ok(SessionRow { agent: agent_row(&r)?, time_zone: r.try_get(7)?, csrf_token: r.try_get(8)?, expires_at: t(r.try_get(9)?) })
        })
        .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.inner.pool).await?;
        Ok(())
    }

    async fn inbox(&self, q: &InboxQuery) -> Result<Vec<InboxItem>, StoreError> {
        let (filter, _) = list_sql(&q.list);
        let (key, ascending) = q.order();
        let (cmp, order) = if ascending { (">", "ASC") } else { ("<", "DESC") };
        let sql = format!(
            "{SUMMARY_SELECT}
             WHERE {filter} AND ($5::bigint IS NULL OR {key} {cmp} $5 OR ({key} = $5 AND t.id {cmp} $6::bigint))
               AND ($8::bigint IS NULL OR t.business_number_id = $8) AND ($9::bigint IS NULL OR i.last_inbound_at > $9)
             ORDER BY {key} {order}, t.id {order} LIMIT $7"
        );
        let params = list_params(&q.list);
        let rows = bind_list(sqlx::query(&sql), &q.list, &params)
            .bind(q.after.map(|a| a.key))
            .bind(q.after.map(|a| a.id))
            .bind(i64::from(q.limit.max(1)))
            .bind(q.number)
            .bind(q.open_after().map(Timestamp::unix_millis))
            .fetch_all(&self.inner.pool)
            .await?;
        let summaries: Vec<TicketSummary> = rows.iter().map(summary_row).collect::<Result<_, _>>()?;
        let ids: Vec<i64> = summaries.iter().map(|s| s.ticket.id).collect();
        let mut extras = row_extras(&self.inner.pool, &ids, q.reader).await?;
        Ok(summaries
            .into_iter()
            .map(|summary| extras.remove(&summary.ticket.id).unwrap_or_default().item(summary, key == "i.last_inbound_at"))
            .collect())
    }

    async fn inbox_count(&self, list: &InboxList) -> Result<u64, StoreError> {
        let (filter, _) = list_sql(list);
        let join = if list.reads_identity() { "JOIN identities i ON i.id = t.identity_id" } else { "" };
        let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM tickets t {join} WHERE {filter} LIMIT {COUNT_CAP}) capped");
        let params = list_params(list);
        let row = bind_list(sqlx::query(&sql), list, &params).fetch_one(&self.inner.pool).await?;
        Ok(count(row.try_get(0)?))
    }

    async fn failed_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE direction = 'outbound' AND delivery_state IN ('failed', 'blocked') AND resolution IS NULL AND ticket_id IS NOT NULL LIMIT {COUNT_CAP}) capped"
        ))
        .fetch_one(&self.inner.pool)
        .await?;
        Ok(count(n))
    }

    async fn mark_ticket_read(&self, agent_id: i64, ticket_id: i64, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ticket_reads (agent_id, ticket_id, seen_at) VALUES ($1, $2, $3)
             ON CONFLICT (agent_id, ticket_id) DO UPDATE SET seen_at = GREATEST(ticket_reads.seen_at, excluded.seen_at)",
        )
        .bind(agent_id)
        .bind(ticket_id)
        .bind(now.unix_millis())
        .execute(&self.inner.pool)
        .await?;
        Ok(())
    }

    async fn notifications(&self, agent_id: i64, limit: u32) -> Result<Vec<NotificationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.id, n.ticket_id, n.message_id, n.kind, n.actor, substr(m.body, 1, 140), n.created_at, n.read_at
             FROM notifications n LEFT JOIN messages m ON m.id = n.message_id
             WHERE n.agent_id = $1 ORDER BY n.id DESC LIMIT $2",
        )
        .bind(agent_id)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.inner.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NotificationRow {
                    id: r.try_get(0)?,
                    ticket_id: r.try_get(1)?,
                    message_id: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    actor: r.try_get(4)?,
                    excerpt: r.try_get(5)?,
                    created_at: t(r.try_get(6)?),
                    read_at: r.try_get::<Option<i64>, _>(7)?.map(t),
                })
            })
            .collect()
    }

    async fn unread_notifications(&self, agent_id: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE agent_id = $1 AND read_at IS NULL")
            .bind(agent_id)
            .fetch_one(&self.inner.pool)
            .await?;
        Ok(count(n))
    }

    async fn mark_notifications_read(&self, agent_id: i64, ticket_id: i64, now: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE notifications SET read_at = $1 WHERE agent_id = $2 AND ticket_id = $3 AND read_at IS NULL")
            .bind(now.unix_millis())
            .bind(agent_id)
            .bind(ticket_id)
            .execute(&self.inner.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn saved_views(&self, agent_id: i64) -> Result<Vec<SavedViewRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, agent_id, name, status, tag, assignee, created_at FROM saved_views
             WHERE agent_id IS NULL OR agent_id = $1 ORDER BY name, id",
        )
        .bind(agent_id)
        .fetch_all(&self.inner.pool)
        .await?;
        rows.iter().map(view_row).collect()
    }

    async fn create_saved_view(&self, v: &NewSavedView) -> Result<SavedViewRow, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO saved_views (agent_id, name, status, tag, assignee, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(v.agent_id)
        .bind(&v.name)
        .bind(v.filter.status.map(TicketStatus::as_str))
        .bind(v.filter.tag.as_deref())
        .bind(assignee_to_text(v.filter.assignee))
        .bind(v.now.unix_millis())
        .fetch_one(&self.inner.pool)
        .await?;
        Ok(SavedViewRow { id, agent_id: v.agent_id, name: v.name.clone(), filter: v.filter.clone(), created_at: v.now })
    }

    async fn update_saved_view(
        &self,
        agent_id: i64,
        view_id: i64,
        admin: bool,
        name: &str,
        filter: &ViewFilter,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE saved_views SET name = $4, status = $5, tag = $6, assignee = $7
             WHERE id = $1 AND (agent_id = $2 OR (agent_id IS NULL AND $3))",
        )
        .bind(view_id)
        .bind(agent_id)
        .bind(admin)
        .bind(name)
        .bind(filter.status.map(TicketStatus::as_str))
        .bind(filter.tag.as_deref())
        .bind(assignee_to_text(filter.assignee))
        .execute(&self.inner.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_saved_view(&self, agent_id: i64, view_id: i64, admin: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM saved_views WHERE id = $1 AND (agent_id = $2 OR (agent_id IS NULL AND $3))")
            .bind(view_id)
            .bind(agent_id)
            .bind(admin)
            .execute(&self.inner.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
