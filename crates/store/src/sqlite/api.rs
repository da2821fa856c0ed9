//! API tokens, agents, and the ticket work of agents and API clients (tags, assignee, notes, failed
//! deliveries) on SQLite. Writes run on the writer thread, each in one immediate transaction.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use windowdesk_core::{CustomerWindow, DeliveryState, TicketStatus, Timestamp};

use crate::error::StoreError;
use crate::model::*;

/// Tags are joined with the unit separator, which a tag never contains.
const TAG_SEPARATOR: char = '\u{1f}';
/// `last_used_at` is written at most this often per token, so that authenticating stays a read.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

fn ot(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_unix_millis)
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

const TOKEN_COLUMNS: &str = "id, name, prefix, created_at, last_used_at, revoked_at";

fn token_row(r: &Row<'_>) -> rusqlite::Result<ApiTokenRow> {
    Ok(ApiTokenRow {
        id: r.get(0)?,
        name: r.get(1)?,
        prefix: r.get(2)?,
        created_at: t(r.get(3)?),
        last_used_at: ot(r.get(4)?),
        revoked_at: ot(r.get(5)?),
    })
}

pub(crate) fn create_api_token(conn: &mut Connection, name: &str, now: Timestamp) -> Result<CreatedApiToken, StoreError> {
    let (token, prefix, hash) = crate::tokens::generate();
    conn.execute(
        "INSERT INTO api_tokens (name, prefix, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, prefix, hash, now.unix_millis()],
    )?;
    let id = conn.last_insert_rowid();
    let row = ApiTokenRow { id, name: name.to_owned(), prefix, created_at: now, last_used_at: None, revoked_at: None };
    Ok(CreatedApiToken { row, token })
}

pub(crate) fn token_by_hash(c: &Connection, hash: &str) -> Result<Option<ApiTokenRow>, StoreError> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL");
    Ok(c.prepare_cached(&sql)?.query_row(params![hash], token_row).optional()?)
}

/// Whether `row` was last used long enough ago to be worth a write.
pub(crate) fn last_use_is_stale(row: &ApiTokenRow, now: Timestamp) -> bool {
    row.last_used_at.is_none_or(|at| now.unix_millis() - at.unix_millis() >= LAST_USED_RESOLUTION_MS)
}

pub(crate) fn touch_api_token(conn: &mut Connection, id: i64, now: Timestamp) -> Result<(), StoreError> {
    conn.execute("UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2", params![now.unix_millis(), id])?;
    Ok(())
}

pub(crate) fn api_tokens(c: &Connection) -> Result<Vec<ApiTokenRow>, StoreError> {
    let mut stmt = c.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id"))?;
    let rows = stmt.query_map([], token_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn revoke_api_token(conn: &mut Connection, id: i64, now: Timestamp) -> Result<bool, StoreError> {
    let n = conn.execute("UPDATE api_tokens SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL", params![now.unix_millis(), id])?;
    Ok(n == 1)
}

const AGENT_COLUMNS: &str = "id, name, email, role, created_at, password_hash IS NOT NULL, deactivated_at IS NULL";

pub(crate) fn agent_row(r: &Row<'_>) -> rusqlite::Result<AgentRow> {
    let role: String = r.get(3)?;
    Ok(AgentRow {
        id: r.get(0)?,
        name: r.get(1)?,
        email: r.get(2)?,
        role: AgentRole::parse(&role).unwrap_or(AgentRole::Agent),
        created_at: t(r.get(4)?),
        has_password: r.get(5)?,
        active: r.get(6)?,
    })
}

pub(crate) fn create_agent(conn: &mut Connection, a: &NewAgent) -> Result<AgentRow, StoreError> {
    let inserted = conn.execute(
        "INSERT INTO agents (name, email, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![a.name, a.email, a.role.as_str(), a.password_hash, a.now.unix_millis()],
    );
    match inserted {
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!("an agent with email {} already exists", a.email))),
        Err(e) => Err(e.into()),
        Ok(_) => Ok(AgentRow {
            id: conn.last_insert_rowid(),
            name: a.name.clone(),
            email: a.email.clone(),
            role: a.role,
            created_at: a.now,
            has_password: a.password_hash.is_some(),
            active: true,
        }),
    }
}

