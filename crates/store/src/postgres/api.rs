//! API tokens, agents, and the ticket work of agents and API clients (tags, assignee, notes, failed
//! deliveries) on PostgreSQL. A ticket change locks the ticket row (`FOR NO KEY UPDATE`) for its transaction.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use windowdesk_core::{CustomerWindow, DeliveryState, TicketStatus, Timestamp};

use super::PgStore;
use crate::error::StoreError;
use crate::model::*;
use crate::{AgentStore, ApiTokenStore, TicketWorkStore};

/// `last_used_at` is written at most this often per token, so that authenticating stays a read.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

fn ot(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_unix_millis)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

const TOKEN_COLUMNS: &str = "id, name, prefix, created_at, last_used_at, revoked_at";

fn token_row(r: &PgRow) -> Result<ApiTokenRow, StoreError> {
    Ok(ApiTokenRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        prefix: r.try_get(2)?,
        created_at: t(r.try_get(3)?),
        last_used_at: ot(r.try_get(4)?),
        revoked_at: ot(r.try_get(5)?),
    })
}

const AGENT_COLUMNS: &str = "id, name, email, role, created_at, password_hash IS NOT NULL, deactivated_at IS NULL";

pub(crate) fn agent_row(r: &PgRow) -> Result<AgentRow, StoreError> {
    let role: String = r.try_get(3)?;
    Ok(AgentRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        email: r.try_get(2)?,
        role: AgentRole::parse(&role).unwrap_or(AgentRole::Agent),
        created_at: t(r.try_get(4)?),
        has_password: r.try_get(5)?,
        active: r.try_get(6)?,
    })
}

pub(crate) const SUMMARY_SELECT: &str =
    "SELECT t.id, t.business_number_id, t.identity_id, t.requester_id, t.status, t.subject, t.assignee_id,
        t.followup_of, t.created_at, t.updated_at, t.last_message_at, b.phone_number_id, b.display_number, c.name, i.wa_id, i.bsuid,
        i.last_inbound_at, i.referral_at, i.fep_started_at,
        ARRAY(SELECT g.tag FROM ticket_tags g WHERE g.ticket_id = t.id ORDER BY g.tag), t.priority
     FROM tickets t
     JOIN business_numbers b ON b.id = t.business_number_id
     JOIN identities i ON i.id = t.identity_id
     JOIN contacts c ON c.id = t.requester_id";

pub(crate) fn summary_row(r: &PgRow) -> Result<TicketSummary, StoreError> {
    Ok(TicketSummary {
        ticket: super::queries::ticket_row(r)?,
        phone_number_id: r.try_get(11)?,
        business_display_number: r.try_get(12)?,
        contact_name: r.try_get(13)?,
        wa_id: r.try_get(14)?,
        bsuid: r.try_get(15)?,
        window: CustomerWindow { last_inbound_at: ot(r.try_get(16)?), referral_at: ot(r.try_get(17)?), fep_started_at: ot(r.try_get(18)?) },
        tags: r.try_get(19)?,
        priority: windowdesk_core::routing::Priority::parse(&r.try_get::<String, _>(20)?).unwrap_or_default(),
    })
}

async fn summary(c: &mut PgConnection, id: i64) -> Result<Option<TicketSummary>, StoreError> {
    let row = sqlx::query(&format!("{SUMMARY_SELECT} WHERE t.id = $1")).bind(id).fetch_optional(c).await?;
    row.as_ref().map(summary_row).transpose()
}

async fn event(
    c: &mut PgConnection,
    ticket_id: i64,
    at: Timestamp,
    actor: &str,
    kind: &str,
    data: serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO ticket_events (ticket_id, at, actor, kind, data) VALUES ($1, $2, $3, $4, $5)")
        .bind(ticket_id)
        .bind(at.unix_millis())
        .bind(actor)
        .bind(kind)
        .bind(data.to_string())
        .execute(c)
        .await?;
    Ok(())
}

fn closed(id: i64) -> StoreError {
    StoreError::Conflict(format!("ticket {id} is closed; closed tickets are read-only"))
}

