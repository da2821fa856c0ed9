//! Sessions, inbox lists, read markers, notifications and saved views on SQLite.

use rusqlite::{params, Connection, OptionalExtension, Row};
use windowdesk_core::{TicketStatus, Timestamp};

use super::api::{agent_row, summary_row, SUMMARY_SELECT, SUMMARY_SELECT_BY_WINDOW};
use crate::error::StoreError;
use crate::model::*;
use crate::web_model::*;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

/// The columns `api::agent_row` reads, from `agents a`.
const AGENT_COLUMNS: &str = "a.id, a.name, a.email, a.role, a.created_at, a.password_hash IS NOT NULL, a.deactivated_at IS NULL";

pub(crate) fn agent_credentials(c: &Connection, email: &str) -> Result<Option<Credentials>, StoreError> {
    let sql = format!("SELECT {AGENT_COLUMNS}, a.password_hash FROM agents a WHERE a.email = ?1");
    Ok(c.prepare_cached(&sql)?
        .query_row(params![email], |r| Ok(Credentials { agent: agent_row(r)?, password_hash: r.get(7)? }))
        .optional()?)
}

pub(crate) fn set_agent_password(c: &mut Connection, agent_id: i64, hash: &str) -> Result<bool, StoreError> {
    Ok(c.execute("UPDATE agents SET password_hash = ?1 WHERE id = ?2", params![hash, agent_id])? == 1)
}

pub(crate) fn set_agent_time_zone(c: &mut Connection, agent_id: i64, tz: &str) -> Result<bool, StoreError> {
    Ok(c.execute("UPDATE agents SET time_zone = ?1 WHERE id = ?2", params![tz, agent_id])? == 1)
}