pub(crate) fn update_agent(conn: &mut Connection, id: i64, name: &str, email: &str) -> Result<Option<AgentRow>, StoreError> {
    let updated = conn.execute("UPDATE agents SET name = ?2, email = ?3 WHERE id = ?1", params![id, name, email]);
    match updated {
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!("an agent with email {email} already exists"))),
        Err(e) => Err(e.into()),
        Ok(0) => Ok(None),
        Ok(_) => agent(conn, id),
    }
}

pub(crate) fn agents(c: &Connection) -> Result<Vec<AgentRow>, StoreError> {
    let mut stmt = c.prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"))?;
    let rows = stmt.query_map([], agent_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn agent(c: &Connection, id: i64) -> Result<Option<AgentRow>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"))?.query_row(params![id], agent_row).optional()?)
}

/// The columns [`summary_row`] reads.
macro_rules! summary_columns {
    () => {
        "SELECT t.id, t.business_number_id, t.identity_id, t.requester_id, t.status, t.subject, t.assignee_id,
        t.followup_of, t.created_at, t.updated_at, t.last_message_at, b.phone_number_id, b.display_number, c.name, i.wa_id, i.bsuid,
        i.last_inbound_at, i.referral_at, i.fep_started_at,
        (SELECT group_concat(g.tag, char(31)) FROM ticket_tags g WHERE g.ticket_id = t.id), t.priority"
    };
}

pub(crate) const SUMMARY_SELECT: &str = concat!(
    summary_columns!(),
    "
     FROM tickets t
     JOIN business_numbers b ON b.id = t.business_number_id
     JOIN identities i ON i.id = t.identity_id
     JOIN contacts c ON c.id = t.requester_id"
);

/// [`SUMMARY_SELECT`] starting from the identities: for lists on the window, whose range of the last
/// customer message (its index) holds far fewer rows than the tickets. CROSS JOIN fixes that order
/// for SQLite's planner.
pub(crate) const SUMMARY_SELECT_BY_WINDOW: &str = concat!(
    summary_columns!(),
    "
     FROM identities i
     CROSS JOIN tickets t ON t.identity_id = i.id
     JOIN business_numbers b ON b.id = t.business_number_id
     JOIN contacts c ON c.id = t.requester_id"
);

pub(crate) fn split_tags(joined: Option<String>) -> Vec<String> {
    let mut tags: Vec<String> = joined.map(|j| j.split(TAG_SEPARATOR).map(str::to_owned).collect()).unwrap_or_default();
    tags.sort();
    tags
}

pub(crate) fn summary_row(r: &Row<'_>) -> rusqlite::Result<TicketSummary> {
    Ok(TicketSummary {
        ticket: super::queries::ticket_row(r)?,
        phone_number_id: r.get(11)?,
        business_display_number: r.get(12)?,
        contact_name: r.get(13)?,
        wa_id: r.get(14)?,
        bsuid: r.get(15)?,
        window: CustomerWindow { last_inbound_at: ot(r.get(16)?), referral_at: ot(r.get(17)?), fep_started_at: ot(r.get(18)?) },
        tags: split_tags(r.get(19)?),
        priority: windowdesk_core::routing::Priority::parse(&r.get::<_, String>(20)?).unwrap_or_default(),
    })
}

pub(crate) fn query_tickets(c: &Connection, q: &TicketQuery) -> Result<Vec<TicketSummary>, StoreError> {
    let sql = format!(
        "{SUMMARY_SELECT}
         WHERE (?1 IS NULL OR t.status = ?1) AND (?2 IS NULL OR t.business_number_id = ?2)
           AND (?3 = 0 OR (?3 = 1 AND t.assignee_id IS NULL) OR (?3 = 2 AND t.assignee_id = ?4))
           AND (?5 IS NULL OR EXISTS (SELECT 1 FROM ticket_tags g WHERE g.ticket_id = t.id AND g.tag = ?5))
           AND (?6 IS NULL OR t.id < ?6)
         ORDER BY t.id DESC LIMIT ?7"
    );
    let (assignee_mode, assignee_id) = match q.assignee {
        None => (0, None),
        Some(AssigneeFilter::Unassigned) => (1, None),
        Some(AssigneeFilter::Agent(id)) => (2, Some(id)),
    };
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![q.status.map(TicketStatus::as_str), q.business_number_id, assignee_mode, assignee_id, q.tag, q.before_id, q.limit.max(1)],
        summary_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn ticket_summary(c: &Connection, id: i64) -> Result<Option<TicketSummary>, StoreError> {
    Ok(c.prepare_cached(&format!("{SUMMARY_SELECT} WHERE t.id = ?1"))?.query_row(params![id], summary_row).optional()?)
}

pub(crate) fn ticket_reactions(c: &Connection, ticket_id: i64) -> Result<Vec<TicketReactionRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT r.target_wamid, r.emoji, r.reacted_at FROM reactions r
         JOIN messages m ON m.business_number_id = r.business_number_id AND m.wamid = r.target_wamid
         WHERE m.ticket_id = ?1 ORDER BY r.reacted_at",
    )?;
    let rows = stmt
        .query_map(params![ticket_id], |r| Ok(TicketReactionRow { target_wamid: r.get(0)?, emoji: r.get(1)?, reacted_at: t(r.get(2)?) }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn event(tx: &Transaction<'_>, ticket_id: i64, at: Timestamp, actor: &str, kind: &str, data: serde_json::Value) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT INTO ticket_events (ticket_id, at, actor, kind, data) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(params![
        ticket_id,
        at.unix_millis(),
        actor,
        kind,
        data.to_string()
    ])?;
    Ok(())
}

fn closed(id: i64) -> StoreError {
    StoreError::Conflict(format!("ticket {id} is closed; closed tickets are read-only"))
}

pub(crate) fn update_ticket(
    conn: &mut Connection,
    id: i64,
    change: &TicketChange,
    actor: &str,
    now: Timestamp,
) -> Result<Option<TicketSummary>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !change_ticket(&tx, id, change, actor, now)? {
        return Ok(None);
    }
    let summary = ticket_summary(&tx, id)?;
    tx.commit()?;
    Ok(summary)
}

