//! Read queries of the PostgreSQL store.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use windowdesk_core::{CustomerWindow, DeliveryState, TicketStatus, Timestamp};

use crate::error::StoreError;
use crate::model::*;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

fn ot(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_unix_millis)
}

pub(crate) async fn business_numbers(c: &mut PgConnection) -> Result<Vec<BusinessNumberRow>, StoreError> {
    let rows =
        sqlx::query("SELECT id, phone_number_id, waba_id, display_number, name FROM business_numbers ORDER BY id").fetch_all(c).await?;
    rows.iter()
        .map(|r| {
            Ok(BusinessNumberRow {
                id: r.try_get(0)?,
                phone_number_id: r.try_get(1)?,
                waba_id: r.try_get(2)?,
                display_number: r.try_get(3)?,
                name: r.try_get(4)?,
            })
        })
        .collect()
}

const TICKET_COLUMNS: &str =
    "id, business_number_id, identity_id, requester_id, status, subject, assignee_id, followup_of, created_at, updated_at, last_message_at";

/// A ticket from the first 11 columns of a row, in `TICKET_COLUMNS` order.
pub(crate) fn ticket_row(r: &PgRow) -> Result<TicketRow, StoreError> {
    let status: String = r.try_get(4)?;
    Ok(TicketRow {
        id: r.try_get(0)?,
        business_number_id: r.try_get(1)?,
        identity_id: r.try_get(2)?,
        requester_id: r.try_get(3)?,
        status: TicketStatus::parse(&status).unwrap_or(TicketStatus::Open),
        subject: r.try_get(5)?,
        assignee_id: r.try_get(6)?,
        followup_of: r.try_get(7)?,
        created_at: t(r.try_get(8)?),
        updated_at: t(r.try_get(9)?),
        last_message_at: t(r.try_get(10)?),
    })
}

pub(crate) async fn list_tickets(pool: &PgPool, f: &TicketFilter) -> Result<Vec<TicketRow>, StoreError> {
    let limit = if f.limit == 0 { 50 } else { f.limit.min(1000) };
    let sql = format!(
        "SELECT {TICKET_COLUMNS} FROM tickets
         WHERE ($1::text IS NULL OR status = $1) AND ($2::bigint IS NULL OR business_number_id = $2)
           AND ($3::bigint IS NULL OR identity_id = $3) AND ($4::bigint IS NULL OR id < $4)
         ORDER BY id DESC LIMIT $5"
    );
    let rows = sqlx::query(&sql)
        .bind(f.status.map(TicketStatus::as_str))
        .bind(f.business_number_id)
        .bind(f.identity_id)
        .bind(f.before_id)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.iter().map(ticket_row).collect()
}

pub(crate) async fn ticket(pool: &PgPool, id: i64) -> Result<Option<TicketRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1")).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(ticket_row).transpose()
}

const MESSAGE_COLUMNS: &str =
    "id, ticket_id, business_number_id, identity_id, direction, wamid, kind, body, media_id, mime_type, filename, voice,
     reply_to_wamid, target_wamid, forwarded, referral, sent_at, received_at, delivery_state, error_code, error_title, error_details,
     edited_at, revoked_at, errors, raw, maybe_duplicate, author, delivery_updated_at, went_out_at";

fn message_row(r: &PgRow) -> Result<MessageRow, StoreError> {
    let direction: String = r.try_get(4)?;
    let state: Option<String> = r.try_get(18)?;
    Ok(MessageRow {
        id: r.try_get(0)?,
        ticket_id: r.try_get(1)?,
        business_number_id: r.try_get(2)?,
        identity_id: r.try_get(3)?,
        direction: Direction::parse(&direction).unwrap_or(Direction::System),
        wamid: r.try_get(5)?,
        kind: r.try_get(6)?,
        body: r.try_get(7)?,
        media_id: r.try_get(8)?,
        mime_type: r.try_get(9)?,
        filename: r.try_get(10)?,
        voice: r.try_get::<i64, _>(11)? != 0,
        reply_to_wamid: r.try_get(12)?,
        target_wamid: r.try_get(13)?,
        forwarded: r.try_get(14)?,
        referral: r.try_get::<i64, _>(15)? != 0,
        sent_at: t(r.try_get(16)?),
        received_at: t(r.try_get(17)?),
        delivery_state: state.as_deref().and_then(DeliveryState::parse),
        error_code: r.try_get(19)?,
        error_title: r.try_get(20)?,
        error_details: r.try_get(21)?,
        edited_at: ot(r.try_get(22)?),
        revoked_at: ot(r.try_get(23)?),
        errors: r.try_get(24)?,
        raw: r.try_get(25)?,
        maybe_duplicate: r.try_get::<i64, _>(26)? != 0,
        author: r.try_get(27)?,
        delivery_updated_at: ot(r.try_get(28)?),
        went_out_at: ot(r.try_get(29)?),
    })
}