pub(crate) fn create_session(c: &mut Connection, s: &NewSession) -> Result<(), StoreError> {
    let tx = c.transaction()?;
    tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", params![s.now.unix_millis()])?;
    tx.execute(
        "INSERT INTO sessions (token_hash, agent_id, csrf_token, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![s.token_hash, s.agent_id, s.csrf_token, s.now.unix_millis(), s.expires_at.unix_millis()],
    )?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn session(c: &Connection, hash: &str, now: Timestamp) -> Result<Option<SessionRow>, StoreError> {
    let sql = format!(
        "SELECT {AGENT_COLUMNS}, a.time_zone, s.csrf_token, s.expires_at FROM sessions s JOIN agents a ON a.id = s.agent_id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND a.deactivated_at IS NULL"
    );
    Ok(c.prepare_cached(&sql)?
        .query_row(params![hash, now.unix_millis()], |r| {
            Ok(SessionRow { agent: agent_row(r)?, time_zone: r.get(7)?, csrf_token: r.get(8)?, expires_at: t(r.get(9)?) })
        })
        .optional()?)
}

pub(crate) fn delete_session(c: &mut Connection, hash: &str) -> Result<(), StoreError> {
    c.execute("DELETE FROM sessions WHERE token_hash = ?1", params![hash])?;
    Ok(())
}

/// Every list binds all four parameters; SQLite insists each bound one appears in the statement.
const ALL_PARAMS: &str = "coalesce(?1, ?2, ?3, ?4, 0) IS NOT NULL";

/// The WHERE clause of a list (parameters ?1–?4, with [`ALL_PARAMS`]) and its sort key column.
fn list_sql(list: &InboxList) -> (std::borrow::Cow<'static, str>, &'static str) {
    match list {
        InboxList::AssignedTo(_) => ("t.assignee_id = ?1 AND t.status IN ('new', 'open')".into(), "t.last_message_at"),
        InboxList::Unassigned => ("t.assignee_id IS NULL".into(), "t.last_message_at"),
        InboxList::ClosingSoon { .. } => {
            ("t.status IN ('new', 'open', 'pending') AND i.last_inbound_at > ?1 AND i.last_inbound_at <= ?2".into(), "i.last_inbound_at")
        }
        InboxList::Filter(f) => (filter_sql(f).into(), "t.last_message_at"),
    }
}

/// A view's WHERE clause with only the predicates it sets. A generic `(?1 IS NULL OR t.status = ?1)`
/// is planned before the value is known, so it can use no index: counting the pending tickets read
/// a million closed ones first.
fn filter_sql(f: &ViewFilter) -> String {
    let mut parts = Vec::with_capacity(3);
    if f.status.is_some() {
        parts.push("t.status = ?1");
    }
    if f.tag.is_some() {
        parts.push("t.id IN (SELECT g.ticket_id FROM ticket_tags g WHERE g.tag = ?2)");
    }
    match f.assignee {
        None => {}
        Some(AssigneeFilter::Unassigned) => parts.push("t.assignee_id IS NULL"),
        Some(AssigneeFilter::Agent(_)) => parts.push("t.assignee_id = ?4"),
    }
    if parts.is_empty() {
        "1".to_owned()
    } else {
        parts.join(" AND ")
    }
}

/// The four list parameters as SQL values.
fn list_params(list: &InboxList) -> [rusqlite::types::Value; 4] {
    use rusqlite::types::Value;
    let null = || Value::Null;
    match list {
        InboxList::AssignedTo(a) => [Value::Integer(*a), null(), null(), null()],
        InboxList::Unassigned => [null(), null(), null(), null()],
        InboxList::ClosingSoon { inbound_after, inbound_at_or_before } => {
            [Value::Integer(inbound_after.unix_millis()), Value::Integer(inbound_at_or_before.unix_millis()), null(), null()]
        }
        InboxList::Filter(f) => {
            let (mode, id) = match f.assignee {
                None => (0, Value::Null),
                Some(AssigneeFilter::Unassigned) => (1, Value::Null),
                Some(AssigneeFilter::Agent(id)) => (2, Value::Integer(id)),
            };
            [
                f.status.map_or(Value::Null, |s| Value::Text(s.as_str().to_owned())),
                f.tag.clone().map_or(Value::Null, Value::Text),
                Value::Integer(mode),
                id,
            ]
        }
    }
}

pub(crate) fn inbox(c: &Connection, q: &InboxQuery) -> Result<Vec<InboxItem>, StoreError> {
    let (filter, _) = list_sql(&q.list);
    let (key, ascending) = q.order();
    let (cmp, order) = if ascending { (">", "ASC") } else { ("<", "DESC") };
    let select = if q.list.reads_identity() { SUMMARY_SELECT_BY_WINDOW } else { SUMMARY_SELECT };
    let sql = format!(
        "{select}
         WHERE {filter} AND {ALL_PARAMS} AND (?5 IS NULL OR {key} {cmp} ?5 OR ({key} = ?5 AND t.id {cmp} ?6))
           AND (?8 IS NULL OR t.business_number_id = ?8) AND (?9 IS NULL OR i.last_inbound_at > ?9)
         ORDER BY {key} {order}, t.id {order} LIMIT ?7"
    );
    let [p1, p2, p3, p4] = list_params(&q.list);
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            p1,
            p2,
            p3,
            p4,
            q.after.map(|a| a.key),
            q.after.map(|a| a.id),
            q.limit.max(1),
            q.number,
            q.open_after().map(Timestamp::unix_millis)
        ],
        summary_row,
    )?;
    let summaries: Vec<TicketSummary> = rows.collect::<Result<_, _>>()?;
    let ids = serde_json::Value::from(summaries.iter().map(|s| s.ticket.id).collect::<Vec<_>>()).to_string();
    let mut extras = row_extras(c, &ids, q.reader)?;
    Ok(summaries
        .into_iter()
        .map(|summary| extras.remove(&summary.ticket.id).unwrap_or_default().item(summary, key == "i.last_inbound_at"))
        .collect())
}