/// Applies `change` to ticket `id` inside `tx`, with an event per changed field; `false` when there
/// is no such ticket.
pub(crate) fn change_ticket(tx: &Transaction<'_>, id: i64, change: &TicketChange, actor: &str, now: Timestamp) -> Result<bool, StoreError> {
    let Some((status, assignee, priority)) = tx
        .query_row("SELECT status, assignee_id, priority FROM tickets WHERE id = ?1", params![id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, String>(2)?))
        })
        .optional()?
    else {
        return Ok(false);
    };
    if status == TicketStatus::Closed.as_str() {
        return Err(closed(id));
    }
    let mut changed = false;
    if let Some(to) = change.status.filter(|s| s.as_str() != status) {
        tx.execute("UPDATE tickets SET status = ?1 WHERE id = ?2", params![to.as_str(), id])?;
        event(tx, id, now, actor, "status_changed", serde_json::json!({"from": status, "to": to.as_str()}))?;
        changed = true;
    }
    if let Some(to) = change.assignee_id.filter(|a| *a != assignee) {
        tx.execute("UPDATE tickets SET assignee_id = ?1 WHERE id = ?2", params![to, id])?;
        event(tx, id, now, actor, "assignee_changed", serde_json::json!({"from": assignee, "to": to}))?;
        changed = true;
    }
    if let Some(to) = change.priority.filter(|p| p.as_str() != priority) {
        tx.execute("UPDATE tickets SET priority = ?1 WHERE id = ?2", params![to.as_str(), id])?;
        event(tx, id, now, actor, "priority_changed", serde_json::json!({"from": priority, "to": to.as_str()}))?;
        changed = true;
    }
    if change.touches_tags() {
        let current: Vec<String> = tx
            .prepare_cached("SELECT tag FROM ticket_tags WHERE ticket_id = ?1 ORDER BY tag")?
            .query_map(params![id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let after = change.tags_after(&current);
        let added: Vec<&String> = after.iter().filter(|t| !current.contains(t)).collect();
        let removed: Vec<&String> = current.iter().filter(|t| !after.contains(t)).collect();
        for tag in &added {
            tx.prepare_cached("INSERT INTO ticket_tags (ticket_id, tag, created_at) VALUES (?1, ?2, ?3)")?.execute(params![
                id,
                tag,
                now.unix_millis()
            ])?;
        }
        for tag in &removed {
            tx.prepare_cached("DELETE FROM ticket_tags WHERE ticket_id = ?1 AND tag = ?2")?.execute(params![id, tag])?;
        }
        if !added.is_empty() || !removed.is_empty() {
            event(tx, id, now, actor, "tags_changed", serde_json::json!({"added": added, "removed": removed}))?;
            changed = true;
        }
    }
    if changed {
        tx.execute("UPDATE tickets SET updated_at = ?1 WHERE id = ?2", params![now.unix_millis(), id])?;
    }
    Ok(true)
}

pub(crate) fn add_note(
    conn: &mut Connection,
    ticket_id: i64,
    body: &str,
    author: &str,
    mentions: &[i64],
    now: Timestamp,
) -> Result<MessageRow, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (bn, identity_id, status) = tx
        .query_row("SELECT business_number_id, identity_id, status FROM tickets WHERE id = ?1", params![ticket_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {ticket_id} does not exist")))?;
    if status == TicketStatus::Closed.as_str() {
        return Err(closed(ticket_id));
    }
    tx.execute(
        "INSERT INTO messages (ticket_id, business_number_id, identity_id, direction, kind, body, sent_at, received_at, author)
         VALUES (?1, ?2, ?3, 'note', 'text', ?4, ?5, ?5, ?6)",
        params![ticket_id, bn, identity_id, body, now.unix_millis(), author],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute("UPDATE tickets SET updated_at = ?1 WHERE id = ?2", params![now.unix_millis(), ticket_id])?;
    event(&tx, ticket_id, now, author, "note_added", serde_json::json!({"message_id": id, "mentions": mentions}))?;
    let mut seen = std::collections::BTreeSet::new();
    for agent in mentions.iter().filter(|a| seen.insert(**a)) {
        tx.prepare_cached(
            "INSERT INTO notifications (agent_id, ticket_id, message_id, kind, actor, created_at) VALUES (?1, ?2, ?3, 'mention', ?4, ?5)",
        )?
        .execute(params![agent, ticket_id, id, author, now.unix_millis()])?;
    }
    tx.commit()?;
    Ok(MessageRow::note(id, ticket_id, bn, identity_id, body, author, now))
}

pub(crate) fn failed_deliveries(c: &Connection, before: Option<FailedCursor>, limit: u32) -> Result<Vec<FailedDeliveryRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, ticket_id, business_number_id, delivery_state, body, author, error_code, error_title, error_details,
                COALESCE(delivery_updated_at, sent_at) AS at
         FROM messages
         WHERE direction = 'outbound' AND delivery_state IN ('failed', 'blocked') AND resolution IS NULL AND +ticket_id IS NOT NULL
           AND (?1 IS NULL OR COALESCE(delivery_updated_at, sent_at) < ?1 OR (COALESCE(delivery_updated_at, sent_at) = ?1 AND id < ?2))
         ORDER BY at DESC, id DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![before.map(|b| b.at.unix_millis()), before.map(|b| b.message_id), limit.max(1)], |r| {
        let state: String = r.get(3)?;
        Ok(FailedDeliveryRow {
            message_id: r.get(0)?,
            ticket_id: r.get(1)?,
            business_number_id: r.get(2)?,
            state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Failed),
            body: r.get(4)?,
            author: r.get(5)?,
            error_code: r.get(6)?,
            error_title: r.get(7)?,
            error_details: r.get(8)?,
            at: t(r.get(9)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

mod impls {
    use async_trait::async_trait;
    use windowdesk_core::Timestamp;

    use super::super::SqliteStore;
    use crate::error::StoreError;
    use crate::model::*;
    use crate::{AgentStore, ApiTokenStore, TicketWorkStore};

    #[async_trait]
    impl ApiTokenStore for SqliteStore {
        async fn create_api_token(&self, name: &str, now: Timestamp) -> Result<CreatedApiToken, StoreError> {
            let name = name.to_owned();
            self.inner.writer.run(move |conn| super::create_api_token(conn, &name, now)).await
        }
        async fn verify_api_token(&self, token: &str, now: Timestamp) -> Result<Option<ApiTokenRow>, StoreError> {
            let hash = crate::tokens::hash(token);
            let Some(row) = self.read(move |c| super::token_by_hash(c, &hash)).await? else { return Ok(None) };
            if super::last_use_is_stale(&row, now) {
                let id = row.id;
                self.inner.writer.run(move |conn| super::touch_api_token(conn, id, now)).await?;
            }
            Ok(Some(row))
        }
        async fn api_tokens(&self) -> Result<Vec<ApiTokenRow>, StoreError> {
            self.read(super::api_tokens).await
        }
        async fn revoke_api_token(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
            self.inner.writer.run(move |conn| super::revoke_api_token(conn, id, now)).await
        }
    }

    #[async_trait]
    impl AgentStore for SqliteStore {
        async fn create_agent(&self, agent: &NewAgent) -> Result<AgentRow, StoreError> {
            let agent = agent.clone();
            self.inner.writer.run(move |conn| super::create_agent(conn, &agent)).await
        }
        async fn agents(&self) -> Result<Vec<AgentRow>, StoreError> {
            self.read(super::agents).await
        }
        async fn agent(&self, id: i64) -> Result<Option<AgentRow>, StoreError> {
            self.read(move |c| super::agent(c, id)).await
        }
        async fn update_agent(&self, id: i64, name: &str, email: &str) -> Result<Option<AgentRow>, StoreError> {
            let (name, email) = (name.to_owned(), email.to_owned());
            self.inner.writer.run(move |conn| super::update_agent(conn, id, &name, &email)).await
        }
    }

    #[async_trait]
    impl TicketWorkStore for SqliteStore {
        async fn query_tickets(&self, query: &TicketQuery) -> Result<Vec<TicketSummary>, StoreError> {
            let query = query.clone();
            self.read(move |c| super::query_tickets(c, &query)).await
        }
        async fn ticket_summary(&self, id: i64) -> Result<Option<TicketSummary>, StoreError> {
            self.read(move |c| super::ticket_summary(c, id)).await
        }
        async fn ticket_reactions(&self, ticket_id: i64) -> Result<Vec<TicketReactionRow>, StoreError> {
            self.read(move |c| super::ticket_reactions(c, ticket_id)).await
        }
        async fn update_ticket(
            &self,
            id: i64,
            change: &TicketChange,
            actor: &str,
            now: Timestamp,
        ) -> Result<Option<TicketSummary>, StoreError> {
            let (change, actor) = (change.clone(), actor.to_owned());
            self.inner.writer.run(move |conn| super::update_ticket(conn, id, &change, &actor, now)).await
        }
        async fn add_note(
            &self,
            ticket_id: i64,
            body: &str,
            author: &str,
            mentions: &[i64],
            now: Timestamp,
        ) -> Result<MessageRow, StoreError> {
            let (body, author, mentions) = (body.to_owned(), author.to_owned(), mentions.to_vec());
            self.inner.writer.run(move |conn| super::add_note(conn, ticket_id, &body, &author, &mentions, now)).await
        }
        async fn failed_deliveries(&self, before: Option<FailedCursor>, limit: u32) -> Result<Vec<FailedDeliveryRow>, StoreError> {
            self.read(move |c| super::failed_deliveries(c, before, limit)).await
        }
    }
}