impl PgStore {
    pub(crate) fn api_pool(&self) -> &PgPool {
        &self.inner.pool
    }
}

#[async_trait]
impl ApiTokenStore for PgStore {
    async fn create_api_token(&self, name: &str, now: Timestamp) -> Result<CreatedApiToken, StoreError> {
        let (token, prefix, hash) = crate::tokens::generate();
        let id: i64 =
            sqlx::query_scalar("INSERT INTO api_tokens (name, prefix, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(name)
                .bind(&prefix)
                .bind(&hash)
                .bind(now.unix_millis())
                .fetch_one(self.api_pool())
                .await?;
        let row = ApiTokenRow { id, name: name.to_owned(), prefix, created_at: now, last_used_at: None, revoked_at: None };
        Ok(CreatedApiToken { row, token })
    }

    async fn verify_api_token(&self, token: &str, now: Timestamp) -> Result<Option<ApiTokenRow>, StoreError> {
        let hash = crate::tokens::hash(token);
        let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"))
            .bind(hash)
            .fetch_optional(self.api_pool())
            .await?;
        let Some(row) = row.as_ref().map(token_row).transpose()? else { return Ok(None) };
        if row.last_used_at.is_none_or(|at| now.unix_millis() - at.unix_millis() >= LAST_USED_RESOLUTION_MS) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now.unix_millis())
                .bind(row.id)
                .execute(self.api_pool())
                .await?;
        }
        Ok(Some(row))
    }

    async fn api_tokens(&self) -> Result<Vec<ApiTokenRow>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id")).fetch_all(self.api_pool()).await?;
        rows.iter().map(token_row).collect()
    }

    async fn revoke_api_token(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now.unix_millis())
            .bind(id)
            .execute(self.api_pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl AgentStore for PgStore {
    async fn create_agent(&self, a: &NewAgent) -> Result<AgentRow, StoreError> {
        let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
            "INSERT INTO agents (name, email, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&a.name)
        .bind(&a.email)
        .bind(a.role.as_str())
        .bind(&a.password_hash)
        .bind(a.now.unix_millis())
        .fetch_one(self.api_pool())
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!("an agent with email {} already exists", a.email))),
            Err(e) => Err(e.into()),
            Ok(id) => Ok(AgentRow {
                id,
                name: a.name.clone(),
                email: a.email.clone(),
                role: a.role,
                created_at: a.now,
                has_password: a.password_hash.is_some(),
                active: true,
            }),
        }
    }

    async fn agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id")).fetch_all(self.api_pool()).await?;
        rows.iter().map(agent_row).collect()
    }

    async fn agent(&self, id: i64) -> Result<Option<AgentRow>, StoreError> {
        let row =
            sqlx::query(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1")).bind(id).fetch_optional(self.api_pool()).await?;
        row.as_ref().map(agent_row).transpose()
    }

    async fn update_agent(&self, id: i64, name: &str, email: &str) -> Result<Option<AgentRow>, StoreError> {
        let updated = sqlx::query(&format!("UPDATE agents SET name = $2, email = $3 WHERE id = $1 RETURNING {AGENT_COLUMNS}"))
            .bind(id)
            .bind(name)
            .bind(email)
            .fetch_optional(self.api_pool())
            .await;
        match updated {
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!("an agent with email {email} already exists"))),
            Err(e) => Err(e.into()),
            Ok(row) => row.as_ref().map(agent_row).transpose(),
        }
    }
}