/// A ticket's thread in the order the customer lived it: inbound messages at their send time,
/// outbound ones when they went out (when written, until they do); at the same moment the customer's
/// message first, since a reply it released cannot have gone out before it.
pub(crate) async fn ticket_messages(pool: &PgPool, ticket_id: i64) -> Result<Vec<MessageRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE ticket_id = $1 ORDER BY COALESCE(went_out_at, sent_at), direction <> 'inbound', id"
    ))
    .bind(ticket_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(message_row).collect()
}

pub(crate) async fn message_by_wamid(pool: &PgPool, bn: i64, wamid: &str) -> Result<Option<MessageRow>, StoreError> {
    let row = sqlx::query(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE business_number_id = $1 AND wamid = $2"))
        .bind(bn)
        .bind(wamid)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(message_row).transpose()
}

pub(crate) async fn ticket_events(pool: &PgPool, ticket_id: i64) -> Result<Vec<EventRow>, StoreError> {
    let rows = sqlx::query("SELECT id, ticket_id, at, actor, kind, data FROM ticket_events WHERE ticket_id = $1 ORDER BY id")
        .bind(ticket_id)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            let data: String = r.try_get(5)?;
            Ok(EventRow {
                id: r.try_get(0)?,
                ticket_id: r.try_get(1)?,
                at: t(r.try_get(2)?),
                actor: r.try_get(3)?,
                kind: r.try_get(4)?,
                data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
            })
        })
        .collect()
}

const IDENTITY_SELECT: &str = "SELECT i.id, i.contact_id, i.business_number_id, i.identity_key, i.wa_id, i.bsuid, i.profile_name, c.name,
        c.name_is_default, i.last_inbound_at, i.referral_at, i.fep_started_at
     FROM identities i JOIN contacts c ON c.id = i.contact_id";

fn identity_row(r: &PgRow) -> Result<IdentityRow, StoreError> {
    identity_row_at(r, 0)
}

/// An identity from 12 columns starting at `at`, in `IDENTITY_SELECT` order.
fn identity_row_at(r: &PgRow, at: usize) -> Result<IdentityRow, StoreError> {
    Ok(IdentityRow {
        id: r.try_get(at)?,
        contact_id: r.try_get(at + 1)?,
        business_number_id: r.try_get(at + 2)?,
        identity_key: r.try_get(at + 3)?,
        wa_id: r.try_get(at + 4)?,
        bsuid: r.try_get(at + 5)?,
        profile_name: r.try_get(at + 6)?,
        contact_name: r.try_get(at + 7)?,
        name_is_default: r.try_get::<i64, _>(at + 8)? != 0,
        window: CustomerWindow {
            last_inbound_at: ot(r.try_get(at + 9)?),
            referral_at: ot(r.try_get(at + 10)?),
            fep_started_at: ot(r.try_get(at + 11)?),
        },
    })
}

pub(crate) async fn identity_by_key(pool: &PgPool, bn: i64, key: &str) -> Result<Option<IdentityRow>, StoreError> {
    let row = sqlx::query(&format!("{IDENTITY_SELECT} WHERE i.business_number_id = $1 AND i.identity_key = $2"))
        .bind(bn)
        .bind(key)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(identity_row).transpose()
}

/// A ticket and its identity in one round trip (the reply path needs both); the identity is `None`
/// only if the database lost it.
pub(crate) async fn ticket_with_identity(pool: &PgPool, id: i64) -> Result<Option<TicketWithIdentity>, StoreError> {
    let row = sqlx::query(
        "SELECT t.id, t.business_number_id, t.identity_id, t.requester_id, t.status, t.subject, t.assignee_id, t.followup_of, t.created_at, t.updated_at, t.last_message_at,
                i.id, i.contact_id, i.business_number_id, i.identity_key, i.wa_id, i.bsuid, i.profile_name, c.name, c.name_is_default, i.last_inbound_at, i.referral_at, i.fep_started_at
         FROM tickets t LEFT JOIN identities i ON i.id = t.identity_id LEFT JOIN contacts c ON c.id = i.contact_id WHERE t.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let identity = if r.try_get::<Option<i64>, _>(11)?.is_some() { Some(identity_row_at(&r, 11)?) } else { None };
    Ok(Some((ticket_row(&r)?, identity)))
}

pub(crate) async fn identity(pool: &PgPool, id: i64) -> Result<Option<IdentityRow>, StoreError> {
    let row = sqlx::query(&format!("{IDENTITY_SELECT} WHERE i.id = $1")).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(identity_row).transpose()
}

pub(crate) async fn identity_changes(pool: &PgPool, identity_id: i64) -> Result<Vec<IdentityChangeRow>, StoreError> {
    let rows = sqlx::query("SELECT at, field, old_value, new_value FROM identity_changes WHERE identity_id = $1 ORDER BY id")
        .bind(identity_id)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok(IdentityChangeRow { at: t(r.try_get(0)?), field: r.try_get(1)?, old_value: r.try_get(2)?, new_value: r.try_get(3)? }))
        .collect()
}