/// What the rows of one page show besides their tickets, for the tickets in `ids` (a JSON array), in
/// one statement: the read marker, the latest message (the thread's index, newest first, stops at
/// the first message that is not a note or a reaction), the customer's last message and whether a
/// reply went out at or after it.
fn row_extras(c: &Connection, ids: &str, reader: i64) -> Result<std::collections::HashMap<i64, RowExtras>, StoreError> {
    let sql = format!(
        "SELECT p.value,
                (SELECT r.seen_at FROM ticket_reads r WHERE r.agent_id = ?2 AND r.ticket_id = p.value),
                lm.id, lm.direction, lm.kind, substr(lm.body, 1, 200), lm.author, COALESCE(lm.went_out_at, lm.sent_at), lm.delivery_state,
                li.at,
                EXISTS (SELECT 1 FROM messages o WHERE o.ticket_id = p.value AND o.direction = 'outbound'
                        AND COALESCE(o.went_out_at, o.sent_at) >= li.at AND o.delivery_state IN {REPLY_STATES}
                        AND (o.author IS NULL OR o.author NOT LIKE 'rule:%'))
         FROM json_each(?1) p
         LEFT JOIN messages lm ON lm.id = (
             SELECT m.id FROM messages m
             WHERE m.ticket_id = p.value AND m.direction IN ('inbound', 'outbound') AND m.kind <> 'reaction'
             ORDER BY COALESCE(m.went_out_at, m.sent_at) DESC, m.id DESC LIMIT 1)
         LEFT JOIN (SELECT i.ticket_id, MAX(i.sent_at) AS at FROM messages i
                    WHERE i.ticket_id IN (SELECT value FROM json_each(?1)) AND i.direction = 'inbound' AND i.kind <> 'reaction'
                    GROUP BY i.ticket_id) li ON li.ticket_id = p.value"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![ids, reader], |r| {
        let latest = match r.get::<_, Option<i64>>(2)? {
            Some(id) => Some(LatestMessage {
                message_id: id,
                direction: Direction::parse(&r.get::<_, String>(3)?).unwrap_or(Direction::System),
                kind: r.get(4)?,
                excerpt: r.get(5)?,
                author: r.get(6)?,
                at: t(r.get(7)?),
                delivery_state: r.get::<_, Option<String>>(8)?.as_deref().and_then(windowdesk_core::DeliveryState::parse),
            }),
            None => None,
        };
        let extras = RowExtras {
            seen_at: r.get(1)?,
            latest,
            last_inbound: r.get(9)?,
            replied_after: r.get::<_, Option<bool>>(10)?.unwrap_or(false),
        };
        Ok((r.get::<_, i64>(0)?, extras))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn inbox_count(c: &Connection, list: &InboxList) -> Result<u64, StoreError> {
    let (filter, _) = list_sql(list);
    // A list on the window (closing soon) starts from the identities in its range (their index), not
    // from every open ticket: CROSS JOIN fixes that order for SQLite's planner.
    let from = if list.reads_identity() { "identities i CROSS JOIN tickets t ON t.identity_id = i.id" } else { "tickets t" };
    let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM {from} WHERE {filter} AND {ALL_PARAMS} LIMIT {COUNT_CAP})");
    let [p1, p2, p3, p4] = list_params(list);
    let n: i64 = c.prepare_cached(&sql)?.query_row(params![p1, p2, p3, p4], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn failed_count(c: &Connection) -> Result<u64, StoreError> {
    let n: i64 = c
        .prepare_cached(
            &format!("SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE direction = 'outbound' AND delivery_state IN ('failed', 'blocked') AND resolution IS NULL AND +ticket_id IS NOT NULL LIMIT {COUNT_CAP})"),
        )?
        .query_row([], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn mark_ticket_read(c: &mut Connection, agent_id: i64, ticket_id: i64, now: Timestamp) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO ticket_reads (agent_id, ticket_id, seen_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (agent_id, ticket_id) DO UPDATE SET seen_at = MAX(seen_at, excluded.seen_at)",
    )?
    .execute(params![agent_id, ticket_id, now.unix_millis()])?;
    Ok(())
}

pub(crate) fn notifications(c: &Connection, agent_id: i64, limit: u32) -> Result<Vec<NotificationRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT n.id, n.ticket_id, n.message_id, n.kind, n.actor, substr(m.body, 1, 140), n.created_at, n.read_at
         FROM notifications n LEFT JOIN messages m ON m.id = n.message_id
         WHERE n.agent_id = ?1 ORDER BY n.id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![agent_id, limit.max(1)], |r| {
        Ok(NotificationRow {
            id: r.get(0)?,
            ticket_id: r.get(1)?,
            message_id: r.get(2)?,
            kind: r.get(3)?,
            actor: r.get(4)?,
            excerpt: r.get(5)?,
            created_at: t(r.get(6)?),
            read_at: r.get::<_, Option<i64>>(7)?.map(t),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn unread_notifications(c: &Connection, agent_id: i64) -> Result<u64, StoreError> {
    let n: i64 = c
        .prepare_cached("SELECT COUNT(*) FROM notifications WHERE agent_id = ?1 AND read_at IS NULL")?
        .query_row(params![agent_id], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn mark_notifications_read(c: &mut Connection, agent_id: i64, ticket_id: i64, now: Timestamp) -> Result<u64, StoreError> {
    let n = c.execute(
        "UPDATE notifications SET read_at = ?1 WHERE agent_id = ?2 AND ticket_id = ?3 AND read_at IS NULL",
        params![now.unix_millis(), agent_id, ticket_id],
    )?;
    Ok(n as u64)
}

fn view_row(r: &Row<'_>) -> rusqlite::Result<SavedViewRow> {
    let status: Option<String> = r.get(3)?;
    let assignee: Option<String> = r.get(5)?;
    Ok(SavedViewRow {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        name: r.get(2)?,
        filter: ViewFilter {
            status: status.as_deref().and_then(TicketStatus::parse),
            tag: r.get(4)?,
            assignee: assignee_from_text(assignee.as_deref()),
        },
        created_at: t(r.get(6)?),
    })
}

pub(crate) fn saved_views(c: &Connection, agent_id: i64) -> Result<Vec<SavedViewRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, agent_id, name, status, tag, assignee, created_at FROM saved_views
         WHERE agent_id IS NULL OR agent_id = ?1 ORDER BY name, id",
    )?;
    let rows = stmt.query_map(params![agent_id], view_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn create_saved_view(c: &mut Connection, v: &NewSavedView) -> Result<SavedViewRow, StoreError> {
    c.execute(
        "INSERT INTO saved_views (agent_id, name, status, tag, assignee, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            v.agent_id,
            v.name,
            v.filter.status.map(TicketStatus::as_str),
            v.filter.tag,
            assignee_to_text(v.filter.assignee),
            v.now.unix_millis()
        ],
    )?;
    Ok(SavedViewRow { id: c.last_insert_rowid(), agent_id: v.agent_id, name: v.name.clone(), filter: v.filter.clone(), created_at: v.now })
}

pub(crate) fn set_agent_role(c: &mut Connection, agent_id: i64, role: AgentRole) -> Result<bool, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: Option<String> = tx.query_row("SELECT role FROM agents WHERE id = ?1", params![agent_id], |r| r.get(0)).optional()?;
    let Some(current) = current else { return Ok(false) };
    if current == AgentRole::Admin.as_str() && role != AgentRole::Admin {
        let admins: i64 = tx.query_row("SELECT COUNT(*) FROM agents WHERE role = 'admin' AND deactivated_at IS NULL", [], |r| r.get(0))?;
        if admins <= 1 {
            return Err(StoreError::Conflict("this agent is the desk's only admin: make someone else admin first".into()));
        }
    }
    tx.execute("UPDATE agents SET role = ?1 WHERE id = ?2", params![role.as_str(), agent_id])?;
    tx.commit()?;
    Ok(true)
}

pub(crate) fn set_agent_active(c: &mut Connection, agent_id: i64, active: bool, now: Timestamp) -> Result<bool, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let role: Option<String> = tx.query_row("SELECT role FROM agents WHERE id = ?1", params![agent_id], |r| r.get(0)).optional()?;
    let Some(role) = role else { return Ok(false) };
    if !active && role == AgentRole::Admin.as_str() {
        let others: i64 = tx.query_row(
            "SELECT COUNT(*) FROM agents WHERE role = 'admin' AND deactivated_at IS NULL AND id <> ?1",
            params![agent_id],
            |r| r.get(0),
        )?;
        if others == 0 {
            return Err(StoreError::Conflict("this agent is the desk's only active admin: make someone else admin first".into()));
        }
    }
    if active {
        tx.execute("UPDATE agents SET deactivated_at = NULL WHERE id = ?1", params![agent_id])?;
    } else {
        tx.execute("UPDATE agents SET deactivated_at = COALESCE(deactivated_at, ?2) WHERE id = ?1", params![agent_id, now.unix_millis()])?;
        tx.execute("DELETE FROM sessions WHERE agent_id = ?1", params![agent_id])?;
    }
    tx.commit()?;
    Ok(true)
}

pub(crate) fn update_saved_view(
    c: &mut Connection,
    agent_id: i64,
    view_id: i64,
    admin: bool,
    name: &str,
    filter: &ViewFilter,
) -> Result<bool, StoreError> {
    let n = c.execute(
        "UPDATE saved_views SET name = ?4, status = ?5, tag = ?6, assignee = ?7
         WHERE id = ?1 AND (agent_id = ?2 OR (agent_id IS NULL AND ?3))",
        params![
            view_id,
            agent_id,
            admin,
            name,
            filter.status.map(TicketStatus::as_str),
            filter.tag.as_deref(),
            assignee_to_text(filter.assignee)
        ],
    )?;
    Ok(n == 1)
}

pub(crate) fn delete_saved_view(c: &mut Connection, agent_id: i64, view_id: i64, admin: bool) -> Result<bool, StoreError> {
    let n = c.execute(
        "DELETE FROM saved_views WHERE id = ?1 AND (agent_id = ?2 OR (agent_id IS NULL AND ?3))",
        params![view_id, agent_id, admin],
    )?;
    Ok(n == 1)
}

mod impls {
    use async_trait::async_trait;
    use windowdesk_core::Timestamp;

    use super::super::SqliteStore;
    use crate::error::StoreError;
    use crate::web_model::*;
    use crate::WebStore;

    #[async_trait]
    impl WebStore for SqliteStore {
        async fn agent_credentials(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
            let email = email.to_owned();
            self.read(move |c| super::agent_credentials(c, &email)).await
        }
        async fn set_agent_password(&self, agent_id: i64, password_hash: &str) -> Result<bool, StoreError> {
            let hash = password_hash.to_owned();
            self.inner.writer.run(move |c| super::set_agent_password(c, agent_id, &hash)).await
        }
        async fn set_agent_time_zone(&self, agent_id: i64, time_zone: &str) -> Result<bool, StoreError> {
            let tz = time_zone.to_owned();
            self.inner.writer.run(move |c| super::set_agent_time_zone(c, agent_id, &tz)).await
        }
        async fn set_agent_role(&self, agent_id: i64, role: crate::AgentRole) -> Result<bool, StoreError> {
            self.inner.writer.run(move |c| super::set_agent_role(c, agent_id, role)).await
        }
        async fn set_agent_active(&self, agent_id: i64, active: bool, now: Timestamp) -> Result<bool, StoreError> {
            self.inner.writer.run(move |c| super::set_agent_active(c, agent_id, active, now)).await
        }
        async fn create_session(&self, session: &NewSession) -> Result<(), StoreError> {
            let session = session.clone();
            self.inner.writer.run(move |c| super::create_session(c, &session)).await
        }
        async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<SessionRow>, StoreError> {
            let hash = token_hash.to_owned();
            self.read(move |c| super::session(c, &hash, now)).await
        }
        async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
            let hash = token_hash.to_owned();
            self.inner.writer.run(move |c| super::delete_session(c, &hash)).await
        }
        async fn inbox(&self, query: &InboxQuery) -> Result<Vec<InboxItem>, StoreError> {
            let query = query.clone();
            self.read(move |c| super::inbox(c, &query)).await
        }
        async fn inbox_count(&self, list: &InboxList) -> Result<u64, StoreError> {
            let list = list.clone();
            self.read(move |c| super::inbox_count(c, &list)).await
        }
        async fn failed_count(&self) -> Result<u64, StoreError> {
            self.read(super::failed_count).await
        }
        async fn mark_ticket_read(&self, agent_id: i64, ticket_id: i64, now: Timestamp) -> Result<(), StoreError> {
            self.inner.writer.run(move |c| super::mark_ticket_read(c, agent_id, ticket_id, now)).await
        }
        async fn notifications(&self, agent_id: i64, limit: u32) -> Result<Vec<NotificationRow>, StoreError> {
            self.read(move |c| super::notifications(c, agent_id, limit)).await
        }
        async fn unread_notifications(&self, agent_id: i64) -> Result<u64, StoreError> {
            self.read(move |c| super::unread_notifications(c, agent_id)).await
        }
        async fn mark_notifications_read(&self, agent_id: i64, ticket_id: i64, now: Timestamp) -> Result<u64, StoreError> {
            self.inner.writer.run(move |c| super::mark_notifications_read(c, agent_id, ticket_id, now)).await
        }
        async fn saved_views(&self, agent_id: i64) -> Result<Vec<SavedViewRow>, StoreError> {
            self.read(move |c| super::saved_views(c, agent_id)).await
        }
        async fn create_saved_view(&self, view: &NewSavedView) -> Result<SavedViewRow, StoreError> {
            let view = view.clone();
            self.inner.writer.run(move |c| super::create_saved_view(c, &view)).await
        }
        async fn delete_saved_view(&self, agent_id: i64, view_id: i64, admin: bool) -> Result<bool, StoreError> {
            self.inner.writer.run(move |c| super::delete_saved_view(c, agent_id, view_id, admin)).await
        }
        async fn update_saved_view(
            &self,
            agent_id: i64,
            view_id: i64,
            admin: bool,
            name: &str,
            filter: &ViewFilter,
        ) -> Result<bool, StoreError> {
            let (name, filter) = (name.to_owned(), filter.clone());
            self.inner.writer.run(move |c| super::update_saved_view(c, agent_id, view_id, admin, &name, &filter)).await
        }
    }
}