#[async_trait]
impl TicketWorkStore for PgStore {
    async fn query_tickets(&self, q: &TicketQuery) -> Result<Vec<TicketSummary>, StoreError> {
        let sql = format!(
            "{SUMMARY_SELECT}
             WHERE ($1::text IS NULL OR t.status = $1) AND ($2::bigint IS NULL OR t.business_number_id = $2)
               AND ($3::int = 0 OR ($3 = 1 AND t.assignee_id IS NULL) OR ($3 = 2 AND t.assignee_id = $4::bigint))
               AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM ticket_tags g WHERE g.ticket_id = t.id AND g.tag = $5))
               AND ($6::bigint IS NULL OR t.id < $6)
             ORDER BY t.id DESC LIMIT $7"
        );
        let (assignee_mode, assignee_id) = match q.assignee {
            None => (0_i32, None),
            Some(AssigneeFilter::Unassigned) => (1, None),
            Some(AssigneeFilter::Agent(id)) => (2, Some(id)),
        };
        let rows = sqlx::query(&sql)
            .bind(q.status.map(TicketStatus::as_str))
            .bind(q.business_number_id)
            .bind(assignee_mode)
            .bind(assignee_id)
            .bind(q.tag.as_deref())
            .bind(q.before_id)
            .bind(i64::from(q.limit.max(1)))
            .fetch_all(self.api_pool())
            .await?;
        rows.iter().map(summary_row).collect()
    }

    async fn ticket_summary(&self, id: i64) -> Result<Option<TicketSummary>, StoreError> {
        let mut c = self.api_pool().acquire().await?;
        summary(&mut c, id).await
    }

    async fn ticket_reactions(&self, ticket_id: i64) -> Result<Vec<TicketReactionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.target_wamid, r.emoji, r.reacted_at FROM reactions r
             JOIN messages m ON m.business_number_id = r.business_number_id AND m.wamid = r.target_wamid
             WHERE m.ticket_id = $1 ORDER BY r.reacted_at",
        )
        .bind(ticket_id)
        .fetch_all(self.api_pool())
        .await?;
        rows.iter()
            .map(|r| Ok(TicketReactionRow { target_wamid: r.try_get(0)?, emoji: r.try_get(1)?, reacted_at: t(r.try_get(2)?) }))
            .collect()
    }

    async fn update_ticket(
        &self,
        id: i64,
        change: &TicketChange,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<TicketSummary>, StoreError> {
        let mut tx = self.api_pool().begin().await?;
        if !change_ticket(&mut tx, id, change, actor, now).await? {
            return Ok(None);
        }
        let result = summary(&mut tx, id).await?;
        tx.commit().await?;
        Ok(result)
    }

    async fn add_note(&self, ticket_id: i64, body: &str, author: &str, mentions: &[i64], now: Timestamp) -> Result<MessageRow, StoreError> {
        let mut tx = self.api_pool().begin().await?;
        let row = sqlx::query("SELECT business_number_id, identity_id, status FROM tickets WHERE id = $1 FOR NO KEY UPDATE")
            .bind(ticket_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("ticket {ticket_id} does not exist")))?;
        let (bn, identity_id, status): (i64, i64, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        if status == TicketStatus::Closed.as_str() {
            return Err(closed(ticket_id));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO messages (ticket_id, business_number_id, identity_id, direction, kind, body, sent_at, received_at, author)
             VALUES ($1, $2, $3, 'note', 'text', $4, $5, $5, $6) RETURNING id",
        )
        .bind(ticket_id)
        .bind(bn)
        .bind(identity_id)
        .bind(body)
        .bind(now.unix_millis())
        .bind(author)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2").bind(now.unix_millis()).bind(ticket_id).execute(&mut *tx).await?;
        event(&mut tx, ticket_id, now, author, "note_added", serde_json::json!({"message_id": id, "mentions": mentions})).await?;
        if !mentions.is_empty() {
            sqlx::query(
                "INSERT INTO notifications (agent_id, ticket_id, message_id, kind, actor, created_at)
                 SELECT DISTINCT a, $2::bigint, $3::bigint, 'mention', $4, $5 FROM UNNEST($1::bigint[]) AS a",
            )
            .bind(mentions)
            .bind(ticket_id)
            .bind(id)
            .bind(author)
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(MessageRow::note(id, ticket_id, bn, identity_id, body, author, now))
    }

    async fn failed_deliveries(&self, before: Option<FailedCursor>, limit: u32) -> Result<Vec<FailedDeliveryRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, ticket_id, business_number_id, delivery_state, body, author, error_code, error_title, error_details,
                    COALESCE(delivery_updated_at, sent_at) AS at
             FROM messages
             WHERE direction = 'outbound' AND delivery_state IN ('failed', 'blocked') AND resolution IS NULL AND ticket_id IS NOT NULL
               AND ($1::bigint IS NULL OR COALESCE(delivery_updated_at, sent_at) < $1
                    OR (COALESCE(delivery_updated_at, sent_at) = $1 AND id < $2::bigint))
             ORDER BY at DESC, id DESC LIMIT $3",
        )
        .bind(before.map(|b| b.at.unix_millis()))
        .bind(before.map(|b| b.message_id))
        .bind(i64::from(limit.max(1)))
        .fetch_all(self.api_pool())
        .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get(3)?;
                Ok(FailedDeliveryRow {
                    message_id: r.try_get(0)?,
                    ticket_id: r.try_get(1)?,
                    business_number_id: r.try_get(2)?,
                    state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Failed),
                    body: r.try_get(4)?,
                    author: r.try_get(5)?,
                    error_code: r.try_get(6)?,
                    error_title: r.try_get(7)?,
                    error_details: r.try_get(8)?,
                    at: t(r.try_get(9)?),
                })
            })
            .collect()
    }
}