pub(crate) async fn reactions(pool: &PgPool, bn: i64, target: &str) -> Result<Vec<ReactionRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT identity_id, emoji, reacted_at FROM reactions WHERE business_number_id = $1 AND target_wamid = $2 ORDER BY reacted_at",
    )
    .bind(bn)
    .bind(target)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok(ReactionRow { identity_id: r.try_get(0)?, emoji: r.try_get(1)?, reacted_at: t(r.try_get(2)?) })).collect()
}

pub(crate) async fn revisions(pool: &PgPool, bn: i64, target: &str) -> Result<Vec<RevisionRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT kind, source_wamid, previous_body, new_body, at, applied FROM message_revisions WHERE business_number_id = $1 AND target_wamid = $2 ORDER BY at, id",
    )
    .bind(bn)
    .bind(target)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RevisionRow {
                kind: r.try_get(0)?,
                source_wamid: r.try_get(1)?,
                previous_body: r.try_get(2)?,
                new_body: r.try_get(3)?,
                at: t(r.try_get(4)?),
                applied: r.try_get::<i64, _>(5)? != 0,
            })
        })
        .collect()
}

pub(crate) async fn status_events(pool: &PgPool, bn: i64, wamid: &str) -> Result<Vec<StatusEventRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT status, at, pricing, errors, applied FROM status_events WHERE business_number_id = $1 AND wamid = $2 ORDER BY id",
    )
    .bind(bn)
    .bind(wamid)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StatusEventRow {
                status: r.try_get(0)?,
                at: t(r.try_get(1)?),
                pricing: r.try_get(2)?,
                errors: r.try_get(3)?,
                applied: r.try_get::<i64, _>(4)? != 0,
            })
        })
        .collect()
}

pub(crate) async fn templates(pool: &PgPool) -> Result<Vec<TemplateRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT waba_id, name, language, meta_template_id, category, status, quality, reason, components, definition, synced_at, removed_at
         FROM templates ORDER BY waba_id, name, language",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TemplateRow {
                waba_id: r.try_get(0)?,
                name: r.try_get(1)?,
                language: r.try_get(2)?,
                meta_template_id: r.try_get(3)?,
                category: r.try_get(4)?,
                status: r.try_get(5)?,
                quality: r.try_get(6)?,
                reason: r.try_get(7)?,
                components: r.try_get(8)?,
                definition: r.try_get(9)?,
                synced_at: r.try_get::<Option<i64>, _>(10)?.map(Timestamp::from_unix_millis),
                removed_at: r.try_get::<Option<i64>, _>(11)?.map(Timestamp::from_unix_millis),
            })
        })
        .collect()
}

pub(crate) async fn account_events(pool: &PgPool) -> Result<Vec<AccountEventRow>, StoreError> {
    let rows = sqlx::query("SELECT waba_id, business_number_id, field, event, raw FROM account_events ORDER BY id").fetch_all(pool).await?;
    rows.iter()
        .map(|r| {
            Ok(AccountEventRow {
                waba_id: r.try_get(0)?,
                business_number_id: r.try_get(1)?,
                field: r.try_get(2)?,
                event: r.try_get(3)?,
                raw: r.try_get(4)?,
            })
        })
        .collect()
}

pub(crate) async fn unknown_numbers(pool: &PgPool) -> Result<Vec<UnknownNumberRow>, StoreError> {
    let rows =
        sqlx::query("SELECT phone_number_id, count, last_seen FROM unknown_numbers ORDER BY phone_number_id").fetch_all(pool).await?;
    rows.iter()
        .map(|r| Ok(UnknownNumberRow { phone_number_id: r.try_get(0)?, count: r.try_get(1)?, last_seen: t(r.try_get(2)?) }))
        .collect()
}

pub(crate) async fn media_jobs(pool: &PgPool) -> Result<Vec<MediaJobRow>, StoreError> {
    let rows = sqlx::query("SELECT business_number_id, wamid, media_id, state FROM media_jobs ORDER BY id").fetch_all(pool).await?;
    rows.iter()
        .map(|r| Ok(MediaJobRow { business_number_id: r.try_get(0)?, wamid: r.try_get(1)?, media_id: r.try_get(2)?, state: r.try_get(3)? }))
        .collect()
}

pub(crate) async fn counts(pool: &PgPool) -> Result<Counts, StoreError> {
    let r = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM tickets), (SELECT COUNT(*) FROM messages), (SELECT COUNT(*) FROM identities), (SELECT COUNT(*) FROM status_events)",
    )
    .fetch_one(pool)
    .await?;
    Ok(Counts { tickets: r.try_get(0)?, messages: r.try_get(1)?, identities: r.try_get(2)?, status_events: r.try_get(3)? })
}