/// Applies `change` to ticket `id` inside a transaction, with an event per changed field; `false`
/// when there is no such ticket.
pub(crate) async fn change_ticket(
    c: &mut PgConnection,
    id: i64,
    change: &TicketChange,
    actor: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let Some(row) = sqlx::query("SELECT status, assignee_id, priority FROM tickets WHERE id = $1 FOR NO KEY UPDATE")
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
    else {
        return Ok(false);
    };
    let status: String = row.try_get(0)?;
    let assignee: Option<i64> = row.try_get(1)?;
    let priority: String = row.try_get(2)?;
    if status == TicketStatus::Closed.as_str() {
        return Err(closed(id));
    }
    let mut changed = false;
    if let Some(to) = change.status.filter(|s| s.as_str() != status) {
        sqlx::query("UPDATE tickets SET status = $1 WHERE id = $2").bind(to.as_str()).bind(id).execute(&mut *c).await?;
        event(&mut *c, id, now, actor, "status_changed", serde_json::json!({"from": status, "to": to.as_str()})).await?;
        changed = true;
    }
    if let Some(to) = change.assignee_id.filter(|a| *a != assignee) {
        sqlx::query("UPDATE tickets SET assignee_id = $1 WHERE id = $2").bind(to).bind(id).execute(&mut *c).await?;
        event(&mut *c, id, now, actor, "assignee_changed", serde_json::json!({"from": assignee, "to": to})).await?;
        changed = true;
    }
    if let Some(to) = change.priority.filter(|p| p.as_str() != priority) {
        sqlx::query("UPDATE tickets SET priority = $1 WHERE id = $2").bind(to.as_str()).bind(id).execute(&mut *c).await?;
        event(&mut *c, id, now, actor, "priority_changed", serde_json::json!({"from": priority, "to": to.as_str()})).await?;
        changed = true;
    }
    if change.touches_tags() {
        let current: Vec<String> =
            sqlx::query_scalar("SELECT tag FROM ticket_tags WHERE ticket_id = $1 ORDER BY tag").bind(id).fetch_all(&mut *c).await?;
        let after = change.tags_after(&current);
        let added: Vec<&String> = after.iter().filter(|t| !current.contains(t)).collect();
        let removed: Vec<&String> = current.iter().filter(|t| !after.contains(t)).collect();
        for tag in &added {
            sqlx::query("INSERT INTO ticket_tags (ticket_id, tag, created_at) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(tag.as_str())
                .bind(now.unix_millis())
                .execute(&mut *c)
                .await?;
        }
        for tag in &removed {
            sqlx::query("DELETE FROM ticket_tags WHERE ticket_id = $1 AND tag = $2").bind(id).bind(tag.as_str()).execute(&mut *c).await?;
        }
        if !added.is_empty() || !removed.is_empty() {
            event(&mut *c, id, now, actor, "tags_changed", serde_json::json!({"added": added, "removed": removed})).await?;
            changed = true;
        }
    }
    if changed {
        sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2").bind(now.unix_millis()).bind(id).execute(&mut *c).await?;
    }
    Ok(true)
}
